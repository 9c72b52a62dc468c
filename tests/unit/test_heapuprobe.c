/* Unit tests for heapuprobe.c: which module and file offsets to probe
 * (tests/workloads/ownmalloc.c, glibc), and a synthetic uprobe sample
 * turned into a heap sample. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>

#include "check.h"
#include "heapuprobe.h"

#define OWNMALLOC WORKLOAD_DIR "/ownmalloc_nofp"

/* What the binutils say of a symbol's file offset: its value (nm) in the
 * PT_LOAD holding it (readelf -l), computed apart from libelf. */
static uint64_t binutils_offset(const char *file, const char *sym)
{
	char cmd[512], line[512];
	unsigned long long value = 0, off, vaddr, filesz;
	uint64_t result = 0;
	FILE *f;

	/* .symtab, else .dynsym (names with their version after '@'). */
	snprintf(cmd, sizeof(cmd), "(nm --defined-only %s; nm -D --defined-only %s) "
		 "2>/dev/null", file, file);
	f = popen(cmd, "r");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		char name[256], type, *at;

		if (sscanf(line, "%llx %c %255s", &value, &type, name) == 3) {
			if ((at = strchr(name, '@')) != NULL)
				*at = 0;
			if (strcmp(name, sym) == 0 && (type == 'T' || type == 'W' ||
						       type == 'i'))
				break;
		}
		value = 0;
	}
	pclose(f);
	if (!value)
		return 0;
	snprintf(cmd, sizeof(cmd), "readelf -lW %s", file);
	f = popen(cmd, "r");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, " LOAD 0x%llx 0x%llx 0x%*x 0x%llx", &off, &vaddr,
			   &filesz) == 3 && value >= vaddr && value < vaddr + filesz)
			result = value - vaddr + off;
	}
	pclose(f);
	return result;
}

static void test_offsets_ownmalloc(void)
{
	uint64_t off[HEAPABI_NFUNCS];
	char err[256] = "";
	int fd = open(OWNMALLOC, O_RDONLY);

	CHECK(fd >= 0);
	CHECK_INT(heapuprobe_offsets(fd, false, off, err, sizeof(err)), 4);
	close(fd);
	CHECK_INT(off[HEAPABI_MALLOC], binutils_offset(OWNMALLOC, "malloc"));
	CHECK_INT(off[HEAPABI_FREE], binutils_offset(OWNMALLOC, "free"));
	CHECK_INT(off[HEAPABI_CALLOC], binutils_offset(OWNMALLOC, "calloc"));
	CHECK_INT(off[HEAPABI_REALLOC], binutils_offset(OWNMALLOC, "realloc"));
	CHECK(off[HEAPABI_MALLOC] != 0);
	CHECK_INT(off[HEAPABI_POSIX_MEMALIGN], 0);
	CHECK_INT(off[HEAPABI_MEMALIGN], 0);
}

static void test_offsets_libc(void)
{
	const char *libc = "/lib/x86_64-linux-gnu/libc.so.6";
	uint64_t off[HEAPABI_NFUNCS];
	char err[256] = "";
	int fd = open(libc, O_RDONLY), n;

	CHECK(fd >= 0);
	n = heapuprobe_offsets(fd, true, off, err, sizeof(err));
	close(fd);
	CHECK(n >= 7);
	CHECK_INT(off[HEAPABI_MALLOC], binutils_offset(libc, "malloc"));
	CHECK(off[HEAPABI_MALLOC] != 0);
	CHECK(off[HEAPABI_POSIX_MEMALIGN] != 0);
	/* glibc's reallocarray jumps to realloc: not probed. */
	CHECK_INT(off[HEAPABI_REALLOCARRAY], 0);
	/* memalign is aligned_alloc (one address): probed once. */
	for (unsigned f = 0; f < HEAPABI_NFUNCS; f++)
		for (unsigned g = 0; g < f; g++)
			CHECK(!off[f] || off[f] != off[g]);
}

static void test_offsets_not_elf(void)
{
	uint64_t off[HEAPABI_NFUNCS];
	char err[256] = "";
	int fd = open("/proc/self/cmdline", O_RDONLY);

	CHECK(heapuprobe_offsets(fd, false, off, err, sizeof(err)) < 0);
	CHECK(err[0] != 0);
	close(fd);
}

static void test_find(void)
{
	struct heapuprobe_target t;
	char err[256] = "", *argv[] = { OWNMALLOC, "0", "10", NULL };
	int fds[2], status;
	char buf[16];
	pid_t pid;

	/* This test uses glibc's malloc (libc), or ASan's: a library other
	 * than libc that defines malloc comes first. */
	CHECK_INT(heapuprobe_find(getpid(), &t, err, sizeof(err)), 0);
	CHECK(!t.main_program);
#ifdef __SANITIZE_ADDRESS__
	CHECK(!t.libc);
	CHECK(strstr(t.module, "libasan.so") != NULL);
#else
	CHECK(t.libc);
	CHECK(strstr(t.module, "libc.so") != NULL);
#endif
	CHECK(strncmp(t.path, "/proc/", 6) == 0);
	CHECK(t.offset[HEAPABI_MALLOC] != 0);

	/* ownmalloc defines its own: the program. */
	CHECK(pipe(fds) == 0);
	pid = fork();
	if (pid == 0) {
		dup2(fds[1], 1);
		execv(argv[0], argv);
		_exit(127);
	}
	close(fds[1]);
	CHECK(read(fds[0], buf, sizeof(buf)) > 0);	/* "ready" */
	close(fds[0]);
	CHECK_INT(heapuprobe_find(pid, &t, err, sizeof(err)), 0);
	CHECK(t.main_program);
	CHECK(!t.libc);
	CHECK(strstr(t.module, "ownmalloc_nofp") != NULL);
	CHECK_INT(t.offset[HEAPABI_MALLOC], binutils_offset(OWNMALLOC, "malloc"));
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);

	CHECK_INT(heapuprobe_find(pid, &t, err, sizeof(err)), -ESRCH);
}

static void test_sampler_opts(void)
{
	struct heapuprobe_target t = { 0 };
	struct sampler_opts o = { 0 };

	strcpy(t.path, "/proc/1/root/x");
	t.offset[HEAPABI_MALLOC] = 0x1000;
	t.offset[HEAPABI_FREE] = 0x1100;
	heapuprobe_sampler_opts(&t, 7, false, &o);
	CHECK(o.kinds & SAMPLER_KIND(SAMPLER_UPROBE));
	CHECK_STR(o.uprobe.path, "/proc/1/root/x");
	CHECK_INT(o.uprobe.period, 7);
	CHECK_INT(o.uprobe.offset[HEAPABI_MALLOC], 0x1000);
	CHECK(o.uprobe.count_only[HEAPABI_FREE]);
	CHECK(!o.uprobe.count_only[HEAPABI_MALLOC]);
}

/* A sample as the kernel writes it at the entry of func. */
static int convert(unsigned func, const uint64_t *r, const uint8_t *stack,
		   uint64_t stack_size, struct heap_sample *hs, uint64_t *regs)
{
	struct perf_event_header hdr = { .type = PERF_RECORD_SAMPLE };
	struct perf_sample ps = {
		.pid = 10, .tid = 11, .regs_abi = PERF_SAMPLE_REGS_ABI_64,
		.regs = r, .stack = stack, .stack_size = stack_size,
		.stack_dyn_size = stack_size,
	};
	struct sampler_record rec = {
		.hdr = &hdr, .sample = &ps, .time = 1234,
		.kind = SAMPLER_UPROBE, .uprobe = func,
	};

	return heapuprobe_convert(&rec, 5, regs, hs);
}

static void test_convert(void)
{
	uint64_t r[RINGBUF_NR_REGS] = { 0 }, regs[HEAPABI_NR_REGS];
	uint64_t stack[4] = { 0x401234, 0xaaaa, 0xbbbb, 0xcccc };
	struct heap_sample hs;

	r[RB_DI] = 3;
	r[RB_SI] = 1000;
	r[RB_DX] = 64;
	r[RB_BX] = 0xb;
	r[RB_BP] = 0x7ffd0100;
	r[RB_R12] = 12;
	r[RB_R15] = 15;
	r[RB_AX] = 0xdead;
	r[RB_SP] = 0x7ffd0000;
	r[RB_IP] = 0x555500001000;	/* calloc's first instruction */

	CHECK_INT(convert(HEAPABI_CALLOC, r, (const uint8_t *)stack,
			  sizeof(stack), &hs, regs), 1);
	CHECK_INT(hs.func, HEAPABI_CALLOC);
	CHECK_INT(hs.size, 3000);
	CHECK_INT(hs.calls, 5);
	CHECK_INT(hs.addr, 0);
	CHECK_INT(hs.id, 0);
	CHECK_INT(hs.pid, 10);
	CHECK_INT(hs.tid, 11);
	CHECK_INT(hs.time_ns, 1234);
	CHECK(hs.regs == regs);
	CHECK_INT(regs[HEAPABI_R_IP], 0x401233);
	CHECK_INT(regs[HEAPABI_R_SP], 0x7ffd0008);
	CHECK_INT(regs[HEAPABI_R_BX], 0xb);
	CHECK_INT(regs[HEAPABI_R_BP], 0x7ffd0100);
	CHECK_INT(regs[HEAPABI_R_R12], 12);
	CHECK_INT(regs[HEAPABI_R_R15], 15);
	CHECK_INT(regs[HEAPABI_R_AX], 0);
	CHECK(hs.stack == (const uint8_t *)&stack[1]);
	CHECK_INT(hs.stack_size, sizeof(stack) - 8);

	CHECK_INT(convert(HEAPABI_MALLOC, r, (const uint8_t *)stack, sizeof(stack), &hs, regs), 1);
	CHECK_INT(hs.size, 3);
	CHECK_INT(convert(HEAPABI_REALLOC, r, (const uint8_t *)stack, sizeof(stack), &hs, regs), 1);
	CHECK_INT(hs.size, 1000);
	CHECK_INT(convert(HEAPABI_REALLOCARRAY, r, (const uint8_t *)stack, sizeof(stack), &hs, regs), 1);
	CHECK_INT(hs.size, 64000);
	CHECK_INT(convert(HEAPABI_POSIX_MEMALIGN, r, (const uint8_t *)stack, sizeof(stack), &hs, regs), 1);
	CHECK_INT(hs.size, 64);
	CHECK_INT(convert(HEAPABI_ALIGNED_ALLOC, r, (const uint8_t *)stack, sizeof(stack), &hs, regs), 1);
	CHECK_INT(hs.size, 1000);
	CHECK_INT(convert(HEAPABI_VALLOC, r, (const uint8_t *)stack, sizeof(stack), &hs, regs), 1);
	CHECK_INT(hs.size, 3);

	/* free: no allocation; calloc whose product overflows: no block. */
	CHECK_INT(convert(HEAPABI_FREE, r, (const uint8_t *)stack, sizeof(stack), &hs, regs), 0);
	r[RB_DI] = 1ULL << 40;
	r[RB_SI] = 1ULL << 30;
	CHECK_INT(convert(HEAPABI_CALLOC, r, (const uint8_t *)stack, sizeof(stack), &hs, regs), 0);
	/* No return address copied. */
	CHECK_INT(convert(HEAPABI_MALLOC, r, (const uint8_t *)stack, 0, &hs, regs), 0);
	/* Not a uprobe sample. */
	{
		struct perf_event_header hdr = { .type = PERF_RECORD_SAMPLE };
		struct perf_sample ps = { .regs = r };
		struct sampler_record rec = { .hdr = &hdr, .sample = &ps,
					      .kind = SAMPLER_CPU };

		CHECK_INT(heapuprobe_convert(&rec, 5, regs, &hs), 0);
	}
}

static void test_calibrate(void)
{
	char err[256] = "";
	double ns = 0;

	/* A hit traps into the kernel: far more than the call itself. */
	CHECK_INT(heapuprobe_calibrate(&ns, err, sizeof(err)), 0);
	CHECK(ns > 50);
	if (err[0])
		fprintf(stderr, "calibrate: %s\n", err);
	printf("a uprobe hit: %.0f ns\n", ns);
}

int main(void)
{
	test_offsets_ownmalloc();
	test_offsets_libc();
	test_offsets_not_elf();
	test_find();
	test_sampler_opts();
	test_convert();
	test_calibrate();
	return check_done();
}

/*
 * test_unwind.c - DWARF unwinding of captured user stacks.
 *
 * Without the sampler: the inline workload is stopped with PTRACE_SEIZE +
 * PTRACE_INTERRUPT (it resumes even if this test dies), its registers and
 * 32 KiB of stack are copied as perf would, it is detached, and the copy is
 * unwound: main -> outer -> middle -> hot (-> inl_mix) must come out in
 * order, with and without frame pointers. A pc in libc that .eh_frame does
 * not cover must not make the unwinder's Dwfl load libc's separate debug
 * file (libc6-dbg), and unwinder_refresh must report a library dlopen'ed
 * since. Then real perf samples from the sampler are unwound (inline and
 * qsort_memcpy workloads): >= 95% must reach main.
 */
#include <dlfcn.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/uio.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <elfutils/libdwfl.h>

#include "check.h"
#include "workload.h"
#include "sampler.h"
#include "symbolize.h"
#include "unwind.h"

#define STACK_COPY 32768
#define MAX_FRAMES 128

static pid_t start_workload(const char *path, const char *seconds)
{
	return start_workload_for(path, seconds, 100);
}

struct capture {
	uint64_t regs[RINGBUF_NR_REGS];
	uint8_t stack[STACK_COPY];
	size_t size;
};

static void regs_to_perf(const struct user_regs_struct *r, uint64_t *out)
{
	out[RB_AX] = r->rax; out[RB_BX] = r->rbx; out[RB_CX] = r->rcx;
	out[RB_DX] = r->rdx; out[RB_SI] = r->rsi; out[RB_DI] = r->rdi;
	out[RB_BP] = r->rbp; out[RB_SP] = r->rsp; out[RB_IP] = r->rip;
	out[RB_FLAGS] = r->eflags; out[RB_CS] = r->cs; out[RB_SS] = r->ss;
	out[RB_R8] = r->r8; out[RB_R9] = r->r9; out[RB_R10] = r->r10;
	out[RB_R11] = r->r11; out[RB_R12] = r->r12; out[RB_R13] = r->r13;
	out[RB_R14] = r->r14; out[RB_R15] = r->r15;
}

/* Copies [sp, sp + STACK_COPY) page by page: process_vm_readv transfers
 * partially only at iovec granularity, and the stack may end sooner. */
static size_t read_stack(pid_t pid, uint64_t sp, uint8_t *buf)
{
	struct iovec local = { buf, STACK_COPY }, remote[STACK_COPY / 4096 + 1];
	size_t n = 0, off = 0;
	ssize_t r;

	while (off < STACK_COPY) {
		uint64_t a = sp + off;
		size_t len = 4096 - (a & 4095);

		if (len > STACK_COPY - off)
			len = STACK_COPY - off;
		remote[n].iov_base = (void *)(uintptr_t)a;
		remote[n].iov_len = len;
		n++;
		off += len;
	}
	r = process_vm_readv(pid, &local, 1, remote, n, 0);
	return r > 0 ? (size_t)r : 0;
}

/* The outermost function name of pc. */
static const char *func_of(struct symbolizer *s, uint64_t pc, bool ret)
{
	const struct sym_frame *f = symbolizer_lookup(s, pc, ret);

	return f && f->nlines ? f->lines[f->nlines - 1].function : NULL;
}

/* Stops the child until it is inside hot(), capturing registers and stack;
 * returns false if that never happened. The child is detached either way. */
static bool capture_in_hot(pid_t pid, struct symbolizer *s,
			   struct capture *c)
{
	struct user_regs_struct r;
	bool ok = false;
	int st;

	if (ptrace(PTRACE_SEIZE, pid, 0, 0) != 0)
		return false;
	for (int i = 0; i < 200 && !ok; i++) {
		if (ptrace(PTRACE_INTERRUPT, pid, 0, 0) != 0 ||
		    waitpid(pid, &st, __WALL) != pid || !WIFSTOPPED(st))
			break;
		if (ptrace(PTRACE_GETREGS, pid, 0, &r) == 0) {
			const char *fn = func_of(s, r.rip, false);

			if (fn && strcmp(fn, "hot") == 0) {
				regs_to_perf(&r, c->regs);
				c->size = read_stack(pid, r.rsp, c->stack);
				ok = c->size > 0;
			}
		}
		if (ok)
			break;
		ptrace(PTRACE_CONT, pid, 0, 0);
		sleep_ms(2);
	}
	ptrace(PTRACE_DETACH, pid, 0, 0);
	return ok;
}

/* True when want[] appear in order (leaf first) among the functions of
 * the stack, inlined ones included. */
static bool chain_has(struct symbolizer *s, const uint64_t *pcs,
		      const bool *act, size_t n, const char *const *want,
		      size_t nwant, bool print)
{
	size_t w = 0;

	for (size_t i = 0; i < n; i++) {
		const struct sym_frame *f = symbolizer_lookup(s, pcs[i], !act[i]);

		for (size_t j = 0; f && j < f->nlines; j++) {
			if (print)
				fprintf(stderr, "  #%zu %#llx %s\n", i,
					(unsigned long long)pcs[i],
					f->lines[j].function);
			if (w < nwant &&
			    strcmp(f->lines[j].function, want[w]) == 0)
				w++;
		}
		if (print && (!f || !f->nlines))
			fprintf(stderr, "  #%zu %#llx ??\n", i,
				(unsigned long long)pcs[i]);
	}
	return w == nwant;
}

static void test_ptrace_capture(const char *workload)
{
	static const char *const want[] = {
		"inl_mix", "hot", "middle", "outer", "main"
	};
	static struct capture c;
	struct symbolizer *s = NULL;
	struct unwinder *u = NULL, *u2 = NULL;
	uint64_t pcs[MAX_FRAMES];
	bool act[MAX_FRAMES];
	size_t n = 0, n_small = 0;
	enum unwind_status st;
	char err[256] = "";
	struct timespec t0, t1;

	fprintf(stderr, "%s\n", workload);
	child = start_workload(workload, "20");
	CHECK_INT(symbolizer_new(child, false, &s, err, sizeof(err)), 0);
	if (!s) {
		fprintf(stderr, "symbolizer_new: %s\n", err);
		return;
	}
	CHECK_INT(unwinder_new(child, symbolizer_maps(s), &u, err,
			       sizeof(err)), 0);
	if (!u) {
		fprintf(stderr, "unwinder_new: %s\n", err);
		symbolizer_free(s);
		return;
	}
	/* Each unwinder has a Dwfl of its own (libdwfl takes one thread
	 * state per Dwfl): a second one for the same process works, this
	 * one reading /proc/PID/maps itself. */
	CHECK_INT(unwinder_new(child, NULL, &u2, err, sizeof(err)), 0);
	CHECK(u2 != NULL);
	CHECK(u2 == NULL || unwinder_dwfl(u2) != unwinder_dwfl(u));

	bool captured = capture_in_hot(child, s, &c);
	CHECK(captured);
	if (captured) {
		/* The copy is unwound after the target ran on: nothing may
		 * be read from its live stack. */
		st = unwinder_unwind(u, child, c.regs, c.stack, c.size, pcs,
				     act, MAX_FRAMES, &n);
		CHECK_INT(st, UNWIND_OK);
		CHECK(n >= 5 && n < MAX_FRAMES);
		CHECK_INT(pcs[0], c.regs[RB_IP]);
		CHECK(act[0]);
		for (size_t i = 1; i < n; i++)
			CHECK(!act[i]);
		bool ok = chain_has(s, pcs, act, n, want, 5, false);
		CHECK(ok);
		if (!ok)
			chain_has(s, pcs, act, n, want, 5, true);

		/* A copy that ends inside the stack: hot and middle's return
		 * address are in the first 16 bytes, the rest is cut. */
		st = unwinder_unwind(u, child, c.regs, c.stack, 16, pcs, act,
				     MAX_FRAMES, &n_small);
		CHECK_INT(st, UNWIND_TRUNCATED);
		CHECK(n_small >= 2 && n_small < n);
		st = unwinder_unwind(u, child, c.regs, c.stack, 512, pcs, act,
				     MAX_FRAMES, &n_small);
		CHECK(st == UNWIND_TRUNCATED || st == UNWIND_OK);
		CHECK(n_small <= n);
		/* No copy at all: the first frame, nothing invented, and
		 * not a copy too small (the kernel copies none in execve). */
		st = unwinder_unwind(u, child, c.regs, NULL, 0, pcs, act,
				     MAX_FRAMES, &n_small);
		CHECK_INT(st, UNWIND_FAILED);
		CHECK(n_small >= 1 && n_small < n);
		CHECK_INT(pcs[0], c.regs[RB_IP]);
		/* max frames reached. */
		st = unwinder_unwind(u, child, c.regs, c.stack, c.size, pcs,
				     act, 3, &n_small);
		CHECK_INT(st, UNWIND_TRUNCATED);
		CHECK_INT(n_small, 3);
		/* Another tid of the process works too (registers come from
		 * the sample). */
		st = unwinder_unwind(u, child + 1000000, c.regs, c.stack,
				     c.size, pcs, act, MAX_FRAMES, &n_small);
		CHECK_INT(st, UNWIND_OK);
		CHECK_INT(n_small, n);
		/* The second unwinder, and the first after a refresh, give
		 * the same stack. */
		if (u2) {
			st = unwinder_unwind(u2, child, c.regs, c.stack, c.size,
					     pcs, act, MAX_FRAMES, &n_small);
			CHECK_INT(st, UNWIND_OK);
			CHECK_INT(n_small, n);
		}
		CHECK_INT(unwinder_refresh(u, symbolizer_maps(s)), 0);
		st = unwinder_unwind(u, child, c.regs, c.stack, c.size, pcs,
				     act, MAX_FRAMES, &n_small);
		CHECK_INT(st, UNWIND_OK);
		CHECK_INT(n_small, n);

		/* Cost per sample with one Dwfl kept (docs/design.md §2), in CPU
		 * time so that a busy machine does not inflate it. */
		clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t0);
		for (int i = 0; i < 2000; i++)
			unwinder_unwind(u, child, c.regs, c.stack, c.size, pcs,
					act, MAX_FRAMES, &n_small);
		clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t1);
		printf("%s: %zu frames, %.1f us CPU per unwind (2000 unwinds)\n",
		       workload, n,
		       ((t1.tv_sec - t0.tv_sec) * 1e9 +
			(t1.tv_nsec - t0.tv_nsec)) / 2000 / 1e3);
	}
	unwinder_free(u2);
	unwinder_free(u);
	symbolizer_free(s);
	kill_child();
}

struct find_module {
	const char *suffix;
	Dwfl_Module *mod;
};

static int find_module_cb(Dwfl_Module *mod, void **userdata, const char *name,
			  Dwarf_Addr start, void *arg)
{
	struct find_module *fm = arg;
	size_t n = strlen(name), k = strlen(fm->suffix);

	if (n >= k && strcmp(name + n - k, fm->suffix) == 0) {
		fm->mod = mod;
		return DWARF_CB_ABORT;
	}
	return DWARF_CB_OK;
}

/* The module of dwfl whose file name ends with suffix, or NULL. */
static Dwfl_Module *find_module(Dwfl *dwfl, const char *suffix)
{
	struct find_module fm = { suffix, NULL };

	dwfl_getmodules(dwfl, find_module_cb, &fm, 0);
	return fm.mod;
}

/* The name of mod's separate debug file, NULL when none was opened. */
static const char *debug_file_of(Dwfl_Module *mod)
{
	const char *mainfile = NULL, *debugfile = NULL;

	dwfl_module_info(mod, NULL, NULL, NULL, NULL, NULL, &mainfile,
			 &debugfile);
	return debugfile;
}

/* The first address of mod's .text that its .eh_frame has no FDE for
 * (padding between functions), as an address in the process; 0 if none. */
static uint64_t eh_frame_gap(Dwfl_Module *mod)
{
	Dwarf_Addr bias, ebias;
	Dwarf_CFI *cfi = dwfl_module_eh_cfi(mod, &bias);
	Elf *elf = dwfl_module_getelf(mod, &ebias);
	Elf_Scn *scn = NULL;
	size_t shstrndx;

	if (!cfi || !elf || bias != ebias || elf_getshdrstrndx(elf, &shstrndx))
		return 0;
	while ((scn = elf_nextscn(elf, scn)) != NULL) {
		GElf_Shdr sh;
		const char *name;

		if (!gelf_getshdr(scn, &sh))
			continue;
		name = elf_strptr(elf, shstrndx, sh.sh_name);
		if (!name || strcmp(name, ".text") != 0)
			continue;
		for (GElf_Addr a = sh.sh_addr; a < sh.sh_addr + sh.sh_size; a++) {
			Dwarf_Frame *frame;

			if (dwarf_cfi_addrframe(cfi, a, &frame) != 0)
				return a + bias;
			free(frame);
		}
	}
	return 0;
}

/* libdw's unwinder falls back to dwfl_module_dwarf_cfi for a pc that
 * .eh_frame does not cover, which asks for the module's DWARF: the
 * unwinder's Dwfl must not answer with a separate debug file (libc6-dbg's
 * for libc: all of its DWARF decompressed, ~11 MiB), even when the
 * symbolizer of the same process has found and opened that file. */
static void test_no_debug_file(void)
{
	static struct capture c;
	struct symbolizer *s = NULL;
	struct unwinder *u = NULL;
	Dwfl_Module *libc, *sym_libc;
	uint64_t regs[RINGBUF_NR_REGS], pcs[MAX_FRAMES], gap;
	bool act[MAX_FRAMES];
	size_t n = 0;
	char err[256] = "";

	fprintf(stderr, "no debug file\n");
	child = start_workload(WORKLOAD_DIR "/inline_nofp", "20");
	CHECK_INT(symbolizer_new(child, false, &s, err, sizeof(err)), 0);
	if (s)
		CHECK_INT(unwinder_new(child, symbolizer_maps(s), &u, err,
				       sizeof(err)), 0);
	if (!s || !u) {
		fprintf(stderr, "set-up: %s\n", err);
		goto out;
	}
	bool captured = capture_in_hot(child, s, &c);
	CHECK(captured);
	libc = find_module(unwinder_dwfl(u), "/libc.so.6");
	CHECK(libc != NULL);
	if (!captured || !libc)
		goto out;
	gap = eh_frame_gap(libc);
	CHECK(gap != 0);
	if (!gap)
		goto out;

	/* Whether this machine has a debug file for libc at all: the
	 * symbolizer looks for one (its .symtab names functions). Without
	 * it the check below would pass whatever the unwinder does. */
	symbolizer_lookup(s, gap, false);
	sym_libc = find_module(symbolizer_dwfl(s), "/libc.so.6");
	if (!sym_libc || !debug_file_of(sym_libc))
		fprintf(stderr, "  libc has no separate debug file here: "
			"the check below proves little\n");
	else
		fprintf(stderr, "  libc's debug file: %s\n",
			debug_file_of(sym_libc));

	/* The sample stopped in hot(), but with its pc moved to the gap:
	 * the first frame is then unwound with the fallback. */
	memcpy(regs, c.regs, sizeof(regs));
	regs[RB_IP] = gap;
	unwinder_unwind(u, child, regs, c.stack, c.size, pcs, act, MAX_FRAMES,
			&n);
	CHECK(n >= 1);
	CHECK_INT(pcs[0], gap);
	CHECK(debug_file_of(libc) == NULL);
	if (debug_file_of(libc))
		fprintf(stderr, "  the unwinder opened %s\n",
			debug_file_of(libc));
	/* The normal stack still unwinds. */
	CHECK_INT(unwinder_unwind(u, child, c.regs, c.stack, c.size, pcs, act,
				  MAX_FRAMES, &n), UNWIND_OK);
out:
	unwinder_free(u);
	symbolizer_free(s);
	kill_child();
}

/* The child of test_refresh: waits for a byte on in, dlopens a library
 * this test is not linked with, writes one of its functions' address to
 * out and waits to be killed. */
static void dlopen_child(int in, int out)
{
	void *h, *fn = NULL;
	char c;

	alarm(60);
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (read(in, &c, 1) != 1)
		_exit(1);
	h = dlopen("libprotobuf-c.so.1", RTLD_NOW | RTLD_LOCAL);
	if (h)
		fn = dlsym(h, "protobuf_c_version");
	if (write(out, &fn, sizeof(fn)) != sizeof(fn))
		_exit(1);
	for (;;)
		pause();
}

/* unwinder_refresh reports a library mapped after unwinder_new and keeps
 * the modules it had: u[0] reading /proc/PID/maps itself, u[1] given the
 * symbolizer's maps after symbolizer_refresh, as record.c does. The target
 * is a fork of this test, not the test itself: libelf's maps of the files
 * the unwinder opens would change the test's own modules. */
static void test_refresh(void)
{
	struct symbolizer *s = NULL;
	struct unwinder *u[2] = { NULL, NULL };
	char err[256] = "";
	int go[2], back[2];
	Dwfl_Module *m0[2], *m;
	void *fn = NULL;

	fprintf(stderr, "refresh\n");
	if (pipe(go) || pipe(back)) {
		CHECK(!"pipe");
		return;
	}
	child = fork();
	if (child == 0)
		dlopen_child(go[0], back[1]);
	close(go[0]);
	close(back[1]);
	CHECK(child > 0);
	if (child < 0)
		goto out;
	CHECK_INT(symbolizer_new(child, false, &s, err, sizeof(err)), 0);
	CHECK_INT(unwinder_new(child, NULL, &u[0], err, sizeof(err)), 0);
	if (s)
		CHECK_INT(unwinder_new(child, symbolizer_maps(s), &u[1], err,
				       sizeof(err)), 0);
	if (!s || !u[0] || !u[1]) {
		fprintf(stderr, "set-up: %s\n", err);
		goto out;
	}
	/* A fork: the same addresses as ours. */
	for (int k = 0; k < 2; k++) {
		m0[k] = dwfl_addrmodule(unwinder_dwfl(u[k]),
					(Dwarf_Addr)(uintptr_t)&test_refresh);
		CHECK(m0[k] != NULL);
	}
	CHECK(write(go[1], "x", 1) == 1);
	CHECK(read(back[0], &fn, sizeof(fn)) == sizeof(fn));
	CHECK(fn != NULL);
	if (!fn)
		goto out;
	CHECK_INT(symbolizer_refresh(s), 0);
	for (int k = 0; k < 2; k++) {
		Dwfl *dwfl = unwinder_dwfl(u[k]);
		const struct procfs_maps *maps = k ? symbolizer_maps(s) : NULL;

		CHECK(dwfl_addrmodule(dwfl, (Dwarf_Addr)(uintptr_t)fn) == NULL);
		CHECK_INT(unwinder_refresh(u[k], maps), 0);
		m = dwfl_addrmodule(dwfl, (Dwarf_Addr)(uintptr_t)fn);
		CHECK(m != NULL);
		CHECK(m && strstr(dwfl_module_info(m, NULL, NULL, NULL, NULL,
						   NULL, NULL, NULL),
				  "libprotobuf-c"));
		CHECK(dwfl_addrmodule(dwfl,
			(Dwarf_Addr)(uintptr_t)&test_refresh) == m0[k]);
		/* Nothing changed since: nothing to do. */
		CHECK_INT(unwinder_refresh(u[k], maps), 0);
		CHECK(dwfl_addrmodule(dwfl, (Dwarf_Addr)(uintptr_t)fn) == m);
	}
out:
	close(go[1]);
	close(back[0]);
	unwinder_free(u[0]);
	unwinder_free(u[1]);
	symbolizer_free(s);
	kill_child();

	/* A process that is gone: -ESRCH, as symbolizer_new says. */
	struct unwinder *g = NULL;
	pid_t gone = fork();
	if (gone == 0)
		_exit(0);
	waitpid(gone, NULL, 0);
	CHECK_INT(unwinder_new(gone, NULL, &g, err, sizeof(err)), -ESRCH);
	CHECK(g == NULL);
}

struct sampled {
	struct symbolizer *s;
	struct unwinder *u;
	unsigned samples, reached_main, truncated, failed;
	double unwind_ns, frames;
};

static int on_record(const struct sampler_record *rec, void *arg)
{
	static const char *const want[] = { "main" };
	struct sampled *sd = arg;
	const struct perf_sample *ps = rec->sample;
	uint64_t pcs[MAX_FRAMES];
	bool act[MAX_FRAMES];
	size_t n;
	enum unwind_status st;

	if (rec->hdr->type != PERF_RECORD_SAMPLE || !ps || !ps->regs)
		return 0;
	struct timespec t0, t1;

	sd->samples++;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t0);
	st = unwinder_unwind(sd->u, ps->tid, ps->regs, ps->stack,
			     ps->stack_dyn_size, pcs, act, MAX_FRAMES, &n);
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t1);
	sd->unwind_ns += (t1.tv_sec - t0.tv_sec) * 1e9 +
			 (t1.tv_nsec - t0.tv_nsec);
	sd->frames += n;
	sd->truncated += st == UNWIND_TRUNCATED;
	sd->failed += st == UNWIND_FAILED;
	if (chain_has(sd->s, pcs, act, n, want, 1, false))
		sd->reached_main++;
	return 0;
}

static void test_sampler(const char *workload)
{
	struct sampler_opts o = {
		.freq = 999,
		.callgraph = SAMPLER_CG_DWARF,
		.stack_size = 16384,
	};
	struct sampled sd = { 0 };
	struct sampler *smp = NULL;
	char err[512] = "";
	int r;

	child = start_workload(workload, "5");
	o.pid = child;
	CHECK_INT(symbolizer_new(child, false, &sd.s, err, sizeof(err)), 0);
	if (sd.s)
		CHECK_INT(unwinder_new(child, symbolizer_maps(sd.s), &sd.u, err,
				       sizeof(err)), 0);
	r = sampler_open(&o, &smp, err, sizeof(err));
	CHECK_INT(r, 0);
	if (r || !sd.u) {
		fprintf(stderr, "set-up: %s\n", err);
		goto out;
	}
	CHECK_INT(sampler_enable(smp), 0);
	/* Up to 300 samples or 4 s, whichever comes first: a loaded machine
	 * gives fewer samples per second, never a failure by itself. */
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	do {
		r = sampler_read(smp, 100, on_record, &sd);
		clock_gettime(CLOCK_MONOTONIC, &t1);
	} while (r >= 0 && sd.samples < 300 && t1.tv_sec - t0.tv_sec < 4);
	sampler_disable(smp);
	sampler_read(smp, 0, on_record, &sd);
	printf("%s: %u samples, %u reach main, %u truncated, %u failed; "
	       "%.1f frames, %.1f us CPU per unwind\n",
	       workload, sd.samples, sd.reached_main, sd.truncated, sd.failed,
	       sd.samples ? sd.frames / sd.samples : 0,
	       sd.samples ? sd.unwind_ns / sd.samples / 1e3 : 0);
	CHECK(sd.samples >= 50);
	CHECK(sd.reached_main * 100 >= sd.samples * 95);
out:
	sampler_free(smp);
	unwinder_free(sd.u);
	symbolizer_free(sd.s);
	kill_child();
}

int main(void)
{
	alarm(100);
	test_ptrace_capture(WORKLOAD_DIR "/inline_nofp");
	test_ptrace_capture(WORKLOAD_DIR "/inline_fp");
	test_no_debug_file();
	test_refresh();
	test_sampler(WORKLOAD_DIR "/inline_nofp");
	/* libc's qsort and frameless memcpy: where frame pointers fail. */
	test_sampler(WORKLOAD_DIR "/qsort_memcpy_nofp");
	return check_done();
}

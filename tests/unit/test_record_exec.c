/*
 * test_record_exec.c - record_run against a process caught with no file
 * mapped, as a process is inside an exec: between the kernel's switch to
 * the new program's address space and its mapping of the program, that
 * space holds the stack alone. libdw then has no ELF to take the
 * architecture from, and cprof used to fail the whole recording ("cannot
 * record pid N: dwfl_attach_state: Couldn't find architecture of any
 * ELF"), as `cprof record -- sh -c '...; exec prog'` once did on a loaded
 * machine.
 *
 * The window of a real exec lasts microseconds, so a child makes one that
 * lasts: it copies a few instructions into an anonymous page, jumps there
 * and unmaps everything else (its program, libraries, stack, vDSO), then
 * after HIDE_MS maps a file again (one page of /bin/true's ELF). Checks:
 * the recording waits for the file and succeeds; a child that never maps
 * one ends the wait with the old error rather than a hang.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/rseq.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "check.h"
#include "profile.h"
#include "record.h"

#define HIDE_MS 300

/* The child's code, run from its anonymous page (rdi: the page). Data in
 * the page: the sleep before mapping the file at 0x800, the sleep before
 * exiting at 0x810, the file's path at 0x900 (empty: none is mapped). */
extern const unsigned char hide_blob[], hide_blob_end[];
__asm__(".section .rodata\n"
	"hide_blob:\n"
	"\tmov %rdi, %r15\n"
	/* munmap(0, page) */
	"\txor %edi, %edi\n"
	"\tmov %r15, %rsi\n"
	"\tmov $11, %eax\n"
	"\tsyscall\n"
	/* munmap(page + 4096, TASK_SIZE - (page + 4096)) */
	"\tlea 4096(%r15), %rdi\n"
	"\tmovabs $0x7ffffffff000, %rsi\n"
	"\tsub %rdi, %rsi\n"
	"\tmov $11, %eax\n"
	"\tsyscall\n"
	/* nanosleep(page + 0x800, NULL) */
	"\tlea 0x800(%r15), %rdi\n"
	"\txor %esi, %esi\n"
	"\tmov $35, %eax\n"
	"\tsyscall\n"
	/* fd = open(page + 0x900, O_RDONLY) */
	"\tlea 0x900(%r15), %rdi\n"
	"\txor %esi, %esi\n"
	"\txor %edx, %edx\n"
	"\tmov $2, %eax\n"
	"\tsyscall\n"
	/* mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, fd, 0) */
	"\tmov %rax, %r8\n"
	"\txor %edi, %edi\n"
	"\tmov $4096, %esi\n"
	"\tmov $1, %edx\n"
	"\tmov $2, %r10d\n"
	"\txor %r9d, %r9d\n"
	"\tmov $9, %eax\n"
	"\tsyscall\n"
	/* nanosleep(page + 0x810, NULL), then exit_group(0) */
	"\tlea 0x810(%r15), %rdi\n"
	"\txor %esi, %esi\n"
	"\tmov $35, %eax\n"
	"\tsyscall\n"
	"\tmov $231, %eax\n"
	"\txor %edi, %edi\n"
	"\tsyscall\n"
	"hide_blob_end:\n"
	".text\n");

/* A child that hides its files, then maps path (NULL: never). */
static pid_t start_hider(const char *path)
{
	pid_t pid = fork();

	if (pid != 0)
		return pid;
	unsigned char *page = mmap(NULL, 4096, PROT_READ | PROT_WRITE | PROT_EXEC,
				   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (page == MAP_FAILED)
		_exit(1);
	memcpy(page, hide_blob, (size_t)(hide_blob_end - hide_blob));
	struct timespec *ts = (struct timespec *)(page + 0x800);
	ts[0] = (struct timespec){ .tv_nsec = HIDE_MS * 1000000L };
	ts[1] = (struct timespec){ .tv_sec = 30 };	/* ends by itself */
	snprintf((char *)page + 0x900, 256, "%s", path ? path : "");
	/* The kernel writes the CPU number into glibc's rseq area (in the
	 * TLS about to be unmapped) when the thread is scheduled: a fault
	 * there is a SIGSEGV. */
	if (__rseq_size > 0)
		syscall(SYS_rseq, (char *)__builtin_thread_pointer() + __rseq_offset,
			sizeof(struct rseq), 1 /* RSEQ_FLAG_UNREGISTER */, RSEQ_SIG);
	((void (*)(void *))page)(page);
	_exit(1);	/* not reached */
}

/* Until pid's maps name no file (its code runs from the anonymous page). */
static int wait_hidden(pid_t pid)
{
	char path[64], line[512];

	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	for (int i = 0; i < 2000; i++) {
		FILE *f = fopen(path, "r");
		int files = 0, lines = 0;

		while (f && fgets(line, sizeof(line), f)) {
			lines++;
			files += strchr(line, '/') != NULL;
		}
		if (f)
			fclose(f);
		if (lines > 0 && files == 0)
			return 0;
		usleep(5000);
	}
	return -1;
}

/* Records a hider that maps path (NULL: none) once it has hidden; returns
 * record_run's result, *p its profile, err its message. The child is
 * checked alive (record_run must leave it as it was), then killed. */
static int record_hider(const char *path, struct profile **p, char *err,
			size_t errlen)
{
	pid_t pid = start_hider(path);
	struct record_opts opts = {
		.pid = pid, .freq = 99, .seconds = 0.2,
		.callgraph = SAMPLER_CG_DWARF, .stack_size = 8192,
	};
	struct record_stats st;

	*p = NULL;
	CHECK(pid > 0);
	if (pid <= 0)
		return -ECHILD;
	CHECK_INT(wait_hidden(pid), 0);
	int e = record_run(&opts, NULL, p, &st, err, errlen);
	CHECK_INT(kill(pid, 0), 0);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	return e;
}

static void test_waits_for_the_program(void)
{
	struct profile *p;
	char err[256] = "";
	int e = record_hider("/bin/true", &p, err, sizeof(err));

	CHECK_INT(e, 0);
	if (e)
		fprintf(stderr, "record_run: %s\n", err);
	CHECK(p != NULL);
	profile_free(p);
}

static void test_gives_up(void)
{
	struct profile *p;
	char err[256] = "";
	int e = record_hider(NULL, &p, err, sizeof(err));

	CHECK(e < 0);
	CHECK(p == NULL);
	CHECK(strstr(err, "dwfl_attach_state") != NULL);
}

int main(void)
{
	test_waits_for_the_program();
	test_gives_up();
	return check_done();
}

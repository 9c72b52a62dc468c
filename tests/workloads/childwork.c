/*
 * childwork - the program the children of forkexec (or of `sh -c`) run:
 * known CPU work in named functions, measured by itself.
 *
 *   main -> child_loop -> child_work_a    2 chunks in 3
 *                      -> child_work_b    1 chunk in 3
 *
 * usage: childwork CPU_SECONDS [--wait]
 *   Works until the process has used CPU_SECONDS of CPU time (not wall
 *   time: on a busy machine it takes longer, the amount stays), then
 *   prints "childwork: pid PID cpu SECONDS loop SECONDS": the CPU time it
 *   used (CLOCK_PROCESS_CPUTIME_ID: since the fork, exec included), and
 *   the part of it spent in child_loop (the rest is the process's start:
 *   exec, the dynamic loader, page faults). With
 *   --wait it first waits for SIGUSR1 (a child that exists before a
 *   profiler attaches). alarm(60) ends it if anything hangs.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define NOINLINE __attribute__((noinline))
#define BARRIER() __asm__ volatile("" ::: "memory")
/* Iterations per chunk: ~0.1 ms. */
#define CHUNK 100000

static volatile uint64_t sink;
static volatile sig_atomic_t go;

#define WORK(x) do { \
	for (int i_ = 0; i_ < CHUNK; i_++) { \
		(x) = (x) * 6364136223846793005ULL + 1442695040888963407ULL; \
		__asm__ volatile("" : "+r"(x)); \
	} \
} while (0)

static double cpu_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

NOINLINE uint64_t child_work_a(uint64_t x) { WORK(x); BARRIER(); return x + 1; }
NOINLINE uint64_t child_work_b(uint64_t x) { WORK(x); BARRIER(); return x + 1; }

NOINLINE uint64_t child_loop(double cpu)
{
	uint64_t x = 1;

	while (cpu_now() < cpu) {
		x = child_work_a(x);
		x = child_work_a(x);
		x = child_work_b(x);
	}
	BARRIER();
	return x;
}

static void on_usr1(int sig)
{
	(void)sig;
	go = 1;
}

int main(int argc, char **argv)
{
	double cpu = argc > 1 ? atof(argv[1]) : 0;
	sigset_t mask, old;

	if (argc < 2 || argc > 3 || cpu <= 0 || cpu > 30 ||
	    (argc == 3 && strcmp(argv[2], "--wait") != 0)) {
		fprintf(stderr, "usage: childwork CPU_SECONDS [--wait]\n");
		return 64;
	}
	alarm(60);
	if (argc == 3) {
		/* Blocked first, so a SIGUSR1 sent early is not lost. */
		sigemptyset(&mask);
		sigaddset(&mask, SIGUSR1);
		sigprocmask(SIG_BLOCK, &mask, &old);
		signal(SIGUSR1, on_usr1);
		/* Whatever mask we inherited (exec keeps it), wait with
		 * SIGUSR1 open. */
		sigset_t open_mask = old;

		sigdelset(&open_mask, SIGUSR1);
		while (!go)
			sigsuspend(&open_mask);
		sigprocmask(SIG_SETMASK, &old, NULL);
	}
	double start = cpu_now();

	sink = child_loop(cpu);
	double end = cpu_now();

	printf("childwork: pid %d cpu %.3f loop %.3f\n", (int)getpid(), end,
	       end - start);
	return 0;
}

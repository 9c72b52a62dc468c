/*
 * calltree - a known call tree for profilers to recover:
 *
 *   main -> run -> a               50% of the work
 *               -> b -> b_leaf     30%
 *               -> c -> c_leaf     20%
 *
 * The shares come from a fixed count of equal work chunks per round (5:3:2),
 * not from the clock, so they hold however the process is scheduled. Every
 * chunk runs the same loop (a macro), so a chunk costs the same in each
 * function. No tail calls: each call is followed by a compiler barrier, so
 * callers stay on the stack for frame-pointer and DWARF unwinders alike.
 *
 * usage: calltree SECONDS [THREADS [ROUNDS]]
 *   Runs until SECONDS have passed (SIGALRM) or, when ROUNDS > 0, until every
 *   thread has done ROUNDS rounds (a fixed amount of work, for benchmarks);
 *   then it also prints the time the work took and the wall-clock time at
 *   which it ended, so a benchmark can tell its slowdown and how long a
 *   profiler takes after the end of the work.
 *   Extra threads are named "calltree-N" and run the same tree. At the end
 *   it prints the CPU time the process used, for checking a profile's total.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#define NOINLINE __attribute__((noinline))
#define BARRIER() __asm__ volatile("" ::: "memory")

/* Iterations per chunk: ~0.1 ms, far below the 1 ms period of 999 Hz. */
#define CHUNK 100000

static volatile sig_atomic_t stop;
static volatile uint64_t sink;

/* A dependent multiply-add chain: the empty asm hides x from the optimizer
 * so the loop can neither be vectorized nor folded into a closed form. A
 * macro rather than an inline function, so that the time is the caller's
 * own and no inline frame "work" is shared by a, b_leaf and c_leaf. */
#define WORK(x) do { \
	for (int i_ = 0; i_ < CHUNK; i_++) { \
		(x) = (x) * 6364136223846793005ULL + 1442695040888963407ULL; \
		__asm__ volatile("" : "+r"(x)); \
	} \
} while (0)

/* The functions that do the work call tally afterwards: gcc 12 at -O2 sets up
 * no frame pointer in a leaf that needs no stack, even with
 * -fno-omit-frame-pointer -mno-omit-leaf-frame-pointer (checked with
 * objdump), and a frame-pointer callchain then skips the leaf's caller. Not
 * being leaves, they keep their frames in the _fp build. */
NOINLINE uint64_t tally(uint64_t x) { BARRIER(); return x ^ (x >> 7); }

NOINLINE uint64_t b_leaf(uint64_t x) { WORK(x); x = tally(x); BARRIER(); return x; }
NOINLINE uint64_t c_leaf(uint64_t x) { WORK(x); x = tally(x); BARRIER(); return x; }

NOINLINE uint64_t a(uint64_t x) { WORK(x); x = tally(x); BARRIER(); return x; }
NOINLINE uint64_t b(uint64_t x) { x = b_leaf(x); BARRIER(); return x + 1; }
NOINLINE uint64_t c(uint64_t x) { x = c_leaf(x); BARRIER(); return x + 1; }

NOINLINE uint64_t run(unsigned long rounds)
{
	uint64_t x = 1;

	for (unsigned long r = 0; (rounds == 0 || r < rounds) && !stop; r++) {
		for (int i = 0; i < 5; i++)
			x = a(x);
		for (int i = 0; i < 3; i++)
			x = b(x);
		for (int i = 0; i < 2; i++)
			x = c(x);
	}
	BARRIER();
	return x;
}

static unsigned long rounds;

static void *thread_main(void *arg)
{
	sink = run(rounds);
	BARRIER();
	return arg;
}

/* The first alarm asks the loops to stop; a second one, two seconds later,
 * ends a process that did not (it must never outlive its test). */
static void on_alarm(int sig)
{
	(void)sig;
	if (stop)
		_exit(3);
	stop = 1;
	alarm(2);
}

int main(int argc, char **argv)
{
	if (argc < 2 || argc > 4) {
		fprintf(stderr, "usage: %s SECONDS [THREADS [ROUNDS]]\n", argv[0]);
		return 64;
	}
	unsigned seconds = (unsigned)strtoul(argv[1], NULL, 10);
	int nthreads = argc > 2 ? atoi(argv[2]) : 1;
	rounds = argc > 3 ? strtoul(argv[3], NULL, 10) : 0;
	if (seconds == 0 || nthreads < 1 || nthreads > 64) {
		fprintf(stderr, "%s: bad arguments\n", argv[0]);
		return 64;
	}
	signal(SIGALRM, on_alarm);
	alarm(seconds);

	struct timespec t0, t1, wall;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	pthread_t tids[64];
	for (int i = 1; i < nthreads; i++) {
		char name[16];
		if (pthread_create(&tids[i], NULL, thread_main, NULL) != 0) {
			perror("pthread_create");
			return 1;
		}
		snprintf(name, sizeof(name), "calltree-%d", i);
		pthread_setname_np(tids[i], name);
	}
	sink = run(rounds);
	for (int i = 1; i < nthreads; i++)
		pthread_join(tids[i], NULL);
	struct timespec cpu;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	clock_gettime(CLOCK_REALTIME, &wall);
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &cpu);
	printf("calltree: done (%d thread%s), cpu %.3f s", nthreads,
	       nthreads > 1 ? "s" : "", cpu.tv_sec + cpu.tv_nsec / 1e9);
	if (rounds > 0)
		printf(" work %.6f s, ended at %lld.%06ld",
		       (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9,
		       (long long)wall.tv_sec, wall.tv_nsec / 1000);
	printf("\n");
	return stop && rounds > 0 ? 3 : 0;
}

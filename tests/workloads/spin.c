/*
 * spin [SECONDS [THREADS [cpu]]] - burns CPU in THREADS threads (the main
 * thread is one of them) for SECONDS (default 10, fractions allowed), then
 * exits 0. With "cpu", SECONDS of the process's CPU time rather than of
 * the clock: as many samples on a starved machine as on an idle one.
 * The call chain of every sample is main or spin_thread -> spin_outer ->
 * spin_middle -> spin_leaf, each noinline so profiles can name them.
 * alarm(SECONDS + 2) kills it if it ever hangs (SECONDS * 30 + 10 in cpu
 * mode).
 */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double deadline;
static volatile double sink;
static clockid_t clock_id = CLOCK_MONOTONIC;

static double now(void)
{
	struct timespec ts;

	clock_gettime(clock_id, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

__attribute__((noinline)) static double spin_leaf(double x)
{
	for (int i = 0; i < 20000; i++)
		x = x * 1.0000001 + 1e-9;
	return x;
}

__attribute__((noinline)) static double spin_middle(double x)
{
	x = spin_leaf(x);
	__asm__ volatile("" ::: "memory");	/* keep the call a call */
	return x;
}

__attribute__((noinline)) static void spin_outer(void)
{
	double x = 1.0;

	while (now() < deadline)
		x = spin_middle(x);
	sink = x;
}

static void *spin_thread(void *arg)
{
	(void)arg;
	spin_outer();
	return NULL;
}

int main(int argc, char **argv)
{
	double seconds = argc > 1 ? atof(argv[1]) : 10.0;
	long threads = argc > 2 ? atol(argv[2]) : 1;
	int cpu = argc > 3 && strcmp(argv[3], "cpu") == 0;
	pthread_t *tids;

	if (seconds <= 0 || threads < 1 || threads > 4096 || (argc > 3 && !cpu)) {
		fprintf(stderr, "usage: spin [SECONDS [THREADS [cpu]]]\n");
		return 64;
	}
	if (cpu)
		clock_id = CLOCK_PROCESS_CPUTIME_ID;
	alarm(cpu ? (unsigned)ceil(seconds) * 30 + 10 : (unsigned)ceil(seconds) + 2);
	deadline = now() + seconds;
	tids = calloc((size_t)threads, sizeof(*tids));
	if (!tids)
		return 1;
	for (long i = 1; i < threads; i++) {
		if (pthread_create(&tids[i], NULL, spin_thread, NULL) != 0) {
			perror("spin: pthread_create");
			return 1;
		}
	}
	spin_outer();
	for (long i = 1; i < threads; i++)
		pthread_join(tids[i], NULL);
	free(tids);
	return 0;
}

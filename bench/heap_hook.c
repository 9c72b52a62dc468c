/*
 * heap_hook.c - what the injected heap sampler's hooks (src/heapblob/)
 * cost a malloc-heavy loop: ns per malloc+free pair of 32..256 bytes in
 * THREADS threads, called directly (through a function pointer, as a
 * PLT/GOT call is) and through the hooks mapped as the injector maps
 * them (tests/unit/heapblob_map.h): not live (a load and a branch),
 * live with a rate no loop reaches (the fast path alone), and live at
 * RATE bytes a sample, with a reader draining the ring every
 * millisecond as cprof does. Alternates the modes RUNS times and prints
 * medians of the CPU time a pair takes. Not a test: figures depend on the machine.
 *
 *   build/bench/heap_hook [ITERS [RUNS [THREADS [RATE [STACK]]]]]
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../tests/unit/heapblob_map.h"
#include "heapring.h"

typedef void *(*malloc_fn)(size_t);
typedef void (*free_fn)(void *);

static struct hb_map M;
static long iters = 5000000;
static int nthreads = 2;

struct job {
	malloc_fn m;
	free_fn f;
	unsigned seed;
	pthread_barrier_t *go;
	double cpu;			/* the thread's CPU seconds in the loop */
};

static double cpu_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void *loop(void *arg)
{
	struct job *j = arg;
	malloc_fn m = j->m;
	free_fn f = j->f;
	uint64_t x = 0x9e3779b97f4a7c15ull * (j->seed + 1);
	pthread_barrier_wait(j->go);
	double t0 = cpu_now();
	for (long i = 0; i < iters; i++) {
		x ^= x << 13; x ^= x >> 7; x ^= x << 17;
		void *p = m(32 + (x & 255) * 225 / 256);
		*(volatile char *)p = 1;
		f(p);
	}
	j->cpu = cpu_now() - t0;
	return NULL;
}

static volatile int draining;
static uint64_t drained;

static void *drain(void *arg)
{
	(void)arg;
	while (draining) {
		while (heapring_peek(M.cprof)) {
			drained++;
			heapring_release(M.cprof);
		}
		usleep(1000);
	}
	return NULL;
}

/* ns of CPU time per pair, the mean of the threads (CPU time, not wall
 * time: on a shared machine, time spent waiting for a CPU is not the
 * loop's) */
static double run(malloc_fn m, free_fn f, int with_reader)
{
	pthread_t t[16], r;
	struct job j[16];
	pthread_barrier_t go;
	pthread_barrier_init(&go, NULL, (unsigned)nthreads + 1);
	if (with_reader) {
		draining = 1;
		pthread_create(&r, NULL, drain, NULL);
	}
	for (int k = 0; k < nthreads; k++) {
		j[k] = (struct job){ m, f, (unsigned)k, &go, 0 };
		pthread_create(&t[k], NULL, loop, &j[k]);
	}
	pthread_barrier_wait(&go);
	double cpu = 0;
	for (int k = 0; k < nthreads; k++) {
		pthread_join(t[k], NULL);
		cpu += j[k].cpu;
	}
	if (with_reader) {
		draining = 0;
		pthread_join(r, NULL);
	}
	pthread_barrier_destroy(&go);
	return cpu / nthreads * 1e9 / iters;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	int runs = 7;
	uint64_t rate = 512 * 1024, stack = HEAPABI_STACK_MAX;
	if (argc > 1) iters = atol(argv[1]);
	if (argc > 2) runs = atoi(argv[2]);
	if (argc > 3) nthreads = atoi(argv[3]);
	if (argc > 4) rate = strtoull(argv[4], NULL, 0);
	if (argc > 5) stack = strtoull(argv[5], NULL, 0);
	if (iters <= 0 || runs <= 0 || runs > 64 || nthreads <= 0 || nthreads > 16) {
		fprintf(stderr, "usage: heap_hook [ITERS [RUNS [THREADS [RATE [STACK]]]]]\n");
		return 2;
	}
	if (hb_map_blob(&M) != 0) {
		perror("heap_hook: mapping the blob");
		return 1;
	}
	char err[256];
	struct heapring_config cfg = { .tgid = getpid(), .cprof_pid = getpid(),
		.rate = rate, .stack_size = stack, .deadline_ns = UINT64_MAX };
	if (heapring_init(M.cprof, &cfg, err, sizeof(err)) != 0) {
		fprintf(stderr, "heap_hook: %s\n", err);
		return 1;
	}
	M.cprof->real[HEAPABI_MALLOC] = (uintptr_t)malloc;
	M.cprof->real[HEAPABI_FREE] = (uintptr_t)free;
	heapring_init_private(M.priv, M.cprof->real);
	malloc_fn hm = (malloc_fn)M.hook[HEAPABI_MALLOC];
	free_fn hf = (free_fn)M.hook[HEAPABI_FREE];
	volatile malloc_fn dm = malloc;
	volatile free_fn df = free;

	double direct[64], off[64], quiet[64], live[64];
	run(dm, df, 0);			/* warm up */
	for (int i = 0; i < runs; i++) {
		direct[i] = run(dm, df, 0);
		M.priv->live = 0;
		off[i] = run(hm, hf, 0);
		/* live, but drawing intervals no loop reaches: the fast path */
		M.cprof->rate = (uint64_t)1 << 60;
		heapring_init_private(M.priv, M.cprof->real);
		M.priv->live = 1;
		quiet[i] = run(hm, hf, 0);
		M.priv->live = 0;
		M.cprof->rate = rate;
		heapring_init_private(M.priv, M.cprof->real);
		M.priv->live = 1;
		live[i] = run(hm, hf, 1);
	}
	qsort(direct, runs, sizeof(double), cmp);
	qsort(off, runs, sizeof(double), cmp);
	qsort(quiet, runs, sizeof(double), cmp);
	qsort(live, runs, sizeof(double), cmp);
	double d = direct[runs / 2], o = off[runs / 2], q = quiet[runs / 2], l = live[runs / 2];
	struct heapring_stats st;
	heapring_stats(M.cprof, &st);
	/* what a sample costs: the live runs' extra time over the quiet
	 * ones, spread over their samples */
	double per_sample = (l - q) * iters * nthreads * runs /
			    (double)(st.samples + st.dropped);
	printf("threads %d, %ld malloc+free pairs of 32..256 bytes each, %d runs, rate %llu, stack %llu\n",
	       nthreads, iters, runs, (unsigned long long)rate, (unsigned long long)stack);
	printf("direct          %6.2f ns/pair\n", d);
	printf("hooks, not live %6.2f ns/pair  (%+.1f%%)\n", o, (o / d - 1) * 100);
	printf("hooks, live, no sample reached %6.2f ns/pair  (%+.1f%%)\n", q, (q / d - 1) * 100);
	printf("hooks, live     %6.2f ns/pair  (%+.1f%%), %.1f us a sample\n", l,
	       (l / d - 1) * 100, per_sample / 1000);
	printf("samples %llu (read %llu), dropped %llu, stack copies failed %llu\n",
	       (unsigned long long)st.samples, (unsigned long long)drained,
	       (unsigned long long)st.dropped, (unsigned long long)st.stack_failed);
	hb_unmap_blob(&M);
	return 0;
}

/*
 * mallocbench [-t THREADS] [-n CALLS] [-k WORK] [-w] [-s SECONDS] - the
 * malloc-heavy workload of bench/heap.sh: THREADS threads (2) each make
 * CALLS (20M) malloc + free pairs of small blocks of varied sizes (16 to
 * 1 KiB, a few live at a time), as fast as they can, or with WORK rounds
 * of computation between two calls (a program that does something with
 * what it allocates: a few million calls a second), and print what they
 * did:
 *
 *   mallocbench: work W s cpu U s calls C calls/s R bytes B
 *
 * W is the wall time from the start of the work to the end of the last
 * thread, U the CPU time (user + system) of the process meanwhile, C the malloc calls, B the bytes they asked for. With -w it waits
 * for SIGUSR1 before working ("mallocbench: pid P waiting" first), so that
 * a profiler can attach to it first. alarm(SECONDS) (600) ends a run that
 * hangs.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <signal.h>
#include <sys/resource.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static long calls = 20000000;
static long work;
static int waiting;
static _Atomic int go;
static volatile unsigned char sink;

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double cpu_now(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
	       (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

struct worker {
	pthread_t th;
	uint64_t rng;
	uint64_t bytes;
};

__attribute__((noinline)) static uint64_t mb_loop(void **live, uint64_t *rng, long calls)
{
	uint64_t x = *rng, bytes = 0;

	for (long i = 0; i < calls; i++) {
		size_t n;
		unsigned char *p;

		x ^= x >> 12;
		x ^= x << 25;
		x ^= x >> 27;
		n = 16 + ((x * 0x2545f4914f6cdd1dULL) >> 54);	/* 16 .. 1039 */
		p = malloc(n);
		if (!p)
			abort();
		p[0] = (unsigned char)i;
		for (long k = 0; k < work; k++) {	/* the program's own work */
			x ^= x >> 12;
			x ^= x << 25;
			x ^= x >> 27;
		}
		bytes += n;
		free(live[i & 7]);
		live[i & 7] = p;
	}
	*rng = x;
	return bytes;
}

/* The uncounted loop before SIGUSR1 (-w), a function of its own so that a
 * profile can leave its allocations out. */
__attribute__((noinline)) static void mb_spin(void **live, uint64_t *rng)
{
	while (!atomic_load(&go))
		mb_loop(live, rng, 1000);
	__asm__ volatile("" ::: "memory");
}

__attribute__((noinline)) static void mb_work(struct worker *w)
{
	void *live[8] = { 0 };
	uint64_t spin_rng = w->rng ^ 0x5555, bytes;

	if (waiting)
		mb_spin(live, &spin_rng);
	bytes = mb_loop(live, &w->rng, calls);
	for (int k = 0; k < 8; k++) {
		if (live[k])
			sink = *(unsigned char *)live[k];
		free(live[k]);
	}
	w->bytes = bytes;
}

static void *worker_main(void *arg)
{
	mb_work(arg);
	return NULL;
}

int main(int argc, char **argv)
{
	int nthreads = 2, wait = 0, c;
	unsigned seconds = 600;
	struct worker *w;
	uint64_t bytes = 0;
	double t0, t1, c0, c1;

	while ((c = getopt(argc, argv, "t:n:k:ws:")) != -1) {
		switch (c) {
		case 't': nthreads = atoi(optarg); break;
		case 'n': calls = atol(optarg); break;
		case 'k': work = atol(optarg); break;
		case 'w': wait = 1; break;
		case 's': seconds = (unsigned)atoi(optarg); break;
		default:
			fprintf(stderr, "usage: mallocbench [-t THREADS] [-n CALLS] [-w] [-s SECONDS]\n");
			return 2;
		}
	}
	if (nthreads < 1 || calls < 1)
		return 2;
	setvbuf(stdout, NULL, _IOLBF, 0);
	alarm(seconds);
	w = calloc((size_t)nthreads, sizeof(*w));
	if (!w)
		return 2;
	waiting = wait;
	if (wait) {
		sigset_t set;

		sigemptyset(&set);
		sigaddset(&set, SIGUSR1);
		sigprocmask(SIG_BLOCK, &set, NULL);
	}
	t0 = now();
	c0 = cpu_now();
	for (int i = 0; i < nthreads; i++) {
		w[i].rng = 0x9e3779b97f4a7c15ULL * (uint64_t)(i + 1);
		if (pthread_create(&w[i].th, NULL, worker_main, &w[i]))
			return 2;
	}
	if (wait) {
		sigset_t set;
		int sig;

		sigemptyset(&set);
		sigaddset(&set, SIGUSR1);
		printf("mallocbench: pid %d waiting\n", (int)getpid());
		sigwait(&set, &sig);
		t0 = now();
		c0 = cpu_now();
		atomic_store(&go, 1);
	}
	for (int i = 0; i < nthreads; i++) {
		pthread_join(w[i].th, NULL);
		bytes += w[i].bytes;
	}
	t1 = now();
	c1 = cpu_now();
	printf("mallocbench: work %.3f s cpu %.3f s calls %ld calls/s %.0f bytes %llu\n", t1 - t0,
	       c1 - c0, calls * nthreads, (double)(calls * nthreads) / (t1 - t0),
	       (unsigned long long)bytes);
	return 0;
}

/*
 * late_threads - threads that appear after a profiler has attached.
 *
 * main sleeps for DELAY_MS (1000 by default), or until SIGUSR1 (a test
 * sends it once sampling has begun), then starts two named threads,
 * "worker-a" and "worker-b", that spin in worker_a_loop and worker_b_loop
 * until SECONDS have passed since start. A profiler that only looks at the
 * threads alive when it attached sees nothing of them (docs/design.md §1).
 *
 * usage: late_threads SECONDS [DELAY_MS]
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

static volatile sig_atomic_t stop, go;
static volatile uint64_t sink;

static inline __attribute__((always_inline)) uint64_t spin(uint64_t x)
{
	for (int i = 0; i < 100000; i++) {
		x = x * 6364136223846793005ULL + 1442695040888963407ULL;
		__asm__ volatile("" : "+r"(x));
	}
	return x;
}

NOINLINE uint64_t worker_a_loop(uint64_t x)
{
	while (!stop)
		x = spin(x);
	BARRIER();
	return x;
}

NOINLINE uint64_t worker_b_loop(uint64_t x)
{
	while (!stop)
		x = spin(x);
	BARRIER();
	return x;
}

static void *worker_a(void *arg)
{
	pthread_setname_np(pthread_self(), "worker-a");
	sink = worker_a_loop(1);
	BARRIER();
	return arg;
}

static void *worker_b(void *arg)
{
	pthread_setname_np(pthread_self(), "worker-b");
	sink = worker_b_loop(2);
	BARRIER();
	return arg;
}

static void on_usr1(int sig)
{
	(void)sig;
	go = 1;
}

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
	if (argc < 2 || argc > 3 || atoi(argv[1]) <= 0) {
		fprintf(stderr, "usage: %s SECONDS [DELAY_MS]\n", argv[0]);
		return 64;
	}
	long delay_ms = argc > 2 ? atol(argv[2]) : 1000;
	signal(SIGALRM, on_alarm);
	signal(SIGUSR1, on_usr1);
	alarm((unsigned)atoi(argv[1]));

	struct timespec ts = { delay_ms / 1000, (delay_ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) != 0 && !stop && !go)
		;
	if (stop)
		return 0;

	pthread_t ta, tb;
	if (pthread_create(&ta, NULL, worker_a, NULL) != 0 ||
	    pthread_create(&tb, NULL, worker_b, NULL) != 0) {
		perror("pthread_create");
		return 1;
	}
	pthread_join(ta, NULL);
	pthread_join(tb, NULL);
	printf("late_threads: done\n");
	return 0;
}

/*
 * churn.c - creates and joins threads without pause, so a thread dump meets
 * threads that appear and exit while it runs.
 *
 * Usage: churn [SECONDS [PARKED]]  (default 60 s, then SIGALRM ends it).
 * PARKED long-lived threads wait in parked() the whole time, so that a dump
 * of a process with hundreds of threads meets the churn too. Prints
 * "ready PID" on stdout once the first threads run.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#define NOINLINE __attribute__((noinline))

static volatile unsigned long sink;

NOINLINE static void *short_life(void *arg)
{
	/* A little work, then exit: most threads live well under 1 ms. */
	for (unsigned long i = 0; i < 20000; i++)
		sink += i;
	if ((unsigned long)(uintptr_t)arg % 4 == 0) {
		struct timespec ts = { 0, 200000 };
		nanosleep(&ts, NULL);
	}
	return NULL;
}

NOINLINE static void *parked(void *arg)
{
	(void)arg;
	for (;;)
		pause();
	return NULL;
}

int main(int argc, char **argv)
{
	pthread_t th[8];
	pthread_attr_t attr;
	unsigned long round = 0;
	int nparked = argc > 2 ? atoi(argv[2]) : 0;

	alarm(argc > 1 ? (unsigned)atoi(argv[1]) : 60);
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 64 * 1024);
	for (int i = 0; i < nparked; i++)
		if (pthread_create(&th[0], &attr, parked, NULL) != 0)
			return 1;
	pthread_attr_destroy(&attr);
	for (;;) {
		for (int i = 0; i < 8; i++)
			if (pthread_create(&th[i], NULL, short_life,
					   (void *)(uintptr_t)i) != 0)
				return 1;
		if (round++ == 0) {
			printf("ready %d\n", (int)getpid());
			fflush(stdout);
		}
		for (int i = 0; i < 8; i++)
			pthread_join(th[i], NULL);
		/* Keep one core free for the dumper on a 2-core machine. */
		struct timespec ts = { 0, 300000 };
		nanosleep(&ts, NULL);
	}
}

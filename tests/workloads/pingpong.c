/*
 * pingpong - two threads hand a token back and forth through two pipes, so
 * each blocks in read() and is woken by the other: two context switches per
 * hand-off, about 100,000 a second on an idle 2-CPU machine. For measuring
 * what an off-CPU profiler costs a thread that blocks that often.
 *
 * usage: pingpong SECONDS ROUNDS [DELAY_MS]
 *   Does ROUNDS hand-offs (or stops at SECONDS: SIGALRM), then prints
 *   "pingpong ROUNDS rounds work S s" with the time the hand-offs took.
 *   With DELAY_MS, both threads exist and wait that long before the work
 *   starts (and its clock with it): time for a profiler to attach.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static int ab[2], ba[2];
static long rounds;
static volatile sig_atomic_t stop;

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

__attribute__((noinline)) static void pong_wait(char *c)
{
	if (read(ab[0], c, 1) != 1)
		stop = 1;
}

static void *pong(void *arg)
{
	char c;

	(void)arg;
	while (!stop) {
		pong_wait(&c);
		if (stop || write(ba[1], &c, 1) != 1)
			break;
	}
	return NULL;
}

__attribute__((noinline)) static void ping_wait(char *c)
{
	if (read(ba[0], c, 1) != 1)
		stop = 1;
}

/* Wakes both threads, wherever they block. */
static void on_alarm(int sig)
{
	(void)sig;
	stop = 1;
	if (write(ab[1], "x", 1) < 0 || write(ba[1], "x", 1) < 0)
		_exit(1);
}

int main(int argc, char **argv)
{
	pthread_t t;
	long done = 0;
	char c = 'x';

	if (argc < 3 || argc > 4 || atoi(argv[1]) <= 0 || atol(argv[2]) <= 0) {
		fprintf(stderr, "usage: pingpong SECONDS ROUNDS [DELAY_MS]\n");
		return 2;
	}
	rounds = atol(argv[2]);
	if (pipe(ab) < 0 || pipe(ba) < 0)
		return 1;
	signal(SIGALRM, on_alarm);
	alarm((unsigned)atoi(argv[1]));
	pthread_create(&t, NULL, pong, NULL);
	if (argc == 4)
		usleep((useconds_t)atoi(argv[3]) * 1000);
	double t0 = now();
	for (; done < rounds && !stop; done++) {
		if (write(ab[1], &c, 1) != 1)
			break;
		ping_wait(&c);
	}
	double t1 = now();
	stop = 1;
	close(ab[1]);
	pthread_join(t, NULL);
	printf("pingpong %ld rounds work %.3f s\n", done, t1 - t0);
	return done == rounds ? 0 : 1;
}

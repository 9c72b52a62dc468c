/*
 * manythreads.c - N threads, mostly blocked on a condition variable, two
 * of them busy half the time, plus a heartbeat thread that ticks every
 * ~100 us and records the longest gap between ticks: how long the process
 * was paused by whoever looked at it.
 *
 * Usage: manythreads N [SECONDS [GAP_FILE [rt]]]  (default 100 threads,
 * 60 s). SIGUSR2 writes the longest gap in ns to GAP_FILE and starts a new
 * measurement. With "rt" the heartbeat runs SCHED_FIFO (needs root), so
 * that its gaps are the times it was stopped, not the times the busy
 * threads and the observer kept it off both CPUs. Prints "ready PID" on
 * stdout when every thread runs.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define NOINLINE __attribute__((noinline))

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static volatile int started;
static volatile uint64_t sink, max_gap;
static volatile sig_atomic_t report;
static const char *gap_path;

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

NOINLINE static void idle_wait(void)
{
	pthread_mutex_lock(&mu);
	__atomic_add_fetch(&started, 1, __ATOMIC_SEQ_CST);
	for (;;)
		pthread_cond_wait(&cv, &mu);
}

NOINLINE static void busy_work(void)
{
	__atomic_add_fetch(&started, 1, __ATOMIC_SEQ_CST);
	for (;;) {
		for (uint64_t i = 0; i < 300000; i++)
			sink += i ^ (i >> 3);
		struct timespec ts = { 0, 1000000 };
		nanosleep(&ts, NULL);
	}
}

static void *idle_main(void *arg)
{
	(void)arg;
	idle_wait();
	return NULL;
}

static void *busy_main(void *arg)
{
	(void)arg;
	busy_work();
	return NULL;
}

static void on_usr2(int sig)
{
	(void)sig;
	report = 1;
}

static void *heartbeat(void *arg)
{
	uint64_t last = now_ns();
	sigset_t set;
	(void)arg;
	sigemptyset(&set);
	sigaddset(&set, SIGUSR2);
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);
	for (;;) {
		struct timespec ts = { 0, 100000 };
		nanosleep(&ts, NULL);
		uint64_t t = now_ns();
		if (t - last > max_gap)
			max_gap = t - last;
		last = t;
		if (report && gap_path) {
			char buf[32];
			int fd = open(gap_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
			int n = snprintf(buf, sizeof(buf), "%llu\n",
					 (unsigned long long)max_gap);
			if (fd >= 0) {
				if (write(fd, buf, n) < 0) {
				}
				close(fd);
			}
			max_gap = 0;
			report = 0;
			last = now_ns();
		}
	}
	return NULL;
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 100;
	pthread_attr_t attr;
	pthread_t th;
	sigset_t set;

	alarm(argc > 2 ? (unsigned)atoi(argv[2]) : 60);
	gap_path = argc > 3 ? argv[3] : NULL;
	signal(SIGUSR2, on_usr2);
	/* Only the heartbeat thread takes SIGUSR2 (it unblocks it), so its
	 * nanosleep is the one interrupted and the report is prompt. */
	sigemptyset(&set);
	sigaddset(&set, SIGUSR2);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 64 * 1024);
	for (int i = 0; i < n; i++)
		if (pthread_create(&th, &attr, i < 2 ? busy_main : idle_main,
				   NULL) != 0)
			return 1;
	while (__atomic_load_n(&started, __ATOMIC_SEQ_CST) < n) {
		struct timespec ts = { 0, 1000000 };
		nanosleep(&ts, NULL);
	}
	pthread_attr_destroy(&attr);
	pthread_create(&th, NULL, heartbeat, NULL);
	if (argc > 4 && strcmp(argv[4], "rt") == 0) {
		struct sched_param sp = { .sched_priority = 1 };
		int e = pthread_setschedparam(th, SCHED_FIFO, &sp);
		if (e)
			fprintf(stderr, "manythreads: SCHED_FIFO heartbeat: %s\n",
				strerror(e));
	}
	printf("ready %d\n", (int)getpid());
	fflush(stdout);
	for (;;)
		pause();
}

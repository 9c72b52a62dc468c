/*
 * parked.c - threads parked in distinct, known places, for thread dumps:
 *
 *   cond     thread_main > level_a > level_b > park_cond > wait_inlined
 *            (always inlined) > pthread_cond_wait
 *   sleep    ... > park_sleep > nanosleep
 *   pipe     ... > park_pipe > read
 *   busy     ... > park_busy (a loop with no calls, half the time)
 *   handler  ... > park_handler > [signal] > on_usr1 > handler_sleep > nanosleep
 *   clock    ... > park_clock > clock_gettime (vDSO)
 *   heartbeat: ticks every ~100 us, writes the tick count to HEARTBEAT_FILE
 *            every 10 ms, and the longest gap between ticks (ns) to
 *            HEARTBEAT_FILE.gap on SIGUSR2.
 *
 * Usage: parked [SECONDS [HEARTBEAT_FILE]]  (default 60 s, then SIGALRM
 * ends it). Prints "ready PID" on stdout when every thread is parked.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <fcntl.h>
#include <pthread.h>
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
static int pipefd[2];
static volatile int parked_count;
static volatile uint64_t sink;
static const char *hb_path;
static volatile uint64_t hb_max_gap;

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void parked(void)
{
	__atomic_add_fetch(&parked_count, 1, __ATOMIC_SEQ_CST);
}

static inline __attribute__((always_inline)) void wait_inlined(void)
{
	pthread_mutex_lock(&mu);
	for (;;)
		pthread_cond_wait(&cv, &mu);
}

NOINLINE static void park_cond(void)
{
	parked();
	wait_inlined();
}

NOINLINE static void park_sleep(void)
{
	parked();
	for (;;) {
		struct timespec ts = { 100, 0 };
		nanosleep(&ts, NULL);
	}
}

NOINLINE static void park_pipe(void)
{
	char c;
	parked();
	for (;;)
		if (read(pipefd[0], &c, 1) == 0)
			pause();
}

NOINLINE static void park_busy(void)
{
	parked();
	for (;;) {
		/* Half busy, half asleep, so two cores stay usable. */
		for (uint64_t i = 0; i < 1000000; i++)
			sink += i * i;
		struct timespec ts = { 0, 1000000 };
		nanosleep(&ts, NULL);
	}
}

NOINLINE static void handler_sleep(void)
{
	for (;;) {
		struct timespec ts = { 100, 0 };
		nanosleep(&ts, NULL);
	}
}

NOINLINE static void on_usr1(int sig)
{
	(void)sig;
	parked();
	handler_sleep();
}

NOINLINE static void park_handler(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_usr1;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGUSR1, &sa, NULL);
	pthread_kill(pthread_self(), SIGUSR1);
	for (;;)
		pause();
}

NOINLINE static void park_clock(void)
{
	struct timespec ts;
	parked();
	for (;;) {
		for (int i = 0; i < 20000; i++) {
			clock_gettime(CLOCK_MONOTONIC, &ts);
			sink += (uint64_t)ts.tv_nsec;
		}
		struct timespec pause_ts = { 0, 1000000 };
		nanosleep(&pause_ts, NULL);
	}
}

NOINLINE static void level_b(void (*fn)(void))
{
	fn();
	__asm__ volatile("" ::: "memory");
}

NOINLINE static void level_a(void (*fn)(void))
{
	level_b(fn);
	__asm__ volatile("" ::: "memory");
}

static void *thread_main(void *arg)
{
	level_a((void (*)(void))arg);
	return NULL;
}

static void on_usr2(int sig)
{
	(void)sig;
	if (!hb_path)
		return;
	char path[4096], buf[32];
	snprintf(path, sizeof(path), "%s.gap", hb_path);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd >= 0) {
		int n = snprintf(buf, sizeof(buf), "%llu\n",
				 (unsigned long long)hb_max_gap);
		if (write(fd, buf, n) < 0) {
		}
		close(fd);
	}
	hb_max_gap = 0;
}

static void *heartbeat(void *arg)
{
	int fd = open(hb_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	uint64_t count = 0, last = now_ns(), last_write = 0;
	(void)arg;
	for (;;) {
		struct timespec ts = { 0, 100000 };
		nanosleep(&ts, NULL);
		uint64_t t = now_ns();
		if (t - last > hb_max_gap)
			hb_max_gap = t - last;
		last = t;
		count++;
		if (fd >= 0 && t - last_write > 10000000u) {
			char buf[32];
			int n = snprintf(buf, sizeof(buf), "%llu\n",
					 (unsigned long long)count);
			if (pwrite(fd, buf, n, 0) < 0) {
			}
			last_write = t;
		}
	}
	return NULL;
}

int main(int argc, char **argv)
{
	void (*fns[])(void) = { park_cond, park_sleep, park_pipe, park_busy,
				park_handler, park_clock };
	const char *names[] = { "cond", "sleep", "pipe", "busy", "handler",
				"clock" };
	const int n = (int)(sizeof(fns) / sizeof(fns[0]));
	pthread_t th;

	alarm(argc > 1 ? (unsigned)atoi(argv[1]) : 60);
	hb_path = argc > 2 ? argv[2] : NULL;
	if (pipe(pipefd) < 0)
		return 1;
	signal(SIGUSR2, on_usr2);
	for (int i = 0; i < n; i++) {
		if (pthread_create(&th, NULL, thread_main, (void *)fns[i]) != 0)
			return 1;
		pthread_setname_np(th, names[i]);
	}
	if (hb_path) {
		pthread_create(&th, NULL, heartbeat, NULL);
		pthread_setname_np(th, "heartbeat");
	}
	while (__atomic_load_n(&parked_count, __ATOMIC_SEQ_CST) < n) {
		struct timespec ts = { 0, 1000000 };
		nanosleep(&ts, NULL);
	}
	printf("ready %d\n", (int)getpid());
	fflush(stdout);
	for (;;)
		pause();
}

/*
 * waits - threads that wait in known ways, for off-CPU profiles:
 *
 *   sleeper   nanosleep 8 ms in sleeper_wait, after 2 ms of work
 *   holder    holds the mutex M for 6 ms (sleeping in holder_hold), then
 *             sleeps 3 ms in holder_rest
 *   locker    takes M in locker_wait (it waits for the holder), releases it
 *             at once, sleeps 1 ms in locker_rest
 *   condwait  waits on a condition variable in cond_wait_fn; main signals
 *             it every 10 ms
 *   reader    reads a pipe in pipe_read_fn; main writes a byte every 10 ms
 *   main      sleeps 10 ms in main_tick between its signal and its write
 *
 * Every wait is timed with CLOCK_MONOTONIC by the thread itself and added to
 * its function's total. SIGUSR1 makes main print the totals so far, in ns:
 *   waits sleeper_wait=N holder_hold=N holder_rest=N locker_wait=N
 *         locker_rest=N cond_wait_fn=N pipe_read_fn=N main_tick=N
 * so that a test can take the difference over its recording window and
 * compare a profile's shares against what the process measured of itself.
 *
 * usage: waits SECONDS    (ends by itself: SIGALRM)
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define NOINLINE __attribute__((noinline))
#define BARRIER() __asm__ volatile("" ::: "memory")

enum { W_SLEEP, W_HOLD, W_HREST, W_LOCK, W_LREST, W_COND, W_PIPE, W_MAIN, W_N };
static const char *const names[W_N] = {
	"sleeper_wait", "holder_hold", "holder_rest", "locker_wait",
	"locker_rest", "cond_wait_fn", "pipe_read_fn", "main_tick",
};
static _Atomic uint64_t total[W_N];

static volatile sig_atomic_t stop, report;
static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t cm = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static unsigned cond_seq;
static int pipefd[2];

static uint64_t now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static void nap(long ns)
{
	struct timespec ts = { 0, ns };

	nanosleep(&ts, NULL);
}

static void add(int w, uint64_t t0)
{
	atomic_fetch_add(&total[w], now() - t0);
}

NOINLINE static void sleeper_work(void)
{
	volatile uint64_t x = 1;
	uint64_t end = now() + 2000000;

	while (now() < end)
		for (int i = 0; i < 1000; i++)
			x = x * 6364136223846793005ULL + 1;
}

NOINLINE static void sleeper_wait(void) { uint64_t t = now(); nap(8000000); add(W_SLEEP, t); BARRIER(); }
NOINLINE static void holder_hold(void) { uint64_t t = now(); nap(6000000); add(W_HOLD, t); BARRIER(); }
NOINLINE static void holder_rest(void) { uint64_t t = now(); nap(3000000); add(W_HREST, t); BARRIER(); }
NOINLINE static void locker_rest(void) { uint64_t t = now(); nap(1000000); add(W_LREST, t); BARRIER(); }
NOINLINE static void main_tick(void) { uint64_t t = now(); nap(10000000); add(W_MAIN, t); BARRIER(); }

NOINLINE static void locker_wait(void)
{
	uint64_t t = now();

	pthread_mutex_lock(&m);
	add(W_LOCK, t);
	pthread_mutex_unlock(&m);
	BARRIER();
}

NOINLINE static void cond_wait_fn(void)
{
	uint64_t t = now();

	pthread_mutex_lock(&cm);
	unsigned seq = cond_seq;
	while (seq == cond_seq && !stop)
		pthread_cond_wait(&cv, &cm);
	pthread_mutex_unlock(&cm);
	add(W_COND, t);
	BARRIER();
}

NOINLINE static void pipe_read_fn(void)
{
	uint64_t t = now();
	char c;

	if (read(pipefd[0], &c, 1) <= 0)
		stop = 1;
	add(W_PIPE, t);
	BARRIER();
}

static void *sleeper(void *a) { (void)a; while (!stop) { sleeper_work(); sleeper_wait(); } return NULL; }
static void *locker(void *a) { (void)a; while (!stop) { locker_wait(); locker_rest(); } return NULL; }
static void *condwait(void *a) { (void)a; while (!stop) cond_wait_fn(); return NULL; }
static void *reader(void *a) { (void)a; while (!stop) pipe_read_fn(); return NULL; }

static void *holder(void *a)
{
	(void)a;
	while (!stop) {
		pthread_mutex_lock(&m);
		holder_hold();
		pthread_mutex_unlock(&m);
		holder_rest();
	}
	return NULL;
}

static void on_alarm(int sig) { (void)sig; stop = 1; }
static void on_usr1(int sig) { (void)sig; report = 1; }

static void print_totals(void)
{
	printf("waits");
	for (int i = 0; i < W_N; i++)
		printf(" %s=%llu", names[i], (unsigned long long)atomic_load(&total[i]));
	printf("\n");
	fflush(stdout);
}

int main(int argc, char **argv)
{
	static void *(*const fns[])(void *) = { sleeper, holder, locker, condwait, reader };
	static const char *const tnames[] = { "sleeper", "holder", "locker", "condwait", "reader" };
	pthread_t t[5];
	struct sigaction sa;

	if (argc != 2 || atoi(argv[1]) <= 0) {
		fprintf(stderr, "usage: waits SECONDS\n");
		return 2;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_alarm;
	sigaction(SIGALRM, &sa, NULL);
	sa.sa_handler = on_usr1;
	sigaction(SIGUSR1, &sa, NULL);
	if (pipe(pipefd) < 0)
		return 1;
	/* Only main takes the signals: a wait interrupted elsewhere would
	 * end early (EINTR) and change the designed shares. */
	sigset_t set, old;
	sigemptyset(&set);
	sigaddset(&set, SIGALRM);
	sigaddset(&set, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &set, &old);
	for (int i = 0; i < 5; i++) {
		pthread_create(&t[i], NULL, fns[i], NULL);
		pthread_setname_np(t[i], tnames[i]);
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	alarm((unsigned)atoi(argv[1]));
	while (!stop) {
		/* Signalled after the unlock: the woken waiter then finds
		 * the mutex free, and its wait stays a condition's. */
		pthread_mutex_lock(&cm);
		cond_seq++;
		pthread_mutex_unlock(&cm);
		pthread_cond_signal(&cv);
		if (write(pipefd[1], "x", 1) != 1)
			break;
		main_tick();
		if (report) {
			report = 0;
			print_totals();
		}
	}
	pthread_mutex_lock(&cm);
	cond_seq++;
	pthread_cond_broadcast(&cv);
	pthread_mutex_unlock(&cm);
	close(pipefd[1]);
	for (int i = 0; i < 5; i++)
		pthread_join(t[i], NULL);
	print_totals();
	return 0;
}

/*
 * dstate.c - one thread stuck in uninterruptible sleep (state D) for a
 * known time, beside threads a dump must stop and let go at once:
 *
 *   vforker    dstate_vfork > vfork: the child sleeps D_SECONDS, then
 *              _exit(0); until then the parent thread waits in the kernel
 *              (wait_for_vfork_done, TASK_KILLABLE: /proc shows 'D') and
 *              no PTRACE_INTERRUPT can stop it. Killing the child (a test
 *              done with the D state) ends the wait at once.
 *   parked     NPARKED (default 3) threads in dstate_park > pthread_cond_wait
 *   heartbeat  dstate_heartbeat: an ordinary (SCHED_OTHER) thread that
 *              ticks every ~1 ms and keeps the longest gap between ticks;
 *              SIGUSR2 writes it (ns) to GAP_FILE and starts a new
 *              measurement. A dump that holds the process stopped shows
 *              as a gap that long.
 *   main       dstate_main_wait > pthread_join of the vforker
 *
 * Usage: dstate D_SECONDS GAP_FILE [SECONDS [NPARKED]]  (lifetime default
 * 60 s, then SIGALRM ends it). Prints "ready PID VFORKER_TID" when every
 * thread runs and the vfork is about to be made (the child is then listed
 * in /proc/PID/task/VFORKER_TID/children), and "vfork returned after S s"
 * when the child has ended (slept, or was killed) and the vforker runs
 * again; exits 0 then (3 if vfork failed). A vforker left stopped never
 * returns: the alarm ends the process with SIGALRM instead.
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
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define NOINLINE __attribute__((noinline))

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int ready_count;
static volatile pid_t vforker_tid;
static volatile uint64_t max_gap;
static volatile sig_atomic_t report;
static const char *gap_path;
static unsigned d_seconds;
static int nparked = 3;

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void ready_one(void)
{
	pthread_mutex_lock(&mu);
	ready_count++;
	pthread_cond_broadcast(&cv);
	pthread_mutex_unlock(&mu);
}

NOINLINE static void dstate_park(void)
{
	pthread_mutex_lock(&mu);
	ready_count++;
	pthread_cond_broadcast(&cv);
	for (;;)
		pthread_cond_wait(&cv, &mu);
}

static void *park_main(void *arg)
{
	(void)arg;
	pthread_setname_np(pthread_self(), "parked");
	dstate_park();
	return NULL;
}

static void on_usr2(int sig)
{
	(void)sig;
	report = 1;
}

static void write_gap(uint64_t gap)
{
	char buf[32];
	int n = snprintf(buf, sizeof(buf), "%llu\n", (unsigned long long)gap);
	int fd = open(gap_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		return;
	if (write(fd, buf, (size_t)n) < 0) {
		/* the test sees an empty file */
	}
	close(fd);
}

NOINLINE static void dstate_heartbeat(void)
{
	uint64_t last = now_ns();

	ready_one();
	for (;;) {
		struct timespec ts = { 0, 1000000 };
		nanosleep(&ts, NULL);
		uint64_t t = now_ns();
		if (t - last > max_gap)
			max_gap = t - last;
		last = t;
		if (report) {
			write_gap(max_gap);
			max_gap = 0;
			report = 0;
			last = now_ns();
		}
	}
}

static void *heartbeat_main(void *arg)
{
	sigset_t set;
	(void)arg;
	pthread_setname_np(pthread_self(), "heartbeat");
	/* Only this thread takes SIGUSR2: its nanosleep is the one cut
	 * short, so the report is prompt. */
	sigemptyset(&set);
	sigaddset(&set, SIGUSR2);
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);
	dstate_heartbeat();
	return NULL;
}

/* Returns 0 when the child ended: slept and exited 0, or was killed. */
NOINLINE static int dstate_vfork(void)
{
	struct timespec ts = { (time_t)d_seconds, 0 };
	uint64_t t0 = now_ns();
	int status;
	pid_t child = vfork();

	if (child == 0) {
		/* The child shares our memory and stack until it exits: only
		 * system calls here. It dies with its parent thread. */
		syscall(SYS_prctl, PR_SET_PDEATHSIG, SIGKILL, 0L, 0L, 0L);
		syscall(SYS_nanosleep, &ts, NULL);
		_exit(0);
	}
	if (child < 0) {
		perror("dstate: vfork");
		return -1;
	}
	double took = (double)(now_ns() - t0) / 1e9;
	if (waitpid(child, &status, 0) != child ||
	    (WIFEXITED(status) && WEXITSTATUS(status) != 0)) {
		fprintf(stderr, "dstate: the vfork child failed\n");
		return -1;
	}
	printf("vfork returned after %.3f s\n", took);
	fflush(stdout);
	return 0;
}

static void *vforker_main(void *arg)
{
	(void)arg;
	pthread_setname_np(pthread_self(), "vforker");
	vforker_tid = (pid_t)syscall(SYS_gettid);
	/* Start only once the others run, so that "ready" means every
	 * thread of the dump exists. */
	pthread_mutex_lock(&mu);
	while (ready_count < nparked + 1)
		pthread_cond_wait(&cv, &mu);
	pthread_mutex_unlock(&mu);
	printf("ready %d %d\n", (int)getpid(), (int)vforker_tid);
	fflush(stdout);
	return (void *)(intptr_t)dstate_vfork();
}

NOINLINE static int dstate_main_wait(pthread_t th)
{
	void *ret = NULL;
	pthread_join(th, &ret);
	return (int)(intptr_t)ret;
}

int main(int argc, char **argv)
{
	pthread_t th, vf;
	sigset_t set;

	if (argc < 3) {
		fprintf(stderr, "usage: dstate D_SECONDS GAP_FILE [SECONDS [NPARKED]]\n");
		return 2;
	}
	d_seconds = (unsigned)atoi(argv[1]);
	gap_path = argv[2];
	alarm(argc > 3 ? (unsigned)atoi(argv[3]) : 60);
	if (argc > 4)
		nparked = atoi(argv[4]);
	signal(SIGUSR2, on_usr2);
	sigemptyset(&set);
	sigaddset(&set, SIGUSR2);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	pthread_attr_t attr;
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 64 * 1024);
	for (int i = 0; i < nparked; i++)
		if (pthread_create(&th, &attr, park_main, NULL) != 0)
			return 3;
	pthread_attr_destroy(&attr);
	if (pthread_create(&th, NULL, heartbeat_main, NULL) != 0 ||
	    pthread_create(&vf, NULL, vforker_main, NULL) != 0)
		return 3;
	return dstate_main_wait(vf) == 0 ? 0 : 3;
}

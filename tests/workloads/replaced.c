/*
 * replaced.c - a process whose time is spent in a shared library loaded
 * from a path the tests then delete or rename another file over (and the
 * same for this program's own file), as a package upgrade does under a
 * running daemon. The library is tests/workloads/shlib/replaced_lib.c.
 *
 * Usage: replaced LIBRARY [SECONDS [GO_FILE]]  (default 60 s, then SIGALRM
 * ends it). dlopens LIBRARY, starts two threads parked in it
 * (rl_park_thread > rl_park_a > rl_park_b > rl_park_c > nanosleep), prints
 * "ready PID", then spins in it on the main thread (main > rl_spin_a >
 * rl_spin_b > rl_spin_c). With GO_FILE, main first waits in wait_go (this
 * program's code, not the library's) until GO_FILE exists.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static volatile unsigned long sink;

__attribute__((noinline)) static void wait_go(const char *go)
{
	struct stat st;

	while (stat(go, &st) != 0)
		for (unsigned long i = 0; i < 1000000; i++)
			sink += i;
}

int main(int argc, char **argv)
{
	unsigned seconds = argc > 2 ? (unsigned)atoi(argv[2]) : 60;
	void *(*park)(void *);
	void (*spin)(void);
	void *h;

	if (argc < 2) {
		fprintf(stderr, "usage: replaced LIBRARY [SECONDS [GO_FILE]]\n");
		return 2;
	}
	alarm(seconds ? seconds : 60);
	h = dlopen(argv[1], RTLD_NOW);
	if (!h) {
		fprintf(stderr, "replaced: %s\n", dlerror());
		return 1;
	}
	*(void **)&park = dlsym(h, "rl_park_thread");
	*(void **)&spin = dlsym(h, "rl_spin_a");
	if (!park || !spin) {
		fprintf(stderr, "replaced: %s lacks rl_park_thread or rl_spin_a\n",
			argv[1]);
		return 1;
	}
	for (int i = 0; i < 2; i++) {
		pthread_t t;
		if (pthread_create(&t, NULL, park, NULL) != 0) {
			perror("pthread_create");
			return 1;
		}
		pthread_setname_np(t, i ? "park2" : "park1");
	}
	/* Both threads reach nanosleep in a few microseconds; give them a
	 * moment before saying so. */
	struct timespec ts = { 0, 50000000 };
	nanosleep(&ts, NULL);
	printf("ready %d\n", (int)getpid());
	fflush(stdout);
	if (argc > 3)
		wait_go(argv[3]);
	spin();
	return 0;
}

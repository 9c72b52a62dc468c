/*
 * leader_exit SECONDS - the main thread starts two threads and calls
 * pthread_exit: the process lives on with a zombie leader (state Z in
 * /proc/PID/stat) while leader_spin burns CPU for SECONDS and leader_park
 * waits; then the process exits 0. alarm(SECONDS + 2) ends it if it hangs.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static double seconds;
static volatile double sink;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t never = PTHREAD_COND_INITIALIZER;

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

__attribute__((noinline)) static double leader_spin_leaf(double x)
{
	for (int i = 0; i < 20000; i++)
		x = x * 1.0000001 + 1e-9;
	return x;
}

static void *leader_spin(void *arg)
{
	double end = now() + seconds, x = 1.0;

	(void)arg;
	while (now() < end)
		x = leader_spin_leaf(x);
	sink = x;
	exit(0);
}

static void *leader_park(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&lock);
	for (;;)
		pthread_cond_wait(&never, &lock);
	return NULL;
}

int main(int argc, char **argv)
{
	pthread_t t;

	seconds = argc > 1 ? atof(argv[1]) : 10.0;
	if (seconds <= 0) {
		fprintf(stderr, "usage: %s SECONDS\n", argv[0]);
		return 2;
	}
	alarm((unsigned)seconds + 2);
	if (pthread_create(&t, NULL, leader_park, NULL) != 0 ||
	    pthread_create(&t, NULL, leader_spin, NULL) != 0) {
		perror("pthread_create");
		return 1;
	}
	pthread_exit(NULL);
}

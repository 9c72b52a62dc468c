/*
 * server_target.c - a process to serve /debug/pprof/ for: N parked threads
 * in two kinds of waits, one thread burning half a CPU in a known function,
 * and a main thread writing a heartbeat counter to a file every 20 ms so a
 * test can tell that serving never stalls the target.
 *
 * usage: server_target NTHREADS SECONDS HEARTBEAT_FILE [ARGS...]
 * Ends by itself after SECONDS (alarm: the default SIGALRM action kills).
 * Extra ARGS are ignored: tests use them to check /debug/pprof/cmdline.
 * SERVER_TARGET_PAUSE_MS in the environment: the burner's pause between
 * its 5 ms bursts (default 5: half a CPU); tests that profile no CPU set
 * it higher, to leave a loaded machine's CPU to the others.
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define NOINLINE __attribute__((noinline))

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t never = PTHREAD_COND_INITIALIZER;
static volatile unsigned long sink;

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) != 0)
		;
}

NOINLINE static void server_target_wait_cond(void)
{
	pthread_mutex_lock(&lock);
	for (;;)
		pthread_cond_wait(&never, &lock);
}

NOINLINE static void server_target_wait_sleep(void)
{
	for (;;)
		sleep_ms(1000);
}

static void *parked(void *arg)
{
	if ((long)arg % 2)
		server_target_wait_cond();
	else
		server_target_wait_sleep();
	return NULL;
}

NOINLINE static void server_target_burn(void)
{
	struct timespec a, b;
	clock_gettime(CLOCK_MONOTONIC, &a);
	do {
		for (int i = 0; i < 10000; i++)
			sink = sink * 6364136223846793005UL + 1442695040888963407UL;
		clock_gettime(CLOCK_MONOTONIC, &b);
	} while ((b.tv_sec - a.tv_sec) * 1000000000L + (b.tv_nsec - a.tv_nsec) < 5000000L);
}

static long burn_pause_ms = 5;

static void *burner(void *arg)
{
	for (;;) {
		server_target_burn();
		sleep_ms(burn_pause_ms);
	}
	return NULL;
}

NOINLINE static void server_target_heartbeat(int fd)
{
	char buf[32];
	for (unsigned long n = 1;; n++) {
		int len = snprintf(buf, sizeof(buf), "%20lu\n", n);
		if (pwrite(fd, buf, (size_t)len, 0) != len)
			exit(3);
		sleep_ms(20);
	}
}

int main(int argc, char **argv)
{
	if (argc < 4) {
		fprintf(stderr, "usage: %s NTHREADS SECONDS HEARTBEAT_FILE [ARGS...]\n", argv[0]);
		return 64;
	}
	long n = atol(argv[1]);
	const char *pause = getenv("SERVER_TARGET_PAUSE_MS");
	if (pause && atol(pause) > 0)
		burn_pause_ms = atol(pause);
	alarm((unsigned)atoi(argv[2]));
	int fd = open(argv[3], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		perror(argv[3]);
		return 2;
	}
	pthread_attr_t attr;
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 64 * 1024);
	pthread_t t;
	if (pthread_create(&t, &attr, burner, NULL) != 0)
		return 2;
	for (long i = 0; i < n; i++)
		if (pthread_create(&t, &attr, parked, (void *)i) != 0)
			return 2;
	pthread_attr_destroy(&attr);
	server_target_heartbeat(fd);
	return 0;
}

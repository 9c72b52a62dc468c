/*
 * heapkeep - a target for the heap and allocs profiles' CLI and serve tests.
 *
 *   heapkeep SECONDS
 *     churn_alloc (a thread): 4 KiB blocks allocated and freed at once,
 *     about 100 every millisecond; hoard_alloc (main): a 64 KiB block
 *     every 10 ms, kept to the end. Every block is filled with a pattern
 *     checked when it is freed. Prints "ready" once running and, at the
 *     end (alarm after SECONDS, or SIGTERM/SIGINT),
 *       churned=BYTES hoarded=BYTES bad=N
 *     exiting 0 only when no block was found changed (bad=0).
 */
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define CHURN_SIZE 4096
#define HOARD_SIZE 65536
#define MAX_HOARD 8192

static volatile sig_atomic_t stop;
static unsigned long bad;
static uint64_t churned, hoarded;

static void on_stop(int sig)
{
	(void)sig;
	stop = 1;
}

static void fill(unsigned char *p, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i += 64)
		p[i] = (unsigned char)(seed + i / 64);
}

static int check(const unsigned char *p, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i += 64)
		if (p[i] != (unsigned char)(seed + i / 64))
			return 1;
	return 0;
}

/* The empty asm after the call keeps it a call (not a jump to malloc):
 * these functions are then the callers the profile names. */
static void __attribute__((noinline)) *churn_alloc(void)
{
	void *p = malloc(CHURN_SIZE);
	__asm__ volatile("" : : "r"(p) : "memory");
	return p;
}

static void __attribute__((noinline)) *hoard_alloc(void)
{
	void *p = malloc(HOARD_SIZE);
	__asm__ volatile("" : : "r"(p) : "memory");
	return p;
}

static void *churn(void *arg)
{
	unsigned long local_bad = 0;
	unsigned seed = 0;

	(void)arg;
	while (!stop) {
		for (int i = 0; i < 100; i++, seed++) {
			unsigned char *p = churn_alloc();
			if (!p)
				abort();
			fill(p, CHURN_SIZE, seed);
			local_bad += check(p, CHURN_SIZE, seed);
			free(p);
			churned += CHURN_SIZE;
		}
		struct timespec ts = { 0, 1000000 };
		nanosleep(&ts, NULL);
	}
	__atomic_fetch_add(&bad, local_bad, __ATOMIC_RELAXED);
	return NULL;
}

int main(int argc, char **argv)
{
	static unsigned char *kept[MAX_HOARD];
	unsigned n = 0;
	pthread_t t;

	if (argc != 2) {
		fprintf(stderr, "usage: heapkeep SECONDS\n");
		return 2;
	}
	signal(SIGALRM, on_stop);
	signal(SIGTERM, on_stop);
	signal(SIGINT, on_stop);
	alarm((unsigned)atoi(argv[1]));
	if (pthread_create(&t, NULL, churn, NULL) != 0)
		return 1;
	printf("ready\n");
	fflush(stdout);
	while (!stop) {
		if (n < MAX_HOARD) {
			kept[n] = hoard_alloc();
			if (!kept[n])
				abort();
			fill(kept[n], HOARD_SIZE, n);
			hoarded += HOARD_SIZE;
			n++;
		}
		struct timespec ts = { 0, 10000000 };
		nanosleep(&ts, NULL);
	}
	pthread_join(t, NULL);
	for (unsigned i = 0; i < n; i++) {
		bad += check(kept[i], HOARD_SIZE, i);
		free(kept[i]);
	}
	printf("churned=%llu hoarded=%llu bad=%lu\n", (unsigned long long)churned,
	       (unsigned long long)hoarded, bad);
	return bad ? 1 : 0;
}

/*
 * qsort_memcpy - time inside libc, reached two ways that frame-pointer
 * callchains get wrong on Debian (docs/design.md §2):
 *
 *   main -> sort_phase -> qsort (libc, no frame pointers) -> cmp_ints
 *   main -> copy_phase -> memcpy (libc's frameless __memmove_avx_* leaf)
 *
 * Each round sorts a freshly shuffled array and copies a large buffer a few
 * times, roughly half of the time each. A correct unwinder keeps main at the
 * root of nearly every such sample.
 *
 * usage: qsort_memcpy SECONDS
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NOINLINE __attribute__((noinline))
#define BARRIER() __asm__ volatile("" ::: "memory")

#define NINTS (64 * 1024)
#define COPY_BYTES (4u << 20)
#define COPIES 32

static volatile sig_atomic_t stop;
static int ints[NINTS];
static char *src, *dst;
static volatile size_t copy_bytes = COPY_BYTES;

NOINLINE int cmp_ints(const void *pa, const void *pb)
{
	int x = *(const int *)pa, y = *(const int *)pb;

	return (x > y) - (x < y);
}

NOINLINE void sort_phase(uint32_t *seed)
{
	uint32_t s = *seed;

	for (int i = 0; i < NINTS; i++) {
		s = s * 1103515245u + 12345u;
		ints[i] = (int)(s >> 1);
	}
	*seed = s;
	qsort(ints, NINTS, sizeof(ints[0]), cmp_ints);
	BARRIER();
}

NOINLINE void copy_phase(void)
{
	for (int i = 0; i < COPIES; i++) {
		/* volatile size: a real call to libc, not an inlined copy */
		memcpy(dst, src, copy_bytes);
		BARRIER();
		src[i] = dst[i + 1];
	}
	BARRIER();
}

static void on_alarm(int sig)
{
	(void)sig;
	if (stop)
		_exit(3);
	stop = 1;
	alarm(2);
}

int main(int argc, char **argv)
{
	if (argc != 2 || atoi(argv[1]) <= 0) {
		fprintf(stderr, "usage: %s SECONDS\n", argv[0]);
		return 64;
	}
	signal(SIGALRM, on_alarm);
	alarm((unsigned)atoi(argv[1]));

	src = malloc(COPY_BYTES);
	dst = malloc(COPY_BYTES);
	if (!src || !dst) {
		perror("malloc");
		return 1;
	}
	/* touch every page now, so copies do not fault later */
	memset(src, 1, COPY_BYTES);
	memset(dst, 2, COPY_BYTES);

	uint32_t seed = 1;
	unsigned long rounds = 0;
	while (!stop) {
		sort_phase(&seed);
		copy_phase();
		rounds++;
	}
	printf("qsort_memcpy: %lu rounds, %d %d\n", rounds, ints[0], dst[7]);
	free(src);
	free(dst);
	return 0;
}

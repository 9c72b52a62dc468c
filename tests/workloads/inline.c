/*
 * inline.c - a known call chain with an always-inlined leaf, for checking
 * inline frames and DWARF unwinding: main -> outer -> middle -> hot, and hot
 * does its work in inl_mix(), which the compiler must inline into hot.
 *
 * Usage: inline_fp|inline_nofp [SECONDS]   (default 10; alarm() ends it
 * anyway a few seconds later, so no test can leave it spinning.)
 */
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static volatile uint64_t sink;

static inline __attribute__((always_inline)) uint64_t inl_mix(uint64_t x)
{
	for (int i = 0; i < 1000; i++)
		x = x * 6364136223846793005ULL + 1442695040888963407ULL; /* INL_MIX_LINE */
	return x;
}

__attribute__((noinline)) void hot(uint64_t seed)
{
	sink = inl_mix(seed ^ sink);	/* INL_CALL_LINE */
	__asm__ volatile("" ::: "memory");	/* no tail call */
}

__attribute__((noinline)) void middle(uint64_t seed)
{
	hot(seed + 1);
	__asm__ volatile("" ::: "memory");
}

__attribute__((noinline)) void outer(uint64_t seed)
{
	middle(seed * 3);
	__asm__ volatile("" ::: "memory");
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	double seconds = argc > 1 ? atof(argv[1]) : 10;
	if (seconds <= 0)
		seconds = 10;
	alarm((unsigned)seconds + 5);
	double end = now() + seconds;
	uint64_t i = 0;
	while (now() < end) {
		for (int k = 0; k < 100; k++)
			outer(i++);
	}
	return 0;
}

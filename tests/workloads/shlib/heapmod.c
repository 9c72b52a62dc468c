/*
 * libheapmod.so - the module heapmix (tests/workloads/heapmix.c) loads with
 * dlopen while it runs: heapmod_work allocates its own share of the bytes
 * with the module's own calls to malloc and free (through the module's
 * PLT and GOT), so that a heap profiler must hook a module loaded after
 * it attached to see them.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if defined(__clang__)
#define HM_FN __attribute__((noinline, used))
#else
#define HM_FN __attribute__((noinline, noipa, used))
#endif

uint64_t heapmod_work(uint64_t *rng, size_t quota, uint64_t *bytes, uint64_t *errors);

static uint64_t mod_rand(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 0x2545f4914f6cdd1dULL;
}

HM_FN uint64_t heapmod_work(uint64_t *rng, size_t quota, uint64_t *bytes, uint64_t *errors)
{
	uint64_t done = 0, sum = 0;

	while (done < quota) {
		size_t n = 16 + mod_rand(rng) % 2048;
		unsigned char v = (unsigned char)mod_rand(rng);
		unsigned char *p = malloc(n);

		if (!p)
			abort();
		memset(p, v, n);
		for (size_t i = 0; i < n; i += 64) {
			if (p[i] != v)
				(*errors)++;
			sum = sum * 31 + p[i] + i;
		}
		free(p);
		done += n;
	}
	*bytes += done;
	return sum;
}

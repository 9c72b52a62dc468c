// The C++ part of heapmix (tests/workloads/heapmix.c): blocks allocated
// with new[] (libstdc++'s operator new, which calls malloc through its own
// PLT) and deleted at once, 15% of a round's bytes.
#include <cstddef>
#include <cstdint>

extern "C" {
uint64_t hm_rand(uint64_t *s);
void hm_fill(void *p, size_t n, uint64_t seed);
uint64_t hm_check(const void *p, size_t n, uint64_t seed, uint64_t *errors);
uint64_t hm_cxx_new(uint64_t *rng, size_t quota, uint64_t *bytes, uint64_t *errors);
}

#if defined(__clang__)
#define HM_FN __attribute__((noinline, used))
#else
#define HM_FN __attribute__((noinline, noipa, used))
#endif

extern "C" HM_FN uint64_t hm_cxx_new(uint64_t *rng, size_t quota, uint64_t *bytes,
				     uint64_t *errors)
{
	uint64_t done = 0, sum = 0;

	while (done < quota) {
		size_t n = 24 + hm_rand(rng) % 3000;
		uint64_t seed = hm_rand(rng);
		char *p = new char[n];

		hm_fill(p, n, seed);
		sum = sum * 31 + hm_check(p, n, seed, errors);
		delete[] p;
		done += n;
	}
	*bytes += done;
	return sum;
}

/*
 * hash.h - the two hash functions the interning tables share: a 64-bit
 * mixer for integer keys (addresses differ in their low bits only, so they
 * must be spread) and FNV-1a for bytes.
 */
#ifndef CPROF_HASH_H
#define CPROF_HASH_H

#include <stddef.h>
#include <stdint.h>

/* splitmix64's finalizer: every input bit reaches every output bit. */
static inline uint64_t hash_mix64(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	x ^= x >> 31;
	return x;
}

/* FNV-1a over n bytes (unmixed: mix it for a power-of-two table). */
static inline uint64_t hash_fnv1a(const void *data, size_t n)
{
	const unsigned char *p = data;
	uint64_t h = 0xcbf29ce484222325ULL;
	for (size_t i = 0; i < n; i++) {
		h ^= p[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

#endif

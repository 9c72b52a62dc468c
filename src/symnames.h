/*
 * symnames.h - a bounded cache of function names by address, in front of a
 * symbolizer, for lookups whose addresses clients choose
 * (/debug/pprof/symbol): at most cap names are kept, the least recently
 * used one goes first, and addresses that name nothing are not kept at
 * all, so neither a long scrape nor a client posting random addresses
 * makes it grow (docs/design.md §6.9).
 *
 * Not thread-safe: the caller serializes it with its symbolizer.
 */
#ifndef CPROF_SYMNAMES_H
#define CPROF_SYMNAMES_H

#include <stddef.h>
#include <stdint.h>

struct symbolizer;
struct symnames;

/* A cache of at most cap names (cap >= 1). NULL on ENOMEM. */
struct symnames *symnames_new(size_t cap);
void symnames_free(struct symnames *c);

/* The name of the function at addr (symbolizer_name_uncached), from the
 * cache when it holds addr. NULL when nothing is there: not cached. */
const char *symnames_get(struct symnames *c, struct symbolizer *s,
			 uint64_t addr);

/* Names held, and lookups answered from the cache so far. */
size_t symnames_count(const struct symnames *c);
size_t symnames_hits(const struct symnames *c);

/* Forgets every name (modules were unloaded: an address may now be
 * another function's). */
void symnames_clear(struct symnames *c);

#endif

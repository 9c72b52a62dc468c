/*
 * heapprof.h - the heap and allocs profiles (Go's shape) from sampled
 * allocations whose stacks are already profile locations.
 *
 * A recording (record.c) unwinds and symbolizes each struct heap_sample
 * into location ids of its profile and hands them here with the block's
 * size, address and live-set id. heapprof keeps one record per (stack,
 * size, calls) - Go's runtime keeps one bucket per stack and size - with
 * the number of samples taken there, and every sampled block that may
 * still be in use. "In use" is decided when asked (heapprof_update): a
 * block counts while the live set still holds it (heapring_is_live for
 * the injected sampler); a block found freed is forgotten, since a freed
 * block never comes back under the same id.
 *
 * The values are Go's (runtime/pprof protomem.go, docs/design.md §12.3):
 * sample types alloc_objects/count, alloc_space/bytes, inuse_objects/count,
 * inuse_space/bytes; period type space/bytes, period = the rate; samples of
 * the Poisson sampler (calls == 0) scaled as scaleHeapSample does, those
 * taken one call in N (calls == N) counted N times; a numeric label
 * "bytes" = the object size.
 *
 * Pure: no I/O but the FILE the text is written to; nothing printed.
 */
#ifndef CPROF_HEAPPROF_H
#define CPROF_HEAPPROF_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include <stdio.h>

#include "profile.h"

enum heapprof_kind {
	HEAPPROF_HEAP,		/* default sample type inuse_space */
	HEAPPROF_ALLOCS,	/* default sample type alloc_space */
};

struct heapprof;

/* Whether the sampled block at addr, sample id, is still allocated. */
typedef bool (*heapprof_live_fn)(void *arg, uint64_t addr, uint64_t id);

/* A new, empty set of records sampled at rate bytes (the mean of the
 * Poisson sampler; the period of the profile). NULL on ENOMEM. */
struct heapprof *heapprof_new(uint64_t rate);
void heapprof_free(struct heapprof *hp);

/* One sampled allocation: its stack (nlocs location ids of the profile the
 * caller later passes to heapprof_profile, leaf first: the function that
 * called the allocator), size in bytes, calls as heap_sample.calls (0:
 * Poisson by bytes, N: one call in N), and the block (addr, id; id 0:
 * never in use, the live set does not track it). Returns 0 or -ENOMEM. */
int heapprof_add(struct heapprof *hp, const uint64_t *locs, size_t nlocs,
		 uint64_t size, uint64_t calls, uint64_t addr, uint64_t id);

/* Decides which kept blocks are still in use (live(arg, addr, id)) and
 * forgets the others. The in-use values of the next heapprof_profile and
 * heapprof_text are those found here; before any update, nothing is in
 * use. */
void heapprof_update(struct heapprof *hp, heapprof_live_fn live, void *arg);

/* Go's scaleHeapSample: count samples of size bytes in all, taken with a
 * Poisson process of mean rate bytes, as unbiased estimates of the objects
 * and bytes allocated. */
void heapprof_scale(int64_t count, int64_t size, int64_t rate,
		    int64_t *objects, int64_t *bytes);

/* Figures for the profile's comments. */
struct heapprof_info {
	const char *method;		/* "inject", "uprobe" */
	uint64_t samples;		/* sampled allocations read */
	uint64_t dropped;		/* lost to a full ring */
	uint64_t untracked;		/* never in use: the live set was full */
	uint64_t calls_period;		/* uprobe: one call in N sampled (0:
					 * sampled by bytes) */
	bool no_inuse;			/* the method does not see frees: in
					 * use is empty */
};

/* What every value is multiplied by to make up for the samples dropped
 * with the ring full: (samples + dropped) / samples; 1 when none were. */
double heapprof_drop_factor(const struct heapprof_info *info);
/* The profile: a copy of base (its strings, mappings, functions,
 * locations, comments and times; base's own sample types and samples are
 * not copied) with Go's sample types and period, the default sample type
 * of kind, this set's records as samples (weighed up for dropped samples:
 * heapprof_drop_factor) and comments saying what "in use" means and how
 * the samples were taken. Returns 0 or -ENOMEM. */
int heapprof_profile(const struct heapprof *hp, const struct profile *base,
		     enum heapprof_kind kind, const struct heapprof_info *info,
		     struct profile **out);

/* The offset of a location's address in its function (Go prints
 * func+0xOFF); false when not known. */
typedef bool (*heapprof_offset_fn)(void *arg, uint64_t addr, uint64_t *offset);

/* Go's debug=1 text (runtime/pprof writeHeapInternal): a header
 * "heap profile: N: B [N: B] @ heap/2*rate", then one "N: B [N: B] @ pcs"
 * line per record, most bytes in use first, with its frames as "#" lines
 * read from p's locations (the profile heapprof_profile made, or its
 * base). Counts are the samples themselves, unscaled, as Go writes them
 * (pprof scales them when it reads the text); one-in-N samples count N
 * times. Returns 0 or -errno (a write error). */
int heapprof_text(const struct heapprof *hp, const struct profile *p,
		  heapprof_offset_fn offset, void *arg, FILE *f);

/* Samples and blocks held (for tests and figures). */
size_t heapprof_records(const struct heapprof *hp);
size_t heapprof_blocks(const struct heapprof *hp);

#endif

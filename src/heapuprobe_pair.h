/*
 * heapuprobe_pair.h - in use from uprobes (`cprof record --profile heap
 * --method uprobe`, docs/design.md §12.4): the samples of the probes
 * heapuprobe_sampler_opts sets up with inuse (a sampled entry of each
 * allocating function, its return at every call, free and realloc's old
 * pointer at every call) paired into allocations with their address, and
 * the set of sampled blocks not freed yet.
 *
 *   heapuprobe_sampler_opts(&t, period, true, &opts);
 *   struct heapuprobe_pair *p = heapuprobe_pair_new();
 *   in the sampler_read callback, every record in the order it comes:
 *       if (heapuprobe_pair_record(p, rec, period, &hs) == 1) ...unwind hs
 *   heapprof_update(hp, heapuprobe_pair_is_live, p);
 *
 * Never prints.
 */
#ifndef CPROF_HEAPUPROBE_PAIR_H
#define CPROF_HEAPUPROBE_PAIR_H

#include <stdbool.h>
#include <stdint.h>

#include "heapsample.h"
#include "heapuprobe.h"
#include "sampler.h"

/* Pairs the samples of a heap profile's probes (heapuprobe_sampler_opts
 * with inuse) into allocations with their address, and keeps the set of
 * sampled blocks not freed yet (docs/design.md §12.4). Per thread, a
 * sampled entry waits for the return whose SP is the entry's SP + 8 (the
 * return address popped): calls nested in it (an allocator calling
 * itself) return at a lower SP, and a return at a higher SP means the
 * entries below it will never return (longjmp): they are dropped. The
 * block dies at a free of its address, or at a realloc of it that did
 * not fail (returned non-NULL, or was a realloc to 0 bytes). */
struct heapuprobe_pair;
/* Calls in flight a thread can have waiting, at most (nested allocator
 * calls): deeper ones are dropped as unreturned. */
#define HEAPUPROBE_PAIR_DEPTH 8
struct heapuprobe_pair *heapuprobe_pair_new(void);	/* NULL: ENOMEM */
void heapuprobe_pair_free(struct heapuprobe_pair *p);

/* Takes one record of the sampler (any record: samples of the probes,
 * EXIT and LOST records; in the order sampler_read hands them on).
 * Returns 1 with *out when it completes a sampled allocation (out->addr
 * the block, out->id its live-set id; regs and stack point into p, valid
 * until the next call), 0 when it hands nothing on (the record was
 * taken in, or skipped; a call that failed: NULL), -ENOMEM. A
 * posix_memalign sample is handed on with addr 0 and id 0 (its block is
 * stored through a pointer the return probe does not see). */
int heapuprobe_pair_record(struct heapuprobe_pair *p,
			   const struct sampler_record *rec, uint64_t period,
			   struct heap_sample *out);

/* Whether the block of sample id at addr is still allocated (for
 * heapprof_update; arg is the pair). */
bool heapuprobe_pair_is_live(void *arg, uint64_t addr, uint64_t id);

struct heapuprobe_pair_stats {
	uint64_t paired;	/* sampled entries handed on with their
				 * return */
	uint64_t failed;	/* ... whose call returned NULL: dropped */
	uint64_t unreturned;	/* sampled entries whose return never came
				 * (the thread exited, a longjmp, records
				 * lost) */
	uint64_t frees;		/* free() calls seen (light samples) */
	uint64_t freed;		/* sampled blocks that died */
	uint64_t live;		/* sampled blocks live now */
	uint64_t lost;		/* records the ring lost (a lost free
				 * leaves its block in use) */
};
void heapuprobe_pair_stats(const struct heapuprobe_pair *p,
			   struct heapuprobe_pair_stats *st);

#endif

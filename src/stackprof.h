/*
 * stackprof.h - turning stacks of addresses into profile samples: the one
 * place that maps symbolizer results (modules, inline chains, lines) onto
 * pprof mappings, functions and locations. Used by `record` (CPU samples)
 * and by `threads --format pprof` / serve's goroutine profile (thread
 * counts).
 *
 * Mapping ids follow the symbolizer's module index (id = index + 1), so
 * mapping 1 is the main binary as pprof requires; modules that appear later
 * (dlopen, refresh) get the next ids. Unmapped addresses get a location
 * with mapping_id 0 and no lines: their address is kept, no name invented.
 * Locations are cached per (address, is_activation), except unmapped ones
 * (a later symbolizer_refresh() may map them) and JIT ones (the perf map
 * may name them later, or name new code at the same address). Frames in
 * JIT code are under a "[jit]" mapping spanning the JIT addresses seen.
 *
 * Ownership: the stackprof borrows the symbolizer and the profile; both must
 * outlive it.
 */
#ifndef CPROF_STACKPROF_H
#define CPROF_STACKPROF_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include "profile.h"
#include "symbolize.h"

struct stackprof;

struct stackprof *stackprof_new(struct symbolizer *sym, struct profile *p);

/* Adds one stack, leaf first. is_activation[i] (NULL: only pcs[0]) tells
 * that pcs[i] is not a return address. values has p->nsample_types entries.
 * Returns 0 or -ENOMEM. */
int stackprof_add(struct stackprof *sp, const uint64_t *pcs,
		  const bool *is_activation, size_t n, const int64_t *values,
		  const struct profile_label_in *labels, size_t nlabels);

/* The location id for one address (what stackprof_add uses); 0 on ENOMEM. */
uint64_t stackprof_location(struct stackprof *sp, uint64_t pc,
			    bool is_activation);

/* Copies the modules' has_* flags (now final) into the mappings. Call once
 * before encoding. */
void stackprof_finish(struct stackprof *sp);

void stackprof_free(struct stackprof *sp);

#endif

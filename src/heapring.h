/*
 * heapring.h - cprof's side of the memory it shares with the heap sampler
 * injected into a target (heapabi.h, docs/design.md §12.1): setting up a
 * fresh shared area and private area, reading the ring of samples (one
 * consumer), asking the live set whether a sampled block is still in use,
 * and the sampler's counters. Never blocks, never allocates.
 */
#ifndef CPROF_HEAPRING_H
#define CPROF_HEAPRING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "heapabi.h"
#include "heapsample.h"

struct heapring_config {
	pid_t tgid;			/* the target */
	pid_t cprof_pid;		/* who injects (messages) */
	uint64_t rate;			/* mean bytes between samples, > 0 */
	uint64_t stack_size;		/* bytes of stack a sample copies,
					 * <= HEAPABI_STACK_MAX */
	uint64_t deadline_ns;		/* CLOCK_MONOTONIC: hooks stop
					 * sampling after it (heartbeat) */
};

/* Writes a fresh shared area (HEAPABI_SHARED_SIZE bytes, zeroed by the
 * caller or not): magic, version, nslots, the slots' sequence numbers,
 * the control words of cfg, enabled = 1, no real[] and nothing patched
 * yet. -EINVAL (with err) when cfg is out of range. */
int heapring_init(struct heapabi_shared *sh, const struct heapring_config *cfg,
		  char *err, size_t errlen);

/* The initial bytes of the private area, all HEAPABI_PRIV_SIZE of them:
 * live = 0, the copies of real[HEAPABI_MALLOC] and real[HEAPABI_FREE]
 * that a live malloc and free jump to, every counter unseeded (its first
 * use seeds it), and the blob's own state past struct heapabi_private
 * (docs/design.md §12.1) empty (zeros, as in a fresh anonymous mapping). */
void heapring_init_private(void *priv, const uint64_t real[HEAPABI_NFUNCS]);

/* Checks a shared area someone else set up (a sampler a killed cprof
 * left): magic, version, nslots. -EPROTO with err when it is not one. */
int heapring_check(const struct heapabi_shared *sh, char *err, size_t errlen);

/* Moves the heartbeat deadline (release store). */
void heapring_set_deadline(struct heapabi_shared *sh, uint64_t deadline_ns);

/* Turns sampling off (enabled = 0): the hooks notice at their next
 * sample. */
void heapring_disable(struct heapabi_shared *sh);

/* The next published sample, or NULL when none is ready; stays valid
 * until heapring_release(). One consumer. */
const struct heapabi_slot *heapring_peek(struct heapabi_shared *sh);

/* Gives the slot heapring_peek returned back to the producers. */
void heapring_release(struct heapabi_shared *sh);

/* A slot as the heap profile takes samples in (heapsample.h; calls = 0:
 * Poisson sampling by bytes). Points into the slot: use it before
 * heapring_release(). */
void heapring_to_sample(const struct heapabi_slot *slot, pid_t pid,
			struct heap_sample *out);

/* Whether the block of sample `id` at addr is still allocated (in the
 * live set with that id). */
bool heapring_is_live(const struct heapabi_shared *sh, uint64_t addr, uint64_t id);

/* The sampler's counters. */
struct heapring_stats {
	uint64_t samples;		/* published into the ring */
	uint64_t dropped;		/* ring full */
	uint64_t untracked;		/* live-set bucket full: never in use */
	uint64_t stack_failed;		/* stack copy failed (size 0) */
};
void heapring_stats(const struct heapabi_shared *sh, struct heapring_stats *out);

/* The C name of a hooked function (enum heapabi_func): "malloc"...; "?"
 * for another value. */
const char *heapring_func_name(unsigned func);

#endif

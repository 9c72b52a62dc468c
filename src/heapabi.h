/*
 * heapabi.h - what cprof and the heap sampler it injects into a target
 * (src/heapblob/) share: the blob's header, the layout of the memory the
 * injector maps for it, the sample ring and the set of sampled blocks still
 * alive. Included by the blob (freestanding: no libc headers beyond
 * <stdint.h>) and by cprof (src/inject.c maps it, src/heapring.c reads it).
 *
 * In the target, one contiguous range at base holds, in this order:
 *
 *   [base, +HEAPABI_CODE_SIZE)          the blob: code, read-only data.
 *                                        memfd offset 0, PROT_READ|EXEC,
 *                                        MAP_SHARED.
 *   [+CODE_SIZE, +HEAPABI_SHARED_SIZE)  struct heapabi_shared: control
 *                                        words, ring, live set. memfd
 *                                        offset HEAPABI_CODE_SIZE, RW,
 *                                        MAP_SHARED: cprof maps the same
 *                                        pages (/proc/PID/fd/N of the
 *                                        memfd) and reads samples there.
 *   [+CODE+SHARED, +HEAPABI_PRIV_SIZE)  struct heapabi_private: the
 *                                        per-process switch and the
 *                                        sampling counters. Anonymous,
 *                                        MAP_PRIVATE, RW: a fork gets its
 *                                        own copy (and turns itself off).
 *
 * The code reaches both areas PC-relative (its linker script places them
 * at these offsets), so the blob has no relocations and runs at any base.
 *
 * Rules the blob keeps (docs/design.md §12): no libc call, no TLS, no lock;
 * raw system calls only on the sampling path (about once per `rate`
 * bytes); a hook whose process is not live costs one load and a branch
 * before it jumps to the real function.
 */
#ifndef CPROF_HEAPABI_H
#define CPROF_HEAPABI_H

#include <stdint.h>

#define HEAPABI_MAGIC		0x7061656866727063ULL	/* "cprfheap" */
#define HEAPABI_VERSION		1u
/* The name of the memfd (/proc/PID/maps shows "/memfd:cprof-heap
 * (deleted)"): how a later cprof finds a sampler a killed cprof left. */
#define HEAPABI_MEMFD_NAME	"cprof-heap"

#define HEAPABI_PAGE		4096u
#define HEAPABI_CODE_SIZE	(16u * 1024u)	/* the blob, padded */

/* The hooked functions: index into hook_off[] and real[]. */
enum heapabi_func {
	HEAPABI_MALLOC,
	HEAPABI_FREE,
	HEAPABI_CALLOC,
	HEAPABI_REALLOC,
	HEAPABI_REALLOCARRAY,
	HEAPABI_POSIX_MEMALIGN,
	HEAPABI_ALIGNED_ALLOC,
	HEAPABI_MEMALIGN,
	HEAPABI_VALLOC,
	HEAPABI_PVALLOC,
	HEAPABI_NFUNCS
};

/* At offset 0 of the blob. */
struct heapabi_blob_header {
	uint64_t magic;				/* HEAPABI_MAGIC */
	uint32_t version;			/* HEAPABI_VERSION */
	uint32_t code_size;			/* bytes of code and data used,
						 * <= HEAPABI_CODE_SIZE */
	uint32_t shared_size;			/* == HEAPABI_SHARED_SIZE */
	uint32_t priv_size;			/* == HEAPABI_PRIV_SIZE */
	uint32_t hook_off[HEAPABI_NFUNCS];	/* entry of each hook, from
						 * base */
	uint32_t text_start, text_end;		/* the range a thread may be
						 * executing in or return
						 * into, from base */
};

/* --- the ring ------------------------------------------------------------- */

/* Registers as perf's PERF_SAMPLE_REGS_USER gives them with
 * RINGBUF_REGS_MASK (ringbuf.h): AX BX CX DX SI DI BP SP IP FLAGS CS SS
 * R8..R15. A hook fills the state its caller's frame has once the call
 * returns: BX BP R12..R15 as at entry, SP = entry SP + 8, IP = return
 * address - 1 (inside the call instruction: the CFI row and the source
 * line of the call); the others are 0. */
#define HEAPABI_NR_REGS		20
enum {
	HEAPABI_R_AX, HEAPABI_R_BX, HEAPABI_R_CX, HEAPABI_R_DX, HEAPABI_R_SI,
	HEAPABI_R_DI, HEAPABI_R_BP, HEAPABI_R_SP, HEAPABI_R_IP,
	HEAPABI_R_FLAGS, HEAPABI_R_CS, HEAPABI_R_SS, HEAPABI_R_R8,
	HEAPABI_R_R9, HEAPABI_R_R10, HEAPABI_R_R11, HEAPABI_R_R12,
	HEAPABI_R_R13, HEAPABI_R_R14, HEAPABI_R_R15,
};

#define HEAPABI_STACK_MAX	16384u		/* stack bytes a slot holds */
#define HEAPABI_NSLOTS		256u		/* a power of 2 */

/* One sampled allocation. Multi-producer ring (D. Vyukov's bounded
 * queue): slot i starts with seq = i. A producer takes position pos =
 * head when slots[pos % N].seq == pos (CAS head pos -> pos + 1; a seq
 * below pos means the ring is full: the sample is dropped and counted),
 * fills the slot and stores seq = pos + 1 (release). The one consumer
 * (cprof) reads slot tail % N when its seq == tail + 1 (acquire), then
 * stores seq = tail + N (release) and tail + 1. */
struct heapabi_slot {
	uint64_t seq;
	uint64_t id;			/* unique per sample, from 1 */
	uint64_t size;			/* bytes asked for (calloc: n * m) */
	uint64_t addr;			/* the block returned */
	uint32_t pad0;			/* no thread id: a gettid cost
					 * ~1.4 us of a ~3.5 us sample on
					 * this VM, and a heap profile has
					 * no thread (design §12.5) */
	uint32_t func;			/* enum heapabi_func */
	uint64_t time_ns;		/* CLOCK_MONOTONIC */
	uint64_t regs[HEAPABI_NR_REGS];
	uint64_t stack_size;		/* valid bytes of stack[], from
					 * regs[SP] up */
	uint8_t stack[HEAPABI_STACK_MAX];
};

/* --- the live set --------------------------------------------------------- */

/* Sampled blocks not freed yet. A bucket is one cache line of addresses
 * (and the ids of their samples beside it): a free() hashes its pointer,
 * scans 8 words and, on a match, CASes the address to 0 before it calls
 * the real free (so that a block reused at once cannot be taken for the
 * old one). An insert CASes a 0 word of its bucket to the address and then
 * stores the id; a full bucket leaves the block untracked (counted: it
 * will never count as in use). cprof reads the set to know which sampled
 * blocks are in use: an entry counts when its id names a sample read from
 * the ring whose addr is that address. */
#define HEAPABI_LIVE_BUCKETS	8192u		/* a power of 2 */
#define HEAPABI_LIVE_WAYS	8u
struct heapabi_bucket {
	uint64_t addr[HEAPABI_LIVE_WAYS];
	uint64_t id[HEAPABI_LIVE_WAYS];
};

/* The bucket of a block: Fibonacci hashing of the address without its
 * low 4 bits (malloc aligns to 16), the top 13 bits of the product.
 * hooks.S's free computes the same in assembly (layout.h). */
#define HEAPABI_HASH_MUL	0x9e3779b97f4a7c15ULL
#define HEAPABI_BUCKET_SHIFT	51
static inline uint32_t heapabi_bucket_of(uint64_t addr)
{
	return (uint32_t)(((addr >> 4) * HEAPABI_HASH_MUL) >> HEAPABI_BUCKET_SHIFT) &
	       (HEAPABI_LIVE_BUCKETS - 1);
}

/* --- the GOT entries changed ---------------------------------------------- */

/* Written by cprof as it patches (before each write to the GOT), so that a
 * cprof attaching after one that was killed can put them back: an entry
 * whose current value is still hook is restored to orig. */
#define HEAPABI_MAX_PATCHED	2048u
struct heapabi_patch {
	uint64_t addr;			/* of the GOT entry in the target */
	uint64_t orig;			/* its value before */
	uint64_t hook;			/* the value cprof wrote */
};

/* --- the shared area ------------------------------------------------------ */

struct heapabi_shared {
	uint64_t magic;			/* HEAPABI_MAGIC, set by cprof */
	uint32_t version;
	uint32_t nslots;		/* HEAPABI_NSLOTS */
	/* Written by cprof. */
	int32_t tgid;			/* the target: a hook in another
					 * process (a fork) turns itself off */
	uint32_t enabled;		/* 0: hooks turn themselves off at
					 * their next sample */
	uint64_t deadline_ns;		/* CLOCK_MONOTONIC; cprof moves it
					 * forward (heartbeat, every 200 ms,
					 * HEAPABI_HEARTBEAT_NS ahead): a hook
					 * sampling after it turns off */
	uint64_t rate;			/* mean bytes between samples */
	uint64_t stack_size;		/* bytes to copy, <= HEAPABI_STACK_MAX */
	uint64_t real[HEAPABI_NFUNCS];	/* the real functions */
	uint64_t cprof_pid;		/* who injected it (for messages) */
	uint32_t npatched;
	uint32_t pad0;
	struct heapabi_patch patched[HEAPABI_MAX_PATCHED];

	/* Written by the hooks (atomic adds, on the sampling path only). */
	uint64_t next_id;		/* fetch-add 1: a sample's id */
	uint64_t samples;		/* written to the ring */
	uint64_t dropped;		/* ring full */
	uint64_t untracked;		/* live-set bucket full */
	uint64_t stack_failed;		/* stack copy failed (size 0) */

	uint64_t head __attribute__((aligned(64)));
	uint64_t tail __attribute__((aligned(64)));
	struct heapabi_bucket live[HEAPABI_LIVE_BUCKETS]
		__attribute__((aligned(64)));
	struct heapabi_slot slots[HEAPABI_NSLOTS]
		__attribute__((aligned(64)));
};

#define HEAPABI_HEARTBEAT_NS	1000000000ULL

#define HEAPABI_ROUND_PAGE(x)	(((x) + HEAPABI_PAGE - 1) & ~(uint64_t)(HEAPABI_PAGE - 1))
#define HEAPABI_SHARED_SIZE	HEAPABI_ROUND_PAGE(sizeof(struct heapabi_shared))

/* --- the private area ----------------------------------------------------- */

/* Threads share sampling counters by their stack: slot = hash(SP >> 20)
 * (thread stacks are megabytes apart; no TLS, no %fs read, which a thread
 * without TLS would fault on). Plain loads and stores: two threads on one
 * counter lose an update now and then, which only shifts a sample. */
#define HEAPABI_NCOUNTERS	64u
struct heapabi_counter {
	int64_t left;			/* bytes until the next sample */
	uint64_t rng;			/* xorshift state, never 0 */
	uint64_t pad[6];
};

struct heapabi_private {
	uint32_t live;			/* hooks sample only while 1: set by
					 * cprof once every real[] is in
					 * place, cleared by a hook that sees
					 * enabled 0, the deadline passed or
					 * another tgid, and by cprof on
					 * detach */
	uint32_t pad0;
	/* When a hook last made the checks above with system calls (TSC),
	 * and the CLOCK_MONOTONIC time it read then: samples within
	 * HEAPABI_CHECK_CYCLES of it reuse them (a getpid and a
	 * clock_gettime cost ~3 us together on a VM). cprof writes 0 to
	 * force the next sample to check. */
	uint64_t checked_tsc;
	uint64_t checked_ns;
	/* real[HEAPABI_MALLOC] and real[HEAPABI_FREE], copied here by cprof
	 * in the write that sets live to 1 (the threads stopped), and again
	 * before it sets live to 1 after a hook cleared it: a live malloc or
	 * free then reads one cache line, not this one and the shared
	 * area's. A hook that is not live jumps through the shared area's
	 * real[]: a fork's private area is zero. */
	uint64_t real_malloc;
	uint64_t real_free;
	uint32_t pad[6];
	struct heapabi_counter counters[HEAPABI_NCOUNTERS];
};

/* ~10 ms at 3 GHz: a dead cprof is noticed within HEAPABI_HEARTBEAT_NS
 * and this. */
#define HEAPABI_CHECK_CYCLES	(1ULL << 25)

#define HEAPABI_PRIV_SIZE	HEAPABI_ROUND_PAGE(sizeof(struct heapabi_private))
#define HEAPABI_TOTAL_SIZE	(HEAPABI_CODE_SIZE + HEAPABI_SHARED_SIZE + HEAPABI_PRIV_SIZE)

#endif

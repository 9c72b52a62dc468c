/*
 * layout.h - the numbers of heapabi.h that the blob's linker script
 * (blob.ld.S) and entry stubs (hooks.S) need, as plain literals: neither
 * can include a header with C declarations. sample.c checks every one of
 * them against heapabi.h at compile time, so a change there that is not
 * made here fails the build.
 */
#ifndef CPROF_HEAPBLOB_LAYOUT_H
#define CPROF_HEAPBLOB_LAYOUT_H

#define HB_MAGIC		0x7061656866727063	/* HEAPABI_MAGIC */
#define HB_VERSION		1			/* HEAPABI_VERSION */
#define HB_CODE_SIZE		0x4000			/* HEAPABI_CODE_SIZE */
#define HB_SHARED_SIZE		0x51a000		/* HEAPABI_SHARED_SIZE */
#define HB_PRIV_SIZE		0x2000			/* HEAPABI_PRIV_SIZE */

/* offsetof(struct heapabi_shared, real) */
#define HB_SHARED_REAL		48
/* offsetof(struct heapabi_private, live) and counters; a counter's
 * size; offsetof(struct heapabi_counter, left) */
#define HB_PRIV_LIVE		0
#define HB_PRIV_REAL_MALLOC	24
#define HB_PRIV_REAL_FREE	32
#define HB_PRIV_COUNTERS	64
#define HB_COUNTER_SHIFT	6
#define HB_COUNTER_LEFT		0
/* The blob's own state in the private area, past struct heapabi_private
 * (sample.c: the live-set groups) */
#define HB_PRIV_GROUPS		4160
/* The live-set group of a block: ((addr >> 4) * HB_HASH_MUL) >> this
 * (heapabi_bucket_of's bucket, 13 bits, over the 4 buckets of a group) */
#define HB_GROUP_OF_SHIFT	53

/* The counter of a thread: counters[(SP >> 20) * HB_HASH_MUL >> 58]
 * (the top 6 bits: HEAPABI_NCOUNTERS == 64). */
#define HB_SP_SHIFT		20
#define HB_HASH_MUL		0x9e3779b97f4a7c15
#define HB_HASH_SHIFT		58

/* enum heapabi_func */
#define HB_MALLOC		0
#define HB_FREE			1
#define HB_CALLOC		2
#define HB_REALLOC		3
#define HB_REALLOCARRAY		4
#define HB_POSIX_MEMALIGN	5
#define HB_ALIGNED_ALLOC	6
#define HB_MEMALIGN		7
#define HB_VALLOC		8
#define HB_PVALLOC		9
#define HB_NFUNCS		10

/* struct hb_frame (sample.c): what a stub saves before it calls the C
 * part, at a 16-aligned address below the entry SP. */
#define HB_FRAME_BX		0
#define HB_FRAME_BP		8
#define HB_FRAME_R12		16
#define HB_FRAME_R13		24
#define HB_FRAME_R14		32
#define HB_FRAME_R15		40
#define HB_FRAME_SP		48
#define HB_FRAME_A0		56
#define HB_FRAME_A1		64
#define HB_FRAME_A2		72
#define HB_FRAME_SIZE		88

#endif

/*
 * ringbuf.h - reading and decoding perf_event ring buffers. Pure: no system
 * calls, so the unit tests can build a ring in plain memory (including a
 * record that wraps around its end) and decode it.
 *
 * Protocol (perf_event_open(2), "mmap layout"): load data_head with acquire
 * semantics, read records from data_tail up to data_head, then store the new
 * data_tail with release semantics. Records are 8-byte aligned, but a record
 * may wrap around the end of the data area: ringbuf_next() copies such a
 * record into a scratch buffer so the caller always sees it contiguous.
 */
#ifndef CPROF_RINGBUF_H
#define CPROF_RINGBUF_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include <linux/perf_event.h>

struct ringbuf {
	struct perf_event_mmap_page *meta;	/* the first page of the mmap */
	uint8_t *data;				/* data area, size a power of 2 */
	uint64_t size;
	uint64_t head, tail;			/* positions of the current batch */
	uint8_t *scratch;			/* for wrapped records */
	size_t scratch_size;
};

/* meta: the mmap'd first page; data: meta + page size; size: data area size
 * (a power of two). Allocates no memory until a wrapped record is read. */
void ringbuf_init(struct ringbuf *rb, struct perf_event_mmap_page *meta,
		  void *data, uint64_t size);
void ringbuf_release(struct ringbuf *rb);

/* Starts a batch: snapshots data_head (acquire). Returns true if there is
 * something to read. */
bool ringbuf_begin(struct ringbuf *rb);

/* The next record of the batch, or NULL at its end (or -ENOMEM from the
 * scratch allocation, reported through *err when err is not NULL; or
 * -EBADMSG for a header whose size is impossible, after which the rest of
 * the batch is skipped). The pointer is valid until the next call. */
const struct perf_event_header *ringbuf_next(struct ringbuf *rb, int *err);

/* Ends the batch: stores data_tail (release), handing the space back. May
 * also be called within a batch, after the record last returned by
 * ringbuf_next() is no longer needed; ringbuf_next() then carries on. */
void ringbuf_end(struct ringbuf *rb);

/* Puts back the record ringbuf_next() returned last (hdr), unread: the
 * next ringbuf_next() returns it again and ringbuf_end() does not hand its
 * space back. For a reader that merges several rings in time order and
 * stops before a record it may not take yet. */
void ringbuf_unread(struct ringbuf *rb, const struct perf_event_header *hdr);

/* Number of user registers sampled on x86_64 with RINGBUF_REGS_MASK. */
#define RINGBUF_NR_REGS 20
/* AX BX CX DX SI DI BP SP IP FLAGS CS SS (bits 0-11) and R8-R15 (16-23);
 * DS ES FS GS (bits 12-15) give EINVAL on x86_64. */
#define RINGBUF_REGS_MASK 0xff0fffULL

/* Index into perf_sample.regs (order of bits in RINGBUF_REGS_MASK). */
enum ringbuf_reg {
	RB_AX, RB_BX, RB_CX, RB_DX, RB_SI, RB_DI, RB_BP, RB_SP, RB_IP,
	RB_FLAGS, RB_CS, RB_SS, RB_R8, RB_R9, RB_R10, RB_R11, RB_R12,
	RB_R13, RB_R14, RB_R15,
};

/* A decoded PERF_RECORD_SAMPLE. Pointers point into the record. Fields not
 * in sample_type are zero. */
struct perf_sample {
	uint64_t id;			/* SAMPLE_IDENTIFIER or SAMPLE_ID: the
					 * event's id; an inherited event
					 * reports its parent's */
	uint64_t ip;
	uint32_t pid, tid;
	uint64_t time;
	uint64_t period;
	uint64_t nr_callchain;
	const uint64_t *callchain;	/* may hold PERF_CONTEXT_* markers */
	uint32_t raw_size;		/* PERF_SAMPLE_RAW: a tracepoint's */
	const uint8_t *raw;		/* fields, raw_size bytes */
	uint64_t regs_abi;		/* PERF_SAMPLE_REGS_ABI_*; NONE: no regs */
	const uint64_t *regs;		/* RINGBUF_NR_REGS of them */
	uint64_t stack_size;		/* bytes copied */
	const uint8_t *stack;
	uint64_t stack_dyn_size;	/* bytes actually valid (<= size) */
};

/* Decodes a PERF_RECORD_SAMPLE whose event had this sample_type, with
 * sample_regs_user = RINGBUF_REGS_MASK. Supports IDENTIFIER IP TID TIME
 * ADDR ID STREAM_ID CPU PERIOD CALLCHAIN RAW REGS_USER STACK_USER (in the
 * kernel's order); fields after STACK_USER are ignored. Returns 0, -EINVAL
 * for READ or BRANCH_STACK, or -EBADMSG if the record is shorter than its
 * fields claim. */
int ringbuf_parse_sample(const struct perf_event_header *hdr,
			 uint64_t sample_type, struct perf_sample *out);
/* The same for an event with nregs user registers sampled (the bits of
 * its sample_regs_user): out->regs holds them in the mask's bit order. */
int ringbuf_parse_sample_regs(const struct perf_event_header *hdr,
			      uint64_t sample_type, unsigned nregs,
			      struct perf_sample *out);

/* The time of any record of an event opened with sample_id_all and
 * PERF_SAMPLE_TIME in sample_type: a sample's own field, or the sample_id
 * trailer that ends every other record (perf_event_open(2), "sample_id":
 * pid/tid, time, id, stream_id, cpu, identifier, each when asked for).
 * Returns 0, or -EBADMSG for a record too short to hold it, or -EINVAL
 * without PERF_SAMPLE_TIME. */
int ringbuf_record_time(const struct perf_event_header *hdr,
			uint64_t sample_type, uint64_t *time);

/* The sample_id trailer of a record other than a sample (event opened with
 * sample_id_all): the fields sample_type asks for, 0 for the others. */
struct ringbuf_sample_id {
	uint32_t pid, tid;
	uint64_t time;
	uint64_t id;			/* SAMPLE_IDENTIFIER or SAMPLE_ID */
};
/* Returns 0, -EBADMSG for a record too short to hold the trailer, or
 * -EINVAL for a PERF_RECORD_SAMPLE (ringbuf_parse_sample reads those). */
int ringbuf_sample_id(const struct perf_event_header *hdr,
		      uint64_t sample_type, struct ringbuf_sample_id *out);

/* The event id of a PERF_RECORD_SAMPLE of an event with
 * PERF_SAMPLE_IDENTIFIER (the first field, whatever the rest of its
 * sample_type): what tells which event, and so which layout, a sample
 * has. Returns 0 or -EBADMSG. */
int ringbuf_sample_identifier(const struct perf_event_header *hdr, uint64_t *id);

/* PERF_RECORD_LOST: number of lost records, or 0 for another type. */
uint64_t ringbuf_lost_count(const struct perf_event_header *hdr);

#endif

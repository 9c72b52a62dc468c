/*
 * ringbuf.c - perf_event ring buffer reading and PERF_RECORD_SAMPLE decoding.
 * No system calls here: the unit tests drive it with a ring in plain memory.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "ringbuf.h"

void ringbuf_init(struct ringbuf *rb, struct perf_event_mmap_page *meta,
		  void *data, uint64_t size)
{
	memset(rb, 0, sizeof(*rb));
	rb->meta = meta;
	rb->data = data;
	rb->size = size;
}

void ringbuf_release(struct ringbuf *rb)
{
	free(rb->scratch);
	rb->scratch = NULL;
	rb->scratch_size = 0;
}

bool ringbuf_begin(struct ringbuf *rb)
{
	/* perf_event_open(2): "the user must use an rmb() after reading
	 * data_head" so the record bytes are not read before the head that
	 * published them; the acquire load is that barrier. data_tail is
	 * written only by us. */
	rb->head = __atomic_load_n(&rb->meta->data_head, __ATOMIC_ACQUIRE);
	rb->tail = __atomic_load_n(&rb->meta->data_tail, __ATOMIC_RELAXED);
	return rb->head != rb->tail;
}

const struct perf_event_header *ringbuf_next(struct ringbuf *rb, int *err)
{
	const struct perf_event_header *hdr;
	uint64_t mask = rb->size - 1, off, avail, first;
	uint8_t *ns;

	if (err)
		*err = 0;
	avail = rb->head - rb->tail;
	if (avail == 0)
		return NULL;
	/* The kernel writes records of a multiple of 8 bytes and never more
	 * than the data area: with the tail 8-byte aligned, the 8-byte header
	 * never wraps and is aligned. A ring that breaks any of this (a
	 * corrupt or hostile one) is not read further: a misaligned header
	 * near the end of the area would be read past it. */
	if (avail < sizeof(*hdr) || avail > rb->size || (rb->tail & 7))
		goto corrupt;
	off = rb->tail & mask;
	hdr = (const struct perf_event_header *)(rb->data + off);
	if (hdr->size < sizeof(*hdr) || hdr->size > avail || (hdr->size & 7))
		goto corrupt;
	if (off + hdr->size > rb->size) {
		if (rb->scratch_size < hdr->size) {
			ns = realloc(rb->scratch, hdr->size);
			if (!ns) {
				if (err)
					*err = -ENOMEM;
				return NULL;
			}
			rb->scratch = ns;
			rb->scratch_size = hdr->size;
		}
		first = rb->size - off;
		memcpy(rb->scratch, rb->data + off, first);
		memcpy(rb->scratch + first, rb->data, hdr->size - first);
		hdr = (const struct perf_event_header *)rb->scratch;
	}
	rb->tail += hdr->size;
	return hdr;

corrupt:
	/* Skip everything published so far rather than loop on it. */
	rb->tail = rb->head;
	if (err)
		*err = -EBADMSG;
	return NULL;
}

void ringbuf_unread(struct ringbuf *rb, const struct perf_event_header *hdr)
{
	rb->tail -= hdr->size;
}

void ringbuf_end(struct ringbuf *rb)
{
	/* Release: our reads of the records happen before the kernel may
	 * overwrite them. */
	__atomic_store_n(&rb->meta->data_tail, rb->tail, __ATOMIC_RELEASE);
}

/* A cursor over the u64 words of a record body. */
struct ringbuf_cursor {
	const uint8_t *p, *end;
};

static int ringbuf_take(struct ringbuf_cursor *c, uint64_t *v)
{
	if (c->end - c->p < 8)
		return -EBADMSG;
	memcpy(v, c->p, 8);
	c->p += 8;
	return 0;
}

static int ringbuf_skip(struct ringbuf_cursor *c, uint64_t bytes)
{
	if ((uint64_t)(c->end - c->p) < bytes)
		return -EBADMSG;
	c->p += bytes;
	return 0;
}

int ringbuf_parse_sample(const struct perf_event_header *hdr,
			 uint64_t sample_type, struct perf_sample *out)
{
	return ringbuf_parse_sample_regs(hdr, sample_type, RINGBUF_NR_REGS, out);
}

int ringbuf_parse_sample_regs(const struct perf_event_header *hdr,
			      uint64_t sample_type, unsigned nregs,
			      struct perf_sample *out)
{
	struct ringbuf_cursor c;
	uint64_t v;
	int r;

	memset(out, 0, sizeof(*out));
	if (hdr->size < sizeof(*hdr))
		return -EBADMSG;
	/* Fields we cannot skip generically (their size depends on
	 * read_format or the branch stack configuration). */
	if (sample_type & (PERF_SAMPLE_READ | PERF_SAMPLE_BRANCH_STACK))
		return -EINVAL;
	c.p = (const uint8_t *)(hdr + 1);
	c.end = (const uint8_t *)hdr + hdr->size;

#define TAKE(dst) do { if ((r = ringbuf_take(&c, &(dst))) < 0) return r; } while (0)
	/* The order of perf_event_open(2), "PERF_RECORD_SAMPLE". */
	if (sample_type & PERF_SAMPLE_IDENTIFIER)
		TAKE(out->id);
	if (sample_type & PERF_SAMPLE_IP)
		TAKE(out->ip);
	if (sample_type & PERF_SAMPLE_TID) {
		TAKE(v);
		out->pid = (uint32_t)v;
		out->tid = (uint32_t)(v >> 32);
	}
	if (sample_type & PERF_SAMPLE_TIME)
		TAKE(out->time);
	if (sample_type & PERF_SAMPLE_ADDR)
		TAKE(v);
	if (sample_type & PERF_SAMPLE_ID)
		TAKE(out->id);
	if (sample_type & PERF_SAMPLE_STREAM_ID)
		TAKE(v);
	if (sample_type & PERF_SAMPLE_CPU)
		TAKE(v);
	if (sample_type & PERF_SAMPLE_PERIOD)
		TAKE(out->period);
	if (sample_type & PERF_SAMPLE_CALLCHAIN) {
		TAKE(out->nr_callchain);
		if (out->nr_callchain > (uint64_t)(c.end - c.p) / 8)
			return -EBADMSG;
		out->callchain = (const uint64_t *)c.p;
		c.p += out->nr_callchain * 8;
	}
	if (sample_type & PERF_SAMPLE_RAW) {
		uint32_t raw;

		/* u32 size, then data; the pair is padded to 8 bytes. */
		if (c.end - c.p < 4)
			return -EBADMSG;
		memcpy(&raw, c.p, 4);
		if ((uint64_t)(c.end - c.p) < 4 + (uint64_t)raw)
			return -EBADMSG;
		out->raw_size = raw;
		out->raw = c.p + 4;
		if ((r = ringbuf_skip(&c, (4 + (uint64_t)raw + 7) & ~7ULL)) < 0)
			return r;
	}
	if (sample_type & PERF_SAMPLE_REGS_USER) {
		TAKE(out->regs_abi);
		if (out->regs_abi != PERF_SAMPLE_REGS_ABI_NONE) {
			if ((uint64_t)(c.end - c.p) < (uint64_t)nregs * 8)
				return -EBADMSG;
			out->regs = (const uint64_t *)c.p;
			c.p += (uint64_t)nregs * 8;
		}
	}
	if (sample_type & PERF_SAMPLE_STACK_USER) {
		TAKE(out->stack_size);
		if (out->stack_size) {
			if (out->stack_size > (uint64_t)(c.end - c.p))
				return -EBADMSG;
			out->stack = c.p;
			c.p += out->stack_size;
			TAKE(out->stack_dyn_size);
			if (out->stack_dyn_size > out->stack_size)
				out->stack_dyn_size = out->stack_size;
		}
	}
#undef TAKE
	return 0;
}

uint64_t ringbuf_lost_count(const struct perf_event_header *hdr)
{
	uint64_t lost;

	/* struct { header; u64 id; u64 lost; sample_id } */
	if (hdr->type != PERF_RECORD_LOST || hdr->size < sizeof(*hdr) + 16)
		return 0;
	memcpy(&lost, (const uint8_t *)(hdr + 1) + 8, 8);
	return lost;
}

int ringbuf_sample_id(const struct perf_event_header *hdr,
		      uint64_t sample_type, struct ringbuf_sample_id *out)
{
	size_t trailer = 0;
	const uint8_t *p;
	uint64_t v;

	memset(out, 0, sizeof(*out));
	if (hdr->size < sizeof(*hdr))
		return -EBADMSG;
	if (hdr->type == PERF_RECORD_SAMPLE)
		return -EINVAL;
	/* The trailer's fields, in this order, each a u64 when present:
	 * pid/tid, time, id, stream_id, cpu, identifier. */
	static const uint64_t order[] = {
		PERF_SAMPLE_TID, PERF_SAMPLE_TIME, PERF_SAMPLE_ID,
		PERF_SAMPLE_STREAM_ID, PERF_SAMPLE_CPU, PERF_SAMPLE_IDENTIFIER,
	};
	for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++)
		if (sample_type & order[i])
			trailer += 8;
	if (hdr->size < sizeof(*hdr) + trailer)
		return -EBADMSG;
	p = (const uint8_t *)hdr + hdr->size - trailer;
	for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
		if (!(sample_type & order[i]))
			continue;
		memcpy(&v, p, 8);
		p += 8;
		if (order[i] == PERF_SAMPLE_TID) {
			out->pid = (uint32_t)v;
			out->tid = (uint32_t)(v >> 32);
		} else if (order[i] == PERF_SAMPLE_TIME) {
			out->time = v;
		} else if (order[i] == PERF_SAMPLE_ID ||
			   order[i] == PERF_SAMPLE_IDENTIFIER) {
			out->id = v;
		}
	}
	return 0;
}

int ringbuf_sample_identifier(const struct perf_event_header *hdr, uint64_t *id)
{
	if (hdr->size < sizeof(*hdr) + 8)
		return -EBADMSG;
	memcpy(id, hdr + 1, 8);
	return 0;
}

int ringbuf_record_time(const struct perf_event_header *hdr,
			uint64_t sample_type, uint64_t *time)
{
	struct perf_sample smp;
	struct ringbuf_sample_id sid;
	int r;

	if (!(sample_type & PERF_SAMPLE_TIME))
		return -EINVAL;
	if (hdr->type == PERF_RECORD_SAMPLE) {
		r = ringbuf_parse_sample(hdr, sample_type, &smp);
		if (r == 0)
			*time = smp.time;
		return r;
	}
	r = ringbuf_sample_id(hdr, sample_type, &sid);
	if (r == 0)
		*time = sid.time;
	return r;
}

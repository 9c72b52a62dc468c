/* test_ringbuf.c - a perf ring in plain memory: wrapped records, decoding. */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "ringbuf.h"

#define DATA_SIZE 512
#define START (3 * DATA_SIZE + DATA_SIZE - 56)

static struct perf_event_mmap_page meta;
static uint64_t data_words[DATA_SIZE / 8];

/* What the kernel does: copy the record at data_head (wrapping), then
 * publish the new head. */
static void produce(const void *rec, size_t size)
{
	uint8_t *data = (uint8_t *)data_words;
	uint64_t head = meta.data_head, off = head & (DATA_SIZE - 1);
	size_t first = size < DATA_SIZE - off ? size : DATA_SIZE - off;

	memcpy(data + off, rec, first);
	memcpy(data, (const uint8_t *)rec + first, size - first);
	__atomic_store_n(&meta.data_head, head + size, __ATOMIC_RELEASE);
}

static void set_size(uint64_t *rec, uint16_t size)
{
	memcpy((uint8_t *)rec + offsetof(struct perf_event_header, size), &size,
	       sizeof(size));
}

/* A record of type/size whose body words are seed, seed+1, ... */
static void make_record(uint64_t *buf, uint32_t type, uint16_t size, uint64_t seed)
{
	struct perf_event_header h = { .type = type, .misc = 0, .size = size };

	memcpy(buf, &h, sizeof(h));
	for (size_t i = 1; i < size / 8; i++)
		buf[i] = seed + i;
}

static int same_record(const struct perf_event_header *h, const uint64_t *want)
{
	return h && memcmp(h, want, ((const struct perf_event_header *)want)->size) == 0;
}

static void test_wrap(void)
{
	struct ringbuf rb;
	uint64_t a[5], b[8], c[3], d[4];
	const struct perf_event_header *h;
	int err = 1;

	memset(&meta, 0, sizeof(meta));
	memset(data_words, 0xee, sizeof(data_words));
	/* Start near the end so that b straddles it. */
	meta.data_head = meta.data_tail = START;
	ringbuf_init(&rb, &meta, data_words, DATA_SIZE);

	CHECK(!ringbuf_begin(&rb));
	CHECK(ringbuf_next(&rb, &err) == NULL);
	CHECK_INT(err, 0);
	ringbuf_end(&rb);

	make_record(a, PERF_RECORD_SAMPLE, sizeof(a), 100);
	make_record(b, PERF_RECORD_MMAP, sizeof(b), 200);
	make_record(c, PERF_RECORD_LOST, sizeof(c), 300);
	produce(a, sizeof(a));		/* end-56 .. end-16 */
	produce(b, sizeof(b));		/* end-16 .. 48: wraps */
	produce(c, sizeof(c));		/* 48 .. 72 of the next lap */

	CHECK(ringbuf_begin(&rb));
	h = ringbuf_next(&rb, &err);
	CHECK(same_record(h, a));
	CHECK((const uint8_t *)h >= (const uint8_t *)data_words &&
	      (const uint8_t *)h < (const uint8_t *)data_words + DATA_SIZE);
	/* Handing back space mid-batch moves the kernel's tail past a only. */
	ringbuf_end(&rb);
	CHECK_INT(meta.data_tail, START + sizeof(a));
	h = ringbuf_next(&rb, &err);
	CHECK(same_record(h, b));
	CHECK(h == (const void *)rb.scratch);	/* copied out whole */
	h = ringbuf_next(&rb, &err);
	CHECK(same_record(h, c));
	CHECK_INT(ringbuf_lost_count(h), 302);	/* body: id=301, lost=302 */
	CHECK(ringbuf_next(&rb, &err) == NULL);
	CHECK_INT(err, 0);
	/* The kernel's view of the tail moves only at ringbuf_end(). */
	CHECK_INT(meta.data_tail, START + sizeof(a));
	ringbuf_end(&rb);
	CHECK_INT(meta.data_tail, START + sizeof(a) + sizeof(b) + sizeof(c));
	CHECK_INT(ringbuf_lost_count((const struct perf_event_header *)a), 0);

	/* A record published after begin() waits for the next batch. */
	make_record(d, PERF_RECORD_SAMPLE, sizeof(d), 400);
	CHECK(!ringbuf_begin(&rb));
	produce(d, sizeof(d));
	CHECK(ringbuf_next(&rb, &err) == NULL);
	ringbuf_end(&rb);
	CHECK(ringbuf_begin(&rb));
	CHECK(same_record(ringbuf_next(&rb, &err), d));
	CHECK(ringbuf_next(&rb, &err) == NULL);
	ringbuf_end(&rb);
	CHECK_INT(meta.data_tail, meta.data_head);

	/* A header claiming more than was published: corrupt, skipped. */
	make_record(d, PERF_RECORD_SAMPLE, sizeof(d), 500);
	set_size(d, 200);
	produce(d, sizeof(d));
	CHECK(ringbuf_begin(&rb));
	CHECK(ringbuf_next(&rb, &err) == NULL);
	CHECK_INT(err, -EBADMSG);
	ringbuf_end(&rb);
	CHECK_INT(meta.data_tail, meta.data_head);
	ringbuf_release(&rb);
	CHECK(rb.scratch == NULL);
}

/* A sample with every field we decode, in the kernel's order. */
static size_t build_sample(uint64_t *w, uint64_t stack_bytes, uint64_t dyn)
{
	size_t n = 1, i;

	w[n++] = 0x401234;				/* ip */
	w[n++] = ((uint64_t)4321 << 32) | 1234;		/* pid, tid */
	w[n++] = 987654321;				/* time */
	w[n++] = 1001001;				/* period */
	w[n++] = 3;					/* callchain nr */
	w[n++] = PERF_CONTEXT_USER;
	w[n++] = 0x401234;
	w[n++] = 0x401100;
	w[n++] = PERF_SAMPLE_REGS_ABI_64;		/* regs abi */
	for (i = 0; i < RINGBUF_NR_REGS; i++)
		w[n++] = 0x1000 + i;
	w[n++] = stack_bytes;
	for (i = 0; i < stack_bytes / 8; i++)
		w[n++] = 0xabc0 + i;
	if (stack_bytes)
		w[n++] = dyn;
	struct perf_event_header h = { .type = PERF_RECORD_SAMPLE,
				       .size = (uint16_t)(n * 8) };
	memcpy(w, &h, sizeof(h));
	return n * 8;
}

static const uint64_t all_types = PERF_SAMPLE_IP | PERF_SAMPLE_TID |
	PERF_SAMPLE_TIME | PERF_SAMPLE_PERIOD | PERF_SAMPLE_CALLCHAIN |
	PERF_SAMPLE_REGS_USER | PERF_SAMPLE_STACK_USER;

static void test_parse(void)
{
	uint64_t w[64];
	struct perf_sample s;
	const struct perf_event_header *h = (const void *)w;
	size_t size = build_sample(w, 32, 24);

	CHECK_INT(ringbuf_parse_sample(h, all_types, &s), 0);
	CHECK_INT(s.ip, 0x401234);
	CHECK_INT(s.pid, 1234);
	CHECK_INT(s.tid, 4321);
	CHECK_INT(s.time, 987654321);
	CHECK_INT(s.period, 1001001);
	CHECK_INT(s.nr_callchain, 3);
	CHECK(s.callchain && s.callchain[0] == PERF_CONTEXT_USER &&
	      s.callchain[2] == 0x401100);
	CHECK_INT(s.regs_abi, PERF_SAMPLE_REGS_ABI_64);
	CHECK(s.regs && s.regs[RB_AX] == 0x1000 && s.regs[RB_SP] == 0x1007 &&
	      s.regs[RB_IP] == 0x1008 && s.regs[RB_R15] == 0x1000 + 19);
	CHECK_INT(s.stack_size, 32);
	CHECK(s.stack && ((const uint64_t *)s.stack)[3] == 0xabc3);
	CHECK_INT(s.stack_dyn_size, 24);

	/* Every truncation of the record is caught, never read past. */
	for (size_t cut = 8; cut < size; cut += 8) {
		uint64_t *copy = malloc(cut);	/* ASan sees over-reads */

		memcpy(copy, w, cut);
		set_size(copy, (uint16_t)cut);
		int r = ringbuf_parse_sample((const void *)copy, all_types, &s);
		if (r != -EBADMSG)
			fprintf(stderr, "cut at %zu: %d\n", cut, r);
		CHECK_INT(r, -EBADMSG);
		free(copy);
	}

	/* A callchain count far beyond the record. */
	build_sample(w, 0, 0);
	w[5] = 1ULL << 60;
	CHECK_INT(ringbuf_parse_sample(h, all_types, &s), -EBADMSG);

	/* No regs (abi NONE: e.g. a kernel thread) and an empty stack copy. */
	size_t n = 1;
	w[n++] = 0xffffffff81000000ULL;
	w[n++] = 0;
	w[n++] = 5;
	w[n++] = 7;
	w[n++] = 0;				/* callchain nr */
	w[n++] = PERF_SAMPLE_REGS_ABI_NONE;
	w[n++] = 0;				/* stack size: no dyn_size */
	set_size(w, (uint16_t)(n * 8));
	CHECK_INT(ringbuf_parse_sample(h, all_types, &s), 0);
	CHECK(s.regs == NULL);
	CHECK_INT(s.regs_abi, 0);
	CHECK_INT(s.stack_size, 0);
	CHECK(s.stack == NULL);
	CHECK_INT(s.period, 7);

	/* The fp-mode layout, with IDENTIFIER and CPU too. */
	n = 1;
	w[n++] = 77;				/* identifier */
	w[n++] = 0x400000;			/* ip */
	w[n++] = ((uint64_t)9 << 32) | 8;
	w[n++] = 1;				/* time */
	w[n++] = 3;				/* cpu, res */
	w[n++] = 250000;			/* period */
	w[n++] = 1;
	w[n++] = 0x400000;
	set_size(w, (uint16_t)(n * 8));
	CHECK_INT(ringbuf_parse_sample(h, PERF_SAMPLE_IDENTIFIER | PERF_SAMPLE_IP |
				       PERF_SAMPLE_TID | PERF_SAMPLE_TIME |
				       PERF_SAMPLE_CPU | PERF_SAMPLE_PERIOD |
				       PERF_SAMPLE_CALLCHAIN, &s), 0);
	CHECK_INT(s.id, 77);
	CHECK_INT(s.ip, 0x400000);
	CHECK_INT(s.tid, 9);
	CHECK_INT(s.period, 250000);
	CHECK_INT(s.nr_callchain, 1);
	CHECK(s.regs == NULL && s.stack == NULL);
}

/* A sample that wraps the ring decodes from the scratch copy. */
static void test_wrapped_sample(void)
{
	uint64_t w[64];
	struct ringbuf rb;
	struct perf_sample s;
	const struct perf_event_header *h;
	size_t size = build_sample(w, 16, 16);
	int err;

	memset(&meta, 0, sizeof(meta));
	meta.data_head = meta.data_tail = DATA_SIZE - 16;
	ringbuf_init(&rb, &meta, data_words, DATA_SIZE);
	produce(w, size);
	CHECK(ringbuf_begin(&rb));
	h = ringbuf_next(&rb, &err);
	CHECK(h != NULL);
	if (h) {
		CHECK_INT(ringbuf_parse_sample(h, all_types, &s), 0);
		CHECK_INT(s.tid, 4321);
		CHECK_INT(s.stack_dyn_size, 16);
		CHECK(s.regs && s.regs[RB_R8] == 0x1000 + 12);
	}
	ringbuf_end(&rb);
	ringbuf_release(&rb);
}

/* Times of every kind of record (a sample's field, or the sample_id
 * trailer of the others), and a record put back unread. */
static void test_record_time(void)
{
	const uint64_t st = PERF_SAMPLE_IDENTIFIER | PERF_SAMPLE_IP |
			    PERF_SAMPLE_TID | PERF_SAMPLE_TIME |
			    PERF_SAMPLE_PERIOD | PERF_SAMPLE_CALLCHAIN;
	uint64_t w[16], t = 0, fork_rec[6], s2[8];
	struct perf_event_header h;
	struct ringbuf rb;
	int err;

	/* PERF_RECORD_COMM of "sh": pid/tid, comm padded to 8, then the
	 * trailer (pid/tid, time, identifier). */
	h = (struct perf_event_header){ .type = PERF_RECORD_COMM,
					.size = 8 + 8 + 8 + 24 };
	memcpy(w, &h, sizeof(h));
	w[1] = ((uint64_t)7 << 32) | 7;
	memcpy(&w[2], "sh\0\0\0\0\0\0", 8);
	w[3] = ((uint64_t)7 << 32) | 7;
	w[4] = 5550001;		/* time */
	w[5] = 42;		/* identifier */
	CHECK_INT(ringbuf_record_time((const void *)w, st, &t), 0);
	CHECK_INT(t, 5550001);
	/* Without the identifier the trailer is pid/tid and time: the last
	 * word is the time. */
	CHECK_INT(ringbuf_record_time((const void *)w,
				      st & ~(uint64_t)PERF_SAMPLE_IDENTIFIER, &t), 0);
	CHECK_INT(t, 42);
	CHECK_INT(ringbuf_record_time((const void *)w,
				      st & ~(uint64_t)PERF_SAMPLE_TIME, &t), -EINVAL);
	h.size = 16;
	memcpy(w, &h, sizeof(h));
	CHECK_INT(ringbuf_record_time((const void *)w, st, &t), -EBADMSG);

	/* A sample: its own time field. */
	h = (struct perf_event_header){ .type = PERF_RECORD_SAMPLE, .size = 64 };
	memcpy(s2, &h, sizeof(h));
	s2[1] = 9;			/* identifier */
	s2[2] = 0x400000;		/* ip */
	s2[3] = ((uint64_t)8 << 32) | 8;
	s2[4] = 123456;			/* time */
	s2[5] = 1000;			/* period */
	s2[6] = 1;			/* callchain nr */
	s2[7] = 0x400000;
	CHECK_INT(ringbuf_record_time((const void *)s2, st, &t), 0);
	CHECK_INT(t, 123456);

	/* Unread: the merge of rings peeks at a record and leaves it. */
	h = (struct perf_event_header){ .type = PERF_RECORD_FORK, .size = 48 };
	memcpy(fork_rec, &h, sizeof(h));
	for (int i = 1; i < 6; i++)
		fork_rec[i] = 600 + i;
	memset(&meta, 0, sizeof(meta));
	meta.data_head = meta.data_tail = DATA_SIZE - 24;	/* s2 wraps */
	ringbuf_init(&rb, &meta, data_words, DATA_SIZE);
	produce(fork_rec, sizeof(fork_rec));
	produce(s2, sizeof(s2));
	CHECK(ringbuf_begin(&rb));
	CHECK(same_record(ringbuf_next(&rb, &err), fork_rec));
	ringbuf_end(&rb);
	const struct perf_event_header *p = ringbuf_next(&rb, &err);
	CHECK(same_record(p, s2));
	if (p)
		ringbuf_unread(&rb, p);
	ringbuf_end(&rb);
	/* The kernel may not overwrite the sample put back. */
	CHECK_INT(meta.data_tail, DATA_SIZE - 24 + sizeof(fork_rec));
	CHECK(ringbuf_begin(&rb));
	CHECK(same_record(ringbuf_next(&rb, &err), s2));
	CHECK(ringbuf_next(&rb, &err) == NULL);
	ringbuf_end(&rb);
	CHECK_INT(meta.data_tail, meta.data_head);
	ringbuf_release(&rb);
}

/* What no kernel writes and a corrupt or hostile ring may hold: a record
 * size that is not a multiple of 8 (the next header was misaligned and,
 * near the end of the area, read past it), a misaligned tail, more
 * published than the area holds, a head behind the tail. Each is refused
 * and skipped, never read. */
static void test_hostile(void)
{
	struct ringbuf rb;
	uint64_t a[2], b[2];
	int err = 0;
	static const uint64_t tails[] = { 3, DATA_SIZE - 2, DATA_SIZE - 1 };

	/* size 12: the record is taken whole (it fits what was published),
	 * then the next header would sit at 12, misaligned. Refused. */
	memset(&meta, 0, sizeof(meta));
	memset(data_words, 0, sizeof(data_words));
	meta.data_head = meta.data_tail = DATA_SIZE - 16;
	make_record(a, PERF_RECORD_SAMPLE, sizeof(a), 1);
	set_size(a, 12);
	make_record(b, PERF_RECORD_SAMPLE, sizeof(b), 2);
	produce(a, sizeof(a));
	produce(b, sizeof(b));
	ringbuf_init(&rb, &meta, data_words, DATA_SIZE);
	CHECK(ringbuf_begin(&rb));
	CHECK(ringbuf_next(&rb, &err) == NULL);
	CHECK_INT(err, -EBADMSG);
	ringbuf_end(&rb);
	CHECK_INT(meta.data_tail, meta.data_head);

	/* A tail that is not 8-byte aligned, 2 bytes before the end of the
	 * area: reading a header there reads past the area. */
	for (size_t i = 0; i < sizeof(tails) / sizeof(tails[0]); i++) {
		meta.data_tail = 4 * DATA_SIZE + tails[i];
		meta.data_head = meta.data_tail + 64;
		CHECK(ringbuf_begin(&rb));
		err = 0;
		CHECK(ringbuf_next(&rb, &err) == NULL);
		CHECK_INT(err, -EBADMSG);
		ringbuf_end(&rb);
		CHECK_INT(meta.data_tail, meta.data_head);
	}

	/* More published than the area holds, and a head behind the tail. */
	meta.data_tail = 0;
	meta.data_head = DATA_SIZE + 8;
	CHECK(ringbuf_begin(&rb));
	CHECK(ringbuf_next(&rb, &err) == NULL);
	CHECK_INT(err, -EBADMSG);
	meta.data_tail = 64;
	meta.data_head = 8;
	CHECK(ringbuf_begin(&rb));
	CHECK(ringbuf_next(&rb, &err) == NULL);
	CHECK_INT(err, -EBADMSG);
	/* 4 bytes published: no whole header. */
	meta.data_tail = 8;
	meta.data_head = 12;
	CHECK(ringbuf_begin(&rb));
	CHECK(ringbuf_next(&rb, &err) == NULL);
	CHECK_INT(err, -EBADMSG);
	ringbuf_release(&rb);
}

int main(void)
{
	test_wrap();
	test_hostile();
	test_parse();
	test_wrapped_sample();
	test_record_time();
	return check_done();
}

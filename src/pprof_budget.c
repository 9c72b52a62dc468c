/*
 * pprof_budget.c - what decoding a profile.proto message will allocate,
 * found by walking its wire format before anything is allocated.
 *
 * protobuf-c's unpack allocates each sub-message, each repeated field's
 * array and each string separately: an empty sample is 2 bytes of input
 * and some 100 bytes decoded, so 32 MB of them (a 32 KB gzip) would take
 * gigabytes. The walk counts what the unpack will allocate, in the same
 * sizes, so that pprof_decode can refuse such input first (docs/design.md
 * §6.1). It also refuses what the unpack would: a length past the end, a
 * bad varint, a group.
 */
#include <errno.h>
#include <stdbool.h>

#include "pprof_budget.h"
#include "pprof_pb.h"

/* What malloc takes for n bytes (glibc: 8 bytes of header, 16-byte
 * chunks, 32 at least). */
static uint64_t pb_alloc(uint64_t n)
{
	uint64_t c = (n + 8 + 15) & ~(uint64_t)15;
	return n == 0 ? 0 : c < 32 ? 32 : c;
}

/* protobuf-c scans a message's fields into a list before it unpacks
 * them: 16 on the stack, then slabs of 32, 64, 128... entries of 32 bytes
 * (its ScannedMember), freed when the message is done. A message of n
 * field occurrences holds these while its sub-messages are unpacked. */
static uint64_t pb_slabs(uint64_t n)
{
	uint64_t cost = 0, room = 16;
	for (unsigned w = 1; room < n && w < 40; w++) {
		cost += pb_alloc((uint64_t)32 << (w + 4));
		room += (uint64_t)1 << (w + 4);
	}
	return cost;
}

static uint64_t pb_max(uint64_t a, uint64_t b)
{
	return a > b ? a : b;
}

struct pb_cursor {
	const uint8_t *p, *end;
};

static int pb_varint(struct pb_cursor *c, uint64_t *v)
{
	uint64_t x = 0;
	for (unsigned shift = 0; shift < 70; shift += 7) {
		if (c->p == c->end)
			return -EBADMSG;
		uint8_t b = *c->p++;
		if (shift == 63 && b > 1)
			return -EBADMSG;
		x |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80)) {
			*v = x;
			return 0;
		}
	}
	return -EBADMSG;
}

/* One field: its number and wire type; for wire type 2 its payload;
 * the bytes of its value after the key (with a length prefix). */
struct pb_field {
	uint64_t num;
	unsigned wt;
	const uint8_t *data;
	size_t len, vlen;
};

static int pb_value(struct pb_cursor *c, uint64_t key, struct pb_field *f);

static int pb_next(struct pb_cursor *c, struct pb_field *f)
{
	uint64_t key;
	int r = pb_varint(c, &key);
	if (r < 0)
		return r;
	const uint8_t *value = c->p;
	r = pb_value(c, key, f);
	f->vlen = (size_t)(c->p - value);
	return r;
}

static int pb_value(struct pb_cursor *c, uint64_t key, struct pb_field *f)
{
	uint64_t v;
	int r;

	f->num = key >> 3;
	f->wt = key & 7;
	f->data = NULL;
	f->len = 0;
	if (f->num == 0)
		return -EBADMSG;
	switch (f->wt) {
	case 0:
		return pb_varint(c, &v);
	case 1:
	case 5: {
		size_t n = f->wt == 1 ? 8 : 4;
		if ((size_t)(c->end - c->p) < n)
			return -EBADMSG;
		c->p += n;
		return 0;
	}
	case 2:
		r = pb_varint(c, &v);
		if (r < 0)
			return r;
		if (v > (uint64_t)(c->end - c->p))
			return -EBADMSG;
		f->data = c->p;
		f->len = (size_t)v;
		c->p += v;
		return 0;
	default:	/* groups (3, 4) and 6, 7: protobuf-c refuses them too */
		return -EBADMSG;
	}
}

/* Elements of a repeated integer field in this occurrence: one for a
 * plain varint, one per final byte of a packed run. */
static int pb_count_ints(const struct pb_field *f, uint64_t *n)
{
	if (f->wt == 0) {
		*n = 1;
		return 0;
	}
	if (f->wt != 2)
		return -EBADMSG;
	uint64_t k = 0;
	for (size_t i = 0; i < f->len; i++)
		k += !(f->data[i] & 0x80);
	if (f->len && (f->data[f->len - 1] & 0x80))
		return -EBADMSG;
	*n = k;
	return 0;
}

/* A field the schema does not know: protobuf-c keeps a copy of its value
 * (with its length prefix), and an entry in the message's array of them. */
static uint64_t pb_unknown_cost(const struct pb_field *f)
{
	return pb_alloc(f->vlen);
}

/* A message whose fields are all scalars (ValueType, Label, Mapping,
 * Line, Function), numbered 1 to last: the struct, and any unknown
 * field. */
static int pb_flat_cost(const uint8_t *p, size_t len, size_t size, unsigned last,
			uint64_t *cost, uint64_t *slabs)
{
	struct pb_cursor c = { p, p + len };
	struct pb_field f;
	uint64_t unknown = 0, n_unknown = 0, n = 0;

	while (c.p < c.end) {
		int r = pb_next(&c, &f);
		if (r < 0)
			return r;
		n++;
		if (f.num > last) {
			unknown += pb_unknown_cost(&f);
			n_unknown++;
		}
	}
	*cost += pb_alloc(size) + unknown + pb_alloc(n_unknown * sizeof(ProtobufCMessageUnknownField));
	*slabs = pb_max(*slabs, pb_slabs(n));
	return 0;
}

static int pb_sample_cost(const uint8_t *p, size_t len, uint64_t *cost, uint64_t *slabs)
{
	struct pb_cursor c = { p, p + len };
	struct pb_field f;
	uint64_t n_loc = 0, n_val = 0, n_label = 0, n_unknown = 0, n = 0, sub = 0;
	uint64_t child = 0, k;

	while (c.p < c.end) {
		int r = pb_next(&c, &f);
		if (r < 0)
			return r;
		n++;
		switch (f.num) {
		case 1:
		case 2:
			r = pb_count_ints(&f, &k);
			if (r < 0)
				return r;
			*(f.num == 1 ? &n_loc : &n_val) += k;
			break;
		case 3:
			if (f.wt != 2)
				return -EBADMSG;
			r = pb_flat_cost(f.data, f.len, sizeof(PbLabel), 4, &sub, &child);
			if (r < 0)
				return r;
			n_label++;
			break;
		default:
			sub += pb_unknown_cost(&f);
			n_unknown++;
		}
	}
	*cost += pb_alloc(sizeof(PbSample)) + pb_alloc(n_loc * 8) + pb_alloc(n_val * 8) +
		 pb_alloc(n_label * sizeof(void *)) +
		 pb_alloc(n_unknown * sizeof(ProtobufCMessageUnknownField)) + sub;
	*slabs = pb_max(*slabs, pb_slabs(n) + child);
	return 0;
}

static int pb_location_cost(const uint8_t *p, size_t len, uint64_t *cost, uint64_t *slabs)
{
	struct pb_cursor c = { p, p + len };
	struct pb_field f;
	uint64_t n_line = 0, n_unknown = 0, n = 0, sub = 0, child = 0;

	while (c.p < c.end) {
		int r = pb_next(&c, &f);
		if (r < 0)
			return r;
		n++;
		if (f.num == 4) {
			if (f.wt != 2)
				return -EBADMSG;
			r = pb_flat_cost(f.data, f.len, sizeof(PbLine), 3, &sub, &child);
			if (r < 0)
				return r;
			n_line++;
		} else if (f.num > 5) {
			sub += pb_unknown_cost(&f);
			n_unknown++;
		}
	}
	*cost += pb_alloc(sizeof(PbLocation)) + pb_alloc(n_line * sizeof(void *)) +
		 pb_alloc(n_unknown * sizeof(ProtobufCMessageUnknownField)) + sub;
	*slabs = pb_max(*slabs, pb_slabs(n) + child);
	return 0;
}

int pprof_budget_scan(const uint8_t *buf, size_t len, uint64_t *cost)
{
	struct pb_cursor c = { buf, buf + len };
	struct pb_field f;
	/* Elements of each repeated field of Profile, by field number. */
	uint64_t n[15] = { 0 }, sub = 0, k, total = 0, child = 0;
	int r;

	while (c.p < c.end) {
		r = pb_next(&c, &f);
		if (r < 0)
			return r;
		total++;
		bool msg = (f.num >= 1 && f.num <= 6) || f.num == 11;
		if (msg && f.wt != 2)
			return -EBADMSG;
		switch (f.num) {
		case 1:	/* sample_type */
		case 11:	/* period_type */
			r = pb_flat_cost(f.data, f.len, sizeof(PbValueType), 2, &sub, &child);
			break;
		case 2:
			r = pb_sample_cost(f.data, f.len, &sub, &child);
			break;
		case 3:
			r = pb_flat_cost(f.data, f.len, sizeof(PbMapping), 10, &sub, &child);
			break;
		case 4:
			r = pb_location_cost(f.data, f.len, &sub, &child);
			break;
		case 5:
			r = pb_flat_cost(f.data, f.len, sizeof(PbFunction), 5, &sub, &child);
			break;
		case 6:	/* string_table */
			sub += pb_alloc(f.len + 1);
			break;
		case 13:	/* comment: repeated int64 */
			r = pb_count_ints(&f, &k);
			if (r < 0)
				return r;
			n[13] += k;
			continue;
		case 7: case 8: case 9: case 10: case 12: case 14:
			break;
		default:
			sub += pb_unknown_cost(&f);
			n[0]++;
			continue;
		}
		if (r < 0)
			return r;
		n[f.num]++;
	}
	uint64_t arrays = 0;
	for (unsigned i = 1; i <= 6; i++)
		arrays += pb_alloc(n[i] * sizeof(void *));
	arrays += pb_alloc(n[13] * 8) + pb_alloc(n[0] * sizeof(ProtobufCMessageUnknownField));
	/* The top level's scan list lives through the whole unpack, a
	 * sub-message's only through its own. */
	*cost = pb_alloc(sizeof(PbProfile)) + arrays + sub + pb_slabs(total) + child;
	return 0;
}

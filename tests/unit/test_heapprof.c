/*
 * test_heapprof.c - the heap profile's values from sampled allocations:
 * Go's scaling, the four sample types, in use from the live set, one-in-N
 * weights, the "bytes" label and Go's debug=1 text.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "heapprof.h"
#include "profile.h"

#define RATE 524288

/* Go's scaleHeapSample, figures computed apart (python3, math.exp). */
static void test_scale(void)
{
	int64_t o, b;

	heapprof_scale(1, 1024, RATE, &o, &b);
	CHECK_INT(o, 512);
	CHECK_INT(b, 524800);
	heapprof_scale(3, 3 * RATE, RATE, &o, &b);
	CHECK_INT(o, 4);
	CHECK_INT(b, 2488234);
	heapprof_scale(2, 200, RATE, &o, &b);
	CHECK_INT(o, 10486);
	CHECK_INT(b, 1048676);
	heapprof_scale(5, 5 * 4096, RATE, &o, &b);
	CHECK_INT(o, 642);
	CHECK_INT(b, 2631693);
	heapprof_scale(1, 16, RATE, &o, &b);
	CHECK_INT(o, 32768);
	CHECK_INT(b, 524296);
	/* Go's edge cases: nothing sampled, and rate 1 (every block). */
	heapprof_scale(0, 0, RATE, &o, &b);
	CHECK_INT(o, 0);
	CHECK_INT(b, 0);
	heapprof_scale(7, 700, 1, &o, &b);
	CHECK_INT(o, 7);
	CHECK_INT(b, 700);
}

/* A base profile as a recording makes it: two functions, three
 * locations (main -> work -> leaf call sites). */
static struct profile *base_profile(uint64_t loc[3])
{
	struct profile *p = profile_new();
	uint64_t m = profile_add_mapping(p, 0x400000, 0x500000, 0, "/bin/app", "abcd");
	uint64_t fmain = profile_function(p, "main", "main", "/src/app.c", 10);
	uint64_t fwork = profile_function(p, "work", "work", "/src/app.c", 30);
	uint64_t fkeep = profile_function(p, "keep", "keep", "/src/app.c", 50);
	struct profile_line l;

	l = (struct profile_line){ fwork, 33 };
	loc[0] = profile_location(p, m, 0x401233, &l, 1);	/* leaf: call - 1 */
	l = (struct profile_line){ fmain, 12 };
	loc[1] = profile_location(p, m, 0x400456, &l, 1);	/* return address */
	l = (struct profile_line){ fkeep, 52 };
	loc[2] = profile_location(p, m, 0x401777, &l, 1);
	profile_add_comment(p, "pid: 42");
	return p;
}

static int type_index(const struct profile *p, const char *type, const char *unit)
{
	for (size_t i = 0; i < p->nsample_types; i++)
		if (!strcmp(profile_str(p, p->sample_types[i].type), type) &&
		    !strcmp(profile_str(p, p->sample_types[i].unit), unit))
			return (int)i;
	return -1;
}

/* Live set of the test: the ids listed are alive. */
struct live { uint64_t ids[8]; size_t n; };
static bool is_live(void *arg, uint64_t addr, uint64_t id)
{
	struct live *l = arg;
	(void)addr;
	for (size_t i = 0; i < l->n; i++)
		if (l->ids[i] == id)
			return true;
	return false;
}

static const struct profile_sample *sample_of(const struct profile *p, uint64_t leaf,
					      int64_t bytes_label)
{
	for (size_t i = 0; i < p->nsamples; i++) {
		const struct profile_sample *s = &p->samples[i];
		if (s->nlocations && s->location_ids[0] == leaf && s->nlabels == 1 &&
		    !strcmp(profile_str(p, s->labels[0].key), "bytes") &&
		    s->labels[0].num == bytes_label)
			return s;
	}
	return NULL;
}

static void test_profile_shape(void)
{
	uint64_t loc[3];
	struct profile *base = base_profile(loc);
	struct heapprof *hp = heapprof_new(RATE);
	uint64_t work[2] = { loc[0], loc[1] }, keep[2] = { loc[2], loc[1] };

	/* work: three 1 KiB blocks, freed; keep: two 4 KiB blocks, one
	 * still allocated; a third with id 0 (untracked). */
	CHECK_INT(heapprof_add(hp, work, 2, 1024, 0, 0x10000, 1), 0);
	CHECK_INT(heapprof_add(hp, work, 2, 1024, 0, 0x10400, 2), 0);
	CHECK_INT(heapprof_add(hp, work, 2, 1024, 0, 0x10800, 3), 0);
	CHECK_INT(heapprof_add(hp, keep, 2, 4096, 0, 0x20000, 4), 0);
	CHECK_INT(heapprof_add(hp, keep, 2, 4096, 0, 0x21000, 5), 0);
	CHECK_INT(heapprof_add(hp, keep, 2, 4096, 0, 0x22000, 0), 0);
	CHECK_INT(heapprof_records(hp), 2);
	CHECK_INT(heapprof_blocks(hp), 5);

	struct live live = { .ids = { 5 }, .n = 1 };
	heapprof_update(hp, is_live, &live);
	/* Freed blocks are forgotten: they never come back. */
	CHECK_INT(heapprof_blocks(hp), 1);

	struct heapprof_info info = { .method = "inject", .samples = 6, .dropped = 0,
				      .untracked = 1 };
	struct profile *p = NULL;
	CHECK_INT(heapprof_profile(hp, base, HEAPPROF_HEAP, &info, &p), 0);
	CHECK(p != NULL);
	if (!p)
		goto out;
	CHECK_INT(p->nsample_types, 4);
	CHECK_INT(type_index(p, "alloc_objects", "count"), 0);
	CHECK_INT(type_index(p, "alloc_space", "bytes"), 1);
	CHECK_INT(type_index(p, "inuse_objects", "count"), 2);
	CHECK_INT(type_index(p, "inuse_space", "bytes"), 3);
	CHECK_STR(profile_str(p, p->period_type.type), "space");
	CHECK_STR(profile_str(p, p->period_type.unit), "bytes");
	CHECK_INT(p->period, RATE);
	CHECK_STR(profile_str(p, p->default_sample_type), "inuse_space");
	CHECK_INT(p->nsamples, 2);

	const struct profile_sample *sw = sample_of(p, loc[0], 1024);
	const struct profile_sample *sk = sample_of(p, loc[2], 4096);
	CHECK(sw && sk);
	if (sw && sk) {
		int64_t o, b;
		heapprof_scale(3, 3 * 1024, RATE, &o, &b);
		CHECK_INT(sw->values[0], o);
		CHECK_INT(sw->values[1], b);
		CHECK_INT(sw->values[2], 0);
		CHECK_INT(sw->values[3], 0);
		heapprof_scale(3, 3 * 4096, RATE, &o, &b);
		CHECK_INT(sk->values[0], o);
		CHECK_INT(sk->values[1], b);
		heapprof_scale(1, 4096, RATE, &o, &b);
		CHECK_INT(sk->values[2], o);
		CHECK_INT(sk->values[3], b);
		CHECK_INT(sk->values[3], 526338);	/* python3: 4096/(1-e^(-4096/524288)) */
	}
	/* The base's tables and comments came along; ours say what in use is. */
	CHECK_INT(p->nlocations, 3);
	CHECK(profile_location_by_id(p, loc[2]) != NULL);
	bool said_inuse = false, said_pid = false, said_counts = false;
	for (size_t i = 0; i < p->ncomments; i++) {
		const char *c = profile_str(p, p->comments[i]);
		said_pid |= !strcmp(c, "pid: 42");
		said_inuse |= strstr(c, "allocated since sampling began and not yet freed") != NULL;
		said_counts |= strstr(c, "6 sampled allocations, 0 dropped") != NULL &&
			       strstr(c, "1 untracked") != NULL;
	}
	CHECK(said_pid);
	CHECK(said_inuse);
	CHECK(said_counts);
	profile_free(p);

	/* Samples dropped with the ring full are made up for: 3 lost beside
	 * 6 read weigh every value 1.5 times. */
	struct heapprof_info lossy = info;
	lossy.dropped = 3;
	CHECK(heapprof_drop_factor(&lossy) == 1.5);
	CHECK(heapprof_drop_factor(&info) == 1.0);
	CHECK_INT(heapprof_profile(hp, base, HEAPPROF_HEAP, &lossy, &p), 0);
	if (p) {
		const struct profile_sample *lk = sample_of(p, loc[2], 4096);
		bool said = false;
		CHECK(lk != NULL);
		if (lk)
			CHECK_INT(lk->values[3], 789507);	/* 526338 * 1.5, rounded */
		for (size_t i = 0; i < p->ncomments; i++)
			said |= strstr(profile_str(p, p->comments[i]),
				       "multiplied by 1.5000") != NULL;
		CHECK(said);
		profile_free(p);
	}

	/* allocs: the same values, alloc_space by default. */
	CHECK_INT(heapprof_profile(hp, base, HEAPPROF_ALLOCS, &info, &p), 0);
	if (p) {
		CHECK_STR(profile_str(p, p->default_sample_type), "alloc_space");
		CHECK_INT(p->nsamples, 2);
		profile_free(p);
	}

	/* Once the last kept block is freed, nothing is in use. */
	live.n = 0;
	heapprof_update(hp, is_live, &live);
	CHECK_INT(heapprof_blocks(hp), 0);
	CHECK_INT(heapprof_profile(hp, base, HEAPPROF_HEAP, &info, &p), 0);
	if (p) {
		for (size_t i = 0; i < p->nsamples; i++) {
			CHECK_INT(p->samples[i].values[2], 0);
			CHECK_INT(p->samples[i].values[3], 0);
			CHECK(p->samples[i].values[1] > 0);
		}
		profile_free(p);
	}
out:
	heapprof_free(hp);
	profile_free(base);
}

/* uprobes: one call in N, each sample counted N times, no scaling. */
static void test_calls(void)
{
	uint64_t loc[3];
	struct profile *base = base_profile(loc);
	struct heapprof *hp = heapprof_new(RATE);
	uint64_t work[1] = { loc[0] };
	struct profile *p = NULL;

	heapprof_add(hp, work, 1, 100, 64, 0x1000, 1);
	heapprof_add(hp, work, 1, 100, 64, 0x2000, 2);
	struct live live = { .ids = { 2 }, .n = 1 };
	heapprof_update(hp, is_live, &live);
	struct heapprof_info info = { .method = "uprobe", .calls_period = 64 };
	CHECK_INT(heapprof_profile(hp, base, HEAPPROF_ALLOCS, &info, &p), 0);
	if (p) {
		CHECK_INT(p->nsamples, 1);
		CHECK_INT(p->samples[0].values[0], 128);
		CHECK_INT(p->samples[0].values[1], 12800);
		CHECK_INT(p->samples[0].values[2], 64);
		CHECK_INT(p->samples[0].values[3], 6400);
		profile_free(p);
	}
	heapprof_free(hp);
	profile_free(base);
}

static bool offset_of(void *arg, uint64_t addr, uint64_t *off)
{
	(void)arg;
	if (addr >= 0x401200 && addr < 0x401300) {	/* work starts at 0x401200 */
		*off = addr - 0x401200;
		return true;
	}
	return false;
}

/* Go's debug=1 text on a known input: header totals, most bytes in use
 * first, return addresses (the leaf's call site + 1), "#" frame lines at
 * the call (the return address - 1, as Go's runtime.CallersFrames gives
 * it) with its offset in the function. */
static void test_text(void)
{
	uint64_t loc[3];
	struct profile *base = base_profile(loc);
	struct heapprof *hp = heapprof_new(RATE);
	uint64_t work[2] = { loc[0], loc[1] }, keep[2] = { loc[2], loc[1] };

	heapprof_add(hp, work, 2, 1024, 0, 0x10000, 1);
	heapprof_add(hp, work, 2, 1024, 0, 0x10400, 2);
	heapprof_add(hp, work, 2, 1024, 0, 0x10800, 3);
	heapprof_add(hp, keep, 2, 4096, 0, 0x20000, 4);
	struct live live = { .ids = { 1, 4 }, .n = 2 };
	heapprof_update(hp, is_live, &live);

	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	CHECK_INT(heapprof_text(hp, base, offset_of, NULL, f), 0);
	fclose(f);
	const char *want =
		"heap profile: 2: 5120 [4: 7168] @ heap/1048576\n"
		"1: 4096 [1: 4096] @ 0x401778 0x400456\n"
		"#\t0x401777\tkeep\t/src/app.c:52\n"
		"#\t0x400455\tmain\t/src/app.c:12\n"
		"\n"
		"1: 1024 [3: 3072] @ 0x401234 0x400456\n"
		"#\t0x401233\twork+0x33\t/src/app.c:33\n"
		"#\t0x400455\tmain\t/src/app.c:12\n"
		"\n";
	CHECK_STR(buf, want);
	free(buf);
	heapprof_free(hp);
	profile_free(base);
}

int main(void)
{
	test_scale();
	test_profile_shape();
	test_calls();
	test_text();
	return check_done();
}

/* test_profile.c - interning and sample merging in the in-memory profile. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "profile.h"

static void test_strings(void)
{
	struct profile *p = profile_new();
	CHECK(p != NULL);
	CHECK_INT(p->nstrings, 1);
	CHECK_STR(p->strings[0], "");
	CHECK_INT(profile_string(p, ""), 0);
	CHECK_INT(profile_string(p, NULL), 0);
	int64_t a = profile_string(p, "alpha");
	int64_t b = profile_string(p, "beta");
	CHECK(a > 0 && b > 0 && a != b);
	CHECK_INT(profile_string(p, "alpha"), a);
	CHECK_INT(profile_string(p, "beta"), b);
	CHECK_STR(profile_str(p, a), "alpha");
	CHECK(profile_str(p, -1) == NULL);
	CHECK(profile_str(p, (int64_t)p->nstrings) == NULL);
	CHECK_INT(p->nstrings, 3);
	profile_free(p);
}

static void test_functions_locations(void)
{
	struct profile *p = profile_new();
	uint64_t m = profile_add_mapping(p, 0x400000, 0x500000, 0, "/bin/x", "abcd");
	CHECK_INT(m, 1);
	CHECK(profile_mapping(p, m) != NULL);
	CHECK(profile_mapping(p, 99) == NULL);
	uint64_t m2 = profile_add_mapping(p, 0x400000, 0x500000, 0, "/bin/x", "abcd");
	CHECK_INT(m2, 2);	/* mappings are never merged */

	uint64_t f1 = profile_function(p, "main", "main", "x.c", 10);
	uint64_t f2 = profile_function(p, "work", NULL, "x.c", 20);
	uint64_t f1b = profile_function(p, "main", "main", "x.c", 10);
	uint64_t f3 = profile_function(p, "main", "main", "y.c", 10);
	CHECK_INT(f1, 1);
	CHECK_INT(f2, 2);
	CHECK_INT(f1b, f1);
	CHECK_INT(f3, 3);
	CHECK_INT(p->nfunctions, 3);
	CHECK_STR(p->strings[p->functions[1].name], "work");
	CHECK_INT(p->functions[1].system_name, 0);

	struct profile_line l1[] = { { f2, 21 }, { f1, 11 } };
	struct profile_line l2[] = { { f2, 21 } };
	uint64_t a = profile_location(p, m, 0x401000, l1, 2);
	uint64_t b = profile_location(p, m, 0x401000, l2, 1);
	uint64_t c = profile_location(p, m, 0x401000, l1, 2);
	uint64_t d = profile_location(p, m2, 0x401000, l1, 2);
	uint64_t e = profile_location(p, m, 0x401004, NULL, 0);
	CHECK_INT(a, 1);
	CHECK(b != a);
	CHECK_INT(c, a);
	CHECK(d != a && d != b);
	CHECK(e != a && e != b && e != d);
	CHECK_INT(p->nlocations, 4);
	const struct profile_location *la = profile_location_by_id(p, a);
	CHECK(la != NULL && la->nlines == 2 && la->lines[0].function_id == f2 &&
	      la->lines[1].line == 11);
	CHECK(la != NULL && la->lines != l1);	/* copied */
	CHECK(profile_function_by_id(p, f3) == &p->functions[2]);
	CHECK(profile_function_by_id(p, 0) == NULL);
	CHECK(profile_location_by_id(p, 1000) == NULL);
	profile_free(p);
}

static void test_samples(void)
{
	struct profile *p = profile_new();
	CHECK_INT(profile_add_sample_type(p, "samples", "count"), 0);
	CHECK_INT(profile_add_sample_type(p, "cpu", "nanoseconds"), 0);
	CHECK_INT(profile_set_period(p, "cpu", "nanoseconds", 10000000), 0);
	CHECK_INT(profile_add_comment(p, "hello"), 0);
	CHECK_INT(p->ncomments, 1);
	CHECK_STR(p->strings[p->comments[0]], "hello");

	uint64_t f = profile_function(p, "f", NULL, NULL, 0);
	struct profile_line ln = { f, 1 };
	uint64_t loc1 = profile_location(p, 0, 0x10, &ln, 1);
	uint64_t loc2 = profile_location(p, 0, 0x20, NULL, 0);
	uint64_t st1[] = { loc1, loc2 }, st2[] = { loc2, loc1 };
	int64_t v[] = { 1, 10 };
	struct profile_label_in t1[] = {
		{ .key = "thread_id", .num = 100 },
		{ .key = "thread_name", .str = "main" },
	};
	struct profile_label_in t2[] = {
		{ .key = "thread_id", .num = 101 },
		{ .key = "thread_name", .str = "main" },
	};
	CHECK_INT(profile_add_sample(p, st1, 2, v, t1, 2), 0);
	CHECK_INT(profile_add_sample(p, st1, 2, v, t1, 2), 0);
	CHECK_INT(p->nsamples, 1);
	CHECK_INT(p->samples[0].values[0], 2);
	CHECK_INT(p->samples[0].values[1], 20);
	CHECK_INT(profile_add_sample(p, st2, 2, v, t1, 2), 0);	/* other stack */
	CHECK_INT(profile_add_sample(p, st1, 2, v, t2, 2), 0);	/* other tid */
	CHECK_INT(profile_add_sample(p, st1, 2, v, NULL, 0), 0);	/* no labels */
	CHECK_INT(profile_add_sample(p, st1, 1, v, t1, 2), 0);	/* shorter */
	CHECK_INT(p->nsamples, 5);
	CHECK_INT(profile_add_sample(p, st1, 2, v, t2, 2), 0);
	CHECK_INT(p->nsamples, 5);
	CHECK_INT(p->samples[2].values[1], 20);
	CHECK_INT(p->samples[0].nlabels, 2);
	CHECK_STR(p->strings[p->samples[0].labels[1].str], "main");
	CHECK_INT(p->samples[0].labels[0].num, 100);
	CHECK_INT(p->samples[0].labels[0].str, 0);
	/* Value arrays have a fixed length once samples exist. */
	CHECK_INT(profile_add_sample_type(p, "late", "count"), -EINVAL);
	profile_free(p);
}

static void test_raw(void)
{
	struct profile *p = profile_new();
	CHECK_INT(profile_append_raw_string(p, "x"), 0);
	CHECK_INT(profile_append_raw_string(p, "x"), 0);	/* kept: file order */
	CHECK_INT(p->nstrings, 3);
	CHECK_INT(profile_string(p, "x"), 1);
	struct profile_function f = { .id = 7, .name = 1 };
	CHECK_INT(profile_append_raw_function(p, &f), 0);
	CHECK(profile_function_by_id(p, 7) == &p->functions[0]);
	/* Interning after raw appends never reuses an id. */
	uint64_t id = profile_function(p, "y", NULL, NULL, 0);
	CHECK_INT(id, 8);
	struct profile_line ln = { 7, 3 };
	struct profile_location l = { .id = 5, .nlines = 1, .lines = &ln };
	CHECK_INT(profile_append_raw_location(p, &l), 0);
	CHECK(profile_location_by_id(p, 5) != NULL);
	CHECK(profile_location_by_id(p, 4) == NULL);
	struct profile_mapping m = { .id = 3 };
	CHECK_INT(profile_append_raw_mapping(p, &m), 0);
	CHECK(profile_mapping(p, 3) == &p->mappings[0]);
	CHECK_INT(profile_add_mapping(p, 0, 1, 0, "z", NULL), 4);
	CHECK_INT(profile_append_raw_sample_type(p,
		(struct profile_value_type){ .type = 1, .unit = 1 }), 0);
	uint64_t locs[] = { 5 };
	int64_t vals[] = { 42 };
	struct profile_sample s = { .nlocations = 1, .location_ids = locs, .values = vals };
	CHECK_INT(profile_append_raw_sample(p, &s), 0);
	CHECK_INT(profile_append_raw_sample(p, &s), 0);	/* not merged */
	CHECK_INT(p->nsamples, 2);
	CHECK(p->samples[0].values != vals);
	CHECK_INT(p->samples[1].values[0], 42);
	profile_free(p);
}

/* 100k distinct strings, functions, locations and samples, then a million
 * merged adds: a quadratic table would not finish within the test timeout. */
static void test_growth(void)
{
	enum { N = 100000 };
	struct profile *p = profile_new();
	CHECK_INT(profile_add_sample_type(p, "samples", "count"), 0);
	char name[32];
	uint64_t *locs = malloc(N * sizeof(*locs));
	int bad = 0;
	for (int i = 0; i < N; i++) {
		snprintf(name, sizeof(name), "fn_%d", i);
		uint64_t f = profile_function(p, name, name, "file.c", i);
		struct profile_line ln = { f, i };
		locs[i] = profile_location(p, 0, 0x1000 + (uint64_t)i * 4, &ln, 1);
		if (f != (uint64_t)i + 1 || locs[i] != (uint64_t)i + 1)
			bad++;
	}
	CHECK_INT(bad, 0);
	CHECK_INT(p->nfunctions, N);
	CHECK_INT(p->nlocations, N);
	CHECK_INT(p->nstrings, N + 4);	/* "", samples, count, file.c */
	/* Everything is found again. */
	for (int i = 0; i < N; i += 7) {
		snprintf(name, sizeof(name), "fn_%d", i);
		if (profile_function(p, name, name, "file.c", i) != (uint64_t)i + 1)
			bad++;
		if (profile_location_by_id(p, (uint64_t)i + 1) != &p->locations[i])
			bad++;
	}
	CHECK_INT(bad, 0);
	int64_t one = 1;
	for (int i = 0; i < 1000000; i++) {
		uint64_t st[2] = { locs[(size_t)i * 7919 % N], locs[i % 13] };
		if (profile_add_sample(p, st, 2, &one, NULL, 0) < 0)
			bad++;
	}
	CHECK_INT(bad, 0);
	int64_t total = 0;
	for (size_t i = 0; i < p->nsamples; i++)
		total += p->samples[i].values[0];
	CHECK_INT(total, 1000000);
	CHECK(p->nsamples <= 1000000 && p->nsamples >= (size_t)N);
	free(locs);
	profile_free(p);
}

/* A goroutine-like profile: two stacks in a.out, one in [vdso]. */
static struct profile *sample_profile(int64_t n1, int64_t n2, int64_t n3,
				      int64_t time)
{
	struct profile *p = profile_new();
	CHECK(profile_add_sample_type(p, "goroutine", "count") == 0);
	CHECK(profile_set_period(p, "goroutine", "count", 1) == 0);
	CHECK(profile_add_comment(p, "a comment") == 0);
	p->time_nanos = time;
	uint64_t m1 = profile_add_mapping(p, 0x1000, 0x2000, 0, "/bin/a.out", "abcd");
	uint64_t m2 = profile_add_mapping(p, 0x7000, 0x8000, 0, "[vdso]", "");
	profile_mapping(p, m1)->has_functions = true;
	profile_mapping(p, m2)->has_functions = true;
	struct profile_line l1 = { profile_function(p, "main", "main", "a.c", 3), 10 };
	struct profile_line l2 = { profile_function(p, "work", "work", "a.c", 20), 22 };
	struct profile_line l3 = { profile_function(p, "__vdso_clock_gettime", NULL, NULL, 0), 0 };
	uint64_t a = profile_location(p, m1, 0x1100, &l1, 1);
	uint64_t b = profile_location(p, m1, 0x1200, &l2, 1);
	uint64_t c = profile_location(p, m2, 0x7010, &l3, 1);
	uint64_t s1[] = { b, a }, s3[] = { c, b, a };
	struct profile_label_in lab = { .key = "thread_name", .str = "worker" };
	if (n1)
		CHECK(profile_add_sample(p, s1, 2, &n1, NULL, 0) == 0);
	if (n2)
		CHECK(profile_add_sample(p, s1, 2, &n2, &lab, 1) == 0);
	if (n3)
		CHECK(profile_add_sample(p, s3, 3, &n3, NULL, 0) == 0);
	return p;
}

/* The value of the sample whose leaf is at addr, with (labelled) or
 * without a label; INT64_MIN when absent. */
static int64_t value_at(const struct profile *p, uint64_t addr, bool labelled)
{
	for (size_t i = 0; i < p->nsamples; i++) {
		const struct profile_sample *s = &p->samples[i];
		const struct profile_location *l =
			profile_location_by_id(p, s->location_ids[0]);
		if (l && l->address == addr && (s->nlabels > 0) == labelled &&
		    s->nlocations == (addr == 0x7010 ? 3u : 2u))
			return s->values[0];
	}
	return INT64_MIN;
}

static void test_strip(void)
{
	struct profile *in = sample_profile(2, 3, 4, 77), *out = NULL;
	CHECK_INT(profile_strip_symbols(in, &out), 0);
	if (!out)
		goto done;
	CHECK_INT(out->nsamples, 3);
	CHECK_INT(out->nmappings, 2);
	CHECK_INT(out->time_nanos, 77);
	CHECK_INT(out->ncomments, 1);
	CHECK_STR(profile_str(out, out->sample_types[0].type), "goroutine");
	CHECK_STR(profile_str(out, out->mappings[0].filename), "/bin/a.out");
	CHECK_STR(profile_str(out, out->mappings[0].build_id), "abcd");
	CHECK(!out->mappings[0].has_functions);	/* pprof asks /symbol */
	CHECK(out->mappings[1].has_functions);	/* [vdso]: kept */
	size_t named = 0;
	for (size_t i = 0; i < out->nlocations; i++) {
		const struct profile_location *l = &out->locations[i];
		if (l->address == 0x7010) {
			CHECK_INT(l->nlines, 1);
			named++;
		} else {
			CHECK_INT(l->nlines, 0);
		}
	}
	CHECK_INT(named, 1);
	CHECK_INT(out->nfunctions, 1);
	CHECK_INT(value_at(out, 0x1200, false), 2);
	CHECK_INT(value_at(out, 0x1200, true), 3);
	CHECK_INT(value_at(out, 0x7010, false), 4);
done:
	profile_free(in);
	profile_free(out);
}

static void test_delta(void)
{
	/* before: 2, 3, 4; after: 5, 3, 1 (the labelled one unchanged, the
	 * [vdso] one fewer). Built apart: ids match by accident only. */
	struct profile *before = sample_profile(2, 3, 4, 1000);
	struct profile *after = sample_profile(5, 3, 1, 4000), *d = NULL;
	CHECK_INT(profile_delta(before, after, &d), 0);
	if (!d)
		goto done;
	CHECK_INT(d->nsamples, 2);			/* 3 - 3 dropped */
	CHECK_INT(value_at(d, 0x1200, false), 3);
	CHECK_INT(value_at(d, 0x1200, true), INT64_MIN);
	CHECK_INT(value_at(d, 0x7010, false), -3);	/* negative kept */
	CHECK_INT(d->nmappings, 2);			/* merged by content */
	CHECK_INT(d->time_nanos, 4000);
	CHECK_INT(d->duration_nanos, 3000);
	CHECK_STR(profile_str(d, d->sample_types[0].type), "goroutine");
	CHECK_STR(profile_str(d, d->period_type.type), "goroutine");
	CHECK(d->mappings[0].has_functions);		/* not stripped */
	const struct profile_location *l = NULL;
	for (size_t i = 0; i < d->nlocations; i++)
		if (d->locations[i].address == 0x1200)
			l = &d->locations[i];
	CHECK(l && l->nlines == 1);
	if (l && l->nlines) {
		const struct profile_function *f =
			profile_function_by_id(d, l->lines[0].function_id);
		CHECK(f && !strcmp(profile_str(d, f->name), "work"));
	}
	profile_free(d);
	d = NULL;

	/* A stack that appears only before comes out negative. */
	struct profile *empty = sample_profile(0, 0, 0, 5000);
	CHECK_INT(profile_delta(after, empty, &d), 0);
	CHECK(d && d->nsamples == 3);
	if (d)
		CHECK_INT(value_at(d, 0x1200, false), -5);
	profile_free(d);
	d = NULL;

	/* Different sample types: no delta. */
	struct profile *other = profile_new();
	profile_add_sample_type(other, "samples", "count");
	CHECK_INT(profile_delta(before, other, &d), -EINVAL);
	profile_free(other);
	profile_free(empty);
done:
	profile_free(before);
	profile_free(after);
}

static void test_unsymbolizable(void)
{
	/* pprof's Mapping.Unsymbolizable */
	CHECK(profile_unsymbolizable_mapping("[kernel]"));
	CHECK(profile_unsymbolizable_mapping("[vdso]"));
	CHECK(profile_unsymbolizable_mapping("/x/[weird]"));
	CHECK(profile_unsymbolizable_mapping("linux-vdso.so.1"));
	CHECK(profile_unsymbolizable_mapping("/dev/dri/renderD128"));
	CHECK(!profile_unsymbolizable_mapping("/usr/lib/x86_64-linux-gnu/libc.so.6"));
	CHECK(!profile_unsymbolizable_mapping(""));
}

int main(void)
{
	test_strings();
	test_functions_locations();
	test_samples();
	test_raw();
	test_growth();
	test_strip();
	test_delta();
	test_unsymbolizable();
	return check_done();
}

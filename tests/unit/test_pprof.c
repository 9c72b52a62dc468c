/*
 * test_pprof.c - profile.proto encoding and decoding, checked against our
 * own decoder and against an independent reader (go tool pprof), plus the
 * corrupt-input paths and reading files (writing them is test_outfile's).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "outfile.h"
#include "pprof.h"
#include "pprof_budget.h"
#include "pprof_pb.h"

/* Two functions inlined into a third, a mapping, labels, comments: every
 * part of the format that we write. */
static struct profile *make_profile(void)
{
	struct profile *p = profile_new();
	CHECK_INT(profile_add_sample_type(p, "samples", "count"), 0);
	CHECK_INT(profile_add_sample_type(p, "cpu", "nanoseconds"), 0);
	CHECK_INT(profile_set_period(p, "cpu", "nanoseconds", 10000000), 0);
	CHECK_INT(profile_add_comment(p, "cmdline: ./prog --arg"), 0);
	p->time_nanos = 1700000000123456789LL;
	p->duration_nanos = 2500000000LL;
	uint64_t m = profile_add_mapping(p, 0x400000, 0x401000, 0x1000,
					 "/usr/bin/prog", "0123abcd");
	struct profile_mapping *pm = profile_mapping(p, m);
	pm->has_functions = pm->has_filenames = pm->has_line_numbers = true;
	uint64_t fmain = profile_function(p, "main", "main", "prog.c", 10);
	uint64_t fwork = profile_function(p, "work_alpha", "_Z10work_alphav", "prog.c", 20);
	uint64_t fleaf = profile_function(p, "leaf_beta", NULL, "leaf.h", 30);
	struct profile_line lmain = { fmain, 12 };
	struct profile_line lwork[] = { { fleaf, 31 }, { fwork, 22 } };	/* inline */
	uint64_t a = profile_location(p, m, 0x400100, &lmain, 1);
	uint64_t b = profile_location(p, m, 0x400200, lwork, 2);
	uint64_t c = profile_location(p, m, 0x400300, NULL, 0);
	uint64_t st1[] = { b, a }, st2[] = { a }, st3[] = { c, b, a };
	struct profile_label_in lab[] = {
		{ .key = "thread_id", .num = 4242 },
		{ .key = "thread_name", .str = "worker" },
	};
	int64_t v1[] = { 7, 70000000 }, v2[] = { 3, 30000000 }, v3[] = { 1, 10000000 };
	CHECK_INT(profile_add_sample(p, st1, 2, v1, lab, 2), 0);
	CHECK_INT(profile_add_sample(p, st2, 1, v2, lab, 1), 0);
	CHECK_INT(profile_add_sample(p, st3, 3, v3, NULL, 0), 0);
	return p;
}

/* Decoding keeps indexes and ids, so equal means equal arrays. */
static int profile_equal(const struct profile *a, const struct profile *b)
{
	if (a->nstrings != b->nstrings || a->nsample_types != b->nsample_types ||
	    a->nmappings != b->nmappings || a->nlocations != b->nlocations ||
	    a->nfunctions != b->nfunctions || a->nsamples != b->nsamples ||
	    a->ncomments != b->ncomments || a->period != b->period ||
	    a->time_nanos != b->time_nanos || a->duration_nanos != b->duration_nanos ||
	    a->period_type.type != b->period_type.type ||
	    a->period_type.unit != b->period_type.unit)
		return 0;
	for (size_t i = 0; i < a->nstrings; i++)
		if (strcmp(a->strings[i], b->strings[i]))
			return 0;
	if (memcmp(a->sample_types, b->sample_types,
		   a->nsample_types * sizeof(*a->sample_types)) ||
	    memcmp(a->comments, b->comments, a->ncomments * sizeof(*a->comments)) ||
	    memcmp(a->functions, b->functions, a->nfunctions * sizeof(*a->functions)))
		return 0;
	for (size_t i = 0; i < a->nmappings; i++) {
		const struct profile_mapping *x = &a->mappings[i], *y = &b->mappings[i];
		if (x->id != y->id || x->start != y->start || x->limit != y->limit ||
		    x->offset != y->offset || x->filename != y->filename ||
		    x->build_id != y->build_id || x->has_functions != y->has_functions ||
		    x->has_filenames != y->has_filenames ||
		    x->has_line_numbers != y->has_line_numbers ||
		    x->has_inline_frames != y->has_inline_frames)
			return 0;
	}
	for (size_t i = 0; i < a->nlocations; i++) {
		const struct profile_location *x = &a->locations[i], *y = &b->locations[i];
		if (x->id != y->id || x->mapping_id != y->mapping_id ||
		    x->address != y->address || x->nlines != y->nlines ||
		    (x->nlines && memcmp(x->lines, y->lines, x->nlines * sizeof(*x->lines))))
			return 0;
	}
	for (size_t i = 0; i < a->nsamples; i++) {
		const struct profile_sample *x = &a->samples[i], *y = &b->samples[i];
		if (x->nlocations != y->nlocations || x->nlabels != y->nlabels ||
		    memcmp(x->location_ids, y->location_ids, x->nlocations * 8) ||
		    memcmp(x->values, y->values, a->nsample_types * 8) ||
		    (x->nlabels && memcmp(x->labels, y->labels, x->nlabels * sizeof(*x->labels))))
			return 0;
	}
	return 1;
}

static void test_round_trip(void)
{
	struct profile *p = make_profile(), *q = NULL, *r = NULL;
	uint8_t *gz, *raw;
	size_t gzlen, rawlen;
	char err[256];
	CHECK_INT(pprof_encode(p, &gz, &gzlen), 0);
	CHECK(gzlen > 3 && gz[0] == 0x1f && gz[1] == 0x8b && gz[2] == 0x08);
	CHECK_INT(pprof_decode(gz, gzlen, &q, err, sizeof(err)), 0);
	CHECK(q && profile_equal(p, q));
	CHECK_INT(pprof_encode_raw(p, &raw, &rawlen), 0);
	CHECK(rawlen > 0 && raw[0] != 0x1f);
	CHECK_INT(pprof_decode(raw, rawlen, &r, err, sizeof(err)), 0);
	CHECK(r && profile_equal(p, r));
	/* A decoded profile still interns: "main" is found, not duplicated. */
	if (q) {
		size_t n = q->nstrings;
		int64_t i = profile_string(q, "main");
		CHECK(i > 0 && q->nstrings == n);
		CHECK(profile_function_by_id(q, 2) != NULL);
	}
	/* Two concatenated gzip members decode as one stream, as gzip(1)
	 * and Go's gzip.Reader read them: here the second member is empty. */
	struct profile *empty = profile_new(), *cat = NULL;
	uint8_t *egz;
	size_t egzlen;
	CHECK_INT(pprof_encode(empty, &egz, &egzlen), 0);
	uint8_t *both = malloc(gzlen + egzlen);
	memcpy(both, gz, gzlen);
	memcpy(both + gzlen, egz, egzlen);
	/* An empty profile is a valid message of zero fields: the concatenation
	 * decodes to the first profile's fields plus a "" string appended, so
	 * only the string count differs. */
	int ret = pprof_decode(both, gzlen + egzlen, &cat, err, sizeof(err));
	CHECK_INT(ret, 0);
	CHECK(cat && cat->nsamples == p->nsamples && cat->nstrings == p->nstrings + 1);
	profile_free(cat);
	free(both);
	free(egz);
	profile_free(empty);
	profile_free(q);
	profile_free(r);
	free(gz);
	free(raw);
	profile_free(p);
}

static int bad(const uint8_t *buf, size_t len, const char *want)
{
	struct profile *q = NULL;
	char err[256] = "";
	int ret = pprof_decode(buf, len, &q, err, sizeof(err));
	profile_free(q);
	if (ret != -EBADMSG || strncmp(err, "not a pprof profile: ", 21) ||
	    (want && !strstr(err, want))) {
		fprintf(stderr, "decode gave %d '%s', wanted -EBADMSG '%s'\n",
			ret, err, want ? want : "");
		return 0;
	}
	return 1;
}

static void test_corrupt(void)
{
	struct profile *p = make_profile();
	uint8_t *gz, *raw;
	size_t gzlen, rawlen;
	CHECK_INT(pprof_encode(p, &gz, &gzlen), 0);
	CHECK_INT(pprof_encode_raw(p, &raw, &rawlen), 0);

	CHECK(bad((const uint8_t *)"", 0, "empty"));
	const char *passwd = "root:x:0:0:root:/root:/bin/bash\n";
	CHECK(bad((const uint8_t *)passwd, strlen(passwd), NULL));
	/* Every truncation of the gzip stream fails cleanly. */
	int ok = 1;
	for (size_t n = 2; n < gzlen; n++)
		ok &= bad(gz, n, "gzip");
	CHECK(ok);
	CHECK(bad(gz, gzlen / 2, "truncated"));
	/* A corrupted deflate body or CRC trailer. */
	uint8_t *c = malloc(gzlen);
	memcpy(c, gz, gzlen);
	c[gzlen - 6] ^= 0xff;
	CHECK(bad(c, gzlen, "gzip data corrupt"));
	memcpy(c, gz, gzlen);
	c[3] = 0xff;	/* reserved FLG bits */
	CHECK(bad(c, gzlen, "gzip"));
	free(c);
	/* Truncated raw protobuf. */
	ok = 1;
	for (size_t n = 1; n < rawlen; n += 3) {
		struct profile *q = NULL;
		int ret = pprof_decode(raw, n, &q, NULL, 0);
		/* A cut on a field boundary can still be a valid message. */
		ok &= ret == 0 || ret == -EBADMSG;
		profile_free(q);
	}
	CHECK(ok);
	/* Random bytes, seeded for repeatability. */
	uint8_t rnd[512];
	uint32_t x = 12345;
	ok = 1;
	for (int round = 0; round < 200; round++) {
		for (size_t i = 0; i < sizeof(rnd); i++) {
			x = x * 1103515245u + 12345u;
			rnd[i] = (uint8_t)(x >> 16);
		}
		struct profile *q = NULL;
		int ret = pprof_decode(rnd, (size_t)(round + 1) * 2, &q, NULL, 0);
		ok &= ret == 0 || ret == -EBADMSG;
		profile_free(q);
	}
	CHECK(ok);

	/* Invalid references, written by breaking a valid profile. */
	uint8_t *b;
	size_t blen;
	p->functions[0].name = 9999;
	CHECK_INT(pprof_encode_raw(p, &b, &blen), 0);
	CHECK(bad(b, blen, "out of range"));
	free(b);
	p->functions[0].name = 0;
	p->locations[0].lines[0].function_id = 77;
	CHECK_INT(pprof_encode_raw(p, &b, &blen), 0);
	CHECK(bad(b, blen, "unknown function 77"));
	free(b);
	p->locations[0].lines[0].function_id = 1;
	p->samples[0].location_ids[0] = 55;
	CHECK_INT(pprof_encode_raw(p, &b, &blen), 0);
	CHECK(bad(b, blen, "unknown location 55"));
	free(b);
	p->samples[0].location_ids[0] = 2;
	p->functions[1].id = 1;
	CHECK_INT(pprof_encode_raw(p, &b, &blen), 0);
	CHECK(bad(b, blen, "duplicate function id 1"));
	free(b);
	p->functions[1].id = 2;
	p->locations[2].id = 0;
	CHECK_INT(pprof_encode_raw(p, &b, &blen), 0);
	CHECK(bad(b, blen, "location with id 0"));
	free(b);
	p->locations[2].id = 3;
	free(p->strings[0]);
	p->strings[0] = strdup("x");
	CHECK_INT(pprof_encode_raw(p, &b, &blen), 0);
	CHECK(bad(b, blen, "string_table[0]"));
	free(b);
	p->strings[0][0] = '\0';
	CHECK_INT(pprof_encode_raw(p, &b, &blen), 0);
	struct profile *q = NULL;
	CHECK_INT(pprof_decode(b, blen, &q, NULL, 0), 0);	/* repaired */
	profile_free(q);
	free(b);
	free(gz);
	free(raw);
	profile_free(p);
}

/* Mutations of a valid profile: bit flips, byte overwrites, truncation and
 * duplication, raw and gzipped. The check is that nothing crashes (ASan) and
 * that every result is success or EBADMSG. */
static void test_fuzz(void)
{
	struct profile *p = make_profile();
	uint8_t *raw, *gz;
	size_t rawlen, gzlen;
	CHECK_INT(pprof_encode_raw(p, &raw, &rawlen), 0);
	CHECK_INT(pprof_encode(p, &gz, &gzlen), 0);
	uint64_t s = 0x9e3779b97f4a7c15ULL;
	int ok = 1, decoded = 0;
	size_t bufcap = 4 * (rawlen + gzlen);
	uint8_t *buf = malloc(bufcap);
	for (int round = 0; round < 4000; round++) {
		const uint8_t *src = round % 4 == 3 ? gz : raw;
		size_t len = round % 4 == 3 ? gzlen : rawlen;
		memcpy(buf, src, len);
		int nmut = 1 + round % 5;
		for (int k = 0; k < nmut; k++) {
			s ^= s << 13;
			s ^= s >> 7;
			s ^= s << 17;
			size_t at = s % len;
			switch ((s >> 32) % 4) {
			case 0: buf[at] ^= (uint8_t)(1u << ((s >> 40) % 8)); break;
			case 1: buf[at] = (uint8_t)(s >> 48); break;
			case 2: len = at + 1; break;
			case 3:	/* duplicate a tail: repeated fields grow */
				if (len + (len - at) > bufcap)
					break;
				memcpy(buf + len, buf + at, len - at);
				len += len - at;
				break;
			}
		}
		struct profile *q = NULL;
		int ret = pprof_decode(buf, len, &q, NULL, 0);
		ok &= ret == 0 || ret == -EBADMSG;
		decoded += ret == 0;
		profile_free(q);
	}
	CHECK(ok);
	CHECK(decoded > 0);	/* some mutations stay valid: the path is exercised */
	free(buf);
	free(raw);
	free(gz);
	profile_free(p);
}

static void test_read_file(const char *tmp)
{
	char path[512], sub[512], missing[512];
	snprintf(path, sizeof(path), "%s/out.pprof", tmp);
	snprintf(sub, sizeof(sub), "%s/sub", tmp);
	snprintf(missing, sizeof(missing), "%s/nodir/out.pprof", tmp);
	CHECK_INT(mkdir(sub, 0755), 0);

	/* pprof_read_file: round trip through the file system. */
	struct profile *p = make_profile(), *q = NULL;
	uint8_t *gz;
	size_t gzlen;
	char err[256];
	CHECK_INT(pprof_encode(p, &gz, &gzlen), 0);
	CHECK_INT(outfile_write_path(path, gz, gzlen, NULL, 0), 0);
	CHECK_INT(pprof_read_file(path, &q, err, sizeof(err)), 0);
	CHECK(q && profile_equal(p, q));
	profile_free(q);
	q = NULL;
	CHECK_INT(pprof_read_file(missing, &q, err, sizeof(err)), -ENOENT);
	CHECK_INT(pprof_read_file(sub, &q, err, sizeof(err)), -EISDIR);
	CHECK_INT(pprof_read_file("/etc/passwd", &q, err, sizeof(err)), -EBADMSG);
	CHECK(strstr(err, "not a pprof profile") != NULL);
	CHECK(q == NULL);
	free(gz);
	profile_free(p);
	unlink(path);
	rmdir(sub);
}

/* Runs go tool pprof with a private, offline Go environment. */
static char *run_go_pprof(const char *tmp, const char *args, const char *file)
{
	char cmd[2048];
	snprintf(cmd, sizeof(cmd),
		 "cd '%s' && HOME='%s' GOCACHE='%s/gocache' GOPATH='%s/gopath' "
		 "GOFLAGS=-mod=mod GOTOOLCHAIN=local GOPROXY=off "
		 "timeout 60 go tool pprof %s '%s' 2>&1",
		 tmp, tmp, tmp, tmp, args, file);
	FILE *f = popen(cmd, "r");
	if (!f)
		return NULL;
	size_t cap = 1 << 16, n = 0;
	char *out = malloc(cap);
	size_t r;
	while ((r = fread(out + n, 1, cap - 1 - n, f)) > 0)
		n += r;
	out[n] = '\0';
	int st = pclose(f);
	if (st != 0) {
		fprintf(stderr, "go tool pprof %s failed (%d):\n%s\n", args, st, out);
		free(out);
		return NULL;
	}
	return out;
}

static void test_go_pprof(const char *tmp)
{
	int have_go = system("command -v go >/dev/null 2>&1") == 0;
	CHECK(have_go);	/* the test set-up installs golang-go */
	if (!have_go)
		return;
	struct profile *p = make_profile();
	uint8_t *gz;
	size_t gzlen;
	char path[512];
	snprintf(path, sizeof(path), "%s/go.pprof", tmp);
	CHECK_INT(pprof_encode(p, &gz, &gzlen), 0);
	CHECK_INT(outfile_write_path(path, gz, gzlen, NULL, 0), 0);

	char *raw = run_go_pprof(tmp, "-symbolize=none -raw", path);
	CHECK(raw != NULL);
	if (raw) {
		CHECK(strstr(raw, "samples/count cpu/nanoseconds") != NULL);
		CHECK(strstr(raw, "PeriodType: cpu nanoseconds") != NULL);
		CHECK(strstr(raw, "Period: 10000000") != NULL);
		CHECK(strstr(raw, "Comment: cmdline: ./prog --arg") != NULL);
		CHECK(strstr(raw, "Duration: 2.5s") != NULL);
		/* Locations with their inlined lines, innermost first (pprof
		 * renumbers location ids, so they are not compared). */
		CHECK(strstr(raw, "0x400100 M=1 main prog.c:12 s=10") != NULL);
		CHECK(strstr(raw, "0x400200 M=1 leaf_beta leaf.h:31 s=30") != NULL);
		CHECK(strstr(raw, "work_alpha prog.c:22 s=20(_Z10work_alphav)") != NULL);
		/* Each sample's values, then its stack of 2, 1 and 3 frames. */
		CHECK(strstr(raw, "          7   70000000: ") != NULL);
		CHECK(strstr(raw, "          3   30000000: ") != NULL);
		CHECK(strstr(raw, "          1   10000000: ") != NULL);
		CHECK(strstr(raw, "thread_id:[4242]") != NULL);
		CHECK(strstr(raw, "thread_name:[worker]") != NULL);
		CHECK(strstr(raw, "/usr/bin/prog") != NULL);
		CHECK(strstr(raw, "0x400000/0x401000/0x1000 /usr/bin/prog 0123abcd [FN][FL][LN]") != NULL);
		free(raw);
	}
	/* The same figures through pprof's own aggregation. */
	char *top = run_go_pprof(tmp, "-symbolize=none -top -sample_index=cpu", path);
	CHECK(top != NULL);
	if (top) {
		CHECK(strstr(top, "Type: cpu") != NULL);
		CHECK(strstr(top, "110ms total") != NULL);
		CHECK(strstr(top, "leaf_beta") != NULL);
		CHECK(strstr(top, "work_alpha") != NULL);
		CHECK(strstr(top, "main") != NULL);
		free(top);
	}
	free(gz);
	profile_free(p);
	unlink(path);
}

/* The most protobuf-c's unpack has allocated at once, each block rounded
 * as pprof_budget rounds (the rounded size kept before the block). */
static uint64_t live, peak;
static void *count_alloc(void *data, size_t n)
{
	(void)data;
	uint64_t c = (n + 8 + 15) & ~(uint64_t)15;
	c = n == 0 ? 0 : c < 32 ? 32 : c;
	uint64_t *b = malloc(n + 16);
	if (!b)
		return NULL;
	b[0] = c;
	live += c;
	if (live > peak)
		peak = live;
	return b + 2;
}
static void count_free(void *data, void *p)
{
	(void)data;
	if (!p)
		return;
	uint64_t *b = (uint64_t *)p - 2;
	live -= b[0];
	free(b);
}

/* The scan's figure for buf is the unpack's peak. */
static void check_scan_is_peak(const uint8_t *buf, size_t len)
{
	ProtobufCAllocator a = { count_alloc, count_free, NULL };
	uint64_t cost = 0;

	CHECK_INT(pprof_budget_scan(buf, len, &cost), 0);
	live = peak = 0;
	PbProfile *m = perftools__profiles__profile__unpack(&a, len, buf);
	CHECK(m != NULL);
	CHECK_INT(cost, peak);
	if (m)
		perftools__profiles__profile__free_unpacked(m, &a);
}

static void put_varint(uint8_t *b, size_t *n, uint64_t v)
{
	do {
		b[(*n)++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
		v >>= 7;
	} while (v);
}

/* pprof_budget_scan's figure is the unpack's peak, exactly: on
 * our own profile, on one with unknown fields, unpacked repeated fields
 * and an empty packed run at every level, and on the amplification input
 * of 2-byte empty samples, which decoding refuses before allocating. */
static void test_budget(void)
{
	struct profile *p = make_profile();
	uint8_t *raw, b[512];
	size_t rawlen, n = 0;
	uint64_t cost = 0;

	CHECK_INT(pprof_encode_raw(p, &raw, &rawlen), 0);
	check_scan_is_peak(raw, rawlen);
	free(raw);
	profile_free(p);

	/* string_table "", "x"; a sample with location ids unpacked (field
	 * 1 as varints), an empty packed value run, an empty label and an
	 * unknown field 9; a location with two lines and an unknown field;
	 * comments packed and not; an unknown top-level field 20. */
	static const uint8_t tail[] = {
		0x32, 0x00, 0x32, 0x01, 'x',
		0x12, 0x0e, 0x08, 0x05, 0x08, 0x06, 0x12, 0x00, 0x1a, 0x00,
		0x48, 0x07, 0x4a, 0x02, 0x01, 0x02, 0x1a, 0x00,
		0x22, 0x0a, 0x08, 0x01, 0x22, 0x02, 0x08, 0x01, 0x22, 0x00, 0x30, 0x01,
		0x6a, 0x02, 0x01, 0x02, 0x68, 0x03,
		0xa2, 0x01, 0x03, 'a', 'b', 'c',
		0x1a, 0x04, 0x08, 0x01, 0x58, 0x01,	/* mapping with field 11 */
	};
	check_scan_is_peak(tail, sizeof(tail));

	/* A sample of 40 location ids as separate varints: protobuf-c's scan
	 * list of the sample outgrows its 16 entries on the stack. */
	n = 0;
	b[n++] = 0x12;
	b[n++] = 80;
	for (int i = 0; i < 40; i++) {
		b[n++] = 0x08;
		b[n++] = (uint8_t)(i + 1);
	}
	check_scan_is_peak(b, n);

	/* What the unpack refuses, the scan refuses. */
	static const uint8_t bad[][4] = {
		{ 0x12, 0x05, 0x08, 0x01 },	/* length past the end */
		{ 0x13, 0x00, 0x00, 0x00 },	/* a group */
		{ 0x10, 0x01, 0x00, 0x00 },	/* sample as a varint */
		{ 0x12, 0x02, 0x0a, 0x80 },	/* packed run ends inside a varint */
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK_INT(pprof_budget_scan(bad[i], bad[i][0] == 0x13 ? 2 : 4, &cost), -EBADMSG);

	/* The input: "\x32\x00" then 16M "\x12\x00" (32 MB, a 32 KB
	 * gzip): refused as amplification, long before 3.9 GiB are taken. */
	size_t big = 2 + 2 * ((size_t)16 << 20);
	uint8_t *bomb = malloc(big);
	CHECK(bomb != NULL);
	if (bomb) {
		bomb[0] = 0x32;
		bomb[1] = 0x00;
		for (size_t i = 2; i < big; i += 2) {
			bomb[i] = 0x12;
			bomb[i + 1] = 0x00;
		}
		struct profile *q = NULL;
		char err[256];
		CHECK_INT(pprof_decode(bomb, big, &q, err, sizeof(err)), -E2BIG);
		CHECK(strstr(err, "more than 32 times") != NULL);
		CHECK(q == NULL);
		free(bomb);
	}

	/* Under the expansion limit but over a given memory limit. */
	n = 0;
	b[n++] = 0x32;
	b[n++] = 0x00;
	for (int i = 0; i < 40; i++) {
		b[n++] = 0x12;
		b[n++] = 0x03;
		b[n++] = 0x0a;
		b[n++] = 0x01;
		put_varint(b, &n, (uint64_t)i + 1);
	}
	struct profile *q = NULL;
	char err[256];
	CHECK_INT(pprof_decode_max(b, n, 1000, &q, err, sizeof(err)), -E2BIG);
	CHECK(strstr(err, "limit of 1 MiB") != NULL);
}

int main(void)
{
	char tmp[] = "/tmp/test_pprof.XXXXXX";
	if (!mkdtemp(tmp)) {
		perror("mkdtemp");
		return 1;
	}
	test_round_trip();
	test_corrupt();
	test_budget();
	test_fuzz();
	test_read_file(tmp);
	test_go_pprof(tmp);
	char cmd[600];
	snprintf(cmd, sizeof(cmd), "chmod -R u+w '%s'; rm -rf '%s'", tmp, tmp);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", tmp);
	return check_done();
}

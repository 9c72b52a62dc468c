/*
 * test_report.c - flat/cum figures of `cprof report`, their formatting, and
 * the whole table compared with go tool pprof -top on the same file.
 */
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "check.h"
#include "outfile.h"
#include "pprof.h"
#include "report.h"

#define MS 1000000LL

/*
 * main -> a                       50 ms
 * main -> b, with leaf inlined    30 ms
 * main -> rec -> rec -> rec       20 ms   (cum of rec counted once)
 * main -> a -> unsymbolized addr  10 ms   (named by its object, as pprof)
 */
static struct profile *make_tree(void)
{
	struct profile *p = profile_new();
	profile_add_sample_type(p, "samples", "count");
	profile_add_sample_type(p, "cpu", "nanoseconds");
	profile_set_period(p, "cpu", "nanoseconds", 10 * MS);
	uint64_t m = profile_add_mapping(p, 0x400000, 0x500000, 0, "/opt/app/bin/app", "");
	profile_mapping(p, m)->has_functions = true;
	uint64_t fmain = profile_function(p, "main", NULL, "app.c", 1);
	uint64_t fa = profile_function(p, "a", NULL, "app.c", 10);
	uint64_t fb = profile_function(p, "b", NULL, "app.c", 20);
	uint64_t fleaf = profile_function(p, "leaf", NULL, "app.h", 5);
	uint64_t frec = profile_function(p, "rec", NULL, "app.c", 30);
	struct profile_line lmain = { fmain, 2 }, la = { fa, 11 }, lrec = { frec, 31 };
	struct profile_line lb[] = { { fleaf, 6 }, { fb, 21 } };
	uint64_t Lmain = profile_location(p, m, 0x401000, &lmain, 1);
	uint64_t La = profile_location(p, m, 0x402000, &la, 1);
	uint64_t Lb = profile_location(p, m, 0x403000, lb, 2);
	uint64_t Lrec = profile_location(p, m, 0x404000, &lrec, 1);
	uint64_t Laddr = profile_location(p, m, 0x4abcde, NULL, 0);
	uint64_t s1[] = { La, Lmain }, s2[] = { Lb, Lmain };
	uint64_t s3[] = { Lrec, Lrec, Lrec, Lmain }, s4[] = { Laddr, La, Lmain };
	int64_t v1[] = { 5, 50 * MS }, v2[] = { 3, 30 * MS }, v3[] = { 2, 20 * MS },
		v4[] = { 1, 10 * MS };
	profile_add_sample(p, s1, 2, v1, NULL, 0);
	profile_add_sample(p, s2, 2, v2, NULL, 0);
	profile_add_sample(p, s3, 4, v3, NULL, 0);
	profile_add_sample(p, s4, 3, v4, NULL, 0);
	return p;
}

static char *run_report(const struct profile *p, size_t top, const char *type, int *ret)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	struct report_opts o = { .top = top, .sample_type = type };
	*ret = report_top(p, &o, f);
	fclose(f);
	return buf;
}

static int has(const char *out, const char *line)
{
	if (out && strstr(out, line))
		return 1;
	fprintf(stderr, "missing line '%s' in:\n%s\n", line, out ? out : "(null)");
	return 0;
}

static void test_figures(void)
{
	struct profile *p = make_tree();
	int ret;
	char *out = run_report(p, 0, NULL, &ret);
	CHECK_INT(ret, 0);
	CHECK(has(out, "File: app\n"));
	CHECK(has(out, "Type: cpu\n"));
	CHECK(has(out, "Showing nodes accounting for 110ms, 100% of 110ms total\n"));
	CHECK(has(out, "      flat  flat%   sum%        cum   cum%\n"));
	/* flat desc, then name; cum of a includes the unsymbolized callee. */
	CHECK(has(out,
		"      50ms 45.45% 45.45%       60ms 54.55%  a\n"
		"      30ms 27.27% 72.73%       30ms 27.27%  leaf (inline)\n"
		"      20ms 18.18% 90.91%       20ms 18.18%  rec\n"
		"      10ms  9.09%   100%       10ms  9.09%  [app]\n"
		"         0     0%   100%       30ms 27.27%  b\n"
		"         0     0%   100%      110ms   100%  main\n"));
	free(out);

	out = run_report(p, 2, "samples", &ret);
	CHECK_INT(ret, 0);
	CHECK(has(out, "Type: samples\n"));
	CHECK(has(out, "Showing nodes accounting for 8, 72.73% of 11 total\n"));
	CHECK(has(out, "Showing top 2 nodes out of 6\n"));
	CHECK(has(out, "         5 45.45% 45.45%          6 54.55%  a\n"
		       "         3 27.27% 72.73%          3 27.27%  leaf (inline)\n"));
	CHECK(out && !strstr(out, "  rec\n"));
	free(out);

	out = run_report(p, 0, "nosuch", &ret);
	CHECK_INT(ret, -EINVAL);
	free(out);

	/* default_sample_type wins over "the last one". */
	p->default_sample_type = profile_string(p, "samples");
	out = run_report(p, 1, NULL, &ret);
	CHECK(has(out, "Type: samples\n"));
	free(out);
	profile_free(p);
}

/* hot 1960 ms, cold 16 ms, tiny 2 ms, plus an address with no mapping. */
static struct profile *make_flat(void)
{
	struct profile *p = profile_new();
	profile_add_sample_type(p, "cpu", "nanoseconds");
	p->duration_nanos = 4000 * MS;
	uint64_t f1 = profile_function(p, "hot", NULL, NULL, 0);
	uint64_t f2 = profile_function(p, "cold", NULL, NULL, 0);
	uint64_t f3 = profile_function(p, "tiny", NULL, NULL, 0);
	struct profile_line l1 = { f1, 0 }, l2 = { f2, 0 }, l3 = { f3, 0 };
	uint64_t L1 = profile_location(p, 0, 1, &l1, 1);
	uint64_t L2 = profile_location(p, 0, 2, &l2, 1);
	uint64_t L3 = profile_location(p, 0, 3, &l3, 1);
	int64_t v1 = 1960 * MS, v2 = 16 * MS, v3 = 2 * MS;
	profile_add_sample(p, &L1, 1, &v1, NULL, 0);
	profile_add_sample(p, &L2, 1, &v2, NULL, 0);
	profile_add_sample(p, &L3, 1, &v3, NULL, 0);
	uint64_t L4 = profile_location(p, 0, 0x77, NULL, 0);
	uint64_t st[] = { L4, L1 };
	int64_t v4 = 0;
	profile_add_sample(p, st, 2, &v4, NULL, 0);
	return p;
}

/* One unit for the whole table: from the smallest value and the total. */
static void test_units(void)
{
	struct profile *p = make_flat();
	uint64_t f1;
	struct profile_line l1;
	uint64_t L1;
	int64_t v1;
	int ret;
	char *out = run_report(p, 0, NULL, &ret);
	CHECK_INT(ret, 0);
	/* tiny is 2ms of 1.978s: under pprof's 0.5% node fraction. cold,
	 * 16ms, is less than 1/100 of the total: the unit is seconds. */
	CHECK(has(out, "Duration: 4s, Total samples = 1.98s (49.45%)\n"));
	CHECK(has(out, "Dropped 1 node (cum <= 0.01s)\n"));
	CHECK(has(out, "     1.96s 99.09% 99.09%      1.96s 99.09%  hot\n"
		       "     0.02s  0.81% 99.90%      0.02s  0.81%  cold\n"));
	CHECK(out && !strstr(out, "tiny"));
	free(out);
	profile_free(p);

	p = profile_new();
	profile_add_sample_type(p, "inuse_space", "bytes");
	f1 = profile_function(p, "grow", NULL, NULL, 0);
	l1.function_id = f1;
	L1 = profile_location(p, 0, 1, &l1, 1);
	v1 = 3 * 1048576 / 2;
	profile_add_sample(p, &L1, 1, &v1, NULL, 0);
	out = run_report(p, 0, NULL, &ret);
	CHECK(has(out, "    1.50MB   100%   100%     1.50MB   100%  grow\n"));
	free(out);
	profile_free(p);

	/* An empty profile prints a header and no rows. */
	p = profile_new();
	profile_add_sample_type(p, "samples", "count");
	out = run_report(p, 0, NULL, &ret);
	CHECK_INT(ret, 0);
	CHECK(has(out, "Showing nodes accounting for 0, 0% of 0 total\n"));
	free(out);
	profile_free(p);
	p = profile_new();
	out = run_report(p, 0, NULL, &ret);
	CHECK_INT(ret, -EINVAL);	/* no sample type at all */
	free(out);
	profile_free(p);
}

/* The same file through go tool pprof -top: the tables must be identical. */
static void test_against_go(void)
{
	int have_go = system("command -v go >/dev/null 2>&1") == 0;
	CHECK(have_go);	/* the test set-up installs golang-go */
	if (!have_go)
		return;
	char tmp[] = "/tmp/test_report.XXXXXX";
	if (!mkdtemp(tmp))
		return;
	struct profile *tree = make_tree();
	tree->time_nanos = 1700000000LL * 1000000000LL;
	tree->duration_nanos = 150 * MS;
	profile_add_comment(tree, "cmdline: app --flag");
	profile_add_comment(tree, "# not shown by pprof");
	struct profile *flat = make_flat();
	struct profile *unknown = make_flat();
	uint64_t st[] = { 4, 1 };	/* the address without a mapping, over hot */
	int64_t v = 30 * MS;
	CHECK_INT(profile_add_sample(unknown, st, 2, &v, NULL, 0), 0);
	struct {
		struct profile *p;
		const char *type;
	} cases[] = {
		{ tree, "cpu" }, { tree, "samples" }, { flat, "cpu" },
		{ unknown, "cpu" },
	};
	char path[256];
	snprintf(path, sizeof(path), "%s/t.pprof", tmp);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint8_t *gz;
		size_t gzlen;
		CHECK_INT(pprof_encode(cases[i].p, &gz, &gzlen), 0);
		CHECK_INT(outfile_write_path(path, gz, gzlen, NULL, 0), 0);
		free(gz);
		char cmd[1024];
		snprintf(cmd, sizeof(cmd),
			 "cd '%s' && HOME='%s' GOCACHE='%s/gocache' GOPATH='%s/gopath' "
			 "GOFLAGS=-mod=mod GOTOOLCHAIN=local GOPROXY=off timeout 60 "
			 "go tool pprof -symbolize=none -top -sample_index=%s '%s' 2>&1",
			 tmp, tmp, tmp, tmp, cases[i].type, path);
		FILE *f = popen(cmd, "r");
		char *go = calloc(1, 65536);
		size_t n = f ? fread(go, 1, 65535, f) : 0;
		go[n] = '\0';
		CHECK(f && pclose(f) == 0);
		int ret;
		char *ours = run_report(cases[i].p, 0, cases[i].type, &ret);
		CHECK_INT(ret, 0);
		CHECK_STR(ours, go);
		if (i == 3)
			CHECK(has(ours, "  <unknown>\n"));
		free(ours);
		free(go);
	}
	profile_free(tree);
	profile_free(flat);
	profile_free(unknown);
	snprintf(path, sizeof(path), "rm -rf '%s'", tmp);
	if (system(path) != 0)
		fprintf(stderr, "cannot remove %s\n", tmp);
}

/* Reports of mutated files, including absurd values: whatever decodes
 * must print without crashing or overflowing (UBSan). */
static void test_fuzz(void)
{
	struct profile *p = make_tree();
	p->samples[0].values[1] = INT64_MAX - 5;
	p->samples[1].values[1] = INT64_MIN + 3;
	uint8_t *raw;
	size_t rawlen;
	CHECK_INT(pprof_encode_raw(p, &raw, &rawlen), 0);
	uint8_t *buf = malloc(rawlen);
	uint64_t x = 88172645463325252ULL;
	int ok = 1, decoded = 0;
	for (int round = 0; round < 3000; round++) {
		memcpy(buf, raw, rawlen);
		for (int k = 0; k < 1 + round % 4; k++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			buf[x % rawlen] = (uint8_t)(x >> 56);
		}
		struct profile *q = NULL;
		if (pprof_decode(buf, rawlen, &q, NULL, 0) == 0) {
			decoded++;
			for (size_t t = 0; t <= q->nsample_types && t < 3; t++) {
				const char *name = t < q->nsample_types ?
					profile_str(q, q->sample_types[t].type) : NULL;
				int ret;
				char *out = run_report(q, round % 3, name, &ret);
				ok &= ret == 0 || ret == -EINVAL;
				free(out);
			}
		}
		profile_free(q);
	}
	CHECK(ok);
	CHECK(decoded > 100);
	free(buf);
	free(raw);
	profile_free(p);
}

int main(void)
{
	test_fuzz();
	test_figures();
	test_units();
	test_against_go();
	return check_done();
}

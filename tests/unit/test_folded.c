/*
 * test_folded.c - folded stacks: frames named as go tool pprof -traces
 * names them (inlined lines as frames, unsymbolized addresses by their
 * object), root first, samples of one stack added up, zero left out,
 * separators and control characters in names made safe, sample types.
 */
#include <errno.h>
#include <stdlib.h>

#include "check.h"
#include "folded.h"
#include "profile.h"

#define MS 1000000LL

/*
 * main -> a                       5   (+1 more in thread t1)
 * main -> b, with leaf inlined    3
 * main -> rec -> rec -> rec       2
 * main -> a -> unsymbolized addr  1
 * main -> "x;y\nz"                4
 * main -> a, value 0              left out
 */
static struct profile *make_tree(void)
{
	struct profile *p = profile_new();
	profile_add_sample_type(p, "samples", "count");
	profile_add_sample_type(p, "cpu", "nanoseconds");
	uint64_t m = profile_add_mapping(p, 0x400000, 0x500000, 0, "/opt/app/bin/app", "");
	uint64_t fmain = profile_function(p, "main", NULL, "app.c", 1);
	uint64_t fa = profile_function(p, "a", NULL, "app.c", 10);
	uint64_t fb = profile_function(p, "b", NULL, "app.c", 20);
	uint64_t fleaf = profile_function(p, "leaf", NULL, "app.h", 5);
	uint64_t frec = profile_function(p, "rec", NULL, "app.c", 30);
	uint64_t fw = profile_function(p, "x;y\nz", NULL, "app.c", 40);
	struct profile_line lmain = { fmain, 2 }, la = { fa, 11 }, lrec = { frec, 31 };
	struct profile_line lb[] = { { fleaf, 6 }, { fb, 21 } }, lw = { fw, 41 };
	uint64_t Lmain = profile_location(p, m, 0x401000, &lmain, 1);
	uint64_t La = profile_location(p, m, 0x402000, &la, 1);
	uint64_t Lb = profile_location(p, m, 0x403000, lb, 2);
	uint64_t Lrec = profile_location(p, m, 0x404000, &lrec, 1);
	uint64_t Laddr = profile_location(p, m, 0x4abcde, NULL, 0);
	uint64_t Lw = profile_location(p, m, 0x405000, &lw, 1);
	uint64_t Lnomap = profile_location(p, 0, 0x999, NULL, 0);
	uint64_t s1[] = { La, Lmain }, s2[] = { Lb, Lmain }, s5[] = { Lw, Lmain };
	uint64_t s3[] = { Lrec, Lrec, Lrec, Lmain }, s4[] = { Laddr, La, Lmain };
	uint64_t s6[] = { Lnomap, Lmain };
	int64_t v1[] = { 5, 50 * MS }, v2[] = { 3, 30 * MS }, v3[] = { 2, 20 * MS },
		v4[] = { 1, 10 * MS }, v5[] = { 4, 40 * MS }, v0[] = { 0, 0 },
		v6[] = { 1, 10 * MS };
	struct profile_label_in t1 = { .key = "thread_name", .str = "t1" };
	profile_add_sample(p, s1, 2, v1, NULL, 0);
	profile_add_sample(p, s2, 2, v2, NULL, 0);
	profile_add_sample(p, s3, 4, v3, NULL, 0);
	profile_add_sample(p, s4, 3, v4, NULL, 0);
	profile_add_sample(p, s5, 2, v5, NULL, 0);
	profile_add_sample(p, s1, 2, v4, &t1, 1);
	profile_add_sample(p, s6, 2, v6, &t1, 1);
	profile_add_sample(p, s2, 1, v0, NULL, 0);	/* b alone, value 0 */
	return p;
}

static char *run(const struct profile *p, const char *type, int *ret, char *err, size_t errlen)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	*ret = folded_write(p, type, f, err, errlen);
	fclose(f);
	return buf;
}

int main(void)
{
	struct profile *p = make_tree();
	char err[256] = "";
	int r;

	char *out = run(p, "samples", &r, err, sizeof(err));
	CHECK_INT(r, 0);
	CHECK_STR(out,
		  "main;<unknown> 1\n"
		  "main;a 6\n"
		  "main;a;[app] 1\n"
		  "main;b;leaf 3\n"
		  "main;rec;rec;rec 2\n"
		  "main;x\\x3by\\nz 4\n");
	free(out);

	/* The default: the last sample type (cpu), as pprof. */
	out = run(p, NULL, &r, err, sizeof(err));
	CHECK_INT(r, 0);
	CHECK(out && strstr(out, "main;a 60000000\n"));
	CHECK(out && strstr(out, "main;b;leaf 30000000\n"));
	free(out);

	/* An unknown type: -EINVAL, nothing written, err lists the types. */
	out = run(p, "alloc_space", &r, err, sizeof(err));
	CHECK_INT(r, -EINVAL);
	CHECK_STR(out, "");
	CHECK(strstr(err, "'alloc_space'") != NULL);
	CHECK(strstr(err, "samples, cpu") != NULL);
	free(out);

	/* The sample index helper, by name and by default. */
	size_t t = 9;
	CHECK_INT(folded_sample_index(p, "samples", &t, NULL, 0), 0);
	CHECK_INT(t, 0);
	CHECK_INT(folded_sample_index(p, NULL, &t, NULL, 0), 0);
	CHECK_INT(t, 1);

	/* A frame's details: the inlined line is the innermost, after its
	 * caller, with its own file and line. */
	struct folded_frame fr[4];
	char buf[4096];
	size_t n = 0;
	const struct profile_location *lb = profile_location_by_id(p, 3);
	folded_location_frames(p, lb, fr, 4, &n, buf, sizeof(buf));
	CHECK_INT(n, 2);
	CHECK_STR(fr[0].name, "b");
	CHECK(!fr[0].inlined);
	CHECK_STR(fr[1].name, "leaf");
	CHECK(fr[1].inlined);
	CHECK_STR(fr[1].file, "app.h");
	CHECK_INT(fr[1].line, 6);

	/* A write error is reported. */
	FILE *ro = fopen("/dev/full", "w");
	if (ro) {
		setvbuf(ro, NULL, _IONBF, 0);
		CHECK_INT(folded_write(p, "samples", ro, err, sizeof(err)), -EIO);
		fclose(ro);
	}

	profile_free(p);
	return check_done();
}

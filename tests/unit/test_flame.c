/*
 * test_flame.c - the flame graph page: JSON strings that cannot break the
 * page (</script>, U+2028, control characters, invalid UTF-8), the model
 * (types, frames with their class and inlined flag, stacks root first,
 * samples merged by stack and thread), the page (CSP, nothing remote,
 * the title escaped), unknown sample types.
 */
#include <errno.h>
#include <stdlib.h>

#include "check.h"
#include "flame.h"
#include "profile.h"

static char *json_str(const char *s)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	flame_json_str(s, f);
	fclose(f);
	return buf;
}

static void check_str(const char *in, const char *want, int line)
{
	char *got = json_str(in);
	if (strcmp(got, want)) {
		check_failed++;
		fprintf(stderr, "%s:%d: flame_json_str gave %s, want %s\n", __FILE__, line, got, want);
	} else {
		check_passed++;
	}
	free(got);
}

static size_t count(const char *hay, const char *needle)
{
	size_t n = 0;
	for (const char *s = hay; (s = strstr(s, needle)); s++)
		n++;
	return n;
}

#define EVIL "</script><script>alert(1)</script>"

/*
 * main (app) -> a                          3 in thread "w1", 2 in "w2"
 * main -> b with leaf inlined              4, no thread
 * main -> libc's memcpy -> kernel frame    1 in "w1"
 * main -> EVIL name (in [jit])             1
 */
static struct profile *make(void)
{
	struct profile *p = profile_new();
	profile_add_sample_type(p, "samples", "count");
	profile_add_sample_type(p, "cpu", "nanoseconds");
	uint64_t m = profile_add_mapping(p, 0x400000, 0x500000, 0, "/opt/app/bin/app", "");
	uint64_t mc = profile_add_mapping(p, 0x7f0000, 0x7f8000, 0, "/usr/lib/libc.so.6", "");
	uint64_t mk = profile_add_mapping(p, 0xffff0000, 0xffff8000, 0, "[kernel]", "");
	uint64_t mj = profile_add_mapping(p, 0x10000, 0x20000, 0, "[jit]", "");
	uint64_t fmain = profile_function(p, "main", NULL, "app.c", 1);
	uint64_t fa = profile_function(p, "a", NULL, "app.c", 10);
	uint64_t fb = profile_function(p, "b", NULL, "app.c", 20);
	uint64_t fleaf = profile_function(p, "leaf", NULL, "app.h", 5);
	uint64_t fmc = profile_function(p, "memcpy", NULL, "", 0);
	uint64_t fk = profile_function(p, "do_syscall_64", NULL, "", 0);
	uint64_t fe = profile_function(p, EVIL "\xe2\x80\xa8\x01\xff", NULL, "", 0);
	struct profile_line lmain = { fmain, 2 }, la = { fa, 11 }, lmc = { fmc, 0 };
	struct profile_line lb[] = { { fleaf, 6 }, { fb, 21 } }, lk = { fk, 0 }, le = { fe, 0 };
	uint64_t Lmain = profile_location(p, m, 0x401000, &lmain, 1);
	uint64_t La = profile_location(p, m, 0x402000, &la, 1);
	uint64_t Lb = profile_location(p, m, 0x403000, lb, 2);
	uint64_t Lmc = profile_location(p, mc, 0x7f1000, &lmc, 1);
	uint64_t Lk = profile_location(p, mk, 0xffff1000, &lk, 1);
	uint64_t Le = profile_location(p, mj, 0x11000, &le, 1);
	uint64_t s1[] = { La, Lmain }, s2[] = { Lb, Lmain }, s3[] = { Lk, Lmc, Lmain },
		 s4[] = { Le, Lmain };
	struct profile_label_in w1[] = { { .key = "thread_id", .num = 11 },
					 { .key = "thread_name", .str = "w1" } };
	struct profile_label_in w1b[] = { { .key = "thread_id", .num = 12 },
					  { .key = "thread_name", .str = "w1" } };
	struct profile_label_in w2[] = { { .key = "thread_name", .str = "w2" } };
	int64_t v1[] = { 1, 10 }, v2[] = { 2, 20 }, v4[] = { 4, 40 };
	profile_add_sample(p, s1, 2, v1, w1, 2);
	profile_add_sample(p, s1, 2, v2, w1b, 2);	/* same thread name: merged */
	profile_add_sample(p, s1, 2, v2, w2, 1);
	profile_add_sample(p, s2, 2, v4, NULL, 0);
	profile_add_sample(p, s3, 3, v1, w1, 2);
	profile_add_sample(p, s4, 2, v1, NULL, 0);
	return p;
}

static char *run(const struct profile *p, bool html, const char *title, const char *type,
		 int *ret, char *err, size_t errlen)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	struct flame_opts o = { .title = title, .sample_type = type };
	*ret = html ? flame_html_write(p, &o, f, err, errlen) :
		      flame_json_write(p, &o, f, err, errlen);
	fclose(f);
	return buf;
}

int main(void)
{
	/* JSON strings. */
	check_str("plain", "\"plain\"", __LINE__);
	check_str(NULL, "\"\"", __LINE__);
	check_str("q\"b\\", "\"q\\\"b\\\\\"", __LINE__);
	check_str("</script>", "\"\\u003c/script\\u003e\"", __LINE__);
	check_str("<!-- & -->", "\"\\u003c!-- \\u0026 --\\u003e\"", __LINE__);
	check_str("a\nb\t\x01\x1f\x7f", "\"a\\u000ab\\u0009\\u0001\\u001f\\u007f\"", __LINE__);
	check_str("ls\xe2\x80\xa8ps\xe2\x80\xa9", "\"ls\\u2028ps\\u2029\"", __LINE__);
	check_str("caf\xc3\xa9 \xe6\x97\xa5 \xf0\x9f\x94\xa5", "\"caf\xc3\xa9 \xe6\x97\xa5 \xf0\x9f\x94\xa5\"", __LINE__);
	check_str("\xc2\x85", "\"\\u0085\"", __LINE__);	/* C1 NEL */
	check_str("bad\xff\xc3(\xed\xa0\x80\xc0\xaf", "\"bad\\ufffd\\ufffd(\\ufffd\\ufffd\\ufffd\\ufffd\\ufffd\"", __LINE__);
	check_str("cut\xe6\x97", "\"cut\\ufffd\\ufffd\"", __LINE__);

	struct profile *p = make();
	char err[256] = "";
	int r;

	/* The model. */
	char *js = run(p, false, "t", NULL, &r, err, sizeof(err));
	CHECK_INT(r, 0);
	CHECK(strstr(js, "\"types\":[[\"samples\",\"count\"],[\"cpu\",\"nanoseconds\"]],\"type\":1,") != NULL);
	/* strings: "" first; the evil name escaped */
	CHECK(strstr(js, "\"strings\":[\"\",") != NULL);
	CHECK(strstr(js, "\\u003c/script\\u003e\\u003cscript\\u003ealert(1)\\u003c/script\\u003e\\u2028\\u0001\\ufffd") != NULL);
	CHECK(!strstr(js, "</"));
	/* frames: [name, file, line, module, class, inlined]; the classes
	 * from the mappings, leaf inlined. Strings are interned in order of
	 * first use: "", main, app.c's module, ... so look them up. */
	CHECK_INT(count(js, ",0,0]") + count(js, ",0,1]"), 4);	/* main, a, b, leaf in app */
	CHECK_INT(count(js, ",0,1]"), 1);			/* leaf, inlined */
	CHECK_INT(count(js, ",1,0]"), 1);			/* memcpy: library */
	CHECK_INT(count(js, ",2,0]"), 1);			/* kernel */
	CHECK_INT(count(js, ",3,0]"), 1);			/* jit */
	/* four distinct stacks; samples merged by (stack, thread name):
	 * a in w1 (1+2), a in w2, b, memcpy in w1, jit */
	const char *st = strstr(js, "\"stacks\":[");
	const char *th = strstr(js, "\"threads\":[");
	const char *sm = strstr(js, "\"samples\":[");
	CHECK(st && th && sm && st < th && th < sm);
	if (st && th && sm) {
		CHECK_INT(count(st, "[") - count(th, "["), 1 + 4);
		CHECK_INT(count(sm, "[") - 1, 5);
		CHECK(strstr(sm, ",3,30]") != NULL);	/* a in w1: 1 + 2, 10 + 20 */
		CHECK(strstr(sm, ",-1,4,40]") != NULL);	/* b: no thread */
		/* the stack of b: main, b, leaf, root first */
		CHECK(strstr(st, "[0,2,3]") != NULL);
	}
	free(js);

	/* By name; unknown names fail with the list. */
	js = run(p, false, NULL, "samples", &r, err, sizeof(err));
	CHECK_INT(r, 0);
	CHECK(strstr(js, "\"type\":0,") != NULL);
	CHECK(strstr(js, "\"title\":\"cprof\"") != NULL);
	free(js);
	js = run(p, true, NULL, "delay", &r, err, sizeof(err));
	CHECK_INT(r, -EINVAL);
	CHECK_STR(js, "");
	CHECK(strstr(err, "samples, cpu") != NULL);
	free(js);

	/* The page. */
	char *html = run(p, true, "<b>\"x\" & 'y'", NULL, &r, err, sizeof(err));
	CHECK_INT(r, 0);
	CHECK(!strncmp(html, "<!DOCTYPE html>", 15));
	CHECK(strstr(html, "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
			   "script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:\">") != NULL);
	CHECK(strstr(html, "<title>&lt;b&gt;&quot;x&quot; &amp; &#39;y&#39;</title>") != NULL);
	CHECK_INT(count(html, "</script>"), 2);		/* the data's and the script's */
	CHECK_INT(count(html, "<script"), 2);
	CHECK(!strstr(html, "\xe2\x80\xa8"));
	CHECK(!strstr(html, "http://") && !strstr(html, "https://"));
	CHECK(!strstr(html, " src=") && !strstr(html, " href="));
	CHECK(!strstr(html, "@@CPROF_"));		/* every marker replaced */
	CHECK(strstr(html, "id=\"cprof-data\">{\"v\":1,") != NULL);
	free(html);

	FILE *full = fopen("/dev/full", "w");
	if (full) {
		setvbuf(full, NULL, _IONBF, 0);
		struct flame_opts o = { 0 };
		CHECK_INT(flame_html_write(p, &o, full, err, sizeof(err)), -EIO);
		fclose(full);
	}
	profile_free(p);
	return check_done();
}

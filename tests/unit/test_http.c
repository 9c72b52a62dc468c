/*
 * test_http.c - the request-handling pieces of serve that need no socket:
 * --http parsing, Go's query decoding and parameter checks, routes, reply
 * bodies and the access-log line. The server itself is tested end to end
 * (tests/e2e/serve_*.sh) with curl and go tool pprof.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "http.h"

static void test_parse_listen(void)
{
	char host[64], err[128];
	unsigned port = 99;

	CHECK_INT(http_parse_listen(":8080", host, sizeof(host), &port, err, sizeof(err)), 0);
	CHECK_STR(host, "");
	CHECK_INT(port, 8080);
	CHECK_INT(http_parse_listen("0.0.0.0:0", host, sizeof(host), &port, err, sizeof(err)), 0);
	CHECK_STR(host, "0.0.0.0");
	CHECK_INT(port, 0);
	CHECK_INT(http_parse_listen("[::1]:6060", host, sizeof(host), &port, err, sizeof(err)), 0);
	CHECK_STR(host, "::1");
	CHECK_INT(port, 6060);
	CHECK_INT(http_parse_listen("localhost:65535", host, sizeof(host), &port, err, sizeof(err)), 0);
	CHECK_STR(host, "localhost");

	CHECK_INT(http_parse_listen("8080", host, sizeof(host), &port, err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "[HOST]:PORT") != NULL);
	CHECK_INT(http_parse_listen(":65536", host, sizeof(host), &port, err, sizeof(err)), -EINVAL);
	CHECK_INT(http_parse_listen(":", host, sizeof(host), &port, err, sizeof(err)), -EINVAL);
	CHECK_INT(http_parse_listen(":80x", host, sizeof(host), &port, err, sizeof(err)), -EINVAL);
	CHECK_INT(http_parse_listen("::1:80", host, sizeof(host), &port, err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "brackets") != NULL);
	CHECK_INT(http_parse_listen("[::1]80", host, sizeof(host), &port, err, sizeof(err)), -EINVAL);
	CHECK_INT(http_parse_listen("averyveryverylonghostname:1", host, 8, &port, err, sizeof(err)),
		  -EINVAL);
}

static void test_query(void)
{
	char v[16];

	CHECK_INT(http_query_get("seconds=5&debug=1", "debug", v, sizeof(v)), 1);
	CHECK_STR(v, "1");
	CHECK_INT(http_query_get("seconds=5&debug=1", "seconds", v, sizeof(v)), 1);
	CHECK_STR(v, "5");
	CHECK_INT(http_query_get("seconds=5", "debug", v, sizeof(v)), 0);
	CHECK_INT(http_query_get("", "debug", v, sizeof(v)), 0);
	CHECK_INT(http_query_get(NULL, "debug", v, sizeof(v)), 0);
	/* First value wins, as Go's FormValue. */
	CHECK_INT(http_query_get("debug=2&debug=1", "debug", v, sizeof(v)), 1);
	CHECK_STR(v, "2");
	/* Escapes and '+' as in url.ParseQuery. */
	CHECK_INT(http_query_get("a=x%41+y", "a", v, sizeof(v)), 1);
	CHECK_STR(v, "xA y");
	CHECK_INT(http_query_get("%64ebug=7", "debug", v, sizeof(v)), 1);
	CHECK_STR(v, "7");
	CHECK_INT(http_query_get("debug", "debug", v, sizeof(v)), 1);
	CHECK_STR(v, "");
	/* A pair that does not decode is skipped; the next one counts. */
	CHECK_INT(http_query_get("debug=%zz&debug=1", "debug", v, sizeof(v)), 1);
	CHECK_STR(v, "1");
	CHECK_INT(http_query_get("debug=%4", "debug", v, sizeof(v)), 0);
	CHECK_INT(http_query_get("xdebug=1&debugx=2", "debug", v, sizeof(v)), 0);
	CHECK_INT(http_query_get("debug=12345678901234567890", "debug", v, sizeof(v)), -EINVAL);
}

static void test_route(void)
{
	const char *name;

	CHECK_INT(http_route_path("/debug/pprof/", &name), HTTP_ROUTE_INDEX);
	CHECK_INT(http_route_path("/debug/pprof", &name), HTTP_ROUTE_REDIRECT);
	CHECK_INT(http_route_path("/", &name), HTTP_ROUTE_NOT_FOUND);
	CHECK_INT(http_route_path("/debug/pprofx", &name), HTTP_ROUTE_NOT_FOUND);
	CHECK_INT(http_route_path("/debug/pprof/profile", &name), HTTP_ROUTE_PROFILE);
	CHECK_INT(http_route_path("/debug/pprof/goroutine", &name), HTTP_ROUTE_THREADS);
	CHECK_STR(name, "goroutine");
	CHECK_INT(http_route_path("/debug/pprof/threads", &name), HTTP_ROUTE_THREADS);
	CHECK_STR(name, "threads");
	CHECK_INT(http_route_path("/debug/pprof/threadcreate", &name), HTTP_ROUTE_THREADCREATE);
	CHECK_INT(http_route_path("/debug/pprof/cmdline", &name), HTTP_ROUTE_CMDLINE);
	CHECK_INT(http_route_path("/debug/pprof/symbol", &name), HTTP_ROUTE_SYMBOL);
	CHECK_INT(http_route_path("/debug/pprof/heap", &name), HTTP_ROUTE_HEAP);
	CHECK_INT(http_route_path("/debug/pprof/trace", &name), HTTP_ROUTE_TRACE);
	CHECK_INT(http_route_path("/debug/pprof/allocs", &name), HTTP_ROUTE_HEAP);
	CHECK_INT(http_route_path("/debug/pprof/block", &name), HTTP_ROUTE_BLOCK);
	CHECK_INT(http_route_path("/debug/pprof/mutex", &name), HTTP_ROUTE_MUTEX);
	CHECK_INT(http_route_path("/debug/pprof/wall", &name), HTTP_ROUTE_WALL);
	CHECK_INT(http_route_path("/debug/pprof/nosuch", &name), HTTP_ROUTE_UNKNOWN);
	CHECK_STR(name, "nosuch");
	CHECK_INT(http_route_path("/debug/pprof/goroutine/", &name), HTTP_ROUTE_UNKNOWN);
}

static void test_errors(void)
{
	struct http_reply r;
	unsigned secs = 0;
	int debug = -1;

	memset(&r, 0, sizeof(r));
	CHECK_INT(http_check_profile_seconds(NULL, 30, 300, &secs, &r), 0);
	CHECK_INT(secs, 30);
	CHECK_INT(http_check_profile_seconds("", 30, 300, &secs, &r), 0);
	CHECK_INT(secs, 30);
	/* The default never exceeds the cap. */
	CHECK_INT(http_check_profile_seconds(NULL, 30, 10, &secs, &r), 0);
	CHECK_INT(secs, 10);
	CHECK_INT(http_check_profile_seconds("+7", 30, 300, &secs, &r), 0);
	CHECK_INT(secs, 7);
	CHECK_INT(http_check_profile_seconds("300", 30, 300, &secs, &r), 0);
	CHECK_INT(secs, 300);
	CHECK_INT(r.status, 0);

	static const char *const bad[] = { "0", "-1", "abc", "5s", "1.5", "+", " 5" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CHECK_INT(http_check_profile_seconds(bad[i], 30, 300, &secs, &r), -EINVAL);
		CHECK_INT(r.status, 400);
		CHECK(r.go_error);
		CHECK_STR(r.content_type, "text/plain; charset=utf-8");
		CHECK_STR(r.body, "invalid value for \"seconds\" - must be a positive integer\n");
		CHECK_INT(r.len, strlen(r.body));
		CHECK_STR(r.disposition, "");
		http_reply_release(&r);
	}
	CHECK_INT(http_check_profile_seconds("301", 30, 300, &secs, &r), -EINVAL);
	CHECK_INT(r.status, 400);
	CHECK(r.body && strstr(r.body, "limit of 300 seconds"));
	http_reply_release(&r);
	CHECK_INT(http_check_profile_seconds("99999999999999999999999", 30, 300, &secs, &r), -EINVAL);
	CHECK_INT(r.status, 400);
	http_reply_release(&r);

	/* Around 2^63 and 2^64, both signs: nothing wraps. 2^64 + 1 was
	 * taken as 1 s (the accumulator wrapped before the check). */
	static const struct { const char *v; int ok; unsigned secs; const char *why; } big[] = {
		{ "18446744073709551617", 0, 0, "limit of 300" },	/* 2^64 + 1 */
		{ "18446744073709551616", 0, 0, "limit of 300" },	/* 2^64 */
		{ "18446744073709551615", 0, 0, "limit of 300" },
		{ "9223372036854775808", 0, 0, "limit of 300" },	/* 2^63 */
		{ "9223372036854775807", 0, 0, "limit of 300" },
		{ "18446744073709551916", 0, 0, "limit of 300" },	/* 2^64 + 300 */
		{ "-9223372036854775808", 0, 0, "positive integer" },
		{ "-9223372036854775809", 0, 0, "positive integer" },
		{ "-18446744073709551617", 0, 0, "positive integer" },
		{ "-18446744073709551615", 0, 0, "positive integer" },	/* -(2^64 - 1) */
		{ "0000000000000000000000000000005", 1, 5, NULL },
	};
	for (size_t i = 0; i < sizeof(big) / sizeof(big[0]); i++) {
		secs = 0;
		int e = http_check_profile_seconds(big[i].v, 30, 300, &secs, &r);
		if (big[i].ok) {
			CHECK_INT(e, 0);
			CHECK_INT(secs, big[i].secs);
		} else {
			CHECK_INT(e, -EINVAL);
			CHECK_INT(r.status, 400);
			CHECK(r.body && strstr(r.body, big[i].why));
			http_reply_release(&r);
		}
	}

	CHECK_INT(http_check_debug(NULL, &debug, &r), 0);
	CHECK_INT(debug, 0);
	CHECK_INT(http_check_debug("1", &debug, &r), 0);
	CHECK_INT(debug, 1);
	CHECK_INT(http_check_debug("2", &debug, &r), 0);
	CHECK_INT(debug, 2);
	CHECK_INT(http_check_debug("9", &debug, &r), 0);
	CHECK_INT(debug, 2);
	CHECK_INT(http_check_debug("x", &debug, &r), -EINVAL);
	CHECK_INT(r.status, 400);
	CHECK_STR(r.body, "invalid value for \"debug\" - must be 0, 1 or 2\n");
	http_reply_release(&r);
	CHECK_INT(http_check_debug("-1", &debug, &r), -EINVAL);
	CHECK_INT(r.status, 400);
	http_reply_release(&r);
	/* -2^64 was taken as debug=0. Past 2^63 either way: Go's Atoi
	 * clamps, so a huge positive is the full dump, a huge negative is
	 * refused as any negative is. */
	static const char *const neg[] = { "-18446744073709551616", "-18446744073709551617",
					   "-9223372036854775808", "-9223372036854775809" };
	for (size_t i = 0; i < sizeof(neg) / sizeof(neg[0]); i++) {
		debug = 7;
		CHECK_INT(http_check_debug(neg[i], &debug, &r), -EINVAL);
		CHECK_INT(r.status, 400);
		CHECK_INT(debug, 7);
		http_reply_release(&r);
	}
	static const char *const pos[] = { "18446744073709551616", "18446744073709551617",
					   "18446744073709551618", "9223372036854775808",
					   "9223372036854775807" };
	for (size_t i = 0; i < sizeof(pos) / sizeof(pos[0]); i++) {
		debug = 7;
		CHECK_INT(http_check_debug(pos[i], &debug, &r), 0);
		CHECK_INT(debug, 2);
	}

	CHECK_INT(http_reply_error(&r, 404, "Unknown profile"), 0);
	CHECK_INT(r.status, 404);
	CHECK_STR(r.body, "Unknown profile\n");
	CHECK(r.go_error);
	http_reply_release(&r);
	CHECK(r.body == NULL);
}

static const char *fake_lookup(uint64_t addr, void *arg)
{
	(*(int *)arg)++;
	if (addr == 0x401000)
		return "main";
	if (addr == 0x7f00deadbeef)
		return "worker_loop";
	return NULL;
}

static void test_symbol(void)
{
	uint64_t *a = NULL;
	size_t n = 0;
	char *body = NULL;
	size_t len = 0;
	int calls = 0;

	const char *req = "0x401000+0x7f00deadbeef+junk+0+0x999+4198400+010";
	CHECK_INT(http_parse_symbol_request(req, strlen(req), &a, &n), 0);
	CHECK_INT(n, 5);
	if (n == 5) {
		CHECK(a[0] == 0x401000);
		CHECK(a[1] == 0x7f00deadbeefULL);
		CHECK(a[2] == 0x999);
		CHECK(a[3] == 4198400);	/* decimal */
		CHECK(a[4] == 8);	/* leading 0: octal */
	}
	CHECK_INT(http_symbol_body(a, n, fake_lookup, &calls, &body, &len), 0);
	CHECK_INT(calls, 5);
	CHECK_STR(body, "num_symbols: 1\n0x401000 main\n0x7f00deadbeef worker_loop\n"
		  "0x401000 main\n");
	CHECK_INT(len, strlen(body));
	free(body);
	free(a);

	/* A POST body with a trailing newline; an overflowing word. */
	const char *post = "0x401000+0x1ffffffffffffffff\n";
	CHECK_INT(http_parse_symbol_request(post, strlen(post), &a, &n), 0);
	CHECK_INT(n, 1);
	free(a);
	/* Only the length given counts. */
	CHECK_INT(http_parse_symbol_request("0x10+0x20", 4, &a, &n), 0);
	CHECK_INT(n, 1);
	free(a);
	CHECK_INT(http_parse_symbol_request("", 0, &a, &n), 0);
	CHECK_INT(n, 0);
	calls = 0;
	CHECK_INT(http_symbol_body(a, n, fake_lookup, &calls, &body, &len), 0);
	CHECK_STR(body, "num_symbols: 1\n");
	CHECK_INT(calls, 0);
	free(body);
	free(a);
}

static void test_bodies(void)
{
	char *body = NULL;
	size_t len = 0;

	/* /proc/PID/cmdline ends every argument with NUL; Go joins them. */
	static const char proc[] = "./app\0--flag\0a b\0";
	CHECK_INT(http_cmdline_body(proc, sizeof(proc) - 1, &body, &len), 0);
	CHECK_INT(len, sizeof(proc) - 2);
	CHECK(memcmp(body, "./app\0--flag\0a b", len) == 0);
	free(body);
	CHECK_INT(http_cmdline_body("", 0, &body, &len), 0);
	CHECK_INT(len, 0);
	free(body);

	CHECK_INT(http_index_html(4242, "a<b>", 17, &body, &len), 0);
	CHECK_INT(len, strlen(body));
	CHECK(strstr(body, "process 4242 (a&lt;b&gt;)") != NULL);
	CHECK(strstr(body, "<tr><td>17</td><td><a href='goroutine?debug=1'>goroutine</a>") != NULL);
	CHECK(strstr(body, "<a href='threads?debug=1'>threads</a>") != NULL);
	CHECK(strstr(body, "<a href=\"goroutine?debug=2\">") != NULL);
	CHECK(strstr(body, "<a href=\"../../ui/\">") != NULL);	/* /ui/, also under a prefix */
	CHECK(strstr(body, "<a href='heap'>heap</a></td>") != NULL);
	CHECK(strstr(body, "<a href='allocs'>allocs</a></td>") != NULL);
	CHECK(strstr(body, "not yet available") == NULL);
	CHECK(strstr(body, "start routine") != NULL);
	CHECK(strstr(body, "<a href='profile'>profile</a></td>") != NULL);
	CHECK(strstr(body, "<a href='block?seconds=5'>block</a></td>") != NULL);
	CHECK(strstr(body, "<a href='wall?seconds=5'>wall</a></td>") != NULL);
	CHECK(strstr(body, "mutex</a> (not yet available)") == NULL);
	free(body);
}

/* Go's debug=1 text of a contention profile: largest delay first, every
 * frame on a line of its own, inlined lines too. */
static void test_contention(void)
{
	struct profile *p = profile_new();
	char *body = NULL;
	size_t len = 0;

	CHECK(p != NULL);
	CHECK_INT(profile_add_sample_type(p, "contentions", "count"), 0);
	CHECK_INT(profile_add_sample_type(p, "delay", "nanoseconds"), 0);
	uint64_t fsys = profile_function(p, "[syscall] futex", NULL, NULL, 0);
	uint64_t fw = profile_function(p, "wait\x1b", NULL, "w.c", 3);
	uint64_t fin = profile_function(p, "inl", NULL, "w.c", 9);
	struct profile_line lsys = { fsys, 0 };
	struct profile_line lw[2] = { { fin, 10 }, { fw, 5 } };
	uint64_t locs[2] = {
		profile_location(p, 0, 0, &lsys, 1),
		profile_location(p, 0, 0x401000, lw, 2),
	};
	int64_t small[2] = { 3, 100 }, big[2] = { 1, 5000 };
	CHECK_INT(profile_add_sample(p, locs, 1, small, NULL, 0), 0);
	CHECK_INT(profile_add_sample(p, locs, 2, big, NULL, 0), 0);
	/* The same stack from another thread: one entry, summed. */
	struct profile_label_in other = { .key = "thread_id", .num = 42 };
	int64_t more[2] = { 2, 700 };
	CHECK_INT(profile_add_sample(p, locs, 2, more, &other, 1), 0);

	CHECK_INT(http_contention_text(p, true, &body, &len), 0);
	CHECK_INT(len, strlen(body));
	CHECK_STR(body,
		  "--- contention:\n"
		  "cycles/second=1000000000\n"
		  "sampling period=1\n"
		  "5700 3 @ 0x0 0x401000\n"
		  "#\t0x0\t[syscall] futex\n"
		  "#\t0x401000\tinl\tw.c:10\n"
		  "#\t0x401000\twait\\x1b\tw.c:5\n"
		  "\n"
		  "100 3 @ 0x0\n"
		  "#\t0x0\t[syscall] futex\n"
		  "\n");
	free(body);
	CHECK_INT(http_contention_text(p, false, &body, &len), 0);
	CHECK(strstr(body, "sampling period") == NULL);
	free(body);
	profile_free(p);
}

/* serve --all's index: each process served linked to its endpoints and
 * its /ui/ pages, the refused ones with their reason, all escaped. */
static void test_all_index(void)
{
	struct http_proc procs[2] = {
		{ .pid = 12, .comm = "a<b>", .user = "root", .exe = "/x&y", .cgroup = "/s" },
		{ .pid = 13, .comm = "c", .user = "nobody", .denied = "ptrace denied: <no>" },
	};
	char *body = NULL;
	size_t len = 0;

	CHECK_INT(http_all_index_html(procs, 2, &body, &len), 0);
	CHECK(body && strlen(body) == len);
	if (!body)
		return;
	CHECK(strstr(body, "1 processes served") != NULL);
	CHECK(strstr(body, "<a href=\"/pid/12/debug/pprof/\">12</a>") != NULL);
	CHECK(strstr(body, "<a href=\"/pid/12/ui/\">") != NULL);
	CHECK(strstr(body, "/pid/13/") == NULL);
	CHECK(strstr(body, "a&lt;b&gt;") != NULL && strstr(body, "/x&amp;y") != NULL);
	CHECK(strstr(body, "ptrace denied: &lt;no&gt;") != NULL);
	free(body);
}

static void test_access_line(void)
{
	char line[512];

	CHECK_INT(http_access_line(line, sizeof(line), "127.0.0.1", "GET",
				   "/debug/pprof/goroutine?debug=1", 200, 1234, 12.34), 0);
	CHECK_STR(line, "127.0.0.1 GET /debug/pprof/goroutine?debug=1 200 1234 12.3ms");
	/* Client bytes cannot forge a second line or a terminal escape. */
	CHECK_INT(http_access_line(line, sizeof(line), NULL, "G\nET", "/a b\n\033x", 0, 0, 0), 0);
	CHECK_STR(line, "- G%0AET /a%20b%0A%1Bx - 0 0.0ms");
	CHECK(strchr(line, '\n') == NULL);
	char longuri[2000];
	memset(longuri, 'a', sizeof(longuri) - 1);
	longuri[sizeof(longuri) - 1] = '\0';
	CHECK_INT(http_access_line(line, sizeof(line), "::1", "GET", longuri, 414, 0, 1), 0);
	CHECK(strlen(line) < 300);
	CHECK(strstr(line, "... 414 0 1.0ms") != NULL);
}

static void test_all(void)
{
	pid_t pid = 0;
	const char *rest = NULL;

	CHECK_INT(http_parse_pid_path("/pid/123/debug/pprof/profile", &pid, &rest), 0);
	CHECK_INT(pid, 123);
	CHECK_STR(rest, "/debug/pprof/profile");
	CHECK_INT(http_parse_pid_path("/pid/7", &pid, &rest), 0);
	CHECK_STR(rest, "");
	CHECK_INT(http_parse_pid_path("/pid/0/debug/pprof/", &pid, &rest), -EINVAL);
	CHECK_INT(http_parse_pid_path("/pid/012/debug/pprof/", &pid, &rest), -EINVAL);
	CHECK_INT(http_parse_pid_path("/pid/-1/", &pid, &rest), -EINVAL);
	CHECK_INT(http_parse_pid_path("/pid/12x/", &pid, &rest), -EINVAL);
	CHECK_INT(http_parse_pid_path("/pid/99999999999/", &pid, &rest), -EINVAL);
	CHECK_INT(http_parse_pid_path("/debug/pprof/", &pid, &rest), -EINVAL);

	CHECK(http_host_is_loopback("localhost"));
	CHECK(http_host_is_loopback("LocalHost:8080"));
	CHECK(http_host_is_loopback("127.0.0.1"));
	CHECK(http_host_is_loopback("127.255.1.2:1"));
	CHECK(http_host_is_loopback("[::1]"));
	CHECK(http_host_is_loopback("[::1]:6060"));
	CHECK(!http_host_is_loopback("127.0.0.1.evil.example"));
	CHECK(!http_host_is_loopback("localhost.evil.example"));
	CHECK(!http_host_is_loopback("evil.example:8080"));
	CHECK(!http_host_is_loopback("128.0.0.1"));
	CHECK(!http_host_is_loopback("127.0.0.256"));
	CHECK(!http_host_is_loopback("127.0.0"));
	CHECK(!http_host_is_loopback("127.0.0.1:"));
	CHECK(!http_host_is_loopback("127.0.0.1:80x"));
	CHECK(!http_host_is_loopback("[::2]:80"));
	CHECK(!http_host_is_loopback("[::1]x"));
	CHECK(!http_host_is_loopback(""));

	CHECK(http_secret_equal("abc", 3, "abc", 3));
	CHECK(!http_secret_equal("abc", 3, "abd", 3));
	CHECK(!http_secret_equal("ab", 2, "abc", 3));
	CHECK(!http_secret_equal("abcabc", 6, "abc", 3));
	CHECK(!http_secret_equal("", 0, "", 0));

	char id[65];
	const char *hex = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789ABCDEF";
	char path[256];
	snprintf(path, sizeof(path), "/system.slice/docker-%s.scope", hex);
	CHECK_INT(http_container_id(path, id), 1);
	CHECK_STR(id, "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef");
	snprintf(path, sizeof(path), "/kubepods/burstable/pod1/%s", hex);
	CHECK_INT(http_container_id(path, id), 1);
	CHECK_INT(http_container_id("/user.slice/user-0.slice/session-3.scope", id), 0);
	snprintf(path, sizeof(path), "/x/%s0", hex);	/* 65 digits */
	CHECK_INT(http_container_id(path, id), 0);

	CHECK(http_cgroup_under("/system.slice/a.service", "/system.slice"));
	CHECK(http_cgroup_under("/system.slice", "/system.slice/"));
	CHECK(!http_cgroup_under("/system.slicex/a", "/system.slice"));
	CHECK(http_cgroup_under("/anything", "/"));

	struct http_proc p[2];
	memset(p, 0, sizeof(p));
	p[0].pid = 42;
	snprintf(p[0].comm, sizeof(p[0].comm), "a\"b\\c\n");
	snprintf(p[0].user, sizeof(p[0].user), "root");
	snprintf(p[0].exe, sizeof(p[0].exe), "/bin/a");
	snprintf(p[0].cgroup, sizeof(p[0].cgroup), "/");
	p[1] = p[0];
	p[1].pid = 43;
	snprintf(p[1].denied, sizeof(p[1].denied), "ptrace denied");
	char *body = NULL;
	size_t len = 0;
	CHECK_INT(http_targets_json(p, 2, "localhost:8080", &body, &len), 0);
	CHECK_STR(body, "[\n{\"targets\":[\"localhost:8080\"],\"labels\":{\"pid\":\"42\","
		  "\"comm\":\"a\\\"b\\\\c\\u000a\",\"exe\":\"/bin/a\",\"user\":\"root\","
		  "\"cgroup\":\"/\",\"service_name\":\"a\\\"b\\\\c\\u000a\","
		  "\"__profile_path_prefix__\":\"/pid/42\"}}\n]\n");
	free(body);
	CHECK_INT(http_targets_json(p, 0, "h:1", &body, &len), 0);
	CHECK_STR(body, "[]\n");
	free(body);
	/* Bytes the process chose: a comm cut inside a character, a C1
	 * control, U+2028 and a fine 'é' in the executable's path. */
	struct http_proc q = { .pid = 7, .comm = "ab\xc3", .exe = "/x\xc2\x85y\xe2\x80\xa8\xc3\xa9",
			       .user = "u", .cgroup = "/" };
	CHECK_INT(http_targets_json(&q, 1, "h:1", &body, &len), 0);
	CHECK(body && strstr(body, "\"comm\":\"ab\\ufffd\"") != NULL);
	CHECK(body && strstr(body, "\"exe\":\"/x\\u0085y\\u2028\xc3\xa9\"") != NULL);
	free(body);
}

int main(void)
{
	test_parse_listen();
	test_query();
	test_route();
	test_errors();
	test_symbol();
	test_bodies();
	test_contention();
	test_all_index();
	test_access_line();
	test_all();
	return check_done();
}

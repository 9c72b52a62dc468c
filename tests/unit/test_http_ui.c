/*
 * test_http_ui.c - serve's /ui/ pages without a server: routes, the kinds
 * offered, and that the target's own strings (command line, thread names)
 * reach the page escaped, never as markup or raw control characters.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "http_ui.h"
#include "record.h"

static void test_route(void)
{
	CHECK_INT(http_ui_route_path("/ui"), HTTP_UI_REDIRECT);
	CHECK_INT(http_ui_route_path("/ui/"), HTTP_UI_INDEX);
	CHECK_INT(http_ui_route_path("/ui/index.html"), HTTP_UI_INDEX);
	CHECK_INT(http_ui_route_path("/ui/flame"), HTTP_UI_FLAME);
	CHECK_INT(http_ui_route_path("/ui/threads"), HTTP_UI_THREADS);
	CHECK_INT(http_ui_route_path("/ui/flame/x"), HTTP_UI_NOT_FOUND);
	CHECK_INT(http_ui_route_path("/ui/../debug/pprof/"), HTTP_UI_NOT_FOUND);
	CHECK_INT(http_ui_route_path("/uix"), HTTP_UI_NONE);
	CHECK_INT(http_ui_route_path("/debug/pprof/"), HTTP_UI_NONE);
	CHECK_INT(http_ui_route_path(""), HTTP_UI_NONE);
}

static void test_kinds(void)
{
	CHECK_INT(http_ui_profile_kind("cpu"), RECORD_CPU);
	CHECK_INT(http_ui_profile_kind("wall"), RECORD_WALL);
	CHECK_INT(http_ui_profile_kind("block"), RECORD_BLOCK);
	CHECK_INT(http_ui_profile_kind("mutex"), RECORD_MUTEX);
	CHECK_INT(http_ui_profile_kind("trace"), -EINVAL);
	CHECK_INT(http_ui_profile_kind("CPU"), -EINVAL);
	CHECK_INT(http_ui_profile_kind(""), -EINVAL);
}

static void test_index(void)
{
	static const char cmd[] = "./srv\0--name=<script>alert(1)</script>\0a\x1b[2Jb\0";
	struct http_ui_thread th[2] = {
		{ .tid = 10, .name = "main", .state = 'R', .cpu_s = 1.5 },
		{ .tid = 11, .name = "w<b>\"", .state = 'S', .cpu_s = -1 },
	};
	struct http_ui_target t = {
		.pid = 10, .comm = "srv&co", .cmdline = cmd, .cmdline_len = sizeof(cmd) - 1,
		.exe = "/opt/srv", .uptime_s = 3725, .threads = th, .nthreads = 2,
		.default_seconds = 10, .max_seconds = 120,
	};
	char *body = NULL;
	size_t len = 0;

	CHECK_INT(http_ui_index_html(&t, &body, &len), 0);
	CHECK(body && strlen(body) == len);
	if (!body)
		return;
	CHECK(strstr(body, "Process 10 (srv&amp;co)") != NULL);
	CHECK(strstr(body, "<script>") == NULL);
	CHECK(strstr(body, "--name=&lt;script&gt;alert(1)&lt;/script&gt;") != NULL);
	CHECK(strstr(body, "\x1b") == NULL);
	CHECK(strstr(body, "a\\x1b[2Jb") != NULL);
	CHECK(strstr(body, "./srv --name=") != NULL);	/* NULs as spaces */
	CHECK(strstr(body, "1h 2m") != NULL);
	CHECK(strstr(body, "w&lt;b&gt;&#34;") != NULL);
	CHECK(strstr(body, "name=\"profile\" value=\"cpu\"") != NULL);
	CHECK(strstr(body, "value=\"mutex\"") != NULL);
	CHECK(strstr(body, "max=\"120\"") != NULL);
	CHECK(strstr(body, "action=\"flame\"") != NULL);
	/* Relative links only: the page works under /pid/PID/ too. */
	CHECK(strstr(body, "href=\"/") == NULL);
	CHECK(strstr(body, "action=\"/") == NULL);
	CHECK(strstr(body, "http://") == NULL && strstr(body, "https://") == NULL);
	free(body);

	t.cmdline = NULL;
	t.cmdline_len = 0;
	t.exe = NULL;
	t.uptime_s = -1;
	t.nthreads = 0;
	t.max_seconds = 0;
	CHECK_INT(http_ui_index_html(&t, &body, &len), 0);
	CHECK(body && strstr(body, "(none)") && !strstr(body, "max=\""));
	free(body);
}

static void test_threads(void)
{
	uint64_t pcs[2] = { 0x1000, 0x2000 };
	bool act[2] = { true, false };
	struct threads_thread th[2] = {
		{ .tid = 20, .name = "main", .state = 'S', .syscall = -1, .pcs = pcs,
		  .is_activation = act, .npcs = 2 },
		{ .tid = 21, .name = "x<y>\x07", .state = 'R', .syscall = -2, .pcs = pcs,
		  .is_activation = act, .npcs = 1 },
	};
	struct threads_dump d = { .pid = 20, .threads = th, .n = 2 };
	char *body = NULL;
	size_t len = 0;

	CHECK_INT(http_ui_threads_html(&d, NULL, "m&m", &body, &len), 0);
	if (!body)
		return;
	CHECK(strstr(body, "Threads of process 20 (m&amp;m)") != NULL);
	CHECK(strstr(body, "<pre id=\"t20\">") != NULL);
	CHECK(strstr(body, "<pre id=\"t21\">") != NULL);
	CHECK(strstr(body, "href=\"#t21\"") != NULL);
	CHECK(strstr(body, "x&lt;y&gt;") != NULL);
	CHECK(strstr(body, "<y>") == NULL);
	CHECK(strchr(body, '\x07') == NULL);
	CHECK(strstr(body, "0x1000") != NULL || strstr(body, "1000") != NULL);
	CHECK(strstr(body, "href=\"/") == NULL);
	free(body);
}

int main(void)
{
	test_route();
	test_kinds();
	test_index();
	test_threads();
	return check_done();
}

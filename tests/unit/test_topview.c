/*
 * test_topview.c - the window of `cprof top` (topview.h): self and total
 * shares, recursion counted once in the total, inlined and unnamed frames,
 * the sliding window forgetting old seconds, the sort orders, the thread
 * filter, the trend of each row, and a long run that stays bounded.
 */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "topview.h"

#define MS 1000000ULL

static struct record_frame fr(const char *fn, const char *module)
{
	return (struct record_frame){ .function = fn, .module = module };
}

/* A sample of tid with frames names[0..n) (leaf first) in /bin/app. */
static void add(struct topview *tv, pid_t tid, const char *tname, uint64_t ns,
		const char *const *names, size_t n)
{
	struct record_frame f[16];

	for (size_t i = 0; i < n; i++)
		f[i] = fr(names[i], "/usr/bin/app");
	struct record_sample s = {
		.pid = 100, .tid = tid, .comm = "app", .thread_name = tname,
		.weight_ns = ns, .nframes = n, .frames = f,
	};
	CHECK_INT(topview_add(tv, &s), 0);
}
#define ADD(tv, tid, tname, ns, ...) do { \
	static const char *const n_[] = { __VA_ARGS__ }; \
	add(tv, tid, tname, ns, n_, sizeof(n_) / sizeof(n_[0])); \
} while (0)

static const struct topview_row *find(const struct topview_row *rows, size_t n,
				      const char *fn)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(rows[i].function, fn))
			return &rows[i];
	return NULL;
}

static bool near(double a, double b)
{
	return a > b - 1e-9 && a < b + 1e-9;
}

static void test_shares(void)
{
	struct topview *tv = topview_new(5, 10);
	struct topview_row rows[16];
	struct topview_summary sum;
	size_t n;

	CHECK(tv != NULL);
	/* Nothing closed yet: no rows. */
	CHECK_INT(topview_rows(tv, TOPVIEW_SORT_SELF, -1, rows, 16, &n, &sum), 0);
	CHECK_INT(n, 0);
	/* 5 a, 3 b_leaf (under b), 2 c_leaf (under c), all under run, main. */
	for (int i = 0; i < 5; i++)
		ADD(tv, 100, "main", 10 * MS, "a", "run", "main");
	for (int i = 0; i < 3; i++)
		ADD(tv, 100, "main", 10 * MS, "b_leaf", "b", "run", "main");
	for (int i = 0; i < 2; i++)
		ADD(tv, 100, "main", 10 * MS, "c_leaf", "c", "run", "main");
	/* The second being filled is not shown until it is closed. */
	CHECK_INT(topview_rows(tv, TOPVIEW_SORT_SELF, -1, rows, 16, &n, &sum), 0);
	CHECK_INT(n, 0);
	topview_advance(tv);
	CHECK_INT(topview_rows(tv, TOPVIEW_SORT_SELF, -1, rows, 16, &n, &sum), 0);
	CHECK_INT(sum.samples, 10);
	CHECK_INT(sum.weight_ns, 100 * MS);
	CHECK_INT(sum.seconds, 1);
	CHECK_INT(sum.functions, 7);
	CHECK_INT(n, 7);
	CHECK_STR(rows[0].function, "a");
	CHECK_STR(rows[0].module, "app");
	CHECK(near(rows[0].self, 0.5));
	CHECK(near(rows[0].total, 0.5));
	CHECK_STR(rows[1].function, "b_leaf");
	CHECK_STR(rows[2].function, "c_leaf");
	/* Ties on self (0) go by total, then name. */
	CHECK_STR(rows[3].function, "main");
	CHECK_STR(rows[4].function, "run");
	CHECK_STR(rows[5].function, "b");
	CHECK_STR(rows[6].function, "c");
	CHECK(near(rows[3].total, 1.0));
	CHECK(near(rows[5].total, 0.3));
	CHECK(near(rows[5].self, 0.0));
	CHECK_INT(rows[0].ntrend, 1);
	CHECK(near(rows[0].trend[0], 0.5));

	/* By total: main and run (100%) first. */
	CHECK_INT(topview_rows(tv, TOPVIEW_SORT_TOTAL, -1, rows, 3, &n, &sum), 0);
	CHECK_INT(n, 3);
	CHECK_STR(rows[0].function, "main");
	CHECK_STR(rows[1].function, "run");
	CHECK_STR(rows[2].function, "a");
	topview_free(tv);
}

static void test_recursion_inline_unnamed(void)
{
	struct topview *tv = topview_new(3, 4);
	struct topview_row rows[16];
	struct topview_summary sum;
	size_t n;

	/* fib calls itself: one sample, fib's total is that sample once. */
	ADD(tv, 1, "t", 1 * MS, "fib", "fib", "fib", "main");
	/* An inlined frame and an unnamed one in libc. */
	struct record_frame f[3] = {
		{ .function = "helper", .module = "/usr/bin/app", .inlined = true },
		{ .function = "caller", .module = "/usr/bin/app" },
		{ .function = NULL, .module = "/lib/x86_64-linux-gnu/libc.so.6" },
	};
	struct record_sample s = { .tid = 1, .thread_name = "t", .weight_ns = 1 * MS,
				   .nframes = 3, .frames = f };
	CHECK_INT(topview_add(tv, &s), 0);
	/* A leaf in libc without a name, and a stack with no frame at all. */
	struct record_sample s2 = s;
	s2.frames = &f[2];
	s2.nframes = 1;
	CHECK_INT(topview_add(tv, &s2), 0);
	struct record_sample s3 = s;
	s3.nframes = 0;
	s3.frames = NULL;
	CHECK_INT(topview_add(tv, &s3), 0);
	topview_advance(tv);
	CHECK_INT(topview_rows(tv, TOPVIEW_SORT_SELF, -1, rows, 16, &n, &sum), 0);
	CHECK_INT(sum.samples, 4);
	const struct topview_row *r = find(rows, n, "fib");
	CHECK(r && near(r->self, 0.25) && near(r->total, 0.25));
	r = find(rows, n, "helper");
	CHECK(r && near(r->self, 0.25));
	r = find(rows, n, "caller");
	CHECK(r && near(r->self, 0) && near(r->total, 0.25));
	r = find(rows, n, "[libc.so.6]");
	CHECK(r && near(r->self, 0.25) && near(r->total, 0.5));
	CHECK(r && !strcmp(r->module, "libc.so.6"));
	r = find(rows, n, "[unknown]");
	CHECK(r && near(r->self, 0.25));
	topview_free(tv);
}

static void test_window_and_trend(void)
{
	struct topview *tv = topview_new(2, 4);
	struct topview_row rows[16];
	struct topview_summary sum;
	size_t n;

	/* Second 1: all old_fn; second 2: half and half; seconds 3, 4: all
	 * new_fn. With a 2 s window old_fn is gone after second 4. */
	for (int i = 0; i < 4; i++)
		ADD(tv, 1, "t", MS, "old_fn", "main");
	topview_advance(tv);
	for (int i = 0; i < 2; i++) {
		ADD(tv, 1, "t", MS, "old_fn", "main");
		ADD(tv, 1, "t", MS, "new_fn", "main");
	}
	topview_advance(tv);
	CHECK_INT(topview_rows(tv, TOPVIEW_SORT_SELF, -1, rows, 16, &n, &sum), 0);
	CHECK_INT(sum.seconds, 2);
	CHECK_INT(sum.samples, 8);
	CHECK_STR(rows[0].function, "old_fn");
	CHECK(near(rows[0].self, 0.75));
	CHECK_INT(rows[0].ntrend, 2);
	CHECK(near(rows[0].trend[0], 1.0));
	CHECK(near(rows[0].trend[1], 0.5));
	/* An empty second in between: the trend says "no sample" (-1). */
	topview_advance(tv);
	for (int i = 0; i < 4; i++)
		ADD(tv, 1, "t", MS, "new_fn", "main");
	topview_advance(tv);
	CHECK_INT(topview_rows(tv, TOPVIEW_SORT_SELF, -1, rows, 16, &n, &sum), 0);
	CHECK_INT(sum.seconds, 2);
	CHECK_INT(sum.samples, 4);
	CHECK(find(rows, n, "old_fn") == NULL);
	CHECK_STR(rows[0].function, "new_fn");
	CHECK(near(rows[0].self, 1.0));
	CHECK_INT(rows[0].ntrend, 4);
	CHECK(near(rows[0].trend[0], 0.0));
	CHECK(near(rows[0].trend[1], 0.5));
	CHECK(rows[0].trend[2] < 0);
	CHECK(near(rows[0].trend[3], 1.0));
	topview_free(tv);
}

static void test_threads(void)
{
	struct topview *tv = topview_new(5, 5);
	struct topview_row rows[16];
	struct topview_summary sum;
	size_t n;
	pid_t tid;
	const char *name;

	for (int i = 0; i < 3; i++)
		ADD(tv, 10, "worker", MS, "work", "start_thread");
	ADD(tv, 11, "io", MS, "read", "start_thread");
	/* The thread renamed itself: the latest name is kept. */
	ADD(tv, 11, "io-1", MS, "read", "start_thread");
	topview_advance(tv);
	CHECK_INT(topview_nthreads(tv), 2);
	CHECK(topview_thread(tv, 0, &tid, &name));
	CHECK_INT(tid, 10);
	CHECK_STR(name, "worker");
	CHECK(topview_thread(tv, 1, &tid, &name));
	CHECK_INT(tid, 11);
	CHECK_STR(name, "io-1");
	CHECK(!topview_thread(tv, 2, &tid, &name));

	CHECK_INT(topview_rows(tv, TOPVIEW_SORT_SELF, -1, rows, 16, &n, &sum), 0);
	CHECK_STR(rows[0].function, "work");
	CHECK(near(rows[0].self, 0.6));
	/* Thread 1 alone: read is all of it, work is not there. */
	CHECK_INT(topview_rows(tv, TOPVIEW_SORT_SELF, 1, rows, 16, &n, &sum), 0);
	CHECK_INT(sum.samples, 2);
	CHECK_INT(n, 2);
	CHECK_STR(rows[0].function, "read");
	CHECK(near(rows[0].self, 1.0));
	CHECK(find(rows, n, "work") == NULL);
	CHECK(near(rows[0].trend[0], 1.0));
	topview_free(tv);
}

static void test_off_cpu_and_bounds(void)
{
	struct topview *tv = topview_new(5, 10);
	struct topview_row rows[4];
	struct topview_summary sum;
	size_t n;
	char name[32];

	CHECK(topview_new(0, 10) == NULL);
	CHECK(topview_new(5, 0) == NULL);
	CHECK(topview_new(5, TOPVIEW_MAX_HISTORY + 1) == NULL);
	struct record_frame f = fr("[syscall] read", "[kernel]");
	struct record_sample s = { .tid = 1, .thread_name = "t", .off_cpu = true,
				   .weight_ns = 300 * MS, .nframes = 1, .frames = &f };
	CHECK_INT(topview_add(tv, &s), 0);
	ADD(tv, 1, "t", 100 * MS, "spin", "main");
	topview_advance(tv);
	CHECK_INT(topview_rows(tv, TOPVIEW_SORT_SELF, -1, rows, 4, &n, &sum), 0);
	CHECK_INT(sum.off_cpu_ns, 300 * MS);
	CHECK_STR(rows[0].function, "[syscall] read");
	CHECK(near(rows[0].self, 0.75));

	/* A long run with a new function every second: rows are capped by
	 * max, and the window holds only its last 5 seconds. */
	for (int sec = 0; sec < 200; sec++) {
		snprintf(name, sizeof(name), "f%d", sec);
		struct record_frame g = fr(name, "/bin/x");
		struct record_sample t = { .tid = sec % 7, .thread_name = "w",
					   .weight_ns = MS, .nframes = 1, .frames = &g };
		for (int i = 0; i < 10; i++)
			CHECK_INT(topview_add(tv, &t), 0);
		topview_advance(tv);
	}
	CHECK_INT(topview_rows(tv, TOPVIEW_SORT_SELF, -1, rows, 4, &n, &sum), 0);
	CHECK_INT(n, 4);
	CHECK_INT(sum.functions, 5);
	CHECK_INT(sum.samples, 50);
	CHECK_INT(rows[0].ntrend, 10);
	topview_free(tv);
}

int main(void)
{
	test_shares();
	test_recursion_inline_unnamed();
	test_window_and_trend();
	test_threads();
	test_off_cpu_and_bounds();
	return check_done();
}

/*
 * test_offcpu.c - pairing switch records into intervals (src/offcpu.c) and
 * the lock-wait rule on frame names.
 */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "offcpu.h"

#define MAXIV 32

struct got {
	struct offcpu_interval iv[MAXIV];
	uint64_t stack0[MAXIV];		/* first location of each, 0 none */
	size_t n;
};

static int collect(const struct offcpu_interval *iv, void *arg)
{
	struct got *g = arg;

	if (g->n == MAXIV)
		return -1;
	g->iv[g->n] = *iv;
	g->stack0[g->n] = iv->nstack ? iv->stack[0] : 0;
	g->iv[g->n].stack = NULL;	/* not valid after the call */
	g->n++;
	return 0;
}

static void test_pairing(void)
{
	struct got g = { 0 };
	struct offcpu *oc = offcpu_new(1000, collect, &g);
	struct offcpu_stats st;
	const uint64_t s1[] = { 11, 12, 13 }, s2[] = { 21 };

	CHECK(oc != NULL);
	/* A thread running at the start: out with its own stack, back in. */
	CHECK_INT(offcpu_add_thread(oc, 7, 7, true), 0);
	CHECK_INT(offcpu_stack(oc, 7, 7, 2000, s1, 3), 0);
	CHECK_INT(offcpu_switch_out(oc, 7, 7, 2100, false), 0);
	CHECK_INT(g.n, 0);
	offcpu_waking(oc, 7, 8, 7);
	CHECK_INT(offcpu_switch_in(oc, 7, 7, 3100), 0);
	CHECK_INT(g.n, 1);
	CHECK_INT(g.iv[0].start, 2100);
	CHECK_INT(g.iv[0].end, 3100);
	CHECK(g.iv[0].own_stack);
	CHECK(!g.iv[0].preempted && !g.iv[0].before_window && !g.iv[0].on_cpu);
	CHECK_INT(g.iv[0].nstack, 3);
	CHECK_INT(g.stack0[0], 11);
	CHECK_INT(g.iv[0].waker, 8);
	CHECK_INT(g.iv[0].waker_pid, 7);

	/* Preempted, no new stack: the old one, not its own; the waker of
	 * the last wait is not carried over. */
	CHECK_INT(offcpu_switch_out(oc, 7, 7, 4000, true), 0);
	CHECK_INT(offcpu_switch_in(oc, 7, 7, 4200), 0);
	CHECK_INT(g.n, 2);
	CHECK(g.iv[1].preempted);
	CHECK(!g.iv[1].own_stack);
	CHECK_INT(g.stack0[1], 11);
	CHECK_INT(g.iv[1].waker, 0);

	/* A stack older than OFFCPU_PAIR_NS belongs to another switch. */
	CHECK_INT(offcpu_stack(oc, 7, 7, 5000, s2, 1), 0);
	CHECK_INT(offcpu_switch_out(oc, 7, 7, 5000 + OFFCPU_PAIR_NS + 1, false), 0);
	CHECK_INT(offcpu_switch_in(oc, 7, 7, 5000 + 2 * OFFCPU_PAIR_NS), 0);
	CHECK_INT(g.n, 3);
	CHECK(!g.iv[2].own_stack);

	/* A switch-in lost: the second out restarts the interval. */
	uint64_t t = 10 * OFFCPU_PAIR_NS;
	CHECK_INT(offcpu_switch_out(oc, 7, 7, t, false), 0);
	CHECK_INT(offcpu_switch_out(oc, 7, 7, t + 50, false), 0);
	CHECK_INT(offcpu_switch_in(oc, 7, 7, t + 80), 0);
	CHECK_INT(g.n, 4);
	CHECK_INT(g.iv[3].start, t + 50);

	/* Another thread's first record is a switch-in: off since the
	 * start, without a stack. */
	CHECK_INT(offcpu_switch_in(oc, 7, 9, 1500), 0);
	CHECK_INT(g.n, 5);
	CHECK(g.iv[4].before_window);
	CHECK_INT(g.iv[4].start, 1000);
	CHECK_INT(g.iv[4].end, 1500);
	CHECK_INT(g.iv[4].nstack, 0);

	/* Known at the start and never switched: off for the whole window.
	 * A thread born meanwhile is runnable until it first runs. An
	 * exited thread's last switch-out is no wait. One left off the CPU
	 * counts to the end. */
	CHECK_INT(offcpu_add_thread(oc, 7, 10, false), 0);
	CHECK_INT(offcpu_new_thread(oc, 7, 11, t + 100), 0);
	CHECK_INT(offcpu_switch_in(oc, 7, 11, t + 300), 0);
	CHECK_INT(g.n, 6);
	CHECK(g.iv[5].preempted);
	CHECK_INT(g.iv[5].end - g.iv[5].start, 200);
	CHECK_INT(offcpu_switch_out(oc, 7, 11, t + 400, false), 0);
	offcpu_exit(oc, 11);
	CHECK_INT(offcpu_switch_out(oc, 7, 9, t + 500, false), 0);
	CHECK_INT(offcpu_finish(oc, t + 1000), 0);
	size_t whole = 0, to_end = 0;
	for (size_t i = 6; i < g.n; i++) {
		CHECK(g.iv[i].tid != 11);
		if (g.iv[i].tid == 10 && g.iv[i].before_window &&
		    g.iv[i].start == 1000 && g.iv[i].end == t + 1000)
			whole++;
		if (g.iv[i].tid == 9 && g.iv[i].start == t + 500 &&
		    g.iv[i].end == t + 1000)
			to_end++;
	}
	CHECK_INT(whole, 1);
	CHECK_INT(to_end, 1);
	offcpu_get_stats(oc, &st);
	CHECK_INT(st.intervals, g.n);
	CHECK_INT(st.own_stack, 1);
	CHECK_INT(st.unpaired, 1);
	offcpu_free(oc);
}

/* With on-CPU spans, a thread's spans tile the window. */
static void test_tiling(void)
{
	struct got g = { 0 };
	struct offcpu *oc = offcpu_new(100, collect, &g);
	uint64_t covered = 0, last = 100;

	offcpu_report_on_cpu(oc, true);
	CHECK_INT(offcpu_add_thread(oc, 3, 3, true), 0);
	CHECK_INT(offcpu_switch_out(oc, 3, 3, 150, false), 0);
	CHECK_INT(offcpu_switch_in(oc, 3, 3, 400), 0);
	CHECK_INT(offcpu_switch_out(oc, 3, 3, 450, true), 0);
	CHECK_INT(offcpu_switch_in(oc, 3, 3, 460), 0);
	CHECK_INT(offcpu_finish(oc, 1000), 0);
	CHECK_INT(g.n, 5);
	for (size_t i = 0; i < g.n; i++) {
		CHECK_INT(g.iv[i].start, last);
		CHECK_INT(g.iv[i].on_cpu, i % 2 == 0);
		covered += g.iv[i].end - g.iv[i].start;
		last = g.iv[i].end;
	}
	CHECK_INT(covered, 900);
	offcpu_free(oc);
}

/* A thread running at the start that never leaves the CPU is not off it;
 * one that was off and never comes back is off all along; an interval that
 * began before the start begins at the start; a tid reused by another
 * process reports the new pid. */
static void test_edges(void)
{
	struct got g = { 0 };
	struct offcpu *oc = offcpu_new(1000, collect, &g);

	offcpu_report_on_cpu(oc, true);
	CHECK_INT(offcpu_add_thread(oc, 5, 5, true), 0);
	CHECK_INT(offcpu_add_thread(oc, 5, 6, false), 0);
	CHECK_INT(offcpu_switch_out(oc, 5, 7, 900, false), 0);	/* before the start */
	CHECK_INT(offcpu_switch_in(oc, 5, 7, 1100), 0);
	CHECK_INT(g.n, 1);
	CHECK_INT(g.iv[0].start, 1000);
	CHECK_INT(g.iv[0].end, 1100);
	offcpu_exit(oc, 7);
	CHECK_INT(offcpu_switch_out(oc, 9, 7, 1200, false), 0);	/* reused */
	CHECK_INT(offcpu_switch_in(oc, 9, 7, 1300), 0);
	CHECK_INT(g.iv[g.n - 1].pid, 9);
	g.n = 0;
	CHECK_INT(offcpu_finish(oc, 2000), 0);
	size_t on5 = 0, off6 = 0;
	for (size_t i = 0; i < g.n; i++) {
		if (g.iv[i].tid == 5) {
			CHECK(g.iv[i].on_cpu);
			on5 += g.iv[i].end - g.iv[i].start;
		}
		if (g.iv[i].tid == 6 && !g.iv[i].on_cpu)
			off6 += g.iv[i].end - g.iv[i].start;
	}
	CHECK_INT(on5, 1000);
	CHECK_INT(off6, 1000);
	offcpu_free(oc);
}

/* Many threads: the table grows and finds each again. */
static void test_many(void)
{
	struct got g = { 0 };
	struct offcpu *oc = offcpu_new(0, collect, &g);

	for (pid_t tid = 1; tid <= 1000; tid++)
		CHECK_INT(offcpu_switch_out(oc, 1, tid, 10, false), 0);
	for (pid_t tid = 1; tid <= 1000; tid += 100) {
		CHECK_INT(offcpu_switch_in(oc, 1, tid, 20), 0);
		CHECK_INT(g.iv[g.n - 1].tid, tid);
		CHECK_INT(g.iv[g.n - 1].start, 10);
		g.n = 0;
	}
	offcpu_free(oc);
}

static void test_lock_frames(void)
{
	static const char *const locks[] = {
		"pthread_mutex_lock", "___pthread_mutex_lock",
		"__pthread_mutex_lock_full", "__GI___lll_lock_wait",
		"__lll_lock_wait_private", "pthread_rwlock_wrlock",
		"__pthread_rwlock_rdlock_full64", "pthread_mutex_lock@@GLIBC_2.2.5",
		"__pthread_mutex_cond_lock", "pthread_spin_lock", "mtx_lock",
	};
	static const char *const others[] = {
		"pthread_cond_wait", "__pthread_cond_wait_common",
		"pthread_cond_timedwait@@GLIBC_2.3.2", "sem_wait",
		"__new_sem_wait_slow64.constprop.0", "pthread_barrier_wait",
		"pthread_join", "__pthread_clockjoin_ex", "cnd_wait",
	};
	static const char *const neutral[] = {
		"__futex_abstimed_wait_common", "futex_wait", "main",
		"std::mutex::lock()", "pthread_mutex_unlock", "read", "", NULL,
	};

	for (size_t i = 0; i < sizeof(locks) / sizeof(locks[0]); i++)
		CHECK_INT(offcpu_lock_frame(locks[i]), 1);
	for (size_t i = 0; i < sizeof(others) / sizeof(others[0]); i++)
		CHECK_INT(offcpu_lock_frame(others[i]), -1);
	for (size_t i = 0; i < sizeof(neutral) / sizeof(neutral[0]); i++)
		CHECK_INT(offcpu_lock_frame(neutral[i]), 0);
}

int main(void)
{
	test_pairing();
	test_tiling();
	test_edges();
	test_many();
	test_lock_frames();
	return check_done();
}

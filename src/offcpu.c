/*
 * offcpu.c - pairing switch-outs with switch-ins (see offcpu.h).
 *
 * Threads are kept in an open-addressing table keyed by tid; an exited
 * thread's slot stays (its tid may come back) but its stack is freed.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "offcpu.h"

struct oc_thread {
	pid_t tid;			/* 0: empty slot */
	pid_t pid;
	bool seen;			/* a switch record of it was read */
	bool assume_on;			/* runnable at the start: on the CPU
					 * all along if it never switches */
	bool off;			/* switched out at out_time */
	bool preempt;
	bool own;			/* stack sampled at this switch-out */
	bool stack_fresh;		/* stack not yet paired */
	uint64_t out_time;
	uint64_t in_time;		/* 0: running since the start */
	int cpu;			/* where it runs since in_time; -1 */
	uint64_t stack_time;
	uint64_t *stack;
	size_t nstack, capstack;
	pid_t waker, waker_pid;
};

struct offcpu {
	uint64_t start;
	offcpu_fn fn;
	void *arg;
	bool on_cpu;
	struct oc_thread *t;
	size_t cap, n;			/* cap a power of two */
	struct offcpu_stats st;
};

struct offcpu *offcpu_new(uint64_t start, offcpu_fn fn, void *arg)
{
	struct offcpu *oc = calloc(1, sizeof(*oc));

	if (!oc)
		return NULL;
	oc->start = start;
	oc->fn = fn;
	oc->arg = arg;
	return oc;
}

void offcpu_free(struct offcpu *oc)
{
	if (!oc)
		return;
	for (size_t i = 0; i < oc->cap; i++)
		free(oc->t[i].stack);
	free(oc->t);
	free(oc);
}

void offcpu_report_on_cpu(struct offcpu *oc, bool on)
{
	oc->on_cpu = on;
}

static size_t oc_slot(const struct oc_thread *t, size_t cap, pid_t tid)
{
	size_t i = ((size_t)(uint32_t)tid * 2654435761u) & (cap - 1);

	while (t[i].tid && t[i].tid != tid)
		i = (i + 1) & (cap - 1);
	return i;
}

static struct oc_thread *oc_find(struct offcpu *oc, pid_t tid)
{
	if (!oc->cap || tid <= 0)
		return NULL;
	struct oc_thread *t = &oc->t[oc_slot(oc->t, oc->cap, tid)];
	return t->tid ? t : NULL;
}

/* tid's entry, made if new; NULL on ENOMEM or a bad tid. */
static struct oc_thread *oc_get(struct offcpu *oc, pid_t pid, pid_t tid)
{
	struct oc_thread *t = oc_find(oc, tid);

	if (t) {
		/* A tid reused after an exit whose FORK record was lost. */
		if (pid > 0)
			t->pid = pid;
		return t;
	}
	if (tid <= 0)
		return NULL;
	if ((oc->n + 1) * 2 > oc->cap) {
		size_t cap = oc->cap ? oc->cap * 2 : 64;
		struct oc_thread *nt = calloc(cap, sizeof(*nt));

		if (!nt)
			return NULL;
		for (size_t i = 0; i < oc->cap; i++)
			if (oc->t[i].tid)
				nt[oc_slot(nt, cap, oc->t[i].tid)] = oc->t[i];
		free(oc->t);
		oc->t = nt;
		oc->cap = cap;
	}
	t = &oc->t[oc_slot(oc->t, oc->cap, tid)];
	t->tid = tid;
	t->pid = pid;
	t->cpu = -1;
	oc->n++;
	return t;
}

static int oc_emit_off(struct offcpu *oc, struct oc_thread *t, uint64_t start,
		       uint64_t end, bool before_window)
{
	/* Events are enabled a little before the window starts. */
	if (start < oc->start)
		start = oc->start;
	if (end <= start)
		return 0;
	struct offcpu_interval iv = {
		.pid = t->pid, .tid = t->tid, .start = start, .cpu = -1,
		.end = end > start ? end : start,
		.preempted = !before_window && t->preempt,
		.before_window = before_window,
		.own_stack = !before_window && t->own,
		.waker = t->waker, .waker_pid = t->waker_pid,
	};

	if (!before_window && t->nstack) {
		iv.stack = t->stack;
		iv.nstack = t->nstack;
	}
	oc->st.intervals++;
	if (iv.own_stack)
		oc->st.own_stack++;
	return oc->fn(&iv, oc->arg);
}

static int oc_emit_on(struct offcpu *oc, struct oc_thread *t, uint64_t end)
{
	uint64_t start = t->in_time ? t->in_time : oc->start;
	struct offcpu_interval iv = {
		.pid = t->pid, .tid = t->tid, .on_cpu = true, .cpu = t->cpu,
		.start = start, .end = end > start ? end : start,
	};

	if (!oc->on_cpu || t->in_time == UINT64_MAX || end <= start)
		return 0;
	return oc->fn(&iv, oc->arg);
}

int offcpu_stack(struct offcpu *oc, pid_t pid, pid_t tid, uint64_t time,
		 const uint64_t *stack, size_t n)
{
	struct oc_thread *t = oc_get(oc, pid, tid);

	if (!t)
		return -ENOMEM;
	if (n > t->capstack) {
		uint64_t *ns = realloc(t->stack, n * sizeof(*ns));

		if (!ns)
			return -ENOMEM;
		t->stack = ns;
		t->capstack = n;
	}
	if (n)
		memcpy(t->stack, stack, n * sizeof(*stack));
	t->nstack = n;
	t->stack_time = time;
	t->stack_fresh = true;
	return 0;
}

int offcpu_switch_out(struct offcpu *oc, pid_t pid, pid_t tid, uint64_t time,
		      bool preempt)
{
	struct oc_thread *t = oc_get(oc, pid, tid);
	int r = 0;

	if (!t)
		return -ENOMEM;
	if (t->off)
		oc->st.unpaired++;	/* its switch-in was lost */
	else
		r = oc_emit_on(oc, t, time);
	t->seen = true;
	t->off = true;
	t->out_time = time;
	t->preempt = preempt;
	t->own = t->stack_fresh && t->stack_time <= time &&
		 time - t->stack_time <= OFFCPU_PAIR_NS;
	t->stack_fresh = false;
	t->waker = t->waker_pid = 0;
	return r;
}

int offcpu_switch_in(struct offcpu *oc, pid_t pid, pid_t tid, uint64_t time)
{
	return offcpu_switch_in_on(oc, pid, tid, time, -1);
}

int offcpu_switch_in_on(struct offcpu *oc, pid_t pid, pid_t tid, uint64_t time,
			int cpu)
{
	struct oc_thread *t = oc_get(oc, pid, tid);
	int r = 0;

	if (!t)
		return -ENOMEM;
	if (t->off)
		r = oc_emit_off(oc, t, t->out_time, time, false);
	else if (!t->seen && time > oc->start)
		/* Its first record: it was off the CPU since before the
		 * window began. */
		r = oc_emit_off(oc, t, oc->start, time, true);
	else
		oc->st.unpaired++;
	t->seen = true;
	t->off = false;
	t->in_time = time;
	t->cpu = cpu;
	t->waker = t->waker_pid = 0;
	return r;
}

int offcpu_add_thread(struct offcpu *oc, pid_t pid, pid_t tid, bool running)
{
	struct oc_thread *t = oc_get(oc, pid, tid);

	if (!t)
		return -ENOMEM;
	/* Runnable when the window starts: a thread that never leaves the
	 * CPU writes no switch record, and is not off it. Whether it ran
	 * from the start or waited for a CPU its first record tells. */
	t->assume_on = running;
	return 0;
}

int offcpu_new_thread(struct offcpu *oc, pid_t pid, pid_t tid, uint64_t time)
{
	struct oc_thread *t = oc_get(oc, pid, tid);

	if (!t)
		return -ENOMEM;
	/* Runnable from its creation to its first switch-in. */
	free(t->stack);
	memset(t, 0, sizeof(*t));
	t->tid = tid;
	t->pid = pid;
	t->seen = true;
	t->off = true;
	t->preempt = true;
	t->out_time = time;
	t->cpu = -1;
	return 0;
}

void offcpu_waking(struct offcpu *oc, pid_t wakee, pid_t waker,
		   pid_t waker_pid)
{
	struct oc_thread *t = oc_find(oc, wakee);

	if (t && t->off && waker != wakee) {
		t->waker = waker;
		t->waker_pid = waker_pid;
	}
}

void offcpu_exit(struct offcpu *oc, pid_t tid)
{
	struct oc_thread *t = oc_find(oc, tid);

	if (!t)
		return;
	free(t->stack);
	pid_t keep = t->tid;
	memset(t, 0, sizeof(*t));
	t->tid = keep;
	/* Seen and on the CPU: nothing open, and a reused tid starts with
	 * its own records. */
	t->seen = true;
	t->in_time = UINT64_MAX;
	t->cpu = -1;
}

int offcpu_finish(struct offcpu *oc, uint64_t end)
{
	int r = 0;

	for (size_t i = 0; i < oc->cap && r >= 0; i++) {
		struct oc_thread *t = &oc->t[i];

		if (!t->tid)
			continue;
		if (t->off)
			r = oc_emit_off(oc, t, t->out_time, end, false);
		else if (!t->seen && !t->assume_on && end > oc->start)
			/* Off the CPU for the whole window. */
			r = oc_emit_off(oc, t, oc->start, end, true);
		else if (t->in_time != UINT64_MAX)
			r = oc_emit_on(oc, t, end);
		t->off = false;
		t->in_time = UINT64_MAX;
	}
	return r;
}

void offcpu_get_stats(const struct offcpu *oc, struct offcpu_stats *st)
{
	*st = oc->st;
}

/* The name without what toolchains add around it: leading underscores,
 * glibc's internal "GI_" prefix, a "@VERSION" or ".part.N" suffix. */
static size_t lock_name_core(const char *name, const char **core)
{
	while (*name == '_')
		name++;
	if (!strncmp(name, "GI_", 3)) {
		name += 3;
		while (*name == '_')
			name++;
	}
	*core = name;
	return strcspn(name, "@.");
}

static bool lock_name_is(const char *core, size_t len, const char *want)
{
	return strlen(want) == len && !strncmp(core, want, len);
}

static bool lock_name_starts(const char *core, size_t len, const char *prefix)
{
	size_t n = strlen(prefix);

	return len >= n && !strncmp(core, prefix, n);
}

int offcpu_lock_frame(const char *name)
{
	static const char *const locks[] = {
		"pthread_mutex_lock", "pthread_mutex_timedlock",
		"pthread_mutex_clocklock", "pthread_mutex_lock_full",
		"pthread_mutex_lock_pi", "pthread_mutex_cond_lock",
		"pthread_mutex_cond_lock_full", "pthread_mutex_clocklock_common",
		"pthread_rwlock_rdlock", "pthread_rwlock_wrlock",
		"pthread_rwlock_timedrdlock", "pthread_rwlock_timedwrlock",
		"pthread_rwlock_clockrdlock", "pthread_rwlock_clockwrlock",
		"pthread_rwlock_rdlock_full", "pthread_rwlock_wrlock_full",
		"pthread_rwlock_rdlock_full64", "pthread_rwlock_wrlock_full64",
		"pthread_spin_lock", "lll_lock_wait", "lll_lock_wait_private",
		"lll_clocklock_wait", "mtx_lock",
		"mtx_timedlock",
	};
	static const char *const others[] = {
		"pthread_cond_", "sem_", "new_sem_", "pthread_barrier_", "pthread_join",
		"pthread_timedjoin", "pthread_clockjoin", "pthread_once",
		"cnd_", "thrd_join",
	};
	const char *core;
	size_t len;

	if (!name || !*name)
		return 0;
	len = lock_name_core(name, &core);
	for (size_t i = 0; i < sizeof(locks) / sizeof(locks[0]); i++)
		if (lock_name_is(core, len, locks[i]))
			return 1;
	for (size_t i = 0; i < sizeof(others) / sizeof(others[0]); i++)
		if (lock_name_starts(core, len, others[i]))
			return -1;
	return 0;
}

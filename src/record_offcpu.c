/*
 * record_offcpu.c - the off-CPU side of a recording (docs/design.md §8):
 * the stack sampled at each switch-out, named by the system call the thread
 * blocked in, paired by offcpu.c with the switch-in that ends the wait, and
 * added to the profile as a block, mutex or wall sample weighted by the
 * wait's length.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/perf_event.h>

#include "record_int.h"
#include "trace.h"

/* wall and trace keep every interval, preempted ones too. */
static bool keeps_all(enum record_profile kind)
{
	return kind == RECORD_WALL || kind == RECORD_TRACE;
}

/* The system call a kernel function is the entry of: __x64_sys_NAME and
 * the like, or (pass 1, when no such frame is in the chain: the compiler
 * folded the entry into its helper, as __x64_sys_read into ksys_read)
 * ksys_NAME. NULL for another function. */
static const char *syscall_of(const char *fn, int pass)
{
	static const char *const entries[] = {
		"__x64_sys_", "__ia32_sys_", "__do_sys_", "__se_sys_",
		"__x64_compat_sys_", "__ia32_compat_sys_",
	};
	static const char *const helpers[] = { "ksys_" };
	const char *const *set = pass ? helpers : entries;
	size_t n = pass ? sizeof(helpers) / sizeof(helpers[0]) :
			  sizeof(entries) / sizeof(entries[0]);

	for (size_t j = 0; j < n; j++) {
		size_t len = strlen(set[j]);

		if (!strncmp(fn, set[j], len) && fn[len])
			return fn + len;
	}
	return NULL;
}

/* What the kernel frames of a switch-out say the thread waited in:
 * "[syscall] futex", "[page fault]", or "[off-cpu]" when they say nothing
 * we know (no kallsyms, an unknown path). */
static void wait_name(struct recorder *r, const struct perf_sample *s,
		      char *buf, size_t len)
{
	for (int pass = 0; pass < 2; pass++) {
		bool kernel = false;

		for (uint64_t i = 0; i < s->nr_callchain; i++) {
			uint64_t ip = s->callchain[i];

			if (ip >= (uint64_t)PERF_CONTEXT_MAX) {
				kernel = ip == (uint64_t)PERF_CONTEXT_KERNEL;
				continue;
			}
			if (!kernel)
				continue;
			const struct sym_frame *f = symbolizer_lookup(r->ksym, ip, true);
			const char *fn = f && f->nlines ?
				f->lines[f->nlines - 1].function : NULL;
			const char *call = fn ? syscall_of(fn, pass) : NULL;

			if (call) {
				snprintf(buf, len, "[syscall] %s", call);
				return;
			}
			if (fn && pass == 0 && strstr(fn, "page_fault")) {
				snprintf(buf, len, "[page fault]");
				return;
			}
		}
	}
	snprintf(buf, len, "[off-cpu]");
}

/* A location of its own for a synthetic frame (no mapping, no address). */
static uint64_t named_location(struct recorder *r, const char *name)
{
	uint64_t fn = profile_function(r->profile, name, name, NULL, 0);
	struct profile_line line = { .function_id = fn };

	return fn ? profile_location(r->profile, 0, 0, &line, 1) : 0;
}

/* Each thread's waits: all of them, and those added to the profile with a
 * stack of their own. A wait whose stack was not taken (1 in N sampling, a
 * lost sample) is not given another's: at the end each thread's samples
 * are scaled by all/added, so that its total stays exact and its waits
 * share it as the sampled ones do (docs/design.md §8). */
struct scale_thread {
	pid_t tid, pid;			/* tid 0: empty */
	uint64_t all_n, all_ns, rep_n, rep_ns;	/* waits since the start
						 * (before-window ones apart) */
	uint64_t outs;			/* switch-outs since its last stack */
	double carry_n, carry_ns;	/* rounding left over by scaling */
};

struct offcpu_scale {
	struct scale_thread *t;
	size_t cap, n;
	uint64_t before_loc;		/* [off-cpu since before the
					 * recording]: exact, not scaled */
};

static struct scale_thread *scale_get(struct offcpu_scale *sc, pid_t pid, pid_t tid)
{
	if ((sc->n + 1) * 2 > sc->cap) {
		size_t cap = sc->cap ? sc->cap * 2 : 64;
		struct scale_thread *nt = calloc(cap, sizeof(*nt));

		if (!nt)
			return NULL;
		for (size_t i = 0; i < sc->cap; i++) {
			if (!sc->t[i].tid)
				continue;
			size_t j = (size_t)(uint32_t)sc->t[i].tid & (cap - 1);
			while (nt[j].tid)
				j = (j + 1) & (cap - 1);
			nt[j] = sc->t[i];
		}
		free(sc->t);
		sc->t = nt;
		sc->cap = cap;
	}
	size_t j = (size_t)(uint32_t)tid & (sc->cap - 1);
	while (sc->t[j].tid && sc->t[j].tid != tid)
		j = (j + 1) & (sc->cap - 1);
	if (!sc->t[j].tid) {
		sc->t[j].tid = tid;
		sc->t[j].pid = pid;
		sc->n++;
	}
	return &sc->t[j];
}

static struct scale_thread *scale_find(const struct offcpu_scale *sc, pid_t tid)
{
	if (!sc->cap || tid <= 0)
		return NULL;
	size_t j = (size_t)(uint32_t)tid & (sc->cap - 1);
	while (sc->t[j].tid && sc->t[j].tid != tid)
		j = (j + 1) & (sc->cap - 1);
	return sc->t[j].tid ? &sc->t[j] : NULL;
}

/* The SWITCH sample taken as a thread leaves the CPU: its stack, led by
 * the name of what it waits in, kept until the switch-in ends the wait. */
int record_offcpu_sample(struct recorder *r, const struct sampler_record *rec)
{
	const struct perf_sample *s = rec->sample;
	struct procs_process *proc;
	struct rimage *ri;
	char name[96];
	int n;

	/* Before anything about the waker's process: it may be any. */
	if (rec->kind == SAMPLER_WAKING) {
		offcpu_waking(r->offcpu, rec->wakee, (pid_t)s->tid, (pid_t)s->pid);
		return 0;
	}
	/* One stack per switch_period switch-outs of the thread: the events
	 * of threads inherited before the period was raised keep the old one
	 * (sampler_set_period) and sample more often. The sample comes just
	 * before its own switch-out's record. */
	if (r->switch_period > 1 && rec->inherited) {
		struct scale_thread *sc = scale_get(r->scale, (pid_t)s->pid, (pid_t)s->tid);

		if (!sc)
			return -ENOMEM;
		if (sc->outs < r->switch_period)
			return 0;
		sc->outs = 0;
	}
	proc = procs_process(r->procs, (pid_t)s->pid, now_ns(CLOCK_MONOTONIC));
	if (!proc)
		return -ENOMEM;
	n = record_locations(r, proc, s, &ri);
	if (n < 0)
		return n;
	wait_name(r, s, name, sizeof(name));
	r->olocs[0] = named_location(r, name);
	if (!r->olocs[0])
		return -ENOMEM;
	memcpy(r->olocs + 1, r->locs, (size_t)n * sizeof(*r->locs));
	return offcpu_stack(r->offcpu, (pid_t)s->pid, (pid_t)s->tid, rec->time,
			    r->olocs, (size_t)n + 1);
}

int record_offcpu_switch(struct recorder *r, const struct sampler_record *rec)
{
	uint16_t misc = rec->hdr->misc;

	if (misc & PERF_RECORD_MISC_SWITCH_OUT) {
		struct scale_thread *sc = scale_get(r->scale, (pid_t)rec->pid,
						    (pid_t)rec->tid);
		if (!sc)
			return -ENOMEM;
		sc->outs++;
		r->switch_samples++;	/* switch-outs, for the rate */
		/* By the records' own clock: a drain may run longer than a
		 * tick when they come faster than they are read. */
		record_offcpu_tick(r, rec->time);
	}
	if (misc & PERF_RECORD_MISC_SWITCH_OUT)
		return offcpu_switch_out(r->offcpu, (pid_t)rec->pid, (pid_t)rec->tid,
					 rec->time,
					 misc & PERF_RECORD_MISC_SWITCH_OUT_PREEMPT);
	return offcpu_switch_in_on(r->offcpu, (pid_t)rec->pid, (pid_t)rec->tid,
				   rec->time, rec->cpu);
}

/* FORK and EXIT records: { u32 pid, ppid, tid, ptid; u64 time; } */
int record_offcpu_task(struct recorder *r, const struct perf_event_header *hdr,
		       uint64_t time)
{
	uint32_t f[4];

	if (hdr->size < sizeof(*hdr) + sizeof(f))
		return 0;
	memcpy(f, hdr + 1, sizeof(f));
	if (hdr->type == PERF_RECORD_FORK)
		return offcpu_new_thread(r->offcpu, (pid_t)f[0], (pid_t)f[2], time);
	if (hdr->type == PERF_RECORD_EXIT)
		offcpu_exit(r->offcpu, (pid_t)f[2]);
	return 0;
}

/* Whether a wait on a futex under this stack is a lock's: the first frame,
 * from the leaf, that offcpu_lock_frame knows decides. */
static bool is_lock_wait(const struct recorder *r, const uint64_t *stack, size_t n)
{
	const struct profile *p = r->profile;

	for (size_t i = 0; i < n; i++) {
		const struct profile_location *loc = profile_location_by_id(p, stack[i]);

		for (size_t j = 0; loc && j < loc->nlines; j++) {
			const struct profile_function *f =
				profile_function_by_id(p, loc->lines[j].function_id);
			int c = f ? offcpu_lock_frame(profile_str(p, f->system_name)) : 0;

			if (c)
				return c > 0;
		}
	}
	return false;
}

static bool is_futex_wait(const struct recorder *r, const uint64_t *stack, size_t n)
{
	const struct profile_location *loc =
		n ? profile_location_by_id(r->profile, stack[0]) : NULL;
	const struct profile_function *f = loc && loc->nlines ?
		profile_function_by_id(r->profile, loc->lines[0].function_id) : NULL;

	return f && !strcmp(profile_str(r->profile, f->name), "[syscall] futex");
}

/* The function names of a stack of locations, innermost line first, into
 * names (at most max); returns how many. They point into the profile. */
static size_t stack_names(const struct recorder *r, const uint64_t *stack, size_t n,
			  const char **names, size_t max)
{
	const struct profile *p = r->profile;
	size_t k = 0;

	for (size_t i = 0; i < n && k < max; i++) {
		const struct profile_location *loc = profile_location_by_id(p, stack[i]);

		for (size_t j = 0; loc && j < loc->nlines && k < max; j++) {
			const struct profile_function *f =
				profile_function_by_id(p, loc->lines[j].function_id);
			const char *name = f ? profile_str(p, f->name) : NULL;

			names[k++] = name && *name ? name : "?";
		}
		if (loc && !loc->nlines && k < max)
			names[k++] = "?";
	}
	return k;
}

/* Names the tracks of proc and thr, once. */
static int trace_tracks(struct recorder *r, struct procs_process *proc,
			struct procs_thread *thr)
{
	int e = 0;

	if (!proc->traced) {
		proc->traced = true;
		e = trace_process_name(r->opts->trace, proc->pid, proc->comm);
	}
	if (e == 0 && !thr->traced) {
		thr->traced = true;
		e = trace_thread_name(r->opts->trace, proc->pid, thr->tid, thr->name);
	}
	return e;
}

/* The process and thread an interval belongs to; -ENOMEM when they
 * cannot be made. */
static int interval_owner(struct recorder *r, const struct offcpu_interval *iv,
			  struct procs_process **proc, struct procs_thread **thr)
{
	*proc = procs_process(r->procs, iv->pid, now_ns(CLOCK_MONOTONIC));
	*thr = *proc ? procs_thread(r->procs, *proc, iv->tid) : NULL;
	return *thr ? 0 : -ENOMEM;
}

int record_trace_sample(struct recorder *r, struct procs_process *proc,
			struct procs_thread *thr, uint64_t time,
			const uint64_t *locs, size_t n)
{
	int e = trace_tracks(r, proc, thr);

	if (e < 0)
		return e;
	n = stack_names(r, locs, n, r->names, r->max_frames);
	return trace_sample(r->opts->trace, proc->pid, thr->tid, time, r->names, n);
}

/* One interval as a slice: running (with its CPU), or off the CPU named
 * by what it waited in, with its stack when it has its own. */
static int trace_interval(struct recorder *r, const struct offcpu_interval *iv,
			  struct procs_process *proc, struct procs_thread *thr)
{
	const char *name = "running", *cat = "cpu";
	size_t n = 0;
	int e = trace_tracks(r, proc, thr);

	if (e < 0)
		return e;
	if (!iv->on_cpu) {
		cat = "off-cpu";
		name = iv->before_window ? "[off-cpu since before the recording]" :
		       iv->preempted ? "[preempted]" : "[off-cpu]";
		if (iv->own_stack && iv->nstack) {
			n = stack_names(r, iv->stack, iv->nstack, r->names, r->max_frames);
			/* The leaf names the wait (a system call). */
			if (n && !iv->preempted)
				name = r->names[0];
		}
	}
	return trace_slice(r->opts->trace, iv->pid, iv->tid, name, cat, iv->start,
			   iv->end, iv->cpu, n > 1 ? r->names + 1 : NULL, n > 1 ? n - 1 : 0);
}

static int on_interval(const struct offcpu_interval *iv, void *arg)
{
	struct recorder *r = arg;
	enum record_profile kind = r->opts->profile;
	const uint64_t *stack = iv->stack;
	size_t n = iv->nstack;
	uint64_t leaf, len = iv->end - iv->start;
	struct scale_thread *sc;
	struct procs_process *proc = NULL;
	struct procs_thread *thr = NULL;

	if (r->opts->trace) {
		int e = interval_owner(r, iv, &proc, &thr);

		if (e == 0)
			e = trace_interval(r, iv, proc, thr);
		if (e < 0)
			return e;
	}
	if (iv->on_cpu)
		return 0;
	/* Preempted while runnable: waiting for a CPU, not blocked. */
	if (iv->preempted && !keeps_all(kind))
		return 0;
	sc = scale_get(r->scale, iv->pid, iv->tid);
	if (!sc)
		return -ENOMEM;
	if (iv->before_window) {
		/* Exact and stackless: kept out of the scale. Nothing to
		 * classify it by for mutex. */
		if (kind == RECORD_MUTEX)
			return 0;
	} else {
		sc->all_n++;
		sc->all_ns += len;
		if (!iv->own_stack)
			return 0;	/* weighed in by the thread's scale */
		sc->rep_n++;
		sc->rep_ns += len;
	}
	if (iv->before_window || !n) {
		leaf = iv->before_window ? r->scale->before_loc :
		       named_location(r, iv->preempted ? "[runnable]" : "[off-cpu]");
		if (!leaf)
			return -ENOMEM;
		stack = &leaf;
		n = 1;
	} else if (kind == RECORD_MUTEX &&
		   (!is_futex_wait(r, stack, n) || !is_lock_wait(r, stack + 1, n - 1))) {
		return 0;
	}
	if (iv->preempted && iv->nstack && !iv->before_window) {
		/* The sampled leaf named no system call: say why it left. */
		uint64_t *buf = r->olocs;

		if (stack != buf)
			memmove(buf, stack, n * sizeof(*buf));
		buf[0] = named_location(r, "[preempted]");
		if (!buf[0])
			return -ENOMEM;
		stack = buf;
	}

	/* Looked up once: already done for a trace. */
	if (!thr && interval_owner(r, iv, &proc, &thr) < 0)
		return -ENOMEM;

	int64_t values[2] = { 1, (int64_t)(iv->end - iv->start) };
	struct profile_label_in labels[7];
	record_sample_labels(r, proc, thr, labels);
	size_t nl = 4;
	if (keeps_all(kind))
		labels[nl++] = (struct profile_label_in){ .key = "state", .str = "off-cpu" };
	if (iv->waker && !keeps_all(kind)) {
		labels[nl++] = (struct profile_label_in){
			.key = "waker_thread_id", .num = (int64_t)iv->waker };
		struct procs_process *wp = iv->waker_pid == iv->pid ? proc : NULL;
		struct procs_thread *wt = wp ? procs_thread(r->procs, wp, iv->waker) : NULL;
		if (wt && wt->name[0])
			labels[nl++] = (struct profile_label_in){
				.key = "waker_thread_name", .str = wt->name };
	}
	int ret = profile_add_sample(r->profile, stack, n, values, labels, nl);
	if (ret < 0)
		return ret;
	r->st.samples++;
	return record_emit_sample(r, proc, thr, stack, n, len, true);
}

static bool label_is(const struct profile *p, const struct profile_label *l,
		     const char *key)
{
	const char *k = profile_str(p, l->key);

	return k && !strcmp(k, key);
}

/* Scales each thread's off-CPU samples by its all/added ratio (see struct
 * scale_thread); a thread none of whose waits kept a stack gets one sample
 * that says so. */
static int scale_samples(struct recorder *r)
{
	struct profile *p = r->profile;
	uint64_t total = 0;

	for (size_t i = 0; i < p->nsamples; i++) {
		struct profile_sample *s = &p->samples[i];
		struct scale_thread *sc = NULL;
		bool off = !keeps_all(r->opts->profile);

		for (size_t j = 0; j < s->nlabels; j++) {
			const struct profile_label *l = &s->labels[j];

			if (label_is(p, l, "thread_id"))
				sc = scale_find(r->scale, (pid_t)l->num);
			else if (label_is(p, l, "state"))
				off = !strcmp(profile_str(p, l->str), "off-cpu");
		}
		if (!off)
			continue;
		/* The before-window waits are exact. A thread's rounding is
		 * carried from one of its samples to the next, so that its
		 * counts still add up. */
		bool before = s->nlocations == 1 &&
			      s->location_ids[0] == r->scale->before_loc;
		if (sc && !before && sc->rep_n && sc->rep_ns &&
		    (sc->rep_n != sc->all_n || sc->rep_ns != sc->all_ns)) {
			double n = (double)s->values[0] * (double)sc->all_n /
				   (double)sc->rep_n + sc->carry_n;
			double ns = (double)s->values[1] * (double)sc->all_ns /
				    (double)sc->rep_ns + sc->carry_ns;

			s->values[0] = (int64_t)(n + 0.5);
			s->values[1] = (int64_t)(ns + 0.5);
			sc->carry_n = n - (double)s->values[0];
			sc->carry_ns = ns - (double)s->values[1];
		}
		total += (uint64_t)s->values[1];
	}
	for (size_t i = 0; i < r->scale->cap; i++) {
		struct scale_thread *sc = &r->scale->t[i];

		if (!sc->tid || (sc->rep_n && sc->rep_ns) || !sc->all_n ||
		    r->opts->profile == RECORD_MUTEX)
			continue;
		uint64_t leaf = named_location(r, "[off-cpu, no stack taken]");
		uint64_t now = now_ns(CLOCK_MONOTONIC);
		struct procs_process *proc = procs_process(r->procs, sc->pid, now);
		struct procs_thread *thr = proc ? procs_thread(r->procs, proc, sc->tid) : NULL;
		if (!leaf || !thr)
			return -ENOMEM;
		int64_t values[2] = { (int64_t)sc->all_n, (int64_t)sc->all_ns };
		struct profile_label_in labels[5];
		record_sample_labels(r, proc, thr, labels);
		labels[4] = (struct profile_label_in){ .key = "state", .str = "off-cpu" };
		int ret = profile_add_sample(p, &leaf, 1, values, labels,
					     keeps_all(r->opts->profile) ? 5 : 4);
		if (ret < 0)
			return ret;
		r->st.samples++;
		total += sc->all_ns;
	}
	r->st.offcpu_ns = total;
	return 0;
}

void record_offcpu_tick(struct recorder *r, uint64_t now)
{
	uint64_t dt = now - r->last_rate_ns;

	if (!r->last_rate_ns || now < r->last_rate_ns) {
		r->last_rate_ns = now;
		r->switch_samples = 0;
		return;
	}
	if (dt < 100000000ULL)
		return;
	uint64_t period = r->switch_period ? r->switch_period : 1;
	/* Stacks a second at the current period: switch-outs over it. */
	double rate = (double)r->switch_samples / (double)period * 1e9 / (double)dt;
	r->last_rate_ns = now;
	r->switch_samples = 0;
	if (rate <= OFFCPU_MAX_STACK_RATE)
		return;
	/* Fewer stacks, the next power of two that brings the rate under
	 * the limit; the switch records still time every wait. */
	while (rate > OFFCPU_MAX_STACK_RATE && period < OFFCPU_MAX_PERIOD) {
		period *= 2;
		rate /= 2;
	}
	if (sampler_set_period(r->sampler, SAMPLER_SWITCH, period) == 0) {
		r->switch_period = period;
		r->st.switch_period = period;
	}
}

void record_offcpu_lost(struct recorder *r, uint64_t n, uint64_t time)
{
	/* N switch-outs write one sample and 2N SWITCH records at period N:
	 * n lost records stood for about n N / (1 + 2N) switch-outs. */
	uint64_t period = r->switch_period ? r->switch_period : 1;

	r->switch_samples += n * period / (1 + 2 * period);
	record_offcpu_tick(r, time);
}

void record_offcpu_release(struct recorder *r)
{
	offcpu_free(r->offcpu);
	free(r->olocs);
	free(r->names);
	r->names = NULL;
	if (r->scale)
		free(r->scale->t);
	free(r->scale);
	r->offcpu = NULL;
	r->olocs = NULL;
	r->scale = NULL;
}

int record_offcpu_setup(struct recorder *r, uint64_t start)
{
	pid_t *tids = NULL;
	size_t n = 0;

	r->window_start = start;
	r->olocs = calloc(r->max_frames + 1, sizeof(*r->olocs));
	r->offcpu = offcpu_new(start, on_interval, r);
	r->scale = calloc(1, sizeof(*r->scale));
	if (!r->olocs || !r->offcpu || !r->scale)
		return -ENOMEM;
	if (r->opts->trace) {
		/* Inlined lines make a stack's names outnumber its frames. */
		r->names = calloc(4 * (r->max_frames + 1), sizeof(*r->names));
		if (!r->names)
			return -ENOMEM;
		trace_set_start(r->opts->trace, start);
		offcpu_report_on_cpu(r->offcpu, true);
	}
	r->scale->before_loc = named_location(r, "[off-cpu since before the recording]");
	if (!r->scale->before_loc)
		return -ENOMEM;
	r->switch_period = r->opts->switch_period ? r->opts->switch_period : 1;
	r->st.switch_period = r->switch_period;
	/* A thread blocked for the whole window writes no record: know the
	 * threads there are now. */
	if (procfs_list_tasks(r->opts->pid, &tids, &n) == 0)
		for (size_t i = 0; i < n; i++) {
			struct procfs_stat st;
			bool running = procfs_read_stat(r->opts->pid, tids[i], &st) == 0 &&
				       st.state == 'R';

			if (offcpu_add_thread(r->offcpu, r->opts->pid, tids[i], running) < 0) {
				free(tids);
				return -ENOMEM;
			}
		}
	free(tids);
	return 0;
}

int record_offcpu_finish(struct recorder *r, uint64_t end)
{
	struct offcpu_stats os;
	int ret = offcpu_finish(r->offcpu, end);

	offcpu_get_stats(r->offcpu, &os);
	r->st.intervals = os.intervals;
	r->st.intervals_own_stack = os.own_stack;
	return ret < 0 ? ret : scale_samples(r);
}

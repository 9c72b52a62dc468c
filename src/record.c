/*
 * record.c - one CPU recording: perf events in, a finished profile out.
 *
 * Samples are unwound and symbolized as they are read, not stored raw and
 * processed afterwards as perf does: the profile is ready when sampling
 * stops, and memory grows with distinct stacks, not with samples. The cost
 * is that a slow first lookup of a module (cold caches) delays draining the
 * ring; the rings are sized for that (see sampler_opts.ring_pages).
 *
 * Each process is symbolized and unwound against its own mappings: procs
 * follows them from the FORK, COMM, EXIT and MMAP2 records, and each of
 * its images (a program as one or more processes map it) gets a
 * symbolizer, an unwinder and a stackprof of its own, made at its first
 * sample and freed with the image once no process uses it (docs/design.md
 * §1.1). Kernel addresses, and those of a process whose modules could not
 * be read, go through one kernel symbolizer shared by all.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <linux/perf_event.h>

#include "record_int.h"
#include "errmsg.h"

/* The frames of n locations, leaf first, each location's lines innermost
 * first, into r->frames (grown as needed). Returns how many, or -ENOMEM. */
static ssize_t sample_frames(struct recorder *r, const uint64_t *locs, size_t n)
{
	const struct profile *p = r->profile;
	size_t k = 0;

	for (size_t i = 0; i < n; i++) {
		const struct profile_location *loc = profile_location_by_id(p, locs[i]);
		const struct profile_mapping *m = loc && loc->mapping_id ?
			profile_mapping_by_id(p, loc->mapping_id) : NULL;
		const char *module = m ? profile_str(p, m->filename) : NULL;
		size_t nl = loc && loc->nlines ? loc->nlines : 1;

		if (k + nl > r->frames_cap) {
			size_t cap = r->frames_cap ? r->frames_cap : 64;
			while (cap < k + nl)
				cap *= 2;
			struct record_frame *f = realloc(r->frames, cap * sizeof(*f));
			if (!f)
				return -ENOMEM;
			r->frames = f;
			r->frames_cap = cap;
		}
		for (size_t j = 0; j < nl; j++) {
			const struct profile_function *fn = loc && loc->nlines ?
				profile_function_by_id(p, loc->lines[j].function_id) : NULL;
			const char *name = fn ? profile_str(p, fn->name) : NULL;
			const char *file = fn ? profile_str(p, fn->filename) : NULL;

			r->frames[k++] = (struct record_frame){
				.function = name && *name ? name : NULL,
				.file = file && *file ? file : NULL,
				.module = module && *module ? module : NULL,
				.address = loc ? loc->address : 0,
				.inlined = j + 1 < nl,
			};
		}
	}
	return (ssize_t)k;
}

int record_emit_sample(struct recorder *r, struct procs_process *proc,
		       struct procs_thread *thr, const uint64_t *locs, size_t n,
		       uint64_t weight_ns, bool off_cpu)
{
	if (!r->cb || !r->cb->sample)
		return 0;
	ssize_t k = sample_frames(r, locs, n);
	if (k < 0)
		return (int)k;
	struct record_sample s = {
		.pid = proc->pid, .tid = thr->tid,
		.comm = proc->comm, .thread_name = thr->name,
		.off_cpu = off_cpu, .weight_ns = weight_ns,
		.nframes = (size_t)k, .frames = r->frames,
	};
	int ret = r->cb->sample(&s, r->cb->arg);
	return ret < 0 ? ret : 0;
}

static int on_sample(struct recorder *r, const struct perf_sample *s)
{
	uint64_t now = now_ns(CLOCK_MONOTONIC);
	struct procs_process *proc = procs_process(r->procs, (pid_t)s->pid, now);
	struct procs_thread *thr = proc ? procs_thread(r->procs, proc, (pid_t)s->tid) : NULL;
	struct rimage *ri;
	int n;

	if (!thr)
		return -ENOMEM;
	n = record_locations(r, proc, s, &ri);
	if (n < 0)
		return n;
	if (ri && ri->gone)
		r->st.gone_samples++;
	int64_t values[2] = { 1, (int64_t)s->period };
	struct profile_label_in labels[5];
	record_sample_labels(r, proc, thr, labels);
	labels[4] = (struct profile_label_in){ .key = "state", .str = "on-cpu" };
	size_t nl = r->opts->profile == RECORD_WALL || r->opts->profile == RECORD_TRACE ? 5 : 4;
	if (r->opts->trace) {
		int e = record_trace_sample(r, proc, thr, s->time, r->locs, (size_t)n);

		if (e < 0)
			return e;
	}
	int ret = profile_add_sample(r->profile, r->locs, (size_t)n, values, labels, nl);
	if (ret < 0)
		return ret;
	r->st.samples++;
	return record_emit_sample(r, proc, thr, r->locs, (size_t)n, s->period, false);
}

/* The pid a FORK, EXIT, COMM or MMAP2 record is about: the first word of
 * each of their bodies. */
static pid_t record_pid(const struct perf_event_header *hdr)
{
	uint32_t pid;

	if (hdr->size < sizeof(*hdr) + sizeof(pid))
		return 0;
	memcpy(&pid, hdr + 1, sizeof(pid));
	return (pid_t)pid;
}

static int on_record(const struct sampler_record *rec, void *arg)
{
	struct recorder *r = arg;
	uint32_t f[2];
	int ret = 0;

	switch (rec->hdr->type) {
	case PERF_RECORD_FORK:
		/* { pid, ppid, ... }: a new process when they differ, not a
		 * thread. The target's events write its forks' records even
		 * when its children are not followed. */
		if (rec->hdr->size >= sizeof(*rec->hdr) + sizeof(f)) {
			memcpy(f, rec->hdr + 1, sizeof(f));
			if (f[0] != f[1])
				r->st.forked++;
		}
		/* fall through */
	case PERF_RECORD_EXIT:
	case PERF_RECORD_COMM:
	case PERF_RECORD_MMAP2:
		/* Without children the target's own forks still make FORK
		 * records (its events write them): not ours to follow. */
		if (!r->opts->children && record_pid(rec->hdr) != r->opts->pid)
			return 0;
		ret = procs_record(r->procs, rec->hdr, rec->time,
				   now_ns(CLOCK_MONOTONIC));
		if (ret >= 0 && r->offcpu)
			ret = record_offcpu_task(r, rec->hdr, rec->time);
		break;
	case PERF_RECORD_SAMPLE:
		if (!rec->sample)
			return 0;
		/* Events follow the target alone unless children are
		 * wanted (or the kernel lacks inherit_thread, 5.13+). A
		 * waker may be anyone: its wakee is ours. */
		if (!r->opts->children && rec->kind != SAMPLER_WAKING &&
		    (pid_t)rec->sample->pid != r->opts->pid)
			return 0;
		if (rec->kind == SAMPLER_CPU)
			ret = on_sample(r, rec->sample);
		else if (r->offcpu)
			ret = record_offcpu_sample(r, rec);
		break;
	case PERF_RECORD_LOST:
		/* The ring overflowed: stacks come faster than they are
		 * read, which the rate must see too. */
		if (r->offcpu)
			record_offcpu_lost(r, ringbuf_lost_count(rec->hdr), rec->time);
		return 0;
	case PERF_RECORD_SWITCH:
		if (!r->offcpu ||
		    (!r->opts->children && (pid_t)rec->pid != r->opts->pid))
			return 0;
		ret = record_offcpu_switch(r, rec);
		break;
	default:
		return 0;
	}
	if (ret < 0) {
		r->error = ret;
		snprintf(r->err, r->errlen, "cannot add a sample: %s", strerror(-ret));
		return 1;
	}
	return 0;
}

/* --- the recording -------------------------------------------------------- */

static const char *const profile_names[] = {
	[RECORD_CPU] = "cpu", [RECORD_BLOCK] = "block",
	[RECORD_MUTEX] = "mutex", [RECORD_WALL] = "wall", [RECORD_TRACE] = "trace",
	[RECORD_HEAP] = "heap", [RECORD_ALLOCS] = "allocs",
};

const char *record_profile_name(enum record_profile p)
{
	return (unsigned)p < sizeof(profile_names) / sizeof(profile_names[0]) ?
	       profile_names[p] : NULL;
}

int record_profile_parse(const char *s, enum record_profile *out)
{
	for (size_t i = 0; i < sizeof(profile_names) / sizeof(profile_names[0]); i++) {
		if (i == RECORD_TRACE)
			continue;
		if (s && !strcmp(s, profile_names[i])) {
			*out = (enum record_profile)i;
			return 0;
		}
	}
	return -EINVAL;
}

/* Go's sample types for each kind (runtime/pprof: the block and mutex
 * profiles count contentions and their delay). */
static int add_types(struct recorder *r, uint64_t period_ns)
{
	struct profile *p = r->profile;

	switch (r->opts->profile) {
	case RECORD_BLOCK:
	case RECORD_MUTEX:
		if (profile_add_sample_type(p, "contentions", "count") < 0 ||
		    profile_add_sample_type(p, "delay", "nanoseconds") < 0 ||
		    profile_set_period(p, "contentions", "count", 1) < 0)
			return -ENOMEM;
		return 0;
	case RECORD_WALL:
	case RECORD_TRACE:
		if (profile_add_sample_type(p, "samples", "count") < 0 ||
		    profile_add_sample_type(p, "wall", "nanoseconds") < 0 ||
		    profile_set_period(p, "wall", "nanoseconds", (int64_t)period_ns) < 0)
			return -ENOMEM;
		return 0;
	default:
		if (profile_add_sample_type(p, "samples", "count") < 0 ||
		    profile_add_sample_type(p, "cpu", "nanoseconds") < 0 ||
		    profile_set_period(p, "cpu", "nanoseconds", (int64_t)period_ns) < 0)
			return -ENOMEM;
		return 0;
	}
}

int record_target_comments(struct profile *p, pid_t pid, bool children)
{
	char *cmdline = NULL;
	size_t len = 0;

	if (procfs_read_cmdline(procfs_proc_tid(pid), &cmdline, &len) == 0 &&
	    len > 0) {
		for (size_t i = 0; i + 1 < len; i++)
			if (cmdline[i] == '\0')
				cmdline[i] = ' ';
		char buf[4096];
		snprintf(buf, sizeof(buf), "cmdline: %s", cmdline);
		if (profile_add_comment(p, buf) < 0) {
			free(cmdline);
			return -ENOMEM;
		}
	}
	free(cmdline);
	char buf[64];
	snprintf(buf, sizeof(buf), "pid: %d%s", (int)pid,
		 children ? " and its child processes" : "");
	return profile_add_comment(p, buf);
}

static int add_header(struct recorder *r, uint64_t period_ns)
{
	if (add_types(r, period_ns) < 0)
		return -ENOMEM;
	return record_target_comments(r->profile, r->opts->pid, r->opts->children);
}

static int add_footer(struct recorder *r)
{
	char buf[320];

	/* JIT frames left unnamed: say why (docs/design.md §4.4). */
	if (r->perfmap_err) {
		snprintf(buf, sizeof(buf), "cprof: %s not read: %s", r->perfmap,
			 r->perfmap_err == -EPERM ?
			 "not owned by root or the process's user" :
			 r->perfmap_err == -EINVAL ? "not a regular file" :
			 strerror(-r->perfmap_err));
		if (profile_add_comment(r->profile, buf) < 0)
			return -ENOMEM;
	}
#define PLURAL(n, s) ((n) == 1 ? "" : (s))
	snprintf(buf, sizeof(buf),
		 "cprof: %llu sample%s, %llu lost, %llu truncated stack%s, "
		 "%llu unwind failure%s, %zu thread%s, %zu process%s",
		 (unsigned long long)r->st.samples, PLURAL(r->st.samples, "s"),
		 (unsigned long long)r->st.lost,
		 (unsigned long long)r->st.truncated, PLURAL(r->st.truncated, "s"),
		 (unsigned long long)r->st.unwind_failed, PLURAL(r->st.unwind_failed, "s"),
		 r->st.threads, PLURAL(r->st.threads, "s"),
		 r->st.processes, PLURAL(r->st.processes, "es"));
#undef PLURAL
	if (r->st.target_cpu_ms >= 0) {
		size_t len = strlen(buf);
		snprintf(buf + len, sizeof(buf) - len,
			 ", pid %d used %lld ms of CPU while sampled",
			 (int)r->opts->pid, (long long)r->st.target_cpu_ms);
	}
	if (r->st.gone_samples) {
		size_t len = strlen(buf);
		snprintf(buf + len, sizeof(buf) - len,
			 ", %llu samples of processes gone before they were read",
			 (unsigned long long)r->st.gone_samples);
	}
	if (profile_add_comment(r->profile, buf) < 0)
		return -ENOMEM;
	if (!r->offcpu)
		return 0;
	if (r->st.no_wakers &&
	    profile_add_comment(r->profile, "cprof: no waker_thread labels: the "
				"sched:sched_waking tracepoint could not be read or opened") < 0)
		return -ENOMEM;
	snprintf(buf, sizeof(buf),
		 "cprof: %llu off-CPU interval%s, %llu with the stack of their "
		 "own switch-out, %.3f s off the CPU in this profile",
		 (unsigned long long)r->st.intervals,
		 r->st.intervals == 1 ? "" : "s",
		 (unsigned long long)r->st.intervals_own_stack,
		 (double)r->st.offcpu_ns / 1e9);
	if (r->st.switch_period > 1) {
		size_t len = strlen(buf);
		snprintf(buf + len, sizeof(buf) - len,
			 "; stacks taken every %llu switch-outs (over %u a second), "
			 "each thread's other waits weighed in proportionally",
			 (unsigned long long)r->st.switch_period, OFFCPU_MAX_STACK_RATE);
	}
	return profile_add_comment(r->profile, buf);
}

static void recorder_release(struct recorder *r)
{
	/* Before the profile: the images' stackprofs finish into it. */
	procs_free(r->procs);
	symtab_cache_free(r->cache);
	stackprof_free(r->ksp);
	symbolizer_free(r->ksym);
	sampler_free(r->sampler);
	profile_free(r->profile);
	record_offcpu_release(r);
	procfs_ksyms_release(&r->ksyms);
	free(r->pcs);
	free(r->locs);
	free(r->act);
	free(r->frames);
}

/* Notes a target seen stopped; returns true once it has exited. */
static bool check_target(struct recorder *r)
{
	struct procfs_stat st;

	if (procfs_read_stat(r->opts->pid, 0, &st) < 0)
		return true;
	if (st.state == 'T' || st.state == 't')
		r->st.target_stopped = st.state;
	return procfs_stat_gone(&st);
}

static int drain(struct recorder *r, int timeout_ms)
{
	int ret = sampler_read(r->sampler, timeout_ms, on_record, r);
	if (r->error)
		return r->error;
	return ret;
}

/* The CPU time, user and system, that process pid has used so far, in ms
 * (/proc/PID/stat counts every thread of it, the exited ones too); -1 when
 * it cannot be read (gone). Clock ticks: 10 ms. */
static int64_t target_cpu_ms(pid_t pid)
{
	struct procfs_stat st;
	long hz = sysconf(_SC_CLK_TCK);

	if (procfs_read_stat(pid, 0, &st) < 0 || hz <= 0)
		return -1;
	return (int64_t)((st.utime + st.stime) * 1000 / (uint64_t)hz);
}

int record_run(const struct record_opts *opts, const struct record_callbacks *cb,
	       struct profile **out, struct record_stats *st, char *err,
	       size_t errlen)
{
	int64_t cpu0 = -1;
	static const struct record_callbacks no_callbacks;
	struct recorder r = { .opts = opts, .err = err, .errlen = errlen };
	struct procfs_maps none = { 0 };
	int ret;

	if (opts->profile == RECORD_HEAP || opts->profile == RECORD_ALLOCS)
		return record_heap_run(opts, cb, out, st, err, errlen);
	if (!cb)
		cb = &no_callbacks;
	r.cb = cb;
	if (err && errlen)
		err[0] = '\0';
	*out = NULL;
	memset(st, 0, sizeof(*st));
	r.st.target_cpu_ms = -1;
	if (opts->freq == 0)
		return -EINVAL;
	r.max_frames = opts->max_frames ? opts->max_frames : 512;
	r.pcs = calloc(r.max_frames, sizeof(*r.pcs));
	r.locs = calloc(r.max_frames, sizeof(*r.locs));
	r.act = calloc(r.max_frames, sizeof(*r.act));
	r.profile = profile_new();
	r.procs = procs_new(record_rimage_release, &r);
	r.cache = symtab_cache_new();
	if (!r.pcs || !r.locs || !r.act || !r.profile || !r.procs || !r.cache) {
		ret = -ENOMEM;
		goto out_release;
	}

	uint64_t period_ns = 1000000000ULL / opts->freq;
	bool offcpu = opts->profile != RECORD_CPU;
	unsigned kinds = SAMPLER_KIND(SAMPLER_CPU);

	if (opts->profile == RECORD_BLOCK)
		kinds = SAMPLER_KIND(SAMPLER_SWITCH);
	else if (opts->profile == RECORD_MUTEX) {
		/* Without tracefs the lock waits are still found, only their
		 * waker is not named. */
		kinds = SAMPLER_KIND(SAMPLER_SWITCH);
		if (sampler_waking_readable())
			kinds |= SAMPLER_KIND(SAMPLER_WAKING);
		else
			r.st.no_wakers = true;
	}
	else if (opts->profile == RECORD_WALL || opts->profile == RECORD_TRACE)
		kinds |= SAMPLER_KIND(SAMPLER_SWITCH);
	struct sampler_opts so = {
		.pid = opts->pid,
		.kinds = kinds,
		.switch_period = opts->switch_period,
		.freq = opts->freq,
		.callgraph = opts->callgraph,
		.stack_size = opts->stack_size,
		.kernel = opts->kernel,
		.enable_on_exec = opts->enable_on_exec,
		.children = opts->children,
		.ring_pages = offcpu ? 4 * DWARF_RING_PAGES :
			      opts->callgraph == SAMPLER_CG_DWARF ? DWARF_RING_PAGES : 0,
	};
	ret = sampler_open(&so, &r.sampler, err, errlen);
	if ((ret == -EACCES || ret == -EPERM) && (so.kinds & SAMPLER_KIND(SAMPLER_WAKING))) {
		/* The tracepoint with its raw fields needs more than the
		 * switch events (CAP_PERFMON, or paranoid -1): lock waits
		 * without their wakers rather than nothing. */
		so.kinds &= ~SAMPLER_KIND(SAMPLER_WAKING);
		r.st.no_wakers = true;
		if (err && errlen)
			err[0] = '\0';
		ret = sampler_open(&so, &r.sampler, err, errlen);
	}
	if (ret < 0)
		goto out_release;
	/* Reading /proc/kallsyms takes ~60 ms of CPU: before sampling starts
	 * (and before a command runs), while nothing fills the rings. A
	 * failure is not fatal: kernel frames stay unnamed. */
	if ((opts->kernel || offcpu) && procfs_read_kallsyms(&r.ksyms) != 0)
		memset(&r.ksyms, 0, sizeof(r.ksyms));
	/* Off-CPU profiles name the system call a thread waits in from
	 * the kernel frames, kept in the profile only with opts->kernel. */
	ret = symbolizer_new_maps(0, &none, opts->kernel || offcpu ? &r.ksyms : NULL,
				  &r.ksym, err, errlen);
	if (ret < 0)
		goto out_release;
	r.ksp = stackprof_new(r.ksym, r.profile);
	if (!r.ksp) {
		ret = -ENOMEM;
		goto out_release;
	}
	if (!opts->enable_on_exec) {
		ret = record_prepare_target(&r, opts->pid);
		/* As below for a command: a target that exits while its
		 * modules are read fails that read in any of several ways
		 * (no maps, no ELF for libdw): say that it exited. */
		if (ret < 0 && record_target_gone(opts->pid)) {
			ret = -ESRCH;
			errmsg_set(err, errlen, "pid %d exited", (int)opts->pid);
		}
		if (ret < 0)
			goto out_release;
		ret = add_header(&r, period_ns);
		if (ret < 0)
			goto out_release;
		ret = sampler_enable(r.sampler);
		if (ret < 0) {
			snprintf(err, errlen, "cannot enable sampling: %s", strerror(-ret));
			goto out_release;
		}
		cpu0 = target_cpu_ms(opts->pid);
	}
	/* The off-CPU window starts now: as sampling does for a pid, just
	 * before the exec for a command. */
	if (offcpu) {
		ret = record_offcpu_setup(&r, now_ns(CLOCK_MONOTONIC));
		if (ret < 0)
			goto out_release;
	}
	if (cb->ready) {
		ret = cb->ready(cb->arg);
		if (ret < 0)
			goto out_release;
	}
	/* In command mode ready() returns once the child has exec'd, so the
	 * modules and command line read now are the command's, not a copy of
	 * cprof's. A command may also be done already: then there is nothing
	 * to symbolize, and the profile is empty but valid. */
	if (opts->enable_on_exec) {
		ret = record_prepare_target(&r, opts->pid);
		/* The error depends on how far the command's exit got: no
		 * /proc/PID (ESRCH), or maps already emptied, which libdw
		 * reports as no ELF at all (the unwinder's attach, when the
		 * symbolizer found the maps empty). Judge by the process, not
		 * by it. With children, the records of the command's exec
		 * still name its samples. */
		if (ret < 0 && record_target_gone(opts->pid)) {
			r.st.target_exited = true;
			if (err && errlen)
				err[0] = '\0';
		} else if (ret < 0) {
			goto out_release;
		}
		ret = add_header(&r, period_ns);
		if (ret < 0)
			goto out_release;
	}

	int64_t wall_start = (int64_t)now_ns(CLOCK_REALTIME);
	uint64_t start = now_ns(CLOCK_MONOTONIC);
	/* A huge --seconds would overflow the conversion (undefined
	 * behaviour): anything beyond ~292 years means "no deadline". */
	uint64_t deadline = opts->seconds > 0 &&
		opts->seconds * 1e9 < (double)(UINT64_MAX - start) ?
		start + (uint64_t)(opts->seconds * 1e9) : UINT64_MAX;
	uint64_t next_tick = start;
	while (!r.st.target_exited) {
		uint64_t now = now_ns(CLOCK_MONOTONIC);
		r.st.elapsed = (double)(now - start) / 1e9;
		if (now >= deadline)
			break;
		/* Once a tick, however often the rings wake us: a read of
		 * /proc/PID/stat took up to 40 ms of a target switching
		 * threads 180,000 times a second, while its rings filled. */
		if (now >= next_tick) {
			next_tick = now + TICK_MS * 1000000ULL;
			/* With children the events hang up only when the
			 * last of them exits; the recording ends with the
			 * target, as with a command (what it left running
			 * is not followed further). */
			if (check_target(&r) && opts->children) {
				r.st.target_exited = true;
				break;
			}
			if (cb->tick) {
				struct sampler_stats ss;

				/* Live, for a view (cprof top). */
				sampler_get_stats(r.sampler, &ss);
				r.st.lost = ss.lost;
				if (cb->tick(&r.st, cb->arg))
					break;
			}
		}
		uint64_t left_ms = (deadline - now) / 1000000ULL;
		uint64_t tick_ms = next_tick > now ? (next_tick - now) / 1000000ULL + 1 : 1;
		if (tick_ms < left_ms)
			left_ms = tick_ms;
		int timeout = left_ms < TICK_MS ? (int)left_ms + 1 : TICK_MS;
		ret = drain(&r, timeout);
		if (ret == -ESRCH) {
			r.st.target_exited = true;
			break;
		}
		if (ret < 0 && ret != -EINTR) {
			if (err && !err[0])
				snprintf(err, errlen, "cannot read samples: %s", strerror(-ret));
			goto out_release;
		}
	}
	/* A target stopped at the end counts as stopped, however short the
	 * recording or late the last tick. */
	check_target(&r);
	sampler_disable(r.sampler);
	uint64_t stop = now_ns(CLOCK_MONOTONIC);
	if (cb->sampled)
		cb->sampled(cb->arg);
	if (cpu0 >= 0) {
		int64_t cpu1 = target_cpu_ms(opts->pid);

		r.st.target_cpu_ms = cpu1 >= cpu0 ? cpu1 - cpu0 : -1;
	}
	/* What the kernel wrote before the events stopped, and what the
	 * time order held back. */
	ret = drain(&r, 0);
	if (ret < 0 && ret != -ESRCH && ret != -EINTR)
		goto out_release;
	if (r.offcpu) {
		/* Waits still open when sampling stopped end there. */
		ret = record_offcpu_finish(&r, stop);
		if (ret < 0)
			goto out_release;
	}
	struct sampler_stats ss;
	sampler_get_stats(r.sampler, &ss);
	r.st.lost = ss.lost;
	uint64_t end = now_ns(CLOCK_MONOTONIC);
	r.st.elapsed = (double)(end - start) / 1e9;
	r.profile->time_nanos = wall_start;
	/* The window sampled, not the reading that followed; for off-CPU
	 * profiles the one their waits are counted in (it starts a moment
	 * earlier, when the events are enabled). */
	r.profile->duration_nanos = (int64_t)(stop - (r.offcpu ? r.window_start : start));
	/* Every image's stackprof finishes as it is released. */
	procs_free(r.procs);
	r.procs = NULL;
	stackprof_finish(r.ksp);
	ret = add_footer(&r);
	if (ret < 0)
		goto out_release;
	if (cb->tick)
		cb->tick(&r.st, cb->arg);
	*st = r.st;
	*out = r.profile;
	r.profile = NULL;
	ret = 0;
out_release:
	if (ret < 0)
		*st = r.st;
	recorder_release(&r);
	return ret;
}

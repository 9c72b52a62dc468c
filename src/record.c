/*
 * record.c - one CPU recording: perf events in, a finished profile out.
 *
 * Samples are unwound and symbolized as they are read, not stored raw and
 * processed afterwards as perf does: the profile is ready when sampling
 * stops, and memory grows with distinct stacks, not with samples. The cost
 * is that a slow first lookup of a module (cold caches) delays draining the
 * ring; the rings are sized for that (see sampler_opts.ring_pages).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <linux/perf_event.h>

#include "record.h"
#include "procfs.h"
#include "sampler.h"
#include "stackprof.h"
#include "symbolize.h"
#include "unwind.h"

/* A symbolizer refresh re-reads /proc/PID/maps: at most this often. */
#define REFRESH_INTERVAL_NS 50000000ULL
#define TICK_MS 100
/* 2 MiB of ring per CPU in DWARF mode: ~250 samples with 8 KiB stack
 * copies, a quarter of a second at 999 Hz, so that a slow first lookup
 * (a library's debug info being read) does not make the kernel drop
 * samples. The sampler halves it when the mlock budget refuses. */
#define DWARF_RING_PAGES 512

struct thread_name {
	pid_t tid;
	char name[16];
	bool sampled;		/* counted in record_stats.threads */
};

struct recorder {
	const struct record_opts *opts;
	struct sampler *sampler;
	struct symbolizer *sym;
	struct unwinder *unwinder;
	struct profile *profile;
	struct stackprof *sp;
	uint64_t *pcs;
	bool *act;
	size_t max_frames;
	uint64_t last_refresh_ns;
	struct thread_name *names;	/* sorted by tid */
	size_t nnames, capnames;
	struct record_stats st;
	struct procfs_ksyms ksyms;	/* read ahead in command mode */
	bool have_ksyms;
	int error;			/* first fatal error of a callback */
	char *err;
	size_t errlen;
};

static uint64_t now_ns(clockid_t clk)
{
	struct timespec ts;
	clock_gettime(clk, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* The thread's entry, made on first sight with its name from /proc;
 * threads are few, samples many, so a sorted array with binary search is
 * enough. NULL on ENOMEM. */
static struct thread_name *thread_slot(struct recorder *r, pid_t tid)
{
	size_t lo = 0, hi = r->nnames;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (r->names[mid].tid == tid)
			return &r->names[mid];
		if (r->names[mid].tid < tid)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (r->nnames == r->capnames) {
		size_t cap = r->capnames ? r->capnames * 2 : 64;
		struct thread_name *n = realloc(r->names, cap * sizeof(*n));
		if (!n)
			return NULL;
		r->names = n;
		r->capnames = cap;
	}
	memmove(&r->names[lo + 1], &r->names[lo],
		(r->nnames - lo) * sizeof(r->names[0]));
	struct thread_name *tn = &r->names[lo];
	tn->tid = tid;
	tn->sampled = false;
	if (procfs_read_comm(r->opts->pid, tid, tn->name, sizeof(tn->name)) < 0)
		snprintf(tn->name, sizeof(tn->name), "%d", (int)tid);
	r->nnames++;
	return tn;
}

/* PERF_RECORD_COMM: a thread renamed itself (pthread_setname_np, often
 * right after it starts) or exec'd; later samples take the new name. */
static void on_comm(struct recorder *r, const struct perf_event_header *hdr)
{
	const struct {
		struct perf_event_header h;
		uint32_t pid, tid;
		char comm[];
	} *c = (const void *)hdr;
	if (hdr->size <= sizeof(*c) || (pid_t)c->pid != r->opts->pid)
		return;
	struct thread_name *tn = thread_slot(r, (pid_t)c->tid);
	if (!tn)
		return;
	size_t len = strnlen(c->comm, hdr->size - sizeof(*c));
	if (len >= sizeof(tn->name))
		len = sizeof(tn->name) - 1;
	memcpy(tn->name, c->comm, len);
	tn->name[len] = '\0';
}

/* Re-reads the target's mappings when an address falls outside every known
 * module: a library was loaded after we started (dlopen, or a command that
 * had not exec'd yet). Rate-limited, since JIT code is never in a module.
 * The unwinder has a Dwfl of its own: both learn the new modules at once,
 * and a sample is worth unwinding again only when both did. */
static bool maybe_refresh(struct recorder *r)
{
	uint64_t now = now_ns(CLOCK_MONOTONIC);
	if (now - r->last_refresh_ns < REFRESH_INTERVAL_NS)
		return false;
	r->last_refresh_ns = now;
	bool ok = symbolizer_refresh(r->sym) == 0;
	if (r->unwinder &&
	    unwinder_refresh(r->unwinder, symbolizer_maps(r->sym)) < 0)
		ok = false;
	return ok;
}

static bool user_pc_unmapped(struct recorder *r, uint64_t pc, bool act)
{
	const struct sym_frame *f = symbolizer_lookup(r->sym, pc, !act);
	return f && !f->module;
}

/* Appends the part of a callchain between the context marker (the kernel's
 * PERF_CONTEXT_KERNEL or PERF_CONTEXT_USER) and the next marker to pcs;
 * returns the new count. */
static size_t add_callchain_frames(struct recorder *r, const struct perf_sample *s,
				   size_t n, uint64_t context)
{
	bool in_context = false;
	bool first = true;
	for (uint64_t i = 0; i < s->nr_callchain && n < r->max_frames; i++) {
		uint64_t ip = s->callchain[i];
		if (ip >= (uint64_t)PERF_CONTEXT_MAX) {
			in_context = ip == context;
			continue;
		}
		if (!in_context)
			continue;
		r->pcs[n] = ip;
		r->act[n] = first;
		first = false;
		n++;
	}
	return n;
}

/* FP mode has no unwinder to notice a module it does not know: check the
 * user frames here, and re-read the mappings when one falls outside them. */
static void refresh_if_unmapped(struct recorder *r, size_t from, size_t n)
{
	for (size_t i = from; i < n; i++) {
		if (user_pc_unmapped(r, r->pcs[i], r->act[i])) {
			maybe_refresh(r);
			return;
		}
	}
}

static size_t add_dwarf_user_frames(struct recorder *r, const struct perf_sample *s,
				    size_t n)
{
	if (s->regs_abi == PERF_SAMPLE_REGS_ABI_NONE || !s->regs)
		return n;	/* a kernel thread or a sample with no user state */
	size_t got = 0;
	enum unwind_status us = unwinder_unwind(r->unwinder, (pid_t)s->tid, s->regs,
						s->stack, s->stack_dyn_size,
						r->pcs + n, r->act + n,
						r->max_frames - n, &got);
	/* A frame outside every known module usually means a library mapped
	 * since the last report: refresh and unwind again, once. */
	if (got > 0 && us != UNWIND_OK &&
	    user_pc_unmapped(r, r->pcs[n + got - 1], r->act[n + got - 1]) &&
	    maybe_refresh(r))
		us = unwinder_unwind(r->unwinder, (pid_t)s->tid, s->regs, s->stack,
				     s->stack_dyn_size, r->pcs + n, r->act + n,
				     r->max_frames - n, &got);
	if (us == UNWIND_TRUNCATED)
		r->st.truncated++;
	else if (us == UNWIND_FAILED)
		r->st.unwind_failed++;
	return n + got;
}

static int on_sample(struct recorder *r, const struct perf_sample *s)
{
	size_t n = 0;
	if (r->opts->kernel)
		n = add_callchain_frames(r, s, 0, (uint64_t)PERF_CONTEXT_KERNEL);
	if (r->opts->callgraph == SAMPLER_CG_FP) {
		size_t k = n;
		n = add_callchain_frames(r, s, n, (uint64_t)PERF_CONTEXT_USER);
		refresh_if_unmapped(r, k, n);
	} else
		n = add_dwarf_user_frames(r, s, n);
	if (n == 0) {
		/* No stack at all: keep the sample on its IP alone. */
		r->pcs[0] = s->ip;
		r->act[0] = true;
		n = 1;
	}
	struct thread_name *tn = thread_slot(r, (pid_t)s->tid);
	if (tn && !tn->sampled) {
		tn->sampled = true;
		r->st.threads++;
	}
	int64_t values[2] = { 1, (int64_t)s->period };
	struct profile_label_in labels[2] = {
		{ .key = "thread_id", .num = (int64_t)s->tid },
		{ .key = "thread_name", .str = tn ? tn->name : "?" },
	};
	int ret = stackprof_add(r->sp, r->pcs, r->act, n, values, labels, 2);
	if (ret < 0)
		return ret;
	r->st.samples++;
	return 0;
}

static int on_record(const struct sampler_record *rec, void *arg)
{
	struct recorder *r = arg;
	if (rec->hdr->type == PERF_RECORD_COMM) {
		on_comm(r, rec->hdr);
		return 0;
	}
	if (rec->hdr->type != PERF_RECORD_SAMPLE || !rec->sample)
		return 0;
	/* The events follow the target's threads only, but a sample_id_all
	 * record of another pid would still be nonsense here. */
	if ((pid_t)rec->sample->pid != r->opts->pid)
		return 0;
	int ret = on_sample(r, rec->sample);
	if (ret < 0) {
		r->error = ret;
		snprintf(r->err, r->errlen, "cannot add a sample: %s", strerror(-ret));
		return 1;
	}
	return 0;
}

static int add_header(struct recorder *r, uint64_t period_ns)
{
	struct profile *p = r->profile;
	if (profile_add_sample_type(p, "samples", "count") < 0 ||
	    profile_add_sample_type(p, "cpu", "nanoseconds") < 0 ||
	    profile_set_period(p, "cpu", "nanoseconds", (int64_t)period_ns) < 0)
		return -ENOMEM;
	char *cmdline = NULL;
	size_t len = 0;
	if (procfs_read_cmdline(procfs_proc_tid(r->opts->pid), &cmdline, &len) == 0 &&
	    len > 0) {
		for (size_t i = 0; i + 1 < len; i++)
			if (cmdline[i] == '\0')
				cmdline[i] = ' ';
		char buf[4096];
		snprintf(buf, sizeof(buf), "cmdline: %s", cmdline);
		profile_add_comment(p, buf);
	}
	free(cmdline);
	char buf[64];
	snprintf(buf, sizeof(buf), "pid: %d", (int)r->opts->pid);
	return profile_add_comment(p, buf);
}

static int add_footer(struct recorder *r)
{
	char buf[256];
	const char *pm = NULL;
	int e = r->sym ? symbolizer_perfmap_error(r->sym, &pm) : 0;

	/* JIT frames left unnamed: say why (docs/design.md §4.4). */
	if (e) {
		snprintf(buf, sizeof(buf), "cprof: %s not read: %s", pm,
			 e == -EPERM ? "not owned by root or the process's user" :
			 e == -EINVAL ? "not a regular file" : strerror(-e));
		if (profile_add_comment(r->profile, buf) < 0)
			return -ENOMEM;
	}
	snprintf(buf, sizeof(buf),
		 "cprof: %llu samples, %llu lost, %llu truncated stacks, "
		 "%llu unwind failures, %zu threads",
		 (unsigned long long)r->st.samples, (unsigned long long)r->st.lost,
		 (unsigned long long)r->st.truncated,
		 (unsigned long long)r->st.unwind_failed, r->st.threads);
	return profile_add_comment(r->profile, buf);
}

static void recorder_release(struct recorder *r)
{
	stackprof_free(r->sp);
	unwinder_free(r->unwinder);
	symbolizer_free(r->sym);
	sampler_free(r->sampler);
	profile_free(r->profile);
	procfs_ksyms_release(&r->ksyms);
	free(r->names);
	free(r->pcs);
	free(r->act);
}

/* The symbolizer and the unwinder read the target's modules, so in command
 * mode they can only be built once the child has exec'd (after the ready
 * callback). */
static int ensure_symbolizer(struct recorder *r)
{
	if (r->sym)
		return 0;
	int ret = r->have_ksyms ?
		symbolizer_new_ksyms(r->opts->pid, &r->ksyms, &r->sym, r->err,
				     r->errlen) :
		symbolizer_new(r->opts->pid, r->opts->kernel, &r->sym, r->err,
			       r->errlen);
	if (ret < 0)
		return ret;
	/* libc's DWARF from libc6-dbg is ~11 MB decompressed and ~100 ms of
	 * zlib, spent on the CPUs the target is using; its function names
	 * come from the debug file's symbol table without it. */
	symbolizer_set_lines(r->sym, r->opts->system_lines ? SYM_LINES_ALL
							    : SYM_LINES_OWN);
	/* Unwinding needs no debug file: the unwinder's own Dwfl never
	 * opens one (unwind.h). It reports the modules of the maps the
	 * symbolizer has just read rather than read them again: both know
	 * the same modules, and a command exiting meanwhile cannot fail
	 * the second read. */
	if (r->opts->callgraph == SAMPLER_CG_DWARF) {
		ret = unwinder_new(r->opts->pid, symbolizer_maps(r->sym),
				   &r->unwinder, r->err, r->errlen);
		if (ret < 0)
			return ret;
	}
	r->sp = stackprof_new(r->sym, r->profile);
	return r->sp ? 0 : -ENOMEM;
}

/* The target has exited or is exiting: no /proc/PID, only a zombie left, or
 * an exit under way. A process in do_exit still reads as running ('R') for a
 * while after its maps have emptied; a set-up step that failed because they
 * did always finds PF_EXITING set. */
static bool target_gone(pid_t pid)
{
	struct procfs_stat st;
	return procfs_read_stat(pid, 0, &st) < 0 || st.state == 'Z' ||
	       st.state == 'X' || (st.flags & PROCFS_PF_EXITING);
}

static int drain(struct recorder *r, int timeout_ms)
{
	int ret = sampler_read(r->sampler, timeout_ms, on_record, r);
	if (r->error)
		return r->error;
	return ret;
}

int record_run(const struct record_opts *opts, const struct record_callbacks *cb,
	       struct profile **out, struct record_stats *st, char *err,
	       size_t errlen)
{
	static const struct record_callbacks no_callbacks;
	struct recorder r = { .opts = opts, .err = err, .errlen = errlen };
	int ret;

	if (!cb)
		cb = &no_callbacks;
	if (err && errlen)
		err[0] = '\0';
	*out = NULL;
	memset(st, 0, sizeof(*st));
	if (opts->freq == 0)
		return -EINVAL;
	r.max_frames = opts->max_frames ? opts->max_frames : 512;
	r.pcs = calloc(r.max_frames, sizeof(*r.pcs));
	r.act = calloc(r.max_frames, sizeof(*r.act));
	r.profile = profile_new();
	if (!r.pcs || !r.act || !r.profile) {
		ret = -ENOMEM;
		goto out_release;
	}

	uint64_t period_ns = 1000000000ULL / opts->freq;
	struct sampler_opts so = {
		.pid = opts->pid,
		.freq = opts->freq,
		.callgraph = opts->callgraph,
		.stack_size = opts->stack_size,
		.kernel = opts->kernel,
		.enable_on_exec = opts->enable_on_exec,
		.ring_pages = opts->callgraph == SAMPLER_CG_DWARF ? DWARF_RING_PAGES : 0,
	};
	ret = sampler_open(&so, &r.sampler, err, errlen);
	if (ret < 0)
		goto out_release;
	/* Reading /proc/kallsyms and the target's modules takes a few hundred
	 * ms: done before sampling starts, while nothing fills the rings. */
	if (!opts->enable_on_exec) {
		ret = ensure_symbolizer(&r);
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
	}
	/* A command runs from ready() on: what does not depend on its image
	 * is read now, not beside it on the CPUs it uses. */
	if (opts->enable_on_exec && opts->kernel) {
		if (procfs_read_kallsyms(&r.ksyms) != 0)
			memset(&r.ksyms, 0, sizeof(r.ksyms));
		r.have_ksyms = true;
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
		ret = ensure_symbolizer(&r);
		/* The error depends on how far the command's exit got: no
		 * /proc/PID (ESRCH), or maps already emptied, which libdw
		 * reports as no ELF at all (the unwinder's attach, when the
		 * symbolizer found the maps empty). Judge by the process, not
		 * by it. */
		if (ret < 0 && target_gone(opts->pid)) {
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
	while (r.sp) {
		uint64_t now = now_ns(CLOCK_MONOTONIC);
		r.st.elapsed = (double)(now - start) / 1e9;
		if (now >= deadline)
			break;
		if (cb->tick && cb->tick(&r.st, cb->arg))
			break;
		uint64_t left_ms = (deadline - now) / 1000000ULL;
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
	sampler_disable(r.sampler);
	/* What the kernel wrote before the events stopped. */
	ret = r.sp ? drain(&r, 0) : 0;
	if (ret < 0 && ret != -ESRCH && ret != -EINTR)
		goto out_release;
	struct sampler_stats ss;
	sampler_get_stats(r.sampler, &ss);
	r.st.lost = ss.lost;
	uint64_t end = now_ns(CLOCK_MONOTONIC);
	r.st.elapsed = (double)(end - start) / 1e9;
	r.profile->time_nanos = wall_start;
	r.profile->duration_nanos = (int64_t)(end - start);
	if (r.sp)
		stackprof_finish(r.sp);
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

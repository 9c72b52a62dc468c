/*
 * record_heap.c - heap and allocs recordings (docs/design.md §12.3): a
 * heap sampler attached to the target (the injector, record_heap_inject.c,
 * or a record_heap_source given by the caller), its ring read every tick,
 * each sampled allocation unwound and symbolized as a CPU sample is
 * (record_locations) and counted by heapprof, in use decided from the
 * sampler's live set when a profile is asked for.
 *
 * The sampler is detached on every path once attached: a failing
 * recording never leaves the target hooked.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/perf_event.h>

#include "record_int.h"
#include "heapabi.h"
#include "heapprof.h"
#include "heapring.h"
#include "heapuprobe.h"
#include "heapuprobe_pair.h"
#include "heapsample.h"
#include "procs.h"
#include "symbolize.h"
#include "errmsg.h"

/* How often the ring is read: at the default rate, a target allocating
 * 1 GB/s publishes ~40 samples in that time, a sixth of the ring. */
#define HEAP_READ_MS 20

struct record_heap {
	struct record_opts opts;	/* the caller's, DWARF call graphs */
	struct recorder r;
	const struct record_heap_source *src;
	struct record_heap_source own_src;	/* the injector's, arg ours */
	struct heapabi_shared *shared;
	bool attached;
	/* --method uprobe (docs/design.md §12.4): perf events instead. */
	struct sampler *usampler;
	struct heapuprobe_target ut;
	struct heapuprobe_meter meter;
	struct heapuprobe_pair *upair;	/* a heap profile: in use */
	uint64_t uperiod;
	int uerror;
	struct heapprof *hp;
	uint64_t regs[HEAPABI_NR_REGS];
	uint8_t *stack;			/* HEAPABI_STACK_MAX */
	uint64_t start_ns, last_poll_ns;
	int64_t wall_start;
	char errbuf[256];
};

/* --- the ring (heapring.h) ------------------------------------------------ */

/* Copies the next published slot into h (regs, stack) and *hs, and hands
 * the slot back to the producers at once: unwinding may take a while (a
 * module's first lookup) and the ring is small. false when none is
 * published. */
static bool ring_next(struct record_heap *h, struct heap_sample *hs)
{
	const struct heapabi_slot *s = heapring_peek(h->shared);

	if (!s)
		return false;
	heapring_to_sample(s, h->opts.pid, hs);
	uint64_t n = hs->stack_size <= HEAPABI_STACK_MAX ? hs->stack_size : HEAPABI_STACK_MAX;

	memcpy(h->regs, hs->regs, sizeof(h->regs));
	memcpy(h->stack, hs->stack, n);
	hs->regs = h->regs;
	hs->stack = h->stack;
	hs->stack_size = n;
	heapring_release(h->shared);
	return true;
}

/* Whether the live set still holds the block of sample id at addr. */
static bool ring_is_live(void *arg, uint64_t addr, uint64_t id)
{
	const struct record_heap *h = arg;

	return heapring_is_live(h->shared, addr, id);
}

/* --- samples ---------------------------------------------------------------- */

/* One sampled allocation into the records: its stack as a perf sample
 * would give it (the caller's registers once the allocator returns, the
 * stack copied from its SP), unwound and symbolized as one. */
static int add_sample(struct record_heap *h, const struct heap_sample *hs)
{
	struct recorder *r = &h->r;
	uint64_t now = now_ns(CLOCK_MONOTONIC);
	struct procs_process *proc = procs_process(r->procs, hs->pid, now);
	struct rimage *ri;

	if (!proc)
		return -ENOMEM;
	struct perf_sample ps = {
		.ip = hs->regs[HEAPABI_R_IP],
		.pid = (uint32_t)hs->pid, .tid = (uint32_t)hs->tid,
		.time = hs->time_ns, .period = hs->size,
		.regs_abi = PERF_SAMPLE_REGS_ABI_64, .regs = hs->regs,
		.stack_size = hs->stack_size, .stack = hs->stack,
		.stack_dyn_size = hs->stack_size,
	};
	int n = record_locations(r, proc, &ps, &ri);

	if (n < 0)
		return n;
	int e = heapprof_add(h->hp, r->locs, (size_t)n, hs->size, hs->calls,
			     hs->addr, hs->id);
	if (e < 0)
		return e;
	r->st.samples++;
	r->st.heap_bytes += hs->size;
	if (proc->samples++ == 0)
		r->st.processes++;
	return 0;
}

static int on_uprobe(const struct sampler_record *rec, void *arg);

static int drain(struct record_heap *h)
{
	struct heap_sample hs;

	if (h->usampler) {
		int e = sampler_read(h->usampler, 0, on_uprobe, h);

		if (h->uerror)
			return h->uerror;
		return e == -ESRCH || e == -EINTR ? 0 : e;
	}
	if (!h->shared)
		return 0;

	/* Bounded: a target allocating faster than we read must not keep
	 * the tick (and the heartbeat) waiting. */
	for (unsigned i = 0; i < 4 * HEAPABI_NSLOTS && ring_next(h, &hs); i++) {
		int e = add_sample(h, &hs);

		if (e < 0)
			return e;
	}
	return 0;
}

/* --- uprobes ----------------------------------------------------------------- */

/* One call in this many is sampled: about one in rate / 4096, as if the
 * typical allocation were 4 KiB (docs/design.md §12.3), rounded up to a
 * prime of at least 7. The kernel counts calls per thread and function
 * and samples every Nth exactly: a loop whose calls repeat in a cycle of
 * L would be sampled at one phase of it only whenever L shares a factor
 * with N (at N = 4, a four-step realloc chain was always seen at its
 * largest step). A prime period shares none with short cycles. */
static uint64_t uprobe_period(uint64_t rate)
{
	uint64_t n = rate / 4096 < 7 ? 7 : rate / 4096;

	for (;; n++) {
		bool prime = true;

		for (uint64_t d = 2; d * d <= n && prime; d++)
			prime = n % d != 0;
		if (prime)
			return n;
	}
}

static int on_uprobe(const struct sampler_record *rec, void *arg)
{
	struct record_heap *h = arg;
	struct heap_sample hs;
	/* A heap profile's samples wait for their return (the address)
	 * and the frees follow them; an allocs profile's go at once. */
	int e = h->upair ? heapuprobe_pair_record(h->upair, rec, h->uperiod, &hs) :
		heapuprobe_convert(rec, h->uperiod, h->regs, &hs);

	if (e == 1)
		e = add_sample(h, &hs);
	if (e < 0 && e != -EBADMSG) {
		h->uerror = e;
		return 1;
	}
	return 0;
}

static int uprobe_open(struct record_heap *h, char *err, size_t errlen)
{
	int e = heapuprobe_find(h->opts.pid, &h->ut, err, errlen);

	if (e < 0)
		return e;
	h->uperiod = uprobe_period(h->opts.heap_rate);
	struct sampler_opts so = {
		.pid = h->opts.pid,
		.stack_size = h->opts.stack_size ? h->opts.stack_size : 8192,
		.callgraph = SAMPLER_CG_DWARF,
		.ring_pages = DWARF_RING_PAGES,
	};
	/* In use (a heap profile) costs a trap at every free and return:
	 * an allocs profile counts frees only (docs/design.md §12.4). */
	bool inuse = h->opts.profile != RECORD_ALLOCS;

	heapuprobe_sampler_opts(&h->ut, h->uperiod, inuse, &so);
	if (inuse && !(h->upair = heapuprobe_pair_new()))
		return -ENOMEM;
	e = sampler_open(&so, &h->usampler, err, errlen);
	if (e < 0)
		return e;
	char cerr[128];
	h->meter.probed = so.uprobe;
	if (inuse) {
		if (heapuprobe_calibrate_costs(&h->meter.cost, cerr, sizeof(cerr)) < 0)
			memset(&h->meter.cost, 0, sizeof(h->meter.cost));
		h->meter.call_ns = h->meter.cost.hit;
	} else if (heapuprobe_calibrate(&h->meter.call_ns, cerr, sizeof(cerr)) < 0) {
		h->meter.call_ns = 0;	/* the default figure */
	}
	e = sampler_enable(h->usampler);
	if (e < 0) {
		errmsg_set(err, errlen, "cannot enable the uprobes: %s", strerror(-e));
		return e;
	}
	struct heapuprobe_rate rt;
	heapuprobe_rate(h->usampler, &h->meter, now_ns(CLOCK_MONOTONIC), &rt);
	h->r.st.heap_calls_period = h->uperiod;
	h->r.st.heap_uprobe_inuse = inuse;
	return 0;
}

static int uprobe_step(struct record_heap *h, char *err, size_t errlen)
{
	uint64_t now = now_ns(CLOCK_MONOTONIC);
	int e = sampler_read(h->usampler, 0, on_uprobe, h);

	if (h->uerror)
		e = h->uerror;
	if (e < 0 && e != -EINTR) {
		if (err && errlen && !err[0] && e != -ESRCH)
			errmsg_set(err, errlen, "cannot read the uprobes: %s", strerror(-e));
		return e;
	}
	if (h->upair) {
		struct heapuprobe_pair_stats ps;

		heapuprobe_pair_stats(h->upair, &ps);
		h->r.st.heap_frees = ps.frees;
		h->r.st.heap_unreturned = ps.unreturned;
		h->r.st.heap_dropped = ps.lost;
	}
	if (now - h->last_poll_ns >= TICK_MS * 1000000ULL) {
		struct heapuprobe_rate rt;

		h->last_poll_ns = now;
		if (heapuprobe_rate(h->usampler, &h->meter, now, &rt) == 0 && rt.seconds > 0) {
			h->r.st.heap_calls_per_sec = rt.calls_per_sec;
			h->r.st.heap_slower_pct = rt.slower_pct;
		}
	}
	h->r.st.elapsed = (double)(now - h->start_ns) / 1e9;
	return 0;
}

static void read_counters(struct record_heap *h)
{
	struct heapring_stats hs;

	if (!h->shared)
		return;
	heapring_stats(h->shared, &hs);
	h->r.st.heap_dropped = hs.dropped;
	h->r.st.heap_untracked = hs.untracked;
	h->r.st.heap_stack_failed = hs.stack_failed;
}

/* --- the recording ---------------------------------------------------------- */

/* The target has exited, or is a zombie, or is exiting. */
static bool heap_target_gone(pid_t pid)
{
	struct procfs_stat st;

	return procfs_read_stat(pid, 0, &st) < 0 || procfs_stat_gone(&st) ||
	       (st.flags & PROCFS_PF_EXITING);
}

static void heap_release(struct record_heap *h)
{
	struct recorder *r = &h->r;

	procs_free(r->procs);
	symtab_cache_free(r->cache);
	stackprof_free(r->ksp);
	symbolizer_free(r->ksym);
	profile_free(r->profile);
	free(r->pcs);
	free(r->locs);
	free(r->act);
	free(r->frames);
	heapprof_free(h->hp);
	sampler_free(h->usampler);
	heapuprobe_pair_free(h->upair);
	free(h->stack);
	free(h->own_src.arg);
	free(h);
}

static int add_header(struct record_heap *h)
{
	return record_target_comments(h->r.profile, h->opts.pid, false);
}

int record_heap_start(const struct record_opts *opts, struct record_heap **out,
		      char *err, size_t errlen)
{
	struct record_heap *h = calloc(1, sizeof(*h));
	struct procfs_maps none = { 0 };
	int e = -ENOMEM;

	*out = NULL;
	if (err && errlen)
		err[0] = '\0';
	if (!h)
		return -ENOMEM;
	h->opts = *opts;
	/* A heap sample carries registers and a stack copy: unwound with
	 * DWARF CFI as a CPU sample in --call-graph dwarf mode. */
	h->opts.callgraph = SAMPLER_CG_DWARF;
	h->opts.kernel = false;
	h->opts.children = false;
	if (!h->opts.heap_rate)
		h->opts.heap_rate = RECORD_HEAP_RATE;
	struct recorder *r = &h->r;
	r->opts = &h->opts;
	r->err = err;
	r->errlen = errlen;
	r->st.target_cpu_ms = -1;
	r->max_frames = opts->max_frames ? opts->max_frames : 512;
	r->pcs = calloc(r->max_frames, sizeof(*r->pcs));
	r->locs = calloc(r->max_frames, sizeof(*r->locs));
	r->act = calloc(r->max_frames, sizeof(*r->act));
	r->profile = profile_new();
	r->procs = procs_new(record_rimage_release, r);
	r->cache = symtab_cache_new();
	h->hp = heapprof_new(h->opts.heap_rate);
	h->stack = malloc(HEAPABI_STACK_MAX);
	if (!r->pcs || !r->locs || !r->act || !r->profile || !r->procs ||
	    !r->cache || !h->hp || !h->stack)
		goto fail;
	e = symbolizer_new_maps(0, &none, NULL, &r->ksym, err, errlen);
	if (e < 0)
		goto fail;
	r->ksp = stackprof_new(r->ksym, r->profile);
	if (!r->ksp) {
		e = -ENOMEM;
		goto fail;
	}

	h->src = opts->heap_source;
	bool uprobe = !h->src && opts->heap_method == RECORD_HEAP_UPROBE;
	if (!h->src && !uprobe) {
		e = record_heap_check(opts->pid, err, errlen);
		if (e == -ENOTSUP && opts->heap_method == RECORD_HEAP_AUTO) {
			/* The allocator is in the program itself: uprobes
			 * are the only way (docs/design.md §12.4). */
			uprobe = true;
			if (err && errlen)
				err[0] = '\0';
		} else if (e < 0) {
			goto fail;
		}
	}
	if (!h->src && !uprobe) {
		e = record_heap_injector(&h->own_src);
		if (e < 0) {
			if (e == -ENOTSUP)
				errmsg_set(err, errlen, "this build has no heap sampler injector");
			goto fail;
		}
		h->src = &h->own_src;
	}
	r->st.heap_method = uprobe ? "uprobe" : "inject";
	/* The target's modules are read before the sampler goes in: the
	 * first samples are then symbolized at once. */
	e = record_prepare_target(r, opts->pid);
	if (e < 0)
		goto fail;
	e = add_header(h);
	if (e < 0)
		goto fail;
	if (uprobe)
		e = uprobe_open(h, err, errlen);
	else
		e = h->src->attach(h->src->arg, opts->pid, h->opts.heap_rate,
				   opts->stack_size ? opts->stack_size : HEAPABI_STACK_MAX,
				   &h->shared, err, errlen);
	if (e < 0)
		goto fail;
	h->attached = true;
	h->start_ns = now_ns(CLOCK_MONOTONIC);
	h->wall_start = (int64_t)now_ns(CLOCK_REALTIME);
	*out = h;
	return 0;
fail:
	heap_release(h);
	return e;
}

int record_heap_step(struct record_heap *h, char *err, size_t errlen)
{
	uint64_t now = now_ns(CLOCK_MONOTONIC);
	int e = 0;

	h->r.err = err;
	h->r.errlen = errlen;
	if (h->usampler)
		return uprobe_step(h, err, errlen);
	/* The heartbeat and new modules every tick; the ring as often as
	 * asked (it holds HEAPABI_NSLOTS samples). */
	if (now - h->last_poll_ns >= TICK_MS * 1000000ULL) {
		h->last_poll_ns = now;
		e = h->src->poll ? h->src->poll(h->src->arg, err, errlen) : 0;
	}
	if (e < 0)
		return e;
	h->r.err = err;
	h->r.errlen = errlen;
	e = drain(h);
	read_counters(h);
	h->r.st.elapsed = (double)(now_ns(CLOCK_MONOTONIC) - h->start_ns) / 1e9;
	if (e < 0 && err && errlen && !err[0])
		errmsg_set(err, errlen, "cannot add a sample: %s", strerror(-e));
	return e;
}

void record_heap_get_stats(struct record_heap *h, struct record_stats *st)
{
	if (h->src && h->src->stats)
		h->src->stats(h->src->arg, &h->r.st.heap);
	*st = h->r.st;
}

/* The mappings' has_* flags as the symbolizers know them now: final at
 * the end, a snapshot for serve's continuous profile. */
static void finish_mappings(struct record_heap *h)
{
	struct procs_process *proc = procs_process(h->r.procs, h->opts.pid,
						   now_ns(CLOCK_MONOTONIC));
	struct rimage *ri = proc && proc->image ? proc->image->priv : NULL;

	if (ri && ri->sp)
		stackprof_finish(ri->sp);
	stackprof_finish(h->r.ksp);
}

static int make_profile(struct record_heap *h, enum record_profile kind,
			struct profile **out)
{
	struct heapprof_info info = {
		.method = h->r.st.heap_method,
		.samples = h->r.st.samples,
		.dropped = h->r.st.heap_dropped,
		.untracked = h->r.st.heap_untracked,
		.calls_period = h->usampler ? h->uperiod : 0,
		.no_inuse = h->usampler && !h->upair,
	};

	if (h->attached && h->shared)
		heapprof_update(h->hp, ring_is_live, h);
	else if (h->upair)
		heapprof_update(h->hp, heapuprobe_pair_is_live, h->upair);
	int e = heapprof_profile(h->hp, h->r.profile, kind == RECORD_ALLOCS ?
				 HEAPPROF_ALLOCS : HEAPPROF_HEAP, &info, out);
	if (e < 0)
		return e;
	(*out)->time_nanos = h->wall_start;
	(*out)->duration_nanos = (int64_t)(now_ns(CLOCK_MONOTONIC) - h->start_ns);
	return 0;
}

int record_heap_profile(struct record_heap *h, enum record_profile kind,
			struct profile **out)
{
	finish_mappings(h);
	return make_profile(h, kind, out);
}

/* Go's func+0xOFF in debug=1: where addr is in its function, from the
 * symbolizer that named the target's frames (which has every location's
 * address looked up already). */
static bool func_offset(void *arg, uint64_t addr, uint64_t *off)
{
	struct record_heap *h = arg;
	struct procs_process *proc = procs_process(h->r.procs, h->opts.pid,
						   now_ns(CLOCK_MONOTONIC));
	const struct rimage *ri = proc && proc->image ? proc->image->priv : NULL;

	if (!ri || !ri->sym)
		return false;
	const struct sym_frame *fr = symbolizer_lookup(ri->sym, addr, false);
	if (!fr || !fr->nlines)
		return false;
	*off = fr->lines[fr->nlines - 1].offset;
	return true;
}

int record_heap_text(struct record_heap *h, FILE *f)
{
	if (h->attached && h->shared)
		heapprof_update(h->hp, ring_is_live, h);
	else if (h->upair)
		heapprof_update(h->hp, heapuprobe_pair_is_live, h->upair);
	return heapprof_text(h->hp, h->r.profile, func_offset, h, f);
}

/* Detaches once: the figures of the detach into the stats. */
static int heap_detach(struct record_heap *h, char *err, size_t errlen)
{
	if (!h->attached)
		return 0;
	if (h->usampler) {
		h->attached = false;
		sampler_disable(h->usampler);
		return 0;
	}
	/* In use is read from the live set, which goes with the sampler:
	 * once for all, before it does. */
	heapprof_update(h->hp, ring_is_live, h);
	read_counters(h);
	h->attached = false;
	return h->src->detach(h->src->arg, &h->r.st.heap, err, errlen);
}

int record_heap_stop(struct record_heap *h, struct record_stats *st,
		     char *err, size_t errlen)
{
	char derr[256] = "";
	int e = drain(h);
	int d = heap_detach(h, derr, sizeof(derr));

	if (d < 0 && err && errlen)
		snprintf(err, errlen, "%s", derr);
	else if (e < 0 && err && errlen)
		errmsg_set(err, errlen, "cannot add a sample: %s", strerror(-e));
	h->r.st.elapsed = (double)(now_ns(CLOCK_MONOTONIC) - h->start_ns) / 1e9;
	if (st)
		*st = h->r.st;
	heap_release(h);
	return d < 0 ? d : e;
}

int record_heap_run(const struct record_opts *opts, const struct record_callbacks *cb,
		    struct profile **out, struct record_stats *st, char *err,
		    size_t errlen)
{
	struct record_heap *h;
	int e;

	*out = NULL;
	memset(st, 0, sizeof(*st));
	st->target_cpu_ms = -1;
	e = record_heap_start(opts, &h, err, errlen);
	/* enable_on_exec: a command, let go before the sampler goes in. */
	if (e < 0 && opts->enable_on_exec && heap_target_gone(opts->pid)) {
		/* A command done before the sampler could go in: an empty
		 * profile, as for a CPU recording of a command already
		 * gone. */
		struct heapprof *hp = heapprof_new(opts->heap_rate ? opts->heap_rate :
						   RECORD_HEAP_RATE);
		struct profile *base = profile_new();

		e = hp && base ? heapprof_profile(hp, base, opts->profile == RECORD_ALLOCS ?
						  HEAPPROF_ALLOCS : HEAPPROF_HEAP, NULL, out) :
			-ENOMEM;
		heapprof_free(hp);
		profile_free(base);
		if (e == 0) {
			st->target_exited = true;
			if (err && errlen)
				err[0] = '\0';
		}
		return e;
	}
	if (e < 0)
		return e;
	if (cb && cb->ready && (e = cb->ready(cb->arg)) < 0)
		goto stop;
	uint64_t start = h->start_ns;
	uint64_t deadline = opts->seconds > 0 &&
		opts->seconds * 1e9 < (double)(UINT64_MAX - start) ?
		start + (uint64_t)(opts->seconds * 1e9) : UINT64_MAX;
	uint64_t next_tick = start;

	for (;;) {
		uint64_t now = now_ns(CLOCK_MONOTONIC);

		if (now >= deadline)
			break;
		e = record_heap_step(h, err, errlen);
		/* A target that exits fails the injector's reads in several
		 * ways (no link map, EIO from /proc/PID/mem): judge by the
		 * process. */
		if (e < 0 && (e == -ESRCH || heap_target_gone(opts->pid))) {
			h->r.st.target_exited = true;
			e = 0;
			if (err && errlen)
				err[0] = '\0';
			break;
		}
		if (e < 0)
			goto stop;
		if (cb && cb->tick && now >= next_tick) {
			struct record_stats now_st;

			next_tick = now + TICK_MS * 1000000ULL;
			record_heap_get_stats(h, &now_st);
			if (cb->tick(&now_st, cb->arg))
				break;
		}
		uint64_t left = deadline - now_ns(CLOCK_MONOTONIC);
		uint64_t nap = HEAP_READ_MS * 1000000ULL;
		if (left < nap)
			nap = left;
		struct timespec ts = { (time_t)(nap / 1000000000ULL),
				       (long)(nap % 1000000000ULL) };
		nanosleep(&ts, NULL);
	}
	if (cb && cb->sampled)
		cb->sampled(cb->arg);
	/* What the ring holds still, then in use as of now, then out. */
	e = drain(h);
	if (e < 0)
		goto stop;
	char derr[256] = "";
	e = heap_detach(h, derr, sizeof(derr));
	/* Nothing to take out of a process that is gone. */
	if (e < 0 && heap_target_gone(opts->pid)) {
		h->r.st.target_exited = true;
		e = 0;
	}
	if (e < 0) {
		snprintf(err, errlen, "%s", derr);
		goto stop;
	}
	/* Every image's stackprof finishes as it is released. */
	procs_free(h->r.procs);
	h->r.procs = NULL;
	stackprof_finish(h->r.ksp);
	e = make_profile(h, opts->profile, out);
	if (e < 0)
		goto stop;
	if (cb && cb->tick)
		cb->tick(&h->r.st, cb->arg);
stop:;
	int d = heap_detach(h, NULL, 0);
	h->r.st.elapsed = (double)(now_ns(CLOCK_MONOTONIC) - h->start_ns) / 1e9;
	*st = h->r.st;
	heap_release(h);
	return e < 0 ? e : d;
}

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
#include <sys/stat.h>
#include <linux/perf_event.h>

#include "record.h"
#include "errmsg.h"
#include "procfs.h"
#include "procs.h"
#include "sampler.h"
#include "stackprof.h"
#include "symbolize.h"
#include "symtab.h"
#include "unwind.h"

/* A re-read of a process's /proc/PID/maps: at most this often. */
#define REFRESH_INTERVAL_NS 50000000ULL
#define TICK_MS 100
/* 2 MiB of ring per CPU in DWARF mode: ~250 samples with 8 KiB stack
 * copies, a quarter of a second at 999 Hz, so that a slow first lookup
 * (a library's debug info being read) does not make the kernel drop
 * samples. The sampler halves it when the mlock budget refuses. */
#define DWARF_RING_PAGES 512
/* x86_64: the kernel half of the address space (symbolize.c). */
#define KERNEL_START 0xffff800000000000ULL

/* What the recording keeps of one procs image (procs_image.priv). */
struct rimage {
	struct symbolizer *sym;
	struct unwinder *unwinder;	/* DWARF mode */
	struct stackprof *sp;
	uint64_t generation;		/* of the maps last reported */
	uint64_t last_reload_ns;	/* of /proc/PID/maps */
	bool gone;			/* the process had exited when its
					 * first sample was read */
	bool failed;			/* no modules: raw addresses */
};

struct recorder {
	const struct record_opts *opts;
	struct sampler *sampler;
	struct procs *procs;
	/* Kernel addresses, and user ones no image can name (a process
	 * whose modules could not be read): their address is kept. */
	struct symbolizer *ksym;
	struct stackprof *ksp;
	struct symtab_cache *cache;	/* symbols of files many processes map */
	struct profile *profile;
	uint64_t *pcs, *locs;
	bool *act;
	size_t max_frames;
	struct record_stats st;
	struct procfs_ksyms ksyms;	/* read before sampling starts */
	/* The first perf map an image's symbolizer refused, for the
	 * profile's comments (symbolizer_perfmap_error). */
	int perfmap_err;
	char perfmap[64];
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

/* --- per-image symbolizers ------------------------------------------------- */

static void rimage_clear(struct recorder *r, struct rimage *ri)
{
	const char *pm = NULL;
	int e = ri->sym ? symbolizer_perfmap_error(ri->sym, &pm) : 0;

	if (e && !r->perfmap_err) {
		r->perfmap_err = e;
		snprintf(r->perfmap, sizeof(r->perfmap), "%s", pm);
	}
	stackprof_free(ri->sp);
	unwinder_free(ri->unwinder);
	symbolizer_free(ri->sym);
	ri->sp = NULL;
	ri->unwinder = NULL;
	ri->sym = NULL;
}

static void rimage_release(struct procs_image *img, void *arg)
{
	struct rimage *ri = img->priv;

	if (!ri)
		return;
	/* The profile has copied every name and line; the mappings' has_*
	 * flags are final now. */
	if (ri->sp)
		stackprof_finish(ri->sp);
	rimage_clear(arg, ri);
	free(ri);
	img->priv = NULL;
}

/* Whether /proc/PID/root still leads to the process's files: not once it
 * has exited (a zombie has no root either). */
static bool files_reachable(pid_t pid)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/root/", (int)procfs_proc_tid(pid));
	return access(path, F_OK) == 0;
}

/* The image's mappings as the symbolizer and unwinder should see them.
 * Once the process is gone its files can only be opened by path, in our
 * mount namespace: a file there that is not the one it mapped (another
 * inode: replaced by an upgrade, or another container's) is marked deleted
 * so that it is not opened (docs/design.md §1.1). The inode alone is
 * compared: the device the kernel reports for a mapping is the
 * filesystem's, which stat() gives differently on btrfs subvolumes and
 * overlayfs. */
static int image_maps(const struct procs_image *img, bool reachable,
		      struct procfs_maps *out)
{
	int e = procfs_maps_dup(&img->maps, out);

	if (e < 0 || reachable)
		return e;
	const char *last = NULL;
	struct stat st;
	bool found = false;

	for (size_t i = 0; i < out->n; i++) {
		struct procfs_map *m = &out->maps[i];

		if (m->path[0] != '/' || m->deleted)
			continue;
		/* A file's mappings follow each other: one stat for all. */
		if (!last || strcmp(last, m->path) != 0) {
			found = stat(m->path, &st) == 0 && S_ISREG(st.st_mode);
			last = m->path;
		}
		if (!found || st.st_ino != m->inode)
			m->deleted = true;
	}
	return 0;
}

/* Makes ri's symbolizer, unwinder and stackprof from img's mappings.
 * Returns 0 or -errno with the reason in r->err; ri is then empty and
 * marked failed until img's mappings change (an image is empty between an
 * exec and its first MMAP2 record, and libdwfl cannot unwind without a
 * module to take the architecture from). */
static int rimage_build(struct recorder *r, struct procs_image *img,
			struct rimage *ri)
{
	struct procfs_maps maps;
	bool reachable = files_reachable(img->pid);
	int e;

	ri->generation = img->generation;
	ri->failed = true;
	e = image_maps(img, reachable, &maps);
	if (e < 0)
		return e;
	ri->gone = !reachable;
	e = symbolizer_new_maps(img->pid, &maps, NULL, &ri->sym, r->err, r->errlen);
	if (e == 0) {
		/* libc's DWARF from libc6-dbg is ~11 MB decompressed and
		 * ~100 ms of zlib, spent on the CPUs the target is using;
		 * its function names come from the debug file's symbol
		 * table without it. */
		symbolizer_set_lines(ri->sym, r->opts->system_lines ?
					      SYM_LINES_ALL : SYM_LINES_OWN);
		symbolizer_set_cache(ri->sym, r->cache);
		/* Unwinding needs no debug file: the unwinder's own Dwfl
		 * never opens one (unwind.h). */
		if (r->opts->callgraph == SAMPLER_CG_DWARF)
			e = unwinder_new(img->pid, &maps, &ri->unwinder, r->err,
					 r->errlen);
	}
	if (e == 0) {
		ri->sp = stackprof_new(ri->sym, r->profile);
		if (!ri->sp)
			e = -ENOMEM;
	}
	procfs_maps_release(&maps);
	if (e < 0)
		rimage_clear(r, ri);
	else
		ri->failed = false;
	return e;
}

/* Reports what changed in img's mappings since ri last saw them. */
static int rimage_update(struct procs_image *img, struct rimage *ri)
{
	struct procfs_maps maps;
	int e = image_maps(img, files_reachable(img->pid), &maps);

	if (e < 0)
		return e;
	e = symbolizer_set_maps(ri->sym, &maps);
	if (e == 0 && ri->unwinder)
		e = unwinder_refresh(ri->unwinder, &maps);
	procfs_maps_release(&maps);
	ri->generation = img->generation;
	return e;
}

/* The symbolizer state of proc's image, made or brought up to date; NULL
 * when its modules cannot be read (its addresses stay raw) or on ENOMEM
 * (r->error set). */
static struct rimage *image_state(struct recorder *r, struct procs_process *proc)
{
	struct procs_image *img = proc->image;
	struct rimage *ri = img->priv;
	int e = 0;

	if (!ri) {
		ri = calloc(1, sizeof(*ri));
		if (!ri) {
			r->error = -ENOMEM;
			return NULL;
		}
		img->priv = ri;
		e = rimage_build(r, img, ri);
	} else if (ri->generation != img->generation) {
		e = ri->failed ? rimage_build(r, img, ri) : rimage_update(img, ri);
	}
	if (e == -ENOMEM)
		r->error = e;
	/* Otherwise not the recording's failure: this image's addresses
	 * are kept without names until its mappings change. */
	if (e < 0 && r->err && r->errlen)
		r->err[0] = '\0';
	return ri->failed ? NULL : ri;
}

/* An address outside every module of the process's current mappings: a
 * library mapped since /proc/PID/maps was read (dlopen, without MMAP2
 * records), a lost record, or JIT code. Re-read the mappings while the
 * process lives, rate-limited since JIT code is never in a module. The
 * unwinder and the symbolizer learn the new modules together, so a sample
 * is worth unwinding again when this returns true. */
static bool image_refresh(struct recorder *r, struct procs_process *proc)
{
	struct rimage *ri = proc->image->priv;
	uint64_t now = now_ns(CLOCK_MONOTONIC);

	if (!ri || now - ri->last_reload_ns < REFRESH_INTERVAL_NS)
		return false;
	ri->last_reload_ns = now;
	if (procs_reload(r->procs, proc, now) <= 0)
		return false;
	/* The image may be a new one now (it was shared). */
	ri = image_state(r, proc);
	if (ri)
		ri->last_reload_ns = now;
	return ri != NULL;
}

static bool user_pc_unmapped(struct rimage *ri, uint64_t pc, bool act)
{
	const struct sym_frame *f = symbolizer_lookup(ri->sym, pc, !act);
	return f && !f->module;
}

/* --- one sample -------------------------------------------------------- */

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
static void refresh_if_unmapped(struct recorder *r, struct procs_process *proc,
				size_t from, size_t n)
{
	struct rimage *ri = image_state(r, proc);

	/* No modules at all (an exec whose mappings no record told). */
	if (!ri && from < n) {
		image_refresh(r, proc);
		return;
	}
	for (size_t i = from; ri && i < n; i++) {
		if (user_pc_unmapped(ri, r->pcs[i], r->act[i])) {
			image_refresh(r, proc);
			return;
		}
	}
}

static size_t add_dwarf_user_frames(struct recorder *r, struct procs_process *proc,
				    const struct perf_sample *s, size_t n)
{
	if (s->regs_abi == PERF_SAMPLE_REGS_ABI_NONE || !s->regs)
		return n;	/* a kernel thread or a sample with no user state */
	struct rimage *ri = image_state(r, proc);
	/* No modules at all: after an exec, without the MMAP2 records that
	 * would have told the new program's mappings (no children asked). */
	if ((!ri || !ri->unwinder) && !r->error && image_refresh(r, proc))
		ri = image_state(r, proc);
	if (!ri || !ri->unwinder) {
		/* No modules to unwind with: the sampled pc alone. */
		r->pcs[n] = s->regs[RB_IP];
		r->act[n] = true;
		r->st.unwind_failed++;
		return n + 1;
	}
	size_t got = 0;
	enum unwind_status us = unwinder_unwind(ri->unwinder, (pid_t)s->tid, s->regs,
						s->stack, s->stack_dyn_size,
						r->pcs + n, r->act + n,
						r->max_frames - n, &got);
	/* A frame outside every known module usually means a library mapped
	 * since the last report: refresh and unwind again, once. */
	if (got > 0 && us != UNWIND_OK &&
	    user_pc_unmapped(ri, r->pcs[n + got - 1], r->act[n + got - 1]) &&
	    image_refresh(r, proc) && (ri = image_state(r, proc)) && ri->unwinder)
		us = unwinder_unwind(ri->unwinder, (pid_t)s->tid, s->regs, s->stack,
				     s->stack_dyn_size, r->pcs + n, r->act + n,
				     r->max_frames - n, &got);
	if (us == UNWIND_TRUNCATED)
		r->st.truncated++;
	else if (us == UNWIND_FAILED)
		r->st.unwind_failed++;
	return n + got;
}

static bool is_kernel_pc(uint64_t pc)
{
	return pc >= KERNEL_START;
}

static int on_sample(struct recorder *r, const struct perf_sample *s)
{
	uint64_t now = now_ns(CLOCK_MONOTONIC);
	struct procs_process *proc = procs_process(r->procs, (pid_t)s->pid, now);
	struct procs_thread *thr = proc ? procs_thread(r->procs, proc, (pid_t)s->tid) : NULL;
	size_t n = 0, nk = 0;

	if (!thr)
		return -ENOMEM;
	if (r->opts->kernel)
		nk = n = add_callchain_frames(r, s, 0, (uint64_t)PERF_CONTEXT_KERNEL);
	if (r->opts->callgraph == SAMPLER_CG_FP) {
		n = add_callchain_frames(r, s, n, (uint64_t)PERF_CONTEXT_USER);
		refresh_if_unmapped(r, proc, nk, n);
	} else {
		n = add_dwarf_user_frames(r, proc, s, n);
	}
	if (r->error)
		return r->error;
	if (n == 0) {
		/* No stack at all: keep the sample on its IP alone. */
		r->pcs[0] = s->ip;
		r->act[0] = true;
		n = 1;
		nk = is_kernel_pc(s->ip) ? 1 : 0;
	}
	/* User frames first: the first mapping of the profile is then the
	 * main binary of the first process sampled, as pprof wants. */
	struct rimage *ri = nk < n ? image_state(r, proc) : NULL;
	struct stackprof *usp = ri ? ri->sp : r->ksp;
	for (size_t i = n; i-- > 0;) {
		struct stackprof *sp = i < nk ? r->ksp : usp;
		r->locs[i] = stackprof_location(sp, r->pcs[i], r->act[i]);
		if (!r->locs[i])
			return -ENOMEM;
	}

	if (!thr->sampled) {
		thr->sampled = true;
		r->st.threads++;
	}
	if (proc->samples++ == 0)
		r->st.processes++;
	if (proc->pid == r->opts->pid)
		r->st.target_samples++;
	if (ri && ri->gone)
		r->st.gone_samples++;
	int64_t values[2] = { 1, (int64_t)s->period };
	struct profile_label_in labels[4] = {
		{ .key = "thread_id", .num = (int64_t)s->tid },
		{ .key = "thread_name", .str = thr->name },
		{ .key = "pid", .num = (int64_t)s->pid },
		{ .key = "process_name", .str = proc->comm },
	};
	int ret = profile_add_sample(r->profile, r->locs, n, values, labels, 4);
	if (ret < 0)
		return ret;
	r->st.samples++;
	return 0;
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
		break;
	case PERF_RECORD_SAMPLE:
		if (!rec->sample)
			return 0;
		/* Events follow the target alone unless children are
		 * wanted (or the kernel lacks inherit_thread, 5.13+). */
		if (!r->opts->children && (pid_t)rec->sample->pid != r->opts->pid)
			return 0;
		ret = on_sample(r, rec->sample);
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
	snprintf(buf, sizeof(buf), "pid: %d%s", (int)r->opts->pid,
		 r->opts->children ? " and its child processes" : "");
	return profile_add_comment(p, buf);
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
	procfs_ksyms_release(&r->ksyms);
	free(r->pcs);
	free(r->locs);
	free(r->act);
}

/* The target's image, read from /proc/PID/maps, with its symbolizer and
 * unwinder made now rather than beside the target at its first sample:
 * that takes a few hundred ms on a cold cache. */
static int prepare_target(struct recorder *r)
{
	struct procs_process *proc = procs_process(r->procs, r->opts->pid,
						   now_ns(CLOCK_MONOTONIC));

	if (!proc)
		return -ENOMEM;
	if (r->err && r->errlen)
		r->err[0] = '\0';
	struct rimage *ri = calloc(1, sizeof(*ri));
	if (!ri)
		return -ENOMEM;
	proc->image->priv = ri;
	return rimage_build(r, proc->image, ri);
}

/* The target has exited or is exiting: no /proc/PID, only a zombie left, or
 * an exit under way. A process in do_exit still reads as running ('R') for a
 * while after its maps have emptied; a set-up step that failed because they
 * did always finds PF_EXITING set. */
static bool target_gone(pid_t pid)
{
	struct procfs_stat st;
	return procfs_read_stat(pid, 0, &st) < 0 || procfs_stat_gone(&st) ||
	       (st.flags & PROCFS_PF_EXITING);
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

	if (!cb)
		cb = &no_callbacks;
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
	r.procs = procs_new(rimage_release, &r);
	r.cache = symtab_cache_new();
	if (!r.pcs || !r.locs || !r.act || !r.profile || !r.procs || !r.cache) {
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
		.children = opts->children,
		.ring_pages = opts->callgraph == SAMPLER_CG_DWARF ? DWARF_RING_PAGES : 0,
	};
	ret = sampler_open(&so, &r.sampler, err, errlen);
	if (ret < 0)
		goto out_release;
	/* Reading /proc/kallsyms takes ~60 ms of CPU: before sampling starts
	 * (and before a command runs), while nothing fills the rings. A
	 * failure is not fatal: kernel frames stay unnamed. */
	if (opts->kernel && procfs_read_kallsyms(&r.ksyms) != 0)
		memset(&r.ksyms, 0, sizeof(r.ksyms));
	ret = symbolizer_new_maps(0, &none, opts->kernel ? &r.ksyms : NULL,
				  &r.ksym, err, errlen);
	if (ret < 0)
		goto out_release;
	r.ksp = stackprof_new(r.ksym, r.profile);
	if (!r.ksp) {
		ret = -ENOMEM;
		goto out_release;
	}
	if (!opts->enable_on_exec) {
		ret = prepare_target(&r);
		/* As below for a command: a target that exits while its
		 * modules are read fails that read in any of several ways
		 * (no maps, no ELF for libdw): say that it exited. */
		if (ret < 0 && target_gone(opts->pid)) {
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
		ret = prepare_target(&r);
		/* The error depends on how far the command's exit got: no
		 * /proc/PID (ESRCH), or maps already emptied, which libdw
		 * reports as no ELF at all (the unwinder's attach, when the
		 * symbolizer found the maps empty). Judge by the process, not
		 * by it. With children, the records of the command's exec
		 * still name its samples. */
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
	while (!r.st.target_exited) {
		uint64_t now = now_ns(CLOCK_MONOTONIC);
		r.st.elapsed = (double)(now - start) / 1e9;
		if (now >= deadline)
			break;
		/* With children the events hang up only when the last of
		 * them exits; the recording ends with the target, as with a
		 * command (what it left running is not followed further). */
		if (check_target(&r) && opts->children) {
			r.st.target_exited = true;
			break;
		}
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
	/* A target stopped at the end counts as stopped, however short the
	 * recording or late the last tick. */
	check_target(&r);
	sampler_disable(r.sampler);
	if (cpu0 >= 0) {
		int64_t cpu1 = target_cpu_ms(opts->pid);

		r.st.target_cpu_ms = cpu1 >= cpu0 ? cpu1 - cpu0 : -1;
	}
	/* What the kernel wrote before the events stopped, and what the
	 * time order held back. */
	ret = drain(&r, 0);
	if (ret < 0 && ret != -ESRCH && ret != -EINTR)
		goto out_release;
	struct sampler_stats ss;
	sampler_get_stats(r.sampler, &ss);
	r.st.lost = ss.lost;
	uint64_t end = now_ns(CLOCK_MONOTONIC);
	r.st.elapsed = (double)(end - start) / 1e9;
	r.profile->time_nanos = wall_start;
	r.profile->duration_nanos = (int64_t)(end - start);
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

/*
 * record_stack.c - a recording's view of each process (record_int.h): the
 * symbolizer, unwinder and stackprof of each image, made at its first
 * sample and kept up to date with its mappings, and one sample's stack
 * turned into profile locations.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include <linux/perf_event.h>

#include "record_int.h"

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

void record_rimage_release(struct procs_image *img, void *arg)
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

/* Whether img maps any file. A live process without one is inside an
 * exec: the kernel has switched it to the new program's address space,
 * which holds only its stack until the program's first segment is mapped
 * (docs/design.md §1.1). */
static bool image_has_file(const struct procs_image *img)
{
	for (size_t i = 0; i < img->maps.n; i++)
		if (img->maps.maps[i].path[0] == '/')
			return true;
	return false;
}

/* How long an exec may keep the target without files before
 * record_prepare_target gives up, and how often it looks again. */
#define EXEC_WAIT_NS	(2000ULL * 1000000)
#define EXEC_POLL_NS	(2ULL * 1000000)

bool record_target_gone(pid_t pid)
{
	struct procfs_stat st;
	return procfs_read_stat(pid, 0, &st) < 0 || procfs_stat_gone(&st) ||
	       (st.flags & PROCFS_PF_EXITING);
}

int record_prepare_target(struct recorder *r, pid_t pid)
{
	uint64_t t0 = now_ns(CLOCK_MONOTONIC);
	struct procs_process *proc = procs_process(r->procs, pid, t0);
	int e;

	if (!proc)
		return -ENOMEM;
	for (;;) {
		struct rimage *ri = proc->image->priv;
		int changed = 0;

		if (!ri) {
			ri = calloc(1, sizeof(*ri));
			if (!ri)
				return -ENOMEM;
			proc->image->priv = ri;
		}
		if (r->err && r->errlen)
			r->err[0] = '\0';
		e = rimage_build(r, proc->image, ri);
		if (e == 0 || e == -ENOMEM || image_has_file(proc->image))
			return e;
		/* Caught inside an exec (a command's shell exec'ing the
		 * program, `-- make`'s children, a daemon re-exec'ing
		 * itself), libdw has no ELF to take the architecture from:
		 * read the mappings until the new program is mapped, then
		 * build again. An exit empties the maps too: it ends the
		 * wait, and the caller says the target is gone. */
		while (changed == 0) {
			if (now_ns(CLOCK_MONOTONIC) - t0 >= EXEC_WAIT_NS ||
			    record_target_gone(pid))
				return e;
			nanosleep(&(struct timespec){ .tv_nsec = EXEC_POLL_NS }, NULL);
			changed = procs_reload(r->procs, proc, now_ns(CLOCK_MONOTONIC));
			if (changed == -ENOMEM)
				return changed;
			if (changed < 0)
				return e;	/* gone */
		}
	}
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

int record_locations(struct recorder *r, struct procs_process *proc,
		     const struct perf_sample *s, struct rimage **image)
{
	size_t n = 0, nk = 0;

	*image = NULL;
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
	*image = ri;
	return (int)n;
}

void record_sample_labels(struct recorder *r, struct procs_process *proc,
			  struct procs_thread *thr, struct profile_label_in labels[4])
{
	if (!thr->sampled) {
		thr->sampled = true;
		r->st.threads++;
	}
	if (proc->samples++ == 0)
		r->st.processes++;
	if (proc->pid == r->opts->pid)
		r->st.target_samples++;
	labels[0] = (struct profile_label_in){ .key = "thread_id", .num = (int64_t)thr->tid };
	labels[1] = (struct profile_label_in){ .key = "thread_name", .str = thr->name };
	labels[2] = (struct profile_label_in){ .key = "pid", .num = (int64_t)proc->pid };
	labels[3] = (struct profile_label_in){ .key = "process_name", .str = proc->comm };
}

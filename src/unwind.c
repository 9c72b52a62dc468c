/*
 * unwind.c - DWARF unwinding of sampled user stacks with libdw.
 *
 * perf's util/unwind-libdw.c builds a Dwfl for every sample (~200 us each,
 * docs/design.md §2). Here one Dwfl of our own is reported and attached once with
 * our Dwfl_Thread_Callbacks, and each unwinder_unwind() only swaps the
 * sample the callbacks read from.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#include <elfutils/libdwfl.h>

#include "hash.h"
#include "procfs.h"
#include "modules.h"
#include "unwind.h"

/* How far above the sampled sp an address still counts as "on this stack"
 * when the copy does not reach it: the default RLIMIT_STACK, and more than
 * any thread stack glibc allocates by default. A read there means the copy
 * was too small (TRUNCATED), not that unwinding went astray. */
#define UNWIND_STACK_SPAN (8ULL << 20)
/* Verdicts of modules_cfi_outermost, by the last pc of a walk: a program's
 * stacks end in a handful of places (_start, the thread start of clone). */
#define UNWIND_ENDS 64

struct unwind_end {
	uint64_t pc;		/* looked-up address; 0: empty */
	bool outermost;
};

struct unwinder {
	pid_t target;			/* the process */
	pid_t pid;			/* its /proc id: procfs_proc_tid */
	struct modules_proc *proc;	/* userdata of every module */
	Dwfl *dwfl;
	uint64_t maps_hash;		/* unwind_maps_hash of the last report */
	struct unwind_end ends[UNWIND_ENDS];

	/* The current sample, valid during one unwinder_unwind(). */
	pid_t tid;
	const uint64_t *regs;
	const uint8_t *stack;
	uint64_t sp;
	size_t stack_size;

	uint64_t *pcs;
	bool *is_activation;
	size_t max, n;
	bool last_act;			/* the last pc is not a return address */
	bool at_stop;			/* the walk ended at modules_stops */
	struct modules_stops *stops;
	/* The last memory read libdw asked for since the last frame was
	 * reported: when a walk ends, the read of the return address. */
	bool read_ok;
	uint64_t read_val;
	bool truncated, full, pc_failed;
	bool no_stack;			/* a read in an empty copy */
};

static pid_t unwind_next_thread(Dwfl *dwfl, void *arg, void **thread_argp)
{
	struct unwinder *u = arg;

	/* Only dwfl_getthreads asks; report the sampled thread once. */
	if (*thread_argp != NULL || u->tid <= 0)
		return 0;
	*thread_argp = u;
	return u->tid;
}

static bool unwind_get_thread(Dwfl *dwfl, pid_t tid, void *arg,
			      void **thread_argp)
{
	/* dwfl_getthread_frames asks get_thread for the tid (elfutils
	 * libdwfl/dwfl_frame.c getthread); without it libdwfl would walk
	 * next_thread. Every tid of the process works: the registers come
	 * from the sample, not from the thread. */
	*thread_argp = arg;
	return true;
}

static bool unwind_memory_read(Dwfl *dwfl, Dwarf_Addr addr,
			       Dwarf_Word *result, void *arg)
{
	struct unwinder *u = arg;
	struct iovec local, remote;

	u->read_ok = false;
	if (addr >= u->sp && addr - u->sp <= u->stack_size &&
	    u->stack_size - (addr - u->sp) >= sizeof(*result)) {
		memcpy(result, u->stack + (addr - u->sp), sizeof(*result));
		u->read_ok = true;
		u->read_val = *result;
		return true;
	}
	if (addr >= u->sp && addr - u->sp < UNWIND_STACK_SPAN) {
		/* The live stack has moved on since the sample: never read
		 * it, report the copy as too small. No copy at all is not a
		 * copy too small: the kernel could not copy any (a sample in
		 * execve, whose user stack belongs to the old program), and
		 * a larger --stack-size would not help. */
		if (u->stack_size > 0)
			u->truncated = true;
		else
			u->no_stack = true;
		return false;
	}
	/* Elsewhere (data of mapped files, another stack through a signal
	 * frame): the live process, uncached. */
	local.iov_base = result;
	local.iov_len = sizeof(*result);
	remote.iov_base = (void *)(uintptr_t)addr;
	remote.iov_len = sizeof(*result);
	if (process_vm_readv(u->pid, &local, 1, &remote, 1, 0) !=
	    (ssize_t)sizeof(*result))
		return false;
	u->read_ok = true;
	u->read_val = *result;
	return true;
}

static bool unwind_set_initial_registers(Dwfl_Thread *thread, void *arg)
{
	struct unwinder *u = arg;
	const uint64_t *r = u->regs;
	/* x86_64 DWARF register numbers 0-16 (System V psABI, fig. 3.36):
	 * 16 is the return address column, the pc of the first frame. It
	 * must be a register too, not only the pc: the CFI of a PLT stub
	 * computes the CFA from it (DW_CFA_def_cfa_expression with
	 * DW_OP_breg16, docs/design.md §2), and libdw fails an expression
	 * that reads a register never set. */
	Dwarf_Word dw[17] = {
		r[RB_AX], r[RB_DX], r[RB_CX], r[RB_BX],
		r[RB_SI], r[RB_DI], r[RB_BP], r[RB_SP],
		r[RB_R8], r[RB_R9], r[RB_R10], r[RB_R11],
		r[RB_R12], r[RB_R13], r[RB_R14], r[RB_R15],
		r[RB_IP],
	};

	return dwfl_thread_state_registers(thread, 0, 17, dw);
}

static const Dwfl_Thread_Callbacks unwind_callbacks = {
	.next_thread = unwind_next_thread,
	.get_thread = unwind_get_thread,
	.memory_read = unwind_memory_read,
	.set_initial_registers = unwind_set_initial_registers,
};

/* What a refresh compares: the lines that make modules (files and the
 * vDSO, modules_report_maps), not thread stacks or the heap coming and
 * going. */
static uint64_t unwind_maps_hash(const struct procfs_maps *m)
{
	uint64_t h = 0;

	for (size_t i = 0; i < m->n; i++) {
		const struct procfs_map *x = &m->maps[i];

		if (x->path[0] != '/' && strcmp(x->path, "[vdso]") != 0)
			continue;
		h = hash_mix64(h ^ x->start);
		h = hash_mix64(h ^ x->end);
		h = hash_mix64(h ^ x->inode ^ ((uint64_t)x->deleted << 63));
		h = hash_mix64(h ^ hash_fnv1a(x->path, strlen(x->path)));
	}
	return h;
}

/* Reports the modules of maps, or of /proc/PID/maps when maps is NULL;
 * add: keeps those already reported (dwfl_report_module returns the same
 * module for an unchanged name and range), as symbolizer_refresh does.
 * Nothing is done when the mappings are those of the last report. The
 * attached thread state is not affected. */
static int unwind_report(struct unwinder *u, const struct procfs_maps *maps,
			 bool add, char *err, size_t errlen)
{
	struct procfs_maps own = { 0 };
	uint64_t hash;
	int e;

	if (!maps) {
		e = procfs_read_maps(u->pid, &own);
		if (e) {
			/* No /proc/PID at all: the process does not exist. */
			if (e == -ENOENT)
				e = -ESRCH;
			if (err && errlen)
				snprintf(err, errlen, "cannot read /proc/%d/maps: %s",
					 (int)u->pid, strerror(-e));
			return e;
		}
		maps = &own;
	}
	hash = unwind_maps_hash(maps);
	if (add && hash == u->maps_hash) {
		procfs_maps_release(&own);
		return 0;
	}
	e = modules_report(u->dwfl, u->proc, maps, add, err, errlen);
	procfs_maps_release(&own);
	if (e)
		return e;
	u->maps_hash = hash;
	/* A pc outside every module may be in one now. */
	memset(u->ends, 0, sizeof(u->ends));
	return 0;
}

int unwinder_new(pid_t pid, const struct procfs_maps *maps,
		 struct unwinder **out, char *err, size_t errlen)
{
	struct unwinder *u;
	int e;

	*out = NULL;
	u = calloc(1, sizeof(*u));
	if (!u)
		return -ENOMEM;
	u->target = pid;
	u->pid = procfs_proc_tid(pid);
	e = modules_proc_new(u->pid, &u->proc);
	if (e)
		goto out_free;
	u->stops = modules_stops_new();
	if (!u->stops) {
		e = -ENOMEM;
		goto out_free;
	}
	/* libdw's unwinder falls back to dwfl_module_dwarf_cfi for a pc that
	 * .eh_frame does not cover, which asks for the module's DWARF: these
	 * callbacks never find a separate debug file (libc6-dbg's would be
	 * decompressed whole, ~100 ms of zlib beside the target). */
	u->dwfl = dwfl_begin(&modules_unwind_callbacks);
	if (!u->dwfl) {
		e = -ENOMEM;
		if (err && errlen)
			snprintf(err, errlen, "dwfl_begin: %s", dwfl_errmsg(-1));
		goto out_free;
	}
	e = unwind_report(u, maps, false, err, errlen);
	if (e)
		goto out_free;
	/* elf NULL: libdwfl takes the architecture from a reported module. */
	if (!dwfl_attach_state(u->dwfl, NULL, pid, &unwind_callbacks, u)) {
		e = -EINVAL;
		if (err && errlen)
			snprintf(err, errlen, "dwfl_attach_state: %s",
				 dwfl_errmsg(-1));
		goto out_free;
	}
	*out = u;
	return 0;

out_free:
	unwinder_free(u);
	return e;
}

int unwinder_refresh(struct unwinder *u, const struct procfs_maps *maps)
{
	/* As symbolizer_refresh: the thread we read through may be gone. */
	u->pid = procfs_proc_tid(u->target);
	modules_proc_set_pid(u->proc, u->pid);
	return unwind_report(u, maps, true, NULL, 0);
}

void *unwinder_dwfl(struct unwinder *u)
{
	return u->dwfl;
}

static int unwind_frame_cb(Dwfl_Frame *state, void *arg)
{
	struct unwinder *u = arg;
	Dwarf_Addr pc;
	bool act = false;

	if (!dwfl_frame_pc(state, &pc, &act)) {
		u->pc_failed = true;
		return DWARF_CB_ABORT;
	}
	u->pcs[u->n] = pc;
	u->last_act = u->n == 0 || act;
	u->read_ok = false;
	if (u->is_activation)
		u->is_activation[u->n] = u->last_act;
	u->n++;
	/* The bottom of a Go stack (modules.h): what lies past it is not
	 * this stack's. */
	if (modules_stops_at(u->stops, u->dwfl, u->last_act ? pc : pc - 1)) {
		u->at_stop = true;
		return DWARF_CB_ABORT;
	}
	if (u->n == u->max) {
		u->full = true;
		return DWARF_CB_ABORT;
	}
	return DWARF_CB_OK;
}

static bool unwind_outermost(struct unwinder *u, uint64_t pc)
{
	struct unwind_end *e = &u->ends[hash_mix64(pc) % UNWIND_ENDS];

	if (e->pc != pc || pc == 0) {
		e->pc = pc;
		e->outermost = modules_cfi_outermost(u->dwfl, pc);
	}
	return e->outermost;
}

enum unwind_status unwinder_unwind(struct unwinder *u, pid_t tid,
				   const uint64_t *regs, const uint8_t *stack,
				   size_t stack_dyn_size, uint64_t *pcs,
				   bool *is_activation, size_t max, size_t *n)
{
	int r;

	*n = 0;
	if (max == 0)
		return UNWIND_TRUNCATED;
	u->tid = tid > 0 ? tid : u->pid;
	u->regs = regs;
	u->stack = stack;
	u->stack_size = stack ? stack_dyn_size : 0;
	u->sp = regs[RB_SP];
	u->pcs = pcs;
	u->is_activation = is_activation;
	u->max = max;
	u->n = 0;
	u->truncated = u->full = u->pc_failed = u->no_stack = false;
	u->at_stop = false;

	r = dwfl_getthread_frames(u->dwfl, u->tid, unwind_frame_cb, u);

	*n = u->n;
	u->regs = NULL;
	u->stack = NULL;
	if (u->n == 0) {
		/* Not even the first frame (registers refused): keep the
		 * sampled ip so the sample is not lost. */
		pcs[0] = regs[RB_IP];
		if (is_activation)
			is_activation[0] = true;
		*n = 1;
		return UNWIND_FAILED;
	}
	if (u->at_stop)
		return UNWIND_OK;
	if (u->full || u->truncated)
		return UNWIND_TRUNCATED;
	if (r != 0 || u->pc_failed || u->no_stack)
		return UNWIND_FAILED;
	/* libdw ends a walk without an error in three cases
	 * (libdwfl/frame_unwind.c, handle_cfi): the CFI says the return
	 * address is undefined (glibc's _start, the thread side of clone);
	 * it was read as 0; or it could not
	 * be computed at all (a CFA expression reading a register it lacks,
	 * as a PLT stub's did): only the first two are the end of a stack.
	 * The return address is the last register libdw evaluates, so its
	 * read, when it has one, is the last read of the walk. */
	if (u->read_ok && u->read_val == 0)
		return UNWIND_OK;
	return unwind_outermost(u, u->last_act ? pcs[u->n - 1]
					       : pcs[u->n - 1] - 1) ?
	       UNWIND_OK : UNWIND_FAILED;
}

void unwinder_free(struct unwinder *u)
{
	if (!u)
		return;
	/* The Dwfl is ours alone: dwfl_end frees the thread state with it
	 * (detach is NULL, so no callback runs). */
	if (u->dwfl)
		dwfl_end(u->dwfl);
	modules_proc_free(u->proc);
	modules_stops_free(u->stops);
	free(u);
}

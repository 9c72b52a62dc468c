/*
 * ptunwind.h - return addresses of a ptrace-stopped thread.
 *
 * Two unwinders behind one interface:
 *  - libunwind, with our own unw_accessors_t in place of libunwind-ptrace's
 *    (docs/design.md §3): memory through process_vm_readv with a page cache
 *    instead of one PTRACE_PEEKDATA per word; registers from one
 *    PTRACE_GETREGS; no get_proc_name (names come from the symbolizer, after
 *    detach); caching policy UNW_CACHE_GLOBAL; every module's
 *    .eh_frame_hdr table found through its program headers in the target's
 *    memory, the vDSO's included, never through the file at the module's
 *    path, which may not be the one mapped (docs/design.md §4.3).
 *  - libdw: dwfl_getthread_frames, as eu-stack does, with our own thread
 *    callbacks (dwfl_attach_state) in place of dwfl_linux_proc_attach's:
 *    one PTRACE_GETREGS, memory through the same page cache; the files of
 *    the modules found by modules.h.
 *
 * A walk says whether it reached the outermost frame (docs/design.md §4.3):
 * both unwinders fall back to frame-pointer guesses where CFI is missing,
 * and libunwind may call a failed guess the end of the stack.
 *
 * A ptunwind is made before any thread is stopped (it reads /proc/PID/maps
 * and, for libdw, reports every module), so the stop only pays for the walk.
 */
#ifndef CPROF_PTUNWIND_H
#define CPROF_PTUNWIND_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include <sys/types.h>

enum ptunwind_kind {
	PTUNWIND_LIBUNWIND,
	PTUNWIND_LIBDW,
};

struct ptunwind;
struct procfs_maps;

/* maps: the target's mappings when the caller already has them (a
 * symbolizer's, symbolizer_maps()), or NULL to read /proc/PID/maps. Returns
 * 0 or -errno with the failing call in err. */
int ptunwind_new(pid_t pid, enum ptunwind_kind kind,
		 const struct procfs_maps *maps, struct ptunwind **out,
		 char *err, size_t errlen);

/* Why a walk ended before the outermost frame. */
enum ptunwind_stop {
	PTUNWIND_STOP_NONE,	/* it did not: the unwind information of the
				 * last frame says it has no caller (_start,
				 * a thread's start in clone3), or max frames
				 * were reached (truncated) */
	PTUNWIND_STOP_NO_INFO,	/* no unwind information for the last
				 * frame's code: in no module (JIT code), or
				 * none in its module as found (an image
				 * from memory without .eh_frame, a file
				 * with .debug_frame only for libunwind) */
	PTUNWIND_STOP_FAILED,	/* the unwind information led nowhere: a
				 * caller's frame unreadable, a loop */
};

/* Unwinds tid, which must be in a ptrace stop. Fills pcs[0..*n) leaf first
 * and is_activation (true for the leaf and for a frame interrupted by a
 * signal); *truncated when more than max frames exist; *stop when the walk
 * ended early, and then the last frame is where: frames guessed past a
 * frame without unwind information are dropped. Returns 0 or -errno (no
 * frame at all); a walk that stops early is not an error. */
int ptunwind_thread(struct ptunwind *u, pid_t tid, uint64_t *pcs,
		    bool *is_activation, size_t max, size_t *n,
		    bool *truncated, enum ptunwind_stop *stop);

/* Forgets the cached pages of target memory. Call it whenever the target
 * may have run since the last walk: once per stop of the whole process,
 * before each thread when threads are stopped one at a time. */
void ptunwind_invalidate(struct ptunwind *u);

/* The system call the thread of the last ptunwind_thread was in when it
 * stopped (orig_rax: the number /proc/PID/task/TID/syscall would print),
 * -1 when it was in user space, -3 when its registers were not read. */
long ptunwind_last_syscall(const struct ptunwind *u);

/* process_vm_readv calls made so far. */
uint64_t ptunwind_reads(const struct ptunwind *u);

void ptunwind_free(struct ptunwind *u);

#endif

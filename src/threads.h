/*
 * threads.h - a dump of every thread's stack of a live process, taken with
 * ptrace (PTRACE_SEIZE + PTRACE_INTERRUPT, never PTRACE_ATTACH: see
 * docs/design.md §3) and remote unwinding. threads_write.h writes it out.
 *
 * Capture and symbolization are separate steps on purpose: threads_capture
 * stops the threads, records registers and return addresses, and lets them
 * go; symbolizing (slow: ~0.5 ms a frame) happens afterwards on the copy.
 *
 * Safety contract: whatever happens - an error, a signal, SIGKILL of the
 * caller - no thread of the target is left stopped or traced. SIGINT,
 * SIGTERM, SIGHUP and SIGPIPE are blocked for the duration of the capture
 * (tens of ms) and delivered after every thread is detached. A target that
 * was stopped (state T) before the dump is stopped after it.
 *
 * The ptrace work runs in threads created for the capture, which exit
 * before threads_capture returns: a thread in uninterruptible sleep, which
 * no PTRACE_INTERRUPT stops and which therefore cannot be detached, is let
 * go by the kernel when they exit. So when threads_capture returns no
 * thread is traced, even in a caller that lives on (cprof serve). Such a
 * thread is waited for THREADS_UNINT_WAIT_NS (50 ms) once every other
 * thread has stopped, then reported with no stack (docs/design.md §3.1).
 */
#ifndef CPROF_THREADS_H
#define CPROF_THREADS_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include <sys/types.h>

#include "ptunwind.h"

enum threads_unwinder {
	THREADS_UNWIND_LIBUNWIND,	/* libunwind, our accessors */
	THREADS_UNWIND_LIBDW,		/* dwfl_getthread_frames, our callbacks */
};

struct threads_opts {
	pid_t pid;
	size_t max_frames;		/* 0: threads_defaults' */
	bool one_at_a_time;		/* stop one thread at a time */
	enum threads_unwinder unwinder;
	/* The target's mappings if the caller has them (symbolizer_maps()),
	 * else NULL: read again. */
	const struct procfs_maps *maps;
	/* Snapshot mode: do not read each thread's name, state and CPU time
	 * (/proc/PID/task/TID/stat, ~10 us a thread) before stopping it;
	 * for output that shows none of them but a few names, which
	 * THREADS_FMT_SUMMARY then reads itself (name[0] is '\0' until). */
	bool no_info;
};

struct threads_thread {
	pid_t tid;
	char name[16];
	char state;			/* from /proc/.../stat before the stop */
	long syscall;			/* nr blocked in, -1 user space, -2
					 * running, -3 unknown */
	uint64_t cpu_ns;		/* utime + stime */
	uint64_t *pcs;			/* leaf first */
	bool *is_activation;		/* per pc: not a return address */
	size_t npcs;
	bool truncated;			/* max_frames reached */
	enum ptunwind_stop stop;	/* the walk ended before the outermost
					 * frame, at pcs[npcs - 1]: the stack
					 * is incomplete */
	bool exited;			/* vanished during the dump */
	int error;			/* -errno when this thread failed;
					 * -EAGAIN: uninterruptible, below */
	bool uninterruptible;		/* never stopped: in uninterruptible
					 * sleep (state D) through the wait,
					 * so no user stack */
	char wchan[64];			/* for those: the kernel function it
					 * sleeps in (/proc/.../wchan), or "" */
};

struct threads_dump {
	pid_t pid;
	struct threads_thread *threads;	/* main thread first, then by TID */
	size_t n;
	uint64_t longest_stop_ns;	/* longest time a thread was stopped */
	uint64_t total_ns;		/* wall time of the capture */
	/* Where the capture's time went (shown by cprof threads -v):
	 * unwinder set-up, stopping (seize, interrupt, wait), unwinding and
	 * detaching. */
	uint64_t setup_ns, stop_ns, unwind_ns, detach_ns;
	unsigned tracers;		/* tracer threads used (snapshot) */
};

/* What `cprof threads` and serve's dumps use unless told otherwise: libdw
 * (it stopped 1,000 threads for about half as long as our wrapped
 * libunwind-ptrace, bench/threads.sh), 256 frames. pid is 0. */
extern const struct threads_opts threads_defaults;

/* Captures every thread of opts->pid. Returns 0 or -errno with a one-line
 * reason in err: -ESRCH no such process, -EPERM not permitted or already
 * traced (err names the tracer), -EINVAL own pid or kernel thread. */
int threads_capture(const struct threads_opts *opts, struct threads_dump **out,
		    char *err, size_t errlen);
void threads_dump_free(struct threads_dump *d);

#endif

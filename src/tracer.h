/*
 * tracer.h - ptrace of every thread of a process, the safe way: each thread
 * is taken with PTRACE_SEIZE and stopped with PTRACE_INTERRUPT, never with
 * PTRACE_ATTACH, whose SIGSTOP group-stops the whole target if we die before
 * waiting for it (docs/design.md §3). With SEIZE, our death at any moment makes the
 * kernel detach every tracee and drop the pending traps (exit_ptrace ->
 * __ptrace_unlink), so the target runs on.
 *
 * Threads are identified by index into tr->t; the array grows when a seized
 * thread clones (PTRACE_O_TRACECLONE auto-attaches the new thread), so
 * pointers into it are invalidated by tracer_seize and tracer_wait_stopped.
 *
 * The tracer is the calling thread, not the process: every call on one
 * struct tracer must come from the same thread. A thread that never stops
 * (uninterruptible sleep: no PTRACE_INTERRUPT can wake it) cannot be
 * PTRACE_DETACHed, since detaching needs a stopped tracee; it stays traced,
 * with the stop pending, until the tracing thread exits and the kernel lets
 * it go (docs/design.md §3.1). Callers therefore trace from a thread that
 * ends with the capture.
 */
#ifndef CPROF_TRACER_H
#define CPROF_TRACER_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include <sys/types.h>

enum tracer_state {
	TRACER_NONE,		/* known, not seized */
	TRACER_SEIZED,		/* seized, running (a stop may be pending) */
	TRACER_STOPPED,		/* in a ptrace stop: registers can be read */
	TRACER_UNSTOPPED,	/* seized, but we gave up waiting for its stop
				 * (error says why): still traced, the stop
				 * pending, until it stops (then detachable)
				 * or the tracing thread exits */
	TRACER_DETACHED,
	TRACER_GONE,		/* exited before or while we traced it */
};

struct tracer_thread {
	pid_t tid;
	enum tracer_state state;
	int pending_sig;	/* signal intercepted while stopping: given
				 * back to the thread by PTRACE_DETACH */
	bool group_stop;	/* reported in a group-stop (target was T) */
	bool exiting;		/* stopped at PTRACE_EVENT_EXIT */
	bool cloned;		/* auto-attached by PTRACE_O_TRACECLONE */
	char sleep_state;	/* 'D' or 'I' when seen in uninterruptible
				 * sleep while we waited for its stop, or 0 */
	int error;		/* -errno when this thread could not be stopped:
				 * -EAGAIN in uninterruptible sleep through the
				 * whole wait, -ETIMEDOUT not stopped in time */
	uint64_t interrupt_ns;	/* CLOCK_MONOTONIC when PTRACE_INTERRUPT was
				 * sent */
};

struct tracer {
	pid_t pid;
	bool trace_clone;
	struct tracer_thread *t;
	size_t n, cap;
	uint64_t longest_stop_ns;	/* interrupt to detach, over threads */
};

/* trace_clone: follow threads created by seized threads (snapshot mode). */
void tracer_init(struct tracer *tr, pid_t pid, bool trace_clone);
/* Frees. Detach first (tracer_detach_all, from the tracing thread): this
 * makes no ptrace call, so any thread may release. */
void tracer_release(struct tracer *tr);

/* Index of tid in tr->t, or -1. */
long tracer_find(const struct tracer *tr, pid_t tid);

/* Seizes tid and sends PTRACE_INTERRUPT. On success *idx is its index.
 * Returns 0; -ESRCH when the thread is gone (recorded as TRACER_GONE);
 * -EPERM when not permitted or traced by someone else (err says which,
 * naming the tracer pid from /proc/PID/status). */
int tracer_seize(struct tracer *tr, pid_t tid, size_t *idx, char *err,
		 size_t errlen);

/* Waits until every seized thread is stopped or gone. Threads still
 * running are given up (TRACER_UNSTOPPED) when either
 *  - every one of them was seen in uninterruptible sleep (state D or I in
 *    /proc, which the INTERRUPT cannot end) and no thread has stopped for
 *    unint_wait_ns: error -EAGAIN, sleep_state set; or
 *  - timeout_ns passed since the call (a runnable thread the scheduler
 *    never ran, on a saturated machine): error -ETIMEDOUT.
 * Clone events add threads that are waited for as well. Returns the number
 * of threads stopped now. */
size_t tracer_wait_stopped(struct tracer *tr, uint64_t timeout_ns,
			   uint64_t unint_wait_ns);

/* Detaches one stopped thread, re-injecting its pending signal; a thread
 * given up or still stopping is detached if it has stopped by now, else
 * left traced (-EBUSY). A group-stopped thread stays stopped: the kernel
 * re-enters the group stop on detach. */
int tracer_detach(struct tracer *tr, size_t idx);
/* Detaches every thread: those still stopping are waited for first as by
 * tracer_wait_stopped (a bounded time, shorter in uninterruptible sleep).
 * Returns the number of threads left traced (see tracer_detach). */
size_t tracer_detach_all(struct tracer *tr, uint64_t unint_wait_ns);

uint64_t tracer_now_ns(void);

/* waitpid(tid, status, __WALL | flags) for a thread of tr's process,
 * except for one report: the exit of the process's leader when the
 * process is our own child (record -- COMMAND, traced by the heap
 * injector). That one is returned without being reaped (waitid WNOWAIT):
 * its exit status is for its parent's waitpid, which would get ECHILD
 * after a tracer's. Every tracer's wait goes through here. */
pid_t tracer_waitpid(const struct tracer *tr, pid_t tid, int *status, int flags);

#endif

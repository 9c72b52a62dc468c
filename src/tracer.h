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
	int error;		/* -errno when this thread could not be stopped */
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
/* Detaches every thread still traced, then frees. */
void tracer_release(struct tracer *tr);

/* Index of tid in tr->t, or -1. */
long tracer_find(const struct tracer *tr, pid_t tid);

/* Seizes tid and sends PTRACE_INTERRUPT. On success *idx is its index.
 * Returns 0; -ESRCH when the thread is gone (recorded as TRACER_GONE);
 * -EPERM when not permitted or traced by someone else (err says which,
 * naming the tracer pid from /proc/PID/status). */
int tracer_seize(struct tracer *tr, pid_t tid, size_t *idx, char *err,
		 size_t errlen);

/* Waits until every seized thread is stopped or gone, or until timeout_ns
 * passed (those threads get error -ETIMEDOUT). Clone events add threads
 * that are waited for as well. Returns the number of threads stopped now. */
size_t tracer_wait_stopped(struct tracer *tr, uint64_t timeout_ns);

/* Detaches one thread, re-injecting its pending signal. A group-stopped
 * thread stays stopped: the kernel re-enters the group stop on detach. */
int tracer_detach(struct tracer *tr, size_t idx);
void tracer_detach_all(struct tracer *tr);

uint64_t tracer_now_ns(void);

#endif

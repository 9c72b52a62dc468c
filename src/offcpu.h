/*
 * offcpu.h - the off-CPU intervals of threads, from their context-switch
 * records (docs/design.md §8). Pure bookkeeping: the caller feeds the
 * records in time order, this pairs each thread's switch-out with its next
 * switch-in and hands on the interval with the stack sampled at the
 * switch-out and the thread that woke it.
 *
 * Stacks are opaque arrays of location ids (leaf first), copied.
 */
#ifndef CPROF_OFFCPU_H
#define CPROF_OFFCPU_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include <sys/types.h>

/* The stack sampled at a switch-out belongs to it when the SWITCH record
 * follows the sample by at most this much (the sample is taken first, in
 * the same call into the scheduler). */
#define OFFCPU_PAIR_NS 1000000ULL

/* Stacks a second the off-CPU profiles unwind at most: above it the switch
 * samples are taken every Nth switch-out (docs/design.md §8). */
#define OFFCPU_MAX_STACK_RATE 4000u
/* ... up to every this many switch-outs. */
#define OFFCPU_MAX_PERIOD 4096u

struct offcpu_interval {
	pid_t pid, tid;
	uint64_t start, end;		/* ns, CLOCK_MONOTONIC */
	bool on_cpu;			/* a running span (reported only
					 * with offcpu_report_on_cpu) */
	int cpu;			/* on_cpu: the CPU it ran on; -1 not
					 * known */
	bool preempted;			/* switched out while runnable */
	bool before_window;		/* began before the recording: the
					 * thread's first record was a
					 * switch-in; no stack */
	bool own_stack;			/* the stack was sampled at this
					 * interval's switch-out; else it is
					 * the thread's previous one (1 in N
					 * sampling, a lost sample) or none */
	const uint64_t *stack;		/* leaf first; NULL when none */
	size_t nstack;
	pid_t waker, waker_pid;		/* who woke it; 0 when unknown */
};

/* Called for each finished interval; a negative return stops the feed
 * and is returned by it. */
typedef int (*offcpu_fn)(const struct offcpu_interval *iv, void *arg);

struct offcpu;

/* start: the window's start (intervals open then begin there). */
struct offcpu *offcpu_new(uint64_t start, offcpu_fn fn, void *arg);
void offcpu_free(struct offcpu *oc);

/* Also hand on the on-CPU spans between a switch-in and the next
 * switch-out (for a timeline). */
void offcpu_report_on_cpu(struct offcpu *oc, bool on);

/* A thread that exists when the window starts, running (state R) or not:
 * one that was not, and writes no switch record at all, is counted off the
 * CPU for the whole window; one that was is on it until its first
 * switch-out. */
int offcpu_add_thread(struct offcpu *oc, pid_t pid, pid_t tid, bool running);
/* A thread created at time (FORK record): runnable until its first
 * switch-in. */
int offcpu_new_thread(struct offcpu *oc, pid_t pid, pid_t tid, uint64_t time);

/* The stack sampled at a switch-out of tid at time. Returns 0 or -ENOMEM. */
int offcpu_stack(struct offcpu *oc, pid_t pid, pid_t tid, uint64_t time,
		 const uint64_t *stack, size_t n);
/* PERF_RECORD_SWITCH out (preempt: PERF_RECORD_MISC_SWITCH_OUT_PREEMPT)
 * and in. Return 0 or what the callback returned. */
int offcpu_switch_out(struct offcpu *oc, pid_t pid, pid_t tid, uint64_t time,
		      bool preempt);
int offcpu_switch_in(struct offcpu *oc, pid_t pid, pid_t tid, uint64_t time);
/* The same, on cpu (kept for the on-CPU span that follows). */
int offcpu_switch_in_on(struct offcpu *oc, pid_t pid, pid_t tid, uint64_t time,
			int cpu);
/* waker (of process waker_pid) woke wakee, off the CPU now. */
void offcpu_waking(struct offcpu *oc, pid_t wakee, pid_t waker,
		   pid_t waker_pid);
/* tid exited: its last switch-out was its end, not a wait. */
void offcpu_exit(struct offcpu *oc, pid_t tid);
/* Ends the window at end: every open interval ends there. */
int offcpu_finish(struct offcpu *oc, uint64_t end);

/* What a frame's function (its symbol name, not demangled) says of a wait
 * below it: 1 a lock's (pthread mutexes and rwlocks, glibc's internal
 * locks, spinlocks, C11 mtx_*), -1 another synchronisation primitive's
 * (condition variables, semaphores, barriers, joins, once), 0 neither. A
 * futex wait is a lock wait when the first frame from the leaf that is
 * not 0 says 1 (docs/design.md §8). */
int offcpu_lock_frame(const char *name);

struct offcpu_stats {
	uint64_t intervals;		/* off-CPU intervals handed on */
	uint64_t own_stack;		/* of them, with their own stack */
	uint64_t unpaired;		/* switch-ins with no switch-out
					 * (lost records, or the first) */
};
void offcpu_get_stats(const struct offcpu *oc, struct offcpu_stats *st);

#endif

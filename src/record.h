/*
 * record.h - a CPU recording of one process (and, if asked, of the
 * processes it forks), from perf events to a finished pprof profile:
 * sampler -> procs (each process's mappings) -> unwinder -> symbolizer ->
 * stackprof -> profile. Shared by `cprof record` and `cprof serve`'s
 * /debug/pprof/profile.
 *
 * record_run never prints; it reports progress through the tick callback and
 * errors as -errno with a one-line reason in err.
 */
#ifndef CPROF_RECORD_H
#define CPROF_RECORD_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include <sys/types.h>
#include "sampler.h"
#include "profile.h"

/* What a recording measures (docs/design.md §8). */
enum record_profile {
	RECORD_CPU,		/* CPU samples: samples/count, cpu/ns */
	RECORD_BLOCK,		/* voluntary off-CPU waits: contentions/count,
				 * delay/ns */
	RECORD_MUTEX,		/* the lock waits among them */
	RECORD_WALL,		/* CPU samples and every off-CPU interval:
				 * samples/count, wall/ns */
	RECORD_TRACE,		/* as wall, and a timeline into
				 * record_opts.trace (trace.h) */
};

/* "cpu", "block", "mutex", "wall", "trace"; NULL for another value. */
const char *record_profile_name(enum record_profile p);
/* The profile named s (not "trace": that is a command of its own);
 * -EINVAL for another name. */
int record_profile_parse(const char *s, enum record_profile *out);

struct record_opts {
	pid_t pid;
	enum record_profile profile;
	double seconds;			/* <= 0: until the target exits or
					 * tick asks to stop */
	unsigned freq;			/* Hz */
	enum sampler_callgraph callgraph;
	uint32_t stack_size;		/* dwarf stack copy, bytes */
	bool kernel;			/* keep kernel time and frames */
	bool enable_on_exec;		/* target is a child about to exec */
	bool system_lines;		/* file:line and inlines from separate
					 * debug files too (SYM_LINES_ALL) */
	bool children;			/* also the processes pid forks (and,
					 * without enable_on_exec, those it
					 * has forked already): each
					 * symbolized against its own
					 * mappings (docs/design.md §1.1) */
	size_t max_frames;		/* per stack; 0: 512 */
	uint64_t switch_period;		/* off-CPU: a stack every Nth
					 * switch-out; 0 means 1 */
	struct trace *trace;		/* RECORD_TRACE: filled with the
					 * window's events (the caller's) */
};

struct record_stats {
	double elapsed;			/* seconds since sampling began */
	uint64_t samples;		/* samples added to the profile */
	uint64_t lost;			/* records the kernel dropped */
	uint64_t intervals;		/* off-CPU intervals seen (block,
					 * mutex, wall) */
	uint64_t intervals_own_stack;	/* of them, with the stack sampled at
					 * their own switch-out */
	uint64_t offcpu_ns;		/* the off-CPU time in the profile */
	uint64_t switch_period;		/* stacks were taken every Nth
					 * switch-out at the end (1: all) */
	bool no_wakers;			/* mutex: tracefs not readable, so no
					 * waker_thread labels */
	uint64_t truncated;		/* stacks cut by the stack copy size */
	uint64_t unwind_failed;		/* stacks that stopped early otherwise */
	size_t threads;			/* distinct threads seen in samples */
	size_t processes;		/* distinct processes seen in samples */
	uint64_t target_samples;	/* samples of pid itself */
	uint64_t forked;		/* processes forked while recorded
					 * (by pid alone without children) */
	uint64_t gone_samples;		/* samples of processes that had
					 * exited before their first sample
					 * was read: symbolized from their
					 * MMAP2 records, lost to a read of
					 * /proc/PID/maps */
	char target_stopped;		/* 'T' or 't' when pid was seen
					 * stopped (by a signal, or by a
					 * tracer) during the recording */
	bool target_exited;
	/* CPU time pid itself used (all its threads, from /proc/PID/stat)
	 * between the start and the end of sampling, to 10 ms: what the
	 * samples of pid should add up to; -1 when not known (a command,
	 * whose sampling starts at its exec, or a target that exited). */
	int64_t target_cpu_ms;
};

struct record_callbacks {
	/* Called once the events are open and enabled (before any sampling
	 * of a command: release the child here). A negative errno aborts
	 * the recording with that error. May be NULL. */
	int (*ready)(void *arg);
	/* Called about every 100 ms and at the end; non-zero stops the
	 * recording early (the profile is still finished). May be NULL. */
	int (*tick)(const struct record_stats *st, void *arg);
	/* Called once sampling has stopped, before the samples left are
	 * read and the profile is built (serve frees its slot there). May
	 * be NULL. */
	void (*sampled)(void *arg);
	void *arg;
};

/* Records opts->pid and returns a finished profile in *out (caller frees
 * with profile_free) and the final figures in *st. Returns 0 or -errno. */
int record_run(const struct record_opts *opts, const struct record_callbacks *cb,
	       struct profile **out, struct record_stats *st, char *err,
	       size_t errlen);

#endif

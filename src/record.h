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
#include <stdio.h>
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
	RECORD_HEAP,		/* sampled allocations (docs/design.md
				 * §12.3): alloc_objects, alloc_space,
				 * inuse_objects, inuse_space; inuse_space
				 * by default */
	RECORD_ALLOCS,		/* the same, alloc_space by default */
};

/* How a heap recording sees the target's allocations. */
enum record_heap_method {
	RECORD_HEAP_AUTO,	/* inject, or uprobe when the allocator is
				 * not reached through the GOT */
	RECORD_HEAP_INJECT,	/* the sampler injected into the target */
	RECORD_HEAP_UPROBE,	/* uprobes on the allocator */
};

struct heapabi_shared;

/* What a heap recording attaches to (record_heap.c): the injector by
 * default (record_heap_inject.c); tests give a fake whose shared area they
 * fill. Each returns 0 or -errno with a one-line reason in err. */
struct record_heap_detach {
	unsigned modules, entries;	/* modules looked at, GOT entries
					 * hooked */
	uint64_t stopped_ns_max;	/* longest stop of the target */
	bool left_mapped;		/* the sampler stayed mapped, inert */
	unsigned removed_stale;		/* samplers of killed cprofs removed */
};
struct record_heap_source {
	int (*attach)(void *arg, pid_t pid, uint64_t rate, uint32_t stack_size,
		      struct heapabi_shared **shared, char *err, size_t errlen);
	/* Every tick: the heartbeat, modules loaded since (dlopen). */
	int (*poll)(void *arg, char *err, size_t errlen);
	/* The figures so far (may be NULL). */
	void (*stats)(void *arg, struct record_heap_detach *st);
	/* Always called once attach succeeded, on every path. */
	int (*detach)(void *arg, struct record_heap_detach *st, char *err,
		      size_t errlen);
	void *arg;
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
	bool enable_on_exec;		/* target is a child about to exec;
					 * heap profiles: a command running
					 * already (an empty profile if it
					 * is done before the sampler goes
					 * in) */
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
	/* RECORD_HEAP and RECORD_ALLOCS. */
	uint64_t heap_rate;		/* mean bytes between samples; 0:
					 * 524288 (Go's MemProfileRate) */
	enum record_heap_method heap_method;
	const struct record_heap_source *heap_source;	/* NULL: the
							 * injector */
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
	/* Heap profiles. */
	const char *heap_method;	/* "inject" or "uprobe" */
	uint64_t heap_bytes;		/* bytes of the samples read */
	uint64_t heap_dropped;		/* samples lost to a full ring */
	uint64_t heap_untracked;	/* blocks the live set could not hold */
	uint64_t heap_stack_failed;	/* samples without a stack copy */
	struct record_heap_detach heap;	/* the attach and the detach */
	/* --method uprobe: one call in heap_calls_period sampled, the
	 * allocator's measured call rate and the slowdown it costs. */
	uint64_t heap_calls_period;
	double heap_calls_per_sec;
	double heap_slower_pct;		/* -1: more than a CPU's worth */
	bool heap_uprobe_inuse;		/* heap: returns paired, every free
					 * traced (docs/design.md §12.4) */
	uint64_t heap_frees;		/* ... the frees seen */
	uint64_t heap_unreturned;	/* sampled calls whose return never
					 * came (left out) */
};

/* One frame of a sample's stack, as record_callbacks.sample sees it. The
 * strings point into the recording's profile: valid during the call only. */
struct record_frame {
	const char *function;		/* NULL when not named */
	const char *file;		/* source file; NULL when not known */
	const char *module;		/* the mapped file ("[kernel]"...);
					 * NULL when none */
	uint64_t address;
	bool inlined;			/* inlined into the frame after it */
};

/* One sample as it enters the profile, its stack symbolized. */
struct record_sample {
	pid_t pid, tid;
	const char *comm;		/* the process's name */
	const char *thread_name;
	bool off_cpu;			/* an off-CPU interval (wall) */
	uint64_t weight_ns;		/* the sampling period, or the
					 * interval's length */
	size_t nframes;
	const struct record_frame *frames;	/* leaf first; inlined
						 * frames innermost first */
};

struct record_callbacks {
	/* Called once the events are open and enabled (before any sampling
	 * of a command: release the child here). A negative errno aborts
	 * the recording with that error. May be NULL. */
	int (*ready)(void *arg);
	/* Called about every 100 ms and at the end; non-zero stops the
	 * recording early (the profile is still finished). May be NULL. */
	int (*tick)(const struct record_stats *st, void *arg);
	/* Called with each sample added to the profile, as it is read (the
	 * live view of `cprof top`). Off-CPU intervals come when they end,
	 * and only those with their own stack (those weighed in at the end
	 * by a thread's scale, docs/design.md §8, are not). A negative errno
	 * aborts the recording with that error. May be NULL. */
	int (*sample)(const struct record_sample *s, void *arg);
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

/* --- heap profiles (record_heap.c) --------------------------------------- */

/* The default sampling rate of heap profiles (Go's MemProfileRate). */
#define RECORD_HEAP_RATE 524288u

/* A heap sampler attached to a process and read as it runs: record_run
 * uses it for RECORD_HEAP and RECORD_ALLOCS, and serve keeps one running
 * to answer /debug/pprof/heap and /allocs from. */
struct record_heap;

/* Attaches to opts->pid with opts->heap_source (or the injector). Returns
 * 0 or -errno with a one-line reason in err; the target is left as it was
 * on failure. */
int record_heap_start(const struct record_opts *opts, struct record_heap **out,
		      char *err, size_t errlen);
/* Moves the heartbeat on and reads the samples published so far (call it
 * every TICK_MS or so). -ESRCH once the target is gone. */
int record_heap_step(struct record_heap *h, char *err, size_t errlen);
/* The figures so far. */
void record_heap_get_stats(struct record_heap *h, struct record_stats *st);
/* The profile of what was sampled since the start, in use as of now (the
 * live set read now). kind: RECORD_HEAP or RECORD_ALLOCS. */
int record_heap_profile(struct record_heap *h, enum record_profile kind,
			struct profile **out);
/* Go's debug=1 text of the same, into f. */
int record_heap_text(struct record_heap *h, FILE *f);
/* Reads what is left, detaches (always) and frees h; st (may be NULL)
 * gets the final figures. Returns the detach's result. */
int record_heap_stop(struct record_heap *h, struct record_stats *st,
		     char *err, size_t errlen);
/* A new injector as a record_heap_source (record_heap_inject.c), its arg
 * the caller's to free() after detach: 0, -ENOMEM, or -ENOTSUP when this
 * build has none. */
int record_heap_injector(struct record_heap_source *out);
/* Whether the injector can attach to pid (inject_check): 0, -ENOTSUP when
 * the allocator is not reached through the GOT (uprobe), or another
 * -errno, with the reason in err. */
int record_heap_check(pid_t pid, char *err, size_t errlen);

#endif

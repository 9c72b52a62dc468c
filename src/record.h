/*
 * record.h - a CPU recording of one process, from perf events to a finished
 * pprof profile: sampler -> unwinder -> symbolizer -> stackprof -> profile.
 * Shared by `cprof record` and `cprof serve`'s /debug/pprof/profile.
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

struct record_opts {
	pid_t pid;
	double seconds;			/* <= 0: until the target exits or
					 * tick asks to stop */
	unsigned freq;			/* Hz */
	enum sampler_callgraph callgraph;
	uint32_t stack_size;		/* dwarf stack copy, bytes */
	bool kernel;			/* keep kernel time and frames */
	bool enable_on_exec;		/* target is a child about to exec */
	bool system_lines;		/* file:line and inlines from separate
					 * debug files too (SYM_LINES_ALL) */
	size_t max_frames;		/* per stack; 0: 512 */
};

struct record_stats {
	double elapsed;			/* seconds since sampling began */
	uint64_t samples;		/* samples added to the profile */
	uint64_t lost;			/* records the kernel dropped */
	uint64_t truncated;		/* stacks cut by the stack copy size */
	uint64_t unwind_failed;		/* stacks that stopped early otherwise */
	size_t threads;			/* distinct threads seen in samples */
	bool target_exited;
};

struct record_callbacks {
	/* Called once the events are open and enabled (before any sampling
	 * of a command: release the child here). A negative errno aborts
	 * the recording with that error. May be NULL. */
	int (*ready)(void *arg);
	/* Called about every 100 ms and at the end; non-zero stops the
	 * recording early (the profile is still finished). May be NULL. */
	int (*tick)(const struct record_stats *st, void *arg);
	void *arg;
};

/* Records opts->pid and returns a finished profile in *out (caller frees
 * with profile_free) and the final figures in *st. Returns 0 or -errno. */
int record_run(const struct record_opts *opts, const struct record_callbacks *cb,
	       struct profile **out, struct record_stats *st, char *err,
	       size_t errlen);

#endif

/*
 * threads_write.h - a thread dump (threads.h) written out as text, a
 * grouped summary, JSON, Go's goroutine?debug=1 layout, or a pprof profile.
 * Frames are symbolized here, after the capture let every thread go.
 */
#ifndef CPROF_THREADS_WRITE_H
#define CPROF_THREADS_WRITE_H

#include <stdio.h>
#include "profile.h"
#include "symbolize.h"
#include "threads.h"

enum threads_format {
	THREADS_FMT_TEXT,	/* per thread header and frames (Go debug=2) */
	THREADS_FMT_SUMMARY,	/* identical stacks grouped, most common first */
	THREADS_FMT_JSON,	/* one JSON document */
	THREADS_FMT_GO_DEBUG1,	/* Go's legacy goroutine?debug=1 text, with
				 * "threads profile: total N" */
};

/* Why thread t has no stack, in the words every format uses: "no user
 * stack: in uninterruptible sleep in WCHAN" (threads_thread.uninterruptible)
 * or "no stack: " and the error. "" when it has a stack or exited. */
const char *threads_no_stack_reason(const struct threads_thread *t, char *buf,
				    size_t len);

/* Writes the dump in a text format. Returns 0 or -errno (write error). */
int threads_write(const struct threads_dump *d, struct symbolizer *sym,
		  enum threads_format fmt, FILE *out);

/* A pprof profile of the dump: sample type threads/count, one sample per
 * distinct stack with thread names as labels, and a comment "K of N
 * stacks incomplete (...)". Caller frees *out. */
int threads_to_profile(const struct threads_dump *d, struct symbolizer *sym,
		       struct profile **out);
/* The same with another sample type: "goroutine" (goroutine/count) is
 * what scrapers file as goroutines (docs/design.md §6, serve). */
int threads_to_profile_as(const struct threads_dump *d, struct symbolizer *sym,
			  const char *type, struct profile **out);

/* Which frames of a stack (leaf first) make its "start routine" for
 * threadcreate: the outermost frames up to and including the first one,
 * counted from the root, that is not thread/process start-up code
 * (_start, __libc_start_*, start_thread, clone, clone3). names[i] may be
 * NULL (unknown). Returns how many outermost frames to keep (>= 1 when
 * n >= 1). */
size_t threads_start_routine_frames(const char *const *names, size_t n);

/* Go's threadcreate profile of a dump: every thread's stack cut to its
 * start routine (threads_start_routine_frames), the routine itself named
 * by its entry address so that threads waiting at different lines of it
 * form one group, as Go groups threads by where they were created. *out
 * is a dump of its own (threads_dump_free). sym NULL: nothing is named,
 * each stack keeps its outermost frame. Returns 0 or -ENOMEM. */
int threads_creation_view(const struct threads_dump *d, struct symbolizer *sym,
			  struct threads_dump **out);

/* Threads whose stack stopped before the outermost frame (threads_thread
 * stop), exited ones aside. */
size_t threads_incomplete(const struct threads_dump *d);

/* Why and where t's stack stopped early, for people: "no unwind
 * information for 0xADDR (libx.so (deleted))" or "unwinding failed at
 * 0xADDR (MODULE)", the module as its basename ("no mapped file" when
 * none; nothing without sym); *module (may be NULL) gets the module's
 * full path or NULL.
 * Returns 1, or 0 (and "") when the stack is complete. Every format
 * writes it: text and summary as a line "  ...stack incomplete: WHY",
 * debug1 as a '#' line, JSON as "incomplete". */
int threads_describe_stop(const struct threads_thread *t,
			  struct symbolizer *sym, char *buf, size_t len,
			  const char **module);

#endif

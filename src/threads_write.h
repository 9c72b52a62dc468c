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
 * distinct stack with thread names as labels. Caller frees *out. */
int threads_to_profile(const struct threads_dump *d, struct symbolizer *sym,
		       struct profile **out);

#endif

/*
 * topview.h - what `cprof top` shows: the samples of a recording, as they
 * come (record_callbacks.sample), kept per second and per thread, and read
 * back as the functions with the most self (or total) time over a sliding
 * window of the last few seconds, each with its share in each of the last
 * seconds for a trend (docs/design.md §10).
 *
 * A function is a name and its module's file name (basename): the same
 * name in two libraries is two rows. A frame without a name counts as
 * "[MODULE]" (or "[unknown]"). Self time is the leaf frame's (inlined
 * frames are frames of their own, innermost first, as in pprof); total
 * time counts a sample once for every function anywhere in its stack.
 *
 * Time is what the caller says: topview_advance closes the second being
 * filled (cprof top calls it once a second, before it draws). Never
 * prints; functions return 0 or -ENOMEM.
 */
#ifndef CPROF_TOPVIEW_H
#define CPROF_TOPVIEW_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include <sys/types.h>

#include "record.h"

/* Seconds the trend can go back at most. */
#define TOPVIEW_MAX_HISTORY 32

enum topview_sort {
	TOPVIEW_SORT_SELF,
	TOPVIEW_SORT_TOTAL,
};

struct topview_row {
	const char *function;		/* valid until the next add */
	const char *module;		/* basename; "" when none */
	uint64_t self_ns, total_ns;	/* over the window */
	double self, total;		/* shares of the window's weight, 0..1 */
	/* Self share in each of the last ntrend seconds, oldest first;
	 * -1 for a second with no sample of the thread(s) shown. */
	double trend[TOPVIEW_MAX_HISTORY];
	size_t ntrend;
};

struct topview_summary {
	uint64_t samples;		/* in the window, of the thread(s) */
	uint64_t weight_ns;		/* their weight */
	uint64_t off_cpu_ns;		/* of which off the CPU (wall) */
	unsigned seconds;		/* closed seconds in the window so far */
	size_t functions;		/* distinct functions in the window */
};

struct topview;

/* window: seconds summed for the shares (>= 1); history: seconds of trend
 * (1..TOPVIEW_MAX_HISTORY). NULL on ENOMEM or a bad argument. */
struct topview *topview_new(unsigned window, unsigned history);
void topview_free(struct topview *tv);

/* Counts one sample in the second being filled. */
int topview_add(struct topview *tv, const struct record_sample *s);

/* Closes the second being filled: it becomes the newest of the window. */
int topview_advance(struct topview *tv);

/* Threads seen so far, in the order they were first seen: index i's tid
 * and name (the latest it had). Returns false past the last one. */
size_t topview_nthreads(const struct topview *tv);
bool topview_thread(const struct topview *tv, size_t i, pid_t *tid,
		    const char **name);

/* The rows of the window, sorted (then by name), at most max of them, for
 * the thread with index thread (topview_thread), or all when thread < 0.
 * *rows is the caller's array of max rows; *n how many were filled. */
int topview_rows(struct topview *tv, enum topview_sort sort, long thread,
		 struct topview_row *rows, size_t max, size_t *n,
		 struct topview_summary *sum);

#endif

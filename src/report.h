/*
 * report.h - the top functions of a profile, as `go tool pprof -top` shows
 * them: flat, flat%, sum%, cum, cum% for one sample type.
 */
#ifndef CPROF_REPORT_H
#define CPROF_REPORT_H

#include <stdio.h>
#include <stddef.h>
#include "profile.h"

struct report_opts {
	size_t top;			/* rows; 0: all */
	const char *sample_type;	/* NULL: the last sample type (pprof's
					 * default), or default_sample_type */
};

/* Prints a header (sample type, total) and the rows. Functions are the
 * outermost line of each location plus every inlined line, each counted once
 * per sample for cum. The text is the same as `go tool pprof -top
 * -sample_index=TYPE` prints for the same file (nodes under 0.5% of the
 * total dropped, one unit for all rows). Nothing is printed on -EINVAL.
 * Returns 0, -EINVAL (unknown sample type, or none at all), -ENOMEM, or
 * -EIO when out has its error flag set. */
int report_top(const struct profile *p, const struct report_opts *opts, FILE *out);

#endif

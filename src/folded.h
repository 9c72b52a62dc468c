/*
 * folded.h - a profile as folded stacks, one line per distinct stack:
 * "root;caller;...;leaf VALUE", the input of flamegraph.pl, inferno and
 * speedscope (docs/design.md §12).
 *
 * A frame is what `go tool pprof -traces` prints for it: the function of
 * each line of a location, inlined lines as frames of their own (outermost
 * nearest the root); a location without lines is "[object]" after its
 * mapping's file name, or "<unknown>". Names are made safe for the format:
 * control characters, invalid UTF-8 and the backslash are escaped as
 * escape.h does, and ';' (the separator) is written "\x3b".
 *
 * Also the helpers that src/flame.c shares: the sample type by name and the
 * name of a frame.
 */
#ifndef CPROF_FOLDED_H
#define CPROF_FOLDED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include "profile.h"

/* Writes the folded stacks of p for one sample type (NULL: the profile's
 * default, else its last, as pprof). Stacks whose value is 0 are left out;
 * samples with the same stack (differing in labels) are added up; lines
 * come sorted by stack. Returns 0, -EINVAL (unknown sample type, or none:
 * err lists those that exist), -ENOMEM, or -EIO when out has its error
 * flag set. */
int folded_write(const struct profile *p, const char *sample_type, FILE *out,
		 char *err, size_t errlen);

/* The index of sample type want (NULL: the default, else the last) in
 * *index. -EINVAL with err naming the sample types that exist. */
int folded_sample_index(const struct profile *p, const char *want, size_t *index,
			char *err, size_t errlen);

/* One frame of a stack, as go tool pprof -traces names it. */
struct folded_frame {
	const char *name;	/* never NULL; points into p or into buf */
	const char *file;	/* "" when unknown */
	int64_t line;		/* 0 when unknown */
	bool inlined;		/* an inlined line (not a location's outermost) */
	const struct profile_mapping *mapping;	/* NULL when none */
};

/* The frames of location l, outermost (nearest the root) first, into
 * out[0..*n) (room for max of them; a location has l->nlines, or 1 when
 * it has none). buf (at least 4096 bytes) holds a formatted "[object]"
 * name. */
void folded_location_frames(const struct profile *p, const struct profile_location *l,
			    struct folded_frame *out, size_t max, size_t *n,
			    char *buf, size_t buflen);

#endif

/*
 * flame.h - a profile as one self-contained HTML page showing its flame
 * graph (docs/design.md §12): the page template, script and style of
 * src/ui/ (embedded at build time) around a compact JSON model of the
 * profile. Nothing in the page loads anything from the network.
 *
 * The model (one JSON object, in a <script type="application/json">):
 *   "v": 1, "title": "...", "duration_ns": N,
 *   "types":   [["cpu","nanoseconds"], ...]   the sample types
 *   "type":    index of the type shown first
 *   "strings": ["", ...]                      every name, file, module
 *   "frames":  [[name, file, line, module, class, inlined], ...]
 *              strings by index; class 0 main binary, 1 library,
 *              2 kernel, 3 JIT, 4 unknown; inlined 0 or 1
 *   "stacks":  [[frame, ...], ...]            root first
 *   "threads": [string, ...]                  thread_name labels, sorted
 *   "samples": [[stack, thread, v0, v1, ...], ...]   thread -1: none
 * Frames are functions as go tool pprof -traces names them (folded.h),
 * one per (name, module, inlined); samples are merged by (stack, thread).
 * Strings are JSON-escaped so that nothing in them can end the script
 * element or the page: '<', '>', '&', U+2028/U+2029 and every control
 * character as \uXXXX, invalid UTF-8 as U+FFFD.
 */
#ifndef CPROF_FLAME_H
#define CPROF_FLAME_H

#include <stddef.h>
#include <stdio.h>
#include "profile.h"

struct flame_opts {
	const char *title;		/* shown in the page header and <title>; NULL: "cprof" */
	const char *sample_type;	/* initially selected sample type; NULL: the
					 * profile's default, else its last */
};

/* Writes one self-contained HTML page showing p as a flame graph. Returns 0,
 * -EINVAL (unknown sample_type: err says which exist), -ENOMEM, or -EIO. */
int flame_html_write(const struct profile *p, const struct flame_opts *o, FILE *out,
		     char *err, size_t errlen);

/* The JSON model alone (as embedded in the page). Same returns. */
int flame_json_write(const struct profile *p, const struct flame_opts *o, FILE *out,
		     char *err, size_t errlen);

/* s as a JSON string, quotes included, escaped as above (NULL is ""). */
void flame_json_str(const char *s, FILE *out);

#endif

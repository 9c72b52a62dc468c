/*
 * profile.h - an in-memory pprof profile, independent of its encoding.
 *
 * A profile interns everything it holds: strings, mappings, functions and
 * locations are stored once and named by a small id, exactly as profile.proto
 * wants them (ids start at 1; string index 0 is always ""). Samples with the
 * same stack and the same labels are merged by adding their values, so a
 * 30 s recording of a hot loop costs one sample, not 3000.
 *
 * Ownership: the profile copies every string it is given; pointers returned by
 * the accessors below stay valid until the next profile_add_* call (arrays may
 * grow) or profile_free().
 *
 * Errors: functions returning int give 0 or -ENOMEM; functions returning an id
 * give 0 on allocation failure (0 is never a valid id).
 */
#ifndef CPROF_PROFILE_H
#define CPROF_PROFILE_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

struct profile_value_type {
	int64_t type;	/* string index, e.g. "samples" */
	int64_t unit;	/* string index, e.g. "count" */
};

struct profile_mapping {
	uint64_t id;
	uint64_t start, limit, offset;
	int64_t filename;	/* string index */
	int64_t build_id;	/* string index, hex */
	bool has_functions, has_filenames, has_line_numbers, has_inline_frames;
};

struct profile_line {
	uint64_t function_id;
	int64_t line;
};

struct profile_location {
	uint64_t id;
	uint64_t mapping_id;	/* 0: none */
	uint64_t address;
	size_t nlines;
	struct profile_line *lines;	/* innermost (inlined) first */
};

struct profile_function {
	uint64_t id;
	int64_t name, system_name, filename;	/* string indexes */
	int64_t start_line;
};

struct profile_label {
	int64_t key;		/* string index */
	int64_t str;		/* string index, 0 when numeric */
	int64_t num;
	int64_t num_unit;	/* string index, 0 when none */
};

struct profile_sample {
	size_t nlocations;
	uint64_t *location_ids;	/* leaf first */
	int64_t *values;	/* profile->nsample_types of them */
	size_t nlabels;
	struct profile_label *labels;
};

struct profile {
	/* Public, read-only outside profile.c (use the functions to add). */
	char **strings;
	size_t nstrings;
	struct profile_value_type *sample_types;
	size_t nsample_types;
	struct profile_mapping *mappings;
	size_t nmappings;
	struct profile_location *locations;
	size_t nlocations;
	struct profile_function *functions;
	size_t nfunctions;
	struct profile_sample *samples;
	size_t nsamples;
	int64_t *comments;	/* string indexes */
	size_t ncomments;
	struct profile_value_type period_type;
	int64_t period;
	int64_t time_nanos, duration_nanos;
	int64_t drop_frames, keep_frames;	/* string indexes */
	int64_t default_sample_type;		/* string index */

	struct profile_index *index;	/* private hash tables */
};

/* A new empty profile whose string table holds "" at index 0. NULL on ENOMEM. */
struct profile *profile_new(void);
void profile_free(struct profile *p);

/* Index of s in the string table, adding it if new; -1 on ENOMEM. */
int64_t profile_string(struct profile *p, const char *s);

/* Appends a sample type ("samples", "count"); returns 0 or -ENOMEM. Set all
 * sample types before the first sample: -EINVAL once samples exist, since
 * their value arrays have a fixed length. */
int profile_add_sample_type(struct profile *p, const char *type, const char *unit);
int profile_set_period(struct profile *p, const char *type, const char *unit, int64_t period);
int profile_add_comment(struct profile *p, const char *text);

/* Adds a mapping (never merged: the caller adds each once). The first mapping
 * added should be the main binary (pprof's rule). Returns its id. */
uint64_t profile_add_mapping(struct profile *p, uint64_t start, uint64_t limit,
			     uint64_t offset, const char *filename,
			     const char *build_id);
/* The mapping with this id, or NULL. Lets the caller set the has_* flags. */
struct profile_mapping *profile_mapping(struct profile *p, uint64_t id);

/* Interned by (name, system_name, filename, start_line). NULL strings are "". */
uint64_t profile_function(struct profile *p, const char *name,
			  const char *system_name, const char *filename,
			  int64_t start_line);

/* Interned by (mapping_id, address, lines). lines are copied. */
uint64_t profile_location(struct profile *p, uint64_t mapping_id,
			  uint64_t address, const struct profile_line *lines,
			  size_t nlines);

/* A label given by the caller of profile_add_sample: key and str are strings
 * (str NULL for a numeric label), interned on the way in. */
struct profile_label_in {
	const char *key;
	const char *str;
	int64_t num;
	const char *num_unit;
};

/* Adds values to the sample with this stack and these labels, creating it if
 * new. values has nsample_types entries. Returns 0 or -ENOMEM. */
int profile_add_sample(struct profile *p, const uint64_t *location_ids,
		       size_t nlocations, const int64_t *values,
		       const struct profile_label_in *labels, size_t nlabels);

/* Raw append used by the decoder: no interning, no merging, ids as given.
 * The arrays of s are copied (s->values has nsample_types entries); the
 * caller keeps s. Samples appended this way are not merged with later
 * profile_add_sample() calls. Returns 0 or -ENOMEM. */
int profile_append_raw_sample(struct profile *p, const struct profile_sample *s);

/* More raw appends for the decoder, same rules: nothing is checked or
 * merged, ids and string indexes are kept as given (the decoder validates
 * them). A raw string is always appended, even if equal to an earlier one,
 * so indexes match the file; profile_string() finds its first copy.
 * Functions, locations and mappings appended raw are not found by the
 * interning calls, which give new objects ids above every id seen.
 * Each returns 0 or -ENOMEM. */
int profile_append_raw_string(struct profile *p, const char *s);
int profile_append_raw_sample_type(struct profile *p, struct profile_value_type vt);
int profile_append_raw_comment(struct profile *p, int64_t string_index);
int profile_append_raw_mapping(struct profile *p, const struct profile_mapping *m);
int profile_append_raw_function(struct profile *p, const struct profile_function *f);
/* l->lines is copied. */
int profile_append_raw_location(struct profile *p, const struct profile_location *l);

/* Lookups by id, for readers of decoded profiles whose ids need not be
 * 1..n. O(1): a hash index is built on first use after a change. NULL when
 * no object has this id (or on ENOMEM while building the index, where a
 * linear scan is used instead, so NULL always means "absent"). */
const struct profile_function *profile_function_by_id(const struct profile *p, uint64_t id);
const struct profile_location *profile_location_by_id(const struct profile *p, uint64_t id);
const struct profile_mapping *profile_mapping_by_id(const struct profile *p, uint64_t id);

/* The string at index i, or NULL when i is out of range. */
const char *profile_str(const struct profile *p, int64_t i);

/* --- copies (profile_strip.c) ------------------------------------------- */

/* Whether pprof leaves a mapping of this file name alone when it
 * symbolizes (Mapping.Unsymbolizable in github.com/google/pprof
 * profile/profile.go: a base name starting with '[' or "linux-vdso", or
 * under /dev/dri/): it never posts such addresses to /debug/pprof/symbol. */
bool profile_unsymbolizable_mapping(const char *filename);

/* Position in p->locations (p->mappings) of the object with this id:
 * profile.c numbers them 1..n in order, a decoded profile may not.
 * nlocations (nmappings) when absent. */
size_t profile_location_pos(const struct profile *p, uint64_t id);
size_t profile_mapping_pos(const struct profile *p, uint64_t id);

/* A copy of in with addresses, mappings and build ids but no functions or
 * lines, every mapping without has_functions: what pprof takes as "ask the
 * server" (symbolz.go posts the addresses of locations without lines to
 * /debug/pprof/symbol). Mappings pprof never asks about
 * (profile_unsymbolizable_mapping: [kernel], [vdso]) keep their names,
 * which would otherwise be lost. Returns 0 or -ENOMEM. */
int profile_strip_symbols(const struct profile *in, struct profile **out);

/* after minus before, as Go's delta profiles (net/http/pprof
 * serveDeltaProfile: pprof's Merge of before scaled by -1 and after):
 * samples match by content (addresses, mappings, lines, labels), not ids,
 * so the two may come from separate builds; negative values are kept,
 * samples that cancel out are dropped. time_nanos is after's,
 * duration_nanos the time between the two. Returns 0, -EINVAL when the
 * sample types differ, -ENOMEM. */
int profile_delta(const struct profile *before, const struct profile *after,
		  struct profile **out);

#endif

/*
 * profile_strip.c - copies of a profile: without symbols (for clients that
 * symbolize through /debug/pprof/symbol) and the difference of two
 * profiles (Go's delta profiles). Both copy samples from one profile into
 * another by content, never by id, so profiles built apart can be merged.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "profile.h"

bool profile_unsymbolizable_mapping(const char *filename)
{
	const char *base = strrchr(filename, '/');
	base = base ? base + 1 : filename;
	return base[0] == '[' || !strncmp(base, "linux-vdso", 10) ||
	       !strncmp(filename, "/dev/dri/", 9);
}

size_t profile_location_pos(const struct profile *p, uint64_t id)
{
	if (id && id <= p->nlocations && p->locations[id - 1].id == id)
		return id - 1;
	for (size_t i = 0; i < p->nlocations; i++)
		if (p->locations[i].id == id)
			return i;
	return p->nlocations;
}

size_t profile_mapping_pos(const struct profile *p, uint64_t id)
{
	if (id && id <= p->nmappings && p->mappings[id - 1].id == id)
		return id - 1;
	for (size_t i = 0; i < p->nmappings; i++)
		if (p->mappings[i].id == id)
			return i;
	return p->nmappings;
}

static const char *str_of(const struct profile *p, int64_t i)
{
	return i > 0 && (size_t)i < p->nstrings ? p->strings[i] : "";
}

/* The mapping of dst equal to m of src (bounds, offset, file, build id),
 * added when there is none: profile_add_mapping never merges. 0 on ENOMEM. */
static uint64_t copy_mapping(struct profile *dst, const struct profile *src,
			     const struct profile_mapping *m, bool strip)
{
	const char *file = str_of(src, m->filename), *bid = str_of(src, m->build_id);
	for (size_t i = 0; i < dst->nmappings; i++) {
		const struct profile_mapping *d = &dst->mappings[i];
		if (d->start == m->start && d->limit == m->limit &&
		    d->offset == m->offset && !strcmp(str_of(dst, d->filename), file) &&
		    !strcmp(str_of(dst, d->build_id), bid))
			return d->id;
	}
	uint64_t id = profile_add_mapping(dst, m->start, m->limit, m->offset, file, bid);
	struct profile_mapping *nm = id ? profile_mapping(dst, id) : NULL;
	if (nm && (!strip || profile_unsymbolizable_mapping(file))) {
		nm->has_functions = m->has_functions;
		nm->has_filenames = m->has_filenames;
		nm->has_line_numbers = m->has_line_numbers;
		nm->has_inline_frames = m->has_inline_frames;
	}
	return id;
}

/* Copies every sample of src into dst, values times scale (dst's sample
 * types are src's). strip: locations keep their lines only in mappings
 * pprof never symbolizes; skip_zero: samples whose values are all 0 are
 * left out. */
static int copy_samples(struct profile *dst, const struct profile *src,
			int64_t scale, bool strip, bool skip_zero)
{
	uint64_t *mapids = calloc(src->nmappings + 1, sizeof(*mapids));
	uint64_t *locids = calloc(src->nlocations + 1, sizeof(*locids));
	uint64_t *stack = NULL;
	int64_t *values = calloc(src->nsample_types + 1, sizeof(*values));
	struct profile_label_in *labels = NULL;
	struct profile_line *lines = NULL;
	size_t maxloc = 1, maxlab = 1, maxlines = 1;
	int e = -ENOMEM;

	for (size_t i = 0; i < src->nsamples; i++) {
		if (src->samples[i].nlocations > maxloc)
			maxloc = src->samples[i].nlocations;
		if (src->samples[i].nlabels > maxlab)
			maxlab = src->samples[i].nlabels;
	}
	for (size_t i = 0; i < src->nlocations; i++)
		if (src->locations[i].nlines > maxlines)
			maxlines = src->locations[i].nlines;
	stack = calloc(maxloc, sizeof(*stack));
	labels = calloc(maxlab, sizeof(*labels));
	lines = calloc(maxlines, sizeof(*lines));
	if (!mapids || !locids || !stack || !values || !labels || !lines)
		goto out;
	/* mapids[pos], locids[pos]: the ids in dst; [n] is 0 for "none". */
	for (size_t i = 0; i < src->nmappings; i++) {
		mapids[i] = copy_mapping(dst, src, &src->mappings[i], strip);
		if (!mapids[i])
			goto out;
	}
	for (size_t i = 0; i < src->nlocations; i++) {
		const struct profile_location *l = &src->locations[i];
		size_t mp = profile_mapping_pos(src, l->mapping_id);
		size_t nl = 0;
		/* pprof never asks /symbol about these: keep their names. */
		bool keep = !strip || (mp < src->nmappings &&
			profile_unsymbolizable_mapping(str_of(src, src->mappings[mp].filename)));
		for (size_t j = 0; keep && j < l->nlines; j++) {
			const struct profile_function *f =
				profile_function_by_id(src, l->lines[j].function_id);
			if (!f)
				continue;
			lines[nl].line = l->lines[j].line;
			lines[nl].function_id =
				profile_function(dst, str_of(src, f->name), str_of(src, f->system_name),
						 str_of(src, f->filename), f->start_line);
			if (!lines[nl++].function_id)
				goto out;
		}
		locids[i] = profile_location(dst, mapids[mp], l->address, nl ? lines : NULL, nl);
		if (!locids[i])
			goto out;
	}
	for (size_t i = 0; i < src->nsamples; i++) {
		const struct profile_sample *sm = &src->samples[i];
		bool zero = true;
		for (size_t j = 0; j < src->nsample_types; j++) {
			values[j] = sm->values[j] * scale;
			zero = zero && values[j] == 0;
		}
		if (zero && skip_zero)
			continue;
		for (size_t j = 0; j < sm->nlocations; j++)
			stack[j] = locids[profile_location_pos(src, sm->location_ids[j])];
		for (size_t j = 0; j < sm->nlabels; j++) {
			labels[j].key = str_of(src, sm->labels[j].key);
			labels[j].str = sm->labels[j].str ? str_of(src, sm->labels[j].str) : NULL;
			labels[j].num = sm->labels[j].num;
			labels[j].num_unit = sm->labels[j].num_unit ?
				str_of(src, sm->labels[j].num_unit) : NULL;
		}
		if (profile_add_sample(dst, stack, sm->nlocations, values, labels,
				       sm->nlabels) < 0)
			goto out;
	}
	e = 0;
out:
	free(mapids);
	free(locids);
	free(stack);
	free(values);
	free(labels);
	free(lines);
	return e;
}

/* A new profile with in's sample types, period, comments and times. */
static struct profile *copy_header(const struct profile *in)
{
	struct profile *p = profile_new();
	if (!p)
		return NULL;
	for (size_t i = 0; i < in->nsample_types; i++)
		if (profile_add_sample_type(p, str_of(in, in->sample_types[i].type),
					    str_of(in, in->sample_types[i].unit)) < 0)
			goto fail;
	if (profile_set_period(p, str_of(in, in->period_type.type),
			       str_of(in, in->period_type.unit), in->period) < 0)
		goto fail;
	for (size_t i = 0; i < in->ncomments; i++)
		if (profile_add_comment(p, str_of(in, in->comments[i])) < 0)
			goto fail;
	/* A heap profile's default (inuse_space or alloc_space) holds
	 * through a delta. */
	if (in->default_sample_type > 0 &&
	    (p->default_sample_type = profile_string(p, str_of(in, in->default_sample_type))) < 0)
		goto fail;
	p->time_nanos = in->time_nanos;
	p->duration_nanos = in->duration_nanos;
	return p;
fail:
	profile_free(p);
	return NULL;
}

int profile_strip_symbols(const struct profile *in, struct profile **out)
{
	struct profile *p = copy_header(in);
	if (!p)
		return -ENOMEM;
	int e = copy_samples(p, in, 1, true, false);
	if (e < 0) {
		profile_free(p);
		return e;
	}
	*out = p;
	return 0;
}

int profile_delta(const struct profile *before, const struct profile *after,
		  struct profile **out)
{
	if (before->nsample_types != after->nsample_types)
		return -EINVAL;
	for (size_t i = 0; i < after->nsample_types; i++)
		if (strcmp(str_of(before, before->sample_types[i].type),
			   str_of(after, after->sample_types[i].type)) ||
		    strcmp(str_of(before, before->sample_types[i].unit),
			   str_of(after, after->sample_types[i].unit)))
			return -EINVAL;
	/* The sum first (samples of both merge by content), then a copy of
	 * it without the samples that cancelled out, as pprof's Merge drops
	 * them. */
	struct profile *sum = copy_header(after), *p = NULL;
	int e = -ENOMEM;
	if (!sum)
		return -ENOMEM;
	e = copy_samples(sum, before, -1, false, true);
	if (e == 0)
		e = copy_samples(sum, after, 1, false, true);
	if (e == 0 && !(p = copy_header(after)))
		e = -ENOMEM;
	if (e == 0)
		e = copy_samples(p, sum, 1, false, true);
	profile_free(sum);
	if (e < 0) {
		profile_free(p);
		return e;
	}
	p->time_nanos = after->time_nanos;
	p->duration_nanos = after->time_nanos - before->time_nanos;
	*out = p;
	return 0;
}

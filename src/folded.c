/*
 * folded.c - folded stacks (folded.h, docs/design.md §12).
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "escape.h"
#include "folded.h"

static const char *folded_basename(const char *path)
{
	const char *s = strrchr(path, '/');
	return s ? s + 1 : path;
}

int folded_sample_index(const struct profile *p, const char *want, size_t *index,
			char *err, size_t errlen)
{
	if (!p->nsample_types) {
		if (err)
			snprintf(err, errlen, "the profile has no sample types");
		return -EINVAL;
	}
	if (!want && p->default_sample_type)
		want = profile_str(p, p->default_sample_type);
	if (!want || !*want) {
		*index = p->nsample_types - 1;
		return 0;
	}
	for (size_t i = 0; i < p->nsample_types; i++) {
		const char *name = profile_str(p, p->sample_types[i].type);
		if (name && !strcmp(name, want)) {
			*index = i;
			return 0;
		}
	}
	if (err) {
		size_t n = (size_t)snprintf(err, errlen, "no sample type '%s'; it has ", want);
		for (size_t i = 0; i < p->nsample_types && n < errlen; i++) {
			const char *name = profile_str(p, p->sample_types[i].type);
			n += (size_t)snprintf(err + n, errlen - n, "%s%s", i ? ", " : "",
					      name ? name : "");
		}
	}
	return -EINVAL;
}

void folded_location_frames(const struct profile *p, const struct profile_location *l,
			    struct folded_frame *out, size_t max, size_t *n,
			    char *buf, size_t buflen)
{
	const struct profile_mapping *m = l->mapping_id ?
		profile_mapping_by_id(p, l->mapping_id) : NULL;
	bool named = l->nlines > 0;
	*n = 0;
	for (size_t j = 0; j < l->nlines; j++)
		if (!profile_function_by_id(p, l->lines[j].function_id))
			named = false;	/* a line without a function */
	if (!named) {
		/* pprof's functions granularity: every unsymbolized address
		 * of an object is one frame "[object]" (as src/report.c). */
		const char *file = m ? profile_str(p, m->filename) : NULL;
		if (file && *file)
			snprintf(buf, buflen, "[%s]", folded_basename(file));
		else
			snprintf(buf, buflen, "<unknown>");
		if (max)
			out[(*n)++] = (struct folded_frame){ .name = buf, .file = "",
							     .mapping = m };
		return;
	}
	/* lines are innermost first: the outermost is the location's own
	 * function, the others were inlined into it. */
	for (size_t j = l->nlines; j-- > 0 && *n < max;) {
		const struct profile_function *f =
			profile_function_by_id(p, l->lines[j].function_id);
		const char *name = profile_str(p, f->name);
		if (!name || !*name)
			name = profile_str(p, f->system_name);
		const char *file = profile_str(p, f->filename);
		out[(*n)++] = (struct folded_frame){
			.name = name && *name ? name : "<unknown>",
			.file = file ? file : "",
			.line = l->lines[j].line,
			.inlined = j + 1 < l->nlines,
			.mapping = m,
		};
	}
}

struct folded_line {
	char *stack;
	int64_t value;
};

/* A growing string. */
struct folded_buf {
	char *s;
	size_t len, cap;
};

static int folded_reserve(struct folded_buf *b, size_t more)
{
	if (b->len + more + 1 <= b->cap)
		return 0;
	size_t cap = b->cap ? b->cap : 256;
	while (cap < b->len + more + 1)
		cap *= 2;
	char *s = realloc(b->s, cap);
	if (!s)
		return -ENOMEM;
	b->s = s;
	b->cap = cap;
	return 0;
}

/* Appends name made safe: escape.h's escapes, then ';' as \x3b. */
static int folded_append_name(struct folded_buf *b, const char *name)
{
	size_t n = escape_str(NULL, 0, name);
	if (folded_reserve(b, n * 4 + 1))
		return -ENOMEM;
	char *tmp = b->s + b->len + n * 3 + 1;	/* the escaped text, at the end */
	escape_str(tmp, n + 1, name);
	for (size_t i = 0; i < n; i++) {
		if (tmp[i] == ';') {
			memcpy(b->s + b->len, "\\x3b", 4);
			b->len += 4;
		} else {
			b->s[b->len++] = tmp[i];
		}
	}
	b->s[b->len] = '\0';
	return 0;
}

static int folded_cmp(const void *a, const void *b)
{
	return strcmp(((const struct folded_line *)a)->stack,
		      ((const struct folded_line *)b)->stack);
}

static void folded_add(int64_t *a, int64_t b)
{
	if (__builtin_add_overflow(*a, b, a))
		*a = b < 0 ? INT64_MIN : INT64_MAX;
}

int folded_write(const struct profile *p, const char *sample_type, FILE *out,
		 char *err, size_t errlen)
{
	size_t t, nlines = 0, maxframes = 1;
	int ret = folded_sample_index(p, sample_type, &t, err, errlen);
	if (ret < 0)
		return ret;
	for (size_t i = 0; i < p->nlocations; i++)
		if (p->locations[i].nlines > maxframes)
			maxframes = p->locations[i].nlines;
	struct folded_line *lines = calloc(p->nsamples + 1, sizeof(*lines));
	struct folded_frame *frames = calloc(maxframes, sizeof(*frames));
	char *namebuf = malloc(4096);
	struct folded_buf b = { 0 };
	ret = -ENOMEM;
	if (!lines || !frames || !namebuf)
		goto out;
	for (size_t i = 0; i < p->nsamples; i++) {
		const struct profile_sample *s = &p->samples[i];
		if (s->values[t] == 0 || s->nlocations == 0)
			continue;
		b.len = 0;
		if (folded_reserve(&b, 0))
			goto out;
		b.s[0] = '\0';
		for (size_t k = s->nlocations; k-- > 0;) {
			const struct profile_location *l =
				profile_location_by_id(p, s->location_ids[k]);
			if (!l)
				continue;	/* the decoder rejects these */
			size_t n;
			folded_location_frames(p, l, frames, maxframes, &n, namebuf, 4096);
			for (size_t j = 0; j < n; j++) {
				if (b.len) {
					if (folded_reserve(&b, 1))
						goto out;
					b.s[b.len++] = ';';
				}
				if (folded_append_name(&b, frames[j].name))
					goto out;
			}
		}
		if (!b.len)
			continue;
		lines[nlines].stack = strndup(b.s, b.len);
		if (!lines[nlines].stack)
			goto out;
		lines[nlines++].value = s->values[t];
	}
	qsort(lines, nlines, sizeof(*lines), folded_cmp);
	for (size_t i = 0; i < nlines;) {
		int64_t v = lines[i].value;
		size_t j = i + 1;
		for (; j < nlines && !strcmp(lines[j].stack, lines[i].stack); j++)
			folded_add(&v, lines[j].value);
		if (v != 0)
			fprintf(out, "%s %lld\n", lines[i].stack, (long long)v);
		i = j;
	}
	ret = ferror(out) ? -EIO : 0;
out:
	if (lines)
		for (size_t i = 0; i < nlines; i++)
			free(lines[i].stack);
	free(lines);
	free(frames);
	free(namebuf);
	free(b.s);
	return ret;
}

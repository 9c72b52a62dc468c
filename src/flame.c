/*
 * flame.c - the HTML flame graph page and its JSON model (flame.h,
 * docs/design.md §9).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "escape.h"
#include "flame.h"
#include "folded.h"
#include "hash.h"

/* src/ui/ as embedded by cmake/embed.cmake (build/ui/flame_ui.c). */
extern const unsigned char flame_ui_html[], flame_ui_js[], flame_ui_css[];
extern const size_t flame_ui_html_len, flame_ui_js_len, flame_ui_css_len;

enum { FLAME_MAIN, FLAME_LIB, FLAME_KERNEL, FLAME_JIT, FLAME_UNKNOWN };

/* --- JSON strings -------------------------------------------------------- */

/* The UTF-8 sequence at p (NUL-terminated), as escape.c decides. */
static size_t flame_utf8(const unsigned char *p, uint32_t *cp)
{
	return escape_utf8(p, strnlen((const char *)p, 4), cp);
}

void flame_json_str(const char *s, FILE *out)
{
	const unsigned char *p = (const unsigned char *)(s ? s : "");
	putc('"', out);
	while (*p) {
		unsigned char c = *p;
		uint32_t cp;
		size_t n;
		if (c == '"' || c == '\\') {
			putc('\\', out);
			putc(c, out);
			p++;
		} else if (c < 0x20 || c == 0x7f || c == '<' || c == '>' || c == '&') {
			/* '<' and '>': no "</script>" or "<!--" in the page. */
			fprintf(out, "\\u%04x", c);
			p++;
		} else if (c < 0x80) {
			putc(c, out);
			p++;
		} else if ((n = flame_utf8(p, &cp)) == 0) {
			fputs("\\ufffd", out);	/* not UTF-8: one byte at a time */
			p++;
		} else if (cp <= 0x9f || cp == 0x2028 || cp == 0x2029) {
			/* C1 controls; the separators end a line in old JS. */
			fprintf(out, "\\u%04x", (unsigned)cp);
			p += n;
		} else {
			fwrite(p, 1, n, out);
			p += n;
		}
	}
	putc('"', out);
}

/* s for HTML text (the <title>): the five special characters as entities,
 * and the JSON escaping's idea of what is not text. */
static void flame_html_text(const char *s, FILE *out)
{
	const unsigned char *p = (const unsigned char *)s;
	while (*p) {
		uint32_t cp;
		size_t n;
		switch (*p) {
		case '<': fputs("&lt;", out); p++; continue;
		case '>': fputs("&gt;", out); p++; continue;
		case '&': fputs("&amp;", out); p++; continue;
		case '"': fputs("&quot;", out); p++; continue;
		case '\'': fputs("&#39;", out); p++; continue;
		}
		if (*p < 0x20 || *p == 0x7f) {
			putc(' ', out);
			p++;
		} else if (*p < 0x80) {
			putc(*p++, out);
		} else if ((n = flame_utf8(p, &cp)) == 0 || cp <= 0x9f) {
			fputs("\xef\xbf\xbd", out);
			p += n ? n : 1;
		} else {
			fwrite(p, 1, n, out);
			p += n;
		}
	}
}

/* --- the model ------------------------------------------------------------- */

/* Open addressing over indexes + 1 (0: empty), power-of-two capacity. */
struct flame_table {
	uint32_t *slots;
	size_t cap, n;
};

struct flame_frame {
	uint32_t name, file, module;
	int64_t line;
	int cls;
	bool inlined;
};

struct flame_sample {
	uint32_t stack;
	int32_t thread;		/* string index, -1: no thread_name */
	int64_t *values;
};

struct flame_model {
	const struct profile *p;
	char **strings;
	size_t nstrings, capstrings;
	struct flame_table strtab;
	struct flame_frame *frames;
	size_t nframes, capframes;
	struct flame_table frametab;
	uint32_t *sframes;		/* every stack's frames, root first */
	size_t nsframes, capsframes;
	size_t *soff;			/* stack i is sframes[soff[i]..soff[i+1]) */
	size_t nstacks, capstacks;
	struct flame_table stacktab;
	struct flame_sample *samples;
	size_t nsamples, capsamples;
	struct flame_table sampletab;
	int64_t *values;		/* nsamples * ntypes */
	size_t ntypes;
	uint32_t *locframes;		/* per location: its frames, outermost first */
	size_t *locoff;
};

static int flame_grow(void **arr, size_t *cap, size_t need, size_t size)
{
	if (need <= *cap)
		return 0;
	size_t c = *cap ? *cap : 64;
	while (c < need)
		c *= 2;
	void *a = realloc(*arr, c * size);
	if (!a)
		return -ENOMEM;
	*arr = a;
	*cap = c;
	return 0;
}

#define FLAME_GROW(arr, cap, need) \
	flame_grow((void **)&(arr), &(cap), (need), sizeof(*(arr)))

static uint64_t flame_hash_str(struct flame_model *m, uint32_t i)
{
	return hash_mix64(hash_fnv1a(m->strings[i], strlen(m->strings[i])));
}

static uint64_t flame_hash_frame(struct flame_model *m, uint32_t i)
{
	const struct flame_frame *f = &m->frames[i];
	return hash_mix64(((uint64_t)f->name << 33) ^ ((uint64_t)f->module << 1) ^ f->inlined);
}

static uint64_t flame_hash_stack(struct flame_model *m, uint32_t i)
{
	return hash_mix64(hash_fnv1a(m->sframes + m->soff[i],
				     (m->soff[i + 1] - m->soff[i]) * sizeof(uint32_t)));
}

static uint64_t flame_hash_sample(struct flame_model *m, uint32_t i)
{
	return hash_mix64(((uint64_t)m->samples[i].stack << 32) ^ (uint32_t)m->samples[i].thread);
}

/* Makes room for one more entry, rehashing with hash(). */
static int flame_table_reserve(struct flame_model *m, struct flame_table *t,
			       uint64_t (*hash)(struct flame_model *, uint32_t))
{
	if ((t->n + 1) * 2 <= t->cap)
		return 0;
	size_t cap = t->cap ? t->cap * 2 : 1024;
	uint32_t *slots = calloc(cap, sizeof(*slots));
	if (!slots)
		return -ENOMEM;
	for (size_t i = 0; i < t->cap; i++) {
		if (!t->slots[i])
			continue;
		size_t h = hash(m, t->slots[i] - 1) & (cap - 1);
		while (slots[h])
			h = (h + 1) & (cap - 1);
		slots[h] = t->slots[i];
	}
	free(t->slots);
	t->slots = slots;
	t->cap = cap;
	return 0;
}

/* The index of string s, added if new; -1 on ENOMEM. */
static int64_t flame_string(struct flame_model *m, const char *s)
{
	if (flame_table_reserve(m, &m->strtab, flame_hash_str))
		return -1;
	size_t h = hash_mix64(hash_fnv1a(s, strlen(s))) & (m->strtab.cap - 1);
	for (; m->strtab.slots[h]; h = (h + 1) & (m->strtab.cap - 1))
		if (!strcmp(m->strings[m->strtab.slots[h] - 1], s))
			return m->strtab.slots[h] - 1;
	if (FLAME_GROW(m->strings, m->capstrings, m->nstrings + 1))
		return -1;
	if (!(m->strings[m->nstrings] = strdup(s)))
		return -1;
	m->strtab.slots[h] = (uint32_t)++m->nstrings;
	m->strtab.n++;
	return (int64_t)m->nstrings - 1;
}

static int flame_class(const struct profile *p, const struct profile_mapping *mp,
		       const char *file)
{
	if (!mp || !file || !*file)
		return FLAME_UNKNOWN;
	const char *base = strrchr(file, '/');
	base = base ? base + 1 : file;
	if (!strncmp(file, "[kernel", 7) || !strcmp(file, "[vdso]") ||
	    !strcmp(file, "[vsyscall]"))
		return FLAME_KERNEL;
	if (!strcmp(file, "[jit]") || (!strncmp(base, "perf-", 5) && strstr(base, ".map")) ||
	    !strncmp(file, "[anon", 5) || !strncmp(file, "//anon", 6))
		return FLAME_JIT;
	const char *main = p->nmappings ? profile_str(p, p->mappings[0].filename) : NULL;
	if (mp == &p->mappings[0] || (main && !strcmp(main, file)))
		return FLAME_MAIN;
	return FLAME_LIB;
}

/* The frame index of f, added if new; -1 on ENOMEM. */
static int64_t flame_frame(struct flame_model *m, const struct folded_frame *f)
{
	const struct profile *p = m->p;
	const char *mfile = f->mapping ? profile_str(p, f->mapping->filename) : NULL;
	int64_t name = flame_string(m, f->name);
	int64_t module = flame_string(m, mfile ? mfile : "");
	int64_t file = flame_string(m, f->file);
	if (name < 0 || module < 0 || file < 0)
		return -1;
	if (FLAME_GROW(m->frames, m->capframes, m->nframes + 1) ||
	    flame_table_reserve(m, &m->frametab, flame_hash_frame))
		return -1;
	struct flame_frame *nf = &m->frames[m->nframes];
	*nf = (struct flame_frame){
		.name = (uint32_t)name, .file = (uint32_t)file, .module = (uint32_t)module,
		.line = f->line, .inlined = f->inlined,
		.cls = flame_class(p, f->mapping, mfile),
	};
	size_t h = flame_hash_frame(m, (uint32_t)m->nframes) & (m->frametab.cap - 1);
	for (; m->frametab.slots[h]; h = (h + 1) & (m->frametab.cap - 1)) {
		const struct flame_frame *o = &m->frames[m->frametab.slots[h] - 1];
		if (o->name == nf->name && o->module == nf->module && o->inlined == nf->inlined)
			return m->frametab.slots[h] - 1;
	}
	m->frametab.slots[h] = (uint32_t)++m->nframes;
	m->frametab.n++;
	return (int64_t)m->nframes - 1;
}

/* Every location's frames, once. */
static int flame_locations(struct flame_model *m)
{
	const struct profile *p = m->p;
	size_t cap = 0, n = 0, maxf = 1;
	for (size_t i = 0; i < p->nlocations; i++)
		if (p->locations[i].nlines > maxf)
			maxf = p->locations[i].nlines;
	struct folded_frame *ff = calloc(maxf, sizeof(*ff));
	char *buf = malloc(4096);
	m->locoff = calloc(p->nlocations + 1, sizeof(*m->locoff));
	int ret = -ENOMEM;
	if (!ff || !buf || !m->locoff)
		goto out;
	for (size_t i = 0; i < p->nlocations; i++) {
		size_t k;
		folded_location_frames(p, &p->locations[i], ff, maxf, &k, buf, 4096);
		m->locoff[i] = n;
		if (FLAME_GROW(m->locframes, cap, n + k))
			goto out;
		for (size_t j = 0; j < k; j++) {
			int64_t fi = flame_frame(m, &ff[j]);
			if (fi < 0)
				goto out;
			m->locframes[n++] = (uint32_t)fi;
		}
	}
	m->locoff[p->nlocations] = n;
	ret = 0;
out:
	free(ff);
	free(buf);
	return ret;
}

/* The thread_name label of s: its string index in the model, -1 when none,
 * -2 on ENOMEM. */
static int64_t flame_thread(struct flame_model *m, const struct profile_sample *s)
{
	for (size_t i = 0; i < s->nlabels; i++) {
		const char *key = profile_str(m->p, s->labels[i].key);
		const char *val = profile_str(m->p, s->labels[i].str);
		if (key && !strcmp(key, "thread_name") && val && s->labels[i].str) {
			int64_t r = flame_string(m, val);
			return r < 0 ? -2 : r;
		}
	}
	return -1;
}

static void flame_add(int64_t *a, int64_t b)
{
	if (__builtin_add_overflow(*a, b, a))
		*a = b < 0 ? INT64_MIN : INT64_MAX;
}

/* One sample of the profile into the model: its stack interned, its values
 * added to the (stack, thread) sample. */
static int flame_sample(struct flame_model *m, const struct profile_sample *s)
{
	const struct profile *p = m->p;
	size_t start = m->nsframes;
	for (size_t k = s->nlocations; k-- > 0;) {
		const struct profile_location *l = profile_location_by_id(p, s->location_ids[k]);
		if (!l)
			continue;
		size_t li = (size_t)(l - p->locations);
		size_t n = m->locoff[li + 1] - m->locoff[li];
		if (FLAME_GROW(m->sframes, m->capsframes, m->nsframes + n))
			return -ENOMEM;
		memcpy(m->sframes + m->nsframes, m->locframes + m->locoff[li], n * sizeof(uint32_t));
		m->nsframes += n;
	}
	if (m->nsframes == start)
		return 0;	/* no frames: nothing to draw */
	/* The candidate is stack nstacks; kept only if new. */
	if (FLAME_GROW(m->soff, m->capstacks, m->nstacks + 2) ||
	    flame_table_reserve(m, &m->stacktab, flame_hash_stack))
		return -ENOMEM;
	m->soff[m->nstacks] = start;
	m->soff[m->nstacks + 1] = m->nsframes;
	size_t len = m->nsframes - start;
	uint32_t stack = (uint32_t)m->nstacks;
	size_t h = flame_hash_stack(m, stack) & (m->stacktab.cap - 1);
	for (; m->stacktab.slots[h]; h = (h + 1) & (m->stacktab.cap - 1)) {
		uint32_t o = m->stacktab.slots[h] - 1;
		if (m->soff[o + 1] - m->soff[o] == len &&
		    !memcmp(m->sframes + m->soff[o], m->sframes + start, len * sizeof(uint32_t))) {
			stack = o;
			break;
		}
	}
	if (stack == m->nstacks) {
		m->stacktab.slots[h] = stack + 1;
		m->stacktab.n++;
		m->nstacks++;
	} else {
		m->nsframes = start;	/* known: drop the copy */
	}

	int64_t thread = flame_thread(m, s);
	if (thread == -2)
		return -ENOMEM;
	if (FLAME_GROW(m->samples, m->capsamples, m->nsamples + 1) ||
	    flame_table_reserve(m, &m->sampletab, flame_hash_sample))
		return -ENOMEM;
	m->samples[m->nsamples] = (struct flame_sample){ stack, (int32_t)thread, NULL };
	h = flame_hash_sample(m, (uint32_t)m->nsamples) & (m->sampletab.cap - 1);
	uint32_t si = (uint32_t)m->nsamples;
	for (; m->sampletab.slots[h]; h = (h + 1) & (m->sampletab.cap - 1)) {
		uint32_t o = m->sampletab.slots[h] - 1;
		if (m->samples[o].stack == stack && m->samples[o].thread == thread) {
			si = o;
			break;
		}
	}
	if (si == m->nsamples) {
		size_t cap = m->capsamples;	/* values grow with samples */
		int64_t *v = realloc(m->values, cap * m->ntypes * sizeof(int64_t) + 1);
		if (!v)
			return -ENOMEM;
		m->values = v;
		memset(m->values + si * m->ntypes, 0, m->ntypes * sizeof(int64_t));
		m->sampletab.slots[h] = si + 1;
		m->sampletab.n++;
		m->nsamples++;
	}
	for (size_t t = 0; t < m->ntypes; t++)
		flame_add(&m->values[si * m->ntypes + t], s->values[t]);
	return 0;
}

static void flame_model_free(struct flame_model *m)
{
	for (size_t i = 0; i < m->nstrings; i++)
		free(m->strings[i]);
	free(m->strings);
	free(m->strtab.slots);
	free(m->frames);
	free(m->frametab.slots);
	free(m->sframes);
	free(m->soff);
	free(m->stacktab.slots);
	free(m->samples);
	free(m->sampletab.slots);
	free(m->values);
	free(m->locframes);
	free(m->locoff);
}

static int flame_cmp_str(const void *a, const void *b, void *arg)
{
	char **s = arg;
	return strcmp(s[*(const uint32_t *)a], s[*(const uint32_t *)b]);
}

static int flame_model_write(struct flame_model *m, const struct flame_opts *o,
			     size_t type, FILE *out)
{
	const struct profile *p = m->p;
	fputs("{\"v\":1,\"title\":", out);
	flame_json_str(o && o->title ? o->title : "cprof", out);
	fprintf(out, ",\"duration_ns\":%lld,\"types\":[", (long long)p->duration_nanos);
	for (size_t t = 0; t < p->nsample_types; t++) {
		fputs(t ? ",[" : "[", out);
		flame_json_str(profile_str(p, p->sample_types[t].type), out);
		putc(',', out);
		flame_json_str(profile_str(p, p->sample_types[t].unit), out);
		putc(']', out);
	}
	fprintf(out, "],\"type\":%zu,\n\"strings\":[", type);
	for (size_t i = 0; i < m->nstrings; i++) {
		if (i)
			putc(',', out);
		flame_json_str(m->strings[i], out);
	}
	fputs("],\n\"frames\":[", out);
	for (size_t i = 0; i < m->nframes; i++) {
		const struct flame_frame *f = &m->frames[i];
		fprintf(out, "%s[%u,%u,%lld,%u,%d,%d]", i ? "," : "", f->name, f->file,
			(long long)f->line, f->module, f->cls, f->inlined);
	}
	fputs("],\n\"stacks\":[", out);
	for (size_t i = 0; i < m->nstacks; i++) {
		fputs(i ? ",[" : "[", out);
		for (size_t j = m->soff[i]; j < m->soff[i + 1]; j++)
			fprintf(out, "%s%u", j > m->soff[i] ? "," : "", m->sframes[j]);
		putc(']', out);
	}
	/* The thread names, sorted, for the selector. */
	uint32_t *th = calloc(m->nstrings + 1, sizeof(*th));
	bool *seen = calloc(m->nstrings + 1, sizeof(*seen));
	size_t nth = 0;
	if (!th || !seen) {
		free(th);
		free(seen);
		return -ENOMEM;
	}
	for (size_t i = 0; i < m->nsamples; i++) {
		int32_t t = m->samples[i].thread;
		if (t >= 0 && !seen[t]) {
			seen[t] = true;
			th[nth++] = (uint32_t)t;
		}
	}
	qsort_r(th, nth, sizeof(*th), flame_cmp_str, m->strings);
	fputs("],\n\"threads\":[", out);
	for (size_t i = 0; i < nth; i++)
		fprintf(out, "%s%u", i ? "," : "", th[i]);
	free(th);
	free(seen);
	fputs("],\n\"samples\":[", out);
	for (size_t i = 0; i < m->nsamples; i++) {
		fprintf(out, "%s[%u,%d", i ? "," : "", m->samples[i].stack, m->samples[i].thread);
		for (size_t t = 0; t < m->ntypes; t++)
			fprintf(out, ",%lld", (long long)m->values[i * m->ntypes + t]);
		putc(']', out);
	}
	fputs("]}", out);
	return 0;
}

/* Builds the model of p and writes it; the sample type checked first. */
static int flame_json(const struct profile *p, const struct flame_opts *o, FILE *out,
		      char *err, size_t errlen)
{
	size_t type;
	int ret = folded_sample_index(p, o ? o->sample_type : NULL, &type, err, errlen);
	if (ret < 0)
		return ret;
	struct flame_model m = { .p = p, .ntypes = p->nsample_types };
	ret = -ENOMEM;
	if (flame_string(&m, "") != 0)	/* index 0 is "", as in pprof */
		goto out;
	if ((ret = flame_locations(&m)) < 0)
		goto out;
	for (size_t i = 0; i < p->nsamples; i++)
		if ((ret = flame_sample(&m, &p->samples[i])) < 0)
			goto out;
	ret = flame_model_write(&m, o, type, out);
out:
	flame_model_free(&m);
	if (ret == -ENOMEM && err)
		snprintf(err, errlen, "out of memory");
	return ret;
}

int flame_json_write(const struct profile *p, const struct flame_opts *o, FILE *out,
		     char *err, size_t errlen)
{
	int ret = flame_json(p, o, out, err, errlen);
	if (ret == 0 && ferror(out))
		ret = -EIO;
	return ret;
}

int flame_html_write(const struct profile *p, const struct flame_opts *o, FILE *out,
		     char *err, size_t errlen)
{
	static const char mark[] = "@@CPROF_";
	const char *t = (const char *)flame_ui_html, *end = t + flame_ui_html_len;
	size_t type;
	/* Checked before anything is written. */
	int ret = folded_sample_index(p, o ? o->sample_type : NULL, &type, err, errlen);
	if (ret < 0)
		return ret;
	while (t < end) {
		const char *at = memmem(t, (size_t)(end - t), mark, sizeof(mark) - 1);
		if (!at) {
			fwrite(t, 1, (size_t)(end - t), out);
			break;
		}
		fwrite(t, 1, (size_t)(at - t), out);
		const char *name = at + sizeof(mark) - 1;
		const char *close = memmem(name, (size_t)(end - name), "@@", 2);
		if (!close)
			close = end;
		size_t n = (size_t)(close - name);
		if (n == 5 && !memcmp(name, "TITLE", 5))
			flame_html_text(o && o->title ? o->title : "cprof", out);
		else if (n == 3 && !memcmp(name, "CSS", 3))
			fwrite(flame_ui_css, 1, flame_ui_css_len, out);
		else if (n == 2 && !memcmp(name, "JS", 2))
			fwrite(flame_ui_js, 1, flame_ui_js_len, out);
		else if (n == 4 && !memcmp(name, "DATA", 4)) {
			if ((ret = flame_json(p, o, out, err, errlen)) < 0)
				return ret;
		}
		t = close + 2;
	}
	return ferror(out) ? -EIO : 0;
}

/*
 * topview.c - the sliding window of `cprof top` (topview.h).
 *
 * Seconds are kept in a ring of buckets: the one being filled and the
 * closed ones the window and the trend look back over. A bucket holds,
 * per (function, thread) pair seen in it, the self and total weight, and
 * per thread its samples and weight: a thread filter sums the cells of one
 * thread, the whole view those of all. Memory is bounded by the pairs
 * seen in a few seconds, whatever the run's length; only the table of
 * function names grows with the distinct functions ever seen.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "topview.h"
#include "hash.h"

struct tv_func {
	char *name;		/* name, NUL, module basename, NUL */
	const char *module;	/* into name */
	uint64_t hash;
	uint64_t stamp;		/* last sample that counted its total */
	/* Scratch for topview_rows. */
	uint64_t self_ns, total_ns;
	long row;
};

struct tv_thread {
	pid_t tid;
	char *name;
};

struct tv_cell {
	uint32_t func, thread;
	uint64_t self_ns, total_ns;
};

struct tv_bucket {
	struct tv_cell *cells;
	size_t ncells, cap_cells;
	uint32_t *slots;	/* cell index + 1; 0 empty */
	size_t nslots;		/* power of two */
	/* Per thread index (nthreads of them, grown on demand). */
	uint64_t *thread_n, *thread_ns, *thread_off_ns;
	size_t nthreads;
};

struct topview {
	unsigned window, history;
	struct tv_bucket *ring;
	size_t nring;
	size_t cur;		/* the bucket being filled */
	unsigned closed;	/* closed buckets, up to nring - 1 */

	struct tv_func *funcs;
	size_t nfuncs, cap_funcs;
	uint32_t *fslots;	/* func index + 1 */
	size_t nfslots;

	struct tv_thread *threads;
	size_t nthreads, cap_threads;

	uint64_t stamp;
	uint32_t *sample_funcs;	/* one sample's distinct functions */
	size_t cap_sample_funcs;
};

#define GROW(arr, cap, need) grow((void **)&(arr), &(cap), (need), sizeof(*(arr)))

static int grow(void **arr, size_t *cap, size_t need, size_t elsize)
{
	if (need <= *cap)
		return 0;
	size_t c = *cap ? *cap : 16;
	while (c < need)
		c *= 2;
	void *p = realloc(*arr, c * elsize);
	if (!p)
		return -ENOMEM;
	memset((char *)p + *cap * elsize, 0, (c - *cap) * elsize);
	*arr = p;
	*cap = c;
	return 0;
}

struct topview *topview_new(unsigned window, unsigned history)
{
	if (window < 1 || history < 1 || history > TOPVIEW_MAX_HISTORY)
		return NULL;
	struct topview *tv = calloc(1, sizeof(*tv));
	if (!tv)
		return NULL;
	tv->window = window;
	tv->history = history;
	tv->nring = (window > history ? window : history) + 1;
	tv->ring = calloc(tv->nring, sizeof(*tv->ring));
	if (!tv->ring) {
		free(tv);
		return NULL;
	}
	return tv;
}

static void bucket_release(struct tv_bucket *b)
{
	free(b->cells);
	free(b->slots);
	free(b->thread_n);
	free(b->thread_ns);
	free(b->thread_off_ns);
	memset(b, 0, sizeof(*b));
}

void topview_free(struct topview *tv)
{
	if (!tv)
		return;
	for (size_t i = 0; i < tv->nring; i++)
		bucket_release(&tv->ring[i]);
	free(tv->ring);
	for (size_t i = 0; i < tv->nfuncs; i++)
		free(tv->funcs[i].name);
	free(tv->funcs);
	free(tv->fslots);
	for (size_t i = 0; i < tv->nthreads; i++)
		free(tv->threads[i].name);
	free(tv->threads);
	free(tv->sample_funcs);
	free(tv);
}

/* --- functions and threads ------------------------------------------------ */

static const char *basename_of(const char *path)
{
	const char *s = path ? strrchr(path, '/') : NULL;

	return s ? s + 1 : path ? path : "";
}

static int fslots_rehash(struct topview *tv, size_t nslots)
{
	uint32_t *s = calloc(nslots, sizeof(*s));

	if (!s)
		return -ENOMEM;
	for (size_t i = 0; i < tv->nfuncs; i++) {
		size_t j = hash_mix64(tv->funcs[i].hash) & (nslots - 1);
		while (s[j])
			j = (j + 1) & (nslots - 1);
		s[j] = (uint32_t)i + 1;
	}
	free(tv->fslots);
	tv->fslots = s;
	tv->nfslots = nslots;
	return 0;
}

/* The index of function (name, module), added when new; -ENOMEM. */
static long func_intern(struct topview *tv, const char *name, const char *module)
{
	size_t ln = strlen(name), lm = strlen(module);
	uint64_t h = hash_fnv1a(name, ln + 1) ^ hash_mix64(hash_fnv1a(module, lm));

	if (tv->nfslots) {
		for (size_t j = hash_mix64(h) & (tv->nfslots - 1); tv->fslots[j];
		     j = (j + 1) & (tv->nfslots - 1)) {
			struct tv_func *f = &tv->funcs[tv->fslots[j] - 1];
			if (f->hash == h && !strcmp(f->name, name) && !strcmp(f->module, module))
				return (long)(tv->fslots[j] - 1);
		}
	}
	if ((tv->nfuncs + 1) * 2 > tv->nfslots &&
	    fslots_rehash(tv, tv->nfslots ? tv->nfslots * 2 : 256) < 0)
		return -ENOMEM;
	if (GROW(tv->funcs, tv->cap_funcs, tv->nfuncs + 1) < 0)
		return -ENOMEM;
	char *s = malloc(ln + lm + 2);
	if (!s)
		return -ENOMEM;
	memcpy(s, name, ln + 1);
	memcpy(s + ln + 1, module, lm + 1);
	size_t i = tv->nfuncs++;
	tv->funcs[i] = (struct tv_func){ .name = s, .module = s + ln + 1, .hash = h };
	size_t j = hash_mix64(h) & (tv->nfslots - 1);
	while (tv->fslots[j])
		j = (j + 1) & (tv->nfslots - 1);
	tv->fslots[j] = (uint32_t)i + 1;
	return (long)i;
}

/* The index of thread tid, its name updated; -ENOMEM. Threads are few:
 * a linear search from the most recent. */
static long thread_intern(struct topview *tv, pid_t tid, const char *name)
{
	long i;

	for (i = (long)tv->nthreads - 1; i >= 0; i--)
		if (tv->threads[i].tid == tid)
			break;
	if (i < 0) {
		if (GROW(tv->threads, tv->cap_threads, tv->nthreads + 1) < 0)
			return -ENOMEM;
		i = (long)tv->nthreads++;
		tv->threads[i].tid = tid;
	}
	struct tv_thread *t = &tv->threads[i];
	if (!name)
		name = "";
	if (!t->name || strcmp(t->name, name)) {
		char *s = strdup(name);
		if (!s)
			return -ENOMEM;
		free(t->name);
		t->name = s;
	}
	return i;
}

size_t topview_nthreads(const struct topview *tv)
{
	return tv->nthreads;
}

bool topview_thread(const struct topview *tv, size_t i, pid_t *tid, const char **name)
{
	if (i >= tv->nthreads)
		return false;
	if (tid)
		*tid = tv->threads[i].tid;
	if (name)
		*name = tv->threads[i].name;
	return true;
}

/* --- buckets ---------------------------------------------------------------- */

static int bucket_rehash(struct tv_bucket *b, size_t nslots)
{
	uint32_t *s = calloc(nslots, sizeof(*s));

	if (!s)
		return -ENOMEM;
	for (size_t i = 0; i < b->ncells; i++) {
		uint64_t h = hash_mix64(((uint64_t)b->cells[i].func << 32) | b->cells[i].thread);
		size_t j = h & (nslots - 1);
		while (s[j])
			j = (j + 1) & (nslots - 1);
		s[j] = (uint32_t)i + 1;
	}
	free(b->slots);
	b->slots = s;
	b->nslots = nslots;
	return 0;
}

static struct tv_cell *bucket_cell(struct tv_bucket *b, uint32_t func, uint32_t thread)
{
	uint64_t h = hash_mix64(((uint64_t)func << 32) | thread);

	if (b->nslots) {
		for (size_t j = h & (b->nslots - 1); b->slots[j]; j = (j + 1) & (b->nslots - 1)) {
			struct tv_cell *c = &b->cells[b->slots[j] - 1];
			if (c->func == func && c->thread == thread)
				return c;
		}
	}
	if ((b->ncells + 1) * 2 > b->nslots &&
	    bucket_rehash(b, b->nslots ? b->nslots * 2 : 64) < 0)
		return NULL;
	if (GROW(b->cells, b->cap_cells, b->ncells + 1) < 0)
		return NULL;
	size_t i = b->ncells++;
	b->cells[i] = (struct tv_cell){ .func = func, .thread = thread };
	size_t j = h & (b->nslots - 1);
	while (b->slots[j])
		j = (j + 1) & (b->nslots - 1);
	b->slots[j] = (uint32_t)i + 1;
	return &b->cells[i];
}

static int bucket_threads(struct tv_bucket *b, size_t n)
{
	if (n <= b->nthreads)
		return 0;
	size_t cap = b->nthreads, c2 = b->nthreads, c3 = b->nthreads;
	if (GROW(b->thread_n, cap, n) < 0 || GROW(b->thread_ns, c2, n) < 0 ||
	    GROW(b->thread_off_ns, c3, n) < 0)
		return -ENOMEM;
	/* All three grew to the same capacity. */
	b->nthreads = cap;
	return 0;
}

/* Empties a bucket for reuse, keeping its memory. */
static void bucket_clear(struct tv_bucket *b)
{
	b->ncells = 0;
	if (b->slots)
		memset(b->slots, 0, b->nslots * sizeof(*b->slots));
	if (b->nthreads) {
		memset(b->thread_n, 0, b->nthreads * sizeof(*b->thread_n));
		memset(b->thread_ns, 0, b->nthreads * sizeof(*b->thread_ns));
		memset(b->thread_off_ns, 0, b->nthreads * sizeof(*b->thread_off_ns));
	}
}

int topview_advance(struct topview *tv)
{
	tv->cur = (tv->cur + 1) % tv->nring;
	bucket_clear(&tv->ring[tv->cur]);
	if (tv->closed + 1 < tv->nring)
		tv->closed++;
	return 0;
}

/* The bucket closed k seconds ago (0: the newest closed one). */
static struct tv_bucket *closed_bucket(struct topview *tv, unsigned k)
{
	return &tv->ring[(tv->cur + tv->nring - 1 - k) % tv->nring];
}

/* --- samples ---------------------------------------------------------------- */

static long frame_func(struct topview *tv, const struct record_frame *f)
{
	const char *module = basename_of(f->module);
	char buf[256];

	if (f->function)
		return func_intern(tv, f->function, module);
	/* Unnamed code: one row per module, as perf's [unknown]. */
	if (*module)
		snprintf(buf, sizeof(buf), "[%s]", module);
	else
		snprintf(buf, sizeof(buf), "[unknown]");
	return func_intern(tv, buf, module);
}

int topview_add(struct topview *tv, const struct record_sample *s)
{
	struct tv_bucket *b = &tv->ring[tv->cur];
	long t = thread_intern(tv, s->tid, s->thread_name);

	if (t < 0 || bucket_threads(b, tv->nthreads) < 0)
		return -ENOMEM;
	b->thread_n[t]++;
	b->thread_ns[t] += s->weight_ns;
	if (s->off_cpu)
		b->thread_off_ns[t] += s->weight_ns;
	if (!s->nframes) {
		struct record_frame none = { 0 };
		long f = frame_func(tv, &none);
		struct tv_cell *c = f < 0 ? NULL : bucket_cell(b, (uint32_t)f, (uint32_t)t);

		if (!c)
			return -ENOMEM;
		c->self_ns += s->weight_ns;
		c->total_ns += s->weight_ns;
		return 0;
	}
	tv->stamp++;
	for (size_t i = 0; i < s->nframes; i++) {
		long f = frame_func(tv, &s->frames[i]);
		if (f < 0)
			return -ENOMEM;
		struct tv_func *fn = &tv->funcs[f];
		bool leaf = i == 0;
		if (fn->stamp == tv->stamp && !leaf)
			continue;	/* recursion: once in the total */
		struct tv_cell *c = bucket_cell(b, (uint32_t)f, (uint32_t)t);
		if (!c)
			return -ENOMEM;
		if (leaf)
			c->self_ns += s->weight_ns;
		if (fn->stamp != tv->stamp)
			c->total_ns += s->weight_ns;
		fn->stamp = tv->stamp;
	}
	return 0;
}

/* --- reading ---------------------------------------------------------------- */

struct sort_ctx {
	const struct topview *tv;
	enum topview_sort sort;
};

static int cmp_funcs(const void *a, const void *b, void *arg)
{
	const struct sort_ctx sort_ctx = *(const struct sort_ctx *)arg;
	const struct tv_func *fa = &sort_ctx.tv->funcs[*(const uint32_t *)a];
	const struct tv_func *fb = &sort_ctx.tv->funcs[*(const uint32_t *)b];
	uint64_t ka = sort_ctx.sort == TOPVIEW_SORT_SELF ? fa->self_ns : fa->total_ns;
	uint64_t kb = sort_ctx.sort == TOPVIEW_SORT_SELF ? fb->self_ns : fb->total_ns;
	/* Ties: the other measure, then the name, so rows do not jump. */
	uint64_t ta = sort_ctx.sort == TOPVIEW_SORT_SELF ? fa->total_ns : fa->self_ns;
	uint64_t tb = sort_ctx.sort == TOPVIEW_SORT_SELF ? fb->total_ns : fb->self_ns;

	if (ka != kb)
		return ka > kb ? -1 : 1;
	if (ta != tb)
		return ta > tb ? -1 : 1;
	int c = strcmp(fa->name, fb->name);
	return c ? c : strcmp(fa->module, fb->module);
}

static bool cell_shown(const struct tv_cell *c, long thread)
{
	return thread < 0 || c->thread == (uint32_t)thread;
}

int topview_rows(struct topview *tv, enum topview_sort sort, long thread,
		 struct topview_row *rows, size_t max, size_t *n,
		 struct topview_summary *sum)
{
	unsigned window = tv->closed < tv->window ? tv->closed : tv->window;
	uint32_t *order = NULL;
	size_t norder = 0;

	*n = 0;
	memset(sum, 0, sizeof(*sum));
	sum->seconds = window;
	for (size_t i = 0; i < tv->nfuncs; i++) {
		tv->funcs[i].self_ns = tv->funcs[i].total_ns = 0;
		tv->funcs[i].row = -1;
	}
	for (unsigned k = 0; k < window; k++) {
		struct tv_bucket *b = closed_bucket(tv, k);

		for (size_t t = 0; t < b->nthreads; t++) {
			if (thread >= 0 && (long)t != thread)
				continue;
			sum->samples += b->thread_n[t];
			sum->weight_ns += b->thread_ns[t];
			sum->off_cpu_ns += b->thread_off_ns[t];
		}
		for (size_t i = 0; i < b->ncells; i++) {
			const struct tv_cell *c = &b->cells[i];
			if (!cell_shown(c, thread))
				continue;
			tv->funcs[c->func].self_ns += c->self_ns;
			tv->funcs[c->func].total_ns += c->total_ns;
		}
	}
	order = malloc((tv->nfuncs ? tv->nfuncs : 1) * sizeof(*order));
	if (!order)
		return -ENOMEM;
	for (size_t i = 0; i < tv->nfuncs; i++)
		if (tv->funcs[i].total_ns || tv->funcs[i].self_ns)
			order[norder++] = (uint32_t)i;
	sum->functions = norder;
	struct sort_ctx ctx = { .tv = tv, .sort = sort };
	qsort_r(order, norder, sizeof(*order), cmp_funcs, &ctx);
	if (norder > max)
		norder = max;
	double denom = sum->weight_ns ? (double)sum->weight_ns : 1.0;
	for (size_t r = 0; r < norder; r++) {
		struct tv_func *f = &tv->funcs[order[r]];
		struct topview_row *row = &rows[r];

		f->row = (long)r;
		memset(row, 0, sizeof(*row));
		row->function = f->name;
		row->module = f->module;
		row->self_ns = f->self_ns;
		row->total_ns = f->total_ns;
		row->self = (double)f->self_ns / denom;
		row->total = (double)f->total_ns / denom;
		row->ntrend = tv->closed < tv->history ? tv->closed : tv->history;
	}
	/* The trend: each row's self share in each second, oldest first. */
	for (size_t r = 0; r < norder; r++) {
		size_t nt = rows[r].ntrend;
		for (size_t k = 0; k < nt; k++)
			rows[r].trend[k] = -1;
	}
	unsigned nt = tv->closed < tv->history ? tv->closed : tv->history;
	for (unsigned k = 0; k < nt; k++) {
		struct tv_bucket *b = closed_bucket(tv, k);
		uint64_t w = 0;
		size_t slot = nt - 1 - k;

		for (size_t t = 0; t < b->nthreads; t++)
			if (thread < 0 || (long)t == thread)
				w += b->thread_ns[t];
		if (!w)
			continue;
		for (size_t r = 0; r < norder; r++)
			rows[r].trend[slot] = 0;
		for (size_t i = 0; i < b->ncells; i++) {
			const struct tv_cell *c = &b->cells[i];
			long r = tv->funcs[c->func].row;
			if (r >= 0 && cell_shown(c, thread))
				rows[r].trend[slot] += (double)c->self_ns / (double)w;
		}
	}
	free(order);
	*n = norder;
	return 0;
}

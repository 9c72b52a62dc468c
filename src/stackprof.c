/*
 * stackprof.c - symbolizer results onto pprof mappings, functions and
 * locations: one Location per address, its Lines innermost first (pprof's
 * convention for inlined calls, profile.proto Location.line).
 */
#include <errno.h>
#include <stdlib.h>

#include "stackprof.h"
#include "hash.h"

struct stackprof_slot {
	uint64_t pc;
	bool used, is_activation;
	uint64_t location_id;
};

struct stackprof {
	struct symbolizer *sym;
	struct profile *p;

	uint64_t *mapping_ids;		/* by module index */
	size_t nmapped, capmapped;

	struct stackprof_slot *slots;	/* open addressing, power of 2 */
	size_t nslots, nused;

	uint64_t *stack;		/* location ids of the current sample */
	size_t capstack;
};

struct stackprof *stackprof_new(struct symbolizer *sym, struct profile *p)
{
	struct stackprof *sp = calloc(1, sizeof(*sp));

	if (!sp)
		return NULL;
	sp->sym = sym;
	sp->p = p;
	return sp;
}

static uint64_t stackprof_hash(uint64_t pc, bool act)
{
	return hash_mix64(pc ^ (act ? 0x9e3779b97f4a7c15ULL : 0));
}

/* The mapping id of module index idx, adding the mappings of every module
 * up to it in index order, so that ids follow the symbolizer's order and
 * mapping 1 is the main binary when the profile had none before. */
static uint64_t stackprof_mapping(struct stackprof *sp, unsigned idx)
{
	const struct sym_module *const *mods;
	size_t nmods = symbolizer_modules(sp->sym, &mods);

	if (idx >= nmods)
		return 0;
	if (idx >= sp->capmapped) {
		size_t cap = sp->capmapped ? sp->capmapped : 16;
		uint64_t *v;

		while (cap <= idx)
			cap *= 2;
		v = realloc(sp->mapping_ids, cap * sizeof(*v));
		if (!v)
			return 0;
		sp->mapping_ids = v;
		sp->capmapped = cap;
	}
	while (sp->nmapped <= idx) {
		const struct sym_module *m = mods[sp->nmapped];
		uint64_t id = profile_add_mapping(sp->p, m->start, m->end,
						  m->offset, m->path,
						  m->build_id);

		if (!id)
			return 0;
		sp->mapping_ids[sp->nmapped++] = id;
	}
	return sp->mapping_ids[idx];
}

/* *cacheable is cleared for an address no module covers: a later
 * symbolizer_refresh() (dlopen, exec) may map it, and the symbolizer then
 * looks it up again; a cached location would keep it unmapped for good.
 * The same for JIT code: its name may come, or change, with the perf map
 * (the profile interns each (address, name) once all the same). */
static uint64_t stackprof_make_location(struct stackprof *sp, uint64_t pc,
					bool is_activation, bool *cacheable)
{
	const struct sym_frame *f;
	struct profile_line *lines = NULL;
	uint64_t mapping_id = 0, id;

	f = symbolizer_lookup(sp->sym, pc, !is_activation);
	if (!f)
		return 0;
	*cacheable = f->module != NULL && !f->module->is_jit;
	if (f->module) {
		mapping_id = stackprof_mapping(sp, f->module->index);
		if (!mapping_id)
			return 0;
	}
	if (f->nlines) {
		lines = calloc(f->nlines, sizeof(*lines));
		if (!lines)
			return 0;
	}
	for (size_t i = 0; i < f->nlines; i++) {
		const struct sym_line *l = &f->lines[i];

		lines[i].function_id = profile_function(sp->p, l->function,
							l->system_name,
							l->file, 0);
		lines[i].line = l->line;
		if (!lines[i].function_id) {
			free(lines);
			return 0;
		}
	}
	id = profile_location(sp->p, mapping_id, pc, lines, f->nlines);
	free(lines);
	return id;
}

static int stackprof_grow(struct stackprof *sp)
{
	size_t n = sp->nslots ? sp->nslots * 2 : 1024;
	struct stackprof_slot *t = calloc(n, sizeof(*t));

	if (!t)
		return -ENOMEM;
	for (size_t i = 0; i < sp->nslots; i++) {
		struct stackprof_slot *o = &sp->slots[i];
		size_t j;

		if (!o->used)
			continue;
		j = stackprof_hash(o->pc, o->is_activation) & (n - 1);
		while (t[j].used)
			j = (j + 1) & (n - 1);
		t[j] = *o;
	}
	free(sp->slots);
	sp->slots = t;
	sp->nslots = n;
	return 0;
}

uint64_t stackprof_location(struct stackprof *sp, uint64_t pc,
			    bool is_activation)
{
	size_t i, mask;
	uint64_t id;

	if ((sp->nused + 1) * 2 > sp->nslots && stackprof_grow(sp))
		return 0;
	mask = sp->nslots - 1;
	i = stackprof_hash(pc, is_activation) & mask;
	while (sp->slots[i].used) {
		if (sp->slots[i].pc == pc &&
		    sp->slots[i].is_activation == is_activation)
			return sp->slots[i].location_id;
		i = (i + 1) & mask;
	}
	bool cacheable = true;

	id = stackprof_make_location(sp, pc, is_activation, &cacheable);
	if (!id || !cacheable)
		return id;
	sp->slots[i] = (struct stackprof_slot){ pc, true, is_activation, id };
	sp->nused++;
	return id;
}

int stackprof_add(struct stackprof *sp, const uint64_t *pcs,
		  const bool *is_activation, size_t n, const int64_t *values,
		  const struct profile_label_in *labels, size_t nlabels)
{
	if (n > sp->capstack) {
		size_t cap = sp->capstack ? sp->capstack : 64;
		uint64_t *v;

		while (cap < n)
			cap *= 2;
		v = realloc(sp->stack, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		sp->stack = v;
		sp->capstack = cap;
	}
	for (size_t i = 0; i < n; i++) {
		bool act = is_activation ? is_activation[i] : i == 0;

		sp->stack[i] = stackprof_location(sp, pcs[i], act);
		if (!sp->stack[i])
			return -ENOMEM;
	}
	return profile_add_sample(sp->p, sp->stack, n, values, labels,
				  nlabels);
}

void stackprof_finish(struct stackprof *sp)
{
	const struct sym_module *const *mods;

	symbolizer_modules(sp->sym, &mods);
	for (size_t i = 0; i < sp->nmapped; i++) {
		struct profile_mapping *m =
			profile_mapping(sp->p, sp->mapping_ids[i]);

		if (!m)
			continue;
		/* [jit] spans the addresses seen in it by now. */
		if (mods[i]->is_jit) {
			m->start = mods[i]->start;
			m->limit = mods[i]->end;
		}
		m->has_functions = mods[i]->has_functions;
		m->has_filenames = mods[i]->has_filenames;
		m->has_line_numbers = mods[i]->has_line_numbers;
		m->has_inline_frames = mods[i]->has_inline_frames;
	}
}

void stackprof_free(struct stackprof *sp)
{
	if (!sp)
		return;
	free(sp->mapping_ids);
	free(sp->slots);
	free(sp->stack);
	free(sp);
}

/*
 * profile.c - the in-memory profile: interning with open-addressing hash
 * tables, so that a recording adding a million samples stays linear.
 *
 * Every table maps a hash to an index into one of the public arrays of
 * struct profile (stored as index + 1, 0 meaning an empty slot). Linear
 * probing, load factor at most 1/2, capacity a power of two. Tables never
 * delete, so no tombstones are needed.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "profile.h"
#include "hash.h"

struct profile_hslot {
	uint64_t hash;
	size_t idx1;	/* index + 1; 0: empty */
};

struct profile_htab {
	struct profile_hslot *slots;
	size_t cap, count;
};

/* An id -> index table, rebuilt when the array it covers has changed. */
struct profile_idmap {
	struct profile_htab tab;
	size_t built_for;	/* array length when built; SIZE_MAX: never */
};

struct profile_index {
	struct profile_htab strings, functions, locations, samples;
	struct profile_idmap function_ids, location_ids, mapping_ids;
	size_t cap_strings, cap_sample_types, cap_comments, cap_mappings;
	size_t cap_functions, cap_locations, cap_samples;
	uint64_t max_mapping_id, max_function_id, max_location_id;
};

static uint64_t profile_hash_add(uint64_t h, uint64_t x)
{
	return hash_mix64(h ^ (x + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2)));
}

static uint64_t profile_hash_str(const char *s)
{
	return hash_mix64(hash_fnv1a(s, strlen(s)));
}

/* Makes room for one more entry. 0 or -ENOMEM. */
static int profile_htab_reserve(struct profile_htab *t)
{
	if ((t->count + 1) * 2 <= t->cap)
		return 0;
	size_t ncap = t->cap ? t->cap * 2 : 64;
	struct profile_hslot *ns = calloc(ncap, sizeof(*ns));
	if (!ns)
		return -ENOMEM;
	for (size_t i = 0; i < t->cap; i++) {
		struct profile_hslot *o = &t->slots[i];
		if (!o->idx1)
			continue;
		size_t j = o->hash & (ncap - 1);
		while (ns[j].idx1)
			j = (j + 1) & (ncap - 1);
		ns[j] = *o;
	}
	free(t->slots);
	t->slots = ns;
	t->cap = ncap;
	return 0;
}

typedef int (*profile_eq_fn)(const struct profile *p, size_t idx, const void *key);

/* The slot holding an entry equal to key, or the empty slot where it goes.
 * The table must have room (profile_htab_reserve). */
static struct profile_hslot *profile_htab_probe(const struct profile_htab *t,
						uint64_t h, profile_eq_fn eq,
						const struct profile *p,
						const void *key)
{
	size_t j = h & (t->cap - 1);
	for (;;) {
		struct profile_hslot *s = &t->slots[j];
		if (!s->idx1)
			return s;
		if (s->hash == h && eq(p, s->idx1 - 1, key))
			return s;
		j = (j + 1) & (t->cap - 1);
	}
}

static void profile_htab_release(struct profile_htab *t)
{
	free(t->slots);
	t->slots = NULL;
	t->cap = t->count = 0;
}

/* Grows *arr so that it holds n + 1 elements. 0 or -ENOMEM. */
static int profile_grow(void **arr, size_t *cap, size_t n, size_t elsize)
{
	if (n < *cap)
		return 0;
	size_t ncap = *cap ? *cap * 2 : 16;
	if (ncap > SIZE_MAX / elsize)
		return -ENOMEM;
	void *na = realloc(*arr, ncap * elsize);
	if (!na)
		return -ENOMEM;
	*arr = na;
	*cap = ncap;
	return 0;
}

#define PROFILE_GROW(arr, capp, n) \
	profile_grow((void **)&(arr), (capp), (n), sizeof(*(arr)))

struct profile *profile_new(void)
{
	struct profile *p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->index = calloc(1, sizeof(*p->index));
	if (!p->index)
		goto out_free;
	p->index->function_ids.built_for = SIZE_MAX;
	p->index->location_ids.built_for = SIZE_MAX;
	p->index->mapping_ids.built_for = SIZE_MAX;
	if (profile_string(p, "") != 0)
		goto out_free;
	return p;
out_free:
	profile_free(p);
	return NULL;
}

void profile_free(struct profile *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->nstrings; i++)
		free(p->strings[i]);
	free(p->strings);
	for (size_t i = 0; i < p->nlocations; i++)
		free(p->locations[i].lines);
	free(p->locations);
	for (size_t i = 0; i < p->nsamples; i++) {
		free(p->samples[i].location_ids);
		free(p->samples[i].values);
		free(p->samples[i].labels);
	}
	free(p->samples);
	free(p->sample_types);
	free(p->mappings);
	free(p->functions);
	free(p->comments);
	if (p->index) {
		profile_htab_release(&p->index->strings);
		profile_htab_release(&p->index->functions);
		profile_htab_release(&p->index->locations);
		profile_htab_release(&p->index->samples);
		profile_htab_release(&p->index->function_ids.tab);
		profile_htab_release(&p->index->location_ids.tab);
		profile_htab_release(&p->index->mapping_ids.tab);
		free(p->index);
	}
	free(p);
}

/* ---- strings ---------------------------------------------------------- */

static int profile_string_eq(const struct profile *p, size_t idx, const void *key)
{
	return strcmp(p->strings[idx], key) == 0;
}

/* Appends a copy of s; indexes it when index is set and s is new. */
static int64_t profile_string_append(struct profile *p, const char *s,
				     struct profile_hslot *slot, uint64_t h)
{
	struct profile_index *ix = p->index;
	if (PROFILE_GROW(p->strings, &ix->cap_strings, p->nstrings) < 0)
		return -1;
	char *copy = strdup(s);
	if (!copy)
		return -1;
	p->strings[p->nstrings] = copy;
	if (slot) {
		slot->hash = h;
		slot->idx1 = p->nstrings + 1;
		ix->strings.count++;
	}
	return (int64_t)p->nstrings++;
}

int64_t profile_string(struct profile *p, const char *s)
{
	if (!s)
		s = "";
	struct profile_index *ix = p->index;
	if (profile_htab_reserve(&ix->strings) < 0)
		return -1;
	uint64_t h = profile_hash_str(s);
	struct profile_hslot *slot = profile_htab_probe(&ix->strings, h,
							profile_string_eq, p, s);
	if (slot->idx1)
		return (int64_t)(slot->idx1 - 1);
	return profile_string_append(p, s, slot, h);
}

int profile_append_raw_string(struct profile *p, const char *s)
{
	if (!s)
		s = "";
	struct profile_index *ix = p->index;
	if (profile_htab_reserve(&ix->strings) < 0)
		return -ENOMEM;
	uint64_t h = profile_hash_str(s);
	struct profile_hslot *slot = profile_htab_probe(&ix->strings, h,
							profile_string_eq, p, s);
	/* A duplicate keeps its place in the file but is not indexed. */
	if (profile_string_append(p, s, slot->idx1 ? NULL : slot, h) < 0)
		return -ENOMEM;
	return 0;
}

const char *profile_str(const struct profile *p, int64_t i)
{
	if (i < 0 || (uint64_t)i >= p->nstrings)
		return NULL;
	return p->strings[i];
}

/* ---- header fields ---------------------------------------------------- */

int profile_append_raw_sample_type(struct profile *p, struct profile_value_type vt)
{
	if (PROFILE_GROW(p->sample_types, &p->index->cap_sample_types,
			 p->nsample_types) < 0)
		return -ENOMEM;
	p->sample_types[p->nsample_types++] = vt;
	return 0;
}

int profile_add_sample_type(struct profile *p, const char *type, const char *unit)
{
	if (p->nsamples)
		return -EINVAL;
	int64_t t = profile_string(p, type), u = profile_string(p, unit);
	if (t < 0 || u < 0)
		return -ENOMEM;
	return profile_append_raw_sample_type(p,
		(struct profile_value_type){ .type = t, .unit = u });
}

int profile_set_period(struct profile *p, const char *type, const char *unit,
		       int64_t period)
{
	int64_t t = profile_string(p, type), u = profile_string(p, unit);
	if (t < 0 || u < 0)
		return -ENOMEM;
	p->period_type.type = t;
	p->period_type.unit = u;
	p->period = period;
	return 0;
}

int profile_append_raw_comment(struct profile *p, int64_t string_index)
{
	if (PROFILE_GROW(p->comments, &p->index->cap_comments, p->ncomments) < 0)
		return -ENOMEM;
	p->comments[p->ncomments++] = string_index;
	return 0;
}

int profile_add_comment(struct profile *p, const char *text)
{
	int64_t s = profile_string(p, text);
	if (s < 0)
		return -ENOMEM;
	return profile_append_raw_comment(p, s);
}

/* ---- lookups by id ---------------------------------------------------- */

/* Finds the index of the object with this id in an array of n objects of
 * size elsize whose first member is the uint64_t id. SIZE_MAX: absent. */
static size_t profile_idmap_find(struct profile_idmap *m, const void *arr,
				 size_t n, size_t elsize, uint64_t id)
{
#define ID_AT(i) (*(const uint64_t *)((const char *)arr + (i) * elsize))
	/* Writers (ours and Go's) number objects 1..n in order. */
	if (id >= 1 && id <= n && ID_AT(id - 1) == id)
		return id - 1;
	if (m->built_for != n) {
		profile_htab_release(&m->tab);
		m->built_for = SIZE_MAX;
		size_t cap = 64;
		while (cap < 2 * n + 2)
			cap *= 2;
		m->tab.slots = calloc(cap, sizeof(*m->tab.slots));
		if (m->tab.slots) {
			m->tab.cap = cap;
			for (size_t i = 0; i < n; i++) {
				uint64_t h = hash_mix64(ID_AT(i));
				size_t j = h & (cap - 1);
				int dup = 0;
				while (m->tab.slots[j].idx1) {
					if (ID_AT(m->tab.slots[j].idx1 - 1) == ID_AT(i)) {
						dup = 1;	/* the first one wins */
						break;
					}
					j = (j + 1) & (cap - 1);
				}
				if (!dup) {
					m->tab.slots[j].hash = h;
					m->tab.slots[j].idx1 = i + 1;
					m->tab.count++;
				}
			}
			m->built_for = n;
		}
	}
	if (m->built_for != n) {
		for (size_t i = 0; i < n; i++)
			if (ID_AT(i) == id)
				return i;
		return SIZE_MAX;
	}
	uint64_t h = hash_mix64(id);
	for (size_t j = h & (m->tab.cap - 1); m->tab.slots[j].idx1;
	     j = (j + 1) & (m->tab.cap - 1)) {
		size_t i = m->tab.slots[j].idx1 - 1;
		if (ID_AT(i) == id)
			return i;
	}
	return SIZE_MAX;
#undef ID_AT
}

const struct profile_function *profile_function_by_id(const struct profile *p, uint64_t id)
{
	size_t i = profile_idmap_find(&p->index->function_ids, p->functions,
				      p->nfunctions, sizeof(*p->functions), id);
	return i == SIZE_MAX ? NULL : &p->functions[i];
}

const struct profile_location *profile_location_by_id(const struct profile *p, uint64_t id)
{
	size_t i = profile_idmap_find(&p->index->location_ids, p->locations,
				      p->nlocations, sizeof(*p->locations), id);
	return i == SIZE_MAX ? NULL : &p->locations[i];
}

const struct profile_mapping *profile_mapping_by_id(const struct profile *p, uint64_t id)
{
	size_t i = profile_idmap_find(&p->index->mapping_ids, p->mappings,
				      p->nmappings, sizeof(*p->mappings), id);
	return i == SIZE_MAX ? NULL : &p->mappings[i];
}

struct profile_mapping *profile_mapping(struct profile *p, uint64_t id)
{
	const struct profile_mapping *m = profile_mapping_by_id(p, id);
	return m ? &p->mappings[m - p->mappings] : NULL;
}

/* ---- mappings --------------------------------------------------------- */

int profile_append_raw_mapping(struct profile *p, const struct profile_mapping *m)
{
	struct profile_index *ix = p->index;
	if (PROFILE_GROW(p->mappings, &ix->cap_mappings, p->nmappings) < 0)
		return -ENOMEM;
	p->mappings[p->nmappings++] = *m;
	if (m->id > ix->max_mapping_id)
		ix->max_mapping_id = m->id;
	return 0;
}

uint64_t profile_add_mapping(struct profile *p, uint64_t start, uint64_t limit,
			     uint64_t offset, const char *filename,
			     const char *build_id)
{
	int64_t f = profile_string(p, filename), b = profile_string(p, build_id);
	if (f < 0 || b < 0)
		return 0;
	struct profile_mapping m = {
		.id = p->index->max_mapping_id + 1,
		.start = start, .limit = limit, .offset = offset,
		.filename = f, .build_id = b,
	};
	if (profile_append_raw_mapping(p, &m) < 0)
		return 0;
	return m.id;
}

/* ---- functions -------------------------------------------------------- */

static uint64_t profile_function_hash(const struct profile_function *f)
{
	uint64_t h = profile_hash_add(0, (uint64_t)f->name);
	h = profile_hash_add(h, (uint64_t)f->system_name);
	h = profile_hash_add(h, (uint64_t)f->filename);
	return profile_hash_add(h, (uint64_t)f->start_line);
}

static int profile_function_eq(const struct profile *p, size_t idx, const void *key)
{
	const struct profile_function *a = &p->functions[idx], *b = key;
	return a->name == b->name && a->system_name == b->system_name &&
	       a->filename == b->filename && a->start_line == b->start_line;
}

int profile_append_raw_function(struct profile *p, const struct profile_function *f)
{
	struct profile_index *ix = p->index;
	if (PROFILE_GROW(p->functions, &ix->cap_functions, p->nfunctions) < 0)
		return -ENOMEM;
	p->functions[p->nfunctions++] = *f;
	if (f->id > ix->max_function_id)
		ix->max_function_id = f->id;
	return 0;
}

uint64_t profile_function(struct profile *p, const char *name,
			  const char *system_name, const char *filename,
			  int64_t start_line)
{
	struct profile_index *ix = p->index;
	struct profile_function key = {
		.name = profile_string(p, name),
		.system_name = profile_string(p, system_name),
		.filename = profile_string(p, filename),
		.start_line = start_line,
	};
	if (key.name < 0 || key.system_name < 0 || key.filename < 0)
		return 0;
	if (profile_htab_reserve(&ix->functions) < 0)
		return 0;
	uint64_t h = profile_function_hash(&key);
	struct profile_hslot *slot = profile_htab_probe(&ix->functions, h,
							profile_function_eq, p, &key);
	if (slot->idx1)
		return p->functions[slot->idx1 - 1].id;
	key.id = ix->max_function_id + 1;
	if (profile_append_raw_function(p, &key) < 0)
		return 0;
	slot->hash = h;
	slot->idx1 = p->nfunctions;
	ix->functions.count++;
	return key.id;
}

/* ---- locations -------------------------------------------------------- */

static uint64_t profile_location_hash(const struct profile_location *l)
{
	uint64_t h = profile_hash_add(1, l->mapping_id);
	h = profile_hash_add(h, l->address);
	for (size_t i = 0; i < l->nlines; i++) {
		h = profile_hash_add(h, l->lines[i].function_id);
		h = profile_hash_add(h, (uint64_t)l->lines[i].line);
	}
	return profile_hash_add(h, l->nlines);
}

static int profile_location_eq(const struct profile *p, size_t idx, const void *key)
{
	const struct profile_location *a = &p->locations[idx], *b = key;
	if (a->mapping_id != b->mapping_id || a->address != b->address ||
	    a->nlines != b->nlines)
		return 0;
	for (size_t i = 0; i < a->nlines; i++)
		if (a->lines[i].function_id != b->lines[i].function_id ||
		    a->lines[i].line != b->lines[i].line)
			return 0;
	return 1;
}

int profile_append_raw_location(struct profile *p, const struct profile_location *l)
{
	struct profile_index *ix = p->index;
	if (PROFILE_GROW(p->locations, &ix->cap_locations, p->nlocations) < 0)
		return -ENOMEM;
	struct profile_location copy = *l;
	copy.lines = NULL;
	if (l->nlines) {
		copy.lines = malloc(l->nlines * sizeof(*copy.lines));
		if (!copy.lines)
			return -ENOMEM;
		memcpy(copy.lines, l->lines, l->nlines * sizeof(*copy.lines));
	}
	p->locations[p->nlocations++] = copy;
	if (l->id > ix->max_location_id)
		ix->max_location_id = l->id;
	return 0;
}

uint64_t profile_location(struct profile *p, uint64_t mapping_id,
			  uint64_t address, const struct profile_line *lines,
			  size_t nlines)
{
	struct profile_index *ix = p->index;
	struct profile_location key = {
		.mapping_id = mapping_id, .address = address,
		.nlines = nlines, .lines = (struct profile_line *)lines,
	};
	if (profile_htab_reserve(&ix->locations) < 0)
		return 0;
	uint64_t h = profile_location_hash(&key);
	struct profile_hslot *slot = profile_htab_probe(&ix->locations, h,
							profile_location_eq, p, &key);
	if (slot->idx1)
		return p->locations[slot->idx1 - 1].id;
	key.id = ix->max_location_id + 1;
	if (profile_append_raw_location(p, &key) < 0)
		return 0;
	slot->hash = h;
	slot->idx1 = p->nlocations;
	ix->locations.count++;
	return key.id;
}

/* ---- samples ---------------------------------------------------------- */

/* profile_add_sample's key: the stack and the labels, already interned. */
struct profile_sample_key {
	const uint64_t *location_ids;
	size_t nlocations;
	const struct profile_label *labels;
	size_t nlabels;
};

static int profile_sample_eq(const struct profile *p, size_t idx, const void *key)
{
	const struct profile_sample *a = &p->samples[idx];
	const struct profile_sample_key *b = key;
	if (a->nlocations != b->nlocations || a->nlabels != b->nlabels)
		return 0;
	if (a->nlocations && memcmp(a->location_ids, b->location_ids,
				    a->nlocations * sizeof(uint64_t)))
		return 0;
	for (size_t i = 0; i < a->nlabels; i++) {
		const struct profile_label *x = &a->labels[i], *y = &b->labels[i];
		if (x->key != y->key || x->str != y->str || x->num != y->num ||
		    x->num_unit != y->num_unit)
			return 0;
	}
	return 1;
}

int profile_append_raw_sample(struct profile *p, const struct profile_sample *s)
{
	struct profile_index *ix = p->index;
	if (PROFILE_GROW(p->samples, &ix->cap_samples, p->nsamples) < 0)
		return -ENOMEM;
	struct profile_sample c = {
		.nlocations = s->nlocations, .nlabels = s->nlabels,
	};
	/* calloc(0) may return NULL: always ask for at least one element. */
	c.location_ids = malloc((s->nlocations + 1) * sizeof(*c.location_ids));
	c.values = calloc(p->nsample_types + 1, sizeof(*c.values));
	c.labels = malloc((s->nlabels + 1) * sizeof(*c.labels));
	if (!c.location_ids || !c.values || !c.labels) {
		free(c.location_ids);
		free(c.values);
		free(c.labels);
		return -ENOMEM;
	}
	if (s->nlocations)
		memcpy(c.location_ids, s->location_ids,
		       s->nlocations * sizeof(*c.location_ids));
	if (p->nsample_types && s->values)
		memcpy(c.values, s->values, p->nsample_types * sizeof(*c.values));
	if (s->nlabels)
		memcpy(c.labels, s->labels, s->nlabels * sizeof(*c.labels));
	p->samples[p->nsamples++] = c;
	return 0;
}

int profile_add_sample(struct profile *p, const uint64_t *location_ids,
		       size_t nlocations, const int64_t *values,
		       const struct profile_label_in *labels, size_t nlabels)
{
	struct profile_index *ix = p->index;
	struct profile_label small[8], *lab = small;
	int ret = -ENOMEM;

	if (nlabels > sizeof(small) / sizeof(small[0])) {
		lab = malloc(nlabels * sizeof(*lab));
		if (!lab)
			return -ENOMEM;
	}
	uint64_t h = profile_hash_add(2, nlocations);
	for (size_t i = 0; i < nlocations; i++)
		h = profile_hash_add(h, location_ids[i]);
	for (size_t i = 0; i < nlabels; i++) {
		lab[i].key = profile_string(p, labels[i].key);
		lab[i].str = labels[i].str ? profile_string(p, labels[i].str) : 0;
		lab[i].num = labels[i].str ? 0 : labels[i].num;
		lab[i].num_unit = labels[i].num_unit ?
				  profile_string(p, labels[i].num_unit) : 0;
		if (lab[i].key < 0 || lab[i].str < 0 || lab[i].num_unit < 0)
			goto out;
		h = profile_hash_add(h, (uint64_t)lab[i].key);
		h = profile_hash_add(h, (uint64_t)lab[i].str);
		h = profile_hash_add(h, (uint64_t)lab[i].num);
		h = profile_hash_add(h, (uint64_t)lab[i].num_unit);
	}
	if (profile_htab_reserve(&ix->samples) < 0)
		goto out;
	struct profile_sample_key key = {
		.location_ids = location_ids, .nlocations = nlocations,
		.labels = lab, .nlabels = nlabels,
	};
	struct profile_hslot *slot = profile_htab_probe(&ix->samples, h,
							profile_sample_eq, p, &key);
	if (slot->idx1) {
		int64_t *v = p->samples[slot->idx1 - 1].values;
		/* Wrap rather than overflow (undefined) on absurd values. */
		for (size_t i = 0; i < p->nsample_types; i++)
			v[i] = (int64_t)((uint64_t)v[i] + (uint64_t)values[i]);
		ret = 0;
		goto out;
	}
	struct profile_sample s = {
		.nlocations = nlocations, .location_ids = (uint64_t *)location_ids,
		.values = (int64_t *)values, .nlabels = nlabels, .labels = lab,
	};
	ret = profile_append_raw_sample(p, &s);
	if (ret == 0) {
		slot->hash = h;
		slot->idx1 = p->nsamples;
		ix->samples.count++;
	}
out:
	if (lab != small)
		free(lab);
	return ret;
}

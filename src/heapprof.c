/*
 * heapprof.c - the heap and allocs profiles from sampled allocations
 * (heapprof.h, docs/design.md §12.3).
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "heapprof.h"
#include "hash.h"

struct hp_record {
	uint64_t *locs;
	size_t nlocs;
	uint64_t size, calls;
	uint64_t hash;
	uint64_t samples;		/* taken here */
	uint64_t inuse;			/* of them in use at the last update */
};

struct hp_block {
	uint64_t addr, id;
	size_t rec;
};

struct heapprof {
	uint64_t rate;
	struct hp_record *recs;
	size_t nrecs, caprecs;
	size_t *slots;			/* record index + 1; 0 empty */
	size_t nslots;
	struct hp_block *blocks;
	size_t nblocks, capblocks;
};

struct heapprof *heapprof_new(uint64_t rate)
{
	struct heapprof *hp = calloc(1, sizeof(*hp));

	if (hp)
		hp->rate = rate;
	return hp;
}

void heapprof_free(struct heapprof *hp)
{
	if (!hp)
		return;
	for (size_t i = 0; i < hp->nrecs; i++)
		free(hp->recs[i].locs);
	free(hp->recs);
	free(hp->slots);
	free(hp->blocks);
	free(hp);
}

size_t heapprof_records(const struct heapprof *hp)
{
	return hp->nrecs;
}

size_t heapprof_blocks(const struct heapprof *hp)
{
	return hp->nblocks;
}

static uint64_t record_hash(const uint64_t *locs, size_t n, uint64_t size,
			    uint64_t calls)
{
	uint64_t h = hash_mix64(size ^ 0x6865617070726f66ULL);

	h = hash_mix64(h ^ calls);
	for (size_t i = 0; i < n; i++)
		h = hash_mix64(h ^ locs[i]);
	return h;
}

static int grow_slots(struct heapprof *hp)
{
	size_t n = hp->nslots ? hp->nslots * 2 : 256;
	size_t *s = calloc(n, sizeof(*s));

	if (!s)
		return -ENOMEM;
	for (size_t i = 0; i < hp->nrecs; i++) {
		size_t j = hp->recs[i].hash & (n - 1);
		while (s[j])
			j = (j + 1) & (n - 1);
		s[j] = i + 1;
	}
	free(hp->slots);
	hp->slots = s;
	hp->nslots = n;
	return 0;
}

/* The index of the record of this stack, size and calls, made if new;
 * -ENOMEM. */
static ssize_t find_record(struct heapprof *hp, const uint64_t *locs, size_t n,
			   uint64_t size, uint64_t calls)
{
	if ((hp->nrecs + 1) * 2 > hp->nslots && grow_slots(hp) < 0)
		return -ENOMEM;
	uint64_t h = record_hash(locs, n, size, calls);
	size_t mask = hp->nslots - 1, j = h & mask;

	for (; hp->slots[j]; j = (j + 1) & mask) {
		const struct hp_record *r = &hp->recs[hp->slots[j] - 1];

		if (r->hash == h && r->size == size && r->calls == calls &&
		    r->nlocs == n && !memcmp(r->locs, locs, n * sizeof(*locs)))
			return (ssize_t)(hp->slots[j] - 1);
	}
	if (hp->nrecs == hp->caprecs) {
		size_t cap = hp->caprecs ? hp->caprecs * 2 : 64;
		struct hp_record *nr = realloc(hp->recs, cap * sizeof(*nr));

		if (!nr)
			return -ENOMEM;
		hp->recs = nr;
		hp->caprecs = cap;
	}
	uint64_t *copy = malloc((n + 1) * sizeof(*copy));
	if (!copy)
		return -ENOMEM;
	if (n)
		memcpy(copy, locs, n * sizeof(*locs));
	hp->recs[hp->nrecs] = (struct hp_record){
		.locs = copy, .nlocs = n, .size = size, .calls = calls, .hash = h,
	};
	hp->slots[j] = hp->nrecs + 1;
	return (ssize_t)hp->nrecs++;
}

int heapprof_add(struct heapprof *hp, const uint64_t *locs, size_t nlocs,
		 uint64_t size, uint64_t calls, uint64_t addr, uint64_t id)
{
	ssize_t ri = find_record(hp, locs, nlocs, size, calls);

	if (ri < 0)
		return (int)ri;
	if (id && addr) {
		if (hp->nblocks == hp->capblocks) {
			size_t cap = hp->capblocks ? hp->capblocks * 2 : 256;
			struct hp_block *nb = realloc(hp->blocks, cap * sizeof(*nb));

			if (!nb)
				return -ENOMEM;
			hp->blocks = nb;
			hp->capblocks = cap;
		}
		hp->blocks[hp->nblocks++] = (struct hp_block){ addr, id, (size_t)ri };
	}
	hp->recs[ri].samples++;
	return 0;
}

void heapprof_update(struct heapprof *hp, heapprof_live_fn live, void *arg)
{
	size_t k = 0;

	for (size_t i = 0; i < hp->nrecs; i++)
		hp->recs[i].inuse = 0;
	for (size_t i = 0; i < hp->nblocks; i++) {
		struct hp_block b = hp->blocks[i];

		if (!live(arg, b.addr, b.id))
			continue;
		hp->recs[b.rec].inuse++;
		hp->blocks[k++] = b;
	}
	hp->nblocks = k;
}

void heapprof_scale(int64_t count, int64_t size, int64_t rate,
		    int64_t *objects, int64_t *bytes)
{
	if (count == 0 || size == 0) {
		*objects = 0;
		*bytes = 0;
		return;
	}
	if (rate <= 1) {
		*objects = count;
		*bytes = size;
		return;
	}
	/* The chance that a block of avg bytes is sampled is 1 - e^(-avg/rate)
	 * (docs/design.md §12.3): each sample stands for 1/that blocks. */
	double avg = (double)size / (double)count;
	double scale = 1.0 / (1.0 - exp(-avg / (double)rate));

	*objects = (int64_t)((double)count * scale);
	*bytes = (int64_t)((double)size * scale);
}

/* The four values of record r: alloc_objects, alloc_space, inuse_objects,
 * inuse_space. */
static void record_values(const struct heapprof *hp, const struct hp_record *r,
			  int64_t v[4])
{
	int64_t n = (int64_t)r->samples, u = (int64_t)r->inuse;
	int64_t s = (int64_t)r->size;

	if (r->calls) {
		int64_t c = (int64_t)r->calls;

		v[0] = n * c;
		v[1] = n * s * c;
		v[2] = u * c;
		v[3] = u * s * c;
		return;
	}
	heapprof_scale(n, n * s, (int64_t)hp->rate, &v[0], &v[1]);
	heapprof_scale(u, u * s, (int64_t)hp->rate, &v[2], &v[3]);
}

/* A copy of base's tables (strings, mappings, functions, locations,
 * comments, times): the ids and string indexes stay those of base. */
static struct profile *copy_base(const struct profile *base)
{
	struct profile *p = profile_new();

	if (!p)
		return NULL;
	for (size_t i = 1; i < base->nstrings; i++)
		if (profile_append_raw_string(p, base->strings[i]) < 0)
			goto fail;
	for (size_t i = 0; i < base->nmappings; i++)
		if (profile_append_raw_mapping(p, &base->mappings[i]) < 0)
			goto fail;
	for (size_t i = 0; i < base->nfunctions; i++)
		if (profile_append_raw_function(p, &base->functions[i]) < 0)
			goto fail;
	for (size_t i = 0; i < base->nlocations; i++)
		if (profile_append_raw_location(p, &base->locations[i]) < 0)
			goto fail;
	for (size_t i = 0; i < base->ncomments; i++)
		if (profile_append_raw_comment(p, base->comments[i]) < 0)
			goto fail;
	p->time_nanos = base->time_nanos;
	p->duration_nanos = base->duration_nanos;
	p->drop_frames = base->drop_frames;
	p->keep_frames = base->keep_frames;
	return p;
fail:
	profile_free(p);
	return NULL;
}

static int add_comments(struct profile *p, enum heapprof_kind kind,
			uint64_t rate, const struct heapprof_info *info)
{
	char buf[512];

	if (info && info->no_inuse)
		snprintf(buf, sizeof(buf), "cprof: %s profile: in use is empty: "
			 "the %s method does not see frees", kind == HEAPPROF_HEAP ?
			 "heap" : "allocs", info->method ? info->method : "?");
	else
		snprintf(buf, sizeof(buf), "cprof: %s profile: \"in use\" means "
			 "allocated since sampling began and not yet freed "
			 "(blocks allocated before cprof attached are not seen)",
			 kind == HEAPPROF_HEAP ? "heap" : "allocs");
	if (profile_add_comment(p, buf) < 0)
		return -ENOMEM;
	if (!info)
		return 0;
	if (info->calls_period)
		snprintf(buf, sizeof(buf), "cprof: method %s, one allocator call "
			 "in %llu sampled, each counted %llu times",
			 info->method ? info->method : "?",
			 (unsigned long long)info->calls_period,
			 (unsigned long long)info->calls_period);
	else
		snprintf(buf, sizeof(buf), "cprof: method %s, a sample every "
			 "%llu bytes allocated on average (Poisson), scaled as Go "
			 "scales its heap samples",
			 info->method ? info->method : "?", (unsigned long long)rate);
	if (profile_add_comment(p, buf) < 0)
		return -ENOMEM;
	snprintf(buf, sizeof(buf), "cprof: %llu sampled allocation%s, %llu "
		 "dropped (ring full), %llu untracked (never counted in use)",
		 (unsigned long long)info->samples, info->samples == 1 ? "" : "s",
		 (unsigned long long)info->dropped,
		 (unsigned long long)info->untracked);
	if (profile_add_comment(p, buf) < 0)
		return -ENOMEM;
	if (heapprof_drop_factor(info) == 1.0)
		return 0;
	snprintf(buf, sizeof(buf), "cprof: values multiplied by %.4f to make up "
		 "for the dropped samples", heapprof_drop_factor(info));
	return profile_add_comment(p, buf);
}

double heapprof_drop_factor(const struct heapprof_info *info)
{
	if (!info || !info->samples || !info->dropped)
		return 1.0;
	return (double)(info->samples + info->dropped) / (double)info->samples;
}

int heapprof_profile(const struct heapprof *hp, const struct profile *base,
		     enum heapprof_kind kind, const struct heapprof_info *info,
		     struct profile **out)
{
	struct profile *p = copy_base(base);
	int e = -ENOMEM;

	*out = NULL;
	if (!p)
		return -ENOMEM;
	if (profile_add_sample_type(p, "alloc_objects", "count") < 0 ||
	    profile_add_sample_type(p, "alloc_space", "bytes") < 0 ||
	    profile_add_sample_type(p, "inuse_objects", "count") < 0 ||
	    profile_add_sample_type(p, "inuse_space", "bytes") < 0 ||
	    profile_set_period(p, "space", "bytes", (int64_t)hp->rate) < 0)
		goto fail;
	p->default_sample_type = profile_string(p, kind == HEAPPROF_HEAP ?
						"inuse_space" : "alloc_space");
	if (p->default_sample_type < 0)
		goto fail;
	e = add_comments(p, kind, hp->rate, info);
	if (e < 0)
		goto fail;
	/* Samples lost to a full ring (the reader fell behind: bursts in
	 * time, not in particular stacks) are made up for by weighing the
	 * others more (docs/design.md §12.3). */
	double more = heapprof_drop_factor(info);
	for (size_t i = 0; i < hp->nrecs; i++) {
		const struct hp_record *r = &hp->recs[i];
		int64_t v[4];
		struct profile_label_in bytes = { .key = "bytes", .num = (int64_t)r->size };

		record_values(hp, r, v);
		if (more != 1.0)
			for (int k = 0; k < 4; k++)
				v[k] = (int64_t)((double)v[k] * more + 0.5);
		/* Go writes the label when the block size is not 0. */
		e = profile_add_sample(p, r->locs, r->nlocs, v, &bytes,
				       r->size ? 1 : 0);
		if (e < 0)
			goto fail;
	}
	*out = p;
	return 0;
fail:
	profile_free(p);
	return e;
}

/* --- debug=1 --------------------------------------------------------------- */

/* A record's raw figures: samples (times N for one-in-N) and bytes. */
struct raw {
	uint64_t inuse_n, inuse_b, alloc_n, alloc_b;
};

static struct raw record_raw(const struct hp_record *r)
{
	uint64_t c = r->calls ? r->calls : 1;

	return (struct raw){
		.inuse_n = r->inuse * c, .inuse_b = r->inuse * c * r->size,
		.alloc_n = r->samples * c, .alloc_b = r->samples * c * r->size,
	};
}

static int cmp_inuse(const void *a, const void *b, void *arg)
{
	const struct heapprof *hp = arg;
	struct raw x = record_raw(&hp->recs[*(const size_t *)a]);
	struct raw y = record_raw(&hp->recs[*(const size_t *)b]);

	if (x.inuse_b != y.inuse_b)
		return x.inuse_b > y.inuse_b ? -1 : 1;
	/* Then a stable order: most bytes allocated, then first made. */
	if (x.alloc_b != y.alloc_b)
		return x.alloc_b > y.alloc_b ? -1 : 1;
	return *(const size_t *)a < *(const size_t *)b ? -1 : 1;
}

/* One location's frames, innermost (inlined) first, as Go's "#" lines:
 * pc is the address Go shows there, its "@" address less one (the call
 * instruction's last byte, as runtime.CallersFrames gives it), and
 * func+0xOFF is pc's offset in the function. */
static void write_frames(const struct profile *p, const struct profile_location *loc,
			 uint64_t pc, heapprof_offset_fn offset, void *arg, FILE *f)
{
	if (!loc || !loc->nlines) {
		fprintf(f, "#\t%#llx\n", (unsigned long long)pc);
		return;
	}
	for (size_t j = 0; j < loc->nlines; j++) {
		const struct profile_function *fn =
			profile_function_by_id(p, loc->lines[j].function_id);
		const char *name = fn ? profile_str(p, fn->name) : NULL;
		const char *file = fn ? profile_str(p, fn->filename) : NULL;
		uint64_t off;

		if (!name || !*name) {
			fprintf(f, "#\t%#llx\n", (unsigned long long)pc);
			continue;
		}
		fprintf(f, "#\t%#llx\t%s", (unsigned long long)pc, name);
		/* The offset belongs to the outermost (real) function. */
		if (j + 1 == loc->nlines && offset && offset(arg, pc, &off))
			fprintf(f, "+%#llx", (unsigned long long)off);
		fprintf(f, "\t%s:%lld\n", file && *file ? file : "?",
			(long long)loc->lines[j].line);
	}
}

int heapprof_text(const struct heapprof *hp, const struct profile *p,
		  heapprof_offset_fn offset, void *arg, FILE *f)
{
	size_t *order = malloc((hp->nrecs + 1) * sizeof(*order));
	struct raw tot = { 0 };

	if (!order)
		return -ENOMEM;
	for (size_t i = 0; i < hp->nrecs; i++) {
		struct raw x = record_raw(&hp->recs[i]);

		order[i] = i;
		tot.inuse_n += x.inuse_n;
		tot.inuse_b += x.inuse_b;
		tot.alloc_n += x.alloc_n;
		tot.alloc_b += x.alloc_b;
	}
	qsort_r(order, hp->nrecs, sizeof(*order), cmp_inuse, (void *)hp);
	/* Go writes twice the rate: what the first C++ heap profiler wrote,
	 * and what pprof's reader of this text expects. */
	fprintf(f, "heap profile: %llu: %llu [%llu: %llu] @ heap/%llu\n",
		(unsigned long long)tot.inuse_n, (unsigned long long)tot.inuse_b,
		(unsigned long long)tot.alloc_n, (unsigned long long)tot.alloc_b,
		(unsigned long long)(2 * hp->rate));
	for (size_t k = 0; k < hp->nrecs; k++) {
		const struct hp_record *r = &hp->recs[order[k]];
		struct raw x = record_raw(r);

		fprintf(f, "%llu: %llu [%llu: %llu] @",
			(unsigned long long)x.inuse_n, (unsigned long long)x.inuse_b,
			(unsigned long long)x.alloc_n, (unsigned long long)x.alloc_b);
		/* Go lists return addresses and pprof takes 1 off each: the
		 * leaf's location is the call itself (return address - 1),
		 * its callers' are return addresses. */
		for (size_t i = 0; i < r->nlocs; i++) {
			const struct profile_location *loc =
				profile_location_by_id(p, r->locs[i]);
			uint64_t a = loc ? loc->address + (i == 0) : 0;

			fprintf(f, " %#llx", (unsigned long long)a);
		}
		fputc('\n', f);
		for (size_t i = 0; i < r->nlocs; i++) {
			const struct profile_location *loc =
				profile_location_by_id(p, r->locs[i]);
			uint64_t a = loc ? loc->address : 0;

			/* The leaf's location is its call already. */
			write_frames(p, loc, i == 0 || a == 0 ? a : a - 1, offset, arg, f);
		}
		fputc('\n', f);
	}
	free(order);
	return ferror(f) ? -EIO : 0;
}

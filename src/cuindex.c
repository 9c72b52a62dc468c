/*
 * cuindex.c - an index of compile unit address ranges, for modules whose
 * .debug_aranges is missing or incomplete (docs/design.md §4.2).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#include <dwarf.h>

#include "cuindex.h"

struct cuindex_range {
	Dwarf_Addr start, end;	/* [start, end) */
	Dwarf_Addr maxend;	/* the largest end of this and every range
				 * before it: how far back a lookup looks */
	size_t unit;		/* into units[] */
};

struct cuindex {
	Dwarf_Die *units;
	size_t nunits, capunits;
	struct cuindex_range *r;
	size_t nr, capr;
};

static int cuindex_add_unit(struct cuindex *ix, const Dwarf_Die *die)
{
	if (ix->nunits == ix->capunits) {
		size_t cap = ix->capunits ? ix->capunits * 2 : 64;
		Dwarf_Die *u = realloc(ix->units, cap * sizeof(*u));

		if (!u)
			return -ENOMEM;
		ix->units = u;
		ix->capunits = cap;
	}
	ix->units[ix->nunits++] = *die;
	return 0;
}

static int cuindex_add_range(struct cuindex *ix, Dwarf_Addr start,
			     Dwarf_Addr end, size_t unit)
{
	if (ix->nr == ix->capr) {
		size_t cap = ix->capr ? ix->capr * 2 : 256;
		struct cuindex_range *r = realloc(ix->r, cap * sizeof(*r));

		if (!r)
			return -ENOMEM;
		ix->r = r;
		ix->capr = cap;
	}
	ix->r[ix->nr++] = (struct cuindex_range){ start, end, 0, unit };
	return 0;
}

static int cuindex_range_cmp(const void *a, const void *b)
{
	const struct cuindex_range *x = a, *y = b;

	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	if (x->unit != y->unit)
		return x->unit < y->unit ? -1 : 1;
	return (x->end > y->end) - (x->end < y->end);
}

/* Adds the ranges of one unit DIE; a unit without any (a unit of types
 * only, or data) adds nothing. */
static int cuindex_add_die(struct cuindex *ix, Dwarf_Die *die)
{
	Dwarf_Addr base, start, end;
	ptrdiff_t off = 0;
	size_t unit = ix->nunits;
	bool added = false;
	int e;

	/* dwarf_ranges: a low_pc/high_pc pair as one range, else the list
	 * DW_AT_ranges points to (.debug_ranges up to DWARF 4,
	 * .debug_rnglists in DWARF 5); -1 on malformed data, where what was
	 * read so far is kept. */
	while ((off = dwarf_ranges(die, off, &base, &start, &end)) > 0) {
		/* A function whose section the linker discarded (a
		 * duplicate inline or template instance, --gc-sections)
		 * keeps its ranges relocated against 0; no code of an ELF
		 * file is at address 0. */
		if (start == 0 || start >= end)
			continue;
		if (!added && (e = cuindex_add_unit(ix, die)))
			return e;
		added = true;
		if ((e = cuindex_add_range(ix, start, end, unit)))
			return e;
	}
	return 0;
}

static int cuindex_off_cmp(const void *a, const void *b)
{
	const Dwarf_Off *x = a, *y = b;

	return (*x > *y) - (*x < *y);
}

/* The units .debug_aranges has a set for, by the offset of their DIE (as
 * libdw gives them), sorted; *n 0 when it has none. */
static int cuindex_aranges_units(Dwarf *dw, Dwarf_Off **offs, size_t *n)
{
	Dwarf_Aranges *ar;
	size_t nar;

	*offs = NULL;
	*n = 0;
	if (dwarf_getaranges(dw, &ar, &nar) != 0 || nar == 0)
		return 0;
	*offs = malloc(nar * sizeof(**offs));
	if (!*offs)
		return -ENOMEM;
	for (size_t i = 0; i < nar; i++) {
		Dwarf_Off o;

		if (dwarf_getarangeinfo(dwarf_onearange(ar, i), NULL, NULL,
					&o) == 0)
			(*offs)[(*n)++] = o;
	}
	qsort(*offs, *n, sizeof(**offs), cuindex_off_cmp);
	return 0;
}

int cuindex_build(Dwarf *dw, struct cuindex **out)
{
	struct cuindex *ix;
	Dwarf_Off off = 0, next, *covered;
	size_t ncovered, hsize, w = 0;
	int e;

	*out = NULL;
	ix = calloc(1, sizeof(*ix));
	if (!ix)
		return -ENOMEM;
	if ((e = cuindex_aranges_units(dw, &covered, &ncovered))) {
		free(ix);
		return e;
	}
	/* Unit headers first (nothing of a unit is decoded): only the units
	 * without an aranges set have their DIE read. dwarf_next_unit
	 * returns 1 at the end, -1 on malformed data (the units read so far
	 * are kept). */
	while (dwarf_next_unit(dw, off, &next, &hsize, NULL, NULL, NULL, NULL,
			       NULL, NULL) == 0) {
		Dwarf_Off dieoff = off + hsize;
		Dwarf_Die die;
		int tag;

		off = next;
		if ((ncovered && bsearch(&dieoff, covered, ncovered,
					 sizeof(*covered), cuindex_off_cmp)) ||
		    !dwarf_offdie(dw, dieoff, &die))
			continue;
		/* Type units hold no code; a DWARF 5 skeleton unit's scopes
		 * are in its split unit, out of our scope. */
		tag = dwarf_tag(&die);
		if (tag != DW_TAG_compile_unit && tag != DW_TAG_partial_unit)
			continue;
		if ((e = cuindex_add_die(ix, &die))) {
			free(covered);
			cuindex_free(ix);
			return e;
		}
	}
	free(covered);
	if (ix->nr > 0) {
		qsort(ix->r, ix->nr, sizeof(*ix->r), cuindex_range_cmp);
		/* Ranges of one unit that touch or overlap become one: the
		 * per-function ranges of -ffunction-sections code. */
		for (size_t i = 0; i < ix->nr; i++) {
			struct cuindex_range *p = w ? &ix->r[w - 1] : NULL;

			if (p && p->unit == ix->r[i].unit &&
			    ix->r[i].start <= p->end) {
				if (ix->r[i].end > p->end)
					p->end = ix->r[i].end;
				continue;
			}
			ix->r[w++] = ix->r[i];
		}
		ix->nr = w;
		for (size_t i = 0; i < ix->nr; i++)
			ix->r[i].maxend = i && ix->r[i - 1].maxend > ix->r[i].end
						  ? ix->r[i - 1].maxend
						  : ix->r[i].end;
	}
	*out = ix;
	return 0;
}

Dwarf_Die *cuindex_find(const struct cuindex *ix, Dwarf_Addr addr,
			Dwarf_Die *result)
{
	size_t lo = 0, hi = ix->nr;

	/* The first range starting after addr... */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (ix->r[mid].start <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	/* ...then back through those starting at or before it, the nearest
	 * first, while one of them still reaches past addr. Units do not
	 * overlap in a well-formed file: this is one step. */
	for (size_t i = lo; i > 0 && ix->r[i - 1].maxend > addr; i--) {
		const struct cuindex_range *r = &ix->r[i - 1];

		if (addr < r->end) {
			*result = ix->units[r->unit];
			return result;
		}
	}
	return NULL;
}

size_t cuindex_units(const struct cuindex *ix)
{
	return ix ? ix->nunits : 0;
}

size_t cuindex_ranges(const struct cuindex *ix)
{
	return ix ? ix->nr : 0;
}

void cuindex_free(struct cuindex *ix)
{
	if (!ix)
		return;
	free(ix->units);
	free(ix->r);
	free(ix);
}

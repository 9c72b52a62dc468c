/*
 * symtab.c - a module's function symbols, sorted once, shared by build-id.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "pltsyms.h"
#include "symtab.h"

struct symtab_cache_entry {
	char *build_id;
	struct symtab_sym *v;	/* addresses relative to the load bias */
	size_t n;
	char *names;		/* every name, one block */
};

struct symtab_cache {
	struct symtab_cache_entry *v;
	size_t n, cap;
};

struct symtab_cache *symtab_cache_new(void)
{
	return calloc(1, sizeof(struct symtab_cache));
}

void symtab_cache_free(struct symtab_cache *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->n; i++) {
		free(c->v[i].build_id);
		free(c->v[i].v);
		free(c->v[i].names);
	}
	free(c->v);
	free(c);
}

static struct symtab_cache_entry *symtab_cache_find(struct symtab_cache *c,
						    const char *build_id)
{
	for (size_t i = 0; c && build_id[0] && i < c->n; i++)
		if (strcmp(c->v[i].build_id, build_id) == 0)
			return &c->v[i];
	return NULL;
}

/* Keeps t (just loaded) in the cache, relative to bias, with copies of its
 * names: its Dwfl may be gone when they are used again. Failing to
 * (ENOMEM) only costs the next process a load of its own. */
static void symtab_cache_add(struct symtab_cache *c, const char *build_id,
			     const struct symtab *t, GElf_Addr bias)
{
	struct symtab_cache_entry e = { 0 };
	size_t len = 0, at = 0;

	if (!c || !build_id[0])
		return;
	if (c->n == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 16;
		struct symtab_cache_entry *v = realloc(c->v, cap * sizeof(*v));

		if (!v)
			return;
		c->v = v;
		c->cap = cap;
	}
	for (size_t i = 0; i < t->n; i++)
		len += strlen(t->v[i].name) + 1;
	e.build_id = strdup(build_id);
	e.v = malloc((t->n ? t->n : 1) * sizeof(*e.v));
	e.names = malloc(len ? len : 1);
	if (!e.build_id || !e.v || !e.names) {
		free(e.build_id);
		free(e.v);
		free(e.names);
		return;
	}
	for (size_t i = 0; i < t->n; i++) {
		size_t l = strlen(t->v[i].name) + 1;

		e.v[i] = t->v[i];
		e.v[i].addr -= bias;
		e.v[i].name = memcpy(e.names + at, t->v[i].name, l);
		at += l;
	}
	e.n = t->n;
	c->v[c->n++] = e;
}

static int symtab_cmp(const void *a, const void *b)
{
	const struct symtab_sym *x = a, *y = b;

	if (x->addr != y->addr)
		return x->addr < y->addr ? -1 : 1;
	/* Best first: a global name over a weak alias over a local one. */
	return x->rank - y->rank;
}

/* Appends the PLT stubs of elf to t->v (room for them is there), their
 * names copied into t->names. */
static int symtab_add_plt(struct symtab *t, const struct pltsym *plt,
			  size_t nplt, GElf_Addr bias)
{
	size_t len = 0, at = 0;

	for (size_t i = 0; i < nplt; i++)
		len += strlen(plt[i].name) + 1;
	if (nplt == 0)
		return 0;
	t->names = malloc(len);
	if (!t->names)
		return -ENOMEM;
	/* Ranked below every real symbol: a function symbol at a stub's
	 * address (none in practice) keeps its name. */
	for (size_t i = 0; i < nplt; i++) {
		size_t l = strlen(plt[i].name) + 1;

		t->v[t->n++] = (struct symtab_sym){
			plt[i].addr + bias, plt[i].size,
			memcpy(t->names + at, plt[i].name, l), 3,
		};
		at += l;
	}
	return 0;
}

int symtab_load(struct symtab *t, Dwfl_Module *mod, const char *build_id,
		struct symtab_cache *cache)
{
	struct symtab_cache_entry *ce = symtab_cache_find(cache, build_id);
	struct pltsym *plt = NULL;
	size_t nplt = 0, w = 0;
	GElf_Addr bias = 0;
	Elf *elf = dwfl_module_getelf(mod, &bias);
	int nsyms, e;

	t->loaded = true;
	if (ce) {
		t->v = malloc((ce->n ? ce->n : 1) * sizeof(*t->v));
		if (!t->v)
			return -ENOMEM;
		for (size_t i = 0; i < ce->n; i++) {
			t->v[i] = ce->v[i];
			t->v[i].addr += bias;
		}
		t->n = ce->n;
		return 0;
	}
	nsyms = dwfl_module_getsymtab(mod);
	if (nsyms < 0)
		nsyms = 0;
	e = pltsyms_read(elf, &plt, &nplt);
	if (e)
		return e;
	if ((size_t)nsyms + nplt > 0) {
		t->v = malloc(((size_t)nsyms + nplt) * sizeof(*t->v));
		if (!t->v) {
			pltsyms_free(plt, nplt);
			return -ENOMEM;
		}
	}
	for (int i = 1; i < nsyms; i++) {
		GElf_Sym sym;
		GElf_Addr addr;
		const char *name = dwfl_module_getsym_info(mod, i, &sym, &addr,
							   NULL, NULL, NULL);
		int type = GELF_ST_TYPE(sym.st_info);
		int bind = GELF_ST_BIND(sym.st_info);

		if (!name || !name[0] || sym.st_shndx == SHN_UNDEF ||
		    (type != STT_FUNC && type != STT_GNU_IFUNC))
			continue;
		t->v[t->n++] = (struct symtab_sym){
			addr, sym.st_size, name,
			bind == STB_GLOBAL ? 0 : bind == STB_WEAK ? 1 : 2,
		};
	}
	e = symtab_add_plt(t, plt, nplt, bias);
	pltsyms_free(plt, nplt);
	if (e)
		return e;
	if (t->n)
		qsort(t->v, t->n, sizeof(*t->v), symtab_cmp);
	/* One symbol per address: the best-ranked name, the largest size. */
	for (size_t i = 0; i < t->n; i++) {
		if (w && t->v[w - 1].addr == t->v[i].addr) {
			if (t->v[i].size > t->v[w - 1].size)
				t->v[w - 1].size = t->v[i].size;
			continue;
		}
		t->v[w++] = t->v[i];
	}
	t->n = w;
	symtab_cache_add(cache, build_id, t, bias);
	return 0;
}

const struct symtab_sym *symtab_find(const struct symtab *t, uint64_t a)
{
	size_t lo = 0, hi = t->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (t->v[mid].addr <= a)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0)
		return NULL;
	/* A few steps back for a large symbol that encloses smaller ones
	 * (asm entry points inside a function). */
	for (size_t i = lo, k = 0; i > 0 && k < 8; i--, k++) {
		const struct symtab_sym *f = &t->v[i - 1];

		if (a < f->addr + f->size)
			return f;
	}
	return t->v[lo - 1].size == 0 ? &t->v[lo - 1] : NULL;
}

void symtab_release(struct symtab *t)
{
	free(t->v);
	free(t->names);
	memset(t, 0, sizeof(*t));
}

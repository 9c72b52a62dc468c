/*
 * symnames.c - a bounded LRU cache of names by address (symnames.h): a
 * fixed array of entries, chained in hash buckets and in a recency list.
 */
#include <stdbool.h>
#include <stdlib.h>

#include "hash.h"
#include "symbolize.h"
#include "symnames.h"

#define SYMNAMES_NONE ((size_t)-1)

struct symnames_entry {
	uint64_t addr;
	const char *name;		/* interned by the symbolizer */
	size_t next;			/* in its bucket */
	size_t newer, older;		/* recency list */
};

struct symnames {
	struct symnames_entry *e;
	size_t cap, n;
	size_t *buckets;		/* nbuckets, a power of 2 */
	size_t nbuckets;
	size_t newest, oldest;
	size_t hits;
};

struct symnames *symnames_new(size_t cap)
{
	struct symnames *c = calloc(1, sizeof(*c));
	if (!c || cap == 0)
		goto fail;
	c->cap = cap;
	c->nbuckets = 16;
	while (c->nbuckets < cap)
		c->nbuckets *= 2;
	c->e = calloc(cap, sizeof(*c->e));
	c->buckets = malloc(c->nbuckets * sizeof(*c->buckets));
	if (!c->e || !c->buckets)
		goto fail;
	symnames_clear(c);
	return c;
fail:
	symnames_free(c);
	return NULL;
}

void symnames_free(struct symnames *c)
{
	if (!c)
		return;
	free(c->e);
	free(c->buckets);
	free(c);
}

void symnames_clear(struct symnames *c)
{
	for (size_t i = 0; i < c->nbuckets; i++)
		c->buckets[i] = SYMNAMES_NONE;
	c->n = 0;
	c->newest = c->oldest = SYMNAMES_NONE;
}

size_t symnames_count(const struct symnames *c)
{
	return c->n;
}

size_t symnames_hits(const struct symnames *c)
{
	return c->hits;
}

static size_t *symnames_bucket(struct symnames *c, uint64_t addr)
{
	return &c->buckets[hash_mix64(addr) & (c->nbuckets - 1)];
}

static void symnames_unlink(struct symnames *c, size_t i)
{
	struct symnames_entry *x = &c->e[i];
	if (x->newer != SYMNAMES_NONE)
		c->e[x->newer].older = x->older;
	else
		c->newest = x->older;
	if (x->older != SYMNAMES_NONE)
		c->e[x->older].newer = x->newer;
	else
		c->oldest = x->newer;
}

static void symnames_push(struct symnames *c, size_t i)
{
	struct symnames_entry *x = &c->e[i];
	x->newer = SYMNAMES_NONE;
	x->older = c->newest;
	if (c->newest != SYMNAMES_NONE)
		c->e[c->newest].newer = i;
	c->newest = i;
	if (c->oldest == SYMNAMES_NONE)
		c->oldest = i;
}

const char *symnames_get(struct symnames *c, struct symbolizer *s,
			 uint64_t addr)
{
	size_t *b = symnames_bucket(c, addr);
	for (size_t i = *b; i != SYMNAMES_NONE; i = c->e[i].next) {
		if (c->e[i].addr != addr)
			continue;
		symnames_unlink(c, i);
		symnames_push(c, i);
		c->hits++;
		return c->e[i].name;
	}
	const char *name = symbolizer_name_uncached(s, addr);
	if (!name)
		return NULL;
	size_t i;
	if (c->n < c->cap) {
		i = c->n++;
	} else {
		/* Evict the least recently used entry from its bucket. */
		i = c->oldest;
		symnames_unlink(c, i);
		for (size_t *p = symnames_bucket(c, c->e[i].addr); *p != SYMNAMES_NONE;
		     p = &c->e[*p].next) {
			if (*p == i) {
				*p = c->e[i].next;
				break;
			}
		}
	}
	c->e[i].addr = addr;
	c->e[i].name = name;
	c->e[i].next = *b;
	*b = i;
	symnames_push(c, i);
	return name;
}

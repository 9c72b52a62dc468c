/*
 * symtab.h - the function symbols of one module of a Dwfl, sorted once
 * (dwfl_module_addrinfo scans the whole symbol table on every call: ~160 us
 * in libc with libc6-dbg, docs/design.md §4), with names for its PLT stubs
 * (pltsyms.h), and shared by build-id between the symbolizers of a
 * recording's processes (libc in every child of a make is read and sorted
 * once).
 */
#ifndef CPROF_SYMTAB_H
#define CPROF_SYMTAB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <elfutils/libdwfl.h>

/* A function symbol, at its address in the process. */
struct symtab_sym {
	uint64_t addr, size;
	const char *name;	/* libdwfl's string table, the table's own
				 * block, or the cache's */
	int rank;		/* preference at equal addresses: global 0,
				 * weak 1, local 2, PLT stub 3 */
};

struct symtab {
	struct symtab_sym *v;	/* by address, one per address */
	size_t n;
	char *names;		/* the PLT stubs' names */
	bool loaded;
};

/* Symbol tables shared by build-id: relative to the load bias, with copies
 * of their names, so they outlive the Dwfl they were read from. Memory
 * grows with distinct files, not with processes. Not thread-safe: its
 * users take turns, and it outlives them. */
struct symtab_cache;
struct symtab_cache *symtab_cache_new(void);
void symtab_cache_free(struct symtab_cache *c);

/* Loads t from mod (.symtab from its debug file when there is one, else
 * .dynsym; and its PLT stubs), or from the cache (may be NULL) when a
 * module of the same build-id (hex, "" for none) was loaded before. Names
 * from libdwfl stay valid as long as mod's Dwfl. Sets t->loaded whatever
 * happens. Returns 0 or -ENOMEM. */
int symtab_load(struct symtab *t, Dwfl_Module *mod, const char *build_id,
		struct symtab_cache *cache);

/* The symbol covering addr, as dwfl_module_addrinfo would find it: a sized
 * symbol containing addr, else the nearest sizeless one below it; NULL. */
const struct symtab_sym *symtab_find(const struct symtab *t, uint64_t addr);

void symtab_release(struct symtab *t);

#endif

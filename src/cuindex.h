/*
 * cuindex.h - which compile unit of a module's DWARF covers an address,
 * found from the units' own address ranges rather than .debug_aranges.
 *
 * libdw finds a unit by address only through .debug_aranges
 * (dwarf_addrdie, and libdwfl's dwfl_module_addrdie and
 * dwfl_module_getsrc): clang's default output and Go binaries have no such
 * section, and then no address has a unit, a line or an inline chain
 * (docs/design.md §4.2). This index is what those lookups lack: every
 * address range of every compile unit DIE that aranges leave out
 * (DW_AT_low_pc/DW_AT_high_pc, or DW_AT_ranges in .debug_ranges or DWARF
 * 5's .debug_rnglists, all read by dwarf_ranges), sorted once,
 * binary-searched per lookup.
 *
 * Addresses are DWARF addresses (a module address minus the bias that
 * dwfl_module_getdwarf gives). Type units and split DWARF (skeleton units)
 * are not indexed.
 */
#ifndef CPROF_CUINDEX_H
#define CPROF_CUINDEX_H

#include <stddef.h>
#include <elfutils/libdw.h>

struct cuindex;

/* Reads the address ranges of the compile units of dw that .debug_aranges
 * has no set for (every unit when there is no such section) and sorts them.
 * A unit with a set is left to libdw's own lookup: gcc writes a set with
 * all of a unit's code or none, and reading the first DIE and the ranges of
 * every unit of libc6-dbg takes 13-30 ms, of its 126 units without a set
 * (data only) 0.3-1.6 ms (docs/design.md §4.2).
 * A unit whose ranges cannot be read keeps those read before the error; a
 * range starting at 0 (a section the linker discarded) or empty is left
 * out. Returns 0 with *out set (an index with no range when there is none),
 * or -ENOMEM. The index refers to dw, which must outlive it. */
int cuindex_build(Dwarf *dw, struct cuindex **out);

/* The compile unit DIE whose ranges hold addr, copied into *result; NULL
 * when no unit covers addr. */
Dwarf_Die *cuindex_find(const struct cuindex *ix, Dwarf_Addr addr,
			Dwarf_Die *result);

/* Units and (merged) ranges in the index: for tests and measurements. */
size_t cuindex_units(const struct cuindex *ix);
size_t cuindex_ranges(const struct cuindex *ix);

void cuindex_free(struct cuindex *ix);

#endif

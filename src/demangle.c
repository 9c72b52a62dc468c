/*
 * demangle.c - symbol names as people read them (demangle.h,
 * docs/design.md §4.1).
 */
#include <stdlib.h>
#include <string.h>

#include <libiberty/demangle.h>

#include "demangle.h"

/* Parameter lists and cv-qualifiers, as c++filt, gdb and perf -v show C++
 * names; no DMGL_VERBOSE, which would keep Rust's hashes and crate
 * disambiguators. libiberty limits its recursion by default, so a hostile
 * name in a symbol table cannot exhaust the stack. */
#define DEMANGLE_OPTS (DMGL_PARAMS | DMGL_ANSI)

/* Length of name without a trailing suffix ending in ".suffix" followed
 * by digits only when digits is set (".llvm.4711"); len otherwise. */
static size_t demangle_cut(const char *name, size_t len, const char *suffix,
			   bool digits)
{
	size_t sl = strlen(suffix), end = len;

	if (digits) {
		while (end > 0 && name[end - 1] >= '0' && name[end - 1] <= '9')
			end--;
		if (end == len)
			return len;
	}
	if (end <= sl || memcmp(name + end - sl, suffix, sl) != 0)
		return len;
	return end - sl;
}

/* The name without the suffixes that are no part of it: ThinLTO renames a
 * local symbol it promotes to "NAME.llvm.<module hash>" (the same function,
 * not a clone); Go's linker names an assembly function's ABI0 symbol
 * "NAME.abi0" when an ABIInternal wrapper has the plain name, and with
 * -linkshared the ABIInternal one "NAME.abiinternal" (Go 1.19,
 * cmd/link/internal/ld/symtab.go mangleABIName). */
static size_t demangle_bare_len(const char *name)
{
	size_t len = strlen(name), n;

	len = demangle_cut(name, len, ".llvm.", true);
	n = demangle_cut(name, len, ".abi0", false);
	if (n == len)
		n = demangle_cut(name, len, ".abiinternal", false);
	return n;
}

/* Whether the C++ name whose tree is dc is printed with a parameter list:
 * a function (a typed name), or a clone or thunk of one; not data,
 * vtables, guard variables and the like. */
static bool demangle_cxx_params(const struct demangle_component *dc)
{
	while (dc) {
		switch (dc->type) {
		case DEMANGLE_COMPONENT_TYPED_NAME:
			return true;
		case DEMANGLE_COMPONENT_CLONE:
		case DEMANGLE_COMPONENT_THUNK:
		case DEMANGLE_COMPONENT_VIRTUAL_THUNK:
		case DEMANGLE_COMPONENT_COVARIANT_THUNK:
		case DEMANGLE_COMPONENT_TRANSACTION_CLONE:
		case DEMANGLE_COMPONENT_NONTRANSACTION_CLONE:
			dc = dc->u.s_binary.left;
			break;
		default:
			return false;
		}
	}
	return false;
}

/* A C++ name as cplus_demangle_v3 (and libstdc++'s __cxa_demangle, the
 * same code) prints it. Only a name it took is parsed again into a tree,
 * to tell whether it has a parameter list: cplus_demangle_v3 refuses a
 * name whose parse could exhaust the stack (over 1,024 bytes), the tree
 * parser does not check (a 100,000-byte "_Z1fIPPP..." crashed it). */
static char *demangle_cxx(const char *sym, bool *has_params)
{
	char *d = cplus_demangle_v3(sym, DEMANGLE_OPTS);
	void *mem = NULL;

	if (d && has_params) {
		const struct demangle_component *dc =
			cplus_demangle_v3_components(sym, DEMANGLE_OPTS, &mem);

		*has_params = dc && demangle_cxx_params(dc);
		free(mem);
	}
	return d;
}

char *demangle_name(const char *name, bool *has_params)
{
	size_t len, bare;
	char *sym = NULL, *d = NULL;

	if (has_params)
		*has_params = false;
	if (!name)
		return NULL;
	len = strlen(name);
	bare = demangle_bare_len(name);
	if (bare == 0)
		return NULL;
	sym = strndup(name, bare);
	if (!sym)
		return NULL;
	if (sym[0] == '_' && sym[1] == 'R') {
		/* Rust v0. */
		d = rust_demangle(sym, DEMANGLE_OPTS);
	} else if (sym[0] == '_' && sym[1] == 'Z') {
		/* Rust legacy names are Itanium nested names whose last
		 * component is "h" and 16 hex digits: libiberty's Rust
		 * demangler recognizes them and drops the hash; the rest is
		 * C++. */
		d = rust_demangle(sym, DEMANGLE_OPTS);
		if (!d)
			d = demangle_cxx(sym, has_params);
	}
	if (d) {
		free(sym);
		return d;
	}
	if (bare == len) {
		free(sym);
		return NULL;
	}
	return sym;
}

/*
 * demangle.h - symbol names as people read them: C++ and Rust names
 * demangled, linker and toolchain decorations removed (docs/design.md §4.1).
 *
 *   C++ (Itanium, _Z)        with its parameter list, as c++filt and gdb:
 *                            _ZN5names3cxx4spinEll -> names::cxx::spin(long, long)
 *   Rust legacy (_ZN...17h<16 hex>E)  without the hash, as perf shows:
 *                            _ZN4core3fmt5write17h0123456789abcdefE -> core::fmt::write
 *   Rust v0 (_R)             without crate disambiguators, as perf shows:
 *                            _RNvNtCs1234_7mycrate5inner4spin -> mycrate::inner::spin
 *   ThinLTO's ".llvm.<digits>" suffix of a promoted local symbol: dropped
 *   Go's ".abi0" and ".abiinternal" ABI suffixes: dropped
 *                            main.spinAsm.abi0 -> main.spinAsm
 * Everything else is shown as it is. Demangling is libiberty's (the GNU
 * binutils and gdb demangler, which has both Rust manglings).
 */
#ifndef CPROF_DEMANGLE_H
#define CPROF_DEMANGLE_H

#include <stdbool.h>

/* The name to show for the symbol name, malloc'd, or NULL when the name is
 * shown as it is (nothing to demangle or strip; also when out of memory:
 * a name is then shown raw rather than lost). *has_params (may be NULL)
 * tells whether the result carries the function's parameter list (a C++
 * function), so that a caller adding "(...)" does not add a second one. */
char *demangle_name(const char *name, bool *has_params);

#endif

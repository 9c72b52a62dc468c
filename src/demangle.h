/*
 * demangle.h - symbol names as people read them: C++ and Rust names
 * demangled, linker and toolchain decorations removed.
 */
#ifndef CPROF_DEMANGLE_H
#define CPROF_DEMANGLE_H

/* Demangles a C++/Rust symbol into a malloc'd string, or NULL if not
 * mangled. */
char *demangle_name(const char *name);

#endif

/*
 * demangle.c - symbol names as people read them.
 */
#include <stdlib.h>

#include "demangle.h"

/* libstdc++'s abi::__cxa_demangle has C linkage (cxxabi.h). */
extern char *__cxa_demangle(const char *mangled, char *buf, size_t *len,
			    int *status);

char *demangle_name(const char *name)
{
	int status = -1;
	char *d;

	/* Itanium C++ ABI names and Rust's legacy mangling start with _Z. */
	if (!name || name[0] != '_' || name[1] != 'Z')
		return NULL;
	d = __cxa_demangle(name, NULL, NULL, &status);
	if (status != 0) {
		free(d);
		return NULL;
	}
	return d;
}

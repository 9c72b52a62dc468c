/*
 * errmsg.h - the optional error-message buffer of the library's functions:
 * `char *err, size_t errlen` may be NULL/0, and a reason is written into it
 * when it is not. One definition for every module.
 */
#ifndef CPROF_ERRMSG_H
#define CPROF_ERRMSG_H

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

static inline void errmsg_set(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static inline void errmsg_set(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

#endif

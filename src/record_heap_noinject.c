/*
 * record_heap_noinject.c - a build without the injector (src/inject.c
 * absent): heap recordings need a record_heap_source of the caller's.
 */
#include <errno.h>
#include <stdio.h>

#include "record.h"

int record_heap_injector(struct record_heap_source *out)
{
	(void)out;
	return -ENOTSUP;
}

int record_heap_check(pid_t pid, char *err, size_t errlen)
{
	(void)pid;
	if (err && errlen)
		snprintf(err, errlen, "this build has no heap sampler injector");
	return -ENOTSUP;
}

/*
 * pprof_pb.h - short names for the protoc-c generated types of
 * profile.proto. Only the pprof_*.c files include the generated header.
 */
#ifndef CPROF_PPROF_PB_H
#define CPROF_PPROF_PB_H

#include <stdlib.h>

#include "profile.pb-c.h"

typedef Perftools__Profiles__Profile PbProfile;
typedef Perftools__Profiles__ValueType PbValueType;
typedef Perftools__Profiles__Sample PbSample;
typedef Perftools__Profiles__Label PbLabel;
typedef Perftools__Profiles__Mapping PbMapping;
typedef Perftools__Profiles__Location PbLocation;
typedef Perftools__Profiles__Line PbLine;
typedef Perftools__Profiles__Function PbFunction;

/* calloc that never returns NULL for n == 0, so NULL always means ENOMEM. */
static inline void *pprof_calloc(size_t n, size_t size)
{
	return calloc(n ? n : 1, size);
}

#endif

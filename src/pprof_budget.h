/*
 * pprof_budget.h - the memory decoding a profile.proto message takes,
 * known before decoding it (docs/design.md §6.1).
 */
#ifndef CPROF_PPROF_BUDGET_H
#define CPROF_PPROF_BUDGET_H

#include <stddef.h>
#include <stdint.h>

/* Walks the raw (not gzipped) message buf[0..len) and sets *cost to the
 * most bytes protobuf-c's unpack of it will have allocated at once,
 * malloc's rounding included: the message, and the scan lists it frees
 * as it goes. Returns 0, or -EBADMSG where the unpack would fail (a length
 * past the end, a bad varint, a group, a message field not
 * length-delimited). */
int pprof_budget_scan(const uint8_t *buf, size_t len, uint64_t *cost);

#endif

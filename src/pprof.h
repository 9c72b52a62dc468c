/*
 * pprof.h - profile.proto encoding and decoding, gzip.
 *
 * This is the only module that includes the protoc-c generated header.
 * Errors are negative errno values; EBADMSG means "not a pprof profile".
 * Where errmsg is given (may be NULL), a one-line reason is written to it.
 */
#ifndef CPROF_PPROF_H
#define CPROF_PPROF_H

#include <stddef.h>
#include <stdint.h>
#include "profile.h"

/* Encodes p as profile.proto and gzips it (output starts 1f 8b 08).
 * *out is malloc'd, the caller frees it. Returns 0 or -errno. */
int pprof_encode(const struct profile *p, uint8_t **out, size_t *outlen);

/* Same, without gzip (the raw protobuf message). */
int pprof_encode_raw(const struct profile *p, uint8_t **out, size_t *outlen);

/* Decodes a profile, gzipped or raw, as go tool pprof accepts either.
 * Returns 0 or -EBADMSG (not a profile) / -ENOMEM. */
int pprof_decode(const uint8_t *buf, size_t len, struct profile **out,
		 char *errmsg, size_t errlen);

/* Reads and decodes a file. -errno from open/read, or as pprof_decode. */
int pprof_read_file(const char *path, struct profile **out, char *errmsg,
		    size_t errlen);

#endif

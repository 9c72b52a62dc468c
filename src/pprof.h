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
/* gzip of any bytes (*out malloc'd). Returns 0 or -errno. */
int pprof_gzip(const uint8_t *raw, size_t rawlen, uint8_t **out, size_t *outlen);

/* Memory one decode may take (docs/design.md §6.1): the file, the
 * decompressed message, and what decoding builds from it, known before
 * it is built. Real profiles take a few times their decompressed size. */
#define PPROF_DEFAULT_MAX_MEMORY ((size_t)1 << 30)
/* And whatever the limit, what decoding builds is at most this many times
 * the decompressed message, plus PPROF_EXPANSION_SLACK: input made to
 * amplify (2-byte empty samples decode to ~100 bytes each) is refused. */
#define PPROF_MAX_EXPANSION 32
#define PPROF_EXPANSION_SLACK ((uint64_t)16 << 20)

/* Decodes a profile, gzipped or raw, as go tool pprof accepts either.
 * Returns 0, -EBADMSG (not a profile), -E2BIG (past the limits above;
 * errmsg says which) or -ENOMEM. pprof_decode uses the default limit. */
int pprof_decode(const uint8_t *buf, size_t len, struct profile **out,
		 char *errmsg, size_t errlen);
int pprof_decode_max(const uint8_t *buf, size_t len, size_t max_memory,
		     struct profile **out, char *errmsg, size_t errlen);

/* Reads and decodes a file. -errno from open/read, or as pprof_decode. */
int pprof_read_file(const char *path, struct profile **out, char *errmsg,
		    size_t errlen);
int pprof_read_file_max(const char *path, size_t max_memory, struct profile **out,
			char *errmsg, size_t errlen);

#endif

/*
 * pprof.h - profile.proto encoding and decoding, gzip, atomic file writes.
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

/* Writes data to path atomically: a temporary file in the same directory
 * (".NAME.XXXXXX"), fsync, rename. On any failure the temporary is removed
 * and path is untouched. Returns 0 or -errno. */
int pprof_write_atomic(const char *path, const uint8_t *data, size_t len);

/* Checks that a file could be created at path (directory exists and is
 * writable, path is not a directory) without leaving anything behind.
 * Returns 0 or -errno (ENOENT: no such directory, EACCES, EISDIR...). */
int pprof_check_writable(const char *path);

#endif

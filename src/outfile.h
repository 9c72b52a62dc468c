/*
 * outfile.h - writing what -o names without damaging it.
 *
 * A regular file, or a name where nothing exists yet, is replaced
 * atomically: a temporary file in its directory, written, fsync'd, renamed
 * over it. Symbolic links are followed to that file (a dangling one to the
 * file it names, as open(O_CREAT) would create it) and stay links; an
 * existing file keeps its mode and owner. A file that cannot be replaced
 * so (a directory that takes no new file, an owner we may not give, more
 * than one hard link) is rewritten in place. A character or block device,
 * a FIFO or a socket is opened and written in place, never replaced; "-"
 * is standard output. docs/design.md §5.
 *
 * Errors are negative errno values; where err is given (may be NULL), a
 * one-line reason without the path is written to it.
 */
#ifndef CPROF_OUTFILE_H
#define CPROF_OUTFILE_H

#include <stdbool.h>
#include <stddef.h>

struct outfile;

/* Resolves path and checks, before any work, that it can be written.
 * Leaves nothing behind, and creates nothing anywhere but in a regular
 * file's own directory (a temporary file, removed at once). A device or
 * FIFO is opened now and held until outfile_close; a FIFO with no reader
 * is not waited for here (see outfile_needs_reader). "-" is standard
 * output, which must be open for writing.
 * Returns 0 or -errno: EISDIR, ENOENT (its directory does not exist),
 * ENOTDIR, EACCES, EROFS, ELOOP, ECONNREFUSED (a socket nobody listens on),
 * EBADF (standard output closed)... */
int outfile_open(const char *path, struct outfile **out, char *err,
		 size_t errlen);

/* True for a FIFO that no process holds open for reading yet: writing to
 * it would block until one does. */
bool outfile_needs_reader(const struct outfile *of);

/* Blocks until a process opens the FIFO for reading. -EINTR when a signal
 * (with a handler) came first; it can be called again. */
int outfile_wait_reader(struct outfile *of, char *err, size_t errlen);

/* True when the output is a terminal. */
bool outfile_is_tty(const struct outfile *of);

/* True when the output is what standard output already refers to ("-",
 * or e.g. /dev/stdout): a child sharing our fd 1 would write into it. */
bool outfile_is_stdout(const struct outfile *of);

/* True when the output is a regular file, to be read back by name. */
bool outfile_is_file(const struct outfile *of);

/* Writes data, once. A file is resolved again (what the name refers to may
 * have changed during the work): a replaced file is untouched on failure.
 * A FIFO without a reader is waited for. Returns 0 or -errno (ENOSPC, EPIPE
 * when a FIFO's or pipe's reader went away, ...). */
int outfile_write(struct outfile *of, const void *data, size_t len,
		  char *err, size_t errlen);

/* Closes what outfile_open opened (never standard output) and frees of.
 * NULL is ignored. */
void outfile_close(struct outfile *of);

/* outfile_open, outfile_write, outfile_close: for a caller with the data
 * already in hand. */
int outfile_write_path(const char *path, const void *data, size_t len,
		       char *err, size_t errlen);

#endif

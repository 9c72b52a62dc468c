/*
 * escape.h - text from outside cprof made safe to print: thread names,
 * command lines, symbol and file names, strings of a profile file, anything
 * that reaches a terminal or a text output (docs/design.md §4.1).
 *
 * Bytes that a terminal would act on are written as escapes, everything
 * else as it is (valid UTF-8 stays readable):
 *   C0 controls   \a \b \t \n \v \f \r, others \xNN (ESC is \x1b)
 *   DEL           \x7f
 *   backslash     \\ (so that an escape in the output is always ours)
 *   C1 controls   U+0080..U+009F encoded in UTF-8: \u0080..\u009f
 *   line and paragraph separators U+2028/U+2029 and the bidirectional
 *                 overrides and isolates U+202A..U+202E, U+2066..U+2069:
 *                 \u2028 ...
 *   a byte that does not start valid UTF-8 (a raw C1 byte such as 0x9b
 *                 is CSI on a Latin-1 terminal; overlong forms, surrogates,
 *                 code points past U+10FFFF): \xNN, one byte at a time.
 * The escapes are those of Go's strconv.Quote, without the quotes.
 *
 * JSON output has its own escaping (\u00XX, threads_write.c); pprof files
 * keep the raw strings (they are data, not text to show).
 */
#ifndef CPROF_ESCAPE_H
#define CPROF_ESCAPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Writes s escaped to out (NULL writes nothing). Returns 0, or -EIO when out
 * has its error flag set afterwards. */
int escape_fputs(const char *s, FILE *out);

/* The first n bytes of s (or fewer, at a NUL), escaped, to out. */
int escape_fwrite(const char *s, size_t n, FILE *out);

/* s escaped into buf as snprintf would: at most len - 1 bytes and a NUL
 * (never half an escape); returns the length of the whole escaped string,
 * so that a result >= len means it was cut. */
size_t escape_str(char *buf, size_t len, const char *s);

/* Length of the valid UTF-8 sequence at p (at most avail bytes) and its
 * code point in *cp, or 0 when p does not start one: a stray continuation
 * byte, an overlong lead byte, a cut sequence, a surrogate, or a code
 * point past U+10FFFF. What every writer of names decides by. */
size_t escape_utf8(const unsigned char *p, size_t avail, uint32_t *cp);

/* True when s prints as it is (nothing to escape). */
bool escape_clean(const char *s);

#endif

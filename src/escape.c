/*
 * escape.c - text from outside made safe to print (escape.h,
 * docs/design.md §4.1).
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "escape.h"

/* See escape.h. */
size_t escape_utf8(const unsigned char *p, size_t avail, uint32_t *cp)
{
	unsigned char c = p[0];
	uint32_t v, min;
	size_t n;

	if (c >= 0xc2 && c <= 0xdf)
		n = 2, v = c & 0x1f, min = 0x80;
	else if (c >= 0xe0 && c <= 0xef)
		n = 3, v = c & 0x0f, min = 0x800;
	else if (c >= 0xf0 && c <= 0xf4)
		n = 4, v = c & 0x07, min = 0x10000;
	else
		return 0;
	if (n > avail)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		v = v << 6 | (p[i] & 0x3f);
	}
	if (v < min || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
		return 0;
	*cp = v;
	return n;
}

/* Code points that are printed escaped though valid: C1 controls, line and
 * paragraph separators, bidirectional overrides and isolates. */
static bool escape_codepoint(uint32_t cp)
{
	return cp <= 0x9f || cp == 0x2028 || cp == 0x2029 ||
	       (cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069);
}

/* What to print for the text at p (avail > 0 bytes, p[0] != 0): returns the
 * length of the escape written into tok, or 0 when the *used bytes at p
 * print as they are. */
static size_t escape_token(const unsigned char *p, size_t avail, char tok[8],
			   size_t *used)
{
	static const char named[] = "abtnvfr";	/* \a (7) .. \r (13) */
	unsigned char c = p[0];
	uint32_t cp;
	size_t n;

	*used = 1;
	if (c == '\\') {
		memcpy(tok, "\\\\", 2);
		return 2;
	}
	if (c >= 7 && c <= 13) {
		tok[0] = '\\';
		tok[1] = named[c - 7];
		return 2;
	}
	if (c < 0x20 || c == 0x7f)
		return (size_t)snprintf(tok, 8, "\\x%02x", c);
	if (c < 0x80)
		return 0;
	n = escape_utf8(p, avail, &cp);
	if (n == 0)
		return (size_t)snprintf(tok, 8, "\\x%02x", c);
	*used = n;
	if (escape_codepoint(cp))
		return (size_t)snprintf(tok, 8, "\\u%04x", (unsigned)cp);
	return 0;
}

int escape_fwrite(const char *s, size_t n, FILE *out)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, run = 0;

	if (!s)
		return 0;
	n = strnlen(s, n);
	while (i < n) {
		char tok[8];
		size_t used, t = escape_token(p + i, n - i, tok, &used);

		if (t == 0) {
			i += used;
			continue;
		}
		if (i > run)
			fwrite(p + run, 1, i - run, out);
		fwrite(tok, 1, t, out);
		i += used;
		run = i;
	}
	if (n > run)
		fwrite(p + run, 1, n - run, out);
	return ferror(out) ? -EIO : 0;
}

int escape_fputs(const char *s, FILE *out)
{
	return s ? escape_fwrite(s, strlen(s), out) : 0;
}

size_t escape_str(char *buf, size_t len, const char *s)
{
	const unsigned char *p = (const unsigned char *)(s ? s : "");
	size_t n = strlen((const char *)p), i = 0, o = 0, w = 0;
	bool full = len == 0;

	while (i < n) {
		char tok[8];
		size_t used, t = escape_token(p + i, n - i, tok, &used);
		size_t k = t ? t : used;

		/* Whole escapes and whole characters only: a cut output never
		 * ends in half an escape or half a UTF-8 sequence. */
		if (!full && o + k < len) {
			memcpy(buf + o, t ? tok : (const char *)p + i, k);
			w = o + k;
		} else {
			full = true;
		}
		o += k;
		i += used;
	}
	if (len)
		buf[w] = '\0';
	return o;
}

bool escape_clean(const char *s)
{
	const unsigned char *p = (const unsigned char *)(s ? s : "");
	size_t n = strlen((const char *)p);

	for (size_t i = 0; i < n;) {
		char tok[8];
		size_t used;

		if (escape_token(p + i, n - i, tok, &used))
			return false;
		i += used;
	}
	return true;
}

/*
 * test_escape.c - what escape.h writes for controls, backslashes, C1,
 * bidirectional overrides and invalid UTF-8; that valid UTF-8 passes; that
 * a cut output never ends in half an escape; and, on random bytes, that the
 * output is clean and decodes back to the input.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "escape.h"

static void check_esc(int line, const char *in, const char *want)
{
	char buf[256];
	size_t n = escape_str(buf, sizeof(buf), in);

	if (strcmp(buf, want) == 0 && n == strlen(want)) {
		check_passed++;
	} else {
		check_failed++;
		fprintf(stderr, "%s:%d: escaped to \"%s\" (%zu), expected \"%s\"\n",
			__FILE__, line, buf, n, want);
	}
	/* escape_fputs writes the same. */
	char *mem = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&mem, &len);
	if (!f)
		return;
	CHECK_INT(escape_fputs(in, f), 0);
	fclose(f);
	CHECK_STR(mem, want);
	free(mem);
	CHECK(escape_clean(in) == (strcmp(in, want) == 0));
}
#define ESC(in, want) check_esc(__LINE__, in, want)

static void test_cases(void)
{
	ESC("", "");
	ESC("main", "main");
	ESC("std::vector<int>::size() const", "std::vector<int>::size() const");
	/* A thread that retitles the terminal. */
	ESC("\033]0;pwned\a", "\\x1b]0;pwned\\a");
	ESC("a\tb\nc\rd\b\f\v", "a\\tb\\nc\\rd\\b\\f\\v");
	ESC("\x01\x1f\x7f", "\\x01\\x1f\\x7f");
	ESC("C:\\x1b", "C:\\\\x1b");	/* a literal backslash is not ours */
	/* Valid UTF-8 passes. */
	ESC("caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\xa6\x80",
	    "caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\xa6\x80");
	ESC("\xc2\xa0", "\xc2\xa0");			/* U+00A0 */
	/* C1 controls: raw (CSI on a Latin-1 terminal) and in UTF-8. */
	ESC("csi\x9b" "2J\x7f", "csi\\x9b2J\\x7f");
	ESC("\xc2\x9b" "2J", "\\u009b2J");
	ESC("\xc2\x85", "\\u0085");
	/* Line separators and bidirectional overrides (reordered text). */
	ESC("a\xe2\x80\xae" "b\xe2\x80\xa8", "a\\u202eb\\u2028");
	ESC("\xe2\x81\xa6x\xe2\x81\xa9", "\\u2066x\\u2069");
	/* Invalid UTF-8, one byte at a time. */
	ESC("\xc0\xaf", "\\xc0\\xaf");			/* overlong '/' */
	ESC("\xe0\x80\xaf", "\\xe0\\x80\\xaf");		/* overlong */
	ESC("\xed\xa0\x80", "\\xed\\xa0\\x80");		/* surrogate */
	ESC("\xf4\x90\x80\x80", "\\xf4\\x90\\x80\\x80");	/* > U+10FFFF */
	ESC("\xe6\x97", "\\xe6\\x97");			/* cut short */
	ESC("\xe6\x97x", "\\xe6\\x97x");
	ESC("\x80z", "\\x80z");				/* stray continuation */
	ESC("\xff", "\\xff");
}

static void test_cut(void)
{
	char buf[8];

	/* Never half an escape... */
	memset(buf, 'X', sizeof(buf));
	CHECK_INT(escape_str(buf, 5, "ab\033cd"), 8);
	CHECK_STR(buf, "ab");
	CHECK_INT(escape_str(buf, 7, "ab\033cd"), 8);
	CHECK_STR(buf, "ab\\x1b");
	/* ...nor half a character. */
	CHECK_INT(escape_str(buf, 4, "\xc3\xa9\xc3\xa9\xc3\xa9"), 6);
	CHECK_STR(buf, "\xc3\xa9");
	CHECK_INT(escape_str(buf, 1, "abc"), 3);
	CHECK_STR(buf, "");
	CHECK_INT(escape_str(NULL, 0, "a\nb"), 4);
	CHECK_INT(escape_str(buf, sizeof(buf), NULL), 0);
	CHECK_STR(buf, "");

	/* escape_fwrite: n bytes, or up to a NUL. */
	char *mem = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&mem, &len);
	if (!f)
		return;
	CHECK_INT(escape_fwrite("a\nbcd", 3, f), 0);
	CHECK_INT(escape_fwrite("x\0y", 3, f), 0);
	CHECK_INT(escape_fwrite("\xe6\x97\xa5", 2, f), 0);	/* cut: invalid */
	CHECK_INT(escape_fputs(NULL, f), 0);
	fclose(f);
	CHECK_STR(mem, "a\\nbx\\xe6\\x97");
	free(mem);
}

static int hexval(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Decodes escape.h's escapes; returns the length, or -1 on a malformed
 * escape. */
static long unescape(const char *s, unsigned char *out)
{
	static const char named[] = "abtnvfr";
	long o = 0;

	for (size_t i = 0; s[i];) {
		if (s[i] != '\\') {
			out[o++] = (unsigned char)s[i++];
			continue;
		}
		char c = s[i + 1];
		const char *k = c ? strchr(named, c) : NULL;
		if (c == '\\') {
			out[o++] = '\\';
			i += 2;
		} else if (k) {
			out[o++] = (unsigned char)(7 + (k - named));
			i += 2;
		} else if (c == 'x' && hexval(s[i + 2]) >= 0 && hexval(s[i + 3]) >= 0) {
			out[o++] = (unsigned char)(hexval(s[i + 2]) * 16 + hexval(s[i + 3]));
			i += 4;
		} else if (c == 'u') {
			uint32_t cp = 0;
			for (int j = 2; j < 6; j++) {
				if (hexval(s[i + j]) < 0)
					return -1;
				cp = cp * 16 + (uint32_t)hexval(s[i + j]);
			}
			if (cp < 0x800) {
				out[o++] = (unsigned char)(0xc0 | cp >> 6);
			} else {
				out[o++] = (unsigned char)(0xe0 | cp >> 12);
				out[o++] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
			}
			out[o++] = (unsigned char)(0x80 | (cp & 0x3f));
			i += 6;
		} else {
			return -1;
		}
	}
	return o;
}

static void test_random(void)
{
	/* Random bytes biased towards the interesting ones. */
	static const unsigned char pick[] = {
		0x1b, '\\', '\n', 0x7f, 0x80, 0x9b, 0xc2, 0xc3, 0xe2, 0x80,
		0xae, 0xa8, 0xed, 0xf0, 0xf4, 0x9f, 0xff, 'a', 'x', 'u',
	};
	unsigned seed = 12345;
	int bad_clean = 0, bad_round = 0, bad_bytes = 0;

	for (int iter = 0; iter < 20000; iter++) {
		unsigned char in[33], back[200];
		char out[200];
		int n = 1 + (int)((seed = seed * 1103515245 + 12345) >> 16) % 32;

		for (int i = 0; i < n; i++) {
			seed = seed * 1103515245 + 12345;
			unsigned r = seed >> 16;
			in[i] = r % 3 ? pick[r % sizeof(pick)] : (unsigned char)(1 + r % 255);
		}
		in[n] = '\0';
		escape_str(out, sizeof(out), (const char *)in);
		/* Nothing left to escape but the escapes' own backslashes. */
		char nobs[200];
		size_t k = 0;
		for (const char *p = out; *p; p++)
			if (*p != '\\')
				nobs[k++] = *p;
		nobs[k] = '\0';
		if (!escape_clean(nobs))
			bad_clean++;
		for (const unsigned char *p = (const unsigned char *)out; *p; p++)
			if (*p < 0x20 || *p == 0x7f)
				bad_bytes++;
		long m = unescape(out, back);
		if (m != n || memcmp(back, in, (size_t)n) != 0)
			bad_round++;
	}
	CHECK_INT(bad_clean, 0);
	CHECK_INT(bad_bytes, 0);
	CHECK_INT(bad_round, 0);
}

int main(void)
{
	test_cases();
	test_cut();
	test_random();
	return check_done();
}

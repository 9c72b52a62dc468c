/*
 * hexdigit.h - the value of one hexadecimal digit, for the parsers of text
 * the target or a client hands us (perf maps, URL escapes, symbol
 * addresses).
 */
#ifndef CPROF_HEXDIGIT_H
#define CPROF_HEXDIGIT_H

/* 0-15, or -1 when c is not a hex digit (either case). */
static inline int hexdigit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

#endif

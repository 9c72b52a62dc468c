/*
 * http_int.h - what http.c (the server) and http_pure.c (its pure
 * helpers) share beyond http.h. Private to them.
 */
#ifndef CPROF_HTTP_INT_H
#define CPROF_HTTP_INT_H

#include <stddef.h>
#include <stdbool.h>

#define TEXT_PLAIN "text/plain; charset=utf-8"
#define TEXT_HTML "text/html; charset=utf-8"
#define OCTET_STREAM "application/octet-stream"

/* A growing text buffer for reply bodies: sb_printf appends (an allocation
 * failure sets oom and makes the rest no-ops), sb_finish hands the text
 * over or -ENOMEM. */
struct sbuf {
	char *s;
	size_t len, cap;
	bool oom;
};
void sb_printf(struct sbuf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
int sb_finish(struct sbuf *b, char **body, size_t *len);
/* Appends s with & < > " ' escaped. */
void html_escape(struct sbuf *b, const char *s);

/* strconv.Atoi: an optional sign and decimal digits. Out of range is
 * -ERANGE with *v the value's sign (+1 or -1); a non-digit anywhere is
 * -EINVAL. */
int parse_go_int(const char *s, long long *v);

#endif

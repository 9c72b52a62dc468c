/*
 * trace.c - Chrome Trace Event JSON (see trace.h).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE	/* asprintf */
#endif
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "trace.h"

struct trace {
	uint64_t start;
	char *buf;
	size_t len, cap;
	size_t events;
	int oom;
};

struct trace *trace_new(void)
{
	return calloc(1, sizeof(struct trace));
}

void trace_set_start(struct trace *t, uint64_t start)
{
	t->start = start;
}

void trace_free(struct trace *t)
{
	if (!t)
		return;
	free(t->buf);
	free(t);
}

static void tr_reserve(struct trace *t, size_t more)
{
	if (t->oom || t->len + more + 1 <= t->cap)
		return;
	size_t cap = t->cap ? t->cap : 65536;
	while (cap < t->len + more + 1)
		cap *= 2;
	char *nb = realloc(t->buf, cap);
	if (!nb) {
		t->oom = 1;
		return;
	}
	t->buf = nb;
	t->cap = cap;
}

static void tr_printf(struct trace *t, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void tr_printf(struct trace *t, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0) {
		t->oom = 1;
		return;
	}
	tr_reserve(t, (size_t)n);
	if (t->oom)
		return;
	va_start(ap, fmt);
	vsnprintf(t->buf + t->len, t->cap - t->len, fmt, ap);
	va_end(ap);
	t->len += (size_t)n;
}

/* A JSON string: quotes, backslashes and every byte below 0x20 or above
 * 0x7e escaped (bytes >= 0x80 as \u00XX: valid JSON whatever they are). */
static void tr_str(struct trace *t, const char *s)
{
	static const char hex[] = "0123456789abcdef";

	tr_reserve(t, 2 + 6 * strlen(s ? s : ""));
	if (t->oom)
		return;
	t->buf[t->len++] = '"';
	for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
		if (*p == '"' || *p == '\\') {
			t->buf[t->len++] = '\\';
			t->buf[t->len++] = (char)*p;
		} else if (*p < 0x20 || *p > 0x7e) {
			memcpy(t->buf + t->len, "\\u00", 4);
			t->buf[t->len + 4] = hex[*p >> 4];
			t->buf[t->len + 5] = hex[*p & 15];
			t->len += 6;
		} else {
			t->buf[t->len++] = (char)*p;
		}
	}
	t->buf[t->len++] = '"';
}

static double tr_us(const struct trace *t, uint64_t ns)
{
	return ns > t->start ? (double)(ns - t->start) / 1e3 : 0.0;
}

/* The separator before each event. */
static void tr_next(struct trace *t)
{
	tr_printf(t, "%s\n", t->events++ ? "," : "");
}

static int tr_status(const struct trace *t)
{
	return t->oom ? -ENOMEM : 0;
}

int trace_process_name(struct trace *t, pid_t pid, const char *name)
{
	tr_next(t);
	tr_printf(t, "{\"name\":\"process_name\",\"ph\":\"M\",\"pid\":%d,\"tid\":%d,"
		  "\"args\":{\"name\":", (int)pid, (int)pid);
	tr_str(t, name);
	tr_printf(t, "}}");
	return tr_status(t);
}

int trace_thread_name(struct trace *t, pid_t pid, pid_t tid, const char *name)
{
	tr_next(t);
	tr_printf(t, "{\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":%d,\"tid\":%d,"
		  "\"args\":{\"name\":", (int)pid, (int)tid);
	tr_str(t, name);
	tr_printf(t, "}}");
	return tr_status(t);
}

static void tr_stack(struct trace *t, const char *const *stack, size_t n)
{
	tr_printf(t, "\"stack\":[");
	for (size_t i = 0; i < n; i++) {
		if (i)
			tr_printf(t, ",");
		tr_str(t, stack[i]);
	}
	tr_printf(t, "]");
}

int trace_slice(struct trace *t, pid_t pid, pid_t tid, const char *name,
		const char *cat, uint64_t start, uint64_t end, int cpu,
		const char *const *stack, size_t nstack)
{
	double ts = tr_us(t, start), te = tr_us(t, end);

	tr_next(t);
	tr_printf(t, "{\"name\":");
	tr_str(t, name);
	tr_printf(t, ",\"cat\":");
	tr_str(t, cat);
	tr_printf(t, ",\"ph\":\"X\",\"ts\":%.3f,\"dur\":%.3f,\"pid\":%d,\"tid\":%d,\"args\":{",
		  ts, te > ts ? te - ts : 0.0, (int)pid, (int)tid);
	if (cpu >= 0)
		tr_printf(t, "\"cpu\":%d%s", cpu, nstack ? "," : "");
	if (nstack)
		tr_stack(t, stack, nstack);
	tr_printf(t, "}}");
	return tr_status(t);
}

int trace_sample(struct trace *t, pid_t pid, pid_t tid, uint64_t time,
		 const char *const *stack, size_t nstack)
{
	tr_next(t);
	tr_printf(t, "{\"name\":\"cpu sample\",\"cat\":\"sample\",\"ph\":\"i\",\"s\":\"t\","
		  "\"ts\":%.3f,\"pid\":%d,\"tid\":%d,\"args\":{", tr_us(t, time),
		  (int)pid, (int)tid);
	tr_stack(t, stack, nstack);
	tr_printf(t, "}}");
	return tr_status(t);
}

int trace_finish(struct trace *t, uint64_t duration, char **json, size_t *len)
{
	char *head = NULL;
	int hlen;

	hlen = asprintf(&head, "{\"displayTimeUnit\":\"ms\",\"otherData\":{\"producer\":\"cprof\","
			"\"window_us\":%.3f},\"traceEvents\":[", (double)duration / 1e3);
	if (hlen < 0)
		return -ENOMEM;
	tr_printf(t, "\n]}\n");
	tr_reserve(t, (size_t)hlen);
	if (t->oom) {
		free(head);
		return -ENOMEM;
	}
	memmove(t->buf + hlen, t->buf, t->len);
	memcpy(t->buf, head, (size_t)hlen);
	t->len += (size_t)hlen;
	t->buf[t->len] = '\0';
	free(head);
	*json = t->buf;
	*len = t->len;
	t->buf = NULL;
	t->len = t->cap = 0;
	t->events = 0;
	return 0;
}

size_t trace_events(const struct trace *t)
{
	return t->events;
}

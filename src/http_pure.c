/*
 * http_pure.c - the side-effect-free half of serve (http.h): listen
 * addresses, query strings, Go's parameter rules and error texts, the
 * index, cmdline and symbol bodies, access-log lines. What the unit tests
 * and the http fuzzer exercise; http_server.c and http_endpoints.c use them.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE	/* vasprintf */
#endif
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "errmsg.h"
#include "escape.h"
#include "hexdigit.h"
#include "http.h"
#include "http_int.h"

/* --- pure helpers ------------------------------------------------------ */

static int parse_port(const char *s, unsigned *port)
{
	if (!*s)
		return -EINVAL;
	unsigned long v = 0;
	for (const char *p = s; *p; p++) {
		if (*p < '0' || *p > '9')
			return -EINVAL;
		v = v * 10 + (unsigned long)(*p - '0');
		if (v > 65535)
			return -EINVAL;
	}
	*port = (unsigned)v;
	return 0;
}

int http_parse_listen(const char *spec, char *host, size_t hostlen,
		      unsigned *port, char *err, size_t errlen)
{
	const char *colon;
	size_t hl;
	const char *h = spec;

	if (spec[0] == '[') {
		const char *close = strchr(spec, ']');
		if (!close || close[1] != ':') {
			errmsg_set(err, errlen, "expected [IPV6]:PORT");
			return -EINVAL;
		}
		h = spec + 1;
		hl = (size_t)(close - h);
		colon = close + 1;
	} else {
		colon = strrchr(spec, ':');
		if (!colon) {
			errmsg_set(err, errlen, "expected [HOST]:PORT, such as :8080 or 127.0.0.1:8080");
			return -EINVAL;
		}
		hl = (size_t)(colon - spec);
		if (memchr(spec, ':', hl)) {
			errmsg_set(err, errlen, "write an IPv6 address in brackets, as [::1]:8080");
			return -EINVAL;
		}
	}
	if (hl >= hostlen) {
		errmsg_set(err, errlen, "host name too long");
		return -EINVAL;
	}
	if (parse_port(colon + 1, port) < 0) {
		errmsg_set(err, errlen, "port must be a number from 0 to 65535");
		return -EINVAL;
	}
	memcpy(host, h, hl);
	host[hl] = '\0';
	return 0;
}

/* Decodes [s, s+n) as Go's url.QueryUnescape. Returns the length, -EINVAL
 * on a bad escape or -ENOSPC when out cannot hold it and a NUL. */
static int query_unescape(const char *s, size_t n, char *out, size_t outlen)
{
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (c == '%') {
			int hi, lo;
			if (i + 2 >= n)
				return -EINVAL;
			hi = hexdigit(s[i + 1]);
			lo = hexdigit(s[i + 2]);
			if (hi < 0 || lo < 0)
				return -EINVAL;
			c = (char)(hi * 16 + lo);
			i += 2;
		} else if (c == '+') {
			c = ' ';
		}
		if (o + 1 >= outlen)
			return -ENOSPC;
		out[o++] = c;
	}
	out[o] = '\0';
	return (int)o;
}

int http_query_get(const char *query, const char *key, char *buf,
		   size_t buflen)
{
	char kbuf[64];
	const char *p = query;

	if (!query)
		return 0;
	while (*p) {
		size_t len = strcspn(p, "&");
		const char *eq = memchr(p, '=', len);
		size_t klen = eq ? (size_t)(eq - p) : len;
		/* Go's ParseQuery skips a pair whose key or value does not
		 * decode (and FormValue ignores that error). */
		if (len && query_unescape(p, klen, kbuf, sizeof(kbuf)) >= 0 &&
		    !strcmp(kbuf, key)) {
			if (!eq) {
				if (!buflen)
					return -EINVAL;
				buf[0] = '\0';
				return 1;
			}
			int r = query_unescape(eq + 1, len - klen - 1, buf, buflen);
			if (r >= 0)
				return 1;
			if (r == -ENOSPC)
				return -EINVAL;
		}
		p += len;
		if (*p == '&')
			p++;
	}
	return 0;
}

static const struct {
	const char *name;
	enum http_route route;
} routes[] = {
	{ "allocs", HTTP_ROUTE_HEAP },
	{ "block", HTTP_ROUTE_BLOCK },
	{ "cmdline", HTTP_ROUTE_CMDLINE },
	{ "goroutine", HTTP_ROUTE_THREADS },
	{ "heap", HTTP_ROUTE_HEAP },
	{ "mutex", HTTP_ROUTE_MUTEX },
	{ "profile", HTTP_ROUTE_PROFILE },
	{ "symbol", HTTP_ROUTE_SYMBOL },
	{ "threadcreate", HTTP_ROUTE_THREADCREATE },
	{ "threads", HTTP_ROUTE_THREADS },
	{ "trace", HTTP_ROUTE_TRACE },
	{ "wall", HTTP_ROUTE_WALL },
};

enum http_route http_route_path(const char *path, const char **name)
{
	static const char prefix[] = "/debug/pprof/";
	*name = NULL;
	if (!strcmp(path, "/debug/pprof"))
		return HTTP_ROUTE_REDIRECT;
	if (strncmp(path, prefix, sizeof(prefix) - 1) != 0)
		return HTTP_ROUTE_NOT_FOUND;
	const char *rest = path + sizeof(prefix) - 1;
	*name = rest;
	/* Go's Index serves everything under the prefix: an empty name is
	 * the index, any other name a profile lookup. */
	if (!*rest)
		return HTTP_ROUTE_INDEX;
	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++)
		if (!strcmp(rest, routes[i].name))
			return routes[i].route;
	return HTTP_ROUTE_UNKNOWN;
}

void http_reply_release(struct http_reply *r)
{
	free(r->body);
	memset(r, 0, sizeof(*r));
}

int http_reply_error(struct http_reply *r, int status, const char *fmt, ...)
{
	va_list ap;
	char *text = NULL;

	free(r->body);
	memset(r, 0, sizeof(*r));
	r->status = status;
	r->content_type = TEXT_PLAIN;
	r->go_error = true;
	va_start(ap, fmt);
	int n = vasprintf(&text, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -ENOMEM;
	/* fmt.Fprintln(w, txt) */
	char *b = realloc(text, (size_t)n + 2);
	if (!b) {
		free(text);
		return -ENOMEM;
	}
	b[n] = '\n';
	b[n + 1] = '\0';
	r->body = b;
	r->len = (size_t)n + 1;
	return 0;
}

/* strconv.Atoi: an optional sign and decimal digits. Out of range is
 * -ERANGE with *v the value's sign (+1 or -1), checked before each digit
 * is added: the accumulator never wraps, so 2^64 + 1 is not 1. A
 * non-digit anywhere is -EINVAL, out of range or not. */
int parse_go_int(const char *s, long long *v)
{
	const char *p = s;
	bool neg = false, over = false;
	unsigned long long x = 0, lim;

	if (*p == '+' || *p == '-')
		neg = *p++ == '-';
	if (!*p)
		return -EINVAL;
	/* |LLONG_MIN| = LLONG_MAX + 1 */
	lim = (unsigned long long)LLONG_MAX + (neg ? 1 : 0);
	for (; *p; p++) {
		if (*p < '0' || *p > '9')
			return -EINVAL;
		unsigned d = (unsigned)(*p - '0');
		if (over || x > (lim - d) / 10)
			over = true;
		else
			x = x * 10 + d;
	}
	if (over) {
		*v = neg ? -1 : 1;
		return -ERANGE;
	}
	*v = neg ? (x == lim ? LLONG_MIN : -(long long)x) : (long long)x;
	return 0;
}

int http_check_profile_seconds(const char *value, unsigned def, unsigned max,
			       unsigned *out, struct http_reply *r)
{
	long long v;

	if (!value || !*value) {
		*out = def < max ? def : max;
		return 0;
	}
	/* Go's Profile handler falls back to 30 s on a bad value; we answer
	 * with the 400 its delta profiles give, so that a typo ("5s") is not
	 * silently a 30 s wait. */
	int e = parse_go_int(value, &v);
	if (e == -EINVAL || v <= 0) {
		http_reply_error(r, 400, "invalid value for \"seconds\" - must be a positive integer");
		return -EINVAL;
	}
	if (e == -ERANGE || v > (long long)max) {
		http_reply_error(r, 400,
				 "profile duration exceeds the server's limit of %u seconds",
				 max);
		return -EINVAL;
	}
	*out = (unsigned)v;
	return 0;
}

int http_check_debug(const char *value, int *out, struct http_reply *r)
{
	long long v;

	if (!value || !*value) {
		*out = 0;
		return 0;
	}
	int e = parse_go_int(value, &v);
	if (e == -EINVAL || v < 0) {
		http_reply_error(r, 400, "invalid value for \"debug\" - must be 0, 1 or 2");
		return -EINVAL;
	}
	/* Go: any debug >= 2 asks for the full dump. */
	*out = (e == -ERANGE || v >= 2) ? 2 : (int)v;
	return 0;
}

/* strconv.ParseUint(word, 0, 64); surrounding white space is allowed
 * (a POST body may end in a newline). */
static int parse_go_uint(const char *s, size_t n, uint64_t *v)
{
	while (n && (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r'))
		s++, n--;
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\n' ||
		     s[n - 1] == '\r'))
		n--;
	unsigned base = 10;
	if (n >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
		base = 16, s += 2, n -= 2;
	else if (n >= 2 && s[0] == '0' && (s[1] == 'b' || s[1] == 'B'))
		base = 2, s += 2, n -= 2;
	else if (n >= 2 && s[0] == '0' && (s[1] == 'o' || s[1] == 'O'))
		base = 8, s += 2, n -= 2;
	else if (n >= 2 && s[0] == '0')
		base = 8, s += 1, n -= 1;
	if (!n)
		return -EINVAL;
	uint64_t x = 0;
	for (size_t i = 0; i < n; i++) {
		int d = hexdigit(s[i]);
		if (d < 0 || (unsigned)d >= base)
			return -EINVAL;
		if (x > (UINT64_MAX - (unsigned)d) / base)
			return -ERANGE;
		x = x * base + (unsigned)d;
	}
	*v = x;
	return 0;
}

int http_parse_symbol_request(const char *text, size_t len, uint64_t **addrs,
			      size_t *n)
{
	size_t cap = 0, cnt = 0;
	uint64_t *a = NULL;
	size_t i = 0;

	while (i < len) {
		const char *w = text + i;
		const char *plus = memchr(w, '+', len - i);
		size_t wl = plus ? (size_t)(plus - w) : len - i;
		uint64_t v;
		if (parse_go_uint(w, wl, &v) == 0 && v != 0) {
			if (cnt == cap) {
				size_t nc = cap ? cap * 2 : 16;
				uint64_t *na = realloc(a, nc * sizeof(*na));
				if (!na) {
					free(a);
					return -ENOMEM;
				}
				a = na;
				cap = nc;
			}
			a[cnt++] = v;
		}
		i += wl + 1;
	}
	*addrs = a;
	*n = cnt;
	return 0;
}

void sb_printf(struct sbuf *b, const char *fmt, ...)
{
	va_list ap;
	if (b->oom)
		return;
	for (;;) {
		size_t room = b->cap - b->len;
		va_start(ap, fmt);
		int n = vsnprintf(b->s ? b->s + b->len : NULL, room, fmt, ap);
		va_end(ap);
		if (n < 0) {
			b->oom = true;
			return;
		}
		if ((size_t)n < room) {
			b->len += (size_t)n;
			return;
		}
		size_t nc = b->cap ? b->cap * 2 : 1024;
		while (nc < b->len + (size_t)n + 1)
			nc *= 2;
		char *ns = realloc(b->s, nc);
		if (!ns) {
			b->oom = true;
			return;
		}
		b->s = ns;
		b->cap = nc;
	}
}

int sb_finish(struct sbuf *b, char **body, size_t *len)
{
	if (b->oom || !b->s) {
		free(b->s);
		return -ENOMEM;
	}
	*body = b->s;
	*len = b->len;
	return 0;
}

int http_symbol_body(const uint64_t *addrs, size_t n,
		     const char *(*lookup)(uint64_t addr, void *arg), void *arg,
		     char **body, size_t *len)
{
	struct sbuf b = { 0 };
	sb_printf(&b, "num_symbols: 1\n");
	for (size_t i = 0; i < n; i++) {
		const char *name = lookup(addrs[i], arg);
		if (name)
			sb_printf(&b, "0x%" PRIx64 " %s\n", addrs[i], name);
	}
	return sb_finish(&b, body, len);
}

void html_escape(struct sbuf *b, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '<': sb_printf(b, "&lt;"); break;
		case '>': sb_printf(b, "&gt;"); break;
		case '&': sb_printf(b, "&amp;"); break;
		case '"': sb_printf(b, "&#34;"); break;
		case '\'': sb_printf(b, "&#39;"); break;
		default: sb_printf(b, "%c", *s); break;
		}
	}
}

static const struct {
	const char *name;
	bool counted;		/* count = number of threads */
	bool available;
	const char *href;
	const char *desc;
} index_entries[] = {
	{ "allocs", false, true, "allocs",
	  "A sampling of past memory allocations (about one every 512 KiB allocated), taken by a sampler cprof injects into the process at the first heap or allocs request and keeps while it serves. Add the seconds GET parameter for what was allocated during that many seconds, debug=1 for text." },
	{ "block", false, true, "block?seconds=5",
	  "Where threads waited off the CPU (sleeps, locks, I/O), each wait weighted by its length, under the system call it waited in, over the seconds GET parameter (default 30). Needs root or CAP_PERFMON." },
	{ "cmdline", false, true, "cmdline",
	  "The command line of the process, arguments separated by NUL bytes." },
	{ "goroutine", true, true, "goroutine?debug=1",
	  "Stack traces of all current threads of the process (a native process has threads, not goroutines), taken with ptrace. Use debug=2 for one stack per thread." },
	{ "heap", false, true, "heap",
	  "A sampling of memory allocations of live objects: in use means allocated since sampling began (the first heap or allocs request) and not yet freed. Add the seconds GET parameter for a delta, debug=1 for text; gc is accepted and ignored." },
	{ "mutex", false, true, "mutex?seconds=5",
	  "The waits for a lock (pthread mutexes and rwlocks, glibc's locks) among the block profile's, with the thread that woke the waiter (usually the holder) as a label." },
	{ "profile", false, true, "profile",
	  "CPU profile of every thread, sampled with perf_event_open. You can specify the duration in the seconds GET parameter. After you get the profile file, use the go tool pprof command to investigate the profile." },
	{ "threadcreate", true, true, "threadcreate?debug=1",
	  "Threads grouped by their start routine: the outermost frames of each thread's current stack (_start/main, or start_thread and the function passed to pthread_create). A foreign process keeps no record of where threads were created, so this is what can honestly be shown." },
	{ "threads", true, true, "threads?debug=1",
	  "The same as goroutine, under its native name." },
	{ "trace", false, true, "trace?seconds=5",
	  "A timeline of every thread over the seconds GET parameter: when it ran and on which CPU, when it waited and in what, and its CPU samples, as Chrome Trace Event JSON (gzipped when the client accepts gzip). Open it in Perfetto UI, chrome://tracing or speedscope; go tool trace cannot read it." },
	{ "wall", false, true, "wall?seconds=5",
	  "Wall-clock profile: CPU samples and off-CPU waits of every thread together (labelled state=on-cpu or off-cpu), so that each thread adds up to the seconds asked for." },
};

int http_index_html(pid_t pid, const char *comm, long nthreads, char **body,
		    size_t *len)
{
	struct sbuf b = { 0 };

	sb_printf(&b, "<html>\n<head>\n<title>/debug/pprof/</title>\n"
		  "<style>\n.profile-name{\n\tdisplay:inline-block;\n\twidth:6rem;\n}\n</style>\n"
		  "</head>\n<body>\n/debug/pprof/ of process %d (", (int)pid);
	html_escape(&b, comm ? comm : "?");
	sb_printf(&b, "), served by cprof\n<br>\n"
		  "<p>Set debug=1 as a query parameter to export in legacy text format</p>\n"
		  "<br>\nTypes of profiles available:\n<table>\n"
		  "<thead><td>Count</td><td>Profile</td></thead>\n");
	for (size_t i = 0; i < sizeof(index_entries) / sizeof(index_entries[0]); i++) {
		if (index_entries[i].counted && nthreads >= 0)
			sb_printf(&b, "<tr><td>%ld</td>", nthreads);
		else if (index_entries[i].available)
			sb_printf(&b, "<tr><td>0</td>");
		else
			sb_printf(&b, "<tr><td>n/a</td>");
		sb_printf(&b, "<td><a href='%s'>%s</a>%s</td></tr>\n",
			  index_entries[i].href, index_entries[i].name,
			  index_entries[i].available ? "" : " (not yet available)");
	}
	sb_printf(&b, "</table>\n<a href=\"goroutine?debug=2\">full thread stack dump</a>\n"
		  "<br>\n<a href=\"../../ui/\">flame graphs and the thread dump in the browser</a>\n"
		  "<br>\n<p>\nProfile Descriptions:\n<ul>\n");
	for (size_t i = 0; i < sizeof(index_entries) / sizeof(index_entries[0]); i++)
		sb_printf(&b, "<li><div class=profile-name>%s: </div> %s</li>\n",
			  index_entries[i].name, index_entries[i].desc);
	sb_printf(&b, "</ul>\n</p>\n</body>\n</html>\n");
	return sb_finish(&b, body, len);
}

int http_cmdline_body(const char *procbuf, size_t proclen, char **body,
		      size_t *len)
{
	size_t n = proclen;
	if (n && procbuf[n - 1] == '\0')
		n--;
	char *b = malloc(n + 1);
	if (!b)
		return -ENOMEM;
	if (n)
		memcpy(b, procbuf, n);
	b[n] = '\0';
	*body = b;
	*len = n;
	return 0;
}

/* Client-supplied text for a log line: escape what could fake a line or a
 * terminal sequence, and keep it short. */
static void log_escape(char *out, size_t outlen, const char *in)
{
	size_t o = 0;
	const unsigned char *p = (const unsigned char *)(in ? in : "-");
	for (; *p; p++) {
		if (o + 8 >= outlen) {
			memcpy(out + o, "...", 3);
			o += 3;
			break;
		}
		if (*p <= 0x20 || *p >= 0x7f || *p == '%')
			o += (size_t)snprintf(out + o, outlen - o, "%%%02X", *p);
		else
			out[o++] = (char)*p;
	}
	out[o] = '\0';
}

int http_access_line(char *buf, size_t len, const char *peer,
		     const char *method, const char *uri, int status,
		     size_t bytes, double ms)
{
	char m[32], u[256], st[16];
	log_escape(m, sizeof(m), method);
	log_escape(u, sizeof(u), uri);
	if (status > 0)
		snprintf(st, sizeof(st), "%d", status);
	else
		snprintf(st, sizeof(st), "-");
	int n = snprintf(buf, len, "%s %s %s %s %zu %.1fms", peer ? peer : "-",
			 m, u, st, bytes, ms);
	return n < 0 ? -EINVAL : 0;
}


static void sb_escaped(struct sbuf *b, const char *s)
{
	char small[256];
	size_t n = escape_str(small, sizeof(small), s);

	if (n < sizeof(small)) {
		sb_printf(b, "%s", small);
		return;
	}
	char *big = malloc(n + 1);
	if (!big) {
		b->oom = true;
		return;
	}
	escape_str(big, n + 1, s);
	sb_printf(b, "%s", big);
	free(big);
}

/* One stack of a contention profile: samples that differ only in their
 * labels (thread, waker) are one entry in Go's text, as they are one
 * record in its runtime. */
struct contention {
	const struct profile_sample *s;	/* the first sample of the stack */
	int64_t count, delay;
};

static int cmp_stack(const void *a, const void *b)
{
	const struct profile_sample *x = *(const struct profile_sample *const *)a;
	const struct profile_sample *y = *(const struct profile_sample *const *)b;

	if (x->nlocations != y->nlocations)
		return x->nlocations < y->nlocations ? -1 : 1;
	for (size_t i = 0; i < x->nlocations; i++)
		if (x->location_ids[i] != y->location_ids[i])
			return x->location_ids[i] < y->location_ids[i] ? -1 : 1;
	return 0;
}

static int cmp_delay_desc(const void *a, const void *b)
{
	const struct contention *x = a, *y = b;

	if (x->delay != y->delay)
		return x->delay < y->delay ? 1 : -1;
	return cmp_stack(&x->s, &y->s);
}

int http_contention_text(const struct profile *p, bool mutex, char **body,
			 size_t *len)
{
	struct sbuf b = { 0 };
	const struct profile_sample **bystack = NULL;
	struct contention *c = NULL;
	size_t nc = 0;

	if (p->nsample_types != 2)
		return -EINVAL;
	if (p->nsamples) {
		bystack = malloc(p->nsamples * sizeof(*bystack));
		c = malloc(p->nsamples * sizeof(*c));
		if (!bystack || !c) {
			free(bystack);
			free(c);
			return -ENOMEM;
		}
		for (size_t i = 0; i < p->nsamples; i++)
			bystack[i] = &p->samples[i];
		qsort(bystack, p->nsamples, sizeof(*bystack), cmp_stack);
		for (size_t i = 0; i < p->nsamples; i++) {
			if (!nc || cmp_stack(&c[nc - 1].s, &bystack[i]) != 0)
				c[nc++] = (struct contention){ .s = bystack[i] };
			c[nc - 1].count += bystack[i]->values[0];
			c[nc - 1].delay += bystack[i]->values[1];
		}
		qsort(c, nc, sizeof(*c), cmp_delay_desc);
	}
	sb_printf(&b, "--- contention:\ncycles/second=1000000000\n");
	if (mutex)
		sb_printf(&b, "sampling period=1\n");
	for (size_t k = 0; k < nc; k++) {
		const struct profile_sample *s = c[k].s;

		sb_printf(&b, "%" PRId64 " %" PRId64 " @", c[k].delay, c[k].count);
		for (size_t i = 0; i < s->nlocations; i++) {
			const struct profile_location *l =
				profile_location_by_id(p, s->location_ids[i]);
			sb_printf(&b, " 0x%" PRIx64, l ? l->address : 0);
		}
		sb_printf(&b, "\n");
		for (size_t i = 0; i < s->nlocations; i++) {
			const struct profile_location *l =
				profile_location_by_id(p, s->location_ids[i]);

			if (!l || !l->nlines) {
				sb_printf(&b, "#\t0x%" PRIx64 "\n", l ? l->address : 0);
				continue;
			}
			for (size_t j = 0; j < l->nlines; j++) {
				const struct profile_function *f =
					profile_function_by_id(p, l->lines[j].function_id);
				const char *name = f ? profile_str(p, f->name) : "";
				const char *file = f ? profile_str(p, f->filename) : "";

				/* Names come from the target's files: a
				 * control character in one is escaped. */
				sb_printf(&b, "#\t0x%" PRIx64 "\t", l->address);
				sb_escaped(&b, name && *name ? name : "?");
				if (file && *file) {
					sb_printf(&b, "\t");
					sb_escaped(&b, file);
					sb_printf(&b, ":%" PRId64, l->lines[j].line);
				}
				sb_printf(&b, "\n");
			}
		}
		sb_printf(&b, "\n");
	}
	free(bystack);
	free(c);
	return sb_finish(&b, body, len);
}

/* --- serving many processes (--all) and guarding the door -------------- */

int http_parse_pid_path(const char *path, pid_t *pid, const char **rest)
{
	static const char pre[] = "/pid/";
	if (strncmp(path, pre, sizeof(pre) - 1) != 0)
		return -EINVAL;
	const char *p = path + sizeof(pre) - 1;
	if (*p < '1' || *p > '9')
		return -EINVAL;
	long long v = 0;
	for (; *p >= '0' && *p <= '9'; p++) {
		v = v * 10 + (*p - '0');
		if (v > INT_MAX)
			return -EINVAL;
	}
	if (*p != '\0' && *p != '/')
		return -EINVAL;
	*pid = (pid_t)v;
	*rest = p;
	return 0;
}

static bool ipv4_loopback(const char *s, size_t n)
{
	unsigned parts = 0, val = 0, digits = 0;
	unsigned first = 0;
	for (size_t i = 0; i <= n; i++) {
		if (i == n || s[i] == '.') {
			if (!digits || val > 255)
				return false;
			if (parts == 0)
				first = val;
			parts++;
			val = digits = 0;
			continue;
		}
		if (s[i] < '0' || s[i] > '9' || ++digits > 3)
			return false;
		val = val * 10 + (unsigned)(s[i] - '0');
	}
	return parts == 4 && first == 127;
}

bool http_host_is_loopback(const char *host)
{
	size_t n = strlen(host);
	const char *colon;

	if (host[0] == '[') {
		const char *close = strchr(host, ']');
		if (!close)
			return false;
		if (close[1] && (close[1] != ':' || !close[2] ||
				 strspn(close + 2, "0123456789") != strlen(close + 2)))
			return false;
		return (size_t)(close - host) == 4 && !strncmp(host, "[::1", 4);
	}
	colon = strchr(host, ':');
	if (colon) {
		if (!colon[1] || strspn(colon + 1, "0123456789") != strlen(colon + 1))
			return false;
		n = (size_t)(colon - host);
	}
	if (n == 9 && !strncasecmp(host, "localhost", 9))
		return true;
	if (n == 10 && !strncasecmp(host, "localhost.", 10))
		return true;
	return ipv4_loopback(host, n);
}

bool http_secret_equal(const char *a, size_t alen, const char *b, size_t blen)
{
	/* Every byte of a is compared against b (cycled), so the time is
	 * that of alen whatever b holds; a length mismatch is folded in. */
	volatile unsigned char diff = (unsigned char)(alen != blen);
	for (size_t i = 0; i < alen; i++)
		diff |= (unsigned char)(a[i] ^ (blen ? b[i % blen] : 0));
	return diff == 0 && blen > 0;
}

int http_container_id(const char *cgroup, char out[65])
{
	const char *found = NULL;
	for (const char *p = cgroup; *p; p++) {
		if (!isxdigit((unsigned char)*p))
			continue;
		const char *q = p;
		while (isxdigit((unsigned char)*q))
			q++;
		if (q - p == 64 && (p == cgroup || !isalnum((unsigned char)p[-1])) &&
		    !isalnum((unsigned char)*q))
			found = p;	/* the last one wins */
		p = q - 1;
	}
	if (!found)
		return 0;
	for (int i = 0; i < 64; i++)
		out[i] = (char)tolower((unsigned char)found[i]);
	out[64] = '\0';
	return 1;
}

bool http_cgroup_under(const char *cgroup, const char *prefix)
{
	size_t n = strlen(prefix);
	while (n > 0 && prefix[n - 1] == '/')
		n--;
	if (n == 0)
		return true;
	return !strncmp(cgroup, prefix, n) && (cgroup[n] == '\0' || cgroup[n] == '/');
}

/* s as a JSON string, quotes included. The target chose these bytes (its
 * comm, cut at 15 bytes perhaps inside a character; its paths): invalid
 * UTF-8 becomes U+FFFD, controls (C0, DEL, C1) and U+2028/U+2029 \u
 * escapes, so that one process cannot make /targets unparseable. */
static void json_string(struct sbuf *b, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	sb_printf(b, "\"");
	while (*p) {
		unsigned char c = *p;
		uint32_t cp;
		size_t n;
		if (c == '"' || c == '\\') {
			sb_printf(b, "\\%c", c);
			p++;
		} else if (c < 0x20 || c == 0x7f) {
			sb_printf(b, "\\u%04x", c);
			p++;
		} else if (c < 0x80) {
			sb_printf(b, "%c", c);
			p++;
		} else if ((n = escape_utf8(p, strnlen((const char *)p, 4), &cp)) == 0) {
			sb_printf(b, "\\ufffd");
			p++;
		} else if (cp <= 0x9f || cp == 0x2028 || cp == 0x2029) {
			sb_printf(b, "\\u%04x", (unsigned)cp);
			p += n;
		} else {
			sb_printf(b, "%.*s", (int)n, (const char *)p);
			p += n;
		}
	}
	sb_printf(b, "\"");
}

int http_targets_json(const struct http_proc *procs, size_t n,
		      const char *hostport, char **body, size_t *len)
{
	struct sbuf b = { 0 };
	bool first = true;
	char num[24];

	sb_printf(&b, "[");
	for (size_t i = 0; i < n; i++) {
		const struct http_proc *p = &procs[i];
		if (p->denied[0])
			continue;
		sb_printf(&b, "%s\n{\"targets\":[", first ? "" : ",");
		first = false;
		json_string(&b, hostport);
		snprintf(num, sizeof(num), "%d", (int)p->pid);
		sb_printf(&b, "],\"labels\":{\"pid\":\"%s\",\"comm\":", num);
		json_string(&b, p->comm);
		sb_printf(&b, ",\"exe\":");
		json_string(&b, p->exe);
		sb_printf(&b, ",\"user\":");
		json_string(&b, p->user);
		sb_printf(&b, ",\"cgroup\":");
		json_string(&b, p->cgroup);
		if (p->container_id[0]) {
			sb_printf(&b, ",\"container_id\":");
			json_string(&b, p->container_id);
		}
		sb_printf(&b, ",\"service_name\":");
		json_string(&b, p->comm);
		sb_printf(&b, ",\"__profile_path_prefix__\":\"/pid/%s\"}}", num);
	}
	sb_printf(&b, "%s]\n", first ? "" : "\n");
	return sb_finish(&b, body, len);
}

int http_all_index_html(const struct http_proc *procs, size_t n,
			char **body, size_t *len)
{
	struct sbuf b = { 0 };
	size_t served = 0;

	for (size_t i = 0; i < n; i++)
		served += !procs[i].denied[0];
	sb_printf(&b, "<html>\n<head>\n<title>/debug/pprof/</title>\n</head>\n<body>\n"
		  "<p>cprof serve --all: %zu processes served, each under "
		  "/pid/PID/debug/pprof/; <a href=\"/targets\">/targets</a> lists them "
		  "for Prometheus-style service discovery.</p>\n"
		  "<table>\n<thead><td>PID</td><td>Command</td><td>User</td>"
		  "<td>Executable</td><td>Cgroup</td><td>Pages</td></thead>\n", served);
	for (size_t i = 0; i < n; i++) {
		const struct http_proc *p = &procs[i];
		if (p->denied[0])
			continue;
		sb_printf(&b, "<tr><td><a href=\"/pid/%d/debug/pprof/\">%d</a></td><td>",
			  (int)p->pid, (int)p->pid);
		html_escape(&b, p->comm);
		sb_printf(&b, "</td><td>");
		html_escape(&b, p->user);
		sb_printf(&b, "</td><td>");
		html_escape(&b, p->exe);
		sb_printf(&b, "</td><td>");
		html_escape(&b, p->cgroup);
		sb_printf(&b, "</td><td><a href=\"/pid/%d/ui/\">flame graphs, threads</a></td></tr>\n",
			  (int)p->pid);
	}
	sb_printf(&b, "</table>\n<p>Not served (%zu):</p>\n<table>\n"
		  "<thead><td>PID</td><td>Command</td><td>User</td><td>Reason</td></thead>\n",
		  n - served);
	for (size_t i = 0; i < n; i++) {
		const struct http_proc *p = &procs[i];
		if (!p->denied[0])
			continue;
		sb_printf(&b, "<tr><td>%d</td><td>", (int)p->pid);
		html_escape(&b, p->comm);
		sb_printf(&b, "</td><td>");
		html_escape(&b, p->user);
		sb_printf(&b, "</td><td>");
		html_escape(&b, p->denied);
		sb_printf(&b, "</td></tr>\n");
	}
	sb_printf(&b, "</table>\n</body>\n</html>\n");
	return sb_finish(&b, body, len);
}

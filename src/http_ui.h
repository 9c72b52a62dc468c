/*
 * http_ui.h - the pages of serve's /ui/: an index of the target with one
 * button per profile kind, a profile's flame graph (flame.h), and the
 * thread dump as a page. Server-rendered HTML with nothing external: the
 * server sends them with a Content-Security-Policy that forbids every
 * load from elsewhere (HTTP_UI_CSP).
 *
 * Every link is relative, so the pages work under any path prefix (the
 * /pid/PID/ of serve --all).
 */
#ifndef CPROF_HTTP_UI_H
#define CPROF_HTTP_UI_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "symbolize.h"
#include "threads.h"

/* No script, style or image from anywhere but the page itself; forms only
 * to this server; no framing. */
#define HTTP_UI_CSP \
	"default-src 'none'; script-src 'unsafe-inline'; " \
	"style-src 'unsafe-inline'; img-src data:; form-action 'self'; " \
	"base-uri 'none'; frame-ancestors 'none'"

enum http_ui_route {
	HTTP_UI_NONE,		/* not under /ui */
	HTTP_UI_REDIRECT,	/* /ui: 301 to /ui/ */
	HTTP_UI_INDEX,		/* /ui/ */
	HTTP_UI_FLAME,		/* /ui/flame?profile=KIND&seconds=N */
	HTTP_UI_THREADS,	/* /ui/threads */
	HTTP_UI_NOT_FOUND,	/* another path under /ui/ */
};

/* Which /ui page path (without the query) names. */
enum http_ui_route http_ui_route_path(const char *path);

/* One thread as the index lists it. */
struct http_ui_thread {
	pid_t tid;
	char name[16];
	char state;		/* /proc stat state, '?' unknown */
	double cpu_s;		/* user + system, < 0 unknown */
};

/* What the index page says of the target. */
struct http_ui_target {
	pid_t pid;
	const char *comm;
	const char *cmdline;		/* /proc/PID/cmdline, NUL-separated;
					 * may be NULL */
	size_t cmdline_len;
	const char *exe;		/* may be NULL */
	double uptime_s;		/* < 0: unknown */
	const struct http_ui_thread *threads;
	size_t nthreads;
	unsigned default_seconds;	/* prefilled in the forms */
	unsigned max_seconds;		/* serve's limit, 0 none */
};

/* The /ui/ page. Returns 0 or -ENOMEM; *body is the caller's. */
int http_ui_index_html(const struct http_ui_target *t, char **body, size_t *len);

/* The /ui/threads page of dump d, frames named with sym, as the text of
 * `cprof threads`: a table of the threads, then each thread's stack.
 * Returns 0 or -ENOMEM/-EIO; *body is the caller's. */
int http_ui_threads_html(const struct threads_dump *d, struct symbolizer *sym,
			 const char *comm, char **body, size_t *len);

/* The profile kinds /ui/flame makes, by their query name: "cpu", "wall",
 * "block", "mutex". Returns the record_profile value (record.h) or -EINVAL. */
int http_ui_profile_kind(const char *name);

#endif

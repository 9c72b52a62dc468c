/*
 * http_int.h - what the parts of the HTTP module share beyond http.h.
 * Private to them:
 *   http_server.c     the libmicrohttpd shell: loading the library, the
 *                     listen socket, requests in and replies out, the
 *                     serve loop;
 *   http_endpoints.c  Go-compatible /debug/pprof/ rendering for a target;
 *   http_targets.c    the processes served: pid, start time, whether one
 *                     is gone, and the state requests share per process;
 *   http_pure.c       pure helpers (query parsing, reply building...).
 */
#ifndef CPROF_HTTP_INT_H
#define CPROF_HTTP_INT_H

#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>
#include <pthread.h>
#include <stdatomic.h>
#include <regex.h>
#include <time.h>
#include <sys/types.h>
#include "http.h"
#include "record.h"
#include "threads_write.h"

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

/* --- targets (http_targets.c) ------------------------------------------ */

enum http_stop_reason {
	HTTP_RUNNING = 0,
	HTTP_STOP_REQUESTED,
	HTTP_STOP_TARGET_EXITED,
};

struct shared_dump;	/* http_endpoints.c */
struct symnames;

/* One process served, with what its requests share. */
struct http_target {
	const struct http_opts *o;
	pid_t pid;
	uint64_t starttime;		/* tells a reused pid from ours */
	struct threads_opts topts;	/* pid set */
	unsigned max_seconds;		/* cap of profile?seconds */
	struct symbolizer *sym;		/* under sym_lock */
	pthread_mutex_t sym_lock;	/* elfutils is not thread-safe */
	pthread_mutex_t capture_lock;	/* the fields below, to latest */
	pthread_cond_t capture_cond;	/* a capture finished */
	unsigned long captures_started, captures_done;
	bool capturing;			/* one ptrace capture at a time */
	struct shared_dump *latest;	/* the last capture, shared */
	pthread_mutex_t slot_lock;	/* running[] */
	unsigned running[RECORD_TRACE + 1];	/* recordings of each kind
						 * sampling now, at most
						 * HTTP_MAX_RECORDINGS */
	struct symnames *names;		/* /symbol's bounded cache, under
					 * sym_lock */
	atomic_int stopping;		/* enum http_stop_reason: requests end
					 * (503) once it is set */
	/* heap and allocs: one sampler per target, started by the first
	 * request and read by a thread of ours until the target is closed
	 * (http_endpoints.c). */
	pthread_mutex_t ptrace_lock;	/* one ptrace session at a time:
					 * thread dumps, the heap sampler's
					 * attach, polls and detach */
	pthread_mutex_t heap_lock;	/* the fields below */
	struct record_heap *heap;
	pthread_t heap_thread;
	bool heap_thread_started;
	atomic_bool heap_quit;

	/* The registry's, under its lock. */
	bool fixed;			/* -p: the server stops with it */
	int refs;			/* requests using it */
	bool removed;			/* out of the registry: freed by the
					 * last put */
	struct timespec last_used;
	struct http_target *next;
};

/* Reads the process's start time and opens its symbolizer. Returns 0 or
 * -errno with err naming what failed; nothing to free then. */
int http_target_init(struct http_target *t, const struct http_opts *o,
		     pid_t pid, char *err, size_t errlen);
void http_target_fini(struct http_target *t);
/* Detaches the target's heap sampler, if one runs (http_endpoints.c). */
void http_heap_stop(struct http_target *t);
/* Whether the process exited (or is a zombie, or its pid was reused). */
bool http_target_gone(const struct http_target *t);

/* The processes served: with -p one fixed target, opened at start; with
 * --all those of /proc that pass the filters, rescanned every
 * HTTP_REFRESH_MS, each one's target opened by its first request and
 * dropped when the process exits or after HTTP_TARGET_IDLE_SECONDS without
 * a request (docs/design.md §7.1). */
struct http_registry {
	const struct http_opts *o;
	pthread_mutex_t lock;
	struct http_target *open;	/* list; with -p, the fixed one */
	struct http_proc *procs;	/* --all: the last scan, by pid */
	size_t nprocs;
	struct timespec scanned;
	bool has_re;
	regex_t re;
	pid_t self;
	int stopping;			/* enum http_stop_reason */
};

int http_registry_init(struct http_registry *reg, const struct http_opts *o,
		       char *err, size_t errlen);
void http_registry_fini(struct http_registry *reg);
/* The target of process pid (with -p, pid 0 also names the fixed one), with
 * a reference for the caller. Returns 0, -ENOENT (no such process among
 * the targets), -EACCES (one cprof may not serve: why says so),
 * -ESHUTDOWN (the server is stopping), or the
 * error of opening it (why says so). */
int http_registry_get(struct http_registry *reg, pid_t pid,
		      struct http_target **t, char *why, size_t whylen);
void http_registry_put(struct http_registry *reg, struct http_target *t);
/* From the serve loop: ends the targets of processes that exited (their
 * requests get 503), drops idle ones, rescans /proc when due. Returns true
 * when the fixed target of -p exited. */
bool http_registry_tick(struct http_registry *reg);
/* Every target's requests end (503) with reason; no new ones are served. */
void http_registry_stop(struct http_registry *reg, int reason);
/* A copy of the processes listed (with -p, the one), malloc'd. */
int http_registry_list(struct http_registry *reg, struct http_proc **procs,
		       size_t *n);

/* --- requests (http_server.c -> http_endpoints.c) ---------------------- */

/* Per request, from the URI callback to the completion callback. */
struct http_request {
	struct timespec start;
	char *uri;			/* raw, with the query */
	char method[16];
	bool started;
	char *body;			/* POST body */
	size_t blen;
	char *location;			/* a redirect's Location, or NULL */
	bool too_large;
	int fd;				/* the client's socket, -1: unknown */
	bool head;			/* HEAD: headers only, no work */
	char prefix[24];		/* "/pid/PID" when asked through it,
					 * else "" */
	bool accept_gzip;		/* Accept-Encoding names gzip */
	bool ui_html;			/* a /ui/flame page: the recording
					 * rendered as a flame graph */
	int status;
	size_t bytes;
};

/* --- endpoints (http_endpoints.c) -------------------------------------- */

/* The reply to a request for url (percent-decoded path) on target tg. */
void http_endpoints_route(struct http_target *tg, struct http_request *rq,
			  const char *url, const char *method,
			  struct http_reply *r);
/* For the /ui/ pages (http_ui_serve.c): a thread dump shared with the
 * goroutine endpoint (NULL with the error reply in r), its threads, and
 * its release; a recording of kind made as /debug/pprof/ makes it, with
 * the same limits, answered as a flame graph page when rq->ui_html. */
struct shared_dump *http_dump_for(struct http_target *tg, struct http_reply *r);
const struct threads_dump *http_dump_threads(const struct shared_dump *sd);
void http_dump_put(struct http_target *tg, struct shared_dump *sd);
void http_serve_profile(struct http_target *tg, struct http_request *rq,
			const char *query, enum record_profile kind,
			struct http_reply *r);

/* --- /ui/ (http_ui_serve.c) --------------------------------------------- */
/* The reply to a request under /ui: false (and r untouched) for another
 * path. */
bool http_ui_route(struct http_target *tg, struct http_request *rq,
		   const char *url, const char *method, struct http_reply *r);
/* Recording p of kind as the flame graph page. 0 or -errno. */
int http_ui_flame_body(struct http_target *tg, const struct profile *p,
		       enum record_profile kind, char **body, size_t *len);

/* Drops a reference to a shared thread dump; capture_lock held (or the
 * target no longer shared). NULL is a no-op. */
void http_dump_put_locked(struct shared_dump *sd);

#endif

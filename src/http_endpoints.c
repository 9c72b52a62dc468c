/*
 * http_endpoints.c - Go's /debug/pprof/ endpoints for one target process:
 * routing, the index, cmdline, symbol, goroutine/threads/threadcreate,
 * the recorded profiles (profile, block, mutex, wall) and trace.
 *
 * Replies follow Go's net/http/pprof (src/net/http/pprof/pprof.c in Go
 * 1.19): every response carries X-Content-Type-Options: nosniff; profiles
 * are application/octet-stream with Content-Disposition: attachment;
 * errors go through serveError (text/plain, X-Go-Pprof: 1, text + "\n"),
 * which is what `go tool pprof` looks for before printing an error body.
 * Nothing here knows libmicrohttpd: http_server.c hands each request over
 * as a struct http_request and sends the struct http_reply back.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE	/* asprintf, open_memstream */
#endif
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "errmsg.h"
#include "http.h"
#include "http_int.h"
#include "pprof.h"
#include "procfs.h"
#include "symbolize.h"
#include "symnames.h"
#include "trace.h"

/* One capture, shared by the requests that waited for it, with the replies
 * rendered from it so far. refs under capture_lock, bodies under sym_lock. */
struct shared_dump {
	struct threads_dump *d;
	int err;			/* of threads_capture */
	char why[256];
	int refs;
	uint64_t started_ns;		/* CLOCK_MONOTONIC, capture start */
	int64_t wall_ns;		/* CLOCK_REALTIME, the same moment */
	char *body[3 * 3];		/* enum dump_view x debug */
	size_t len[3 * 3];
};

/* What a thread dump is rendered as: Go's goroutine profile
 * (goroutine/count, so that scrapers file it as goroutines: docs/design.md
 * §7.2), its threadcreate profile (threadcreate/count) and cprof's own
 * threads endpoint (threads/count, as `cprof threads -f pprof`). */
enum dump_view { VIEW_GOROUTINE, VIEW_THREADCREATE, VIEW_THREADS };

static const char *const view_type[] = { "goroutine", "threadcreate", "threads" };

static uint64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static void reply_stopping(struct http_target *tg, struct http_reply *r)
{
	if (atomic_load(&tg->stopping) == HTTP_STOP_TARGET_EXITED)
		http_reply_error(r, 503, "process %d exited%s", (int)tg->pid,
				 tg->fixed ? ": cprof serve is stopping" : "");
	else
		http_reply_error(r, 503, "cprof serve is stopping");
}

static void reply_target_error(struct http_target *tg, int e, const char *what,
			       const char *reason, struct http_reply *r)
{
	if (e == -ESRCH || e == -ENOENT)
		http_reply_error(r, 503, "process %d exited", (int)tg->pid);
	else
		http_reply_error(r, 500, "%s of process %d failed: %s", what,
				 (int)tg->pid, reason && *reason ? reason : strerror(-e));
}

/* pprof sends location addresses, most of them return addresses. After a
 * call that never returns (exit, an endless loop) the return address is
 * past the end of the caller, where no function is: name it by addr - 1
 * then (docs/design.md §4). An address inside a function keeps its own name. */
static const char *sym_name(uint64_t addr, void *arg)
{
	struct http_target *tg = arg;
	const char *name = symnames_get(tg->names, tg->sym, addr);
	if (!name && addr > 1)
		name = symnames_get(tg->names, tg->sym, addr - 1);
	return name;
}

/* What the server has done for this process, as a line before the end of
 * the index: how often the target was stopped for a dump, recordings
 * sampling now, names /symbol keeps. For people, and for the tests that
 * check the bounds (docs/design.md §7.2). */
static int index_add_stats(struct http_target *tg, char **body, size_t *len)
{
	static const char end[] = "</body>";
	unsigned long dumps;
	unsigned rec[RECORD_TRACE + 1];
	size_t names;

	pthread_mutex_lock(&tg->capture_lock);
	dumps = tg->captures_done;
	pthread_mutex_unlock(&tg->capture_lock);
	pthread_mutex_lock(&tg->slot_lock);
	memcpy(rec, tg->running, sizeof(rec));
	pthread_mutex_unlock(&tg->slot_lock);
	pthread_mutex_lock(&tg->sym_lock);
	names = symnames_count(tg->names);
	pthread_mutex_unlock(&tg->sym_lock);

	struct sbuf b = { 0 };
	char *at = strstr(*body, end);
	size_t head = at ? (size_t)(at - *body) : *len;
	sb_printf(&b, "%.*s<p class=cprof-stats>thread dumps taken: %lu; CPU profiles "
		  "sampling: %u of %d; symbol names cached: %zu of %d</p>\n%s",
		  (int)head, *body, dumps, rec[RECORD_CPU], HTTP_MAX_RECORDINGS, names,
		  HTTP_SYMBOL_CACHE_NAMES, *body + head);
	char *nb;
	size_t nl;
	if (sb_finish(&b, &nb, &nl) < 0)
		return -ENOMEM;
	free(*body);
	*body = nb;
	*len = nl;
	return 0;
}

static void serve_index(struct http_target *tg, struct http_reply *r)
{
	char comm[32] = "?";
	pid_t *tids = NULL;
	size_t n = 0;
	long nthreads = -1;

	procfs_read_comm(tg->pid, tg->pid, comm, sizeof(comm));
	if (procfs_list_tasks(tg->pid, &tids, &n) == 0)
		nthreads = (long)n;
	free(tids);
	memset(r, 0, sizeof(*r));
	if (http_index_html(tg->pid, comm, nthreads, &r->body, &r->len) < 0 ||
	    index_add_stats(tg, &r->body, &r->len) < 0) {
		http_reply_error(r, 500, "out of memory");
		return;
	}
	r->status = 200;
	r->content_type = TEXT_HTML;
}

static void serve_cmdline(struct http_target *tg, struct http_reply *r)
{
	char *buf = NULL;
	size_t len = 0;
	int e = procfs_read_cmdline(procfs_proc_tid(tg->pid), &buf, &len);
	if (e < 0) {
		reply_target_error(tg, e, "reading the command line", NULL, r);
		return;
	}
	memset(r, 0, sizeof(*r));
	e = http_cmdline_body(buf, len, &r->body, &r->len);
	free(buf);
	if (e < 0) {
		http_reply_error(r, 500, "out of memory");
		return;
	}
	r->status = 200;
	r->content_type = TEXT_PLAIN;
}

static void serve_symbol(struct http_target *tg, struct http_request *rq, bool post,
			 const char *query, struct http_reply *r)
{
	const char *text = post ? (rq->body ? rq->body : "") : query;
	size_t len = post ? rq->blen : strlen(query);
	uint64_t *addrs = NULL;
	size_t n = 0;

	if (rq->too_large) {
		http_reply_error(r, 413, "request body larger than %d bytes", HTTP_MAX_BODY);
		return;
	}
	if (http_parse_symbol_request(text, len, &addrs, &n) < 0) {
		http_reply_error(r, 500, "out of memory");
		return;
	}
	/* Time per request stays bounded (docs/design.md §7.2). */
	if (n > HTTP_MAX_SYMBOL_ADDRS) {
		free(addrs);
		http_reply_error(r, 413, "%zu addresses in one request, more than the %d cprof serve "
				 "looks up at once: send them in batches", n, HTTP_MAX_SYMBOL_ADDRS);
		return;
	}
	memset(r, 0, sizeof(*r));
	pthread_mutex_lock(&tg->sym_lock);
	if (n)
		symbolizer_refresh(tg->sym);	/* dlopen'ed modules */
	int e = http_symbol_body(addrs, n, sym_name, tg, &r->body, &r->len);
	pthread_mutex_unlock(&tg->sym_lock);
	free(addrs);
	if (e < 0) {
		http_reply_error(r, 500, "out of memory");
		return;
	}
	r->status = 200;
	r->content_type = TEXT_PLAIN;
}

static const char *unavailable_reason(const char *name)
{
	(void)name;
	return "not served by cprof";
}

/* Encodes a finished profile for a reply, stripped of symbols if asked. */
static int encode_profile(struct http_target *tg, const struct profile *p,
			  char **body, size_t *len)
{
	struct profile *stripped = NULL;
	if (tg->o->remote_symbols) {
		int e = profile_strip_symbols(p, &stripped);
		if (e < 0)
			return e;
		p = stripped;
	}
	int e = pprof_encode(p, (uint8_t **)body, len);
	profile_free(stripped);
	return e;
}

/* A dump as a profile of the view's sample type. sym_lock is held. */
static int dump_profile(struct http_target *tg, const struct shared_dump *sd,
			enum dump_view view, struct profile **out)
{
	struct threads_dump *cut = NULL;
	const struct threads_dump *use = sd->d;
	int e = 0;

	symbolizer_refresh(tg->sym);	/* modules dlopen'ed since */
	if (view == VIEW_THREADCREATE) {
		e = threads_creation_view(sd->d, tg->sym, &cut);
		use = cut;
	}
	if (e == 0)
		e = threads_to_profile_as(use, tg->sym, view_type[view], out);
	if (e == 0)
		(*out)->time_nanos = sd->wall_ns;
	threads_dump_free(cut);
	return e;
}

/* One of the nine bodies of a dump: enum dump_view x debug 0-2.
 * sym_lock is held. */
static int render_dump(struct http_target *tg, const struct shared_dump *sd,
		       enum dump_view view, int debug, char **body, size_t *blen)
{
	struct threads_dump *cut = NULL;
	const struct threads_dump *use = sd->d;
	char *buf = NULL;
	size_t len = 0;
	int e = 0;

	if (debug == 0) {
		struct profile *p = NULL;
		e = dump_profile(tg, sd, view, &p);
		if (e == 0)
			e = encode_profile(tg, p, &buf, &len);
		profile_free(p);
		goto out;
	}
	symbolizer_refresh(tg->sym);	/* modules dlopen'ed since */
	if (view == VIEW_THREADCREATE) {
		e = threads_creation_view(sd->d, tg->sym, &cut);
		use = cut;
	}
	if (e == 0) {
		FILE *f = open_memstream(&buf, &len);
		if (!f) {
			e = -errno;
		} else {
			e = threads_write(use, tg->sym, debug == 1 ? THREADS_FMT_GO_DEBUG1 : THREADS_FMT_TEXT, f);
			if (fclose(f) != 0 && e == 0)
				e = -ENOMEM;
		}
		static const char from[] = "threads profile:";
		static const char to[] = "threadcreate profile:";
		if (e == 0 && view == VIEW_THREADCREATE && len >= sizeof(from) - 1 &&
		    !memcmp(buf, from, sizeof(from) - 1)) {
			/* Go's header names the profile: say what this is. */
			size_t nl = len - (sizeof(from) - 1) + (sizeof(to) - 1);
			char *nb = malloc(nl + 1);
			if (nb) {
				memcpy(nb, to, sizeof(to) - 1);
				memcpy(nb + sizeof(to) - 1, buf + sizeof(from) - 1,
				       len - (sizeof(from) - 1) + 1);
				free(buf);
				buf = nb;
				len = nl;
			}
		}
	}
out:
	threads_dump_free(cut);
	if (e < 0) {
		free(buf);
		return e;
	}
	*body = buf;
	*blen = len;
	return 0;
}

void http_dump_put_locked(struct shared_dump *sd)
{
	if (!sd || --sd->refs > 0)
		return;
	threads_dump_free(sd->d);
	for (size_t i = 0; i < sizeof(sd->body) / sizeof(sd->body[0]); i++)
		free(sd->body[i]);
	free(sd);
}

static void dump_put(struct http_target *tg, struct shared_dump *sd)
{
	pthread_mutex_lock(&tg->capture_lock);
	http_dump_put_locked(sd);
	pthread_mutex_unlock(&tg->capture_lock);
}

/* A dump whose capture began at not_before (CLOCK_MONOTONIC) or later.
 * Single flight: concurrent callers share one capture; whoever finds none
 * running and the last one too old starts one, the others wait for it.
 * Requests pass their arrival minus HTTP_DUMP_REUSE_MS, so a flood of them
 * stops the target's threads at most about once a second, and no answer
 * is older than that (docs/design.md §7.2).
 * Returns 0 with a reference in *out (dump_put it), -ECANCELED when the
 * server is stopping, -ENOMEM. */
static int dump_get(struct http_target *tg, uint64_t not_before,
		    struct shared_dump **out)
{
	pthread_mutex_lock(&tg->capture_lock);
	for (;;) {
		if (atomic_load(&tg->stopping)) {
			pthread_mutex_unlock(&tg->capture_lock);
			return -ECANCELED;
		}
		if (tg->latest && tg->latest->started_ns >= not_before)
			break;
		if (tg->capturing) {
			pthread_cond_wait(&tg->capture_cond, &tg->capture_lock);
			continue;
		}
		tg->capturing = true;
		unsigned long k = ++tg->captures_started;
		pthread_mutex_unlock(&tg->capture_lock);
		struct shared_dump *sd = calloc(1, sizeof(*sd));
		if (sd) {
			struct timespec wall;
			clock_gettime(CLOCK_REALTIME, &wall);
			sd->wall_ns = (int64_t)wall.tv_sec * 1000000000 + wall.tv_nsec;
			sd->started_ns = mono_ns();
			/* One ptrace session at a time: the heap sampler's
			 * attach and polls stop the threads too. */
			pthread_mutex_lock(&tg->ptrace_lock);
			sd->err = threads_capture(&tg->topts, &sd->d, sd->why, sizeof(sd->why));
			pthread_mutex_unlock(&tg->ptrace_lock);
		}
		pthread_mutex_lock(&tg->capture_lock);
		tg->capturing = false;
		http_dump_put_locked(tg->latest);
		tg->latest = sd;
		if (sd)
			sd->refs = 1;
		tg->captures_done = k;
		pthread_cond_broadcast(&tg->capture_cond);
		if (!sd)
			break;
	}
	struct shared_dump *sd = tg->latest;
	if (sd)
		sd->refs++;
	pthread_mutex_unlock(&tg->capture_lock);
	if (!sd)
		return -ENOMEM;
	*out = sd;
	return 0;
}

/* Whether the client closed its connection: an orderly close reads as
 * EOF. Nothing else reads this socket while the handler runs (one thread
 * per connection). */
static bool client_gone(int fd)
{
	if (fd < 0)
		return false;
	char c;
	ssize_t n = recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
	return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK &&
			  errno != EINTR);
}

/* Waits sec seconds, the window of a delta profile, in steps of 100 ms.
 * Returns 0, or -1 with r filled when serve is stopping or the client has
 * closed the connection (nothing more to do for the request). */
static int wait_window(struct http_target *tg, const struct http_request *rq,
		       struct http_reply *r, long long sec)
{
	uint64_t end = mono_ns() + (uint64_t)sec * 1000000000ULL;

	for (uint64_t now = mono_ns(); now < end; now = mono_ns()) {
		if (atomic_load(&tg->stopping)) {
			reply_stopping(tg, r);
			return -1;
		}
		if (client_gone(rq->fd)) {
			http_reply_error(r, 500, "the client closed the connection");
			return -1;
		}
		uint64_t left = end - now;
		struct timespec ts = { 0, (long)(left < 100000000ULL ? left : 100000000ULL) };
		nanosleep(&ts, NULL);
	}
	return 0;
}

/* A dump for a request, or the error reply. */
static struct shared_dump *dump_for(struct http_target *tg, uint64_t not_before,
				    struct http_reply *r)
{
	struct shared_dump *sd = NULL;
	int e = dump_get(tg, not_before, &sd);
	if (e == -ECANCELED) {
		reply_stopping(tg, r);
		return NULL;
	}
	if (e < 0) {
		http_reply_error(r, 500, "out of memory");
		return NULL;
	}
	if (sd->err < 0) {
		reply_target_error(tg, sd->err, "capturing the threads", sd->why, r);
		dump_put(tg, sd);
		return NULL;
	}
	return sd;
}

/* goroutine?seconds=N and threadcreate?seconds=N: Go's delta profile
 * (net/http/pprof serveDeltaProfile, docs/design.md §7.2): a dump now and
 * one N seconds later, the second minus the first. */
static void serve_delta(struct http_target *tg, struct http_request *rq,
			const char *name, enum dump_view view, long long sec,
			struct http_reply *r)
{
	struct profile *p0 = NULL, *p1 = NULL, *d = NULL;
	struct shared_dump *sd = dump_for(tg, mono_ns() - HTTP_DUMP_REUSE_MS * 1000000ULL, r);
	int e;

	if (!sd)
		return;
	uint64_t first = sd->started_ns;
	pthread_mutex_lock(&tg->sym_lock);
	e = dump_profile(tg, sd, view, &p0);
	pthread_mutex_unlock(&tg->sym_lock);
	dump_put(tg, sd);
	if (e < 0)
		goto fail;
	if (wait_window(tg, rq, r, sec) < 0)
		goto out;
	/* A capture at most a second old, as every dump request gets (so
	 * that delta requests cannot stop the target more often either),
	 * but never the first one again. */
	uint64_t not_before = mono_ns() - HTTP_DUMP_REUSE_MS * 1000000ULL;
	if (not_before <= first)
		not_before = first + 1;
	sd = dump_for(tg, not_before, r);
	if (!sd)
		goto out;
	pthread_mutex_lock(&tg->sym_lock);
	e = dump_profile(tg, sd, view, &p1);
	pthread_mutex_unlock(&tg->sym_lock);
	dump_put(tg, sd);
	if (e == 0)
		e = profile_delta(p0, p1, &d);
	if (e == 0) {
		memset(r, 0, sizeof(*r));
		e = encode_profile(tg, d, &r->body, &r->len);
	}
	if (e < 0)
		goto fail;
	r->status = 200;
	r->content_type = OCTET_STREAM;
	snprintf(r->disposition, sizeof(r->disposition), "%s-delta", name);
	goto out;
fail:
	http_reply_error(r, 500, "failed to compute the delta of %s of process %d: %s", name,
			 (int)tg->pid, strerror(-e));
out:
	profile_free(p0);
	profile_free(p1);
	profile_free(d);
}

/* Go's checks of a delta request (serveDeltaProfile), in Go's order, when
 * the query has "seconds": a positive integer, below the server's write
 * timeout (our --max-seconds), not with debug. Returns 1 with *sec for a
 * delta, 0 when the query asks for none, -1 when r holds the 400 reply.
 * no_delta: the profile has no delta (Go's message for it). */
static int delta_seconds(struct http_target *tg, const char *query, bool no_delta,
			 long long *sec, struct http_reply *r)
{
	char v[64];
	long long dbg = 0;
	int g = http_query_get(query, "seconds", v, sizeof(v));

	if (g == 0 || (g > 0 && !v[0]))
		return 0;
	if (g < 0 || parse_go_int(v, sec) < 0 || *sec <= 0) {
		http_reply_error(r, 400, "invalid value for \"seconds\" - must be a positive integer");
		return -1;
	}
	if (no_delta) {
		http_reply_error(r, 400, "\"seconds\" parameter is not supported for this profile type");
		return -1;
	}
	if (*sec >= (long long)tg->max_seconds) {
		http_reply_error(r, 400, "profile duration exceeds server's WriteTimeout");
		return -1;
	}
	/* debug is read as Atoi reads it. */
	g = http_query_get(query, "debug", v, sizeof(v));
	if (g > 0 && parse_go_int(v, &dbg) < 0)
		dbg = 0;
	if (dbg != 0) {
		http_reply_error(r, 400, "seconds and debug params are incompatible");
		return -1;
	}
	return 1;
}

static void serve_threads(struct http_target *tg, struct http_request *rq,
			  const char *name, const char *query, enum dump_view view,
			  struct http_reply *r)
{
	char v[64];
	int debug, g;
	long long sec;
	int d = delta_seconds(tg, query, view == VIEW_THREADS, &sec, r);
	if (d < 0)
		return;
	if (d > 0) {
		serve_delta(tg, rq, name, view, sec, r);
		return;
	}
	g = http_query_get(query, "debug", v, sizeof(v));
	if (http_check_debug(g > 0 ? v : g < 0 ? "?" : NULL, &debug, r) < 0)
		return;

	struct shared_dump *sd = dump_for(tg, mono_ns() - HTTP_DUMP_REUSE_MS * 1000000ULL, r);
	if (!sd)
		return;
	/* debug=1 and 2 of goroutine and threads are the same text. */
	int variant = (view == VIEW_THREADS && debug ? VIEW_GOROUTINE : view) * 3 + debug;
	int e = 0;
	memset(r, 0, sizeof(*r));
	pthread_mutex_lock(&tg->sym_lock);
	if (!sd->body[variant]) {
		e = render_dump(tg, sd, view, debug, &sd->body[variant],
				&sd->len[variant]);
	}
	if (e == 0) {
		r->body = malloc(sd->len[variant] + 1);
		if (r->body) {
			memcpy(r->body, sd->body[variant], sd->len[variant]);
			r->len = sd->len[variant];
		} else {
			e = -ENOMEM;
		}
	}
	pthread_mutex_unlock(&tg->sym_lock);
	dump_put(tg, sd);
	if (e < 0) {
		http_reply_error(r, 500, "writing the thread dump of process %d failed: %s",
				 (int)tg->pid, strerror(-e));
		return;
	}
	r->status = 200;
	if (debug == 0) {
		r->content_type = OCTET_STREAM;
		snprintf(r->disposition, sizeof(r->disposition), "%s", name);
	} else {
		r->content_type = TEXT_PLAIN;
	}
}

struct tick_ctx {
	struct http_target *tg;
	enum record_profile kind;
	int fd;
	bool client_gone;
	bool holds_slot;
};

/* A recording of this kind may start: fewer than HTTP_MAX_RECORDINGS are
 * sampling the process (docs/design.md §7.2). */
static bool slot_take(struct http_target *tg, enum record_profile kind)
{
	bool ok;
	pthread_mutex_lock(&tg->slot_lock);
	ok = tg->running[kind] < HTTP_MAX_RECORDINGS;
	if (ok)
		tg->running[kind]++;
	pthread_mutex_unlock(&tg->slot_lock);
	return ok;
}

/* Record's sampled callback, and the end of the request: the slot is free
 * once sampling stops, while the profile is still being built. */
static void slot_release(void *arg)
{
	struct tick_ctx *t = arg;
	if (!t->holds_slot)
		return;
	t->holds_slot = false;
	pthread_mutex_lock(&t->tg->slot_lock);
	t->tg->running[t->kind]--;
	pthread_mutex_unlock(&t->tg->slot_lock);
}

static int profile_tick(const struct record_stats *st, void *arg)
{
	struct tick_ctx *t = arg;
	if (atomic_load(&t->tg->stopping))
		return 1;
	/* A client that gave up (pprof's own time-out, Ctrl-C) must not keep
	 * the one CPU profile slot busy: an orderly close reads as EOF.
	 * Nothing else reads this socket while the handler runs (one thread
	 * per connection). */
	if (client_gone(t->fd)) {
		t->client_gone = true;
		return 1;
	}
	return 0;
}

/* The trace as JSON, gzipped when the client says it takes gzip (a trace
 * is ~0.5 MB a second of a busy process, and compresses ~10x). */
static int serve_trace_body(struct http_request *rq, struct trace *t,
			    uint64_t duration, struct http_reply *r)
{
	char *json = NULL;
	size_t len = 0;
	int e = trace_finish(t, duration, &json, &len);

	if (e < 0)
		return e;
	r->status = 200;
	r->content_type = "application/json";
	snprintf(r->disposition, sizeof(r->disposition), "trace.json");
	if (rq->accept_gzip) {
		uint8_t *z = NULL;

		e = pprof_gzip((const uint8_t *)json, len, &z, &len);
		free(json);
		if (e < 0)
			return e;
		r->body = (char *)z;
		r->encoding = "gzip";
	} else {
		r->body = json;
	}
	r->len = len;
	return 0;
}

/* profile, block, mutex, wall and trace: a recording of the kind asked
 * for, each its own perf session. Up to HTTP_MAX_RECORDINGS of a kind
 * sample at once (scrapers and people asking at the same time); one more
 * gets Go's 500 "already in use". Kinds do not wait for each other. */
static void serve_profile(struct http_target *tg, struct http_request *rq,
			  const char *query, enum record_profile kind,
			  struct http_reply *r)
{
	const char *what = kind == RECORD_CPU ? "CPU" : record_profile_name(kind);
	char v[64];
	unsigned secs;
	int debug = 0;
	int g = http_query_get(query, "seconds", v, sizeof(v));
	if (http_check_profile_seconds(g > 0 ? v : g < 0 ? "?" : NULL,
				       HTTP_DEFAULT_SECONDS, tg->max_seconds,
				       &secs, r) < 0)
		return;
	if (kind == RECORD_BLOCK || kind == RECORD_MUTEX) {
		g = http_query_get(query, "debug", v, sizeof(v));
		if (http_check_debug(g > 0 ? v : g < 0 ? "?" : NULL, &debug, r) < 0)
			return;
	}
	if (!slot_take(tg, kind)) {
		http_reply_error(r, 500, "Could not enable %s profiling: %s profiling already in use "
				 "(%d %s profiles of process %d are being taken, the most cprof serve "
				 "takes at once: ask again when one ends)",
				 what, kind == RECORD_CPU ? "cpu" : what, HTTP_MAX_RECORDINGS, what,
				 (int)tg->pid);
		return;
	}
	struct tick_ctx t = { .tg = tg, .kind = kind, .fd = rq->fd, .holds_slot = true };
	struct record_callbacks cb = { .tick = profile_tick, .sampled = slot_release,
				       .arg = &t };
	struct record_opts ro = tg->o->record;
	struct record_stats st;
	struct profile *p = NULL;
	char err[256] = "";
	ro.pid = tg->pid;
	ro.seconds = secs;
	ro.profile = kind;
	ro.trace = NULL;
	if (kind == RECORD_TRACE && !(ro.trace = trace_new())) {
		slot_release(&t);
		http_reply_error(r, 500, "out of memory");
		return;
	}
	memset(&st, 0, sizeof(st));
	int e = record_run(&ro, &cb, &p, &st, err, sizeof(err));
	slot_release(&t);	/* record_run failed before sampling ended */

	if (e == -ESRCH || (e == 0 && st.target_exited))
		http_reply_error(r, 503, "process %d exited during the profile", (int)tg->pid);
	else if ((e == -EACCES || e == -EPERM) && kind != RECORD_CPU)
		http_reply_error(r, 500, "Could not enable %s profiling: %s (%s profiles "
				 "need cprof to run as root or with CAP_PERFMON)", what,
				 err[0] ? err : strerror(-e), what);
	else if (e < 0)
		http_reply_error(r, 500, "Could not enable %s profiling: %s", what,
				 err[0] ? err : strerror(-e));
	else if (t.client_gone)
		http_reply_error(r, 500, "the client closed the connection");
	else if (atomic_load(&tg->stopping))
		reply_stopping(tg, r);
	else if (rq->ui_html) {
		memset(r, 0, sizeof(*r));
		e = http_ui_flame_body(tg, p, kind, &r->body, &r->len);
		if (e < 0) {
			http_reply_error(r, 500, "writing the flame graph failed: %s", strerror(-e));
		} else {
			r->status = 200;
			r->content_type = TEXT_HTML;
		}
	} else if (ro.trace) {
		memset(r, 0, sizeof(*r));
		e = serve_trace_body(rq, ro.trace, (uint64_t)p->duration_nanos, r);
		if (e < 0)
			http_reply_error(r, 500, "writing the trace failed: %s", strerror(-e));
	} else if (debug > 0) {
		memset(r, 0, sizeof(*r));
		e = http_contention_text(p, kind == RECORD_MUTEX, &r->body, &r->len);
		if (e < 0) {
			http_reply_error(r, 500, "writing the profile failed: %s", strerror(-e));
		} else {
			r->status = 200;
			r->content_type = TEXT_PLAIN;
		}
	} else {
		memset(r, 0, sizeof(*r));
		e = encode_profile(tg, p, &r->body, &r->len);
		if (e < 0) {
			http_reply_error(r, 500, "encoding the profile failed: %s", strerror(-e));
		} else {
			r->status = 200;
			r->content_type = OCTET_STREAM;
			snprintf(r->disposition, sizeof(r->disposition), "%s",
				 kind == RECORD_CPU ? "profile" : record_profile_name(kind));
		}
	}
	profile_free(p);
	trace_free(ro.trace);
}

/* --- heap and allocs ------------------------------------------------------ */

/* How often serve's thread reads the heap sampler's ring (record.h). */
#define HEAP_READ_NS 20000000ULL

/* The thread that keeps a target's heap sampler read and its heartbeat
 * going while serve runs (docs/design.md §12.3). */
static void *heap_thread(void *arg)
{
	struct http_target *tg = arg;
	char err[256];

	while (!atomic_load(&tg->heap_quit)) {
		pthread_mutex_lock(&tg->heap_lock);
		pthread_mutex_lock(&tg->ptrace_lock);
		int e = record_heap_step(tg->heap, err, sizeof(err));
		pthread_mutex_unlock(&tg->ptrace_lock);
		pthread_mutex_unlock(&tg->heap_lock);
		/* A target gone: nothing more to read; its profile stays
		 * answerable until the target is closed. */
		if (e == -ESRCH)
			break;
		struct timespec ts = { 0, (long)HEAP_READ_NS };
		nanosleep(&ts, NULL);
	}
	return NULL;
}

void http_heap_stop(struct http_target *tg)
{
	if (tg->heap_thread_started) {
		atomic_store(&tg->heap_quit, true);
		pthread_join(tg->heap_thread, NULL);
		tg->heap_thread_started = false;
	}
	if (tg->heap) {
		char err[256];

		pthread_mutex_lock(&tg->ptrace_lock);
		record_heap_stop(tg->heap, NULL, err, sizeof(err));
		pthread_mutex_unlock(&tg->ptrace_lock);
		tg->heap = NULL;
	}
}

/* Starts the target's heap sampler if it does not run yet. heap_lock is
 * held. Returns 0 or -errno with the reason in err. */
static int heap_ensure(struct http_target *tg, char *err, size_t errlen)
{
	if (tg->heap)
		return 0;
	struct record_opts ro = tg->o->record;

	ro.pid = tg->pid;
	ro.profile = RECORD_HEAP;
	ro.trace = NULL;
	ro.seconds = 0;
	if (!ro.heap_rate)
		ro.heap_rate = RECORD_HEAP_RATE;
	pthread_mutex_lock(&tg->ptrace_lock);
	int e = record_heap_start(&ro, &tg->heap, err, errlen);
	pthread_mutex_unlock(&tg->ptrace_lock);
	if (e < 0)
		return e;
	atomic_store(&tg->heap_quit, false);
	e = -pthread_create(&tg->heap_thread, NULL, heap_thread, tg);
	if (e < 0) {
		pthread_mutex_lock(&tg->ptrace_lock);
		record_heap_stop(tg->heap, NULL, NULL, 0);
		pthread_mutex_unlock(&tg->ptrace_lock);
		tg->heap = NULL;
		errmsg_set(err, errlen, "cannot start a thread: %s", strerror(-e));
		return e;
	}
	tg->heap_thread_started = true;
	return 0;
}

/* The heap profile as of now. */
static int heap_snapshot(struct http_target *tg, enum record_profile kind,
			 struct profile **out)
{
	pthread_mutex_lock(&tg->heap_lock);
	int e = tg->heap ? record_heap_profile(tg->heap, kind, out) : -ESRCH;
	pthread_mutex_unlock(&tg->heap_lock);
	return e;
}

/* heap and allocs, as Go's net/http/pprof serves them: the profile of
 * everything sampled since the first request; ?seconds=N the delta over N
 * seconds; debug=1 Go's text; gc=N accepted (there is no collector to
 * run). */
static void serve_heap(struct http_target *tg, struct http_request *rq,
		       const char *name, const char *query, struct http_reply *r)
{
	enum record_profile kind = !strcmp(name, "allocs") ? RECORD_ALLOCS : RECORD_HEAP;
	long long sec = 0;
	int debug = 0;
	char v[64], err[256] = "";
	int delta = delta_seconds(tg, query, false, &sec, r);

	if (delta < 0)
		return;
	if (delta == 0) {
		int g = http_query_get(query, "debug", v, sizeof(v));
		if (http_check_debug(g > 0 ? v : g < 0 ? "?" : NULL, &debug, r) < 0)
			return;
	}
	pthread_mutex_lock(&tg->heap_lock);
	int e = heap_ensure(tg, err, sizeof(err));
	pthread_mutex_unlock(&tg->heap_lock);
	if (e == -ESRCH) {
		http_reply_error(r, 503, "process %d exited", (int)tg->pid);
		return;
	}
	if (e == -ENOTSUP && strstr(err, "this build")) {
		http_reply_error(r, 501, "%s profile not available: %s", name, err);
		return;
	}
	if (e < 0) {
		http_reply_error(r, 500, "Could not enable %s profiling: %s", name,
				 err[0] ? err : strerror(-e));
		return;
	}

	struct profile *p0 = NULL, *p1 = NULL, *d = NULL;
	if (debug > 0) {
		FILE *f;

		memset(r, 0, sizeof(*r));
		f = open_memstream(&r->body, &r->len);
		if (!f) {
			http_reply_error(r, 500, "out of memory");
			return;
		}
		pthread_mutex_lock(&tg->heap_lock);
		e = tg->heap ? record_heap_text(tg->heap, f) : -ESRCH;
		pthread_mutex_unlock(&tg->heap_lock);
		if (fclose(f) != 0 && e == 0)
			e = -ENOMEM;
		if (e < 0) {
			free(r->body);
			memset(r, 0, sizeof(*r));
			http_reply_error(r, 500, "writing the profile failed: %s", strerror(-e));
			return;
		}
		r->status = 200;
		r->content_type = TEXT_PLAIN;
		return;
	}
	e = heap_snapshot(tg, kind, &p0);
	if (e == 0 && sec > 0) {
		if (wait_window(tg, rq, r, sec) < 0)
			goto out;
		e = heap_snapshot(tg, kind, &p1);
		if (e == 0)
			e = profile_delta(p0, p1, &d);
	}
	if (e == 0) {
		memset(r, 0, sizeof(*r));
		e = encode_profile(tg, d ? d : p0, &r->body, &r->len);
	}
	if (e < 0) {
		http_reply_error(r, 500, "writing the %s profile of process %d failed: %s",
				 name, (int)tg->pid, strerror(-e));
		goto out;
	}
	r->status = 200;
	r->content_type = OCTET_STREAM;
	snprintf(r->disposition, sizeof(r->disposition), "%s%s", name, d ? "-delta" : "");
out:
	profile_free(p0);
	profile_free(p1);
	profile_free(d);
}

/* HEAD of a profile (CPU, off-CPU, trace, thread dumps) answers with the
 * headers a GET would have and does no work: no sampling, no stopping of
 * the target's threads (a HEAD checks a URL; it must not cost seconds).
 * Returns false for the other routes, served as for GET. */
static bool head_only(enum http_route route, const char *name, const char *query,
		      struct http_reply *r)
{
	char v[64];
	const char *file = NULL;
	bool text = false;

	switch (route) {
	case HTTP_ROUTE_PROFILE: file = "profile"; break;
	case HTTP_ROUTE_BLOCK: file = "block"; break;
	case HTTP_ROUTE_MUTEX: file = "mutex"; break;
	case HTTP_ROUTE_WALL: file = "wall"; break;
	case HTTP_ROUTE_HEAP:
	case HTTP_ROUTE_THREADS:
	case HTTP_ROUTE_THREADCREATE: file = name; break;
	case HTTP_ROUTE_TRACE:
		memset(r, 0, sizeof(*r));
		r->status = 200;
		r->content_type = "application/json";
		snprintf(r->disposition, sizeof(r->disposition), "trace.json");
		return true;
	default:
		return false;
	}
	int g = http_query_get(query, "debug", v, sizeof(v));
	text = g > 0 && v[0] && strcmp(v, "0") != 0;
	memset(r, 0, sizeof(*r));
	r->status = 200;
	if (text) {
		r->content_type = TEXT_PLAIN;
	} else {
		r->content_type = OCTET_STREAM;
		snprintf(r->disposition, sizeof(r->disposition), "%s", file);
	}
	return true;
}

struct shared_dump *http_dump_for(struct http_target *tg, struct http_reply *r)
{
	return dump_for(tg, mono_ns() - HTTP_DUMP_REUSE_MS * 1000000ULL, r);
}

const struct threads_dump *http_dump_threads(const struct shared_dump *sd)
{
	return sd->d;
}

void http_dump_put(struct http_target *tg, struct shared_dump *sd)
{
	dump_put(tg, sd);
}

void http_serve_profile(struct http_target *tg, struct http_request *rq,
			const char *query, enum record_profile kind,
			struct http_reply *r)
{
	serve_profile(tg, rq, query, kind, r);
}

void http_endpoints_route(struct http_target *tg, struct http_request *rq,
			  const char *url, const char *method,
			  struct http_reply *r)
{
	const char *name;
	const char *q = rq->uri ? strchr(rq->uri, '?') : NULL;
	const char *query = q ? q + 1 : "";
	enum http_route route = http_route_path(url, &name);
	if (route == HTTP_ROUTE_NOT_FOUND && http_ui_route(tg, rq, url, method, r))
		return;
	bool get = !strcmp(method, "GET") ||
		   !strcmp(method, "HEAD");
	bool post = !strcmp(method, "POST");

	if (route == HTTP_ROUTE_NOT_FOUND) {
		/* Go's mux: http.Error(w, "404 page not found", 404) */
		http_reply_error(r, 404, "404 page not found");
		r->go_error = false;
		return;
	}
	/* Go 1.22+ registers the symbol handler for GET only, but pprof
	 * POSTs to it: accept both there, only GET (and HEAD) elsewhere. */
	if (!get && !(post && route == HTTP_ROUTE_SYMBOL)) {
		http_reply_error(r, 405, "method not allowed");
		r->allow = route == HTTP_ROUTE_SYMBOL ? "GET, HEAD, POST" : "GET, HEAD";
		return;
	}
	if (atomic_load(&tg->stopping)) {
		reply_stopping(tg, r);
		return;
	}
	if (rq->head && head_only(route, name, query, r))
		return;
	switch (route) {
	case HTTP_ROUTE_REDIRECT: {
		/* Go's ServeMux keeps the query when it adds the slash, and
		 * http.Redirect writes this body for GET and HEAD. */
		struct sbuf b = { 0 };
		memset(r, 0, sizeof(*r));
		r->status = 301;
		r->content_type = TEXT_HTML;
		if (asprintf(&rq->location, "%s/debug/pprof/%s%s", rq->prefix,
			     *query ? "?" : "", query) < 0)
			rq->location = NULL;
		r->location = rq->location ? rq->location : "/debug/pprof/";
		sb_printf(&b, "<a href=\"");
		html_escape(&b, r->location);
		sb_printf(&b, "\">Moved Permanently</a>.\n\n");
		if (sb_finish(&b, &r->body, &r->len) < 0) {
			r->body = NULL;
			r->len = 0;
		}
		break;
	}
	case HTTP_ROUTE_INDEX:
		serve_index(tg, r);
		break;
	case HTTP_ROUTE_CMDLINE:
		serve_cmdline(tg, r);
		break;
	case HTTP_ROUTE_PROFILE:
		serve_profile(tg, rq, query, RECORD_CPU, r);
		break;
	case HTTP_ROUTE_BLOCK:
		serve_profile(tg, rq, query, RECORD_BLOCK, r);
		break;
	case HTTP_ROUTE_MUTEX:
		serve_profile(tg, rq, query, RECORD_MUTEX, r);
		break;
	case HTTP_ROUTE_WALL:
		serve_profile(tg, rq, query, RECORD_WALL, r);
		break;
	case HTTP_ROUTE_TRACE:
		serve_profile(tg, rq, query, RECORD_TRACE, r);
		break;
	case HTTP_ROUTE_SYMBOL:
		serve_symbol(tg, rq, post, query, r);
		break;
	case HTTP_ROUTE_THREADS:
		serve_threads(tg, rq, name, query,
			      !strcmp(name, "threads") ? VIEW_THREADS : VIEW_GOROUTINE, r);
		break;
	case HTTP_ROUTE_THREADCREATE:
		serve_threads(tg, rq, name, query, VIEW_THREADCREATE, r);
		break;
	case HTTP_ROUTE_HEAP:
		serve_heap(tg, rq, name, query, r);
		break;
	case HTTP_ROUTE_UNAVAILABLE:
		http_reply_error(r, 501, "%s profile not available: %s", name,
				 unavailable_reason(name));
		break;
	case HTTP_ROUTE_UNKNOWN:
	case HTTP_ROUTE_NOT_FOUND:
		http_reply_error(r, 404, "Unknown profile");
		break;
	}
}

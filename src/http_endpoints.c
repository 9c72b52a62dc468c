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

#include "http.h"
#include "http_int.h"
#include "pprof.h"
#include "procfs.h"
#include "symbolize.h"
#include "trace.h"

/* One capture, shared by the requests that waited for it, with the replies
 * rendered from it so far. refs under capture_lock, bodies under sym_lock. */
struct shared_dump {
	struct threads_dump *d;
	int err;			/* of threads_capture */
	char why[256];
	int refs;
	char *body[6];			/* (goroutine, threadcreate) x debug */
	size_t len[6];
};

static void reply_stopping(struct http_target *tg, struct http_reply *r)
{
	if (atomic_load(&tg->stopping) == HTTP_STOP_TARGET_EXITED)
		http_reply_error(r, 503, "process %d exited: cprof serve is stopping", (int)tg->pid);
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
	const char *name = symbolizer_name(arg, addr);
	if (!name && addr > 1)
		name = symbolizer_name(arg, addr - 1);
	return name;
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
	if (http_index_html(tg->pid, comm, nthreads, &r->body, &r->len) < 0) {
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
	memset(r, 0, sizeof(*r));
	pthread_mutex_lock(&tg->sym_lock);
	if (n)
		symbolizer_refresh(tg->sym);	/* dlopen'ed modules */
	int e = http_symbol_body(addrs, n, sym_name, tg->sym, &r->body, &r->len);
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
	(void)name;	/* heap and allocs */
	return "needs allocation tracing of the process, which cprof does not do yet";
}

/* The outermost frames of every thread (see http_start_routine_frames), as
 * a dump of its own arrays; the start routine itself is named by its entry
 * address so that threads waiting at different lines of it form one group,
 * as Go groups threads by where they were created. *view_threads and *mem
 * are the caller's to free; sym_lock is held. */
static int threadcreate_view(struct http_target *tg, const struct threads_dump *d,
			     struct threads_dump *view,
			     struct threads_thread **view_threads, void **mem)
{
	size_t total = 0, maxn = 0;
	for (size_t i = 0; i < d->n; i++) {
		total += d->threads[i].npcs;
		if (d->threads[i].npcs > maxn)
			maxn = d->threads[i].npcs;
	}
	struct threads_thread *t = calloc(d->n ? d->n : 1, sizeof(*t));
	char *buf = calloc(total ? total : 1, sizeof(uint64_t) + sizeof(bool));
	const struct sym_frame **frames = calloc(maxn ? maxn : 1, sizeof(*frames));
	const char **names = calloc(maxn ? maxn : 1, sizeof(*names));
	if (!t || !buf || !frames || !names) {
		free(t);
		free(buf);
		free(frames);
		free(names);
		return -ENOMEM;
	}
	uint64_t *pcs = (uint64_t *)(void *)buf;
	bool *act = (bool *)(buf + (total ? total : 1) * sizeof(uint64_t));
	size_t used = 0;
	for (size_t i = 0; i < d->n; i++) {
		const struct threads_thread *th = &d->threads[i];
		for (size_t j = 0; j < th->npcs; j++) {
			bool is_return = j > 0 && !(th->is_activation && th->is_activation[j]);
			frames[j] = symbolizer_lookup(tg->sym, th->pcs[j], is_return);
			names[j] = frames[j] && frames[j]->nlines ?
				frames[j]->lines[frames[j]->nlines - 1].function : NULL;
		}
		size_t keep = http_start_routine_frames(names, th->npcs);
		size_t skip = th->npcs - keep;
		t[i] = *th;
		t[i].pcs = pcs + used;
		t[i].is_activation = act + used;
		for (size_t j = 0; j < keep; j++) {
			pcs[used + j] = th->pcs[skip + j];
			act[used + j] = th->is_activation ? th->is_activation[skip + j] : false;
		}
		const struct sym_frame *f = keep ? frames[skip] : NULL;
		if (f && f->nlines && f->lines[f->nlines - 1].offset <= th->pcs[skip]) {
			pcs[used] = th->pcs[skip] - f->lines[f->nlines - 1].offset;
			act[used] = true;	/* an entry, not a return address */
		}
		used += keep;
		t[i].npcs = keep;
		t[i].truncated = false;
	}
	free(frames);
	free(names);
	*view = *d;
	view->threads = t;
	*view_threads = t;
	*mem = buf;
	return 0;
}

/* Position of the location or mapping with this id: profile.c numbers them
 * 1..n in order, a decoded profile may not. n when absent. */
static size_t loc_pos(const struct profile *p, uint64_t id)
{
	if (id && id <= p->nlocations && p->locations[id - 1].id == id)
		return id - 1;
	for (size_t i = 0; i < p->nlocations; i++)
		if (p->locations[i].id == id)
			return i;
	return p->nlocations;
}

static size_t map_pos(const struct profile *p, uint64_t id)
{
	if (id && id <= p->nmappings && p->mappings[id - 1].id == id)
		return id - 1;
	for (size_t i = 0; i < p->nmappings; i++)
		if (p->mappings[i].id == id)
			return i;
	return p->nmappings;
}

/* A copy of in with addresses, mappings and build ids but no functions or
 * lines, every mapping without has_functions: what pprof takes as "ask the
 * server" (symbolz.go posts the addresses of locations without lines to
 * /debug/pprof/symbol). Mappings pprof never asks about ([kernel], [vdso]:
 * see http_unsymbolizable_mapping) keep their names, which would otherwise
 * be lost. Returns 0 or -ENOMEM. */
static int strip_symbols(const struct profile *in, struct profile **out)
{
	struct profile *p = profile_new();
	uint64_t *mapids = calloc(in->nmappings + 1, sizeof(*mapids));
	uint64_t *locids = calloc(in->nlocations + 1, sizeof(*locids));
	uint64_t *stack = NULL;
	struct profile_label_in *labels = NULL;
	struct profile_line *lines = NULL;
	bool *keep = NULL;
	size_t maxloc = 1, maxlab = 1, maxlines = 1;
	int e = -ENOMEM;

	for (size_t i = 0; i < in->nsamples; i++) {
		if (in->samples[i].nlocations > maxloc)
			maxloc = in->samples[i].nlocations;
		if (in->samples[i].nlabels > maxlab)
			maxlab = in->samples[i].nlabels;
	}
	for (size_t i = 0; i < in->nlocations; i++)
		if (in->locations[i].nlines > maxlines)
			maxlines = in->locations[i].nlines;
	stack = calloc(maxloc, sizeof(*stack));
	labels = calloc(maxlab, sizeof(*labels));
	lines = calloc(maxlines, sizeof(*lines));
	keep = calloc(in->nmappings + 1, sizeof(*keep));
	if (!p || !mapids || !locids || !stack || !labels || !lines || !keep)
		goto out;
#define STR(i) ((i) > 0 && (size_t)(i) < in->nstrings ? in->strings[i] : "")
	for (size_t i = 0; i < in->nsample_types; i++)
		if (profile_add_sample_type(p, STR(in->sample_types[i].type),
					    STR(in->sample_types[i].unit)) < 0)
			goto out;
	if (profile_set_period(p, STR(in->period_type.type), STR(in->period_type.unit),
			       in->period) < 0)
		goto out;
	for (size_t i = 0; i < in->ncomments; i++)
		if (profile_add_comment(p, STR(in->comments[i])) < 0)
			goto out;
	p->time_nanos = in->time_nanos;
	p->duration_nanos = in->duration_nanos;
	/* mapids[pos], locids[pos]: the new ids; [n] is 0 for "none". */
	for (size_t i = 0; i < in->nmappings; i++) {
		const struct profile_mapping *m = &in->mappings[i];
		mapids[i] = profile_add_mapping(p, m->start, m->limit, m->offset,
						STR(m->filename), STR(m->build_id));
		if (!mapids[i])
			goto out;
		keep[i] = http_unsymbolizable_mapping(STR(m->filename));
		if (keep[i]) {
			struct profile_mapping *nm = profile_mapping(p, mapids[i]);
			nm->has_functions = m->has_functions;
			nm->has_filenames = m->has_filenames;
			nm->has_line_numbers = m->has_line_numbers;
			nm->has_inline_frames = m->has_inline_frames;
		}
	}
	for (size_t i = 0; i < in->nlocations; i++) {
		const struct profile_location *l = &in->locations[i];
		size_t mp = map_pos(in, l->mapping_id);
		size_t nl = 0;
		/* pprof never asks /symbol about these: keep their names. */
		if (mp < in->nmappings && keep[mp]) {
			for (size_t j = 0; j < l->nlines; j++) {
				const struct profile_function *f =
					profile_function_by_id(in, l->lines[j].function_id);
				if (!f)
					continue;
				lines[nl].line = l->lines[j].line;
				lines[nl].function_id =
					profile_function(p, STR(f->name), STR(f->system_name),
							 STR(f->filename), f->start_line);
				if (!lines[nl++].function_id)
					goto out;
			}
		}
		locids[i] = profile_location(p, mapids[mp], l->address, nl ? lines : NULL, nl);
		if (!locids[i])
			goto out;
	}
	for (size_t i = 0; i < in->nsamples; i++) {
		const struct profile_sample *sm = &in->samples[i];
		for (size_t j = 0; j < sm->nlocations; j++)
			stack[j] = locids[loc_pos(in, sm->location_ids[j])];
		for (size_t j = 0; j < sm->nlabels; j++) {
			labels[j].key = STR(sm->labels[j].key);
			labels[j].str = sm->labels[j].str ? STR(sm->labels[j].str) : NULL;
			labels[j].num = sm->labels[j].num;
			labels[j].num_unit = sm->labels[j].num_unit ?
				STR(sm->labels[j].num_unit) : NULL;
		}
		if (profile_add_sample(p, stack, sm->nlocations, sm->values, labels,
				       sm->nlabels) < 0)
			goto out;
	}
#undef STR
	*out = p;
	p = NULL;
	e = 0;
out:
	profile_free(p);
	free(mapids);
	free(locids);
	free(stack);
	free(labels);
	free(lines);
	free(keep);
	return e;
}

/* Encodes a finished profile for a reply, stripped of symbols if asked. */
static int encode_profile(struct http_target *tg, const struct profile *p,
			  char **body, size_t *len)
{
	struct profile *stripped = NULL;
	if (tg->o->remote_symbols) {
		int e = strip_symbols(p, &stripped);
		if (e < 0)
			return e;
		p = stripped;
	}
	int e = pprof_encode(p, (uint8_t **)body, len);
	profile_free(stripped);
	return e;
}

/* One of the six bodies of a dump: (goroutine, threadcreate) x debug 0-2.
 * sym_lock is held. */
static int render_dump(struct http_target *tg, const struct threads_dump *d,
		       bool threadcreate, int debug, char **body, size_t *blen)
{
	struct threads_dump view;
	struct threads_thread *vt = NULL;
	void *mem = NULL;
	const struct threads_dump *use = d;
	char *buf = NULL;
	size_t len = 0;
	int e = 0;

	symbolizer_refresh(tg->sym);	/* modules dlopen'ed since */
	if (threadcreate) {
		e = threadcreate_view(tg, d, &view, &vt, &mem);
		use = &view;
	}
	if (e == 0 && debug == 0) {
		struct profile *p = NULL;
		e = threads_to_profile(use, tg->sym, &p);
		if (e == 0)
			e = encode_profile(tg, p, &buf, &len);
		profile_free(p);
	} else if (e == 0) {
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
		if (e == 0 && threadcreate && len >= sizeof(from) - 1 &&
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
	free(vt);
	free(mem);
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

/* A dump taken after the caller arrived. Concurrent callers share one
 * capture (single flight): whoever finds no capture running starts one,
 * the others wait for it, unless it began before they arrived. Under load,
 * the target is stopped once per round of requests instead of once per
 * request, and each answer is still no older than its request.
 * Returns 0 with a reference in *out (dump_put it), -ECANCELED when the
 * server is stopping, -ENOMEM. */
static int dump_get(struct http_target *tg, struct shared_dump **out)
{
	pthread_mutex_lock(&tg->capture_lock);
	unsigned long need = tg->captures_started + 1;
	while (tg->captures_done < need) {
		if (atomic_load(&tg->stopping)) {
			pthread_mutex_unlock(&tg->capture_lock);
			return -ECANCELED;
		}
		if (tg->capturing) {
			pthread_cond_wait(&tg->capture_cond, &tg->capture_lock);
			continue;
		}
		tg->capturing = true;
		unsigned long k = ++tg->captures_started;
		pthread_mutex_unlock(&tg->capture_lock);
		struct shared_dump *sd = calloc(1, sizeof(*sd));
		if (sd)
			sd->err = threads_capture(&tg->topts, &sd->d, sd->why, sizeof(sd->why));
		pthread_mutex_lock(&tg->capture_lock);
		tg->capturing = false;
		http_dump_put_locked(tg->latest);
		tg->latest = sd;
		if (sd)
			sd->refs = 1;
		tg->captures_done = k;
		pthread_cond_broadcast(&tg->capture_cond);
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

static void serve_threads(struct http_target *tg, const char *name, const char *query,
			  bool threadcreate, struct http_reply *r)
{
	char v[64];
	int debug;
	int g = http_query_get(query, "debug", v, sizeof(v));
	if (http_check_debug(g > 0 ? v : g < 0 ? "?" : NULL, &debug, r) < 0)
		return;
	g = http_query_get(query, "seconds", v, sizeof(v));
	if (g < 0 || (g > 0 && v[0])) {
		long long sec;
		if (g < 0 || parse_go_int(v, &sec) < 0 || sec <= 0)
			http_reply_error(r, 400, "invalid value for \"seconds\" - must be a positive integer");
		else if (debug != 0)
			http_reply_error(r, 400, "seconds and debug params are incompatible");
		else
			http_reply_error(r, 501, "delta profiles (seconds=N) of %s are not supported: a thread dump is a snapshot, request it without seconds",
					 name);
		return;
	}

	struct shared_dump *sd = NULL;
	int e = dump_get(tg, &sd);
	if (e == -ECANCELED) {
		reply_stopping(tg, r);
		return;
	}
	if (e < 0) {
		http_reply_error(r, 500, "out of memory");
		return;
	}
	if (sd->err < 0) {
		reply_target_error(tg, sd->err, "capturing the threads", sd->why, r);
		dump_put(tg, sd);
		return;
	}

	int variant = (threadcreate ? 3 : 0) + debug;
	memset(r, 0, sizeof(*r));
	pthread_mutex_lock(&tg->sym_lock);
	if (!sd->body[variant]) {
		e = render_dump(tg, sd->d, threadcreate, debug, &sd->body[variant],
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
	int fd;
	bool client_gone;
};

static int profile_tick(const struct record_stats *st, void *arg)
{
	struct tick_ctx *t = arg;
	if (atomic_load(&t->tg->stopping))
		return 1;
	/* A client that gave up (pprof's own time-out, Ctrl-C) must not keep
	 * the one CPU profile slot busy: an orderly close reads as EOF.
	 * Nothing else reads this socket while the handler runs (one thread
	 * per connection). */
	if (t->fd >= 0) {
		char c;
		ssize_t n = recv(t->fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK &&
			       errno != EINTR)) {
			t->client_gone = true;
			return 1;
		}
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

/* profile, block, mutex and wall: a recording of the kind asked for. One
 * of each kind at a time (Go's rule for profile: a second one is 500);
 * kinds do not wait for each other, their perf sessions are independent. */
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
	if (pthread_mutex_trylock(&tg->kind_lock[kind]) != 0) {
		http_reply_error(r, 500, "Could not enable %s profiling: %s profiling already in use",
				 what, kind == RECORD_CPU ? "cpu" : what);
		return;
	}
	struct tick_ctx t = { .tg = tg, .fd = rq->fd };
	struct record_callbacks cb = { .tick = profile_tick, .arg = &t };
	struct record_opts ro = tg->o->record;
	struct record_stats st;
	struct profile *p = NULL;
	char err[256] = "";
	ro.pid = tg->pid;
	ro.seconds = secs;
	ro.profile = kind;
	ro.trace = NULL;
	if (kind == RECORD_TRACE && !(ro.trace = trace_new())) {
		pthread_mutex_unlock(&tg->kind_lock[kind]);
		http_reply_error(r, 500, "out of memory");
		return;
	}
	memset(&st, 0, sizeof(st));
	int e = record_run(&ro, &cb, &p, &st, err, sizeof(err));
	pthread_mutex_unlock(&tg->kind_lock[kind]);

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
	else if (ro.trace) {
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

void http_endpoints_route(struct http_target *tg, struct http_request *rq,
			  const char *url, const char *method,
			  struct http_reply *r)
{
	const char *name;
	const char *q = rq->uri ? strchr(rq->uri, '?') : NULL;
	const char *query = q ? q + 1 : "";
	enum http_route route = http_route_path(url, &name);
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
	switch (route) {
	case HTTP_ROUTE_REDIRECT: {
		/* Go's ServeMux keeps the query when it adds the slash, and
		 * http.Redirect writes this body for GET and HEAD. */
		struct sbuf b = { 0 };
		memset(r, 0, sizeof(*r));
		r->status = 301;
		r->content_type = TEXT_HTML;
		if (*query && asprintf(&rq->location, "/debug/pprof/?%s", query) < 0)
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
		serve_threads(tg, name, query, false, r);
		break;
	case HTTP_ROUTE_THREADCREATE:
		serve_threads(tg, name, query, true, r);
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

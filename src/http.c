/*
 * http.c - /debug/pprof/ for a foreign process on libmicrohttpd.
 *
 * Replies follow Go's net/http/pprof (src/net/http/pprof/pprof.c in Go
 * 1.19): every response carries X-Content-Type-Options: nosniff; profiles
 * are application/octet-stream with Content-Disposition: attachment;
 * errors go through serveError (text/plain, X-Go-Pprof: 1, text + "\n"),
 * which is what `go tool pprof` looks for before printing an error body.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE	/* vasprintf */
#endif
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <dlfcn.h>
#include <microhttpd.h>

#include "hexdigit.h"
#include "http.h"
#include "http_int.h"
#include "errmsg.h"
#include "pprof.h"
#include "procfs.h"
#include "symbolize.h"
#include "trace.h"

/* libmicrohttpd is opened by the first server, not linked into cprof: its
 * constructor initialises GnuTLS (configuration files, p11-kit, ~2 ms),
 * which every `cprof threads` and `cprof record` would pay at start-up for
 * nothing. CPROF_MHD_SONAME is the soname of the library we were built
 * against (CMakeLists.txt). */
static struct {
	__typeof__(MHD_start_daemon) *start_daemon;
	__typeof__(MHD_stop_daemon) *stop_daemon;
	__typeof__(MHD_queue_response) *queue_response;
	__typeof__(MHD_create_response_from_buffer) *create_response_from_buffer;
	__typeof__(MHD_destroy_response) *destroy_response;
	__typeof__(MHD_add_response_header) *add_response_header;
	__typeof__(MHD_lookup_connection_value) *lookup_connection_value;
	__typeof__(MHD_get_connection_info) *get_connection_info;
} mhd;
static pthread_once_t mhd_once = PTHREAD_ONCE_INIT;
static char mhd_error[256];

static void http_load_mhd(void)
{
	void *h = dlopen(CPROF_MHD_SONAME, RTLD_NOW | RTLD_LOCAL);
	const char *missing = NULL;

	if (!h) {
		snprintf(mhd_error, sizeof(mhd_error), "%s", dlerror());
		return;
	}
#define HTTP_MHD_SYM(f) \
	if (!missing && !(*(void **)&mhd.f = dlsym(h, "MHD_" #f))) \
		missing = "MHD_" #f;
	HTTP_MHD_SYM(start_daemon)
	HTTP_MHD_SYM(stop_daemon)
	HTTP_MHD_SYM(queue_response)
	HTTP_MHD_SYM(create_response_from_buffer)
	HTTP_MHD_SYM(destroy_response)
	HTTP_MHD_SYM(add_response_header)
	HTTP_MHD_SYM(lookup_connection_value)
	HTTP_MHD_SYM(get_connection_info)
#undef HTTP_MHD_SYM
	if (missing) {
		snprintf(mhd_error, sizeof(mhd_error), "%s has no %s",
			 CPROF_MHD_SONAME, missing);
		memset(&mhd, 0, sizeof(mhd));
		dlclose(h);
	}
	/* Never closed: the library's threads run its code until the last
	 * server stops, and a second server reuses it. */
}

#define POLL_MS 100
/* How long a stopping server lets replies in flight reach their clients
 * before libmicrohttpd shuts the sockets. */
#define DRAIN_MS 3000

/* --- the server -------------------------------------------------------- */

enum stop_reason {
	RUNNING = 0,
	STOP_REQUESTED,
	STOP_TARGET_EXITED,
};

struct server {
	const struct http_opts *o;
	pid_t pid;
	struct threads_opts topts;
	unsigned max_seconds;
	uint64_t starttime;		/* tells a reused pid from ours */
	struct symbolizer *sym;		/* under sym_lock */
	pthread_mutex_t sym_lock;	/* elfutils is not thread-safe */
	pthread_mutex_t capture_lock;	/* the fields below, to latest */
	pthread_cond_t capture_cond;	/* a capture finished */
	unsigned long captures_started, captures_done;
	bool capturing;			/* one ptrace capture at a time */
	struct shared_dump *latest;	/* the last capture, shared */
	pthread_mutex_t kind_lock[RECORD_TRACE + 1];	/* one profile of each
							 * kind at a time */
	pthread_mutex_t log_lock;
	atomic_int stopping;		/* enum stop_reason */
	atomic_int active;		/* requests not yet completed */
};

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

/* Per request, from the URI callback to the completion callback. */
struct request {
	struct timespec start;
	char *uri;			/* raw, with the query */
	char method[16];
	bool started;
	char *body;			/* POST body */
	size_t blen;
	char *location;			/* a redirect's Location, or NULL */
	bool too_large;
	int status;
	size_t bytes;
};

static void reply_stopping(struct server *s, struct http_reply *r)
{
	if (atomic_load(&s->stopping) == STOP_TARGET_EXITED)
		http_reply_error(r, 503, "process %d exited: cprof serve is stopping", (int)s->pid);
	else
		http_reply_error(r, 503, "cprof serve is stopping");
}

static void reply_target_error(struct server *s, int e, const char *what,
			       const char *reason, struct http_reply *r)
{
	if (e == -ESRCH || e == -ENOENT)
		http_reply_error(r, 503, "process %d exited", (int)s->pid);
	else
		http_reply_error(r, 500, "%s of process %d failed: %s", what,
				 (int)s->pid, reason && *reason ? reason : strerror(-e));
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

static void serve_index(struct server *s, struct http_reply *r)
{
	char comm[32] = "?";
	pid_t *tids = NULL;
	size_t n = 0;
	long nthreads = -1;

	procfs_read_comm(s->pid, s->pid, comm, sizeof(comm));
	if (procfs_list_tasks(s->pid, &tids, &n) == 0)
		nthreads = (long)n;
	free(tids);
	memset(r, 0, sizeof(*r));
	if (http_index_html(s->pid, comm, nthreads, &r->body, &r->len) < 0) {
		http_reply_error(r, 500, "out of memory");
		return;
	}
	r->status = 200;
	r->content_type = TEXT_HTML;
}

static void serve_cmdline(struct server *s, struct http_reply *r)
{
	char *buf = NULL;
	size_t len = 0;
	int e = procfs_read_cmdline(procfs_proc_tid(s->pid), &buf, &len);
	if (e < 0) {
		reply_target_error(s, e, "reading the command line", NULL, r);
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

static void serve_symbol(struct server *s, struct request *rq, bool post,
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
	pthread_mutex_lock(&s->sym_lock);
	if (n)
		symbolizer_refresh(s->sym);	/* dlopen'ed modules */
	int e = http_symbol_body(addrs, n, sym_name, s->sym, &r->body, &r->len);
	pthread_mutex_unlock(&s->sym_lock);
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
static int threadcreate_view(struct server *s, const struct threads_dump *d,
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
			frames[j] = symbolizer_lookup(s->sym, th->pcs[j], is_return);
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
static int encode_profile(struct server *s, const struct profile *p,
			  char **body, size_t *len)
{
	struct profile *stripped = NULL;
	if (s->o->remote_symbols) {
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
static int render_dump(struct server *s, const struct threads_dump *d,
		       bool threadcreate, int debug, char **body, size_t *blen)
{
	struct threads_dump view;
	struct threads_thread *vt = NULL;
	void *mem = NULL;
	const struct threads_dump *use = d;
	char *buf = NULL;
	size_t len = 0;
	int e = 0;

	symbolizer_refresh(s->sym);	/* modules dlopen'ed since */
	if (threadcreate) {
		e = threadcreate_view(s, d, &view, &vt, &mem);
		use = &view;
	}
	if (e == 0 && debug == 0) {
		struct profile *p = NULL;
		e = threads_to_profile(use, s->sym, &p);
		if (e == 0)
			e = encode_profile(s, p, &buf, &len);
		profile_free(p);
	} else if (e == 0) {
		FILE *f = open_memstream(&buf, &len);
		if (!f) {
			e = -errno;
		} else {
			e = threads_write(use, s->sym, debug == 1 ? THREADS_FMT_GO_DEBUG1 : THREADS_FMT_TEXT, f);
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

static void dump_put_locked(struct shared_dump *sd)
{
	if (!sd || --sd->refs > 0)
		return;
	threads_dump_free(sd->d);
	for (size_t i = 0; i < sizeof(sd->body) / sizeof(sd->body[0]); i++)
		free(sd->body[i]);
	free(sd);
}

static void dump_put(struct server *s, struct shared_dump *sd)
{
	pthread_mutex_lock(&s->capture_lock);
	dump_put_locked(sd);
	pthread_mutex_unlock(&s->capture_lock);
}

/* A dump taken after the caller arrived. Concurrent callers share one
 * capture (single flight): whoever finds no capture running starts one,
 * the others wait for it, unless it began before they arrived. Under load,
 * the target is stopped once per round of requests instead of once per
 * request, and each answer is still no older than its request.
 * Returns 0 with a reference in *out (dump_put it), -ECANCELED when the
 * server is stopping, -ENOMEM. */
static int dump_get(struct server *s, struct shared_dump **out)
{
	pthread_mutex_lock(&s->capture_lock);
	unsigned long need = s->captures_started + 1;
	while (s->captures_done < need) {
		if (atomic_load(&s->stopping)) {
			pthread_mutex_unlock(&s->capture_lock);
			return -ECANCELED;
		}
		if (s->capturing) {
			pthread_cond_wait(&s->capture_cond, &s->capture_lock);
			continue;
		}
		s->capturing = true;
		unsigned long k = ++s->captures_started;
		pthread_mutex_unlock(&s->capture_lock);
		struct shared_dump *sd = calloc(1, sizeof(*sd));
		if (sd)
			sd->err = threads_capture(&s->topts, &sd->d, sd->why, sizeof(sd->why));
		pthread_mutex_lock(&s->capture_lock);
		s->capturing = false;
		dump_put_locked(s->latest);
		s->latest = sd;
		if (sd)
			sd->refs = 1;
		s->captures_done = k;
		pthread_cond_broadcast(&s->capture_cond);
	}
	struct shared_dump *sd = s->latest;
	if (sd)
		sd->refs++;
	pthread_mutex_unlock(&s->capture_lock);
	if (!sd)
		return -ENOMEM;
	*out = sd;
	return 0;
}

static void serve_threads(struct server *s, const char *name, const char *query,
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
	int e = dump_get(s, &sd);
	if (e == -ECANCELED) {
		reply_stopping(s, r);
		return;
	}
	if (e < 0) {
		http_reply_error(r, 500, "out of memory");
		return;
	}
	if (sd->err < 0) {
		reply_target_error(s, sd->err, "capturing the threads", sd->why, r);
		dump_put(s, sd);
		return;
	}

	int variant = (threadcreate ? 3 : 0) + debug;
	memset(r, 0, sizeof(*r));
	pthread_mutex_lock(&s->sym_lock);
	if (!sd->body[variant]) {
		e = render_dump(s, sd->d, threadcreate, debug, &sd->body[variant],
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
	pthread_mutex_unlock(&s->sym_lock);
	dump_put(s, sd);
	if (e < 0) {
		http_reply_error(r, 500, "writing the thread dump of process %d failed: %s",
				 (int)s->pid, strerror(-e));
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
	struct server *s;
	int fd;
	bool client_gone;
};

static int profile_tick(const struct record_stats *st, void *arg)
{
	struct tick_ctx *t = arg;
	if (atomic_load(&t->s->stopping))
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
static int serve_trace_body(struct MHD_Connection *c, struct trace *t,
			    uint64_t duration, struct http_reply *r)
{
	const char *ae = mhd.lookup_connection_value(c, MHD_HEADER_KIND,
						     MHD_HTTP_HEADER_ACCEPT_ENCODING);
	char *json = NULL;
	size_t len = 0;
	int e = trace_finish(t, duration, &json, &len);

	if (e < 0)
		return e;
	r->status = 200;
	r->content_type = "application/json";
	snprintf(r->disposition, sizeof(r->disposition), "trace.json");
	if (ae && strstr(ae, "gzip")) {
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
static void serve_profile(struct server *s, struct MHD_Connection *c,
			  const char *query, enum record_profile kind,
			  struct http_reply *r)
{
	const char *what = kind == RECORD_CPU ? "CPU" : record_profile_name(kind);
	char v[64];
	unsigned secs;
	int debug = 0;
	int g = http_query_get(query, "seconds", v, sizeof(v));
	if (http_check_profile_seconds(g > 0 ? v : g < 0 ? "?" : NULL,
				       HTTP_DEFAULT_SECONDS, s->max_seconds,
				       &secs, r) < 0)
		return;
	if (kind == RECORD_BLOCK || kind == RECORD_MUTEX) {
		g = http_query_get(query, "debug", v, sizeof(v));
		if (http_check_debug(g > 0 ? v : g < 0 ? "?" : NULL, &debug, r) < 0)
			return;
	}
	if (pthread_mutex_trylock(&s->kind_lock[kind]) != 0) {
		http_reply_error(r, 500, "Could not enable %s profiling: %s profiling already in use",
				 what, kind == RECORD_CPU ? "cpu" : what);
		return;
	}
	const union MHD_ConnectionInfo *ci =
		mhd.get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
	struct tick_ctx t = { .s = s, .fd = ci ? ci->connect_fd : -1 };
	struct record_callbacks cb = { .tick = profile_tick, .arg = &t };
	struct record_opts ro = s->o->record;
	struct record_stats st;
	struct profile *p = NULL;
	char err[256] = "";
	ro.pid = s->pid;
	ro.seconds = secs;
	ro.profile = kind;
	ro.trace = NULL;
	if (kind == RECORD_TRACE && !(ro.trace = trace_new())) {
		pthread_mutex_unlock(&s->kind_lock[kind]);
		http_reply_error(r, 500, "out of memory");
		return;
	}
	memset(&st, 0, sizeof(st));
	int e = record_run(&ro, &cb, &p, &st, err, sizeof(err));
	pthread_mutex_unlock(&s->kind_lock[kind]);

	if (e == -ESRCH || (e == 0 && st.target_exited))
		http_reply_error(r, 503, "process %d exited during the profile", (int)s->pid);
	else if ((e == -EACCES || e == -EPERM) && kind != RECORD_CPU)
		http_reply_error(r, 500, "Could not enable %s profiling: %s (%s profiles "
				 "need cprof to run as root or with CAP_PERFMON)", what,
				 err[0] ? err : strerror(-e), what);
	else if (e < 0)
		http_reply_error(r, 500, "Could not enable %s profiling: %s", what,
				 err[0] ? err : strerror(-e));
	else if (t.client_gone)
		http_reply_error(r, 500, "the client closed the connection");
	else if (atomic_load(&s->stopping))
		reply_stopping(s, r);
	else if (ro.trace) {
		memset(r, 0, sizeof(*r));
		e = serve_trace_body(c, ro.trace, (uint64_t)p->duration_nanos, r);
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
		e = encode_profile(s, p, &r->body, &r->len);
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

static void route_request(struct server *s, struct MHD_Connection *c,
			  struct request *rq, const char *url,
			  const char *method, struct http_reply *r)
{
	const char *name;
	const char *q = rq->uri ? strchr(rq->uri, '?') : NULL;
	const char *query = q ? q + 1 : "";
	enum http_route route = http_route_path(url, &name);
	bool get = !strcmp(method, MHD_HTTP_METHOD_GET) ||
		   !strcmp(method, MHD_HTTP_METHOD_HEAD);
	bool post = !strcmp(method, MHD_HTTP_METHOD_POST);

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
	if (atomic_load(&s->stopping)) {
		reply_stopping(s, r);
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
		serve_index(s, r);
		break;
	case HTTP_ROUTE_CMDLINE:
		serve_cmdline(s, r);
		break;
	case HTTP_ROUTE_PROFILE:
		serve_profile(s, c, query, RECORD_CPU, r);
		break;
	case HTTP_ROUTE_BLOCK:
		serve_profile(s, c, query, RECORD_BLOCK, r);
		break;
	case HTTP_ROUTE_MUTEX:
		serve_profile(s, c, query, RECORD_MUTEX, r);
		break;
	case HTTP_ROUTE_WALL:
		serve_profile(s, c, query, RECORD_WALL, r);
		break;
	case HTTP_ROUTE_TRACE:
		serve_profile(s, c, query, RECORD_TRACE, r);
		break;
	case HTTP_ROUTE_SYMBOL:
		serve_symbol(s, rq, post, query, r);
		break;
	case HTTP_ROUTE_THREADS:
		serve_threads(s, name, query, false, r);
		break;
	case HTTP_ROUTE_THREADCREATE:
		serve_threads(s, name, query, true, r);
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

static enum MHD_Result send_reply(struct MHD_Connection *c, struct request *rq,
				  struct http_reply *r)
{
	struct MHD_Response *resp;
	char disp[128];

	if (r->body) {
		resp = mhd.create_response_from_buffer(r->len, r->body,
						       MHD_RESPMEM_MUST_FREE);
		if (resp)
			r->body = NULL;	/* libmicrohttpd frees it */
	} else {
		resp = mhd.create_response_from_buffer(0, (void *)"",
						       MHD_RESPMEM_PERSISTENT);
	}
	if (!resp)
		return MHD_NO;
	mhd.add_response_header(resp, "X-Content-Type-Options", "nosniff");
	if (r->content_type)
		mhd.add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, r->content_type);
	if (r->disposition[0]) {
		snprintf(disp, sizeof(disp), "attachment; filename=\"%s\"", r->disposition);
		mhd.add_response_header(resp, "Content-Disposition", disp);
	}
	if (r->go_error)
		mhd.add_response_header(resp, "X-Go-Pprof", "1");
	if (r->location)
		mhd.add_response_header(resp, MHD_HTTP_HEADER_LOCATION, r->location);
	if (r->allow)
		mhd.add_response_header(resp, MHD_HTTP_HEADER_ALLOW, r->allow);
	if (r->encoding)
		mhd.add_response_header(resp, MHD_HTTP_HEADER_CONTENT_ENCODING, r->encoding);
	enum MHD_Result ret = mhd.queue_response(c, (unsigned)r->status, resp);
	mhd.destroy_response(resp);
	rq->status = r->status;
	rq->bytes = r->len;
	return ret;
}

/* Whether a POST's body is to be read: only for symbol, and only when
 * its Content-Length (if any) is within HTTP_MAX_BODY; too_large is set
 * otherwise. */
static bool body_wanted(struct MHD_Connection *c, const char *url,
			struct request *rq)
{
	const char *name;
	if (http_route_path(url, &name) != HTTP_ROUTE_SYMBOL)
		return false;
	const char *cl = mhd.lookup_connection_value(c, MHD_HEADER_KIND,
						     MHD_HTTP_HEADER_CONTENT_LENGTH);
	if (cl) {
		char *end;
		errno = 0;
		unsigned long long v = strtoull(cl, &end, 10);
		if (errno == 0 && end != cl && *end == '\0' && v > HTTP_MAX_BODY) {
			rq->too_large = true;
			return false;
		}
	}
	return true;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c,
				  const char *url, const char *method,
				  const char *version, const char *upload_data,
				  size_t *upload_data_size, void **con_cls)
{
	struct server *s = cls;
	struct request *rq = *con_cls;
	struct http_reply r;

	if (!rq)
		return MHD_NO;	/* out of memory in on_uri */
	if (!rq->started) {
		rq->started = true;
		snprintf(rq->method, sizeof(rq->method), "%s", method);
		/* A POST body arrives in the calls that follow. Only symbol
		 * reads one: elsewhere the 405 (or 404) goes out at once, and
		 * a declared length beyond the limit gets its 413 before a
		 * byte of it is read (libmicrohttpd then closes the
		 * connection instead of reading the rest). */
		if (!strcmp(method, MHD_HTTP_METHOD_POST) && body_wanted(c, url, rq))
			return MHD_YES;
	} else if (*upload_data_size) {
		size_t n = *upload_data_size;
		*upload_data_size = 0;
		if (rq->too_large || rq->blen + n > HTTP_MAX_BODY) {
			rq->too_large = true;
			return MHD_YES;
		}
		char *nb = realloc(rq->body, rq->blen + n + 1);
		if (!nb)
			return MHD_NO;
		memcpy(nb + rq->blen, upload_data, n);
		rq->blen += n;
		nb[rq->blen] = '\0';
		rq->body = nb;
		return MHD_YES;
	}
	memset(&r, 0, sizeof(r));
	route_request(s, c, rq, url, method, &r);
	if (!r.status)
		http_reply_error(&r, 500, "out of memory");
	enum MHD_Result ret = send_reply(c, rq, &r);
	http_reply_release(&r);
	return ret;
}

static void *on_uri(void *cls, const char *uri, struct MHD_Connection *c)
{
	struct server *s = cls;
	struct request *rq = calloc(1, sizeof(*rq));
	if (!rq)
		return NULL;
	clock_gettime(CLOCK_MONOTONIC, &rq->start);
	rq->uri = strdup(uri);
	atomic_fetch_add(&s->active, 1);
	return rq;
}

static const char *termination_reason(enum MHD_RequestTerminationCode toe)
{
	switch (toe) {
	case MHD_REQUEST_TERMINATED_COMPLETED_OK: return NULL;
	case MHD_REQUEST_TERMINATED_WITH_ERROR: return "error";
	case MHD_REQUEST_TERMINATED_TIMEOUT_REACHED: return "timed out";
	case MHD_REQUEST_TERMINATED_DAEMON_SHUTDOWN: return "server stopped";
	case MHD_REQUEST_TERMINATED_READ_ERROR: return "read error";
	case MHD_REQUEST_TERMINATED_CLIENT_ABORT: return "client closed";
	}
	return "aborted";
}

static void peer_name(struct MHD_Connection *c, char *buf, size_t len)
{
	const union MHD_ConnectionInfo *ci =
		mhd.get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	snprintf(buf, len, "-");
	if (!ci || !ci->client_addr)
		return;
	socklen_t sl = ci->client_addr->sa_family == AF_INET6 ?
		sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
	if (getnameinfo(ci->client_addr, sl, buf, (socklen_t)len, NULL, 0,
			NI_NUMERICHOST) != 0)
		snprintf(buf, len, "-");
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct server *s = cls;
	struct request *rq = *con_cls;

	if (!rq)
		return;
	*con_cls = NULL;
	if (s->o->on_log) {
		struct timespec now;
		clock_gettime(CLOCK_MONOTONIC, &now);
		double ms = (double)(now.tv_sec - rq->start.tv_sec) * 1e3 +
			    (double)(now.tv_nsec - rq->start.tv_nsec) / 1e6;
		char peer[64], line[512];
		peer_name(c, peer, sizeof(peer));
		http_access_line(line, sizeof(line), peer,
				 rq->method[0] ? rq->method : NULL, rq->uri,
				 rq->status, rq->bytes, ms);
		const char *why = termination_reason(toe);
		if (why) {
			size_t l = strlen(line);
			snprintf(line + l, sizeof(line) - l, " (%s)", why);
		}
		pthread_mutex_lock(&s->log_lock);
		s->o->on_log(line, s->o->arg);
		pthread_mutex_unlock(&s->log_lock);
	}
	free(rq->uri);
	free(rq->body);
	free(rq->location);
	free(rq);
	atomic_fetch_sub(&s->active, 1);
}

static bool sockaddr_is_loopback(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
		return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
		if (IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr))
			return true;
		return IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr) &&
		       in6->sin6_addr.s6_addr[12] == 127;
	}
	return false;
}

/* We bind the socket ourselves and hand it to libmicrohttpd
 * (MHD_OPTION_LISTEN_SOCKET): MHD_start_daemon only says NULL, and the user
 * deserves "address already in use". */
static int listen_socket(const char *host, unsigned port, int *fdp,
			 char *err, size_t errlen)
{
	struct addrinfo hints, *res = NULL;
	char ps[8];
	const char *h = host && *host ? host : "127.0.0.1";

	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	snprintf(ps, sizeof(ps), "%u", port);
	int g = getaddrinfo(h, ps, &hints, &res);
	if (g != 0) {
		errmsg_set(err, errlen, "cannot resolve '%s': %s", h, gai_strerror(g));
		return -EADDRNOTAVAIL;
	}
	int e = -EADDRNOTAVAIL;
	for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
		int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0) {
			e = -errno;
			errmsg_set(err, errlen, "socket: %s", strerror(errno));
			continue;
		}
		int one = 1;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (ai->ai_family == AF_INET6)
			setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, 64) < 0) {
			e = -errno;
			errmsg_set(err, errlen, "cannot listen on %s port %u: %s", h, port,
			       strerror(errno));
			close(fd);
			continue;
		}
		freeaddrinfo(res);
		*fdp = fd;
		return 0;
	}
	freeaddrinfo(res);
	return e;
}

static bool target_gone(struct server *s)
{
	struct procfs_stat st;
	int e = procfs_read_stat(s->pid, 0, &st);
	if (e == -ENOENT || e == -ESRCH)
		return true;
	if (e < 0)
		return false;	/* EMFILE and such: ask again later */
	return st.state == 'Z' || st.state == 'X' || st.starttime != s->starttime;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);	/* EINTR (a stop signal) just ends it early */
}

int http_serve(const struct http_opts *o, volatile int *stop, char *err,
	       size_t errlen)
{
	struct server s;
	struct procfs_stat pst;
	char why[256] = "";
	int fd = -1, e;

	pthread_once(&mhd_once, http_load_mhd);
	if (!mhd.start_daemon) {
		errmsg_set(err, errlen, "cannot load libmicrohttpd: %s (apt-get install %s)",
			   mhd_error, CPROF_MHD_PACKAGE);
		return -ENOENT;
	}
	memset(&s, 0, sizeof(s));
	s.o = o;
	s.pid = o->pid;
	s.topts = o->threads;
	s.topts.pid = o->pid;
	s.max_seconds = o->max_seconds ? o->max_seconds : HTTP_DEFAULT_MAX_SECONDS;

	e = procfs_read_stat(o->pid, 0, &pst);
	if (e < 0) {
		errmsg_set(err, errlen, "cannot read /proc/%d/stat: %s", (int)o->pid, strerror(-e));
		return e;
	}
	s.starttime = pst.starttime;
	e = symbolizer_new(o->pid, false, &s.sym, why, sizeof(why));
	/* As `cprof threads` and `cprof record` do by default. */
	if (e == 0)
		symbolizer_set_lines(s.sym, SYM_LINES_OWN);
	if (e < 0) {
		errmsg_set(err, errlen, "cannot read the symbols of process %d: %s", (int)o->pid,
		       why[0] ? why : strerror(-e));
		return e;
	}
	e = listen_socket(o->host, o->port, &fd, err, errlen);
	if (e < 0)
		goto out_symbolizer;
	if (o->after_bind && (e = o->after_bind(o->arg, err, errlen)) < 0) {
		close(fd);
		goto out_symbolizer;
	}

	pthread_mutex_init(&s.sym_lock, NULL);
	pthread_mutex_init(&s.capture_lock, NULL);
	pthread_cond_init(&s.capture_cond, NULL);
	for (size_t k = 0; k <= RECORD_TRACE; k++)
		pthread_mutex_init(&s.kind_lock[k], NULL);
	pthread_mutex_init(&s.log_lock, NULL);

	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	memset(&ss, 0, sizeof(ss));
	getsockname(fd, (struct sockaddr *)&ss, &sl);
	/* Stop signals must wake the loop below, not interrupt a system call
	 * of a connection thread: libmicrohttpd's threads (and the
	 * per-connection threads they create) inherit this mask. */
	sigset_t stopsigs, old;
	sigemptyset(&stopsigs);
	sigaddset(&stopsigs, SIGINT);
	sigaddset(&stopsigs, SIGTERM);
	sigaddset(&stopsigs, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &stopsigs, &old);
	/* poll(), not libmicrohttpd's default select(): a CPU profile opens
	 * one perf event per thread and CPU (thousands on a big machine), so
	 * connections accepted meanwhile get descriptors above FD_SETSIZE,
	 * which select() cannot watch: they were reset, scrapes failed for
	 * the whole length of every profile. */
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION |
			 MHD_USE_POLL;
	if (ss.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	struct MHD_Daemon *d = mhd.start_daemon(
		flags, 0, NULL, NULL, on_request, &s,
		MHD_OPTION_LISTEN_SOCKET, (MHD_socket)fd,
		MHD_OPTION_URI_LOG_CALLBACK, on_uri, &s,
		MHD_OPTION_NOTIFY_COMPLETED, on_completed, &s,
		MHD_OPTION_CONNECTION_TIMEOUT,
		(unsigned)(o->client_timeout ? o->client_timeout : HTTP_DEFAULT_CLIENT_TIMEOUT),
		MHD_OPTION_CONNECTION_LIMIT,
		(unsigned)(o->max_clients ? o->max_clients : HTTP_DEFAULT_MAX_CLIENTS),
		/* Request line and headers must fit: beyond it libmicrohttpd
		 * answers 414 or 431 itself. */
		MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)32768,
		MHD_OPTION_END);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (!d) {
		e = -EIO;
		errmsg_set(err, errlen, "MHD_start_daemon failed");
		close(fd);
		goto out_locks;
	}
	if (o->on_listen) {
		char host[NI_MAXHOST] = "?", serv[NI_MAXSERV] = "0";
		getnameinfo((struct sockaddr *)&ss, sl, host, sizeof(host), serv,
			    sizeof(serv), NI_NUMERICHOST | NI_NUMERICSERV);
		o->on_listen(host, (unsigned)atoi(serv),
			     sockaddr_is_loopback((struct sockaddr *)&ss), o->arg);
	}

	int reason = STOP_REQUESTED;
	while (!*stop) {
		if (target_gone(&s)) {
			reason = STOP_TARGET_EXITED;
			break;
		}
		sleep_ms(POLL_MS);
	}
	atomic_store(&s.stopping, reason);
	/* Handlers notice `stopping` within a tick (100 ms); let their
	 * replies reach the clients before the sockets are shut. */
	for (int waited = 0; atomic_load(&s.active) > 0 && waited < DRAIN_MS; waited += 20)
		sleep_ms(20);
	mhd.stop_daemon(d);	/* joins every connection thread, closes fd */
	e = 0;
	if (reason == STOP_TARGET_EXITED) {
		e = -ESRCH;
		errmsg_set(err, errlen, "process %d exited", (int)o->pid);
	}
out_locks:
	pthread_mutex_destroy(&s.log_lock);
	for (size_t k = 0; k <= RECORD_TRACE; k++)
		pthread_mutex_destroy(&s.kind_lock[k]);
	dump_put_locked(s.latest);
	pthread_cond_destroy(&s.capture_cond);
	pthread_mutex_destroy(&s.capture_lock);
	pthread_mutex_destroy(&s.sym_lock);
out_symbolizer:
	symbolizer_free(s.sym);
	return e;
}

/*
 * http_server.c - the libmicrohttpd shell of cprof serve: loads the
 * library, binds the listen socket, takes requests in (URI, method, POST
 * body), hands them to http_endpoints.c and sends the replies back, logs
 * them, and runs the serve loop until a stop or the target's exit.
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
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <dlfcn.h>
#include <microhttpd.h>

#include "http.h"
#include "http_int.h"
#include "http_ui.h"
#include "errmsg.h"

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

/* A connection, from libmicrohttpd's start notice to its close notice,
 * for the header deadline: `waiting` while a request's line and headers
 * are due, since its accept or its previous reply. */
struct conn {
	int fd;
	bool waiting, cut;
	struct timespec since;
	char peer[64];
	struct conn *prev, *next;
};

struct server {
	const struct http_opts *o;
	struct http_registry reg;	/* the processes served */
	pthread_mutex_t log_lock;
	atomic_int active;		/* requests not yet completed */
	bool check_host;		/* an IP socket: on a loopback address,
					 * Host must say so */
	char bound[NI_MAXHOST + 16];	/* HOST:PORT bound, for /targets */
	unsigned header_timeout;
	pthread_mutex_t conn_lock;
	struct conn *conns;
};

static void peer_name(struct MHD_Connection *c, char *buf, size_t len);

static void server_log(struct server *s, const char *line)
{
	if (!s->o->on_log)
		return;
	pthread_mutex_lock(&s->log_lock);
	s->o->on_log(line, s->o->arg);
	pthread_mutex_unlock(&s->log_lock);
}

static enum MHD_Result send_reply(struct MHD_Connection *c, struct http_request *rq,
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
	/* No page of ours loads anything from elsewhere (http_ui.h). */
	if (r->content_type && !strcmp(r->content_type, TEXT_HTML))
		mhd.add_response_header(resp, "Content-Security-Policy", HTTP_UI_CSP);
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
	if (r->authenticate)
		mhd.add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE, r->authenticate);
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
			struct http_request *rq)
{
	const char *name;
	pid_t pid;
	const char *rest;
	if (http_parse_pid_path(url, &pid, &rest) == 0)
		url = rest;
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

static struct conn *conn_of(struct MHD_Connection *c)
{
	const union MHD_ConnectionInfo *ci =
		mhd.get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	return ci ? ci->socket_context : NULL;
}

/* The header deadline's clock: started at accept and after each reply,
 * stopped when a request's headers are complete. */
static void conn_waiting(struct server *s, struct MHD_Connection *c, bool waiting)
{
	struct conn *k = conn_of(c);
	if (!k)
		return;
	pthread_mutex_lock(&s->conn_lock);
	k->waiting = waiting;
	clock_gettime(CLOCK_MONOTONIC, &k->since);
	pthread_mutex_unlock(&s->conn_lock);
}

static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
			  enum MHD_ConnectionNotificationCode toe)
{
	struct server *s = cls;
	struct conn *k = *socket_context;

	if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
		const union MHD_ConnectionInfo *ci =
			mhd.get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
		k = calloc(1, sizeof(*k));
		*socket_context = k;
		if (!k)
			return;	/* no deadline for this one */
		k->fd = ci ? ci->connect_fd : -1;
		k->waiting = true;
		clock_gettime(CLOCK_MONOTONIC, &k->since);
		peer_name(c, k->peer, sizeof(k->peer));
		pthread_mutex_lock(&s->conn_lock);
		k->next = s->conns;
		if (s->conns)
			s->conns->prev = k;
		s->conns = k;
		pthread_mutex_unlock(&s->conn_lock);
		return;
	}
	if (!k)
		return;
	/* Notified before libmicrohttpd closes the socket: once unlinked,
	 * the sweep no longer touches k->fd. */
	pthread_mutex_lock(&s->conn_lock);
	if (k->prev)
		k->prev->next = k->next;
	else
		s->conns = k->next;
	if (k->next)
		k->next->prev = k->prev;
	pthread_mutex_unlock(&s->conn_lock);
	free(k);
	*socket_context = NULL;
}

/* Shuts the connections whose request line and headers did not arrive
 * within header_timeout: libmicrohttpd's own timeout counts idle time
 * only, which a client sending a header line every few seconds resets
 * forever (docs/design.md §7.1). */
static void sweep_slow(struct server *s)
{
	struct timespec now;
	char line[160];
	clock_gettime(CLOCK_MONOTONIC, &now);
	pthread_mutex_lock(&s->conn_lock);
	for (struct conn *k = s->conns; k; k = k->next) {
		double held = (double)(now.tv_sec - k->since.tv_sec) +
			      (double)(now.tv_nsec - k->since.tv_nsec) / 1e9;
		if (!k->waiting || k->cut || k->fd < 0 || held < s->header_timeout)
			continue;
		shutdown(k->fd, SHUT_RDWR);
		k->cut = true;
		snprintf(line, sizeof(line), "- - closed: no complete request within %u s %s",
			 s->header_timeout, k->peer);
		server_log(s, line);
	}
	pthread_mutex_unlock(&s->conn_lock);
}

/* The door: Host (bound to loopback) and the bearer token. Returns true
 * when r holds the refusal. */
static bool sockaddr_is_loopback(const struct sockaddr *sa);

/* Whether connection c reached us on a loopback address: bound to a
 * wildcard, a server answers on 127.0.0.1 too, where a rebound name can
 * reach it. */
static bool reached_on_loopback(struct MHD_Connection *c)
{
	const union MHD_ConnectionInfo *ci =
		mhd.get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);

	if (!ci || getsockname(ci->connect_fd, (struct sockaddr *)&ss, &sl) < 0)
		return true;	/* cannot tell: check */
	return sockaddr_is_loopback((struct sockaddr *)&ss);
}

static bool refused(struct server *s, struct MHD_Connection *c, struct http_reply *r)
{
	if (s->check_host && reached_on_loopback(c)) {
		const char *host = mhd.lookup_connection_value(c, MHD_HEADER_KIND,
							       MHD_HTTP_HEADER_HOST);
		if (host && !http_host_is_loopback(host)) {
			http_reply_error(r, 403, "Host '%s' is not a loopback name: on a loopback "
					 "address cprof serve answers only requests addressed to "
					 "localhost, 127.0.0.0/8 or [::1] (DNS rebinding protection)",
					 host);
			r->go_error = false;
			return true;
		}
	}
	if (s->o->token) {
		const char *auth = mhd.lookup_connection_value(c, MHD_HEADER_KIND,
							       MHD_HTTP_HEADER_AUTHORIZATION);
		static const char scheme[] = "Bearer ";
		const char *tok = auth && !strncasecmp(auth, scheme, sizeof(scheme) - 1) ?
			auth + sizeof(scheme) - 1 : NULL;
		if (!tok || !http_secret_equal(tok, strlen(tok), s->o->token, strlen(s->o->token))) {
			http_reply_error(r, 401, "401 unauthorized: %s",
					 tok ? "wrong bearer token" :
					 "this server needs an Authorization: Bearer TOKEN header");
			r->go_error = false;
			r->authenticate = "Bearer realm=\"cprof\"";
			return true;
		}
	}
	return false;
}

static bool get_or_head(const char *method, struct http_reply *r)
{
	if (!strcmp(method, "GET") || !strcmp(method, "HEAD"))
		return true;
	http_reply_error(r, 405, "method not allowed");
	r->allow = "GET, HEAD";
	return false;
}

static void serve_targets(struct server *s, struct MHD_Connection *c, struct http_reply *r)
{
	const char *host = mhd.lookup_connection_value(c, MHD_HEADER_KIND,
						       MHD_HTTP_HEADER_HOST);
	struct http_proc *procs = NULL;
	size_t n = 0;
	memset(r, 0, sizeof(*r));
	if (http_registry_list(&s->reg, &procs, &n) < 0 ||
	    http_targets_json(procs, n, host && *host ? host : s->bound, &r->body, &r->len) < 0) {
		free(procs);
		http_reply_error(r, 500, "out of memory");
		return;
	}
	free(procs);
	r->status = 200;
	r->content_type = "application/json";
}

static void serve_all_index(struct server *s, struct http_reply *r)
{
	struct http_proc *procs = NULL;
	size_t n = 0;
	memset(r, 0, sizeof(*r));
	if (http_registry_list(&s->reg, &procs, &n) < 0 ||
	    http_all_index_html(procs, n, &r->body, &r->len) < 0) {
		free(procs);
		http_reply_error(r, 500, "out of memory");
		return;
	}
	free(procs);
	r->status = 200;
	r->content_type = TEXT_HTML;
}

/* /targets, the --all index, and /pid/PID/... or (with -p) the plain paths
 * to the target's endpoints. */
static void dispatch(struct server *s, struct MHD_Connection *c, struct http_request *rq,
		     const char *url, const char *method, struct http_reply *r)
{
	const char *path = url, *name;
	pid_t pid = 0;
	char why[256] = "";

	if (!strcmp(url, "/targets")) {
		if (get_or_head(method, r))
			serve_targets(s, c, r);
		return;
	}
	if (http_parse_pid_path(url, &pid, &path) == 0) {
		snprintf(rq->prefix, sizeof(rq->prefix), "/pid/%d", (int)pid);
	} else if (s->o->all) {
		enum http_route route = http_route_path(url, &name);
		if (route == HTTP_ROUTE_INDEX) {
			if (get_or_head(method, r))
				serve_all_index(s, r);
		} else if (route == HTTP_ROUTE_REDIRECT) {
			memset(r, 0, sizeof(*r));
			r->status = 301;
			r->location = "/debug/pprof/";
		} else {
			http_reply_error(r, 404, "404 page not found: with --all, the endpoints of "
					 "process PID are under /pid/PID/debug/pprof/ (the list: "
					 "/debug/pprof/ and /targets)");
			r->go_error = false;
		}
		return;
	}
	struct http_target *t = NULL;
	int e = http_registry_get(&s->reg, pid, &t, why, sizeof(why));
	if (e == -ENOENT || e == -ESRCH) {
		http_reply_error(r, 404, "404 page not found: process %d is not served here",
				 (int)pid);
		r->go_error = false;
		return;
	}
	if (e == -EACCES) {
		http_reply_error(r, 403, "process %d is not served: %s", (int)pid, why);
		return;
	}
	if (e == -ESHUTDOWN) {
		http_reply_error(r, 503, "cprof serve is stopping");
		return;
	}
	if (e < 0) {
		http_reply_error(r, 500, "process %d: %s", (int)pid, why[0] ? why : strerror(-e));
		return;
	}
	http_endpoints_route(t, rq, path, method, r);
	http_registry_put(&s->reg, t);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c,
				  const char *url, const char *method,
				  const char *version, const char *upload_data,
				  size_t *upload_data_size, void **con_cls)
{
	struct server *s = cls;
	struct http_request *rq = *con_cls;
	struct http_reply r;

	if (!rq)
		return MHD_NO;	/* out of memory in on_uri */
	if (!rq->started) {
		rq->started = true;
		snprintf(rq->method, sizeof(rq->method), "%s", method);
		rq->head = !strcmp(method, MHD_HTTP_METHOD_HEAD);
		conn_waiting(s, c, false);
		memset(&r, 0, sizeof(r));
		if (refused(s, c, &r)) {
			enum MHD_Result ret = send_reply(c, rq, &r);
			http_reply_release(&r);
			return ret;
		}
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
	const union MHD_ConnectionInfo *ci =
		mhd.get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
	rq->fd = ci ? ci->connect_fd : -1;
	const char *ae = mhd.lookup_connection_value(c, MHD_HEADER_KIND,
						     MHD_HTTP_HEADER_ACCEPT_ENCODING);
	rq->accept_gzip = ae && strstr(ae, "gzip");
	memset(&r, 0, sizeof(r));
	dispatch(s, c, rq, url, method, &r);
	if (!r.status)
		http_reply_error(&r, 500, "out of memory");
	enum MHD_Result ret = send_reply(c, rq, &r);
	http_reply_release(&r);
	return ret;
}

static void *on_uri(void *cls, const char *uri, struct MHD_Connection *c)
{
	struct server *s = cls;
	struct http_request *rq = calloc(1, sizeof(*rq));
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
	if (ci->client_addr->sa_family == AF_UNIX) {
		snprintf(buf, len, "unix");
		return;
	}
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
	struct http_request *rq = *con_cls;

	if (!rq)
		return;
	*con_cls = NULL;
	conn_waiting(s, c, true);
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
		server_log(s, line);
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

/* A Unix socket at path, mode 0600. An existing socket nobody listens on
 * (left by a killed server) is replaced; anything else at path is not. */
static int listen_unix(const char *path, int *fdp, ino_t *ino, char *err, size_t errlen)
{
	struct sockaddr_un sa;
	struct stat st;

	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sa.sun_path)) {
		errmsg_set(err, errlen, "unix socket path '%s' is longer than %zu bytes", path,
			   sizeof(sa.sun_path) - 1);
		return -ENAMETOOLONG;
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			errmsg_set(err, errlen, "%s exists and is not a socket: not replacing it", path);
			return -EEXIST;
		}
		int t = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (t >= 0 && connect(t, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
			close(t);
			errmsg_set(err, errlen, "another server listens on %s", path);
			return -EADDRINUSE;
		}
		if (t >= 0)
			close(t);
		unlink(path);	/* stale: its server is gone */
	}
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		errmsg_set(err, errlen, "socket: %s", strerror(errno));
		return -errno;
	}
	/* Created 0600: who may read profiles is who may open the file. */
	mode_t old = umask(0177);
	int b = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	int e = -errno;
	umask(old);
	if (b < 0 || listen(fd, 64) < 0) {
		if (b == 0)
			e = -errno;
		errmsg_set(err, errlen, "cannot listen on %s: %s", path, strerror(-e));
		close(fd);
		return e;
	}
	*ino = lstat(path, &st) == 0 ? st.st_ino : 0;
	*fdp = fd;
	return 0;
}

/* Removes our socket file, not one a later server put there. */
static void unlink_unix(const char *path, ino_t ino)
{
	struct stat st;
	if (ino && lstat(path, &st) == 0 && S_ISSOCK(st.st_mode) && st.st_ino == ino)
		unlink(path);
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
	int fd = -1, e;

	pthread_once(&mhd_once, http_load_mhd);
	if (!mhd.start_daemon) {
		errmsg_set(err, errlen, "cannot load libmicrohttpd: %s (apt-get install %s)",
			   mhd_error, CPROF_MHD_PACKAGE);
		return -ENOENT;
	}
	memset(&s, 0, sizeof(s));
	s.o = o;
	s.header_timeout = o->header_timeout ? o->header_timeout : HTTP_DEFAULT_HEADER_TIMEOUT;
	e = http_registry_init(&s.reg, o, err, errlen);
	if (e < 0)
		return e;
	ino_t unix_ino = 0;
	if (o->unix_path)
		e = listen_unix(o->unix_path, &fd, &unix_ino, err, errlen);
	else
		e = listen_socket(o->host, o->port, &fd, err, errlen);
	if (e < 0)
		goto out_registry;
	pthread_mutex_init(&s.log_lock, NULL);
	pthread_mutex_init(&s.conn_lock, NULL);
	/* Privileges go before any thread starts (http.h after_bind). */
	if (o->after_bind && (e = o->after_bind(o->arg, err, errlen)) < 0) {
		close(fd);
		goto out_log;
	}

	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	memset(&ss, 0, sizeof(ss));
	getsockname(fd, (struct sockaddr *)&ss, &sl);
	char host[NI_MAXHOST] = "?", serv[NI_MAXSERV] = "0";
	bool loopback = true;
	if (o->unix_path) {
		snprintf(host, sizeof(host), "unix:%s", o->unix_path);
		snprintf(s.bound, sizeof(s.bound), "localhost");
	} else {
		getnameinfo((struct sockaddr *)&ss, sl, host, sizeof(host), serv,
			    sizeof(serv), NI_NUMERICHOST | NI_NUMERICSERV);
		loopback = sockaddr_is_loopback((struct sockaddr *)&ss);
		bool v6 = ss.ss_family == AF_INET6;
		snprintf(s.bound, sizeof(s.bound), "%s%s%s:%s", v6 ? "[" : "", host,
			 v6 ? "]" : "", serv);
		/* A browser on this machine can be steered to 127.0.0.1 by a
		 * name an attacker controls (DNS rebinding): its requests then
		 * carry that name as Host (docs/design.md §7.1). */
		s.check_host = true;	/* per connection, on loopback */
	}
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
	unsigned max_clients = o->max_clients ? o->max_clients : HTTP_DEFAULT_MAX_CLIENTS;
	unsigned per_ip = o->max_per_ip ? o->max_per_ip : HTTP_DEFAULT_MAX_PER_IP;
	if (per_ip > max_clients)
		per_ip = max_clients;
	struct MHD_Daemon *d = mhd.start_daemon(
		flags, 0, NULL, NULL, on_request, &s,
		MHD_OPTION_LISTEN_SOCKET, (MHD_socket)fd,
		MHD_OPTION_URI_LOG_CALLBACK, on_uri, &s,
		MHD_OPTION_NOTIFY_COMPLETED, on_completed, &s,
		MHD_OPTION_NOTIFY_CONNECTION, on_connection, &s,
		MHD_OPTION_CONNECTION_TIMEOUT,
		(unsigned)(o->client_timeout ? o->client_timeout : HTTP_DEFAULT_CLIENT_TIMEOUT),
		/* Slots for everyone, a share of them for one address
		 * (docs/design.md §7.1); a Unix socket's peers have none. */
		MHD_OPTION_CONNECTION_LIMIT, max_clients,
		MHD_OPTION_PER_IP_CONNECTION_LIMIT, o->unix_path ? 0u : per_ip,
		/* Request line and headers must fit: beyond it libmicrohttpd
		 * answers 414 or 431 itself. */
		MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)32768,
		MHD_OPTION_END);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (!d) {
		e = -EIO;
		errmsg_set(err, errlen, "MHD_start_daemon failed");
		close(fd);
		goto out_log;
	}
	if (o->on_listen)
		o->on_listen(host, (unsigned)atoi(serv), loopback, o->arg);

	int reason = HTTP_STOP_REQUESTED;
	while (!*stop) {
		if (http_registry_tick(&s.reg)) {
			reason = HTTP_STOP_TARGET_EXITED;
			break;
		}
		sweep_slow(&s);
		sleep_ms(POLL_MS);
	}
	http_registry_stop(&s.reg, reason);
	/* Handlers notice `stopping` within a tick (100 ms); let their
	 * replies reach the clients before the sockets are shut. */
	for (int waited = 0; atomic_load(&s.active) > 0 && waited < DRAIN_MS; waited += 20)
		sleep_ms(20);
	mhd.stop_daemon(d);	/* joins every connection thread, closes fd */
	e = 0;
	if (reason == HTTP_STOP_TARGET_EXITED) {
		e = -ESRCH;
		errmsg_set(err, errlen, "process %d exited", (int)o->pid);
	}
out_log:
	pthread_mutex_destroy(&s.conn_lock);
	pthread_mutex_destroy(&s.log_lock);
	if (o->unix_path)
		unlink_unix(o->unix_path, unix_ino);
out_registry:
	http_registry_fini(&s.reg);
	return e;
}

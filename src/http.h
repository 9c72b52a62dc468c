/*
 * http.h - Go's /debug/pprof/ endpoints for a foreign process, served with
 * libmicrohttpd (docs/design.md §6-7 lists the Go behaviour matched here).
 *
 * Threads: libmicrohttpd runs one thread per connection, so a 30 s CPU
 * profile blocks only its own connection. What is shared between requests
 * is bounded or serialized inside: up to HTTP_MAX_RECORDINGS CPU profiles
 * of a process at once, each its own perf session (one more gets Go's 500
 * "cpu profiling already in use"), one ptrace capture at a time (two
 * PTRACE_SEIZEs of one thread cannot both succeed) answering every
 * request of the next HTTP_DUMP_REUSE_MS, one user of the long-lived
 * symbolizer at a time (elfutils is not thread-safe).
 *
 * The module never prints: the bound address and the access log reach the
 * caller through callbacks, errors through the return value and err.
 *
 * The pure helpers after http_serve (query parsing, parameter validation,
 * reply building, log lines) have no side effects and are what the unit
 * tests exercise; http_serve is tested end to end with curl.
 */
#ifndef CPROF_HTTP_H
#define CPROF_HTTP_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include <sys/types.h>
#include "record.h"
#include "threads_write.h"

#define HTTP_DEFAULT_SECONDS		30	/* profile?seconds, as Go */
#define HTTP_DEFAULT_MAX_SECONDS	300
#define HTTP_DEFAULT_CLIENT_TIMEOUT	10	/* idle seconds */
#define HTTP_DEFAULT_MAX_CLIENTS	512	/* open connections */
#define HTTP_DEFAULT_MAX_PER_IP		128	/* of them from one address */
#define HTTP_DEFAULT_HEADER_TIMEOUT	10	/* seconds for a request's
						 * line and headers */
#define HTTP_TARGET_IDLE_SECONDS	60	/* --all: a process's state is
						 * dropped this long after its
						 * last request */
#define HTTP_REFRESH_MS			1000	/* --all: /proc scanned again */
#define HTTP_MAX_BODY			(1 << 20)	/* symbol POST bodies */
#define HTTP_MAX_SYMBOL_ADDRS		65536	/* addresses per symbol
							 * request */
#define HTTP_SYMBOL_CACHE_NAMES		16384	/* names /symbol keeps */
#define HTTP_MAX_RECORDINGS		4	/* profile (block, mutex,
						 * wall, trace) requests
						 * sampling one process at
						 * once, per kind */
#define HTTP_DUMP_REUSE_MS		1000	/* a thread dump answers
						 * requests this much younger */

struct http_opts {
	pid_t pid;			/* the one process served (not with all) */
	bool all;			/* every process allowed by the filters,
					 * each under /pid/PID/debug/pprof/ */
	const char *match;		/* all: POSIX ERE on comm or command
					 * line, NULL: any */
	bool has_uid;			/* all: only processes of euid uid */
	uid_t uid;
	const char *cgroup;		/* all: cgroup path prefix, NULL: any */
	const char *host;		/* numeric address or name; NULL or "":
					 * 127.0.0.1 (loopback only) */
	const char *unix_path;		/* listen on this Unix socket instead
					 * of host and port */
	const char *token;		/* requests need "Authorization: Bearer
					 * TOKEN"; NULL: none */
	unsigned port;			/* 0: any free port */
	unsigned max_seconds;		/* cap of profile?seconds; 0: default */
	unsigned client_timeout;	/* idle seconds before a connection is
					 * closed; 0: default */
	unsigned max_clients;		/* open connections; 0: default */
	unsigned max_per_ip;		/* open connections from one address;
					 * 0: default */
	unsigned header_timeout;	/* seconds a request's line and headers
					 * may take, from the connection's start
					 * or its previous reply; 0: default */
	struct record_opts record;	/* CPU profile settings; pid and
					 * seconds are set per request */
	struct threads_opts threads;	/* thread dump settings; pid is set */
	bool remote_symbols;		/* pprof profiles without functions:
					 * clients name the addresses through
					 * /debug/pprof/symbol */

	/* Called once the socket is bound and listens, before the server
	 * starts any thread (capabilities and uids are per thread, and
	 * threads inherit them): the place to give up privileges
	 * (privs_drop). A negative return (-errno, reason in err) stops
	 * the server before it serves anything. May be NULL. */
	int (*after_bind)(void *arg, char *err, size_t errlen);
	/* Called once the socket listens, with the address actually bound
	 * (port 0 resolved; host "unix:PATH" for a Unix socket). May be
	 * NULL. */
	void (*on_listen)(const char *host, unsigned port, bool loopback,
			  void *arg);
	/* One access-log line per request (no newline), from connection
	 * threads, serialized by the server. NULL: no log. */
	void (*on_log)(const char *line, void *arg);
	void *arg;
};

/* Serves until *stop becomes non-zero (returns 0) or the target exits
 * (returns -ESRCH, err says so). Requests in flight are ended first: a CPU
 * profile stops sampling and its client gets a 503 with the reason.
 * Other errors (-EADDRINUSE, -EADDRNOTAVAIL, -EINVAL bad host...) come
 * before anything was served; err names the failing call. */
int http_serve(const struct http_opts *opts, volatile int *stop, char *err,
	       size_t errlen);

/* --- pure helpers ------------------------------------------------------ */

/* Splits "[HOST]:PORT" ("HOST" may be "[v6]"), as --http takes it. host gets
 * "" when omitted. Returns 0 or -EINVAL with a reason in err. */
int http_parse_listen(const char *spec, char *host, size_t hostlen,
		      unsigned *port, char *err, size_t errlen);

/* The first value of key in a raw query string ("a=1&b=%20x+y"), decoded as
 * Go's url.ParseQuery does ('+' is a space, %XX a byte; a pair with a bad
 * escape is skipped, as FormValue skips it). Returns 1 and the value in
 * buf, 0 when key is absent, -EINVAL when the value is longer than
 * buflen - 1. A key without '=' has the value "". */
int http_query_get(const char *query, const char *key, char *buf,
		   size_t buflen);

/* The route of a request path (percent-decoded, without the query). *name
 * gets what follows /debug/pprof/ ("goroutine"), NULL outside it. */
enum http_route {
	HTTP_ROUTE_NOT_FOUND,	/* outside /debug/pprof/: Go's mux 404 */
	HTTP_ROUTE_REDIRECT,	/* /debug/pprof: 301 to /debug/pprof/ */
	HTTP_ROUTE_INDEX,
	HTTP_ROUTE_CMDLINE,
	HTTP_ROUTE_PROFILE,
	HTTP_ROUTE_BLOCK,	/* the off-CPU profiles (record.h) */
	HTTP_ROUTE_MUTEX,
	HTTP_ROUTE_WALL,
	HTTP_ROUTE_TRACE,	/* a timeline, Chrome Trace Event JSON */
	HTTP_ROUTE_SYMBOL,
	HTTP_ROUTE_THREADS,	/* goroutine, threads */
	HTTP_ROUTE_THREADCREATE,
	HTTP_ROUTE_HEAP,	/* heap, allocs: a sampler injected into
				 * the process (record.h record_heap) */
	HTTP_ROUTE_UNAVAILABLE,	/* none now: 501 */
	HTTP_ROUTE_UNKNOWN,	/* /debug/pprof/NAME: 404 Unknown profile */
};
enum http_route http_route_path(const char *path, const char **name);

/* One reply, as built for a request. */
struct http_reply {
	int status;
	const char *content_type;	/* static string */
	char disposition[64];		/* filename for Content-Disposition,
					 * "" for none */
	bool go_error;			/* X-Go-Pprof: 1 */
	const char *location;		/* Location header, not owned, or NULL */
	const char *allow;		/* Allow header (405), or NULL */
	const char *encoding;		/* Content-Encoding, or NULL */
	const char *authenticate;	/* WWW-Authenticate (401), or NULL */
	char *body;			/* malloc'd; may be NULL when len 0 */
	size_t len;
};

/* Go's serveError: status, text/plain, X-Go-Pprof: 1, body text + "\n".
 * Returns 0 or -ENOMEM. */
int http_reply_error(struct http_reply *r, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void http_reply_release(struct http_reply *r);

/* Validates profile?seconds. value NULL or "": def. Returns 0 with *out set,
 * or fills r with Go's 400 and returns -EINVAL. */
int http_check_profile_seconds(const char *value, unsigned def, unsigned max,
			       unsigned *out, struct http_reply *r);

/* Validates debug=N for the named profiles: "" or absent -> 0, values above
 * 2 mean 2 as in Go. Returns 0 or fills r with a 400 and returns -EINVAL. */
int http_check_debug(const char *value, int *out, struct http_reply *r);

/* Parses the addresses of a symbol request ("0x1+0x2", Go's
 * strconv.ParseUint(word, 0, 64): 0x hex, 0 octal, decimal); words that do
 * not parse, and 0, are skipped as Go does. *addrs malloc'd. Returns 0 or
 * -ENOMEM. */
int http_parse_symbol_request(const char *text, size_t len, uint64_t **addrs,
			      size_t *n);

/* Go's debug=1 text of a block or mutex profile (runtime/pprof
 * writeProfileInternal): "--- contention:", "cycles/second=1000000000" (the
 * delays are nanoseconds, so cycles are too), for mutex "sampling
 * period=1", then per sample, largest delay first, "DELAY COUNT @ 0xPC..."
 * and one "#\t0xPC\tFUNCTION\tFILE:LINE" line per frame (inlined ones
 * too), a blank line after each. p has contentions/count, delay/ns. */
int http_contention_text(const struct profile *p, bool mutex, char **body,
			 size_t *len);

/* The symbol reply body: "num_symbols: 1\n" then "0xADDR name\n" for each
 * address lookup() names (NULL: omitted, as Go omits unknown PCs). */
int http_symbol_body(const uint64_t *addrs, size_t n,
		     const char *(*lookup)(uint64_t addr, void *arg), void *arg,
		     char **body, size_t *len);

/* The HTML index. nthreads < 0: unknown. */
int http_index_html(pid_t pid, const char *comm, long nthreads, char **body,
		    size_t *len);

/* cmdline as Go prints os.Args: arguments joined by NUL, no trailing NUL
 * (/proc/PID/cmdline ends each argument with one). Copies into a malloc'd
 * buffer. */
int http_cmdline_body(const char *procbuf, size_t proclen, char **body,
		      size_t *len);

/* The access-log line: "METHOD URI STATUS BYTES MS ms" plus the peer. */
int http_access_line(char *buf, size_t len, const char *peer,
		     const char *method, const char *uri, int status,
		     size_t bytes, double ms);

/* --- serving many processes (--all) and guarding the door -------------- */

/* "/pid/PID/REST": *pid and the rest ("/debug/pprof/..."; "" when the path
 * ends after PID). Returns 0, or -EINVAL when path is not of that form
 * (PID decimal, no sign, no leading zero, within pid_t). */
int http_parse_pid_path(const char *path, pid_t *pid, const char **rest);

/* Whether a Host header names this machine's loopback: "localhost",
 * an IPv4 address in 127.0.0.0/8 (dotted quad), "[::1]", each with or
 * without ":PORT". Used against DNS rebinding (docs/design.md §7.1). */
bool http_host_is_loopback(const char *host);

/* a == b, in a time that depends on the lengths only, not on where the
 * bytes differ. */
bool http_secret_equal(const char *a, size_t alen, const char *b,
		       size_t blen);

/* The container id in a cgroup path: the last path component holding a
 * run of exactly 64 hex digits (docker-ID.scope, cri-containerd-ID.scope,
 * crio-ID.scope, libpod-ID.scope, /docker/ID, /kubepods/.../ID) gives that
 * run. Returns 1 with it in out (65 bytes), 0 when there is none. */
int http_container_id(const char *cgroup, char out[65]);

/* Whether cgroup path is prefix or below it ("/a" holds "/a" and "/a/b",
 * not "/ab"); a prefix "/" or "" holds everything. */
bool http_cgroup_under(const char *cgroup, const char *prefix);

/* One process found in /proc under --all. */
struct http_proc {
	pid_t pid;
	uint64_t starttime;
	uid_t uid;			/* effective */
	char comm[64];
	char user[64];			/* name of uid, or the number */
	char exe[512];			/* "" when unreadable */
	char cgroup[512];		/* cgroup v2 path, "" when unknown */
	char container_id[65];		/* "" when none */
	char denied[200];		/* why cprof may not serve it; "" when
					 * it does */
};

/* The /targets reply, Prometheus HTTP service discovery: one group per
 * served process (denied ones left out), each with targets [hostport] and
 * the labels pid, comm, exe, user, cgroup, container_id (when there is
 * one), service_name (comm) and __profile_path_prefix__ ("/pid/PID", the
 * label Grafana Alloy's pyroscope.scrape puts before each profile path).
 * Returns 0 or -ENOMEM. */
int http_targets_json(const struct http_proc *procs, size_t n,
		      const char *hostport, char **body, size_t *len);

/* The --all index: a table of the processes served, with links to their
 * /pid/PID/debug/pprof/, and of those refused, with the reason. */
int http_all_index_html(const struct http_proc *procs, size_t n,
			char **body, size_t *len);

#endif

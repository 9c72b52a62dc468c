/*
 * fuzz_http.c - what a client controls in `cprof serve`: the request path,
 * the query (seconds, debug), a symbol request's body, and --http's
 * address spec; under --all the /pid/PID/ prefix, the Host header (the
 * query part stands for it), a container id in a cgroup path and the
 * /targets and index pages built from process names and paths a user
 * controls (the body stands for them). The input is split at its first
 * two NUL bytes: path, query, body.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *name_it(uint64_t addr, void *arg)
{
	(void)arg;
	return addr & 1 ? "odd\x1b[31m" : NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *in = malloc(size + 3);
	if (!in)
		return 0;
	memcpy(in, data, size);
	in[size] = in[size + 1] = in[size + 2] = '\0';
	/* in[size..size+2] are NULs: each part ends inside the buffer. */
	const char *path = in;
	const char *query = path + strlen(path) + 1;
	const char *body = query + strlen(query) + 1;
	size_t bodylen = body <= in + size ? (size_t)(in + size - body) : 0;

	const char *name;
	http_route_path(path, &name);

	char v[256];
	struct http_reply r;
	unsigned secs;
	int debug;
	memset(&r, 0, sizeof(r));
	if (http_query_get(query, "seconds", v, sizeof(v)) == 1)
		http_check_profile_seconds(v, 30, 300, &secs, &r);
	http_reply_release(&r);
	if (http_query_get(query, "debug", v, sizeof(v)) == 1)
		http_check_debug(v, &debug, &r);
	http_reply_release(&r);

	uint64_t *addrs = NULL;
	size_t n = 0;
	if (http_parse_symbol_request(body, bodylen, &addrs, &n) == 0) {
		char *out = NULL;
		size_t len;
		if (http_symbol_body(addrs, n, name_it, NULL, &out, &len) == 0)
			free(out);
		free(addrs);
	}
	char *cmd = NULL;
	size_t cmdlen;
	if (http_cmdline_body(body, bodylen, &cmd, &cmdlen) == 0)
		free(cmd);

	char host[256], err[256];
	unsigned port;
	http_parse_listen(path, host, sizeof(host), &port, err, sizeof(err));

	pid_t pid;
	const char *rest;
	if (http_parse_pid_path(path, &pid, &rest) == 0 && (pid <= 0 || !rest))
		abort();
	http_host_is_loopback(query);
	char id[65];
	http_container_id(body, id);
	http_cgroup_under(body, query);

	/* Two processes whose names, paths and cgroups are the input. */
	struct http_proc procs[2];
	memset(procs, 0, sizeof(procs));
	for (int i = 0; i < 2; i++) {
		procs[i].pid = 100 + i;
		snprintf(procs[i].comm, sizeof(procs[i].comm), "%s", i ? path : query);
		snprintf(procs[i].exe, sizeof(procs[i].exe), "%s", body);
		snprintf(procs[i].cgroup, sizeof(procs[i].cgroup), "%s", i ? query : path);
		snprintf(procs[i].user, sizeof(procs[i].user), "%s", path);
		http_container_id(procs[i].cgroup, procs[i].container_id);
	}
	snprintf(procs[1].denied, sizeof(procs[1].denied), "%s", query);
	char *page = NULL;
	size_t len;
	if (http_targets_json(procs, 2, query, &page, &len) == 0)
		free(page);
	page = NULL;
	if (http_all_index_html(procs, 2, &page, &len) == 0)
		free(page);
	free(in);
	return 0;
}

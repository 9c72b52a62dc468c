/*
 * http_ui_serve.c - serve's /ui/ pages for a target: what they show is
 * gathered here (the process from /proc, a thread dump shared with the
 * goroutine endpoint, a recording made as /debug/pprof/ makes it, with the
 * same limits) and rendered by http_ui.c and flame.c.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "flame.h"
#include "http_int.h"
#include "http_ui.h"
#include "procfs.h"

/* Seconds the process has run: its start time against the system's. */
static double ui_uptime(pid_t pid)
{
	struct procfs_stat st;
	char *buf = NULL;
	size_t len = 0;
	double up = -1;
	long hz = sysconf(_SC_CLK_TCK);

	if (hz <= 0 || procfs_read_stat(pid, 0, &st) < 0 ||
	    procfs_read_file("/proc/uptime", &buf, &len) < 0)
		return -1;
	double sys = strtod(buf, NULL);
	free(buf);
	up = sys - (double)st.starttime / (double)hz;
	return up < 0 ? 0 : up;
}

static void ui_index(struct http_target *tg, struct http_reply *r)
{
	char comm[32] = "?", exe[PATH_MAX], link[64];
	struct http_ui_thread *th = NULL;
	pid_t *tids = NULL;
	size_t n = 0, k = 0;
	char *cmd = NULL;
	size_t cmdlen = 0;
	long hz = sysconf(_SC_CLK_TCK);

	procfs_read_comm(tg->pid, tg->pid, comm, sizeof(comm));
	if (procfs_read_cmdline(procfs_proc_tid(tg->pid), &cmd, &cmdlen) < 0) {
		cmd = NULL;
		cmdlen = 0;
	}
	snprintf(link, sizeof(link), "/proc/%d/exe", (int)procfs_proc_tid(tg->pid));
	ssize_t el = readlink(link, exe, sizeof(exe) - 1);
	exe[el > 0 ? el : 0] = '\0';
	if (procfs_list_tasks(tg->pid, &tids, &n) == 0 && n &&
	    (th = calloc(n, sizeof(*th)))) {
		for (size_t i = 0; i < n; i++) {
			struct procfs_stat st;
			if (procfs_read_stat(tg->pid, tids[i], &st) < 0)
				continue;	/* exited meanwhile */
			th[k].tid = tids[i];
			procfs_read_comm(tg->pid, tids[i], th[k].name, sizeof(th[k].name));
			th[k].state = st.state ? st.state : '?';
			th[k].cpu_s = hz > 0 ? (double)(st.utime + st.stime) / (double)hz : -1;
			k++;
		}
	}
	free(tids);

	struct http_ui_target t = {
		.pid = tg->pid, .comm = comm, .cmdline = cmd, .cmdline_len = cmdlen,
		.exe = exe[0] ? exe : NULL, .uptime_s = ui_uptime(tg->pid),
		.threads = th, .nthreads = k,
		.default_seconds = tg->max_seconds && tg->max_seconds < 10 ? tg->max_seconds : 10,
		.max_seconds = tg->max_seconds,
	};
	memset(r, 0, sizeof(*r));
	int e = http_ui_index_html(&t, &r->body, &r->len);
	free(th);
	free(cmd);
	if (e < 0) {
		http_reply_error(r, 500, "out of memory");
		return;
	}
	r->status = 200;
	r->content_type = TEXT_HTML;
}

static void ui_threads(struct http_target *tg, struct http_reply *r)
{
	char comm[32] = "?";
	struct shared_dump *sd = http_dump_for(tg, r);
	if (!sd)
		return;
	procfs_read_comm(tg->pid, tg->pid, comm, sizeof(comm));
	memset(r, 0, sizeof(*r));
	pthread_mutex_lock(&tg->sym_lock);
	symbolizer_refresh(tg->sym);	/* modules dlopen'ed since */
	int e = http_ui_threads_html(http_dump_threads(sd), tg->sym, comm, &r->body, &r->len);
	pthread_mutex_unlock(&tg->sym_lock);
	http_dump_put(tg, sd);
	if (e < 0) {
		http_reply_error(r, 500, "writing the thread dump of process %d failed: %s",
				 (int)tg->pid, strerror(-e));
		return;
	}
	r->status = 200;
	r->content_type = TEXT_HTML;
}

int http_ui_flame_body(struct http_target *tg, const struct profile *p,
		       enum record_profile kind, char **body, size_t *len)
{
	char comm[32] = "?", title[128], err[256];
	char *buf = NULL;
	size_t blen = 0;

	procfs_read_comm(tg->pid, tg->pid, comm, sizeof(comm));
	snprintf(title, sizeof(title), "%s profile of process %d (%s), %.3g s",
		 kind == RECORD_CPU ? "CPU" : record_profile_name(kind), (int)tg->pid,
		 comm, (double)p->duration_nanos / 1e9);
	struct flame_opts fo = { .title = title, .sample_type = NULL };
	FILE *f = open_memstream(&buf, &blen);
	if (!f)
		return -ENOMEM;
	int e = flame_html_write(p, &fo, f, err, sizeof(err));
	if (fclose(f) != 0 && e == 0)
		e = -ENOMEM;
	if (e < 0) {
		free(buf);
		return e;
	}
	*body = buf;
	*len = blen;
	return 0;
}

/* What a GET would answer, without its body or its cost. */
static void ui_head_only(struct http_reply *r)
{
	memset(r, 0, sizeof(*r));
	r->status = 200;
	r->content_type = TEXT_HTML;
}

bool http_ui_route(struct http_target *tg, struct http_request *rq,
		   const char *url, const char *method, struct http_reply *r)
{
	enum http_ui_route route = http_ui_route_path(url);
	const char *q = rq->uri ? strchr(rq->uri, '?') : NULL;
	const char *query = q ? q + 1 : "";
	char v[32];

	if (route == HTTP_UI_NONE)
		return false;
	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
		http_reply_error(r, 405, "method not allowed");
		r->allow = "GET, HEAD";
		r->go_error = false;
		return true;
	}
	if (atomic_load(&tg->stopping)) {
		http_reply_error(r, 503, "cprof serve is stopping");
		return true;
	}
	switch (route) {
	case HTTP_UI_NONE:
		break;
	case HTTP_UI_REDIRECT: {
		struct sbuf b = { 0 };
		memset(r, 0, sizeof(*r));
		r->status = 301;
		r->content_type = TEXT_HTML;
		r->location = "ui/";	/* relative: kept under a prefix */
		sb_printf(&b, "<a href=\"ui/\">Moved Permanently</a>.\n");
		if (sb_finish(&b, &r->body, &r->len) < 0) {
			r->body = NULL;
			r->len = 0;
		}
		break;
	}
	case HTTP_UI_INDEX:
		ui_index(tg, r);
		break;
	case HTTP_UI_THREADS:
		if (rq->head)
			ui_head_only(r);	/* no thread dump for a HEAD */
		else
			ui_threads(tg, r);
		break;
	case HTTP_UI_FLAME: {
		int g = http_query_get(query, "profile", v, sizeof(v));
		int kind = g > 0 ? http_ui_profile_kind(v) : -EINVAL;
		if (kind < 0) {
			http_reply_error(r, 400, "unknown or missing \"profile\": one of cpu, wall, block, mutex");
			r->go_error = false;
			break;
		}
		if (rq->head) {
			ui_head_only(r);	/* no recording for a HEAD */
			break;
		}
		rq->ui_html = true;
		http_serve_profile(tg, rq, query, (enum record_profile)kind, r);
		break;
	}
	case HTTP_UI_NOT_FOUND:
		http_reply_error(r, 404, "404 page not found");
		r->go_error = false;
		break;
	}
	return true;
}

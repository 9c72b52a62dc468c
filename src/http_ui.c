/*
 * http_ui.c - serve's /ui/ pages (http_ui.h). Rendering only: the server
 * (http.c) gathers what they show and sends them.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http_int.h"
#include "http_ui.h"
#include "record.h"
#include "threads_write.h"

enum http_ui_route http_ui_route_path(const char *path)
{
	if (!strcmp(path, "/ui"))
		return HTTP_UI_REDIRECT;
	if (strncmp(path, "/ui/", 4) != 0)
		return HTTP_UI_NONE;
	path += 4;
	if (!*path || !strcmp(path, "index.html"))
		return HTTP_UI_INDEX;
	if (!strcmp(path, "flame"))
		return HTTP_UI_FLAME;
	if (!strcmp(path, "threads"))
		return HTTP_UI_THREADS;
	return HTTP_UI_NOT_FOUND;
}

/* The kinds offered, in the order of the buttons. */
static const struct {
	const char *name;
	int kind;
	const char *label;
	const char *desc;
} ui_kinds[] = {
	{ "cpu", RECORD_CPU, "CPU",
	  "where the threads ran on a CPU, sampled with perf_event_open" },
	{ "wall", RECORD_WALL, "Wall clock",
	  "on-CPU samples and off-CPU waits together: where each thread spent its time" },
	{ "block", RECORD_BLOCK, "Off-CPU waits",
	  "where threads waited (sleeps, locks, I/O), weighted by how long" },
	{ "mutex", RECORD_MUTEX, "Lock waits",
	  "the waits for a lock among them" },
};

int http_ui_profile_kind(const char *name)
{
	for (size_t i = 0; i < sizeof(ui_kinds) / sizeof(ui_kinds[0]); i++)
		if (!strcmp(name, ui_kinds[i].name))
			return ui_kinds[i].kind;
	return -EINVAL;
}

/* Text of the target for a page: HTML-escaped, control characters shown
 * as \xNN rather than passed to the browser. */
static void ui_text(struct sbuf *b, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		char one[2] = { (char)c, '\0' };
		if (c < 0x20 || c == 0x7f)
			sb_printf(b, "\\x%02x", c);
		else
			html_escape(b, one);
	}
}

static void ui_head(struct sbuf *b, const char *title_prefix, const char *comm,
		    pid_t pid)
{
	sb_printf(b, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
		  "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
		  "<title>%s", title_prefix);
	ui_text(b, comm, strlen(comm));
	sb_printf(b, " (%d)</title>\n<style>\n"
		  "body{font:14px/1.4 system-ui,sans-serif;margin:1.5rem;color:#222;max-width:70rem}\n"
		  "h1{font-size:1.3rem;margin:0 0 .3rem}\n"
		  "nav a{margin-right:1rem}\n"
		  "code,pre{font:13px/1.35 ui-monospace,monospace}\n"
		  "dl{display:grid;grid-template-columns:max-content auto;gap:.2rem 1rem}\n"
		  "dt{color:#666}dd{margin:0;overflow-wrap:anywhere}\n"
		  ".kinds{display:grid;grid-template-columns:repeat(auto-fill,minmax(16rem,1fr));gap:.8rem;margin:1rem 0}\n"
		  ".kind{border:1px solid #ccc;border-radius:6px;padding:.6rem .8rem}\n"
		  ".kind button{font-size:1rem;padding:.3rem .9rem;cursor:pointer}\n"
		  ".kind p{margin:.3rem 0;color:#555;font-size:.9rem}\n"
		  ".kind input{width:4.5rem}\n"
		  "table{border-collapse:collapse}td,th{padding:.1rem .7rem;text-align:left}\n"
		  "th{border-bottom:1px solid #ccc}\n"
		  "pre{background:#f6f6f6;padding:.5rem;overflow-x:auto}\n"
		  "</style>\n</head>\n<body>\n", (int)pid);
}

/* Seconds as "3d 4h", "5h 12m", "7m 3s" or "42s". */
static void ui_duration(struct sbuf *b, double s)
{
	unsigned long t = (unsigned long)(s + 0.5);
	if (t >= 86400)
		sb_printf(b, "%lud %luh", t / 86400, t % 86400 / 3600);
	else if (t >= 3600)
		sb_printf(b, "%luh %lum", t / 3600, t % 3600 / 60);
	else if (t >= 60)
		sb_printf(b, "%lum %lus", t / 60, t % 60);
	else
		sb_printf(b, "%lus", t);
}

int http_ui_index_html(const struct http_ui_target *t, char **body, size_t *len)
{
	struct sbuf b = { 0 };
	const char *comm = t->comm ? t->comm : "?";

	ui_head(&b, "cprof: ", comm, t->pid);
	sb_printf(&b, "<h1>Process %d (", (int)t->pid);
	ui_text(&b, comm, strlen(comm));
	sb_printf(&b, ")</h1>\n<nav><a href=\"threads\">Thread dump</a>"
		  "<a href=\"../debug/pprof/\">/debug/pprof/</a></nav>\n<dl>\n");
	sb_printf(&b, "<dt>command line</dt><dd><code>");
	if (t->cmdline && t->cmdline_len) {
		size_t n = t->cmdline_len;
		if (t->cmdline[n - 1] == '\0')
			n--;
		for (size_t i = 0; i < n;) {
			const char *arg = t->cmdline + i;
			size_t al = strnlen(arg, n - i);
			if (i)
				sb_printf(&b, " ");
			ui_text(&b, arg, al);
			i += al + 1;
		}
	} else {
		sb_printf(&b, "(none)");
	}
	sb_printf(&b, "</code></dd>\n");
	if (t->exe) {
		sb_printf(&b, "<dt>executable</dt><dd><code>");
		ui_text(&b, t->exe, strlen(t->exe));
		sb_printf(&b, "</code></dd>\n");
	}
	if (t->uptime_s >= 0) {
		sb_printf(&b, "<dt>running for</dt><dd>");
		ui_duration(&b, t->uptime_s);
		sb_printf(&b, "</dd>\n");
	}
	sb_printf(&b, "<dt>threads</dt><dd>%zu</dd>\n</dl>\n", t->nthreads);

	sb_printf(&b, "<h2>Flame graphs</h2>\n<div class=\"kinds\">\n");
	for (size_t i = 0; i < sizeof(ui_kinds) / sizeof(ui_kinds[0]); i++) {
		sb_printf(&b, "<form class=\"kind\" action=\"flame\" method=\"get\">"
			  "<input type=\"hidden\" name=\"profile\" value=\"%s\">"
			  "<button type=\"submit\" id=\"btn-%s\">%s</button> for "
			  "<input type=\"number\" name=\"seconds\" value=\"%u\" min=\"1\"",
			  ui_kinds[i].name, ui_kinds[i].name, ui_kinds[i].label,
			  t->default_seconds);
		if (t->max_seconds)
			sb_printf(&b, " max=\"%u\"", t->max_seconds);
		sb_printf(&b, "> s<p>%s</p></form>\n", ui_kinds[i].desc);
	}
	sb_printf(&b, "<div class=\"kind\"><button disabled>Heap</button>"
		  "<p>not available yet: cprof does not trace allocations</p></div>\n"
		  "</div>\n<p>A flame graph page appears once its recording ends.</p>\n");

	sb_printf(&b, "<h2>Threads</h2>\n<table>\n<tr><th>TID</th><th>name</th>"
		  "<th>state</th><th>CPU</th></tr>\n");
	for (size_t i = 0; i < t->nthreads; i++) {
		const struct http_ui_thread *th = &t->threads[i];
		sb_printf(&b, "<tr><td><a href=\"threads#t%d\">%d</a></td><td>",
			  (int)th->tid, (int)th->tid);
		ui_text(&b, th->name, strnlen(th->name, sizeof(th->name)));
		sb_printf(&b, "</td><td>");
		ui_text(&b, &th->state, 1);
		if (th->cpu_s >= 0)
			sb_printf(&b, "</td><td>%.2f s</td></tr>\n", th->cpu_s);
		else
			sb_printf(&b, "</td><td>?</td></tr>\n");
	}
	sb_printf(&b, "</table>\n<p><small>served by cprof</small></p>\n</body>\n</html>\n");
	return sb_finish(&b, body, len);
}

static const char *state_word(char s)
{
	switch (s) {
	case 'R': return "running";
	case 'S': return "sleeping";
	case 'D': return "uninterruptible";
	case 'T': return "stopped";
	case 't': return "traced";
	case 'Z': return "zombie";
	default: return "?";
	}
}

int http_ui_threads_html(const struct threads_dump *d, struct symbolizer *sym,
			 const char *comm, char **body, size_t *len)
{
	struct sbuf b = { 0 };
	int e = 0;

	comm = comm ? comm : "?";
	ui_head(&b, "threads of ", comm, d->pid);
	sb_printf(&b, "<h1>Threads of process %d (", (int)d->pid);
	ui_text(&b, comm, strlen(comm));
	sb_printf(&b, ")</h1>\n<nav><a href=\"./\">Index</a>"
		  "<a href=\"../debug/pprof/goroutine?debug=2\">as text</a></nav>\n"
		  "<p>%zu threads, stopped for at most %.2f ms each.</p>\n",
		  d->n, (double)d->longest_stop_ns / 1e6);
	sb_printf(&b, "<table>\n<tr><th>TID</th><th>name</th><th>state</th><th>CPU</th></tr>\n");
	for (size_t i = 0; i < d->n; i++) {
		const struct threads_thread *t = &d->threads[i];
		sb_printf(&b, "<tr><td><a href=\"#t%d\">%d</a></td><td>", (int)t->tid,
			  (int)t->tid);
		ui_text(&b, t->name, strnlen(t->name, sizeof(t->name)));
		sb_printf(&b, "</td><td>%s</td><td>%.2f s</td></tr>\n",
			  state_word(t->state), (double)t->cpu_ns / 1e9);
	}
	sb_printf(&b, "</table>\n");

	/* Each thread as `cprof threads` writes it, from a one-thread view
	 * of the dump. */
	for (size_t i = 0; i < d->n && e == 0; i++) {
		struct threads_dump one = *d;
		char *text = NULL;
		size_t tl = 0;
		FILE *f;

		one.threads = &d->threads[i];
		one.n = 1;
		f = open_memstream(&text, &tl);
		if (!f) {
			e = -ENOMEM;
			break;
		}
		e = threads_write(&one, sym, THREADS_FMT_TEXT, f);
		if (fclose(f) != 0 && e == 0)
			e = -ENOMEM;
		if (e == 0) {
			while (tl && text[tl - 1] == '\n')
				tl--;
			sb_printf(&b, "<pre id=\"t%d\">", (int)d->threads[i].tid);
			/* Newlines kept, other control characters shown. */
			for (size_t k = 0; k < tl;) {
				size_t n = strcspn(text + k, "\n");
				if (n > tl - k)
					n = tl - k;
				ui_text(&b, text + k, n);
				k += n;
				if (k < tl) {
					sb_printf(&b, "\n");
					k++;
				}
			}
			sb_printf(&b, "</pre>\n");
		}
		free(text);
	}
	sb_printf(&b, "</body>\n</html>\n");
	if (e < 0) {
		free(b.s);
		return e;
	}
	return sb_finish(&b, body, len);
}

/*
 * http_targets.c - the processes cprof serve serves: each one's identity
 * (pid and start time, so that a reused pid is not taken for ours), its
 * symbolizer, and the locks its requests share.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "http_int.h"
#include "errmsg.h"
#include "procfs.h"
#include "symbolize.h"
#include "symnames.h"

int http_target_init(struct http_target *t, const struct http_opts *o,
		     pid_t pid, char *err, size_t errlen)
{
	struct procfs_stat pst;
	char why[256] = "";

	memset(t, 0, sizeof(*t));
	t->o = o;
	t->pid = pid;
	t->topts = o->threads;
	t->topts.pid = pid;
	t->max_seconds = o->max_seconds ? o->max_seconds : HTTP_DEFAULT_MAX_SECONDS;

	int e = procfs_read_stat(pid, 0, &pst);
	if (e < 0) {
		errmsg_set(err, errlen, "cannot read /proc/%d/stat: %s", (int)pid, strerror(-e));
		return e;
	}
	t->starttime = pst.starttime;
	e = symbolizer_new(pid, false, &t->sym, why, sizeof(why));
	if (e < 0) {
		errmsg_set(err, errlen, "cannot read the symbols of process %d: %s", (int)pid,
			   why[0] ? why : strerror(-e));
		return e;
	}
	/* As `cprof threads` and `cprof record` do by default. */
	symbolizer_set_lines(t->sym, SYM_LINES_OWN);
	pthread_mutex_init(&t->sym_lock, NULL);
	pthread_mutex_init(&t->capture_lock, NULL);
	pthread_cond_init(&t->capture_cond, NULL);
	pthread_mutex_init(&t->slot_lock, NULL);
	t->names = symnames_new(HTTP_SYMBOL_CACHE_NAMES);
	if (!t->names) {
		http_target_fini(t);
		errmsg_set(err, errlen, "out of memory");
		return -ENOMEM;
	}
	return 0;
}

void http_target_fini(struct http_target *t)
{
	pthread_mutex_destroy(&t->slot_lock);
	symnames_free(t->names);
	t->names = NULL;
	http_dump_put_locked(t->latest);
	t->latest = NULL;
	pthread_cond_destroy(&t->capture_cond);
	pthread_mutex_destroy(&t->capture_lock);
	pthread_mutex_destroy(&t->sym_lock);
	symbolizer_free(t->sym);
	t->sym = NULL;
}

bool http_target_gone(const struct http_target *t)
{
	struct procfs_stat st;
	int e = procfs_read_stat(t->pid, 0, &st);
	if (e == -ENOENT || e == -ESRCH)
		return true;
	if (e < 0)
		return false;	/* EMFILE and such: ask again later */
	return st.state == 'Z' || st.state == 'X' || st.starttime != t->starttime;
}

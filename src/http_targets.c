/*
 * http_targets.c - the processes cprof serve serves: each one's identity
 * (pid and start time, so that a reused pid is not taken for ours), its
 * symbolizer, and the locks its requests share; and the registry of them:
 * one fixed target with -p, the processes of /proc that pass the filters
 * with --all (docs/design.md §7.1).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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
	pthread_mutex_init(&t->heap_lock, NULL);
	pthread_mutex_init(&t->ptrace_lock, NULL);
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
	/* First: the target must not stay hooked once we stop serving. */
	http_heap_stop(t);
	pthread_mutex_destroy(&t->heap_lock);
	pthread_mutex_destroy(&t->ptrace_lock);
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

/* --- the registry ------------------------------------------------------ */

static double since(const struct timespec *a, const struct timespec *now)
{
	return (double)(now->tv_sec - a->tv_sec) +
	       (double)(now->tv_nsec - a->tv_nsec) / 1e9;
}

static void user_name(uid_t uid, char *buf, size_t len)
{
	struct passwd pw, *res = NULL;
	char tmp[1024];
	if (getpwuid_r(uid, &pw, tmp, sizeof(tmp), &res) == 0 && res)
		snprintf(buf, len, "%s", res->pw_name);
	else
		snprintf(buf, len, "%u", (unsigned)uid);
}

/* The cgroup v2 path ("0::/PATH"), or on a v1-only host the systemd one. */
static void read_cgroup(pid_t pid, char *buf, size_t len)
{
	char path[64], *text = NULL, *v1 = NULL;
	size_t n = 0;
	buf[0] = '\0';
	snprintf(path, sizeof(path), "/proc/%d/cgroup", (int)pid);
	if (procfs_read_file(path, &text, &n) < 0)
		return;
	for (char *line = text, *nl; line && *line; line = nl) {
		nl = strchr(line, '\n');
		if (nl)
			*nl++ = '\0';
		if (!strncmp(line, "0::", 3)) {
			snprintf(buf, len, "%s", line + 3);
			free(text);
			return;
		}
		char *c = strchr(line, ':');
		if (!v1 && c && !strncmp(c + 1, "name=systemd:", 13))
			v1 = c + 14;
	}
	if (v1)
		snprintf(buf, len, "%s", v1);
	free(text);
}

/* Whether the filters take process pid, filling p; false for kernel
 * threads, zombies and processes gone meanwhile. st is its stat. */
static bool examine(struct http_registry *reg, pid_t pid,
		    const struct procfs_stat *st, struct http_proc *p)
{
	const struct http_opts *o = reg->o;
	struct procfs_ids ids;
	char path[64];

	if ((st->flags & PROCFS_PF_KTHREAD) || st->state == 'Z' || st->state == 'X')
		return false;
	memset(p, 0, sizeof(*p));
	p->pid = pid;
	p->starttime = st->starttime;
	snprintf(p->comm, sizeof(p->comm), "%s", st->comm);
	if (procfs_read_ids(pid, &ids) < 0)
		return false;
	p->uid = ids.uids[1];
	if (o->has_uid && p->uid != o->uid)
		return false;
	read_cgroup(pid, p->cgroup, sizeof(p->cgroup));
	if (o->cgroup && !http_cgroup_under(p->cgroup, o->cgroup))
		return false;
	if (reg->has_re) {
		char *cmd = NULL;
		size_t n = 0;
		bool hit = regexec(&reg->re, p->comm, 0, NULL, 0) == 0;
		if (!hit && procfs_read_cmdline(pid, &cmd, &n) == 0 && n) {
			for (size_t i = 0; i + 1 < n; i++)
				if (cmd[i] == '\0')
					cmd[i] = ' ';
			hit = regexec(&reg->re, cmd, 0, NULL, 0) == 0;
		}
		free(cmd);
		if (!hit)
			return false;
	}
	user_name(p->uid, p->user, sizeof(p->user));
	snprintf(path, sizeof(path), "/proc/%d/exe", (int)pid);
	ssize_t l = readlink(path, p->exe, sizeof(p->exe) - 1);
	p->exe[l > 0 ? l : 0] = '\0';
	http_container_id(p->cgroup, p->container_id);
	/* Reading a process's memory takes the permission ptrace checks
	 * (PTRACE_MODE_ATTACH), so opening /proc/PID/mem tells, without
	 * stopping anything, whether cprof may trace it. */
	if (pid == reg->self) {
		snprintf(p->denied, sizeof(p->denied), "cprof serve itself");
	} else {
		snprintf(path, sizeof(path), "/proc/%d/mem", (int)pid);
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd >= 0)
			close(fd);
		else if (errno == EACCES || errno == EPERM)
			snprintf(p->denied, sizeof(p->denied), "ptrace denied: cannot open %s: %s",
				 path, strerror(errno));
		else if (errno == ENOENT || errno == ESRCH)
			return false;
	}
	return true;
}

/* /proc/TID answers for every thread, though only processes are listed:
 * pid must be a thread group's id. */
static bool is_process(pid_t pid)
{
	char path[64], *text = NULL;
	size_t n = 0;
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if (procfs_read_file(path, &text, &n) < 0)
		return false;
	const char *t = strstr(text, "\nTgid:");
	bool ok = t && atoi(t + 6) == pid;
	free(text);
	return ok;
}

static int cmp_proc(const void *a, const void *b)
{
	const struct http_proc *x = a, *y = b;
	return (x->pid > y->pid) - (x->pid < y->pid);
}

static const struct http_proc *find_proc(const struct http_proc *procs, size_t n,
					 pid_t pid)
{
	struct http_proc key = { .pid = pid };
	return n ? bsearch(&key, procs, n, sizeof(*procs), cmp_proc) : NULL;
}

/* Scans /proc; a process seen last time with the same start time and comm
 * keeps what was read of it then (exec changes the comm), so a steady
 * host costs one read of /proc/PID/stat per process. Called without the
 * lock held; old is the previous scan, read-only meanwhile. */
static int scan(struct http_registry *reg, const struct http_proc *old, size_t nold,
		struct http_proc **out, size_t *nout)
{
	DIR *d = opendir("/proc");
	struct http_proc *v = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;

	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		pid_t pid = (pid_t)atoi(de->d_name);
		struct procfs_stat st;
		if (pid <= 0 || procfs_read_stat(pid, 0, &st) < 0)
			continue;
		if (n == cap) {
			size_t nc = cap ? cap * 2 : 256;
			struct http_proc *nv = realloc(v, nc * sizeof(*v));
			if (!nv) {
				free(v);
				closedir(d);
				return -ENOMEM;
			}
			v = nv;
			cap = nc;
		}
		const struct http_proc *was = find_proc(old, nold, pid);
		if (was && was->starttime == st.starttime && !strcmp(was->comm, st.comm) &&
		    !((st.flags & PROCFS_PF_KTHREAD) || st.state == 'Z' || st.state == 'X')) {
			v[n++] = *was;
			continue;
		}
		if (examine(reg, pid, &st, &v[n]))
			n++;
	}
	closedir(d);
	if (n)
		qsort(v, n, sizeof(*v), cmp_proc);
	*out = v;
	*nout = n;
	return 0;
}

static void rescan(struct http_registry *reg)
{
	struct http_proc *v = NULL;
	size_t n = 0;
	/* The previous scan is only replaced here, by the serve loop's
	 * thread: reading it unlocked is safe. */
	if (scan(reg, reg->procs, reg->nprocs, &v, &n) < 0)
		return;	/* EMFILE, ENOMEM: keep the last one, try again */
	pthread_mutex_lock(&reg->lock);
	struct http_proc *old = reg->procs;
	reg->procs = v;
	reg->nprocs = n;
	clock_gettime(CLOCK_MONOTONIC, &reg->scanned);
	pthread_mutex_unlock(&reg->lock);
	free(old);
}

int http_registry_init(struct http_registry *reg, const struct http_opts *o,
		       char *err, size_t errlen)
{
	memset(reg, 0, sizeof(*reg));
	reg->o = o;
	reg->self = getpid();
	if (!o->all) {
		struct http_target *t = calloc(1, sizeof(*t));
		if (!t)
			return -ENOMEM;
		int e = http_target_init(t, o, o->pid, err, errlen);
		if (e < 0) {
			free(t);
			return e;
		}
		t->fixed = true;
		t->refs = 1;	/* the registry's own */
		reg->open = t;
		pthread_mutex_init(&reg->lock, NULL);
		return 0;
	}
	if (o->match) {
		int r = regcomp(&reg->re, o->match, REG_EXTENDED | REG_NOSUB);
		if (r != 0) {
			char msg[128];
			regerror(r, &reg->re, msg, sizeof(msg));
			errmsg_set(err, errlen, "invalid --match '%s': %s", o->match, msg);
			return -EINVAL;
		}
		reg->has_re = true;
	}
	pthread_mutex_init(&reg->lock, NULL);
	rescan(reg);
	return 0;
}

static void target_free(struct http_target *t)
{
	http_target_fini(t);
	free(t);
}

void http_registry_fini(struct http_registry *reg)
{
	for (struct http_target *t = reg->open, *next; t; t = next) {
		next = t->next;
		target_free(t);
	}
	reg->open = NULL;
	free(reg->procs);
	reg->procs = NULL;
	if (reg->has_re)
		regfree(&reg->re);
	pthread_mutex_destroy(&reg->lock);
}

int http_registry_get(struct http_registry *reg, pid_t pid,
		      struct http_target **out, char *why, size_t whylen)
{
	struct timespec now;
	struct http_proc p;
	struct procfs_stat st;
	int e;

	clock_gettime(CLOCK_MONOTONIC, &now);
	pthread_mutex_lock(&reg->lock);
	if (reg->stopping && reg->o->all) {
		pthread_mutex_unlock(&reg->lock);
		return -ESHUTDOWN;
	}
	if (!reg->o->all) {
		struct http_target *t = reg->open;
		if (pid && pid != t->pid) {
			pthread_mutex_unlock(&reg->lock);
			return -ENOENT;
		}
		t->refs++;
		pthread_mutex_unlock(&reg->lock);
		*out = t;
		return 0;
	}
	for (struct http_target *t = reg->open; t; t = t->next) {
		if (t->pid == pid && !atomic_load(&t->stopping)) {
			t->refs++;
			t->last_used = now;
			pthread_mutex_unlock(&reg->lock);
			*out = t;
			return 0;
		}
	}
	/* Not open: is it one of ours? Asked afresh, as it may have started
	 * (or exec'd) since the last scan. */
	if (!is_process(pid) || procfs_read_stat(pid, 0, &st) < 0 ||
	    !examine(reg, pid, &st, &p)) {
		pthread_mutex_unlock(&reg->lock);
		return -ENOENT;
	}
	if (p.denied[0]) {
		pthread_mutex_unlock(&reg->lock);
		errmsg_set(why, whylen, "%s", p.denied);
		return -EACCES;
	}
	/* Opened under the lock: a symbolizer is a few ms of reading maps,
	 * and two first requests for one process must not open two. */
	struct http_target *t = calloc(1, sizeof(*t));
	if (!t) {
		pthread_mutex_unlock(&reg->lock);
		return -ENOMEM;
	}
	e = http_target_init(t, reg->o, pid, why, whylen);
	if (e < 0) {
		pthread_mutex_unlock(&reg->lock);
		free(t);
		return e;
	}
	t->refs = 1;
	t->last_used = now;
	t->next = reg->open;
	reg->open = t;
	pthread_mutex_unlock(&reg->lock);
	*out = t;
	return 0;
}

void http_registry_put(struct http_registry *reg, struct http_target *t)
{
	pthread_mutex_lock(&reg->lock);
	clock_gettime(CLOCK_MONOTONIC, &t->last_used);
	bool last = --t->refs == 0 && t->removed;
	pthread_mutex_unlock(&reg->lock);
	if (last)
		target_free(t);
}

bool http_registry_tick(struct http_registry *reg)
{
	struct timespec now;

	if (!reg->o->all)
		return http_target_gone(reg->open);
	clock_gettime(CLOCK_MONOTONIC, &now);
	struct http_target *dead = NULL;
	pthread_mutex_lock(&reg->lock);
	for (struct http_target **pp = &reg->open; *pp;) {
		struct http_target *t = *pp;
		bool gone = http_target_gone(t);
		if (!gone && (t->refs > 0 || since(&t->last_used, &now) < HTTP_TARGET_IDLE_SECONDS)) {
			pp = &t->next;
			continue;
		}
		/* Its requests in flight see `stopping` within a tick and
		 * answer 503; the last of them frees it. */
		if (gone)
			atomic_store(&t->stopping, HTTP_STOP_TARGET_EXITED);
		*pp = t->next;
		t->removed = true;
		if (t->refs == 0) {
			t->next = dead;
			dead = t;
		}
	}
	bool due = since(&reg->scanned, &now) * 1000 >= HTTP_REFRESH_MS;
	pthread_mutex_unlock(&reg->lock);
	while (dead) {
		struct http_target *next = dead->next;
		target_free(dead);
		dead = next;
	}
	if (due)
		rescan(reg);
	return false;
}

void http_registry_stop(struct http_registry *reg, int reason)
{
	pthread_mutex_lock(&reg->lock);
	reg->stopping = reason;
	for (struct http_target *t = reg->open; t; t = t->next)
		atomic_store(&t->stopping, reason);
	pthread_mutex_unlock(&reg->lock);
}

int http_registry_list(struct http_registry *reg, struct http_proc **procs,
		       size_t *n)
{
	if (!reg->o->all) {
		struct procfs_stat st;
		struct http_proc *p = calloc(1, sizeof(*p));
		pid_t pid = reg->open->pid;
		if (!p)
			return -ENOMEM;
		if (procfs_read_stat(pid, 0, &st) < 0 || !examine(reg, pid, &st, p)) {
			/* Exiting: nothing to list. */
			free(p);
			*procs = NULL;
			*n = 0;
			return 0;
		}
		*procs = p;
		*n = 1;
		return 0;
	}
	pthread_mutex_lock(&reg->lock);
	struct http_proc *v = malloc((reg->nprocs ? reg->nprocs : 1) * sizeof(*v));
	if (v) {
		if (reg->nprocs)
			memcpy(v, reg->procs, reg->nprocs * sizeof(*v));
		*n = reg->nprocs;
	}
	pthread_mutex_unlock(&reg->lock);
	if (!v)
		return -ENOMEM;
	*procs = v;
	return 0;
}

/*
 * procfs.c - parsers for /proc text, and thin wrappers that read the files.
 *
 * Most /proc files report st_size 0 and are generated on each read(), so
 * everything is read until EOF into a growing buffer (procfs_read_file).
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "procfs.h"
#include "syscalls_x86_64.h"

int procfs_read_file(const char *path, char **buf, size_t *len)
{
	size_t cap = 4096, n = 0;
	char *b, *nb;
	ssize_t r;
	int fd, e;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	b = malloc(cap);
	if (!b) {
		close(fd);
		return -ENOMEM;
	}
	for (;;) {
		if (cap - n < 2) {
			if (cap >= PROCFS_MAX_FILE) {
				e = -EFBIG;
				goto out_free;
			}
			nb = realloc(b, cap * 2);
			if (!nb) {
				e = -ENOMEM;
				goto out_free;
			}
			b = nb;
			cap *= 2;
		}
		r = read(fd, b + n, cap - n - 1);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			e = -errno;
			goto out_free;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	b[n] = '\0';
	*buf = b;
	if (len)
		*len = n;
	return 0;

out_free:
	free(b);
	close(fd);
	return e;
}

int procfs_read_long(const char *path, long *val)
{
	char *buf, *end;
	long v;
	int r;

	r = procfs_read_file(path, &buf, NULL);
	if (r < 0)
		return r;
	errno = 0;
	v = strtol(buf, &end, 10);
	if (end == buf || errno) {
		free(buf);
		return -EINVAL;
	}
	free(buf);
	*val = v;
	return 0;
}

/* ---- maps ---------------------------------------------------------------- */

static int procfs_map_cmp(const void *a, const void *b)
{
	const struct procfs_map *x = a, *y = b;

	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	return 0;
}

void procfs_maps_release(struct procfs_maps *m)
{
	size_t i;

	if (!m)
		return;
	for (i = 0; i < m->n; i++)
		free(m->maps[i].path);
	free(m->maps);
	m->maps = NULL;
	m->n = 0;
}

/* Parses an unsigned number in base 16 or 10 from *p, not past end, and
 * advances *p. Returns false when there is no digit or the value
 * overflows. */
static bool procfs_parse_num(const char **p, const char *end, unsigned base,
			     uint64_t *out)
{
	const char *q = *p;
	uint64_t v = 0;

	while (q < end) {
		unsigned d;
		if (*q >= '0' && *q <= '9')
			d = (unsigned)(*q - '0');
		else if (base == 16 && *q >= 'a' && *q <= 'f')
			d = (unsigned)(*q - 'a' + 10);
		else if (base == 16 && *q >= 'A' && *q <= 'F')
			d = (unsigned)(*q - 'A' + 10);
		else
			break;
		if (v > (UINT64_MAX - d) / base)
			return false;
		v = v * base + d;
		q++;
	}
	if (q == *p)
		return false;
	*out = v;
	*p = q;
	return true;
}

static bool procfs_parse_char(const char **p, const char *end, char c)
{
	if (*p >= end || **p != c)
		return false;
	(*p)++;
	return true;
}

/* One line: "start-end perms offset major:minor inode [path]"; the path is
 * everything after the blanks following the inode, spaces included
 * (proc(5)). By hand, not sscanf: a big process has thousands of lines,
 * and every command reads them before it starts. */
static int procfs_parse_map_line(const char *line, size_t len,
				 struct procfs_map *mp)
{
	static const char deleted[] = " (deleted)";
	const size_t dlen = sizeof(deleted) - 1;
	const char *p = line, *end = line + len;
	uint64_t major, minor;
	size_t plen, i;

	memset(mp, 0, sizeof(*mp));
	if (!procfs_parse_num(&p, end, 16, &mp->start) ||
	    !procfs_parse_char(&p, end, '-') ||
	    !procfs_parse_num(&p, end, 16, &mp->end) ||
	    !procfs_parse_char(&p, end, ' '))
		return -EINVAL;
	for (i = 0; p < end && *p != ' '; p++, i++)
		if (i < sizeof(mp->perms) - 1)
			mp->perms[i] = *p;
	if (i == 0 || i > 7 ||
	    !procfs_parse_char(&p, end, ' ') ||
	    !procfs_parse_num(&p, end, 16, &mp->offset) ||
	    !procfs_parse_char(&p, end, ' ') ||
	    !procfs_parse_num(&p, end, 16, &major) || major > UINT32_MAX ||
	    !procfs_parse_char(&p, end, ':') ||
	    !procfs_parse_num(&p, end, 16, &minor) || minor > UINT32_MAX ||
	    !procfs_parse_char(&p, end, ' ') ||
	    !procfs_parse_num(&p, end, 10, &mp->inode) ||
	    (p < end && *p != ' ' && *p != '\t'))
		return -EINVAL;
	mp->dev_major = (unsigned)major;
	mp->dev_minor = (unsigned)minor;
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	plen = (size_t)(end - p);
	if (plen >= dlen && memcmp(p + plen - dlen, deleted, dlen) == 0) {
		mp->deleted = true;
		plen -= dlen;
	}
	mp->path = strndup(p, plen);
	return mp->path ? 0 : -ENOMEM;
}

int procfs_parse_maps(const char *text, struct procfs_maps *out)
{
	size_t cap = 0, n = 0, len;
	struct procfs_map *maps = NULL, *nm;
	const char *line = text, *nl;
	bool sorted = true;
	int r;

	while (*line) {
		nl = strchr(line, '\n');
		len = nl ? (size_t)(nl - line) : strlen(line);
		if (len > 0) {
			if (n == cap) {
				cap = cap ? cap * 2 : 256;
				nm = realloc(maps, cap * sizeof(*maps));
				if (!nm) {
					r = -ENOMEM;
					goto out_free;
				}
				maps = nm;
			}
			r = procfs_parse_map_line(line, len, &maps[n]);
			if (r < 0)
				goto out_free;
			if (n > 0 && procfs_map_cmp(&maps[n - 1], &maps[n]) > 0)
				sorted = false;
			n++;
		}
		if (!nl)
			break;
		line = nl + 1;
	}
	/* The kernel lists maps in address order already; sorting makes the
	 * binary search safe for hand-written text too. */
	if (!sorted)
		qsort(maps, n, sizeof(*maps), procfs_map_cmp);
	out->maps = maps;
	out->n = n;
	return 0;

out_free:
	out->maps = maps;
	out->n = n;
	procfs_maps_release(out);
	return r;
}

int procfs_read_maps(pid_t pid, struct procfs_maps *out)
{
	char path[64], *text;
	int r;

	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	r = procfs_read_file(path, &text, NULL);
	if (r < 0)
		return r;
	r = procfs_parse_maps(text, out);
	free(text);
	return r;
}

int procfs_maps_dup(const struct procfs_maps *in, struct procfs_maps *out)
{
	out->maps = NULL;
	out->n = 0;
	if (in->n == 0)
		return 0;
	out->maps = malloc(in->n * sizeof(*out->maps));
	if (!out->maps)
		return -ENOMEM;
	for (size_t i = 0; i < in->n; i++) {
		out->maps[i] = in->maps[i];
		out->maps[i].path = strdup(in->maps[i].path);
		if (!out->maps[i].path) {
			procfs_maps_release(out);
			return -ENOMEM;
		}
		out->n++;
	}
	return 0;
}

const struct procfs_map *procfs_maps_find(const struct procfs_maps *m,
					  uint64_t addr)
{
	size_t lo = 0, hi = m->n, mid;

	/* The last map with start <= addr. */
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (m->maps[mid].start <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0)
		return NULL;
	if (addr < m->maps[lo - 1].end)
		return &m->maps[lo - 1];
	return NULL;
}

/* Opens p (malloc'd, taken over) if it is a regular file: a mapped
 * character device may block on open (libdwfl/linux-proc-maps.c makes the
 * same check). Returns the fd with *opened = p, or -errno (p freed). */
static int procfs_open_regular(char *p, char **opened)
{
	struct stat st;
	int fd, e;

	if (stat(p, &st) < 0) {
		e = -errno;
		goto out_free;
	}
	if (!S_ISREG(st.st_mode)) {
		e = -EINVAL;
		goto out_free;
	}
	fd = open(p, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		e = -errno;
		goto out_free;
	}
	*opened = p;
	return fd;

out_free:
	free(p);
	return e;
}

int procfs_open_regular_path(const char *path, char **opened)
{
	char *p = strdup(path);

	*opened = NULL;
	return p ? procfs_open_regular(p, opened) : -ENOMEM;
}

int procfs_open_root_file(pid_t pid, const char *path, char **opened)
{
	char *p;

	*opened = NULL;
	if (path[0] != '/')
		return -EINVAL;
	if (asprintf(&p, "/proc/%d/root%s", (int)pid, path) < 0)
		return -ENOMEM;
	return procfs_open_regular(p, opened);
}

int procfs_open_map_file(pid_t pid, uint64_t start, uint64_t end,
			 char **opened)
{
	char *p;

	*opened = NULL;
	/* The kernel names the entries "%lx-%lx" (fs/proc/base.c). */
	if (asprintf(&p, "/proc/%d/map_files/%" PRIx64 "-%" PRIx64, (int)pid,
		     start, end) < 0)
		return -ENOMEM;
	return procfs_open_regular(p, opened);
}

bool procfs_map_same_file(int fd, unsigned dev_major, unsigned dev_minor,
			  uint64_t inode)
{
	struct stat st;

	return fstat(fd, &st) == 0 && (uint64_t)st.st_ino == inode &&
	       major(st.st_dev) == dev_major && minor(st.st_dev) == dev_minor;
}

/* ---- tasks, comm, stat, cmdline, status ---------------------------------- */

int procfs_pid_cmp(const void *a, const void *b)
{
	pid_t x = *(const pid_t *)a, y = *(const pid_t *)b;

	return (x > y) - (x < y);
}

void procfs_parse_tasks(const char *buf, size_t got, pid_t *tids, size_t max,
			size_t *n)
{
	const size_t name_at = offsetof(struct dirent64, d_name);

	for (size_t off = 0; off < got && *n < max;) {
		size_t rest = got - off, reclen;
		uint16_t rl;
		char name[16];

		/* The kernel's records are whole, 8-byte aligned and end in a
		 * NUL; anything else ends the listing rather than be read
		 * past. Copied out: buf need not be aligned. */
		if (rest < name_at)
			break;
		memcpy(&rl, buf + off + offsetof(struct dirent64, d_reclen), sizeof(rl));
		reclen = rl;
		if (reclen <= name_at || reclen > rest)
			break;
		size_t nlen = strnlen(buf + off + name_at, reclen - name_at);
		if (nlen == reclen - name_at)
			break;
		if (nlen > 0 && nlen < sizeof(name) &&
		    isdigit((unsigned char)buf[off + name_at])) {
			char *end;
			memcpy(name, buf + off + name_at, nlen + 1);
			errno = 0;
			long t = strtol(name, &end, 10);
			if (!*end && !errno && t > 0 && t <= INT_MAX)
				tids[(*n)++] = (pid_t)t;
		}
		off += reclen;
	}
}

static int procfs_open_tasks(pid_t pid)
{
	char path[64];
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

int procfs_list_some_tasks(pid_t pid, pid_t *tids, size_t max, size_t *n)
{
	_Alignas(struct dirent64) char buf[1024];
	ssize_t got;
	int fd;

	*n = 0;
	fd = procfs_open_tasks(pid);
	if (fd < 0)
		return fd;
	/* One small getdents64: /proc builds an entry (and its dentry) only
	 * for what fits in the buffer, where readdir's 32 KiB would take all
	 * 1,000 threads of a big process. */
	got = getdents64(fd, buf, sizeof(buf));
	if (got < 0) {
		int e = -errno;
		close(fd);
		return e;
	}
	procfs_parse_tasks(buf, (size_t)got, tids, max, n);
	close(fd);
	return 0;
}

int procfs_list_tasks(pid_t pid, pid_t **tids, size_t *n)
{
	/* getdents64 in 2 KiB steps (about 64 threads), not readdir's 32 KiB:
	 * /proc builds a dentry per thread that fits, without a preemption
	 * point, so listing 1,000 threads in one call holds a CPU ~1 ms and
	 * delays whatever wakes there, the target's own threads included
	 * (manythreads' real-time heartbeat, 1,000 threads listed 20 times:
	 * longest gaps up to 2.7 ms with 32 KiB calls, 0.7 ms with 2 KiB
	 * ones; bench/README.md). */
	_Alignas(struct dirent64) char buf[2048];
	pid_t *v = NULL, *nv;
	size_t cap = 0, cnt = 0;
	ssize_t got;
	int fd, e;

	fd = procfs_open_tasks(pid);
	if (fd < 0)
		return fd;
	for (;;) {
		got = getdents64(fd, buf, sizeof(buf));
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			e = -errno;
			goto fail;
		}
		if (got == 0)
			break;
		/* An entry is at least 24 bytes: room for every one of them. */
		size_t room = (size_t)got / 24 + 1;
		if (cap - cnt < room) {
			cap = cap * 2 > cnt + room ? cap * 2 : cnt + room;
			nv = realloc(v, cap * sizeof(*v));
			if (!nv) {
				e = -ENOMEM;
				goto fail;
			}
			v = nv;
		}
		procfs_parse_tasks(buf, (size_t)got, v, cap, &cnt);
	}
	close(fd);
	if (cnt > 1)
		qsort(v, cnt, sizeof(*v), procfs_pid_cmp);
	*tids = v;
	*n = cnt;
	return 0;

fail:
	free(v);
	close(fd);
	return e;
}

struct procfs_pp {
	pid_t pid, ppid;
};

static int procfs_pp_cmp(const void *a, const void *b)
{
	const struct procfs_pp *x = a, *y = b;

	return x->ppid < y->ppid ? -1 : x->ppid > y->ppid;
}

int procfs_list_descendants(pid_t pid, pid_t **out, size_t *n)
{
	struct procfs_pp *all = NULL, *np;
	size_t nall = 0, capall = 0, cnt = 0, done = 0;
	pid_t *v = NULL;
	struct dirent *de;
	DIR *d;
	int e = 0;

	*out = NULL;
	*n = 0;
	d = opendir("/proc");
	if (!d)
		return -errno;
	while ((de = readdir(d)) != NULL) {
		struct procfs_stat st;
		char *end;
		long p = strtol(de->d_name, &end, 10);

		if (*end || p <= 0 || procfs_read_stat((pid_t)p, 0, &st) < 0)
			continue;	/* not a process, or gone meanwhile */
		if (nall == capall) {
			capall = capall ? capall * 2 : 256;
			np = realloc(all, capall * sizeof(*all));
			if (!np) {
				e = -ENOMEM;
				goto out;
			}
			all = np;
		}
		all[nall].pid = (pid_t)p;
		all[nall].ppid = st.ppid;
		nall++;
	}
	/* Breadth first: v holds the descendants found so far, and each is
	 * looked up in turn as a parent (all sorted by ppid). */
	qsort(all, nall, sizeof(*all), procfs_pp_cmp);
	v = malloc((nall + 1) * sizeof(*v));
	if (!v) {
		e = -ENOMEM;
		goto out;
	}
	for (pid_t parent = pid;; parent = v[done++]) {
		struct procfs_pp key = { .ppid = parent };
		struct procfs_pp *hit = bsearch(&key, all, nall, sizeof(*all),
						procfs_pp_cmp);

		while (hit && hit > all && hit[-1].ppid == parent)
			hit--;
		for (; hit && hit < all + nall && hit->ppid == parent; hit++)
			if (hit->pid != pid && cnt < nall)
				v[cnt++] = hit->pid;
		if (done == cnt)
			break;
	}
	if (cnt > 1)
		qsort(v, cnt, sizeof(*v), procfs_pid_cmp);
	if (cnt > 0) {
		*out = v;
		*n = cnt;
		v = NULL;
	}
out:
	free(v);
	free(all);
	closedir(d);
	return e;
}

static void procfs_task_path(char *buf, size_t len, pid_t pid, pid_t tid,
			     const char *file)
{
	if (tid > 0)
		snprintf(buf, len, "/proc/%d/task/%d/%s", (int)pid, (int)tid, file);
	else
		snprintf(buf, len, "/proc/%d/%s", (int)pid, file);
}

int procfs_read_comm(pid_t pid, pid_t tid, char *buf, size_t len)
{
	char path[96], *text;
	size_t n;
	int r;

	if (len == 0)
		return -EINVAL;
	procfs_task_path(path, sizeof(path), pid, tid, "comm");
	r = procfs_read_file(path, &text, &n);
	if (r < 0)
		return r;
	if (n > 0 && text[n - 1] == '\n')
		text[--n] = '\0';
	snprintf(buf, len, "%s", text);
	free(text);
	return 0;
}

int procfs_parse_stat(const char *text, struct procfs_stat *st)
{
	const char *open, *close;
	size_t clen;

	memset(st, 0, sizeof(*st));
	open = strchr(text, '(');
	close = strrchr(text, ')');
	if (!open || !close || close < open)
		return -EINVAL;
	clen = (size_t)(close - open - 1);
	if (clen >= sizeof(st->comm))
		clen = sizeof(st->comm) - 1;
	memcpy(st->comm, open + 1, clen);
	st->comm[clen] = '\0';
	/* proc(5): state ppid pgrp session tty_nr tpgid flags minflt cminflt
	 * majflt cmajflt utime stime cutime cstime priority nice num_threads
	 * itrealvalue starttime ... With strtoll rather than sscanf: a thread
	 * dump reads one stat per thread, and sscanf's format interpretation
	 * was 5% of a 1,000-thread dump. */
	const char *p = close + 1;
	long long f[23];
	char *end;

	while (*p == ' ')
		p++;
	if (!*p)
		return -EINVAL;
	st->state = *p++;
	for (int i = 4; i <= 22; i++) {
		if (*p != ' ')
			return -EINVAL;
		f[i] = strtoll(p, &end, 10);
		if (end == p)
			return -EINVAL;
		p = end;
	}
	st->ppid = (pid_t)f[4];
	st->flags = (unsigned long)f[9];
	st->utime = (uint64_t)f[14];
	st->stime = (uint64_t)f[15];
	st->num_threads = f[20] > 0 ? (unsigned)f[20] : 0;
	st->starttime = (uint64_t)f[22];
	return 0;
}

bool procfs_stat_gone(const struct procfs_stat *st)
{
	/* num_threads is the whole thread group's, the exited leader
	 * included (fs/proc/array.c: get_nr_threads). */
	return (st->state == 'Z' || st->state == 'X') && st->num_threads <= 1;
}

pid_t procfs_proc_tid(pid_t pid)
{
	struct procfs_stat st;
	pid_t *tids = NULL, found = pid;
	size_t n = 0;

	if (procfs_read_stat(pid, 0, &st) < 0 ||
	    (st.state != 'Z' && st.state != 'X') || st.num_threads <= 1 ||
	    procfs_list_tasks(pid, &tids, &n) < 0)
		return pid;
	for (size_t i = 0; i < n && found == pid; i++) {
		struct procfs_stat ts;

		if (tids[i] != pid && procfs_read_stat(pid, tids[i], &ts) == 0 &&
		    ts.state != 'Z' && ts.state != 'X')
			found = tids[i];
	}
	free(tids);
	return found;
}

int procfs_read_stat(pid_t pid, pid_t tid, struct procfs_stat *st)
{
	char path[96], *text;
	int r;

	procfs_task_path(path, sizeof(path), pid, tid, "stat");
	r = procfs_read_file(path, &text, NULL);
	if (r < 0)
		return r;
	r = procfs_parse_stat(text, st);
	free(text);
	return r;
}

int procfs_read_cmdline(pid_t pid, char **buf, size_t *len)
{
	char path[64];
	size_t n;
	int r;

	snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
	r = procfs_read_file(path, buf, &n);
	if (r < 0)
		return r;
	/* A process may overwrite its argv without a final NUL; read_file
	 * terminates the buffer, so count that NUL in. */
	if (n > 0 && (*buf)[n - 1] != '\0')
		n++;
	*len = n;
	return 0;
}

int procfs_tracer_pid(pid_t pid, pid_t *tracer)
{
	char path[64], *text, *p;
	int r;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	r = procfs_read_file(path, &text, NULL);
	if (r < 0)
		return r;
	p = strstr(text, "\nTracerPid:");
	if (!p) {
		free(text);
		return -EINVAL;
	}
	*tracer = (pid_t)strtol(p + strlen("\nTracerPid:"), NULL, 10);
	free(text);
	return 0;
}

int procfs_parse_ids(const char *status, pid_t pid, struct procfs_ids *ids)
{
	const char *p = strstr(status, "\nUid:");
	char *end;

	if (!p)
		return -EINVAL;
	p += strlen("\nUid:");
	for (int i = 0; i < 4; i++) {
		unsigned long v = strtoul(p, &end, 10);

		if (end == p || (*end != '\t' && *end != ' ' && *end != '\n'))
			return -EINVAL;
		ids->uids[i] = (uid_t)v;
		p = end;
	}
	ids->nstgid = pid;
	p = strstr(status, "\nNStgid:");
	if (p) {
		p += strlen("\nNStgid:");
		/* One id per namespace level, outermost first. */
		for (;;) {
			long v = strtol(p, &end, 10);

			if (end == p || v <= 0)
				break;
			ids->nstgid = (pid_t)v;
			p = end;
		}
	}
	return 0;
}

int procfs_read_ids(pid_t pid, struct procfs_ids *ids)
{
	char path[64], *text;
	int r;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	r = procfs_read_file(path, &text, NULL);
	if (r < 0)
		return r;
	r = procfs_parse_ids(text, pid, ids);
	free(text);
	return r;
}

/* ---- syscall ------------------------------------------------------------- */

int procfs_parse_syscall(const char *text, struct procfs_syscall *sc)
{
	const char *p = text;
	char *end;
	int i;

	memset(sc, 0, sizeof(*sc));
	while (*p == ' ')
		p++;
	if (strncmp(p, "running", 7) == 0) {
		sc->nr = -2;
		return 0;
	}
	errno = 0;
	sc->nr = strtol(p, &end, 10);
	if (end == p || errno)
		return -EINVAL;
	p = end;
	/* fs/proc/base.c proc_pid_syscall: "-1 sp pc" when blocked in user
	 * space, else "nr a0 .. a5 sp pc", all in 0x hex. */
	if (sc->nr >= 0) {
		for (i = 0; i < 6; i++) {
			sc->args[i] = strtoull(p, &end, 16);
			if (end == p)
				return -EINVAL;
			p = end;
		}
	}
	sc->sp = strtoull(p, &end, 16);
	if (end == p)
		return -EINVAL;
	p = end;
	sc->pc = strtoull(p, &end, 16);
	if (end == p)
		return -EINVAL;
	return 0;
}

int procfs_read_syscall(pid_t pid, pid_t tid, struct procfs_syscall *sc)
{
	char path[96], *text;
	int r;

	procfs_task_path(path, sizeof(path), pid, tid, "syscall");
	r = procfs_read_file(path, &text, NULL);
	if (r < 0)
		return r;
	r = procfs_parse_syscall(text, sc);
	free(text);
	return r;
}

const char *procfs_syscall_name(long nr)
{
	const long n = (long)(sizeof(procfs_syscall_names) /
			      sizeof(procfs_syscall_names[0]));

	if (nr < 0 || nr >= n)
		return NULL;
	return procfs_syscall_names[nr];
}

/* ---- kallsyms ------------------------------------------------------------ */

static int procfs_ksym_cmp(const void *a, const void *b)
{
	const struct procfs_ksym *x = a, *y = b;

	if (x->addr != y->addr)
		return x->addr < y->addr ? -1 : 1;
	/* Aliases share an address (_stext, _text): keep a stable order so
	 * the same name wins on every run. */
	return strcmp(x->name, y->name);
}

/* A bump allocator for symbol names: blocks of ARENA_BLOCK bytes, freed
 * together. */
#define ARENA_BLOCK (256 * 1024)

struct procfs_arena {
	struct procfs_arena *next;
	size_t used;
	char data[ARENA_BLOCK];
};

static char *procfs_arena_strndup(struct procfs_arena **arena, const char *s,
				  size_t len)
{
	struct procfs_arena *a = *arena;
	if (len + 1 > ARENA_BLOCK)
		return NULL;
	if (!a || a->used + len + 1 > ARENA_BLOCK) {
		a = malloc(sizeof(*a));
		if (!a)
			return NULL;
		a->next = *arena;
		a->used = 0;
		*arena = a;
	}
	char *p = a->data + a->used;
	memcpy(p, s, len);
	p[len] = '\0';
	a->used += len + 1;
	return p;
}

void procfs_ksyms_release(struct procfs_ksyms *k)
{
	if (!k)
		return;
	while (k->arena) {
		struct procfs_arena *next = k->arena->next;
		free(k->arena);
		k->arena = next;
	}
	free(k->syms);
	k->syms = NULL;
	k->n = 0;
}

/* "ffffffff81000000 T _stext" or "ffffffffc0a01000 t fn\t[module]".
 * Consecutive symbols of one module share its name's copy. */
static int procfs_parse_ksym_line(const char *line, size_t len,
				  struct procfs_ksym *ks,
				  struct procfs_ksyms *out, bool *text_sym)
{
	const char *p = line, *e = line + len, *name, *mod;
	char *end;
	char type;

	*text_sym = false;
	ks->addr = strtoull(p, &end, 16);
	if (end == p || end >= e || *end != ' ')
		return -EINVAL;
	p = end + 1;
	if (p + 2 > e || p[1] != ' ')
		return -EINVAL;
	type = p[0];
	if (type != 't' && type != 'T' && type != 'w' && type != 'W')
		return 0;
	name = p + 2;
	for (p = name; p < e && *p != '\t' && *p != ' '; p++)
		;
	if (p == name)
		return -EINVAL;
	ks->name = procfs_arena_strndup(&out->arena, name, (size_t)(p - name));
	ks->module = NULL;
	if (!ks->name)
		return -ENOMEM;
	while (p < e && (*p == '\t' || *p == ' '))
		p++;
	if (p < e && *p == '[') {
		mod = p + 1;
		for (p = mod; p < e && *p != ']'; p++)
			;
		size_t mlen = (size_t)(p - mod);
		const char *prev = out->n ? out->syms[out->n - 1].module : NULL;
		if (prev && strlen(prev) == mlen && !memcmp(prev, mod, mlen))
			ks->module = (char *)prev;
		else
			ks->module = procfs_arena_strndup(&out->arena, mod, mlen);
		if (!ks->module)
			return -ENOMEM;
	}
	*text_sym = true;
	return 0;
}

static int procfs_ksyms_add_line(struct procfs_ksyms *out, size_t *cap,
				 const char *line, size_t len)
{
	bool is_text;
	if (len == 0)
		return 0;
	if (out->n == *cap) {
		size_t ncap = *cap ? *cap * 2 : 1024;
		struct procfs_ksym *ns = realloc(out->syms, ncap * sizeof(*ns));
		if (!ns)
			return -ENOMEM;
		out->syms = ns;
		*cap = ncap;
	}
	int r = procfs_parse_ksym_line(line, len, &out->syms[out->n], out, &is_text);
	if (r < 0)
		return r;
	if (is_text) {
		if (out->syms[out->n].addr)
			out->all_zero = false;
		out->n++;
	}
	return 0;
}

static void procfs_ksyms_finish(struct procfs_ksyms *out)
{
	if (out->n > 1)
		qsort(out->syms, out->n, sizeof(*out->syms), procfs_ksym_cmp);
	if (out->n == 0)
		out->all_zero = false;
}

int procfs_parse_kallsyms(const char *text, struct procfs_ksyms *out)
{
	const char *line = text, *nl;
	size_t cap = 0;
	int r = 0;

	memset(out, 0, sizeof(*out));
	out->all_zero = true;
	while (*line) {
		nl = strchr(line, '\n');
		size_t len = nl ? (size_t)(nl - line) : strlen(line);
		r = procfs_ksyms_add_line(out, &cap, line, len);
		if (r < 0)
			goto out_free;
		if (!nl)
			break;
		line = nl + 1;
	}
	procfs_ksyms_finish(out);
	return 0;

out_free:
	procfs_ksyms_release(out);
	return r;
}

int procfs_read_kallsyms(struct procfs_ksyms *out)
{
	char *line = NULL;
	size_t linecap = 0, cap = 0;
	ssize_t len;
	int r = 0;

	memset(out, 0, sizeof(*out));
	out->all_zero = true;
	FILE *f = fopen("/proc/kallsyms", "re");
	if (!f)
		return -errno;
	while ((len = getline(&line, &linecap, f)) > 0) {
		if (line[len - 1] == '\n')
			len--;
		r = procfs_ksyms_add_line(out, &cap, line, (size_t)len);
		if (r < 0)
			break;
	}
	if (r == 0 && ferror(f))
		r = -EIO;
	free(line);
	fclose(f);
	if (r < 0) {
		procfs_ksyms_release(out);
		return r;
	}
	procfs_ksyms_finish(out);
	return 0;
}

const struct procfs_ksym *procfs_ksyms_find(const struct procfs_ksyms *k,
					    uint64_t addr)
{
	size_t lo = 0, hi = k->n, mid;

	/* Hidden addresses (kptr_restrict) are all 0: nothing can match. */
	if (k->all_zero)
		return NULL;
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (k->syms[mid].addr <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo ? &k->syms[lo - 1] : NULL;
}

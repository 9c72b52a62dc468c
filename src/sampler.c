/*
 * sampler.c - perf event sampling of every thread of a process.
 *
 * See sampler.h and docs/design.md §1 for the scheme: one event of each kind
 * asked for per (thread x online CPU) with inherit, all events of one CPU
 * writing into the ring of the first one (PERF_EVENT_IOC_SET_OUTPUT requires
 * the same CPU and clock). Samples start with PERF_SAMPLE_IDENTIFIER, whose
 * id tells the kind and so the layout of the rest.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>

#include "procfs.h"
#include "sampler.h"
#include "errmsg.h"

/* Passes over /proc/PID/task before giving up on a process that keeps
 * spawning threads faster than we open events; inherit covers the rest. */
#define SAMPLER_SCAN_PASSES 10

struct sampler_ring {
	int cpu;
	int fd;			/* the event whose buffer is mmapped; -1 */
	void *base;
	size_t map_len;
	struct ringbuf rb;
	/* During a drain: the ring's next record, read but not taken. */
	const struct perf_event_header *next;
	uint64_t next_time;
	const struct sampler_id *next_owner;	/* a sample's event, or NULL */
	uint64_t next_type;			/* its sample_type */
};

/*
 * A thread can be covered twice: opened directly in a later pass over
 * /proc/PID/task although it had already inherited its creator's events, or
 * created by such a thread (it then inherits both). Each sample carries the
 * id of the event that was opened directly (an inherited event reports its
 * parent's, kernel/events/core.c primary_event_id), so the thread that event
 * was opened on names the "stream"; we keep one stream per thread and drop
 * the others. An inherited stream is preferred: it has run since the thread
 * was created, a direct one only since we opened it.
 */
struct sampler_thread {
	pid_t tid;
	bool direct;		/* we opened events on it */
	bool covered;		/* a FORK record showed it inherited events */
	pid_t stream;		/* owner of the stream we keep; 0 none yet */
};

struct sampler_id {
	uint64_t id;
	pid_t tid;
	enum sampler_kind kind;
	unsigned sub;		/* UPROBE: the function's index */
};

struct sampler {
	struct sampler_opts opts;
	struct perf_event_attr attr[SAMPLER_NKINDS];
	unsigned kinds;			/* SAMPLER_KIND() bits */
	enum sampler_kind primary;	/* the kind whose events write the
					 * COMM, FORK, EXIT, MMAP2 records */
	uint32_t wakee_offset;		/* of sched_waking's pid field */
	char *uprobe_path;		/* our copy of opts.uprobe.path */
	const char *tracefs_root;	/* UPROBE: where its probes are */
	char uprobe_group[48];		/* ... defined in this group */
	bool uprobe_defined;		/* (to be removed) */
	uint64_t uprobe_tp[SAMPLER_UPROBE_MAX];	/* tracepoint id of each */
	struct perf_event_attr light_attr;	/* UPROBE's attr for the light
						 * probes (opts.uprobe.light) */
	size_t data_size;	/* bytes of ring data per CPU */

	struct sampler_ring *rings;	/* one per online CPU */
	size_t ncpus;

	int *fds;		/* every event */
	unsigned char *fd_kind;	/* parallel to fds: its sampler_kind */
	unsigned char *fd_sub;	/* parallel to fds: UPROBE's function */
	struct pollfd *pfds;	/* parallel to fds; fd -1 once hung up */
	size_t nfds, capfds;
	size_t nhup;

	struct sampler_thread *threads;	/* sorted by tid */
	size_t nthreads, capthreads;

	struct sampler_id *ids;	/* id of every event -> its thread, sorted */
	size_t nids, capids;

	bool enabled;
	bool flush_all;		/* disabled after sampling: no record may
				 * follow, hand on every one */
	bool gone;
	uint64_t gone_checked;	/* when sampler_target_gone last ran */
	uint64_t held;		/* the oldest record the last drain left in a
				 * ring for being too young; 0: none */
	struct sampler_stats stats;
};

/* perf's names of the events, for messages. */
static const char *const sampler_kind_event[SAMPLER_NKINDS] = {
	[SAMPLER_CPU] = "cpu-clock",
	[SAMPLER_SWITCH] = "context-switches",
	[SAMPLER_WAKING] = "sched:sched_waking",
	[SAMPLER_UPROBE] = "uprobe",
};

static long sampler_perf_event_open(struct perf_event_attr *attr, pid_t pid,
				    int cpu, int group_fd, unsigned long flags)
{
	return syscall(SYS_perf_event_open, attr, pid, cpu, group_fd, flags);
}

/* "0-3,5,7-8" (Documentation/ABI/stable/sysfs-devices-system-cpu). */
static int sampler_online_cpus(int **cpus, size_t *n)
{
	char *text, *p, *end;
	int *v = NULL, *nv;
	size_t cnt = 0, cap = 0;
	long a, b, c;
	int r;

	r = procfs_read_file("/sys/devices/system/cpu/online", &text, NULL);
	if (r < 0)
		return r;
	p = text;
	while (*p && *p != '\n') {
		a = strtol(p, &end, 10);
		if (end == p || a < 0)
			goto bad;
		b = a;
		p = end;
		if (*p == '-') {
			p++;
			b = strtol(p, &end, 10);
			if (end == p || b < a)
				goto bad;
			p = end;
		}
		for (c = a; c <= b; c++) {
			if (cnt == cap) {
				cap = cap ? cap * 2 : 8;
				nv = realloc(v, cap * sizeof(*v));
				if (!nv) {
					free(v);
					free(text);
					return -ENOMEM;
				}
				v = nv;
			}
			v[cnt++] = (int)c;
		}
		if (*p == ',')
			p++;
	}
	free(text);
	if (cnt == 0) {
		free(v);
		return -EINVAL;
	}
	*cpus = v;
	*n = cnt;
	return 0;
bad:
	free(v);
	free(text);
	return -EINVAL;
}

static struct sampler_thread *sampler_find_thread(const struct sampler *s,
						  pid_t tid, size_t *pos)
{
	size_t lo = 0, hi = s->nthreads, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (s->threads[mid].tid == tid)
			return &s->threads[mid];
		if (s->threads[mid].tid < tid)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (pos)
		*pos = lo;
	return NULL;
}

/* The thread's entry, added if new; NULL when out of memory. */
static struct sampler_thread *sampler_get_thread(struct sampler *s, pid_t tid)
{
	struct sampler_thread *t;
	size_t pos;

	t = sampler_find_thread(s, tid, &pos);
	if (t)
		return t;
	if (s->nthreads == s->capthreads) {
		size_t cap = s->capthreads ? s->capthreads * 2 : 16;

		t = realloc(s->threads, cap * sizeof(*t));
		if (!t)
			return NULL;
		s->threads = t;
		s->capthreads = cap;
	}
	memmove(&s->threads[pos + 1], &s->threads[pos],
		(s->nthreads - pos) * sizeof(*t));
	s->nthreads++;
	t = &s->threads[pos];
	memset(t, 0, sizeof(*t));
	t->tid = tid;
	return t;
}

static int sampler_add_id(struct sampler *s, uint64_t id, pid_t tid,
			  enum sampler_kind kind, unsigned sub)
{
	size_t i;

	if (s->nids == s->capids) {
		size_t cap = s->capids ? s->capids * 2 : 16;
		struct sampler_id *n = realloc(s->ids, cap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		s->ids = n;
		s->capids = cap;
	}
	for (i = s->nids; i > 0 && s->ids[i - 1].id > id; i--)
		s->ids[i] = s->ids[i - 1];
	s->ids[i].id = id;
	s->ids[i].tid = tid;
	s->ids[i].kind = kind;
	s->ids[i].sub = sub;
	s->nids++;
	return 0;
}

static const struct sampler_id *sampler_find_id(const struct sampler *s,
						uint64_t id)
{
	size_t lo = 0, hi = s->nids, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (s->ids[mid].id == id)
			return &s->ids[mid];
		if (s->ids[mid].id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

static int sampler_add_fd(struct sampler *s, int fd, enum sampler_kind kind,
			  unsigned sub)
{
	if (s->nfds == s->capfds) {
		size_t cap = s->capfds ? s->capfds * 2 : 16;
		int *nf = realloc(s->fds, cap * sizeof(*nf));

		if (!nf)
			return -ENOMEM;
		s->fds = nf;
		unsigned char *nk = realloc(s->fd_kind, cap * sizeof(*nk));
		if (!nk)
			return -ENOMEM;
		s->fd_kind = nk;
		nk = realloc(s->fd_sub, cap * sizeof(*nk));
		if (!nk)
			return -ENOMEM;
		s->fd_sub = nk;
		struct pollfd *np = realloc(s->pfds, cap * sizeof(*np));
		if (!np)
			return -ENOMEM;
		s->pfds = np;
		s->capfds = cap;
	}
	s->fds[s->nfds] = fd;
	s->fd_kind[s->nfds] = (unsigned char)kind;
	s->fd_sub[s->nfds] = (unsigned char)sub;
	s->pfds[s->nfds].fd = fd;
	s->pfds[s->nfds].events = POLLIN;
	s->pfds[s->nfds].revents = 0;
	s->nfds++;
	return 0;
}

/* The smallest ring the EPERM fallback may shrink to: 64 KiB, and room for
 * four of the largest samples (stack copy plus registers and a kernel
 * callchain of up to 512 entries, 4 KiB). */
static size_t sampler_min_ring(const struct sampler *s)
{
	size_t want = 64 << 10, min = 64 << 10;

	if (s->opts.callgraph == SAMPLER_CG_DWARF ||
	    (s->kinds & SAMPLER_KIND(SAMPLER_UPROBE)))
		want = 4 * ((size_t)s->opts.stack_size + 4096 + 256);
	while (min < want)
		min <<= 1;
	return min;
}

static int sampler_map_ring(struct sampler *s, struct sampler_ring *ring,
			    int fd, char *err, size_t errlen)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	size_t len;
	void *base;

	/* perf_event_open(2): the mapping is 1 + 2^n pages, the first being
	 * the control page; PROT_WRITE lets us move data_tail, so the kernel
	 * does not overwrite unread records (it counts them as LOST). */
	for (;;) {
		len = page + s->data_size;
		base = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		/* EPERM: beyond the unprivileged budget (perf_event_mlock_kb
		 * per CPU, then RLIMIT_MEMLOCK, shared by all of the user's
		 * perf buffers). A smaller ring beats no ring, as long as it
		 * still holds the largest record (a record larger than the
		 * ring is dropped silently, docs/design.md §1). */
		if (base != MAP_FAILED || errno != EPERM ||
		    s->data_size / 2 < sampler_min_ring(s))
			break;
		s->data_size /= 2;
	}
	if (base == MAP_FAILED) {
		int e = -errno;

		errmsg_set(err, errlen,
			       "mmap of the %zu KiB perf ring for cpu %d: %s",
			       len / 1024, ring->cpu, strerror(-e));
		return e;
	}
	ring->fd = fd;
	ring->base = base;
	ring->map_len = len;
	ringbuf_init(&ring->rb, base, (uint8_t *)base + page, s->data_size);
	return 0;
}

/* Opens one event of each kind per CPU on tid. Returns 0, -ESRCH if the
 * thread is gone (nothing left open for it), or another -errno. */
static int sampler_open_thread(struct sampler *s, pid_t tid, char *err,
			       size_t errlen)
{
	size_t first = s->nfds, first_id = s->nids, i;
	struct sampler_thread *t;
	uint64_t id;
	int r;

	/* e: kind x function (SAMPLER_UPROBE_MAX of them, one for the
	 * kinds other than UPROBE) x CPU. */
	for (size_t e = 0; e < (size_t)SAMPLER_NKINDS * SAMPLER_UPROBE_MAX * s->ncpus; e++) {
		enum sampler_kind kind = (enum sampler_kind)(e / s->ncpus / SAMPLER_UPROBE_MAX);
		unsigned sub = (unsigned)(e / s->ncpus % SAMPLER_UPROBE_MAX);
		struct perf_event_attr *attr = &s->attr[kind];
		struct sampler_ring *ring = &s->rings[e % s->ncpus];
		long fd;

		if (!(s->kinds & SAMPLER_KIND(kind)))
			continue;
		if (kind == SAMPLER_UPROBE ? !s->opts.uprobe.offset[sub] : sub != 0)
			continue;
		if (kind == SAMPLER_UPROBE) {
			if (s->opts.uprobe.light[sub])
				attr = &s->light_attr;
			attr->config = s->uprobe_tp[sub];
			/* 0: a counting event (read() alone). */
			attr->sample_period = s->opts.uprobe.count_only[sub] ? 0 :
					      s->opts.uprobe.light[sub] ? 1 :
					      s->opts.uprobe.period ? s->opts.uprobe.period : 1;
		}
		attr->disabled = !s->enabled;
		fd = sampler_perf_event_open(attr, tid, ring->cpu, -1,
					     PERF_FLAG_FD_CLOEXEC);
		if (fd < 0 && errno == EINVAL && attr->inherit_thread) {
			/* inherit_thread is 5.13+; older kernels reject the
			 * unknown bit: follow forked children too, then. */
			for (size_t k = 0; k < SAMPLER_NKINDS; k++)
				s->attr[k].inherit_thread = 0;
			fd = sampler_perf_event_open(attr, tid, ring->cpu,
						     -1, PERF_FLAG_FD_CLOEXEC);
		}
		if (fd < 0) {
			r = -errno;
			if (r == -EMFILE || r == -ENFILE) {
				struct rlimit rl = { 0, 0 };

				getrlimit(RLIMIT_NOFILE, &rl);
				errmsg_set(err, errlen,
					       "perf_event_open(%s, tid %d, cpu %d): %s "
					       "(%zu threads x %zu CPUs x %u events need one fd each; "
					       "RLIMIT_NOFILE is %llu)",
					       sampler_kind_event[kind], (int)tid,
					       ring->cpu, strerror(-r),
					       s->stats.threads + 1, s->ncpus,
					       (unsigned)__builtin_popcount(s->kinds),
					       (unsigned long long)rl.rlim_cur);
			} else {
				errmsg_set(err, errlen,
					       "perf_event_open(%s, tid %d, cpu %d): %s",
					       sampler_kind_event[kind], (int)tid,
					       ring->cpu, strerror(-r));
			}
			goto out_close;
		}
		r = sampler_add_fd(s, (int)fd, kind, sub);
		if (r < 0) {
			close((int)fd);
			errmsg_set(err, errlen, "out of memory");
			goto out_close;
		}
		if (ioctl((int)fd, PERF_EVENT_IOC_ID, &id) < 0) {
			r = -errno;
			errmsg_set(err, errlen, "ioctl(PERF_EVENT_IOC_ID): %s",
				       strerror(-r));
			goto out_close;
		}
		r = sampler_add_id(s, id, tid, kind, sub);
		if (r < 0) {
			errmsg_set(err, errlen, "out of memory");
			goto out_close;
		}
		if (ring->fd < 0)
			r = sampler_map_ring(s, ring, (int)fd, err, errlen);
		else if (ioctl((int)fd, PERF_EVENT_IOC_SET_OUTPUT, ring->fd) < 0) {
			r = -errno;
			errmsg_set(err, errlen,
				       "ioctl(PERF_EVENT_IOC_SET_OUTPUT) on cpu %d: %s",
				       ring->cpu, strerror(-r));
		}
		if (r < 0)
			goto out_close;
	}
	t = sampler_get_thread(s, tid);
	if (!t) {
		r = -ENOMEM;
		errmsg_set(err, errlen, "out of memory");
		goto out_close;
	}
	t->direct = true;
	s->stats.threads++;
	return 0;

out_close:
	/* Undo this thread's events; a ring owned by one of them goes too. */
	for (i = 0; i < s->ncpus; i++) {
		struct sampler_ring *ring = &s->rings[i];
		size_t j;

		for (j = first; j < s->nfds; j++) {
			if (s->fds[j] == ring->fd) {
				munmap(ring->base, ring->map_len);
				ringbuf_release(&ring->rb);
				ring->fd = -1;
				ring->base = NULL;
			}
		}
	}
	while (s->nfds > first)
		close(s->fds[--s->nfds]);
	/* Ids are kept sorted, not in opening order: drop this thread's. */
	if (s->nids > first_id) {
		size_t j, k = 0;

		for (j = 0; j < s->nids; j++)
			if (s->ids[j].tid != tid)
				s->ids[k++] = s->ids[j];
		s->nids = k;
	}
	return r;
}

/* One pass over /proc/PID/task of one process. Returns the number of
 * threads added, or -errno. *seen is set when any thread of the listing
 * could be opened or was already known. */
static int sampler_scan_pid(struct sampler *s, pid_t pid, bool *seen,
			    char *err, size_t errlen)
{
	pid_t *tids;
	size_t n, i;
	int r, added = 0;

	r = procfs_list_tasks(pid, &tids, &n);
	if (r < 0) {
		if (r == -ENOENT)
			r = -ESRCH;
		errmsg_set(err, errlen, "reading /proc/%d/task: %s",
			       (int)pid, strerror(-r));
		return r;
	}
	for (i = 0; i < n; i++) {
		const struct sampler_thread *t = sampler_find_thread(s, tids[i], NULL);

		if (t && (t->direct || t->covered || t->stream)) {
			*seen = true;
			continue;
		}
		r = sampler_open_thread(s, tids[i], err, errlen);
		if (r == -ESRCH)	/* exited since the listing */
			continue;
		if (r < 0) {
			free(tids);
			return r;
		}
		*seen = true;
		added++;
	}
	free(tids);
	return added;
}

/* One pass over the target's threads, and with opts.children (but not
 * for a command, which has none yet) over those of its descendants:
 * inherit covers the processes they fork from now on, not those that
 * exist (docs/design.md §1.1). A descendant that exits meanwhile, or that
 * we may not sample (another user's), is left out. Returns the number of
 * threads added, or -errno; *seen as sampler_scan_pid for the target. */
static int sampler_scan(struct sampler *s, bool *seen, char *err, size_t errlen)
{
	pid_t *kids = NULL;
	size_t n = 0;
	int r, k;

	r = sampler_scan_pid(s, s->opts.pid, seen, err, errlen);
	if (r < 0 || !s->opts.children || s->opts.enable_on_exec)
		return r;
	k = procfs_list_descendants(s->opts.pid, &kids, &n);
	if (k < 0) {
		errmsg_set(err, errlen, "listing the descendants of pid %d: %s",
			   (int)s->opts.pid, strerror(-k));
		return k;
	}
	for (size_t i = 0; i < n; i++) {
		bool kseen = false;

		k = sampler_scan_pid(s, kids[i], &kseen, NULL, 0);
		if (k == -ESRCH || k == -EACCES || k == -EPERM)
			continue;
		if (k < 0) {
			errmsg_set(err, errlen, "opening events on pid %d, a "
				   "descendant of pid %d: %s", (int)kids[i],
				   (int)s->opts.pid, strerror(-k));
			free(kids);
			return k;
		}
		r += k;
	}
	free(kids);
	return r;
}

static int sampler_scan_until_stable(struct sampler *s, char *err, size_t errlen)
{
	bool seen = false;
	int pass, r, total = 0;

	for (pass = 0; pass < SAMPLER_SCAN_PASSES; pass++) {
		r = sampler_scan(s, &seen, err, errlen);
		if (r < 0)
			return r;
		total += r;
		if (r == 0)
			break;
	}
	if (!seen) {
		errmsg_set(err, errlen, "no thread of pid %d could be opened: "
			       "the process exited", (int)s->opts.pid);
		return -ESRCH;
	}
	return total;
}

static bool sampler_pow2(size_t v)
{
	return v && !(v & (v - 1));
}

/* The id of a tracepoint and the offset of one of its fields, from
 * tracefs (mounted at /sys/kernel/tracing, or under debugfs). Returns 0 or
 * -errno with the reason in err. */
static int sampler_tracepoint(const char *name, const char *field,
			      uint64_t *id, uint32_t *offset, char *err,
			      size_t errlen)
{
	static const char *const roots[] = {
		"/sys/kernel/tracing/events", "/sys/kernel/debug/tracing/events",
	};
	char path[256], want[64], *text = NULL;
	size_t len;
	long v = -1;
	int r = -ENOENT;

	for (size_t i = 0; i < sizeof(roots) / sizeof(roots[0]) && r < 0; i++) {
		snprintf(path, sizeof(path), "%s/%s/id", roots[i], name);
		r = procfs_read_long(path, &v);
		if (r == 0) {
			snprintf(path, sizeof(path), "%s/%s/format", roots[i], name);
			r = procfs_read_file(path, &text, &len);
		}
	}
	if (r < 0) {
		errmsg_set(err, errlen, "cannot read the tracepoint %s from "
			   "/sys/kernel/tracing: %s (tracefs must be mounted and "
			   "readable)", name, strerror(-r));
		return r;
	}
	/* "\tfield:pid_t pid;\toffset:24;\tsize:4;\tsigned:1;" */
	snprintf(want, sizeof(want), " %s;\toffset:", field);
	const char *at = strstr(text, want);
	unsigned long off = 0;
	if (at)
		off = strtoul(at + strlen(want), NULL, 10);
	free(text);
	if (!at || v < 0 || off > 4096) {
		errmsg_set(err, errlen, "the tracepoint %s has no field %s",
			   name, field);
		return -EINVAL;
	}
	*id = (uint64_t)v;
	*offset = (uint32_t)off;
	return 0;
}

bool sampler_waking_readable(void)
{
	return access("/sys/kernel/tracing/events/sched/sched_waking/format", R_OK) == 0 ||
	       access("/sys/kernel/debug/tracing/events/sched/sched_waking/format", R_OK) == 0;
}

/* Uprobes are defined in tracefs and opened as tracepoints
 * (docs/design.md §12.4): the uprobe PMU (perf_uprobe, config1 = path)
 * cannot be inherited, since the kernel initializes a thread's inherited
 * copy of the event again in the context of the thread that clones, which
 * reads the path from that process's memory and needs CAP_SYS_ADMIN
 * there, so that the target's pthread_create fails. A tracepoint's copy
 * is found by its id. Each sampler defines its probes in a group of its
 * own, "cprof_PID_N" (PID: cprof's), removed by sampler_free; a group left
 * by a cprof that was killed is removed by the next one. */
static const char *sampler_tracefs_root(void)
{
	static const char *const roots[] = {
		"/sys/kernel/tracing", "/sys/kernel/debug/tracing",
	};
	char path[96];

	for (size_t i = 0; i < sizeof(roots) / sizeof(roots[0]); i++) {
		snprintf(path, sizeof(path), "%s/uprobe_events", roots[i]);
		if (access(path, W_OK) == 0)
			return roots[i];
	}
	return NULL;
}

/* Appends one line to ROOT/uprobe_events. Returns 0 or -errno. */
static int sampler_uprobe_write(const char *root, const char *line)
{
	char path[96];
	size_t len = strlen(line);
	ssize_t w;
	int fd, r = 0;

	snprintf(path, sizeof(path), "%s/uprobe_events", root);
	fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	w = write(fd, line, len);
	if (w != (ssize_t)len)
		r = w < 0 ? -errno : -EIO;
	close(fd);
	return r;
}

/* Removes every probe of group (its events must be closed). */
static void sampler_uprobe_remove_group(const char *root, const char *group)
{
	char path[PATH_MAX], line[600];
	struct dirent *de;
	DIR *d;

	snprintf(path, sizeof(path), "%s/events/%s", root, group);
	d = opendir(path);
	if (!d)
		return;
	while ((de = readdir(d)) != NULL) {
		if (de->d_type != DT_DIR || de->d_name[0] == '.')
			continue;
		snprintf(line, sizeof(line), "-:%s/%s\n", group, de->d_name);
		sampler_uprobe_write(root, line);
	}
	closedir(d);
}

/* Groups of cprofs that are gone. */
static void sampler_uprobe_remove_stale(const char *root)
{
	char path[PATH_MAX];
	struct dirent *de;
	DIR *d;

	snprintf(path, sizeof(path), "%s/events", root);
	d = opendir(path);
	if (!d)
		return;
	while ((de = readdir(d)) != NULL) {
		long pid;
		char *end;

		if (strncmp(de->d_name, "cprof_", 6) != 0)
			continue;
		pid = strtol(de->d_name + 6, &end, 10);
		if (end == de->d_name + 6 || *end != '_' || pid <= 0)
			continue;
		if (kill((pid_t)pid, 0) == 0 || errno != ESRCH)
			continue;
		sampler_uprobe_remove_group(root, de->d_name);
	}
	closedir(d);
}

/* Defines one probe per function of s->opts.uprobe and notes their
 * tracepoint ids; attr is a tracepoint with config set per function at
 * open. */
static int sampler_uprobe_attr(struct sampler *s, struct perf_event_attr *a,
			       char *err, size_t errlen)
{
	static unsigned seq;
	const struct sampler_uprobe *u = &s->opts.uprobe;
	const char *root = sampler_tracefs_root();
	char line[PATH_MAX + 128], path[PATH_MAX];
	long id;
	int r;

	if (!root) {
		errmsg_set(err, errlen, "cannot write uprobe_events in "
			   "/sys/kernel/tracing (tracefs must be mounted; "
			   "root, and a kernel with CONFIG_UPROBE_EVENTS)");
		return -EACCES;
	}
	if (strpbrk(u->path, " \t\n:") || u->path[0] != '/') {
		errmsg_set(err, errlen, "uprobe: cannot name %s in "
			   "uprobe_events (a space or a colon in the path)",
			   u->path);
		return -EINVAL;
	}
	sampler_uprobe_remove_stale(root);
	s->tracefs_root = root;
	snprintf(s->uprobe_group, sizeof(s->uprobe_group), "cprof_%d_%u",
		 (int)getpid(), __atomic_fetch_add(&seq, 1, __ATOMIC_RELAXED));
	for (unsigned i = 0; i < SAMPLER_UPROBE_MAX; i++) {
		if (!u->offset[i])
			continue;
		snprintf(line, sizeof(line), "%c:%s/f%u %s:0x%llx\n",
			 u->retprobe[i] ? 'r' : 'p', s->uprobe_group, i, u->path,
			 (unsigned long long)u->offset[i]);
		r = sampler_uprobe_write(root, line);
		if (r < 0) {
			errmsg_set(err, errlen, "defining a uprobe on %s at "
				   "0x%llx in %s/uprobe_events: %s", u->path,
				   (unsigned long long)u->offset[i], root,
				   strerror(-r));
			return r;
		}
		s->uprobe_defined = true;
		snprintf(path, sizeof(path), "%s/events/%s/f%u/id", root,
			 s->uprobe_group, i);
		r = procfs_read_long(path, &id);
		if (r < 0 || id < 0) {
			errmsg_set(err, errlen, "reading %s: %s", path,
				   strerror(r < 0 ? -r : EINVAL));
			return r < 0 ? r : -EINVAL;
		}
		s->uprobe_tp[i] = (uint64_t)id;
	}
	a->type = PERF_TYPE_TRACEPOINT;
	a->sample_period = u->period ? u->period : 1;
	return 0;
}

/* Fills s->attr[kind]. Every kind's samples start with the same fields
 * (IDENTIFIER, IP, TID, TIME), and every record's sample_id trailer is the
 * same (sample_id_all with TID TIME IDENTIFIER): a record's time is read
 * before its kind is known. */
static int sampler_set_attr(struct sampler *s, enum sampler_kind kind,
			    char *err, size_t errlen)
{
	const struct sampler_opts *opts = &s->opts;
	struct perf_event_attr *a = &s->attr[kind];
	int r;

	a->size = sizeof(*a);
	a->sample_type = PERF_SAMPLE_IDENTIFIER | PERF_SAMPLE_IP |
			 PERF_SAMPLE_TID | PERF_SAMPLE_TIME;
	switch (kind) {
	case SAMPLER_CPU:
		a->type = PERF_TYPE_SOFTWARE;
		a->config = PERF_COUNT_SW_CPU_CLOCK;
		/* For hrtimer events the kernel turns a frequency into this
		 * fixed period anyway (docs/design.md §1); a period keeps
		 * period = ns exact. */
		a->sample_period = 1000000000ULL / opts->freq;
		if (!a->sample_period)
			a->sample_period = 1;
		a->exclude_kernel = !opts->kernel;
		break;
	case SAMPLER_SWITCH:
		a->type = PERF_TYPE_SOFTWARE;
		a->config = PERF_COUNT_SW_CONTEXT_SWITCHES;
		a->sample_period = opts->switch_period ? opts->switch_period : 1;
		/* The sample is taken in the scheduler, with kernel
		 * registers: exclude_kernel would drop every one of them
		 * (docs/design.md §7). The kernel callchain names the
		 * blocking system call. */
		a->exclude_kernel = 0;
		a->context_switch = 1;
		break;
	case SAMPLER_WAKING:
	{
		uint64_t tp;

		r = sampler_tracepoint("sched/sched_waking", "pid", &tp,
				       &s->wakee_offset, err, errlen);
		if (r < 0)
			return r;
		a->config = tp;
	}
		a->type = PERF_TYPE_TRACEPOINT;
		a->sample_period = 1;
		a->sample_type |= PERF_SAMPLE_RAW;
		a->exclude_kernel = 0;
		break;
	case SAMPLER_UPROBE:
		r = sampler_uprobe_attr(s, a, err, errlen);
		if (r < 0)
			return r;
		break;
	default:
		return -EINVAL;
	}
	/* Not for switches: with PERF_SAMPLE_PERIOD a software event
	 * samples every occurrence whatever its period (the kernel's
	 * perf_swevent_event reports each with period nr), and a period
	 * is how they are thinned (docs/design.md §8). */
	if (kind == SAMPLER_CPU)
		a->sample_type |= PERF_SAMPLE_PERIOD;
	if (kind == SAMPLER_UPROBE) {
		/* The caller's registers and stack at the function's entry,
		 * whatever the CPU kind's call graph: heapuprobe.c unwinds
		 * them (docs/design.md §12.4). */
		a->sample_type |= PERF_SAMPLE_REGS_USER | PERF_SAMPLE_STACK_USER;
		a->sample_regs_user = RINGBUF_REGS_MASK;
		a->sample_stack_user = opts->stack_size;
	} else if (kind != SAMPLER_WAKING) {
		a->sample_type |= PERF_SAMPLE_CALLCHAIN;
		if (opts->callgraph == SAMPLER_CG_DWARF) {
			a->sample_type |= PERF_SAMPLE_REGS_USER |
					  PERF_SAMPLE_STACK_USER;
			a->sample_regs_user = RINGBUF_REGS_MASK;
			a->sample_stack_user = opts->stack_size;
			/* We unwind the user part from the stack copy; the
			 * kernel callchain keeps only kernel frames. */
			a->exclude_callchain_user = 1;
		}
	}
	a->disabled = 1;
	a->inherit = 1;
	/* Without inherit_thread the events follow fork() too, as `perf
	 * record -- CMD` does (docs/design.md §1.1). */
	a->inherit_thread = !opts->children;
	a->enable_on_exec = opts->enable_on_exec;
	a->exclude_hv = 1;
	a->sample_id_all = 1;
	if (kind == s->primary) {
		a->comm = 1;
		/* FORK records name the threads that inherited events, so
		 * that sampler_rescan() leaves them alone; EXIT records end
		 * a thread's stream (its tid may be reused). */
		a->task = 1;
		if (opts->children) {
			/* MMAP2 records of every mapping (mmap_data: the
			 * first, read-only mapping of an ELF file tells
			 * libdwfl where it was loaded), so that a process's
			 * modules are known after it is gone (docs/design.md
			 * §1.1). */
			a->mmap = 1;
			a->mmap2 = 1;
			a->mmap_data = 1;
			a->comm_exec = 1;
		}
	}
	/* Sample times on CLOCK_MONOTONIC, comparable with clock_gettime(). */
	a->use_clockid = 1;
	a->clockid = CLOCK_MONOTONIC;
	/* Wake poll() when a quarter of the ring is filled; the caller's
	 * poll timeout bounds the latency at low rates. */
	a->watermark = 1;
	a->wakeup_watermark = (uint32_t)(s->data_size / 4);
	if (kind == SAMPLER_UPROBE) {
		/* A probe hit at every call (a free, a return) writes what
		 * pairs it and no more: the same sample_id trailer (TID
		 * TIME IDENTIFIER), five registers, no IP, no stack; and no
		 * task records (the probes sampled 1 in N write them). */
		s->light_attr = *a;
		s->light_attr.sample_type = PERF_SAMPLE_IDENTIFIER |
					    PERF_SAMPLE_TID | PERF_SAMPLE_TIME |
					    PERF_SAMPLE_REGS_USER;
		s->light_attr.sample_regs_user = SAMPLER_LIGHT_REGS_MASK;
		s->light_attr.sample_stack_user = 0;
		s->light_attr.comm = 0;
		s->light_attr.task = 0;
	}
	return 0;
}

int sampler_open(const struct sampler_opts *opts, struct sampler **out,
		 char *err, size_t errlen)
{
	struct sampler *s;
	size_t page = (size_t)sysconf(_SC_PAGESIZE), pages, i;
	int *cpus = NULL;
	long max_rate;
	int r;

	*out = NULL;
	bool cpu = !opts->kinds || (opts->kinds & SAMPLER_KIND(SAMPLER_CPU));
	bool uprobe = opts->kinds & SAMPLER_KIND(SAMPLER_UPROBE);

	if (opts->pid <= 0 || (cpu && opts->freq == 0)) {
		errmsg_set(err, errlen, "invalid pid %d or frequency %u",
			       (int)opts->pid, opts->freq);
		return -EINVAL;
	}
	/* With sample_period the kernel does not check the rate, but it
	 * refuses sample_freq above this limit; keep the same rule. */
	if (procfs_read_long("/proc/sys/kernel/perf_event_max_sample_rate",
			     &max_rate) == 0 && max_rate > 0 &&
	    opts->freq > (unsigned long)max_rate) {
		errmsg_set(err, errlen,
			       "frequency %u Hz is above perf_event_max_sample_rate (%ld)",
			       opts->freq, max_rate);
		return -EINVAL;
	}
	if (uprobe) {
		size_t k;

		for (k = 0; k < SAMPLER_UPROBE_MAX && !opts->uprobe.offset[k]; k++)
			;
		if (!opts->uprobe.path || k == SAMPLER_UPROBE_MAX) {
			errmsg_set(err, errlen, "uprobe: no file or no function "
				   "to probe");
			return -EINVAL;
		}
	}
	if ((opts->callgraph == SAMPLER_CG_DWARF || uprobe) &&
	    (opts->stack_size == 0 || opts->stack_size % 8 ||
	     opts->stack_size >= 65536)) {
		errmsg_set(err, errlen, "stack size %u: must be a multiple of 8 "
			       "between 8 and 65528", opts->stack_size);
		return -EINVAL;
	}
	if (opts->kinds & ~(SAMPLER_KIND(SAMPLER_NKINDS) - 1)) {
		errmsg_set(err, errlen, "unknown event kinds %#x", opts->kinds);
		return -EINVAL;
	}
	if (opts->ring_pages && !sampler_pow2(opts->ring_pages)) {
		errmsg_set(err, errlen, "ring size of %zu pages is not a power of two",
			       opts->ring_pages);
		return -EINVAL;
	}

	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->opts = *opts;
	if (uprobe) {
		s->uprobe_path = strdup(opts->uprobe.path);
		if (!s->uprobe_path) {
			free(s);
			return -ENOMEM;
		}
		s->opts.uprobe.path = s->uprobe_path;
	}

	pages = opts->ring_pages;
	if (!pages) {
		/* A record larger than the ring is dropped without a LOST
		 * record (docs/design.md §1): 512 KiB holds dozens of 64 KiB stack
		 * copies and fits the default perf_event_mlock_kb (516) per
		 * CPU for unprivileged users. */
		size_t want = opts->callgraph == SAMPLER_CG_DWARF || uprobe ?
			      512 << 10 : 64 << 10;

		for (pages = 1; pages * page < want; pages <<= 1)
			;
	}
	s->data_size = pages * page;

	r = sampler_online_cpus(&cpus, &s->ncpus);
	if (r < 0) {
		errmsg_set(err, errlen, "reading /sys/devices/system/cpu/online: %s",
			       strerror(-r));
		goto out_free;
	}
	s->rings = calloc(s->ncpus, sizeof(*s->rings));
	if (!s->rings) {
		r = -ENOMEM;
		free(cpus);
		goto out_free;
	}
	for (i = 0; i < s->ncpus; i++) {
		s->rings[i].cpu = cpus[i];
		s->rings[i].fd = -1;
	}
	free(cpus);
	s->stats.cpus = s->ncpus;

	s->kinds = opts->kinds ? opts->kinds : SAMPLER_KIND(SAMPLER_CPU);
	s->primary = (enum sampler_kind)__builtin_ctz(s->kinds);
	for (i = 0; i < SAMPLER_NKINDS; i++) {
		if (!(s->kinds & SAMPLER_KIND(i)))
			continue;
		r = sampler_set_attr(s, (enum sampler_kind)i, err, errlen);
		if (r < 0)
			goto out_free;
	}

	r = sampler_scan_until_stable(s, err, errlen);
	if (r < 0)
		goto out_free;
	*out = s;
	return 0;

out_free:
	sampler_free(s);
	return r;
}

static int sampler_ioctl_all(struct sampler *s, unsigned long req)
{
	size_t i;

	for (i = 0; i < s->nfds; i++) {
		/* Also reaches the events the kernel inherited into threads
		 * created since (perf_event_for_each_child). */
		if (ioctl(s->fds[i], req, 0) < 0)
			return -errno;
	}
	return 0;
}

int sampler_enable(struct sampler *s)
{
	int r = sampler_ioctl_all(s, PERF_EVENT_IOC_ENABLE);

	if (r == 0) {
		s->enabled = true;
		s->flush_all = false;
	}
	return r;
}

int sampler_disable(struct sampler *s)
{
	int r = sampler_ioctl_all(s, PERF_EVENT_IOC_DISABLE);

	if (r == 0)
		s->enabled = false;
	/* Even if an ioctl failed (a thread gone), nothing is held back
	 * from now on: this is the end of the recording. */
	s->flush_all = true;
	return r;
}

/* See struct sampler_thread: false for a second stream of one thread (a
 * sample or a SWITCH record of thread tid, written by event id). */
static bool sampler_keep(struct sampler *s, pid_t tid, uint64_t id)
{
	const struct sampler_id *sid = sampler_find_id(s, id);
	pid_t owner = sid ? sid->tid : 0;
	struct sampler_thread *t;

	if (owner == 0)
		return true;
	t = sampler_get_thread(s, tid);
	if (!t)
		return true;
	if (t->stream == 0 || t->stream == owner) {
		t->stream = owner;
		return true;
	}
	if (t->stream == tid && owner != tid) {
		t->stream = owner;
		return true;
	}
	return false;
}

/* PERF_RECORD_FORK / EXIT: { u32 pid, ppid, tid, ptid; u64 time; } */
static void sampler_task_record(struct sampler *s, const struct perf_event_header *hdr)
{
	struct sampler_thread *t;
	uint32_t f[4];

	if (hdr->size < sizeof(*hdr) + sizeof(f))
		return;
	memcpy(f, hdr + 1, sizeof(f));
	if ((pid_t)f[0] != s->opts.pid && !s->opts.children)
		return;		/* a child process (inherit_thread missing) */
	if (hdr->type == PERF_RECORD_FORK) {
		t = sampler_get_thread(s, (pid_t)f[2]);
		if (t)
			t->covered = true;
	} else {
		/* Its fds are dead; a thread reusing the tid starts afresh.
		 * The entry goes: with children, tasks come and go by the
		 * thousand. */
		t = sampler_find_thread(s, (pid_t)f[2], NULL);
		if (t) {
			size_t pos = (size_t)(t - s->threads);

			memmove(t, t + 1, (s->nthreads - pos - 1) * sizeof(*t));
			s->nthreads--;
		}
	}
}

/* The sample_type a record was written with: a sample's event's (found by
 * its identifier), the primary kind's for other records (every kind shares
 * their sample_id trailer). *owner (may be NULL) gets the sample's event. */
static uint64_t sampler_record_type(const struct sampler *s,
				    const struct perf_event_header *hdr,
				    const struct sampler_id **owner)
{
	const struct sampler_id *o = NULL;
	uint64_t id;

	if (hdr->type == PERF_RECORD_SAMPLE && ringbuf_sample_identifier(hdr, &id) == 0)
		o = sampler_find_id(s, id);
	if (owner)
		*owner = o;
	if (o && o->kind == SAMPLER_UPROBE && s->opts.uprobe.light[o->sub])
		return s->light_attr.sample_type;
	return s->attr[o ? o->kind : s->primary].sample_type;
}

/* Reads ring i's next record into ring->next (NULL when it has none).
 * Returns 0 or -ENOMEM. */
static int sampler_peek(struct sampler *s, struct sampler_ring *ring)
{
	int e = 0;

	uint64_t type;

	ring->next = ringbuf_next(&ring->rb, &e);
	ring->next_time = 0;
	if (!ring->next)
		return e == -ENOMEM ? e : 0;
	/* A sample is read with its own kind's layout (the other records
	 * share one trailer). A record whose time cannot be read goes first
	 * (time 0): the callback skips what it cannot use. */
	type = sampler_record_type(s, ring->next, &ring->next_owner);
	ring->next_type = type;
	if (ringbuf_record_time(ring->next, type, &ring->next_time) < 0)
		ring->next_time = 0;
	return e == -ENOMEM ? e : 0;
}

static uint64_t sampler_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* Hands on one record. Returns true when the callback asked to stop. */
static bool sampler_deliver(struct sampler *s, const struct sampler_ring *ring,
			    sampler_record_fn fn, void *arg, int *count)
{
	const struct perf_event_header *hdr = ring->next;
	uint64_t time = ring->next_time;
	struct perf_sample sample;
	struct ringbuf_sample_id sid;
	struct sampler_record rec = { .hdr = hdr, .time = time, .cpu = ring->cpu };
	uint64_t full[RINGBUF_NR_REGS];	/* a light sample's registers */

	_Static_assert(SAMPLER_LIGHT_REGS_MASK < (1u << RB_R8),
		       "light registers keep their bit as RB_* index");
	if (hdr->type == PERF_RECORD_SAMPLE) {
		/* The event and layout sampler_peek found. */
		const struct sampler_id *owner = ring->next_owner;
		uint64_t type = ring->next_type;

		rec.kind = owner ? owner->kind : s->primary;
		rec.uprobe = owner ? owner->sub : 0;
		/* A record we cannot decode is skipped rather than handed on
		 * half-read. */
		bool light = rec.kind == SAMPLER_UPROBE && s->opts.uprobe.light[rec.uprobe];

		if (ringbuf_parse_sample_regs(hdr, type, light ?
					      (unsigned)__builtin_popcountll(SAMPLER_LIGHT_REGS_MASK) :
					      RINGBUF_NR_REGS, &sample) < 0)
			return false;
		if (light && sample.regs) {
			/* At their places in a full set: the callback reads
			 * regs[RB_DI] whichever probe wrote the sample. */
			const uint64_t *r = sample.regs;

			memset(full, 0, sizeof(full));
			for (unsigned bit = 0, k = 0; bit < RINGBUF_NR_REGS; bit++)
				if (SAMPLER_LIGHT_REGS_MASK & (1ULL << bit))
					full[bit] = r[k++];
			sample.regs = full;
		}
		/* An inherited event reports its parent's id: the owner is
		 * another thread. */
		rec.inherited = owner && owner->tid != (pid_t)sample.tid;
		if (rec.kind == SAMPLER_WAKING) {
			/* Written by the waker's events and by the wakee's:
			 * not a stream of one thread. */
			int32_t wakee;

			if (sample.raw_size < s->wakee_offset + sizeof(wakee))
				return false;
			memcpy(&wakee, sample.raw + s->wakee_offset, sizeof(wakee));
			rec.wakee = wakee;
		} else if (!sampler_keep(s, (pid_t)sample.tid, sample.id)) {
			s->stats.duplicates++;
			return false;
		} else {
			s->stats.samples++;
		}
		rec.sample = &sample;
	} else if (hdr->type == PERF_RECORD_SWITCH) {
		if (ringbuf_sample_id(hdr, s->attr[s->primary].sample_type, &sid) < 0)
			return false;
		if (!sampler_keep(s, (pid_t)sid.tid, sid.id))
			return false;
		rec.kind = SAMPLER_SWITCH;
		rec.pid = sid.pid;
		rec.tid = sid.tid;
		s->stats.switches++;
	} else if (hdr->type == PERF_RECORD_LOST) {
		s->stats.lost += ringbuf_lost_count(hdr);
	} else if (hdr->type == PERF_RECORD_FORK ||
		   hdr->type == PERF_RECORD_EXIT) {
		sampler_task_record(s, hdr);
	}
	(*count)++;
	return fn && fn(&rec, arg);
}

/* Drains the rings, merging them in time order: each ring is in time
 * order, the rings are not (a child's FORK in one CPU's ring, its samples
 * in another's). Records younger than limit stay in their ring for the
 * next drain. Returns the number of records, or -errno; *stopped is set
 * when the callback asked to stop. */
static int sampler_drain(struct sampler *s, sampler_record_fn fn, void *arg,
			 bool *stopped)
{
	uint64_t limit = UINT64_MAX;
	int count = 0, e = 0;
	size_t i;

	/* The clock is read before any ring: a record stamped earlier than
	 * the limit is already published, save for the slack. */
	if (!s->flush_all && !s->gone)
		limit = sampler_now() - SAMPLER_ORDER_SLACK_NS;
	*stopped = false;
	s->held = 0;
	for (i = 0; i < s->ncpus && e == 0; i++) {
		struct sampler_ring *ring = &s->rings[i];

		ring->next = NULL;
		if (ring->fd >= 0 && ringbuf_begin(&ring->rb))
			e = sampler_peek(s, ring);
	}
	while (e == 0) {
		struct sampler_ring *first = NULL;

		for (i = 0; i < s->ncpus; i++) {
			struct sampler_ring *ring = &s->rings[i];

			if (ring->next && (!first || ring->next_time < first->next_time))
				first = ring;
		}
		if (!first || first->next_time >= limit) {
			s->held = first ? first->next_time : 0;
			break;
		}
		*stopped = sampler_deliver(s, first, fn, arg, &count);
		/* Hand the record's space back at once: a slow callback
		 * (DWARF unwinding) would otherwise keep the whole batch from
		 * the kernel, which then drops samples (LOST). */
		first->next = NULL;
		ringbuf_end(&first->rb);
		if (*stopped)
			break;
		e = sampler_peek(s, first);
	}
	/* What was read but not taken stays for the next drain. */
	for (i = 0; i < s->ncpus; i++) {
		struct sampler_ring *ring = &s->rings[i];

		if (ring->next) {
			ringbuf_unread(&ring->rb, ring->next);
			ring->next = NULL;
		}
		if (ring->fd >= 0)
			ringbuf_end(&ring->rb);
	}
	return e < 0 ? e : count;
}

/* The fallback to POLLHUP: /proc/PID is gone, or only the zombie leader is
 * left. A leader that called pthread_exit() also shows 'Z' while its other
 * threads run, hence the thread count. */
static bool sampler_target_gone(const struct sampler *s)
{
	struct procfs_stat st;
	pid_t *tids = NULL;
	size_t n = 0;
	int r = procfs_read_stat(s->opts.pid, 0, &st);

	if (r == -ENOENT || r == -ESRCH)
		return true;
	if (r < 0 || (st.state != 'Z' && st.state != 'X'))
		return false;
	r = procfs_list_tasks(s->opts.pid, &tids, &n);
	free(tids);
	return r < 0 || n <= 1;
}

int sampler_read(struct sampler *s, int timeout_ms, sampler_record_fn fn,
		 void *arg)
{
	bool stopped;
	size_t i;
	int n, r;

	if (!s->gone) {
		/* Records held back by the last drain wake no one when they
		 * age (a full ring writes nothing more, so the kernel sends
		 * no wake-up): come back when the oldest may be handed on,
		 * or the ring overflows while we sleep. */
		if (s->held) {
			uint64_t due = s->held + SAMPLER_ORDER_SLACK_NS, now = sampler_now();
			int ms = due > now ? (int)((due - now) / 1000000ULL) + 1 : 0;

			if (timeout_ms < 0 || ms < timeout_ms)
				timeout_ms = ms;
		}
		n = poll(s->pfds, s->nfds, timeout_ms);
		if (n < 0 && errno != EINTR)
			return -errno;
		for (i = 0; n > 0 && i < s->nfds; i++) {
			/* perf_poll() reports POLLHUP once the thread and the
			 * threads that inherited from it have exited; such an
			 * fd would make every later poll return at once. */
			if (s->pfds[i].fd >= 0 &&
			    (s->pfds[i].revents & (POLLHUP | POLLERR))) {
				s->pfds[i].fd = -1;
				s->nhup++;
			}
		}
		/* /proc/PID/stat at most every 100 ms: a short wait for
		 * held records times out often, and reading the stat of a
		 * process switching threads 270,000 times a second took
		 * tens of ms while its rings filled. */
		if (n == 0 && sampler_now() - s->gone_checked >= 100000000ULL) {
			s->gone_checked = sampler_now();
			if (sampler_target_gone(s))
				s->gone = true;
		}
		if (s->nhup == s->nfds)
			s->gone = true;
	}
	r = sampler_drain(s, fn, arg, &stopped);
	if (r < 0)
		return r;
	if (r == 0 && s->gone && !stopped)
		return -ESRCH;
	return r;
}

int sampler_rescan(struct sampler *s)
{
	bool seen = false;
	int r;

	if (s->gone)
		return -ESRCH;
	r = sampler_scan(s, &seen, NULL, 0);
	return r;
}

int sampler_set_period(struct sampler *s, enum sampler_kind kind, uint64_t period)
{
	int r = 0;

	if ((unsigned)kind >= SAMPLER_NKINDS || !(s->kinds & SAMPLER_KIND(kind)) ||
	    period == 0)
		return -EINVAL;
	size_t done = 0;

	/* Threads opened from now on too. */
	s->attr[kind].sample_period = period;
	if (kind == SAMPLER_UPROBE)
		s->opts.uprobe.period = period;
	for (size_t i = 0; i < s->nfds; i++) {
		if (s->fd_kind[i] != kind || s->pfds[i].fd < 0)
			continue;
		if (kind == SAMPLER_UPROBE && s->opts.uprobe.count_only[s->fd_sub[i]])
			continue;
		if (ioctl(s->fds[i], PERF_EVENT_IOC_PERIOD, &period) == 0)
			done++;
		else if (!r)
			r = -errno;	/* a thread that has just exited */
	}
	return done ? 0 : r;
}

int sampler_uprobe_counts(struct sampler *s, uint64_t *counts, size_t n)
{
	size_t i;

	if (!(s->kinds & SAMPLER_KIND(SAMPLER_UPROBE)))
		return -EINVAL;
	memset(counts, 0, n * sizeof(*counts));
	for (i = 0; i < s->nfds; i++) {
		uint64_t v;

		if (s->fd_kind[i] != SAMPLER_UPROBE || s->fd_sub[i] >= n)
			continue;
		/* read_format 0: one u64, the event's count plus its
		 * inherited children's (perf_event_read_value), those that
		 * exited included. */
		if (read(s->fds[i], &v, sizeof(v)) == (ssize_t)sizeof(v))
			counts[s->fd_sub[i]] += v;
	}
	return 0;
}

void sampler_get_stats(const struct sampler *s, struct sampler_stats *st)
{
	*st = s->stats;
	st->events = s->nfds;
}

uint64_t sampler_sample_type(const struct sampler *s, enum sampler_kind kind)
{
	if ((unsigned)kind >= SAMPLER_NKINDS || !(s->kinds & SAMPLER_KIND(kind)))
		kind = s->primary;
	return s->attr[kind].sample_type;
}

void sampler_free(struct sampler *s)
{
	size_t i;

	if (!s)
		return;
	for (i = 0; i < s->ncpus; i++) {
		if (s->rings[i].base)
			munmap(s->rings[i].base, s->rings[i].map_len);
		ringbuf_release(&s->rings[i].rb);
	}
	for (i = 0; i < s->nfds; i++)
		close(s->fds[i]);
	/* Once no event uses them (the kernel refuses EBUSY before). */
	if (s->uprobe_defined)
		sampler_uprobe_remove_group(s->tracefs_root, s->uprobe_group);
	free(s->rings);
	free(s->fds);
	free(s->fd_kind);
	free(s->fd_sub);
	free(s->uprobe_path);
	free(s->pfds);
	free(s->threads);
	free(s->ids);
	free(s);
}

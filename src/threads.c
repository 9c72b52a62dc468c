/*
 * threads.c - a thread dump: stop (tracer.c), unwind (ptunwind.c), let go,
 * then symbolize and write. See threads.h for the contract.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

#include "procfs.h"
#include "ptunwind.h"
#include "stackprof.h"
#include "threads.h"
#include "errmsg.h"
#include "tracer.h"

#define THREADS_MAX_FRAMES_DEFAULT 256
/* Rescans of /proc/PID/task: a process creating threads as fast as we seize
 * them must not keep us (and the threads already stopped) forever. */
#define THREADS_MAX_SCANS 16
#define THREADS_STOP_TIMEOUT_NS 2000000000u

static void threads_dump_free_threads(struct threads_dump *d)
{
	for (size_t i = 0; i < d->n; i++) {
		free(d->threads[i].pcs);
		free(d->threads[i].is_activation);
	}
	free(d->threads);
	d->threads = NULL;
	d->n = 0;
}

void threads_dump_free(struct threads_dump *d)
{
	if (!d)
		return;
	threads_dump_free_threads(d);
	free(d);
}

/* One small /proc file of thread tid, opened relative to /proc/PID/task
 * (no path walk through /proc/PID each time) into a stack buffer. Returns
 * its length or -errno. */
static int threads_open_taskdir(pid_t pid);

static ssize_t threads_read_task_file(int taskfd, pid_t tid, const char *name,
				      char *buf, size_t len)
{
	char rel[64];
	ssize_t n, got = 0;
	int fd, e = 0;

	snprintf(rel, sizeof(rel), "%d/%s", (int)tid, name);
	fd = openat(taskfd, rel, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	/* A seq_file hands its whole text (under 1 KiB for stat and syscall)
	 * to one read that can hold it. */
	do
		n = read(fd, buf, len - 1);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		e = -errno;
	else
		got = n;
	close(fd);
	if (e)
		return e;
	buf[got] = '\0';
	return got;
}

/* Name, state and CPU time, read before the thread is stopped (once
 * stopped, stat says 't'). The name comes from stat, which prints the same
 * task comm as task/TID/comm (fs/proc/array.c proc_task_name); the system
 * call comes from the registers read while stopped (ptunwind_last_syscall):
 * one /proc file per thread instead of three. */
static void threads_read_info(int taskfd, struct threads_thread *t)
{
	struct procfs_stat st;
	char buf[1024];
	static long hz;

	if (!hz)
		hz = sysconf(_SC_CLK_TCK) > 0 ? sysconf(_SC_CLK_TCK) : 100;
	t->state = '?';
	t->syscall = -3;
	t->name[0] = '\0';
	if (taskfd < 0)
		return;
	if (threads_read_task_file(taskfd, t->tid, "stat", buf, sizeof(buf)) > 0 &&
	    procfs_parse_stat(buf, &st) == 0) {
		size_t cl = strnlen(st.comm, sizeof(t->name) - 1);
		t->state = st.state;
		t->cpu_ns = (st.utime + st.stime) * (1000000000u / (uint64_t)hz);
		memcpy(t->name, st.comm, cl);
		t->name[cl] = '\0';
	}
}

/* The system call of threads whose registers could not be read (not
 * stopped in time: uninterruptible sleep), from /proc after the dump. */
static void threads_read_syscalls(struct threads_dump *d)
{
	int taskfd = -1;
	char buf[1024];

	for (size_t i = 0; i < d->n; i++) {
		struct threads_thread *t = &d->threads[i];
		struct procfs_syscall sc;
		if (t->exited || t->syscall != -3)
			continue;
		if (taskfd < 0 && (taskfd = threads_open_taskdir(d->pid)) < 0)
			return;
		if (threads_read_task_file(taskfd, t->tid, "syscall", buf,
					   sizeof(buf)) > 0 &&
		    procfs_parse_syscall(buf, &sc) == 0)
			t->syscall = sc.nr;
	}
	if (taskfd >= 0)
		close(taskfd);
}

static int threads_open_taskdir(pid_t pid)
{
	char path[48];
	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	return open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

static int threads_add(struct threads_dump *d, size_t *cap, pid_t tid)
{
	if (d->n == *cap) {
		size_t nc = *cap ? *cap * 2 : 64;
		struct threads_thread *nt = realloc(d->threads, nc * sizeof(*nt));
		if (!nt)
			return -ENOMEM;
		d->threads = nt;
		*cap = nc;
	}
	memset(&d->threads[d->n], 0, sizeof(d->threads[0]));
	d->threads[d->n].tid = tid;
	d->threads[d->n].syscall = -3;
	d->n++;
	return 0;
}

static struct threads_thread *threads_get(struct threads_dump *d, pid_t tid)
{
	for (size_t i = 0; i < d->n; i++)
		if (d->threads[i].tid == tid)
			return &d->threads[i];
	return NULL;
}

/* Walks into scratch buffers of max frames (the caller's, reused across
 * threads), then keeps a copy of just the frames found: a parked thread has
 * ~10 of the default 256, and 2.3 KiB of fresh memory per thread would cost
 * a thousand page faults in a 1,000-thread dump. */
struct threads_scratch {
	uint64_t *pcs;
	bool *is_activation;
};

static int threads_scratch_init(struct threads_scratch *sc, size_t max)
{
	sc->pcs = malloc(max * sizeof(*sc->pcs));
	sc->is_activation = malloc(max * sizeof(*sc->is_activation));
	return sc->pcs && sc->is_activation ? 0 : -ENOMEM;
}

static void threads_scratch_free(struct threads_scratch *sc)
{
	free(sc->pcs);
	free(sc->is_activation);
}

static int threads_unwind_one(struct ptunwind *u, struct threads_scratch *sc,
			      struct threads_thread *t, size_t max)
{
	size_t n = 0;

	t->error = ptunwind_thread(u, t->tid, sc->pcs, sc->is_activation, max,
				   &n, &t->truncated);
	long nr = ptunwind_last_syscall(u);
	if (nr >= -1)
		t->syscall = nr;
	/* At least one element each, so that a thread with no frame still
	 * has arrays, as readers expect. */
	t->pcs = malloc((n ? n : 1) * sizeof(*t->pcs));
	t->is_activation = malloc((n ? n : 1) * sizeof(*t->is_activation));
	if (!t->pcs || !t->is_activation)
		return -ENOMEM;
	if (n) {
		memcpy(t->pcs, sc->pcs, n * sizeof(*t->pcs));
		memcpy(t->is_activation, sc->is_activation,
		       n * sizeof(*t->is_activation));
	}
	t->npcs = n;
	return 0;
}

static int threads_cmp(const void *a, const void *b, void *arg)
{
	const struct threads_thread *x = a, *y = b;
	pid_t pid = *(const pid_t *)arg;
	if ((x->tid == pid) != (y->tid == pid))
		return x->tid == pid ? -1 : 1;
	return (x->tid > y->tid) - (x->tid < y->tid);
}

/* Errors that make the whole dump impossible, checked before any ptrace so
 * the messages are precise. */
static int threads_check_target(pid_t pid, char *err, size_t errlen)
{
	struct procfs_stat st;
	int r;

	if (pid == getpid()) {
		errmsg_set(err, errlen, "pid %d is cprof itself", (int)pid);
		return -EINVAL;
	}
	r = procfs_read_stat(pid, 0, &st);
	if (r == -ENOENT || r == -ESRCH) {
		errmsg_set(err, errlen, "no process with pid %d", (int)pid);
		return -ESRCH;
	}
	if (r < 0) {
		errmsg_set(err, errlen, "read /proc/%d/stat: %s", (int)pid,
				strerror(-r));
		return r;
	}
	if (st.flags & PROCFS_PF_KTHREAD) {
		errmsg_set(err, errlen,
				"pid %d (%s) is a kernel thread: it has no user stack",
				(int)pid, st.comm);
		return -EINVAL;
	}
	if (st.state == 'Z' || st.state == 'X') {
		pid_t *tids = NULL;
		size_t n = 0;
		bool alone = procfs_list_tasks(pid, &tids, &n) < 0 || n <= 1;
		free(tids);
		/* A leader that called pthread_exit is 'Z' while its other
		 * threads run: only a process with nothing else is a zombie. */
		if (alone) {
			errmsg_set(err, errlen,
					"pid %d (%s) is a zombie: it has exited",
					(int)pid, st.comm);
			return -EINVAL;
		}
	}
	return 0;
}

/* Name, state and CPU time of d->threads[from..n), through one open of
 * /proc/PID/task. */
static void threads_read_infos(struct threads_dump *d, size_t from)
{
	if (from >= d->n)
		return;
	int taskfd = threads_open_taskdir(d->pid);
	for (size_t i = from; i < d->n; i++)
		threads_read_info(taskfd, &d->threads[i]);
	if (taskfd >= 0)
		close(taskfd);
}

/* procfs_list_tasks, with the reason in err; -ESRCH when the process is
 * gone. */
static int threads_list_tasks(pid_t pid, pid_t **tids, size_t *n, char *err,
			      size_t errlen)
{
	int r = procfs_list_tasks(pid, tids, n);

	if (r < 0)
		errmsg_set(err, errlen, "read /proc/%d/task: %s", (int)pid,
			   strerror(-r));
	return r == -ENOENT ? -ESRCH : r;
}

/* Adds every thread listed in /proc/PID/task that d does not know yet,
 * with its name, state and CPU time, without stopping anything. Returns
 * the number added or -errno. */
static long threads_list_new(struct threads_dump *d, size_t *cap, char *err,
			     size_t errlen)
{
	pid_t *tids = NULL;
	size_t n = 0, first = d->n;
	int r = threads_list_tasks(d->pid, &tids, &n, err, errlen);

	if (r < 0)
		return r;
	for (size_t i = 0; i < n && r == 0; i++)
		if (!threads_get(d, tids[i]))
			r = threads_add(d, cap, tids[i]);
	free(tids);
	if (r < 0)
		return r;
	threads_read_infos(d, first);
	return (long)(d->n - first);
}

/* ---- snapshot: every thread stopped at once ----------------------------- *
 *
 * At 1,000 threads a snapshot is ~30 us of kernel work per thread (reading
 * its stat, seize, interrupt, the wake-up into the stop, getregs, detach)
 * plus the unwinding. ptrace requests must come from the tracer thread
 * itself, so the threads are split between up to THREADS_MAX_PARTS tracer
 * threads, one per CPU we may run on, each with its own tracer and
 * unwinder (a Dwfl is not thread-safe). The snapshot stays one: no part
 * detaches anything before every part has stopped all of its threads.
 * Part 0 runs on the calling thread and also re-scans /proc/PID/task for
 * threads that appeared meanwhile. */

#define THREADS_MAX_PARTS 4
/* Below this many threads per part, a second tracer thread costs more (its
 * own unwinder set-up, ~2 ms) than it saves. */
#define THREADS_PER_PART_MIN 200

struct threads_snap;

struct threads_part {
	struct threads_snap *snap;
	pthread_t thread;
	bool started;
	const pid_t *tids;		/* this part's share of the first scan */
	size_t ntids;
	struct threads_dump d;		/* only threads and n are used */
	size_t cap;
	struct tracer tr;
	struct ptunwind *u;
	bool own_u;			/* created by the part's thread */
	int r;
	char err[256];
	uint64_t stop_ns, unwind_ns, detach_ns;
};

struct threads_snap {
	const struct threads_opts *o;
	size_t max;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool go;			/* tids assigned: start stopping */
	unsigned nparts, stopped;	/* parts done stopping their threads */
	bool all_stopped;		/* every part stopped: detaching allowed */
	struct threads_part part[THREADS_MAX_PARTS];
};

static unsigned threads_nparts(size_t nthreads)
{
	cpu_set_t set;
	long cpus = 1;

	if (sched_getaffinity(0, sizeof(set), &set) == 0)
		cpus = CPU_COUNT(&set);
	size_t n = nthreads / THREADS_PER_PART_MIN;
	if (n > (size_t)cpus)
		n = (size_t)cpus;
	if (n > THREADS_MAX_PARTS)
		n = THREADS_MAX_PARTS;
	return n ? (unsigned)n : 1;
}

/* Reads the stat of tids not known to d, then seizes and interrupts them
 * and waits until they are stopped. Threads cloned meanwhile (attached by
 * the kernel, maybe not yet in /proc when the list was read) join d. */
static int threads_stop_list(struct threads_dump *d, size_t *cap,
			     struct tracer *tr, const pid_t *tids, size_t n,
			     bool info, char *err, size_t errlen)
{
	size_t first = d->n;
	int r = 0;

	for (size_t i = 0; i < n && r == 0; i++)
		r = threads_add(d, cap, tids[i]);
	if (r < 0)
		return r;
	/* /proc first for every new thread, then the stops: reading a file
	 * per thread must not lengthen the pause. */
	if (info)
		threads_read_infos(d, first);
	for (size_t i = first; i < d->n && r == 0; i++) {
		struct threads_thread *t = &d->threads[i];
		size_t idx;
		if (tracer_find(tr, t->tid) >= 0)
			continue;	/* auto-attached clone */
		r = tracer_seize(tr, t->tid, &idx, err, errlen);
		if (r == -ESRCH) {
			t->exited = true;
			r = 0;
		}
	}
	if (r == 0)
		tracer_wait_stopped(tr, THREADS_STOP_TIMEOUT_NS);
	/* Clones the kernel attached, maybe not in /proc when tids were
	 * listed: only they can be missing from d. */
	size_t before = d->n;
	for (size_t i = 0; i < tr->n && r == 0; i++)
		if (tr->t[i].cloned && !threads_get(d, tr->t[i].tid))
			r = threads_add(d, cap, tr->t[i].tid);
	if (info)
		threads_read_infos(d, before);
	return r;
}

/* Part 0, once every part has stopped its share: stops the threads that
 * are in /proc/PID/task now but in no part, until a scan finds none. */
static int threads_rescan(struct threads_snap *s)
{
	struct threads_part *p0 = &s->part[0];

	for (int scan = 1; scan < THREADS_MAX_SCANS; scan++) {
		pid_t *tids = NULL, *known;
		size_t n = 0, nknown = 0, nnew = 0, alive = 0;
		struct procfs_stat st;

		/* Every thread alive is ours (stopped, or seized and not
		 * stopping) when the kernel counts as many in the process: a
		 * stopped thread creates none, so none is missing, and the
		 * listing of 1,000 entries (~1 ms) can be skipped. A thread
		 * gone but not yet released only makes the counts differ. */
		for (unsigned k = 0; k < s->nparts; k++)
			for (size_t i = 0; i < s->part[k].tr.n; i++)
				alive += s->part[k].tr.t[i].state == TRACER_STOPPED ||
					 s->part[k].tr.t[i].state == TRACER_SEIZED;
		if (procfs_read_stat(p0->d.pid, 0, &st) == 0 &&
		    st.num_threads == alive)
			return 0;
		int r = procfs_list_tasks(p0->d.pid, &tids, &n);
		if (r < 0)
			return 0;	/* the process is going: keep what we have */
		for (unsigned k = 0; k < s->nparts; k++)
			nknown += s->part[k].d.n;
		known = malloc((nknown ? nknown : 1) * sizeof(*known));
		if (!known) {
			free(tids);
			return -ENOMEM;
		}
		nknown = 0;
		for (unsigned k = 0; k < s->nparts; k++)
			for (size_t i = 0; i < s->part[k].d.n; i++)
				known[nknown++] = s->part[k].d.threads[i].tid;
		qsort(known, nknown, sizeof(*known), procfs_pid_cmp);
		for (size_t i = 0; i < n; i++)
			if (!bsearch(&tids[i], known, nknown, sizeof(*known),
				     procfs_pid_cmp))
				tids[nnew++] = tids[i];
		free(known);
		if (nnew)
			r = threads_stop_list(&p0->d, &p0->cap, &p0->tr, tids,
					      nnew, !s->o->no_info, p0->err,
					      sizeof(p0->err));
		free(tids);
		if (r < 0)
			return r;
		if (nnew == 0)
			break;
	}
	return 0;
}

static void threads_unwind_part(struct threads_part *p, size_t max)
{
	struct threads_scratch sc;
	long k = -1;

	p->r = threads_scratch_init(&sc, max);
	/* Everything is stopped: memory cached for one thread's walk stays
	 * valid for the next (the text and unwind tables are shared). */
	ptunwind_invalidate(p->u);
	for (size_t i = 0; i < p->d.n && p->r == 0; i++) {
		struct threads_thread *t = &p->d.threads[i];
		/* The tracer seized in d's order, clones aside: try the entry
		 * after the last one before searching. */
		if (k + 1 < (long)p->tr.n && p->tr.t[k + 1].tid == t->tid)
			k++;
		else
			k = tracer_find(&p->tr, t->tid);
		if (k < 0)
			continue;
		struct tracer_thread *tt = &p->tr.t[k];
		if (tt->state == TRACER_GONE || tt->exiting) {
			t->exited = true;
			continue;
		}
		if (tt->state != TRACER_STOPPED) {
			t->error = tt->error ? tt->error : -ETIMEDOUT;
			continue;
		}
		p->r = threads_unwind_one(p->u, &sc, t, max);
	}
	threads_scratch_free(&sc);
}

/* One part's whole life: stop its threads, unwind them, and detach them
 * once every part has stopped. Part 0 (the caller's thread) re-scans in
 * between. */
static void threads_run_part(struct threads_snap *s, struct threads_part *p)
{
	bool first = p == &s->part[0];
	uint64_t t0 = tracer_now_ns(), t1;

	if (!p->u) {
		p->own_u = true;
		p->r = ptunwind_new(s->o->pid, s->o->unwinder == THREADS_UNWIND_LIBDW ?
				    PTUNWIND_LIBDW : PTUNWIND_LIBUNWIND, s->o->maps,
				    &p->u, p->err, sizeof(p->err));
	}
	pthread_mutex_lock(&s->lock);
	while (!s->go)
		pthread_cond_wait(&s->cond, &s->lock);
	pthread_mutex_unlock(&s->lock);

	if (p->r == 0)
		p->r = threads_stop_list(&p->d, &p->cap, &p->tr, p->tids,
					 p->ntids, !s->o->no_info, p->err,
					 sizeof(p->err));
	pthread_mutex_lock(&s->lock);
	s->stopped++;
	pthread_cond_broadcast(&s->cond);
	if (first) {
		while (s->stopped < s->nparts)
			pthread_cond_wait(&s->cond, &s->lock);
		bool failed = false;
		for (unsigned k = 0; k < s->nparts; k++)
			failed |= s->part[k].r < 0;
		pthread_mutex_unlock(&s->lock);
		if (!failed)
			p->r = threads_rescan(s);
		pthread_mutex_lock(&s->lock);
		s->all_stopped = true;
		pthread_cond_broadcast(&s->cond);
	}
	pthread_mutex_unlock(&s->lock);
	t1 = tracer_now_ns();
	p->stop_ns = t1 - t0;

	/* Other parts' threads may still be running: unwinding a stopped
	 * thread reads only its own registers and stack. */
	if (p->r == 0)
		threads_unwind_part(p, s->max);
	p->unwind_ns = tracer_now_ns() - t1;

	pthread_mutex_lock(&s->lock);
	while (!s->all_stopped)
		pthread_cond_wait(&s->cond, &s->lock);
	pthread_mutex_unlock(&s->lock);
	t1 = tracer_now_ns();
	tracer_detach_all(&p->tr);
	p->detach_ns = tracer_now_ns() - t1;
}

static void *threads_part_thread(void *arg)
{
	struct threads_part *p = arg;
	threads_run_part(p->snap, p);
	return NULL;
}

static int threads_capture_snapshot(const struct threads_opts *o,
				    struct threads_dump *d, size_t *cap,
				    struct ptunwind *u, size_t max, char *err,
				    size_t errlen)
{
	struct threads_snap *s;
	pid_t *tids = NULL;
	size_t n = 0;
	unsigned want, k;
	int r;

	r = threads_list_tasks(o->pid, &tids, &n, err, errlen);
	if (r < 0)
		return r;
	s = calloc(1, sizeof(*s));
	if (!s) {
		free(tids);
		return -ENOMEM;
	}
	s->o = o;
	s->max = max;
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->cond, NULL);
	want = threads_nparts(n);
	for (k = 0; k < THREADS_MAX_PARTS; k++) {
		s->part[k].snap = s;
		s->part[k].d.pid = o->pid;
		tracer_init(&s->part[k].tr, o->pid, true);
	}
	s->part[0].u = u;
	/* Helpers start building their unwinders while we count them; the
	 * tids are dealt once we know how many really started. */
	s->nparts = 1;
	for (k = 1; k < want; k++) {
		if (pthread_create(&s->part[k].thread, NULL, threads_part_thread,
				   &s->part[k]) != 0)
			break;
		s->part[k].started = true;
		s->nparts++;
	}
	pthread_mutex_lock(&s->lock);
	for (k = 0; k < s->nparts; k++) {
		s->part[k].tids = tids + n * k / s->nparts;
		s->part[k].ntids = n * (k + 1) / s->nparts - n * k / s->nparts;
	}
	s->go = true;
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->lock);

	threads_run_part(s, &s->part[0]);
	for (k = 1; k < s->nparts; k++)
		pthread_join(s->part[k].thread, NULL);

	/* Gather the parts into d; the first error wins. */
	size_t total = 0;
	for (k = 0; k < s->nparts; k++)
		total += s->part[k].d.n;
	r = 0;
	for (k = 0; k < s->nparts && r == 0; k++)
		if (s->part[k].r < 0) {
			r = s->part[k].r;
			if (s->part[k].err[0])
				errmsg_set(err, errlen, "%s", s->part[k].err);
		}
	if (r == 0 && total) {
		struct threads_thread *all = realloc(d->threads, total * sizeof(*all));
		if (!all)
			r = -ENOMEM;
		else {
			d->threads = all;
			*cap = total;
		}
	}
	for (k = 0; k < s->nparts; k++) {
		struct threads_part *p = &s->part[k];
		if (r == 0) {
			memcpy(d->threads + d->n, p->d.threads,
			       p->d.n * sizeof(*p->d.threads));
			d->n += p->d.n;
			free(p->d.threads);
		} else {
			threads_dump_free_threads(&p->d);
		}
		if (p->tr.longest_stop_ns > d->longest_stop_ns)
			d->longest_stop_ns = p->tr.longest_stop_ns;
		tracer_release(&p->tr);
		if (p->own_u)
			ptunwind_free(p->u);
	}
	d->stop_ns = s->part[0].stop_ns;
	d->unwind_ns = s->part[0].unwind_ns;
	d->detach_ns = s->part[0].detach_ns;
	d->tracers = s->nparts;
	pthread_mutex_destroy(&s->lock);
	pthread_cond_destroy(&s->cond);
	free(s);
	free(tids);
	return r;
}

static int threads_capture_each(const struct threads_opts *o,
				struct threads_dump *d, size_t *cap,
				struct ptunwind *u, size_t max, char *err,
				size_t errlen)
{
	struct threads_scratch sc;
	int r = threads_scratch_init(&sc, max);

	for (int scan = 0; r == 0 && scan < THREADS_MAX_SCANS; scan++) {
		size_t before = d->n;
		long added = threads_list_new(d, cap, err, errlen);
		if (added < 0) {
			r = (int)added;
			break;
		}
		if (scan > 0 && added == 0)
			break;
		for (size_t i = before; i < d->n; i++) {
			struct threads_thread *t = &d->threads[i];
			struct tracer tr;
			size_t idx;
			tracer_init(&tr, o->pid, false);
			r = tracer_seize(&tr, t->tid, &idx, err, errlen);
			if (r == -ESRCH) {
				t->exited = true;
				r = 0;
			} else if (r == 0) {
				tracer_wait_stopped(&tr, THREADS_STOP_TIMEOUT_NS);
				struct tracer_thread *tt = &tr.t[idx];
				if (tt->state == TRACER_GONE || tt->exiting)
					t->exited = true;
				else if (tt->state != TRACER_STOPPED)
					t->error = tt->error ? tt->error : -ETIMEDOUT;
				else {
					ptunwind_invalidate(u);
					r = threads_unwind_one(u, &sc, t, max);
				}
			}
			tracer_detach_all(&tr);
			if (tr.longest_stop_ns > d->longest_stop_ns)
				d->longest_stop_ns = tr.longest_stop_ns;
			tracer_release(&tr);
			/* Another tracer appearing mid-dump fails that thread,
			 * not the dump, once some thread was captured. */
			if (r == -EPERM && i > 0) {
				t->error = r;
				r = 0;
			}
			if (r < 0)
				break;
		}
	}
	threads_scratch_free(&sc);
	return r;
}

int threads_capture(const struct threads_opts *opts, struct threads_dump **out,
		    char *err, size_t errlen)
{
	struct threads_dump *d;
	struct ptunwind *u = NULL;
	size_t cap = 0, max = opts->max_frames ? opts->max_frames :
					 THREADS_MAX_FRAMES_DEFAULT;
	sigset_t block, old;
	uint64_t t0 = tracer_now_ns();
	int r;

	r = threads_check_target(opts->pid, err, errlen);
	if (r < 0)
		return r;
	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->pid = opts->pid;
	r = ptunwind_new(opts->pid, opts->unwinder == THREADS_UNWIND_LIBDW ?
			 PTUNWIND_LIBDW : PTUNWIND_LIBUNWIND, opts->maps, &u,
			 err, errlen);
	if (r < 0)
		goto out_free;
	d->setup_ns = tracer_now_ns() - t0;

	/* A signal that would end us mid-dump is held until every thread is
	 * detached; SIGKILL cannot be held, and is why we SEIZE. */
	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGHUP);
	sigaddset(&block, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &block, &old);
	if (opts->one_at_a_time)
		r = threads_capture_each(opts, d, &cap, u, max, err, errlen);
	else
		r = threads_capture_snapshot(opts, d, &cap, u, max, err, errlen);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r < 0)
		goto out_free;
	threads_read_syscalls(d);

	/* If every thread vanished, the process is gone. */
	bool any = false;
	for (size_t i = 0; i < d->n; i++)
		if (!d->threads[i].exited)
			any = true;
	if (!any) {
		errmsg_set(err, errlen, "pid %d exited during the dump",
				(int)opts->pid);
		r = -ESRCH;
		goto out_free;
	}
	qsort_r(d->threads, d->n, sizeof(d->threads[0]), threads_cmp, &d->pid);
	d->total_ns = tracer_now_ns() - t0;
	ptunwind_free(u);
	*out = d;
	return 0;

out_free:
	ptunwind_free(u);
	threads_dump_free(d);
	return r;
}

/* ---- output --------------------------------------------------------------- */

static const char *threads_state_name(char s)
{
	switch (s) {
	case 'R': return "running";
	case 'S': return "sleeping";
	case 'D': return "disk wait";
	case 'T': return "stopped";
	case 't': return "tracing stop";
	case 'Z': return "zombie";
	case 'X': return "dead";
	case 'I': return "idle";
	case 'P': return "parked";
	default: return "unknown";
	}
}

static const char *threads_basename(const char *path)
{
	const char *s = path ? strrchr(path, '/') : NULL;
	return s ? s + 1 : (path ? path : "?");
}

static void threads_syscall_str(long nr, char *buf, size_t len)
{
	const char *name = procfs_syscall_name(nr);
	if (name)
		snprintf(buf, len, "%s", name);
	else
		snprintf(buf, len, "syscall %ld", nr);
}

static const struct sym_frame *threads_lookup(struct symbolizer *sym,
					      const struct threads_thread *t,
					      size_t i)
{
	if (!sym)
		return NULL;
	return symbolizer_lookup(sym, t->pcs[i], !t->is_activation[i]);
}

/* Frames of one stack, in the text layout shared by text and summary. */
static void threads_write_frames(FILE *out, struct symbolizer *sym,
				 const struct threads_thread *t)
{
	for (size_t i = 0; i < t->npcs; i++) {
		const struct sym_frame *f = threads_lookup(sym, t, i);
		const char *mod = f && f->module ? threads_basename(f->module->path) : NULL;
		if (!f || f->nlines == 0) {
			/* The frame under an interrupted (activation) frame is
			 * the signal trampoline, __restore_rt: often nameless. */
			if (i + 1 < t->npcs && t->is_activation[i + 1])
				fputs("  <signal handler called>\n", out);
			else if (f && f->module)
				fprintf(out, "  0x%" PRIx64 " (%s+0x%" PRIx64 ")\n",
					t->pcs[i], mod,
					t->pcs[i] - f->module->start + f->module->offset);
			else
				fprintf(out, "  0x%" PRIx64 " (?)\n", t->pcs[i]);
			continue;
		}
		for (size_t j = 0; j < f->nlines; j++) {
			const struct sym_line *l = &f->lines[j];
			bool inl = j + 1 < f->nlines;
			fprintf(out, "  %s(...)%s\n", l->function ? l->function : "??",
				inl ? " [inlined]" : "");
			fputs("      ", out);
			if (l->file)
				fprintf(out, "%s:%d", l->file, l->line);
			else
				fputs("?", out);
			if (!inl)
				fprintf(out, " +0x%" PRIx64, l->offset);
			fprintf(out, "  %s\n", mod ? mod : "?");
		}
	}
	if (t->truncated)
		fputs("  ...additional frames elided...\n", out);
}

static void threads_write_header(FILE *out, const struct threads_thread *t)
{
	char sc[48];

	fprintf(out, "thread %d (%s) [", (int)t->tid, t->name);
	if (t->exited) {
		fputs("exited during the dump]:\n", out);
		return;
	}
	fputs(threads_state_name(t->state), out);
	if (t->syscall >= 0) {
		threads_syscall_str(t->syscall, sc, sizeof(sc));
		fprintf(out, ", in %s", sc);
	}
	fprintf(out, ", cpu %.2fs]:\n", (double)t->cpu_ns / 1e9);
	if (t->error && t->npcs == 0)
		fprintf(out, "  (no stack: %s)\n", strerror(-t->error));
}

static void threads_json_str(FILE *out, const char *s)
{
	if (!s) {
		fputs("null", out);
		return;
	}
	fputc('"', out);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\')
			fprintf(out, "\\%c", *p);
		else if (*p < 0x20)
			fprintf(out, "\\u%04x", *p);
		else
			fputc(*p, out);
	}
	fputc('"', out);
}

static void threads_write_json(FILE *out, const struct threads_dump *d,
			       struct symbolizer *sym)
{
	char sc[48];

	fprintf(out, "{\"pid\":%d,\"threads\":[", (int)d->pid);
	for (size_t k = 0; k < d->n; k++) {
		const struct threads_thread *t = &d->threads[k];
		fprintf(out, "%s\n{\"tid\":%d,\"name\":", k ? "," : "", (int)t->tid);
		threads_json_str(out, t->name);
		fputs(",\"state\":", out);
		threads_json_str(out, t->exited ? "exited" : threads_state_name(t->state));
		fputs(",\"syscall\":", out);
		if (t->syscall >= 0 && !t->exited) {
			threads_syscall_str(t->syscall, sc, sizeof(sc));
			threads_json_str(out, sc);
		} else {
			fputs("null", out);
		}
		fprintf(out, ",\"cpu_ns\":%" PRIu64 ",\"exited\":%s,\"truncated\":%s,\"error\":",
			t->cpu_ns, t->exited ? "true" : "false",
			t->truncated ? "true" : "false");
		threads_json_str(out, t->error ? strerror(-t->error) : NULL);
		fputs(",\"frames\":[", out);
		bool first = true;
		for (size_t i = 0; i < t->npcs; i++) {
			const struct sym_frame *f = threads_lookup(sym, t, i);
			const char *mod = f && f->module ? f->module->path : NULL;
			size_t nl = f && f->nlines ? f->nlines : 1;
			for (size_t j = 0; j < nl; j++) {
				const struct sym_line *l = f && f->nlines ? &f->lines[j] : NULL;
				fprintf(out, "%s{\"address\":\"0x%" PRIx64 "\",\"function\":",
					first ? "" : ",", t->pcs[i]);
				first = false;
				threads_json_str(out, l ? l->function : NULL);
				fputs(",\"file\":", out);
				threads_json_str(out, l ? l->file : NULL);
				fprintf(out, ",\"line\":%d,\"module\":", l ? l->line : 0);
				threads_json_str(out, mod);
				fprintf(out, ",\"inlined\":%s}", j + 1 < nl ? "true" : "false");
			}
		}
		fputs("]}", out);
	}
	fputs("\n]}\n", out);
}

/* Threads grouped by identical stacks, most common first. */
struct threads_group {
	const struct threads_thread *first;
	size_t count;
	size_t *members;
};

static bool threads_same_stack(const struct threads_thread *a,
			       const struct threads_thread *b)
{
	return a->npcs == b->npcs && a->truncated == b->truncated &&
	       memcmp(a->pcs, b->pcs, a->npcs * sizeof(a->pcs[0])) == 0;
}

static int threads_group_cmp(const void *a, const void *b)
{
	const struct threads_group *x = a, *y = b;
	if (x->count != y->count)
		return x->count < y->count ? 1 : -1;
	return (x->first->tid > y->first->tid) - (x->first->tid < y->first->tid);
}

static int threads_group(const struct threads_dump *d,
			 struct threads_group **out, size_t *nout)
{
	struct threads_group *g = calloc(d->n ? d->n : 1, sizeof(*g));
	size_t ng = 0;

	if (!g)
		return -ENOMEM;
	for (size_t k = 0; k < d->n; k++) {
		const struct threads_thread *t = &d->threads[k];
		size_t i;
		if (t->exited || !t->pcs)
			continue;
		for (i = 0; i < ng; i++)
			if (threads_same_stack(g[i].first, t))
				break;
		if (i == ng) {
			g[ng].first = t;
			g[ng].members = malloc(d->n * sizeof(size_t));
			if (!g[ng].members)
				goto out_enomem;
			ng++;
		}
		g[i].members[g[i].count++] = k;
	}
	qsort(g, ng, sizeof(*g), threads_group_cmp);
	*out = g;
	*nout = ng;
	return 0;
out_enomem:
	for (size_t i = 0; i < ng; i++)
		free(g[i].members);
	free(g);
	return -ENOMEM;
}

static void threads_groups_free(struct threads_group *g, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(g[i].members);
	free(g);
}

static void threads_write_debug1(FILE *out, const struct threads_dump *d,
				 struct symbolizer *sym,
				 const struct threads_group *g, size_t ng)
{
	size_t total = 0;
	for (size_t i = 0; i < ng; i++)
		total += g[i].count;
	fprintf(out, "threads profile: total %zu\n", total);
	for (size_t i = 0; i < ng; i++) {
		const struct threads_thread *t = g[i].first;
		fprintf(out, "%zu @", g[i].count);
		for (size_t k = 0; k < t->npcs; k++)
			fprintf(out, " 0x%" PRIx64, t->pcs[k]);
		fputc('\n', out);
		for (size_t k = 0; k < t->npcs; k++) {
			const struct sym_frame *f = threads_lookup(sym, t, k);
			if (!f || !f->nlines) {
				fprintf(out, "#\t0x%" PRIx64 "\n", t->pcs[k]);
				continue;
			}
			for (size_t j = 0; j < f->nlines; j++) {
				const struct sym_line *l = &f->lines[j];
				fprintf(out, "#\t0x%" PRIx64 "\t%s+0x%" PRIx64 "\t%s:%d\n",
					t->pcs[k], l->function ? l->function : "??",
					l->offset, l->file ? l->file : "?", l->line);
			}
		}
		fputc('\n', out);
	}
}

static void threads_write_summary(FILE *out, const struct threads_dump *d,
				  struct symbolizer *sym,
				  const struct threads_group *g, size_t ng)
{
	size_t exited = 0;
	for (size_t k = 0; k < d->n; k++)
		exited += d->threads[k].exited;
	fprintf(out, "pid %d: %zu threads, %zu distinct stacks", (int)d->pid,
		d->n - exited, ng);
	if (exited)
		fprintf(out, ", %zu exited during the dump", exited);
	fputs("\n\n", out);
	for (size_t i = 0; i < ng; i++) {
		fprintf(out, "%zu thread%s:", g[i].count, g[i].count == 1 ? "" : "s");
		for (size_t m = 0; m < g[i].count && m < 8; m++) {
			const struct threads_thread *t = &d->threads[g[i].members[m]];
			char name[16] = "?";
			/* Captured without names (threads_opts.no_info): the
			 * eight shown are read now, not the thousand. */
			if (t->name[0])
				snprintf(name, sizeof(name), "%s", t->name);
			else if (procfs_read_comm(d->pid, t->tid, name,
						  sizeof(name)) < 0)
				snprintf(name, sizeof(name), "?");
			fprintf(out, " %d (%s)", (int)t->tid, name);
		}
		if (g[i].count > 8)
			fprintf(out, " ... %zu more", g[i].count - 8);
		fputs("\n", out);
		threads_write_frames(out, sym, g[i].first);
		fputc('\n', out);
	}
}

int threads_write(const struct threads_dump *d, struct symbolizer *sym,
		  enum threads_format fmt, FILE *out)
{
	struct threads_group *g = NULL;
	size_t ng = 0;
	int r;

	switch (fmt) {
	case THREADS_FMT_TEXT:
		for (size_t k = 0; k < d->n; k++) {
			threads_write_header(out, &d->threads[k]);
			threads_write_frames(out, sym, &d->threads[k]);
			fputc('\n', out);
		}
		break;
	case THREADS_FMT_JSON:
		threads_write_json(out, d, sym);
		break;
	case THREADS_FMT_SUMMARY:
	case THREADS_FMT_GO_DEBUG1:
		r = threads_group(d, &g, &ng);
		if (r < 0)
			return r;
		if (fmt == THREADS_FMT_SUMMARY)
			threads_write_summary(out, d, sym, g, ng);
		else
			threads_write_debug1(out, d, sym, g, ng);
		threads_groups_free(g, ng);
		break;
	default:
		return -EINVAL;
	}
	if (fflush(out) != 0 || ferror(out))
		return errno ? -errno : -EIO;
	return 0;
}

int threads_to_profile(const struct threads_dump *d, struct symbolizer *sym,
		       struct profile **out)
{
	struct profile *p = profile_new();
	struct stackprof *sp = NULL;
	struct timespec now;
	char comment[64];
	int r = -ENOMEM;

	if (!p)
		return -ENOMEM;
	if (profile_add_sample_type(p, "threads", "count") < 0 ||
	    profile_set_period(p, "threads", "count", 1) < 0)
		goto out_free;
	clock_gettime(CLOCK_REALTIME, &now);
	p->time_nanos = (int64_t)now.tv_sec * 1000000000 + now.tv_nsec;
	snprintf(comment, sizeof(comment), "cprof threads -p %d", (int)d->pid);
	if (profile_add_comment(p, comment) < 0)
		goto out_free;
	sp = stackprof_new(sym, p);
	if (!sp)
		goto out_free;
	for (size_t k = 0; k < d->n; k++) {
		const struct threads_thread *t = &d->threads[k];
		int64_t one = 1;
		struct profile_label_in label = { .key = "thread_name", .str = t->name };
		if (t->exited)
			continue;
		if (stackprof_add(sp, t->pcs, t->is_activation, t->npcs, &one,
				  &label, 1) < 0)
			goto out_free;
	}
	stackprof_finish(sp);
	stackprof_free(sp);
	*out = p;
	return 0;
out_free:
	stackprof_free(sp);
	profile_free(p);
	return r;
}

const char *threads_explain(int err, pid_t pid, const char *reason, char *buf,
			    size_t len)
{
	const char *why = reason && *reason ? reason : strerror(-err);
	long scope;

	if (err == -EPERM && reason && strstr(reason, "already traced")) {
		snprintf(buf, len, "%s\nhint: a process has one tracer at a time: "
			 "detach the debugger or strace first", why);
	} else if (err == -EPERM || err == -EACCES) {
		char yama[160];
		if (procfs_read_long("/proc/sys/kernel/yama/ptrace_scope", &scope) == 0)
			snprintf(yama, sizeof(yama),
				 "\nhint: Yama ptrace_scope is %ld "
				 "(/proc/sys/kernel/yama/ptrace_scope; 0 lets a user "
				 "trace its own processes)", scope);
		else
			snprintf(yama, sizeof(yama),
				 "\nhint: Yama is not active on this kernel "
				 "(no /proc/sys/kernel/yama/ptrace_scope)");
		char owner[96] = "";
		struct stat st;
		char path[32];
		snprintf(path, sizeof(path), "/proc/%d", (int)pid);
		if (stat(path, &st) == 0 && st.st_uid != geteuid())
			snprintf(owner, sizeof(owner), " (pid %d belongs to uid %u, "
				 "cprof runs as uid %u)", (int)pid,
				 (unsigned)st.st_uid, (unsigned)geteuid());
		snprintf(buf, len, "cannot attach to pid %d: %s\nhint: run as the "
			 "user that owns the process%s, or as root (CAP_SYS_PTRACE)%s",
			 (int)pid, why, owner, yama);
	} else if (err == -ESRCH) {
		snprintf(buf, len, "%s\nhint: check the PID with 'ps -p %d' or "
			 "'pgrep NAME'", why, (int)pid);
	} else if (err == -EINVAL && reason && strstr(reason, "kernel thread")) {
		snprintf(buf, len, "%s\nhint: dump a user process; for kernel "
			 "stacks read /proc/%d/stack as root", why, (int)pid);
	} else if (err == -EINVAL && reason && strstr(reason, "zombie")) {
		snprintf(buf, len, "%s\nhint: its parent has not reaped it yet; "
			 "there is nothing left to dump", why);
	} else if (err == -EINVAL && reason && strstr(reason, "itself")) {
		snprintf(buf, len, "%s\nhint: give the PID of another process", why);
	} else {
		snprintf(buf, len, "cannot dump the threads of pid %d: %s", (int)pid,
			 why);
	}
	return buf;
}

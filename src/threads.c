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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/syscall.h>

#include "procfs.h"
#include "ptunwind.h"
#include "stackprof.h"
#include "threads.h"
#include "errmsg.h"
#include "tracer.h"

const struct threads_opts threads_defaults = {
	.max_frames = 256,
	.unwinder = THREADS_UNWIND_LIBDW,
};

/* Rescans of /proc/PID/task: a process creating threads as fast as we seize
 * them must not keep us (and the threads already stopped) forever. */
#define THREADS_MAX_SCANS 16
/* How long a thread that can run is waited for: only a saturated machine
 * keeps a runnable thread off every CPU this long. */
#define THREADS_STOP_TIMEOUT_NS 2000000000u
/* How long every other thread is held, once all have stopped, for threads
 * in uninterruptible sleep to leave it (docs/design.md §3.1): a disk read
 * usually ends well within it; a vfork parent, a hung NFS or FUSE server
 * not in seconds. */
#define THREADS_UNINT_WAIT_NS 50000000u

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

/* t's system call from /proc/PID/task/TID/syscall (through taskfd), for a
 * thread whose registers were not read: left as it was when unreadable. */
static void threads_read_syscall(int taskfd, struct threads_thread *t)
{
	struct procfs_syscall sc;
	char buf[1024];

	if (threads_read_task_file(taskfd, t->tid, "syscall", buf,
				   sizeof(buf)) > 0 &&
	    procfs_parse_syscall(buf, &sc) == 0)
		t->syscall = sc.nr;
}

/* The system call of threads whose registers could not be read (not
 * stopped in time), from /proc after the dump. */
static void threads_read_syscalls(struct threads_dump *d)
{
	int taskfd = -1;

	for (size_t i = 0; i < d->n; i++) {
		struct threads_thread *t = &d->threads[i];
		if (t->exited || t->syscall != -3)
			continue;
		if (taskfd < 0 && (taskfd = threads_open_taskdir(d->pid)) < 0)
			return;
		threads_read_syscall(taskfd, t);
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

/* What /proc says of the threads of tr given up in uninterruptible sleep:
 * the kernel function each sleeps in and its system call, read now, while
 * they sleep (later they may have moved on). Their state is the one seen
 * while waiting: D, or I. */
static void threads_note_unint(struct threads_dump *d, const struct tracer *tr)
{
	int taskfd = -1;
	char buf[1024];

	for (size_t i = 0; i < tr->n; i++) {
		const struct tracer_thread *tt = &tr->t[i];
		struct threads_thread *t;
		if (tt->state != TRACER_UNSTOPPED || !tt->sleep_state ||
		    !(t = threads_get(d, tt->tid)) || t->uninterruptible)
			continue;
		t->uninterruptible = true;
		t->state = tt->sleep_state;
		if (taskfd < 0 && (taskfd = threads_open_taskdir(d->pid)) < 0)
			return;
		/* "0" when it is running again: no function to name. */
		ssize_t n = threads_read_task_file(taskfd, t->tid, "wchan", buf,
						   sizeof(buf));
		buf[n > 0 ? strcspn(buf, " \n") : 0] = '\0';
		if (buf[0] && strcmp(buf, "0") != 0) {
			size_t wl = strnlen(buf, sizeof(t->wchan) - 1);
			memcpy(t->wchan, buf, wl);
			t->wchan[wl] = '\0';
		}
		threads_read_syscall(taskfd, t);
	}
	if (taskfd >= 0)
		close(taskfd);
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
				   &n, &t->truncated, &t->stop);
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
	if (procfs_stat_gone(&st)) {
		errmsg_set(err, errlen, "pid %d (%s) is a zombie: it has exited",
			   (int)pid, st.comm);
		return -EINVAL;
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

/* ---- tracing threads ----------------------------------------------------- *
 *
 * Every ptrace request of a capture comes from a thread created for it,
 * which exits when the capture is over. The tracer is that thread, not the
 * process: a thread in uninterruptible sleep never stops, so it cannot be
 * PTRACE_DETACHed, and stays traced with the stop pending until its tracer
 * exits, when the kernel unlinks it and drops the stop (exit_ptrace,
 * __ptrace_unlink; docs/design.md §3.1). Traced from a long-lived thread
 * (cprof serve's connection threads) it would enter the stop when its sleep
 * ends and stay stopped. One pthread_create and join per capture costs
 * ~0.1 ms (bench/README.md). */

struct threads_tracer {
	pthread_t thread;
	bool started;
	pid_t tid;			/* its kernel id, set by the thread */
	size_t left_traced;		/* threads it could not detach */
};

static void threads_tracer_begin(struct threads_tracer *t)
{
	t->tid = (pid_t)syscall(SYS_gettid);
}

/* Joins t; if it left threads traced, also waits until the kernel has
 * released them: pthread_join returns when the thread's exit clears its
 * tid (exit_mm, early in do_exit), before exit_notify detaches its tracees
 * and unhashes it, after which tgkill no longer finds it. */
static void threads_tracer_join(struct threads_tracer *t)
{
	if (!t->started)
		return;
	pthread_join(t->thread, NULL);
	t->started = false;
	if (!t->left_traced || t->tid <= 0)
		return;
	for (int i = 0; i < 10000; i++) {
		if (syscall(SYS_tgkill, getpid(), t->tid, 0) < 0 && errno == ESRCH)
			return;
		struct timespec ts = { 0, 10000 };
		nanosleep(&ts, NULL);
	}
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
 * Part 0 also re-scans /proc/PID/task for threads that appeared meanwhile.
 * Every part is a tracing thread of its own (above); the caller waits. */

#define THREADS_MAX_PARTS 4
/* Below this many threads per part, a second tracer thread costs more (its
 * own unwinder set-up, ~2 ms) than it saves. */
#define THREADS_PER_PART_MIN 200

struct threads_snap;

struct threads_part {
	struct threads_snap *snap;
	struct threads_tracer th;
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
		tracer_wait_stopped(tr, THREADS_STOP_TIMEOUT_NS,
				    THREADS_UNINT_WAIT_NS);
	/* Clones the kernel attached, maybe not in /proc when tids were
	 * listed: only they can be missing from d. */
	size_t before = d->n;
	for (size_t i = 0; i < tr->n && r == 0; i++)
		if (tr->t[i].cloned && !threads_get(d, tr->t[i].tid))
			r = threads_add(d, cap, tr->t[i].tid);
	if (info)
		threads_read_infos(d, before);
	if (r == 0)
		threads_note_unint(d, tr);
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
			for (size_t i = 0; i < s->part[k].tr.n; i++) {
				enum tracer_state ts = s->part[k].tr.t[i].state;
				alive += ts == TRACER_STOPPED || ts == TRACER_SEIZED ||
					 ts == TRACER_UNSTOPPED;
			}
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

/* One part's whole life, on its own tracing thread: stop its threads,
 * unwind them, and detach them once every part has stopped. Part 0
 * re-scans in between. */
static void threads_run_part(struct threads_snap *s, struct threads_part *p)
{
	bool first = p == &s->part[0];
	uint64_t t0 = tracer_now_ns(), t1;

	threads_tracer_begin(&p->th);
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
	p->th.left_traced = tracer_detach_all(&p->tr, THREADS_UNINT_WAIT_NS);
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
	 * tids are dealt once we know how many really started. Part 0 is
	 * needed; the others only share the work. */
	s->nparts = 0;
	for (k = 0; k < want; k++) {
		r = pthread_create(&s->part[k].th.thread, NULL,
				   threads_part_thread, &s->part[k]);
		if (r != 0)
			break;
		s->part[k].th.started = true;
		s->nparts++;
	}
	if (s->nparts == 0) {
		errmsg_set(err, errlen, "cannot start a tracing thread: %s",
			   strerror(r));
		r = -r;
		goto out;
	}
	pthread_mutex_lock(&s->lock);
	for (k = 0; k < s->nparts; k++) {
		s->part[k].tids = tids + n * k / s->nparts;
		s->part[k].ntids = n * (k + 1) / s->nparts - n * k / s->nparts;
	}
	s->go = true;
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->lock);

	for (k = 0; k < s->nparts; k++)
		threads_tracer_join(&s->part[k].th);

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
out:
	pthread_mutex_destroy(&s->lock);
	pthread_cond_destroy(&s->cond);
	free(s);
	free(tids);
	return r;
}

/* ---- one at a time ------------------------------------------------------ */

struct threads_each {
	struct threads_tracer th;
	const struct threads_opts *o;
	struct threads_dump *d;
	size_t *cap;
	struct ptunwind *u;
	size_t max;
	char *err;
	size_t errlen;
	int r;
};

/* Runs on a tracing thread of its own. A thread given up in uninterruptible
 * sleep stays traced until that thread exits, at the end of the dump. */
static int threads_each_run(struct threads_each *e)
{
	const struct threads_opts *o = e->o;
	struct threads_dump *d = e->d;
	size_t *cap = e->cap, max = e->max, errlen = e->errlen;
	struct ptunwind *u = e->u;
	char *err = e->err;
	struct threads_scratch sc;
	int r = threads_scratch_init(&sc, max);

	threads_tracer_begin(&e->th);
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
				tracer_wait_stopped(&tr, THREADS_STOP_TIMEOUT_NS,
						    THREADS_UNINT_WAIT_NS);
				threads_note_unint(d, &tr);
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
			e->th.left_traced += tracer_detach_all(&tr,
							       THREADS_UNINT_WAIT_NS);
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

static void *threads_each_thread(void *arg)
{
	struct threads_each *e = arg;
	e->r = threads_each_run(e);
	return NULL;
}

static int threads_capture_each(const struct threads_opts *o,
				struct threads_dump *d, size_t *cap,
				struct ptunwind *u, size_t max, char *err,
				size_t errlen)
{
	struct threads_each e = {
		.o = o, .d = d, .cap = cap, .u = u, .max = max, .err = err,
		.errlen = errlen,
	};
	int r = pthread_create(&e.th.thread, NULL, threads_each_thread, &e);

	if (r != 0) {
		errmsg_set(err, errlen, "cannot start a tracing thread: %s",
			   strerror(r));
		return -r;
	}
	e.th.started = true;
	threads_tracer_join(&e.th);
	return e.r;
}

int threads_capture(const struct threads_opts *opts, struct threads_dump **out,
		    char *err, size_t errlen)
{
	struct threads_dump *d;
	struct ptunwind *u = NULL;
	size_t cap = 0, max = opts->max_frames ? opts->max_frames :
					 threads_defaults.max_frames;
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

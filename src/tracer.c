/*
 * tracer.c - PTRACE_SEIZE / PTRACE_INTERRUPT / waitpid / PTRACE_DETACH of
 * the threads of one process. See tracer.h for the safety argument.
 */
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/ptrace.h>
#include <sys/wait.h>

#include "procfs.h"
#include "tracer.h"

uint64_t tracer_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void tracer_init(struct tracer *tr, pid_t pid, bool trace_clone)
{
	memset(tr, 0, sizeof(*tr));
	tr->pid = pid;
	tr->trace_clone = trace_clone;
}

void tracer_release(struct tracer *tr)
{
	tracer_detach_all(tr);
	free(tr->t);
	memset(tr, 0, sizeof(*tr));
}

long tracer_find(const struct tracer *tr, pid_t tid)
{
	for (size_t i = 0; i < tr->n; i++)
		if (tr->t[i].tid == tid)
			return (long)i;
	return -1;
}

static int tracer_add(struct tracer *tr, pid_t tid, size_t *idx)
{
	if (tr->n == tr->cap) {
		size_t cap = tr->cap ? tr->cap * 2 : 64;
		struct tracer_thread *nt = realloc(tr->t, cap * sizeof(*nt));
		if (!nt)
			return -ENOMEM;
		tr->t = nt;
		tr->cap = cap;
	}
	memset(&tr->t[tr->n], 0, sizeof(tr->t[0]));
	tr->t[tr->n].tid = tid;
	*idx = tr->n++;
	return 0;
}

int tracer_seize(struct tracer *tr, pid_t tid, size_t *idx, char *err,
		 size_t errlen)
{
	long opts = PTRACE_O_TRACEEXIT;
	pid_t tracer = 0;
	int r;

	r = tracer_add(tr, tid, idx);
	if (r < 0)
		return r;
	struct tracer_thread *t = &tr->t[*idx];
	if (tr->trace_clone)
		opts |= PTRACE_O_TRACECLONE;
	if (ptrace(PTRACE_SEIZE, tid, 0L, opts) < 0) {
		r = -errno;
		t->error = r;
		if (r == -ESRCH) {
			t->state = TRACER_GONE;
			return r;
		}
		/* EPERM also when the thread is already a zombie (ptrace_attach
		 * refuses exit_state), which is a vanished thread to us. */
		struct procfs_stat st;
		if (procfs_read_stat(tr->pid, tid, &st) < 0 ||
		    st.state == 'Z' || st.state == 'X') {
			t->state = TRACER_GONE;
			return -ESRCH;
		}
		if (r == -EPERM && procfs_tracer_pid(tr->pid, &tracer) == 0 &&
		    tracer > 0 && err) {
			char comm[16] = "?";
			procfs_read_comm(tracer, tracer, comm, sizeof(comm));
			snprintf(err, errlen, "pid %d is already traced by pid %d (%s)",
				 (int)tr->pid, (int)tracer, comm);
		} else if (err) {
			snprintf(err, errlen, "ptrace(PTRACE_SEIZE, %d): %s",
				 (int)tid, strerror(-r));
		}
		return r;
	}
	t->state = TRACER_SEIZED;
	t->interrupt_ns = tracer_now_ns();
	if (ptrace(PTRACE_INTERRUPT, tid, 0L, 0L) < 0 && errno == ESRCH) {
		/* Exited between the two calls: waitpid will report it. */
	}
	return 0;
}

/* One waitpid report for thread idx. Returns true when the thread reached
 * a final state for this wait (stopped or gone). */
static bool tracer_handle(struct tracer *tr, size_t idx, int status)
{
	struct tracer_thread *t = &tr->t[idx];
	int event = status >> 16;
	int sig;

	if (WIFEXITED(status) || WIFSIGNALED(status)) {
		t->state = TRACER_GONE;
		return true;
	}
	if (!WIFSTOPPED(status))
		return false;
	sig = WSTOPSIG(status);
	switch (event) {
	case PTRACE_EVENT_STOP:
		/* With SEIZE a group-stop is reported as PTRACE_EVENT_STOP with
		 * the stop signal; an INTERRUPT (or the first stop of an
		 * auto-attached clone) with SIGTRAP (kernel do_jobctl_trap). */
		if (sig != SIGTRAP)
			t->group_stop = true;
		break;
	case PTRACE_EVENT_CLONE: {
		unsigned long msg = 0;
		size_t nidx;
		if (ptrace(PTRACE_GETEVENTMSG, t->tid, 0L, &msg) == 0 && msg &&
		    tracer_find(tr, (pid_t)msg) < 0 &&
		    tracer_add(tr, (pid_t)msg, &nidx) == 0) {
			/* The new thread starts traced with a trap pending. */
			tr->t[nidx].state = TRACER_SEIZED;
			tr->t[nidx].cloned = true;
			tr->t[nidx].interrupt_ns = tracer_now_ns();
			t = &tr->t[idx];
		}
		break;
	}
	case PTRACE_EVENT_EXIT:
		t->exiting = true;
		break;
	case 0:
		/* Signal-delivery-stop: the thread is stopped with sig
		 * intercepted. Keep it to hand back on detach. SIGTRAP here is
		 * a real signal too (SEIZE never sends a fake one). */
		t->pending_sig = sig;
		break;
	default:
		break;
	}
	t->state = TRACER_STOPPED;
	return true;
}

size_t tracer_wait_stopped(struct tracer *tr, uint64_t timeout_ns)
{
	uint64_t deadline = tracer_now_ns() + timeout_ns;
	unsigned idle = 0;
	size_t stopped = 0;

	for (;;) {
		bool pending = false, progress = false;
		for (size_t i = 0; i < tr->n; i++) {
			if (tr->t[i].state != TRACER_SEIZED)
				continue;
			int status;
			pid_t r = waitpid(tr->t[i].tid, &status, __WALL | WNOHANG);
			if (r < 0 && errno == EINTR) {
				pending = true;
				continue;
			}
			if (r < 0) {
				/* ECHILD: reaped or never ours - gone either way. */
				tr->t[i].state = TRACER_GONE;
				progress = true;
				continue;
			}
			if (r == 0) {
				pending = true;
				continue;
			}
			progress = true;
			if (tracer_handle(tr, i, status)) {
				if (tr->t[i].state == TRACER_STOPPED)
					stopped++;
			} else {
				pending = true;
			}
		}
		if (!pending)
			break;
		if (tracer_now_ns() > deadline) {
			for (size_t i = 0; i < tr->n; i++)
				if (tr->t[i].state == TRACER_SEIZED)
					tr->t[i].error = -ETIMEDOUT;
			break;
		}
		if (progress) {
			idle = 0;
			continue;
		}
		/* Interrupted threads stop within microseconds; spin briefly
		 * before sleeping so a snapshot pauses the target as little as
		 * possible. */
		if (++idle < 50) {
			sched_yield();
		} else {
			struct timespec ts = { 0, 20000 };
			nanosleep(&ts, NULL);
		}
	}
	return stopped;
}

int tracer_detach(struct tracer *tr, size_t idx)
{
	struct tracer_thread *t = &tr->t[idx];
	int r = 0;

	if (t->state == TRACER_SEIZED) {
		/* PTRACE_DETACH needs a stopped tracee: wait for the stop the
		 * INTERRUPT asked for (bounded), then detach. */
		int status;
		uint64_t deadline = tracer_now_ns() + 500000000u;
		while (t->state == TRACER_SEIZED) {
			pid_t w = waitpid(t->tid, &status, __WALL | WNOHANG);
			if (w < 0 && errno != EINTR) {
				t->state = TRACER_GONE;
				break;
			}
			if (w > 0) {
				tracer_handle(tr, idx, status);
				t = &tr->t[idx];
				continue;
			}
			if (tracer_now_ns() > deadline)
				/* Still running (uninterruptible sleep): it
				 * stays traced until we exit, when the kernel
				 * detaches it. */
				return -ETIMEDOUT;
			struct timespec ts = { 0, 50000 };
			nanosleep(&ts, NULL);
		}
	}
	if (t->state == TRACER_STOPPED) {
		if (ptrace(PTRACE_DETACH, t->tid, 0L, (long)t->pending_sig) < 0)
			r = -errno;
		uint64_t held = tracer_now_ns() - t->interrupt_ns;
		if (held > tr->longest_stop_ns)
			tr->longest_stop_ns = held;
		t->state = r == -ESRCH ? TRACER_GONE : TRACER_DETACHED;
		if (r == -ESRCH)
			r = 0;
	}
	return r;
}

void tracer_detach_all(struct tracer *tr)
{
	/* Clones found while detaching are appended: loop on tr->n. */
	for (size_t i = 0; i < tr->n; i++)
		tracer_detach(tr, i);
}

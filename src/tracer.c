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
#include <unistd.h>
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

/* Whether pid is a child of this process (record -- COMMAND). */
static bool tracer_own_child(pid_t pid)
{
	struct procfs_stat st;

	return procfs_read_stat(pid, 0, &st) == 0 && st.ppid == getpid();
}

pid_t tracer_waitpid(const struct tracer *tr, pid_t tid, int *status, int flags)
{
	if (tid == tr->pid) {
		siginfo_t si;

		/* Looked at first, left in place (WNOWAIT). */
		memset(&si, 0, sizeof(si));
		if (waitid(P_PID, (id_t)tid, &si, WEXITED | WSTOPPED | __WALL |
			   WNOWAIT | (flags & WNOHANG)) < 0)
			return -1;
		if (si.si_pid == 0)
			return 0;	/* WNOHANG: nothing yet */
		if ((si.si_code == CLD_EXITED || si.si_code == CLD_KILLED ||
		     si.si_code == CLD_DUMPED) && tracer_own_child(tid)) {
			/* waitpid's encoding of what the parent will read. */
			*status = si.si_code == CLD_EXITED ?
				  (si.si_status & 0xff) << 8 :
				  (si.si_status & 0x7f) |
				  (si.si_code == CLD_DUMPED ? WCOREFLAG : 0);
			return tid;
		}
		flags |= WNOHANG;	/* its report is there */
	}
	return waitpid(tid, status, __WALL | flags);
}

void tracer_init(struct tracer *tr, pid_t pid, bool trace_clone)
{
	memset(tr, 0, sizeof(*tr));
	tr->pid = pid;
	tr->trace_clone = trace_clone;
}

void tracer_release(struct tracer *tr)
{
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

/* After this long without a thread stopping, the wait looks in /proc at
 * the threads still running; and again at this interval. An interrupted
 * thread that can run stops within microseconds, so a millisecond of
 * silence is worth one stat read per thread still running. */
#define TRACER_PROBE_NS 1000000u
/* tracer_detach_all's wait for threads seized but not yet waited for. */
#define TRACER_DETACH_TIMEOUT_NS 500000000u

static bool tracer_unint_state(char s)
{
	/* TASK_UNINTERRUPTIBLE shows as D, TASK_IDLE (uninterruptible, not
	 * counted in the load) as I: signal_wake_up, which PTRACE_INTERRUPT
	 * uses, wakes neither (docs/design.md §3.1). */
	return s == 'D' || s == 'I';
}

/* Whether every thread still running was seen in uninterruptible sleep at
 * some probe. Reads /proc only for those not seen so far, and stops at the
 * first one running or interruptible: the wait goes on for it anyway. */
static bool tracer_all_unint(struct tracer *tr)
{
	for (size_t i = 0; i < tr->n; i++) {
		struct tracer_thread *t = &tr->t[i];
		struct procfs_stat st;
		if (t->state != TRACER_SEIZED || t->sleep_state)
			continue;
		if (procfs_read_stat(tr->pid, t->tid, &st) < 0 ||
		    !tracer_unint_state(st.state))
			return false;
		t->sleep_state = st.state;
	}
	return true;
}

/* Stops waiting for the threads still running: they stay traced, their
 * stop pending (see tracer.h). */
static void tracer_give_up(struct tracer *tr)
{
	for (size_t i = 0; i < tr->n; i++) {
		struct tracer_thread *t = &tr->t[i];
		if (t->state != TRACER_SEIZED)
			continue;
		t->state = TRACER_UNSTOPPED;
		t->error = t->sleep_state ? -EAGAIN : -ETIMEDOUT;
	}
}

size_t tracer_wait_stopped(struct tracer *tr, uint64_t timeout_ns,
			   uint64_t unint_wait_ns)
{
	uint64_t start = tracer_now_ns(), deadline = start + timeout_ns;
	uint64_t last_stop = start, next_probe = start + TRACER_PROBE_NS;
	bool all_unint = false;
	unsigned idle = 0;
	size_t stopped = 0;

	for (;;) {
		bool pending = false, progress = false;
		for (size_t i = 0; i < tr->n; i++) {
			if (tr->t[i].state != TRACER_SEIZED)
				continue;
			int status;
			pid_t r = tracer_waitpid(tr, tr->t[i].tid, &status, WNOHANG);
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
		uint64_t now = tracer_now_ns();
		if (progress) {
			idle = 0;
			last_stop = now;
			next_probe = now + TRACER_PROBE_NS;
			all_unint = false;
			continue;
		}
		if (now >= next_probe) {
			next_probe = now + TRACER_PROBE_NS;
			all_unint = tracer_all_unint(tr);
		}
		if ((all_unint && now - last_stop >= unint_wait_ns) ||
		    now > deadline) {
			tracer_give_up(tr);
			break;
		}
		/* Interrupted threads stop within microseconds; spin briefly
		 * before sleeping so a snapshot pauses the target as little as
		 * possible. Threads in uninterruptible sleep take as long as
		 * their sleep: polling them every half millisecond is enough. */
		if (++idle < 50) {
			sched_yield();
		} else {
			struct timespec ts = { 0, all_unint ? 500000 : 20000 };
			nanosleep(&ts, NULL);
		}
	}
	return stopped;
}

int tracer_detach(struct tracer *tr, size_t idx)
{
	struct tracer_thread *t = &tr->t[idx];
	int r = 0;

	if (t->state == TRACER_SEIZED || t->state == TRACER_UNSTOPPED) {
		/* PTRACE_DETACH needs a stopped tracee: it may have stopped
		 * since (left its uninterruptible sleep); if not, it stays
		 * traced until the tracing thread exits. */
		int status;
		pid_t w;
		do
			w = tracer_waitpid(tr, t->tid, &status, WNOHANG);
		while (w < 0 && errno == EINTR);
		if (w < 0) {
			t->state = TRACER_GONE;
			return 0;
		}
		if (w == 0 || !tracer_handle(tr, idx, status))
			return -EBUSY;
		t = &tr->t[idx];
	}
	if (t->state == TRACER_STOPPED) {
		if (ptrace(PTRACE_DETACH, t->tid, 0L, (long)t->pending_sig) < 0)
			r = -errno;
		/* A thread given up and stopped only now was never held with
		 * the others: it does not count as a stop of the dump. */
		uint64_t held = tracer_now_ns() - t->interrupt_ns;
		if (!t->error && held > tr->longest_stop_ns)
			tr->longest_stop_ns = held;
		t->state = r == -ESRCH ? TRACER_GONE : TRACER_DETACHED;
		if (r == -ESRCH)
			r = 0;
	}
	return r;
}

size_t tracer_detach_all(struct tracer *tr, uint64_t unint_wait_ns)
{
	size_t left = 0;

	/* Threads seized but never waited for (the capture failed between
	 * the seizes and the wait) get the wait now: most are about to stop. */
	for (size_t i = 0; i < tr->n; i++)
		if (tr->t[i].state == TRACER_SEIZED) {
			tracer_wait_stopped(tr, TRACER_DETACH_TIMEOUT_NS,
					    unint_wait_ns);
			break;
		}
	/* Clones found while detaching are appended: loop on tr->n. */
	for (size_t i = 0; i < tr->n; i++)
		if (tracer_detach(tr, i) == -EBUSY)
			left++;
	return left;
}

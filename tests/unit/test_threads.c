/*
 * test_threads.c - thread dumps of the parked workload (built without frame
 * pointers) with both unwinders and both modes: every thread found, the
 * right functions in the right order, blocking system calls named, the
 * target running and untraced afterwards, a stopped target still stopped,
 * a traced target refused with the tracer named, and the error cases;
 * and a thread in uninterruptible sleep: reported without a stack, with its
 * wait channel, and no thread traced when threads_capture returns to a
 * caller that lives on (as cprof serve does); a traced child of ours that
 * exits leaves its status to our own waitpid (tracer_waitpid).
 */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "check.h"
#include "procfs.h"
#include "explain.h"
#include "threads_write.h"
#include "tracer.h"

static pid_t start_parked(void)
{
	int fds[2];
	char buf[64];
	pid_t pid;

	if (pipe(fds) < 0)
		return -1;
	pid = fork();
	if (pid == 0) {
		dup2(fds[1], 1);
		close(fds[0]);
		execl(WORKLOAD_DIR "/parked_nofp", "parked_nofp", "30", (char *)NULL);
		_exit(127);
	}
	close(fds[1]);
	ssize_t n = read(fds[0], buf, sizeof(buf) - 1);
	close(fds[0]);
	if (n <= 0 || strncmp(buf, "ready", 5) != 0) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		return -1;
	}
	return pid;
}

static void stop_workload(pid_t pid)
{
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

/* Every thread of pid: count of threads in state c. */
static int count_state(pid_t pid, char c)
{
	pid_t *tids;
	size_t n;
	int k = 0;
	if (procfs_list_tasks(pid, &tids, &n) < 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		struct procfs_stat st;
		if (procfs_read_stat(pid, tids[i], &st) == 0 && st.state == c)
			k++;
	}
	free(tids);
	return k;
}

static const struct threads_thread *by_name(const struct threads_dump *d,
					    const char *name)
{
	for (size_t i = 0; i < d->n; i++)
		if (strcmp(d->threads[i].name, name) == 0)
			return &d->threads[i];
	return NULL;
}

/* The workload's own functions of t's stack, outermost last, joined by
 * spaces (inlined functions included). */
static void own_functions(struct symbolizer *sym, const struct threads_thread *t,
			  char *buf, size_t len)
{
	static const char *own[] = { "wait_inlined", "park_cond", "park_sleep",
		"park_pipe", "park_busy", "handler_sleep", "on_usr1",
		"park_handler", "park_clock", "level_b", "level_a",
		"thread_main", NULL };
	buf[0] = '\0';
	for (size_t i = 0; i < t->npcs; i++) {
		const struct sym_frame *f = symbolizer_lookup(sym, t->pcs[i],
							      !t->is_activation[i]);
		for (size_t j = 0; f && j < f->nlines; j++) {
			const char *fn = f->lines[j].function;
			for (int k = 0; fn && own[k]; k++)
				if (strcmp(fn, own[k]) == 0) {
					strncat(buf, fn, len - strlen(buf) - 1);
					strncat(buf, " ", len - strlen(buf) - 1);
				}
		}
	}
}

static void check_dump(pid_t pid, enum threads_unwinder uw, bool each)
{
	struct threads_opts o = { .pid = pid, .unwinder = uw, .one_at_a_time = each };
	struct threads_dump *d = NULL;
	struct symbolizer *sym = NULL;
	char err[256] = "", fns[512];
	pid_t tracer = -1;

	fprintf(stderr, "-- unwinder %s, %s\n", uw == THREADS_UNWIND_LIBDW ?
		"libdw" : "libunwind", each ? "one at a time" : "snapshot");
	int r = threads_capture(&o, &d, err, sizeof(err));
	CHECK_INT(r, 0);
	if (r < 0) {
		fprintf(stderr, "capture: %s\n", err);
		return;
	}
	/* Nothing left stopped or traced. */
	CHECK_INT(count_state(pid, 't'), 0);
	CHECK_INT(count_state(pid, 'T'), 0);
	CHECK(procfs_tracer_pid(pid, &tracer) == 0 && tracer == 0);

	CHECK_INT(d->n, 7);		/* main + 6 parked */
	CHECK_INT(d->threads[0].tid, pid);
	for (size_t i = 1; i < d->n; i++)
		CHECK(d->threads[i].tid > d->threads[i - 1].tid || i == 1);
	for (size_t i = 0; i < d->n; i++) {
		CHECK(!d->threads[i].exited);
		CHECK(d->threads[i].npcs > 2);
	}
	CHECK(d->longest_stop_ns > 0);

	const struct threads_thread *t = by_name(d, "sleep");
	/* After an earlier dump interrupted it, the kernel resumes a sleep
	 * through restart_syscall (restart_block), and /proc says so. */
	CHECK(t && (t->syscall == SYS_clock_nanosleep || t->syscall == SYS_nanosleep ||
		    t->syscall == SYS_restart_syscall));
	t = by_name(d, "pipe");
	CHECK(t && t->syscall == SYS_read);
	t = by_name(d, "cond");
	CHECK(t && t->syscall == SYS_futex && t->state == 'S');

	r = symbolizer_new(pid, false, &sym, err, sizeof(err));
	CHECK_INT(r, 0);
	if (r == 0) {
		static const struct { const char *name, *want; } cases[] = {
			{ "cond", "wait_inlined park_cond level_b level_a thread_main " },
			{ "sleep", "park_sleep level_b level_a thread_main " },
			{ "pipe", "park_pipe level_b level_a thread_main " },
			{ "busy", "park_busy level_b level_a thread_main " },
			{ "handler", "handler_sleep on_usr1 park_handler level_b level_a thread_main " },
			{ "clock", "park_clock level_b level_a thread_main " },
		};
		for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
			t = by_name(d, cases[i].name);
			CHECK(t != NULL);
			if (!t)
				continue;
			own_functions(sym, t, fns, sizeof(fns));
			CHECK_STR(fns, cases[i].want);
		}

		/* pprof: one count per thread. */
		struct profile *p = NULL;
		CHECK_INT(threads_to_profile(d, sym, &p), 0);
		if (p) {
			int64_t total = 0;
			for (size_t i = 0; i < p->nsamples; i++)
				total += p->samples[i].values[0];
			CHECK_INT(total, (long long)d->n);
			profile_free(p);
		}

		/* The text formats name the threads and functions. */
		char *buf = NULL;
		size_t len = 0;
		FILE *f = open_memstream(&buf, &len);
		CHECK_INT(threads_write(d, sym, THREADS_FMT_TEXT, f), 0);
		CHECK_INT(threads_write(d, sym, THREADS_FMT_SUMMARY, f), 0);
		CHECK_INT(threads_write(d, sym, THREADS_FMT_GO_DEBUG1, f), 0);
		CHECK_INT(threads_write(d, sym, THREADS_FMT_JSON, f), 0);
		fclose(f);
		char head[64];
		snprintf(head, sizeof(head), "thread %d (parked_nofp) [", (int)pid);
		CHECK(strstr(buf, head) == buf);
		CHECK(strstr(buf, "park_handler(...)") != NULL);
		CHECK(strstr(buf, "wait_inlined(...) [inlined]") != NULL);
		CHECK(strstr(buf, "in futex") != NULL);
		CHECK(strstr(buf, "threads profile: total 7\n") != NULL);
		CHECK(strstr(buf, "{\"pid\":") != NULL);
		free(buf);
		symbolizer_free(sym);
	}
	threads_dump_free(d);
}

static void check_truncation(pid_t pid)
{
	struct threads_opts o = { .pid = pid, .max_frames = 3 };
	struct threads_dump *d = NULL;
	char err[256];
	CHECK_INT(threads_capture(&o, &d, err, sizeof(err)), 0);
	if (!d)
		return;
	const struct threads_thread *t = by_name(d, "handler");
	CHECK(t && t->npcs == 3 && t->truncated);
	threads_dump_free(d);
}

static void check_stopped_target(pid_t pid)
{
	struct threads_opts o = { .pid = pid };
	struct threads_dump *d = NULL;
	char err[256];
	pid_t *tids = NULL;
	size_t ntids = 0;
	CHECK_INT(procfs_list_tasks(pid, &tids, &ntids), 0);
	free(tids);
	int total = (int)ntids;

	kill(pid, SIGSTOP);
	for (int i = 0; i < 1000 && count_state(pid, 'T') < total; i++)
		usleep(1000);
	CHECK_INT(count_state(pid, 'T'), total);
	CHECK_INT(threads_capture(&o, &d, err, sizeof(err)), 0);
	if (d) {
		CHECK_INT(d->threads[0].state, 'T');
		CHECK(d->threads[0].npcs > 0);
	}
	threads_dump_free(d);
	/* Still stopped: the group stop is re-entered on detach. */
	usleep(20000);
	CHECK_INT(count_state(pid, 'T'), total);
	kill(pid, SIGCONT);
	for (int i = 0; i < 1000 && count_state(pid, 'T') > 0; i++)
		usleep(1000);
	CHECK_INT(count_state(pid, 'T'), 0);
}

static void check_traced_target(pid_t pid)
{
	struct threads_opts o = { .pid = pid };
	struct threads_dump *d = NULL;
	char err[256] = "", want[64];
	int go[2], done[2];
	char c;

	if (pipe(go) < 0 || pipe(done) < 0)
		return;
	pid_t holder = fork();
	if (holder == 0) {
		close(go[0]);
		close(done[1]);
		alarm(20);
		c = ptrace(PTRACE_SEIZE, pid, 0L, 0L) == 0 ? 'y' : 'n';
		if (write(go[1], &c, 1) < 0)
			_exit(1);
		/* Hold the seize until the test is done (EOF). */
		if (read(done[0], &c, 1) < 0)
			_exit(1);
		_exit(0);
	}
	close(go[1]);
	close(done[0]);
	CHECK(read(go[0], &c, 1) == 1 && c == 'y');
	CHECK_INT(threads_capture(&o, &d, err, sizeof(err)), -EPERM);
	snprintf(want, sizeof(want), "traced by pid %d", (int)holder);
	CHECK(strstr(err, want) != NULL);
	char buf[512];
	explain_ptrace(-EPERM, pid, err, buf, sizeof(buf));
	CHECK(strstr(buf, "hint:") != NULL);
	close(done[1]);
	close(go[0]);
	waitpid(holder, NULL, 0);
}

/* Reads TracerPid of every thread of pid: the number of threads traced. */
static int count_traced(pid_t pid)
{
	pid_t *tids, tracer;
	size_t n;
	int k = 0;
	char path[64], line[128];
	if (procfs_list_tasks(pid, &tids, &n) < 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "/proc/%d/task/%d/status", (int)pid,
			 (int)tids[i]);
		FILE *f = fopen(path, "r");
		while (f && fgets(line, sizeof(line), f))
			if (sscanf(line, "TracerPid: %d", &tracer) == 1 && tracer)
				k++;
		if (f)
			fclose(f);
	}
	free(tids);
	return k;
}

/* tests/workloads/dstate.c: its vforker thread sleeps uninterruptibly in
 * vfork for 3 s. Both modes dump it then; afterwards nothing of the target
 * may be traced, although this process (the caller) lives on, and the
 * vforker must run on when the child exits: the workload then ends 0 by
 * itself. */
static void check_uninterruptible(void)
{
	int fds[2];
	char buf[128];
	pid_t vforker = 0, wpid = 0;

	if (pipe(fds) < 0)
		return;
	pid_t pid = fork();
	if (pid == 0) {
		dup2(fds[1], 1);
		close(fds[0]);
		execl(WORKLOAD_DIR "/dstate_nofp", "dstate_nofp", "3", "/dev/null",
		      "30", (char *)NULL);
		_exit(127);
	}
	close(fds[1]);
	/* The pipe stays open: the workload reports on it when vfork returns. */
	FILE *out = fdopen(fds[0], "r");
	CHECK(out && fgets(buf, sizeof(buf), out) &&
	      sscanf(buf, "ready %d %d", &wpid, &vforker) == 2 && wpid == pid);
	if (vforker <= 0) {
		stop_workload(pid);
		if (out)
			fclose(out);
		return;
	}
	struct procfs_stat st = { 0 };
	for (int i = 0; i < 2000; i++) {
		if (procfs_read_stat(pid, vforker, &st) == 0 && st.state == 'D')
			break;
		usleep(1000);
	}
	CHECK_INT(st.state, 'D');
	for (int each = 0; each < 2; each++) {
		struct threads_opts o = { .pid = pid, .one_at_a_time = each };
		struct threads_dump *d = NULL;
		char err[256] = "";
		fprintf(stderr, "-- uninterruptible sleep, %s\n",
			each ? "one at a time" : "snapshot");
		CHECK_INT(threads_capture(&o, &d, err, sizeof(err)), 0);
		/* At once: the tracing threads are gone, and so is the trace. */
		CHECK_INT(count_traced(pid), 0);
		if (!d)
			continue;
		CHECK_INT(d->n, 6);	/* main, 3 parked, heartbeat, vforker */
		for (size_t i = 0; i < d->n; i++) {
			const struct threads_thread *t = &d->threads[i];
			if (t->tid != vforker) {
				CHECK(t->npcs > 2 && !t->error && !t->uninterruptible);
				continue;
			}
			CHECK(t->uninterruptible);
			CHECK_INT(t->state, 'D');
			CHECK_INT(t->npcs, 0);
			CHECK_INT(t->error, -EAGAIN);
			CHECK_INT(t->syscall, SYS_vfork);
			/* wait_for_vfork_done is inlined into kernel_clone on
			 * 6.x kernels: any named function will do. */
			CHECK(t->wchan[0] != '\0' && strcmp(t->wchan, "0") != 0);
			char why[128];
			threads_no_stack_reason(t, why, sizeof(why));
			CHECK(strncmp(why, "no user stack: in uninterruptible sleep in ",
				      43) == 0);
		}
		threads_dump_free(d);
	}
	/* The child sleeps 3 s, then the vforker returns and main exits 0; a
	 * vforker left in a ptrace stop would hold it until the alarm. */
	CHECK(fgets(buf, sizeof(buf), out) && strncmp(buf, "vfork returned", 14) == 0);
	fclose(out);
	int status = 0;
	CHECK(waitpid(pid, &status, 0) == pid);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

static void check_errors(void)
{
	struct threads_opts o = { 0 };
	struct threads_dump *d = NULL;
	char err[256], buf[512];

	o.pid = getpid();
	CHECK_INT(threads_capture(&o, &d, err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "itself") != NULL);
	o.pid = 2;	/* kthreadd */
	CHECK_INT(threads_capture(&o, &d, err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "kernel thread") != NULL);
	explain_ptrace(-EINVAL, 2, err, buf, sizeof(buf));
	CHECK(strstr(buf, "\nhint: ") != NULL);

	pid_t z = fork();
	if (z == 0)
		_exit(0);
	/* Not reaped yet: a zombie. */
	for (int i = 0; i < 1000 && count_state(z, 'Z') != 1; i++)
		usleep(1000);
	o.pid = z;
	CHECK_INT(threads_capture(&o, &d, err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "zombie") != NULL);
	waitpid(z, NULL, 0);
	o.pid = z;
	CHECK_INT(threads_capture(&o, &d, err, sizeof(err)), -ESRCH);
	explain_ptrace(-EPERM, 1, "ptrace(PTRACE_SEIZE, 1): Operation not permitted",
			buf, sizeof(buf));
	CHECK(strstr(buf, "CAP_SYS_PTRACE") != NULL);
	if (geteuid() == 0) {
		/* Root is refused for other reasons than ownership: none of
		 * the hints may tell it to become root. */
		CHECK(strstr(buf, "security module") != NULL);
		CHECK(strstr(buf, "run as") == NULL);
	} else {
		CHECK(strstr(buf, "ptrace_scope") != NULL);
	}
}

/* Stand-ins for thread start-up code, named as libc names it: the
 * symbolizer reads this binary's local symbols too. */
__attribute__((noinline, used)) static int start_thread(int x) { return x + 1; }
__attribute__((noinline, used)) static int thread_start(int x) { return x + 2; }
__attribute__((noinline, used)) static int tc_routine(int x) { return x * 3 + 5; }
__attribute__((noinline, used)) static int tc_leaf(int x) { return x * 7 + 9; }

static void check_start_routine(void)
{
	const char *thread[] = { "nanosleep", "park", "worker", "start_thread", "clone3" };
	CHECK_INT(threads_start_routine_frames(thread, 5), 3);
	const char *mainth[] = { "pause", "main", "__libc_start_call_main",
				 "__libc_start_main_impl", "_start" };
	CHECK_INT(threads_start_routine_frames(mainth, 5), 4);
	const char *unknown[] = { "a", NULL, "clone" };
	CHECK_INT(threads_start_routine_frames(unknown, 3), 2);
	const char *versioned[] = { "main", "__libc_start_call_main",
				    "__libc_start_main@@GLIBC_2.34", "_start" };
	CHECK_INT(threads_start_routine_frames(versioned, 4), 4);
	const char *vthread[] = { "x", "worker", "start_thread@GLIBC_2.2.5", "__clone3" };
	CHECK_INT(threads_start_routine_frames(vthread, 4), 3);
	const char *prefix[] = { "worker", "start_threadx" };
	CHECK_INT(threads_start_routine_frames(prefix, 2), 1);
	const char *only[] = { "start_thread", "clone3" };
	CHECK_INT(threads_start_routine_frames(only, 2), 2);
	CHECK_INT(threads_start_routine_frames(only, 0), 0);
}

/* threadcreate's view: stacks cut to their start routine, which is named
 * by its entry so that threads stopped at different lines of it group. */
static void check_creation_view(void)
{
	struct symbolizer *sym = NULL;
	char err[256] = "";
	uint64_t st = (uint64_t)(uintptr_t)start_thread, ts = (uint64_t)(uintptr_t)thread_start;
	uint64_t rt = (uint64_t)(uintptr_t)tc_routine, lf = (uint64_t)(uintptr_t)tc_leaf;

	CHECK_INT(symbolizer_new(getpid(), false, &sym, err, sizeof(err)), 0);
	if (!sym)
		return;
	uint64_t pcs0[] = { lf + 1, rt + 4, st + 2, ts + 2 };
	uint64_t pcs1[] = { rt + 2, st + 2, ts + 2 };	/* another line of it */
	uint64_t pcs2[] = { lf + 2 };			/* no start-up code */
	bool act0[4] = { true, false, false, false }, act1[3] = { true, false, false };
	struct threads_thread th[3] = {
		{ .tid = 10, .pcs = pcs0, .is_activation = act0, .npcs = 4, .truncated = true },
		{ .tid = 11, .pcs = pcs1, .is_activation = act1, .npcs = 3 },
		{ .tid = 12, .pcs = pcs2, .npcs = 1 },
	};
	struct threads_dump d = { .pid = 42, .threads = th, .n = 3 };
	struct threads_dump *v = NULL;

	CHECK_INT(threads_creation_view(&d, sym, &v), 0);
	if (v) {
		CHECK_INT(v->n, 3);
		CHECK_INT(v->pid, 42);
		CHECK_INT(v->threads[0].tid, 10);
		CHECK_INT(v->threads[0].npcs, 3);
		CHECK(!v->threads[0].truncated);
		CHECK(v->threads[0].pcs[0] == rt);	/* the routine's entry */
		CHECK(v->threads[0].is_activation[0]);
		CHECK(v->threads[0].pcs[1] == st + 2 && v->threads[0].pcs[2] == ts + 2);
		CHECK(!v->threads[0].is_activation[1]);
		CHECK_INT(v->threads[1].npcs, 3);
		CHECK(v->threads[1].pcs[0] == rt);	/* groups with the first */
		CHECK_INT(v->threads[2].npcs, 1);
		CHECK(v->threads[2].pcs[0] == lf);
		/* The dump it came from is untouched. */
		CHECK(th[0].pcs == pcs0 && th[0].npcs == 4 && pcs0[1] == rt + 4);
	}
	threads_dump_free(v);
	symbolizer_free(sym);
}

/* A child of ours that exits while we trace it (record -- COMMAND with the
 * heap injector): the tracer's wait reports the exit but leaves it to the
 * parent's waitpid, which still reads the status (with a plain waitpid in
 * the tracer it got ECHILD, and record said the command exited 0). */
static void check_own_child_exit(void)
{
	struct tracer tr;
	size_t idx;
	int go[2], st = 0;
	char c, err[256] = "";

	CHECK(pipe(go) == 0);
	pid_t pid = fork();
	if (pid == 0) {
		close(go[1]);
		alarm(20);
		if (read(go[0], &c, 1) < 0)
			_exit(1);
		_exit(3);
	}
	CHECK(pid > 0);
	close(go[0]);
	if (pid <= 0)
		return;
	tracer_init(&tr, pid, false);
	CHECK(tracer_seize(&tr, pid, &idx, err, sizeof(err)) == 0);
	CHECK(tracer_wait_stopped(&tr, 5000000000ull, 1000000000ull) == 1);
	CHECK(ptrace(PTRACE_CONT, pid, 0L, 0L) == 0);
	close(go[1]);	/* the child's read ends: it exits 3, traced */
	pid_t r;
	/* Its exit stop (the tracer's PTRACE_O_TRACEEXIT), then its exit. */
	for (int k = 0; k < 10; k++) {
		while ((r = tracer_waitpid(&tr, pid, &st, 0)) < 0 && errno == EINTR)
			;
		if (r != pid || !WIFSTOPPED(st) || ptrace(PTRACE_CONT, pid, 0L, 0L) < 0)
			break;
	}
	CHECK(r == pid && WIFEXITED(st) && WEXITSTATUS(st) == 3);
	st = 0;
	while ((r = waitpid(pid, &st, 0)) < 0 && errno == EINTR)
		;
	CHECK(r == pid && WIFEXITED(st) && WEXITSTATUS(st) == 3);
	tr.t[idx].state = TRACER_GONE;
	tracer_release(&tr);
}

int main(void)
{
	check_own_child_exit();
	check_start_routine();
	check_creation_view();
	pid_t pid = start_parked();
	CHECK(pid > 0);
	if (pid > 0) {
		check_dump(pid, THREADS_UNWIND_LIBUNWIND, false);
		check_dump(pid, THREADS_UNWIND_LIBDW, false);
		check_dump(pid, THREADS_UNWIND_LIBUNWIND, true);
		check_dump(pid, THREADS_UNWIND_LIBDW, true);
		check_truncation(pid);
		check_stopped_target(pid);
		check_traced_target(pid);
		stop_workload(pid);
	}
	check_uninterruptible();
	check_errors();
	return check_done();
}

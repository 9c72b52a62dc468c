/*
 * test_sampler.c - samples a real child process: a forked child with two
 * spinning threads (one created after sampling starts, so only inherit can
 * see it), and WORKLOAD_DIR/spin_nofp started with enable_on_exec.
 */
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/syscall.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include "check.h"
#include "procfs.h"
#include "explain.h"
#include "sampler.h"

/* CPU seconds each spinner burns (bounded by SPIN_WALL_MAX of wall time),
 * so the amounts compared do not shrink on a busy machine. */
#define SPIN_CPU 0.25
#define SPIN_WALL_MAX 3.0
#define MAX_TIDS 16

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;
	int n = 0;

	if (!d)
		return -1;
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

/* ---- the forked child ---------------------------------------------------- */

static pthread_barrier_t child_go;

static double thread_cpu(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

__attribute__((noinline)) static void child_spin(void)
{
	double end = now() + SPIN_WALL_MAX, cpu_end = thread_cpu() + SPIN_CPU;
	volatile double x = 1.0;

	while (now() < end && thread_cpu() < cpu_end)
		for (int i = 0; i < 10000; i++)
			x = x * 1.0000001 + 1e-9;
}

static void *child_waiter(void *arg)
{
	pthread_barrier_wait(&child_go);
	child_spin();
	return NULL;
}

static void *child_spinner(void *arg)
{
	child_spin();
	return NULL;
}

/*
 * A exists before sampler_open. On '1' the main thread creates B, which
 * inherits the (disabled) events and so is covered twice once the parent's
 * sampler_rescan opens events on it too. On '2' (sampling on) it creates C,
 * seen only through inherit; A, B and C spin, then main waits to be killed.
 */
static void child_main(int go_fd)
{
	pthread_t a, b, c;
	char ch;

	alarm(20);
	pthread_barrier_init(&child_go, NULL, 3);
	pthread_create(&a, NULL, child_waiter, NULL);
	if (read(go_fd, &ch, 1) != 1)
		_exit(1);
	pthread_create(&b, NULL, child_waiter, NULL);
	if (read(go_fd, &ch, 1) != 1)
		_exit(1);
	pthread_create(&c, NULL, child_spinner, NULL);
	pthread_barrier_wait(&child_go);
	pthread_join(a, NULL);
	pthread_join(b, NULL);
	pthread_join(c, NULL);
	for (;;)
		pause();
}

/* Waits (bounded) until pid has n threads; returns the tids. */
static size_t wait_threads(pid_t pid, size_t want, pid_t **tids)
{
	size_t n = 0;

	for (int i = 0; i < 2000; i++) {
		*tids = NULL;
		if (procfs_list_tasks(pid, tids, &n) == 0 && n >= want)
			return n;
		free(*tids);
		*tids = NULL;
		usleep(1000);
	}
	return 0;
}

/* ---- what the callback collects ----------------------------------------- */

struct acc {
	enum sampler_callgraph cg;
	uint32_t stack_size;
	uint64_t samples, period_sum;
	uint64_t bad_regs, bad_stack, user_in_chain, no_user_chain;
	uint64_t forks;
	pid_t tids[MAX_TIDS];
	int ntids;
};

static int on_record(const struct sampler_record *rec, void *arg)
{
	struct acc *acc = arg;
	const struct perf_sample *s = rec->sample;
	int i;

	if (rec->hdr->type == PERF_RECORD_FORK)
		acc->forks++;
	if (rec->hdr->type != PERF_RECORD_SAMPLE || !s)
		return 0;
	acc->samples++;
	acc->period_sum += s->period;
	for (i = 0; i < acc->ntids && acc->tids[i] != (pid_t)s->tid; i++)
		;
	if (i == acc->ntids && acc->ntids < MAX_TIDS)
		acc->tids[acc->ntids++] = (pid_t)s->tid;
	if (acc->cg == SAMPLER_CG_DWARF) {
		if (s->regs_abi != PERF_SAMPLE_REGS_ABI_64 || !s->regs ||
		    s->regs[RB_IP] != s->ip || s->regs[RB_SP] == 0)
			acc->bad_regs++;
		if (s->stack_size != acc->stack_size || !s->stack ||
		    s->stack_dyn_size == 0 || s->stack_dyn_size > s->stack_size)
			acc->bad_stack++;
		for (uint64_t k = 0; k < s->nr_callchain; k++)
			if (s->callchain[k] == PERF_CONTEXT_USER)
				acc->user_in_chain++;
	} else {
		bool user = false, has_ip = false;

		for (uint64_t k = 0; k < s->nr_callchain; k++) {
			if (s->callchain[k] == PERF_CONTEXT_USER)
				user = true;
			if (s->callchain[k] == s->ip)
				has_ip = true;
		}
		if (!user || !has_ip || s->regs)
			acc->no_user_chain++;
	}
	return 0;
}

static bool has_tid(const struct acc *acc, pid_t tid)
{
	for (int i = 0; i < acc->ntids; i++)
		if (acc->tids[i] == tid)
			return true;
	return false;
}

/* C: a thread that is neither main (blocked), A nor B. */
static bool c_seen(const struct acc *acc, pid_t main, pid_t a, pid_t b)
{
	for (int i = 0; i < acc->ntids; i++)
		if (acc->tids[i] != main && acc->tids[i] != a && acc->tids[i] != b)
			return true;
	return false;
}

/* Periods against CPU time: 15%, plus one period per event (the part of
 * a period left when a thread ends is never sampled), plus two clock ticks
 * (the kernel splits user and system time by tick samples). */
static bool periods_match(uint64_t period_sum, double cpu_ns, size_t events,
			  uint64_t period)
{
	double slack = 0.15 * cpu_ns + (double)events * (double)period +
		       2e9 / (double)sysconf(_SC_CLK_TCK);
	double diff = (double)period_sum - cpu_ns;

	fprintf(stderr, "periods %.3f s, cpu %.3f s, slack %.3f s\n",
		(double)period_sum / 1e9, cpu_ns / 1e9, slack / 1e9);
	return cpu_ns > 0 && diff < slack && -diff < slack;
}

/* Reads until the target is gone (or 10 s have passed); -ESRCH is what we
 * expect. By the clock, not a count of reads: a read returns early when
 * records wait to be old enough to hand on. */
static int read_until_gone(struct sampler *s, struct acc *acc)
{
	double end = now() + 10;
	int r = 0;

	while (now() < end) {
		r = sampler_read(s, 100, on_record, acc);
		if (r < 0)
			break;
	}
	return r;
}

static void test_child(enum sampler_callgraph cg)
{
	struct sampler_opts o = {
		.freq = 999, .callgraph = cg, .stack_size = 8192,
		/* Kernel frames need root at paranoid 2 (docs/design.md §1). */
		.kernel = cg == SAMPLER_CG_FP && geteuid() == 0,
		/* The ring record gives DWARF sampling (2 MiB, a quarter of a
		 * second of 8 KiB copies): the default 512 KiB lost 23 samples
		 * once in CI, an ASan build read late on a loaded machine. */
		.ring_pages = cg == SAMPLER_CG_DWARF ? 512 : 0,
	};
	struct acc acc = { .cg = cg, .stack_size = o.stack_size };
	struct sampler *s = NULL;
	struct sampler_stats st;
	struct procfs_stat ps;
	pid_t *tids = NULL, pid, a_tid = 0, b_tid = 0;
	size_t n = 0;
	int go[2], r, fds_before = count_fds();
	char err[256] = "";

	fprintf(stderr, "-- child, %s\n", cg == SAMPLER_CG_DWARF ? "dwarf" : "fp");
	if (pipe(go) < 0)
		return;
	pid = fork();
	if (pid == 0) {
		close(go[1]);
		child_main(go[0]);
	}
	close(go[0]);
	o.pid = pid;
	n = wait_threads(pid, 2, &tids);
	CHECK_INT(n, 2);
	for (size_t i = 0; i < n; i++)
		if (tids[i] != pid)
			a_tid = tids[i];
	free(tids);

	r = sampler_open(&o, &s, err, sizeof(err));
	CHECK_INT(r, 0);
	if (r < 0) {
		fprintf(stderr, "sampler_open: %s\n", err);
		goto out_kill;
	}
	struct rlimit rl;
	CHECK_INT(getrlimit(RLIMIT_NOFILE, &rl), 0);
	CHECK(rl.rlim_cur == rl.rlim_max);	/* raised for many threads */
	sampler_get_stats(s, &st);
	CHECK_INT(st.threads, 2);
	CHECK(st.cpus >= 1);
	CHECK_INT(st.events, st.threads * st.cpus);
	CHECK(sampler_sample_type(s, SAMPLER_CPU) & PERF_SAMPLE_CALLCHAIN);
	CHECK(!(sampler_sample_type(s, SAMPLER_CPU) & PERF_SAMPLE_STACK_USER) ==
	      (cg == SAMPLER_CG_FP));
	/* Nothing runs and nothing is enabled yet. */
	CHECK_INT(sampler_read(s, 0, on_record, &acc), 0);
	CHECK_INT(sampler_rescan(s), 0);

	/* B inherits disabled events: no FORK record tells us, so the rescan
	 * opens events on it as well. */
	if (write(go[1], "1", 1) != 1)
		CHECK(0);
	n = wait_threads(pid, 3, &tids);
	CHECK_INT(n, 3);
	for (size_t i = 0; i < n; i++)
		if (tids[i] != pid && tids[i] != a_tid)
			b_tid = tids[i];
	free(tids);
	CHECK_INT(sampler_rescan(s), 1);
	sampler_get_stats(s, &st);
	CHECK_INT(st.threads, 3);

	CHECK_INT(sampler_enable(s), 0);
	if (write(go[1], "2", 1) != 1)
		CHECK(0);
	double end = now() + SPIN_WALL_MAX + 1;
	bool rescanned = false, done = false;
	while (!done && now() < end) {
		r = sampler_read(s, 50, on_record, &acc);
		CHECK(r >= 0);
		if (r < 0)
			break;
		if (!rescanned && c_seen(&acc, pid, a_tid, b_tid)) {
			/* C is spinning and covered by inherit: not new. */
			CHECK_INT(sampler_rescan(s), 0);
			rescanned = true;
		}
		/* The spinners are done when only main is left. */
		if (procfs_list_tasks(pid, &tids, &n) == 0) {
			done = n == 1;
			free(tids);
		}
	}
	CHECK(done);
	CHECK(rescanned);
	CHECK_INT(sampler_disable(s), 0);
	while (sampler_read(s, 0, on_record, &acc) > 0)
		;

	CHECK(acc.samples > 100);	/* 0.75 s of CPU at 999 Hz */
	CHECK(has_tid(&acc, a_tid));
	CHECK(has_tid(&acc, b_tid));
	CHECK(c_seen(&acc, pid, a_tid, b_tid));
	CHECK(acc.forks >= 1);	/* C's creation, seen through inherit */
	if (cg == SAMPLER_CG_DWARF) {
		CHECK_INT(acc.bad_regs, 0);
		CHECK_INT(acc.bad_stack, 0);
		CHECK_INT(acc.user_in_chain, 0);
	} else {
		CHECK_INT(acc.no_user_chain, 0);
	}
	/* The periods add up to the CPU time the child used (three threads,
	 * SPIN_CPU each); a missed thread, or B counted twice, would be off by
	 * a third. exclude_kernel drops the periods that end in the kernel. */
	CHECK_INT(procfs_read_stat(pid, 0, &ps), 0);
	double cpu_ns = (double)(ps.utime + (o.kernel ? ps.stime : 0)) * 1e9 /
			(double)sysconf(_SC_CLK_TCK);
	sampler_get_stats(s, &st);
	fprintf(stderr, "samples %llu (%llu duplicates dropped)\n",
		(unsigned long long)acc.samples, (unsigned long long)st.duplicates);
	CHECK(periods_match(acc.period_sum, cpu_ns, 3 * st.cpus, 1000000000 / o.freq));
	sampler_get_stats(s, &st);
	CHECK_INT(st.samples, acc.samples);
	/* A reader held off the CPU longer than the ring lasts loses samples
	 * (counted, not hidden); more than 1% would be the sampler's fault. */
	if (st.lost)
		fprintf(stderr, "lost %llu samples\n", (unsigned long long)st.lost);
	CHECK(st.lost * 100 <= acc.samples);
	CHECK(st.duplicates > 0);	/* B's second stream was dropped */

	kill(pid, SIGKILL);
	CHECK_INT(read_until_gone(s, &acc), -ESRCH);
	CHECK_INT(sampler_read(s, 100, on_record, &acc), -ESRCH);
	CHECK_INT(sampler_rescan(s), -ESRCH);
	waitpid(pid, NULL, 0);
	sampler_free(s);
	close(go[1]);
	CHECK_INT(count_fds(), fds_before);
	return;

out_kill:
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	close(go[1]);
}

/* spin_nofp 0.4 2, sampled from its exec on without sampler_enable. */
static void test_enable_on_exec(void)
{
	struct sampler_opts o = {
		.freq = 499, .callgraph = SAMPLER_CG_FP, .enable_on_exec = true,
	};
	struct acc acc = { .cg = SAMPLER_CG_FP };
	struct sampler *s = NULL;
	int go[2], status = -1, r, fds_before = count_fds();
	char err[256] = "";
	struct sampler_stats st = { .cpus = 1 };
	struct rusage ru;
	pid_t pid;

	fprintf(stderr, "-- enable_on_exec, spin_nofp\n");
	if (pipe(go) < 0)
		return;
	pid = fork();
	if (pid == 0) {
		char c;

		alarm(20);
		close(go[1]);
		if (read(go[0], &c, 1) != 1)
			_exit(1);
		execl(WORKLOAD_DIR "/spin_nofp", "spin_nofp", "0.4", "2", (char *)NULL);
		_exit(127);
	}
	close(go[0]);
	o.pid = pid;
	r = sampler_open(&o, &s, err, sizeof(err));
	CHECK_INT(r, 0);
	if (r == 0) {
		/* Blocked in read() and not exec'd yet: nothing is counted. */
		CHECK_INT(sampler_read(s, 50, on_record, &acc), 0);
		CHECK_INT(acc.samples, 0);
	} else {
		fprintf(stderr, "sampler_open: %s\n", err);
	}
	if (write(go[1], "g", 1) != 1)
		CHECK(0);
	close(go[1]);
	if (r == 0) {
		CHECK_INT(read_until_gone(s, &acc), -ESRCH);
		sampler_get_stats(s, &st);
		CHECK(acc.samples > 0);
		CHECK_INT(acc.ntids, 2);	/* the second was created after exec */
		CHECK_INT(acc.no_user_chain, 0);
	} else {
		kill(pid, SIGKILL);
	}
	CHECK_INT(wait4(pid, &status, 0, &ru), pid);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	/* exclude_kernel drops the periods that end in the kernel (exec and
	 * the dynamic loader fault pages in). */
	double cpu_ns = (double)ru.ru_utime.tv_sec * 1e9 +
			(double)ru.ru_utime.tv_usec * 1e3;
	if (o.kernel)
		cpu_ns += (double)ru.ru_stime.tv_sec * 1e9 +
			  (double)ru.ru_stime.tv_usec * 1e3;
	fprintf(stderr, "samples %llu from %d threads\n",
		(unsigned long long)acc.samples, acc.ntids);
	CHECK(periods_match(acc.period_sum, cpu_ns, 2 * st.cpus, 1000000000 / o.freq));
	sampler_free(s);
	CHECK_INT(count_fds(), fds_before);
}

/* ---- children: sh -c 'spin; spin' ---------------------------------------- */

#define MAX_KIDS 8

struct kids {
	pid_t root;
	uint64_t last_time, out_of_order, records;
	uint64_t root_samples, kid_samples, unforked, before_exec, period_sum;
	pid_t forked[MAX_KIDS], execd[MAX_KIDS], mapped[MAX_KIDS], sampled[MAX_KIDS];
	int nforked, nexecd, nmapped, nsampled;
};

static bool in_set(const pid_t *v, int n, pid_t p)
{
	for (int i = 0; i < n; i++)
		if (v[i] == p)
			return true;
	return false;
}

static void add_set(pid_t *v, int *n, pid_t p)
{
	if (!in_set(v, *n, p) && *n < MAX_KIDS)
		v[(*n)++] = p;
}

static int on_kid_record(const struct sampler_record *rec, void *arg)
{
	struct kids *k = arg;
	const struct perf_event_header *h = rec->hdr;
	const uint32_t *w = (const uint32_t *)(h + 1);

	k->records++;
	if (rec->time && rec->time < k->last_time)
		k->out_of_order++;
	if (rec->time)
		k->last_time = rec->time;
	if (h->type == PERF_RECORD_FORK && w[0] != w[1])	/* pid != ppid */
		add_set(k->forked, &k->nforked, (pid_t)w[0]);
	if (h->type == PERF_RECORD_COMM && (h->misc & PERF_RECORD_MISC_COMM_EXEC))
		add_set(k->execd, &k->nexecd, (pid_t)w[0]);
	if (h->type == PERF_RECORD_MMAP2) {
		/* pid, tid, addr, len, pgoff, maj, min, ino, ino_gen, prot,
		 * flags, filename */
		const uint8_t *b = (const uint8_t *)(h + 1);
		uint32_t prot;

		memcpy(&prot, b + 8 + 8 * 3 + 8 + 16, 4);
		if ((prot & 4) && strstr((const char *)b + 8 + 8 * 3 + 8 + 16 + 8,
					 "/spin_nofp"))
			add_set(k->mapped, &k->nmapped, (pid_t)w[0]);
	}
	if (h->type == PERF_RECORD_SAMPLE && rec->sample) {
		pid_t p = (pid_t)rec->sample->pid;

		k->period_sum += rec->sample->period;
		if (p == k->root) {
			k->root_samples++;
			return 0;
		}
		k->kid_samples++;
		add_set(k->sampled, &k->nsampled, p);
		if (!in_set(k->forked, k->nforked, p))
			k->unforked++;
		else if (!in_set(k->execd, k->nexecd, p))
			k->before_exec++;
	}
	return 0;
}

/* `sh -c 'spin_nofp 0.3; spin_nofp 0.3'` from its exec on: with children,
 * both spins are sampled, and every record comes in time order, each
 * child's FORK, exec COMM and MMAP2 of spin_nofp before its samples;
 * without, no sample of another process than sh. */
static void test_children(bool children)
{
	struct sampler_opts o = {
		.freq = 999, .callgraph = SAMPLER_CG_FP, .enable_on_exec = true,
		.children = children,
	};
	struct kids k = { 0 };
	struct sampler *s = NULL;
	struct sampler_stats st = { .cpus = 1 };
	struct rusage ru;
	int go[2], status = -1, r, fds_before = count_fds();
	char err[256] = "";
	pid_t pid;

	fprintf(stderr, "-- sh -c 'spin; spin', children %d\n", children);
	if (pipe(go) < 0)
		return;
	pid = fork();
	if (pid == 0) {
		char c;

		alarm(60);	/* sh keeps it: 0.6 s of CPU on a starved machine */
		close(go[1]);
		if (read(go[0], &c, 1) != 1)
			_exit(1);
		execl("/bin/sh", "sh", "-c",
		      /* CPU seconds: as many samples when starved */
		      WORKLOAD_DIR "/spin_nofp 0.3 1 cpu; " WORKLOAD_DIR "/spin_nofp 0.3 1 cpu",
		      (char *)NULL);
		_exit(127);
	}
	close(go[0]);
	o.pid = pid;
	k.root = pid;
	r = sampler_open(&o, &s, err, sizeof(err));
	CHECK_INT(r, 0);
	if (r != 0)
		fprintf(stderr, "sampler_open: %s\n", err);
	if (write(go[1], "g", 1) != 1)
		CHECK(0);
	close(go[1]);
	if (r == 0) {
		for (double end = now() + 40; now() < end;)
			if (sampler_read(s, 100, on_kid_record, &k) < 0)
				break;
		sampler_get_stats(s, &st);
		sampler_free(s);
	} else {
		kill(pid, SIGKILL);
	}
	CHECK_INT(wait4(pid, &status, 0, &ru), pid);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	fprintf(stderr, "%llu records, sh %llu samples, children %llu samples "
		"from %d processes (%d forked, %d exec'd, %d mapped spin_nofp)\n",
		(unsigned long long)k.records, (unsigned long long)k.root_samples,
		(unsigned long long)k.kid_samples, k.nsampled, k.nforked,
		k.nexecd, k.nmapped);
	CHECK_INT(k.out_of_order, 0);
	if (children) {
		/* The rusage of sh counts the children it waited for: the
		 * samples account for their CPU time (user time: the events
		 * exclude the kernel). */
		double cpu_ns = (double)ru.ru_utime.tv_sec * 1e9 +
				(double)ru.ru_utime.tv_usec * 1e3;

		CHECK(periods_match(k.period_sum, cpu_ns, 3 * st.cpus,
				    1000000000 / o.freq));
		CHECK(k.kid_samples > 50);
		CHECK_INT(k.nsampled, 2);
		CHECK_INT(k.unforked, 0);
		/* Between fork and exec a child runs sh's code: a sample
		 * there is possible, not many. */
		CHECK(k.before_exec * 20 < k.kid_samples);
		for (int i = 0; i < k.nsampled; i++) {
			CHECK(in_set(k.execd, k.nexecd, k.sampled[i]));
			CHECK(in_set(k.mapped, k.nmapped, k.sampled[i]));
		}
	} else {
		/* sh's events write its FORK records; the children have
		 * none of their own. */
		CHECK_INT(k.kid_samples, 0);
		CHECK_INT(k.nmapped, 0);
	}
	CHECK_INT(count_fds(), fds_before);
}

static void *blocked_thread(void *arg)
{
	char c;

	return read(*(int *)arg, &c, 1) < 0 ? NULL : arg;
}

/* With room for a single new fd, the second event of
 * a two-thread process fails with EMFILE and the reason names the
 * arithmetic. Runs in a child (sampling itself) so the test keeps its own
 * limit. */
static void test_emfile(void)
{
	pid_t pid = fork();
	int status = -1;

	if (pid == 0) {
		struct sampler_opts o = {
			.pid = getpid(), .freq = 99, .callgraph = SAMPLER_CG_FP,
		};
		struct rlimit rl;
		struct sampler *s;
		pthread_t th;
		char err[256] = "";
		int p[2], n, r;

		alarm(20);
		if (pipe(p) < 0 || pthread_create(&th, NULL, blocked_thread, &p[0]))
			_exit(2);
		n = count_fds();
		/* Room for exactly one more fd: the lowest free one, since
		 * the limit bounds fd numbers, and ours may have gaps. */
		int lowest = dup(0);
		close(lowest);
		rl.rlim_cur = rl.rlim_max = (rlim_t)lowest + 1;
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
			_exit(2);
		r = sampler_open(&o, &s, err, sizeof(err));
		if (r == 0)
			sampler_free(s);
		if (r != -EMFILE || !strstr(err, "threads") ||
		    !strstr(err, "RLIMIT_NOFILE is")) {
			fprintf(stderr, "sampler_open: %d %s\n", r, err);
			_exit(1);
		}
		_exit(count_fds() == n ? 0 : 3);	/* nothing left open */
	}
	CHECK_INT(waitpid(pid, &status, 0), pid);
	CHECK(WIFEXITED(status));
	CHECK_INT(WEXITSTATUS(status), 0);
}

/* As an unprivileged user (nobody): another user's process is refused
 * with EACCES, and our own process can be sampled with the default DWARF
 * rings, which fit the default perf_event_mlock_kb. Only root can switch
 * users; others run the same checks as themselves. */
static void test_unprivileged(void)
{
	pid_t pid = fork();
	int status = -1;

	if (pid == 0) {
		struct sampler_opts o = {
			.pid = 1, .freq = 99, .callgraph = SAMPLER_CG_DWARF,
			.stack_size = 8192,
		};
		struct sampler *s = NULL;
		char err[256] = "", buf[2048];
		long paranoid = 2;
		int r;

		alarm(20);
		if (geteuid() == 0 && setuid(65534) < 0)
			_exit(2);
		procfs_read_long("/proc/sys/kernel/perf_event_paranoid", &paranoid);
		r = sampler_open(&o, &s, err, sizeof(err));
		if (r != -EACCES) {
			fprintf(stderr, "pid 1 as uid %d: %d %s\n", (int)getuid(), r, err);
			_exit(1);
		}
		explain_sampling(r, 1, buf, sizeof(buf));
		if (!strstr(buf, "no permission to sample pid 1"))
			_exit(1);
		if (paranoid >= 3)	/* nothing is allowed: done */
			_exit(0);
		o.pid = getpid();
		r = sampler_open(&o, &s, err, sizeof(err));
		if (r != 0) {
			fprintf(stderr, "own pid as uid %d: %d %s\n", (int)getuid(), r, err);
			_exit(1);
		}
		sampler_free(s);
		/* Kernel samples need paranoid <= 1. */
		o.kernel = true;
		r = sampler_open(&o, &s, err, sizeof(err));
		sampler_free(s);
		_exit(paranoid >= 2 && r != -EACCES ? 1 : 0);
	}
	CHECK_INT(waitpid(pid, &status, 0), pid);
	CHECK(WIFEXITED(status));
	CHECK_INT(WEXITSTATUS(status), 0);
}

/* What a refusal means depends on who is refused: without privilege, the
 * setting and the capabilities to grant; as root, what else refuses (a
 * security module, another tracer), never "run as root". */
static void check_permission_texts_as(bool root)
{
	char buf[2048];

	/* Above pid_max (at most 2^22): no process, so no owner to name. */
	explain_sampling(-EACCES, 4194305, buf, sizeof(buf));
	CHECK(strstr(buf, "\nhint: ") != NULL);
	CHECK(buf[strlen(buf) - 1] != '\n');
	CHECK(strstr(buf, "run cprof as root") == NULL || !root);
	if (root) {
		CHECK(strncmp(buf, "no permission to sample pid 4194305, though cprof "
			      "has CAP_PERFMON and CAP_SYS_PTRACE", 78) == 0);
		CHECK(strstr(buf, "security module") != NULL);
		return;
	}
	CHECK(strncmp(buf, "no permission to sample pid 4194305 (perf_event_paranoid is ", 60) == 0);
	CHECK(strstr(buf, "setcap cap_perfmon,cap_sys_ptrace") != NULL);
	CHECK(strstr(buf, "sysctl kernel.perf_event_paranoid=") != NULL);
	explain_sampling(-EPERM, getpid(), buf, sizeof(buf));
	CHECK(strstr(buf, "perf_event_mlock_kb") != NULL);
}

static void check_permission_texts(void)
{
	int status;
	pid_t pid;

	check_permission_texts_as(geteuid() == 0);
	if (geteuid() != 0)
		return;
	/* The same as nobody: setuid drops every capability. */
	pid = fork();
	if (pid == 0) {
		if (setuid(65534) < 0)
			_exit(2);
		check_permission_texts_as(false);
		_exit(check_failed ? 1 : 0);
	}
	CHECK_INT(waitpid(pid, &status, 0), pid);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

static void test_errors(void)
{
	struct sampler_opts o = {
		.pid = 1 << 23, .freq = 99, .callgraph = SAMPLER_CG_DWARF,
		.stack_size = 8192,
	};
	struct sampler *s = (struct sampler *)&o;
	char err[256] = "", buf[2048];
	long max_rate = 0;
	int fds_before = count_fds();

	/* pid_max is at most 2^22 (proc(5)): this pid never exists. */
	CHECK_INT(sampler_open(&o, &s, err, sizeof(err)), -ESRCH);
	CHECK(s == NULL);
	CHECK(strlen(err) > 0);

	o.pid = getpid();
	o.stack_size = 100;
	CHECK_INT(sampler_open(&o, &s, err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "stack size 100") != NULL);
	o.stack_size = 8192;
	o.ring_pages = 3;
	CHECK_INT(sampler_open(&o, &s, err, sizeof(err)), -EINVAL);
	o.ring_pages = 0;
	if (procfs_read_long("/proc/sys/kernel/perf_event_max_sample_rate",
			     &max_rate) == 0) {
		char want[32];

		o.freq = (unsigned)max_rate + 1;
		CHECK_INT(sampler_open(&o, &s, err, sizeof(err)), -EINVAL);
		snprintf(want, sizeof(want), "(%ld)", max_rate);
		CHECK(strstr(err, want) != NULL);
		explain_sampling(-EINVAL, getpid(), buf, sizeof(buf));
		snprintf(want, sizeof(want), "%ld Hz", max_rate);
		CHECK(strstr(buf, want) != NULL);
		CHECK(strstr(buf, "hint: ") != NULL);
	}
	CHECK_INT(count_fds(), fds_before);

	check_permission_texts();
	explain_sampling(-EMFILE, 1234, buf, sizeof(buf));
	CHECK(strstr(buf, "ulimit -n") != NULL);
	explain_sampling(ESRCH, 77, buf, sizeof(buf));
	CHECK(strstr(buf, "no process with pid 77") != NULL);
	explain_sampling(-EOVERFLOW, 1, buf, sizeof(buf));
	CHECK(strstr(buf, "perf_event_max_stack") != NULL);
	explain_sampling(-ENOENT, 1, buf, sizeof(buf));
	CHECK(strstr(buf, "hint: ") != NULL);
	/* A small buffer is truncated, not overrun. */
	CHECK(strlen(explain_sampling(-EACCES, 1, buf, 10)) == 9);
	sampler_free(NULL);
}

int main(void)
{
	test_errors();
	test_emfile();
	test_unprivileged();
	test_child(SAMPLER_CG_DWARF);
	test_child(SAMPLER_CG_FP);
	test_enable_on_exec();
	test_children(true);
	test_children(false);
	return check_done();
}

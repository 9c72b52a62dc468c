/* test_procfs.c - /proc parsers on hand-written text, then on our own files. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "check.h"
#include "procfs.h"

/* A file past PROCFS_MAX_FILE is refused, not read whole; one just
 * under it is read. (Sparse files: nothing is written to disk.) */
static void test_read_limit(void)
{
	char path[] = "/tmp/test_procfs.XXXXXX";
	int fd = mkstemp(path);
	char *buf = NULL;
	size_t len = 0;

	CHECK(fd >= 0);
	if (fd < 0)
		return;
	CHECK_INT(ftruncate(fd, (off_t)PROCFS_MAX_FILE - 2), 0);
	CHECK_INT(procfs_read_file(path, &buf, &len), 0);
	CHECK_INT(len, PROCFS_MAX_FILE - 2);
	free(buf);
	buf = NULL;
	CHECK_INT(ftruncate(fd, (off_t)PROCFS_MAX_FILE + 1), 0);
	CHECK_INT(procfs_read_file(path, &buf, &len), -EFBIG);
	CHECK(buf == NULL);
	close(fd);
	unlink(path);
}

static void test_maps(void)
{
	/* Out of order on purpose: the parser must sort. */
	static const char text[] =
		"7ffd1000-7ffd3000 r-xp 00000000 00:00 0                          [vdso]\n"
		"00400000-00452000 r-xp 00001000 08:02 173521      /usr/bin/my prog\n"
		"00652000-00653000 rw-p 00052000 08:02 173521      /tmp/gone lib.so (deleted)\n"
		"01e00000-01e21000 rw-p 00000000 00:00 0                          [heap]\n"
		"7f0000000000-7f0000021000 rw-p 00000000 00:00 0 \n"
		"7ffc0000-7ffc2000 rw-p 00000000 00:00 0                          [stack]\n"
		"7f1000000000-7f1000200000 r-xp 0001a000 fd:01 42 /usr/lib/libc.so.6";
	struct procfs_maps m;
	const struct procfs_map *f;

	CHECK_INT(procfs_parse_maps(text, &m), 0);
	CHECK_INT(m.n, 7);
	if (m.n != 7)
		return;
	for (size_t i = 1; i < m.n; i++)
		CHECK(m.maps[i - 1].start < m.maps[i].start);
	CHECK_STR(m.maps[0].path, "/usr/bin/my prog");
	CHECK_INT(m.maps[0].offset, 0x1000);
	CHECK_INT(m.maps[0].dev_major, 8);
	CHECK_INT(m.maps[0].dev_minor, 2);
	CHECK_INT(m.maps[0].inode, 173521);
	CHECK_STR(m.maps[0].perms, "r-xp");
	CHECK(!m.maps[0].deleted);
	CHECK_STR(m.maps[1].path, "/tmp/gone lib.so");
	CHECK(m.maps[1].deleted);
	CHECK_STR(m.maps[2].path, "[heap]");
	CHECK_STR(m.maps[3].path, "[stack]");
	CHECK_STR(m.maps[4].path, "[vdso]");
	CHECK_STR(m.maps[5].path, "");
	CHECK_INT(m.maps[5].start, 0x7f0000000000ULL);
	CHECK_STR(m.maps[6].path, "/usr/lib/libc.so.6");
	CHECK_INT(m.maps[6].dev_major, 0xfd);

	f = procfs_maps_find(&m, 0x400000);
	CHECK(f == &m.maps[0]);
	f = procfs_maps_find(&m, 0x451fff);
	CHECK(f == &m.maps[0]);
	CHECK(procfs_maps_find(&m, 0x452000) == NULL);	/* end is exclusive */
	CHECK(procfs_maps_find(&m, 0x3fffff) == NULL);
	CHECK(procfs_maps_find(&m, 0x7f10001fffffULL) == &m.maps[6]);
	CHECK(procfs_maps_find(&m, 0x7f1000200000ULL) == NULL);
	procfs_maps_release(&m);

	CHECK_INT(procfs_parse_maps("not a maps line\n", &m), -EINVAL);
	/* Each field of a line checked: a missing or malformed one, or a
	 * number too big for 64 bits, rejects the text. */
	static const char *const bad[] = {
		"00400000 r-xp 00000000 08:02 1 /x\n",
		"00400000-00452000 r-xp 00000000 08:02\n",
		"00400000-00452000 r-xp 00000000 0802 1 /x\n",
		"00400000-00452000 r-xp zz 08:02 1 /x\n",
		"00400000-00452000  00000000 08:02 1 /x\n",
		"00400000-00452000 r-xp-long 00000000 08:02 1 /x\n",
		"00400000-00452000 r-xp 00000000 08:02 12x /x\n",
		"10000000000000000-1 r-xp 00000000 08:02 1 /x\n",
		"00400000-00452000 r-xp 00000000 08:02 99999999999999999999 /x\n",
		"00400000-00452000 r-xp 00000000 08:02 1 /x\ngarbage\n",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK_INT(procfs_parse_maps(bad[i], &m), -EINVAL);
	/* Upper-case hex, tabs before the path, and a line without one. */
	CHECK_INT(procfs_parse_maps("7F00-7FFF r--s 0A 0F:1a 7\t\t/dev/shm/x\n"
				    "8000-9000 ---p 0 00:00 0", &m), 0);
	CHECK_INT(m.n, 2);
	if (m.n == 2) {
		CHECK_INT(m.maps[0].start, 0x7f00);
		CHECK_INT(m.maps[0].end, 0x7fff);
		CHECK_INT(m.maps[0].offset, 0xa);
		CHECK_INT(m.maps[0].dev_major, 0xf);
		CHECK_INT(m.maps[0].dev_minor, 0x1a);
		CHECK_INT(m.maps[0].inode, 7);
		CHECK_STR(m.maps[0].perms, "r--s");
		CHECK_STR(m.maps[0].path, "/dev/shm/x");
		CHECK_STR(m.maps[1].path, "");
		CHECK_STR(m.maps[1].perms, "---p");
	}
	procfs_maps_release(&m);
	CHECK_INT(procfs_parse_maps("", &m), 0);
	CHECK_INT(m.n, 0);
	procfs_maps_release(&m);
}

static void test_self_maps(void)
{
	struct procfs_maps m;
	const struct procfs_map *f;

	CHECK_INT(procfs_read_maps(getpid(), &m), 0);
	CHECK(m.n > 3);
	f = procfs_maps_find(&m, (uint64_t)(uintptr_t)&test_self_maps);
	CHECK(f != NULL);
	if (f) {
		CHECK(f->perms[2] == 'x');
		CHECK(strstr(f->path, "test_procfs") != NULL);
	}
	int local;
	f = procfs_maps_find(&m, (uint64_t)(uintptr_t)&local);
	CHECK(f != NULL && strcmp(f->path, "[stack]") == 0);
	procfs_maps_release(&m);
}

static void test_stat(void)
{
	static const char text[] =
		"1234 (a) (b c)) R 17 1234 1234 0 -1 4194560 100 0 0 0 "
		"250 31 0 0 20 0 3 0 987654 1000000 200 18446744073709551615\n";
	struct procfs_stat st;

	CHECK_INT(procfs_parse_stat(text, &st), 0);
	CHECK_STR(st.comm, "a) (b c)");
	CHECK_INT(st.state, 'R');
	CHECK_INT(st.ppid, 17);
	CHECK_INT(st.flags, 4194560);
	CHECK_INT(st.utime, 250);
	CHECK_INT(st.stime, 31);
	CHECK_INT(st.starttime, 987654);
	CHECK_INT(st.num_threads, 3);
	CHECK_INT(procfs_parse_stat("1234 (x R 1 2", &st), -EINVAL);
	CHECK_INT(procfs_parse_stat("1234 (x) R 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 x", &st), -EINVAL);
	CHECK_INT(procfs_parse_stat("1234 (x) R 1 2", &st), -EINVAL);

	CHECK_INT(procfs_read_stat(getpid(), 0, &st), 0);
	CHECK_INT(st.state, 'R');
	CHECK(st.num_threads >= 1);
	CHECK_INT(st.ppid, getppid());
	CHECK_STR(st.comm, "test_procfs");
	CHECK_INT(procfs_read_stat(getpid(), (pid_t)syscall(SYS_gettid), &st), 0);
	CHECK_STR(st.comm, "test_procfs");
	/* pid_max is at most 2^22 on 64-bit (proc(5)), so this one never exists. */
	CHECK_INT(procfs_read_stat(1 << 23, 0, &st), -ENOENT);
}

static void test_syscall(void)
{
	struct procfs_syscall sc;

	CHECK_INT(procfs_parse_syscall("running\n", &sc), 0);
	CHECK_INT(sc.nr, -2);
	CHECK_INT(procfs_parse_syscall("-1 0x7ffe1000 0x7f00deadbeef\n", &sc), 0);
	CHECK_INT(sc.nr, -1);
	CHECK_INT(sc.sp, 0x7ffe1000);
	CHECK_INT(sc.pc, 0x7f00deadbeefULL);
	CHECK_INT(procfs_parse_syscall(
		"202 0x55d0c0 0x80 0x0 0x0 0x0 0xffffffff 0x7ffe109bb488 0x7f8096def2ad\n",
		&sc), 0);
	CHECK_INT(sc.nr, 202);
	CHECK_INT(sc.args[0], 0x55d0c0);
	CHECK_INT(sc.args[1], 0x80);
	CHECK_INT(sc.args[5], 0xffffffff);
	CHECK_INT(sc.sp, 0x7ffe109bb488ULL);
	CHECK_INT(sc.pc, 0x7f8096def2adULL);
	CHECK_INT(procfs_parse_syscall("7 0x1 0x2\n", &sc), -EINVAL);
	CHECK_INT(procfs_parse_syscall("", &sc), -EINVAL);

	CHECK_STR(procfs_syscall_name(0), "read");
	CHECK_STR(procfs_syscall_name(202), "futex");
	CHECK_STR(procfs_syscall_name(232), "epoll_wait");
	CHECK(procfs_syscall_name(-1) == NULL);
	CHECK(procfs_syscall_name(100000) == NULL);

	/* Our own thread is running while it reads the file. */
	CHECK_INT(procfs_read_syscall(getpid(), (pid_t)syscall(SYS_gettid), &sc), 0);
	CHECK(sc.nr == 0 || sc.nr == -2);	/* read(), as the kernel sees it */
}

static void *sleeper(void *arg)
{
	pthread_barrier_t *b = arg;

	pthread_barrier_wait(b);	/* started */
	pthread_barrier_wait(b);	/* main has looked */
	return NULL;
}

static void test_tasks_comm_cmdline(void)
{
	pthread_barrier_t b;
	pthread_t th;
	pid_t *tids = NULL, me = (pid_t)syscall(SYS_gettid);
	size_t n = 0, len = 0;
	char comm[16], *cmd = NULL;
	long v;
	pid_t tracer = -1;

	pthread_barrier_init(&b, NULL, 2);
	pthread_create(&th, NULL, sleeper, &b);
	pthread_setname_np(th, "procfs-helper");
	pthread_barrier_wait(&b);
	CHECK_INT(procfs_list_tasks(getpid(), &tids, &n), 0);
	CHECK_INT(n, 2);
	if (n == 2) {
		pid_t other = tids[0] == me ? tids[1] : tids[0];

		CHECK(tids[0] < tids[1]);
		CHECK(tids[0] == me || tids[1] == me);
		CHECK_INT(procfs_read_comm(getpid(), other, comm, sizeof(comm)), 0);
		CHECK_STR(comm, "procfs-helper");
	}
	free(tids);
	pthread_barrier_wait(&b);
	pthread_join(th, NULL);
	pthread_barrier_destroy(&b);

	CHECK_INT(procfs_read_comm(getpid(), 0, comm, sizeof(comm)), 0);
	CHECK_STR(comm, "test_procfs");
	CHECK_INT(procfs_read_comm(getpid(), me, comm, 5), 0);
	CHECK_STR(comm, "test");

	CHECK_INT(procfs_read_cmdline(getpid(), &cmd, &len), 0);
	CHECK(len > 0 && cmd[len - 1] == '\0');
	CHECK(cmd && strstr(cmd, "test_procfs") != NULL);
	free(cmd);

	CHECK_INT(procfs_tracer_pid(getpid(), &tracer), 0);
	CHECK_INT(tracer, 0);

	CHECK_INT(procfs_read_long("/proc/sys/kernel/pid_max", &v), 0);
	CHECK(v >= 301);
	CHECK_INT(procfs_read_long("/proc/self/cmdline", &v), -EINVAL);
	CHECK_INT(procfs_list_tasks(1 << 23, &tids, &n), -ENOENT);
	pid_t some[4];
	CHECK_INT(procfs_list_some_tasks(1 << 23, some, 4, &n), -ENOENT);
}

struct parked_arg {
	pthread_barrier_t *b;
	pid_t *tid;
};

static void *parked(void *arg)
{
	struct parked_arg *a = arg;

	*a->tid = (pid_t)syscall(SYS_gettid);
	pthread_barrier_wait(a->b);	/* started */
	pthread_barrier_wait(a->b);	/* may end */
	return NULL;
}

/* 200 threads, more than one getdents64 call of procfs_list_tasks holds
 * (about 64): the full list is exactly the threads, sorted; the first few
 * start with the main thread, each a real thread, none twice. */
static void test_some_tasks(void)
{
	enum { N = 200 };
	pthread_barrier_t b;
	pthread_t th[N];
	struct parked_arg args[N];
	pid_t some[8], *all = NULL, want[N + 1];
	size_t n = 0, nall = 0;

	pthread_attr_t attr;

	/* Small stacks, and every creation checked: a failure fails the test
	 * here rather than leaving the barrier waiting for ever. */
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 64 * 1024);
	pthread_barrier_init(&b, NULL, N + 1);
	for (int i = 0; i < N; i++) {
		args[i].b = &b;
		args[i].tid = &want[i];
		if (pthread_create(&th[i], &attr, parked, &args[i]) != 0) {
			fprintf(stderr, "test_some_tasks: pthread_create %d failed\n", i);
			exit(1);
		}
	}
	pthread_attr_destroy(&attr);
	pthread_barrier_wait(&b);
	want[N] = getpid();
	qsort(want, N + 1, sizeof(want[0]), procfs_pid_cmp);
	CHECK_INT(procfs_list_some_tasks(getpid(), some, 8, &n), 0);
	CHECK_INT(procfs_list_tasks(getpid(), &all, &nall), 0);
	CHECK_INT(nall, N + 1);
	if (nall == N + 1)
		CHECK(memcmp(all, want, sizeof(want)) == 0);
	CHECK_INT(n, 8);
	CHECK(n > 0 && some[0] == getpid());
	for (size_t i = 0; i < n; i++) {
		bool found = false;
		for (size_t j = 0; j < nall; j++)
			found |= all[j] == some[i];
		CHECK(found);
		for (size_t j = 0; j < i; j++)
			CHECK(some[j] != some[i]);
	}
	free(all);
	CHECK_INT(procfs_list_some_tasks(getpid(), some, 1, &n), 0);
	CHECK_INT(n, 1);
	pthread_barrier_wait(&b);
	for (int i = 0; i < N; i++)
		pthread_join(th[i], NULL);
	pthread_barrier_destroy(&b);
}

static void test_read_file(void)
{
	char *buf;
	size_t len;

	/* st_size is 0 for /proc files, and status is larger than 1 KiB. */
	CHECK_INT(procfs_read_file("/proc/self/status", &buf, &len), 0);
	CHECK(len > 500);
	CHECK_INT(strlen(buf), len);
	CHECK(strncmp(buf, "Name:\ttest_procfs\n", 18) == 0);
	CHECK(strstr(buf, "VmRSS:") != NULL);	/* the end of the file too */
	free(buf);
	CHECK_INT(procfs_read_file("/nonexistent/file", &buf, &len), -ENOENT);
}

static void test_open_root_file(void)
{
	char want[64], *opened = (char *)"x";
	int fd;

	/* A regular file, through our own root. */
	snprintf(want, sizeof(want), "/proc/%d/root/proc/self/exe", (int)getpid());
	fd = procfs_open_root_file(getpid(), "/proc/self/exe", &opened);
	CHECK(fd >= 0);
	CHECK(opened != NULL);
	if (opened)
		CHECK_STR(opened, want);
	if (fd >= 0)
		close(fd);
	free(opened);
	/* Never a device (open may block), a relative or a missing path. */
	CHECK_INT(procfs_open_root_file(getpid(), "/dev/null", &opened), -EINVAL);
	CHECK(opened == NULL);
	CHECK_INT(procfs_open_root_file(getpid(), "dev/null", &opened), -EINVAL);
	CHECK_INT(procfs_open_root_file(getpid(), "/nonexistent/file", &opened),
		  -ENOENT);
	CHECK(opened == NULL);
}

static void test_kallsyms(void)
{
	static const char text[] =
		"ffffffff81000000 T _text\n"
		"ffffffff81000000 T _stext\n"
		"ffffffff81001000 t do_one_initcall\n"
		"ffffffff81500000 D some_data\n"
		"ffffffff81002000 W weak_fn\n"
		"ffffffff81000800 b bss_thing\n"
		"ffffffffc0a01000 t ext4_fill_super\t[ext4]\n"
		"ffffffffc0a00000 T ext4_init\t[ext4]\n"
		"ffffffff81003000 T schedule\n";
	static const char hidden[] =
		"0000000000000000 T _text\n"
		"0000000000000000 t foo\t[mod]\n"
		"0000000000000000 D data\n";
	struct procfs_ksyms k;
	const struct procfs_ksym *s;

	CHECK_INT(procfs_parse_kallsyms(text, &k), 0);
	CHECK_INT(k.n, 7);
	CHECK(!k.all_zero);
	for (size_t i = 1; i < k.n; i++)
		CHECK(k.syms[i - 1].addr <= k.syms[i].addr);
	s = procfs_ksyms_find(&k, 0xffffffff81001234ULL);
	CHECK(s && strcmp(s->name, "do_one_initcall") == 0 && s->module == NULL);
	s = procfs_ksyms_find(&k, 0xffffffff81002000ULL);
	CHECK(s && strcmp(s->name, "weak_fn") == 0);
	s = procfs_ksyms_find(&k, 0xffffffff81600000ULL);	/* data not kept */
	CHECK(s && strcmp(s->name, "schedule") == 0);
	s = procfs_ksyms_find(&k, 0xffffffffc0a01010ULL);
	CHECK(s && strcmp(s->name, "ext4_fill_super") == 0 &&
	      s->module && strcmp(s->module, "ext4") == 0);
	CHECK(procfs_ksyms_find(&k, 0xffffffff80000000ULL) == NULL);
	procfs_ksyms_release(&k);

	CHECK_INT(procfs_parse_kallsyms(hidden, &k), 0);
	CHECK_INT(k.n, 2);
	CHECK(k.all_zero);
	CHECK(procfs_ksyms_find(&k, 0xffffffff81000000ULL) == NULL);
	procfs_ksyms_release(&k);

	CHECK_INT(procfs_parse_kallsyms("zzz\n", &k), -EINVAL);

	/* The real file: as root the addresses are visible. */
	CHECK_INT(procfs_read_kallsyms(&k), 0);
	CHECK(k.n > 1000);
	if (geteuid() == 0)
		CHECK(!k.all_zero);
	procfs_ksyms_release(&k);
}

/* /proc/PID/status: uids, and the pid in the innermost namespace (the
 * last NStgid field; the pid when there is no such line). */
static void test_ids(void)
{
	struct procfs_ids ids;
	const char *in_container =
		"Name:\tnode\nUmask:\t0022\nState:\tR (running)\n"
		"Tgid:\t4242\nNgid:\t0\nPid:\t4242\nPPid:\t1\n"
		"Uid:\t1000\t1001\t1002\t1003\nGid:\t0\t0\t0\t0\n"
		"NStgid:\t4242\t17\t1\nNSpid:\t4242\t17\t1\n";
	const char *old_kernel =
		"Name:\tx\nPid:\t99\nUid:\t0\t0\t0\t0\n";

	CHECK_INT(procfs_parse_ids(in_container, 4242, &ids), 0);
	CHECK_INT(ids.nstgid, 1);
	CHECK_INT(ids.uids[0], 1000);
	CHECK_INT(ids.uids[1], 1001);
	CHECK_INT(ids.uids[2], 1002);
	CHECK_INT(ids.uids[3], 1003);
	CHECK_INT(procfs_parse_ids(old_kernel, 99, &ids), 0);
	CHECK_INT(ids.nstgid, 99);
	CHECK_INT(procfs_parse_ids("Name:\tx\nUid:\t1\t2\n", 5, &ids), -EINVAL);
	CHECK_INT(procfs_parse_ids("Name:\tx\n", 5, &ids), -EINVAL);
	CHECK_INT(procfs_read_ids(getpid(), &ids), 0);
	CHECK_INT(ids.uids[1], geteuid());
	CHECK_INT(procfs_read_ids(999999999, &ids), -ENOENT);
}

static bool has_pid(const pid_t *v, size_t n, pid_t p)
{
	for (size_t i = 0; i < n; i++)
		if (v[i] == p)
			return true;
	return false;
}

/* A child that forks a grandchild: both are our descendants, the
 * grandchild alone is the child's; a copy of maps is deep. */
static void test_descendants_and_dup(void)
{
	int ready[2];
	pid_t kid, grandkid = 0, *v = NULL;
	size_t n = 0;

	if (pipe(ready) < 0)
		return;
	kid = fork();
	if (kid == 0) {
		pid_t g;

		alarm(20);
		g = fork();
		if (g == 0) {
			pause();
			_exit(0);
		}
		if (write(ready[1], &g, sizeof(g)) != sizeof(g))
			_exit(1);
		pause();
		_exit(0);
	}
	close(ready[1]);
	if (read(ready[0], &grandkid, sizeof(grandkid)) != sizeof(grandkid))
		grandkid = 0;
	close(ready[0]);
	CHECK(grandkid > 0);
	CHECK_INT(procfs_list_descendants(getpid(), &v, &n), 0);
	CHECK(has_pid(v, n, kid));
	CHECK(has_pid(v, n, grandkid));
	CHECK(!has_pid(v, n, getpid()));
	for (size_t i = 1; i < n; i++)
		CHECK(v[i - 1] < v[i]);
	free(v);
	CHECK_INT(procfs_list_descendants(kid, &v, &n), 0);
	CHECK_INT(n, 1);
	CHECK(n == 1 && v[0] == grandkid);
	free(v);
	CHECK_INT(procfs_list_descendants(grandkid, &v, &n), 0);
	CHECK_INT(n, 0);
	CHECK(v == NULL);
	if (grandkid > 0)
		kill(grandkid, SIGKILL);
	kill(kid, SIGKILL);
	waitpid(kid, NULL, 0);

	struct procfs_maps m, d;

	CHECK_INT(procfs_read_maps(getpid(), &m), 0);
	CHECK_INT(procfs_maps_dup(&m, &d), 0);
	CHECK_INT(d.n, m.n);
	for (size_t i = 0; i < m.n && i < d.n; i++) {
		CHECK(d.maps[i].start == m.maps[i].start);
		CHECK(d.maps[i].path != m.maps[i].path);
		CHECK_STR(d.maps[i].path, m.maps[i].path);
	}
	procfs_maps_release(&m);
	procfs_maps_release(&d);
}

int main(void)
{
	test_read_limit();
	test_descendants_and_dup();
	test_maps();
	test_self_maps();
	test_stat();
	test_syscall();
	test_tasks_comm_cmdline();
	test_some_tasks();
	test_read_file();
	test_open_root_file();
	test_kallsyms();
	test_ids();
	return check_done();
}

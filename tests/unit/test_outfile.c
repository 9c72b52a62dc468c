/*
 * test_outfile.c - what -o names, written without damaging it: new and
 * existing regular files (mode, owner, atomic replacement, no temporary
 * left), symbolic links (followed, kept, dangling, looping), hard links,
 * a device node, a FIFO with and without a reader, a socket, standard
 * output, a terminal, and the errors. Run as root (the test set-up is):
 * the device nodes and the owner cases need it.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "outfile.h"

static const char one[] = "first version, longer than the second";
static const char two[] = "second";

static int count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	int n = 0;
	struct dirent *e;
	while (d && (e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			n++;
	if (d)
		closedir(d);
	return n;
}

/* The whole file, NUL-terminated; NULL if it cannot be read. */
static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	char *buf = malloc(1 << 16);
	*len = fread(buf, 1, (1 << 16) - 1, f);
	buf[*len] = '\0';
	fclose(f);
	return buf;
}

static bool has_content(const char *path, const char *want)
{
	size_t len;
	char *got = slurp(path, &len);
	bool ok = got && len == strlen(want) + 1 && !memcmp(got, want, len);
	free(got);
	return ok;
}

static int write_str(const char *path, const char *s)
{
	return outfile_write_path(path, s, strlen(s) + 1, NULL, 0);
}

static void join(char *buf, size_t len, const char *dir, const char *name)
{
	if ((size_t)snprintf(buf, len, "%s/%s", dir, name) >= len)
		abort();
}

static bool same_time(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec == b->tv_sec && a->tv_nsec == b->tv_nsec;
}

static void test_regular(const char *tmp)
{
	char path[512];
	struct stat st, st2;
	struct outfile *of;
	join(path, sizeof(path), tmp, "out.pprof");

	/* The check creates nothing, and nothing is left after a close
	 * without a write (a recording that failed). */
	CHECK_INT(outfile_open(path, &of, NULL, 0), 0);
	CHECK(outfile_is_file(of));
	CHECK(!outfile_is_stdout(of) && !outfile_is_tty(of) && !outfile_needs_reader(of));
	CHECK_INT(count_entries(tmp), 0);
	outfile_close(of);
	CHECK_INT(count_entries(tmp), 0);

	/* A new file: what open(2) would give, 0666 less the umask. */
	mode_t um = umask(027);
	CHECK_INT(write_str(path, one), 0);
	umask(um);
	CHECK(has_content(path, one));
	CHECK(stat(path, &st) == 0 && (st.st_mode & 07777) == 0640);
	CHECK_INT(count_entries(tmp), 1);

	/* An existing file is replaced (a new inode: readers of the old
	 * one see it whole) and keeps its mode and owner. */
	CHECK_INT(chmod(path, 0604), 0);
	if (geteuid() == 0)
		CHECK_INT(chown(path, 65534, 65534), 0);
	CHECK_INT(stat(path, &st), 0);
	CHECK_INT(write_str(path, two), 0);
	CHECK(has_content(path, two));
	CHECK_INT(stat(path, &st2), 0);
	CHECK(st2.st_ino != st.st_ino);
	CHECK_INT(st2.st_mode & 07777, 0604);
	CHECK_INT(st2.st_uid, st.st_uid);
	CHECK_INT(st2.st_gid, st.st_gid);
	CHECK_INT(count_entries(tmp), 1);	/* no temporary left */

	/* Set-user-ID bits survive the chown that keeps the owner. */
	CHECK_INT(chmod(path, 04750), 0);
	CHECK_INT(write_str(path, one), 0);
	CHECK(stat(path, &st2) == 0 && (st2.st_mode & 07777) == 04750);
	unlink(path);
}

static void test_symlinks(const char *tmp)
{
	char real[512], link1[512], link2[512], dangling[512], created[512],
	     loop1[512], loop2[512], sub[512];
	struct stat st, lst;
	join(real, sizeof(real), tmp, "real.pprof");
	join(link1, sizeof(link1), tmp, "link1");
	join(link2, sizeof(link2), tmp, "link2");
	join(sub, sizeof(sub), tmp, "sub");
	CHECK_INT(mkdir(sub, 0755), 0);

	/* A chain: link2 -> (absolute) link1 -> (relative) real.pprof. */
	CHECK_INT(write_str(real, one), 0);
	CHECK_INT(chmod(real, 0640), 0);
	if (geteuid() == 0)
		CHECK_INT(chown(real, 65534, 0), 0);
	CHECK_INT(stat(real, &st), 0);
	CHECK_INT(symlink("real.pprof", link1), 0);
	CHECK_INT(symlink(link1, link2), 0);
	CHECK_INT(write_str(link2, two), 0);
	CHECK(lstat(link1, &lst) == 0 && S_ISLNK(lst.st_mode));
	CHECK(lstat(link2, &lst) == 0 && S_ISLNK(lst.st_mode));
	CHECK(has_content(real, two));
	CHECK(lstat(real, &lst) == 0 && S_ISREG(lst.st_mode));
	CHECK_INT(lst.st_mode & 07777, 0640);
	CHECK_INT(lst.st_uid, st.st_uid);
	CHECK(lst.st_ino != st.st_ino);	/* replaced, not rewritten */
	CHECK_INT(count_entries(tmp), 4);

	/* A link into another directory, relative to the link's own. */
	char inner[600], outer[512];
	join(inner, sizeof(inner), sub, "inner.pprof");
	join(outer, sizeof(outer), tmp, "outer");
	CHECK_INT(write_str(inner, one), 0);
	CHECK_INT(symlink("sub/inner.pprof", outer), 0);
	CHECK_INT(write_str(outer, two), 0);
	CHECK(has_content(inner, two));
	CHECK_INT(count_entries(sub), 1);
	CHECK(lstat(outer, &lst) == 0 && S_ISLNK(lst.st_mode));

	/* A dangling link creates the file it names, as open(O_CREAT). */
	join(dangling, sizeof(dangling), tmp, "dangling");
	join(created, sizeof(created), sub, "created.pprof");
	CHECK_INT(symlink("sub/created.pprof", dangling), 0);
	struct outfile *of;
	CHECK_INT(outfile_open(dangling, &of, NULL, 0), 0);
	CHECK_INT(count_entries(sub), 1);	/* the check created nothing */
	outfile_close(of);
	mode_t um = umask(022);
	CHECK_INT(write_str(dangling, one), 0);
	umask(um);
	CHECK(lstat(dangling, &lst) == 0 && S_ISLNK(lst.st_mode));
	CHECK(has_content(created, one));
	CHECK(stat(created, &st) == 0 && (st.st_mode & 07777) == 0644);
	CHECK_INT(count_entries(sub), 2);

	/* A loop: ELOOP, nothing created. */
	join(loop1, sizeof(loop1), tmp, "loop1");
	join(loop2, sizeof(loop2), tmp, "loop2");
	CHECK_INT(symlink("loop2", loop1), 0);
	CHECK_INT(symlink("loop1", loop2), 0);
	int n = count_entries(tmp);
	CHECK_INT(outfile_open(loop1, &of, NULL, 0), -ELOOP);
	CHECK_INT(write_str(loop1, one), -ELOOP);
	CHECK_INT(count_entries(tmp), n);

	/* A link to a directory is a directory. */
	char dirlink[512];
	join(dirlink, sizeof(dirlink), tmp, "dirlink");
	CHECK_INT(symlink("sub", dirlink), 0);
	CHECK_INT(outfile_open(dirlink, &of, NULL, 0), -EISDIR);
}

/* A file with a second name is rewritten in place: a rename would leave
 * the other name on the old contents. */
static void test_hard_link(const char *tmp)
{
	char a[512], b[512];
	struct stat st, st2;
	join(a, sizeof(a), tmp, "hard-a");
	join(b, sizeof(b), tmp, "hard-b");
	CHECK_INT(write_str(a, one), 0);
	CHECK_INT(link(a, b), 0);
	CHECK_INT(stat(a, &st), 0);
	CHECK_INT(write_str(b, two), 0);
	CHECK(has_content(a, two) && has_content(b, two));
	CHECK(stat(a, &st2) == 0 && st2.st_ino == st.st_ino && st2.st_nlink == 2);
	unlink(a);
	unlink(b);
}

/* As another user: a file that user may write but not replace (a
 * directory it cannot write to; a sticky directory and a file it cannot
 * give its owner back) is rewritten in place, keeping owner and mode. */
static void test_not_replaceable(const char *tmp)
{
	if (geteuid() != 0)
		return;		/* the e2e and ctest runs are root */
	char ro[512], rof[600], sticky[512], stf[600];
	join(ro, sizeof(ro), tmp, "ro");
	join(sticky, sizeof(sticky), tmp, "sticky");
	join(rof, sizeof(rof), ro, "f.pprof");
	join(stf, sizeof(stf), sticky, "f.pprof");
	CHECK_INT(mkdir(ro, 0755), 0);
	CHECK_INT(mkdir(sticky, 0777), 0);
	CHECK_INT(chmod(sticky, 01777), 0);
	CHECK_INT(write_str(rof, one), 0);
	CHECK_INT(write_str(stf, one), 0);
	CHECK_INT(chmod(rof, 0666), 0);
	CHECK_INT(chmod(stf, 0666), 0);
	struct stat r0, s0, r1, s1;
	CHECK_INT(stat(rof, &r0), 0);
	CHECK_INT(stat(stf, &s0), 0);
	pid_t pid = fork();
	if (pid == 0) {
		if (setgid(65534) < 0 || setuid(65534) < 0)
			_exit(3);
		struct outfile *of;
		if (outfile_open(rof, &of, NULL, 0) < 0)
			_exit(4);
		outfile_close(of);
		if (write_str(rof, two) < 0)
			_exit(5);
		if (write_str(stf, two) < 0)
			_exit(6);
		_exit(0);
	}
	int status = -1;
	CHECK(waitpid(pid, &status, 0) == pid);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	CHECK(has_content(rof, two) && has_content(stf, two));
	CHECK(stat(rof, &r1) == 0 && r1.st_ino == r0.st_ino && r1.st_uid == 0 &&
	      (r1.st_mode & 07777) == 0666);
	CHECK(stat(stf, &s1) == 0 && s1.st_ino == s0.st_ino && s1.st_uid == 0 &&
	      (s1.st_mode & 07777) == 0666);
	CHECK_INT(count_entries(ro), 1);
	CHECK_INT(count_entries(sticky), 1);
}

static void test_errors(const char *tmp)
{
	char missing[512], sub[512], slash[512], err[256];
	struct outfile *of;
	join(missing, sizeof(missing), tmp, "nodir/out.pprof");
	join(sub, sizeof(sub), tmp, "edir");
	join(slash, sizeof(slash), tmp, "nothing/");
	CHECK_INT(mkdir(sub, 0755), 0);
	int n = count_entries(tmp);

	err[0] = '\0';
	CHECK_INT(outfile_open(missing, &of, err, sizeof(err)), -ENOENT);
	CHECK(strstr(err, "nodir") && strstr(err, "does not exist"));
	CHECK_INT(outfile_open(sub, &of, NULL, 0), -EISDIR);
	CHECK_INT(outfile_open(slash, &of, NULL, 0), -EISDIR);
	CHECK_INT(outfile_open("", &of, NULL, 0), -ENOENT);
	CHECK_INT(outfile_open("/etc/passwd/x.pprof", &of, NULL, 0), -ENOTDIR);
	CHECK_INT(write_str(missing, one), -ENOENT);
	CHECK_INT(write_str(sub, one), -EISDIR);
	CHECK_INT(count_entries(sub), 0);
	CHECK_INT(count_entries(tmp), n);
	if (geteuid() == 0) {
		/* root passes permission bits; sysfs refuses new files anyway */
		int r = outfile_open("/sys/cprof-test.pprof", &of, err, sizeof(err));
		CHECK(r == -EACCES || r == -EROFS);
		CHECK(strstr(err, "'/sys'") != NULL);
	}
	rmdir(sub);
}

/* Device nodes made here, never the machine's: a copy of /dev/null takes
 * the data, a copy of /dev/full refuses it; both stay devices. */
static void test_devices(const char *tmp)
{
	if (geteuid() != 0)
		return;		/* mknod needs CAP_MKNOD; the runs are root */
	char null[512], full[512];
	struct stat st, dst0, dst1;
	struct outfile *of;
	join(null, sizeof(null), tmp, "null");
	join(full, sizeof(full), tmp, "full");
	CHECK_INT(mknod(null, S_IFCHR | 0666, makedev(1, 3)), 0);
	CHECK_INT(mknod(full, S_IFCHR | 0666, makedev(1, 7)), 0);
	char link[512];
	join(link, sizeof(link), tmp, "nulllink");
	CHECK_INT(symlink("null", link), 0);
	int n = count_entries(tmp);
	CHECK_INT(stat(tmp, &dst0), 0);

	CHECK_INT(outfile_open(null, &of, NULL, 0), 0);
	CHECK(!outfile_is_file(of) && !outfile_needs_reader(of) && !outfile_is_tty(of));
	CHECK_INT(outfile_write(of, one, sizeof(one), NULL, 0), 0);
	outfile_close(of);
	CHECK(lstat(null, &st) == 0 && S_ISCHR(st.st_mode) && st.st_rdev == makedev(1, 3));

	CHECK_INT(write_str(full, one), -ENOSPC);
	CHECK(lstat(full, &st) == 0 && S_ISCHR(st.st_mode) && st.st_rdev == makedev(1, 7));

	/* Through a symbolic link: the link stays, the device too. */
	CHECK_INT(write_str(link, one), 0);
	CHECK(lstat(link, &st) == 0 && S_ISLNK(st.st_mode));
	CHECK(lstat(null, &st) == 0 && S_ISCHR(st.st_mode));

	/* Nothing created next to them, the directory not even touched. */
	CHECK_INT(count_entries(tmp), n);
	CHECK(stat(tmp, &dst1) == 0 && same_time(&dst0.st_mtim, &dst1.st_mtim));
	unlink(link);
	unlink(null);
	unlink(full);
}

/* Reads the FIFO to its end in a child; its exit status says whether
 * what came was want. ready gets a byte once the FIFO is open. */
static pid_t fifo_reader(const char *path, const char *want, int ready)
{
	pid_t pid = fork();
	if (pid != 0)
		return pid;
	int fd = open(path, O_RDONLY | O_NONBLOCK);
	if (fd < 0)
		_exit(2);
	fcntl(fd, F_SETFL, 0);
	if (ready >= 0 && write(ready, "r", 1) != 1)
		_exit(2);
	char buf[256];
	size_t n = 0;
	ssize_t r;
	/* O_NONBLOCK off: read blocks until a writer has come and gone. A
	 * read before any writer returns 0 at once, so retry on 0 until
	 * something arrived. */
	for (;;) {
		r = read(fd, buf + n, sizeof(buf) - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			_exit(2);
		if (r == 0 && n > 0)
			break;
		if (r == 0) {
			usleep(10000);
			continue;
		}
		n += (size_t)r;
	}
	_exit(n == strlen(want) + 1 && !memcmp(buf, want, n) ? 0 : 1);
}

static void test_fifo(const char *tmp)
{
	char fifo[512];
	struct stat st, dst0, dst1;
	struct outfile *of;
	int status = -1;
	join(fifo, sizeof(fifo), tmp, "fifo");
	CHECK_INT(mkfifo(fifo, 0644), 0);
	int n = count_entries(tmp);
	CHECK_INT(stat(tmp, &dst0), 0);

	/* No reader: the check does not block (alarm in main otherwise)
	 * and says a reader is needed; writing waits for one. */
	CHECK_INT(outfile_open(fifo, &of, NULL, 0), 0);
	CHECK(outfile_needs_reader(of));
	CHECK(!outfile_is_file(of));
	pid_t pid = fifo_reader(fifo, one, -1);
	CHECK_INT(outfile_wait_reader(of, NULL, 0), 0);
	CHECK(!outfile_needs_reader(of));
	CHECK_INT(outfile_write(of, one, sizeof(one), NULL, 0), 0);
	outfile_close(of);
	CHECK(waitpid(pid, &status, 0) == pid);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);

	/* A reader first: opened at once. */
	int ready[2];
	CHECK_INT(pipe(ready), 0);
	pid = fifo_reader(fifo, two, ready[1]);
	char b;
	CHECK(read(ready[0], &b, 1) == 1);
	CHECK_INT(outfile_open(fifo, &of, NULL, 0), 0);
	CHECK(!outfile_needs_reader(of));
	CHECK_INT(outfile_write(of, two, sizeof(two), NULL, 0), 0);
	outfile_close(of);
	CHECK(waitpid(pid, &status, 0) == pid);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	close(ready[0]);
	close(ready[1]);

	/* The reader gone before the write: EPIPE, not a signal (the
	 * commands ignore SIGPIPE, as here). */
	signal(SIGPIPE, SIG_IGN);
	int rfd = open(fifo, O_RDONLY | O_NONBLOCK);
	CHECK(rfd >= 0);
	CHECK_INT(outfile_open(fifo, &of, NULL, 0), 0);
	close(rfd);
	char err[256] = "";
	CHECK_INT(outfile_write(of, one, sizeof(one), err, sizeof(err)), -EPIPE);
	CHECK(strstr(err, "reader") != NULL);
	outfile_close(of);
	signal(SIGPIPE, SIG_DFL);

	CHECK(lstat(fifo, &st) == 0 && S_ISFIFO(st.st_mode));
	CHECK_INT(count_entries(tmp), n);
	CHECK(stat(tmp, &dst1) == 0 && same_time(&dst0.st_mtim, &dst1.st_mtim));
	unlink(fifo);
}

static void test_socket(const char *tmp)
{
	char path[512];
	struct outfile *of;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	join(path, sizeof(path), tmp, "sock");
	CHECK(strlen(path) < sizeof(sa.sun_path));
	strcpy(sa.sun_path, path);
	int ls = socket(AF_UNIX, SOCK_STREAM, 0);
	CHECK(ls >= 0);
	CHECK_INT(bind(ls, (struct sockaddr *)&sa, sizeof(sa)), 0);
	CHECK_INT(listen(ls, 1), 0);
	CHECK_INT(outfile_open(path, &of, NULL, 0), 0);
	CHECK(!outfile_is_file(of));
	CHECK_INT(outfile_write(of, one, sizeof(one), NULL, 0), 0);
	outfile_close(of);
	int c = accept(ls, NULL, NULL);
	CHECK(c >= 0);
	char buf[256];
	ssize_t n = c >= 0 ? read(c, buf, sizeof(buf)) : -1;
	CHECK(n == (ssize_t)sizeof(one) && !memcmp(buf, one, sizeof(one)));
	if (c >= 0)
		close(c);
	close(ls);
	struct stat st;
	CHECK(lstat(path, &st) == 0 && S_ISSOCK(st.st_mode));
	/* Nobody listening any more: refused, the socket file left alone. */
	char err[256] = "";
	CHECK_INT(outfile_open(path, &of, err, sizeof(err)), -ECONNREFUSED);
	CHECK(strstr(err, "listens") != NULL);
	CHECK(lstat(path, &st) == 0 && S_ISSOCK(st.st_mode));
	unlink(path);
}

static void test_stdout(void)
{
	struct outfile *of;
	int saved = dup(STDOUT_FILENO), p[2];
	CHECK(saved >= 0);
	fflush(stdout);
	CHECK_INT(pipe(p), 0);
	CHECK(dup2(p[1], STDOUT_FILENO) == STDOUT_FILENO);
	close(p[1]);
	CHECK_INT(outfile_open("-", &of, NULL, 0), 0);
	CHECK(outfile_is_stdout(of) && !outfile_is_file(of) && !outfile_is_tty(of));
	CHECK_INT(outfile_write(of, two, sizeof(two), NULL, 0), 0);
	outfile_close(of);	/* never closes fd 1 */
	CHECK(fcntl(STDOUT_FILENO, F_GETFD) >= 0);
	/* /dev/stdout is the same pipe, reopened: written in place. */
	CHECK_INT(outfile_open("/dev/stdout", &of, NULL, 0), 0);
	CHECK(outfile_is_stdout(of) && !outfile_is_file(of));
	CHECK_INT(outfile_write(of, one, sizeof(one), NULL, 0), 0);
	outfile_close(of);
	dup2(saved, STDOUT_FILENO);
	char buf[256];
	ssize_t n = read(p[0], buf, sizeof(buf));
	CHECK(n == (ssize_t)(sizeof(two) + sizeof(one)));
	CHECK(n > 0 && !memcmp(buf, two, sizeof(two)) &&
	      !memcmp(buf + sizeof(two), one, sizeof(one)));
	close(p[0]);

	/* Closed, or open for reading only. */
	char err[256] = "";
	close(STDOUT_FILENO);
	CHECK_INT(outfile_open("-", &of, err, sizeof(err)), -EBADF);
	CHECK(strstr(err, "closed") != NULL);
	int rd = open("/dev/null", O_RDONLY);
	CHECK_INT(rd, STDOUT_FILENO);
	CHECK_INT(outfile_open("-", &of, err, sizeof(err)), -EBADF);
	CHECK(strstr(err, "not open for writing") != NULL);
	dup2(saved, STDOUT_FILENO);
	close(saved);
}

static void test_tty(void)
{
	int m = posix_openpt(O_RDWR | O_NOCTTY);
	CHECK(m >= 0);
	if (m < 0)
		return;
	CHECK(grantpt(m) == 0 && unlockpt(m) == 0);
	const char *pts = ptsname(m);
	CHECK(pts != NULL);
	struct outfile *of;
	CHECK_INT(outfile_open(pts, &of, NULL, 0), 0);
	CHECK(outfile_is_tty(of) && !outfile_is_file(of));
	outfile_close(of);
	close(m);
}

int main(void)
{
	alarm(120);	/* a FIFO open that blocks fails the test, not hangs it */
	char tmp[] = "/tmp/test_outfile.XXXXXX";
	if (!mkdtemp(tmp)) {
		perror("mkdtemp");
		return 1;
	}
	/* another user (test_not_replaceable) must reach the files */
	chmod(tmp, 0755);
	test_regular(tmp);
	test_symlinks(tmp);
	test_hard_link(tmp);
	test_not_replaceable(tmp);
	test_errors(tmp);
	test_devices(tmp);
	test_fifo(tmp);
	test_socket(tmp);
	test_stdout();
	test_tty();
	char cmd[600];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", tmp);
	return check_done();
}

/*
 * outfile.c - what -o names, written without damaging it: regular files
 * replaced atomically with their mode and owner, symbolic links followed,
 * devices, FIFOs and sockets written in place, "-" as standard output.
 * docs/design.md §5 has the rules and the kernel behaviour they rest on.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "errmsg.h"
#include "outfile.h"

/* Links followed before ELOOP: the kernel's MAXSYMLINKS. */
#define OUTFILE_MAX_LINKS 40

enum outfile_how {
	OUTFILE_STDOUT,		/* "-" */
	OUTFILE_REPLACE,	/* an existing regular file: temporary + rename */
	OUTFILE_CREATE,		/* nothing there yet: temporary + rename */
	OUTFILE_INPLACE,	/* a regular file that cannot be replaced */
	OUTFILE_STREAM,		/* device, FIFO, socket: written through fd */
};

struct outfile {
	char *path;
	enum outfile_how how;	/* as found by outfile_open */
	mode_t type;		/* S_IFMT of what path named then, 0: nothing */
	int fd;			/* STDOUT, STREAM; -1: a FIFO awaiting its reader */
};

/* What a path names now and how to write it. */
struct outfile_plan {
	enum outfile_how how;
	struct stat st;		/* REPLACE, INPLACE, STREAM: the file itself */
	char *target;		/* REPLACE, CREATE: the name renamed onto */
};

/* Splits path into its directory (malloc'd) and base name (in path). */
static char *outfile_dirname(const char *path, const char **base)
{
	const char *slash = strrchr(path, '/');
	*base = slash ? slash + 1 : path;
	if (!slash)
		return strdup(".");
	if (slash == path)
		return strdup("/");
	return strndup(path, (size_t)(slash - path));
}

static int outfile_readlink(const char *path, char **out)
{
	for (size_t size = 256; size <= 16 * PATH_MAX; size *= 2) {
		char *buf = malloc(size);
		if (!buf)
			return -ENOMEM;
		ssize_t n = readlink(path, buf, size);
		if (n < 0) {
			int e = -errno;
			free(buf);
			return e;
		}
		if ((size_t)n < size) {
			buf[n] = '\0';
			*out = buf;
			return 0;
		}
		free(buf);
	}
	return -ENAMETOOLONG;
}

/* Follows the symbolic links that end path, as the kernel's lookup does,
 * to the name of the file they lead to; it may not exist (a dangling link
 * names the file open(O_CREAT) would create). Directories on the way are
 * left to the kernel. Only called once stat(2) has followed the same links:
 * the kernel's refusals (fs.protected_symlinks, nosymfollow mounts) come
 * first, see outfile_plan. */
static int outfile_resolve(const char *path, char **target)
{
	char *cur = strdup(path);
	if (!cur)
		return -ENOMEM;
	for (int hops = 0;; hops++) {
		struct stat lst;
		if (lstat(cur, &lst) < 0) {
			if (errno == ENOENT)
				break;
			int e = -errno;
			free(cur);
			return e;
		}
		if (!S_ISLNK(lst.st_mode))
			break;
		char *link = NULL, *next = NULL;
		int r = hops == OUTFILE_MAX_LINKS ? -ELOOP : outfile_readlink(cur, &link);
		if (r < 0) {
			free(cur);
			return r;
		}
		if (link[0] == '/') {
			next = link;
		} else {
			const char *base;
			char *dir = outfile_dirname(cur, &base);
			if (!dir || asprintf(&next, "%s/%s", dir, link) < 0)
				next = NULL;
			free(dir);
			free(link);
		}
		free(cur);
		if (!next)
			return -ENOMEM;
		cur = next;
	}
	*target = cur;
	return 0;
}

/* Why following a link was refused: fs.protected_symlinks (on by default
 * in Debian) lets nobody, root included, follow a link in a sticky
 * world-writable directory (/tmp) owned by someone else. */
static bool outfile_protected_link(const char *path)
{
	struct stat lst, dst;
	const char *base;
	if (lstat(path, &lst) < 0 || !S_ISLNK(lst.st_mode))
		return false;
	char *dir = outfile_dirname(path, &base);
	bool sticky = dir && stat(dir, &dst) == 0 && (dst.st_mode & S_ISVTX) &&
		      (dst.st_mode & S_IWOTH);
	free(dir);
	return sticky && lst.st_uid != geteuid() && lst.st_uid != dst.st_uid;
}

static int outfile_plan(const char *path, struct outfile_plan *p, char *err,
			size_t errlen)
{
	memset(p, 0, sizeof(*p));
	size_t n = strlen(path);
	if (n == 0) {
		errmsg_set(err, errlen, "empty file name");
		return -ENOENT;
	}
	if (path[n - 1] == '/') {
		errmsg_set(err, errlen, "names a directory");
		return -EISDIR;
	}
	/* stat(2) follows the links as open(2) would, with the same
	 * refusals: a name it cannot reach is not reached by us either. */
	if (stat(path, &p->st) == 0) {
		if (S_ISDIR(p->st.st_mode)) {
			errmsg_set(err, errlen, "it is a directory");
			return -EISDIR;
		}
		if (!S_ISREG(p->st.st_mode)) {
			p->how = OUTFILE_STREAM;
			return 0;
		}
		/* Replace only when our name for the file is the file the
		 * kernel reached (not so for a /proc/PID/fd link to a deleted
		 * file, or a link changed meanwhile), and when the rename would
		 * not split it from other hard links. */
		char *t = NULL;
		struct stat tst;
		if (p->st.st_nlink == 1 && outfile_resolve(path, &t) == 0 &&
		    lstat(t, &tst) == 0 && S_ISREG(tst.st_mode) &&
		    tst.st_dev == p->st.st_dev && tst.st_ino == p->st.st_ino) {
			p->how = OUTFILE_REPLACE;
			p->target = t;
			return 0;
		}
		free(t);
		p->how = OUTFILE_INPLACE;
		return 0;
	}
	int e = errno;
	if (e != ENOENT) {
		if (e == EACCES && outfile_protected_link(path))
			errmsg_set(err, errlen, "not following a symbolic link owned by "
				   "another user in a sticky world-writable directory "
				   "(fs.protected_symlinks)");
		else
			errmsg_set(err, errlen, "%s", strerror(e));
		return -e;
	}
	char *t;
	int r = outfile_resolve(path, &t);
	if (r < 0) {
		errmsg_set(err, errlen, "%s", strerror(-r));
		return r;
	}
	struct stat tst;
	if (lstat(t, &tst) == 0) {
		/* Appeared since stat(2), or reached otherwise than by name:
		 * let open(2) decide, as a shell's redirection would. */
		free(t);
		p->how = OUTFILE_INPLACE;
		return 0;
	}
	const char *base;
	char *dir = outfile_dirname(t, &base);
	if (!dir) {
		free(t);
		return -ENOMEM;
	}
	struct stat dst;
	r = 0;
	if (stat(dir, &dst) < 0) {
		r = -errno;
		if (r == -ENOENT)
			errmsg_set(err, errlen, "directory '%s' does not exist", dir);
		else
			errmsg_set(err, errlen, "directory '%s': %s", dir, strerror(-r));
	} else if (!S_ISDIR(dst.st_mode)) {
		r = -ENOTDIR;
		errmsg_set(err, errlen, "'%s' is not a directory", dir);
	}
	free(dir);
	if (r < 0) {
		free(t);
		return r;
	}
	p->how = OUTFILE_CREATE;
	p->target = t;
	return 0;
}

/* Creates ".BASE.XXXXXX" next to path; returns the fd and the name. */
static int outfile_mktemp(const char *path, char **tmpname)
{
	const char *base;
	char *dir = outfile_dirname(path, &base);
	if (!dir)
		return -ENOMEM;
	char *name = NULL;
	if (asprintf(&name, "%s/.%s.XXXXXX", dir, base) < 0) {
		free(dir);
		return -ENOMEM;
	}
	free(dir);
	int fd = mkostemp(name, O_CLOEXEC);
	if (fd < 0) {
		int e = errno;
		free(name);
		return -e;
	}
	*tmpname = name;
	return fd;
}

/* The umask without changing it: umask(2) can only read it by setting
 * it, which races with other threads creating files. /proc/self/status
 * has had a Umask line since Linux 4.7. */
static mode_t outfile_umask(void)
{
	mode_t um = 022;
	FILE *f = fopen("/proc/self/status", "re");
	char line[256];
	while (f && fgets(line, sizeof(line), f)) {
		unsigned int v;
		if (sscanf(line, "Umask: %o", &v) == 1) {
			um = (mode_t)(v & 0777);
			break;
		}
	}
	if (f)
		fclose(f);
	return um;
}

/* Writes it all, through partial writes, EINTR, and a descriptor someone
 * else made non-blocking (a shared pipe). */
static int outfile_write_all(int fd, const void *data, size_t len)
{
	const char *p = data;
	while (len > 0) {
		ssize_t w = write(fd, p, len);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN) {
				struct pollfd pfd = { .fd = fd, .events = POLLOUT };
				if (poll(&pfd, 1, -1) < 0 && errno != EINTR)
					return -errno;
				continue;
			}
			return -errno;
		}
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

/* The atomic replacement of p->target: a temporary file in its directory
 * given the owner and mode the file will have, written, fsync'd, renamed.
 * With dry_run the temporary is created, given its owner and removed: the
 * check before the work. *fallback is set when the file exists and the
 * directory or the owner refused (not the data): it can still be rewritten
 * in place. */
static int outfile_replace(const struct outfile_plan *p, const void *data,
			   size_t len, bool dry_run, bool *fallback,
			   char *err, size_t errlen)
{
	bool exists = p->how == OUTFILE_REPLACE;
	char *tmp = NULL;
	int fd = outfile_mktemp(p->target, &tmp);
	*fallback = false;
	if (fd < 0) {
		const char *base;
		char *dir = outfile_dirname(p->target, &base);
		struct stat dst;
		/* The directory is there (outfile_plan saw it): ENOENT is a
		 * file system that makes no new files, as /proc. */
		if (fd == -ENOENT && dir && stat(dir, &dst) == 0) {
			fd = -EPERM;
			errmsg_set(err, errlen, "the file system of '%s' takes no new files",
				   dir);
		} else {
			errmsg_set(err, errlen, "cannot create a file in '%s': %s",
				   dir ? dir : ".", strerror(-fd));
		}
		free(dir);
		*fallback = exists;
		return fd;
	}
	int ret = 0;
	const char *step = NULL;
	struct stat tst;
	/* As root, a file of another owner stays theirs. fchown before
	 * fchmod: chown(2) clears the set-user-ID and set-group-ID bits. */
	if (exists && fstat(fd, &tst) == 0 &&
	    (tst.st_uid != p->st.st_uid || tst.st_gid != p->st.st_gid) &&
	    fchown(fd, p->st.st_uid, p->st.st_gid) < 0) {
		ret = -errno;
		step = "cannot give the new file the owner of the old one";
		*fallback = ret == -EPERM;
		goto out_unlink;
	}
	if (dry_run)
		goto out_unlink;
	ret = outfile_write_all(fd, data, len);
	if (ret < 0) {
		step = "write";
		goto out_unlink;
	}
	/* A new file gets what open(2) would give, 0666 less the umask,
	 * not mkstemp's 0600; an existing one keeps its own. */
	if (fchmod(fd, exists ? p->st.st_mode & 07777 : 0666 & ~outfile_umask()) < 0) {
		ret = -errno;
		step = "chmod";
		goto out_unlink;
	}
	/* Without fsync before rename, a crash can leave the new name
	 * pointing at an empty file on ext4 and others (rename(2) is atomic
	 * for the name, not for the data). */
	if (fsync(fd) < 0) {
		ret = -errno;
		step = "fsync";
		goto out_unlink;
	}
	if (close(fd) < 0) {
		fd = -1;
		ret = -errno;
		step = "close";
		goto out_unlink;
	}
	fd = -1;
	/* rename(2) does not follow a link at target: target is the end of
	 * the chain, so the links stay what they are. */
	if (rename(tmp, p->target) < 0) {
		ret = -errno;
		step = "rename";
		/* a sticky directory and a file of another owner */
		*fallback = exists && (ret == -EPERM || ret == -EACCES);
		goto out_unlink;
	}
	free(tmp);
	return 0;
out_unlink:
	if (step)
		errmsg_set(err, errlen, "%s: %s", step, strerror(-ret));
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	free(tmp);
	return ret;
}

/* Rewrites a regular file in place, as a shell's '>' does. With dry_run,
 * only opens it for writing (no O_TRUNC, no O_CREAT): nothing changes. */
static int outfile_inplace(const char *path, const void *data, size_t len,
			   bool dry_run, char *err, size_t errlen)
{
	int flags = O_WRONLY | O_NOCTTY | O_CLOEXEC;
	flags |= dry_run ? O_NONBLOCK : O_CREAT | O_TRUNC;
	int fd = open(path, flags, 0666);
	if (fd < 0) {
		int e = -errno;
		errmsg_set(err, errlen, "%s", strerror(-e));
		return e;
	}
	int ret = 0;
	if (!dry_run) {
		ret = outfile_write_all(fd, data, len);
		if (ret == 0 && fsync(fd) < 0)
			ret = -errno;
	}
	if (close(fd) < 0 && ret == 0)
		ret = -errno;
	if (ret < 0)
		errmsg_set(err, errlen, "%s (the file may be incomplete)", strerror(-ret));
	return ret;
}

/* A socket is connected to, not opened (open(2) gives ENXIO): a stream
 * socket, as `nc -lU` or socat make. */
static int outfile_connect(const char *path, char *err, size_t errlen)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	if (strlen(path) >= sizeof(sa.sun_path)) {
		errmsg_set(err, errlen, "socket path longer than %zu bytes",
			   sizeof(sa.sun_path) - 1);
		return -ENAMETOOLONG;
	}
	strcpy(sa.sun_path, path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		int e = -errno;
		errmsg_set(err, errlen, "socket: %s", strerror(-e));
		return e;
	}
	while (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		if (errno == EINTR)
			continue;
		int e = -errno;
		if (e == -ECONNREFUSED)
			errmsg_set(err, errlen, "no process listens on this socket");
		else if (e == -EPROTOTYPE)
			errmsg_set(err, errlen, "not a stream socket");
		else
			errmsg_set(err, errlen, "connect: %s", strerror(-e));
		close(fd);
		return e;
	}
	return fd;
}

/* Opens a device or FIFO for writing, in place: no O_CREAT, no O_TRUNC.
 * Without block, O_NONBLOCK keeps the open itself from waiting (a FIFO
 * without a reader gives ENXIO, fifo(7); a serial line does not wait for
 * its carrier); the descriptor is made blocking again for the write. */
static int outfile_open_stream(const char *path, mode_t type, bool block,
			       char *err, size_t errlen)
{
	if (S_ISSOCK(type))
		return outfile_connect(path, err, errlen);
	int fd;
	do
		fd = open(path, O_WRONLY | O_NOCTTY | O_CLOEXEC | (block ? 0 : O_NONBLOCK));
	while (fd < 0 && errno == EINTR && !block);
	if (fd < 0) {
		int e = -errno;
		errmsg_set(err, errlen, "%s", strerror(-e));
		return e;
	}
	int fl = fcntl(fd, F_GETFL);
	if (!block && fl >= 0)
		fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
	return fd;
}

int outfile_open(const char *path, struct outfile **out, char *err,
		 size_t errlen)
{
	struct outfile *of = calloc(1, sizeof(*of));
	if (!of || !(of->path = strdup(path))) {
		free(of);
		return -ENOMEM;
	}
	of->fd = -1;
	int r;
	if (!strcmp(path, "-")) {
		of->how = OUTFILE_STDOUT;
		int fl = fcntl(STDOUT_FILENO, F_GETFL);
		struct stat st;
		if (fl < 0 || (fl & O_ACCMODE) == O_RDONLY) {
			errmsg_set(err, errlen, fl < 0 ? "standard output is closed"
				   : "standard output is not open for writing");
			r = -EBADF;
			goto fail;
		}
		if (fstat(STDOUT_FILENO, &st) == 0)
			of->type = st.st_mode & S_IFMT;
		of->fd = STDOUT_FILENO;
		*out = of;
		return 0;
	}
	struct outfile_plan p;
	r = outfile_plan(path, &p, err, errlen);
	if (r < 0)
		goto fail;
	of->how = p.how;
	of->type = p.how == OUTFILE_CREATE ? 0 : p.st.st_mode & S_IFMT;
	bool fallback = false;
	switch (p.how) {
	case OUTFILE_REPLACE:
	case OUTFILE_CREATE:
		/* Creating the file is the test: access(2) passes root on a
		 * read-only or immutable directory, and ACLs or quotas can
		 * still refuse. The temporary is removed at once. */
		r = outfile_replace(&p, NULL, 0, true, &fallback, err, errlen);
		if (r < 0 && fallback) {
			of->how = OUTFILE_INPLACE;
			r = outfile_inplace(path, NULL, 0, true, err, errlen);
		}
		break;
	case OUTFILE_INPLACE:
		r = outfile_inplace(path, NULL, 0, true, err, errlen);
		break;
	case OUTFILE_STREAM:
		r = outfile_open_stream(path, of->type, false, err, errlen);
		if (r >= 0)
			of->fd = r;
		else if (r == -ENXIO && S_ISFIFO(of->type))
			r = 0;		/* no reader yet */
		break;
	case OUTFILE_STDOUT:
		break;
	}
	free(p.target);
	if (r < 0)
		goto fail;
	*out = of;
	return 0;
fail:
	free(of->path);
	free(of);
	return r;
}

bool outfile_needs_reader(const struct outfile *of)
{
	return of->how == OUTFILE_STREAM && of->fd < 0;
}

int outfile_wait_reader(struct outfile *of, char *err, size_t errlen)
{
	if (!outfile_needs_reader(of))
		return 0;
	int fd = outfile_open_stream(of->path, of->type, true, err, errlen);
	if (fd < 0)
		return fd;
	of->fd = fd;
	return 0;
}

bool outfile_is_tty(const struct outfile *of)
{
	return of->fd >= 0 && isatty(of->fd);
}

bool outfile_is_stdout(const struct outfile *of)
{
	struct stat a, b;
	if (of->how == OUTFILE_STDOUT)
		return true;
	return of->fd >= 0 && fstat(of->fd, &a) == 0 &&
	       fstat(STDOUT_FILENO, &b) == 0 && a.st_dev == b.st_dev &&
	       a.st_ino == b.st_ino && a.st_rdev == b.st_rdev;
}

bool outfile_is_file(const struct outfile *of)
{
	return of->how == OUTFILE_REPLACE || of->how == OUTFILE_CREATE ||
	       of->how == OUTFILE_INPLACE;
}

int outfile_write(struct outfile *of, const void *data, size_t len,
		  char *err, size_t errlen)
{
	int r;
	if (of->how == OUTFILE_STREAM || of->how == OUTFILE_STDOUT) {
		r = outfile_wait_reader(of, err, errlen);
		if (r < 0)
			return r;
		r = outfile_write_all(of->fd, data, len);
		if (r == -EPIPE)
			errmsg_set(err, errlen, "the reader went away before the end");
		else if (r < 0)
			errmsg_set(err, errlen, "%s", strerror(-r));
		return r;
	}
	/* Resolved again: the work may have taken minutes. */
	struct outfile_plan p;
	r = outfile_plan(of->path, &p, err, errlen);
	if (r < 0)
		return r;
	bool fallback = false;
	switch (p.how) {
	case OUTFILE_REPLACE:
	case OUTFILE_CREATE:
		r = outfile_replace(&p, data, len, false, &fallback, err, errlen);
		if (r < 0 && fallback)
			r = outfile_inplace(of->path, data, len, false, err, errlen);
		break;
	case OUTFILE_INPLACE:
		r = outfile_inplace(of->path, data, len, false, err, errlen);
		break;
	case OUTFILE_STREAM: {
		/* A file when checked, something else now. */
		int fd = outfile_open_stream(of->path, p.st.st_mode & S_IFMT, true,
					     err, errlen);
		r = fd;
		if (fd >= 0) {
			r = outfile_write_all(fd, data, len);
			close(fd);
			if (r < 0)
				errmsg_set(err, errlen, "%s", strerror(-r));
		}
		break;
	}
	case OUTFILE_STDOUT:
		break;
	}
	free(p.target);
	return r;
}

void outfile_close(struct outfile *of)
{
	if (!of)
		return;
	if (of->fd >= 0 && of->how != OUTFILE_STDOUT)
		close(of->fd);
	free(of->path);
	free(of);
}

int outfile_write_path(const char *path, const void *data, size_t len,
		       char *err, size_t errlen)
{
	struct outfile *of;
	int r = outfile_open(path, &of, err, errlen);
	if (r < 0)
		return r;
	r = outfile_write(of, data, len, err, errlen);
	outfile_close(of);
	return r;
}

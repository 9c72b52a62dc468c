/*
 * explain.c - what a failure to sample or to trace a process means, and
 * what to do about it: the current kernel settings (perf_event_paranoid,
 * Yama's ptrace_scope, the fd limit) named in hint lines, as perf's
 * evsel__open_strerror does. The library returns -errno and a reason; the
 * command line turns them into this.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "explain.h"
#include "privs.h"
#include "procfs.h"

static void explain_append(char **p, size_t *left, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void explain_append(char **p, size_t *left, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (*left == 0)
		return;
	va_start(ap, fmt);
	n = vsnprintf(*p, *left, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n >= *left)
		n = (int)*left - 1;
	*p += n;
	*left -= (size_t)n;
}

/* Capability numbers (linux/capability.h). */
#define EXPLAIN_CAP_SYS_PTRACE 19
#define EXPLAIN_CAP_SYS_ADMIN 21
#define EXPLAIN_CAP_PERFMON 38

/* Whether cprof's effective set holds capability cap. */
static bool explain_has_cap(int cap)
{
	char *status = NULL;
	const char *p;
	bool has = false;

	if (procfs_read_file("/proc/self/status", &status, NULL) == 0 &&
	    (p = strstr(status, "\nCapEff:")))
		has = (strtoull(p + 8, NULL, 16) >> cap) & 1;
	free(status);
	return has;
}

/* Hint lines for a refusal that neither the target's owner nor cprof's
 * capabilities explain: what else the kernel consults before letting one
 * process look into another (kernel/ptrace.c, __ptrace_may_access and the
 * security modules' ptrace_access_check hooks). */
static void explain_beyond_caps(char **p, size_t *left, pid_t pid)
{
	pid_t tracer = 0;
	long scope;
	char *lsm = NULL;

	if (procfs_tracer_pid(pid, &tracer) == 0 && tracer > 0)
		explain_append(p, left, "hint: pid %d is traced by pid %d: a process "
			       "has one tracer at a time; detach the debugger or "
			       "strace first\n", (int)pid, (int)tracer);
	if (procfs_read_long("/proc/sys/kernel/yama/ptrace_scope", &scope) == 0 &&
	    scope >= 3)
		explain_append(p, left, "hint: Yama ptrace_scope is %ld: no process "
			       "may be traced until the next boot\n", scope);
	if (procfs_read_file("/sys/kernel/security/lsm", &lsm, NULL) == 0)
		lsm[strcspn(lsm, "\n")] = '\0';
	explain_append(p, left, "hint: a security module may refuse it%s%s%s: "
		       "cprof may run in a sandbox (a Landlock domain, an AppArmor "
		       "or SELinux profile, a BPF LSM policy) that may not look into "
		       "processes outside it; run cprof outside the sandbox, or in "
		       "the target's\n", lsm ? " (active here: " : "",
		       lsm ? lsm : "", lsm ? ")" : "");
	free(lsm);
}

const char *explain_sampling(int err, pid_t pid, char *buf, size_t len)
{
	long paranoid = 2, v;
	char *p = buf;
	size_t left = len;
	int e = err < 0 ? -err : err;
	bool have_paranoid;
	char path[32];
	struct stat pst;

	if (!buf || !len)
		return buf;
	buf[0] = '\0';
	have_paranoid = procfs_read_long("/proc/sys/kernel/perf_event_paranoid",
					 &paranoid) == 0;

	switch (e) {
	case EACCES:
	case EPERM:
		/* With CAP_SYS_PTRACE and CAP_PERFMON (root has both) neither
		 * the target's owner nor perf_event_paranoid is the reason. */
		if (explain_has_cap(EXPLAIN_CAP_SYS_PTRACE) &&
		    (explain_has_cap(EXPLAIN_CAP_PERFMON) ||
		     explain_has_cap(EXPLAIN_CAP_SYS_ADMIN))) {
			explain_append(&p, &left,
				       "no permission to sample pid %d, though cprof "
				       "has CAP_PERFMON and CAP_SYS_PTRACE%s\n",
				       (int)pid, geteuid() == 0 ? " (it runs as root)" : "");
			explain_beyond_caps(&p, &left, pid);
			break;
		}
		/* The owner of /proc/PID is the process's effective uid
		 * (proc(5)): another user's process is refused whatever
		 * perf_event_paranoid says, so say that first. */
		snprintf(path, sizeof(path), "/proc/%d", (int)pid);
		if (geteuid() != 0 && stat(path, &pst) == 0 &&
		    pst.st_uid != geteuid()) {
			explain_append(&p, &left,
				       "no permission to sample pid %d: it belongs to "
				       "another user (uid %u) and cprof lacks CAP_SYS_PTRACE "
				       "(perf_event_paranoid is %ld)\n"
				       "hint: run cprof as that user or as root, or grant it "
				       "CAP_SYS_PTRACE and CAP_PERFMON (setcap "
				       "cap_perfmon,cap_sys_ptrace+ep cprof); lowering "
				       "perf_event_paranoid does not help here\n",
				       (int)pid, (unsigned)pst.st_uid, paranoid);
			break;
		}
		if (e == EACCES || !have_paranoid || paranoid >= 3)
			explain_append(&p, &left,
				       "no permission to sample pid %d "
				       "(perf_event_paranoid is %s%ld)\n",
				       (int)pid, have_paranoid ? "" : "unknown, assumed ",
				       paranoid);
		else
			explain_append(&p, &left,
				       "not permitted to sample pid %d: the perf ring "
				       "buffers exceed the locked-memory budget, or perf "
				       "events are restricted (perf_event_paranoid is %ld)\n",
				       (int)pid, paranoid);
		explain_append(&p, &left,
			       "hint: run cprof as root, or grant it the capabilities: "
			       "setcap cap_perfmon,cap_sys_ptrace+ep cprof\n");
		if (paranoid >= 3)
			explain_append(&p, &left,
				       "hint: paranoid level %ld (a Debian setting) allows "
				       "perf events only with CAP_SYS_ADMIN; lower it with "
				       "sysctl kernel.perf_event_paranoid=2 (user space) or 1\n",
				       paranoid);
		else
			explain_append(&p, &left,
				       "hint: or lower the setting: "
				       "sysctl kernel.perf_event_paranoid=1\n");
		explain_append(&p, &left,
			       "hint: perf_event_paranoid: -1 allows everything, "
			       "0 also CPU-wide events, 1 user and kernel sampling of "
			       "your own processes, 2 user space only (use --no-kernel), "
			       "3 (Debian) nothing without CAP_SYS_ADMIN\n");
		explain_append(&p, &left,
			       "hint: another user's process needs root or "
			       "CAP_SYS_PTRACE whatever the setting\n");
		if (e == EPERM && procfs_read_long("/proc/sys/kernel/perf_event_mlock_kb",
						   &v) == 0)
			explain_append(&p, &left,
				       "hint: if mmap failed, the ring buffers need more than "
				       "perf_event_mlock_kb (%ld KiB per CPU): raise it with "
				       "sysctl kernel.perf_event_mlock_kb=%ld\n", v, v * 4);
		break;
	case ESRCH:
		explain_append(&p, &left, "no process with pid %d (or it exited)\n"
			       "hint: check the PID with 'ps -p %d'\n", (int)pid, (int)pid);
		break;
	case ENOENT:
		explain_append(&p, &left,
			       "the kernel has no such perf event: cpu-clock (a software "
			       "event) is not available\n"
			       "hint: check that the kernel has CONFIG_PERF_EVENTS and that "
			       "/sys/bus/event_source/devices/software exists\n");
		break;
	case ENOSYS:
		explain_append(&p, &left,
			       "perf_event_open is not available: the kernel lacks "
			       "CONFIG_PERF_EVENTS or a seccomp filter blocks it\n"
			       "hint: in a container, allow perf_event_open in the "
			       "seccomp profile (docker: --security-opt seccomp=...)\n");
		break;
	case EMFILE:
	case ENFILE: {
		struct rlimit rl = { 0, 0 };

		getrlimit(RLIMIT_NOFILE, &rl);
		explain_append(&p, &left,
			       "too many open files sampling pid %d: one event per "
			       "thread and CPU exceeds the file-descriptor limit "
			       "(RLIMIT_NOFILE %llu, hard limit %llu)\n"
			       "hint: raise the hard limit before running cprof, "
			       "e.g. 'ulimit -n 65536' as root (LimitNOFILE= in a "
			       "systemd unit)\n", (int)pid,
			       (unsigned long long)rl.rlim_cur,
			       (unsigned long long)rl.rlim_max);
		if (e == ENFILE)
			explain_append(&p, &left,
				       "hint: the system-wide limit is fs.file-max\n");
		break;
	}
	case EINVAL:
		if (procfs_read_long("/proc/sys/kernel/perf_event_max_sample_rate",
				     &v) == 0)
			explain_append(&p, &left,
				       "invalid perf event settings for pid %d: the "
				       "frequency may be above perf_event_max_sample_rate "
				       "(%ld Hz), or the stack size is not a multiple of 8 "
				       "below 65536\n"
				       "hint: use -F %ld or lower, or raise the limit: "
				       "sysctl kernel.perf_event_max_sample_rate=N (the "
				       "kernel lowers it itself when sampling interrupts "
				       "take too long)\n", (int)pid, v, v);
		else
			explain_append(&p, &left,
				       "invalid perf event settings for pid %d\n",
				       (int)pid);
		break;
	case EOVERFLOW:
		v = 127;
		procfs_read_long("/proc/sys/kernel/perf_event_max_stack", &v);
		explain_append(&p, &left,
			       "the requested callchain depth is above "
			       "perf_event_max_stack (%ld)\n"
			       "hint: raise it with sysctl kernel.perf_event_max_stack=N\n",
			       v);
		break;
	case EBUSY:
		explain_append(&p, &left,
			       "the perf event is busy: another tool holds it exclusively\n"
			       "hint: stop the other profiler and retry\n");
		break;
	default:
		explain_append(&p, &left, "cannot sample pid %d: %s\n", (int)pid,
			       strerror(e));
		break;
	}
	/* No trailing newline: the caller prints lines as it likes. */
	if (p > buf && p[-1] == '\n')
		p[-1] = '\0';
	return buf;
}

const char *explain_ptrace(int err, pid_t pid, const char *reason, char *buf,
			   size_t len)
{
	const char *why = reason && *reason ? reason : strerror(-err);
	long scope;

	if (err == -EPERM && reason && strstr(reason, "already traced")) {
		snprintf(buf, len, "%s\nhint: a process has one tracer at a time: "
			 "detach the debugger or strace first", why);
	} else if ((err == -EPERM || err == -EACCES) &&
		   explain_has_cap(EXPLAIN_CAP_SYS_PTRACE)) {
		char *p = buf;
		size_t left = len;

		explain_append(&p, &left, "cannot attach to pid %d: %s\n"
			       "hint: cprof has CAP_SYS_PTRACE%s, so the process's "
			       "owner is not the reason\n", (int)pid, why,
			       geteuid() == 0 ? " (it runs as root)" : "");
		explain_beyond_caps(&p, &left, pid);
		if (p > buf && p[-1] == '\n')
			p[-1] = '\0';
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
		snprintf(buf, len, "cannot attach to pid %d: %s%s\nhint: run as the "
			 "user that owns the process%s, or as root, or grant cprof "
			 "CAP_SYS_PTRACE (cprof(1), CAPABILITIES)%s",
			 (int)pid, why, explain_has_cap(EXPLAIN_CAP_SYS_PTRACE) ? "" :
			 ": cprof lacks CAP_SYS_PTRACE", owner, yama);
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

/* Whether cprof may open the target's file path for reading as the
 * symbolizer opens it: through /proc/PID/root (procfs_open_root_file), with
 * cprof's effective ids and capabilities (access(2) would use the real
 * ids). */
static int explain_can_read(pid_t pid, const char *path)
{
	char *opened = NULL;
	int fd = procfs_open_root_file(pid, path, &opened);

	free(opened);
	if (fd < 0)
		return fd;
	close(fd);
	return 0;
}

int explain_access(pid_t pid, enum explain_use use, char *buf, size_t len)
{
	struct privs_ids ids;
	struct stat st;
	char path[40], exe[4096];
	ssize_t n;

	buf[0] = '\0';
	snprintf(path, sizeof(path), "/proc/%d", (int)pid);
	if (privs_read_ids(pid, &ids) < 0 || stat(path, &st) < 0)
		return 0;	/* gone: the caller's next step says so */
	/* /proc/PID belongs to root instead of the process's effective uid
	 * when it is not dumpable (proc(5)). */
	bool dumpable = st.st_uid == ids.uid[1];
	if (!explain_has_cap(EXPLAIN_CAP_SYS_PTRACE) &&
	    privs_ptrace_needs_cap(geteuid(), getegid(), &ids, dumpable)) {
		if (use == EXPLAIN_SAMPLE)
			explain_sampling(-EPERM, pid, buf, len);
		else
			explain_ptrace(-EPERM, pid, "permission denied", buf, len);
		return -EPERM;
	}
	/* The executable is read by the path the maps give (under the
	 * target's root): a directory cprof's user may not search hides it
	 * even from a tracer, and the stacks would have no function names. */
	snprintf(path, sizeof(path), "/proc/%d/exe", (int)pid);
	n = readlink(path, exe, sizeof(exe) - 1);
	if (n <= 0)
		return 0;
	exe[n] = '\0';
	if (n > 10 && !strcmp(exe + n - 10, " (deleted)"))
		return 0;
	int e = explain_can_read(pid, exe);
	if ((e == -EACCES || e == -EPERM) && !privs_has(PRIVS_CAP_DAC_READ_SEARCH) &&
	    !privs_has(PRIVS_CAP_DAC_OVERRIDE)) {
		snprintf(buf, len, "cannot read %s, the executable of pid %d: cprof lacks "
			 "CAP_DAC_READ_SEARCH (uid %u may not read it), so the stacks "
			 "would have no function names\n"
			 "hint: grant cprof CAP_DAC_READ_SEARCH as well, or run it as root "
			 "(cprof(1), CAPABILITIES)", exe, (int)pid, (unsigned)geteuid());
		return -EPERM;
	}
	return 0;
}

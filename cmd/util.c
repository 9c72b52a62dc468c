/*
 * util.c - messages, option values and target checks shared by the
 * subcommands.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd.h"
#include "explain.h"
#include "escape.h"
#include "privs.h"
#include "procfs.h"

volatile int cli_stop_signal;

/* Every message is one line, escaped as a whole (escape.h): what it quotes
 * (an argument, a path, a thread or command name, a reason from src/) can
 * hold any byte, and none may act on the terminal or start a line. */
static void vmessage(const char *prefix, const char *fmt, va_list ap)
{
	char buf[512], *big = NULL;
	const char *msg = buf;
	va_list aq;
	int n;

	va_copy(aq, ap);
	n = vsnprintf(buf, sizeof(buf), fmt, aq);
	va_end(aq);
	if (n < 0)
		msg = "?";
	else if ((size_t)n >= sizeof(buf)) {
		if (vasprintf(&big, fmt, ap) >= 0)
			msg = big;	/* else the cut message in buf */
		else
			big = NULL;
	}
	fputs(prefix, stderr);
	escape_fputs(msg, stderr);
	fputc('\n', stderr);
	free(big);
}

int cli_error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vmessage("cprof: ", fmt, ap);
	va_end(ap);
	return -1;
}

void cli_hint(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vmessage("hint: ", fmt, ap);
	va_end(ap);
}

void cli_warn(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vmessage("cprof: warning: ", fmt, ap);
	va_end(ap);
}

void cli_info(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vmessage("cprof: ", fmt, ap);
	va_end(ap);
}

void cli_print(const char *line)
{
	escape_fputs(line, stderr);
	fputc('\n', stderr);
}

void cli_explain(const char *text)
{
	const char *line = text;
	while (line && *line) {
		const char *nl = strchr(line, '\n');
		int len = nl ? (int)(nl - line) : (int)strlen(line);
		if (strncmp(line, "hint:", 5) != 0)
			fputs("cprof: ", stderr);
		escape_fwrite(line, (size_t)len, stderr);
		fputc('\n', stderr);
		line = nl ? nl + 1 : NULL;
	}
}

int cli_bad_option(const char *cmd, int c, char **argv)
{
	if (c == ':')
		cli_error("option '%s' needs a value", argv[optind - 1]);
	else if (optopt)
		cli_error("unknown option '-%c'", optopt);
	else
		cli_error("unknown option '%s'", argv[optind - 1]);
	cli_hint("see 'cprof %s --help'", cmd);
	return -1;
}

int cli_parse_pid(const char *opt, const char *s, pid_t *pid)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || end == s || *end || v <= 0 || v > INT_MAX) {
		cli_error("invalid %s '%s': not a process id", opt, s);
		cli_hint("give the numeric PID of a running process (see 'pgrep NAME')");
		return -1;
	}
	*pid = (pid_t)v;
	return 0;
}

int cli_parse_size(const char *opt, const char *s, unsigned long long min,
		   unsigned long long *v)
{
	char *end;
	errno = 0;
	unsigned long long x = strtoull(s, &end, 10), mul = 1;
	if (!errno && end != s && *s != '-' && *end && !end[1]) {
		switch (*end) {
		case 'K': case 'k': mul = 1ULL << 10; end++; break;
		case 'M': case 'm': mul = 1ULL << 20; end++; break;
		case 'G': case 'g': mul = 1ULL << 30; end++; break;
		case 'T': case 't': mul = 1ULL << 40; end++; break;
		}
	}
	if (errno || end == s || *end || *s == '-' || x > ULLONG_MAX / mul || x * mul < min) {
		cli_error("invalid %s '%s': must be a size of at least %llu MiB, "
			  "in bytes or with K, M, G or T", opt, s, min >> 20);
		cli_hint("e.g. %s 4G", opt);
		return -1;
	}
	*v = x * mul;
	return 0;
}

int cli_parse_ulong(const char *opt, const char *s, unsigned long min,
		    unsigned long max, unsigned long *v)
{
	char *end;
	errno = 0;
	unsigned long long x = strtoull(s, &end, 10);
	if (errno || end == s || *end || *s == '-' || x < min || x > max) {
		cli_error("invalid %s '%s': must be a whole number from %lu to %lu",
			  opt, s, min, max);
		cli_hint("give %s a value between %lu and %lu, or leave it out for the default",
			 opt, min, max);
		return -1;
	}
	*v = (unsigned long)x;
	return 0;
}

int cli_parse_callgraph(const char *s, enum sampler_callgraph *cg)
{
	if (!strcmp(s, "dwarf")) {
		*cg = SAMPLER_CG_DWARF;
	} else if (!strcmp(s, "fp")) {
		*cg = SAMPLER_CG_FP;
	} else {
		cli_error("invalid --call-graph '%s': must be dwarf or fp", s);
		cli_hint("dwarf (the default) is right without frame pointers; fp is cheaper");
		return -1;
	}
	return 0;
}

bool cli_kernel_access(void)
{
	long paranoid = 2;

	if (privs_has(PRIVS_CAP_PERFMON) || privs_has(PRIVS_CAP_SYS_ADMIN))
		return true;
	procfs_read_long("/proc/sys/kernel/perf_event_paranoid", &paranoid);
	return paranoid <= 1;
}

int cli_parse_seconds(const char *opt, const char *s, double *v)
{
	char *end;
	errno = 0;
	double x = strtod(s, &end);
	if (errno || end == s || *end || !isfinite(x) || x <= 0) {
		cli_error("invalid %s '%s': must be a positive number of seconds", opt, s);
		cli_hint("for example %s 10 or %s 0.5", opt, opt);
		return -1;
	}
	*v = x;
	return 0;
}

/* The Tgid line of /proc/PID/status; 0 when it cannot be read. */
static pid_t thread_group(pid_t pid)
{
	char path[32], *text = NULL;
	long tgid = 0;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if (procfs_read_file(path, &text, NULL) == 0) {
		const char *p = strstr(text, "\nTgid:");
		if (p)
			tgid = strtol(p + 6, NULL, 10);
	}
	free(text);
	return tgid > 0 && tgid <= INT_MAX ? (pid_t)tgid : 0;
}

int cli_check_target(pid_t pid)
{
	struct procfs_stat st;
	if (pid == getpid()) {
		cli_error("pid %d is cprof itself", (int)pid);
		cli_hint("give the PID of another process");
		return -1;
	}
	int r = procfs_read_stat(pid, 0, &st);
	if (r == -ENOENT || r == -ESRCH) {
		cli_error("no process with pid %d", (int)pid);
		cli_hint("check the PID with 'ps -p %d' or 'pgrep NAME'", (int)pid);
		return -1;
	}
	if (r < 0) {
		cli_error("cannot read /proc/%d/stat: %s", (int)pid, strerror(-r));
		return -1;
	}
	if (st.flags & PROCFS_PF_KTHREAD) {
		cli_error("pid %d (%s) is a kernel thread: it has no user space to profile",
			  (int)pid, st.comm);
		cli_hint("profile a user process; for kernel time use 'perf record -a'");
		return -1;
	}
	/* /proc/TID exists for every thread, though it is not listed: a
	 * thread id would pass the checks above, then every sample (whose
	 * pid is the process's) would be dropped as another process's. */
	pid_t tgid = thread_group(pid);
	if (tgid > 0 && tgid != pid) {
		cli_error("%d is a thread of process %d, not a process id",
			  (int)pid, (int)tgid);
		cli_hint("give the process id: -p %d (every thread is sampled)",
			 (int)tgid);
		return -1;
	}
	if (procfs_stat_gone(&st)) {
		cli_error("pid %d (%s) is a zombie: it has exited and has no threads left",
			  (int)pid, st.comm);
		cli_hint("its parent (pid %d) has not reaped it yet; profile a live process",
			 (int)st.ppid);
		return -1;
	}
	return 0;
}

bool cli_stderr_is_tty(void)
{
	return isatty(STDERR_FILENO);
}

static void on_stop_signal(int sig)
{
	cli_stop_signal = sig;
}

void cli_catch_signals(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

int cli_check_access(pid_t pid, int use)
{
	char buf[2048];

	if (explain_access(pid, (enum explain_use)use, buf, sizeof(buf)) == 0)
		return 0;
	cli_explain(buf);
	return -1;
}

/*
 * explain.h - user-facing explanations of the library's errors: a first
 * line, then "hint:" lines naming the setting in force and the fix. No
 * trailing newline; cli_explain() prints them.
 */
#ifndef CPROF_EXPLAIN_H
#define CPROF_EXPLAIN_H

#include <stddef.h>
#include <sys/types.h>

/* A failure of sampler_open/record_run with this errno (-errno or errno)
 * for pid: perf_event_paranoid, capabilities, fd and mlock limits. Writes
 * into buf; returns buf. */
const char *explain_sampling(int err, pid_t pid, char *buf, size_t len);

/* A failure of threads_capture (err, and reason: its message) for pid:
 * ownership, Yama, another tracer. Returns buf. */
const char *explain_ptrace(int err, pid_t pid, const char *reason, char *buf,
			   size_t len);

/* What cprof is about to do to pid, for explain_access. */
enum explain_use {
	EXPLAIN_TRACE,		/* threads: ptrace and read the binaries */
	EXPLAIN_SAMPLE,		/* record: perf events and read the binaries */
	EXPLAIN_SERVE,		/* serve: both */
};

/* Before anything is done to pid: the capability cprof lacks for it, if
 * any (docs/design.md §11): CAP_SYS_PTRACE for another user's (or a
 * non-dumpable) process, CAP_DAC_READ_SEARCH for an executable cprof's
 * user may not read. Returns 0 with buf empty when nothing is missing,
 * -EPERM with the explanation (as explain_sampling or explain_ptrace would
 * give it) in buf otherwise. */
int explain_access(pid_t pid, enum explain_use use, char *buf, size_t len);

#endif

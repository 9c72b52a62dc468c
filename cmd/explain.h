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

#endif

/*
 * trace.h - a timeline of threads as Chrome Trace Event JSON (the "JSON
 * Array/Object Format" that Perfetto UI, chrome://tracing and speedscope
 * open): one track per thread, named by metadata events, "X" (complete)
 * events for on- and off-CPU intervals, "i" (instant) events for CPU
 * samples. Times are microseconds since the window's start.
 *
 * The writer only formats: record.c decides what goes in (docs/design.md
 * §8). Strings are escaped for JSON; a byte >= 0x80 is written as \u00XX
 * so that the file stays valid JSON whatever a symbol holds.
 */
#ifndef CPROF_TRACE_H
#define CPROF_TRACE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct trace;

struct trace *trace_new(void);
/* The window's start, CLOCK_MONOTONIC ns (record.c sets it when sampling
 * starts): times are written relative to it, earlier ones as 0. */
void trace_set_start(struct trace *t, uint64_t start);
void trace_free(struct trace *t);

/* Names a track (once per process and per thread; later calls are kept
 * too, the viewers take the last). Return 0 or -ENOMEM. */
int trace_process_name(struct trace *t, pid_t pid, const char *name);
int trace_thread_name(struct trace *t, pid_t pid, pid_t tid, const char *name);

/* An interval of thread tid: name and category ("running", "cpu"; or
 * "[syscall] futex", "off-cpu"), on cpu (-1: unknown, left out), with a
 * stack (leaf first; NULL/0: none) as args.stack. */
int trace_slice(struct trace *t, pid_t pid, pid_t tid, const char *name,
		const char *cat, uint64_t start, uint64_t end, int cpu,
		const char *const *stack, size_t nstack);

/* A CPU sample of thread tid at time, with its stack. */
int trace_sample(struct trace *t, pid_t pid, pid_t tid, uint64_t time,
		 const char *const *stack, size_t nstack);

/* The finished JSON document (malloc'd, the caller's), saying the window's
 * length (ns); the trace is empty afterwards. Returns 0 or -ENOMEM. */
int trace_finish(struct trace *t, uint64_t duration, char **json, size_t *len);

/* Events written so far. */
size_t trace_events(const struct trace *t);

#endif

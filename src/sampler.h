/*
 * sampler.h - CPU sampling of every thread of a process with perf_event_open.
 *
 * Scheme (docs/design.md §1, as `perf record -p` does): one cpu-clock event per
 * (thread x online CPU) with inherit=1 (so threads created later by those
 * threads are followed by the kernel) and inherit_thread=1 (so forked child
 * processes are not, unless opts.children asks for them); every event of
 * one CPU is redirected with PERF_EVENT_IOC_SET_OUTPUT into one ring per
 * CPU. /proc/PID/task is re-scanned until a pass finds no new thread, so a
 * thread born during set-up is not missed. Each thread costs one fd per
 * CPU: the caller raises RLIMIT_NOFILE's soft limit if it needs more than
 * ~500 threads (cprof does at start).
 *
 * Records reach the callback in time order across the rings (docs/design.md
 * §1.1): a child's FORK, its exec's COMM and MMAP2 records and its samples
 * may sit in different CPUs' rings.
 *
 * The sampler never prints. Errors: negative errno, with a one-line reason
 * naming the failing call in err (may be NULL).
 */
#ifndef CPROF_SAMPLER_H
#define CPROF_SAMPLER_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include <sys/types.h>
#include "ringbuf.h"

enum sampler_callgraph {
	SAMPLER_CG_DWARF,	/* regs + user stack copy, unwound by us */
	SAMPLER_CG_FP,		/* kernel frame-pointer callchain */
};

/* The events opened on each thread x CPU (docs/design.md §8). */
enum sampler_kind {
	SAMPLER_CPU,		/* cpu-clock, sampled every 1e9/freq ns */
	SAMPLER_SWITCH,		/* context-switches, sampled at switch-out
				 * (every switch_period-th), and
				 * PERF_RECORD_SWITCH records of every
				 * switch out and in; needs kernel
				 * sampling rights (the sample is taken in
				 * the scheduler) */
	SAMPLER_WAKING,		/* the sched:sched_waking tracepoint: who
				 * woke which thread (sampler_record.wakee) */
	SAMPLER_UPROBE,		/* uprobes on functions of one file
				 * (opts.uprobe, docs/design.md §12.4): one
				 * event per function, sampled every
				 * opts.uprobe.period-th call, with the
				 * registers and stack at the function's
				 * entry (sampler_record.uprobe names it);
				 * every call counted (sampler_uprobe_counts) */
	SAMPLER_NKINDS,
};
#define SAMPLER_KIND(k) (1u << (k))

/* Functions a SAMPLER_UPROBE sampler probes, at most. */
#define SAMPLER_UPROBE_MAX 32

/* The registers of a light uprobe sample (sampler_uprobe.light): AX (a
 * return value), DX SI DI (arguments) and SP, perf's bits 0 3 4 5 7. The
 * sampler hands them on at their RB_* places of a full register array. */
#define SAMPLER_LIGHT_REGS_MASK 0xb9ULL

/* What SAMPLER_UPROBE probes: functions of one ELF file, by file offset.
 * The probes are defined in tracefs (uprobe_events, a group of the
 * sampler's own, removed by sampler_free) and opened as tracepoints: the
 * uprobe PMU's events cannot be inherited (docs/design.md §12.4). Needs
 * root (tracefs writable). */
struct sampler_uprobe {
	const char *path;		/* the file, as cprof can open it (a
					 * target in another mount namespace:
					 * /proc/PID/root/...), resolved by
					 * the kernel when the probe is
					 * defined; no space or colon */
	uint64_t offset[SAMPLER_UPROBE_MAX];	/* file offset of function i;
						 * 0: not probed */
	uint64_t period;		/* a sample every period-th call of a
					 * function; 0 means 1 */
	bool count_only[SAMPLER_UPROBE_MAX];	/* function i counted, never
						 * sampled */
	bool retprobe[SAMPLER_UPROBE_MAX];	/* probe i at the function's
						 * return (a uretprobe: RAX
						 * is its result, SP the
						 * entry's + 8) */
	bool light[SAMPLER_UPROBE_MAX];	/* probe i sampled at every call
					 * (period 1), each sample with
					 * IDENTIFIER TID TIME and the
					 * SAMPLER_LIGHT_REGS_MASK registers
					 * only: no IP, no stack copy
					 * (docs/design.md §12.4) */
};

struct sampler_opts {
	pid_t pid;
	unsigned kinds;			/* SAMPLER_KIND() bits; 0: CPU alone */
	uint64_t switch_period;		/* SWITCH: a stack every Nth
					 * switch-out; 0 means 1 */
	unsigned freq;			/* Hz; sample_period = 1e9 / freq ns
					 * (CPU; may be 0 without it) */
	struct sampler_uprobe uprobe;	/* SAMPLER_UPROBE: what to probe */
	enum sampler_callgraph callgraph;
	uint32_t stack_size;		/* dwarf: bytes of user stack copied,
					 * multiple of 8, < 65536 */
	bool kernel;			/* sample kernel too (callchain has
					 * kernel frames; time in syscalls) */
	bool enable_on_exec;		/* start counting at the target's exec
					 * (for `record -- COMMAND`) */
	bool children;			/* also the processes the target forks
					 * from now on (inherit_thread = 0),
					 * with MMAP2 records of their file
					 * mappings; without enable_on_exec,
					 * also the target's descendants that
					 * exist already (docs/design.md
					 * §1.1) */
	size_t ring_pages;		/* data pages per CPU ring, power of
					 * two; 0: a default sized for
					 * stack copies (512 KiB for dwarf,
					 * 64 KiB for fp). Either is halved
					 * while mmap hits the unprivileged
					 * mlock budget (EPERM), down to
					 * 64 KiB or four of the largest
					 * records */
};

struct sampler;

/* How much older than the start of a drain a record must be to be handed
 * on before sampling stops: a record is stamped before the kernel
 * publishes it, and a vCPU may be preempted in between. */
#define SAMPLER_ORDER_SLACK_NS 20000000ULL

/* What the callback receives for each record. Besides SAMPLE and LOST,
 * the events ask for COMM, FORK and EXIT records (attr.comm, attr.task),
 * and with opts.children for MMAP2 records of every mapping (attr.mmap2,
 * attr.mmap_data). Times are CLOCK_MONOTONIC nanoseconds
 * (attr.use_clockid), the records come in time order, and a record is
 * handed on only once it is older than the start of the drain minus a
 * margin (SAMPLER_ORDER_SLACK_NS): a younger one may still be followed by
 * an older one in another CPU's ring. After sampler_disable(), or once
 * the target is gone, everything is handed on. A sample of a thread
 * covered twice (see sampler_stats.duplicates) is dropped before the
 * callback. */
struct sampler_record {
	const struct perf_event_header *hdr;	/* raw record */
	const struct perf_sample *sample;	/* decoded, for SAMPLE only */
	uint64_t time;				/* 0 when unknown */
	enum sampler_kind kind;			/* of the event that wrote a
						 * SAMPLE or SWITCH record */
	int cpu;				/* of the ring it came from */
	uint32_t pid, tid;			/* SWITCH: the thread */
	pid_t wakee;				/* WAKING samples: the thread
						 * woken (sample->tid woke
						 * it) */
	unsigned uprobe;			/* UPROBE samples: the index
						 * of the function
						 * (sampler_uprobe.offset) */
	bool inherited;				/* a sample of an event the
						 * kernel inherited into the
						 * thread (it keeps the period
						 * of its birth) */
};

/* Called for each record read from the rings; return non-zero to stop the
 * drain early (the rest stays queued). */
typedef int (*sampler_record_fn)(const struct sampler_record *rec, void *arg);

/* Whether the SAMPLER_WAKING tracepoint can be described: its id and format
 * in tracefs are readable (root, or CAP_DAC_READ_SEARCH: tracefs is 0700). */
bool sampler_waking_readable(void);

/* Opens (disabled) events on every thread of opts->pid (and of its
 * descendants with opts->children and without enable_on_exec). Returns 0 or -errno:
 * -ESRCH no such process, -EACCES/-EPERM not permitted (cmd/explain.h
 * explains them), -EMFILE too many threads for the fd limit. */
int sampler_open(const struct sampler_opts *opts, struct sampler **out,
		 char *err, size_t errlen);

/* Starts and stops sampling on every event. */
int sampler_enable(struct sampler *s);
int sampler_disable(struct sampler *s);

/* Waits up to timeout_ms for data (poll; less when records the last drain
 * held back for their order become due sooner: a full ring sends no
 * wake-up), then drains every ring, calling fn for each record. Returns the number of records read, or -errno. Returns
 * -ESRCH once every event has hung up (the target is gone) and the rings are
 * empty. */
int sampler_read(struct sampler *s, int timeout_ms, sampler_record_fn fn,
		 void *arg);

/* Opens events on threads that appeared in /proc/PID/task (and the tasks
 * of descendants, as sampler_open) since the last scan and were not
 * followed by inherit (cheap; call it now and then). Returns the number of
 * threads added, or -errno. */
int sampler_rescan(struct sampler *s);

/* Changes the sampling period of every event of a kind opened so far
 * (PERF_EVENT_IOC_PERIOD) and of those opened from now on. Events the
 * kernel inherited into threads created since keep the old one (the
 * ioctl reaches the event it is made on, not its children). Returns 0 when
 * at least one event took it, else the first -errno. */
int sampler_set_period(struct sampler *s, enum sampler_kind kind, uint64_t period);

struct sampler_stats {
	uint64_t samples;	/* PERF_RECORD_SAMPLE seen */
	uint64_t lost;		/* sum of PERF_RECORD_LOST counts */
	uint64_t switches;	/* PERF_RECORD_SWITCH records handed on */
	uint64_t duplicates;	/* samples dropped: a thread that got events
				 * both by inherit and directly (set-up race)
				 * is counted once */
	size_t threads;		/* threads given events (not counting
				 * inherited ones) */
	size_t cpus;
	size_t events;		/* perf fds open */
};
void sampler_get_stats(const struct sampler *s, struct sampler_stats *st);

/* Calls of each probed function (SAMPLER_UPROBE) since the sampler was
 * enabled, sampled or not: the sum of read() of its events, the threads
 * that inherited them included (a thread that inherited an event and also
 * got one of its own in the set-up race counts twice until it exits).
 * counts[i] for sampler_uprobe.offset[i], n entries (0 for a function not
 * probed). Returns 0, or -EINVAL without SAMPLER_UPROBE. */
int sampler_uprobe_counts(struct sampler *s, uint64_t *counts, size_t n);

/* The sample_type the events of a kind were opened with (for
 * ringbuf_parse_sample); the first kind asked for when kind is not. */
uint64_t sampler_sample_type(const struct sampler *s, enum sampler_kind kind);

/* Closes every fd and unmaps every ring. NULL is fine. */
void sampler_free(struct sampler *s);

#endif

/*
 * procs.h - the processes of a recording as perf's side-band records tell
 * them (docs/design.md §1.1): which processes and threads exist, their
 * names, and the file mappings of each process, from FORK, COMM (with the
 * exec flag), EXIT and MMAP2 records taken in time order.
 *
 * A process's mappings live in an image. A forked child shares its
 * parent's image until one of them maps something (copy on write); an exec
 * starts a new, empty image, which the MMAP2 records of the new program
 * fill. The caller's per-image state (symbolizer, unwinder) goes in priv
 * and is freed by the release callback once no process uses the image
 * (the last one exited or exec'd), so memory stays bounded however many
 * short processes come and go. Records come in time order, so a process's
 * EXIT is taken after its last sample.
 *
 * A process that was not seen forking (the target, what existed before
 * the recording, or one whose FORK record was lost) starts from
 * /proc/PID/maps read on first sight; records older than that read are
 * already in it and are ignored for its mappings.
 *
 * Never prints. Functions returning int give 0 or -ENOMEM unless said.
 */
#ifndef CPROF_PROCS_H
#define CPROF_PROCS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <linux/perf_event.h>

#include "procfs.h"

struct procs_image {
	struct procfs_maps maps;	/* file mappings, the vDSO and anonymous
					 * executable memory (JIT code):
					 * sorted, disjoint, as /proc/PID/maps
					 * shows them (other anonymous ones
					 * are left out) */
	uint64_t generation;		/* changes whenever maps does */
	pid_t pid;			/* the process it was made for, whose
					 * /proc/PID/root holds its files */
	void *priv;			/* the caller's; see procs_new */
	unsigned refs;			/* private */
};

struct procs_thread {
	pid_t tid, pid;
	char name[16];
	bool sampled;			/* the caller's */
	bool traced;			/* the caller's */
};

struct procs_process {
	pid_t pid;
	char comm[16];			/* its main thread's name: after an
					 * exec, the new program's */
	struct procs_image *image;
	uint64_t snap_time;		/* maps read from /proc at this
					 * CLOCK_MONOTONIC time; 0: built
					 * from records alone */
	int nthreads;			/* alive; -1 not known (not seen
					 * forking): kept to the end */
	uint64_t samples;		/* the caller's */
	bool traced;			/* the caller's */
	/* Private: the last /proc/PID/maps text read (length and hash),
	 * and whether a record changed the image since. */
	size_t maps_len;
	uint64_t maps_hash;
	bool changed;
};

/* Called when no process uses img any more, to free img->priv. */
typedef void (*procs_release_fn)(struct procs_image *img, void *arg);

struct procs;

struct procs *procs_new(procs_release_fn release, void *arg);
/* Releases every image (the callback runs for each). NULL is fine. */
void procs_free(struct procs *p);

/* The process pid, made on first sight from /proc/PID/maps and comm
 * (empty when unreadable: the process is gone) read at time now. NULL on
 * ENOMEM. */
struct procs_process *procs_process(struct procs *p, pid_t pid, uint64_t now);

/* The thread tid of proc, made on first sight with its name from
 * /proc/PID/task/TID/comm, or else the process's. NULL on ENOMEM. */
struct procs_thread *procs_thread(struct procs *p, struct procs_process *proc,
				  pid_t tid);

/* Takes one record (PERF_RECORD_FORK, COMM, EXIT, MMAP2; others are
 * ignored) of time time (CLOCK_MONOTONIC ns); now is the time a /proc read
 * for a process first seen here is made at. Records must come in time
 * order. */
int procs_record(struct procs *p, const struct perf_event_header *hdr,
		 uint64_t time, uint64_t now);

/* Reads /proc/PID/maps into proc's image (its own from now on): for
 * mappings the records did not tell (none are asked for without
 * children, or they were lost). Returns 1 when the mappings changed, 0
 * when not, or -errno (-ENOENT: the process is gone). */
int procs_reload(struct procs *p, struct procs_process *proc, uint64_t now);

/* Processes known now (alive, or not seen exiting). */
size_t procs_count(const struct procs *p);

#endif

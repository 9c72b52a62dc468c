/*
 * inject.h - puts cprof's heap sampler (src/heapblob/, the layout of
 * src/heapabi.h) into a running process and takes it out again, with
 * ptrace, never calling into the target (docs/design.md §12.2).
 *
 * Every ptrace request comes from a tracing thread created for one stop
 * session and ended with it (tracer.h): all threads are seized and
 * interrupted, one of them makes the target's system calls (memfd_create,
 * mmap, close, munmap) through a stub written into the slack of an
 * executable page, the GOT entries of the allocation functions are
 * patched through /proc/PID/mem, and every thread is let go. A cprof
 * killed at any instant leaves every thread running correct code: the
 * stub restores a thread's registers itself, and hooks whose heartbeat
 * stops turn themselves off.
 *
 * Errors are -errno with a one-line reason in err.
 */
#ifndef CPROF_INJECT_H
#define CPROF_INJECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "heapabi.h"

struct inject_opts {
	uint64_t rate;			/* mean bytes between samples; 0:
					 * 512 KiB */
	uint32_t stack_size;		/* stack bytes a sample copies; 0:
					 * HEAPABI_STACK_MAX */
	/* The blob to inject; NULL: the one built into cprof
	 * (heapblob_image). Tests give their own. */
	const void *image;
	size_t image_len;
};

struct inject;

/* Checks that pid can be hooked, without touching it: dynamically linked,
 * no seccomp filter, an allocator reached through the GOT (a main program
 * that defines malloc itself gives -ENOTSUP with a reason naming
 * "uprobe"), permission to ptrace. */
int inject_check(pid_t pid, char *err, size_t errlen);

/* Injects the sampler and patches every loaded module's GOT. A sampler
 * left by a cprof that was killed is taken out first. */
int inject_attach(pid_t pid, const struct inject_opts *o, struct inject **out,
		  char *err, size_t errlen);

/* cprof's own mapping of the shared area. */
struct heapabi_shared *inject_shared(struct inject *in);
/* The blob's base address in the target. */
uint64_t inject_base(const struct inject *in);

/* Call every ~100-200 ms: moves the heartbeat on (deadline_ns = now +
 * HEAPABI_HEARTBEAT_NS; sampling a late heartbeat turned off is turned
 * back on) and, when the link map changed (dlopen), hooks the
 * new modules (the threads are stopped for that only). -ESRCH when the
 * target is gone. */
int inject_poll(struct inject *in, char *err, size_t errlen);

struct inject_stats {
	unsigned modules;		/* modules whose GOT was looked at */
	unsigned entries;		/* GOT entries patched */
	unsigned retries;		/* stop sessions retried (a thread in
					 * ld.so, the allocator or the blob) */
	uint64_t stopped_ns_max;	/* longest stop of the threads */
	uint64_t attach_stopped_ns;	/* the threads' stop of the attach */
	uint64_t detach_stopped_ns;	/* and of the detach (its last try) */
	bool left_mapped;		/* detach left the blob mapped (inert) */
	unsigned removed_stale;		/* samplers of killed cprofs removed */
	unsigned rearmed;		/* polls that found sampling turned off
					 * by a late heartbeat, and turned it
					 * back on */
	unsigned rebound;		/* hooks the loader's lazy binding
					 * wrote over, put back by a poll */
};

/* The statistics so far (attach and polls). */
void inject_get_stats(const struct inject *in, struct inject_stats *st);

/* Restores every GOT entry still holding a hook, turns the sampler off and
 * unmaps it once no thread can be inside it (else leaves it mapped, inert:
 * st->left_mapped). Frees in, whatever the result; st may be NULL. */
int inject_detach(struct inject *in, struct inject_stats *st, char *err,
		  size_t errlen);

#endif

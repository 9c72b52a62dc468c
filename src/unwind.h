/*
 * unwind.h - DWARF unwinding of a sampled user stack (PERF_SAMPLE_REGS_USER
 * + PERF_SAMPLE_STACK_USER) with libdw, as perf's util/unwind-libdw.c does,
 * but with one Dwfl for the whole recording (DESIGN.md 2: 11-14 us per sample
 * instead of ~200 us for a Dwfl per sample).
 *
 * The unwinder attaches a Dwfl_Thread_Callbacks state to the symbolizer's
 * Dwfl once; each call swaps the "current sample" behind the callbacks'
 * argument. memory_read serves [sp, sp + stack_size) from the copy and other
 * addresses (read-only segments of mapped files) from the live process with
 * process_vm_readv.
 */
#ifndef CPROF_UNWIND_H
#define CPROF_UNWIND_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include <sys/types.h>
#include "ringbuf.h"
#include "symbolize.h"

struct unwinder;

/* pid: the target. sym: provides the Dwfl (must outlive the unwinder).
 * libdwfl accepts one thread state per Dwfl and cannot detach it: one
 * unwinder per symbolizer, ever (a second unwinder_new gives -EINVAL). */
int unwinder_new(pid_t pid, struct symbolizer *sym, struct unwinder **out,
		 char *err, size_t errlen);

enum unwind_status {
	UNWIND_OK,		/* reached the outermost frame */
	UNWIND_TRUNCATED,	/* stopped at the end of the stack copy, or
				 * max frames reached */
	UNWIND_FAILED,		/* stopped for another reason (no CFI ...) */
};

/* Unwinds one sample (regs in RINGBUF_REGS_MASK order, stack copy of
 * stack_dyn_size valid bytes starting at regs[RB_SP]; stack may be NULL).
 * Writes up to max PCs to pcs, pcs[0] the sampled IP; *n gets the count
 * (>= 1 when max >= 1: even a failed unwind keeps the sampled IP).
 * is_activation[i] (may be NULL) is set when pcs[i] is not a return
 * address (first frame, or after a signal frame) - see symbolizer_lookup's
 * is_return. Measured: ~5 us per 7-frame sample (tests/unit/test_unwind). */
enum unwind_status unwinder_unwind(struct unwinder *u, pid_t tid,
				   const uint64_t *regs, const uint8_t *stack,
				   size_t stack_dyn_size, uint64_t *pcs,
				   bool *is_activation, size_t max, size_t *n);

void unwinder_free(struct unwinder *u);

#endif

/*
 * unwind.h - DWARF unwinding of a sampled user stack (PERF_SAMPLE_REGS_USER
 * + PERF_SAMPLE_STACK_USER) with libdw, as perf's util/unwind-libdw.c does,
 * but with one Dwfl for the whole recording (docs/design.md §2: 11-14 us per sample
 * instead of ~200 us for a Dwfl per sample).
 *
 * The unwinder reports the target's modules into a Dwfl of its own, whose
 * callbacks never look for separate debug files: unwinding needs CFI only
 * (.eh_frame, or a module's own .debug_frame), and a Dwfl shared with the
 * symbolizer would make libdw read a -dbg package's whole DWARF (~11 MiB,
 * ~100 ms of zlib for libc) whenever .eh_frame lacks a pc. A
 * Dwfl_Thread_Callbacks state is attached to that Dwfl once; each call swaps
 * the "current sample" behind the callbacks' argument. memory_read serves
 * [sp, sp + stack_size) from the copy and other addresses (read-only
 * segments of mapped files) from the live process with process_vm_readv.
 */
#ifndef CPROF_UNWIND_H
#define CPROF_UNWIND_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include <sys/types.h>
#include "ringbuf.h"

struct unwinder;
struct procfs_maps;

/* Opens an unwinder for pid and reports its modules: those of maps, the
 * target's mappings when the caller already has them (symbolizer_maps(),
 * so that both see the same modules from one read), or of /proc/PID/maps
 * when maps is NULL; maps is only read during the call. Files are found
 * as the symbolizer finds them (modules.h): the ones the process mapped,
 * even deleted or replaced since. In command mode call it
 * once the command has exec'd.
 * Returns 0 or -errno (-ESRCH: no such process) with a reason in err.
 * Unwinders are independent of each other and of any symbolizer. */
int unwinder_new(pid_t pid, const struct procfs_maps *maps,
		 struct unwinder **out, char *err, size_t errlen);

/* Reports the modules of maps (NULL: /proc/PID/maps) that appeared since
 * the last report (dlopen), keeping those already known. Call it whenever
 * the symbolizer is refreshed, with symbolizer_maps(). Nothing to do, and
 * cheap, when the mappings did not change. Returns 0 or -errno. */
int unwinder_refresh(struct unwinder *u, const struct procfs_maps *maps);

enum unwind_status {
	UNWIND_OK,		/* reached a frame whose CFI says it has no
				 * caller (_start, a thread start) */
	UNWIND_TRUNCATED,	/* stopped at the end of the stack copy, or
				 * max frames reached */
	UNWIND_FAILED,		/* stopped anywhere else: no CFI, an address
				 * outside every module, a CFA libdw could
				 * not compute, a return address of 0 */
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

/* The unwinder's Dwfl, for tests that check what libdw loaded into it.
 * Returned as void* so callers need not include libdwfl.h. */
void *unwinder_dwfl(struct unwinder *u);

void unwinder_free(struct unwinder *u);

#endif

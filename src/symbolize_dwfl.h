/*
 * symbolize_dwfl.h - the Dwfl set-up shared by the two unwinders (unwind.c
 * for sampled stacks, ptunwind.c for thread dumps): their callbacks, and
 * reporting a live process's modules into it.
 */
#ifndef CPROF_SYMBOLIZE_DWFL_H
#define CPROF_SYMBOLIZE_DWFL_H

#include <stdbool.h>
#include <sys/types.h>
#include <elfutils/libdwfl.h>

struct procfs_maps;

/* Dwfl_Callbacks for an unwinder's own Dwfl of one process: files opened
 * through /proc/PID/root, so that a process in another mount namespace (a
 * container) gets its own files, not ours (the vDSO and deleted files go to
 * libdwfl's dwfl_linux_proc_find_elf, which reads them from memory); and
 * never a separate debug file: unwinding needs only CFI (.eh_frame, or the
 * ELF's own .debug_frame), and a debug file found for libdw's fallback to
 * .debug_frame would be decompressed whole (libc6-dbg: ~11 MiB, ~100 ms).
 * A module's userdata is the pid_t of its process, set by
 * symbolize_dwfl_report before anything opens the ELF. */
extern const Dwfl_Callbacks symbolize_dwfl_unwind_callbacks;

/* Reports the modules of maps into dwfl (after dwfl_report_begin, or
 * _begin_add when add: modules already there are kept), ends the report,
 * and points the userdata of each new module at *pid, which must live as
 * long as dwfl. Returns 0, -ENOMEM or -EINVAL, with the reason in err
 * (may be NULL). */
int symbolize_dwfl_report(Dwfl *dwfl, const pid_t *pid,
			  const struct procfs_maps *maps, bool add, char *err,
			  size_t errlen);

#endif

/*
 * modules.h - a live process's modules in a Dwfl, shared by the symbolizer
 * (symbolize.c) and the two unwinders (unwind.c for sampled stacks,
 * ptunwind.c for thread dumps): which mappings make modules, and how their
 * ELF files are found.
 *
 * Files are opened through /proc/PID/root, so that a process in another
 * mount namespace (a container) gets its own files, not ours; the vDSO and
 * what /proc/PID/root cannot open go to libdwfl's dwfl_linux_proc_find_elf,
 * which reads them from the process's memory.
 */
#ifndef CPROF_MODULES_H
#define CPROF_MODULES_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <elfutils/libdwfl.h>

struct procfs_maps;

/* Dwfl_Callbacks for an unwinder's own Dwfl of one process, never finding
 * a separate debug file: unwinding needs only CFI (.eh_frame, or the ELF's
 * own .debug_frame), and a debug file found for libdw's fallback to
 * .debug_frame would be decompressed whole (libc6-dbg: ~11 MiB, ~100 ms).
 * A module's userdata is the pid_t of its process, set by modules_report
 * before anything opens the ELF. */
extern const Dwfl_Callbacks modules_unwind_callbacks;

/* A Dwfl_Callbacks.find_elf for a module of process pid (<= 0: not known,
 * libdwfl's own search). Returns an fd (and *file_name, malloc'd) or -1. */
int modules_find_elf(pid_t pid, Dwfl_Module *mod, void **userdata,
		     const char *name, Dwarf_Addr base, char **file_name,
		     Elf **elfp);

/* Reports one module per mapped file of m, and the vDSO, into dwfl between
 * dwfl_report_begin (or _begin_add) and dwfl_report_end, as
 * dwfl_linux_proc_report would from /proc/PID/maps: names and ranges are
 * the same, so dwfl_linux_proc_find_elf works on them. Returns 0, -ENOMEM,
 * or -EINVAL with dwfl_errmsg(-1) saying why. */
int modules_report_maps(Dwfl *dwfl, pid_t pid, const struct procfs_maps *m);

/* Reports the modules of maps into dwfl (after dwfl_report_begin, or
 * _begin_add when add: modules already there are kept), ends the report,
 * and points the userdata of each new module at *pid, which must live as
 * long as dwfl. Returns 0, -ENOMEM or -EINVAL, with the reason in err
 * (may be NULL). */
int modules_report(Dwfl *dwfl, const pid_t *pid, const struct procfs_maps *maps,
		   bool add, char *err, size_t errlen);

/* The reason a report failed, for err: libdwfl's message for -EINVAL. */
void modules_report_error(char *err, size_t errlen, int e);

/* Whether the code at pc is where a stack starts: the CFI covering it
 * (.eh_frame, or the module's own .debug_frame) leaves the return address
 * undefined, as glibc's _start and the new thread's side of clone and
 * clone3 do, or it is one of the Go runtime's stack bottoms (goexit,
 * mstart, rt0_go, clone), whose CFI does not say so. pc is the address to
 * look up (a return address less 1). A walk that stops anywhere else
 * stopped early (docs/design.md §2). The symbol table is read only when
 * the CFI does not answer: cache the verdict per pc. */
bool modules_stack_bottom(Dwfl *dwfl, Dwarf_Addr pc);

#endif

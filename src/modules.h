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

struct procfs_map;
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

/* One load of a file: the lines of /proc/PID/maps that make one module
 * (docs/design.md §4.1). A run starts at a line that maps a file and takes
 * in the later lines of the same file (device, inode, path); between them
 * only anonymous lines that continue the address range without a gap
 * (.bss, the holes ld.so leaves between segments) or an unmapped gap.
 * Anything else - another file, [heap], an anonymous mapping after a gap
 * (JIT code) - ends it, so a module never spans memory that is not its
 * file's. The vDSO is a run of its own. */
struct modules_run {
	size_t first, last;	/* indexes in the maps of its first and last
				 * line of the file */
	uint64_t start, end;	/* [maps[first].start, maps[last].end) */
	bool vdso;
	/* A second mapping of a file that also has a run from file offset
	 * 0 (V8 maps node's embedded builtins again near its JIT code):
	 * the same code as that load, at other addresses. libdwfl can only
	 * place a module from its first segment (load bias = start - first
	 * p_vaddr), so an alias is not a module: its addresses are
	 * translated by file offset to the load's (symbolize.c). */
	bool alias;
};

/* The runs of m, in address order (*runs malloc'd, NULL when none).
 * Returns 0 or -ENOMEM. */
int modules_runs(const struct procfs_maps *m, struct modules_run **runs,
		 size_t *n);

/* Whether a maps line maps a file, as libdwfl tells them: a path, and not
 * device 0:0 with inode 0. */
bool modules_map_is_file(const struct procfs_map *x);

/* Whether two maps lines map the same file (device, inode, path). */
bool modules_same_file(const struct procfs_map *a, const struct procfs_map *b);

/* Reports one module per run of m that is not an alias (the vDSO
 * included) into dwfl between dwfl_report_begin (or _begin_add) and
 * dwfl_report_end, with the names dwfl_linux_proc_report gives them
 * ("[vdso: PID]", the " (deleted)" suffix), so dwfl_linux_proc_find_elf
 * works on them. Unlike dwfl_linux_proc_report, which spans a file's
 * first to last line whatever lies between, a module covers only its
 * run. Returns 0, -ENOMEM, or -EINVAL with dwfl_errmsg(-1) saying why. */
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

#endif

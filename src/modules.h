/*
 * modules.h - a live process's modules in a Dwfl, shared by the symbolizer
 * (symbolize.c) and the two unwinders (unwind.c for sampled stacks,
 * ptunwind.c for thread dumps): which mappings make modules, and how their
 * ELF files are found.
 *
 * A module's file is the one the process mapped, never merely the file now
 * at its path (docs/design.md §4.3): the path through /proc/PID/root (so
 * that a process in another mount namespace, a container, gets its own
 * files) when the file there still has the device and inode of the maps
 * line; else /proc/PID/map_files/START-END, the mapped file itself, deleted
 * or replaced since (root only); else the module's image read from the
 * process's memory (no symbol table, no DWARF: .eh_frame and .dynsym
 * through the program headers). The vDSO goes to libdwfl's
 * dwfl_linux_proc_find_elf, which reads it from memory.
 */
#ifndef CPROF_MODULES_H
#define CPROF_MODULES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <elfutils/libdwfl.h>

struct procfs_map;
struct procfs_maps;

/* A process whose modules are reported into a Dwfl: its pid, and what the
 * maps said of each file module reported (device, inode, a mapping), by
 * which modules_find_elf opens that very file however late libdwfl asks
 * for it. One per Dwfl owner; free it after dwfl_end. */
struct modules_proc;

int modules_proc_new(pid_t pid, struct modules_proc **out);
pid_t modules_proc_pid(const struct modules_proc *p);
/* The id /proc is read through from now on: another live thread when the
 * one given has exited and the leader is a zombie (procfs_proc_tid). */
void modules_proc_set_pid(struct modules_proc *p, pid_t pid);
void modules_proc_free(struct modules_proc *p);

/* Dwfl_Callbacks for an unwinder's own Dwfl of one process, never finding
 * a separate debug file: unwinding needs only CFI (.eh_frame, or the ELF's
 * own .debug_frame), and a debug file found for libdw's fallback to
 * .debug_frame would be decompressed whole (libc6-dbg: ~11 MiB, ~100 ms).
 * A module's userdata is the struct modules_proc of its process, set by
 * modules_report before anything opens the ELF. */
extern const Dwfl_Callbacks modules_unwind_callbacks;

/* A Dwfl_Callbacks.find_elf for a module of process p (NULL: not known,
 * libdwfl's own search), as this header's comment says. Returns an fd (and
 * *file_name, malloc'd, or NULL for an image from memory) or -1. */
int modules_find_elf(struct modules_proc *p, Dwfl_Module *mod, void **userdata,
		     const char *name, Dwarf_Addr base, char **file_name,
		     Elf **elfp);

/* One load of a file: the lines of /proc/PID/maps that make one module
 * (docs/design.md §4.4). A run starts at a line that maps a file and takes
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
 * run. Notes each file's identity in p for modules_find_elf. Returns 0,
 * -ENOMEM, or -EINVAL with dwfl_errmsg(-1) saying why. */
int modules_report_maps(Dwfl *dwfl, struct modules_proc *p,
			const struct procfs_maps *m);

/* Reports the modules of maps into dwfl (after dwfl_report_begin, or
 * _begin_add when add: modules already there are kept), ends the report,
 * and points the userdata of each new module at p, which must live as
 * long as dwfl. Returns 0, -ENOMEM or -EINVAL, with the reason in err
 * (may be NULL). */
int modules_report(Dwfl *dwfl, struct modules_proc *p,
		   const struct procfs_maps *maps, bool add, char *err,
		   size_t errlen);

/* The reason a report failed, for err: libdwfl's message for -EINVAL. */
void modules_report_error(char *err, size_t errlen, int e);

/* Whether the CFI covering pc (.eh_frame, or the module's own
 * .debug_frame) leaves the return address undefined: a frame with no
 * caller, as glibc's _start and the new thread's side of clone and clone3
 * are. pc is the address to look up (a return address less 1). A walk
 * that ends anywhere else, and not at one of modules_stops, stopped early
 * (docs/design.md §2). */
bool modules_cfi_outermost(Dwfl *dwfl, Dwarf_Addr pc);

/* Where stacks end though their CFI does not say so: the Go runtime's
 * functions where Go's own tracebacks stop (goexit, mstart, rt0_go; mcall
 * and morestack, which switch stacks), found by name in the symbol table
 * of Go programs once per module (other modules are told from their
 * section headers and never scanned). An unwinder stops there: past them
 * it reads another stack. One per Dwfl, used by one thread at a time. */
struct modules_stops;
struct modules_stops *modules_stops_new(void);
void modules_stops_free(struct modules_stops *s);
/* Whether the code at pc (a lookup address) is one of them; false for s
 * NULL or on ENOMEM. */
bool modules_stops_at(struct modules_stops *s, Dwfl *dwfl, Dwarf_Addr pc);

#endif

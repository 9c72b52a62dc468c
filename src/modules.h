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

/* One module as dwfl_linux_proc_report makes it from /proc/PID/maps: a
 * file's mappings from its first line to the last with the same device
 * and inode (lines of other kinds in between, .bss or heap, not ending
 * it), or the vDSO. */
struct modules_span {
	uint64_t start, end;		/* [start, end) */
	const struct procfs_map *first;	/* its first line: path, device,
					 * inode, offset, deleted */
	bool vdso;
};

/* The modules of m, by address. *spans (malloc'd, pointing into m) and
 * *n; returns 0 or -ENOMEM. */
int modules_spans(const struct procfs_maps *m, struct modules_span **spans,
		  size_t *n);

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

/* Reports one module per mapped file of m, and the vDSO, into dwfl between
 * dwfl_report_begin (or _begin_add) and dwfl_report_end, as
 * dwfl_linux_proc_report would from /proc/PID/maps: names and ranges are
 * the same (a deleted file keeps the " (deleted)" suffix, the vDSO is
 * "[vdso: PID]"). Notes each file's identity in p for modules_find_elf.
 * Returns 0, -ENOMEM, or -EINVAL with dwfl_errmsg(-1) saying why. */
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

/*
 * symbolize_dwfl.h - Dwfl_Callbacks pieces shared by the symbolizer and the
 * two unwinders (unwind.c for sampled stacks, ptunwind.c for thread dumps),
 * for the modules of one live process.
 */
#ifndef CPROF_SYMBOLIZE_DWFL_H
#define CPROF_SYMBOLIZE_DWFL_H

#include <sys/types.h>
#include <elfutils/libdwfl.h>

/* find_elf for a module of process pid: a file is opened through
 * /proc/PID/root, so that a process in another mount namespace (a
 * container) gets its own files, not ours. pid <= 0 (not known yet), the
 * vDSO and deleted files (read from memory) go to libdwfl's
 * dwfl_linux_proc_find_elf. Each caller's callback finds pid in its module
 * userdata and calls this. */
int symbolize_dwfl_find_elf(pid_t pid, Dwfl_Module *mod, void **userdata,
			    const char *name, Dwarf_Addr base,
			    char **file_name, Elf **elfp);

/* find_debuginfo that never finds a separate debug file: unwinding needs
 * only CFI (.eh_frame, or the ELF's own .debug_frame), and a debug file
 * found for libdw's fallback to .debug_frame would be decompressed whole
 * (libc6-dbg: ~11 MiB, ~100 ms). */
int symbolize_dwfl_no_debuginfo(Dwfl_Module *mod, void **userdata,
				const char *modname, Dwarf_Addr base,
				const char *file_name, const char *debuglink_file,
				GElf_Word debuglink_crc, char **debuginfo_file_name);

#endif

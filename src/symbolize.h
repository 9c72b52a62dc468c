/*
 * symbolize.h - addresses of a live process to functions, inlined frames,
 * files and lines, with libdwfl; kernel addresses with /proc/kallsyms.
 *
 * One symbolizer per target process. It reports the modules of
 * /proc/PID/maps once (ELF files are found by modules.h: through
 * /proc/PID/root so a container's files are the ones read, and only if
 * they are the files mapped, else through /proc/PID/map_files or from
 * memory, docs/design.md §4.3; separate debug info is found under
 * /usr/lib/debug/.build-id and by .gnu_debuglink, never through
 * debuginfod: symbolize_find_debuginfo keeps libdwfl from making a client).
 * Every lookup is cached by address: dwfl_module_addrinfo is a linear scan
 * (docs/design.md §4), so each address is resolved once.
 *
 * elfutils 0.188 is not thread-safe: a symbolizer is used by one thread at a
 * time (callers serialize).
 *
 * Ownership: everything returned points into the symbolizer and stays valid
 * until symbolizer_free(); symbolizer_refresh() keeps old results valid.
 */
#ifndef CPROF_SYMBOLIZE_H
#define CPROF_SYMBOLIZE_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include <sys/types.h>

struct sym_module {
	const char *path;	/* as in /proc/PID/maps; "[kernel]", "[vdso]",
				 * "[jit]" */
	uint64_t start, end;	/* address range of the whole module; for
				 * [jit], of the addresses looked up in it
				 * so far */
	uint64_t offset;	/* file offset mapped at start */
	const char *build_id;	/* hex, "" when none */
	bool has_functions;	/* every lookup in it found a function */
	bool has_filenames, has_line_numbers, has_inline_frames;
	bool is_kernel;
	bool is_jit;		/* [jit]: code in anonymous executable memory
				 * (JIT compilers), named from the process's
				 * perf map when it has one (perfmap.h); a
				 * name there may change as code is replaced */
	unsigned index;		/* 0..n-1 in report order; main binary 0 */
};

struct sym_line {
	const char *function;		/* demangled; NULL when unknown */
	const char *system_name;	/* raw (mangled) name; NULL when unknown */
	bool has_params;		/* function holds its parameter list
					 * (a demangled C++ name) */
	const char *file;		/* NULL when unknown */
	int line;			/* 0 when unknown */
	uint64_t offset;		/* addr - function start (outermost
					 * line only; 0 for inlined lines) */
};

/* One address: nlines >= 1 when a function is known; the first line is the
 * innermost inlined function, the last the real (outermost) function. */
struct sym_frame {
	uint64_t addr;
	const struct sym_module *module;	/* NULL: no module covers it */
	size_t nlines;
	const struct sym_line *lines;
};

struct symbolizer;

/* Opens a symbolizer for pid: reads /proc/PID/maps and reports its
 * executable modules. kernel: also load /proc/kallsyms (addresses are zero
 * unless root/CAP_SYSLOG: then kernel frames are left unsymbolized).
 * Returns 0 or -errno with a reason in err. */
int symbolizer_new(pid_t pid, bool kernel, struct symbolizer **out,
		   char *err, size_t errlen);

/* Where file:line and inlined functions are read from. */
enum sym_lines {
	SYM_LINES_ALL,	/* every module with DWARF (the default) */
	SYM_LINES_OWN,	/* only modules that carry their own DWARF: a
			 * separate debug file (a distribution's -dbg
			 * package under /usr/lib/debug) still names
			 * functions, but its compressed DWARF, ~50-100 ms
			 * of zlib for libc, is not read */
};
/* Sets the policy for lookups not yet cached; call it before the first
 * lookup. Modules skipped this way report has_filenames,
 * has_line_numbers and has_inline_frames false. */
void symbolizer_set_lines(struct symbolizer *s, enum sym_lines lines);

/* The same, with kernel symbols read beforehand by procfs_read_kallsyms
 * (NULL: no kernel module). On success the symbolizer takes them over
 * and zeroes *ksyms; on failure they stay the caller's to release. Reading /proc/kallsyms costs ~60 ms of CPU:
 * this lets a caller do it before the target starts (`record -- CMD`). */
struct procfs_ksyms;
struct procfs_maps;
int symbolizer_new_ksyms(pid_t pid, struct procfs_ksyms *ksyms,
			 struct symbolizer **out, char *err, size_t errlen);

/* The same with the process's mappings given rather than read from
 * /proc/PID/maps (maps is copied): for a process whose mappings are known
 * from perf's MMAP2 records, which may have exited by the time its
 * samples are read. pid still names /proc/PID/root for opening its files
 * while it lives (modules.h); a file the caller marks deleted is not
 * opened by path. pid 0 with no mappings makes a kernel-only symbolizer.
 * ksyms as for symbolizer_new_ksyms (NULL: no kernel module). */
int symbolizer_new_maps(pid_t pid, const struct procfs_maps *maps,
			struct procfs_ksyms *ksyms, struct symbolizer **out,
			char *err, size_t errlen);

/* Reports the modules of maps (copied) that are new since the last
 * report, as symbolizer_refresh does with /proc/PID/maps. Returns 0 or
 * -errno. */
int symbolizer_set_maps(struct symbolizer *s, const struct procfs_maps *maps);

/* Re-reads /proc/PID/maps and reports modules that appeared (dlopen) since
 * the last report, and reads what the perf map gained. Cheap when nothing
 * changed. Returns 0 or -errno. */
int symbolizer_refresh(struct symbolizer *s);

/* Symbolizes addr. is_return: addr is a return address (every frame but the
 * first of a stack, unless that frame is a signal frame): the lookup is made
 * at addr - 1 so the call's line and inline chain are found (the returned
 * frame's addr is still addr). Never fails: an unknown address gives a frame
 * with nlines == 0 (and module NULL when unmapped). NULL only on ENOMEM.
 *
 * Only an address inside one of a file's own mappings gets that file's
 * symbols (docs/design.md §4.4). An address in anonymous executable memory,
 * or named by the process's perf map (/tmp/perf-PID.map, read as it
 * grows, at most every 50 ms), is in the [jit] module, named as the perf
 * map names it or not at all (docs/design.md §4.4). A [jit] frame is
 * looked up again once the perf map has changed: code there may have been
 * replaced. */
const struct sym_frame *symbolizer_lookup(struct symbolizer *s, uint64_t addr,
					  bool is_return);

/* Looks addrs up in a background thread (as activation addresses), so that
 * the slow first lookup in a module (symbol table, debug file, DWARF
 * sections to decompress) overlaps with the caller's work. Until it ends,
 * every other call on s waits for it first; the caller may do anything that
 * does not use s. The thread blocks every signal. Returns 0 or -errno (then
 * nothing runs: lookups simply happen on demand). */
int symbolizer_prefetch(struct symbolizer *s, const uint64_t *addrs, size_t n);

/* Every module reported, in order (main binary first; "[kernel]" last of
 * those known at symbolizer_new when kernel is set); valid until the next
 * symbolizer_refresh(). File mappings with no executable part (data files)
 * are not modules: their addresses look up as unmapped. Indexes and
 * sym_module pointers never change. */
size_t symbolizer_modules(struct symbolizer *s,
			  const struct sym_module *const **mods);

/* Makes s share the function symbols of its modules with the other
 * symbolizers of c (symtab.h: a file many processes map, libc in every
 * child of a make, has its symbol table read and sorted once per
 * build-id). NULL: none. Call it before the first lookup; c outlives s. */
struct symtab_cache;
void symbolizer_set_cache(struct symbolizer *s, struct symtab_cache *c);

/* The Dwfl the symbolizer reported into, for tests that check what libdw
 * loaded into it (the DWARF unwinder has a Dwfl of its own, unwind.h).
 * Returned as void* so callers need not include libdwfl.h. */
void *symbolizer_dwfl(struct symbolizer *s);

/* /proc/PID/maps as parsed for the last report (symbolizer_new or a
 * refresh that found changes): for other users of the same process's
 * mappings, which need not read and parse 2,000 lines again. Valid until
 * the next symbolizer_refresh() or symbolizer_free(). */
const struct procfs_maps *symbolizer_maps(struct symbolizer *s);

/* Why the process's perf map names no JIT code although it exists: the
 * error of its last reading (-EPERM: not owned by root or the process's
 * users; -EINVAL: not a regular file, or a symbolic link; another -errno),
 * with its name as the process sees it in *name; 0 when it was read or
 * does not exist (or nothing needed it yet). */
int symbolizer_perfmap_error(struct symbolizer *s, const char **name);

/* Name for addr for /debug/pprof/symbol: "func" or NULL. */
const char *symbolizer_name(struct symbolizer *s, uint64_t addr);
/* The same without caching the lookup in s (symbolizer_lookup's cache
 * grows with every address asked about): for addresses chosen by clients,
 * cached, if at all, by a bounded cache of the caller's (symnames.h). The
 * name stays valid until symbolizer_free. */
const char *symbolizer_name_uncached(struct symbolizer *s, uint64_t addr);

void symbolizer_free(struct symbolizer *s);

#endif

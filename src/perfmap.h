/*
 * perfmap.h - names of JIT code from a process's perf map,
 * /tmp/perf-PID.map: the file that `node --perf-basic-prof`, JVM agents
 * (perf-map-agent, async-profiler), LuaJIT and others write for perf, one
 * line per piece of generated code:
 *
 *     START SIZE NAME
 *
 * START and SIZE in hex (node writes them without 0x; perf's parser takes
 * either), NAME the rest of the line. The program appends lines while it
 * runs; code it frees and replaces shows up as a newer line over the same
 * addresses. Details and measurements: docs/design.md §4.4.
 *
 * The file is the target's to write and anyone's to create in /tmp:
 * untrusted input. It is opened inside the target's own root
 * (/proc/PID/root, so a process in a container gets its /tmp), named
 * after the process's id in its own pid namespace, never through a
 * symbolic link as its last component, only when it is a regular file
 * owned by root or by one of the target's uids; malformed lines are
 * skipped; memory is bounded (PERFMAP_MAX_ENTRIES, PERFMAP_MAX_NAME_BYTES,
 * lines of at most PERFMAP_MAX_LINE bytes): past a limit the oldest
 * entries go, the code most likely to have been freed since.
 *
 * Lookups find the newest entry over an address: entries are kept sorted
 * and without overlap, a newer line removing the older ones it overlaps.
 *
 * Not thread-safe; the symbolizer serializes its callers.
 */
#ifndef CPROF_PERFMAP_H
#define CPROF_PERFMAP_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include <sys/types.h>

/* A line longer than this is skipped (node's longest names are a few
 * hundred bytes: a function name and its script's path). */
#define PERFMAP_MAX_LINE 4096
/* Entries kept at once, and bytes of their names: past either, the
 * oldest entries are evicted down to 7/8 of both (so that evictions, which
 * sort the entries by age, are rare). */
#define PERFMAP_MAX_ENTRIES (1u << 20)
#define PERFMAP_MAX_NAME_BYTES (64u << 20)

struct perfmap_entry {
	uint64_t start, end;	/* [start, end) */
	char *name;
	uint64_t seq;		/* line number in the file: newer is larger */
};

struct perfmap_stats {
	size_t entries;		/* kept now */
	uint64_t lines;		/* complete lines read */
	uint64_t malformed;	/* of them skipped: not START SIZE NAME, too
				 * long, size 0 or past the address space */
	uint64_t replaced;	/* entries removed by a newer overlapping one */
	uint64_t evicted;	/* entries removed at the limits */
	uint64_t dropped;	/* lines lost to a failed allocation */
	uint64_t resets;	/* the file was replaced or truncated */
	size_t name_bytes;
};

struct perfmap;

/* The perf map of process pid: tmp/perf-NSTGID.map under /proc/PID/root.
 * Nothing is opened until perfmap_update. Returns 0, -ENOMEM, or the error
 * of reading /proc/PID/status (-ENOENT: no such process). */
int perfmap_new(pid_t pid, struct perfmap **out);

/* The same for the file relpath under the directory root, trusted when
 * owned by root or one of uids[0..nuids). Returns 0 or -ENOMEM. */
int perfmap_new_at(const char *root, const char *relpath, const uid_t *uids,
		   size_t nuids, struct perfmap **out);

/* Reads the lines appended since the last call (a line not finished yet
 * is left for the next). A file replaced (another inode) or truncated
 * since is read again from its start. Returns 1 when the entries changed,
 * 0 when not (the file does not exist, or did not grow), -EPERM when the
 * file is not owned by root or the target's uids, -EINVAL when it is not
 * a regular file (a FIFO, a device) or a symbolic link, -ENOMEM, or the
 * error of opening or reading it. Entries already read stay. */
int perfmap_update(struct perfmap *pm);

/* The newest entry covering addr, or NULL. Valid until the next update. */
const struct perfmap_entry *perfmap_find(const struct perfmap *pm,
					 uint64_t addr);

/* The file as the target names it ("/tmp/perf-17.map"), for messages. */
const char *perfmap_name(const struct perfmap *pm);

/* Changes whenever an update changes the entries. */
unsigned perfmap_generation(const struct perfmap *pm);

void perfmap_get_stats(const struct perfmap *pm, struct perfmap_stats *st);

/* Parses one line (without its newline): 0 and its fields (*name points
 * into line, *name_len bytes, trailing blanks and CR left out), or -EINVAL. */
int perfmap_parse_line(const char *line, size_t len, uint64_t *start,
		       uint64_t *size, const char **name, size_t *name_len);

void perfmap_free(struct perfmap *pm);

#endif

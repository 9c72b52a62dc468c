/*
 * procfs.h - what /proc says about a process: maps, threads, names, states,
 * command line, tracer, and the kernel settings that decide what we may do.
 *
 * Parsers take text and never touch /proc, so the unit tests can feed them
 * anything; the procfs_read_* wrappers read the file and call the parser.
 * Errors are negative errno values (-ENOENT/-ESRCH: no such process).
 */
#ifndef CPROF_PROCFS_H
#define CPROF_PROCFS_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include <sys/types.h>

struct procfs_map {
	uint64_t start, end;	/* [start, end) */
	uint64_t offset;	/* file offset of start */
	uint64_t inode;
	unsigned dev_major, dev_minor;
	char perms[5];		/* "r-xp" */
	char *path;		/* "" for anonymous; "[vdso]", "[stack]" as is;
				 * " (deleted)" suffix removed, see deleted */
	bool deleted;
};

struct procfs_maps {
	struct procfs_map *maps;
	size_t n;
};

/* Parses the text of /proc/PID/maps. Paths may contain spaces. */
int procfs_parse_maps(const char *text, struct procfs_maps *out);
int procfs_read_maps(pid_t pid, struct procfs_maps *out);
void procfs_maps_release(struct procfs_maps *m);

/* A deep copy of in (out owns its paths); 0 or -ENOMEM. */
int procfs_maps_dup(const struct procfs_maps *in, struct procfs_maps *out);

/* The map containing addr, or NULL. Maps are sorted by start. */
const struct procfs_map *procfs_maps_find(const struct procfs_maps *m,
					  uint64_t addr);

/* Opens path, a file as the process names it in its maps, through
 * /proc/PID/root: a process in another mount namespace (a container) gets
 * its own file, not ours. Regular files only. Returns a read-only fd and the
 * path actually opened in *opened (malloc'd), or -errno (*opened NULL). */
int procfs_open_root_file(pid_t pid, const char *path, char **opened);
/* The same by path in cprof's own mount namespace, for a process whose
 * /proc entry is gone. */
int procfs_open_regular_path(const char *path, char **opened);

/* Opens /proc/PID/map_files/START-END: the very file mapped at
 * [start, end) (a whole line of the maps), even when it was deleted or
 * another file was renamed over its path since. Following these links
 * takes CAP_SYS_ADMIN or CAP_CHECKPOINT_RESTORE in the initial user
 * namespace (docs/design.md §4.1): -EPERM without. Regular files only
 * (-EINVAL). Returns a read-only fd and the path opened in *opened
 * (malloc'd), or -errno. */
int procfs_open_map_file(pid_t pid, uint64_t start, uint64_t end,
			 char **opened);

/* True when fd is the file a maps line names by device and inode (fstat's
 * st_dev and st_ino): not another file since put at the same path. */
bool procfs_map_same_file(int fd, unsigned dev_major, unsigned dev_minor,
			  uint64_t inode);

/* qsort/bsearch order of pid_t values, ascending. */
int procfs_pid_cmp(const void *a, const void *b);

/* Thread ids in /proc/PID/task, sorted ascending. *tids malloc'd. */
int procfs_list_tasks(pid_t pid, pid_t **tids, size_t *n);

/* Appends to tids (up to max in all) the thread ids among got bytes of
 * getdents64 records; a record that is cut short, or claims more than
 * got, ends the parse. */
void procfs_parse_tasks(const char *buf, size_t got, pid_t *tids, size_t max,
			size_t *n);
/* Up to max of them (at least the first few dozen), in directory order,
 * the main thread first, at a cost that does not grow with the number of
 * threads. */
int procfs_list_some_tasks(pid_t pid, pid_t *tids, size_t max, size_t *n);

/* The processes descended from pid (its children, theirs, ...), found by
 * the parent pid of every process in /proc; pid itself is not included.
 * Sorted ascending; *pids malloc'd (NULL when there are none). */
int procfs_list_descendants(pid_t pid, pid_t **pids, size_t *n);

/* /proc/PID/task/TID/comm without the newline (at most 15 chars + NUL). */
int procfs_read_comm(pid_t pid, pid_t tid, char *buf, size_t len);

/* Bits of procfs_stat.flags (the kernel's PF_*, include/linux/sched.h). */
#define PROCFS_PF_EXITING 0x00000004UL	/* do_exit has begun: still 'R'
					 * for a while, mappings going */
#define PROCFS_PF_KTHREAD 0x00200000UL	/* kernel thread: no user stack */

struct procfs_stat {
	char state;		/* R S D T t Z X I ... */
	pid_t ppid;
	unsigned long flags;	/* PROCFS_PF_* */
	uint64_t utime, stime;	/* clock ticks */
	uint64_t starttime;	/* clock ticks since boot */
	unsigned num_threads;	/* of the whole process, also in a task's */
	char comm[64];
};

/* Parses /proc/.../stat text; the comm may hold ')' and spaces, so the
 * fields are read after the last ')'. */
int procfs_parse_stat(const char *text, struct procfs_stat *st);
/* Whether the process whose /proc/PID/stat st is has no thread left to
 * examine: a zombie (or dead) leader alone. A leader that called
 * pthread_exit is a zombie too, while its other threads run. */
bool procfs_stat_gone(const struct procfs_stat *st);

/* The id under which /proc shows the memory of process pid: pid itself,
 * or, when its leader has exited (pthread_exit) while other threads run, a
 * live thread of it - a zombie leader's maps, root, mem and cmdline are
 * empty, while /proc/TID/... of any live thread shows the process's. pid
 * when it cannot tell. */
pid_t procfs_proc_tid(pid_t pid);

/* tid <= 0 reads /proc/PID/stat, else /proc/PID/task/TID/stat. */
int procfs_read_stat(pid_t pid, pid_t tid, struct procfs_stat *st);

/* The NUL-separated command line; *len includes the final NUL. An empty
 * command line (kernel thread, zombie) gives *len == 0. */
int procfs_read_cmdline(pid_t pid, char **buf, size_t *len);

/* TracerPid from /proc/PID/status (0 when not traced). */
int procfs_tracer_pid(pid_t pid, pid_t *tracer);

/* Who a process is, from /proc/PID/status: its id in its innermost pid
 * namespace (the last field of NStgid: what a process in a container
 * calls itself, and names its /tmp/perf-PID.map after; the pid when the
 * kernel has no NStgid line) and its real, effective, saved and
 * filesystem uids. */
struct procfs_ids {
	pid_t nstgid;
	uid_t uids[4];
};
int procfs_parse_ids(const char *status, pid_t pid, struct procfs_ids *ids);
int procfs_read_ids(pid_t pid, struct procfs_ids *ids);

/* First line of /proc/PID/task/TID/syscall, parsed: nr is -1 when the thread
 * is in user space ("running" gives nr = -2). Needs ptrace permission. */
struct procfs_syscall {
	long nr;
	uint64_t args[6];
	uint64_t sp, pc;
};
int procfs_parse_syscall(const char *text, struct procfs_syscall *sc);
int procfs_read_syscall(pid_t pid, pid_t tid, struct procfs_syscall *sc);

/* An x86_64 system call name ("futex") or NULL when unknown. */
const char *procfs_syscall_name(long nr);

/* Reads one integer from a file such as
 * /proc/sys/kernel/perf_event_paranoid. */
int procfs_read_long(const char *path, long *val);

/* Whole file into a NUL-terminated malloc'd buffer; -EFBIG past
 * PROCFS_MAX_FILE. A hostile target controls the size of some of its
 * /proc files: 65,530 mappings (vm.max_map_count) of files with 4 KiB
 * paths make a 270 MB maps file, while real ones are under 10 MB
 * (docs/design.md §6.1). */
#define PROCFS_MAX_FILE ((size_t)64 << 20)
int procfs_read_file(const char *path, char **buf, size_t *len);

/* /proc/kallsyms */
struct procfs_ksym {
	uint64_t addr;
	char *name;
	char *module;		/* NULL for the core kernel */
};
struct procfs_ksyms {
	struct procfs_ksym *syms;	/* sorted by addr, text symbols only */
	size_t n;
	bool all_zero;		/* addresses hidden (kptr_restrict, not root) */
	/* Names live in a few large blocks rather than one allocation each:
	 * a kernel has 100,000+ text symbols. Private. */
	struct procfs_arena *arena;
};
int procfs_parse_kallsyms(const char *text, struct procfs_ksyms *out);
/* Reads /proc/kallsyms line by line, never holding its ~5 MB of text. */
int procfs_read_kallsyms(struct procfs_ksyms *out);
void procfs_ksyms_release(struct procfs_ksyms *k);
/* The symbol at or below addr, or NULL. */
const struct procfs_ksym *procfs_ksyms_find(const struct procfs_ksyms *k,
					    uint64_t addr);

#endif

/*
 * privs.h - the capabilities cprof holds and needs, and dropping the rest:
 * which capability a command lacks to look into another process, and
 * `cprof serve` giving up root and every capability it does not need once
 * its socket listens (docs/design.md §11). Prefix: privs_.
 */
#ifndef CPROF_PRIVS_H
#define CPROF_PRIVS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/* Capability numbers (linux/capability.h), as bits of a uint64_t set. */
#define PRIVS_CAP_DAC_OVERRIDE 1
#define PRIVS_CAP_DAC_READ_SEARCH 2
#define PRIVS_CAP_SETGID 6
#define PRIVS_CAP_SETUID 7
#define PRIVS_CAP_SETPCAP 8
#define PRIVS_CAP_NET_BIND_SERVICE 10
#define PRIVS_CAP_IPC_LOCK 14
#define PRIVS_CAP_SYS_PTRACE 19
#define PRIVS_CAP_SYS_ADMIN 21
#define PRIVS_CAP_SYSLOG 34
#define PRIVS_CAP_PERFMON 38
#define PRIVS_BIT(cap) (UINT64_C(1) << (cap))

/* What a long-running `cprof serve` keeps after start-up (docs/design.md
 * §11.1, §11.2): tracing and sampling other users' processes, reading
 * their binaries, naming kernel frames, and mapping the perf rings of
 * several recordings at once past perf_event_mlock_kb and RLIMIT_MEMLOCK.
 * Intersected with what it holds. */
#define PRIVS_SERVE_KEEP (PRIVS_BIT(PRIVS_CAP_SYS_PTRACE) | PRIVS_BIT(PRIVS_CAP_PERFMON) | \
			  PRIVS_BIT(PRIVS_CAP_DAC_READ_SEARCH) | PRIVS_BIT(PRIVS_CAP_SYSLOG) | \
			  PRIVS_BIT(PRIVS_CAP_IPC_LOCK))

/* "CAP_SYS_PTRACE" for 19; NULL for an unknown number. */
const char *privs_cap_name(int cap);

/* The calling thread's effective and permitted sets (capget). Returns 0 or
 * -errno. */
int privs_get(uint64_t *effective, uint64_t *permitted);

/* Whether the effective set holds cap. */
bool privs_has(int cap);

/* The ids the kernel compares before one process may trace or sample
 * another without CAP_SYS_PTRACE (kernel/ptrace.c, __ptrace_may_access):
 * real, effective and saved uid and gid. */
struct privs_ids {
	uid_t uid[3];
	gid_t gid[3];
};

/* Reads the Uid: and Gid: lines of /proc/PID/status. 0 or -errno. */
int privs_read_ids(pid_t pid, struct privs_ids *out);

/* Whether a caller with user and group ids (uid, gid) needs CAP_SYS_PTRACE
 * to look into a process with ids target and dumpable (its /proc/PID
 * owned by its effective uid, not root): every one of the target's three
 * uids and gids must equal the caller's, as in __ptrace_may_access. */
bool privs_ptrace_needs_cap(uid_t uid, gid_t gid, const struct privs_ids *target,
			    bool dumpable);

/* Gives up root and capabilities, for a server whose sockets are bound
 * and whose threads are not started yet (capabilities are per thread,
 * and threads inherit them). When run_as is set (run_uid, run_gid), the
 * process becomes that user (every uid and gid, no supplementary groups),
 * keeping its permitted capabilities across the switch (PR_SET_KEEPCAPS).
 * Then every capability outside keep leaves the bounding, permitted,
 * effective, inheritable and ambient sets (the bounding set only where
 * CAP_SETPCAP allows it), and no-new-privileges is set so that nothing
 * regains them. *kept gets the sets that remain (effective = permitted).
 * Returns 0 or -errno with the failing call in err. */
int privs_drop(uint64_t keep, bool run_as, uid_t run_uid, gid_t run_gid, uint64_t *kept,
	       char *err, size_t errlen);

/* Writes "CAP_A, CAP_B" for set into buf ("none" for an empty set). */
const char *privs_set_str(uint64_t set, char *buf, size_t len);

#endif

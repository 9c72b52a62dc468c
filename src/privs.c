/*
 * privs.c - capabilities held and needed, and dropping them
 * (docs/design.md §11). The capget/capset system calls directly: the
 * three operations cprof needs are a few lines each, and libcap would add a
 * run-time dependency for them.
 */
#include <errno.h>
#include <grp.h>
#include <linux/capability.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "errmsg.h"
#include "privs.h"
#include "procfs.h"

static const char *const privs_names[] = {
	[0] = "CAP_CHOWN", [1] = "CAP_DAC_OVERRIDE", [2] = "CAP_DAC_READ_SEARCH",
	[3] = "CAP_FOWNER", [4] = "CAP_FSETID", [5] = "CAP_KILL", [6] = "CAP_SETGID",
	[7] = "CAP_SETUID", [8] = "CAP_SETPCAP", [9] = "CAP_LINUX_IMMUTABLE",
	[10] = "CAP_NET_BIND_SERVICE", [11] = "CAP_NET_BROADCAST", [12] = "CAP_NET_ADMIN",
	[13] = "CAP_NET_RAW", [14] = "CAP_IPC_LOCK", [15] = "CAP_IPC_OWNER",
	[16] = "CAP_SYS_MODULE", [17] = "CAP_SYS_RAWIO", [18] = "CAP_SYS_CHROOT",
	[19] = "CAP_SYS_PTRACE", [20] = "CAP_SYS_PACCT", [21] = "CAP_SYS_ADMIN",
	[22] = "CAP_SYS_BOOT", [23] = "CAP_SYS_NICE", [24] = "CAP_SYS_RESOURCE",
	[25] = "CAP_SYS_TIME", [26] = "CAP_SYS_TTY_CONFIG", [27] = "CAP_MKNOD",
	[28] = "CAP_LEASE", [29] = "CAP_AUDIT_WRITE", [30] = "CAP_AUDIT_CONTROL",
	[31] = "CAP_SETFCAP", [32] = "CAP_MAC_OVERRIDE", [33] = "CAP_MAC_ADMIN",
	[34] = "CAP_SYSLOG", [35] = "CAP_WAKE_ALARM", [36] = "CAP_BLOCK_SUSPEND",
	[37] = "CAP_AUDIT_READ", [38] = "CAP_PERFMON", [39] = "CAP_BPF",
	[40] = "CAP_CHECKPOINT_RESTORE",
};

const char *privs_cap_name(int cap)
{
	if (cap < 0 || (size_t)cap >= sizeof(privs_names) / sizeof(privs_names[0]))
		return NULL;
	return privs_names[cap];
}

const char *privs_set_str(uint64_t set, char *buf, size_t len)
{
	size_t off = 0;

	if (!len)
		return buf;
	buf[0] = '\0';
	for (int cap = 0; cap < 64; cap++) {
		if (!(set & PRIVS_BIT(cap)))
			continue;
		const char *name = privs_cap_name(cap);
		int n = name ? snprintf(buf + off, len - off, "%s%s", off ? ", " : "", name)
			     : snprintf(buf + off, len - off, "%scap_%d", off ? ", " : "", cap);
		if (n < 0 || (size_t)n >= len - off)
			break;
		off += (size_t)n;
	}
	if (!off)
		snprintf(buf, len, "none");
	return buf;
}

static int privs_capget(struct __user_cap_data_struct data[2])
{
	struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };

	memset(data, 0, 2 * sizeof(*data));
	return syscall(SYS_capget, &hdr, data) < 0 ? -errno : 0;
}

static int privs_capset(uint64_t eff, uint64_t perm, uint64_t inh)
{
	struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct data[2] = {
		{ (uint32_t)eff, (uint32_t)perm, (uint32_t)inh },
		{ (uint32_t)(eff >> 32), (uint32_t)(perm >> 32), (uint32_t)(inh >> 32) },
	};

	return syscall(SYS_capset, &hdr, data) < 0 ? -errno : 0;
}

int privs_get(uint64_t *effective, uint64_t *permitted)
{
	struct __user_cap_data_struct d[2];
	int e = privs_capget(d);

	if (e < 0)
		return e;
	if (effective)
		*effective = d[0].effective | (uint64_t)d[1].effective << 32;
	if (permitted)
		*permitted = d[0].permitted | (uint64_t)d[1].permitted << 32;
	return 0;
}

bool privs_has(int cap)
{
	uint64_t eff = 0;

	return privs_get(&eff, NULL) == 0 && (eff & PRIVS_BIT(cap));
}

int privs_read_ids(pid_t pid, struct privs_ids *out)
{
	char path[40], *status = NULL;
	const char *u, *g;
	unsigned long v[2][4];
	int e;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	e = procfs_read_file(path, &status, NULL);
	if (e < 0)
		return e;
	u = strstr(status, "\nUid:");
	g = strstr(status, "\nGid:");
	if (!u || !g || sscanf(u, "\nUid: %lu %lu %lu %lu", &v[0][0], &v[0][1], &v[0][2],
			       &v[0][3]) != 4 ||
	    sscanf(g, "\nGid: %lu %lu %lu %lu", &v[1][0], &v[1][1], &v[1][2], &v[1][3]) != 4) {
		free(status);
		return -EINVAL;
	}
	for (int i = 0; i < 3; i++) {
		out->uid[i] = (uid_t)v[0][i];
		out->gid[i] = (gid_t)v[1][i];
	}
	free(status);
	return 0;
}

bool privs_ptrace_needs_cap(uid_t uid, gid_t gid, const struct privs_ids *target,
			    bool dumpable)
{
	if (!dumpable)
		return true;
	for (int i = 0; i < 3; i++)
		if (target->uid[i] != uid || target->gid[i] != gid)
			return true;
	return false;
}

/* The highest capability number this kernel knows. */
static int privs_last_cap(void)
{
	long v = 40;

	procfs_read_long("/proc/sys/kernel/cap_last_cap", &v);
	return v > 63 ? 63 : (int)v;
}

int privs_drop(uint64_t keep, bool run_as, uid_t run_uid, gid_t run_gid, uint64_t *kept,
	       char *err, size_t errlen)
{
	uint64_t eff = 0, perm = 0;
	int e;

	if ((e = privs_get(&eff, &perm)) < 0) {
		errmsg_set(err, errlen, "capget: %s", strerror(-e));
		return e;
	}
	/* The bounding set first: dropping from it needs CAP_SETPCAP in the
	 * effective set, which goes below. Without CAP_SETPCAP (a systemd
	 * unit's CapabilityBoundingSet= has already bounded it) it stays. */
	if (eff & PRIVS_BIT(PRIVS_CAP_SETPCAP)) {
		int last = privs_last_cap();
		for (int cap = 0; cap <= last; cap++) {
			if ((keep & PRIVS_BIT(cap)) || prctl(PR_CAPBSET_READ, cap, 0, 0, 0) != 1)
				continue;
			if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0) {
				e = -errno;
				errmsg_set(err, errlen, "prctl(PR_CAPBSET_DROP, %d): %s", cap,
					   strerror(errno));
				return e;
			}
		}
	}
	if (run_as) {
		/* setresuid from uid 0 clears the permitted set unless
		 * KEEPCAPS is set (capabilities(7), "Effect of user ID
		 * changes"); the effective set is cleared either way and set
		 * again by capset below. glibc applies set*id to every
		 * thread; there is only one yet. */
		if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0) {
			e = -errno;
			errmsg_set(err, errlen, "prctl(PR_SET_KEEPCAPS): %s", strerror(errno));
			return e;
		}
		if (setgroups(0, NULL) < 0 || setresgid(run_gid, run_gid, run_gid) < 0 ||
		    setresuid(run_uid, run_uid, run_uid) < 0) {
			e = -errno;
			errmsg_set(err, errlen, "cannot switch to uid %u gid %u: %s",
				   (unsigned)run_uid, (unsigned)run_gid, strerror(errno));
			return e;
		}
		prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0);
	}
	perm &= keep;
	/* Inheritable empty, so the ambient set (which must be a subset of
	 * permitted and inheritable) empties too. */
	if ((e = privs_capset(perm, perm, 0)) < 0) {
		errmsg_set(err, errlen, "capset: %s", strerror(-e));
		return e;
	}
	prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
	/* Nothing exec'd later may gain privileges (a set-user-ID program,
	 * file capabilities). Harmless under systemd's NoNewPrivileges=yes,
	 * which has set it already. */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
		e = -errno;
		errmsg_set(err, errlen, "prctl(PR_SET_NO_NEW_PRIVS): %s", strerror(errno));
		return e;
	}
	if ((e = privs_get(&eff, &perm)) < 0) {
		errmsg_set(err, errlen, "capget: %s", strerror(-e));
		return e;
	}
	if (run_as && (getuid() != run_uid || geteuid() != run_uid)) {
		errmsg_set(err, errlen, "still uid %u after switching to uid %u",
			   (unsigned)geteuid(), (unsigned)run_uid);
		return -EPERM;
	}
	if (kept)
		*kept = perm;
	return 0;
}

/*
 * test_privs.c - capability names and sets, when CAP_SYS_PTRACE is needed
 * (every uid and gid of the target must be the caller's, and it must be
 * dumpable), the ids read from /proc, and privs_drop in a child process:
 * as root with a switch of user, only the kept capabilities remain, in
 * every set, with no-new-privileges.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "privs.h"
#include "procfs.h"

static void test_names(void)
{
	char buf[128];

	CHECK_STR(privs_cap_name(PRIVS_CAP_SYS_PTRACE), "CAP_SYS_PTRACE");
	CHECK_STR(privs_cap_name(PRIVS_CAP_PERFMON), "CAP_PERFMON");
	CHECK_STR(privs_cap_name(PRIVS_CAP_DAC_READ_SEARCH), "CAP_DAC_READ_SEARCH");
	CHECK_STR(privs_cap_name(PRIVS_CAP_SYSLOG), "CAP_SYSLOG");
	CHECK(privs_cap_name(63) == NULL);
	CHECK(privs_cap_name(-1) == NULL);
	CHECK_STR(privs_set_str(0, buf, sizeof(buf)), "none");
	CHECK_STR(privs_set_str(PRIVS_SERVE_KEEP, buf, sizeof(buf)),
		  "CAP_DAC_READ_SEARCH, CAP_IPC_LOCK, CAP_SYS_PTRACE, CAP_SYSLOG, CAP_PERFMON");
	CHECK_STR(privs_set_str(PRIVS_BIT(50), buf, sizeof(buf)), "cap_50");
	/* Cut, never overflowing. */
	char small[20];
	privs_set_str(PRIVS_SERVE_KEEP, small, sizeof(small));
	CHECK(strlen(small) < sizeof(small));
}

static void test_ptrace_rule(void)
{
	struct privs_ids same = { { 1000, 1000, 1000 }, { 100, 100, 100 } };
	struct privs_ids t;

	CHECK(!privs_ptrace_needs_cap(1000, 100, &same, true));
	CHECK(privs_ptrace_needs_cap(1000, 100, &same, false));	/* not dumpable */
	CHECK(privs_ptrace_needs_cap(0, 0, &same, true));		/* root's too */
	for (int i = 0; i < 3; i++) {
		t = same;
		t.uid[i] = 0;	/* e.g. a set-user-ID program's saved uid */
		CHECK(privs_ptrace_needs_cap(1000, 100, &t, true));
		t = same;
		t.gid[i] = 0;
		CHECK(privs_ptrace_needs_cap(1000, 100, &t, true));
	}
}

static void test_read_ids(void)
{
	struct privs_ids ids;

	CHECK_INT(privs_read_ids(getpid(), &ids), 0);
	CHECK_INT((int)ids.uid[0], (int)getuid());
	CHECK_INT((int)ids.uid[1], (int)geteuid());
	CHECK_INT((int)ids.gid[1], (int)getegid());
	CHECK(!privs_ptrace_needs_cap(geteuid(), getegid(), &ids, true));
	CHECK(privs_read_ids(0x3fffffff, &ids) < 0);
}

/* In a child: drop to nobody keeping CAP_SYS_PTRACE and CAP_SYSLOG;
 * exit 0 when every set is as it should be. */
static int drop_child(void)
{
	uint64_t keep = PRIVS_BIT(PRIVS_CAP_SYS_PTRACE) | PRIVS_BIT(PRIVS_CAP_SYSLOG);
	uint64_t kept = 0, eff = 0, perm = 0;
	char err[256] = "", *status = NULL;
	int bad = 0;

	if (privs_drop(keep, true, 65534, 65534, &kept, err, sizeof(err)) < 0) {
		fprintf(stderr, "privs_drop: %s\n", err);
		return 10;
	}
	if (kept != keep)
		bad |= 1;
	if (privs_get(&eff, &perm) < 0 || eff != keep || perm != keep)
		bad |= 2;
	if (getuid() != 65534 || geteuid() != 65534 || getgid() != 65534 || getegid() != 65534)
		bad |= 4;
	if (prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 1)
		bad |= 8;
	if (prctl(PR_CAPBSET_READ, PRIVS_CAP_SYS_ADMIN, 0, 0, 0) != 0 ||
	    prctl(PR_CAPBSET_READ, PRIVS_CAP_SYS_PTRACE, 0, 0, 0) != 1)
		bad |= 16;
	if (procfs_read_file("/proc/self/status", &status, NULL) == 0) {
		const char *p = strstr(status, "\nCapInh:");
		const char *a = strstr(status, "\nCapAmb:");
		if (!p || strtoull(p + 8, NULL, 16) != 0 || !a || strtoull(a + 8, NULL, 16) != 0)
			bad |= 32;
		const char *g = strstr(status, "\nGroups:");
		if (!g || g[8 + strspn(g + 8, " \t")] != '\n')	/* no group listed */
			bad |= 64;
	}
	free(status);
	if (privs_has(PRIVS_CAP_SYS_ADMIN) || !privs_has(PRIVS_CAP_SYS_PTRACE))
		bad |= 128;
	return bad;
}

static void test_drop(void)
{
	if (geteuid() != 0) {
		fprintf(stderr, "test_drop needs root (ctest runs as root)\n");
		CHECK(0);
		return;
	}
	pid_t pid = fork();
	if (pid == 0)
		_exit(drop_child());
	int st = 0;
	CHECK_INT((int)waitpid(pid, &st, 0), (int)pid);
	CHECK(WIFEXITED(st));
	CHECK_INT(WEXITSTATUS(st), 0);
}

int main(void)
{
	test_names();
	test_ptrace_rule();
	test_read_ids();
	test_drop();
	return check_done();
}

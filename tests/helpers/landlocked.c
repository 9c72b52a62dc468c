/*
 * landlocked COMMAND [ARGS...] - runs COMMAND inside a Landlock domain of
 * its own. The ruleset forbids only creating block devices, which no test
 * does, but any domain also forbids tracing processes outside it (Landlock's
 * ptrace hook): root with every capability is then refused ptrace and perf
 * access to the rest of the system, as a sandboxed cprof would be.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/landlock.h>

int main(int argc, char **argv)
{
	struct landlock_ruleset_attr attr = {
		.handled_access_fs = LANDLOCK_ACCESS_FS_MAKE_BLOCK,
	};
	int fd;

	if (argc < 2) {
		fprintf(stderr, "usage: %s COMMAND [ARGS...]\n", argv[0]);
		return 2;
	}
	fd = (int)syscall(SYS_landlock_create_ruleset, &attr, sizeof(attr), 0);
	if (fd < 0) {
		fprintf(stderr, "landlocked: landlock_create_ruleset: %s\n",
			strerror(errno));
		return 3;
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
	    syscall(SYS_landlock_restrict_self, fd, 0) != 0) {
		fprintf(stderr, "landlocked: landlock_restrict_self: %s\n",
			strerror(errno));
		return 3;
	}
	close(fd);
	execvp(argv[1], argv + 1);
	fprintf(stderr, "landlocked: %s: %s\n", argv[1], strerror(errno));
	return 127;
}

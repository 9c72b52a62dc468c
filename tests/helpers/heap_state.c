/*
 * heap_state - what the heap samplers mapped in a process are doing, read
 * through /proc/PID/mem (tests/e2e/heap_kill.sh).
 *
 *   heap_state PID
 *
 * One line per sampler ("/memfd:cprof-heap" mapped executable at offset 0):
 *   sampler base=0x... enabled=E live=L deadline_in_ms=D checked_ago_ms=C
 *           samples=S dropped=X cprof_pid=P
 * then "total samples=S dropped=X live=N" (N: samplers still live), so that
 * a test can tell hooks that still count from inert ones without timing the
 * target. Exit 1 with "error: ..." when PID cannot be read.
 */

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "heapabi.h"

static int read_at(int fd, uint64_t addr, void *buf, size_t n)
{
	ssize_t r = pread(fd, buf, n, (off_t)addr);

	return r == (ssize_t)n ? 0 : -1;
}

static int64_t ms_from_now(uint64_t t_ns)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	uint64_t now = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
	return ((int64_t)t_ns - (int64_t)now) / 1000000;
}

int main(int argc, char **argv)
{
	char path[64], line[4096];
	uint64_t tot_samples = 0, tot_dropped = 0;
	unsigned nlive = 0;

	if (argc != 2) {
		fprintf(stderr, "usage: heap_state PID\n");
		return 2;
	}
	snprintf(path, sizeof(path), "/proc/%s/maps", argv[1]);
	FILE *maps = fopen(path, "r");
	snprintf(path, sizeof(path), "/proc/%s/mem", argv[1]);
	int mem = open(path, O_RDONLY);
	if (!maps || mem < 0) {
		printf("error: cannot read %s: %s\n", path, strerror(errno));
		return 1;
	}
	while (fgets(line, sizeof(line), maps)) {
		uint64_t start, end, off;
		char perms[8], name[256] = "";
		if (sscanf(line, "%" SCNx64 "-%" SCNx64 " %7s %" SCNx64 " %*s %*s %255[^\n]",
			   &start, &end, perms, &off, name) < 4)
			continue;
		if (strcmp(name, "/memfd:" HEAPABI_MEMFD_NAME " (deleted)") != 0 &&
		    strcmp(name, "/memfd:" HEAPABI_MEMFD_NAME) != 0)
			continue;
		if (off != 0 || perms[2] != 'x')
			continue;
		uint64_t shb = start + HEAPABI_CODE_SIZE, pvb = shb + HEAPABI_SHARED_SIZE;
		struct heapabi_shared sh;
		struct heapabi_private pv;
		if (read_at(mem, shb, &sh, offsetof(struct heapabi_shared, head)) < 0 ||
		    read_at(mem, pvb, &pv, offsetof(struct heapabi_private, counters)) < 0) {
			printf("sampler base=0x%" PRIx64 " unreadable\n", start);
			continue;
		}
		printf("sampler base=0x%" PRIx64 " enabled=%u live=%u deadline_in_ms=%" PRId64
		       " checked_ago_ms=%" PRId64 " samples=%" PRIu64 " dropped=%" PRIu64
		       " cprof_pid=%" PRIu64 "\n", start, sh.enabled, pv.live,
		       ms_from_now(sh.deadline_ns),
		       pv.checked_ns ? -ms_from_now(pv.checked_ns) : -1,
		       sh.samples, sh.dropped, sh.cprof_pid);
		tot_samples += sh.samples;
		tot_dropped += sh.dropped;
		nlive += pv.live != 0;
	}
	printf("total samples=%" PRIu64 " dropped=%" PRIu64 " live=%u\n",
	       tot_samples, tot_dropped, nlive);
	fclose(maps);
	close(mem);
	return 0;
}

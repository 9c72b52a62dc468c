/*
 * fuzz_perfmap.c - a JIT's perf map, which the target writes: the input
 * is written to a perf-PID.map in two parts (the reader sees the file
 * grow, a line cut in the middle), read after each, and looked up.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "perfmap.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[] = "/tmp/fuzz_perfmap.XXXXXX";

static int append(const char *path, const uint8_t *p, size_t n)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (fd < 0)
		return -1;
	ssize_t w = n ? write(fd, p, n) : 0;
	close(fd);
	return w == (ssize_t)n ? 0 : -1;
}

static void lookups(struct perfmap *pm, const uint8_t *data, size_t size)
{
	for (size_t i = 0; i + 8 <= size && i < 64; i += 8) {
		uint64_t a;
		memcpy(&a, data + i, 8);
		perfmap_find(pm, a);
		perfmap_find(pm, a & 0xffff);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;
	char path[sizeof(dir) + 32];
	struct perfmap *pm = NULL;
	uid_t me = getuid();

	if (!ready) {
		if (!mkdtemp(dir))
			abort();
		ready = 1;
	}
	snprintf(path, sizeof(path), "%s/perf-1.map", dir);
	unlink(path);
	if (perfmap_new_at(dir, "perf-1.map", &me, 1, &pm) != 0)
		return 0;
	size_t half = size / 2;
	if (append(path, data, half) == 0) {
		perfmap_update(pm);
		lookups(pm, data, size);
		if (append(path, data + half, size - half) == 0) {
			perfmap_update(pm);
			lookups(pm, data, size);
		}
	}
	struct perfmap_stats st;
	perfmap_get_stats(pm, &st);
	perfmap_free(pm);
	unlink(path);
	return 0;
}

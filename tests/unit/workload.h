/*
 * workload.h - starting a workload from tests/workloads as a child of a unit
 * test, and finding its symbols: shared by the symbolizer, unwinder and
 * stackprof tests. The child is SIGKILLed by kill_child (call it on every
 * path); the workloads also end by themselves (alarm).
 */
#ifndef CPROF_TEST_WORKLOAD_H
#define CPROF_TEST_WORKLOAD_H

#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "procfs.h"

static pid_t child = -1;

static inline void kill_child(void)
{
	if (child > 0) {
		kill(child, SIGKILL);
		waitpid(child, NULL, 0);
		child = -1;
	}
}

static inline void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };

	nanosleep(&ts, NULL);
}

/* 1 when pid's maps name libc, 0 when they name no dynamic loader either
 * (a static program), -1 while the loader has yet to map libc. */
static inline int workload_libc_mapped(pid_t pid)
{
	char path[64], line[4200];
	int loader = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		if (strstr(line, "/libc.so.6")) {
			fclose(f);
			return 1;
		}
		if (strstr(line, "/ld-linux"))
			loader = 1;
	}
	fclose(f);
	return loader ? -1 : 0;
}

/* Starts `path seconds` and waits until it has exec'd and the loader has
 * mapped libc (up to 10 s: a starved child takes its time; 100 ms was not
 * always enough at nice 19 beside two busy loops), then settle_ms more
 * (past the dynamic loader, into its loop). */
static inline pid_t start_workload_for(const char *path, const char *seconds, long settle_ms)
{
	char link[64], exe[4096];
	pid_t pid = fork();

	if (pid == 0) {
		execl(path, path, seconds, (char *)NULL);
		_exit(127);
	}
	snprintf(link, sizeof(link), "/proc/%d/exe", (int)pid);
	for (int i = 0; i < 200; i++) {
		ssize_t n = readlink(link, exe, sizeof(exe) - 1);

		if (n > 0 && (exe[n] = '\0', strcmp(exe, path) == 0))
			break;
		sleep_ms(10);
	}
	for (int i = 0; i < 1000 && workload_libc_mapped(pid) < 0; i++)
		sleep_ms(10);
	sleep_ms(settle_ms);
	return pid;
}

/* Value and size of a symbol from `nm -S`, or 0. */
static inline uint64_t nm_symbol(const char *path, const char *name, uint64_t *size)
{
	char cmd[4200], line[512], type, sym[256];
	unsigned long long v, sz;
	uint64_t found = 0;
	FILE *f;

	snprintf(cmd, sizeof(cmd), "nm -S '%s'", path);
	f = popen(cmd, "r");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%llx %llx %c %255s", &v, &sz, &type, sym) == 4 &&
		    strcmp(sym, name) == 0) {
			found = v;
			if (size)
				*size = sz;
		}
	}
	pclose(f);
	return found;
}

/* Lowest address of a file mapped at offset 0 whose path contains name. */
static inline uint64_t load_base(pid_t pid, const char *name)
{
	struct procfs_maps m;
	uint64_t base = 0;

	if (procfs_read_maps(pid, &m) != 0)
		return 0;
	for (size_t i = 0; i < m.n; i++) {
		if (m.maps[i].offset == 0 && strstr(m.maps[i].path, name)) {
			base = m.maps[i].start;
			break;
		}
	}
	procfs_maps_release(&m);
	return base;
}

#endif

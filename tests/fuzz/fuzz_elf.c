/*
 * fuzz_elf.c - a corrupt executable or library in the target: the input
 * is written to a file, mapped (as a maps line says, with its device and
 * inode) at 0x400000 in a fake process, and addresses in it symbolized:
 * symbol table, PLT, DWARF lines and inlines, the CU index. A corrupt file
 * may give no names; it must never crash cprof.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "procfs.h"
#include "symbolize.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[] = "/tmp/fuzz_elf.XXXXXX";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;
	char path[sizeof(dir) + 16], maps[512], err[256];
	struct procfs_maps m = { 0 };
	struct symbolizer *s = NULL;
	struct stat st;

	if (!ready) {
		if (!mkdtemp(dir))
			abort();
		ready = 1;
	}
	snprintf(path, sizeof(path), "%s/target", dir);
	unlink(path);
	int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0700);
	if (fd < 0)
		return 0;
	ssize_t w = size ? write(fd, data, size) : 0;
	close(fd);
	if (w != (ssize_t)size || stat(path, &st) != 0)
		return 0;
	/* Mapped as the loader would map a small executable: code at file
	 * offset 0x1000, then the rest. */
	snprintf(maps, sizeof(maps),
		 "400000-401000 r--p 00000000 %02x:%02x %llu %s\n"
		 "401000-410000 r-xp 00001000 %02x:%02x %llu %s\n",
		 major(st.st_dev), minor(st.st_dev), (unsigned long long)st.st_ino, path,
		 major(st.st_dev), minor(st.st_dev), (unsigned long long)st.st_ino, path);
	if (procfs_parse_maps(maps, &m) != 0)
		return 0;
	if (symbolizer_new_maps(getpid(), &m, NULL, &s, err, sizeof(err)) == 0) {
		for (uint64_t a = 0x401000; a < 0x410000; a += 0x3f1)
			symbolizer_lookup(s, a, a & 1);
		symbolizer_free(s);
	}
	procfs_maps_release(&m);
	unlink(path);
	return 0;
}

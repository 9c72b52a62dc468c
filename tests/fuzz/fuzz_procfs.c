/*
 * fuzz_procfs.c - the /proc parsers on text a hostile target may shape
 * (its maps paths, its comm in stat, its status) or that could be cut
 * short: the first byte picks the parser, the rest is the file.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "procfs.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	unsigned which = data[0] % 6;
	data++;
	size--;
	char *text = malloc(size + 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';

	switch (which) {
	case 0: {
		struct procfs_maps m = { 0 };
		if (procfs_parse_maps(text, &m) == 0) {
			for (size_t i = 0; i < m.n; i++)
				procfs_maps_find(&m, m.maps[i].start);
			struct procfs_maps d = { 0 };
			if (procfs_maps_dup(&m, &d) == 0)
				procfs_maps_release(&d);
			procfs_maps_release(&m);
		}
		break;
	}
	case 1: {
		struct procfs_stat st;
		if (procfs_parse_stat(text, &st) == 0)
			procfs_stat_gone(&st);
		break;
	}
	case 2: {
		struct procfs_ids ids;
		procfs_parse_ids(text, 1, &ids);
		break;
	}
	case 3: {
		struct procfs_syscall sc;
		if (procfs_parse_syscall(text, &sc) == 0)
			procfs_syscall_name(sc.nr);
		break;
	}
	case 4: {
		struct procfs_ksyms k = { 0 };
		if (procfs_parse_kallsyms(text, &k) == 0) {
			for (size_t i = 0; i < k.n; i++)
				procfs_ksyms_find(&k, k.syms[i].addr + 1);
			procfs_ksyms_release(&k);
		}
		break;
	}
	case 5: {
		pid_t tids[64];
		size_t n = 0;
		procfs_parse_tasks((const char *)data, size, tids, 64, &n);
		break;
	}
	}
	free(text);
	return 0;
}

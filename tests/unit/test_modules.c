/*
 * test_modules.c - modules_find_elf opens the file a process mapped, never
 * merely the file now at its path (docs/design.md §4.3). This process
 * dlopens a copy of libreplaced_a.so, then libreplaced_b.so (other code:
 * rl_padding where a has rl_park_a) is renamed over the copy, and the
 * module must still read a's symbols and CFI:
 *   - reported from the maps as they are now ("(deleted)"): map_files;
 *   - reported from maps read before the rename (same path, no suffix): the
 *     path holds another inode, so map_files again, never b;
 *   - with an inode that matches no file: the image read from memory
 *     (.dynsym and .eh_frame through the program headers);
 *   - an unchanged file (libc): through /proc/PID/root.
 * Also prints how long libc's image from memory takes.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <elfutils/libdw.h>
#include <elfutils/libdwfl.h>

#include "check.h"
#include "modules.h"
#include "procfs.h"

static int copy_file(const char *from, const char *to)
{
	char buf[65536];
	ssize_t n;
	int in = open(from, O_RDONLY), out;

	if (in < 0)
		return -1;
	out = open(to, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (out < 0) {
		close(in);
		return -1;
	}
	while ((n = read(in, buf, sizeof(buf))) > 0)
		if (write(out, buf, (size_t)n) != n) {
			n = -1;
			break;
		}
	close(in);
	close(out);
	return n < 0 ? -1 : 0;
}

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

struct found {
	const char *name;	/* the symbol at the address */
	const char *mainfile;	/* what find_elf opened (NULL: memory) */
	const char *modname;
	bool cfi;		/* .eh_frame covers the address */
	double ms;		/* to open the ELF */
};

/* Reports maps into a fresh Dwfl with the unwinders' callbacks, and looks
 * at the module holding addr. Strings are copied into static buffers. */
static void look(const struct procfs_maps *maps, uint64_t addr, struct found *f)
{
	static char name[128], mainfile[4096], modname[4096];
	struct modules_proc *p = NULL;
	Dwfl *dwfl = dwfl_begin(&modules_unwind_callbacks);
	Dwarf_Addr bias;

	memset(f, 0, sizeof(*f));
	CHECK(dwfl != NULL);
	CHECK_INT(modules_proc_new(getpid(), &p), 0);
	if (!dwfl || !p)
		goto out;
	CHECK_INT(modules_report(dwfl, p, maps, false, NULL, 0), 0);
	Dwfl_Module *mod = dwfl_addrmodule(dwfl, addr);
	CHECK(mod != NULL);
	if (!mod)
		goto out;
	double t0 = now_ms();
	CHECK(dwfl_module_getelf(mod, &bias) != NULL);
	f->ms = now_ms() - t0;
	const char *s = dwfl_module_addrname(mod, addr);
	snprintf(name, sizeof(name), "%s", s ? s : "");
	f->name = name;
	const char *mf = NULL, *mn;
	mn = dwfl_module_info(mod, NULL, NULL, NULL, NULL, NULL, &mf, NULL);
	snprintf(modname, sizeof(modname), "%s", mn ? mn : "");
	f->modname = modname;
	if (mf) {
		snprintf(mainfile, sizeof(mainfile), "%s", mf);
		f->mainfile = mainfile;
	}
	Dwarf_CFI *cfi = dwfl_module_eh_cfi(mod, &bias);
	Dwarf_Frame *frame;
	if (cfi && dwarf_cfi_addrframe(cfi, addr - bias, &frame) == 0) {
		f->cfi = true;
		free(frame);
	}
out:
	if (dwfl)
		dwfl_end(dwfl);
	modules_proc_free(p);
}

/* Copies of the lines of maps naming path, changed by edit. */
static void edit_lines(struct procfs_maps *m, const char *path,
		       void (*edit)(struct procfs_map *))
{
	for (size_t i = 0; i < m->n; i++)
		if (strcmp(m->maps[i].path, path) == 0)
			edit(&m->maps[i]);
}

static void not_deleted(struct procfs_map *x) { x->deleted = false; }
static void other_inode(struct procfs_map *x) { x->inode += 1000003; }

int main(void)
{
	char dir[] = "/tmp/cprof-test-modules.XXXXXX", lib[128], tmp[128];
	struct procfs_maps maps;
	struct found f;

	CHECK(mkdtemp(dir) != NULL);
	snprintf(lib, sizeof(lib), "%s/libreplaced.so", dir);
	snprintf(tmp, sizeof(tmp), "%s/.new", dir);
	CHECK_INT(copy_file(WORKLOAD_DIR "/libreplaced_a.so", lib), 0);
	void *h = dlopen(lib, RTLD_NOW);
	CHECK(h != NULL);
	if (!h)
		return check_done();
	uint64_t addr = (uint64_t)(uintptr_t)dlsym(h, "rl_park_a");
	CHECK(addr != 0);
	/* b, renamed over the path: at addr it has rl_padding. */
	CHECK_INT(copy_file(WORKLOAD_DIR "/libreplaced_b.so", tmp), 0);
	CHECK_INT(rename(tmp, lib), 0);

	/* As the maps are now: " (deleted)", read through map_files. */
	CHECK_INT(procfs_read_maps(getpid(), &maps), 0);
	look(&maps, addr, &f);
	CHECK_STR(f.name, "rl_park_a");
	CHECK(f.cfi);
	CHECK(f.mainfile && strstr(f.mainfile, "/map_files/") != NULL);
	CHECK(strstr(f.modname, "libreplaced.so (deleted)") != NULL);
	printf("replaced, reported as deleted: %s from %s\n", f.name,
	       f.mainfile ? f.mainfile : "memory");

	/* As maps read before the rename said: the same path, no suffix. The
	 * file there now is b, another inode: not to be read. */
	edit_lines(&maps, lib, not_deleted);
	look(&maps, addr, &f);
	CHECK_STR(f.name, "rl_park_a");
	CHECK(f.cfi);
	CHECK(f.mainfile && strstr(f.mainfile, "/map_files/") != NULL);
	CHECK_STR(f.modname, lib);
	printf("replaced, reported by its old path: %s from %s\n", f.name,
	       f.mainfile ? f.mainfile : "memory");

	/* An inode no file has: neither the path nor map_files will do,
	 * only the image in memory (no .symtab: rl_park_a is exported). */
	edit_lines(&maps, lib, other_inode);
	look(&maps, addr, &f);
	CHECK_STR(f.name, "rl_park_a");
	CHECK(f.cfi);
	CHECK(f.mainfile == NULL);
	printf("no file with its inode: %s from %s (%.2f ms)\n", f.name,
	       f.mainfile ? f.mainfile : "memory", f.ms);
	procfs_maps_release(&maps);

	/* The file deleted: map_files. */
	CHECK_INT(unlink(lib), 0);
	CHECK_INT(procfs_read_maps(getpid(), &maps), 0);
	look(&maps, addr, &f);
	CHECK_STR(f.name, "rl_park_a");
	CHECK(f.mainfile && strstr(f.mainfile, "/map_files/") != NULL);

	/* libc, unchanged: its path through /proc/PID/root; and, with an
	 * inode no file has, its whole image from memory. */
	uint64_t libc_addr = (uint64_t)(uintptr_t)dlsym(RTLD_DEFAULT, "getpid");
	char libc_path[4096] = "";
	const struct procfs_map *lm = procfs_maps_find(&maps, libc_addr);
	CHECK(lm != NULL);
	if (lm)
		snprintf(libc_path, sizeof(libc_path), "%s", lm->path);
	look(&maps, libc_addr, &f);
	CHECK(f.mainfile && strstr(f.mainfile, "/root/") != NULL);
	CHECK(f.cfi);
	printf("libc: from %s (%.2f ms)\n", f.mainfile ? f.mainfile : "memory", f.ms);
	edit_lines(&maps, libc_path, other_inode);
	look(&maps, libc_addr, &f);
	CHECK(f.mainfile == NULL);
	CHECK(f.cfi);
	CHECK(f.name && strstr(f.name, "getpid") != NULL);
	printf("libc from memory: %s (%.2f ms)\n", f.name, f.ms);
	procfs_maps_release(&maps);

	dlclose(h);
	rmdir(dir);
	return check_done();
}

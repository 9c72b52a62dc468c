/*
 * pltsyms.h - names for the PLT stubs of an ELF file, which have no symbol
 * of their own: "func@plt", after the GOT slot each stub jumps through, as
 * perf and gdb name them. Without them a sample in a stub is charged to
 * whatever symbol comes before the .plt section (_init, in most programs).
 */
#ifndef CPROF_PLTSYMS_H
#define CPROF_PLTSYMS_H

#include <stddef.h>
#include <stdint.h>
#include <gelf.h>

struct pltsym {
	uint64_t addr;		/* link-time address of the stub */
	uint64_t size;		/* the stub's size (one PLT entry) */
	char *name;		/* "func@plt", malloc'd */
};

/* The stubs of .plt, .plt.sec and .plt.got of an x86_64 ELF file whose GOT
 * slot a relocation names (R_X86_64_JUMP_SLOT or GLOB_DAT against a dynamic
 * symbol), sorted by address. A file without them, or not x86_64, gives
 * none. *out is malloc'd; free it with pltsyms_free. Returns 0 or -ENOMEM. */
int pltsyms_read(Elf *elf, struct pltsym **out, size_t *n);
void pltsyms_free(struct pltsym *syms, size_t n);

#endif

/*
 * pltsyms.c - names for PLT stubs, from the stubs' own jumps.
 *
 * Every x86_64 stub that leaves the PLT jumps through a GOT slot with
 * `jmp *disp32(%rip)` (ff 25, after an endbr64 and a bnd prefix in the IBT
 * layouts of .plt.sec and .plt.got), and the dynamic relocation of that
 * slot names the function. Decoding the jump rather than counting entries
 * works for the lazy .plt, the IBT .plt.sec and the .plt.got of functions
 * whose address is also taken, whatever order the linker chose.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pltsyms.h"

struct pltsyms_slot {
	uint64_t got;		/* address of the GOT slot */
	const char *name;	/* in the ELF's string table */
};

static int pltsyms_slot_cmp(const void *a, const void *b)
{
	const struct pltsyms_slot *x = a, *y = b;

	return x->got < y->got ? -1 : x->got > y->got;
}

static int pltsyms_addr_cmp(const void *a, const void *b)
{
	const struct pltsym *x = a, *y = b;

	return x->addr < y->addr ? -1 : x->addr > y->addr;
}

/* Appends the GOT slots named by the JUMP_SLOT and GLOB_DAT relocations of
 * the SHT_RELA section scn. */
static int pltsyms_add_slots(Elf *elf, Elf_Scn *scn, const GElf_Shdr *sh,
			     struct pltsyms_slot **v, size_t *n, size_t *cap)
{
	Elf_Scn *symscn = elf_getscn(elf, sh->sh_link);
	GElf_Shdr symsh;
	Elf_Data *rel = elf_getdata(scn, NULL), *syms;
	size_t count;

	if (!rel || !symscn || !gelf_getshdr(symscn, &symsh) ||
	    !(syms = elf_getdata(symscn, NULL)) || !sh->sh_entsize)
		return 0;
	count = sh->sh_size / sh->sh_entsize;
	for (size_t i = 0; i < count; i++) {
		GElf_Rela r;
		GElf_Sym sym;
		const char *name;
		unsigned type;

		if (!gelf_getrela(rel, (int)i, &r))
			break;
		type = GELF_R_TYPE(r.r_info);
		if ((type != R_X86_64_JUMP_SLOT && type != R_X86_64_GLOB_DAT) ||
		    !gelf_getsym(syms, (int)GELF_R_SYM(r.r_info), &sym) ||
		    !(name = elf_strptr(elf, symsh.sh_link, sym.st_name)) ||
		    !name[0])
			continue;
		if (*n == *cap) {
			size_t c = *cap ? *cap * 2 : 64;
			struct pltsyms_slot *t = realloc(*v, c * sizeof(*t));

			if (!t)
				return -ENOMEM;
			*v = t;
			*cap = c;
		}
		(*v)[(*n)++] = (struct pltsyms_slot){ r.r_offset, name };
	}
	return 0;
}

/* The GOT slot that the stub at addr (bytes p, len of them) jumps
 * through, or 0. */
static uint64_t pltsyms_stub_target(const unsigned char *p, size_t len,
				    uint64_t addr)
{
	for (size_t i = 0; i + 6 <= len; i++) {
		int32_t disp;

		if (p[i] != 0xff || p[i + 1] != 0x25)
			continue;
		memcpy(&disp, p + i + 2, sizeof(disp));
		return addr + i + 6 + (uint64_t)(int64_t)disp;
	}
	return 0;
}

int pltsyms_read(Elf *elf, struct pltsym **out, size_t *nout)
{
	struct pltsyms_slot *slots = NULL;
	struct pltsym *v = NULL;
	size_t nslots = 0, capslots = 0, n = 0, cap = 0, shstrndx;
	GElf_Ehdr eh;
	Elf_Scn *scn = NULL;
	int e = 0;

	*out = NULL;
	*nout = 0;
	if (!elf || !gelf_getehdr(elf, &eh) || eh.e_machine != EM_X86_64 ||
	    elf_getshdrstrndx(elf, &shstrndx) != 0)
		return 0;
	while (!e && (scn = elf_nextscn(elf, scn))) {
		GElf_Shdr sh;

		if (gelf_getshdr(scn, &sh) && sh.sh_type == SHT_RELA)
			e = pltsyms_add_slots(elf, scn, &sh, &slots, &nslots,
					      &capslots);
	}
	if (e || nslots == 0)
		goto out;
	qsort(slots, nslots, sizeof(*slots), pltsyms_slot_cmp);
	scn = NULL;
	while (!e && (scn = elf_nextscn(elf, scn))) {
		GElf_Shdr sh;
		const char *name;
		Elf_Data *d;
		uint64_t ent;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_PROGBITS ||
		    !(name = elf_strptr(elf, shstrndx, sh.sh_name)) ||
		    (strcmp(name, ".plt") && strcmp(name, ".plt.sec") &&
		     strcmp(name, ".plt.got")) ||
		    !(d = elf_getdata(scn, NULL)) || !d->d_buf)
			continue;
		/* .plt and .plt.sec entries are 16 bytes, .plt.got's 8
		 * (16 with IBT); ld sets sh_entsize to match. */
		ent = sh.sh_entsize ? sh.sh_entsize :
		      strcmp(name, ".plt.got") ? 16 : 8;
		for (uint64_t off = 0; off + ent <= d->d_size; off += ent) {
			uint64_t got = pltsyms_stub_target(
				(const unsigned char *)d->d_buf + off, ent,
				sh.sh_addr + off);
			struct pltsyms_slot key = { got, NULL }, *hit;

			if (!got || !(hit = bsearch(&key, slots, nslots,
						    sizeof(*slots),
						    pltsyms_slot_cmp)))
				continue;
			if (n == cap) {
				size_t c = cap ? cap * 2 : 64;
				struct pltsym *t = realloc(v, c * sizeof(*t));

				if (!t) {
					e = -ENOMEM;
					break;
				}
				v = t;
				cap = c;
			}
			v[n] = (struct pltsym){ sh.sh_addr + off, ent, NULL };
			if (asprintf(&v[n].name, "%s@plt", hit->name) < 0) {
				e = -ENOMEM;
				break;
			}
			n++;
		}
	}
out:
	free(slots);
	if (e) {
		pltsyms_free(v, n);
		return e;
	}
	if (n)
		qsort(v, n, sizeof(*v), pltsyms_addr_cmp);
	*out = v;
	*nout = n;
	return 0;
}

void pltsyms_free(struct pltsym *syms, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(syms[i].name);
	free(syms);
}

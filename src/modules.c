/*
 * modules.c - a live process's modules in a Dwfl: which mapped files are
 * modules (as dwfl_linux_proc_report would say, from maps already parsed),
 * and how the very files the process mapped are found, whatever happened
 * to their paths since (docs/design.md §4.3). Shared by the symbolizer and
 * both unwinders.
 */
#include <elf.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <unistd.h>

#include <elfutils/libdwfl.h>

#include "modules.h"
#include "procfs.h"

/* What the maps said of a file module when it was reported. */
struct modules_file {
	uint64_t low;			/* the module's start: find_elf's base */
	uint64_t map_start, map_end;	/* its first line: a map_files entry */
	uint64_t map_offset;		/* file offset mapped at low */
	uint64_t inode;
	unsigned dev_major, dev_minor;
	bool deleted;
	char *name;			/* the module's name, " (deleted)" kept */
	char *path;			/* the path the maps line shows */
};

struct modules_proc {
	pid_t pid;
	struct modules_file *files;	/* by low */
	size_t n, cap;
};

int modules_proc_new(pid_t pid, struct modules_proc **out)
{
	struct modules_proc *p = calloc(1, sizeof(*p));

	*out = p;
	if (!p)
		return -ENOMEM;
	p->pid = pid;
	return 0;
}

pid_t modules_proc_pid(const struct modules_proc *p)
{
	return p->pid;
}

void modules_proc_set_pid(struct modules_proc *p, pid_t pid)
{
	p->pid = pid;
}

void modules_proc_free(struct modules_proc *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->n; i++) {
		free(p->files[i].name);
		free(p->files[i].path);
	}
	free(p->files);
	free(p);
}

/* The first entry with low >= addr. */
static size_t modules_proc_lower(const struct modules_proc *p, uint64_t addr)
{
	size_t lo = 0, hi = p->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (p->files[mid].low < addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static struct modules_file *modules_proc_find(struct modules_proc *p,
					      uint64_t low, const char *name)
{
	for (size_t i = modules_proc_lower(p, low);
	     i < p->n && p->files[i].low == low; i++)
		if (strcmp(p->files[i].name, name) == 0)
			return &p->files[i];
	return NULL;
}

/* Notes (or, for a module reported again, refreshes) what maps line x
 * says of the module name starting at x->start. */
static int modules_proc_note(struct modules_proc *p, const char *name,
			     const struct procfs_map *x)
{
	struct modules_file *f = modules_proc_find(p, x->start, name);

	if (!f) {
		char *n = strdup(name), *path = strdup(x->path);
		if (!n || !path) {
			free(n);
			free(path);
			return -ENOMEM;
		}
		if (p->n == p->cap) {
			size_t cap = p->cap ? p->cap * 2 : 64;
			struct modules_file *v = realloc(p->files, cap * sizeof(*v));
			if (!v) {
				free(n);
				free(path);
				return -ENOMEM;
			}
			p->files = v;
			p->cap = cap;
		}
		size_t at = modules_proc_lower(p, x->start);
		memmove(p->files + at + 1, p->files + at,
			(p->n - at) * sizeof(*p->files));
		p->n++;
		f = &p->files[at];
		f->name = n;
		f->path = path;
	}
	f->low = x->start;
	f->map_start = x->start;
	f->map_end = x->end;
	f->map_offset = x->offset;
	f->inode = x->inode;
	f->dev_major = x->dev_major;
	f->dev_minor = x->dev_minor;
	f->deleted = x->deleted;
	return 0;
}

/* len bytes of the process's memory at addr: 0 or -EFAULT. */
static int modules_read(pid_t pid, uint64_t addr, void *buf, size_t len)
{
	struct iovec local = { buf, len };
	struct iovec remote = { (void *)(uintptr_t)addr, len };

	return process_vm_readv(pid, &local, 1, &remote, 1, 0) == (ssize_t)len ?
	       0 : -EFAULT;
}

/* The ELF image of the module at base in process pid as far as it is
 * loaded: its PT_LOAD segments read from memory and written at their file
 * offsets into a memfd, without the section headers, which are not
 * loaded. What libdwfl's dwfl_linux_proc_find_elf makes of a deleted file
 * (elf_from_remote_memory), but only for a Dwfl attached to the process:
 * ours need it everywhere. libdw finds .eh_frame through PT_GNU_EH_FRAME
 * and .dynsym through PT_DYNAMIC. Returns an fd or -errno. */
static int modules_open_image(pid_t pid, uint64_t base)
{
	enum { CHUNK = 64 * 1024, MAX_PHDRS = 256 };
	Elf64_Ehdr eh;
	Elf64_Phdr ph[MAX_PHDRS];
	uint64_t bias = 0;
	bool have_load = false;
	char *buf = NULL;
	int fd, e = 0;

	if (modules_read(pid, base, &eh, sizeof(eh)) < 0 ||
	    memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 ||
	    eh.e_ident[EI_CLASS] != ELFCLASS64 ||
	    eh.e_phentsize != sizeof(Elf64_Phdr) || eh.e_phnum == 0 ||
	    eh.e_phnum > MAX_PHDRS)
		return -ENOEXEC;
	if (modules_read(pid, base + eh.e_phoff, ph,
			 eh.e_phnum * sizeof(ph[0])) < 0)
		return -ENOEXEC;
	for (unsigned i = 0; i < eh.e_phnum && !have_load; i++)
		if (ph[i].p_type == PT_LOAD && ph[i].p_offset == 0) {
			/* The first line of a module maps file offset 0. */
			bias = base - ph[i].p_vaddr;
			have_load = true;
		}
	if (!have_load)
		return -ENOEXEC;
	fd = memfd_create("cprof-elf-image", MFD_CLOEXEC);
	if (fd < 0)
		return -errno;
	buf = malloc(CHUNK);
	if (!buf) {
		e = -ENOMEM;
		goto out;
	}
	for (unsigned i = 0; i < eh.e_phnum; i++) {
		if (ph[i].p_type != PT_LOAD)
			continue;
		/* A part that cannot be read (a hole in the mapping) stays
		 * zeros; what matters is the text and the read-only data. */
		for (uint64_t off = 0; off < ph[i].p_filesz; off += CHUNK) {
			size_t len = ph[i].p_filesz - off < CHUNK ?
				     ph[i].p_filesz - off : CHUNK;
			if (modules_read(pid, bias + ph[i].p_vaddr + off, buf,
					 len) < 0)
				continue;
			if (pwrite(fd, buf, len, (off_t)(ph[i].p_offset + off)) !=
			    (ssize_t)len) {
				e = -errno;
				goto out;
			}
		}
	}
	eh.e_shoff = 0;
	eh.e_shnum = 0;
	eh.e_shstrndx = SHN_UNDEF;
	if (pwrite(fd, &eh, sizeof(eh), 0) != (ssize_t)sizeof(eh))
		e = -errno;
out:
	free(buf);
	if (e) {
		close(fd);
		return e;
	}
	return fd;
}

/* Whether fd (opened as path, both taken over) is the file f was mapped
 * from: then *file_name gets path and the caller returns fd; otherwise
 * both are closed and freed. */
static bool modules_keep_if_mapped(const struct modules_file *f, int *fd,
				   char **path, char **file_name)
{
	if (*fd < 0)
		return false;
	if (procfs_map_same_file(*fd, f->dev_major, f->dev_minor, f->inode)) {
		*file_name = *path;
		return true;
	}
	close(*fd);
	free(*path);
	*fd = -1;
	return false;
}

/* Whether p's /proc entry, and with it its root and map_files, is still
 * there. */
static bool modules_proc_alive(const struct modules_proc *p)
{
	char path[32];

	snprintf(path, sizeof(path), "/proc/%d/root", (int)p->pid);
	return access(path, F_OK) == 0;
}

/* Whether fd is an ELF file a process can have loaded: an executable or a
 * shared object (a corrupt ET_REL would be relocated by libdwfl as an
 * object file). What is not ELF at all is left to libdwfl to refuse. */
static bool modules_loadable(int fd)
{
	unsigned char h[18];
	uint16_t type;

	if (pread(fd, h, sizeof(h), 0) != (ssize_t)sizeof(h) ||
	    memcmp(h, ELFMAG, SELFMAG) != 0)
		return true;
	memcpy(&type, h + 16, sizeof(type));	/* e_type, native order */
	if (h[EI_DATA] == ELFDATA2MSB)
		type = (uint16_t)(type >> 8 | type << 8);
	return type == ET_EXEC || type == ET_DYN;
}

/* The file of fd if it may be loaded; closed and -1 if not. */
static int modules_checked(int fd, char **file_name)
{
	if (modules_loadable(fd))
		return fd;
	close(fd);
	free(*file_name);
	*file_name = NULL;
	return -1;
}

int modules_find_elf(struct modules_proc *p, Dwfl_Module *mod, void **userdata,
		     const char *name, Dwarf_Addr base, char **file_name,
		     Elf **elfp)
{
	const struct modules_file *f;
	char *path;
	int fd;

	if (!p || name[0] != '/')
		return dwfl_linux_proc_find_elf(mod, userdata, name, base,
						file_name, elfp);
	f = modules_proc_find(p, base, name);
	if (f && !f->deleted) {
		/* The path, if the file there is still the one mapped: a
		 * file renamed over it since (a package upgrade) has another
		 * inode, and its CFI and symbols describe other code. */
		fd = procfs_open_root_file(p->pid, f->path, &path);
		if (fd == -ENOMEM)
			return -1;
		/* A process gone before its samples were read (a short child
		 * of make, recorded from perf's MMAP2 records) has no root
		 * left: its files by path in our mount namespace, checked
		 * the same way. */
		if (fd < 0 && !modules_proc_alive(p))
			fd = procfs_open_regular_path(f->path, &path);
		if (modules_keep_if_mapped(f, &fd, &path, file_name))
			return modules_checked(fd, file_name);
	}
	if (f) {
		/* Deleted or replaced: the mapped file itself, kept by the
		 * kernel as long as it is mapped. -EPERM without
		 * CAP_SYS_ADMIN (docs/design.md §4.3). */
		fd = procfs_open_map_file(p->pid, f->map_start, f->map_end,
					  &path);
		if (fd == -ENOMEM)
			return -1;
		if (modules_keep_if_mapped(f, &fd, &path, file_name))
			return modules_checked(fd, file_name);
		if (f->map_offset != 0)
			return -1;
	}
	/* Only what is loaded: better than another file's. */
	fd = modules_open_image(p->pid, base);
	if (fd < 0)
		return -1;
	*file_name = NULL;
	return modules_checked(fd, file_name);
}

static int modules_no_debuginfo(Dwfl_Module *mod, void **userdata,
				const char *modname, Dwarf_Addr base,
				const char *file_name,
				const char *debuglink_file,
				GElf_Word debuglink_crc,
				char **debuginfo_file_name)
{
	return -1;
}

static int modules_proc_find_elf(Dwfl_Module *mod, void **userdata,
				 const char *name, Dwarf_Addr base,
				 char **file_name, Elf **elfp)
{
	return modules_find_elf(*userdata, mod, userdata, name, base,
				file_name, elfp);
}

/* section_address: libdwfl calls it for an ET_REL file, without a check
 * (a NULL one crashed on a corrupt file, tests/fuzz/regress/elf). */
const Dwfl_Callbacks modules_unwind_callbacks = {
	.find_elf = modules_proc_find_elf,
	.find_debuginfo = modules_no_debuginfo,
	.section_address = dwfl_offline_section_address,
};

static int modules_claim(Dwfl_Module *mod, void **userdata,
			 const char *name, Dwarf_Addr start, void *arg)
{
	if (!*userdata)
		*userdata = arg;
	return DWARF_CB_OK;
}

/* The reason a report of modules failed: libdwfl's for -EINVAL. */
void modules_report_error(char *err, size_t errlen, int e)
{
	if (err && errlen)
		snprintf(err, errlen, "reporting modules: %s",
			 e == -EINVAL ? dwfl_errmsg(-1) : strerror(-e));
}

int modules_report(Dwfl *dwfl, struct modules_proc *p,
		   const struct procfs_maps *maps, bool add, char *err,
		   size_t errlen)
{
	int e;

	if (add)
		dwfl_report_begin_add(dwfl);
	else
		dwfl_report_begin(dwfl);
	e = modules_report_maps(dwfl, p, maps);
	if (dwfl_report_end(dwfl, NULL, NULL) != 0 && e == 0)
		e = -EINVAL;
	if (e == 0)
		dwfl_getmodules(dwfl, modules_claim, p, 0);
	else
		modules_report_error(err, errlen, e);
	return e;
}

bool modules_map_is_file(const struct procfs_map *x)
{
	return x->path[0] == '/' &&
	       !(x->inode == 0 && x->dev_major == 0 && x->dev_minor == 0);
}

bool modules_same_file(const struct procfs_map *a, const struct procfs_map *b)
{
	return a->inode == b->inode && a->dev_major == b->dev_major &&
	       a->dev_minor == b->dev_minor && a->deleted == b->deleted &&
	       strcmp(a->path, b->path) == 0;
}

/* An anonymous line: no name at all ([heap], [stack], [anon:NAME] are
 * named and end a run). */
static bool modules_map_is_anon(const struct procfs_map *x)
{
	return x->path[0] == '\0' && x->inode == 0;
}

/* Whether x can be a later segment of the load whose first line is f: the
 * address advances with the file offset, give or take the padding between
 * segments (at most a 2 MiB page for the linkers we know; 64 MiB leaves
 * room). V8's second mapping of node's builtins is the same file at an
 * address that has nothing to do with its offset: it must not join the
 * run even when no anonymous line between them is known (the mappings of
 * a recording's children come from perf's records, which do not tell the
 * heap). */
static bool modules_same_load(const struct procfs_map *f,
			      const struct procfs_map *x)
{
	uint64_t da = x->start - f->start, doff = x->offset - f->offset;

	return x->start >= f->start && x->offset >= f->offset && da >= doff &&
	       da - doff <= (64ULL << 20);
}

int modules_runs(const struct procfs_maps *m, struct modules_run **runs,
		 size_t *n)
{
	struct modules_run *v = NULL, *cur = NULL;
	size_t nv = 0, cap = 0;
	uint64_t prev_end = 0;

	*runs = NULL;
	*n = 0;
	for (size_t i = 0; i < m->n; i++) {
		const struct procfs_map *x = &m->maps[i];
		bool vdso = strcmp(x->path, "[vdso]") == 0;

		if (cur && !vdso) {
			if (modules_map_is_file(x) &&
			    modules_same_file(x, &m->maps[cur->first]) &&
			    modules_same_load(&m->maps[cur->first], x)) {
				cur->last = i;
				cur->end = prev_end = x->end;
				continue;
			}
			/* .bss after a segment, a hole ld.so left between
			 * two: anonymous, and where the run left off. */
			if (modules_map_is_anon(x) && x->start == prev_end) {
				prev_end = x->end;
				continue;
			}
		}
		cur = NULL;
		if (!vdso && !modules_map_is_file(x))
			continue;
		if (nv == cap) {
			size_t c = cap ? cap * 2 : 32;
			struct modules_run *t = realloc(v, c * sizeof(*t));

			if (!t) {
				free(v);
				return -ENOMEM;
			}
			v = t;
			cap = c;
		}
		v[nv] = (struct modules_run){ .first = i, .last = i,
			.start = x->start, .end = x->end, .vdso = vdso };
		if (!vdso) {
			cur = &v[nv];
			prev_end = x->end;
		}
		nv++;
	}
	/* A run that does not start at file offset 0, of a file that has a
	 * run from offset 0: mapped again, not loaded again. */
	for (size_t i = 0; i < nv; i++) {
		const struct procfs_map *f = &m->maps[v[i].first];

		if (v[i].vdso || f->offset == 0)
			continue;
		for (size_t j = 0; j < nv && !v[i].alias; j++) {
			const struct procfs_map *g = &m->maps[v[j].first];

			v[i].alias = !v[j].vdso && g->offset == 0 &&
				     modules_same_file(f, g);
		}
	}
	*runs = v;
	*n = nv;
	return 0;
}

int modules_report_maps(Dwfl *dwfl, struct modules_proc *p,
			const struct procfs_maps *m)
{
	struct modules_run *runs;
	size_t n;
	int e;

	/* What dwfl_linux_proc_report does (elfutils libdwfl/
	 * linux-proc-maps.c), from the parse we already hold instead of a
	 * second read of the file (~3 ms at 2,000 lines: a process with 1,000
	 * thread stacks), except for the extent of a module: libdwfl's runs
	 * from a file's first line to its last, and on node that took in the
	 * heap and every JIT region up to V8's second mapping of the
	 * executable, which then named JIT code with the executable's last
	 * symbol (docs/design.md §4.4). A deleted file keeps the
	 * " (deleted)" suffix and the vDSO the "[vdso: PID]" name, by which
	 * dwfl_linux_proc_find_elf knows to read them from memory. */
	e = modules_runs(m, &runs, &n);
	if (e)
		return e;
	for (size_t i = 0; i < n && !e; i++) {
		const struct procfs_map *x = &m->maps[runs[i].first];
		char *name = NULL;

		if (runs[i].alias)
			continue;
		if (runs[i].vdso ?
		    asprintf(&name, "[vdso: %d]", (int)p->pid) < 0 :
		    asprintf(&name, "%s%s", x->path,
			     x->deleted ? " (deleted)" : "") < 0) {
			e = -ENOMEM;
			break;
		}
		if (!dwfl_report_module(dwfl, name, runs[i].start, runs[i].end))
			e = -EINVAL;
		else if (!runs[i].vdso)
			e = modules_proc_note(p, name, x);
		free(name);
	}
	free(runs);
	return e;
}

/* The CFI of mod covering pc (module-relative through *bias): .eh_frame
 * first, then the module's own .debug_frame, in libdw's order
 * (libdwfl/frame_unwind.c). */
static bool modules_pc_frame(Dwfl_Module *mod, Dwarf_Addr pc,
			     Dwarf_Frame **frame)
{
	Dwarf_Addr bias;
	Dwarf_CFI *cfi = dwfl_module_eh_cfi(mod, &bias);

	if (cfi && dwarf_cfi_addrframe(cfi, pc - bias, frame) == 0)
		return true;
	cfi = dwfl_module_dwarf_cfi(mod, &bias);
	return cfi && dwarf_cfi_addrframe(cfi, pc - bias, frame) == 0;
}

bool modules_cfi_outermost(Dwfl *dwfl, Dwarf_Addr pc)
{
	Dwfl_Module *mod = dwfl_addrmodule(dwfl, pc);
	Dwarf_Frame *frame = NULL;
	Dwarf_Op ops_mem[3], *ops = NULL;
	size_t nops = 0;
	bool undefined = false;
	int ra;

	if (!mod || !modules_pc_frame(mod, pc, &frame))
		return false;
	ra = dwarf_frame_info(frame, NULL, NULL, NULL);
	/* libdw's convention (libdw.h): no operation and *ops == ops_mem is
	 * DW_CFA_undefined (*ops == NULL would be DW_CFA_same_value). */
	if (ra >= 0 && dwarf_frame_register(frame, ra, ops_mem, &ops, &nops) == 0)
		undefined = nops == 0 && ops == ops_mem;
	free(frame);
	return undefined;
}

/* --- where Go's stacks stop ---------------------------------------------- */

/* The Go runtime's functions where its own tracebacks stop (Go 1.19
 * runtime/traceback.go): those marked TOPFRAME in its assembly (goexit,
 * under every goroutine; mstart, under every thread the runtime starts;
 * rt0_go, under the first), and mcall and morestack, which switch to the
 * g0 stack by writing SP (SPWRITE): past them an unwinder reads another
 * stack's words as return addresses. Their CFI says none of it. */
static const char *const modules_go_stops[] = {
	"runtime.goexit", "runtime.mstart", "runtime.rt0_go",
	"runtime.mcall", "runtime.morestack",
};

#define MODULES_STOPS_MAX 8

struct modules_stops_mod {
	Dwfl_Module *mod;
	size_t n;
	uint64_t lo[MODULES_STOPS_MAX], hi[MODULES_STOPS_MAX];
};

struct modules_stops {
	struct modules_stops_mod *v;
	size_t n, cap;
	size_t last;		/* the entry found last: frames of one walk
				 * are mostly in one module */
};

struct modules_stops *modules_stops_new(void)
{
	return calloc(1, sizeof(struct modules_stops));
}

void modules_stops_free(struct modules_stops *s)
{
	if (!s)
		return;
	free(s->v);
	free(s);
}

/* Whether name is one of modules_go_stops, or its assembly body (the
 * ".abi0" symbol Go's linker gives the ABI0 version). */
static bool modules_is_go_stop(const char *name)
{
	if (strncmp(name, "runtime.", 8) != 0)
		return false;
	for (size_t i = 0; i < sizeof(modules_go_stops) /
			       sizeof(modules_go_stops[0]); i++) {
		size_t n = strlen(modules_go_stops[i]);

		if (strncmp(name, modules_go_stops[i], n) == 0 &&
		    (name[n] == '\0' || strcmp(name + n, ".abi0") == 0))
			return true;
	}
	return false;
}

/* Whether the ELF is a Go program: its linker writes .gopclntab (and
 * .go.buildinfo). Looked at from the section headers, without reading
 * the symbol table of every C library. */
static bool modules_is_go(Elf *elf)
{
	size_t shstrndx;
	Elf_Scn *scn = NULL;

	if (!elf || elf_getshdrstrndx(elf, &shstrndx) != 0)
		return false;
	while ((scn = elf_nextscn(elf, scn))) {
		GElf_Shdr sh;
		const char *name;

		if (gelf_getshdr(scn, &sh) &&
		    (name = elf_strptr(elf, shstrndx, sh.sh_name)) &&
		    (!strcmp(name, ".gopclntab") || !strcmp(name, ".go.buildinfo")))
			return true;
	}
	return false;
}

/* Fills e with the address ranges of mod's Go stop functions. */
static void modules_stops_scan(struct modules_stops_mod *e, Dwfl_Module *mod)
{
	GElf_Addr bias;
	int nsyms;

	e->mod = mod;
	e->n = 0;
	if (!modules_is_go(dwfl_module_getelf(mod, &bias)))
		return;
	nsyms = dwfl_module_getsymtab(mod);
	for (int i = 1; i < nsyms && e->n < MODULES_STOPS_MAX; i++) {
		GElf_Sym sym;
		GElf_Addr addr;
		const char *name = dwfl_module_getsym_info(mod, i, &sym, &addr,
							   NULL, NULL, NULL);

		if (name && GELF_ST_TYPE(sym.st_info) == STT_FUNC &&
		    sym.st_size && modules_is_go_stop(name)) {
			e->lo[e->n] = addr;
			e->hi[e->n++] = addr + sym.st_size;
		}
	}
}

bool modules_stops_at(struct modules_stops *s, Dwfl *dwfl, Dwarf_Addr pc)
{
	Dwfl_Module *mod = dwfl_addrmodule(dwfl, pc);
	struct modules_stops_mod *e = NULL;

	if (!s || !mod)
		return false;
	if (s->last < s->n && s->v[s->last].mod == mod)
		e = &s->v[s->last];
	for (size_t i = 0; !e && i < s->n; i++)
		if (s->v[i].mod == mod) {
			e = &s->v[i];
			s->last = i;
		}
	if (!e) {
		if (s->n == s->cap) {
			size_t cap = s->cap ? s->cap * 2 : 16;
			struct modules_stops_mod *v = realloc(s->v, cap * sizeof(*v));

			if (!v)
				return false;
			s->v = v;
			s->cap = cap;
		}
		e = &s->v[s->n];
		s->last = s->n++;
		modules_stops_scan(e, mod);
	}
	for (size_t i = 0; i < e->n; i++)
		if (pc >= e->lo[i] && pc < e->hi[i])
			return true;
	return false;
}

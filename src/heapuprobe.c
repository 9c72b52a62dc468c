/*
 * heapuprobe.c - heap samples from uprobes on the allocator (see
 * heapuprobe.h, docs/design.md §12.4).
 */
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>

#include "errmsg.h"
#include "heapring.h"
#include "heapuprobe.h"
#include "procfs.h"


const char *heapuprobe_func_name(unsigned func)
{
	return heapring_func_name(func);
}

/* The file offset of a virtual address: through the PT_LOAD holding it. */
static bool heapuprobe_file_offset(Elf *elf, uint64_t vaddr, uint64_t *off)
{
	size_t n, i;
	GElf_Phdr ph;

	if (elf_getphdrnum(elf, &n) != 0)
		return false;
	for (i = 0; i < n; i++) {
		if (!gelf_getphdr(elf, (int)i, &ph) || ph.p_type != PT_LOAD)
			continue;
		if (vaddr >= ph.p_vaddr && vaddr < ph.p_vaddr + ph.p_filesz) {
			*off = vaddr - ph.p_vaddr + ph.p_offset;
			return true;
		}
	}
	return false;
}

/* Fills vaddr[] from one symbol table section; returns how many found. */
static int heapuprobe_scan_symtab(Elf *elf, Elf_Scn *scn, const GElf_Shdr *sh,
				  uint64_t vaddr[HEAPABI_NFUNCS])
{
	Elf_Data *data = elf_getdata(scn, NULL);
	size_t n, i;
	int found = 0;

	if (!data || sh->sh_entsize == 0)
		return 0;
	n = sh->sh_size / sh->sh_entsize;
	for (i = 1; i < n; i++) {
		GElf_Sym sym;
		const char *name;
		int type;

		if (!gelf_getsym(data, (int)i, &sym) || sym.st_shndx == SHN_UNDEF ||
		    sym.st_value == 0)
			continue;
		type = GELF_ST_TYPE(sym.st_info);
		if (type != STT_FUNC && type != STT_GNU_IFUNC)
			continue;
		/* A local symbol of that name is not the allocator. */
		if (GELF_ST_BIND(sym.st_info) == STB_LOCAL)
			continue;
		name = elf_strptr(elf, sh->sh_link, sym.st_name);
		if (!name)
			continue;
		for (unsigned f = 0; f < HEAPABI_NFUNCS; f++) {
			if (!vaddr[f] && strcmp(name, heapring_func_name(f)) == 0) {
				vaddr[f] = sym.st_value;
				found++;
			}
		}
	}
	return found;
}

int heapuprobe_offsets(int fd, bool libc, uint64_t offset[HEAPABI_NFUNCS],
		       char *err, size_t errlen)
{
	uint64_t vaddr[HEAPABI_NFUNCS] = { 0 };
	Elf_Scn *scn = NULL;
	GElf_Shdr sh;
	Elf *elf;
	int found = 0, pass;

	memset(offset, 0, HEAPABI_NFUNCS * sizeof(*offset));
	elf_version(EV_CURRENT);
	elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	if (!elf || elf_kind(elf) != ELF_K_ELF) {
		errmsg_set(err, errlen, "not an ELF file: %s", elf_errmsg(-1));
		if (elf)
			elf_end(elf);
		return -ENOEXEC;
	}
	/* .symtab first (a program's own allocator may not be exported),
	 * then .dynsym for what it lacks (a stripped library). */
	for (pass = 0; pass < 2; pass++) {
		Elf64_Word want = pass == 0 ? SHT_SYMTAB : SHT_DYNSYM;

		scn = NULL;
		while ((scn = elf_nextscn(elf, scn)) != NULL) {
			if (gelf_getshdr(scn, &sh) && sh.sh_type == want)
				found += heapuprobe_scan_symtab(elf, scn, &sh, vaddr);
		}
	}
	if (!vaddr[HEAPABI_MALLOC]) {
		elf_end(elf);
		return 0;
	}
	found = 0;
	for (unsigned f = 0; f < HEAPABI_NFUNCS; f++) {
		uint64_t off;
		bool dup = false;

		if (!vaddr[f] || (libc && f == HEAPABI_REALLOCARRAY))
			continue;
		if (!heapuprobe_file_offset(elf, vaddr[f], &off) || off == 0)
			continue;
		/* Aliases (glibc: memalign = aligned_alloc): one probe. */
		for (unsigned g = 0; g < f; g++)
			dup |= offset[g] == off;
		if (dup)
			continue;
		offset[f] = off;
		found++;
	}
	elf_end(elf);
	return offset[HEAPABI_MALLOC] ? found : 0;
}

/* "libc.so.6", "libc-2.31.so": glibc's C library by its file name. */
static bool heapuprobe_is_libc(const char *path)
{
	const char *b = strrchr(path, '/');

	b = b ? b + 1 : path;
	return strncmp(b, "libc.so", 7) == 0 ||
	       (strncmp(b, "libc-", 5) == 0 && strstr(b, ".so"));
}

/* Tries one module: fills t and returns 1 when it defines malloc. */
static int heapuprobe_try(pid_t pid, const struct procfs_map *m, bool main_program,
			  struct heapuprobe_target *t, char *err, size_t errlen)
{
	uint64_t off[HEAPABI_NFUNCS];
	char *opened = NULL;
	bool libc = heapuprobe_is_libc(m->path);
	int fd, r;

	fd = procfs_open_root_file(pid, m->path, &opened);
	if (fd < 0) {
		errmsg_set(err, errlen, "opening %s of pid %d: %s", m->path,
			   (int)pid, strerror(-fd));
		return fd;
	}
	/* The file at the path must be the one mapped (not replaced). */
	if (!procfs_map_same_file(fd, m->dev_major, m->dev_minor, m->inode)) {
		close(fd);
		free(opened);
		errmsg_set(err, errlen, "%s of pid %d was replaced since it was "
			   "mapped", m->path, (int)pid);
		return -ESTALE;
	}
	r = heapuprobe_offsets(fd, libc, off, err, errlen);
	close(fd);
	if (r <= 0) {
		free(opened);
		return r;
	}
	if (strlen(opened) >= sizeof(t->path) || strlen(m->path) >= sizeof(t->module)) {
		free(opened);
		return -ENAMETOOLONG;
	}
	strcpy(t->path, opened);
	strcpy(t->module, m->path);
	free(opened);
	t->main_program = main_program;
	t->libc = libc;
	memcpy(t->offset, off, sizeof(off));
	return 1;
}

int heapuprobe_find(pid_t pid, struct heapuprobe_target *t, char *err,
		    size_t errlen)
{
	struct procfs_maps maps = { 0 };
	char exe[64];
	struct stat st;
	size_t i, j;
	int r, pass;

	memset(t, 0, sizeof(*t));
	t->pid = pid;
	r = procfs_read_maps(pid, &maps);
	if (r < 0) {
		if (r == -ENOENT)
			r = -ESRCH;
		errmsg_set(err, errlen, "reading /proc/%d/maps: %s", (int)pid,
			   strerror(-r));
		return r;
	}
	/* The main program: the mapping of the file /proc/PID/exe is. */
	snprintf(exe, sizeof(exe), "/proc/%d/exe", (int)pid);
	if (stat(exe, &st) < 0)
		memset(&st, 0, sizeof(st));
	/* Pass 0: the main program; 1: a library other than libc; 2: libc. */
	for (pass = 0; pass < 3; pass++) {
		for (i = 0; i < maps.n; i++) {
			const struct procfs_map *m = &maps.maps[i];
			bool is_main = st.st_ino && m->inode == (uint64_t)st.st_ino &&
				       makedev(m->dev_major, m->dev_minor) == st.st_dev;
			bool dup = false;

			if (m->path[0] != '/' || m->deleted || m->inode == 0)
				continue;
			for (j = 0; j < i && !dup; j++)
				dup = maps.maps[j].inode == m->inode &&
				      maps.maps[j].dev_major == m->dev_major &&
				      maps.maps[j].dev_minor == m->dev_minor;
			if (dup)
				continue;
			if (pass == 0 ? !is_main :
			    is_main || heapuprobe_is_libc(m->path) != (pass == 2))
				continue;
			r = heapuprobe_try(pid, m, is_main, t, err, errlen);
			if (r == 1) {
				procfs_maps_release(&maps);
				return 0;
			}
			if (pass == 0 && r < 0) {
				procfs_maps_release(&maps);
				return r;
			}
		}
	}
	procfs_maps_release(&maps);
	errmsg_set(err, errlen, "no module of pid %d defines malloc (a static "
		   "program without symbols?)", (int)pid);
	return -ENOENT;
}

void heapuprobe_sampler_opts(const struct heapuprobe_target *t,
			     uint64_t period, bool inuse,
			     struct sampler_opts *o)
{
	o->kinds |= SAMPLER_KIND(SAMPLER_UPROBE);
	memset(&o->uprobe, 0, sizeof(o->uprobe));
	o->uprobe.path = t->path;
	o->uprobe.period = period ? period : 1;
	for (unsigned f = 0; f < HEAPABI_NFUNCS; f++)
		o->uprobe.offset[f] = t->offset[f];
	if (!inuse) {
		o->uprobe.count_only[HEAPABI_FREE] = true;
		return;
	}
	/* In use needs every free, and the address each sampled call
	 * returned: light probes, hit at every call (docs/design.md
	 * §12.4). */
	o->uprobe.light[HEAPABI_FREE] = true;
	for (unsigned f = 0; f < HEAPABI_NFUNCS; f++) {
		if (!t->offset[f] || f == HEAPABI_FREE)
			continue;
		o->uprobe.offset[HEAPUPROBE_RET(f)] = t->offset[f];
		o->uprobe.retprobe[HEAPUPROBE_RET(f)] = true;
		o->uprobe.light[HEAPUPROBE_RET(f)] = true;
		if (f == HEAPABI_REALLOC || f == HEAPABI_REALLOCARRAY) {
			o->uprobe.offset[HEAPUPROBE_OLD(f)] = t->offset[f];
			o->uprobe.light[HEAPUPROBE_OLD(f)] = true;
		}
	}
}

/* a * b, false when it overflows. */
static bool heapuprobe_mul(uint64_t a, uint64_t b, uint64_t *out)
{
	return !__builtin_mul_overflow(a, b, out);
}

int heapuprobe_convert(const struct sampler_record *rec, uint64_t period,
		       uint64_t regs[HEAPABI_NR_REGS], struct heap_sample *out)
{
	const struct perf_sample *ps = rec->sample;
	const uint64_t *r;
	uint64_t size, ret;

	if (rec->hdr->type != PERF_RECORD_SAMPLE || rec->kind != SAMPLER_UPROBE ||
	    !ps)
		return 0;
	if (!ps->regs || ps->regs_abi == PERF_SAMPLE_REGS_ABI_NONE)
		return -EBADMSG;
	r = ps->regs;
	switch (rec->uprobe) {
	case HEAPABI_MALLOC:
	case HEAPABI_VALLOC:
	case HEAPABI_PVALLOC:
		size = r[RB_DI];
		break;
	case HEAPABI_CALLOC:
		if (!heapuprobe_mul(r[RB_DI], r[RB_SI], &size))
			return 0;	/* fails with ENOMEM: no block */
		break;
	case HEAPABI_REALLOC:
	case HEAPABI_ALIGNED_ALLOC:
	case HEAPABI_MEMALIGN:
		size = r[RB_SI];
		break;
	case HEAPABI_REALLOCARRAY:
		if (!heapuprobe_mul(r[RB_SI], r[RB_DX], &size))
			return 0;
		break;
	case HEAPABI_POSIX_MEMALIGN:
		size = r[RB_DX];
		break;
	default:		/* free, or no function of ours */
		return 0;
	}
	/* At the entry SP points at the return address (the stack copy
	 * starts at SP): the caller resumes at [SP] with SP + 8. */
	if (!ps->stack || ps->stack_dyn_size < 8 || ps->stack_size < 8)
		return 0;
	memcpy(&ret, ps->stack, sizeof(ret));
	if (ret == 0)
		return 0;
	memset(regs, 0, HEAPABI_NR_REGS * sizeof(*regs));
	regs[HEAPABI_R_BX] = r[RB_BX];
	regs[HEAPABI_R_BP] = r[RB_BP];
	regs[HEAPABI_R_R12] = r[RB_R12];
	regs[HEAPABI_R_R13] = r[RB_R13];
	regs[HEAPABI_R_R14] = r[RB_R14];
	regs[HEAPABI_R_R15] = r[RB_R15];
	regs[HEAPABI_R_SP] = r[RB_SP] + 8;
	regs[HEAPABI_R_IP] = ret - 1;
	memset(out, 0, sizeof(*out));
	out->pid = (pid_t)ps->pid;
	out->tid = (pid_t)ps->tid;
	out->func = rec->uprobe;
	out->size = size;
	out->addr = 0;
	out->id = 0;
	out->calls = period ? period : 1;
	out->regs = regs;
	out->stack = ps->stack + 8;
	out->stack_size = ps->stack_dyn_size - 8;
	out->time_ns = rec->time;
	return 1;
}

/* What one hit of probe i of u costs, in ns (heapuprobe_rate). */
static double heapuprobe_probe_ns(const struct heapuprobe_meter *m,
				  const struct sampler_uprobe *u, unsigned i)
{
	double hit = m->call_ns > 0 ? m->call_ns : HEAPUPROBE_CALL_NS;
	double light = m->cost.light > 0 ? m->cost.light : hit;
	/* Measured costs (cost.hit set) are taken as they are: a return's
	 * 0 means too small to tell from two timings of a trap. */
	double ret = m->cost.hit > 0 ? m->cost.ret : hit;
	bool shared = false;

	if (m->cost.hit > 0)
		hit = m->cost.hit;
	if (u->retprobe[i])
		return ret;
	if (!u->light[i])
		return hit;
	/* A light entry beside a sampled one at the same function (the
	 * old pointer of realloc): one trap for both, the sample more. */
	for (unsigned j = 0; j < SAMPLER_UPROBE_MAX && !shared; j++)
		shared = j != i && u->offset[j] == u->offset[i] &&
			 !u->retprobe[j] && !u->light[j];
	return shared ? (light > hit ? light - hit : 0) : light;
}

int heapuprobe_rate(struct sampler *s, struct heapuprobe_meter *m,
		    uint64_t now_ns, struct heapuprobe_rate *out)
{
	uint64_t counts[SAMPLER_UPROBE_MAX], total = 0;
	bool was = m->started && now_ns > m->ns;
	double busy_ns = 0;
	int r;

	memset(out, 0, sizeof(*out));
	r = sampler_uprobe_counts(s, counts, SAMPLER_UPROBE_MAX);
	if (r < 0)
		return r;
	/* Calls are the functions' entries; the cost is every probe's. */
	for (unsigned f = 0; f < HEAPABI_NFUNCS; f++)
		total += counts[f];
	memcpy(out->funcs, counts, sizeof(out->funcs));
	out->total_calls = total;
	out->call_us = (m->cost.hit > 0 ? m->cost.hit : m->call_ns > 0 ?
			m->call_ns : HEAPUPROBE_CALL_NS) / 1000.0;
	for (unsigned i = 0; i < SAMPLER_UPROBE_MAX; i++) {
		if (!m->probed.offset[i] && i >= HEAPABI_NFUNCS)
			continue;
		if (was && counts[i] >= m->probes[i])
			busy_ns += (double)(counts[i] - m->probes[i]) *
				   heapuprobe_probe_ns(m, &m->probed, i);
	}
	if (was) {
		uint64_t before = 0;

		for (unsigned f = 0; f < HEAPABI_NFUNCS; f++)
			before += m->probes[f];
		out->calls = total >= before ? total - before : 0;
		out->seconds = (double)(now_ns - m->ns) / 1e9;
		out->calls_per_sec = (double)out->calls / out->seconds;
		out->busy = busy_ns / 1e9 / out->seconds;
		out->slower_pct = out->busy < 1 ?
				  out->busy / (1 - out->busy) * 100 : -1;
	}
	memcpy(m->probes, counts, sizeof(counts));
	m->ns = now_ns;
	m->started = true;
	return 0;
}

/* The function heapuprobe_calibrate probes: a call that does nothing
 * else (its first instruction is what the kernel executes out of line). */
__attribute__((noinline)) int heapuprobe_calibration_target(int x);
__attribute__((noinline)) int heapuprobe_calibration_target(int x)
{
	__asm__ volatile("" : "+r"(x));
	return x + 1;
}

static uint64_t heapuprobe_thread_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* CPU ns of n calls of the target. */
static uint64_t heapuprobe_time_calls(unsigned n)
{
	volatile int sink = 0;
	uint64_t t0 = heapuprobe_thread_ns();

	for (unsigned i = 0; i < n; i++)
		sink = heapuprobe_calibration_target(sink);
	return heapuprobe_thread_ns() - t0;
}

/* How heapuprobe_measure probes the calibration target. */
enum heapuprobe_probe_kind {
	HEAPUPROBE_COUNT,	/* a counting entry probe */
	HEAPUPROBE_LIGHT,	/* a light entry probe */
	HEAPUPROBE_RETURN,	/* a counting entry and a light return */
};

/* CPU ns a call of the calibration target takes more with its probes. */
static int heapuprobe_measure(enum heapuprobe_probe_kind kind, double *ns,
			      char *err, size_t errlen)
{
	const unsigned n = HEAPUPROBE_CALIBRATION_CALLS;
	uint64_t addr = (uint64_t)(uintptr_t)&heapuprobe_calibration_target;
	struct procfs_maps maps = { 0 };
	const struct procfs_map *m;
	struct sampler_opts o = { 0 };
	struct sampler *s = NULL;
	char path[PATH_MAX + 32];
	uint64_t base, probed, counts[2];
	int r;

	*ns = 0;
	/* The function's file offset: where our own maps put it. */
	r = procfs_read_maps(getpid(), &maps);
	if (r < 0) {
		errmsg_set(err, errlen, "reading /proc/self/maps: %s", strerror(-r));
		return r;
	}
	m = procfs_maps_find(&maps, addr);
	if (!m || m->path[0] != '/' || m->deleted) {
		procfs_maps_release(&maps);
		errmsg_set(err, errlen, "cprof's own code is not in a file");
		return -ENOENT;
	}
	snprintf(path, sizeof(path), "/proc/%d/root%s", (int)getpid(), m->path);
	o.pid = getpid();
	o.kinds = SAMPLER_KIND(SAMPLER_UPROBE);
	o.stack_size = 8;
	o.uprobe.path = path;
	o.uprobe.offset[0] = addr - m->start + m->offset;
	o.uprobe.count_only[0] = kind != HEAPUPROBE_LIGHT;
	o.uprobe.light[0] = kind == HEAPUPROBE_LIGHT;
	if (kind == HEAPUPROBE_RETURN) {
		o.uprobe.offset[1] = o.uprobe.offset[0];
		o.uprobe.retprobe[1] = true;
		o.uprobe.light[1] = true;
	}
	procfs_maps_release(&maps);

	base = heapuprobe_time_calls(n);
	r = sampler_open(&o, &s, err, errlen);
	if (r < 0)
		return r;
	r = sampler_enable(s);
	if (r < 0) {
		errmsg_set(err, errlen, "enabling the calibration uprobe: %s",
			   strerror(-r));
		sampler_free(s);
		return r;
	}
	probed = heapuprobe_time_calls(n);
	sampler_disable(s);
	r = sampler_uprobe_counts(s, counts, 2);
	sampler_free(s);
	if (r < 0 || counts[0] < n ||
	    (kind == HEAPUPROBE_RETURN && counts[1] < n)) {
		errmsg_set(err, errlen, "the calibration uprobe counted %llu of "
			   "%u calls", (unsigned long long)counts[0], n);
		return -EIO;
	}
	*ns = probed > base ? (double)(probed - base) / n : 0;
	return 0;
}

int heapuprobe_calibrate(double *ns_per_call, char *err, size_t errlen)
{
	return heapuprobe_measure(HEAPUPROBE_COUNT, ns_per_call, err, errlen);
}

int heapuprobe_calibrate_costs(struct heapuprobe_costs *c, char *err,
			       size_t errlen)
{
	double both;
	int r;

	memset(c, 0, sizeof(*c));
	if ((r = heapuprobe_measure(HEAPUPROBE_COUNT, &c->hit, err, errlen)) < 0 ||
	    (r = heapuprobe_measure(HEAPUPROBE_LIGHT, &c->light, err, errlen)) < 0 ||
	    (r = heapuprobe_measure(HEAPUPROBE_RETURN, &both, err, errlen)) < 0)
		return r;
	/* The return probe's part: the entry's trap is the counting one. */
	c->ret = both > c->hit ? both - c->hit : 0;
	return 0;
}

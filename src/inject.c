/*
 * inject.c - the heap sampler put into a running process with ptrace and
 * taken out again (inject.h; docs/design.md §12.2).
 */
#include <dirent.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <inttypes.h>
#include <libelf.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/user.h>
#include <sys/wait.h>

#include "errmsg.h"
#include "heapblob.h"
#include "heapring.h"
#include "inject.h"
#include "procfs.h"
#include "tracer.h"

#define INJECT_DEFAULT_RATE	(512u * 1024u)
/* A stop session given up because a thread is in ld.so, the allocator or
 * the blob is retried after INJECT_RETRY_NS, at most INJECT_MAX_TRIES
 * times (~1 s and more on a loaded machine). */
#define INJECT_RETRY_NS		10000000u
#define INJECT_MAX_TRIES	100
#define INJECT_STOP_TIMEOUT_NS	2000000000u
#define INJECT_UNINT_WAIT_NS	50000000u
/* Stack scanned above a thread's SP for a return address into the blob. */
#define INJECT_STACK_SCAN	(64u * 1024u)
#define INJECT_MAX_MODULES	4096u
#define INJECT_MEMFD_PATH	"/memfd:" HEAPABI_MEMFD_NAME

#ifndef MFD_CLOEXEC
#define MFD_CLOEXEC 0x0001U
#endif
#ifndef MFD_EXEC
#define MFD_EXEC 0x0010U
#endif

/* The kernel's restart codes (include/linux/errno.h, not exported). */
#define K_ERESTARTSYS		512
#define K_ERESTARTNOINTR	513
#define K_ERESTARTNOHAND	514
#define K_ERESTART_RESTARTBLOCK	516


/* The stub written into an executable page's slack (docs/design.md
 * §12.2): the system call, then, for a thread cprof no longer controls,
 * every general register popped from the save area SP points at and
 * iretq to the state the thread was stopped in. */
static const uint8_t inject_stub[] = {
	0x0f, 0x05,			/* syscall */
	0x41, 0x5f, 0x41, 0x5e,		/* pop %r15; pop %r14 */
	0x41, 0x5d, 0x41, 0x5c,		/* pop %r13; pop %r12 */
	0x41, 0x5b, 0x41, 0x5a,		/* pop %r11; pop %r10 */
	0x41, 0x59, 0x41, 0x58,		/* pop %r9;  pop %r8 */
	0x5f, 0x5e, 0x5d, 0x5b,		/* pop %rdi, %rsi, %rbp, %rbx */
	0x5a, 0x59, 0x58,		/* pop %rdx, %rcx, %rax */
	0x48, 0xcf,			/* iretq */
};
/* Words of the save area, in the order the stub pops them. */
enum {
	SV_R15, SV_R14, SV_R13, SV_R12, SV_R11, SV_R10, SV_R9, SV_R8,
	SV_RDI, SV_RSI, SV_RBP, SV_RBX, SV_RDX, SV_RCX, SV_RAX,
	SV_RIP, SV_CS, SV_RFLAGS, SV_RSP, SV_SS, SV_NWORDS
};

struct inject_module {
	uint64_t l_addr, l_ld;
};

struct inject {
	pid_t pid;
	/* CPROF_INJECT_KILL_AT=N: cprof kills itself (SIGKILL) right after
	 * pointing the worker at the stub for its Nth remote system call, so
	 * that tests can check what the target does on its own then
	 * (e2e.inject_syscall). 0: never. */
	unsigned kill_at, nsyscalls;
	pid_t nstgid;			/* its getpid() */
	int mem;			/* /proc/PID/mem, O_RDWR */
	uint64_t r_debug;
	uint64_t ldso_base;
	uint64_t ldso_text[8][2];	/* ld.so's executable ranges */
	unsigned nldso_text;
	uint64_t real[HEAPABI_NFUNCS], real_size[HEAPABI_NFUNCS];
	uint64_t base;			/* of the blob in the target */
	struct heapabi_shared *sh;	/* cprof's mapping */
	struct heapabi_blob_header hdr;
	struct inject_module *mods;	/* modules hooked */
	size_t nmods, capmods;
	uint64_t rate;
	uint32_t stack_size;
	const uint8_t *image;
	size_t image_len;
	struct inject_stats st;
	uint64_t last_stopped_ns;	/* of the last stop session */
};

/* ---- target memory -------------------------------------------------------- */

static int mem_read(struct inject *in, uint64_t addr, void *buf, size_t len)
{
	ssize_t n = pread(in->mem, buf, len, (off_t)addr);
	if (n < 0)
		return -errno;
	return (size_t)n == len ? 0 : -EIO;
}

/* Writes through page protections (FOLL_FORCE): the GOT of a full RELRO
 * module, the slack of a text page. */
static int mem_write(struct inject *in, uint64_t addr, const void *buf,
		     size_t len)
{
	ssize_t n = pwrite(in->mem, buf, len, (off_t)addr);
	if (n < 0)
		return -errno;
	return (size_t)n == len ? 0 : -EIO;
}

static int mem_read_u64(struct inject *in, uint64_t addr, uint64_t *v)
{
	return mem_read(in, addr, v, sizeof(*v));
}

static int mem_read_str(struct inject *in, uint64_t addr, char *buf,
			size_t len)
{
	size_t got = 0;

	buf[0] = 0;
	while (got + 1 < len) {
		size_t chunk = 64;
		if (chunk > len - 1 - got)
			chunk = len - 1 - got;
		ssize_t n = pread(in->mem, buf + got, chunk, (off_t)(addr + got));
		if (n <= 0)
			break;
		buf[got + (size_t)n] = 0;
		if (memchr(buf + got, 0, (size_t)n))
			return 0;
		got += (size_t)n;
	}
	buf[got] = 0;
	return got ? 0 : -EIO;
}

/* ---- the process: auxv, the main program, the link map --------------------- */

static int read_auxv(pid_t pid, uint64_t *phdr, uint64_t *phnum)
{
	char path[64];
	uint64_t v[2];
	int fd;

	*phdr = *phnum = 0;
	snprintf(path, sizeof(path), "/proc/%d/auxv", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	while (read(fd, v, sizeof(v)) == (ssize_t)sizeof(v) && v[0] != AT_NULL) {
		if (v[0] == AT_PHDR)
			*phdr = v[1];
		else if (v[0] == AT_PHNUM)
			*phnum = v[1];
	}
	close(fd);
	return *phdr && *phnum ? 0 : -ENOENT;
}

/* The main program's dynamic section from its program headers in memory.
 * *dyn 0 and -ENOTSUP when it has no PT_INTERP (statically linked). */
static int main_dynamic(struct inject *in, uint64_t *dyn, char *err,
			size_t errlen)
{
	uint64_t at_phdr, phnum, bias = 0, dynv = 0;
	bool have_bias = false, interp = false;
	Elf64_Phdr ph[64];
	int r = read_auxv(in->pid, &at_phdr, &phnum);

	*dyn = 0;
	if (r < 0) {
		errmsg_set(err, errlen, "cannot read /proc/%d/auxv: %s",
			   (int)in->pid, strerror(-r));
		return r;
	}
	if (phnum > 64)
		phnum = 64;
	r = mem_read(in, at_phdr, ph, phnum * sizeof(ph[0]));
	if (r < 0) {
		errmsg_set(err, errlen, "cannot read the program headers of pid %d: %s",
			   (int)in->pid, strerror(-r));
		return r;
	}
	for (size_t i = 0; i < phnum; i++) {
		if (ph[i].p_type == PT_PHDR) {
			bias = at_phdr - ph[i].p_vaddr;
			have_bias = true;
		} else if (ph[i].p_type == PT_INTERP) {
			interp = true;
		} else if (ph[i].p_type == PT_DYNAMIC) {
			dynv = ph[i].p_vaddr;
		}
	}
	if (!have_bias)
		for (size_t i = 0; i < phnum; i++)
			if (ph[i].p_type == PT_LOAD && ph[i].p_offset == 0) {
				bias = at_phdr - ph[i].p_vaddr - sizeof(Elf64_Ehdr);
				break;
			}
	if (!interp || !dynv) {
		errmsg_set(err, errlen, "pid %d is statically linked: no GOT to "
			   "hook (use --method uprobe)", (int)in->pid);
		return -ENOTSUP;
	}
	*dyn = bias + dynv;
	return 0;
}

static int find_r_debug(struct inject *in, char *err, size_t errlen)
{
	uint64_t dyn;
	int r = main_dynamic(in, &dyn, err, errlen);

	if (r < 0)
		return r;
	for (unsigned i = 0; i < 1024; i++) {
		Elf64_Dyn d;
		r = mem_read(in, dyn + i * sizeof(d), &d, sizeof(d));
		if (r < 0)
			break;
		if (d.d_tag == DT_NULL)
			break;
		if (d.d_tag == DT_DEBUG) {
			in->r_debug = d.d_un.d_ptr;
			break;
		}
	}
	if (!in->r_debug) {
		errmsg_set(err, errlen, "pid %d has no link map yet (DT_DEBUG is 0): "
			   "is it still starting?", (int)in->pid);
		return -EAGAIN;
	}
	/* struct r_debug: r_version, r_map, r_brk, r_state, r_ldbase. */
	r = mem_read_u64(in, in->r_debug + 32, &in->ldso_base);
	if (r < 0) {
		errmsg_set(err, errlen, "cannot read r_debug of pid %d: %s",
			   (int)in->pid, strerror(-r));
		return r;
	}
	return 0;
}

struct lm_entry {
	uint64_t l_addr, l_ld;
	char name[512];
};

/* The link map, in its order. *state: r_debug.r_state (0: consistent). */
static int read_link_map(struct inject *in, struct lm_entry **out, size_t *n,
			 uint64_t *state)
{
	uint64_t lm, st;
	struct lm_entry *v = NULL;
	size_t cnt = 0, cap = 0;
	int r;

	*out = NULL;
	*n = 0;
	r = mem_read_u64(in, in->r_debug + 8, &lm);
	if (r == 0)
		r = mem_read_u64(in, in->r_debug + 24, &st);
	if (r < 0)
		return r;
	*state = st & 0xffffffffu;
	while (lm && cnt < INJECT_MAX_MODULES) {
		uint64_t w[4];	/* l_addr, l_name, l_ld, l_next */
		r = mem_read(in, lm, w, sizeof(w));
		if (r < 0)
			break;
		if (cnt == cap) {
			cap = cap ? cap * 2 : 32;
			struct lm_entry *nv = realloc(v, cap * sizeof(*v));
			if (!nv) {
				free(v);
				return -ENOMEM;
			}
			v = nv;
		}
		v[cnt].l_addr = w[0];
		v[cnt].l_ld = w[2];
		if (!w[1] || mem_read_str(in, w[1], v[cnt].name,
					  sizeof(v[cnt].name)) < 0)
			v[cnt].name[0] = 0;
		cnt++;
		lm = w[3];
	}
	if (r < 0) {
		free(v);
		return r;
	}
	*out = v;
	*n = cnt;
	return 0;
}

/* Opens the file of the mapping that holds addr, the way modules.h finds a
 * module's file: through /proc/PID/root when it is still the mapped file,
 * else /proc/PID/map_files. -ENOENT when addr is not in a file mapping. */
static int open_mapped_file(pid_t pid, const struct procfs_maps *m,
			    uint64_t addr, const struct procfs_map **mapp)
{
	const struct procfs_map *x = procfs_maps_find(m, addr);
	char *opened = NULL;
	int fd;

	*mapp = x;
	if (!x || !x->path[0] || x->path[0] != '/' || x->inode == 0)
		return -ENOENT;
	fd = procfs_open_root_file(pid, x->path, &opened);
	free(opened);
	if (fd >= 0 && !procfs_map_same_file(fd, x->dev_major, x->dev_minor,
					     x->inode)) {
		close(fd);
		fd = -ESTALE;
	}
	if (fd < 0) {
		fd = procfs_open_map_file(pid, x->start, x->end, &opened);
		free(opened);
	}
	return fd;
}

/* ---- ELF: definitions and GOT entries of the hooked names ------------------ */

struct elf_rel {
	uint64_t off;		/* r_offset */
	int func;
};

struct elf_scan {
	bool def[HEAPABI_NFUNCS];
	uint64_t def_value[HEAPABI_NFUNCS], def_size[HEAPABI_NFUNCS];
	bool defines_malloc_static;	/* in .symtab, not exported */
	struct elf_rel *rel;
	size_t nrel, caprel;
};

static int func_of(const char *name)
{
	if (!name)
		return -1;
	for (int f = 0; f < HEAPABI_NFUNCS; f++)
		if (strcmp(name, heapring_func_name(f)) == 0)
			return f;
	return -1;
}

static int scan_add_rel(struct elf_scan *es, uint64_t off, int f)
{
	for (size_t i = 0; i < es->nrel; i++)
		if (es->rel[i].off == off)
			return 0;
	if (es->nrel == es->caprel) {
		size_t cap = es->caprel ? es->caprel * 2 : 16;
		struct elf_rel *nr = realloc(es->rel, cap * sizeof(*nr));
		if (!nr)
			return -ENOMEM;
		es->rel = nr;
		es->caprel = cap;
	}
	es->rel[es->nrel].off = off;
	es->rel[es->nrel].func = f;
	es->nrel++;
	return 0;
}

static int elf_scan_fd(int fd, struct elf_scan *es)
{
	Elf *e;
	Elf_Scn *scn = NULL;
	int r = 0;

	memset(es, 0, sizeof(*es));
	elf_version(EV_CURRENT);
	e = elf_begin(fd, ELF_C_READ, NULL);
	if (!e)
		return -EINVAL;
	if (elf_kind(e) != ELF_K_ELF) {
		elf_end(e);
		return -EINVAL;
	}
	while (r == 0 && (scn = elf_nextscn(e, scn))) {
		GElf_Shdr sh;
		if (!gelf_getshdr(scn, &sh))
			continue;
		if (sh.sh_type == SHT_DYNSYM || sh.sh_type == SHT_SYMTAB) {
			Elf_Data *d = elf_getdata(scn, NULL);
			size_t n = sh.sh_entsize ? sh.sh_size / sh.sh_entsize : 0;
			for (size_t i = 0; d && i < n; i++) {
				GElf_Sym s;
				if (!gelf_getsym(d, (int)i, &s) ||
				    s.st_shndx == SHN_UNDEF)
					continue;
				if (GELF_ST_TYPE(s.st_info) != STT_FUNC ||
				    GELF_ST_BIND(s.st_info) == STB_LOCAL)
					continue;
				int f = func_of(elf_strptr(e, sh.sh_link, s.st_name));
				if (f < 0)
					continue;
				if (sh.sh_type == SHT_SYMTAB) {
					if (f == HEAPABI_MALLOC)
						es->defines_malloc_static = true;
					continue;
				}
				if (!es->def[f]) {
					es->def[f] = true;
					es->def_value[f] = s.st_value;
					es->def_size[f] = s.st_size;
				}
			}
		} else if (sh.sh_type == SHT_RELA) {
			Elf_Scn *symscn = elf_getscn(e, sh.sh_link);
			GElf_Shdr ssh;
			if (!symscn || !gelf_getshdr(symscn, &ssh) ||
			    ssh.sh_type != SHT_DYNSYM)
				continue;
			Elf_Data *d = elf_getdata(scn, NULL);
			Elf_Data *sd = elf_getdata(symscn, NULL);
			size_t n = sh.sh_entsize ? sh.sh_size / sh.sh_entsize : 0;
			for (size_t i = 0; d && sd && i < n && r == 0; i++) {
				GElf_Rela ra;
				GElf_Sym s;
				if (!gelf_getrela(d, (int)i, &ra))
					continue;
				unsigned t = GELF_R_TYPE(ra.r_info);
				if (t != R_X86_64_JUMP_SLOT && t != R_X86_64_GLOB_DAT)
					continue;
				if (!gelf_getsym(sd, (int)GELF_R_SYM(ra.r_info), &s))
					continue;
				int f = func_of(elf_strptr(e, ssh.sh_link, s.st_name));
				if (f >= 0)
					r = scan_add_rel(es, ra.r_offset, f);
			}
		}
	}
	elf_end(e);
	return r;
}

/* ---- inject_check ----------------------------------------------------------- */

static int read_seccomp(pid_t pid, long *mode)
{
	char path[64], *text;
	size_t len;
	int r;

	*mode = 0;
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	r = procfs_read_file(path, &text, &len);
	if (r < 0)
		return r;
	const char *p = strstr(text, "\nSeccomp:");
	if (p)
		*mode = strtol(p + 9, NULL, 10);
	free(text);
	return 0;
}

static int open_mem(pid_t pid, int flags, char *err, size_t errlen)
{
	char path[64];
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/mem", (int)pid);
	fd = open(path, flags | O_CLOEXEC);
	if (fd < 0) {
		int r = -errno;
		if (r == -ENOENT || r == -ESRCH)
			errmsg_set(err, errlen, "no process %d", (int)pid);
		else
			errmsg_set(err, errlen, "not permitted to ptrace pid %d "
				   "(opening %s: %s)", (int)pid, path, strerror(-r));
		return r == -EACCES ? -EPERM : r;
	}
	return fd;
}

/* The checks of inject_check on an opened process. */
static int check_target(struct inject *in, char *err, size_t errlen)
{
	pid_t tracer = 0;
	long seccomp = 0;
	char path[64];
	int r;

	r = read_seccomp(in->pid, &seccomp);
	if (r < 0) {
		errmsg_set(err, errlen, "no process %d", (int)in->pid);
		return r == -ENOENT ? -ESRCH : r;
	}
	if (seccomp != 0) {
		errmsg_set(err, errlen, "pid %d runs under a seccomp %s (Seccomp: %ld "
			   "in /proc/%d/status), which may refuse the system calls "
			   "injection makes; use --method uprobe",
			   (int)in->pid, seccomp == 1 ? "strict mode" : "filter",
			   seccomp, (int)in->pid);
		return -EPERM;
	}
	if (procfs_tracer_pid(in->pid, &tracer) == 0 && tracer > 0) {
		errmsg_set(err, errlen, "pid %d is already traced by pid %d",
			   (int)in->pid, (int)tracer);
		return -EBUSY;
	}
	r = find_r_debug(in, err, errlen);
	if (r < 0)
		return r;

	struct elf_scan es;
	snprintf(path, sizeof(path), "/proc/%d/exe", (int)in->pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		errmsg_set(err, errlen, "cannot open %s: %s", path, strerror(-r));
		return r;
	}
	r = elf_scan_fd(fd, &es);
	close(fd);
	if (r < 0) {
		errmsg_set(err, errlen, "cannot read the ELF file of pid %d", (int)in->pid);
		return r;
	}
	bool own = es.def[HEAPABI_MALLOC] || es.defines_malloc_static;
	free(es.rel);
	if (own) {
		errmsg_set(err, errlen, "pid %d's program defines malloc itself (an "
			   "allocator linked in): its calls do not go through the "
			   "GOT; use --method uprobe", (int)in->pid);
		return -ENOTSUP;
	}
	return 0;
}

int inject_check(pid_t pid, char *err, size_t errlen)
{
	struct inject in = { .pid = pid };
	int r;

	if (pid <= 0) {
		errmsg_set(err, errlen, "invalid pid %d", (int)pid);
		return -EINVAL;
	}
	r = in.mem = open_mem(pid, O_RDONLY, err, errlen);
	if (r < 0)
		return r;
	r = check_target(&in, err, errlen);
	close(in.mem);
	return r;
}

/* ---- stop sessions ----------------------------------------------------------- */

struct session;
typedef int (*session_fn)(struct session *s);

struct session {
	struct inject *in;
	struct tracer tr;
	session_fn fn;
	void *arg;
	int r;
	char *err;
	size_t errlen;
	struct user_regs_struct *regs;	/* per tracer index, of stopped ones */
	bool *have_regs;
	/* remote system calls */
	long worker;			/* tracer index, -1 before the first */
	struct user_regs_struct wregs;	/* the state it resumes with: as
					 * stopped, an interrupted system
					 * call's restart done, orig_rax -1 */
	uint64_t stub, save;
	uint8_t stub_orig[sizeof(inject_stub)];
	bool stub_written, sysgood;
	uint64_t stopped_ns;
	/* signals intercepted beyond the one the tracer keeps per thread */
	pid_t xsig_tid[16];
	int xsig[16];
	unsigned nxsig;
};

static int session_list(struct session *s)
{
	for (int scan = 0; scan < 8; scan++) {
		pid_t *tids = NULL;
		size_t n = 0, added = 0;
		int r = procfs_list_tasks(s->in->pid, &tids, &n);
		if (r < 0) {
			errmsg_set(s->err, s->errlen, "no process %d", (int)s->in->pid);
			return r == -ENOENT ? -ESRCH : r;
		}
		for (size_t i = 0; i < n; i++) {
			size_t idx;
			if (tracer_find(&s->tr, tids[i]) >= 0)
				continue;
			r = tracer_seize(&s->tr, tids[i], &idx, s->err, s->errlen);
			if (r == -ESRCH)
				continue;
			if (r < 0) {
				free(tids);
				return r;
			}
			added++;
		}
		free(tids);
		tracer_wait_stopped(&s->tr, INJECT_STOP_TIMEOUT_NS,
				    INJECT_UNINT_WAIT_NS);
		if (scan > 0 && !added)
			break;
	}
	return 0;
}

/* Registers of every stopped thread; threads given up in uninterruptible
 * sleep get their PC and SP from /proc/PID/task/TID/syscall. */
static int session_regs(struct session *s)
{
	free(s->regs);
	free(s->have_regs);
	s->regs = calloc(s->tr.n ? s->tr.n : 1, sizeof(*s->regs));
	s->have_regs = calloc(s->tr.n ? s->tr.n : 1, sizeof(*s->have_regs));
	if (!s->regs || !s->have_regs)
		return -ENOMEM;
	for (size_t i = 0; i < s->tr.n; i++) {
		struct tracer_thread *t = &s->tr.t[i];
		if (t->state == TRACER_STOPPED) {
			if (ptrace(PTRACE_GETREGS, t->tid, 0L, &s->regs[i]) == 0)
				s->have_regs[i] = true;
		} else if (t->state == TRACER_UNSTOPPED) {
			struct procfs_syscall sc;
			if (procfs_read_syscall(s->in->pid, t->tid, &sc) == 0 &&
			    sc.nr >= 0) {
				s->regs[i].rip = sc.pc;
				s->regs[i].rsp = sc.sp;
				s->have_regs[i] = true;
			}
		}
	}
	return 0;
}

/* Whether any thread whose state we know may be executing in
 * [lo, hi) or return into it: its PC, and with stack, the words above its
 * SP. A thread whose registers are unknown counts as inside. */
static bool threads_inside(struct session *s, uint64_t lo, uint64_t hi,
			   bool stack)
{
	uint64_t *buf = stack ? malloc(INJECT_STACK_SCAN) : NULL;
	bool inside = false;

	if (stack && !buf)
		return true;
	for (size_t i = 0; i < s->tr.n && !inside; i++) {
		enum tracer_state st = s->tr.t[i].state;
		if (st == TRACER_GONE || st == TRACER_DETACHED)
			continue;
		if (!s->have_regs[i]) {
			inside = true;
			break;
		}
		const struct user_regs_struct *g = &s->regs[i];
		if (g->rip >= lo && g->rip < hi) {
			inside = true;
			break;
		}
		if (!stack)
			continue;
		/* Up to the first unreadable page. */
		uint64_t sp = g->rsp & ~7ull;
		size_t got = 0;
		while (got < INJECT_STACK_SCAN) {
			size_t chunk = HEAPABI_PAGE - ((sp + got) & (HEAPABI_PAGE - 1));
			if (chunk > INJECT_STACK_SCAN - got)
				chunk = INJECT_STACK_SCAN - got;
			ssize_t n = pread(s->in->mem, (char *)buf + got, chunk,
					  (off_t)(sp + got));
			if (n <= 0)
				break;
			got += (size_t)n;
		}
		for (size_t k = 0; k < got / 8 && !inside; k++)
			if (buf[k] >= lo && buf[k] < hi)
				inside = true;
	}
	free(buf);
	return inside;
}

/* A thread stopped in the loader (lazy binding, dlopen) or inside one of
 * the real allocation functions: the GOT is not touched then. */
static bool threads_in_loader_or_alloc(struct session *s)
{
	struct inject *in = s->in;

	for (unsigned k = 0; k < in->nldso_text; k++)
		if (threads_inside(s, in->ldso_text[k][0], in->ldso_text[k][1],
				   false))
			return true;
	for (int f = 0; f < HEAPABI_NFUNCS; f++)
		if (in->real[f] && in->real_size[f] &&
		    threads_inside(s, in->real[f], in->real[f] + in->real_size[f],
				   false))
			return true;
	return false;
}

/* The executable slack for the stub: the bytes between the end of a
 * PF_X PT_LOAD's memsz and its page end, in a module's mapping. */
static int find_stub_site(struct session *s, uint64_t *site)
{
	struct inject *in = s->in;
	struct procfs_maps m = { 0 };
	int r = procfs_read_maps(in->pid, &m);

	if (r < 0)
		return r;
	r = -ENOSPC;
	for (size_t i = 0; i < m.n && r < 0; i++) {
		const struct procfs_map *x = &m.maps[i];
		Elf64_Ehdr eh;
		Elf64_Phdr ph[32];
		if (x->offset != 0 || x->path[0] != '/' || x->inode == 0 ||
		    strcmp(x->path, INJECT_MEMFD_PATH) == 0)
			continue;
		if (mem_read(in, x->start, &eh, sizeof(eh)) < 0 ||
		    memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 ||
		    eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_phnum == 0 ||
		    eh.e_phnum > 32 || eh.e_phentsize != sizeof(Elf64_Phdr))
			continue;
		if (mem_read(in, x->start + eh.e_phoff, ph,
			     eh.e_phnum * sizeof(ph[0])) < 0)
			continue;
		uint64_t first = UINT64_MAX;
		for (unsigned k = 0; k < eh.e_phnum; k++)
			if (ph[k].p_type == PT_LOAD && ph[k].p_vaddr < first)
				first = ph[k].p_vaddr;
		if (first == UINT64_MAX)
			continue;
		uint64_t bias = x->start - (first & ~(uint64_t)(HEAPABI_PAGE - 1));
		for (unsigned k = 0; k < eh.e_phnum; k++) {
			if (ph[k].p_type != PT_LOAD || !(ph[k].p_flags & PF_X))
				continue;
			uint64_t end = bias + ph[k].p_vaddr + ph[k].p_memsz;
			uint64_t at = (end + 15) & ~15ull;
			uint64_t pend = HEAPABI_ROUND_PAGE(end);
			const struct procfs_map *y = procfs_maps_find(&m, end - 1);
			if (at + sizeof(inject_stub) > pend || !y ||
			    y->perms[2] != 'x' || y->end < pend ||
			    y->inode != x->inode || y->dev_major != x->dev_major ||
			    y->dev_minor != x->dev_minor)
				continue;
			*site = at;
			r = 0;
			break;
		}
	}
	procfs_maps_release(&m);
	return r;
}

/* ---- remote system calls ----------------------------------------------------- */

/* Picks the thread that makes the system calls, writes the save area below
 * its red zone and the stub into the slack (docs/design.md §12.2). */
static int session_prepare_worker(struct session *s)
{
	struct inject *in = s->in;
	long w = -1;

	for (int pass = 0; pass < 2 && w < 0; pass++)
		for (size_t i = 0; i < s->tr.n; i++) {
			const struct tracer_thread *t = &s->tr.t[i];
			if (t->state != TRACER_STOPPED || t->exiting ||
			    t->group_stop || !s->have_regs[i])
				continue;
			if (pass == 0 && (t->pending_sig || t->cloned))
				continue;
			w = (long)i;
			break;
		}
	if (w < 0) {
		errmsg_set(s->err, s->errlen, "no thread of pid %d is stopped where it "
			   "can make a system call (is the process stopped?)",
			   (int)in->pid);
		return -EAGAIN;
	}
	int r = find_stub_site(s, &s->stub);
	if (r < 0) {
		errmsg_set(s->err, s->errlen, "no executable page of pid %d has %zu "
			   "unused bytes for the system call stub", (int)in->pid,
			   sizeof(inject_stub));
		return r;
	}
	const struct user_regs_struct *g = &s->regs[w];
	uint64_t sv[SV_NWORDS], rax = g->rax, rip = g->rip;
	/* What the kernel would resume with: a system call interrupted by our
	 * stop restarts (arch_do_signal_or_restart with no handler). */
	if ((int64_t)g->orig_rax >= 0) {
		switch ((int64_t)g->rax) {
		case -K_ERESTARTSYS:
		case -K_ERESTARTNOINTR:
		case -K_ERESTARTNOHAND:
			rax = g->orig_rax;
			rip -= 2;
			break;
		case -K_ERESTART_RESTARTBLOCK:
			rax = SYS_restart_syscall;
			rip -= 2;
			break;
		}
	}
	s->wregs = *g;
	s->wregs.rax = rax;
	s->wregs.rip = rip;
	s->wregs.orig_rax = (uint64_t)-1;
	sv[SV_R15] = g->r15; sv[SV_R14] = g->r14; sv[SV_R13] = g->r13;
	sv[SV_R12] = g->r12; sv[SV_R11] = g->r11; sv[SV_R10] = g->r10;
	sv[SV_R9] = g->r9; sv[SV_R8] = g->r8; sv[SV_RDI] = g->rdi;
	sv[SV_RSI] = g->rsi; sv[SV_RBP] = g->rbp; sv[SV_RBX] = g->rbx;
	sv[SV_RDX] = g->rdx; sv[SV_RCX] = g->rcx; sv[SV_RAX] = rax;
	sv[SV_RIP] = rip; sv[SV_CS] = g->cs; sv[SV_RFLAGS] = g->eflags;
	sv[SV_RSP] = g->rsp; sv[SV_SS] = g->ss;
	s->save = (g->rsp - 128 - sizeof(sv)) & ~15ull;
	r = mem_write(in, s->save, sv, sizeof(sv));
	if (r == 0)
		r = mem_read(in, s->stub, s->stub_orig, sizeof(s->stub_orig));
	if (r == 0) {
		r = mem_write(in, s->stub, inject_stub, sizeof(inject_stub));
		s->stub_written = r == 0;
	}
	if (r < 0) {
		errmsg_set(s->err, s->errlen, "cannot write the system call stub into "
			   "pid %d: %s", (int)in->pid, strerror(-r));
		return r;
	}
	s->worker = w;
	return 0;
}

static void session_keep_signal(struct session *s, struct tracer_thread *t,
				int sig)
{
	if (!t->pending_sig)
		t->pending_sig = sig;
	else if (t->pending_sig != sig && s->nxsig < 16) {
		s->xsig_tid[s->nxsig] = t->tid;
		s->xsig[s->nxsig++] = sig;
	}
}

/* One system call made by the worker thread; *ret is its result (-errno
 * on failure). Returns 0, or -errno when it could not be made (-ESRCH: the
 * thread is gone). */
static int rsys(struct session *s, long nr, uint64_t a0, uint64_t a1,
		uint64_t a2, uint64_t a3, uint64_t a4, uint64_t a5, int64_t *ret)
{
	struct user_regs_struct g;
	int r = 0;

	if (s->worker < 0 && (r = session_prepare_worker(s)) < 0)
		return r;
	struct tracer_thread *t = &s->tr.t[s->worker];
	pid_t tid = t->tid;
	g = s->wregs;
	g.orig_rax = (uint64_t)-1;	/* no restart of the stopped call */
	g.rax = (uint64_t)nr;
	g.rdi = a0; g.rsi = a1; g.rdx = a2; g.r10 = a3; g.r8 = a4; g.r9 = a5;
	g.rip = s->stub;
	g.rsp = s->save;
	/* Syscall stops tell themselves apart from a SIGTRAP (and are what
	 * PTRACE_GET_SYSCALL_INFO describes) only with TRACESYSGOOD. */
	if (!s->sysgood) {
		long opts = PTRACE_O_TRACEEXIT | PTRACE_O_TRACECLONE |
			    PTRACE_O_TRACESYSGOOD;
		if (ptrace(PTRACE_SETOPTIONS, tid, 0L, opts) < 0)
			return -errno;
		s->sysgood = true;
	}
	if (ptrace(PTRACE_SETREGS, tid, 0L, &g) < 0)
		return -errno;
	if (++s->in->nsyscalls == s->in->kill_at)
		raise(SIGKILL);
	/* PTRACE_SYSCALL, not PTRACE_SINGLESTEP: the kernel drops syscall
	 * tracing when the tracer dies (__ptrace_unlink), but a trap flag
	 * it forced stays set, and the thread would die of SIGTRAP at its
	 * next instruction (docs/design.md §12.2). */
	r = -ETIME;
	for (int k = 0; k < 64; k++) {
		struct __ptrace_syscall_info si;
		int st;
		pid_t wp;
		if (ptrace(PTRACE_SYSCALL, tid, 0L, 0L) < 0) {
			r = -errno;
			break;
		}
		do
			wp = tracer_waitpid(&s->tr, tid, &st, 0);
		while (wp < 0 && errno == EINTR);
		if (wp < 0 || WIFEXITED(st) || WIFSIGNALED(st)) {
			t->state = TRACER_GONE;
			return -ESRCH;
		}
		int sig = WSTOPSIG(st), ev = st >> 16;
		if (ev == PTRACE_EVENT_EXIT) {
			t->exiting = true;
			return -ESRCH;
		}
		if (ev != 0)
			continue;
		if (sig == (SIGTRAP | 0x80)) {
			memset(&si, 0, sizeof(si));
			if (ptrace(PTRACE_GET_SYSCALL_INFO, tid, (void *)sizeof(si),
				   &si) < 0) {
				r = -errno;
				break;
			}
			if (si.op == PTRACE_SYSCALL_INFO_ENTRY)
				continue;
			if (si.op == PTRACE_SYSCALL_INFO_EXIT) {
				*ret = si.exit.rval;
				r = 0;
				break;
			}
		}
		/* A signal that came first: given back at detach. */
		session_keep_signal(s, t, sig & 0x7f);
	}
	/* The thread resumes with the kernel's restart already applied (from
	 * a syscall-exit stop the kernel does not apply it again). */
	if (ptrace(PTRACE_SETREGS, tid, 0L, &s->wregs) < 0 && r == 0)
		r = -errno;
	return r;
}

/* rsys with the result checked: < 0 is an error named after what. */
static int rsys_ok(struct session *s, const char *what, long nr, uint64_t a0,
		   uint64_t a1, uint64_t a2, uint64_t a3, uint64_t a4,
		   uint64_t a5, int64_t *ret)
{
	int64_t v = 0;
	int r = rsys(s, nr, a0, a1, a2, a3, a4, a5, &v);

	if (r == 0 && v < 0 && v > -4096)
		r = (int)v;
	if (r < 0 && s->err && !s->err[0])
		errmsg_set(s->err, s->errlen, "remote %s in pid %d: %s", what,
			   (int)s->in->pid, strerror(-r));
	if (ret)
		*ret = v;
	return r;
}

/* ---- the session thread --------------------------------------------------------- */

static void *session_main(void *arg)
{
	struct session *s = arg;
	int r;

	tracer_init(&s->tr, s->in->pid, true);
	s->worker = -1;
	r = session_list(s);
	if (r == 0)
		r = session_regs(s);
	if (r == 0) {
		bool any = false;
		for (size_t i = 0; i < s->tr.n; i++)
			if (s->tr.t[i].state == TRACER_STOPPED && !s->tr.t[i].exiting)
				any = true;
		if (!any) {
			errmsg_set(s->err, s->errlen, "no thread of pid %d could be stopped",
				   (int)s->in->pid);
			r = -ESRCH;
		}
	}
	if (r == 0)
		r = s->fn(s);
	if (s->stub_written)
		mem_write(s->in, s->stub, s->stub_orig, sizeof(s->stub_orig));
	tracer_detach_all(&s->tr, INJECT_UNINT_WAIT_NS);
	s->stopped_ns = s->tr.longest_stop_ns;
	for (unsigned i = 0; i < s->nxsig; i++)
		syscall(SYS_tgkill, s->in->pid, s->xsig_tid[i], s->xsig[i]);
	tracer_release(&s->tr);
	free(s->regs);
	free(s->have_regs);
	s->r = r;
	return NULL;
}

/* Runs fn with every thread stopped, from a tracing thread of its own.
 * fn returns 1 when a thread is where it must not be stopped (the loader,
 * the allocator, the blob): the session is then retried after 10 ms, up
 * to tries times; *busy tells whether the last one was still busy. */
static int run_session(struct inject *in, session_fn fn, void *arg, int tries,
		       bool *busy, char *err, size_t errlen)
{
	sigset_t block, old;
	int r = 0;

	if (busy)
		*busy = false;
	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGHUP);
	sigaddset(&block, SIGPIPE);
	for (int k = 0; k < tries; k++) {
		struct session s = {
			.in = in, .fn = fn, .arg = arg, .err = err, .errlen = errlen,
		};
		pthread_t th;
		if (err && errlen)
			err[0] = 0;
		pthread_sigmask(SIG_BLOCK, &block, &old);
		r = pthread_create(&th, NULL, session_main, &s);
		pthread_sigmask(SIG_SETMASK, &old, NULL);
		if (r != 0) {
			errmsg_set(err, errlen, "cannot start a tracing thread: %s",
				   strerror(r));
			return -r;
		}
		pthread_join(th, NULL);
		if (s.stopped_ns > in->st.stopped_ns_max)
			in->st.stopped_ns_max = s.stopped_ns;
		in->last_stopped_ns = s.stopped_ns;
		r = s.r;
		if (r != 1)
			return r;
		if (k + 1 < tries) {
			in->st.retries++;
			struct timespec ts = { 0, INJECT_RETRY_NS };
			nanosleep(&ts, NULL);
		}
	}
	if (busy)
		*busy = true;
	return 1;
}

/* ---- the plan: modules and their GOT entries ------------------------------------ */

struct plan_mod {
	uint64_t l_addr, l_ld;
	bool ldso, scanned;
	struct elf_scan es;
};

struct plan {
	struct plan_mod *m;	/* the whole link map, in order */
	size_t n;
	bool *fresh;		/* not hooked before: to patch */
};

static void plan_free(struct plan *p)
{
	for (size_t i = 0; i < p->n; i++)
		free(p->m[i].es.rel);
	free(p->m);
	free(p->fresh);
	memset(p, 0, sizeof(*p));
}

static bool inject_known(const struct inject *in, uint64_t l_addr,
			 uint64_t l_ld)
{
	for (size_t i = 0; i < in->nmods; i++)
		if (in->mods[i].l_addr == l_addr && in->mods[i].l_ld == l_ld)
			return true;
	return false;
}

static int inject_remember(struct inject *in, uint64_t l_addr, uint64_t l_ld)
{
	if (inject_known(in, l_addr, l_ld))
		return 0;
	if (in->nmods == in->capmods) {
		size_t cap = in->capmods ? in->capmods * 2 : 32;
		struct inject_module *nm = realloc(in->mods, cap * sizeof(*nm));
		if (!nm)
			return -ENOMEM;
		in->mods = nm;
		in->capmods = cap;
	}
	in->mods[in->nmods].l_addr = l_addr;
	in->mods[in->nmods].l_ld = l_ld;
	in->nmods++;
	return 0;
}

/* Reads the link map and the ELF files of the modules not hooked yet (all
 * of them at attach), outside any stop. Also notes ld.so's text. */
static int plan_make(struct inject *in, struct plan *p, uint64_t *state,
		     char *err, size_t errlen)
{
	struct lm_entry *lm = NULL;
	struct procfs_maps m = { 0 };
	size_t n = 0;
	int r;

	memset(p, 0, sizeof(*p));
	r = read_link_map(in, &lm, &n, state);
	if (r < 0) {
		errmsg_set(err, errlen, "cannot read the link map of pid %d: %s",
			   (int)in->pid, strerror(-r));
		/* Read while the process runs: the loader may be building or
		 * changing it (seen a few times in 50 attaches, as EIO, and
		 * at a command's start). Tried again unless it is gone. */
		if (r == -EIO || r == -ENOENT)
			return kill(in->pid, 0) == 0 ? -EAGAIN : -ESRCH;
		return r;
	}
	r = procfs_read_maps(in->pid, &m);
	if (r < 0) {
		free(lm);
		errmsg_set(err, errlen, "cannot read /proc/%d/maps: %s", (int)in->pid,
			   strerror(-r));
		return r;
	}
	p->m = calloc(n ? n : 1, sizeof(*p->m));
	p->fresh = calloc(n ? n : 1, sizeof(*p->fresh));
	if (!p->m || !p->fresh) {
		r = -ENOMEM;
		goto out;
	}
	p->n = n;
	const struct procfs_map *ld = procfs_maps_find(&m, in->ldso_base);
	if (ld && in->nldso_text == 0)
		for (size_t i = 0; i < m.n && in->nldso_text < 8; i++) {
			const struct procfs_map *x = &m.maps[i];
			if (x->inode == ld->inode && x->dev_major == ld->dev_major &&
			    x->dev_minor == ld->dev_minor && x->perms[2] == 'x') {
				in->ldso_text[in->nldso_text][0] = x->start;
				in->ldso_text[in->nldso_text][1] = x->end;
				in->nldso_text++;
			}
		}
	for (size_t i = 0; i < n; i++) {
		struct plan_mod *pm = &p->m[i];
		const struct procfs_map *x;
		pm->l_addr = lm[i].l_addr;
		pm->l_ld = lm[i].l_ld;
		pm->ldso = in->ldso_base && lm[i].l_addr == in->ldso_base;
		p->fresh[i] = !inject_known(in, pm->l_addr, pm->l_ld);
		if (!p->fresh[i] || pm->ldso || !pm->l_ld)
			continue;
		int fd = open_mapped_file(in->pid, &m, pm->l_ld, &x);
		if (fd < 0)
			continue;	/* the vDSO; a module without a file */
		if (elf_scan_fd(fd, &pm->es) == 0)
			pm->scanned = true;
		close(fd);
	}
	r = 0;
out:
	free(lm);
	procfs_maps_release(&m);
	if (r < 0)
		plan_free(p);
	return r;
}

/* Whether the link map is still the plan's (read with the threads
 * stopped) and consistent: else the session is retried. */
static int plan_still(struct inject *in, const struct plan *p)
{
	struct lm_entry *lm = NULL;
	size_t n = 0;
	uint64_t state;
	int r = read_link_map(in, &lm, &n, &state);

	if (r < 0)
		return r;
	bool same = n == p->n && state == 0;
	for (size_t i = 0; same && i < n; i++)
		same = lm[i].l_addr == p->m[i].l_addr && lm[i].l_ld == p->m[i].l_ld;
	free(lm);
	return same ? 0 : 1;
}

/* real[f]: the definition found first in link-map order, as the loader
 * binds it; ld.so's own skipped. */
static void plan_reals(struct inject *in, const struct plan *p)
{
	for (int f = 0; f < HEAPABI_NFUNCS; f++) {
		in->real[f] = in->real_size[f] = 0;
		for (size_t i = 0; i < p->n; i++) {
			const struct plan_mod *pm = &p->m[i];
			if (pm->ldso || !pm->scanned || !pm->es.def[f])
				continue;
			in->real[f] = pm->l_addr + pm->es.def_value[f];
			in->real_size[f] = pm->es.def_size[f];
			break;
		}
	}
}

static void undo_patches(struct inject *in, uint32_t from);

/* Patches the GOT entries of the plan's fresh modules, each recorded in
 * shared.patched before it is written. */
static int plan_patch(struct session *s, const struct plan *p)
{
	struct inject *in = s->in;
	struct heapabi_shared *sh = in->sh;
	uint32_t first = sh->npatched;

	for (size_t i = 0; i < p->n; i++) {
		const struct plan_mod *pm = &p->m[i];
		if (!p->fresh[i])
			continue;
		if (pm->scanned)
			in->st.modules++;
		for (size_t k = 0; pm->scanned && k < pm->es.nrel; k++) {
			int f = pm->es.rel[k].func;
			uint64_t addr = pm->l_addr + pm->es.rel[k].off, cur;
			uint64_t hook = in->base + in->hdr.hook_off[f];
			if (!in->real[f] || !in->hdr.hook_off[f])
				continue;
			int r = mem_read_u64(in, addr, &cur);
			if (r == 0 && cur == hook)
				continue;
			if (r == 0 && sh->npatched >= HEAPABI_MAX_PATCHED)
				r = -ENOSPC;
			if (r == 0) {
				struct heapabi_patch *pt = &sh->patched[sh->npatched];
				pt->addr = addr;
				pt->orig = cur;
				pt->hook = hook;
				__atomic_store_n(&sh->npatched, sh->npatched + 1,
						 __ATOMIC_RELEASE);
				r = mem_write(in, addr, &hook, sizeof(hook));
			}
			if (r < 0) {
				errmsg_set(s->err, s->errlen, "cannot patch the GOT entry "
					   "of %s at 0x%" PRIx64 " in pid %d: %s",
					   heapring_func_name(f), addr, (int)in->pid,
					   strerror(-r));
				undo_patches(in, first);
				return r;
			}
			in->st.entries++;
		}
	}
	return 0;
}

/* Puts back the entries patched[from..] that still hold their hook. */
static void undo_patches(struct inject *in, uint32_t from)
{
	struct heapabi_shared *sh = in->sh;

	for (uint32_t i = sh->npatched; i-- > from;) {
		uint64_t cur;
		const struct heapabi_patch *pt = &sh->patched[i];
		if (mem_read_u64(in, pt->addr, &cur) == 0 && cur == pt->hook)
			mem_write(in, pt->addr, &pt->orig, sizeof(pt->orig));
	}
	sh->npatched = from;
}

/* ---- a sampler left by a killed cprof ---------------------------------------------- */

/* Restores the GOT entries of the sampler at base (those still holding its
 * hooks), turns it off, and unmaps it when no thread is inside. 1: busy. */
static int remove_stale_one(struct session *s, uint64_t base)
{
	struct inject *in = s->in;
	uint64_t shb = base + HEAPABI_CODE_SIZE, magic = 0, deadline = 0, who = 0;
	uint32_t np = 0, off;
	uint32_t zero = 0;
	int r;

	if (mem_read_u64(in, shb + offsetof(struct heapabi_shared, magic),
			 &magic) == 0 && magic == HEAPABI_MAGIC) {
		mem_read_u64(in, shb + offsetof(struct heapabi_shared, deadline_ns),
			     &deadline);
		mem_read_u64(in, shb + offsetof(struct heapabi_shared, cprof_pid),
			     &who);
		/* A sampler whose cprof lives and beats is not stale. */
		if (who && deadline > tracer_now_ns() &&
		    (pid_t)who != getpid() && kill((pid_t)who, 0) == 0) {
			errmsg_set(s->err, s->errlen, "pid %d already has a heap sampler, "
				   "injected by cprof pid %d", (int)in->pid, (int)who);
			return -EBUSY;
		}
		off = offsetof(struct heapabi_shared, npatched);
		mem_read(in, shb + off, &np, sizeof(np));
		if (np > HEAPABI_MAX_PATCHED)
			np = HEAPABI_MAX_PATCHED;
		for (uint32_t i = 0; i < np; i++) {
			struct heapabi_patch pt;
			uint64_t cur;
			if (mem_read(in, shb + offsetof(struct heapabi_shared, patched) +
				     i * sizeof(pt), &pt, sizeof(pt)) < 0)
				break;
			if (mem_read_u64(in, pt.addr, &cur) == 0 && cur == pt.hook)
				mem_write(in, pt.addr, &pt.orig, sizeof(pt.orig));
		}
		mem_write(in, shb + offsetof(struct heapabi_shared, enabled), &zero,
			  sizeof(zero));
	}
	mem_write(in, shb + HEAPABI_SHARED_SIZE, &zero, sizeof(zero));
	if (threads_inside(s, base, base + HEAPABI_CODE_SIZE, true))
		return 1;
	r = rsys_ok(s, "munmap of a stale sampler", SYS_munmap, base,
		    HEAPABI_TOTAL_SIZE, 0, 0, 0, 0, NULL);
	if (r < 0)
		return r;
	in->st.removed_stale++;
	return 0;
}

/* Every sampler a killed cprof left ("/memfd:cprof-heap" mapped at offset
 * 0), and memfds it left open (killed between memfd_create and close). */
static int remove_stale(struct session *s)
{
	struct inject *in = s->in;
	struct procfs_maps m = { 0 };
	char path[64];
	int r = procfs_read_maps(in->pid, &m);

	if (r < 0)
		return r;
	for (size_t i = 0; i < m.n && r == 0; i++) {
		const struct procfs_map *x = &m.maps[i];
		if (strcmp(x->path, INJECT_MEMFD_PATH) == 0 && x->offset == 0 &&
		    x->perms[2] == 'x')
			r = remove_stale_one(s, x->start);
	}
	procfs_maps_release(&m);
	if (r != 0)
		return r;
	snprintf(path, sizeof(path), "/proc/%d/fd", (int)in->pid);
	DIR *d = opendir(path);
	struct dirent *de;
	while (d && (de = readdir(d))) {
		char link[PATH_MAX], target[128];
		if (de->d_name[0] == '.')
			continue;
		snprintf(link, sizeof(link), "%s/%s", path, de->d_name);
		ssize_t n = readlink(link, target, sizeof(target) - 1);
		if (n <= 0)
			continue;
		target[n] = 0;
		if (strcmp(target, INJECT_MEMFD_PATH " (deleted)") == 0)
			rsys_ok(s, "close of a stale memfd", SYS_close,
				strtoull(de->d_name, NULL, 10), 0, 0, 0, 0, 0, NULL);
	}
	if (d)
		closedir(d);
	return 0;
}

/* ---- attach ------------------------------------------------------------------------ */

static int shared_init(struct inject *in, char *err, size_t errlen)
{
	struct heapring_config cfg = {
		.tgid = in->nstgid,
		.cprof_pid = getpid(),
		.rate = in->rate,
		.stack_size = in->stack_size,
		.deadline_ns = tracer_now_ns() + HEAPABI_HEARTBEAT_NS,
	};
	int r = heapring_init(in->sh, &cfg, err, errlen);

	if (r < 0)
		return r;
	for (int f = 0; f < HEAPABI_NFUNCS; f++)
		in->sh->real[f] = in->real[f];
	return 0;
}

/* The remote memfd_create, the cprof side of the memfd, the remote
 * mappings. On failure everything done is undone. */
static int inject_blob(struct session *s)
{
	struct inject *in = s->in;
	int64_t fdn = -1, base = 0, v;
	int lfd = -1, r;
	char path[64];

	r = session_prepare_worker(s);
	if (r < 0)
		return r;
	/* The memfd's name, below the save area (read by the call only). */
	uint64_t name = s->save - 32;
	r = mem_write(in, name, HEAPABI_MEMFD_NAME, sizeof(HEAPABI_MEMFD_NAME));
	if (r < 0)
		return r;
	r = rsys(s, SYS_memfd_create, name, MFD_CLOEXEC | MFD_EXEC, 0, 0, 0, 0, &fdn);
	if (r == 0 && fdn == -EINVAL)	/* kernels before 6.3 */
		r = rsys(s, SYS_memfd_create, name, MFD_CLOEXEC, 0, 0, 0, 0, &fdn);
	if (r == 0 && fdn < 0) {
		r = (int)fdn;
		fdn = -1;
	}
	if (r < 0) {
		errmsg_set(s->err, s->errlen, "remote memfd_create in pid %d: %s",
			   (int)in->pid, strerror(-r));
		return r;
	}
	snprintf(path, sizeof(path), "/proc/%d/fd/%d", (int)in->pid, (int)fdn);
	lfd = open(path, O_RDWR | O_CLOEXEC);
	if (lfd < 0) {
		r = -errno;
		errmsg_set(s->err, s->errlen, "cannot open %s: %s", path, strerror(-r));
		goto undo;
	}
	if (ftruncate(lfd, HEAPABI_CODE_SIZE + HEAPABI_SHARED_SIZE) < 0 ||
	    pwrite(lfd, in->image, in->image_len, 0) != (ssize_t)in->image_len) {
		r = errno ? -errno : -EIO;
		errmsg_set(s->err, s->errlen, "cannot fill the memfd of pid %d: %s",
			   (int)in->pid, strerror(-r));
		goto undo;
	}
	void *shm = mmap(NULL, HEAPABI_SHARED_SIZE, PROT_READ | PROT_WRITE,
			 MAP_SHARED, lfd, HEAPABI_CODE_SIZE);
	if (shm == MAP_FAILED) {
		r = -errno;
		errmsg_set(s->err, s->errlen, "cannot map the shared area: %s",
			   strerror(-r));
		goto undo;
	}
	in->sh = shm;
	r = shared_init(in, s->err, s->errlen);
	if (r < 0)
		goto undo;
	/* The code, mapped over the whole range the sampler takes, so that
	 * the range is the memfd's from the first call on: if cprof dies
	 * before the next two calls, the next attach finds it by its name
	 * and removes it (an anonymous reservation, as this was once, could
	 * not be told from the program's own mappings). The part beyond the
	 * code is replaced at once: the shared area (the memfd again) and
	 * the private area (anonymous). Nothing touches it meanwhile: the
	 * GOT is patched later. */
	r = rsys_ok(s, "mmap (code)", SYS_mmap, 0, HEAPABI_TOTAL_SIZE,
		    PROT_READ | PROT_EXEC, MAP_SHARED, (uint64_t)fdn, 0, &base);
	if (r < 0) {
		base = 0;
		goto undo;
	}
	r = rsys_ok(s, "mmap (shared area)", SYS_mmap,
		    (uint64_t)base + HEAPABI_CODE_SIZE, HEAPABI_SHARED_SIZE,
		    PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED,
		    (uint64_t)fdn, HEAPABI_CODE_SIZE, &v);
	if (r == 0 && v != base + (int64_t)HEAPABI_CODE_SIZE)
		r = -EFAULT;
	if (r == 0)
		r = rsys_ok(s, "mmap (private area)", SYS_mmap,
			    (uint64_t)base + HEAPABI_CODE_SIZE + HEAPABI_SHARED_SIZE,
			    HEAPABI_PRIV_SIZE, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, (uint64_t)-1, 0, &v);
	if (r == 0 && v != base + (int64_t)(HEAPABI_CODE_SIZE + HEAPABI_SHARED_SIZE))
		r = -EFAULT;
	if (r < 0)
		goto undo;
	/* A fork gets the private area zeroed: live 0, its hooks off from
	 * its first instruction, so that it never frees live-set entries of
	 * its parent's blocks (docs/design.md §12.1). Before 4.14 the
	 * hooks' own getpid check turns a fork off at its first sample. */
	r = rsys(s, SYS_madvise, (uint64_t)base + HEAPABI_CODE_SIZE + HEAPABI_SHARED_SIZE,
		 HEAPABI_PRIV_SIZE, MADV_WIPEONFORK, 0, 0, 0, &v);
	if (r < 0)
		goto undo;
	r = rsys_ok(s, "close", SYS_close, (uint64_t)fdn, 0, 0, 0, 0, 0, NULL);
	fdn = -1;
	if (r < 0)
		goto undo;
	close(lfd);
	in->base = (uint64_t)base;
	return 0;

undo:
	if (base)
		rsys(s, SYS_munmap, (uint64_t)base, HEAPABI_TOTAL_SIZE, 0, 0, 0, 0, &v);
	if (fdn >= 0)
		rsys(s, SYS_close, (uint64_t)fdn, 0, 0, 0, 0, 0, &v);
	if (in->sh) {
		munmap(in->sh, HEAPABI_SHARED_SIZE);
		in->sh = NULL;
	}
	if (lfd >= 0)
		close(lfd);
	return r;
}

/* The private area as heapring sets it up, with live = 1 (real[] is in
 * place). */
static int write_private(struct inject *in)
{
	void *p = calloc(1, HEAPABI_PRIV_SIZE);

	if (!p)
		return -ENOMEM;
	heapring_init_private(p, in->real);
	((struct heapabi_private *)p)->live = 1;
	struct iovec l = { p, HEAPABI_PRIV_SIZE };
	struct iovec rm = { (void *)(uintptr_t)(in->base + HEAPABI_CODE_SIZE +
						 HEAPABI_SHARED_SIZE), HEAPABI_PRIV_SIZE };
	ssize_t n = process_vm_writev(in->pid, &l, 1, &rm, 1, 0);
	int r = n == (ssize_t)HEAPABI_PRIV_SIZE ? 0 : n < 0 ? -errno : -EIO;
	free(p);
	return r;
}

static int unmap_blob(struct session *s)
{
	int64_t v;
	int r = rsys(s, SYS_munmap, s->in->base, HEAPABI_TOTAL_SIZE, 0, 0, 0, 0, &v);
	return r < 0 ? r : v < 0 ? (int)v : 0;
}

static int attach_fn(struct session *s)
{
	struct inject *in = s->in;
	const struct plan *p = s->arg;
	int r;

	r = remove_stale(s);
	if (r != 0)
		return r;
	r = plan_still(in, p);
	if (r != 0)
		return r;
	if (threads_in_loader_or_alloc(s))
		return 1;
	r = inject_blob(s);
	if (r < 0)
		return r;
	r = write_private(in);
	if (r < 0)
		errmsg_set(s->err, s->errlen, "cannot write the private area of "
			   "pid %d: %s", (int)in->pid, strerror(-r));
	if (r == 0)
		r = plan_patch(s, p);
	/* The stop may have outlasted the deadline set with the shared area
	 * (a loaded machine): moved on just before the threads run. */
	if (r == 0)
		heapring_set_deadline(in->sh, tracer_now_ns() + HEAPABI_HEARTBEAT_NS);
	if (r < 0) {
		uint32_t zero = 0;
		mem_write(in, in->base + HEAPABI_CODE_SIZE + HEAPABI_SHARED_SIZE,
			  &zero, sizeof(zero));
		unmap_blob(s);
		munmap(in->sh, HEAPABI_SHARED_SIZE);
		in->sh = NULL;
		in->base = 0;
	}
	return r;
}

static void inject_free(struct inject *in)
{
	if (!in)
		return;
	if (in->sh)
		munmap(in->sh, HEAPABI_SHARED_SIZE);
	if (in->mem >= 0)
		close(in->mem);
	free(in->mods);
	free(in);
}

static int check_image(struct inject *in, char *err, size_t errlen)
{
	struct heapabi_blob_header h;

	if (!in->image || in->image_len < sizeof(h) ||
	    in->image_len > HEAPABI_CODE_SIZE) {
		errmsg_set(err, errlen, "no heap sampler blob (%zu bytes)",
			   in->image_len);
		return -EINVAL;
	}
	memcpy(&h, in->image, sizeof(h));
	if (h.magic != HEAPABI_MAGIC || h.version != HEAPABI_VERSION ||
	    h.shared_size != HEAPABI_SHARED_SIZE || h.priv_size != HEAPABI_PRIV_SIZE) {
		errmsg_set(err, errlen, "the heap sampler blob does not match heapabi.h");
		return -EINVAL;
	}
	for (int f = 0; f < HEAPABI_NFUNCS; f++)
		if (h.hook_off[f] >= HEAPABI_CODE_SIZE) {
			errmsg_set(err, errlen, "the heap sampler blob's hook of %s "
				   "lies outside its code", heapring_func_name(f));
			return -EINVAL;
		}
	in->hdr = h;
	return 0;
}

int inject_attach(pid_t pid, const struct inject_opts *o, struct inject **out,
		  char *err, size_t errlen)
{
	struct inject *in;
	struct procfs_ids ids;
	struct plan p = { 0 };
	uint64_t state = 0;
	bool busy;
	int r;

	*out = NULL;
	if (pid <= 0) {
		errmsg_set(err, errlen, "invalid pid %d", (int)pid);
		return -EINVAL;
	}
	in = calloc(1, sizeof(*in));
	if (!in)
		return -ENOMEM;
	in->pid = pid;
	in->rate = o && o->rate ? o->rate : INJECT_DEFAULT_RATE;
	in->stack_size = o && o->stack_size ? o->stack_size : HEAPABI_STACK_MAX;
	if (in->stack_size > HEAPABI_STACK_MAX)
		in->stack_size = HEAPABI_STACK_MAX;
	in->image = o ? o->image : NULL;
	in->image_len = o ? o->image_len : 0;
	if (!in->image) {
		in->image = heapblob_image;
		in->image_len = heapblob_image_len;
	}
	in->mem = -1;
	const char *k = getenv("CPROF_INJECT_KILL_AT");
	in->kill_at = k ? (unsigned)strtoul(k, NULL, 10) : 0;
	r = check_image(in, err, errlen);
	if (r < 0)
		goto fail;
	r = in->mem = open_mem(pid, O_RDWR, err, errlen);
	if (r < 0)
		goto fail;
	r = check_target(in, err, errlen);
	if (r < 0)
		goto fail;
	r = procfs_read_ids(pid, &ids);
	in->nstgid = r == 0 && ids.nstgid > 0 ? ids.nstgid : pid;
	for (int k = 0; k < INJECT_MAX_TRIES; k++) {
		r = plan_make(in, &p, &state, err, errlen);
		if (r == -EAGAIN && k + 1 < INJECT_MAX_TRIES) {
			plan_free(&p);
			in->st.retries++;
			struct timespec ts = { 0, INJECT_RETRY_NS };
			nanosleep(&ts, NULL);
			continue;
		}
		if (r < 0)
			goto fail;
		plan_reals(in, &p);
		if (!in->real[HEAPABI_MALLOC] || !in->real[HEAPABI_FREE]) {
			/* A process just started may not have its libraries
			 * in the link map yet (a command): tried again. */
			if (k + 1 < INJECT_MAX_TRIES) {
				plan_free(&p);
				in->st.retries++;
				struct timespec ts = { 0, INJECT_RETRY_NS };
				nanosleep(&ts, NULL);
				continue;
			}
			errmsg_set(err, errlen, "no module of pid %d defines malloc and "
				   "free: an allocator cprof does not know; use "
				   "--method uprobe", (int)pid);
			r = -ENOTSUP;
			goto fail;
		}
		r = state != 0 ? 1 :
		    run_session(in, attach_fn, &p, 1, &busy, err, errlen);
		if (r != 1)
			break;
		plan_free(&p);
		in->st.retries++;
		struct timespec ts = { 0, INJECT_RETRY_NS };
		nanosleep(&ts, NULL);
	}
	if (r == 1) {
		errmsg_set(err, errlen, "pid %d: a thread stayed in the dynamic loader "
			   "or the allocator (or its link map kept changing) through "
			   "%d tries; try again", (int)pid, INJECT_MAX_TRIES);
		r = -EAGAIN;
	}
	if (r < 0)
		goto fail;
	in->st.attach_stopped_ns = in->last_stopped_ns;
	for (size_t i = 0; i < p.n; i++)
		inject_remember(in, p.m[i].l_addr, p.m[i].l_ld);
	plan_free(&p);
	*out = in;
	return 0;

fail:
	plan_free(&p);
	inject_free(in);
	return r;
}

struct heapabi_shared *inject_shared(struct inject *in)
{
	return in->sh;
}

uint64_t inject_base(const struct inject *in)
{
	return in->base;
}

void inject_get_stats(const struct inject *in, struct inject_stats *st)
{
	*st = in->st;
}

/* ---- poll: the heartbeat, modules loaded later ---------------------------------- */

/* Whether patched entry pt holds what the loader may have written over
 * its hook: a thread stopped in a PLT stub on its way to the lazy-binding
 * resolver (not yet in ld.so, so not let go at the attach) resolves the
 * symbol once it runs and stores the real function into the entry we had
 * just patched. The value before our patch counts too (an entry put back
 * to its PLT stub). Anything else was written by someone else: left
 * alone. */
static bool patch_lost(struct inject *in, const struct heapabi_patch *pt)
{
	uint64_t cur;

	if (mem_read_u64(in, pt->addr, &cur) < 0 || cur == pt->hook)
		return false;
	if (cur == pt->orig)
		return true;
	for (int f = 0; f < HEAPABI_NFUNCS; f++)
		if (in->hdr.hook_off[f] && pt->hook == in->base + in->hdr.hook_off[f])
			return in->real[f] && cur == in->real[f];
	return false;
}

static int rebind_fn(struct session *s)
{
	struct inject *in = s->in;
	struct heapabi_shared *sh = in->sh;

	if (threads_in_loader_or_alloc(s))
		return 1;
	for (uint32_t i = 0; i < sh->npatched; i++) {
		const struct heapabi_patch *pt = &sh->patched[i];
		if (!patch_lost(in, pt))
			continue;
		int r = mem_write(in, pt->addr, &pt->hook, sizeof(pt->hook));
		if (r < 0) {
			errmsg_set(s->err, s->errlen, "cannot patch the GOT entry at "
				   "0x%" PRIx64 " in pid %d again: %s", pt->addr,
				   (int)in->pid, strerror(-r));
			return r;
		}
		in->st.rebound++;
	}
	return 0;
}

/* Puts back hooks the loader wrote over (patch_lost), with the threads
 * stopped; a look at the entries first, so that a poll stops nobody when
 * none was lost (nearly always). */
static int rebind(struct inject *in, char *err, size_t errlen)
{
	bool lost = false, busy = false;

	for (uint32_t i = 0; i < in->sh->npatched && !lost; i++)
		lost = patch_lost(in, &in->sh->patched[i]);
	if (!lost)
		return 0;
	int r = run_session(in, rebind_fn, NULL, 10, &busy, err, errlen);
	if (r == 1) {
		r = 0;		/* busy through 10 tries: the next poll */
		if (err && errlen)
			err[0] = 0;
	}
	return r;
}

static int poll_fn(struct session *s)
{
	const struct plan *p = s->arg;
	int r = plan_still(s->in, p);

	if (r != 0)
		return r;
	if (threads_in_loader_or_alloc(s))
		return 1;
	return plan_patch(s, p);
}

int inject_poll(struct inject *in, char *err, size_t errlen)
{
	struct plan p = { 0 };
	uint64_t state = 0;
	bool fresh = false, busy;
	int r;

	if (kill(in->pid, 0) < 0 && errno == ESRCH) {
		errmsg_set(err, errlen, "pid %d exited", (int)in->pid);
		return -ESRCH;
	}
	heapring_set_deadline(in->sh, tracer_now_ns() + HEAPABI_HEARTBEAT_NS);
	/* A hook that saw the deadline pass (cprof starved of CPU for a
	 * second on a loaded machine) turned sampling off: on again, now that
	 * the heartbeat is back. The copies of the real malloc and free that
	 * a live hook jumps through are written again first (nothing reads
	 * them while live is 0), in case the area lost them. */
	uint64_t privb = in->base + HEAPABI_CODE_SIZE + HEAPABI_SHARED_SIZE;
	uint32_t live = 1;
	if (mem_read(in, privb, &live, sizeof(live)) == 0 && live == 0) {
		uint64_t copies[2] = { in->real[HEAPABI_MALLOC], in->real[HEAPABI_FREE] };
		_Static_assert(offsetof(struct heapabi_private, real_free) ==
			       offsetof(struct heapabi_private, real_malloc) + 8,
			       "real_malloc, real_free: one write");
		live = 1;
		if (mem_write(in, privb + offsetof(struct heapabi_private, real_malloc),
			      copies, sizeof(copies)) == 0 &&
		    mem_write(in, privb, &live, sizeof(live)) == 0)
			in->st.rearmed++;
	}
	r = rebind(in, err, errlen);
	if (r < 0)
		return r;
	/* A cheap look at the link map first: a new module is rare. */
	struct lm_entry *lm = NULL;
	size_t n = 0;
	r = read_link_map(in, &lm, &n, &state);
	if (r < 0) {
		if (kill(in->pid, 0) < 0) {
			errmsg_set(err, errlen, "cannot read the link map of pid %d: %s",
				   (int)in->pid, strerror(-r));
			return -ESRCH;
		}
		return 0;	/* changing as we read it: the next poll */
	}
	for (size_t i = 0; i < n && !fresh; i++)
		fresh = !inject_known(in, lm[i].l_addr, lm[i].l_ld);
	free(lm);
	if (!fresh || state != 0)
		return 0;	/* dlopen under way: the next poll */
	r = plan_make(in, &p, &state, err, errlen);
	if (r == -EAGAIN) {
		plan_free(&p);
		if (err && errlen)
			err[0] = 0;
		return 0;	/* the next poll */
	}
	if (r < 0)
		return r;
	r = run_session(in, poll_fn, &p, 10, &busy, err, errlen);
	if (r == 0)
		for (size_t i = 0; i < p.n; i++)
			inject_remember(in, p.m[i].l_addr, p.m[i].l_ld);
	if (r == 1) {
		/* Busy through 10 tries: the next poll tries again. */
		r = 0;
		if (err && errlen)
			err[0] = 0;
	}
	plan_free(&p);
	return r;
}

/* ---- detach ----------------------------------------------------------------------- */

static int detach_fn(struct session *s)
{
	struct inject *in = s->in;
	uint32_t zero = 0;
	bool *restored = s->arg;

	if (!*restored) {
		undo_patches(in, 0);
		heapring_disable(in->sh);
		int r = mem_write(in, in->base + HEAPABI_CODE_SIZE +
				  HEAPABI_SHARED_SIZE, &zero, sizeof(zero));
		if (r < 0) {
			errmsg_set(s->err, s->errlen, "cannot turn the sampler in pid %d "
				   "off: %s", (int)in->pid, strerror(-r));
			return r;
		}
		*restored = true;
	}
	if (threads_inside(s, in->base, in->base + HEAPABI_CODE_SIZE, true))
		return 1;
	int r = unmap_blob(s);
	if (r < 0)
		errmsg_set(s->err, s->errlen, "remote munmap in pid %d: %s",
			   (int)in->pid, strerror(-r));
	return r;
}

int inject_detach(struct inject *in, struct inject_stats *st, char *err,
		  size_t errlen)
{
	bool restored = false, busy = false;
	int r;

	if (!in)
		return 0;
	r = run_session(in, detach_fn, &restored, INJECT_MAX_TRIES, &busy, err,
			errlen);
	in->st.detach_stopped_ns = in->last_stopped_ns;
	if (r == 1) {
		/* Inert: GOT restored, live = 0; a later cprof removes it. */
		in->st.left_mapped = true;
		r = 0;
		if (err && errlen)
			err[0] = 0;
	}
	if (r == -ESRCH && kill(in->pid, 0) < 0)
		r = 0;		/* the target is gone: nothing to restore */
	if (r < 0 && !restored)
		in->st.left_mapped = true;
	if (st)
		*st = in->st;
	inject_free(in);
	return r;
}

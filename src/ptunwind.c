/*
 * ptunwind.c - remote unwinding of ptrace-stopped threads with libunwind
 * (our accessors: memory, registers, and unwind tables read from the
 * target), or with libdw's unwinder; and how far each walk got.
 */
#include <elf.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/uio.h>
#include <sys/user.h>

#include <elfutils/libdw.h>
#include <elfutils/libdwfl.h>
#include <libunwind.h>

#include "procfs.h"
#include "ptunwind.h"
#include "modules.h"

/* Exported by libunwind but not declared in its public headers; it is what
 * libunwind-ptrace's _UPT_find_proc_info itself calls for a remote
 * .eh_frame_hdr table. */
extern int _Ux86_64_dwarf_search_unwind_table(unw_addr_space_t as,
					      unw_word_t ip,
					      unw_dyn_info_t *di,
					      unw_proc_info_t *pi,
					      int need_unwind_info, void *arg);

#define PTUNWIND_PAGE 4096u
#define PTUNWIND_CACHE 32u

struct ptunwind_page {
	uint64_t addr;		/* page address; 0: empty */
	uint64_t gen;		/* valid when equal to the ptunwind's gen */
	uint8_t data[PTUNWIND_PAGE];
};

/* A module for the libunwind path: its .eh_frame_hdr search table, found
 * through the program headers in the target's memory. */
struct ptunwind_mod {
	uint64_t start, end;		/* the module's mappings */
	int state;			/* 0 not looked at, 1 table ready,
					 * -1 none */
	unw_dyn_info_t di;
};

struct ptunwind {
	pid_t pid;
	enum ptunwind_kind kind;

	/* libunwind */
	unw_addr_space_t as;
	struct user_regs_struct regs;	/* of the thread being unwound */
	pid_t tid;
	struct ptunwind_page *cache;	/* 128 KiB, calloc'd: pages untouched
					 * until used */
	uint64_t gen;			/* ptunwind_invalidate() bumps it */
	uint64_t reads;
	struct ptunwind_mod *mods;	/* by address */
	size_t nmods;
	bool noinfo;			/* find_proc_info found nothing since
					 * this was last cleared */

	/* libdw */
	struct modules_proc *proc;	/* userdata of every module */
	Dwfl *dwfl;
	struct modules_stops *stops;	/* Go's stack bottoms (libdw) */

	long last_syscall;		/* orig_rax of the last walk, or -3 */
};

static int ptunwind_read_page(struct ptunwind *u, uint64_t page,
			      const uint8_t **data)
{
	struct ptunwind_page *p = &u->cache[(page / PTUNWIND_PAGE) % PTUNWIND_CACHE];

	if (p->addr != page || p->gen != u->gen || page == 0) {
		struct iovec local = { p->data, PTUNWIND_PAGE };
		struct iovec remote = { (void *)(uintptr_t)page, PTUNWIND_PAGE };
		u->reads++;
		ssize_t r = process_vm_readv(u->tid ? u->tid : u->pid, &local, 1,
					     &remote, 1, 0);
		if (r != (ssize_t)PTUNWIND_PAGE) {
			p->addr = 0;
			return -1;
		}
		p->addr = page;
		p->gen = u->gen;
	}
	*data = p->data;
	return 0;
}

static int ptunwind_read(struct ptunwind *u, uint64_t addr, void *buf,
			 size_t len)
{
	uint8_t *out = buf;
	while (len) {
		uint64_t page = addr & ~(uint64_t)(PTUNWIND_PAGE - 1);
		size_t off = addr - page, chunk = PTUNWIND_PAGE - off;
		const uint8_t *data;
		if (chunk > len)
			chunk = len;
		if (ptunwind_read_page(u, page, &data) < 0)
			return -1;
		memcpy(out, data + off, chunk);
		out += chunk;
		addr += chunk;
		len -= chunk;
	}
	return 0;
}

static int ptunwind_access_mem(unw_addr_space_t as, unw_word_t addr,
			       unw_word_t *val, int write, void *arg)
{
	struct ptunwind *u = arg;
	if (write)
		return -UNW_EINVAL;
	if (ptunwind_read(u, addr, val, sizeof(*val)) < 0)
		return -UNW_EINVAL;
	return 0;
}

static int ptunwind_access_reg(unw_addr_space_t as, unw_regnum_t reg,
			       unw_word_t *val, int write, void *arg)
{
	struct ptunwind *u = arg;
	const struct user_regs_struct *r;

	if (write)
		return -UNW_EINVAL;
	r = &u->regs;
	switch (reg) {
	case UNW_X86_64_RAX: *val = r->rax; break;
	case UNW_X86_64_RDX: *val = r->rdx; break;
	case UNW_X86_64_RCX: *val = r->rcx; break;
	case UNW_X86_64_RBX: *val = r->rbx; break;
	case UNW_X86_64_RSI: *val = r->rsi; break;
	case UNW_X86_64_RDI: *val = r->rdi; break;
	case UNW_X86_64_RBP: *val = r->rbp; break;
	case UNW_X86_64_RSP: *val = r->rsp; break;
	case UNW_X86_64_R8: *val = r->r8; break;
	case UNW_X86_64_R9: *val = r->r9; break;
	case UNW_X86_64_R10: *val = r->r10; break;
	case UNW_X86_64_R11: *val = r->r11; break;
	case UNW_X86_64_R12: *val = r->r12; break;
	case UNW_X86_64_R13: *val = r->r13; break;
	case UNW_X86_64_R14: *val = r->r14; break;
	case UNW_X86_64_R15: *val = r->r15; break;
	case UNW_X86_64_RIP: *val = r->rip; break;
	default: return -UNW_EBADREG;
	}
	return 0;
}

static int ptunwind_access_fpreg(unw_addr_space_t as, unw_regnum_t reg,
				 unw_fpreg_t *val, int write, void *arg)
{
	/* x86_64 CFI never needs floating-point registers to find callers. */
	return -UNW_EBADREG;
}

static int ptunwind_resume(unw_addr_space_t as, unw_cursor_t *c, void *arg)
{
	return -UNW_EINVAL;
}

static int ptunwind_get_proc_name(unw_addr_space_t as, unw_word_t ip,
				  char *buf, size_t len, unw_word_t *off,
				  void *arg)
{
	/* _UPT_get_proc_name re-parses maps and mmaps the ELF file on every
	 * call and names by the nearest exported symbol (docs/design.md §3). */
	return -UNW_ENOINFO;
}

/* A module's .eh_frame_hdr binary search table, found through its program
 * headers read in the target, as libunwind-ptrace finds it in the file
 * (src/dwarf/Gfind_unwind_table.c) before reading the table and the FDEs
 * from the target anyway: the file is not needed, and the file now at the
 * module's path may not be the one mapped (deleted, or another renamed
 * over it: docs/design.md §4.3). The vDSO has no file at all. */
static int ptunwind_table_setup(struct ptunwind *u, struct ptunwind_mod *m)
{
	Elf64_Ehdr eh;
	Elf64_Phdr ph;
	uint64_t bias = 0, hdr = 0, text_lo = UINT64_MAX, text_hi = 0;
	bool have_load = false;
	uint8_t h[12];

	if (ptunwind_read(u, m->start, &eh, sizeof(eh)) < 0 ||
	    memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 ||
	    eh.e_ident[EI_CLASS] != ELFCLASS64 ||
	    eh.e_phentsize != sizeof(ph))
		return -1;
	for (unsigned i = 0; i < eh.e_phnum; i++) {
		if (ptunwind_read(u, m->start + eh.e_phoff + i * sizeof(ph),
				  &ph, sizeof(ph)) < 0)
			return -1;
		if (ph.p_type == PT_LOAD && !have_load) {
			bias = m->start - (ph.p_vaddr - ph.p_offset);
			have_load = true;
		}
		if (ph.p_type == PT_LOAD && (ph.p_flags & PF_X)) {
			if (ph.p_vaddr < text_lo)
				text_lo = ph.p_vaddr;
			if (ph.p_vaddr + ph.p_memsz > text_hi)
				text_hi = ph.p_vaddr + ph.p_memsz;
		}
		if (ph.p_type == PT_GNU_EH_FRAME)
			hdr = ph.p_vaddr;
	}
	if (!have_load || !hdr || text_hi <= text_lo)
		return -1;
	hdr += bias;
	if (ptunwind_read(u, hdr, h, sizeof(h)) < 0)
		return -1;
	/* version 1; eh_frame_ptr 4 bytes (sdata4 or udata4, pc- or
	 * data-relative); fde_count udata4 (0x03); table datarel|sdata4
	 * (0x3b): what GNU ld, gold, lld and the kernel's vDSO link write. */
	if (h[0] != 1 || ((h[1] & 0x0f) != 0x0b && (h[1] & 0x0f) != 0x03) ||
	    h[2] != 0x03 || h[3] != 0x3b)
		return -1;
	uint32_t fde_count;
	memcpy(&fde_count, h + 8, 4);
	memset(&m->di, 0, sizeof(m->di));
	m->di.format = UNW_INFO_FORMAT_REMOTE_TABLE;
	m->di.start_ip = text_lo + bias;
	m->di.end_ip = text_hi + bias;
	m->di.u.rti.segbase = hdr;
	m->di.u.rti.table_data = hdr + 12;
	/* Two 4-byte entries per FDE, counted in words. */
	m->di.u.rti.table_len = fde_count * 8 / sizeof(unw_word_t);
	return 0;
}

static struct ptunwind_mod *ptunwind_mod_find(struct ptunwind *u, uint64_t ip)
{
	size_t lo = 0, hi = u->nmods;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (u->mods[mid].start <= ip)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0 || ip >= u->mods[lo - 1].end)
		return NULL;
	return &u->mods[lo - 1];
}

static int ptunwind_find_proc_info(unw_addr_space_t as, unw_word_t ip,
				   unw_proc_info_t *pi, int need, void *arg)
{
	struct ptunwind *u = arg;
	struct ptunwind_mod *m = ptunwind_mod_find(u, ip);
	int r = -UNW_ENOINFO;

	if (m && m->state == 0)
		m->state = ptunwind_table_setup(u, m) == 0 ? 1 : -1;
	if (m && m->state > 0 && ip >= m->di.start_ip && ip < m->di.end_ip)
		r = _Ux86_64_dwarf_search_unwind_table(as, ip, &m->di, pi,
						       need, arg);
	/* libunwind then guesses from the frame pointer (x86_64/Gstep.c),
	 * and may even call the guess the end of the stack. */
	if (r == -UNW_ENOINFO)
		u->noinfo = true;
	return r;
}

static void ptunwind_put_unwind_info(unw_addr_space_t as, unw_proc_info_t *pi,
				     void *arg)
{
	/* Called for dynamic (JIT-registered) unwind info only, which we
	 * never give: what dwarf_search_unwind_table allocates for a table
	 * libunwind frees itself (dwarf/Gparser.c put_unwind_info). */
}

static int ptunwind_get_dyn_info_list_addr(unw_addr_space_t as,
					   unw_word_t *addr, void *arg)
{
	/* No JIT registers dynamic unwind info in the processes we dump. */
	return -UNW_ENOINFO;
}

static unw_accessors_t ptunwind_accessors = {
	.find_proc_info = ptunwind_find_proc_info,
	.put_unwind_info = ptunwind_put_unwind_info,
	.get_dyn_info_list_addr = ptunwind_get_dyn_info_list_addr,
	.access_mem = ptunwind_access_mem,
	.access_reg = ptunwind_access_reg,
	.access_fpreg = ptunwind_access_fpreg,
	.resume = ptunwind_resume,
	.get_proc_name = ptunwind_get_proc_name,
};

static int ptunwind_warm_module(Dwfl_Module *mod, void **ud, const char *name,
				Dwarf_Addr start, void *arg)
{
	Dwarf_Addr bias;

	/* Load each module's CFI now rather than while the threads are
	 * stopped. */
	dwfl_module_eh_cfi(mod, &bias);
	return DWARF_CB_OK;
}

/* Our own thread callbacks for libdw's unwinder instead of
 * dwfl_linux_proc_attach's: the thread is already ptrace-stopped by us, so
 * there is nothing to attach; no kill(tid, 0) per thread; one
 * PTRACE_GETREGS whose orig_rax also gives the system call the thread is
 * in (what /proc/PID/task/TID/syscall would print, from the same register:
 * kernel collect_syscall), saving a /proc read per thread; and target
 * memory through the process_vm_readv page cache shared with the libunwind
 * path, kept across the threads of one stop. */
static pid_t ptunwind_dw_next_thread(Dwfl *dwfl, void *dwfl_arg,
				     void **thread_argp)
{
	return 0;	/* threads are only ever asked for by tid */
}

static bool ptunwind_dw_get_thread(Dwfl *dwfl, pid_t tid, void *dwfl_arg,
				   void **thread_argp)
{
	*thread_argp = dwfl_arg;
	return true;
}

static bool ptunwind_dw_memory_read(Dwfl *dwfl, Dwarf_Addr addr,
				    Dwarf_Word *result, void *dwfl_arg)
{
	struct ptunwind *u = dwfl_arg;

	if (ptunwind_read(u, addr, result, sizeof(*result)) == 0)
		return true;
	/* A page process_vm_readv refuses (unlike ptrace, it honours page
	 * protections): one word through ptrace, as libdw itself does. */
	errno = 0;
	long w = ptrace(PTRACE_PEEKDATA, u->tid, (void *)(uintptr_t)addr, NULL);
	if (errno != 0)
		return false;
	*result = (Dwarf_Word)w;
	return true;
}

static bool ptunwind_dw_set_initial_registers(Dwfl_Thread *thread,
					      void *thread_arg)
{
	struct ptunwind *u = thread_arg;
	const struct user_regs_struct *r = &u->regs;
	Dwarf_Word dw[17];

	u->tid = dwfl_thread_tid(thread);
	if (ptrace(PTRACE_GETREGS, u->tid, 0L, &u->regs) < 0)
		return false;
	u->last_syscall = (long)r->orig_rax;
	/* DWARF register numbers of the x86_64 psABI, as elfutils'
	 * backends/x86_64_initreg.c fills them; 16 is the return address
	 * column, from which libdw takes the first pc. */
	dw[0] = r->rax; dw[1] = r->rdx; dw[2] = r->rcx; dw[3] = r->rbx;
	dw[4] = r->rsi; dw[5] = r->rdi; dw[6] = r->rbp; dw[7] = r->rsp;
	dw[8] = r->r8; dw[9] = r->r9; dw[10] = r->r10; dw[11] = r->r11;
	dw[12] = r->r12; dw[13] = r->r13; dw[14] = r->r14; dw[15] = r->r15;
	dw[16] = r->rip;
	return dwfl_thread_state_registers(thread, 0, 17, dw);
}

static const Dwfl_Thread_Callbacks ptunwind_dw_thread_callbacks = {
	.next_thread = ptunwind_dw_next_thread,
	.get_thread = ptunwind_dw_get_thread,
	.memory_read = ptunwind_dw_memory_read,
	.set_initial_registers = ptunwind_dw_set_initial_registers,
};

int ptunwind_new(pid_t pid, enum ptunwind_kind kind,
		 const struct procfs_maps *maps, struct ptunwind **out,
		 char *err, size_t errlen)
{
	struct ptunwind *u = calloc(1, sizeof(*u));
	struct procfs_maps own = { 0 };
	int r;

	if (!u)
		return -ENOMEM;
	/* A leader that called pthread_exit shows no memory in /proc. */
	pid = procfs_proc_tid(pid);
	u->pid = pid;
	u->kind = kind;
	u->gen = 1;
	u->last_syscall = -3;
	if (!maps) {
		r = procfs_read_maps(pid, &own);
		if (r < 0) {
			if (err)
				snprintf(err, errlen, "read /proc/%d/maps: %s",
					 (int)pid, strerror(-r));
			goto out_free;
		}
		maps = &own;
	}
	u->cache = calloc(PTUNWIND_CACHE, sizeof(*u->cache));
	if (!u->cache) {
		r = -ENOMEM;
		goto out_free;
	}
	if (kind == PTUNWIND_LIBDW) {
		/* .eh_frame only, never a separate debug file (and so
		 * never debuginfod); the files the process mapped. */
		r = modules_proc_new(pid, &u->proc);
		if (r < 0)
			goto out_free;
		u->dwfl = dwfl_begin(&modules_unwind_callbacks);
		u->stops = modules_stops_new();
		if (!u->dwfl || !u->stops) {
			r = -ENOMEM;
			goto out_free;
		}
		r = modules_report(u->dwfl, u->proc, maps, false, err, errlen);
		if (r != 0)
			goto out_free;
		dwfl_getmodules(u->dwfl, ptunwind_warm_module, NULL, 0);
		if (!dwfl_attach_state(u->dwfl, NULL, pid,
				       &ptunwind_dw_thread_callbacks, u)) {
			r = -EINVAL;
			if (err)
				snprintf(err, errlen, "dwfl_attach_state: %s",
					 dwfl_errmsg(-1));
			goto out_free;
		}
		procfs_maps_release(&own);
		*out = u;
		return 0;
	}

	struct modules_run *runs;
	size_t n;
	r = modules_runs(maps, &runs, &n);
	if (r == 0 && n) {
		u->mods = calloc(n, sizeof(*u->mods));
		if (!u->mods)
			r = -ENOMEM;
		/* An alias (a file mapped again) has no ELF header of its
		 * own to find the unwind table from. */
		for (size_t i = 0; i < n && u->mods; i++) {
			if (runs[i].alias)
				continue;
			u->mods[u->nmods].start = runs[i].start;
			u->mods[u->nmods].end = runs[i].end;
			u->nmods++;
		}
	}
	free(runs);
	procfs_maps_release(&own);
	u->as = unw_create_addr_space(&ptunwind_accessors, 0);
	if (r < 0 || !u->as) {
		r = -ENOMEM;
		if (err)
			snprintf(err, errlen, "unw_create_addr_space: out of memory");
		goto out_free;
	}
	unw_set_caching_policy(u->as, UNW_CACHE_GLOBAL);
	*out = u;
	return 0;

out_free:
	procfs_maps_release(&own);
	ptunwind_free(u);
	return r;
}

struct ptunwind_dwfl_walk {
	struct ptunwind *u;
	uint64_t *pcs;
	bool *is_activation;
	size_t max, n;
	bool truncated;
	bool broken;		/* a frame without a usable pc */
	bool at_stop;		/* ended at a Go stack bottom (modules.h) */
};

static int ptunwind_dwfl_frame(Dwfl_Frame *state, void *arg)
{
	struct ptunwind_dwfl_walk *w = arg;
	Dwarf_Addr pc;
	bool act = false;

	if (!dwfl_frame_pc(state, &pc, &act)) {
		w->broken = true;
		return DWARF_CB_ABORT;
	}
	/* 0 is no return address: a guess from the frame pointer (after a
	 * frame without CFI) that read a cleared slot. */
	if (pc == 0 && w->n > 0) {
		w->broken = true;
		return DWARF_CB_ABORT;
	}
	if (w->n == w->max) {
		w->truncated = true;
		return DWARF_CB_ABORT;
	}
	w->pcs[w->n] = pc;
	w->is_activation[w->n] = act || w->n == 0;
	w->n++;
	/* Past the bottom of a Go stack lie another stack's words. */
	if (modules_stops_at(w->u->stops, w->u->dwfl,
			     w->is_activation[w->n - 1] ? pc : pc - 1)) {
		w->at_stop = true;
		return DWARF_CB_ABORT;
	}
	return DWARF_CB_OK;
}

/* True when libdw has CFI for the code at pc (a return address already
 * made a call-site address), in .eh_frame or the module's own
 * .debug_frame, as its unwinder looks (libdwfl/frame_unwind.c). */
static bool ptunwind_dw_has_cfi(Dwfl *dwfl, Dwarf_Addr pc)
{
	Dwfl_Module *mod = dwfl_addrmodule(dwfl, pc);
	Dwarf_Frame *frame;
	Dwarf_Addr bias;

	if (!mod)
		return false;
	for (int k = 0; k < 2; k++) {
		Dwarf_CFI *cfi = k == 0 ? dwfl_module_eh_cfi(mod, &bias) :
				 dwfl_module_dwarf_cfi(mod, &bias);
		if (cfi && dwarf_cfi_addrframe(cfi, pc - bias, &frame) == 0) {
			free(frame);
			return true;
		}
	}
	return false;
}

/* A walk that did not reach the outermost frame (docs/design.md §4.3):
 * past the first frame without unwind information, the callers come from
 * the frame-pointer guess both unwinders fall back to (libdw's
 * backends/x86_64_unwind.c, libunwind's x86_64/Gstep.c), which led
 * nowhere; they are dropped, and that frame is where the stack stops.
 * Returns the stop with *n cut, or FAILED when every frame had CFI. */
static enum ptunwind_stop ptunwind_cut(size_t *n, long first_guess)
{
	if (first_guess < 0)
		return PTUNWIND_STOP_FAILED;
	*n = (size_t)first_guess + 1;
	return PTUNWIND_STOP_NO_INFO;
}

static int ptunwind_libunwind(struct ptunwind *u, pid_t tid, uint64_t *pcs,
			      bool *is_activation, size_t max, size_t *n,
			      bool *truncated, enum ptunwind_stop *stop)
{
	unw_cursor_t c;
	bool next_is_activation = true;
	uint64_t last_sp = 0;
	long first_guess = -1;
	int r;

	if (ptrace(PTRACE_GETREGS, tid, 0L, &u->regs) < 0)
		return -errno;
	u->tid = tid;
	u->last_syscall = (long)u->regs.orig_rax;
	r = unw_init_remote(&c, u->as, u);
	if (r < 0)
		return -EINVAL;
	for (;;) {
		unw_word_t ip = 0, sp = 0;
		if (unw_get_reg(&c, UNW_REG_IP, &ip) < 0 || ip == 0) {
			*stop = PTUNWIND_STOP_FAILED;
			break;
		}
		unw_get_reg(&c, UNW_REG_SP, &sp);
		/* A frame that does not move the stack up is a loop in bad
		 * unwind data; stop rather than print garbage. */
		if (*n > 0 && sp <= last_sp && !next_is_activation) {
			*stop = PTUNWIND_STOP_FAILED;
			break;
		}
		if (*n == max) {
			*truncated = true;
			break;
		}
		pcs[*n] = ip;
		is_activation[*n] = next_is_activation;
		(*n)++;
		last_sp = sp;
		u->noinfo = false;
		r = unw_step(&c);
		if (u->noinfo && first_guess < 0)
			first_guess = (long)*n - 1;
		/* 0 is the end only when unwind information said so (the
		 * return address undefined: _start, clone3's child); after
		 * a guess it is libunwind giving up. */
		if (r == 0 && !u->noinfo)
			break;
		if (r <= 0) {
			*stop = PTUNWIND_STOP_FAILED;
			break;
		}
		/* Set by the step that went through a signal trampoline: the
		 * frame now current was interrupted, its pc is no return
		 * address (measured: before the step it reads 0). */
		next_is_activation = unw_is_signal_frame(&c) > 0;
		/* The trampoline's pc is where the handler returned to: the
		 * first byte of __restore_rt, to be looked up as is. */
		if (next_is_activation)
			is_activation[*n - 1] = true;
	}
	if (*stop != PTUNWIND_STOP_NONE && *n)
		*stop = ptunwind_cut(n, first_guess);
	return *n ? 0 : -EINVAL;
}

int ptunwind_thread(struct ptunwind *u, pid_t tid, uint64_t *pcs,
		    bool *is_activation, size_t max, size_t *n,
		    bool *truncated, enum ptunwind_stop *stop)
{
	*n = 0;
	*truncated = false;
	*stop = PTUNWIND_STOP_NONE;
	u->last_syscall = -3;
	if (u->kind == PTUNWIND_LIBUNWIND)
		return ptunwind_libunwind(u, tid, pcs, is_activation, max, n,
					  truncated, stop);

	struct ptunwind_dwfl_walk w = {
		.u = u, .pcs = pcs, .is_activation = is_activation, .max = max,
	};
	/* 0: a frame's CFI left the return address undefined, the
	 * outermost frame; -1 (dwfl_errno): no CFI and no frame-pointer
	 * guess either, or memory that could not be read. */
	int r = dwfl_getthread_frames(u->dwfl, tid, ptunwind_dwfl_frame, &w);
	*n = w.n;
	*truncated = w.truncated;
	if (!w.truncated && !w.at_stop && (r != 0 || w.broken) && w.n) {
		long first_guess = -1;
		for (size_t i = 0; i < w.n && first_guess < 0; i++)
			if (!ptunwind_dw_has_cfi(u->dwfl, pcs[i] -
						 !is_activation[i]))
				first_guess = (long)i;
		*stop = ptunwind_cut(n, first_guess);
	}
	return *n ? 0 : -EINVAL;
}

void ptunwind_invalidate(struct ptunwind *u)
{
	/* A new generation, not a pass over the cache: writing every entry
	 * faulted in all 256 of its pages at each stop, ~1 ms per unwinder. */
	u->gen++;
}

long ptunwind_last_syscall(const struct ptunwind *u)
{
	return u->last_syscall;
}

uint64_t ptunwind_reads(const struct ptunwind *u)
{
	return u->reads;
}

void ptunwind_free(struct ptunwind *u)
{
	if (!u)
		return;
	if (u->as)
		unw_destroy_addr_space(u->as);
	free(u->mods);
	free(u->cache);
	if (u->dwfl)
		dwfl_end(u->dwfl);
	modules_proc_free(u->proc);
	modules_stops_free(u->stops);
	free(u);
}

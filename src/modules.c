/*
 * modules.c - a live process's modules in a Dwfl: which mapped files are
 * modules (as dwfl_linux_proc_report would say, from maps already parsed),
 * and how their ELF files are found (through /proc/PID/root, so that a
 * process in another mount namespace gets its own files). Shared by the
 * symbolizer and both unwinders.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <elfutils/libdwfl.h>

#include "modules.h"
#include "procfs.h"

/* find_elf for a module of process pid (<= 0: not known): through
 * /proc/PID/root, or libdwfl's own callback for what it reads from memory
 * ([vdso: PID], deleted files) and what /proc/PID/root cannot open. */
int modules_find_elf(pid_t pid, Dwfl_Module *mod, void **userdata,
		     const char *name, Dwarf_Addr base, char **file_name,
		     Elf **elfp)
{
	char *path;
	int fd;

	if (pid <= 0 || name[0] != '/')
		return dwfl_linux_proc_find_elf(mod, userdata, name, base,
						file_name, elfp);
	fd = procfs_open_root_file(pid, name, &path);
	if (fd == -ENOMEM)
		return -1;
	if (fd < 0)
		return dwfl_linux_proc_find_elf(mod, userdata, name, base,
						file_name, elfp);
	*file_name = path;
	return fd;
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

static int modules_pid_find_elf(Dwfl_Module *mod, void **userdata,
				       const char *name, Dwarf_Addr base,
				       char **file_name, Elf **elfp)
{
	const pid_t *pid = *userdata;

	return modules_find_elf(pid ? *pid : 0, mod, userdata, name,
				       base, file_name, elfp);
}

const Dwfl_Callbacks modules_unwind_callbacks = {
	.find_elf = modules_pid_find_elf,
	.find_debuginfo = modules_no_debuginfo,
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

int modules_report(Dwfl *dwfl, const pid_t *pid, const struct procfs_maps *maps,
		   bool add, char *err, size_t errlen)
{
	int e;

	if (add)
		dwfl_report_begin_add(dwfl);
	else
		dwfl_report_begin(dwfl);
	e = modules_report_maps(dwfl, *pid, maps);
	if (dwfl_report_end(dwfl, NULL, NULL) != 0 && e == 0)
		e = -EINVAL;
	if (e == 0)
		dwfl_getmodules(dwfl, modules_claim, (void *)pid, 0);
	else
		modules_report_error(err, errlen, e);
	return e;
}

int modules_report_maps(Dwfl *dwfl, pid_t pid, const struct procfs_maps *m)
{
	const struct procfs_map *cur = NULL;
	uint64_t low = 0, high = 0;
	char vdso[32];

	/* What dwfl_linux_proc_report does (elfutils libdwfl/
	 * linux-proc-maps.c), from the parse we already hold instead of a
	 * second read of the file (~3 ms at 2,000 lines: a process with 1,000
	 * thread stacks): one module per mapped file, from its first mapping
	 * to the end of its last one with the same device and inode, lines of
	 * other kinds in between (.bss, heap) not ending it; a deleted file
	 * keeps the " (deleted)" suffix and the vDSO the "[vdso: PID]" name,
	 * by which dwfl_linux_proc_find_elf knows to read them from memory. */
	for (size_t i = 0; i <= m->n; i++) {
		const struct procfs_map *x = i < m->n ? &m->maps[i] : NULL;
		bool vdso_line = x && strcmp(x->path, "[vdso]") == 0;

		if (x && !vdso_line && (x->path[0] != '/' ||
		    (x->inode == 0 && x->dev_major == 0 && x->dev_minor == 0)))
			continue;
		if (x && !vdso_line && cur && x->inode == cur->inode &&
		    x->dev_major == cur->dev_major &&
		    x->dev_minor == cur->dev_minor &&
		    x->deleted == cur->deleted && strcmp(x->path, cur->path) == 0) {
			high = x->end;
			continue;
		}
		if (cur) {
			char *name = NULL;
			if (asprintf(&name, "%s%s", cur->path,
				     cur->deleted ? " (deleted)" : "") < 0)
				return -ENOMEM;
			Dwfl_Module *mod = dwfl_report_module(dwfl, name, low, high);
			free(name);
			if (!mod)
				return -EINVAL;
			cur = NULL;
		}
		if (vdso_line) {
			snprintf(vdso, sizeof(vdso), "[vdso: %d]", (int)pid);
			if (!dwfl_report_module(dwfl, vdso, x->start, x->end))
				return -EINVAL;
			continue;
		}
		if (x) {
			cur = x;
			low = x->start;
			high = x->end;
		}
	}
	return 0;
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

/* Functions at the bottom of Go's stacks, whose CFI does not say so:
 * every goroutine returns into runtime.goexit, and threads the runtime
 * starts begin in runtime.mstart (from runtime.clone) or, for the first
 * one, runtime.rt0_go. The ".abi0" variants are the assembly bodies. */
static bool modules_go_bottom(const char *name)
{
	static const char *const bottoms[] = {
		"runtime.goexit", "runtime.mstart", "runtime.rt0_go",
		"runtime.clone",
	};

	if (!name || strncmp(name, "runtime.", 8) != 0)
		return false;
	for (size_t i = 0; i < sizeof(bottoms) / sizeof(bottoms[0]); i++) {
		size_t n = strlen(bottoms[i]);

		if (strncmp(name, bottoms[i], n) == 0 &&
		    (name[n] == '\0' || strcmp(name + n, ".abi0") == 0))
			return true;
	}
	return false;
}

bool modules_stack_bottom(Dwfl *dwfl, Dwarf_Addr pc)
{
	Dwfl_Module *mod = dwfl_addrmodule(dwfl, pc);
	Dwarf_Frame *frame = NULL;
	Dwarf_Op ops_mem[3], *ops = NULL;
	size_t nops = 0;
	bool undefined = false;
	int ra;

	if (!mod)
		return false;
	if (modules_pc_frame(mod, pc, &frame)) {
		ra = dwarf_frame_info(frame, NULL, NULL, NULL);
		/* libdw's convention (libdw.h): no operation and *ops ==
		 * ops_mem is DW_CFA_undefined (*ops == NULL would be
		 * DW_CFA_same_value). */
		if (ra >= 0 &&
		    dwarf_frame_register(frame, ra, ops_mem, &ops, &nops) == 0)
			undefined = nops == 0 && ops == ops_mem;
		free(frame);
		if (undefined)
			return true;
	}
	return modules_go_bottom(dwfl_module_addrname(mod, pc));
}

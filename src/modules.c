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
			    modules_same_file(x, &m->maps[cur->first])) {
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

int modules_report_maps(Dwfl *dwfl, pid_t pid, const struct procfs_maps *m)
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
	 * symbol (docs/design.md §4.1). A deleted file keeps the
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
		    asprintf(&name, "[vdso: %d]", (int)pid) < 0 :
		    asprintf(&name, "%s%s", x->path,
			     x->deleted ? " (deleted)" : "") < 0) {
			e = -ENOMEM;
			break;
		}
		if (!dwfl_report_module(dwfl, name, runs[i].start, runs[i].end))
			e = -EINVAL;
		free(name);
	}
	free(runs);
	return e;
}

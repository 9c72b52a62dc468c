/*
 * test_symbolize.c - symbolizes addresses of a running inline_nofp workload:
 * names, file:line, the inlined inl_mix() chain, a libc symbol, the vDSO,
 * build-ids, unmapped addresses, the cache, kernel symbols; the same chain
 * in builds without .debug_aranges (clang, clang linked with gcc); JIT code
 * named from a perf map, a file mapped twice, which mappings make modules.
 */
#include <dlfcn.h>
#include <dirent.h>
#include <sys/auxv.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sys/mman.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <elfutils/libdwfl.h>

#include "check.h"
#include "workload.h"
#include "procfs.h"
#include "modules.h"
#include "symbolize.h"
#include "symtab.h"

#define WORKLOAD WORKLOAD_DIR "/inline_nofp"

/* Starts the workload and waits until it has exec'd and mapped libc. */
static pid_t start_workload(const char *path)
{
	return start_workload_for(path, "20", 50);
}

/* Line number of the first source line containing marker. */
static int source_line(const char *marker)
{
	char line[512], path[4096];
	int n = 0, found = 0;
	FILE *f;

	/* TEST_DATA_DIR is tests/data, which may not exist yet. */
	snprintf(path, sizeof(path), "%s", TEST_DATA_DIR);
	*strrchr(path, '/') = '\0';
	strncat(path, "/workloads/inline.c", sizeof(path) - strlen(path) - 1);
	f = fopen(path, "r");

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		n++;
		if (strstr(line, marker)) {
			found = n;
			break;
		}
	}
	fclose(f);
	return found;
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t a = s ? strlen(s) : 0, b = strlen(suffix);

	return s && a >= b && strcmp(s + a - b, suffix) == 0;
}

static void test_workload(void)
{
	struct symbolizer *s = NULL;
	const struct sym_frame *f, *f2;
	const struct sym_module *const *mods;
	char err[256] = "";
	uint64_t base, hot, hot_size = 0, middle, outer, main_addr;
	int mix_line = source_line("INL_MIX_LINE");
	int call_line = source_line("INL_CALL_LINE");
	int middle_first = source_line("void middle(");
	int outer_first = source_line("void outer(");
	size_t nmods;
	int r;

	CHECK(mix_line > 0 && call_line > 0 && middle_first > 0);
	child = start_workload(WORKLOAD);
	CHECK(child > 0);
	r = symbolizer_new(child, false, &s, err, sizeof(err));
	CHECK_INT(r, 0);
	if (r) {
		fprintf(stderr, "symbolizer_new: %s\n", err);
		return;
	}
	base = load_base(child, "/inline_nofp");
	hot = nm_symbol(WORKLOAD, "hot", &hot_size);
	middle = nm_symbol(WORKLOAD, "middle", NULL);
	outer = nm_symbol(WORKLOAD, "outer", NULL);
	main_addr = nm_symbol(WORKLOAD, "main", NULL);
	CHECK(base != 0 && hot != 0 && hot_size > 0 && middle && outer);

	nmods = symbolizer_modules(s, &mods);
	CHECK(nmods >= 3);	/* binary, libc, ld.so (and the vDSO) */
	CHECK(ends_with(mods[0]->path, "/inline_nofp"));
	CHECK_INT(mods[0]->index, 0);
	CHECK(strlen(mods[0]->build_id) >= 16);
	CHECK(mods[0]->start <= base + hot && base + hot < mods[0]->end);

	/* Plain functions: name, module, file, a line inside the body. */
	f = symbolizer_lookup(s, base + middle, false);
	CHECK(f && f->nlines == 1);
	if (f && f->nlines == 1) {
		CHECK_STR(f->lines[0].function, "middle");
		CHECK_STR(f->lines[0].system_name, "middle");
		CHECK(ends_with(f->lines[0].file, "workloads/inline.c"));
		CHECK(f->lines[0].line >= middle_first &&
		      f->lines[0].line < outer_first);
		CHECK_INT(f->lines[0].offset, 0);
		CHECK(f->module == mods[0]);
		CHECK_INT(f->addr, base + middle);
	}
	/* The cache gives the very same frame. */
	f2 = symbolizer_lookup(s, base + middle, false);
	CHECK(f2 == f);
	f = symbolizer_lookup(s, base + outer + 2, false);
	CHECK(f && f->nlines >= 1 &&
	      strcmp(f->lines[f->nlines - 1].function, "outer") == 0);
	if (f && f->nlines)
		CHECK_INT(f->lines[f->nlines - 1].offset, 2);
	CHECK_STR(symbolizer_name(s, base + main_addr), "main");

	/* Somewhere in hot, inl_mix is inlined: innermost inl_mix at its
	 * own line, outermost hot at the call line. */
	bool seen_inline = false;
	for (uint64_t a = base + hot; a < base + hot + hot_size; a++) {
		f = symbolizer_lookup(s, a, false);
		if (!f || f->nlines < 2)
			continue;
		seen_inline = true;
		CHECK_STR(f->lines[0].function, "inl_mix");
		CHECK_INT(f->lines[0].line, mix_line);
		CHECK(ends_with(f->lines[0].file, "workloads/inline.c"));
		CHECK_INT(f->lines[0].offset, 0);
		CHECK_STR(f->lines[f->nlines - 1].function, "hot");
		CHECK_INT(f->lines[f->nlines - 1].line, call_line);
		CHECK_INT(f->lines[f->nlines - 1].offset, a - (base + hot));
		break;
	}
	CHECK(seen_inline);
	CHECK(mods[0]->has_inline_frames);

	/* A return address is looked up at addr - 1: the address right after
	 * hot's last byte seen as a return address still belongs to hot. */
	f = symbolizer_lookup(s, base + hot + hot_size, true);
	CHECK(f && f->nlines >= 1 &&
	      strcmp(f->lines[f->nlines - 1].function, "hot") == 0);
	CHECK(f && f->addr == base + hot + hot_size);
	f2 = symbolizer_lookup(s, base + hot + hot_size, false);
	CHECK(f2 != f);

	/* Unmapped. */
	f = symbolizer_lookup(s, 0x10, false);
	CHECK(f && f->nlines == 0 && f->module == NULL);
	CHECK(symbolizer_name(s, 0x10) == NULL);

	/* libc: same file in this process, other load base. */
	void *ns = dlsym(RTLD_DEFAULT, "nanosleep");
	Dl_info di = { 0 };
	CHECK(ns && dladdr(ns, &di) && strstr(di.dli_fname, "libc.so"));
	uint64_t my_libc = (uint64_t)di.dli_fbase;
	uint64_t its_libc = load_base(child, "/libc.so");
	CHECK(ns && my_libc && its_libc);
	f = symbolizer_lookup(s, (uint64_t)ns - my_libc + its_libc, false);
	CHECK(f && f->nlines >= 1 && f->module);
	if (f && !(f->nlines >= 1 && f->module))
		fprintf(stderr, "libc: %p %#llx %#llx -> nlines %zu module %s\n",
			ns, (unsigned long long)my_libc,
			(unsigned long long)its_libc, f->nlines,
			f->module ? f->module->path : "-");
	if (f && f->nlines >= 1 && f->module) {
		CHECK(strstr(f->lines[f->nlines - 1].function, "nanosleep"));
		/* No symbol version ("@@GLIBC_2.2.5") in names. */
		CHECK(!strchr(f->lines[f->nlines - 1].function, '@'));
		CHECK(!strchr(f->lines[f->nlines - 1].system_name, '@'));
		CHECK(strstr(f->module->path, "libc.so"));
		CHECK(f->module->index > 0);
		CHECK(strlen(f->module->build_id) >= 16);
	}

	/* glibc's .symtab says "__libc_start_main@@GLIBC_2.34": the
	 * version is dropped from the name. */
	void *lsm = dlsym(RTLD_DEFAULT, "__libc_start_main");
	CHECK(lsm != NULL);
	if (lsm && my_libc && its_libc) {
		f = symbolizer_lookup(s, (uint64_t)lsm - my_libc + its_libc + 1,
				      false);
		CHECK(f && f->nlines >= 1);
		if (f && f->nlines >= 1) {
			CHECK_STR(f->lines[f->nlines - 1].function,
				  "__libc_start_main");
			CHECK_STR(f->lines[f->nlines - 1].system_name,
				  "__libc_start_main");
		}
	}

	/* vDSO: read from memory, named. */
	bool seen_vdso = false;
	for (size_t i = 0; i < nmods; i++) {
		if (strcmp(mods[i]->path, "[vdso]") != 0)
			continue;
		for (uint64_t a = mods[i]->start; a < mods[i]->end; a += 4) {
			f = symbolizer_lookup(s, a, false);
			if (f && f->nlines &&
			    strstr(f->lines[0].function, "clock_gettime")) {
				seen_vdso = true;
				CHECK(f->module == mods[i]);
				break;
			}
		}
	}
	CHECK(seen_vdso);

	/* Nothing changed: refresh keeps everything. */
	const struct sym_module *m0 = mods[0];
	CHECK_INT(symbolizer_refresh(s), 0);
	CHECK_INT(symbolizer_modules(s, &mods), nmods);
	CHECK(mods[0] == m0);
	CHECK(symbolizer_dwfl(s) != NULL);

	symbolizer_free(s);
	kill_child();
}

/* Units that .debug_aranges leave out (docs/design.md §4.2): inline.c built
 * by clang has no aranges at all; inline_mixed links the same clang object
 * with a gcc-built unit (main, run) that has them, around the clang code.
 * hot still has inl_mix inlined with inline.c's lines, middle its own line,
 * and the gcc unit's run its line in inline_mixed.c. */
static void test_no_aranges(const char *path, const char *gcc_fn)
{
	struct symbolizer *s = NULL;
	const struct sym_frame *f;
	const struct sym_module *const *mods;
	char err[256] = "";
	const char *name = strrchr(path, '/');
	uint64_t base, hot, hot_size = 0, middle, outer;
	int mix_line = source_line("INL_MIX_LINE");
	int call_line = source_line("INL_CALL_LINE");
	int middle_first = source_line("void middle(");
	int outer_first = source_line("void outer(");
	bool seen_inline = false;
	int r;

	child = start_workload(path);
	CHECK(child > 0);
	r = symbolizer_new(child, false, &s, err, sizeof(err));
	CHECK_INT(r, 0);
	if (r) {
		fprintf(stderr, "symbolizer_new: %s\n", err);
		kill_child();
		return;
	}
	base = load_base(child, name);
	hot = nm_symbol(path, "hot", &hot_size);
	middle = nm_symbol(path, "middle", NULL);
	outer = nm_symbol(path, "outer", NULL);
	CHECK(base && hot && hot_size && middle && outer);

	for (uint64_t a = base + hot; a < base + hot + hot_size; a++) {
		f = symbolizer_lookup(s, a, false);
		if (!f || f->nlines < 2)
			continue;
		seen_inline = true;
		CHECK_STR(f->lines[0].function, "inl_mix");
		CHECK(f->lines[0].line >= mix_line - 3 &&
		      f->lines[0].line <= mix_line);
		CHECK(ends_with(f->lines[0].file, "workloads/inline.c"));
		CHECK_STR(f->lines[f->nlines - 1].function, "hot");
		CHECK_INT(f->lines[f->nlines - 1].line, call_line);
		CHECK(ends_with(f->lines[f->nlines - 1].file,
				"workloads/inline.c"));
		break;
	}
	CHECK(seen_inline);
	f = symbolizer_lookup(s, base + middle, false);
	CHECK(f && f->nlines == 1);
	if (f && f->nlines == 1) {
		CHECK_STR(f->lines[0].function, "middle");
		CHECK(ends_with(f->lines[0].file, "workloads/inline.c"));
		CHECK(f->lines[0].line >= middle_first &&
		      f->lines[0].line < outer_first);
	}
	if (gcc_fn) {
		uint64_t g = nm_symbol(path, gcc_fn, NULL);

		CHECK(g != 0);
		f = symbolizer_lookup(s, base + g, false);
		CHECK(f && f->nlines == 1);
		if (f && f->nlines == 1) {
			CHECK_STR(f->lines[0].function, gcc_fn);
			CHECK(ends_with(f->lines[0].file, "/inline_mixed.c"));
			CHECK(f->lines[0].line > 0);
		}
	}
	symbolizer_modules(s, &mods);
	CHECK(ends_with(mods[0]->path, name));
	CHECK(mods[0]->has_inline_frames);
	symbolizer_free(s);
	kill_child();
}

/* SYM_LINES_OWN: a library whose DWARF is only in a separate debug file
 * (libc with libc6-dbg) keeps its function names but gets no file:line,
 * and its module says so; the program's own DWARF is still read. With
 * SYM_LINES_ALL the same libc address has a file and a line. */
static void test_lines_policy(void)
{
	void *ns = dlsym(RTLD_DEFAULT, "nanosleep");
	Dl_info di = { 0 };
	CHECK(ns && dladdr(ns, &di));
	child = start_workload(WORKLOAD);
	CHECK(child > 0);
	uint64_t base = load_base(child, "/inline_nofp");
	uint64_t middle = nm_symbol(WORKLOAD, "middle", NULL);
	uint64_t libc_ns = (uint64_t)ns - (uint64_t)di.dli_fbase +
			   load_base(child, "/libc.so");
	bool libc_has_lines[2] = { false, false };

	for (int all = 0; all <= 1; all++) {
		struct symbolizer *s = NULL;
		char err[256] = "";
		CHECK_INT(symbolizer_new(child, false, &s, err, sizeof(err)), 0);
		if (!s)
			break;
		symbolizer_set_lines(s, all ? SYM_LINES_ALL : SYM_LINES_OWN);
		const struct sym_frame *f = symbolizer_lookup(s, libc_ns, false);
		CHECK(f && f->nlines >= 1 && f->module);
		if (f && f->nlines >= 1 && f->module) {
			CHECK(strstr(f->lines[f->nlines - 1].function, "nanosleep"));
			libc_has_lines[all] = f->lines[0].file && f->lines[0].line > 0;
			CHECK(f->module->has_line_numbers == libc_has_lines[all]);
		}
		f = symbolizer_lookup(s, base + middle, false);
		CHECK(f && f->nlines == 1 && f->lines[0].file &&
		      ends_with(f->lines[0].file, "workloads/inline.c") &&
		      f->lines[0].line > 0);
		symbolizer_free(s);
	}
	CHECK(!libc_has_lines[0]);
	/* libc6-dbg is installed by the test set-up: its lines are there. */
	CHECK(libc_has_lines[1]);
	kill_child();
}

static void test_kernel(void)
{
	struct procfs_ksyms k;
	struct symbolizer *s = NULL;
	const struct sym_frame *f;
	const struct procfs_ksym *target = NULL;
	char err[256];

	child = start_workload(WORKLOAD);
	CHECK_INT(symbolizer_new(child, true, &s, err, sizeof(err)), 0);
	CHECK_INT(procfs_read_kallsyms(&k), 0);
	if (!s)
		goto out;
	for (size_t i = 0; i < k.n; i++)
		if (strcmp(k.syms[i].name, "schedule") == 0)
			target = &k.syms[i];
	if (k.all_zero || !target) {
		/* Hidden addresses: kernel frames stay unsymbolized. */
		f = symbolizer_lookup(s, 0xffffffff81000000ULL, false);
		CHECK(f && f->nlines == 0 && f->module && f->module->is_kernel);
	} else {
		f = symbolizer_lookup(s, target->addr + 4, true);
		CHECK(f && f->nlines == 1 && f->module && f->module->is_kernel);
		if (f && f->nlines == 1) {
			CHECK_STR(f->lines[0].function, "schedule");
			CHECK_INT(f->lines[0].offset, 4);
			CHECK_STR(f->module->path, "[kernel]");
		}
	}
out:
	procfs_ksyms_release(&k);
	symbolizer_free(s);
	kill_child();
}

static void test_errors(void)
{
	struct symbolizer *s = (void *)1;
	char err[256] = "";

	/* A pid that cannot exist (above pid_max's maximum 2^22). */
	CHECK_INT(symbolizer_new(99999999, false, &s, err, sizeof(err)), -ESRCH);
	CHECK(s == NULL);
	CHECK(err[0] != '\0');
}

/* A library loaded after the symbolizer was made appears on refresh, and
 * results given before stay valid. */
static void test_refresh_dlopen(void)
{
	struct symbolizer *s = NULL;
	const struct sym_module *const *mods;
	const struct sym_module *m0;
	const struct sym_frame *before, *after;
	char err[256] = "";
	size_t n1, n2;
	void *h, *fn;
	bool found = false;

	CHECK_INT(symbolizer_new(getpid(), false, &s, err, sizeof(err)), 0);
	if (!s)
		return;
	n1 = symbolizer_modules(s, &mods);
	m0 = mods[0];
	CHECK(ends_with(m0->path, "/test_symbolize"));
	/* (No "unchanged" check here: libelf's own read-only maps of ELF
	 * files change this process's maps; test_workload checks it.) */

	h = dlopen("libprotobuf-c.so.1", RTLD_NOW | RTLD_LOCAL);
	CHECK(h != NULL);
	fn = h ? dlsym(h, "protobuf_c_version") : NULL;
	CHECK(fn != NULL);
	if (!fn)
		goto out;
	before = symbolizer_lookup(s, (uint64_t)fn, false);
	CHECK(before && before->module == NULL && before->nlines == 0);
	if (before && before->module)
		fprintf(stderr, "before: %p in %s [%#llx, %#llx) nlines %zu\n",
			fn, before->module->path,
			(unsigned long long)before->module->start,
			(unsigned long long)before->module->end,
			before->nlines);

	CHECK_INT(symbolizer_refresh(s), 0);
	n2 = symbolizer_modules(s, &mods);
	CHECK(n2 > n1);
	CHECK(mods[0] == m0);
	for (size_t i = n1; i < n2; i++) {
		CHECK_INT(mods[i]->index, i);
		if (strstr(mods[i]->path, "libprotobuf-c"))
			found = true;
	}
	CHECK(found);
	after = symbolizer_lookup(s, (uint64_t)fn, false);
	CHECK(after && after->nlines >= 1 && after->module &&
	      strstr(after->module->path, "libprotobuf-c"));
	if (after && after->nlines)
		CHECK_STR(after->lines[after->nlines - 1].function,
			  "protobuf_c_version");
	/* The frame handed out before the refresh is still readable. */
	CHECK(before && before->addr == (uint64_t)fn && before->nlines == 0);
	CHECK(symbolizer_lookup(s, (uint64_t)fn, false) == after);
out:
	if (h)
		dlclose(h);
	symbolizer_free(s);
}

/* --- JIT code and second mappings of a file -------------------------- */

/* Code at an address outside every file mapping: anonymous executable
 * memory is [jit], named from this process's /tmp/perf-PID.map, as the
 * file says at the time; other anonymous memory is nothing. */
static void test_jit(void)
{
	struct symbolizer *s = NULL;
	const struct sym_frame *f;
	char err[256] = "", map[64];
	uint8_t *code = mmap(NULL, 8192, PROT_READ | PROT_WRITE | PROT_EXEC,
			     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uint8_t *data = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
			     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uint64_t a = (uint64_t)(uintptr_t)code;
	FILE *pf;

	CHECK(code != MAP_FAILED && data != MAP_FAILED);
	if (code == MAP_FAILED || data == MAP_FAILED)
		return;
	snprintf(map, sizeof(map), "/tmp/perf-%d.map", (int)getpid());
	pf = fopen(map, "w");
	CHECK(pf != NULL);
	if (!pf)
		return;
	/* As node writes it: hex without 0x, the name with a space. */
	fprintf(pf, "%" PRIx64 " 40 JS:*first /app/x.js:1:1\n", a);
	fprintf(pf, "%" PRIx64 " 20 Stub:second\n", a + 0x40);
	fflush(pf);
	CHECK_INT(symbolizer_new(getpid(), false, &s, err, sizeof(err)), 0);
	if (!s)
		goto out;
	f = symbolizer_lookup(s, a + 8, false);
	CHECK(f && f->module && f->module->is_jit && f->nlines == 1);
	if (f && f->module && f->nlines == 1) {
		CHECK_STR(f->module->path, "[jit]");
		CHECK_STR(f->lines[0].function, "JS:*first /app/x.js:1:1");
		CHECK(f->lines[0].file == NULL && f->lines[0].line == 0);
		CHECK_INT(f->lines[0].offset, 8);
	}
	/* A return address just past the end of "first" is still in it. */
	f = symbolizer_lookup(s, a + 0x40, true);
	CHECK(f && f->nlines == 1 && f->lines[0].function &&
	      !strcmp(f->lines[0].function, "JS:*first /app/x.js:1:1"));
	f = symbolizer_lookup(s, a + 0x41, false);
	CHECK(f && f->nlines == 1 && f->lines[0].function &&
	      !strcmp(f->lines[0].function, "Stub:second"));
	/* Executable, not in the perf map: [jit], an address only. */
	f = symbolizer_lookup(s, a + 0x1000, false);
	CHECK(f && f->module && f->module->is_jit && f->nlines == 0);
	CHECK(f && f->module && !f->module->has_functions);
	/* Not executable, not named: nothing. */
	f = symbolizer_lookup(s, (uint64_t)(uintptr_t)data, false);
	CHECK(f && f->module == NULL && f->nlines == 0);
	CHECK(symbolizer_name(s, a + 8) &&
	      !strcmp(symbolizer_name(s, a + 8), "JS:*first /app/x.js:1:1"));

	/* New code over the old: the file grows, and after the poll
	 * interval the same address has the new name. */
	fprintf(pf, "%" PRIx64 " 10 JS:*replaced /app/x.js:9:1\n", a);
	fprintf(pf, "%" PRIx64 " 10 Stub:later\n", a + 0x1000);
	fflush(pf);
	usleep(120 * 1000);
	f = symbolizer_lookup(s, a + 8, false);
	CHECK(f && f->nlines == 1 && f->lines[0].function &&
	      !strcmp(f->lines[0].function, "JS:*replaced /app/x.js:9:1"));
	/* "first" is gone past the new entry's end. */
	f = symbolizer_lookup(s, a + 0x20, false);
	CHECK(f && f->module && f->module->is_jit && f->nlines == 0);
	f = symbolizer_lookup(s, a + 0x1000, false);
	CHECK(f && f->nlines == 1 && f->lines[0].function &&
	      !strcmp(f->lines[0].function, "Stub:later"));
	/* The [jit] mapping spans what was looked up in it. */
	const struct sym_module *const *mods;
	size_t n = symbolizer_modules(s, &mods);
	size_t jits = 0;
	for (size_t i = 0; i < n; i++) {
		if (!mods[i]->is_jit)
			continue;
		jits++;
		CHECK_INT(mods[i]->start, a + 8);
		CHECK_INT(mods[i]->end, a + 0x1001);
	}
	CHECK_INT(jits, 1);
	const char *pm = NULL;
	CHECK_INT(symbolizer_perfmap_error(s, &pm), 0);
	CHECK_STR(pm, map);
	/* Not the process's user's (nor root's): not read any more, and
	 * said so; the names read before stay. */
	if (getuid() == 0) {
		CHECK_INT(chown(map, 12345, 12345), 0);
		CHECK_INT(symbolizer_refresh(s), 0);
		CHECK_INT(symbolizer_perfmap_error(s, &pm), -EPERM);
		f = symbolizer_lookup(s, a + 0x1000, false);
		CHECK(f && f->nlines == 1);
	}
out:
	symbolizer_free(s);
	if (pf)
		fclose(pf);
	unlink(map);
	munmap(code, 8192);
	munmap(data, 4096);
}

__attribute__((noinline)) int test_alias_target(int x)
{
	__asm__ volatile("" : "+r"(x));
	return x * 3 + 1;
}

/* The test binary's text mapped a second time elsewhere, as V8 maps
 * node's builtins: its own module, named from the binary's symbols. */
static void test_alias(void)
{
	struct symbolizer *s = NULL;
	struct procfs_maps m;
	const struct procfs_map *line;
	const struct sym_frame *f, *orig;
	char err[256] = "";
	uint64_t fn = (uint64_t)(uintptr_t)test_alias_target, alias;
	void *copy = MAP_FAILED;
	size_t len = 0;
	int fd = -1;

	CHECK_INT(procfs_read_maps(getpid(), &m), 0);
	line = procfs_maps_find(&m, fn);
	CHECK(line && line->offset != 0 && line->perms[2] == 'x');
	if (!line)
		goto out;
	len = line->end - line->start;
	fd = open(line->path, O_RDONLY);
	CHECK(fd >= 0);
	copy = fd < 0 ? MAP_FAILED : mmap(NULL, len, PROT_READ | PROT_EXEC,
					  MAP_PRIVATE, fd, (off_t)line->offset);
	CHECK(copy != MAP_FAILED);
	if (copy == MAP_FAILED)
		goto out;
	alias = (uint64_t)(uintptr_t)copy + (fn - line->start);
	CHECK_INT(symbolizer_new(getpid(), false, &s, err, sizeof(err)), 0);
	if (!s)
		goto out;
	orig = symbolizer_lookup(s, fn, false);
	f = symbolizer_lookup(s, alias + 4, false);
	CHECK(orig && orig->nlines >= 1 && f && f->nlines >= 1);
	if (!orig || !f || !orig->nlines || !f->nlines)
		goto out;
	CHECK_STR(f->lines[f->nlines - 1].function, "test_alias_target");
	CHECK_INT(f->lines[f->nlines - 1].offset, 4);
	CHECK(f->lines[0].file && orig->lines[0].file &&
	      !strcmp(f->lines[0].file, orig->lines[0].file));
	/* A module of its own: the same file, where the copy is, and the
	 * load's module does not reach it. */
	CHECK(f->module && orig->module && f->module != orig->module);
	if (f->module && orig->module) {
		CHECK_STR(f->module->path, orig->module->path);
		CHECK_STR(f->module->build_id, orig->module->build_id);
		CHECK_INT(f->module->start, (uint64_t)(uintptr_t)copy);
		CHECK_INT(f->module->end, (uint64_t)(uintptr_t)copy + len);
		CHECK_INT(f->module->offset, line->offset);
		CHECK(!f->module->is_jit);
		CHECK(orig->module->end <= (uint64_t)(uintptr_t)copy ||
		      orig->module->start >= (uint64_t)(uintptr_t)copy + len);
	}
	/* (dwfl_addrmodule answers with the module below an address in a
	 * gap: check the range.) */
	Dwfl_Module *dm = dwfl_addrmodule(symbolizer_dwfl(s), alias);
	Dwarf_Addr lo = 0, hi = 0;
	if (dm)
		dwfl_module_info(dm, NULL, &lo, &hi, NULL, NULL, NULL, NULL);
	CHECK(!dm || alias < lo || alias >= hi);
out:
	symbolizer_free(s);
	if (copy != MAP_FAILED)
		munmap(copy, len);
	if (fd >= 0)
		close(fd);
	procfs_maps_release(&m);
}

/* --- modules_report_maps against dwfl_linux_proc_report ---------------- */

struct mod_list {
	char text[64][320];
	int n;
};

static int list_module(Dwfl_Module *mod, void **ud, const char *name,
		       Dwarf_Addr start, void *arg)
{
	struct mod_list *l = arg;
	Dwarf_Addr lo, hi;

	(void)ud;
	(void)start;
	dwfl_module_info(mod, NULL, &lo, &hi, NULL, NULL, NULL, NULL);
	if (l->n < 64)
		snprintf(l->text[l->n++], sizeof(l->text[0]), "%s %" PRIx64 "-%" PRIx64,
			 name, (uint64_t)lo, (uint64_t)hi);
	return DWARF_CB_OK;
}

static int no_elf(Dwfl_Module *mod, void **ud, const char *name,
		  Dwarf_Addr base, char **file_name, Elf **elfp)
{
	(void)mod; (void)ud; (void)name; (void)base; (void)file_name; (void)elfp;
	return -1;
}

static char *no_path;
static const Dwfl_Callbacks no_elf_callbacks = {
	.find_elf = no_elf,
	.find_debuginfo = dwfl_standard_find_debuginfo,
	.debuginfo_path = &no_path,
};

static void report_into(struct mod_list *l, pid_t pid,
			const struct procfs_maps *m)
{
	Dwfl *dwfl = dwfl_begin(&no_elf_callbacks);

	memset(l, 0, sizeof(*l));
	CHECK(dwfl != NULL);
	if (!dwfl)
		return;
	dwfl_report_begin(dwfl);
	if (m) {
		struct modules_proc *p = NULL;
		CHECK_INT(modules_proc_new(pid, &p), 0);
		if (p)
			CHECK_INT(modules_report_maps(dwfl, p, m), 0);
		modules_proc_free(p);
	} else
		CHECK_INT(dwfl_linux_proc_report(dwfl, pid), 0);
	CHECK_INT(dwfl_report_end(dwfl, NULL, NULL), 0);
	dwfl_getmodules(dwfl, list_module, l, 0);
	dwfl_end(dwfl);
}

static void test_report_maps(void)
{
	struct mod_list ours, theirs;
	struct procfs_maps m;

	/* This process, with a library dlopen'ed and its maps as the kernel
	 * prints them: the same modules, names and ranges as libdwfl's own
	 * reading of the file. */
	void *h = dlopen("libz.so.1", RTLD_NOW);
	CHECK(h != NULL);
	CHECK_INT(procfs_read_maps(getpid(), &m), 0);
	report_into(&ours, getpid(), &m);
	report_into(&theirs, getpid(), NULL);
	procfs_maps_release(&m);
	CHECK(ours.n >= 4);
	CHECK_INT(ours.n, theirs.n);
	for (int i = 0; i < ours.n && i < theirs.n; i++)
		CHECK_STR(ours.text[i], theirs.text[i]);
	bool vdso = false;
	for (int i = 0; i < ours.n; i++)
		vdso |= strncmp(ours.text[i], "[vdso: ", 7) == 0;
	CHECK(vdso);
	if (h)
		dlclose(h);

	/* Made-up maps: one file in three pieces around its anonymous .bss
	 * (one module), a deleted file, a device file (a module to libdwfl
	 * too: only device 0:0 with inode 0 means anonymous), pseudo-files
	 * (no modules), the vDSO between two files. */
	const char *text =
		"1000-2000 r--p 00000000 08:01 100 /usr/lib/liba.so\n"
		"2000-3000 r-xp 00001000 08:01 100 /usr/lib/liba.so\n"
		"3000-4000 rw-p 00000000 00:00 0 \n"
		"4000-5000 rw-p 00003000 08:01 100 /usr/lib/liba.so\n"
		"5000-6000 r-xp 00000000 00:00 0 [vdso]\n"
		"6000-7000 r-xp 00000000 08:01 200 /tmp/gone (deleted)\n"
		"7000-8000 rw-s 00000000 00:05 0 /dev/zero\n"
		"8000-9000 rw-p 00000000 00:00 0 [stack]\n"
		"9000-a000 r-xp 00000000 08:01 300 /opt/b b/libb.so\n";
	CHECK_INT(procfs_parse_maps(text, &m), 0);
	report_into(&ours, 4242, &m);
	procfs_maps_release(&m);
	CHECK_INT(ours.n, 5);
	if (ours.n == 5) {
		CHECK_STR(ours.text[0], "/usr/lib/liba.so 1000-5000");
		CHECK_STR(ours.text[1], "[vdso: 4242] 5000-6000");
		CHECK_STR(ours.text[2], "/tmp/gone (deleted) 6000-7000");
		CHECK_STR(ours.text[3], "/dev/zero 7000-8000");
		CHECK_STR(ours.text[4], "/opt/b b/libb.so 9000-a000");
	}

	/* node: its executable, .bss, the heap, JIT code, and the builtins
	 * mapped again from the executable (docs/design.md §4.4). The
	 * module ends with the executable's own lines; the second mapping
	 * is an alias, not a module; a library whose first line is not at
	 * offset 0 but has no other mapping stays a module. */
	text =
		"400000-b6f000 r--p 00000000 fe:00 247823 /usr/bin/node\n"
		"b6f000-25fe000 r-xp 0076f000 fe:00 247823 /usr/bin/node\n"
		"25fe000-2601000 ---p 00000000 00:00 0 \n"
		"2601000-565d000 rw-p 02201000 fe:00 247823 /usr/bin/node\n"
		"565d000-5689000 rw-p 00000000 00:00 0 \n"
		"23c40000-23f03000 rw-p 00000000 00:00 0 [heap]\n"
		"7f0000000000-7f0000040000 rwxp 00000000 00:00 0 \n"
		"7f0000100000-7f0000292000 r-xp 014c4000 fe:00 247823 /usr/bin/node\n"
		"7f0000300000-7f0000301000 r-xp 00001000 08:01 500 /usr/lib/libx.so\n"
		/* An unmapped gap between two lines of a file (segments
		 * 2 MiB apart): one module. */
		"7f0000400000-7f0000401000 r-xp 00000000 08:01 600 /usr/lib/liby.so\n"
		"7f0000600000-7f0000601000 rw-p 00200000 08:01 600 /usr/lib/liby.so\n"
		/* An anonymous mapping after a gap ends a run. */
		"7f0000700000-7f0000701000 r-xp 00000000 08:01 700 /usr/lib/libz.so\n"
		"7f0000800000-7f0000801000 rwxp 00000000 00:00 0 \n"
		"7f0000900000-7f0000901000 r--p 00001000 08:01 700 /usr/lib/libz.so\n";
	CHECK_INT(procfs_parse_maps(text, &m), 0);
	report_into(&ours, 4242, &m);
	CHECK_INT(ours.n, 4);
	if (ours.n == 4) {
		CHECK_STR(ours.text[0], "/usr/bin/node 400000-565d000");
		CHECK_STR(ours.text[1], "/usr/lib/libx.so 7f0000300000-7f0000301000");
		CHECK_STR(ours.text[2], "/usr/lib/liby.so 7f0000400000-7f0000601000");
		CHECK_STR(ours.text[3], "/usr/lib/libz.so 7f0000700000-7f0000701000");
	}
	struct modules_run *runs = NULL;
	size_t nruns = 0;
	CHECK_INT(modules_runs(&m, &runs, &nruns), 0);
	CHECK_INT(nruns, 6);
	if (nruns == 6) {
		CHECK(!runs[0].alias && runs[0].first == 0 && runs[0].last == 3);
		CHECK(runs[1].alias && runs[1].first == 7 && runs[1].last == 7);
		CHECK(runs[1].start == 0x7f0000100000ULL &&
		      runs[1].end == 0x7f0000292000ULL);
		CHECK(!runs[2].alias);
		CHECK(!runs[3].alias && runs[3].last == 10);
		CHECK(!runs[4].alias && runs[4].first == 11 && runs[4].last == 11);
		CHECK(runs[5].alias && runs[5].first == 13);
	}
	free(runs);
	procfs_maps_release(&m);
}

/* A process known from its mappings alone: read while it runs, then the
 * process is gone before the symbolizer is made (a short-lived child whose
 * samples are read late). Its files are opened by path; a file marked
 * deleted (replaced since) is not opened at all. set_maps adds modules. */
static void test_new_maps(void)
{
	struct procfs_maps m = { 0 }, part = { 0 };
	struct symbolizer *s = NULL;
	const struct sym_frame *f;
	char err[256] = "";
	uint64_t base, middle, libc_fn;
	pid_t pid;

	child = start_workload(WORKLOAD);
	CHECK(child > 0);
	base = load_base(child, "/inline_nofp");
	middle = nm_symbol(WORKLOAD, "middle", NULL);
	CHECK_INT(procfs_read_maps(child, &m), 0);
	/* An address in libc's code: the libc mapping that is executable. */
	libc_fn = 0;
	for (size_t i = 0; i < m.n; i++)
		if (strstr(m.maps[i].path, "/libc.so") && m.maps[i].perms[2] == 'x')
			libc_fn = m.maps[i].start + 0x100;
	CHECK(libc_fn != 0);
	pid = child;
	kill_child();
	CHECK(kill(pid, 0) < 0);

	/* The mappings without libc first. */
	CHECK_INT(procfs_maps_dup(&m, &part), 0);
	size_t k = 0;
	for (size_t i = 0; i < part.n; i++) {
		if (strstr(part.maps[i].path, "/libc.so"))
			free(part.maps[i].path);
		else
			part.maps[k++] = part.maps[i];
	}
	part.n = k;
	CHECK_INT(symbolizer_new_maps(pid, &part, NULL, &s, err, sizeof(err)), 0);
	if (!s) {
		fprintf(stderr, "symbolizer_new_maps: %s\n", err);
		goto out;
	}
	f = symbolizer_lookup(s, base + middle, false);
	CHECK(f && f->module && f->nlines == 1);
	if (f && f->nlines == 1) {
		CHECK_STR(f->lines[0].function, "middle");
		CHECK(ends_with(f->lines[0].file, "workloads/inline.c"));
		CHECK(strlen(f->module->build_id) >= 16);
	}
	f = symbolizer_lookup(s, libc_fn, false);
	CHECK(f && !f->module);
	CHECK_INT(symbolizer_set_maps(s, &m), 0);
	f = symbolizer_lookup(s, libc_fn, false);
	CHECK(f && f->module && ends_with(f->module->path, "/libc.so.6"));
	symbolizer_free(s);
	s = NULL;

	/* The binary as ld.so or the kernel first maps it: the whole file
	 * read-only, before its segments are mapped over it. A report then
	 * finds no code in it; one made once the text is mapped does. */
	struct procfs_maps first = { 0 };
	uint64_t bin_end = 0;

	for (size_t i = 0; i < m.n; i++)
		if (ends_with(m.maps[i].path, "/inline_nofp"))
			bin_end = m.maps[i].end;
	for (size_t i = 0; i < m.n; i++) {
		if (ends_with(m.maps[i].path, "/inline_nofp") && m.maps[i].offset == 0) {
			first.maps = calloc(1, sizeof(*first.maps));
			first.maps[0] = m.maps[i];
			first.maps[0].end = bin_end;
			strcpy(first.maps[0].perms, "r--p");
			first.maps[0].path = strdup(m.maps[i].path);
			first.n = 1;
			break;
		}
	}
	CHECK_INT(first.n, 1);
	CHECK_INT(symbolizer_new_maps(pid, &first, NULL, &s, err, sizeof(err)), 0);
	if (s) {
		f = symbolizer_lookup(s, base + middle, false);
		CHECK(f && !f->module && f->nlines == 0);
		CHECK_INT(symbolizer_set_maps(s, &m), 0);
		f = symbolizer_lookup(s, base + middle, false);
		CHECK(f && f->module && f->nlines == 1 &&
		      !strcmp(f->lines[0].function, "middle"));
		const struct sym_module *const *mods;
		CHECK(symbolizer_modules(s, &mods) >= 2);
		CHECK(ends_with(mods[0]->path, "/inline_nofp"));
		symbolizer_free(s);
		s = NULL;
	}
	procfs_maps_release(&first);

	/* The binary marked deleted (its file replaced, say): never opened
	 * by path, so no name rather than a wrong one. */
	for (size_t i = 0; i < m.n; i++)
		if (ends_with(m.maps[i].path, "/inline_nofp"))
			m.maps[i].deleted = true;
	CHECK_INT(symbolizer_new_maps(pid, &m, NULL, &s, err, sizeof(err)), 0);
	if (s) {
		f = symbolizer_lookup(s, base + middle, false);
		CHECK(f && f->nlines == 0);
		symbolizer_free(s);
	}
	/* Kernel only: pid 0, no mappings. */
	struct procfs_maps none = { 0 };
	CHECK_INT(symbolizer_new_maps(0, &none, NULL, &s, err, sizeof(err)), 0);
	if (s) {
		const struct sym_module *const *mods;

		CHECK_INT(symbolizer_modules(s, &mods), 0);
		f = symbolizer_lookup(s, base + middle, false);
		CHECK(f && !f->module && f->nlines == 0);
		symbolizer_free(s);
	}
out:
	procfs_maps_release(&m);
	procfs_maps_release(&part);
}

/* Two processes of the same program, at different addresses (ASLR),
 * share a symbol cache: the second gets the first's symbols moved to its
 * own load address, the names those of a symbolizer without a cache. */
static void test_cache(void)
{
	struct symtab_cache *c = symtab_cache_new();
	struct symbolizer *s1 = NULL, *s2 = NULL, *s0 = NULL;
	char err[256] = "";
	void *fn = dlsym(RTLD_DEFAULT, "nanosleep");
	uint64_t off = (uint64_t)(uintptr_t)fn - load_base(getpid(), "/libc.so");
	uint64_t middle = nm_symbol(WORKLOAD, "middle", NULL);
	pid_t a, b;

	CHECK(c && fn);
	a = start_workload(WORKLOAD);
	b = start_workload(WORKLOAD);
	CHECK(a > 0 && b > 0);
	uint64_t la = load_base(a, "/libc.so"), lb = load_base(b, "/libc.so");
	uint64_t ba = load_base(a, "/inline_nofp"), bb = load_base(b, "/inline_nofp");
	CHECK(la && lb && la != lb && ba != bb);
	CHECK_INT(symbolizer_new(a, false, &s1, err, sizeof(err)), 0);
	CHECK_INT(symbolizer_new(b, false, &s2, err, sizeof(err)), 0);
	CHECK_INT(symbolizer_new(b, false, &s0, err, sizeof(err)), 0);
	if (s1 && s2 && s0) {
		symbolizer_set_cache(s1, c);
		symbolizer_set_cache(s2, c);
		const struct sym_frame *f1 = symbolizer_lookup(s1, la + off, false);
		const struct sym_frame *f2 = symbolizer_lookup(s2, lb + off, false);
		const struct sym_frame *f0 = symbolizer_lookup(s0, lb + off, false);

		CHECK(f1 && f2 && f0 && f0->nlines >= 1);
		if (f1 && f2 && f0 && f0->nlines >= 1 && f1->nlines >= 1 &&
		    f2->nlines >= 1) {
			const char *n0 = f0->lines[f0->nlines - 1].function;

			CHECK(strstr(n0, "nanosleep") != NULL);
			CHECK_STR(f1->lines[f1->nlines - 1].function, n0);
			CHECK_STR(f2->lines[f2->nlines - 1].function, n0);
			CHECK_INT(f2->lines[f2->nlines - 1].offset,
				  f0->lines[f0->nlines - 1].offset);
		}
		f1 = symbolizer_lookup(s1, ba + middle, false);
		f2 = symbolizer_lookup(s2, bb + middle + 1, false);
		CHECK(f1 && f1->nlines == 1 && !strcmp(f1->lines[0].function, "middle"));
		CHECK(f2 && f2->nlines == 1 && !strcmp(f2->lines[0].function, "middle") &&
		      f2->lines[0].offset == 1);
	}
	symbolizer_free(s0);
	symbolizer_free(s1);
	symbolizer_free(s2);
	/* The names stay valid in the cache after the symbolizers are gone. */
	symtab_cache_free(c);
	kill(a, SIGKILL);
	kill(b, SIGKILL);
	waitpid(a, NULL, 0);
	waitpid(b, NULL, 0);
}

static int count_sockets(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;
	char path[300], link[64];
	int n = 0;

	if (!d)
		return -1;
	while ((de = readdir(d)) != NULL) {
		snprintf(path, sizeof(path), "/proc/self/fd/%s", de->d_name);
		ssize_t len = readlink(path, link, sizeof(link) - 1);
		if (len > 0) {
			link[len] = '\0';
			n += !strncmp(link, "socket:", 7);
		}
	}
	closedir(d);
	return n;
}

/* A module with no debug file anywhere (the vDSO: a build id, nothing
 * under /usr/lib/debug) must not make libdwfl start a debuginfod client:
 * its curl handle kept a socketpair open until the symbolizer ended
 * (docs/design.md §4). */
static void test_no_debuginfod(void)
{
	struct symbolizer *s = NULL;
	char err[256];
	uint64_t vdso = (uint64_t)getauxval(AT_SYSINFO_EHDR);
	int before = count_sockets();

	CHECK(vdso != 0);
	CHECK_INT(symbolizer_new(getpid(), false, &s, err, sizeof(err)), 0);
	if (!s)
		return;
	const struct sym_frame *f = NULL;
	/* Some address in its text: the lookups go through the symbol
	 * table and the debug file search. */
	for (uint64_t off = 0x800; off < 0x2000 && !(f && f->nlines); off += 0x40)
		f = symbolizer_lookup(s, vdso + off, false);
	CHECK(f && f->module);
	CHECK_INT(count_sockets(), before);
	symbolizer_free(s);
}

int main(void)
{
	test_no_debuginfod();
	test_cache();
	test_new_maps();
	alarm(100);
	test_workload();
	test_lines_policy();
	kill_child();
	test_no_aranges(WORKLOAD_DIR "/inline_clang", NULL);
	test_no_aranges(WORKLOAD_DIR "/inline_mixed", "run");
	test_kernel();
	test_errors();
	test_refresh_dlopen();
	test_report_maps();
	test_jit();
	test_alias();
	return check_done();
}

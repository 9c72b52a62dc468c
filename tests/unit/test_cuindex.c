/*
 * test_cuindex.c - the index of compile unit ranges on the workloads' own
 * files: the clang build of inline.c (no .debug_aranges: libdw's
 * dwarf_addrdie finds nothing), the gcc build (aranges for every unit: an
 * empty index), both linked together (the clang unit only), and a Go
 * binary (a unit per package, ranges in .debug_ranges, compressed
 * sections).
 *
 * With a file argument it measures instead: the time to build the index of
 * that file's DWARF (after libdw has read the sections), e.g.
 *   build/tests/test_cuindex /path/to/a/big/binary
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <dwarf.h>
#include <elfutils/libdw.h>
#include <gelf.h>

#include "check.h"
#include "cuindex.h"

struct dw_file {
	int fd;
	Dwarf *dw;
	Elf *elf;
};

static bool dw_open(const char *path, struct dw_file *f)
{
	f->fd = open(path, O_RDONLY | O_CLOEXEC);
	f->dw = f->fd >= 0 ? dwarf_begin(f->fd, DWARF_C_READ) : NULL;
	f->elf = f->dw ? dwarf_getelf(f->dw) : NULL;
	if (!f->dw)
		fprintf(stderr, "%s: %s\n", path, dwarf_errmsg(-1));
	return f->dw != NULL;
}

static void dw_close(struct dw_file *f)
{
	if (f->dw)
		dwarf_end(f->dw);
	if (f->fd >= 0)
		close(f->fd);
}

/* Calls fn(name, addr, arg) for every defined function symbol of .symtab. */
static size_t each_function(Elf *elf,
			    void (*fn)(const char *, GElf_Addr, void *),
			    void *arg)
{
	Elf_Scn *scn = NULL;
	size_t n = 0;

	while ((scn = elf_nextscn(elf, scn))) {
		GElf_Shdr sh;
		Elf_Data *data;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_SYMTAB ||
		    !(data = elf_getdata(scn, NULL)))
			continue;
		for (size_t i = 0; i < sh.sh_size / sh.sh_entsize; i++) {
			GElf_Sym sym;
			const char *name;

			if (!gelf_getsym(data, (int)i, &sym) ||
			    GELF_ST_TYPE(sym.st_info) != STT_FUNC ||
			    sym.st_shndx == SHN_UNDEF || sym.st_value == 0)
				continue;
			name = elf_strptr(elf, sh.sh_link, sym.st_name);
			if (name) {
				fn(name, sym.st_value, arg);
				n++;
			}
		}
	}
	return n;
}

struct find_sym {
	const char *name;
	GElf_Addr addr;
};

static void find_sym_cb(const char *name, GElf_Addr addr, void *arg)
{
	struct find_sym *f = arg;

	if (strcmp(name, f->name) == 0)
		f->addr = addr;
}

static GElf_Addr sym_addr(Elf *elf, const char *name)
{
	struct find_sym f = { name, 0 };

	each_function(elf, find_sym_cb, &f);
	return f.addr;
}

static const char *unit_name(struct cuindex *ix, Dwarf_Addr a)
{
	Dwarf_Die die;

	return cuindex_find(ix, a, &die) ? dwarf_diename(&die) : NULL;
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t a = s ? strlen(s) : 0, b = strlen(suffix);

	return s && a >= b && strcmp(s + a - b, suffix) == 0;
}

/* clang: no aranges, so dwarf_addrdie fails; the index finds inline.c's
 * unit, whose scopes hold the inlined inl_mix. */
static void test_clang(void)
{
	struct dw_file f;
	struct cuindex *ix = NULL;
	Dwarf_Die die, *scopes = NULL;
	GElf_Addr hot;
	int nscopes;
	bool inlined = false;

	if (!dw_open(WORKLOAD_DIR "/inline_clang", &f)) {
		CHECK(!"inline_clang opens");
		return;
	}
	hot = sym_addr(f.elf, "hot");
	CHECK(hot != 0);
	/* the premise: libdw alone finds no unit */
	CHECK(dwarf_addrdie(f.dw, hot, &die) == NULL);

	CHECK_INT(cuindex_build(f.dw, &ix), 0);
	CHECK(ix != NULL);
	if (!ix) {
		dw_close(&f);
		return;
	}
	CHECK_INT(cuindex_units(ix), 1);
	CHECK(ends_with(unit_name(ix, hot), "/inline.c"));
	CHECK(ends_with(unit_name(ix, sym_addr(f.elf, "main")), "/inline.c"));
	/* not code of any unit: the ELF header, crt1's _start, far away */
	CHECK(unit_name(ix, 0x10) == NULL);
	CHECK(unit_name(ix, sym_addr(f.elf, "_start")) == NULL);
	CHECK(unit_name(ix, 0x7fffffff0000ULL) == NULL);

	/* hot's body is inl_mix inlined: somewhere in its first bytes'
	 * scopes is a DW_TAG_inlined_subroutine */
	for (GElf_Addr a = hot; a < hot + 64 && !inlined; a++) {
		if (!cuindex_find(ix, a, &die))
			continue;
		nscopes = dwarf_getscopes(&die, a, &scopes);
		for (int i = 0; i < nscopes; i++)
			if (dwarf_tag(&scopes[i]) == DW_TAG_inlined_subroutine &&
			    strcmp(dwarf_diename(&scopes[i]) ?: "", "inl_mix") == 0)
				inlined = true;
		free(scopes);
		scopes = NULL;
	}
	CHECK(inlined);
	/* the line table of the unit found has hot's line */
	if (cuindex_find(ix, hot, &die)) {
		Dwarf_Line *l = dwarf_getsrc_die(&die, hot);
		int line = 0;

		CHECK(l != NULL);
		CHECK(l && dwarf_lineno(l, &line) == 0 && line > 0);
		CHECK(l && ends_with(dwarf_linesrc(l, NULL, NULL), "/inline.c"));
	}
	cuindex_free(ix);
	dw_close(&f);
}

/* gcc writes an aranges set for every unit with code: nothing is left for
 * the index (inline_nofp). inline_mixed links a clang unit (no set) before
 * a gcc one (a set): the index has the clang unit only, and the gcc
 * unit's functions are left to aranges. */
static void test_gcc_and_mixed(void)
{
	struct dw_file f;
	struct cuindex *ix = NULL;
	Dwarf_Die die;

	if (!dw_open(WORKLOAD_DIR "/inline_nofp", &f)) {
		CHECK(!"inline_nofp opens");
		return;
	}
	CHECK(dwarf_addrdie(f.dw, sym_addr(f.elf, "hot"), &die) != NULL);
	CHECK_INT(cuindex_build(f.dw, &ix), 0);
	CHECK_INT(cuindex_units(ix), 0);
	CHECK(unit_name(ix, sym_addr(f.elf, "hot")) == NULL);
	cuindex_free(ix);
	dw_close(&f);

	if (!dw_open(WORKLOAD_DIR "/inline_mixed", &f)) {
		CHECK(!"inline_mixed opens");
		return;
	}
	CHECK(dwarf_addrdie(f.dw, sym_addr(f.elf, "hot"), &die) == NULL);
	CHECK(dwarf_addrdie(f.dw, sym_addr(f.elf, "run"), &die) != NULL);
	CHECK_INT(cuindex_build(f.dw, &ix), 0);
	CHECK_INT(cuindex_units(ix), 1);
	CHECK(ends_with(unit_name(ix, sym_addr(f.elf, "hot")), "/inline.c"));
	CHECK(ends_with(unit_name(ix, sym_addr(f.elf, "inline_main")),
			"/inline.c"));
	CHECK(unit_name(ix, sym_addr(f.elf, "run")) == NULL);
	cuindex_free(ix);
	dw_close(&f);
}

struct go_count {
	struct cuindex *ix;
	size_t funcs, found;
};

static void go_count_cb(const char *name, GElf_Addr addr, void *arg)
{
	struct go_count *c = arg;
	Dwarf_Die die;

	c->funcs++;
	if (cuindex_find(c->ix, addr, &die))
		c->found++;
	else if (getenv("VERBOSE"))
		fprintf(stderr, "no unit: %s\n", name);
}

/* Go: a unit per package (and per package's assembly), in .debug_ranges */
static void test_go(void)
{
	struct dw_file f;
	struct cuindex *ix = NULL;
	struct go_count c = { 0 };
	Dwarf_Die die;

	if (!dw_open(WORKLOAD_DIR "/goinline", &f)) {
		CHECK(!"goinline opens");
		return;
	}
	CHECK(dwarf_addrdie(f.dw, sym_addr(f.elf, "main.main"), &die) == NULL);
	CHECK_INT(cuindex_build(f.dw, &ix), 0);
	if (!ix) {
		dw_close(&f);
		return;
	}
	CHECK(cuindex_units(ix) >= 20);
	CHECK_STR(unit_name(ix, sym_addr(f.elf, "main.main")), "main");
	CHECK_STR(unit_name(ix, sym_addr(f.elf, "main.(*worker).spin")), "main");
	CHECK_STR(unit_name(ix, sym_addr(f.elf, "runtime.main")), "runtime");
	CHECK_STR(unit_name(ix, sym_addr(f.elf, "fmt.Fprintln")), "fmt");
	/* every Go function has a unit (the few without are the linker's
	 * own: go:buildid, type hash functions) */
	c.ix = ix;
	each_function(f.elf, go_count_cb, &c);
	printf("go: %zu units, %zu ranges; %zu of %zu functions in a unit\n",
	       cuindex_units(ix), cuindex_ranges(ix), c.found, c.funcs);
	CHECK(c.funcs > 1000);
	CHECK(c.found * 100 >= c.funcs * 99);
	cuindex_free(ix);
	dw_close(&f);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void best_of(double *best, double t)
{
	if (t < *best)
		*best = t;
}

/* The time to build the index of path's DWARF, best of 5 of each kind,
 * each on a fresh Dwarf (libdw reads and decompresses the sections at
 * dwarf_begin, timed apart): "cold" is the first thing done with the
 * Dwarf; "after aranges" follows dwarf_getaranges, which libdwfl has called
 * by the time the symbolizer needs the index (libdw then knows the units
 * with an aranges set); "again" is a second build on the same Dwarf. */
static int measure(const char *path)
{
	double open = 1e9, cold = 1e9, after = 1e9, again = 1e9;
	size_t units = 0, ranges = 0;

	for (int i = 0; i < 10; i++) {
		struct dw_file f;
		struct cuindex *ix;
		Dwarf_Aranges *ar;
		size_t nar;
		double t0 = now_s(), t1;

		if (!dw_open(path, &f))
			return 1;
		best_of(&open, now_s() - t0);
		if (i % 2)
			dwarf_getaranges(f.dw, &ar, &nar);
		t0 = now_s();
		if (cuindex_build(f.dw, &ix)) {
			dw_close(&f);
			return 1;
		}
		t1 = now_s();
		best_of(i % 2 ? &after : &cold, t1 - t0);
		cuindex_free(ix);
		t0 = now_s();
		if (cuindex_build(f.dw, &ix)) {
			dw_close(&f);
			return 1;
		}
		best_of(&again, now_s() - t0);
		units = cuindex_units(ix);
		ranges = cuindex_ranges(ix);
		cuindex_free(ix);
		dw_close(&f);
	}
	printf("%s: dwarf_begin %.1f ms; index of %zu units, %zu ranges built "
	       "cold in %.2f ms, after aranges in %.2f ms, again in %.2f ms "
	       "(best of 5)\n", path, open * 1e3, units, ranges, cold * 1e3,
	       after * 1e3, again * 1e3);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc > 1)
		return measure(argv[1]);
	elf_version(EV_CURRENT);
	test_clang();
	test_gcc_and_mixed();
	test_go();
	return check_done();
}

/*
 * symbolize.c - addresses of a live process to functions, inline chains,
 * files and lines with libdwfl; kernel addresses with /proc/kallsyms.
 *
 * The inline walk follows eu-stack -i (elfutils src/stack.c): the innermost
 * function-like DIE from dwarf_getscopes, then its concrete scope chain from
 * dwarf_getscopes_die up to the DW_TAG_subprogram; the innermost line is the
 * address's own line, every outer line is the inner scope's
 * DW_AT_call_file/DW_AT_call_line.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <dwarf.h>
#include <elfutils/libdw.h>
#include <elfutils/libdwfl.h>

#include "procfs.h"
#include "symbolize.h"
#include "demangle.h"
#include "modules.h"
#include "cuindex.h"
#include "perfmap.h"
#include "symtab.h"
#include "hash.h"


/* x86_64: user space ends at 0x00007fffffffffff; the kernel half starts at
 * 0xffff800000000000 (Documentation/arch/x86/x86_64/mm.rst). */
#define SYM_KERNEL_START 0xffff800000000000ULL
/* Inline nesting deeper than this is cut (the innermost lines are kept). */
#define SYM_MAX_INLINE 64
/* The perf map is looked at again at most this often (docs/design.md §4.4). */
#define SYM_PERFMAP_INTERVAL_NS 50000000ULL

struct sym_mod_priv {
	struct sym_module pub;	/* first: a sym_module * is a priv * */
	struct symbolizer *s;
	Dwfl_Module *mod;	/* NULL for [kernel] */
	char *path;
	char *build_id;
	struct symtab syms;	/* loaded on the first lookup */
	int own_dwarf;		/* -1 unknown, else whether the module's
				 * own ELF has .debug_info */
	/* Compile units by address, for what .debug_aranges does not
	 * cover (clang, Go: docs/design.md §4.2); built on first need. */
	struct cuindex *cuindex;
	bool cuindex_built;
	/* The file of the maps lines it was reported from (symbolize_owns):
	 * an address in its range gets its symbols only when its own line
	 * maps that file. */
	uint64_t inode;
	unsigned dev_major, dev_minor;
	bool deleted, vdso;
	/* An alias (modules.h: a second mapping of a file, as V8's of
	 * node's builtins): its addresses are looked up, by file offset, in
	 * the load alias_of of the same file. */
	struct sym_mod_priv *alias_of;
};

/* One cached lookup; lines follow in the same allocation. */
struct sym_block {
	struct sym_frame frame;
	unsigned generation;	/* refresh count when an unmapped addr was seen */
	unsigned jit_gen;	/* perf map generation when resolved */
	struct sym_line lines[];
};

struct sym_slot {
	uint64_t addr;
	bool used, is_return;
	struct sym_block *block;
};

/* userdata of modules that map no executable code (data files, and the ELF
 * files libelf maps when a process symbolizes itself): never symbolized. */
static char symbolize_not_code;

struct symbolizer {
	pid_t target;			/* the process */
	pid_t pid;			/* its /proc id: procfs_proc_tid */
	struct modules_proc *proc;	/* the files its modules were mapped
					 * from (modules.h) */
	struct symtab_cache *cache;	/* may be NULL */
	Dwfl *dwfl;
	Dwfl_Callbacks callbacks;
	char *debuginfo_path;

	struct sym_mod_priv **mods;
	size_t nmods, capmods;
	struct sym_mod_priv *kernel;
	struct procfs_ksyms ksyms;
	struct sym_mod_priv **aliases;	/* also in mods */
	size_t naliases, capaliases;

	/* JIT code: the [jit] module (made on first use) and the perf map
	 * that names it. */
	struct sym_mod_priv *jit;
	struct perfmap *perfmap;
	bool perfmap_tried;		/* perfmap_new was called */
	bool perfmap_polled;
	uint64_t perfmap_polled_ns;
	int perfmap_error;		/* of the last perfmap_update */

	struct sym_slot *slots;		/* open addressing, power of 2 */
	size_t nslots, nused;
	struct sym_block **retired;	/* replaced blocks, still referenced */
	size_t nretired, capretired;

	char **strs;			/* interned strings, open addressing */
	size_t nstrs, nstrslots;

	struct procfs_maps maps;	/* as of the last report */
	uint64_t maps_hash;
	size_t maps_len;
	unsigned generation;
	enum sym_lines lines;

	/* symbolizer_prefetch: a thread that owns s until joined. */
	pthread_t prefetch;
	bool prefetching;
	uint64_t *prefetch_addrs;
	size_t nprefetch;
};

static void symbolize_perfmap_poll(struct symbolizer *s, bool force);

/* Every entry point but symbolizer_new and symbolize_demangle starts with
 * this: while a prefetch runs, the thread doing it is the only user of s
 * (and of its Dwfl, which is not thread-safe, docs/design.md §4). */
static void symbolize_prefetch_join(struct symbolizer *s)
{
	if (!s->prefetching)
		return;
	pthread_join(s->prefetch, NULL);
	s->prefetching = false;
	free(s->prefetch_addrs);
	s->prefetch_addrs = NULL;
	s->nprefetch = 0;
}

static void symbolize_errf(char *err, size_t errlen, const char *fmt,
			   const char *what, int e)
{
	if (err && errlen)
		snprintf(err, errlen, fmt, what, strerror(e));
}

/* --- interned strings ------------------------------------------------- */

/* Returns the interned copy of str (NULL stays NULL); NULL on ENOMEM is
 * reported through *oom. */
static const char *symbolize_intern(struct symbolizer *s, const char *str,
				    bool *oom)
{
	size_t mask, i;

	if (!str)
		return NULL;
	if ((s->nstrs + 1) * 2 > s->nstrslots) {
		size_t n = s->nstrslots ? s->nstrslots * 2 : 256;
		char **t = calloc(n, sizeof(*t));

		if (!t) {
			*oom = true;
			return NULL;
		}
		for (i = 0; i < s->nstrslots; i++) {
			char *old = s->strs[i];
			size_t j;

			if (!old)
				continue;
			j = hash_fnv1a(old, strlen(old)) & (n - 1);
			while (t[j])
				j = (j + 1) & (n - 1);
			t[j] = old;
		}
		free(s->strs);
		s->strs = t;
		s->nstrslots = n;
	}
	mask = s->nstrslots - 1;
	i = hash_fnv1a(str, strlen(str)) & mask;
	while (s->strs[i]) {
		if (strcmp(s->strs[i], str) == 0)
			return s->strs[i];
		i = (i + 1) & mask;
	}
	s->strs[i] = strdup(str);
	if (!s->strs[i]) {
		*oom = true;
		return NULL;
	}
	s->nstrs++;
	return s->strs[i];
}

/* --- modules ------------------------------------------------------------ */

/* A module's userdata is its sym_mod_priv, set before anything opens the
 * ELF (symbolize_sync_modules). */
/* Whether the path search of dwfl_standard_find_debuginfo has a file to
 * find: the .gnu_debuglink name (else FILE.debug) beside the file, in its
 * .debug directory, or under /usr/lib/debug (libdwfl's default path). */
static bool symbolize_debuglink_exists(const char *file, const char *link)
{
	static const char *const fmt[] = {
		"%.*s/%s%s", "%.*s/.debug/%s%s", "/usr/lib/debug%.*s/%s%s",
	};
	char path[PATH_MAX * 2];

	if (link && link[0] == '/')
		return access(link, R_OK) == 0;
	if (!file)
		return false;
	const char *slash = strrchr(file, '/');
	int dlen = slash ? (int)(slash - file) : 1;
	const char *dir = slash ? file : ".";
	const char *base = slash ? slash + 1 : file;

	for (size_t i = 0; i < sizeof(fmt) / sizeof(fmt[0]); i++) {
		snprintf(path, sizeof(path), fmt[i], dlen, dir, link ? link : base,
			 link ? "" : ".debug");
		if (access(path, R_OK) == 0)
			return true;
	}
	return false;
}

/* dwfl_standard_find_debuginfo, local files only: when its own searches
 * fail it asks libdebuginfod, and elfutils 0.188 then makes a client even
 * without DEBUGINFOD_URLS (dwfl_get_debuginfod_client), which loads libcurl
 * and keeps a curl multi handle, whose socketpair stays open until the
 * Dwfl ends: the first [vdso] frame of a serve session held two more fds
 * for good (docs/design.md §4). So the standard search runs only when a
 * local file it could find exists. */
static int symbolize_find_debuginfo(Dwfl_Module *mod, void **userdata,
				    const char *modname, Dwarf_Addr base,
				    const char *file_name, const char *debuglink_file,
				    GElf_Word debuglink_crc, char **debuginfo_file_name)
{
	int fd = dwfl_build_id_find_debuginfo(mod, userdata, modname, base, file_name,
					      debuglink_file, debuglink_crc,
					      debuginfo_file_name);

	if (fd >= 0 || !symbolize_debuglink_exists(file_name, debuglink_file))
		return fd;
	return dwfl_standard_find_debuginfo(mod, userdata, modname, base, file_name,
					    debuglink_file, debuglink_crc,
					    debuginfo_file_name);
}

static int symbolize_find_elf(Dwfl_Module *mod, void **userdata,
			      const char *name, Dwarf_Addr base,
			      char **file_name, Elf **elfp)
{
	struct sym_mod_priv *priv = *userdata;
	struct modules_proc *p = priv && (void *)priv != &symbolize_not_code ?
				 priv->s->proc : NULL;

	return modules_find_elf(p, mod, userdata, name, base, file_name,
				elfp);
}

struct symbolize_newmod {
	Dwfl_Module *mod;
	void **userdata;
	const char *name;
	Dwarf_Addr start;
};

struct symbolize_collect {
	struct symbolize_newmod *v;
	size_t n, cap;
	bool oom;
};

static int symbolize_collect_cb(Dwfl_Module *mod, void **userdata,
				const char *name, Dwarf_Addr start, void *arg)
{
	struct symbolize_collect *c = arg;

	/* A module found with no code before may have some now: a file is
	 * mapped read-only whole first, then its segments over it (ld.so and
	 * the kernel do so), and a report may come in between. */
	if (*userdata && *userdata != &symbolize_not_code)
		return DWARF_CB_OK;
	if (c->n == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 32;
		struct symbolize_newmod *v = realloc(c->v, cap * sizeof(*v));

		if (!v) {
			c->oom = true;
			return DWARF_CB_ABORT;
		}
		c->v = v;
		c->cap = cap;
	}
	c->v[c->n++] = (struct symbolize_newmod){ mod, userdata, name, start };
	return DWARF_CB_OK;
}

static int symbolize_newmod_cmp(const void *a, const void *b)
{
	const struct symbolize_newmod *x = a, *y = b;

	return x->start < y->start ? -1 : x->start > y->start;
}

static int symbolize_add_mod(struct symbolizer *s, struct sym_mod_priv *p)
{
	if (s->nmods == s->capmods) {
		size_t cap = s->capmods ? s->capmods * 2 : 32;
		struct sym_mod_priv **m = realloc(s->mods, cap * sizeof(*m));

		if (!m)
			return -ENOMEM;
		s->mods = m;
		s->capmods = cap;
	}
	p->pub.index = s->nmods;
	s->mods[s->nmods++] = p;
	return 0;
}

static void symbolize_mod_free(struct sym_mod_priv *p)
{
	if (!p)
		return;
	free(p->path);
	free(p->build_id);
	symtab_release(&p->syms);
	cuindex_free(p->cuindex);
	free(p);
}

/* Fills path, offset and build-id of a freshly reported module. */
static int symbolize_describe(struct symbolizer *s, struct sym_mod_priv *p,
			      const char *name, const struct procfs_maps *maps)
{
	const unsigned char *bits;
	GElf_Addr vaddr, bias;
	Dwarf_Addr start, end;
	int len;

	dwfl_module_info(p->mod, NULL, &start, &end, NULL, NULL, NULL, NULL);
	p->pub.start = start;
	p->pub.end = end;
	/* libdwfl names the vDSO "[vdso: PID]"; pprof and maps say [vdso]. */
	p->path = strdup(strncmp(name, "[vdso", 5) == 0 ? "[vdso]" : name);
	if (!p->path)
		return -ENOMEM;
	p->pub.path = p->path;
	if (maps) {
		const struct procfs_map *m = procfs_maps_find(maps, start);

		if (m && m->start == start) {
			p->pub.offset = m->offset;
			p->inode = m->inode;
			p->dev_major = m->dev_major;
			p->dev_minor = m->dev_minor;
			p->deleted = m->deleted;
			p->vdso = strcmp(m->path, "[vdso]") == 0;
		}
	}
	/* The build-id is read from the ELF file, which libdwfl opens only on
	 * demand; open it now so the mapping carries it from the start. */
	dwfl_module_getelf(p->mod, &bias);
	len = dwfl_module_build_id(p->mod, &bits, &vaddr);
	p->build_id = malloc(len > 0 ? (size_t)len * 2 + 1 : 1);
	if (!p->build_id)
		return -ENOMEM;
	p->build_id[0] = '\0';
	for (int i = 0; i < len; i++)
		sprintf(p->build_id + 2 * i, "%02x", bits[i]);
	p->pub.build_id = p->build_id;
	return 0;
}

/* True when some executable mapping lies inside mod's address range. */
static bool symbolize_has_code(const struct procfs_maps *maps,
			       Dwfl_Module *mod)
{
	Dwarf_Addr start, end;

	dwfl_module_info(mod, NULL, &start, &end, NULL, NULL, NULL, NULL);
	for (size_t i = 0; i < maps->n; i++) {
		const struct procfs_map *m = &maps->maps[i];

		if (m->start >= start && m->end <= end && m->perms[2] == 'x')
			return true;
	}
	return false;
}

/* Gives every module libdwfl reported and we have not seen yet an index
 * (main executable first, then by address) and a sym_module. */
static int symbolize_sync_modules(struct symbolizer *s)
{
	struct symbolize_collect c = { 0 };
	const struct procfs_maps *maps = &s->maps;
	char exe[4096], link[64];
	ssize_t n;
	int e = 0;

	if (dwfl_getmodules(s->dwfl, symbolize_collect_cb, &c, 0) != 0 ||
	    c.oom) {
		free(c.v);
		return -ENOMEM;
	}
	if (c.n == 0) {
		free(c.v);
		return 0;
	}
	qsort(c.v, c.n, sizeof(*c.v), symbolize_newmod_cmp);
	if (s->nmods == 0) {
		snprintf(link, sizeof(link), "/proc/%d/exe", (int)s->pid);
		n = readlink(link, exe, sizeof(exe) - 1);
		exe[n > 0 ? n : 0] = '\0';
		for (size_t i = 0; n > 0 && i < c.n; i++) {
			if (strcmp(c.v[i].name, exe) == 0) {
				struct symbolize_newmod t = c.v[i];

				memmove(c.v + 1, c.v, i * sizeof(*c.v));
				c.v[0] = t;
				break;
			}
		}
	}
	for (size_t i = 0; i < c.n && !e; i++) {
		struct sym_mod_priv *p;

		if (!symbolize_has_code(maps, c.v[i].mod)) {
			*c.v[i].userdata = &symbolize_not_code;
			continue;
		}
		p = calloc(1, sizeof(*p));

		if (!p) {
			e = -ENOMEM;
			break;
		}
		p->s = s;
		p->mod = c.v[i].mod;
		p->own_dwarf = -1;
		p->pub.has_functions = p->pub.has_filenames = true;
		p->pub.has_line_numbers = p->pub.has_inline_frames = true;
		/* Set before anything opens the ELF: find_elf reads it. */
		*c.v[i].userdata = p;
		e = symbolize_describe(s, p, c.v[i].name, maps);
		if (!e)
			e = symbolize_add_mod(s, p);
		if (e) {
			*c.v[i].userdata = NULL;
			symbolize_mod_free(p);
		}
	}
	free(c.v);
	return e;
}

/* Whether maps line m maps the file p was reported from. */
static bool symbolize_owns(const struct sym_mod_priv *p,
			   const struct procfs_map *m)
{
	if (p->vdso)
		return strcmp(m->path, "[vdso]") == 0;
	return modules_map_is_file(m) && m->inode == p->inode &&
	       m->dev_major == p->dev_major && m->dev_minor == p->dev_minor &&
	       m->deleted == p->deleted;
}

/* Gives every alias run of s->maps with code in it (V8's second mapping
 * of node) a sym_module of its own, pointing at a load of the same file:
 * a mapping of its own in profiles, named from that load's symbols. */
static int symbolize_sync_aliases(struct symbolizer *s)
{
	const struct procfs_maps *maps = &s->maps;
	struct modules_run *runs;
	size_t n;
	int e = modules_runs(maps, &runs, &n);

	for (size_t i = 0; i < n && !e; i++) {
		const struct modules_run *r = &runs[i];
		const struct procfs_map *f = &maps->maps[r->first];
		struct sym_mod_priv *p, *load = NULL;
		bool code = false, known = false;

		if (!r->alias)
			continue;
		for (size_t j = r->first; j <= r->last; j++)
			code |= maps->maps[j].perms[2] == 'x' &&
				modules_same_file(&maps->maps[j], f);
		for (size_t j = 0; j < s->naliases && !known; j++)
			known = s->aliases[j]->pub.start == r->start &&
				s->aliases[j]->pub.end == r->end &&
				symbolize_owns(s->aliases[j], f);
		for (size_t j = 0; j < s->nmods && !load; j++) {
			struct sym_mod_priv *q = s->mods[j];

			if (q->mod && !q->alias_of && symbolize_owns(q, f))
				load = q;
		}
		if (!code || known || !load)
			continue;
		if (s->naliases == s->capaliases) {
			size_t cap = s->capaliases ? s->capaliases * 2 : 4;
			struct sym_mod_priv **v = realloc(s->aliases,
							  cap * sizeof(*v));
			if (!v) {
				e = -ENOMEM;
				break;
			}
			s->aliases = v;
			s->capaliases = cap;
		}
		p = calloc(1, sizeof(*p));
		if (!p) {
			e = -ENOMEM;
			break;
		}
		p->s = s;
		p->alias_of = load;
		p->own_dwarf = -1;
		p->pub.start = r->start;
		p->pub.end = r->end;
		p->pub.offset = f->offset;
		p->inode = f->inode;
		p->dev_major = f->dev_major;
		p->dev_minor = f->dev_minor;
		p->deleted = f->deleted;
		p->pub.has_functions = p->pub.has_filenames = true;
		p->pub.has_line_numbers = p->pub.has_inline_frames = true;
		if (asprintf(&p->path, "%s%s", f->path,
			     f->deleted ? " (deleted)" : "") < 0)
			p->path = NULL;
		p->build_id = strdup(load->build_id);
		if (!p->path || !p->build_id || symbolize_add_mod(s, p)) {
			symbolize_mod_free(p);
			e = -ENOMEM;
			break;
		}
		p->pub.path = p->path;
		p->pub.build_id = p->build_id;
		s->aliases[s->naliases++] = p;
	}
	free(runs);
	return e;
}

/* Reads /proc/PID/maps once: its hash and length say whether anything
 * changed since the last report; *text (malloc'd) is parsed for the report
 * only when something did. */
static int symbolize_read_maps(pid_t pid, uint64_t *hash, size_t *len,
			       char **text)
{
	char path[64];
	int e;

	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	e = procfs_read_file(path, text, len);
	if (e)
		return e;
	*hash = hash_fnv1a(*text, *len);
	return 0;
}

/* Reports the modules of maps into s's Dwfl (after dwfl_report_begin or
 * _begin_add), then gives the new ones their sym_module. On success s
 * owns maps. */
static int symbolize_report(struct symbolizer *s, struct procfs_maps *maps)
{
	int e = modules_report_maps(s->dwfl, s->proc, maps);

	if (dwfl_report_end(s->dwfl, NULL, NULL) != 0 && e == 0)
		e = -EINVAL;
	if (e) {
		procfs_maps_release(maps);
		return e;
	}
	procfs_maps_release(&s->maps);
	s->maps = *maps;
	memset(maps, 0, sizeof(*maps));
	e = symbolize_sync_modules(s);
	return e ? e : symbolize_sync_aliases(s);
}


const struct procfs_maps *symbolizer_maps(struct symbolizer *s)
{
	/* The prefetch thread never touches s->maps: no join. */
	return &s->maps;
}

static int symbolize_add_kernel(struct symbolizer *s)
{
	struct sym_mod_priv *p = calloc(1, sizeof(*p));
	int e;

	if (!p)
		return -ENOMEM;
	p->s = s;
	p->path = strdup("[kernel]");
	p->build_id = strdup("");
	if (!p->path || !p->build_id) {
		symbolize_mod_free(p);
		return -ENOMEM;
	}
	p->pub.path = p->path;
	p->pub.build_id = p->build_id;
	p->pub.is_kernel = true;
	p->pub.start = SYM_KERNEL_START;
	p->pub.end = UINT64_MAX;
	p->pub.has_functions = !s->ksyms.all_zero && s->ksyms.n > 0;
	e = symbolize_add_mod(s, p);
	if (e) {
		symbolize_mod_free(p);
		return e;
	}
	s->kernel = p;
	return 0;
}

int symbolizer_new(pid_t pid, bool kernel, struct symbolizer **out,
		   char *err, size_t errlen)
{
	struct procfs_ksyms ksyms;

	if (!kernel)
		return symbolizer_new_ksyms(pid, NULL, out, err, errlen);
	/* Failure to read kallsyms is not fatal: kernel frames stay
	 * unsymbolized, as when the addresses are hidden. */
	if (procfs_read_kallsyms(&ksyms) != 0)
		memset(&ksyms, 0, sizeof(ksyms));
	int e = symbolizer_new_ksyms(pid, &ksyms, out, err, errlen);
	procfs_ksyms_release(&ksyms);
	return e;
}

/* The constructors' common part: reports the modules of maps (taken over,
 * released on failure) and takes over ksyms (NULL: no kernel). */
static int symbolize_open(pid_t pid, struct procfs_maps *maps,
			  struct procfs_ksyms *ksyms, struct symbolizer **out,
			  char *err, size_t errlen)
{
	struct symbolizer *s;
	int e;

	s = calloc(1, sizeof(*s));
	if (!s) {
		procfs_maps_release(maps);
		return -ENOMEM;
	}
	s->target = pid;
	s->pid = pid > 0 ? procfs_proc_tid(pid) : pid;
	if (modules_proc_new(s->pid, &s->proc) < 0) {
		procfs_maps_release(maps);
		free(s);
		return -ENOMEM;
	}
	s->callbacks.find_elf = symbolize_find_elf;
	s->callbacks.find_debuginfo = symbolize_find_debuginfo;
	s->callbacks.debuginfo_path = &s->debuginfo_path;
	/* libdwfl calls it for an ET_REL file without a check (a corrupt
	 * debug file, tests/fuzz/regress/elf). */
	s->callbacks.section_address = dwfl_offline_section_address;
	s->dwfl = dwfl_begin(&s->callbacks);
	if (!s->dwfl) {
		procfs_maps_release(maps);
		e = -ENOMEM;
		if (err && errlen)
			snprintf(err, errlen, "dwfl_begin: %s", dwfl_errmsg(-1));
		goto out_free;
	}
	dwfl_report_begin(s->dwfl);
	e = symbolize_report(s, maps);
	if (e) {
		modules_report_error(err, errlen, e);
		goto out_free;
	}
	if (ksyms) {
		s->ksyms = *ksyms;
		memset(ksyms, 0, sizeof(*ksyms));
		e = symbolize_add_kernel(s);
		if (e) {
			symbolize_errf(err, errlen, "%s: %s", "kernel module", -e);
			goto out_free;
		}
	}
	*out = s;
	return 0;

out_free:
	symbolizer_free(s);
	return e;
}

int symbolizer_new_ksyms(pid_t pid, struct procfs_ksyms *ksyms,
			 struct symbolizer **out, char *err, size_t errlen)
{
	struct procfs_maps maps;
	uint64_t hash;
	size_t len;
	char *text;
	int e;

	*out = NULL;
	/* A leader that called pthread_exit shows no maps (procfs.h). */
	e = symbolize_read_maps(procfs_proc_tid(pid), &hash, &len, &text);
	if (e) {
		/* No /proc/PID at all: the process does not exist. */
		if (e == -ENOENT)
			e = -ESRCH;
		if (err && errlen)
			snprintf(err, errlen, "cannot read /proc/%d/maps: %s",
				 (int)pid, strerror(-e));
		return e;
	}
	e = procfs_parse_maps(text, &maps);
	free(text);
	if (e) {
		symbolize_errf(err, errlen, "%s: %s", "parsing /proc/PID/maps", -e);
		return e;
	}
	e = symbolize_open(pid, &maps, ksyms, out, err, errlen);
	if (e == 0) {
		(*out)->maps_hash = hash;
		(*out)->maps_len = len;
	}
	return e;
}

int symbolizer_new_maps(pid_t pid, const struct procfs_maps *maps,
			struct procfs_ksyms *ksyms, struct symbolizer **out,
			char *err, size_t errlen)
{
	struct procfs_maps copy;

	*out = NULL;
	if (procfs_maps_dup(maps, &copy) < 0) {
		symbolize_errf(err, errlen, "%s: %s", "copying the mappings", ENOMEM);
		return -ENOMEM;
	}
	return symbolize_open(pid, &copy, ksyms, out, err, errlen);
}

int symbolizer_set_maps(struct symbolizer *s, const struct procfs_maps *maps)
{
	struct procfs_maps copy;
	int e;

	symbolize_prefetch_join(s);
	if (procfs_maps_dup(maps, &copy) < 0)
		return -ENOMEM;
	/* As symbolizer_refresh: modules already reported are kept. */
	dwfl_report_begin_add(s->dwfl);
	e = symbolize_report(s, &copy);
	if (e)
		return e;
	/* A later symbolizer_refresh compares /proc/PID/maps with these. */
	s->maps_hash = 0;
	s->maps_len = 0;
	s->generation++;
	return 0;
}

int symbolizer_refresh(struct symbolizer *s)
{
	struct procfs_maps maps;
	uint64_t hash;
	size_t len;
	char *text;
	int e;

	symbolize_prefetch_join(s);
	/* The thread /proc is read through may have exited since, if the
	 * leader had (procfs_proc_tid), or the leader may have exited. */
	s->pid = procfs_proc_tid(s->target);
	modules_proc_set_pid(s->proc, s->pid);
	e = symbolize_read_maps(s->pid, &hash, &len, &text);
	if (e)
		return e;
	if (hash == s->maps_hash && len == s->maps_len) {
		free(text);
		symbolize_perfmap_poll(s, true);
		return 0;
	}
	e = procfs_parse_maps(text, &maps);
	free(text);
	if (e)
		return e;
	symbolize_perfmap_poll(s, true);
	/* begin_add keeps the modules already reported (and our pointers to
	 * them); dwfl_report_module returns the same module for an unchanged
	 * (name, start, end). */
	dwfl_report_begin_add(s->dwfl);
	e = symbolize_report(s, &maps);
	if (e)
		return e;
	s->maps_hash = hash;
	s->maps_len = len;
	s->generation++;
	return 0;
}

size_t symbolizer_modules(struct symbolizer *s,
			  const struct sym_module *const **mods)
{
	symbolize_prefetch_join(s);
	/* struct sym_mod_priv starts with its sym_module. */
	*mods = (const struct sym_module *const *)s->mods;
	return s->nmods;
}

void symbolizer_set_lines(struct symbolizer *s, enum sym_lines lines)
{
	s->lines = lines;
}

void *symbolizer_dwfl(struct symbolizer *s)
{
	symbolize_prefetch_join(s);
	return s->dwfl;
}

/* --- lookups ------------------------------------------------------------ */

/* Whether the module's own ELF file has DWARF (as a program built with -g
 * does), rather than only a separate debug file: looked at once, from the
 * section headers, without letting libdw open (and decompress) anything. */
static bool symbolize_own_dwarf(struct sym_mod_priv *p)
{
	if (p->own_dwarf < 0) {
		GElf_Addr bias;
		Elf *elf = dwfl_module_getelf(p->mod, &bias);
		size_t shstrndx;
		p->own_dwarf = 0;
		if (elf && elf_getshdrstrndx(elf, &shstrndx) == 0) {
			Elf_Scn *scn = NULL;
			while ((scn = elf_nextscn(elf, scn))) {
				GElf_Shdr shdr;
				const char *name;
				if (gelf_getshdr(scn, &shdr) &&
				    (name = elf_strptr(elf, shstrndx, shdr.sh_name)) &&
				    (!strcmp(name, ".debug_info") ||
				     !strcmp(name, ".zdebug_info"))) {
					p->own_dwarf = 1;
					break;
				}
			}
		}
	}
	return p->own_dwarf;
}

void symbolizer_set_cache(struct symbolizer *s, struct symtab_cache *c)
{
	s->cache = c;
}

static const char *symbolize_die_name(Dwarf_Die *die)
{
	Dwarf_Attribute attr;
	const char *name;

	name = dwarf_formstring(dwarf_attr_integrate(die, DW_AT_linkage_name,
						     &attr));
	if (!name)
		name = dwarf_formstring(dwarf_attr_integrate(
			die, DW_AT_MIPS_linkage_name, &attr));
	if (!name)
		name = dwarf_diename(die);
	return name;
}

static bool symbolize_is_function(Dwarf_Die *die)
{
	int tag = dwarf_tag(die);

	return tag == DW_TAG_subprogram || tag == DW_TAG_inlined_subroutine ||
	       tag == DW_TAG_entry_point;
}

/* Sets ln's function and system_name from a raw name: demangled when it is
 * mangled, toolchain suffixes dropped (demangle.h). */
static int symbolize_set_name(struct symbolizer *s, struct sym_line *ln,
			      const char *raw)
{
	bool oom = false, plt = false;
	const char *at = strchr(raw, '@'), *name = raw;
	char *bare = NULL, *d, *stub = NULL;

	/* .symtab of glibc's debug file names versioned symbols
	 * "__libc_start_main@@GLIBC_2.34": the version is not part of the
	 * function's name (mangled names never contain '@'). A PLT stub's
	 * "@plt" (pltsyms.h) is: the stub is not the function. */
	if (at && at != raw) {
		bare = strndup(raw, (size_t)(at - raw));
		if (!bare)
			return -ENOMEM;
		plt = strcmp(at, "@plt") == 0;
		name = bare;
	}
	d = demangle_name(name, &ln->has_params);
	ln->system_name = symbolize_intern(s, plt ? raw : name, &oom);
	if (plt && asprintf(&stub, "%s@plt", d ? d : name) < 0)
		oom = true;
	ln->function = stub ? symbolize_intern(s, stub, &oom) :
		       d ? symbolize_intern(s, d, &oom) : ln->system_name;
	free(stub);
	free(d);
	free(bare);
	return oom ? -ENOMEM : 0;
}

/* The compile unit DIE covering a (a module address, already adjusted) into
 * *cudie, with the bias of the module's DWARF; *cudie NULL when no unit
 * does. Returns 0 or -ENOMEM.
 *
 * libdwfl finds a unit through .debug_aranges only, and takes a gap between
 * its ranges for part of the unit before it: its answer stands when that
 * unit's own ranges hold a, which is the whole cost for a gcc build. A
 * module without aranges (clang, Go), or an address they miss, goes to the
 * index of the ranges of the units they leave out, built once per module on
 * the first such lookup (docs/design.md §4.2). */
static int symbolize_cudie(struct sym_mod_priv *p, Dwfl_Module *mod,
			   Dwarf_Addr a, Dwarf_Addr *bias, Dwarf_Die *buf,
			   Dwarf_Die **cudie)
{
	Dwarf *dw = dwfl_module_getdwarf(mod, bias);
	Dwarf_Addr b;
	Dwarf_Die *die;

	*cudie = NULL;
	if (!dw)
		return 0;
	die = dwfl_module_addrdie(mod, a, &b);
	if (die && dwarf_haspc(die, a - *bias) == 1) {
		*cudie = die;
		return 0;
	}
	if (p && !p->cuindex_built) {
		int e = cuindex_build(dw, &p->cuindex);

		if (e)
			return e;
		p->cuindex_built = true;
	}
	/* Neither: aranges' answer, as libdw would give it (a unit with no
	 * range attribute of its own is known from aranges only). */
	*cudie = p && p->cuindex ? cuindex_find(p->cuindex, a - *bias, buf)
				 : NULL;
	if (!*cudie)
		*cudie = die;
	return 0;
}

/* ln's file and line: the line table row of the unit at pc (a DWARF
 * address). Sets *oom on ENOMEM. */
static void symbolize_srcline(struct symbolizer *s, Dwarf_Die *cudie,
			      Dwarf_Addr pc, struct sym_line *ln, bool *oom)
{
	Dwarf_Line *l = dwarf_getsrc_die(cudie, pc);
	int lineno = 0;

	if (!l)
		return;
	ln->file = symbolize_intern(s, dwarf_linesrc(l, NULL, NULL), oom);
	if (dwarf_lineno(l, &lineno) == 0)
		ln->line = lineno;
}

/* The inline chain at pc (a DWARF address in cudie) from DWARF, innermost
 * first, into lines[]; returns the count (0: no DWARF scope), or -ENOMEM. */
static int symbolize_inlines(struct symbolizer *s, Dwarf_Die *cudie,
			     Dwarf_Addr pc, struct sym_line *lines)
{
	Dwarf_Die *scopes = NULL, *chain = NULL, fn, *last;
	Dwarf_Files *files = NULL;
	int nscopes, nchain, n = 0, found = -1;
	bool oom = false;

	nscopes = dwarf_getscopes(cudie, pc, &scopes);
	for (int i = 0; i < nscopes; i++) {
		if (symbolize_is_function(&scopes[i])) {
			found = i;
			break;
		}
	}
	if (found < 0) {
		free(scopes);
		return 0;
	}
	fn = scopes[found];
	free(scopes);
	/* dwarf_getscopes continues past an inlined instance into its
	 * abstract origin's scopes; the concrete chain of callers comes
	 * from dwarf_getscopes_die (as eu-stack -i does). */
	nchain = dwarf_getscopes_die(&fn, &chain);
	if (nchain <= 0) {
		free(chain);
		return 0;
	}
	dwarf_getsrcfiles(cudie, &files, NULL);
	last = NULL;
	for (int i = 0; i < nchain && n < SYM_MAX_INLINE; i++) {
		Dwarf_Die *d = &chain[i];
		struct sym_line *ln = &lines[n];
		const char *name;
		int tag = dwarf_tag(d);

		if (!symbolize_is_function(d))
			continue;
		memset(ln, 0, sizeof(*ln));
		name = symbolize_die_name(d);
		if (last) {
			Dwarf_Attribute attr;
			Dwarf_Word v;

			if (files && dwarf_formudata(dwarf_attr(last,
					DW_AT_call_file, &attr), &v) == 0)
				ln->file = symbolize_intern(
					s, dwarf_filesrc(files, v, NULL, NULL),
					&oom);
			if (dwarf_formudata(dwarf_attr(last, DW_AT_call_line,
						       &attr), &v) == 0)
				ln->line = (int)v;
		} else {
			symbolize_srcline(s, cudie, pc, ln, &oom);
		}
		if (name && symbolize_set_name(s, ln, name))
			oom = true;
		/* A nameless inline level is dropped rather than invented.
		 * The outermost level is kept: the symbol table may name
		 * it (the caller drops it if not). */
		if (name || tag == DW_TAG_subprogram)
			n++;
		last = d;
		if (tag == DW_TAG_subprogram)
			break;
	}
	free(chain);
	return oom ? -ENOMEM : n;
}

/* Lines of the function at la in mod (q: our module, whose sorted symbols
 * are used; NULL: libdwfl's own lookup), innermost first, into lines;
 * adj = the frame's address - la, for the offset. Returns the count, or
 * -ENOMEM; *have_cu tells whether DWARF covers la. */
static int symbolize_file_lines(struct symbolizer *s, Dwfl_Module *mod,
				struct sym_mod_priv *q, uint64_t la,
				uint64_t adj, struct sym_line *lines,
				bool *have_cu)
{
	GElf_Off off = 0;
	const char *name;
	Dwarf_Die cubuf, *cudie = NULL;
	Dwarf_Addr bias = 0;
	bool oom = false;
	int n;

	if (q) {
		const struct symtab_sym *fs;

		if (!q->syms.loaded &&
		    symtab_load(&q->syms, q->mod, q->build_id, q->s->cache))
			return -ENOMEM;
		fs = symtab_find(&q->syms, la);
		name = fs ? fs->name : NULL;
		off = fs ? la - fs->addr : 0;
	} else {
		GElf_Sym sym;

		name = dwfl_module_addrinfo(mod, la, &off, &sym, NULL, NULL,
					    NULL);
	}
	bool dwarf = !q || s->lines == SYM_LINES_ALL || symbolize_own_dwarf(q);
	if (dwarf && symbolize_cudie(q, mod, la, &bias, &cubuf, &cudie))
		return -ENOMEM;
	*have_cu = cudie != NULL;
	n = cudie ? symbolize_inlines(s, cudie, la - bias, lines) : 0;
	if (n < 0)
		return n;
	if (n == 0 && name) {
		memset(&lines[0], 0, sizeof(lines[0]));
		if (cudie)
			symbolize_srcline(s, cudie, la - bias, &lines[0], &oom);
		n = 1;
	}
	if (n > 0) {
		struct sym_line *o = &lines[n - 1];

		/* The symbol table names the real function as the
		 * linker sees it (foo.cold, foo.constprop.0). */
		if (name && symbolize_set_name(s, o, name))
			oom = true;
		o->offset = name ? off + adj : 0;
		if (!o->function)
			n--;
	}
	return oom ? -ENOMEM : n;
}

/* Memory with no file behind it, as perf tells it (tools/perf/util/map.h,
 * is_anon_memory): no file at all, or shared anonymous memory, which the
 * kernel shows as /dev/zero or /anon_hugepage. */
static bool symbolize_anon(const struct procfs_map *m)
{
	if (strcmp(m->path, "[vdso]") == 0)
		return false;
	return !modules_map_is_file(m) ||
	       strncmp(m->path, "/dev/zero", 9) == 0 ||
	       strncmp(m->path, "/anon_hugepage", 14) == 0;
}

/* The alias whose range holds a, or NULL. */
static struct sym_mod_priv *symbolize_find_alias(struct symbolizer *s,
						 uint64_t a)
{
	for (size_t i = 0; i < s->naliases; i++)
		if (a >= s->aliases[i]->pub.start && a < s->aliases[i]->pub.end)
			return s->aliases[i];
	return NULL;
}

/* Where the load p->alias_of maps the file byte that maps line m (a line
 * of alias p) maps at a: *la. False when the load does not map it. */
static bool symbolize_alias_addr(struct symbolizer *s,
				 const struct sym_mod_priv *p,
				 const struct procfs_map *m, uint64_t a,
				 uint64_t *la)
{
	const struct sym_mod_priv *load = p->alias_of;
	const struct procfs_map *x = procfs_maps_find(&s->maps,
						      load->pub.start);
	const struct procfs_map *end = s->maps.maps + s->maps.n;
	uint64_t fo = m->offset + (a - m->start);

	if (!symbolize_owns(p, m))
		return false;
	for (; x && x < end && x->start < load->pub.end; x++) {
		if (symbolize_owns(load, x) && fo >= x->offset &&
		    fo - x->offset < x->end - x->start) {
			*la = x->start + (fo - x->offset);
			return true;
		}
	}
	return false;
}

static uint64_t symbolize_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* Reads what the perf map gained, at most every SYM_PERFMAP_INTERVAL_NS
 * unless forced. A perf map that cannot be read (none, not trusted) names
 * nothing; one read before stays. */
static void symbolize_perfmap_poll(struct symbolizer *s, bool force)
{
	uint64_t now = symbolize_now_ns();

	if (!force && s->perfmap_polled &&
	    now - s->perfmap_polled_ns < SYM_PERFMAP_INTERVAL_NS)
		return;
	s->perfmap_polled = true;
	s->perfmap_polled_ns = now;
	if (!s->perfmap) {
		if (s->perfmap_tried)
			return;
		s->perfmap_tried = true;
		if (perfmap_new(s->pid, &s->perfmap) < 0)
			return;
	}
	int e = perfmap_update(s->perfmap);
	s->perfmap_error = e < 0 ? e : 0;
}

int symbolizer_perfmap_error(struct symbolizer *s, const char **name)
{
	symbolize_prefetch_join(s);
	*name = s->perfmap ? perfmap_name(s->perfmap) : NULL;
	return s->perfmap ? s->perfmap_error : 0;
}

static unsigned symbolize_jit_gen(const struct symbolizer *s)
{
	return s->perfmap ? perfmap_generation(s->perfmap) : 0;
}

/* The [jit] module, made on first use. NULL on ENOMEM. */
static struct sym_mod_priv *symbolize_jit_module(struct symbolizer *s)
{
	struct sym_mod_priv *p;

	if (s->jit)
		return s->jit;
	p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->s = s;
	p->path = strdup("[jit]");
	p->build_id = strdup("");
	if (!p->path || !p->build_id || symbolize_add_mod(s, p)) {
		symbolize_mod_free(p);
		return NULL;
	}
	p->pub.path = p->path;
	p->pub.build_id = p->build_id;
	p->pub.is_jit = true;
	p->pub.start = UINT64_MAX;
	p->pub.has_functions = true;
	s->jit = p;
	return p;
}

/* An address outside every file mapping (m: its maps line, NULL when the
 * maps do not have it): named by the perf map, or in anonymous executable
 * memory, it is JIT code (*pp the [jit] module, with the name in lines[0]
 * when the perf map has one); anything else is unmapped (*pp NULL).
 * Returns the count of lines, or -ENOMEM. */
static int symbolize_jit(struct symbolizer *s, const struct procfs_map *m,
			 uint64_t a, uint64_t addr, struct sym_line *lines,
			 struct sym_mod_priv **pp)
{
	const struct perfmap_entry *e;
	struct sym_mod_priv *p;
	bool oom = false;

	*pp = NULL;
	symbolize_perfmap_poll(s, false);
	e = s->perfmap ? perfmap_find(s->perfmap, a) : NULL;
	if (!e && !(m && m->perms[2] == 'x'))
		return 0;
	p = symbolize_jit_module(s);
	if (!p)
		return -ENOMEM;
	*pp = p;
	if (a < p->pub.start)
		p->pub.start = a;
	if (a >= p->pub.end)
		p->pub.end = a + 1;
	if (!e) {
		p->pub.has_functions = false;
		return 0;
	}
	/* The name as the program wrote it, as perf shows it: node's
	 * "JS:*hotLoop /path/app.js:12:20" (the file in it is the
	 * program's way of naming, not a source line we could check). */
	memset(&lines[0], 0, sizeof(lines[0]));
	lines[0].function = lines[0].system_name =
		symbolize_intern(s, e->name, &oom);
	lines[0].offset = addr - e->start;
	return oom ? -ENOMEM : 1;
}

static struct sym_block *symbolize_resolve(struct symbolizer *s,
					   uint64_t addr, bool is_return)
{
	struct sym_line lines[SYM_MAX_INLINE];
	struct sym_mod_priv *p = NULL;
	struct sym_block *b;
	uint64_t a = is_return ? addr - 1 : addr;
	int n = 0;
	bool oom = false;

	if (s->kernel && a >= SYM_KERNEL_START) {
		const struct procfs_ksym *k = NULL;

		p = s->kernel;
		if (!s->ksyms.all_zero)
			k = procfs_ksyms_find(&s->ksyms, a);
		if (k) {
			memset(&lines[0], 0, sizeof(lines[0]));
			lines[0].function = lines[0].system_name =
				symbolize_intern(s, k->name, &oom);
			lines[0].offset = addr - k->addr;
			n = 1;
		} else {
			p->pub.has_functions = false;
		}
		p->pub.has_filenames = p->pub.has_line_numbers = false;
		p->pub.has_inline_frames = false;
	} else {
		const struct procfs_map *m = procfs_maps_find(&s->maps, a);
		struct sym_mod_priv *q = NULL;	/* whose symbols */
		Dwfl_Module *mod = NULL;
		uint64_t la = a;
		Dwarf_Addr lo, hi;
		bool have_cu = false;

		if (!m || symbolize_anon(m)) {
			n = symbolize_jit(s, m, a, addr, lines, &p);
			if (n < 0)
				return NULL;
			goto done;
		}
		/* dwfl_addrmodule may answer with the module just below an
		 * address in the gap after it (seen with a library
		 * dlopen'ed there since the last report): check the range. */
		mod = dwfl_addrmodule(s->dwfl, a);
		if (mod && (!dwfl_module_info(mod, NULL, &lo, &hi, NULL, NULL,
					      NULL, NULL) ||
			    a < lo || a >= hi))
			mod = NULL;
		if (mod) {
			void **ud = NULL;

			dwfl_module_info(mod, &ud, NULL, NULL, NULL, NULL,
					 NULL, NULL);
			q = ud ? *ud : NULL;
			if ((void *)q == &symbolize_not_code)
				goto done;	/* data, not code: no module */
			/* A module covers only its file's mappings
			 * (modules.h); another file put in its range since
			 * the report is not it. */
			if (q && !symbolize_owns(q, m))
				mod = NULL;
			p = q;
		}
		if (!mod) {
			p = symbolize_find_alias(s, a);
			if (!p || !symbolize_alias_addr(s, p, m, a, &la)) {
				p = NULL;
				goto done;
			}
			q = p->alias_of;
			mod = q->mod;
		}
		n = symbolize_file_lines(s, mod, q, la, addr - a, lines,
					 &have_cu);
		if (n < 0)
			return NULL;
		if (p) {
			if (n == 0)
				p->pub.has_functions = false;
			for (int i = 0; i < n; i++) {
				if (!lines[i].file)
					p->pub.has_filenames = false;
				if (!lines[i].line)
					p->pub.has_line_numbers = false;
			}
			if (n > 0 && !have_cu)
				p->pub.has_inline_frames = false;
		}
	}
done:
	if (oom)
		return NULL;
	if ((void *)p == &symbolize_not_code) {
		p = NULL;
		n = 0;
	}
	b = calloc(1, sizeof(*b) + (size_t)n * sizeof(b->lines[0]));
	if (!b)
		return NULL;
	memcpy(b->lines, lines, (size_t)n * sizeof(lines[0]));
	b->frame.addr = addr;
	b->frame.module = p ? &p->pub : NULL;
	b->frame.nlines = (size_t)n;
	b->frame.lines = b->lines;
	b->generation = s->generation;
	b->jit_gen = symbolize_jit_gen(s);
	return b;
}

static int symbolize_grow(struct symbolizer *s)
{
	size_t n = s->nslots ? s->nslots * 2 : 1024;
	struct sym_slot *t = calloc(n, sizeof(*t));

	if (!t)
		return -ENOMEM;
	for (size_t i = 0; i < s->nslots; i++) {
		struct sym_slot *o = &s->slots[i];
		size_t j;

		if (!o->used)
			continue;
		j = hash_mix64(o->addr ^ o->is_return) & (n - 1);
		while (t[j].used)
			j = (j + 1) & (n - 1);
		t[j] = *o;
	}
	free(s->slots);
	s->slots = t;
	s->nslots = n;
	return 0;
}

static int symbolize_retire(struct symbolizer *s, struct sym_block *b)
{
	if (s->nretired == s->capretired) {
		size_t cap = s->capretired ? s->capretired * 2 : 16;
		struct sym_block **r = realloc(s->retired, cap * sizeof(*r));

		if (!r)
			return -ENOMEM;
		s->retired = r;
		s->capretired = cap;
	}
	s->retired[s->nretired++] = b;
	return 0;
}

static const struct sym_frame *symbolize_lookup(struct symbolizer *s,
						uint64_t addr, bool is_return)
{
	struct sym_block *b;
	size_t i, mask;

	if ((s->nused + 1) * 2 > s->nslots && symbolize_grow(s))
		return NULL;
	mask = s->nslots - 1;
	i = hash_mix64(addr ^ is_return) & mask;
	while (s->slots[i].used) {
		struct sym_slot *sl = &s->slots[i];

		if (sl->addr == addr && sl->is_return == is_return) {
			const struct sym_module *m = sl->block->frame.module;

			/* An address unmapped before a refresh may belong to
			 * a library loaded since, and one unnamed or named
			 * from the perf map may have a (new) name there: look
			 * it up again, keeping the old frame alive for those
			 * who hold it. */
			if (m && !m->is_jit)
				return &sl->block->frame;
			symbolize_perfmap_poll(s, false);
			if (sl->block->jit_gen == symbolize_jit_gen(s) &&
			    (m || sl->block->generation == s->generation))
				return &sl->block->frame;
			b = symbolize_resolve(s, addr, is_return);
			if (!b)
				return NULL;
			if (symbolize_retire(s, sl->block)) {
				free(b);
				return NULL;
			}
			sl->block = b;
			return &b->frame;
		}
		i = (i + 1) & mask;
	}
	b = symbolize_resolve(s, addr, is_return);
	if (!b)
		return NULL;
	s->slots[i] = (struct sym_slot){ addr, true, is_return, b };
	s->nused++;
	return &b->frame;
}

const struct sym_frame *symbolizer_lookup(struct symbolizer *s, uint64_t addr,
					  bool is_return)
{
	symbolize_prefetch_join(s);
	return symbolize_lookup(s, addr, is_return);
}

static void *symbolize_prefetch_main(void *arg)
{
	struct symbolizer *s = arg;

	/* An activation lookup of each address: loads the module's symbol
	 * table, its debug file, the DWARF (decompressing the compressed
	 * debug sections of a -dbg package is the expensive part: ~50 ms for
	 * libc6-dbg) and the address's line table, and caches the frame. */
	for (size_t i = 0; i < s->nprefetch; i++)
		if (!symbolize_lookup(s, s->prefetch_addrs[i], false))
			break;
	return NULL;
}

int symbolizer_prefetch(struct symbolizer *s, const uint64_t *addrs, size_t n)
{
	sigset_t all, old;
	int r;

	symbolize_prefetch_join(s);
	if (n == 0)
		return 0;
	s->prefetch_addrs = malloc(n * sizeof(*addrs));
	if (!s->prefetch_addrs)
		return -ENOMEM;
	memcpy(s->prefetch_addrs, addrs, n * sizeof(*addrs));
	s->nprefetch = n;
	/* The thread takes no signal: those meant for the process (SIGINT
	 * while a caller holds them blocked, say) must reach the caller. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	r = pthread_create(&s->prefetch, NULL, symbolize_prefetch_main, s);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r != 0) {
		free(s->prefetch_addrs);
		s->prefetch_addrs = NULL;
		s->nprefetch = 0;
		return -r;
	}
	s->prefetching = true;
	return 0;
}

const char *symbolizer_name(struct symbolizer *s, uint64_t addr)
{
	const struct sym_frame *f = symbolizer_lookup(s, addr, false);

	if (!f || f->nlines == 0)
		return NULL;
	return f->lines[f->nlines - 1].function;
}

const char *symbolizer_name_uncached(struct symbolizer *s, uint64_t addr)
{
	struct sym_block *b;
	const char *name = NULL;

	symbolize_prefetch_join(s);
	b = symbolize_resolve(s, addr, false);
	/* Names are interned in s, so they outlive the block. */
	if (b && b->frame.nlines)
		name = b->lines[b->frame.nlines - 1].function;
	free(b);
	return name;
}

void symbolizer_free(struct symbolizer *s)
{
	if (!s)
		return;
	symbolize_prefetch_join(s);
	/* dwfl_end first: it may call back into find_elf-owned state. */
	if (s->dwfl)
		dwfl_end(s->dwfl);
	modules_proc_free(s->proc);
	for (size_t i = 0; i < s->nslots; i++)
		if (s->slots[i].used)
			free(s->slots[i].block);
	free(s->slots);
	for (size_t i = 0; i < s->nretired; i++)
		free(s->retired[i]);
	free(s->retired);
	for (size_t i = 0; i < s->nmods; i++)
		symbolize_mod_free(s->mods[i]);
	free(s->mods);
	for (size_t i = 0; i < s->nstrslots; i++)
		free(s->strs[i]);
	free(s->strs);
	free(s->aliases);
	perfmap_free(s->perfmap);
	procfs_ksyms_release(&s->ksyms);
	procfs_maps_release(&s->maps);
	free(s);
}

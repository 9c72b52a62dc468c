/*
 * procs.c - processes, threads and their mappings from perf's FORK, COMM,
 * EXIT and MMAP2 records (see procs.h, docs/design.md §1.1).
 *
 * Processes and threads are kept in arrays of pointers sorted by id: a
 * recording sees hundreds of processes and up to thousands of threads, and
 * looks them up once per sample.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "procs.h"
#include "hash.h"

struct procs {
	procs_release_fn release;
	void *arg;
	struct procs_process **procs;	/* sorted by pid */
	size_t nprocs, capprocs;
	struct procs_thread **threads;	/* sorted by tid */
	size_t nthreads, capthreads;
};

/* --- sorted pointer arrays ------------------------------------------------ */

/* Index of id in v (sorted by the pid_t at offset 0 of each element), or
 * where it would go, with *found. */
static size_t procs_search(void *const *v, size_t n, pid_t id, bool *found)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		pid_t x = *(const pid_t *)v[mid];

		if (x == id) {
			*found = true;
			return mid;
		}
		if (x < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	*found = false;
	return lo;
}

static int procs_insert(void ***v, size_t *n, size_t *cap, size_t at, void *e)
{
	if (*n == *cap) {
		size_t c = *cap ? *cap * 2 : 64;
		void **nv = realloc(*v, c * sizeof(*nv));

		if (!nv)
			return -ENOMEM;
		*v = nv;
		*cap = c;
	}
	memmove(*v + at + 1, *v + at, (*n - at) * sizeof(**v));
	(*v)[at] = e;
	(*n)++;
	return 0;
}

static void procs_remove_at(void **v, size_t *n, size_t at)
{
	memmove(v + at, v + at + 1, (*n - at - 1) * sizeof(*v));
	(*n)--;
}

/* --- images ---------------------------------------------------------------- */

static struct procs_image *procs_image_new(pid_t pid)
{
	struct procs_image *img = calloc(1, sizeof(*img));

	if (img) {
		img->pid = pid;
		img->refs = 1;
	}
	return img;
}

static void procs_image_put(struct procs *p, struct procs_image *img)
{
	if (!img || --img->refs > 0)
		return;
	if (p->release)
		p->release(img, p->arg);
	procfs_maps_release(&img->maps);
	free(img);
}

/* proc's image, made its own (copied when shared) so it may change. NULL
 * on ENOMEM. */
static struct procs_image *procs_own_image(struct procs *p,
					   struct procs_process *proc)
{
	struct procs_image *img = proc->image, *copy;

	if (img->refs == 1)
		return img;
	copy = procs_image_new(proc->pid);
	if (!copy)
		return NULL;
	if (procfs_maps_dup(&img->maps, &copy->maps) < 0) {
		free(copy);
		return NULL;
	}
	copy->generation = img->generation;
	procs_image_put(p, img);
	proc->image = copy;
	return copy;
}

/* What a module may be made of: files, and the vDSO (modules.h); and
 * anonymous executable memory, where a JIT writes code, so that its
 * addresses are told from unmapped ones and end a file's run of mappings
 * (docs/design.md §4.4). The kernel names an anonymous mapping "//anon" in
 * MMAP2 records (and "[heap]", "[stack]" ...); /proc/PID/maps leaves its
 * path empty. */
static bool procs_keep_mapping(const char *path, bool exec)
{
	return (path[0] == '/' && strcmp(path, "//anon") != 0) ||
	       strcmp(path, "[vdso]") == 0 ||
	       (exec && (path[0] == '\0' || strcmp(path, "//anon") == 0));
}

/* Maps [start, end) in img as an mmap() there would: what was mapped in
 * the range goes (mappings cut at its edges keep their other part), then
 * m (its path taken over, NULL for an anonymous mapping) takes its place.
 * Returns 0 or -ENOMEM (m's path freed either way). */
static int procs_image_map(struct procs_image *img, uint64_t start,
			   uint64_t end, struct procfs_map *m)
{
	struct procfs_maps *ms = &img->maps;
	struct procfs_map *v;
	size_t n = 0, i;
	bool changed = m != NULL;

	/* At most one more piece than before (a mapping split in two)
	 * plus m. */
	v = malloc((ms->n + 2) * sizeof(*v));
	if (!v) {
		if (m)
			free(m->path);
		return -ENOMEM;
	}
	for (i = 0; i < ms->n; i++) {
		struct procfs_map *e = &ms->maps[i];

		if (e->end <= start || e->start >= end) {
			v[n++] = *e;
			continue;
		}
		changed = true;
		if (e->start < start && e->end > end) {
			/* Split: the left part keeps the path, the right a
			 * copy. */
			struct procfs_map right = *e;

			right.path = strdup(e->path);
			if (!right.path) {
				free(v);
				if (m)
					free(m->path);
				return -ENOMEM;
			}
			right.offset += end - e->start;
			right.start = end;
			v[n] = *e;
			v[n++].end = start;
			v[n++] = right;
		} else if (e->start < start) {
			v[n] = *e;
			v[n++].end = start;
		} else if (e->end > end) {
			v[n] = *e;
			v[n].offset += end - e->start;
			v[n++].start = end;
		} else {
			free(e->path);
		}
	}
	if (m) {
		for (i = n; i > 0 && v[i - 1].start > m->start; i--)
			v[i] = v[i - 1];
		v[i] = *m;
		n++;
	}
	free(ms->maps);
	ms->maps = v;
	ms->n = n;
	if (changed)
		img->generation++;
	return 0;
}

/* --- processes and threads ---------------------------------------------- */

struct procs *procs_new(procs_release_fn release, void *arg)
{
	struct procs *p = calloc(1, sizeof(*p));

	if (p) {
		p->release = release;
		p->arg = arg;
	}
	return p;
}

static struct procs_process *procs_find(struct procs *p, pid_t pid, size_t *at)
{
	bool found;
	size_t i = procs_search((void *const *)p->procs, p->nprocs, pid, &found);

	if (at)
		*at = i;
	return found ? p->procs[i] : NULL;
}

static struct procs_thread *procs_find_thread(struct procs *p, pid_t tid,
					      size_t *at)
{
	bool found;
	size_t i = procs_search((void *const *)p->threads, p->nthreads, tid,
				&found);

	if (at)
		*at = i;
	return found ? p->threads[i] : NULL;
}

static void procs_drop_thread(struct procs *p, pid_t tid)
{
	size_t at;
	struct procs_thread *t = procs_find_thread(p, tid, &at);

	if (t) {
		procs_remove_at((void **)p->threads, &p->nthreads, at);
		free(t);
	}
}

static void procs_drop_process(struct procs *p, pid_t pid)
{
	size_t at;
	struct procs_process *proc = procs_find(p, pid, &at);

	if (!proc)
		return;
	/* Threads left behind (their EXIT records lost) go too: their tids
	 * will name other threads. */
	for (size_t i = p->nthreads; i > 0; i--) {
		if (p->threads[i - 1]->pid == pid) {
			free(p->threads[i - 1]);
			procs_remove_at((void **)p->threads, &p->nthreads, i - 1);
		}
	}
	procs_remove_at((void **)p->procs, &p->nprocs, at);
	procs_image_put(p, proc->image);
	free(proc);
}

/* A new entry for pid (replacing a stale one: a pid reused after an EXIT
 * record was lost), with image img (a reference taken over; NULL: an
 * empty one). */
static struct procs_process *procs_add(struct procs *p, pid_t pid,
				       struct procs_image *img)
{
	struct procs_process *proc;
	size_t at;

	procs_drop_process(p, pid);
	procs_find(p, pid, &at);
	proc = calloc(1, sizeof(*proc));
	if (!img)
		img = procs_image_new(pid);
	if (!proc || !img || procs_insert((void ***)&p->procs, &p->nprocs,
					  &p->capprocs, at, proc) < 0) {
		free(proc);
		procs_image_put(p, img);
		return NULL;
	}
	proc->pid = pid;
	proc->image = img;
	proc->nthreads = -1;
	return proc;
}

/* The text of /proc/PID/maps, with its length and hash. */
static int procs_maps_text(pid_t pid, char **text, size_t *len, uint64_t *hash)
{
	char path[64];
	int e;

	/* A leader that called pthread_exit shows no maps (procfs.h). */
	snprintf(path, sizeof(path), "/proc/%d/maps", (int)procfs_proc_tid(pid));
	e = procfs_read_file(path, text, len);
	if (e == 0)
		*hash = hash_fnv1a(*text, *len);
	return e;
}

/* Parses text into *out, files and the vDSO only; proc remembers which
 * text its image was read from. Returns 0 or -errno. */
static int procs_parse(struct procs_process *proc, const char *text, size_t len,
		       uint64_t hash, struct procfs_maps *out)
{
	size_t k = 0;
	int e = procfs_parse_maps(text, out);

	if (e < 0)
		return e;
	for (size_t i = 0; i < out->n; i++) {
		if (procs_keep_mapping(out->maps[i].path,
				       out->maps[i].perms[2] == 'x'))
			out->maps[k++] = out->maps[i];
		else
			free(out->maps[i].path);
	}
	out->n = k;
	proc->maps_len = len;
	proc->maps_hash = hash;
	proc->changed = false;
	return 0;
}

struct procs_process *procs_process(struct procs *p, pid_t pid, uint64_t now)
{
	struct procs_process *proc = procs_find(p, pid, NULL);

	if (proc)
		return proc;
	proc = procs_add(p, pid, NULL);
	if (!proc)
		return NULL;
	/* Not seen forking: what /proc says now. A process already gone
	 * keeps an empty image; records from now on fill it. */
	char *text;
	size_t len;
	uint64_t hash = 0;

	if (procs_maps_text(pid, &text, &len, &hash) == 0) {
		if (procs_parse(proc, text, len, hash, &proc->image->maps) == 0) {
			proc->image->generation++;
			proc->snap_time = now;
		}
		free(text);
	}
	if (procfs_read_comm(pid, 0, proc->comm, sizeof(proc->comm)) < 0)
		proc->comm[0] = '\0';
	return proc;
}

static struct procs_thread *procs_add_thread(struct procs *p, pid_t pid,
					     pid_t tid, const char *name)
{
	struct procs_thread *t;
	size_t at;

	procs_drop_thread(p, tid);
	procs_find_thread(p, tid, &at);
	t = calloc(1, sizeof(*t));
	if (!t || procs_insert((void ***)&p->threads, &p->nthreads,
			       &p->capthreads, at, t) < 0) {
		free(t);
		return NULL;
	}
	t->tid = tid;
	t->pid = pid;
	snprintf(t->name, sizeof(t->name), "%s", name);
	return t;
}

struct procs_thread *procs_thread(struct procs *p, struct procs_process *proc,
				  pid_t tid)
{
	struct procs_thread *t = procs_find_thread(p, tid, NULL);
	char name[16];

	if (t && t->pid == proc->pid)
		return t;
	if (procfs_read_comm(proc->pid, tid, name, sizeof(name)) < 0)
		snprintf(name, sizeof(name), "%s", proc->comm);
	return procs_add_thread(p, proc->pid, tid, name);
}

/* --- records -------------------------------------------------------------- */

/* PERF_RECORD_FORK and EXIT: { u32 pid, ppid, tid, ptid; u64 time; } */
static int procs_fork(struct procs *p, const uint32_t *f, uint64_t now)
{
	pid_t pid = (pid_t)f[0], ppid = (pid_t)f[1];
	pid_t tid = (pid_t)f[2], ptid = (pid_t)f[3];
	struct procs_process *parent = procs_process(p, ppid, now), *proc;
	struct procs_thread *creator;

	if (!parent)
		return -ENOMEM;
	/* A new task starts with its creator's name (comm is copied by
	 * fork and clone). */
	creator = procs_find_thread(p, ptid, NULL);
	const char *name = creator && creator->pid == ppid ? creator->name
							   : parent->comm;
	char copy[16];

	snprintf(copy, sizeof(copy), "%s", name);
	if (pid == ppid) {
		/* A thread. */
		if (parent->nthreads >= 0)
			parent->nthreads++;
		return procs_add_thread(p, pid, tid, copy) ? 0 : -ENOMEM;
	}
	/* A process: the parent's mappings, shared until either changes. */
	parent->image->refs++;
	proc = procs_add(p, pid, parent->image);
	if (!proc)
		return -ENOMEM;
	snprintf(proc->comm, sizeof(proc->comm), "%s", copy);
	proc->nthreads = 1;
	return procs_add_thread(p, pid, tid, copy) ? 0 : -ENOMEM;
}

static void procs_exit(struct procs *p, const uint32_t *f)
{
	pid_t pid = (pid_t)f[0], tid = (pid_t)f[2];
	struct procs_process *proc = procs_find(p, pid, NULL);

	procs_drop_thread(p, tid);
	if (proc && proc->nthreads > 0 && --proc->nthreads == 0)
		procs_drop_process(p, pid);
}

/* PERF_RECORD_COMM: { u32 pid, tid; char comm[]; } */
static int procs_comm(struct procs *p, const struct perf_event_header *hdr,
		      uint64_t time, uint64_t now)
{
	const uint32_t *f = (const uint32_t *)(hdr + 1);
	const char *comm = (const char *)(f + 2);
	size_t max = hdr->size - sizeof(*hdr) - 8;
	pid_t pid = (pid_t)f[0], tid = (pid_t)f[1];
	struct procs_process *proc = procs_process(p, pid, now);
	struct procs_thread *t;
	char name[16];

	if (!proc)
		return -ENOMEM;
	snprintf(name, sizeof(name), "%.*s", (int)strnlen(comm, max), comm);
	if ((hdr->misc & PERF_RECORD_MISC_COMM_EXEC) && time >= proc->snap_time) {
		/* A new program: none of the old mappings stay, and the
		 * other threads are gone (their EXIT records came first). */
		struct procs_image *img = procs_image_new(pid);

		if (!img)
			return -ENOMEM;
		procs_image_put(p, proc->image);
		proc->image = img;
		proc->snap_time = 0;
		proc->changed = true;
		if (proc->nthreads >= 0)
			proc->nthreads = 1;
	}
	if (tid == pid)
		snprintf(proc->comm, sizeof(proc->comm), "%s", name);
	t = procs_find_thread(p, tid, NULL);
	if (t && t->pid == pid) {
		snprintf(t->name, sizeof(t->name), "%s", name);
		return 0;
	}
	return procs_add_thread(p, pid, tid, name) ? 0 : -ENOMEM;
}

/* PERF_RECORD_MMAP2: { u32 pid, tid; u64 addr, len, pgoff; u32 maj, min;
 * u64 ino, ino_generation; u32 prot, flags; char filename[]; } */
static int procs_mmap2(struct procs *p, const struct perf_event_header *hdr,
		       uint64_t time, uint64_t now)
{
	const uint8_t *b = (const uint8_t *)(hdr + 1);
	const size_t fixed = 8 + 3 * 8 + 8 + 2 * 8 + 8;
	uint32_t pid, maj, min, prot, flags;
	uint64_t addr, len, pgoff, ino;
	struct procs_process *proc;
	struct procs_image *img;
	struct procfs_map m = { 0 };
	const char *name;
	size_t namelen;

	if (hdr->size < sizeof(*hdr) + fixed + 8 ||
	    (hdr->misc & PERF_RECORD_MISC_MMAP_BUILD_ID))
		return 0;
	memcpy(&pid, b, 4);
	memcpy(&addr, b + 8, 8);
	memcpy(&len, b + 16, 8);
	memcpy(&pgoff, b + 24, 8);
	memcpy(&maj, b + 32, 4);
	memcpy(&min, b + 36, 4);
	memcpy(&ino, b + 40, 8);
	memcpy(&prot, b + 56, 4);
	memcpy(&flags, b + 60, 4);
	name = (const char *)b + fixed;
	namelen = strnlen(name, hdr->size - sizeof(*hdr) - fixed);
	if (len == 0 || addr + len < addr)
		return 0;
	proc = procs_process(p, (pid_t)pid, now);
	if (!proc)
		return -ENOMEM;
	if (time < proc->snap_time)
		return 0;	/* in the /proc read already */
	img = procs_own_image(p, proc);
	if (!img)
		return -ENOMEM;
	proc->changed = true;
	/* d_path() marks an unlinked file as procfs does. */
	static const char deleted[] = " (deleted)";
	if (namelen > sizeof(deleted) - 1 &&
	    memcmp(name + namelen - (sizeof(deleted) - 1), deleted,
		   sizeof(deleted) - 1) == 0) {
		namelen -= sizeof(deleted) - 1;
		m.deleted = true;
	}
	m.path = strndup(name, namelen);
	if (!m.path)
		return -ENOMEM;
	if (!procs_keep_mapping(m.path, prot & PROT_EXEC)) {
		free(m.path);
		return procs_image_map(img, addr, addr + len, NULL);
	}
	if (strcmp(m.path, "//anon") == 0)
		m.path[0] = '\0';	/* as /proc/PID/maps shows it */
	m.start = addr;
	m.end = addr + len;
	m.offset = pgoff;
	m.inode = ino;
	m.dev_major = maj;
	m.dev_minor = min;
	m.perms[0] = prot & PROT_READ ? 'r' : '-';
	m.perms[1] = prot & PROT_WRITE ? 'w' : '-';
	m.perms[2] = prot & PROT_EXEC ? 'x' : '-';
	m.perms[3] = flags & MAP_SHARED ? 's' : 'p';
	m.perms[4] = '\0';
	return procs_image_map(img, m.start, m.end, &m);
}

int procs_record(struct procs *p, const struct perf_event_header *hdr,
		 uint64_t time, uint64_t now)
{
	uint32_t f[4];

	switch (hdr->type) {
	case PERF_RECORD_FORK:
	case PERF_RECORD_EXIT:
		if (hdr->size < sizeof(*hdr) + sizeof(f))
			return 0;
		memcpy(f, hdr + 1, sizeof(f));
		if (hdr->type == PERF_RECORD_FORK)
			return procs_fork(p, f, now);
		procs_exit(p, f);
		return 0;
	case PERF_RECORD_COMM:
		if (hdr->size <= sizeof(*hdr) + 8)
			return 0;
		return procs_comm(p, hdr, time, now);
	case PERF_RECORD_MMAP2:
		return procs_mmap2(p, hdr, time, now);
	default:
		return 0;
	}
}

int procs_reload(struct procs *p, struct procs_process *proc, uint64_t now)
{
	struct procs_image *img;
	struct procfs_maps m;
	uint64_t hash = 0;
	size_t len;
	char *text;
	bool same;
	int e;

	e = procs_maps_text(proc->pid, &text, &len, &hash);
	if (e < 0)
		return e;
	proc->snap_time = now;
	/* Called for every address outside the modules (JIT code has
	 * none): a text the image was read from is not parsed again (~3 ms
	 * at 2,000 lines), unless a record changed the image since. */
	if (!proc->changed && len == proc->maps_len && hash == proc->maps_hash) {
		free(text);
		return 0;
	}
	e = procs_parse(proc, text, len, hash, &m);
	free(text);
	if (e < 0)
		return e;
	img = proc->image;
	same = img->maps.n == m.n;
	for (size_t i = 0; same && i < m.n; i++) {
		const struct procfs_map *x = &img->maps.maps[i], *y = &m.maps[i];

		same = x->start == y->start && x->end == y->end &&
		       x->offset == y->offset && x->inode == y->inode &&
		       x->deleted == y->deleted && !strcmp(x->perms, y->perms) &&
		       !strcmp(x->path, y->path);
	}
	if (same) {
		procfs_maps_release(&m);
		return 0;
	}
	img = procs_own_image(p, proc);
	if (!img) {
		procfs_maps_release(&m);
		return -ENOMEM;
	}
	procfs_maps_release(&img->maps);
	img->maps = m;
	img->generation++;
	return 1;
}

size_t procs_count(const struct procs *p)
{
	return p->nprocs;
}

void procs_free(struct procs *p)
{
	if (!p)
		return;
	while (p->nprocs > 0)
		procs_drop_process(p, p->procs[p->nprocs - 1]->pid);
	for (size_t i = 0; i < p->nthreads; i++)
		free(p->threads[i]);
	free(p->threads);
	free(p->procs);
	free(p);
}

/*
 * perfmap.c - a process's /tmp/perf-PID.map, read as it grows: see
 * perfmap.h and docs/design.md §4.4.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/openat2.h>

#include "hexdigit.h"
#include "perfmap.h"
#include "procfs.h"

/* Bytes read at a time: bounds what one update holds besides entries. */
#define PERFMAP_BUF (64u << 10)
/* Lines merged into the entries at once, at most (and names of at most
 * PERFMAP_BATCH_BYTES): a big file is read in steps of bounded memory. */
#define PERFMAP_BATCH (64u << 10)
#define PERFMAP_BATCH_BYTES (4u << 20)
/* The recent level goes into the big one past this size and an eighth
 * of the big one. */
#define PERFMAP_RECENT 4096

struct perfmap {
	char *root;		/* the directory relpath is resolved in */
	char *relpath;
	char *name;		/* "/" relpath */
	uid_t uids[4];		/* owners trusted besides root */
	size_t nuids;

	/* The file as of the last update. */
	bool have_file;
	dev_t dev;
	ino_t ino;
	uint64_t consumed;	/* bytes up to the last line taken */
	bool skipping;		/* inside an overlong line, up to its end */
	uint64_t seq;		/* lines taken */

	/* Entries in two levels, each sorted by start without overlap:
	 * every entry of r is newer than every entry of v, and hides those
	 * of v it overlaps (perfmap_find). */
	struct perfmap_entry *v, *r;
	size_t n, nr;
	struct perfmap_entry *batch;	/* lines not merged yet, in order */
	size_t nbatch, capbatch, batch_bytes;
	char *buf;

	bool merged;		/* entries changed during this update */
	unsigned generation;
	struct perfmap_stats st;
};

static int perfmap_merge(struct perfmap *pm);

static int perfmap_alloc(const char *root, const char *relpath,
			 const uid_t *uids, size_t nuids, struct perfmap **out)
{
	struct perfmap *pm = calloc(1, sizeof(*pm));

	*out = NULL;
	if (!pm)
		return -ENOMEM;
	pm->root = strdup(root);
	pm->relpath = strdup(relpath);
	if (asprintf(&pm->name, "/%s", relpath) < 0)
		pm->name = NULL;
	if (!pm->root || !pm->relpath || !pm->name) {
		perfmap_free(pm);
		return -ENOMEM;
	}
	for (size_t i = 0; i < nuids && i < 4; i++)
		pm->uids[pm->nuids++] = uids[i];
	*out = pm;
	return 0;
}

int perfmap_new_at(const char *root, const char *relpath, const uid_t *uids,
		   size_t nuids, struct perfmap **out)
{
	return perfmap_alloc(root, relpath, uids, nuids, out);
}

int perfmap_new(pid_t pid, struct perfmap **out)
{
	struct procfs_ids ids;
	char root[64], rel[64];
	int e;

	*out = NULL;
	e = procfs_read_ids(pid, &ids);
	if (e)
		return e;
	/* perf names the file after the process as its own namespace
	 * sees it (tools/perf/util/map.c: nsinfo__nstgid) and reads it in
	 * the process's mount namespace. */
	snprintf(root, sizeof(root), "/proc/%d/root", (int)pid);
	snprintf(rel, sizeof(rel), "tmp/perf-%d.map", (int)ids.nstgid);
	return perfmap_alloc(root, rel, ids.uids, 4, out);
}

/* --- parsing ------------------------------------------------------------ */

/* A hex number at s[*i..len), with an optional 0x, at most 64 bits. */
static bool perfmap_hex(const char *s, size_t len, size_t *i, uint64_t *out)
{
	size_t p = *i, digits = 0;
	uint64_t v = 0;
	int d;

	if (p + 1 < len && s[p] == '0' && (s[p + 1] == 'x' || s[p + 1] == 'X'))
		p += 2;
	for (; p < len && (d = hexdigit(s[p])) >= 0; p++) {
		if (v >> 60)
			return false;	/* more than 64 bits */
		v = v << 4 | (uint64_t)d;
		digits++;
	}
	if (!digits)
		return false;
	*i = p;
	*out = v;
	return true;
}

static bool perfmap_blank(char c)
{
	return c == ' ' || c == '\t';
}

/* At least one blank at s[*i], all of them skipped. */
static bool perfmap_blanks(const char *s, size_t len, size_t *i)
{
	size_t p = *i;

	while (p < len && perfmap_blank(s[p]))
		p++;
	if (p == *i)
		return false;
	*i = p;
	return true;
}

int perfmap_parse_line(const char *line, size_t len, uint64_t *start,
		       uint64_t *size, const char **name, size_t *name_len)
{
	size_t i = 0, end = len;

	if (len > PERFMAP_MAX_LINE || memchr(line, '\0', len))
		return -EINVAL;
	while (end > 0 && (perfmap_blank(line[end - 1]) || line[end - 1] == '\r'))
		end--;
	if (!perfmap_hex(line, end, &i, start) || !perfmap_blanks(line, end, &i) ||
	    !perfmap_hex(line, end, &i, size) || !perfmap_blanks(line, end, &i) ||
	    i == end)
		return -EINVAL;
	/* An empty range names nothing; one past the address space is
	 * garbage. */
	if (*size == 0 || *start + *size < *start)
		return -EINVAL;
	*name = line + i;
	*name_len = end - i;
	return 0;
}

/* --- entries ------------------------------------------------------------ */

static void perfmap_drop(struct perfmap *pm, struct perfmap_entry *e)
{
	pm->st.name_bytes -= strlen(e->name) + 1;
	free(e->name);
	e->name = NULL;
}

static void perfmap_add_line(struct perfmap *pm, const char *line, size_t len)
{
	uint64_t start, size;
	const char *name;
	size_t nlen;
	char *copy;

	pm->st.lines++;
	pm->seq++;
	if (perfmap_parse_line(line, len, &start, &size, &name, &nlen)) {
		pm->st.malformed++;
		return;
	}
	if (pm->nbatch == pm->capbatch) {
		size_t cap = pm->capbatch ? pm->capbatch * 2 : 256;
		struct perfmap_entry *b = realloc(pm->batch, cap * sizeof(*b));

		if (!b) {
			pm->st.dropped++;
			return;
		}
		pm->batch = b;
		pm->capbatch = cap;
	}
	copy = strndup(name, nlen);
	if (!copy) {
		pm->st.dropped++;
		return;
	}
	pm->st.name_bytes += nlen + 1;
	pm->batch_bytes += nlen + 1;
	pm->batch[pm->nbatch++] = (struct perfmap_entry){
		start, start + size, copy, pm->seq };
	if (pm->nbatch >= PERFMAP_BATCH || pm->batch_bytes >= PERFMAP_BATCH_BYTES)
		pm->merged |= perfmap_merge(pm) > 0;
}

static int perfmap_entry_cmp(const void *a, const void *b)
{
	const struct perfmap_entry *x = a, *y = b;

	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Appends e to out[0..*n), sorted by start: an entry it overlaps goes if
 * older, else e goes. Over a sorted input this leaves no overlap. */
static void perfmap_push(struct perfmap *pm, struct perfmap_entry *out,
			 size_t *n, struct perfmap_entry *e)
{
	while (*n > 0 && out[*n - 1].end > e->start) {
		pm->st.replaced++;
		if (out[*n - 1].seq > e->seq) {
			perfmap_drop(pm, e);
			return;
		}
		perfmap_drop(pm, &out[--*n]);
	}
	out[(*n)++] = *e;
}

/* Merges src[0..nsrc) (sorted, no overlap, every entry newer than those
 * of *dst) into *dst (the same), newest first wherever two overlap. On
 * ENOMEM src is dropped and *dst kept. */
static int perfmap_merge_into(struct perfmap *pm, struct perfmap_entry **dst,
			      size_t *ndst, struct perfmap_entry *src,
			      size_t nsrc)
{
	size_t n = 0, i = 0, j = 0, total = *ndst + nsrc;
	struct perfmap_entry *out, *d = *dst;

	out = malloc(total * sizeof(*out));
	if (!out) {
		for (size_t k = 0; k < nsrc; k++)
			perfmap_drop(pm, &src[k]);
		pm->st.dropped += nsrc;
		return -ENOMEM;
	}
	while (i < *ndst || j < nsrc) {
		bool old = j == nsrc || (i < *ndst && d[i].start <= src[j].start);

		perfmap_push(pm, out, &n, old ? &d[i++] : &src[j++]);
	}
	free(d);
	*dst = out;
	*ndst = n;
	return 0;
}

static int perfmap_seq_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Past a limit, removes the oldest entries (the smallest line numbers) of
 * the big level, which then holds them all, down to 7/8 of both limits. */
static void perfmap_evict(struct perfmap *pm)
{
	uint64_t *seqs, cut;
	size_t keep_n = PERFMAP_MAX_ENTRIES / 8 * 7;
	size_t keep_bytes = PERFMAP_MAX_NAME_BYTES / 8 * 7;
	size_t n = pm->n, bytes = pm->st.name_bytes, w = 0, k;

	if (n == 0 || (n <= PERFMAP_MAX_ENTRIES && bytes <= PERFMAP_MAX_NAME_BYTES))
		return;
	/* The age below which entries go: line numbers sorted, then taken
	 * from the oldest until both counts are under their marks. Name
	 * lengths are not at hand by age, so bytes are estimated by the
	 * mean, and this runs again if that fell short. */
	seqs = malloc(n * sizeof(*seqs));
	if (!seqs) {
		cut = pm->v[0].seq;	/* at least something goes */
		for (size_t i = 1; i < n; i++)
			if (pm->v[i].seq < cut)
				cut = pm->v[i].seq;
	} else {
		for (size_t i = 0; i < n; i++)
			seqs[i] = pm->v[i].seq;
		qsort(seqs, n, sizeof(*seqs), perfmap_seq_cmp);
		size_t mean = bytes / n + 1;
		/* k: how many go, at least one. */
		k = 1;
		while (k < n && (n - k > keep_n || (n - k) * mean > keep_bytes))
			k++;
		cut = seqs[k - 1];
		free(seqs);
	}
	for (size_t i = 0; i < n; i++) {
		if (pm->v[i].seq <= cut) {
			perfmap_drop(pm, &pm->v[i]);
			pm->st.evicted++;
		} else {
			pm->v[w++] = pm->v[i];
		}
	}
	pm->n = w;
	if (w > 0 && pm->st.name_bytes > PERFMAP_MAX_NAME_BYTES)
		perfmap_evict(pm);
}

/* Merges the lines read so far into the entries. Two levels, so that a
 * few new lines do not rewrite a million entries each time (each update
 * would cost ~70 ms at 1M, docs/design.md §4.4): the batch goes into the
 * small recent level, which goes into the big one once it holds more
 * than an eighth of it, or past a limit. Returns whether the entries changed, or -ENOMEM
 * (lines dropped, entries kept). */
static int perfmap_merge(struct perfmap *pm)
{
	int e;

	if (pm->nbatch == 0)
		return 0;
	/* Lines come in the order they were written, addresses in any. */
	qsort(pm->batch, pm->nbatch, sizeof(*pm->batch), perfmap_entry_cmp);
	/* The batch itself may overlap: merged into nothing first. */
	struct perfmap_entry *sorted = NULL;
	size_t nsorted = 0;
	e = perfmap_merge_into(pm, &sorted, &nsorted, pm->batch, pm->nbatch);
	pm->nbatch = 0;
	pm->batch_bytes = 0;
	if (e == 0)
		e = perfmap_merge_into(pm, &pm->r, &pm->nr, sorted, nsorted);
	free(sorted);
	if (e)
		return e;
	if ((pm->nr > PERFMAP_RECENT && pm->nr > pm->n / 8) ||
	    pm->n + pm->nr > PERFMAP_MAX_ENTRIES ||
	    pm->st.name_bytes > PERFMAP_MAX_NAME_BYTES) {
		e = perfmap_merge_into(pm, &pm->v, &pm->n, pm->r, pm->nr);
		free(pm->r);
		pm->r = NULL;
		pm->nr = 0;
		if (e)
			return e;
		perfmap_evict(pm);
	}
	return 1;
}

static void perfmap_clear(struct perfmap *pm)
{
	for (size_t i = 0; i < pm->n; i++)
		perfmap_drop(pm, &pm->v[i]);
	for (size_t i = 0; i < pm->nr; i++)
		perfmap_drop(pm, &pm->r[i]);
	for (size_t i = 0; i < pm->nbatch; i++)
		perfmap_drop(pm, &pm->batch[i]);
	pm->n = pm->nr = pm->nbatch = 0;
	pm->batch_bytes = 0;
}

/* --- reading ------------------------------------------------------------ */

/* Takes the complete lines of buf[0..have): returns the bytes taken (up to
 * the last newline, or the start of an overlong line dropped). */
static size_t perfmap_take(struct perfmap *pm, const char *buf, size_t have)
{
	size_t p = 0;

	while (p < have) {
		const char *nl = memchr(buf + p, '\n', have - p);
		size_t len;

		if (!nl) {
			/* No end within PERFMAP_MAX_LINE: skip the line to
			 * its end, whenever it comes. */
			if (have - p >= PERFMAP_MAX_LINE) {
				if (!pm->skipping) {
					pm->st.lines++;
					pm->seq++;
					pm->st.malformed++;
				}
				pm->skipping = true;
				p = have;
			}
			break;
		}
		len = (size_t)(nl - (buf + p));
		if (pm->skipping)
			pm->skipping = false;
		else
			perfmap_add_line(pm, buf + p, len);
		p += len + 1;
	}
	return p;
}

/* The file, opened inside root: never through a symbolic link as its last
 * component (O_NOFOLLOW), and with RESOLVE_IN_ROOT a link on the way
 * (a container's /tmp -> /var/tmp) stays inside root too. O_NONBLOCK: a
 * FIFO put there must not block the open; it is refused right after. */
static int perfmap_open(const struct perfmap *pm)
{
	struct open_how how = {
		.flags = O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC,
		.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
	};
	int dfd, fd, e;

	dfd = open(pm->root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return -errno;
	fd = (int)syscall(SYS_openat2, dfd, pm->relpath, &how, sizeof(how));
	if (fd < 0 && errno == ENOSYS)	/* before Linux 5.6 */
		fd = openat(dfd, pm->relpath, (int)how.flags);
	e = errno;
	close(dfd);
	if (fd < 0)
		return e == ELOOP ? -EINVAL : -e;
	return fd;
}

/* perf itself reads a perf map owned by root or by the user running perf
 * (tools/perf/util/symbol.c, dso__load); the one who writes it here is the
 * target, so its uids are the ones to trust. */
static int perfmap_check(const struct perfmap *pm, const struct stat *st)
{
	if (!S_ISREG(st->st_mode))
		return -EINVAL;
	if (st->st_uid == 0)
		return 0;
	for (size_t i = 0; i < pm->nuids; i++)
		if (st->st_uid == pm->uids[i])
			return 0;
	return -EPERM;
}

int perfmap_update(struct perfmap *pm)
{
	struct stat st;
	uint64_t off, size;
	size_t have = 0;
	int fd, e, changed = 0;

	fd = perfmap_open(pm);
	if (fd == -ENOENT)
		return 0;	/* not written (yet) */
	if (fd < 0)
		return fd;
	if (fstat(fd, &st) < 0) {
		e = -errno;
		close(fd);
		return e;
	}
	e = perfmap_check(pm, &st);
	if (e) {
		close(fd);
		return e;
	}
	size = (uint64_t)st.st_size;
	if (pm->have_file && (st.st_dev != pm->dev || st.st_ino != pm->ino ||
			      size < pm->consumed)) {
		/* Another file (the pid reused), or written again. */
		perfmap_clear(pm);
		pm->consumed = 0;
		pm->skipping = false;
		pm->st.resets++;
		changed = 1;
	}
	pm->have_file = true;
	pm->dev = st.st_dev;
	pm->ino = st.st_ino;
	pm->merged = false;
	if (size > pm->consumed && !pm->buf) {
		pm->buf = malloc(PERFMAP_BUF);
		if (!pm->buf) {
			close(fd);
			return -ENOMEM;
		}
	}
	/* Up to the size fstat saw: a file written faster than it is read
	 * is read on the next update, not in an endless loop now. */
	off = pm->consumed;
	while (off + have < size) {
		size_t want = PERFMAP_BUF - have;
		ssize_t r;

		if (want > size - (off + have))
			want = (size_t)(size - (off + have));
		r = pread(fd, pm->buf + have, want, (off_t)(off + have));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		have += (size_t)r;
		size_t took = perfmap_take(pm, pm->buf, have);
		off += took;
		have -= took;
		memmove(pm->buf, pm->buf + took, have);
	}
	close(fd);
	pm->consumed = off;
	e = perfmap_merge(pm);
	if (e > 0 || pm->merged)
		changed = 1;
	if (changed)
		pm->generation++;
	pm->st.entries = pm->n + pm->nr;
	return e < 0 ? e : changed;
}

/* The last entry of v[0..n) with start <= addr, whether it covers addr
 * or not; NULL when none. */
static const struct perfmap_entry *perfmap_below(const struct perfmap_entry *v,
						 size_t n, uint64_t addr)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (v[mid].start <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo ? &v[lo - 1] : NULL;
}

const struct perfmap_entry *perfmap_find(const struct perfmap *pm,
					 uint64_t addr)
{
	const struct perfmap_entry *e = perfmap_below(pm->r, pm->nr, addr);

	if (e && addr < e->end)
		return e;
	e = perfmap_below(pm->v, pm->n, addr);
	if (!e || addr >= e->end)
		return NULL;
	/* A recent entry over any part of it means it was replaced: the
	 * one recent entry that could is the last to start before its end
	 * (recent entries do not overlap each other). */
	const struct perfmap_entry *o = perfmap_below(pm->r, pm->nr, e->end - 1);
	if (o && o->end > e->start)
		return NULL;
	return e;
}

const char *perfmap_name(const struct perfmap *pm)
{
	return pm->name;
}

unsigned perfmap_generation(const struct perfmap *pm)
{
	return pm->generation;
}

void perfmap_get_stats(const struct perfmap *pm, struct perfmap_stats *st)
{
	*st = pm->st;
	st->entries = pm->n + pm->nr;
}

void perfmap_free(struct perfmap *pm)
{
	if (!pm)
		return;
	perfmap_clear(pm);
	free(pm->v);
	free(pm->r);
	free(pm->batch);
	free(pm->buf);
	free(pm->root);
	free(pm->relpath);
	free(pm->name);
	free(pm);
}

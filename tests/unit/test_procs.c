/*
 * test_procs.c - processes, threads and mappings from hand-made FORK, COMM,
 * EXIT and MMAP2 records: copy on write of a forked child's mappings, an
 * exec's fresh image, mmap over part of a mapping, release of the images of
 * exited processes, names. The pids are above pid_max (proc(5): at most
 * 2^22), so no /proc read ever finds them.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "check.h"
#include "procs.h"

#define ROOT 5000000
#define KID 5000001
#define T2 5000002

static uint64_t buf[64];

static const struct perf_event_header *task_rec(uint32_t type, pid_t pid,
						pid_t ppid, pid_t tid, pid_t ptid)
{
	struct perf_event_header h = { .type = type, .size = 8 + 16 + 8 };
	uint32_t f[4] = { (uint32_t)pid, (uint32_t)ppid, (uint32_t)tid,
			  (uint32_t)ptid };

	memset(buf, 0, sizeof(buf));
	memcpy(buf, &h, sizeof(h));
	memcpy(&buf[1], f, sizeof(f));
	return (const void *)buf;
}

static const struct perf_event_header *comm_rec(pid_t pid, pid_t tid,
						const char *comm, bool exec)
{
	struct perf_event_header h = {
		.type = PERF_RECORD_COMM,
		.misc = exec ? PERF_RECORD_MISC_COMM_EXEC : 0,
		.size = 8 + 8 + 16,
	};
	uint32_t f[2] = { (uint32_t)pid, (uint32_t)tid };

	memset(buf, 0, sizeof(buf));
	memcpy(buf, &h, sizeof(h));
	memcpy(&buf[1], f, sizeof(f));
	strncpy((char *)&buf[2], comm, 15);
	return (const void *)buf;
}

static const struct perf_event_header *mmap_rec(pid_t pid, uint64_t addr,
						uint64_t len, uint64_t pgoff,
						uint32_t prot, uint64_t ino,
						const char *name)
{
	struct perf_event_header h = { .type = PERF_RECORD_MMAP2 };
	uint8_t *b = (uint8_t *)&buf[1];
	uint32_t v32;
	size_t nlen = strlen(name) + 1;

	memset(buf, 0, sizeof(buf));
	v32 = (uint32_t)pid;
	memcpy(b, &v32, 4);
	memcpy(b + 4, &v32, 4);
	memcpy(b + 8, &addr, 8);
	memcpy(b + 16, &len, 8);
	memcpy(b + 24, &pgoff, 8);
	v32 = 254;
	memcpy(b + 32, &v32, 4);		/* maj */
	memcpy(b + 40, &ino, 8);
	memcpy(b + 56, &prot, 4);
	v32 = MAP_PRIVATE;
	memcpy(b + 60, &v32, 4);
	memcpy(b + 64, name, nlen);
	h.size = (uint16_t)(8 + 64 + ((nlen + 7) & ~(size_t)7) + 24);
	memcpy(buf, &h, sizeof(h));
	return (const void *)buf;
}

struct released {
	int n;
	pid_t pids[8];
};

static void on_release(struct procs_image *img, void *arg)
{
	struct released *r = arg;

	if (r->n < 8)
		r->pids[r->n] = img->pid;
	r->n++;
	free(img->priv);
	img->priv = NULL;
}

static const struct procfs_map *map_at(const struct procs_image *img, uint64_t a)
{
	return procfs_maps_find(&img->maps, a);
}

static void test_fork_exec_exit(void)
{
	struct released rel = { 0 };
	struct procs *p = procs_new(on_release, &rel);
	struct procs_process *root, *kid;
	struct procs_thread *t;
	const struct procfs_map *m;
	uint64_t gen;

	CHECK(p != NULL);
	if (!p)
		return;
	/* A root not seen forking, gone from /proc: empty, kept to the end. */
	root = procs_process(p, ROOT, 100);
	CHECK(root && root->image->maps.n == 0 && root->nthreads == -1);
	CHECK_STR(root->comm, "");
	root->image->priv = malloc(1);
	/* Its program: the ELF file's read-only first mapping, then the text
	 * mapped over part of it (what ld.so does), an anonymous mapping,
	 * the vDSO. */
	CHECK_INT(procs_record(p, comm_rec(ROOT, ROOT, "make", true), 200, 200), 0);
	CHECK_STR(root->comm, "make");
	CHECK(root->image->priv == NULL);	/* the old image was released */
	CHECK_INT(rel.n, 1);
	root->image->priv = malloc(1);
	CHECK_INT(procs_record(p, mmap_rec(ROOT, 0x10000, 0x5000, 0, PROT_READ, 7,
					   "/usr/bin/make"), 201, 201), 0);
	CHECK_INT(procs_record(p, mmap_rec(ROOT, 0x11000, 0x2000, 0x1000,
					   PROT_READ | PROT_EXEC, 7,
					   "/usr/bin/make"), 202, 202), 0);
	CHECK_INT(procs_record(p, mmap_rec(ROOT, 0x20000, 0x1000, 0,
					   PROT_READ | PROT_WRITE, 0, "//anon"),
			       203, 203), 0);
	CHECK_INT(procs_record(p, mmap_rec(ROOT, 0x30000, 0x2000, 0,
					   PROT_READ | PROT_EXEC, 0, "[vdso]"),
			       204, 204), 0);
	CHECK_INT(root->image->maps.n, 4);	/* r--, r-x, r-- of make; vdso */
	m = map_at(root->image, 0x11800);
	CHECK(m && m->start == 0x11000 && m->end == 0x13000 &&
	      m->offset == 0x1000 && !strcmp(m->perms, "r-xp") &&
	      m->inode == 7 && m->dev_major == 254);
	m = map_at(root->image, 0x13000);
	CHECK(m && m->start == 0x13000 && m->end == 0x15000 &&
	      m->offset == 0x3000 && !strcmp(m->perms, "r--p"));
	m = map_at(root->image, 0x10000);
	CHECK(m && m->end == 0x11000 && m->offset == 0);
	CHECK(map_at(root->image, 0x20000) == NULL);
	CHECK(map_at(root->image, 0x30000) != NULL);

	/* A thread, named after its creator until it names itself. */
	CHECK_INT(procs_record(p, task_rec(PERF_RECORD_FORK, ROOT, ROOT, T2, ROOT),
			       205, 205), 0);
	t = procs_thread(p, root, T2);
	CHECK(t && !strcmp(t->name, "make") && t->pid == ROOT);
	CHECK_INT(procs_record(p, comm_rec(ROOT, T2, "worker", false), 206, 206), 0);
	CHECK_STR(procs_thread(p, root, T2)->name, "worker");
	CHECK_STR(root->comm, "make");

	/* A child shares the image until it maps something. */
	CHECK_INT(procs_record(p, task_rec(PERF_RECORD_FORK, KID, ROOT, KID, ROOT),
			       210, 210), 0);
	kid = procs_process(p, KID, 211);
	CHECK(kid && kid->image == root->image && kid->nthreads == 1);
	CHECK_STR(kid->comm, "make");
	gen = root->image->generation;
	CHECK_INT(procs_record(p, mmap_rec(KID, 0x40000, 0x1000, 0, PROT_READ | PROT_EXEC,
					   9, "/usr/lib/libx.so (deleted)"),
			       212, 212), 0);
	CHECK(kid->image != root->image);
	CHECK(kid->image->pid == KID);
	CHECK_INT(root->image->generation, gen);
	CHECK(map_at(root->image, 0x40000) == NULL);
	m = map_at(kid->image, 0x40000);
	CHECK(m && m->deleted && !strcmp(m->path, "/usr/lib/libx.so"));
	CHECK(map_at(kid->image, 0x11000) != NULL);
	CHECK_INT(rel.n, 1);

	/* Its exec: an empty image, the copy released, the new name. */
	kid->image->priv = malloc(1);
	CHECK_INT(procs_record(p, comm_rec(KID, KID, "cc1", true), 220, 220), 0);
	CHECK_INT(rel.n, 2);
	CHECK_INT(rel.pids[1], KID);
	CHECK_INT(kid->image->maps.n, 0);
	CHECK_STR(kid->comm, "cc1");
	CHECK_STR(procs_thread(p, kid, KID)->name, "cc1");
	CHECK_INT(procs_record(p, mmap_rec(KID, 0x50000, 0x3000, 0, PROT_READ | PROT_EXEC,
					   11, "/usr/lib/gcc/cc1"), 221, 221), 0);
	CHECK_INT(kid->image->maps.n, 1);

	/* Its exit releases it; the root, not seen forking, stays. */
	CHECK_INT(procs_count(p), 2);
	kid->image->priv = malloc(1);
	CHECK_INT(procs_record(p, task_rec(PERF_RECORD_EXIT, KID, ROOT, KID, ROOT),
			       230, 230), 0);
	CHECK_INT(procs_count(p), 1);
	CHECK_INT(rel.n, 3);
	CHECK_INT(procs_record(p, task_rec(PERF_RECORD_EXIT, ROOT, ROOT, ROOT, ROOT),
			       231, 231), 0);
	CHECK_INT(procs_count(p), 1);

	/* A reused pid starts afresh (its EXIT record lost). */
	CHECK_INT(procs_record(p, task_rec(PERF_RECORD_FORK, KID, ROOT, KID, ROOT),
			       240, 240), 0);
	CHECK_INT(procs_record(p, task_rec(PERF_RECORD_FORK, KID, ROOT, KID, ROOT),
			       241, 241), 0);
	CHECK_INT(procs_count(p), 2);
	procs_free(p);
	CHECK_INT(rel.n, 4);	/* root's image (the kid's was never made) */
}

/* A process read from /proc at time 500 ignores its older records. */
static void test_snapshot_time(void)
{
	struct procs *p = procs_new(NULL, NULL);
	pid_t self = getpid();
	struct procs_process *proc;
	size_t n;

	proc = procs_process(p, self, 500);
	CHECK(proc && proc->snap_time == 500);
	n = proc->image->maps.n;
	CHECK(n > 0);
	for (size_t i = 0; i < n; i++) {
		const char *path = proc->image->maps.maps[i].path;

		CHECK(path[0] == '/' || !strcmp(path, "[vdso]"));
	}
	CHECK_INT(procs_record(p, mmap_rec(self, 0x1000, 0x1000, 0, PROT_EXEC, 1,
					   "/old"), 499, 600), 0);
	CHECK_INT(proc->image->maps.n, n);
	CHECK_INT(procs_record(p, comm_rec(self, self, "x", true), 499, 600), 0);
	CHECK_INT(proc->image->maps.n, n);
	CHECK_INT(procs_record(p, mmap_rec(self, 0x1000, 0x1000, 0, PROT_EXEC, 1,
					   "/new"), 501, 600), 0);
	CHECK_INT(proc->image->maps.n, n + 1);
	/* /proc knows nothing of /new: a reload drops it. */
	CHECK_INT(procs_reload(p, proc, 700), 1);
	CHECK_INT(proc->image->maps.n, n);
	CHECK_INT(proc->snap_time, 700);
	CHECK_INT(procs_reload(p, proc, 800), 0);
	procs_free(p);
}

int main(void)
{
	test_fork_exec_exit();
	test_snapshot_time();
	return check_done();
}

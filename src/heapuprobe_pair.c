/*
 * heapuprobe_pair.c - in use from uprobes: entries paired with their
 * returns, frees followed (heapuprobe_pair.h, docs/design.md §12.4).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "hash.h"
#include "heapuprobe_pair.h"
#include "ringbuf.h"

/* --- pairing (a heap profile's in use, docs/design.md §12.4) --------------- */

/* A sampled entry waiting for its return: the allocation as
 * heapuprobe_convert gave it, its registers and stack copied. */
struct hu_pending {
	uint64_t sp;			/* SP at the entry */
	struct heap_sample hs;
	uint64_t regs[HEAPABI_NR_REGS];
	uint8_t *stack;			/* malloc'd, hs.stack_size bytes */
};

/* realloc's old pointer, from the light entry of every call. */
struct hu_old {
	uint64_t sp, old, size;
};

/* A thread's calls in flight, outermost first (SP decreasing). */
struct hu_thread {
	pid_t tid;
	struct hu_pending pend[HEAPUPROBE_PAIR_DEPTH];
	unsigned npend;
	struct hu_old old[HEAPUPROBE_PAIR_DEPTH];
	unsigned nold;
};

struct heapuprobe_pair {
	struct hu_thread **threads;	/* sorted by tid */
	size_t nthreads, capthreads;
	/* The live set: addr -> id, open addressing (linear probing,
	 * deletion by backward shift); key 0 is empty. */
	uint64_t *keys, *ids;
	size_t cap, n;
	uint64_t next_id;
	struct heapuprobe_pair_stats st;
	/* What the last sample handed on points at. */
	uint64_t regs[HEAPABI_NR_REGS];
	uint8_t *stack;
};

struct heapuprobe_pair *heapuprobe_pair_new(void)
{
	struct heapuprobe_pair *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	p->cap = 1024;
	p->keys = calloc(p->cap, sizeof(*p->keys));
	p->ids = calloc(p->cap, sizeof(*p->ids));
	if (!p->keys || !p->ids) {
		heapuprobe_pair_free(p);
		return NULL;
	}
	return p;
}

static void hu_thread_clear(struct heapuprobe_pair *p, struct hu_thread *t)
{
	for (unsigned i = 0; i < t->npend; i++)
		free(t->pend[i].stack);
	p->st.unreturned += t->npend;
	t->npend = 0;
	t->nold = 0;
}

void heapuprobe_pair_free(struct heapuprobe_pair *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->nthreads; i++) {
		hu_thread_clear(p, p->threads[i]);
		free(p->threads[i]);
	}
	free(p->threads);
	free(p->keys);
	free(p->ids);
	free(p->stack);
	free(p);
}

static size_t hu_slot(const struct heapuprobe_pair *p, uint64_t addr)
{
	return (size_t)hash_mix64(addr) & (p->cap - 1);
}

/* The slot holding addr, or the empty one where it would go. */
static size_t hu_find(const struct heapuprobe_pair *p, uint64_t addr)
{
	size_t i = hu_slot(p, addr);

	while (p->keys[i] && p->keys[i] != addr)
		i = (i + 1) & (p->cap - 1);
	return i;
}

static int hu_live_insert(struct heapuprobe_pair *p, uint64_t addr, uint64_t id)
{
	size_t i;

	if ((p->n + 1) * 2 > p->cap) {
		struct heapuprobe_pair q = { .cap = p->cap * 2 };

		q.keys = calloc(q.cap, sizeof(*q.keys));
		q.ids = calloc(q.cap, sizeof(*q.ids));
		if (!q.keys || !q.ids) {
			free(q.keys);
			free(q.ids);
			return -ENOMEM;
		}
		for (size_t j = 0; j < p->cap; j++) {
			if (!p->keys[j])
				continue;
			i = hu_find(&q, p->keys[j]);
			q.keys[i] = p->keys[j];
			q.ids[i] = p->ids[j];
		}
		free(p->keys);
		free(p->ids);
		p->keys = q.keys;
		p->ids = q.ids;
		p->cap = q.cap;
	}
	i = hu_find(p, addr);
	/* Already there: its free was lost; the new block replaces it. */
	if (!p->keys[i])
		p->n++;
	p->keys[i] = addr;
	p->ids[i] = id;
	return 0;
}

static void hu_live_remove(struct heapuprobe_pair *p, uint64_t addr)
{
	size_t i = hu_find(p, addr), j, k;

	if (!p->keys[i])
		return;
	p->keys[i] = 0;
	p->n--;
	p->st.freed++;
	/* Backward shift: move up each later entry of the run whose home
	 * slot is not between the hole and it (cyclically). */
	for (j = (i + 1) & (p->cap - 1); p->keys[j]; j = (j + 1) & (p->cap - 1)) {
		k = hu_slot(p, p->keys[j]);
		if (i <= j ? (i < k && k <= j) : (i < k || k <= j))
			continue;
		p->keys[i] = p->keys[j];
		p->ids[i] = p->ids[j];
		p->keys[j] = 0;
		i = j;
	}
}

bool heapuprobe_pair_is_live(void *arg, uint64_t addr, uint64_t id)
{
	const struct heapuprobe_pair *p = arg;
	size_t i;

	if (!addr || !id)
		return false;
	i = hu_find(p, addr);
	return p->keys[i] == addr && p->ids[i] == id;
}

static struct hu_thread *hu_thread(struct heapuprobe_pair *p, pid_t tid,
				   bool create)
{
	size_t lo = 0, hi = p->nthreads;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (p->threads[mid]->tid == tid)
			return p->threads[mid];
		if (p->threads[mid]->tid < tid)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (!create)
		return NULL;
	if (p->nthreads == p->capthreads) {
		size_t cap = p->capthreads ? p->capthreads * 2 : 16;
		struct hu_thread **nt = realloc(p->threads, cap * sizeof(*nt));

		if (!nt)
			return NULL;
		p->threads = nt;
		p->capthreads = cap;
	}
	struct hu_thread *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->tid = tid;
	memmove(p->threads + lo + 1, p->threads + lo,
		(p->nthreads - lo) * sizeof(*p->threads));
	p->threads[lo] = t;
	p->nthreads++;
	return t;
}

static void hu_thread_drop(struct heapuprobe_pair *p, pid_t tid)
{
	struct hu_thread *t = hu_thread(p, tid, false);
	size_t i;

	if (!t)
		return;
	hu_thread_clear(p, t);
	for (i = 0; p->threads[i] != t; i++)
		;
	memmove(p->threads + i, p->threads + i + 1,
		(p->nthreads - i - 1) * sizeof(*p->threads));
	p->nthreads--;
	free(t);
}

/* A sampled entry: waits for its return. A call entered at SP sp cannot
 * be inside one entered at the same SP or below (its frame is above
 * theirs): those have returned unseen or never will. */
static int hu_enter(struct heapuprobe_pair *p, const struct heap_sample *hs,
		    uint64_t sp)
{
	struct hu_thread *t = hu_thread(p, hs->tid, true);
	struct hu_pending *e;

	if (!t)
		return -ENOMEM;
	while (t->npend && t->pend[t->npend - 1].sp <= sp) {
		free(t->pend[--t->npend].stack);
		p->st.unreturned++;
	}
	if (t->npend == HEAPUPROBE_PAIR_DEPTH) {	/* deeper than any
							 * allocator nests */
		p->st.unreturned++;
		return 0;
	}
	e = &t->pend[t->npend];
	e->stack = malloc(hs->stack_size ? hs->stack_size : 1);
	if (!e->stack)
		return -ENOMEM;
	memcpy(e->stack, hs->stack, hs->stack_size);
	memcpy(e->regs, hs->regs, sizeof(e->regs));
	e->hs = *hs;
	e->hs.regs = e->regs;
	e->hs.stack = e->stack;
	e->sp = sp;
	t->npend++;
	return 0;
}

static void hu_old(struct heapuprobe_pair *p, pid_t tid, unsigned func,
		   const uint64_t *r)
{
	struct hu_thread *t = hu_thread(p, tid, true);
	uint64_t size = r[RB_SI];

	if (!t)
		return;		/* the old block stays in use: no worse than
				 * a lost record */
	while (t->nold && t->old[t->nold - 1].sp <= r[RB_SP])
		t->nold--;
	if (t->nold == HEAPUPROBE_PAIR_DEPTH)
		return;
	if (func == HEAPABI_REALLOCARRAY &&
	    __builtin_mul_overflow(r[RB_SI], r[RB_DX], &size))
		size = UINT64_MAX;	/* fails: the old block stays */
	t->old[t->nold++] = (struct hu_old){ r[RB_SP], r[RB_DI], size };
}

/* A return of func at SP sp (the entry's + 8) with result ret. */
static int hu_return(struct heapuprobe_pair *p, pid_t tid, unsigned func,
		     uint64_t sp, uint64_t ret, struct heap_sample *out)
{
	struct hu_thread *t = hu_thread(p, tid, false);
	struct hu_pending *e;
	int r;

	if (!t)
		return 0;
	/* realloc's old block dies unless the call failed (NULL for a
	 * size other than 0). */
	if (func == HEAPABI_REALLOC || func == HEAPABI_REALLOCARRAY) {
		while (t->nold && t->old[t->nold - 1].sp + 8 < sp)
			t->nold--;
		if (t->nold && t->old[t->nold - 1].sp + 8 == sp) {
			const struct hu_old *o = &t->old[--t->nold];

			if (o->old && o->size != UINT64_MAX && (ret || o->size == 0))
				hu_live_remove(p, o->old);
		}
	}
	/* Entries below this frame will not return (longjmp). */
	while (t->npend && t->pend[t->npend - 1].sp + 8 < sp) {
		free(t->pend[--t->npend].stack);
		p->st.unreturned++;
	}
	if (!t->npend || t->pend[t->npend - 1].sp + 8 != sp)
		return 0;		/* a call not sampled */
	e = &t->pend[--t->npend];
	if (e->hs.func != func) {	/* the sampled call left by a jump */
		free(e->stack);
		p->st.unreturned++;
		return 0;
	}
	if (func == HEAPABI_POSIX_MEMALIGN ? (uint32_t)ret != 0 : ret == 0) {
		free(e->stack);
		p->st.failed++;
		return 0;
	}
	*out = e->hs;
	memcpy(p->regs, e->regs, sizeof(p->regs));
	out->regs = p->regs;
	free(p->stack);
	p->stack = e->stack;
	out->stack = p->stack;
	p->st.paired++;
	if (func == HEAPABI_POSIX_MEMALIGN)
		return 1;	/* the block went through *memptr: unseen */
	out->addr = ret;
	out->id = ++p->next_id;
	r = hu_live_insert(p, ret, out->id);
	return r < 0 ? r : 1;
}

int heapuprobe_pair_record(struct heapuprobe_pair *p,
			   const struct sampler_record *rec, uint64_t period,
			   struct heap_sample *out)
{
	const struct perf_sample *ps = rec->sample;
	uint64_t regs[HEAPABI_NR_REGS];
	unsigned probe = rec->uprobe;
	int r;

	if (rec->hdr->type == PERF_RECORD_EXIT) {
		/* struct { u32 pid, ppid, tid, ptid; u64 time; ... } */
		uint32_t tid;

		if (rec->hdr->size >= sizeof(*rec->hdr) + 12) {
			memcpy(&tid, (const uint8_t *)(rec->hdr + 1) + 8, sizeof(tid));
			hu_thread_drop(p, (pid_t)tid);
		}
		return 0;
	}
	if (rec->hdr->type == PERF_RECORD_LOST) {
		/* A lost return could pair a later one wrongly: start over
		 * (a lost free cannot be made up for). */
		p->st.lost += ringbuf_lost_count(rec->hdr);
		for (size_t i = 0; i < p->nthreads; i++)
			hu_thread_clear(p, p->threads[i]);
		return 0;
	}
	if (rec->hdr->type != PERF_RECORD_SAMPLE || rec->kind != SAMPLER_UPROBE ||
	    !ps || !ps->regs || ps->regs_abi == PERF_SAMPLE_REGS_ABI_NONE)
		return 0;
	if (probe == HEAPABI_FREE) {
		p->st.frees++;
		if (ps->regs[RB_DI])
			hu_live_remove(p, ps->regs[RB_DI]);
		return 0;
	}
	if (probe >= HEAPUPROBE_OLD(0) && probe < HEAPUPROBE_NPROBES) {
		hu_old(p, (pid_t)ps->tid, probe - HEAPUPROBE_OLD(0), ps->regs);
		return 0;
	}
	if (probe >= HEAPUPROBE_RET(0) && probe < HEAPUPROBE_OLD(0))
		return hu_return(p, (pid_t)ps->tid, probe - HEAPUPROBE_RET(0),
				 ps->regs[RB_SP], ps->regs[RB_AX], out);
	r = heapuprobe_convert(rec, period, regs, out);
	if (r != 1)
		return r == -EBADMSG ? 0 : r;
	return hu_enter(p, out, ps->regs[RB_SP]) < 0 ? -ENOMEM : 0;
}

void heapuprobe_pair_stats(const struct heapuprobe_pair *p,
			   struct heapuprobe_pair_stats *st)
{
	*st = p->st;
	st->live = p->n;
}

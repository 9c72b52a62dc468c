/*
 * heapring.c - cprof's reader of the area it shares with the injected
 * heap sampler (heapring.h, heapabi.h, docs/design.md §12.1).
 */
#include "heapring.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

int heapring_init(struct heapabi_shared *sh, const struct heapring_config *cfg,
		  char *err, size_t errlen)
{
	if (cfg->rate == 0 || cfg->stack_size > HEAPABI_STACK_MAX || cfg->tgid <= 0) {
		if (err && errlen)
			snprintf(err, errlen, "heapring: bad configuration (rate %llu, "
				 "stack %llu of at most %u, tgid %d)",
				 (unsigned long long)cfg->rate,
				 (unsigned long long)cfg->stack_size,
				 HEAPABI_STACK_MAX, (int)cfg->tgid);
		return -EINVAL;
	}
	/* Everything but the slots' stack bytes (5 MB nobody reads before
	 * they are written). */
	memset(sh, 0, offsetof(struct heapabi_shared, slots));
	for (uint32_t i = 0; i < HEAPABI_NSLOTS; i++) {
		struct heapabi_slot *s = &sh->slots[i];
		memset(s, 0, offsetof(struct heapabi_slot, stack));
		s->seq = i;
	}
	sh->version = HEAPABI_VERSION;
	sh->nslots = HEAPABI_NSLOTS;
	sh->tgid = cfg->tgid;
	sh->rate = cfg->rate;
	sh->stack_size = cfg->stack_size;
	sh->deadline_ns = cfg->deadline_ns;
	sh->cprof_pid = (uint64_t)cfg->cprof_pid;
	sh->enabled = 1;
	__atomic_store_n(&sh->magic, HEAPABI_MAGIC, __ATOMIC_RELEASE);
	return 0;
}

void heapring_init_private(void *priv, const uint64_t real[HEAPABI_NFUNCS])
{
	struct heapabi_private *pv = priv;

	/* The whole area: the blob keeps its own state past the struct. */
	memset(priv, 0, HEAPABI_PRIV_SIZE);
	pv->real_malloc = real[HEAPABI_MALLOC];
	pv->real_free = real[HEAPABI_FREE];
}

int heapring_check(const struct heapabi_shared *sh, char *err, size_t errlen)
{
	uint64_t magic = __atomic_load_n(&sh->magic, __ATOMIC_ACQUIRE);
	if (magic != HEAPABI_MAGIC || sh->version != HEAPABI_VERSION ||
	    sh->nslots != HEAPABI_NSLOTS) {
		if (err && errlen)
			snprintf(err, errlen, "heapring: not a heap sampler area of "
				 "version %u (magic %#llx, version %u, %u slots)",
				 HEAPABI_VERSION, (unsigned long long)magic,
				 sh->version, sh->nslots);
		return -EPROTO;
	}
	return 0;
}

void heapring_set_deadline(struct heapabi_shared *sh, uint64_t deadline_ns)
{
	__atomic_store_n(&sh->deadline_ns, deadline_ns, __ATOMIC_RELEASE);
}

void heapring_disable(struct heapabi_shared *sh)
{
	__atomic_store_n(&sh->enabled, 0, __ATOMIC_RELEASE);
}

const struct heapabi_slot *heapring_peek(struct heapabi_shared *sh)
{
	uint64_t tail = sh->tail;
	struct heapabi_slot *s = &sh->slots[tail & (HEAPABI_NSLOTS - 1)];
	if (__atomic_load_n(&s->seq, __ATOMIC_ACQUIRE) != tail + 1)
		return NULL;
	return s;
}

void heapring_release(struct heapabi_shared *sh)
{
	uint64_t tail = sh->tail;
	struct heapabi_slot *s = &sh->slots[tail & (HEAPABI_NSLOTS - 1)];
	__atomic_store_n(&s->seq, tail + HEAPABI_NSLOTS, __ATOMIC_RELEASE);
	__atomic_store_n(&sh->tail, tail + 1, __ATOMIC_RELEASE);
}

void heapring_to_sample(const struct heapabi_slot *slot, pid_t pid,
			struct heap_sample *out)
{
	memset(out, 0, sizeof(*out));
	out->pid = pid;
	out->tid = 0;		/* the hooks read none: the unwinder takes the pid */
	out->func = slot->func;
	out->size = slot->size;
	out->addr = slot->addr;
	out->id = slot->id;
	out->calls = 0;
	out->regs = slot->regs;
	out->stack = slot->stack;
	out->stack_size = slot->stack_size <= HEAPABI_STACK_MAX ? slot->stack_size : 0;
	out->time_ns = slot->time_ns;
}

bool heapring_is_live(const struct heapabi_shared *sh, uint64_t addr, uint64_t id)
{
	if (addr == 0 || id == 0)
		return false;
	const struct heapabi_bucket *b = &sh->live[heapabi_bucket_of(addr)];
	for (unsigned w = 0; w < HEAPABI_LIVE_WAYS; w++)
		if (__atomic_load_n(&b->addr[w], __ATOMIC_ACQUIRE) == addr &&
		    __atomic_load_n(&b->id[w], __ATOMIC_ACQUIRE) == id)
			return true;
	return false;
}

void heapring_stats(const struct heapabi_shared *sh, struct heapring_stats *out)
{
	out->samples = __atomic_load_n(&sh->samples, __ATOMIC_RELAXED);
	out->dropped = __atomic_load_n(&sh->dropped, __ATOMIC_RELAXED);
	out->untracked = __atomic_load_n(&sh->untracked, __ATOMIC_RELAXED);
	out->stack_failed = __atomic_load_n(&sh->stack_failed, __ATOMIC_RELAXED);
}

static const char *const heapring_names[HEAPABI_NFUNCS] = {
	[HEAPABI_MALLOC] = "malloc",
	[HEAPABI_FREE] = "free",
	[HEAPABI_CALLOC] = "calloc",
	[HEAPABI_REALLOC] = "realloc",
	[HEAPABI_REALLOCARRAY] = "reallocarray",
	[HEAPABI_POSIX_MEMALIGN] = "posix_memalign",
	[HEAPABI_ALIGNED_ALLOC] = "aligned_alloc",
	[HEAPABI_MEMALIGN] = "memalign",
	[HEAPABI_VALLOC] = "valloc",
	[HEAPABI_PVALLOC] = "pvalloc",
};

const char *heapring_func_name(unsigned func)
{
	return func < HEAPABI_NFUNCS ? heapring_names[func] : "?";
}

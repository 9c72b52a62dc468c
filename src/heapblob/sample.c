/*
 * sample.c - the C part of the heap sampler injected into a target
 * (docs/design.md §12.1): freestanding, position-independent, no libc, no
 * TLS, no %fs access, no lock. hooks.S calls hb_enter only when a thread's
 * counter went below 0 (or for realloc), and hb_free for a free while live
 * whose block's live-set group is not empty.
 */
#include <stddef.h>
#include <stdint.h>
#include "heapabi.h"
#include "layout.h"

#define HIDDEN __attribute__((visibility("hidden")))

/* Placed by blob.ld.S at HEAPABI_CODE_SIZE and after it. */
extern struct heapabi_shared heapblob_shared HIDDEN;
extern struct heapabi_private heapblob_priv HIDDEN;

_Static_assert(HB_MAGIC == HEAPABI_MAGIC, "layout.h: HB_MAGIC");
_Static_assert(HB_VERSION == HEAPABI_VERSION, "layout.h: HB_VERSION");
_Static_assert(HB_CODE_SIZE == HEAPABI_CODE_SIZE, "layout.h: HB_CODE_SIZE");
_Static_assert(HB_SHARED_SIZE == HEAPABI_SHARED_SIZE, "layout.h: HB_SHARED_SIZE");
_Static_assert(HB_PRIV_SIZE == HEAPABI_PRIV_SIZE, "layout.h: HB_PRIV_SIZE");
_Static_assert(HB_SHARED_REAL == offsetof(struct heapabi_shared, real), "layout.h: HB_SHARED_REAL");
_Static_assert(HB_PRIV_LIVE == offsetof(struct heapabi_private, live), "layout.h: HB_PRIV_LIVE");
_Static_assert(HB_PRIV_REAL_MALLOC == offsetof(struct heapabi_private, real_malloc), "layout.h: HB_PRIV_REAL_MALLOC");
_Static_assert(HB_PRIV_REAL_FREE == offsetof(struct heapabi_private, real_free), "layout.h: HB_PRIV_REAL_FREE");
_Static_assert(HB_PRIV_COUNTERS == offsetof(struct heapabi_private, counters), "layout.h: HB_PRIV_COUNTERS");
_Static_assert((1u << HB_COUNTER_SHIFT) == sizeof(struct heapabi_counter), "layout.h: HB_COUNTER_SHIFT");
_Static_assert(HB_COUNTER_LEFT == offsetof(struct heapabi_counter, left), "layout.h: HB_COUNTER_LEFT");
_Static_assert((1u << (64 - HB_HASH_SHIFT)) == HEAPABI_NCOUNTERS, "layout.h: HB_HASH_SHIFT");
_Static_assert(HB_MALLOC == HEAPABI_MALLOC && HB_FREE == HEAPABI_FREE &&
	       HB_CALLOC == HEAPABI_CALLOC && HB_REALLOC == HEAPABI_REALLOC &&
	       HB_REALLOCARRAY == HEAPABI_REALLOCARRAY &&
	       HB_POSIX_MEMALIGN == HEAPABI_POSIX_MEMALIGN &&
	       HB_ALIGNED_ALLOC == HEAPABI_ALIGNED_ALLOC &&
	       HB_MEMALIGN == HEAPABI_MEMALIGN && HB_VALLOC == HEAPABI_VALLOC &&
	       HB_PVALLOC == HEAPABI_PVALLOC && HB_NFUNCS == HEAPABI_NFUNCS,
	       "layout.h: enum heapabi_func");

/* What a stub of hooks.S saves (layout.h's HB_FRAME_*). */
struct hb_frame {
	uint64_t bx, bp, r12, r13, r14, r15;
	uint64_t sp;			/* at the hook's entry: points at the
					 * return address */
	uint64_t a[3];			/* RDI RSI RDX */
	uint64_t pad;
};
_Static_assert(offsetof(struct hb_frame, bx) == HB_FRAME_BX, "HB_FRAME_BX");
_Static_assert(offsetof(struct hb_frame, bp) == HB_FRAME_BP, "HB_FRAME_BP");
_Static_assert(offsetof(struct hb_frame, r12) == HB_FRAME_R12, "HB_FRAME_R12");
_Static_assert(offsetof(struct hb_frame, r13) == HB_FRAME_R13, "HB_FRAME_R13");
_Static_assert(offsetof(struct hb_frame, r14) == HB_FRAME_R14, "HB_FRAME_R14");
_Static_assert(offsetof(struct hb_frame, r15) == HB_FRAME_R15, "HB_FRAME_R15");
_Static_assert(offsetof(struct hb_frame, sp) == HB_FRAME_SP, "HB_FRAME_SP");
_Static_assert(offsetof(struct hb_frame, a) == HB_FRAME_A0, "HB_FRAME_A0");
_Static_assert(sizeof(struct hb_frame) == HB_FRAME_SIZE, "HB_FRAME_SIZE");

uint64_t hb_enter(struct hb_frame *fr, unsigned func) HIDDEN;
void hb_free(void *p) HIDDEN;

/* --- raw system calls ---------------------------------------------------- */

#define HB_NR_GETPID		39
#define HB_NR_CLOCK_GETTIME	228
#define HB_NR_PROCESS_VM_READV	310
#define HB_CLOCK_MONOTONIC	1

static inline long sys0(long nr)
{
	long r;
	__asm__ volatile("syscall" : "=a"(r) : "a"(nr) : "rcx", "r11", "memory");
	return r;
}

static inline long sys2(long nr, long a, long b)
{
	long r;
	__asm__ volatile("syscall" : "=a"(r) : "a"(nr), "D"(a), "S"(b)
			 : "rcx", "r11", "memory");
	return r;
}

static inline long sys6(long nr, long a, long b, long c, long d, long e, long f)
{
	long r;
	register long r10 __asm__("r10") = d;
	register long r8 __asm__("r8") = e;
	register long r9 __asm__("r9") = f;
	__asm__ volatile("syscall" : "=a"(r)
			 : "a"(nr), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
			 : "rcx", "r11", "memory");
	return r;
}

struct hb_timespec { long sec, nsec; };
struct hb_iovec { uint64_t base, len; };

/* --- sampling intervals -------------------------------------------------- */

/* The counter of the thread whose stack SP is in (the same hash as
 * hooks.S's COUNT). */
static inline struct heapabi_counter *counter_of(uint64_t sp)
{
	return &heapblob_priv.counters[((sp >> HB_SP_SHIFT) * HB_HASH_MUL) >>
				       HB_HASH_SHIFT];
}

static inline uint64_t rng_next(struct heapabi_counter *c)
{
	uint64_t x = c->rng;		/* xorshift64*: never 0 once seeded */
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	c->rng = x;
	return x * 0x2545f4914f6cdd1dULL;
}

/* ln(u) for u in (0, 1], without libm: u = m * 2^e with m in [1/sqrt2,
 * sqrt2), ln m = 2 atanh(t), t = (m - 1)/(m + 1), |t| < 0.172, by its
 * series to t^9 (error < 1e-8). */
static double hb_ln(double u)
{
	union { double d; uint64_t b; } v = { .d = u };
	int e = (int)((v.b >> 52) & 0x7ff) - 1023;
	v.b = (v.b & 0x000fffffffffffffULL) | 0x3ff0000000000000ULL;
	double m = v.d;
	if (m > 1.4142135623730951) {
		m *= 0.5;
		e++;
	}
	double t = (m - 1.0) / (m + 1.0), t2 = t * t;
	double s = t * (2.0 + t2 * (2.0 / 3 + t2 * (2.0 / 5 + t2 * (2.0 / 7 +
			t2 * (2.0 / 9)))));
	return e * 0.6931471805599453 + s;
}

/* Bytes until the next sample: exponential of mean `rate` (a Poisson
 * process over the bytes allocated, as Go's nextSample). */
static int64_t draw(struct heapabi_counter *c)
{
	uint64_t rate = __atomic_load_n(&heapblob_shared.rate, __ATOMIC_RELAXED);
	if (rate == 0)
		rate = 1;
	uint64_t r = rng_next(c);
	double u = (double)(int64_t)((r >> 11) + 1) * 0x1p-53;	/* (0, 1] */
	double x = -hb_ln(u) * (double)(int64_t)rate;
	if (x > 0x1p62)
		x = 0x1p62;
	return (int64_t)x;
}

static void seed(struct heapabi_counter *c, uint64_t sp)
{
	uint32_t lo, hi;
	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	uint64_t x = (((uint64_t)hi << 32) | lo) ^ ((uint64_t)(uintptr_t)c * HB_HASH_MUL) ^
		     (sp * 0xbf58476d1ce4e5b9ULL);
	c->rng = x ? x : 1;
}

/* --- the live set ---------------------------------------------------------- */

/* Most frees are of blocks never sampled: so that they need not read a
 * line of the 1 MiB live set (a cache miss each), the blob keeps, in its
 * own part of the private area (past struct heapabi_private: the area is
 * a page larger than the struct, and zero when mapped), how many entries
 * each group of 4 buckets holds: 2 KiB, which stays in cache. A group is
 * counted up after an entry went in and down after one went out, so a
 * free finds 0 only when its block cannot be in the set: the block was
 * inserted before the hook that sampled it returned it. */
#define HB_GROUP_SHIFT		2
#define HB_NGROUPS		(HEAPABI_LIVE_BUCKETS >> HB_GROUP_SHIFT)
_Static_assert(HB_PRIV_GROUPS >= sizeof(struct heapabi_private) &&
	       HB_PRIV_GROUPS + HB_NGROUPS <= HEAPABI_PRIV_SIZE,
	       "layout.h: HB_PRIV_GROUPS: the live-set groups must fit in the private area");
_Static_assert(HEAPABI_LIVE_WAYS << HB_GROUP_SHIFT < 256, "a group's count is a byte");
/* hooks.S's free finds the group as ((addr >> 4) * HB_HASH_MUL) >> 53:
 * heapabi_bucket_of's bucket is the top 13 bits, unmasked. */
_Static_assert(HB_HASH_MUL == HEAPABI_HASH_MUL, "layout.h: HB_HASH_MUL");
_Static_assert(HB_GROUP_OF_SHIFT == HEAPABI_BUCKET_SHIFT + HB_GROUP_SHIFT,
	       "layout.h: HB_GROUP_OF_SHIFT");
_Static_assert((1ull << (64 - HEAPABI_BUCKET_SHIFT)) == HEAPABI_LIVE_BUCKETS,
	       "heapabi_bucket_of's bucket must need no mask (hooks.S's free uses none)");
extern uint8_t heapblob_groups[HB_NGROUPS] HIDDEN;	/* blob.ld.S */

static inline uint8_t *group_of(uint32_t bucket)
{
	return &heapblob_groups[bucket >> HB_GROUP_SHIFT];
}

static int live_insert(uint64_t addr, uint64_t id)
{
	uint32_t bucket = heapabi_bucket_of(addr);
	struct heapabi_bucket *b = &heapblob_shared.live[bucket];
	for (unsigned w = 0; w < HEAPABI_LIVE_WAYS; w++) {
		uint64_t zero = 0;
		if (__atomic_load_n(&b->addr[w], __ATOMIC_RELAXED) == 0 &&
		    __atomic_compare_exchange_n(&b->addr[w], &zero, addr, 0,
						__ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
			__atomic_store_n(&b->id[w], id, __ATOMIC_RELEASE);
			__atomic_fetch_add(group_of(bucket), 1, __ATOMIC_RELAXED);
			return 1;
		}
	}
	__atomic_fetch_add(&heapblob_shared.untracked, 1, __ATOMIC_RELAXED);
	return 0;
}

/* Takes addr out of the live set; its id, or 0 when it was not there.
 * Inlined: free's whole cost while live. */
static inline __attribute__((always_inline)) uint64_t live_remove(uint64_t addr)
{
	uint32_t bucket = heapabi_bucket_of(addr);
	if (__atomic_load_n(group_of(bucket), __ATOMIC_RELAXED) == 0)
		return 0;
	struct heapabi_bucket *b = &heapblob_shared.live[bucket];
	for (unsigned w = 0; w < HEAPABI_LIVE_WAYS; w++) {
		uint64_t a = addr;
		if (__atomic_load_n(&b->addr[w], __ATOMIC_RELAXED) != addr)
			continue;
		uint64_t id = __atomic_load_n(&b->id[w], __ATOMIC_RELAXED);
		if (__atomic_compare_exchange_n(&b->addr[w], &a, 0, 0,
						__ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
			__atomic_fetch_sub(group_of(bucket), 1, __ATOMIC_RELAXED);
			return id ? id : 1;
		}
	}
	return 0;
}

/* --- the sampling path ------------------------------------------------------ */

/* Whether this process may still sample: cprof has it enabled, it is
 * the process cprof injected (not a fork: the injector also marks the
 * private area MADV_WIPEONFORK, so a fork's hooks start off) and cprof's
 * heartbeat is recent. The last two cost two system calls, so they are
 * made at most once per HEAPABI_CHECK_CYCLES of the TSC per process;
 * samples in between reuse the time read then. Fills the sample's time. */
static int switch_on(uint64_t *now)
{
	struct heapabi_shared *sh = &heapblob_shared;
	struct heapabi_private *pv = &heapblob_priv;
	struct hb_timespec ts;
	uint32_t lo, hi;

	if (!__atomic_load_n(&sh->enabled, __ATOMIC_ACQUIRE))
		return 0;
	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	uint64_t tsc = ((uint64_t)hi << 32) | lo;
	uint64_t last = __atomic_load_n(&pv->checked_tsc, __ATOMIC_RELAXED);
	if (last && tsc - last < HEAPABI_CHECK_CYCLES) {
		*now = __atomic_load_n(&pv->checked_ns, __ATOMIC_RELAXED);
		return 1;
	}
	if (sys0(HB_NR_GETPID) != __atomic_load_n(&sh->tgid, __ATOMIC_RELAXED))
		return 0;
	if (sys2(HB_NR_CLOCK_GETTIME, HB_CLOCK_MONOTONIC, (long)&ts) != 0)
		return 0;
	*now = (uint64_t)ts.sec * 1000000000u + (uint64_t)ts.nsec;
	if (*now >= __atomic_load_n(&sh->deadline_ns, __ATOMIC_ACQUIRE))
		return 0;
	__atomic_store_n(&pv->checked_ns, *now, __ATOMIC_RELAXED);
	__atomic_store_n(&pv->checked_tsc, tsc ? tsc : 1, __ATOMIC_RELAXED);
	return 1;
}

/* Vyukov's bounded queue (heapabi.h): a slot for position *pos, or NULL
 * when the ring is full. */
static struct heapabi_slot *reserve(uint64_t *pos)
{
	struct heapabi_shared *sh = &heapblob_shared;
	uint64_t p = __atomic_load_n(&sh->head, __ATOMIC_RELAXED);
	for (;;) {
		struct heapabi_slot *s = &sh->slots[p & (HEAPABI_NSLOTS - 1)];
		uint64_t seq = __atomic_load_n(&s->seq, __ATOMIC_ACQUIRE);
		int64_t dif = (int64_t)(seq - p);
		if (dif == 0) {
			if (__atomic_compare_exchange_n(&sh->head, &p, p + 1, 1,
							__ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
				*pos = p;
				return s;
			}
		} else if (dif < 0) {
			return NULL;
		} else {
			p = __atomic_load_n(&sh->head, __ATOMIC_RELAXED);
		}
	}
}

/* Copies the caller's stack, from sp up, into the slot: one iovec a page,
 * so that process_vm_readv stops at the first page it cannot read
 * instead of faulting (the copy is then shorter). */
static uint64_t copy_stack(long pid, uint64_t sp, uint8_t *to)
{
	uint64_t want = __atomic_load_n(&heapblob_shared.stack_size, __ATOMIC_RELAXED);
	struct hb_iovec local, remote[HEAPABI_STACK_MAX / HEAPABI_PAGE + 1];
	unsigned n = 0;

	if (want > HEAPABI_STACK_MAX)
		want = HEAPABI_STACK_MAX;
	for (uint64_t p = sp, end = sp + want; p < end; n++) {
		uint64_t next = (p & ~(uint64_t)(HEAPABI_PAGE - 1)) + HEAPABI_PAGE;
		if (next > end)
			next = end;
		remote[n].base = p;
		remote[n].len = next - p;
		p = next;
	}
	if (n == 0)
		return 0;
	local.base = (uint64_t)(uintptr_t)to;
	local.len = want;
	long r = sys6(HB_NR_PROCESS_VM_READV, pid, (long)&local, 1, (long)remote, n, 0);
	return r > 0 ? (uint64_t)r : 0;
}

static void sample(const struct hb_frame *fr, unsigned func, uint64_t size, uint64_t addr)
{
	struct heapabi_shared *sh = &heapblob_shared;
	uint64_t now = 0, pos;

	if (!switch_on(&now)) {
		__atomic_store_n(&heapblob_priv.live, 0, __ATOMIC_RELAXED);
		return;
	}
	struct heapabi_slot *s = reserve(&pos);
	if (!s) {
		__atomic_fetch_add(&sh->dropped, 1, __ATOMIC_RELAXED);
		return;
	}
	uint64_t id = __atomic_add_fetch(&sh->next_id, 1, __ATOMIC_RELAXED);
	s->id = id;
	s->size = size;
	s->addr = addr;
	s->func = func;
	s->time_ns = now;
	uint64_t *r = s->regs;
	r[HEAPABI_R_AX] = 0; r[HEAPABI_R_CX] = 0; r[HEAPABI_R_DX] = 0;
	r[HEAPABI_R_SI] = 0; r[HEAPABI_R_DI] = 0; r[HEAPABI_R_FLAGS] = 0;
	r[HEAPABI_R_CS] = 0; r[HEAPABI_R_SS] = 0; r[HEAPABI_R_R8] = 0;
	r[HEAPABI_R_R9] = 0; r[HEAPABI_R_R10] = 0; r[HEAPABI_R_R11] = 0;
	r[HEAPABI_R_BX] = fr->bx;
	r[HEAPABI_R_BP] = fr->bp;
	r[HEAPABI_R_R12] = fr->r12;
	r[HEAPABI_R_R13] = fr->r13;
	r[HEAPABI_R_R14] = fr->r14;
	r[HEAPABI_R_R15] = fr->r15;
	r[HEAPABI_R_SP] = fr->sp + 8;
	r[HEAPABI_R_IP] = *(const uint64_t *)(uintptr_t)fr->sp - 1;
	s->stack_size = copy_stack(__atomic_load_n(&sh->tgid, __ATOMIC_RELAXED),
				    fr->sp + 8, s->stack);
	if (s->stack_size == 0)
		__atomic_fetch_add(&sh->stack_failed, 1, __ATOMIC_RELAXED);
	/* In the live set before cprof can see the sample, and before the
	 * caller has the block (so before any free of it). */
	live_insert(addr, id);
	__atomic_fetch_add(&sh->samples, 1, __ATOMIC_RELAXED);
	__atomic_store_n(&s->seq, pos + 1, __ATOMIC_RELEASE);
}

typedef uint64_t (*hb_fn1)(uint64_t);
typedef uint64_t (*hb_fn2)(uint64_t, uint64_t);
typedef uint64_t (*hb_fn3)(uint64_t, uint64_t, uint64_t);
typedef int (*hb_fn3i)(uint64_t, uint64_t, uint64_t);

uint64_t hb_enter(struct hb_frame *fr, unsigned func)
{
	struct heapabi_shared *sh = &heapblob_shared;
	uint64_t real = __atomic_load_n(&sh->real[func], __ATOMIC_RELAXED);
	uint64_t a0 = fr->a[0], a1 = fr->a[1], a2 = fr->a[2];
	uint64_t ret, size, addr, old_id = 0;
	int counted = 1;		/* hooks.S took size off the counter */

	switch (func) {
	case HEAPABI_CALLOC:
		size = a0 * a1;		/* hooks.S let no overflow through */
		addr = ret = ((hb_fn2)real)(a0, a1);
		break;
	case HEAPABI_REALLOC:
		counted = 0;
		size = a1;
		if (a0)
			old_id = live_remove(a0);
		addr = ret = ((hb_fn2)real)(a0, a1);
		if (ret == 0 && size != 0 && old_id)	/* failed: a0 still lives */
			live_insert(a0, old_id);
		break;
	case HEAPABI_REALLOCARRAY:
		counted = 0;
		if (__builtin_mul_overflow(a1, a2, &size))	/* fails, a0 stays */
			return ((hb_fn3)real)(a0, a1, a2);
		if (a0)
			old_id = live_remove(a0);
		addr = ret = ((hb_fn3)real)(a0, a1, a2);
		if (ret == 0 && size != 0 && old_id)
			live_insert(a0, old_id);
		break;
	case HEAPABI_POSIX_MEMALIGN:
		size = a2;
		ret = (uint32_t)((hb_fn3i)real)(a0, a1, a2);
		addr = ret == 0 ? *(const uint64_t *)(uintptr_t)a0 : 0;
		break;
	case HEAPABI_ALIGNED_ALLOC:
	case HEAPABI_MEMALIGN:
		size = a1;
		addr = ret = ((hb_fn2)real)(a0, a1);
		break;
	default:			/* malloc, valloc, pvalloc */
		size = a0;
		addr = ret = ((hb_fn1)real)(a0);
		break;
	}

	struct heapabi_counter *c = counter_of(fr->sp);
	if (!counted) {
		int64_t left = c->left - (int64_t)size;
		c->left = left;
		if (left >= 0 || size == 0)
			return ret;
	}
	if (c->rng == 0) {		/* first use of this counter */
		seed(c, fr->sp);
		c->left = draw(c);
		return ret;
	}
	c->left = draw(c);
	if (addr)
		sample(fr, func, size, addr);
	return ret;
}

void hb_free(void *p)
{
	if (p)
		live_remove((uint64_t)(uintptr_t)p);
	((void (*)(void *))(uintptr_t)__atomic_load_n(&heapblob_shared.real[HEAPABI_FREE],
						       __ATOMIC_RELAXED))(p);
}

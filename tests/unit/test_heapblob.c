/*
 * test_heapblob.c - the heap sampler blob (src/heapblob/) mapped in this
 * process exactly as the injector maps it in a target (heapblob_map.h),
 * its hooks called through function pointers, and what it publishes read
 * with src/heapring.c through a second mapping of the memfd, as cprof
 * reads it.
 */
#include <malloc.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "heapblob_map.h"
#include "heapblob/layout.h"
#include "heapring.h"

static struct hb_map M;

/* The tests make calloc and reallocarray overflow on purpose: under ASan
 * they must fail as libc's do, not abort. */
__attribute__((used)) const char *__asan_default_options(void);
__attribute__((used)) const char *__asan_default_options(void)
{
	return "allocator_may_return_null=1";
}

typedef void *(*malloc_fn)(size_t);
typedef void (*free_fn)(void *);
typedef void *(*calloc_fn)(size_t, size_t);
typedef void *(*realloc_fn)(void *, size_t);
typedef void *(*reallocarray_fn)(void *, size_t, size_t);
typedef int (*posix_memalign_fn)(void **, size_t, size_t);
typedef void *(*aligned_fn)(size_t, size_t);

#define HOOK(f, type) ((type)M.hook[f])

/* --- the real functions, some of them watched ----------------------------- */

static unsigned long spy_malloc_calls, spy_free_calls, spy_calloc_calls, spy_realloc_calls;
/* A sampled block whose free/realloc must find it out of the live set
 * already. */
static uint64_t watch_addr, watch_id;
static int watch_seen_live;

static void *spy_malloc(size_t n)
{
	__atomic_fetch_add(&spy_malloc_calls, 1, __ATOMIC_RELAXED);
	return malloc(n);
}

static void spy_free(void *p)
{
	__atomic_fetch_add(&spy_free_calls, 1, __ATOMIC_RELAXED);
	if (watch_addr && (uint64_t)(uintptr_t)p == watch_addr &&
	    heapring_is_live(M.cprof, watch_addr, watch_id))
		watch_seen_live = 1;
	free(p);
}

static void *spy_calloc(size_t n, size_t m)
{
	spy_calloc_calls++;
	return calloc(n, m);
}

#define FAIL_SIZE ((size_t)1 << 62)
static void *spy_realloc(void *p, size_t n)
{
	spy_realloc_calls++;
	if (watch_addr && (uint64_t)(uintptr_t)p == watch_addr &&
	    heapring_is_live(M.cprof, watch_addr, watch_id))
		watch_seen_live = 1;
	if (n == FAIL_SIZE)
		return NULL;
	return realloc(p, n);
}

static void set_real(void)
{
	uint64_t *r = M.cprof->real;
	r[HEAPABI_MALLOC] = (uintptr_t)spy_malloc;
	r[HEAPABI_FREE] = (uintptr_t)spy_free;
	r[HEAPABI_CALLOC] = (uintptr_t)spy_calloc;
	r[HEAPABI_REALLOC] = (uintptr_t)spy_realloc;
	r[HEAPABI_REALLOCARRAY] = (uintptr_t)reallocarray;
	r[HEAPABI_POSIX_MEMALIGN] = (uintptr_t)posix_memalign;
	r[HEAPABI_ALIGNED_ALLOC] = (uintptr_t)aligned_alloc;
	r[HEAPABI_MEMALIGN] = (uintptr_t)memalign;
	r[HEAPABI_VALLOC] = (uintptr_t)valloc;
	r[HEAPABI_PVALLOC] = (uintptr_t)pvalloc;
}

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* A fresh sampler, as cprof starts one: shared area set up through
 * cprof's mapping, private area zeroed, real[] in place, then live. */
static void reset(uint64_t rate, uint64_t stack_size)
{
	char err[256] = "";
	struct heapring_config cfg = {
		.tgid = getpid(), .cprof_pid = getpid(), .rate = rate,
		.stack_size = stack_size, .deadline_ns = now_ns() + 600 * 1000000000ULL,
	};
	CHECK_INT(heapring_init(M.cprof, &cfg, err, sizeof(err)), 0);
	CHECK_INT(heapring_check(M.sh, err, sizeof(err)), 0);
	set_real();
	heapring_init_private(M.priv, M.cprof->real);
	M.priv->live = 1;
}

/* --- reading the ring --------------------------------------------------------- */

struct got {
	uint64_t id, size, addr, stack_size, time_ns;
	uint32_t func;
	uint64_t regs[HEAPABI_NR_REGS];
};

#define MAXGOT 1024
static struct got got[MAXGOT];

/* Reads every published sample (at most MAXGOT kept). */
static unsigned drain(void)
{
	const struct heapabi_slot *s;
	unsigned n = 0;
	while ((s = heapring_peek(M.cprof))) {
		if (n < MAXGOT) {
			struct got *g = &got[n];
			g->id = s->id; g->size = s->size; g->addr = s->addr;
			g->stack_size = s->stack_size; g->time_ns = s->time_ns;
			g->func = s->func;
			memcpy(g->regs, s->regs, sizeof(g->regs));
		}
		n++;
		heapring_release(M.cprof);
	}
	return n;
}

/* The blob's count of entries per group of 4 live-set buckets (its own
 * part of the private area, at HB_PRIV_GROUPS: src/heapblob/layout.h),
 * which lets a free skip the set, agrees with the set. */
static int groups_agree(void)
{
	const uint8_t *groups = (const uint8_t *)M.priv + HB_PRIV_GROUPS;
	for (unsigned g = 0; g < HEAPABI_LIVE_BUCKETS / 4; g++) {
		unsigned n = 0;
		for (unsigned b = 4 * g; b < 4 * g + 4; b++)
			for (unsigned w = 0; w < HEAPABI_LIVE_WAYS; w++)
				n += M.cprof->live[b].addr[w] != 0;
		if (n != groups[g])
			return 0;
	}
	return 1;
}

/* --- the header ----------------------------------------------------------------- */

static void test_header(void)
{
	const struct heapabi_blob_header *h = M.hdr;
	CHECK(h->magic == HEAPABI_MAGIC);
	CHECK_INT(h->version, HEAPABI_VERSION);
	CHECK(h->code_size <= HEAPABI_CODE_SIZE);
	CHECK_INT(h->code_size, heapblob_image_len);
	CHECK_INT(h->shared_size, HEAPABI_SHARED_SIZE);
	CHECK_INT(h->priv_size, HEAPABI_PRIV_SIZE);
	CHECK(h->text_start >= sizeof(*h) && h->text_start < h->text_end);
	CHECK(h->text_end <= h->code_size);
	for (unsigned f = 0; f < HEAPABI_NFUNCS; f++) {
		CHECK(h->hook_off[f] >= h->text_start && h->hook_off[f] < h->text_end);
		for (unsigned g = 0; g < f; g++)
			CHECK(h->hook_off[f] != h->hook_off[g]);
	}
}

/* --- the rate ----------------------------------------------------------------------- */

/* 256 MiB in blocks of 32..256 bytes at one sample per 64 KiB: 4096
 * samples expected, Poisson: within 5 sigma (320). */
static void test_rate(void)
{
	const uint64_t rate = 64 * 1024, total = 256ull << 20;
	reset(rate, 256);
	malloc_fn hm = HOOK(HEAPABI_MALLOC, malloc_fn);
	free_fn hf = HOOK(HEAPABI_FREE, free_fn);
	uint64_t bytes = 0, x = 88172645463325252ull;
	unsigned samples = 0, bad = 0, i = 0;
	unsigned long calls0 = spy_malloc_calls;
	while (bytes < total) {
		x ^= x << 13; x ^= x >> 7; x ^= x << 17;
		size_t n = 32 + (x % 225);
		void *p = hm(n);
		if (!p)
			bad++;
		bytes += n;
		hf(p);
		if (++i % 4096 == 0) {
			unsigned k = drain();
			for (unsigned j = 0; j < k && j < MAXGOT; j++)
				if (got[j].size < 32 || got[j].size > 256 ||
				    got[j].func != HEAPABI_MALLOC || got[j].addr == 0 ||
				    got[j].stack_size != 256)
					bad++;
			samples += k;
		}
	}
	samples += drain();
	double expect = (double)bytes / rate;
	printf("rate: %u samples for %.0f expected\n", samples, expect);
	CHECK(fabs(samples - expect) <= 5 * sqrt(expect));
	CHECK_INT(bad, 0);
	CHECK_INT(spy_malloc_calls - calls0, i);
	struct heapring_stats st;
	heapring_stats(M.cprof, &st);
	CHECK_INT(st.samples, samples);
	CHECK_INT(st.dropped, 0);
	CHECK_INT(st.stack_failed, 0);
}

/* --- registers and stack ----------------------------------------------------------- */

/* hb_test_call(hook, a0, a1, a2, cb): calls hook(a0, a1, a2) with known
 * values in BX BP R12..R15, then cb(result, SP) with SP as it is after the
 * call returned (so the stack from SP up is as the hook saw it), and
 * returns cb's result. hb_test_ret is the call's return address. */
extern uint64_t hb_test_call(void *hook, uint64_t a0, uint64_t a1, uint64_t a2,
			     uint64_t (*cb)(uint64_t, uint64_t));
extern char hb_test_ret[];
__asm__(
	".text\n"
	".globl hb_test_call\n"
	".type hb_test_call, @function\n"
	"hb_test_call:\n"
	"	push %rbx\n	push %rbp\n	push %r12\n	push %r13\n"
	"	push %r14\n	push %r15\n	push %r8\n"
	"	mov %rdi, %rax\n	mov %rsi, %rdi\n	mov %rdx, %rsi\n	mov %rcx, %rdx\n"
	"	movabs $0x1111111111111111, %rbx\n"
	"	movabs $0x2222222222222222, %rbp\n"
	"	movabs $0x3333333333333333, %r12\n"
	"	movabs $0x4444444444444444, %r13\n"
	"	movabs $0x5555555555555555, %r14\n"
	"	movabs $0x6666666666666666, %r15\n"
	"	call *%rax\n"
	".globl hb_test_ret\n"
	"hb_test_ret:\n"
	"	mov %rax, %rdi\n	mov %rsp, %rsi\n	call *(%rsp)\n"
	"	pop %r8\n	pop %r15\n	pop %r14\n	pop %r13\n	pop %r12\n"
	"	pop %rbp\n	pop %rbx\n	ret\n"
	".size hb_test_call, . - hb_test_call\n");

static struct {
	uint64_t sp;
	unsigned samples;
	struct got last;
	int stack_equal;
} cb_seen;

/* Not instrumented: the stack above holds ASan's redzones. */
__attribute__((no_sanitize_address, noinline))
static int same_bytes(const uint8_t *a, const volatile uint8_t *b, uint64_t n)
{
	for (uint64_t i = 0; i < n; i++)
		if (a[i] != b[i])
			return 0;
	return 1;
}

/* Runs below the SP the hook saw: compares the copy while the stack it
 * copied is still there. */
static uint64_t regs_cb(uint64_t result, uint64_t sp)
{
	const struct heapabi_slot *s;
	cb_seen.sp = sp;
	while ((s = heapring_peek(M.cprof))) {
		struct got *g = &cb_seen.last;
		g->id = s->id; g->size = s->size; g->addr = s->addr;
		g->stack_size = s->stack_size; g->func = s->func;
		memcpy(g->regs, s->regs, sizeof(g->regs));
		cb_seen.stack_equal = s->stack_size <= HEAPABI_STACK_MAX &&
			same_bytes(s->stack, (const volatile uint8_t *)(uintptr_t)sp,
				   s->stack_size);
		cb_seen.samples++;
		heapring_release(M.cprof);
	}
	return result;
}

/* Calls malloc's hook through hb_test_call until a sample comes (the
 * first call of a counter only seeds it); checks its registers and stack
 * copy; returns the bytes copied. */
static uint64_t regs_and_stack(uint64_t want)
{
	memset(&cb_seen, 0, sizeof(cb_seen));
	for (int i = 0; i < 3 && cb_seen.samples == 0; i++) {
		void *p = (void *)(uintptr_t)hb_test_call(M.hook[HEAPABI_MALLOC], 100, 0, 0, regs_cb);
		CHECK(p != NULL);
		if (cb_seen.samples)
			CHECK(cb_seen.last.addr == (uintptr_t)p);
		free(p);
	}
	CHECK_INT(cb_seen.samples, 1);
	const uint64_t *r = cb_seen.last.regs;
	CHECK(r[HEAPABI_R_IP] + 1 == (uintptr_t)hb_test_ret);
	CHECK(r[HEAPABI_R_SP] == cb_seen.sp);
	CHECK(r[HEAPABI_R_BX] == 0x1111111111111111ull);
	CHECK(r[HEAPABI_R_BP] == 0x2222222222222222ull);
	CHECK(r[HEAPABI_R_R12] == 0x3333333333333333ull);
	CHECK(r[HEAPABI_R_R13] == 0x4444444444444444ull);
	CHECK(r[HEAPABI_R_R14] == 0x5555555555555555ull);
	CHECK(r[HEAPABI_R_R15] == 0x6666666666666666ull);
	CHECK(r[HEAPABI_R_AX] == 0 && r[HEAPABI_R_DI] == 0 && r[HEAPABI_R_R11] == 0);
	CHECK_INT(cb_seen.last.size, 100);
	CHECK_INT(cb_seen.last.func, HEAPABI_MALLOC);
	CHECK(cb_seen.stack_equal);
	CHECK(cb_seen.last.stack_size <= want);
	return cb_seen.last.stack_size;
}

static void test_regs_main(void)
{
	reset(1, 1024);
	CHECK_INT(regs_and_stack(1024), 1024);
}

/* On a stack of our own with an unmapped page right above it: the copy of
 * 16 KiB stops there, at the first page it cannot read. */
static uint8_t *own_stack_hi;
static uint64_t partial_got, partial_sp;
static void *partial_thread(void *arg)
{
	(void)arg;
	partial_got = regs_and_stack(HEAPABI_STACK_MAX);
	partial_sp = cb_seen.sp;
	return NULL;
}

static void test_stack_partial(void)
{
	size_t size = 256 * 1024;
	uint8_t *lo = mmap(NULL, size + HEAPABI_PAGE, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(lo != MAP_FAILED);
	CHECK_INT(mprotect(lo + size, HEAPABI_PAGE, PROT_NONE), 0);
	own_stack_hi = lo + size;
	reset(1, HEAPABI_STACK_MAX);
	pthread_attr_t a;
	pthread_t t;
	pthread_attr_init(&a);
	pthread_attr_setstack(&a, lo, size);
	CHECK_INT(pthread_create(&t, &a, partial_thread, NULL), 0);
	pthread_join(t, NULL);
	pthread_attr_destroy(&a);
	uint64_t above = (uintptr_t)own_stack_hi - partial_sp;
	printf("partial stack copy: %llu bytes, %llu up to the unmapped page\n",
	       (unsigned long long)partial_got, (unsigned long long)above);
	CHECK(above < HEAPABI_STACK_MAX);	/* or this tests nothing */
	CHECK_INT(partial_got, above);
	struct heapring_stats st;
	heapring_stats(M.cprof, &st);
	CHECK_INT(st.stack_failed, 0);
	munmap(lo, size + HEAPABI_PAGE);
}

/* --- free, realloc and the other entries ----------------------------------------- */

/* One sample expected from the last call: returns it (id 0 if none). */
static struct got one_sample(void)
{
	struct got g = { 0 };
	unsigned n = drain();
	CHECK_INT(n, 1);
	if (n >= 1)
		g = got[n - 1];
	return g;
}

static void test_free_realloc(void)
{
	reset(1, 128);
	malloc_fn hm = HOOK(HEAPABI_MALLOC, malloc_fn);
	free_fn hf = HOOK(HEAPABI_FREE, free_fn);
	realloc_fn hr = HOOK(HEAPABI_REALLOC, realloc_fn);
	free(hm(64));			/* seeds the counter */
	drain();

	void *p = hm(100);
	struct got g = one_sample();
	CHECK(g.addr == (uintptr_t)p && g.size == 100);
	CHECK(heapring_is_live(M.cprof, g.addr, g.id));
	CHECK(!heapring_is_live(M.cprof, g.addr, g.id + 1));
	CHECK(!heapring_is_live(M.cprof, g.addr + 16, g.id));
	watch_addr = g.addr; watch_id = g.id; watch_seen_live = 0;
	unsigned long frees = spy_free_calls;
	hf(p);
	CHECK_INT(spy_free_calls - frees, 1);
	CHECK_INT(watch_seen_live, 0);	/* out of the set before free */
	CHECK(!heapring_is_live(M.cprof, g.addr, g.id));
	const struct heapabi_bucket *b = &M.cprof->live[heapabi_bucket_of(g.addr)];
	for (unsigned w = 0; w < HEAPABI_LIVE_WAYS; w++)
		CHECK(b->addr[w] != g.addr);
	hf(NULL);			/* real free(NULL), no harm */
	CHECK_INT(spy_free_calls - frees, 2);

	/* realloc: the old block leaves the set before the real call, the new
	 * one is counted and sampled. */
	p = hm(200);
	struct got g1 = one_sample();
	watch_addr = g1.addr; watch_id = g1.id; watch_seen_live = 0;
	void *q = hr(p, 5000);
	CHECK(q != NULL);
	CHECK_INT(watch_seen_live, 0);
	struct got g2 = one_sample();
	CHECK(g2.addr == (uintptr_t)q && g2.size == 5000 && g2.func == HEAPABI_REALLOC);
	CHECK(g2.id > g1.id);
	CHECK(!heapring_is_live(M.cprof, g1.addr, g1.id) || g1.addr == g2.addr);
	CHECK(heapring_is_live(M.cprof, g2.addr, g2.id));
	/* a failed realloc leaves the old block allocated: back in the set */
	watch_addr = 0;
	CHECK(hr(q, FAIL_SIZE) == NULL);
	CHECK_INT(drain(), 0);
	CHECK(heapring_is_live(M.cprof, g2.addr, g2.id));
	/* realloc(NULL, n) is a malloc */
	void *r = hr(NULL, 300);
	struct got g3 = one_sample();
	CHECK(g3.addr == (uintptr_t)r && g3.size == 300);
	hf(q);
	hf(r);
	CHECK(!heapring_is_live(M.cprof, g2.addr, g2.id));
	CHECK(!heapring_is_live(M.cprof, g3.addr, g3.id));
	CHECK_INT(drain(), 0);
	CHECK(groups_agree());
}

static void test_other_entries(void)
{
	reset(1, 128);
	malloc_fn hm = HOOK(HEAPABI_MALLOC, malloc_fn);
	free_fn hf = HOOK(HEAPABI_FREE, free_fn);
	free(hm(64));
	drain();

	/* calloc: n * m, zeroed; an overflow is not sampled, the real calloc
	 * still called */
	calloc_fn hc = HOOK(HEAPABI_CALLOC, calloc_fn);
	unsigned long calls = spy_calloc_calls;
	uint8_t *c = hc(10, 20);
	struct got g = one_sample();
	CHECK(g.addr == (uintptr_t)c && g.size == 200 && g.func == HEAPABI_CALLOC);
	int zero = 1;
	for (int i = 0; i < 200; i++)
		zero &= c[i] == 0;
	CHECK(zero);
	hf(c);
	CHECK(hc(SIZE_MAX / 2, 4) == NULL);
	CHECK_INT(spy_calloc_calls - calls, 2);
	CHECK_INT(drain(), 0);

	reallocarray_fn hra = HOOK(HEAPABI_REALLOCARRAY, reallocarray_fn);
	void *ra = hra(NULL, 10, 30);
	g = one_sample();
	CHECK(g.addr == (uintptr_t)ra && g.size == 300 && g.func == HEAPABI_REALLOCARRAY);
	CHECK(hra(ra, SIZE_MAX / 2, 4) == NULL);
	CHECK_INT(drain(), 0);
	CHECK(heapring_is_live(M.cprof, g.addr, g.id));	/* still allocated */
	hf(ra);
	CHECK(!heapring_is_live(M.cprof, g.addr, g.id));

	posix_memalign_fn hpm = HOOK(HEAPABI_POSIX_MEMALIGN, posix_memalign_fn);
	void *pm = NULL;
	CHECK_INT(hpm(&pm, 64, 100), 0);
	g = one_sample();
	CHECK(pm && (uintptr_t)pm % 64 == 0);
	CHECK(g.addr == (uintptr_t)pm && g.size == 100 && g.func == HEAPABI_POSIX_MEMALIGN);
	hf(pm);
	void *pm2 = (void *)1;
	CHECK_INT(hpm(&pm2, 3, 100), EINVAL);
	CHECK(pm2 == (void *)1);
	CHECK_INT(drain(), 0);

	static const struct { unsigned f; size_t a0, a1, size; } al[] = {
		{ HEAPABI_ALIGNED_ALLOC, 64, 128, 128 },
		{ HEAPABI_MEMALIGN, 256, 96, 96 },
	};
	for (unsigned i = 0; i < 2; i++) {
		void *a = ((aligned_fn)M.hook[al[i].f])(al[i].a0, al[i].a1);
		g = one_sample();
		CHECK(a && (uintptr_t)a % al[i].a0 == 0);
		CHECK(g.addr == (uintptr_t)a && g.size == al[i].size && g.func == al[i].f);
		hf(a);
	}
	static const unsigned pg[] = { HEAPABI_VALLOC, HEAPABI_PVALLOC };
	for (unsigned i = 0; i < 2; i++) {
		void *a = ((malloc_fn)M.hook[pg[i]])(100);
		g = one_sample();
		CHECK(a && (uintptr_t)a % 4096 == 0);
		CHECK(g.addr == (uintptr_t)a && g.size == 100 && g.func == pg[i]);
		hf(a);
	}
	CHECK_INT(drain(), 0);
}

/* --- the switch --------------------------------------------------------------------- */

enum off_how { OFF_DISABLED, OFF_DEADLINE, OFF_TGID };

static void test_off(enum off_how how)
{
	reset(1, 128);
	malloc_fn hm = HOOK(HEAPABI_MALLOC, malloc_fn);
	free_fn hf = HOOK(HEAPABI_FREE, free_fn);
	free(hm(64));
	free(hm(64));
	CHECK_INT(drain(), 1);		/* on: sampling */
	CHECK_INT(M.priv->live, 1);
	switch (how) {
	case OFF_DISABLED: heapring_disable(M.cprof); break;
	case OFF_DEADLINE: heapring_set_deadline(M.cprof, now_ns() - 1); break;
	case OFF_TGID: M.cprof->tgid = getpid() + 1; break;
	}
	/* The checks by system call are made once per HEAPABI_CHECK_CYCLES:
	 * as if that long had passed. */
	CHECK(M.priv->checked_tsc != 0);
	M.priv->checked_tsc = 0;
	struct heapring_stats st0, st1;
	heapring_stats(M.cprof, &st0);
	unsigned long calls = spy_malloc_calls;
	for (int i = 0; i < 100; i++)
		hf(hm(64));
	CHECK_INT(M.priv->live, 0);
	CHECK_INT(spy_malloc_calls - calls, 100);	/* still the real one */
	CHECK_INT(drain(), 0);
	heapring_stats(M.cprof, &st1);
	CHECK(st1.samples == st0.samples && st1.dropped == st0.dropped);
	/* turning the switch back on does not make it live again: only
	 * cprof sets live */
	switch (how) {
	case OFF_DISABLED: M.cprof->enabled = 1; break;
	case OFF_DEADLINE: heapring_set_deadline(M.cprof, now_ns() + 60000000000ull); break;
	case OFF_TGID: M.cprof->tgid = getpid(); break;
	}
	for (int i = 0; i < 10; i++)
		hf(hm(64));
	CHECK_INT(drain(), 0);
	CHECK_INT(M.priv->live, 0);
}

/* --- where a hook finds the real function ------------------------------------------------ */

static unsigned long other_malloc_calls, other_free_calls;

static void *other_malloc(size_t n)
{
	__atomic_fetch_add(&other_malloc_calls, 1, __ATOMIC_RELAXED);
	return malloc(n);
}

static void other_free(void *p)
{
	__atomic_fetch_add(&other_free_calls, 1, __ATOMIC_RELAXED);
	free(p);
}

/* Live, malloc and free jump through the private area's copies (one cache
 * line with live); not live, and in a fork (its private area all zero),
 * through the shared area's real[]. */
static void test_real_copies(void)
{
	reset((uint64_t)1 << 60, 128);	/* live, no sample reached */
	CHECK(M.priv->real_malloc == (uintptr_t)spy_malloc);
	CHECK(M.priv->real_free == (uintptr_t)spy_free);
	malloc_fn hm = HOOK(HEAPABI_MALLOC, malloc_fn);
	free_fn hf = HOOK(HEAPABI_FREE, free_fn);
	hf(hm(64));			/* seeds the counter (through hb_enter) */
	M.priv->real_malloc = (uintptr_t)other_malloc;
	M.priv->real_free = (uintptr_t)other_free;
	unsigned long sm = spy_malloc_calls, sf = spy_free_calls;
	unsigned long om = other_malloc_calls, of = other_free_calls;
	for (int i = 0; i < 10; i++)
		hf(hm(64));
	hf(NULL);
	CHECK_INT(other_malloc_calls - om, 10);
	CHECK_INT(other_free_calls - of, 11);
	CHECK_INT(spy_malloc_calls - sm, 0);
	CHECK_INT(spy_free_calls - sf, 0);
	/* a fork's view: MADV_WIPEONFORK zeroed the area */
	memset(M.priv, 0, HEAPABI_PRIV_SIZE);
	for (int i = 0; i < 10; i++)
		hf(hm(64));
	CHECK_INT(spy_malloc_calls - sm, 10);
	CHECK_INT(spy_free_calls - sf, 10);
	CHECK_INT(other_malloc_calls - om, 10);
	CHECK_INT(other_free_calls - of, 11);
	CHECK_INT(drain(), 0);
}

/* --- a full ring ---------------------------------------------------------------------- */

static void test_ring_full(void)
{
	enum { N = 300 };
	static void *p[N];
	reset(1, 64);
	malloc_fn hm = HOOK(HEAPABI_MALLOC, malloc_fn);
	free_fn hf = HOOK(HEAPABI_FREE, free_fn);
	free(hm(64));			/* seeds: no sample */
	for (int i = 0; i < N; i++)
		p[i] = hm(64);
	struct heapring_stats st;
	heapring_stats(M.cprof, &st);
	CHECK_INT(st.samples, HEAPABI_NSLOTS);
	CHECK_INT(st.dropped, N - HEAPABI_NSLOTS);
	unsigned n = drain();
	CHECK_INT(n, HEAPABI_NSLOTS);
	int ok = 1;
	for (unsigned i = 0; i < n && i < MAXGOT; i++)
		ok &= got[i].id == i + 1 && got[i].addr == (uintptr_t)p[i] &&
		      got[i].size == 64 && got[i].stack_size == 64;
	CHECK(ok);
	/* the dropped ones are not in the live set: the profile never sees
	 * them */
	int untracked = 1;
	for (unsigned i = HEAPABI_NSLOTS; i < N; i++)
		for (uint64_t id = 1; id <= N + 1; id++)
			untracked &= !heapring_is_live(M.cprof, (uintptr_t)p[i], id);
	CHECK(untracked);
	/* room again */
	void *more[5];
	for (int i = 0; i < 5; i++)
		more[i] = hm(64);
	n = drain();
	CHECK_INT(n, 5);
	CHECK(n == 5 && got[0].id == HEAPABI_NSLOTS + 1 &&	/* a drop takes no id */
	      got[0].addr == (uintptr_t)more[0]);
	CHECK(groups_agree());
	for (int i = 0; i < 5; i++)
		hf(more[i]);
	for (int i = 0; i < N; i++)
		hf(p[i]);
	CHECK_INT(drain(), 0);
}

/* --- threads ---------------------------------------------------------------------------- */

/* The threads run until the reader has read WANT samples (or ITERS
 * pairs each), so that they overlap each other and the reader however
 * the machine schedules them. */
enum { NTHREADS = 4, ITERS = 3000000, WANT = 3000 };
/* Where each thread's stack is (a local of its loop): a sample's SP must
 * be just below one of them. */
static uintptr_t thread_sp[NTHREADS];
static int threads_done, threads_stop;

static void *hammer(void *arg)
{
	unsigned k = (unsigned)(uintptr_t)arg;
	malloc_fn hm = HOOK(HEAPABI_MALLOC, malloc_fn);
	free_fn hf = HOOK(HEAPABI_FREE, free_fn);
	uint64_t x = 0x9e3779b97f4a7c15ull * (k + 1);
	volatile char here = 0;
	thread_sp[k] = (uintptr_t)&here;
	for (int i = 0; i < ITERS && !__atomic_load_n(&threads_stop, __ATOMIC_RELAXED); i++) {
		x ^= x << 13; x ^= x >> 7; x ^= x << 17;
		void *p = hm(32 + x % 225);
		if (p)
			memset(p, (int)k, 8);
		hf(p);
	}
	__atomic_fetch_add(&threads_done, 1, __ATOMIC_RELEASE);
	return NULL;
}

static void test_threads(void)
{
	reset(4096, 512);
	pthread_t t[NTHREADS];
	uint64_t maxid = (uint64_t)NTHREADS * ITERS + 1;
	uint8_t *seen = calloc(maxid + 1, 1);
	unsigned long consumed = 0, bad = 0, dup = 0, still_live = 0;
	threads_done = threads_stop = 0;
	memset(thread_sp, 0, sizeof(thread_sp));
	for (unsigned k = 0; k < NTHREADS; k++)
		CHECK_INT(pthread_create(&t[k], NULL, hammer, (void *)(uintptr_t)k), 0);
	static struct got keep[1 << 16];
	unsigned nkeep = 0;
	for (;;) {
		int done = __atomic_load_n(&threads_done, __ATOMIC_ACQUIRE) == NTHREADS;
		const struct heapabi_slot *s;
		while ((s = heapring_peek(M.cprof))) {
			consumed++;
			if (s->id == 0 || s->id > maxid)
				bad++;
			else if (seen[s->id]++)
				dup++;
			if (s->size < 32 || s->size > 256 || s->addr == 0 || s->addr % 16 ||
			    s->func != HEAPABI_MALLOC || s->stack_size != 512 ||
			    s->regs[HEAPABI_R_SP] % 8 || s->regs[HEAPABI_R_IP] == 0)
				bad++;
			if (nkeep < sizeof(keep) / sizeof(keep[0])) {
				keep[nkeep].id = s->id;
				keep[nkeep].addr = s->addr;
				keep[nkeep++].regs[HEAPABI_R_SP] = s->regs[HEAPABI_R_SP];
			}
			heapring_release(M.cprof);
		}
		if (done)
			break;
		if (consumed >= WANT)
			__atomic_store_n(&threads_stop, 1, __ATOMIC_RELAXED);
		usleep(200);
	}
	for (unsigned k = 0; k < NTHREADS; k++)
		pthread_join(t[k], NULL);
	consumed += drain();
	unsigned long wrong_sp = 0;
	for (unsigned i = 0; i < nkeep; i++) {
		int known = 0;
		for (unsigned k = 0; k < NTHREADS; k++)
			known |= keep[i].regs[HEAPABI_R_SP] < thread_sp[k] &&
				 thread_sp[k] - keep[i].regs[HEAPABI_R_SP] < 4096;
		wrong_sp += !known;
		/* every block was freed: none may still be in the set */
		still_live += heapring_is_live(M.cprof, keep[i].addr, keep[i].id);
	}
	struct heapring_stats st;
	heapring_stats(M.cprof, &st);
	printf("threads: %lu samples read, %llu dropped, %llu untracked\n", consumed,
	       (unsigned long long)st.dropped, (unsigned long long)st.untracked);
	CHECK(consumed >= WANT);
	CHECK_INT(consumed, st.samples);
	CHECK_INT(bad, 0);
	CHECK_INT(dup, 0);
	CHECK_INT(wrong_sp, 0);
	CHECK_INT(still_live, 0);
	CHECK_INT(st.stack_failed, 0);
	CHECK(groups_agree());
	free(seen);
}

/* --- heapring on its own ------------------------------------------------------------ */

static void test_heapring_config(void)
{
	char err[256] = "";
	struct heapring_config cfg = { .tgid = getpid(), .rate = 0, .stack_size = 64 };
	CHECK_INT(heapring_init(M.cprof, &cfg, err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "heapring:") == err);
	cfg.rate = 512 * 1024;
	cfg.stack_size = HEAPABI_STACK_MAX + 1;
	CHECK_INT(heapring_init(M.cprof, &cfg, err, sizeof(err)), -EINVAL);
	M.cprof->magic = 0;
	CHECK_INT(heapring_check(M.cprof, err, sizeof(err)), -EPROTO);
	cfg.stack_size = HEAPABI_STACK_MAX;
	CHECK_INT(heapring_init(M.cprof, &cfg, err, sizeof(err)), 0);
	CHECK_INT(heapring_check(M.sh, err, sizeof(err)), 0);
	CHECK(M.sh->enabled == 1 && M.sh->rate == 512 * 1024 && M.sh->tgid == getpid());
	CHECK(heapring_peek(M.cprof) == NULL);
	CHECK(!heapring_is_live(M.cprof, 0, 0));
}

int main(void)
{
	int rc = hb_map_blob(&M);
	CHECK_INT(rc, 0);
	if (rc)
		return check_done();
	test_header();
	test_heapring_config();
	test_rate();
	test_regs_main();
	test_stack_partial();
	test_free_realloc();
	test_other_entries();
	test_off(OFF_DISABLED);
	test_off(OFF_DEADLINE);
	test_off(OFF_TGID);
	test_real_copies();
	test_ring_full();
	test_threads();
	hb_unmap_blob(&M);
	return check_done();
}

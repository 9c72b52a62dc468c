/*
 * ownmalloc - a program with its own allocator linked in: malloc, free,
 * calloc and realloc are defined here (a bump allocator under a spin lock,
 * freeing only the block on top), so no GOT entry reaches them and cprof
 * must use uprobes (docs/design.md §12.4). Every call of the four,
 * libc's and ld.so's included, is counted.
 *
 *   ownmalloc [ITERATIONS [ALARM [keep]]]
 *
 * Prints "ready", waits for SIGUSR1 (or starts at once when no one sends
 * it: ITERATIONS < 0 makes -ITERATIONS iterations without waiting, for a
 * measurement), then runs ITERATIONS (default 100000) iterations of:
 *
 *   alloc_big:   calloc(4, 1024)   4096 bytes, freed
 *   alloc_small: malloc(64)          64 bytes,  then
 *   alloc_grow:  realloc(it, 1024) 1024 bytes, freed
 *
 * (5 calls), and with "keep" also
 *
 *   alloc_kept:  malloc(256)        256 bytes, never freed
 *
 * (and, while waiting for SIGUSR1, a malloc(16) and free by idle_alloc
 * every millisecond: probes hit once they are enabled), with one thread
 * started halfway that makes 20000 calls of
 * thread_alloc: malloc(512) and free (inherited events follow it). Then
 * prints "calls=N ns=T cpu_ns=C iters=I" (the calls of the four
 * functions made during the run, its duration and the CPU time the
 * process took meanwhile, kernel time handling uprobes included) and idles until ALARM seconds (default
 * 60) have passed since start.
 */
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>

#define ARENA_SIZE (256UL << 20)
#define HDR 16

static unsigned char *arena;
static size_t top;			/* bytes used */
static volatile int lock;
static unsigned long calls;		/* of the four, under lock */

static void take(void)
{
	while (__atomic_exchange_n(&lock, 1, __ATOMIC_ACQUIRE))
		;
}

static void drop(void)
{
	__atomic_store_n(&lock, 0, __ATOMIC_RELEASE);
}

static void *bump(size_t n)
{
	size_t need = HDR + ((n + 15) & ~(size_t)15);
	unsigned char *p;

	if (!arena) {
		arena = mmap(NULL, ARENA_SIZE, PROT_READ | PROT_WRITE,
			     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		if (arena == MAP_FAILED)
			abort();
	}
	if (n > ARENA_SIZE || top + need > ARENA_SIZE) {
		static const char msg[] = "ownmalloc: arena exhausted\n";

		(void)!write(2, msg, sizeof(msg) - 1);
		abort();
	}
	p = arena + top;
	top += need;
	memcpy(p, &n, sizeof(n));
	return p + HDR;
}

/* The block on top of the arena goes back; others stay (leak). */
static void unbump(unsigned char *p)
{
	size_t n;

	memcpy(&n, p - HDR, sizeof(n));
	if ((size_t)(p - arena) + ((n + 15) & ~(size_t)15) == top)
		top = (size_t)(p - HDR - arena);
}

__attribute__((noinline)) void *malloc(size_t n)
{
	void *p;

	take();
	calls++;
	p = bump(n);
	drop();
	return p;
}

__attribute__((noinline)) void free(void *p)
{
	take();
	calls++;
	if (p)
		unbump(p);
	drop();
}

__attribute__((noinline)) void *calloc(size_t n, size_t m)
{
	void *p;
	size_t b;

	if (__builtin_mul_overflow(n, m, &b))
		return NULL;
	take();
	calls++;
	p = bump(b);
	drop();
	memset(p, 0, b);	/* mmap'd zero pages, or a block reused */
	return p;
}

__attribute__((noinline)) void *realloc(void *old, size_t n)
{
	unsigned char *p = old, *q;
	size_t had;

	take();
	calls++;
	if (!p) {
		q = bump(n);
		drop();
		return q;
	}
	memcpy(&had, p - HDR, sizeof(had));
	unbump(p);		/* on top: grows in place */
	q = bump(n);
	drop();
	if (q != p)
		memmove(q, p, had < n ? had : n);
	return q;
}

static unsigned long ncalls(void)
{
	unsigned long c;

	take();
	c = calls;
	drop();
	return c;
}

static volatile unsigned long sink;

__attribute__((noinline)) void *alloc_big(void)
{
	void *p = calloc(4, 1024);

	__asm__ volatile("" ::: "memory");
	return p;
}

__attribute__((noinline)) void *alloc_small(void)
{
	void *p = malloc(64);

	__asm__ volatile("" ::: "memory");
	return p;
}

__attribute__((noinline)) void *alloc_grow(void *p)
{
	p = realloc(p, 1024);
	__asm__ volatile("" ::: "memory");
	return p;
}

__attribute__((noinline)) void *alloc_kept(void)
{
	void *p = malloc(256);

	__asm__ volatile("" ::: "memory");
	return p;
}

__attribute__((noinline)) void *idle_alloc(void)
{
	void *p = malloc(16);

	__asm__ volatile("" ::: "memory");
	return p;
}

__attribute__((noinline)) void *thread_alloc(void)
{
	void *p = malloc(512);

	__asm__ volatile("" ::: "memory");
	return p;
}

static void *thread_main(void *arg)
{
	(void)arg;
	for (int i = 0; i < 10000; i++) {
		unsigned char *p = thread_alloc();

		p[0] = (unsigned char)i;
		sink += p[0];
		free(p);
	}
	return NULL;
}

static volatile sig_atomic_t go;

static void on_usr1(int sig)
{
	(void)sig;
	go = 1;
}

static uint64_t now_ns(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

int main(int argc, char **argv)
{
	long iters = argc > 1 ? atol(argv[1]) : 100000;
	unsigned alarm_s = argc > 2 ? (unsigned)atoi(argv[2]) : 60;
	int wait = iters >= 0;
	int keep = argc > 3 && strcmp(argv[3], "keep") == 0;
	unsigned long c0;
	uint64_t t0, cpu0;
	pthread_t th;

	if (iters < 0)
		iters = -iters;
	alarm(alarm_s);
	signal(SIGUSR1, on_usr1);
	printf("ready\n");
	fflush(stdout);
	while (wait && !go) {
		if (keep)
			free(idle_alloc());
		usleep(1000);
	}

	c0 = ncalls();
	t0 = now_ns(CLOCK_MONOTONIC);
	cpu0 = now_ns(CLOCK_PROCESS_CPUTIME_ID);
	for (long i = 0; i < iters; i++) {
		unsigned char *b = alloc_big(), *a, *c;

		sink += b[i % 4096];
		free(b);
		a = alloc_small();
		a[0] = (unsigned char)i;
		c = alloc_grow(a);
		sink += c[0];
		free(c);
		if (keep) {
			unsigned char *k = alloc_kept();

			k[0] = (unsigned char)i;
			sink += k[0];
		}
		if (i == iters / 2) {
			if (pthread_create(&th, NULL, thread_main, NULL) != 0) {
				fprintf(stderr, "ownmalloc: pthread_create failed\n");
				return 1;
			}
			if (pthread_join(th, NULL) != 0)
				return 1;
		}
	}
	t0 = now_ns(CLOCK_MONOTONIC) - t0;
	cpu0 = now_ns(CLOCK_PROCESS_CPUTIME_ID) - cpu0;
	c0 = ncalls() - c0;
	printf("calls=%lu ns=%llu cpu_ns=%llu iters=%ld\n", c0, (unsigned long long)t0,
	       (unsigned long long)cpu0, iters);
	fflush(stdout);
	for (;;)
		pause();
}

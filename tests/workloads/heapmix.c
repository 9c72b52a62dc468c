/*
 * heapmix - allocates designed shares of bytes from known functions in
 * several threads, measures itself, and checks what it allocated; the
 * target of the heap profile tests (tests/e2e/heap_*.sh) and of the
 * SIGKILL trials.
 *
 * usage: heapmix [-t THREADS] [-r ROUNDS] [-s SECONDS] [-q BYTES] [-b BYTES_PER_S]
 *                [-d MS] [-m MODULE] [-B BIG_BYTES]
 *   -t  mixing threads (3)
 *   -r  rounds each thread makes (0: until SECONDS, or SIGUSR2)
 *   -s  with -r 0, how long the threads mix; in any case the process is
 *       killed by alarm() SECONDS + 60 after it started (30)
 *   -q  bytes one round of one thread allocates (262144)
 *   -b  bytes per second each thread allocates (4 MiB; 0: as fast as it can)
 *   -d  load the module (dlopen) at the round a thread reaches after MS
 *       milliseconds at the paced speed (-1: only on SIGHUP; default -1)
 *   -m  the module (default: libheapmod.so beside the executable)
 *   -B  bytes of the one large block allocated (and kept) every second
 *       by a thread of its own, from 1 s after the start (1 MiB; 0: none)
 *
 * A round of a thread allocates, of the -q bytes: 40% in hm_alloc_freed
 * (malloc, freed at once), 25% in hm_alloc_kept (malloc, kept until the
 * end), 15% in hm_cxx_new (C++ new[], deleted at once: heapmix/new.cc),
 * 10% in hm_realloc_chain (a block grown by realloc 8 times, then freed)
 * and, once the module is loaded, 10% in heapmod_work (the module's own
 * malloc and free: shlib/heapmod.c). Which blocks and their contents
 * derive from the thread's index and the round only, so the checksum
 * printed at the end is the same from one run to the next with the same
 * -t, -r, -q and module round, however the threads are scheduled (the
 * large blocks are left out of it: their number depends on time). Every
 * block is filled with a pattern and checked before it is freed.
 *
 * Signals (a thread of its own waits for them):
 *   SIGUSR1  time a malloc/free loop in that thread (the malloc-heavy phase):
 *            prints "heapmix: loop N best B median M ns/call direct D
 *            ratio R" (CPU time of the thread, per malloc + free of a
 *            small block; D the same loop calling libc's malloc and free
 *            straight, past every GOT; R the median ratio of neighbouring
 *            batches, through the GOT over straight)
 *   SIGUSR2  stop: every thread ends at the same round (one past the
 *            furthest), so that the checksum can be recomputed with -r
 *   SIGHUP   load the module at the next round (as -d does)
 *
 * Output (stdout, line-buffered):
 *   heapmix: pid P ready
 *   heapmix: module loaded at round R
 *   heapmix: bytes hm_alloc_freed=N hm_alloc_kept=N hm_cxx_new=N
 *            hm_realloc_chain=N heapmod_work=N hm_big=N  (one line)
 *   heapmix: kept K freed F
 *   heapmix: rounds R checksum 0x... errors E
 */
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#if defined(__clang__)
#define HM_FN __attribute__((noinline, used))
#else
#define HM_FN __attribute__((noinline, noipa, used))
#endif

enum { F_FREED, F_KEPT, F_NEW, F_REALLOC, F_MODULE, F_NFUNCS };

/* new.cc and the module use these */
uint64_t hm_rand(uint64_t *s);
void hm_fill(void *p, size_t n, uint64_t seed);
uint64_t hm_check(const void *p, size_t n, uint64_t seed, uint64_t *errors);
uint64_t hm_cxx_new(uint64_t *rng, size_t quota, uint64_t *bytes, uint64_t *errors);

typedef uint64_t (*heapmod_fn)(uint64_t *rng, size_t quota, uint64_t *bytes,
			       uint64_t *errors);

struct hm_thread {
	pthread_t th;
	int index;
	uint64_t rng;
	long round;			/* rounds done */
	uint64_t bytes[F_NFUNCS];
	uint64_t kept_bytes, freed_bytes;
	uint64_t sum, errors;
	void **kept;			/* blocks kept until the end */
	size_t nkept, capkept;
};

static int nthreads = 3;
static long rounds;
static double seconds = 30;
static size_t quota = 262144;
static double pace = 4 << 20;
static long delay_ms = -1;
static const char *module_path;
static size_t big_bytes = 1 << 20;

static struct hm_thread *threads;
static _Atomic long load_round = LONG_MAX;	/* use the module from */
static _Atomic long stop_round = LONG_MAX;
static _Atomic(heapmod_fn) module_fn;
static pthread_mutex_t module_lock = PTHREAD_MUTEX_INITIALIZER;
static _Atomic int mixing_done;
static double t_start;

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

uint64_t hm_rand(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 0x2545f4914f6cdd1dULL;
}

void hm_fill(void *p, size_t n, uint64_t seed)
{
	unsigned char *b = p;
	uint64_t x = seed | 1;
	size_t i;

	for (i = 0; i + 8 <= n; i += 8) {
		x = x * 6364136223846793005ULL + 1442695040888963407ULL;
		memcpy(b + i, &x, 8);
	}
	for (; i < n; i++)
		b[i] = (unsigned char)(seed >> (i & 7));
}

/* The hash of a block filled by hm_fill(p, n, seed); a byte that differs
 * from the pattern counts one error. */
uint64_t hm_check(const void *p, size_t n, uint64_t seed, uint64_t *errors)
{
	const unsigned char *b = p;
	uint64_t x = seed | 1, h = 0xcbf29ce484222325ULL, w;
	size_t i;

	for (i = 0; i + 8 <= n; i += 8) {
		x = x * 6364136223846793005ULL + 1442695040888963407ULL;
		memcpy(&w, b + i, 8);
		if (w != x)
			(*errors)++;
		h = (h ^ w) * 0x100000001b3ULL;
	}
	for (; i < n; i++) {
		if (b[i] != (unsigned char)(seed >> (i & 7)))
			(*errors)++;
		h = (h ^ b[i]) * 0x100000001b3ULL;
	}
	return h;
}

static void out_of_memory(void)
{
	fprintf(stderr, "heapmix: out of memory\n");
	exit(3);
}

/* 40%: blocks freed as soon as they are checked. */
HM_FN void hm_alloc_freed(struct hm_thread *t, size_t q)
{
	uint64_t done = 0;

	while (done < q) {
		size_t n = 16 + hm_rand(&t->rng) % 4080;
		uint64_t seed = hm_rand(&t->rng);
		void *p = malloc(n);

		if (!p)
			out_of_memory();
		hm_fill(p, n, seed);
		t->sum = t->sum * 31 + hm_check(p, n, seed, &t->errors);
		free(p);
		done += n;
	}
	t->bytes[F_FREED] += done;
	t->freed_bytes += done;
}

/* 25%: blocks kept until the end (each starts with its seed and size). */
HM_FN void hm_alloc_kept(struct hm_thread *t, size_t q)
{
	uint64_t done = 0;

	while (done < q) {
		size_t n = 64 + hm_rand(&t->rng) % 2000;
		uint64_t seed = hm_rand(&t->rng);
		uint64_t *p = malloc(n);

		if (!p)
			out_of_memory();
		p[0] = seed;
		p[1] = n;
		hm_fill(p + 2, n - 16, seed);
		if (t->nkept == t->capkept)
			out_of_memory();
		t->kept[t->nkept++] = p;
		done += n;
	}
	t->bytes[F_KEPT] += done;
	t->kept_bytes += done;
}

/* 10%: a block grown 8 times by realloc; its first bytes must survive. */
HM_FN void hm_realloc_chain(struct hm_thread *t, size_t q)
{
	uint64_t done = 0;

	while (done < q) {
		size_t n = 32 + hm_rand(&t->rng) % 256;
		uint64_t seed = hm_rand(&t->rng);
		unsigned char *p = NULL, *np;

		for (int k = 1; k <= 8; k++) {
			np = realloc(p, n * k);
			if (!np)
				out_of_memory();
			p = np;
			if (k == 1)
				hm_fill(p, n, seed);
			else
				p[n * k - 1] = (unsigned char)k;
			done += n * k;
		}
		t->sum = t->sum * 31 + hm_check(p, n, seed, &t->errors);
		if (p[n * 8 - 1] != 8)
			t->errors++;
		free(p);
	}
	t->bytes[F_REALLOC] += done;
	t->freed_bytes += done;
}

static void load_module(long round)
{
	void *h;
	heapmod_fn fn;

	pthread_mutex_lock(&module_lock);
	if (!atomic_load(&module_fn)) {
		h = dlopen(module_path, RTLD_NOW);
		if (!h) {
			fprintf(stderr, "heapmix: %s\n", dlerror());
			exit(2);
		}
		fn = (heapmod_fn)dlsym(h, "heapmod_work");
		if (!fn) {
			fprintf(stderr, "heapmix: no heapmod_work in %s\n", module_path);
			exit(2);
		}
		atomic_store(&module_fn, fn);
		printf("heapmix: module loaded at round %ld\n", round);
	}
	pthread_mutex_unlock(&module_lock);
}

static long max_round(void)
{
	long m = 0;

	for (int i = 0; i < nthreads; i++) {
		long r = __atomic_load_n(&threads[i].round, __ATOMIC_RELAXED);

		if (r > m)
			m = r;
	}
	return m;
}

static void *mix_thread(void *arg)
{
	struct hm_thread *t = arg;
	char name[16];
	double t0 = t_start;

	snprintf(name, sizeof(name), "heapmix-%d", t->index);
	pthread_setname_np(pthread_self(), name);
	for (;;) {
		long r = t->round;

		if ((rounds > 0 && r >= rounds) || r >= atomic_load(&stop_round))
			break;
		if (rounds == 0 && atomic_load(&stop_round) == LONG_MAX &&
		    now() - t0 >= seconds)
			break;
		hm_alloc_freed(t, quota * 40 / 100);
		hm_alloc_kept(t, quota * 25 / 100);
		t->sum = t->sum * 31 + hm_cxx_new(&t->rng, quota * 15 / 100,
						  &t->bytes[F_NEW], &t->errors);
		hm_realloc_chain(t, quota * 10 / 100);
		if (r >= atomic_load(&load_round)) {
			heapmod_fn fn = atomic_load(&module_fn);

			if (!fn) {
				load_module(r);
				fn = atomic_load(&module_fn);
			}
			t->sum = t->sum * 31 + fn(&t->rng, quota * 10 / 100,
						  &t->bytes[F_MODULE], &t->errors);
		}
		__atomic_store_n(&t->round, r + 1, __ATOMIC_RELAXED);
		if (pace > 0) {
			double due = t0 + (double)(r + 1) * (double)quota / pace,
			       d = due - now();

			if (d > 0) {
				struct timespec ts = { (time_t)d, (long)((d - (time_t)d) * 1e9) };

				while (nanosleep(&ts, &ts) && errno == EINTR)
					;
			}
		}
	}
	return NULL;
}

/* One large block a second, kept. */
static uint64_t big_total;
static void **big_blocks;
static size_t nbig;

HM_FN void *hm_big(size_t n)
{
	void *p = malloc(n);

	if (!p)
		out_of_memory();
	memset(p, 0x5a, n);
	return p;
}

static void *big_thread(void *arg)
{
	(void)arg;
	pthread_setname_np(pthread_self(), "heapmix-big");
	/* The first one a second after the start, not at once: a profiler
	 * started with the process (-- COMMAND) sees the same blocks as the
	 * process counts. */
	for (;;) {
		for (int i = 0; i < 20 && !atomic_load(&mixing_done); i++)
			usleep(50000);
		if (atomic_load(&mixing_done))
			break;
		if (nbig < 4096) {
			big_blocks[nbig++] = hm_big(big_bytes);
			__atomic_add_fetch(&big_total, big_bytes, __ATOMIC_RELAXED);
		}
	}
	return NULL;
}

/* The malloc-heavy phase: small blocks of varied sizes, malloc and free,
 * timed in CPU time of this thread (what another process on the CPU does
 * not change much), in batches (run_loop). */
static volatile unsigned char loop_sink;

/* libc's own malloc and free, looked up when the process starts, and
 * called through stubs shaped as the PLT's (a call, then jmp *slot): a
 * loop through them runs the instructions of the loop through the GOT,
 * but past every GOT, so at the unprofiled speed whatever a profiler did
 * to the GOT. (Called through a plain function pointer instead, the two
 * loops' ratio moved from 0.99 to 1.06 with the speed of the host.) */
void *(*hm_direct_malloc_slot)(size_t);
void (*hm_direct_free_slot)(void *);
void *hm_direct_malloc(size_t n);
void hm_direct_free(void *p);
__asm__(".text\n"
	".p2align 4\n"
	".globl hm_direct_malloc\n"
	".hidden hm_direct_malloc\n"
	".type hm_direct_malloc, @function\n"
	"hm_direct_malloc:\n"
	"\tjmp *hm_direct_malloc_slot(%rip)\n"
	".size hm_direct_malloc, . - hm_direct_malloc\n"
	".p2align 4\n"
	".globl hm_direct_free\n"
	".hidden hm_direct_free\n"
	".type hm_direct_free, @function\n"
	"hm_direct_free:\n"
	"\tjmp *hm_direct_free_slot(%rip)\n"
	".size hm_direct_free, . - hm_direct_free\n");

/* n malloc + free of small blocks through the program's GOT (direct 0)
 * or straight to libc (direct 1); ns a pair, in the thread's CPU time. */
HM_FN double hm_loop_batch(long n, int direct)
{
	static const unsigned short sizes[16] = {
		16, 24, 40, 64, 72, 100, 128, 160, 200, 256, 320, 400, 512, 640, 800, 1000
	};
	struct timespec a, b;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &a);
	if (direct) {
		for (long i = 0; i < n; i++) {
			unsigned char *p = hm_direct_malloc(sizes[i & 15]);

			if (!p)
				out_of_memory();
			p[0] = (unsigned char)i;
			loop_sink = p[0];
			hm_direct_free(p);
		}
	} else {
		for (long i = 0; i < n; i++) {
			unsigned char *p = malloc(sizes[i & 15]);

			if (!p)
				out_of_memory();
			p[0] = (unsigned char)i;
			loop_sink = p[0];
			free(p);
		}
	}
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &b);
	return ((double)(b.tv_sec - a.tv_sec) * 1e9 + (double)(b.tv_nsec - a.tv_nsec)) / (double)n;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Batches through the GOT and straight to libc, in turn (which goes first
 * alternates): the ratio of two neighbouring batches is the GOT's cost
 * over the unprofiled one, whatever the machine's speed did meanwhile
 * (on this VM the same loop takes 6.5 or 11 ns by the minute, the host's
 * doing). Batches of 100,000 pairs (~0.7 ms): on a loaded machine a
 * longer one is more often cut by a switch to another task, which it
 * then pays for in cold caches; the median of many ratios leaves those
 * out. */
static void run_loop(int nr)
{
	enum { BATCHES = 41, PAIRS = 100000 };
	double v[BATCHES], d[BATCHES], q[BATCHES];

	hm_loop_batch(PAIRS, 0);	/* warm */
	hm_loop_batch(PAIRS, 1);
	for (int i = 0; i < BATCHES; i++) {
		if (i & 1) {
			d[i] = hm_loop_batch(PAIRS, 1);
			v[i] = hm_loop_batch(PAIRS, 0);
		} else {
			v[i] = hm_loop_batch(PAIRS, 0);
			d[i] = hm_loop_batch(PAIRS, 1);
		}
		q[i] = v[i] / d[i];
	}
	qsort(v, BATCHES, sizeof(v[0]), cmp_double);
	qsort(d, BATCHES, sizeof(d[0]), cmp_double);
	qsort(q, BATCHES, sizeof(q[0]), cmp_double);
	printf("heapmix: loop %d best %.2f median %.2f ns/call direct %.2f ratio %.4f\n", nr,
	       v[0], v[BATCHES / 2], d[0], q[BATCHES / 2]);
}

static void *signal_thread(void *arg)
{
	sigset_t *set = arg;
	int loops = 0;

	pthread_setname_np(pthread_self(), "heapmix-sig");
	for (;;) {
		int sig = sigwaitinfo(set, NULL);

		if (sig == SIGUSR1) {
			run_loop(++loops);
		} else if (sig == SIGUSR2) {
			long m = max_round() + 1, cur = atomic_load(&stop_round);

			if (m < cur)
				atomic_store(&stop_round, m);
		} else if (sig == SIGHUP) {
			long m = max_round() + 1, cur = atomic_load(&load_round);

			if (m < cur)
				atomic_store(&load_round, m);
		}
	}
	return NULL;
}

/* Every allocation function once, so that lazy binding has filled their
 * GOT entries before anyone looks (tests compare them). */
static void warm_up(void)
{
	void *p, *q;

	p = malloc(10);
	q = calloc(2, 10);
	p = realloc(p, 100);
	q = reallocarray(q, 4, 10);
	free(p);
	free(q);
	if (posix_memalign(&p, 64, 100) == 0)
		free(p);
	free(aligned_alloc(64, 128));
	free(memalign(64, 100));
	free(valloc(100));
	free(pvalloc(100));
	free(malloc(malloc_usable_size(NULL) + 1));
}

static void usage(void)
{
	fprintf(stderr, "usage: heapmix [-t THREADS] [-r ROUNDS] [-s SECONDS] [-q BYTES] "
			"[-b BYTES_PER_S] [-d MS] [-m MODULE] [-B BIG_BYTES]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	static char exe_dir[PATH_MAX + 32];
	sigset_t set;
	pthread_t sig_th, big_th;
	uint64_t bytes[F_NFUNCS] = { 0 }, kept = 0, freed = 0, sum = 0, errors = 0;
	long done_rounds = 0;
	int c;

	setvbuf(stdout, NULL, _IOLBF, 0);
	while ((c = getopt(argc, argv, "t:r:s:q:b:d:m:B:")) != -1) {
		switch (c) {
		case 't': nthreads = atoi(optarg); break;
		case 'r': rounds = atol(optarg); break;
		case 's': seconds = atof(optarg); break;
		case 'q': quota = strtoul(optarg, NULL, 0); break;
		case 'b': pace = atof(optarg); break;
		case 'd': delay_ms = atol(optarg); break;
		case 'm': module_path = optarg; break;
		case 'B': big_bytes = strtoul(optarg, NULL, 0); break;
		default: usage();
		}
	}
	if (optind != argc || nthreads < 1 || nthreads > 64 || quota < 65536)
		usage();
	alarm((unsigned)seconds + 60);
	if (!module_path) {
		ssize_t n = readlink("/proc/self/exe", exe_dir, PATH_MAX);
		char *slash;

		if (n <= 0)
			return 2;
		exe_dir[n] = 0;
		slash = strrchr(exe_dir, '/');
		strcpy(slash ? slash + 1 : exe_dir, "libheapmod.so");
		module_path = exe_dir;
	}
	if (delay_ms >= 0)
		atomic_store(&load_round, pace > 0 ? (long)((double)delay_ms / 1000 * pace / (double)quota) : 0);

	warm_up();
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGUSR2);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	if (pthread_create(&sig_th, NULL, signal_thread, &set))
		return 2;

	threads = calloc((size_t)nthreads, sizeof(*threads));
	big_blocks = calloc(4096, sizeof(void *));
	if (!threads || !big_blocks)
		out_of_memory();
	t_start = now();
	for (int i = 0; i < nthreads; i++) {
		struct hm_thread *t = &threads[i];

		t->index = i;
		t->rng = 0x9e3779b97f4a7c15ULL * (uint64_t)(i + 1);
		t->capkept = 1 << 23;
		t->kept = mmap(NULL, t->capkept * sizeof(void *), PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		if (t->kept == MAP_FAILED)
			out_of_memory();
		if (pthread_create(&t->th, NULL, mix_thread, t))
			return 2;
	}
	if (big_bytes > 0 && pthread_create(&big_th, NULL, big_thread, NULL))
		return 2;
	void *libc = dlopen("libc.so.6", RTLD_LAZY);
	hm_direct_malloc_slot = libc ? (void *(*)(size_t))dlsym(libc, "malloc") : NULL;
	hm_direct_free_slot = libc ? (void (*)(void *))dlsym(libc, "free") : NULL;
	if (!hm_direct_malloc_slot || !hm_direct_free_slot) {
		fprintf(stderr, "heapmix: libc's malloc and free not found: %s\n", dlerror());
		return 2;
	}
	printf("heapmix: pid %d ready\n", (int)getpid());

	for (int i = 0; i < nthreads; i++)
		pthread_join(threads[i].th, NULL);
	atomic_store(&mixing_done, 1);
	if (big_bytes > 0)
		pthread_join(big_th, NULL);

	for (int i = 0; i < nthreads; i++) {
		struct hm_thread *t = &threads[i];

		for (size_t k = 0; k < t->nkept; k++) {
			uint64_t *p = t->kept[k];

			t->sum = t->sum * 31 + hm_check(p + 2, p[1] - 16, p[0], &t->errors);
			free(p);
		}
		for (int f = 0; f < F_NFUNCS; f++)
			bytes[f] += t->bytes[f];
		kept += t->kept_bytes;
		freed += t->freed_bytes + t->bytes[F_NEW] + t->bytes[F_MODULE];
		sum = sum * 0x100000001b3ULL + t->sum;
		errors += t->errors;
		if (t->round > done_rounds)
			done_rounds = t->round;
	}
	for (size_t k = 0; k < nbig; k++) {
		unsigned char *p = big_blocks[k];

		for (size_t i = 0; i < big_bytes; i += 4096)
			if (p[i] != 0x5a)
				errors++;
		free(p);
	}
	kept += big_total;
	printf("heapmix: bytes hm_alloc_freed=%llu hm_alloc_kept=%llu hm_cxx_new=%llu "
	       "hm_realloc_chain=%llu heapmod_work=%llu hm_big=%llu\n",
	       (unsigned long long)bytes[F_FREED], (unsigned long long)bytes[F_KEPT],
	       (unsigned long long)bytes[F_NEW], (unsigned long long)bytes[F_REALLOC],
	       (unsigned long long)bytes[F_MODULE], (unsigned long long)big_total);
	printf("heapmix: kept %llu freed %llu\n", (unsigned long long)kept,
	       (unsigned long long)freed);
	printf("heapmix: rounds %ld checksum 0x%016llx errors %llu\n", done_rounds,
	       (unsigned long long)sum, (unsigned long long)errors);
	return errors ? 1 : 0;
}

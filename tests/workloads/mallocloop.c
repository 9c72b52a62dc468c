/*
 * mallocloop - a target for the heap sampler's injector (tests/e2e/inject_*.sh).
 *
 *   mallocloop SECONDS [--seccomp]
 *     two threads loop on malloc/calloc/realloc/posix_memalign/free of
 *     varied sizes, each block filled with a pattern checked when it is
 *     freed; a third thread sleeps in nanosleep (1 s at a time) and checks
 *     that no sleep ended early; main waits in read() on a pipe that the
 *     sleeper writes to at the end. Ends by itself after SECONDS (alarm),
 *     printing
 *       loops=N checksum=X expected=X bad=0 short_sleeps=0 read_ok=1
 *     and exits 0 only when all of them are right. SIGALRM sent early ends
 *     it the same way. --seccomp installs an
 *     allow-everything seccomp filter first (a target injection refuses).
 *   mallocloop SECONDS --dlopen-when FILE
 *     also a thread that, once FILE exists, dlopens libz.so.1 (which calls
 *     malloc and free through its own GOT) and compresses and uncompresses
 *     a buffer in a loop, each round trip checked (bad=).
 *   mallocloop SECONDS --idle
 *     no allocating threads: every thread is inside a blocking system call
 *     (main in read(), the sleeper in nanosleep) whenever it is stopped.
 * Prints "ready" once running.
 */

#include <dlfcn.h>
#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t stop;
static int pipefd[2];
static unsigned seconds;
static volatile unsigned long short_sleeps, sleeps;

struct worker {
	unsigned id;
	unsigned long loops, bad;
	uint64_t sum, expected;
};

static void on_alarm(int sig)
{
	(void)sig;
	stop = 1;
}

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Fills a block with a pattern derived from its tag; the sum of its words
 * is known in advance. */
static void fill(unsigned char *p, size_t n, uint64_t tag, uint64_t *expected)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (unsigned char)(tag + i);
	for (size_t i = 0; i < n; i++)
		*expected += (unsigned char)(tag + i);
}

static int check(const unsigned char *p, size_t n, uint64_t tag, uint64_t *sum)
{
	int bad = 0;
	for (size_t i = 0; i < n; i++) {
		if (p[i] != (unsigned char)(tag + i))
			bad = 1;
		*sum += p[i];
	}
	return bad;
}

#define KEEP 64

static void *work(void *arg)
{
	struct worker *w = arg;
	struct { unsigned char *p; size_t n; uint64_t tag; } keep[KEEP] = { 0 };
	uint64_t x = 88172645463325252ull + w->id;

	while (!stop) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		unsigned k = (unsigned)(x % KEEP);
		size_t n = 16 + (size_t)((x >> 8) % 2000);
		uint64_t tag = x >> 20;
		if (keep[k].p) {
			w->bad += check(keep[k].p, keep[k].n, keep[k].tag, &w->sum);
			free(keep[k].p);
			keep[k].p = NULL;
		}
		unsigned char *p = NULL;
		switch ((x >> 40) % 4) {
		case 0:
			p = malloc(n);
			break;
		case 1:
			p = calloc(1, n);
			if (p)
				for (size_t i = 0; i < n; i++)
					if (p[i])
						w->bad++;
			break;
		case 2:
			p = malloc(n / 2 + 1);
			p = realloc(p, n);
			break;
		case 3:
			if (posix_memalign((void **)&p, 64, n) != 0)
				p = NULL;
			break;
		}
		if (!p) {
			w->bad++;
			continue;
		}
		fill(p, n, tag, &w->expected);
		keep[k].p = p;
		keep[k].n = n;
		keep[k].tag = tag;
		w->loops++;
	}
	for (unsigned k = 0; k < KEEP; k++)
		if (keep[k].p) {
			w->bad += check(keep[k].p, keep[k].n, keep[k].tag, &w->sum);
			free(keep[k].p);
		}
	return NULL;
}

/* Sleeps a second at a time; a sleep that ends early (an interrupted
 * nanosleep not restarted) is counted. At the end writes to the pipe main
 * reads. */
static void *sleeper(void *arg)
{
	(void)arg;
	uint64_t end = now_ns() + (uint64_t)seconds * 1000000000u;
	while (!stop && now_ns() + 1000000000u <= end) {
		struct timespec ts = { 1, 0 };
		uint64_t t0 = now_ns();
		/* Signals are blocked here: EINTR cannot end it early. */
		int r = nanosleep(&ts, NULL);
		if (r != 0 || now_ns() - t0 < 1000000000u)
			short_sleeps++;
		sleeps++;
	}
	if (write(pipefd[1], "done", 4) != 4)
		short_sleeps++;
	return NULL;
}

static const char *dlopen_when;
static volatile unsigned long zlib_rounds, zlib_bad;

typedef int (*zfn)(unsigned char *, unsigned long *, const unsigned char *,
		   unsigned long);

static void *zlib_loop(void *arg)
{
	(void)arg;
	while (!stop && access(dlopen_when, F_OK) != 0) {
		struct timespec ts = { 0, 20000000 };
		nanosleep(&ts, NULL);
	}
	if (stop)
		return NULL;
	void *h = dlopen("libz.so.1", RTLD_NOW);
	zfn comp = h ? (zfn)dlsym(h, "compress") : NULL;
	zfn uncomp = h ? (zfn)dlsym(h, "uncompress") : NULL;
	if (!comp || !uncomp) {
		zlib_bad++;
		return NULL;
	}
	printf("dlopened\n");
	fflush(stdout);
	static unsigned char in[8192], z[16384], out[8192];
	while (!stop) {
		for (size_t i = 0; i < sizeof(in); i++)
			in[i] = (unsigned char)((i * 7 + zlib_rounds) % 61);
		unsigned long zl = sizeof(z), ol = sizeof(out);
		if (comp(z, &zl, in, sizeof(in)) != 0 ||
		    uncomp(out, &ol, z, zl) != 0 || ol != sizeof(in) ||
		    memcmp(in, out, sizeof(in)) != 0)
			zlib_bad++;
		zlib_rounds++;
	}
	return NULL;
}

static int seccomp_allow_all(void)
{
	struct sock_filter f[] = {
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { 1, f };
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
		return -1;
	return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0);
}

int main(int argc, char **argv)
{
	struct worker w[2] = { { .id = 1 }, { .id = 2 } };
	pthread_t th[2], sl, zt;
	bool idle = false;
	sigset_t set, old;
	char buf[8];

	if (argc < 2) {
		fprintf(stderr, "usage: mallocloop SECONDS [--seccomp|--idle]\n");
		return 2;
	}
	seconds = (unsigned)atoi(argv[1]);
	if (seconds < 2)
		seconds = 2;
	for (int i = 2; i < argc; i++) {
		if (strcmp(argv[i], "--seccomp") == 0) {
			if (seccomp_allow_all() != 0) {
				perror("seccomp");
				return 2;
			}
		} else if (strcmp(argv[i], "--dlopen-when") == 0 && i + 1 < argc) {
			dlopen_when = argv[++i];
		} else if (strcmp(argv[i], "--idle") == 0) {
			idle = true;
		}
	}
	if (pipe(pipefd) != 0)
		return 2;
	signal(SIGALRM, on_alarm);
	/* Threads other than main ignore the alarm. */
	sigemptyset(&set);
	sigaddset(&set, SIGALRM);
	pthread_sigmask(SIG_BLOCK, &set, &old);
	if (!idle)
		for (int i = 0; i < 2; i++)
			pthread_create(&th[i], NULL, work, &w[i]);
	pthread_create(&sl, NULL, sleeper, NULL);
	if (dlopen_when)
		pthread_create(&zt, NULL, zlib_loop, NULL);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	alarm(seconds);
	printf("ready\n");
	fflush(stdout);

	ssize_t n;
	do
		n = read(pipefd[0], buf, sizeof(buf));
	while (n < 0 && errno == EINTR);
	int read_ok = n == 4 && memcmp(buf, "done", 4) == 0;
	stop = 1;
	pthread_join(sl, NULL);
	unsigned long loops = 0, bad = 0;
	if (dlopen_when) {
		pthread_join(zt, NULL);
		bad += zlib_bad;
		if (!zlib_rounds)
			bad++;
	}
	uint64_t sum = 0, expected = 0;
	if (!idle)
		for (int i = 0; i < 2; i++) {
			pthread_join(th[i], NULL);
			loops += w[i].loops;
			bad += w[i].bad;
			sum += w[i].sum;
			expected += w[i].expected;
		}
	if (dlopen_when)
		printf("zlib_rounds=%lu ", (unsigned long)zlib_rounds);
	printf("loops=%lu checksum=%llu expected=%llu bad=%lu sleeps=%lu "
	       "short_sleeps=%lu read_ok=%d\n", loops, (unsigned long long)sum,
	       (unsigned long long)expected, bad, (unsigned long)sleeps,
	       (unsigned long)short_sleeps, read_ok);
	return sum == expected && bad == 0 && short_sleeps == 0 && read_ok &&
	       (idle || loops > 0) ? 0 : 1;
}

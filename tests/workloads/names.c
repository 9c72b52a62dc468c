/*
 * names.c - symbol names from other toolchains, and a thread name that is a
 * terminal escape, for the demangling and escaping tests.
 *
 * Each hot function carries, through an __asm__ label, a name another
 * compiler would give it: Rust's legacy mangling (with its hash, and with
 * the ".llvm.NNN" suffix of ThinLTO), Rust's v0 mangling, a Go assembly ABI
 * wrapper (".abi0"), and a C++ function with a parameter list. Every one
 * does the same work, so each gets about a fifth of the samples. The main
 * thread renames itself to an OSC sequence that would retitle a terminal
 * (ESC ] 0 ; ... BEL). A second thread, named with a raw C1 CSI byte (0x9b)
 * and a DEL, waits in pause() under mycrate::park (Rust v0) and
 * names::cxx::park(int) (C++), always the same stack for the thread dumps.
 *
 * Usage: names [SECONDS [ARGS...]]  (default 10; alarm() is the safety net;
 * ARGS are ignored: they are there to be seen in /proc/PID/cmdline)
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

/* noipa: no inlining, cloning or identical-code folding, so that each
 * name stays on its own code. */
#define NAMED_SPIN(fn, label, k)                                          \
	__attribute__((noipa)) long fn(long x, long n) __asm__(label);    \
	__attribute__((noipa)) long fn(long x, long n)                    \
	{                                                                 \
		for (long i = 0; i < n; i++)                              \
			x ^= (x << (k)) + i, x ^= x >> 9;                 \
		return x;                                                 \
	}

/* core::fmt::write, Rust legacy (Itanium-like, hash as last component) */
NAMED_SPIN(rust_legacy, "_ZN4core3fmt5write17h0123456789abcdefE", 3)
/* <alloc::vec::Vec<T> as core::ops::drop::Drop>::drop, ThinLTO-renamed */
NAMED_SPIN(rust_llvm,
	   "_ZN66_$LT$alloc..vec..Vec$LT$T$GT$$u20$as$u20$core..ops..drop..Drop$GT$4drop17hfedcba9876543210E.llvm.4711",
	   5)
/* mycrate::inner::spin, Rust v0 */
NAMED_SPIN(rust_v0, "_RNvNtCs1234_7mycrate5inner4spin", 7)
/* main.spinAsm, Go's ABI0 wrapper of an assembly function */
NAMED_SPIN(go_abi0, "main.spinAsm.abi0", 11)
/* names::cxx::spin(long, long) */
NAMED_SPIN(cxx_params, "_ZN5names3cxx4spinEll", 13)

static volatile sig_atomic_t done;

static void on_alarm(int sig)
{
	(void)sig;
	done = 1;
}

/* names::cxx::park(int) */
__attribute__((noipa)) int cxx_park(int k) __asm__("_ZN5names3cxx4parkEi");
__attribute__((noipa)) int cxx_park(int k)
{
	while (!done)
		pause();
	return k + 1;
}

/* mycrate::park, Rust v0 (the +1 keeps the call from being a tail call) */
__attribute__((noipa)) int rust_park(int k) __asm__("_RNvCs1234_7mycrate4park");
__attribute__((noipa)) int rust_park(int k)
{
	return cxx_park(k) + 1;
}

static void *idle_thread(void *arg)
{
	(void)arg;
	prctl(PR_SET_NAME, "csi\x9b" "2J\x7f", 0, 0, 0);
	return (void *)(long)rust_park(1);
}

int main(int argc, char **argv)
{
	double seconds = argc > 1 ? atof(argv[1]) : 10;
	struct timespec start, now;
	pthread_t idle;
	long sink = 1;

	signal(SIGALRM, on_alarm);
	alarm((unsigned)seconds + 2);
	prctl(PR_SET_NAME, "\033]0;pwned\a", 0, 0, 0);
	if (pthread_create(&idle, NULL, idle_thread, NULL) == 0)
		pthread_detach(idle);
	clock_gettime(CLOCK_MONOTONIC, &start);
	while (!done) {
		sink = rust_legacy(sink, 200000);
		sink = rust_llvm(sink, 200000);
		sink = rust_v0(sink, 200000);
		sink = go_abi0(sink, 200000);
		sink = cxx_params(sink, 200000);
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec - start.tv_sec +
		    (now.tv_nsec - start.tv_nsec) / 1e9 >= seconds)
			break;
	}
	printf("names: done %ld\n", sink);
	return 0;
}

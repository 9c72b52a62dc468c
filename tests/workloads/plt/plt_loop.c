/*
 * plt_loop SECONDS - calls plt_leaf, in libpltleaf.so, through its PLT stub
 * in a loop for SECONDS, then exits 0. Built with clang (tests/CMakeLists.txt),
 * as issue 9 met it: a sample in the stub must keep its callers,
 * plt_loop_call and main. alarm(SECONDS + 2) ends it if it ever hangs.
 *
 * A timer interrupt is taken after the instruction it waited for retires, so
 * a sample lands on the instruction after a slow one. In a plain loop of
 * calls the stub's one `jmp *GOT` is rarely that: 10% of the samples here,
 * 1 in 1,000 on CI's host. So each turn also calls the stub through a
 * pointer whose cache line was just flushed: that `call *ptr` waits for
 * memory, and the interrupt then finds the thread at the stub's first
 * instruction, on any host (97% of the samples here).
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

int plt_leaf(int x);

static volatile int sink;
static int (*leaf_stub)(int);	/* plt_leaf@plt's address, set by main */

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

__attribute__((noinline)) static int plt_loop_call(long n)
{
	int a = 0;

	for (long i = 0; i < n; i++) {
		a = plt_leaf(a);
		__asm__ volatile("clflush %0" : : "m"(leaf_stub));
		a = leaf_stub(a);
	}
	return a;
}

int main(int argc, char **argv)
{
	double seconds = argc > 1 ? atof(argv[1]) : 5.0;
	double end;

	if (seconds <= 0) {
		fprintf(stderr, "usage: %s SECONDS\n", argv[0]);
		return 2;
	}
	alarm((unsigned)seconds + 2);
	/* The stub itself, not the function: a PLT32 reference, as a call's. */
	__asm__("leaq plt_leaf@PLT(%%rip), %0" : "=r"(leaf_stub));
	end = now() + seconds;
	while (now() < end)
		sink += plt_loop_call(1000000);
	return 0;
}

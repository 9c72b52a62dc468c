/*
 * plt_loop SECONDS - calls plt_leaf, in libpltleaf.so, through its PLT stub
 * in a loop for SECONDS, then exits 0. Built with clang (tests/CMakeLists.txt),
 * as issue 9 met it: a sample in the stub must keep its callers,
 * plt_loop_call and main. alarm(SECONDS + 2) ends it if it ever hangs.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

int plt_leaf(int x);

static volatile int sink;

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

__attribute__((noinline)) static int plt_loop_call(long n)
{
	int a = 0;

	for (long i = 0; i < n; i++)
		a = plt_leaf(a);
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
	end = now() + seconds;
	while (now() < end)
		sink += plt_loop_call(1000000);
	return 0;
}

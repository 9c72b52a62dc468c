/*
 * deepstack SECONDS - burns CPU in deep_leaf, 24 calls of deep_frame
 * below main, each with 4 KiB of locals: ~100 KiB of stack, more than the
 * largest user-stack copy perf can take (65528 bytes), so every DWARF-unwound
 * sample is truncated whatever --stack-size says. Exits 0 after SECONDS;
 * alarm(SECONDS + 2) ends it if it hangs.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define DEPTH 24

static double end;
static volatile double sink;

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

__attribute__((noinline)) static double deep_leaf(double x)
{
	for (int i = 0; i < 20000; i++)
		x = x * 1.0000001 + 1e-9;
	return x;
}

__attribute__((noinline)) static double deep_frame(int depth, double x)
{
	volatile char pad[4096];

	memset((char *)pad, depth, sizeof(pad));
	if (depth == 0) {
		while (now() < end)
			x = deep_leaf(x);
		return x + pad[100];
	}
	return deep_frame(depth - 1, x) + pad[depth];
}

int main(int argc, char **argv)
{
	double seconds = argc > 1 ? atof(argv[1]) : 10.0;

	if (seconds <= 0) {
		fprintf(stderr, "usage: %s SECONDS\n", argv[0]);
		return 2;
	}
	alarm((unsigned)seconds + 2);
	end = now() + seconds;
	sink = deep_frame(DEPTH, 1.0);
	return 0;
}

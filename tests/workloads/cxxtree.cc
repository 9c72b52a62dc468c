// cxxtree.cc - C++ names for the demangling test: a function template
// member of a class template in a namespace, and an overloaded free
// function, each noinline and each doing a known share of the work.
//
// Usage: cxxtree [SECONDS]  (default 10; alarm() is the safety net)
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <unistd.h>

namespace shapes {

template <typename T>
struct Tree {
	T seed;
	__attribute__((noinline)) T walk(int rounds);
};

template <typename T>
__attribute__((noinline)) T Tree<T>::walk(int rounds)
{
	T acc = seed;
	for (int i = 0; i < rounds; i++)
		acc = acc * (T)31 + (T)i;
	asm volatile("" : "+r"(acc));
	return acc;
}

__attribute__((noinline)) long churn(long x, int rounds)
{
	for (int i = 0; i < rounds; i++)
		x ^= x << 7, x ^= x >> 9;
	asm volatile("" : "+r"(x));
	return x;
}

__attribute__((noinline)) double churn(double x, int rounds)
{
	for (int i = 0; i < rounds; i++)
		x = x * 1.0000001 + 0.5;
	asm volatile("" : "+x"(x));
	return x;
}

} // namespace shapes

static volatile sig_atomic_t done;

static void on_alarm(int) { done = 1; }

int main(int argc, char **argv)
{
	double seconds = argc > 1 ? atof(argv[1]) : 10;
	signal(SIGALRM, on_alarm);
	alarm((unsigned)seconds + 2);
	struct timespec start, now;
	clock_gettime(CLOCK_MONOTONIC, &start);
	shapes::Tree<long> tree{3};
	long sink = 0;
	double dsink = 1;
	while (!done) {
		sink += tree.walk(200000);
		sink += shapes::churn(sink | 1, 100000);
		dsink = shapes::churn(dsink, 100000);
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec - start.tv_sec + (now.tv_nsec - start.tv_nsec) / 1e9 >= seconds)
			break;
	}
	printf("cxxtree: done %ld %g\n", sink, dsink);
	return 0;
}

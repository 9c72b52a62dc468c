/*
 * replaced_lib.c - the shared library tests/workloads/replaced.c loads,
 * built three ways from this one source (tests/CMakeLists.txt):
 *
 *   libreplaced_a.so      the one loaded;
 *   libreplaced_b.so      other code (REPLACED_VARIANT_B): two pages of
 *                         code with a frame of their own in front, so that
 *                         b's CFI and symbols at a's addresses say
 *                         something else; the tests rename it over a's
 *                         path while a runs, as a package upgrade does;
 *   libreplaced_nocfi.so  no .eh_frame for its functions, only
 *                         .debug_frame, which is not loaded: its callers
 *                         can only be found through the file.
 *
 * Every function is exported (eu-stack names them even from memory, where
 * there is no .symtab) and keeps a frame of its own size with work after
 * its call, so that unwinding through it needs its CFI:
 *
 *   rl_park_thread > rl_park_a > rl_park_b > rl_park_c > nanosleep
 *   rl_spin_a > rl_spin_b > rl_spin_c (a loop without calls)
 */
#include <time.h>

#define EXPORT __attribute__((noinline, visibility("default")))

volatile unsigned long rl_sink;

#ifdef REPLACED_VARIANT_B
/* Never called: moves every function below by two pages, and covers a's
 * addresses with CFI of another frame size. */
EXPORT void rl_padding(void)
{
	volatile char buf[3000];

	buf[0] = 1;
	__asm__ volatile(".fill 8192, 1, 0x90");
	rl_sink += buf[0];
}
#endif

EXPORT void rl_park_c(void)
{
	volatile char buf[48];

	buf[0] = 1;
	for (;;) {
		struct timespec ts = { 100, 0 };
		nanosleep(&ts, NULL);
		rl_sink += buf[0];
	}
}

EXPORT void rl_park_b(void)
{
	volatile char buf[160];

	buf[0] = 2;
	rl_park_c();
	rl_sink += buf[0];
}

EXPORT void rl_park_a(void)
{
	volatile char buf[304];

	buf[0] = 3;
	rl_park_b();
	rl_sink += buf[0];
}

EXPORT void *rl_park_thread(void *arg)
{
	volatile char buf[96];

	buf[0] = 4;
	rl_park_a();
	rl_sink += buf[0];
	return arg;
}

EXPORT void rl_spin_c(void)
{
	volatile char buf[80];

	buf[0] = 5;
	for (;;)
		rl_sink += buf[0];
}

EXPORT void rl_spin_b(void)
{
	volatile char buf[224];

	buf[0] = 6;
	rl_spin_c();
	rl_sink += buf[0];
}

EXPORT void rl_spin_a(void)
{
	volatile char buf[400];

	buf[0] = 7;
	rl_spin_b();
	rl_sink += buf[0];
}

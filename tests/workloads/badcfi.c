/*
 * badcfi SECONDS - spins for SECONDS, about half of the time in
 * badcfi_spin, a function whose CFI computes the CFA from a register that a
 * sampled stack does not carry (DWARF register 17, %xmm0), so that no
 * unwinder can find its caller; the other half in good_spin, which unwinds
 * to main. libdw ends a walk there without an error (as it did for PLT
 * stubs before their CFA expression got %rip): cprof must count those
 * stacks as unwind failures, and only those. alarm(SECONDS + 2) ends it if
 * it ever hangs.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

long badcfi_spin(long n);

/* DW_CFA_def_cfa_expression (0x0f), 2 bytes: DW_OP_breg17 (0x81) 0. */
__asm__(".text\n"
	".globl badcfi_spin\n"
	".type badcfi_spin, @function\n"
	"badcfi_spin:\n"
	".cfi_startproc\n"
	".cfi_escape 0x0f, 0x02, 0x81, 0x00\n"
	"	mov %rdi, %rax\n"
	"1:	dec %rax\n"
	"	jnz 1b\n"
	"	ret\n"
	".cfi_endproc\n"
	".size badcfi_spin, .-badcfi_spin\n");

static volatile long sink;

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

__attribute__((noinline)) static long good_spin(long n)
{
	long x = 0;

	for (long i = 0; i < n; i++)
		x = x * 3 + i;
	return x;
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
	while (now() < end) {
		sink += badcfi_spin(20000000);
		sink += good_spin(10000000);
	}
	return 0;
}

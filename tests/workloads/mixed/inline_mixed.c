/*
 * inline_mixed.c - main of inline_mixed: this file is built by gcc, which
 * writes .debug_aranges, and linked after inline.c built by clang, which
 * does not (its main renamed inline_main). The program's aranges then miss
 * one of its two units, whose code lies between this unit's two ranges
 * (main in .text.startup, run in .text): libdwfl takes an address there for
 * this unit's (docs/design.md §4.2).
 *
 * Usage: inline_mixed [SECONDS]   (as inline.c: ends by itself)
 */
int inline_main(int argc, char **argv);

__attribute__((noinline)) int run(int argc, char **argv)
{
	int r = inline_main(argc, argv);

	__asm__ volatile("" ::: "memory");	/* no tail call */
	return r;
}

int main(int argc, char **argv)
{
	return run(argc, argv);
}

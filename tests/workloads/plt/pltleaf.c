/*
 * pltleaf.c - libpltleaf.so, the shared library of plt_loop: one tiny
 * function, so that a good share of plt_loop's samples land in the PLT
 * stub that calls it.
 */
int plt_leaf(int x);

int plt_leaf(int x)
{
	return x * 3 + 1;
}

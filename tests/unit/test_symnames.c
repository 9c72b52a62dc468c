/* test_symnames.c - the bounded name cache of /debug/pprof/symbol: it never
 * holds more than its capacity, drops the least recently used name first,
 * keeps no unknown address, and leaves the symbolizer's own cache alone. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "check.h"
#include "symbolize.h"
#include "symnames.h"

__attribute__((noinline)) int f_alpha(int x) { return x * 3 + 1; }
__attribute__((noinline)) int f_beta(int x) { return x * 5 + 2; }
__attribute__((noinline)) int f_gamma(int x) { return x * 7 + 3; }
__attribute__((noinline)) int f_delta(int x) { return x * 11 + 4; }

int main(void)
{
	struct symbolizer *s = NULL;
	char err[256] = "";
	uint64_t fa = (uint64_t)(uintptr_t)f_alpha, fb = (uint64_t)(uintptr_t)f_beta;
	uint64_t fg = (uint64_t)(uintptr_t)f_gamma, fd = (uint64_t)(uintptr_t)f_delta;

	CHECK_INT(symbolizer_new(getpid(), false, &s, err, sizeof(err)), 0);
	if (!s) {
		fprintf(stderr, "symbolizer_new: %s\n", err);
		return check_done();
	}
	CHECK(symnames_new(0) == NULL);
	struct symnames *c = symnames_new(3);
	CHECK(c != NULL);
	if (!c)
		return check_done();

	CHECK_STR(symnames_get(c, s, fa), "f_alpha");
	CHECK_STR(symnames_get(c, s, fb), "f_beta");
	CHECK_STR(symnames_get(c, s, fg), "f_gamma");
	CHECK_INT(symnames_count(c), 3);
	CHECK_INT(symnames_hits(c), 0);
	/* alpha is now the most recent: beta is the oldest. */
	CHECK_STR(symnames_get(c, s, fa), "f_alpha");
	CHECK_INT(symnames_hits(c), 1);
	CHECK_STR(symnames_get(c, s, fd), "f_delta");
	CHECK_INT(symnames_count(c), 3);	/* never above its capacity */
	CHECK_STR(symnames_get(c, s, fa), "f_alpha");
	CHECK_INT(symnames_hits(c), 2);		/* kept */
	CHECK_STR(symnames_get(c, s, fb), "f_beta");
	CHECK_INT(symnames_hits(c), 2);		/* was evicted: looked up again */

	/* Unknown addresses name nothing and take no room, however many. */
	size_t before = symnames_count(c), hits = symnames_hits(c);
	for (uint64_t a = 0x10; a < 0x10 + 100000; a += 7)
		CHECK(symnames_get(c, s, a) == NULL);
	CHECK_INT(symnames_count(c), before);
	CHECK_INT(symnames_hits(c), hits);

	/* A bigger cache under many distinct known addresses stays at its
	 * capacity: every byte of f_alpha..f_delta is an address. */
	struct symnames *big = symnames_new(16);
	size_t named = 0;
	for (uint64_t a = fa; a < fa + 64; a++)
		named += symnames_get(big, s, a) != NULL;
	CHECK(named > 16);
	CHECK_INT(symnames_count(big), 16);
	symnames_clear(big);
	CHECK_INT(symnames_count(big), 0);
	CHECK_STR(symnames_get(big, s, fg), "f_gamma");
	CHECK_INT(symnames_count(big), 1);

	/* The symbolizer did not cache these lookups either: the cached
	 * lookup still works and gives the same name. */
	CHECK_STR(symbolizer_name(s, fd), "f_delta");
	CHECK_STR(symbolizer_name_uncached(s, fd), "f_delta");

	symnames_free(big);
	symnames_free(c);
	symbolizer_free(s);
	return check_done();
}

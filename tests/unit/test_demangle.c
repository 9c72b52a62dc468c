/*
 * test_demangle.c - names as perf and gdb show them (docs/design.md §4.1):
 * C++ with parameters, Rust legacy and v0 without hashes, ThinLTO's
 * ".llvm.N" and Go's ABI suffixes dropped, everything else left alone.
 */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "demangle.h"

/* demangle_name(raw) is want (NULL: shown as it is), with has_params. */
static void check_name(int line, const char *raw, const char *want,
		       bool want_params)
{
	bool params = !want_params;
	char *d = demangle_name(raw, &params);

	if (want ? d && strcmp(d, want) == 0 : d == NULL) {
		check_passed++;
	} else {
		check_failed++;
		fprintf(stderr, "%s:%d: demangle_name(\"%s\") == \"%s\", expected \"%s\"\n",
			__FILE__, line, raw, d ? d : "(null)", want ? want : "(null)");
	}
	if (params == want_params) {
		check_passed++;
	} else {
		check_failed++;
		fprintf(stderr, "%s:%d: has_params of \"%s\" is %d\n", __FILE__,
			line, raw, params);
	}
	free(d);
}
#define NAME(raw, want, params) check_name(__LINE__, raw, want, params)

static void test_cxx(void)
{
	/* As c++filt shows them (the strings libstdc++'s __cxa_demangle
	 * gave before: same demangler). */
	NAME("_ZN3foo3barEi", "foo::bar(int)", true);
	NAME("_ZN5names3cxx4spinEll", "names::cxx::spin(long, long)", true);
	NAME("_ZNKSt6vectorIiSaIiEE4sizeEv",
	     "std::vector<int, std::allocator<int> >::size() const", true);
	NAME("_ZN6shapes4TreeIlE4walkEi", "shapes::Tree<long>::walk(int)", true);
	/* GCC's clones keep their suffix, as perf and gdb show it. */
	NAME("_Z3foov.cold", "foo() [clone .cold]", true);
	NAME("_Z3fooi.constprop.0", "foo(int) [clone .constprop.0]", true);
	NAME("_ZThn8_N3Foo3barEv", "non-virtual thunk to Foo::bar()", true);
	/* No parameter list: data, vtables. */
	NAME("_ZN3foo3barE", "foo::bar", false);
	NAME("_ZTV3Foo", "vtable for Foo", false);
	NAME("_ZGVZ4mainE1x", "guard variable for main::x", false);
}

static void test_rust(void)
{
	/* Legacy: the hash dropped, $-escapes decoded, as perf report. */
	NAME("_ZN4core3fmt5write17h0123456789abcdefE", "core::fmt::write", false);
	NAME("_ZN66_$LT$alloc..vec..Vec$LT$T$GT$$u20$as$u20$core..ops..drop..Drop$GT$4drop17hfedcba9876543210E",
	     "<alloc::vec::Vec<T> as core::ops::drop::Drop>::drop", false);
	NAME("_ZN66_$LT$alloc..vec..Vec$LT$T$GT$$u20$as$u20$core..ops..drop..Drop$GT$4drop17hfedcba9876543210E.llvm.4711",
	     "<alloc::vec::Vec<T> as core::ops::drop::Drop>::drop", false);
	/* Not a hash (15 hex digits): C++, which it is not either. */
	NAME("_ZN4core3fmt5write17h0123456789abcdeE", NULL, false);
	/* v0: crate disambiguators dropped, generics shown. */
	NAME("_RNvNtCs1234_7mycrate5inner4spin", "mycrate::inner::spin", false);
	NAME("_RNvNtCs1234_7mycrate5inner4spin.llvm.99", "mycrate::inner::spin", false);
	NAME("_RINvNtC3std3mem8align_ofjE", "std::mem::align_of::<usize>", false);
	NAME("_RNvCs15kBYyAo9fc_7mycrate7example", "mycrate::example", false);
	NAME("_Rbogus", NULL, false);
}

static void test_suffixes(void)
{
	/* ThinLTO's promoted locals, whatever the language. */
	NAME("cfunc.llvm.77", "cfunc", false);
	NAME("_Z3foov.llvm.123", "foo()", true);
	NAME("foo.llvm.", NULL, false);		/* no digits: not LLVM's */
	NAME("foo.llvm.12a", NULL, false);
	NAME(".llvm.12", NULL, false);		/* nothing left */
	/* Go's ABI wrappers. */
	NAME("main.spinAsm.abi0", "main.spinAsm", false);
	NAME("runtime.memmove.abiinternal", "runtime.memmove", false);
	NAME("internal/bytealg.IndexByteString.abi0",
	     "internal/bytealg.IndexByteString", false);
	NAME(".abi0", NULL, false);
	NAME("foo.abi01", NULL, false);
	/* GCC's clone suffixes on C names stay: they are other code. */
	NAME("foo.constprop.0", NULL, false);
	NAME("foo.cold", NULL, false);
}

static void test_plain_and_bad(void)
{
	bool params = true;

	NAME("main", NULL, false);
	NAME("", NULL, false);
	NAME("_Z", NULL, false);
	NAME("_Znotvalid!", NULL, false);
	NAME("_GLOBAL__sub_I_main", NULL, false);
	CHECK(demangle_name(NULL, &params) == NULL);
	CHECK(!params);
	CHECK(demangle_name("main", NULL) == NULL);

	/* A symbol table is untrusted: a name nested past any real one
	 * must come back (demangled or not), not overflow the stack. */
	size_t n = 200000;
	char *deep = malloc(n + 16);
	if (!deep)
		return;
	memcpy(deep, "_Z1fI", 5);
	memset(deep + 5, 'P', n);
	memcpy(deep + 5 + n, "iEv", 4);
	char *d = demangle_name(deep, &params);
	CHECK(d == NULL || strlen(d) > 0);
	free(d);
	memcpy(deep, "_RNv", 4);
	memset(deep + 4, 'N', n);
	deep[4 + n] = '\0';
	d = demangle_name(deep, NULL);
	CHECK(d == NULL);
	free(deep);
}

int main(void)
{
	test_cxx();
	test_rust();
	test_suffixes();
	test_plain_and_bad();
	return check_done();
}

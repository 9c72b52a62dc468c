/*
 * blob.ld.S - the layout of the heap sampler blob (heapabi.h), run through
 * the C preprocessor for layout.h's numbers. Linked at 0, so an address
 * here is an offset from the base the blob is mapped at:
 *
 *   0                  struct heapabi_blob_header, written here
 *   after it           the code (hooks first), read-only data
 *   HB_CODE_SIZE       heapblob_shared: struct heapabi_shared (not in the
 *                      image: the injector maps the memfd's pages there)
 *   + HB_SHARED_SIZE   heapblob_priv: struct heapabi_private (anonymous)
 *
 * The code reaches heapblob_shared and heapblob_priv PC-relative. The
 * image must need no relocation and hold no writable data (its pages are
 * mapped read and execute only): cmake/heapblob_check.cmake fails the
 * build otherwise.
 */
#include "layout.h"

ENTRY(hb_hook_malloc)

SECTIONS
{
	. = 0;
	.header : {
		QUAD(HB_MAGIC)
		LONG(HB_VERSION)
		LONG(hb_code_end)
		LONG(HB_SHARED_SIZE)
		LONG(HB_PRIV_SIZE)
		/* hook_off[], in enum heapabi_func order */
		LONG(hb_hook_malloc)
		LONG(hb_hook_free)
		LONG(hb_hook_calloc)
		LONG(hb_hook_realloc)
		LONG(hb_hook_reallocarray)
		LONG(hb_hook_posix_memalign)
		LONG(hb_hook_aligned_alloc)
		LONG(hb_hook_memalign)
		LONG(hb_hook_valloc)
		LONG(hb_hook_pvalloc)
		LONG(hb_text_start)
		LONG(hb_text_end)
	}
	.text ALIGN(16) : {
		*(.text.hb_hooks)
		*(.text .text.*)
		hb_text_end = .;
	}
	.rodata : { *(.rodata .rodata.*) }
	/* Must stay empty (checked): nothing in the code pages is writable. */
	.data : { *(.data .data.* .bss .bss.* COMMON .got .got.plt .data.rel.ro*) }
	hb_code_end = .;
	ASSERT(hb_code_end <= HB_CODE_SIZE, "the heap blob exceeds HEAPABI_CODE_SIZE")
	ASSERT(SIZEOF(.data) == 0, "the heap blob has writable data")

	. = HB_CODE_SIZE;
	.shared (NOLOAD) : { heapblob_shared = .; . += HB_SHARED_SIZE; }
	.priv (NOLOAD) : {
		heapblob_priv = .;
		heapblob_groups = heapblob_priv + HB_PRIV_GROUPS;
		. += HB_PRIV_SIZE;
	}

	/DISCARD/ : { *(.dynsym .dynstr .gnu.hash .hash .dynamic .interp) *(.comment) *(.note .note.*) *(.eh_frame .eh_frame_hdr) }
}

/*
 * heapblob.h - the heap sampler injected into targets (src/heapblob/,
 * docs/design.md §12.1), as the flat image the build made of it: a struct
 * heapabi_blob_header at offset 0, then position-independent code with no
 * relocation. The injector writes these bytes at offset 0 of the memfd it
 * maps at the base of the HEAPABI_TOTAL_SIZE range (heapabi.h).
 */
#ifndef CPROF_HEAPBLOB_H
#define CPROF_HEAPBLOB_H

#include <stddef.h>

extern const unsigned char heapblob_image[];	/* heapblob_image_len bytes */
extern const size_t heapblob_image_len;		/* <= HEAPABI_CODE_SIZE */

#endif

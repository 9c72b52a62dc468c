/*
 * heapblob_map.h - maps the heap sampler blob (src/heapblob.h) into the
 * calling process the way the injector maps it into a target (heapabi.h,
 * HEAP.md): one reservation of HEAPABI_TOTAL_SIZE; the code from a memfd
 * at offset 0, read-execute, MAP_SHARED; the shared area from the same
 * memfd at HEAPABI_CODE_SIZE, MAP_SHARED; the private area anonymous.
 * cprof's view of the shared area is a second mapping of the memfd, at
 * another address, as cprof opens /proc/PID/fd/N. For tests/unit and
 * bench/, not for cprof.
 */
#ifndef CPROF_HEAPBLOB_MAP_H
#define CPROF_HEAPBLOB_MAP_H

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "heapabi.h"
#include "heapblob.h"

struct hb_map {
	int fd;
	uint8_t *base;
	const struct heapabi_blob_header *hdr;
	struct heapabi_shared *sh;	/* the hooks' view */
	struct heapabi_shared *cprof;	/* a second mapping: cprof's view */
	struct heapabi_private *priv;
	void *hook[HEAPABI_NFUNCS];
};

static int hb_map_blob(struct hb_map *m)
{
	memset(m, 0, sizeof(*m));
	m->fd = memfd_create(HEAPABI_MEMFD_NAME, MFD_CLOEXEC | 0x10 /* MFD_EXEC */);
	if (m->fd < 0 && errno == EINVAL)
		m->fd = memfd_create(HEAPABI_MEMFD_NAME, MFD_CLOEXEC);
	if (m->fd < 0)
		return -errno;
	if (ftruncate(m->fd, HEAPABI_CODE_SIZE + HEAPABI_SHARED_SIZE) != 0)
		return -errno;
	if (pwrite(m->fd, heapblob_image, heapblob_image_len, 0) != (ssize_t)heapblob_image_len)
		return -EIO;
	void *res = mmap(NULL, HEAPABI_TOTAL_SIZE, PROT_NONE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (res == MAP_FAILED)
		return -errno;
	m->base = res;
	if (mmap(m->base, HEAPABI_CODE_SIZE, PROT_READ | PROT_EXEC,
		 MAP_SHARED | MAP_FIXED, m->fd, 0) == MAP_FAILED ||
	    mmap(m->base + HEAPABI_CODE_SIZE, HEAPABI_SHARED_SIZE, PROT_READ | PROT_WRITE,
		 MAP_SHARED | MAP_FIXED, m->fd, HEAPABI_CODE_SIZE) == MAP_FAILED ||
	    mmap(m->base + HEAPABI_CODE_SIZE + HEAPABI_SHARED_SIZE, HEAPABI_PRIV_SIZE,
		 PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED,
		 -1, 0) == MAP_FAILED)
		return -errno;
	void *cp = mmap(NULL, HEAPABI_SHARED_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED,
			m->fd, HEAPABI_CODE_SIZE);
	if (cp == MAP_FAILED)
		return -errno;
	m->cprof = cp;
	m->hdr = (const void *)m->base;
	m->sh = (void *)(m->base + HEAPABI_CODE_SIZE);
	m->priv = (void *)(m->base + HEAPABI_CODE_SIZE + HEAPABI_SHARED_SIZE);
	for (unsigned f = 0; f < HEAPABI_NFUNCS; f++)
		m->hook[f] = m->base + m->hdr->hook_off[f];
	return 0;
}

static void hb_unmap_blob(struct hb_map *m)
{
	if (m->cprof)
		munmap(m->cprof, HEAPABI_SHARED_SIZE);
	if (m->base)
		munmap(m->base, HEAPABI_TOTAL_SIZE);
	if (m->fd >= 0)
		close(m->fd);
}

#endif

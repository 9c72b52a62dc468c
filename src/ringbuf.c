/* src/ringbuf.c - not written yet. */
#include <errno.h>

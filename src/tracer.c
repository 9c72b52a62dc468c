/* src/tracer.c - not written yet. */
#include <errno.h>

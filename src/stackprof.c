/* src/stackprof.c - not written yet. */
#include <errno.h>

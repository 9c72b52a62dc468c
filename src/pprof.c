/* src/pprof.c - not written yet. */
#include <errno.h>

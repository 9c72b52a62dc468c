/* src/procfs.c - not written yet. */
#include <errno.h>

/* src/unwind.c - not written yet. */
#include <errno.h>

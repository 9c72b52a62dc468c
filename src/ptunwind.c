/* src/ptunwind.c - not written yet. */
#include <errno.h>

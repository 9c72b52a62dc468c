/* src/threads.c - not written yet. */
#include <errno.h>

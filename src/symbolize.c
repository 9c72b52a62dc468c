/* src/symbolize.c - not written yet. */
#include <errno.h>

/* src/record.c - not written yet. */
#include <errno.h>

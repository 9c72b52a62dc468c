/* src/profile.c - not written yet. */
#include <errno.h>

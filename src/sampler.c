/* src/sampler.c - not written yet. */
#include <errno.h>

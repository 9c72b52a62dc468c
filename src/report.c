/* src/report.c - not written yet. */
#include <errno.h>

/* src/http.c - not written yet. */
#include <errno.h>

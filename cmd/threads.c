/* cmd/threads.c - `cprof threads` (not written yet). */
#include <stdio.h>
#include "cmd.h"

int cmd_threads(int argc, char **argv)
{
	cli_error("'threads' is not implemented yet");
	return CPROF_EXIT_USAGE;
}

/* cmd/serve.c - `cprof serve` (not written yet). */
#include <stdio.h>
#include "cmd.h"

int cmd_serve(int argc, char **argv)
{
	cli_error("'serve' is not implemented yet");
	return CPROF_EXIT_USAGE;
}

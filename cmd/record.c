/* cmd/record.c - `cprof record` (not written yet). */
#include "cmd.h"

int cmd_record(int argc, char **argv)
{
	cli_error("'record' is not implemented yet");
	return CPROF_EXIT_USAGE;
}

/* cmd/report.c - `cprof report` (not written yet). */
#include "cmd.h"

int cmd_report(int argc, char **argv)
{
	cli_error("'report' is not implemented yet");
	return CPROF_EXIT_USAGE;
}

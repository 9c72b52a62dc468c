/*
 * serve_cli.h - the parsed command line of `cprof serve`, separate from
 * running the server so the unit tests can check the parser alone.
 */
#ifndef CPROF_SERVE_CLI_H
#define CPROF_SERVE_CLI_H

#include <stdbool.h>
#include <sys/types.h>
#include "http.h"

struct serve_cli {
	pid_t pid;
	char host[256];			/* of --http; "" when omitted */
	struct http_opts http;		/* host points into host[] above:
					 * do not copy the struct apart */
	char token[256];		/* of --auth-token-file */
	bool quiet;
	bool help;
	const char *run_as;		/* --run-as USER, or NULL */
};

/* Parses argv (argv[0] is "serve"). Prints the error and a hint and
 * returns -1 on bad input; 0 otherwise (cli->help set for --help). The
 * callbacks of cli->http are left NULL. */
int serve_cli_parse(int argc, char **argv, struct serve_cli *cli);

#endif

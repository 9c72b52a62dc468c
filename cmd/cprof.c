/*
 * cprof.c - main: the table of subcommands and what every one of them shares
 * (version, help, checking that stdout was written out).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "cmd.h"

struct command {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *summary;
};

/* Sorted by name. */
static const struct command commands[] = {
	{ "record",  cmd_record,  "sample a process's CPU use, or its waits, into a pprof profile" },
	{ "trace",   cmd_record,  "record a timeline of a process's threads (Chrome trace JSON)" },
	{ "report",  cmd_report,  "print a pprof profile's top functions, or write its flame graph" },
	{ "serve",   cmd_serve,   "serve /debug/pprof/ endpoints for a process over HTTP" },
	{ "threads", cmd_threads, "print the stack of every thread of a process" },
	{ "top",     cmd_top,     "a live view of the functions a process spends its time in" },
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: cprof [--version] [--help] COMMAND [ARGS...]\n"
		"\n"
		"A sampling profiler for native Linux processes: CPU profiles and\n"
		"thread dumps of a running PID, written as pprof profiles.\n"
		"\n"
		"commands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %-9s %s\n", commands[i].name, commands[i].summary);
	fprintf(f,
		"\n"
		"examples:\n"
		"  cprof record -p 1234 --seconds 10 -o cpu.pprof\n"
		"  cprof record -- ./myprogram arg1 arg2\n"
		"  cprof report cpu.pprof\n"
		"  cprof threads -p 1234\n"
		"  cprof serve -p 1234 --http :8080\n"
		"  cprof top -p 1234\n"
		"\n"
		"'cprof COMMAND --help' describes each command; see also cprof(1).\n");
}

/* Writing to a closed pipe or a full disk must not pass for success. */
static int finish_stdout(int status)
{
	if (fflush(stdout) != 0 || ferror(stdout)) {
		if (errno != EPIPE)
			cli_error("cannot write to standard output: %s", strerror(errno));
		return status ? status : CPROF_EXIT_FATAL;
	}
	return status;
}

/* Process-wide settings the library leaves to its program. */
static void setup_process(void)
{
	struct rlimit rl;

	/* libdwfl asks the debuginfod servers listed in DEBUGINFOD_URLS for
	 * every module without local debug information, and can block on
	 * network time-outs (elfutils libdwfl/debuginfod-client.c): cprof reads
	 * local files only. libdebuginfod reads the variable when it queries,
	 * so removing it before any symbolizer exists stops the queries (the
	 * symbolizer also keeps libdwfl from making a client at all,
	 * docs/design.md §4). */
	unsetenv("DEBUGINFOD_URLS");
	/* Sampling takes one fd per thread and CPU: the usual soft limit of
	 * 1024 is reached at ~500 threads on 2 CPUs (EMFILE). */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

int main(int argc, char **argv)
{
	setup_process();
	if (argc < 2) {
		usage(stderr);
		return CPROF_EXIT_USAGE;
	}
	const char *name = argv[1];
	if (!strcmp(name, "--help") || !strcmp(name, "-h") || !strcmp(name, "help")) {
		usage(stdout);
		return finish_stdout(CPROF_EXIT_OK);
	}
	if (!strcmp(name, "--version") || !strcmp(name, "-V")) {
		printf("cprof %s\n", CPROF_VERSION);
		return finish_stdout(CPROF_EXIT_OK);
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (!strcmp(name, commands[i].name)) {
			int status = commands[i].fn(argc - 1, argv + 1);
			return finish_stdout(status);
		}
	}
	cli_error("'%s' is not a cprof command", name);
	cli_hint("the commands are record, report, serve, threads, top and trace; see 'cprof --help'");
	return CPROF_EXIT_USAGE;
}

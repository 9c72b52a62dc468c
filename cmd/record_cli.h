/*
 * record_cli.h - the parsed command line of `cprof record`, separate from
 * running it so the unit tests can check the parser alone.
 */
#ifndef CPROF_RECORD_CLI_H
#define CPROF_RECORD_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "cmd.h"
#include "record.h"
#include "sampler.h"

#define RECORD_DEFAULT_SECONDS 30.0
/* 99 Hz, not 100, so sampling does not run in lock-step with work that is
 * itself timed in round milliseconds. */
#define RECORD_DEFAULT_FREQ 99u
#define RECORD_DEFAULT_OUTPUT "cpu.pprof"
/* perf's default. Every sample carries the whole copy whatever the stack's
 * depth, so this sets the data rate: 8 KiB at 999 Hz is 8 MB/s per CPU. */
#define RECORD_DEFAULT_STACK_SIZE 8192u
/* sample_stack_user is a u32 that the kernel wants below 65536 and a
 * multiple of 8 (perf_event_open(2)). */
#define RECORD_MAX_STACK_SIZE 65528u

struct record_cli {
	pid_t pid;
	enum record_profile profile;	/* --profile, default cpu;
					 * RECORD_TRACE for `cprof trace` */
	double seconds;			/* 0 with a command: until it exits */
	unsigned freq;
	const char *output;
	enum cli_format format;		/* --format, else from -o's name:
					 * pprof, html or folded */
	enum sampler_callgraph callgraph;
	uint32_t stack_size;
	bool kernel;
	bool system_lines;
	bool children;			/* default: on with a command, off
					 * with -p */
	bool quiet;
	bool help;
	uint64_t rate;			/* --rate: heap and allocs, bytes
					 * between samples (RECORD_HEAP_RATE) */
	enum record_heap_method method;	/* --method */
	bool heap_option;		/* --rate or --method given */
	char **command;			/* NULL with -p */
	size_t ncommand;
};

/* Parses argv (argv[0] is "record"). Prints the error and a hint and
 * returns -1 on bad input; 0 otherwise (cli->help set for --help). */
int record_cli_parse(int argc, char **argv, struct record_cli *cli);

#endif

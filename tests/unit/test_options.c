/*
 * test_options.c - `cprof record` and `cprof serve` command-line parsing:
 * defaults, every option, and each rejected input (the parser prints its
 * message to stderr, which ctest shows on failure).
 */
#include <stdio.h>
#include <unistd.h>

#include "check.h"
#include "record_cli.h"
#include "serve_cli.h"
#include "threads.h"

static int parse(struct record_cli *cli, int argc, char **argv)
{
	return record_cli_parse(argc, argv, cli);
}

#define ARGS(...) (char *[]){ "record", __VA_ARGS__, NULL }
#define NARGS(...) ((int)(sizeof((char *[]){ "record", __VA_ARGS__ }) / sizeof(char *)))
#define PARSE(cli, ...) parse(cli, NARGS(__VA_ARGS__), ARGS(__VA_ARGS__))

static void test_defaults(void)
{
	struct record_cli cli;
	CHECK_INT(PARSE(&cli, "-p", "1234"), 0);
	CHECK_INT(cli.pid, 1234);
	CHECK(cli.seconds == 30.0);
	CHECK_INT(cli.freq, 99);
	CHECK_STR(cli.output, "cpu.pprof");
	CHECK_INT(cli.callgraph, SAMPLER_CG_DWARF);
	CHECK_INT(cli.stack_size, 8192);
	CHECK(cli.kernel);
	CHECK(!cli.system_lines);
	CHECK(!cli.quiet);
	CHECK(!cli.children);	/* a running process alone */
	CHECK(cli.command == NULL);
}

static void test_all_options(void)
{
	struct record_cli cli;
	CHECK_INT(PARSE(&cli, "--pid", "7", "--seconds", "2.5", "-F", "999", "-o", "x.pprof",
			"--call-graph", "fp", "--stack-size", "32768", "--no-kernel", "-q",
			"--system-lines"), 0);
	CHECK_INT(cli.pid, 7);
	CHECK(cli.seconds == 2.5);
	CHECK_INT(cli.freq, 999);
	CHECK_STR(cli.output, "x.pprof");
	CHECK_INT(cli.callgraph, SAMPLER_CG_FP);
	CHECK_INT(cli.stack_size, 32768);
	CHECK(!cli.kernel);
	CHECK(cli.quiet);
	CHECK(cli.system_lines);
}

static void test_command(void)
{
	struct record_cli cli;
	/* cli.command points into argv: keep it alive past each CHECK. */
	char *with_dashes[] = { "record", "-F", "49", "--", "sleep", "-x", "1", NULL };
	char *without[] = { "record", "./prog", "-p", "3", NULL };
	CHECK_INT(parse(&cli, 7, with_dashes), 0);
	CHECK_INT(cli.ncommand, 3);
	CHECK_STR(cli.command[0], "sleep");
	CHECK_STR(cli.command[1], "-x");	/* the command's own options */
	CHECK(cli.seconds == 0);		/* until the command exits */
	CHECK(cli.children);			/* a command's children too */
	/* Without "--", parsing stops at the first non-option too. */
	CHECK_INT(parse(&cli, 4, without), 0);
	CHECK_INT(cli.ncommand, 3);
	CHECK_INT(cli.pid, 0);
}

static void test_children(void)
{
	struct record_cli cli;
	char *cmd_off[] = { "record", "--no-children", "--", "make", NULL };
	char *last_wins[] = { "record", "--no-children", "--children", "--", "make", NULL };

	CHECK_INT(PARSE(&cli, "-p", "1", "--children"), 0);
	CHECK(cli.children);
	CHECK_INT(PARSE(&cli, "-p", "1", "--children", "--no-children"), 0);
	CHECK(!cli.children);
	CHECK_INT(parse(&cli, 4, cmd_off), 0);
	CHECK(!cli.children);
	CHECK_INT(parse(&cli, 5, last_wins), 0);
	CHECK(cli.children);
}

static void test_rejected(void)
{
	struct record_cli cli;
	CHECK_INT(PARSE(&cli, "-p", "1", "--seconds", "0"), -1);
	CHECK_INT(PARSE(&cli, "-p", "1", "--seconds", "-1"), -1);
	CHECK_INT(PARSE(&cli, "-p", "1", "--seconds", "abc"), -1);
	CHECK_INT(PARSE(&cli, "-p", "1", "--seconds", "inf"), -1);
	CHECK_INT(PARSE(&cli, "-p", "1", "-F", "0"), -1);
	CHECK_INT(PARSE(&cli, "-p", "1", "-F", "-5"), -1);
	CHECK_INT(PARSE(&cli, "-p", "1", "-F", "99x"), -1);
	CHECK_INT(PARSE(&cli, "-p", "1", "-F", "100000000"), -1);	/* over the sysctl */
	CHECK_INT(PARSE(&cli, "-p", "abc"), -1);
	CHECK_INT(PARSE(&cli, "-p", "0"), -1);
	CHECK_INT(PARSE(&cli, "-p", "-3"), -1);
	CHECK_INT(PARSE(&cli, "-p", "1", "--call-graph", "lbr"), -1);
	CHECK_INT(PARSE(&cli, "-p", "1", "--stack-size", "100"), -1);	/* not a multiple of 8 */
	CHECK_INT(PARSE(&cli, "-p", "1", "--stack-size", "65536"), -1);
	CHECK_INT(PARSE(&cli, "-p", "1", "-o", ""), -1);
	CHECK_INT(PARSE(&cli, "-p", "1", "--bogus"), -1);
	CHECK_INT(PARSE(&cli, "-p", "1", "-Z"), -1);
	CHECK_INT(PARSE(&cli, "-p"), -1);				/* missing value */
	CHECK_INT(PARSE(&cli, "-p", "1", "--", "true"), -1);		/* both */
	CHECK_INT(PARSE(&cli, "-q"), -1);				/* neither */
}

static void test_help(void)
{
	struct record_cli cli;
	CHECK_INT(PARSE(&cli, "--help"), 0);
	CHECK(cli.help);
	CHECK_INT(PARSE(&cli, "-h"), 0);
	CHECK(cli.help);
}

/* serve's thread dumps are made as `cprof threads` makes them: the same
 * unwinder (it used libunwind while threads defaulted to libdw) and depth. */
static void test_serve(void)
{
	char *args[] = { "serve", "-p", "4321", "--http", ":0", "-F", "49", NULL };
	char *bad[] = { "serve", "--http", ":0", NULL };
	struct serve_cli cli;

	CHECK_INT(serve_cli_parse(7, args, &cli), 0);
	CHECK_INT(cli.pid, 4321);
	CHECK_INT(cli.http.pid, 4321);
	CHECK_STR(cli.http.host, "");
	CHECK_INT(cli.http.port, 0);
	CHECK_INT(cli.http.record.freq, 49);
	CHECK_INT(cli.http.record.stack_size, RECORD_DEFAULT_STACK_SIZE);
	CHECK_INT(cli.http.threads.unwinder, THREADS_UNWIND_LIBDW);
	CHECK_INT(cli.http.threads.unwinder, threads_defaults.unwinder);
	CHECK_INT(cli.http.threads.max_frames, threads_defaults.max_frames);
	CHECK_INT(serve_cli_parse(3, bad, &cli), -1);

	char *all[] = { "serve", "--all", "--match", "nginx|pg", "--user", "0", "--cgroup",
			"/system.slice", "--http", "unix:/run/c.sock", "--header-timeout", "3",
			"--max-clients", "100", "--max-clients-per-ip", "7", NULL };
	CHECK_INT(serve_cli_parse(16, all, &cli), 0);
	CHECK(cli.http.all);
	CHECK_INT(cli.http.pid, 0);
	CHECK_STR(cli.http.match, "nginx|pg");
	CHECK(cli.http.has_uid);
	CHECK_INT(cli.http.uid, 0);
	CHECK_STR(cli.http.cgroup, "/system.slice");
	CHECK_STR(cli.http.unix_path, "/run/c.sock");
	CHECK_INT(cli.http.header_timeout, 3);
	CHECK_INT(cli.http.max_clients, 100);
	CHECK_INT(cli.http.max_per_ip, 7);
	CHECK(cli.http.token == NULL);
	char *both[] = { "serve", "--all", "-p", "1", "--http", ":0", NULL };
	CHECK_INT(serve_cli_parse(6, both, &cli), -1);
	char *filter[] = { "serve", "-p", "1", "--match", "x", "--http", ":0", NULL };
	CHECK_INT(serve_cli_parse(7, filter, &cli), -1);
	char *badre[] = { "serve", "--all", "--match", "(", "--http", ":0", NULL };
	CHECK_INT(serve_cli_parse(6, badre, &cli), -1);
	char *nouser[] = { "serve", "--all", "--user", "no-such-user-here", "--http", ":0", NULL };
	CHECK_INT(serve_cli_parse(6, nouser, &cli), -1);
	char *nosock[] = { "serve", "--all", "--http", "unix:", NULL };
	CHECK_INT(serve_cli_parse(4, nosock, &cli), -1);
	char *notoken[] = { "serve", "--all", "--http", ":0", "--auth-token-file",
			    "/nonexistent/token", NULL };
	CHECK_INT(serve_cli_parse(6, notoken, &cli), -1);
	char *runas[] = { "serve", "-p", "4321", "--http", ":80", "--run-as", "cprof", NULL };
	CHECK_INT(serve_cli_parse(7, runas, &cli), 0);
	CHECK_STR(cli.run_as, "cprof");
	CHECK_INT(cli.http.port, 80);
	CHECK_INT(serve_cli_parse(7, args, &cli), 0);
	CHECK(cli.run_as == NULL);	/* not kept from the previous parse */
}

int main(void)
{
	test_defaults();
	test_all_options();
	test_command();
	test_children();
	test_rejected();
	test_help();
	test_serve();
	return check_done();
}

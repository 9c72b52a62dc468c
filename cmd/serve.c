/*
 * serve.c - `cprof serve`: Go's /debug/pprof/ endpoints for a running
 * process. Parses and validates; src/http_server.c does the serving.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd.h"
#include "http.h"
#include "procfs.h"
#include "record_cli.h"
#include "serve_cli.h"
#include "threads.h"

/* Defaults in one place, shown by --help and explained in cprof-serve(1).
 * CPU profiles are made as `cprof record` makes them: same rate, same
 * unwinder, same stack copy. */
static const struct {
	unsigned max_seconds;
	unsigned client_timeout;
	unsigned freq;
	uint32_t stack_size;
} defaults = {
	.max_seconds = HTTP_DEFAULT_MAX_SECONDS,
	.client_timeout = HTTP_DEFAULT_CLIENT_TIMEOUT,
	.freq = RECORD_DEFAULT_FREQ,
	.stack_size = RECORD_DEFAULT_STACK_SIZE,
};

/* Kernel time is kept, as by `cprof record`, where perf allows it:
 * exclude_kernel=0 needs perf_event_paranoid <= 1 or privilege
 * (docs/design.md §1). */
static bool kernel_allowed(void)
{
	long paranoid = 2;
	if (geteuid() == 0)
		return true;
	procfs_read_long("/proc/sys/kernel/perf_event_paranoid", &paranoid);
	return paranoid <= 1;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: cprof serve -p PID --http [HOST]:PORT [options]\n"
		"\n"
		"Serve Go's /debug/pprof/ endpoints for process PID over HTTP, so that\n"
		"'go tool pprof' and scrapers such as Pyroscope work against it.\n"
		"\n"
		"options:\n"
		"  -p, --pid PID            process to serve (required)\n"
		"      --http [HOST]:PORT   address to listen on (required); without HOST,\n"
		"                           127.0.0.1 only; PORT 0 picks a free port\n"
		"      --max-seconds N      longest profile?seconds accepted (default %u)\n"
		"  -F, --freq HZ            CPU sampling frequency (default %u)\n"
		"      --client-timeout N   close connections idle for N seconds (default %u)\n"
		"      --remote-symbols     profiles without function names: clients name\n"
		"                           addresses through /debug/pprof/symbol\n"
		"  -q, --quiet              no access log on stderr\n"
		"  -h, --help               this help\n"
		"\n"
		"endpoints: /debug/pprof/ (index), profile, block, mutex, wall and trace\n"
		"(?seconds=N), goroutine and threads (debug=0|1|2), threadcreate, cmdline,\n"
		"symbol; heap and allocs answer 501 (not available for native processes yet).\n"
		"For a browser: /ui/ (the process, a flame graph of each profile kind, the\n"
		"thread dump as a page).\n"
		"\n"
		"examples:\n"
		"  cprof serve -p 1234 --http :8080\n"
		"  go tool pprof http://localhost:8080/debug/pprof/profile?seconds=10\n"
		"  curl 'http://localhost:8080/debug/pprof/goroutine?debug=1'\n"
		"  xdg-open http://localhost:8080/ui/\n"
		"  cprof serve -p 1234 --http 0.0.0.0:6060 --max-seconds 60 -q\n"
		"\n"
		"See cprof-serve(1).\n",
		defaults.max_seconds, defaults.freq, defaults.client_timeout);
}

struct serve_env {
	pid_t pid;
	char comm[32];
	bool quiet;
};

static void on_listen(const char *host, unsigned port, bool loopback, void *arg)
{
	const struct serve_env *env = arg;
	bool v6 = strchr(host, ':') != NULL;
	cli_info("listening on http://%s%s%s:%u/debug/pprof/ for pid %d (%s)",
		v6 ? "[" : "", host, v6 ? "]" : "", port, (int)env->pid, env->comm);
	if (!loopback)
		cli_warn("%s is not a loopback address: anyone who can reach it can read the "
			 "profiles, thread stacks and command line of pid %d", host, (int)env->pid);
}

static void on_log(const char *line, void *arg)
{
	cli_print(line);
}

int serve_cli_parse(int argc, char **argv, struct serve_cli *cli)
{
	static const struct option longopts[] = {
		{ "pid", required_argument, NULL, 'p' },
		{ "http", required_argument, NULL, 'H' },
		{ "max-seconds", required_argument, NULL, 'M' },
		{ "freq", required_argument, NULL, 'F' },
		{ "client-timeout", required_argument, NULL, 'T' },
		{ "remote-symbols", no_argument, NULL, 'R' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct http_opts *o = &cli->http;
	const char *listen = NULL;
	char why[256] = "";
	unsigned long v;
	int c;

	memset(cli, 0, sizeof(*cli));
	o->max_seconds = defaults.max_seconds;
	o->client_timeout = defaults.client_timeout;
	o->record.freq = defaults.freq;
	o->record.callgraph = SAMPLER_CG_DWARF;
	o->record.stack_size = defaults.stack_size;
	o->record.kernel = kernel_allowed();
	/* Dumps as `cprof threads` makes them. */
	o->threads = threads_defaults;

	optind = 0;	/* reset getopt, also its GNU internal state */
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":p:F:qh", longopts, NULL)) != -1) {
		switch (c) {
		case 'p':
			if (cli_parse_pid("--pid", optarg, &cli->pid) < 0)
				return -1;
			break;
		case 'H':
			listen = optarg;
			break;
		case 'M':
			if (cli_parse_ulong("--max-seconds", optarg, 1, 86400, &v) < 0)
				return -1;
			o->max_seconds = (unsigned)v;
			break;
		case 'F':
			if (cli_parse_ulong("--freq", optarg, 1, 100000, &v) < 0)
				return -1;
			o->record.freq = (unsigned)v;
			break;
		case 'T':
			if (cli_parse_ulong("--client-timeout", optarg, 1, 3600, &v) < 0)
				return -1;
			o->client_timeout = (unsigned)v;
			break;
		case 'R':
			o->remote_symbols = true;
			break;
		case 'q':
			cli->quiet = true;
			break;
		case 'h':
			cli->help = true;
			return 0;
		default:
			return cli_bad_option("serve", c, argv);
		}
	}
	if (optind < argc) {
		cli_error("unexpected argument '%s'", argv[optind]);
		cli_hint("serve takes a running process: cprof serve -p PID --http :8080");
		return -1;
	}
	if (!cli->pid) {
		cli_error("no process given");
		cli_hint("cprof serve -p PID --http :8080 (find the PID with 'pgrep NAME')");
		return -1;
	}
	if (!listen) {
		cli_error("no address given");
		cli_hint("add --http :8080 (loopback only) or --http HOST:PORT");
		return -1;
	}
	if (http_parse_listen(listen, cli->host, sizeof(cli->host), &o->port, why,
			      sizeof(why)) < 0) {
		cli_error("invalid --http '%s': %s", listen, why);
		return -1;
	}
	o->pid = cli->pid;
	o->host = cli->host;
	return 0;
}

int cmd_serve(int argc, char **argv)
{
	struct serve_cli cli;
	struct serve_env env = { 0 };
	char why[256] = "";

	if (serve_cli_parse(argc, argv, &cli) < 0)
		return CPROF_EXIT_USAGE;
	if (cli.help) {
		usage(stdout);
		return CPROF_EXIT_OK;
	}
	env.pid = cli.pid;
	env.quiet = cli.quiet;
	if (cli_check_target(env.pid) < 0)
		return CPROF_EXIT_FATAL;
	if (procfs_read_comm(env.pid, env.pid, env.comm, sizeof(env.comm)) < 0)
		snprintf(env.comm, sizeof(env.comm), "?");

	struct http_opts *o = &cli.http;
	o->on_listen = on_listen;
	o->on_log = env.quiet ? NULL : on_log;
	o->arg = &env;
	cli_catch_signals();
	int e = http_serve(o, &cli_stop_signal, why, sizeof(why));
	if (e == -ESRCH) {
		cli_info("pid %d exited: stopping the server", (int)env.pid);
		return CPROF_EXIT_OK;
	}
	if (e < 0) {
		cli_error("%s", why[0] ? why : strerror(-e));
		if (e == -EADDRINUSE)
			cli_hint("another program uses that port: choose another one, or port 0 "
				 "for any free port");
		else if (e == -EACCES)
			cli_hint("ports below 1024 need root or CAP_NET_BIND_SERVICE");
		else if (e == -EADDRNOTAVAIL)
			cli_hint("give an address of this machine, such as 127.0.0.1");
		return CPROF_EXIT_FATAL;
	}
	if (!env.quiet)
		cli_info("stopped by %s", strsignal(cli_stop_signal));
	return CPROF_EXIT_OK;
}

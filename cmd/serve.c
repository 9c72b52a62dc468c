/*
 * serve.c - `cprof serve`: Go's /debug/pprof/ endpoints for a running
 * process. Parses and validates; src/http.c does the serving.
 */
#include <errno.h>
#include <pwd.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd.h"
#include "explain.h"
#include "http.h"
#include "privs.h"
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
	if (privs_has(PRIVS_CAP_PERFMON) || privs_has(PRIVS_CAP_SYS_ADMIN))
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
		"      --run-as USER        started as root: become USER once listening,\n"
		"                           keeping only the capabilities it needs\n"
		"                           (CAP_SYS_PTRACE, CAP_PERFMON, CAP_DAC_READ_SEARCH,\n"
		"                           CAP_SYSLOG); every other one is dropped anyway\n"
		"  -q, --quiet              no access log on stderr\n"
		"  -h, --help               this help\n"
		"\n"
		"endpoints: /debug/pprof/ (index), profile?seconds=N, goroutine and threads\n"
		"(debug=0|1|2), threadcreate, cmdline, symbol; heap, allocs, block, mutex and\n"
		"trace answer 501 (not available for native processes yet).\n"
		"\n"
		"examples:\n"
		"  cprof serve -p 1234 --http :8080\n"
		"  go tool pprof http://localhost:8080/debug/pprof/profile?seconds=10\n"
		"  curl 'http://localhost:8080/debug/pprof/goroutine?debug=1'\n"
		"  cprof serve -p 1234 --http 0.0.0.0:6060 --max-seconds 60 -q\n"
		"  sudo cprof serve -p 1234 --http :80 --run-as nobody\n"
		"\n"
		"See cprof-serve(1).\n",
		defaults.max_seconds, defaults.freq, defaults.client_timeout);
}

struct serve_env {
	pid_t pid;
	char comm[32];
	bool quiet;
	bool run_as;
	uid_t run_uid;
	gid_t run_gid;
	uint64_t kept;
	bool refused;		/* after_bind explained why */
};

/* Once the socket is bound, before any thread exists (capabilities are
 * per thread): root and every capability not needed to trace, sample and
 * symbolize go (docs/design.md §11.2). CAP_NET_BIND_SERVICE served bind()
 * only. Whatever serve mode runs, http_serve calls this. */
static int after_bind(void *arg, char *err, size_t errlen)
{
	struct serve_env *env = arg;
	char buf[2048];
	int e = privs_drop(PRIVS_SERVE_KEEP, env->run_as, env->run_uid, env->run_gid,
			   &env->kept, err, errlen);
	if (e < 0)
		return e;
	/* As the user that will serve: what it lacks for the target, named
	 * (checked before the switch without --run-as). */
	if (env->run_as && explain_access(env->pid, EXPLAIN_SERVE, buf, sizeof(buf)) < 0) {
		cli_explain(buf);
		env->refused = true;
		return -EPERM;
	}
	return 0;
}

static void on_listen(const char *host, unsigned port, bool loopback, void *arg)
{
	const struct serve_env *env = arg;
	bool v6 = strchr(host, ':') != NULL;
	cli_info("listening on http://%s%s%s:%u/debug/pprof/ for pid %d (%s)",
		v6 ? "[" : "", host, v6 ? "]" : "", port, (int)env->pid, env->comm);
	char caps[256];
	if (!env->quiet)
		cli_info("running as uid %u with %s", (unsigned)geteuid(),
			 privs_set_str(env->kept, caps, sizeof(caps)));
	if (geteuid() == 0)
		cli_warn("serving as root (without its other capabilities): add --run-as USER "
			 "so that a flaw in the server cannot use root's files");
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
		{ "run-as", required_argument, NULL, 'U' },
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
		case 'U':
			cli->run_as = optarg;
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
	if (cli.run_as) {
		/* Looked up now: NSS may need files the new user cannot read. */
		struct passwd *pw = getpwnam(cli.run_as);
		if (!pw) {
			cli_error("invalid --run-as '%s': no such user", cli.run_as);
			cli_hint("give a user of this machine (getent passwd NAME), e.g. "
				 "--run-as nobody or the service's user cprof");
			return CPROF_EXIT_USAGE;
		}
		if (geteuid() != 0 && pw->pw_uid != geteuid()) {
			cli_error("--run-as %s needs cprof to start as root (it runs as uid %u)",
				  cli.run_as, (unsigned)geteuid());
			cli_hint("start it with sudo, or leave --run-as out");
			return CPROF_EXIT_USAGE;
		}
		/* Already that user: nothing to switch. */
		env.run_as = geteuid() == 0;
		env.run_uid = pw->pw_uid;
		env.run_gid = pw->pw_gid;
	}
	/* Checked as the user and with the capabilities that will serve. */
	if (!env.run_as && cli_check_access(env.pid, EXPLAIN_SERVE) < 0)
		return CPROF_EXIT_FATAL;
	if (procfs_read_comm(env.pid, env.pid, env.comm, sizeof(env.comm)) < 0)
		snprintf(env.comm, sizeof(env.comm), "?");

	struct http_opts *o = &cli.http;
	o->after_bind = after_bind;
	o->on_listen = on_listen;
	o->on_log = env.quiet ? NULL : on_log;
	o->arg = &env;
	cli_catch_signals();
	int e = http_serve(o, &cli_stop_signal, why, sizeof(why));
	if (e == -ESRCH) {
		cli_info("pid %d exited: stopping the server", (int)env.pid);
		return CPROF_EXIT_OK;
	}
	if (e < 0 && env.refused)
		return CPROF_EXIT_FATAL;
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

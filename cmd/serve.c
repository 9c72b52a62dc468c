/*
 * serve.c - `cprof serve`: Go's /debug/pprof/ endpoints for a running
 * process. Parses and validates; src/http_server.c does the serving.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pwd.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

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
	unsigned header_timeout;
	unsigned max_clients, max_per_ip;
	unsigned freq;
	uint32_t stack_size;
} defaults = {
	.max_seconds = HTTP_DEFAULT_MAX_SECONDS,
	.client_timeout = HTTP_DEFAULT_CLIENT_TIMEOUT,
	.header_timeout = HTTP_DEFAULT_HEADER_TIMEOUT,
	.max_clients = HTTP_DEFAULT_MAX_CLIENTS,
	.max_per_ip = HTTP_DEFAULT_MAX_PER_IP,
	.freq = RECORD_DEFAULT_FREQ,
	.stack_size = RECORD_DEFAULT_STACK_SIZE,
};

/* Kernel time is kept, as by `cprof record`, where perf allows it:
 * exclude_kernel=0 needs perf_event_paranoid <= 1 or privilege
 * (docs/design.md §1). */

static void usage(FILE *f)
{
	fprintf(f,
		"usage: cprof serve -p PID --http ADDR [options]\n"
		"       cprof serve --all [--match REGEX] [--user NAME] [--cgroup PATH]\n"
		"                   --http ADDR [options]\n"
		"\n"
		"Serve Go's /debug/pprof/ endpoints for process PID, or for every process\n"
		"of the host, over HTTP, so that 'go tool pprof' and scrapers such as\n"
		"Grafana Alloy (Pyroscope) and Parca work against them.\n"
		"\n"
		"options:\n"
		"  -p, --pid PID            process to serve\n"
		"      --all                every process allowed by the filters below, each\n"
		"                           under /pid/PID/debug/pprof/; /debug/pprof/ lists\n"
		"                           them, /targets gives them as Prometheus HTTP\n"
		"                           service discovery JSON (kernel threads never)\n"
		"      --match REGEX        with --all: only processes whose comm or command\n"
		"                           line (arguments joined by spaces) matches REGEX,\n"
		"                           a POSIX extended regular expression, unanchored\n"
		"      --user NAME          with --all: only processes of this user (name\n"
		"                           or uid; the effective uid, as pgrep -u)\n"
		"      --cgroup PATH        with --all: only processes in cgroup PATH or\n"
		"                           below it (as in /proc/PID/cgroup)\n"
		"      --http ADDR          where to listen (required): [HOST]:PORT, without\n"
		"                           HOST 127.0.0.1 only, PORT 0 picks a free port;\n"
		"                           or unix:PATH, a Unix socket (mode 0600)\n"
		"      --auth-token-file FILE  every request needs 'Authorization: Bearer\n"
		"                           TOKEN', TOKEN the file's content (one trailing\n"
		"                           newline dropped; the file must not be readable\n"
		"                           by every user)\n"
		"      --max-seconds N      longest ?seconds accepted (default %u)\n"
		"  -F, --freq HZ            CPU sampling frequency (default %u)\n"
		"      --client-timeout N   close connections idle for N seconds (default %u)\n"
		"      --header-timeout N   close connections whose request line and headers\n"
		"                           take over N seconds (default %u)\n"
		"      --max-clients N      open connections at most (default %u)\n"
		"      --max-clients-per-ip N  of them from one address (default %u)\n"
		"      --remote-symbols     profiles without function names: clients name\n"
		"                           addresses through /debug/pprof/symbol\n"
		"      --run-as USER        started as root: become USER once listening,\n"
		"                           keeping only the capabilities it needs\n"
		"                           (CAP_SYS_PTRACE, CAP_PERFMON, CAP_DAC_READ_SEARCH,\n"
		"                           CAP_SYSLOG, CAP_IPC_LOCK); every other one is\n"
		"                           dropped anyway\n"
		"  -q, --quiet              no access log on stderr\n"
		"  -h, --help               this help\n"
		"\n"
		"endpoints: /debug/pprof/ (index), profile, block, mutex, wall and trace\n"
		"(?seconds=N, up to 4 of each kind at once), goroutine and threads\n"
		"(debug=0|1|2), threadcreate, goroutine?seconds=N and threadcreate?seconds=N\n"
		"(Go's delta profiles, N below --max-seconds), cmdline, symbol; heap and\n"
		"allocs answer 501 (not available for native processes yet). HEAD of a\n"
		"profile answers at once and takes none. Bound to loopback, requests whose\n"
		"Host is not a loopback name or address get 403 (DNS rebinding).\n"
		"For a browser: /ui/ (the process, a flame graph of each profile kind, the\n"
		"thread dump as a page); with --all under /pid/PID/ui/.\n"
		"\n"
		"examples:\n"
		"  cprof serve -p 1234 --http :8080\n"
		"  go tool pprof http://localhost:8080/debug/pprof/profile?seconds=10\n"
		"  curl 'http://localhost:8080/debug/pprof/goroutine?debug=1'\n"
		"  xdg-open http://localhost:8080/ui/\n"
		"  cprof serve -p 1234 --http 0.0.0.0:6060 --max-seconds 60 -q\n"
		"  cprof serve --all --match 'nginx|postgres' --http :8080\n"
		"  curl http://localhost:8080/targets\n"
		"  cprof serve --all --http unix:/run/cprof.sock --auth-token-file /etc/cprof.token\n"
		"  sudo cprof serve -p 1234 --http :80 --run-as nobody\n"
		"\n"
		"See cprof-serve(1).\n",
		defaults.max_seconds, defaults.freq, defaults.client_timeout,
		defaults.header_timeout, defaults.max_clients, defaults.max_per_ip);
}

struct serve_env {
	pid_t pid;
	char comm[32];
	const char *unix_path;		/* --http unix:PATH, or NULL */
	bool quiet;
	bool token;
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
	/* The socket was made by root: it becomes the user's, who must
	 * answer on it and remove it at exit. */
	if (env->run_as && env->unix_path &&
	    lchown(env->unix_path, env->run_uid, env->run_gid) < 0) {
		int e = -errno;
		snprintf(err, errlen, "giving %s to uid %u: %s", env->unix_path,
			 (unsigned)env->run_uid, strerror(errno));
		return e;
	}
	int e = privs_drop(PRIVS_SERVE_KEEP, env->run_as, env->run_uid, env->run_gid,
			   &env->kept, err, errlen);
	if (e < 0)
		return e;
	/* As the user that will serve: what it lacks for the target, named
	 * (checked before the switch without --run-as). */
	if (env->run_as && env->pid && explain_access(env->pid, EXPLAIN_SERVE, buf, sizeof(buf)) < 0) {
		cli_explain(buf);
		env->refused = true;
		return -EPERM;
	}
	return 0;
}

static void on_listen(const char *host, unsigned port, bool loopback, void *arg)
{
	const struct serve_env *env = arg;
	char what[64];
	if (env->pid)
		snprintf(what, sizeof(what), "pid %d (%s)", (int)env->pid, env->comm);
	else
		snprintf(what, sizeof(what), "every process allowed (/targets lists them)");
	bool unix_socket = !strncmp(host, "unix:", 5);
	bool v6 = strchr(host, ':') != NULL;
	if (unix_socket)
		cli_info("listening on %s (/debug/pprof/) for %s", host, what);
	else
		cli_info("listening on http://%s%s%s:%u/debug/pprof/ for %s",
			 v6 ? "[" : "", host, v6 ? "]" : "", port, what);
	char caps[256];
	if (!env->quiet)
		cli_info("running as uid %u with %s", (unsigned)geteuid(),
			 privs_set_str(env->kept, caps, sizeof(caps)));
	if (geteuid() == 0)
		cli_warn("serving as root (without its other capabilities): add --run-as USER "
			 "so that a flaw in the server cannot use root's files");
	if (!unix_socket && !loopback && !env->token)		cli_warn("%s is not a loopback address: anyone who can reach it can read the "
			 "profiles, thread stacks and command line of %s (see --auth-token-file)",
			 host, env->pid ? what : "every process served");
}

/* The token of --auth-token-file, read once. */
static int read_token(const char *path, char *buf, size_t len)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		cli_error("cannot open --auth-token-file '%s': %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		cli_error("--auth-token-file '%s' is not a regular file", path);
		return -1;
	}
	if (st.st_mode & S_IROTH) {
		close(fd);
		cli_error("--auth-token-file '%s' is readable by every user: the token would not "
			  "be a secret", path);
		cli_hint("chmod o-r '%s' (or 600)", path);
		return -1;
	}
	ssize_t n = read(fd, buf, len);
	close(fd);
	if (n < 0) {
		cli_error("cannot read --auth-token-file '%s': %s", path, strerror(errno));
		return -1;
	}
	if ((size_t)n == len) {
		cli_error("--auth-token-file '%s' is longer than %zu bytes", path, len - 1);
		return -1;
	}
	buf[n] = '\0';
	if (n > 0 && buf[n - 1] == '\n')
		buf[--n] = '\0';
	if (n > 0 && buf[n - 1] == '\r')
		buf[--n] = '\0';
	if (n == 0) {
		cli_error("--auth-token-file '%s' is empty", path);
		cli_hint("put a token in it, such as: head -c 32 /dev/urandom | base64 > '%s'",
			 path);
		return -1;
	}
	for (ssize_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)buf[i];
		if (c <= ' ' || c >= 0x7f) {
			cli_error("--auth-token-file '%s': the token holds a space, control "
				  "character or non-ASCII byte at offset %zd", path, i);
			cli_hint("a bearer token is printable ASCII on one line");
			return -1;
		}
	}
	return 0;
}

static void on_log(const char *line, void *arg)
{
	cli_print(line);
}

int serve_cli_parse(int argc, char **argv, struct serve_cli *cli)
{
	static const struct option longopts[] = {
		{ "pid", required_argument, NULL, 'p' },
		{ "all", no_argument, NULL, 'A' },
		{ "match", required_argument, NULL, 'm' },
		{ "user", required_argument, NULL, 'u' },
		{ "cgroup", required_argument, NULL, 'g' },
		{ "auth-token-file", required_argument, NULL, 'a' },
		{ "header-timeout", required_argument, NULL, 'D' },
		{ "max-clients", required_argument, NULL, 'C' },
		{ "max-clients-per-ip", required_argument, NULL, 'I' },
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
	const char *listen = NULL, *token_file = NULL, *user = NULL;
	char why[256] = "";
	unsigned long v;
	int c;

	memset(cli, 0, sizeof(*cli));
	o->max_seconds = defaults.max_seconds;
	o->client_timeout = defaults.client_timeout;
	o->header_timeout = defaults.header_timeout;
	o->max_clients = defaults.max_clients;
	o->max_per_ip = defaults.max_per_ip;
	o->record.freq = defaults.freq;
	o->record.callgraph = SAMPLER_CG_DWARF;
	o->record.stack_size = defaults.stack_size;
	o->record.kernel = cli_kernel_access();
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
		case 'A':
			o->all = true;
			break;
		case 'm':
			o->match = optarg;
			break;
		case 'u':
			user = optarg;
			break;
		case 'g':
			if (optarg[0] != '/') {
				cli_error("invalid --cgroup '%s': a cgroup path starts with '/'", optarg);
				cli_hint("as in /proc/PID/cgroup, such as --cgroup /system.slice");
				return -1;
			}
			o->cgroup = optarg;
			break;
		case 'a':
			token_file = optarg;
			break;
		case 'D':
			if (cli_parse_ulong("--header-timeout", optarg, 1, 3600, &v) < 0)
				return -1;
			o->header_timeout = (unsigned)v;
			break;
		case 'C':
			if (cli_parse_ulong("--max-clients", optarg, 1, 65536, &v) < 0)
				return -1;
			o->max_clients = (unsigned)v;
			break;
		case 'I':
			if (cli_parse_ulong("--max-clients-per-ip", optarg, 1, 65536, &v) < 0)
				return -1;
			o->max_per_ip = (unsigned)v;
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
	if (cli->pid && o->all) {
		cli_error("-p and --all both given");
		cli_hint("serve one process (-p PID) or every process (--all [--match REGEX])");
		return -1;
	}
	if (!cli->pid && !o->all) {
		cli_error("no process given");
		cli_hint("cprof serve -p PID --http :8080 (find the PID with 'pgrep NAME'), "
			 "or --all for every process");
		return -1;
	}
	if (!o->all && (o->match || user || o->cgroup)) {
		cli_error("--%s selects processes for --all, which is not given",
			  o->match ? "match" : user ? "user" : "cgroup");
		cli_hint("add --all, or drop it and serve one process with -p PID");
		return -1;
	}
	if (o->match) {
		regex_t re;
		int r = regcomp(&re, o->match, REG_EXTENDED | REG_NOSUB);
		if (r != 0) {
			regerror(r, &re, why, sizeof(why));
			cli_error("invalid --match '%s': %s", o->match, why);
			cli_hint("a POSIX extended regular expression, such as 'nginx|postgres'");
			return -1;
		}
		regfree(&re);
	}
	if (user) {
		struct passwd *pw = getpwnam(user);
		char *end;
		errno = 0;
		unsigned long uid = strtoul(user, &end, 10);
		if (pw) {
			o->uid = pw->pw_uid;
		} else if (*user && !*end && errno == 0 && uid < (unsigned long)(uid_t)-1) {
			o->uid = (uid_t)uid;
		} else {
			cli_error("invalid --user '%s': no such user", user);
			cli_hint("give a user name from /etc/passwd or a numeric uid");
			return -1;
		}
		o->has_uid = true;
	}
	if (!listen) {
		cli_error("no address given");
		cli_hint("add --http :8080 (loopback only), --http HOST:PORT or --http unix:PATH");
		return -1;
	}
	if (!strncmp(listen, "unix:", 5)) {
		if (!listen[5]) {
			cli_error("invalid --http '%s': no socket path after unix:", listen);
			cli_hint("such as --http unix:/run/cprof.sock");
			return -1;
		}
		o->unix_path = listen + 5;
	} else if (http_parse_listen(listen, cli->host, sizeof(cli->host), &o->port, why,
				     sizeof(why)) < 0) {
		cli_error("invalid --http '%s': %s", listen, why);
		cli_hint("[HOST]:PORT such as :8080, or unix:PATH");
		return -1;
	}
	if (token_file) {
		if (read_token(token_file, cli->token, sizeof(cli->token)) < 0)
			return -1;
		o->token = cli->token;
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
	env.token = cli.http.token != NULL;
	if (env.pid && cli_check_target(env.pid) < 0)
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
	env.unix_path = cli.http.unix_path;
	/* Checked as the user and with the capabilities that will serve. */
	if (env.pid && !env.run_as && cli_check_access(env.pid, EXPLAIN_SERVE) < 0)
		return CPROF_EXIT_FATAL;
	if (env.pid && procfs_read_comm(env.pid, env.pid, env.comm, sizeof(env.comm)) < 0)
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
		if (e == -EADDRINUSE && o->unix_path)
			cli_hint("stop that server, or choose another path for the socket");
		else if (e == -EADDRINUSE)
			cli_hint("another program uses that port: choose another one, or port 0 "
				 "for any free port");
		else if (e == -EACCES)
			cli_hint("ports below 1024 need root or CAP_NET_BIND_SERVICE");
		else if (e == -EADDRNOTAVAIL)
			cli_hint("give an address of this machine, such as 127.0.0.1");
		else if (e == -EEXIST)
			cli_hint("remove that file, or choose another path for the socket");
		else if (e == -ENAMETOOLONG)
			cli_hint("choose a shorter path, such as /run/cprof.sock");
		return CPROF_EXIT_FATAL;
	}
	if (!env.quiet)
		cli_info("stopped by %s", strsignal(cli_stop_signal));
	return CPROF_EXIT_OK;
}

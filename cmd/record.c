/*
 * record.c - `cprof record`: parse and check the command line, start the
 * command if there is one, run the recording, write the profile.
 *
 * Everything that can be checked before sampling starts is checked first
 * (target, options, output path): a user should not wait 30 seconds to learn
 * that the output directory does not exist.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cmd.h"
#include "record_cli.h"
#include "outfile.h"
#include "pprof.h"
#include "procfs.h"
#include "explain.h"
#include "record.h"
#include "offcpu.h"
#include "trace.h"

#define MAX_SAMPLE_RATE_FILE "/proc/sys/kernel/perf_event_max_sample_rate"

static void trace_usage(FILE *f)
{
	fprintf(f,
		"usage: cprof trace -p PID [options]\n"
		"       cprof trace [options] -- COMMAND [ARGS...]\n"
		"\n"
		"Records a timeline of every thread of a process: when each ran and on\n"
		"which CPU, when it waited and in what (with the stack it waited\n"
		"under), and CPU samples with their stacks. Written as Chrome Trace\n"
		"Event JSON, which Perfetto UI (ui.perfetto.dev), chrome://tracing and\n"
		"speedscope open; 'go tool trace' cannot read it (it reads Go's own\n"
		"execution traces only).\n"
		"\n"
		"options:\n"
		"  -p, --pid PID           trace this running process\n"
		"  -s, --seconds N         stop after N seconds (default: %g with -p;\n"
		"                          with a command, when it exits); Ctrl-C stops early\n"
		"  -F, --freq HZ           CPU samples per second per thread (default: %u)\n"
		"  -o, --output FILE       where to write it (default: trace.json); a name\n"
		"                          ending in .gz is gzipped; '-' for standard output\n"
		"  -g, --call-graph MODE   dwarf (default) or fp, as for cprof record\n"
		"      --stack-size BYTES  user stack copied per sample (default: %u)\n"
		"      --no-kernel         drop kernel frames from the stacks\n"
		"      --children          also the processes it forks (the default with\n"
		"                          a command); --no-children: not\n"
		"  -q, --quiet             print nothing but errors\n"
		"  -h, --help              show this help\n"
		"\n"
		"examples:\n"
		"  cprof trace -p 1234 -s 5                  5 s into trace.json\n"
		"  cprof trace -p 1234 -s 5 -o t.json.gz     gzipped\n"
		"\n"
		"Needs root, or CAP_PERFMON and CAP_SYS_PTRACE, or perf_event_paranoid\n"
		"<= 1: the waits are sampled in the kernel's scheduler. See cprof-trace(1).\n",
		RECORD_DEFAULT_SECONDS, RECORD_DEFAULT_FREQ, RECORD_DEFAULT_STACK_SIZE);
}

static void record_usage(FILE *f)
{
	fprintf(f,
		"usage: cprof record -p PID [options]\n"
		"       cprof record [options] -- COMMAND [ARGS...]\n"
		"\n"
		"Samples the CPU use of every thread of a process (and of a command's\n"
		"child processes), or where its threads wait, and writes a gzipped\n"
		"pprof profile (read it with 'cprof report' or 'go tool pprof').\n"
		"\n"
		"options:\n"
		"  -p, --pid PID           record this running process\n"
		"      --profile KIND      what to record (default: cpu):\n"
		"                          cpu    CPU samples\n"
		"                          block  every wait off the CPU (sleeps, locks,\n"
		"                                 I/O), weighted by its length, under the\n"
		"                                 system call it waited in\n"
		"                          mutex  the waits for a lock among them, with the\n"
		"                                 thread that woke the waiter\n"
		"                          wall   CPU samples and waits together: each\n"
		"                                 thread's wall-clock time\n"
		"                          heap   sampled allocations and what is still\n"
		"                                 in use (inuse_space by default), as Go's\n"
		"                                 /debug/pprof/heap: a sampler injected into\n"
		"                                 the process, taken out at the end\n"
		"                          allocs the same, alloc_space by default\n"
		"                          block, mutex and wall need root, CAP_PERFMON or\n"
		"                          perf_event_paranoid <= 1; heap and allocs, the\n"
		"                          right to ptrace the process;\n"
		"                          the default output is then KIND.pprof\n"
		"      --rate BYTES        heap, allocs: a sample every BYTES allocated on\n"
		"                          average (k, m suffixes; default: 524288, Go's)\n"
		"      --method METHOD     heap, allocs: auto (default: inject, or uprobe\n"
		"                          when the allocator is in the program itself),\n"
		"                          inject or uprobe (heap: every free traced, for\n"
		"                          in use; allocs: frees counted only)\n"
		"      --children          also record the processes it forks, and those it\n"
		"                          has forked already (the default with a command)\n"
		"      --no-children       record the process (or command) alone\n"
		"  -s, --seconds N         stop after N seconds (default: %g with -p;\n"
		"                          with a command, when it exits); Ctrl-C stops early\n"
		"  -F, --freq HZ           samples per second per thread (default: %u)\n"
		"  -o, --output FILE       where to write the profile (default: %s);\n"
		"                          '-' for standard output (not a terminal). A\n"
		"                          regular file is replaced atomically (through\n"
		"                          symbolic links, keeping its mode and owner), a\n"
		"                          device or FIFO written in place. The format\n"
		"                          follows the name: .html or .htm a flame graph\n"
		"                          page, .folded folded stacks, else pprof\n"
		"      --format FORMAT     pprof, html or folded, whatever the name\n"
		"                          (for -o - or another name)\n"
		"  -g, --call-graph MODE   dwarf: unwind copied user stacks with the CFI,\n"
		"                          right through code without frame pointers\n"
		"                          (default); fp: the kernel's frame-pointer\n"
		"                          callchain, cheaper, wrong without frame pointers\n"
		"      --stack-size BYTES  user stack copied per sample in dwarf mode,\n"
		"                          a multiple of 8 up to 65528 (default: %u)\n"
		"      --no-kernel         drop kernel frames and time spent in the kernel\n"
		"      --system-lines      also read file:line and inlined functions from\n"
		"                          separate debug files (e.g. libc6-dbg's): ~11 MB\n"
		"                          and ~100 ms more for libc; by default frames in\n"
		"                          such libraries have function names only\n"
		"  -q, --quiet             print nothing but errors\n"
		"  -h, --help              show this help\n"
		"\n"
		"examples:\n"
		"  cprof record -p 1234                      30 s of pid 1234 into cpu.pprof\n"
		"  cprof record -p 1234 -s 10 -F 999 -o x.pprof\n"
		"  cprof record -p 1234 -o cpu.html          a flame graph to open in a browser\n"
		"  cprof record -p 1234 -o cpu.folded        folded stacks (flamegraph.pl)\n"
		"  cprof record -o make.pprof -- make -j2    a command and its children\n"
		"  cprof record -p 1234 --children           pid 1234 and its children\n"
		"  cprof record -p 1234 --profile heap -s 60 what pid 1234 allocated and holds\n"
		"  cprof record --profile allocs -- ./prog   who allocates the most in prog\n"
		"  ssh host cprof record -p 1234 -o - > cpu.pprof\n"
		"  cprof report cpu.pprof                    its top functions\n"
		"  go tool pprof -http=:8081 cpu.pprof       flame graph in a browser\n"
		"\n"
		"With a command, cprof exits with the command's status (128+N when a\n"
		"signal N killed it) once the profile is written; 2 or 64 when cprof\n"
		"itself failed. Needs root, or CAP_PERFMON and CAP_SYS_PTRACE, unless\n"
		"/proc/sys/kernel/perf_event_paranoid allows it. See cprof-record(1).\n",
		RECORD_DEFAULT_SECONDS, RECORD_DEFAULT_FREQ, RECORD_DEFAULT_OUTPUT,
		RECORD_DEFAULT_STACK_SIZE);
}

/* Searches PATH as execvp would, so that "command not found" is known
 * before any sampling starts. */
static bool command_exists(const char *cmd)
{
	if (strchr(cmd, '/'))
		return access(cmd, X_OK) == 0;
	const char *path = getenv("PATH");
	if (!path || !*path)
		path = "/usr/local/bin:/usr/bin:/bin";
	while (*path) {
		const char *end = strchrnul(path, ':');
		char buf[4096];
		int len = (int)(end - path);
		snprintf(buf, sizeof(buf), "%.*s%s%s", len, path, len ? "/" : "", cmd);
		struct stat st;
		if (stat(buf, &st) == 0 && S_ISREG(st.st_mode) && access(buf, X_OK) == 0)
			return true;
		path = *end ? end + 1 : end;
	}
	return false;
}


/* --rate BYTES: a whole number of bytes, with an optional k or m (KiB,
 * MiB) suffix. */
static int parse_rate(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (!errno && end != s && *s != '-') {
		if ((*end == 'k' || *end == 'K') && !end[1] && v <= (1ULL << 40))
			v <<= 10, end++;
		else if ((*end == 'm' || *end == 'M') && !end[1] && v <= (1ULL << 30))
			v <<= 20, end++;
	}
	if (errno || end == s || *end || *s == '-' || v == 0 || v > (1ULL << 40)) {
		cli_error("invalid --rate '%s': must be a positive number of bytes "
			  "(k and m suffixes allowed)", s);
		cli_hint("the default is 524288 (512k), as Go's MemProfileRate; smaller "
			 "rates take more samples and cost the target more");
		return -1;
	}
	*out = v;
	return 0;
}

int record_cli_parse(int argc, char **argv, struct record_cli *cli)
{
	static const struct option longopts[] = {
		{ "pid",        required_argument, NULL, 'p' },
		{ "profile",    required_argument, NULL, 'P' },
		{ "seconds",    required_argument, NULL, 's' },
		{ "freq",       required_argument, NULL, 'F' },
		{ "output",     required_argument, NULL, 'o' },
		{ "format",     required_argument, NULL, 'f' },
		{ "call-graph", required_argument, NULL, 'g' },
		{ "stack-size", required_argument, NULL, 'S' },
		{ "no-kernel",  no_argument,       NULL, 'K' },
		{ "system-lines", no_argument,     NULL, 'L' },
		{ "children",   no_argument,       NULL, 'C' },
		{ "no-children", no_argument,      NULL, 'N' },
		{ "rate",       required_argument, NULL, 'R' },
		{ "method",     required_argument, NULL, 'M' },
		{ "quiet",      no_argument,       NULL, 'q' },
		{ "help",       no_argument,       NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	unsigned long v;
	int c, children = -1;
	bool format_set = false;

	/* `cprof trace` shares the options, the targets and the run. */
	bool trace = argc > 0 && argv[0] && !strcmp(argv[0], "trace");

	memset(cli, 0, sizeof(*cli));
	if (trace)
		cli->profile = RECORD_TRACE;
	cli->freq = RECORD_DEFAULT_FREQ;
	cli->output = NULL;
	cli->callgraph = SAMPLER_CG_DWARF;
	cli->stack_size = RECORD_DEFAULT_STACK_SIZE;
	cli->kernel = true;

	optind = 0;	/* reset getopt, also its GNU internal state */
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+:p:s:F:o:g:qh", longopts, NULL)) != -1) {
		switch (c) {
		case 'p':
			if (cli_parse_pid("--pid", optarg, &cli->pid) < 0)
				return -1;
			break;
		case 'P':
			if (trace) {
				cli_error("cprof trace takes no --profile: it records "
					  "the threads' timeline");
				cli_hint("for a profile of a kind, use 'cprof record --profile %s'",
					 optarg);
				return -1;
			}
			if (record_profile_parse(optarg, &cli->profile) < 0) {
				cli_error("invalid --profile '%s': must be cpu, block, mutex, "
					  "wall, heap or allocs", optarg);
				cli_hint("cpu (the default) samples CPU use; block, mutex and wall "
					 "show where threads wait; heap and allocs, memory");
				return -1;
			}
			break;
		case 's':
			if (cli_parse_seconds("--seconds", optarg, &cli->seconds) < 0)
				return -1;
			break;
		case 'F': {
			long max_rate = 100000;
			procfs_read_long(MAX_SAMPLE_RATE_FILE, &max_rate);
			char *end;
			errno = 0;
			unsigned long long hz = strtoull(optarg, &end, 10);
			if (errno || end == optarg || *end || *optarg == '-' || hz == 0) {
				cli_error("invalid -F '%s': must be a positive whole number of samples per second",
					  optarg);
				cli_hint("the default is %u; 999 gives more detail", RECORD_DEFAULT_FREQ);
				return -1;
			}
			if (hz > (unsigned long long)max_rate) {
				cli_error("invalid -F %llu: above the kernel's limit of %ld samples per second",
					  hz, max_rate);
				cli_hint("use -F %ld or less, or raise %s (sysctl kernel.perf_event_max_sample_rate)",
					 max_rate, MAX_SAMPLE_RATE_FILE);
				return -1;
			}
			cli->freq = (unsigned)hz;
			break;
		}
		case 'o':
			if (!*optarg) {
				cli_error("invalid --output '': empty file name");
				cli_hint("give a file name, e.g. -o cpu.pprof");
				return -1;
			}
			cli->output = optarg;
			break;
		case 'f':
			if (trace) {
				cli_error("cprof trace takes no --format: it writes Chrome "
					  "Trace Event JSON");
				cli_hint("for a flame graph, use 'cprof record --format html'");
				return -1;
			}
			if (cli_format_parse(optarg, &cli->format) < 0 ||
			    cli->format == CLI_FORMAT_TOP) {
				cli_error("invalid --format '%s': must be pprof, html or folded",
					  optarg);
				cli_hint("pprof (the default) for cprof report and go tool pprof; "
					 "html, a flame graph page; folded, folded stacks");
				return -1;
			}
			format_set = true;
			break;
		case 'g':
			if (cli_parse_callgraph(optarg, &cli->callgraph) < 0)
				return -1;
			break;
		case 'S':
			if (cli_parse_ulong("--stack-size", optarg, 8,
					    RECORD_MAX_STACK_SIZE, &v) < 0)
				return -1;
			if (v % 8) {
				cli_error("invalid --stack-size %lu: must be a multiple of 8", v);
				cli_hint("try --stack-size %lu", (v + 7) / 8 * 8 > RECORD_MAX_STACK_SIZE ?
					 (unsigned long)RECORD_MAX_STACK_SIZE : (v + 7) / 8 * 8);
				return -1;
			}
			cli->stack_size = (uint32_t)v;
			break;
		case 'K':
			cli->kernel = false;
			break;
		case 'L':
			cli->system_lines = true;
			break;
		case 'C':
			children = 1;
			break;
		case 'N':
			children = 0;
			break;
		case 'R':
			if (parse_rate(optarg, &cli->rate) < 0)
				return -1;
			cli->heap_option = true;
			break;
		case 'M':
			if (!strcmp(optarg, "auto"))
				cli->method = RECORD_HEAP_AUTO;
			else if (!strcmp(optarg, "inject"))
				cli->method = RECORD_HEAP_INJECT;
			else if (!strcmp(optarg, "uprobe"))
				cli->method = RECORD_HEAP_UPROBE;
			else {
				cli_error("invalid --method '%s': must be auto, inject or uprobe",
					  optarg);
				cli_hint("auto (the default) injects a sampler, or uses uprobes "
					 "when the allocator is linked into the program");
				return -1;
			}
			cli->heap_option = true;
			break;
		case 'q':
			cli->quiet = true;
			break;
		case 'h':
			cli->help = true;
			return 0;
		default:
			return cli_bad_option(trace ? "trace" : "record", c, argv);
		}
	}
	if (optind < argc) {
		cli->command = &argv[optind];
		cli->ncommand = (size_t)(argc - optind);
	}
	if (cli->pid && cli->command) {
		cli_error("--pid and a command are mutually exclusive");
		cli_hint("record a running process with -p PID, or start one with 'cprof record -- COMMAND'");
		return -1;
	}
	if (!cli->pid && !cli->command) {
		cli_error("nothing to record: give -p PID or a command");
		cli_hint("'cprof record -p 1234' or 'cprof record -- ./program args'");
		return -1;
	}
	bool heap = cli->profile == RECORD_HEAP || cli->profile == RECORD_ALLOCS;
	if (cli->heap_option && !heap) {
		cli_error("--rate and --method are options of the heap and allocs profiles");
		cli_hint("add --profile heap (or allocs), or drop them");
		return -1;
	}
	if (!cli->rate)
		cli->rate = RECORD_HEAP_RATE;
	if (cli->pid && cli->seconds == 0)
		cli->seconds = RECORD_DEFAULT_SECONDS;
	if (!cli->output && trace) {
		cli->output = "trace.json";
	} else if (!cli->output) {
		/* KIND.pprof: cpu.pprof as ever for the default; KIND.html
		 * with --format html. */
		static char name[32];

		snprintf(name, sizeof(name), "%s.%s", record_profile_name(cli->profile),
			 cli->format == CLI_FORMAT_PPROF ? "pprof" : cli_format_name(cli->format));
		cli->output = name;
	} else if (!format_set && !trace) {
		cli->format = cli_format_of_path(cli->output);
	}
	/* As perf: a command's children are part of it (make, sh -c); a
	 * running process is recorded alone unless asked. The last of
	 * --children and --no-children wins. */
	cli->children = children < 0 ? cli->command != NULL : children == 1;
	if (heap && children == 1) {
		cli_error("--profile %s records one process: --children does not apply",
			  record_profile_name(cli->profile));
		cli_hint("record each process with its own 'cprof record -p PID --profile %s'",
			 record_profile_name(cli->profile));
		return -1;
	}
	if (heap)
		cli->children = false;
	return 0;
}

/* --- running a command ------------------------------------------------- */

struct child {
	pid_t pid;
	int go_fd;	/* write end: one byte lets the child exec */
	int exec_fd;	/* read end: EOF when exec succeeded, else errno */
	const char *name;
	bool stdout_to_stderr;	/* our stdout carries the profile */
	int status;
	bool reaped;
	bool execd;	/* the command ran (its status means something) */
};

/* Forks a child that waits for our word before it execs, so the events can
 * be opened on it first (with enable_on_exec, counting starts at the exec:
 * the fork and the wait are not profiled). */
static int child_start(struct child *ch, char **argv)
{
	int go[2], ex[2];
	if (pipe2(go, O_CLOEXEC) < 0)
		return -errno;
	if (pipe2(ex, O_CLOEXEC) < 0) {
		int e = -errno;
		close(go[0]);
		close(go[1]);
		return e;
	}
	pid_t pid = fork();
	if (pid < 0) {
		int e = -errno;
		close(go[0]); close(go[1]); close(ex[0]); close(ex[1]);
		return e;
	}
	if (pid == 0) {
		char b;
		close(go[1]);
		close(ex[0]);
		signal(SIGPIPE, SIG_DFL);
		/* With the profile on our stdout, the command's output would
		 * corrupt it: it goes to stderr instead, as with perf record
		 * -o -. */
		if (ch->stdout_to_stderr)
			dup2(STDERR_FILENO, STDOUT_FILENO);
		if (read(go[0], &b, 1) != 1)
			_exit(127);	/* cprof gave up before starting us */
		execvp(argv[0], argv);
		int e = errno;
		if (write(ex[1], &e, sizeof(e)) < 0)
			_exit(127);
		_exit(127);
	}
	close(go[0]);
	close(ex[1]);
	ch->pid = pid;
	ch->go_fd = go[1];
	ch->exec_fd = ex[0];
	ch->name = argv[0];
	return 0;
}

static int child_release(void *arg)
{
	struct child *ch = arg;
	char b = 1;
	if (write(ch->go_fd, &b, 1) != 1)
		return -errno;
	close(ch->go_fd);
	ch->go_fd = -1;
	int e = 0;
	ssize_t n;
	do
		n = read(ch->exec_fd, &e, sizeof(e));
	while (n < 0 && errno == EINTR);
	close(ch->exec_fd);
	ch->exec_fd = -1;
	if (n == sizeof(e))
		return -(e ? e : ENOEXEC);
	ch->execd = true;
	return 0;
}

static void child_wait(struct child *ch)
{
	if (ch->reaped || ch->pid <= 0)
		return;
	while (waitpid(ch->pid, &ch->status, 0) < 0 && errno == EINTR)
		;
	ch->reaped = true;
}

static bool child_exited(struct child *ch)
{
	if (ch->reaped)
		return true;
	if (waitpid(ch->pid, &ch->status, WNOHANG) == ch->pid)
		ch->reaped = true;
	return ch->reaped;
}

/* --- progress ---------------------------------------------------------- */

struct progress {
	const struct record_cli *cli;
	pid_t pid;
	struct child *child;
	bool tty;
	double last_draw;
	bool drawn;
	bool exec_error;	/* the command could not be exec'd */
};

static int on_tick(const struct record_stats *st, void *arg)
{
	struct progress *pg = arg;
	if (pg->tty && !pg->cli->quiet && st->elapsed - pg->last_draw >= 0.25) {
		pg->last_draw = st->elapsed;
		const char *what = pg->cli->profile == RECORD_CPU ? "samples" : "stacks";
		bool heap = pg->cli->profile == RECORD_HEAP || pg->cli->profile == RECORD_ALLOCS;

		if (heap) {
			double left = pg->cli->seconds - st->elapsed;
			char when[32];

			if (pg->cli->seconds > 0)
				snprintf(when, sizeof(when), "%.0f s left", left < 0 ? 0 : left);
			else
				snprintf(when, sizeof(when), "%.0f s", st->elapsed);
			char cost[96] = "";

			/* uprobes: what they cost the target, measured. */
			if (st->heap_calls_period && st->heap_slower_pct >= 0)
				snprintf(cost, sizeof(cost), ", %.0f calls/s, ~%.0f%% slower",
					 st->heap_calls_per_sec, st->heap_slower_pct);
			else if (st->heap_calls_period)
				snprintf(cost, sizeof(cost), ", %.0f calls/s, over a CPU in probes",
					 st->heap_calls_per_sec);
			fprintf(stderr, "\rcprof: recording the heap of pid %d (%s): %s, "
				"%llu samples, %.1f MB sampled%s\033[K", (int)pg->pid,
				st->heap_method ? st->heap_method : "?", when,
				(unsigned long long)st->samples, (double)st->heap_bytes / 1e6, cost);
		} else if (pg->cli->seconds > 0) {
			double left = pg->cli->seconds - st->elapsed;
			fprintf(stderr, "\rcprof: recording pid %d: %.0f s left, %llu %s\033[K",
				(int)pg->pid, left < 0 ? 0 : left,
				(unsigned long long)st->samples, what);
		} else {
			fprintf(stderr, "\rcprof: recording pid %d: %.0f s, %llu %s\033[K",
				(int)pg->pid, st->elapsed, (unsigned long long)st->samples, what);
		}
		pg->drawn = true;
	}
	if (cli_stop_signal)
		return 1;
	if (pg->child && child_exited(pg->child))
		return 1;
	return 0;
}

/* Off a terminal, one line says that sampling has begun (scripts may wait
 * for it): printed when it has, after the target's modules were read. */
static void announce(struct progress *pg)
{
	const struct record_cli *cli = pg->cli;
	const char *who = cli->children ? " and its child processes" : "";

	if (cli->quiet || pg->tty)
		return;
	if (cli->profile == RECORD_HEAP || cli->profile == RECORD_ALLOCS) {
		if (cli->seconds > 0)
			cli_info("recording the allocations of pid %d for %g s, a sample "
				 "every %llu bytes", (int)pg->pid, cli->seconds,
				 (unsigned long long)cli->rate);
		else
			cli_info("recording the allocations of pid %d, a sample every "
				 "%llu bytes", (int)pg->pid, (unsigned long long)cli->rate);
	} else if (cli->profile == RECORD_BLOCK || cli->profile == RECORD_MUTEX) {
		/* No sampling rate: every switch is seen. */
		if (cli->seconds > 0)
			cli_info("recording the waits of pid %d%s for %g s", (int)pg->pid,
				 who, cli->seconds);
		else
			cli_info("recording the waits of pid %d%s", (int)pg->pid, who);
	} else if (cli->seconds > 0)
		cli_info("recording pid %d%s for %g s at %u Hz", (int)pg->pid, who,
			 cli->seconds, cli->freq);
	else
		cli_info("recording pid %d%s at %u Hz", (int)pg->pid, who,
			 cli->freq);
}

/* record_run's ready callback: the events are open and enabled (-p), or
 * will be at the command's exec: let the child exec. */
static int on_ready(void *arg)
{
	struct progress *pg = arg;

	announce(pg);
	if (!pg->child || pg->child->go_fd < 0)
		return 0;	/* none, or released already (heap) */
	int r = child_release(pg->child);
	pg->exec_error = r < 0;
	return r;
}

static void progress_clear(struct progress *pg)
{
	if (pg->drawn)
		fputs("\r\033[K", stderr);
	pg->drawn = false;
}

static void format_size(size_t n, char *buf, size_t len)
{
	if (n < 1024)
		snprintf(buf, len, "%zu bytes", n);
	else if (n < 1024 * 1024)
		snprintf(buf, len, "%.1f KiB", n / 1024.0);
	else
		snprintf(buf, len, "%.1f MiB", n / (1024.0 * 1024.0));
}

static void report_error(int ret, pid_t pid, const char *err)
{
	char buf[2048];
	switch (-ret) {
	case EACCES: case EPERM: case ESRCH: case EMFILE: case ENOENT:
	case EOVERFLOW: case EBUSY:
		cli_explain(explain_sampling(ret, pid, buf, sizeof(buf)));
		break;
	default:
		if (err && *err)
			cli_error("cannot record pid %d: %s", (int)pid, err);
		else
			cli_error("cannot record pid %d: %s", (int)pid, strerror(-ret));
		cli_hint("check that pid %d is still running; try --call-graph fp to rule out unwinding",
			 (int)pid);
		break;
	}
}

static void describe_status(const struct child *ch)
{
	if (WIFEXITED(ch->status))
		cli_info("%s exited with status %d", ch->name,
			WEXITSTATUS(ch->status));
	else if (WIFSIGNALED(ch->status))
		cli_info("%s was killed by signal %d (%s)", ch->name,
			WTERMSIG(ch->status), strsignal(WTERMSIG(ch->status)));
}

/* cprof's status with a command whose profile was written: the command's,
 * as a shell gives it (128+N when signal N killed it). */
static int command_status(const struct child *ch)
{
	if (WIFEXITED(ch->status))
		return WEXITSTATUS(ch->status);
	if (WIFSIGNALED(ch->status))
		return 128 + WTERMSIG(ch->status);
	return CPROF_EXIT_FATAL;
}

static const char *plural(unsigned long long n, const char *one, const char *many)
{
	return n == 1 ? one : many;
}

/* Whether pid has child processes (their children included). */
static bool has_children(pid_t pid)
{
	pid_t *kids = NULL;
	size_t n = 0;

	procfs_list_descendants(pid, &kids, &n);
	free(kids);
	return n > 0;
}

/* What the summary adds when the target itself was not sampled: it was
 * stopped, its children did the work, or it was idle. */
static void explain_no_cpu(const struct record_cli *cli, const struct record_stats *st,
			   pid_t pid, const char *name, bool had_children)
{
	if (st->target_stopped) {
		const char *how = st->target_stopped == 't' ?
			"stopped by a tracer (state t)" : "stopped (state T)";

		if (st->samples == 0) {
			cli_warn("no samples: pid %d (%s) was %s while it was recorded",
				 (int)pid, name, how);
			if (st->target_stopped == 't')
				cli_hint("let the debugger holding it continue it, then record again");
			else
				cli_hint("resume it with 'kill -CONT %d', then record again", (int)pid);
		} else {
			cli_warn("pid %d (%s) was %s during part of the recording",
				 (int)pid, name, how);
		}
		return;
	}
	if (st->samples == 0) {
		if (cli->children) {
			cli_warn("no samples: pid %d (%s) and its child processes used no CPU "
				 "while they were recorded", (int)pid, name);
		} else {
			cli_warn("no samples: pid %d (%s) used no CPU while it was recorded",
				 (int)pid, name);
			/* Children that existed at the start, or that it
			 * forked while recorded. */
			if (had_children || st->forked)
				cli_hint("its child processes may have: record them too with --children");
		}
	} else if (st->target_samples == 0) {
		cli_info("pid %d (%s) used no CPU itself: every sample is from its "
			 "child processes", (int)pid, name);
	}
}

/* Whether pid runs a program other than cprof (its exec done) with the
 * libraries it links mapped: a mapping of a shared object other than the
 * dynamic loader, or none needed (no loader mapped either). */
static bool libraries_loaded(pid_t pid, const char *self_exe)
{
	char path[64], exe[4096];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/exe", (int)pid);
	n = readlink(path, exe, sizeof(exe) - 1);
	if (n <= 0)
		return true;	/* gone: record_run says so */
	exe[n] = '\0';
	if (!strcmp(exe, self_exe))
		return false;	/* not exec'd yet */
	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	FILE *f = fopen(path, "r");
	char line[4096];
	bool loader = false, lib = false;

	while (f && fgets(line, sizeof(line), f)) {
		const char *p = strchr(line, '/');

		if (!p || !strstr(p, ".so"))
			continue;
		if (strstr(p, "/ld-linux") || strstr(p, "/ld-musl"))
			loader = true;
		else
			lib = true;
	}
	if (f)
		fclose(f);
	return lib || !loader;
}

/* A heap profile of a command: the sampler is injected into the running
 * program, so the command is let go first and the injection follows as
 * soon as its libraries are mapped (the injector itself waits while a
 * thread is inside the loader). *missed_ms: how long it ran unsampled. */
static int heap_command_start(struct progress *pg, uint64_t *missed_ms)
{
	char self[4096];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	struct timespec t0, t1, nap = { 0, 200000 };

	self[n > 0 ? n : 0] = '\0';
	clock_gettime(CLOCK_MONOTONIC, &t0);
	int r = child_release(pg->child);
	if (r < 0) {
		pg->exec_error = true;
		cli_error("cannot run '%s': %s", pg->child->name, strerror(-r));
		cli_hint("check that '%s' is an executable program for this machine",
			 pg->child->name);
		return r;
	}
	/* 5 s at most: a program that never maps a library runs on. Then
	 * until the injector finds the allocator in the link map (the
	 * loader adds libc to it after mapping it). */
	for (int i = 0; i < 25000 && !libraries_loaded(pg->child->pid, self); i++)
		nanosleep(&nap, NULL);
	for (;;) {
		char why[256];
		struct timespec now;

		/* Until it can be hooked, for 5 s at most (a loaded
		 * machine): the link map is read while the loader fills
		 * it, which fails in several ways before it is done. */
		if (record_heap_check(pg->child->pid, why, sizeof(why)) == 0)
			break;
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec - t0.tv_sec >= 5)
			break;
		nanosleep(&nap, NULL);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	*missed_ms = (uint64_t)((t1.tv_sec - t0.tv_sec) * 1000 +
				(t1.tv_nsec - t0.tv_nsec) / 1000000);
	return 0;
}

/* A heap recording that failed: one line naming why, and what to do. */
static void report_heap_error(int ret, pid_t pid, const struct record_cli *cli,
			      const char *err)
{
	const char *why = err && *err ? err : strerror(-ret);

	cli_error("cannot record the %s of pid %d: %s", record_profile_name(cli->profile),
		  (int)pid, why);
	if (strstr(why, "seccomp") || strstr(why, "static") || strstr(why, "uprobe"))
		cli_hint("try --method uprobe: uprobes reach an allocator the "
			 "injected sampler cannot");
	else if (ret == -EPERM || ret == -EACCES)
		cli_hint("run cprof as root or with CAP_SYS_PTRACE (or as the process's user "
			 "with kernel.yama.ptrace_scope 0)");
	else if (ret == -ESRCH)
		cli_hint("check that pid %d is still running", (int)pid);
	else if (strstr(why, "this build"))
		cli_hint("this cprof was built without it: build one with the heap "
			 "sampler (src/inject.c, src/heapblob/)");
	else if (strstr(why, "seccomp") || strstr(why, "static") || ret == -ENOTSUP)
		cli_hint("try --method uprobe: uprobes reach an allocator the "
			 "injected sampler cannot");
	else
		cli_hint("the target was left as it was; try --method uprobe");
}

static void heap_summary(const struct record_cli *cli, const struct record_stats *st,
			 uint64_t missed_ms)
{
	cli_info("%llu %s (%.1f MB sampled, %llu dropped, %llu untracked) in %.1f s, "
		 "method %s", (unsigned long long)st->samples,
		 plural(st->samples, "sample", "samples"), (double)st->heap_bytes / 1e6,
		 (unsigned long long)st->heap_dropped,
		 (unsigned long long)st->heap_untracked, st->elapsed,
		 st->heap_method ? st->heap_method : "?");
	if (st->heap_method && !strcmp(st->heap_method, "inject"))
		cli_info("%u %s and %u GOT %s hooked; the target was stopped for %.1f ms "
			 "at most", st->heap.modules, plural(st->heap.modules, "module", "modules"),
			 st->heap.entries, plural(st->heap.entries, "entry", "entries"),
			 (double)st->heap.stopped_ns_max / 1e6);
	if (st->heap_calls_period)
		cli_info("uprobes: one allocator call in %llu sampled; %.0f calls/s at the "
			 "last measure, the target ~%.0f%% slower for it; %s",
			 (unsigned long long)st->heap_calls_period, st->heap_calls_per_sec,
			 st->heap_slower_pct < 0 ? 100.0 : st->heap_slower_pct,
			 st->heap_uprobe_inuse ? "returns and every free traced for in use" :
			 "frees counted, not traced (in use is empty)");
	if (st->heap_uprobe_inuse)
		cli_info("uprobes: %llu frees traced, %llu sampled calls never seen "
			 "returning (left out)", (unsigned long long)st->heap_frees,
			 (unsigned long long)st->heap_unreturned);
	if (st->heap.removed_stale)
		cli_info("removed %u sampler%s a killed cprof had left", st->heap.removed_stale,
			 st->heap.removed_stale == 1 ? "" : "s");
	if (st->heap.left_mapped && !st->target_exited)
		cli_warn("a thread may still have been inside the sampler: its pages "
			 "stay mapped in the target, switched off");
	if (cli->command && missed_ms)
		cli_info("the first %llu ms of %s (exec and library loading) ran before "
			 "sampling began", (unsigned long long)missed_ms, cli->command[0]);
	if (st->heap_dropped)
		cli_warn("%llu samples were dropped with the ring full: try a larger --rate",
			 (unsigned long long)st->heap_dropped);
}

int cmd_record(int argc, char **argv)
{
	struct record_cli cli;
	struct child child = { .pid = -1, .go_fd = -1, .exec_fd = -1 };
	struct trace *trace = NULL;	/* `cprof trace` */
	int status = CPROF_EXIT_FATAL;

	if (record_cli_parse(argc, argv, &cli) < 0)
		return CPROF_EXIT_USAGE;
	if (cli.help) {
		if (cli.profile == RECORD_TRACE)
			trace_usage(stdout);
		else
			record_usage(stdout);
		return CPROF_EXIT_OK;
	}
	bool heap = cli.profile == RECORD_HEAP || cli.profile == RECORD_ALLOCS;
	/* The heap sampler is put in with ptrace, not perf events. */
	if (cli.pid && (cli_check_target(cli.pid) < 0 ||
			cli_check_access(cli.pid, heap ? EXPLAIN_TRACE : EXPLAIN_SAMPLE) < 0))
		return CPROF_EXIT_FATAL;
	if (cli.command && !command_exists(cli.command[0])) {
		cli_error("command not found: '%s'", cli.command[0]);
		cli_hint("check the name and PATH, or give the program's path (./%s)",
			 cli.command[0]);
		return CPROF_EXIT_FATAL;
	}
	if (heap)
		cli.kernel = false;	/* user-space allocations only */
	if (cli.profile != RECORD_CPU && !heap && !cli_kernel_access()) {
		/* The context-switch sample is taken in the scheduler: with
		 * exclude_kernel, which paranoid 2 imposes, there is none. */
		cli_error("--profile %s needs root or CAP_PERFMON: off-CPU stacks "
			  "are sampled in the kernel's scheduler (perf_event_paranoid is > 1)",
			  record_profile_name(cli.profile));
		cli_hint("run it with sudo, or give cprof CAP_PERFMON and CAP_SYS_PTRACE "
			 "(setcap cap_perfmon,cap_sys_ptrace+ep), or lower "
			 "kernel.perf_event_paranoid to 1");
		return CPROF_EXIT_FATAL;
	}
	/* Opened now: a FIFO's reader is waited for before recording, as
	 * a shell's '>' would, and a device is never replaced. */
	struct outfile *out = NULL;
	size_t olen = strlen(cli.output);
	bool gz = olen > 3 && !strcmp(cli.output + olen - 3, ".gz");
	/* A trace is text, unless gzipped: it may go to a terminal. */
	bool binary = cli.profile == RECORD_TRACE ? gz : cli.format == CLI_FORMAT_PPROF;
	int r = cli_output_open(cli.output, binary,
				cli.profile == RECORD_TRACE ? "trace.json" : RECORD_DEFAULT_OUTPUT,
				&out);
	if (r)
		return r;
	if (cli.kernel && !cli_kernel_access()) {
		/* Unprivileged users may still sample their own processes in
		 * user space: do that rather than fail. */
		cli.kernel = false;
		if (!cli.quiet)
			cli_warn("kernel frames and time in system calls are not recorded "
				 "(perf_event_paranoid > 1 and no CAP_PERFMON)");
	}

	cli_catch_signals();
	if (cli.command) {
		child.stdout_to_stderr = outfile_is_stdout(out);
		r = child_start(&child, cli.command);
		if (r < 0) {
			cli_error("cannot start '%s': %s", cli.command[0], strerror(-r));
			cli_hint("check the limits on processes and open files (ulimit -u, ulimit -n)");
			goto out_child;
		}
	}
	/* SCHED_BATCH: the same share of CPU, but our wake-ups (a ring's
	 * watermark, the 100 ms tick) do not preempt the target's threads on
	 * the CPU they run on. The rings hold a quarter of a second, far more
	 * than the few ms a batch task may wait. Best effort;
	 * set after the fork, so a command runs with the policy it had. */
	struct sched_param sp = { .sched_priority = 0 };
	sched_setscheduler(0, SCHED_BATCH, &sp);
	pid_t pid = cli.command ? child.pid : cli.pid;
	/* For the summary, while the target certainly exists. */
	char name[16] = "";
	const char *base = cli.command ? strrchr(cli.command[0], '/') : NULL;
	if (cli.command)
		snprintf(name, sizeof(name), "%s", base ? base + 1 : cli.command[0]);
	else if (procfs_read_comm(pid, 0, name, sizeof(name)) < 0)
		snprintf(name, sizeof(name), "?");
	bool had_children = !cli.children && !cli.command && has_children(pid);
	if (cli.profile == RECORD_TRACE && !(trace = trace_new())) {
		cli_error("out of memory");
		goto out_child;
	}
	struct record_opts opts = {
		.pid = pid,
		.profile = cli.profile,
		.heap_rate = cli.rate,
		.heap_method = cli.method,
		.trace = trace,
		.seconds = cli.seconds,
		.freq = cli.freq,
		.callgraph = cli.callgraph,
		.stack_size = cli.stack_size,
		.kernel = cli.kernel,
		.enable_on_exec = cli.command != NULL,
		.system_lines = cli.system_lines,
		.children = cli.children,
	};
	struct progress pg = {
		.cli = &cli, .pid = pid, .child = cli.command ? &child : NULL,
		.tty = cli_stderr_is_tty(),
	};
	struct record_callbacks cb = {
		.ready = on_ready,
		.tick = on_tick,
		.arg = &pg,
	};

	struct profile *profile = NULL;
	struct record_stats st;
	char err[512] = "";
	uint64_t missed_ms = 0;
	if (heap && cli.command) {
		/* The sampler goes into a running program: let the command
		 * exec and load its libraries first (docs/design.md §12.3). */
		r = heap_command_start(&pg, &missed_ms);
		if (r < 0)
			goto out_child;
	}
	r = record_run(&opts, &cb, &profile, &st, err, sizeof(err));
	progress_clear(&pg);
	if (r < 0) {
		if (pg.exec_error) {
			cli_error("cannot run '%s': %s", cli.command[0], strerror(-r));
			cli_hint("check that '%s' is an executable program for this machine",
				 cli.command[0]);
		} else if (heap)
			report_heap_error(r, pid, &cli, err);
		else
			report_error(r, pid, err);
		goto out_child;
	}
	if (!cli.quiet) {
		if (cli_stop_signal)
			cli_info("stopped by %s after %.1f s",
				strsignal(cli_stop_signal), st.elapsed);
		else if (!cli.command && st.target_exited)
			cli_info("pid %d exited after %.1f s; writing what was collected",
				(int)pid, st.elapsed);
	}

	uint8_t *data = NULL;
	size_t len = 0;
	size_t events = opts.trace ? trace_events(opts.trace) : 0;
	if (opts.trace) {
		char *json = NULL;

		r = trace_finish(opts.trace, (uint64_t)profile->duration_nanos, &json, &len);
		data = (uint8_t *)json;
		if (r == 0 && gz) {
			uint8_t *z = NULL;

			r = pprof_gzip(data, len, &z, &len);
			free(data);
			data = z;
		}
	} else {
		char title[96];
		snprintf(title, sizeof(title), "%s profile of %s (pid %d)",
			 record_profile_name(cli.profile), name, (int)pid);
		r = cli_format_render(profile, cli.format, NULL, title, 0, (char **)&data,
				      &len, err, sizeof(err));
	}
	if (r < 0) {
		cli_error("cannot encode the %s: %s", opts.trace ? "trace" : "profile",
			  opts.trace ? strerror(-r) : err);
		free(data);
		profile_free(profile);
		goto out_child;
	}
	r = cli_output_write(out, cli.output, data, len);
	free(data);
	profile_free(profile);
	if (r < 0)
		goto out_child;
	status = CPROF_EXIT_OK;
	if (!cli.quiet) {
		char size[32];
		format_size(len, size, sizeof(size));
		if (heap)
			heap_summary(&cli, &st, missed_ms);
		else if (cli.profile == RECORD_TRACE)
			cli_info("%zu events (%llu waits off the CPU, %.3f s) from %zu %s in "
				 "%zu %s in %.1f s", events, (unsigned long long)st.intervals,
				 (double)st.offcpu_ns / 1e9,
				 st.threads, plural(st.threads, "thread", "threads"),
				 st.processes, plural(st.processes, "process", "processes"),
				 st.elapsed);
		else if (cli.profile == RECORD_CPU)
			cli_info(
				"%llu %s (%llu lost, %llu truncated %s) from %zu %s in %zu %s in %.1f s",
				(unsigned long long)st.samples, plural(st.samples, "sample", "samples"),
				(unsigned long long)st.lost, (unsigned long long)st.truncated,
				plural(st.truncated, "stack", "stacks"),
				st.threads, plural(st.threads, "thread", "threads"),
				st.processes, plural(st.processes, "process", "processes"), st.elapsed);
		else
			cli_info(
				"%llu %s off the CPU (%.3f s), %llu with %s stack, from %zu %s in %zu %s in %.1f s",
				(unsigned long long)st.intervals, plural(st.intervals, "wait", "waits"),
				(double)st.offcpu_ns / 1e9,
				(unsigned long long)st.intervals_own_stack,
				st.intervals_own_stack == 1 ? "its own" : "their own",
				st.threads, plural(st.threads, "thread", "threads"),
				st.processes, plural(st.processes, "process", "processes"), st.elapsed);
		if (st.lost && cli.profile == RECORD_CPU)
			cli_warn("the kernel dropped %llu samples: try a lower -F or a smaller --stack-size",
				 (unsigned long long)st.lost);
		else if (st.lost)
			cli_warn("the kernel dropped %llu records while the rings were full: "
				 "the waits around them are cut short or missing "
				 "(the stacks are thinned to %u a second within 0.1 s; "
				 "a smaller --stack-size shortens that burst)",
				 (unsigned long long)st.lost, OFFCPU_MAX_STACK_RATE);
		if (st.samples && st.truncated * 10 > st.samples &&
		    cli.stack_size < RECORD_MAX_STACK_SIZE)
			cli_warn("%.0f%% of stacks were cut short: try --stack-size %u",
				 100.0 * st.truncated / st.samples,
				 cli.stack_size * 2 > RECORD_MAX_STACK_SIZE ?
				 RECORD_MAX_STACK_SIZE : cli.stack_size * 2);
		else if (st.samples && st.truncated * 10 > st.samples)
			cli_warn("%.0f%% of stacks were cut short even with the largest "
				 "stack copy the kernel takes (%u bytes): unwind them with "
				 "frame pointers instead (--call-graph fp, the program "
				 "built with -fno-omit-frame-pointer)",
				 100.0 * st.truncated / st.samples, RECORD_MAX_STACK_SIZE);
		if (st.no_wakers)
			cli_warn("the waits carry no waker_thread labels: the "
				 "sched:sched_waking tracepoint needs root, or CAP_PERFMON "
				 "and read access to /sys/kernel/tracing (CAP_DAC_READ_SEARCH)");
		if (cli.profile == RECORD_CPU)
			explain_no_cpu(&cli, &st, pid, name, had_children);
		else if (heap && st.samples == 0)
			cli_warn("no samples: pid %d (%s) allocated less than about %llu "
				 "bytes while it was recorded", (int)pid, name,
				 (unsigned long long)cli.rate);
		else if (heap)
			;
		else if (st.samples == 0)
			cli_warn("no samples: no thread of pid %d (%s) waited off the CPU "
				 "while it was recorded", (int)pid, name);
		if (outfile_is_file(out) && cli.profile == RECORD_TRACE)
			cli_info("wrote %s (%s); open it in https://ui.perfetto.dev, "
				 "chrome://tracing or speedscope", cli.output, size);
		else if (outfile_is_file(out) && cli.format == CLI_FORMAT_HTML)
			cli_info("wrote %s (%s); open it in a browser", cli.output, size);
		else if (outfile_is_file(out) && cli.format == CLI_FORMAT_FOLDED)
			cli_info("wrote %s (%s), folded stacks (flamegraph.pl, inferno, speedscope)",
				 cli.output, size);
		else if (outfile_is_file(out))
			cli_info("wrote %s (%s); see 'cprof report %s' or 'go tool pprof -http=:8081 %s'",
				 cli.output, size, cli.output, cli.output);
		else if (!strcmp(cli.output, "-"))
			cli_info("wrote the profile (%s) to standard output", size);
		else
			cli_info("wrote the profile (%s) to %s", size, cli.output);
	}
out_child:
	if (cli.command && child.pid > 0) {
		/* A recording that failed before release_child leaves the
		 * child blocked reading go_fd: EOF makes it _exit(127)
		 * instead of waiting forever, and us with it. */
		if (child.go_fd >= 0)
			close(child.go_fd);
		if (child.exec_fd >= 0)
			close(child.exec_fd);
		if (!child_exited(&child) && cli_stop_signal)
			kill(child.pid, cli_stop_signal);
		child_wait(&child);
		if (!cli.quiet && child.execd)
			describe_status(&child);
		/* The profile is written: the command's status is ours, as
		 * `time` and `perf stat` do. cprof's own failures keep
		 * theirs (cprof(1) EXIT STATUS). */
		if (status == CPROF_EXIT_OK && child.execd)
			status = command_status(&child);
	}
	trace_free(trace);
	outfile_close(out);
	return status;
}

/*
 * threads.c - `cprof threads`: parse and check the command line, dump the
 * threads (src/threads.c), symbolize after they run again, write.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cmd.h"
#include "outfile.h"
#include "pprof.h"
#include "procfs.h"
#include "symbolize.h"
#include "explain.h"
#include "threads_write.h"

static double threads_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

enum { OUT_TEXT, OUT_SUMMARY, OUT_JSON, OUT_DEBUG1, OUT_PPROF };

struct threads_cli {
	pid_t pid;
	int format;
	const char *output;		/* "-": standard output */
	unsigned long max_frames;
	bool one_at_a_time;
	enum threads_unwinder unwinder;
	bool system_lines;
	bool verbose;
	bool help;
};

static void threads_usage(FILE *f)
{
	fprintf(f,
		"usage: cprof threads -p PID [options]\n"
		"\n"
		"Prints the stack of every thread of a running process, like Go's\n"
		"goroutine dump. Threads are stopped with PTRACE_SEIZE and\n"
		"PTRACE_INTERRUPT for the few milliseconds the unwinding takes, then\n"
		"let go before symbols are looked up; if cprof is killed the process\n"
		"runs on, and a stopped process stays stopped. A thread in\n"
		"uninterruptible sleep (state D) is waited for 50 ms once the others\n"
		"have stopped, then reported without a user stack, with the kernel\n"
		"function it sleeps in (exit status 1). Frames read 'f(...)', but a\n"
		"C++ name shows its own parameters; thread, function and file names\n"
		"are printed with control characters escaped ('\\x1b').\n"
		"\n"
		"options:\n"
		"  -p, --pid PID           the process to dump\n"
		"  -f, --format FMT        text (default): every thread, main first;\n"
		"                          summary: identical stacks grouped, most common\n"
		"                          first; json: one document for tools;\n"
		"                          debug1: Go's goroutine?debug=1 layout;\n"
		"                          pprof: a threads/count profile (never to a\n"
		"                          terminal: give -o or redirect the output)\n"
		"  -o, --output FILE       write to FILE instead of standard output ('-');\n"
		"                          a regular file is replaced atomically (through\n"
		"                          symbolic links, keeping its mode and owner), a\n"
		"                          device or FIFO written in place\n"
		"      --max-frames N      frames per thread, 1 to 65536 (default: %zu);\n"
		"                          longer stacks are marked as cut\n"
		"      --one-at-a-time     stop one thread at a time: shortest pauses,\n"
		"                          but not one consistent snapshot\n"
		"      --unwinder NAME     libdw (default: elfutils, as eu-stack) or\n"
		"                          libunwind (our memory cache and unwind tables\n"
		"                          read in the process; no .debug_frame)\n"
		"      --system-lines      also read file:line and inlined functions from\n"
		"                          separate debug files (e.g. libc6-dbg's); slower:\n"
		"                          libc alone adds ~50-100 ms. By default those\n"
		"                          libraries' frames show function names only\n"
		"  -v, --verbose           print where the time went and how long the\n"
		"                          threads were stopped\n"
		"  -h, --help              show this help\n"
		"\n"
		"examples:\n"
		"  cprof threads -p 1234                      every thread's stack\n"
		"  cprof threads -p 1234 -f summary           grouped, for many threads\n"
		"  cprof threads -p 1234 -f json | jq .threads[].name\n"
		"  cprof threads -p 1234 -f pprof -o t.pprof  then: go tool pprof -top t.pprof\n"
		"\n"
		"A stack that stops before its outermost frame (no unwind information\n"
		"for some code, e.g. a library deleted or replaced since it was loaded,\n"
		"which only root can read) says so in every format and makes the exit\n"
		"status 1, as with eu-stack.\n"
		"\n"
		"Needs ptrace permission: the same user as the target (with Yama\n"
		"ptrace_scope 0, where Yama exists) or root / CAP_SYS_PTRACE.\n"
		"See cprof-threads(1).\n",
		threads_defaults.max_frames);
}

static int threads_cli_parse(int argc, char **argv, struct threads_cli *cli)
{
	static const struct option longopts[] = {
		{ "pid",           required_argument, NULL, 'p' },
		{ "format",        required_argument, NULL, 'f' },
		{ "output",        required_argument, NULL, 'o' },
		{ "max-frames",    required_argument, NULL, 'M' },
		{ "one-at-a-time", no_argument,       NULL, '1' },
		{ "unwinder",      required_argument, NULL, 'U' },
		{ "system-lines",  no_argument,       NULL, 'L' },
		{ "verbose",       no_argument,       NULL, 'v' },
		{ "help",          no_argument,       NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static const char *formats[] = { "text", "summary", "json", "debug1", "pprof" };
	int c;

	memset(cli, 0, sizeof(*cli));
	cli->output = "-";
	cli->max_frames = threads_defaults.max_frames;
	cli->unwinder = threads_defaults.unwinder;
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":p:f:o:vh", longopts, NULL)) != -1) {
		switch (c) {
		case 'p':
			if (cli_parse_pid("--pid", optarg, &cli->pid) < 0)
				return -1;
			break;
		case 'f': {
			size_t i;
			for (i = 0; i < sizeof(formats) / sizeof(formats[0]); i++)
				if (!strcmp(optarg, formats[i]))
					break;
			if (i == sizeof(formats) / sizeof(formats[0])) {
				cli_error("invalid --format '%s': must be text, summary, json, debug1 or pprof",
					  optarg);
				return -1;
			}
			cli->format = (int)i;
			break;
		}
		case 'o':
			if (!*optarg) {
				cli_error("invalid --output '': empty file name");
				cli_hint("give a file name, e.g. -o threads.txt, or '-' for standard output");
				return -1;
			}
			cli->output = optarg;
			break;
		case 'M':
			if (cli_parse_ulong("--max-frames", optarg, 1, 65536,
					    &cli->max_frames) < 0)
				return -1;
			break;
		case '1':
			cli->one_at_a_time = true;
			break;
		case 'U':
			if (!strcmp(optarg, "libunwind")) {
				cli->unwinder = THREADS_UNWIND_LIBUNWIND;
			} else if (!strcmp(optarg, "libdw")) {
				cli->unwinder = THREADS_UNWIND_LIBDW;
			} else {
				cli_error("invalid --unwinder '%s': must be libunwind or libdw", optarg);
				return -1;
			}
			break;
		case 'L':
			cli->system_lines = true;
			break;
		case 'v':
			cli->verbose = true;
			break;
		case 'h':
			cli->help = true;
			return 0;
		default:
			return cli_bad_option("threads", c, argv);
		}
	}
	if (optind < argc) {
		cli_error("unexpected argument '%s'", argv[optind]);
		cli_hint("give the process with -p PID: 'cprof threads -p %s'", argv[optind]);
		return -1;
	}
	if (!cli->pid) {
		cli_error("no process given");
		cli_hint("'cprof threads -p PID'; find the PID with 'pgrep NAME'");
		return -1;
	}
	return 0;
}

static int threads_output(const struct threads_cli *cli,
			  const struct threads_dump *d, struct symbolizer *sym,
			  uint8_t **data, size_t *len)
{
	static const enum threads_format fmt[] = {
		[OUT_TEXT] = THREADS_FMT_TEXT, [OUT_SUMMARY] = THREADS_FMT_SUMMARY,
		[OUT_JSON] = THREADS_FMT_JSON, [OUT_DEBUG1] = THREADS_FMT_GO_DEBUG1,
	};
	int r;

	if (cli->format == OUT_PPROF) {
		struct profile *p = NULL;
		r = threads_to_profile(d, sym, &p);
		if (r == 0)
			r = pprof_encode(p, data, len);
		profile_free(p);
		return r;
	}
	char *buf = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&buf, &n);
	if (!f)
		return -errno;
	r = threads_write(d, sym, fmt[cli->format], f);
	if (fclose(f) != 0 && r == 0)
		r = -errno;
	*data = (uint8_t *)buf;
	*len = n;
	return r;
}

/* The first lookup in a module loads its DWARF: with a -dbg package whose
 * debug sections are compressed (libc6-dbg), 50 ms of inflate for libc
 * alone, more than the whole capture of 1,000 threads. Those lookups are
 * started in the background now, to overlap with the capture, for modules
 * sure to be on the stacks: the main binary and where a few threads are
 * blocked (/proc/PID/task/TID/syscall, read without stopping them). The
 * symbolizer waits for them before any other use. */
static void threads_prefetch(struct symbolizer *sym, pid_t pid)
{
	enum { SAMPLES = 8 };
	const struct sym_module *const *mods;
	uint64_t addrs[SAMPLES + 1];
	pid_t tids[SAMPLES];
	size_t n = 0, ntids = 0;

	if (symbolizer_modules(sym, &mods) > 0)
		addrs[n++] = mods[0]->start;
	/* The main thread and the next few: listing all of a 1,000-thread
	 * process costs a millisecond, for a guess. */
	if (procfs_list_some_tasks(pid, tids, SAMPLES, &ntids) < 0)
		ntids = 0;
	for (size_t k = 0; k < ntids; k++) {
		struct procfs_syscall sc;
		if (procfs_read_syscall(pid, tids[k], &sc) == 0 && sc.nr != -2 &&
		    sc.pc)
			addrs[n++] = sc.pc;
	}
	symbolizer_prefetch(sym, addrs, n);
}

/* A stack that stops before the outermost frame makes the dump partial, as
 * eu-stack exits 1 when dwfl_thread_getframes fails for a thread: one
 * warning naming the first, and a hint when it stopped in a file deleted
 * or replaced since it was mapped, which only root can read
 * (docs/design.md §4.3). Returns the number of incomplete stacks. */
static size_t threads_warn_incomplete(const struct threads_dump *d,
				      struct symbolizer *sym)
{
	size_t n = threads_incomplete(d), live = 0;
	const struct threads_thread *first = NULL;
	const char *mod = NULL;
	char why[256];

	if (n == 0)
		return 0;
	for (size_t i = 0; i < d->n; i++) {
		live += !d->threads[i].exited;
		if (!first && threads_describe_stop(&d->threads[i], sym, why,
						    sizeof(why), &mod))
			first = &d->threads[i];
	}
	cli_warn("%zu of %zu stacks incomplete, the first in thread %d: %s", n, live,
		 (int)first->tid, why);
	size_t ml = mod ? strlen(mod) : 0, dl = strlen(" (deleted)");
	if (first->stop == PTUNWIND_STOP_NO_INFO && ml > dl &&
	    strcmp(mod + ml - dl, " (deleted)") == 0 && geteuid() != 0)
		cli_hint("the file was deleted or replaced since pid %d mapped it; "
			 "as root, cprof reads it through /proc/%d/map_files",
			 (int)d->pid, (int)d->pid);
	return n;
}

int cmd_threads(int argc, char **argv)
{
	struct threads_cli cli;
	struct symbolizer *sym = NULL;
	struct threads_dump *d = NULL;
	char err[512] = "", buf[2048];
	uint8_t *data = NULL;
	size_t len = 0;
	struct outfile *out = NULL;
	int status = CPROF_EXIT_FATAL, r;

	if (threads_cli_parse(argc, argv, &cli) < 0)
		return CPROF_EXIT_USAGE;
	if (cli.help) {
		threads_usage(stdout);
		return CPROF_EXIT_OK;
	}
	if (cli_check_target(cli.pid) < 0 || cli_check_access(cli.pid, EXPLAIN_TRACE) < 0)
		return CPROF_EXIT_FATAL;
	/* What -o names is opened before any thread stops: a FIFO's reader
	 * is waited for now, not while the target is stopped. A binary
	 * profile never goes to a terminal. */
	r = cli_output_open(cli.output, cli.format == OUT_PPROF,
			    cli.format == OUT_PPROF ? "threads.pprof" : "threads.txt", &out);
	if (r)
		return r;
	/* A closed pipe must give EPIPE on write, not kill us silently. The
	 * other stop signals keep their default action: src/threads.c holds
	 * them until every thread is detached. */
	signal(SIGPIPE, SIG_IGN);

	/* Reporting modules reads /proc/PID/maps and ELF headers: done before
	 * the threads are stopped, so it adds nothing to the pause. */
	double t0 = threads_now();
	r = symbolizer_new(cli.pid, false, &sym, err, sizeof(err));
	double t1 = threads_now();
	if (r == -EACCES || r == -EPERM) {
		/* The maps of another user's process: ptrace would fail too. */
		cli_explain(explain_ptrace(-EPERM, cli.pid, err, buf, sizeof(buf)));
		goto out_sym;
	}
	if (r < 0) {
		if (cli.format == OUT_PPROF) {
			cli_error("cannot read the modules of pid %d: %s", (int)cli.pid, err);
			goto out_sym;
		}
		cli_warn("no symbols for pid %d (%s): printing addresses", (int)cli.pid, err);
		sym = NULL;
	}

	if (sym) {
		/* A dump is over in tens of ms; reading libc's compressed DWARF
		 * from libc6-dbg alone takes longer. Functions keep their names
		 * from the debug file's symbol table either way. */
		symbolizer_set_lines(sym, cli.system_lines ? SYM_LINES_ALL : SYM_LINES_OWN);
		threads_prefetch(sym, cli.pid);
	}

	struct threads_opts opts = {
		.pid = cli.pid,
		.max_frames = cli.max_frames,
		.one_at_a_time = cli.one_at_a_time,
		/* summary prints no state or CPU time, and 8 names a group */
		.no_info = cli.format == OUT_SUMMARY,
		.unwinder = cli.unwinder,
		.maps = sym ? symbolizer_maps(sym) : NULL,
	};
	err[0] = '\0';
	r = threads_capture(&opts, &d, err, sizeof(err));
	if (r < 0) {
		cli_explain(explain_ptrace(r, cli.pid, err, buf, sizeof(buf)));
		goto out_sym;
	}
	double t2 = threads_now();
	r = threads_output(&cli, d, sym, &data, &len);
	if (cli.verbose)
		cli_info("%zu threads of pid %d: modules %.1f ms, "
			"capture %.1f ms (unwinder set-up %.1f, stop %.1f, "
			"unwind %.1f, detach %.1f; longest stop %.3f ms; %s, %s, "
			"%u tracer thread%s), "
			"symbols and output %.1f ms", d->n, (int)cli.pid,
			(t1 - t0) * 1e3, (t2 - t1) * 1e3, d->setup_ns / 1e6,
			d->stop_ns / 1e6, d->unwind_ns / 1e6, d->detach_ns / 1e6,
			d->longest_stop_ns / 1e6,
			cli.unwinder == THREADS_UNWIND_LIBDW ? "libdw" : "libunwind",
			cli.one_at_a_time ? "one at a time" : "snapshot",
			d->tracers ? d->tracers : 1, d->tracers > 1 ? "s" : "",
			(threads_now() - t2) * 1e3);
	if (r < 0) {
		cli_error("cannot format the dump: %s", strerror(-r));
		goto out_dump;
	}
	if (cli_output_write(out, cli.output, data, len) < 0)
		goto out_dump;
	/* A thread without a stack (one in uninterruptible sleep, too) makes
	 * the dump partial: exit status 1, as man/cprof-threads.1 says. */
	status = CPROF_EXIT_OK;
	for (size_t i = 0; i < d->n; i++)
		if ((d->threads[i].error || d->threads[i].uninterruptible) &&
		    !d->threads[i].exited) {
			char why[128];
			cli_warn("thread %d: %s", (int)d->threads[i].tid,
				 threads_no_stack_reason(&d->threads[i], why, sizeof(why)));
			status = CPROF_EXIT_PARTIAL;
		}
	if (threads_warn_incomplete(d, sym) > 0)
		status = CPROF_EXIT_PARTIAL;
out_dump:
	free(data);
	threads_dump_free(d);
out_sym:
	symbolizer_free(sym);
	outfile_close(out);
	return status;
}

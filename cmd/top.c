/*
 * top.c - `cprof top`: a live view of where a process spends its time,
 * refreshed every second, in the manner of perf top.
 *
 * One recording (record_run) runs for the whole session: its events are
 * opened once, every sample reaches topview (src/topview.c) through the
 * sample callback, and the tick callback, ten times a second, reads the
 * keyboard and, once a second, closes topview's second and draws.
 *
 * On a terminal the view is drawn with plain ECMA-48/xterm escape
 * sequences in the alternate screen, the terminal in non-canonical mode
 * without echo or signals (docs/design.md §10: why not ncurses). The
 * terminal is set up only once the events are open, so that an error
 * before that is printed on an untouched terminal, and restored by
 * tty_restore on every way out of cmd_top: q, Ctrl-C (a key then, not a
 * signal), SIGINT, SIGTERM and SIGHUP (the handler only sets a flag; the
 * tick sees it and the recording ends), --seconds, the target's exit, an
 * error. SIGTSTP gives the terminal back while cprof is stopped (on_tstp).
 * Not on a terminal, each refresh is a block of plain lines.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <langinfo.h>
#include <locale.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "cmd.h"
#include "escape.h"
#include "explain.h"
#include "procfs.h"
#include "record.h"
#include "topview.h"

#define TOP_DEFAULT_FREQ 99u
#define TOP_DEFAULT_WINDOW 5u
#define TOP_DEFAULT_LINES 20u
#define TOP_HISTORY 10u		/* seconds of trend */
#define TOP_MAX_ROWS 500u
#define MAX_SAMPLE_RATE_FILE "/proc/sys/kernel/perf_event_max_sample_rate"

struct top_cli {
	pid_t pid;
	enum record_profile profile;
	double seconds;
	unsigned freq;
	unsigned window;
	unsigned lines;			/* rows per block, plain mode */
	enum sampler_callgraph callgraph;
	bool children;
	bool kernel;
	bool help;
};

static void top_usage(FILE *f)
{
	fprintf(f,
		"usage: cprof top -p PID [options]\n"
		"\n"
		"A live view of the functions a process spends its time in, refreshed\n"
		"every second: each function's share of the samples of the last few\n"
		"seconds (-w), as self time (in the function itself) and total time\n"
		"(in it or what it calls), with its module and a trend of its self\n"
		"share over the last %u seconds.\n"
		"\n"
		"options:\n"
		"  -p, --pid PID            the process to watch\n"
		"  -F, --freq HZ            samples per second of CPU time (default %u)\n"
		"  --profile cpu|wall       cpu (default): CPU time; wall: off-CPU time\n"
		"                           too, each wait shown when it ends, named by\n"
		"                           its system call (needs root or CAP_PERFMON)\n"
		"  --children               also the processes PID forks\n"
		"  -s, --seconds N          end after N seconds (default: until q or the\n"
		"                           target exits)\n"
		"  -w, --window N           seconds the shares are taken over (default %u)\n"
		"  -n, --lines N            rows per refresh when not on a terminal\n"
		"                           (default %u)\n"
		"  -g, --call-graph MODE    dwarf (default) or fp\n"
		"  -h, --help               this help\n"
		"\n"
		"keys: s self sort, t total sort, Tab switch, f/F next/previous thread\n"
		"(all threads after the last), p or space pause (sampling goes on),\n"
		"? help line, q or Ctrl-C quit.\n"
		"\n"
		"When standard output is not a terminal, each refresh is a block of\n"
		"plain lines: a line starting with '---' and the time, a header, then\n"
		"the top rows.\n"
		"\n"
		"examples:\n"
		"  cprof top -p 1234\n"
		"  cprof top -p 1234 -F 999 --profile wall\n"
		"  cprof top -p 1234 --seconds 10 > top.log\n"
		"\n"
		"exit status: 0 when ended by q, Ctrl-C, a signal, --seconds or the\n"
		"target's exit; 2 on an error; 64 on a bad command line. See\n"
		"cprof-top(1).\n",
		TOP_HISTORY, TOP_DEFAULT_FREQ, TOP_DEFAULT_WINDOW, TOP_DEFAULT_LINES);
}

static int top_parse(int argc, char **argv, struct top_cli *cli)
{
	static const struct option longopts[] = {
		{ "pid",        required_argument, NULL, 'p' },
		{ "freq",       required_argument, NULL, 'F' },
		{ "profile",    required_argument, NULL, 'P' },
		{ "children",   no_argument,       NULL, 'C' },
		{ "seconds",    required_argument, NULL, 's' },
		{ "window",     required_argument, NULL, 'w' },
		{ "lines",      required_argument, NULL, 'n' },
		{ "call-graph", required_argument, NULL, 'g' },
		{ "help",       no_argument,       NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	unsigned long v;
	int c;

	memset(cli, 0, sizeof(*cli));
	cli->freq = TOP_DEFAULT_FREQ;
	cli->window = TOP_DEFAULT_WINDOW;
	cli->lines = TOP_DEFAULT_LINES;
	cli->callgraph = SAMPLER_CG_DWARF;
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+:p:F:s:w:n:g:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'p':
			if (cli_parse_pid("--pid", optarg, &cli->pid) < 0)
				return -1;
			break;
		case 'F': {
			long max_rate = 100000;

			procfs_read_long(MAX_SAMPLE_RATE_FILE, &max_rate);
			if (cli_parse_ulong("-F", optarg, 1, (unsigned long)max_rate, &v) < 0)
				return -1;
			cli->freq = (unsigned)v;
			break;
		}
		case 'P':
			if (record_profile_parse(optarg, &cli->profile) < 0 ||
			    (cli->profile != RECORD_CPU && cli->profile != RECORD_WALL)) {
				cli_error("invalid --profile '%s': must be cpu or wall", optarg);
				cli_hint("cpu (the default) shows CPU time; wall adds the time "
					 "threads spend waiting");
				return -1;
			}
			break;
		case 'C':
			cli->children = true;
			break;
		case 's':
			if (cli_parse_seconds("--seconds", optarg, &cli->seconds) < 0)
				return -1;
			break;
		case 'w':
			if (cli_parse_ulong("--window", optarg, 1, TOPVIEW_MAX_HISTORY, &v) < 0)
				return -1;
			cli->window = (unsigned)v;
			break;
		case 'n':
			if (cli_parse_ulong("--lines", optarg, 1, TOP_MAX_ROWS, &v) < 0)
				return -1;
			cli->lines = (unsigned)v;
			break;
		case 'g':
			if (cli_parse_callgraph(optarg, &cli->callgraph) < 0)
				return -1;
			break;
		case 'h':
			cli->help = true;
			return 0;
		default:
			return cli_bad_option("top", c, argv);
		}
	}
	if (optind < argc) {
		cli_error("unexpected argument '%s': cprof top watches a running process",
			  argv[optind]);
		cli_hint("give its PID: 'cprof top -p PID'; to profile a command from its "
			 "start, use 'cprof record -- COMMAND'");
		return -1;
	}
	if (!cli->pid) {
		cli_error("nothing to watch: give -p PID");
		cli_hint("'cprof top -p 1234'; find the PID with 'pgrep NAME'");
		return -1;
	}
	return 0;
}

/* --- the terminal ---------------------------------------------------------- */

static struct termios tty_saved;	/* the modes the terminal had */
static struct termios tty_view;		/* the view's */
static bool tty_keys;			/* the view sets tty_view */
/* What tty_restore must undo; also read by the SIGTSTP handler. */
static volatile sig_atomic_t tty_raw;	/* tty_saved must be put back */
static volatile sig_atomic_t tty_screen;	/* the alternate screen is shown */
static volatile sig_atomic_t winch;	/* draw again at once */
static const char tty_enter_seq[] = "\033[?1049h\033[?25l\033[?7l\033[H\033[2J";

static void on_winch(int sig)
{
	(void)sig;
	winch = 1;
}

/* All of buf to fd, through interruptions. */
static int write_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t n = write(fd, buf, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Attributes reset, line wrap back on, cursor shown, alternate screen
 * off; then the modes the terminal had. Safe to call twice. */
static void tty_restore(void)
{
	if (tty_screen) {
		static const char leave[] = "\033[0m\033[?7h\033[?25h\033[?1049l";

		write_all(STDOUT_FILENO, leave, sizeof(leave) - 1);
		tty_screen = 0;
	}
	if (tty_raw) {
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &tty_saved);
		tty_raw = 0;
	}
}

/* The view's modes and screen, set up or set again after a stop. */
static int tty_enter(void)
{
	if (tty_keys) {
		if (tcsetattr(STDIN_FILENO, TCSAFLUSH, &tty_view) < 0)
			return -errno;
		tty_raw = 1;
	}
	tty_screen = 1;
	if (write_all(STDOUT_FILENO, tty_enter_seq, sizeof(tty_enter_seq) - 1) < 0)
		return -errno;
	return 0;
}

/* Keys one at a time without echo, Ctrl-C as a key (so that it quits
 * through the same path as q), reads that never block; then the
 * alternate screen with the cursor hidden and no line wrap (a line
 * wider than the screen is cut at its edge, never scrolls it). */
static int tty_setup(bool keys)
{
	tty_keys = keys;
	if (keys) {
		if (tcgetattr(STDIN_FILENO, &tty_saved) < 0)
			return -errno;
		tty_view = tty_saved;
		tty_view.c_lflag &= ~(tcflag_t)(ICANON | ECHO | ISIG | IEXTEN);
		tty_view.c_iflag &= ~(tcflag_t)(IXON | ICRNL);
		tty_view.c_cc[VMIN] = 0;
		tty_view.c_cc[VTIME] = 0;
	}
	return tty_enter();
}

static void on_tstp(int sig);

static void catch_tstp(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_tstp;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTSTP, &sa, NULL);
}

/* SIGTSTP (kill -TSTP; Ctrl-Z is a key, ISIG being off): the terminal as
 * it was while cprof is stopped, the view again once continued. Only
 * async-signal-safe calls: write, tcsetattr, sigaction, sigprocmask,
 * raise. The events stay open meanwhile; the target runs on. */
static void on_tstp(int sig)
{
	int e = errno;
	bool view = tty_screen;
	struct sigaction dfl;
	sigset_t set;

	tty_restore();
	memset(&dfl, 0, sizeof(dfl));
	dfl.sa_handler = SIG_DFL;
	sigemptyset(&dfl.sa_mask);
	sigaction(sig, &dfl, NULL);
	sigemptyset(&set);
	sigaddset(&set, sig);
	sigprocmask(SIG_UNBLOCK, &set, NULL);
	raise(sig);
	/* Continued. */
	catch_tstp();
	if (view)
		tty_enter();
	winch = 1;
	errno = e;
}

static void tty_size(unsigned *rows, unsigned *cols)
{
	struct winsize ws;

	*rows = 24;
	*cols = 80;
	if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_row && ws.ws_col) {
		*rows = ws.ws_row;
		*cols = ws.ws_col;
	}
}

/* --- the session ----------------------------------------------------------- */

struct top {
	const struct top_cli *cli;
	struct topview *tv;
	char comm[64];			/* escaped */
	bool screen;			/* full-screen, else plain blocks */
	bool keys;			/* stdin is a terminal */
	bool utf8;
	bool paused, help, quit;
	enum topview_sort sort;
	long thread;			/* topview thread index; -1: all */
	uint64_t next_refresh;		/* CLOCK_MONOTONIC ns */
	struct record_stats st;		/* at the last refresh */
	struct topview_row rows[TOP_MAX_ROWS];
	size_t nrows;
	struct topview_summary sum;
	bool have_rows;
	int error;			/* -errno of the view itself */
};

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* The number of characters (UTF-8 code points) in s. */
static size_t text_width(const char *s)
{
	size_t w = 0;

	for (; *s; s++)
		w += ((unsigned char)*s & 0xc0) != 0x80;
	return w;
}

/* s escaped, cut to at most width characters (a cut name ends in '+'),
 * padded with spaces to width when pad. */
static void put_field(FILE *f, const char *s, size_t width, bool pad)
{
	char buf[1024];
	size_t w = 0, i = 0;

	escape_str(buf, sizeof(buf), s);
	size_t all = text_width(buf);
	for (; buf[i]; i++) {
		bool start = ((unsigned char)buf[i] & 0xc0) != 0x80;
		if (start && all > width && w + 1 >= width)
			break;
		if (start && w >= width)
			break;
		w += start;
		fputc(buf[i], f);
	}
	if (all > width && width) {
		fputc('+', f);
		w++;
	}
	while (pad && w < width) {
		fputc(' ', f);
		w++;
	}
}

/* The trend as one character a second: its self share of that second,
 * a full block being 100%, the lowest bar anything above 0; blank for no
 * self time, or a second with no sample. */
static void put_trend(FILE *f, const struct topview_row *r, bool utf8)
{
	static const char *const bars[] = { "\u2581", "\u2582", "\u2583", "\u2584",
					    "\u2585", "\u2586", "\u2587", "\u2588" };
	static const char ascii[] = "_.-=+*#@";

	for (size_t k = r->ntrend; k < TOP_HISTORY; k++)
		fputc(' ', f);
	for (size_t k = 0; k < r->ntrend; k++) {
		double v = r->trend[k];
		if (v < 0) {
			fputc(' ', f);
			continue;
		}
		int level = (int)(v * 8);
		if (level > 7)
			level = 7;
		if (v <= 0) {
			fputc(' ', f);
			continue;
		}
		if (utf8)
			fputs(bars[level], f);
		else
			fputc(ascii[level], f);
	}
}

static const char *thread_label(const struct top *t, char *buf, size_t len)
{
	pid_t tid;
	const char *name;

	if (t->thread < 0 || !topview_thread(t->tv, (size_t)t->thread, &tid, &name)) {
		snprintf(buf, len, "all");
		return buf;
	}
	char esc[64];
	escape_str(esc, sizeof(esc), name);
	snprintf(buf, len, "%s (%d)", esc, (int)tid);
	return buf;
}

/* s (escaped already) up to width characters; returns how many. */
static size_t put_cut(FILE *f, const char *s, size_t width)
{
	size_t w = 0;

	for (; *s; s++) {
		bool start = ((unsigned char)*s & 0xc0) != 0x80;
		if (start && w == width)
			break;
		w += start;
		fputc(*s, f);
	}
	return w;
}

/* The first header line: the target and the sampling. */
static void put_header(struct top *t, FILE *f)
{
	double rate = t->sum.seconds ? (double)t->sum.samples / t->sum.seconds : 0;
	unsigned long el = (unsigned long)t->st.elapsed;

	fprintf(f, "pid %d (%s)  %s %u Hz  %.0f samples/s  lost %llu  threads %zu  "
		"elapsed %lu:%02lu:%02lu",
		(int)t->cli->pid, t->comm, record_profile_name(t->cli->profile),
		t->cli->freq, rate, (unsigned long long)t->st.lost, t->st.threads,
		el / 3600, el / 60 % 60, el % 60);
}

/* The second: what is shown. */
static void put_view(struct top *t, FILE *f)
{
	char thr[96];

	fprintf(f, "window %u s  sort %s  thread %s", t->sum.seconds,
		t->sort == TOPVIEW_SORT_SELF ? "self" : "total",
		thread_label(t, thr, sizeof(thr)));
	if (t->sum.off_cpu_ns && t->sum.weight_ns)
		fprintf(f, "  off-cpu %.1f%%",
			100.0 * (double)t->sum.off_cpu_ns / (double)t->sum.weight_ns);
}

static void put_row(struct top *t, FILE *f, const struct topview_row *r,
		    size_t fn_width, size_t mod_width)
{
	fprintf(f, "%6.1f%% %6.1f%%  ", 100 * r->self, 100 * r->total);
	put_trend(f, r, t->utf8);
	fputs("  ", f);
	put_field(f, r->function, fn_width, true);
	fputs(" ", f);
	put_field(f, r->module, mod_width, false);
}

/* One frame of the full-screen view into f: home, each line cleared to
 * its end, the rest of the screen cleared. */
static void draw_screen(struct top *t, FILE *f)
{
	unsigned rows, cols;

	tty_size(&rows, &cols);
	fputs("\033[H", f);
	/* The header may be wider than the screen: cut, never wrapped. */
	char *hdr = NULL;
	size_t hlen = 0;
	FILE *h = open_memstream(&hdr, &hlen);
	if (h) {
		fputs("cprof top  ", h);
		put_header(t, h);
		fclose(h);
		fputs("\033[7m", f);
		size_t w = put_cut(f, hdr, cols);
		for (; w < cols; w++)
			fputc(' ', f);
		fputs("\033[0m\r\n", f);
		free(hdr);
	}
	if (t->help) {
		put_field(f, "s self  t total  Tab switch  f/F next/previous thread  "
			  "p/space pause  ? help  q quit", cols, false);
	} else {
		char *v = NULL;
		size_t vlen = 0;
		FILE *m = open_memstream(&v, &vlen);
		if (m) {
			put_view(t, m);
			fputs(t->paused ? "  [PAUSED]" : "", m);
			fputs(t->have_rows ? "  (? keys)" : "  collecting samples...", m);
			fclose(m);
			put_cut(f, v, cols);
			free(v);
		}
	}
	fputs("\033[K\r\n", f);
	const size_t fixed = 8 + 8 + 2 + TOP_HISTORY + 2;
	size_t rest = cols > fixed + 10 ? cols - fixed - 1 : 10;
	size_t mod_width = rest / 4 > 24 ? 24 : rest / 4;
	size_t fn_width = rest - mod_width;
	fprintf(f, "\033[1m%7s %7s  %-*s  ", "SELF", "TOTAL", (int)TOP_HISTORY, "TREND");
	put_field(f, "FUNCTION", fn_width, true);
	fputs(" MODULE\033[0m\033[K\r\n", f);
	size_t avail = rows > 3 ? rows - 3 : 0;
	/* No line feed after the last row: on the bottom line it would
	 * scroll the screen. */
	for (size_t i = 0; i < t->nrows && i < avail; i++) {
		if (i)
			fputs("\r\n", f);
		put_row(t, f, &t->rows[i], fn_width, mod_width);
		fputs("\033[K", f);
	}
	fputs("\033[J", f);
}

/* One refresh as plain lines. */
static void draw_plain(struct top *t, FILE *f)
{
	char when[64];
	time_t now = time(NULL);
	struct tm tm;

	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&now, &tm));
	fprintf(f, "--- %s\n", when);
	put_header(t, f);
	fputs("  ", f);
	put_view(t, f);
	fprintf(f, "\n%7s %7s  %-*s  %s\n", "SELF", "TOTAL", (int)TOP_HISTORY, "TREND",
		"FUNCTION MODULE");
	for (size_t i = 0; i < t->nrows && i < t->cli->lines; i++) {
		put_row(t, f, &t->rows[i], 48, 32);
		fputc('\n', f);
	}
	fputc('\n', f);
}

static int draw(struct top *t)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (!f)
		return -ENOMEM;
	if (t->screen)
		draw_screen(t, f);
	else
		draw_plain(t, f);
	if (fclose(f) != 0) {
		free(buf);
		return -ENOMEM;
	}
	int ret = write_all(STDOUT_FILENO, buf, len) < 0 ? -errno : 0;
	free(buf);
	return ret;
}

static int compute(struct top *t)
{
	size_t max = TOP_MAX_ROWS;
	int ret = topview_rows(t->tv, t->sort, t->thread, t->rows, max, &t->nrows, &t->sum);

	if (ret == 0)
		t->have_rows = true;
	return ret;
}

/* A key: returns true when the view must be drawn again. */
static bool on_key(struct top *t, unsigned char c)
{
	size_t nthreads = topview_nthreads(t->tv);

	switch (c) {
	case 'q': case 'Q': case 3:	/* Ctrl-C */
		t->quit = true;
		return false;
	case 's':
		t->sort = TOPVIEW_SORT_SELF;
		break;
	case 't':
		t->sort = TOPVIEW_SORT_TOTAL;
		break;
	case '\t':
		t->sort = t->sort == TOPVIEW_SORT_SELF ? TOPVIEW_SORT_TOTAL : TOPVIEW_SORT_SELF;
		break;
	case 'f':	/* all, then each thread in turn */
		t->thread = t->thread + 1 < (long)nthreads ? t->thread + 1 : -1;
		break;
	case 'F':
		t->thread = t->thread < 0 ? (long)nthreads - 1 : t->thread - 1;
		break;
	case 'p': case ' ':
		t->paused = !t->paused;
		return true;
	case '?': case 'h':
		t->help = !t->help;
		return true;
	default:
		return false;
	}
	return true;
}

static int on_tick(const struct record_stats *st, void *arg)
{
	struct top *t = arg;
	uint64_t now = mono_ns();
	bool redraw = false, recompute = false;

	if (cli_stop_signal)
		return 1;
	if (t->keys) {
		unsigned char buf[64];
		ssize_t n = read(STDIN_FILENO, buf, sizeof(buf));

		for (ssize_t i = 0; i < n; i++) {
			bool r = on_key(t, buf[i]);
			/* Sort and filter apply at once, even paused. */
			recompute |= r && buf[i] != 'p' && buf[i] != ' ' &&
				     buf[i] != '?' && buf[i] != 'h';
			redraw |= r;
		}
		if (t->quit)
			return 1;
	}
	if (winch) {
		winch = 0;
		redraw = true;
	}
	if (now >= t->next_refresh) {
		t->next_refresh += 1000000000ULL;
		if (t->next_refresh <= now)
			t->next_refresh = now + 1000000000ULL;
		topview_advance(t->tv);
		if (!t->paused) {
			t->st = *st;
			recompute = redraw = true;
		}
	}
	if (recompute) {
		int ret = compute(t);
		if (ret < 0) {
			t->error = ret;
			return 1;
		}
	}
	/* Plain blocks: one a second, never for keys. A reader that went
	 * away (| head) ends the view quietly; another error is said. */
	if ((redraw && t->screen) || (!t->screen && recompute && !t->paused)) {
		int ret = draw(t);
		if (ret < 0) {
			if (ret != -EPIPE)
				t->error = ret;
			return 1;
		}
	}
	return 0;
}

static int on_sample(const struct record_sample *s, void *arg)
{
	struct top *t = arg;

	return topview_add(t->tv, s);
}

static int on_ready(void *arg)
{
	struct top *t = arg;

	t->next_refresh = mono_ns() + 1000000000ULL;
	if (!t->screen)
		return 0;
	int ret = tty_setup(t->keys);
	if (ret < 0) {
		tty_restore();
		return ret;
	}
	return draw(t);
}


int cmd_top(int argc, char **argv)
{
	struct top_cli cli;
	int status = CPROF_EXIT_FATAL;

	if (top_parse(argc, argv, &cli) < 0)
		return CPROF_EXIT_USAGE;
	if (cli.help) {
		top_usage(stdout);
		return CPROF_EXIT_OK;
	}
	if (cli_check_target(cli.pid) < 0)
		return CPROF_EXIT_FATAL;
	cli.kernel = cli_kernel_access();
	if (cli.profile == RECORD_WALL && !cli.kernel) {
		cli_error("--profile wall needs root or CAP_PERFMON: off-CPU stacks "
			  "are sampled in the kernel's scheduler (perf_event_paranoid is > 1)");
		cli_hint("run it with sudo, or use --profile cpu");
		return CPROF_EXIT_FATAL;
	}

	struct top *t = calloc(1, sizeof(*t));
	if (!t) {
		cli_error("out of memory");
		return CPROF_EXIT_FATAL;
	}
	t->cli = &cli;
	t->thread = -1;
	t->screen = isatty(STDOUT_FILENO);
	t->keys = t->screen && isatty(STDIN_FILENO);
	setlocale(LC_CTYPE, "");
	t->utf8 = !strcmp(nl_langinfo(CODESET), "UTF-8");
	t->tv = topview_new(cli.window, TOP_HISTORY);
	char comm[16] = "?";
	procfs_read_comm(cli.pid, 0, comm, sizeof(comm));
	escape_str(t->comm, sizeof(t->comm), comm);
	if (!t->tv) {
		cli_error("out of memory");
		goto out;
	}

	cli_catch_signals();
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_winch;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGWINCH, &sa, NULL);
	if (t->screen)
		catch_tstp();
	/* As cprof record: our wake-ups do not preempt the target. */
	struct sched_param sp = { .sched_priority = 0 };
	sched_setscheduler(0, SCHED_BATCH, &sp);

	struct record_opts opts = {
		.pid = cli.pid,
		.profile = cli.profile,
		.seconds = cli.seconds,
		.freq = cli.freq,
		.callgraph = cli.callgraph,
		.stack_size = 8192,
		.kernel = cli.kernel,
		.children = cli.children,
	};
	struct record_callbacks cb = {
		.ready = on_ready, .tick = on_tick, .sample = on_sample, .arg = t,
	};
	struct profile *profile = NULL;
	struct record_stats st;
	char err[512] = "";
	int r = record_run(&opts, &cb, &profile, &st, err, sizeof(err));
	/* No SIGTSTP between leaving the screen and saying so: its handler
	 * would bring the view back (on_tstp). */
	signal(SIGTSTP, SIG_IGN);
	tty_restore();
	profile_free(profile);
	/* Not on a terminal, the last part of a second is shown too: with
	 * --seconds N, N blocks. */
	if (r == 0 && !t->screen && !t->error && !t->quit && !cli_stop_signal &&
	    st.elapsed >= t->st.elapsed + 0.5) {
		t->st = st;
		topview_advance(t->tv);
		if (compute(t) == 0)
			draw(t);
	}
	if (r < 0 || t->error < 0) {
		char buf[2048];

		if (t->error < 0)
			cli_error("cannot keep the view: %s", strerror(-t->error));
		else if (r == -EACCES || r == -EPERM || r == -ESRCH || r == -EMFILE ||
			 r == -EBUSY || r == -ENOENT)
			cli_explain(explain_sampling(r, cli.pid, buf, sizeof(buf)));
		else {
			cli_error("cannot watch pid %d: %s", (int)cli.pid,
				  *err ? err : strerror(-r));
			cli_hint("check that pid %d is still running; try --call-graph fp "
				 "to rule out unwinding", (int)cli.pid);
		}
		goto out;
	}
	if (st.target_exited)
		cli_info("pid %d (%s) exited after %.1f s", (int)cli.pid, comm, st.elapsed);
	status = CPROF_EXIT_OK;
out:
	topview_free(t->tv);
	free(t);
	return status;
}

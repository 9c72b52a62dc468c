/*
 * cmd.h - what the subcommands share: exit codes, messages, option values,
 * target checks. Only cmd/ prints; src/ returns errors.
 */
#ifndef CPROF_CMD_H
#define CPROF_CMD_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include "sampler.h"

/* Exit status, documented in cprof(1) EXIT STATUS. */
enum {
	CPROF_EXIT_OK = 0,	/* done */
	CPROF_EXIT_PARTIAL = 1,	/* done, but part of the work failed */
	CPROF_EXIT_FATAL = 2,	/* nothing useful was produced */
	CPROF_EXIT_USAGE = 64,	/* bad command line (EX_USAGE) */
};

int cmd_record(int argc, char **argv);
int cmd_report(int argc, char **argv);
int cmd_threads(int argc, char **argv);
int cmd_serve(int argc, char **argv);
int cmd_top(int argc, char **argv);

/* "cprof: <message>" on stderr. Always returns -1. */
int cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* "hint: <message>" on stderr. */
void cli_hint(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* "cprof: warning: <message>" on stderr. */
void cli_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* "cprof: <message>" on stderr, for what is neither an error nor a
 * warning. These four escape the whole message (escape.h). */
void cli_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* One line as it is but escaped, on stderr (the server's access log). */
void cli_print(const char *line);
/* Prints a multi-line explanation from src/ (first line after "cprof: ",
 * lines starting "hint:" as they are). */
void cli_explain(const char *text);

/* Parsers: 0 on success; on failure print "cprof: invalid OPT 'VALUE': why"
 * with a hint and return -1. */
int cli_parse_pid(const char *opt, const char *s, pid_t *pid);
int cli_parse_ulong(const char *opt, const char *s, unsigned long min,
		    unsigned long max, unsigned long *v);
int cli_parse_seconds(const char *opt, const char *s, double *v);
/* --call-graph dwarf|fp. */
int cli_parse_callgraph(const char *s, enum sampler_callgraph *cg);
/* A size in bytes, or with a K, M, G or T suffix (powers of 1024), of at
 * least min bytes; prints the error and hint itself. */
int cli_parse_size(const char *opt, const char *s, unsigned long long min,
		   unsigned long long *v);

/* Reports what getopt_long rejected (c is ':' for a missing value, '?'
 * otherwise) for `cprof CMD`, with a hint pointing at its --help. Call it
 * right after getopt_long returned c, with opterr = 0. Returns -1. */
int cli_bad_option(const char *cmd, int c, char **argv);

/* Checks that pid can be profiled from the outside: it exists, it is not
 * cprof itself, not a kernel thread, not a thread id of another process,
 * not a zombie. Prints the error and hint
 * and returns -1 otherwise. */
int cli_check_target(pid_t pid);
/* Whether perf events may include the kernel (its frames, tracepoints):
 * CAP_PERFMON or CAP_SYS_ADMIN in effect, or perf_event_paranoid <= 1. */
bool cli_kernel_access(void);
/* Checks that cprof holds the capabilities it needs for pid (use: an enum
 * explain_use); prints the one-line error naming the missing capability
 * and hints, and returns -1 otherwise. */
int cli_check_access(pid_t pid, int use);

/* What -o names (cmd/output.c; "-" is standard output), opened and checked
 * before the work: prints the error and hint and returns the exit status
 * when it cannot be written or, for binary data, is a terminal; waits,
 * saying so, for a FIFO's reader. 0 with *out set otherwise. example is a
 * file name for the hints ("cpu.pprof"). */
struct outfile;
int cli_output_open(const char *path, bool binary, const char *example,
		    struct outfile **out);
/* Writes data to it; prints the error and hint (not for a closed pipe on
 * standard output) and returns -1 on failure. */
int cli_output_write(struct outfile *of, const char *path, const void *data,
		     size_t len);

/* The output formats of a profile (cmd/format.c). */
enum cli_format { CLI_FORMAT_PPROF, CLI_FORMAT_HTML, CLI_FORMAT_FOLDED, CLI_FORMAT_TOP };
/* By name ("pprof", "html", "folded", "top"); -1 when unknown (prints nothing). */
int cli_format_parse(const char *s, enum cli_format *f);
const char *cli_format_name(enum cli_format f);
/* By file name: .html/.htm the flame graph, .folded folded stacks, else pprof. */
enum cli_format cli_format_of_path(const char *path);
/* The profile in format f into *data (malloc'd, *len bytes): sample_type
 * (NULL: the default) for html, folded and top, title for html, top rows
 * for top. -EINVAL for an unknown sample type, with err listing those
 * that exist; -errno otherwise, err saying why. */
struct profile;
int cli_format_render(const struct profile *p, enum cli_format f, const char *sample_type,
		      const char *title, size_t top, char **data, size_t *len,
		      char *err, size_t errlen);

/* True when fd 2 is a terminal (progress lines are drawn). */
bool cli_stderr_is_tty(void);

/* Set by the SIGINT/SIGTERM/SIGHUP handler that cli_catch_signals installs. */
extern volatile int cli_stop_signal;
/* Installs that handler (without SA_RESTART, so blocking calls return EINTR)
 * and ignores SIGPIPE. */
void cli_catch_signals(void);

#endif

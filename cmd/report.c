/*
 * report.c - `cprof report`: the top functions of a pprof file, for users
 * without Go. Parses and validates here; src/report.c does the work.
 */
#include <errno.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "outfile.h"
#include "pprof.h"
#include "report.h"

/* Defaults, shown by --help and documented in cprof-report(1). */
static const struct {
	unsigned long top;
	unsigned long long max_memory;
} report_defaults = {
	.top = 20,
	.max_memory = PPROF_DEFAULT_MAX_MEMORY,
};

static void report_usage(FILE *f)
{
	fprintf(f,
		"usage: cprof report [--format top|html|folded] [-o OUT] [--top N]\n"
		"                    [--sample-type TYPE] [--max-memory SIZE] FILE\n"
		"\n"
		"Prints the functions of a pprof profile that account for the most\n"
		"samples, as 'go tool pprof -top' does: flat (in the function itself),\n"
		"cum (in it and what it calls), and their shares of the total.\n"
		"Or writes the profile as a flame graph (one HTML file that opens from\n"
		"disk in a browser, with nothing to download) or as folded stacks.\n"
		"FILE is any profile.proto file, gzipped or not: cprof's or Go's own.\n"
		"Its strings (names, comments) are printed with control characters\n"
		"escaped ('\\x1b').\n"
		"\n"
		"options:\n"
		"  -f, --format FORMAT  top: the table (default); html: a flame graph\n"
		"                       page; folded: 'root;...;leaf VALUE' lines\n"
		"                       (flamegraph.pl, inferno, speedscope)\n"
		"  -o, --output OUT     where to write it (default: standard output);\n"
		"                       a regular file is replaced atomically, a device\n"
		"                       or FIFO written in place\n"
		"  --top N              rows to print (top), 0 for all (default %lu)\n"
		"  --sample-type TYPE   the value to report, e.g. cpu or samples, in\n"
		"                       every format (html: the one shown first)\n"
		"                       (default: the profile's default, else its last)\n"
		"  --max-memory SIZE    memory the file may take decoded, e.g. 4G\n"
		"                       (default %lluM); input that decodes to over %d\n"
		"                       times its size is refused whatever the limit\n"
		"  -h, --help           this help\n"
		"\n"
		"examples:\n"
		"  cprof report cpu.pprof\n"
		"  cprof report --top 50 --sample-type samples cpu.pprof\n"
		"  cprof report --top 0 goroutine.pb.gz\n"
		"  cprof report --format html -o cpu.html cpu.pprof\n"
		"  cprof report --format folded cpu.pprof | flamegraph.pl > cpu.svg\n",
		report_defaults.top, report_defaults.max_memory >> 20, PPROF_MAX_EXPANSION);
}

/* Lists the sample types so that a wrong --sample-type has its fix. */
static void report_hint_types(const struct profile *p)
{
	char buf[512];
	size_t n = 0;
	buf[0] = '\0';
	for (size_t i = 0; i < p->nsample_types && n < sizeof(buf); i++) {
		const char *t = p->strings[p->sample_types[i].type];
		int w = snprintf(buf + n, sizeof(buf) - n, "%s%s", i ? ", " : "", t);
		if (w < 0)
			break;
		n += (size_t)w;
	}
	if (p->nsample_types)
		cli_hint("its sample types are: %s", buf);
	else
		cli_hint("it has no sample types at all");
}

/* Reads path and writes it in format to out. */
static int report_file(const char *path, enum cli_format format,
		       const struct report_opts *opts, const char *output,
		       struct outfile *out, unsigned long long max_memory)
{
	int r;
	struct profile *p = NULL;
	char err[256];
	size_t max = max_memory > SIZE_MAX ? SIZE_MAX : (size_t)max_memory;
	r = pprof_read_file_max(path, max, &p, err, sizeof(err));
	if (r == -E2BIG) {
		cli_error("'%s' is too large to read: %s", path, err);
		if (strstr(err, "limit of"))
			cli_hint("if the file is one you trust, raise the limit with "
				 "--max-memory SIZE (e.g. --max-memory 4G)");
		else
			cli_hint("the file is made to exhaust memory, or corrupt; a real "
				 "profile decodes to a few times its size");
		return CPROF_EXIT_FATAL;
	}
	if (r == -EBADMSG) {
		const char *prefix = "not a pprof profile: ";
		const char *why = strncmp(err, prefix, strlen(prefix)) ? err :
				  err + strlen(prefix);
		cli_error("'%s' is not a pprof profile: %s", path, why);
		cli_hint("give a profile.proto file (gzipped or not), as written by "
			 "'cprof record' or Go's runtime/pprof");
		return CPROF_EXIT_FATAL;
	}
	if (r < 0) {
		cli_error("cannot read '%s': %s", path, strerror(-r));
		if (r == -ENOENT)
			cli_hint("check the path; 'cprof record' writes cpu.pprof by default");
		return CPROF_EXIT_FATAL;
	}
	char *data = NULL;
	size_t len = 0;
	const char *base = strrchr(path, '/');
	r = cli_format_render(p, format, opts->sample_type, base ? base + 1 : path,
			      opts->top, &data, &len, err, sizeof(err));
	if (r == -EINVAL) {
		if (opts->sample_type)
			cli_error("'%s' has no sample type '%s'", path, opts->sample_type);
		else
			cli_error("'%s' has no sample types to report", path);
		report_hint_types(p);
		profile_free(p);
		return opts->sample_type ? CPROF_EXIT_USAGE : CPROF_EXIT_FATAL;
	}
	profile_free(p);
	if (r < 0) {
		cli_error("cannot write the %s: %s", format == CLI_FORMAT_TOP ? "report" :
			  cli_format_name(format), err);
		return CPROF_EXIT_FATAL;
	}
	r = cli_output_write(out, output, data, len);
	free(data);
	return r < 0 ? CPROF_EXIT_FATAL : CPROF_EXIT_OK;
}

int cmd_report(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "top", required_argument, NULL, 't' },
		{ "sample-type", required_argument, NULL, 's' },
		{ "max-memory", required_argument, NULL, 'm' },
		{ "format", required_argument, NULL, 'f' },
		{ "output", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct report_opts opts = { .top = report_defaults.top };
	unsigned long top;
	unsigned long long max_memory = report_defaults.max_memory;
	enum cli_format format = CLI_FORMAT_TOP;
	const char *output = "-";
	int c;

	/* Reset getopt: main may have used it, and we parse argv + 1. */
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":hf:o:", longopts, NULL)) != -1) {
		switch (c) {
		case 't':
			if (cli_parse_ulong("--top", optarg, 0, 1000000000UL, &top) < 0) {
				cli_hint("give the number of rows, or 0 for all of them");
				return CPROF_EXIT_USAGE;
			}
			opts.top = top;
			break;
		case 's':
			opts.sample_type = optarg;
			break;
		case 'm':
			if (cli_parse_size("--max-memory", optarg, 1ULL << 20, &max_memory) < 0)
				return CPROF_EXIT_USAGE;
			break;
		case 'f':
			if (cli_format_parse(optarg, &format) < 0 ||
			    format == CLI_FORMAT_PPROF) {
				cli_error("invalid --format '%s': must be top, html or folded",
					  optarg);
				cli_hint("top prints the table; html writes a flame graph "
					 "page (-o cpu.html); folded, folded stacks");
				return CPROF_EXIT_USAGE;
			}
			break;
		case 'o':
			if (!*optarg) {
				cli_error("invalid --output '': empty file name");
				cli_hint("give a file name, e.g. -o cpu.html, or '-' for standard output");
				return CPROF_EXIT_USAGE;
			}
			output = optarg;
			break;
		case 'h':
			report_usage(stdout);
			return CPROF_EXIT_OK;
		default:
			cli_bad_option("report", c, argv);
			return CPROF_EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		cli_error("'cprof report' needs a profile FILE");
		cli_hint("e.g. 'cprof report cpu.pprof'; see 'cprof report --help'");
		return CPROF_EXIT_USAGE;
	}
	if (argc - optind > 1) {
		cli_error("'cprof report' reads one FILE, not %d", argc - optind);
		cli_hint("run it once per profile");
		return CPROF_EXIT_USAGE;
	}
	const char *path = argv[optind];

	/* Checked before the work, as record's -o (cmd/output.c). */
	struct outfile *out = NULL;
	int r = cli_output_open(output, false,
				format == CLI_FORMAT_HTML ? "cpu.html" :
				format == CLI_FORMAT_FOLDED ? "cpu.folded" : "top.txt", &out);
	if (r)
		return r;
	int status = report_file(path, format, &opts, output, out, max_memory);
	outfile_close(out);
	return status;
}

/*
 * output.c - what -o names, for record and threads: opened and checked
 * before the work (src/outfile.c), a FIFO's reader waited for with a
 * message, binary data kept off terminals, errors with the fix.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "cmd.h"
#include "outfile.h"

static void output_hint(int r, const char *path, const char *example)
{
	switch (-r) {
	case ENOENT:
		cli_hint("create the directory first, or choose another path with -o");
		break;
	case EISDIR:
		if (example) {
			int n = (int)strlen(path);
			while (n > 0 && path[n - 1] == '/')
				n--;
			cli_hint("give a file name, e.g. -o %.*s/%s", n, path, example);
		}
		else
			cli_hint("choose another path with -o");
		break;
	case ENOTDIR:
		cli_hint("a part of the path is not a directory; choose another path with -o");
		break;
	case ELOOP:
		cli_hint("check the symbolic links with 'ls -l %s', or choose another path with -o",
			 path);
		break;
	case ECONNREFUSED:
	case ENOTSOCK:
	case EPROTOTYPE:
		cli_hint("start the program that reads from the socket first, or choose another path with -o");
		break;
	case EBADF:
		cli_hint("give a file name with -o, or run cprof with its standard output open");
		break;
	case EPIPE:
		cli_hint("keep the reader of '%s' open until cprof exits", path);
		break;
	case ENOSPC:
	case EDQUOT:
		if (strcmp(path, "-"))
			cli_hint("free some space (see 'df %s') or choose another path with -o", path);
		else
			cli_hint("free some space where standard output goes, or give a file with -o");
		break;
	default:
		cli_hint("choose a writable location with -o");
		break;
	}
}

static const char *output_name(const char *path)
{
	return strcmp(path, "-") ? path : "standard output";
}

int cli_output_open(const char *path, bool binary, const char *example,
		    struct outfile **out)
{
	char err[512] = "";
	struct outfile *of;
	int r = outfile_open(path, &of, err, sizeof(err));
	if (r < 0) {
		if (strcmp(path, "-"))
			cli_error("cannot write '%s': %s", path, err);
		else
			cli_error("cannot write to standard output: %s", err);
		output_hint(r, path, example);
		return CPROF_EXIT_FATAL;
	}
	if (binary && outfile_is_tty(of)) {
		outfile_close(of);
		cli_error("will not write a binary pprof profile to a terminal (%s)",
			  output_name(path));
		cli_hint("redirect or pipe it ('> %s'), or write a file with -o %s",
			 example, example);
		return CPROF_EXIT_USAGE;
	}
	if (outfile_needs_reader(of)) {
		/* As a shell's '>' or perf record -o, cprof waits; unlike
		 * them, it says so (docs/design.md §5). */
		cli_info("waiting for a process to read the FIFO '%s' "
			 "(e.g. 'cat %s > %s'); Ctrl-C gives up", path, path, example);
		r = outfile_wait_reader(of, err, sizeof(err));
		if (r < 0) {
			outfile_close(of);
			cli_error("cannot write '%s': %s", path, err);
			cli_hint("open the FIFO for reading, or choose another path with -o");
			return CPROF_EXIT_FATAL;
		}
	}
	*out = of;
	return 0;
}

int cli_output_write(struct outfile *of, const char *path, const void *data,
		     size_t len)
{
	char err[512] = "";
	int r = outfile_write(of, data, len, err, sizeof(err));
	if (r == 0)
		return 0;
	/* A closed pipe on standard output ends quietly, as main does for
	 * stdout (`cprof threads -p PID | head`). */
	if (r == -EPIPE && outfile_is_stdout(of))
		return -1;
	if (strcmp(path, "-"))
		cli_error("cannot write '%s': %s", path, err);
	else
		cli_error("cannot write to standard output: %s", err);
	output_hint(r, path, NULL);
	return -1;
}

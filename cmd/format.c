/*
 * format.c - the output formats of a profile, for record and report:
 * pprof, the HTML flame graph (src/flame.c), folded stacks (src/folded.c),
 * the top table (src/report.c). Chosen by name or by -o's file name.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "flame.h"
#include "folded.h"
#include "pprof.h"
#include "report.h"

static const char *const format_names[] = {
	[CLI_FORMAT_PPROF] = "pprof",
	[CLI_FORMAT_HTML] = "html",
	[CLI_FORMAT_FOLDED] = "folded",
	[CLI_FORMAT_TOP] = "top",
};

int cli_format_parse(const char *s, enum cli_format *f)
{
	for (size_t i = 0; i < sizeof(format_names) / sizeof(*format_names); i++)
		if (!strcmp(s, format_names[i])) {
			*f = (enum cli_format)i;
			return 0;
		}
	return -1;
}

const char *cli_format_name(enum cli_format f)
{
	return format_names[f];
}

static bool format_ends(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);
	return n > m && !strcasecmp(s + n - m, suffix);
}

enum cli_format cli_format_of_path(const char *path)
{
	if (format_ends(path, ".html") || format_ends(path, ".htm"))
		return CLI_FORMAT_HTML;
	if (format_ends(path, ".folded"))
		return CLI_FORMAT_FOLDED;
	return CLI_FORMAT_PPROF;
}

int cli_format_render(const struct profile *p, enum cli_format f, const char *sample_type,
		      const char *title, size_t top, char **data, size_t *len,
		      char *err, size_t errlen)
{
	if (f == CLI_FORMAT_PPROF) {
		int r = pprof_encode(p, (uint8_t **)data, len);
		if (r < 0)
			snprintf(err, errlen, "%s", strerror(-r));
		return r;
	}
	FILE *out = open_memstream(data, len);
	if (!out) {
		snprintf(err, errlen, "%s", strerror(errno));
		return -errno;
	}
	int r;
	if (f == CLI_FORMAT_HTML) {
		struct flame_opts o = { .title = title, .sample_type = sample_type };
		r = flame_html_write(p, &o, out, err, errlen);
	} else if (f == CLI_FORMAT_FOLDED) {
		r = folded_write(p, sample_type, out, err, errlen);
	} else {
		struct report_opts o = { .top = top, .sample_type = sample_type };
		r = report_top(p, &o, out);
		if (r == -EINVAL)	/* the same reason as the others give */
			folded_sample_index(p, sample_type, &(size_t){ 0 }, err, errlen);
	}
	if (fclose(out) && r == 0)
		r = -EIO;
	if (r < 0) {
		if (r != -EINVAL)
			snprintf(err, errlen, "%s", strerror(-r));
		free(*data);
		*data = NULL;
		*len = 0;
	}
	return r;
}

/*
 * report.c - `go tool pprof -top` for one sample type, without Go.
 *
 * The figures and their layout follow pprof's text report (the google/pprof
 * sources vendored in Go's cmd/vendor, internal/report and
 * internal/measurement): functions granularity; nodes whose cum is below
 * 0.5% of the total are dropped (pprof's default -nodefraction=0.005);
 * rows sorted by |flat| desc, then name, then |cum| desc; one output unit
 * for every row, chosen from the smallest non-zero node value and the
 * total, so that a 10 ms row next to a 1.5 s total reads "0.01s".
 */
#include <errno.h>
#include <ctype.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "escape.h"
#include "report.h"

#define REPORT_NODE_FRACTION 0.005

struct report_unit {
	const char *name;
	const char *aliases[4];
	double factor;
};

/* pprof's memory and time units; the first of each is the default. */
static const struct report_unit report_bytes[] = {
	{ "B",  { "b", "byte" }, 1 },
	{ "kB", { "kb", "kbyte", "kilobyte" }, 1024.0 },
	{ "MB", { "mb", "mbyte", "megabyte" }, 1048576.0 },
	{ "GB", { "gb", "gbyte", "gigabyte" }, 1073741824.0 },
	{ "TB", { "tb", "tbyte", "terabyte" }, 1099511627776.0 },
	{ "PB", { "pb", "pbyte", "petabyte" }, 1125899906842624.0 },
	{ NULL, { NULL }, 0 },
};
static const struct report_unit report_times[] = {
	{ "s",   { "s", "sec", "second" }, 1e9 },
	{ "ns",  { "ns", "nanosecond" }, 1 },
	{ "us",  { "us", "microsecond", "\xce\xbcs" }, 1e3 },
	{ "ms",  { "ms", "millisecond" }, 1e6 },
	{ "hrs", { "hour", "hr" }, 3600e9 },
	{ NULL, { NULL }, 0 },
};
static const struct report_unit *const report_unit_types[] = {
	report_bytes, report_times,
};

/* How values of the chosen sample type are printed. */
struct report_fmt {
	const struct report_unit *table;	/* NULL: plain numbers */
	double from;				/* sample unit in base units */
	const struct report_unit *out;		/* output unit */
};

/* Finds a unit by name the way pprof's sniffUnit does: lower case, a plural
 * "s" dropped from names longer than two characters. */
static const struct report_unit *report_sniff(const char *name,
					      const struct report_unit **table)
{
	char u[64];
	size_t n = strlen(name);
	if (n >= sizeof(u))
		return NULL;
	for (size_t i = 0; i <= n; i++)
		u[i] = (char)tolower((unsigned char)name[i]);
	if (n > 2 && u[n - 1] == 's')
		u[n - 1] = '\0';
	for (size_t t = 0; t < sizeof(report_unit_types) / sizeof(*report_unit_types); t++)
		for (const struct report_unit *x = report_unit_types[t]; x->name; x++)
			for (size_t a = 0; a < 4 && x->aliases[a]; a++)
				if (!strcmp(u, x->aliases[a])) {
					*table = report_unit_types[t];
					return x;
				}
	return NULL;
}

/* The largest unit in which v (base units) is at least 1; the table's
 * default unit when there is none (v < 1, zero or negative). */
static const struct report_unit *report_autoscale(const struct report_unit *table,
						  double v)
{
	const struct report_unit *best = NULL;
	for (const struct report_unit *x = table; x->name; x++)
		if ((!best || x->factor >= best->factor) && v / x->factor >= 1.0)
			best = x;
	return best ? best : table;
}

static int64_t report_abs(int64_t v)
{
	return v == INT64_MIN ? INT64_MAX : v < 0 ? -v : v;
}

/* Values come from files: saturate rather than overflow (undefined). */
static void report_add(int64_t *a, int64_t b)
{
	if (__builtin_add_overflow(*a, b, a))
		*a = b < 0 ? INT64_MIN : INT64_MAX;
}

/* A double to int64_t, clamped: out-of-range conversion is undefined. */
static int64_t report_clamp(double x)
{
	if (x >= 9.2e18)
		return INT64_MAX;
	if (x <= -9.2e18)
		return INT64_MIN;
	return (int64_t)x;
}

/* "%.2f" without a trailing ".00", then the unit, as pprof's ScaledLabel. */
static void report_value(const struct report_fmt *f, int64_t v, char *buf, size_t len)
{
	double x = (double)v;
	const char *unit = "";
	if (f->table) {
		x = x * f->from / f->out->factor;
		unit = f->out->name;
	}
	char num[64];
	snprintf(num, sizeof(num), "%.2f", x);
	size_t n = strlen(num);
	if (n > 3 && !strcmp(num + n - 3, ".00"))
		num[n - 3] = '\0';
	if (!strcmp(num, "0") || !strcmp(num, "-0"))
		snprintf(buf, len, "0");
	else
		snprintf(buf, len, "%s%s", num, unit);
}

/* pprof's Percentage: at least two significant digits. */
static void report_pct(int64_t v, int64_t total, char *buf, size_t len)
{
	double r = total ? fabs((double)v / (double)total) * 100 : 0;
	if (r >= 99.95 && r <= 100.05)
		snprintf(buf, len, "  100%%");
	else if (r >= 1.0)
		snprintf(buf, len, "%5.2f%%", r);
	else
		snprintf(buf, len, "%5.2g%%", r);
}

static const char *report_trim(const char *s)
{
	while (*s == ' ')
		s++;
	return s;
}

struct report_node {
	const char *name;	/* points into the profile or into names[] */
	int64_t flat, cum;
	size_t stamp;		/* last sample counted in cum, + 1 */
	bool inlined, called;	/* reached as an inlined line / by a call */
};

/* What report_top builds; freed in one place. */
struct report_state {
	struct report_node *nodes;
	size_t nnodes;
	size_t *func_node;	/* per function index */
	size_t *loc_node;	/* per location index, for lineless ones */
	char **names;		/* formatted names of lineless locations */
	size_t *order;
};

static void report_state_release(struct report_state *s, size_t nlocations)
{
	if (s->names)
		for (size_t i = 0; i < nlocations; i++)
			free(s->names[i]);
	free(s->names);
	free(s->nodes);
	free(s->func_node);
	free(s->loc_node);
	free(s->order);
}

struct report_named {
	const char *name;
	size_t *slot;	/* where the node index goes */
};

static int report_cmp_named(const void *a, const void *b)
{
	return strcmp(((const struct report_named *)a)->name,
		      ((const struct report_named *)b)->name);
}

/* label and a string of the profile, escaped: every string of a profile
 * file is untrusted (a comment may hold a command line with any byte). */
static void report_line(FILE *out, const char *label, const char *s)
{
	fputs(label, out);
	escape_fputs(s, out);
	fputc('\n', out);
}

static const char *report_basename(const char *path)
{
	const char *s = strrchr(path, '/');
	return s ? s + 1 : path;
}

/* One node per distinct name: functions and lineless locations. */
static int report_build_nodes(const struct profile *p, struct report_state *s)
{
	size_t nf = p->nfunctions, nl = p->nlocations;
	s->func_node = calloc(nf + 1, sizeof(size_t));
	s->loc_node = calloc(nl + 1, sizeof(size_t));
	s->names = calloc(nl + 1, sizeof(char *));
	struct report_named *named = calloc(nf + nl + 1, sizeof(*named));
	if (!s->func_node || !s->loc_node || !s->names || !named) {
		free(named);
		return -ENOMEM;
	}
	size_t n = 0;
	for (size_t i = 0; i < nf; i++) {
		const struct profile_function *f = &p->functions[i];
		const char *name = profile_str(p, f->name);
		if (!name || !*name)
			name = profile_str(p, f->system_name);
		named[n].name = name && *name ? name : "<unknown>";
		named[n++].slot = &s->func_node[i];
	}
	for (size_t i = 0; i < nl; i++) {
		const struct profile_location *l = &p->locations[i];
		bool named_by_lines = l->nlines > 0;
		for (size_t j = 0; j < l->nlines; j++)
			if (!profile_function_by_id(p, l->lines[j].function_id))
				named_by_lines = false;	/* a line without a function */
		if (named_by_lines)
			continue;
		/* pprof's functions granularity drops the address: every
		 * unsymbolized address of an object is one node "[object]". */
		const struct profile_mapping *m = l->mapping_id ?
			profile_mapping_by_id(p, l->mapping_id) : NULL;
		const char *file = m ? profile_str(p, m->filename) : NULL;
		int r;
		if (file && *file)
			r = asprintf(&s->names[i], "[%s]", report_basename(file));
		else
			r = asprintf(&s->names[i], "<unknown>");
		if (r < 0) {
			s->names[i] = NULL;
			free(named);
			return -ENOMEM;
		}
		named[n].name = s->names[i];
		named[n++].slot = &s->loc_node[i];
	}
	qsort(named, n, sizeof(*named), report_cmp_named);
	s->nodes = calloc(n + 1, sizeof(*s->nodes));
	if (!s->nodes) {
		free(named);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		if (i == 0 || strcmp(named[i].name, named[i - 1].name))
			s->nodes[s->nnodes++].name = named[i].name;
		*named[i].slot = s->nnodes - 1;
	}
	free(named);
	return 0;
}

static void report_count(struct report_node *n, size_t stamp, int64_t v)
{
	if (n->stamp != stamp) {
		n->stamp = stamp;
		report_add(&n->cum, v);
	}
}

/* Picks the sample type index: by name, else default_sample_type, else
 * the last one (pprof's default). -EINVAL when there is none. */
static int report_sample_index(const struct profile *p, const char *want, size_t *t)
{
	if (!p->nsample_types)
		return -EINVAL;
	if (!want && p->default_sample_type)
		want = profile_str(p, p->default_sample_type);
	if (!want) {
		*t = p->nsample_types - 1;
		return 0;
	}
	for (size_t i = 0; i < p->nsample_types; i++) {
		const char *name = profile_str(p, p->sample_types[i].type);
		if (name && !strcmp(name, want)) {
			*t = i;
			return 0;
		}
	}
	return -EINVAL;
}

static int report_cmp_rows(const void *a, const void *b, void *arg)
{
	const struct report_node *nodes = arg;
	const struct report_node *x = &nodes[*(const size_t *)a];
	const struct report_node *y = &nodes[*(const size_t *)b];
	int64_t fx = report_abs(x->flat), fy = report_abs(y->flat);
	if (fx != fy)
		return fx > fy ? -1 : 1;
	int c = strcmp(x->name, y->name);
	if (c)
		return c;
	int64_t cx = report_abs(x->cum), cy = report_abs(y->cum);
	return cx > cy ? -1 : cx < cy;
}

/* "Jan 2, 2006 at 3:04pm (MST)", pprof's layout, in local time. */
static void report_time(int64_t nanos, char *buf, size_t len)
{
	static const char *const months[] = { "Jan", "Feb", "Mar", "Apr", "May",
		"Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	time_t t = (time_t)(nanos / 1000000000);
	struct tm tm;
	if (!localtime_r(&t, &tm)) {
		snprintf(buf, len, "%lld", (long long)nanos);
		return;
	}
	char zone[16];
	strftime(zone, sizeof(zone), "%Z", &tm);
	int h12 = tm.tm_hour % 12 ? tm.tm_hour % 12 : 12;
	snprintf(buf, len, "%s %d, %d at %d:%02d%s (%s)", months[tm.tm_mon],
		 tm.tm_mday, tm.tm_year + 1900, h12, tm.tm_min,
		 tm.tm_hour < 12 ? "am" : "pm", zone);
}

int report_top(const struct profile *p, const struct report_opts *opts, FILE *out)
{
	struct report_state s;
	size_t t;
	int ret;

	memset(&s, 0, sizeof(s));
	ret = report_sample_index(p, opts ? opts->sample_type : NULL, &t);
	if (ret < 0)
		return ret;
	ret = report_build_nodes(p, &s);
	if (ret < 0)
		goto out;

	int64_t total = 0;
	for (size_t i = 0; i < p->nsamples; i++) {
		const struct profile_sample *smp = &p->samples[i];
		int64_t v = smp->values[t];
		if (v == 0)
			continue;
		report_add(&total, v);
		for (size_t k = 0; k < smp->nlocations; k++) {
			const struct profile_location *l =
				profile_location_by_id(p, smp->location_ids[k]);
			if (!l)
				continue;	/* the decoder rejects these */
			size_t li = (size_t)(l - p->locations);
			if (!l->nlines) {
				struct report_node *n = &s.nodes[s.loc_node[li]];
				if (k == 0)
					report_add(&n->flat, v);
				report_count(n, i + 1, v);
				if (k + 1 < smp->nlocations)
					n->called = true;
				continue;
			}
			for (size_t j = 0; j < l->nlines; j++) {
				const struct profile_function *f =
					profile_function_by_id(p, l->lines[j].function_id);
				struct report_node *n = f ?
					&s.nodes[s.func_node[f - p->functions]] :
					&s.nodes[s.loc_node[li]];
				/* The leaf's innermost line takes the flat value. */
				if (k == 0 && j == 0)
					report_add(&n->flat, v);
				report_count(n, i + 1, v);
				if (j + 1 < l->nlines)
					n->inlined = true;
				else if (k + 1 < smp->nlocations)
					n->called = true;
			}
		}
	}

	/* Nodes never reached are not nodes of the graph. */
	int64_t cutoff = report_abs(report_clamp((double)total * REPORT_NODE_FRACTION));
	size_t nall = 0, nkept = 0;
	s.order = calloc(s.nnodes + 1, sizeof(*s.order));
	if (!s.order) {
		ret = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < s.nnodes; i++) {
		if (!s.nodes[i].stamp)
			continue;
		nall++;
		if (cutoff > 0 && report_abs(s.nodes[i].cum) < cutoff)
			continue;
		s.order[nkept++] = i;
	}
	qsort_r(s.order, nkept, sizeof(*s.order), report_cmp_rows, s.nodes);
	size_t nshow = opts && opts->top && opts->top < nkept ? opts->top : nkept;

	/* The output unit, from the smallest non-zero node value and the total. */
	const char *tname = profile_str(p, p->sample_types[t].type);
	const char *uname = profile_str(p, p->sample_types[t].unit);
	struct report_fmt fmt = { 0 };
	const struct report_unit *from = report_sniff(uname ? uname : "", &fmt.table);
	if (from) {
		fmt.from = from->factor;
		int64_t minv = 0;
		for (size_t i = 0; i < nshow; i++) {
			const struct report_node *n = &s.nodes[s.order[i]];
			int64_t m = report_abs(n->flat) ? report_abs(n->flat) : report_abs(n->cum);
			if (m > 0 && (minv == 0 || m < minv))
				minv = m;
		}
		int64_t maxv = report_abs(total);
		if (minv == 0)
			minv = maxv;
		const struct report_unit *umin = report_autoscale(fmt.table, (double)minv * fmt.from);
		const struct report_unit *umax = report_autoscale(fmt.table, (double)maxv * fmt.from);
		fmt.out = umin;
		if (umin != umax && (double)minv * 100 < (double)maxv)
			fmt.out = report_autoscale(fmt.table, 100.0 * (double)minv * fmt.from);
	} else {
		fmt.table = NULL;
	}

	char a[64], b[64], c[80], d[64], e[64];
	if (p->nmappings) {
		const char *file = profile_str(p, p->mappings[0].filename);
		const char *bid = profile_str(p, p->mappings[0].build_id);
		if (file && *file)
			report_line(out, "File: ", report_basename(file));
		if (bid && *bid)
			report_line(out, "Build ID: ", bid);
	}
	for (size_t i = 0; i < p->ncomments; i++) {
		const char *cm = profile_str(p, p->comments[i]);
		if (cm && cm[0] != '#')
			report_line(out, "", cm);
	}
	report_line(out, "Type: ", tname ? tname : "");
	if (p->time_nanos) {
		char tb[96];
		report_time(p->time_nanos, tb, sizeof(tb));
		fprintf(out, "Time: %s\n", tb);
	}
	if (p->duration_nanos) {
		struct report_fmt dfmt = {
			.table = report_times, .from = 1,
			.out = report_autoscale(report_times, (double)p->duration_nanos),
		};
		report_value(&dfmt, p->duration_nanos, a, sizeof(a));
		report_value(&fmt, total, b, sizeof(b));
		c[0] = '\0';
		if (fmt.table == report_times && total) {
			report_pct(report_clamp((double)total * fmt.from),
				   p->duration_nanos, d, sizeof(d));
			snprintf(c, sizeof(c), "(%s)", report_trim(d));
		}
		fprintf(out, "Duration: %s, Total samples = %s %s\n", a, b, c);
	}
	int64_t shown = 0;
	for (size_t i = 0; i < nshow; i++)
		report_add(&shown, s.nodes[s.order[i]].flat);
	report_value(&fmt, shown, a, sizeof(a));
	report_pct(shown, total, b, sizeof(b));
	report_value(&fmt, total, c, sizeof(c));
	fprintf(out, "Showing nodes accounting for %s, %s of %s total\n", a,
		report_trim(b), c);
	if (total && nall > nkept) {
		report_value(&fmt, cutoff, a, sizeof(a));
		fprintf(out, "Dropped %zu node%s (cum <= %s)\n", nall - nkept,
			nall - nkept > 1 ? "s" : "", a);
	}
	if (total && nshow > 0 && nshow < nkept)
		fprintf(out, "Showing top %zu nodes out of %zu\n", nshow, nkept);
	fprintf(out, "%10s %5s%% %5s%% %10s %5s%%\n", "flat", "flat", "sum", "cum", "cum");
	int64_t sum = 0;
	for (size_t i = 0; i < nshow; i++) {
		const struct report_node *n = &s.nodes[s.order[i]];
		report_add(&sum, n->flat);
		report_value(&fmt, n->flat, a, sizeof(a));
		report_pct(n->flat, total, b, sizeof(b));
		report_pct(sum, total, c, sizeof(c));
		report_value(&fmt, n->cum, d, sizeof(d));
		report_pct(n->cum, total, e, sizeof(e));
		const char *inl = n->inlined ? (n->called ? " (partial-inline)" : " (inline)") : "";
		fprintf(out, "%10s %s %s %10s %s  ", a, b, c, d, e);
		escape_fputs(n->name, out);
		fprintf(out, "%s\n", inl);
	}
	ret = ferror(out) ? -EIO : 0;
out:
	report_state_release(&s, p->nlocations);
	return ret;
}

/*
 * threads_write.c - a captured thread dump (threads.c) written out: text,
 * a grouped summary, JSON, Go's goroutine?debug=1 layout, or a pprof
 * profile. Symbolizing happens here, after every thread runs again.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "procfs.h"
#include "stackprof.h"
#include "threads_write.h"
static const char *threads_state_name(char s)
{
	switch (s) {
	case 'R': return "running";
	case 'S': return "sleeping";
	case 'D': return "disk wait";
	case 'T': return "stopped";
	case 't': return "tracing stop";
	case 'Z': return "zombie";
	case 'X': return "dead";
	case 'I': return "idle";
	case 'P': return "parked";
	default: return "unknown";
	}
}

static const char *threads_basename(const char *path)
{
	const char *s = path ? strrchr(path, '/') : NULL;
	return s ? s + 1 : (path ? path : "?");
}

static void threads_syscall_str(long nr, char *buf, size_t len)
{
	const char *name = procfs_syscall_name(nr);
	if (name)
		snprintf(buf, len, "%s", name);
	else
		snprintf(buf, len, "syscall %ld", nr);
}

static const struct sym_frame *threads_lookup(struct symbolizer *sym,
					      const struct threads_thread *t,
					      size_t i)
{
	if (!sym)
		return NULL;
	return symbolizer_lookup(sym, t->pcs[i], !t->is_activation[i]);
}

/* Frames of one stack, in the text layout shared by text and summary. */
static void threads_write_frames(FILE *out, struct symbolizer *sym,
				 const struct threads_thread *t)
{
	for (size_t i = 0; i < t->npcs; i++) {
		const struct sym_frame *f = threads_lookup(sym, t, i);
		const char *mod = f && f->module ? threads_basename(f->module->path) : NULL;
		if (!f || f->nlines == 0) {
			/* The frame under an interrupted (activation) frame is
			 * the signal trampoline, __restore_rt: often nameless. */
			if (i + 1 < t->npcs && t->is_activation[i + 1])
				fputs("  <signal handler called>\n", out);
			else if (f && f->module && f->module->is_jit)
				fprintf(out, "  0x%" PRIx64 " ([jit])\n", t->pcs[i]);
			else if (f && f->module)
				fprintf(out, "  0x%" PRIx64 " (%s+0x%" PRIx64 ")\n",
					t->pcs[i], mod,
					t->pcs[i] - f->module->start + f->module->offset);
			else
				fprintf(out, "  0x%" PRIx64 " (?)\n", t->pcs[i]);
			continue;
		}
		for (size_t j = 0; j < f->nlines; j++) {
			const struct sym_line *l = &f->lines[j];
			bool inl = j + 1 < f->nlines;
			/* A perf map's names are the JIT's own ("JS:*f
			 * app.js:3:10"): no argument list to stand for. */
			fprintf(out, "  %s%s%s\n", l->function ? l->function : "??",
				f->module && f->module->is_jit ? "" : "(...)",
				inl ? " [inlined]" : "");
			fputs("      ", out);
			if (l->file)
				fprintf(out, "%s:%d", l->file, l->line);
			else
				fputs("?", out);
			if (!inl)
				fprintf(out, " +0x%" PRIx64, l->offset);
			fprintf(out, "  %s\n", mod ? mod : "?");
		}
	}
	if (t->truncated)
		fputs("  ...additional frames elided...\n", out);
}

static void threads_write_header(FILE *out, const struct threads_thread *t)
{
	char sc[48];

	fprintf(out, "thread %d (%s) [", (int)t->tid, t->name);
	if (t->exited) {
		fputs("exited during the dump]:\n", out);
		return;
	}
	fputs(threads_state_name(t->state), out);
	if (t->syscall >= 0) {
		threads_syscall_str(t->syscall, sc, sizeof(sc));
		fprintf(out, ", in %s", sc);
	}
	fprintf(out, ", cpu %.2fs]:\n", (double)t->cpu_ns / 1e9);
	if (t->error && t->npcs == 0)
		fprintf(out, "  (no stack: %s)\n", strerror(-t->error));
}

static void threads_json_str(FILE *out, const char *s)
{
	if (!s) {
		fputs("null", out);
		return;
	}
	fputc('"', out);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\')
			fprintf(out, "\\%c", *p);
		else if (*p < 0x20)
			fprintf(out, "\\u%04x", *p);
		else
			fputc(*p, out);
	}
	fputc('"', out);
}

static void threads_write_json(FILE *out, const struct threads_dump *d,
			       struct symbolizer *sym)
{
	char sc[48];

	fprintf(out, "{\"pid\":%d,\"threads\":[", (int)d->pid);
	for (size_t k = 0; k < d->n; k++) {
		const struct threads_thread *t = &d->threads[k];
		fprintf(out, "%s\n{\"tid\":%d,\"name\":", k ? "," : "", (int)t->tid);
		threads_json_str(out, t->name);
		fputs(",\"state\":", out);
		threads_json_str(out, t->exited ? "exited" : threads_state_name(t->state));
		fputs(",\"syscall\":", out);
		if (t->syscall >= 0 && !t->exited) {
			threads_syscall_str(t->syscall, sc, sizeof(sc));
			threads_json_str(out, sc);
		} else {
			fputs("null", out);
		}
		fprintf(out, ",\"cpu_ns\":%" PRIu64 ",\"exited\":%s,\"truncated\":%s,\"error\":",
			t->cpu_ns, t->exited ? "true" : "false",
			t->truncated ? "true" : "false");
		threads_json_str(out, t->error ? strerror(-t->error) : NULL);
		fputs(",\"frames\":[", out);
		bool first = true;
		for (size_t i = 0; i < t->npcs; i++) {
			const struct sym_frame *f = threads_lookup(sym, t, i);
			const char *mod = f && f->module ? f->module->path : NULL;
			size_t nl = f && f->nlines ? f->nlines : 1;
			for (size_t j = 0; j < nl; j++) {
				const struct sym_line *l = f && f->nlines ? &f->lines[j] : NULL;
				fprintf(out, "%s{\"address\":\"0x%" PRIx64 "\",\"function\":",
					first ? "" : ",", t->pcs[i]);
				first = false;
				threads_json_str(out, l ? l->function : NULL);
				fputs(",\"file\":", out);
				threads_json_str(out, l ? l->file : NULL);
				fprintf(out, ",\"line\":%d,\"module\":", l ? l->line : 0);
				threads_json_str(out, mod);
				fprintf(out, ",\"inlined\":%s}", j + 1 < nl ? "true" : "false");
			}
		}
		fputs("]}", out);
	}
	fputs("\n]}\n", out);
}

/* Threads grouped by identical stacks, most common first. */
struct threads_group {
	const struct threads_thread *first;
	size_t count;
	size_t *members;
};

static bool threads_same_stack(const struct threads_thread *a,
			       const struct threads_thread *b)
{
	return a->npcs == b->npcs && a->truncated == b->truncated &&
	       memcmp(a->pcs, b->pcs, a->npcs * sizeof(a->pcs[0])) == 0;
}

static int threads_group_cmp(const void *a, const void *b)
{
	const struct threads_group *x = a, *y = b;
	if (x->count != y->count)
		return x->count < y->count ? 1 : -1;
	return (x->first->tid > y->first->tid) - (x->first->tid < y->first->tid);
}

static int threads_group(const struct threads_dump *d,
			 struct threads_group **out, size_t *nout)
{
	struct threads_group *g = calloc(d->n ? d->n : 1, sizeof(*g));
	size_t ng = 0;

	if (!g)
		return -ENOMEM;
	for (size_t k = 0; k < d->n; k++) {
		const struct threads_thread *t = &d->threads[k];
		size_t i;
		if (t->exited || !t->pcs)
			continue;
		for (i = 0; i < ng; i++)
			if (threads_same_stack(g[i].first, t))
				break;
		if (i == ng) {
			g[ng].first = t;
			g[ng].members = malloc(d->n * sizeof(size_t));
			if (!g[ng].members)
				goto out_enomem;
			ng++;
		}
		g[i].members[g[i].count++] = k;
	}
	qsort(g, ng, sizeof(*g), threads_group_cmp);
	*out = g;
	*nout = ng;
	return 0;
out_enomem:
	for (size_t i = 0; i < ng; i++)
		free(g[i].members);
	free(g);
	return -ENOMEM;
}

static void threads_groups_free(struct threads_group *g, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(g[i].members);
	free(g);
}

static void threads_write_debug1(FILE *out, const struct threads_dump *d,
				 struct symbolizer *sym,
				 const struct threads_group *g, size_t ng)
{
	size_t total = 0;
	for (size_t i = 0; i < ng; i++)
		total += g[i].count;
	fprintf(out, "threads profile: total %zu\n", total);
	for (size_t i = 0; i < ng; i++) {
		const struct threads_thread *t = g[i].first;
		fprintf(out, "%zu @", g[i].count);
		for (size_t k = 0; k < t->npcs; k++)
			fprintf(out, " 0x%" PRIx64, t->pcs[k]);
		fputc('\n', out);
		for (size_t k = 0; k < t->npcs; k++) {
			const struct sym_frame *f = threads_lookup(sym, t, k);
			if (!f || !f->nlines) {
				fprintf(out, "#\t0x%" PRIx64 "\n", t->pcs[k]);
				continue;
			}
			for (size_t j = 0; j < f->nlines; j++) {
				const struct sym_line *l = &f->lines[j];
				fprintf(out, "#\t0x%" PRIx64 "\t%s+0x%" PRIx64 "\t%s:%d\n",
					t->pcs[k], l->function ? l->function : "??",
					l->offset, l->file ? l->file : "?", l->line);
			}
		}
		fputc('\n', out);
	}
}

static void threads_write_summary(FILE *out, const struct threads_dump *d,
				  struct symbolizer *sym,
				  const struct threads_group *g, size_t ng)
{
	size_t exited = 0;
	for (size_t k = 0; k < d->n; k++)
		exited += d->threads[k].exited;
	fprintf(out, "pid %d: %zu threads, %zu distinct stacks", (int)d->pid,
		d->n - exited, ng);
	if (exited)
		fprintf(out, ", %zu exited during the dump", exited);
	fputs("\n\n", out);
	for (size_t i = 0; i < ng; i++) {
		fprintf(out, "%zu thread%s:", g[i].count, g[i].count == 1 ? "" : "s");
		for (size_t m = 0; m < g[i].count && m < 8; m++) {
			const struct threads_thread *t = &d->threads[g[i].members[m]];
			char name[16] = "?";
			/* Captured without names (threads_opts.no_info): the
			 * eight shown are read now, not the thousand. */
			if (t->name[0])
				snprintf(name, sizeof(name), "%s", t->name);
			else if (procfs_read_comm(d->pid, t->tid, name,
						  sizeof(name)) < 0)
				snprintf(name, sizeof(name), "?");
			fprintf(out, " %d (%s)", (int)t->tid, name);
		}
		if (g[i].count > 8)
			fprintf(out, " ... %zu more", g[i].count - 8);
		fputs("\n", out);
		threads_write_frames(out, sym, g[i].first);
		fputc('\n', out);
	}
}

int threads_write(const struct threads_dump *d, struct symbolizer *sym,
		  enum threads_format fmt, FILE *out)
{
	struct threads_group *g = NULL;
	size_t ng = 0;
	int r;

	switch (fmt) {
	case THREADS_FMT_TEXT:
		for (size_t k = 0; k < d->n; k++) {
			threads_write_header(out, &d->threads[k]);
			threads_write_frames(out, sym, &d->threads[k]);
			fputc('\n', out);
		}
		break;
	case THREADS_FMT_JSON:
		threads_write_json(out, d, sym);
		break;
	case THREADS_FMT_SUMMARY:
	case THREADS_FMT_GO_DEBUG1:
		r = threads_group(d, &g, &ng);
		if (r < 0)
			return r;
		if (fmt == THREADS_FMT_SUMMARY)
			threads_write_summary(out, d, sym, g, ng);
		else
			threads_write_debug1(out, d, sym, g, ng);
		threads_groups_free(g, ng);
		break;
	default:
		return -EINVAL;
	}
	if (fflush(out) != 0 || ferror(out))
		return errno ? -errno : -EIO;
	return 0;
}

int threads_to_profile(const struct threads_dump *d, struct symbolizer *sym,
		       struct profile **out)
{
	struct profile *p = profile_new();
	struct stackprof *sp = NULL;
	struct timespec now;
	char comment[64];
	int r = -ENOMEM;

	if (!p)
		return -ENOMEM;
	if (profile_add_sample_type(p, "threads", "count") < 0 ||
	    profile_set_period(p, "threads", "count", 1) < 0)
		goto out_free;
	clock_gettime(CLOCK_REALTIME, &now);
	p->time_nanos = (int64_t)now.tv_sec * 1000000000 + now.tv_nsec;
	snprintf(comment, sizeof(comment), "cprof threads -p %d", (int)d->pid);
	if (profile_add_comment(p, comment) < 0)
		goto out_free;
	sp = stackprof_new(sym, p);
	if (!sp)
		goto out_free;
	for (size_t k = 0; k < d->n; k++) {
		const struct threads_thread *t = &d->threads[k];
		int64_t one = 1;
		struct profile_label_in label = { .key = "thread_name", .str = t->name };
		if (t->exited)
			continue;
		if (stackprof_add(sp, t->pcs, t->is_activation, t->npcs, &one,
				  &label, 1) < 0)
			goto out_free;
	}
	stackprof_finish(sp);
	stackprof_free(sp);
	*out = p;
	return 0;
out_free:
	stackprof_free(sp);
	profile_free(p);
	return r;
}

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

#include "escape.h"
#include "procfs.h"
#include "stackprof.h"
#include "threads_write.h"

/* Thread names, function, file and module names come from the target:
 * every one is written through escape_fputs (escape.h). */

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

/* A thread to report without frames: never stopped, or not unwound. */
static bool threads_no_stack(const struct threads_thread *t)
{
	return !t->exited && t->npcs == 0 && (t->error || t->uninterruptible);
}

const char *threads_no_stack_reason(const struct threads_thread *t, char *buf,
				    size_t len)
{
	if (!threads_no_stack(t))
		snprintf(buf, len, "%s", "");
	else if (t->uninterruptible)
		/* No PTRACE_INTERRUPT reaches it, so no registers: the kernel
		 * function it waits in is what can be said. */
		snprintf(buf, len, "no user stack: in uninterruptible sleep%s%s",
			 t->wchan[0] ? " in " : "", t->wchan);
	else
		snprintf(buf, len, "no stack: %s", strerror(-t->error));
	return buf;
}

static const char *threads_basename(const char *path)
{
	const char *s = path ? strrchr(path, '/') : NULL;
	return s ? s + 1 : (path ? path : "?");
}

size_t threads_incomplete(const struct threads_dump *d)
{
	size_t n = 0;

	for (size_t k = 0; k < d->n; k++)
		n += !d->threads[k].exited && d->threads[k].npcs &&
		     d->threads[k].stop != PTUNWIND_STOP_NONE;
	return n;
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

int threads_describe_stop(const struct threads_thread *t,
			  struct symbolizer *sym, char *buf, size_t len,
			  const char **module)
{
	const struct sym_frame *f;
	const char *mod = NULL;
	uint64_t pc;

	if (module)
		*module = NULL;
	if (t->stop == PTUNWIND_STOP_NONE || t->npcs == 0 || t->exited) {
		if (len)
			buf[0] = '\0';
		return 0;
	}
	pc = t->pcs[t->npcs - 1];
	f = threads_lookup(sym, t, t->npcs - 1);
	if (f && f->module)
		mod = f->module->path;
	if (module)
		*module = mod;
	/* Without a symbolizer the module is not known, not absent. */
	snprintf(buf, len, "%s 0x%" PRIx64 "%s%s%s",
		 t->stop == PTUNWIND_STOP_NO_INFO ?
		 "no unwind information for" : "unwinding failed at", pc,
		 sym ? " (" : "",
		 sym ? (mod ? threads_basename(mod) : "no mapped file") : "",
		 sym ? ")" : "");
	return 1;
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
			if (i + 1 < t->npcs && t->is_activation[i + 1]) {
				fputs("  <signal handler called>\n", out);
			} else if (f && f->module && f->module->is_jit) {
				fprintf(out, "  0x%" PRIx64 " ([jit])\n", t->pcs[i]);
			} else if (f && f->module) {
				fprintf(out, "  0x%" PRIx64 " (", t->pcs[i]);
				escape_fputs(mod, out);
				fprintf(out, "+0x%" PRIx64 ")\n",
					t->pcs[i] - f->module->start + f->module->offset);
			} else {
				fprintf(out, "  0x%" PRIx64 " (?)\n", t->pcs[i]);
			}
			continue;
		}
		for (size_t j = 0; j < f->nlines; j++) {
			const struct sym_line *l = &f->lines[j];
			bool inl = j + 1 < f->nlines;
			/* Go's goroutine dump style "f(...)", but a C++ name
			 * that carries its parameter list keeps only that, and
			 * a perf map's names are the JIT's own ("JS:*f
			 * app.js:3:10"): no argument list to stand for. */
			fputs("  ", out);
			escape_fputs(l->function ? l->function : "??", out);
			fprintf(out, "%s%s\n",
				(l->function && l->has_params) ||
				(f->module && f->module->is_jit) ? "" : "(...)",
				inl ? " [inlined]" : "");
			fputs("      ", out);
			if (l->file) {
				escape_fputs(l->file, out);
				fprintf(out, ":%d", l->line);
			} else {
				fputs("?", out);
			}
			if (!inl)
				fprintf(out, " +0x%" PRIx64, l->offset);
			fputs("  ", out);
			escape_fputs(mod ? mod : "?", out);
			fputc('\n', out);
		}
	}
	if (t->truncated)
		fputs("  ...additional frames elided...\n", out);
	char why[256];
	if (threads_describe_stop(t, sym, why, sizeof(why), NULL)) {
		fputs("  ...stack incomplete: ", out);
		escape_fputs(why, out);	/* a module's path */
		fputc('\n', out);
	}
}

static void threads_write_header(FILE *out, const struct threads_thread *t)
{
	char sc[48], why[128];

	fprintf(out, "thread %d (", (int)t->tid);
	escape_fputs(t->name, out);
	fputs(") [", out);
	if (t->exited && t->state == 'Z') {
		/* A main thread that called pthread_exit: the others run on. */
		fputs("zombie: exited before the dump]:\n", out);
		return;
	}
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
	if (threads_no_stack(t))
		fprintf(out, "  (%s)\n", threads_no_stack_reason(t, why, sizeof(why)));
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
	char sc[48], why[128];

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
		threads_json_str(out, threads_no_stack(t) ?
				 threads_no_stack_reason(t, why, sizeof(why)) :
				 t->error ? strerror(-t->error) : NULL);
		fputs(",\"wchan\":", out);
		threads_json_str(out, t->uninterruptible && t->wchan[0] ? t->wchan : NULL);
		/* null, or why the walk ended before the outermost frame
		 * and where: the last frame's address and module. */
		fputs(",\"incomplete\":", out);
		char stop[256];
		const char *smod;
		if (threads_describe_stop(t, sym, stop, sizeof(stop), &smod)) {
			fputs("{\"reason\":", out);
			threads_json_str(out, t->stop == PTUNWIND_STOP_NO_INFO ?
					 "no_unwind_info" : "unwind_failed");
			fprintf(out, ",\"address\":\"0x%" PRIx64 "\",\"module\":",
				t->pcs[t->npcs - 1]);
			threads_json_str(out, smod);
			fputs(",\"message\":", out);
			threads_json_str(out, stop);
			fputc('}', out);
		} else {
			fputs("null", out);
		}
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

/* Threads without a stack group by their reason, after every stack. */
static bool threads_same_stack(const struct threads_thread *a,
			       const struct threads_thread *b)
{
	bool an = threads_no_stack(a), bn = threads_no_stack(b);
	if (an || bn)
		return an && bn && a->uninterruptible == b->uninterruptible &&
		       a->error == b->error && strcmp(a->wchan, b->wchan) == 0;
	return a->npcs == b->npcs && a->truncated == b->truncated &&
	       a->stop == b->stop && memcmp(a->pcs, b->pcs, a->npcs * sizeof(a->pcs[0])) == 0;
}

static int threads_group_cmp(const void *a, const void *b)
{
	const struct threads_group *x = a, *y = b;
	bool xn = threads_no_stack(x->first), yn = threads_no_stack(y->first);
	if (xn != yn)
		return xn ? 1 : -1;
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
		if (t->exited || (!t->pcs && !threads_no_stack(t)))
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
		char why[256];
		if (threads_no_stack(t)) {
			/* An empty stack, as Go's parsers read "N @", and the
			 * reason as a comment line. */
			fprintf(out, "%zu @\n#\t%s\n\n", g[i].count,
				threads_no_stack_reason(t, why, sizeof(why)));
			continue;
		}
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
				fprintf(out, "#\t0x%" PRIx64 "\t", t->pcs[k]);
				escape_fputs(l->function ? l->function : "??", out);
				fprintf(out, "+0x%" PRIx64 "\t", l->offset);
				escape_fputs(l->file ? l->file : "?", out);
				fprintf(out, ":%d\n", l->line);
			}
		}
		/* A comment line to pprof's reader of this format, as every
		 * line starting with '#'. */
		if (threads_describe_stop(t, sym, why, sizeof(why), NULL)) {
			fputs("# ...stack incomplete: ", out);
			escape_fputs(why, out);
			fputc('\n', out);
		}
		fputc('\n', out);
	}
}

static void threads_write_summary(FILE *out, const struct threads_dump *d,
				  struct symbolizer *sym,
				  const struct threads_group *g, size_t ng)
{
	size_t exited = 0, stacks = 0, incomplete = threads_incomplete(d);
	char why[128];
	for (size_t k = 0; k < d->n; k++)
		exited += d->threads[k].exited;
	for (size_t i = 0; i < ng; i++)
		stacks += !threads_no_stack(g[i].first);
	fprintf(out, "pid %d: %zu thread%s, %zu distinct stack%s", (int)d->pid,
		d->n - exited, d->n - exited == 1 ? "" : "s", stacks, stacks == 1 ? "" : "s");
	if (incomplete)
		fprintf(out, ", %zu incomplete", incomplete);
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
			fprintf(out, " %d (", (int)t->tid);
			escape_fputs(name, out);
			fputc(')', out);
		}
		if (g[i].count > 8)
			fprintf(out, " ... %zu more", g[i].count - 8);
		fputs("\n", out);
		if (threads_no_stack(g[i].first))
			fprintf(out, "  (%s)\n", threads_no_stack_reason(g[i].first, why,
								   sizeof(why)));
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
	return threads_to_profile_as(d, sym, "threads", out);
}

int threads_to_profile_as(const struct threads_dump *d, struct symbolizer *sym,
			  const char *type, struct profile **out)
{
	struct profile *p = profile_new();
	struct stackprof *sp = NULL;
	struct timespec now;
	char comment[128];
	int r = -ENOMEM;

	if (!p)
		return -ENOMEM;
	if (profile_add_sample_type(p, type, "count") < 0 ||
	    profile_set_period(p, type, "count", 1) < 0)
		goto out_free;
	clock_gettime(CLOCK_REALTIME, &now);
	p->time_nanos = (int64_t)now.tv_sec * 1000000000 + now.tv_nsec;
	snprintf(comment, sizeof(comment), "cprof threads -p %d", (int)d->pid);
	if (profile_add_comment(p, comment) < 0)
		goto out_free;
	size_t stacks = 0;
	for (size_t k = 0; k < d->n; k++)
		stacks += !d->threads[k].exited;
	snprintf(comment, sizeof(comment),
		 "%zu of %zu stacks incomplete (unwinding stopped before the outermost frame)",
		 threads_incomplete(d), stacks);
	if (profile_add_comment(p, comment) < 0)
		goto out_free;
	sp = stackprof_new(sym, p);
	if (!sp)
		goto out_free;
	for (size_t k = 0; k < d->n; k++) {
		const struct threads_thread *t = &d->threads[k];
		int64_t one = 1;
		/* A thread in uninterruptible sleep: an empty stack, and
		 * where it sleeps in the kernel as a label. */
		struct profile_label_in labels[2] = {
			{ .key = "thread_name", .str = t->name },
			{ .key = "wchan", .str = t->wchan },
		};
		if (t->exited)
			continue;
		if (stackprof_add(sp, t->pcs, t->is_activation, t->npcs, &one,
				  labels, t->uninterruptible && t->wchan[0] ? 2 : 1) < 0)
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

/* Names are compared without a symbol version ("__libc_start_main@@GLIBC_2.34"). */
static bool threads_startup_frame(const char *name)
{
	static const char *const exact[] = {
		"_start", "start_thread", "clone", "clone3", "__clone",
		"__clone3", "__clone_internal", "thread_start",
	};
	if (!name)
		return false;
	size_t n = strcspn(name, "@");
	if (!strncmp(name, "__libc_start", 12))
		return true;
	for (size_t i = 0; i < sizeof(exact) / sizeof(exact[0]); i++)
		if (strlen(exact[i]) == n && !strncmp(name, exact[i], n))
			return true;
	return false;
}

size_t threads_start_routine_frames(const char *const *names, size_t n)
{
	size_t keep = 0;
	for (size_t i = n; i-- > 0;) {
		keep++;
		if (!threads_startup_frame(names[i]))
			break;
	}
	return keep;
}

int threads_creation_view(const struct threads_dump *d, struct symbolizer *sym,
			  struct threads_dump **out)
{
	size_t maxn = 1;
	for (size_t i = 0; i < d->n; i++)
		if (d->threads[i].npcs > maxn)
			maxn = d->threads[i].npcs;
	struct threads_dump *v = calloc(1, sizeof(*v));
	const struct sym_frame **frames = calloc(maxn, sizeof(*frames));
	const char **names = calloc(maxn, sizeof(*names));
	int e = -ENOMEM;

	if (!v || !frames || !names)
		goto out;
	*v = *d;
	v->n = 0;
	v->threads = calloc(d->n ? d->n : 1, sizeof(*v->threads));
	if (!v->threads)
		goto out;
	for (size_t i = 0; i < d->n; i++) {
		const struct threads_thread *th = &d->threads[i];
		for (size_t j = 0; j < th->npcs; j++) {
			bool is_return = j > 0 && !(th->is_activation && th->is_activation[j]);
			frames[j] = sym ? symbolizer_lookup(sym, th->pcs[j], is_return) : NULL;
			names[j] = frames[j] && frames[j]->nlines ?
				frames[j]->lines[frames[j]->nlines - 1].function : NULL;
		}
		size_t keep = threads_start_routine_frames(names, th->npcs);
		size_t skip = th->npcs - keep;
		struct threads_thread *t = &v->threads[v->n++];
		*t = *th;
		t->pcs = calloc(keep + 1, sizeof(*t->pcs));
		t->is_activation = calloc(keep + 1, sizeof(*t->is_activation));
		if (!t->pcs || !t->is_activation)
			goto out;
		for (size_t j = 0; j < keep; j++) {
			t->pcs[j] = th->pcs[skip + j];
			t->is_activation[j] = th->is_activation ? th->is_activation[skip + j] : false;
		}
		const struct sym_frame *f = keep ? frames[skip] : NULL;
		if (f && f->nlines && f->lines[f->nlines - 1].offset <= th->pcs[skip]) {
			t->pcs[0] = th->pcs[skip] - f->lines[f->nlines - 1].offset;
			t->is_activation[0] = true;	/* an entry, not a return address */
		}
		t->npcs = keep;
		t->truncated = false;
	}
	*out = v;
	v = NULL;
	e = 0;
out:
	threads_dump_free(v);
	free(frames);
	free(names);
	return e;
}

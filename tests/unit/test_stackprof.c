/*
 * test_stackprof.c - stacks of a running inline_nofp workload into a
 * profile through a real symbolizer: mapping 1 is the main binary, mapping
 * ids follow module indexes, the inlined location has two lines innermost
 * first, unknown addresses keep their address and no name, and the result
 * encodes (and decodes) as pprof.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "workload.h"
#include "pprof.h"
#include "procfs.h"
#include "profile.h"
#include "stackprof.h"
#include "symbolize.h"

#define WORKLOAD WORKLOAD_DIR "/inline_nofp"

static pid_t start_workload(const char *path)
{
	return start_workload_for(path, "20", 50);
}

static const char *fname(const struct profile *p, uint64_t function_id)
{
	for (size_t i = 0; i < p->nfunctions; i++)
		if (p->functions[i].id == function_id)
			return p->strings[p->functions[i].name];
	return NULL;
}

static const struct profile_location *loc(const struct profile *p,
					  uint64_t id)
{
	for (size_t i = 0; i < p->nlocations; i++)
		if (p->locations[i].id == id)
			return &p->locations[i];
	return NULL;
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t a = s ? strlen(s) : 0, b = strlen(suffix);

	return s && a >= b && strcmp(s + a - b, suffix) == 0;
}

int main(void)
{
	struct symbolizer *s = NULL;
	struct profile *p = profile_new();
	struct stackprof *sp = NULL;
	const struct sym_module *const *mods;
	const struct profile_location *l;
	char err[256] = "";
	uint64_t base, hot, hot_size = 0, middle, outer, inl = 0;
	size_t nmods;

	alarm(60);
	child = start_workload(WORKLOAD);
	CHECK(p != NULL);
	CHECK_INT(symbolizer_new(child, false, &s, err, sizeof(err)), 0);
	if (!s || !p) {
		fprintf(stderr, "symbolizer_new: %s\n", err);
		kill_child();
		return check_done();
	}
	CHECK_INT(profile_add_sample_type(p, "samples", "count"), 0);
	CHECK_INT(profile_add_sample_type(p, "cpu", "nanoseconds"), 0);
	sp = stackprof_new(s, p);
	CHECK(sp != NULL);

	base = load_base(child, "/inline_nofp");
	hot = nm_symbol(WORKLOAD, "hot", &hot_size);
	middle = nm_symbol(WORKLOAD, "middle", NULL);
	outer = nm_symbol(WORKLOAD, "outer", NULL);
	CHECK(base && hot && hot_size && middle && outer);
	/* An address of hot where inl_mix is inlined. */
	for (uint64_t a = base + hot; a < base + hot + hot_size && !inl; a++) {
		const struct sym_frame *f = symbolizer_lookup(s, a, false);

		if (f && f->nlines >= 2)
			inl = a;
	}
	CHECK(inl != 0);

	/* A libc address: the first function-bearing one past its start. */
	nmods = symbolizer_modules(s, &mods);
	uint64_t libc_pc = 0;
	unsigned libc_index = 0;
	for (size_t i = 0; i < nmods && !libc_pc; i++) {
		if (!strstr(mods[i]->path, "/libc.so"))
			continue;
		libc_index = mods[i]->index;
		for (uint64_t a = mods[i]->start + 0x28000; a < mods[i]->end;
		     a += 64) {
			const struct sym_frame *f =
				symbolizer_lookup(s, a, false);
			if (f && f->nlines) {
				libc_pc = a;
				break;
			}
		}
	}
	CHECK(libc_pc != 0 && libc_index > 0);

	uint64_t pcs[] = { inl, base + middle + 4, base + outer + 4, 0x10 };
	bool act[] = { true, false, false, false };
	int64_t values[] = { 1, 10000000 };
	CHECK_INT(stackprof_add(sp, pcs, act, 4, values, NULL, 0), 0);
	CHECK_INT(stackprof_add(sp, pcs, act, 4, values, NULL, 0), 0);
	CHECK_INT(stackprof_add(sp, &libc_pc, NULL, 1, values, NULL, 0), 0);
	stackprof_finish(sp);

	/* Mapping 1 is the main binary; ids follow module indexes. */
	CHECK(p->nmappings >= libc_index + 1);
	for (size_t i = 0; i < p->nmappings; i++) {
		CHECK_INT(p->mappings[i].id, i + 1);
		CHECK_STR(p->strings[p->mappings[i].filename], mods[i]->path);
		CHECK_INT(p->mappings[i].start, mods[i]->start);
		CHECK_INT(p->mappings[i].limit, mods[i]->end);
	}
	if (p->nmappings) {
		CHECK(ends_with(p->strings[p->mappings[0].filename],
				"/inline_nofp"));
		CHECK(strlen(p->strings[p->mappings[0].build_id]) >= 16);
		CHECK(p->mappings[0].has_functions);
		CHECK(p->mappings[0].has_filenames);
		CHECK(p->mappings[0].has_inline_frames);
	}

	/* Samples merged; locations cached per (pc, activation). */
	CHECK_INT(p->nsamples, 2);
	if (p->nsamples == 2) {
		CHECK_INT(p->samples[0].nlocations, 4);
		CHECK_INT(p->samples[0].values[0], 2);
		CHECK_INT(p->samples[0].values[1], 20000000);
	}
	uint64_t id_inl = stackprof_location(sp, inl, true);
	CHECK(id_inl != 0);
	CHECK_INT(stackprof_location(sp, inl, true), id_inl);
	CHECK(stackprof_location(sp, inl, false) != id_inl);

	/* The inlined location: inl_mix innermost, hot outer. */
	l = loc(p, id_inl);
	CHECK(l && l->nlines == 2 && l->mapping_id == 1 && l->address == inl);
	if (l && l->nlines == 2) {
		CHECK_STR(fname(p, l->lines[0].function_id), "inl_mix");
		CHECK_STR(fname(p, l->lines[1].function_id), "hot");
		CHECK(l->lines[0].line > 0 && l->lines[1].line > 0);
		CHECK(l->lines[0].line < l->lines[1].line);
	}
	l = loc(p, stackprof_location(sp, base + middle + 4, false));
	CHECK(l && l->nlines == 1);
	if (l && l->nlines == 1)
		CHECK_STR(fname(p, l->lines[0].function_id), "middle");
	/* Unknown: address kept, no mapping, no name. */
	l = loc(p, stackprof_location(sp, 0x10, false));
	CHECK(l && l->nlines == 0 && l->mapping_id == 0 && l->address == 0x10);
	/* Not cached (a refresh may map it later), but still one location. */
	{
		size_t nloc = p->nlocations;
		uint64_t id0 = l ? l->id : 0;

		CHECK_INT(stackprof_location(sp, 0x10, false), id0);
		CHECK_INT(p->nlocations, nloc);
	}
	l = loc(p, stackprof_location(sp, libc_pc, true));
	CHECK(l && l->mapping_id == libc_index + 1 && l->nlines >= 1);

	/* Encodes, and reads back with the same shape. */
	uint8_t *buf = NULL;
	size_t len = 0;
	struct profile *back = NULL;
	CHECK_INT(pprof_encode(p, &buf, &len), 0);
	CHECK(buf && len > 3 && buf[0] == 0x1f && buf[1] == 0x8b);
	if (buf) {
		CHECK_INT(pprof_decode(buf, len, &back, err, sizeof(err)), 0);
		if (back) {
			CHECK_INT(back->nlocations, p->nlocations);
			CHECK_INT(back->nmappings, p->nmappings);
			CHECK_INT(back->nsamples, p->nsamples);
		}
	}
	profile_free(back);
	free(buf);

	stackprof_free(sp);
	symbolizer_free(s);
	profile_free(p);
	kill_child();
	return check_done();
}

/*
 * pprof_encode.c - struct profile -> profile.proto (protobuf-c), gzipped
 * with zlib. Writing files is src/outfile.c's.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "pprof.h"
#include "pprof_pb.h"

/* ---- encoding --------------------------------------------------------- */

/* Every allocation of one encoding, freed together. */
struct pprof_enc {
	PbProfile msg;
	PbValueType *vts, period_type;
	PbValueType **vtp;
	PbSample *samples, **samplep;
	PbLabel *labels, **labelp;
	PbMapping *mappings, **mappingp;
	PbLocation *locations, **locationp;
	PbLine *lines, **linep;
	PbFunction *functions, **functionp;
};

static void pprof_enc_release(struct pprof_enc *e)
{
	free(e->vts);
	free(e->vtp);
	free(e->samples);
	free(e->samplep);
	free(e->labels);
	free(e->labelp);
	free(e->mappings);
	free(e->mappingp);
	free(e->locations);
	free(e->locationp);
	free(e->lines);
	free(e->linep);
	free(e->functions);
	free(e->functionp);
}

/* Fills e->msg with pointers into p (strings, id arrays): p must outlive it. */
static int pprof_enc_build(const struct profile *p, struct pprof_enc *e)
{
	size_t nlabels = 0, nlines = 0;
	for (size_t i = 0; i < p->nsamples; i++)
		nlabels += p->samples[i].nlabels;
	for (size_t i = 0; i < p->nlocations; i++)
		nlines += p->locations[i].nlines;

	e->vts = pprof_calloc(p->nsample_types, sizeof(*e->vts));
	e->vtp = pprof_calloc(p->nsample_types, sizeof(*e->vtp));
	e->samples = pprof_calloc(p->nsamples, sizeof(*e->samples));
	e->samplep = pprof_calloc(p->nsamples, sizeof(*e->samplep));
	e->labels = pprof_calloc(nlabels, sizeof(*e->labels));
	e->labelp = pprof_calloc(nlabels, sizeof(*e->labelp));
	e->mappings = pprof_calloc(p->nmappings, sizeof(*e->mappings));
	e->mappingp = pprof_calloc(p->nmappings, sizeof(*e->mappingp));
	e->locations = pprof_calloc(p->nlocations, sizeof(*e->locations));
	e->locationp = pprof_calloc(p->nlocations, sizeof(*e->locationp));
	e->lines = pprof_calloc(nlines, sizeof(*e->lines));
	e->linep = pprof_calloc(nlines, sizeof(*e->linep));
	e->functions = pprof_calloc(p->nfunctions, sizeof(*e->functions));
	e->functionp = pprof_calloc(p->nfunctions, sizeof(*e->functionp));
	if (!e->vts || !e->vtp || !e->samples || !e->samplep || !e->labels ||
	    !e->labelp || !e->mappings || !e->mappingp || !e->locations ||
	    !e->locationp || !e->lines || !e->linep || !e->functions ||
	    !e->functionp)
		return -ENOMEM;

	PbProfile *m = &e->msg;
	perftools__profiles__profile__init(m);
	for (size_t i = 0; i < p->nsample_types; i++) {
		perftools__profiles__value_type__init(&e->vts[i]);
		e->vts[i].type = p->sample_types[i].type;
		e->vts[i].unit = p->sample_types[i].unit;
		e->vtp[i] = &e->vts[i];
	}
	m->n_sample_type = p->nsample_types;
	m->sample_type = e->vtp;

	size_t li = 0;
	for (size_t i = 0; i < p->nsamples; i++) {
		const struct profile_sample *s = &p->samples[i];
		PbSample *ps = &e->samples[i];
		perftools__profiles__sample__init(ps);
		ps->n_location_id = s->nlocations;
		ps->location_id = s->location_ids;
		ps->n_value = p->nsample_types;
		ps->value = s->values;
		ps->n_label = s->nlabels;
		ps->label = &e->labelp[li];
		for (size_t j = 0; j < s->nlabels; j++, li++) {
			PbLabel *pl = &e->labels[li];
			perftools__profiles__label__init(pl);
			pl->key = s->labels[j].key;
			pl->str = s->labels[j].str;
			pl->num = s->labels[j].num;
			pl->num_unit = s->labels[j].num_unit;
			e->labelp[li] = pl;
		}
		e->samplep[i] = ps;
	}
	m->n_sample = p->nsamples;
	m->sample = e->samplep;

	for (size_t i = 0; i < p->nmappings; i++) {
		const struct profile_mapping *pm = &p->mappings[i];
		PbMapping *mm = &e->mappings[i];
		perftools__profiles__mapping__init(mm);
		mm->id = pm->id;
		mm->memory_start = pm->start;
		mm->memory_limit = pm->limit;
		mm->file_offset = pm->offset;
		mm->filename = pm->filename;
		mm->build_id = pm->build_id;
		mm->has_functions = pm->has_functions;
		mm->has_filenames = pm->has_filenames;
		mm->has_line_numbers = pm->has_line_numbers;
		mm->has_inline_frames = pm->has_inline_frames;
		e->mappingp[i] = mm;
	}
	m->n_mapping = p->nmappings;
	m->mapping = e->mappingp;

	li = 0;
	for (size_t i = 0; i < p->nlocations; i++) {
		const struct profile_location *pl = &p->locations[i];
		PbLocation *ml = &e->locations[i];
		perftools__profiles__location__init(ml);
		ml->id = pl->id;
		ml->mapping_id = pl->mapping_id;
		ml->address = pl->address;
		ml->n_line = pl->nlines;
		ml->line = &e->linep[li];
		for (size_t j = 0; j < pl->nlines; j++, li++) {
			PbLine *ln = &e->lines[li];
			perftools__profiles__line__init(ln);
			ln->function_id = pl->lines[j].function_id;
			ln->line = pl->lines[j].line;
			e->linep[li] = ln;
		}
		e->locationp[i] = ml;
	}
	m->n_location = p->nlocations;
	m->location = e->locationp;

	for (size_t i = 0; i < p->nfunctions; i++) {
		const struct profile_function *pf = &p->functions[i];
		PbFunction *mf = &e->functions[i];
		perftools__profiles__function__init(mf);
		mf->id = pf->id;
		mf->name = pf->name;
		mf->system_name = pf->system_name;
		mf->filename = pf->filename;
		mf->start_line = pf->start_line;
		e->functionp[i] = mf;
	}
	m->n_function = p->nfunctions;
	m->function = e->functionp;

	m->n_string_table = p->nstrings;
	m->string_table = p->strings;
	m->drop_frames = p->drop_frames;
	m->keep_frames = p->keep_frames;
	m->time_nanos = p->time_nanos;
	m->duration_nanos = p->duration_nanos;
	perftools__profiles__value_type__init(&e->period_type);
	e->period_type.type = p->period_type.type;
	e->period_type.unit = p->period_type.unit;
	m->period_type = &e->period_type;
	m->period = p->period;
	m->n_comment = p->ncomments;
	m->comment = p->comments;
	m->default_sample_type = p->default_sample_type;
	return 0;
}

int pprof_encode_raw(const struct profile *p, uint8_t **out, size_t *outlen)
{
	struct pprof_enc e;
	memset(&e, 0, sizeof(e));
	int ret = pprof_enc_build(p, &e);
	if (ret < 0)
		goto out;
	size_t len = perftools__profiles__profile__get_packed_size(&e.msg);
	uint8_t *buf = malloc(len ? len : 1);
	if (!buf) {
		ret = -ENOMEM;
		goto out;
	}
	if (perftools__profiles__profile__pack(&e.msg, buf) != len) {
		free(buf);
		ret = -EIO;
		goto out;
	}
	*out = buf;
	*outlen = len;
out:
	pprof_enc_release(&e);
	return ret;
}

int pprof_gzip(const uint8_t *raw, size_t rawlen, uint8_t **out, size_t *outlen)
{
	uint8_t *gz = NULL;
	int ret = 0;
	z_stream zs;

	memset(&zs, 0, sizeof(zs));
	/* 15 + 16: a gzip header and trailer instead of zlib's, which is what
	 * go tool pprof and the pprof web UIs expect (zlib manual, deflateInit2). */
	if (deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8,
			 Z_DEFAULT_STRATEGY) != Z_OK)
		return -ENOMEM;
	if (rawlen > UINT_MAX) {
		ret = -EFBIG;
		goto out;
	}
	size_t cap = deflateBound(&zs, rawlen);
	gz = malloc(cap);
	if (!gz) {
		ret = -ENOMEM;
		goto out;
	}
	zs.next_in = (Bytef *)(uintptr_t)raw;
	zs.avail_in = (uInt)rawlen;
	zs.next_out = gz;
	zs.avail_out = (uInt)(cap > UINT_MAX ? UINT_MAX : cap);
	if (deflate(&zs, Z_FINISH) != Z_STREAM_END) {
		ret = -EIO;
		goto out;
	}
	*out = gz;
	*outlen = zs.total_out;
	gz = NULL;
out:
	deflateEnd(&zs);
	free(gz);
	return ret;
}

int pprof_encode(const struct profile *p, uint8_t **out, size_t *outlen)
{
	uint8_t *raw;
	size_t rawlen;
	int ret = pprof_encode_raw(p, &raw, &rawlen);

	if (ret < 0)
		return ret;
	ret = pprof_gzip(raw, rawlen, out, outlen);
	free(raw);
	return ret;
}

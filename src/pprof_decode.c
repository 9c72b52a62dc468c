/*
 * pprof_decode.c - profile.proto, gzipped or not -> struct profile.
 *
 * Decoding validates what go tool pprof's profile.Parse and CheckValid
 * validate (string_table[0] == "", string indexes in range, non-zero unique
 * ids, known function and location ids, one value per sample type), so that
 * readers of a decoded profile can follow every reference without checks.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "pprof.h"
#include "pprof_budget.h"
#include "pprof_pb.h"

/* ---- decoding --------------------------------------------------------- */

__attribute__((format(printf, 3, 4)))
static int pprof_bad(char *errmsg, size_t errlen, const char *fmt, ...)
{
	if (errmsg && errlen) {
		int n = snprintf(errmsg, errlen, "not a pprof profile: ");
		if (n >= 0 && (size_t)n < errlen) {
			va_list ap;
			va_start(ap, fmt);
			vsnprintf(errmsg + n, errlen - (size_t)n, fmt, ap);
			va_end(ap);
		}
	}
	return -EBADMSG;
}

/* Inflates gzip data, including several concatenated gzip members as
 * gzip(1) and Go's gzip.Reader accept. */
static int pprof_too_big(char *errmsg, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Past the memory budget: -E2BIG with the reason. */
static int pprof_too_big(char *errmsg, size_t errlen, const char *fmt, ...)
{
	if (errmsg && errlen) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(errmsg, errlen, fmt, ap);
		va_end(ap);
	}
	return -E2BIG;
}

static uint64_t pprof_mib(uint64_t bytes)
{
	return (bytes + (1 << 20) - 1) >> 20;
}

/* Doubles a buffer that is full, up to max bytes: 0, -E2BIG when it
 * already holds max, or -ENOMEM. */
static int pprof_grow(uint8_t **buf, size_t *cap, size_t max)
{
	if (*cap >= max)
		return -E2BIG;
	size_t ncap = *cap > max / 2 ? max : *cap * 2;
	uint8_t *nb = realloc(*buf, ncap);
	if (!nb)
		return -ENOMEM;
	*buf = nb;
	*cap = ncap;
	return 0;
}

static int pprof_gunzip(const uint8_t *buf, size_t len, size_t max, uint8_t **out,
			size_t *outlen, char *errmsg, size_t errlen)
{
	z_stream zs;
	memset(&zs, 0, sizeof(zs));
	/* 15 + 32: detect a zlib or gzip header (zlib manual, inflateInit2). */
	if (inflateInit2(&zs, 15 + 32) != Z_OK)
		return -ENOMEM;
	size_t cap = len < 4096 ? 16384 : len > max / 4 ? max : len * 4, n = 0;
	uint8_t *o = malloc(cap ? cap : 1);
	int ret = 0;
	if (!o) {
		ret = -ENOMEM;
		goto out;
	}
	const uint8_t *in = buf;
	size_t left = len;
	for (;;) {
		if (n == cap) {
			ret = pprof_grow(&o, &cap, max);
			if (ret == -E2BIG)
				ret = pprof_too_big(errmsg, errlen,
						    "its gzip data expands beyond the limit of %llu MiB",
						    (unsigned long long)pprof_mib(max));
			if (ret < 0)
				goto out;
		}
		uInt in_now = left > UINT_MAX ? UINT_MAX : (uInt)left;
		size_t room = cap - n;
		uInt out_now = room > UINT_MAX ? UINT_MAX : (uInt)room;
		zs.next_in = (Bytef *)in;
		zs.avail_in = in_now;
		zs.next_out = o + n;
		zs.avail_out = out_now;
		int z = inflate(&zs, Z_NO_FLUSH);
		in += in_now - zs.avail_in;
		left -= in_now - zs.avail_in;
		n += out_now - zs.avail_out;
		if (z == Z_STREAM_END) {
			/* Another member follows only if it starts like one. */
			if (left >= 2 && in[0] == 0x1f && in[1] == 0x8b) {
				if (inflateReset(&zs) != Z_OK) {
					ret = -ENOMEM;
					goto out;
				}
				continue;
			}
			break;
		}
		if (z == Z_MEM_ERROR) {
			ret = -ENOMEM;
			goto out;
		}
		if (z == Z_DATA_ERROR || z == Z_NEED_DICT) {
			ret = pprof_bad(errmsg, errlen, "gzip data corrupt (%s)",
					zs.msg ? zs.msg : "bad data");
			goto out;
		}
		/* Z_BUF_ERROR: no progress was possible. With input and
		 * room left that would loop forever, so it ends here too. */
		if (z == Z_BUF_ERROR && zs.avail_out) {
			ret = pprof_bad(errmsg, errlen, "gzip data truncated");
			goto out;
		}
		if (z != Z_OK && z != Z_BUF_ERROR) {
			ret = pprof_bad(errmsg, errlen, "gzip data corrupt");
			goto out;
		}
	}
	*out = o;
	*outlen = n;
	o = NULL;
out:
	inflateEnd(&zs);
	free(o);
	return ret;
}

static int pprof_cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* Ids of one kind must be non-zero and unique (pprof's CheckValid). */
static int pprof_check_ids(uint64_t *ids, size_t n, const char *what,
			   char *errmsg, size_t errlen)
{
	qsort(ids, n, sizeof(*ids), pprof_cmp_u64);
	if (n && ids[0] == 0)
		return pprof_bad(errmsg, errlen, "%s with id 0", what);
	for (size_t i = 1; i < n; i++)
		if (ids[i] == ids[i - 1])
			return pprof_bad(errmsg, errlen, "duplicate %s id %llu",
					 what, (unsigned long long)ids[i]);
	return 0;
}

/* Validates the unpacked message before anything is copied. */
static int pprof_validate(const PbProfile *m, char *errmsg, size_t errlen)
{
	size_t ns = m->n_string_table;
	int ret;
#define STR_OK(i) ((i) >= 0 && (uint64_t)(i) < ns)
#define NEED_STR(i, what) do { if (!STR_OK(i)) return pprof_bad(errmsg, errlen, \
	"%s: string index %lld out of range (%zu strings)", what, (long long)(i), ns); \
	} while (0)

	if (ns == 0 || m->string_table[0][0] != '\0')
		return pprof_bad(errmsg, errlen, "string_table[0] is not \"\"");
	for (size_t i = 0; i < m->n_sample_type; i++) {
		NEED_STR(m->sample_type[i]->type, "sample type");
		NEED_STR(m->sample_type[i]->unit, "sample type unit");
	}
	if (m->period_type) {
		NEED_STR(m->period_type->type, "period type");
		NEED_STR(m->period_type->unit, "period type unit");
	}
	NEED_STR(m->drop_frames, "drop_frames");
	NEED_STR(m->keep_frames, "keep_frames");
	NEED_STR(m->default_sample_type, "default_sample_type");
	for (size_t i = 0; i < m->n_comment; i++)
		NEED_STR(m->comment[i], "comment");
	for (size_t i = 0; i < m->n_mapping; i++) {
		NEED_STR(m->mapping[i]->filename, "mapping filename");
		NEED_STR(m->mapping[i]->build_id, "mapping build_id");
	}
	for (size_t i = 0; i < m->n_function; i++) {
		NEED_STR(m->function[i]->name, "function name");
		NEED_STR(m->function[i]->system_name, "function system_name");
		NEED_STR(m->function[i]->filename, "function filename");
	}
	for (size_t i = 0; i < m->n_sample; i++) {
		const PbSample *s = m->sample[i];
		if (s->n_value != m->n_sample_type)
			return pprof_bad(errmsg, errlen,
					 "sample %zu has %zu values for %zu sample types",
					 i, s->n_value, m->n_sample_type);
		for (size_t j = 0; j < s->n_label; j++) {
			NEED_STR(s->label[j]->key, "label key");
			NEED_STR(s->label[j]->str, "label value");
			NEED_STR(s->label[j]->num_unit, "label unit");
		}
	}
#undef NEED_STR
#undef STR_OK

	size_t nmax = m->n_mapping;
	if (m->n_function > nmax)
		nmax = m->n_function;
	if (m->n_location > nmax)
		nmax = m->n_location;
	uint64_t *ids = pprof_calloc(nmax, sizeof(*ids));
	if (!ids)
		return -ENOMEM;
	for (size_t i = 0; i < m->n_mapping; i++)
		ids[i] = m->mapping[i]->id;
	ret = pprof_check_ids(ids, m->n_mapping, "mapping", errmsg, errlen);
	for (size_t i = 0; !ret && i < m->n_function; i++)
		ids[i] = m->function[i]->id;
	if (!ret)
		ret = pprof_check_ids(ids, m->n_function, "function", errmsg, errlen);
	for (size_t i = 0; !ret && i < m->n_location; i++)
		ids[i] = m->location[i]->id;
	if (!ret)
		ret = pprof_check_ids(ids, m->n_location, "location", errmsg, errlen);
	free(ids);
	return ret;
}

/* Reference checks that need the id lookups of the decoded profile. */
static int pprof_check_refs(const struct profile *p, char *errmsg, size_t errlen)
{
	for (size_t i = 0; i < p->nlocations; i++) {
		const struct profile_location *l = &p->locations[i];
		for (size_t j = 0; j < l->nlines; j++) {
			uint64_t f = l->lines[j].function_id;
			/* function_id 0 is allowed: a line without a function. */
			if (f && !profile_function_by_id(p, f))
				return pprof_bad(errmsg, errlen,
						 "location %llu refers to unknown function %llu",
						 (unsigned long long)l->id,
						 (unsigned long long)f);
		}
	}
	for (size_t i = 0; i < p->nsamples; i++) {
		const struct profile_sample *s = &p->samples[i];
		for (size_t j = 0; j < s->nlocations; j++)
			if (!profile_location_by_id(p, s->location_ids[j]))
				return pprof_bad(errmsg, errlen,
						 "sample %zu refers to unknown location %llu",
						 i, (unsigned long long)s->location_ids[j]);
	}
	return 0;
}

static int pprof_copy(const PbProfile *m, struct profile *p)
{
	for (size_t i = 1; i < m->n_string_table; i++)
		if (profile_append_raw_string(p, m->string_table[i]) < 0)
			return -ENOMEM;
	for (size_t i = 0; i < m->n_sample_type; i++) {
		struct profile_value_type vt = {
			.type = m->sample_type[i]->type,
			.unit = m->sample_type[i]->unit,
		};
		if (profile_append_raw_sample_type(p, vt) < 0)
			return -ENOMEM;
	}
	for (size_t i = 0; i < m->n_comment; i++)
		if (profile_append_raw_comment(p, m->comment[i]) < 0)
			return -ENOMEM;
	/* Scalars are public fields; only the decoder writes them directly. */
	if (m->period_type) {
		p->period_type.type = m->period_type->type;
		p->period_type.unit = m->period_type->unit;
	}
	p->period = m->period;
	p->time_nanos = m->time_nanos;
	p->duration_nanos = m->duration_nanos;
	p->drop_frames = m->drop_frames;
	p->keep_frames = m->keep_frames;
	p->default_sample_type = m->default_sample_type;

	for (size_t i = 0; i < m->n_mapping; i++) {
		const PbMapping *mm = m->mapping[i];
		struct profile_mapping pm = {
			.id = mm->id, .start = mm->memory_start,
			.limit = mm->memory_limit, .offset = mm->file_offset,
			.filename = mm->filename, .build_id = mm->build_id,
			.has_functions = mm->has_functions,
			.has_filenames = mm->has_filenames,
			.has_line_numbers = mm->has_line_numbers,
			.has_inline_frames = mm->has_inline_frames,
		};
		if (profile_append_raw_mapping(p, &pm) < 0)
			return -ENOMEM;
	}
	for (size_t i = 0; i < m->n_function; i++) {
		const PbFunction *mf = m->function[i];
		struct profile_function pf = {
			.id = mf->id, .name = mf->name,
			.system_name = mf->system_name, .filename = mf->filename,
			.start_line = mf->start_line,
		};
		if (profile_append_raw_function(p, &pf) < 0)
			return -ENOMEM;
	}
	for (size_t i = 0; i < m->n_location; i++) {
		const PbLocation *ml = m->location[i];
		struct profile_line small[16], *lines = small;
		if (ml->n_line > sizeof(small) / sizeof(small[0])) {
			lines = malloc(ml->n_line * sizeof(*lines));
			if (!lines)
				return -ENOMEM;
		}
		for (size_t j = 0; j < ml->n_line; j++) {
			lines[j].function_id = ml->line[j]->function_id;
			lines[j].line = ml->line[j]->line;
		}
		struct profile_location pl = {
			.id = ml->id, .mapping_id = ml->mapping_id,
			.address = ml->address, .nlines = ml->n_line,
			.lines = lines,
		};
		int r = profile_append_raw_location(p, &pl);
		if (lines != small)
			free(lines);
		if (r < 0)
			return r;
	}
	/* Go's parser leaves a location whose mapping is missing without one;
	 * do the same so that nobody follows a dangling mapping id. */
	for (size_t i = 0; i < p->nlocations; i++)
		if (p->locations[i].mapping_id &&
		    !profile_mapping(p, p->locations[i].mapping_id))
			p->locations[i].mapping_id = 0;

	for (size_t i = 0; i < m->n_sample; i++) {
		const PbSample *ms = m->sample[i];
		struct profile_label small[8], *labels = small;
		if (ms->n_label > sizeof(small) / sizeof(small[0])) {
			labels = malloc(ms->n_label * sizeof(*labels));
			if (!labels)
				return -ENOMEM;
		}
		for (size_t j = 0; j < ms->n_label; j++) {
			labels[j].key = ms->label[j]->key;
			labels[j].str = ms->label[j]->str;
			labels[j].num = ms->label[j]->num;
			labels[j].num_unit = ms->label[j]->num_unit;
		}
		struct profile_sample s = {
			.nlocations = ms->n_location_id,
			.location_ids = ms->location_id,
			.values = ms->value,
			.nlabels = ms->n_label,
			.labels = labels,
		};
		int r = profile_append_raw_sample(p, &s);
		if (labels != small)
			free(labels);
		if (r < 0)
			return r;
	}
	return 0;
}

int pprof_decode(const uint8_t *buf, size_t len, struct profile **out,
		 char *errmsg, size_t errlen)
{
	return pprof_decode_max(buf, len, PPROF_DEFAULT_MAX_MEMORY, out, errmsg, errlen);
}

/* Refuses a message whose decoding would take more than its share
 * (docs/design.md §6.1): what protobuf-c allocates, and the profile
 * copied from it, about as large again (measured: 2.0-2.1 times the
 * unpack's allocations with the message itself), both alive at once. */
static int pprof_check_budget(const uint8_t *buf, size_t len, size_t max,
			      char *errmsg, size_t errlen)
{
	uint64_t cost;
	if (pprof_budget_scan(buf, len, &cost) < 0)
		return pprof_bad(errmsg, errlen, "protobuf parse failed");
	uint64_t need = len + 2 * cost + cost / 4;
	if (cost > (uint64_t)PPROF_MAX_EXPANSION * len + PPROF_EXPANSION_SLACK)
		return pprof_too_big(errmsg, errlen,
				     "decoding it would take about %llu MiB for %llu KiB of "
				     "protobuf, more than %d times as much: not a real profile",
				     (unsigned long long)pprof_mib(need),
				     (unsigned long long)(len + 1023) / 1024, PPROF_MAX_EXPANSION);
	if (need > max)
		return pprof_too_big(errmsg, errlen,
				     "decoding it would take about %llu MiB, more than the "
				     "limit of %llu MiB",
				     (unsigned long long)pprof_mib(need),
				     (unsigned long long)pprof_mib(max));
	return 0;
}

int pprof_decode_max(const uint8_t *buf, size_t len, size_t max_memory,
		     struct profile **out, char *errmsg, size_t errlen)
{
	uint8_t *raw = NULL;
	size_t rawlen = len;
	struct profile *p = NULL;
	PbProfile *m = NULL;
	int ret;

	if (errmsg && errlen)
		errmsg[0] = '\0';
	if (len == 0)
		return pprof_bad(errmsg, errlen, "empty file");
	if (len >= 2 && buf[0] == 0x1f && buf[1] == 0x8b) {
		ret = pprof_gunzip(buf, len, max_memory, &raw, &rawlen, errmsg, errlen);
		if (ret < 0)
			return ret;
		buf = raw;
	}
	ret = pprof_check_budget(buf, rawlen, max_memory, errmsg, errlen);
	if (ret < 0)
		goto out;
	m = perftools__profiles__profile__unpack(NULL, rawlen, buf);
	if (!m) {
		/* protobuf-c does not tell a parse error from ENOMEM; a parse
		 * error is by far the likelier cause. */
		ret = pprof_bad(errmsg, errlen, "protobuf parse failed");
		goto out;
	}
	ret = pprof_validate(m, errmsg, errlen);
	if (ret < 0)
		goto out;
	p = profile_new();
	if (!p) {
		ret = -ENOMEM;
		goto out;
	}
	ret = pprof_copy(m, p);
	if (ret < 0)
		goto out;
	ret = pprof_check_refs(p, errmsg, errlen);
	if (ret < 0)
		goto out;
	*out = p;
	p = NULL;
out:
	profile_free(p);
	if (m)
		perftools__profiles__profile__free_unpacked(m, NULL);
	free(raw);
	return ret;
}

int pprof_read_file(const char *path, struct profile **out, char *errmsg,
		    size_t errlen)
{
	return pprof_read_file_max(path, PPROF_DEFAULT_MAX_MEMORY, out, errmsg, errlen);
}

int pprof_read_file_max(const char *path, size_t max_memory, struct profile **out,
			char *errmsg, size_t errlen)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		int e = errno;
		if (errmsg && errlen)
			snprintf(errmsg, errlen, "open: %s", strerror(e));
		return -e;
	}
	struct stat st;
	uint8_t *buf = NULL;
	size_t n = 0, cap = 0;
	int ret;
	if (fstat(fd, &st) < 0) {
		ret = -errno;
		goto out;
	}
	if (S_ISDIR(st.st_mode)) {
		ret = -EISDIR;
		goto out;
	}
	/* +1 so that the read that sees end of file needs no growth. */
	cap = S_ISREG(st.st_mode) && st.st_size > 0 &&
	      (uint64_t)st.st_size < max_memory ? (size_t)st.st_size + 1 : 65536;
	buf = malloc(cap);
	if (!buf) {
		ret = -ENOMEM;
		goto out;
	}
	for (;;) {
		if (n == cap) {
			ret = pprof_grow(&buf, &cap, max_memory);
			if (ret == -E2BIG) {
				pprof_too_big(errmsg, errlen,
					      "the file is larger than the limit of %llu MiB",
					      (unsigned long long)pprof_mib(max_memory));
				goto out_close;
			}
			if (ret < 0)
				goto out;
		}
		ssize_t r = read(fd, buf + n, cap - n);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			ret = -errno;
			goto out;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	ret = pprof_decode_max(buf, n, max_memory, out, errmsg, errlen);
	goto out_close;
out:
	if (errmsg && errlen)
		snprintf(errmsg, errlen, "read: %s", strerror(-ret));
out_close:
	free(buf);
	close(fd);
	return ret;
}

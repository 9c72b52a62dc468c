/*
 * record_heap_inject.c - the injector (inject.h) as the source of a heap
 * recording (record.h: record_heap_source).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "record.h"
#include "inject.h"

struct injector {
	struct inject *in;
};

static int inj_attach(void *arg, pid_t pid, uint64_t rate, uint32_t stack_size,
		      struct heapabi_shared **shared, char *err, size_t errlen)
{
	struct injector *j = arg;
	struct inject_opts o = { .rate = rate, .stack_size = stack_size };
	int e = inject_attach(pid, &o, &j->in, err, errlen);

	if (e < 0)
		return e;
	*shared = inject_shared(j->in);
	return 0;
}

static int inj_poll(void *arg, char *err, size_t errlen)
{
	struct injector *j = arg;

	return inject_poll(j->in, err, errlen);
}

static void copy_stats(const struct inject_stats *is, struct record_heap_detach *st)
{
	st->modules = is->modules;
	st->entries = is->entries;
	st->stopped_ns_max = is->stopped_ns_max;
	st->left_mapped = is->left_mapped;
	st->removed_stale = is->removed_stale;
}

static void inj_stats(void *arg, struct record_heap_detach *st)
{
	struct injector *j = arg;
	struct inject_stats is;

	inject_get_stats(j->in, &is);
	copy_stats(&is, st);
}

static int inj_detach(void *arg, struct record_heap_detach *st, char *err,
		      size_t errlen)
{
	struct injector *j = arg;
	struct inject_stats is;
	char buf[256] = "";
	int e = inject_detach(j->in, &is, buf, sizeof(buf));

	j->in = NULL;
	copy_stats(&is, st);
	if (e < 0 && err && errlen)
		snprintf(err, errlen, "%s", buf);
	return e;
}

int record_heap_injector(struct record_heap_source *out)
{
	struct injector *j = calloc(1, sizeof(*j));

	if (!j)
		return -ENOMEM;
	*out = (struct record_heap_source){
		.attach = inj_attach, .poll = inj_poll, .stats = inj_stats,
		.detach = inj_detach, .arg = j,
	};
	return 0;
}

int record_heap_check(pid_t pid, char *err, size_t errlen)
{
	return inject_check(pid, err, errlen);
}

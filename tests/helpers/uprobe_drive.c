/*
 * uprobe_drive PID SECONDS PERIOD - heap samples of PID from uprobes on its
 * allocator for SECONDS, through the sampler and heapuprobe.h as record.c
 * takes them (docs/design.md §12.4), one call in PERIOD sampled. Prints
 *
 *   module PATH main_program 0|1
 *   calibrated NS ns a uprobe hit    (heapuprobe_calibrate)
 *   enabled                      (once the events count)
 *   calls N                      every probed call since enabled
 *   FUNC N                       the same by function
 *   samples N                    allocation samples converted
 *   lost N
 *   rate C calls/s slower X%     the last second's estimate
 *   top NAME BYTES               callers by bytes (size x PERIOD), most
 *                                first, named by the symbolizer
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "heapuprobe.h"
#include "symbolize.h"

struct caller {
	char *name;
	uint64_t bytes;
};

struct drive {
	struct symbolizer *sym;
	uint64_t period, samples;
	struct caller *callers;
	size_t n;
	uint64_t regs[HEAPABI_NR_REGS];
};

static int on_record(const struct sampler_record *rec, void *arg)
{
	struct drive *d = arg;
	struct heap_sample hs;
	const char *name;
	size_t i;

	if (heapuprobe_convert(rec, d->period, d->regs, &hs) != 1)
		return 0;
	d->samples++;
	/* The leaf frame: IP is inside the call instruction. */
	name = symbolizer_name(d->sym, hs.regs[HEAPABI_R_IP]);
	if (!name)
		name = "?";
	for (i = 0; i < d->n && strcmp(d->callers[i].name, name); i++)
		;
	if (i == d->n) {
		struct caller *c = realloc(d->callers, (d->n + 1) * sizeof(*c));

		if (!c)
			return 1;
		d->callers = c;
		c[i].name = strdup(name);
		c[i].bytes = 0;
		d->n++;
	}
	d->callers[i].bytes += hs.size * hs.calls;
	return 0;
}

static int by_bytes(const void *a, const void *b)
{
	const struct caller *x = a, *y = b;

	return x->bytes < y->bytes ? 1 : x->bytes > y->bytes ? -1 : 0;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

int main(int argc, char **argv)
{
	struct heapuprobe_target t;
	struct sampler_opts o = { 0 };
	struct heapuprobe_meter m = { 0 }, m1 = { 0 };
	struct heapuprobe_rate rate, last = { 0 };
	struct sampler_stats st;
	struct drive d = { 0 };
	struct sampler *s;
	char err[256] = "";
	uint64_t end, tick;
	int r;

	if (argc != 4) {
		fprintf(stderr, "usage: uprobe_drive PID SECONDS PERIOD\n");
		return 2;
	}
	o.pid = atoi(argv[1]);
	d.period = strtoull(argv[3], NULL, 10);
	r = heapuprobe_find(o.pid, &t, err, sizeof(err));
	if (r < 0) {
		fprintf(stderr, "uprobe_drive: %s\n", err);
		return 1;
	}
	printf("module %s main_program %d\n", t.module, t.main_program);
	heapuprobe_sampler_opts(&t, d.period, false, &o);
	o.stack_size = 8192;
	/* 4 MiB a CPU: ~500 samples of 8 KiB, for a drive descheduled a
	 * while on a loaded machine. */
	o.ring_pages = 1024;
	r = sampler_open(&o, &s, err, sizeof(err));
	if (r == 0)
		r = symbolizer_new(o.pid, false, &d.sym, err, sizeof(err));
	if (r < 0) {
		fprintf(stderr, "uprobe_drive: %s\n", err);
		return 1;
	}
	if (heapuprobe_calibrate(&m1.call_ns, err, sizeof(err)) < 0) {
		fprintf(stderr, "uprobe_drive: calibration: %s\n", err);
		return 1;
	}
	printf("calibrated %.0f ns a uprobe hit\n", m1.call_ns);
	m.call_ns = m1.call_ns;
	heapuprobe_rate(s, &m, now_ns(), &rate);
	heapuprobe_rate(s, &m1, now_ns(), &rate);
	if (sampler_enable(s) < 0) {
		fprintf(stderr, "uprobe_drive: enable: %s\n", strerror(errno));
		return 1;
	}
	printf("enabled\n");
	fflush(stdout);
	end = now_ns() + strtoull(argv[2], NULL, 10) * 1000000000ULL;
	tick = now_ns() + 1000000000ULL;
	while (now_ns() < end) {
		r = sampler_read(s, 100, on_record, &d);
		if (r == -ESRCH)
			break;
		if (now_ns() >= tick) {
			heapuprobe_rate(s, &m1, now_ns(), &last);
			tick += 1000000000ULL;
		}
	}
	sampler_disable(s);
	while (sampler_read(s, 0, on_record, &d) > 0)
		;
	heapuprobe_rate(s, &m, now_ns(), &rate);
	sampler_get_stats(s, &st);
	printf("calls %llu\n", (unsigned long long)rate.total_calls);
	for (unsigned f = 0; f < HEAPABI_NFUNCS; f++)
		if (t.offset[f])
			printf("%s %llu\n", heapuprobe_func_name(f),
			       (unsigned long long)rate.funcs[f]);
	printf("samples %llu\nlost %llu\n", (unsigned long long)d.samples,
	       (unsigned long long)st.lost);
	printf("rate %.0f calls/s slower %.0f%% (uprobe ~%.2f us a call)\n",
	       last.calls_per_sec, last.slower_pct, last.call_us);
	qsort(d.callers, d.n, sizeof(*d.callers), by_bytes);
	for (size_t i = 0; i < d.n; i++)
		printf("top %s %llu\n", d.callers[i].name,
		       (unsigned long long)d.callers[i].bytes);
	for (size_t i = 0; i < d.n; i++)
		free(d.callers[i].name);
	free(d.callers);
	symbolizer_free(d.sym);
	sampler_free(s);
	return 0;
}

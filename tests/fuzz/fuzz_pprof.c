/*
 * fuzz_pprof.c - `cprof report`'s input: any bytes as a profile (gzipped
 * or not) under a 64 MiB budget; what decodes is reported, and encoded and
 * decoded and encoded again to the same bytes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pprof.h"
#include "report.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static FILE *devnull;
	struct profile *p = NULL, *q = NULL;
	uint8_t *enc = NULL;
	size_t enclen;
	char err[256];

	if (!devnull)
		devnull = fopen("/dev/null", "w");
	if (pprof_decode_max(data, size, (size_t)64 << 20, &p, err, sizeof(err)) != 0)
		return 0;
	struct report_opts o = { .top = 0 };
	report_top(p, &o, devnull);
	o.sample_type = "cpu";
	report_top(p, &o, devnull);
	if (pprof_encode_raw(p, &enc, &enclen) == 0) {
		uint8_t *again = NULL;
		size_t againlen;
		/* What we write, we read back and write the same. */
		if (pprof_decode(enc, enclen, &q, err, sizeof(err)) != 0 ||
		    pprof_encode_raw(q, &again, &againlen) != 0 || againlen != enclen ||
		    memcmp(enc, again, enclen) != 0)
			abort();
		profile_free(q);
		free(again);
		free(enc);
	}
	profile_free(p);
	return 0;
}

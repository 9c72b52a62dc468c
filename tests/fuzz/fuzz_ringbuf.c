/*
 * fuzz_ringbuf.c - perf ring records with arbitrary contents and
 * head/tail: 16 bytes of data_head and data_tail, then the data area (a
 * 512-byte ring, the rest of the input copied in); every record taken is
 * decoded as a sample of a few sample_type layouts.
 */
#include <linux/perf_event.h>
#include <stdlib.h>
#include <string.h>

#include "ringbuf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define AREA 512

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint64_t types[] = {
		PERF_SAMPLE_IP | PERF_SAMPLE_TID | PERF_SAMPLE_TIME | PERF_SAMPLE_CALLCHAIN |
			PERF_SAMPLE_REGS_USER | PERF_SAMPLE_STACK_USER,
		PERF_SAMPLE_IDENTIFIER | PERF_SAMPLE_TID | PERF_SAMPLE_TIME | PERF_SAMPLE_CPU |
			PERF_SAMPLE_PERIOD | PERF_SAMPLE_CALLCHAIN,
		PERF_SAMPLE_TID | PERF_SAMPLE_TIME | PERF_SAMPLE_STACK_USER,
	};
	struct perf_event_mmap_page *meta;
	uint8_t *area;
	struct ringbuf rb;

	if (size < 16)
		return 0;
	meta = calloc(1, sizeof(*meta));
	area = malloc(AREA);	/* exactly the area: ASan sees a read past it */
	if (!meta || !area)
		goto out;
	memcpy(&meta->data_head, data, 8);
	memcpy(&meta->data_tail, data + 8, 8);
	memset(area, 0, AREA);
	memcpy(area, data + 16, size - 16 < AREA ? size - 16 : AREA);

	ringbuf_init(&rb, meta, area, AREA);
	for (int round = 0; round < 2 && ringbuf_begin(&rb); round++) {
		const struct perf_event_header *h;
		int err;
		for (int i = 0; i < 256 && (h = ringbuf_next(&rb, &err)); i++) {
			for (size_t t = 0; t < sizeof(types) / sizeof(types[0]); t++) {
				struct perf_sample s;
				uint64_t when;
				ringbuf_parse_sample(h, types[t], &s);
				/* uprobes' light samples: 5 registers */
				ringbuf_parse_sample_regs(h, types[t], 5, &s);
				ringbuf_record_time(h, types[t], &when);
				ringbuf_lost_count(h);
			}
		}
		ringbuf_end(&rb);
	}
	ringbuf_release(&rb);
out:
	free(meta);
	free(area);
	return 0;
}

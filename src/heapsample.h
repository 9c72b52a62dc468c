/*
 * heapsample.h - one sampled allocation as the heap profile takes it in,
 * whichever method saw it: the injected sampler (src/heapring.h reads its
 * ring) or uprobes on the allocator (perf samples). The registers and
 * stack are the allocation's caller's, as they are once the allocator
 * returns (heapabi.h: IP = return address - 1, SP = the SP of the call +
 * 8), so that the leaf frame is the function that allocated.
 */
#ifndef CPROF_HEAPSAMPLE_H
#define CPROF_HEAPSAMPLE_H

#include <stdint.h>
#include <stdbool.h>
#include <sys/types.h>

struct heap_sample {
	pid_t pid, tid;
	unsigned func;			/* enum heapabi_func */
	uint64_t size;			/* bytes asked for */
	uint64_t addr;			/* the block; 0 when not known */
	uint64_t id;			/* live-set id (injected sampler);
					 * 0: the block is never in use
					 * (not tracked) */
	/* How many calls the sample stands for: 0 for Poisson sampling by
	 * bytes (the injected sampler: weighed as Go's scaleHeapSample
	 * does), N for one call in N (uprobes). */
	uint64_t calls;
	const uint64_t *regs;		/* HEAPABI_NR_REGS, perf's order */
	const uint8_t *stack;		/* from regs[SP] up */
	uint64_t stack_size;		/* valid bytes */
	uint64_t time_ns;		/* CLOCK_MONOTONIC */
};

#endif

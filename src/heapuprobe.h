/*
 * heapuprobe.h - heap samples from uprobes on the allocator's entry points
 * (`cprof record --profile heap|allocs --method uprobe`, docs/design.md
 * §12.4): for an allocator the GOT cannot reach (linked into the main
 * program) or when asked for.
 *
 * Use (record.c):
 *
 *   struct heapuprobe_target t;
 *   heapuprobe_find(pid, &t, err, errlen);           which file, offsets
 *   heapuprobe_sampler_opts(&t, period, &opts);      kinds |= UPROBE, ...
 *   sampler_open(&opts, &s, ...); sampler_enable(s);
 *   in the sampler_read callback:
 *       uint64_t regs[HEAPABI_NR_REGS];
 *       if (heapuprobe_convert(rec, period, regs, &hs) == 1) ...unwind hs
 *   meter.call_ns from heapuprobe_calibrate() once, before sampling
 *   now and then: heapuprobe_rate(s, &meter, now, &rate) for the status line
 *       "malloc family: %.0f calls/s, ~%.0f%% slower (uprobe ~%.2f us a call)"
 *
 * One call in `period` of each allocating function is sampled (calls =
 * period: the sample stands for that many calls of its size). For an
 * allocs profile free() is counted, never sampled, and the samples have
 * addr 0 and id 0 (never in use). For a heap profile (inuse) each
 * allocating function also has a return probe, and free and realloc's
 * old pointer are traced at every call, with light samples (registers
 * only, sampler_uprobe.light), which heapuprobe_pair.h pairs into
 * allocations with their address.
 *
 * Never prints; returns 0 or -errno with a one-line reason in err.
 */
#ifndef CPROF_HEAPUPROBE_H
#define CPROF_HEAPUPROBE_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "heapabi.h"
#include "heapsample.h"
#include "sampler.h"

/* The cost of one uprobe hit in ns, as measured on this VM under the load
 * of parallel builds (docs/design.md §12.4: 20.8 us a call of ownmalloc's
 * allocator; 0.65 us when idle, per issue 11): what heapuprobe_rate uses
 * when heapuprobe_calibrate could not measure it. */
#define HEAPUPROBE_CALL_NS 20000.0

/* The module defining the allocator in a process, and where to probe. */
struct heapuprobe_target {
	pid_t pid;
	char module[PATH_MAX];	/* its path as the process maps it */
	char path[PATH_MAX];	/* how cprof opens it (/proc/PID/root/...):
				 * the uprobe's path */
	bool main_program;	/* the allocator is linked into the program
				 * (no GOT entry reaches it) */
	bool libc;		/* glibc's libc.so */
	uint64_t offset[HEAPABI_NFUNCS];	/* file offset of each function
						 * probed; 0: not probed */
};

/* Finds the module whose allocator the process uses: the main program
 * when it defines malloc itself, else a shared library other than libc
 * that defines malloc (an allocator preloaded or linked in), else the libc
 * it maps; and the file offsets of its functions (heapuprobe_offsets).
 * Returns 0, -ESRCH (no such process), -ENOENT (no module defines malloc:
 * a static binary without symbols), or another -errno. */
int heapuprobe_find(pid_t pid, struct heapuprobe_target *t, char *err,
		    size_t errlen);

/* The file offsets of the allocator functions an ELF file defines
 * (.symtab, else .dynsym: defined STT_FUNC or STT_GNU_IFUNC symbols named
 * as enum heapabi_func says), read from fd. 0 for a function it does not
 * define, and for one at the same offset as an earlier one (glibc's
 * memalign is aligned_alloc: one probe, counted once). With libc, no
 * reallocarray (glibc's tail-jumps to realloc through its PLT: probing it
 * too would count each of its calls twice). Returns the number of
 * functions found (malloc must be one of them, else 0), or -errno. */
int heapuprobe_offsets(int fd, bool libc, uint64_t offset[HEAPABI_NFUNCS],
		       char *err, size_t errlen);

/* The probes (sampler_uprobe's indexes): function f's entry at f; with
 * inuse also its return at HEAPUPROBE_RET(f) and, for realloc and
 * reallocarray, a light entry at HEAPUPROBE_OLD(f) for the old pointer
 * of every call. */
#define HEAPUPROBE_RET(f) (HEAPABI_NFUNCS + (f))
#define HEAPUPROBE_OLD(f) (2 * HEAPABI_NFUNCS + (f))
#define HEAPUPROBE_NPROBES (3 * HEAPABI_NFUNCS)
_Static_assert(HEAPUPROBE_NPROBES <= SAMPLER_UPROBE_MAX, "SAMPLER_UPROBE_MAX");

/* Sets o->kinds |= SAMPLER_KIND(SAMPLER_UPROBE) and o->uprobe: t's file
 * and functions, a sample every period-th call. Without inuse free is
 * counted only; with it, the return probes, free and the old pointers
 * are light probes hit at every call (see above). The caller sets pid,
 * stack_size (as for CPU samples) and the rest. o->uprobe.path points
 * into t, which must outlive sampler_open. */
void heapuprobe_sampler_opts(const struct heapuprobe_target *t,
			     uint64_t period, bool inuse,
			     struct sampler_opts *o);

/* Turns a SAMPLER_UPROBE sample into the allocation it saw: func from the
 * event, size from the argument registers (malloc, valloc, pvalloc: rdi;
 * calloc rdi * rsi, reallocarray rsi * rdx; realloc rsi; posix_memalign
 * rdx; aligned_alloc, memalign rsi), the caller's registers as heapabi.h
 * defines them (IP = the return address at [SP] - 1, SP + 8; BX BP
 * R12-R15 kept, the others 0) written to regs, the stack copy from the
 * new SP, calls = period, addr = id = 0. Returns 1 for a sample, 0 for a
 * record to skip (another kind, a free, a product that overflows, a stack
 * copy without the return address), -EBADMSG for a sample without
 * registers. */
int heapuprobe_convert(const struct sampler_record *rec, uint64_t period,
		       uint64_t regs[HEAPABI_NR_REGS], struct heap_sample *out);

/* The call rate and its estimated cost. */
struct heapuprobe_costs {	/* ns, from heapuprobe_calibrate */
	double hit;		/* an entry probe, counting */
	double light;		/* an entry probe with a light sample */
	double ret;		/* what a light return probe adds to the
				 * entry probe of the same function: 0
				 * when less than two timings of the
				 * entry's trap tell apart (~1 us against
				 * ~20 us here, which moves by 25% from
				 * one timing to the next) */
};
struct heapuprobe_meter {	/* zero it before the first call */
	uint64_t probes[SAMPLER_UPROBE_MAX];	/* at the last call */
	uint64_t ns;
	bool started;
	double call_ns;		/* a uprobe hit's cost: set it from
				 * heapuprobe_calibrate; 0:
				 * HEAPUPROBE_CALL_NS */
	struct heapuprobe_costs cost;	/* the light probes' (a heap
					 * profile); 0: from call_ns */
	struct sampler_uprobe probed;	/* what the sampler probes (its
					 * sampler_opts.uprobe): each
					 * probe's cost */
};
struct heapuprobe_rate {
	uint64_t calls;		/* probed calls since the last measure
				 * (free included), all threads */
	uint64_t total_calls;	/* since the sampler was enabled */
	uint64_t funcs[HEAPABI_NFUNCS];	/* total_calls by function */
	double seconds;		/* since the last measure */
	double calls_per_sec;
	double call_us;		/* HEAPUPROBE_CALL_NS / 1000 */
	double busy;		/* calls_per_sec * call cost: CPU seconds a
				 * second the probes take */
	double slower_pct;	/* estimated slowdown of the calling
				 * threads: busy / (1 - busy) * 100, or
				 * -1 when busy >= 1 (more than a CPU) */
};
/* Reads the events' counts (sampler_uprobe_counts) and measures since the
 * previous call with m (the first measures from sampler_enable: rate 0,
 * total_calls set). Calls are those of the functions (their entry
 * probes); busy sums every probe's hits times its cost: a counting entry
 * call_ns (cost.hit), a light entry cost.light (less cost.hit when it
 * shares its function's entry with a sampled probe: one trap), a light
 * return cost.ret. now_ns: CLOCK_MONOTONIC. Returns 0 or -EINVAL. */
int heapuprobe_rate(struct sampler *s, struct heapuprobe_meter *m,
		    uint64_t now_ns, struct heapuprobe_rate *out);

/* Measures what a uprobe hit costs now on this machine (docs/design.md
 * §12.4: it ranges from under 1 us on an idle machine to tens of us under
 * load): the CPU time of HEAPUPROBE_CALIBRATION_CALLS calls of a local
 * function with an entry uprobe (counting only) less the same without.
 * Takes that many hits of CPU time (about 50 ms at 25 us a hit). Returns
 * 0 with *ns_per_call, or -errno (no uprobes: the reason in err). */
#define HEAPUPROBE_CALIBRATION_CALLS 2000u
int heapuprobe_calibrate(double *ns_per_call, char *err, size_t errlen);

/* The same for the probes of a heap profile, each kind by the same
 * measure: a counting entry, a light entry, and a counting entry with a
 * light return probe (less the counting entry alone). Three times the
 * time of heapuprobe_calibrate. Returns 0 or -errno. */
int heapuprobe_calibrate_costs(struct heapuprobe_costs *c, char *err,
			       size_t errlen);

/* "malloc", "calloc"... for a func, or "?". */
const char *heapuprobe_func_name(unsigned func);

#endif

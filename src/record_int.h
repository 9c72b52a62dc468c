/*
 * record_int.h - what the parts of a recording share: record.c (the run:
 * events in, dispatch, header and footer), record_stack.c (each process's
 * images, and one sample's stack as profile locations) and record_offcpu.c
 * (off-CPU intervals as block, mutex and wall samples). Private to them.
 */
#ifndef CPROF_RECORD_INT_H
#define CPROF_RECORD_INT_H

#include <stdint.h>
#include <stdbool.h>
#include <time.h>

#include "record.h"
#include "offcpu.h"
#include "procfs.h"
#include "procs.h"
#include "sampler.h"
#include "stackprof.h"
#include "symbolize.h"
#include "symtab.h"
#include "unwind.h"

/* A re-read of a process's /proc/PID/maps: at most this often. */
#define REFRESH_INTERVAL_NS 50000000ULL
#define TICK_MS 100
/* 2 MiB of ring per CPU in DWARF mode: ~250 samples with 8 KiB stack
 * copies, a quarter of a second at 999 Hz, so that a slow first lookup
 * (a library's debug info being read) does not make the kernel drop
 * samples. The sampler halves it when the mlock budget refuses. */
#define DWARF_RING_PAGES 512
/* x86_64: the kernel half of the address space (symbolize.c). */
#define KERNEL_START 0xffff800000000000ULL

/* What the recording keeps of one procs image (procs_image.priv). */
struct rimage {
	struct symbolizer *sym;
	struct unwinder *unwinder;	/* DWARF mode */
	struct stackprof *sp;
	uint64_t generation;		/* of the maps last reported */
	uint64_t last_reload_ns;	/* of /proc/PID/maps */
	bool gone;			/* the process had exited when its
					 * first sample was read */
	bool failed;			/* no modules: raw addresses */
};

struct recorder {
	const struct record_opts *opts;
	struct sampler *sampler;
	struct procs *procs;
	/* Kernel addresses, and user ones no image can name (a process
	 * whose modules could not be read): their address is kept. */
	struct symbolizer *ksym;
	struct stackprof *ksp;
	struct symtab_cache *cache;	/* symbols of files many processes map */
	struct profile *profile;
	uint64_t *pcs, *locs;
	bool *act;
	size_t max_frames;
	struct record_stats st;
	struct procfs_ksyms ksyms;	/* read before sampling starts */
	/* The first perf map an image's symbolizer refused, for the
	 * profile's comments (symbolizer_perfmap_error). */
	int perfmap_err;
	char perfmap[64];
	/* Off-CPU profiles (record_offcpu.c): the intervals being paired,
	 * and a stack buffer with room for a leading wait name. */
	struct offcpu *offcpu;
	uint64_t *olocs;
	struct offcpu_scale *scale;	/* per-thread totals (record_offcpu.c) */
	const char **names;		/* a stack's names, for a trace */
	uint64_t switch_period;		/* a stack every Nth switch-out */
	uint64_t window_start;		/* the off-CPU window's start */
	uint64_t switch_samples;	/* switch-outs since last_rate_ns */
	uint64_t last_rate_ns;
	int error;			/* first fatal error of a callback */
	/* The caller's callbacks, and the frames a sample is handed to
	 * cb->sample in (record_emit_sample). */
	const struct record_callbacks *cb;
	struct record_frame *frames;
	size_t frames_cap;

	char *err;
	size_t errlen;
};

static inline uint64_t now_ns(clockid_t clk)
{
	struct timespec ts;
	clock_gettime(clk, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* procs' release callback for an image's rimage. */
void record_rimage_release(struct procs_image *img, void *arg);

/* Reads the target pid's image from /proc/PID/maps and makes its
 * symbolizer and unwinder now, rather than beside the target at its first
 * sample (a few hundred ms on a cold cache). A target caught inside an
 * exec is waited for (up to 2 s) until its new program is mapped. Returns
 * 0 or -errno with the reason in r->err. */
int record_prepare_target(struct recorder *r, pid_t pid);

/* The target has exited or is exiting: no /proc/PID, only a zombie left,
 * or an exit under way. A process in do_exit still reads as running ('R')
 * for a while after its maps have emptied; a set-up step that failed
 * because they did always finds PF_EXITING set. */
bool record_target_gone(pid_t pid);

/* Unwinds and symbolizes sample s of proc into r->locs, leaf first (kernel
 * frames first when opts->kernel). Returns the number of locations (at
 * least 1) or -errno; *image is the image whose stackprof named the user
 * frames (NULL when none did). */
int record_locations(struct recorder *r, struct procs_process *proc,
		     const struct perf_sample *s, struct rimage **image);

/* The comments every profile of pid starts with: its command line and
 * "pid: N" (and its child processes). Returns 0 or -ENOMEM. */
int record_target_comments(struct profile *p, pid_t pid, bool children);

/* Counts a sample of thr (of proc) in the recording's figures and writes
 * the labels every sample carries (thread_id, thread_name, pid,
 * process_name) to labels[0..3]. */
void record_sample_labels(struct recorder *r, struct procs_process *proc,
			  struct procs_thread *thr, struct profile_label_in labels[4]);

/* Hands a sample of thr (of proc), its n locations leaf first, to
 * r->cb->sample when there is one. Returns 0 or -errno. */
int record_emit_sample(struct recorder *r, struct procs_process *proc,
		       struct procs_thread *thr, const uint64_t *locs, size_t n,
		       uint64_t weight_ns, bool off_cpu);

/* record_offcpu.c: the off-CPU side of a recording (block, mutex, wall).
 * setup before sampling starts (threads known then), the records as they
 * come, finish at the end of the window. */
int record_offcpu_setup(struct recorder *r, uint64_t start);
int record_offcpu_sample(struct recorder *r, const struct sampler_record *rec);
int record_offcpu_switch(struct recorder *r, const struct sampler_record *rec);
int record_offcpu_task(struct recorder *r, const struct perf_event_header *hdr,
		       uint64_t time);
int record_offcpu_finish(struct recorder *r, uint64_t end);
/* With each switch sample's time: takes fewer stacks when they come too
 * fast (OFFCPU_MAX_STACK_RATE). */
void record_offcpu_tick(struct recorder *r, uint64_t now);
void record_offcpu_release(struct recorder *r);
/* A CPU sample of thr at time (locations leaf first) into the trace. */
int record_trace_sample(struct recorder *r, struct procs_process *proc,
			struct procs_thread *thr, uint64_t time,
			const uint64_t *locs, size_t n);
/* record_heap.c: record_run for RECORD_HEAP and RECORD_ALLOCS. */
int record_heap_run(const struct record_opts *opts, const struct record_callbacks *cb,
		    struct profile **out, struct record_stats *st, char *err,
		    size_t errlen);
/* A LOST record of n records at time: counted in the rate as stacks. */
void record_offcpu_lost(struct recorder *r, uint64_t n, uint64_t time);

#endif

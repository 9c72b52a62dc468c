/*
 * test_record_heap.c - a heap recording end to end without the injector:
 * a fake record_heap_source whose shared area (heapabi.h) this test fills
 * by hand, with samples taken at two call sites of this very process (its
 * registers and stack as the injected hooks capture them), so that the
 * recording unwinds and symbolizes real stacks. Checks: the leaf of each
 * sample is the function that "allocated", its callers follow, values and
 * in use as heapprof computes them from the live set, the debug=1 text,
 * the detach made exactly once, on success and when a poll fails.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/uio.h>

#include "check.h"
#include "heapabi.h"
#include "heapprof.h"
#include "heapring.h"
#include "record.h"

/* heap_capture(regs): the caller's registers as heapabi.h wants them:
 * BX BP R12-R15 as they are, SP = ours + 8 (the caller's SP once we
 * return), IP = our return address - 1. */
void heap_capture(uint64_t *regs);
__asm__(".text\n.globl heap_capture\n.type heap_capture,@function\n"
	"heap_capture:\n"
	"\t.cfi_startproc\n"
	"\tmov %rbx, 8(%rdi)\n"
	"\tmov %rbp, 48(%rdi)\n"
	"\tlea 8(%rsp), %rax\n"
	"\tmov %rax, 56(%rdi)\n"
	"\tmov (%rsp), %rax\n"
	"\tdec %rax\n"
	"\tmov %rax, 64(%rdi)\n"
	"\tmov %r12, 128(%rdi)\n"
	"\tmov %r13, 136(%rdi)\n"
	"\tmov %r14, 144(%rdi)\n"
	"\tmov %r15, 152(%rdi)\n"
	"\tret\n"
	"\t.cfi_endproc\n"
	".size heap_capture, .-heap_capture\n");

static struct heapabi_shared *shared;
static uint64_t stack_end;
static int attaches, detaches, polls, fail_poll_at;

static uint64_t find_stack_end(void)
{
	FILE *f = fopen("/proc/self/maps", "r");
	char line[512];
	uint64_t lo, hi, end = 0;

	while (f && fgets(line, sizeof(line), f))
		if (strstr(line, "[stack]") && sscanf(line, "%lx-%lx", &lo, &hi) == 2)
			end = hi;
	if (f)
		fclose(f);
	return end;
}

/* Publishes one sample as a hook would: slot at head, live-set entry when
 * live. */
static void __attribute__((noinline)) publish(const uint64_t *regs, uint64_t size,
					      uint64_t addr, bool live)
{
	uint64_t pos = shared->head++;
	struct heapabi_slot *s = &shared->slots[pos % HEAPABI_NSLOTS];
	uint64_t id = ++shared->next_id;
	uint64_t n = stack_end - regs[HEAPABI_R_SP];

	if (n > 8192)
		n = 8192;
	memcpy(s->regs, regs, sizeof(s->regs));
	/* As the hooks copy it: process_vm_readv of our own pid (a memcpy
	 * would read ASan's redzones of the frames above). */
	struct iovec local = { s->stack, n };
	struct iovec remote = { (void *)regs[HEAPABI_R_SP], n };
	if (process_vm_readv(getpid(), &local, 1, &remote, 1, 0) != (ssize_t)n)
		n = 0;
	s->stack_size = n;
	s->id = id;
	s->size = size;
	s->addr = addr;
	s->func = HEAPABI_MALLOC;
	if (live) {
		struct heapabi_bucket *b = &shared->live[heapabi_bucket_of(addr)];
		for (unsigned w = 0; w < HEAPABI_LIVE_WAYS; w++)
			if (!b->addr[w]) {
				b->addr[w] = addr;
				b->id[w] = id;
				break;
			}
	}
	shared->samples++;
	__atomic_store_n(&s->seq, pos + 1, __ATOMIC_RELEASE);
}

static volatile int sink, nkeep = 4, nchurn = 2;

static void __attribute__((noinline)) keeper_site(uint64_t addr, bool live)
{
	uint64_t regs[HEAPABI_NR_REGS] = { 0 };

	heap_capture(regs);
	publish(regs, 1000, addr, live);
	sink++;
}

static void __attribute__((noinline)) churn_site(uint64_t addr)
{
	uint64_t regs[HEAPABI_NR_REGS] = { 0 };

	heap_capture(regs);
	publish(regs, 50000, addr, false);
	sink++;
}

static void __attribute__((noinline)) allocate_all(void)
{
	/* keeper_site: 4 blocks, 2 still allocated; churn_site: 2 freed. */
	for (uint64_t i = 0; i < (uint64_t)nkeep; i++)	/* one call site */
		keeper_site(0x7000000010 + i * 0x400, i < 2);
	for (uint64_t i = 1; i <= (uint64_t)nchurn; i++)
		churn_site(0x7000000000 + (i << 20));
	sink++;
}

static int fake_attach(void *arg, pid_t pid, uint64_t rate, uint32_t stack_size,
		       struct heapabi_shared **out, char *err, size_t errlen)
{
	(void)arg; (void)stack_size; (void)err; (void)errlen;
	CHECK_INT(pid, getpid());
	CHECK_INT(rate, 4096);
	struct heapring_config cfg = { .tgid = pid, .cprof_pid = pid, .rate = rate,
				       .stack_size = 8192, .deadline_ns = UINT64_MAX };
	memset(shared, 0, sizeof(*shared));
	CHECK_INT(heapring_init(shared, &cfg, err, errlen), 0);
	attaches++;
	*out = shared;
	return 0;
}

static int fake_poll(void *arg, char *err, size_t errlen)
{
	(void)arg;
	if (fail_poll_at && ++polls >= fail_poll_at) {
		snprintf(err, errlen, "poll failed on purpose");
		return -EIO;
	}
	return 0;
}

static int fake_detach(void *arg, struct record_heap_detach *st, char *err,
		       size_t errlen)
{
	(void)arg; (void)err; (void)errlen;
	detaches++;
	st->modules = 3;
	st->entries = 7;
	return 0;
}

static const struct record_heap_source fake = {
	.attach = fake_attach, .poll = fake_poll, .detach = fake_detach,
};

static const char *frame_name(const struct profile *p, uint64_t loc_id)
{
	const struct profile_location *l = profile_location_by_id(p, loc_id);
	if (!l || !l->nlines)
		return "";
	const struct profile_function *f =
		profile_function_by_id(p, l->lines[l->nlines - 1].function_id);
	return f ? profile_str(p, f->name) : "";
}

static bool stack_has(const struct profile *p, const struct profile_sample *s,
		      const char *name)
{
	for (size_t i = 0; i < s->nlocations; i++)
		if (!strcmp(frame_name(p, s->location_ids[i]), name))
			return true;
	return false;
}

static void test_recording(void)
{
	struct record_opts opts = {
		.pid = getpid(), .profile = RECORD_HEAP, .heap_rate = 4096,
		.heap_source = &fake,
	};
	struct record_heap *h = NULL;
	char err[256];
	int e = record_heap_start(&opts, &h, err, sizeof(err));

	CHECK_INT(e, 0);
	if (e < 0) {
		fprintf(stderr, "record_heap_start: %s\n", err);
		return;
	}
	CHECK_INT(attaches, 1);
	allocate_all();
	CHECK_INT(record_heap_step(h, err, sizeof(err)), 0);

	struct record_stats st;
	record_heap_get_stats(h, &st);
	CHECK_INT(st.samples, 6);
	CHECK_INT(st.heap_bytes, 4 * 1000 + 2 * 50000);

	struct profile *p = NULL;
	CHECK_INT(record_heap_profile(h, RECORD_HEAP, &p), 0);
	if (p) {
		CHECK_STR(profile_str(p, p->default_sample_type), "inuse_space");
		CHECK_INT(p->period, 4096);
		size_t keep = 0, churn = 0;
		for (size_t i = 0; i < p->nsamples; i++) {
			const struct profile_sample *s = &p->samples[i];
			const char *leaf = s->nlocations ?
				frame_name(p, s->location_ids[0]) : "";
			int64_t o, b;

			if (!strcmp(leaf, "keeper_site")) {
				keep++;
				CHECK(stack_has(p, s, "allocate_all"));
				CHECK(stack_has(p, s, "main"));
				heapprof_scale(4, 4000, 4096, &o, &b);
				CHECK_INT(s->values[0], o);
				CHECK_INT(s->values[1], b);
				heapprof_scale(2, 2000, 4096, &o, &b);
				CHECK_INT(s->values[2], o);
				CHECK_INT(s->values[3], b);
				CHECK_INT(s->nlabels, 1);
				CHECK_INT(s->labels[0].num, 1000);
			} else if (!strcmp(leaf, "churn_site")) {
				churn++;
				CHECK(stack_has(p, s, "allocate_all"));
				CHECK_INT(s->values[2], 0);
				CHECK_INT(s->values[3], 0);
				heapprof_scale(2, 100000, 4096, &o, &b);
				CHECK_INT(s->values[1], b);
			} else {
				fprintf(stderr, "unexpected leaf '%s'\n", leaf);
				CHECK(0);
			}
		}
		CHECK_INT(keep, 1);
		CHECK_INT(churn, 1);
		profile_free(p);
	}

	/* A block freed since: no longer in use at the next answer. */
	struct heapabi_bucket *b = &shared->live[heapabi_bucket_of(0x7000000010)];
	for (unsigned w = 0; w < HEAPABI_LIVE_WAYS; w++)
		if (b->addr[w] == 0x7000000010)
			b->addr[w] = 0;
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	CHECK_INT(record_heap_text(h, f), 0);
	fclose(f);
	CHECK(text && !strncmp(text, "heap profile: 1: 1000 [6: 104000] @ heap/8192\n", 46));
	CHECK(text && strstr(text, "\n1: 1000 [4: 4000] @ 0x") != NULL);
	CHECK(text && strstr(text, "\tkeeper_site") != NULL);
	free(text);

	CHECK_INT(record_heap_stop(h, &st, err, sizeof(err)), 0);
	CHECK_INT(detaches, 1);
	CHECK_INT(st.heap.entries, 7);
}

/* record_run: a poll that fails ends the recording with its error, and
 * the target is detached all the same. */
static void test_run_error(void)
{
	struct record_opts opts = {
		.pid = getpid(), .profile = RECORD_ALLOCS, .heap_rate = 4096,
		.heap_source = &fake, .seconds = 30,
	};
	struct profile *p = NULL;
	struct record_stats st;
	char err[256];

	attaches = detaches = polls = 0;
	fail_poll_at = 3;
	int e = record_run(&opts, NULL, &p, &st, err, sizeof(err));
	CHECK_INT(e, -EIO);
	CHECK_STR(err, "poll failed on purpose");
	CHECK(p == NULL);
	CHECK_INT(attaches, 1);
	CHECK_INT(detaches, 1);

	/* And a run to its end: the allocs profile, detached once. */
	attaches = detaches = polls = 0;
	fail_poll_at = 0;
	opts.seconds = 0.3;
	e = record_run(&opts, NULL, &p, &st, err, sizeof(err));
	CHECK_INT(e, 0);
	CHECK_INT(detaches, 1);
	if (p) {
		CHECK_STR(profile_str(p, p->default_sample_type), "alloc_space");
		CHECK_INT(p->nsample_types, 4);
		profile_free(p);
	}
}

int main(void)
{
	shared = calloc(1, sizeof(*shared));
	stack_end = find_stack_end();
	CHECK(shared != NULL && stack_end != 0);
	if (!shared || !stack_end)
		return check_done();
	test_recording();
	test_run_error();
	free(shared);
	return check_done();
}

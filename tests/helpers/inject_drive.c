/*
 * inject_drive - drives src/inject.c for the end-to-end tests and the
 * SIGKILL trials, until the CLI does (tests/e2e/inject_*.sh).
 *
 *   inject_drive [--passthrough] PID SECONDS [RATE]
 *
 * Attaches, polls every 100 ms for SECONDS (or until SIGTERM or SIGINT),
 * counting the samples read from the ring with heapring, then detaches.
 * Prints
 *   attached pid=P base=0x... modules=N entries=N stop_ms=X
 *   patch ADDR ORIG HOOK          one line per GOT entry patched
 *   samples=N dropped=N entries=N modules=N
 *   detached modules=N entries=N retries=N stop_ms_max=X left_mapped=0|1 removed_stale=N
 *            rearmed=N rebound=N
 * or "error: REASON" and exit 1. --passthrough injects a test image whose
 * hooks only count their calls (in shared.samples) and jump to the real
 * functions: the injector's machinery on its own.
 */

#include <errno.h>
#include <signal.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "heapring.h"
#include "inject.h"

/* The test image: the header, then per function
 *   lock incq shared.samples(%rip); jmp *shared.real[f](%rip) */
static uint8_t image[4096];

static size_t passthrough_image(void)
{
	struct heapabi_blob_header h = {
		.magic = HEAPABI_MAGIC, .version = HEAPABI_VERSION,
		.shared_size = HEAPABI_SHARED_SIZE, .priv_size = HEAPABI_PRIV_SIZE,
	};
	uint32_t off = (sizeof(h) + 15) & ~15u;

	h.text_start = off;
	for (int f = 0; f < HEAPABI_NFUNCS; f++) {
		uint8_t *p = image + off;
		int32_t d;
		h.hook_off[f] = off;
		/* f0 48 ff 05 disp32: lock incq disp(%rip) */
		p[0] = 0xf0; p[1] = 0x48; p[2] = 0xff; p[3] = 0x05;
		d = (int32_t)(HEAPABI_CODE_SIZE +
			      offsetof(struct heapabi_shared, samples) - (off + 8));
		memcpy(p + 4, &d, 4);
		/* ff 25 disp32: jmp *disp(%rip) */
		p[8] = 0xff; p[9] = 0x25;
		d = (int32_t)(HEAPABI_CODE_SIZE + offsetof(struct heapabi_shared, real) +
			      8u * (unsigned)f - (off + 14));
		memcpy(p + 10, &d, 4);
		off += 16;
	}
	h.text_end = off;
	h.code_size = off;
	memcpy(image, &h, sizeof(h));
	return off;
}

static volatile sig_atomic_t quit;

static void on_quit(int sig)
{
	(void)sig;
	quit = 1;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Takes every published sample. */
static uint64_t drain(struct heapabi_shared *sh)
{
	uint64_t n = 0;
	while (heapring_peek(sh)) {
		heapring_release(sh);
		n++;
	}
	return n;
}

int main(int argc, char **argv)
{
	struct inject_opts o = { 0 };
	struct inject *in = NULL;
	struct inject_stats st;
	char err[512] = "";
	bool pass = false;
	int a = 1, r;

	if (a < argc && strcmp(argv[a], "--passthrough") == 0) {
		pass = true;
		a++;
	}
	if (argc - a < 2) {
		fprintf(stderr, "usage: inject_drive [--passthrough] PID SECONDS [RATE]\n");
		return 2;
	}
	pid_t pid = (pid_t)atoi(argv[a]);
	double secs = atof(argv[a + 1]);
	if (argc - a > 2)
		o.rate = strtoull(argv[a + 2], NULL, 0);
	if (pass) {
		o.image = image;
		o.image_len = passthrough_image();
	}
	signal(SIGTERM, on_quit);
	signal(SIGINT, on_quit);
	r = inject_check(pid, err, sizeof(err));
	if (r < 0) {
		printf("error: %s\n", err);
		return 1;
	}
	double t0 = now_s();
	r = inject_attach(pid, &o, &in, err, sizeof(err));
	if (r < 0) {
		printf("error: %s\n", err);
		return 1;
	}
	inject_get_stats(in, &st);
	struct heapabi_shared *sh = inject_shared(in);
	printf("attached pid=%d base=0x%" PRIx64 " modules=%u entries=%u "
	       "stop_ms=%.3f attach_ms=%.3f removed_stale=%u retries=%u\n", (int)pid,
	       inject_base(in), st.modules, st.entries, st.stopped_ns_max / 1e6,
	       (now_s() - t0) * 1e3, st.removed_stale, st.retries);
	for (uint32_t i = 0; i < sh->npatched; i++)
		printf("patch 0x%" PRIx64 " 0x%" PRIx64 " 0x%" PRIx64 "\n",
		       sh->patched[i].addr, sh->patched[i].orig, sh->patched[i].hook);
	fflush(stdout);

	uint64_t samples = 0;
	double end = now_s() + secs;
	while (!quit && now_s() < end) {
		struct timespec ts = { 0, 100000000 };
		nanosleep(&ts, NULL);
		if (!pass)
			samples += drain(sh);
		r = inject_poll(in, err, sizeof(err));
		if (r < 0) {
			printf("error: %s\n", err);
			break;
		}
	}
	if (pass)
		samples = sh->samples;
	else
		samples += drain(sh);
	inject_get_stats(in, &st);
	printf("samples=%" PRIu64 " dropped=%" PRIu64 " entries=%u modules=%u\n",
	       samples, sh->dropped, st.entries, st.modules);
	fflush(stdout);
	int dr = inject_detach(in, &st, err, sizeof(err));
	if (dr < 0)
		printf("error: %s\n", err);
	printf("detached modules=%u entries=%u retries=%u stop_ms_max=%.3f "
	       "attach_stop_ms=%.3f detach_stop_ms=%.3f left_mapped=%d "
	       "removed_stale=%u rearmed=%u rebound=%u\n", st.modules, st.entries,
	       st.retries, st.stopped_ns_max / 1e6, st.attach_stopped_ns / 1e6,
	       st.detach_stopped_ns / 1e6, st.left_mapped ? 1 : 0,
	       st.removed_stale, st.rearmed, st.rebound);
	return r < 0 || dr < 0 ? 1 : 0;
}

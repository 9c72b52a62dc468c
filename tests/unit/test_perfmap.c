/*
 * test_perfmap.c - the perf map reader: the line format, reading as the
 * file grows (partial and overlong lines), unsorted and overlapping
 * entries (the newest wins), replaced and truncated files, the owner and
 * file type checks, and the limits.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "perfmap.h"

static char dir[64];
static char path[128];

static void put(const char *mode, const char *text)
{
	FILE *f = fopen(path, mode);

	CHECK(f != NULL);
	if (!f)
		return;
	fputs(text, f);
	fclose(f);
}

static const char *name_at(struct perfmap *pm, uint64_t addr)
{
	const struct perfmap_entry *e = perfmap_find(pm, addr);

	return e ? e->name : NULL;
}

static struct perfmap *open_map(void)
{
	struct perfmap *pm = NULL;
	uid_t me = getuid();

	CHECK_INT(perfmap_new_at(dir, "perf-1.map", &me, 1, &pm), 0);
	return pm;
}

static void test_parse(void)
{
	uint64_t start, size;
	const char *name;
	size_t len;
	static const char *bad[] = {
		"", "   ", "zz 10 foo", "1000 10", "1000 10 ", "1000 foo",
		"1000\t", "-1000 10 foo", "1000 -10 foo", "1000 0 foo",
		"ffffffffffffffff 2 wraps", "10000000000000000 1 too-long",
		"0x 10 foo", "1000,10 foo", "1000 10foo",
	};
	const char *l = "7fb0bbf85b80 180 JS:^hotLoop /tmp/x.js:1:17";

	CHECK_INT(perfmap_parse_line(l, strlen(l), &start, &size, &name, &len), 0);
	CHECK(start == 0x7fb0bbf85b80ULL);
	CHECK(size == 0x180);
	CHECK(len == strlen("JS:^hotLoop /tmp/x.js:1:17") &&
	      !memcmp(name, "JS:^hotLoop /tmp/x.js:1:17", len));
	/* 0x prefixes (perf's strtoull takes them), tabs, CR LF endings. */
	l = "0X1000\t0x10\t  foo bar \r";
	CHECK_INT(perfmap_parse_line(l, strlen(l), &start, &size, &name, &len), 0);
	CHECK(start == 0x1000 && size == 0x10);
	CHECK(len == 7 && !memcmp(name, "foo bar", 7));
	l = "ffffffffffff0000 ffff last";
	CHECK_INT(perfmap_parse_line(l, strlen(l), &start, &size, &name, &len), 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int r = perfmap_parse_line(bad[i], strlen(bad[i]), &start,
					   &size, &name, &len);
		if (r != -EINVAL)
			fprintf(stderr, "accepted: \"%s\"\n", bad[i]);
		CHECK_INT(r, -EINVAL);
	}
	char nul[] = "1000 10 a\0b";
	CHECK_INT(perfmap_parse_line(nul, sizeof(nul) - 1, &start, &size,
				     &name, &len), -EINVAL);
	char *big = malloc(PERFMAP_MAX_LINE + 2);
	memset(big, 'a', PERFMAP_MAX_LINE + 1);
	memcpy(big, "1000 10 ", 8);
	CHECK_INT(perfmap_parse_line(big, PERFMAP_MAX_LINE + 1, &start, &size,
				     &name, &len), -EINVAL);
	CHECK_INT(perfmap_parse_line(big, PERFMAP_MAX_LINE, &start, &size,
				     &name, &len), 0);
	free(big);
}

static void test_growth(void)
{
	struct perfmap *pm = open_map();
	struct perfmap_stats st;
	unsigned g;

	if (!pm)
		return;
	/* Not written yet: nothing, no error. */
	CHECK_INT(perfmap_update(pm), 0);
	CHECK(name_at(pm, 0x1000) == NULL);

	/* Unsorted lines, a malformed one among them, a partial last one. */
	put("w", "3000 100 three\n"
		 "1000 10 one\n"
		 "this is not a perf map line\n"
		 "2000 0x20 two\n"
		 "4000 10 fo");
	g = perfmap_generation(pm);
	CHECK_INT(perfmap_update(pm), 1);
	CHECK(perfmap_generation(pm) != g);
	CHECK_STR(name_at(pm, 0x1000), "one");
	CHECK_STR(name_at(pm, 0x100f), "one");
	CHECK(name_at(pm, 0x1010) == NULL);
	CHECK(name_at(pm, 0xfff) == NULL);
	CHECK_STR(name_at(pm, 0x201f), "two");
	CHECK_STR(name_at(pm, 0x30ff), "three");
	CHECK(name_at(pm, 0x4000) == NULL);
	perfmap_get_stats(pm, &st);
	CHECK_INT(st.entries, 3);
	CHECK_INT(st.lines, 4);
	CHECK_INT(st.malformed, 1);

	/* Nothing new: no change. */
	g = perfmap_generation(pm);
	CHECK_INT(perfmap_update(pm), 0);
	CHECK(perfmap_generation(pm) == g);

	/* The partial line ends; more lines come. */
	put("a", "ur\n5000 10 five\n");
	CHECK_INT(perfmap_update(pm), 1);
	CHECK_STR(name_at(pm, 0x4008), "four");
	CHECK_STR(name_at(pm, 0x5000), "five");
	CHECK_STR(name_at(pm, 0x1000), "one");

	/* Newer code over older: a newer line removes every older one it
	 * overlaps, across updates and within one. */
	put("a", "1008 10 newer\n"		/* over "one" */
		 "2000 20 two-again\n"		/* same range as "two" */
		 "6000 100 big\n"
		 "6010 10 small\n"		/* inside big, newer */
		 "7010 10 small2\n"
		 "7000 100 big2\n");		/* around small2, newer */
	CHECK_INT(perfmap_update(pm), 1);
	CHECK(name_at(pm, 0x1004) == NULL);
	CHECK_STR(name_at(pm, 0x1008), "newer");
	CHECK_STR(name_at(pm, 0x1017), "newer");
	CHECK_STR(name_at(pm, 0x2000), "two-again");
	CHECK(name_at(pm, 0x6000) == NULL);
	CHECK_STR(name_at(pm, 0x6010), "small");
	CHECK(name_at(pm, 0x6020) == NULL);
	CHECK_STR(name_at(pm, 0x7010), "big2");
	CHECK_STR(name_at(pm, 0x70ff), "big2");
	perfmap_get_stats(pm, &st);
	CHECK_INT(st.entries, 7);	/* newer two-again three four five
					 * small big2 */

	/* An overlong line, split across updates, is skipped to its end. */
	char *chunk = malloc(3000 + 1);
	memset(chunk, 'x', 3000);
	chunk[3000] = '\0';
	memcpy(chunk, "8000 10 ", 8);
	put("a", chunk);
	CHECK_INT(perfmap_update(pm), 0);
	memcpy(chunk, "xxxxxxxx", 8);
	put("a", chunk);
	put("a", chunk);
	CHECK_INT(perfmap_update(pm), 0);
	put("a", "tail of it\n9000 10 after\n");
	CHECK_INT(perfmap_update(pm), 1);
	CHECK(name_at(pm, 0x8000) == NULL);
	CHECK_STR(name_at(pm, 0x9000), "after");
	perfmap_get_stats(pm, &st);
	CHECK_INT(st.malformed, 2);
	free(chunk);

	/* Truncated and written again (a new process with the same pid
	 * would do that): read from the start, old entries gone. */
	put("w", "a000 10 fresh\n");
	CHECK_INT(perfmap_update(pm), 1);
	CHECK_STR(name_at(pm, 0xa000), "fresh");
	CHECK(name_at(pm, 0x5000) == NULL);
	/* Replaced by another file that happens to be longer (the old one
	 * held open, so that the new one cannot get its inode number). */
	int old = open(path, O_RDONLY);
	CHECK(old >= 0);
	unlink(path);
	put("w", "b000 10 other-file-with-a-longer-text\n");
	close(old);
	CHECK_INT(perfmap_update(pm), 1);
	CHECK(name_at(pm, 0xa000) == NULL);
	CHECK_STR(name_at(pm, 0xb000), "other-file-with-a-longer-text");
	perfmap_get_stats(pm, &st);
	CHECK_INT(st.resets, 2);
	perfmap_free(pm);
	unlink(path);
}

/* Many entries (read in two levels, perfmap.c), then newer ones over
 * parts of them: the old ones are gone wherever a newer one overlaps,
 * also at addresses the newer one does not cover. */
static void test_levels(void)
{
	struct perfmap *pm = open_map();
	struct perfmap_stats st;
	FILE *f;

	if (!pm)
		return;
	f = fopen(path, "w");
	CHECK(f != NULL);
	if (!f) {
		perfmap_free(pm);
		return;
	}
	for (unsigned i = 0; i < 20000; i++)
		fprintf(f, "%x 100 old%u\n", 0x100000u + i * 0x100u, i);
	fclose(f);
	CHECK_INT(perfmap_update(pm), 1);
	for (unsigned i = 0; i < 20000; i += 997)
		CHECK(name_at(pm, 0x100000u + i * 0x100u + 0x80) != NULL);
	/* A few newer lines, each over the end of one old entry and the
	 * start of the next, one over three whole ones. */
	put("a", "100180 100 new1\n"
		 "105080 10 new2\n"
		 "200000 300 new3\n");
	CHECK_INT(perfmap_update(pm), 1);
	CHECK_STR(name_at(pm, 0x100180), "new1");
	CHECK(name_at(pm, 0x100100) == NULL);	/* old1, under new1's start */
	CHECK(name_at(pm, 0x100290) == NULL);	/* old2, under new1's end */
	CHECK_STR(name_at(pm, 0x100300), "old3");
	CHECK_STR(name_at(pm, 0x100000), "old0");
	CHECK(name_at(pm, 0x105000) == NULL);	/* old80, new2 inside */
	CHECK_STR(name_at(pm, 0x105085), "new2");
	CHECK(name_at(pm, 0x105090) == NULL);
	CHECK_STR(name_at(pm, 0x200250), "new3");
	CHECK_STR(name_at(pm, 0x1fff00), "old4095");
	CHECK_STR(name_at(pm, 0x200300), "old4099");
	perfmap_get_stats(pm, &st);
	CHECK_INT(st.lines, 20003);
	perfmap_free(pm);
	unlink(path);
}

static void test_untrusted(void)
{
	struct perfmap *pm = open_map();
	char target[160];

	if (!pm)
		return;
	/* A symbolic link, even to a good file, is not followed. */
	snprintf(target, sizeof(target), "%s/real.map", dir);
	FILE *f = fopen(target, "w");
	CHECK(f != NULL);
	if (f) {
		fputs("1000 10 via-link\n", f);
		fclose(f);
	}
	CHECK_INT(symlink(target, path), 0);
	CHECK_INT(perfmap_update(pm), -EINVAL);
	CHECK(name_at(pm, 0x1000) == NULL);
	unlink(path);

	/* A FIFO with no writer: refused at once, not waited on. */
	CHECK_INT(mkfifo(path, 0600), 0);
	CHECK_INT(perfmap_update(pm), -EINVAL);
	unlink(path);

	/* Another user's file. */
	put("w", "1000 10 planted\n");
	if (getuid() == 0) {
		CHECK_INT(chown(path, 12345, 12345), 0);
		CHECK_INT(perfmap_update(pm), -EPERM);
		CHECK(name_at(pm, 0x1000) == NULL);
		/* Root's own file is trusted. */
		CHECK_INT(chown(path, 0, 0), 0);
		CHECK_INT(perfmap_update(pm), 1);
		CHECK_STR(name_at(pm, 0x1000), "planted");
	} else {
		struct perfmap *other = NULL;
		uid_t not_me = getuid() + 1;

		CHECK_INT(perfmap_new_at(dir, "perf-1.map", &not_me, 1, &other), 0);
		if (other) {
			CHECK_INT(perfmap_update(other), -EPERM);
			perfmap_free(other);
		}
	}
	perfmap_free(pm);
	unlink(path);
	unlink(target);
}

/* CPU time: what the reader costs, whatever else the machine runs. */
static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void test_limits(void)
{
	struct perfmap *pm = open_map();
	struct perfmap_stats st;
	FILE *f;
	double t0, t1, t2;

	if (!pm)
		return;
	f = fopen(path, "w");
	CHECK(f != NULL);
	if (!f) {
		perfmap_free(pm);
		return;
	}
	for (unsigned i = 0; i < PERFMAP_MAX_ENTRIES + 10; i++)
		fprintf(f, "%x 10 JS:*f%u /srv/app.js:1:1\n",
			0x10000000u + i * 0x10u, i);
	fclose(f);
	t0 = now_ms();
	CHECK_INT(perfmap_update(pm), 1);
	t1 = now_ms();
	/* Past the limit the oldest entries went, the newest stay. */
	perfmap_get_stats(pm, &st);
	CHECK(st.entries <= PERFMAP_MAX_ENTRIES);
	CHECK(st.entries >= PERFMAP_MAX_ENTRIES / 8 * 7);
	CHECK_INT(st.entries + st.evicted, PERFMAP_MAX_ENTRIES + 10);
	CHECK_INT(st.dropped, 0);
	CHECK(name_at(pm, 0x10000000u) == NULL);
	CHECK_STR(name_at(pm, 0x10000000u + (PERFMAP_MAX_ENTRIES + 9) * 0x10u),
		  "JS:*f1048585 /srv/app.js:1:1");
	/* One line more, over a kept entry. */
	put("a", "1ffffff8 10 replacement\n");
	t2 = now_ms();
	CHECK_INT(perfmap_update(pm), 1);
	t2 = now_ms() - t2;
	CHECK_STR(name_at(pm, 0x1ffffff8u), "replacement");
	CHECK(name_at(pm, 0x1ffffff0u) == NULL);
	perfmap_get_stats(pm, &st);
	printf("perfmap: %u lines read in %.0f ms of CPU; one line merged into %zu "
	       "entries in %.1f ms\n", PERFMAP_MAX_ENTRIES + 10, t1 - t0,
	       st.entries, t2);
	perfmap_free(pm);
	unlink(path);
}

/* perfmap_new: the file is named after the process's pid in its own
 * namespace, in its /tmp. */
static void test_own_process(void)
{
	struct perfmap *pm = NULL;
	char own[64];

	snprintf(own, sizeof(own), "/tmp/perf-%d.map", (int)getpid());
	CHECK_INT(perfmap_new(getpid(), &pm), 0);
	if (!pm)
		return;
	CHECK_INT(perfmap_update(pm), 0);
	FILE *f = fopen(own, "w");
	CHECK(f != NULL);
	if (f) {
		fputs("1234000 40 own-process\n", f);
		fclose(f);
	}
	CHECK_INT(perfmap_update(pm), 1);
	CHECK_STR(name_at(pm, 0x1234010), "own-process");
	perfmap_free(pm);
	unlink(own);
	CHECK_INT(perfmap_new(999999999, &pm), -ENOENT);
}

int main(void)
{
	alarm(60);
	snprintf(dir, sizeof(dir), "/tmp/test_perfmap.XXXXXX");
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	snprintf(path, sizeof(path), "%s/perf-1.map", dir);
	test_parse();
	test_growth();
	test_levels();
	test_untrusted();
	test_limits();
	test_own_process();
	rmdir(dir);
	return check_done();
}

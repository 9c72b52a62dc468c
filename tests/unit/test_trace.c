/*
 * test_trace.c - the Chrome Trace Event JSON writer (src/trace.c): the
 * document's shape, times relative to the start, and strings that stay
 * valid JSON whatever bytes a symbol holds.
 */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "trace.h"

int main(void)
{
	struct trace *t = trace_new();
	const char *stack[] = { "leaf", "with \"quotes\" and \\", "\x01\xff" };
	char *json = NULL;
	size_t len = 0;

	CHECK(t != NULL);
	trace_set_start(t, 1000000);
	CHECK_INT(trace_process_name(t, 7, "app"), 0);
	CHECK_INT(trace_thread_name(t, 7, 8, "w\"k"), 0);
	/* 500 us from the start, 250 us long, on CPU 1. */
	CHECK_INT(trace_slice(t, 7, 8, "running", "cpu", 1500000, 1750000, 1, NULL, 0), 0);
	CHECK_INT(trace_slice(t, 7, 8, "[syscall] futex", "off-cpu", 1750000, 2000000,
			      -1, stack, 3), 0);
	/* Before the start: at 0. */
	CHECK_INT(trace_sample(t, 7, 8, 900000, stack, 1), 0);
	CHECK_INT(trace_events(t), 5);
	CHECK_INT(trace_finish(t, 2000000, &json, &len), 0);
	CHECK_INT(len, strlen(json));
	CHECK(strncmp(json, "{\"displayTimeUnit\":\"ms\",\"otherData\":{\"producer\":\"cprof\","
		      "\"window_us\":2000.000},\"traceEvents\":[\n", 86) == 0);
	CHECK(strstr(json, "{\"name\":\"process_name\",\"ph\":\"M\",\"pid\":7,\"tid\":7,"
		      "\"args\":{\"name\":\"app\"}}") != NULL);
	CHECK(strstr(json, "\"args\":{\"name\":\"w\\\"k\"}") != NULL);
	CHECK(strstr(json, "{\"name\":\"running\",\"cat\":\"cpu\",\"ph\":\"X\",\"ts\":500.000,"
		      "\"dur\":250.000,\"pid\":7,\"tid\":8,\"args\":{\"cpu\":1}}") != NULL);
	CHECK(strstr(json, "\"args\":{\"stack\":[\"leaf\",\"with \\\"quotes\\\" and \\\\\","
		      "\"\\u0001\\u00ff\"]}") != NULL);
	CHECK(strstr(json, "\"ph\":\"i\",\"s\":\"t\",\"ts\":0.000,") != NULL);
	CHECK(strcmp(json + len - 4, "\n]}\n") == 0);
	/* The events are separated by commas: four for five events. */
	size_t commas = 0;
	for (const char *p = json; (p = strstr(p, "},\n{")) != NULL; p++)
		commas++;
	CHECK_INT(commas, 4);
	free(json);
	CHECK_INT(trace_events(t), 0);
	trace_free(t);
	return check_done();
}

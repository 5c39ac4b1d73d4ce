/* The trace format: exact nanosecond parsing, comments, errors, ordering. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "trace.h"

struct tcase {
	const char *line;
	int ret;
	long long ts_ns;
	int level;
};

static void test_lines(void)
{
	static const struct tcase cases[] = {
		{"1.5 1", 1, 1500000000LL, 1},
		{"0 0", 1, 0, 0},
		{"  12.000000001\t0\r\n", 1, 12000000001LL, 0},
		{"1.123456789987 1", 1, 1123456789LL, 1}, /* beyond ns: truncated */
		{".5 1", 1, 500000000LL, 1},
		{"7. 0", 1, 7000000000LL, 0},
		{"1700000000.123456789 1", 1, 1700000000123456789LL, 1},
		{"# a comment", 0, 0, 0},
		{"", 0, 0, 0},
		{"   \t", 0, 0, 0},
		{"1.0 2", -EINVAL, 0, 0},
		{"1.0", -EINVAL, 0, 0},
		{"1.0 1 x", -EINVAL, 0, 0},
		{"1.0 10", -EINVAL, 0, 0},
		{"-1 0", -EINVAL, 0, 0},
		{"abc 1", -EINVAL, 0, 0},
		{". 1", -EINVAL, 0, 0},
		{"1e3 1", -EINVAL, 0, 0},
		{"99999999999 1", -EINVAL, 0, 0}, /* beyond int64 ns */
		{"1,5 1", -EINVAL, 0, 0},
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct trace_edge e = {-1, -1};
		const char *why = NULL;
		int r = trace_parse_line(cases[i].line, strlen(cases[i].line), &e, &why);

		if (r != cases[i].ret)
			fprintf(stderr, "case '%s'\n", cases[i].line);
		CHECK_EQ_INT(r, cases[i].ret);
		if (r == 1) {
			CHECK_EQ_INT(e.ts_ns, cases[i].ts_ns);
			CHECK_EQ_INT(e.level, cases[i].level);
		}
		if (r < 0)
			CHECK(why && *why);
	}
	/* Not NUL-terminated: the length bounds the parse. */
	{
		struct trace_edge e;
		const char *why;

		CHECK_EQ_INT(trace_parse_line("2.5 1garbage", 5, &e, &why), 1);
		CHECK_EQ_INT(e.ts_ns, 2500000000LL);
	}
}

static void test_reader(void)
{
	static const char text[] = "# trace\n"
				   "1.0 1\n"
				   "1.1 0\n"
				   "oops\n"
				   "0.5 1\n" /* goes back in time: skipped */
				   "2.0 1\n"
				   "2.1 0"; /* no final newline */
	char *err = NULL;
	size_t errlen = 0;
	FILE *in = fmemopen((void *)text, sizeof(text) - 1, "r");
	FILE *errs = open_memstream(&err, &errlen);
	struct trace_reader r;
	struct trace_edge e;
	int n = 0, k;

	trace_reader_init(&r, in, "t.trace", errs);
	while ((k = trace_reader_next(&r, &e)) > 0)
		n++;
	CHECK_EQ_INT(k, 0);
	CHECK_EQ_INT(n, 4);
	CHECK_EQ_INT(e.ts_ns, 2100000000LL);
	CHECK_EQ_INT(r.bad, 2);
	trace_reader_free(&r);
	fclose(in);
	fclose(errs);
	CHECK(strstr(err, "t.trace:4: ") != NULL);
	CHECK(strstr(err, "t.trace:5: time goes backwards") != NULL);
	free(err);
}

int main(void)
{
	test_lines();
	test_reader();
	return check_result();
}

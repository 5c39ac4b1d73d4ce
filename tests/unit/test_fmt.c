/* Numbers and times as text: the shortest round-trip double, and RFC 3339
 * parsing checked against Python's datetime on fixed cases and the limits. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "fmt.h"

static void test_double(void)
{
	static const double v[] = {0.1,	   1.0 / 3, 755.4300000000001,	  1e300, -0.0,
				   5e-324, 1e21,    123456789012345680.0, 241.0};
	static const char *const want[] = {"0.1",
					   "0.3333333333333333",
					   "755.4300000000001",
					   "1e+300",
					   "-0",
					   "4.94065645841247e-324",
					   "1e+21",
					   "1.2345678901234568e+17",
					   "241"};
	char s[FMT_DOUBLE_MAX];
	size_t i;

	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		size_t n = fmt_double(s, sizeof(s), v[i]);

		CHECK_EQ_INT(n, strlen(s));
		CHECK(strtod(s, NULL) == v[i]);
		if (strcmp(s, want[i]))
			fprintf(stderr, "fmt_double(%.17g) = %s, want %s\n", v[i], s, want[i]);
		CHECK(!strcmp(s, want[i]));
	}
}

static void test_rfc3339(void)
{
	static const struct {
		const char *s;
		int64_t ns; /* from Python's datetime */
	} ok[] = {
		{"1970-01-01T00:00:00Z", 0},
		{"2026-03-14T17:02:11Z", 1773507731000000000LL},
		{"2026-03-14t17:02:11z", 1773507731000000000LL},
		{"2000-02-29T23:59:59.123456789Z", 951868799123456789LL},
		{"2000-02-29T23:59:59.1234567891234Z", 951868799123456789LL}, /* truncated */
		{"2000-02-29T23:59:59.5Z", 951868799500000000LL},
		{"2024-12-31T23:59:60Z", 1735689600000000000LL},
		{"1999-12-31T16:00:00-08:00", 946684800000000000LL},
		{"2026-07-10T18:00:04+05:30", 1783686604000000000LL},
		{"2262-04-11T23:47:15Z", 9223372035000000000LL},
	};
	static const char *const bad[] = {
		"",
		"2026-03-14",
		"2026-03-14T17:02:11",	/* no zone */
		"2026-03-14 17:02:11Z", /* a space is not RFC 3339 */
		"2026-02-29T00:00:00Z", /* not a leap year */
		"2026-04-31T00:00:00Z",
		"2026-13-01T00:00:00Z",
		"2026-01-01T24:00:00Z",
		"2026-01-01T00:60:00Z",
		"1969-12-31T23:59:59Z", /* before the epoch */
		"2262-04-11T23:47:16Z", /* beyond int64 nanoseconds */
		"2026-03-14T17:02:11.Z",
		"2026-03-14T17:02:11+0530",
		"2026-03-14T17:02:11+24:00",
		"2026-03-14T17:02:11Zx",
		"2026-03-1aT17:02:11Z",
	};
	int64_t ns;
	size_t i;

	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		ns = -1;
		CHECK_EQ_INT(fmt_rfc3339_parse(ok[i].s, strlen(ok[i].s), &ns), 0);
		if (ns != ok[i].ns)
			fprintf(stderr, "%s: %lld, want %lld\n", ok[i].s, (long long)ns,
				(long long)ok[i].ns);
		CHECK(ns == ok[i].ns);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int r = fmt_rfc3339_parse(bad[i], strlen(bad[i]), &ns);

		if (r != -EINVAL)
			fprintf(stderr, "accepted: %s\n", bad[i]);
		CHECK_EQ_INT(r, -EINVAL);
	}
}

/* The duration printer the page, powerctl and the JSON source's ETA share. */
static void test_seconds(void)
{
	static const struct {
		double s;
		const char *spaced, *compact;
	} v[] = {
		{0, "0.0 s", "0.0s"},
		{42.54, "42.5 s", "42.5s"},
		{187, "3 min 07 s", "3m07s"},
		{7500, "2 h 05 min", "2h05m"},
		{97200, "1 d 03 h", "1d03h"},
		{-1, "?", "?"},
		{NAN, "?", "?"},
	};
	char b[48];

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		fmt_seconds(b, sizeof(b), v[i].s, false);
		CHECK(!strcmp(b, v[i].spaced));
		fmt_seconds(b, sizeof(b), v[i].s, true);
		CHECK(!strcmp(b, v[i].compact));
	}
}

int main(void)
{
	test_seconds();
	test_double();
	test_rfc3339();
	return check_result();
}

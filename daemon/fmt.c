/* Numbers and times as text (fmt.h). */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include "fmt.h"

size_t fmt_double(char *out, size_t n, double v)
{
	int prec, k = 0;

	for (prec = 15; prec <= 17; prec++) {
		k = snprintf(out, n, "%.*g", prec, v);
		if (strtod(out, NULL) == v)
			break;
	}
	return k < 0 ? 0 : (size_t)k;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
 * well-known arithmetic, written out for this purpose). */
static int64_t fmt_days(int64_t y, unsigned m, unsigned d)
{
	int64_t era;
	unsigned yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = (unsigned)(y - era * 400);
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

static bool fmt_digits(const char *s, size_t k, unsigned *v)
{
	size_t i;

	*v = 0;
	for (i = 0; i < k; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		*v = *v * 10 + (unsigned)(s[i] - '0');
	}
	return true;
}

static bool fmt_leap(unsigned y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

int fmt_rfc3339_parse(const char *s, size_t n, int64_t *ns)
{
	static const unsigned mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	unsigned Y, M, D, h, mi, sec, oh = 0, om = 0;
	int64_t frac = 0, scale = 100000000, t, off = 0;
	size_t i = 19;

	if (n < 20 || !fmt_digits(s, 4, &Y) || s[4] != '-' || !fmt_digits(s + 5, 2, &M) ||
	    s[7] != '-' || !fmt_digits(s + 8, 2, &D) || (s[10] != 'T' && s[10] != 't') ||
	    !fmt_digits(s + 11, 2, &h) || s[13] != ':' || !fmt_digits(s + 14, 2, &mi) ||
	    s[16] != ':' || !fmt_digits(s + 17, 2, &sec))
		return -EINVAL;
	if (Y < 1970 || Y > 2262 || M < 1 || M > 12 || D < 1 ||
	    D > mdays[M - 1] + (M == 2 && fmt_leap(Y)) || h > 23 || mi > 59 || sec > 60)
		return -EINVAL;
	if (i < n && s[i] == '.') {
		if (++i >= n || s[i] < '0' || s[i] > '9')
			return -EINVAL;
		for (; i < n && s[i] >= '0' && s[i] <= '9'; i++) {
			frac += (s[i] - '0') * scale;
			scale /= 10;
		}
	}
	if (i + 1 == n && (s[i] == 'Z' || s[i] == 'z')) {
		i++;
	} else if (i + 6 == n && (s[i] == '+' || s[i] == '-') && fmt_digits(s + i + 1, 2, &oh) &&
		   s[i + 3] == ':' && fmt_digits(s + i + 4, 2, &om) && oh <= 23 && om <= 59) {
		off = ((int64_t)oh * 60 + om) * 60 * (s[i] == '+' ? 1 : -1);
		i += 6;
	} else {
		return -EINVAL;
	}
	/* A leap second reads as the next second's start: what Unix time does. */
	t = fmt_days(Y, M, D) * 86400 + (int64_t)h * 3600 + (int64_t)mi * 60 + sec - off;
	if (t < 0 || t > INT64_MAX / 1000000000LL - 1)
		return -EINVAL;
	*ns = t * 1000000000LL + frac;
	return 0;
}

int fmt_seconds(char *out, size_t n, double s, bool compact)
{
	long long t;

	if (!isfinite(s) || s < 0)
		return snprintf(out, n, "?");
	if (s < 60)
		return snprintf(out, n, compact ? "%.1fs" : "%.1f s", s);
	t = (long long)s;
	if (t < 3600)
		return snprintf(out, n, compact ? "%lldm%02llds" : "%lld min %02lld s", t / 60,
				t % 60);
	if (t < 86400)
		return snprintf(out, n, compact ? "%lldh%02lldm" : "%lld h %02lld min", t / 3600,
				t % 3600 / 60);
	return snprintf(out, n, compact ? "%lldd%02lldh" : "%lld d %02lld h", t / 86400,
			t % 86400 / 3600);
}

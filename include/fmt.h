/* Numbers and times as text, one copy each: the shortest decimal that reads
 * back as the same double, and RFC 3339 times to and from Unix nanoseconds. */
#ifndef POWERD_FMT_H
#define POWERD_FMT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FMT_DOUBLE_MAX 32 /* room for any double fmt_double writes, with its NUL */

/* The shortest of %.15g, %.16g, %.17g that strtod reads back as v exactly
 * (so 0.1 is "0.1", not "0.10000000000000001").  Returns the length. */
size_t fmt_double(char *out, size_t n, double v);

/* "YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM)", 'T'/'t' and 'Z'/'z' as
 * RFC 3339 allows, up to nanoseconds (more digits are truncated), years
 * 1970..2262.  Returns 0 with *ns, or -EINVAL. */
int fmt_rfc3339_parse(const char *s, size_t n, int64_t *ns);

/* A duration for people, in seconds: tenths under a minute, then the two
 * largest units ("42.5 s", "3 min 07 s", "2 h 05 min", "1 d 03 h"; compact:
 * "42.5s", "3m07s", "2h05m", "1d03h"), "?" for a negative or non-finite
 * one.  Returns what snprintf() returns. */
int fmt_seconds(char *out, size_t n, double s, bool compact);

#endif

/* Minimal assertions for the unit tests: report every failure with its
 * location, keep going, and turn the tally into the exit status. */
#ifndef POWERD_CHECK_H
#define POWERD_CHECK_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int check_failures;
static int check_count;

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		check_count++;                                                                     \
		if (!(cond)) {                                                                     \
			check_failures++;                                                          \
			fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);   \
		}                                                                                  \
	} while (0)

#define CHECK_EQ_INT(a, b)                                                                         \
	do {                                                                                       \
		long long check_a_ = (long long)(a), check_b_ = (long long)(b);                    \
		check_count++;                                                                     \
		if (check_a_ != check_b_) {                                                        \
			check_failures++;                                                          \
			fprintf(stderr, "%s:%d: %s == %lld, expected %s == %lld\n", __FILE__,      \
				__LINE__, #a, check_a_, #b, check_b_);                             \
		}                                                                                  \
	} while (0)

#define CHECK_STR(a, b)                                                                            \
	do {                                                                                       \
		const char *check_a_ = (a), *check_b_ = (b);                                       \
		check_count++;                                                                     \
		if (strcmp(check_a_, check_b_)) {                                                  \
			check_failures++;                                                          \
			fprintf(stderr, "%s:%d: %s == \"%s\", expected \"%s\"\n", __FILE__,        \
				__LINE__, #a, check_a_, check_b_);                                 \
		}                                                                                  \
	} while (0)

#define CHECK_NEAR(a, b, eps)                                                                      \
	do {                                                                                       \
		double check_a_ = (a), check_b_ = (b);                                             \
		check_count++;                                                                     \
		if (!(fabs(check_a_ - check_b_) <= (eps))) {                                       \
			check_failures++;                                                          \
			fprintf(stderr, "%s:%d: %s == %.9g, expected %.9g (+-%g)\n", __FILE__,     \
				__LINE__, #a, check_a_, check_b_, (double)(eps));                  \
		}                                                                                  \
	} while (0)

/* A fixture file, whole and NUL-terminated (*len, if not NULL, its size);
 * NULL if it cannot be read.  Free it. */
static inline char *check_slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *b;
	long n;

	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	b = n >= 0 ? malloc((size_t)n + 1) : NULL;
	if (b && fread(b, 1, (size_t)n, f) != (size_t)n) {
		free(b);
		b = NULL;
	}
	if (b)
		b[n] = '\0';
	if (len)
		*len = n >= 0 ? (size_t)n : 0;
	fclose(f);
	return b;
}

static inline int check_result(void)
{
	printf("%d checks, %d failed\n", check_count, check_failures);
	return check_failures ? 1 : 0;
}

#endif

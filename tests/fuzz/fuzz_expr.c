/* libFuzzer target for the `derive`, `valid` and `integrate` parsers and the
 * integrals' checkpoint: any text either parses or is refused with a
 * reason; what parses evaluates to a finite number or to an error, never
 * inf or NaN; a checkpoint that loads writes back to what it loaded. */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "expr.h"
#include "integrate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_ASSERT(cond)                                                                          \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "fuzz_expr:%d: %s\n", __LINE__, #cond);                    \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

/* Every field has a value made from its name; "z..." fields are zero, to
 * reach the divisions by zero, and "m..." ones missing. */
static int lookup(void *arg, const struct expr_ref *r, double *v)
{
	(void)arg;
	if (r->field[0] == 'm')
		return -ENOENT;
	*v = r->field[0] == 'z' ? 0 : (double)(strlen(r->field) * 7 % 13) - 6.5;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct integ_spec sp[INTEG_MAX];
	struct integ_state st[INTEG_MAX], back[INTEG_MAX];
	struct expr_derives d;
	struct expr_cond c;
	char *text, why[200], out[INTEG_FILE_MAX];
	size_t i, n, unknown, len;
	const char *w;
	double v;
	int r;

	text = malloc(size + 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = 0;

	r = expr_derives_parse(text, &d, why, sizeof(why));
	FUZZ_ASSERT(r == 0 || r == -EINVAL || r == -ENOMEM);
	if (r == -EINVAL)
		FUZZ_ASSERT(why[0]);
	for (i = 0; !r && i < d.n; i++) {
		r = expr_eval(&d.v[i].e, lookup, NULL, &v);
		FUZZ_ASSERT(r == 0 || r == -EDOM || r == -ENOENT);
		if (!r)
			FUZZ_ASSERT(isfinite(v));
		r = 0;
	}
	if (!r)
		expr_derives_free(&d);

	if (!expr_cond_parse(text, &c, why, sizeof(why))) {
		(void)expr_cond_num(&c, 1.0);
		(void)expr_cond_str(&c, "x");
	}

	if (!integ_parse(text, sp, INTEG_MAX, &n, why, sizeof(why))) {
		FUZZ_ASSERT(n >= 1 && n <= INTEG_MAX);
		/* The checkpoint of what parsed loads back exactly. */
		for (i = 0; i < n; i++) {
			st[i].joules = (double)i * 1.1;
			st[i].last_ns = (int64_t)i;
			st[i].last_w = -(double)i;
		}
		FUZZ_ASSERT(!integ_format(sp, st, n, out, sizeof(out), &len));
		memset(back, 0, sizeof(back));
		FUZZ_ASSERT(!integ_load(out, len, sp, back, n, &unknown, &w));
		FUZZ_ASSERT(!unknown && !memcmp(back, st, n * sizeof(st[0])));
	} else {
		/* Any text as a checkpoint: refused, or loaded into finite values. */
		static const struct integ_spec one[2] = {{"dc", "p", "e"}, {"ac", "p", "e"}};

		memset(back, 0, sizeof(back));
		if (!integ_load(text, size, one, back, 2, &unknown, &w))
			FUZZ_ASSERT(isfinite(back[0].joules) && isfinite(back[1].last_w));
	}
	free(text);
	return 0;
}

/* Builders into a span of packed samples, as the uploader hands them to a
 * sink's send(): the sink tests fill arrays of builders and send those. */
#ifndef POWERD_SPANS_H
#define POWERD_SPANS_H

#include <stdio.h>
#include <stdlib.h>

#include "sample.h"

/* The samples v[0, n) in l (emptied first); the span is valid while l is
 * not changed. */
static inline struct sample_span spans_of(struct sample_list *l, const struct sample *v, size_t n)
{
	size_t i;

	sample_list_clear(l);
	for (i = 0; i < n; i++) {
		if (sample_list_add_sample(l, &v[i])) {
			fprintf(stderr, "spans_of: sample %zu cannot be added\n", i);
			abort();
		}
	}
	return sample_list_span(l, 0, l->n);
}

/* Frees what builders of an array hold. */
static inline void spans_free(struct sample *v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		sample_free(&v[i]);
}

#endif

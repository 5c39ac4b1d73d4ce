/* libFuzzer target for the EcoFlow decode table's loader: any text loads or
 * is refused with a FILE:LINE:COL message; a table that loads has every
 * field within its record, so decoding a payload of the record's length
 * never reads beyond it. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ecoflow_table.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_ASSERT(cond)                                                                          \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "fuzz_ecoflow_table:%d: %s\n", __LINE__, #cond);           \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct eftab_value v;
	struct eftab t;
	char err[256];
	size_t i, j;
	int r = eftab_load("f.json", (const char *)data, size, &t, err, sizeof(err));

	FUZZ_ASSERT(r == 0 || r == -EINVAL || r == -ENOMEM);
	if (r == -EINVAL)
		FUZZ_ASSERT(!strncmp(err, "f.json:", 7));
	if (r)
		return 0;
	for (i = 0; i < t.n; i++) {
		const struct eftab_layout *l = &t.v[i];
		uint8_t *p = malloc(l->len);

		FUZZ_ASSERT(p);
		memset(p, (int)(i * 37), l->len);
		FUZZ_ASSERT(eftab_find(&t, (uint8_t)(l->src < 0 ? 1 : l->src),
				       (uint8_t)(l->dst < 0 ? 2 : l->dst), l->cmd_set, l->cmd_id,
				       l->len, NULL) != NULL);
		for (j = 0; j < l->nfields; j++) {
			r = eftab_value(&l->fields[j], p, l->len, &v);
			FUZZ_ASSERT(r == 0 || r == -EDOM);
		}
		free(p);
	}
	eftab_free(&t);
	return 0;
}

/* libFuzzer target for the JSON-files source's checkpoint: the parser
 * accepts only what json_ckpt_format() writes byte for byte, and a name it
 * returns is one a file may have. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_ckpt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_ASSERT(cond)                                                                          \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "fuzz_json_ckpt:%d: %s\n", __LINE__, #cond);               \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char mark[JSON_CKPT_NAME_MAX], out[JSON_CKPT_MAX];
	int n;

	if (json_ckpt_parse((const char *)data, size, mark, sizeof(mark)))
		return 0;
	FUZZ_ASSERT(mark[0] && !strchr(mark, '/') && !strchr(mark, '\n'));
	n = json_ckpt_format(mark, out, sizeof(out));
	FUZZ_ASSERT(n > 0 && (size_t)n == size && !memcmp(out, data, size));
	return 0;
}

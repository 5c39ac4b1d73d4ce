/* libFuzzer target for the spool encoding of samples: any input is either
 * rejected or unpacks to a sample that packs back to the very same bytes,
 * and whose line protocol is one line (or refused as having no field). */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "lineproto.h"
#include "sample.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned char again[SAMPLE_PACK_MAX];
	struct sample s;
	struct buf b;
	int r = sample_unpack(data, size, &s);
	size_t n;

	if (r < 0) {
		if (r != -EBADMSG)
			abort();
		return 0;
	}
	if ((size_t)r > size || (size_t)r > SAMPLE_PACK_MAX)
		abort();
	n = sample_pack(&s, again);
	if (n != (size_t)r || memcmp(again, data, n))
		abort();

	buf_init(&b);
	r = lp_encode(&s, &b);
	if (r == 0) {
		/* Exactly one line: a newline at the end and nowhere else. */
		if (!b.len || b.data[b.len - 1] != '\n' || memchr(b.data, '\n', b.len - 1) ||
		    memchr(b.data, '\r', b.len) || b.data[0] == '#')
			abort();
	} else if (r != -EINVAL || b.len) {
		abort();
	}
	buf_free(&b);
	return 0;
}

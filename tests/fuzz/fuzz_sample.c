/* libFuzzer target for the packed sample: any input is either refused or
 * opens to a sample that the builders write back as the very same bytes,
 * whose series and line protocol are sound (one line, or refused as having
 * no field).  The same input is also read as powerd 0.1.0's packing
 * (version 1): refused, or a sample the view accepts whole. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "lineproto.h"
#include "sample.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_rebuild(const struct sample_view *v, struct sample *s)
{
	struct sample_cursor c;
	struct sample_field f;
	unsigned i;
	int r = sample_init(s, v->measurement, v->ts_ns);

	for (i = 0; !r && i < v->ntags; i++)
		r = sample_tag(s, v->tags[i].key, v->tags[i].value);
	sample_fields(v, &c);
	while (!r && sample_next_field(&c, &f)) {
		if (f.type == SAMPLE_FLOAT)
			r = sample_float(s, f.key, f.v.f);
		else if (f.type == SAMPLE_INT)
			r = sample_int(s, f.key, f.v.i);
		else if (f.type == SAMPLE_BOOL)
			r = sample_bool(s, f.key, f.v.b);
		else
			r = sample_string(s, f.key, f.v.s);
	}
	if (r)
		abort(); /* the view accepted what a builder refuses */
}

static void fuzz_encode(const struct sample_view *v)
{
	char series[4096];
	struct buf b;
	int r;

	if (sample_series(v, series, sizeof(series)) >= sizeof(series))
		abort();
	buf_init(&b);
	r = lp_encode(v, &b);
	if (r == 0) {
		/* Exactly one line: a newline at the end and nowhere else. */
		if (!b.len || b.data[b.len - 1] != '\n' || memchr(b.data, '\n', b.len - 1) ||
		    memchr(b.data, '\r', b.len) || b.data[0] == '#' || strlen(b.data) != b.len)
			abort();
	} else if (r != -EINVAL || b.len) {
		abort();
	}
	buf_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sample_view v;
	struct sample s;
	int r = sample_view(&v, data, size);

	if (r < 0) {
		if (r != -EBADMSG)
			abort();
	} else {
		if ((size_t)r > size || (size_t)r > SAMPLE_PACK_MAX || v.len != (size_t)r)
			abort();
		fuzz_rebuild(&v, &s);
		if (sample_len(&s) != (size_t)r || memcmp(sample_data(&s), data, (size_t)r))
			abort();
		sample_free(&s);
		fuzz_encode(&v);
	}

	sample_init(&s, NULL, 0);
	r = sample_v1_read(&s, data, size);
	if (r < 0) {
		if (r != -EBADMSG || sample_len(&s))
			abort();
	} else {
		if ((size_t)r > size || sample_view_of(&v, &s) != (int)sample_len(&s))
			abort();
		fuzz_encode(&v);
	}
	sample_free(&s);
	return 0;
}

/* Samples: the builder that writes the packed form directly, the view that
 * checks and reads it, the series identity, spans of packed samples, and
 * the reader of powerd 0.1.0's packing.
 *
 * Packed layout, version 2 (integers little-endian):
 *
 *   u8 version (2) | u8 ntags | u16 nfields | i64 ts_ns
 *   | str measurement
 *   | ntags   x (str key | str value)
 *   | nfields x (str key | u8 type | value)
 *
 * where a str is u8 len, the bytes and a NUL (so that a view hands out C
 * strings that point into the record), a float its 8 IEEE-754 bytes, an int
 * 8 bytes, a bool one byte (0 or 1), a string a str.  Keys are 1..31 bytes,
 * values 0..63, no NUL inside; counts and duplicates as sample.h says.  The
 * view accepts exactly what the builders can write, and the builders write
 * one layout per content, so two samples with equal fields have equal field
 * bytes (change detection compares them as bytes).
 *
 * Version 1 (powerd 0.1.0, spool payload 1) differs: u8 version (1) |
 * u8 ntags << 4 | nfields (at most 6 each) | i64 ts_ns, and strings without
 * the NUL.  It is only read, into a builder. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "hash.h"
#include "sample.h"

#define SAMPLE_VERSION	  2
#define SAMPLE_V1_VERSION 1
#define SAMPLE_V1_MAX	  6

_Static_assert(SAMPLE_MAX_TAGS <= 255 && SAMPLE_MAX_FIELDS <= 65535, "counts fit the header");
_Static_assert(SAMPLE_KEY_MAX <= 256 && SAMPLE_STR_MAX <= 256, "lengths are one byte");
_Static_assert(SAMPLE_PACK_MAX <= UINT32_MAX / 2, "offsets are 32 bits");
_Static_assert(SAMPLE_INLINE >= SAMPLE_HDR_LEN + SAMPLE_KEY_MAX + 1, "a header fits in place");

/* ------------------------------------------------------------ encoding */

static void sample_put_u64(unsigned char *p, uint64_t v)
{
	int i;

	for (i = 0; i < 8; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static uint64_t sample_get_u64(const unsigned char *p)
{
	uint64_t v = 0;
	int i;

	for (i = 0; i < 8; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

/* A str of n bytes: what it takes in the record. */
static size_t sample_str_size(size_t n)
{
	return 1 + n + 1;
}

static unsigned char *sample_put_str(unsigned char *p, const char *s, size_t n)
{
	*p++ = (unsigned char)n;
	memcpy(p, s, n);
	p[n] = '\0';
	return p + n + 1;
}

/* What a value of this type takes after its type byte (strings: str). */
static size_t sample_value_size(enum sample_type t, size_t slen)
{
	switch (t) {
	case SAMPLE_FLOAT:
	case SAMPLE_INT:
		return 8;
	case SAMPLE_BOOL:
		return 1;
	case SAMPLE_STRING:
		return sample_str_size(slen);
	}
	return 0;
}

/* Which bit of a key set stands for this key. */
static uint32_t sample_key_hash(const char *k, size_t n)
{
	return (uint32_t)hash_fnv1a(HASH_FNV1A_INIT, k, n);
}

/* ------------------------------------------------------------ builder */

static unsigned char *sample_buf(const struct sample *s)
{
	return s->heap ? s->heap : (unsigned char *)s->small;
}

/* A name as the builders accept it: its length, or -EINVAL (missing or
 * empty) / -ENAMETOOLONG. */
static int sample_check(const char *name, size_t min, size_t max)
{
	size_t n;

	if (!name || (min && !name[0]))
		return -EINVAL;
	n = strnlen(name, max);
	return n >= max ? -ENAMETOOLONG : (int)n;
}

static int sample_grow(struct sample *s, size_t extra)
{
	size_t need = (size_t)s->len + extra, cap = s->cap;
	unsigned char *p;

	if (need <= s->cap)
		return 0;
	while (cap < need)
		cap *= 2;
	if (s->heap) {
		p = realloc(s->heap, cap);
	} else {
		p = malloc(cap);
		if (p)
			memcpy(p, s->small, s->len);
	}
	if (!p)
		return -ENOMEM;
	s->heap = p;
	s->cap = (uint32_t)cap;
	return 0;
}

static int sample_begin(struct sample *s, const char *measurement, int64_t ts_ns)
{
	unsigned char *p;
	int n = sample_check(measurement, 1, SAMPLE_KEY_MAX);

	s->len = 0;
	s->fields_at = 0;
	s->tag_keys = 0;
	memset(s->field_keys, 0, sizeof(s->field_keys));
	if (n < 0)
		return n;
	/* A line starting with '#' is a comment to InfluxDB: the point would be
	 * acknowledged and silently dropped. */
	if (measurement[0] == '#')
		return -EINVAL;
	p = sample_buf(s);
	p[0] = SAMPLE_VERSION;
	p[1] = p[2] = p[3] = 0;
	sample_put_u64(p + 4, (uint64_t)ts_ns);
	p = sample_put_str(p + SAMPLE_HDR_LEN, measurement, (size_t)n);
	s->len = s->fields_at = (uint32_t)(p - sample_buf(s));
	return 0;
}

int sample_init(struct sample *s, const char *measurement, int64_t ts_ns)
{
	if (!s)
		return -EINVAL;
	s->heap = NULL;
	s->cap = SAMPLE_INLINE;
	return sample_begin(s, measurement, ts_ns);
}

int sample_reset(struct sample *s, const char *measurement, int64_t ts_ns)
{
	return s ? sample_begin(s, measurement, ts_ns) : -EINVAL;
}

void sample_free(struct sample *s)
{
	if (!s)
		return;
	free(s->heap);
	s->heap = NULL;
	s->cap = SAMPLE_INLINE;
	s->len = s->fields_at = 0;
}

const void *sample_data(const struct sample *s)
{
	return sample_buf(s);
}

size_t sample_len(const struct sample *s)
{
	return s->len;
}

/* Is there a tag (fields: a field) named key[0..n) between p and end?
 * p points at the first entry. */
static bool sample_find(const unsigned char *p, const unsigned char *end, bool fields,
			const char *key, size_t n)
{
	while (p < end) {
		size_t klen = p[0];
		bool hit = klen == n && !memcmp(p + 1, key, n);

		p += sample_str_size(klen);
		if (hit)
			return true;
		if (fields) {
			enum sample_type t = (enum sample_type)p[0];

			p += 1 + sample_value_size(t, t == SAMPLE_STRING ? p[1] : 0);
		} else {
			p += sample_str_size(p[0]);
		}
	}
	return false;
}

static unsigned sample_ntags(const struct sample *s)
{
	return sample_buf(s)[1];
}

static unsigned sample_nfields(const struct sample *s)
{
	const unsigned char *p = sample_buf(s);

	return (unsigned)p[2] | (unsigned)p[3] << 8;
}

int sample_tag(struct sample *s, const char *key, const char *value)
{
	int k = sample_check(key, 1, SAMPLE_KEY_MAX), v, r;
	uint64_t bit;
	size_t size;
	unsigned char *p;

	if (k < 0)
		return k;
	v = sample_check(value, 0, SAMPLE_STR_MAX);
	if (v < 0)
		return v;
	if (!s->len)
		return -EINVAL;
	if (sample_ntags(s) >= SAMPLE_MAX_TAGS)
		return -E2BIG;
	bit = (uint64_t)1 << (sample_key_hash(key, (size_t)k) & 63);
	p = sample_buf(s);
	if ((s->tag_keys & bit) &&
	    sample_find(p + SAMPLE_HDR_LEN + sample_str_size(p[SAMPLE_HDR_LEN]), p + s->fields_at,
			false, key, (size_t)k))
		return -EEXIST;
	size = sample_str_size((size_t)k) + sample_str_size((size_t)v);
	r = sample_grow(s, size);
	if (r)
		return r;
	/* Tags come before the fields: make room for it there. */
	p = sample_buf(s);
	memmove(p + s->fields_at + size, p + s->fields_at, s->len - s->fields_at);
	sample_put_str(sample_put_str(p + s->fields_at, key, (size_t)k), value, (size_t)v);
	s->fields_at += (uint32_t)size;
	s->len += (uint32_t)size;
	p[1]++;
	s->tag_keys |= bit;
	return 0;
}

/* Room for a field of this type at the end, with its key and type written:
 * returns where its value goes, or NULL with *err set. */
static unsigned char *sample_field_add(struct sample *s, const char *key, enum sample_type t,
				       size_t slen, int *err)
{
	int k = sample_check(key, 1, SAMPLE_KEY_MAX);
	uint32_t h;
	uint64_t bit;
	unsigned char *p;
	unsigned n;
	size_t size;

	if (k < 0) {
		*err = k;
		return NULL;
	}
	*err = -EINVAL;
	if (!s->len)
		return NULL;
	n = sample_nfields(s);
	*err = -E2BIG;
	if (n >= SAMPLE_MAX_FIELDS)
		return NULL;
	h = sample_key_hash(key, (size_t)k) & 255;
	bit = (uint64_t)1 << (h & 63);
	*err = -EEXIST;
	if ((s->field_keys[h >> 6] & bit) &&
	    sample_find(sample_buf(s) + s->fields_at, sample_buf(s) + s->len, true, key, (size_t)k))
		return NULL;
	size = sample_str_size((size_t)k) + 1 + sample_value_size(t, slen);
	*err = sample_grow(s, size);
	if (*err)
		return NULL;
	p = sample_buf(s);
	n++;
	p[2] = (unsigned char)n;
	p[3] = (unsigned char)(n >> 8);
	s->field_keys[h >> 6] |= bit;
	p = sample_put_str(p + s->len, key, (size_t)k);
	*p++ = (unsigned char)t;
	s->len += (uint32_t)size;
	return p;
}

int sample_float(struct sample *s, const char *key, double v)
{
	int r;
	unsigned char *p = sample_field_add(s, key, SAMPLE_FLOAT, 0, &r);
	uint64_t bits;

	if (!p)
		return r;
	memcpy(&bits, &v, sizeof(bits));
	sample_put_u64(p, bits);
	return 0;
}

int sample_int(struct sample *s, const char *key, int64_t v)
{
	int r;
	unsigned char *p = sample_field_add(s, key, SAMPLE_INT, 0, &r);

	if (!p)
		return r;
	sample_put_u64(p, (uint64_t)v);
	return 0;
}

int sample_bool(struct sample *s, const char *key, bool v)
{
	int r;
	unsigned char *p = sample_field_add(s, key, SAMPLE_BOOL, 0, &r);

	if (!p)
		return r;
	*p = v ? 1 : 0;
	return 0;
}

int sample_string(struct sample *s, const char *key, const char *v)
{
	int n = sample_check(v, 0, SAMPLE_STR_MAX), r;
	unsigned char *p;

	if (n < 0)
		return n;
	p = sample_field_add(s, key, SAMPLE_STRING, (size_t)n, &r);
	if (!p)
		return r;
	sample_put_str(p, v, (size_t)n);
	return 0;
}

/* ------------------------------------------------------------ view */

struct sample_reader {
	const unsigned char *p, *end;
};

/* A str of min..max-1 bytes, NUL-terminated, without a NUL inside. */
static const char *sample_read_str(struct sample_reader *r, size_t min, size_t max)
{
	const unsigned char *s;
	size_t n;

	if (r->p >= r->end)
		return NULL;
	n = r->p[0];
	if (n < min || n >= max || (size_t)(r->end - r->p) < sample_str_size(n))
		return NULL;
	s = r->p + 1;
	if (s[n] != '\0' || memchr(s, '\0', n))
		return NULL;
	r->p += sample_str_size(n);
	return (const char *)s;
}

/* One field, checked; its key is the str at `key`. */
static int sample_read_field(struct sample_reader *r, struct sample_field *f)
{
	f->key = sample_read_str(r, 1, SAMPLE_KEY_MAX);
	if (!f->key || r->p >= r->end)
		return -EBADMSG;
	f->type = (enum sample_type) * r->p++;
	switch (f->type) {
	case SAMPLE_FLOAT:
	case SAMPLE_INT: {
		uint64_t bits;

		if (r->end - r->p < 8)
			return -EBADMSG;
		bits = sample_get_u64(r->p);
		r->p += 8;
		if (f->type == SAMPLE_FLOAT)
			memcpy(&f->v.f, &bits, sizeof(bits));
		else
			f->v.i = (int64_t)bits;
		return 0;
	}
	case SAMPLE_BOOL:
		if (r->p >= r->end || *r->p > 1)
			return -EBADMSG;
		f->v.b = *r->p++;
		return 0;
	case SAMPLE_STRING:
		f->v.s = sample_read_str(r, 0, SAMPLE_STR_MAX);
		return f->v.s ? 0 : -EBADMSG;
	}
	return -EBADMSG;
}

int sample_view(struct sample_view *v, const void *data, size_t n)
{
	struct sample_reader r = {data, (const unsigned char *)data + n};
	const unsigned char *p = data;
	uint64_t tag_keys = 0, field_keys[4] = {0};
	struct sample_field f;
	unsigned i;

	if (n < SAMPLE_HDR_LEN || p[0] != SAMPLE_VERSION)
		return -EBADMSG;
	v->data = p;
	v->ntags = p[1];
	v->nfields = (unsigned)p[2] | (unsigned)p[3] << 8;
	v->ts_ns = (int64_t)sample_get_u64(p + 4);
	if (v->ntags > SAMPLE_MAX_TAGS || v->nfields > SAMPLE_MAX_FIELDS)
		return -EBADMSG;
	r.p += SAMPLE_HDR_LEN;
	v->measurement = sample_read_str(&r, 1, SAMPLE_KEY_MAX);
	if (!v->measurement || v->measurement[0] == '#')
		return -EBADMSG;
	for (i = 0; i < v->ntags; i++) {
		const unsigned char *entry = r.p;
		struct sample_tag *t = &v->tags[i];
		uint64_t bit;

		t->key = sample_read_str(&r, 1, SAMPLE_KEY_MAX);
		t->value = t->key ? sample_read_str(&r, 0, SAMPLE_STR_MAX) : NULL;
		if (!t->value)
			return -EBADMSG;
		bit = (uint64_t)1 << (sample_key_hash(t->key, entry[0]) & 63);
		if ((tag_keys & bit) &&
		    sample_find(p + SAMPLE_HDR_LEN + sample_str_size(p[SAMPLE_HDR_LEN]), entry,
				false, t->key, entry[0]))
			return -EBADMSG;
		tag_keys |= bit;
	}
	v->fields = r.p;
	for (i = 0; i < v->nfields; i++) {
		const unsigned char *entry = r.p;
		uint32_t h;
		uint64_t bit;

		if (sample_read_field(&r, &f))
			return -EBADMSG;
		h = sample_key_hash(f.key, entry[0]) & 255;
		bit = (uint64_t)1 << (h & 63);
		if ((field_keys[h >> 6] & bit) &&
		    sample_find(v->fields, entry, true, f.key, entry[0]))
			return -EBADMSG;
		field_keys[h >> 6] |= bit;
	}
	v->len = (size_t)(r.p - p);
	return (int)v->len;
}

int sample_view_of(struct sample_view *v, const struct sample *s)
{
	return sample_view(v, sample_buf(s), s->len);
}

void sample_fields(const struct sample_view *v, struct sample_cursor *c)
{
	c->p = v->fields;
	c->end = v->data + v->len;
	c->left = v->nfields;
}

bool sample_next_field(struct sample_cursor *c, struct sample_field *f)
{
	struct sample_reader r = {c->p, c->end};

	/* The view checked every byte: this cannot fail. */
	if (!c->left || sample_read_field(&r, f))
		return false;
	c->p = r.p;
	c->left--;
	return true;
}

bool sample_field_get(const struct sample_view *v, const char *key, struct sample_field *f)
{
	struct sample_cursor c;

	sample_fields(v, &c);
	while (sample_next_field(&c, f))
		if (!strcmp(f->key, key))
			return true;
	return false;
}

int64_t sample_packed_ts(const void *p)
{
	return (int64_t)sample_get_u64((const unsigned char *)p + 4);
}

/* Appends one byte, always leaving room for the NUL. */
static void sample_series_putc(char *out, size_t n, size_t *len, char c)
{
	if (*len + 1 < n)
		out[(*len)++] = c;
}

/* Appends src with backslash, comma and equals sign backslash-escaped, so
 * that different tag sets never give the same identity. */
static void sample_series_put(char *out, size_t n, size_t *len, const char *src)
{
	for (; *src; src++) {
		if (*src == '\\' || *src == ',' || *src == '=')
			sample_series_putc(out, n, len, '\\');
		sample_series_putc(out, n, len, *src);
	}
}

size_t sample_series(const struct sample_view *v, char *out, size_t n)
{
	size_t len = 0;
	unsigned i;

	if (!n)
		return 0;
	sample_series_put(out, n, &len, v->measurement);
	for (i = 0; i < v->ntags; i++) {
		sample_series_putc(out, n, &len, ',');
		sample_series_put(out, n, &len, v->tags[i].key);
		sample_series_putc(out, n, &len, '=');
		sample_series_put(out, n, &len, v->tags[i].value);
	}
	out[len] = '\0';
	return len;
}

/* ------------------------------------------------------------ spans */

int sample_span_view(const struct sample_span *sp, size_t i, struct sample_view *v)
{
	if (i >= sp->n)
		return -EINVAL;
	return sample_view(v, sp->data + sp->off[i], sp->off[i + 1] - sp->off[i]);
}

void sample_list_init(struct sample_list *l)
{
	memset(l, 0, sizeof(*l));
	buf_init(&l->b);
}

void sample_list_free(struct sample_list *l)
{
	buf_free(&l->b);
	free(l->off);
	sample_list_init(l);
}

void sample_list_clear(struct sample_list *l)
{
	l->b.len = 0;
	l->b.err = 0;
	l->n = 0;
}

int sample_list_add(struct sample_list *l, const void *p, size_t len)
{
	if (l->n + 2 > l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 64;
		uint32_t *off = realloc(l->off, cap * sizeof(*off));

		if (!off)
			return -ENOMEM;
		l->off = off;
		l->cap = cap;
	}
	if (l->b.len + len > UINT32_MAX)
		return -E2BIG;
	if (buf_append(&l->b, p, len)) {
		l->b.err = 0;
		return -ENOMEM;
	}
	l->off[l->n] = (uint32_t)(l->b.len - len);
	l->off[++l->n] = (uint32_t)l->b.len;
	return 0;
}

int sample_list_add_sample(struct sample_list *l, const struct sample *s)
{
	return s->len ? sample_list_add(l, sample_buf(s), s->len) : -EINVAL;
}

struct sample_span sample_list_span(const struct sample_list *l, size_t lo, size_t hi)
{
	static const uint32_t none[1];
	struct sample_span sp = {(const unsigned char *)l->b.data, l->off ? l->off + lo : none,
				 hi - lo};

	return sp;
}

/* ------------------------------------------------------------ version 1 */

/* A version-1 string of min..max-1 bytes without NUL, copied to dst. */
static int sample_v1_str(struct sample_reader *r, char *dst, size_t min, size_t max)
{
	size_t n;

	if (r->p >= r->end)
		return -EBADMSG;
	n = *r->p++;
	if (n < min || n >= max || (size_t)(r->end - r->p) < n || memchr(r->p, '\0', n))
		return -EBADMSG;
	memcpy(dst, r->p, n);
	dst[n] = '\0';
	r->p += n;
	return 0;
}

static int sample_v1_field(struct sample_reader *r, struct sample *s)
{
	char key[SAMPLE_KEY_MAX], str[SAMPLE_STR_MAX];
	uint64_t bits;
	double f;
	unsigned type;

	if (sample_v1_str(r, key, 1, SAMPLE_KEY_MAX) || r->p >= r->end)
		return -EBADMSG;
	type = *r->p++;
	switch (type) {
	case SAMPLE_FLOAT:
	case SAMPLE_INT:
		if (r->end - r->p < 8)
			return -EBADMSG;
		bits = sample_get_u64(r->p);
		r->p += 8;
		if (type == SAMPLE_INT)
			return sample_int(s, key, (int64_t)bits);
		memcpy(&f, &bits, sizeof(f));
		return sample_float(s, key, f);
	case SAMPLE_BOOL:
		if (r->p >= r->end || *r->p > 1)
			return -EBADMSG;
		return sample_bool(s, key, *r->p++ != 0);
	case SAMPLE_STRING:
		if (sample_v1_str(r, str, 0, SAMPLE_STR_MAX))
			return -EBADMSG;
		return sample_string(s, key, str);
	}
	return -EBADMSG;
}

int sample_v1_read(struct sample *s, const void *in, size_t n)
{
	struct sample_reader r = {in, (const unsigned char *)in + n};
	char m[SAMPLE_KEY_MAX], key[SAMPLE_KEY_MAX], value[SAMPLE_STR_MAX];
	unsigned counts, i;
	uint64_t ts;
	int e;

	sample_reset(s, NULL, 0);
	if (n < 10 || r.p[0] != SAMPLE_V1_VERSION)
		return -EBADMSG;
	counts = r.p[1];
	ts = sample_get_u64(r.p + 2);
	r.p += 10;
	if ((counts >> 4) > SAMPLE_V1_MAX || (counts & 15) > SAMPLE_V1_MAX ||
	    sample_v1_str(&r, m, 1, SAMPLE_KEY_MAX))
		return -EBADMSG;
	e = sample_reset(s, m, (int64_t)ts);
	for (i = 0; !e && i < counts >> 4; i++) {
		e = sample_v1_str(&r, key, 1, SAMPLE_KEY_MAX) ||
				    sample_v1_str(&r, value, 0, SAMPLE_STR_MAX)
			    ? -EBADMSG
			    : sample_tag(s, key, value);
	}
	for (i = 0; !e && i < (counts & 15); i++)
		e = sample_v1_field(&r, s);
	if (e) {
		/* A repeated key, a '#' measurement: malformed for version 1
		 * too.  Out of memory is the one error that is not the data's. */
		sample_reset(s, NULL, 0);
		return e == -ENOMEM ? e : -EBADMSG;
	}
	return (int)(r.p - (const unsigned char *)in);
}

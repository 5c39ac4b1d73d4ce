/* Samples: builders that keep every sample writable, the series identity,
 * and the spool encoding.
 *
 * Packed layout, version 1 (integers little-endian):
 *
 *   u8 version (1) | u8 ntags << 4 | nfields | i64 ts_ns
 *   | u8 len, measurement
 *   | ntags  x (u8 len, key | u8 len, value)
 *   | nfields x (u8 len, key | u8 type | value)
 *
 * where a float is its 8 IEEE-754 bytes, an int 8 bytes, a bool one byte
 * (0 or 1) and a string u8 len + bytes.  Names are never empty, never
 * contain NUL and fit their arrays with the NUL; counts are at most 6.
 * Unpack accepts exactly what the builders can produce and pack writes back
 * the very same bytes, so a record that unpacks is known to be sound. */
#include <errno.h>
#include <string.h>

#include "sample.h"

#define SAMPLE_VERSION 1

_Static_assert(SAMPLE_MAX_TAGS < 16 && SAMPLE_MAX_FIELDS < 16, "counts share one byte");
_Static_assert(SAMPLE_KEY_MAX <= 256 && SAMPLE_STR_MAX <= 256, "lengths are one byte");
_Static_assert(1 + 1 + 8 + 1 + (SAMPLE_KEY_MAX - 1) +
			       SAMPLE_MAX_TAGS * (2 + (SAMPLE_KEY_MAX - 1) + (SAMPLE_STR_MAX - 1)) +
			       SAMPLE_MAX_FIELDS *
				       (3 + (SAMPLE_KEY_MAX - 1) + (SAMPLE_STR_MAX - 1)) <=
		       SAMPLE_PACK_MAX,
	       "SAMPLE_PACK_MAX too small for the largest sample");

/* A name as the builders accept it: 0, -EINVAL (missing, empty, or a
 * measurement line protocol would read as a comment) or -ENAMETOOLONG. */
static int sample_check_name(const char *name, size_t max)
{
	if (!name || !name[0])
		return -EINVAL;
	if (strnlen(name, max) >= max)
		return -ENAMETOOLONG;
	return 0;
}

int sample_init(struct sample *s, const char *measurement, int64_t ts_ns)
{
	int r;

	if (!s)
		return -EINVAL;
	memset(s, 0, sizeof(*s));
	r = sample_check_name(measurement, sizeof(s->measurement));
	if (r)
		return r;
	/* A line starting with '#' is a comment to InfluxDB: the point would be
	 * acknowledged and silently dropped. */
	if (measurement[0] == '#')
		return -EINVAL;
	strcpy(s->measurement, measurement);
	s->ts_ns = ts_ns;
	return 0;
}

int sample_tag(struct sample *s, const char *key, const char *value)
{
	struct sample_tag *t;
	int r = sample_check_name(key, SAMPLE_KEY_MAX);
	unsigned i;

	if (r)
		return r;
	if (!value)
		return -EINVAL;
	if (strnlen(value, SAMPLE_STR_MAX) >= SAMPLE_STR_MAX)
		return -ENAMETOOLONG;
	if (s->ntags >= SAMPLE_MAX_TAGS)
		return -E2BIG;
	for (i = 0; i < s->ntags; i++)
		if (!strcmp(s->tags[i].key, key))
			return -EEXIST;
	t = &s->tags[s->ntags++];
	strcpy(t->key, key);
	strcpy(t->value, value);
	return 0;
}

/* The next free field for `key`, or NULL with *err set. */
static struct sample_field *sample_field_add(struct sample *s, const char *key, int *err)
{
	struct sample_field *f;
	unsigned i;

	*err = sample_check_name(key, SAMPLE_KEY_MAX);
	if (*err)
		return NULL;
	if (s->nfields >= SAMPLE_MAX_FIELDS) {
		*err = -E2BIG;
		return NULL;
	}
	for (i = 0; i < s->nfields; i++) {
		if (!strcmp(s->fields[i].key, key)) {
			*err = -EEXIST;
			return NULL;
		}
	}
	f = &s->fields[s->nfields];
	memset(f, 0, sizeof(*f));
	strcpy(f->key, key);
	return f;
}

int sample_float(struct sample *s, const char *key, double v)
{
	int r;
	struct sample_field *f = sample_field_add(s, key, &r);

	if (!f)
		return r;
	f->type = SAMPLE_FLOAT;
	f->v.f = v;
	s->nfields++;
	return 0;
}

int sample_int(struct sample *s, const char *key, int64_t v)
{
	int r;
	struct sample_field *f = sample_field_add(s, key, &r);

	if (!f)
		return r;
	f->type = SAMPLE_INT;
	f->v.i = v;
	s->nfields++;
	return 0;
}

int sample_bool(struct sample *s, const char *key, bool v)
{
	int r;
	struct sample_field *f = sample_field_add(s, key, &r);

	if (!f)
		return r;
	f->type = SAMPLE_BOOL;
	f->v.b = v;
	s->nfields++;
	return 0;
}

int sample_string(struct sample *s, const char *key, const char *v)
{
	int r;
	struct sample_field *f;

	if (!v)
		return -EINVAL;
	if (strnlen(v, SAMPLE_STR_MAX) >= SAMPLE_STR_MAX)
		return -ENAMETOOLONG;
	f = sample_field_add(s, key, &r);
	if (!f)
		return r;
	f->type = SAMPLE_STRING;
	strcpy(f->s, v);
	s->nfields++;
	return 0;
}

/* Appends one byte, always leaving room for the NUL. */
static void sample_series_putc(char *out, size_t n, size_t *len, char c)
{
	if (*len + 1 < n)
		out[(*len)++] = c;
}

/* Appends src with backslash, comma and equals sign backslash-escaped, so
 * that different tag sets never give the same identity. */
static void sample_series_put(char *out, size_t n, size_t *len, const char *src, size_t max)
{
	size_t i, m = strnlen(src, max);

	for (i = 0; i < m; i++) {
		if (src[i] == '\\' || src[i] == ',' || src[i] == '=')
			sample_series_putc(out, n, len, '\\');
		sample_series_putc(out, n, len, src[i]);
	}
}

size_t sample_series(const struct sample *s, char *out, size_t n)
{
	size_t len = 0;
	unsigned i;

	if (!n)
		return 0;
	sample_series_put(out, n, &len, s->measurement, sizeof(s->measurement));
	for (i = 0; i < s->ntags && i < SAMPLE_MAX_TAGS; i++) {
		sample_series_putc(out, n, &len, ',');
		sample_series_put(out, n, &len, s->tags[i].key, SAMPLE_KEY_MAX);
		sample_series_putc(out, n, &len, '=');
		sample_series_put(out, n, &len, s->tags[i].value, SAMPLE_STR_MAX);
	}
	out[len] = '\0';
	return len;
}

/* ------------------------------------------------------------- packing */

static unsigned char *sample_put_u64(unsigned char *p, uint64_t v)
{
	int i;

	for (i = 0; i < 8; i++)
		*p++ = (unsigned char)(v >> (8 * i));
	return p;
}

static unsigned char *sample_put_str(unsigned char *p, const char *str, size_t max)
{
	size_t n = strnlen(str, max - 1);

	*p++ = (unsigned char)n;
	memcpy(p, str, n);
	return p + n;
}

size_t sample_pack(const struct sample *s, unsigned char *out)
{
	unsigned ntags = s->ntags <= SAMPLE_MAX_TAGS ? s->ntags : SAMPLE_MAX_TAGS;
	unsigned nfields = s->nfields <= SAMPLE_MAX_FIELDS ? s->nfields : SAMPLE_MAX_FIELDS;
	unsigned char *p = out;
	unsigned i;

	*p++ = SAMPLE_VERSION;
	*p++ = (unsigned char)(ntags << 4 | nfields);
	p = sample_put_u64(p, (uint64_t)s->ts_ns);
	p = sample_put_str(p, s->measurement, sizeof(s->measurement));
	for (i = 0; i < ntags; i++) {
		p = sample_put_str(p, s->tags[i].key, SAMPLE_KEY_MAX);
		p = sample_put_str(p, s->tags[i].value, SAMPLE_STR_MAX);
	}
	for (i = 0; i < nfields; i++) {
		const struct sample_field *f = &s->fields[i];
		uint64_t bits;

		p = sample_put_str(p, f->key, SAMPLE_KEY_MAX);
		*p++ = (unsigned char)f->type;
		switch (f->type) {
		case SAMPLE_FLOAT:
			memcpy(&bits, &f->v.f, sizeof(bits));
			p = sample_put_u64(p, bits);
			break;
		case SAMPLE_INT:
			p = sample_put_u64(p, (uint64_t)f->v.i);
			break;
		case SAMPLE_BOOL:
			*p++ = f->v.b ? 1 : 0;
			break;
		case SAMPLE_STRING:
		default:
			/* An unknown type is written as an empty string so the
			 * record stays well-formed; builders never make one. */
			p[-1] = SAMPLE_STRING;
			p = sample_put_str(p, f->type == SAMPLE_STRING ? f->s : "", SAMPLE_STR_MAX);
			break;
		}
	}
	return (size_t)(p - out);
}

struct sample_reader {
	const unsigned char *p, *end;
};

static int sample_get_u8(struct sample_reader *r, unsigned *v)
{
	if (r->p >= r->end)
		return -EBADMSG;
	*v = *r->p++;
	return 0;
}

static int sample_get_u64(struct sample_reader *r, uint64_t *v)
{
	int i;

	if (r->end - r->p < 8)
		return -EBADMSG;
	*v = 0;
	for (i = 0; i < 8; i++)
		*v |= (uint64_t)r->p[i] << (8 * i);
	r->p += 8;
	return 0;
}

/* A string of min..max-1 bytes without NUL, copied NUL-terminated. */
static int sample_get_str(struct sample_reader *r, char *dst, size_t min, size_t max)
{
	unsigned n;

	if (sample_get_u8(r, &n) || n < min || n >= max || (size_t)(r->end - r->p) < n ||
	    memchr(r->p, '\0', n))
		return -EBADMSG;
	memcpy(dst, r->p, n);
	dst[n] = '\0';
	r->p += n;
	return 0;
}

static int sample_get_field(struct sample_reader *r, struct sample_field *f)
{
	unsigned type, b;
	uint64_t bits;

	if (sample_get_str(r, f->key, 1, SAMPLE_KEY_MAX) || sample_get_u8(r, &type))
		return -EBADMSG;
	switch (type) {
	case SAMPLE_FLOAT:
		if (sample_get_u64(r, &bits))
			return -EBADMSG;
		memcpy(&f->v.f, &bits, sizeof(bits));
		break;
	case SAMPLE_INT:
		if (sample_get_u64(r, &bits))
			return -EBADMSG;
		f->v.i = (int64_t)bits;
		break;
	case SAMPLE_BOOL:
		if (sample_get_u8(r, &b) || b > 1)
			return -EBADMSG;
		f->v.b = b;
		break;
	case SAMPLE_STRING:
		if (sample_get_str(r, f->s, 0, SAMPLE_STR_MAX))
			return -EBADMSG;
		break;
	default:
		return -EBADMSG;
	}
	f->type = (enum sample_type)type;
	return 0;
}

int sample_unpack(const unsigned char *in, size_t n, struct sample *s)
{
	struct sample_reader r = {in, in + n};
	unsigned version, counts, i, j;
	uint64_t ts;

	memset(s, 0, sizeof(*s));
	if (sample_get_u8(&r, &version) || version != SAMPLE_VERSION ||
	    sample_get_u8(&r, &counts) || (counts >> 4) > SAMPLE_MAX_TAGS ||
	    (counts & 15) > SAMPLE_MAX_FIELDS || sample_get_u64(&r, &ts) ||
	    sample_get_str(&r, s->measurement, 1, sizeof(s->measurement)) ||
	    s->measurement[0] == '#')
		goto bad;
	s->ts_ns = (int64_t)ts;
	for (i = 0; i < counts >> 4; i++) {
		struct sample_tag *t = &s->tags[i];

		if (sample_get_str(&r, t->key, 1, SAMPLE_KEY_MAX) ||
		    sample_get_str(&r, t->value, 0, SAMPLE_STR_MAX))
			goto bad;
		for (j = 0; j < i; j++)
			if (!strcmp(s->tags[j].key, t->key))
				goto bad;
	}
	s->ntags = (uint8_t)(counts >> 4);
	for (i = 0; i < (counts & 15); i++) {
		if (sample_get_field(&r, &s->fields[i]))
			goto bad;
		for (j = 0; j < i; j++)
			if (!strcmp(s->fields[j].key, s->fields[i].key))
				goto bad;
	}
	s->nfields = (uint8_t)(counts & 15);
	return (int)(r.p - in);
bad:
	memset(s, 0, sizeof(*s));
	return -EBADMSG;
}

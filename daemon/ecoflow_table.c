/* The EcoFlow decode table (ecoflow_table.h): loaded strictly, since a
 * typo in a data file would otherwise decode garbage silently: unknown
 * members, wrong types, fields beyond their record and duplicate names are
 * refused with where they are. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ecoflow_table.h"
#include "json.h"

struct eftab_p {
	const char *name, *text;
	char *err;
	size_t errlen;
};

static int eftab_fail(struct eftab_p *p, const struct json_node *at, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int eftab_fail(struct eftab_p *p, const struct json_node *at, const char *fmt, ...)
{
	unsigned line, col;
	va_list ap;
	int n;

	json_where(p->text, at->at, &line, &col);
	n = snprintf(p->err, p->errlen, "%s:%u:%u: ", p->name, line, col);
	if (n >= 0 && (size_t)n < p->errlen) {
		va_start(ap, fmt);
		vsnprintf(p->err + n, p->errlen - (size_t)n, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

static bool eftab_is(const struct json_node *n, const char *key)
{
	return n->key_len == strlen(key) && !memcmp(n->key, key, n->key_len);
}

/* An integer member within lo..hi. */
static int eftab_int(struct eftab_p *p, const struct json_node *n, const char *what, long lo,
		     long hi, long *v)
{
	if (n->type != JSON_NUMBER || !n->v.num.is_int || n->v.num.i < lo || n->v.num.i > hi)
		return eftab_fail(p, n, "%s must be an integer from %ld to %ld", what, lo, hi);
	*v = (long)n->v.num.i;
	return 0;
}

static int eftab_str(struct eftab_p *p, const struct json_node *n, const char *what, char *out,
		     size_t size)
{
	if (n->type != JSON_STRING || !n->v.str.len || n->v.str.len >= size)
		return eftab_fail(p, n, "%s must be a string of 1 to %zu characters", what,
				  size - 1);
	memcpy(out, n->v.str.s, n->v.str.len + 1);
	return 0;
}

/* A sample key: what line protocol and the sinks take without escaping
 * surprises. */
static bool eftab_name_ok(const char *s)
{
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '_'))
			return false;
	return true;
}

static const struct {
	const char *name;
	enum eftab_type type;
	uint16_t size;
} eftab_types[] = {
	{"u8", EFTAB_U8, 1},	       {"i8", EFTAB_I8, 1},
	{"u16", EFTAB_U16, 2},	       {"i16", EFTAB_I16, 2},
	{"u32", EFTAB_U32, 4},	       {"i32", EFTAB_I32, 4},
	{"f32", EFTAB_F32, 4},	       {"ascii", EFTAB_ASCII, 0},
	{"version", EFTAB_VERSION, 4}, {"version_rev", EFTAB_VERSION_REV, 4},
};

static int eftab_field(struct eftab_p *p, const struct json_node *o, struct eftab_layout *l,
		       struct eftab_field *f)
{
	const struct json_node *m, *type = NULL, *size = NULL, *offset = NULL;
	long v = 0;
	size_t i;
	int r = 0;

	if (o->type != JSON_OBJECT)
		return eftab_fail(p, o, "a field must be an object");
	memset(f, 0, sizeof(*f));
	f->scale = 1;
	for (m = o->v.kids.first; m && !r; m = m->next) {
		if (eftab_is(m, "name"))
			r = eftab_str(p, m, "a field's name", f->name, sizeof(f->name));
		else if (eftab_is(m, "unit"))
			r = eftab_str(p, m, "unit", f->unit, sizeof(f->unit));
		else if (eftab_is(m, "offset"))
			offset = m;
		else if (eftab_is(m, "type"))
			type = m;
		else if (eftab_is(m, "size"))
			size = m;
		else if (eftab_is(m, "scale")) {
			if (m->type != JSON_NUMBER || m->v.num.d == 0)
				r = eftab_fail(p, m, "scale must be a number other than 0");
			else
				f->scale = m->v.num.d;
		} else
			r = eftab_fail(p, m, "unknown member \"%.*s\" in a field", (int)m->key_len,
				       m->key);
	}
	if (r)
		return r;
	if (!f->name[0])
		return eftab_fail(p, o, "a field without a name");
	if (!eftab_name_ok(f->name))
		return eftab_fail(p, o, "field name '%s': only A-Z a-z 0-9 _", f->name);
	if (!offset || !type)
		return eftab_fail(p, o, "field '%s' needs an offset and a type", f->name);
	if ((r = eftab_int(p, offset, "offset", 0, 65535, &v)))
		return r;
	f->offset = (uint16_t)v;
	if (type->type != JSON_STRING)
		return eftab_fail(p, type, "type must be a string");
	for (i = 0; i < sizeof(eftab_types) / sizeof(eftab_types[0]); i++)
		if (!strcmp(type->v.str.s, eftab_types[i].name))
			break;
	if (i == sizeof(eftab_types) / sizeof(eftab_types[0]))
		return eftab_fail(
			p, type,
			"unknown type '%s' (u8 i8 u16 i16 u32 i32 f32 ascii version version_rev)",
			type->v.str.s);
	f->type = eftab_types[i].type;
	f->size = eftab_types[i].size;
	if (f->type == EFTAB_ASCII) {
		if (!size)
			return eftab_fail(p, o, "field '%s': an ascii field needs a size", f->name);
		if ((r = eftab_int(p, size, "size", 1, SAMPLE_STR_MAX - 1, &v)))
			return r;
		f->size = (uint16_t)v;
	} else if (size) {
		return eftab_fail(p, size, "size is only for ascii fields");
	}
	if ((size_t)f->offset + f->size > l->len)
		return eftab_fail(p, offset,
				  "field '%s' (%u bytes at %u) lies beyond the record's %u bytes",
				  f->name, f->size, f->offset, l->len);
	for (i = 0; i < l->nfields; i++)
		if (!strcmp(l->fields[i].name, f->name))
			return eftab_fail(p, o, "field '%s' appears twice", f->name);
	return 0;
}

static int eftab_cmd(struct eftab_p *p, const struct json_node *n, struct eftab_layout *l)
{
	unsigned a, b;
	char end;

	if (n->type != JSON_STRING || n->v.str.len != 5 ||
	    sscanf(n->v.str.s, "%2x:%2x%c", &a, &b, &end) != 2 || n->v.str.s[2] != ':')
		return eftab_fail(p, n, "cmd must be \"SS:II\" in hex (cmd_set:cmd_id)");
	l->cmd_set = (uint8_t)a;
	l->cmd_id = (uint8_t)b;
	return 0;
}

static int eftab_record(struct eftab_p *p, const struct json_node *o, struct eftab *t)
{
	const struct json_node *m, *fields = NULL, *cmd = NULL, *len = NULL, *f;
	struct eftab_layout *l = &t->v[t->n];
	size_t i;
	long v = 0;
	int r = 0;

	if (o->type != JSON_OBJECT)
		return eftab_fail(p, o, "a record must be an object");
	memset(l, 0, sizeof(*l));
	l->src = l->dst = -1;
	for (m = o->v.kids.first; m && !r; m = m->next) {
		if (eftab_is(m, "name"))
			r = eftab_str(p, m, "a record's name", l->name, sizeof(l->name));
		else if (eftab_is(m, "src") || eftab_is(m, "dst")) {
			r = eftab_int(p, m, eftab_is(m, "src") ? "src" : "dst", 0, 255, &v);
			*(eftab_is(m, "src") ? &l->src : &l->dst) = (int)v;
		} else if (eftab_is(m, "cmd"))
			cmd = m;
		else if (eftab_is(m, "len"))
			len = m;
		else if (eftab_is(m, "fields"))
			fields = m;
		else if (eftab_is(m, "comment")) {
			if (m->type != JSON_STRING)
				r = eftab_fail(p, m, "a record's comment must be a string");
		} else
			r = eftab_fail(p, m, "unknown member \"%.*s\" in a record", (int)m->key_len,
				       m->key);
	}
	if (r)
		return r;
	if (!cmd || !len || !fields)
		return eftab_fail(p, o, "a record needs cmd, len and fields");
	if ((r = eftab_cmd(p, cmd, l)) || (r = eftab_int(p, len, "len", 1, 4096, &v)))
		return r;
	l->len = (uint16_t)v;
	if (fields->type != JSON_ARRAY || fields->v.kids.n > EFTAB_FIELDS_MAX)
		return eftab_fail(p, fields, "fields must be an array of at most %d fields",
				  EFTAB_FIELDS_MAX);
	for (i = 0; i < t->n; i++) {
		const struct eftab_layout *o2 = &t->v[i];

		if (o2->src == l->src && o2->dst == l->dst && o2->cmd_set == l->cmd_set &&
		    o2->cmd_id == l->cmd_id && o2->len == l->len)
			return eftab_fail(p, o, "a second layout for the same record and length");
	}
	l->fields = calloc(fields->v.kids.n ? fields->v.kids.n : 1, sizeof(*l->fields));
	if (!l->fields)
		return -ENOMEM;
	t->n++; /* owned by t from here: freed with it */
	for (f = fields->v.kids.first; f; f = f->next) {
		r = eftab_field(p, f, l, &l->fields[l->nfields]);
		if (r)
			return r;
		l->nfields++;
	}
	return 0;
}

int eftab_load(const char *name, const char *text, size_t len, struct eftab *t, char *err,
	       size_t errlen)
{
	struct eftab_p p = {name, text, err, errlen};
	const struct json_node *m, *records = NULL, *version = NULL, *o;
	struct json_error je;
	struct json_doc doc;
	int r;

	memset(t, 0, sizeof(*t));
	err[0] = 0;
	r = json_parse(text, len, 1000000, &doc, &je);
	if (r == -ENOMEM)
		return r;
	if (r) {
		snprintf(err, errlen, "%s:%u:%u: %s", name, je.line, je.col, je.msg);
		return -EINVAL;
	}
	if (doc.root->type != JSON_OBJECT) {
		r = eftab_fail(&p, doc.root, "the table must be an object");
		goto out;
	}
	for (m = doc.root->v.kids.first; m; m = m->next) {
		if (eftab_is(m, "powerd_ecoflow_decode"))
			version = m;
		else if (eftab_is(m, "records"))
			records = m;
		else if (!eftab_is(m, "comment")) {
			r = eftab_fail(&p, m, "unknown member \"%.*s\"", (int)m->key_len, m->key);
			goto out;
		}
	}
	if (!version || version->type != JSON_NUMBER || !version->v.num.is_int ||
	    version->v.num.i != 1) {
		r = eftab_fail(&p, version ? version : doc.root,
			       "not a decode table: \"powerd_ecoflow_decode\": 1 is missing");
		goto out;
	}
	if (!records || records->type != JSON_ARRAY || records->v.kids.n > EFTAB_RECORDS_MAX) {
		r = eftab_fail(&p, records ? records : doc.root,
			       "\"records\" must be an array of at most %d records",
			       EFTAB_RECORDS_MAX);
		goto out;
	}
	t->v = calloc(records->v.kids.n ? records->v.kids.n : 1, sizeof(*t->v));
	if (!t->v) {
		r = -ENOMEM;
		goto out;
	}
	for (o = records->v.kids.first; o && !r; o = o->next)
		r = eftab_record(&p, o, t);
out:
	json_free(&doc);
	if (r)
		eftab_free(t);
	return r;
}

void eftab_free(struct eftab *t)
{
	size_t i;

	for (i = 0; i < t->n; i++)
		free(t->v[i].fields);
	free(t->v);
	t->v = NULL;
	t->n = 0;
}

const struct eftab_layout *eftab_find(const struct eftab *t, uint8_t src, uint8_t dst,
				      uint8_t cmd_set, uint8_t cmd_id, size_t len, bool *known)
{
	const struct eftab_layout *hit = NULL;
	size_t i;

	if (known)
		*known = false;
	for (i = 0; i < t->n; i++) {
		const struct eftab_layout *l = &t->v[i];

		if ((l->src >= 0 && l->src != src) || (l->dst >= 0 && l->dst != dst) ||
		    l->cmd_set != cmd_set || l->cmd_id != cmd_id)
			continue;
		if (known)
			*known = true;
		/* The most specific layout wins: one naming src and dst
		 * before one that takes any. */
		if (l->len == len &&
		    (!hit || (hit->src < 0 && l->src >= 0) || (hit->dst < 0 && l->dst >= 0)))
			hit = l;
	}
	return hit;
}

static uint32_t eftab_le(const uint8_t *b, unsigned n)
{
	uint32_t v = 0;

	while (n--)
		v = v << 8 | b[n];
	return v;
}

int eftab_value(const struct eftab_field *f, const uint8_t *payload, size_t len,
		struct eftab_value *v)
{
	const uint8_t *b = payload + f->offset;
	uint32_t u;
	float x;
	size_t n;

	if ((size_t)f->offset + f->size > len)
		return -ERANGE;
	memset(v, 0, sizeof(*v));
	v->type = SAMPLE_INT;
	switch (f->type) {
	case EFTAB_U8:
		v->i = b[0];
		break;
	case EFTAB_I8:
		v->i = (int8_t)b[0];
		break;
	case EFTAB_U16:
		v->i = (uint16_t)eftab_le(b, 2);
		break;
	case EFTAB_I16:
		v->i = (int16_t)eftab_le(b, 2);
		break;
	case EFTAB_U32:
		v->i = eftab_le(b, 4);
		break;
	case EFTAB_I32:
		v->i = (int32_t)eftab_le(b, 4);
		break;
	case EFTAB_F32:
		u = eftab_le(b, 4);
		memcpy(&x, &u, sizeof(x));
		if (!isfinite(x))
			return -EDOM;
		v->type = SAMPLE_FLOAT;
		v->f = (double)x * f->scale;
		return 0;
	case EFTAB_ASCII:
		v->type = SAMPLE_STRING;
		for (n = 0; n < f->size && b[n]; n++)
			v->s[n] = b[n] >= 0x20 && b[n] < 0x7f ? (char)b[n] : '?';
		while (n && v->s[n - 1] == ' ')
			n--;
		v->s[n] = 0;
		return 0;
	case EFTAB_VERSION:
		v->type = SAMPLE_STRING;
		snprintf(v->s, sizeof(v->s), "%u.%u.%u.%u", b[0], b[1], b[2], b[3]);
		return 0;
	case EFTAB_VERSION_REV:
		v->type = SAMPLE_STRING;
		snprintf(v->s, sizeof(v->s), "%u.%u.%u.%u", b[3], b[2], b[1], b[0]);
		return 0;
	}
	if (f->scale != 1) {
		double inv = 1 / f->scale;

		v->type = SAMPLE_FLOAT;
		/* 0.001 has no exact double: 53870 * 0.001 is 53.870000000000005,
		 * 53870 / 1000 is 53.87, what the device meant. */
		if (fabs(f->scale) < 1 && fabs(inv - round(inv)) < 1e-9 * fabs(inv))
			v->f = (double)v->i / round(inv);
		else
			v->f = (double)v->i * f->scale;
	}
	return 0;
}

int eftab_sample(const struct eftab_layout *l, const uint8_t *payload, size_t len, uint8_t src,
		 uint8_t dst, const char *source, int64_t ts_ns, struct sample *s)
{
	struct eftab_value v;
	char a[4], b[4], rec[8];
	size_t i;
	int r = sample_init(s, "ecoflow", ts_ns);

	snprintf(a, sizeof(a), "%02X", src);
	snprintf(b, sizeof(b), "%02X", dst);
	snprintf(rec, sizeof(rec), "%02X:%02X", l->cmd_set, l->cmd_id);
	if (!r && source)
		r = sample_tag(s, "source", source);
	if (!r)
		r = sample_tag(s, "src", a);
	if (!r)
		r = sample_tag(s, "dst", b);
	if (!r)
		r = sample_tag(s, "record", rec);
	for (i = 0; !r && i < l->nfields; i++) {
		if (eftab_value(&l->fields[i], payload, len, &v))
			continue;
		if (v.type == SAMPLE_STRING)
			r = sample_string(s, l->fields[i].name, v.s);
		else if (v.type == SAMPLE_INT)
			r = sample_int(s, l->fields[i].name, v.i);
		else
			r = sample_float(s, l->fields[i].name, v.f);
	}
	return r;
}

int eftab_record_sample(const struct eftab *t, const struct ecoflow_record *r, const char *source,
			struct sample *s, bool *known)
{
	const struct eftab_layout *l;

	if (known)
		*known = false;
	if (!r->crc_ok || r->chan == 'D' || r->chan == 'E')
		return -ENODATA;
	l = eftab_find(t, r->src, r->dst, r->cmd_set, r->cmd_id, r->len, known);
	if (!l)
		return -ENOENT;
	return eftab_sample(l, r->payload, r->len, r->src, r->dst, source, r->ts_ns, s);
}

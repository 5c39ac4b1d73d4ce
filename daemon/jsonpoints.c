/* JSON documents as points (jsonpoints.h).  Each point is assembled in one
 * context: arrays of tags and fields pointing into the JSON tree, plus a
 * scratch area for what has to be written (numbers as tag text, flattened
 * names). */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fmt.h"
#include "jsonpoints.h"

#define JP_SCRATCH  (32u << 10)
#define JP_NAME_MAX 256 /* a flattened name; the sample's own limit is checked by the callback */

struct jp_ctx {
	const struct jp_opts *o;
	jp_point_fn fn;
	void *arg;
	struct jp_error *err;
	size_t record, points;
	struct jp_tag tags[JP_TAGS_MAX];
	struct jp_field fields[JP_FIELDS_MAX];
	size_t ntags, nfields;
	char scratch[JP_SCRATCH];
	size_t used;
	bool text_numbers; /* telegraf: "512.5" is a number, as field and as time */
};

static const char *const jp_names[JP_REASONS] = {
	[JP_OK] = "ok",
	[JP_NOT_JSON] = "not_json",
	[JP_NO_RECORDS] = "no_records",
	[JP_NO_TIME] = "no_time",
	[JP_BAD_TIME] = "bad_time",
	[JP_NO_FIELDS] = "no_fields",
	[JP_BAD_FIELD] = "bad_field",
	[JP_BAD_NAME] = "bad_name",
	[JP_TOO_LARGE] = "too_large",
};

const char *jp_reason_name(enum jp_reason r)
{
	return r < JP_REASONS ? jp_names[r] : "?";
}

static int jp_fail(struct jp_ctx *c, enum jp_reason r, const char *fmt, const char *what)
{
	c->err->reason = r;
	c->err->record = c->record;
	snprintf(c->err->msg, sizeof(c->err->msg), fmt, what ? what : "");
	return -EBADMSG;
}

static char *jp_keep(struct jp_ctx *c, const char *s, size_t n)
{
	char *p;

	if (JP_SCRATCH - c->used < n + 1)
		return NULL;
	p = c->scratch + c->used;
	memcpy(p, s, n);
	p[n] = '\0';
	c->used += n + 1;
	return p;
}

bool jp_list_has(const char *list, const char *name)
{
	size_t n = strlen(name);
	const char *p = list;

	while (p && *p) {
		const char *e = strchr(p, ','), *end = e ? e : p + strlen(p);

		while (p < end && (*p == ' ' || *p == '\t'))
			p++;
		while (end > p && (end[-1] == ' ' || end[-1] == '\t'))
			end--;
		if ((size_t)(end - p) == n && !memcmp(p, name, n))
			return true;
		p = e ? e + 1 : NULL;
	}
	return false;
}

/* A string that is entirely a finite decimal number (sign, digits, a
 * fraction, an exponent: no spaces, no hex, no inf or nan) as a JSON number. */
static bool jp_text_number(const char *s, size_t len, struct json_node *out)
{
	const char *p = s, *end;
	bool digits = false, integral = true;
	double d;

	if (*p == '-' || *p == '+')
		p++;
	while (*p >= '0' && *p <= '9')
		p++, digits = true;
	if (*p == '.') {
		integral = false;
		for (p++; *p >= '0' && *p <= '9'; p++)
			digits = true;
	}
	if (!digits)
		return false;
	if (*p == 'e' || *p == 'E') {
		integral = false;
		p++;
		if (*p == '-' || *p == '+')
			p++;
		if (!(*p >= '0' && *p <= '9'))
			return false;
		while (*p >= '0' && *p <= '9')
			p++;
	}
	if ((size_t)(p - s) != len)
		return false;
	errno = 0;
	d = strtod(s, (char **)&end);
	if (end != p || !isfinite(d))
		return false;
	memset(out, 0, sizeof(*out));
	out->type = JSON_NUMBER;
	out->v.num.d = d;
	out->v.num.integral = integral;
	if (integral && errno != ERANGE) {
		long long i;

		errno = 0;
		i = strtoll(s, NULL, 10);
		if (errno != ERANGE) {
			out->v.num.i = i;
			out->v.num.is_int = true;
		}
	}
	return true;
}

/* A time value as Unix nanoseconds, per time_format. */
static int jp_time(struct jp_ctx *c, const struct json_node *t, int64_t *ns)
{
	struct json_node num;
	double v, scale;

	if (t->type == JSON_STRING && c->text_numbers && c->o->time_format != JP_TIME_RFC3339 &&
	    jp_text_number(t->v.str.s, t->v.str.len, &num))
		t = &num;
	if (t->type == JSON_STRING) {
		if (c->o->time_format != JP_TIME_AUTO && c->o->time_format != JP_TIME_RFC3339)
			return jp_fail(c, JP_BAD_TIME, "a time written as text, not a number: %s",
				       t->v.str.s);
		if (fmt_rfc3339_parse(t->v.str.s, t->v.str.len, ns))
			return jp_fail(c, JP_BAD_TIME, "not an RFC 3339 time: %.80s", t->v.str.s);
		return 0;
	}
	if (t->type != JSON_NUMBER || c->o->time_format == JP_TIME_RFC3339)
		return jp_fail(c, JP_BAD_TIME, "the time is not %s",
			       c->o->time_format == JP_TIME_RFC3339 ? "RFC 3339 text"
								    : "a number or RFC 3339 text");
	switch (c->o->time_format) {
	case JP_TIME_UNIX_MS:
		scale = 1e6;
		break;
	case JP_TIME_UNIX_US:
		scale = 1e3;
		break;
	case JP_TIME_UNIX_NS:
		scale = 1;
		break;
	default:
		scale = 1e9;
		break;
	}
	if (t->v.num.is_int && scale == 1) {
		if (t->v.num.i < 0)
			return jp_fail(c, JP_BAD_TIME, "a time before 1970%s", NULL);
		*ns = t->v.num.i;
		return 0;
	}
	if (t->v.num.is_int && t->v.num.i >= 0 && t->v.num.i <= INT64_MAX / (int64_t)scale) {
		*ns = t->v.num.i * (int64_t)scale;
		return 0;
	}
	v = t->v.num.d;
	if (!(v >= 0) || v * scale >= 9.2e18)
		return jp_fail(c, JP_BAD_TIME, "a time out of range%s", NULL);
	/* Whole units and the fraction apart: 1773507731.25 s must not come
	 * out as ...250000128 ns. */
	{
		double whole = floor(v);

		*ns = (int64_t)whole * (int64_t)scale + (int64_t)llround((v - whole) * scale);
	}
	return 0;
}

/* A scalar as a field; prefix/name written into scratch if flattened. */
static int jp_field(struct jp_ctx *c, const char *name, const struct json_node *v)
{
	struct jp_field *f;

	if (v->type == JSON_NULL)
		return 0; /* no value: nothing to store */
	if (v->type == JSON_ARRAY || v->type == JSON_OBJECT)
		return jp_fail(c, JP_BAD_FIELD, "field %.80s is an array or an object", name);
	if (c->nfields == JP_FIELDS_MAX)
		return jp_fail(c, JP_BAD_NAME, "more than 512 fields in one record%s", NULL);
	f = &c->fields[c->nfields++];
	memset(f, 0, sizeof(*f));
	f->key = name;
	switch (v->type) {
	case JSON_BOOL:
		f->type = JP_BOOL;
		f->b = v->v.b;
		break;
	case JSON_STRING:
		f->type = JP_STRING;
		f->s = v->v.str.s;
		break;
	default:
		if (v->v.num.is_int) {
			f->type = JP_INT;
			f->i = v->v.num.i;
		} else {
			f->type = JP_FLOAT;
			f->f = v->v.num.d;
		}
		break;
	}
	return 0;
}

static int jp_tag(struct jp_ctx *c, const char *key, const struct json_node *v)
{
	char text[FMT_DOUBLE_MAX];
	const char *val;

	switch (v->type) {
	case JSON_STRING:
		val = v->v.str.s;
		break;
	case JSON_BOOL:
		val = v->v.b ? "true" : "false";
		break;
	case JSON_NUMBER:
		if (v->v.num.is_int)
			snprintf(text, sizeof(text), "%" PRId64, v->v.num.i);
		else
			fmt_double(text, sizeof(text), v->v.num.d);
		val = jp_keep(c, text, strlen(text));
		if (!val)
			return jp_fail(c, JP_BAD_NAME, "a record too large%s", NULL);
		break;
	case JSON_NULL:
		return 0;
	default:
		return jp_fail(c, JP_BAD_FIELD, "tag %.80s is an array or an object", key);
	}
	if (c->ntags == JP_TAGS_MAX)
		return jp_fail(c, JP_BAD_NAME, "more than 64 tags in one record%s", NULL);
	c->tags[c->ntags].key = key;
	c->tags[c->ntags].value = val;
	c->ntags++;
	return 0;
}

static int jp_emit(struct jp_ctx *c, const char *measurement, int64_t ts)
{
	struct jp_point p = {.measurement = measurement,
			     .ts_ns = ts,
			     .ntags = c->ntags,
			     .nfields = c->nfields,
			     .tags = c->tags,
			     .fields = c->fields};

	size_t i, j, n;

	if (!measurement[0])
		return jp_fail(c, JP_BAD_NAME, "a point with an empty measurement%s", NULL);
	if (!c->nfields)
		return jp_fail(c, JP_NO_FIELDS, "%.80s has no field with a value", measurement);
	/* The caller's tags win over the document's of the same key. */
	for (i = n = 0; i < c->ntags; i++) {
		for (j = 0; j < c->o->ntags && strcmp(c->tags[i].key, c->o->tags[j].key); j++)
			;
		if (j == c->o->ntags)
			c->tags[n++] = c->tags[i];
	}
	if (n + c->o->ntags > JP_TAGS_MAX)
		return jp_fail(c, JP_BAD_NAME, "more than 64 tags in one record%s", NULL);
	for (j = 0; j < c->o->ntags; j++)
		c->tags[n++] = c->o->tags[j];
	c->ntags = n;
	p.ntags = n;
	c->points++;
	if (c->fn && c->fn(c->arg, &p) < 0)
		return jp_fail(c, JP_BAD_NAME,
			       "%.80s: a name or a value that a sample cannot take (too long, "
			       "empty, or too many)",
			       measurement);
	return 0;
}

/* One InfluxDB-style record. */
static int jp_record(struct jp_ctx *c, const struct json_node *rec)
{
	const char *tkey = c->o->time_key && c->o->time_key[0] ? c->o->time_key : "time";
	const struct json_node *m, *tags, *fields, *t, *k;
	int64_t ts;
	int r;

	c->ntags = c->nfields = 0;
	c->used = 0;
	if (rec->type != JSON_OBJECT)
		return jp_fail(c, JP_NO_RECORDS, "a record that is not an object%s", NULL);
	m = json_get(rec, "measurement");
	if (!m || m->type != JSON_STRING || !m->v.str.len)
		return jp_fail(c, JP_BAD_NAME, "a record without a measurement%s", NULL);
	t = json_get(rec, tkey);
	if (!t)
		return jp_fail(c, JP_NO_TIME, "%.80s has no time", m->v.str.s);
	r = jp_time(c, t, &ts);
	if (r)
		return r;
	tags = json_get(rec, "tags");
	if (tags && tags->type != JSON_OBJECT && tags->type != JSON_NULL)
		return jp_fail(c, JP_BAD_FIELD, "%.80s: its tags are not an object", m->v.str.s);
	for (k = tags && tags->type == JSON_OBJECT ? tags->v.kids.first : NULL; k; k = k->next)
		if ((r = jp_tag(c, k->key, k)))
			return r;
	fields = json_get(rec, "fields");
	if (!fields || fields->type != JSON_OBJECT)
		return jp_fail(c, JP_NO_FIELDS, "%.80s has no fields object", m->v.str.s);
	for (k = fields->v.kids.first; k; k = k->next)
		if ((r = jp_field(c, k->key, k)))
			return r;
	return jp_emit(c, m->v.str.s, ts);
}

static int jp_points(struct jp_ctx *c, const struct json_node *root)
{
	const struct json_node *arr = NULL, *k;
	int r;

	if (root->type == JSON_ARRAY) {
		arr = root;
	} else if (root->type == JSON_OBJECT && json_get(root, "measurement")) {
		return jp_record(c, root);
	} else if (root->type == JSON_OBJECT && root->v.kids.n == 1 &&
		   root->v.kids.first->type == JSON_ARRAY) {
		arr = root->v.kids.first; /* {"telemetry": [...]} */
	}
	if (!arr)
		return jp_fail(c, JP_NO_RECORDS,
			       "expected records: an array, one record, or an object holding an "
			       "array of them%s",
			       NULL);
	for (k = arr->v.kids.first; k; k = k->next, c->record++)
		if ((r = jp_record(c, k)))
			return r;
	return 0;
}

/* The members of obj as fields, nested objects flattened (prefix_name); the
 * time member, if asked for, is taken out. */
static int jp_flat_fields(struct jp_ctx *c, const struct json_node *obj, const char *prefix,
			  int depth, const struct json_node **time)
{
	const struct json_node *k;
	char name[JP_NAME_MAX];
	int r;

	for (k = obj->v.kids.first; k; k = k->next) {
		const char *key = k->key;

		if (!prefix && c->o->time_key && c->o->time_key[0] &&
		    !strcmp(k->key, c->o->time_key)) {
			*time = k;
			continue;
		}
		if (prefix) {
			if (snprintf(name, sizeof(name), "%s_%s", prefix, k->key) >=
			    (int)sizeof(name))
				return jp_fail(c, JP_BAD_NAME, "a flattened name too long: %.80s",
					       prefix);
			key = jp_keep(c, name, strlen(name));
			if (!key)
				return jp_fail(c, JP_BAD_NAME, "a record too large%s", NULL);
		}
		if (k->type == JSON_OBJECT) {
			if (depth >= 8)
				return jp_fail(c, JP_BAD_FIELD,
					       "objects nested too deeply under %.80s", key);
			r = jp_flat_fields(c, k, key, depth + 1, time);
		} else {
			r = jp_field(c, key, k);
		}
		if (r)
			return r;
	}
	return 0;
}

static int jp_flat_one(struct jp_ctx *c, const char *measurement, const struct json_node *obj,
		       const struct json_node *doc_time)
{
	const struct json_node *t = NULL;
	int64_t ts = c->o->default_ns;
	int r;

	c->ntags = c->nfields = 0;
	c->used = 0;
	r = jp_flat_fields(c, obj, NULL, 0, &t);
	if (r)
		return r;
	if (!t)
		t = doc_time;
	if (c->o->time_key && c->o->time_key[0]) {
		if (!t)
			return jp_fail(c, JP_NO_TIME, "%.80s has no time", measurement);
		r = jp_time(c, t, &ts);
		if (r)
			return r;
	}
	return jp_emit(c, measurement, ts);
}

static int jp_flat(struct jp_ctx *c, const struct json_node *root)
{
	const struct json_node *k, *doc_time = NULL;
	bool scalars = false;
	int r;

	if (root->type != JSON_OBJECT)
		return jp_fail(c, JP_NO_RECORDS, "expected an object of objects%s", NULL);
	if (c->o->time_key && c->o->time_key[0])
		doc_time = json_get(root, c->o->time_key);
	for (k = root->v.kids.first; k; k = k->next) {
		if (k == doc_time)
			continue;
		if (k->type != JSON_OBJECT) {
			scalars = true;
			continue;
		}
		if ((r = jp_flat_one(c, k->key, k, doc_time)))
			return r;
		c->record++;
	}
	if (!scalars)
		return c->points ? 0 : jp_fail(c, JP_NO_RECORDS, "an empty object%s", NULL);
	/* The document's own scalars: one more point, named after the source. */
	c->ntags = c->nfields = 0;
	c->used = 0;
	for (k = root->v.kids.first; k; k = k->next)
		if (k != doc_time && k->type != JSON_OBJECT && (r = jp_field(c, k->key, k)))
			return r;
	if (!c->o->name || !c->o->name[0])
		return jp_fail(c, JP_BAD_NAME, "scalars at the top level and no name for them%s",
			       NULL);
	{
		int64_t ts = c->o->default_ns;

		if (c->o->time_key && c->o->time_key[0]) {
			if (!doc_time)
				return jp_fail(c, JP_NO_TIME, "%.80s has no time", c->o->name);
			r = jp_time(c, doc_time, &ts);
			if (r)
				return r;
		}
		return jp_emit(c, c->o->name, ts);
	}
}

/* ------------------------------------------------------------ telegraf */

/* A value under a flattened name: numbers (and numeric text) as floats,
 * strings and booleans only if listed in string_fields. */
static int jp_tg_value(struct jp_ctx *c, const char *name, const struct json_node *v)
{
	struct json_node num;
	struct jp_field *f;

	if (v->type == JSON_NULL)
		return 0;
	if ((v->type == JSON_STRING || v->type == JSON_BOOL) &&
	    jp_list_has(c->o->string_fields, name))
		return jp_field(c, name, v);
	if (v->type == JSON_STRING && jp_text_number(v->v.str.s, v->v.str.len, &num))
		v = &num;
	if (v->type != JSON_NUMBER)
		return 0; /* Telegraf drops it */
	if (c->nfields == JP_FIELDS_MAX)
		return jp_fail(c, JP_BAD_NAME, "more than 512 fields in one record%s", NULL);
	f = &c->fields[c->nfields++];
	memset(f, 0, sizeof(*f));
	f->key = name;
	f->type = JP_FLOAT;
	f->f = v->v.num.d;
	return 0;
}

/* Objects and arrays flattened as Telegraf's JSONFlattener does. */
static int jp_tg_flatten(struct jp_ctx *c, const struct json_node *v, const char *prefix, int depth)
{
	const struct json_node *k;
	char name[JP_NAME_MAX];
	size_t i = 0;
	int r;

	if (v->type != JSON_OBJECT && v->type != JSON_ARRAY)
		return jp_tg_value(c, prefix, v);
	if (depth >= 16)
		return jp_fail(c, JP_BAD_FIELD, "values nested too deeply under %.80s", prefix);
	for (k = v->v.kids.first; k; k = k->next, i++) {
		const char *key;
		int n = v->type == JSON_OBJECT
				? snprintf(name, sizeof(name), "%s_%s", prefix, k->key)
				: snprintf(name, sizeof(name), "%s_%zu", prefix, i);

		if (n >= (int)sizeof(name))
			return jp_fail(c, JP_BAD_NAME, "a flattened name too long: %.80s", prefix);
		key = jp_keep(c, name, (size_t)n);
		if (!key)
			return jp_fail(c, JP_BAD_NAME, "a record too large%s", NULL);
		if ((r = jp_tg_flatten(c, k, key, depth + 1)))
			return r;
	}
	return 0;
}

static int jp_tg_object(struct jp_ctx *c, const struct json_node *obj)
{
	const char *nkey = c->o->name_key, *tkey = c->o->time_key;
	const char *measurement = c->o->name;
	const struct json_node *k, *t = NULL;
	int64_t ts = c->o->default_ns;
	int r;

	c->ntags = c->nfields = 0;
	c->used = 0;
	if (obj->type != JSON_OBJECT)
		return jp_fail(c, JP_NO_RECORDS, "a record that is not an object%s", NULL);
	for (k = obj->v.kids.first; k; k = k->next) {
		if (nkey && nkey[0] && !strcmp(k->key, nkey)) {
			if (k->type == JSON_STRING && k->v.str.len)
				measurement = k->v.str.s;
			continue;
		}
		if (tkey && tkey[0] && !strcmp(k->key, tkey)) {
			t = k;
			continue;
		}
		if (jp_list_has(c->o->tag_keys, k->key)) {
			if (k->type != JSON_OBJECT && k->type != JSON_ARRAY) {
				if ((r = jp_tag(c, k->key, k)))
					return r;
				continue;
			}
		}
		if (k->type == JSON_OBJECT || k->type == JSON_ARRAY)
			r = jp_tg_flatten(c, k, k->key, 1);
		else
			r = jp_tg_value(c, k->key, k);
		if (r)
			return r;
	}
	if (!measurement || !measurement[0])
		return jp_fail(c, JP_BAD_NAME, "no measurement: no name_key member and no name%s",
			       NULL);
	if (t && t->type != JSON_NULL && (r = jp_time(c, t, &ts)))
		return r;
	return jp_emit(c, measurement, ts);
}

static int jp_telegraf(struct jp_ctx *c, const struct json_node *root)
{
	const struct json_node *k;
	int r;

	c->text_numbers = true;
	if (root->type == JSON_OBJECT)
		return jp_tg_object(c, root);
	if (root->type != JSON_ARRAY)
		return jp_fail(c, JP_NO_RECORDS, "expected an object or an array of objects%s",
			       NULL);
	for (k = root->v.kids.first; k; k = k->next, c->record++)
		if ((r = jp_tg_object(c, k)))
			return r;
	return 0;
}

int jp_convert(const struct json_node *root, const struct jp_opts *o, jp_point_fn fn, void *arg,
	       struct jp_error *err)
{
	struct jp_ctx *c = malloc(sizeof(*c));
	int r;

	memset(err, 0, sizeof(*err));
	if (!c)
		return -ENOMEM;
	c->o = o;
	c->fn = fn;
	c->arg = arg;
	c->err = err;
	c->record = c->points = 0;
	c->text_numbers = false;
	r = o->format == JP_FLAT       ? jp_flat(c, root)
	    : o->format == JP_TELEGRAF ? jp_telegraf(c, root)
				       : jp_points(c, root);
	if (!r && !c->points)
		r = jp_fail(c, JP_NO_RECORDS, "no records%s", NULL);
	if (!r)
		r = (int)c->points;
	free(c);
	return r;
}

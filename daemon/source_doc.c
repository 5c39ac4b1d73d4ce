/* A JSON document into a source's samples (source_doc.h): the mapping is
 * jsonpoints', the rest is what every JSON source does the same way. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "powerd.h"
#include "source.h"
#include "source_doc.h"
#include "source_energy.h"

int sdoc_init(struct sdoc *d, struct source *s, const struct cfg_fields *f)
{
	char why[200];
	int i, r = 0;

	memset(d, 0, sizeof(*d));
	d->s = s;
	d->f = f;
	sample_list_init(&d->list);
	for (i = 1; i < JP_REASONS; i++)
		d->r_doc[i] = source_reason(s, jp_reason_name((enum jp_reason)i));
	d->r_invalid = source_reason(s, "invalid");
	if (!f)
		return 0;
	/* The configuration checked these texts: a failure is a bug. */
	if (f->valid[0]) {
		d->has_valid = true;
		r = expr_cond_parse(f->valid, &d->valid, why, sizeof(why));
	}
	if (!r && f->derive[0]) {
		d->r_derive = source_reason(s, "derive");
		r = expr_derives_parse(f->derive, &d->derives, why, sizeof(why));
	}
	if (r) {
		log_err("%s %s: %s", s->ops->kind, s->name, r == -ENOMEM ? "out of memory" : why);
		return r;
	}
	r = senergy_open(&d->energy, s, s->pd->cfg->daemon.state_dir, f->integrate,
			 f->integrate_max_gap);
	s->energy = d->energy;
	return r;
}

void sdoc_free(struct sdoc *d)
{
	sample_list_free(&d->list);
	expr_derives_free(&d->derives);
	if (d->s && d->s->energy == d->energy)
		d->s->energy = NULL;
	senergy_free(d->energy);
	d->energy = NULL;
}

enum jp_time sdoc_time(enum cfg_json_time t)
{
	switch (t) {
	case CFG_JSON_TIME_RFC3339:
		return JP_TIME_RFC3339;
	case CFG_JSON_TIME_UNIX:
		return JP_TIME_UNIX;
	case CFG_JSON_TIME_UNIX_MS:
		return JP_TIME_UNIX_MS;
	case CFG_JSON_TIME_UNIX_US:
		return JP_TIME_UNIX_US;
	case CFG_JSON_TIME_UNIX_NS:
		return JP_TIME_UNIX_NS;
	case CFG_JSON_TIME_AUTO:
		break;
	}
	return JP_TIME_AUTO;
}

static const struct jp_field *sdoc_field(const struct jp_point *p, const char *key)
{
	size_t i;

	for (i = 0; i < p->nfields; i++)
		if (!strcmp(p->fields[i].key, key))
			return &p->fields[i];
	return NULL;
}

static int sdoc_number(const struct jp_field *f, double *v)
{
	switch (f ? f->type : JP_STRING) {
	case JP_FLOAT:
		*v = f->f;
		return 0;
	case JP_INT:
		*v = (double)f->i;
		return 0;
	case JP_BOOL:
		*v = f->b;
		return 0;
	default:
		return -ENOENT;
	}
}

/* A field of the current point: what an earlier derivation made of it, else
 * the document's. */
static int sdoc_lookup(void *arg, const struct expr_ref *r, double *v)
{
	struct sdoc *d = arg;
	size_t k;

	for (k = d->dk; k-- > 0;) {
		const struct expr_ref *t = &d->derives.v[k].target;

		if (!strcmp(t->meas, d->pt->measurement) && !strcmp(t->field, r->field)) {
			if (!d->dok[k])
				return -ENOENT;
			*v = d->dv[k];
			return 0;
		}
	}
	return sdoc_number(sdoc_field(d->pt, r->field), v);
}

/* The first pass: does `valid` hold?  Every point with its field must
 * agree, and one at least must have it. */
static int sdoc_check(void *arg, const struct jp_point *p)
{
	struct sdoc *d = arg;
	const struct jp_field *f;
	double v;
	bool ok;

	if (strcmp(p->measurement, d->valid.ref.meas))
		return 0;
	f = sdoc_field(p, d->valid.ref.field);
	if (!f)
		return 0;
	if (f->type == JP_STRING)
		ok = expr_cond_str(&d->valid, f->s);
	else
		ok = !sdoc_number(f, &v) && expr_cond_num(&d->valid, v);
	d->valid_holds = d->valid_seen ? d->valid_holds && ok : ok;
	d->valid_seen = true;
	return 0;
}

/* Whether the document's field `key` of point p gives way to a computed one. */
static bool sdoc_computed(const struct sdoc *d, const struct jp_point *p, const char *key)
{
	size_t k;

	for (k = 0; k < d->derives.n; k++)
		if (!strcmp(d->derives.v[k].target.meas, p->measurement) &&
		    !strcmp(d->derives.v[k].target.field, key))
			return true;
	for (k = 0; d->energy && k < d->energy->n; k++)
		if (!strcmp(d->energy->spec[k].meas, p->measurement) &&
		    !strcmp(d->energy->spec[k].name, key))
			return true;
	return false;
}

static int sdoc_point(void *arg, const struct jp_point *p)
{
	struct sdoc *d = arg;
	struct sample s;
	size_t i, k;
	int r = sample_init(&s, p->measurement, p->ts_ns);

	d->pt = p;
	for (d->dk = 0; d->dk < d->derives.n; d->dk++) {
		const struct expr_derive *dv = &d->derives.v[d->dk];

		d->dok[d->dk] = false;
		if (strcmp(dv->target.meas, p->measurement))
			continue;
		d->dok[d->dk] = !expr_eval(&dv->e, sdoc_lookup, d, &d->dv[d->dk]);
		if (!d->dok[d->dk])
			source_error(d->s, d->r_derive);
	}
	for (i = 0; !r && i < p->ntags; i++)
		r = sample_tag(&s, p->tags[i].key, p->tags[i].value);
	for (i = 0; !r && i < p->nfields; i++) {
		const struct jp_field *f = &p->fields[i];

		if (sdoc_computed(d, p, f->key))
			continue;
		switch (f->type) {
		case JP_FLOAT:
			r = sample_float(&s, f->key, f->f);
			break;
		case JP_INT:
			r = sample_int(&s, f->key, f->i);
			break;
		case JP_BOOL:
			r = sample_bool(&s, f->key, f->b);
			break;
		case JP_STRING:
			r = sample_string(&s, f->key, f->s);
			break;
		}
	}
	for (k = 0; !r && k < d->derives.n; k++)
		if (d->dok[k])
			r = sample_float(&s, d->derives.v[k].target.field, d->dv[k]);
	for (k = 0; !r && d->energy && k < d->energy->n; k++) {
		const struct integ_spec *sp = &d->energy->spec[k];
		struct expr_ref ref;
		double w, wh;

		if (strcmp(sp->meas, p->measurement))
			continue;
		memcpy(ref.meas, sp->meas, sizeof(ref.meas));
		memcpy(ref.field, sp->field, sizeof(ref.field));
		if (sdoc_lookup(d, &ref, &w))
			continue; /* no power in this sample: nothing to add */
		senergy_add(d->energy, k, p->ts_ns, w, &wh);
		r = sample_float(&s, sp->name, wh);
	}
	if (!r)
		r = sample_list_add_sample(&d->list, &s);
	sample_free(&s);
	if (r)
		d->cb_err = r;
	return r;
}

int sdoc_convert(struct sdoc *d, const struct json_node *root, const struct jp_opts *o,
		 unsigned *reason, char *why, size_t len)
{
	struct jp_error pe;
	int r;

	sample_list_clear(&d->list);
	d->cb_err = 0;
	if (d->has_valid) {
		d->valid_seen = d->valid_holds = false;
		r = jp_convert(root, o, sdoc_check, d, &pe);
		if (r >= 0 && !(d->valid_seen && d->valid_holds)) {
			*reason = d->r_invalid;
			snprintf(why, len, "%s.%s %s", d->valid.ref.meas, d->valid.ref.field,
				 d->valid_seen ? "does not hold the valid value" : "is missing");
			return -ENODATA;
		}
	}
	if (d->energy)
		senergy_begin(d->energy);
	r = jp_convert(root, o, sdoc_point, d, &pe);
	if (r >= 0) {
		if (d->energy)
			senergy_commit(d->energy);
		return (int)d->list.n;
	}
	if (d->cb_err == -ENOMEM) {
		sample_list_clear(&d->list);
		return -ENOMEM;
	}
	*reason = d->r_doc[d->cb_err == -E2BIG || d->cb_err == -ENAMETOOLONG ? JP_TOO_LARGE
									     : pe.reason];
	snprintf(why, len, "%s%s%s", pe.msg, d->cb_err ? ": " : "",
		 d->cb_err ? strerror(-d->cb_err) : "");
	sample_list_clear(&d->list);
	return -EBADMSG;
}

int sdoc_parse(struct sdoc *d, const char *buf, size_t blen, const struct jp_opts *o,
	       unsigned *reason, char *why, size_t len)
{
	struct json_error je;
	struct json_doc doc;
	int r = json_parse(buf, blen, SDOC_NODES_MAX, &doc, &je);

	if (r == -ENOMEM)
		return r;
	if (r) {
		sample_list_clear(&d->list);
		*reason = d->r_doc[je.too_many ? JP_TOO_LARGE : JP_NOT_JSON];
		snprintf(why, len, "%u:%u: %s", je.line, je.col, je.msg);
		return -EBADMSG;
	}
	r = sdoc_convert(d, doc.root, o, reason, why, len);
	json_free(&doc);
	return r;
}

/* A JSON document into a source's samples (source_doc.h): the mapping is
 * jsonpoints', the rest is what every JSON source does the same way. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "source.h"
#include "source_doc.h"

int sdoc_init(struct sdoc *d, struct source *s, const struct cfg_fields *f)
{
	int i;

	memset(d, 0, sizeof(*d));
	d->s = s;
	d->f = f;
	sample_list_init(&d->list);
	for (i = 1; i < JP_REASONS; i++)
		d->r_doc[i] = source_reason(s, jp_reason_name((enum jp_reason)i));
	d->r_invalid = source_reason(s, "invalid");
	return 0;
}

void sdoc_free(struct sdoc *d)
{
	sample_list_free(&d->list);
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

static int sdoc_point(void *arg, const struct jp_point *p)
{
	struct sdoc *d = arg;
	struct sample s;
	size_t i;
	int r = sample_init(&s, p->measurement, p->ts_ns);

	for (i = 0; !r && i < p->ntags; i++)
		r = sample_tag(&s, p->tags[i].key, p->tags[i].value);
	for (i = 0; !r && i < p->nfields; i++) {
		const struct jp_field *f = &p->fields[i];

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
	r = jp_convert(root, o, sdoc_point, d, &pe);
	if (r >= 0)
		return (int)d->list.n;
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

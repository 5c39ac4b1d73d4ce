/* The CloudWatch sink's choice of datums and dimensions (cw_select.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cw_select.h"

static bool cw_name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_' || c == '-' || c == '.';
}

static const char *cw_skip(const char *p)
{
	while (*p == ' ' || *p == '\t')
		p++;
	return p;
}

/* A name at p: [A-Za-z0-9_.-]+, up to a "->" (and with stop_at_dot, a
 * '.': it splits MEASUREMENT.FIELD, so a measurement has none). */
static char *cw_word(const char **pp, bool stop_at_dot)
{
	const char *p = *pp, *s = p;
	char *w;

	while (cw_name_char(*p) && !(stop_at_dot && *p == '.') && !(p[0] == '-' && p[1] == '>'))
		p++;
	if (p == s)
		return NULL;
	w = strndup(s, (size_t)(p - s));
	*pp = p;
	return w;
}

static int cw_fail(char *why, size_t n, const char *fmt, const char *at)
{
	snprintf(why, n, fmt, at);
	return -EINVAL;
}

static int cw_parse_metrics(struct cw_select *sel, const char *p, char *why, size_t n)
{
	size_t cap = 0, i;

	p = cw_skip(p);
	while (*p) {
		struct cw_pick k = {0};
		const char *at = p;
		char buf[CW_NAME_MAX];

		k.measurement = cw_word(&p, true);
		if (!k.measurement || *p != '.')
			return free(k.measurement),
			       cw_fail(why, n, "want MEASUREMENT.FIELD [-> NAME] at '%.40s'", at);
		p++;
		k.field = cw_word(&p, false);
		if (!k.field) {
			free(k.measurement);
			return cw_fail(why, n, "want MEASUREMENT.FIELD [-> NAME] at '%.40s'", at);
		}
		p = cw_skip(p);
		if (p[0] == '-' && p[1] == '>') {
			p = cw_skip(p + 2);
			k.name = cw_word(&p, false);
		} else if (snprintf(buf, sizeof(buf), "%s_%s", k.measurement, k.field) <
			   (int)sizeof(buf)) {
			k.name = strdup(buf);
		}
		if (!k.name || strlen(k.name) >= CW_NAME_MAX) {
			free(k.measurement), free(k.field), free(k.name);
			return cw_fail(
				why, n,
				"want a metric name (at most 255 of A-Z a-z 0-9 _ . -) at '%.40s'",
				at);
		}
		for (i = 0; i < sel->npicks; i++)
			if (!strcmp(sel->picks[i].name, k.name) ||
			    (!strcmp(sel->picks[i].measurement, k.measurement) &&
			     !strcmp(sel->picks[i].field, k.field))) {
				free(k.measurement), free(k.field), free(k.name);
				return cw_fail(why, n, "'%.40s' names a metric or a field twice",
					       at);
			}
		if (sel->npicks == cap) {
			struct cw_pick *v;

			cap = cap ? cap * 2 : 16;
			v = realloc(sel->picks, cap * sizeof(*v));
			if (!v) {
				free(k.measurement), free(k.field), free(k.name);
				return -ENOMEM;
			}
			sel->picks = v;
		}
		sel->picks[sel->npicks++] = k;
		p = cw_skip(p);
		if (*p == ',') {
			p = cw_skip(p + 1);
			if (!*p)
				return cw_fail(why, n, "%s", "a ',' with no metric after it");
		} else if (*p) {
			return cw_fail(why, n, "want ',' between metrics at '%.40s'", p);
		}
	}
	return 0;
}

static int cw_parse_dims(struct cw_select *sel, const char *p, char *why, size_t n)
{
	size_t cap = 0, i;

	p = cw_skip(p);
	if (!*p || !strcmp(p, "all")) {
		sel->dims = CW_DIMS_ALL;
		return 0;
	}
	if (!strcmp(p, "none")) {
		sel->dims = CW_DIMS_NONE;
		return 0;
	}
	sel->dims = CW_DIMS_LIST;
	while (*p) {
		const char *at = p;
		char *w = cw_word(&p, false);

		if (!w)
			return cw_fail(why, n, "want all, none or tag names at '%.40s'", at);
		if (!strcmp(w, "all") || !strcmp(w, "none")) {
			free(w);
			return cw_fail(why, n, "'%.40s': all and none stand alone, not in a list",
				       at);
		}
		for (i = 0; i < sel->ntags; i++)
			if (!strcmp(sel->tags[i], w)) {
				free(w);
				return cw_fail(why, n, "tag '%.40s' named twice", at);
			}
		if (sel->ntags == cap) {
			char **v;

			cap = cap ? cap * 2 : 8;
			v = realloc(sel->tags, cap * sizeof(*v));
			if (!v) {
				free(w);
				return -ENOMEM;
			}
			sel->tags = v;
		}
		sel->tags[sel->ntags++] = w;
		p = cw_skip(p);
		if (*p == ',') {
			p = cw_skip(p + 1);
			if (!*p)
				return cw_fail(why, n, "%s", "a ',' with no tag after it");
		} else if (*p) {
			return cw_fail(why, n, "want ',' between tag names at '%.40s'", p);
		}
	}
	return 0;
}

int cw_select_parse(struct cw_select *sel, const char *metrics, const char *dimensions, char *why,
		    size_t n)
{
	int r;

	memset(sel, 0, sizeof(*sel));
	r = cw_parse_metrics(sel, metrics ? metrics : "", why, n);
	if (!r)
		r = cw_parse_dims(sel, dimensions ? dimensions : "", why, n);
	if (r)
		cw_select_free(sel);
	return r;
}

void cw_select_free(struct cw_select *sel)
{
	size_t i;

	for (i = 0; i < sel->npicks; i++) {
		free(sel->picks[i].measurement);
		free(sel->picks[i].field);
		free(sel->picks[i].name);
	}
	free(sel->picks);
	for (i = 0; i < sel->ntags; i++)
		free(sel->tags[i]);
	free(sel->tags);
	memset(sel, 0, sizeof(*sel));
}

const char *cw_select_name(const struct cw_select *sel, const char *measurement, const char *field,
			   char *buf, size_t n)
{
	size_t i;

	if (!sel->npicks) {
		int k = snprintf(buf, n, "%s_%s", measurement, field);

		return k > 0 && (size_t)k < n && k < CW_NAME_MAX ? buf : NULL;
	}
	for (i = 0; i < sel->npicks; i++)
		if (!strcmp(sel->picks[i].field, field) &&
		    !strcmp(sel->picks[i].measurement, measurement))
			return sel->picks[i].name;
	return NULL;
}

bool cw_select_dim(const struct cw_select *sel, const char *tag)
{
	size_t i;

	if (sel->dims != CW_DIMS_LIST)
		return sel->dims == CW_DIMS_ALL;
	for (i = 0; i < sel->ntags; i++)
		if (!strcmp(sel->tags[i], tag))
			return true;
	return false;
}

/* Small arithmetic over a sample's fields (expr.h): a recursive-descent
 * parser to postfix code, and its evaluator.  Bounded everywhere (code
 * length, nesting), so a hostile configuration cannot exhaust the stack. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "expr.h"

struct expr_p {
	const char *s, *start;
	struct expr *e;
	int depth;
	char *why;
	size_t len;
	bool failed;
};

static void expr_fail(struct expr_p *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void expr_fail(struct expr_p *p, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (p->failed)
		return;
	p->failed = true;
	n = snprintf(p->why, p->len, "at character %d: ", (int)(p->s - p->start) + 1);
	if (n < 0 || (size_t)n >= p->len)
		return;
	va_start(ap, fmt);
	vsnprintf(p->why + n, p->len - (size_t)n, fmt, ap);
	va_end(ap);
}

static void expr_blank(struct expr_p *p)
{
	while (*p->s == ' ' || *p->s == '\t')
		p->s++;
}

static bool expr_ident_start(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
}

static bool expr_ident_char(char c)
{
	return expr_ident_start(c) || (c >= '0' && c <= '9');
}

bool expr_is_ident(const char *s)
{
	if (!expr_ident_start(*s))
		return false;
	while (*++s)
		if (!expr_ident_char(*s))
			return false;
	return true;
}

static bool expr_ident(struct expr_p *p, char *out, const char *what)
{
	size_t n = 0;

	if (!expr_ident_start(*p->s)) {
		expr_fail(p, "expected %s", what);
		return false;
	}
	while (expr_ident_char(p->s[n]))
		n++;
	if (n >= SAMPLE_KEY_MAX) {
		expr_fail(p, "%s longer than %d characters", what, SAMPLE_KEY_MAX - 1);
		return false;
	}
	memcpy(out, p->s, n);
	out[n] = 0;
	p->s += n;
	return true;
}

/* MEAS.FIELD */
static bool expr_ref_parse(struct expr_p *p, struct expr_ref *r)
{
	if (!expr_ident(p, r->meas, "a MEASUREMENT.FIELD name"))
		return false;
	if (*p->s != '.') {
		expr_fail(p, "expected '.' and a field after the measurement '%s'", r->meas);
		return false;
	}
	p->s++;
	return expr_ident(p, r->field, "a field name after '.'");
}

static bool expr_number(struct expr_p *p, double *v)
{
	const char *q = p->s;
	char buf[64], *end;
	size_t n;

	while ((*q >= '0' && *q <= '9') || *q == '.')
		q++;
	if ((*q == 'e' || *q == 'E') &&
	    ((q[1] >= '0' && q[1] <= '9') ||
	     ((q[1] == '+' || q[1] == '-') && q[2] >= '0' && q[2] <= '9'))) {
		q += 2;
		while (*q >= '0' && *q <= '9')
			q++;
	}
	n = (size_t)(q - p->s);
	if (!n || n >= sizeof(buf)) {
		expr_fail(p, "expected a number");
		return false;
	}
	memcpy(buf, p->s, n);
	buf[n] = 0;
	*v = strtod(buf, &end);
	if (*end || !isfinite(*v)) {
		expr_fail(p, "'%s' is not a number", buf);
		return false;
	}
	p->s = q;
	return true;
}

static void expr_emit(struct expr_p *p, unsigned char op, double num, unsigned char ref)
{
	struct expr *e = p->e;

	if (e->n == EXPR_CODE_MAX) {
		expr_fail(p, "the expression is too long (at most %d terms)", EXPR_CODE_MAX);
		return;
	}
	e->code[e->n].op = op;
	e->code[e->n].num = num;
	e->code[e->n].ref = ref;
	e->n++;
}

static void expr_sum(struct expr_p *p);

static void expr_factor(struct expr_p *p)
{
	expr_blank(p);
	if (p->failed)
		return;
	if (++p->depth > EXPR_STACK_MAX) {
		expr_fail(p, "nested too deeply");
		return;
	}
	if (*p->s == '(') {
		p->s++;
		expr_sum(p);
		expr_blank(p);
		if (!p->failed && *p->s != ')')
			expr_fail(p, "expected ')'");
		if (!p->failed)
			p->s++;
	} else if (*p->s == '-') {
		p->s++;
		expr_factor(p);
		expr_emit(p, EXPR_NEG, 0, 0);
	} else if ((*p->s >= '0' && *p->s <= '9') || *p->s == '.') {
		double v;

		if (expr_number(p, &v))
			expr_emit(p, EXPR_NUM, v, 0);
	} else if (expr_ident_start(*p->s)) {
		struct expr *e = p->e;
		struct expr_ref r;

		if (!expr_ref_parse(p, &r))
			return;
		if (e->nrefs == EXPR_CODE_MAX) {
			expr_fail(p, "too many references");
			return;
		}
		e->refs[e->nrefs] = r;
		expr_emit(p, EXPR_REF, 0, (unsigned char)e->nrefs);
		e->nrefs++;
	} else if (*p->s) {
		expr_fail(p, "unexpected '%c'", *p->s);
	} else {
		expr_fail(p, "the expression ends too early");
	}
	p->depth--;
}

static void expr_product(struct expr_p *p)
{
	expr_factor(p);
	for (;;) {
		char c;

		expr_blank(p);
		c = *p->s;
		if (p->failed || (c != '*' && c != '/'))
			return;
		p->s++;
		expr_factor(p);
		expr_emit(p, c == '*' ? EXPR_MUL : EXPR_DIV, 0, 0);
	}
}

static void expr_sum(struct expr_p *p)
{
	if (++p->depth > EXPR_STACK_MAX) {
		expr_fail(p, "nested too deeply");
		return;
	}
	expr_product(p);
	for (;;) {
		char c;

		expr_blank(p);
		c = *p->s;
		if (p->failed || (c != '+' && c != '-'))
			break;
		p->s++;
		expr_product(p);
		expr_emit(p, c == '+' ? EXPR_ADD : EXPR_SUB, 0, 0);
	}
	p->depth--;
}

/* The stack depth the code needs: postfix code from the parser never
 * underflows, but its height is bounded only by the nesting. */
static bool expr_height_ok(const struct expr *e)
{
	unsigned i, h = 0;

	for (i = 0; i < e->n; i++) {
		if (e->code[i].op == EXPR_NUM || e->code[i].op == EXPR_REF) {
			if (++h > EXPR_STACK_MAX)
				return false;
		} else if (e->code[i].op != EXPR_NEG) {
			h--;
		}
	}
	return h == 1;
}

/* One derivation, from p->s up to a ',' or the end. */
static void expr_derive_one(struct expr_p *p, struct expr_derive *d)
{
	unsigned i;

	expr_blank(p);
	if (!expr_ref_parse(p, &d->target))
		return;
	expr_blank(p);
	if (*p->s != '=') {
		expr_fail(p, "expected '=' after %s.%s", d->target.meas, d->target.field);
		return;
	}
	p->s++;
	p->e = &d->e;
	expr_sum(p);
	expr_blank(p);
	if (p->failed)
		return;
	if (*p->s && *p->s != ',') {
		expr_fail(p, "unexpected '%c'", *p->s);
		return;
	}
	if (!expr_height_ok(&d->e)) {
		expr_fail(p, "the expression is nested too deeply");
		return;
	}
	for (i = 0; i < d->e.nrefs; i++)
		if (strcmp(d->e.refs[i].meas, d->target.meas)) {
			expr_fail(p,
				  "%s.%s is not a field of %s: a derivation uses fields of the "
				  "same sample",
				  d->e.refs[i].meas, d->e.refs[i].field, d->target.meas);
			return;
		}
}

int expr_derives_parse(const char *text, struct expr_derives *out, char *why, size_t len)
{
	struct expr_p p = {.s = text, .start = text, .why = why, .len = len};
	struct expr_derive *v = NULL;
	size_t n = 0, i;

	memset(out, 0, sizeof(*out));
	for (;;) {
		struct expr_derive *d;

		if (n == EXPR_DERIVES_MAX) {
			expr_fail(&p, "at most %d derivations", EXPR_DERIVES_MAX);
			break;
		}
		d = realloc(v, (n + 1) * sizeof(*v));
		if (!d) {
			free(v);
			return -ENOMEM;
		}
		v = d;
		memset(&v[n], 0, sizeof(v[n]));
		expr_derive_one(&p, &v[n]);
		if (p.failed)
			break;
		for (i = 0; i < n; i++)
			if (!strcmp(v[i].target.meas, v[n].target.meas) &&
			    !strcmp(v[i].target.field, v[n].target.field))
				expr_fail(&p, "%s.%s is derived twice", v[n].target.meas,
					  v[n].target.field);
		if (p.failed)
			break;
		n++;
		if (!*p.s)
			break;
		p.s++; /* the ',' */
	}
	if (p.failed) {
		free(v);
		return -EINVAL;
	}
	out->v = v;
	out->n = n;
	return 0;
}

void expr_derives_free(struct expr_derives *d)
{
	free(d->v);
	d->v = NULL;
	d->n = 0;
}

int expr_eval(const struct expr *e, expr_lookup_fn fn, void *arg, double *v)
{
	double st[EXPR_STACK_MAX];
	unsigned i, h = 0;
	int r;

	for (i = 0; i < e->n; i++) {
		const struct expr_ins *in = &e->code[i];
		double a, b;

		switch (in->op) {
		case EXPR_NUM:
		case EXPR_REF:
			if (h == EXPR_STACK_MAX)
				return -EDOM; /* not from the parser */
			if (in->op == EXPR_NUM) {
				st[h] = in->num;
			} else {
				r = fn(arg, &e->refs[in->ref], &st[h]);
				if (r)
					return r;
				if (!isfinite(st[h]))
					return -EDOM;
			}
			h++;
			continue;
		case EXPR_NEG:
			if (!h)
				return -EDOM;
			st[h - 1] = -st[h - 1];
			continue;
		default:
			break;
		}
		if (h < 2)
			return -EDOM;
		b = st[--h];
		a = st[h - 1];
		switch (in->op) {
		case EXPR_ADD:
			a += b;
			break;
		case EXPR_SUB:
			a -= b;
			break;
		case EXPR_MUL:
			a *= b;
			break;
		default:
			if (b == 0)
				return -EDOM;
			a /= b;
			break;
		}
		if (!isfinite(a))
			return -EDOM;
		st[h - 1] = a;
	}
	if (h != 1)
		return -EDOM;
	*v = st[0];
	return 0;
}

int expr_cond_parse(const char *text, struct expr_cond *out, char *why, size_t len)
{
	struct expr_p p = {.s = text, .start = text, .why = why, .len = len};
	static const struct {
		const char *op;
		enum expr_cmp cmp;
	} ops[] = {{"==", EXPR_EQ}, {"!=", EXPR_NE}, {"<=", EXPR_LE}, {">=", EXPR_GE},
		   {"=", EXPR_EQ},  {"<", EXPR_LT},  {">", EXPR_GT}};
	size_t i;

	memset(out, 0, sizeof(*out));
	expr_blank(&p);
	if (!expr_ref_parse(&p, &out->ref))
		return -EINVAL;
	expr_blank(&p);
	for (i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
		if (!strncmp(p.s, ops[i].op, strlen(ops[i].op)))
			break;
	if (i == sizeof(ops) / sizeof(ops[0])) {
		expr_fail(&p, "expected one of = != < <= > >= after %s.%s", out->ref.meas,
			  out->ref.field);
		return -EINVAL;
	}
	out->cmp = ops[i].cmp;
	p.s += strlen(ops[i].op);
	expr_blank(&p);
	if (*p.s == '"') {
		const char *q = strchr(p.s + 1, '"');

		if (!q) {
			expr_fail(&p, "the string has no closing '\"'");
			return -EINVAL;
		}
		if ((size_t)(q - p.s - 1) >= SAMPLE_STR_MAX) {
			expr_fail(&p, "the string is longer than %d characters",
				  SAMPLE_STR_MAX - 1);
			return -EINVAL;
		}
		if (out->cmp != EXPR_EQ && out->cmp != EXPR_NE) {
			expr_fail(&p, "a string compares with = or != only");
			return -EINVAL;
		}
		memcpy(out->str, p.s + 1, (size_t)(q - p.s - 1));
		out->is_str = true;
		p.s = q + 1;
	} else {
		bool neg = *p.s == '-';

		if (neg)
			p.s++;
		if (!expr_number(&p, &out->num))
			return -EINVAL;
		if (neg)
			out->num = -out->num;
	}
	expr_blank(&p);
	if (*p.s) {
		expr_fail(&p, "unexpected '%c' after the value", *p.s);
		return -EINVAL;
	}
	return 0;
}

bool expr_cond_num(const struct expr_cond *c, double v)
{
	if (c->is_str)
		return false;
	switch (c->cmp) {
	case EXPR_EQ:
		return v == c->num;
	case EXPR_NE:
		return v != c->num;
	case EXPR_LT:
		return v < c->num;
	case EXPR_LE:
		return v <= c->num;
	case EXPR_GT:
		return v > c->num;
	case EXPR_GE:
		return v >= c->num;
	}
	return false;
}

bool expr_cond_str(const struct expr_cond *c, const char *s)
{
	if (!c->is_str)
		return false;
	return (c->cmp == EXPR_EQ) == !strcmp(s, c->str);
}

/* Small arithmetic over the fields of one sample, for the `derive` and
 * `valid` keys: parsed once at load (errors say where and why), evaluated
 * per sample without allocating.
 *
 *   derive = dc.charge_power = dc.voltage * dc.charge_current,
 *            dc.pv_current = dc.pv_power / dc.pv_voltage
 *   valid  = inverter.valid_info = 1
 *
 * An expression has numbers, MEASUREMENT.FIELD references, + - * /, unary
 * minus and parentheses; names are [A-Za-z_][A-Za-z0-9_]*.  Every reference
 * of one derivation names the measurement of its target: the fields of the
 * same sample.  A condition is REF OP VALUE, OP one of = == != < <= > >=,
 * VALUE a number or a "string" (strings: = and != only). */
#ifndef POWERD_EXPR_H
#define POWERD_EXPR_H

#include <stdbool.h>
#include <stddef.h>

#include "sample.h"

#define EXPR_CODE_MAX	 64 /* instructions of one expression */
#define EXPR_STACK_MAX	 32 /* nesting it may need */
#define EXPR_DERIVES_MAX 32 /* derivations of one source */

struct expr_ref {
	char meas[SAMPLE_KEY_MAX];
	char field[SAMPLE_KEY_MAX];
};

enum expr_op { EXPR_NUM, EXPR_REF, EXPR_ADD, EXPR_SUB, EXPR_MUL, EXPR_DIV, EXPR_NEG };

struct expr_ins {
	unsigned char op;
	unsigned char ref; /* EXPR_REF: index in refs */
	double num;	   /* EXPR_NUM */
};

/* Postfix code: evaluation is one pass over a small stack. */
struct expr {
	struct expr_ins code[EXPR_CODE_MAX];
	unsigned n;
	struct expr_ref refs[EXPR_CODE_MAX];
	unsigned nrefs;
};

struct expr_derive {
	struct expr_ref target;
	struct expr e;
};

struct expr_derives {
	struct expr_derive *v; /* heap: free with expr_derives_free() */
	size_t n;
};

enum expr_cmp { EXPR_EQ, EXPR_NE, EXPR_LT, EXPR_LE, EXPR_GT, EXPR_GE };

struct expr_cond {
	struct expr_ref ref;
	enum expr_cmp cmp;
	bool is_str;
	double num;
	char str[SAMPLE_STR_MAX];
};

/* A comma-separated list of MEAS.NEW = EXPR.  Returns 0, or -EINVAL with
 * why ("derivation 2: ..."), or -ENOMEM. */
/* Whether s is a name an expression can use: [A-Za-z_][A-Za-z0-9_]*
 * (also what the sinks take as it is: Home Assistant's object ids). */
bool expr_is_ident(const char *s);

int expr_derives_parse(const char *text, struct expr_derives *out, char *why, size_t len);
void expr_derives_free(struct expr_derives *d);

/* The value of a reference: 0 and *v, or -ENOENT (absent, or not a number). */
typedef int (*expr_lookup_fn)(void *arg, const struct expr_ref *r, double *v);

/* Returns 0 and *v, -ENOENT when a reference has no value, -EDOM for a
 * division by zero or a result that is not finite (never inf or NaN). */
int expr_eval(const struct expr *e, expr_lookup_fn fn, void *arg, double *v);

int expr_cond_parse(const char *text, struct expr_cond *out, char *why, size_t len);
/* Whether the condition holds for a number, or for a string. */
bool expr_cond_num(const struct expr_cond *c, double v);
bool expr_cond_str(const struct expr_cond *c, const char *s);

#endif

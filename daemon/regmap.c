/* Modbus register maps (regmap.h): the loader is strict, because a typo in
 * a map would otherwise read the wrong registers or scale them wrongly
 * without a word: every mistake is refused with FILE:LINE.  Planning,
 * decoding and encoding work on the loaded map only and never allocate. */
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "expr.h"
#include "regmap.h"

#define REGMAP_TOKENS_MAX 32

enum regmap_dir {
	REGMAP_D_BYTESWAP,
	REGMAP_D_UNIT_ID,
	REGMAP_D_MAXREG,
	REGMAP_D_MAXGAP,
	REGMAP_D_BOUNDARY,
	REGMAP_D_N
};

static const char *const regmap_dir_names[REGMAP_D_N] = {"byteswap", "unit_id", "max_registers",
							 "max_gap", "boundary"};

struct regmap_p {
	const char *name;
	char *err;
	size_t errlen;
	unsigned line;
	unsigned first_value; /* the line of the first value, 0 before it */
	unsigned dir_line[REGMAP_D_N];
	uint8_t unit_id;
	size_t cap, meas_cap, derive_cap;
};

static int regmap_fail(struct regmap_p *p, unsigned line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int regmap_fail(struct regmap_p *p, unsigned line, const char *fmt, ...)
{
	va_list ap;
	int n;

	n = snprintf(p->err, p->errlen, "%s:%u: ", p->name, line);
	if (n >= 0 && (size_t)n < p->errlen) {
		va_start(ap, fmt);
		vsnprintf(p->err + n, p->errlen - (size_t)n, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

static int regmap_name(struct regmap_p *p, const char *tok, const char *what, char *out)
{
	size_t n = strlen(tok);

	if (!n || n >= SAMPLE_KEY_MAX || !expr_is_ident(tok))
		return regmap_fail(p, p->line,
				   "%s '%s': 1 to %d characters of A-Z a-z 0-9 _, not starting "
				   "with a digit",
				   what, tok, SAMPLE_KEY_MAX - 1);
	memcpy(out, tok, n + 1);
	return 0;
}

/* Decimal, or hex after 0x: a leading 0 is not octal here, since a map
 * writer copying "0100" from a manual means one hundred. */
static bool regmap_uint(const char *s, unsigned long max, unsigned long *v)
{
	unsigned long x = 0;
	int base = 10, d, nd = 0;

	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		s += 2;
	}
	for (; *s; s++, nd++) {
		if (*s >= '0' && *s <= '9')
			d = *s - '0';
		else if (base == 16 && *s >= 'a' && *s <= 'f')
			d = *s - 'a' + 10;
		else if (base == 16 && *s >= 'A' && *s <= 'F')
			d = *s - 'A' + 10;
		else
			return false;
		x = x * (unsigned long)base + (unsigned long)d;
		if (x > max)
			return false;
	}
	if (!nd)
		return false;
	*v = x;
	return true;
}

/* A plain decimal number: strtod alone would also take inf, nan and hex
 * floats, none of which a map means. */
static bool regmap_num(const char *s, double *v)
{
	const char *q;
	char *end;

	if (!*s)
		return false;
	for (q = s; *q; q++)
		if (!((*q >= '0' && *q <= '9') || *q == '.' || *q == '-' || *q == '+' ||
		      *q == 'e' || *q == 'E'))
			return false;
	*v = strtod(s, &end);
	return !*end && isfinite(*v);
}

static const struct {
	const char *name;
	enum regmap_type type;
	uint16_t count;
} regmap_types[] = {
	{"u16", REGMAP_U16, 1}, {"i16", REGMAP_I16, 1}, {"u32", REGMAP_U32, 2},
	{"i32", REGMAP_I32, 2}, {"f32", REGMAP_F32, 2}, {"u8", REGMAP_U8, 1},
	{"i8", REGMAP_I8, 1},	{"bit", REGMAP_BIT, 1}, {"ascii", REGMAP_ASCII, 0},
};

#define REGMAP_NTYPES (sizeof(regmap_types) / sizeof(regmap_types[0]))

static const char *const regmap_order_names[] = {"ab", "ba", "abcd", "cdab", "badc", "dcba"};

const char *regmap_type_name(enum regmap_type t)
{
	size_t i;

	for (i = 0; i < REGMAP_NTYPES; i++)
		if (regmap_types[i].type == t)
			return regmap_types[i].name;
	return "?";
}

const char *regmap_table_name(enum regmap_table t)
{
	return t == REGMAP_INPUT ? "input" : "holding";
}

/* The raw integers a type holds. */
static void regmap_raw_range(const struct regmap_value *v, double *lo, double *hi)
{
	switch (v->type) {
	case REGMAP_U16:
		*lo = 0, *hi = 65535;
		break;
	case REGMAP_I16:
		*lo = -32768, *hi = 32767;
		break;
	case REGMAP_U32:
		*lo = 0, *hi = 4294967295.0;
		break;
	case REGMAP_I32:
		*lo = -2147483648.0, *hi = 2147483647;
		break;
	case REGMAP_U8:
		*lo = 0, *hi = 255;
		break;
	case REGMAP_I8:
		*lo = -128, *hi = 127;
		break;
	case REGMAP_BIT:
		*lo = 0, *hi = (double)((1u << v->width) - 1);
		break;
	case REGMAP_F32:
		*lo = -FLT_MAX, *hi = FLT_MAX;
		break;
	case REGMAP_ASCII:
		*lo = *hi = 0;
		break;
	}
}

/* 1/scale when it is a whole number (0.1, 0.01, 0.001 have no exact
 * double: 2305 * 0.1 is 230.50000000000003, 2305 / 10 is 230.5, what the
 * device meant), else 0. */
static double regmap_divisor(double scale)
{
	double inv = 1 / scale;

	if (fabs(scale) < 1 && fabs(inv - round(inv)) < 1e-9 * fabs(inv))
		return round(inv);
	return 0;
}

static double regmap_phys(const struct regmap_value *v, double raw)
{
	double d = regmap_divisor(v->scale);

	return (d != 0 ? raw / d : raw * v->scale) + v->offset;
}

static double regmap_unphys(const struct regmap_value *v, double x)
{
	double d = regmap_divisor(v->scale);

	return d != 0 ? (x - v->offset) * d : (x - v->offset) / v->scale;
}

/* The order option: which orders a type takes. */
static int regmap_order(struct regmap_p *p, struct regmap_value *v, const char *s)
{
	size_t i;

	for (i = 0; i < sizeof(regmap_order_names) / sizeof(regmap_order_names[0]); i++)
		if (!strcmp(s, regmap_order_names[i]))
			break;
	if (i == sizeof(regmap_order_names) / sizeof(regmap_order_names[0]))
		return regmap_fail(p, p->line, "unknown order '%s' (ab ba abcd cdab badc dcba)", s);
	v->order = (enum regmap_order)i;
	if (v->count == 2 && v->type != REGMAP_ASCII) {
		if (v->order < REGMAP_ABCD)
			return regmap_fail(p, p->line,
					   "order=%s is for one register: %s '%s' takes abcd, "
					   "cdab, badc or dcba",
					   s, regmap_type_name(v->type), v->name);
	} else if (v->type == REGMAP_U16 || v->type == REGMAP_I16 || v->type == REGMAP_ASCII) {
		if (v->order > REGMAP_BA)
			return regmap_fail(p, p->line,
					   "order=%s is for two registers: %s '%s' takes ab or ba",
					   s, regmap_type_name(v->type), v->name);
	} else {
		return regmap_fail(p, p->line,
				   "%s '%s' takes no order (it names bits of the register; "
				   "byteswap applies)",
				   regmap_type_name(v->type), v->name);
	}
	return 0;
}

enum {
	REGMAP_O_SCALE,
	REGMAP_O_OFFSET,
	REGMAP_O_UNIT,
	REGMAP_O_ORDER,
	REGMAP_O_BIT,
	REGMAP_O_WIDTH,
	REGMAP_O_BYTE,
	REGMAP_O_COUNT,
	REGMAP_O_WRITABLE,
	REGMAP_O_MIN,
	REGMAP_O_MAX,
	REGMAP_O_UNIT_ID,
	REGMAP_O_N
};

static const char *const regmap_opt_names[REGMAP_O_N] = {"scale",    "offset", "unit", "order",
							 "bit",	     "width",  "byte", "count",
							 "writable", "min",    "max",  "unit_id"};

/* The options of one value, type and name known.  Order depends on count
 * (ascii), so it is applied after the others. */
static int regmap_options(struct regmap_p *p, struct regmap_value *v, char **tok, size_t ntok)
{
	const char *val[REGMAP_O_N] = {0};
	unsigned long u;
	size_t i, k;
	int r;

	for (i = 0; i < ntok; i++) {
		char *eq = strchr(tok[i], '=');

		if (eq)
			*eq = 0;
		for (k = 0; k < REGMAP_O_N; k++)
			if (!strcmp(tok[i], regmap_opt_names[k]))
				break;
		if (k == REGMAP_O_N)
			return regmap_fail(p, p->line,
					   "unknown option '%s' (scale offset unit order bit width "
					   "byte count writable min max unit_id)",
					   tok[i]);
		if (val[k])
			return regmap_fail(p, p->line, "%s given twice for '%s'", tok[i], v->name);
		if (k == REGMAP_O_WRITABLE && eq)
			return regmap_fail(p, p->line, "writable takes no value");
		if (k != REGMAP_O_WRITABLE && !eq)
			return regmap_fail(p, p->line, "%s needs a value: %s=...", tok[i], tok[i]);
		val[k] = eq ? eq + 1 : "";
		if (eq && !eq[1])
			return regmap_fail(p, p->line, "%s= without a value", tok[i]);
	}
	if (val[REGMAP_O_SCALE] && (!regmap_num(val[REGMAP_O_SCALE], &v->scale) || v->scale == 0))
		return regmap_fail(p, p->line, "scale=%s: a number other than 0",
				   val[REGMAP_O_SCALE]);
	if (val[REGMAP_O_OFFSET] && !regmap_num(val[REGMAP_O_OFFSET], &v->offset))
		return regmap_fail(p, p->line, "offset=%s: not a number", val[REGMAP_O_OFFSET]);
	if (v->type == REGMAP_ASCII && (val[REGMAP_O_SCALE] || val[REGMAP_O_OFFSET]))
		return regmap_fail(p, p->line, "ascii '%s' takes no scale or offset", v->name);
	if (val[REGMAP_O_UNIT]) {
		const char *s = val[REGMAP_O_UNIT];

		if (strlen(s) >= sizeof(v->unit))
			return regmap_fail(p, p->line, "unit=%s: at most %d characters", s,
					   REGMAP_UNIT_MAX - 1);
		for (i = 0; s[i]; i++)
			if (s[i] < 0x21 || s[i] > 0x7e)
				return regmap_fail(p, p->line, "unit=%s: printable ASCII only", s);
		memcpy(v->unit, s, strlen(s) + 1);
	}
	if (val[REGMAP_O_COUNT]) {
		if (v->type != REGMAP_ASCII)
			return regmap_fail(p, p->line, "count is for ascii values, not %s '%s'",
					   regmap_type_name(v->type), v->name);
		if (!regmap_uint(val[REGMAP_O_COUNT], 65535, &u) || u < 1 || u > REGMAP_ASCII_MAX)
			return regmap_fail(p, p->line,
					   "count=%s: an ascii value spans 1 to %d registers",
					   val[REGMAP_O_COUNT], REGMAP_ASCII_MAX);
		v->count = (uint16_t)u;
	} else if (v->type == REGMAP_ASCII) {
		return regmap_fail(p, p->line, "ascii '%s' needs count=N (its registers)", v->name);
	}
	if (v->type == REGMAP_BIT) {
		if (!val[REGMAP_O_BIT])
			return regmap_fail(p, p->line, "bit '%s' needs bit=N (0-15)", v->name);
		if (!regmap_uint(val[REGMAP_O_BIT], 15, &u))
			return regmap_fail(p, p->line, "bit=%s: 0 to 15", val[REGMAP_O_BIT]);
		v->bit = (uint8_t)u;
		v->width = 1;
		if (val[REGMAP_O_WIDTH]) {
			if (!regmap_uint(val[REGMAP_O_WIDTH], 16, &u) || !u || v->bit + u > 16)
				return regmap_fail(p, p->line,
						   "width=%s: 1 to %d bits from bit %u of a "
						   "16-bit register",
						   val[REGMAP_O_WIDTH], 16 - v->bit, v->bit);
			v->width = (uint8_t)u;
		}
	} else if (val[REGMAP_O_BIT] || val[REGMAP_O_WIDTH]) {
		return regmap_fail(p, p->line, "bit and width are for bit values, not %s '%s'",
				   regmap_type_name(v->type), v->name);
	}
	if (v->type == REGMAP_U8 || v->type == REGMAP_I8) {
		const char *s = val[REGMAP_O_BYTE];

		if (!s || (strcmp(s, "hi") && strcmp(s, "lo")))
			return regmap_fail(p, p->line, "%s '%s' needs byte=hi or byte=lo",
					   regmap_type_name(v->type), v->name);
		v->bit = s[0] == 'h' ? 8 : 0;
		v->width = 8;
	} else if (val[REGMAP_O_BYTE]) {
		return regmap_fail(p, p->line, "byte is for u8 and i8 values, not %s '%s'",
				   regmap_type_name(v->type), v->name);
	}
	if (val[REGMAP_O_ORDER] && (r = regmap_order(p, v, val[REGMAP_O_ORDER])))
		return r;
	if (!val[REGMAP_O_ORDER])
		v->order = v->count == 2 && v->type != REGMAP_ASCII ? REGMAP_ABCD : REGMAP_AB;
	if (val[REGMAP_O_UNIT_ID]) {
		if (!regmap_uint(val[REGMAP_O_UNIT_ID], 255, &u))
			return regmap_fail(p, p->line, "unit_id=%s: 0 to 255",
					   val[REGMAP_O_UNIT_ID]);
		v->unit_id = (uint8_t)u;
	}
	v->writable = val[REGMAP_O_WRITABLE] != NULL;
	if (v->writable && v->table == REGMAP_INPUT)
		return regmap_fail(p, p->line,
				   "'%s' is an input register: Modbus has no write for those",
				   v->name);
	if (v->writable && v->type == REGMAP_ASCII)
		return regmap_fail(p, p->line, "ascii '%s' cannot be writable", v->name);
	if ((val[REGMAP_O_MIN] || val[REGMAP_O_MAX]) && !v->writable)
		return regmap_fail(p, p->line,
				   "min and max are the range of a write: '%s' is "
				   "not writable",
				   v->name);
	if (val[REGMAP_O_MIN]) {
		if (!regmap_num(val[REGMAP_O_MIN], &v->min))
			return regmap_fail(p, p->line, "min=%s: not a number", val[REGMAP_O_MIN]);
		v->has_min = true;
	}
	if (val[REGMAP_O_MAX]) {
		if (!regmap_num(val[REGMAP_O_MAX], &v->max))
			return regmap_fail(p, p->line, "max=%s: not a number", val[REGMAP_O_MAX]);
		v->has_max = true;
	}
	if (v->has_min && v->has_max && v->min > v->max)
		return regmap_fail(p, p->line, "min=%g is above max=%g", v->min, v->max);
	if (v->writable) {
		double lo, hi, plo, phi, t;

		regmap_raw_range(v, &lo, &hi);
		plo = regmap_phys(v, lo);
		phi = regmap_phys(v, hi);
		if (plo > phi)
			t = plo, plo = phi, phi = t;
		if (v->has_min && v->min < plo - 1e-9 * fmax(1, fabs(plo)))
			return regmap_fail(p, p->line, "min=%g: %s '%s' holds %g to %g", v->min,
					   regmap_type_name(v->type), v->name, plo, phi);
		if (v->has_max && v->max > phi + 1e-9 * fmax(1, fabs(phi)))
			return regmap_fail(p, p->line, "max=%g: %s '%s' holds %g to %g", v->max,
					   regmap_type_name(v->type), v->name, plo, phi);
	}
	return 0;
}

static int regmap_meas(struct regmap_p *p, struct regmap *m, const char *tok, size_t *mi)
{
	size_t i;
	int r;

	for (i = 0; i < m->nmeas; i++)
		if (!strcmp(m->meas[i], tok)) {
			*mi = i;
			return 0;
		}
	if (m->nmeas == p->meas_cap) {
		size_t cap = p->meas_cap ? 2 * p->meas_cap : 8;
		char(*nv)[SAMPLE_KEY_MAX] = realloc(m->meas, cap * sizeof(*m->meas));

		if (!nv)
			return -ENOMEM;
		m->meas = nv;
		p->meas_cap = cap;
	}
	if ((r = regmap_name(p, tok, "measurement", m->meas[m->nmeas])))
		return r;
	*mi = m->nmeas++;
	return 0;
}

/* Two values of one unit and table that share registers: fine when one lies
 * within the other (a word and its bits, a u32 and its low word, two views
 * of the same registers), refused when they overlap in part. */
static int regmap_overlap(struct regmap_p *p, const struct regmap *m, const struct regmap_value *v)
{
	uint32_t a0 = v->address, a1 = a0 + v->count;
	size_t i;

	if (v->count == 1)
		return 0; /* one register overlaps only by lying within */
	for (i = 0; i < m->n; i++) {
		const struct regmap_value *o = &m->v[i];
		uint32_t b0 = o->address, b1 = b0 + o->count;

		if (o->unit_id != v->unit_id || o->table != v->table || b1 <= a0 || a1 <= b0)
			continue;
		if ((a0 <= b0 && b1 <= a1) || (b0 <= a0 && a1 <= b1))
			continue;
		return regmap_fail(p, p->line,
				   "'%s' (%s %u-%u) overlaps '%s' (line %u, %u-%u) only in part: "
				   "an address off by one?",
				   v->name, regmap_table_name(v->table), a0, a1 - 1, o->name,
				   o->line, b0, b1 - 1);
	}
	return 0;
}

/* NAME MEASUREMENT TABLE ADDRESS TYPE [OPTION...] */
static int regmap_value_line(struct regmap_p *p, struct regmap *m, char **tok, size_t ntok)
{
	struct regmap_value *v;
	unsigned long u;
	size_t i, same = 0;
	int r;

	if (ntok < 5)
		return regmap_fail(p, p->line,
				   "a value is NAME MEASUREMENT TABLE ADDRESS TYPE [OPTION...]");
	if (m->n == REGMAP_VALUES_MAX)
		return regmap_fail(p, p->line, "more than %d values", REGMAP_VALUES_MAX);
	if (m->n == p->cap) {
		size_t cap = p->cap ? 2 * p->cap : 32;
		struct regmap_value *nv = realloc(m->v, cap * sizeof(*m->v));

		if (!nv)
			return -ENOMEM;
		m->v = nv;
		p->cap = cap;
	}
	v = &m->v[m->n];
	memset(v, 0, sizeof(*v));
	v->scale = 1;
	v->line = p->line;
	v->unit_id = p->unit_id;
	if ((r = regmap_name(p, tok[0], "value name", v->name)) ||
	    (r = regmap_meas(p, m, tok[1], &v->meas)))
		return r;
	if (!strcmp(tok[2], "holding"))
		v->table = REGMAP_HOLDING;
	else if (!strcmp(tok[2], "input"))
		v->table = REGMAP_INPUT;
	else
		return regmap_fail(p, p->line, "unknown table '%s' (holding or input)", tok[2]);
	if (!regmap_uint(tok[3], 65535, &u))
		return regmap_fail(p, p->line, "address '%s': a number from 0 to 65535 (or 0x hex)",
				   tok[3]);
	v->address = (uint16_t)u;
	for (i = 0; i < REGMAP_NTYPES; i++)
		if (!strcmp(tok[4], regmap_types[i].name))
			break;
	if (i == REGMAP_NTYPES)
		return regmap_fail(p, p->line,
				   "unknown type '%s' (u16 i16 u32 i32 f32 u8 i8 bit ascii)",
				   tok[4]);
	v->type = regmap_types[i].type;
	v->count = regmap_types[i].count;
	if ((r = regmap_options(p, v, tok + 5, ntok - 5)))
		return r;
	if ((uint32_t)v->address + v->count > 65536)
		return regmap_fail(p, p->line,
				   "'%s' (%u registers from %u) runs past address 65535", v->name,
				   v->count, v->address);
	if (v->count > m->max_registers)
		return regmap_fail(p, p->line,
				   "'%s' spans %u registers, more than one read takes "
				   "(max_registers = %u)",
				   v->name, v->count, m->max_registers);
	if (m->boundary && v->address / m->boundary != (v->address + v->count - 1u) / m->boundary)
		return regmap_fail(p, p->line,
				   "'%s' (%u-%u) crosses a multiple of %u, which no read may "
				   "(boundary)",
				   v->name, v->address, v->address + v->count - 1u, m->boundary);
	for (i = 0; i < m->n; i++) {
		if (m->v[i].meas != v->meas)
			continue;
		same++;
		if (!strcmp(m->v[i].name, v->name))
			return regmap_fail(p, p->line, "'%s' is in %s twice (first on line %u)",
					   v->name, m->meas[v->meas], m->v[i].line);
	}
	if (same == SAMPLE_MAX_FIELDS)
		return regmap_fail(p, p->line, "more than %d values in %s (a sample's fields)",
				   SAMPLE_MAX_FIELDS, m->meas[v->meas]);
	if ((r = regmap_overlap(p, m, v)))
		return r;
	if (!p->first_value)
		p->first_value = p->line;
	m->n++;
	return 0;
}

/* KEY = VALUE, before the first value. */
static int regmap_directive(struct regmap_p *p, struct regmap *m, char *s)
{
	char *eq = strchr(s, '='), *key = s, *val = eq + 1, *e;
	unsigned long u;
	size_t k;

	*eq = 0;
	while (*key == ' ' || *key == '\t' || *key == '\r')
		key++;
	for (e = eq; e > key && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r');)
		*--e = 0;
	while (*val == ' ' || *val == '\t' || *val == '\r')
		val++;
	for (e = val + strlen(val); e > val && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r');)
		*--e = 0;
	for (k = 0; k < REGMAP_D_N; k++)
		if (!strcmp(key, regmap_dir_names[k]))
			break;
	if (k == REGMAP_D_N)
		return regmap_fail(p, p->line,
				   "unknown setting '%s' (byteswap unit_id max_registers max_gap "
				   "boundary)",
				   key);
	if (p->first_value)
		return regmap_fail(p, p->line, "%s: settings come before the first value (line %u)",
				   key, p->first_value);
	if (m->nreads)
		return regmap_fail(p, p->line, "%s: settings come before the read lines", key);
	if (p->dir_line[k])
		return regmap_fail(p, p->line, "%s set twice (first on line %u)", key,
				   p->dir_line[k]);
	p->dir_line[k] = p->line;
	switch (k) {
	case REGMAP_D_BYTESWAP:
		if (strcmp(val, "yes") && strcmp(val, "no"))
			return regmap_fail(p, p->line, "byteswap = yes or no, not '%s'", val);
		m->byteswap = val[0] == 'y';
		return 0;
	case REGMAP_D_UNIT_ID:
		if (!regmap_uint(val, 255, &u))
			return regmap_fail(p, p->line, "unit_id = 0 to 255, not '%s'", val);
		p->unit_id = (uint8_t)u;
		return 0;
	case REGMAP_D_MAXREG:
		if (!regmap_uint(val, REGMAP_MAX_REGISTERS, &u) || !u)
			return regmap_fail(p, p->line, "max_registers = 1 to %d, not '%s'",
					   REGMAP_MAX_REGISTERS, val);
		m->max_registers = (uint16_t)u;
		return 0;
	case REGMAP_D_MAXGAP:
		if (!regmap_uint(val, REGMAP_MAX_REGISTERS - 1, &u))
			return regmap_fail(p, p->line, "max_gap = 0 to %d, not '%s'",
					   REGMAP_MAX_REGISTERS - 1, val);
		m->max_gap = (uint16_t)u;
		return 0;
	default:
		if (!regmap_uint(val, 65535, &u))
			return regmap_fail(p, p->line, "boundary = 0 (none) to 65535, not '%s'",
					   val);
		m->boundary = (uint16_t)u;
		return 0;
	}
}

/* derive MEAS.NEW = EXPR[, ...]: the expression module parses, this checks
 * what it cannot know (the names the map has) at the end. */
static int regmap_derive_line(struct regmap_p *p, struct regmap *m, const char *line,
			      const char *text)
{
	struct expr_derives d;
	char why[160];
	size_t i;
	int r = expr_derives_parse(text, &d, why, sizeof(why)), col, k = 0;

	if (r == -ENOMEM)
		return r;
	/* The parser counts from the expression; a map writer counts from
	 * the line's start. */
	if (r && sscanf(why, "at character %d: %n", &col, &k) == 1 && k)
		return regmap_fail(p, p->line, "derive, column %d: %s", col + (int)(text - line),
				   why + k);
	if (r)
		return regmap_fail(p, p->line, "derive: %s", why);
	if (m->nderive + d.n > REGMAP_DERIVES_MAX) {
		expr_derives_free(&d);
		return regmap_fail(p, p->line, "more than %d derivations", REGMAP_DERIVES_MAX);
	}
	if (m->nderive + d.n > p->derive_cap) {
		/* A derivation is some 5 KiB (its code and references): grown
		 * as needed, not sized for the most a map may have. */
		size_t cap = m->nderive + d.n + 4;
		struct regmap_derive *nv;

		if (cap > REGMAP_DERIVES_MAX)
			cap = REGMAP_DERIVES_MAX;
		nv = realloc(m->derive, cap * sizeof(*nv));
		if (!nv) {
			expr_derives_free(&d);
			return -ENOMEM;
		}
		m->derive = nv;
		p->derive_cap = cap;
	}
	for (i = 0; i < d.n; i++) {
		struct regmap_derive *x = &m->derive[m->nderive++];

		x->d = d.v[i];
		x->line = p->line;
		x->meas = 0;
	}
	expr_derives_free(&d);
	return 0;
}

static size_t regmap_meas_index(const struct regmap *m, const char *name)
{
	size_t i;

	for (i = 0; i < m->nmeas; i++)
		if (!strcmp(m->meas[i], name))
			return i;
	return (size_t)-1;
}

static const struct regmap_value *regmap_value_in(const struct regmap *m, size_t mi,
						  const char *name)
{
	size_t i;

	for (i = 0; i < m->n; i++)
		if (m->v[i].meas == mi && !strcmp(m->v[i].name, name))
			return &m->v[i];
	return NULL;
}

/* Every derivation names a measurement of the map, a new field, and
 * values or earlier derivations of it only. */
static int regmap_derive_check(struct regmap_p *p, struct regmap *m)
{
	size_t k, j, i, nfields;

	for (k = 0; k < m->nderive; k++) {
		struct regmap_derive *x = &m->derive[k];
		const struct expr_ref *t = &x->d.target;

		x->meas = regmap_meas_index(m, t->meas);
		if (x->meas == (size_t)-1)
			return regmap_fail(p, x->line, "derive %s.%s: the map has no values in %s",
					   t->meas, t->field, t->meas);
		if (regmap_value_in(m, x->meas, t->field))
			return regmap_fail(p, x->line, "derive %s.%s: %s is a value already",
					   t->meas, t->field, t->field);
		nfields = 0;
		for (i = 0; i < m->n; i++)
			nfields += m->v[i].meas == x->meas;
		for (j = 0; j < k; j++) {
			if (m->derive[j].meas != x->meas)
				continue;
			nfields++;
			if (!strcmp(m->derive[j].d.target.field, t->field))
				return regmap_fail(p, x->line,
						   "derive %s.%s: derived already on line %u",
						   t->meas, t->field, m->derive[j].line);
		}
		if (nfields >= SAMPLE_MAX_FIELDS)
			return regmap_fail(p, x->line,
					   "derive %s.%s: more than %d fields in %s (a sample's)",
					   t->meas, t->field, SAMPLE_MAX_FIELDS, t->meas);
		for (i = 0; i < x->d.e.nrefs; i++) {
			const char *f = x->d.e.refs[i].field;
			const struct regmap_value *v = regmap_value_in(m, x->meas, f);
			bool earlier = false;

			for (j = 0; j < k && !earlier; j++)
				earlier = m->derive[j].meas == x->meas &&
					  !strcmp(m->derive[j].d.target.field, f);
			if (!v && !earlier)
				return regmap_fail(p, x->line,
						   "derive %s.%s: %s has no value or earlier "
						   "derivation named %s",
						   t->meas, t->field, t->meas, f);
			if (v && v->type == REGMAP_ASCII)
				return regmap_fail(p, x->line,
						   "derive %s.%s: %s.%s is ascii, not a number",
						   t->meas, t->field, t->meas, f);
		}
	}
	return 0;
}

/* The plan's order: unit, table, address, then the longer first, so that
 * a value lying within another comes after it. */
static bool regmap_before(const struct regmap_value *a, const struct regmap_value *b)
{
	if (a->unit_id != b->unit_id)
		return a->unit_id < b->unit_id;
	if (a->table != b->table)
		return a->table < b->table;
	if (a->address != b->address)
		return a->address < b->address;
	return a->count > b->count;
}

static int regmap_sort(struct regmap *m)
{
	size_t i, j;

	m->sorted = malloc((m->n ? m->n : 1) * sizeof(*m->sorted));
	if (!m->sorted)
		return -ENOMEM;
	/* Insertion sort: at most REGMAP_VALUES_MAX, mostly in order already. */
	for (i = 0; i < m->n; i++) {
		size_t x = i;

		for (j = i; j > 0 && regmap_before(&m->v[x], &m->v[m->sorted[j - 1]]); j--)
			m->sorted[j] = m->sorted[j - 1];
		m->sorted[j] = x;
	}
	return 0;
}

/* Splits a line into tokens at blanks and commas. */
static size_t regmap_split(char *s, char **tok, size_t max)
{
	size_t n = 0;

	for (;;) {
		while (*s == ' ' || *s == '\t' || *s == '\r' || *s == ',')
			*s++ = 0;
		if (!*s)
			return n;
		if (n == max)
			return max + 1;
		tok[n++] = s;
		while (*s && *s != ' ' && *s != '\t' && *s != '\r' && *s != ',')
			s++;
	}
}

/* read holding|input START COUNT: a block read as it is, with the unit
 * set at that point. */
static int regmap_read_line(struct regmap_p *p, struct regmap *m, char **tok)
{
	struct regmap_request q = {.unit_id = p->unit_id};
	unsigned long a, c;
	size_t i;

	if (!strcmp(tok[1], "holding"))
		q.table = REGMAP_HOLDING;
	else if (!strcmp(tok[1], "input"))
		q.table = REGMAP_INPUT;
	else
		return regmap_fail(p, p->line, "read: holding or input, not '%s'", tok[1]);
	if (!regmap_uint(tok[2], 65535, &a))
		return regmap_fail(p, p->line, "read: a start address 0 to 65535, not '%s'",
				   tok[2]);
	if (!regmap_uint(tok[3], m->max_registers, &c) || !c || a + c > 65536)
		return regmap_fail(p, p->line,
				   "read: a count 1 to %u (max_registers) within the 65536 "
				   "registers, not '%s'",
				   m->max_registers, tok[3]);
	q.start = (uint16_t)a;
	q.count = (uint16_t)c;
	if (m->boundary && a / m->boundary != (a + c - 1) / m->boundary)
		return regmap_fail(p, p->line, "read: %lu+%lu crosses a multiple of %u (boundary)",
				   a, c, m->boundary);
	for (i = 0; i < m->nreads; i++) {
		const struct regmap_request *o = &m->reads[i];

		if (o->unit_id == q.unit_id && o->table == q.table &&
		    q.start < o->start + o->count && o->start < q.start + q.count)
			return regmap_fail(p, p->line, "read: overlaps the read of %u+%u", o->start,
					   o->count);
	}
	if (m->nreads == REGMAP_READS_MAX)
		return regmap_fail(p, p->line, "more than %d read lines", REGMAP_READS_MAX);
	m->reads[m->nreads++] = q;
	return 0;
}

static int regmap_line(struct regmap_p *p, struct regmap *m, char *s)
{
	char copy[REGMAP_LINE_MAX + 1];
	char *tok[REGMAP_TOKENS_MAX];
	char *hash = strchr(s, '#');
	size_t n;

	if (hash)
		*hash = 0;
	memcpy(copy, s, strlen(s) + 1);
	n = regmap_split(copy, tok, REGMAP_TOKENS_MAX);
	if (!n)
		return 0;
	if (n > REGMAP_TOKENS_MAX)
		return regmap_fail(p, p->line, "more than %d columns", REGMAP_TOKENS_MAX);
	/* A measurement has no '.', so "derive MEAS.NEW ..." cannot be a value
	 * named derive. */
	if (!strcmp(tok[0], "derive") && n > 1 && strchr(tok[1], '.'))
		return regmap_derive_line(p, m, s, strstr(s, "derive") + 6);
	if (strchr(tok[0], '=') || (n > 1 && tok[1][0] == '='))
		return regmap_directive(p, m, s);
	/* A value line has five columns or more: "read holding 4501 45" is not
	 * one named read. */
	if (!strcmp(tok[0], "read") && n == 4)
		return regmap_read_line(p, m, tok);
	return regmap_value_line(p, m, tok, n);
}

int regmap_load(const char *name, const char *text, size_t len, struct regmap *m, char *err,
		size_t errlen)
{
	struct regmap_p p = {
		.name = name, .err = err, .errlen = errlen, .unit_id = REGMAP_DEFAULT_UNIT_ID};
	char line[REGMAP_LINE_MAX + 1];
	size_t at = 0;
	int r = 0;

	memset(m, 0, sizeof(*m));
	m->max_registers = REGMAP_MAX_REGISTERS;
	m->max_gap = REGMAP_DEFAULT_MAX_GAP;
	if (errlen)
		err[0] = 0;
	while (!r && at < len) {
		const char *nl = memchr(text + at, '\n', len - at);
		size_t n = (nl ? (size_t)(nl - text) : len) - at;

		p.line++;
		if (n > REGMAP_LINE_MAX)
			r = regmap_fail(&p, p.line, "a line longer than %d characters",
					REGMAP_LINE_MAX);
		else if (memchr(text + at, 0, n))
			r = regmap_fail(&p, p.line, "a NUL byte: not a text file");
		else {
			size_t k = n;

			memcpy(line, text + at, k);
			/* CRLF files: the expression parser takes no '\r'. */
			while (k && line[k - 1] == '\r')
				k--;
			line[k] = 0;
			r = regmap_line(&p, m, line);
		}
		at += n + 1;
	}
	if (!r && !m->n)
		r = regmap_fail(&p, p.line ? p.line : 1, "the map has no values");
	if (!r)
		r = regmap_derive_check(&p, m);
	if (!r)
		r = regmap_sort(m);
	if (r)
		regmap_free(m);
	return r;
}

int regmap_load_file(const char *path, struct regmap *m, char *err, size_t errlen)
{
	struct buf text;
	int r;

	memset(m, 0, sizeof(*m));
	buf_init(&text);
	/* A map is a few KiB: anything over 4 MiB is not one. */
	r = buf_read_file(&text, path, 4u << 20);
	if (r == -EISDIR)
		r = -EIO; /* what reading a directory has always said here */
	if (r == -EFBIG)
		snprintf(err, errlen, "%s: larger than 4 MiB: not a map", path);
	else if (r)
		snprintf(err, errlen, "%s: %s", path, strerror(-r));
	else
		r = regmap_load(path, text.data ? text.data : "", text.len, m, err, errlen);
	buf_free(&text);
	return r;
}

void regmap_free(struct regmap *m)
{
	free(m->v);
	free(m->meas);
	free(m->derive);
	free(m->sorted);
	memset(m, 0, sizeof(*m));
}

int regmap_path(const char *datadir, const char *name, char *out, size_t len)
{
	size_t n = strlen(name), i;
	int w;

	if (!n)
		return -EINVAL;
	if (strchr(name, '/') || (n > 4 && !strcmp(name + n - 4, ".map"))) {
		w = snprintf(out, len, "%s", name);
	} else {
		for (i = 0; i < n; i++)
			if (!((name[i] >= 'a' && name[i] <= 'z') ||
			      (name[i] >= 'A' && name[i] <= 'Z') ||
			      (name[i] >= '0' && name[i] <= '9') || name[i] == '_' ||
			      name[i] == '-'))
				return -EINVAL;
		w = snprintf(out, len, "%s/maps/%s.map", datadir, name);
	}
	return w < 0 || (size_t)w >= len ? -ENAMETOOLONG : 0;
}

int regmap_find(const struct regmap *m, const char *ref, const struct regmap_value **out)
{
	const char *dot = strchr(ref, '.');
	const struct regmap_value *hit = NULL;
	size_t i;

	if (dot) {
		for (i = 0; i < m->nmeas; i++)
			if (strlen(m->meas[i]) == (size_t)(dot - ref) &&
			    !memcmp(m->meas[i], ref, (size_t)(dot - ref)))
				break;
		hit = i < m->nmeas ? regmap_value_in(m, i, dot + 1) : NULL;
	} else {
		for (i = 0; i < m->n; i++) {
			if (strcmp(m->v[i].name, ref))
				continue;
			if (hit)
				return -ENOTUNIQ;
			hit = &m->v[i];
		}
	}
	if (!hit)
		return -ENOENT;
	*out = hit;
	return 0;
}

/* ---------------------------------------------------------------- reading */

/* Values that lie within another are met after it and inside its read;
 * the others are disjoint (the loader refuses partial overlaps), and over
 * disjoint values in address order, taking each into the open read while
 * the limits allow is the fewest reads: any shorter run of values is as
 * readable as a longer one that contains it. */
size_t regmap_plan_max(const struct regmap *m)
{
	return m->n + m->nreads ? m->n + m->nreads : 1;
}

/* Whether one of the map's read lines holds v whole. */
static bool regmap_in_reads(const struct regmap *m, const struct regmap_value *v)
{
	size_t i;

	for (i = 0; i < m->nreads; i++) {
		const struct regmap_request *q = &m->reads[i];

		if (q->unit_id == v->unit_id && q->table == v->table && v->address >= q->start &&
		    (uint32_t)v->address + v->count <= (uint32_t)q->start + q->count)
			return true;
	}
	return false;
}

int regmap_plan(const struct regmap *m, int table, int unit_id, struct regmap_request *out,
		size_t cap, size_t *n)
{
	struct regmap_request cur = {0};
	uint32_t end = 0; /* of cur, exclusive */
	bool open = false;
	size_t i, k = 0;

	for (i = 0; i < m->nreads; i++) {
		const struct regmap_request *q = &m->reads[i];

		if ((table >= 0 && (int)q->table != table) ||
		    (unit_id >= 0 && q->unit_id != unit_id))
			continue;
		if (k < cap)
			out[k] = *q;
		k++;
	}
	for (i = 0; i < m->n; i++) {
		const struct regmap_value *v = &m->v[m->sorted[i]];
		uint32_t a = v->address, e = a + v->count, ne;

		if ((table >= 0 && (int)v->table != table) ||
		    (unit_id >= 0 && v->unit_id != unit_id) || regmap_in_reads(m, v))
			continue;
		if (open && v->unit_id == cur.unit_id && v->table == cur.table) {
			ne = e > end ? e : end;
			if (ne - cur.start <= m->max_registers && a <= end + m->max_gap &&
			    (!m->boundary || cur.start / m->boundary == (ne - 1) / m->boundary)) {
				end = ne;
				continue;
			}
		}
		if (open) {
			cur.count = (uint16_t)(end - cur.start);
			if (k < cap)
				out[k] = cur;
			k++;
		}
		cur.unit_id = v->unit_id;
		cur.table = v->table;
		cur.start = v->address;
		end = e;
		open = true;
	}
	if (open) {
		cur.count = (uint16_t)(end - cur.start);
		if (k < cap)
			out[k] = cur;
		k++;
	}
	*n = k;
	return k > cap ? -ENOSPC : 0;
}

static uint16_t regmap_swap(uint16_t x)
{
	return (uint16_t)(x << 8 | x >> 8);
}

int regmap_decode(const struct regmap *m, const struct regmap_value *v, const uint16_t *regs,
		  struct regmap_reading *out)
{
	uint16_t r0 = m->byteswap ? regmap_swap(regs[0]) : regs[0], r1 = 0;
	uint32_t u = 0;
	int64_t raw = 0;
	double x;
	float f;
	size_t i, n = 0;

	memset(out, 0, sizeof(*out));
	if (v->count == 2)
		r1 = m->byteswap ? regmap_swap(regs[1]) : regs[1];
	switch (v->order) {
	case REGMAP_AB:
		u = r0;
		break;
	case REGMAP_BA:
		u = regmap_swap(r0);
		break;
	case REGMAP_ABCD:
		u = (uint32_t)r0 << 16 | r1;
		break;
	case REGMAP_CDAB:
		u = (uint32_t)r1 << 16 | r0;
		break;
	case REGMAP_BADC:
		u = (uint32_t)regmap_swap(r0) << 16 | regmap_swap(r1);
		break;
	case REGMAP_DCBA:
		u = (uint32_t)regmap_swap(r1) << 16 | regmap_swap(r0);
		break;
	}
	switch (v->type) {
	case REGMAP_U16:
	case REGMAP_U32:
		raw = u;
		break;
	case REGMAP_I16:
		raw = (int16_t)u;
		break;
	case REGMAP_I32:
		raw = (int32_t)u;
		break;
	case REGMAP_U8:
	case REGMAP_BIT:
		raw = (r0 >> v->bit) & ((1u << v->width) - 1);
		break;
	case REGMAP_I8:
		raw = (int8_t)(r0 >> v->bit);
		break;
	case REGMAP_F32:
		memcpy(&f, &u, sizeof(f));
		x = regmap_phys(v, f);
		if (!isfinite(f) || !isfinite(x))
			return -EDOM;
		out->type = SAMPLE_FLOAT;
		out->f = x;
		return 0;
	case REGMAP_ASCII:
		out->type = SAMPLE_STRING;
		for (i = 0; i < v->count; i++) {
			uint16_t w = m->byteswap ? regmap_swap(regs[i]) : regs[i];
			unsigned char c[2] = {(unsigned char)(w >> 8), (unsigned char)w};

			if (v->order == REGMAP_BA) {
				c[0] = (unsigned char)w;
				c[1] = (unsigned char)(w >> 8);
			}
			if (!c[0])
				break;
			out->s[n++] = c[0] >= 0x20 && c[0] < 0x7f ? (char)c[0] : '?';
			if (!c[1])
				break;
			out->s[n++] = c[1] >= 0x20 && c[1] < 0x7f ? (char)c[1] : '?';
		}
		while (n && out->s[n - 1] == ' ')
			n--;
		out->s[n] = 0;
		i = strspn(out->s, " ");
		memmove(out->s, out->s + i, n - i + 1);
		return 0;
	}
	if (v->scale == 1 && v->offset == 0) {
		out->type = SAMPLE_INT;
		out->i = raw;
		return 0;
	}
	x = regmap_phys(v, (double)raw);
	if (!isfinite(x))
		return -EDOM;
	out->type = SAMPLE_FLOAT;
	out->f = x;
	return 0;
}

int regmap_read(const struct regmap *m, const struct regmap_value *v, const struct regmap_block *b,
		size_t nb, struct regmap_reading *out)
{
	size_t i;

	for (i = 0; i < nb; i++)
		if (b[i].unit_id == v->unit_id && b[i].table == v->table &&
		    v->address >= b[i].start &&
		    (uint32_t)v->address + v->count <= (uint32_t)b[i].start + b[i].count)
			return regmap_decode(m, v, b[i].regs + (v->address - b[i].start), out);
	return -ENOENT;
}

struct regmap_eval {
	const struct regmap *m;
	size_t mi, k; /* the derivation being evaluated */
	const struct regmap_block *b;
	size_t nb;
	double dv[REGMAP_DERIVES_MAX];
	bool dok[REGMAP_DERIVES_MAX];
};

/* A reference: an earlier derivation of the measurement, else its value. */
static int regmap_lookup(void *arg, const struct expr_ref *r, double *v)
{
	struct regmap_eval *e = arg;
	const struct regmap_value *x;
	struct regmap_reading rd;
	size_t j;

	for (j = e->k; j-- > 0;)
		if (e->m->derive[j].meas == e->mi &&
		    !strcmp(e->m->derive[j].d.target.field, r->field)) {
			if (!e->dok[j])
				return -ENOENT;
			*v = e->dv[j];
			return 0;
		}
	x = regmap_value_in(e->m, e->mi, r->field);
	if (!x || regmap_read(e->m, x, e->b, e->nb, &rd))
		return -ENOENT;
	if (rd.type == SAMPLE_INT)
		*v = (double)rd.i;
	else if (rd.type == SAMPLE_FLOAT)
		*v = rd.f;
	else
		return -ENOENT;
	return 0;
}

int regmap_sample(const struct regmap *m, size_t mi, const struct sample_tag *tags, size_t ntags,
		  const struct regmap_block *b, size_t nb, int64_t ts_ns, struct sample *s)
{
	struct regmap_eval e = {.m = m, .mi = mi, .b = b, .nb = nb};
	struct regmap_reading rd;
	size_t i, got = 0;
	int r = sample_init(s, mi < m->nmeas ? m->meas[mi] : "", ts_ns);

	for (i = 0; !r && i < ntags; i++)
		r = sample_tag(s, tags[i].key, tags[i].value);
	for (i = 0; !r && i < m->n; i++) {
		const struct regmap_value *v = &m->v[i];

		if (v->meas != mi || regmap_read(m, v, b, nb, &rd))
			continue;
		got++;
		if (rd.type == SAMPLE_INT)
			r = sample_int(s, v->name, rd.i);
		else if (rd.type == SAMPLE_FLOAT)
			r = sample_float(s, v->name, rd.f);
		else
			r = sample_string(s, v->name, rd.s);
	}
	if (r)
		return r;
	if (!got)
		return -ENODATA;
	for (e.k = 0; !r && e.k < m->nderive; e.k++) {
		const struct regmap_derive *x = &m->derive[e.k];

		if (x->meas != mi)
			continue;
		e.dok[e.k] = !expr_eval(&x->d.e, regmap_lookup, &e, &e.dv[e.k]);
		if (e.dok[e.k])
			r = sample_float(s, x->d.target.field, e.dv[e.k]);
	}
	return r;
}

/* ---------------------------------------------------------------- writing */

int regmap_encode(const struct regmap *m, const struct regmap_value *v, double x, uint16_t *regs)
{
	double raw, lo, hi, rr;
	uint32_t u = 0;
	uint16_t r0, r1;

	if (!v->writable)
		return -EPERM;
	if (!isfinite(x))
		return -EDOM;
	if ((v->has_min && x < v->min) || (v->has_max && x > v->max))
		return -ERANGE;
	raw = regmap_unphys(v, x);
	regmap_raw_range(v, &lo, &hi);
	if (!isfinite(raw))
		return -ERANGE;
	if (v->type == REGMAP_F32) {
		float f;

		if (raw < lo || raw > hi)
			return -ERANGE;
		f = (float)raw;
		memcpy(&u, &f, sizeof(u));
	} else {
		rr = round(raw);
		/* 23.45 V into a 0.1 V register: refused, not rounded to what
		 * the caller did not ask for. */
		if (fabs(raw - rr) > 1e-6 * fmax(1, fabs(rr)))
			return -EINVAL;
		if (rr < lo || rr > hi)
			return -ERANGE;
		u = (uint32_t)(int64_t)rr;
	}
	if (v->type == REGMAP_U8 || v->type == REGMAP_I8 || v->type == REGMAP_BIT) {
		uint16_t mask = (uint16_t)(((1u << v->width) - 1) << v->bit);

		r0 = m->byteswap ? regmap_swap(regs[0]) : regs[0];
		r0 = (uint16_t)((r0 & ~mask) | ((u << v->bit) & mask));
		regs[0] = m->byteswap ? regmap_swap(r0) : r0;
		return 0;
	}
	switch (v->order) {
	case REGMAP_AB:
		r0 = (uint16_t)u;
		r1 = 0;
		break;
	case REGMAP_BA:
		r0 = regmap_swap((uint16_t)u);
		r1 = 0;
		break;
	case REGMAP_ABCD:
		r0 = (uint16_t)(u >> 16);
		r1 = (uint16_t)u;
		break;
	case REGMAP_CDAB:
		r0 = (uint16_t)u;
		r1 = (uint16_t)(u >> 16);
		break;
	case REGMAP_BADC:
		r0 = regmap_swap((uint16_t)(u >> 16));
		r1 = regmap_swap((uint16_t)u);
		break;
	default:
		r0 = regmap_swap((uint16_t)u);
		r1 = regmap_swap((uint16_t)(u >> 16));
		break;
	}
	regs[0] = m->byteswap ? regmap_swap(r0) : r0;
	if (v->count == 2)
		regs[1] = m->byteswap ? regmap_swap(r1) : r1;
	return 0;
}

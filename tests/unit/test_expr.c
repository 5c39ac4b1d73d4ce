/* The derive/valid expression language (expr.h): what parses, what is
 * refused and why, and evaluation without inf or NaN. */
#include <errno.h>
#include <string.h>

#include "check.h"
#include "expr.h"

struct vars {
	const char *names[8];
	double values[8];
};

static int lookup(void *arg, const struct expr_ref *r, double *v)
{
	const struct vars *x = arg;
	size_t i;

	for (i = 0; i < 8 && x->names[i]; i++)
		if (!strcmp(x->names[i], r->field)) {
			*v = x->values[i];
			return 0;
		}
	return -ENOENT;
}

static double eval1(const char *text, const struct vars *x, int *rc)
{
	struct expr_derives d;
	char why[200];
	double v = -12345;

	*rc = expr_derives_parse(text, &d, why, sizeof(why));
	if (*rc) {
		fprintf(stderr, "%s: %s\n", text, why);
		return v;
	}
	*rc = expr_eval(&d.v[0].e, lookup, (void *)x, &v);
	expr_derives_free(&d);
	return v;
}

static void refused(const char *text, const char *want)
{
	struct expr_derives d;
	char why[200] = "";
	int rc = expr_derives_parse(text, &d, why, sizeof(why));

	CHECK_EQ_INT(rc, -EINVAL);
	if (!strstr(why, want))
		fprintf(stderr, "'%s': '%s' lacks '%s'\n", text, why, want);
	CHECK(strstr(why, want) != NULL);
}

static void test_derive(void)
{
	struct vars x = {{"voltage", "charge_current", "pv_power", "pv_voltage", "zero"},
			 {27.4, 12.5, 404, 88.3, 0}};
	struct expr_derives d;
	char why[200];
	int rc;

	CHECK_NEAR(eval1("dc.charge_power = dc.voltage * dc.charge_current", &x, &rc), 342.5,
		   1e-12);
	CHECK_EQ_INT(rc, 0);
	CHECK_NEAR(eval1("dc.pv_current = dc.pv_power / dc.pv_voltage", &x, &rc), 404 / 88.3,
		   1e-12);
	/* precedence, unary minus, parentheses, exponents */
	CHECK_NEAR(eval1("m.a = 1 + 2 * 3 - 4 / 2", &x, &rc), 5, 0);
	CHECK_NEAR(eval1("m.a = (1 + 2) * 3", &x, &rc), 9, 0);
	CHECK_NEAR(eval1("m.a = -(2 - 5) * -2", &x, &rc), -6, 0);
	CHECK_NEAR(eval1("m.a = 1.5e3 - 2E-1 - .5", &x, &rc), 1499.3, 1e-9);
	CHECK_NEAR(eval1("m.a = 10 - 2 - 3", &x, &rc), 5, 0); /* left-associative */
	CHECK_NEAR(eval1("m.a = 12 / 2 / 3", &x, &rc), 2, 0);
	/* division by zero and a missing field: no value, never inf */
	eval1("dc.x = dc.voltage / dc.zero", &x, &rc);
	CHECK_EQ_INT(rc, -EDOM);
	eval1("dc.x = dc.voltage / (dc.zero * 3)", &x, &rc);
	CHECK_EQ_INT(rc, -EDOM);
	eval1("dc.x = dc.nothing + 1", &x, &rc);
	CHECK_EQ_INT(rc, -ENOENT);
	eval1("dc.x = 1e300 * 1e300", &x, &rc);
	CHECK_EQ_INT(rc, -EDOM);

	/* a list, in order */
	CHECK_EQ_INT(expr_derives_parse("dc.a = dc.voltage * 2, dc.b = dc.a + 1 ,ac.c=1", &d, why,
					sizeof(why)),
		     0);
	CHECK_EQ_INT(d.n, 3);
	if (d.n == 3) {
		CHECK(!strcmp(d.v[1].target.meas, "dc") && !strcmp(d.v[1].target.field, "b"));
		CHECK(!strcmp(d.v[2].target.meas, "ac") && !strcmp(d.v[2].target.field, "c"));
	}
	expr_derives_free(&d);

	refused("dc.a = ac.b * 2", "same sample");
	refused("dc.a = dc.b *", "ends too early");
	refused("dc.a = (dc.b", "expected ')'");
	refused("dc.a dc.b", "expected '='");
	refused("dc = 1", "expected '.'");
	refused("dc.a = 1 2", "unexpected '2'");
	refused("dc.a = 1, dc.a = 2", "derived twice");
	refused("dc.a = 1,", "expected");
	refused("dc.a = 1 % 2", "unexpected '%'");
	refused("dc.a = 1..2", "is not a number");
	refused("", "expected");
	{
		char deep[400];

		memset(deep, '(', 100);
		strcpy(deep + 100, "1");
		memset(deep + 101, ')', 100);
		deep[201] = 0;
		char text[420];

		snprintf(text, sizeof(text), "m.a = %s", deep);
		refused(text, "nested too deeply");
		memset(deep, '-', 300);
		strcpy(deep + 300, "1");
		snprintf(text, sizeof(text), "m.a = %s", deep);
		refused(text, "nested too deeply");
	}
	{
		char text[1200] = "m.a = 1";

		for (int i = 0; i < 100; i++)
			strcat(text, " + 1");
		refused(text, "too long");
	}
}

static void test_cond(void)
{
	struct expr_cond c;
	char why[200];

	CHECK_EQ_INT(expr_cond_parse("inverter.valid_info = 1", &c, why, sizeof(why)), 0);
	CHECK(!strcmp(c.ref.meas, "inverter") && !strcmp(c.ref.field, "valid_info"));
	CHECK(expr_cond_num(&c, 1) && !expr_cond_num(&c, 0) && !expr_cond_num(&c, 1.5));
	CHECK(!expr_cond_str(&c, "1")); /* a string is not the number */
	CHECK_EQ_INT(expr_cond_parse(" a.b>=-2.5 ", &c, why, sizeof(why)), 0);
	CHECK(expr_cond_num(&c, -2.5) && expr_cond_num(&c, 3) && !expr_cond_num(&c, -3));
	CHECK_EQ_INT(expr_cond_parse("a.b != 0", &c, why, sizeof(why)), 0);
	CHECK(expr_cond_num(&c, 2) && !expr_cond_num(&c, 0));
	CHECK_EQ_INT(expr_cond_parse("a.b < 3", &c, why, sizeof(why)), 0);
	CHECK(expr_cond_num(&c, 2) && !expr_cond_num(&c, 3));
	CHECK_EQ_INT(expr_cond_parse("a.state == \"ok\"", &c, why, sizeof(why)), 0);
	CHECK(expr_cond_str(&c, "ok") && !expr_cond_str(&c, "okay") && !expr_cond_num(&c, 0));
	CHECK_EQ_INT(expr_cond_parse("a.state != \"\"", &c, why, sizeof(why)), 0);
	CHECK(expr_cond_str(&c, "x") && !expr_cond_str(&c, ""));

	CHECK_EQ_INT(expr_cond_parse("a.b", &c, why, sizeof(why)), -EINVAL);
	CHECK(strstr(why, "expected one of") != NULL);
	CHECK_EQ_INT(expr_cond_parse("a.b < \"x\"", &c, why, sizeof(why)), -EINVAL);
	CHECK(strstr(why, "= or !=") != NULL);
	CHECK_EQ_INT(expr_cond_parse("a.b = \"x", &c, why, sizeof(why)), -EINVAL);
	CHECK_EQ_INT(expr_cond_parse("a.b = 1 2", &c, why, sizeof(why)), -EINVAL);
	CHECK(strstr(why, "after the value") != NULL);
	CHECK_EQ_INT(expr_cond_parse("a.b = x", &c, why, sizeof(why)), -EINVAL);
	CHECK_EQ_INT(expr_cond_parse("a = 1", &c, why, sizeof(why)), -EINVAL);
}

int main(void)
{
	test_derive();
	test_cond();
	return check_result();
}

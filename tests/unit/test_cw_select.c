/* The CloudWatch sink's `metrics` and `dimensions` keys: what they select,
 * rename and refuse. */
#include <errno.h>
#include <string.h>

#include "check.h"
#include "cw_select.h"

static void test_default(void)
{
	struct cw_select s;
	char why[128], buf[CW_NAME_MAX];
	char longm[200];

	CHECK_EQ_INT(cw_select_parse(&s, NULL, NULL, why, sizeof(why)), 0);
	CHECK(s.dims == CW_DIMS_ALL);
	CHECK(!strcmp(cw_select_name(&s, "grid", "voltage", buf, sizeof(buf)), "grid_voltage"));
	CHECK(cw_select_dim(&s, "der_id"));
	/* A default name past CloudWatch's 255 characters is not sent. */
	memset(longm, 'm', sizeof(longm) - 1);
	longm[sizeof(longm) - 1] = '\0';
	CHECK(cw_select_name(&s, longm, longm, buf, sizeof(buf)) == NULL);
	cw_select_free(&s);
}

static void test_pp1(void)
{
	struct cw_select s;
	char why[128], buf[CW_NAME_MAX];

	CHECK_EQ_INT(
		cw_select_parse(&s,
				" grid.voltage -> grid_voltage,inverter.load_power->load_power , "
				"battery.charge_state",
				"none", why, sizeof(why)),
		0);
	CHECK_EQ_INT(s.npicks, 3);
	CHECK(!strcmp(cw_select_name(&s, "grid", "voltage", buf, sizeof(buf)), "grid_voltage"));
	CHECK(!strcmp(cw_select_name(&s, "inverter", "load_power", buf, sizeof(buf)),
		      "load_power"));
	CHECK(!strcmp(cw_select_name(&s, "battery", "charge_state", buf, sizeof(buf)),
		      "battery_charge_state"));
	CHECK(cw_select_name(&s, "grid", "power", buf, sizeof(buf)) == NULL);
	CHECK(cw_select_name(&s, "inverter", "voltage", buf, sizeof(buf)) == NULL);
	CHECK(s.dims == CW_DIMS_NONE);
	CHECK(!cw_select_dim(&s, "der_id"));
	cw_select_free(&s);

	CHECK_EQ_INT(cw_select_parse(&s, "", "der_id, inverter_id", why, sizeof(why)), 0);
	CHECK(s.dims == CW_DIMS_LIST);
	CHECK(cw_select_dim(&s, "inverter_id") && cw_select_dim(&s, "der_id"));
	CHECK(!cw_select_dim(&s, "string_index"));
	cw_select_free(&s);
}

static void test_refused(void)
{
	static const char *const metrics[] = {
		"grid",			   /* no field */
		"grid.",		   /* empty field */
		".voltage",		   /* no measurement */
		"grid.voltage ->",	   /* no name */
		"grid.voltage -> a b",	   /* a space in a name */
		"grid.voltage grid.power", /* no comma */
		"a.b -> x, c.d -> x",	   /* one name twice */
		"a.b, a.b -> y",	   /* one field twice */
		"grid.volt$age",
		"grid.voltage,", /* a trailing comma */
	};
	static const char *const dims[] = {"der_id,,x",	 "a, a",	"al l",	 "x;y",
					   "all, meter", "meter, none", "meter,"};
	struct cw_select s;
	char why[128];
	size_t i;

	for (i = 0; i < sizeof(metrics) / sizeof(metrics[0]); i++) {
		why[0] = '\0';
		CHECK_EQ_INT(cw_select_parse(&s, metrics[i], "all", why, sizeof(why)), -EINVAL);
		CHECK(why[0] != '\0');
		CHECK(s.npicks == 0 && s.picks == NULL);
	}
	for (i = 0; i < sizeof(dims) / sizeof(dims[0]); i++)
		CHECK_EQ_INT(cw_select_parse(&s, "", dims[i], why, sizeof(why)), -EINVAL);
}

int main(void)
{
	test_default();
	test_pp1();
	test_refused();
	return check_result();
}

/* Energy from power (integrate.h): the list's syntax, the trapezoid with its
 * gaps, and the checkpoint's text read back exactly. */
#include <errno.h>
#include <string.h>

#include "check.h"
#include "integrate.h"

static void test_parse(void)
{
	struct integ_spec sp[INTEG_MAX];
	char why[200];
	size_t n;

	CHECK_EQ_INT(integ_parse("dc.pv_power -> pv_energy_wh, ac.output_watts->load_energy_wh", sp,
				 INTEG_MAX, &n, why, sizeof(why)),
		     0);
	CHECK_EQ_INT(n, 2);
	CHECK(!strcmp(sp[0].meas, "dc") && !strcmp(sp[0].field, "pv_power") &&
	      !strcmp(sp[0].name, "pv_energy_wh"));
	CHECK(!strcmp(sp[1].meas, "ac") && !strcmp(sp[1].field, "output_watts") &&
	      !strcmp(sp[1].name, "load_energy_wh"));
	CHECK_EQ_INT(integ_parse("dc.p -> e, dc.q -> e", sp, INTEG_MAX, &n, why, sizeof(why)),
		     -EINVAL);
	CHECK(strstr(why, "twice") != NULL);
	CHECK_EQ_INT(integ_parse("dc.p > e", sp, INTEG_MAX, &n, why, sizeof(why)), -EINVAL);
	CHECK(strstr(why, "'->'") != NULL);
	CHECK_EQ_INT(integ_parse("dc -> e", sp, INTEG_MAX, &n, why, sizeof(why)), -EINVAL);
	CHECK_EQ_INT(integ_parse("dc.p -> e,", sp, INTEG_MAX, &n, why, sizeof(why)), -EINVAL);
	CHECK(strstr(why, "integral 2") != NULL);
	CHECK_EQ_INT(integ_parse("dc.p -> e f", sp, INTEG_MAX, &n, why, sizeof(why)), -EINVAL);
	CHECK_EQ_INT(integ_parse("dc.p -> 1e", sp, INTEG_MAX, &n, why, sizeof(why)), -EINVAL);
	CHECK_EQ_INT(integ_parse("a.b -> c, a.b -> d, a.b -> e", sp, 2, &n, why, sizeof(why)),
		     -EINVAL);
	CHECK(strstr(why, "at most 2") != NULL);
}

static void test_trapezoid(void)
{
	const int64_t S = 1000000000LL, gap = 120 * S;
	struct integ_state st = {0};

	CHECK_EQ_INT(integ_add(&st, 1000 * S, 100, gap), INTEG_FIRST);
	CHECK_NEAR(st.joules, 0, 0);
	CHECK_EQ_INT(integ_add(&st, 1010 * S, 300, gap), INTEG_ADDED);
	CHECK_NEAR(st.joules, 2000, 1e-9); /* (100+300)/2 * 10 s */
	CHECK_EQ_INT(integ_add(&st, 1010 * S, 999, gap), INTEG_STALE);
	CHECK_EQ_INT(integ_add(&st, 1005 * S, 999, gap), INTEG_STALE);
	CHECK_NEAR(st.joules, 2000, 0);
	CHECK_EQ_INT(integ_add(&st, 1010 * S + S / 2, 300, gap), INTEG_ADDED);
	CHECK_NEAR(st.joules, 2150, 1e-9);
	/* a gap longer than max_gap: not integrated over, a new start */
	CHECK_EQ_INT(integ_add(&st, 1010 * S + S / 2 + gap + 1, 50, gap), INTEG_GAP);
	CHECK_NEAR(st.joules, 2150, 0);
	CHECK_EQ_INT(integ_add(&st, 1010 * S + S / 2 + gap + 1 + 2 * S, 150, gap), INTEG_ADDED);
	CHECK_NEAR(st.joules, 2350, 1e-9);
	/* exactly max_gap is still integrated */
	CHECK_EQ_INT(integ_add(&st, st.last_ns + gap, 150, gap), INTEG_ADDED);
	CHECK_NEAR(st.joules, 2350 + 150 * 120, 1e-6);
	CHECK_EQ_INT(integ_add(&st, st.last_ns + S, 0.0 / 0.0, gap), INTEG_BAD);
}

static void test_file(void)
{
	struct integ_spec sp[3] = {{"dc", "pv_power", "pv_wh"},
				   {"ac", "output_watts", "load_wh"},
				   {"dc", "discharge_power", "out_wh"}};
	struct integ_state st[3] = {
		{1234567.891234567, 1700000000123456789LL, 404.25}, {0.1, 0, 0}, {3.0e12, 1, -7.5}};
	struct integ_state back[3];
	char buf[INTEG_FILE_MAX];
	const char *why = NULL;
	size_t len, unknown;

	CHECK_EQ_INT(integ_format(sp, st, 3, buf, sizeof(buf), &len), 0);
	memset(back, 0, sizeof(back));
	CHECK_EQ_INT(integ_load(buf, len, sp, back, 3, &unknown, &why), 0);
	CHECK(!memcmp(back, st, sizeof(st)));
	CHECK_EQ_INT(unknown, 0);
	/* an integral no longer configured is skipped, a new one keeps its 0 */
	memset(back, 0, sizeof(back));
	CHECK_EQ_INT(integ_load(buf, len, sp + 1, back, 2, &unknown, &why), 0);
	CHECK_EQ_INT(unknown, 1);
	CHECK(back[0].joules == 0.1 && back[1].joules == 3.0e12);
	/* damage */
	CHECK_EQ_INT(integ_load(buf, len - 1, sp, back, 3, &unknown, &why), -EBADMSG);
	CHECK_EQ_INT(integ_load("powerd-integrate 2\n", 19, sp, back, 3, &unknown, &why), -EBADMSG);
	{
		static const char *bad[] = {
			"powerd-integrate 1\ndc pv_wh x 1 2\n",
			"powerd-integrate 1\ndc pv_wh 1 -1 2\n",
			"powerd-integrate 1\ndc pv_wh 1 01 2\n",
			"powerd-integrate 1\ndc pv_wh 1 1 inf\n",
			"powerd-integrate 1\ndc pv_wh 1 1 2 3\n",
			"powerd-integrate 1\ndc  pv_wh 1 1 2\n",
			"powerd-integrate 1\ndc pv_wh 1 1 2\ndc pv_wh 1 1 2\n",
		};
		size_t i;

		for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			memset(back, 0, sizeof(back));
			CHECK_EQ_INT(
				integ_load(bad[i], strlen(bad[i]), sp, back, 3, &unknown, &why),
				-EBADMSG);
			CHECK(back[0].joules == 0);
		}
	}
	CHECK_EQ_INT(integ_format(sp, st, 3, buf, 40, &len), -ENOSPC);
}

int main(void)
{
	test_parse();
	test_trapezoid();
	test_file();
	return check_result();
}

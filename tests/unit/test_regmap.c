/* Modbus register maps (regmap.h): the shipped maps load and decode real
 * and seed values, every loader mistake is refused at its line, plans are
 * the fewest reads within the limits, every type and order decodes, and
 * writes are encoded or refused. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "regmap.h"

static int load(const char *text, struct regmap *m)
{
	char err[256] = "";
	int r = regmap_load("t.map", text, strlen(text), m, err, sizeof(err));

	if (r)
		fprintf(stderr, "%s\n", err);
	return r;
}

static const struct regmap_value *find(const struct regmap *m, const char *ref)
{
	const struct regmap_value *v = NULL;

	CHECK_EQ_INT(regmap_find(m, ref, &v), 0);
	return v;
}

static size_t meas(const struct regmap *m, const char *name)
{
	size_t i;

	for (i = 0; i < m->nmeas; i++)
		if (!strcmp(m->meas[i], name))
			return i;
	CHECK(!"no such measurement");
	return 0;
}

static bool field(const struct sample *s, const char *key, struct sample_field *f)
{
	struct sample_view vw;

	if (sample_view_of(&vw, s) < 0)
		return false;
	return sample_field_get(&vw, key, f);
}

static void check_float(const struct sample *s, const char *key, double want)
{
	struct sample_field f;
	bool ok = field(s, key, &f) && f.type == SAMPLE_FLOAT;

	if (!ok)
		fprintf(stderr, "no float field %s\n", key);
	CHECK(ok);
	if (ok)
		CHECK_NEAR(f.v.f, want, 1e-9);
}

static void check_int(const struct sample *s, const char *key, int64_t want)
{
	struct sample_field f;
	bool ok = field(s, key, &f) && f.type == SAMPLE_INT;

	if (!ok)
		fprintf(stderr, "no int field %s\n", key);
	CHECK(ok);
	if (ok)
		CHECK_EQ_INT(f.v.i, want);
}

static uint16_t swap16(uint16_t x)
{
	return (uint16_t)(x << 8 | x >> 8);
}

/* ---------------------------------------------------------------- PowMr */

static void test_powmr(void)
{
	/* PROTOCOLS.md 5: the real reply to 05 03 11 C2 00 10, registers
	 * 4546-4561 as read (big endian on the wire, so FA 00 is 0xFA00). */
	static const uint16_t reply[16] = {0xFA00, 0xFA00, 0xC800, 0xFA00, 0x3C00, 0x7800,
					   0x1E00, 0x62D9, 0xE90E, 0x0000, 0x0000, 0x4500,
					   0x0000, 0x0000, 0x0000, 0x0000};
	struct regmap_request rq[8];
	struct regmap_reading rd;
	struct regmap_block b[3];
	uint16_t lo[14], hi[28] = {0};
	struct regmap m;
	struct sample s;
	char err[256];
	size_t n = 0, i;
	int r = regmap_load_file("share/maps/powmr-lvm.map", &m, err, sizeof(err));

	CHECK_EQ_INT(r, 0);
	if (r) {
		fprintf(stderr, "%s\n", err);
		return;
	}
	CHECK_EQ_INT(m.n, 22);
	CHECK_EQ_INT(m.nmeas, 3);
	CHECK_EQ_INT(m.nderive, 3);
	CHECK(m.byteswap);
	CHECK_EQ_INT(m.max_registers, 45);
	for (i = 0; i < m.n; i++)
		CHECK(m.v[i].unit_id == 5 && m.v[i].table == REGMAP_HOLDING && !m.v[i].writable);
	/* seed 003's code: 4512 is output_va, 4513 output_watts */
	CHECK_EQ_INT(find(&m, "output_va")->address, 4512);
	CHECK_EQ_INT(find(&m, "ac.output_watts")->address, 4513);
	CHECK_EQ_INT(find(&m, "inverter.op_mode")->address, 4501);

	/* Exactly the dongle's two reads (PROTOCOLS.md section 5's frames). */
	CHECK_EQ_INT(m.nreads, 2);
	CHECK_EQ_INT(regmap_plan_max(&m), 24);
	CHECK_EQ_INT(regmap_plan(&m, -1, -1, rq, 8, &n), 0);
	CHECK_EQ_INT(n, 2);
	CHECK(rq[0].unit_id == 5 && rq[0].table == REGMAP_HOLDING && rq[0].start == 4501 &&
	      rq[0].count == 45);
	CHECK(rq[1].unit_id == 5 && rq[1].start == 4546 && rq[1].count == 16);

	/* The real reply on its own: 25.0 V bulk and float, 20.0 V cut-off,
	 * charger 0 (off), 69 C. */
	b[0] = (struct regmap_block){5, REGMAP_HOLDING, 4546, 16, reply};
	CHECK(!regmap_read(&m, find(&m, "bulk_voltage"), b, 1, &rd) && rd.type == SAMPLE_FLOAT &&
	      rd.f == 25.0);
	CHECK(!regmap_read(&m, find(&m, "float_voltage"), b, 1, &rd) && rd.f == 25.0);
	CHECK(!regmap_read(&m, find(&m, "low_cutoff_voltage"), b, 1, &rd) && rd.f == 20.0);
	CHECK(!regmap_read(&m, find(&m, "charger"), b, 1, &rd) && rd.type == SAMPLE_INT &&
	      rd.i == 0);
	CHECK(!regmap_read(&m, find(&m, "temp"), b, 1, &rd) && rd.type == SAMPLE_INT && rd.i == 69);
	CHECK_EQ_INT(regmap_read(&m, find(&m, "op_mode"), b, 1, &rd), -ENOENT);
	/* the same block in the wrong unit holds nothing of this map */
	b[0].unit_id = 1;
	CHECK_EQ_INT(regmap_read(&m, find(&m, "temp"), b, 1, &rd), -ENOENT);

	/* Seed 003's values (its JSON), as the inverter would send them:
	 * byte-swapped registers 4501-4514, then 4530-4557 with the real
	 * reply at 4546. */
	{
		static const uint16_t seed[14] = {4, 1224, 607,	 883, 404, 274, 100,
						  0, 0,	   1215, 607, 352, 341, 9};

		for (i = 0; i < 14; i++)
			lo[i] = swap16(seed[i]);
		hi[6] = swap16(1);			       /* 4536 charger_source_priority */
		hi[7] = swap16(1);			       /* 4537 output_source_priority */
		memcpy(hi + 16, reply, 12 * sizeof(uint16_t)); /* 4546-4557 */
	}
	{
		static const struct sample_tag tags[] = {{"source", "powmr"}};

		b[0] = (struct regmap_block){5, REGMAP_HOLDING, 4501, 14, lo};
		b[1] = (struct regmap_block){5, REGMAP_HOLDING, 4530, 28, hi};

		CHECK_EQ_INT(regmap_sample(&m, meas(&m, "ac"), tags, 1, b, 2, 1000, &s), 0);
		check_float(&s, "input_voltage", 122.4);
		check_float(&s, "input_freq", 60.7);
		check_float(&s, "output_voltage", 121.5);
		check_float(&s, "output_freq", 60.7);
		check_int(&s, "output_va", 352);
		check_int(&s, "output_watts", 341);
		check_int(&s, "output_load_percent", 9);
		sample_free(&s);

		CHECK_EQ_INT(regmap_sample(&m, meas(&m, "dc"), tags, 1, b, 2, 1000, &s), 0);
		check_float(&s, "pv_voltage", 88.3);
		check_int(&s, "pv_power", 404);
		check_float(&s, "voltage", 27.4);
		check_int(&s, "battery_soc", 100);
		/* seed 003: pv_current 4.575311 */
		check_float(&s, "pv_current", 404 / 88.3);
		check_float(&s, "charge_power", 0);
		check_float(&s, "discharge_power", 0);
		{
			struct sample_view vw;

			CHECK(sample_view_of(&vw, &s) > 0);
			CHECK_EQ_INT(vw.nfields, 6 + 3);
			CHECK(vw.ntags == 1 && !strcmp(vw.tags[0].value, "powmr") &&
			      !strcmp(vw.measurement, "dc") && vw.ts_ns == 1000);
		}
		sample_free(&s);

		CHECK_EQ_INT(regmap_sample(&m, meas(&m, "inverter"), tags, 1, b, 2, 1000, &s), 0);
		check_int(&s, "op_mode", 4);
		check_int(&s, "charger_source_priority", 1);
		check_int(&s, "output_source_priority", 1);
		check_int(&s, "charger", 0);
		check_int(&s, "temp", 69);
		check_float(&s, "bulk_voltage", 25.0);
		sample_free(&s);

		/* Only the first read answered: inverter has op_mode alone, dc
		 * is whole. */
		CHECK_EQ_INT(regmap_sample(&m, meas(&m, "inverter"), NULL, 0, b, 1, 1, &s), 0);
		check_int(&s, "op_mode", 4);
		CHECK(!field(&s, "temp", &(struct sample_field){0}));
		sample_free(&s);
		/* No read answered: nothing to publish. */
		CHECK_EQ_INT(regmap_sample(&m, meas(&m, "ac"), tags, 1, b, 0, 1, &s), -ENODATA);
		sample_free(&s);
	}
	regmap_free(&m);
}

/* ---------------------------------------------------------------- EG4 */

static void test_eg4(void)
{
	struct regmap_request rq[16];
	uint16_t in0[40] = {0}, in40[38] = {0}, in80[40] = {0}, hold[20] = {0};
	struct regmap_block b[4];
	const struct regmap_value *v;
	struct regmap m;
	struct sample s;
	char err[256];
	size_t n = 0, i, nin = 0, nhold = 0;
	int r = regmap_load_file("share/maps/eg4-input.map", &m, err, sizeof(err));

	CHECK_EQ_INT(r, 0);
	if (r) {
		fprintf(stderr, "%s\n", err);
		return;
	}
	CHECK_EQ_INT(m.n, 139);
	CHECK_EQ_INT(m.nderive, 5);
	CHECK(!m.byteswap && m.max_registers == 40 && m.boundary == 40);
	for (i = 0; i < m.n; i++) {
		nin += m.v[i].table == REGMAP_INPUT;
		nhold += m.v[i].table == REGMAP_HOLDING;
		CHECK(m.v[i].table == REGMAP_HOLDING || m.v[i].address <= 126);
	}
	CHECK_EQ_INT(nin, 96);
	CHECK_EQ_INT(nhold, 43);

	/* inputs: the four aligned groups, the last only up to 126 */
	CHECK_EQ_INT(regmap_plan(&m, REGMAP_INPUT, -1, rq, 16, &n), 0);
	CHECK_EQ_INT(n, 4);
	CHECK(rq[0].start == 0 && rq[0].count == 40 && rq[0].table == REGMAP_INPUT);
	CHECK(rq[1].start == 40 && rq[1].count == 38);
	CHECK(rq[2].start == 80 && rq[2].count == 40);
	CHECK(rq[3].start == 120 && rq[3].count == 7);
	CHECK_EQ_INT(regmap_plan(&m, REGMAP_HOLDING, -1, rq, 16, &n), 0);
	CHECK_EQ_INT(n, 6);
	CHECK(rq[0].start == 2 && rq[0].count == 20);  /* 2-21 */
	CHECK(rq[1].start == 64 && rq[1].count == 12); /* 64-75, 80 is a boundary */
	CHECK(rq[2].start == 82 && rq[2].count == 2);  /* 82-83 */
	CHECK(rq[3].start == 105 && rq[3].count == 6); /* 105-110 */
	CHECK(rq[4].start == 125 && rq[4].count == 1); /* 125 */
	CHECK(rq[5].start == 160 && rq[5].count == 2); /* 160-161 */
	CHECK_EQ_INT(regmap_plan(&m, -1, -1, rq, 16, &n), 0);
	CHECK_EQ_INT(n, 10);
	CHECK(rq[0].table == REGMAP_HOLDING && rq[6].table == REGMAP_INPUT);

	in0[4] = 530;	       /* v_bat 53.0 V */
	in0[5] = 98 << 8 | 87; /* soh 98, soc 87 */
	in0[7] = 1000;	       /* p_pv_1 */
	in0[8] = 200;
	in0[9] = 30;
	in0[10] = 500;	/* p_charge */
	in0[15] = 5998; /* f_ac 59.98 Hz */
	in0[19] = 998;	/* pf 0.998 */
	in0[26] = 100;	/* p_to_grid */
	in0[28] = 12;	/* e_pv_day_1 1.2 kWh */
	in0[29] = 3;
	in40[0] = 123456 & 0xFFFF; /* e_pv_all_1 12345.6 kWh, low word first */
	in40[1] = 123456 >> 16;
	in40[24] = 0xFFFB; /* t_inner -5 C */
	in40[29] = 0x5180; /* runtime 0x00015180 = 86400 s, low word first */
	in40[30] = 0x0001;
	in80[18] = (uint16_t)-1234; /* bat_current -12.34 A */
	/* serial 115-119, first character in the low byte */
	{
		const char *sn = "2043022401";

		for (i = 0; i < 5; i++)
			in80[35 + i] = (uint16_t)(sn[2 * i + 1] << 8 | sn[2 * i]);
	}
	b[0] = (struct regmap_block){1, REGMAP_INPUT, 0, 40, in0};
	b[1] = (struct regmap_block){1, REGMAP_INPUT, 40, 38, in40};
	b[2] = (struct regmap_block){1, REGMAP_INPUT, 80, 40, in80};
	CHECK_EQ_INT(regmap_sample(&m, meas(&m, "eg4"), NULL, 0, b, 3, 5, &s), 0);
	check_float(&s, "v_bat", 53.0);
	check_int(&s, "soc", 87);
	check_int(&s, "soh", 98);
	check_float(&s, "f_ac", 59.98);
	check_float(&s, "pf", 0.998);
	check_float(&s, "e_pv_all_1", 12345.6);
	check_int(&s, "t_inner", -5);
	check_int(&s, "runtime", 86400);
	check_float(&s, "bat_current", -12.34);
	check_float(&s, "p_pv", 1230);
	check_float(&s, "p_battery", 500);
	check_float(&s, "p_grid", -100);
	check_float(&s, "e_pv_day", 1.2 + 0.3);
	check_float(&s, "e_pv_all", 12345.6);
	{
		struct sample_field f;

		CHECK(field(&s, "serial", &f) && f.type == SAMPLE_STRING &&
		      !strcmp(f.v.s, "2043022401"));
		/* 120-126 were not read */
		CHECK(!field(&s, "v_gen", &f));
	}
	sample_free(&s);

	/* holding: the clock bytes of 22,6,20,5,16,57 (little endian) */
	hold[10] = 6 << 8 | 22;
	hold[11] = 5 << 8 | 20;
	hold[12] = 57 << 8 | 16;
	hold[19] = 1 << 7 | 1; /* register 21: ac_charge_en, eps_en */
	b[3] = (struct regmap_block){1, REGMAP_HOLDING, 2, 20, hold};
	CHECK_EQ_INT(regmap_sample(&m, meas(&m, "eg4_hold"), NULL, 0, b + 3, 1, 5, &s), 0);
	check_int(&s, "time_year", 22);
	check_int(&s, "time_month", 6);
	check_int(&s, "time_day", 20);
	check_int(&s, "time_hour", 5);
	check_int(&s, "time_minute", 16);
	check_int(&s, "time_second", 57);
	check_int(&s, "ac_charge_en", 1);
	check_int(&s, "eps_en", 1);
	check_int(&s, "forced_discharge_en", 0);
	check_int(&s, "functions", 0x81);
	sample_free(&s);

	/* writes */
	CHECK_EQ_INT(regmap_find(&m, "serial", &v), -ENOTUNIQ);
	CHECK_EQ_INT(regmap_find(&m, "nope", &v), -ENOENT);
	CHECK_EQ_INT(regmap_find(&m, "eg4.nope", &v), -ENOENT);
	CHECK_EQ_INT(regmap_find(&m, "nope.soc", &v), -ENOENT);
	CHECK_EQ_INT(find(&m, "eg4_hold.serial")->address, 2);
	{
		uint16_t w[2] = {0};

		v = find(&m, "ac_charge_soc_limit");
		CHECK(v && v->writable);
		CHECK_EQ_INT(regmap_encode(&m, v, 90, w), 0);
		CHECK_EQ_INT(w[0], 90);
		CHECK_EQ_INT(regmap_encode(&m, v, 101, w), -ERANGE);
		CHECK_EQ_INT(regmap_encode(&m, v, -1, w), -ERANGE);
		CHECK_EQ_INT(regmap_encode(&m, v, 50.5, w), -EINVAL);
		CHECK_EQ_INT(regmap_encode(&m, find(&m, "soc"), 50, w), -EPERM);
		CHECK_EQ_INT(regmap_encode(&m, find(&m, "eps_en"), 1, w), -EPERM);
		w[0] = 0x0001; /* register 21 as read */
		CHECK_EQ_INT(regmap_encode(&m, find(&m, "ac_charge_en"), 1, w), 0);
		CHECK_EQ_INT(w[0], 0x0081);
		CHECK_EQ_INT(regmap_encode(&m, find(&m, "ac_charge_en"), 2, w), -ERANGE);
		CHECK_EQ_INT(w[0], 0x0081);
	}
	regmap_free(&m);
}

/* ---------------------------------------------------------------- types */

static void test_types(void)
{
	static const char map[] = "f_abcd m holding 0 f32\n"
				  "f_cdab m holding 2 f32 order=cdab\n"
				  "f_badc m holding 4 f32 order=badc\n"
				  "f_dcba m holding 6 f32 order=dcba\n"
				  "u_abcd m holding 8 u32\n"
				  "u_dcba m holding 8 u32 order=dcba\n"
				  "i_abcd m holding 10 i32\n"
				  "i_cdab m holding 12 i32 order=cdab\n"
				  "s16 m holding 14 i16\n"
				  "s16s m holding 14 i16 scale=0.1\n"
				  "u16ba m holding 15 u16 order=ba\n"
				  "hi m holding 16 u8 byte=hi\n"
				  "lo m holding 16 u8 byte=lo\n"
				  "shi m holding 16 i8 byte=hi\n"
				  "b3 m holding 17 bit bit=3\n"
				  "b4 m holding 17 bit bit=4 width=4\n"
				  "b15 m holding 17 bit bit=15\n"
				  "txt m holding 18 ascii count=4\n"
				  "txt_ba m holding 22 ascii count=2 order=ba\n"
				  "txt_nul m holding 24 ascii count=3\n"
				  "txt_odd m holding 27 ascii count=2\n"
				  "off m holding 29 u16 scale=0.5 offset=-40 unit=C\n"
				  "k m holding 30 u16 scale=1000\n"
				  "nan m holding 31 f32\n";
	/* 3.14159274f is 40 49 0F DB (a b c d): in every order of the
	 * registers as read. */
	static const uint16_t regs[33] = {
		0x4049, 0x0FDB, 0x0FDB, 0x4049, 0x4940, 0xDB0F, 0xDB0F, 0x4940, /* f32 */
		0x0102, 0x0304,							/* u32 */
		0xFFFE, 0x1DC0, 0x1DC0, 0xFFFE,					/* -123456 */
		0xFF38,								/* -200 */
		0x3412,				/* 0x1234 when swapped */
		0x807F,				/* hi 0x80, lo 0x7F */
		0x80A8,				/* bits */
		0x2020, 0x4142, 0x2043, 0x4420, /* "  AB CD " */
		0x4241, 0x0A43,			/* "AB" "C\n" low byte first */
		0x4849, 0x2100, 0x5A5A,		/* "HI!" then NUL */
		0x5859, 0x5A00,			/* "XYZ" */
		200,				/* 200 * 0.5 - 40 = 60 */
		3,				/* 3000 */
		0x7FC0, 0x0000,			/* NaN */
	};
	struct regmap_block b = {1, REGMAP_HOLDING, 0, 33, regs};
	static const char *const f32s[] = {"f_abcd", "f_cdab", "f_badc", "f_dcba"};
	struct regmap_reading rd;
	struct regmap m;
	size_t i;

	CHECK_EQ_INT(load(map, &m), 0);
	if (!m.n)
		return;
	for (i = 0; i < 4; i++) {
		CHECK_EQ_INT(regmap_read(&m, find(&m, f32s[i]), &b, 1, &rd), 0);
		CHECK(rd.type == SAMPLE_FLOAT && (float)rd.f == 3.14159274f);
	}
	CHECK(!regmap_read(&m, find(&m, "u_abcd"), &b, 1, &rd) && rd.type == SAMPLE_INT &&
	      rd.i == 0x01020304);
	CHECK(!regmap_read(&m, find(&m, "u_dcba"), &b, 1, &rd) && rd.i == 0x04030201);
	CHECK(!regmap_read(&m, find(&m, "i_abcd"), &b, 1, &rd) && rd.i == -123456);
	CHECK(!regmap_read(&m, find(&m, "i_cdab"), &b, 1, &rd) && rd.i == -123456);
	CHECK(!regmap_read(&m, find(&m, "s16"), &b, 1, &rd) && rd.type == SAMPLE_INT &&
	      rd.i == -200);
	CHECK(!regmap_read(&m, find(&m, "s16s"), &b, 1, &rd) && rd.type == SAMPLE_FLOAT &&
	      rd.f == -20.0);
	CHECK(!regmap_read(&m, find(&m, "u16ba"), &b, 1, &rd) && rd.i == 0x1234);
	CHECK(!regmap_read(&m, find(&m, "hi"), &b, 1, &rd) && rd.i == 0x80);
	CHECK(!regmap_read(&m, find(&m, "lo"), &b, 1, &rd) && rd.i == 0x7F);
	CHECK(!regmap_read(&m, find(&m, "shi"), &b, 1, &rd) && rd.i == -128);
	CHECK(!regmap_read(&m, find(&m, "b3"), &b, 1, &rd) && rd.type == SAMPLE_INT && rd.i == 1);
	CHECK(!regmap_read(&m, find(&m, "b4"), &b, 1, &rd) && rd.i == 0xA);
	CHECK(!regmap_read(&m, find(&m, "b15"), &b, 1, &rd) && rd.i == 1);
	CHECK(!regmap_read(&m, find(&m, "txt"), &b, 1, &rd) && rd.type == SAMPLE_STRING &&
	      !strcmp(rd.s, "AB CD"));
	CHECK(!regmap_read(&m, find(&m, "txt_ba"), &b, 1, &rd) && !strcmp(rd.s, "ABC?"));
	CHECK(!regmap_read(&m, find(&m, "txt_nul"), &b, 1, &rd) && !strcmp(rd.s, "HI!"));
	CHECK(!regmap_read(&m, find(&m, "txt_odd"), &b, 1, &rd) && !strcmp(rd.s, "XYZ"));
	CHECK(!regmap_read(&m, find(&m, "off"), &b, 1, &rd) && rd.type == SAMPLE_FLOAT &&
	      rd.f == 60.0);
	CHECK(!strcmp(find(&m, "off")->unit, "C"));
	CHECK(!regmap_read(&m, find(&m, "k"), &b, 1, &rd) && rd.f == 3000.0);
	CHECK_EQ_INT(regmap_read(&m, find(&m, "nan"), &b, 1, &rd), -EDOM);
	/* a block that stops short of a value holds none of it */
	b.count = 32;
	CHECK_EQ_INT(regmap_read(&m, find(&m, "nan"), &b, 1, &rd), -ENOENT);
	regmap_free(&m);

	/* byteswap first, then the order: the registers of a PowMr-like
	 * device, 0x01020304 abcd */
	{
		static const uint16_t sw[3] = {0x0201, 0x0403, 0x3412};

		b = (struct regmap_block){7, REGMAP_INPUT, 100, 3, sw};
		CHECK_EQ_INT(load("byteswap = yes\nunit_id = 7\n"
				  "a m input 100 u32\nc m input 100 u32 order=cdab\n"
				  "t m input 102 ascii count=1\n",
				  &m),
			     0);
		CHECK(!regmap_read(&m, find(&m, "a"), &b, 1, &rd) && rd.i == 0x01020304);
		CHECK(!regmap_read(&m, find(&m, "c"), &b, 1, &rd) && rd.i == 0x03040102);
		/* 0x3412 swapped is 12 34: a control character, then '4' */
		CHECK(!regmap_read(&m, find(&m, "t"), &b, 1, &rd) && !strcmp(rd.s, "?4"));
		regmap_free(&m);
	}
	/* hex addresses, CRLF, commas, a value named derive */
	CHECK_EQ_INT(load("# header\r\na, m, holding, 0x10, u16\r\nderive m holding 0x11 u16\r\n"
			  "derive m.x = m.a + m.derive\r\n",
			  &m),
		     0);
	CHECK(m.n == 2 && m.v[0].address == 16 && m.v[1].address == 17 && m.nderive == 1);
	regmap_free(&m);
	/* leading 0 is decimal */
	CHECK_EQ_INT(load("a m holding 0100 u16\n", &m), 0);
	CHECK(m.n == 1 && m.v[0].address == 100);
	regmap_free(&m);
}

/* ---------------------------------------------------------------- loader errors */

static void bad(const char *text, const char *where, const char *why)
{
	struct regmap m;
	char err[256] = "";
	int r = regmap_load("t.map", text, strlen(text), &m, err, sizeof(err));
	bool ok = r == -EINVAL && !strncmp(err, where, strlen(where)) && strstr(err, why);

	if (!ok)
		fprintf(stderr, "want -EINVAL '%s ...%s', got %d '%s'\n", where, why, r, err);
	CHECK(ok);
	CHECK(m.n == 0 && m.v == NULL && m.sorted == NULL && m.derive == NULL);
}

#define A "a m holding 0 u16\n"

static void test_bad(void)
{
	char big[140 * 32], *p = big;
	int i;

	bad("", "t.map:1: ", "no values");
	bad("# nothing\n\n", "t.map:2: ", "no values");
	bad("a m holding 0 u17\n", "t.map:1: ", "unknown type 'u17'");
	bad(A "b m holding 12x u16\n", "t.map:2: ", "address '12x'");
	bad("b m holding -1 u16\n", "t.map:1: ", "address '-1'");
	bad("b m holding 65536 u16\n", "t.map:1: ", "address '65536'");
	bad("b m holding 0x1g u16\n", "t.map:1: ", "address '0x1g'");
	bad("b m holding 65535 u32\n", "t.map:1: ", "runs past address 65535");
	bad("b m holding 65530 ascii count=7\n", "t.map:1: ", "runs past address 65535");
	bad("b m holding 0 ascii count=0\n", "t.map:1: ", "count=0: an ascii value spans 1 to 31");
	bad("b m holding 0 ascii count=32\n", "t.map:1: ", "spans 1 to 31");
	bad("b m holding 0 ascii\n", "t.map:1: ", "needs count=N");
	bad("b m holding 0 u16 count=2\n", "t.map:1: ", "count is for ascii");
	bad(A "x n holding 5 u16\n"
	      "a m input 9 u16\n",
	    "t.map:3: ", "'a' is in m twice (first on line 1)");
	bad("a m holding 0 u32\nb m holding 1 u32\n",
	    "t.map:2: ", "overlaps 'a' (line 1, 0-1) only in part");
	bad("a m holding 10 ascii count=4\nb m holding 13 f32 order=cdab\n",
	    "t.map:2: ", "only in part");
	bad("a m holdin 0 u16\n", "t.map:1: ", "unknown table 'holdin'");
	bad("a m holding 0\n", "t.map:1: ", "NAME MEASUREMENT TABLE ADDRESS TYPE");
	bad("1a m holding 0 u16\n", "t.map:1: ", "value name '1a'");
	bad("a-b m holding 0 u16\n", "t.map:1: ", "value name 'a-b'");
	bad("a m.x holding 0 u16\n", "t.map:1: ", "measurement 'm.x'");
	bad("abcdefghijabcdefghijabcdefghijab m holding 0 u16\n", "t.map:1: ", "value name");
	bad("a m holding 0 u16 scal=2\n", "t.map:1: ", "unknown option 'scal'");
	bad("a m holding 0 u16 scale=2 scale=3\n", "t.map:1: ", "scale given twice");
	bad("a m holding 0 u16 scale\n", "t.map:1: ", "scale needs a value");
	bad("a m holding 0 u16 scale=\n", "t.map:1: ", "scale= without a value");
	bad("a m holding 0 u16 writable=yes\n", "t.map:1: ", "writable takes no value");
	bad("a m holding 0 u16 scale=0\n", "t.map:1: ", "scale=0: a number other than 0");
	bad("a m holding 0 u16 scale=inf\n", "t.map:1: ", "scale=inf");
	bad("a m holding 0 u16 scale=0x10\n", "t.map:1: ", "scale=0x10");
	bad("a m holding 0 u16 offset=nan\n", "t.map:1: ", "offset=nan: not a number");
	bad("a m holding 0 ascii count=1 scale=2\n", "t.map:1: ", "takes no scale or offset");
	bad("a m holding 0 bit\n", "t.map:1: ", "needs bit=N");
	bad("a m holding 0 bit bit=16\n", "t.map:1: ", "bit=16: 0 to 15");
	bad("a m holding 0 bit bit=12 width=5\n", "t.map:1: ", "width=5: 1 to 4 bits from bit 12");
	bad("a m holding 0 bit bit=1 width=0\n", "t.map:1: ", "width=0");
	bad("a m holding 0 u16 bit=1\n", "t.map:1: ", "bit and width are for bit values");
	bad("a m holding 0 u8\n", "t.map:1: ", "needs byte=hi or byte=lo");
	bad("a m holding 0 i8 byte=mid\n", "t.map:1: ", "needs byte=hi or byte=lo");
	bad("a m holding 0 u16 byte=hi\n", "t.map:1: ", "byte is for u8 and i8");
	bad("a m holding 0 u32 order=ab\n", "t.map:1: ", "order=ab is for one register");
	bad("a m holding 0 u16 order=abcd\n", "t.map:1: ", "order=abcd is for two registers");
	bad("a m holding 0 ascii count=2 order=cdab\n", "t.map:1: ", "is for two registers");
	bad("a m holding 0 bit bit=1 order=ba\n", "t.map:1: ", "takes no order");
	bad("a m holding 0 u16 order=bdca\n", "t.map:1: ", "unknown order 'bdca'");
	bad("a m input 0 u16 writable\n", "t.map:1: ", "input register");
	bad("a m holding 0 ascii count=2 writable\n", "t.map:1: ", "cannot be writable");
	bad("a m holding 0 u16 min=0\n", "t.map:1: ", "not writable");
	bad("a m holding 0 u16 writable min=5 max=1\n", "t.map:1: ", "min=5 is above max=1");
	bad("a m holding 0 u16 writable min=x\n", "t.map:1: ", "min=x: not a number");
	bad("a m holding 0 u16 scale=0.1 writable max=7000\n",
	    "t.map:1: ", "max=7000: u16 'a' holds 0 to 6553.5");
	bad("a m holding 0 i16 writable min=-40000\n", "t.map:1: ", "holds -32768 to 32767");
	bad("a m holding 0 u16 unit=abcdefghijklmnop\n", "t.map:1: ", "at most 15 characters");
	bad("a m holding 0 u16 unit=\xc2\xb0"
	    "C\n",
	    "t.map:1: ", "printable ASCII only");
	bad("a m holding 0 u16 unit_id=256\n", "t.map:1: ", "unit_id=256");
	/* read lines */
	bad("read coils 0 1\n" A, "t.map:1: ", "read: holding or input, not 'coils'");
	bad("read holding x 1\n" A, "t.map:1: ", "read: a start address 0 to 65535, not 'x'");
	bad("read holding 0 0\n" A, "t.map:1: ", "read: a count 1 to 125");
	bad("max_registers = 45\nread holding 0 46\n" A, "t.map:2: ", "read: a count 1 to 45");
	bad("read holding 65535 2\n" A, "t.map:1: ", "within the 65536 registers, not '2'");
	bad("boundary = 40\nread input 30 20\n" A,
	    "t.map:2: ", "read: 30+20 crosses a multiple of 40");
	bad("read holding 0 10\nread holding 9 2\n" A,
	    "t.map:2: ", "read: overlaps the read of 0+10");
	bad("read holding 0 10\nmax_gap = 2\n" A,
	    "t.map:2: ", "settings come before the read lines");
	/* settings */
	bad(A "max_gap = 3\n", "t.map:2: ", "settings come before the first value (line 1)");
	bad("max_gap = 3\nmax_gap=4\n" A, "t.map:2: ", "max_gap set twice (first on line 1)");
	bad("maxgap = 3\n" A, "t.map:1: ", "unknown setting 'maxgap'");
	bad("byteswap = maybe\n" A, "t.map:1: ", "byteswap = yes or no");
	bad("max_registers = 0\n" A, "t.map:1: ", "max_registers = 1 to 125");
	bad("max_registers = 126\n" A, "t.map:1: ", "max_registers = 1 to 125");
	bad("max_gap = 125\n" A, "t.map:1: ", "max_gap = 0 to 124");
	bad("unit_id = 5 6\n" A, "t.map:1: ", "unit_id = 0 to 255, not '5 6'");
	bad("boundary =\n" A, "t.map:1: ", "boundary = 0 (none) to 65535");
	bad("max_registers = 2\na m holding 0 ascii count=3\n",
	    "t.map:2: ", "spans 3 registers, more than one read takes (max_registers = 2)");
	bad("boundary = 40\na m holding 39 u32\n", "t.map:2: ", "crosses a multiple of 40");
	/* derivations */
	bad(A "derive m.x = m.a +\n", "t.map:2: ", "derive, column 19: the expression ends");
	bad(A "derive m.x = m.a $ 2\n", "t.map:2: ", "derive, column 18: unexpected '$'");
	bad(A "derive n.x = n.a\n", "t.map:2: ", "the map has no values in n");
	bad(A "derive m.x = m.b\n", "t.map:2: ", "m has no value or earlier derivation named b");
	bad(A "derive m.a = m.a * 2\n", "t.map:2: ", "a is a value already");
	bad(A "derive m.x = m.a\nderive m.x = m.a * 2\n", "t.map:3: ", "derived already on line 2");
	bad(A "derive m.x = m.y\nderive m.y = m.a\n", "t.map:2: ", "named y");
	bad(A "s m holding 1 ascii count=1\nderive m.x = m.s\n",
	    "t.map:3: ", "ascii, not a number");
	bad(A "derive m.x = n.a\n", "t.map:2: ", "same sample");
	/* text */
	{
		struct regmap m;
		char err[256];
		static const char nul[] = A "b m holding 1\0u16\n";

		CHECK_EQ_INT(regmap_load("t.map", nul, sizeof(nul) - 1, &m, err, sizeof(err)),
			     -EINVAL);
		CHECK(!strcmp(err, "t.map:2: a NUL byte: not a text file"));
	}
	{
		char line[REGMAP_LINE_MAX + 40];

		memset(line, ' ', sizeof(line));
		memcpy(line, A, strlen(A));
		line[sizeof(line) - 2] = 'x';
		line[sizeof(line) - 1] = 0;
		bad(line, "t.map:2: ", "longer than 1024");
	}
	/* 129 values in one measurement: more than a sample's fields */
	for (i = 0; i < 129; i++)
		p += sprintf(p, "v%d m holding %d u16\n", i, i);
	bad(big, "t.map:129: ", "more than 128 values in m");
	/* 128 values and one derivation: the same */
	p = big;
	for (i = 0; i < 128; i++)
		p += sprintf(p, "v%d m holding %d u16\n", i, i);
	sprintf(p, "derive m.x = m.v0\n");
	bad(big, "t.map:129: ", "more than 128 fields in m");
}

/* Loads that the rules allow. */
static void test_good(void)
{
	struct regmap m;

	/* values nest: a u32, its low word, a bit of it; the same name in
	 * two measurements; the same addresses in the other table and unit */
	CHECK_EQ_INT(load("a m holding 0 u32\nlo m holding 1 u16\nb m holding 1 bit bit=2\n"
			  "a n holding 0 f32\nc m input 1 u32\nd m holding 1 u32 unit_id=9\n",
			  &m),
		     0);
	CHECK_EQ_INT(m.n, 6);
	CHECK_EQ_INT(m.nmeas, 2);
	CHECK_EQ_INT(m.v[5].unit_id, 9);
	CHECK_EQ_INT(m.v[0].unit_id, REGMAP_DEFAULT_UNIT_ID);
	regmap_free(&m);
	/* a derivation may come before the values it uses, and use an
	 * earlier one */
	CHECK_EQ_INT(load("derive m.x = m.a * 2\nderive m.y = m.x + 1\n" A, &m), 0);
	CHECK_EQ_INT(m.nderive, 2);
	regmap_free(&m);
}

/* ---------------------------------------------------------------- plans */

static void plan(const char *text, int table, int unit, const uint16_t (*want)[2], size_t nwant)
{
	struct regmap_request rq[16];
	struct regmap m;
	size_t n = 0, i;

	if (load(text, &m)) {
		CHECK(!"map did not load");
		return;
	}
	CHECK_EQ_INT(regmap_plan(&m, table, unit, rq, 16, &n), 0);
	CHECK_EQ_INT(n, nwant);
	for (i = 0; i < n && i < nwant; i++) {
		if (rq[i].start != want[i][0] || rq[i].count != want[i][1])
			fprintf(stderr, "request %zu: %u+%u, want %u+%u\n", i, rq[i].start,
				rq[i].count, want[i][0], want[i][1]);
		CHECK(rq[i].start == want[i][0] && rq[i].count == want[i][1]);
	}
	regmap_free(&m);
}

static void test_plan(void)
{
	struct regmap_request rq[2];
	struct regmap m;
	size_t n = 0;

	/* gaps of 4 and 8 join (max_gap 8), 9 does not */
	plan("a m holding 0 u16\nb m holding 5 u16\nc m holding 14 u16\nd m holding 24 u16\n", -1,
	     -1, (const uint16_t[][2]){{0, 15}, {24, 1}}, 2);
	plan("max_gap = 0\na m holding 0 u16\nb m holding 1 u32\nc m holding 4 u16\n", -1, -1,
	     (const uint16_t[][2]){{0, 3}, {4, 1}}, 2);
	/* in any order in the file */
	plan("d m holding 24 u16\nb m holding 5 u16\na m holding 0 u16\n", -1, -1,
	     (const uint16_t[][2]){{0, 6}, {24, 1}}, 2);
	/* max_registers: 0..9 is 10, 10 starts the next */
	plan("max_registers = 10\na m holding 0 u16\nb m holding 5 u16\nc m holding 8 u32\n"
	     "d m holding 10 u16\n",
	     -1, -1, (const uint16_t[][2]){{0, 10}, {10, 1}}, 2);
	/* a u32 that would end past max_registers goes to the next read */
	plan("max_registers = 10\na m holding 0 u16\nc m holding 9 u32\n", -1, -1,
	     (const uint16_t[][2]){{0, 1}, {9, 2}}, 2);
	/* tables and units are kept apart, holding first, unit by unit */
	plan("a m holding 0 u16\nb m input 1 u16\nc m holding 2 u16\nd m holding 1 u16 unit_id=2\n",
	     -1, -1, (const uint16_t[][2]){{0, 3}, {1, 1}, {1, 1}}, 3);
	plan("a m holding 0 u16\nb m input 1 u16\nc m holding 2 u16\nd m holding 1 u16 unit_id=2\n",
	     REGMAP_INPUT, -1, (const uint16_t[][2]){{1, 1}}, 1);
	plan("a m holding 0 u16\nb m input 1 u16\nc m holding 2 u16\nd m holding 1 u16 unit_id=2\n",
	     REGMAP_HOLDING, 2, (const uint16_t[][2]){{1, 1}}, 1);
	plan("a m holding 0 u16\nb m input 1 u16\n", REGMAP_HOLDING, 7, NULL, 0);
	/* boundary: 38 and 41 are in different groups of 40 */
	plan("boundary = 40\na m holding 38 u16\nb m holding 41 u16\nc m holding 79 u16\n", -1, -1,
	     (const uint16_t[][2]){{38, 1}, {41, 1}, {79, 1}}, 3);
	/* boundary = 1: a device that answers single registers only */
	plan("boundary = 1\na m holding 3 u16\nb m holding 4 u16\n", -1, -1,
	     (const uint16_t[][2]){{3, 1}, {4, 1}}, 2);
	/* nested values: one read of the outer */
	plan("a m holding 0 u32\nb m holding 1 bit bit=3\nc m holding 0 u16\n", -1, -1,
	     (const uint16_t[][2]){{0, 2}}, 1);
	/* a long value holding shorter ones starts its own read: the reads
	 * do not overlap (a fuzzer's find) */
	plan("max_registers = 9\na m holding 0 u32\nb m holding 2 u32\nc m holding 2 ascii "
	     "count=5\n"
	     "e m holding 2 ascii count=8\nd m holding 6 i16\n",
	     -1, -1, (const uint16_t[][2]){{0, 2}, {2, 8}}, 2);
	/* read lines: made as they are, first; values they hold whole are not
	 * planned again, the others are (b is half outside 10+3) */
	plan("read holding 10 3\nread input 0 2\na m holding 11 u16\nb m holding 12 u32\n"
	     "c m input 1 u16\nd m holding 40 u16\n",
	     -1, -1, (const uint16_t[][2]){{10, 3}, {0, 2}, {12, 2}, {40, 1}}, 4);
	plan("read holding 10 3\nread input 0 2\na m holding 11 u16\nc m input 1 u16\n",
	     REGMAP_INPUT, -1, (const uint16_t[][2]){{0, 2}}, 1);
	/* a read line's unit is the unit_id set before it */
	plan("unit_id = 7\nread holding 0 4\na m holding 1 u16\nb m holding 1 u16 unit_id=3\n", -1,
	     3, (const uint16_t[][2]){{1, 1}}, 1);
	plan("unit_id = 7\nread holding 0 4\na m holding 1 u16\n", -1, 7,
	     (const uint16_t[][2]){{0, 4}}, 1);
	/* too small an array: -ENOSPC, and how many it takes */
	CHECK_EQ_INT(load("a m holding 0 u16\nb m holding 100 u16\nc m holding 200 u16\n", &m), 0);
	CHECK_EQ_INT(regmap_plan(&m, -1, -1, rq, 2, &n), -ENOSPC);
	CHECK_EQ_INT(n, 3);
	CHECK(rq[0].start == 0 && rq[1].start == 100);
	regmap_free(&m);
}

/* ---------------------------------------------------------------- samples */

static void test_sample(void)
{
	static const uint16_t regs[3] = {10, 0, 7};
	struct regmap_block b = {1, REGMAP_HOLDING, 0, 3, regs};
	static const struct sample_tag tags[] = {{"site", "home"}, {"dev", "x"}};
	struct sample_view vw;
	struct sample_field f;
	struct regmap m;
	struct sample s;

	CHECK_EQ_INT(load("a m holding 0 u16\nz m holding 1 u16\nc m holding 2 u16\n"
			  "d n holding 9 u16\n"
			  "derive m.q = m.a / m.z\nderive m.r = m.a + m.c\n"
			  "derive m.t = m.r * 2\nderive m.u = m.q + 1\n",
			  &m),
		     0);
	CHECK_EQ_INT(regmap_sample(&m, 0, tags, 2, &b, 1, 42, &s), 0);
	CHECK(sample_view_of(&vw, &s) > 0);
	CHECK(!strcmp(vw.measurement, "m") && vw.ntags == 2 && vw.ts_ns == 42);
	/* a, z, c; r, t; q divides by zero and u needs q: left out */
	CHECK_EQ_INT(vw.nfields, 5);
	check_int(&s, "a", 10);
	check_float(&s, "r", 17);
	check_float(&s, "t", 34);
	CHECK(!sample_field_get(&vw, "q", &f) && !sample_field_get(&vw, "u", &f));
	sample_free(&s);
	/* n's register was not read */
	CHECK_EQ_INT(regmap_sample(&m, 1, NULL, 0, &b, 1, 42, &s), -ENODATA);
	sample_free(&s);
	/* a measurement index that is not one */
	CHECK_EQ_INT(regmap_sample(&m, 2, NULL, 0, &b, 1, 42, &s), -EINVAL);
	sample_free(&s);
	regmap_free(&m);
}

/* ---------------------------------------------------------------- writes */

static void test_encode(void)
{
	struct regmap_reading rd;
	struct regmap_block b = {1, REGMAP_HOLDING, 0, 2, NULL};
	static const char *const f32s[] = {"f_abcd", "f_cdab", "f_badc", "f_dcba"};
	static const uint16_t f32w[4][2] = {
		{0x4049, 0x0FDB}, {0x0FDB, 0x4049}, {0x4940, 0xDB0F}, {0xDB0F, 0x4940}};
	uint16_t w[2];
	struct regmap m;
	size_t i;

	CHECK_EQ_INT(load("v m holding 0 u16 scale=0.1 unit=V writable min=0 max=100\n"
			  "ro m holding 1 u16\n"
			  "t m holding 2 i16 scale=0.1 writable\n"
			  "e m holding 3 u32 order=cdab scale=0.1 writable\n"
			  "n m holding 5 i32 writable\n"
			  "f_abcd m holding 10 f32 writable\n"
			  "f_cdab m holding 12 f32 order=cdab writable\n"
			  "f_badc m holding 14 f32 order=badc writable\n"
			  "f_dcba m holding 16 f32 order=dcba writable\n"
			  "w m holding 18 u16 writable\n"
			  "b m holding 19 bit bit=4 width=3 writable\n"
			  "s m holding 20 i8 byte=hi writable\n"
			  "o m holding 21 u16 scale=0.5 offset=-40 writable min=-40 max=50\n"
			  "g m holding 22 f32 scale=2 writable\n",
			  &m),
		     0);
	if (!m.n)
		return;
	CHECK_EQ_INT(regmap_encode(&m, find(&m, "v"), 25.5, w), 0);
	CHECK_EQ_INT(w[0], 255);
	CHECK_EQ_INT(regmap_encode(&m, find(&m, "v"), 0.3, w), 0); /* 0.3 * 10 is 3, within */
	CHECK_EQ_INT(w[0], 3);
	CHECK_EQ_INT(regmap_encode(&m, find(&m, "v"), 25.55, w), -EINVAL);
	CHECK_EQ_INT(regmap_encode(&m, find(&m, "v"), 100.1, w), -ERANGE);
	CHECK_EQ_INT(regmap_encode(&m, find(&m, "v"), -0.1, w), -ERANGE);
	CHECK_EQ_INT(regmap_encode(&m, find(&m, "v"), NAN, w), -EDOM);
	CHECK_EQ_INT(regmap_encode(&m, find(&m, "v"), INFINITY, w), -EDOM);
	CHECK_EQ_INT(regmap_encode(&m, find(&m, "ro"), 1, w), -EPERM);
	CHECK_EQ_INT(regmap_encode(&m, find(&m, "t"), -20.0, w), 0);
	CHECK_EQ_INT(w[0], 0xFF38);
	CHECK_EQ_INT(regmap_encode(&m, find(&m, "t"), 3276.8, w), -ERANGE);
	CHECK_EQ_INT(regmap_encode(&m, find(&m, "e"), 12345.6, w), 0);
	CHECK(w[0] == 0xE240 && w[1] == 0x0001);
	CHECK_EQ_INT(regmap_encode(&m, find(&m, "n"), -123456, w), 0);
	CHECK(w[0] == 0xFFFE && w[1] == 0x1DC0);
	CHECK_EQ_INT(regmap_encode(&m, find(&m, "n"), 2147483648.0, w), -ERANGE);
	for (i = 0; i < 4; i++) {
		CHECK_EQ_INT(regmap_encode(&m, find(&m, f32s[i]), 3.14159274f, w), 0);
		CHECK(w[0] == f32w[i][0] && w[1] == f32w[i][1]);
		/* and back */
		b.start = find(&m, f32s[i])->address;
		b.regs = w;
		CHECK(!regmap_read(&m, find(&m, f32s[i]), &b, 1, &rd) &&
		      (float)rd.f == 3.14159274f);
	}
	CHECK_EQ_INT(regmap_encode(&m, find(&m, "f_abcd"), 1e39, w), -ERANGE);
	CHECK_EQ_INT(regmap_encode(&m, find(&m, "g"), 3.0, w), 0); /* 1.5 * 2 */
	CHECK(w[0] == 0x3FC0 && w[1] == 0);
	/* the type's range when there is no min/max */
	CHECK_EQ_INT(regmap_encode(&m, find(&m, "w"), 65535, w), 0);
	CHECK_EQ_INT(w[0], 65535);
	CHECK_EQ_INT(regmap_encode(&m, find(&m, "w"), 65536, w), -ERANGE);
	CHECK_EQ_INT(regmap_encode(&m, find(&m, "w"), -1, w), -ERANGE);
	/* a bit field keeps the register's other bits */
	w[0] = 0xFFFF;
	CHECK_EQ_INT(regmap_encode(&m, find(&m, "b"), 2, w), 0);
	CHECK_EQ_INT(w[0], 0xFFAF);
	CHECK_EQ_INT(regmap_encode(&m, find(&m, "b"), 8, w), -ERANGE);
	CHECK_EQ_INT(w[0], 0xFFAF);
	w[0] = 0x00FF;
	CHECK_EQ_INT(regmap_encode(&m, find(&m, "s"), -2, w), 0);
	CHECK_EQ_INT(w[0], 0xFEFF);
	CHECK_EQ_INT(regmap_encode(&m, find(&m, "s"), 128, w), -ERANGE);
	CHECK_EQ_INT(regmap_encode(&m, find(&m, "o"), 10, w), 0);
	CHECK_EQ_INT(w[0], 100);
	CHECK_EQ_INT(regmap_encode(&m, find(&m, "o"), 10.2, w), -EINVAL);
	CHECK_EQ_INT(regmap_encode(&m, find(&m, "o"), 50.5, w), -ERANGE);
	regmap_free(&m);

	/* byteswap: written as the device keeps them */
	CHECK_EQ_INT(load("byteswap = yes\nv m holding 0 u16 scale=0.1 writable\n"
			  "h m holding 1 u8 byte=hi writable\nl m holding 2 u32 writable\n",
			  &m),
		     0);
	CHECK_EQ_INT(regmap_encode(&m, find(&m, "v"), 25.0, w), 0);
	CHECK_EQ_INT(w[0], 0xFA00);
	w[0] = 0x3412; /* 0x1234 as read */
	CHECK_EQ_INT(regmap_encode(&m, find(&m, "h"), 0xAB, w), 0);
	CHECK_EQ_INT(w[0], 0x34AB);
	CHECK_EQ_INT(regmap_encode(&m, find(&m, "l"), 0x01020304, w), 0);
	CHECK(w[0] == 0x0201 && w[1] == 0x0403);
	regmap_free(&m);
}

/* ---------------------------------------------------------------- files */

static void test_path(void)
{
	struct regmap m;
	char out[64], err[256];

	CHECK_EQ_INT(regmap_path("/usr/share/powerd", "powmr-lvm", out, sizeof(out)), 0);
	CHECK(!strcmp(out, "/usr/share/powerd/maps/powmr-lvm.map"));
	CHECK_EQ_INT(regmap_path("/d", "./mine.map", out, sizeof(out)), 0);
	CHECK(!strcmp(out, "./mine.map"));
	CHECK_EQ_INT(regmap_path("/d", "mine.map", out, sizeof(out)), 0);
	CHECK(!strcmp(out, "mine.map"));
	CHECK_EQ_INT(regmap_path("/d", "/etc/powerd/x", out, sizeof(out)), 0);
	CHECK(!strcmp(out, "/etc/powerd/x"));
	CHECK_EQ_INT(regmap_path("/d", "", out, sizeof(out)), -EINVAL);
	CHECK_EQ_INT(regmap_path("/d", "my map", out, sizeof(out)), -EINVAL);
	CHECK_EQ_INT(regmap_path("/d", "..", out, sizeof(out)), -EINVAL);
	CHECK_EQ_INT(regmap_path("/d", ".map", out, sizeof(out)), -EINVAL);
	CHECK_EQ_INT(regmap_path("/a/long/data/dir", "eg4-input", out, 20), -ENAMETOOLONG);
	/* the shipped maps by name, from the tree's share/ */
	CHECK_EQ_INT(regmap_path("share", "eg4-input", out, sizeof(out)), 0);
	CHECK_EQ_INT(regmap_load_file(out, &m, err, sizeof(err)), 0);
	regmap_free(&m);
	CHECK_EQ_INT(regmap_load_file("share/maps/none.map", &m, err, sizeof(err)), -ENOENT);
	CHECK(!strncmp(err, "share/maps/none.map: ", 21));
	CHECK(m.n == 0 && m.v == NULL);
	CHECK_EQ_INT(regmap_load_file("share/maps", &m, err, sizeof(err)), -EIO);
	/* errors name the file */
	CHECK_EQ_INT(regmap_load_file("Makefile", &m, err, sizeof(err)), -EINVAL);
	CHECK(!strncmp(err, "Makefile:", 9));
	CHECK(!strcmp(regmap_type_name(REGMAP_ASCII), "ascii") &&
	      !strcmp(regmap_table_name(REGMAP_INPUT), "input"));
}

int main(void)
{
	test_powmr();
	test_eg4();
	test_types();
	test_bad();
	test_good();
	test_plan();
	test_sample();
	test_encode();
	test_path();
	return check_result();
}

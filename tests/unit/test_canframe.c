/* The CAN log formats: candump lines good and bad with their reasons, the
 * real captures round-tripping byte for byte, and the SavvyCAN CSV export. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "canframe.h"
#include "check.h"

struct good {
	const char *line;
	const char *canon; /* what formatting gives back; NULL: the line itself */
	uint32_t id;
	bool ext, rtr, fd, err, has_ts;
	unsigned len, dlc_raw, flags;
	const char *hex; /* the data bytes, as hex */
};

static void check_data(const struct canframe *f, const char *hex)
{
	size_t i, n = strlen(hex) / 2;

	CHECK_EQ_INT(f->len == n || f->rtr, 1);
	for (i = 0; i < n && i < CANFRAME_FD_MAX; i++) {
		unsigned v;

		sscanf(hex + 2 * i, "%2x", &v);
		CHECK_EQ_INT(f->data[i], v);
	}
}

static void test_good(void)
{
	static const struct good cases[] = {
		{"(1744106964.391863) can0 10A03130#5A45354830363031", NULL, 0x10A03130, true,
		 false, false, false, true, 8, 0, 0, "5A45354830363031"},
		{"(1744106964.391863) can0 10A03130#5A45354830363031\n",
		 "(1744106964.391863) can0 "
		 "10A03130#5A45354830363031",
		 0x10A03130, true, false, false, false, true, 8, 0, 0, "5A45354830363031"},
		{"(0000000001.000001) vcan0 123#\r\n", "(0000000001.000001) vcan0 123#", 0x123,
		 false, false, false, false, true, 0, 0, 0, ""},
		{"123#DEADBEEF", NULL, 0x123, false, false, false, false, false, 4, 0, 0,
		 "DEADBEEF"},
		{"7ff#de.ad.be.ef", "7FF#DEADBEEF", 0x7FF, false, false, false, false, false, 4, 0,
		 0, "DEADBEEF"},
		{"000#00", NULL, 0, false, false, false, false, false, 1, 0, 0, "00"},
		{"1fffffff#11", "1FFFFFFF#11", 0x1FFFFFFF, true, false, false, false, false, 1, 0,
		 0, "11"},
		{"00000123#", NULL, 0x123, true, false, false, false, false, 0, 0, 0, ""},
		{"123#R", NULL, 0x123, false, true, false, false, false, 0, 0, 0, ""},
		{"123#r0", "123#R", 0x123, false, true, false, false, false, 0, 0, 0, ""},
		{"123#R7", NULL, 0x123, false, true, false, false, false, 7, 0, 0, ""},
		{"12345678#R8_9", NULL, 0x12345678, true, true, false, false, false, 8, 9, 0, ""},
		{"123#1122334455667788_E", NULL, 0x123, false, false, false, false, false, 8, 14, 0,
		 "1122334455667788"},
		{"123#11.22.33.44.55.66.77.88_f", "123#1122334455667788_F", 0x123, false, false,
		 false, false, false, 8, 15, 0, "1122334455667788"},
		{"20000004#0004000000000000", NULL, 4, false, false, false, true, false, 8, 0, 0,
		 "0004000000000000"},
		{"(1.000000) can1 3FFFFFFF#", "(0000000001.000000) can1 3FFFFFFF#", 0x1FFFFFFF,
		 false, false, false, true, true, 0, 0, 0, ""},
		{"123##1", NULL, 0x123, false, false, true, false, false, 0, 0, 1, ""},
		{"123##311223344556677889900AABB", NULL, 0x123, false, false, true, false, false,
		 12, 0, 3, "11223344556677889900AABB"},
		{"12345678##0"
		 "000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F"
		 "202122232425262728292A2B2C2D2E2F303132333435363738393A3B3C3D3E3F",
		 NULL, 0x12345678, true, false, true, false, false, 64, 0, 0,
		 "000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F"
		 "202122232425262728292A2B2C2D2E2F303132333435363738393A3B3C3D3E3F"},
		/* candump pads interface names to a common width */
		{"(1744106964.000000)  can0  123#01", "(1744106964.000000) can0 123#01", 0x123,
		 false, false, false, false, true, 1, 0, 0, "01"},
		{"(18446744072.999999) can0 123#", NULL, 0x123, false, false, false, false, true, 0,
		 0, 0, ""},
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct good *c = &cases[i];
		struct canframe f, g;
		const char *why = NULL;
		char out[CANFRAME_FORMAT_MAX];
		int r = canframe_parse_candump(c->line, strlen(c->line), &f, &why);

		if (r)
			fprintf(stderr, "good case '%s': %s\n", c->line, why);
		CHECK_EQ_INT(r, 0);
		if (r)
			continue;
		CHECK_EQ_INT(f.id, c->id);
		CHECK_EQ_INT(f.ext, c->ext);
		CHECK_EQ_INT(f.rtr, c->rtr);
		CHECK_EQ_INT(f.fd, c->fd);
		CHECK_EQ_INT(f.err, c->err);
		CHECK_EQ_INT(f.has_ts, c->has_ts);
		CHECK_EQ_INT(f.len, c->len);
		CHECK_EQ_INT(f.dlc_raw, c->dlc_raw);
		CHECK_EQ_INT(f.flags, c->flags);
		check_data(&f, c->hex);
		CHECK_EQ_INT(canframe_format_candump(&f, out, sizeof(out)), 0);
		if (strcmp(out, c->canon ? c->canon : c->line))
			fprintf(stderr, "good case '%s' formats as '%s'\n", c->line, out);
		CHECK(!strcmp(out, c->canon ? c->canon : c->line));
		CHECK_EQ_INT(canframe_parse_candump(out, strlen(out), &g, &why), 0);
		CHECK(!memcmp(&f, &g, sizeof(f)));
	}
	/* The time is exact to the microsecond. */
	{
		struct canframe f;
		const char *why;
		const char *l = "(1744106964.391863) can0 123#";

		CHECK_EQ_INT(canframe_parse_candump(l, strlen(l), &f, &why), 0);
		CHECK(f.ts_ns == UINT64_C(1744106964391863000));
		CHECK(!strcmp(f.iface, "can0"));
		/* not NUL-terminated: the length bounds the parse */
		CHECK_EQ_INT(canframe_parse_candump("123#1122garbage", 8, &f, &why), 0);
		CHECK_EQ_INT(f.len, 2);
	}
}

struct bad {
	const char *line;
	const char *why;
};

static void test_bad(void)
{
	static const struct bad cases[] = {
		{"", "empty line"},
		{"\n", "empty line"},
		{"123", "no '#'"},
		{"(1.000000) can0 123", "no '#'"},
		{"12#00", "bad id (not 3 or 8 hex digits)"},
		{"1234#00", "bad id (not 3 or 8 hex digits)"},
		{"12G#00", "bad id (not hex)"},
		{"800#00", "bad id (11-bit id above 7FF)"},
		{"60000000#00", "bad id (flags beyond the error flag)"},
		{"40000000#00", "bad id (29-bit id above 1FFFFFFF)"},
		{"80000123#00", "bad id (29-bit id above 1FFFFFFF)"},
		{"123#123", "odd number of hex digits"},
		{"123#1.23", "odd number of hex digits"},
		{"123#112233445566778899", "more than 8 bytes in a classical frame"},
		{"123##0"
		 "000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F"
		 "202122232425262728292A2B2C2D2E2F303132333435363738393A3B3C3D3E3F40",
		 "more than 64 bytes in a CAN FD frame"},
		{"123##0112233445566778899",
		 "not a CAN FD length (0-8, 12, 16, 20, 24, 32, 48, 64)"},
		{"123##", "no CAN FD flags digit after '##'"},
		{"123##G", "no CAN FD flags digit after '##'"},
		{"123#.11", "misplaced '.'"},
		{"123#11.", "misplaced '.'"},
		{"123#11..22", "misplaced '.'"},
		{"123#1G", "bad hex digit in the data"},
		{"123#11_9", "raw DLC '_' only after 8 classical bytes"},
		{"123##01122334455667788_9", "raw DLC '_' only after 8 classical bytes"},
		{"123#1122334455667788_8", "raw DLC is not one digit 9-F"},
		{"123#1122334455667788_", "raw DLC is not one digit 9-F"},
		{"123#1122334455667788_9A", "raw DLC is not one digit 9-F"},
		{"123#R9", "remote frame length is not 0-8"},
		{"123#R7_9", "junk after the remote frame length"},
		{"123#R8_7", "raw DLC is not one digit 9-F"},
		{"20000004#R", "an error frame cannot be a remote frame"},
		{"20000004##0", "an error frame cannot be CAN FD"},
		{"can0 123#00", "junk after the frame (or an interface without a time)"},
		{"(1.000000) can0 123#00 R",
		 "junk after the frame (or an interface without a time)"},
		{"(1.00000) can0 123#", "bad time (not 6 decimals)"},
		{"(1.0000000) can0 123#", "bad time (not 6 decimals and ')')"},
		{"(1) can0 123#", "bad time (not \"(SECONDS.MICROSECONDS)\")"},
		{"(.000000) can0 123#", "bad time (not \"(SECONDS.MICROSECONDS)\")"},
		{"(18446744073.000000) can0 123#", "time too large"},
		{"(1.000000)can0 123#", "no blank after the time"},
		{"(1.000000) ", "no interface"},
		{"(1.000000) can0", "no frame after the interface"},
		{"(1.000000) can0123456789abc 123#", "interface name longer than 15"},
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct canframe f;
		const char *why = NULL;
		int r = canframe_parse_candump(cases[i].line, strlen(cases[i].line), &f, &why);

		if (r != -EINVAL || !why || strcmp(why, cases[i].why))
			fprintf(stderr, "bad case '%s': %d '%s'\n", cases[i].line, r,
				why ? why : "(null)");
		CHECK_EQ_INT(r, -EINVAL);
		CHECK(why && !strcmp(why, cases[i].why));
	}
}

/* Frames the format has no line for, and a buffer too small. */
static void test_format_errors(void)
{
	struct canframe f;
	char out[CANFRAME_FORMAT_MAX];
	const char *why;

	CHECK_EQ_INT(canframe_parse_candump("123#11", 6, &f, &why), 0);
	CHECK_EQ_INT(canframe_format_candump(&f, out, 7), 0);
	CHECK(!strcmp(out, "123#11"));
	CHECK_EQ_INT(canframe_format_candump(&f, out, 6), -ENOSPC);
	f.has_ts = true; /* a time without an interface */
	CHECK_EQ_INT(canframe_format_candump(&f, out, sizeof(out)), -EINVAL);
	f.has_ts = false;
	strcpy(f.iface, "can0"); /* an interface without a time */
	CHECK_EQ_INT(canframe_format_candump(&f, out, sizeof(out)), -EINVAL);
	f.iface[0] = '\0';
	f.len = 9;
	CHECK_EQ_INT(canframe_format_candump(&f, out, sizeof(out)), -EINVAL);
	f.len = 2;
	f.id = 0x800;
	CHECK_EQ_INT(canframe_format_candump(&f, out, sizeof(out)), -EINVAL);
	f.id = 0x123;
	f.dlc_raw = 9; /* only after 8 bytes */
	CHECK_EQ_INT(canframe_format_candump(&f, out, sizeof(out)), -EINVAL);
	f.dlc_raw = 0;
	f.fd = true;
	f.len = 9;
	CHECK_EQ_INT(canframe_format_candump(&f, out, sizeof(out)), -EINVAL);
	f.len = 12;
	CHECK_EQ_INT(canframe_format_candump(&f, out, sizeof(out)), 0);
	f.rtr = true;
	CHECK_EQ_INT(canframe_format_candump(&f, out, sizeof(out)), -EINVAL);
	/* A time below the microsecond is dropped. */
	CHECK_EQ_INT(canframe_parse_candump("123#", 4, &f, &why), 0);
	f.has_ts = true;
	f.ts_ns = UINT64_C(1000001999);
	strcpy(f.iface, "can0");
	CHECK_EQ_INT(canframe_format_candump(&f, out, sizeof(out)), 0);
	CHECK(!strcmp(out, "(0000000001.000001) can0 123#"));
}

/* Every line of a real capture parses and formats back byte for byte. */
static void test_capture(const char *path, size_t want_lines, bool final_newline)
{
	size_t len, n = 0, bad = 0, diff = 0;
	char *t = check_slurp(path, &len);
	const char *p;
	uint64_t last = 0;

	CHECK(t != NULL);
	if (!t)
		return;
	CHECK_EQ_INT(len && t[len - 1] == '\n', final_newline);
	for (p = t; p < t + len;) {
		const char *nl = memchr(p, '\n', (size_t)(t + len - p));
		size_t body = nl ? (size_t)(nl - p) : (size_t)(t + len - p);
		struct canframe f;
		char out[CANFRAME_FORMAT_MAX];
		const char *why;

		n++;
		if (canframe_parse_candump(p, nl ? body + 1 : body, &f, &why) != 0) {
			if (bad++ < 5)
				fprintf(stderr, "%s:%zu: %s\n", path, n, why);
		} else {
			if (canframe_format_candump(&f, out, sizeof(out)) != 0 ||
			    strlen(out) != body || memcmp(out, p, body))
				if (diff++ < 5)
					fprintf(stderr, "%s:%zu: formats as '%s'\n", path, n, out);
			/* what PROTOCOLS.md says of these logs */
			CHECK(f.has_ts && f.ext && !f.rtr && !f.fd && !f.err);
			CHECK(f.len >= 1 && f.len <= 8);
			CHECK(f.ts_ns >= last);
			last = f.ts_ns;
		}
		p += nl ? body + 1 : body;
	}
	CHECK_EQ_INT(n, want_lines);
	CHECK_EQ_INT(bad, 0);
	CHECK_EQ_INT(diff, 0);
	free(t);
}

static void test_savvycsv(void)
{
	static const struct bad bad[] = {
		{"", "empty line"},
		{"x,00431403,true,Rx,0,8,07,AA,02,01,00,A0,2C,87,",
		 "bad time stamp (not decimal microseconds)"},
		{"0,,true,Rx,0,8,07,AA,02,01,00,A0,2C,87,", "bad id"},
		{"0,123456789,true,Rx,0,8,07,AA,02,01,00,A0,2C,87,", "bad id"},
		{"0,20000000,true,Rx,0,8,07,AA,02,01,00,A0,2C,87,", "bad id"},
		{"0,800,false,Rx,0,8,07,AA,02,01,00,A0,2C,87,", "bad id (11-bit id above 7FF)"},
		{"0,00431403,yes,Rx,0,8,07,AA,02,01,00,A0,2C,87,", "Extended is not true or false"},
		{"0,00431403,true,In,0,8,07,AA,02,01,00,A0,2C,87,", "Dir is not Rx or Tx"},
		{"0,00431403,true,Rx,x,8,07,AA,02,01,00,A0,2C,87,", "bad bus number"},
		{"0,00431403,true,Rx,0,9,07,AA,02,01,00,A0,2C,87,", "LEN is not 0-8"},
		{"0,00431403,true,Rx,0,8,07,AA,02,01,00,A0,2C", "too few fields"},
		{"0,00431403,true,Rx,0,8,07,AA,02,01,00,A0,2C,",
		 "a data byte is not two hex digits"},
		{"0,00431403,true,Rx,0,8,07,AA,02,01,00,A0,2C,7,",
		 "a data byte is not two hex digits"},
		{"0,00431403,true,Rx,0,8,07,AA,02,01,00,A0,2C,87,00,", "more than 8 data bytes"},
		{"0,00431403", "too few fields"},
		{"Time Stamp,ID,Extended,Dir,Bus,LEN,D1,D2,D3,D4,D5,D6,D7,D8",
		 "bad time stamp (not decimal microseconds)"},
	};
	const char *hdr = "Time Stamp,ID,Extended,Dir,Bus,LEN,D1,D2,D3,D4,D5,D6,D7,D8\n";
	struct canframe f;
	const char *why = NULL;
	size_t i;

	CHECK(canframe_savvycsv_is_header(hdr, strlen(hdr)));
	CHECK(!canframe_savvycsv_is_header("0,00431403,true,Rx,0,8,", 23));
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int r = canframe_parse_savvycsv(bad[i].line, strlen(bad[i].line), &f, &why);

		if (r != -EINVAL || !why || strcmp(why, bad[i].why))
			fprintf(stderr, "bad csv '%s': %d '%s'\n", bad[i].line, r,
				why ? why : "(null)");
		CHECK_EQ_INT(r, -EINVAL);
		CHECK(why && !strcmp(why, bad[i].why));
	}
	/* A time stamp, a standard id, no trailing comma, lowercase, CRLF. */
	{
		const char *l = "1744106964391863,7ff,False,Tx,1,2,ab,cd,ef,00,00,00,00,00\r\n";

		CHECK_EQ_INT(canframe_parse_savvycsv(l, strlen(l), &f, &why), 0);
		CHECK(f.has_ts && f.ts_ns == UINT64_C(1744106964391863000));
		CHECK_EQ_INT(f.id, 0x7FF);
		CHECK(!f.ext && f.len == 2 && f.data[0] == 0xAB && f.data[1] == 0xCD);
		CHECK_EQ_INT(f.data[2], 0); /* padding is not kept */
		CHECK_EQ_INT(f.iface[0], '\0');
	}
}

/* The SavvyCAN capture: the header, then 51823 rows that all parse. */
static void test_savvycsv_capture(void)
{
	static const struct {
		uint32_t id;
		unsigned len;
		const char *hex;
	} first[] = {
		{0x00431403, 8, "07AA020100A02C87"},
		{0x00831403, 8, "07200900014B1403"},
		{0x00C31403, 6, "05015087D5FD"},
		{0x00431406, 8, "07AA020100A02C88"},
	};
	size_t len, n = 0, bad = 0;
	char *t = check_slurp("tests/fixtures/can/delta.later.AC.out.on.csv", &len);
	const char *p;

	CHECK(t != NULL);
	if (!t)
		return;
	for (p = t; p < t + len;) {
		const char *nl = memchr(p, '\n', (size_t)(t + len - p));
		size_t n1 = nl ? (size_t)(nl - p + 1) : (size_t)(t + len - p);
		struct canframe f;
		const char *why;

		if (p == t) {
			CHECK(canframe_savvycsv_is_header(p, n1));
		} else if (canframe_parse_savvycsv(p, n1, &f, &why) != 0) {
			if (bad++ < 5)
				fprintf(stderr, "csv row %zu: %s\n", n + 1, why);
			n++;
		} else {
			if (n < sizeof(first) / sizeof(first[0])) {
				CHECK_EQ_INT(f.id, first[n].id);
				CHECK_EQ_INT(f.len, first[n].len);
				check_data(&f, first[n].hex);
			}
			CHECK(!f.has_ts && f.ext);
			n++;
		}
		p += n1;
	}
	CHECK_EQ_INT(n, 51823);
	CHECK_EQ_INT(bad, 0);
	free(t);
}

/* Receive filters: candump's syntax, the kernel's rule. */
static void test_filters(void)
{
	struct canframe_filter f[CANFRAME_FILTERS_MAX];
	char why[128];
	int n;

	CHECK_EQ_INT(canframe_parse_filters("", f, CANFRAME_FILTERS_MAX, why, sizeof(why)), 0);
	CHECK_EQ_INT(canframe_parse_filters("  ", f, CANFRAME_FILTERS_MAX, why, sizeof(why)), 0);
	CHECK(canframe_filter_pass(f, 0, 0x123, false));

	n = canframe_parse_filters("10000000:10000000, 123:7FF ,00000000~1FC00000", f,
				   CANFRAME_FILTERS_MAX, why, sizeof(why));
	CHECK_EQ_INT(n, 3);
	CHECK(f[0].ext && !f[0].inverted && f[0].id == 0x10000000 && f[0].mask == 0x10000000);
	CHECK(!f[1].ext && f[1].id == 0x123 && f[1].mask == 0x7FF);
	CHECK(f[2].ext && f[2].inverted && f[2].mask == 0x1FC00000);
	/* the first alone: extended ids with bit 28 */
	CHECK(canframe_filter_pass(f, 1, 0x10603001, true));
	CHECK(!canframe_filter_pass(f, 1, 0x00461403, true));
	CHECK(!canframe_filter_pass(f, 1, 0x123, false));
	/* 123:7FF passes the standard frame only, not an extended 0x123 */
	CHECK(canframe_filter_pass(f + 1, 1, 0x123, false));
	CHECK(!canframe_filter_pass(f + 1, 1, 0x123, true));
	/* inverted: extended frames whose bits 22-28 are not all 0 */
	CHECK(canframe_filter_pass(f + 2, 1, 0x00461403, true));
	CHECK(!canframe_filter_pass(f + 2, 1, 0x00001403, true));
	CHECK(!canframe_filter_pass(f + 2, 1, 0x123, false));
	/* any of them */
	CHECK(canframe_filter_pass(f, 3, 0x00461403, true));
	CHECK(!canframe_filter_pass(f, 3, 0x124, false));

	/* mistakes name the item */
	CHECK_EQ_INT(canframe_parse_filters("12g:7FF", f, 4, why, sizeof(why)), -EINVAL);
	CHECK(strstr(why, "12g:7FF") != NULL);
	CHECK_EQ_INT(canframe_parse_filters("123", f, 4, why, sizeof(why)), -EINVAL);
	CHECK_EQ_INT(canframe_parse_filters("123:", f, 4, why, sizeof(why)), -EINVAL);
	CHECK_EQ_INT(canframe_parse_filters("123:7FF,", f, 4, why, sizeof(why)), -EINVAL);
	CHECK_EQ_INT(canframe_parse_filters("123:FFF", f, 4, why, sizeof(why)), -EINVAL);
	CHECK(strstr(why, "11 bits") != NULL);
	CHECK_EQ_INT(canframe_parse_filters("123456789:1", f, 4, why, sizeof(why)), -EINVAL);
	CHECK_EQ_INT(canframe_parse_filters("20000000:1", f, 4, why, sizeof(why)), -EINVAL);
	CHECK_EQ_INT(canframe_parse_filters("1:1 2:2", f, 4, why, sizeof(why)), -EINVAL);
	CHECK(strstr(why, "commas") != NULL);
	CHECK_EQ_INT(canframe_parse_filters("1:1,2:2,3:3", f, 2, why, sizeof(why)), -E2BIG);
}

int main(void)
{
	test_filters();
	test_good();
	test_bad();
	test_format_errors();
	test_capture("tests/fixtures/can/ef_lfp_battery_pre-fw-update-modVer-1.1.1.141.log", 7833,
		     true);
	test_capture("tests/fixtures/can/single-message-3C.log", 19, false);
	test_savvycsv();
	test_savvycsv_capture();
	return check_result();
}

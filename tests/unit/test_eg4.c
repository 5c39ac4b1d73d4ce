/* The EG4 dongle protocol: every golden vector of PROTOCOLS.md 1.4 built
 * byte for byte and parsed back, reply matching, each parse error, and the
 * framer on garbage, split frames and impossible lengths. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "crc.h"
#include "eg4.h"

#define DL "2222222222"
#define SN "5555555555"

/* head, DL, mid, SN, tail: the shape of every golden TranslatedData frame. */
static size_t golden(uint8_t *out, const uint8_t *head, size_t nh, const uint8_t *mid, size_t nm,
		     const uint8_t *tail, size_t nt)
{
	size_t k = 0;

	memcpy(out + k, head, nh);
	k += nh;
	memcpy(out + k, DL, 10);
	k += 10;
	memcpy(out + k, mid, nm);
	k += nm;
	memcpy(out + k, SN, 10);
	k += 10;
	memcpy(out + k, tail, nt);
	return k + nt;
}

#define GOLDEN(out, h, m, t) golden(out, h, sizeof(h), m, sizeof(m), t, sizeof(t))

static const uint8_t hd1[] = {161, 26, 1, 0, 32, 0, 1, 194};
static const uint8_t hd2[] = {161, 26, 2, 0, 32, 0, 1, 194};

/* A reply frame written independently of the builders: header, PDU with
 * address 1, body, CRC computed. */
static size_t reply(uint8_t *out, uint16_t protocol, uint8_t fn, uint16_t start,
		    const uint8_t *body, size_t blen)
{
	size_t total = 36 + blen;
	uint16_t crc;

	out[0] = 0xA1;
	out[1] = 0x1A;
	out[2] = (uint8_t)protocol;
	out[3] = 0;
	out[4] = (uint8_t)((total - 6) & 0xFF);
	out[5] = (uint8_t)((total - 6) >> 8);
	out[6] = 1;
	out[7] = 194;
	memcpy(out + 8, DL, 10);
	out[18] = (uint8_t)((total - 20) & 0xFF);
	out[19] = (uint8_t)((total - 20) >> 8);
	out[20] = 1;
	out[21] = fn;
	memcpy(out + 22, SN, 10);
	out[32] = (uint8_t)(start & 0xFF);
	out[33] = (uint8_t)(start >> 8);
	memcpy(out + 34, body, blen);
	crc = crc_16_modbus(CRC_16_MODBUS_INIT, out + 20, total - 22);
	out[total - 2] = (uint8_t)(crc & 0xFF);
	out[total - 1] = (uint8_t)(crc >> 8);
	return total;
}

static int parse_ok(const uint8_t *f, size_t n, struct eg4_msg *m)
{
	enum eg4_err err = EG4_ERR_N;
	int r = eg4_parse(f, n, m, &err);

	CHECK_EQ_INT(r, 0);
	CHECK_EQ_INT(err, EG4_OK);
	return r;
}

static void expect_err(const uint8_t *f, size_t n, enum eg4_err want)
{
	struct eg4_msg m;
	enum eg4_err err = EG4_OK;

	CHECK_EQ_INT(eg4_parse(f, n, &m, &err), -EBADMSG);
	CHECK_EQ_INT(err, want);
}

static void test_crc(void)
{
	static const uint8_t v[] = {0x01, 0x03, 0x00, 0x00, 0x00, 0x0A};

	CHECK_EQ_INT(crc_16_modbus(CRC_16_MODBUS_INIT, v, sizeof(v)), 0xCDC5);
	CHECK_EQ_INT(crc_16_modbus(CRC_16_MODBUS_INIT, (const uint8_t *)"123456789", 9), 0x4B37);
	CHECK_EQ_INT(crc_16_modbus(CRC_16_MODBUS_INIT, v, 0), 0xFFFF);
}

static void test_read_requests(void)
{
	static const uint8_t mi[] = {18, 0, 0, 4}, ti[] = {0, 0, 40, 0, 42, 132};
	static const uint8_t mh[] = {18, 0, 0, 3}, th[] = {12, 0, 3, 0, 112, 38};
	uint8_t want[64], got[64];
	struct eg4_msg m;
	size_t n, len = 0;

	n = GOLDEN(want, hd1, mi, ti);
	CHECK_EQ_INT(n, 38);
	CHECK_EQ_INT(eg4_build_read(DL, SN, EG4_FN_READ_INPUT, 0, 40, got, sizeof(got), &len), 0);
	CHECK(len == n && !memcmp(got, want, n));
	parse_ok(got, len, &m);
	CHECK_EQ_INT(m.protocol, 1);
	CHECK_EQ_INT(m.tcp_fn, EG4_TCP_TRANSLATED);
	CHECK(!strcmp(m.datalog, DL) && !strcmp(m.serial, SN));
	CHECK_EQ_INT(m.data_len, 18);
	CHECK_EQ_INT(m.dev_addr, 0);
	CHECK_EQ_INT(m.dev_fn, EG4_FN_READ_INPUT);
	CHECK_EQ_INT(m.start, 0);
	CHECK_EQ_INT(m.count, 40);
	CHECK_EQ_INT(m.nvals, 0);
	CHECK_EQ_INT(want[n - 2] | want[n - 1] << 8, 0x842A);

	n = GOLDEN(want, hd1, mh, th);
	CHECK_EQ_INT(eg4_build_read(DL, SN, EG4_FN_READ_HOLD, 12, 3, got, sizeof(got), &len), 0);
	CHECK(len == n && !memcmp(got, want, n));
	parse_ok(got, len, &m);
	CHECK_EQ_INT(m.dev_fn, EG4_FN_READ_HOLD);
	CHECK_EQ_INT(m.start, 12);
	CHECK_EQ_INT(m.count, 3);

	/* refusals: empty, beyond 40, across a group, not a read, no room */
	CHECK_EQ_INT(eg4_build_read(DL, SN, EG4_FN_READ_HOLD, 0, 0, got, sizeof(got), &len),
		     -EINVAL);
	CHECK_EQ_INT(eg4_build_read(DL, SN, EG4_FN_READ_HOLD, 0, 41, got, sizeof(got), &len),
		     -EINVAL);
	CHECK_EQ_INT(eg4_build_read(DL, SN, EG4_FN_READ_HOLD, 39, 2, got, sizeof(got), &len),
		     -EINVAL);
	CHECK_EQ_INT(eg4_build_read(DL, SN, EG4_FN_READ_INPUT, 65535, 1, got, sizeof(got), &len),
		     0);
	CHECK_EQ_INT(eg4_build_read(DL, SN, EG4_FN_READ_INPUT, 80, 40, got, sizeof(got), &len), 0);
	CHECK_EQ_INT(eg4_build_read(DL, SN, EG4_FN_READ_INPUT, 81, 40, got, sizeof(got), &len),
		     -EINVAL);
	CHECK_EQ_INT(eg4_build_read(DL, SN, (enum eg4_dev_fn)6, 0, 1, got, sizeof(got), &len),
		     -EINVAL);
	CHECK_EQ_INT(eg4_build_read(DL, SN, EG4_FN_READ_INPUT, 0, 1, got, 37, &len), -ENOSPC);
	CHECK_EQ_INT(eg4_build_read(DL, SN, EG4_FN_READ_INPUT, 0, 1, got, 38, &len), 0);

	/* a zeroed serial */
	CHECK_EQ_INT(eg4_build_read(DL, NULL, EG4_FN_READ_INPUT, 0, 1, got, sizeof(got), &len), 0);
	parse_ok(got, len, &m);
	CHECK(!memcmp(m.serial, "\0\0\0\0\0\0\0\0\0\0", 10));
}

static void test_read_replies(void)
{
	static const uint8_t hr[] = {161, 26, 2, 0, 37, 0, 1, 194}, mr[] = {23, 0, 1, 3};
	static const uint8_t tr[] = {12, 0, 6, 22, 6, 20, 5, 16, 57, 93, 135};
	uint8_t f[EG4_FRAME_MAX], q[64], body[256];
	struct eg4_msg m, req;
	size_t n, qn;

	/* ReadHold reply reg 12, the time: 43 bytes with its golden CRC */
	n = GOLDEN(f, hr, mr, tr);
	CHECK_EQ_INT(n, 43);
	parse_ok(f, n, &m);
	CHECK_EQ_INT(m.dev_addr, 1);
	CHECK_EQ_INT(m.dev_fn, EG4_FN_READ_HOLD);
	CHECK_EQ_INT(m.start, 12);
	CHECK_EQ_INT(m.count, 3);
	CHECK_EQ_INT(m.nvals, 3);
	CHECK_EQ_INT(m.vals[0], 6 << 8 | 22); /* LE: year 22, month 6 */
	CHECK_EQ_INT(m.vals[1], 5 << 8 | 20);
	CHECK_EQ_INT(m.vals[2], 57 << 8 | 16);
	CHECK_EQ_INT(eg4_build_read(DL, SN, EG4_FN_READ_HOLD, 12, 3, q, sizeof(q), &qn), 0);
	parse_ok(q, qn, &req);
	CHECK(eg4_reply_matches(&req, &m));
	CHECK(!eg4_reply_matches(&m, &req));
	CHECK_EQ_INT(eg4_build_read(DL, SN, EG4_FN_READ_INPUT, 12, 3, q, sizeof(q), &qn), 0);
	parse_ok(q, qn, &req);
	CHECK(!eg4_reply_matches(&req, &m)); /* another function */
	CHECK_EQ_INT(eg4_build_read(DL, SN, EG4_FN_READ_HOLD, 13, 2, q, sizeof(q), &qn), 0);
	parse_ok(q, qn, &req);
	CHECK(!eg4_reply_matches(&req, &m)); /* another start */
	CHECK_EQ_INT(eg4_build_read(DL, SN, EG4_FN_READ_HOLD, 12, 4, q, sizeof(q), &qn), 0);
	parse_ok(q, qn, &req);
	CHECK(!eg4_reply_matches(&req, &m)); /* fewer registers than asked */
	CHECK_EQ_INT(eg4_build_read("3333333333", SN, EG4_FN_READ_HOLD, 12, 3, q, sizeof(q), &qn),
		     0);
	parse_ok(q, qn, &req);
	CHECK(!eg4_reply_matches(&req, &m)); /* another dongle */

	/* the same values in a protocol-1 reply: no value-length byte */
	n = reply(f, 1, 3, 12, tr + 3, 6);
	parse_ok(f, n, &m);
	CHECK_EQ_INT(m.nvals, 3);
	CHECK_EQ_INT(m.vals[2], 57 << 8 | 16);

	/* the protocol-5 all-inputs push: 127 registers 0-126 in 291 bytes */
	body[0] = 254;
	for (int i = 0; i < 127; i++) {
		body[1 + 2 * i] = (uint8_t)(i * 7);
		body[2 + 2 * i] = (uint8_t)i;
	}
	n = reply(f, 5, 4, 0, body, 255);
	CHECK_EQ_INT(n, 291);
	CHECK_EQ_INT(f[4] | f[5] << 8, 285);
	CHECK_EQ_INT(f[18] | f[19] << 8, 271);
	parse_ok(f, n, &m);
	CHECK_EQ_INT(m.protocol, 5);
	CHECK_EQ_INT(m.data_len, 271);
	CHECK_EQ_INT(m.dev_fn, EG4_FN_READ_INPUT);
	CHECK_EQ_INT(m.nvals, 127);
	CHECK_EQ_INT(m.vals[0], 0);
	CHECK_EQ_INT(m.vals[126], 126 << 8 | (uint8_t)(126 * 7));
	CHECK_EQ_INT(eg4_build_read(DL, SN, EG4_FN_READ_INPUT, 0, 40, q, sizeof(q), &qn), 0);
	parse_ok(q, qn, &req);
	CHECK(eg4_reply_matches(&req, &m)); /* the push covers 0-39 */

	/* value-length byte disagreeing with the body, or odd */
	body[0] = 252;
	n = reply(f, 5, 4, 0, body, 255);
	expect_err(f, n, EG4_ERR_VALUE_LENGTH);
	body[0] = 3;
	n = reply(f, 2, 4, 0, body, 4);
	expect_err(f, n, EG4_ERR_VALUE_LENGTH);
	n = reply(f, 2, 4, 0, body, 0);
	expect_err(f, n, EG4_ERR_BODY_LENGTH);
	n = reply(f, 1, 4, 0, body, 5);
	expect_err(f, n, EG4_ERR_BODY_LENGTH);
}

static void test_writes(void)
{
	static const uint8_t ms[] = {18, 0, 0, 6}, ts[] = {66, 0, 100, 0, 136, 61};
	static const uint8_t msr[] = {18, 0, 1, 6}, tsr[] = {66, 0, 100, 0, 73, 173};
	static const uint8_t hm[] = {161, 26, 2, 0, 39, 0, 1, 194}, mm[] = {25, 0, 0, 16};
	static const uint8_t tm[] = {12, 0, 3, 0, 6, 22, 6, 19, 20, 23, 33, 115, 71};
	static const uint8_t mmr[] = {18, 0, 1, 16}, tmr[] = {12, 0, 3, 0, 226, 187};
	static const uint16_t time[] = {6 << 8 | 22, 20 << 8 | 19, 33 << 8 | 23};
	uint8_t want[64], got[64], f[64];
	struct eg4_msg m, req;
	size_t n, len;

	n = GOLDEN(want, hd1, ms, ts);
	CHECK_EQ_INT(eg4_build_write_single(DL, SN, 66, 100, got, sizeof(got), &len), 0);
	CHECK(len == n && !memcmp(got, want, n));
	parse_ok(got, len, &req);
	CHECK_EQ_INT(req.dev_fn, EG4_FN_WRITE_SINGLE);
	CHECK_EQ_INT(req.start, 66);
	CHECK_EQ_INT(req.nvals, 1);
	CHECK_EQ_INT(req.vals[0], 100);
	n = GOLDEN(f, hd2, msr, tsr);
	parse_ok(f, n, &m);
	CHECK_EQ_INT(m.dev_addr, 1);
	CHECK_EQ_INT(m.vals[0], 100);
	CHECK(eg4_reply_matches(&req, &m));
	CHECK_EQ_INT(eg4_build_write_single(DL, SN, 66, 101, got, sizeof(got), &len), 0);
	parse_ok(got, len, &req);
	CHECK(!eg4_reply_matches(&req, &m)); /* another client's write */

	n = GOLDEN(want, hm, mm, tm);
	CHECK_EQ_INT(n, 45);
	CHECK_EQ_INT(eg4_build_write_multi(DL, SN, 12, time, 3, got, sizeof(got), &len), 0);
	CHECK(len == n && !memcmp(got, want, n));
	parse_ok(got, len, &req);
	CHECK_EQ_INT(req.protocol, 2);
	CHECK_EQ_INT(req.dev_fn, EG4_FN_WRITE_MULTI);
	CHECK_EQ_INT(req.count, 3);
	CHECK_EQ_INT(req.nvals, 3);
	CHECK_EQ_INT(req.vals[2], time[2]);
	n = GOLDEN(f, hd2, mmr, tmr);
	parse_ok(f, n, &m);
	CHECK_EQ_INT(m.count, 3);
	CHECK_EQ_INT(m.nvals, 0);
	CHECK(eg4_reply_matches(&req, &m));
	CHECK_EQ_INT(eg4_build_write_multi(DL, SN, 12, time, 2, got, sizeof(got), &len), 0);
	parse_ok(got, len, &req);
	CHECK(!eg4_reply_matches(&req, &m));
	CHECK_EQ_INT(eg4_build_write_multi(DL, SN, 12, time, 0, got, sizeof(got), &len), -EINVAL);
	CHECK_EQ_INT(eg4_build_write_multi(DL, SN, 65535, time, 2, got, sizeof(got), &len),
		     -EINVAL);
	CHECK_EQ_INT(eg4_build_write_multi(DL, SN, 12, time, 3, got, 44, &len), -ENOSPC);

	/* a WriteMulti request whose byte count is not 2 * count */
	memcpy(f, want, 45);
	f[36] = 5; /* the byte count */
	f[43] = (uint8_t)(crc_16_modbus(CRC_16_MODBUS_INIT, f + 20, 23) & 0xFF);
	f[44] = (uint8_t)(crc_16_modbus(CRC_16_MODBUS_INIT, f + 20, 23) >> 8);
	expect_err(f, 45, EG4_ERR_BYTE_COUNT);
}

static void test_exception(void)
{
	static const uint8_t code[] = {3};
	uint8_t f[64], q[64];
	struct eg4_msg m, req;
	size_t n, qn;

	/* setting bit 0 of hold 21 fails with 0x86 code 3 (LXP_REGISTERS.txt) */
	n = reply(f, 2, 0x86, 21, code, 1);
	CHECK_EQ_INT(n, 37);
	parse_ok(f, n, &m);
	CHECK(m.exception);
	CHECK_EQ_INT(m.dev_fn, EG4_FN_WRITE_SINGLE);
	CHECK_EQ_INT(m.exception_code, 3);
	CHECK_EQ_INT(m.start, 21);
	CHECK_EQ_INT(m.nvals, 0);
	CHECK_EQ_INT(eg4_build_write_single(DL, SN, 21, 1, q, sizeof(q), &qn), 0);
	parse_ok(q, qn, &req);
	CHECK(eg4_reply_matches(&req, &m));
	n = reply(f, 2, 0x86, 21, code, 0);
	expect_err(f, n, EG4_ERR_BODY_LENGTH);
	n = reply(f, 2, 0xA1, 21, code, 1);
	expect_err(f, n, EG4_ERR_DEV_FN);
	n = reply(f, 2, 0x21, 21, code, 1); /* firmware update: not ours */
	expect_err(f, n, EG4_ERR_DEV_FN);
}

static size_t heartbeat(uint8_t *f, uint8_t protocol)
{
	static const uint8_t h[] = {161, 26, 0, 0, 13, 0, 1, 193};

	memcpy(f, h, 8);
	f[2] = protocol;
	memcpy(f + 8, DL, 10);
	f[18] = 0;
	return 19;
}

static void test_heartbeat_and_params(void)
{
	static const uint8_t wp[] = {161, 26, 2, 0, 15, 0, 1, 196};
	static const uint8_t rp[] = {161, 26, 2, 0, 14, 0, 1, 195};
	uint8_t f[64], g[64];
	struct eg4_msg m;
	size_t n, len;

	n = heartbeat(f, 2);
	parse_ok(f, n, &m);
	CHECK_EQ_INT(m.tcp_fn, EG4_TCP_HEARTBEAT);
	CHECK_EQ_INT(m.protocol, 2);
	CHECK(!strcmp(m.datalog, DL));
	CHECK_EQ_INT(eg4_build_heartbeat(m.datalog, g, sizeof(g), &len), 0);
	CHECK(len == 19 && !memcmp(f, g, 19));
	n = heartbeat(f, 5);
	parse_ok(f, n, &m);
	CHECK_EQ_INT(m.protocol, 5);
	CHECK_EQ_INT(eg4_build_heartbeat(m.datalog, g, sizeof(g), &len), 0);
	CHECK_EQ_INT(g[2], 2); /* echoed with protocol 2, as lxp-bridge does */
	CHECK(!memcmp(f + 3, g + 3, 16));
	CHECK_EQ_INT(eg4_build_heartbeat(DL, g, 18, &len), -ENOSPC);

	/* WriteParam from the cloud: recognised, not an error */
	memcpy(f, wp, 8);
	memcpy(f + 8, DL, 10);
	f[18] = 7;
	f[19] = 0;
	f[20] = 3;
	parse_ok(f, 21, &m);
	CHECK_EQ_INT(m.tcp_fn, EG4_TCP_WRITE_PARAM);
	CHECK_EQ_INT(m.param_reg, 7);
	CHECK(!eg4_reply_matches(&m, &m));
	memcpy(f, rp, 8);
	parse_ok(f, 20, &m);
	CHECK_EQ_INT(m.tcp_fn, EG4_TCP_READ_PARAM);
	f[7] = 197;
	expect_err(f, 20, EG4_ERR_TCP_FN);
}

static void test_errors(void)
{
	static const uint8_t zero[EG4_FRAME_MAX];
	uint8_t f[EG4_FRAME_MAX + 16], g[64];
	struct eg4_msg m;
	size_t n;

	CHECK_EQ_INT(eg4_build_read(DL, SN, EG4_FN_READ_INPUT, 0, 40, f, sizeof(f), &n), 0);
	expect_err(f, 17, EG4_ERR_SHORT);
	memcpy(g, f, n);
	g[0] = 0xA2;
	expect_err(g, n, EG4_ERR_PREFIX);
	expect_err(f, n - 1, EG4_ERR_LENGTH);
	memcpy(g, f, n);
	g[18] = 17;
	expect_err(g, n, EG4_ERR_DATA_LENGTH);
	memcpy(g, f, n);
	g[36] ^= 1; /* the CRC */
	expect_err(g, n, EG4_ERR_CRC);
	memcpy(g, f, n);
	g[34] ^= 1; /* the count */
	expect_err(g, n, EG4_ERR_CRC);
	n = reply(g, 2, 4, 0, (const uint8_t *)"\0", 1);
	g[20] = 2;
	g[n - 2] = (uint8_t)(crc_16_modbus(CRC_16_MODBUS_INIT, g + 20, n - 22) & 0xFF);
	g[n - 1] = (uint8_t)(crc_16_modbus(CRC_16_MODBUS_INIT, g + 20, n - 22) >> 8);
	expect_err(g, n, EG4_ERR_DEV_ADDRESS);
	/* a TranslatedData without room for its PDU */
	memcpy(g, f, 20);
	g[4] = 14;
	g[18] = 0;
	expect_err(g, 20, EG4_ERR_SHORT);
	/* too long: consistent length field beyond EG4_FRAME_MAX */
	n = reply(f, 2, 4, 0, zero, EG4_FRAME_MAX - 35);
	expect_err(f, n, EG4_ERR_TOO_LONG);
	n = reply(f, 1, 4, 0, zero, EG4_FRAME_MAX - 36);
	parse_ok(f, n, &m);
	CHECK_EQ_INT(m.nvals, EG4_REGS_MAX);
	CHECK_EQ_INT(eg4_parse(NULL, 1, &m, NULL), -EINVAL);
	CHECK_EQ_INT(eg4_parse(f, n, NULL, NULL), -EINVAL);

	/* every code has its own name */
	for (int i = 0; i < EG4_ERR_N; i++) {
		CHECK(strcmp(eg4_err_name((enum eg4_err)i), "unknown") != 0);
		for (int j = 0; j < i; j++)
			CHECK(strcmp(eg4_err_name((enum eg4_err)i),
				     eg4_err_name((enum eg4_err)j)) != 0);
	}
	CHECK(!strcmp(eg4_err_name(EG4_ERR_N), "unknown"));
}

/* ----------------------------------------------------------------- framer */

#define SINK_MAX 8

struct sink {
	int n;
	size_t len[SINK_MAX];
	uint8_t f[SINK_MAX][EG4_FRAME_MAX];
};

static void sink_cb(void *ctx, const uint8_t *f, size_t n)
{
	struct sink *s = ctx;

	if (s->n < SINK_MAX) {
		memcpy(s->f[s->n], f, n);
		s->len[s->n] = n;
	}
	s->n++;
}

/* A stream: garbage, heartbeat, garbage with a false A1 and an A1 1A of
 * impossible lengths, a ReadInput request, the 291-byte push. */
struct stream {
	uint8_t b[1024];
	size_t n, garbage;
	size_t flen[3];
	size_t foff[3];
};

static void make_stream(struct stream *s)
{
	static const uint8_t junk1[] = {0x00, 0xFF, 0xA1, 0x00, 0x1A};
	static const uint8_t junk2[] = {0xA1, 0x1A, 0x02, 0x00, 0xFF, 0x04, /* too long */
					0xA1, 0x1A, 0x02, 0x00, 0x0C, 0x00, /* too short */
					0xA1, 0xA1};
	uint8_t body[256];
	size_t k = 0, len;

	memcpy(s->b + k, junk1, sizeof(junk1));
	k += sizeof(junk1);
	s->foff[0] = k;
	s->flen[0] = heartbeat(s->b + k, 5);
	k += s->flen[0];
	memcpy(s->b + k, junk2, sizeof(junk2));
	k += sizeof(junk2);
	s->foff[1] = k;
	eg4_build_read(DL, SN, EG4_FN_READ_INPUT, 0, 40, s->b + k, 64, &len);
	s->flen[1] = len;
	k += len;
	body[0] = 254;
	for (int i = 0; i < 254; i++)
		body[1 + i] = (uint8_t)(i ^ 0xA1);
	s->foff[2] = k;
	s->flen[2] = reply(s->b + k, 5, 4, 0, body, 255);
	k += s->flen[2];
	s->n = k;
	s->garbage = sizeof(junk1) + sizeof(junk2);
}

static void check_stream(const struct stream *s, const struct sink *k, const struct eg4_framer *fr)
{
	CHECK_EQ_INT(k->n, 3);
	for (int i = 0; i < 3 && i < k->n; i++)
		CHECK(k->len[i] == s->flen[i] && !memcmp(k->f[i], s->b + s->foff[i], s->flen[i]));
	CHECK_EQ_INT(fr->st.frames, 3);
	CHECK_EQ_INT(fr->st.bytes, s->n);
	CHECK_EQ_INT(fr->st.garbage, s->garbage);
	CHECK_EQ_INT(fr->st.too_long, 1);
	CHECK_EQ_INT(fr->st.too_short, 1);
	CHECK_EQ_INT(fr->len, 0);
}

static void test_framer(void)
{
	static struct sink k;
	static struct eg4_framer fr;
	struct stream s;
	struct eg4_msg m;
	bool all = true;

	make_stream(&s);
	eg4_framer_init(&fr);
	memset(&k, 0, sizeof(k));
	CHECK_EQ_INT(eg4_framer_feed(&fr, s.b, s.n, sink_cb, &k), 0);
	check_stream(&s, &k, &fr);
	parse_ok(k.f[2], k.len[2], &m);
	CHECK_EQ_INT(m.nvals, 127);

	/* split at every byte boundary */
	for (size_t cut = 0; cut <= s.n; cut++) {
		eg4_framer_init(&fr);
		memset(&k, 0, sizeof(k));
		eg4_framer_feed(&fr, s.b, cut, sink_cb, &k);
		eg4_framer_feed(&fr, s.b + cut, s.n - cut, sink_cb, &k);
		all = all && k.n == 3 && fr.st.garbage == s.garbage &&
		      !memcmp(k.f[2], s.b + s.foff[2], s.flen[2]);
	}
	CHECK(all);
	/* byte by byte */
	eg4_framer_init(&fr);
	memset(&k, 0, sizeof(k));
	for (size_t i = 0; i < s.n; i++)
		eg4_framer_feed(&fr, s.b + i, 1, sink_cb, &k);
	check_stream(&s, &k, &fr);

	/* a partial frame stays held; a new stream starts clean */
	eg4_framer_init(&fr);
	memset(&k, 0, sizeof(k));
	eg4_framer_feed(&fr, s.b + s.foff[2], 100, sink_cb, &k);
	CHECK_EQ_INT(k.n, 0);
	CHECK_EQ_INT(fr.len, 100);
	CHECK_EQ_INT(eg4_framer_feed(&fr, NULL, 0, sink_cb, &k), 0);
	CHECK_EQ_INT(eg4_framer_feed(&fr, NULL, 1, sink_cb, &k), -EINVAL);
	CHECK_EQ_INT(eg4_framer_feed(&fr, s.b, 1, NULL, &k), -EINVAL);

	/* pure garbage longer than the buffer, then a frame */
	{
		static uint8_t big[3 * EG4_FRAME_MAX];
		size_t hb;

		memset(big, 0xA1, sizeof(big));
		hb = heartbeat(big + sizeof(big) - 19, 2);
		eg4_framer_init(&fr);
		memset(&k, 0, sizeof(k));
		eg4_framer_feed(&fr, big, sizeof(big), sink_cb, &k);
		CHECK_EQ_INT(k.n, 1);
		CHECK_EQ_INT(fr.st.garbage, sizeof(big) - hb);
	}
	/* the longest frame, whole in the buffer */
	{
		static const uint8_t zero[EG4_FRAME_MAX];
		static uint8_t big[EG4_FRAME_MAX];
		size_t n = reply(big, 1, 4, 0, zero, EG4_FRAME_MAX - 36);

		eg4_framer_init(&fr);
		memset(&k, 0, sizeof(k));
		eg4_framer_feed(&fr, big, n, sink_cb, &k);
		CHECK_EQ_INT(k.n, 1);
		CHECK_EQ_INT(k.len[0], EG4_FRAME_MAX);
	}
}

int main(void)
{
	test_crc();
	test_read_requests();
	test_read_replies();
	test_writes();
	test_exception();
	test_heartbeat_and_params();
	test_errors();
	test_framer();
	return check_result();
}

/* The Modbus client core: CRC-16/MODBUS check vectors, PowMr's real RTU
 * frames, every limit and exception code, replies that answer another
 * request, the MBAP stream decoder on every split of a stream and on
 * garbage, and the RTU silence times. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "crc.h"
#include "modbus.h"

/* Hex digits with blanks anywhere, as PROTOCOLS.md writes frames. */
static size_t hex(const char *s, uint8_t *out)
{
	size_t n = 0;

	while (*s) {
		unsigned v;

		if (*s == ' ') {
			s++;
			continue;
		}
		if (sscanf(s, "%2x", &v) != 1)
			break;
		out[n++] = (uint8_t)v;
		s += 2;
	}
	return n;
}

static bool same(const uint8_t *a, size_t na, const char *want)
{
	uint8_t b[MODBUS_TCP_ADU_MAX + 16];
	size_t nb = hex(want, b);

	return na == nb && !memcmp(a, b, na);
}

/* The request as an RTU frame, the way a source builds it in place. */
static int rtu_request(const struct modbus_req *req, uint8_t unit, uint8_t *adu, size_t size)
{
	int n = modbus_pdu_encode(req, adu + 1, size - 1);

	return n < 0 ? n : modbus_rtu_encode(unit, adu + 1, (size_t)n, adu, size);
}

static void test_crc(void)
{
	uint8_t b[16], adu[16];
	size_t n = hex("01 03 00 00 00 0A", b);

	CHECK_EQ_INT(crc_16_modbus(CRC_16_MODBUS_INIT, "123456789", 9), 0x4B37);
	CHECK_EQ_INT(crc_16_modbus(crc_16_modbus(CRC_16_MODBUS_INIT, "1234", 4), "56789", 5),
		     0x4B37);
	CHECK_EQ_INT(crc_16_modbus(CRC_16_MODBUS_INIT, b, n), 0xCDC5);
	/* sent low byte first */
	CHECK_EQ_INT(modbus_rtu_encode(1, b + 1, n - 1, adu, sizeof(adu)), 8);
	CHECK(same(adu, 8, "01 03 00 00 00 0A C5 CD"));
	/* a whole frame's CRC over itself is 0: what a sniffer can test */
	CHECK_EQ_INT(crc_16_modbus(CRC_16_MODBUS_INIT, adu, 8), 0);
}

static void test_powmr(void)
{
	/* The WiFi-VM dongle's two polls and the real reply to the second. */
	static const char reply[] = "05 03 20 FA00 FA00 C800 FA00 3C00 7800 1E00 62D9 E90E 0000 "
				    "0000 4500 0000 0000 0000 0000 F1 CA";
	static const uint16_t want[16] = {0xFA00, 0xFA00, 0xC800, 0xFA00, 0x3C00, 0x7800,
					  0x1E00, 0x62D9, 0xE90E, 0,	  0,	  0x4500,
					  0,	  0,	  0,	  0};
	struct modbus_req r1 = {.fn = MODBUS_FC_READ_HOLDING, .addr = 4501, .count = 45};
	struct modbus_req r2 = {.fn = MODBUS_FC_READ_HOLDING, .addr = 4546, .count = 16};
	uint8_t adu[MODBUS_RTU_ADU_MAX + 1], rx[64];
	uint16_t regs[MODBUS_READ_MAX];
	const uint8_t *pdu;
	size_t pdu_len, n = hex(reply, rx);

	CHECK_EQ_INT(rtu_request(&r1, 5, adu, sizeof(adu)), 8);
	CHECK(same(adu, 8, "05 03 11 95 00 2D 91 43"));
	CHECK_EQ_INT(rtu_request(&r2, 5, adu, sizeof(adu)), 8);
	CHECK(same(adu, 8, "05 03 11 C2 00 10 E1 42"));

	CHECK_EQ_INT(n, 37);
	/* the reader knows the length from the first two bytes */
	CHECK_EQ_INT(modbus_rtu_reply_len(&r2, rx, 0), -EAGAIN);
	CHECK_EQ_INT(modbus_rtu_reply_len(&r2, rx, 1), -EAGAIN);
	CHECK_EQ_INT(modbus_rtu_reply_len(&r2, rx, 2), 37);
	CHECK_EQ_INT(modbus_rtu_reply_len(&r1, rx, 2), 5 + 90);
	CHECK_EQ_INT(modbus_rtu_decode(rx, n, 5, &pdu, &pdu_len), 0);
	CHECK(pdu == rx + 1);
	CHECK_EQ_INT(pdu_len, 34);
	memset(regs, 0x55, sizeof(regs));
	CHECK_EQ_INT(modbus_rtu_reply(&r2, 5, rx, n, regs, MODBUS_READ_MAX, NULL), 0);
	for (int i = 0; i < 16; i++)
		CHECK_EQ_INT(regs[i], want[i]);
	CHECK_EQ_INT(regs[16], 0x5555);
	/* PowMr keeps registers byte-swapped: 4546 bulk 25.0 V, 4548 cut-off
	 * 20.0 V; the map undoes that, the core must not */
	CHECK_EQ_INT((uint16_t)(regs[0] >> 8 | regs[0] << 8), 250);
	CHECK_EQ_INT((uint16_t)(regs[2] >> 8 | regs[2] << 8), 200);
	/* the same reply does not answer the first poll, nor another unit */
	CHECK_EQ_INT(modbus_rtu_reply(&r1, 5, rx, n, regs, MODBUS_READ_MAX, NULL), -ENOMSG);
	CHECK_EQ_INT(modbus_rtu_reply(&r2, 1, rx, n, regs, MODBUS_READ_MAX, NULL), -ENOMSG);
	/* no room for the registers */
	CHECK_EQ_INT(modbus_rtu_reply(&r2, 5, rx, n, regs, 15, NULL), -ENOSPC);
	/* every single-bit error is caught by the CRC */
	for (size_t i = 0; i < n * 8; i++) {
		rx[i / 8] ^= (uint8_t)(1u << i % 8);
		CHECK_EQ_INT(modbus_rtu_decode(rx, n, 5, &pdu, &pdu_len), -EILSEQ);
		rx[i / 8] ^= (uint8_t)(1u << i % 8);
	}
	/* a truncated frame (silence came early) */
	CHECK_EQ_INT(modbus_rtu_decode(rx, n - 1, 5, &pdu, &pdu_len), -EILSEQ);
	CHECK_EQ_INT(modbus_rtu_decode(rx, 3, 5, &pdu, &pdu_len), -EBADMSG);
	CHECK_EQ_INT(modbus_rtu_decode(rx, 0, 5, &pdu, &pdu_len), -EBADMSG);
	CHECK_EQ_INT(modbus_rtu_decode(adu, MODBUS_RTU_ADU_MAX + 1, 5, &pdu, &pdu_len), -EBADMSG);
}

static void test_encode(void)
{
	static const uint16_t vals[3] = {0x000A, 0x0102, 0xFFFF};
	struct modbus_req rd = {.fn = MODBUS_FC_READ_INPUT, .addr = 0x006B, .count = 3};
	struct modbus_req ws = {.fn = MODBUS_FC_WRITE_SINGLE, .addr = 5002, .value = 0xBEEF};
	struct modbus_req wm = {
		.fn = MODBUS_FC_WRITE_MULTIPLE, .addr = 0x0001, .count = 3, .values = vals};
	uint8_t pdu[MODBUS_PDU_MAX], adu[MODBUS_TCP_ADU_MAX];
	int n;

	CHECK_EQ_INT(modbus_pdu_encode(&rd, pdu, sizeof(pdu)), 5);
	CHECK(same(pdu, 5, "04 00 6B 00 03"));
	CHECK_EQ_INT(modbus_pdu_encode(&ws, pdu, sizeof(pdu)), 5);
	CHECK(same(pdu, 5, "06 13 8A BE EF"));
	/* 6 writes one register whatever count says */
	ws.count = 500;
	CHECK_EQ_INT(modbus_pdu_encode(&ws, pdu, sizeof(pdu)), 5);
	CHECK_EQ_INT(modbus_pdu_encode(&wm, pdu, sizeof(pdu)), 12);
	CHECK(same(pdu, 12, "10 00 01 00 03 06 00 0A 01 02 FF FF"));
	CHECK_EQ_INT(modbus_pdu_encode(&wm, pdu, 11), -ENOSPC);
	CHECK_EQ_INT(modbus_pdu_encode(&rd, pdu, 4), -ENOSPC);

	/* MBAP, the PDU built in place */
	n = modbus_pdu_encode(&rd, adu + MODBUS_MBAP_HDR, sizeof(adu) - MODBUS_MBAP_HDR);
	CHECK_EQ_INT(modbus_mbap_encode(0x1234, 0xFF, adu + MODBUS_MBAP_HDR, (size_t)n, adu,
					sizeof(adu)),
		     12);
	CHECK(same(adu, 12, "12 34 00 00 00 06 FF 04 00 6B 00 03"));
	/* ... or from elsewhere */
	CHECK_EQ_INT(modbus_mbap_encode(1, 1, pdu, 12, adu, sizeof(adu)), 19);
	CHECK(same(adu, 19, "00 01 00 00 00 0D 01 10 00 01 00 03 06 00 0A 01 02 FF FF"));
	CHECK_EQ_INT(modbus_mbap_encode(1, 1, pdu, 12, adu, 18), -ENOSPC);
	CHECK_EQ_INT(modbus_mbap_encode(1, 1, pdu, 0, adu, sizeof(adu)), -EINVAL);
	CHECK_EQ_INT(modbus_mbap_encode(1, 1, adu, MODBUS_PDU_MAX, adu, sizeof(adu)), 260);
	CHECK_EQ_INT(modbus_mbap_encode(1, 1, adu, MODBUS_PDU_MAX + 1, adu, sizeof(adu)), -EINVAL);
	CHECK_EQ_INT(modbus_rtu_encode(1, pdu, 0, adu, sizeof(adu)), -EINVAL);
	CHECK_EQ_INT(modbus_rtu_encode(1, adu, MODBUS_PDU_MAX, adu, sizeof(adu)), 256);
	CHECK_EQ_INT(modbus_rtu_encode(1, adu, MODBUS_PDU_MAX + 1, adu, sizeof(adu)), -EINVAL);
	CHECK_EQ_INT(modbus_rtu_encode(1, pdu, 5, adu, 7), -ENOSPC);
}

static void test_limits(void)
{
	static const uint16_t vals[MODBUS_WRITE_MAX + 1];
	static const struct {
		uint8_t fn;
		unsigned addr, count;
		int want;
	} cases[] = {
		{3, 0, 0, -EINVAL}, /* reads: 1..125 */
		{3, 0, 1, 0},
		{3, 0, 125, 0},
		{3, 0, 126, -EINVAL},
		{3, 0, 65535, -EINVAL},
		{4, 0, 0, -EINVAL},
		{4, 0, 125, 0},
		{4, 0, 126, -EINVAL},
		{16, 0, 0, -EINVAL}, /* writes: 1..123 */
		{16, 0, 1, 0},
		{16, 0, 123, 0},
		{16, 0, 124, -EINVAL},
		{3, 65535, 1, 0}, /* the last register, and no further */
		{3, 65535, 2, -EINVAL},
		{3, 65411, 125, 0},
		{3, 65412, 125, -EINVAL},
		{4, 65412, 125, -EINVAL},
		{16, 65413, 123, 0},
		{16, 65414, 123, -EINVAL},
		{16, 65535, 1, 0},
		{16, 65535, 2, -EINVAL},
		{6, 65535, 0, 0}, /* 6 writes one register, count aside */
		{6, 0, 65535, 0},
		{0, 0, 1, -EINVAL}, /* functions the core does not speak */
		{1, 0, 1, -EINVAL},
		{5, 0, 1, -EINVAL},
		{15, 0, 1, -EINVAL},
		{23, 0, 1, -EINVAL},
		{0x83, 0, 1, -EINVAL},
	};
	uint8_t pdu[MODBUS_PDU_MAX + 8] = {0}, rx[4] = {5, 3};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct modbus_req r = {.fn = cases[i].fn,
				       .addr = (uint16_t)cases[i].addr,
				       .count = (uint16_t)cases[i].count,
				       .values = vals};
		int n = modbus_pdu_encode(&r, pdu, sizeof(pdu));

		if (modbus_req_check(&r) != cases[i].want)
			fprintf(stderr, "limits: fn %u addr %u count %u\n", cases[i].fn,
				cases[i].addr, cases[i].count);
		CHECK_EQ_INT(modbus_req_check(&r), cases[i].want);
		CHECK_EQ_INT(n < 0 ? n : 0, cases[i].want);
		CHECK_EQ_INT(modbus_rtu_reply_len(&r, rx, 2) < 0, cases[i].want < 0);
		CHECK_EQ_INT(modbus_pdu_reply(&r, pdu, 5, NULL, 0, NULL) == -EINVAL,
			     cases[i].want < 0);
	}
	/* the longest requests fit the spec's PDU */
	{
		struct modbus_req r = {.fn = 16, .count = MODBUS_WRITE_MAX, .values = vals};

		CHECK_EQ_INT(modbus_pdu_encode(&r, pdu, sizeof(pdu)), 252);
		CHECK_EQ_INT(pdu[5], 246);
		r.values = NULL;
		CHECK_EQ_INT(modbus_req_check(&r), -EINVAL);
		CHECK_EQ_INT(modbus_pdu_encode(&r, pdu, sizeof(pdu)), -EINVAL);
		/* the reply needs no values */
		CHECK_EQ_INT(modbus_pdu_reply(&r, (const uint8_t *)"\x10\x00\x00\x00\x7B", 5, NULL,
					      0, NULL),
			     0);
	}
}

static void test_exceptions(void)
{
	static const uint8_t fns[] = {3, 4, 6, 16};
	static const uint16_t vals[1] = {7};

	for (size_t f = 0; f < sizeof(fns); f++) {
		struct modbus_req r = {.fn = fns[f], .addr = 10, .count = 1, .values = vals};
		uint8_t pdu[4], adu[8];
		uint8_t code;
		const char *names[MODBUS_EX_MAX + 1] = {0};

		for (unsigned c = 0; c <= 255; c++) {
			int want = c >= 1 && c <= MODBUS_EX_MAX ? -EREMOTEIO : -EBADMSG;

			pdu[0] = (uint8_t)(fns[f] | 0x80);
			pdu[1] = (uint8_t)c;
			code = 0;
			CHECK_EQ_INT(modbus_pdu_reply(&r, pdu, 2, NULL, 0, &code), want);
			CHECK_EQ_INT(code, want == -EREMOTEIO ? c : 0);
			/* the same through RTU: 5 bytes, as reply_len predicts */
			CHECK_EQ_INT(modbus_rtu_encode(9, pdu, 2, adu, sizeof(adu)), 5);
			CHECK_EQ_INT(modbus_rtu_reply_len(&r, adu, 2), 5);
			code = 0;
			CHECK_EQ_INT(modbus_rtu_reply(&r, 9, adu, 5, NULL, 0, &code), want);
			CHECK_EQ_INT(code, want == -EREMOTEIO ? c : 0);
			if (want == -EREMOTEIO)
				names[c] = modbus_exception_name(c);
		}
		/* the code pointer is optional */
		pdu[1] = 2;
		CHECK_EQ_INT(modbus_pdu_reply(&r, pdu, 2, NULL, 0, NULL), -EREMOTEIO);
		/* an exception one byte short or long is malformed */
		CHECK_EQ_INT(modbus_pdu_reply(&r, pdu, 1, NULL, 0, &code), -EBADMSG);
		CHECK_EQ_INT(modbus_pdu_reply(&r, pdu, 3, NULL, 0, &code), -EBADMSG);
		/* another function's exception answers another request */
		pdu[0] = (uint8_t)((fns[(f + 1) % sizeof(fns)]) | 0x80);
		CHECK_EQ_INT(modbus_pdu_reply(&r, pdu, 2, NULL, 0, &code), -ENOMSG);
		/* every code has a name of its own */
		for (unsigned c = 1; c <= MODBUS_EX_MAX; c++) {
			CHECK(names[c] && names[c][0]);
			for (unsigned d = 1; d < c; d++)
				CHECK(strcmp(names[c], names[d]) != 0);
		}
	}
	CHECK(!strcmp(modbus_exception_name(MODBUS_EX_ILLEGAL_ADDRESS), "illegal data address"));
	CHECK(!strcmp(modbus_exception_name(MODBUS_EX_DEVICE_BUSY), "server device busy"));
	CHECK(!strcmp(modbus_exception_name(0), "unknown exception"));
	CHECK(!strcmp(modbus_exception_name(12), "unknown exception"));
	CHECK(!strcmp(modbus_exception_name(1000), "unknown exception"));
}

static void test_mismatch(void)
{
	static const uint16_t vals[2] = {1, 2};
	static const struct modbus_req rd = {.fn = MODBUS_FC_READ_INPUT, .addr = 100, .count = 2};
	static const struct modbus_req ws = {
		.fn = MODBUS_FC_WRITE_SINGLE, .addr = 5002, .value = 3};
	static const struct modbus_req wm = {
		.fn = MODBUS_FC_WRITE_MULTIPLE, .addr = 7, .count = 2, .values = vals};
	static const struct {
		const struct modbus_req *req;
		const char *pdu;
		int want;
	} cases[] = {
		{&rd, "04 04 00 01 00 02", 0},
		{&rd, "03 04 00 01 00 02", -ENOMSG},	   /* holding, not input */
		{&rd, "04 02 00 01", -ENOMSG},		   /* one register: another read */
		{&rd, "04 06 00 01 00 02 00 03", -ENOMSG}, /* three */
		{&rd, "04 04 00 01 00", -EBADMSG},	   /* byte count says 4, 3 follow */
		{&rd, "04 04 00 01 00 02 00", -EBADMSG},   /* one byte too many */
		{&rd, "04 03 00 01 00", -EBADMSG},	   /* odd byte count */
		{&rd, "04", -EBADMSG},
		{&rd, "04 00", -ENOMSG}, /* consistent, zero registers */
		{&rd, "", -EBADMSG},
		{&rd, "06 13 8A 00 03", -ENOMSG},
		{&ws, "06 13 8A 00 03", 0},
		{&ws, "06 13 8B 00 03", -ENOMSG}, /* address echo */
		{&ws, "06 13 8A 00 04", -ENOMSG}, /* value echo */
		{&ws, "06 13 8A 00", -EBADMSG},
		{&ws, "06 13 8A 00 03 00", -EBADMSG},
		{&ws, "10 13 8A 00 01", -ENOMSG},
		{&wm, "10 00 07 00 02", 0},
		{&wm, "10 00 08 00 02", -ENOMSG}, /* address echo */
		{&wm, "10 00 07 00 01", -ENOMSG}, /* count echo */
		{&wm, "10 00 07 00", -EBADMSG},
		{&wm, "10 00 07 00 02 04", -EBADMSG},
		{&wm, "06 00 07 00 02", -ENOMSG},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint8_t pdu[16], adu[32];
		uint16_t regs[4] = {0};
		size_t n = hex(cases[i].pdu, pdu);
		int r = modbus_pdu_reply(cases[i].req, pdu, n, regs, 4, NULL);

		if (r != cases[i].want)
			fprintf(stderr, "mismatch case %zu: '%s'\n", i, cases[i].pdu);
		CHECK_EQ_INT(r, cases[i].want);
		if (i == 0) {
			CHECK_EQ_INT(regs[0], 1);
			CHECK_EQ_INT(regs[1], 2);
		}
		/* RTU adds nothing to the verdict but the frame checks */
		if (n) {
			CHECK_EQ_INT(modbus_rtu_encode(1, pdu, n, adu, sizeof(adu)), (int)n + 3);
			CHECK_EQ_INT(modbus_rtu_reply(cases[i].req, 1, adu, n + 3, regs, 4, NULL),
				     cases[i].want);
			CHECK_EQ_INT(modbus_rtu_reply(cases[i].req, 2, adu, n + 3, regs, 4, NULL),
				     -ENOMSG);
		}
	}
	/* the lengths a reader waits for */
	CHECK_EQ_INT(modbus_rtu_reply_len(&rd, (const uint8_t *)"\x01\x04", 2), 9);
	CHECK_EQ_INT(modbus_rtu_reply_len(&rd, (const uint8_t *)"\x01\x84", 2), 5);
	CHECK_EQ_INT(modbus_rtu_reply_len(&rd, (const uint8_t *)"\x01\x83", 2), 9);
	CHECK_EQ_INT(modbus_rtu_reply_len(&ws, (const uint8_t *)"\x01\x06", 2), 8);
	CHECK_EQ_INT(modbus_rtu_reply_len(&ws, (const uint8_t *)"\x01\x86", 2), 5);
	CHECK_EQ_INT(modbus_rtu_reply_len(&wm, (const uint8_t *)"\x01\x10", 2), 8);
	CHECK_EQ_INT(modbus_rtu_reply_len(&wm, (const uint8_t *)"\x01\x90", 2), 5);
	{
		struct modbus_req big = {.fn = MODBUS_FC_READ_HOLDING, .count = MODBUS_READ_MAX};

		CHECK_EQ_INT(modbus_rtu_reply_len(&big, (const uint8_t *)"\x01\x03", 2), 255);
	}
}

/* A stream of ADUs of every kind, the longest and shortest included. */
struct stream {
	uint8_t bytes[2048];
	size_t len;
	size_t ends[16]; /* where each ADU ends */
	uint16_t tids[16];
	size_t count;
};

static void stream_add(struct stream *st, uint16_t tid, uint8_t unit, const uint8_t *pdu,
		       size_t pdu_len)
{
	int n = modbus_mbap_encode(tid, unit, pdu, pdu_len, st->bytes + st->len,
				   sizeof(st->bytes) - st->len);

	CHECK(n > 0);
	if (n <= 0)
		return;
	st->len += (size_t)n;
	st->tids[st->count] = tid;
	st->ends[st->count++] = st->len;
}

static void stream_build(struct stream *st)
{
	uint8_t pdu[MODBUS_PDU_MAX];

	memset(st, 0, sizeof(*st));
	pdu[0] = 3;
	pdu[1] = 250;
	for (int i = 0; i < 250; i++)
		pdu[2 + i] = (uint8_t)i;
	stream_add(st, 1, 1, pdu, 252); /* 125 registers */
	stream_add(st, 2, 0xFF, (const uint8_t *)"\x83\x02", 2);
	stream_add(st, 0xFFFF, 0, (const uint8_t *)"\x2B", 1); /* length 2 */
	for (int i = 0; i < MODBUS_PDU_MAX; i++)
		pdu[i] = (uint8_t)(0xA0 ^ i);
	stream_add(st, 0x8000, 9, pdu, MODBUS_PDU_MAX); /* length 254 */
	stream_add(st, 5, 1, (const uint8_t *)"\x06\x13\x8A\x00\x03", 5);
}

/* Feed data in chunks cut at the given points; return the ADUs seen and
 * check each against the stream. */
static size_t stream_feed(const struct stream *st, const size_t *cuts, size_t ncuts)
{
	struct modbus_mbap_stream s;
	size_t seen = 0, from = 0, prev_end = 0;

	modbus_mbap_init(&s);
	for (size_t c = 0; c <= ncuts; c++) {
		size_t to = c < ncuts ? cuts[c] : st->len;

		while (from < to) {
			struct modbus_adu adu;
			size_t used = 0;
			int r = modbus_mbap_feed(&s, st->bytes + from, to - from, &used, &adu);

			CHECK(used >= 1 && used <= to - from);
			CHECK(r == 0 || r == 1);
			if (used < 1 || r < 0)
				return seen;
			from += used;
			if (r == 1) {
				CHECK(seen < st->count);
				if (seen >= st->count)
					return seen;
				CHECK_EQ_INT(from, st->ends[seen]);
				CHECK_EQ_INT(adu.tid, st->tids[seen]);
				CHECK_EQ_INT(adu.raw_len, st->ends[seen] - prev_end);
				CHECK(!memcmp(adu.raw, st->bytes + prev_end, adu.raw_len));
				CHECK_EQ_INT(adu.pdu_len, adu.raw_len - MODBUS_MBAP_HDR);
				CHECK(adu.pdu == adu.raw + MODBUS_MBAP_HDR);
				prev_end = st->ends[seen++];
			} else {
				CHECK_EQ_INT(from, to);
			}
		}
	}
	CHECK_EQ_INT(s.stats.adus, seen);
	CHECK_EQ_INT(s.stats.bad_protocol + s.stats.bad_length + s.stats.dropped, 0);
	return seen;
}

static void test_mbap_stream(void)
{
	static struct stream st;
	size_t cuts[2];

	stream_build(&st);
	CHECK_EQ_INT(st.count, 5);
	/* all in one chunk: several ADUs come out of one */
	CHECK_EQ_INT(stream_feed(&st, NULL, 0), st.count);
	/* split once at every byte boundary */
	for (size_t k = 1; k < st.len; k++) {
		cuts[0] = k;
		CHECK_EQ_INT(stream_feed(&st, cuts, 1), st.count);
	}
	/* and twice, at the boundaries around every header */
	for (size_t a = 0; a < st.count; a++) {
		size_t base = a ? st.ends[a - 1] : 0;

		for (size_t i = 0; i <= MODBUS_MBAP_HDR + 1; i++)
			for (size_t j = i; j <= MODBUS_MBAP_HDR + 1; j++) {
				cuts[0] = base + i;
				cuts[1] = base + j;
				if (cuts[1] <= st.len)
					CHECK_EQ_INT(stream_feed(&st, cuts, 2), st.count);
			}
	}
	/* one byte at a time */
	{
		static size_t every[2048];

		for (size_t k = 1; k < st.len; k++)
			every[k - 1] = k;
		CHECK_EQ_INT(stream_feed(&st, every, st.len - 1), st.count);
	}
}

static void test_mbap_garbage(void)
{
	struct modbus_mbap_stream s;
	struct modbus_adu adu;
	uint8_t b[64];
	size_t used, n;

	/* protocol id 1: refused at its fourth byte, the rest not taken */
	modbus_mbap_init(&s);
	n = hex("00 01 00 01 00 06 01 03 00 00 00 01", b);
	CHECK_EQ_INT(modbus_mbap_feed(&s, b, n, &used, &adu), -EBADMSG);
	CHECK_EQ_INT(used, 4);
	CHECK_EQ_INT(s.stats.bad_protocol, 1);
	CHECK_EQ_INT(s.stats.dropped, 4);
	/* fed on, "00 06 01 03" is a header with protocol 0x0103 */
	CHECK_EQ_INT(modbus_mbap_feed(&s, b + 4, n - 4, &used, &adu), -EBADMSG);
	CHECK_EQ_INT(used, 4);
	CHECK_EQ_INT(s.stats.bad_protocol, 2);

	/* lengths 0, 1 and 255 are refused at the sixth byte, 2 and 254 taken */
	modbus_mbap_init(&s);
	n = hex("00 01 00 00 00 00", b);
	CHECK_EQ_INT(modbus_mbap_feed(&s, b, n, &used, &adu), -EBADMSG);
	CHECK_EQ_INT(used, 6);
	n = hex("00 01 00 00 00 01", b);
	CHECK_EQ_INT(modbus_mbap_feed(&s, b, n, &used, &adu), -EBADMSG);
	n = hex("00 01 00 00 00 FF", b);
	CHECK_EQ_INT(modbus_mbap_feed(&s, b, n, &used, &adu), -EBADMSG);
	n = hex("00 01 00 00 01 00", b);
	CHECK_EQ_INT(modbus_mbap_feed(&s, b, n, &used, &adu), -EBADMSG);
	CHECK_EQ_INT(s.stats.bad_length, 4);
	CHECK_EQ_INT(s.stats.dropped, 24);
	CHECK_EQ_INT(s.stats.adus, 0);
	/* after a refusal, a good ADU right behind it decodes */
	n = hex("00 01 00 00 00 00  00 07 00 00 00 02 01 2B", b);
	CHECK_EQ_INT(modbus_mbap_feed(&s, b, n, &used, &adu), -EBADMSG);
	CHECK_EQ_INT(used, 6);
	CHECK_EQ_INT(modbus_mbap_feed(&s, b + 6, n - 6, &used, &adu), 1);
	CHECK_EQ_INT(used, 8);
	CHECK_EQ_INT(adu.tid, 7);
	CHECK_EQ_INT(adu.unit, 1);
	CHECK_EQ_INT(adu.pdu_len, 1);
	CHECK_EQ_INT(adu.pdu[0], 0x2B);
	CHECK_EQ_INT(s.stats.adus, 1);
	/* nothing in, nothing out */
	CHECK_EQ_INT(modbus_mbap_feed(&s, b, 0, &used, &adu), 0);
	CHECK_EQ_INT(used, 0);
	/* random bytes: every call makes progress, every refusal is counted,
	 * whatever comes out is within the limits */
	{
		uint8_t junk[4096];
		uint32_t x = 12345;
		size_t from = 0, errors = 0, adus = 0;

		for (size_t i = 0; i < sizeof(junk); i++) {
			x = x * 1103515245u + 12345u;
			/* mostly zeros, so that some headers pass */
			junk[i] = (x >> 24) < 160 ? 0 : (uint8_t)(x >> 16);
		}
		modbus_mbap_init(&s);
		while (from < sizeof(junk)) {
			int r = modbus_mbap_feed(&s, junk + from, sizeof(junk) - from, &used, &adu);

			CHECK(used >= 1);
			if (!used)
				break;
			from += used;
			if (r < 0)
				errors++;
			if (r == 1) {
				adus++;
				CHECK(adu.pdu_len >= 1 && adu.pdu_len <= MODBUS_PDU_MAX);
			}
		}
		CHECK_EQ_INT(s.stats.bad_protocol + s.stats.bad_length, errors);
		CHECK_EQ_INT(s.stats.adus, adus);
		CHECK(errors > 0);
	}
}

static void test_mbap_answers(void)
{
	struct modbus_req rd = {.fn = MODBUS_FC_READ_HOLDING, .addr = 0, .count = 1};
	struct modbus_adu adu = {
		.tid = 42, .unit = 1, .pdu = (const uint8_t *)"\x03\x02\x00\x07", .pdu_len = 4};

	CHECK(modbus_mbap_answers(&adu, 42, 1, &rd));
	CHECK(!modbus_mbap_answers(&adu, 43, 1, &rd));
	CHECK(!modbus_mbap_answers(&adu, 42, 2, &rd));
	adu.pdu = (const uint8_t *)"\x83\x02";
	adu.pdu_len = 2;
	CHECK(modbus_mbap_answers(&adu, 42, 1, &rd));
	adu.pdu = (const uint8_t *)"\x04\x02\x00\x07";
	adu.pdu_len = 4;
	CHECK(!modbus_mbap_answers(&adu, 42, 1, &rd));
	adu.pdu = (const uint8_t *)"\x84\x02";
	CHECK(!modbus_mbap_answers(&adu, 42, 1, &rd));
	adu.pdu_len = 0;
	CHECK(!modbus_mbap_answers(&adu, 42, 1, &rd));
}

static void test_timing(void)
{
	static const struct {
		uint32_t baud;
		unsigned data;
		char parity;
		unsigned stop;
		uint64_t t15, t35;
	} cases[] = {
		/* 10-bit characters: 4.1667 ms each, t3.5 14.58 ms (PowMr) */
		{2400, 8, 'N', 1, 6250000, 14583334},
		{9600, 8, 'N', 1, 1562500, 3645834},
		/* EG4: 19200 8N1 is 1.82 ms, computed (only above 19200 fixed) */
		{19200, 8, 'N', 1, 781250, 1822917},
		/* the spec's 11-bit character */
		{19200, 8, 'E', 1, 859375, 2005209},
		{19200, 8, 'N', 2, 859375, 2005209},
		{9600, 8, 'O', 2, 1875000, 4375000},
		{1200, 7, 'E', 1, 12500000, 29166667},
		{300, 5, 'N', 1, 35000000, 81666667},
		{19201, 8, 'N', 1, 750000, 1750000},
		{38400, 8, 'E', 1, 750000, 1750000},
		{115200, 8, 'N', 1, 750000, 1750000},
		{4000000, 8, 'N', 1, 750000, 1750000},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint64_t t15 = 0, t35 = 0;

		CHECK_EQ_INT(modbus_rtu_timing(cases[i].baud, cases[i].data, cases[i].parity,
					       cases[i].stop, &t15, &t35),
			     0);
		CHECK_EQ_INT(t15, cases[i].t15);
		CHECK_EQ_INT(t35, cases[i].t35);
	}
	{
		uint64_t t35 = 0;

		CHECK_EQ_INT(modbus_rtu_timing(2400, 8, 'N', 1, NULL, &t35), 0);
		CHECK_NEAR((double)t35 / 1e6, 14.583, 0.001);
		CHECK_EQ_INT(modbus_rtu_timing(2400, 8, 'N', 1, NULL, NULL), 0);
	}
	CHECK_EQ_INT(modbus_rtu_timing(0, 8, 'N', 1, NULL, NULL), -EINVAL);
	CHECK_EQ_INT(modbus_rtu_timing(9600, 9, 'N', 1, NULL, NULL), -EINVAL);
	CHECK_EQ_INT(modbus_rtu_timing(9600, 4, 'N', 1, NULL, NULL), -EINVAL);
	CHECK_EQ_INT(modbus_rtu_timing(9600, 8, 'X', 1, NULL, NULL), -EINVAL);
	CHECK_EQ_INT(modbus_rtu_timing(9600, 8, 'n', 1, NULL, NULL), -EINVAL);
	CHECK_EQ_INT(modbus_rtu_timing(9600, 8, 'N', 0, NULL, NULL), -EINVAL);
	CHECK_EQ_INT(modbus_rtu_timing(9600, 8, 'N', 3, NULL, NULL), -EINVAL);
}

static void test_url(void)
{
	static const char *const bad[] = {
		"",
		"tcp://",
		"tcp://:502",
		"tcp://h:",
		"tcp://h:0",
		"tcp://h:65536",
		"tcp://h:x",
		"tcp://h:-1",
		"tcp://h:+1",
		"tcp://h/x",
		"tcp://::1",
		"tcp://[::1",
		"tcp://[::1]x",
		"tcp://[]:5",
		"tcp://[1.2.3.4]",
		"tcp://[::1%]",
		"tcp://ho st",
		"tcp://h;rm",
		"rtu://dev/ttyS0",
		"rtu://",
		"udp://h",
		"http://h:502",
	};
	struct modbus_url u;
	char why[128];
	size_t i;

	CHECK_EQ_INT(modbus_url_parse("tcp://192.168.1.50:1502", &u, why, sizeof(why)), 0);
	CHECK(u.transport == MODBUS_TCP);
	CHECK_STR(u.host, "192.168.1.50");
	CHECK_STR(u.port, "1502");
	CHECK_EQ_INT(modbus_url_parse("tcp://inverter.lan", &u, why, sizeof(why)), 0);
	CHECK_STR(u.host, "inverter.lan");
	CHECK_STR(u.port, "502");
	CHECK_EQ_INT(modbus_url_parse("tcp://[::1]:5020", &u, why, sizeof(why)), 0);
	CHECK_STR(u.host, "::1");
	CHECK_STR(u.port, "5020");
	CHECK_EQ_INT(modbus_url_parse("tcp://[fe80::1]", &u, why, sizeof(why)), 0);
	CHECK_STR(u.host, "fe80::1");
	CHECK_STR(u.port, "502");
	CHECK_EQ_INT(modbus_url_parse("tcp://[fe80::1%eth0]:502", &u, why, sizeof(why)), 0);
	CHECK_STR(u.host, "fe80::1%eth0");
	CHECK_EQ_INT(modbus_url_parse("rtu:///dev/ttyUSB0", &u, why, sizeof(why)), 0);
	CHECK(u.transport == MODBUS_RTU);
	CHECK_STR(u.path, "/dev/ttyUSB0");
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		why[0] = '\0';
		CHECK_EQ_INT(modbus_url_parse(bad[i], &u, why, sizeof(why)), -EINVAL);
		CHECK(why[0] != '\0');
	}
	/* No room for the reason: still refused. */
	CHECK_EQ_INT(modbus_url_parse("tcp://", &u, NULL, 0), -EINVAL);
}

int main(void)
{
	test_crc();
	test_powmr();
	test_encode();
	test_limits();
	test_exceptions();
	test_mismatch();
	test_mbap_stream();
	test_mbap_garbage();
	test_mbap_answers();
	test_timing();
	test_url();
	return check_result();
}

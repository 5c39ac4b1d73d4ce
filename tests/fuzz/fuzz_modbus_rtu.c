/* libFuzzer target for Modbus requests, replies and RTU frames
 * (include/modbus.h).
 *
 * The input's first 8 bytes are a request (function selector, address,
 * count, unit, value), the rest a frame received in answer.  The frame is
 * decoded as it is, and again with its unit and CRC made right so the reply
 * checks behind the CRC are reached.  Invariants:
 *   - a request the limits refuse does not encode; one they take encodes to
 *     its length, and as an RTU frame decodes back to the same PDU;
 *   - every return is one the header documents for that call;
 *   - a decoded frame re-encodes to the same bytes;
 *   - a reply taken (0) is exactly modbus_rtu_reply_len bytes long and its
 *     registers are the frame's big-endian words; an exception carries a
 *     code 1..11 with a name, in a 5-byte frame;
 *   - a reply refused with -EINVAL only for a request the limits refuse. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crc.h"
#include "modbus.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_HDR 8

static void fuzz_fail(const char *what)
{
	fprintf(stderr, "fuzz_modbus_rtu: %s\n", what);
	abort();
}

static void fuzz_request(const struct modbus_req *req, uint8_t unit)
{
	uint8_t adu[MODBUS_RTU_ADU_MAX + 8];
	const uint8_t *pdu;
	size_t pdu_len;
	int valid = modbus_req_check(req), n;

	n = modbus_pdu_encode(req, adu + 1, sizeof(adu) - 1);
	if (valid < 0) {
		if (n != valid)
			fuzz_fail("a refused request encoded");
		return;
	}
	if (n != (req->fn == MODBUS_FC_WRITE_MULTIPLE ? 6 + 2 * req->count : 5))
		fuzz_fail("a request of the wrong length");
	if (modbus_rtu_encode(unit, adu + 1, (size_t)n, adu, sizeof(adu)) != n + 3)
		fuzz_fail("a request does not frame");
	if (modbus_rtu_decode(adu, (size_t)n + 3, unit, &pdu, &pdu_len) != 0 ||
	    pdu_len != (size_t)n || pdu[0] != req->fn)
		fuzz_fail("a framed request does not decode");
}

static void fuzz_reply(const struct modbus_req *req, uint8_t unit, const uint8_t *frame, size_t n)
{
	uint8_t again[MODBUS_RTU_ADU_MAX];
	uint16_t regs[MODBUS_READ_MAX];
	const uint8_t *pdu;
	size_t pdu_len;
	uint8_t code = 0;
	int d = modbus_rtu_decode(frame, n, unit, &pdu, &pdu_len), r;

	if (d != 0 && d != -EBADMSG && d != -EILSEQ && d != -ENOMSG)
		fuzz_fail("decode: an unexpected return value");
	if (d == 0) {
		if (pdu != frame + 1 || pdu_len != n - 3)
			fuzz_fail("decode: the PDU is not the frame's middle");
		if (modbus_rtu_encode(unit, pdu, pdu_len, again, sizeof(again)) != (int)n ||
		    memcmp(again, frame, n))
			fuzz_fail("decode: a frame does not re-encode to its bytes");
	}
	r = modbus_rtu_reply(req, unit, frame, n, regs, MODBUS_READ_MAX, &code);
	if (d != 0 && r != d)
		fuzz_fail("reply: a frame refusal not passed on");
	switch (r) {
	case 0:
		if (modbus_rtu_reply_len(req, frame, n) != (int)n)
			fuzz_fail("reply: taken, but not of the length predicted");
		if (req->fn == MODBUS_FC_READ_HOLDING || req->fn == MODBUS_FC_READ_INPUT)
			for (unsigned i = 0; i < req->count; i++)
				if (regs[i] != (frame[3 + 2 * i] << 8 | frame[4 + 2 * i]))
					fuzz_fail("reply: a register is not its big-endian word");
		break;
	case -EREMOTEIO:
		if (code < 1 || code > MODBUS_EX_MAX || n != 5 ||
		    modbus_rtu_reply_len(req, frame, n) != 5 ||
		    !strcmp(modbus_exception_name(code), "unknown exception"))
			fuzz_fail("reply: a bad exception");
		break;
	case -EINVAL:
		if (modbus_req_check(req) == 0)
			fuzz_fail("reply: a good request refused");
		break;
	case -EBADMSG:
	case -EILSEQ:
	case -ENOMSG:
		break;
	default:
		fuzz_fail("reply: an unexpected return value");
	}
	/* The PDU alone, as a TCP reply would carry it. */
	r = modbus_pdu_reply(req, frame, n, regs, MODBUS_READ_MAX, &code);
	if (r != 0 && r != -EREMOTEIO && r != -EINVAL && r != -EBADMSG && r != -ENOMSG)
		fuzz_fail("pdu reply: an unexpected return value");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t fns[4] = {MODBUS_FC_READ_HOLDING, MODBUS_FC_READ_INPUT,
				       MODBUS_FC_WRITE_SINGLE, MODBUS_FC_WRITE_MULTIPLE};
	uint16_t values[MODBUS_WRITE_MAX];
	struct modbus_req req;
	uint8_t unit, fixed[MODBUS_RTU_ADU_MAX];
	const uint8_t *frame = data + FUZZ_HDR, *pdu;
	size_t n, pdu_len;

	if (size < FUZZ_HDR)
		return 0;
	n = size - FUZZ_HDR;
	/* Mostly a request within the limits; bit 7 lets any function and any
	 * count through, for the refusals. */
	req.fn = data[0] & 0x80 ? data[0] & 0x7F : fns[data[0] & 3];
	req.addr = (uint16_t)(data[1] << 8 | data[2]);
	req.count = data[0] & 0x80 ? (uint16_t)(data[3] << 8 | data[4]) : data[4] % 128;
	unit = data[5];
	req.value = (uint16_t)(data[6] << 8 | data[7]);
	for (unsigned i = 0; i < MODBUS_WRITE_MAX; i++)
		values[i] = (uint16_t)(req.value + i);
	req.values = data[0] & 0x40 ? NULL : values;

	fuzz_request(&req, unit);
	fuzz_reply(&req, unit, frame, n);
	if (n >= MODBUS_RTU_MIN && n <= MODBUS_RTU_ADU_MAX) {
		uint16_t crc;

		memcpy(fixed, frame, n);
		fixed[0] = unit;
		crc = crc_16_modbus(CRC_16_MODBUS_INIT, fixed, n - 2);
		fixed[n - 2] = (uint8_t)crc;
		fixed[n - 1] = (uint8_t)(crc >> 8);
		if (modbus_rtu_decode(fixed, n, unit, &pdu, &pdu_len) != 0)
			fuzz_fail("a frame with its unit and CRC right does not decode");
		fuzz_reply(&req, unit, fixed, n);
	}
	return 0;
}

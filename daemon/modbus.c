/* Modbus client core (include/modbus.h): request PDUs, replies checked
 * against their request, MBAP and RTU framing, RTU silence times. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crc.h"
#include "modbus.h"

#define MODBUS_ADDR_SPACE   65536u
#define MODBUS_EX_PDU_LEN   2 /* function | 0x80, code */
#define MODBUS_ECHO_PDU_LEN 5 /* function, address, value or count */
#define MODBUS_MBAP_LEN_MIN 2 /* unit and a function code */
#define MODBUS_MBAP_LEN_MAX (1 + MODBUS_PDU_MAX)
#define MODBUS_RTU_FAST	    19200u /* above it the silence times are fixed */
#define MODBUS_T15_FAST_NS  750000u
#define MODBUS_T35_FAST_NS  1750000u

static uint16_t modbus_get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static void modbus_put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static bool modbus_is_read(uint8_t fn)
{
	return fn == MODBUS_FC_READ_HOLDING || fn == MODBUS_FC_READ_INPUT;
}

/* The limits that matter to a reply as well; the values are the encoder's
 * alone, and a caller may have let them go by the time the reply comes. */
static int modbus_req_shape(const struct modbus_req *req)
{
	unsigned max;

	switch (req->fn) {
	case MODBUS_FC_READ_HOLDING:
	case MODBUS_FC_READ_INPUT:
		max = MODBUS_READ_MAX;
		break;
	case MODBUS_FC_WRITE_SINGLE:
		return 0;
	case MODBUS_FC_WRITE_MULTIPLE:
		max = MODBUS_WRITE_MAX;
		break;
	default:
		return -EINVAL;
	}
	if (req->count < 1 || req->count > max ||
	    req->addr + (unsigned)req->count > MODBUS_ADDR_SPACE)
		return -EINVAL;
	return 0;
}

int modbus_req_check(const struct modbus_req *req)
{
	if (req->fn == MODBUS_FC_WRITE_MULTIPLE && !req->values)
		return -EINVAL;
	return modbus_req_shape(req);
}

int modbus_pdu_encode(const struct modbus_req *req, uint8_t *pdu, size_t size)
{
	size_t len = 5;
	int r = modbus_req_check(req);

	if (r)
		return r;
	if (req->fn == MODBUS_FC_WRITE_MULTIPLE)
		len = 6 + 2 * (size_t)req->count;
	if (size < len)
		return -ENOSPC;
	pdu[0] = req->fn;
	modbus_put16(pdu + 1, req->addr);
	if (req->fn == MODBUS_FC_WRITE_SINGLE) {
		modbus_put16(pdu + 3, req->value);
	} else {
		modbus_put16(pdu + 3, req->count);
	}
	if (req->fn == MODBUS_FC_WRITE_MULTIPLE) {
		pdu[5] = (uint8_t)(2 * req->count);
		for (unsigned i = 0; i < req->count; i++)
			modbus_put16(pdu + 6 + 2 * i, req->values[i]);
	}
	return (int)len;
}

int modbus_pdu_reply(const struct modbus_req *req, const uint8_t *pdu, size_t len, uint16_t *regs,
		     size_t max, uint8_t *exception)
{
	unsigned bytes;
	int r = modbus_req_shape(req);

	if (r)
		return r;
	if (len < 1)
		return -EBADMSG;
	if (pdu[0] == (req->fn | MODBUS_FC_EXCEPTION)) {
		if (len != MODBUS_EX_PDU_LEN || pdu[1] < 1 || pdu[1] > MODBUS_EX_MAX)
			return -EBADMSG;
		if (exception)
			*exception = pdu[1];
		return -EREMOTEIO;
	}
	if (pdu[0] != req->fn)
		return -ENOMSG;
	if (!modbus_is_read(req->fn)) {
		uint16_t second = req->fn == MODBUS_FC_WRITE_SINGLE ? req->value : req->count;

		if (len != MODBUS_ECHO_PDU_LEN)
			return -EBADMSG;
		if (modbus_get16(pdu + 1) != req->addr || modbus_get16(pdu + 3) != second)
			return -ENOMSG;
		return 0;
	}
	if (len < 2)
		return -EBADMSG;
	bytes = pdu[1];
	if (len != 2 + (size_t)bytes || bytes % 2)
		return -EBADMSG;
	/* A consistent reply of another size answers some other read (another
	 * client's, or one we gave up on), not a damaged version of ours. */
	if (bytes != 2u * req->count)
		return -ENOMSG;
	if (max < req->count)
		return -ENOSPC;
	for (unsigned i = 0; i < req->count; i++)
		regs[i] = modbus_get16(pdu + 2 + 2 * i);
	return 0;
}

const char *modbus_exception_name(unsigned code)
{
	static const char *const names[MODBUS_EX_MAX + 1] = {
		[MODBUS_EX_ILLEGAL_FUNCTION] = "illegal function",
		[MODBUS_EX_ILLEGAL_ADDRESS] = "illegal data address",
		[MODBUS_EX_ILLEGAL_VALUE] = "illegal data value",
		[MODBUS_EX_DEVICE_FAILURE] = "server device failure",
		[MODBUS_EX_ACKNOWLEDGE] = "acknowledge (still processing)",
		[MODBUS_EX_DEVICE_BUSY] = "server device busy",
		[MODBUS_EX_NEGATIVE_ACK] = "negative acknowledge",
		[MODBUS_EX_MEMORY_PARITY] = "memory parity error",
		[9] = "unassigned exception 9",
		[MODBUS_EX_GATEWAY_PATH] = "gateway path unavailable",
		[MODBUS_EX_GATEWAY_TARGET] = "gateway target device failed to respond",
	};

	if (code < 1 || code > MODBUS_EX_MAX)
		return "unknown exception";
	return names[code];
}

int modbus_mbap_encode(uint16_t tid, uint8_t unit, const uint8_t *pdu, size_t pdu_len, uint8_t *adu,
		       size_t size)
{
	if (pdu_len < 1 || pdu_len > MODBUS_PDU_MAX)
		return -EINVAL;
	if (size < MODBUS_MBAP_HDR + pdu_len)
		return -ENOSPC;
	/* memmove first: the caller may have built the PDU in place. */
	memmove(adu + MODBUS_MBAP_HDR, pdu, pdu_len);
	modbus_put16(adu, tid);
	modbus_put16(adu + 2, 0);
	modbus_put16(adu + 4, (uint16_t)(1 + pdu_len));
	adu[6] = unit;
	return (int)(MODBUS_MBAP_HDR + pdu_len);
}

void modbus_mbap_init(struct modbus_mbap_stream *s)
{
	memset(s, 0, sizeof(*s));
}

/* The header so far: 0 while it may still be good, else the refusal,
 * counted, with the bytes dropped. */
static int modbus_mbap_header(struct modbus_mbap_stream *s)
{
	if (s->len == 4 && modbus_get16(s->buf + 2) != 0) {
		s->stats.bad_protocol++;
	} else if (s->len == 6 && (modbus_get16(s->buf + 4) < MODBUS_MBAP_LEN_MIN ||
				   modbus_get16(s->buf + 4) > MODBUS_MBAP_LEN_MAX)) {
		s->stats.bad_length++;
	} else {
		return 0;
	}
	s->stats.dropped += s->len;
	s->len = 0;
	return -EBADMSG;
}

int modbus_mbap_feed(struct modbus_mbap_stream *s, const uint8_t *data, size_t n, size_t *used,
		     struct modbus_adu *adu)
{
	size_t k = 0, total;

	if (s->ready) {
		s->ready = false;
		s->len = 0;
	}
	/* Byte by byte through the header, so each field is judged the moment
	 * it is complete and no byte after a bad one is taken. */
	while (k < n && s->len < MODBUS_MBAP_HDR) {
		s->buf[s->len++] = data[k++];
		if (modbus_mbap_header(s)) {
			*used = k;
			return -EBADMSG;
		}
	}
	if (s->len < MODBUS_MBAP_HDR) {
		*used = k;
		return 0;
	}
	total = 6 + (size_t)modbus_get16(s->buf + 4);
	if (n - k < total - s->len) {
		memcpy(s->buf + s->len, data + k, n - k);
		s->len = (uint16_t)(s->len + (n - k));
		*used = n;
		return 0;
	}
	memcpy(s->buf + s->len, data + k, total - s->len);
	k += total - s->len;
	s->len = (uint16_t)total;
	s->ready = true;
	s->stats.adus++;
	adu->tid = modbus_get16(s->buf);
	adu->unit = s->buf[6];
	adu->pdu = s->buf + MODBUS_MBAP_HDR;
	adu->pdu_len = total - MODBUS_MBAP_HDR;
	adu->raw = s->buf;
	adu->raw_len = total;
	*used = k;
	return 1;
}

bool modbus_mbap_answers(const struct modbus_adu *adu, uint16_t tid, uint8_t unit,
			 const struct modbus_req *req)
{
	return adu->tid == tid && adu->unit == unit && adu->pdu_len >= 1 &&
	       (adu->pdu[0] & ~MODBUS_FC_EXCEPTION) == req->fn;
}

int modbus_rtu_encode(uint8_t unit, const uint8_t *pdu, size_t pdu_len, uint8_t *adu, size_t size)
{
	uint16_t crc;

	if (pdu_len < 1 || pdu_len > MODBUS_PDU_MAX)
		return -EINVAL;
	if (size < 3 + pdu_len)
		return -ENOSPC;
	memmove(adu + 1, pdu, pdu_len);
	adu[0] = unit;
	crc = crc_16_modbus(CRC_16_MODBUS_INIT, adu, 1 + pdu_len);
	adu[1 + pdu_len] = (uint8_t)crc;
	adu[2 + pdu_len] = (uint8_t)(crc >> 8);
	return (int)(3 + pdu_len);
}

int modbus_rtu_decode(const uint8_t *adu, size_t len, uint8_t unit, const uint8_t **pdu,
		      size_t *pdu_len)
{
	uint16_t crc;

	if (len < MODBUS_RTU_MIN || len > MODBUS_RTU_ADU_MAX)
		return -EBADMSG;
	crc = crc_16_modbus(CRC_16_MODBUS_INIT, adu, len - 2);
	if (adu[len - 2] != (uint8_t)crc || adu[len - 1] != (uint8_t)(crc >> 8))
		return -EILSEQ;
	if (adu[0] != unit)
		return -ENOMSG;
	*pdu = adu + 1;
	*pdu_len = len - 3;
	return 0;
}

int modbus_rtu_reply_len(const struct modbus_req *req, const uint8_t *rx, size_t n)
{
	int r = modbus_req_shape(req);

	if (r)
		return r;
	if (n < 2)
		return -EAGAIN;
	if (rx[1] == (req->fn | MODBUS_FC_EXCEPTION))
		return 3 + MODBUS_EX_PDU_LEN;
	if (modbus_is_read(req->fn))
		return 5 + 2 * req->count;
	return 3 + MODBUS_ECHO_PDU_LEN;
}

int modbus_rtu_reply(const struct modbus_req *req, uint8_t unit, const uint8_t *adu, size_t len,
		     uint16_t *regs, size_t max, uint8_t *exception)
{
	const uint8_t *pdu;
	size_t pdu_len;
	int r = modbus_rtu_decode(adu, len, unit, &pdu, &pdu_len);

	if (r)
		return r;
	return modbus_pdu_reply(req, pdu, pdu_len, regs, max, exception);
}

int modbus_rtu_timing(uint32_t baud, unsigned data_bits, char parity, unsigned stop_bits,
		      uint64_t *t15_ns, uint64_t *t35_ns)
{
	uint64_t bits, t15 = MODBUS_T15_FAST_NS, t35 = MODBUS_T35_FAST_NS;

	if (!baud || data_bits < 5 || data_bits > 8 || stop_bits < 1 || stop_bits > 2 ||
	    (parity != 'N' && parity != 'E' && parity != 'O'))
		return -EINVAL;
	bits = 1 + data_bits + (parity != 'N') + stop_bits;
	if (baud <= MODBUS_RTU_FAST) {
		/* In half characters, so both come out of integer arithmetic
		 * exactly, rounded up: a silence too short splits frames. */
		uint64_t half = 2 * (uint64_t)baud;

		t15 = (3 * bits * UINT64_C(1000000000) + half - 1) / half;
		t35 = (7 * bits * UINT64_C(1000000000) + half - 1) / half;
	}
	if (t15_ns)
		*t15_ns = t15;
	if (t35_ns)
		*t35_ns = t35;
	return 0;
}

static int modbus_url_fail(char *why, size_t len, const char *msg)
{
	if (len)
		snprintf(why, len, "%s", msg);
	return -EINVAL;
}

/* A host name or IPv4 address (letters, digits, '.', '-', '_'), or in
 * brackets an IPv6 address (hex digits, ':', '.', then a %zone). */
static bool modbus_url_host_ok(const char *h, size_t n, bool v6)
{
	bool zone = false;
	size_t i;

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)h[i];

		if (v6 && !zone && c == '%' && i > 0)
			zone = true;
		else if (v6 && !zone ? !(isxdigit(c) || c == ':' || c == '.')
				     : !(isalnum(c) || c == '.' || c == '-' || c == '_'))
			return false;
	}
	return n && h[n - 1] != '%';
}

int modbus_url_parse(const char *url, struct modbus_url *u, char *why, size_t len)
{
	const char *h, *end, *colon;
	size_t n;

	memset(u, 0, sizeof(*u));
	if (!strncmp(url, "rtu://", 6)) {
		u->transport = MODBUS_RTU;
		if (url[6] != '/')
			return modbus_url_fail(why, len,
					       "rtu:// needs an absolute path: rtu:///dev/ttyUSB0");
		if (strlen(url + 6) >= sizeof(u->path))
			return modbus_url_fail(why, len, "the serial port's path is too long");
		memcpy(u->path, url + 6, strlen(url + 6) + 1);
		return 0;
	}
	if (strncmp(url, "tcp://", 6))
		return modbus_url_fail(why, len,
				       "a Modbus URL is tcp://HOST[:PORT] or rtu:///dev/PORT");
	u->transport = MODBUS_TCP;
	h = url + 6;
	if (*h == '[') {
		end = strchr(h, ']');
		if (!end)
			return modbus_url_fail(why, len, "an IPv6 address needs its closing ']'");
		colon = end[1] == ':' ? end + 1 : NULL;
		if (end[1] && !colon)
			return modbus_url_fail(why, len, "only :PORT may follow ']'");
		h++;
	} else {
		colon = strchr(h, ':');
		if (colon && strchr(colon + 1, ':'))
			return modbus_url_fail(why, len,
					       "an IPv6 address goes in brackets: tcp://[::1]:502");
		end = colon ? colon : h + strlen(h);
		if (strchr(h, '/'))
			return modbus_url_fail(why, len, "a tcp:// URL has no path");
	}
	n = (size_t)(end - h);
	if (!n)
		return modbus_url_fail(why, len, "the URL has no host");
	if (n >= sizeof(u->host))
		return modbus_url_fail(why, len, "the host name is too long");
	if (!modbus_url_host_ok(h, n, h[-1] == '[') || (h[-1] == '[' && !memchr(h, ':', n)))
		return modbus_url_fail(why, len,
				       "the host is not a name, an IPv4 or an IPv6 address");
	memcpy(u->host, h, n);
	u->host[n] = '\0';
	if (colon) {
		char *e;
		unsigned long p;

		errno = 0;
		p = strtoul(colon + 1, &e, 10);
		if (!colon[1] || *e || errno || p < 1 || p > 65535 || colon[1] == '+' ||
		    colon[1] == '-' || colon[1] == ' ')
			return modbus_url_fail(why, len, "the port must be a number 1..65535");
		snprintf(u->port, sizeof(u->port), "%lu", p);
	} else {
		snprintf(u->port, sizeof(u->port), "502");
	}
	return 0;
}

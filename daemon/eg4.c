/* The EG4 dongle protocol (include/eg4.h): framing, parsing and building
 * of frames, byte by byte against PROTOCOLS.md 1.2-1.4. */
#include <errno.h>
#include <string.h>

#include "crc.h"
#include "eg4.h"

#define EG4_TD_MIN   (EG4_TD_HDR_LEN + 2) /* a TranslatedData frame with no body */
#define EG4_BODY_MAX (3 + 2 * EG4_QUERY_MAX)

static uint16_t eg4_le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static void eg4_put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v & 0xFF);
	p[1] = (uint8_t)(v >> 8);
}

static int eg4_fail(enum eg4_err *err, enum eg4_err e)
{
	if (err)
		*err = e;
	return -EBADMSG;
}

static bool eg4_fn_known(uint8_t fn)
{
	return fn == EG4_FN_READ_HOLD || fn == EG4_FN_READ_INPUT || fn == EG4_FN_WRITE_SINGLE ||
	       fn == EG4_FN_WRITE_MULTI;
}

static void eg4_values(struct eg4_msg *m, const uint8_t *p, uint16_t n)
{
	for (uint16_t i = 0; i < n; i++)
		m->vals[i] = eg4_le16(p + 2 * i);
	m->nvals = n;
}

/* The body of a known, non-exception device function: body[blen] between
 * the start register and the CRC. */
static int eg4_parse_body(const uint8_t *body, size_t blen, struct eg4_msg *m, enum eg4_err *err)
{
	bool reply = m->dev_addr == 1;

	switch (m->dev_fn) {
	case EG4_FN_READ_HOLD:
	case EG4_FN_READ_INPUT:
		if (!reply) {
			if (blen != 2)
				return eg4_fail(err, EG4_ERR_BODY_LENGTH);
			m->count = eg4_le16(body);
			return 0;
		}
		/* Protocol 1 replies carry the values bare, the others after a
		 * value-length byte (PROTOCOLS.md 1.4). */
		if (m->protocol == 1) {
			if (blen % 2)
				return eg4_fail(err, EG4_ERR_BODY_LENGTH);
			eg4_values(m, body, (uint16_t)(blen / 2));
		} else {
			if (blen < 1)
				return eg4_fail(err, EG4_ERR_BODY_LENGTH);
			if (body[0] != blen - 1 || body[0] % 2)
				return eg4_fail(err, EG4_ERR_VALUE_LENGTH);
			eg4_values(m, body + 1, (uint16_t)(body[0] / 2));
		}
		m->count = m->nvals;
		return 0;
	case EG4_FN_WRITE_SINGLE:
		if (blen != 2)
			return eg4_fail(err, EG4_ERR_BODY_LENGTH);
		m->count = 1;
		eg4_values(m, body, 1);
		return 0;
	default: /* EG4_FN_WRITE_MULTI */
		if (reply) {
			if (blen != 2)
				return eg4_fail(err, EG4_ERR_BODY_LENGTH);
			m->count = eg4_le16(body);
			return 0;
		}
		if (blen < 3)
			return eg4_fail(err, EG4_ERR_BODY_LENGTH);
		m->count = eg4_le16(body);
		if (body[2] != 2 * (size_t)m->count)
			return eg4_fail(err, EG4_ERR_BYTE_COUNT);
		if (blen != 3 + (size_t)body[2])
			return eg4_fail(err, EG4_ERR_BODY_LENGTH);
		eg4_values(m, body + 3, m->count);
		return 0;
	}
}

static int eg4_parse_td(const uint8_t *f, size_t n, struct eg4_msg *m, enum eg4_err *err)
{
	if (n < EG4_HDR_LEN + 2)
		return eg4_fail(err, EG4_ERR_SHORT);
	m->data_len = eg4_le16(f + 18);
	if (m->data_len != n - 20)
		return eg4_fail(err, EG4_ERR_DATA_LENGTH);
	if (n < EG4_TD_MIN)
		return eg4_fail(err, EG4_ERR_SHORT);
	m->dev_addr = f[20];
	m->dev_fn = f[21] & (uint8_t)~EG4_FN_EXCEPTION;
	m->exception = f[21] & EG4_FN_EXCEPTION;
	memcpy(m->serial, f + 22, EG4_SERIAL_LEN);
	m->start = eg4_le16(f + 32);
	/* The CRC first: a corrupted frame says so, not whichever field the
	 * corruption happened to hit. */
	if (crc_16_modbus(CRC_16_MODBUS_INIT, f + 20, n - 22) != eg4_le16(f + n - 2))
		return eg4_fail(err, EG4_ERR_CRC);
	if (m->dev_addr > 1)
		return eg4_fail(err, EG4_ERR_DEV_ADDRESS);
	if (!eg4_fn_known(m->dev_fn))
		return eg4_fail(err, EG4_ERR_DEV_FN);
	if (m->exception) {
		if (n - EG4_TD_MIN != 1)
			return eg4_fail(err, EG4_ERR_BODY_LENGTH);
		m->exception_code = f[EG4_TD_HDR_LEN];
		return 0;
	}
	return eg4_parse_body(f + EG4_TD_HDR_LEN, n - EG4_TD_MIN, m, err);
}

int eg4_parse(const uint8_t *f, size_t n, struct eg4_msg *m, enum eg4_err *err)
{
	if (err)
		*err = EG4_OK;
	if (!m || (!f && n))
		return -EINVAL;
	memset(m, 0, sizeof(*m));
	m->len = n;
	if (n < EG4_HDR_LEN)
		return eg4_fail(err, EG4_ERR_SHORT);
	if (f[0] != EG4_PREFIX0 || f[1] != EG4_PREFIX1)
		return eg4_fail(err, EG4_ERR_PREFIX);
	m->protocol = eg4_le16(f + 2);
	m->tcp_addr = f[6];
	m->tcp_fn = f[7];
	memcpy(m->datalog, f + 8, EG4_DATALOG_LEN);
	if ((size_t)eg4_le16(f + 4) + 6 != n)
		return eg4_fail(err, EG4_ERR_LENGTH);
	if (n > EG4_FRAME_MAX)
		return eg4_fail(err, EG4_ERR_TOO_LONG);
	switch (m->tcp_fn) {
	case EG4_TCP_HEARTBEAT:
		/* lxp-bridge takes what follows the datalog as it comes; so do we */
		if (n < EG4_HEARTBEAT_LEN)
			return eg4_fail(err, EG4_ERR_SHORT);
		return 0;
	case EG4_TCP_READ_PARAM:
	case EG4_TCP_WRITE_PARAM:
		if (n < EG4_HDR_LEN + 2)
			return eg4_fail(err, EG4_ERR_SHORT);
		m->param_reg = eg4_le16(f + 18);
		return 0;
	case EG4_TCP_TRANSLATED:
		return eg4_parse_td(f, n, m, err);
	default:
		return eg4_fail(err, EG4_ERR_TCP_FN);
	}
}

const char *eg4_err_name(enum eg4_err err)
{
	static const char *const names[EG4_ERR_N] = {
		[EG4_OK] = "ok",
		[EG4_ERR_SHORT] = "short",
		[EG4_ERR_PREFIX] = "bad_prefix",
		[EG4_ERR_LENGTH] = "bad_length",
		[EG4_ERR_TOO_LONG] = "too_long",
		[EG4_ERR_TCP_FN] = "unknown_tcp_function",
		[EG4_ERR_DATA_LENGTH] = "bad_data_length",
		[EG4_ERR_CRC] = "bad_crc",
		[EG4_ERR_DEV_ADDRESS] = "bad_device_address",
		[EG4_ERR_DEV_FN] = "unknown_device_function",
		[EG4_ERR_BODY_LENGTH] = "bad_body_length",
		[EG4_ERR_VALUE_LENGTH] = "bad_value_length",
		[EG4_ERR_BYTE_COUNT] = "bad_byte_count",
	};

	if ((unsigned)err >= EG4_ERR_N || !names[err])
		return "unknown";
	return names[err];
}

bool eg4_reply_matches(const struct eg4_msg *request, const struct eg4_msg *reply)
{
	const struct eg4_msg *q = request, *r = reply;

	if (q->tcp_fn != EG4_TCP_TRANSLATED || r->tcp_fn != EG4_TCP_TRANSLATED)
		return false;
	if (q->dev_addr != 0 || r->dev_addr != 1 || q->exception)
		return false;
	if (memcmp(q->datalog, r->datalog, EG4_DATALOG_LEN) || q->dev_fn != r->dev_fn ||
	    q->start != r->start)
		return false;
	if (r->exception)
		return true;
	switch (q->dev_fn) {
	case EG4_FN_READ_HOLD:
	case EG4_FN_READ_INPUT:
		return r->nvals >= q->count;
	case EG4_FN_WRITE_SINGLE:
		return q->nvals == 1 && r->nvals == 1 && r->vals[0] == q->vals[0];
	case EG4_FN_WRITE_MULTI:
		return r->count == q->count;
	default:
		return false;
	}
}

/* The header of any frame: total bytes in all. */
static void eg4_put_header(uint8_t *out, uint16_t protocol, uint8_t tcp_fn, const char *datalog,
			   size_t total)
{
	out[0] = EG4_PREFIX0;
	out[1] = EG4_PREFIX1;
	eg4_put16(out + 2, protocol);
	eg4_put16(out + 4, (uint16_t)(total - 6));
	out[6] = 1;
	out[7] = tcp_fn;
	memcpy(out + 8, datalog, EG4_DATALOG_LEN);
}

/* A TranslatedData request: header, inner PDU around body[blen], CRC. */
static int eg4_put_request(const char *datalog, const char *serial, uint16_t protocol, uint8_t fn,
			   uint16_t start, const uint8_t *body, size_t blen, uint8_t *out,
			   size_t size, size_t *len)
{
	size_t total = EG4_TD_MIN + blen;

	if (!datalog || !out || !len)
		return -EINVAL;
	if (size < total)
		return -ENOSPC;
	eg4_put_header(out, protocol, EG4_TCP_TRANSLATED, datalog, total);
	eg4_put16(out + 18, (uint16_t)(total - 20));
	out[20] = 0;
	out[21] = fn;
	if (serial)
		memcpy(out + 22, serial, EG4_SERIAL_LEN);
	else
		memset(out + 22, 0, EG4_SERIAL_LEN);
	eg4_put16(out + 32, start);
	memcpy(out + EG4_TD_HDR_LEN, body, blen);
	eg4_put16(out + total - 2, crc_16_modbus(CRC_16_MODBUS_INIT, out + 20, total - 22));
	*len = total;
	return 0;
}

int eg4_build_read(const char *datalog, const char *serial, enum eg4_dev_fn fn, uint16_t start,
		   uint16_t count, uint8_t *out, size_t size, size_t *len)
{
	uint8_t body[2];

	if (fn != EG4_FN_READ_HOLD && fn != EG4_FN_READ_INPUT)
		return -EINVAL;
	/* The inverter answers within one aligned group of 40 only. */
	if (count < 1 || count > EG4_QUERY_MAX ||
	    start / EG4_QUERY_MAX != ((uint32_t)start + count - 1) / EG4_QUERY_MAX)
		return -EINVAL;
	eg4_put16(body, count);
	return eg4_put_request(datalog, serial, 1, (uint8_t)fn, start, body, sizeof(body), out,
			       size, len);
}

int eg4_build_write_single(const char *datalog, const char *serial, uint16_t reg, uint16_t value,
			   uint8_t *out, size_t size, size_t *len)
{
	uint8_t body[2];

	eg4_put16(body, value);
	return eg4_put_request(datalog, serial, 1, EG4_FN_WRITE_SINGLE, reg, body, sizeof(body),
			       out, size, len);
}

int eg4_build_write_multi(const char *datalog, const char *serial, uint16_t start,
			  const uint16_t *vals, uint16_t count, uint8_t *out, size_t size,
			  size_t *len)
{
	uint8_t body[EG4_BODY_MAX];

	if (!vals || count < 1 || count > EG4_QUERY_MAX || (uint32_t)start + count > 0x10000)
		return -EINVAL;
	eg4_put16(body, count);
	body[2] = (uint8_t)(2 * count);
	for (uint16_t i = 0; i < count; i++)
		eg4_put16(body + 3 + 2 * i, vals[i]);
	return eg4_put_request(datalog, serial, 2, EG4_FN_WRITE_MULTI, start, body,
			       3 + 2 * (size_t)count, out, size, len);
}

int eg4_build_heartbeat(const char *datalog, uint8_t *out, size_t size, size_t *len)
{
	if (!datalog || !out || !len)
		return -EINVAL;
	if (size < EG4_HEARTBEAT_LEN)
		return -ENOSPC;
	eg4_put_header(out, 2, EG4_TCP_HEARTBEAT, datalog, EG4_HEARTBEAT_LEN);
	out[18] = 0;
	*len = EG4_HEARTBEAT_LEN;
	return 0;
}

void eg4_framer_init(struct eg4_framer *fr)
{
	memset(fr, 0, sizeof(*fr));
}

/* Yield every whole frame in the buffer and keep the rest, which then
 * starts at a prefix (or is shorter than one). */
static void eg4_framer_drain(struct eg4_framer *fr, eg4_frame_cb cb, void *ctx)
{
	size_t off = 0;

	while (off < fr->len) {
		const uint8_t *p = fr->buf + off;
		size_t avail = fr->len - off, total;

		if (p[0] != EG4_PREFIX0) {
			const uint8_t *q = memchr(p + 1, EG4_PREFIX0, avail - 1);
			size_t skip = q ? (size_t)(q - p) : avail;

			fr->st.garbage += skip;
			off += skip;
			continue;
		}
		if (avail < 2)
			break;
		if (p[1] != EG4_PREFIX1) {
			fr->st.garbage++;
			off++;
			continue;
		}
		if (avail < 6)
			break;
		total = (size_t)eg4_le16(p + 4) + 6;
		if (total > EG4_FRAME_MAX || total < EG4_HEARTBEAT_LEN) {
			if (total > EG4_FRAME_MAX)
				fr->st.too_long++;
			else
				fr->st.too_short++;
			fr->st.garbage += 2;
			off += 2;
			continue;
		}
		if (avail < total)
			break;
		fr->st.frames++;
		cb(ctx, p, total);
		off += total;
	}
	memmove(fr->buf, fr->buf + off, fr->len - off);
	fr->len -= off;
}

int eg4_framer_feed(struct eg4_framer *fr, const uint8_t *data, size_t n, eg4_frame_cb cb,
		    void *ctx)
{
	if (!fr || !cb || (!data && n))
		return -EINVAL;
	fr->st.bytes += n;
	/* The buffer holds one whole frame at most, and whatever it holds
	 * starts at a prefix, so each round makes room by yielding or
	 * skipping. */
	while (n) {
		size_t k = sizeof(fr->buf) - fr->len;

		if (k > n)
			k = n;
		memcpy(fr->buf + fr->len, data, k);
		fr->len += k;
		data += k;
		n -= k;
		eg4_framer_drain(fr, cb, ctx);
	}
	return 0;
}

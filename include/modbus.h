/* Modbus client core (research/PROTOCOLS.md section 5; Modbus Application
 * Protocol v1.1b, Serial Line v1.02): request PDUs for functions 3, 4, 6 and
 * 16, their replies checked against the request, the TCP (MBAP) and RTU
 * framings and the RTU silence times.  No I/O and no allocation, so the
 * sources, modpoll and the fuzz targets run the same code.
 *
 * Errors, the same everywhere so a caller can count by kind:
 *   -EINVAL     a request (or an argument) outside the spec's limits
 *   -ENOSPC     the output buffer is too small
 *   -EBADMSG    the bytes are not a well-formed frame or reply: too short or
 *               long, a byte count disagreeing with the length, an odd byte
 *               count, an exception code outside 1..11, a bad MBAP header
 *   -EILSEQ     an RTU frame whose CRC does not match (line noise)
 *   -ENOMSG     a well-formed reply that does not answer this request: other
 *               unit, function, register count or write echo (another
 *               client's reply, or a late one)
 *   -EREMOTEIO  the device answered with an exception; its code is reported
 * Register values are big-endian on the wire and host uint16_t here; a device
 * that stores them byte-swapped (PowMr) is the register map's business. */
#ifndef POWERD_MODBUS_H
#define POWERD_MODBUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MODBUS_FC_READ_HOLDING	 3
#define MODBUS_FC_READ_INPUT	 4
#define MODBUS_FC_WRITE_SINGLE	 6
#define MODBUS_FC_WRITE_MULTIPLE 16
#define MODBUS_FC_EXCEPTION	 0x80 /* or-ed into the function of an exception reply */

#define MODBUS_READ_MAX	   125 /* registers in one read (a 250-byte reply) */
#define MODBUS_WRITE_MAX   123 /* registers in one write multiple */
#define MODBUS_PDU_MAX	   253
#define MODBUS_MBAP_HDR	   7 /* tid 2, protocol 2, length 2, unit 1 */
#define MODBUS_TCP_ADU_MAX 260
#define MODBUS_RTU_ADU_MAX 256
#define MODBUS_RTU_MIN	   4 /* unit, function, CRC */

/* Exception codes (v1.1b section 7).  7 is from older Modicon documents; 9
 * was never assigned, but a device may still send it. */
enum modbus_exception {
	MODBUS_EX_ILLEGAL_FUNCTION = 1,
	MODBUS_EX_ILLEGAL_ADDRESS = 2,
	MODBUS_EX_ILLEGAL_VALUE = 3,
	MODBUS_EX_DEVICE_FAILURE = 4,
	MODBUS_EX_ACKNOWLEDGE = 5,
	MODBUS_EX_DEVICE_BUSY = 6,
	MODBUS_EX_NEGATIVE_ACK = 7,
	MODBUS_EX_MEMORY_PARITY = 8,
	MODBUS_EX_GATEWAY_PATH = 10,
	MODBUS_EX_GATEWAY_TARGET = 11,
};
#define MODBUS_EX_MAX 11

/* A request, kept by the caller until its reply is decoded: the reply is
 * checked against it. */
struct modbus_req {
	uint8_t fn;		/* MODBUS_FC_* */
	uint16_t addr;		/* the first register */
	uint16_t count;		/* registers read (3, 4) or written (16); 6 ignores it */
	uint16_t value;		/* 6: the value written */
	const uint16_t *values; /* 16: count values; read only by modbus_pdu_encode */
};

/* 0, or -EINVAL for an unknown function, a count outside 1..125 (3, 4) or
 * 1..123 (16), addr + count beyond 65536, or 16 without values. */
int modbus_req_check(const struct modbus_req *req);

/* The request PDU (function code first).  Returns its length (5 for 3, 4
 * and 6, 6 + 2 * count for 16), -EINVAL (modbus_req_check) or -ENOSPC. */
int modbus_pdu_encode(const struct modbus_req *req, uint8_t *pdu, size_t size);

/* Decode the reply PDU pdu[0..len) to req.  Returns 0: for 3 and 4 the
 * req->count registers are in regs[0..count) (max is regs' room; -ENOSPC if
 * short), for 6 and 16 the echo matched (regs untouched, may be NULL).
 * -EREMOTEIO with *exception (may be NULL) set to the code 1..11 when the
 * device answered req->fn | 0x80; -EBADMSG or -ENOMSG as above; -EINVAL
 * for a request modbus_req_check refuses (its values aside: a reply needs
 * only the count). */
int modbus_pdu_reply(const struct modbus_req *req, const uint8_t *pdu, size_t len, uint16_t *regs,
		     size_t max, uint8_t *exception);

/* "illegal data address" and so on; "unknown exception" outside 1..11. */
const char *modbus_exception_name(unsigned code);

/* ---- Modbus/TCP: the MBAP header */

/* tid, protocol 0, length, unit, then pdu[0..pdu_len) into adu.  pdu may
 * already sit at adu + MODBUS_MBAP_HDR.  Returns 7 + pdu_len, -EINVAL for a
 * pdu_len outside 1..253, or -ENOSPC. */
int modbus_mbap_encode(uint16_t tid, uint8_t unit, const uint8_t *pdu, size_t pdu_len, uint8_t *adu,
		       size_t size);

/* One ADU as the stream decoder yields it; pdu and raw point into the
 * decoder and are valid until its next feed. */
struct modbus_adu {
	uint16_t tid;
	uint8_t unit;
	const uint8_t *pdu; /* function code first */
	size_t pdu_len;	    /* 1..253 */
	const uint8_t *raw; /* the whole ADU as received, header included */
	size_t raw_len;	    /* MODBUS_MBAP_HDR + pdu_len */
};

struct modbus_mbap_stats {
	uint64_t adus;	       /* yielded */
	uint64_t bad_protocol; /* a protocol id other than 0 */
	uint64_t bad_length;   /* a length field outside 2..254 */
	uint64_t dropped;      /* bytes thrown away by the two above */
};

/* The incremental decoder of a TCP byte stream: arbitrary chunks in, whole
 * ADUs out, at most one ADU (260 bytes) held.  The header is checked as soon
 * as each field is in: the protocol id at 4 bytes, the length at 6.
 *
 * Resynchronisation: a refused header's bytes (4 or 6) are dropped and
 * counted, and the decoder takes the very next byte as the start of a new
 * header.  TCP does not corrupt bytes, so a bad header means the peer is not
 * speaking Modbus/TCP or the stream lost its framing, and MBAP has no marker
 * to find the next frame by: what follows a bad header may well parse as a
 * false one.  A client therefore treats -EBADMSG as fatal to the connection
 * and reconnects (resetting the decoder); feeding on is for tools that want
 * to see how much of a capture is garbage. */
struct modbus_mbap_stream {
	uint8_t buf[MODBUS_TCP_ADU_MAX];
	uint16_t len; /* bytes held */
	bool ready;   /* buf holds the ADU last yielded; dropped on the next feed */
	struct modbus_mbap_stats stats;
};

void modbus_mbap_init(struct modbus_mbap_stream *s);

/* Take bytes from data[0..n) until an ADU is complete or they run out;
 * *used says how many were taken (at least 1 when n > 0, so a loop over a
 * chunk always ends).  Returns 1 with *adu filled when an ADU is complete,
 * 0 when all n bytes were taken without completing one, -EBADMSG when a
 * header was refused (see above; the rest of the chunk is not taken). */
int modbus_mbap_feed(struct modbus_mbap_stream *s, const uint8_t *data, size_t n, size_t *used,
		     struct modbus_adu *adu);

/* Whether adu answers the request sent with tid and unit: same tid and
 * unit, and its function req->fn or req->fn | 0x80.  A server echoes all
 * three; anything else is another request's reply and is not decoded. */
bool modbus_mbap_answers(const struct modbus_adu *adu, uint16_t tid, uint8_t unit,
			 const struct modbus_req *req);

/* ---- Modbus RTU (serial line) */

/* unit, pdu[0..pdu_len), CRC-16/MODBUS low byte first.  pdu may already sit
 * at adu + 1.  Returns 3 + pdu_len, -EINVAL for a pdu_len outside 1..253, or
 * -ENOSPC. */
int modbus_rtu_encode(uint8_t unit, const uint8_t *pdu, size_t pdu_len, uint8_t *adu, size_t size);

/* Check one whole frame adu[0..len), delimited by the caller (by 3.5
 * characters of silence, or modbus_rtu_reply_len).  Returns 0 with
 * *pdu and *pdu_len pointing into adu; -EBADMSG for a length outside 4..256,
 * -EILSEQ for a bad CRC (checked first: a noisy frame's unit means nothing),
 * -ENOMSG for another unit. */
int modbus_rtu_decode(const uint8_t *adu, size_t len, uint8_t unit, const uint8_t **pdu,
		      size_t *pdu_len);

/* The length of the whole RTU reply to req, from the first n bytes received,
 * so a reader can stop as soon as it is in instead of waiting for the
 * silence: 5 + 2 * count for 3 and 4, 8 for 6 and 16, 5 when rx[1] is the
 * exception function.  -EAGAIN while n < 2 (read at least 2 bytes first),
 * -EINVAL for a bad request.  A frame that is something else entirely gets
 * the normal reply's length; the decode refuses it. */
int modbus_rtu_reply_len(const struct modbus_req *req, const uint8_t *rx, size_t n);

/* modbus_rtu_decode, then modbus_pdu_reply. */
int modbus_rtu_reply(const struct modbus_req *req, uint8_t unit, const uint8_t *adu, size_t len,
		     uint16_t *regs, size_t max, uint8_t *exception);

/* The silence times for a serial line: a character is start + data_bits +
 * parity + stop_bits bits; t1.5 (the longest gap inside a frame) and t3.5
 * (the least between frames) are 1.5 and 3.5 characters, rounded up to the
 * ns, and above 19200 baud fixed at 750 us and 1750 us as the spec says
 * (the computed times would be shorter than a PC's timer can honour).
 * parity is 'N', 'E' or 'O'; data_bits 5..8, stop_bits 1 or 2, else
 * -EINVAL (also for baud 0).  Either output may be NULL. */
int modbus_rtu_timing(uint32_t baud, unsigned data_bits, char parity, unsigned stop_bits,
		      uint64_t *t15_ns, uint64_t *t35_ns);

/* Where a device is: tcp://HOST[:PORT] (port 502 by default; an IPv6
 * literal in brackets) or rtu:///dev/ttyUSB0 (a serial port, by its path).
 * One parser for the configuration check, the daemon and modpoll. */
enum modbus_transport { MODBUS_TCP, MODBUS_RTU };
struct modbus_url {
	enum modbus_transport transport;
	char host[256];	 /* tcp, without brackets */
	char port[8];	 /* tcp, decimal */
	char path[4096]; /* rtu, absolute */
};

/* 0, or -EINVAL with the reason in why (len bytes, may be 0). */
int modbus_url_parse(const char *url, struct modbus_url *u, char *why, size_t len);

#endif

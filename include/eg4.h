/* The EG4 / LuxPower WiFi dongle's TCP protocol (research/PROTOCOLS.md
 * section 1): a stream framer, a frame parser and request builders.  No I/O
 * and no allocation, so the daemon, the tools and the fuzz target run the
 * same code on the same fixed-size state.
 *
 * Outer frame, integers LE:
 *   0 A1 1A | 2 protocol(2) | 4 length(2) = total - 6 | 6 01 | 7 tcp function
 *   | 8 datalog(10, ASCII) | 18 payload
 * TranslatedData (194) payload: data length(2) = bytes after it | address
 * (0 request, 1 reply) | device function | inverter serial(10) | start
 * register(2) | body | CRC-16/MODBUS of frame[20 .. end-2), LE.
 * Register values are LE per register. */
#ifndef POWERD_EG4_H
#define POWERD_EG4_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define EG4_PREFIX0	  0xA1
#define EG4_PREFIX1	  0x1A
#define EG4_HDR_LEN	  18 /* prefix .. datalog: where the payload starts */
#define EG4_HEARTBEAT_LEN 19 /* the shortest frame: a header and one 00 byte */
/* The longest frame accepted: eg4-bridge's bound on the length field.  The
 * longest seen is the 291-byte all-inputs push. */
#define EG4_FRAME_MAX	(6 + 1024)
#define EG4_DATALOG_LEN 10
#define EG4_SERIAL_LEN	10
#define EG4_TD_HDR_LEN	34 /* a TranslatedData frame up to its body */
/* The most register values a frame of EG4_FRAME_MAX can carry. */
#define EG4_REGS_MAX ((EG4_FRAME_MAX - EG4_TD_HDR_LEN - 2) / 2)
/* A query reads at most this many registers, within one aligned group
 * (0-39, 40-79, ...; vendor doc 2.9). */
#define EG4_QUERY_MAX 40

enum eg4_tcp_fn {
	EG4_TCP_HEARTBEAT = 193,
	EG4_TCP_TRANSLATED = 194,
	EG4_TCP_READ_PARAM = 195,  /* the dongle's own settings: recognised, ignored */
	EG4_TCP_WRITE_PARAM = 196, /* the same; the cloud sends these unasked */
};

enum eg4_dev_fn {
	EG4_FN_READ_HOLD = 3,
	EG4_FN_READ_INPUT = 4,
	EG4_FN_WRITE_SINGLE = 6,
	EG4_FN_WRITE_MULTI = 16,
};
#define EG4_FN_EXCEPTION 0x80 /* or-ed into the function of an error reply */

/* Why a frame did not parse; each has a name for a counter. */
enum eg4_err {
	EG4_OK = 0,
	EG4_ERR_SHORT,	      /* shorter than the header, or than its function needs */
	EG4_ERR_PREFIX,	      /* not A1 1A */
	EG4_ERR_LENGTH,	      /* the length field is not total - 6 */
	EG4_ERR_TOO_LONG,     /* longer than EG4_FRAME_MAX */
	EG4_ERR_TCP_FN,	      /* not 193-196: to be ignored (lxp-bridge#87) */
	EG4_ERR_DATA_LENGTH,  /* TranslatedData's data length is not total - 20 */
	EG4_ERR_CRC,	      /* the CRC-16/MODBUS does not match */
	EG4_ERR_DEV_ADDRESS,  /* the inner address is neither 0 nor 1 */
	EG4_ERR_DEV_FN,	      /* a device function other than 3, 4, 6, 16 (and | 0x80) */
	EG4_ERR_BODY_LENGTH,  /* the body's size does not fit its function */
	EG4_ERR_VALUE_LENGTH, /* a reply's value-length byte disagrees with the body */
	EG4_ERR_BYTE_COUNT,   /* a WriteMulti request's byte count is not 2 * count */
	EG4_ERR_N,	      /* the number of codes, for counter arrays */
};

/* One parsed frame.  eg4_parse() zeroes it first, so two parses of the same
 * bytes compare equal with memcmp. */
struct eg4_msg {
	size_t len; /* of the frame */
	uint16_t protocol;
	uint8_t tcp_addr; /* byte 6, "always 1": kept, not checked */
	uint8_t tcp_fn;
	char datalog[EG4_DATALOG_LEN + 1]; /* the 10 bytes as they came, NUL added */

	/* TranslatedData only */
	uint16_t data_len;
	uint8_t dev_addr; /* 0 request (client to inverter), 1 reply */
	uint8_t dev_fn;	  /* without EG4_FN_EXCEPTION */
	bool exception;	  /* an error reply: exception_code says why */
	uint8_t exception_code;
	char serial[EG4_SERIAL_LEN + 1];
	uint16_t start;
	/* Registers concerned: a read or WriteMulti request's count, the number
	 * of values in a read reply, 1 for WriteSingle, a WriteMulti reply's
	 * count; 0 for an exception. */
	uint16_t count;
	/* Values carried: a read reply's, WriteSingle's one (both ways), a
	 * WriteMulti request's; nvals <= count. */
	uint16_t nvals;
	uint16_t vals[EG4_REGS_MAX];

	/* ReadParam / WriteParam: the dongle register, when present */
	uint16_t param_reg;
};

/* Parse the whole frame f[n] (from the framer or a capture).  Returns 0, or
 * -EBADMSG with *err (when not NULL) set and the fields the bytes gave
 * before the fault filled.  An unknown tcp function is -EBADMSG with
 * EG4_ERR_TCP_FN, which a reader counts and otherwise ignores; ReadParam and
 * WriteParam parse (tcp_fn says which) so that the reader can ignore them. */
int eg4_parse(const uint8_t *f, size_t n, struct eg4_msg *m, enum eg4_err *err);

/* A short name for a code ("ok", "bad_crc", ...), for counters and logs. */
const char *eg4_err_name(enum eg4_err err);

/* Does reply answer request (both parsed: a daemon parses its own built
 * request back)?  Same datalog, a reply (address 1) to a request (0), the
 * same device function (an exception counts as an answer) and start
 * register; a read reply must hold at least the registers asked for, a
 * WriteSingle reply echo the value, a WriteMulti reply the count.  Another
 * client's traffic on the dongle fails this (pylxpweb#329), so a reader
 * never takes "the next frame" as its answer. */
/* The inverter serial is not compared: a request may carry zeroes, and
 * users configure wrong ones (lxp-bridge#88). */
bool eg4_reply_matches(const struct eg4_msg *request, const struct eg4_msg *reply);

/* Builders.  Each writes one frame into out[size] and its length into *len,
 * returning 0, -ENOSPC when size is too small, or -EINVAL for an argument
 * out of range.  datalog is 10 bytes (no NUL needed); serial is 10 bytes or
 * NULL for zeroes (lxp-bridge: requests may work with it zeroed). */

/* ReadHold (3) or ReadInput (4), protocol 1: 1-40 registers from start,
 * never across an aligned group of 40. */
int eg4_build_read(const char *datalog, const char *serial, enum eg4_dev_fn fn, uint16_t start,
		   uint16_t count, uint8_t *out, size_t size, size_t *len);
/* WriteSingle (6), protocol 1. */
int eg4_build_write_single(const char *datalog, const char *serial, uint16_t reg, uint16_t value,
			   uint8_t *out, size_t size, size_t *len);
/* WriteMulti (16), protocol 2: vals[count], count 1-40. */
int eg4_build_write_multi(const char *datalog, const char *serial, uint16_t start,
			  const uint16_t *vals, uint16_t count, uint8_t *out, size_t size,
			  size_t *len);
/* The heartbeat echo (lxp-bridge's `heartbeats: true`): a 19-byte
 * heartbeat with the dongle's datalog, rebuilt with protocol 2 whatever the
 * dongle's was.  Without a cloud, echoing is what keeps the data coming. */
int eg4_build_heartbeat(const char *datalog, uint8_t *out, size_t size, size_t *len);

/* The stream framer: TCP chunks of any size in, whole frames out. */
struct eg4_framer_stats {
	uint64_t bytes;	    /* fed */
	uint64_t frames;    /* yielded */
	uint64_t garbage;   /* bytes dropped while looking for a frame, the prefixes
			     * of too_long and too_short frames included */
	uint64_t too_long;  /* a prefix whose length field exceeds EG4_FRAME_MAX */
	uint64_t too_short; /* a prefix whose length field is below a heartbeat's */
};

struct eg4_framer {
	struct eg4_framer_stats st;
	size_t len; /* bytes held: the start of a frame, or less than a prefix */
	uint8_t buf[EG4_FRAME_MAX];
};

/* Called for each whole frame: f[n] has the prefix, a length field that
 * is n - 6, and EG4_HEARTBEAT_LEN <= n <= EG4_FRAME_MAX; nothing more is
 * checked (that is eg4_parse's job).  f is valid during the call only. */
typedef void (*eg4_frame_cb)(void *ctx, const uint8_t *f, size_t n);

/* Clears everything; also what a reconnect does (a new stream). */
void eg4_framer_init(struct eg4_framer *fr);

/* Feed data[n]; calls cb for every frame it completes.  Garbage is skipped
 * by scanning for the next A1 1A; a prefix with an impossible length is
 * dropped (counted) and the scan goes on after it, not past the length it
 * claimed, since a false prefix in garbage would otherwise swallow real
 * frames.  Returns 0, or -EINVAL for a NULL argument. */
int eg4_framer_feed(struct eg4_framer *fr, const uint8_t *data, size_t n, eg4_frame_cb cb,
		    void *ctx);

#endif

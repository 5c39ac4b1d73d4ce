/* CAN frame log formats: one line of a candump log (can-utils `candump -l`,
 * `-L`, what `canplayer -I` reads), and one row of a SavvyCAN/GVRET native
 * CSV export (PROTOCOLS.md section 4).  Pure functions of one line, so every
 * reader (the daemon's replay, canlog) sees the same frames and errors.
 *
 * candump lines accepted, following can-utils' own formats:
 *   (SEC.USEC) IFACE FRAME   the log file format (candump -l/-L, canplayer)
 *   FRAME                    cansend's argument (lib.c parse_canframe)
 * "IFACE FRAME" without a time is not a can-utils format and is rejected,
 * as is anything after FRAME.  SEC is decimal (any number of digits), USEC
 * exactly 6 digits; fields are separated by runs of blanks (candump pads
 * interface names to a common width).  FRAME is can-utils' syntax: 3 hex
 * digits (11-bit id, at most 7FF) or 8 (29-bit; with CAN_ERR_FLAG
 * 0x20000000 an error frame), then '#' and 0-8 bytes, or '#R' with an
 * optional length 0-8 (and '_D' raw DLC after R8), or '##F' (F the CAN FD
 * flags nibble) and 0-64 bytes of a valid CAN FD length; bytes may be
 * '.'-separated between bytes; 8 classical bytes may be followed by '_D'
 * (raw DLC 9-F).  Hex is accepted in either case and written uppercase,
 * like candump.  A trailing "\n" or "\r\n" is ignored. */
#ifndef POWERD_CANFRAME_H
#define POWERD_CANFRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CANFRAME_ERR_FLAG   0x20000000u /* the id's error-frame bit, as in <linux/can.h> */
#define CANFRAME_SFF_MASK   0x000007FFu
#define CANFRAME_EFF_MASK   0x1FFFFFFFu
#define CANFRAME_FD_MAX	    64
#define CANFRAME_IFACE_MAX  16	/* IFNAMSIZ, with the NUL */
#define CANFRAME_FORMAT_MAX 192 /* the longest formatted line, with its NUL */

/* Every parser zeroes the whole struct first, so two parses of the same
 * frame compare equal with memcmp. */
struct canframe {
	uint64_t ts_ns; /* Unix time, or relative (candump -t d/z), in ns */
	bool has_ts;
	uint32_t id; /* without flags; for an error frame the error class bits */
	bool ext;    /* 29-bit id */
	bool rtr;
	bool fd;
	bool err;	 /* error frame: id had CANFRAME_ERR_FLAG */
	uint8_t flags;	 /* CAN FD flags nibble (1 BRS, 2 ESI) */
	uint8_t len;	 /* data bytes; for a remote frame the requested length */
	uint8_t dlc_raw; /* 9-15 when a classical 8-byte frame had "_D", else 0 */
	uint8_t data[CANFRAME_FD_MAX];
	char iface[CANFRAME_IFACE_MAX]; /* "" when the line had none */
};

/* Parse one candump line (n bytes, not necessarily NUL-terminated).
 * Returns 0 with *out filled, or -EINVAL with a static reason in *why. */
int canframe_parse_candump(const char *line, size_t n, struct canframe *out, const char **why);

/* Write f as a candump log line, without a newline, NUL-terminated:
 * "(%010llu.%06llu) IFACE FRAME" when f has a time and an interface, the
 * bare FRAME when it has neither (a time below a microsecond is dropped;
 * data past len, and a remote frame's data, are not written).
 * Returns 0, -EINVAL for a frame that has no such line (one of time and
 * interface without the other, a length, id or flag out of range, ...), or
 * -ENOSPC when size is too small (CANFRAME_FORMAT_MAX always suffices). */
int canframe_format_candump(const struct canframe *f, char *out, size_t size);

/* SavvyCAN native CSV.  A data row is "TIME,ID,EXT,DIR,BUS,LEN,D1,...,D8,"
 * (the trailing comma optional): TIME decimal microseconds, 0 meaning none
 * (has_ts false); ID 1-8 hex digits; EXT true/false and DIR Rx/Tx (any
 * case); DIR and BUS (a decimal number) are checked, then ignored (iface
 * stays "", a reader names the interface itself); LEN 0-8;
 * always 8 two-digit hex bytes, those beyond LEN padding whose values are
 * not kept.  Returns 0 with *out filled or -EINVAL with *why; the header
 * row is -EINVAL too, so a reader tests canframe_savvycsv_is_header first. */
int canframe_parse_savvycsv(const char *line, size_t n, struct canframe *out, const char **why);
bool canframe_savvycsv_is_header(const char *line, size_t n);

/* Receive filters, written as candump takes them: a comma-separated list of
 * ID:MASK (a frame passes when frame_id & MASK == ID & MASK) and ID~MASK
 * (when it does not), hex.  An ID of 8 digits, or above 0x7FF, is a 29-bit
 * one and matches extended frames only; a shorter one standard frames only
 * (unlike candump, whose 3-digit filters also pass extended frames).  A
 * frame passes when any filter passes it; an empty list passes all.  The
 * daemon hands them to the kernel (CAN_RAW_FILTER) and applies the same
 * rule itself to replayed frames. */
#define CANFRAME_FILTERS_MAX 32
struct canframe_filter {
	uint32_t id, mask; /* 29 or 11 bits */
	bool ext, inverted;
};

/* Parse text into out[0..max-1].  Returns the number of filters (0 for an
 * empty or blank text), or -EINVAL with why (a NUL-terminated message
 * naming the bad item) filled, -E2BIG beyond max. */
int canframe_parse_filters(const char *text, struct canframe_filter *out, size_t max, char *why,
			   size_t whylen);
bool canframe_filter_pass(const struct canframe_filter *f, size_t n, uint32_t id, bool ext);

#endif

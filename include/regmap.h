/* Modbus register maps as data: which values a device holds in which
 * registers, how to decode and scale them and which may be written, in a
 * small text file (share/maps/NAME.map), so a user adds a device without
 * recompiling.  This module loads a map strictly, plans the fewest read
 * requests, decodes replies into values and samples, and encodes writes.
 * It does no I/O beyond reading the map: the Modbus and EG4 transports own
 * the wire.  docs/REGMAP.md is the user's guide; the format in short:
 *
 *   # comment (to the end of the line); columns split by blanks or commas
 *   byteswap      = yes     # every register's two bytes are swapped (PowMr)
 *   unit_id       = 5       # the Modbus unit (slave) id; default 1
 *   max_registers = 45      # the most registers one read asks for (1-125; 125)
 *   max_gap       = 8       # unmapped registers a read may span (0-124; 8)
 *   boundary      = 40      # a read never crosses a multiple of this (EG4; 0 = none)
 *
 *   NAME  MEASUREMENT  TABLE  ADDRESS  TYPE  [OPTION...]
 *   input_voltage ac holding 4502 u16 scale=0.1 unit=V
 *   soc           eg4 input  5    u8  byte=lo unit=%
 *   ac_charge_en  eg4_hold holding 21 bit bit=7 writable
 *   e_pv_all_1    eg4 input  40   u32 order=cdab scale=0.1 unit=kWh
 *   serial        eg4 input  115  ascii count=5 order=ba
 *
 *   derive MEAS.NEW = EXPRESSION    # expr.h syntax, over MEAS's values
 *
 * TABLE is holding (function 3, written with 6 or 16) or input (function
 * 4, never writable).  ADDRESS is the protocol address (0-65535, as in the
 * request; decimal or 0x hex), not a 4xxxx "register number".  TYPE: u16
 * i16 u32 i32 f32 (two registers), u8 i8 (byte=hi|lo of one register), bit
 * (bit=N, width=W bits from bit N, default 1), ascii (count=N registers,
 * two characters each, NULs end it, blanks trimmed).  order: ab (default)
 * or ba for one register; abcd (default), cdab (low word first), badc,
 * dcba for two, where a is the most significant byte and the letters are
 * the bytes in the order the registers are read; ab or ba for ascii (which
 * character of a register comes first).  byteswap is applied to every
 * register first, then order.  Other options: scale=S offset=O (value =
 * raw * S + O; an integer type with neither stays an integer), unit=TEXT,
 * unit_id=N (this value's unit), writable (holding only, not ascii),
 * min=X max=X (the range a write must lie in, in physical units; without
 * them the type's).
 *
 * Values may share registers when one lies within the other (a status word
 * and its bits, a u32 and its low word): a partial overlap of two
 * multi-register values is refused, as an off-by-one it almost always is.
 * Names are unique within a measurement (values and derivations together). */
#ifndef POWERD_REGMAP_H
#define POWERD_REGMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "expr.h"
#include "sample.h"

#define REGMAP_VALUES_MAX      1024
#define REGMAP_DERIVES_MAX     64
#define REGMAP_READS_MAX       32 /* read lines of one map */
#define REGMAP_UNIT_MAX	       16 /* a unit's text, incl. NUL */
#define REGMAP_ASCII_MAX       31 /* registers of one ascii value */
#define REGMAP_LINE_MAX	       1024
#define REGMAP_MAX_REGISTERS   125 /* the most function 3 and 4 may read */
#define REGMAP_DEFAULT_MAX_GAP 8
#define REGMAP_DEFAULT_UNIT_ID 1

enum regmap_table { REGMAP_HOLDING, REGMAP_INPUT };

enum regmap_type {
	REGMAP_U16,
	REGMAP_I16,
	REGMAP_U32,
	REGMAP_I32,
	REGMAP_F32,
	REGMAP_U8,
	REGMAP_I8,
	REGMAP_BIT,
	REGMAP_ASCII
};

/* Letters name bytes, a the most significant, in the order read. */
enum regmap_order { REGMAP_AB, REGMAP_BA, REGMAP_ABCD, REGMAP_CDAB, REGMAP_BADC, REGMAP_DCBA };

struct regmap_value {
	char name[SAMPLE_KEY_MAX];
	char unit[REGMAP_UNIT_MAX];
	size_t meas; /* index in regmap.meas */
	enum regmap_table table;
	uint8_t unit_id;
	uint16_t address;
	uint16_t count; /* registers it spans */
	enum regmap_type type;
	enum regmap_order order;
	uint8_t bit, width; /* bit: the field; u8/i8: bit 8 (hi) or 0 (lo), width 8 */
	double scale, offset;
	bool writable, has_min, has_max;
	double min, max; /* physical units */
	unsigned line;	 /* where the map says it */
};

struct regmap_derive {
	struct expr_derive d;
	size_t meas;
	unsigned line;
};

struct regmap_request {
	uint8_t unit_id;
	enum regmap_table table;
	uint16_t start, count;
};

struct regmap {
	struct regmap_value *v;
	size_t n;
	char (*meas)[SAMPLE_KEY_MAX]; /* the measurements, in order of appearance */
	size_t nmeas;
	struct regmap_derive *derive;
	size_t nderive;
	size_t *sorted; /* indices of v by unit, table, address, end: for plans */
	bool byteswap;
	uint16_t max_registers, max_gap, boundary;
	/* "read TABLE START COUNT" lines: reads made as they are, first (a
	 * device that answers only the blocks its own client asks for). */
	struct regmap_request reads[REGMAP_READS_MAX];
	size_t nreads;
};

/* Parse a map (name is the file's, for messages).  Returns 0, -EINVAL with
 * err = "NAME:LINE: what is wrong", or -ENOMEM.  On failure m is empty. */
int regmap_load(const char *name, const char *text, size_t len, struct regmap *m, char *err,
		size_t errlen);
/* The same from a file: -errno (err = "PATH: why") when it cannot be read. */
int regmap_load_file(const char *path, struct regmap *m, char *err, size_t errlen);
void regmap_free(struct regmap *m);

/* Where a map named in a configuration is: a NAME ([A-Za-z0-9_-], as
 * "powmr-lvm") is datadir/maps/NAME.map, anything with a '/' or ending in
 * ".map" is a path, as it is.  Returns 0, -EINVAL for neither, or
 * -ENAMETOOLONG. */
int regmap_path(const char *datadir, const char *name, char *out, size_t len);

/* A value by "NAME" (unique across measurements) or "MEAS.NAME": 0 and
 * *out, -ENOENT, or -ENOTUNIQ when NAME is in several measurements. */
int regmap_find(const struct regmap *m, const char *ref, const struct regmap_value **out);

/* ---------------------------------------------------------------- reading */

/* The reads for every value of the map, or of one table and/or one unit
 * (-1: any): the map's read lines (in their order), then the fewest reads
 * that cover the values no read line holds whole, within max_registers,
 * max_gap and boundary, ordered by unit, table, address and never
 * overlapping.  Writes up to cap requests; *n is how many the plan has.
 * Returns 0, or -ENOSPC when cap is too small (regmap_plan_max() always
 * does). */
size_t regmap_plan_max(const struct regmap *m);
int regmap_plan(const struct regmap *m, int table, int unit_id, struct regmap_request *out,
		size_t cap, size_t *n);

/* Registers as read: a request and its reply, host values (the transport
 * undid the wire's byte order; byteswap is the map's business). */
struct regmap_block {
	uint8_t unit_id;
	enum regmap_table table;
	uint16_t start, count;
	const uint16_t *regs;
};

struct regmap_reading {
	enum sample_type type; /* SAMPLE_INT, SAMPLE_FLOAT or SAMPLE_STRING */
	int64_t i;
	double f;
	char s[SAMPLE_STR_MAX];
};

/* A value from its v->count registers as read.  Returns 0, or -EDOM for a
 * value that is not a number (NaN or infinite f32, or scaled beyond). */
int regmap_decode(const struct regmap *m, const struct regmap_value *v, const uint16_t *regs,
		  struct regmap_reading *out);
/* A value from whichever block holds it: 0, -ENOENT when none does, -EDOM. */
int regmap_read(const struct regmap *m, const struct regmap_value *v, const struct regmap_block *b,
		size_t nb, struct regmap_reading *out);

/* The sample of measurement m->meas[mi]: the tags given, then its values
 * in map order (one no block holds, or that is not a number, is left out),
 * then its derivations (floats; left out when a reference is missing or
 * the result is not finite).  s is initialised here; free it with
 * sample_free().  Returns 0, -ENODATA when no value was read or none is
 * a number (s then holds tags only), or the builder's negative errno. */
int regmap_sample(const struct regmap *m, size_t mi, const struct sample_tag *tags, size_t ntags,
		  const struct regmap_block *b, size_t nb, int64_t ts_ns, struct sample *s);

/* ---------------------------------------------------------------- writing */

/* The registers that write x (physical units) into v, as they go to the
 * device (byteswap applied), in regs[0 .. v->count).  For bit, u8 and i8
 * regs[0] must hold the register as read: its other bits are kept.
 * Returns 0, -EPERM when v is not writable, -EDOM for x not finite,
 * -ERANGE outside min..max or what the type holds, -EINVAL when x is not
 * a whole number of steps (scale) of an integer type. */
int regmap_encode(const struct regmap *m, const struct regmap_value *v, double x, uint16_t *regs);

const char *regmap_type_name(enum regmap_type t);
const char *regmap_table_name(enum regmap_table t);

#endif

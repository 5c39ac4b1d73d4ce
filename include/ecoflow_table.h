/* The EcoFlow decode table: which fields a record holds, as data (a JSON
 * file, `decode = FILE`; share/ecoflow.json is the default), not code, so a
 * user who finds a new record or a firmware that moved a field edits a file.
 *
 *   {"powerd_ecoflow_decode": 1,
 *    "records": [
 *      {"name": "bms_status", "src": 3, "dst": 32, "cmd": "03:1A", "len": 128,
 *       "fields": [
 *         {"name": "soc_pct", "offset": 37, "type": "u8", "unit": "%"},
 *         {"name": "voltage_v", "offset": 38, "type": "u16", "scale": 0.001, "unit": "V"},
 *         {"name": "serial", "offset": 0, "type": "ascii", "size": 16},
 *         {"name": "module_version", "offset": 20, "type": "version_rev"}]}]}
 *
 * A record is identified by (src, dst, cmd_set, cmd_id) and its payload
 * length: one identity may have several layouts, one per length (a firmware
 * update grew the battery's status record from 126 to 128 bytes).  src and
 * dst may be left out (any).  Types: u8 i8 u16 i16 u32 i32 f32 (little
 * endian), ascii (size bytes, NULs and blanks trimmed), version (4 bytes
 * dotted in order: 01 01 01 8D is 1.1.1.141, the module announce) and
 * version_rev (4 bytes dotted last first: 4D 03 01 01 is 1.1.3.77, the
 * battery status).  scale multiplies
 * (default 1; an integer field with scale 1 stays an integer).  Every field
 * must lie within the record's length: a table that says otherwise is
 * refused at load, with FILE:LINE:COL.  A string "comment" may stand in the
 * table and in each record (where a layout comes from). */
#ifndef POWERD_ECOFLOW_TABLE_H
#define POWERD_ECOFLOW_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ecoflow.h"
#include "sample.h"

#define EFTAB_RECORDS_MAX 1024
#define EFTAB_FIELDS_MAX  SAMPLE_MAX_FIELDS

enum eftab_type {
	EFTAB_U8,
	EFTAB_I8,
	EFTAB_U16,
	EFTAB_I16,
	EFTAB_U32,
	EFTAB_I32,
	EFTAB_F32,
	EFTAB_ASCII,
	EFTAB_VERSION,
	EFTAB_VERSION_REV
};

struct eftab_field {
	char name[SAMPLE_KEY_MAX];
	char unit[16];
	uint16_t offset, size;
	enum eftab_type type;
	double scale;
};

struct eftab_layout {
	char name[SAMPLE_KEY_MAX];
	int src, dst; /* -1: any */
	uint8_t cmd_set, cmd_id;
	uint16_t len;
	struct eftab_field *fields;
	size_t nfields;
};

struct eftab {
	struct eftab_layout *v;
	size_t n;
};

/* Parse a table (name is the file's, for messages).  Returns 0, -EINVAL
 * with err = "NAME:LINE:COL: what is wrong", or -ENOMEM. */
int eftab_load(const char *name, const char *text, size_t len, struct eftab *t, char *err,
	       size_t errlen);
void eftab_free(struct eftab *t);

/* The layout for a record of this identity and payload length, or NULL;
 * *known (if not NULL) says whether the identity has a layout of another
 * length (a record that changed, not an unknown one). */
const struct eftab_layout *eftab_find(const struct eftab *t, uint8_t src, uint8_t dst,
				      uint8_t cmd_set, uint8_t cmd_id, size_t len, bool *known);

struct eftab_value {
	enum sample_type type; /* SAMPLE_FLOAT, SAMPLE_INT or SAMPLE_STRING */
	double f;
	int64_t i;
	char s[SAMPLE_STR_MAX];
};

/* A field's value from a payload of len bytes (-ERANGE if it lies beyond:
 * the layout's len is the payload's, so only a caller's mistake gets it). */
int eftab_value(const struct eftab_field *f, const uint8_t *payload, size_t len,
		struct eftab_value *v);

/* A decoded record as the sample the daemon publishes and `canlog --lp`
 * prints: measurement "ecoflow", tags source (omitted when NULL), src and
 * dst (two hex digits), record ("03:1A", cmd_set:cmd_id), then the
 * layout's fields (a value that is not a number, a NaN f32, is left out).
 * s is initialised here; free it with sample_free().  Returns 0 or the
 * sample builder's negative errno. */
int eftab_sample(const struct eftab_layout *l, const uint8_t *payload, size_t len, uint8_t src,
		 uint8_t dst, const char *source, int64_t ts_ns, struct sample *s);

/* The sample of a reassembled record, the one rule for the daemon and
 * canlog --lp: a good record (crc_ok) of a multi-frame channel, decoded by
 * its layout in t, at the record's time.  Returns 0 (s initialised),
 * -ENOENT when t has no layout for it (*known, if not NULL, then says
 * whether its identity is in t with another length), -ENODATA for a
 * record that is not decoded (failed, or a single D/E frame), or the
 * builder's error (then s is initialised too: sample_free() it). */
int eftab_record_sample(const struct eftab *t, const struct ecoflow_record *r, const char *source,
			struct sample *s, bool *known);

#endif

/* JSON documents as points (measurement, tags, typed fields, a time): the
 * shapes the sources read, one mapping for files, HTTP and MQTT.
 *
 *   points  InfluxDB-style records {"measurement", "tags", "time", "fields"}:
 *           the document is one record, an array of them, or an object with
 *           one member holding such an array ({"telemetry": [...]} from the
 *           Power Pod).  Integers stay integers, floats floats, booleans
 *           booleans, strings strings; tags that are numbers or booleans
 *           become their text.  "time" is RFC 3339, or a number in the unit
 *           of time_format.
 *   flat    an object of objects (the PowMr dongle's /api/status): one point
 *           per member that is an object, named after it, its scalar members
 *           the fields (nested objects flattened as outer_inner); scalar
 *           members of the document itself make one point named `name`.
 *           The time is the member time_key (removed from the fields) if set,
 *           else `default_ns` (the file's mtime, the response's arrival).
 *   telegraf  Telegraf's json parser (the legacy one, mqtt_consumer's
 *           data_format = "json"): an object is one point, an array of
 *           objects one point each.  Members are flattened (a.b -> a_b, arrays
 *           by index: a_0); every number is a FLOAT; strings and booleans are
 *           dropped unless listed in string_fields, except (a deliberate
 *           difference from Telegraf, which drops it) a string that is
 *           entirely a finite decimal number, which is a float too: the Pico
 *           meter sends "power": "512.5".  tag_keys name root members made
 *           tags (numbers as their text); name_key's member is the
 *           measurement (else `name`); time_key's the time (else
 *           `default_ns`), also as a numeric string with a unix format.  The
 *           name and time members are not fields; a point without a field is
 *           refused (no_fields).
 *
 * Every format adds o->tags to each point (replacing a tag of the same key):
 * MQTT's topic_tag.
 *
 * A document is taken whole or refused whole, with a reason: a reader that
 * ships half a file and then fails would ship it again when retried. */
#ifndef POWERD_JSONPOINTS_H
#define POWERD_JSONPOINTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "json.h"

enum jp_format { JP_POINTS, JP_FLAT, JP_TELEGRAF };
enum jp_time {
	JP_TIME_AUTO,
	JP_TIME_RFC3339,
	JP_TIME_UNIX,
	JP_TIME_UNIX_MS,
	JP_TIME_UNIX_US,
	JP_TIME_UNIX_NS
};

/* Why a document is refused. */
enum jp_reason {
	JP_OK,
	JP_NOT_JSON,   /* not JSON at all, or cut short */
	JP_NO_RECORDS, /* no record where the format expects them */
	JP_NO_TIME,    /* a record without its time */
	JP_BAD_TIME,   /* a time that is not one */
	JP_NO_FIELDS,  /* a record with no field */
	JP_BAD_FIELD,  /* a field of a type a sample cannot carry (array, object) */
	JP_BAD_NAME,   /* a measurement, tag or field name a sample refuses */
	JP_TOO_LARGE,  /* more than the reader's size limit */
	JP_REASONS
};
const char *jp_reason_name(enum jp_reason r); /* "not_json", "no_time", ... */

enum jp_type { JP_FLOAT, JP_INT, JP_BOOL, JP_STRING };

struct jp_field {
	const char *key;
	enum jp_type type;
	double f;
	int64_t i;
	bool b;
	const char *s;
};

struct jp_tag {
	const char *key, *value;
};

#define JP_TAGS_MAX   64
#define JP_FIELDS_MAX 512

/* One point, valid during the callback only. */
struct jp_point {
	const char *measurement;
	int64_t ts_ns; /* Unix time */
	size_t ntags, nfields;
	const struct jp_tag *tags;
	const struct jp_field *fields;
};

struct jp_opts {
	enum jp_format format;
	const char *time_key;	  /* points: default "time"; flat: none */
	enum jp_time time_format; /* auto: RFC 3339 strings, numbers are Unix seconds */
	int64_t default_ns;	  /* flat without a time_key */
	const char *name;	  /* flat: the point of the document's own scalars;
				   * telegraf: the measurement without name_key */
	/* telegraf: member names; the lists are comma-separated, exact names. */
	const char *name_key;
	const char *tag_keys;
	const char *string_fields;
	/* Added to every point (any format). */
	const struct jp_tag *tags;
	size_t ntags;
};

/* Is `name` one of the comma-separated `list` (spaces around items ignored)? */
bool jp_list_has(const char *list, const char *name);

struct jp_error {
	enum jp_reason reason;
	size_t record; /* which record (0-based), when it concerns one */
	char msg[160];
};

/* Called once per point; a negative return refuses the document with
 * JP_BAD_NAME (the callback says no to a name or a limit). */
typedef int (*jp_point_fn)(void *arg, const struct jp_point *p);

/* Every point of the document, or none: refused documents are reported in
 * *err (and fn may have been called for points before the bad one: collect
 * them and ship only on success).  Returns the number of points, or -EBADMSG. */
int jp_convert(const struct json_node *root, const struct jp_opts *o, jp_point_fn fn, void *arg,
	       struct jp_error *err);

#endif

/* The key tables: how a section kind, or a sink type, declares its keys.
 *
 * Each kind ([daemon], [pulse.NAME], [sink.NAME], ...) and each sink type
 * has one table in its own file (daemon/KIND_conf.c or source_KIND_conf.c,
 * daemon/sink_TYPE_conf.c) with every key: name, value type, field, range,
 * default and a one-line doc.  config.c reads all of them the same way:
 * defaults, parsing, ranges, duplicates, unknown and required keys,
 * `powerd --defaults`; check.c walks them for the paths `--check` looks at.
 * The tables are in the shared library (they need nothing outside it), so
 * every tool that parses a configuration knows every kind.
 *
 * A new kind: its struct (starting with CFG_HEAD) and a member for it in
 * struct config (config.h), a table file with a `struct cfg_kind`, one line
 * in cfg_kinds[] (config.c) and the file in LIB_SRCS.  A new sink type: a
 * table file with a `struct cfg_type`, its member of cfg_sink's union, one
 * line in sink_conf.c's list. */
#ifndef POWERD_CONFIG_TABLE_H
#define POWERD_CONFIG_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "config.h"

#define CFG_NS_MS  1000000LL
#define CFG_NS_S   1000000000LL
#define CFG_NS_MIN (60 * CFG_NS_S)
#define CFG_NS_H   (3600 * CFG_NS_S)

struct cfg_key;

/* A value type: how a value is parsed into its field and described. */
struct cfg_vtype {
	const char *noun; /* in "bad NOUN 'x' for 'key'" */
	size_t size;	  /* of the field; 0: a char array of any size */
	/* Parse `s` into `field`; on failure leave `field` alone and say why. */
	int (*parse)(const struct cfg_key *k, const char *s, void *field, char *why, size_t len);
	/* "duration, at least 1s": for --defaults. */
	void (*describe)(const struct cfg_key *k, char *buf, size_t len);
};

/* Text (min unused, max: length, 0 = the field's); empty is refused. */
extern const struct cfg_vtype cfg_string;
/* HOST:PORT, [IPV6]:PORT or "off" (stored as ""), as the HTTP server binds. */
extern const struct cfg_vtype cfg_listen;
/* uint32_t, decimal, min..max (CFG_POW2: a power of two). */
extern const struct cfg_vtype cfg_u32;
/* int64_t ns from a whole number of milliseconds, min..max in ms. */
extern const struct cfg_vtype cfg_ms;
/* int64_t ns from "250ms", "1.5s", "5min", "2h"; min..max in ns. */
extern const struct cfg_vtype cfg_duration;
/* double, plain decimal, min..max. */
extern const struct cfg_vtype cfg_double;
/* bool: yes/no, true/false, on/off, 1/0. */
extern const struct cfg_vtype cfg_bool;
/* int (an enum), one of k->choices. */
extern const struct cfg_vtype cfg_enum;
/* uint64_t bytes from "4096", "64KiB", "256MB"; min..max in bytes. */
extern const struct cfg_vtype cfg_size;
/* A module may declare a value type of its own for a key whose text has a
 * syntax (a list, a pattern): its parse checks the syntax, then stores the
 * text with cfg_string.parse, so that length and emptiness are the same
 * for every string. */

/* `plot`: the field the status page plots for a source (history.h); put
 * CFG_PLOT_KEY(struct cfg_KIND, plot) in a source kind's table. */
#define CFG_PLOT_KEY(st, member)                                                                   \
	{                                                                                          \
		"plot", &cfg_string, CFG_FIELD(st, member),                                        \
			.example = "dc.pv_power",                                                  \
			.doc = "the field the status page plots for this source "                  \
			       "([MEASUREMENT.]FIELD, a number); default: the first numeric "      \
			       "field named like power or watt, else the first numeric field"      \
	}

/* The keys of struct cfg_fields, for every kind of JSON source: put
 * CFG_FIELDS_KEYS(struct cfg_KIND), in its table (its member `fields`). */
extern const struct cfg_vtype cfg_valid, cfg_derive, cfg_integrate;
#define CFG_FIELDS_KEYS(st)                                                                        \
	{"valid", &cfg_valid, CFG_FIELD(st, fields.valid), .example = "inverter.valid_info = 1",   \
	 .doc = "a document is used only if this holds (MEASUREMENT.FIELD, one of = != < <= > "    \
		">=, a number, or a string in double quotes); one that does not is counted as "    \
		"invalid and gives nothing"},                                                      \
		{"derive",                                                                         \
		 &cfg_derive,                                                                      \
		 CFG_FIELD(st, fields.derive),                                                     \
		 .flags = CFG_APPEND,                                                              \
		 .example = "dc.charge_power = dc.voltage * dc.charge_current",                    \
		 .doc = "fields computed from others of the same sample, MEAS.NEW = EXPRESSION "   \
			"with "                                                                    \
			"+ - * / ( ) and numbers, comma-separated, in order; a division by zero "  \
			"or a "                                                                    \
			"missing field gives no field (counted)"},                                 \
		{"integrate",                                                                      \
		 &cfg_integrate,                                                                   \
		 CFG_FIELD(st, fields.integrate),                                                  \
		 .flags = CFG_APPEND,                                                              \
		 .example = "dc.pv_power -> pv_energy_wh",                                         \
		 .doc = "energy from power: MEAS.FIELD (watts) -> NAME, comma-separated; NAME "    \
			"(Wh, "                                                                    \
			"trapezoidal over the sample times) is added to MEAS's samples and "       \
			"persisted in "                                                            \
			"state_dir"},                                                              \
		{"integrate_max_gap",                                                              \
		 &cfg_duration,                                                                    \
		 CFG_FIELD(st, fields.integrate_max_gap),                                          \
		 .min = CFG_NS_S,                                                                  \
		 .max = 24 * CFG_NS_H,                                                             \
		 .def = "2min",                                                                    \
		 .doc = "samples further apart than this are not integrated over: the gap "        \
			"is counted, "                                                             \
			"not guessed"},                                                            \
		CFG_PLOT_KEY(st, fields.plot)

/* The keys of an MQTT connection, the same for the sink ([sink.NAME] type =
 * mqtt) and the source ([mqtt.NAME]): st has the fields host, port,
 * client_id, username, password, tls and ca_file. */
#define CFG_MQTT_CONN_KEYS(st, client_id_doc)                                                      \
	{"host", &cfg_string, CFG_FIELD(st, host), .def = "127.0.0.1", .doc = "the broker"},       \
		{"port",                                                                           \
		 &cfg_u32,                                                                         \
		 CFG_FIELD(st, port),                                                              \
		 .min = 1,                                                                         \
		 .max = 65535,                                                                     \
		 .example = "1883",                                                                \
		 .doc = "the broker's port (default 1883, 8883 with tls = yes)"},                  \
		{"client_id", &cfg_string, CFG_FIELD(st, client_id),                               \
		 .example = "powerd-raspberrypi", .doc = client_id_doc},                           \
		{"username", &cfg_string, CFG_FIELD(st, username), .example = "powerd",            \
		 .doc = "the user, if the broker wants one"},                                      \
		{"password", &cfg_string, CFG_FIELD(st, password), .example = "secret",            \
		 .doc = "the user's password, never logged"},                                      \
		{"tls", &cfg_bool, CFG_FIELD(st, tls), .def = "no",                                \
		 .doc = "TLS to the broker, the peer verified"},                                   \
	{                                                                                          \
		"ca_file", &cfg_string, CFG_FIELD(st, ca_file),                                    \
			.flags = CFG_FILE_READ, .example = "/etc/ssl/certs/ca-certificates.crt",   \
			.doc = "tls: the CAs to verify the broker with (default: the system's)"    \
	}

struct cfg_choice {
	const char *name;
	int value;
};

/* The checks of format = flat's keys, the same for every JSON source that
 * takes them: measurement, the NAME as a measurement, time_format without
 * time_key (arrival: what the time is then, "the file's mtime"). */
struct cfg_sect;
void cfg_json_mapping_check(struct cfg_sect *s, const char *name, bool flat,
			    const char *measurement, enum cfg_json_time time_format,
			    const char *time_key, const char *arrival);

/* speed and loop, the keys of an input replayed from a file ([pulse],
 * [can]): they need replay, speed is 0 or 1, loop needs speed 1
 * (pulse_conf.c). */
void cfg_replay_check(struct cfg_sect *s, bool replay, double speed, bool loop);

/* format (points | flat) of the JSON sources that take no other, and
 * time_format of every JSON source (enum cfg_json_time). */
extern const struct cfg_choice cfg_json_formats[], cfg_json_times[];

enum {
	CFG_REQUIRED = 1u << 0,
	CFG_POW2 = 1u << 1,
	/* A list that may take several lines: each "key = ..." after the
	 * first appends ", VALUE" (a line holds at most 198 characters). */
	CFG_APPEND = 1u << 2,
	/* What the daemon does with a path, for `--check` (check.c): */
	CFG_FILE_READ = 1u << 4,  /* reads a regular file */
	CFG_FILE_WRITE = 1u << 5, /* appends to a file, created with its directory */
	CFG_DIR_WRITE = 1u << 6,  /* creates a directory (and its parents) and writes into it */
	CFG_SOCKET = 1u << 7,	  /* creates a Unix socket */
	CFG_DIR_READ = 1u << 8,	  /* lists and reads an existing directory */
	CFG_PATH = CFG_FILE_READ | CFG_FILE_WRITE | CFG_DIR_WRITE | CFG_SOCKET | CFG_DIR_READ,
};

struct cfg_key {
	const char *name;
	const struct cfg_vtype *type;
	size_t offset, size; /* of the field in the section's struct: CFG_FIELD() */
	int64_t min, max;    /* numbers in their unit, durations in ns, strings: length */
	const struct cfg_choice *choices; /* cfg_enum; ends with {0} */
	unsigned flags;
	/* The default as it would be written ("5min"), parsed like a value;
	 * NULL: the field stays empty (0), and the code or the doc says what
	 * that means.  Two keys of one field (an alias) give one default. */
	const char *def;
	/* For --defaults, when there is no default: a value that would pass. */
	const char *example;
	const char *doc; /* one line, no final full stop */
};

#define CFG_FIELD(st, f) .offset = offsetof(st, f), .size = sizeof(((st *)0)->f)

struct cfg_sect;

/* Checks across keys, once a section is complete and its keys are parsed
 * (each alone is valid).  Report with cfg_error(). */
typedef void (*cfg_check_fn)(struct cfg_sect *s, const void *obj);

/* A sink type (or any kind's type): the keys only it takes. */
struct cfg_type {
	const char *name; /* the value of the kind's type key: "influxdb" */
	int value;	  /* what the type key's int field holds then */
	const char *doc;
	const struct cfg_key *keys; /* ends with {0} */
	cfg_check_fn check;
};

struct cfg_kind {
	const char *name; /* "pulse": [pulse.NAME] */
	const char *doc;
	bool single;		    /* [daemon]: no NAME, at most once, defaults without it */
	size_t size;		    /* of its struct, which starts with CFG_HEAD */
	size_t at, count_at;	    /* in struct config: CFG_SINGLE() or CFG_NAMED() */
	const struct cfg_key *keys; /* ends with {0} */
	cfg_check_fn check;
	const char *example; /* the NAME --defaults shows */
	/* Kinds with the same `names` share one set of NAMEs: a [json.x] and a
	 * [pulse.x] are refused, both being "source"s.  NULL: its own set. */
	const char *names;
	/* A kind whose keys depend on a type ([sink.NAME] type = influxdb): an
	 * int field filled from the type key, required, and the types. */
	const char *type_key;
	const char *type_doc;
	size_t type_at;
	const struct cfg_type *const *types; /* ends with NULL */
};

#define CFG_SINGLE(st, member)                                                                     \
	.single = true, .size = sizeof(st), .at = offsetof(struct config, member)
#define CFG_NAMED(st, array, count)                                                                \
	.size = sizeof(st), .at = offsetof(struct config, array),                                  \
	.count_at = offsetof(struct config, count)
/* Next to a kind's declaration: its struct starts as the parser expects. */
#define CFG_HEAD_CHECK(st)                                                                         \
	_Static_assert(offsetof(st, name) == 0 &&                                                  \
			       offsetof(st, line_no) == offsetof(struct cfg_head, line_no),        \
		       #st " must start with CFG_HEAD")

/* The kinds the parser knows (config.c), NULL-terminated, in the order
 * --defaults prints them and --check checks them. */
extern const struct cfg_kind *const cfg_kinds[];

extern const struct cfg_kind powerd_conf;	 /* [daemon] */
extern const struct cfg_kind pulse_conf;	 /* [pulse.NAME] */
extern const struct cfg_kind source_json_conf;	 /* [json.NAME] */
extern const struct cfg_kind source_http_conf;	 /* [http.NAME] */
extern const struct cfg_kind source_mqtt_conf;	 /* [mqtt.NAME] */
extern const struct cfg_kind source_can_conf;	 /* [can.NAME] */
extern const struct cfg_kind source_modbus_conf; /* [modbus.NAME] */
extern const struct cfg_kind source_eg4_conf;	 /* [eg4.NAME] */
extern const struct cfg_kind sink_conf;		 /* [sink.NAME] */
extern const struct cfg_type sink_influx_conf;	 /* type = influxdb */
extern const struct cfg_type sink_file_conf;
extern const struct cfg_type sink_mqtt_conf;
extern const struct cfg_type sink_cloudwatch_conf;

/* ------------------------------------------------ for check functions */

/* Line of `key` in the section, 0 when it is not set. */
unsigned cfg_key_line(const struct cfg_sect *s, const char *key);
/* Line of the section header. */
unsigned cfg_sect_line(const struct cfg_sect *s);
/* "[pulse.house]", for messages. */
const char *cfg_sect_title(const struct cfg_sect *s);
void cfg_error(struct cfg_sect *s, unsigned line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* A section's register map (key `key`, value `map`: a shipped map's NAME
 * or a path) found and loaded, its errors reported at the key's line
 * (daemon/regmap_conf.c). */
void regmap_conf_check(struct cfg_sect *s, const char *key, const char *map);

/* ------------------------------------------------ walking the tables */

/* Sections of kind k in a loaded configuration (a single kind: always 1). */
size_t cfg_count(const struct config *cfg, const struct cfg_kind *k);
const void *cfg_section(const struct config *cfg, const struct cfg_kind *k, size_t i);
/* The type of a loaded section of a typed kind; NULL for others. */
const struct cfg_type *cfg_type_of(const struct cfg_kind *k, const void *obj);
/* A key of kind k (and of type t, if not NULL) by name, or NULL. */
const struct cfg_key *cfg_key_find(const struct cfg_kind *k, const struct cfg_type *t,
				   const char *name);

/* Lint every table: unique names, fields of the right size, defaults and
 * examples that pass their own key, docs.  Prints each problem; returns how
 * many there were (the unit test wants 0). */
int cfg_tables_check(FILE *errs);

#endif

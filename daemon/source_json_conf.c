/* The [json.NAME] section's keys: a directory of JSON files read as points
 * (InfluxDB-style records, or an object of objects), each file shipped
 * whole or refused whole (config_table.h). */
#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "config_table.h"
#include "sample.h"

static const struct cfg_choice afters[] = {
	{"keep", CFG_JSON_KEEP}, {"delete", CFG_JSON_DELETE}, {"move", CFG_JSON_MOVE}, {0}};

/* The pattern is matched against names in one directory: a '/' would match
 * nothing, silently, so it is refused here. */
static int glob_parse(const struct cfg_key *k, const char *s, void *field, char *why, size_t len)
{
	if (strchr(s, '/')) {
		snprintf(why, len, "a pattern on file names cannot contain '/'");
		return -EINVAL;
	}
	return cfg_string.parse(k, s, field, why, len);
}

static void glob_describe(const struct cfg_key *k, char *buf, size_t len)
{
	(void)k;
	snprintf(buf, len, "a glob on file names: * ? [...]");
}

static const struct cfg_vtype glob = {"pattern", 0, glob_parse, glob_describe};

#define J(f) CFG_FIELD(struct cfg_json, f)
static const struct cfg_key json_keys[] = {
	{"path", &cfg_string, J(path), .flags = CFG_REQUIRED | CFG_DIR_READ,
	 .example = "/var/spool/powerd/inbox",
	 .doc = "the directory whose files are read; powerd also writes into it: PATH/failed/ "
		"for bad files, PATH/done/ with after = move"},
	{"pattern", &glob, J(pattern), .def = "*.json", .doc = "the files of PATH that are read"},
	{"format", &cfg_enum, J(format), .choices = cfg_json_formats, .def = "points",
	 .doc = "points: InfluxDB-style records {measurement, tags, time, fields}, one, an "
		"array, or an array in an object's only member; flat: an object of objects, a "
		"point per member object named after it, nested objects flattened as "
		"outer_inner"},
	{"after", &cfg_enum, J(after), .choices = afters, .def = "keep",
	 .doc = "what becomes of a file once shipped: kept, deleted, or moved to PATH/done/; "
		"a bad file always goes to PATH/failed/"},
	{"time_key", &cfg_string, J(time_key), .example = "ts",
	 .doc = "the member holding the time (default: points read each record's \"time\", "
		"flat takes the file's mtime)"},
	{"time_format", &cfg_enum, J(time_format), .choices = cfg_json_times, .def = "auto",
	 .doc = "how times are written (auto: strings are RFC 3339, numbers Unix seconds)"},
	{"max_size", &cfg_size, J(max_size), .min = 1024, .max = 1 << 30, .def = "16MiB",
	 .doc = "a larger file is refused as too large, like a bad one"},
	{"measurement", &cfg_string, J(measurement), .max = SAMPLE_KEY_MAX - 1, .example = "status",
	 .doc = "with format = flat, the measurement of the document's top-level scalars "
		"(default NAME)"},
	CFG_FIELDS_KEYS(struct cfg_json),
	{0},
};
#undef J

static void json_check(struct cfg_sect *s, const void *obj)
{
	const struct cfg_json *c = obj;

	cfg_json_mapping_check(s, c->name, c->format == CFG_JSON_FLAT, c->measurement,
			       c->time_format, c->time_key, "the file's mtime");
}

CFG_HEAD_CHECK(struct cfg_json);

const struct cfg_kind source_json_conf = {
	.name = "json",
	.doc = "A directory of JSON files, each read whole as points (shipped whole or refused "
	       "whole, with a reason); NAME is the source's name, unique among all sources "
	       "([pulse.NAME] too)",
	CFG_NAMED(struct cfg_json, json, njson),
	.keys = json_keys,
	.check = json_check,
	.example = "inbox",
	.names = "source",
};

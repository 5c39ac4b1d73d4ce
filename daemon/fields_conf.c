/* The value types and choices of the keys every JSON source shares (valid, derive,
 * integrate: CFG_FIELDS_KEYS in config_table.h).  Their syntax is checked
 * here, at load, by the parsers the sources use, so that a mistake is a
 * FILE:LINE error, not a surprise at the first document. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "config_table.h"
#include "expr.h"
#include "integrate.h"
#include "sample.h"

static int valid_parse(const struct cfg_key *k, const char *s, void *field, char *why, size_t len)
{
	struct expr_cond c;
	int r = expr_cond_parse(s, &c, why, len);

	return r ? r : cfg_string.parse(k, s, field, why, len);
}

static void valid_describe(const struct cfg_key *k, char *buf, size_t len)
{
	(void)k;
	snprintf(buf, len, "MEASUREMENT.FIELD OP VALUE");
}

static int derive_parse(const struct cfg_key *k, const char *s, void *field, char *why, size_t len)
{
	struct expr_derives d;
	int r = expr_derives_parse(s, &d, why, len);

	if (r == -ENOMEM)
		snprintf(why, len, "out of memory");
	if (r)
		return r;
	expr_derives_free(&d);
	return cfg_string.parse(k, s, field, why, len);
}

static void derive_describe(const struct cfg_key *k, char *buf, size_t len)
{
	(void)k;
	snprintf(buf, len, "MEAS.NEW = EXPRESSION, ...");
}

static int integrate_parse(const struct cfg_key *k, const char *s, void *field, char *why,
			   size_t len)
{
	struct integ_spec sp[INTEG_MAX];
	size_t n;
	int r = integ_parse(s, sp, INTEG_MAX, &n, why, len);

	return r ? r : cfg_string.parse(k, s, field, why, len);
}

static void integrate_describe(const struct cfg_key *k, char *buf, size_t len)
{
	(void)k;
	snprintf(buf, len, "MEAS.FIELD -> NAME, ...");
}

const struct cfg_choice cfg_json_formats[] = {
	{"points", CFG_JSON_POINTS}, {"flat", CFG_JSON_FLAT}, {0}};

const struct cfg_choice cfg_json_times[] = {{"auto", CFG_JSON_TIME_AUTO},
					    {"rfc3339", CFG_JSON_TIME_RFC3339},
					    {"unix", CFG_JSON_TIME_UNIX},
					    {"unix_ms", CFG_JSON_TIME_UNIX_MS},
					    {"unix_us", CFG_JSON_TIME_UNIX_US},
					    {"unix_ns", CFG_JSON_TIME_UNIX_NS},
					    {0}};

const struct cfg_vtype cfg_valid = {"condition", 0, valid_parse, valid_describe};
const struct cfg_vtype cfg_derive = {"derivation", 0, derive_parse, derive_describe};
const struct cfg_vtype cfg_integrate = {"integration", 0, integrate_parse, integrate_describe};

void cfg_json_mapping_check(struct cfg_sect *s, const char *name, bool flat,
			    const char *measurement, enum cfg_json_time time_format,
			    const char *time_key, const char *arrival)
{
	const char *title = cfg_sect_title(s);
	unsigned meas = cfg_key_line(s, "measurement"), tf = cfg_key_line(s, "time_format");

	if (!flat) {
		if (meas)
			cfg_error(s, meas, "'measurement' needs 'format = flat' in %s", title);
		return;
	}
	/* Line protocol would read such a measurement as a comment. */
	if (meas && measurement[0] == '#')
		cfg_error(s, meas, "'measurement' cannot start with '#' in %s", title);
	if (!meas && strlen(name) > SAMPLE_KEY_MAX - 1)
		cfg_error(s, cfg_sect_line(s),
			  "%s: NAME is too long to be the measurement (at most %d characters): set "
			  "'measurement'",
			  title, SAMPLE_KEY_MAX - 1);
	if (tf && time_format != CFG_JSON_TIME_AUTO && !time_key[0])
		cfg_error(s, tf,
			  "'time_format' needs 'time_key' with format = flat in %s (without it "
			  "the time is %s)",
			  title, arrival);
}

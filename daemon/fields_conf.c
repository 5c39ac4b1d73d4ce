/* The value types and choices of the keys every JSON source shares (valid, derive,
 * integrate: CFG_FIELDS_KEYS in config_table.h).  Their syntax is checked
 * here, at load, by the parsers the sources use, so that a mistake is a
 * FILE:LINE error, not a surprise at the first document. */
#include <errno.h>
#include <stdio.h>

#include "config_table.h"
#include "expr.h"
#include "integrate.h"

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

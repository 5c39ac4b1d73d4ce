/* The keys of a CloudWatch sink ([sink.NAME] type = cloudwatch):
 * PutMetricData signed with SigV4, credentials from the environment or the
 * shared credentials file (config_table.h). */
#include <errno.h>
#include <stddef.h>

#include "config_table.h"
#include "cw_select.h"

/* `metrics` and `dimensions` are checked by the sink's own parser, so that
 * what loads is what the sink understands; the text is stored as written
 * and the sink parses it again when it starts. */

/* One of the two keys: the other is left out, so it cannot be blamed. */
static int select_check(const struct cfg_key *k, const char *metrics, const char *dims, void *field,
			char *why, size_t len)
{
	struct cw_select sel;
	int r;

	r = cw_select_parse(&sel, metrics, dims, why, len);
	if (r == -ENOMEM)
		snprintf(why, len, "out of memory");
	if (r)
		return -EINVAL;
	cw_select_free(&sel);
	return cfg_string.parse(k, metrics ? metrics : dims, field, why, len);
}

static int metrics_parse(const struct cfg_key *k, const char *s, void *field, char *why, size_t len)
{
	return select_check(k, s, NULL, field, why, len);
}

static int dimensions_parse(const struct cfg_key *k, const char *s, void *field, char *why,
			    size_t len)
{
	return select_check(k, NULL, s, field, why, len);
}

static void dimensions_describe(const struct cfg_key *k, char *buf, size_t len)
{
	(void)k;
	snprintf(buf, len, "all, none, or TAG, TAG, ...");
}

static void metrics_describe(const struct cfg_key *k, char *buf, size_t len)
{
	(void)k;
	snprintf(buf, len, "MEASUREMENT.FIELD or MEASUREMENT.FIELD -> NAME, comma-separated");
}

static const struct cfg_vtype dimensions = {"value", 0, dimensions_parse, dimensions_describe};
static const struct cfg_vtype metrics = {"value", 0, metrics_parse, metrics_describe};

#define S(f) CFG_FIELD(struct cfg_sink, f)
static const struct cfg_key cloudwatch_keys[] = {
	{"namespace", &cfg_string, S(namespace_), .flags = CFG_REQUIRED, .example = "powerd",
	 .doc = "the CloudWatch namespace of the metrics"},
	{"region", &cfg_string, S(region), .example = "eu-west-1",
	 .doc = "the AWS region (default $AWS_REGION, else $AWS_DEFAULT_REGION)"},
	{"endpoint", &cfg_string, S(endpoint),
	 .example = "https://monitoring.eu-west-1.amazonaws.com",
	 .doc = "where to send (default https://monitoring.REGION.amazonaws.com)"},
	{"profile", &cfg_string, S(profile), .example = "default",
	 .doc = "the credentials file's profile (default $AWS_PROFILE, else default)"},
	{"credentials_file", &cfg_string, S(credentials_file), .flags = CFG_FILE_READ,
	 .example = "/etc/powerd/aws-credentials",
	 .doc = "read when AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not set (default "
		"~/.aws/credentials)"},
	{"max_age", &cfg_duration, S(max_age_ns), .min = CFG_NS_S, .max = INT64_MAX, .def = "336h",
	 .doc = "older data is dropped, counted (CloudWatch refuses it after 14 days)"},
	{"dimensions", &dimensions, S(dimensions), .def = "all", .flags = CFG_APPEND,
	 .doc = "which of a sample's tags become the dimensions of its datums (all, none, or a "
		"list of tags; repeat the key to continue the list)"},
	{"metrics", &metrics, S(metrics), .flags = CFG_APPEND,
	 .example = "pulse.power_w -> house_power_w, pulse.energy_wh",
	 .doc = "the fields sent and the names of their datums, MEASUREMENT_FIELD unless "
		"renamed (default: every field); repeat the key to continue the list"},
	{0},
};
#undef S

const struct cfg_type sink_cloudwatch_conf = {
	.name = "cloudwatch",
	.value = CFG_SINK_CLOUDWATCH,
	.doc = "AWS CloudWatch PutMetricData, signed with SigV4",
	.keys = cloudwatch_keys,
};

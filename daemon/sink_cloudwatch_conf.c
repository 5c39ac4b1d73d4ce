/* The keys of a CloudWatch sink ([sink.NAME] type = cloudwatch):
 * PutMetricData signed with SigV4, credentials from the environment or the
 * shared credentials file (config_table.h). */
#include <stddef.h>

#include "config_table.h"

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
	{0},
};
#undef S

const struct cfg_type sink_cloudwatch_conf = {
	.name = "cloudwatch",
	.value = CFG_SINK_CLOUDWATCH,
	.doc = "AWS CloudWatch PutMetricData, signed with SigV4",
	.keys = cloudwatch_keys,
};

/* The [mqtt.NAME] section's keys: JSON messages from an MQTT broker's
 * topics, each read whole as points (config_table.h).  The connection keys
 * are the MQTT sink's (CFG_MQTT_CONN_KEYS); the mapping keys are Telegraf
 * mqtt_consumer's json parser's, without the json_ prefix. */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "config_table.h"
#include "sample.h"

static const struct cfg_choice formats[] = {{"telegraf", CFG_MQTT_IN_TELEGRAF},
					    {"flat", CFG_MQTT_IN_FLAT},
					    {"points", CFG_MQTT_IN_POINTS},
					    {0}};

/* One subscription filter, as the broker would judge it (MQTT 3.1.1 4.7):
 * a refused SUBSCRIBE would only show at run time, as silence. */
static int mqtt_topic_check(const char *t, size_t n, char *why, size_t len)
{
	size_t i;

	if (!n) {
		snprintf(why, len, "an empty topic");
		return -EINVAL;
	}
	if (n > 65535) {
		snprintf(why, len, "a topic longer than 65535 bytes");
		return -EINVAL;
	}
	for (i = 0; i < n; i++) {
		bool start = i == 0 || t[i - 1] == '/', end = i + 1 == n || t[i + 1] == '/';

		if (t[i] == '+' && !(start && end)) {
			snprintf(why, len, "'+' must be a whole level of the topic: %.*s", (int)n,
				 t);
			return -EINVAL;
		}
		if (t[i] == '#' && !(start && i + 1 == n)) {
			snprintf(why, len, "'#' must be the whole last level of the topic: %.*s",
				 (int)n, t);
			return -EINVAL;
		}
	}
	return 0;
}

static int topics_parse(const struct cfg_key *k, const char *s, void *field, char *why, size_t len)
{
	const char *p = s;

	for (;;) {
		const char *e = strchr(p, ','), *end = e ? e : p + strlen(p);
		int r;

		while (p < end && *p == ' ')
			p++;
		while (end > p && end[-1] == ' ')
			end--;
		r = mqtt_topic_check(p, (size_t)(end - p), why, len);
		if (r)
			return r;
		if (!e)
			break;
		p = e + 1;
	}
	return cfg_string.parse(k, s, field, why, len);
}

static void topics_describe(const struct cfg_key *k, char *buf, size_t len)
{
	(void)k;
	snprintf(buf, len, "TOPIC, TOPIC, ... (filters: + and # as MQTT allows)");
}

static const struct cfg_vtype topics = {"topic list", 0, topics_parse, topics_describe};

/* Names of members, comma-separated (tag_keys, string_fields). */
static int names_parse(const struct cfg_key *k, const char *s, void *field, char *why, size_t len)
{
	const char *p = s;

	for (;;) {
		const char *e = strchr(p, ','), *end = e ? e : p + strlen(p);

		while (p < end && *p == ' ')
			p++;
		while (end > p && end[-1] == ' ')
			end--;
		if (end == p) {
			snprintf(why, len, "an empty name in the list");
			return -EINVAL;
		}
		if (!e)
			break;
		p = e + 1;
	}
	return cfg_string.parse(k, s, field, why, len);
}

static void names_describe(const struct cfg_key *k, char *buf, size_t len)
{
	(void)k;
	snprintf(buf, len, "NAME, NAME, ...");
}

static const struct cfg_vtype names = {"list of names", 0, names_parse, names_describe};

#define M(f) CFG_FIELD(struct cfg_mqtt, f)
static const struct cfg_key mqtt_in_keys[] = {
	CFG_MQTT_CONN_KEYS(struct cfg_mqtt, "the MQTT client id, which the broker keeps the "
					    "session under: keep it stable (default "
					    "powerd-HOSTNAME-NAME)"),
	{"topics", &topics, M(topics), .flags = CFG_REQUIRED | CFG_APPEND,
	 .example = "home/pico/+, powmr/inverter/#",
	 .doc = "the topic filters subscribed to, comma-separated (+ and # as MQTT allows)"},
	{"qos", &cfg_u32, M(qos), .min = 0, .max = 1, .def = "1",
	 .doc = "1: messages the broker queued while powerd was away are delivered when it "
		"is back; 0: nothing is redelivered"},
	{"clean_session", &cfg_bool, M(clean_session), .def = "no",
	 .doc = "yes: the broker forgets the session (and what it queued) at each "
		"disconnection"},
	{"keepalive", &cfg_duration, M(keepalive_ns), .min = 5 * CFG_NS_S, .max = 65535 * CFG_NS_S,
	 .def = "60s",
	 .doc = "MQTT keepalive: a silent broker is taken as gone after 1.5 times it"},
	{"format", &cfg_enum, M(format), .choices = formats, .def = "telegraf",
	 .doc = "telegraf: as Telegraf's mqtt_consumer with data_format = json (numbers, and "
		"numeric strings, as floats); flat: an object of objects; points: InfluxDB-style "
		"records"},
	{"name_key", &cfg_string, M(name_key), .example = "measurement",
	 .doc = "telegraf: the member naming the measurement (json_name_key)"},
	{"time_key", &cfg_string, M(time_key), .example = "timestamp",
	 .doc = "the member holding the time (json_time_key; default: the arrival time, points "
		"read \"time\")"},
	{"time_format", &cfg_enum, M(time_format), .choices = cfg_json_times, .def = "auto",
	 .doc = "how times are written (json_time_format; auto: strings RFC 3339, numbers Unix "
		"seconds)"},
	{"tag_keys", &names, M(tag_keys), .flags = CFG_APPEND, .example = "host",
	 .doc = "telegraf: members made tags, comma-separated, exact names at the top level"},
	{"string_fields", &names, M(string_fields), .flags = CFG_APPEND, .example = "mode",
	 .doc = "telegraf: string (or boolean) members kept as fields (json_string_fields); "
		"others are dropped unless numeric"},
	{"topic_tag", &cfg_string, M(topic_tag), .max = SAMPLE_KEY_MAX - 1, .example = "topic",
	 .doc = "a tag of that name holding the message's topic (default: none)"},
	{"measurement", &cfg_string, M(measurement), .max = SAMPLE_KEY_MAX - 1, .example = "status",
	 .doc = "flat: the measurement of the top-level scalars; telegraf: without a name_key "
		"member (default NAME)"},
	{"max_size", &cfg_size, M(max_size), .min = 64, .max = 256 << 20, .def = "1MiB",
	 .doc = "a larger payload is refused and counted as too_large"},
	CFG_FIELDS_KEYS(struct cfg_mqtt),
	{0},
};
#undef M

static void mqtt_in_check(struct cfg_sect *s, const void *obj)
{
	static const char *const telegraf_only[] = {"name_key", "tag_keys", "string_fields"};
	const struct cfg_mqtt *c = obj;
	const char *title = cfg_sect_title(s);
	unsigned line, measurement = cfg_key_line(s, "measurement");
	size_t i;

	for (i = 0; i < sizeof(telegraf_only) / sizeof(telegraf_only[0]); i++) {
		line = cfg_key_line(s, telegraf_only[i]);
		if (line && c->format != CFG_MQTT_IN_TELEGRAF)
			cfg_error(s, line, "'%s' needs 'format = telegraf' in %s", telegraf_only[i],
				  title);
	}
	if (measurement && c->format == CFG_MQTT_IN_POINTS)
		cfg_error(s, measurement,
			  "'measurement' needs 'format = flat' or 'format = telegraf' in %s "
			  "(points name their own)",
			  title);
	if (measurement && c->measurement[0] == '#')
		cfg_error(s, measurement, "'measurement' cannot start with '#' in %s", title);
	if (!measurement && c->format != CFG_MQTT_IN_POINTS && strlen(c->name) > SAMPLE_KEY_MAX - 1)
		cfg_error(s, cfg_sect_line(s),
			  "%s: NAME is too long to be the measurement (at most %d characters): set "
			  "'measurement'",
			  title, SAMPLE_KEY_MAX - 1);
}

CFG_HEAD_CHECK(struct cfg_mqtt);

const struct cfg_kind source_mqtt_conf = {
	.name = "mqtt",
	.doc = "JSON messages from an MQTT broker (QoS 1, a persistent session: what is "
	       "published while powerd is away arrives when it is back); NAME is the source's "
	       "name, unique among all sources",
	CFG_NAMED(struct cfg_mqtt, mqtt, nmqtt),
	.keys = mqtt_in_keys,
	.check = mqtt_in_check,
	.example = "gadgets",
	.names = "source",
};

/* The keys of an MQTT sink ([sink.NAME] type = mqtt): JSON per sample, QoS 1,
 * optionally Home Assistant discovery, or the Pico meter's JSON shape
 * (config_table.h). */
#include <stddef.h>

#include "config_table.h"

static const struct cfg_choice formats[] = {{"json", CFG_MQTT_JSON}, {"pico", CFG_MQTT_PICO}, {0}};

#define S(f) CFG_FIELD(struct cfg_sink, f)
static const struct cfg_key mqtt_keys[] = {
	{"host", &cfg_string, S(host), .def = "127.0.0.1", .doc = "the broker"},
	{"port", &cfg_u32, S(port), .min = 1, .max = 65535, .example = "1883",
	 .doc = "the broker's port (default 1883, 8883 with tls = yes)"},
	{"client_id", &cfg_string, S(client_id), .example = "powerd-raspberrypi",
	 .doc = "the MQTT client id (default powerd-HOSTNAME)"},
	{"username", &cfg_string, S(username), .example = "powerd",
	 .doc = "the user, if the broker wants one"},
	{"password", &cfg_string, S(password), .example = "secret",
	 .doc = "the user's password, never logged"},
	{"topic_prefix", &cfg_string, S(topic_prefix), .def = "powerd",
	 .doc = "samples go to PREFIX/MEASUREMENT/NAME"},
	{"format", &cfg_enum, S(format), .choices = formats, .def = "json",
	 .doc = "json, or pico: the Pico meter's shape, for existing Telegraf mqtt_consumer "
		"setups"},
	{"pico_host", &cfg_string, S(pico_host), .example = "raspberrypi",
	 .doc = "with format = pico, its \"host\" (default the hostname)"},
	{"tls", &cfg_bool, S(tls), .def = "no", .doc = "TLS to the broker, the peer verified"},
	{"ca_file", &cfg_string, S(ca_file), .flags = CFG_FILE_READ,
	 .example = "/etc/ssl/certs/ca-certificates.crt",
	 .doc = "tls: the CAs to verify the broker with (default: the system's)"},
	{"ha_discovery", &cfg_bool, S(ha_discovery), .def = "no",
	 .doc = "publish Home Assistant discovery configs for every field"},
	{"ha_prefix", &cfg_string, S(ha_prefix), .def = "homeassistant",
	 .doc = "Home Assistant's discovery prefix"},
	{0},
};
#undef S

static void mqtt_check(struct cfg_sect *s, const void *obj)
{
	const struct cfg_sink *k = obj;
	unsigned pico_host = cfg_key_line(s, "pico_host");

	if (pico_host && k->format != CFG_MQTT_PICO)
		cfg_error(s, pico_host, "'pico_host' needs 'format = pico' in %s",
			  cfg_sect_title(s));
}

const struct cfg_type sink_mqtt_conf = {
	.name = "mqtt",
	.value = CFG_SINK_MQTT,
	.doc = "MQTT: JSON per sample on topic_prefix/MEASUREMENT/NAME, QoS 1, optionally with "
	       "Home Assistant discovery, or the Pico meter's JSON shape",
	.keys = mqtt_keys,
	.check = mqtt_check,
};

/* The keys of an MQTT sink ([sink.NAME] type = mqtt): JSON per sample, QoS 1,
 * optionally Home Assistant discovery, or the Pico meter's JSON shape
 * (config_table.h). */
#include <stddef.h>

#include "config_table.h"

static const struct cfg_choice formats[] = {{"json", CFG_MQTT_JSON}, {"pico", CFG_MQTT_PICO}, {0}};

#define S(f) CFG_FIELD(struct cfg_sink, f)
static const struct cfg_key mqtt_keys[] = {
	CFG_MQTT_CONN_KEYS(struct cfg_sink, "the MQTT client id (default powerd-HOSTNAME)"),
	{"topic_prefix", &cfg_string, S(topic_prefix), .def = "powerd",
	 .doc = "samples go to PREFIX/MEASUREMENT/NAME"},
	{"format", &cfg_enum, S(format), .choices = formats, .def = "json",
	 .doc = "json, or pico: the Pico meter's shape, for existing Telegraf mqtt_consumer "
		"setups"},
	{"pico_host", &cfg_string, S(pico_host), .example = "raspberrypi",
	 .doc = "with format = pico, its \"host\" (default the hostname)"},
	{"ha_discovery", &cfg_bool, S(ha_discovery), .def = "no",
	 .doc = "publish Home Assistant discovery configs for every field"},
	{"ha_prefix", &cfg_string, S(ha_prefix), .def = "homeassistant",
	 .doc = "Home Assistant's discovery prefix"},
	{"ha_expire_after", &cfg_duration, S(ha_expire_after_ns), .min = 0, .max = 86400 * CFG_NS_S,
	 .def = "0s",
	 .doc = "Home Assistant shows a sensor as unavailable when no value came for this long "
		"(a few of the source's intervals); 0 = never"},
	{"ha_names", &cfg_string, S(ha_names),
	 .example = "soc=Battery charge, pv_power=Solar power",
	 .doc = "Home Assistant names for fields, FIELD=Name separated by commas (default: "
		"derived from the field, e.g. soc_pct -> Battery SOC)"},
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

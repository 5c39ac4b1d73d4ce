/* The [eg4.NAME] section's keys: an EG4 / LuxPower WiFi dongle on TCP, its
 * frames decoded through a register map (config_table.h). */
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "config_table.h"
#include "eg4.h"
#include "regmap.h"

/* A serial as it travels in a frame: exactly 10 printable characters. */
static int serial_parse(const struct cfg_key *k, const char *s, void *field, char *why, size_t len)
{
	size_t i, n = strlen(s);

	if (n != EG4_DATALOG_LEN) {
		snprintf(why, len, "must be %d characters, not %zu", EG4_DATALOG_LEN, n);
		return -EINVAL;
	}
	for (i = 0; i < n; i++)
		if (s[i] <= ' ' || s[i] > '~') {
			snprintf(why, len, "must be printable characters without blanks");
			return -EINVAL;
		}
	return cfg_string.parse(k, s, field, why, len);
}

static void serial_describe(const struct cfg_key *k, char *buf, size_t len)
{
	(void)k;
	snprintf(buf, len, "%d characters", EG4_DATALOG_LEN);
}

static const struct cfg_vtype cfg_eg4_serial = {"serial", 0, serial_parse, serial_describe};

/* A duration, or a bare 0 for "off" (poll = 0 only listens). */
static int off_parse(const struct cfg_key *k, const char *s, void *field, char *why, size_t len)
{
	if (!strcmp(s, "0")) {
		*(int64_t *)field = 0;
		return 0;
	}
	return cfg_duration.parse(k, s, field, why, len);
}

static void off_describe(const struct cfg_key *k, char *buf, size_t len)
{
	char d[96];

	cfg_duration.describe(k, d, sizeof(d));
	snprintf(buf, len, "0 (off) or %s", d);
}

static const struct cfg_vtype cfg_eg4_off = {"duration", sizeof(int64_t), off_parse, off_describe};

#define C(f) CFG_FIELD(struct cfg_eg4, f)
static const struct cfg_key eg4_keys[] = {
	{"host", &cfg_string, C(host), .flags = CFG_REQUIRED, .example = "192.168.1.60",
	 .doc = "the dongle's address (a name or an IP address); one connection per dongle"},
	{"port", &cfg_u32, C(port), .min = 1, .max = 65535, .def = "8000",
	 .doc = "the dongle's TCP port"},
	{"datalog", &cfg_eg4_serial, C(datalog), .example = "BA12345678",
	 .doc = "the dongle's serial: frames from another are kept (tagged with theirs) but "
		"counted as datalog_mismatch and warned about; default: the first frame's"},
	{"inverter", &cfg_eg4_serial, C(inverter), .example = "2043022401",
	 .doc = "the inverter's serial, for requests (another in a reply is counted as "
		"inverter_mismatch); default: the first reply's, zeroes until one came"},
	{"poll", &cfg_eg4_off, C(poll_ns), .min = CFG_NS_S, .max = 24 * CFG_NS_H, .def = "60s",
	 .doc = "also read the map's input registers (40-register groups) this often; 0: only "
		"listen to what the dongle sends"},
	{"heartbeats", &cfg_bool, C(heartbeats), .def = "no",
	 .doc = "echo the dongle's heartbeats, which keeps its data coming when its cloud is "
		"blocked; no: nothing but the poll's reads is ever sent"},
	{"watchdog", &cfg_eg4_off, C(watchdog_ns), .min = CFG_NS_S, .max = 24 * CFG_NS_H,
	 .def = "15min", .doc = "no frame for this long: close the connection and connect again"},
	{"timeout", &cfg_duration, C(timeout_ns), .min = 100 * CFG_NS_MS, .max = CFG_NS_MIN,
	 .def = "10s",
	 .doc = "a request without its reply this long is counted as timeout; the next poll "
		"asks again"},
	{"connect_timeout", &cfg_duration, C(connect_timeout_ns), .min = 100 * CFG_NS_MS,
	 .max = 5 * CFG_NS_MIN, .def = "10s", .doc = "for resolving and connecting"},
	{"keepalive", &cfg_eg4_off, C(keepalive_ns), .min = CFG_NS_S, .max = 2 * CFG_NS_H,
	 .def = "60s", .doc = "TCP keepalive: probes after this long idle"},
	{"reconnect_min", &cfg_duration, C(backoff_min_ns), .min = 10 * CFG_NS_MS,
	 .max = CFG_NS_MIN, .def = "1s",
	 .doc = "after a failure, connect again within this (doubling up to reconnect_max, "
		"random within, reset by a good exchange)"},
	{"reconnect_max", &cfg_duration, C(backoff_max_ns), .min = 10 * CFG_NS_MS, .max = CFG_NS_H,
	 .def = "60s", .doc = "the longest wait before connecting again"},
	{"map", &cfg_string, C(map), .def = "eg4-input",
	 .doc = "the register map (docs/REGMAP.md): a NAME in the data directory's maps/, or a "
		"path; its values are decoded from every input or holding register reply seen"},
	CFG_PLOT_KEY(struct cfg_eg4, plot),
	{0},
};
#undef C

static void eg4_check(struct cfg_sect *s, const void *obj)
{
	const struct cfg_eg4 *c = obj;

	if (c->backoff_min_ns > c->backoff_max_ns)
		cfg_error(s, cfg_key_line(s, "reconnect_min"),
			  "'reconnect_min' cannot be longer than 'reconnect_max' in %s",
			  cfg_sect_title(s));
	regmap_conf_check(s, "map", c->map);
}

CFG_HEAD_CHECK(struct cfg_eg4);

const struct cfg_kind source_eg4_conf = {
	.name = "eg4",
	.doc = "An EG4 / LuxPower inverter's WiFi dongle (TCP port 8000): its frames read, its "
	       "input registers polled, decoded through a register map into samples; NAME is "
	       "the source's name, unique among all sources",
	CFG_NAMED(struct cfg_eg4, eg4, neg4),
	.keys = eg4_keys,
	.check = eg4_check,
	.example = "dongle",
	.names = "source",
};

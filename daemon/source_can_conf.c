/* The [can.NAME] section's keys: a SocketCAN interface read on the I/O
 * thread, or a replayed candump log / SavvyCAN CSV, decoded by protocol
 * (config_table.h). */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "canframe.h"
#include "config_table.h"

static int filter_parse(const struct cfg_key *k, const char *s, void *field, char *why, size_t len)
{
	struct canframe_filter f[CANFRAME_FILTERS_MAX];
	int r = canframe_parse_filters(s, f, CANFRAME_FILTERS_MAX, why, len);

	return r < 0 ? -EINVAL : cfg_string.parse(k, s, field, why, len);
}

static void filter_describe(const struct cfg_key *k, char *buf, size_t len)
{
	(void)k;
	snprintf(buf, len, "ID:MASK or ID~MASK, comma-separated, at most %d", CANFRAME_FILTERS_MAX);
}

static const struct cfg_vtype cfg_can_filter = {"filter list", 0, filter_parse, filter_describe};

static const struct cfg_choice can_protocols[] = {
	{"ecoflow", CFG_CAN_ECOFLOW},
	{"raw", CFG_CAN_RAW},
	{0},
};

#define C(f) CFG_FIELD(struct cfg_can, f)
static const struct cfg_key can_keys[] = {
	{"interface", &cfg_string, C(interface), .max = 15, .example = "can0",
	 .doc = "the SocketCAN interface read (required unless replay is set); powerd does not "
		"bring it up or set its bitrate unless configure = yes"},
	{"protocol", &cfg_enum, C(protocol), .choices = can_protocols, .def = "ecoflow",
	 .doc = "ecoflow: records reassembled, checked and decoded into samples; raw: frames "
		"only counted (and recorded), no samples"},
	{"filter", &cfg_can_filter, C(filter), .example = "10000000:10000000, 00000000:10000000",
	 .doc = "receive only frames passing one of these (candump's ID:MASK, ID~MASK "
		"inverted; 8 hex digits: a 29-bit id), applied in the kernel (CAN_RAW_FILTER)"},
	{"decode", &cfg_string, C(decode), .flags = CFG_FILE_READ,
	 .example = "/etc/powerd/ecoflow.json",
	 .doc = "ecoflow: the decode table (JSON, see share/ecoflow.json; default: the one "
		"installed with powerd)"},
	{"replay", &cfg_string, C(replay), .flags = CFG_FILE_READ,
	 .example = "/var/lib/powerd/battery.log",
	 .doc = "read frames from this candump log or SavvyCAN CSV instead of interface"},
	{"speed", &cfg_double, C(speed), .min = 0, .max = 1000000000, .def = "1",
	 .doc = "replay only: 1 = at the log's own pace, its times moved onto the clock; 0 = as "
		"fast as possible, the log's own times kept (importing history)"},
	{"loop", &cfg_bool, C(loop), .def = "no",
	 .doc = "replay only: start over at the end of the log (needs speed = 1)"},
	{"record", &cfg_string, C(record), .flags = CFG_FILE_WRITE,
	 .example = "/var/lib/powerd/battery-frames.log",
	 .doc = "also append every frame received to this file, in candump -l format"},
	{"record_max", &cfg_size, C(record_max), .min = 4096, .max = 1ll << 40, .def = "64MiB",
	 .doc = "record: a file this large is renamed to FILE.1 (replacing it) and a new one "
		"started"},
	{"rcvbuf", &cfg_size, C(rcvbuf), .min = 1024, .max = 1 << 30, .example = "1MiB",
	 .doc = "the socket's receive buffer (SO_RCVBUF; default: the kernel's, "
		"net.core.rmem_default); frames beyond it are dropped by the kernel and counted"},
	{"state_interval", &cfg_duration, C(state_interval_ns), .min = 100 * CFG_NS_MS,
	 .max = CFG_NS_H, .def = "2s",
	 .doc = "how often the bus state and error counters are read (libsocketcan)"},
	{"configure", &cfg_bool, C(configure), .def = "no",
	 .doc = "set the bitrate and bring the interface up at start (needs bitrate and "
		"CAP_NET_ADMIN); otherwise: ip link set can0 up type can bitrate 1000000"},
	{"bitrate", &cfg_u32, C(bitrate), .min = 1000, .max = 8000000, .example = "1000000",
	 .doc = "configure: the bus's bitrate in bit/s (EcoFlow: 1000000)"},
	{"restart_ms", &cfg_u32, C(restart_ms), .max = 60000, .def = "100",
	 .doc = "configure: restart the controller this long after a bus-off (0: never)"},
	{"allow_transmit", &cfg_bool, C(allow_transmit), .def = "no",
	 .doc = "let `powerctl can send` transmit recorded frames on this bus; nothing is "
		"ever sent otherwise"},
	{"transmit_max", &cfg_u32, C(transmit_max), .min = 1, .max = 1000, .def = "64",
	 .doc = "allow_transmit: at most this many frames per event"},
	CFG_PLOT_KEY(struct cfg_can, plot),
	{0},
};
#undef C

static void can_check(struct cfg_sect *s, const void *obj)
{
	const struct cfg_can *c = obj;
	const char *title = cfg_sect_title(s);
	unsigned iface = cfg_key_line(s, "interface"), replay = cfg_key_line(s, "replay"),
		 configure = cfg_key_line(s, "configure"), bitrate = cfg_key_line(s, "bitrate"),
		 restart = cfg_key_line(s, "restart_ms"), decode = cfg_key_line(s, "decode"),
		 tx = cfg_key_line(s, "allow_transmit");

	if (iface && replay)
		cfg_error(s, replay, "'replay' cannot be combined with 'interface' in %s", title);
	if (!iface && !replay)
		cfg_error(s, cfg_sect_line(s),
			  "%s: missing required key 'interface' (or set "
			  "'replay')",
			  title);
	cfg_replay_check(s, replay, c->speed, c->loop);
	if (replay) {
		if (configure && c->configure)
			cfg_error(s, configure, "'configure' needs 'interface' in %s", title);
		if (tx && c->allow_transmit)
			cfg_error(s, tx, "'allow_transmit' needs 'interface' in %s", title);
	}
	if (configure && c->configure && !bitrate)
		cfg_error(s, configure, "'configure = yes' needs 'bitrate' in %s", title);
	if (bitrate && !c->configure)
		cfg_error(s, bitrate,
			  "'bitrate' needs 'configure = yes' in %s (powerd leaves the "
			  "interface alone otherwise)",
			  title);
	if (restart && !c->configure)
		cfg_error(s, restart, "'restart_ms' needs 'configure = yes' in %s", title);
	if (decode && c->protocol != CFG_CAN_ECOFLOW)
		cfg_error(s, decode, "'decode' needs 'protocol = ecoflow' in %s", title);
}

CFG_HEAD_CHECK(struct cfg_can);

const struct cfg_kind source_can_conf = {
	.name = "can",
	.doc = "A SocketCAN bus (a Pi CAN HAT, a USB adapter), or a replayed candump log or "
	       "SavvyCAN CSV; EcoFlow records are decoded into samples; NAME is the source's "
	       "name, unique among all sources",
	CFG_NAMED(struct cfg_can, can, ncan),
	.keys = can_keys,
	.check = can_check,
	.example = "battery",
	.names = "source",
};

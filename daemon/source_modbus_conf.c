/* The [modbus.NAME] section's keys: a Modbus device over TCP or a serial
 * line (RTU), polled by a register map (config_table.h).  The map is loaded
 * here already, so a mistake in it (FILE:LINE) refuses the configuration:
 * the start, a reload and `powerd --check` alike. */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "config_table.h"
#include "modbus.h"
#include "regmap.h"
#include "serial.h"

static int url_parse(const struct cfg_key *k, const char *s, void *field, char *why, size_t len)
{
	struct modbus_url u;

	if (modbus_url_parse(s, &u, why, len))
		return -EINVAL;
	return cfg_string.parse(k, s, field, why, len);
}

static void url_describe(const struct cfg_key *k, char *buf, size_t len)
{
	(void)k;
	snprintf(buf, len, "tcp://HOST[:PORT] (port 502 by default) or rtu:///dev/PORT");
}

static const struct cfg_vtype cfg_modbus_url = {"Modbus URL", 0, url_parse, url_describe};

/* A unit id, remembering that it was given: without one the map's apply. */
static int unit_parse(const struct cfg_key *k, const char *s, void *field, char *why, size_t len)
{
	struct cfg_modbus_unit *u = field;
	uint32_t v;
	int r = cfg_u32.parse(k, s, &v, why, len);

	if (r)
		return r;
	u->id = (uint8_t)v;
	u->set = true;
	return 0;
}

static void unit_describe(const struct cfg_key *k, char *buf, size_t len)
{
	(void)k;
	snprintf(buf, len, "number, 0 to 255");
}

static const struct cfg_vtype cfg_modbus_unit = {"unit id", sizeof(struct cfg_modbus_unit),
						 unit_parse, unit_describe};

static const struct cfg_choice modbus_parities[] = {
	{"none", CFG_MODBUS_PARITY_NONE},
	{"even", CFG_MODBUS_PARITY_EVEN},
	{"odd", CFG_MODBUS_PARITY_ODD},
	{0},
};

static const struct cfg_choice modbus_rs485[] = {
	{"no", CFG_MODBUS_RS485_NO},
	{"kernel", CFG_MODBUS_RS485_KERNEL},
	{0},
};

#define C(f) CFG_FIELD(struct cfg_modbus, f)
static const struct cfg_key modbus_keys[] = {
	{"url", &cfg_modbus_url, C(url), .flags = CFG_REQUIRED, .example = "rtu:///dev/ttyUSB0",
	 .doc = "the device: tcp://HOST[:PORT], or rtu://PATH for a serial port; sections with "
		"the same rtu:// path share the line, their requests taken in turn"},
	{"baud", &cfg_u32, C(baud), .min = 50, .max = 4000000, .def = "9600",
	 .doc = "rtu: the line's speed in bit/s (PowMr: 2400, EG4: 19200)"},
	{"parity", &cfg_enum, C(parity), .choices = modbus_parities, .def = "none",
	 .doc = "rtu: none, even or odd"},
	{"data_bits", &cfg_u32, C(data_bits), .min = 5, .max = 8, .def = "8",
	 .doc = "rtu: bits per character"},
	{"stop_bits", &cfg_u32, C(stop_bits), .min = 1, .max = 2, .def = "1",
	 .doc = "rtu: stop bits per character"},
	{"unit", &cfg_modbus_unit, C(unit), .min = 0, .max = 255, .example = "5",
	 .doc = "the unit (slave) id every request goes to (default: the map's unit_id)"},
	{"interval", &cfg_duration, C(interval_ns), .min = 10 * CFG_NS_MS, .max = 24 * CFG_NS_H,
	 .def = "10s",
	 .doc = "a poll (every read of the map) starts this often; one still running then is "
		"not queued up but skipped and counted (overrun)"},
	{"timeout", &cfg_duration, C(timeout_ns), .min = 10 * CFG_NS_MS, .max = 60 * CFG_NS_S,
	 .def = "1s",
	 .doc = "the longest wait for a reply (rtu: after the line's transmission times)"},
	{"connect_timeout", &cfg_duration, C(connect_timeout_ns), .min = 100 * CFG_NS_MS,
	 .max = 60 * CFG_NS_S, .def = "3s", .doc = "tcp: the longest wait for a connection"},
	{"retries", &cfg_u32, C(retries), .max = 10, .def = "1",
	 .doc = "re-sends of a request after a timeout or a bad reply, then the poll is given "
		"up (counted, shown) and the next one tries again"},
	{"pause", &cfg_duration, C(pause_ns), .max = 10 * CFG_NS_S, .def = "0s",
	 .doc = "the least time between the end of one exchange and the next request on the "
		"device (rtu: on the line, and never less than 3.5 characters)"},
	{"map", &cfg_string, C(map), .flags = CFG_REQUIRED, .example = "powmr-lvm",
	 .doc = "the register map: a shipped one by NAME (share/maps/NAME.map), or a file "
		"(docs/REGMAP.md)"},
	{"close_after_poll", &cfg_bool, C(close_after_poll), .def = "no",
	 .doc = "tcp: close the connection after each poll, freeing a single-connection device "
		"for other masters; connect again at the next"},
	{"pipeline", &cfg_bool, C(pipeline), .def = "no",
	 .doc = "tcp: send all of a poll's reads at once, each with its transaction id, the "
		"replies taken in any order (a device or gateway that queues requests); no = one "
		"request at a time"},
	{"rs485", &cfg_enum, C(rs485), .choices = modbus_rs485, .def = "no",
	 .doc = "rtu: kernel = the port's driver drives the transceiver's RTS (TIOCSRS485), "
		"with rs485_delay_before and _after; no = leave the port as it is"},
	{"rs485_delay_before", &cfg_u32, C(rs485_delay_before), .max = 1000, .def = "0",
	 .doc = "rs485 = kernel: ms between raising RTS and sending"},
	{"rs485_delay_after", &cfg_u32, C(rs485_delay_after), .max = 1000, .def = "0",
	 .doc = "rs485 = kernel: ms between the last byte and dropping RTS"},
	{"allow_write", &cfg_bool, C(allow_write), .def = "no",
	 .doc = "let `powerctl modbus write` set the map's writable values; nothing is ever "
		"written to the device otherwise"},
	CFG_PLOT_KEY(struct cfg_modbus, plot),
	{0},
};
#undef C

/* Keys that mean something on one transport only. */
static void modbus_key_needs(struct cfg_sect *s, const char *key, const char *transport)
{
	unsigned at = cfg_key_line(s, key);

	if (at)
		cfg_error(s, at, "'%s' needs %s:// url in %s", key,
			  !strcmp(transport, "rtu") ? "an rtu" : "a tcp", cfg_sect_title(s));
}

static void modbus_check(struct cfg_sect *s, const void *obj)
{
	static const char *const rtu_only[] = {"baud",
					       "parity",
					       "data_bits",
					       "stop_bits",
					       "rs485",
					       "rs485_delay_before",
					       "rs485_delay_after",
					       NULL};
	static const char *const tcp_only[] = {"close_after_poll", "connect_timeout", "pipeline",
					       NULL};
	const struct cfg_modbus *c = obj;
	const char *title = cfg_sect_title(s);
	unsigned url_at = cfg_key_line(s, "url"), map_at = cfg_key_line(s, "map");
	struct modbus_url u;
	char why[300];
	size_t i;

	if (url_at && !modbus_url_parse(c->url, &u, why, sizeof(why))) {
		const char *const *other = u.transport == MODBUS_RTU ? tcp_only : rtu_only;

		for (i = 0; other[i]; i++)
			modbus_key_needs(s, other[i], u.transport == MODBUS_RTU ? "tcp" : "rtu");
		if (u.transport == MODBUS_RTU) {
			struct serial_params p = {
				.baud = c->baud,
				.parity = "NEO"[c->parity],
				.data_bits = (uint8_t)c->data_bits,
				.stop_bits = (uint8_t)c->stop_bits,
			};

			if (serial_params_check(&p, why, sizeof(why)))
				cfg_error(s,
					  cfg_key_line(s, "baud") ? cfg_key_line(s, "baud")
								  : url_at,
					  "%s in %s", why, title);
		}
	}
	if (c->rs485 != CFG_MODBUS_RS485_KERNEL) {
		unsigned at = cfg_key_line(s, "rs485_delay_before");

		if (!at)
			at = cfg_key_line(s, "rs485_delay_after");
		if (at)
			cfg_error(s, at, "the rs485 delays need 'rs485 = kernel' in %s", title);
	}
	if (map_at)
		regmap_conf_check(s, "map", c->map);
}

CFG_HEAD_CHECK(struct cfg_modbus);

const struct cfg_kind source_modbus_conf = {
	.name = "modbus",
	.doc = "A Modbus device polled by its register map, over TCP or a serial line (RTU); "
	       "NAME is the source's name, unique among all sources",
	CFG_NAMED(struct cfg_modbus, modbus, nmodbus),
	.keys = modbus_keys,
	.check = modbus_check,
	.example = "inverter",
	.names = "source",
};

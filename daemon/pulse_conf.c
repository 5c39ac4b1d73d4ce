/* The [pulse.NAME] section's keys: an impulse-LED meter on a GPIO line, or
 * replayed from a trace file, and how its flashes become watts
 * (config_table.h). */
#include <stddef.h>

#include "config_table.h"

static const struct cfg_choice edges[] = {
	{"rising", CFG_EDGE_RISING}, {"falling", CFG_EDGE_FALLING}, {0}};
static const struct cfg_choice biases[] = {{"pull-up", CFG_BIAS_PULL_UP},
					   {"pull-down", CFG_BIAS_PULL_DOWN},
					   {"disabled", CFG_BIAS_DISABLED},
					   {"as-is", CFG_BIAS_AS_IS},
					   {0}};

#define P(f) CFG_FIELD(struct cfg_pulse, f)
/* min_pulse_ms and min_pulse share a field, which makes setting both a
 * duplicate (config.c). */
static const struct cfg_key pulse_keys[] = {
	{"chip", &cfg_string, P(chip), .example = "gpiochip0",
	 .doc = "the GPIO chip: gpiochipN, /dev/gpiochipN or a chip label; required unless "
		"replay is set"},
	{"line", &cfg_string, P(line), .example = "GPIO17",
	 .doc = "the line: a name (gpioinfo lists them) or an offset; required unless replay is "
		"set"},
	{"edge", &cfg_enum, P(edge), .choices = edges, .def = "falling",
	 .doc = "the edge that starts a flash (falling: the LED pulls the line low)"},
	{"bias", &cfg_enum, P(bias), .choices = biases, .def = "as-is",
	 .doc = "the line's pull resistor"},
	{"impulses_per_kwh", &cfg_u32, P(impulses_per_kwh), .min = 1, .max = 1000000,
	 .flags = CFG_REQUIRED, .example = "1000",
	 .doc = "printed on the meter, e.g. \"1000 imp/kWh\""},
	{"min_pulse_ms", &cfg_ms, P(min_pulse_ns), .min = 0, .max = 10000, .def = "5",
	 .doc = "a flash must stay on, then off, at least this long (ms), else it is a glitch"},
	{"min_pulse", &cfg_duration, P(min_pulse_ns), .min = 0, .max = 10 * CFG_NS_S,
	 .example = "5ms", .doc = "the same as min_pulse_ms, as a duration (set one of the two)"},
	{"timeout", &cfg_duration, P(timeout_ns), .min = 1, .max = INT64_MAX, .def = "5min",
	 .doc = "no flash for this long means 0 W"},
	{"sample_interval", &cfg_duration, P(sample_interval_ns), .min = 100 * CFG_NS_MS,
	 .max = INT64_MAX, .def = "10s", .doc = "how often a sample is made between flashes"},
	{"replay", &cfg_string, P(replay), .flags = CFG_FILE_READ,
	 .example = "/var/lib/powerd/house.trace",
	 .doc = "replay this trace file (\"SECONDS 0|1\" per line) instead of chip and line"},
	{"speed", &cfg_double, P(speed), .min = 0, .max = 1000000000, .def = "1",
	 .doc = "replay only: 1 = real time, 0 = as fast as possible"},
	{"loop", &cfg_bool, P(loop), .def = "no",
	 .doc = "replay only: start over at the end of the trace (needs speed = 1)"},
	{0},
};
#undef P

void cfg_replay_check(struct cfg_sect *s, bool replay, double speed, bool loop)
{
	unsigned speed_at = cfg_key_line(s, "speed"), loop_at = cfg_key_line(s, "loop");
	const char *title = cfg_sect_title(s);

	if (!replay) {
		if (speed_at)
			cfg_error(s, speed_at, "'speed' needs 'replay' in %s", title);
		if (loop_at)
			cfg_error(s, loop_at, "'loop' needs 'replay' in %s", title);
		return;
	}
	/* Replay maps the file's time onto the clock either 1:1 or not at all. */
	if (speed_at && speed != 0 && speed != 1)
		cfg_error(s, speed_at,
			  "'speed' must be 0 (as fast as possible) or 1 (real time) in %s", title);
	if (loop_at && loop && speed == 0)
		cfg_error(s, loop_at,
			  "'loop = yes' needs 'speed = 1' in %s (at speed 0 it would never end)",
			  title);
}

static void pulse_check(struct cfg_sect *s, const void *obj)
{
	const struct cfg_pulse *c = obj;
	unsigned replay = cfg_key_line(s, "replay"), chip = cfg_key_line(s, "chip"),
		 line = cfg_key_line(s, "line");
	const char *title = cfg_sect_title(s);

	cfg_replay_check(s, replay, c->speed, c->loop);
	if (replay) {
		if (chip || line)
			cfg_error(s, replay, "'replay' cannot be combined with %s in %s",
				  chip && line ? "'chip' and 'line'"
				  : chip       ? "'chip'"
					       : "'line'",
				  title);
		return;
	}
	if (!chip)
		cfg_error(s, cfg_sect_line(s), "%s: missing required key 'chip' (or set 'replay')",
			  title);
	if (!line)
		cfg_error(s, cfg_sect_line(s), "%s: missing required key 'line' (or set 'replay')",
			  title);
}

CFG_HEAD_CHECK(struct cfg_pulse);

const struct cfg_kind pulse_conf = {
	.name = "pulse",
	.doc = "An impulse-LED meter read by a photoresistor on a GPIO line, or replayed from a "
	       "trace file (set replay instead of chip and line); NAME is the meter label in the "
	       "metrics",
	CFG_NAMED(struct cfg_pulse, pulses, npulses),
	.keys = pulse_keys,
	.check = pulse_check,
	.example = "house",
	.names = "source",
};

/* Units by field-name suffix: one table for every consumer (the page's
 * plots, Home Assistant's device classes, CloudWatch's unit names). */
#include <string.h>
#include <strings.h>

#include "units.h"

/* Suffixes start at the '_', so only a whole unit matches ("_va" is not
 * found in "q_var"). */
static const struct {
	const char *suffix, *unit;
} unit_suffixes[] = {
	{"_kwh", "kWh"},     {"_wh", "Wh"},	  {"_kw", "kW"}, {"_w", "W"},	{"_var", "var"},
	{"_va", "VA"},	     {"_mv", "mV"},	  {"_v", "V"},	 {"_ma", "mA"}, {"_a", "A"},
	{"_pct", "%"},	     {"_percent", "%"},	  {"_hz", "Hz"}, {"_c", "°C"},	{"_degc", "°C"},
	{"_ms", "ms"},	     {"_us", "us"},	  {"_s", "s"},	 {"_j", "J"},	{"_bytes", "bytes"},
	{"_count", "count"}, {"_total", "count"},
};

/* The entry FIELD's name ends in, or -1. */
static int unit_find(const char *field)
{
	size_t n = strlen(field), i;

	for (i = 0; i < sizeof(unit_suffixes) / sizeof(unit_suffixes[0]); i++) {
		size_t k = strlen(unit_suffixes[i].suffix);

		if (n > k && !strcasecmp(field + n - k, unit_suffixes[i].suffix))
			return (int)i;
	}
	return -1;
}

const char *unit_of_field(const char *field)
{
	int i = unit_find(field);

	return i < 0 ? "" : unit_suffixes[i].unit;
}

size_t unit_suffix_len(const char *field)
{
	int i = unit_find(field);

	return i < 0 ? 0 : strlen(unit_suffixes[i].suffix);
}

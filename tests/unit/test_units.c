/* The unit table the page, Home Assistant and CloudWatch share: whole
 * suffixes only, case-insensitive, the longer unit where two end alike. */
#include "check.h"
#include "units.h"

int main(void)
{
	static const struct {
		const char *field, *unit;
		size_t len;
	} cases[] = {
		{"power_w", "W", 2},
		{"energy_kwh", "kWh", 4},
		{"energy_wh", "Wh", 3},
		{"pv_kw", "kW", 3},
		{"q_var", "var", 4},
		{"s_va", "VA", 3},
		{"cell_mv", "mV", 3},
		{"voltage_v", "V", 2},
		{"POWER_W", "W", 2},
		{"soc_pct", "%", 4},
		{"soc_percent", "%", 8},
		{"grid_hz", "Hz", 3},
		{"temp_c", "°C", 2},
		{"latency_ms", "ms", 3},
		{"interval_s", "s", 2},
		{"spool_bytes", "bytes", 6},
		{"flashes_total", "count", 6},
		{"load", "", 0},
		{"_w", "", 0},
		{"power", "", 0},
		{"w", "", 0},
		{"", "", 0},
		{"draw", "", 0},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		CHECK_STR(unit_of_field(cases[i].field), cases[i].unit);
		CHECK_EQ_INT(unit_suffix_len(cases[i].field), cases[i].len);
	}
	return check_result();
}

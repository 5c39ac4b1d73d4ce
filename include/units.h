/* The unit a field's name ends in: powerd's fields are named NAME_UNIT
 * (power_w, energy_wh, soc_pct, interval_s), and the page, Home Assistant
 * discovery and CloudWatch all read the unit from that one table. */
#ifndef POWERD_UNITS_H
#define POWERD_UNITS_H

#include <stddef.h>

/* The unit of FIELD by its suffix, case-insensitive ("W", "kWh", "%",
 * "°C", "ms", "bytes", "count", ...), or "" when the name ends in none. */
const char *unit_of_field(const char *field);

/* The length of that suffix ("_pct": 4), 0 when there is none: a name's
 * words without their unit (soc_pct -> "soc"). */
size_t unit_suffix_len(const char *field);

#endif

/* The register-map key of the sections that read one ([modbus.NAME],
 * [eg4.NAME]): the map is found and loaded while the configuration is
 * checked, so a missing map or its FILE:LINE error stops the start, a
 * reload and `powerd --check` alike, whatever kind names it. */
#include <limits.h>
#include <string.h>

#include "config_table.h"
#include "regmap.h"

void regmap_conf_check(struct cfg_sect *s, const char *key, const char *map)
{
	unsigned at = cfg_key_line(s, key);
	char path[PATH_MAX], why[PATH_MAX + 256];
	struct regmap m;

	if (!at)
		at = cfg_sect_line(s); /* the default map */
	if (regmap_path(POWERD_DATADIR, map, path, sizeof(path))) {
		cfg_error(s, at,
			  "'%s' is neither a map's name ([A-Za-z0-9_-]) nor a path (with a '/' "
			  "or ending in .map) in %s",
			  map, cfg_sect_title(s));
		return;
	}
	if (regmap_load_file(path, &m, why, sizeof(why))) {
		cfg_error(s, at, "the map of %s: %s", cfg_sect_title(s), why);
		return;
	}
	if (!m.n)
		cfg_error(s, at, "the map of %s (%s) reads no registers", cfg_sect_title(s), path);
	regmap_free(&m);
}

/* The keys of an InfluxDB sink ([sink.NAME] type = influxdb): line protocol
 * over HTTP(S) to InfluxDB 1.x (or VictoriaMetrics' /write) with database,
 * or 2.x with org, bucket and token (config_table.h). */
#include <stddef.h>
#include <string.h>

#include "config_table.h"

#define S(f) CFG_FIELD(struct cfg_sink, f)
static const struct cfg_key influx_keys[] = {
	{"url", &cfg_string, S(url), .flags = CFG_REQUIRED, .example = "http://127.0.0.1:8086",
	 .doc = "the server: http(s)://HOST:PORT[/PREFIX]"},
	{"database", &cfg_string, S(database), .example = "powerd",
	 .doc = "InfluxDB 1.x: the database (2.x: set org, bucket and token instead)"},
	{"retention_policy", &cfg_string, S(retention_policy), .example = "autogen",
	 .doc = "InfluxDB 1.x: the retention policy (default: the database's)"},
	{"username", &cfg_string, S(username), .example = "powerd",
	 .doc = "InfluxDB 1.x: the user, if the server wants one"},
	{"password", &cfg_string, S(password), .example = "secret",
	 .doc = "InfluxDB 1.x: the user's password, never logged"},
	{"org", &cfg_string, S(org), .example = "home", .doc = "InfluxDB 2.x: the organisation"},
	{"bucket", &cfg_string, S(bucket), .example = "power", .doc = "InfluxDB 2.x: the bucket"},
	{"token", &cfg_string, S(token), .example = "xxxxxxxx",
	 .doc = "InfluxDB 2.x: the API token, never logged"},
	{"gzip", &cfg_bool, S(gzip), .def = "yes", .doc = "compress request bodies"},
	{"ca_file", &cfg_string, S(ca_file), .flags = CFG_FILE_READ,
	 .example = "/etc/ssl/certs/ca-certificates.crt",
	 .doc = "https: the CAs to verify the server with (default: the system's)"},
	{0},
};
#undef S

static void influx_check(struct cfg_sect *s, const void *obj)
{
	const struct cfg_sink *k = obj;
	const char *title = cfg_sect_title(s);
	unsigned url = cfg_key_line(s, "url"), db = cfg_key_line(s, "database"),
		 bucket = cfg_key_line(s, "bucket");

	if (url && strncmp(k->url, "http://", 7) && strncmp(k->url, "https://", 8))
		cfg_error(s, url, "'url' must start with http:// or https:// in %s", title);
	if (db && bucket)
		cfg_error(s, bucket,
			  "%s: set 'database' (InfluxDB 1.x) or 'org', 'bucket', 'token' (2.x), "
			  "not both",
			  title);
	else if (!db && !bucket)
		cfg_error(s, cfg_sect_line(s),
			  "%s: missing 'database' (InfluxDB 1.x) or 'bucket' (2.x)", title);
	else if (bucket && !cfg_key_line(s, "org"))
		cfg_error(s, cfg_sect_line(s), "%s: missing required key 'org' (InfluxDB 2.x)",
			  title);
}

const struct cfg_type sink_influx_conf = {
	.name = "influxdb",
	.value = CFG_SINK_INFLUXDB,
	.doc = "InfluxDB 1.x (or VictoriaMetrics' /write) or 2.x: line protocol over HTTP(S)",
	.keys = influx_keys,
	.check = influx_check,
};

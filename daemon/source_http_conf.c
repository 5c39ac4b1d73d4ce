/* The [http.NAME] section's keys: a JSON document polled over HTTP(S) on a
 * fixed grid, read as points like a [json] file (config_table.h). */
#include <stddef.h>
#include <string.h>

#include "config_table.h"
#include "sample.h"

#define H(f) CFG_FIELD(struct cfg_http, f)
static const struct cfg_key http_keys[] = {
	{"url", &cfg_string, H(url), .flags = CFG_REQUIRED,
	 .example = "http://192.168.1.101/api/status",
	 .doc = "what is polled: http(s)://[USER:PASSWORD@]HOST[:PORT]/PATH"},
	{"interval", &cfg_duration, H(interval_ns), .min = 100 * CFG_NS_MS, .max = 24 * CFG_NS_H,
	 .def = "15s",
	 .doc = "polls start on a fixed grid this far apart; a poll still running at the next "
		"tick skips it (counted as overrun)"},
	{"timeout", &cfg_duration, H(timeout_ns), .min = 100 * CFG_NS_MS, .max = 10 * CFG_NS_MIN,
	 .def = "5s", .doc = "the whole poll, connection included, at most this long"},
	{"connect_timeout", &cfg_duration, H(connect_timeout_ns), .min = 100 * CFG_NS_MS,
	 .max = 10 * CFG_NS_MIN, .def = "3s",
	 .doc = "the connection (TCP and TLS) at most this long (at most timeout)"},
	{"format", &cfg_enum, H(format), .choices = cfg_json_formats, .def = "points",
	 .doc = "as [json]: points, InfluxDB-style records; flat, an object of objects, a point "
		"per member object named after it"},
	{"time_key", &cfg_string, H(time_key), .example = "ts",
	 .doc = "the member holding the time (default: points read each record's \"time\", "
		"flat takes the time the response arrived)"},
	{"time_format", &cfg_enum, H(time_format), .choices = cfg_json_times, .def = "auto",
	 .doc = "how times are written (auto: strings are RFC 3339, numbers Unix seconds)"},
	{"measurement", &cfg_string, H(measurement), .max = SAMPLE_KEY_MAX - 1, .example = "status",
	 .doc = "with format = flat, the measurement of the document's top-level scalars "
		"(default NAME)"},
	{"max_size", &cfg_size, H(max_size), .min = 1024, .max = 1 << 30, .def = "1MiB",
	 .doc = "a larger response body is cut off and counted as too_large"},
	{"ca_file", &cfg_string, H(ca_file), .flags = CFG_FILE_READ,
	 .example = "/etc/ssl/certs/ca-certificates.crt",
	 .doc = "https: the CAs to verify the server with (default: the system's)"},
	{"insecure", &cfg_bool, H(insecure), .def = "no",
	 .doc = "https: turn certificate and host name verification off (anyone on the path "
		"can then forge readings)"},
	{"follow_redirects", &cfg_bool, H(follow_redirects), .def = "no",
	 .doc = "follow 3xx answers (at most 5); without it a redirect is counted as one"},
	{"username", &cfg_string, H(username), .example = "admin",
	 .doc = "HTTP basic authentication: the user"},
	{"password", &cfg_string, H(password), .example = "secret",
	 .doc = "HTTP basic authentication: the password, never logged"},
	CFG_FIELDS_KEYS(struct cfg_http),
	{0},
};
#undef H

static void http_check(struct cfg_sect *s, const void *obj)
{
	const struct cfg_http *c = obj;
	const char *title = cfg_sect_title(s);
	unsigned url = cfg_key_line(s, "url"), connect = cfg_key_line(s, "connect_timeout"),
		 pw = cfg_key_line(s, "password");

	if (url && strncmp(c->url, "http://", 7) && strncmp(c->url, "https://", 8))
		cfg_error(s, url, "'url' must start with http:// or https:// in %s", title);
	if (connect && c->connect_timeout_ns > c->timeout_ns)
		cfg_error(s, connect, "'connect_timeout' cannot be longer than 'timeout' in %s",
			  title);
	if (pw && !cfg_key_line(s, "username"))
		cfg_error(s, pw, "'password' needs 'username' in %s", title);
	cfg_json_mapping_check(s, c->name, c->format == CFG_JSON_FLAT, c->measurement,
			       c->time_format, c->time_key, "the response's arrival");
}

CFG_HEAD_CHECK(struct cfg_http);

const struct cfg_kind source_http_conf = {
	.name = "http",
	.doc = "A JSON document polled over HTTP(S) on a fixed grid, read as points like a "
	       "[json] file; NAME is the source's name, unique among all sources",
	CFG_NAMED(struct cfg_http, http, nhttp),
	.keys = http_keys,
	.check = http_check,
	.example = "powmr",
	.names = "source",
};

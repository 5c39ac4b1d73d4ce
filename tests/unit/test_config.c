/* Configuration parser: values, defaults, and the exact FILE:LINE of every
 * kind of error. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "check.h"
#include "config.h"
#include "config_table.h"

#define MS  1000000LL
#define SEC 1000000000LL

/* Parse `text` as "t.conf"; *out gets everything written to errs. */
static int load(const char *text, struct config *cfg, char **out)
{
	size_t len;
	FILE *f = open_memstream(out, &len);
	int rc;

	if (!f) {
		perror("open_memstream");
		exit(1);
	}
	rc = cfg_load_mem("t.conf", text, strlen(text), cfg, f);
	fclose(f);
	return rc;
}

static int count_lines(const char *s)
{
	int n = 0;

	for (; *s; s++)
		n += *s == '\n';
	return n;
}

/* Does `out` have a line starting with `prefix` that contains `word`? */
static int has_error(const char *out, const char *prefix, const char *word)
{
	const char *l = out;

	while (l && *l) {
		const char *nl = strchr(l, '\n');
		size_t n = nl ? (size_t)(nl - l) : strlen(l);

		if (!strncmp(l, prefix, strlen(prefix)) && memmem(l, n, word, strlen(word)))
			return 1;
		l = nl ? nl + 1 : NULL;
	}
	return 0;
}

static const char good[] = "; every key\n"
			   "[daemon]\n"
			   "state_dir = /tmp/powerd-state\n"
			   "listen = 0.0.0.0:9999\n"
			   "socket = /tmp/p.sock\n"
			   "persist_interval = 30s\n"
			   "edge_ring = 65536\n"
			   "log_level = debug\n"
			   "\n"
			   "[pulse.house]  ; inline comment after a header\n"
			   "chip = gpiochip1\n"
			   "line = PULSE0 ; trailing comment\n"
			   "edge = rising\n"
			   "bias = pull-up\n"
			   "impulses_per_kwh = 1000\n"
			   "min_pulse_ms = 7\n"
			   "timeout = 2min\n"
			   "sample_interval = 500ms\n"
			   "\n"
			   "# a second meter, replayed\n"
			   "[pulse.demo-2_x]\n"
			   "replay = /tmp/trace;1.txt\n"
			   "speed = 0\n"
			   "loop = no\n"
			   "impulses_per_kwh = 10000\n"
			   "min_pulse = 1.5ms\n"
			   "bias = pull-down\n";

static void test_good(void)
{
	struct config c;
	char *out = NULL;
	const struct cfg_pulse *h, *d;

	CHECK_EQ_INT(load(good, &c, &out), 0);
	CHECK(out && !*out);
	CHECK(!strcmp(c.path, "t.conf"));
	CHECK(!strcmp(c.daemon.state_dir, "/tmp/powerd-state"));
	CHECK(!strcmp(c.daemon.listen, "0.0.0.0:9999"));
	CHECK(!strcmp(c.daemon.socket, "/tmp/p.sock"));
	CHECK_EQ_INT(c.daemon.persist_interval_ns, 30 * SEC);
	CHECK_EQ_INT(c.daemon.edge_ring, 65536);
	CHECK_EQ_INT(c.daemon.log_level, LOG_DEBUG);
	CHECK_EQ_INT(c.npulses, 2);
	if (c.npulses == 2) {
		h = &c.pulses[0];
		d = &c.pulses[1];
		CHECK(!strcmp(h->name, "house"));
		CHECK_EQ_INT(h->line_no, 10);
		CHECK(!strcmp(h->chip, "gpiochip1"));
		CHECK(!strcmp(h->line, "PULSE0"));
		CHECK_EQ_INT(h->edge, CFG_EDGE_RISING);
		CHECK_EQ_INT(h->bias, CFG_BIAS_PULL_UP);
		CHECK_EQ_INT(h->impulses_per_kwh, 1000);
		CHECK_EQ_INT(h->min_pulse_ns, 7 * MS);
		CHECK_EQ_INT(h->timeout_ns, 120 * SEC);
		CHECK_EQ_INT(h->sample_interval_ns, 500 * MS);
		CHECK(!strcmp(h->replay, ""));

		CHECK(!strcmp(d->name, "demo-2_x"));
		CHECK_EQ_INT(d->line_no, 21);
		/* ';' without a blank before it is part of the value */
		CHECK(!strcmp(d->replay, "/tmp/trace;1.txt"));
		CHECK_NEAR(d->speed, 0, 0);
		CHECK(!d->loop);
		CHECK_EQ_INT(d->impulses_per_kwh, 10000);
		CHECK_EQ_INT(d->min_pulse_ns, 1500000);
		CHECK_EQ_INT(d->bias, CFG_BIAS_PULL_DOWN);
		CHECK_EQ_INT(d->edge, CFG_EDGE_FALLING);
		CHECK(!strcmp(d->chip, "") && !strcmp(d->line, ""));
	}
	cfg_free(&c);
	free(out);
}

static void test_defaults(void)
{
	struct config c;
	char *out = NULL;

	CHECK_EQ_INT(load("", &c, &out), 0);
	CHECK(!strcmp(c.daemon.state_dir, "/var/lib/powerd"));
	CHECK(!strcmp(c.daemon.listen, "127.0.0.1:9480"));
	CHECK(!strcmp(c.daemon.socket, "/run/powerd/powerd.sock"));
	CHECK_EQ_INT(c.daemon.persist_interval_ns, 60 * SEC);
	CHECK_EQ_INT(c.daemon.edge_ring, 4096);
	CHECK_EQ_INT(c.daemon.log_level, LOG_INFO);
	CHECK_EQ_INT(c.npulses, 0);
	cfg_free(&c);
	free(out);

	out = NULL;
	CHECK_EQ_INT(load("[pulse.a]\nchip=gpiochip0\nline=17\nimpulses_per_kwh=1\n", &c, &out), 0);
	CHECK_EQ_INT(c.npulses, 1);
	if (c.npulses == 1) {
		const struct cfg_pulse *m = &c.pulses[0];

		CHECK(!strcmp(m->line, "17"));
		CHECK_EQ_INT(m->edge, CFG_EDGE_FALLING);
		CHECK_EQ_INT(m->bias, CFG_BIAS_AS_IS);
		CHECK_EQ_INT(m->min_pulse_ns, 5 * MS);
		CHECK_EQ_INT(m->timeout_ns, 300 * SEC);
		CHECK_EQ_INT(m->sample_interval_ns, 10 * SEC);
		CHECK_NEAR(m->speed, 1.0, 0);
		CHECK(!m->loop);
		CHECK(!strcmp(m->replay, ""));
	}
	cfg_free(&c);
	free(out);
}

/* Syntax the reader must get right: CRLF, a BOM, indented keys (no inih
 * line continuation), "off", and many meters (the array grows). */
static void test_syntax(void)
{
	struct config c;
	char *out = NULL, big[8192];
	size_t n = 0;
	int i;

	CHECK_EQ_INT(load("\xEF\xBB\xBF[daemon]\r\n  listen = off\r\n\tedge_ring = 16\r\n"
			  "\tlog_level = error\n",
			  &c, &out),
		     0);
	CHECK(!strcmp(c.daemon.listen, ""));
	CHECK_EQ_INT(c.daemon.edge_ring, 16);
	CHECK_EQ_INT(c.daemon.log_level, LOG_ERR);
	cfg_free(&c);
	free(out);

	for (i = 0; i < 50; i++)
		n += (size_t)snprintf(big + n, sizeof(big) - n,
				      "[pulse.m%d]\nreplay = t%d\nimpulses_per_kwh = %d\n", i, i,
				      i + 1);
	out = NULL;
	CHECK_EQ_INT(load(big, &c, &out), 0);
	CHECK_EQ_INT(c.npulses, 50);
	if (c.npulses == 50) {
		CHECK(!strcmp(c.pulses[49].name, "m49"));
		CHECK(!strcmp(c.pulses[49].replay, "t49"));
		CHECK_EQ_INT(c.pulses[49].impulses_per_kwh, 50);
		CHECK_EQ_INT(c.pulses[49].line_no, 148);
	}
	cfg_free(&c);
	free(out);

	/* A file without a final newline, and an empty `listen` */
	out = NULL;
	CHECK_EQ_INT(load("[daemon]\nlisten =", &c, &out), 0);
	CHECK(!strcmp(c.daemon.listen, ""));
	cfg_free(&c);
	free(out);
}

struct bad {
	const char *text;
	const char *prefix; /* exact "NAME:LINE: " */
	const char *word;
};

#define PULSE	 "[pulse.house]\nchip = gpiochip0\nline = 3\nimpulses_per_kwh = 1000\n"
#define FILESINK "[sink.f]\ntype = file\npath = /tmp/x.lp\n"
#define INFLUX	 "[sink.i]\ntype = influxdb\nurl = http://127.0.0.1:8086\ndatabase = d\n"
#define MQTT	 "[sink.m]\ntype = mqtt\n"
#define JSON	 "[json.in]\npath = /tmp\n"
#define MQTTIN	 "[mqtt.m]\n"
#define PULSE_M	 "[pulse.m]\nchip = gpiochip0\nline = 17\nimpulses_per_kwh = 1000\n"
#define HTTP_P	 "[http.p]\nurl = "
#define EG4	 "[eg4.d]\nhost = 192.168.1.60\n"
#define FLAT	 JSON "format = flat\n"
#define CW	 "[sink.c]\ntype = cloudwatch\nnamespace = n\n"
#define NAME32	 "abcdefghijklmnopqrstuvwxyz012345"

static const struct bad bads[] = {
	{"[daemon]\nfoo = 1\n", "t.conf:2: ", "unknown key 'foo' in [daemon]"},
	{PULSE "colour = red\n", "t.conf:5: ", "unknown key 'colour' in [pulse.house]"},
	{"[deamon]\nlisten = off\n", "t.conf:1: ", "unknown section [deamon]"},
	{"\n[sink.x]\n", "t.conf:2: ", "missing required key 'type'"},
	{"\n[source.x]\n", "t.conf:2: ", "unknown section [source.x]"},
	{"[daemon.x]\n", "t.conf:1: ", "bad section name"},
	{"[pulse]\n", "t.conf:1: ", "bad section name"},
	{"[pulse.a b]\n", "t.conf:1: ", "bad section name"},
	{"[pulse.]\n", "t.conf:1: ", "bad section name"},
	{"[pulse.a.b]\n", "t.conf:1: ", "bad section name"},
	{"[pulse.aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa]\n",
	 "t.conf:1: ", "bad section name"},
	{"[pulse.house]\nchip=c\nline=l\nimpulses_per_kwh = 12abc\n", "t.conf:4: ", "bad number"},
	{"[pulse.house]\nchip=c\nline=l\nimpulses_per_kwh = -1\n", "t.conf:4: ", "negative"},
	{"[pulse.house]\nchip=c\nline=l\nimpulses_per_kwh =\n", "t.conf:4: ", "bad number"},
	{"[pulse.house]\nchip=c\nline=l\nimpulses_per_kwh = 0\n", "t.conf:4: ", "1..1000000"},
	{"[pulse.house]\nchip=c\nline=l\nimpulses_per_kwh = 1000001\n", "t.conf:4: ", "1..1000000"},
	{"[pulse.house]\nchip=c\nline=l\nimpulses_per_kwh = 99999999999999999999999\n",
	 "t.conf:4: ", "out of range"},
	{PULSE "min_pulse_ms = 10001\n", "t.conf:5: ", "0..10000"},
	{PULSE "min_pulse_ms = 1.5\n", "t.conf:5: ", "bad number"},
	{PULSE "min_pulse = 11s\n", "t.conf:5: ", "0s..10s"},
	{PULSE "timeout = 5m\n", "t.conf:5: ", "unknown unit"},
	{PULSE "timeout = 5 sec\n", "t.conf:5: ", "unknown unit"},
	{PULSE "timeout = 300\n", "t.conf:5: ", "missing unit"},
	{PULSE "timeout = 0s\n", "t.conf:5: ", "greater than 0"},
	{PULSE "sample_interval = 99ms\n", "t.conf:5: ", "at least 100ms"},
	{PULSE "edge = up\n", "t.conf:5: ", "rising, falling"},
	{PULSE "bias = pullup\n", "t.conf:5: ", "pull-up"},
	{"[daemon]\npersist_interval = 999ms\n", "t.conf:2: ", "at least 1s"},
	{"[daemon]\nedge_ring = 1000\n", "t.conf:2: ", "power of two"},
	{"[daemon]\nedge_ring = 8\n", "t.conf:2: ", "16..1048576"},
	{"[daemon]\nedge_ring = 2097152\n", "t.conf:2: ", "16..1048576"},
	{"[daemon]\nlog_level = verbose\n", "t.conf:2: ", "error, warning, info, debug"},
	{"[daemon]\nlisten = 9480\n", "t.conf:2: ", "IPV4:PORT"},
	/* One parser with the HTTP server: a name that passed here made the
	 * daemon exit at start. */
	{"[daemon]\nlisten = pi-4.local:9480\n", "t.conf:2: ", "not resolved"},
	{"[daemon]\nlisten = 127.0.0.1:0\n", "t.conf:2: ", "port"},
	{"[daemon]\nlisten = 127.0.0.1:65536\n", "t.conf:2: ", "port"},
	{"[daemon]\nlisten = 127.0.0.1:80x\n", "t.conf:2: ", "port"},
	{"[daemon]\nlisten = ::1:9480\n", "t.conf:2: ", "brackets"},
	{"[daemon]\nlisten = [::g]:9480\n", "t.conf:2: ", "IPv6"},
	{"[daemon]\nlisten = 300.1.2.3:9480\n", "t.conf:2: ", "bad IPv4"},
	{"[daemon]\nlisten = :9480\n", "t.conf:2: ", "missing host"},
	{"[daemon]\nstate_dir =\n", "t.conf:2: ", "empty"},
	{"[pulse.house]\nline = 1\nimpulses_per_kwh = 1\nchip = "
	 "1234567890123456789012345678901234567890123456789012345678901234\n",
	 "t.conf:4: ", "at most 63"},
	{"[pulse.r]\nreplay = x\nimpulses_per_kwh = 1\nloop = maybe\n",
	 "t.conf:4: ", "bad boolean"},
	{"[pulse.house]\nline = 3\nimpulses_per_kwh = 1000\n",
	 "t.conf:1: ", "[pulse.house]: missing required key 'chip' (or set 'replay')"},
	{"[pulse.house]\nchip = c\nimpulses_per_kwh = 1000\n",
	 "t.conf:1: ", "missing required key 'line'"},
	{"\n[pulse.house]\nchip = c\nline = 1\n",
	 "t.conf:2: ", "missing required key 'impulses_per_kwh'"},
	{PULSE "chip = gpiochip1\n",
	 "t.conf:5: ", "duplicate key 'chip' in [pulse.house] (first at line 2)"},
	{PULSE "min_pulse_ms = 3\nmin_pulse = 3ms\n", "t.conf:6: ", "both set"},
	{"[daemon]\n[daemon]\n", "t.conf:2: ", "duplicate section [daemon] (first at line 1)"},
	{PULSE PULSE, "t.conf:5: ", "duplicate section [pulse.house]"},
	{"[pulse.house]\nchip = c\nline = 1\nreplay = x.trace\nimpulses_per_kwh = 1\n",
	 "t.conf:4: ", "'replay' cannot be combined with 'chip' and 'line'"},
	{"[pulse.house]\nreplay = x.trace\nline = 1\nimpulses_per_kwh = 1\n",
	 "t.conf:2: ", "'replay' cannot be combined with 'line'"},
	{PULSE "speed = 2\n", "t.conf:5: ", "'speed' needs 'replay'"},
	{PULSE "loop = yes\n", "t.conf:5: ", "'loop' needs 'replay'"},
	{"[pulse.r]\nreplay = x\nimpulses_per_kwh = 1\nspeed = -1\n", "t.conf:4: ", "negative"},
	{"[pulse.r]\nreplay = x\nimpulses_per_kwh = 1\nspeed = 2\n", "t.conf:4: ", "must be 0"},
	{"[pulse.r]\nreplay = x\nimpulses_per_kwh = 1\nspeed = 0\nloop = yes\n",
	 "t.conf:5: ", "needs 'speed = 1'"},
	{"[pulse.r]\nreplay = x\nimpulses_per_kwh = 1\nspeed = inf\n", "t.conf:4: ", "bad number"},
	{"[pulse.r]\nreplay = x\nimpulses_per_kwh = 1\nspeed = 0x10\n", "t.conf:4: ", "bad number"},
	{"[daemon]\nlisten 127.0.0.1:80\n", "t.conf:2: ", "syntax error"},
	{"[daemon]\n  continued text\n", "t.conf:2: ", "syntax error"},
	{"[daemon]\n= 1\n", "t.conf:2: ", "missing key"},
	{"[daemon]\nlog level = info\n", "t.conf:2: ", "bad key name"},
	{"[daemon]\nlisten: 127.0.0.1:80\n", "t.conf:2: ", "syntax error"},
	{"[daemon\n", "t.conf:1: ", "missing ']'"},
	{"[daemon] x\n", "t.conf:1: ", "text after ']'"},
	{"listen = off\n", "t.conf:1: ", "outside of any section"},
	{"[daemon]\nlisten = off\0x\n", "t.conf:2: ", "NUL"},
	/* sinks: the keys of the section's type, and no other type's */
	{INFLUX "path = /tmp/x.lp\n", "t.conf:5: ",
	 "'path' does not apply to type = influxdb in [sink.i]: it is a key of type = file"},
	{"[sink.f]\nusername = u\ntype = file\npath = /tmp/x.lp\n", "t.conf:2: ",
	 "'username' does not apply to type = file in [sink.f]: it is a key of types influxdb, "
	 "mqtt"},
	{FILESINK "ca_file = /etc/ssl/x.pem\n", "t.conf:4: ", "types influxdb, mqtt"},
	{FILESINK "colour = red\n", "t.conf:4: ", "unknown key 'colour' in [sink.f]"},
	/* a bad type is one error, not also those of some other type */
	{"[sink.f]\ntype = kafka\npath = /tmp/x.lp\n", "t.conf:2: ",
	 "bad value 'kafka' for 'type' in [sink.f]: expected one of: influxdb, file, mqtt, "
	 "cloudwatch"},
	{FILESINK "type = mqtt\n",
	 "t.conf:4: ", "duplicate key 'type' in [sink.f] (first at line 2)"},
	{"\n[sink.i]\ntype = influxdb\ndatabase = d\n",
	 "t.conf:2: ", "[sink.i]: missing required key 'url'"},
	{"[sink.f]\ntype = file\n", "t.conf:1: ", "[sink.f]: missing required key 'path'"},
	{"[sink.c]\ntype = cloudwatch\n", "t.conf:1: ", "missing required key 'namespace'"},
	{"[sink.i]\ntype = influxdb\nurl = ftp://x\ndatabase = d\n",
	 "t.conf:3: ", "'url' must start with http:// or https://"},
	{INFLUX "bucket = b\norg = o\n", "t.conf:5: ", "not both"},
	{"[sink.i]\ntype = influxdb\nurl = http://x\n",
	 "t.conf:1: ", "missing 'database' (InfluxDB 1.x) or 'bucket' (2.x)"},
	{"[sink.i]\ntype = influxdb\nurl = http://x\nbucket = b\n",
	 "t.conf:1: ", "missing required key 'org' (InfluxDB 2.x)"},
	{MQTT "pico_host = pi\n", "t.conf:3: ", "'pico_host' needs 'format = pico'"},
	{MQTT "format = xml\n", "t.conf:3: ", "expected one of: json, pico"},
	{MQTT "port = 0\n", "t.conf:3: ", "1..65535"},
	{MQTT "port = 65536\n", "t.conf:3: ", "1..65535"},
	{MQTT "tls = maybe\n", "t.conf:3: ", "bad boolean"},
	{FILESINK "retry_base = 10min\n", "t.conf:4: ", "'retry_base' is larger than 'retry_max'"},
	{FILESINK "retry_max = 25h\n", "t.conf:4: ", "10ms..24h"},
	{FILESINK "flush_interval = 5ms\n", "t.conf:4: ", "10ms..1h"},
	{FILESINK "batch_size = 0\n", "t.conf:4: ", "1..1000000"},
	{FILESINK "spool_fsync = sometimes\n", "t.conf:4: ", "batch, interval, never"},
	{FILESINK "spool_max = 64000\n", "t.conf:4: ", "must be 65536..9223372036854775807 bytes"},
	{FILESINK "spool_max = 1e3MB\n", "t.conf:4: ", "bad size '1e3MB'"},
	{FILESINK "spool_max = -1\n", "t.conf:4: ", "bad size"},
	{FILESINK "spool_max = 0x100000\n", "t.conf:4: ", "bad size"},
	{FILESINK "spool_max = 1.MB\n", "t.conf:4: ", "bad size"},
	{FILESINK "memory_max = 4097MiB\n", "t.conf:4: ", "must be 65536..4294967296 bytes"},
	{FILESINK "memory_max = 8 parsecs\n", "t.conf:4: ", "expected a size"},
	{FILESINK "change_detection = sometimes\n", "t.conf:4: ", "bad boolean"},
	{FILESINK "heartbeat = 500ms\n", "t.conf:4: ", "at least 1s"},
	{"[sink.c]\ntype = cloudwatch\nnamespace = n\nmax_age = 0s\n", "t.conf:4: ", "at least 1s"},
	{"[sink.x!]\ntype = file\npath = /tmp/x\n", "t.conf:1: ", "bad section name"},
	{"[sink]\ntype = file\n", "t.conf:1: ", "expected [sink.NAME]"},
	{FILESINK FILESINK, "t.conf:4: ", "duplicate section [sink.f] (first at line 1)"},
	/* JSON sources */
	{"[json.in]\n", "t.conf:1: ", "[json.in]: missing required key 'path'"},
	{JSON "pattern = a/*.json\n", "t.conf:3: ", "cannot contain '/'"},
	{JSON "format = csv\n", "t.conf:3: ", "expected one of: points, flat"},
	{JSON "after = rename\n", "t.conf:3: ", "expected one of: keep, delete, move"},
	{JSON "time_format = unix_s\n",
	 "t.conf:3: ", "expected one of: auto, rfc3339, unix, unix_ms, unix_us, unix_ns"},
	{JSON "max_size = 1000\n", "t.conf:3: ", "must be 1024..1073741824 bytes"},
	{JSON "max_size = 2GiB\n", "t.conf:3: ", "must be 1024..1073741824 bytes"},
	{JSON "measurement = m\n",
	 "t.conf:3: ", "'measurement' needs 'format = flat' in [json.in]"},
	{FLAT "measurement = #m\n", "t.conf:4: ", "cannot start with '#'"},
	{FLAT "measurement = " NAME32 "\n", "t.conf:4: ", "too long (at most 31 characters)"},
	{"[json." NAME32 "]\npath = /tmp\nformat = flat\n", "t.conf:1: ",
	 "NAME is too long to be the measurement (at most 31 characters): set 'measurement'"},
	{FLAT "time_format = unix\n", "t.conf:4: ", "'time_format' needs 'time_key'"},
	{JSON "replay = /tmp/x\n", "t.conf:3: ", "unknown key 'replay' in [json.in]"},
	{"[json]\npath = /tmp\n", "t.conf:1: ", "expected [json.NAME]"},
	{"[mqtt.m]\n", "t.conf:1: ", "[mqtt.m]: missing required key 'topics'"},
	{MQTTIN "topics = a/#/b\n", "t.conf:2: ", "'#' must be the whole last level"},
	{MQTTIN "topics = a/b+\n", "t.conf:2: ", "'+' must be a whole level"},
	{MQTTIN "topics = a, ,b\n", "t.conf:2: ", "an empty topic"},
	{MQTTIN "topics = a\ntopics = b/#c\n", "t.conf:3: ", "'#' must be"},
	{MQTTIN "topics = a\nformat = flat\nname_key = m\n",
	 "t.conf:4: ", "'name_key' needs 'format = telegraf' in [mqtt.m]"},
	{MQTTIN "topics = a\nformat = points\ntag_keys = host\n",
	 "t.conf:4: ", "'tag_keys' needs 'format = telegraf' in [mqtt.m]"},
	{MQTTIN "topics = a\nformat = points\nmeasurement = x\n",
	 "t.conf:4: ", "'measurement' needs 'format = flat' or 'format = telegraf'"},
	{MQTTIN "topics = a\ntag_keys = host,,x\n", "t.conf:3: ", "an empty name"},
	{MQTTIN "topics = a\nqos = 2\n", "t.conf:3: ", "qos"},
	{MQTTIN "topics = a\n" PULSE_M,
	 "t.conf:3: ", "[pulse.m]: the name 'm' is taken by [mqtt.m] (line 1)"},
	/* HTTP sources */
	{"[http.p]\n", "t.conf:1: ", "[http.p]: missing required key 'url'"},
	{HTTP_P "ftp://x/y\n",
	 "t.conf:2: ", "'url' must start with http:// or https:// in [http.p]"},
	{HTTP_P "file:///etc/passwd\n", "t.conf:2: ", "must start with http:// or https://"},
	{HTTP_P "http://x/\ninterval = 50ms\n", "t.conf:3: ", "'interval'"},
	{HTTP_P "http://x/\ntimeout = 2s\nconnect_timeout = 3s\n",
	 "t.conf:4: ", "'connect_timeout' cannot be longer than 'timeout' in [http.p]"},
	{HTTP_P "http://x/\npassword = s\n", "t.conf:3: ", "'password' needs 'username'"},
	{HTTP_P "http://x/\nmeasurement = m\n",
	 "t.conf:3: ", "'measurement' needs 'format = flat' in [http.p]"},
	{PULSE "[http.house]\nurl = http://x/\n",
	 "t.conf:5: ", "[http.house]: the name 'house' is taken by [pulse.house] (line 1)"},
	/* EG4 dongles */
	{"[eg4.d]\nport = 8000\n", "t.conf:1: ", "[eg4.d]: missing required key 'host'"},
	{EG4 "datalog = BA123\n", "t.conf:3: ", "must be 10 characters, not 5"},
	{EG4 "inverter = 2043 22401\n", "t.conf:3: ", "printable characters without blanks"},
	{EG4 "poll = 500ms\n", "t.conf:3: ", "'poll'"},
	{EG4 "poll = 00\n", "t.conf:3: ", "'poll'"},
	{EG4 "watchdog = 0.5s\n", "t.conf:3: ", "'watchdog'"},
	{EG4 "reconnect_min = 30s\nreconnect_max = 10s\n",
	 "t.conf:3: ", "'reconnect_min' cannot be longer than 'reconnect_max' in [eg4.d]"},
	{EG4 "map = eg4 input\n", "t.conf:3: ", "'eg4 input' is neither a map's name"},
	{EG4 "map = no-such-map\n", "t.conf:3: ", "no-such-map.map: No such file"},
	{PULSE "[eg4.house]\nhost = x\n",
	 "t.conf:5: ", "[eg4.house]: the name 'house' is taken by [pulse.house] (line 1)"},
	/* source names are unique across kinds; a sink may share one */
	{PULSE "[json.house]\npath = /tmp\n", "t.conf:5: ",
	 "[json.house]: the name 'house' is taken by [pulse.house] (line 1): source names are "
	 "unique across kinds"},
	{"[json.house]\npath = /tmp\n" PULSE,
	 "t.conf:3: ", "[pulse.house]: the name 'house' is taken by [json.house] (line 1)"},
	/* CloudWatch's dimensions and metrics, as cw_select.c reads them */
	{CW "dimensions = meter,,phase\n", "t.conf:4: ",
	 "bad value 'meter,,phase' for 'dimensions' in [sink.c]: want all, none or tag names at "
	 "',phase'"},
	{CW "dimensions = meter, meter\n", "t.conf:4: ", "tag 'meter' named twice"},
	{CW "dimensions = met er\n", "t.conf:4: ", "want ',' between tag names at 'er'"},
	{CW "dimensions = \"all\"\n", "t.conf:4: ", "want all, none or tag names"},
	{CW "metrics = pulse\n", "t.conf:4: ",
	 "bad value 'pulse' for 'metrics' in [sink.c]: want MEASUREMENT.FIELD [-> NAME] at "
	 "'pulse'"},
	{CW "metrics = .power_w\n", "t.conf:4: ", "want MEASUREMENT.FIELD [-> NAME]"},
	{CW "metrics = pulse.\n", "t.conf:4: ", "want MEASUREMENT.FIELD [-> NAME]"},
	{CW "metrics = pulse.pow\xc3\xa9r\n", "t.conf:4: ", "want ',' between metrics"},
	{CW "metrics = pulse.power_w ->\n", "t.conf:4: ", "want a metric name"},
	{CW "metrics = pulse.power_w -> a -> b\n",
	 "t.conf:4: ", "want ',' between metrics at '-> b'"},
	{CW "metrics = pulse.power_w, pulse.power_w -> p\n",
	 "t.conf:4: ", "names a metric or a field twice"},
	/* A list continued on the next line is checked whole. */
	{CW "metrics = pulse.power_w -> p\nmetrics = pulse.energy_wh -> p\n",
	 "t.conf:5: ", "names a metric or a field twice"},
	{CW "dimensions = meter\ndimensions = meter\n", "t.conf:5: ", "tag 'meter' named twice"},
	{CW "metrics = pulse.power_w -> x, pulse.energy_wh -> x\n",
	 "t.conf:4: ", "names a metric or a field twice"},
	{CW "metrics = pulse.power_w, a.b -> pulse_power_w\n",
	 "t.conf:4: ", "names a metric or a field twice"},
	{CW "metrics = a_b.c, a.b_c\n", "t.conf:4: ", "names a metric or a field twice"},
	{MQTT "dimensions = all\n", "t.conf:3: ",
	 "'dimensions' does not apply to type = mqtt in [sink.m]: it is a key of type = "
	 "cloudwatch"},
};

static void test_bad(void)
{
	size_t i;

	for (i = 0; i < sizeof(bads) / sizeof(bads[0]); i++) {
		const struct bad *b = &bads[i];
		struct config c;
		char *out = NULL;
		size_t len = strlen(b->text);
		FILE *f;
		int rc;

		/* the NUL case: its length is up to the last newline */
		if (strstr(b->word, "NUL"))
			len = sizeof("[daemon]\nlisten = off\0x\n") - 1;
		f = open_memstream(&out, &(size_t){0});
		rc = cfg_load_mem("t.conf", b->text, len, &c, f);
		fclose(f);
		CHECK_EQ_INT(rc, -EINVAL);
		if (!has_error(out, b->prefix, b->word) || count_lines(out) != 1)
			fprintf(stderr, "case %zu: want one line '%s...%s', got:\n%s", i, b->prefix,
				b->word, out);
		CHECK(has_error(out, b->prefix, b->word));
		CHECK_EQ_INT(count_lines(out), 1);
		/* failure leaves the configuration empty */
		CHECK(c.pulses == NULL && c.npulses == 0 && !c.daemon.listen[0]);
		cfg_free(&c);
		free(out);
	}
}

/* Lines are fine up to 198 characters; a section name up to 63. */
static void test_limits(void)
{
	char text[512], name[70];
	struct config c;
	char *out = NULL;

	memset(name, 'n', 63);
	name[63] = '\0';
	snprintf(text, sizeof(text), "[pulse.%s]\nreplay = x\nimpulses_per_kwh = 1\n", name);
	CHECK_EQ_INT(load(text, &c, &out), 0);
	CHECK(c.npulses == 1 && strlen(c.pulses[0].name) == 63);
	cfg_free(&c);
	free(out);

	/* "state_dir = /" is 13 characters */
	snprintf(text, sizeof(text), "[daemon]\nstate_dir = /%0185d\n", 0);
	out = NULL;
	CHECK_EQ_INT(load(text, &c, &out), 0);
	CHECK_EQ_INT(strlen(c.daemon.state_dir), 186);
	cfg_free(&c);
	free(out);

	snprintf(text, sizeof(text), "[daemon]\nstate_dir = /%0186d\n", 0);
	out = NULL;
	CHECK_EQ_INT(load(text, &c, &out), -EINVAL);
	CHECK(has_error(out, "t.conf:2: ", "line too long (199 characters"));
	cfg_free(&c);
	free(out);

	/* 107 bytes fit sun_path with its NUL */
	snprintf(text, sizeof(text), "[daemon]\nsocket = /%0106d\n", 0);
	out = NULL;
	CHECK_EQ_INT(load(text, &c, &out), 0);
	CHECK_EQ_INT(strlen(c.daemon.socket), 107);
	cfg_free(&c);
	free(out);

	snprintf(text, sizeof(text), "[daemon]\nsocket = /%0107d\n", 0);
	out = NULL;
	CHECK_EQ_INT(load(text, &c, &out), -EINVAL);
	CHECK(has_error(out, "t.conf:2: ", "too long (at most 107"));
	cfg_free(&c);
	free(out);
}

static void test_listen(void)
{
	static const char *const ok[] = {"127.0.0.1:9480", "[::1]:9480", "[::]:1",
					 "localhost:65535", "0.0.0.0:80"};
	char text[256];
	struct config c;
	char *out;
	size_t i;

	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		snprintf(text, sizeof(text), "[daemon]\nlisten = %s\n", ok[i]);
		out = NULL;
		CHECK_EQ_INT(load(text, &c, &out), 0);
		CHECK(!strcmp(c.daemon.listen, ok[i]));
		cfg_free(&c);
		free(out);
	}
}

/* Errors do not stop the parse: all three are listed, in order. */
static void test_all_errors(void)
{
	static const char text[] = "[daemon]\n"
				   "bogus = 1\n"
				   "edge_ring = 100\n"
				   "[pulse.house]\n"
				   "chip = c\n"
				   "line = 1\n"
				   "impulses_per_kwh = 1000\n"
				   "timeout = 5x\n";
	struct config c;
	char *out = NULL;

	CHECK_EQ_INT(load(text, &c, &out), -EINVAL);
	CHECK_EQ_INT(count_lines(out), 3);
	CHECK(has_error(out, "t.conf:2: ", "unknown key 'bogus'"));
	CHECK(has_error(out, "t.conf:3: ", "power of two"));
	CHECK(has_error(out, "t.conf:8: ", "bad duration '5x'"));
	CHECK(strstr(out, "t.conf:2:") < strstr(out, "t.conf:3:"));
	CHECK(strstr(out, "t.conf:3:") < strstr(out, "t.conf:8:"));
	cfg_free(&c);
	free(out);

	/* keys of a duplicate or misnamed section are still checked */
	out = NULL;
	CHECK_EQ_INT(load(PULSE "[pulse.house]\nfoo = 1\n[pulse.x!]\nedge = up\n", &c, &out),
		     -EINVAL);
	CHECK_EQ_INT(count_lines(out), 4);
	CHECK(has_error(out, "t.conf:6: ", "unknown key 'foo'"));
	CHECK(has_error(out, "t.conf:8: ", "bad value 'up'"));
	cfg_free(&c);
	free(out);
}

static void test_duration(void)
{
	static const struct {
		const char *s;
		int rc;
		int64_t ns;
	} t[] = {
		{"1.5s", 0, 1500000000LL},
		{"250ms", 0, 250000000LL},
		{"5min", 0, 300000000000LL},
		{"2h", 0, 7200000000000LL},
		{"5 s", 0, 5000000000LL},
		{"5\tms", 0, 5000000LL},
		{"0s", 0, 0},
		{"0.001ms", 0, 1000},
		{"0.000001ms", 0, 1},
		{"0.0000004ms", 0, 0}, /* below 1 ns: rounded */
		{"0.0000005ms", 0, 1},
		{"1.123456789s", 0, 1123456789LL},
		{"0.5h", 0, 1800000000000LL},
		{"2562047h", 0, 2562047LL * 3600 * 1000000000LL},
		{"2562048h", -EINVAL, 0}, /* overflows int64 ns */
		{"99999999999999999999s", -EINVAL, 0},
		{"1.1234567891s", -EINVAL, 0}, /* more than 9 decimals */
		{"10", -EINVAL, 0},
		{"-1s", -EINVAL, 0},
		{"1e3s", -EINVAL, 0}, /* no exponents */
		{"5m", -EINVAL, 0},
		{"5sec", -EINVAL, 0},
		{"5S", -EINVAL, 0},
		{"5s ", -EINVAL, 0},
		{" 5s", -EINVAL, 0},
		{"5s5", -EINVAL, 0},
		{".5s", -EINVAL, 0},
		{"5.s", -EINVAL, 0},
		{"", -EINVAL, 0},
		{"s", -EINVAL, 0},
		{"+5s", -EINVAL, 0},
	};
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		int64_t ns = -42;
		int rc = cfg_parse_duration(t[i].s, &ns);

		if (rc != t[i].rc)
			fprintf(stderr, "duration '%s': rc %d\n", t[i].s, rc);
		CHECK_EQ_INT(rc, t[i].rc);
		CHECK_EQ_INT(ns, rc ? -42 : t[i].ns);
	}
}

static void test_bool(void)
{
	static const char *const yes[] = {"yes", "true", "on", "1", "YES", "True"};
	static const char *const no[] = {"no", "false", "off", "0", "No", "OFF"};
	static const char *const bad[] = {"", "2", "y", "yess", " yes", "nope"};
	size_t i;
	bool b;

	for (i = 0; i < 6; i++) {
		b = false;
		CHECK_EQ_INT(cfg_parse_bool(yes[i], &b), 0);
		CHECK(b);
		b = true;
		CHECK_EQ_INT(cfg_parse_bool(no[i], &b), 0);
		CHECK(!b);
		CHECK_EQ_INT(cfg_parse_bool(bad[i], &b), -EINVAL);
	}
}

static void test_file(void)
{
	char path[] = "/tmp/test_config_XXXXXX";
	struct config c;
	char *out = NULL;
	size_t len;
	FILE *f;
	int fd, rc;

	fd = mkstemp(path);
	CHECK(fd >= 0);
	if (fd < 0)
		return;
	CHECK(write(fd, good, sizeof(good) - 1) == (ssize_t)sizeof(good) - 1);
	close(fd);
	CHECK_EQ_INT(cfg_load(path, &c, stderr), 0);
	CHECK(!strcmp(c.path, path));
	CHECK_EQ_INT(c.npulses, 2);
	CHECK_EQ_INT(c.daemon.edge_ring, 65536);
	cfg_free(&c);

	/* same errors, same lines from a file */
	f = fopen(path, "w");
	fputs("[daemon]\n\n\n   bogus = 1\n", f);
	fclose(f);
	f = open_memstream(&out, &len);
	rc = cfg_load(path, &c, f);
	fclose(f);
	CHECK_EQ_INT(rc, -EINVAL);
	{
		char prefix[64];

		snprintf(prefix, sizeof(prefix), "%s:4: ", path);
		CHECK(has_error(out, prefix, "unknown key 'bogus' in [daemon]"));
	}
	free(out);
	unlink(path);

	out = NULL;
	f = open_memstream(&out, &len);
	rc = cfg_load("/nonexistent/powerd.conf", &c, f);
	fclose(f);
	CHECK_EQ_INT(rc, -ENOENT);
	CHECK(!strcmp(out, "/nonexistent/powerd.conf: cannot open: No such file or directory\n"));
	CHECK(c.pulses == NULL && c.npulses == 0);
	cfg_free(&c);
	free(out);

	/* a directory opens but cannot be read */
	out = NULL;
	f = open_memstream(&out, &len);
	rc = cfg_load("/", &c, f);
	fclose(f);
	CHECK_EQ_INT(rc, -EISDIR);
	CHECK(has_error(out, "/: ", "cannot read"));
	cfg_free(&c);
	free(out);
}

/* ------------------------------------------------ the tables */

static void test_tables(void)
{
	CHECK_EQ_INT(cfg_tables_check(stderr), 0);
}

/* Every section as loaded holds exactly its keys' defaults where they have
 * one, and nothing where they have none, except for what the text set. */
static void check_defaults(const struct config *c, const char *set)
{
	const struct cfg_kind *const *kp;
	size_t i, j;

	for (kp = cfg_kinds; *kp; kp++) {
		for (i = 0; i < cfg_count(c, *kp); i++) {
			const char *obj = cfg_section(c, *kp, i);
			const struct cfg_type *t = cfg_type_of(*kp, obj);
			const struct cfg_key *tables[2] = {(*kp)->keys, t ? t->keys : NULL}, *k;

			for (j = 0; j < 2; j++) {
				for (k = tables[j]; k && k->name; k++) {
					static char want[8192];
					char why[160], key[64];
					const struct cfg_key *o;
					bool has_def = false;

					snprintf(key, sizeof(key), " %s ", k->name);
					if (strstr(set, key))
						continue;
					/* an alias: the field has the default of either */
					for (o = tables[j]; o->name; o++)
						if (o->offset == k->offset && o->def)
							has_def = true;
					if (has_def && !k->def)
						continue;
					memset(want, 0, sizeof(want));
					if (k->def)
						CHECK_EQ_INT(k->type->parse(k, k->def, want, why,
									    sizeof(why)),
							     0);
					if (memcmp(want, obj + k->offset, k->size)) {
						fprintf(stderr, "[%s] %s: not its default\n",
							(*kp)->name, k->name);
						CHECK(0);
					}
				}
			}
		}
	}
}

static void test_sinks(void)
{
	static const char text[] =
		"[sink.i]\nurl = https://influx.example:8086/p\ndatabase = db\n"
		"retention_policy = rp\nusername = u\npassword = pw\ngzip = no\n"
		"ca_file = /etc/ca.pem\ntype = influxdb\nbatch_size = 100\n"
		"[sink.i2]\ntype = influxdb\nurl = http://x\norg = o\nbucket = b\ntoken = t\n"
		"[sink.f]\ntype = FILE\npath = /tmp/x.lp\nflush_interval = 250ms\n"
		"spool_max = 1.5GB\nspool_fsync = never\nmemory_max = 64KiB\ntimeout = 2s\n"
		"retry_base = 10ms\nretry_max = 24h\nchange_detection = yes\nheartbeat = 1h\n"
		"freshness = 1s\n"
		"[sink.m]\ntype = mqtt\nhost = broker\nport = 8883\nclient_id = me\n"
		"topic_prefix = tp\nformat = pico\npico_host = ph\ntls = yes\nha_discovery = on\n"
		"ha_prefix = hap\nha_expire_after = 90s\nha_names = soc = SOC, a.b=B\n"
		"[sink.c]\ntype = cloudwatch\nnamespace = ns\nregion = eu-west-1\n"
		"endpoint = http://127.0.0.1:1\nprofile = p\ncredentials_file = /tmp/cred\n"
		"max_age = 1h\ndimensions =  meter , phase.L1\n"
		"metrics = pulse.power_w -> house.power , pulse.energy_wh,pp1.a.b->x-y\n"
		"metrics = grid.voltage\n";
	const struct cfg_sink *k;
	struct config c;
	char *out = NULL;

	CHECK_EQ_INT(load(text, &c, &out), 0);
	CHECK(out && !*out);
	CHECK_EQ_INT(c.nsinks, 5);
	if (c.nsinks != 5) {
		cfg_free(&c);
		free(out);
		return;
	}
	k = &c.sinks[0];
	CHECK(!strcmp(k->name, "i") && k->line_no == 1 && k->type == CFG_SINK_INFLUXDB);
	CHECK(!strcmp(k->url, "https://influx.example:8086/p") && !strcmp(k->database, "db"));
	CHECK(!strcmp(k->retention_policy, "rp") && !strcmp(k->username, "u"));
	CHECK(!strcmp(k->password, "pw") && !k->gzip && !strcmp(k->ca_file, "/etc/ca.pem"));
	CHECK_EQ_INT(k->batch_size, 100);
	CHECK_EQ_INT(k->flush_interval_ns, 1 * SEC);
	k = &c.sinks[1];
	CHECK(!strcmp(k->org, "o") && !strcmp(k->bucket, "b") && !strcmp(k->token, "t"));
	CHECK(k->gzip);
	k = &c.sinks[2];
	CHECK(k->type == CFG_SINK_FILE && !strcmp(k->path, "/tmp/x.lp"));
	CHECK_EQ_INT(k->flush_interval_ns, 250 * MS);
	CHECK_EQ_INT(k->spool_max, 1500000000);
	CHECK_EQ_INT(k->spool_fsync, CFG_FSYNC_NEVER);
	CHECK_EQ_INT(k->memory_max, 65536);
	CHECK_EQ_INT(k->timeout_ns, 2 * SEC);
	CHECK_EQ_INT(k->retry_base_ns, 10 * MS);
	CHECK_EQ_INT(k->retry_max_ns, 24 * 3600 * SEC);
	CHECK(k->change_detection);
	CHECK_EQ_INT(k->heartbeat_ns, 3600 * SEC);
	CHECK_EQ_INT(k->freshness_ns, 1 * SEC);
	k = &c.sinks[3];
	CHECK(k->type == CFG_SINK_MQTT && !strcmp(k->host, "broker") && k->port == 8883);
	CHECK(!strcmp(k->client_id, "me") && !strcmp(k->topic_prefix, "tp"));
	CHECK(k->format == CFG_MQTT_PICO && !strcmp(k->pico_host, "ph") && k->tls);
	CHECK(k->ha_discovery && !strcmp(k->ha_prefix, "hap"));
	CHECK(k->ha_expire_after_ns == 90 * SEC && !strcmp(k->ha_names, "soc = SOC, a.b=B"));
	k = &c.sinks[4];
	CHECK(k->type == CFG_SINK_CLOUDWATCH && !strcmp(k->namespace_, "ns"));
	CHECK(!strcmp(k->region, "eu-west-1") && !strcmp(k->endpoint, "http://127.0.0.1:1"));
	CHECK(!strcmp(k->profile, "p") && !strcmp(k->credentials_file, "/tmp/cred"));
	CHECK_EQ_INT(k->max_age_ns, 3600 * SEC);
	/* stored as written, for the sink to parse */
	CHECK(!strcmp(k->dimensions, "meter , phase.L1"));
	CHECK(!strcmp(k->metrics, "pulse.power_w -> house.power , pulse.energy_wh,pp1.a.b->x-y, "
				  "grid.voltage"));
	cfg_free(&c);
	free(out);

	/* Minimal sections of every kind and type hold their tables' defaults. */
	out = NULL;
	CHECK_EQ_INT(load("[daemon]\n[pulse.p]\nreplay = x\nimpulses_per_kwh = 1\n"
			  "[sink.i]\ntype = influxdb\nurl = http://x\ndatabase = d\n"
			  "[sink.f]\ntype = file\npath = /p\n[sink.m]\ntype = mqtt\n"
			  "[sink.c]\ntype = cloudwatch\nnamespace = n\n[json.j]\npath = /p\n",
			  &c, &out),
		     0);
	CHECK_EQ_INT(c.njson, 1);
	CHECK_EQ_INT(c.nsinks, 4);
	check_defaults(&c, " replay impulses_per_kwh type url database path namespace ");
	/* what those defaults are, spelled out once */
	if (c.nsinks == 4) {
		k = &c.sinks[0];
		CHECK_EQ_INT(k->batch_size, 5000);
		CHECK_EQ_INT(k->flush_interval_ns, 1 * SEC);
		CHECK_EQ_INT(k->spool_max, 256000000);
		CHECK_EQ_INT(k->spool_fsync, CFG_FSYNC_BATCH);
		CHECK_EQ_INT(k->memory_max, 8 << 20);
		CHECK_EQ_INT(k->timeout_ns, 10 * SEC);
		CHECK_EQ_INT(k->retry_base_ns, 1 * SEC);
		CHECK_EQ_INT(k->retry_max_ns, 300 * SEC);
		CHECK(!k->change_detection);
		CHECK_EQ_INT(k->heartbeat_ns, 300 * SEC);
		CHECK_EQ_INT(k->freshness_ns, 120 * SEC);
		CHECK(k->gzip && !k->ca_file[0] && !k->username[0]);
		k = &c.sinks[2];
		CHECK(!strcmp(k->host, "127.0.0.1") && k->port == 0 && !k->client_id[0]);
		CHECK(!strcmp(k->topic_prefix, "powerd") && k->format == CFG_MQTT_JSON);
		CHECK(!k->tls && !k->ha_discovery && !strcmp(k->ha_prefix, "homeassistant"));
		k = &c.sinks[3];
		CHECK_EQ_INT(k->max_age_ns, 14 * 24 * 3600 * SEC);
		CHECK(!k->region[0] && !k->endpoint[0] && !k->credentials_file[0]);
		CHECK(!strcmp(k->dimensions, "all") && !k->metrics[0]);
	}
	if (c.njson == 1) {
		const struct cfg_json *j = &c.json[0];

		CHECK(!strcmp(j->name, "j") && j->line_no == 17 && !strcmp(j->path, "/p"));
		CHECK(!strcmp(j->pattern, "*.json") && j->format == CFG_JSON_POINTS);
		CHECK(j->after == CFG_JSON_KEEP && !j->time_key[0]);
		CHECK(j->time_format == CFG_JSON_TIME_AUTO && j->max_size == 16 << 20);
		CHECK(!j->measurement[0]);
	}
	cfg_free(&c);
	free(out);
	out = NULL;
	CHECK_EQ_INT(load("", &c, &out), 0);
	check_defaults(&c, "");
	cfg_free(&c);
	free(out);
}

/* [eg4.NAME]: a bare 0 turns poll, watchdog and keepalive off; the
 * serials are taken as they are. */
static void test_eg4(void)
{
	struct config c;
	char *out = NULL;

	CHECK_EQ_INT(load(EG4 "port = 8001\ndatalog = BA12345678\ninverter = 2043022401\n"
			      "poll = 0\nwatchdog = 0\nkeepalive = 0\nheartbeats = yes\n"
			      "map = share/maps/eg4-input.map\n",
			  &c, &out),
		     0);
	CHECK(out && !*out);
	CHECK_EQ_INT(c.neg4, 1);
	if (c.neg4 == 1) {
		CHECK(!strcmp(c.eg4[0].name, "d") && !strcmp(c.eg4[0].host, "192.168.1.60"));
		CHECK_EQ_INT(c.eg4[0].port, 8001);
		CHECK(!strcmp(c.eg4[0].datalog, "BA12345678"));
		CHECK(!strcmp(c.eg4[0].inverter, "2043022401"));
		CHECK(c.eg4[0].poll_ns == 0 && c.eg4[0].watchdog_ns == 0 &&
		      c.eg4[0].keepalive_ns == 0 && c.eg4[0].heartbeats);
		CHECK(c.eg4[0].timeout_ns == 10 * CFG_NS_S);
		CHECK(c.eg4[0].backoff_min_ns == CFG_NS_S && c.eg4[0].backoff_max_ns == CFG_NS_MIN);
		CHECK(!strcmp(c.eg4[0].map, "share/maps/eg4-input.map"));
	}
	cfg_free(&c);
	free(out);
}

static void test_http(void)
{
	static const char text[] =
		"[http.powmr]\nurl = http://u:pw@192.168.1.101/api/status\nformat = flat\n"
		"valid = inverter.valid_info = 1\ninterval = 250ms\n"
		"[http.b]\nurl = https://b.example/x\ninsecure = yes\nfollow_redirects = yes\n";
	struct config c;
	char *out = NULL;

	CHECK_EQ_INT(load(text, &c, &out), 0);
	CHECK(out && !*out);
	free(out);
	CHECK_EQ_INT(c.nhttp, 2);
	if (c.nhttp == 2) {
		const struct cfg_http *h = &c.http[0];

		CHECK(!strcmp(h->url, "http://u:pw@192.168.1.101/api/status"));
		CHECK(h->format == CFG_JSON_FLAT && h->interval_ns == 250 * 1000000LL);
		CHECK(h->timeout_ns == 5 * 1000000000LL && h->connect_timeout_ns == 3000000000LL);
		CHECK(h->max_size == 1u << 20 && !h->insecure && !h->follow_redirects);
		CHECK(!strcmp(h->fields.valid, "inverter.valid_info = 1"));
		h = &c.http[1];
		CHECK(h->format == CFG_JSON_POINTS && h->interval_ns == 15 * 1000000000LL);
		CHECK(h->insecure && h->follow_redirects);
	}
	cfg_free(&c);
}

static void test_json(void)
{
	static const char text[] =
		"[json.inbox]\npath = /srv/in\npattern = message_*.json\n"
		"format = flat\nafter = move\ntime_key = ts\n"
		"time_format = unix_ms\nmax_size = 1KiB\nmeasurement = status\n"
		"[json.b]\npath = /srv/b\nafter = delete\ntime_format = rfc3339\n"
		"max_size = 1GiB\n"
		"[json.c]\npath = /srv/c\nformat = flat\ntime_format = auto\n"
		"[pulse.p]\nreplay = t\nimpulses_per_kwh = 1\n"
		"[sink.inbox]\ntype = file\npath = /tmp/x\n";
	const struct cfg_json *j;
	struct config c;
	char *out = NULL;

	CHECK_EQ_INT(load(text, &c, &out), 0);
	CHECK(out && !*out);
	CHECK_EQ_INT(c.njson, 3);
	CHECK_EQ_INT(c.npulses, 1);
	CHECK_EQ_INT(c.nsinks, 1); /* a sink may have a source's name */
	if (c.njson == 3) {
		j = &c.json[0];
		CHECK(!strcmp(j->name, "inbox") && j->line_no == 1 && !strcmp(j->path, "/srv/in"));
		CHECK(!strcmp(j->pattern, "message_*.json") && j->format == CFG_JSON_FLAT);
		CHECK(j->after == CFG_JSON_MOVE && !strcmp(j->time_key, "ts"));
		CHECK(j->time_format == CFG_JSON_TIME_UNIX_MS && j->max_size == 1024);
		CHECK(!strcmp(j->measurement, "status"));
		j = &c.json[1];
		CHECK(j->after == CFG_JSON_DELETE && j->time_format == CFG_JSON_TIME_RFC3339);
		CHECK(j->max_size == 1 << 30 && j->format == CFG_JSON_POINTS);
		j = &c.json[2];
		CHECK(j->format == CFG_JSON_FLAT && j->time_format == CFG_JSON_TIME_AUTO);
	}
	cfg_free(&c);
	free(out);

	/* valid, derive and integrate: kept as written (a list across lines),
	 * and their mistakes are FILE:LINE errors with the parser's reason. */
	out = NULL;
	CHECK_EQ_INT(load("[json.j]\npath = /p\nvalid = inverter.valid_info = 1\n"
			  "derive = dc.a = dc.b * 2\nderive = dc.c = (dc.a + 1) / dc.b\n"
			  "integrate = dc.p -> e_wh\nintegrate = ac.p -> f_wh\n"
			  "integrate_max_gap = 30s\n",
			  &c, &out),
		     0);
	CHECK(out && !*out);
	if (c.njson == 1) {
		j = &c.json[0];
		CHECK(!strcmp(j->fields.valid, "inverter.valid_info = 1"));
		CHECK(!strcmp(j->fields.derive, "dc.a = dc.b * 2, dc.c = (dc.a + 1) / dc.b"));
		CHECK(!strcmp(j->fields.integrate, "dc.p -> e_wh, ac.p -> f_wh"));
		CHECK_EQ_INT(j->fields.integrate_max_gap, 30 * SEC);
	}
	cfg_free(&c);
	free(out);
	out = NULL;
	CHECK_EQ_INT(load("[json.j]\npath = /p\nvalid = inverter.valid_info 1\n"
			  "derive = dc.a = ac.b\nderive = dc.c = 1 / (2\n"
			  "integrate = dc.p -> e, dc.q -> e\nintegrate_max_gap = 0s\n",
			  &c, &out),
		     -EINVAL);
	CHECK(has_error(out, "t.conf:3: ", "expected one of = != < <= > >="));
	CHECK(has_error(out, "t.conf:4: ", "dc.a = ac.b"));
	CHECK(has_error(out, "t.conf:4: ", "a derivation uses fields of the same sample"));
	CHECK(has_error(out, "t.conf:5: ", "expected ')'"));
	CHECK(has_error(out, "t.conf:6: ", "dc.e is integrated twice"));
	CHECK(has_error(out, "t.conf:7: ", "integrate_max_gap"));
	cfg_free(&c);
	free(out);
}

/* Without a (valid) type the section is an error, but the values of keys
 * that some type takes are still checked, and only the type is reported
 * missing. */
static void test_sink_without_type(void)
{
	struct config c;
	char *out = NULL;

	CHECK_EQ_INT(load("[sink.x]\nurl = http://x\nhost = h\nport = 0\nbogus = 1\n", &c, &out),
		     -EINVAL);
	CHECK_EQ_INT(count_lines(out), 3);
	CHECK(has_error(out, "t.conf:1: ", "[sink.x]: missing required key 'type'"));
	CHECK(has_error(out, "t.conf:4: ", "bad number '0' for 'port'"));
	CHECK(has_error(out, "t.conf:5: ", "unknown key 'bogus' in [sink.x]"));
	cfg_free(&c);
	free(out);

	out = NULL;
	CHECK_EQ_INT(load("[sink.x]\ntype = nope\nport = 99999\npath = /p\n", &c, &out), -EINVAL);
	CHECK_EQ_INT(count_lines(out), 2);
	CHECK(has_error(out, "t.conf:2: ", "bad value 'nope' for 'type'"));
	CHECK(has_error(out, "t.conf:3: ", "1..65535"));
	cfg_free(&c);
	free(out);
}

/* Errors come in line order, whichever step found them: a section's keys
 * are checked when it ends, after the reader has seen the lines below. */
static void test_order(void)
{
	static const char text[] = "[pulse.house]\n"
				   "impulses_per_kwh = 0\n"
				   "  what is this\n"
				   "chip = c\n"
				   "line = 1\n"
				   "colour = red\n"
				   "[daemon\n"
				   "[sink.s]\n"
				   "path = /x\n"
				   "type = influxdb\n";
	struct config c;
	char *out = NULL;
	const char *want[] = {"t.conf:2: ", "t.conf:3: ", "t.conf:6: ", "t.conf:7: ",
			      "t.conf:8: ", "t.conf:8: ", "t.conf:9: "};
	const char *l;
	size_t i;

	CHECK_EQ_INT(load(text, &c, &out), -EINVAL);
	CHECK_EQ_INT(count_lines(out), 7);
	for (i = 0, l = out; i < sizeof(want) / sizeof(want[0]) && l && *l; i++) {
		if (strncmp(l, want[i], strlen(want[i])))
			fprintf(stderr, "line %zu: want %s..., got:\n%s", i, want[i], out);
		CHECK(!strncmp(l, want[i], strlen(want[i])));
		l = strchr(l, '\n');
		l = l ? l + 1 : NULL;
	}
	cfg_free(&c);
	free(out);
}

static void test_size(void)
{
	static const struct {
		const char *s;
		int rc;
		uint64_t v;
	} t[] = {
		{"4096", 0, 4096},
		{"4096B", 0, 4096},
		{"64KiB", 0, 65536},
		{"64 KiB", 0, 65536},
		{"1.5GB", 0, 1500000000},
		{"256MB", 0, 256000000},
		{"8MiB", 0, 8 << 20},
		{"1GiB", 0, 1 << 30},
		{"2KB", 0, 2000},
		{"0.5KiB", 0, 512},
		{"1e3", -EINVAL, 0},
		{"0x10", -EINVAL, 0},
		{"1.", -EINVAL, 0},
		{".5MB", -EINVAL, 0},
		{"-1", -EINVAL, 0},
		{"", -EINVAL, 0},
		{"1mb", -EINVAL, 0},
		{"1 TB", -EINVAL, 0},
		{"99999999999GiB", -EINVAL, 0},
		{"inf", -EINVAL, 0},
	};
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		uint64_t v = 42;
		int rc = cfg_parse_size(t[i].s, &v);

		if (rc != t[i].rc)
			fprintf(stderr, "size '%s': rc %d\n", t[i].s, rc);
		CHECK_EQ_INT(rc, t[i].rc);
		CHECK_EQ_INT(v, rc ? 42 : t[i].v);
	}
}

/* ------------------------------------------------ --defaults */

static char *defaults_text(void)
{
	char *text = NULL;
	size_t len;
	FILE *f = open_memstream(&text, &len);

	if (!f)
		exit(1);
	cfg_print_defaults(f);
	fclose(f);
	return text;
}

/* "key" of a "key = value" line (after its ';', if any), or "" */
static void key_of(const char *line, char *key, size_t len)
{
	size_t n = 0;

	if (line[0] >= 'a' && line[0] <= 'z') {
		n = strspn(line, "abcdefghijklmnopqrstuvwxyz0123456789_");
		if (line[n + strspn(line + n, " ")] != '=')
			n = 0;
	}
	snprintf(key, len, "%.*s", (int)n, line);
}

struct choice {
	const char *title, *key;
	const char *value; /* NULL: left commented out */
};

/* The --defaults text with the headers and keys uncommented, but for the
 * choices: what a user would do who takes what they need. */
static char *uncomment(const char *text, const struct choice *ch, size_t nch)
{
	char *res = NULL, title[128] = "", key[64];
	const char *l, *nl;
	size_t len, i;
	FILE *f = open_memstream(&res, &len);

	if (!f)
		exit(1);
	for (l = text; *l; l = nl) {
		nl = strchr(l, '\n');
		nl = nl ? nl + 1 : l + strlen(l);
		if (!strncmp(l, ";[", 2) || l[0] == '[') {
			const char *h = l[0] == ';' ? l + 1 : l;

			snprintf(title, sizeof(title), "%.*s", (int)(strchr(h, ']') + 1 - h), h);
			fwrite(h, 1, (size_t)(nl - h), f);
			continue;
		}
		*key = '\0';
		if (l[0] == ';')
			key_of(l + 1, key, sizeof(key));
		if (!*key) {
			fwrite(l, 1, (size_t)(nl - l), f);
			continue;
		}
		for (i = 0; i < nch; i++)
			if (!strcmp(ch[i].title, title) && !strcmp(ch[i].key, key))
				break;
		if (i == nch)
			fwrite(l + 1, 1, (size_t)(nl - l - 1), f);
		else if (ch[i].value)
			fprintf(f, "%s = %s\n", key, ch[i].value);
		else
			fwrite(l, 1, (size_t)(nl - l), f);
	}
	fclose(f);
	return res;
}

/* How many of `keys` are not listed as ";key = ..." between the header
 * `head` (with its newlines) and the next section; all of them when the
 * header is missing. */
static int keys_missing(const char *text, const char *head, const struct cfg_key *keys)
{
	const char *sect = strstr(text, head), *end;
	char want[128];
	size_t len = 0;
	int missing = 0;

	if (sect) {
		sect += strlen(head) - 1;
		for (end = sect + 1; *end; end++)
			if (end[-1] == '\n' &&
			    (end[0] == '[' || !strncmp(end, ";[", 2) || !strncmp(end, "; ====", 6)))
				break;
		len = (size_t)(end - sect);
	}
	for (; keys->name; keys++) {
		snprintf(want, sizeof(want), "\n;%s ", keys->name);
		if (sect && memmem(sect, len, want, strlen(want)))
			continue;
		fprintf(stderr, "--defaults: no '%s' under %s", keys->name, head + 1);
		missing++;
	}
	return missing;
}

static void test_print_defaults(void)
{
	/* a GPIO meter, InfluxDB 1.x, MQTT as JSON */
	static const struct choice gpio[] = {
		{"[pulse.house]", "replay", NULL},
		{"[pulse.house]", "speed", NULL},
		{"[pulse.house]", "loop", NULL},
		{"[pulse.house]", "min_pulse", NULL},
		{"[sink.influxdb]", "org", NULL},
		{"[sink.influxdb]", "bucket", NULL},
		{"[sink.influxdb]", "token", NULL},
		{"[sink.mqtt]", "pico_host", NULL},
		{"[json.inbox]", "measurement", NULL},
		{"[http.powmr]", "measurement", NULL},
		{"[can.battery]", "replay", NULL},
		{"[can.battery]", "speed", NULL},
		{"[can.battery]", "loop", NULL},
		{"[can.battery]", "bitrate", NULL},
		{"[can.battery]", "restart_ms", NULL},
		{"[modbus.inverter]", "close_after_poll", NULL},
		{"[modbus.inverter]", "connect_timeout", NULL},
		{"[modbus.inverter]", "pipeline", NULL},
		{"[modbus.inverter]", "rs485_delay_before", NULL},
		{"[modbus.inverter]", "rs485_delay_after", NULL},
	};
	/* a replayed meter, InfluxDB 2.x, MQTT in the Pico's shape */
	static const struct choice replay[] = {
		{"[pulse.house]", "chip", NULL},
		{"[pulse.house]", "line", NULL},
		{"[pulse.house]", "min_pulse_ms", NULL},
		{"[sink.influxdb]", "database", NULL},
		{"[sink.influxdb]", "retention_policy", NULL},
		{"[sink.influxdb]", "username", NULL},
		{"[sink.influxdb]", "password", NULL},
		{"[sink.mqtt]", "format", "pico"},
		{"[json.inbox]", "format", "flat"},
		{"[http.powmr]", "format", "flat"},
		{"[can.battery]", "interface", NULL},
		{"[can.battery]", "configure", NULL},
		{"[can.battery]", "bitrate", NULL},
		{"[can.battery]", "restart_ms", NULL},
		{"[can.battery]", "allow_transmit", NULL},
		{"[can.battery]", "transmit_max", NULL},
		{"[can.battery]", "rcvbuf", NULL},
		{"[can.battery]", "state_interval", NULL},
		{"[modbus.inverter]", "url", "tcp://192.168.1.50:502"},
		{"[modbus.inverter]", "baud", NULL},
		{"[modbus.inverter]", "parity", NULL},
		{"[modbus.inverter]", "data_bits", NULL},
		{"[modbus.inverter]", "stop_bits", NULL},
		{"[modbus.inverter]", "rs485", NULL},
		{"[modbus.inverter]", "rs485_delay_before", NULL},
		{"[modbus.inverter]", "rs485_delay_after", NULL},
		{"[modbus.inverter]", "unit", NULL},
	};
	const struct cfg_kind *const *kp;
	const struct cfg_type *const *t;
	char *text = defaults_text(), *u, *out = NULL, want[128], *l;
	struct config c;

	/* as printed: it loads, and every line fits */
	CHECK_EQ_INT(load(text, &c, &out), 0);
	CHECK(out && !*out);
	cfg_free(&c);
	free(out);
	for (l = text; *l; l = strchr(l, '\n') + 1)
		CHECK(strcspn(l, "\n") <= 79);

	/* every key of every table, commented out, in its section */
	for (kp = cfg_kinds; *kp; kp++) {
		snprintf(want, sizeof(want), "%s[%s%s%s]\n", (*kp)->single ? "\n" : "\n;",
			 (*kp)->name, (*kp)->single ? "" : ".",
			 (*kp)->single ? ""
				       : ((*kp)->types ? (*kp)->types[0]->name : (*kp)->example));
		CHECK_EQ_INT(keys_missing(text, want, (*kp)->keys), 0);
		for (t = (*kp)->types; t && *t; t++) {
			snprintf(want, sizeof(want), "\n;[%s.%s]\n", (*kp)->name, (*t)->name);
			CHECK_EQ_INT(keys_missing(text, want, (*t)->keys), 0);
		}
	}

	/* uncommented sensibly, it is a configuration with every kind */
	u = uncomment(text, gpio, sizeof(gpio) / sizeof(gpio[0]));
	out = NULL;
	CHECK_EQ_INT(load(u, &c, &out), 0);
	if (out && *out)
		fprintf(stderr, "--defaults, uncommented (gpio):\n%s", out);
	CHECK_EQ_INT(c.npulses, 1);
	CHECK_EQ_INT(c.nsinks, 4);
	CHECK_EQ_INT(c.ncan, 1);
	CHECK_EQ_INT(c.neg4, 1);
	if (c.neg4 == 1)
		CHECK(!strcmp(c.eg4[0].host, "192.168.1.60") && c.eg4[0].port == 8000 &&
		      !strcmp(c.eg4[0].datalog, "BA12345678") &&
		      c.eg4[0].poll_ns == 60 * CFG_NS_S && !c.eg4[0].heartbeats &&
		      c.eg4[0].watchdog_ns == 15 * CFG_NS_MIN &&
		      !strcmp(c.eg4[0].map, "eg4-input"));
	if (c.npulses == 1 && c.nsinks == 4) {
		CHECK(!strcmp(c.pulses[0].name, "house") && !strcmp(c.pulses[0].chip, "gpiochip0"));
		CHECK(c.sinks[0].type == CFG_SINK_INFLUXDB &&
		      !strcmp(c.sinks[0].database, "powerd"));
		CHECK(c.sinks[1].type == CFG_SINK_FILE && c.sinks[1].path[0]);
		CHECK(c.sinks[2].type == CFG_SINK_MQTT && c.sinks[2].format == CFG_MQTT_JSON);
		CHECK(c.sinks[3].type == CFG_SINK_CLOUDWATCH && c.sinks[3].namespace_[0]);
		check_defaults(&c,
			       " chip line impulses_per_kwh type url database retention_policy "
			       "username password ca_file path port client_id namespace region "
			       "endpoint profile credentials_file metrics time_key valid "
			       "derive integrate plot topics name_key tag_keys string_fields "
			       "topic_tag measurement interface filter decode record rcvbuf unit "
			       "map host datalog inverter ha_names ");
	}
	CHECK_EQ_INT(c.nmodbus, 1);
	if (c.nmodbus == 1)
		CHECK(c.modbus[0].unit.set && c.modbus[0].unit.id == 5 &&
		      c.modbus[0].baud == 9600 && !c.modbus[0].allow_write);
	CHECK_EQ_INT(c.nmqtt, 1);
	if (c.nmqtt == 1)
		CHECK(c.mqtt[0].format == CFG_MQTT_IN_TELEGRAF && c.mqtt[0].qos == 1 &&
		      !c.mqtt[0].clean_session && c.mqtt[0].topics[0]);
	CHECK_EQ_INT(c.njson, 1);
	if (c.njson == 1)
		CHECK(c.json[0].format == CFG_JSON_POINTS && !strcmp(c.json[0].time_key, "ts"));
	cfg_free(&c);
	free(out);
	free(u);

	u = uncomment(text, replay, sizeof(replay) / sizeof(replay[0]));
	out = NULL;
	CHECK_EQ_INT(load(u, &c, &out), 0);
	if (out && *out)
		fprintf(stderr, "--defaults, uncommented (replay):\n%s", out);
	if (c.npulses == 1 && c.nsinks == 4) {
		CHECK(c.pulses[0].replay[0] && !c.pulses[0].chip[0]);
		CHECK(!strcmp(c.sinks[0].bucket, "power"));
		CHECK(c.sinks[2].format == CFG_MQTT_PICO && c.sinks[2].pico_host[0]);
	}
	if (c.njson == 1)
		CHECK(c.json[0].format == CFG_JSON_FLAT && c.json[0].measurement[0]);
	CHECK_EQ_INT(c.ncan, 1);
	if (c.ncan == 1)
		CHECK(c.can[0].replay[0] && !c.can[0].interface[0] && !c.can[0].allow_transmit);
	CHECK_EQ_INT(c.nmodbus, 1);
	if (c.nmodbus == 1)
		CHECK(!strncmp(c.modbus[0].url, "tcp://", 6) && !c.modbus[0].unit.set);
	cfg_free(&c);
	free(out);
	free(u);
	free(text);
}

/* ------------------------------------------------ examples/powerd.conf */

/* The example documents exactly the keys of the tables: each in a section of
 * its kind (and of its type), commented out or not, as ";key = value". */
static void test_example(void)
{
	const char *path = "examples/powerd.conf";
	FILE *f = fopen(path, "r");
	char line[512], key[64], title[128] = "", seen[4096] = " ";
	const struct cfg_kind *kind = NULL, *const * kp;
	const struct cfg_type *type = NULL, *const * t;
	const struct cfg_key *k;
	struct {
		unsigned line;
		char key[64];
	} pend[64];
	size_t npend = 0, i;
	unsigned lineno = 0;
	int bad = 0;

	CHECK(f != NULL); /* run from the repository root */
	if (!f)
		return;
	for (;;) {
		bool more = fgets(line, sizeof(line), f) != NULL;
		char *h = line[0] == ';' ? line + 1 : line;

		lineno++;
		/* a section's keys are known once its type is */
		if (!more || h[0] == '[') {
			for (i = 0; kind && i < npend; i++) {
				char mark[200];

				k = cfg_key_find(kind, type, pend[i].key);
				if (!k && !(kind->types && !strcmp(pend[i].key, kind->type_key))) {
					fprintf(stderr, "%s:%u: '%s' is not a key of %s\n", path,
						pend[i].line, pend[i].key, title);
					bad++;
					continue;
				}
				snprintf(mark, sizeof(mark), " %s%s%s.%s ", kind->name,
					 k && cfg_key_find(kind, NULL, pend[i].key) ? "" : ":",
					 k && cfg_key_find(kind, NULL, pend[i].key)
						 ? ""
						 : (type ? type->name : ""),
					 pend[i].key);
				if (!strstr(seen, mark) &&
				    strlen(seen) + strlen(mark) < sizeof(seen))
					strcat(seen, mark + 1);
			}
			npend = 0;
			type = NULL;
			kind = NULL;
		}
		if (!more)
			break;
		if (h[0] == '[') {
			snprintf(title, sizeof(title), "%.*s", (int)strcspn(h, "]") + 1, h);
			for (kp = cfg_kinds; *kp; kp++) {
				size_t n = strlen((*kp)->name);

				if (!strncmp(h + 1, (*kp)->name, n) && strchr("].", h[1 + n]))
					kind = *kp;
			}
			if (!kind) {
				fprintf(stderr, "%s:%u: unknown section %s\n", path, lineno, title);
				bad++;
			}
			continue;
		}
		key_of(h, key, sizeof(key));
		if (!*key || !kind)
			continue;
		if (kind->types && !strcmp(key, kind->type_key)) {
			char *v = strchr(line, '=') + 1;

			v += strspn(v, " ");
			v[strcspn(v, " ;\n")] = '\0';
			for (t = kind->types; *t; t++)
				if (!strcmp((*t)->name, v))
					type = *t;
		}
		if (npend < sizeof(pend) / sizeof(pend[0])) {
			pend[npend].line = lineno;
			snprintf(pend[npend].key, sizeof(pend[npend].key), "%s", key);
			npend++;
		}
	}
	fclose(f);
	/* every key of every table */
	for (kp = cfg_kinds; *kp; kp++) {
		char mark[200];

		for (k = (*kp)->keys; k->name; k++) {
			snprintf(mark, sizeof(mark), " %s.%s ", (*kp)->name, k->name);
			if (!strstr(seen, mark)) {
				fprintf(stderr, "%s: does not document [%s] '%s'\n", path,
					(*kp)->name, k->name);
				bad++;
			}
		}
		for (t = (*kp)->types; t && *t; t++) {
			for (k = (*t)->keys; k->name; k++) {
				snprintf(mark, sizeof(mark), " %s:%s.%s ", (*kp)->name, (*t)->name,
					 k->name);
				if (!strstr(seen, mark)) {
					fprintf(stderr, "%s: does not document [%s] %s = %s '%s'\n",
						path, (*kp)->name, (*kp)->type_key, (*t)->name,
						k->name);
					bad++;
				}
			}
		}
	}
	CHECK_EQ_INT(bad, 0);
}

int main(void)
{
	test_good();
	test_defaults();
	test_syntax();
	test_bad();
	test_limits();
	test_listen();
	test_all_errors();
	test_duration();
	test_bool();
	test_file();
	test_tables();
	test_sinks();
	test_json();
	test_http();
	test_eg4();
	test_sink_without_type();
	test_order();
	test_size();
	test_print_defaults();
	test_example();
	return check_result();
}

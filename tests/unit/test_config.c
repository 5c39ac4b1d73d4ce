/* Configuration parser: values, defaults, and the exact FILE:LINE of every
 * kind of error. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "check.h"
#include "config.h"

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

#define PULSE "[pulse.house]\nchip = gpiochip0\nline = 3\nimpulses_per_kwh = 1000\n"

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
	return check_result();
}

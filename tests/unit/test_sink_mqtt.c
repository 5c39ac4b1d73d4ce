/* The MQTT sink against a real broker (tests/t_sink_mqtt.sh starts it and
 * checks what subscribers receive; this program drives the sink).
 *
 *   test_sink_mqtt json|pico|ha   send the known samples, expect SINK_OK
 *   test_sink_mqtt ha2            discovery of four kinds of source, one of
 *                                 which goes stale and comes back
 *   test_sink_mqtt wide           json, one sample of 16 tags and 128 fields
 *   test_sink_mqtt hold           json, print "ready", close on SIGTERM
 *   test_sink_mqtt crash          json, print "ready", _exit() without closing
 *   test_sink_mqtt try            send until the outcome is known; print
 *                                 "OK|RETRY <message>"
 *   test_sink_mqtt until-ok       send every 200 ms until SINK_OK (at most
 *                                 MQTT_TRY_S), printing each new message
 *   test_sink_mqtt outage         OK, "ready1", SIGUSR1 (broker stopped):
 *                                 RETRY, "ready2", SIGUSR1 (broker back): OK
 *
 * Environment: MQTT_PORT (required: exits 77 without it), MQTT_PREFIX
 * (topic_prefix), MQTT_HA_PREFIX, MQTT_PICO_HOST, MQTT_USER, MQTT_PASS,
 * MQTT_TLS=1, MQTT_CA, MQTT_TIMEOUT_MS, MQTT_TRY_S, MQTT_HA=1 (discovery in
 * any json mode), MQTT_HA_EXPIRE_S (ha_expire_after), MQTT_HA_NAMES (ha_names). */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "sample.h"
#include "sink.h"
#include "spans.h"

#define NS_PER_S 1000000000LL

static int64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * NS_PER_S + ts.tv_nsec;
}

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

static const char *env(const char *name, const char *dflt)
{
	const char *v = getenv(name);

	return v && *v ? v : dflt;
}

static void setup_cfg(struct cfg_sink *c, const char *mode)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->name, sizeof(c->name), "mqtt-test");
	c->type = CFG_SINK_MQTT;
	c->timeout_ns = atol(env("MQTT_TIMEOUT_MS", "5000")) * 1000000LL;
	snprintf(c->host, sizeof(c->host), "127.0.0.1");
	c->port = (uint32_t)atoi(getenv("MQTT_PORT"));
	snprintf(c->topic_prefix, sizeof(c->topic_prefix), "%s", env("MQTT_PREFIX", "powerd"));
	snprintf(c->ha_prefix, sizeof(c->ha_prefix), "%s", env("MQTT_HA_PREFIX", "homeassistant"));
	snprintf(c->pico_host, sizeof(c->pico_host), "%s", env("MQTT_PICO_HOST", ""));
	snprintf(c->username, sizeof(c->username), "%s", env("MQTT_USER", ""));
	snprintf(c->password, sizeof(c->password), "%s", env("MQTT_PASS", ""));
	snprintf(c->ca_file, sizeof(c->ca_file), "%s", env("MQTT_CA", ""));
	c->tls = !strcmp(env("MQTT_TLS", "0"), "1");
	c->format = !strcmp(mode, "pico") ? CFG_MQTT_PICO : CFG_MQTT_JSON;
	c->ha_discovery =
		!strcmp(mode, "ha") || !strcmp(mode, "ha2") || !strcmp(env("MQTT_HA", "0"), "1");
	c->ha_expire_after_ns = atol(env("MQTT_HA_EXPIRE_S", "0")) * NS_PER_S;
	snprintf(c->ha_names, sizeof(c->ha_names), "%s", env("MQTT_HA_NAMES", ""));
	snprintf(c->client_id, sizeof(c->client_id), "powerd-test-%d", (int)getpid());
}

/* Start a batch and poll until the sink has a verdict (or `limit_ms`). */
static enum sink_verdict run_batch(struct sink *s, const struct sample *v, size_t n, long limit_ms)
{
	int64_t end = mono_ns() + limit_ms * 1000000LL;
	struct sample_list l;
	struct sample_span sp;
	int r;

	sample_list_init(&l);
	sp = spans_of(&l, v, n);
	s->verdict_ready = false;
	r = s->ops->send(s, &sp);
	sample_list_free(&l); /* published: the messages are libmosquitto's */
	CHECK_EQ_INT(r, 0);
	while (!s->verdict_ready && mono_ns() < end) {
		s->ops->poll(s);
		if (!s->verdict_ready)
			sleep_ms(5);
	}
	CHECK(s->verdict_ready);
	if (!s->verdict_ready)
		return SINK_RETRY;
	return s->verdict;
}

/* An empty batch succeeds as soon as the sink is connected. */
static bool wait_connected(struct sink *s, long limit_ms)
{
	int64_t end = mono_ns() + limit_ms * 1000000LL;

	while (mono_ns() < end) {
		if (run_batch(s, NULL, 0, 1000) == SINK_OK)
			return true;
		sleep_ms(50);
	}
	fprintf(stderr, "not connected after %ld ms: %s\n", limit_ms, s->verdict_msg);
	return false;
}

/* The samples of the json and ha modes (see t_sink_mqtt.sh for what the
 * subscribers must receive). */
static size_t json_samples(struct sample *v)
{
	struct sample *s = v;

	sample_init(s, "pulse", 1700000000123456789LL);
	sample_tag(s, "meter", "house");
	sample_float(s, "power_w", 123.4);
	sample_float(s, "energy_wh", 5.0);
	sample_float(s, "interval_s", 1.2);
	s++;
	sample_init(s, "pulse", 1700000001000000000LL);
	sample_tag(s, "meter", "garage");
	sample_tag(s, "phase", "L1");
	sample_float(s, "power_w", 0.0);
	sample_float(s, "energy_wh", 12345.5);
	sample_int(s, "count", -42);
	s++;
	/* Topic levels from data are sanitized; strings are JSON-escaped. */
	sample_init(s, "pulse", 1700000002000000005LL);
	sample_tag(s, "meter", "a/b+c#d");
	sample_string(s, "note", "say \"hi\"\\\n\x01");
	sample_bool(s, "ok", true);
	sample_float(s, "power_w", 1e-7);
	s++;
	/* NaN cannot be carried: the field is left out... */
	sample_init(s, "pulse", 1700000003000000000LL);
	sample_tag(s, "meter", "nan");
	sample_float(s, "power_w", NAN);
	sample_float(s, "energy_wh", 7.25);
	s++;
	/* ...and a sample with nothing left is dropped and counted. */
	sample_init(s, "pulse", 1700000004000000000LL);
	sample_tag(s, "meter", "void");
	sample_float(s, "power_w", INFINITY);
	s++;
	return (size_t)(s - v);
}

static size_t pico_samples(struct sample *v)
{
	struct sample *s = v;

	sample_init(s, "pulse", 1700000000999999999LL);
	sample_tag(s, "meter", "house");
	sample_float(s, "power_w", 123.4);
	sample_float(s, "energy_wh", 5.0);
	s++;
	sample_init(s, "pulse", 1700000010000000000LL);
	sample_tag(s, "meter", "house");
	sample_float(s, "power_w", 0.0);
	s++;
	/* No power_w: not part of the Pico shape, skipped (not an error). */
	sample_init(s, "pulse", 1700000011000000000LL);
	sample_tag(s, "meter", "house");
	sample_float(s, "energy_wh", 6.0);
	s++;
	sample_init(s, "grid", 1700000012000000000LL);
	sample_tag(s, "meter", "main");
	sample_int(s, "power_w", 2500);
	s++;
	return (size_t)(s - v);
}

static size_t ha_samples(struct sample *v)
{
	struct sample *s = v;
	int i;

	/* Three fields of one series, twice: three discovery configs. */
	for (i = 0; i < 2; i++, s++) {
		sample_init(s, "pulse", 1700000000000000000LL + i * NS_PER_S);
		sample_tag(s, "meter", "house");
		sample_float(s, "power_w", 100.0 + i);
		sample_float(s, "energy_wh", 1000.0 + i);
		sample_float(s, "interval_s", 36.0);
	}
	return (size_t)(s - v);
}

/* The sources mode ha2 announces, at second `at` after 1700000100: a pulse
 * meter, a Modbus inverter (measurements dc and ac, tag source), an EcoFlow
 * battery on CAN (ecoflow_table.c's tags and share/ecoflow.json's fields) and
 * an EG4 inverter.  The Modbus and EG4 fields are their maps' (powmr-lvm,
 * eg4-input: ha2_config() names them), which give the units.  `which`: a bit
 * per source, in that order. */
static size_t ha2_samples(struct sample *v, int at, unsigned which)
{
	int64_t t = (1700000100LL + at) * NS_PER_S;
	struct sample *s = v;

	if (which & 1) {
		sample_init(s, "pulse", t);
		sample_tag(s, "meter", "house");
		sample_float(s, "power_w", 230.5);
		sample_float(s, "energy_wh", 1500.0);
		s++;
	}
	if (which & 2) {
		sample_init(s, "dc", t);
		sample_tag(s, "source", "powmr");
		sample_int(s, "pv_power", 300);
		sample_float(s, "voltage", 25.1);
		s++;
		sample_init(s, "ac", t);
		sample_tag(s, "source", "powmr");
		sample_float(s, "input_freq", 50.0);
		sample_int(s, "output_va", 352);
		s++;
	}
	if (which & 4) {
		sample_init(s, "ecoflow", t);
		sample_tag(s, "source", "battery");
		sample_tag(s, "src", "03");
		sample_tag(s, "dst", "20");
		sample_tag(s, "record", "03:1A");
		sample_int(s, "soc_pct", 87);
		sample_float(s, "voltage_v", 52.3);
		sample_int(s, "temp1_c", 21);
		s++;
	}
	if (which & 8) {
		sample_init(s, "eg4", t);
		sample_tag(s, "source", "eg4");
		sample_int(s, "soc", 80);
		sample_float(s, "e_pv_all_1", 1234.5);
		sample_int(s, "t_inner", 35);
		sample_int(s, "internal_fault", 0);
		s++;
	}
	return (size_t)(s - v);
}

/* A configuration with [modbus.powmr] map = powmr-lvm and [eg4.eg4] map =
 * eg4-input, as the sink sees it (sink.config). */
static void ha2_config(struct config *c, struct cfg_modbus *mb, struct cfg_eg4 *e)
{
	memset(c, 0, sizeof(*c));
	memset(mb, 0, sizeof(*mb));
	memset(e, 0, sizeof(*e));
	snprintf(mb->name, sizeof(mb->name), "powmr");
	snprintf(mb->map, sizeof(mb->map), "powmr-lvm");
	snprintf(e->name, sizeof(e->name), "eg4");
	snprintf(e->map, sizeof(e->map), "eg4-input");
	c->modbus = mb;
	c->nmodbus = 1;
	c->eg4 = e;
	c->neg4 = 1;
}

/* The widest sample: every field must be in its message, typed. */
static size_t wide_samples(struct sample *v)
{
	char key[48], val[64];
	int i;

	sample_init(v, "wide", 1700000005000000000LL);
	for (i = 0; i < SAMPLE_MAX_TAGS; i++) {
		snprintf(key, sizeof(key), "tag%02d", i);
		snprintf(val, sizeof(val), "value_%d", i);
		CHECK_EQ_INT(sample_tag(v, key, val), 0);
	}
	for (i = 0; i < SAMPLE_MAX_FIELDS; i++) {
		snprintf(key, sizeof(key), "f%03d", i);
		snprintf(val, sizeof(val), "s%d", i);
		CHECK_EQ_INT(i % 4 == 0	  ? sample_float(v, key, i + 0.5)
			     : i % 4 == 1 ? sample_int(v, key, i)
			     : i % 4 == 2 ? sample_bool(v, key, i % 8 == 2)
					  : sample_string(v, key, val),
			     0);
	}
	return 1;
}

static bool wait_signal(int sig, int seconds)
{
	struct timespec t = {seconds, 0};
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, sig);
	return sigtimedwait(&set, NULL, &t) == sig;
}

static void ready(const char *what)
{
	printf("%s\n", what);
	fflush(stdout);
}

/* Send until the outcome no longer depends on the connection attempt still
 * being under way; print it. */
static void try_send(struct sink *s)
{
	struct sample v[8];
	size_t n = json_samples(v);
	int64_t end = mono_ns() + atol(env("MQTT_TRY_S", "10")) * NS_PER_S;
	enum sink_verdict r;
	const char *pass = env("MQTT_PASS", NULL);

	do {
		r = run_batch(s, v, n, 15000);
		if (r == SINK_OK || !strstr(s->verdict_msg, "connecting to the broker"))
			break;
		sleep_ms(100);
	} while (mono_ns() < end);
	printf("%s %s\n",
	       r == SINK_OK	 ? "OK"
	       : r == SINK_RETRY ? "RETRY"
				 : "REJECT",
	       s->verdict_msg);
	if (pass) {
		CHECK(!strstr(s->verdict_msg, pass));
		CHECK(!strstr(s->st.last_error, pass));
	}
}

/* The sink must get through once the broker is fixed, whatever failed. */
static void until_ok(struct sink *s)
{
	struct sample v[8];
	size_t n = json_samples(v);
	int64_t end = mono_ns() + atol(env("MQTT_TRY_S", "20")) * NS_PER_S;
	char last[sizeof(s->verdict_msg)] = "";
	enum sink_verdict r;

	do {
		r = run_batch(s, v, n, 15000);
		if (strcmp(last, s->verdict_msg)) {
			printf("%s %s\n", r == SINK_OK ? "OK" : "RETRY", s->verdict_msg);
			fflush(stdout);
			snprintf(last, sizeof(last), "%s", s->verdict_msg);
		}
		if (r == SINK_OK)
			return;
		sleep_ms(200);
	} while (mono_ns() < end);
	CHECK(!"delivered in time");
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "json";
	struct sample v[8];
	struct cfg_sink cfg;
	struct config all;
	struct cfg_modbus mb;
	struct cfg_eg4 e4;
	struct sink s;
	sigset_t block;
	size_t n;

	if (!getenv("MQTT_PORT")) {
		printf("needs a broker: run via tests/t_sink_mqtt.sh\n");
		return 77;
	}
	/* Signals are taken with sigtimedwait(), also in libmosquitto's thread. */
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGUSR1);
	sigprocmask(SIG_BLOCK, &block, NULL);

	setup_cfg(&cfg, mode);
	memset(&s, 0, sizeof(s));
	s.cfg = &cfg;
	s.ops = &sink_mqtt_ops;
	ha2_config(&all, &mb, &e4);
	s.config = &all;
	CHECK_EQ_INT(s.ops->open(&s), 0);
	if (!s.priv)
		return check_result();

	if (!strcmp(mode, "try") || !strcmp(mode, "until-ok")) {
		if (!strcmp(mode, "try"))
			try_send(&s);
		else
			until_ok(&s);
		s.ops->close(&s);
		return check_result();
	}
	if (!wait_connected(&s, 10000)) {
		CHECK(!"connected");
		s.ops->close(&s);
		return check_result();
	}
	if (!strcmp(mode, "pico")) {
		n = pico_samples(v);
		CHECK_EQ_INT(run_batch(&s, v, n, 10000), SINK_OK);
		CHECK_EQ_INT(s.st.dropped_encode, 0);
	} else if (!strcmp(mode, "wide")) {
		n = wide_samples(v);
		CHECK_EQ_INT(run_batch(&s, v, n, 10000), SINK_OK);
		CHECK_EQ_INT(s.st.dropped_encode, 0);
		sample_free(&v[0]);
	} else if (!strcmp(mode, "ha2")) {
		/* All four; a minute later without the battery (stale: offline);
		 * then the battery alone (online again). */
		n = ha2_samples(v, 0, 15);
		CHECK_EQ_INT(run_batch(&s, v, n, 10000), SINK_OK);
		n = ha2_samples(v, 60, 11);
		CHECK_EQ_INT(run_batch(&s, v, n, 10000), SINK_OK);
		n = ha2_samples(v, 61, 4);
		CHECK_EQ_INT(run_batch(&s, v, n, 10000), SINK_OK);
	} else if (!strcmp(mode, "ha")) {
		n = ha_samples(v);
		CHECK_EQ_INT(run_batch(&s, v, n, 10000), SINK_OK);
		/* A series already announced is not announced again. */
		CHECK_EQ_INT(run_batch(&s, v, n, 10000), SINK_OK);
	} else {
		n = json_samples(v);
		CHECK_EQ_INT(run_batch(&s, v, n, 10000), SINK_OK);
		CHECK_EQ_INT(s.st.dropped_encode, 1);
		CHECK(strstr(s.verdict_msg, "4 messages acknowledged") != NULL);
	}

	if (!strcmp(mode, "crash")) {
		ready("ready");
		_exit(check_failures ? 1 : 0); /* no DISCONNECT: the last will fires */
	}
	if (!strcmp(mode, "hold")) {
		ready("ready");
		CHECK(wait_signal(SIGTERM, 30));
	}
	if (!strcmp(mode, "outage")) {
		ready("ready1");
		CHECK(wait_signal(SIGUSR1, 30)); /* the broker is down now */
		CHECK_EQ_INT(run_batch(&s, v, n, 10000), SINK_RETRY);
		printf("RETRY %s\n", s.verdict_msg);
		ready("ready2");
		CHECK(wait_signal(SIGUSR1, 30)); /* and back */
		CHECK(wait_connected(&s, 30000));
		CHECK_EQ_INT(run_batch(&s, v, n, 10000), SINK_OK);
		printf("OK %s\n", s.verdict_msg);
	}
	s.ops->close(&s);
	CHECK(s.priv == NULL);
	return check_result();
}

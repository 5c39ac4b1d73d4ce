/* MQTT sink (libmosquitto): one message per sample, QoS 1, on
 * TOPIC_PREFIX/MEASUREMENT/NAME (NAME: the value of the first tag).
 *
 * Payloads (no spaces, keys in this order):
 *   format = json  {"measurement":"pulse","tags":{"meter":"house"},
 *                   "time":1700000000.123456789,"fields":{"power_w":123.4,...}}
 *                  time: Unix seconds with nine decimals; floats always carry
 *                  a '.' or an exponent, integers never do.
 *   format = pico  {"power":123.4,"timestamp":1700000000,"measurement":"pulse","host":"pi"}
 *                  the Pico meter's shape, read by Telegraf's json parser with
 *                  json_name_key = measurement, json_time_key = timestamp,
 *                  json_time_format = unix, tag_keys = ["host"].  That parser
 *                  keeps numbers and drops strings not listed in
 *                  json_string_fields, so power must be a number for it to
 *                  land as the field the Pico users query.
 *
 * The connection runs in a thread of the sink's own (mosquitto_loop(), and
 * mosquitto_reconnect_async() with backoff), not in mosquitto_loop_start()'s:
 * libmosquitto 2.0's loop thread ends for good on a TLS error, without a
 * callback, and sleeps through its reconnect delays uninterruptibly.  That
 * thread (libmosquitto's callbacks run on it) and the uploader thread (send,
 * poll, close) share the connection state and the batch's message ids under
 * `lock`.  A batch is done when every PUBLISH has its
 * PUBACK; a lost connection or `timeout` fails it with SINK_RETRY, and the
 * uploader sends it again (QoS 1 is at-least-once anyway). */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <mosquitto.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "expr.h"
#include "fmt.h"
#include "hash.h"
#include "buf.h"
#include "log.h"
#include "mqtt_conn.h"
#include "regmap.h"
#include "sink.h"
#include "units.h"

#define MQTT_KEEPALIVE_S 60
/* Message ids are 16 bits: a batch must stay far below 65535 messages so
 * that ids still unacknowledged from the batch before never come round
 * again inside this one. */
#define MQTT_MAX_BATCH	   10000
#define MQTT_IN_FLIGHT	   200	/* PUBLISHes awaiting PUBACK on the wire */
#define MQTT_DISC_MAX	   4096 /* Home Assistant configs remembered */
#define MQTT_INDEX_SLOTS   (2 * MQTT_DISC_MAX)
#define MQTT_MID_WORDS	   (65536 / 64)
#define MQTT_CLOSE_WAIT_NS 2000000000LL
#define NS_PER_S	   1000000000LL
/* Append a string literal. */
#define MQTT_LIT(b, s) buf_append((b), (s), sizeof(s) - 1)

struct mqtt_disc {
	char *topic;
	char *payload;
};

/* A source as Home Assistant sees it: a device with its own availability
 * (TOPIC_PREFIX/availability/NAME, retained), offline once its newest sample is
 * ha_expire_after older than the newest of any source. */
#define MQTT_SRC_MAX 256

/* A unit a source's table gives a field (a Modbus or EG4 register map). */
struct mqtt_unit {
	char source[CFG_NAME_MAX];
	char meas[SAMPLE_KEY_MAX];
	char field[SAMPLE_KEY_MAX];
	char unit[REGMAP_UNIT_MAX];
};
struct mqtt_src {
	char name[128];
	int64_t last_ns;
	bool online;
};

struct mqtt {
	struct sink *sink;
	struct mosquitto *mosq;
	pthread_t thread;
	bool thread_started;
	CURLM *multi; /* the uploader's, woken when a batch finishes */
	/* fixed after open() */
	char host[256];
	int port;
	char client_id[128];
	char hostname[HOST_NAME_MAX + 1];
	char status_topic[160];
	char pico_host[128];
	char node[80];
	bool discovery;
	char *daemon_topic, *daemon_config; /* the instance's device (discovery) */
	/* shared with libmosquitto's thread */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool connected;
	bool stop;	      /* the connection thread must end */
	int64_t retry_ns;     /* next reconnect delay */
	uint64_t losses;      /* connections lost so far */
	char why[256];	      /* why we are not connected; never holds a secret */
	uint64_t attempt;     /* connection attempts so far */
	uint64_t why_attempt; /* the attempt `why` speaks of */
	bool batch;	      /* a batch is in flight */
	uint64_t batch_losses;
	size_t published, unacked;
	uint64_t want[MQTT_MID_WORDS];	/* ids of the batch awaiting PUBACK */
	uint64_t early[MQTT_MID_WORDS]; /* PUBACKs for ids not (yet) in want */
	struct mqtt_disc *disc;		/* MQTT_DISC_MAX slots, never moved */
	size_t ndisc;
	struct mqtt_src *src; /* MQTT_SRC_MAX slots */
	size_t nsrc;
	struct mqtt_unit *units; /* fixed after open() */
	size_t nunits;
	/* uploader thread only */
	int64_t deadline_mono;
	uint32_t *index; /* open addressing over disc[].topic: slot = i + 1 */
	bool disc_full_logged;
	bool src_full_logged;
	bool topic_bad_logged;
	bool message_bad_logged;
	struct buf topic, payload, dtopic, dpayload;
};

static void mqtt_fmt(char *out, size_t n, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void mqtt_fmt(char *out, size_t n, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(out, n, fmt, ap);
	va_end(ap);
}

static bool mqtt_bit(const uint64_t *set, int mid)
{
	return set[(unsigned)mid / 64] >> ((unsigned)mid % 64) & 1;
}

static void mqtt_bit_set(uint64_t *set, int mid, bool on)
{
	uint64_t bit = (uint64_t)1 << ((unsigned)mid % 64);

	if (on)
		set[(unsigned)mid / 64] |= bit;
	else
		set[(unsigned)mid / 64] &= ~bit;
}

/* ------------------------------------------------------------ encoding */

static void mqtt_json_str(struct buf *b, const char *s)
{
	const char *run = s;

	buf_append(b, "\"", 1);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		buf_append(b, run, (size_t)(s - run));
		run = s + 1;
		if (c == '"' || c == '\\')
			buf_printf(b, "\\%c", c);
		else if (c == '\n')
			buf_append(b, "\\n", 2);
		else if (c == '\t')
			buf_append(b, "\\t", 2);
		else if (c == '\r')
			buf_append(b, "\\r", 2);
		else
			buf_printf(b, "\\u%04x", c);
	}
	buf_append(b, run, (size_t)(s - run));
	buf_append(b, "\"", 1);
}

/* The shortest decimal that reads back as the same double, always with a
 * '.' or an exponent so that consumers that type by syntax see a float. */
static int mqtt_json_float(struct buf *b, double v)
{
	char tmp[FMT_DOUBLE_MAX + 2];
	size_t n;

	if (!isfinite(v))
		return -EINVAL;
	n = fmt_double(tmp, FMT_DOUBLE_MAX, v);
	if (!strpbrk(tmp, ".e")) {
		memcpy(tmp + n, ".0", 3);
		n += 2;
	}
	return buf_append(b, tmp, n);
}

/* A field's value as JSON; -EINVAL for what JSON cannot carry (NaN, inf). */
static int mqtt_json_field(struct buf *b, const struct sample_field *f)
{
	switch (f->type) {
	case SAMPLE_FLOAT:
		return mqtt_json_float(b, f->v.f);
	case SAMPLE_INT:
		return buf_printf(b, "%" PRId64, f->v.i);
	case SAMPLE_BOOL:
		return buf_printf(b, "%s", f->v.b ? "true" : "false");
	case SAMPLE_STRING:
		mqtt_json_str(b, f->v.s);
		return b->err;
	}
	return -EINVAL;
}

/* {"measurement":..,"tags":{..},"time":S.NNNNNNNNN,"fields":{..}}; -EINVAL
 * when no field can be written. */
static int mqtt_encode_json(const struct sample_view *s, struct buf *b)
{
	uint64_t a = s->ts_ns < 0 ? -(uint64_t)s->ts_ns : (uint64_t)s->ts_ns;
	struct sample_cursor c;
	struct sample_field f;
	unsigned i, n = 0;

	buf_append(b, "{\"measurement\":", 15);
	mqtt_json_str(b, s->measurement);
	buf_append(b, ",\"tags\":{", 9);
	for (i = 0; i < s->ntags; i++) {
		if (i)
			buf_append(b, ",", 1);
		mqtt_json_str(b, s->tags[i].key);
		buf_append(b, ":", 1);
		mqtt_json_str(b, s->tags[i].value);
	}
	buf_printf(b, "},\"time\":%s%" PRIu64 ".%09" PRIu64 ",\"fields\":{",
		   s->ts_ns < 0 ? "-" : "", a / (uint64_t)NS_PER_S, a % (uint64_t)NS_PER_S);
	sample_fields(s, &c);
	while (sample_next_field(&c, &f)) {
		size_t mark = b->len;

		if (n)
			buf_append(b, ",", 1);
		mqtt_json_str(b, f.key);
		buf_append(b, ":", 1);
		if (mqtt_json_field(b, &f) == -EINVAL) {
			b->len = mark; /* leave the field out */
			b->data[mark] = '\0';
			continue;
		}
		n++;
	}
	buf_append(b, "}}", 2);
	if (b->err)
		return b->err;
	return n ? 0 : -EINVAL;
}

/* {"power":P,"timestamp":S,"measurement":"M","host":"H"}: -ENOENT for a
 * sample without power_w (not part of this shape), -EINVAL for a power that
 * JSON cannot carry. */
static int mqtt_encode_pico(const struct mqtt *m, const struct sample_view *s, struct buf *b)
{
	struct sample_field pf, *p = &pf;
	int64_t sec = s->ts_ns / NS_PER_S;

	if (!sample_field_get(s, "power_w", p))
		return -ENOENT;
	if (s->ts_ns % NS_PER_S < 0)
		sec--; /* floor, not toward zero */
	buf_append(b, "{\"power\":", 9);
	if (p->type == SAMPLE_FLOAT) {
		int rc = mqtt_json_float(b, p->v.f);

		if (rc)
			return rc;
	} else if (p->type == SAMPLE_INT) {
		buf_printf(b, "%" PRId64, p->v.i);
	} else {
		return -EINVAL;
	}
	buf_printf(b, ",\"timestamp\":%" PRId64 ",\"measurement\":", sec);
	mqtt_json_str(b, s->measurement);
	buf_append(b, ",\"host\":", 8);
	mqtt_json_str(b, m->pico_host);
	buf_append(b, "}", 1);
	return b->err;
}

/* A topic level from data: '/', '+', '#' and control characters would
 * change the topic's meaning or make it invalid. */
static void mqtt_topic_level(struct buf *b, const char *s)
{
	if (!*s)
		s = "_";
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c < 0x20 || c == 0x7f || c == '/' || c == '+' || c == '#')
			c = '_';
		buf_append(b, &c, 1);
	}
}

static const char *mqtt_name(const struct sample_view *s)
{
	return s->ntags ? s->tags[0].value : s->measurement;
}

/* TOPIC_PREFIX/MEASUREMENT/NAME, or TOPIC_PREFIX/MEASUREMENT without tags. */
static int mqtt_topic(const struct mqtt *m, const struct sample_view *s, struct buf *b)
{
	buf_printf(b, "%s/", m->sink->cfg->topic_prefix);
	mqtt_topic_level(b, s->measurement);
	if (s->ntags) {
		buf_append(b, "/", 1);
		mqtt_topic_level(b, s->tags[0].value);
	}
	if (b->err)
		return b->err;
	/* Data may hold bytes that are not UTF-8, which MQTT forbids in topics. */
	return mosquitto_pub_topic_check2(b->data, b->len) == MOSQ_ERR_SUCCESS &&
			       mosquitto_validate_utf8(b->data, (int)b->len) == MOSQ_ERR_SUCCESS
		       ? 0
		       : -EINVAL;
}

/* Home Assistant ids: [a-zA-Z0-9_-] only. */
static void mqtt_ha_id(char *out, size_t n, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void mqtt_ha_id(char *out, size_t n, const char *fmt, ...)
{
	va_list ap;
	char *p;

	va_start(ap, fmt);
	vsnprintf(out, n, fmt, ap);
	va_end(ap);
	for (p = out; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '_' || *p == '-'))
			*p = '_';
}

struct mqtt_ha_class {
	const char *unit_in; /* as the map or units.h gives it */
	const char *device_class;
	const char *unit;
	const char *state_class;
	bool per_kilo; /* Wh in the sample, kWh in Home Assistant */
};

/* What Home Assistant makes of a unit: a register map's, or the one a
 * field's name ends in (units.h; energy_wh -> Wh). */
static const struct mqtt_ha_class mqtt_ha_units[] = {
	{"Wh", "energy", "kWh", "total_increasing", true},
	{"kWh", "energy", "kWh", "total_increasing", false},
	{"W", "power", "W", "measurement", false},
	{"kW", "power", "kW", "measurement", false},
	{"VA", "apparent_power", "VA", "measurement", false},
	{"V", "voltage", "V", "measurement", false},
	{"A", "current", "A", "measurement", false},
	{"Hz", "frequency", "Hz", "measurement", false},
	{"°C", "temperature", "°C", "measurement", false},
	{"C", "temperature", "°C", "measurement", false},
	{"s", "duration", "s", "measurement", false},
	{"%", NULL, "%", "measurement", false},
};

/* A state of charge in %: Home Assistant's "battery" class. */
static const struct mqtt_ha_class mqtt_ha_battery = {"%", "battery", "%", "measurement", false};

/* The class for a unit (a map's, or the one the field's name ends in). */
static const struct mqtt_ha_class *mqtt_ha_class(const char *key, const char *unit)
{
	size_t j;

	for (j = 0; j < sizeof(mqtt_ha_units) / sizeof(mqtt_ha_units[0]); j++)
		if (!strcmp(mqtt_ha_units[j].unit_in, unit)) {
			if (!mqtt_ha_units[j].device_class && !strncmp(key, "soc", 3))
				return &mqtt_ha_battery;
			return &mqtt_ha_units[j];
		}
	return NULL;
}

/* The class of a field by its source's table (tag "source" names the
 * section), else by the unit its name ends in; *other: a unit the table
 * gives that Home Assistant has no class for; *strip: how much of the name
 * is that unit (a map's unit leaves the name whole: output_va and
 * output_watts stay told apart). */
static const struct mqtt_ha_class *mqtt_ha_class_of(const struct mqtt *m,
						    const struct sample_view *s, const char *key,
						    const char **other, size_t *strip)
{
	const struct mqtt_ha_class *cls;
	size_t i;

	*other = NULL;
	*strip = 0;
	for (i = 0; s->ntags && !strcmp(s->tags[0].key, "source") && i < m->nunits; i++) {
		const struct mqtt_unit *u = &m->units[i];

		if (strcmp(u->field, key) || strcmp(u->meas, s->measurement) ||
		    strcmp(u->source, s->tags[0].value))
			continue;
		cls = mqtt_ha_class(key, u->unit);
		if (!cls)
			*other = u->unit;
		return cls;
	}
	cls = mqtt_ha_class(key, unit_of_field(key));
	if (cls)
		*strip = unit_suffix_len(key);
	return cls;
}

/* The units of every Modbus and EG4 source's map, read at open: a map the
 * source cannot load fails the source, not discovery (names decide then). */
static int mqtt_units_load(struct mqtt *m)
{
	const struct config *c = m->sink->config;
	size_t i, j, n = 0;

	for (i = 0; c && i < c->nmodbus + c->neg4; i++) {
		const char *src = i < c->nmodbus ? c->modbus[i].name : c->eg4[i - c->nmodbus].name;
		const char *map = i < c->nmodbus ? c->modbus[i].map : c->eg4[i - c->nmodbus].map;
		char path[PATH_MAX], err[256];
		struct regmap rm;
		struct mqtt_unit *g;

		memset(&rm, 0, sizeof(rm));
		if (regmap_path(POWERD_DATADIR, map, path, sizeof(path)) ||
		    regmap_load_file(path, &rm, err, sizeof(err)))
			continue;
		g = realloc(m->units, (n + rm.n) * sizeof(*g));
		if (!g) {
			regmap_free(&rm);
			return -ENOMEM;
		}
		m->units = g;
		for (j = 0; j < rm.n; j++) {
			if (!rm.v[j].unit[0])
				continue;
			snprintf(g[n].source, sizeof(g[n].source), "%s", src);
			snprintf(g[n].meas, sizeof(g[n].meas), "%s", rm.meas[rm.v[j].meas]);
			snprintf(g[n].field, sizeof(g[n].field), "%s", rm.v[j].name);
			snprintf(g[n].unit, sizeof(g[n].unit), "%s", rm.v[j].unit);
			n++;
		}
		regmap_free(&rm);
	}
	m->nunits = n;
	return 0;
}

/* Words a readable name keeps in capitals (soc -> SOC, pv1 -> PV1). */
static bool mqtt_ha_acronym(const char *w, size_t n)
{
	static const char *const words[] = {"soc", "soh", "pv", "ac",  "dc", "bms", "mppt",
					    "eps", "ups", "va", "rms", "id", "eg",  NULL};
	size_t i, k = n;

	while (k && w[k - 1] >= '0' && w[k - 1] <= '9')
		k--; /* pv1, mppt2 */
	for (i = 0; words[i]; i++)
		if (strlen(words[i]) == k && !strncasecmp(w, words[i], k))
			return true;
	return false;
}

/* "input_voltage" -> "Input voltage", "pv1_power" -> "PV1 power": the words
 * of a name, `first` capitalized, acronyms in capitals. */
static void mqtt_ha_words(struct buf *b, const char *s, size_t n, bool first)
{
	size_t i = 0;

	while (i < n) {
		size_t j = i;

		while (j < n && s[j] != '_' && s[j] != '.' && s[j] != ' ')
			j++;
		if (j > i) {
			size_t k;

			if (b->len)
				buf_append(b, " ", 1);
			for (k = i; k < j; k++) {
				char c = s[k];

				if (mqtt_ha_acronym(s + i, j - i))
					c = (char)toupper((unsigned char)c);
				else if (k == i && first)
					c = (char)toupper((unsigned char)c);
				else
					c = (char)tolower((unsigned char)c);
				buf_append(b, &c, 1);
			}
			first = false;
		}
		i = j + 1;
	}
}

/* ha_names' entry for KEY (or MEASUREMENT.KEY), copied into out; false if none. */
static bool mqtt_ha_name_override(const char *list, const char *meas, const char *key, char *out,
				  size_t len)
{
	const char *p = list;
	size_t mk = strlen(meas), kk = strlen(key);

	while (*p) {
		const char *end = strchr(p, ','), *eq;
		size_t n;

		if (!end)
			end = p + strlen(p);
		while (p < end && *p == ' ')
			p++;
		eq = memchr(p, '=', (size_t)(end - p));
		if (eq) {
			n = (size_t)(eq - p);
			while (n && p[n - 1] == ' ')
				n--;
			if ((n == kk && !strncmp(p, key, kk)) ||
			    (n == mk + 1 + kk && !strncmp(p, meas, mk) && p[mk] == '.' &&
			     !strncmp(p + mk + 1, key, kk))) {
				const char *v = eq + 1;
				size_t vn;

				while (v < end && *v == ' ')
					v++;
				vn = (size_t)(end - v);
				while (vn && v[vn - 1] == ' ')
					vn--;
				snprintf(out, len, "%.*s", (int)vn, v);
				return vn > 0;
			}
		}
		p = *end ? end + 1 : end;
	}
	return false;
}

/* A readable name for a field: the ha_names entry, or its words without the
 * unit suffix (soc_pct -> Battery SOC), after the measurement's for a source
 * with several measurements (tag "source": ac/dc/inverter of one inverter). */
static void mqtt_ha_friendly(const struct mqtt *m, const struct sample_view *s, const char *key,
			     const struct mqtt_ha_class *cls, size_t strip, char *out, size_t len)
{
	size_t n = strlen(key) - strip;
	struct buf b;

	if (mqtt_ha_name_override(m->sink->cfg->ha_names, s->measurement, key, out, len))
		return;
	buf_init(&b);
	if (s->ntags && !strcmp(s->tags[0].key, "source"))
		mqtt_ha_words(&b, s->measurement, strlen(s->measurement), true);
	if (cls && cls->device_class && !strcmp(cls->device_class, "battery") && n == 3) {
		if (b.len)
			MQTT_LIT(&b, " battery");
		else
			MQTT_LIT(&b, "Battery");
	}
	mqtt_ha_words(&b, key, n, b.len == 0);
	snprintf(out, len, "%s", b.data && b.len ? b.data : key);
	buf_free(&b);
}

/* The Jinja expression for a field: value_json.fields.KEY, or
 * value_json.fields['KEY'] when KEY is not an identifier. */
static void mqtt_ha_value(struct buf *b, const char *key)
{
	if (expr_is_ident(key)) {
		buf_printf(b, "value_json.fields.%s", key);
		return;
	}
	buf_append(b, "value_json.fields['", 19);
	for (; *key; key++) {
		if (*key == '\'' || *key == '\\')
			buf_append(b, "\\", 1);
		buf_append(b, key, 1);
	}
	buf_append(b, "']", 2);
}

/* TOPIC_PREFIX/availability/NAME: a source's availability. */
static void mqtt_src_topic(const struct mqtt *m, const char *name, struct buf *b)
{
	buf_printf(b, "%s/availability/", m->sink->cfg->topic_prefix);
	mqtt_topic_level(b, name);
}

/* The device of the powerd instance: the daemon's own status as a
 * connectivity sensor, so that the sources' devices can name it via_device. */
static void mqtt_ha_daemon(const struct mqtt *m, struct buf *topic, struct buf *b)
{
	char name[HOST_NAME_MAX + 16];

	buf_printf(topic, "%s/binary_sensor/%s/status/config", m->sink->cfg->ha_prefix, m->node);
	snprintf(name, sizeof(name), "powerd %s", m->hostname);
	MQTT_LIT(b, "{\"name\":\"Status\",\"unique_id\":");
	buf_printf(b, "\"%s_status\",\"state_topic\":", m->node);
	mqtt_json_str(b, m->status_topic);
	MQTT_LIT(b, ",\"payload_on\":\"online\",\"payload_off\":\"offline\","
		    "\"device_class\":\"connectivity\",\"entity_category\":\"diagnostic\","
		    "\"device\":{\"identifiers\":[");
	mqtt_json_str(b, m->node);
	MQTT_LIT(b, "],\"name\":");
	mqtt_json_str(b, name);
	MQTT_LIT(b, ",\"manufacturer\":\"powerd\",\"model\":\"powerd\",\"sw_version\":");
	mqtt_json_str(b, POWERD_VERSION);
	MQTT_LIT(b, "}}");
}

/* The discovery topic for one field of one series.  Its device
 * is the series' source (the first tag's value: the meter, the Modbus
 * device...), via the powerd instance's device. */
static void mqtt_ha_topic(const struct mqtt *m, const struct sample_view *s,
			  const struct sample_field *f, struct buf *topic)
{
	char object[256];

	mqtt_ha_id(object, sizeof(object), "%s_%s_%s", s->measurement, mqtt_name(s), f->key);
	buf_printf(topic, "%s/sensor/%s/%s/config", m->sink->cfg->ha_prefix, m->node, object);
}

/* Its config (built only for a field not announced yet). */
static void mqtt_ha_config(const struct mqtt *m, const struct sample_view *s,
			   const struct sample_field *f, const char *state_topic, struct buf *b)
{
	bool num = f->type == SAMPLE_FLOAT || f->type == SAMPLE_INT;
	const char *other = NULL;
	size_t strip = 0;
	const struct mqtt_ha_class *cls =
		num ? mqtt_ha_class_of(m, s, f->key, &other, &strip) : NULL;
	char uid[256], name[256], dev[256];
	struct buf tmpl;

	/* The host is part of the id: two Pis with a meter of the same name
	 * are two sensors in one Home Assistant. */
	mqtt_ha_id(uid, sizeof(uid), "%s_%s_%s_%s", m->node, s->measurement, mqtt_name(s), f->key);

	buf_init(&tmpl);
	buf_append(&tmpl, "{{ ", 3);
	mqtt_ha_value(&tmpl, f->key);
	if (cls && cls->per_kilo)
		buf_append(&tmpl, " / 1000", 7);
	buf_append(&tmpl, " }}", 3);

	mqtt_ha_friendly(m, s, f->key, cls, strip, name, sizeof(name));
	MQTT_LIT(b, "{\"name\":");
	mqtt_json_str(b, name);
	MQTT_LIT(b, ",\"unique_id\":");
	mqtt_json_str(b, uid);
	MQTT_LIT(b, ",\"state_topic\":");
	mqtt_json_str(b, state_topic);
	MQTT_LIT(b, ",\"value_template\":");
	mqtt_json_str(b, tmpl.data ? tmpl.data : "");
	buf_free(&tmpl);
	if (cls && cls->device_class) {
		MQTT_LIT(b, ",\"device_class\":");
		mqtt_json_str(b, cls->device_class);
	}
	if (cls || other) {
		MQTT_LIT(b, ",\"unit_of_measurement\":");
		mqtt_json_str(b, cls ? cls->unit : other);
	}
	if (f->type == SAMPLE_FLOAT || f->type == SAMPLE_INT) {
		MQTT_LIT(b, ",\"state_class\":");
		mqtt_json_str(b, cls ? cls->state_class : "measurement");
	}
	if (m->sink->cfg->ha_expire_after_ns > 0)
		buf_printf(b, ",\"expire_after\":%" PRId64,
			   (int64_t)((m->sink->cfg->ha_expire_after_ns + NS_PER_S - 1) / NS_PER_S));
	/* Available while both powerd (its last will) and the source are. */
	MQTT_LIT(b, ",\"availability\":[{\"topic\":");
	mqtt_json_str(b, m->status_topic);
	if (s->ntags) {
		struct buf at;

		buf_init(&at);
		mqtt_src_topic(m, mqtt_name(s), &at);
		MQTT_LIT(b, "},{\"topic\":");
		mqtt_json_str(b, at.data ? at.data : "");
		buf_free(&at);
		MQTT_LIT(b, "}],\"availability_mode\":\"all\"");
	} else {
		MQTT_LIT(b, "}]");
	}
	MQTT_LIT(b, ",\"payload_available\":\"online\",\"payload_not_available\":\"offline\"");
	MQTT_LIT(b, ",\"device\":{\"identifiers\":[");
	if (s->ntags) {
		mqtt_ha_id(dev, sizeof(dev), "%s_%s", m->node, mqtt_name(s));
		mqtt_json_str(b, dev);
		MQTT_LIT(b, "],\"name\":");
		mqtt_json_str(b, mqtt_name(s));
		MQTT_LIT(b, ",\"manufacturer\":\"powerd\",\"model\":");
		snprintf(dev, sizeof(dev), "powerd %s", s->tags[0].key);
		mqtt_json_str(b, dev);
		MQTT_LIT(b, ",\"sw_version\":");
		mqtt_json_str(b, POWERD_VERSION);
		MQTT_LIT(b, ",\"via_device\":");
		mqtt_json_str(b, m->node);
	} else {
		mqtt_json_str(b, m->node);
		snprintf(dev, sizeof(dev), "powerd %s", m->hostname);
		MQTT_LIT(b, "],\"name\":");
		mqtt_json_str(b, dev);
		MQTT_LIT(b, ",\"manufacturer\":\"powerd\",\"model\":\"powerd\",\"sw_version\":");
		mqtt_json_str(b, POWERD_VERSION);
	}
	MQTT_LIT(b, "}}");
}

static void mqtt_buf_reset(struct buf *b)
{
	b->len = 0;
	if (b->data)
		b->data[0] = '\0';
}

/* ------------------------------------------------- connection thread */

static void mqtt_publish_status(struct mqtt *m, const char *status)
{
	mosquitto_publish(m->mosq, NULL, m->status_topic, (int)strlen(status), status, 1, true);
}

static void mqtt_src_publish(struct mqtt *m, const char *name, bool online)
{
	struct buf t;

	buf_init(&t);
	mqtt_src_topic(m, name, &t);
	if (!t.err && mosquitto_validate_utf8(t.data, (int)t.len) == MOSQ_ERR_SUCCESS)
		mosquitto_publish(m->mosq, NULL, t.data, online ? 6 : 7,
				  online ? "online" : "offline", 1, true);
	buf_free(&t);
}

/* Retained states may have been wiped with the broker's: say them again. */
static void mqtt_src_republish(struct mqtt *m)
{
	bool online[MQTT_SRC_MAX];
	size_t i, n;

	/* Names never change once added: only the states are copied. */
	pthread_mutex_lock(&m->lock);
	n = m->src ? m->nsrc : 0;
	for (i = 0; i < n; i++)
		online[i] = m->src[i].online;
	pthread_mutex_unlock(&m->lock);
	for (i = 0; i < n; i++)
		mqtt_src_publish(m, m->src[i].name, online[i]);
}

static void mqtt_on_connect(struct mosquitto *mosq, void *obj, int rc)
{
	struct mqtt *m = obj;
	size_t i, n;
	bool changed;
	char why[sizeof(m->why)];

	(void)mosq;
	if (rc) {
		mqtt_fmt(why, sizeof(why), "broker %s:%d refused the connection: %s", m->host,
			 m->port, mosquitto_connack_string(rc));
		pthread_mutex_lock(&m->lock);
		changed = strcmp(m->why, why) != 0;
		memcpy(m->why, why, sizeof(why));
		m->why_attempt = m->attempt;
		pthread_mutex_unlock(&m->lock);
		if (changed)
			log_warn("sink %s: %s", m->sink->cfg->name, why);
		return;
	}
	pthread_mutex_lock(&m->lock);
	m->connected = true;
	m->why[0] = '\0';
	m->retry_ns = MQTT_CONN_RETRY_MIN_NS;
	n = m->ndisc;
	pthread_mutex_unlock(&m->lock);
	log_info("sink %s: connected to MQTT broker %s:%d", m->sink->cfg->name, m->host, m->port);

	mqtt_publish_status(m, "online");
	if (m->daemon_topic)
		mosquitto_publish(m->mosq, NULL, m->daemon_topic, (int)strlen(m->daemon_config),
				  m->daemon_config, 1, true);
	mqtt_src_republish(m);
	/* Retained configs may have been wiped (broker restarted without
	 * persistence): publish them again on every connection. */
	for (i = 0; i < n; i++)
		mosquitto_publish(m->mosq, NULL, m->disc[i].topic, (int)strlen(m->disc[i].payload),
				  m->disc[i].payload, 1, true);
}

static void mqtt_on_disconnect(struct mosquitto *mosq, void *obj, int rc)
{
	struct mqtt *m = obj;
	bool was;
	const char *err = mqtt_conn_strerror(rc, errno);

	(void)mosq;
	pthread_mutex_lock(&m->lock);
	was = m->connected;
	m->connected = false;
	m->losses++;
	/* Keep the first reason given for this attempt (a CONNACK refusal, a
	 * TLS error): it is the precise one. */
	if (was) {
		mqtt_fmt(m->why, sizeof(m->why), "connection to %s:%d lost: %s", m->host, m->port,
			 rc ? err : "disconnected");
		m->why_attempt = m->attempt;
	} else if (m->why_attempt != m->attempt) {
		mqtt_fmt(m->why, sizeof(m->why), "cannot connect to %s:%d: %s", m->host, m->port,
			 err);
		m->why_attempt = m->attempt;
	}
	pthread_cond_broadcast(&m->cond);
	pthread_mutex_unlock(&m->lock);
	if (was && rc)
		log_warn("sink %s: connection to MQTT broker %s:%d lost: %s", m->sink->cfg->name,
			 m->host, m->port, err);
	if (m->multi)
		curl_multi_wakeup(m->multi);
}

static void mqtt_on_publish(struct mosquitto *mosq, void *obj, int mid)
{
	struct mqtt *m = obj;
	bool done = false;

	(void)mosq;
	if (mid <= 0 || mid > 65535)
		return;
	pthread_mutex_lock(&m->lock);
	if (mqtt_bit(m->want, mid)) {
		mqtt_bit_set(m->want, mid, false);
		done = --m->unacked == 0;
	} else {
		mqtt_bit_set(m->early, mid, true);
	}
	if (done)
		pthread_cond_broadcast(&m->cond);
	pthread_mutex_unlock(&m->lock);
	if (done && m->multi)
		curl_multi_wakeup(m->multi);
}

/* Errors libmosquitto only logs (TLS verification failures, unreadable CA
 * files) are the best explanation a user gets. */
static void mqtt_on_log(struct mosquitto *mosq, void *obj, int level, const char *str)
{
	struct mqtt *m = obj;

	(void)mosq;
	if (!(level & MOSQ_LOG_ERR))
		return;
	pthread_mutex_lock(&m->lock);
	mqtt_fmt(m->why, sizeof(m->why), "%s:%d: %s", m->host, m->port, str);
	m->why_attempt = m->attempt;
	pthread_mutex_unlock(&m->lock);
	log_debug("sink %s: libmosquitto: %s", m->sink->cfg->name, str);
}

/* The connection is gone or never came.  mosquitto_loop() does not always
 * say so through on_disconnect (TLS errors do not). */
static void mqtt_down(struct mqtt *m, int rc, int err)
{
	bool was;

	pthread_mutex_lock(&m->lock);
	was = m->connected;
	if (was) {
		m->connected = false;
		m->losses++;
		mqtt_fmt(m->why, sizeof(m->why), "connection to %s:%d lost: %s", m->host, m->port,
			 mqtt_conn_strerror(rc, err));
		m->why_attempt = m->attempt;
		pthread_cond_broadcast(&m->cond);
	} else if (m->why_attempt != m->attempt) {
		mqtt_fmt(m->why, sizeof(m->why), "cannot connect to %s:%d: %s", m->host, m->port,
			 mqtt_conn_strerror(rc, err));
		m->why_attempt = m->attempt;
	}
	pthread_mutex_unlock(&m->lock);
	if (was && m->multi)
		curl_multi_wakeup(m->multi);
}

/* Wait before the next connection attempt (1 s, doubling up to 30 s, back
 * to 1 s once connected); false when the sink is closing. */
static bool mqtt_backoff(struct mqtt *m)
{
	return mqtt_conn_backoff(&m->lock, &m->cond, &m->stop, &m->retry_ns);
}

static bool mqtt_stopping(struct mqtt *m)
{
	bool stop;

	pthread_mutex_lock(&m->lock);
	stop = m->stop;
	pthread_mutex_unlock(&m->lock);
	return stop;
}

static void mqtt_attempt(struct mqtt *m)
{
	pthread_mutex_lock(&m->lock);
	m->attempt++;
	pthread_mutex_unlock(&m->lock);
}

/* Connect, run the connection, reconnect: name resolution and connect()
 * never run on the uploader thread. */
static void *mqtt_thread(void *arg)
{
	struct mqtt *m = arg;
	int rc;

	mqtt_attempt(m);
	rc = mosquitto_connect_async(m->mosq, m->host, m->port, MQTT_KEEPALIVE_S);

	while (!mqtt_stopping(m)) {
		if (rc == MOSQ_ERR_SUCCESS) {
			/* Returns at least every second; publish() and
			 * disconnect() from other threads wake it at once. */
			rc = mosquitto_loop(m->mosq, 1000, 1);
			continue;
		}
		mqtt_down(m, rc, errno);
		if (!mqtt_backoff(m))
			break;
		mqtt_attempt(m);
		rc = mosquitto_reconnect_async(m->mosq);
	}
	return NULL;
}

/* ------------------------------------------------------ uploader thread */

/* Record a message id just published: its PUBACK may already be in. */
static void mqtt_track(struct mqtt *m, int mid)
{
	pthread_mutex_lock(&m->lock);
	m->published++;
	if (mid > 0 && mid <= 65535 && mqtt_bit(m->early, mid)) {
		mqtt_bit_set(m->early, mid, false);
	} else if (mid > 0 && mid <= 65535) {
		mqtt_bit_set(m->want, mid, true);
		m->unacked++;
	}
	pthread_mutex_unlock(&m->lock);
}

static void mqtt_batch_begin(struct mqtt *m)
{
	pthread_mutex_lock(&m->lock);
	memset(m->want, 0, sizeof(m->want));
	memset(m->early, 0, sizeof(m->early));
	m->published = m->unacked = 0;
	m->batch_losses = m->losses;
	m->batch = true;
	pthread_mutex_unlock(&m->lock);
}

static uint32_t mqtt_hash(const char *s)
{
	return (uint32_t)hash_str(s);
}

/* A sample of source NAME at ts: the source is online (again). */
static void mqtt_src_seen(struct mqtt *m, const struct sample_view *x)
{
	const char *name = mqtt_name(x);
	struct mqtt_src *r = NULL;
	bool flip = false;
	size_t i;

	if (!x->ntags)
		return; /* no source: the daemon's device */
	pthread_mutex_lock(&m->lock);
	for (i = 0; i < m->nsrc && !r; i++)
		if (!strcmp(m->src[i].name, name))
			r = &m->src[i];
	if (!r && m->nsrc < MQTT_SRC_MAX) {
		r = &m->src[m->nsrc++];
		snprintf(r->name, sizeof(r->name), "%s", name);
		r->last_ns = x->ts_ns;
	}
	if (r) {
		if (x->ts_ns > r->last_ns)
			r->last_ns = x->ts_ns;
		flip = !r->online;
		r->online = true;
	}
	pthread_mutex_unlock(&m->lock);
	if (!r && !m->src_full_logged) {
		log_warn("sink %s: %d sources have an availability topic, no more",
			 m->sink->cfg->name, MQTT_SRC_MAX);
		m->src_full_logged = true;
	}
	if (flip)
		mqtt_src_publish(m, name, true);
}

/* Sources whose newest sample is ha_expire_after older than `newest` (the
 * newest sample of this batch, of any source) are offline.  Sample times,
 * not the clock: a backlog sent late flips nothing it should not. */
static void mqtt_src_stale(struct mqtt *m, int64_t newest)
{
	int64_t limit = m->sink->cfg->ha_expire_after_ns;
	bool off[MQTT_SRC_MAX];
	size_t i, n;

	if (limit <= 0)
		return;
	pthread_mutex_lock(&m->lock);
	n = m->nsrc;
	for (i = 0; i < n; i++) {
		off[i] = m->src[i].online && newest - m->src[i].last_ns > limit;
		if (off[i])
			m->src[i].online = false;
	}
	pthread_mutex_unlock(&m->lock);
	for (i = 0; i < n; i++)
		if (off[i])
			mqtt_src_publish(m, m->src[i].name, false);
}

/* Publish the discovery config of every field of this series not seen yet. */
static void mqtt_discover(struct mqtt *m, const struct sample_view *s, const char *state_topic)
{
	struct sample_cursor c;
	struct sample_field f;

	sample_fields(s, &c);
	while (sample_next_field(&c, &f)) {
		uint32_t slot;
		struct mqtt_disc d;

		mqtt_buf_reset(&m->dtopic);
		mqtt_buf_reset(&m->dpayload);
		mqtt_ha_topic(m, s, &f, &m->dtopic);
		if (m->dtopic.err)
			return;
		for (slot = mqtt_hash(m->dtopic.data) % MQTT_INDEX_SLOTS; m->index[slot];
		     slot = (slot + 1) % MQTT_INDEX_SLOTS)
			if (!strcmp(m->disc[m->index[slot] - 1].topic, m->dtopic.data))
				break;
		if (m->index[slot])
			continue; /* known */
		mqtt_ha_config(m, s, &f, state_topic, &m->dpayload);
		if (m->dpayload.err)
			return;
		if (m->ndisc == MQTT_DISC_MAX) {
			if (!m->disc_full_logged)
				log_warn("sink %s: %d Home Assistant sensors announced, no more",
					 m->sink->cfg->name, MQTT_DISC_MAX);
			m->disc_full_logged = true;
			return;
		}
		d.topic = strdup(m->dtopic.data);
		d.payload = strdup(m->dpayload.data);
		if (!d.topic || !d.payload) {
			free(d.topic);
			free(d.payload);
			return;
		}
		pthread_mutex_lock(&m->lock);
		m->disc[m->ndisc] = d;
		m->index[slot] = (uint32_t)++m->ndisc;
		pthread_mutex_unlock(&m->lock);
		mosquitto_publish(m->mosq, NULL, d.topic, (int)strlen(d.payload), d.payload, 1,
				  true);
	}
}

/* Errors that concern one message, not the connection: retrying cannot help. */
static bool mqtt_message_error(int rc)
{
	return rc == MOSQ_ERR_MALFORMED_UTF8 || rc == MOSQ_ERR_PAYLOAD_SIZE ||
	       rc == MOSQ_ERR_OVERSIZE_PACKET || rc == MOSQ_ERR_INVAL;
}

static int mqtt_send(struct sink *s, const struct sample_span *v)
{
	struct mqtt *m = s->priv;
	struct sample_view x;
	size_t n = v->n;
	char msg[sizeof(m->why) + 32];
	bool connected;
	size_t i, published;
	int64_t newest = 0;
	bool have_newest = false;
	int rc;

	pthread_mutex_lock(&m->lock);
	connected = m->connected;
	snprintf(msg, sizeof(msg), "not connected: %s",
		 m->why[0] ? m->why : "connecting to the broker");
	pthread_mutex_unlock(&m->lock);
	if (!connected) {
		sink_complete(s, SINK_RETRY, msg);
		return 0;
	}

	mqtt_batch_begin(m);
	for (i = 0; i < n; i++) {
		int mid = 0;

		mqtt_buf_reset(&m->topic);
		mqtt_buf_reset(&m->payload);
		if (sample_span_view(v, i, &x) < 0) {
			/* The uploader opened it before: cannot happen. */
			x.measurement = "unreadable";
			rc = -EINVAL;
		} else if (s->cfg->format == CFG_MQTT_PICO)
			rc = mqtt_encode_pico(m, &x, &m->payload);
		else
			rc = mqtt_encode_json(&x, &m->payload);
		if (rc == -ENOENT)
			continue; /* no power_w: nothing in the Pico shape */
		if (rc == 0)
			rc = mqtt_topic(m, &x, &m->topic);
		if (rc == -EINVAL) {
			s->st.dropped_encode++;
			if (!m->topic_bad_logged)
				log_warn("sink %s: a %s sample cannot be sent as MQTT (no finite "
					 "field, or a topic that is not UTF-8); dropped",
					 s->cfg->name, x.measurement);
			m->topic_bad_logged = true;
			continue;
		}
		if (rc) {
			pthread_mutex_lock(&m->lock);
			m->batch = false;
			pthread_mutex_unlock(&m->lock);
			sink_complete(s, SINK_RETRY, "out of memory encoding MQTT messages");
			return 0;
		}
		if (m->discovery) {
			mqtt_src_seen(m, &x);
			if (!have_newest || x.ts_ns > newest)
				newest = x.ts_ns;
			have_newest = true;
			mqtt_discover(m, &x, m->topic.data);
		}
		rc = mosquitto_publish(m->mosq, &mid, m->topic.data, (int)m->payload.len,
				       m->payload.data, 1, false);
		if (rc == MOSQ_ERR_SUCCESS) {
			mqtt_track(m, mid);
			continue;
		}
		if (mqtt_message_error(rc)) {
			/* The first with its reason; the uploader reports the
			 * count, a line a minute at most. */
			s->st.dropped_encode++;
			if (!m->message_bad_logged)
				log_warn("sink %s: broker cannot take a message on %s: %s; dropped",
					 s->cfg->name, m->topic.data, mosquitto_strerror(rc));
			m->message_bad_logged = true;
			continue;
		}
		pthread_mutex_lock(&m->lock);
		m->batch = false;
		published = m->published;
		pthread_mutex_unlock(&m->lock);
		mqtt_fmt(msg, sizeof(msg),
			 "publishing to %s:%d failed after %zu of %zu messages: %s", m->host,
			 m->port, published, n, mosquitto_strerror(rc));
		sink_complete(s, SINK_RETRY, msg);
		return 0;
	}
	if (have_newest)
		mqtt_src_stale(m, newest);
	m->deadline_mono = clock_mono_ns() + s->cfg->timeout_ns;
	return 0;
}

static void mqtt_poll(struct sink *s)
{
	struct mqtt *m = s->priv;
	enum sink_verdict verdict = SINK_OK;
	char msg[sizeof(m->why) + 96] = "";
	bool done = true;

	pthread_mutex_lock(&m->lock);
	if (!m->batch) {
		done = false;
	} else if (m->losses != m->batch_losses) {
		verdict = SINK_RETRY;
		snprintf(msg, sizeof(msg), "%zu of %zu messages unacknowledged: %s", m->unacked,
			 m->published, m->why[0] ? m->why : "connection lost");
	} else if (m->unacked == 0) {
		snprintf(msg, sizeof(msg), "%zu messages acknowledged", m->published);
	} else if (clock_mono_ns() >= m->deadline_mono) {
		verdict = SINK_RETRY;
		snprintf(msg, sizeof(msg),
			 "timeout: %zu of %zu messages unacknowledged by %s:%d after %.1f s",
			 m->unacked, m->published, m->host, m->port,
			 (double)m->sink->cfg->timeout_ns / NS_PER_S);
	} else {
		done = false;
	}
	if (done)
		m->batch = false;
	pthread_mutex_unlock(&m->lock);
	if (done)
		sink_complete(s, verdict, msg);
}

static void mqtt_free(struct mqtt *m)
{
	size_t i;

	if (m->mosq)
		mosquitto_destroy(m->mosq);
	for (i = 0; m->disc && i < m->ndisc; i++) {
		free(m->disc[i].topic);
		free(m->disc[i].payload);
	}
	free(m->disc);
	free(m->index);
	free(m->src);
	free(m->units);
	free(m->daemon_topic);
	free(m->daemon_config);
	buf_free(&m->topic);
	buf_free(&m->payload);
	buf_free(&m->dtopic);
	buf_free(&m->dpayload);
	pthread_cond_destroy(&m->cond);
	pthread_mutex_destroy(&m->lock);
	free(m);
}

/* Say "offline" ourselves (the last will is only for crashes) and wait a
 * little for the broker to have it. */
static void mqtt_say_offline(struct mqtt *m)
{
	struct timespec until;
	int64_t t = clock_mono_ns() + MQTT_CLOSE_WAIT_NS;
	int mid = 0;

	if (m->sink->cfg->timeout_ns < MQTT_CLOSE_WAIT_NS)
		t = clock_mono_ns() + m->sink->cfg->timeout_ns;
	until.tv_sec = t / NS_PER_S;
	until.tv_nsec = t % NS_PER_S;
	mqtt_batch_begin(m);
	if (mosquitto_publish(m->mosq, &mid, m->status_topic, 7, "offline", 1, true) !=
	    MOSQ_ERR_SUCCESS)
		return;
	mqtt_track(m, mid);
	pthread_mutex_lock(&m->lock);
	while (m->unacked && m->connected)
		if (pthread_cond_timedwait(&m->cond, &m->lock, &until) == ETIMEDOUT)
			break;
	m->batch = false;
	pthread_mutex_unlock(&m->lock);
}

static void mqtt_close(struct sink *s)
{
	struct mqtt *m = s->priv;
	bool connected;

	if (!m)
		return;
	pthread_mutex_lock(&m->lock);
	connected = m->connected;
	pthread_mutex_unlock(&m->lock);
	if (connected)
		mqtt_say_offline(m);
	/* DISCONNECT first (the connection thread sends it), so that the
	 * broker drops the last will; then end the thread. */
	mosquitto_disconnect(m->mosq);
	pthread_mutex_lock(&m->lock);
	m->stop = true;
	pthread_cond_broadcast(&m->cond);
	pthread_mutex_unlock(&m->lock);
	if (m->thread_started)
		pthread_join(m->thread, NULL);
	mqtt_free(m);
	mqtt_conn_lib_put();
	s->priv = NULL;
}

static int mqtt_setup(struct mqtt *m)
{
	const struct cfg_sink *c = m->sink->cfg;
	char why[200];
	int r = mqtt_conn_secure(m->mosq, c->username, c->password, c->tls, c->ca_file, why,
				 sizeof(why));

	if (r == -EINVAL) {
		log_err("sink %s: %s", c->name, why);
		sink_set_error(m->sink, "%s", why);
	}
	if (r)
		return r;
	if (mosquitto_will_set(m->mosq, m->status_topic, 7, "offline", 1, true))
		return -EINVAL;
	mosquitto_threaded_set(m->mosq, true);
	mosquitto_int_option(m->mosq, MOSQ_OPT_SEND_MAXIMUM, MQTT_IN_FLIGHT);
	mosquitto_connect_callback_set(m->mosq, mqtt_on_connect);
	mosquitto_disconnect_callback_set(m->mosq, mqtt_on_disconnect);
	mosquitto_publish_callback_set(m->mosq, mqtt_on_publish);
	mosquitto_log_callback_set(m->mosq, mqtt_on_log);
	return 0;
}

static int mqtt_open(struct sink *s)
{
	const struct cfg_sink *c = s->cfg;
	pthread_condattr_t ca;
	struct mqtt *m;
	int rc;

	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->sink = s;
	m->multi = s->multi;
	if (gethostname(m->hostname, sizeof(m->hostname) - 1) || !m->hostname[0])
		snprintf(m->hostname, sizeof(m->hostname), "localhost");
	snprintf(m->host, sizeof(m->host), "%s", c->host[0] ? c->host : "127.0.0.1");
	m->port = c->port ? (int)c->port : c->tls ? 8883 : 1883;
	if (c->client_id[0])
		snprintf(m->client_id, sizeof(m->client_id), "%s", c->client_id);
	else
		snprintf(m->client_id, sizeof(m->client_id), "powerd-%s", m->hostname);
	snprintf(m->status_topic, sizeof(m->status_topic), "%s/status", c->topic_prefix);
	snprintf(m->pico_host, sizeof(m->pico_host), "%s",
		 c->pico_host[0] ? c->pico_host : m->hostname);
	mqtt_ha_id(m->node, sizeof(m->node), "powerd_%s", m->hostname);
	m->discovery = c->ha_discovery && c->format == CFG_MQTT_JSON;
	if (c->ha_discovery && !m->discovery)
		log_warn("sink %s: ha_discovery needs format = json; not announcing sensors",
			 c->name);
	pthread_mutex_init(&m->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&m->cond, &ca);
	pthread_condattr_destroy(&ca);
	buf_init(&m->topic);
	buf_init(&m->payload);
	buf_init(&m->dtopic);
	buf_init(&m->dpayload);
	if (m->discovery) {
		m->disc = calloc(MQTT_DISC_MAX, sizeof(*m->disc));
		m->index = calloc(MQTT_INDEX_SLOTS, sizeof(*m->index));
		m->src = calloc(MQTT_SRC_MAX, sizeof(*m->src));
		if (mqtt_units_load(m)) {
			mqtt_free(m);
			return -ENOMEM;
		}
		mqtt_ha_daemon(m, &m->dtopic, &m->dpayload);
		m->daemon_topic = m->dtopic.err ? NULL : strdup(m->dtopic.data);
		m->daemon_config = m->dpayload.err ? NULL : strdup(m->dpayload.data);
		mqtt_buf_reset(&m->dtopic);
		mqtt_buf_reset(&m->dpayload);
		if (!m->disc || !m->index || !m->src || !m->daemon_topic || !m->daemon_config) {
			mqtt_free(m);
			return -ENOMEM;
		}
	}
	rc = mqtt_conn_lib_get();
	if (rc) {
		mqtt_free(m);
		return rc;
	}
	m->mosq = mosquitto_new(m->client_id, true, m);
	rc = m->mosq ? mqtt_setup(m) : -ENOMEM;
	if (rc) {
		mqtt_free(m);
		mqtt_conn_lib_put();
		return rc;
	}
	/* A broker that is down is no reason to fail: the connection thread
	 * keeps trying, and send() reports SINK_RETRY meanwhile. */
	m->retry_ns = MQTT_CONN_RETRY_MIN_NS;
	rc = pthread_create(&m->thread, NULL, mqtt_thread, m);
	if (rc) {
		log_err("sink %s: cannot start the MQTT thread: %s", c->name, strerror(rc));
		mqtt_free(m);
		mqtt_conn_lib_put();
		return -rc;
	}
	m->thread_started = true;
	s->priv = m;
	return 0;
}

const struct sink_ops sink_mqtt_ops = {
	.type = "mqtt",
	.open = mqtt_open,
	.close = mqtt_close,
	.send = mqtt_send,
	.poll = mqtt_poll,
	.max_batch = MQTT_MAX_BATCH,
};

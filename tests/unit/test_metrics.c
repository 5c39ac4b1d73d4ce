/* The three renderings of the status: Prometheus text (exact lines, label
 * escaping, omitted samples, promtool's verdict), JSON (parsed back) and the
 * HTML page (escaping). */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "buf.h"
#include "check.h"
#include "metrics.h"
#include "page.h"
#include "status.h"
#include "status_json.h"

#define ODD_NAME  "a\"b\\c\nd"
#define ODD_LABEL "a\\\"b\\\\c\\nd"
#define ODD_STATE "<script>alert('x')</script> & more\x1b[31m"

static struct status_meter meters[2];
static struct status_source sources[3];

static void make_status(struct status *st)
{
	struct status_meter *m = &meters[0];

	memset(st, 0, sizeof(*st));
	memset(meters, 0, sizeof(meters));
	strcpy(st->version, "0.1.0");
	strcpy(st->config_path, "/etc/powerd/powerd.conf");
	st->start_unix_s = 1700000000;
	st->uptime_s = 3723.5;
	st->reloads_ok = 2;
	st->reloads_failed = 1;
	st->persist_ok = 5;
	st->persist_failed = 0;
	st->last_persist_unix_s = 1700000100.25;
	st->state_recovered_prev = 1;
	st->rss_bytes = 4194304;
	st->cpu_seconds = 1.5;

	strcpy(m->name, "house");
	strcpy(m->input, "gpiochip0 line 17 (PULSE0)");
	m->impulses_per_kwh = 1000;
	m->power_known = true;
	m->power_w = 1234.5;
	m->flashes = 1000;
	m->energy_wh = 1000;
	m->energy_j = 3600000;
	m->edges = 2003;
	m->glitches = 1;
	m->have_flash = true;
	m->last_flash_age_s = 3.25;
	m->last_flash_unix_s = 1700000000.5;
	strcpy(m->state, "ok");

	m = &meters[1];
	strcpy(m->name, ODD_NAME);
	strcpy(m->input, "replay /tmp/x&y.trace");
	m->replay = true;
	m->impulses_per_kwh = 800;
	m->events_lost = 4;
	m->input_errors = 2;
	strcpy(m->state, ODD_STATE);

	st->meters = meters;
	st->nmeters = 2;

	/* Two pulse sources (the meters) and one of another kind. */
	memset(sources, 0, sizeof(sources));
	strcpy(sources[0].name, "house");
	strcpy(sources[0].kind, "pulse");
	strcpy(sources[0].state, "ok");
	strcpy(sources[0].detail, "gpiochip0 line 17 (PULSE0)");
	sources[0].up = true;
	sources[0].samples = 999;
	sources[0].last_sample_unix_s = 1700000000.5;
	sources[0].nerrors = 2;
	strcpy(sources[0].errors[0].reason, "open");
	sources[0].errors[0].n = 3;
	strcpy(sources[0].errors[1].reason, "events_lost");
	sources[0].meter = 0;
	strcpy(sources[1].name, ODD_NAME);
	strcpy(sources[1].kind, "pulse");
	strcpy(sources[1].state, "error");
	strcpy(sources[1].detail, ODD_STATE);
	sources[1].meter = 1;
	strcpy(sources[2].name, "pp1");
	strcpy(sources[2].kind, "json");
	strcpy(sources[2].state, "backlog");
	strcpy(sources[2].detail, "412 of 8640 files, 3 min left");
	sources[2].up = true;
	sources[2].samples = 4532;
	sources[2].nerrors = 1;
	strcpy(sources[2].errors[0].reason, "not_json");
	sources[2].errors[0].n = 1;
	sources[2].meter = -1;
	st->sources = sources;
	st->nsources = 3;
	strcpy(st->rings[0].name, "edges");
	st->rings[0].capacity = 4096;
	st->rings[0].used = 3;
	st->rings[0].dropped = 7;
	st->nrings = 1;
	strcpy(st->http[0].listener, "tcp");
	st->http[0].connections = 3;
	st->http[0].cut_slow_request = 12;
	strcpy(st->http[1].listener, "unix");
	st->nhttp = 2;
}

/* A whole line, not a prefix of a longer one. */
static bool has_line(const char *text, const char *line)
{
	size_t n = strlen(line);
	const char *p = text;

	while ((p = strstr(p, line))) {
		if ((p == text || p[-1] == '\n') && (p[n] == '\n' || p[n] == '\0'))
			return true;
		p++;
	}
	return false;
}

static bool has_prefix_line(const char *text, const char *prefix)
{
	const char *p = text;

	while ((p = strstr(p, prefix))) {
		if (p == text || p[-1] == '\n')
			return true;
		p++;
	}
	return false;
}

static char *render_metrics(const struct status *st)
{
	struct buf b;

	buf_init(&b);
	CHECK_EQ_INT(metrics_render(st, &b), 0);
	return buf_steal(&b);
}

/* promtool's lint is the acceptance test for /metrics: no finding at all. */
static void promtool_check(const char *text)
{
	char in[] = "/tmp/powerd-metrics-XXXXXX", out[] = "/tmp/powerd-promtool-XXXXXX";
	char cmd[256];
	int fd, ofd, rc;
	FILE *f;
	long size;

	if (system("command -v promtool >/dev/null 2>&1") != 0) {
		printf("promtool not found, lint skipped\n");
		return;
	}
	fd = mkstemp(in);
	ofd = mkstemp(out);
	CHECK(fd >= 0 && ofd >= 0);
	if (fd < 0 || ofd < 0)
		return;
	CHECK_EQ_INT(write(fd, text, strlen(text)), (long long)strlen(text));
	close(fd);
	close(ofd);
	snprintf(cmd, sizeof(cmd), "promtool check metrics < %s > %s 2>&1", in, out);
	rc = system(cmd);
	CHECK_EQ_INT(rc, 0);
	f = fopen(out, "r");
	CHECK(f != NULL);
	if (f) {
		fseek(f, 0, SEEK_END);
		size = ftell(f);
		CHECK_EQ_INT(size, 0);
		if (size > 0) {
			char line[512];

			rewind(f);
			while (fgets(line, sizeof(line), f))
				fprintf(stderr, "promtool: %s", line);
		}
		fclose(f);
	}
	unlink(in);
	unlink(out);
}

static void test_metrics(void)
{
	struct status st;
	char *t;

	make_status(&st);
	t = render_metrics(&st);
	CHECK(t != NULL);
	if (!t)
		return;
	CHECK(has_line(t, "# TYPE powerd_pulse_energy_joules_total counter"));
	CHECK(has_prefix_line(t, "# HELP powerd_pulse_energy_joules_total "));
	CHECK(has_line(t, "powerd_pulse_energy_joules_total{meter=\"house\"} 3600000"));
	CHECK(has_line(t, "powerd_pulse_energy_joules_total{meter=\"" ODD_LABEL "\"} 0"));
	CHECK(has_line(t, "powerd_pulse_power_watts{meter=\"house\"} 1234.5"));
	CHECK(!has_prefix_line(t, "powerd_pulse_power_watts{meter=\"" ODD_LABEL "\"}"));
	CHECK(has_line(t, "powerd_pulse_flashes_total{meter=\"house\"} 1000"));
	/* Every source, whatever its kind. */
	CHECK(has_line(t, "powerd_source_up{source=\"house\",kind=\"pulse\"} 1"));
	CHECK(has_line(t, "powerd_source_up{source=\"pp1\",kind=\"json\"} 1"));
	CHECK(has_line(t, "powerd_source_up{source=\"" ODD_LABEL "\",kind=\"pulse\"} 0"));
	CHECK(has_line(t, "powerd_source_state{source=\"pp1\",kind=\"json\",state=\"backlog\"} 1"));
	CHECK(has_line(t, "powerd_source_state{source=\"pp1\",kind=\"json\",state=\"ok\"} 0"));
	CHECK(has_line(t, "powerd_source_samples_total{source=\"pp1\",kind=\"json\"} 4532"));
	CHECK(has_line(
		t,
		"powerd_source_errors_total{source=\"house\",kind=\"pulse\",reason=\"open\"} 3"));
	CHECK(has_line(
		t,
		"powerd_source_errors_total{source=\"pp1\",kind=\"json\",reason=\"not_json\"} 1"));
	CHECK(has_line(t, "powerd_source_last_sample_timestamp_seconds{source=\"house\",kind="
			  "\"pulse\"} 1700000000.5"));
	CHECK(!strstr(t, "powerd_source_last_sample_timestamp_seconds{source=\"pp1\""));
	CHECK(has_line(t, "powerd_pulse_edges_total{meter=\"house\"} 2003"));
	CHECK(has_line(t, "powerd_pulse_glitches_total{meter=\"house\"} 1"));
	CHECK(has_line(t, "powerd_pulse_events_lost_total{meter=\"" ODD_LABEL "\"} 4"));
	CHECK(has_line(t, "powerd_pulse_input_errors_total{meter=\"" ODD_LABEL "\"} 2"));
	CHECK(has_line(t, "powerd_pulse_last_flash_timestamp_seconds{meter=\"house\"} "
			  "1700000000.5"));
	CHECK(!has_prefix_line(t, "powerd_pulse_last_flash_timestamp_seconds{meter=\"" ODD_LABEL));
	CHECK(has_line(t, "powerd_pulse_impulses_per_kwh{meter=\"" ODD_LABEL "\"} 800"));
	CHECK(has_line(t, "powerd_ring_capacity{ring=\"edges\"} 4096"));
	CHECK(has_line(t, "powerd_ring_used{ring=\"edges\"} 3"));
	CHECK(has_line(t, "powerd_ring_dropped_total{ring=\"edges\"} 7"));
	CHECK(has_line(t, "# TYPE powerd_http_connections gauge"));
	CHECK(has_line(t, "powerd_http_connections{listener=\"tcp\"} 3"));
	CHECK(has_line(t, "powerd_http_connections{listener=\"unix\"} 0"));
	CHECK(has_line(t, "# TYPE powerd_http_connections_cut_total counter"));
	CHECK(has_line(
		t, "powerd_http_connections_cut_total{listener=\"tcp\",reason=\"slow_request\"} "
		   "12"));
	CHECK(has_line(
		t, "powerd_http_connections_cut_total{listener=\"unix\",reason=\"slow_request\"} "
		   "0"));
	CHECK(has_line(t, "powerd_build_info{version=\"0.1.0\"} 1"));
	CHECK(has_line(t, "powerd_start_time_seconds 1700000000"));
	CHECK(has_line(t, "powerd_config_reloads_total{result=\"ok\"} 2"));
	CHECK(has_line(t, "powerd_config_reloads_total{result=\"error\"} 1"));
	CHECK(has_line(t, "powerd_state_persist_total{result=\"error\"} 0"));
	CHECK(has_line(t, "powerd_state_last_persist_timestamp_seconds 1700000100.25"));
	CHECK(has_line(t, "powerd_state_recovered_total{from=\"prev\"} 1"));
	CHECK(has_line(t, "powerd_state_recovered_total{from=\"zero\"} 0"));
	CHECK(has_line(t, "process_resident_memory_bytes 4194304"));
	CHECK(has_line(t, "process_cpu_seconds_total 1.5"));
	/* A raw newline from the name would have split a sample line. */
	CHECK(!has_prefix_line(t, "d\"}"));
	promtool_check(t);
	free(t);

	/* Facts that are unknown are left out, not reported as 0. */
	st.last_persist_unix_s = 0;
	st.rss_bytes = -1;
	t = render_metrics(&st);
	CHECK(t && !strstr(t, "powerd_state_last_persist_timestamp_seconds"));
	CHECK(t && !strstr(t, "process_resident_memory_bytes"));
	free(t);

	/* No meter has flashed yet: no family without a sample. */
	meters[0].have_flash = false;
	meters[0].power_known = false;
	t = render_metrics(&st);
	CHECK(t && !strstr(t, "powerd_pulse_power_watts"));
	CHECK(t && !strstr(t, "powerd_pulse_last_flash_timestamp_seconds"));
	if (t)
		promtool_check(t);
	free(t);

	/* Nothing configured at all is still a valid exposition. */
	st.nmeters = 0;
	st.nrings = 0;
	st.nhttp = 0;
	t = render_metrics(&st);
	CHECK(t && strstr(t, "powerd_build_info"));
	CHECK(t && !strstr(t, "powerd_http_"));
	if (t)
		promtool_check(t);
	free(t);
}

/* A Modbus source's own families: by source, exceptions by code (those
 * seen only), the connection. */
static void test_metrics_modbus(void)
{
	struct status st;
	struct status_modbus *m = &sources[2].modbus;
	char *t;

	make_status(&st);
	strcpy(sources[2].name, "inv");
	strcpy(sources[2].kind, "modbus");
	m->present = true;
	strcpy(m->device, "192.168.1.50:502");
	m->unit = -1;
	m->polls = 10;
	m->requests = 21;
	m->replies = 17;
	m->written = 1;
	m->exceptions[2] = 3;
	t = render_metrics(&st);
	CHECK(t != NULL);
	if (!t)
		return;
	CHECK(has_line(t, "# TYPE powerd_modbus_polls_total counter"));
	CHECK(has_line(t, "powerd_modbus_polls_total{source=\"inv\"} 10"));
	CHECK(has_line(t, "powerd_modbus_requests_total{source=\"inv\"} 21"));
	CHECK(has_line(t, "powerd_modbus_replies_total{source=\"inv\"} 17"));
	CHECK(has_line(t, "powerd_modbus_written_total{source=\"inv\"} 1"));
	CHECK(has_line(t, "powerd_modbus_exceptions_total{source=\"inv\",code=\"2\"} 3"));
	CHECK(!strstr(t, "code=\"1\""));
	CHECK(has_line(t, "powerd_modbus_connected{source=\"inv\"} 0"));
	CHECK(!strstr(t, "powerd_modbus_polls_total{source=\"house\"}"));
	promtool_check(t);
	free(t);
	memset(m, 0, sizeof(*m));
}

/* Values must reach the scraper as the same double, without %g rounding
 * (energy) or %.17g noise. */
static void test_metrics_numbers(void)
{
	static const double values[] = {0.1 + 0.2,	     1.0 / 3.0, 3600000.0 * 7 / 800,
					123456789.123456789, 1e-300,	5e21};
	struct status st;
	size_t i;

	for (i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
		const char *key = "powerd_pulse_energy_joules_total{meter=\"house\"} ";
		char *t, *p;

		make_status(&st);
		st.nmeters = 1;
		meters[0].energy_j = values[i];
		t = render_metrics(&st);
		p = t ? strstr(t, key) : NULL;
		CHECK(p != NULL);
		if (p) {
			char *end;
			double v = strtod(p + strlen(key), &end);

			CHECK(v == values[i]);
			CHECK(*end == '\n');
		}
		free(t);
	}
	make_status(&st);
	meters[0].energy_j = 0.3;
	st.nmeters = 1;
	{
		char *t = render_metrics(&st);

		CHECK(t && has_line(t, "powerd_pulse_energy_joules_total{meter=\"house\"} 0.3"));
		free(t);
	}
}

static void test_json(void)
{
	struct status st;
	cJSON *root, *d, *src, *m0, *m1, *ring, *sinks, *persist, *http;
	char *t;

	make_status(&st);
	t = status_json(&st);
	CHECK(t != NULL);
	root = t ? cJSON_Parse(t) : NULL;
	CHECK(root != NULL);
	if (!root) {
		free(t);
		return;
	}
	d = cJSON_GetObjectItemCaseSensitive(root, "daemon");
	CHECK(cJSON_IsObject(d));
	CHECK(!strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(d, "version")), "0.1.0"));
	CHECK(!strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(d, "config")),
		      "/etc/powerd/powerd.conf"));
	CHECK_NEAR(cJSON_GetNumberValue(cJSON_GetObjectItem(d, "uptime_s")), 3723.5, 0);
	CHECK_NEAR(cJSON_GetNumberValue(
			   cJSON_GetObjectItem(cJSON_GetObjectItem(d, "reloads"), "error")),
		   1, 0);
	persist = cJSON_GetObjectItem(d, "persist");
	CHECK_NEAR(cJSON_GetNumberValue(cJSON_GetObjectItem(persist, "ok")), 5, 0);
	CHECK_NEAR(cJSON_GetNumberValue(cJSON_GetObjectItem(persist, "last_time")), 1700000100.25,
		   0);
	CHECK_NEAR(cJSON_GetNumberValue(cJSON_GetObjectItem(d, "rss_bytes")), 4194304, 0);

	src = cJSON_GetObjectItemCaseSensitive(root, "sources");
	CHECK(cJSON_IsArray(src));
	CHECK_EQ_INT(cJSON_GetArraySize(src), 3);
	m0 = cJSON_GetArrayItem(src, 0);
	m1 = cJSON_GetArrayItem(src, 1);
	CHECK(!strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(m0, "name")), "house"));
	CHECK(!strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(m0, "kind")), "pulse"));
	CHECK(cJSON_IsFalse(cJSON_GetObjectItem(m0, "replay")));
	CHECK(cJSON_IsTrue(cJSON_GetObjectItem(m1, "replay")));
	CHECK_NEAR(cJSON_GetNumberValue(cJSON_GetObjectItem(m0, "power_w")), 1234.5, 0);
	CHECK_NEAR(cJSON_GetNumberValue(cJSON_GetObjectItem(m0, "energy_j")), 3600000, 0);
	CHECK_NEAR(cJSON_GetNumberValue(cJSON_GetObjectItem(m0, "energy_wh")), 1000, 0);
	CHECK_NEAR(cJSON_GetNumberValue(cJSON_GetObjectItem(m0, "flashes")), 1000, 0);
	CHECK_NEAR(cJSON_GetNumberValue(cJSON_GetObjectItem(m0, "edges")), 2003, 0);
	CHECK_NEAR(cJSON_GetNumberValue(cJSON_GetObjectItem(m0, "last_flash_age_s")), 3.25, 0);
	CHECK_NEAR(cJSON_GetNumberValue(cJSON_GetObjectItem(m0, "last_flash_time")), 1700000000.5,
		   0);
	CHECK_NEAR(cJSON_GetNumberValue(cJSON_GetObjectItem(m0, "impulses_per_kwh")), 1000, 0);
	CHECK(!strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(m0, "state")), "ok"));
	CHECK(!strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(m0, "summary")), "ok"));
	CHECK(cJSON_IsTrue(cJSON_GetObjectItem(m0, "up")));
	CHECK_NEAR(cJSON_GetNumberValue(cJSON_GetObjectItem(m0, "samples")), 999, 0);
	CHECK_NEAR(cJSON_GetNumberValue(cJSON_GetObjectItem(m0, "last_sample_time")), 1700000000.5,
		   0);
	CHECK_NEAR(cJSON_GetNumberValue(
			   cJSON_GetObjectItem(cJSON_GetObjectItem(m0, "errors"), "open")),
		   3, 0);
	CHECK(!strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(m1, "name")), ODD_NAME));
	CHECK(!strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(m1, "state")), "error"));
	CHECK(!strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(m1, "detail")), ODD_STATE));
	CHECK(!strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(m1, "summary")), ODD_STATE));
	CHECK(cJSON_IsFalse(cJSON_GetObjectItem(m1, "up")));
	{
		cJSON *j = cJSON_GetArrayItem(src, 2);

		/* Not a meter: the generic fields only. */
		CHECK(!strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(j, "kind")), "json"));
		CHECK(!strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(j, "state")), "backlog"));
		CHECK(cJSON_IsNull(cJSON_GetObjectItem(j, "last_sample_time")));
		CHECK(cJSON_GetObjectItem(j, "flashes") == NULL);
		CHECK_NEAR(cJSON_GetNumberValue(cJSON_GetObjectItem(
				   cJSON_GetObjectItem(j, "errors"), "not_json")),
			   1, 0);
	}
	CHECK(cJSON_IsNull(cJSON_GetObjectItem(m1, "power_w")));
	CHECK(cJSON_IsNull(cJSON_GetObjectItem(m1, "last_flash_age_s")));
	CHECK(cJSON_IsNull(cJSON_GetObjectItem(m1, "last_flash_time")));
	CHECK_NEAR(cJSON_GetNumberValue(cJSON_GetObjectItem(m1, "events_lost")), 4, 0);
	CHECK_NEAR(cJSON_GetNumberValue(cJSON_GetObjectItem(m1, "input_errors")), 2, 0);

	ring = cJSON_GetArrayItem(cJSON_GetObjectItem(root, "rings"), 0);
	CHECK_EQ_INT(cJSON_GetArraySize(cJSON_GetObjectItem(root, "rings")), 1);
	CHECK(!strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(ring, "name")), "edges"));
	CHECK_NEAR(cJSON_GetNumberValue(cJSON_GetObjectItem(ring, "capacity")), 4096, 0);
	CHECK_NEAR(cJSON_GetNumberValue(cJSON_GetObjectItem(ring, "dropped")), 7, 0);
	sinks = cJSON_GetObjectItem(root, "sinks");
	CHECK(cJSON_IsArray(sinks) && cJSON_GetArraySize(sinks) == 0);
	http = cJSON_GetObjectItem(root, "http");
	CHECK(cJSON_IsArray(http) && cJSON_GetArraySize(http) == 2);
	http = cJSON_GetArrayItem(http, 0);
	CHECK(!strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(http, "listener")) ?: "", "tcp"));
	CHECK_NEAR(cJSON_GetNumberValue(cJSON_GetObjectItem(http, "connections")), 3, 0);
	CHECK_NEAR(cJSON_GetNumberValue(
			   cJSON_GetObjectItem(cJSON_GetObjectItem(http, "cut"), "slow_request")),
		   12, 0);
	cJSON_Delete(root);
	free(t);

	st.last_persist_unix_s = 0;
	t = status_json(&st);
	root = t ? cJSON_Parse(t) : NULL;
	persist = cJSON_GetObjectItem(cJSON_GetObjectItem(root, "daemon"), "persist");
	CHECK(cJSON_IsNull(cJSON_GetObjectItem(persist, "last_time")));
	cJSON_Delete(root);
	free(t);
}

static void test_page(void)
{
	struct status st;
	struct buf b;
	char *t;

	make_status(&st);
	buf_init(&b);
	CHECK_EQ_INT(page_render(&st, &b), 0);
	t = buf_steal(&b);
	CHECK(t != NULL);
	if (!t)
		return;
	/* Without JavaScript it reloads itself; the one script is /page.js. */
	CHECK(strstr(t, "<noscript><meta http-equiv=\"refresh\" content=\"10\"></noscript>") !=
	      NULL);
	CHECK(strstr(t, "<script src=\"/page.js\" defer></script>") != NULL);
	CHECK(strstr(t, "<div class=\"card meter\"><h3>house</h3>") != NULL);
	CHECK(strstr(t, "<svg class=\"plot\"") != NULL);
	CHECK(strstr(t, "a&quot;b\\c\nd") != NULL);
	CHECK(strstr(t, "a\"b") == NULL);
	CHECK(strstr(t, "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; more&#xFFFD;[31m") !=
	      NULL);
	CHECK(strstr(t, "<script>") == NULL && strstr(t, "<script") == strstr(t, "<script src"));
	{
		const char *first = strstr(t, "<script");

		CHECK(first && !strstr(first + 1, "<script"));
	}
	CHECK(strstr(t, "replay /tmp/x&amp;y.trace") != NULL);
	/* The source of another kind, in the same table. */
	CHECK(strstr(t, "<h3>pp1 <span class=\"sub\">json</span></h3>") != NULL);
	CHECK(strstr(t, "backlog: 412 of 8640 files, 3 min left") != NULL);
	CHECK(strstr(t, "1234.5 W") != NULL);
	CHECK(strstr(t, "1.000 kWh") != NULL);
	CHECK(strstr(t, "3.2 s ago") != NULL);
	CHECK(strstr(t, "never") != NULL);
	CHECK(strstr(t, "1 h 02 min") != NULL);
	CHECK(strstr(t, "2023-11-14 22:13:20 UTC") != NULL);
	CHECK(strstr(t, "http://") == NULL && strstr(t, "https://") == NULL);
	CHECK(strstr(t, "</html>") != NULL);
	free(t);
}

/* An [eg4.NAME] source's own figures, on /metrics and under "eg4". */
static void test_eg4(void)
{
	static struct status_source src[2];
	struct status st;
	cJSON *root, *e;
	char *t;

	memset(&st, 0, sizeof(st));
	memset(src, 0, sizeof(src));
	strcpy(src[0].name, "inverter");
	strcpy(src[0].kind, "eg4");
	strcpy(src[0].state, "ok");
	src[0].meter = -1;
	src[0].nerrors = 1;
	strcpy(src[0].errors[0].reason, "datalog_mismatch");
	src[0].errors[0].n = 2;
	src[0].eg4 = (struct status_eg4){.present = true,
					 .host = "192.168.1.60",
					 .port = 8000,
					 .datalog = "BA12345678",
					 .inverter = "",
					 .connected = true,
					 .connects = 3,
					 .bytes = 4096,
					 .frames = 25,
					 .heartbeats = 7,
					 .heartbeats_echoed = 6,
					 .polls = 4,
					 .requests = 16,
					 .replies = 15,
					 .foreign = 2,
					 .pushes = 1};
	strcpy(src[1].name, "json");
	strcpy(src[1].kind, "json");
	src[1].meter = -1;
	st.sources = src;
	st.nsources = 2;
	t = render_metrics(&st);
	CHECK(t != NULL);
	if (!t)
		return;
	CHECK(has_line(t, "# TYPE powerd_eg4_frames_total counter"));
	CHECK(has_line(t, "powerd_eg4_connects_total{source=\"inverter\"} 3"));
	CHECK(has_line(t, "powerd_eg4_bytes_total{source=\"inverter\"} 4096"));
	CHECK(has_line(t, "powerd_eg4_frames_total{source=\"inverter\"} 25"));
	CHECK(has_line(t, "powerd_eg4_heartbeats_total{source=\"inverter\"} 7"));
	CHECK(has_line(t, "powerd_eg4_heartbeats_echoed_total{source=\"inverter\"} 6"));
	CHECK(has_line(t, "powerd_eg4_polls_total{source=\"inverter\"} 4"));
	CHECK(has_line(t, "powerd_eg4_requests_total{source=\"inverter\"} 16"));
	CHECK(has_line(t, "powerd_eg4_replies_total{source=\"inverter\"} 15"));
	CHECK(has_line(t, "powerd_eg4_foreign_replies_total{source=\"inverter\"} 2"));
	CHECK(has_line(t, "powerd_eg4_pushes_total{source=\"inverter\"} 1"));
	CHECK(has_line(t, "powerd_eg4_connected{source=\"inverter\"} 1"));
	CHECK(has_line(t, "powerd_source_errors_total{source=\"inverter\",kind=\"eg4\","
			  "reason=\"datalog_mismatch\"} 2"));
	CHECK(!strstr(t, "powerd_eg4_frames_total{source=\"json\"}"));
	promtool_check(t);
	free(t);

	t = status_json(&st);
	root = t ? cJSON_Parse(t) : NULL;
	CHECK(root != NULL);
	e = cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(root, "sources"), 0), "eg4");
	CHECK(cJSON_IsObject(e));
	CHECK(!strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(e, "host")), "192.168.1.60"));
	CHECK(!strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(e, "datalog")), "BA12345678"));
	CHECK(!strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(e, "inverter")), ""));
	CHECK(cJSON_IsTrue(cJSON_GetObjectItem(e, "connected")));
	CHECK_NEAR(cJSON_GetNumberValue(cJSON_GetObjectItem(e, "port")), 8000, 0);
	CHECK_NEAR(cJSON_GetNumberValue(cJSON_GetObjectItem(e, "heartbeats_echoed")), 6, 0);
	CHECK_NEAR(cJSON_GetNumberValue(cJSON_GetObjectItem(e, "foreign_replies")), 2, 0);
	CHECK_NEAR(cJSON_GetNumberValue(cJSON_GetObjectItem(e, "pushes")), 1, 0);
	CHECK(cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(root, "sources"), 1),
				  "eg4") == NULL);
	cJSON_Delete(root);
	free(t);
}

int main(void)
{
	test_metrics();
	test_metrics_modbus();
	test_metrics_numbers();
	test_json();
	test_eg4();
	test_page();
	return check_result();
}

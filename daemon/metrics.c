#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fmt.h"
#include "metrics.h"
#include "source_can.h"

/* One metric family.  The header is written with the first sample, so a
 * family with nothing to report (no meter has flashed yet) is left out
 * instead of announcing a metric that has no value. */
struct metrics_family {
	const char *name;
	const char *type;
	const char *help;
	bool started;
};

#define METRICS_FAMILY(n, t, h)                                                                    \
	{                                                                                          \
		.name = (n), .type = (t), .help = (h)                                              \
	}

static void metrics_label_value(struct buf *b, const char *s)
{
	const char *run = s;

	for (; *s; s++) {
		const char *esc;

		switch (*s) {
		case '\\':
			esc = "\\\\";
			break;
		case '"':
			esc = "\\\"";
			break;
		case '\n':
			esc = "\\n";
			break;
		default:
			continue;
		}
		buf_append(b, run, (size_t)(s - run));
		buf_append(b, esc, 2);
		run = s + 1;
	}
	buf_append(b, run, (size_t)(s - run));
}

/* Exactly the energy the daemon counted: the shortest text that parses back
 * to the same double (fmt.h), without %.17g noise such as 0.10000000000000001. */
static void metrics_double(struct buf *b, double v)
{
	char s[FMT_DOUBLE_MAX];

	if (isnan(v)) {
		buf_append(b, "NaN", 3);
		return;
	}
	if (isinf(v)) {
		buf_append(b, v > 0 ? "+Inf" : "-Inf", 4);
		return;
	}
	buf_append(b, s, fmt_double(s, sizeof(s), v));
}

/* Writes the family header if needed, the name and the label set; the
 * caller appends the value. */
static void metrics_begin(struct buf *b, struct metrics_family *f, const char *key,
			  const char *value)
{
	if (!f->started) {
		buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", f->name, f->help, f->name, f->type);
		f->started = true;
	}
	buf_append(b, f->name, strlen(f->name));
	if (key) {
		buf_printf(b, "{%s=\"", key);
		metrics_label_value(b, value);
		buf_append(b, "\"}", 2);
	}
	buf_append(b, " ", 1);
}

static void metrics_u64(struct buf *b, struct metrics_family *f, const char *key, const char *value,
			uint64_t v)
{
	metrics_begin(b, f, key, value);
	buf_printf(b, "%" PRIu64 "\n", v);
}

static void metrics_f64(struct buf *b, struct metrics_family *f, const char *key, const char *value,
			double v)
{
	metrics_begin(b, f, key, value);
	metrics_double(b, v);
	buf_append(b, "\n", 1);
}

/* Two labels: {k1="v1",k2="v2"}. */
static void metrics_u64_2(struct buf *b, struct metrics_family *f, const char *k1, const char *v1,
			  const char *k2, const char *v2, uint64_t v)
{
	if (!f->started) {
		buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", f->name, f->help, f->name, f->type);
		f->started = true;
	}
	buf_printf(b, "%s{%s=\"", f->name, k1);
	metrics_label_value(b, v1);
	buf_printf(b, "\",%s=\"", k2);
	metrics_label_value(b, v2);
	buf_printf(b, "\"} %" PRIu64 "\n", v);
}

/* Any number of labels, {k1="v1",k2="v2",...}; the caller appends the value. */
static void metrics_labels(struct buf *b, struct metrics_family *f, size_t n,
			   const char *const *keys, const char *const *values)
{
	size_t i;

	if (!f->started) {
		buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", f->name, f->help, f->name, f->type);
		f->started = true;
	}
	buf_append(b, f->name, strlen(f->name));
	for (i = 0; i < n; i++) {
		buf_printf(b, "%s%s=\"", i ? "," : "{", keys[i]);
		metrics_label_value(b, values[i]);
		buf_append(b, "\"", 1);
	}
	buf_append(b, n ? "} " : " ", n ? 2 : 1);
}

/* Every source, whatever its kind: up, state, samples, errors by reason and
 * the time of the last sample, labelled {source, kind}. */
static void metrics_sources(const struct status *st, struct buf *b)
{
	static const char *const states[] = {"starting", "ok",	 "connecting",
					     "error",	 "idle", "backlog"};
	static const char *const k2[] = {"source", "kind"};
	static const char *const k3s[] = {"source", "kind", "state"};
	static const char *const k3r[] = {"source", "kind", "reason"};
	struct metrics_family up = METRICS_FAMILY(
		"powerd_source_up", "gauge",
		"1 while the source does its job (ok, idle or backlog), 0 while it starts, "
		"connects or fails.");
	struct metrics_family state = METRICS_FAMILY("powerd_source_state", "gauge",
						     "1 for the state the source is in, else 0.");
	struct metrics_family samples = METRICS_FAMILY("powerd_source_samples_total", "counter",
						       "Samples made from the source since start.");
	struct metrics_family errors = METRICS_FAMILY(
		"powerd_source_errors_total", "counter",
		"Errors of the source since start, by reason (bad input, read or open failures, "
		"lost events).");
	struct metrics_family last =
		METRICS_FAMILY("powerd_source_last_sample_timestamp_seconds", "gauge",
			       "Unix time of the last sample made from the source.");
	struct metrics_family left = METRICS_FAMILY(
		"powerd_source_backlog_remaining", "gauge",
		"Items (files) of stored data the source has still to read; 0 when it has none.");
	struct metrics_family energy = METRICS_FAMILY(
		"powerd_source_energy_joules_total", "counter",
		"Energy integrated from a source's power field (`integrate`), persisted across "
		"restarts; field is the energy field its samples carry (in Wh).");
	static const char *const k4e[] = {"source", "kind", "measurement", "field"};
	size_t i, j;

	for (i = 0; i < st->nsources; i++) {
		const struct status_source *s = &st->sources[i];
		const char *v[] = {s->name, s->kind, NULL};

		metrics_labels(b, &up, 2, k2, v);
		buf_printf(b, "%d\n", s->up ? 1 : 0);
	}
	for (i = 0; i < st->nsources; i++)
		for (j = 0; j < sizeof(states) / sizeof(states[0]); j++) {
			const struct status_source *s = &st->sources[i];
			const char *v[] = {s->name, s->kind, states[j]};

			metrics_labels(b, &state, 3, k3s, v);
			buf_printf(b, "%d\n", !strcmp(s->state, states[j]));
		}
	for (i = 0; i < st->nsources; i++) {
		const struct status_source *s = &st->sources[i];
		const char *v[] = {s->name, s->kind};

		metrics_labels(b, &samples, 2, k2, v);
		buf_printf(b, "%" PRIu64 "\n", s->samples);
	}
	for (i = 0; i < st->nsources; i++) {
		const struct status_source *s = &st->sources[i];

		for (j = 0; j < s->nerrors && j < STATUS_SOURCE_REASONS; j++) {
			const char *v[] = {s->name, s->kind, s->errors[j].reason};

			metrics_labels(b, &errors, 3, k3r, v);
			buf_printf(b, "%" PRIu64 "\n", s->errors[j].n);
		}
	}
	for (i = 0; i < st->nsources; i++) {
		const struct status_source *s = &st->sources[i];
		const char *v[] = {s->name, s->kind};

		if (s->last_sample_unix_s <= 0)
			continue;
		metrics_labels(b, &last, 2, k2, v);
		metrics_double(b, s->last_sample_unix_s);
		buf_append(b, "\n", 1);
	}
	for (i = 0; i < st->nsources; i++) {
		const struct status_source *s = &st->sources[i];
		const char *v[] = {s->name, s->kind};

		metrics_labels(b, &left, 2, k2, v);
		buf_printf(b, "%" PRIu64 "\n",
			   s->progress_total > s->progress_done
				   ? s->progress_total - s->progress_done
				   : 0);
	}
	for (i = 0; i < st->nsources; i++) {
		const struct status_source *s = &st->sources[i];

		for (j = 0; j < s->nenergy; j++) {
			const char *v[] = {s->name, s->kind, s->energy[j].measurement,
					   s->energy[j].field};

			metrics_labels(b, &energy, 4, k4e, v);
			metrics_double(b, s->energy[j].joules);
			buf_append(b, "\n", 1);
		}
	}
}

/* The [can.NAME] sources' own figures, labelled {source} (and {state}). */
static void metrics_can(const struct status *st, struct buf *b)
{
	static const struct {
		const char *name, *type, *help;
		size_t off;
	} c[] = {
		{"powerd_can_frames_total", "counter", "CAN frames received (or replayed).",
		 offsetof(struct status_can, frames)},
		{"powerd_can_bytes_total", "counter", "Data bytes of those frames.",
		 offsetof(struct status_can, bytes)},
		{"powerd_can_kernel_drops_total", "counter",
		 "Frames the kernel dropped because the socket's receive buffer was full "
		 "(SO_RXQ_OVFL); raise rcvbuf.",
		 offsetof(struct status_can, kernel_drops)},
		{"powerd_can_error_frames_total", "counter",
		 "Error frames the CAN controller reported.",
		 offsetof(struct status_can, error_frames)},
		{"powerd_can_records_total", "counter",
		 "Records reassembled from the frames, good or not.",
		 offsetof(struct status_can, records)},
		{"powerd_can_records_decoded_total", "counter",
		 "Good records the decode table has a layout for.",
		 offsetof(struct status_can, decoded)},
		{"powerd_can_records_unknown_total", "counter",
		 "Good records the decode table has no layout for (the status lists them).",
		 offsetof(struct status_can, unknown)},
		{"powerd_can_bus_error_passive_total", "counter",
		 "Times the controller was seen entering error-passive.",
		 offsetof(struct status_can, to_error_passive)},
		{"powerd_can_bus_off_total", "counter", "Times the controller was seen bus-off.",
		 offsetof(struct status_can, to_bus_off)},
		{"powerd_can_restarts_total", "counter",
		 "Controller restarts after bus-off (the kernel's count).",
		 offsetof(struct status_can, restarts)},
		{"powerd_can_transmitted_frames_total", "counter",
		 "Frames powerd sent on the bus (powerctl can send).",
		 offsetof(struct status_can, transmitted)},
	};
	static const char *const k1[] = {"source"};
	static const char *const k2[] = {"source", "state"};
	struct metrics_family state =
		METRICS_FAMILY("powerd_can_bus_state", "gauge",
			       "1 for the state the bus is in (the controller's, or down / absent "
			       "/ unknown), else "
			       "0.");
	struct metrics_family berr[2] = {
		METRICS_FAMILY("powerd_can_tx_error_counter", "gauge",
			       "The controller's transmit error counter."),
		METRICS_FAMILY("powerd_can_rx_error_counter", "gauge",
			       "The controller's receive error counter."),
	};
	size_t i, j;

	for (j = 0; j < sizeof(c) / sizeof(c[0]); j++) {
		struct metrics_family f = METRICS_FAMILY(c[j].name, c[j].type, c[j].help);

		for (i = 0; i < st->nsources; i++) {
			const struct status_can *can = &st->sources[i].can;
			const char *v[] = {st->sources[i].name};
			uint64_t n;

			if (!can->present)
				continue;
			memcpy(&n, (const char *)can + c[j].off, sizeof(n));
			metrics_labels(b, &f, 1, k1, v);
			buf_printf(b, "%" PRIu64 "\n", n);
		}
	}
	for (i = 0; i < st->nsources; i++) {
		const struct status_can *can = &st->sources[i].can;

		if (!can->present || !can->interface[0])
			continue;
		for (j = 0; source_can_bus_states[j]; j++) {
			const char *v[] = {st->sources[i].name, source_can_bus_states[j]};

			metrics_labels(b, &state, 2, k2, v);
			buf_printf(b, "%d\n", !strcmp(can->bus_state, source_can_bus_states[j]));
		}
	}
	for (j = 0; j < 2; j++)
		for (i = 0; i < st->nsources; i++) {
			const struct status_can *can = &st->sources[i].can;
			const char *v[] = {st->sources[i].name};

			if (!can->present || !can->have_berr)
				continue;
			metrics_labels(b, &berr[j], 1, k1, v);
			buf_printf(b, "%u\n", j ? can->berr_rx : can->berr_tx);
		}
}

/* The [eg4.NAME] sources' own figures, labelled {source}. */
static void metrics_eg4(const struct status *st, struct buf *b)
{
	static const struct {
		const char *name, *type, *help;
		size_t off;
	} c[] = {
		{"powerd_eg4_connects_total", "counter", "Connections made to the dongle.",
		 offsetof(struct status_eg4, connects)},
		{"powerd_eg4_bytes_total", "counter", "Bytes received from the dongle.",
		 offsetof(struct status_eg4, bytes)},
		{"powerd_eg4_frames_total", "counter",
		 "Frames cut from the stream, good or not (errors by reason in "
		 "powerd_source_errors_total).",
		 offsetof(struct status_eg4, frames)},
		{"powerd_eg4_heartbeats_total", "counter", "Heartbeats the dongle sent.",
		 offsetof(struct status_eg4, heartbeats)},
		{"powerd_eg4_heartbeats_echoed_total", "counter",
		 "Heartbeats echoed back (heartbeats = yes).",
		 offsetof(struct status_eg4, heartbeats_echoed)},
		{"powerd_eg4_polls_total", "counter", "Poll rounds started.",
		 offsetof(struct status_eg4, polls)},
		{"powerd_eg4_requests_total", "counter", "Read requests sent.",
		 offsetof(struct status_eg4, requests)},
		{"powerd_eg4_replies_total", "counter", "Replies to powerd's own requests.",
		 offsetof(struct status_eg4, replies)},
		{"powerd_eg4_foreign_replies_total", "counter",
		 "Replies to other clients' requests (or the dongle's own), decoded too.",
		 offsetof(struct status_eg4, foreign)},
		{"powerd_eg4_pushes_total", "counter",
		 "All-inputs frames (more than 40 registers, protocol 5) the dongle pushed.",
		 offsetof(struct status_eg4, pushes)},
	};
	static const char *const k1[] = {"source"};
	struct metrics_family up = METRICS_FAMILY("powerd_eg4_connected", "gauge",
						  "1 while the connection to the dongle is up.");
	size_t i, j;

	for (j = 0; j < sizeof(c) / sizeof(c[0]); j++) {
		struct metrics_family f = METRICS_FAMILY(c[j].name, c[j].type, c[j].help);

		for (i = 0; i < st->nsources; i++) {
			const struct status_eg4 *e = &st->sources[i].eg4;
			const char *v[] = {st->sources[i].name};
			uint64_t n;

			if (!e->present)
				continue;
			memcpy(&n, (const char *)e + c[j].off, sizeof(n));
			metrics_labels(b, &f, 1, k1, v);
			buf_printf(b, "%" PRIu64 "\n", n);
		}
	}
	for (i = 0; i < st->nsources; i++) {
		const struct status_eg4 *e = &st->sources[i].eg4;
		const char *v[] = {st->sources[i].name};

		if (!e->present)
			continue;
		metrics_labels(b, &up, 1, k1, v);
		buf_printf(b, "%d\n", e->connected);
	}
}

/* The [modbus.NAME] sources' own figures, labelled {source} (and {code});
 * errors by reason are powerd_source_errors_total's. */
static void metrics_modbus(const struct status *st, struct buf *b)
{
	static const struct {
		const char *name, *help;
		size_t off;
	} c[] = {
		{"powerd_modbus_polls_total", "Polls of the device's register map started.",
		 offsetof(struct status_modbus, polls)},
		{"powerd_modbus_requests_total", "Modbus requests sent (re-sends included).",
		 offsetof(struct status_modbus, requests)},
		{"powerd_modbus_replies_total", "Good replies (exceptions are counted apart).",
		 offsetof(struct status_modbus, replies)},
		{"powerd_modbus_written_total",
		 "Writes the device confirmed (powerctl modbus write).",
		 offsetof(struct status_modbus, written)},
	};
	static const char *const k1[] = {"source"};
	static const char *const k2[] = {"source", "code"};
	struct metrics_family ex = METRICS_FAMILY(
		"powerd_modbus_exceptions_total", "counter",
		"Exception replies by code (1 illegal function, 2 illegal data address, ...; 0: "
		"a code outside 1-11).");
	struct metrics_family conn = METRICS_FAMILY(
		"powerd_modbus_connected", "gauge",
		"1 while the device's TCP connection is up (a serial line: always 1).");
	size_t i, j;

	for (j = 0; j < sizeof(c) / sizeof(c[0]); j++) {
		struct metrics_family f = METRICS_FAMILY(c[j].name, "counter", c[j].help);

		for (i = 0; i < st->nsources; i++) {
			const struct status_modbus *m = &st->sources[i].modbus;
			const char *v[] = {st->sources[i].name};
			uint64_t n;

			if (!m->present)
				continue;
			memcpy(&n, (const char *)m + c[j].off, sizeof(n));
			metrics_labels(b, &f, 1, k1, v);
			buf_printf(b, "%" PRIu64 "\n", n);
		}
	}
	for (i = 0; i < st->nsources; i++) {
		const struct status_modbus *m = &st->sources[i].modbus;

		for (j = 0; m->present && j < STATUS_MODBUS_EX; j++) {
			char code[4];
			const char *v[] = {st->sources[i].name, code};

			if (!m->exceptions[j])
				continue;
			snprintf(code, sizeof(code), "%zu", j);
			metrics_labels(b, &ex, 2, k2, v);
			buf_printf(b, "%" PRIu64 "\n", m->exceptions[j]);
		}
	}
	for (i = 0; i < st->nsources; i++) {
		const struct status_modbus *m = &st->sources[i].modbus;
		const char *v[] = {st->sources[i].name};

		if (!m->present)
			continue;
		metrics_labels(b, &conn, 1, k1, v);
		buf_printf(b, "%d\n", m->connected);
	}
}

static uint64_t metrics_field(const struct status_meter *m, size_t off)
{
	uint64_t v;

	memcpy(&v, (const char *)m + off, sizeof(v));
	return v;
}

static void metrics_daemon(const struct status *st, struct buf *b)
{
	struct metrics_family info =
		METRICS_FAMILY("powerd_build_info", "gauge",
			       "Always 1; the version label names the running build.");
	struct metrics_family start = METRICS_FAMILY("powerd_start_time_seconds", "gauge",
						     "Unix time at which powerd started.");
	struct metrics_family reloads = METRICS_FAMILY("powerd_config_reloads_total", "counter",
						       "Configuration reloads (SIGHUP) by result.");
	struct metrics_family persist =
		METRICS_FAMILY("powerd_state_persist_total", "counter",
			       "Writes of the persisted energy counters by result.");
	struct metrics_family last_persist = METRICS_FAMILY(
		"powerd_state_last_persist_timestamp_seconds", "gauge",
		"Unix time of the last successful write of the persisted energy counters.");
	struct metrics_family recovered = METRICS_FAMILY(
		"powerd_state_recovered_total", "counter",
		"Energy counters started from the previous checkpoint (from=prev) or from 0 "
		"(from=zero) because the current checkpoint was missing or damaged.");
	struct metrics_family rss = METRICS_FAMILY("process_resident_memory_bytes", "gauge",
						   "Resident memory size in bytes.");
	struct metrics_family cpu =
		METRICS_FAMILY("process_cpu_seconds_total", "counter",
			       "Total user and system CPU time spent in seconds.");

	metrics_u64(b, &info, "version", st->version, 1);
	metrics_f64(b, &start, NULL, NULL, st->start_unix_s);
	metrics_u64(b, &reloads, "result", "ok", st->reloads_ok);
	metrics_u64(b, &reloads, "result", "error", st->reloads_failed);
	metrics_u64(b, &persist, "result", "ok", st->persist_ok);
	metrics_u64(b, &persist, "result", "error", st->persist_failed);
	if (st->last_persist_unix_s != 0)
		metrics_f64(b, &last_persist, NULL, NULL, st->last_persist_unix_s);
	metrics_u64(b, &recovered, "from", "prev", st->state_recovered_prev);
	metrics_u64(b, &recovered, "from", "zero", st->state_recovered_zero);
	if (st->rss_bytes >= 0)
		metrics_u64(b, &rss, NULL, NULL, (uint64_t)st->rss_bytes);
	metrics_f64(b, &cpu, NULL, NULL, st->cpu_seconds);
}

static void metrics_meters(const struct status *st, struct buf *b)
{
	static const struct {
		const char *name;
		const char *help;
		size_t off;
	} counters[] = {
		{"powerd_pulse_flashes_total",
		 "Accepted LED flashes: the energy counter, persisted across restarts.",
		 offsetof(struct status_meter, flashes)},
		{"powerd_pulse_edges_total", "Edges seen on the input since start.",
		 offsetof(struct status_meter, edges)},
		{"powerd_pulse_glitches_total",
		 "Pulses rejected by the glitch filter (shorter than min_pulse_ms) since start.",
		 offsetof(struct status_meter, glitches)},
		{"powerd_pulse_events_lost_total",
		 "Edges lost to a kernel event buffer overflow since start.",
		 offsetof(struct status_meter, events_lost)},
		{"powerd_pulse_input_errors_total",
		 "Input errors (bad trace lines, read errors) since start.",
		 offsetof(struct status_meter, input_errors)},
	};
	struct metrics_family power = METRICS_FAMILY(
		"powerd_pulse_power_watts", "gauge",
		"Power from the interval between the last two flashes, or its upper bound while "
		"the next flash is overdue.");
	struct metrics_family energy =
		METRICS_FAMILY("powerd_pulse_energy_joules_total", "counter",
			       "Energy: accepted flashes divided by impulses_per_kwh.");
	struct metrics_family last =
		METRICS_FAMILY("powerd_pulse_last_flash_timestamp_seconds", "gauge",
			       "Unix time of the last accepted flash.");
	struct metrics_family ipk = METRICS_FAMILY("powerd_pulse_impulses_per_kwh", "gauge",
						   "The meter's constant from the configuration.");
	size_t i, c;

	for (i = 0; i < st->nmeters; i++)
		if (st->meters[i].power_known)
			metrics_f64(b, &power, "meter", st->meters[i].name, st->meters[i].power_w);
	for (i = 0; i < st->nmeters; i++)
		metrics_f64(b, &energy, "meter", st->meters[i].name, st->meters[i].energy_j);
	for (c = 0; c < sizeof(counters) / sizeof(counters[0]); c++) {
		struct metrics_family f =
			METRICS_FAMILY(counters[c].name, "counter", counters[c].help);

		for (i = 0; i < st->nmeters; i++)
			metrics_u64(b, &f, "meter", st->meters[i].name,
				    metrics_field(&st->meters[i], counters[c].off));
	}
	for (i = 0; i < st->nmeters; i++)
		if (st->meters[i].have_flash)
			metrics_f64(b, &last, "meter", st->meters[i].name,
				    st->meters[i].last_flash_unix_s);
	for (i = 0; i < st->nmeters; i++)
		metrics_u64(b, &ipk, "meter", st->meters[i].name, st->meters[i].impulses_per_kwh);
}

static void metrics_rings(const struct status *st, struct buf *b)
{
	struct metrics_family cap = METRICS_FAMILY(
		"powerd_ring_capacity", "gauge",
		"Capacity of the ring: slots (edges) or bytes (a producer's samples).");
	struct metrics_family used = METRICS_FAMILY(
		"powerd_ring_used", "gauge",
		"Slots (edges) or bytes (samples) in use when the status was taken.");
	struct metrics_family dropped = METRICS_FAMILY("powerd_ring_dropped_total", "counter",
						       "Items dropped because the ring was full.");
	size_t i, n = st->nrings;

	/* The array is fixed; never trust a count beyond it. */
	if (n > sizeof(st->rings) / sizeof(st->rings[0]))
		n = sizeof(st->rings) / sizeof(st->rings[0]);
	for (i = 0; i < n; i++)
		metrics_u64(b, &cap, "ring", st->rings[i].name, st->rings[i].capacity);
	for (i = 0; i < n; i++)
		metrics_u64(b, &used, "ring", st->rings[i].name, st->rings[i].used);
	for (i = 0; i < n; i++)
		metrics_u64(b, &dropped, "ring", st->rings[i].name, st->rings[i].dropped);
}

static void metrics_http(const struct status *st, struct buf *b)
{
	struct metrics_family open = METRICS_FAMILY(
		"powerd_http_connections", "gauge",
		"Open HTTP connections, by listener (tcp, or unix: the control socket).");
	struct metrics_family cut = METRICS_FAMILY(
		"powerd_http_connections_cut_total", "counter",
		"HTTP connections closed by powerd, by reason (slow_request: the request line "
		"and headers did not arrive within the time limit).");
	size_t i, n = st->nhttp;

	if (n > sizeof(st->http) / sizeof(st->http[0]))
		n = sizeof(st->http) / sizeof(st->http[0]);
	for (i = 0; i < n; i++)
		metrics_u64(b, &open, "listener", st->http[i].listener, st->http[i].connections);
	for (i = 0; i < n; i++)
		metrics_u64_2(b, &cut, "listener", st->http[i].listener, "reason", "slow_request",
			      st->http[i].cut_slow_request);
}

static uint64_t metrics_sink_field(const struct status_sink *k, size_t off)
{
	uint64_t v;

	memcpy(&v, (const char *)k + off, sizeof(v));
	return v;
}

static void metrics_sinks(const struct status *st, struct buf *b)
{
	static const struct {
		const char *name;
		const char *type;
		const char *help;
		size_t off;
	} plain[] = {
		{"powerd_sink_samples_accepted_total", "counter",
		 "Samples taken in by the sink (after change detection).",
		 offsetof(struct status_sink, accepted)},
		{"powerd_sink_samples_sent_total", "counter",
		 "Samples acknowledged by the sink's server.", offsetof(struct status_sink, sent)},
		{"powerd_sink_samples_retried_total", "counter",
		 "Samples in failed attempts that were retried.",
		 offsetof(struct status_sink, retried)},
		{"powerd_sink_samples_unchanged_total", "counter",
		 "Samples suppressed by change detection.",
		 offsetof(struct status_sink, unchanged_skipped)},
		{"powerd_sink_requests_total", "counter", "Requests (batches) started.",
		 offsetof(struct status_sink, requests)},
		{"powerd_sink_spool_bytes", "gauge", "Bytes in the sink's disk spool.",
		 offsetof(struct status_sink, spool_bytes)},
		{"powerd_sink_spool_unsent_bytes", "gauge",
		 "Bytes in the spool not yet acknowledged by the server.",
		 offsetof(struct status_sink, spool_unsent_bytes)},
		{"powerd_sink_spool_damaged_regions_total", "counter",
		 "Damaged stretches of the spool in which no record header survived, so the "
		 "number of samples lost there is unknown (the samples of damaged records "
		 "whose header survived are in "
		 "powerd_sink_samples_dropped_total{reason=\"corrupt\"}).",
		 offsetof(struct status_sink, spool_damaged_regions)},
	};
	static const struct {
		const char *kind;
		size_t off;
	} repairs[] = {
		{"torn_tail", offsetof(struct status_sink, spool_torn_tails)},
		{"ack_damaged", offsetof(struct status_sink, spool_ack_damaged)},
		{"file_set_aside", offsetof(struct status_sink, spool_files_set_aside)},
	};
	static const struct {
		const char *reason;
		size_t off;
	} drops[] = {
		{"rejected", offsetof(struct status_sink, dropped_rejected)},
		{"spool_full", offsetof(struct status_sink, dropped_spool)},
		{"corrupt", offsetof(struct status_sink, dropped_corrupt)},
		{"spool_error", offsetof(struct status_sink, dropped_spool_error)},
		{"too_old", offsetof(struct status_sink, dropped_too_old)},
		{"unencodable", offsetof(struct status_sink, dropped_encode)},
	};
	struct metrics_family dropped = METRICS_FAMILY(
		"powerd_sink_samples_dropped_total", "counter",
		"Samples the sink will never deliver, by reason: rejected (refused by the "
		"server), spool_full (deleted by spool_max), corrupt (in damaged spool records "
		"whose header survived, or in segments found missing or cut short), spool_error "
		"(the spool could not take them: beyond memory_max, or still in memory at "
		"shutdown), too_old, unencodable.");
	struct metrics_family repaired = METRICS_FAMILY(
		"powerd_sink_spool_repairs_total", "counter",
		"What the spool repaired when it was opened: torn_tail (a torn last append cut "
		"off), ack_damaged (an ack file that did not match the segments: everything "
		"re-sent), file_set_aside (a file named like a segment that is not one).");
	struct metrics_family spool_err = METRICS_FAMILY(
		"powerd_sink_spool_error", "gauge",
		"1 while the sink's spool cannot be written (samples wait in memory), else 0.");
	struct metrics_family held = METRICS_FAMILY(
		"powerd_sink_samples_in_memory", "gauge",
		"Samples not yet in the spool: the open batch, and batches waiting in memory "
		"while the spool cannot be written.");
	struct metrics_family age = METRICS_FAMILY(
		"powerd_sink_oldest_unsent_age_seconds", "gauge",
		"Age of the oldest sample not yet acknowledged (0 when nothing waits).");
	struct metrics_family up = METRICS_FAMILY(
		"powerd_sink_up", "gauge", "1 if the sink's last request succeeded, else 0.");
	struct metrics_family last_err = METRICS_FAMILY("powerd_sink_last_error_timestamp_seconds",
							"gauge", "Unix time of the last error.");
	size_t i, c;

	for (c = 0; c < sizeof(plain) / sizeof(plain[0]); c++) {
		struct metrics_family f =
			METRICS_FAMILY(plain[c].name, plain[c].type, plain[c].help);

		for (i = 0; i < st->nsinks; i++)
			metrics_u64(b, &f, "sink", st->sinks[i].name,
				    metrics_sink_field(&st->sinks[i], plain[c].off));
	}
	for (i = 0; i < st->nsinks; i++)
		for (c = 0; c < sizeof(drops) / sizeof(drops[0]); c++)
			metrics_u64_2(b, &dropped, "sink", st->sinks[i].name, "reason",
				      drops[c].reason,
				      metrics_sink_field(&st->sinks[i], drops[c].off));
	for (i = 0; i < st->nsinks; i++)
		metrics_f64(b, &age, "sink", st->sinks[i].name, st->sinks[i].oldest_unsent_age_s);
	for (i = 0; i < st->nsinks; i++)
		for (c = 0; c < sizeof(repairs) / sizeof(repairs[0]); c++)
			metrics_u64_2(b, &repaired, "sink", st->sinks[i].name, "kind",
				      repairs[c].kind,
				      metrics_sink_field(&st->sinks[i], repairs[c].off));
	for (i = 0; i < st->nsinks; i++)
		metrics_u64(b, &spool_err, "sink", st->sinks[i].name,
			    st->sinks[i].spool_error[0] != '\0');
	for (i = 0; i < st->nsinks; i++)
		metrics_u64(b, &held, "sink", st->sinks[i].name,
			    st->sinks[i].pending + st->sinks[i].held);
	for (i = 0; i < st->nsinks; i++)
		metrics_u64(b, &up, "sink", st->sinks[i].name, st->sinks[i].up);
	for (i = 0; i < st->nsinks; i++)
		if (st->sinks[i].last_error_unix_s > 0)
			metrics_f64(b, &last_err, "sink", st->sinks[i].name,
				    st->sinks[i].last_error_unix_s);
}

int metrics_render(const struct status *st, struct buf *out)
{
	metrics_sources(st, out);
	metrics_can(st, out);
	metrics_modbus(st, out);
	metrics_eg4(st, out);
	metrics_meters(st, out);
	metrics_sinks(st, out);
	metrics_rings(st, out);
	metrics_http(st, out);
	metrics_daemon(st, out);
	return out->err;
}

#include <stdbool.h>
#include <stdlib.h>

#include <cjson/cJSON.h>

#include "status_json.h"

/* cJSON's adders return NULL on allocation failure; rather than test each
 * one, the builders fold the results into one flag. */
static bool status_json_num(cJSON *o, const char *key, double v)
{
	return cJSON_AddNumberToObject(o, key, v) != NULL;
}

static bool status_json_num_or_null(cJSON *o, const char *key, bool known, double v)
{
	if (!known)
		return cJSON_AddNullToObject(o, key) != NULL;
	return status_json_num(o, key, v);
}

static bool status_json_str(cJSON *o, const char *key, const char *s)
{
	return cJSON_AddStringToObject(o, key, s) != NULL;
}

static bool status_json_pair(cJSON *o, const char *key, const char *k1, double v1, const char *k2,
			     double v2)
{
	cJSON *p = cJSON_AddObjectToObject(o, key);

	return p && status_json_num(p, k1, v1) && status_json_num(p, k2, v2);
}

static bool status_json_daemon(cJSON *root, const struct status *st)
{
	cJSON *d = cJSON_AddObjectToObject(root, "daemon");
	cJSON *persist;
	bool ok;

	if (!d)
		return false;
	ok = status_json_str(d, "version", st->version) &&
	     status_json_str(d, "config", st->config_path) &&
	     status_json_num(d, "start_time", st->start_unix_s) &&
	     status_json_num(d, "uptime_s", st->uptime_s) &&
	     status_json_pair(d, "reloads", "ok", (double)st->reloads_ok, "error",
			      (double)st->reloads_failed) &&
	     status_json_pair(d, "persist", "ok", (double)st->persist_ok, "error",
			      (double)st->persist_failed) &&
	     status_json_num_or_null(d, "rss_bytes", st->rss_bytes >= 0, (double)st->rss_bytes) &&
	     status_json_num(d, "cpu_seconds", st->cpu_seconds);
	if (!ok)
		return false;
	persist = cJSON_GetObjectItemCaseSensitive(d, "persist");
	return status_json_num_or_null(persist, "last_time", st->last_persist_unix_s != 0,
				       st->last_persist_unix_s);
}

/* A pulse source's own fields, beside the generic ones. */
static bool status_json_meter(cJSON *o, const struct status_meter *m)
{
	return status_json_str(o, "input", m->input) &&
	       cJSON_AddBoolToObject(o, "replay", m->replay) &&
	       status_json_num(o, "impulses_per_kwh", m->impulses_per_kwh) &&
	       status_json_num_or_null(o, "power_w", m->power_known, m->power_w) &&
	       status_json_num(o, "energy_wh", m->energy_wh) &&
	       status_json_num(o, "energy_j", m->energy_j) &&
	       status_json_num_or_null(o, "energy_today_wh", m->today_known, m->energy_today_wh) &&
	       status_json_num_or_null(o, "today_since", m->today_known, m->today_since_unix_s) &&
	       status_json_num(o, "flashes", (double)m->flashes) &&
	       status_json_num(o, "edges", (double)m->edges) &&
	       status_json_num(o, "glitches", (double)m->glitches) &&
	       status_json_num(o, "events_lost", (double)m->events_lost) &&
	       status_json_num(o, "input_errors", (double)m->input_errors) &&
	       status_json_num_or_null(o, "last_flash_age_s", m->have_flash, m->last_flash_age_s) &&
	       status_json_num_or_null(o, "last_flash_time", m->have_flash, m->last_flash_unix_s) &&
	       status_json_str(o, "summary", m->state);
}

/* A CAN source's own fields, under "can". */
static bool status_json_can(cJSON *o, const struct status_can *c)
{
	cJSON *can = cJSON_AddObjectToObject(o, "can"), *u;
	unsigned i;
	bool ok;

	ok = can &&
	     (!c->interface[0] || (status_json_str(can, "interface", c->interface) &&
				   status_json_str(can, "bus_state", c->bus_state))) &&
	     status_json_num(can, "frames", (double)c->frames) &&
	     status_json_num(can, "bytes", (double)c->bytes) &&
	     status_json_num(can, "kernel_drops", (double)c->kernel_drops) &&
	     status_json_num(can, "error_frames", (double)c->error_frames) &&
	     status_json_num(can, "records", (double)c->records) &&
	     status_json_num(can, "decoded", (double)c->decoded) &&
	     status_json_num(can, "unknown", (double)c->unknown) &&
	     status_json_num(can, "error_passive", (double)c->to_error_passive) &&
	     status_json_num(can, "bus_off", (double)c->to_bus_off) &&
	     status_json_num(can, "restarts", (double)c->restarts) &&
	     status_json_num(can, "transmitted", (double)c->transmitted) &&
	     status_json_num(can, "transmit_refused", (double)c->transmit_refused);
	if (ok && c->have_berr)
		ok = status_json_num(can, "tx_errors", c->berr_tx) &&
		     status_json_num(can, "rx_errors", c->berr_rx);
	u = ok ? cJSON_AddObjectToObject(can, "unknown_records") : NULL;
	ok = u != NULL;
	for (i = 0; ok && i < c->nunknown && i < STATUS_CAN_UNKNOWN; i++)
		ok = status_json_num(u, c->unknown_ids[i].id, (double)c->unknown_ids[i].n);
	return ok;
}

/* An EG4 source's own fields, under "eg4". */
static bool status_json_eg4(cJSON *o, const struct status_eg4 *e)
{
	cJSON *g = cJSON_AddObjectToObject(o, "eg4");

	return g && status_json_str(g, "host", e->host) && status_json_num(g, "port", e->port) &&
	       status_json_str(g, "datalog", e->datalog) &&
	       status_json_str(g, "inverter", e->inverter) &&
	       cJSON_AddBoolToObject(g, "connected", e->connected) &&
	       status_json_num(g, "connects", (double)e->connects) &&
	       status_json_num(g, "bytes", (double)e->bytes) &&
	       status_json_num(g, "frames", (double)e->frames) &&
	       status_json_num(g, "heartbeats", (double)e->heartbeats) &&
	       status_json_num(g, "heartbeats_echoed", (double)e->heartbeats_echoed) &&
	       status_json_num(g, "polls", (double)e->polls) &&
	       status_json_num(g, "requests", (double)e->requests) &&
	       status_json_num(g, "replies", (double)e->replies) &&
	       status_json_num(g, "foreign_replies", (double)e->foreign) &&
	       status_json_num(g, "pushes", (double)e->pushes);
}

/* A Modbus source's own fields, under "modbus"; exceptions by code, those
 * seen only ("0": codes outside 1..11). */
static bool status_json_modbus(cJSON *o, const struct status_modbus *m)
{
	cJSON *mb = cJSON_AddObjectToObject(o, "modbus"), *ex;
	char code[4];
	unsigned i;
	bool ok;

	ok = mb && status_json_str(mb, "transport", m->rtu ? "rtu" : "tcp") &&
	     status_json_str(mb, "device", m->device) &&
	     (m->unit < 0 || status_json_num(mb, "unit", m->unit)) &&
	     cJSON_AddBoolToObject(mb, "connected", m->connected) &&
	     status_json_num(mb, "polls", (double)m->polls) &&
	     status_json_num(mb, "requests", (double)m->requests) &&
	     status_json_num(mb, "replies", (double)m->replies) &&
	     status_json_num(mb, "written", (double)m->written);
	ex = ok ? cJSON_AddObjectToObject(mb, "exceptions") : NULL;
	ok = ex != NULL;
	for (i = 0; ok && i < STATUS_MODBUS_EX; i++) {
		if (!m->exceptions[i])
			continue;
		snprintf(code, sizeof(code), "%u", i);
		ok = status_json_num(ex, code, (double)m->exceptions[i]);
	}
	return ok;
}

/* Every source: what all kinds report, then a pulse meter's own fields. */
static bool status_json_source(cJSON *arr, const struct status *st, const struct status_source *s)
{
	cJSON *o = cJSON_CreateObject(), *e;
	unsigned i;
	bool ok;

	if (!o)
		return false;
	if (!cJSON_AddItemToArray(arr, o)) {
		cJSON_Delete(o);
		return false;
	}
	ok = status_json_str(o, "name", s->name) && status_json_str(o, "kind", s->kind) &&
	     status_json_str(o, "state", s->state) && status_json_str(o, "detail", s->detail) &&
	     cJSON_AddBoolToObject(o, "up", s->up) &&
	     status_json_num(o, "samples", (double)s->samples) &&
	     status_json_num_or_null(o, "last_sample_time", s->last_sample_unix_s > 0,
				     s->last_sample_unix_s);
	e = ok ? cJSON_AddObjectToObject(o, "errors") : NULL;
	ok = e != NULL;
	for (i = 0; ok && i < s->nerrors && i < STATUS_SOURCE_REASONS; i++)
		ok = status_json_num(e, s->errors[i].reason, (double)s->errors[i].n);
	if (ok && s->progress_total) {
		cJSON *pr = cJSON_AddObjectToObject(o, "progress");

		ok = pr && status_json_num(pr, "done", (double)s->progress_done) &&
		     status_json_num(pr, "total", (double)s->progress_total) &&
		     status_json_num_or_null(pr, "eta_seconds", s->progress_eta_s >= 0,
					     s->progress_eta_s);
	}
	if (ok && s->nenergy) {
		cJSON *en = cJSON_AddObjectToObject(o, "energy_joules");
		char key[72];

		ok = en != NULL;
		for (i = 0; ok && i < s->nenergy; i++) {
			snprintf(key, sizeof(key), "%s.%s", s->energy[i].measurement,
				 s->energy[i].field);
			ok = status_json_num(en, key, s->energy[i].joules);
		}
	}
	if (ok && s->meter >= 0 && (size_t)s->meter < st->nmeters)
		ok = status_json_meter(o, &st->meters[s->meter]);
	if (ok && s->can.present)
		ok = status_json_can(o, &s->can);
	if (ok && s->modbus.present)
		ok = status_json_modbus(o, &s->modbus);
	if (ok && s->eg4.present)
		ok = status_json_eg4(o, &s->eg4);
	return ok;
}

static bool status_json_ring(cJSON *arr, const struct status_ring *r)
{
	cJSON *o = cJSON_CreateObject();

	if (!o)
		return false;
	if (!cJSON_AddItemToArray(arr, o)) {
		cJSON_Delete(o);
		return false;
	}
	return status_json_str(o, "name", r->name) &&
	       status_json_num(o, "capacity", (double)r->capacity) &&
	       status_json_num(o, "used", (double)r->used) &&
	       status_json_num(o, "dropped", (double)r->dropped);
}

static bool status_json_sink(cJSON *arr, const struct status_sink *k)
{
	cJSON *o = cJSON_CreateObject(), *d;
	bool ok;

	if (!o || !cJSON_AddItemToArray(arr, o))
		return false;
	ok = status_json_str(o, "name", k->name) && status_json_str(o, "type", k->type) &&
	     status_json_str(o, "state", k->state) &&
	     status_json_num(o, "accepted", (double)k->accepted) &&
	     status_json_num(o, "sent", (double)k->sent) &&
	     status_json_num(o, "retried", (double)k->retried) &&
	     status_json_num(o, "unchanged_skipped", (double)k->unchanged_skipped) &&
	     status_json_num(o, "requests", (double)k->requests) &&
	     status_json_num(o, "pending", (double)k->pending) &&
	     status_json_num(o, "in_memory", (double)(k->pending + k->held)) &&
	     cJSON_AddBoolToObject(o, "up", k->up) != NULL &&
	     (k->spool_error[0] ? status_json_str(o, "spool_error", k->spool_error)
				: cJSON_AddNullToObject(o, "spool_error") != NULL) &&
	     status_json_num(o, "spool_bytes", (double)k->spool_bytes) &&
	     status_json_num(o, "spool_unsent_bytes", (double)k->spool_unsent_bytes) &&
	     status_json_num(o, "oldest_unsent_age_s", k->oldest_unsent_age_s) &&
	     status_json_num_or_null(o, "last_ok_time", k->last_ok_unix_s > 0, k->last_ok_unix_s) &&
	     status_json_num_or_null(o, "last_error_time", k->last_error_unix_s > 0,
				     k->last_error_unix_s) &&
	     (k->last_error[0] ? status_json_str(o, "last_error", k->last_error)
			       : cJSON_AddNullToObject(o, "last_error") != NULL);
	d = ok ? cJSON_AddObjectToObject(o, "spool_repairs") : NULL;
	ok = d && status_json_num(d, "damaged_regions", (double)k->spool_damaged_regions) &&
	     status_json_num(d, "torn_tails", (double)k->spool_torn_tails) &&
	     status_json_num(d, "ack_damaged", (double)k->spool_ack_damaged) &&
	     status_json_num(d, "files_set_aside", (double)k->spool_files_set_aside);
	d = ok ? cJSON_AddObjectToObject(o, "dropped") : NULL;
	return d && status_json_num(d, "rejected", (double)k->dropped_rejected) &&
	       status_json_num(d, "spool_full", (double)k->dropped_spool) &&
	       status_json_num(d, "corrupt", (double)k->dropped_corrupt) &&
	       status_json_num(d, "spool_error", (double)k->dropped_spool_error) &&
	       status_json_num(d, "too_old", (double)k->dropped_too_old) &&
	       status_json_num(d, "unencodable", (double)k->dropped_encode);
}

static bool status_json_http(cJSON *arr, const struct status_http *l)
{
	cJSON *o = cJSON_CreateObject(), *cut;

	if (!o)
		return false;
	if (!cJSON_AddItemToArray(arr, o)) {
		cJSON_Delete(o);
		return false;
	}
	if (!status_json_str(o, "listener", l->listener) ||
	    !status_json_num(o, "connections", (double)l->connections))
		return false;
	cut = cJSON_AddObjectToObject(o, "cut");
	return cut && status_json_num(cut, "slow_request", (double)l->cut_slow_request);
}

char *status_json(const struct status *st)
{
	size_t i, nrings = st->nrings, nhttp = st->nhttp;
	cJSON *root, *sources, *rings, *sinks, *http;
	char *text = NULL;
	bool ok;

	if (nrings > sizeof(st->rings) / sizeof(st->rings[0]))
		nrings = sizeof(st->rings) / sizeof(st->rings[0]);
	if (nhttp > sizeof(st->http) / sizeof(st->http[0]))
		nhttp = sizeof(st->http) / sizeof(st->http[0]);
	root = cJSON_CreateObject();
	if (!root)
		return NULL;
	ok = status_json_daemon(root, st);
	sources = ok ? cJSON_AddArrayToObject(root, "sources") : NULL;
	ok = sources != NULL;
	for (i = 0; ok && i < st->nsources; i++)
		ok = status_json_source(sources, st, &st->sources[i]);
	rings = ok ? cJSON_AddArrayToObject(root, "rings") : NULL;
	ok = rings != NULL;
	for (i = 0; ok && i < nrings; i++)
		ok = status_json_ring(rings, &st->rings[i]);
	sinks = ok ? cJSON_AddArrayToObject(root, "sinks") : NULL;
	ok = sinks != NULL;
	for (i = 0; ok && i < st->nsinks; i++)
		ok = status_json_sink(sinks, &st->sinks[i]);
	http = ok ? cJSON_AddArrayToObject(root, "http") : NULL;
	ok = http != NULL;
	for (i = 0; ok && i < nhttp; i++)
		ok = status_json_http(http, &st->http[i]);
	if (ok)
		text = cJSON_PrintUnformatted(root);
	cJSON_Delete(root);
	return text;
}

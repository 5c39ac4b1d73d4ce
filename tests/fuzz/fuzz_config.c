/* libFuzzer target for the configuration parser: any input must be either
 * rejected or accepted as a configuration that keeps every documented
 * invariant, without leaks or undefined behaviour. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "cw_select.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_accepted(const struct config *cfg)
{
	const struct cfg_daemon *d = &cfg->daemon;
	struct cw_select sel;
	char why[160];
	size_t i, j;

	if (d->edge_ring < 16 || d->edge_ring > 1048576 || (d->edge_ring & (d->edge_ring - 1)))
		abort();
	if (d->persist_interval_ns < 1000000000LL || !d->state_dir[0] || !d->socket[0] ||
	    strlen(d->socket) > 107)
		abort();
	for (i = 0; i < cfg->npulses; i++) {
		const struct cfg_pulse *m = &cfg->pulses[i];

		if (!m->name[0] || m->impulses_per_kwh < 1 || m->impulses_per_kwh > 1000000)
			abort();
		if (m->replay[0] ? (m->chip[0] || m->line[0]) : (!m->chip[0] || !m->line[0]))
			abort();
		if (m->timeout_ns <= 0 || m->sample_interval_ns < 100000000LL ||
		    m->min_pulse_ns < 0 || m->min_pulse_ns > 10000000000LL || !(m->speed >= 0))
			abort();
		for (j = 0; j < i; j++)
			if (!strcmp(cfg->pulses[j].name, m->name))
				abort();
	}
	for (i = 0; i < cfg->njson; i++) {
		const struct cfg_json *js = &cfg->json[i];

		if (!js->name[0] || !js->path[0] || !js->pattern[0] || strchr(js->pattern, '/') ||
		    js->max_size < 1024 || js->max_size > (1u << 30) ||
		    (js->measurement[0] && js->format != CFG_JSON_FLAT))
			abort();
		/* source names are unique across kinds */
		for (j = 0; j < i; j++)
			if (!strcmp(cfg->json[j].name, js->name))
				abort();
		for (j = 0; j < cfg->npulses; j++)
			if (!strcmp(cfg->pulses[j].name, js->name))
				abort();
	}
	for (i = 0; i < cfg->nsinks; i++) {
		const struct cfg_sink *k = &cfg->sinks[i];

		if (!k->name[0] || k->batch_size < 1 || k->memory_max < 65536 ||
		    k->retry_base_ns > k->retry_max_ns || k->flush_interval_ns < 10000000LL)
			abort();
		switch (k->type) {
		case CFG_SINK_INFLUXDB:
			if (strncmp(k->url, "http", 4) || (!k->database[0] == !k->bucket[0]) ||
			    (k->bucket[0] && !k->org[0]))
				abort();
			break;
		case CFG_SINK_FILE:
			if (!k->path[0])
				abort();
			break;
		case CFG_SINK_MQTT:
			if (!k->host[0] || k->port > 65535 ||
			    (k->pico_host[0] && k->format != CFG_MQTT_PICO))
				abort();
			break;
		case CFG_SINK_CLOUDWATCH:
			if (!k->namespace_[0] || k->max_age_ns < 1000000000LL || !k->dimensions[0])
				abort();
			/* what loads is what the sink understands */
			if (cw_select_parse(&sel, k->metrics, k->dimensions, why, sizeof(why)))
				abort();
			cw_select_free(&sel);
			break;
		default:
			abort();
		}
		for (j = 0; j < i; j++)
			if (!strcmp(cfg->sinks[j].name, k->name))
				abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static FILE *devnull;
	struct config cfg;

	if (!devnull)
		devnull = fopen("/dev/null", "w");
	if (cfg_load_mem("fuzz", (const char *)data, size, &cfg, devnull) == 0)
		check_accepted(&cfg);
	cfg_free(&cfg);
	return 0;
}

/* The [sink.NAME] section: the keys every sink type takes (batching, spool,
 * retries, change detection) and the list of types, each of which declares
 * its own keys in daemon/sink_TYPE_conf.c (config_table.h). */
#include <stddef.h>

#include "config_table.h"

static const struct cfg_choice fsyncs[] = {{"batch", CFG_FSYNC_BATCH},
					   {"interval", CFG_FSYNC_INTERVAL},
					   {"never", CFG_FSYNC_NEVER},
					   {0}};

#define S(f) CFG_FIELD(struct cfg_sink, f)
static const struct cfg_key sink_keys[] = {
	{"batch_size", &cfg_u32, S(batch_size), .min = 1, .max = 1000000, .def = "5000",
	 .doc = "samples per spool record and at most per request"},
	{"flush_interval", &cfg_duration, S(flush_interval_ns), .min = 10 * CFG_NS_MS,
	 .max = CFG_NS_H, .def = "1s",
	 .doc = "a batch goes to the spool at least this often (kill -9 loses at most this)"},
	{"spool_max", &cfg_size, S(spool_max), .min = 65536, .max = INT64_MAX, .def = "256MB",
	 .doc = "cap on the spool in state_dir/spool/NAME; beyond it the oldest data goes "
		"(counted)"},
	{"spool_fsync", &cfg_enum, S(spool_fsync), .choices = fsyncs, .def = "batch",
	 .doc = "fsync every batch, every second (interval) or never"},
	{"memory_max", &cfg_size, S(memory_max), .min = 65536, .max = 1LL << 32, .def = "8MiB",
	 .doc = "while the spool cannot be written (disk full) batches wait in memory up to "
		"this; beyond it the oldest are dropped (counted)"},
	{"timeout", &cfg_duration, S(timeout_ns), .min = 100 * CFG_NS_MS, .max = CFG_NS_H,
	 .def = "10s", .doc = "per request"},
	{"retry_base", &cfg_duration, S(retry_base_ns), .min = 10 * CFG_NS_MS, .max = CFG_NS_H,
	 .def = "1s",
	 .doc = "first retry after a failure: full-jitter exponential backoff from here"},
	{"retry_max", &cfg_duration, S(retry_max_ns), .min = 10 * CFG_NS_MS, .max = 24 * CFG_NS_H,
	 .def = "5min", .doc = "... up to here"},
	{"change_detection", &cfg_bool, S(change_detection), .def = "no",
	 .doc = "send a series only when one of its fields changes ..."},
	{"heartbeat", &cfg_duration, S(heartbeat_ns), .min = CFG_NS_S, .max = INT64_MAX,
	 .def = "5min", .doc = "... and unchanged values again this often ..."},
	{"freshness", &cfg_duration, S(freshness_ns), .min = CFG_NS_S, .max = INT64_MAX,
	 .def = "2min", .doc = "... unless older than this; a zero is sent once"},
	{0},
};
#undef S

static void sink_check(struct cfg_sect *s, const void *obj)
{
	const struct cfg_sink *k = obj;
	unsigned line = cfg_key_line(s, "retry_base");

	if (k->retry_base_ns > k->retry_max_ns)
		cfg_error(s, line ? line : cfg_sect_line(s),
			  "'retry_base' is larger than 'retry_max' in %s", cfg_sect_title(s));
}

static const struct cfg_type *const sink_types[] = {
	&sink_influx_conf, &sink_file_conf, &sink_mqtt_conf, &sink_cloudwatch_conf, NULL,
};

CFG_HEAD_CHECK(struct cfg_sink);
_Static_assert(sizeof(enum cfg_sink_type) == sizeof(int), "the type key fills an int");

const struct cfg_kind sink_conf = {
	.name = "sink",
	.doc = "A destination for every sample (pulse meters: measurement pulse, tag meter=NAME, "
	       "fields power_w, energy_wh, interval_s), shipped independently of the others "
	       "through its own disk spool: nothing is lost while the server is down, across "
	       "restarts, kill -9 or power cuts (bounded by spool_max; every drop is counted)",
	CFG_NAMED(struct cfg_sink, sinks, nsinks),
	.keys = sink_keys,
	.check = sink_check,
	.type_key = "type",
	.type_doc = "what the sink ships to, which decides the keys it takes",
	.type_at = offsetof(struct cfg_sink, type),
	.types = sink_types,
};

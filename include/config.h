/* powerd configuration: INI (libinih), one section per object, [KIND.NAME].
 *
 * Every error is reported as "FILE:LINE: message" (LINE of the offending key,
 * or of the section header for a missing key) to the `errs` stream, and
 * parsing goes on so that one run lists them all. */
#ifndef POWERD_CONFIG_H
#define POWERD_CONFIG_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define CFG_NAME_MAX 64

enum cfg_edge { CFG_EDGE_RISING, CFG_EDGE_FALLING };
enum cfg_bias { CFG_BIAS_AS_IS, CFG_BIAS_DISABLED, CFG_BIAS_PULL_UP, CFG_BIAS_PULL_DOWN };

struct cfg_daemon {
	unsigned line_no;	     /* of the [daemon] header; 0 without one */
	char state_dir[PATH_MAX];    /* default /var/lib/powerd */
	char listen[128];	     /* default 127.0.0.1:9480; "" or "off" disables HTTP */
	char socket[PATH_MAX];	     /* default /run/powerd/powerd.sock */
	int64_t persist_interval_ns; /* default 60 s */
	uint32_t edge_ring;	     /* edge ring capacity, power of two, default 4096 */
	int log_level;		     /* syslog level, default LOG_INFO (6) */
};

struct cfg_pulse {
	char name[CFG_NAME_MAX]; /* from [pulse.NAME]: [A-Za-z0-9_-]+ */
	unsigned line_no;	 /* line of the section header */
	/* hardware input */
	char chip[64];	    /* gpiochip0, /dev/gpiochip0, or a chip label */
	char line[64];	    /* line name, or offset */
	enum cfg_edge edge; /* the edge that starts an LED flash; default falling */
	enum cfg_bias bias; /* default as-is */
	/* replay input (instead of chip/line) */
	char replay[PATH_MAX]; /* "" = hardware */
	double speed;	       /* 0 = as fast as possible, 1 = real time; default 1 */
	bool loop;	       /* default no */
	/* conversion */
	uint32_t impulses_per_kwh;  /* required */
	int64_t min_pulse_ns;	    /* default 5 ms */
	int64_t timeout_ns;	    /* default 5 min */
	int64_t sample_interval_ns; /* default 10 s */
};

enum cfg_sink_type { CFG_SINK_INFLUXDB, CFG_SINK_FILE, CFG_SINK_MQTT, CFG_SINK_CLOUDWATCH };
enum cfg_fsync { CFG_FSYNC_BATCH, CFG_FSYNC_INTERVAL, CFG_FSYNC_NEVER };
enum cfg_mqtt_format { CFG_MQTT_JSON, CFG_MQTT_PICO };

struct cfg_sink {
	char name[CFG_NAME_MAX]; /* from [sink.NAME] */
	unsigned line_no;
	enum cfg_sink_type type; /* required */
	/* batching, spool, retries: every type */
	uint32_t batch_size;	    /* samples per request, default 5000 */
	int64_t flush_interval_ns;  /* default 1 s */
	uint64_t spool_max;	    /* bytes, default 256 MB */
	enum cfg_fsync spool_fsync; /* default batch (and at least every second) */
	uint64_t memory_max;	    /* bytes held in memory while the spool fails, 8 MiB */
	int64_t timeout_ns;	    /* per request, default 10 s */
	int64_t retry_base_ns;	    /* default 1 s */
	int64_t retry_max_ns;	    /* default 5 min */
	/* change detection (PowMr bridge semantics), opt-in */
	bool change_detection; /* default no */
	int64_t heartbeat_ns;  /* default 5 min */
	int64_t freshness_ns;  /* default 2 min */
	/* influxdb */
	char url[512];		    /* http(s)://host:port[/prefix] */
	char database[128];	    /* v1 */
	char retention_policy[128]; /* v1, optional */
	char username[128];	    /* v1 (and mqtt) */
	char password[256];	    /* v1 (and mqtt); never logged */
	char org[128];		    /* v2 */
	char bucket[128];	    /* v2 */
	char token[512];	    /* v2; never logged */
	bool gzip;		    /* default yes */
	/* file */
	char path[PATH_MAX];
	/* mqtt */
	char host[256];		     /* default 127.0.0.1 */
	uint32_t port;		     /* default 1883 (8883 with tls) */
	char client_id[128];	     /* default powerd-<hostname> */
	char topic_prefix[128];	     /* default powerd */
	enum cfg_mqtt_format format; /* json (default) or pico */
	char pico_host[128];	     /* "host" in pico format, default the hostname */
	bool tls;		     /* default no */
	char ca_file[PATH_MAX];	     /* default: the system's CAs */
	bool ha_discovery;	     /* default no */
	char ha_prefix[128];	     /* default homeassistant */
	/* cloudwatch */
	char region[64];		 /* default $AWS_REGION / $AWS_DEFAULT_REGION */
	char namespace_[256];		 /* key "namespace", required */
	char endpoint[512];		 /* default https://monitoring.REGION.amazonaws.com */
	char credentials_file[PATH_MAX]; /* default ~/.aws/credentials */
	char profile[128];		 /* default $AWS_PROFILE or "default" */
	int64_t max_age_ns;		 /* older data is dropped; default 14 days */
};

struct config {
	char path[PATH_MAX];
	struct cfg_daemon daemon;
	struct cfg_pulse *pulses;
	size_t npulses;
	struct cfg_sink *sinks;
	size_t nsinks;
};

/* Parse a file.  Returns 0, -EINVAL when the configuration has errors (all
 * printed to errs), or another negative errno when the file cannot be read
 * (printed too).  On failure *cfg is left empty (safe to cfg_free). */
int cfg_load(const char *path, struct config *cfg, FILE *errs);

/* Same, from memory; `name` is used in messages. */
int cfg_load_mem(const char *name, const char *buf, size_t len, struct config *cfg, FILE *errs);

void cfg_free(struct config *cfg);

/* "250ms", "5s", "5min", "2h", "1.5s"; a bare number is an error.  Returns 0
 * or -EINVAL. */
int cfg_parse_duration(const char *s, int64_t *ns);

/* yes/no/true/false/on/off/1/0 */
int cfg_parse_bool(const char *s, bool *b);

/* "256MB", "1.5GB", "4096", "64KiB": bytes (KB/MB/GB are 1000-based, KiB/MiB/GiB
 * 1024-based, B or no unit is bytes).  Returns 0 or -EINVAL. */
int cfg_parse_size(const char *s, uint64_t *bytes);

#endif

/* powerd configuration: INI (libinih), one section per object, [KIND.NAME].
 *
 * Every error is reported as "FILE:LINE: message" (LINE of the offending key,
 * or of the section header for a missing key) to the `errs` stream, and
 * parsing goes on so that one run lists them all, in line order.
 *
 * This header is what the rest of powerd reads: one struct per section kind.
 * Which keys fill them, their defaults, ranges and docs are declared in
 * tables, one per kind and per sink type (config_table.h). */
#ifndef POWERD_CONFIG_H
#define POWERD_CONFIG_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define CFG_NAME_MAX 64

/* Every section's struct starts with this, so that the parser can add, find
 * and name sections of any kind (name is "" for [daemon]). */
#define CFG_HEAD                                                                                   \
	char name[CFG_NAME_MAX]; /* from [KIND.NAME]: [A-Za-z0-9_-]+ */                            \
	unsigned line_no	 /* line of the section header; 0 without one */

struct cfg_head {
	CFG_HEAD;
};

enum cfg_edge { CFG_EDGE_RISING, CFG_EDGE_FALLING };
enum cfg_bias { CFG_BIAS_AS_IS, CFG_BIAS_DISABLED, CFG_BIAS_PULL_UP, CFG_BIAS_PULL_DOWN };

/* The structs hold what the keys say, in the units the code uses (a key
 * "timeout" fills timeout_ns).  Defaults, ranges and what each key means are
 * in the tables named above each struct, and `powerd --defaults` prints them. */

/* [daemon]: daemon/powerd_conf.c */
struct cfg_daemon {
	CFG_HEAD;
	char state_dir[PATH_MAX];
	char listen[128]; /* HOST:PORT, or "" for no HTTP ("off") */
	char socket[PATH_MAX];
	int64_t persist_interval_ns;
	uint32_t edge_ring; /* capacity, a power of two */
	int log_level;	    /* syslog level */
};

/* [pulse.NAME]: daemon/pulse_conf.c */
struct cfg_pulse {
	CFG_HEAD;
	/* hardware input */
	char chip[64]; /* gpiochipN, /dev/gpiochipN, or a chip label */
	char line[64]; /* line name, or offset */
	enum cfg_edge edge;
	enum cfg_bias bias;
	/* replay input (instead of chip/line) */
	char replay[PATH_MAX]; /* "" = hardware */
	double speed;	       /* 0 = as fast as possible, 1 = real time */
	bool loop;
	/* conversion */
	uint32_t impulses_per_kwh;
	int64_t min_pulse_ns; /* keys min_pulse_ms and min_pulse */
	int64_t timeout_ns;
	int64_t sample_interval_ns;
};

enum cfg_sink_type { CFG_SINK_INFLUXDB, CFG_SINK_FILE, CFG_SINK_MQTT, CFG_SINK_CLOUDWATCH };
enum cfg_fsync { CFG_FSYNC_BATCH, CFG_FSYNC_INTERVAL, CFG_FSYNC_NEVER };
enum cfg_mqtt_format { CFG_MQTT_JSON, CFG_MQTT_PICO };

/* [sink.NAME]: daemon/sink_conf.c has the keys every type takes, and each
 * type its own table, daemon/sink_TYPE_conf.c.  Only the member of the union
 * that `type` names is filled in. */
struct cfg_sink {
	CFG_HEAD;
	enum cfg_sink_type type;
	/* batching, spool, retries */
	uint32_t batch_size; /* samples per request */
	int64_t flush_interval_ns;
	uint64_t spool_max; /* bytes */
	enum cfg_fsync spool_fsync;
	uint64_t memory_max; /* bytes held in memory while the spool fails */
	int64_t timeout_ns;  /* per request */
	int64_t retry_base_ns;
	int64_t retry_max_ns;
	/* change detection (PowMr bridge semantics), opt-in */
	bool change_detection;
	int64_t heartbeat_ns;
	int64_t freshness_ns;
	/* Taken by influxdb and mqtt: outside the union, so that both types'
	 * tables can name the same fields. */
	char username[128];
	char password[256]; /* never logged */
	char ca_file[PATH_MAX];
	union {
		struct {			    /* influxdb: sink_influx_conf.c */
			char url[512];		    /* http(s)://host:port[/prefix] */
			char database[128];	    /* 1.x */
			char retention_policy[128]; /* 1.x */
			char org[128];		    /* 2.x */
			char bucket[128];	    /* 2.x */
			char token[512];	    /* 2.x; never logged */
			bool gzip;
		};
		struct { /* file: sink_file_conf.c */
			char path[PATH_MAX];
		};
		struct { /* mqtt: sink_mqtt_conf.c */
			char host[256];
			uint32_t port;	     /* 0: 1883, or 8883 with tls */
			char client_id[128]; /* "": powerd-<hostname> */
			char topic_prefix[128];
			enum cfg_mqtt_format format;
			char pico_host[128]; /* "": the hostname */
			bool tls;
			bool ha_discovery;
			char ha_prefix[128];
			int64_t ha_expire_after_ns; /* 0: not sent */
			char ha_names[1024];	    /* FIELD=Name, ...; "": derived */
		};
		struct {		      /* cloudwatch: sink_cloudwatch_conf.c */
			char region[64];      /* "": $AWS_REGION, $AWS_DEFAULT_REGION */
			char namespace_[256]; /* key "namespace" */
			char endpoint[512];   /* "": https://monitoring.REGION.amazonaws.com */
			char credentials_file[PATH_MAX]; /* "": ~/.aws/credentials */
			char profile[128];		 /* "": $AWS_PROFILE, or "default" */
			int64_t max_age_ns;		 /* older data is dropped */
			/* As written, checked with cw_select_parse() (cw_select.h). */
			char dimensions[256]; /* "all", "none" or "TAG, TAG" */
			char metrics[2048];   /* "": every field; else "M.F -> NAME, M.F" */
		};
	};
};

enum cfg_json_format { CFG_JSON_POINTS, CFG_JSON_FLAT };
enum cfg_json_after { CFG_JSON_KEEP, CFG_JSON_DELETE, CFG_JSON_MOVE };
enum cfg_json_time {
	CFG_JSON_TIME_AUTO,
	CFG_JSON_TIME_RFC3339,
	CFG_JSON_TIME_UNIX,
	CFG_JSON_TIME_UNIX_MS,
	CFG_JSON_TIME_UNIX_US,
	CFG_JSON_TIME_UNIX_NS
};

/* What every JSON source does with its points (daemon/fields_conf.c, the
 * keys CFG_FIELDS_KEYS() adds to a kind's table; source_doc.h applies
 * them).  The texts were checked at load; the sources parse them again. */
struct cfg_fields {
	char valid[256];	   /* MEAS.FIELD OP VALUE: a document is used only if it holds */
	char derive[2048];	   /* MEAS.FIELD = EXPR, ... */
	char integrate[2048];	   /* MEAS.FIELD -> NAME, ... */
	int64_t integrate_max_gap; /* ns: a longer gap is not integrated over */
	char plot[64];		   /* [MEAS.]FIELD: the page's plot (history.h); "" auto */
};

/* [json.NAME]: daemon/source_json_conf.c.  A source: its NAME is unique
 * among every kind of source, not only among [json] sections. */
struct cfg_json {
	CFG_HEAD;
	char path[PATH_MAX]; /* the directory read (done/ and failed/ under it) */
	char pattern[128];   /* glob on file names */
	enum cfg_json_format format;
	enum cfg_json_after after; /* move: to PATH/done/ */
	char time_key[64];	   /* "": points "time", flat the file's mtime */
	enum cfg_json_time time_format;
	uint64_t max_size;    /* bytes; larger files are refused */
	char measurement[64]; /* flat: of the top-level scalars; "": NAME */
	struct cfg_fields fields;
};

/* [http.NAME]: daemon/source_http_conf.c.  A source, polled over HTTP(S)
 * for one JSON document at a time (jsonpoints' formats, as [json]). */
struct cfg_http {
	CFG_HEAD;
	char url[1024]; /* http:// or https:// only */
	int64_t interval_ns, timeout_ns, connect_timeout_ns;
	enum cfg_json_format format;
	char time_key[64]; /* "": points "time", flat the response's arrival */
	enum cfg_json_time time_format;
	char measurement[64]; /* flat: of the top-level scalars; "": NAME */
	uint64_t max_size;    /* bytes; a larger body is aborted (too_large) */
	char ca_file[PATH_MAX];
	bool insecure; /* no TLS verification at all */
	bool follow_redirects;
	char username[128], password[128]; /* basic auth; the password is never logged */
	struct cfg_fields fields;
};

/* [mqtt.NAME]: daemon/source_mqtt_conf.c.  A source: JSON messages from an
 * MQTT broker's topics.  The connection keys are named as the MQTT sink's
 * (CFG_MQTT_CONN_KEYS). */
enum cfg_mqtt_in_format { CFG_MQTT_IN_TELEGRAF, CFG_MQTT_IN_FLAT, CFG_MQTT_IN_POINTS };
struct cfg_mqtt {
	CFG_HEAD;
	char host[256];
	uint32_t port;	     /* 0: 1883, or 8883 with tls */
	char client_id[128]; /* "": powerd-HOSTNAME-NAME */
	char username[128];
	char password[256]; /* never logged */
	bool tls;
	char ca_file[PATH_MAX];
	char topics[2048]; /* filters, comma-separated, each checked at load */
	uint32_t qos;
	bool clean_session;
	int64_t keepalive_ns;
	enum cfg_mqtt_in_format format;
	char name_key[64]; /* telegraf */
	char time_key[64]; /* "": the arrival time (points: "time") */
	enum cfg_json_time time_format;
	char tag_keys[512];	 /* telegraf: comma-separated */
	char string_fields[512]; /* telegraf: comma-separated */
	char topic_tag[64];	 /* "": none */
	char measurement[64];	 /* flat, telegraf: "": NAME */
	uint64_t max_size;	 /* bytes; larger payloads are refused */
	struct cfg_fields fields;
};

/* [can.NAME]: daemon/source_can_conf.c.  A source: a SocketCAN interface
 * (or a replayed log of one), its frames decoded by protocol. */
enum cfg_can_protocol { CFG_CAN_ECOFLOW, CFG_CAN_RAW };
struct cfg_can {
	CFG_HEAD;
	char interface[16]; /* IFNAMSIZ; "" with replay */
	enum cfg_can_protocol protocol;
	char filter[512];      /* canframe_parse_filters() syntax, checked at load */
	char decode[PATH_MAX]; /* ecoflow: the decode table; "": the shipped one */
	char replay[PATH_MAX]; /* a candump log or SavvyCAN CSV instead of interface */
	double speed;	       /* replay: 1 real time, 0 as fast as possible */
	bool loop;
	char record[PATH_MAX];	   /* every frame also appended here, candump -l format */
	uint64_t record_max;	   /* bytes, then record is renamed to record.1 */
	uint64_t rcvbuf;	   /* SO_RCVBUF in bytes; 0: the kernel's default */
	int64_t state_interval_ns; /* bus state polled this often */
	bool configure;		   /* set the bitrate and bring the interface up */
	uint32_t bitrate;
	uint32_t restart_ms; /* configure: automatic restart after bus-off (0: off) */
	bool allow_transmit;
	uint32_t transmit_max; /* frames per event */
	char plot[64];	       /* [MEAS.]FIELD: the page's plot (history.h); "" auto */
};

/* [modbus.NAME]: daemon/source_modbus_conf.c.  A Modbus device polled by
 * its register map, over TCP or a serial line (RTU); sections with the same
 * rtu:// path are one bus. */
enum cfg_modbus_parity { CFG_MODBUS_PARITY_NONE, CFG_MODBUS_PARITY_EVEN, CFG_MODBUS_PARITY_ODD };
enum cfg_modbus_rs485 { CFG_MODBUS_RS485_NO, CFG_MODBUS_RS485_KERNEL };
struct cfg_modbus {
	CFG_HEAD;
	char url[PATH_MAX + 16]; /* tcp://HOST[:PORT] or rtu:///dev/ttyUSB0 */
	uint32_t baud;		 /* rtu: the line's settings */
	enum cfg_modbus_parity parity;
	uint32_t data_bits, stop_bits;
	struct cfg_modbus_unit {
		uint8_t id;
		bool set; /* false: the map's unit ids */
	} unit;
	int64_t interval_ns, timeout_ns, connect_timeout_ns, pause_ns;
	uint32_t retries;
	char map[PATH_MAX]; /* a shipped map's NAME, or a path */
	bool close_after_poll;
	bool pipeline; /* tcp: a poll's reads sent at once */
	enum cfg_modbus_rs485 rs485;
	uint32_t rs485_delay_before, rs485_delay_after; /* ms */
	bool allow_write;
	char plot[64]; /* [MEAS.]FIELD: the page's plot (history.h); "" auto */
};

/* [eg4.NAME]: daemon/source_eg4_conf.c.  A source: an EG4 / LuxPower WiFi
 * dongle's TCP port, its frames decoded through a register map. */
struct cfg_eg4 {
	CFG_HEAD;
	char host[256];
	uint32_t port;
	char datalog[11];  /* "": learnt from the first frame; else 10 characters */
	char inverter[11]; /* "": learnt from the first reply */
	int64_t poll_ns;   /* 0: only listen */
	bool heartbeats;   /* echo the dongle's heartbeats */
	int64_t watchdog_ns;
	int64_t timeout_ns; /* a reply to a request */
	int64_t connect_timeout_ns;
	int64_t keepalive_ns; /* TCP keepalive idle time; 0: off */
	int64_t backoff_min_ns, backoff_max_ns;
	char map[PATH_MAX]; /* a NAME in the data directory's maps/, or a path */
	char plot[64];	    /* [MEAS.]FIELD: the page's plot (history.h); "" auto */
};

/* One member per section kind (config_table.h): the struct of a kind that
 * appears at most once, an array and its length for a named kind. */
struct config {
	char path[PATH_MAX];
	struct cfg_daemon daemon;
	struct cfg_pulse *pulses;
	size_t npulses;
	struct cfg_json *json;
	size_t njson;
	struct cfg_http *http;
	size_t nhttp;
	struct cfg_mqtt *mqtt;
	size_t nmqtt;
	struct cfg_can *can;
	size_t ncan;
	struct cfg_modbus *modbus;
	size_t nmodbus;
	struct cfg_eg4 *eg4;
	size_t neg4;
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

/* `powerd --defaults`: every section kind with every key, its default and its
 * doc, as a commented INI file that loads as it is. */
void cfg_print_defaults(FILE *out);
/* The same as the manual page powerd.conf(5), in roff (man(7) macros). */
void cfg_print_man(FILE *out);

/* "250ms", "5s", "5min", "2h", "1.5s"; a bare number is an error.  Returns 0
 * or -EINVAL. */
int cfg_parse_duration(const char *s, int64_t *ns);

/* yes/no/true/false/on/off/1/0 */
int cfg_parse_bool(const char *s, bool *b);

/* "256MB", "1.5GB", "4096", "64KiB": bytes (KB/MB/GB are 1000-based, KiB/MiB/GiB
 * 1024-based, B or no unit is bytes).  Returns 0 or -EINVAL. */
int cfg_parse_size(const char *s, uint64_t *bytes);

#endif

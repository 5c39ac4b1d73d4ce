/* A sink: one configured destination ([sink.NAME]), with its own spool,
 * batch, retry state and counters.  The uploader thread drives every sink;
 * a sink type only knows how to ship one batch of samples:
 *
 *   send(): start shipping a span of packed samples (sample.h; it stays
 *           valid until the verdict).  HTTP sinks build a CURL easy handle
 *           and add it to the uploader's multi handle (sink->multi); others
 *           may finish synchronously.  Returns 0 when started, or a
 *           negative errno (treated as a retryable failure).
 *   fit():  optional: how many of the first samples of a span one request
 *           may carry (at least 1), for a service whose limit is not a
 *           number of samples (CloudWatch: 1000 datums).  The uploader cuts
 *           what it sends accordingly, so that a refused request is bisected
 *           and a failed one retried on its own.
 *   done(): for HTTP sinks, called by the uploader when the easy handle
 *           finishes; classifies the outcome.
 *   poll(): for sinks with their own I/O (MQTT): called every turn of the
 *           uploader loop while a batch is in flight; reports completion.
 *
 * A sink reports the outcome of the batch in flight with sink_complete().
 * The uploader then acknowledges the spool (SINK_OK), schedules a retry with
 * full-jitter exponential backoff (SINK_RETRY), or bisects / drops the batch
 * (SINK_REJECT: the server refused the data itself, e.g. HTTP 400). */
#ifndef POWERD_SINK_H
#define POWERD_SINK_H

#include <curl/curl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "config.h"
#include "sample.h"
#include "spool.h"

enum sink_verdict { SINK_OK, SINK_RETRY, SINK_REJECT };

struct sink;

struct sink_ops {
	const char *type;
	int (*open)(struct sink *s); /* after the generic part is set up */
	void (*close)(struct sink *s);
	int (*send)(struct sink *s, const struct sample_span *v);
	size_t (*fit)(const struct sink *s, const struct sample_span *v);
	void (*done)(struct sink *s, CURL *easy, CURLcode cc, long http_status);
	void (*poll)(struct sink *s);
	size_t max_batch; /* per request; 0 = no limit of its own */
};

/* Classify an HTTP outcome the way every HTTP sink does: 2xx ok; 429, 5xx,
 * timeouts and connection errors retry; so do 401, 403 and 404 (credentials
 * or target wrong: the data is fine); other 4xx reject the data. */
enum sink_verdict sink_http_verdict(CURLcode cc, long http_status);

struct sink_stats {
	uint64_t accepted;	      /* samples handed to the sink */
	uint64_t sent;		      /* samples acknowledged by the server */
	uint64_t retried;	      /* failed attempts that will be retried */
	uint64_t dropped_rejected;    /* refused by the server (4xx) */
	uint64_t dropped_spool;	      /* deleted by the spool cap */
	uint64_t dropped_corrupt;     /* in damaged spool records whose header survived */
	uint64_t dropped_spool_error; /* could not be written to the spool, beyond memory_max
				       * or at shutdown */
	uint64_t dropped_too_old;     /* older than the service accepts (CloudWatch) */
	uint64_t dropped_encode;      /* could not be encoded (e.g. NaN only) */
	uint64_t unchanged_skipped;   /* change detection suppressed */
	uint64_t requests;
	int64_t oldest_unsent_unix_ns; /* 0 = nothing pending */
	char last_error[256];
	int64_t last_error_unix_ns;
	int64_t last_ok_unix_ns;
	bool last_request_ok; /* the last request succeeded (true before the first) */
};

struct sink {
	const struct cfg_sink *cfg;
	const struct sink_ops *ops;
	void *priv;		     /* the type's own state */
	CURLM *multi;		     /* the uploader's; HTTP sinks add their easy handle */
	const struct config *config; /* all of it: MQTT discovery describes the sources */
	struct sink_stats st;
	/* set by sink_complete(), consumed by the uploader */
	enum sink_verdict verdict;
	bool verdict_ready;
	char verdict_msg[256];
};

/* Called by a sink type (on the uploader thread) when the batch in flight is
 * finished.  msg: the server's message or the error, for logs and status. */
void sink_complete(struct sink *s, enum sink_verdict v, const char *msg);

/* Helpers for sink types. */
void sink_set_error(struct sink *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

extern const struct sink_ops sink_influxdb_ops;
extern const struct sink_ops sink_file_ops;
extern const struct sink_ops sink_mqtt_ops;
extern const struct sink_ops sink_cloudwatch_ops;

#endif

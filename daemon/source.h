/* A source: one input of the daemon (a meter's GPIO line, a replayed trace,
 * later a directory of JSON files, an HTTP poll, a CAN bus...).  Every kind
 * implements the same small interface and reports the same way, so the I/O
 * thread starts "the sources" and the status, /metrics, the page and
 * powerctl show one table of them, whatever they are.
 *
 *   open    on the supervisor, before the threads start: set up what may
 *           fail with a clear error (a file that cannot be opened); a
 *           failure stops the start, as a configuration error does
 *   start   on the I/O thread, when its loop is about to run: arm the ops
 *   finish  on the I/O thread when its loop has ended, while the uploader
 *           still runs (optional): a source with a thread of its own stops
 *           it here, and may wait a bounded time for its samples to be safe
 *   stop    after the loop has drained (no op of the source is in flight):
 *           release everything (also when start never ran)
 *   status  under powerd.lock, when a reader takes the status: add what is
 *           particular to the kind (optional)
 *
 * A source reports through its counters (atomics: any thread may count)
 * and its state and detail line (under powerd.lock): samples produced,
 * errors by reason, the time of its last sample. */
#ifndef POWERD_SOURCE_H
#define POWERD_SOURCE_H

#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"

#define SOURCE_REASONS_MAX 32
#define SOURCE_DETAIL_MAX  256

enum source_state {
	SOURCE_STARTING,
	SOURCE_OK,	   /* producing, or ready to */
	SOURCE_CONNECTING, /* waiting for its device or peer */
	SOURCE_ERROR,	   /* failing; the detail says why, and it retries */
	SOURCE_IDLE,	   /* nothing left to do (a replay that finished) */
	SOURCE_BACKLOG,	   /* working through stored data faster than real time */
};

struct powerd;
struct senergy;
struct source;
struct status_source;

struct source_ops {
	const char *kind; /* the section kind it comes from: "pulse", "json", ... */
	int (*open)(struct source *s);
	void (*start)(struct source *s);
	void (*finish)(struct source *s); /* optional */
	void (*stop)(struct source *s);
	void (*status)(struct source *s, struct status_source *out); /* optional */
};

struct source {
	const struct source_ops *ops;
	struct powerd *pd;
	uint32_t index;
	char name[CFG_NAME_MAX];
	const void *conf;	/* its section of the configuration (struct cfg_KIND) */
	const char *plot;	/* its plot = key (history.h), in conf; NULL: a meter */
	void *priv;		/* the kind's own state */
	struct senergy *energy; /* its integrals (source_energy.h), or NULL */
	/* Counters: any thread. */
	_Atomic uint64_t samples;
	_Atomic int64_t last_sample_unix_ns; /* 0 = none yet */
	const char *reason[SOURCE_REASONS_MAX];
	_Atomic uint64_t errors[SOURCE_REASONS_MAX];
	unsigned nreasons;
	/* Long work (a backlog): items done of total (total 0: none), and the
	 * time left (-1: unknown). */
	_Atomic uint64_t progress_done, progress_total;
	_Atomic int64_t progress_eta_ns;
	/* Under powerd.lock. */
	enum source_state state;
	char detail[SOURCE_DETAIL_MAX];
};

/* The implementations. */
extern const struct source_ops source_gpio_ops;
extern const struct source_ops source_replay_ops;
extern const struct source_ops source_json_ops;
extern const struct source_ops source_http_ops;
extern const struct source_ops source_mqtt_ops;
extern const struct source_ops source_can_ops;
extern const struct source_ops source_modbus_ops;
extern const struct source_ops source_eg4_ops;

/* Declare an error reason (at open): returns its index, to count with.
 * The same reason twice gives the same index. */
unsigned source_reason(struct source *s, const char *reason);
void source_error(struct source *s, unsigned reason);

/* A sample made from this source, with its own time; rec, len: the packed
 * sample (NULL: none), for the history (history.h). */
void source_sample(struct source *s, int64_t ts_unix_ns, const void *rec, size_t len);

/* State and detail line (printf-style), under powerd.lock. */
void source_set_state(struct source *s, enum source_state st, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

const char *source_state_name(enum source_state st);

/* Fill out from s (takes what is under powerd.lock itself: call with it
 * held). */
void source_status(struct source *s, struct status_source *out);

#endif

/* The running daemon: its threads, rings and meters.
 *
 *   I/O thread    io.c       io_uring loop: GPIO line-event fds, replay files,
 *                            timers, signalfd.  Pushes edges into `edges`.
 *   meter thread  meter.c    pops edges, runs the filter and converter
 *                            (pulse.c), publishes snapshots, persists energy.
 *   HTTP threads  http.c     libmicrohttpd; reads snapshots via powerd_status().
 *   main thread   main.c     supervises: start, reload on SIGHUP, stop.
 *
 * Ownership: a meter's `src` part belongs to the I/O thread, its `pm` part to
 * the meter thread, its `pub` part is shared under `lock`.  The only other
 * channel between threads is the SPSC edge ring and the eventfd that wakes
 * the meter thread. */
#ifndef POWERD_POWERD_H
#define POWERD_POWERD_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "buf.h"
#include "config.h"
#include "gpio.h"
#include "log.h"
#include "capture.h"
#include "meter_set.h"
#include "loop.h"
#include "persist.h"
#include "pulse.h"
#include "ring.h"
#include "sample.h"
#include "source.h"
#include "status.h"

/* One edge on its way from the I/O thread to the meter thread. */
struct edge_item {
	int64_t ts_ns; /* CLOCK_MONOTONIC (kernel time, or mapped trace time) */
	uint32_t meter;
	uint32_t level;
};

#define GPIO_READ_EVENTS 64

/* Confirming a level by the passing of time is only safe once no older edge
 * can still be on its way (kernel FIFO, io_uring, ring).  Time-based
 * confirmation therefore lags the clock by this much; it delays when a flash
 * is reported, never its timestamp.  Readers of the power use the same lag:
 * edges are known up to now minus this. */
#define METER_DELIVERY_MARGIN_NS (100 * 1000000LL)
#define REPLAY_BUF_SIZE		 65536

/* What the meter thread publishes for readers: under powerd.lock. */
struct meter_pub {
	struct pulse_meter pm;	   /* copy: readers compute the power at their "now" */
	char input[PATH_MAX + 64]; /* set by its source: the line, or the file */
};

struct meter {
	struct powerd *pd;
	struct source *source; /* its input: counts the samples made from it */
	/* meter thread: periodic samples between flashes */
	int64_t next_sample_mono;
	bool zero_sent;
	uint32_t index;
	const struct cfg_pulse *cfg;
	struct pulse_meter pm;
	uint64_t persisted;		      /* flash count last written to disk */
	struct persist_health persist_health; /* meter thread, persist_report() */
	struct meter_pub pub;
	/* Written by the I/O thread, read anywhere. */
	_Atomic uint64_t events_lost;
	_Atomic uint64_t input_errors;
	/* Every edge with a timestamp <= watermark is in the edge ring (or
	 * was): the meter thread never confirms a level by time beyond it.
	 * INT64_MAX for GPIO lines (the kernel delivers in order); a replay
	 * raises it as it pushes edges, to INT64_MAX when it has finished. */
	_Atomic int64_t watermark;
	int64_t watermark_seen; /* meter thread's copy, read before the ring */
};

/* Samples the meter thread's ring had no room for, oldest first: the meter
 * thread keeps them and retries, so a slow uploader delays samples without
 * losing them or stalling the meter thread (meter thread only).  Packed,
 * each after its u32 length. */
struct meter_outbox {
	struct buf q;
	size_t head; /* bytes of q already handed over */
	size_t len;  /* samples waiting */
	bool closed; /* at shutdown: no more waiting */
	struct log_rate drop_log;
};

/* The meter thread's ring into the uploader, in bytes: some 680 pulse
 * samples (96 bytes each in the ring). */
#define METER_RING_BYTES (64 * 1024)

/* Counters that outlive a reload: owned by the supervisor. */
struct powerd_stats {
	_Atomic uint64_t reloads_ok;
	_Atomic uint64_t reloads_failed;
	_Atomic uint64_t persist_ok;
	_Atomic uint64_t persist_failed;
	_Atomic int64_t last_persist_unix_ns;
	/* Counters loaded from .prev, or restarted at 0, for want of a good
	 * current checkpoint. */
	_Atomic uint64_t state_recovered_prev;
	_Atomic uint64_t state_recovered_zero;
	int64_t start_unix_ns;
	/* powerctl reload: an HTTP thread waits here for the supervisor's
	 * verdict on the new file (main.c answers, powerd.c asks). */
	struct powerd_reload {
		pthread_mutex_t lock;
		pthread_cond_t done; /* CLOCK_MONOTONIC */
		bool waiting, answered;
		int result;	/* 0: the file is good, the daemon restarts with it */
		char msg[4096]; /* the errors */
	} reload;
	/* The last hour's plots, from a run that ended, for the next one (a
	 * reload) to take over; the supervisor frees what is left at exit. */
	struct history *history_kept;
};

/* What the I/O thread tells the supervisor (written to ctl_fd). */
enum powerd_event { POWERD_EV_STOP = 'T', POWERD_EV_RELOAD = 'H', POWERD_EV_FATAL = 'F' };

struct powerd {
	const struct config *cfg;
	struct powerd_stats *stats;
	struct meter *meters; /* the pulse sources' meters, by source index */
	size_t nmeters;
	struct source *sources; /* every input; pulse ones first, as the meters */
	size_t nsources;
	struct ring edges;
	pthread_mutex_t lock;

	int wake_fd;	/* eventfd: edges are waiting (or stop), for the meter thread */
	int io_stop_fd; /* eventfd: stop, for the I/O thread */
	struct loop_op io_stop_op;
	uint64_t io_stop_buf;
	int ctl_fd;	/* write end of the supervisor's pipe */
	int state_lock; /* holds state_dir's lock (statedir.h) */
	int sig_fd;	/* signalfd, read by the I/O thread */
	struct loop *loop;
	struct loop_op sig_op;
	unsigned char sig_buf[128];

	struct meter_outbox outbox;
	struct mset mset;	/* powerctl set-energy (meter_set.h) */
	struct capture capture; /* powerctl capture (capture.h) */
	struct tap *tap;	/* powerctl tail (tap.h); NULL without sinks */

	pthread_t io_thread;
	pthread_t meter_thread;
	bool threads_started;
	_Atomic bool stopping;
	struct http *http;
	struct history *history;	   /* the last hour per source (history.h) */
	struct uploader *uploader;	   /* NULL without sinks */
	struct uploader_producer *samples; /* the meter thread's ring ("samples") */
	/* What the [http.NAME] sources share on the I/O thread: one curl multi
	 * handle, one ring ("http"); source_http.c's, NULL without them. */
	struct hsrc_group *http_group;
	/* What the [can.NAME] sources share: one ring ("can"); source_can.c's. */
	struct csrc_group *can_group;
	/* Host names for the network sources (tcpconn.c): started by the first
	 * that needs it, on the I/O thread's loop. */
	struct resolver *resolver;
	/* What the [modbus.NAME] sources share: one ring ("modbus"), the
	 * serial lines; source_modbus.c's. */
	struct msrc_group *modbus_group;
	/* What the [eg4.NAME] sources share: one ring ("eg4"); source_eg4.c's. */
	struct esrc_group *eg4_group;
};

/* Start everything for cfg (threads, sources, HTTP).  Returns 0 or a negative
 * errno after logging why. */
int powerd_start(struct powerd *pd, const struct config *cfg, struct powerd_stats *stats,
		 int ctl_fd);
/* Stop threads, persist energy, release everything. */
void powerd_stop(struct powerd *pd);

/* status_fill_fn for the HTTP server. */
int powerd_status(void *arg, struct status *st);

/* io.c: the I/O thread's body and the sources it drives. */
void *io_thread_main(void *arg);
int io_setup(struct powerd *pd);
void io_teardown(struct powerd *pd);
void io_notify_meter(struct powerd *pd);

/* meter.c: the meter thread. */
void *meter_thread_main(void *arg);

/* powerd.c: what a meter's source says it reads (under powerd.lock). */
void meter_set_input(struct meter *m, const char *input);

#endif

/* A consistent copy of the daemon's state, taken under the meters' lock and
 * then rendered without holding anything: /metrics, /api/status, the HTML
 * page and powerctl all read this one structure. */
#ifndef POWERD_STATUS_H
#define POWERD_STATUS_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"

struct history;

struct status_meter {
	char name[CFG_NAME_MAX];
	char input[PATH_MAX + 64]; /* "gpiochip0 line 17 (PULSE0)" or "replay FILE" */
	bool replay;
	uint32_t impulses_per_kwh;
	bool power_known;
	double power_w;
	uint64_t flashes; /* energy counter, survives restarts */
	double energy_wh;
	double energy_j;
	uint64_t edges;	       /* since start */
	uint64_t glitches;     /* since start */
	uint64_t events_lost;  /* kernel event overflow, since start */
	uint64_t input_errors; /* bad trace lines, read errors, since start */
	bool have_flash;
	double last_flash_age_s;  /* valid if have_flash */
	double last_flash_unix_s; /* valid if have_flash */
	char state[128];	  /* "ok", "waiting for the second flash", "error: ..." */
	bool today_known;
	double energy_today_wh;	   /* since today_since_unix_s (history.h) */
	double today_since_unix_s; /* local midnight, or powerd's start that day */
};

/* Every source, whatever its kind (source.h). */
#define STATUS_SOURCE_REASONS 32

/* What a [can.NAME] source adds (source_can.c). */
#define STATUS_CAN_UNKNOWN 16
struct status_can {
	bool present;
	char interface[16];	/* "" for a replay */
	char bus_state[16];	/* error-active, ..., bus-off, stopped, down, absent, unknown */
	uint64_t frames, bytes; /* received (or replayed) */
	uint64_t kernel_drops;	/* the socket's receive queue overflowed (SO_RXQ_OVFL) */
	uint64_t error_frames;	/* error frames the controller reported */
	uint64_t records, decoded, unknown;    /* reassembled; with a layout; without one */
	uint64_t to_error_passive, to_bus_off; /* transitions seen by powerd */
	uint64_t restarts;		       /* the controller's, from its own counters */
	bool have_berr;
	uint32_t berr_tx, berr_rx;
	uint64_t transmitted, transmit_refused; /* frames */
	unsigned nunknown;
	struct {
		char id[40]; /* "03:1A 14>03 len 126" */
		uint64_t n;
	} unknown_ids[STATUS_CAN_UNKNOWN];
};
/* What an [eg4.NAME] source adds (source_eg4.c). */
struct status_eg4 {
	bool present;
	char host[256];
	uint32_t port;
	char datalog[11], inverter[11]; /* configured or learnt; "" not yet */
	bool connected;
	uint64_t connects;	/* connections made */
	uint64_t bytes, frames; /* received */
	uint64_t heartbeats, heartbeats_echoed;
	uint64_t polls, requests;  /* poll rounds, read requests sent */
	uint64_t replies, foreign; /* replies to ours; to others (decoded too) */
	uint64_t pushes;	   /* all-inputs frames (more than 40 registers) */
};

/* What a [modbus.NAME] source adds (source_modbus.c). */
#define STATUS_MODBUS_EX 12 /* exceptions by code 1..11; 0: codes outside */
struct status_modbus {
	bool present;
	bool rtu;
	char device[160];	    /* the serial port, or HOST:PORT */
	int unit;		    /* the section's unit; -1: the map's */
	bool connected;		    /* tcp: connected now (rtu: always) */
	uint64_t polls;		    /* started */
	uint64_t requests, replies; /* sent; good replies (exceptions are not) */
	uint64_t written;	    /* writes the device confirmed */
	uint64_t exceptions[STATUS_MODBUS_EX];
};
struct status_source {
	char name[CFG_NAME_MAX];
	char kind[16];		   /* the section kind: "pulse", ... */
	char state[16];		   /* starting, ok, connecting, error, idle, backlog */
	char detail[256];	   /* one line: what it does, or why it fails */
	bool up;		   /* ok, idle or backlog */
	uint64_t samples;	   /* made from it, since start */
	double last_sample_unix_s; /* 0 = none yet */
	unsigned nerrors;
	struct {
		char reason[24];
		uint64_t n;
	} errors[STATUS_SOURCE_REASONS];
	/* Long work under way (progress_total > 0): items done, and the time
	 * left in seconds (-1: unknown). */
	uint64_t progress_done, progress_total;
	double progress_eta_s;
	int meter; /* a pulse source: its index in status.meters; -1 otherwise */
	/* Its integrals (`integrate`): energy from power. */
	unsigned nenergy;
	struct {
		char measurement[32], field[32];
		double joules;
	} energy[16];
	struct status_can can;
	struct status_modbus modbus;
	struct status_eg4 eg4;
};

struct status_sink {
	char name[CFG_NAME_MAX];
	char type[16];
	uint64_t accepted;	      /* samples taken in (after change detection) */
	uint64_t sent;		      /* acknowledged by the server */
	uint64_t retried;	      /* samples in failed attempts that are retried */
	uint64_t dropped_rejected;    /* refused by the server (after bisection) */
	uint64_t dropped_spool;	      /* deleted by the spool cap */
	uint64_t dropped_corrupt;     /* in damaged spool records whose header survived */
	uint64_t dropped_spool_error; /* the spool could not take them (beyond memory_max,
				       * or at shutdown) */
	uint64_t dropped_too_old;     /* older than the service accepts */
	uint64_t dropped_encode;      /* not representable (e.g. only NaN fields) */
	uint64_t unchanged_skipped;   /* suppressed by change detection */
	uint64_t requests;
	uint64_t spool_bytes;
	uint64_t spool_unsent_bytes;
	uint64_t pending;		/* samples in the open batch (not yet on disk) */
	uint64_t held;			/* samples kept in memory while the spool fails */
	bool up;			/* the last request succeeded */
	char spool_error[128];		/* "" while the spool works */
	uint64_t spool_damaged_regions; /* damaged stretches: what they held is unknown */
	uint64_t spool_torn_tails;	/* torn appends cut off at open */
	uint64_t spool_ack_damaged;	/* ack files that did not match: re-sent */
	uint64_t spool_files_set_aside; /* unusable files named like segments */
	double oldest_unsent_age_s;	/* 0 = nothing waiting */
	char last_error[256];
	double last_error_unix_s; /* 0 = never */
	double last_ok_unix_s;	  /* 0 = never */
	char state[96];		  /* "ok", "sending backlog", "failing: ..." */
};

/* The edge ring, and one ring per thread that publishes samples. */
#define STATUS_RINGS_MAX 20

struct status_ring {
	char name[32];
	uint64_t capacity;
	uint64_t used;
	uint64_t dropped;
};

/* One HTTP listener, counted since the HTTP server started (a reload
 * restarts it). */
struct status_http {
	char listener[8];	   /* "tcp" or "unix" */
	uint64_t connections;	   /* open now */
	uint64_t cut_slow_request; /* closed by powerd: no whole request in time */
};

struct status {
	char version[32];
	char config_path[PATH_MAX];
	double start_unix_s;
	double uptime_s;
	uint64_t reloads_ok;
	uint64_t reloads_failed;
	uint64_t persist_ok;
	uint64_t persist_failed;
	double last_persist_unix_s;    /* 0 = never */
	uint64_t state_recovered_prev; /* counters continued from .prev */
	uint64_t state_recovered_zero; /* restarted at 0: no good checkpoint left */
	long rss_bytes;
	double cpu_seconds;
	struct status_meter *meters;
	size_t nmeters;
	struct status_source *sources;
	size_t nsources;
	struct status_sink *sinks;
	size_t nsinks;
	struct status_ring rings[STATUS_RINGS_MAX];
	size_t nrings;
	struct status_http http[2]; /* filled by the HTTP server itself */
	size_t nhttp;
	struct history *history; /* the daemon's, not a copy (history_snapshot) */
};

/* Provided by the daemon: fill *st (allocating st->meters) / release it. */
typedef int (*status_fill_fn)(void *arg, struct status *st);
void status_release(struct status *st);

#endif

/* The impulse-LED meter: glitch filter and pulse-to-watt converter.
 *
 * Pure computation on kernel timestamps (nanoseconds, any monotonic origin):
 * no I/O, no clock reads, no allocation.  The daemon and pulselog run exactly
 * this code, so a trace replayed offline gives the numbers the daemon gave.
 * Times stay within +-2^62 ns (the clock does, and trace times are bounded
 * by trace.h's TRACE_TIME_MAX_NS), so the difference of two of them, or a
 * time plus min_pulse_ns, cannot overflow int64.
 *
 * Filter (ESPHome pulse_meter "PULSE" mode): a raw level counts only once it
 * has been held for at least min_pulse_ns.  A flash is an active period so
 * confirmed, followed by a confirmed inactive period.  Shorter periods are
 * glitches and are absorbed into the surrounding stable level.  A flash whose
 * start was not seen (line already active when we started) is not counted.
 *
 * Converter: the flash time is the kernel time at which its confirmed active
 * period began; power is 3.6e6 / (impulses_per_kwh * interval_s) between two
 * consecutive flashes.  Energy is the exact flash count / impulses_per_kwh.
 */
#ifndef POWERD_PULSE_H
#define POWERD_PULSE_H

#include <stdbool.h>
#include <stdint.h>

#define PULSE_NS_PER_S 1000000000LL

struct pulse_params {
	uint32_t impulses_per_kwh; /* > 0 */
	int64_t min_pulse_ns;	   /* >= 0; 0 disables the filter */
	int64_t timeout_ns;	   /* > 0: no flash for this long => 0 W */
};

struct pulse_flash {
	int64_t ts_ns;	     /* start of the flash (kernel time) */
	int64_t interval_ns; /* since the previous flash; 0 for the first one */
	double power_w;	     /* from interval_ns; 0 when interval_ns == 0 */
	uint64_t count;	     /* flashes including this one (energy counter) */
};

struct pulse_meter {
	struct pulse_params p;

	/* filter */
	int8_t raw;	       /* last raw level seen, -1 before the first edge */
	int8_t stable;	       /* confirmed level, -1 unknown */
	bool stable_has_start; /* false for a level already present at start */
	int64_t raw_since;     /* time of the edge that began the raw level */
	int64_t stable_since;  /* time the confirmed level began */

	/* converter */
	int64_t last_flash_ns;
	int64_t last_interval_ns; /* 0 until two flashes were seen */
	bool have_flash;

	/* counters */
	uint64_t flashes; /* energy counter: persisted base + accepted flashes */
	uint64_t edges;
	uint64_t glitches;
};

void pulse_init(struct pulse_meter *m, const struct pulse_params *p, uint64_t flashes_base);

/* Feed one edge: level 1 = LED on / line active.  ts_ns must not go back in
 * time (an older edge is ignored and returns -ERANGE).  Returns 1 when the
 * edge completed a flash (*f filled), 0 otherwise. */
int pulse_edge(struct pulse_meter *m, int64_t ts_ns, int level, struct pulse_flash *f);

/* Let time pass without an edge: confirms a level held for min_pulse_ns, so a
 * flash is accepted within min_pulse_ns of its end rather than at the next
 * flash.  Returns 1 when a flash was completed (*f filled), 0 otherwise. */
int pulse_advance(struct pulse_meter *m, int64_t now_ns, struct pulse_flash *f);

/* The earliest time at which pulse_advance() could accept a flash, or
 * INT64_MAX if nothing is pending. */
int64_t pulse_next_deadline(const struct pulse_meter *m);

/* Power estimate for a meter whose edges are all known up to seen_ns (the
 * caller's "now" less whatever may still be on its way): the last interval's
 * power; once the time since the last flash exceeds that interval with no
 * new flash begun by seen_ns, the upper bound 3.6e6/(ipk*(seen-last)); 0 once
 * it exceeds the timeout.  A flash under way (its LED on, or on and off but
 * not yet confirmed) is not overdue: the bound then would read low by the
 * confirmation delay at every flash.  Returns false (and *w = 0) while
 * unknown: fewer than two flashes and no timeout reached yet. */
bool pulse_power(const struct pulse_meter *m, int64_t seen_ns, double *w);

/* Exact energy in watt-hours and joules for a flash count. */
double pulse_energy_wh(const struct pulse_params *p, uint64_t flashes);
double pulse_energy_j(const struct pulse_params *p, uint64_t flashes);

/* Power for an interval (ns > 0). */
double pulse_power_for(const struct pulse_params *p, int64_t interval_ns);

#endif

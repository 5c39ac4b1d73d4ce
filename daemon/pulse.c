#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "pulse.h"

void pulse_init(struct pulse_meter *m, const struct pulse_params *p, uint64_t flashes_base)
{
	memset(m, 0, sizeof(*m));
	m->p = *p;
	m->raw = -1;
	m->stable = -1;
	m->flashes = flashes_base;
}

double pulse_power_for(const struct pulse_params *p, int64_t interval_ns)
{
	/* 3.6e6 J per kWh over (impulses_per_kwh * seconds), with ns folded in. */
	return 3.6e15 / ((double)p->impulses_per_kwh * (double)interval_ns);
}

double pulse_energy_wh(const struct pulse_params *p, uint64_t flashes)
{
	return (double)flashes * 1000.0 / (double)p->impulses_per_kwh;
}

double pulse_energy_j(const struct pulse_params *p, uint64_t flashes)
{
	return (double)flashes * 3.6e6 / (double)p->impulses_per_kwh;
}

/* A level has been held for at least min_pulse_ns since `since`. */
static int pulse_confirm(struct pulse_meter *m, int level, int64_t since, struct pulse_flash *f)
{
	int flash = 0;

	if (m->stable == level)
		return 0; /* a glitch came and went inside a stable level */
	if (level == 0 && m->stable == 1) {
		/* The active period began at stable_since; that is the flash. */
		int64_t t = m->stable_since;

		f->ts_ns = t;
		f->interval_ns = m->have_flash ? t - m->last_flash_ns : 0;
		f->power_w = f->interval_ns > 0 ? pulse_power_for(&m->p, f->interval_ns) : 0;
		f->count = ++m->flashes;
		if (f->interval_ns > 0)
			m->last_interval_ns = f->interval_ns;
		m->last_flash_ns = t;
		m->have_flash = true;
		flash = 1;
	}
	/* stable == -1 here means the level before the first edge: a flash
	 * already in progress at start is never counted (its start is unseen). */
	m->stable = (int8_t)level;
	m->stable_since = since;
	return flash;
}

int pulse_edge(struct pulse_meter *m, int64_t ts_ns, int level, struct pulse_flash *f)
{
	int flash = 0;

	level = level ? 1 : 0;
	if (m->raw >= 0 && ts_ns < m->raw_since)
		return -ERANGE;
	m->edges++;
	if (m->raw == level)
		return 0; /* no change: a repeated level carries no information */
	if (m->raw >= 0) {
		if (ts_ns - m->raw_since >= m->p.min_pulse_ns)
			flash = pulse_confirm(m, m->raw, m->raw_since, f);
		else
			m->glitches++;
	}
	m->raw = (int8_t)level;
	m->raw_since = ts_ns;
	return flash;
}

int pulse_advance(struct pulse_meter *m, int64_t now_ns, struct pulse_flash *f)
{
	/* A time before the last edge (a watermark not raised yet) confirms
	 * nothing, and must not be subtracted from it. */
	if (m->raw < 0 || m->raw == m->stable || now_ns < m->raw_since)
		return 0;
	if (now_ns - m->raw_since < m->p.min_pulse_ns)
		return 0;
	return pulse_confirm(m, m->raw, m->raw_since, f);
}

int64_t pulse_next_deadline(const struct pulse_meter *m)
{
	if (m->raw < 0 || m->raw == m->stable)
		return INT64_MAX;
	return m->raw_since + m->p.min_pulse_ns;
}

bool pulse_power(const struct pulse_meter *m, int64_t seen_ns, double *w)
{
	int64_t since;
	bool under_way;

	*w = 0;
	if (!m->have_flash)
		return false;
	since = seen_ns > m->last_flash_ns ? seen_ns - m->last_flash_ns : 0;
	if (since >= m->p.timeout_ns)
		return true;
	if (m->last_interval_ns == 0)
		return false; /* one flash: no interval yet */
	under_way = (m->raw == 1 && m->raw_since > m->last_flash_ns) ||
		    (m->stable == 1 && m->stable_since > m->last_flash_ns);
	/* Past the last interval with nothing begun, the next flash is
	 * overdue, so the power can be at most what a flash right now would
	 * give. */
	*w = pulse_power_for(
		&m->p, !under_way && since > m->last_interval_ns ? since : m->last_interval_ns);
	return true;
}

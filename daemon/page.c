#include <inttypes.h>
#include <math.h>
#include <string.h>
#include <time.h>

#include "fmt.h"
#include "page.h"

static const char page_head[] =
	"<!DOCTYPE html>\n"
	"<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
	"<meta http-equiv=\"refresh\" content=\"5\">\n"
	"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
	"<title>powerd</title>\n<style>\n"
	"body{font-family:system-ui,sans-serif;margin:1.5em;color:#222;background:#fafafa}\n"
	"h1{font-size:1.4em;margin:0 0 .2em}h2{font-size:1.1em;margin:1.4em 0 .4em}\n"
	"table{border-collapse:collapse;background:#fff}\n"
	"th,td{padding:.3em .7em;border-bottom:1px solid #ddd;text-align:left;"
	"vertical-align:top}\n"
	"th{background:#eee;font-weight:600}td.n{text-align:right;"
	"font-variant-numeric:tabular-nums;white-space:nowrap}\n"
	".sub{color:#777;font-size:.85em}.ok{color:#176f2c}.warn{color:#8a6100}"
	".err{color:#b00020;font-weight:600}\n"
	"footer{margin-top:1.5em;color:#777;font-size:.85em}\n"
	"</style>\n</head>\n<body>\n";

static void page_lit(struct buf *b, const char *s)
{
	buf_append(b, s, strlen(s));
}

static void page_escape(struct buf *b, const char *s)
{
	const char *run = s;

	for (; *s; s++) {
		const char *esc;

		switch (*s) {
		case '&':
			esc = "&amp;";
			break;
		case '<':
			esc = "&lt;";
			break;
		case '>':
			esc = "&gt;";
			break;
		case '"':
			esc = "&quot;";
			break;
		case '\'':
			esc = "&#39;";
			break;
		default:
			/* Control characters are not allowed in HTML text; a state
			 * may quote one. */
			if ((unsigned char)*s >= 0x20 || *s == '\t' || *s == '\n')
				continue;
			esc = "&#xFFFD;";
			break;
		}
		buf_append(b, run, (size_t)(s - run));
		page_lit(b, esc);
		run = s + 1;
	}
	buf_append(b, run, (size_t)(s - run));
}

/* Readable at a glance (fmt_seconds). */
static void page_duration(struct buf *b, double s)
{
	char d[48];

	fmt_seconds(d, sizeof(d), s, false);
	buf_append(b, d, strlen(d));
}

static void page_time(struct buf *b, double unix_s)
{
	time_t t = (time_t)unix_s;
	char s[64];
	struct tm tm;

	if (!isfinite(unix_s) || !gmtime_r(&t, &tm) ||
	    !strftime(s, sizeof(s), "%Y-%m-%d %H:%M:%S UTC", &tm)) {
		page_lit(b, "?");
		return;
	}
	page_lit(b, s);
}

static const char *page_state_class(const char *state)
{
	if (!strcmp(state, "ok") || !strcmp(state, "idle") || !strcmp(state, "backlog"))
		return "ok";
	if (!strncmp(state, "error", 5))
		return "err";
	return "warn";
}

/* One row per source: what every kind has, then a pulse meter's own cells
 * (power, energy, last flash, counters), blank for other kinds. */
static void page_source(struct buf *b, const struct status *st, const struct status_source *s)
{
	const struct status_meter *m =
		s->meter >= 0 && (size_t)s->meter < st->nmeters ? &st->meters[s->meter] : NULL;
	uint64_t errors = 0;
	unsigned i;

	for (i = 0; i < s->nerrors && i < STATUS_SOURCE_REASONS; i++)
		errors += s->errors[i].n;
	page_lit(b, "<tr><td>");
	page_escape(b, s->name);
	page_lit(b, "<div class=\"sub\">");
	page_escape(b, s->kind);
	if (m) {
		page_lit(b, ": ");
		page_escape(b, m->input);
		buf_printf(b, ", %" PRIu32 " imp/kWh", m->impulses_per_kwh);
	}
	page_lit(b, "</div></td><td class=\"n\">");
	if (m && m->power_known)
		buf_printf(b, "%.1f W", m->power_w);
	else
		page_lit(b, "&ndash;");
	page_lit(b, "</td><td class=\"n\">");
	if (m)
		buf_printf(b, "%.3f kWh", m->energy_wh / 1000.0);
	else
		page_lit(b, "&ndash;");
	page_lit(b, "</td><td class=\"n\">");
	if (m && m->have_flash) {
		page_duration(b, m->last_flash_age_s);
		page_lit(b, " ago");
	} else if (m) {
		page_lit(b, "never");
	} else {
		page_lit(b, "&ndash;");
	}
	buf_printf(b, "</td><td class=\"n\">%" PRIu64 "</td><td class=\"n\">", s->samples);
	if (m)
		buf_printf(b,
			   "%" PRIu64 "</td><td class=\"n\">%" PRIu64
			   "</td><td class=\"n\">%" PRIu64,
			   m->flashes, m->glitches, m->events_lost);
	else
		page_lit(b, "&ndash;</td><td class=\"n\">&ndash;</td><td class=\"n\">&ndash;");
	buf_printf(b, "</td><td class=\"n%s\">%" PRIu64 "</td><td class=\"%s\">",
		   errors ? " err" : "", errors, page_state_class(s->state));
	page_escape(b, m ? m->state : s->state);
	if (!m && s->detail[0]) {
		page_lit(b, ": ");
		page_escape(b, s->detail);
	}
	page_lit(b, "</td></tr>\n");
}

static void page_sources(struct buf *b, const struct status *st)
{
	size_t i;

	page_lit(b, "<h2>Sources</h2>\n<table>\n<tr><th>Source</th><th>Power</th><th>Energy</th>"
		    "<th>Last flash</th><th>Samples</th><th>Flashes</th><th>Glitches</th>"
		    "<th>Lost</th><th>Errors</th><th>State</th></tr>\n");
	if (!st->nsources)
		page_lit(b, "<tr><td colspan=\"10\">No sources configured.</td></tr>\n");
	for (i = 0; i < st->nsources; i++)
		page_source(b, st, &st->sources[i]);
	page_lit(b, "</table>\n");
}

static void page_rings(struct buf *b, const struct status *st)
{
	size_t i, n = st->nrings;

	if (n > sizeof(st->rings) / sizeof(st->rings[0]))
		n = sizeof(st->rings) / sizeof(st->rings[0]);
	if (!n)
		return;
	page_lit(b, "<h2>Rings</h2>\n<table>\n<tr><th>Ring</th><th>Capacity</th><th>Used</th>"
		    "<th>Dropped</th></tr>\n");
	for (i = 0; i < n; i++) {
		const struct status_ring *r = &st->rings[i];

		page_lit(b, "<tr><td>");
		page_escape(b, r->name);
		buf_printf(b,
			   "</td><td class=\"n\">%" PRIu64 "</td><td class=\"n\">%" PRIu64
			   "</td><td class=\"n%s\">%" PRIu64 "</td></tr>\n",
			   r->capacity, r->used, r->dropped ? " err" : "", r->dropped);
	}
	page_lit(b, "</table>\n");
}

static void page_sinks(struct buf *b, const struct status *st)
{
	size_t i;

	if (!st->nsinks)
		return;
	page_lit(b, "<h2>Sinks</h2>\n<table>\n<tr><th>Sink</th><th>Type</th><th>State</th>"
		    "<th>Sent</th><th>Retried</th><th>Dropped</th><th>Unsent spool</th>"
		    "<th>Oldest unsent</th><th>Last error</th></tr>\n");
	for (i = 0; i < st->nsinks; i++) {
		const struct status_sink *k = &st->sinks[i];
		uint64_t dropped = k->dropped_rejected + k->dropped_spool + k->dropped_corrupt +
				   k->dropped_spool_error + k->dropped_too_old + k->dropped_encode;
		bool ok = strncmp(k->state, "failing", 7) != 0 && !k->spool_error[0];

		page_lit(b, "<tr><td>");
		page_escape(b, k->name);
		page_lit(b, "</td><td>");
		page_escape(b, k->type);
		buf_printf(b, "</td><td class=\"%s\">", ok ? "ok" : "err");
		page_escape(b, k->state);
		buf_printf(b,
			   "</td><td class=\"n\">%" PRIu64 "</td><td class=\"n\">%" PRIu64
			   "</td><td class=\"n%s\">%" PRIu64 "</td><td class=\"n\">%" PRIu64
			   " B</td><td class=\"n\">",
			   k->sent, k->retried, dropped ? " err" : "", dropped,
			   k->spool_unsent_bytes);
		if (k->oldest_unsent_age_s > 0)
			page_duration(b, k->oldest_unsent_age_s);
		else
			page_lit(b, "-");
		page_lit(b, "</td><td>");
		page_escape(b, k->last_error[0] ? k->last_error : "-");
		page_lit(b, "</td></tr>\n");
	}
	page_lit(b, "</table>\n");
}

static void page_daemon(struct buf *b, const struct status *st)
{
	page_lit(b, "<h2>Daemon</h2>\n<table>\n<tr><th>Version</th><td>");
	page_escape(b, st->version);
	page_lit(b, "</td></tr>\n<tr><th>Configuration</th><td>");
	page_escape(b, st->config_path);
	page_lit(b, "</td></tr>\n<tr><th>Started</th><td>");
	page_time(b, st->start_unix_s);
	page_lit(b, "</td></tr>\n<tr><th>Uptime</th><td>");
	page_duration(b, st->uptime_s);
	buf_printf(b,
		   "</td></tr>\n<tr><th>Reloads</th><td>%" PRIu64 " ok, <span class=\"%s\">%" PRIu64
		   " failed</span></td></tr>\n",
		   st->reloads_ok, st->reloads_failed ? "err" : "ok", st->reloads_failed);
	buf_printf(b,
		   "<tr><th>State saved</th><td>%" PRIu64 " ok, <span class=\"%s\">%" PRIu64
		   " failed</span>, last ",
		   st->persist_ok, st->persist_failed ? "err" : "ok", st->persist_failed);
	if (st->last_persist_unix_s != 0)
		page_time(b, st->last_persist_unix_s);
	else
		page_lit(b, "never");
	page_lit(b, "</td></tr>\n");
	if (st->rss_bytes >= 0)
		buf_printf(b, "<tr><th>Memory (RSS)</th><td>%.1f MiB</td></tr>\n",
			   (double)st->rss_bytes / (1024.0 * 1024.0));
	buf_printf(b, "<tr><th>CPU time</th><td>%.2f s</td></tr>\n</table>\n", st->cpu_seconds);
}

int page_render(const struct status *st, struct buf *out)
{
	page_lit(out, page_head);
	page_lit(out, "<h1>powerd</h1>\n<div class=\"sub\">");
	page_escape(out, st->version);
	page_lit(out, ", up ");
	page_duration(out, st->uptime_s);
	page_lit(out, "</div>\n");
	page_sources(out, st);
	page_sinks(out, st);
	page_rings(out, st);
	page_daemon(out, st);
	page_lit(out, "<footer>Refreshes every 5 s. Also: <a href=\"/metrics\">/metrics</a>, "
		      "<a href=\"/api/status\">/api/status</a>.</footer>\n</body>\n</html>\n");
	return out->err;
}

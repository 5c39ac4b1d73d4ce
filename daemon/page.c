/* GET /: the status page (page.h). */
#include <inttypes.h>
#include <math.h>
#include <string.h>
#include <time.h>

#include "fmt.h"
#include "history.h"
#include "page.h"

/* Cards in a grid that is one column on a phone: nothing is wider than
 * the screen, long words (paths, errors) wrap. */
static const char page_head[] =
	"<!DOCTYPE html>\n"
	"<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
	"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
	"<noscript><meta http-equiv=\"refresh\" content=\"10\"></noscript>\n"
	"<title>powerd</title>\n<script src=\"/page.js\" defer></script>\n<style>\n"
	"*{box-sizing:border-box}\n"
	"body{font-family:system-ui,sans-serif;margin:0 auto;padding:12px;max-width:1280px;"
	"color:#222;background:#f4f4f4;overflow-wrap:anywhere}\n"
	"h1{font-size:1.4em;margin:0 0 .2em}h2{font-size:1.1em;margin:1.2em 0 .5em}\n"
	".grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(min(100%,340px),1fr));"
	"gap:12px}\n"
	".grid.wide{grid-template-columns:repeat(auto-fill,minmax(min(100%,560px),1fr))}\n"
	".card{background:#fff;border:1px solid #ddd;border-radius:8px;padding:10px 12px;"
	"min-width:0}\n"
	".card h3{font-size:1em;margin:0 0 .3em}\n"
	".big{font-size:2em;font-weight:600;font-variant-numeric:tabular-nums}\n"
	".kv{display:grid;grid-template-columns:auto 1fr;gap:2px 12px;margin:0}\n"
	".kv dt{color:#666}.kv dd{margin:0;font-variant-numeric:tabular-nums}\n"
	".sub{color:#777;font-size:.85em}.ok{color:#176f2c}.warn{color:#8a6100}"
	".err{color:#b00020;font-weight:600}\n"
	"svg.plot{width:100%;height:auto;display:block}\n"
	"svg.plot text{font-size:11px;fill:#555}svg.plot .grid{stroke:#e4e4e4}"
	"svg.plot .line{fill:none;stroke:#1f6fb2;stroke-width:1.5}"
	"svg.plot .band{fill:#1f6fb2;fill-opacity:.15;stroke:none}"
	"svg.plot circle{fill:#1f6fb2}\n"
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

static void page_num(struct buf *b, const char *key, const char *name, const char *fmt, bool known,
		     double v)
{
	page_lit(b, "<span data-k=\"");
	page_lit(b, key);
	page_lit(b, "\" data-n=\"");
	page_escape(b, name);
	page_lit(b, "\">");
	if (known)
		buf_printf(b, fmt, v);
	else
		page_lit(b, "&ndash;");
	page_lit(b, "</span>");
}

/* Local time of day, for "today since" (the history serialises local
 * time conversions). */
static void page_clock(struct buf *b, const struct status *st, double unix_s)
{
	char s[16];

	history_clock(st->history, unix_s, s, sizeof(s));
	page_lit(b, s);
}

/* The headline: each meter's power and today's energy. */
static void page_meters(struct buf *b, const struct status *st)
{
	size_t i;

	if (!st->nmeters)
		return;
	page_lit(b, "<h2>Meters</h2>\n<div class=\"grid\">\n");
	for (i = 0; i < st->nmeters; i++) {
		const struct status_meter *m = &st->meters[i];

		page_lit(b, "<div class=\"card meter\"><h3>");
		page_escape(b, m->name);
		page_lit(b, "</h3><div class=\"big\">");
		page_num(b, "power", m->name, "%.1f W", m->power_known, m->power_w);
		page_lit(b, "</div><dl class=\"kv\"><dt>Today</dt><dd>");
		page_num(b, "today", m->name, "%.3f kWh", m->today_known,
			 m->energy_today_wh / 1000.0);
		page_lit(b, " <span class=\"sub\">since <span data-k=\"since\" data-n=\"");
		page_escape(b, m->name);
		page_lit(b, "\">");
		if (m->today_known)
			page_clock(b, st, m->today_since_unix_s);
		else
			page_lit(b, "&ndash;");
		page_lit(b, "</span></span></dd><dt>Total</dt><dd>");
		page_num(b, "total", m->name, "%.3f kWh", true, m->energy_wh / 1000.0);
		page_lit(b, "</dd><dt>Last flash</dt><dd>");
		if (m->have_flash) {
			page_duration(b, m->last_flash_age_s);
			page_lit(b, " ago");
		} else {
			page_lit(b, "never");
		}
		page_lit(b, "</dd></dl></div>\n");
	}
	page_lit(b, "</div>\n");
}

/* One card per source for its plot, drawn by the script from
 * /api/history. */
static void page_plots(struct buf *b, const struct status *st)
{
	size_t i;

	if (!st->nsources)
		return;
	page_lit(b, "<h2>Last hour</h2>\n<div class=\"grid wide\">\n");
	for (i = 0; i < st->nsources; i++) {
		page_lit(b, "<div class=\"card\"><h3>");
		page_escape(b, st->sources[i].name);
		page_lit(b, " <span class=\"sub\" data-k=\"plotted\" data-n=\"");
		page_escape(b, st->sources[i].name);
		page_lit(b, "\"></span></h3><svg class=\"plot\" viewBox=\"0 0 560 200\" "
			    "role=\"img\" data-n=\"");
		page_escape(b, st->sources[i].name);
		page_lit(b, "\"><text x=\"280\" y=\"100\" text-anchor=\"middle\">"
			    "The plot needs JavaScript.</text></svg></div>\n");
	}
	page_lit(b, "</div>\n");
}

static void page_source(struct buf *b, const struct status *st, const struct status_source *s)
{
	const struct status_meter *m =
		s->meter >= 0 && (size_t)s->meter < st->nmeters ? &st->meters[s->meter] : NULL;
	uint64_t errors = 0;
	unsigned i;

	for (i = 0; i < s->nerrors && i < STATUS_SOURCE_REASONS; i++)
		errors += s->errors[i].n;
	page_lit(b, "<div class=\"card\"><h3>");
	page_escape(b, s->name);
	page_lit(b, " <span class=\"sub\">");
	page_escape(b, s->kind);
	if (m) {
		page_lit(b, ": ");
		page_escape(b, m->input);
		buf_printf(b, ", %" PRIu32 " imp/kWh", m->impulses_per_kwh);
	}
	buf_printf(b, "</span></h3><dl class=\"kv\"><dt>State</dt><dd class=\"%s\">",
		   page_state_class(s->state));
	page_escape(b, m ? m->state : s->state);
	if (!m && s->detail[0]) {
		page_lit(b, ": ");
		page_escape(b, s->detail);
	}
	page_lit(b, "</dd><dt>Last sample</dt><dd>");
	if (s->last_sample_unix_s > 0) {
		page_duration(b, st->start_unix_s + st->uptime_s - s->last_sample_unix_s);
		page_lit(b, " ago");
	} else {
		page_lit(b, "none yet");
	}
	buf_printf(b, "</dd><dt>Samples</dt><dd>%" PRIu64 "</dd>", s->samples);
	buf_printf(b, "<dt>Errors</dt><dd class=\"%s\">%" PRIu64, errors ? "err" : "ok", errors);
	for (i = 0; i < s->nerrors && i < STATUS_SOURCE_REASONS; i++) {
		if (!s->errors[i].n)
			continue;
		buf_printf(b, " <span class=\"sub\">");
		page_escape(b, s->errors[i].reason);
		buf_printf(b, " %" PRIu64 "</span>", s->errors[i].n);
	}
	page_lit(b, "</dd>");
	if (m)
		buf_printf(b,
			   "<dt>Flashes</dt><dd>%" PRIu64 "</dd><dt>Glitches</dt><dd>%" PRIu64
			   "</dd><dt>Lost</dt><dd class=\"%s\">%" PRIu64 "</dd>",
			   m->flashes, m->glitches, m->events_lost ? "err" : "ok", m->events_lost);
	if (s->progress_total)
		buf_printf(b, "<dt>Backlog</dt><dd>%" PRIu64 " of %" PRIu64 " done</dd>",
			   s->progress_done, s->progress_total);
	page_lit(b, "</dl></div>\n");
}

static void page_sources(struct buf *b, const struct status *st)
{
	size_t i;

	page_lit(b, "<h2>Sources</h2>\n<div class=\"grid\" id=\"sources\">\n");
	if (!st->nsources)
		page_lit(b, "<div class=\"card\">No sources configured.</div>\n");
	for (i = 0; i < st->nsources; i++)
		page_source(b, st, &st->sources[i]);
	page_lit(b, "</div>\n");
}

static void page_sinks(struct buf *b, const struct status *st)
{
	size_t i;

	if (!st->nsinks)
		return;
	page_lit(b, "<h2>Sinks</h2>\n<div class=\"grid\" id=\"sinks\">\n");
	for (i = 0; i < st->nsinks; i++) {
		const struct status_sink *k = &st->sinks[i];
		uint64_t dropped = k->dropped_rejected + k->dropped_spool + k->dropped_corrupt +
				   k->dropped_spool_error + k->dropped_too_old + k->dropped_encode;
		bool ok = strncmp(k->state, "failing", 7) != 0 && !k->spool_error[0];

		page_lit(b, "<div class=\"card\"><h3>");
		page_escape(b, k->name);
		page_lit(b, " <span class=\"sub\">");
		page_escape(b, k->type);
		buf_printf(b, "</span></h3><dl class=\"kv\"><dt>State</dt><dd class=\"%s\">",
			   ok ? "ok" : "err");
		page_escape(b, k->state);
		buf_printf(b,
			   "</dd><dt>Sent</dt><dd>%" PRIu64 "</dd><dt>Retried</dt><dd>%" PRIu64
			   "</dd><dt>Dropped</dt><dd class=\"%s\">%" PRIu64
			   "</dd><dt>Backlog</dt><dd>%" PRIu64 " B unsent, %" PRIu64 " in memory",
			   k->sent, k->retried, dropped ? "err" : "ok", dropped,
			   k->spool_unsent_bytes, k->pending + k->held);
		if (k->oldest_unsent_age_s > 0) {
			page_lit(b, ", oldest ");
			page_duration(b, k->oldest_unsent_age_s);
		}
		page_lit(b, "</dd><dt>Last error</dt><dd>");
		page_escape(b, k->last_error[0] ? k->last_error : "none");
		page_lit(b, "</dd></dl></div>\n");
	}
	page_lit(b, "</div>\n");
}

static void page_rings(struct buf *b, const struct status *st)
{
	size_t i, n = st->nrings;

	if (n > sizeof(st->rings) / sizeof(st->rings[0]))
		n = sizeof(st->rings) / sizeof(st->rings[0]);
	if (!n)
		return;
	page_lit(b, "<div class=\"card\"><h3>Rings</h3><dl class=\"kv\">");
	for (i = 0; i < n; i++) {
		const struct status_ring *r = &st->rings[i];

		page_lit(b, "<dt>");
		page_escape(b, r->name);
		buf_printf(b,
			   "</dt><dd>%" PRIu64 " of %" PRIu64 " used, <span class=\"%s\">%" PRIu64
			   " dropped</span></dd>",
			   r->used, r->capacity, r->dropped ? "err" : "ok", r->dropped);
	}
	page_lit(b, "</dl></div>\n");
}

static void page_daemon(struct buf *b, const struct status *st)
{
	page_lit(b, "<h2>Daemon</h2>\n<div class=\"grid\">\n<div class=\"card\"><h3>powerd</h3>"
		    "<dl class=\"kv\"><dt>Version</dt><dd>");
	page_escape(b, st->version);
	page_lit(b, "</dd><dt>Configuration</dt><dd>");
	page_escape(b, st->config_path);
	page_lit(b, "</dd><dt>Started</dt><dd>");
	page_time(b, st->start_unix_s);
	page_lit(b, "</dd><dt>Uptime</dt><dd>");
	page_duration(b, st->uptime_s);
	buf_printf(b,
		   "</dd><dt>Reloads</dt><dd>%" PRIu64 " ok, <span class=\"%s\">%" PRIu64
		   " failed</span></dd>",
		   st->reloads_ok, st->reloads_failed ? "err" : "ok", st->reloads_failed);
	buf_printf(b,
		   "<dt>State saved</dt><dd>%" PRIu64 " ok, <span class=\"%s\">%" PRIu64
		   " failed</span>, last ",
		   st->persist_ok, st->persist_failed ? "err" : "ok", st->persist_failed);
	if (st->last_persist_unix_s != 0)
		page_time(b, st->last_persist_unix_s);
	else
		page_lit(b, "never");
	page_lit(b, "</dd>");
	if (st->rss_bytes >= 0)
		buf_printf(b, "<dt>Memory (RSS)</dt><dd>%.1f MiB</dd>",
			   (double)st->rss_bytes / (1024.0 * 1024.0));
	buf_printf(b, "<dt>CPU time</dt><dd>%.2f s</dd></dl></div>\n", st->cpu_seconds);
	page_rings(b, st);
	page_lit(b, "</div>\n");
}

int page_render(const struct status *st, struct buf *out)
{
	page_lit(out, page_head);
	page_lit(out, "<h1>powerd</h1>\n<div class=\"sub\">");
	page_escape(out, st->version);
	page_lit(out, ", up ");
	page_duration(out, st->uptime_s);
	page_lit(out, ", <span id=\"updated\">rendered by the server</span></div>\n");
	page_meters(out, st);
	page_plots(out, st);
	page_sources(out, st);
	page_sinks(out, st);
	page_daemon(out, st);
	page_lit(out, "<footer>Updates every 5 s. Also: <a href=\"/metrics\">/metrics</a>, "
		      "<a href=\"/api/status\">/api/status</a>, "
		      "<a href=\"/api/history\">/api/history</a>.</footer>\n</body>\n</html>\n");
	return out->err;
}

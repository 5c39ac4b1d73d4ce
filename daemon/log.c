/* Logging (log.h): one line per write to stderr, and rate-limited lines. */
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

/* The one piece of process-wide state besides the configuration: the level,
 * set from it.  Atomic because the HTTP threads log too. */
static _Atomic int log_level = LOG_INFO;

void log_set_level(int level)
{
	atomic_store(&log_level, level);
}

void log_msg(int level, const char *fmt, ...)
{
	static const char *const words[] = {"emerg",   "alert",	 "crit", "error",
					    "warning", "notice", "info", "debug"};
	char line[1024];
	va_list ap;
	int n;

	if (level > atomic_load(&log_level))
		return;
	if (getenv("JOURNAL_STREAM"))
		n = snprintf(line, sizeof(line), "<%d>", level);
	else
		n = snprintf(line, sizeof(line), "powerd: %s: ", words[level & 7]);
	va_start(ap, fmt);
	vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	/* One write per line so lines from different threads never interleave. */
	strcat(line, "\n");
	fputs(line, stderr);
}

bool log_rate_due(struct log_rate *r, int64_t now_ns, int64_t period_ns, uint64_t *count)
{
	if (!r->pending || (r->last_ns && now_ns - r->last_ns < period_ns))
		return false;
	*count = r->pending;
	r->pending = 0;
	r->last_ns = now_ns;
	return true;
}

bool log_rate_event(struct log_rate *r, int64_t now_ns, int64_t period_ns, uint64_t *count)
{
	r->pending++;
	return log_rate_due(r, now_ns, period_ns, count);
}

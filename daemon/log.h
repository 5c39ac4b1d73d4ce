/* Logging to stderr, which systemd's journal captures.  Under systemd
 * (JOURNAL_STREAM set) each line carries a "<N>" priority prefix so the
 * journal keeps the level; on a terminal, a short level word instead. */
#ifndef POWERD_LOG_H
#define POWERD_LOG_H

#include <stdbool.h>
#include <stdint.h>
#include <syslog.h>

void log_set_level(int level);
void log_msg(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A line that may repeat without bound (a refused sample, a failed write):
 * at most one per period, saying how many events it stands for. */
struct log_rate {
	int64_t last_ns;  /* when the last line was due; 0 = never */
	uint64_t pending; /* events not reported yet */
};

/* Count one event at now_ns.  True when a line is due: *count is then the
 * number of events it stands for, and they are no longer pending. */
bool log_rate_event(struct log_rate *r, int64_t now_ns, int64_t period_ns, uint64_t *count);

/* Events still pending whose period has passed (call now and then, so the
 * last ones of a burst are reported too): as log_rate_event. */
bool log_rate_due(struct log_rate *r, int64_t now_ns, int64_t period_ns, uint64_t *count);

#define log_err(...)   log_msg(LOG_ERR, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_WARNING, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)

#endif

/* Logging to stderr, which systemd's journal captures.  Under systemd
 * (JOURNAL_STREAM set) each line carries a "<N>" priority prefix so the
 * journal keeps the level; on a terminal, a short level word instead. */
#ifndef POWERD_LOG_H
#define POWERD_LOG_H

#include <syslog.h>

void log_set_level(int level);
void log_msg(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_err(...)   log_msg(LOG_ERR, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_WARNING, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)

#endif

/* What every sink type shares: the HTTP outcome rules and error reporting. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "log.h"
#include "sink.h"

enum sink_verdict sink_http_verdict(CURLcode cc, long http_status)
{
	if (cc != CURLE_OK)
		return SINK_RETRY; /* timeouts, refused connections, TLS, DNS... */
	if (http_status >= 200 && http_status < 300)
		return SINK_OK;
	if (http_status == 429 || http_status >= 500 || http_status == 408)
		return SINK_RETRY;
	/* Wrong credentials, or a database/bucket that does not exist (yet):
	 * the configuration is at fault, not the data, so keep it and retry
	 * until the user fixes it (the sink shows as failing meanwhile). */
	if (http_status == 401 || http_status == 403 || http_status == 404)
		return SINK_RETRY;
	return SINK_REJECT;
}

void sink_set_error(struct sink *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(s->st.last_error, sizeof(s->st.last_error), fmt, ap);
	va_end(ap);
	s->st.last_error_unix_ns = clock_unix_ns();
}

void sink_complete(struct sink *s, enum sink_verdict v, const char *msg)
{
	s->verdict = v;
	s->verdict_ready = true;
	snprintf(s->verdict_msg, sizeof(s->verdict_msg), "%s", msg ? msg : "");
	s->st.last_request_ok = v == SINK_OK;
	if (v == SINK_OK)
		s->st.last_ok_unix_ns = clock_unix_ns();
	else
		sink_set_error(s, "%s", s->verdict_msg);
}

/* What the MQTT sink and the MQTT source do alike with a libmosquitto
 * client: the process-wide library init (counted: sinks and sources come
 * and go), credentials and TLS from the shared connection keys
 * (CFG_MQTT_CONN_KEYS), and error texts. */
#ifndef POWERD_MQTT_CONN_H
#define POWERD_MQTT_CONN_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct mosquitto;

/* mosquitto_lib_init() for the first user, cleanup after the last.
 * Returns 0 or -ENOMEM. */
int mqtt_conn_lib_get(void);
void mqtt_conn_lib_put(void);

/* Username and password (if a username is set), and TLS with the peer
 * verified (never insecure): ca_file, or the system's CAs.  Returns 0,
 * -ENOMEM, or -EINVAL with why filled (never a secret in it). */
int mqtt_conn_secure(struct mosquitto *mosq, const char *username, const char *password, bool tls,
		     const char *ca_file, char *why, size_t len);

/* Reconnect backoff: the delays, and the wait.  The first attempt after a
 * connection came up waits MQTT_CONN_RETRY_MIN_NS (the caller resets
 * *retry_ns), each failure doubles it up to MQTT_CONN_RETRY_MAX_NS. */
#define MQTT_CONN_RETRY_MIN_NS 1000000000LL
#define MQTT_CONN_RETRY_MAX_NS 30000000000LL

/* Wait *retry_ns (or until *stop is set and cond signalled, under lock),
 * then double *retry_ns.  Returns false when stopping. */
bool mqtt_conn_backoff(pthread_mutex_t *lock, pthread_cond_t *cond, const bool *stop,
		       int64_t *retry_ns);

/* MOSQ_ERR_ERRNO means "see errno", which mosquitto_strerror() does not. */
const char *mqtt_conn_strerror(int rc, int err);

#endif

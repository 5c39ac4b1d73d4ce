/* libmosquitto clients' common setup (mqtt_conn.h). */
#include <errno.h>
#include <mosquitto.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "mqtt_conn.h"

/* mosquitto_lib_init() and _cleanup() are process-wide and not thread-safe. */
static pthread_mutex_t mqtt_conn_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned mqtt_conn_users;

int mqtt_conn_lib_get(void)
{
	int rc = MOSQ_ERR_SUCCESS;

	pthread_mutex_lock(&mqtt_conn_lock);
	if (mqtt_conn_users == 0)
		rc = mosquitto_lib_init();
	if (rc == MOSQ_ERR_SUCCESS)
		mqtt_conn_users++;
	pthread_mutex_unlock(&mqtt_conn_lock);
	return rc == MOSQ_ERR_SUCCESS ? 0 : -ENOMEM;
}

void mqtt_conn_lib_put(void)
{
	pthread_mutex_lock(&mqtt_conn_lock);
	if (mqtt_conn_users && --mqtt_conn_users == 0)
		mosquitto_lib_cleanup();
	pthread_mutex_unlock(&mqtt_conn_lock);
}

int mqtt_conn_secure(struct mosquitto *mosq, const char *username, const char *password, bool tls,
		     const char *ca_file, char *why, size_t len)
{
	int rc;

	if (username[0] && mosquitto_username_pw_set(mosq, username, password[0] ? password : NULL))
		return -ENOMEM;
	if (!tls)
		return 0;
	/* Peer verification stays on (the default); never insecure. */
	rc = mosquitto_tls_set(mosq, ca_file[0] ? ca_file : NULL,
			       ca_file[0] ? NULL : "/etc/ssl/certs", NULL, NULL, NULL);
	if (rc == MOSQ_ERR_SUCCESS)
		rc = mosquitto_tls_opts_set(mosq, 1, NULL, NULL);
	if (rc == MOSQ_ERR_SUCCESS)
		rc = mosquitto_tls_insecure_set(mosq, false);
	if (rc != MOSQ_ERR_SUCCESS) {
		snprintf(why, len, "TLS setup failed (ca_file '%s'): %s", ca_file,
			 mosquitto_strerror(rc));
		return -EINVAL;
	}
	return 0;
}

const char *mqtt_conn_strerror(int rc, int err)
{
	return rc == MOSQ_ERR_ERRNO ? strerror(err) : mosquitto_strerror(rc);
}

bool mqtt_conn_backoff(pthread_mutex_t *lock, pthread_cond_t *cond, const bool *stop,
		       int64_t *retry_ns)
{
	struct timespec until;
	int64_t t;
	bool go;

	pthread_mutex_lock(lock);
	t = clock_mono_ns() + *retry_ns;
	until.tv_sec = t / 1000000000LL;
	until.tv_nsec = t % 1000000000LL;
	while (!*stop)
		if (pthread_cond_timedwait(cond, lock, &until) == ETIMEDOUT)
			break;
	*retry_ns = *retry_ns * 2 > MQTT_CONN_RETRY_MAX_NS ? MQTT_CONN_RETRY_MAX_NS : *retry_ns * 2;
	go = !*stop;
	pthread_mutex_unlock(lock);
	return go;
}

/* The MQTT source ([mqtt.NAME]): JSON messages from a broker's topics, each
 * read whole as points (source_doc.h) and published through a producer ring
 * of its own, "mqtt.NAME".
 *
 * The connection runs in a thread of the source's own, as the MQTT sink's
 * does (mosquitto_loop(), mosquitto_reconnect_async() with backoff, not
 * mosquitto_loop_start(): libmosquitto 2.0's loop thread ends for good on a
 * TLS error and sleeps through its reconnect delays uninterruptibly).  Not
 * on the I/O thread's loop: a full ring makes on_message wait, which the
 * loop must never do, and libmosquitto's own reads, TLS handshakes and
 * name resolution would block it too.  libmosquitto calls on_message on
 * this thread, so the thread is the ring's only producer.
 *
 * Delivery: QoS 1 (qos = 1), clean_session = no and a stable client id, so
 * the broker keeps the subscription and queues what is published while
 * powerd is away, and the subscription is made again on every connection.
 * While the ring is full on_message waits (bounded by stop): the loop reads
 * no more, and the broker's in-flight window fills, which is the flow
 * control QoS 1 gives.
 *
 * When is a message acknowledged?  libmosquitto 2.0 makes the PUBACK in
 * handle__publish() before it calls on_message; unthreaded it writes it
 * there and then, threaded (mosquitto_threaded_set) it only queues it, and
 * the loop writes it after on_message has returned.  Measured with 2.0.11:
 * a client that dies inside on_message gets the message again from its
 * session when threaded, and never when not.  So this source is threaded:
 * a message is acknowledged once its samples are in the ring, and a wait
 * for room delays its PUBACK too.  After a kill -9 or a power cut, what was
 * in the ring or in a sink's open batch, not yet spooled, is lost (its
 * PUBACK went out); a message being taken in is sent again.  A clean stop
 * writes the queued PUBACKs (reading nothing more) and waits, bounded, in
 * finish, for the samples to be spooled.  QoS 1 is at-least-once: a message
 * whose PUBACK was lost with the connection arrives twice. */
#include <errno.h>
#include <limits.h>
#include <mosquitto.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "fmt.h"
#include "log.h"
#include "mqtt_conn.h"
#include "powerd.h"
#include "sample.h"
#include "source.h"
#include "source_doc.h"
#include "status.h"
#include "uploader.h"

#define MSRC_RING	  (1u << 20) /* bytes of the producer ring */
#define MSRC_STOP_WAIT_NS (3000000000LL)
#define MSRC_TOPICS_MAX	  64
#define MSRC_LOG_NS	  (60 * 1000000000LL)
#define NS_PER_S	  1000000000LL

struct msrc {
	struct source *s;
	struct powerd *pd;
	const struct cfg_mqtt *c;
	struct mosquitto *mosq;
	bool lib;
	pthread_t thread;
	bool thread_started;
	/* fixed after open */
	char host[256];
	int port;
	char client_id[128];
	char *topic_buf; /* c->topics, split */
	char *topic[MSRC_TOPICS_MAX];
	int ntopics;
	struct jp_opts opts;

	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool stop; /* the thread must end */
	bool connected;
	bool refused;	  /* the broker said no (CONNACK): the detail says why */
	int64_t retry_ns; /* the next reconnect delay */

	/* the thread's own */
	struct uploader_producer *prod;
	struct sdoc doc;
	struct log_rate bad_log, conn_log;

	/* any thread */
	_Atomic uint64_t messages, nrefused;
	_Atomic int64_t last_msg_mono_ns; /* 0: none yet */

	unsigned r_connect, r_dropped;
};

static bool msrc_stopping(struct msrc *m)
{
	bool stop;

	pthread_mutex_lock(&m->lock);
	stop = m->stop;
	pthread_mutex_unlock(&m->lock);
	return stop;
}

/* ------------------------------------------------------------ callbacks */

static void msrc_on_connect(struct mosquitto *mosq, void *obj, int rc, int flags,
			    const mosquitto_property *props)
{
	struct msrc *m = obj;
	uint64_t k;
	int sr;

	(void)props;
	if (rc) {
		pthread_mutex_lock(&m->lock);
		m->refused = true;
		pthread_mutex_unlock(&m->lock);
		source_set_state(m->s, SOURCE_ERROR, "broker %s:%d refused the connection: %s",
				 m->host, m->port, mosquitto_connack_string(rc));
		if (log_rate_event(&m->conn_log, clock_mono_ns(), MSRC_LOG_NS, &k))
			log_warn("mqtt %s: broker %s:%d refused the connection: %s (%llu times); "
				 "trying again with backoff",
				 m->s->name, m->host, m->port, mosquitto_connack_string(rc),
				 (unsigned long long)k);
		return;
	}
	pthread_mutex_lock(&m->lock);
	m->connected = true;
	m->retry_ns = MQTT_CONN_RETRY_MIN_NS;
	pthread_mutex_unlock(&m->lock);
	/* Again on every connection: a broker that lost the session (restarted
	 * without persistence) has lost the subscription too. */
	sr = mosquitto_subscribe_multiple(mosq, NULL, m->ntopics, m->topic, (int)m->c->qos, 0,
					  NULL);
	if (sr != MOSQ_ERR_SUCCESS) {
		source_error(m->s, m->r_connect);
		source_set_state(m->s, SOURCE_ERROR, "broker %s:%d: cannot subscribe: %s", m->host,
				 m->port, mosquitto_strerror(sr));
		log_err("mqtt %s: cannot subscribe on %s:%d: %s", m->s->name, m->host, m->port,
			mosquitto_strerror(sr));
		mosquitto_disconnect(mosq);
		return;
	}
	source_set_state(m->s, SOURCE_OK, "broker %s:%d, %d topic%s%s", m->host, m->port,
			 m->ntopics, m->ntopics == 1 ? "" : "s",
			 (flags & 1) ? ", session resumed" : "");
	log_info("mqtt %s: connected to %s:%d as %s (%s), subscribed to %s", m->s->name, m->host,
		 m->port, m->client_id, (flags & 1) ? "session resumed" : "new session",
		 m->c->topics);
}

static void msrc_on_disconnect(struct mosquitto *mosq, void *obj, int rc,
			       const mosquitto_property *props)
{
	struct msrc *m = obj;
	const char *err = mqtt_conn_strerror(rc, errno);
	bool was;

	(void)mosq;
	(void)props;
	pthread_mutex_lock(&m->lock);
	was = m->connected;
	m->connected = false;
	pthread_mutex_unlock(&m->lock);
	if (!was || !rc)
		return;
	source_error(m->s, m->r_connect);
	source_set_state(m->s, SOURCE_CONNECTING, "connection to %s:%d lost: %s; reconnecting",
			 m->host, m->port, err);
	log_warn("mqtt %s: connection to %s:%d lost: %s", m->s->name, m->host, m->port, err);
}

/* Errors libmosquitto only logs (TLS verification) are the best a user
 * gets. */
static void msrc_on_log(struct mosquitto *mosq, void *obj, int level, const char *str)
{
	struct msrc *m = obj;

	(void)mosq;
	if (level & MOSQ_LOG_ERR)
		log_debug("mqtt %s: libmosquitto: %s", m->s->name, str);
}

static void msrc_refuse(struct msrc *m, const char *topic, unsigned reason, const char *why)
{
	uint64_t k;

	source_error(m->s, reason);
	atomic_fetch_add(&m->nrefused, 1);
	if (log_rate_event(&m->bad_log, clock_mono_ns(), MSRC_LOG_NS, &k))
		log_warn("mqtt %s: a message on %.200s refused (%s: %s); %llu refused in the "
			 "last minute",
			 m->s->name, topic, m->s->reason[reason], why, (unsigned long long)k);
}

/* The document's samples into the ring, waiting for room: the broker keeps
 * the rest meanwhile.  false: stopped half-way (the rest is dropped,
 * counted). */
static bool msrc_publish(struct msrc *m)
{
	struct sample_span sp = sample_list_span(&m->doc.list, 0, m->doc.list.n);
	size_t i;
	int r;

	for (i = 0; i < sp.n; i++) {
		const void *rec = sp.data + sp.off[i];
		size_t len = sp.off[i + 1] - sp.off[i];

		while ((r = uploader_publish_packed(m->prod, rec, len)) == -EAGAIN) {
			struct timespec ts = {0, 2000000};

			if (msrc_stopping(m)) {
				source_error(m->s, m->r_dropped);
				return false;
			}
			nanosleep(&ts, NULL);
		}
		if (r == 0)
			source_sample(m->s, sample_packed_ts(rec), rec, len);
	}
	return true;
}

static void msrc_on_message(struct mosquitto *mosq, void *obj, const struct mosquitto_message *msg)
{
	struct msrc *m = obj;
	struct jp_opts o = m->opts;
	struct jp_tag tag;
	unsigned reason;
	char why[200];
	int r;

	(void)mosq;
	atomic_fetch_add(&m->messages, 1);
	atomic_store(&m->last_msg_mono_ns, clock_mono_ns());
	if (msg->payloadlen < 0 || (uint64_t)msg->payloadlen > m->c->max_size) {
		snprintf(why, sizeof(why), "%d bytes, max_size is %llu", msg->payloadlen,
			 (unsigned long long)m->c->max_size);
		msrc_refuse(m, msg->topic, m->doc.r_doc[JP_TOO_LARGE], why);
		return;
	}
	o.default_ns = clock_unix_ns();
	if (m->c->topic_tag[0]) {
		tag.key = m->c->topic_tag;
		tag.value = msg->topic;
		o.tags = &tag;
		o.ntags = 1;
	}
	/* An empty message has no payload at all. */
	r = sdoc_parse(&m->doc, msg->payload ? msg->payload : "", (size_t)msg->payloadlen, &o,
		       &reason, why, sizeof(why));
	if (r == -ENOMEM) {
		msrc_refuse(m, msg->topic, m->r_dropped, "out of memory");
		return;
	}
	if (r == -EBADMSG) {
		msrc_refuse(m, msg->topic, reason, why);
		return;
	}
	if (r == -ENODATA) {
		source_error(m->s, reason); /* `valid` does not hold: nothing to ship */
		return;
	}
	msrc_publish(m);
}

/* ------------------------------------------------------------ the thread */

/* Wait before the next attempt (1 s, doubling up to 30 s, back to 1 s once
 * connected); false when stopping. */
static bool msrc_backoff(struct msrc *m)
{
	return mqtt_conn_backoff(&m->lock, &m->cond, &m->stop, &m->retry_ns);
}

static void msrc_down(struct msrc *m, int rc, int err)
{
	uint64_t k;
	bool was, refused;

	pthread_mutex_lock(&m->lock);
	was = m->connected;
	refused = m->refused;
	m->connected = m->refused = false;
	pthread_mutex_unlock(&m->lock);
	source_error(m->s, m->r_connect);
	if (refused)
		return; /* said, with the broker's reason, in on_connect */
	source_set_state(m->s, was ? SOURCE_CONNECTING : SOURCE_ERROR,
			 "cannot connect to %s:%d: %s; trying again", m->host, m->port,
			 mqtt_conn_strerror(rc, err));
	if (log_rate_event(&m->conn_log, clock_mono_ns(), MSRC_LOG_NS, &k))
		log_warn("mqtt %s: cannot connect to %s:%d: %s (%llu times); trying again with "
			 "backoff",
			 m->s->name, m->host, m->port, mqtt_conn_strerror(rc, err),
			 (unsigned long long)k);
}

static void *msrc_main(void *arg)
{
	struct msrc *m = arg;
	char ring[CFG_NAME_MAX + 8];
	int64_t until;
	int rc;

	/* "mqtt.NAME" on /metrics, or NAME if that is too long. */
	snprintf(ring, sizeof(ring), "mqtt.%s", m->s->name);
	rc = uploader_producer(m->pd->uploader, strlen(ring) < 32 ? ring : m->s->name, MSRC_RING,
			       &m->prod);
	if (rc) {
		log_err("mqtt %s: no ring into the uploader: %s; the source stays down", m->s->name,
			strerror(-rc));
		source_set_state(m->s, SOURCE_ERROR, "no ring into the uploader (%s)",
				 strerror(-rc));
		return NULL;
	}
	rc = mosquitto_connect_async(m->mosq, m->host, m->port,
				     (int)(m->c->keepalive_ns / NS_PER_S));
	while (!msrc_stopping(m)) {
		if (rc == MOSQ_ERR_SUCCESS) {
			/* Returns at least every second, so a stop is seen. */
			rc = mosquitto_loop(m->mosq, 1000, 1);
			continue;
		}
		msrc_down(m, rc, errno);
		if (!msrc_backoff(m))
			break;
		rc = mosquitto_reconnect_async(m->mosq);
	}
	/* The PUBACKs of what on_message took, and the DISCONNECT, are only
	 * queued: write them, reading nothing more, or the broker sends those
	 * messages again. */
	mosquitto_disconnect(m->mosq);
	for (int i = 0; i < 100 && mosquitto_want_write(m->mosq); i++)
		if (mosquitto_loop_write(m->mosq, 1) != MOSQ_ERR_SUCCESS)
			break;
	/* The uploader still runs: give it a moment to make the last samples
	 * durable, so that a clean stop loses nothing. */
	until = clock_mono_ns() + MSRC_STOP_WAIT_NS;
	while (uploader_durable(m->prod) < uploader_published(m->prod) && clock_mono_ns() < until) {
		struct timespec ts = {0, 20000000};

		nanosleep(&ts, NULL);
	}
	if (uploader_durable(m->prod) < uploader_published(m->prod))
		log_warn("mqtt %s: %llu samples not yet in every sink's spool at stop", m->s->name,
			 (unsigned long long)(uploader_published(m->prod) -
					      uploader_durable(m->prod)));
	return NULL;
}

/* ------------------------------------------------------------ the source */

static int msrc_topics(struct msrc *m)
{
	char *p, *save = NULL;

	m->topic_buf = strdup(m->c->topics);
	if (!m->topic_buf)
		return -ENOMEM;
	for (p = strtok_r(m->topic_buf, ",", &save); p; p = strtok_r(NULL, ",", &save)) {
		char *e = p + strlen(p);

		while (*p == ' ')
			p++;
		while (e > p && e[-1] == ' ')
			*--e = '\0';
		if (!*p)
			continue;
		if (m->ntopics == MSRC_TOPICS_MAX) {
			log_err("mqtt %s: more than %d topics", m->s->name, MSRC_TOPICS_MAX);
			return -E2BIG;
		}
		m->topic[m->ntopics++] = p;
	}
	return m->ntopics ? 0 : -EINVAL;
}

static int msrc_open(struct source *s)
{
	const struct cfg_mqtt *c = s->conf;
	struct msrc *m = calloc(1, sizeof(*m));
	char hostname[HOST_NAME_MAX + 1] = "", why[200];
	pthread_condattr_t ca;
	int r;

	if (!m)
		return -ENOMEM;
	m->s = s;
	m->pd = s->pd;
	m->c = c;
	s->priv = m;
	pthread_mutex_init(&m->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&m->cond, &ca);
	pthread_condattr_destroy(&ca);
	r = sdoc_init(&m->doc, s, &c->fields);
	if (r)
		return r;
	m->r_connect = source_reason(s, "connect");
	m->r_dropped = source_reason(s, "dropped");
	m->retry_ns = MQTT_CONN_RETRY_MIN_NS;
	snprintf(m->host, sizeof(m->host), "%s", c->host);
	m->port = c->port ? (int)c->port : c->tls ? 8883 : 1883;
	/* Stable across restarts: the broker keeps the session under it. */
	if (gethostname(hostname, sizeof(hostname) - 1) || !hostname[0])
		snprintf(hostname, sizeof(hostname), "localhost");
	if (c->client_id[0])
		snprintf(m->client_id, sizeof(m->client_id), "%s", c->client_id);
	else
		snprintf(m->client_id, sizeof(m->client_id), "powerd-%.40s-%.63s", hostname,
			 s->name);
	r = msrc_topics(m);
	if (r)
		return r;
	m->opts.format = c->format == CFG_MQTT_IN_FLAT	   ? JP_FLAT
			 : c->format == CFG_MQTT_IN_POINTS ? JP_POINTS
							   : JP_TELEGRAF;
	m->opts.time_key = c->time_key[0] ? c->time_key : NULL;
	m->opts.time_format = sdoc_time(c->time_format);
	m->opts.name = c->measurement[0] ? c->measurement : s->name;
	m->opts.name_key = c->name_key[0] ? c->name_key : NULL;
	m->opts.tag_keys = c->tag_keys;
	m->opts.string_fields = c->string_fields;
	r = mqtt_conn_lib_get();
	if (r)
		return r;
	m->lib = true;
	m->mosq = mosquitto_new(m->client_id, c->clean_session, m);
	if (!m->mosq) {
		log_err("mqtt %s: cannot make an MQTT client: %s", s->name, strerror(errno));
		return errno ? -errno : -ENOMEM;
	}
	r = mqtt_conn_secure(m->mosq, c->username, c->password, c->tls, c->ca_file, why,
			     sizeof(why));
	if (r) {
		log_err("mqtt %s: %s", s->name, r == -EINVAL ? why : strerror(-r));
		return r;
	}
	/* Threaded, though only this thread touches the client: so that
	 * libmosquitto queues a message's PUBACK, to be written by the loop
	 * once on_message has returned, instead of writing it before calling
	 * on_message (as it does unthreaded): a message is acknowledged only
	 * once its samples are in the ring. */
	mosquitto_threaded_set(m->mosq, true);
	mosquitto_connect_v5_callback_set(m->mosq, msrc_on_connect);
	mosquitto_disconnect_v5_callback_set(m->mosq, msrc_on_disconnect);
	mosquitto_message_callback_set(m->mosq, msrc_on_message);
	mosquitto_log_callback_set(m->mosq, msrc_on_log);
	source_set_state(s, SOURCE_CONNECTING, "connecting to %s:%d", m->host, m->port);
	return 0;
}

static void msrc_start(struct source *s)
{
	struct msrc *m = s->priv;
	int r = -pthread_create(&m->thread, NULL, msrc_main, m);

	if (r) {
		log_err("mqtt %s: cannot start its thread: %s", s->name, strerror(-r));
		source_set_state(s, SOURCE_ERROR, "no thread (%s)", strerror(-r));
		return;
	}
	m->thread_started = true;
}

/* While the uploader still runs: the thread ends and its last samples
 * become durable (msrc_main's end). */
static void msrc_finish(struct source *s)
{
	struct msrc *m = s->priv;

	if (!m || !m->thread_started)
		return;
	pthread_mutex_lock(&m->lock);
	m->stop = true;
	pthread_cond_broadcast(&m->cond);
	pthread_mutex_unlock(&m->lock);
	pthread_join(m->thread, NULL);
	m->thread_started = false;
}

static void msrc_stop(struct source *s)
{
	struct msrc *m = s->priv;

	if (!m)
		return;
	msrc_finish(s);
	if (m->mosq)
		mosquitto_destroy(m->mosq);
	if (m->lib)
		mqtt_conn_lib_put();
	sdoc_free(&m->doc);
	free(m->topic_buf);
	pthread_cond_destroy(&m->cond);
	pthread_mutex_destroy(&m->lock);
	s->priv = NULL;
	free(m);
}

/* Under powerd.lock: the age of the last message is now's. */
static void msrc_status(struct source *s, struct status_source *out)
{
	struct msrc *m = s->priv;
	int64_t last;
	char age[32];

	if (!m || s->state != SOURCE_OK)
		return;
	last = atomic_load(&m->last_msg_mono_ns);
	if (last)
		fmt_seconds(age, sizeof(age), (double)(clock_mono_ns() - last) / 1e9, true);
	snprintf(out->detail, sizeof(out->detail),
		 "%.160s; %llu messages (%llu refused), last %s%s", s->detail,
		 (unsigned long long)atomic_load(&m->messages),
		 (unsigned long long)atomic_load(&m->nrefused), last ? age : "none yet",
		 last ? " ago" : "");
}

const struct source_ops source_mqtt_ops = {
	.kind = "mqtt",
	.open = msrc_open,
	.start = msrc_start,
	.finish = msrc_finish,
	.stop = msrc_stop,
	.status = msrc_status,
};

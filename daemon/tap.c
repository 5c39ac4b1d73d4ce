/* The tap (tap.h): per subscriber a bounded ring from the uploader thread
 * to the Unix socket's MHD thread, and the streaming response that drains
 * it.
 *
 * Locking: tap.lock guards the subscriber table and each subscriber's
 * `suspended` flag; the rings themselves are single-producer (uploader),
 * single-consumer (MHD).  A connection is suspended and resumed only under
 * tap.lock, so the uploader never resumes one that MHD has not suspended or
 * has already closed (a suspended connection stays open until resumed).
 * MHD may free a response with its own locks held, so the response's free
 * callback takes no lock of ours: it marks the subscriber gone, and the
 * table's side (tap_offer, tap_subscribe) drops it; the last of the two
 * references frees it. */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "buf.h"
#include "clock.h"
#include "lineproto.h"
#include "recring.h"
#include "sample.h"
#include "tap.h"

/* A stream with nothing to say says "#" this often, so that a reader that
 * went away is noticed (and its slot freed) while samples flow. */
#define TAP_HEARTBEAT_NS (5 * 1000000000LL)

struct tap_sub {
	struct tap *t;
	struct MHD_Connection *c;
	char source[CFG_NAME_MAX]; /* "" for every sample */
	bool json;
	struct recring ring;
	_Atomic int refs;  /* the table's and the response's */
	_Atomic bool gone; /* MHD has let the response go */
	/* under tap.lock */
	bool suspended;
	int64_t suspended_ns;
	/* MHD thread only */
	struct buf out; /* rendered, not yet handed to MHD */
	size_t out_at;
	uint64_t dropped_told;
	int64_t last_out_ns;
};

struct tap {
	pthread_mutex_t lock;
	struct tap_sub *subs[TAP_SUBS_MAX];
	_Atomic unsigned nsubs; /* changed under lock; read without: no tail, no cost */
	bool closed;
	char (*names)[CFG_NAME_MAX];
	size_t nnames;
};

static void tap_unref(struct tap_sub *s)
{
	if (atomic_fetch_sub(&s->refs, 1) != 1)
		return;
	recring_free(&s->ring);
	buf_free(&s->out);
	free(s);
}

/* Drops the subscribers MHD is done with.  Under tap.lock. */
static void tap_reap(struct tap *t)
{
	size_t i;

	for (i = 0; i < TAP_SUBS_MAX; i++)
		if (t->subs[i] && atomic_load(&t->subs[i]->gone)) {
			tap_unref(t->subs[i]);
			t->subs[i] = NULL;
			atomic_fetch_sub(&t->nsubs, 1);
		}
}

int tap_new(struct tap **out, const struct source *sources, size_t nsources)
{
	struct tap *t = calloc(1, sizeof(*t));
	size_t i;

	*out = NULL;
	if (!t)
		return -ENOMEM;
	t->names = calloc(nsources ? nsources : 1, sizeof(*t->names));
	if (!t->names) {
		free(t);
		return -ENOMEM;
	}
	for (i = 0; i < nsources; i++)
		snprintf(t->names[i], sizeof(t->names[i]), "%s", sources[i].name);
	t->nnames = nsources;
	pthread_mutex_init(&t->lock, NULL);
	*out = t;
	return 0;
}

void tap_free(struct tap *t)
{
	size_t i;

	if (!t)
		return;
	for (i = 0; i < TAP_SUBS_MAX; i++)
		if (t->subs[i])
			tap_unref(t->subs[i]);
	pthread_mutex_destroy(&t->lock);
	free(t->names);
	free(t);
}

/* Is the sample one of source's?  Its "source" or "meter" tag says so, or
 * the ring it came through is the source's own (json NAME, mqtt.NAME). */
static bool tap_match(const struct tap_sub *s, const char *ring, const struct sample_view *v)
{
	unsigned i;

	if (!s->source[0])
		return true;
	if (!strcmp(ring, s->source) ||
	    (!strncmp(ring, "mqtt.", 5) && !strcmp(ring + 5, s->source)))
		return true;
	for (i = 0; v && i < v->ntags; i++)
		if ((!strcmp(v->tags[i].key, "source") || !strcmp(v->tags[i].key, "meter")) &&
		    !strcmp(v->tags[i].value, s->source))
			return true;
	return false;
}

void tap_offer(struct tap *t, const char *ring, const void *rec, size_t len)
{
	struct sample_view v;
	bool viewed = false, ok = false;
	int64_t now = 0;
	size_t i;

	if (!t || !atomic_load_explicit(&t->nsubs, memory_order_relaxed))
		return;
	pthread_mutex_lock(&t->lock);
	tap_reap(t);
	for (i = 0; i < TAP_SUBS_MAX; i++) {
		struct tap_sub *s = t->subs[i];
		bool pushed = false;

		if (!s)
			continue;
		if (s->source[0] && !viewed) {
			ok = sample_view(&v, rec, len) == (int)len;
			viewed = true;
		}
		if (tap_match(s, ring, ok ? &v : NULL))
			pushed = recring_push(&s->ring, rec, len) == 0;
		if (!s->suspended || t->closed)
			continue;
		if (!pushed && !now)
			now = clock_mono_ns();
		if (pushed || now - s->suspended_ns >= TAP_HEARTBEAT_NS) {
			s->suspended = false;
			MHD_resume_connection(s->c);
		}
	}
	pthread_mutex_unlock(&t->lock);
}

void tap_close(struct tap *t)
{
	size_t i;

	if (!t)
		return;
	pthread_mutex_lock(&t->lock);
	t->closed = true;
	for (i = 0; i < TAP_SUBS_MAX; i++) {
		struct tap_sub *s = t->subs[i];

		if (s && s->suspended) {
			s->suspended = false;
			MHD_resume_connection(s->c);
		}
	}
	pthread_mutex_unlock(&t->lock);
}

/* One sample as a JSON object on a line:
 * {"measurement":..,"tags":{..},"fields":{..},"time_ns":N}. */
static int tap_json(const struct sample_view *v, struct buf *out)
{
	cJSON *o = cJSON_CreateObject(), *tags = cJSON_AddObjectToObject(o, "tags"),
	      *fields = cJSON_AddObjectToObject(o, "fields");
	struct sample_cursor c;
	struct sample_field f;
	unsigned i;
	char *text;
	int r = -ENOMEM;

	if (!o || !tags || !fields || !cJSON_AddStringToObject(o, "measurement", v->measurement))
		goto out;
	for (i = 0; i < v->ntags; i++)
		if (!cJSON_AddStringToObject(tags, v->tags[i].key, v->tags[i].value))
			goto out;
	sample_fields(v, &c);
	while (sample_next_field(&c, &f)) {
		cJSON *x = f.type == SAMPLE_FLOAT  ? cJSON_CreateNumber(f.v.f)
			   : f.type == SAMPLE_INT  ? cJSON_CreateNumber((double)f.v.i)
			   : f.type == SAMPLE_BOOL ? cJSON_CreateBool(f.v.b)
						   : cJSON_CreateString(f.v.s);

		if (!x || !cJSON_AddItemToObject(fields, f.key, x)) {
			cJSON_Delete(x);
			goto out;
		}
	}
	text = cJSON_PrintUnformatted(o);
	if (!text)
		goto out;
	/* The exact time as an integer: a double would round it. */
	if (text[0] && text[strlen(text) - 1] == '}')
		text[strlen(text) - 1] = '\0';
	buf_printf(out, "%s,\"time_ns\":%" PRId64 "}\n", text, v->ts_ns);
	cJSON_free(text);
	r = out->err;
out:
	cJSON_Delete(o);
	return r;
}

/* Renders what the ring holds (a bounded amount) into s->out. */
static void tap_render(struct tap_sub *s)
{
	uint64_t dropped = recring_dropped(&s->ring);
	const void *rec;
	size_t len;

	if (dropped > s->dropped_told) {
		buf_printf(&s->out, "#dropped %" PRIu64 "\n", dropped - s->dropped_told);
		s->dropped_told = dropped;
	}
	while (s->out.len < 16 * 1024 && recring_peek(&s->ring, &rec, &len) == 0) {
		struct sample_view v;

		/* NaN and the like cannot be written: such a sample is left
		 * out, as a sink leaves it out. */
		if (sample_view(&v, rec, len) == (int)len)
			(void)(s->json ? tap_json(&v, &s->out) : lp_encode(&v, &s->out));
		recring_pop(&s->ring);
	}
}

static ssize_t tap_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct tap_sub *s = cls;
	struct tap *t = s->t;
	int64_t now = clock_mono_ns();
	size_t n;

	(void)pos;
	if (s->out_at == s->out.len) {
		s->out.len = s->out_at = 0;
		tap_render(s);
	}
	if (s->out_at == s->out.len && now - s->last_out_ns >= TAP_HEARTBEAT_NS)
		buf_printf(&s->out, "#\n");
	if (s->out.err)
		return MHD_CONTENT_READER_END_WITH_ERROR;
	if (s->out_at < s->out.len) {
		n = s->out.len - s->out_at;
		if (n > max)
			n = max;
		memcpy(buf, s->out.data + s->out_at, n);
		s->out_at += n;
		s->last_out_ns = now;
		return (ssize_t)n;
	}
	/* Nothing to say: sleep until the uploader has something (checked
	 * again under the lock, which the uploader takes to resume). */
	pthread_mutex_lock(&t->lock);
	if (t->closed) {
		pthread_mutex_unlock(&t->lock);
		return MHD_CONTENT_READER_END_OF_STREAM;
	}
	if (recring_used(&s->ring) || recring_dropped(&s->ring) > s->dropped_told) {
		pthread_mutex_unlock(&t->lock);
		return 0; /* called again at once */
	}
	s->suspended = true;
	s->suspended_ns = now;
	MHD_suspend_connection(s->c);
	pthread_mutex_unlock(&t->lock);
	return 0;
}

static void tap_release(void *cls)
{
	struct tap_sub *s = cls;

	atomic_store(&s->gone, true);
	tap_unref(s);
}

int tap_subscribe(struct tap *t, struct MHD_Connection *c, const char *source, bool json,
		  struct MHD_Response **out)
{
	struct tap_sub *s;
	size_t i;
	int r;

	*out = NULL;
	for (i = 0; *source && i < t->nnames && strcmp(t->names[i], source); i++)
		;
	if (*source && i == t->nnames)
		return -ENOENT;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	r = recring_init(&s->ring, TAP_RING_BYTES);
	if (r) {
		free(s);
		return r;
	}
	s->t = t;
	s->c = c;
	s->json = json;
	snprintf(s->source, sizeof(s->source), "%s", source);
	buf_init(&s->out);
	/* The first line goes out at once: the reader knows it is on. */
	buf_printf(&s->out, "#tail %s\n", *source ? source : "*");
	s->last_out_ns = clock_mono_ns();
	atomic_init(&s->refs, 2);
	atomic_init(&s->gone, false);
	pthread_mutex_lock(&t->lock);
	tap_reap(t);
	for (i = 0; i < TAP_SUBS_MAX && t->subs[i]; i++)
		;
	r = t->closed ? -ESHUTDOWN : i == TAP_SUBS_MAX ? -EBUSY : 0;
	if (!r) {
		t->subs[i] = s;
		atomic_fetch_add(&t->nsubs, 1);
	}
	pthread_mutex_unlock(&t->lock);
	if (!r) {
		*out = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, tap_read, s,
							 tap_release);
		if (*out)
			return 0;
		r = -ENOMEM;
		pthread_mutex_lock(&t->lock);
		t->subs[i] = NULL;
		atomic_fetch_sub(&t->nsubs, 1);
		pthread_mutex_unlock(&t->lock);
	}
	recring_free(&s->ring);
	buf_free(&s->out);
	free(s);
	return r;
}

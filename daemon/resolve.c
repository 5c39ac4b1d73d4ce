/* The resolver: one worker thread calls getaddrinfo(); results reach the
 * loop's thread through an eventfd the loop keeps a read on.
 *
 * A lookup moves todo -> busy (the worker's) -> done -> deliver (the loop's)
 * -> its callback; todo, busy and done are under the lock.  A cancel unlinks
 * it from wherever it is, except that the one the worker holds is only
 * marked, and the worker frees it.  The worker frees the resolver itself
 * when it exits, so resolve_free() never waits for a getaddrinfo() stuck on
 * a DNS timeout. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "resolve.h"

struct resolve_req {
	struct resolve_req *next;
	char *host, *service;
	struct addrinfo hints;
	resolve_cb cb;
	void *arg;
	struct addrinfo *ai;
	int res, err;
	bool cancelled; /* while busy: the worker drops it */
};

struct resolver {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct resolve_req *todo, **todo_tail, *busy, *done, **done_tail;
	bool closing;
	pthread_t thread;
	int efd;
	struct loop *loop;
	/* The loop's thread only. */
	struct loop_op op;
	uint64_t efd_buf;
	struct resolve_req *deliver;
};

static void resolve_req_free(struct resolve_req *q)
{
	if (q->ai)
		freeaddrinfo(q->ai);
	free(q->host);
	free(q->service);
	free(q);
}

static void resolve_list_free(struct resolve_req *q)
{
	struct resolve_req *next;

	for (; q; q = next) {
		next = q->next;
		resolve_req_free(q);
	}
}

static bool resolve_unlink(struct resolve_req **head, struct resolve_req ***tail,
			   struct resolve_req *q)
{
	struct resolve_req **p;

	for (p = head; *p; p = &(*p)->next)
		if (*p == q) {
			*p = q->next;
			if (tail && *tail == &q->next)
				*tail = p;
			return true;
		}
	return false;
}

static void resolve_destroy(struct resolver *r)
{
	close(r->efd);
	pthread_cond_destroy(&r->cond);
	pthread_mutex_destroy(&r->lock);
	free(r);
}

static void *resolve_main(void *arg)
{
	struct resolver *r = arg;
	const uint64_t one = 1;

	pthread_mutex_lock(&r->lock);
	while (!r->closing) {
		struct resolve_req *q = r->todo;
		struct addrinfo *ai = NULL;
		ssize_t w;
		int res, err;

		if (!q) {
			pthread_cond_wait(&r->cond, &r->lock);
			continue;
		}
		r->todo = q->next;
		if (!r->todo)
			r->todo_tail = &r->todo;
		r->busy = q;
		pthread_mutex_unlock(&r->lock);
		/* While busy, nobody else frees q or writes what is read here. */
		res = getaddrinfo(q->host, q->service, &q->hints, &ai);
		err = errno;
		pthread_mutex_lock(&r->lock);
		r->busy = NULL;
		if (q->cancelled) {
			if (!res)
				freeaddrinfo(ai);
			resolve_req_free(q);
			continue;
		}
		q->res = res;
		q->err = err;
		q->ai = res ? NULL : ai;
		q->next = NULL;
		*r->done_tail = q;
		r->done_tail = &q->next;
		/* Cannot fail: it would take 2^64 - 2 writes between two of
		 * the loop's reads, each of which resets the counter. */
		w = write(r->efd, &one, sizeof(one));
		(void)w;
	}
	pthread_mutex_unlock(&r->lock);
	resolve_destroy(r);
	return NULL;
}

static void resolve_wake_cb(struct loop *l, int res, void *arg);

static int resolve_arm(struct resolver *r)
{
	return loop_read(r->loop, &r->op, r->efd, &r->efd_buf, sizeof(r->efd_buf), -1,
			 resolve_wake_cb, r);
}

/* Without a read on the eventfd no result would ever come back: every
 * lookup not done yet fails now (the one in the worker's hands is dropped
 * when it returns). */
static void resolve_fail_pending(struct resolver *r, int err)
{
	struct resolve_req *q, **tail = &r->deliver;
	resolve_cb cb = NULL;
	void *arg = NULL;

	while (*tail)
		tail = &(*tail)->next;
	pthread_mutex_lock(&r->lock);
	for (q = r->todo; q; q = q->next) {
		q->res = EAI_SYSTEM;
		q->err = -err;
	}
	*tail = r->todo;
	r->todo = NULL;
	r->todo_tail = &r->todo;
	if (r->busy && !r->busy->cancelled) {
		cb = r->busy->cb;
		arg = r->busy->arg;
		r->busy->cancelled = true;
	}
	pthread_mutex_unlock(&r->lock);
	if (cb) {
		errno = -err;
		cb(r->loop, EAI_SYSTEM, NULL, arg);
	}
}

static void resolve_wake_cb(struct loop *l, int res, void *arg)
{
	struct resolver *r = arg;
	struct resolve_req *q;
	int err;

	if (res == -ECANCELED)
		return; /* the loop is stopping */
	pthread_mutex_lock(&r->lock);
	r->deliver = r->done;
	r->done = NULL;
	r->done_tail = &r->done;
	pthread_mutex_unlock(&r->lock);
	/* Re-armed first, so that callbacks may start lookups.  A failed
	 * read is not retried: it would fail again at once, forever. */
	err = res < 0 ? res : resolve_arm(r);
	if (err)
		resolve_fail_pending(r, err);
	while ((q = r->deliver)) {
		r->deliver = q->next;
		if (q->res == EAI_SYSTEM)
			errno = q->err;
		q->cb(l, q->res, q->ai, q->arg);
		q->ai = NULL; /* the callback's now */
		resolve_req_free(q);
	}
}

int resolve_new(struct loop *l, struct resolver **out)
{
	struct resolver *r = calloc(1, sizeof(*r));
	sigset_t all, old;
	int e;

	if (!r)
		return -ENOMEM;
	r->loop = l;
	r->todo_tail = &r->todo;
	r->done_tail = &r->done;
	/* Blocking: the loop's read on it waits for the worker. */
	r->efd = eventfd(0, EFD_CLOEXEC);
	if (r->efd < 0) {
		e = -errno;
		free(r);
		return e;
	}
	pthread_mutex_init(&r->lock, NULL);
	pthread_cond_init(&r->cond, NULL);
	/* The worker takes no signal meant for the process. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	e = -pthread_create(&r->thread, NULL, resolve_main, r);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (e) {
		resolve_destroy(r);
		return e;
	}
	e = resolve_arm(r);
	if (e) {
		resolve_free(r);
		return e;
	}
	*out = r;
	return 0;
}

int resolve_free(struct resolver *r)
{
	struct resolve_req *todo, *done;
	pthread_t t;
	bool busy;

	if (!r)
		return 0;
	if (loop_op_busy(&r->op))
		return -EBUSY;
	resolve_list_free(r->deliver);
	pthread_mutex_lock(&r->lock);
	r->closing = true;
	todo = r->todo;
	done = r->done;
	r->todo = r->done = NULL;
	busy = r->busy != NULL;
	if (busy)
		r->busy->cancelled = true;
	t = r->thread;
	pthread_cond_signal(&r->cond);
	pthread_mutex_unlock(&r->lock);
	/* From here on r is the worker's to free. */
	resolve_list_free(todo);
	resolve_list_free(done);
	if (busy)
		pthread_detach(t);
	else
		pthread_join(t, NULL);
	return 0;
}

static int resolve_strdup(const char *s, char **out)
{
	*out = NULL;
	if (!s)
		return 0;
	*out = strdup(s);
	return *out ? 0 : -ENOMEM;
}

int resolve_host(struct resolver *r, const char *host, const char *service,
		 const struct addrinfo *hints, resolve_cb cb, void *arg, struct resolve_req **req)
{
	struct resolve_req *q = calloc(1, sizeof(*q));
	int e;

	if (!q)
		return -ENOMEM;
	if (resolve_strdup(host, &q->host) || resolve_strdup(service, &q->service)) {
		resolve_req_free(q);
		return -ENOMEM;
	}
	if (hints) {
		q->hints.ai_flags = hints->ai_flags;
		q->hints.ai_family = hints->ai_family;
		q->hints.ai_socktype = hints->ai_socktype;
		q->hints.ai_protocol = hints->ai_protocol;
	}
	q->cb = cb;
	q->arg = arg;
	/* Not armed after a drain, or after a read failed. */
	if (!loop_op_busy(&r->op)) {
		e = resolve_arm(r);
		if (e) {
			resolve_req_free(q);
			return e;
		}
	}
	pthread_mutex_lock(&r->lock);
	*r->todo_tail = q;
	r->todo_tail = &q->next;
	pthread_cond_signal(&r->cond);
	pthread_mutex_unlock(&r->lock);
	*req = q;
	return 0;
}

void resolve_cancel(struct resolver *r, struct resolve_req *q)
{
	bool busy, mine = false;

	pthread_mutex_lock(&r->lock);
	busy = r->busy == q;
	if (busy)
		q->cancelled = true; /* from here on the worker's to free */
	else
		mine = resolve_unlink(&r->todo, &r->todo_tail, q) ||
		       resolve_unlink(&r->done, &r->done_tail, q);
	pthread_mutex_unlock(&r->lock);
	if (!busy && (mine || resolve_unlink(&r->deliver, NULL, q)))
		resolve_req_free(q);
}

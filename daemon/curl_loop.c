/* libcurl's multi-socket interface on the I/O thread's loop (curl_loop.h).
 *
 * A socket curl stops watching may still have its poll op in flight: it is
 * marked dead and cancelled, and freed by that op's final callback, never
 * before (the kernel still refers to the op).  A socket curl lets go of
 * while its own callback is calling into curl is freed when that call
 * returns.  curl's timer is one absolute loop timer; a deadline moved later
 * leaves it armed (it re-arms itself for the new one when it fires early),
 * one moved earlier cancels it. */
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "curl_loop.h"
#include "log.h"

struct cl_sock {
	struct curl_loop *c;
	struct cl_sock *next;
	struct loop_op op;
	curl_socket_t fd;
	unsigned want;	 /* POLLIN | POLLOUT, as curl asked */
	bool dead;	 /* curl is done with it: free once no op is in flight */
	bool in_action;	 /* its callback is inside curl_multi_socket_action() */
	bool arm_failed; /* logged once */
};

struct curl_loop {
	struct loop *l;
	CURLM *multi;
	struct cl_sock *socks; /* every socket struct, for curl_loop_free() */
	struct loop_op timer;
	int64_t want_at;  /* curl's next timeout (monotonic ns), -1: none */
	int64_t armed_at; /* the timer op's deadline while it is in flight */
	bool closing;	  /* detached from the loop: no loop calls any more */
};

static void cl_unlink_free(struct cl_sock *k)
{
	struct cl_sock **pp;

	for (pp = &k->c->socks; *pp; pp = &(*pp)->next)
		if (*pp == k) {
			*pp = k->next;
			break;
		}
	free(k);
}

static void cl_check_done(struct curl_loop *c)
{
	CURLMsg *m;
	int left;

	while ((m = curl_multi_info_read(c->multi, &left))) {
		struct curl_loop_xfer *x = NULL;
		CURL *e = m->easy_handle;
		CURLcode rc = m->data.result;

		if (m->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(e, CURLINFO_PRIVATE, (char **)&x);
		curl_multi_remove_handle(c->multi, e);
		if (x) {
			x->running = false;
			x->done(e, rc, x->arg);
		}
	}
}

static void cl_action(struct curl_loop *c, curl_socket_t fd, int mask)
{
	int running;
	CURLMcode mc = curl_multi_socket_action(c->multi, fd, mask, &running);

	if (mc != CURLM_OK)
		log_err("http: curl_multi_socket_action: %s", curl_multi_strerror(mc));
	cl_check_done(c);
}

static void cl_sock_arm(struct cl_sock *k);

static void cl_sock_cb(struct loop *l, int res, void *arg)
{
	struct cl_sock *k = arg;
	int mask = 0;

	(void)l;
	if (k->dead) {
		cl_unlink_free(k);
		return;
	}
	if (res == -ECANCELED)
		return; /* not ours: the loop is going away */
	if (res < 0)
		mask = CURL_CSELECT_ERR;
	else {
		if (res & POLLIN)
			mask |= CURL_CSELECT_IN;
		if (res & POLLOUT)
			mask |= CURL_CSELECT_OUT;
		if (res & (POLLERR | POLLHUP | POLLNVAL))
			mask |= CURL_CSELECT_ERR;
	}
	k->in_action = true;
	cl_action(k->c, k->fd, mask);
	k->in_action = false;
	if (k->dead) {
		cl_unlink_free(k);
		return;
	}
	cl_sock_arm(k);
}

static void cl_sock_arm(struct cl_sock *k)
{
	int r;

	if (loop_op_busy(&k->op) || !k->want)
		return;
	r = loop_poll(k->c->l, &k->op, k->fd, k->want, cl_sock_cb, k);
	if (r && !k->arm_failed) {
		/* The transfer then ends at its timeout. */
		k->arm_failed = true;
		log_err("http: cannot poll a socket: %s", strerror(-r));
	}
}

static int cl_socket_fn(CURL *e, curl_socket_t fd, int what, void *userp, void *socketp)
{
	struct curl_loop *c = userp;
	struct cl_sock *k = socketp;

	(void)e;
	if (what == CURL_POLL_REMOVE) {
		if (!k)
			return 0;
		curl_multi_assign(c->multi, fd, NULL);
		k->want = 0;
		k->dead = true;
		if (c->closing || (!loop_op_busy(&k->op) && !k->in_action))
			cl_unlink_free(k);
		else if (loop_op_busy(&k->op))
			loop_cancel(c->l, &k->op);
		return 0;
	}
	if (c->closing)
		return 0;
	if (!k) {
		k = calloc(1, sizeof(*k));
		if (!k)
			return -1;
		k->c = c;
		k->fd = fd;
		k->next = c->socks;
		c->socks = k;
		curl_multi_assign(c->multi, fd, k);
	}
	k->want = (what & CURL_POLL_IN ? POLLIN : 0) | (what & CURL_POLL_OUT ? POLLOUT : 0);
	if (loop_op_busy(&k->op))
		loop_poll_update(c->l, &k->op, k->want);
	else if (!k->in_action)
		cl_sock_arm(k);
	/* In its own callback, it is re-armed with the new events after. */
	return 0;
}

static void cl_timer_cb(struct loop *l, int res, void *arg)
{
	struct curl_loop *c = arg;
	int64_t now = loop_now();
	int r;

	(void)res; /* fired, or cancelled for an earlier deadline: look again */
	if (c->want_at < 0)
		return;
	if (c->want_at > now) {
		c->armed_at = c->want_at;
		r = loop_timer_at(l, &c->timer, c->want_at, cl_timer_cb, c);
		if (r)
			log_err("http: cannot arm curl's timer: %s", strerror(-r));
		return;
	}
	c->want_at = -1;
	cl_action(c, CURL_SOCKET_TIMEOUT, 0);
}

static int cl_timer_fn(CURLM *m, long timeout_ms, void *userp)
{
	struct curl_loop *c = userp;
	int r;

	(void)m;
	if (c->closing)
		return 0;
	c->want_at = timeout_ms < 0 ? -1 : loop_now() + (int64_t)timeout_ms * 1000000LL;
	if (c->want_at < 0)
		return 0; /* an armed timer fires and finds nothing to do */
	if (loop_op_busy(&c->timer)) {
		if (c->want_at < c->armed_at)
			loop_cancel(c->l, &c->timer);
		return 0;
	}
	/* curl_multi_socket_action() may not be called from here: a timeout of
	 * 0 is a timer due now. */
	c->armed_at = c->want_at;
	r = loop_timer_at(c->l, &c->timer, c->want_at, cl_timer_cb, c);
	if (r) {
		log_err("http: cannot arm curl's timer: %s", strerror(-r));
		return -1;
	}
	return 0;
}

bool curl_loop_async_dns(void)
{
	const curl_version_info_data *v = curl_version_info(CURLVERSION_NOW);

	return v && (v->features & CURL_VERSION_ASYNCHDNS);
}

int curl_loop_new(struct loop *l, struct curl_loop **out)
{
	struct curl_loop *c = calloc(1, sizeof(*c));

	if (!c)
		return -ENOMEM;
	c->l = l;
	c->want_at = -1;
	c->multi = curl_multi_init();
	if (!c->multi) {
		free(c);
		return -ENOMEM;
	}
	curl_multi_setopt(c->multi, CURLMOPT_SOCKETFUNCTION, cl_socket_fn);
	curl_multi_setopt(c->multi, CURLMOPT_SOCKETDATA, c);
	curl_multi_setopt(c->multi, CURLMOPT_TIMERFUNCTION, cl_timer_fn);
	curl_multi_setopt(c->multi, CURLMOPT_TIMERDATA, c);
	*out = c;
	return 0;
}

int curl_loop_add(struct curl_loop *c, struct curl_loop_xfer *x)
{
	CURLMcode mc;

	if (x->running)
		return -EALREADY;
	curl_easy_setopt(x->easy, CURLOPT_PRIVATE, x);
	mc = curl_multi_add_handle(c->multi, x->easy);
	if (mc != CURLM_OK)
		return mc == CURLM_OUT_OF_MEMORY ? -ENOMEM : -EINVAL;
	x->running = true;
	return 0;
}

void curl_loop_remove(struct curl_loop *c, struct curl_loop_xfer *x)
{
	if (!x->running)
		return;
	curl_multi_remove_handle(c->multi, x->easy);
	x->running = false;
}

void curl_loop_detach(struct curl_loop *c)
{
	if (c)
		c->closing = true;
}

void curl_loop_free(struct curl_loop *c)
{
	struct cl_sock *k;

	if (!c)
		return;
	c->closing = true;
	curl_multi_cleanup(c->multi);
	while ((k = c->socks)) {
		c->socks = k->next;
		free(k);
	}
	free(c);
}

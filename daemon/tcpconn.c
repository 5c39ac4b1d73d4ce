/* A TCP client connection with resolve, timeout, keepalive and backoff on
 * the loop (tcpconn.h). */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "powerd.h"
#include "resolve.h"
#include "tcpconn.h"
#include "uploader.h"

enum tcpconn_state { TC_IDLE, TC_RESOLVING, TC_CONNECTING, TC_UP, TC_WAITING };

struct tcpconn {
	struct powerd *pd;
	char host[256], port[16];
	struct tcpconn_params p;
	tcpconn_up_cb up;
	tcpconn_fail_cb fail;
	void *arg;
	enum tcpconn_state st;
	int fd;
	struct resolve_req *req;
	struct addrinfo *ai, *cur;
	struct sockaddr_storage addr;
	socklen_t addrlen;
	int last_err; /* of the addresses tried so far */
	struct loop_op op, timer;
	unsigned attempt;
	uint64_t rng;
	int64_t retry_at;
	bool want; /* a connect asked for while a cancelled one completes */
};

static void tcpconn_start(struct tcpconn *c);

static void tcpconn_close_fd(struct tcpconn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}

static void tcpconn_timer_cb(struct loop *l, int res, void *arg)
{
	struct tcpconn *c = arg;

	(void)l;
	if (c->st != TC_WAITING)
		return;
	/* Cancelled by a close, and waiting again since: the new wait. */
	if (res == -ECANCELED || loop_now() < c->retry_at) {
		if (loop_timer_at(c->pd->loop, &c->timer, c->retry_at, tcpconn_timer_cb, c))
			c->st = TC_IDLE;
		return;
	}
	c->st = TC_IDLE;
	c->retry_at = 0;
	tcpconn_start(c);
}

/* Half the ceiling fixed, half random: never a tight loop at the first
 * retry, and many devices failing together spread out. */
static void tcpconn_backoff(struct tcpconn *c)
{
	int64_t full, d;

	if (c->attempt < 64)
		c->attempt++;
	full = uploader_backoff_ns(c->p.backoff_min_ns, c->p.backoff_max_ns, c->attempt, 1.0);
	d = full / 2 + uploader_backoff_ns(c->p.backoff_min_ns, c->p.backoff_max_ns, c->attempt,
					   uploader_jitter(&c->rng)) /
			       2;
	c->st = TC_WAITING;
	c->retry_at = loop_now() + d;
	if (!loop_op_busy(&c->timer) &&
	    loop_timer_at(c->pd->loop, &c->timer, c->retry_at, tcpconn_timer_cb, c))
		c->st = TC_IDLE; /* the loop failed; the next tcpconn_connect() tries */
}

static void tcpconn_failed(struct tcpconn *c, int err, const char *why)
{
	if (c->ai)
		freeaddrinfo(c->ai);
	c->ai = c->cur = NULL;
	tcpconn_close_fd(c);
	tcpconn_backoff(c);
	c->fail(c->arg, err, why);
}

static void tcpconn_try(struct tcpconn *c);

static void tcpconn_connect_cb(struct loop *l, int res, void *arg)
{
	struct tcpconn *c = arg;
	char why[400];

	(void)l;
	if (c->st != TC_CONNECTING) {
		/* Closed while connecting; connect again if asked since. */
		tcpconn_close_fd(c);
		if (c->want) {
			c->want = false;
			tcpconn_start(c);
		}
		return;
	}
	if (res == 0) {
		if (c->ai)
			freeaddrinfo(c->ai);
		c->ai = c->cur = NULL;
		c->st = TC_UP;
		c->retry_at = 0;
		c->up(c->arg, c->fd);
		return;
	}
	c->last_err = res == -ETIME || res == -ECANCELED ? -ETIMEDOUT : res;
	tcpconn_close_fd(c);
	c->cur = c->cur->ai_next;
	if (c->cur) {
		tcpconn_try(c);
		return;
	}
	snprintf(why, sizeof(why), "connecting to %s port %s: %s", c->host, c->port,
		 c->last_err == -ETIMEDOUT ? "no answer (timed out)" : strerror(-c->last_err));
	tcpconn_failed(c, c->last_err, why);
}

static void tcpconn_sockopts(struct tcpconn *c)
{
	int one = 1;

	/* Requests are small and wait for their answer: no Nagle delay. */
	(void)setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (c->p.keepalive_idle_ns > 0) {
		int idle = (int)(c->p.keepalive_idle_ns / 1000000000LL), intvl, cnt = 3;

		if (idle < 1)
			idle = 1;
		intvl = idle / 3 > 0 ? idle / 3 : 1;
		(void)setsockopt(c->fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
		(void)setsockopt(c->fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
		(void)setsockopt(c->fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof(intvl));
		(void)setsockopt(c->fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt));
	}
}

/* The current address; the next one if it fails. */
static void tcpconn_try(struct tcpconn *c)
{
	char why[400];
	int r;

	for (; c->cur; c->cur = c->cur->ai_next) {
		if (c->cur->ai_addrlen > sizeof(c->addr))
			continue;
		c->fd = socket(c->cur->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
			       IPPROTO_TCP);
		if (c->fd < 0) {
			c->last_err = -errno;
			continue;
		}
		tcpconn_sockopts(c);
		memcpy(&c->addr, c->cur->ai_addr, c->cur->ai_addrlen);
		c->addrlen = c->cur->ai_addrlen;
		c->st = TC_CONNECTING;
		r = loop_connect(c->pd->loop, &c->op, c->fd, (struct sockaddr *)&c->addr,
				 c->addrlen, tcpconn_connect_cb, c);
		if (!r)
			r = loop_link_timeout(c->pd->loop, &c->op, c->p.connect_timeout_ns);
		if (!r)
			return;
		c->last_err = r;
		if (loop_op_busy(&c->op))
			return; /* its callback comes, and goes on */
		tcpconn_close_fd(c);
	}
	snprintf(why, sizeof(why), "connecting to %s port %s: %s", c->host, c->port,
		 strerror(-c->last_err));
	tcpconn_failed(c, c->last_err, why);
}

static void tcpconn_resolved(struct loop *l, int res, struct addrinfo *ai, void *arg)
{
	struct tcpconn *c = arg;
	char why[400];

	(void)l;
	c->req = NULL;
	if (c->st != TC_RESOLVING) {
		if (!res)
			freeaddrinfo(ai);
		return;
	}
	if (res) {
		snprintf(why, sizeof(why), "looking up %s: %s", c->host,
			 res == EAI_SYSTEM ? strerror(errno) : gai_strerror(res));
		tcpconn_failed(c, res == EAI_SYSTEM ? -errno : -EHOSTUNREACH, why);
		return;
	}
	c->ai = c->cur = ai;
	c->last_err = -EHOSTUNREACH;
	tcpconn_try(c);
}

static void tcpconn_start(struct tcpconn *c)
{
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
	char why[400];
	int r;

	c->st = TC_RESOLVING;
	r = resolve_host(c->pd->resolver, c->host, c->port, &hints, tcpconn_resolved, c, &c->req);
	if (r) {
		c->req = NULL;
		snprintf(why, sizeof(why), "looking up %s: %s", c->host, strerror(-r));
		tcpconn_failed(c, r, why);
	}
}

int tcpconn_new(struct powerd *pd, const struct tcpconn_params *p, tcpconn_up_cb up,
		tcpconn_fail_cb fail, void *arg, struct tcpconn **out)
{
	struct tcpconn *c;
	int r;

	if (strlen(p->host) >= sizeof(c->host) || strlen(p->port) >= sizeof(c->port))
		return -ENAMETOOLONG;
	if (!pd->resolver) {
		r = resolve_new(pd->loop, &pd->resolver);
		if (r)
			return r;
	}
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->pd = pd;
	memcpy(c->host, p->host, strlen(p->host) + 1);
	memcpy(c->port, p->port, strlen(p->port) + 1);
	c->p = *p;
	c->p.host = c->host;
	c->p.port = c->port;
	if (c->p.backoff_min_ns <= 0)
		c->p.backoff_min_ns = 1000000000LL;
	if (c->p.backoff_max_ns < c->p.backoff_min_ns)
		c->p.backoff_max_ns = c->p.backoff_min_ns;
	c->up = up;
	c->fail = fail;
	c->arg = arg;
	c->fd = -1;
	c->rng = (uint64_t)loop_now() ^ (uint64_t)(uintptr_t)c ^ 0x9E3779B97F4A7C15ULL;
	*out = c;
	return 0;
}

void tcpconn_connect(struct tcpconn *c)
{
	if (c->st == TC_IDLE && loop_op_busy(&c->op)) {
		c->want = true;
		return;
	}
	if (c->st != TC_IDLE)
		return; /* connected, on its way, or waiting for its backoff */
	tcpconn_start(c);
}

void tcpconn_drop(struct tcpconn *c, int err)
{
	(void)err;
	if (c->st != TC_UP)
		return;
	tcpconn_close_fd(c);
	tcpconn_backoff(c);
}

void tcpconn_close(struct tcpconn *c)
{
	switch (c->st) {
	case TC_RESOLVING:
		if (c->req)
			resolve_cancel(c->pd->resolver, c->req);
		c->req = NULL;
		break;
	case TC_CONNECTING:
		/* Its callback closes the fd. */
		loop_cancel(c->pd->loop, &c->op);
		c->st = TC_IDLE;
		c->want = false;
		if (c->ai)
			freeaddrinfo(c->ai);
		c->ai = c->cur = NULL;
		return;
	case TC_WAITING:
		loop_cancel(c->pd->loop, &c->timer);
		break;
	default:
		break;
	}
	tcpconn_close_fd(c);
	c->st = TC_IDLE;
	c->retry_at = 0;
}

void tcpconn_ok(struct tcpconn *c)
{
	c->attempt = 0;
}

int64_t tcpconn_retry_at(const struct tcpconn *c)
{
	return c->st == TC_WAITING ? c->retry_at : 0;
}

void tcpconn_free(struct tcpconn *c)
{
	if (!c)
		return;
	if (c->req && c->pd->resolver)
		resolve_cancel(c->pd->resolver, c->req);
	if (c->ai)
		freeaddrinfo(c->ai);
	tcpconn_close_fd(c);
	free(c);
}

/* tcpconn.c on a real loop and real loopback sockets: connected, refused
 * and retried with a backoff that grows, dropped and reconnected, closed
 * while connecting, and a name resolved off the thread. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "check.h"
#include "powerd.h"
#include "resolve.h"
#include "tcpconn.h"

#define MS 1000000LL

struct peer {
	struct powerd *pd;
	struct tcpconn *c;
	int ups, fails, last_err, fd;
	int64_t fail_at[8];
	int stop_after_ups, stop_after_fails;
	char why[400];
	bool drop_on_up;
};

static void up_cb(void *arg, int fd)
{
	struct peer *p = arg;

	p->ups++;
	p->fd = fd;
	if (p->drop_on_up && p->ups == 1) {
		tcpconn_drop(p->c, -ECONNRESET);
		CHECK(tcpconn_retry_at(p->c) > loop_now());
		return;
	}
	if (p->ups >= p->stop_after_ups)
		loop_stop(p->pd->loop);
}

static void fail_cb(void *arg, int err, const char *why)
{
	struct peer *p = arg;

	if (p->fails < 8)
		p->fail_at[p->fails] = loop_now();
	p->fails++;
	p->last_err = err;
	snprintf(p->why, sizeof(p->why), "%s", why);
	CHECK(tcpconn_retry_at(p->c) > loop_now());
	if (p->stop_after_fails && p->fails >= p->stop_after_fails)
		loop_stop(p->pd->loop);
}

static void guard_cb(struct loop *l, int res, void *arg)
{
	(void)res;
	(void)arg;
	loop_stop(l);
}

static void run_until(struct powerd *pd, int64_t ms)
{
	static struct loop_op guard;

	CHECK_EQ_INT(loop_timer_at(pd->loop, &guard, loop_now() + ms * MS, guard_cb, NULL), 0);
	CHECK_EQ_INT(loop_run(pd->loop), 0);
	/* Stopped by a callback: the guard's cancellation stops it again. */
	if (loop_op_busy(&guard))
		loop_cancel(pd->loop, &guard);
	while (loop_op_busy(&guard))
		CHECK_EQ_INT(loop_run(pd->loop), 0);
}

static int listener(uint16_t *port)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	CHECK(fd >= 0);
	CHECK_EQ_INT(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	CHECK_EQ_INT(listen(fd, 8), 0);
	CHECK_EQ_INT(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	*port = ntohs(a.sin_port);
	return fd;
}

static void setup(struct powerd *pd)
{
	memset(pd, 0, sizeof(*pd));
	CHECK_EQ_INT(loop_init(&pd->loop, 64), 0);
}

static void teardown(struct powerd *pd, struct peer *p)
{
	CHECK_EQ_INT(loop_drain(pd->loop, 2000 * MS), 0);
	tcpconn_free(p->c);
	CHECK_EQ_INT(resolve_free(pd->resolver), 0);
	loop_free(pd->loop);
}

static void test_connect(const char *host)
{
	struct powerd pd;
	struct peer p = {.pd = &pd, .stop_after_ups = 1, .fd = -1};
	char port[8];
	uint16_t pn;
	int lfd, a;
	struct tcpconn_params prm = {.host = host,
				     .port = port,
				     .connect_timeout_ns = 1000 * MS,
				     .backoff_min_ns = 50 * MS,
				     .backoff_max_ns = 400 * MS,
				     .keepalive_idle_ns = 30000 * MS};

	setup(&pd);
	lfd = listener(&pn);
	snprintf(port, sizeof(port), "%u", pn);
	CHECK_EQ_INT(tcpconn_new(&pd, &prm, up_cb, fail_cb, &p, &p.c), 0);
	tcpconn_connect(p.c);
	tcpconn_connect(p.c); /* on its way: nothing more */
	run_until(&pd, 3000);
	CHECK_EQ_INT(p.ups, 1);
	CHECK_EQ_INT(p.fails, 0);
	a = accept(lfd, NULL, NULL);
	CHECK(a >= 0);
	CHECK_EQ_INT(write(p.fd, "ping", 4), 4);
	{
		char b[8] = "";
		int one = 0;
		socklen_t ol = sizeof(one);

		CHECK_EQ_INT(read(a, b, sizeof(b)), 4);
		CHECK(!memcmp(b, "ping", 4));
		CHECK_EQ_INT(getsockopt(p.fd, SOL_SOCKET, SO_KEEPALIVE, &one, &ol), 0);
		CHECK_EQ_INT(one, 1);
	}
	/* Dropped: reconnects by itself after the backoff. */
	p.stop_after_ups = 2;
	tcpconn_drop(p.c, -ECONNRESET);
	CHECK(tcpconn_retry_at(p.c) > 0);
	run_until(&pd, 3000);
	CHECK_EQ_INT(p.ups, 2);
	CHECK_EQ_INT(tcpconn_retry_at(p.c), 0);
	close(a);
	tcpconn_close(p.c);
	close(lfd);
	teardown(&pd, &p);
}

static void test_refused(void)
{
	struct powerd pd;
	struct peer p = {.pd = &pd, .stop_after_fails = 5, .fd = -1};
	char port[8];
	uint16_t pn;
	int i;
	struct tcpconn_params prm = {.host = "127.0.0.1",
				     .port = port,
				     .connect_timeout_ns = 1000 * MS,
				     .backoff_min_ns = 40 * MS,
				     .backoff_max_ns = 10000 * MS};

	setup(&pd);
	close(listener(&pn)); /* a port nobody listens on */
	snprintf(port, sizeof(port), "%u", pn);
	CHECK_EQ_INT(tcpconn_new(&pd, &prm, up_cb, fail_cb, &p, &p.c), 0);
	tcpconn_connect(p.c);
	run_until(&pd, 10000);
	CHECK_EQ_INT(p.fails, 5);
	CHECK_EQ_INT(p.ups, 0);
	CHECK_EQ_INT(p.last_err, -ECONNREFUSED);
	CHECK(strstr(p.why, "127.0.0.1") && strstr(p.why, port) && strstr(p.why, "refused"));
	/* Half the ceiling is fixed: every wait at least 20, 40, 80, 160 ms. */
	for (i = 1; i < 5; i++)
		CHECK(p.fail_at[i] - p.fail_at[i - 1] >= (20 * MS << (i - 1)));
	/* Closed while waiting: no more attempts until asked. */
	tcpconn_close(p.c);
	CHECK_EQ_INT(tcpconn_retry_at(p.c), 0);
	run_until(&pd, 300);
	CHECK_EQ_INT(p.fails, 5);
	/* Asked again: at once. */
	p.stop_after_fails = 6;
	tcpconn_connect(p.c);
	run_until(&pd, 2000);
	CHECK_EQ_INT(p.fails, 6);
	tcpconn_close(p.c);
	teardown(&pd, &p);
}

static void test_bad_name(void)
{
	struct powerd pd;
	struct peer p = {.pd = &pd, .stop_after_fails = 1, .fd = -1};
	struct tcpconn_params prm = {.host = "",
				     .port = "notaport",
				     .connect_timeout_ns = 1000 * MS,
				     .backoff_min_ns = 40 * MS,
				     .backoff_max_ns = 100 * MS};

	setup(&pd);
	CHECK_EQ_INT(tcpconn_new(&pd, &prm, up_cb, fail_cb, &p, &p.c), 0);
	tcpconn_connect(p.c);
	run_until(&pd, 5000);
	CHECK_EQ_INT(p.fails, 1);
	CHECK(strstr(p.why, "looking up") != NULL);
	tcpconn_close(p.c);
	teardown(&pd, &p);
}

int main(void)
{
	alarm(60);
	test_connect("127.0.0.1");
	test_connect("localhost");
	test_refused();
	test_bad_name();
	printf("%d checks, %d failed\n", check_count, check_failures);
	return check_failures != 0;
}

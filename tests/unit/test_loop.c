/* The event loop's ops on real fds: pipes, socketpairs, UDP and TCP on
 * 127.0.0.1; and the resolver that brings getaddrinfo() back onto it.  Each test runs its own loop;
 * a guard timer stops a test that would wait forever, and every test ends with a drain that must
 * find the kernel done with every op (the accounting of ops with two CQEs included). */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/errqueue.h>
#include <linux/net_tstamp.h>
#include <netinet/in.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "loop.h"
#include "resolve.h"

#define MS 1000000LL

static bool timed_out;
static struct loop_op guard_op, tick_op;

static void guard_cb(struct loop *l, int res, void *arg)
{
	(void)arg;
	if (res == -ETIME) {
		timed_out = true;
		loop_stop(l);
	}
}

static struct loop *setup(void)
{
	struct loop *l = NULL;

	CHECK_EQ_INT(loop_init(&l, 64), 0);
	timed_out = false;
	memset(&guard_op, 0, sizeof(guard_op));
	memset(&tick_op, 0, sizeof(tick_op));
	CHECK_EQ_INT(loop_timer_at(l, &guard_op, loop_now() + 10000 * MS, guard_cb, NULL), 0);
	return l;
}

static void teardown(struct loop *l)
{
	CHECK(!timed_out);
	CHECK_EQ_INT(loop_drain(l, 2000 * MS), 0);
	loop_free(l);
}

/* Until a callback stops the loop (or the guard fires). */
static void run(struct loop *l)
{
	if (!timed_out)
		CHECK_EQ_INT(loop_run(l), 0);
}

static void tick_cb(struct loop *l, int res, void *arg)
{
	(void)res;
	(void)arg;
	loop_stop(l);
}

/* For ms, whatever the callbacks do meanwhile. */
static void run_for(struct loop *l, int64_t ms)
{
	CHECK_EQ_INT(loop_timer_at(l, &tick_op, loop_now() + ms * MS, tick_cb, NULL), 0);
	while (loop_op_busy(&tick_op) && !timed_out)
		run(l);
}

/* A one-shot op's outcome. */
struct rec {
	int calls, res;
	int64_t at;
};

static void rec_cb(struct loop *l, int res, void *arg)
{
	struct rec *r = arg;

	r->calls++;
	r->res = res;
	r->at = loop_now();
	loop_stop(l);
}

static void test_timer(void)
{
	struct loop *l = setup();
	struct loop_op op = {0};
	struct rec r = {0};
	int64_t t0 = loop_now();

	CHECK_EQ_INT(loop_timer_at(l, &op, t0 + 20 * MS, rec_cb, &r), 0);
	run(l);
	CHECK_EQ_INT(r.calls, 1);
	CHECK_EQ_INT(r.res, -ETIME);
	CHECK(r.at >= t0 + 20 * MS);
	CHECK(!loop_op_busy(&op));
	teardown(l);
}

static void test_write_read(void)
{
	struct loop *l = setup();
	struct loop_op wop = {0}, rop = {0};
	struct rec w = {0}, r = {0};
	char buf[16] = {0}, path[] = "/tmp/test_loop.XXXXXX";
	int p[2], fd;

	CHECK_EQ_INT(pipe(p), 0);
	CHECK_EQ_INT(loop_read(l, &rop, p[0], buf, sizeof(buf), -1, rec_cb, &r), 0);
	CHECK_EQ_INT(loop_write(l, &wop, p[1], "hello", 5, -1, rec_cb, &w), 0);
	while (!timed_out && (!w.calls || !r.calls))
		run(l);
	CHECK_EQ_INT(w.res, 5);
	CHECK_EQ_INT(r.res, 5);
	CHECK(memcmp(buf, "hello", 5) == 0);

	/* At an offset, in a regular file. */
	fd = mkstemp(path);
	CHECK(fd >= 0);
	unlink(path);
	w.calls = 0;
	CHECK_EQ_INT(loop_write(l, &wop, fd, "abc", 3, 4, rec_cb, &w), 0);
	run(l);
	CHECK_EQ_INT(w.res, 3);
	memset(buf, 0, sizeof(buf));
	CHECK_EQ_INT(pread(fd, buf, sizeof(buf), 0), 7);
	CHECK(memcmp(buf, "\0\0\0\0abc", 7) == 0);
	close(fd);

	/* A pipe nobody reads any more: the kernel raises SIGPIPE too.  It
	 * stays ignored from here on (test_send, which needs it fatal, runs
	 * before): under Valgrind it arrives some time later. */
	signal(SIGPIPE, SIG_IGN);
	close(p[0]);
	w.calls = 0;
	CHECK_EQ_INT(loop_write(l, &wop, p[1], "x", 1, -1, rec_cb, &w), 0);
	run(l);
	CHECK_EQ_INT(w.res, -EPIPE);
	close(p[1]);
	teardown(l);
}

static void test_send(void)
{
	struct loop *l = setup();
	struct loop_op sop = {0}, rop = {0};
	struct rec s = {0}, r = {0};
	char buf[16] = {0};
	int sv[2];

	CHECK_EQ_INT(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	CHECK_EQ_INT(loop_read(l, &rop, sv[1], buf, sizeof(buf), -1, rec_cb, &r), 0);
	CHECK_EQ_INT(loop_send(l, &sop, sv[0], "hello", 5, 0, rec_cb, &s), 0);
	while (!timed_out && (!s.calls || !r.calls))
		run(l);
	CHECK_EQ_INT(s.res, 5);
	CHECK_EQ_INT(r.res, 5);
	CHECK(memcmp(buf, "hello", 5) == 0);

	/* SIGPIPE at its default (fatal) disposition: the send says -EPIPE
	 * and the process lives on. */
	close(sv[1]);
	s.calls = 0;
	CHECK_EQ_INT(loop_send(l, &sop, sv[0], "x", 1, 0, rec_cb, &s), 0);
	run(l);
	CHECK_EQ_INT(s.res, -EPIPE);
	close(sv[0]);
	teardown(l);
}

/* A send at a time: not before it, one callback with the send's result;
 * one at a time already past goes at once; drained, it is cancelled. */
static void test_send_at(void)
{
	struct loop *l = setup();
	struct loop_op sop = {0}, rop = {0};
	struct rec s = {0}, r = {0};
	char buf[16] = {0};
	int64_t t0 = loop_now();
	int sv[2];

	CHECK_EQ_INT(socketpair(AF_UNIX, SOCK_DGRAM, 0, sv), 0);
	CHECK_EQ_INT(loop_read(l, &rop, sv[1], buf, sizeof(buf), -1, rec_cb, &r), 0);
	CHECK_EQ_INT(loop_send_at(l, &sop, sv[0], "later", 5, 0, t0 + 30 * MS, rec_cb, &s), 0);
	CHECK_EQ_INT(loop_send_at(l, &sop, sv[0], "x", 1, 0, t0, rec_cb, &s), -EALREADY);
	while (!timed_out && (!s.calls || !r.calls))
		run(l);
	CHECK_EQ_INT(s.calls, 1);
	CHECK_EQ_INT(s.res, 5);
	CHECK_EQ_INT(r.res, 5);
	CHECK(r.at >= t0 + 30 * MS);
	CHECK(memcmp(buf, "later", 5) == 0);
	CHECK(!loop_op_busy(&sop));

	/* In the past: sent right away. */
	memset(&s, 0, sizeof(s));
	memset(&r, 0, sizeof(r));
	CHECK_EQ_INT(loop_read(l, &rop, sv[1], buf, sizeof(buf), -1, rec_cb, &r), 0);
	CHECK_EQ_INT(loop_send_at(l, &sop, sv[0], "now", 3, 0, t0, rec_cb, &s), 0);
	while (!timed_out && (!s.calls || !r.calls))
		run(l);
	CHECK_EQ_INT(s.res, 3);
	CHECK_EQ_INT(r.res, 3);

	/* Far in the future, then drained: nothing is sent. */
	CHECK_EQ_INT(loop_send_at(l, &sop, sv[0], "never", 5, 0, t0 + 60000 * MS, rec_cb, &s), 0);
	CHECK_EQ_INT(loop_drain(l, 2000 * MS), 0);
	CHECK(!loop_op_busy(&sop));
	CHECK_EQ_INT(recv(sv[1], buf, sizeof(buf), MSG_DONTWAIT), -1);
	close(sv[0]);
	close(sv[1]);
	teardown(l);
}

static void test_poll(void)
{
	struct loop *l = setup();
	struct loop_op op = {0};
	struct rec r = {0};
	int p[2], sv[2];

	CHECK_EQ_INT(pipe(p), 0);
	CHECK_EQ_INT(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);

	/* Nothing to read: it waits; a write wakes it. */
	CHECK_EQ_INT(loop_poll(l, &op, p[0], POLLIN, rec_cb, &r), 0);
	run_for(l, 20);
	CHECK_EQ_INT(r.calls, 0);
	CHECK_EQ_INT(write(p[1], "x", 1), 1);
	run(l);
	CHECK_EQ_INT(r.calls, 1);
	CHECK(r.res > 0 && (r.res & POLLIN));

	/* Still readable (nothing was read): re-armed, it fires at once. */
	CHECK_EQ_INT(loop_poll(l, &op, p[0], POLLIN, rec_cb, &r), 0);
	run(l);
	CHECK_EQ_INT(r.calls, 2);
	CHECK(r.res & POLLIN);

	/* What curl's socket callback does: IN, then OUT instead. */
	CHECK_EQ_INT(loop_poll(l, &op, sv[0], POLLIN, rec_cb, &r), 0);
	run_for(l, 20);
	CHECK_EQ_INT(r.calls, 2);
	CHECK_EQ_INT(loop_poll_update(l, &op, POLLOUT), 0);
	run(l);
	CHECK_EQ_INT(r.calls, 3);
	CHECK(r.res & POLLOUT);
	CHECK(!(r.res & POLLIN));
	CHECK_EQ_INT(loop_poll_update(l, &op, POLLIN), -ENOENT); /* not armed */

	/* And removal: cancelled, then armed again with other events. */
	CHECK_EQ_INT(loop_poll(l, &op, sv[0], POLLIN, rec_cb, &r), 0);
	run_for(l, 10);
	CHECK_EQ_INT(loop_cancel(l, &op), 0);
	run(l);
	CHECK_EQ_INT(r.calls, 4);
	CHECK_EQ_INT(r.res, -ECANCELED);
	CHECK_EQ_INT(loop_poll(l, &op, sv[0], POLLOUT, rec_cb, &r), 0);
	run(l);
	CHECK_EQ_INT(r.calls, 5);
	CHECK(r.res & POLLOUT);
	close(p[0]);
	close(p[1]);
	close(sv[0]);
	close(sv[1]);
	teardown(l);
}

struct multi {
	int fd_r, fd_w;
	int events, finals, last;
	bool more_seen;
	int stop_at;
};

static void multi_poll_cb(struct loop *l, const struct loop_event *ev, void *arg)
{
	struct multi *m = arg;
	char buf[64];

	CHECK(ev->msg == NULL);
	if (!ev->more) {
		m->finals++;
		m->last = ev->res;
		loop_stop(l);
		return;
	}
	m->more_seen = true;
	CHECK(ev->res & POLLIN);
	/* Edge-style: consume everything, or no new event comes. */
	while (read(m->fd_r, buf, sizeof(buf)) > 0)
		;
	if (++m->events == m->stop_at)
		loop_stop(l);
}

static void test_poll_multi(void)
{
	struct loop *l = setup();
	struct loop_op op = {0};
	struct multi m = {0};
	int p[2];

	CHECK_EQ_INT(pipe2(p, O_NONBLOCK), 0);
	m.fd_r = p[0];
	m.fd_w = p[1];
	CHECK_EQ_INT(loop_poll_multi(l, &op, p[0], POLLIN, multi_poll_cb, &m), 0);
	CHECK_EQ_INT(loop_link_timeout(l, &op, 1000 * MS), -EINVAL); /* not for multishot */
	for (int i = 1; i <= 3; i++) {
		m.stop_at = i;
		CHECK_EQ_INT(write(p[1], "abc", 3), 3);
		run(l);
		CHECK_EQ_INT(m.events, i);
		CHECK(loop_op_busy(&op)); /* one SQE, still armed */
	}
	/* An update keeps a multishot poll multishot. */
	CHECK_EQ_INT(loop_poll_update(l, &op, POLLIN | POLLPRI), 0);
	run_for(l, 10);
	for (int i = 4; i <= 5; i++) {
		m.stop_at = i;
		CHECK_EQ_INT(write(p[1], "abc", 3), 3);
		run(l);
		CHECK_EQ_INT(m.events, i);
		CHECK(loop_op_busy(&op));
	}
	CHECK_EQ_INT(m.finals, 0);
	CHECK_EQ_INT(loop_cancel(l, &op), 0);
	run(l);
	CHECK_EQ_INT(m.finals, 1);
	CHECK_EQ_INT(m.last, -ECANCELED);
	CHECK(!loop_op_busy(&op));
	close(p[0]);
	close(p[1]);
	teardown(l);
}

/* A UDP socket on 127.0.0.1 and its address. */
static int udp_socket(struct sockaddr_in *a)
{
	socklen_t len = sizeof(*a);
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	memset(a, 0, sizeof(*a));
	a->sin_family = AF_INET;
	a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	CHECK(fd >= 0);
	CHECK_EQ_INT(bind(fd, (struct sockaddr *)a, sizeof(*a)), 0);
	CHECK_EQ_INT(getsockname(fd, (struct sockaddr *)a, &len), 0);
	return fd;
}

static int64_t ts_ns(const struct timespec *ts)
{
	return (int64_t)ts->tv_sec * 1000000000LL + ts->tv_nsec;
}

static int64_t real_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ts_ns(&ts);
}

/* The ancillary data a CAN source will read: a receive timestamp and the
 * socket's drop counter, here on UDP over loopback. */
static void test_recvmsg(void)
{
	struct loop *l = setup();
	struct loop_op op = {0};
	struct rec r = {0};
	struct sockaddr_in ra, sa, from;
	union {
		char buf[256];
		struct cmsghdr align;
	} ctl;
	char data[64];
	struct iovec iov = {data, sizeof(data)};
	struct msghdr mh;
	struct cmsghdr *c;
	struct timespec stamp = {0};
	int one = 1, rx = udp_socket(&ra), tx = udp_socket(&sa), n, sent;
	uint32_t drops = 0;
	bool have_stamp = false, have_drops = false;
	int64_t t0 = real_ns();

	CHECK_EQ_INT(setsockopt(rx, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof(one)), 0);
	CHECK_EQ_INT(setsockopt(rx, SOL_SOCKET, SO_RXQ_OVFL, &one, sizeof(one)), 0);
	/* Zeroed: Valgrind does not see the kernel fill them. */
	memset(&ctl, 0, sizeof(ctl));
	memset(data, 0, sizeof(data));
	memset(&from, 0, sizeof(from));
	memset(&mh, 0, sizeof(mh));
	mh.msg_name = &from;
	mh.msg_namelen = sizeof(from);
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	mh.msg_control = ctl.buf;
	mh.msg_controllen = sizeof(ctl.buf);
	CHECK_EQ_INT(loop_recvmsg(l, &op, rx, &mh, 0, rec_cb, &r), 0);
	run_for(l, 10);
	CHECK_EQ_INT(r.calls, 0);
	CHECK_EQ_INT(sendto(tx, "frame-1", 7, 0, (struct sockaddr *)&ra, sizeof(ra)), 7);
	run(l);
	CHECK_EQ_INT(r.res, 7);
	CHECK(memcmp(data, "frame-1", 7) == 0);
	CHECK_EQ_INT(mh.msg_namelen, sizeof(from));
	CHECK_EQ_INT(from.sin_port, sa.sin_port);
	CHECK(!(mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)));
	for (c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS) {
			memcpy(&stamp, CMSG_DATA(c), sizeof(stamp));
			have_stamp = true;
		}
	CHECK(have_stamp);
	CHECK(ts_ns(&stamp) >= t0 - 1000 * MS && ts_ns(&stamp) <= real_ns() + 1000 * MS);

	/* Overflow a tiny receive buffer; the next datagram queued after the
	 * drops carries their count. */
	n = 0;
	CHECK_EQ_INT(setsockopt(rx, SOL_SOCKET, SO_RCVBUF, &n, sizeof(n)), 0);
	for (sent = 0; sent < 200; sent++)
		sendto(tx, "filler-filler-filler", 20, MSG_DONTWAIT, (struct sockaddr *)&ra,
		       sizeof(ra));
	while (recv(rx, data, sizeof(data), MSG_DONTWAIT) > 0)
		;
	CHECK_EQ_INT(sendto(tx, "frame-2", 7, 0, (struct sockaddr *)&ra, sizeof(ra)), 7);
	mh.msg_namelen = sizeof(from);
	mh.msg_controllen = sizeof(ctl.buf);
	CHECK_EQ_INT(loop_recvmsg(l, &op, rx, &mh, 0, rec_cb, &r), 0);
	run(l);
	CHECK_EQ_INT(r.res, 7);
	CHECK(memcmp(data, "frame-2", 7) == 0);
	for (c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SO_RXQ_OVFL) {
			memcpy(&drops, CMSG_DATA(c), sizeof(drops));
			have_drops = true;
		}
	CHECK(have_drops);
	CHECK(drops > 0 && drops < 200);
	close(rx);
	close(tx);
	teardown(l);
}

/* SO_TIMESTAMPING's software receive stamp, the other API CAN drivers fill. */
static void test_recvmsg_timestamping(void)
{
	struct loop *l = setup();
	struct loop_op op = {0};
	struct rec r = {0};
	struct sockaddr_in ra, sa;
	union {
		char buf[256];
		struct cmsghdr align;
	} ctl;
	char data[16];
	struct iovec iov = {data, sizeof(data)};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
	struct scm_timestamping tss;
	struct cmsghdr *c;
	int flags = SOF_TIMESTAMPING_RX_SOFTWARE | SOF_TIMESTAMPING_SOFTWARE;
	int rx = udp_socket(&ra), tx = udp_socket(&sa);
	bool have = false;
	int64_t t0 = real_ns();

	CHECK_EQ_INT(setsockopt(rx, SOL_SOCKET, SO_TIMESTAMPING, &flags, sizeof(flags)), 0);
	memset(&ctl, 0, sizeof(ctl));
	memset(data, 0, sizeof(data));
	mh.msg_control = ctl.buf;
	mh.msg_controllen = sizeof(ctl.buf);
	CHECK_EQ_INT(loop_recvmsg(l, &op, rx, &mh, 0, rec_cb, &r), 0);
	CHECK_EQ_INT(sendto(tx, "ts", 2, 0, (struct sockaddr *)&ra, sizeof(ra)), 2);
	run(l);
	CHECK_EQ_INT(r.res, 2);
	for (c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPING) {
			memcpy(&tss, CMSG_DATA(c), sizeof(tss));
			have = true;
		}
	CHECK(have);
	if (have)
		CHECK(ts_ns(&tss.ts[0]) >= t0 - 1000 * MS &&
		      ts_ns(&tss.ts[0]) <= real_ns() + 1000 * MS);
	close(rx);
	close(tx);
	teardown(l);
}

struct mrecv {
	struct loop_op op;
	struct loop_bufs *bufs;
	struct msghdr tmpl;
	int fd;
	in_port_t from_port;
	int got, nobufs, truncated, stamps, finals, last;
	bool bad;
	bool free_in_final;
	int free_res;
	int want;
};

static void mrecv_cb(struct loop *l, const struct loop_event *ev, void *arg)
{
	struct mrecv *m = arg;

	if (ev->msg) {
		struct msghdr *msg = ev->msg;
		struct sockaddr_in *from = msg->msg_name;
		struct cmsghdr *c;
		char want[16];

		CHECK_EQ_INT(msg->msg_iovlen, 1);
		CHECK_EQ_INT(msg->msg_iov[0].iov_len, ev->res);
		CHECK_EQ_INT(msg->msg_namelen, sizeof(*from));
		CHECK_EQ_INT(from->sin_port, m->from_port);
		for (c = CMSG_FIRSTHDR(msg); c; c = CMSG_NXTHDR(msg, c))
			if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS)
				m->stamps++;
		if (msg->msg_flags & MSG_TRUNC) {
			m->truncated++;
		} else {
			snprintf(want, sizeof(want), "dgram-%02d", m->got);
			if (ev->res != (int)strlen(want) ||
			    memcmp(msg->msg_iov[0].iov_base, want, strlen(want)) != 0)
				m->bad = true;
			m->got++;
		}
	}
	if (ev->more) {
		if (m->got + m->truncated >= m->want)
			loop_stop(l);
		return;
	}
	if (ev->res == -ENOBUFS) {
		/* Every buffer was out at once: the rest wait in the socket. */
		m->nobufs++;
		CHECK_EQ_INT(
			loop_recvmsg_multi(l, &m->op, m->fd, &m->tmpl, m->bufs, 0, mrecv_cb, m), 0);
		return;
	}
	m->finals++;
	m->last = ev->res;
	if (m->free_in_final)
		m->free_res = loop_bufs_free(l, m->bufs);
	loop_stop(l);
}

static void test_recvmsg_multi(void)
{
	struct loop *l = setup();
	struct mrecv m = {0};
	struct sockaddr_in ra, sa;
	char big[300];
	int one = 1, tx, i;

	m.fd = udp_socket(&ra);
	tx = udp_socket(&sa);
	m.from_port = sa.sin_port;
	CHECK_EQ_INT(setsockopt(m.fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof(one)), 0);
	CHECK_EQ_INT(loop_bufs_new(l, &m.bufs, 6, 256), -EINVAL); /* not a power of two */
	CHECK_EQ_INT(loop_bufs_new(l, &m.bufs, 8, 256), 0);
	m.tmpl.msg_namelen = sizeof(struct sockaddr_in);
	m.tmpl.msg_controllen = CMSG_SPACE(sizeof(struct timespec));
	m.tmpl.msg_namelen = 12;
	CHECK_EQ_INT(loop_recvmsg_multi(l, &m.op, m.fd, &m.tmpl, m.bufs, 0, mrecv_cb, &m),
		     -EINVAL); /* the control data would be misaligned */
	m.tmpl.msg_namelen = sizeof(struct sockaddr_in);

	/* More datagrams waiting than the ring has buffers. */
	for (i = 0; i < 20; i++) {
		char d[16];
		int n = snprintf(d, sizeof(d), "dgram-%02d", i);

		CHECK_EQ_INT(sendto(tx, d, (size_t)n, 0, (struct sockaddr *)&ra, sizeof(ra)), n);
	}
	m.want = 20;
	CHECK_EQ_INT(loop_recvmsg_multi(l, &m.op, m.fd, &m.tmpl, m.bufs, 0, mrecv_cb, &m), 0);
	CHECK_EQ_INT(loop_bufs_free(l, m.bufs), -EBUSY);
	run(l);
	CHECK_EQ_INT(m.got, 20);
	CHECK_EQ_INT(m.stamps, 20);
	CHECK(!m.bad);
	printf("multishot recvmsg: 20 datagrams through 8 buffers, %d re-arm(s) on -ENOBUFS\n",
	       m.nobufs);

	/* Bigger than a buffer's room: cut, and said so. */
	memset(big, 'b', sizeof(big));
	m.want = 21;
	CHECK_EQ_INT(sendto(tx, big, sizeof(big), 0, (struct sockaddr *)&ra, sizeof(ra)),
		     (int)sizeof(big));
	run(l);
	CHECK_EQ_INT(m.truncated, 1);

	/* Cancelled: the final call may free the ring. */
	CHECK(loop_op_busy(&m.op));
	m.free_in_final = true;
	m.free_res = 1;
	CHECK_EQ_INT(loop_cancel(l, &m.op), 0);
	run(l);
	CHECK_EQ_INT(m.finals, 1);
	CHECK_EQ_INT(m.last, -ECANCELED);
	CHECK_EQ_INT(m.free_res, 0);
	close(m.fd);
	close(tx);
	teardown(l);
}

/* A TCP listener on 127.0.0.1 (backlog as given) and its address. */
static int tcp_listener(struct sockaddr_in *a, int backlog)
{
	socklen_t len = sizeof(*a);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	memset(a, 0, sizeof(*a));
	a->sin_family = AF_INET;
	a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	CHECK(fd >= 0);
	CHECK_EQ_INT(bind(fd, (struct sockaddr *)a, sizeof(*a)), 0);
	CHECK_EQ_INT(listen(fd, backlog), 0);
	CHECK_EQ_INT(getsockname(fd, (struct sockaddr *)a, &len), 0);
	return fd;
}

static void test_connect(void)
{
	struct loop *l = setup();
	struct loop_op op = {0};
	struct rec r = {0};
	struct sockaddr_in a, closed;
	socklen_t len = sizeof(closed);
	int lfd = tcp_listener(&a, 8), fd, afd, bound;

	/* Blocking and non-blocking sockets alike. */
	for (int nb = 0; nb < 2; nb++) {
		fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | (nb ? SOCK_NONBLOCK : 0), 0);
		CHECK_EQ_INT(loop_connect(l, &op, fd, (struct sockaddr *)&a, sizeof(a), rec_cb, &r),
			     0);
		run(l);
		CHECK_EQ_INT(r.res, 0);
		afd = accept(lfd, NULL, NULL);
		CHECK(afd >= 0);
		close(afd);
		close(fd);
	}

	/* A port bound but not listening: refused. */
	bound = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	memset(&closed, 0, sizeof(closed));
	closed.sin_family = AF_INET;
	closed.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	CHECK_EQ_INT(bind(bound, (struct sockaddr *)&closed, sizeof(closed)), 0);
	CHECK_EQ_INT(getsockname(bound, (struct sockaddr *)&closed, &len), 0);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	CHECK_EQ_INT(
		loop_connect(l, &op, fd, (struct sockaddr *)&closed, sizeof(closed), rec_cb, &r),
		0);
	run(l);
	CHECK_EQ_INT(r.res, -ECONNREFUSED);
	close(fd);
	close(bound);
	close(lfd);
	teardown(l);
}

/* A linked timeout's callback re-arms the same op at once: legal only if
 * both of its CQEs are in. */
struct relink {
	struct loop_op op;
	int fd;
	char buf[8];
	int calls, res[2];
};

static void relink_cb(struct loop *l, int res, void *arg)
{
	struct relink *t = arg;

	t->res[t->calls++] = res;
	if (t->calls == 1) {
		CHECK(!loop_op_busy(&t->op));
		CHECK_EQ_INT(loop_read(l, &t->op, t->fd, t->buf, sizeof(t->buf), -1, relink_cb, t),
			     0);
		CHECK_EQ_INT(loop_link_timeout(l, &t->op, 5000 * MS), 0);
		return;
	}
	loop_stop(l);
}

static void rearm_cb(struct loop *l, int res, void *arg)
{
	struct relink *t = arg;

	t->res[t->calls++] = res;
	if (t->calls == 1)
		CHECK_EQ_INT(loop_read(l, &t->op, t->fd, t->buf, sizeof(t->buf), -1, rearm_cb, t),
			     0);
}

static void test_link_timeout(void)
{
	struct loop *l = setup();
	struct loop_op op = {0}, op2 = {0}, timer = {0};
	struct relink t = {0};
	struct rec r = {0};
	char buf[8];
	int p[2];
	int64_t t0;

	CHECK_EQ_INT(pipe(p), 0);

	/* Fires: the read on an empty pipe ends with -ETIME... */
	t.fd = p[0];
	t0 = loop_now();
	CHECK_EQ_INT(loop_read(l, &t.op, p[0], t.buf, sizeof(t.buf), -1, relink_cb, &t), 0);
	CHECK_EQ_INT(loop_link_timeout(l, &t.op, 50 * MS), 0);
	CHECK_EQ_INT(loop_link_timeout(l, &t.op, 50 * MS), -EINVAL); /* one is enough */
	run_for(l, 150);
	CHECK_EQ_INT(t.calls, 1);
	CHECK_EQ_INT(t.res[0], -ETIME);
	CHECK(loop_now() - t0 >= 50 * MS);
	/* ...and does not: the re-armed read gets its data well before 5 s. */
	CHECK_EQ_INT(write(p[1], "data", 4), 4);
	run(l);
	CHECK_EQ_INT(t.calls, 2);
	CHECK_EQ_INT(t.res[1], 4);
	CHECK(loop_now() - t0 < 4000 * MS);
	CHECK(!loop_op_busy(&t.op));

	/* Data already there: completes, the 5 s timeout goes with it; the
	 * callback re-arms the op (no timeout this time, nothing to read), and
	 * no late CQE of the first round may complete the second. */
	CHECK_EQ_INT(write(p[1], "more", 4), 4);
	t.calls = 0;
	CHECK_EQ_INT(loop_read(l, &t.op, p[0], t.buf, sizeof(t.buf), -1, rearm_cb, &t), 0);
	CHECK_EQ_INT(loop_link_timeout(l, &t.op, 5000 * MS), 0);
	run_for(l, 50);
	CHECK_EQ_INT(t.calls, 1);
	CHECK_EQ_INT(t.res[0], 4);
	CHECK(loop_op_busy(&t.op));
	CHECK_EQ_INT(loop_cancel(l, &t.op), 0);
	run_for(l, 20);
	CHECK_EQ_INT(t.calls, 2);
	CHECK_EQ_INT(t.res[1], -ECANCELED);

	/* Cancelled by the caller: -ECANCELED, not a timeout. */
	CHECK_EQ_INT(loop_read(l, &op, p[0], buf, sizeof(buf), -1, rec_cb, &r), 0);
	CHECK_EQ_INT(loop_link_timeout(l, &op, 5000 * MS), 0);
	run_for(l, 10);
	CHECK_EQ_INT(loop_cancel(l, &op), 0);
	run(l);
	CHECK_EQ_INT(r.res, -ECANCELED);

	/* Only right after its op, never on a timer. */
	CHECK_EQ_INT(loop_read(l, &op, p[0], buf, sizeof(buf), -1, rec_cb, &r), 0);
	CHECK_EQ_INT(loop_read(l, &op2, p[0], buf, sizeof(buf), -1, rec_cb, &r), 0);
	CHECK_EQ_INT(loop_link_timeout(l, &op, 5000 * MS), -EINVAL);
	CHECK_EQ_INT(loop_timer_at(l, &timer, loop_now() + 5000 * MS, rec_cb, &r), 0);
	CHECK_EQ_INT(loop_link_timeout(l, &timer, 5000 * MS), -EINVAL);
	close(p[0]);
	close(p[1]);
	teardown(l); /* drains the two reads and the timer */
}

static void test_link_timeout_connect(void)
{
	struct loop *l = setup();
	struct loop_op op = {0};
	struct rec r = {0};
	struct sockaddr_in a;
	int lfd = tcp_listener(&a, 0), fill[4], fd;
	int64_t t0;

	/* Nobody accepts: once the queue is full, SYNs go unanswered. */
	for (int i = 0; i < 4; i++) {
		fill[i] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
		connect(fill[i], (struct sockaddr *)&a, sizeof(a));
	}
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	t0 = loop_now();
	CHECK_EQ_INT(loop_connect(l, &op, fd, (struct sockaddr *)&a, sizeof(a), rec_cb, &r), 0);
	CHECK_EQ_INT(loop_link_timeout(l, &op, 100 * MS), 0);
	run(l);
	CHECK_EQ_INT(r.res, -ETIME);
	CHECK(loop_now() - t0 >= 100 * MS);
	close(fd);
	for (int i = 0; i < 4; i++)
		close(fill[i]);
	close(lfd);
	teardown(l);
}

static void test_cancel(void)
{
	struct loop *l = setup();
	struct loop_op op = {0}, timer = {0};
	struct rec r = {0}, t = {0};
	char buf[8];
	int p[2];

	CHECK_EQ_INT(pipe(p), 0);
	CHECK_EQ_INT(loop_cancel(l, &op), -ENOENT);
	CHECK_EQ_INT(loop_read(l, &op, p[0], buf, sizeof(buf), -1, rec_cb, &r), 0);
	/* In flight: the struct cannot be submitted a second time. */
	CHECK_EQ_INT(loop_read(l, &op, p[0], buf, sizeof(buf), -1, rec_cb, &r), -EALREADY);
	CHECK_EQ_INT(loop_timer_at(l, &timer, loop_now() + 5000 * MS, rec_cb, &t), 0);
	run_for(l, 10);
	CHECK_EQ_INT(r.calls, 0);
	CHECK_EQ_INT(loop_cancel(l, &op), 0);
	run(l);
	CHECK_EQ_INT(r.calls, 1);
	CHECK_EQ_INT(r.res, -ECANCELED);
	CHECK_EQ_INT(loop_cancel(l, &op), -ENOENT);
	/* The timer was not touched; cancelled too, it says so. */
	CHECK(loop_op_busy(&timer));
	CHECK_EQ_INT(loop_cancel(l, &timer), 0);
	run(l);
	CHECK_EQ_INT(t.calls, 1);
	CHECK_EQ_INT(t.res, -ECANCELED);
	/* One-shot, once: nothing more comes for the read. */
	run_for(l, 10);
	CHECK_EQ_INT(r.calls, 1);
	close(p[0]);
	close(p[1]);
	teardown(l);
}

/* A ring of two SQEs: an op always leaves room for its linked timeout, or
 * a flush between the two would submit the op without it. */
static void test_small_ring(void)
{
	struct loop *l = NULL;
	struct loop_op a = {0}, b = {0};
	struct rec ra = {0}, rb = {0};
	char b1[8], b2[8];
	int p[2];

	CHECK_EQ_INT(pipe(p), 0);
	CHECK_EQ_INT(loop_init(&l, 2), 0);
	CHECK_EQ_INT(loop_read(l, &a, p[0], b1, sizeof(b1), -1, rec_cb, &ra), 0);
	CHECK_EQ_INT(loop_read(l, &b, p[0], b2, sizeof(b2), -1, rec_cb, &rb), 0);
	CHECK_EQ_INT(loop_link_timeout(l, &b, 20 * MS), 0);
	timed_out = false;
	memset(&guard_op, 0, sizeof(guard_op));
	CHECK_EQ_INT(loop_timer_at(l, &guard_op, loop_now() + 2000 * MS, guard_cb, NULL), 0);
	CHECK_EQ_INT(loop_run(l), 0);
	CHECK(!timed_out);
	CHECK_EQ_INT(ra.calls, 0);
	CHECK_EQ_INT(rb.calls, 1);
	CHECK_EQ_INT(rb.res, -ETIME);
	CHECK_EQ_INT(loop_drain(l, 2000 * MS), 0);
	CHECK_EQ_INT(ra.calls, 0);
	loop_free(l);
	close(p[0]);
	close(p[1]);
}

static void count_cb(struct loop *l, int res, void *arg)
{
	(void)l;
	(void)res;
	(*(int *)arg)++;
}

static void count_multi_cb(struct loop *l, const struct loop_event *ev, void *arg)
{
	(void)l;
	(void)ev;
	(*(int *)arg)++;
}

/* Everything in flight at shutdown is let go of without a callback. */
static void test_drain(void)
{
	struct loop *l = setup();
	struct loop_op rd = {0}, lt = {0}, pm = {0}, rm = {0}, tm = {0};
	struct loop_bufs *bufs;
	struct msghdr tmpl = {.msg_namelen = 16, .msg_controllen = 32};
	struct sockaddr_in a;
	char b1[8], b2[8];
	int p[2], u = udp_socket(&a), calls = 0;

	CHECK_EQ_INT(pipe(p), 0);
	CHECK_EQ_INT(loop_bufs_new(l, &bufs, 4, 128), 0);
	CHECK_EQ_INT(loop_read(l, &rd, p[0], b1, sizeof(b1), -1, count_cb, &calls), 0);
	CHECK_EQ_INT(loop_read(l, &lt, p[0], b2, sizeof(b2), -1, count_cb, &calls), 0);
	CHECK_EQ_INT(loop_link_timeout(l, &lt, 5000 * MS), 0);
	CHECK_EQ_INT(loop_poll_multi(l, &pm, p[0], POLLIN, count_multi_cb, &calls), 0);
	CHECK_EQ_INT(loop_recvmsg_multi(l, &rm, u, &tmpl, bufs, 0, count_multi_cb, &calls), 0);
	CHECK_EQ_INT(loop_timer_at(l, &tm, loop_now() + 5000 * MS, count_cb, &calls), 0);
	run_for(l, 20);
	CHECK_EQ_INT(calls, 0);
	CHECK_EQ_INT(loop_drain(l, 2000 * MS), 0);
	CHECK_EQ_INT(calls, 0);
	CHECK(!loop_op_busy(&rd) && !loop_op_busy(&lt) && !loop_op_busy(&pm));
	CHECK(!loop_op_busy(&rm) && !loop_op_busy(&tm) && !loop_op_busy(&guard_op));
	CHECK_EQ_INT(loop_bufs_free(l, bufs), 0);
	close(p[0]);
	close(p[1]);
	close(u);
	teardown(l);
}

struct lookup {
	struct resolver *r;
	int calls, res;
	bool loopback, port_80, on_loop_thread;
	struct resolve_req *chained;
	struct lookup *next; /* started from this one's callback */
	int *left;
};

static pthread_t loop_thread;

static void lookup_cb(struct loop *l, int res, struct addrinfo *ai, void *arg)
{
	struct lookup *k = arg;
	struct addrinfo *p;

	k->calls++;
	k->res = res;
	k->on_loop_thread = pthread_equal(pthread_self(), loop_thread);
	for (p = ai; p; p = p->ai_next)
		if (p->ai_family == AF_INET) {
			struct sockaddr_in *a = (struct sockaddr_in *)p->ai_addr;

			k->loopback |= a->sin_addr.s_addr == htonl(INADDR_LOOPBACK);
			k->port_80 |= a->sin_port == htons(80);
		}
	freeaddrinfo(ai);
	if (k->next) {
		struct addrinfo hints = {.ai_family = AF_INET, .ai_socktype = SOCK_STREAM};

		CHECK_EQ_INT(resolve_host(k->r, "localhost", "80", &hints, lookup_cb, k->next,
					  &k->chained),
			     0);
		k->next = NULL;
		return;
	}
	if (--*k->left == 0)
		loop_stop(l);
}

static void test_resolve(void)
{
	struct loop *l = setup();
	struct resolver *r = NULL;
	struct resolve_req *q;
	struct addrinfo hints = {.ai_family = AF_INET, .ai_socktype = SOCK_STREAM};
	struct addrinfo numeric = {.ai_flags = AI_NUMERICHOST, .ai_socktype = SOCK_STREAM};
	struct lookup good = {0}, bad = {0}, dropped = {0}, chained = {0};
	int left = 2; /* bad and chained: good starts chained instead */

	loop_thread = pthread_self();
	CHECK_EQ_INT(resolve_new(l, &r), 0);
	good.r = bad.r = dropped.r = chained.r = r;
	good.left = bad.left = dropped.left = chained.left = &left;
	good.next = &chained;
	CHECK_EQ_INT(resolve_host(r, "localhost", "80", &hints, lookup_cb, &good, &q), 0);
	/* A name where only a number may be: refused at once, with no DNS
	 * server asked (CI has none, and a lookup would wait for its timeout). */
	CHECK_EQ_INT(resolve_host(r, "powerd-test.invalid", "80", &numeric, lookup_cb, &bad, &q),
		     0);
	CHECK_EQ_INT(resolve_host(r, "localhost", NULL, NULL, lookup_cb, &dropped, &q), 0);
	resolve_cancel(r, q);
	run(l);
	CHECK_EQ_INT(good.calls, 1);
	CHECK_EQ_INT(good.res, 0);
	CHECK(good.loopback && good.port_80 && good.on_loop_thread);
	CHECK_EQ_INT(bad.calls, 1);
	CHECK(bad.res != 0);
	CHECK(bad.on_loop_thread);
	printf("resolve: powerd-test.invalid: %s\n", gai_strerror(bad.res));
	CHECK_EQ_INT(chained.calls, 1);
	CHECK_EQ_INT(chained.res, 0);
	CHECK(chained.loopback && chained.on_loop_thread);
	run_for(l, 20);
	CHECK_EQ_INT(dropped.calls, 0);

	/* Lookups left when the daemon stops: dropped, never called back. */
	for (int i = 0; i < 20; i++)
		CHECK_EQ_INT(resolve_host(r, "localhost", "80", &hints, lookup_cb, &dropped, &q),
			     0);
	CHECK_EQ_INT(resolve_free(r), -EBUSY); /* its read is in flight */
	CHECK(!timed_out);
	CHECK_EQ_INT(loop_drain(l, 2000 * MS), 0);
	CHECK_EQ_INT(resolve_free(r), 0);
	CHECK_EQ_INT(dropped.calls, 0);
	loop_free(l);
}

int main(void)
{
	/* A test that hangs beyond every guard still ends. */
	alarm(120);
	test_timer();
	test_send();
	test_send_at();
	test_write_read();
	test_poll();
	test_poll_multi();
	test_recvmsg();
	test_recvmsg_timestamping();
	test_recvmsg_multi();
	test_connect();
	test_link_timeout();
	test_link_timeout_connect();
	test_cancel();
	test_small_ring();
	test_drain();
	test_resolve();
	return check_result();
}

/* One io_uring, one thread.  Submission is batched: ops are queued as SQEs
 * and reach the kernel in one io_uring_submit() per turn of the loop.
 *
 * The loop sleeps in poll() on the ring's fd, not in io_uring_enter(): the
 * cost is one cheap syscall per wake-up, and in exchange the daemon runs
 * under Valgrind, whose 3.19 treats a waiting io_uring_enter() as a
 * non-blocking call and so freezes every other thread while it waits.
 *
 * Accounting: op->cqes counts the CQEs an op still owes (1; 2 with a linked
 * timeout; a multishot op owes 1 until its CQE without IORING_CQE_F_MORE),
 * and l->pending counts the ops with cqes > 0, which loop_drain() waits for.
 * A linked timeout's CQE carries the op's address with LOOP_TAG_TIMEOUT set;
 * requests that refer to no memory of ours (cancel, poll update) carry 0 and
 * are not waited for. */
#include <errno.h>
#include <liburing.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "loop.h"

#define LOOP_TAG_TIMEOUT 1u

enum {
	LOOP_OP_TIMER = 1 << 0,
	LOOP_OP_POLL = 1 << 1,
	LOOP_OP_MULTI = 1 << 2,
	LOOP_OP_LINKED = 1 << 3,
	LOOP_OP_TIMED_OUT = 1 << 4,
	LOOP_OP_AT = 1 << 5, /* behind a timer of its own (loop_send_at) */
};

struct loop_bufs {
	struct io_uring_buf_ring *br;
	unsigned char *mem;
	size_t size;
	unsigned count;
	uint16_t bgid;
	unsigned users;		/* ops in flight on it */
	bool in_cb;		/* a callback of one of them runs */
	bool dead;		/* freed during that callback */
	struct loop_bufs *next; /* the loop's list of them */
};

struct loop {
	struct io_uring ring;
	unsigned pending;
	bool stop;
	uint16_t next_bgid;
	struct loop_bufs *bufs; /* every buffer ring not freed yet */
	/* The last op queued and its SQE, while unsubmitted: what
	 * loop_link_timeout() may attach to. */
	struct loop_op *last_op;
	struct io_uring_sqe *last_sqe;
};

int64_t loop_now(void)
{
	return clock_mono_ns();
}

int loop_init(struct loop **out, unsigned entries)
{
	struct loop *l;
	int r;

	if (entries < 2)
		return -EINVAL; /* an op and its linked timeout */
	l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	/* SUBMIT_ALL: an SQE the kernel refuses (its CQE says why) does not
	 * hold back the ones queued behind it until the next turn. */
	r = io_uring_queue_init(entries, &l->ring, IORING_SETUP_SUBMIT_ALL);
	if (r == -EINVAL)
		r = io_uring_queue_init(entries, &l->ring, 0);
	if (r < 0) {
		free(l);
		return r;
	}
	*out = l;
	return 0;
}

void loop_free(struct loop *l)
{
	if (!l)
		return;
	/* Closing the ring unregisters its buffer rings: their memory is
	 * ours to free, whoever forgot to. */
	io_uring_queue_exit(&l->ring);
	while (l->bufs) {
		struct loop_bufs *b = l->bufs;

		l->bufs = b->next;
		free(b->br);
		free(b->mem);
		free(b);
	}
	free(l);
}

static int loop_submit(struct loop *l)
{
	l->last_op = NULL;
	return io_uring_submit(&l->ring);
}

/* An SQE with need - 1 more free behind it, flushing the queue to the kernel
 * once if there is not enough room.  Every op asks for 2, so that a linked
 * timeout can always follow it without a flush splitting the pair. */
static struct io_uring_sqe *loop_sqe(struct loop *l, unsigned need)
{
	if (io_uring_sq_space_left(&l->ring) < need)
		loop_submit(l);
	if (io_uring_sq_space_left(&l->ring) < need)
		return NULL;
	l->last_op = NULL;
	return io_uring_get_sqe(&l->ring);
}

/* The SQE for op, or NULL when op is in flight (-EALREADY) or the queue is
 * full (-EBUSY).  Checked before the SQE is taken: a taken SQE is submitted
 * whatever it holds. */
static struct io_uring_sqe *loop_op_sqe(struct loop *l, struct loop_op *op, int *err)
{
	struct io_uring_sqe *sqe;

	if (op->cqes) {
		*err = -EALREADY;
		return NULL;
	}
	sqe = loop_sqe(l, 2);
	if (!sqe)
		*err = -EBUSY;
	return sqe;
}

static void loop_track(struct loop *l, struct io_uring_sqe *sqe, struct loop_op *op, loop_cb cb,
		       loop_multi_cb multi, void *arg, uint8_t flags)
{
	op->cb = cb;
	op->multi = multi;
	op->arg = arg;
	op->bufs = NULL;
	op->tmpl = NULL;
	op->res = 0;
	op->cqes = 1;
	op->flags = flags;
	io_uring_sqe_set_data(sqe, op);
	l->pending++;
	l->last_op = op;
	l->last_sqe = sqe;
}

bool loop_op_busy(const struct loop_op *op)
{
	return op->cqes != 0;
}

int loop_read(struct loop *l, struct loop_op *op, int fd, void *buf, size_t len, int64_t off,
	      loop_cb cb, void *arg)
{
	int err;
	struct io_uring_sqe *sqe = loop_op_sqe(l, op, &err);

	if (!sqe)
		return err;
	io_uring_prep_read(sqe, fd, buf, (unsigned)len, (__u64)off);
	loop_track(l, sqe, op, cb, NULL, arg, 0);
	return 0;
}

int loop_write(struct loop *l, struct loop_op *op, int fd, const void *buf, size_t len, int64_t off,
	       loop_cb cb, void *arg)
{
	int err;
	struct io_uring_sqe *sqe = loop_op_sqe(l, op, &err);

	if (!sqe)
		return err;
	io_uring_prep_write(sqe, fd, buf, (unsigned)len, (__u64)off);
	loop_track(l, sqe, op, cb, NULL, arg, 0);
	return 0;
}

int loop_send(struct loop *l, struct loop_op *op, int fd, const void *buf, size_t len, int flags,
	      loop_cb cb, void *arg)
{
	int err;
	struct io_uring_sqe *sqe = loop_op_sqe(l, op, &err);

	if (!sqe)
		return err;
	/* SIGPIPE would hit whichever thread the kernel sends from. */
	io_uring_prep_send(sqe, fd, buf, len, flags | MSG_NOSIGNAL);
	loop_track(l, sqe, op, cb, NULL, arg, 0);
	return 0;
}

int loop_send_at(struct loop *l, struct loop_op *op, int fd, const void *buf, size_t len, int flags,
		 int64_t mono_ns, loop_cb cb, void *arg)
{
	struct io_uring_sqe *timer, *sqe;
	int err;

	timer = loop_op_sqe(l, op, &err);
	if (!timer)
		return err;
	/* loop_sqe(l, 2) left room for the send: no flush in between.  With
	 * ETIME_SUCCESS the expired timer lets the link go on, so the kernel
	 * sends at the time, without a turn through this thread. */
	sqe = io_uring_get_sqe(&l->ring);
	if (!sqe)
		return -EBUSY; /* cannot happen; the timer alone then fires unseen */
	op->ts.tv_sec = mono_ns / 1000000000LL;
	op->ts.tv_nsec = mono_ns % 1000000000LL;
	io_uring_prep_timeout(timer, &op->ts, 0, IORING_TIMEOUT_ABS | IORING_TIMEOUT_ETIME_SUCCESS);
	timer->flags |= IOSQE_IO_LINK;
	io_uring_sqe_set_data64(timer, (__u64)(uintptr_t)op | LOOP_TAG_TIMEOUT);
	io_uring_prep_send(sqe, fd, buf, len, flags | MSG_NOSIGNAL);
	loop_track(l, sqe, op, cb, NULL, arg, LOOP_OP_AT);
	op->cqes++;
	l->last_op = NULL; /* no linked timeout on top of this */
	return 0;
}

int loop_recvmsg(struct loop *l, struct loop_op *op, int fd, struct msghdr *msg, int flags,
		 loop_cb cb, void *arg)
{
	int err;
	struct io_uring_sqe *sqe = loop_op_sqe(l, op, &err);

	if (!sqe)
		return err;
	io_uring_prep_recvmsg(sqe, fd, msg, (unsigned)flags);
	loop_track(l, sqe, op, cb, NULL, arg, 0);
	return 0;
}

int loop_connect(struct loop *l, struct loop_op *op, int fd, const struct sockaddr *addr,
		 socklen_t addrlen, loop_cb cb, void *arg)
{
	int err;
	struct io_uring_sqe *sqe = loop_op_sqe(l, op, &err);

	if (!sqe)
		return err;
	io_uring_prep_connect(sqe, fd, addr, addrlen);
	loop_track(l, sqe, op, cb, NULL, arg, 0);
	return 0;
}

int loop_poll(struct loop *l, struct loop_op *op, int fd, unsigned events, loop_cb cb, void *arg)
{
	int err;
	struct io_uring_sqe *sqe = loop_op_sqe(l, op, &err);

	if (!sqe)
		return err;
	io_uring_prep_poll_add(sqe, fd, events);
	loop_track(l, sqe, op, cb, NULL, arg, LOOP_OP_POLL);
	return 0;
}

int loop_poll_multi(struct loop *l, struct loop_op *op, int fd, unsigned events, loop_multi_cb cb,
		    void *arg)
{
	int err;
	struct io_uring_sqe *sqe = loop_op_sqe(l, op, &err);

	if (!sqe)
		return err;
	io_uring_prep_poll_multishot(sqe, fd, events);
	loop_track(l, sqe, op, NULL, cb, arg, LOOP_OP_POLL | LOOP_OP_MULTI);
	return 0;
}

int loop_poll_update(struct loop *l, struct loop_op *op, unsigned events)
{
	struct io_uring_sqe *sqe;
	unsigned flags = IORING_POLL_UPDATE_EVENTS;

	if (!op->cqes || !(op->flags & LOOP_OP_POLL))
		return -ENOENT;
	sqe = loop_sqe(l, 1);
	if (!sqe)
		return -EBUSY;
	/* Kernels before 6.0 took a missing ADD_MULTI as "make it one-shot". */
	if (op->flags & LOOP_OP_MULTI)
		flags |= IORING_POLL_ADD_MULTI;
	io_uring_prep_poll_update(sqe, (__u64)(uintptr_t)op, 0, events, flags);
	io_uring_sqe_set_data(sqe, NULL);
	return 0;
}

int loop_timer_at(struct loop *l, struct loop_op *op, int64_t mono_ns, loop_cb cb, void *arg)
{
	int err;
	struct io_uring_sqe *sqe = loop_op_sqe(l, op, &err);

	if (!sqe)
		return err;
	op->ts.tv_sec = mono_ns / 1000000000LL;
	op->ts.tv_nsec = mono_ns % 1000000000LL;
	io_uring_prep_timeout(sqe, &op->ts, 0, IORING_TIMEOUT_ABS);
	loop_track(l, sqe, op, cb, NULL, arg, LOOP_OP_TIMER);
	return 0;
}

int loop_link_timeout(struct loop *l, struct loop_op *op, int64_t timeout_ns)
{
	struct io_uring_sqe *sqe;

	if (l->last_op != op || timeout_ns < 0 ||
	    (op->flags & (LOOP_OP_TIMER | LOOP_OP_MULTI | LOOP_OP_LINKED)))
		return -EINVAL;
	/* loop_sqe(l, 2) left room for this one: no flush in between. */
	sqe = io_uring_get_sqe(&l->ring);
	if (!sqe)
		return -EBUSY;
	/* The kernel reads the timespec when the SQE is submitted. */
	op->ts.tv_sec = timeout_ns / 1000000000LL;
	op->ts.tv_nsec = timeout_ns % 1000000000LL;
	l->last_sqe->flags |= IOSQE_IO_LINK;
	io_uring_prep_link_timeout(sqe, &op->ts, 0);
	io_uring_sqe_set_data64(sqe, (__u64)(uintptr_t)op | LOOP_TAG_TIMEOUT);
	op->cqes++;
	op->flags |= LOOP_OP_LINKED;
	l->last_op = NULL;
	return 0;
}

int loop_cancel(struct loop *l, struct loop_op *op)
{
	struct io_uring_sqe *sqe;

	if (!op->cqes)
		return -ENOENT;
	sqe = loop_sqe(l, 1);
	if (!sqe)
		return -EBUSY;
	/* Its own CQE (found or not) tells nothing the op's callback will
	 * not: the op completes either way. */
	io_uring_prep_cancel64(sqe, (__u64)(uintptr_t)op, 0);
	io_uring_sqe_set_data(sqe, NULL);
	return 0;
}

int loop_bufs_new(struct loop *l, struct loop_bufs **out, unsigned count, size_t size)
{
	struct io_uring_buf_reg reg = {0};
	long page = sysconf(_SC_PAGESIZE);
	struct loop_bufs *b;
	void *ring;
	unsigned i;
	int r;

	if (!count || count > 32768 || (count & (count - 1)) || !size || size > UINT32_MAX / 2)
		return -EINVAL;
	b = calloc(1, sizeof(*b));
	if (!b)
		return -ENOMEM;
	/* Every buffer starts aligned for the headers the kernel writes. */
	b->size = (size + 15) & ~(size_t)15;
	b->count = count;
	/* Zeroed: the kernel fills it through io_uring, which Valgrind cannot see. */
	b->mem = calloc(count, b->size);
	/* The kernel pins the ring's pages: it starts on one. */
	if (!b->mem || posix_memalign(&ring, page > 0 ? (size_t)page : 4096,
				      count * sizeof(struct io_uring_buf))) {
		free(b->mem);
		free(b);
		return -ENOMEM;
	}
	b->br = ring;
	io_uring_buf_ring_init(b->br);
	reg.ring_addr = (__u64)(uintptr_t)b->br;
	reg.ring_entries = count;
	/* Group ids are 16 bits: after a wrap, one may still be taken. */
	for (i = 0, r = -EEXIST; i < 65536 && r == -EEXIST; i++) {
		b->bgid = l->next_bgid++;
		reg.bgid = b->bgid;
		r = io_uring_register_buf_ring(&l->ring, &reg, 0);
	}
	if (r) {
		free(b->br);
		free(b->mem);
		free(b);
		return r;
	}
	for (i = 0; i < count; i++)
		io_uring_buf_ring_add(b->br, b->mem + i * b->size, (unsigned)b->size,
				      (unsigned short)i, io_uring_buf_ring_mask(count), (int)i);
	io_uring_buf_ring_advance(b->br, (int)count);
	b->next = l->bufs;
	l->bufs = b;
	*out = b;
	return 0;
}

static void loop_bufs_release(struct loop *l, struct loop_bufs *b)
{
	struct loop_bufs **pp;

	for (pp = &l->bufs; *pp && *pp != b; pp = &(*pp)->next)
		;
	if (*pp)
		*pp = b->next;
	io_uring_unregister_buf_ring(&l->ring, b->bgid);
	free(b->br);
	free(b->mem);
	free(b);
}

int loop_bufs_free(struct loop *l, struct loop_bufs *b)
{
	if (!b)
		return 0;
	if (b->users)
		return -EBUSY;
	if (b->in_cb) {
		b->dead = true; /* released when the callback returns */
		return 0;
	}
	loop_bufs_release(l, b);
	return 0;
}

size_t loop_recvmsg_bufsize(const struct msghdr *tmpl, size_t payload)
{
	return sizeof(struct io_uring_recvmsg_out) + tmpl->msg_namelen + tmpl->msg_controllen +
	       payload;
}

int loop_recvmsg_multi(struct loop *l, struct loop_op *op, int fd, struct msghdr *tmpl,
		       struct loop_bufs *b, int flags, loop_multi_cb cb, void *arg)
{
	struct io_uring_sqe *sqe;
	int err;

	if (tmpl->msg_namelen % 8 ||
	    sizeof(struct io_uring_recvmsg_out) + tmpl->msg_namelen + tmpl->msg_controllen >=
		    b->size)
		return -EINVAL;
	sqe = loop_op_sqe(l, op, &err);
	if (!sqe)
		return err;
	io_uring_prep_recvmsg_multishot(sqe, fd, tmpl, (unsigned)flags);
	sqe->flags |= IOSQE_BUFFER_SELECT;
	sqe->buf_group = b->bgid;
	loop_track(l, sqe, op, NULL, cb, arg, LOOP_OP_MULTI);
	op->bufs = b;
	op->tmpl = tmpl;
	b->users++;
	return 0;
}

/* A multishot completion: the datagram in its buffer (if any) goes to the
 * callback, then the buffer back to the ring. */
static void loop_multi_complete(struct loop *l, struct loop_op *op, struct io_uring_cqe *cqe,
				bool dispatch)
{
	struct loop_event ev = {.res = cqe->res, .more = cqe->flags & IORING_CQE_F_MORE};
	struct loop_bufs *b = op->bufs;
	struct msghdr msg, *tmpl = op->tmpl;
	struct iovec iov;
	unsigned char *buf = NULL;
	unsigned bid = 0;

	if (b && (cqe->flags & IORING_CQE_F_BUFFER)) {
		struct io_uring_recvmsg_out *o;

		bid = cqe->flags >> IORING_CQE_BUFFER_SHIFT;
		buf = b->mem + (size_t)bid * b->size;
		o = io_uring_recvmsg_validate(buf, cqe->res, tmpl);
		if (o) {
			memset(&msg, 0, sizeof(msg));
			msg.msg_name = io_uring_recvmsg_name(o);
			msg.msg_namelen =
				o->namelen < tmpl->msg_namelen ? o->namelen : tmpl->msg_namelen;
			msg.msg_control = (unsigned char *)msg.msg_name + tmpl->msg_namelen;
			msg.msg_controllen = o->controllen;
			msg.msg_flags = (int)o->flags;
			iov.iov_base = io_uring_recvmsg_payload(o, tmpl);
			iov.iov_len = io_uring_recvmsg_payload_length(o, cqe->res, tmpl);
			msg.msg_iov = &iov;
			msg.msg_iovlen = 1;
			ev.res = (int)iov.iov_len;
			ev.msg = &msg;
		} else {
			ev.res = -EMSGSIZE; /* cannot happen: the size was checked */
		}
	}
	if (!ev.more) {
		/* Free before the callback, which may re-arm the op or free
		 * the ring. */
		op->cqes = 0;
		l->pending--;
		if (b)
			b->users--;
	}
	if (b)
		b->in_cb = true;
	if (dispatch)
		op->multi(l, &ev, op->arg);
	if (!b)
		return;
	b->in_cb = false;
	if (b->dead) {
		loop_bufs_release(l, b);
		return;
	}
	if (buf) {
		io_uring_buf_ring_add(b->br, buf, (unsigned)b->size, (unsigned short)bid,
				      io_uring_buf_ring_mask(b->count), 0);
		io_uring_buf_ring_advance(b->br, 1);
	}
}

/* Account for one CQE and, if dispatch, run the callback it completes. */
static void loop_complete(struct loop *l, struct io_uring_cqe *cqe, bool dispatch)
{
	uintptr_t ud = (uintptr_t)io_uring_cqe_get_data64(cqe);
	struct loop_op *op = (struct loop_op *)(ud & ~(uintptr_t)LOOP_TAG_TIMEOUT);
	int res;

	if (!op)
		return; /* a cancel or poll update request's own */
	if (ud & LOOP_TAG_TIMEOUT) {
		/* -ETIME: it fired and cancelled the op; -ECANCELED: the op
		 * completed first; -EALREADY/-ENOENT: it fired too late. */
		if (cqe->res == -ETIME && !(op->flags & LOOP_OP_AT))
			op->flags |= LOOP_OP_TIMED_OUT;
	} else if (op->flags & LOOP_OP_MULTI) {
		loop_multi_complete(l, op, cqe, dispatch);
		return;
	} else {
		op->res = cqe->res;
	}
	if (--op->cqes)
		return; /* the op's or its timeout's CQE is still due */
	res = op->res;
	if (res == -ECANCELED && (op->flags & LOOP_OP_TIMED_OUT))
		res = -ETIME;
	l->pending--;
	if (dispatch)
		op->cb(l, res, op->arg);
}

void loop_stop(struct loop *l)
{
	l->stop = true;
}

/* Wait until a completion is ready (or timeout_ms passes; -1 = forever). */
static int loop_wait(struct loop *l, int timeout_ms)
{
	struct pollfd p = {.fd = l->ring.ring_fd, .events = POLLIN};
	struct io_uring_cqe *cqe;

	if (io_uring_peek_cqe(&l->ring, &cqe) == 0)
		return 0;
	if (poll(&p, 1, timeout_ms) < 0 && errno != EINTR)
		return -errno;
	return 0;
}

int loop_run(struct loop *l)
{
	struct io_uring_cqe *cqe;
	int r;

	l->stop = false;
	while (!l->stop) {
		r = loop_submit(l);
		if (r < 0 && r != -EINTR && r != -EAGAIN && r != -EBUSY)
			return r;
		r = loop_wait(l, -1);
		if (r)
			return r;
		while (!l->stop && io_uring_peek_cqe(&l->ring, &cqe) == 0) {
			struct io_uring_cqe c = *cqe;

			/* Consumed before the callback, which may re-arm the op. */
			io_uring_cqe_seen(&l->ring, cqe);
			loop_complete(l, &c, true);
		}
	}
	return 0;
}

int loop_drain(struct loop *l, int64_t timeout_ns)
{
	int64_t deadline = loop_now() + timeout_ns;
	struct io_uring_sqe *sqe;
	struct io_uring_cqe *cqe;

	if (!l->pending)
		return 0;
	/* One request cancels everything in flight (a linked timeout goes
	 * with its op); afterwards no buffer handed to the kernel is written
	 * any more, so owners may free them. */
	sqe = loop_sqe(l, 1);
	if (!sqe)
		return -EBUSY;
	io_uring_prep_cancel64(sqe, 0, IORING_ASYNC_CANCEL_ANY);
	io_uring_sqe_set_data(sqe, NULL);
	loop_submit(l);
	while (l->pending) {
		int64_t left = deadline - loop_now();
		struct io_uring_cqe c;

		if (left <= 0)
			return -ETIMEDOUT;
		if (io_uring_peek_cqe(&l->ring, &cqe) != 0) {
			loop_wait(l, (int)(left / 1000000 + 1));
			continue;
		}
		c = *cqe;
		io_uring_cqe_seen(&l->ring, cqe);
		loop_complete(l, &c, false);
	}
	return 0;
}

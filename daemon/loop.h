/* The I/O thread's event loop: a thin layer over one io_uring.
 *
 * Every operation is described by a caller-owned struct loop_op (embedded in
 * the source that issues it, zeroed before its first use), so submitting
 * never allocates.  The op's address is the SQE's user_data.  An op's final
 * callback runs exactly once per submission, on the loop's thread, and only
 * then is the op free again: callbacks re-arm themselves if they want more.
 * Submitting an op that is still in flight fails with -EALREADY.
 *
 * One-shot ops call op->cb(loop, res, arg) with the CQE's result: bytes
 * transferred, poll revents, 0, or a negative errno: -ETIME for an expired
 * timer or linked timeout, -ECANCELED for loop_cancel().  Multishot ops call
 * a loop_multi_cb once per completion, with ev->more set while they stay
 * armed; the call without it is the final one.
 *
 * Buffers, msghdrs and addresses handed to an op belong to the kernel until
 * its final callback (or loop_drain()).  Reads, writes and the socket ops
 * wait for readiness inside the kernel, on fds opened O_NONBLOCK too.  A
 * library that does its own I/O (libcurl, libmosquitto) gets poll ops. */
#ifndef POWERD_LOOP_H
#define POWERD_LOOP_H

#include <linux/time_types.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct loop;
struct loop_bufs;
typedef void (*loop_cb)(struct loop *l, int res, void *arg);

/* One completion of a multishot op. */
struct loop_event {
	int res;	    /* poll revents, payload bytes, or a negative errno */
	bool more;	    /* the op stays armed; false on its final call */
	struct msghdr *msg; /* loop_recvmsg_multi(): this datagram; else NULL */
};
typedef void (*loop_multi_cb)(struct loop *l, const struct loop_event *ev, void *arg);

struct loop_op {
	loop_cb cb;
	loop_multi_cb multi;
	void *arg;
	struct __kernel_timespec ts; /* the timer's or the linked timeout's */
	/* The loop's bookkeeping. */
	struct loop_bufs *bufs;
	struct msghdr *tmpl;
	int res;      /* the op's result while its timeout's CQE is due */
	uint8_t cqes; /* CQEs still due; 0: free */
	uint8_t flags;
};

int loop_init(struct loop **out, unsigned entries);
void loop_free(struct loop *l);

/* Read up to len bytes at offset (-1: the file position, for pipes, sockets
 * and character devices such as GPIO line-event fds). */
int loop_read(struct loop *l, struct loop_op *op, int fd, void *buf, size_t len, int64_t off,
	      loop_cb cb, void *arg);

/* Write up to len bytes at offset (-1: the file position).  A result short of
 * len is not an error: the caller writes the rest. */
int loop_write(struct loop *l, struct loop_op *op, int fd, const void *buf, size_t len, int64_t off,
	       loop_cb cb, void *arg);

/* send(2) on a socket, always with MSG_NOSIGNAL: a closed peer is -EPIPE.
 * A stream socket may take less than len. */
int loop_send(struct loop *l, struct loop_op *op, int fd, const void *buf, size_t len, int flags,
	      loop_cb cb, void *arg);

/* loop_send() at an absolute CLOCK_MONOTONIC time: a timer linked to the
 * send in the kernel, so the frame leaves when the timer fires, not when
 * this thread next runs (replaying recorded gaps).  One callback, with the
 * send's result (-ECANCELED if the loop is drained first).  Linux 5.16. */
int loop_send_at(struct loop *l, struct loop_op *op, int fd, const void *buf, size_t len, int flags,
		 int64_t mono_ns, loop_cb cb, void *arg);

/* recvmsg(2) into the caller's msghdr, iovecs and control buffer, which the
 * kernel updates as recvmsg() would (msg_namelen, msg_controllen,
 * msg_flags: walk the ancillary data with CMSG_FIRSTHDR()). */
int loop_recvmsg(struct loop *l, struct loop_op *op, int fd, struct msghdr *msg, int flags,
		 loop_cb cb, void *arg);

/* connect(2); res 0 once connected (the socket may be blocking or not). */
int loop_connect(struct loop *l, struct loop_op *op, int fd, const struct sockaddr *addr,
		 socklen_t addrlen, loop_cb cb, void *arg);

/* Wait until fd is ready for events (POLLIN, POLLOUT, ...); res is the ready
 * mask.  Readiness is checked when the poll is armed, so re-arming it from
 * its callback behaves like level-triggered poll(2). */
int loop_poll(struct loop *l, struct loop_op *op, int fd, unsigned events, loop_cb cb, void *arg);

/* Multishot poll: one call per wake-up of fd while the op stays armed, like
 * epoll's edge-triggered mode (consume until EAGAIN).  The kernel may end it
 * (ev->more false, e.g. when the completion queue overflowed): re-arm then. */
int loop_poll_multi(struct loop *l, struct loop_op *op, int fd, unsigned events, loop_multi_cb cb,
		    void *arg);

/* Change the events an armed poll op waits for, keeping it armed.  If the
 * poll has fired already, its callback reports the old events' result and
 * the update does nothing: set the new events when re-arming there. */
int loop_poll_update(struct loop *l, struct loop_op *op, unsigned events);

/* Fire once at an absolute CLOCK_MONOTONIC time. */
int loop_timer_at(struct loop *l, struct loop_op *op, int64_t mono_ns, loop_cb cb, void *arg);

/* Bound the op submitted just before (no other loop call in between; not a
 * timer, not multishot): if it has not completed timeout_ns after it was
 * submitted, it is cancelled and its callback gets -ETIME.  The callback
 * runs once both CQEs (the op's, the timeout's) are in, so the op is not
 * reused while the kernel still refers to it. */
int loop_link_timeout(struct loop *l, struct loop_op *op, int64_t timeout_ns);

/* Cancel one op in flight.  Its callback still runs, with -ECANCELED, or with
 * its own result if it completed first.  -ENOENT if it is not in flight. */
int loop_cancel(struct loop *l, struct loop_op *op);

/* Whether op is in flight (its final callback has not run yet). */
bool loop_op_busy(const struct loop_op *op);

/* A ring of count (a power of two, at most 32768) buffers of size bytes that
 * the kernel fills on its own, for multishot receives.  Free it only when no
 * op uses it (-EBUSY otherwise); loop_free() frees those still there, so
 * an owner that outlives the loop just forgets it. */
int loop_bufs_new(struct loop *l, struct loop_bufs **out, unsigned count, size_t size);
int loop_bufs_free(struct loop *l, struct loop_bufs *b);

/* Multishot recvmsg: one call per datagram, each in a buffer of b, until the
 * final call.  tmpl gives the room reserved in every buffer for the source
 * address (msg_namelen, a multiple of 8 so that the ancillary data behind it
 * is aligned) and the ancillary data (msg_controllen); its pointers are not
 * used.  ev->msg describes the datagram (name, control and msg_controllen as
 * recvmsg() fills them, one iovec holding ev->res payload bytes, MSG_TRUNC /
 * MSG_CTRUNC in msg_flags) and is valid during the callback only: the buffer
 * goes back to the ring after it.  A ring with no free buffer ends the op
 * with -ENOBUFS (the datagrams wait in the socket): re-arm. */
/* The buffer size loop_recvmsg_multi() needs for datagrams of up to
 * payload bytes with tmpl's name and control room. */
size_t loop_recvmsg_bufsize(const struct msghdr *tmpl, size_t payload);
int loop_recvmsg_multi(struct loop *l, struct loop_op *op, int fd, struct msghdr *tmpl,
		       struct loop_bufs *b, int flags, loop_multi_cb cb, void *arg);

/* Submit queued SQEs and dispatch completions until loop_stop().  Returns 0
 * or a negative errno if the ring itself fails. */
int loop_run(struct loop *l);
void loop_stop(struct loop *l);

/* After loop_run() returned: cancel every op in flight and wait (at most
 * timeout_ns) until the kernel has let go of all of them, without running
 * their callbacks.  Then the buffers they used may be freed. */
int loop_drain(struct loop *l, int64_t timeout_ns);

int64_t loop_now(void); /* CLOCK_MONOTONIC in ns */

#endif

/* A TCP client connection on the I/O thread's loop, for the sources that
 * talk to a device over the network (Modbus TCP, the EG4 dongle): the host
 * name resolved off the thread (resolve.h), every address tried in turn,
 * a connect bounded by a timeout, TCP_NODELAY and optional keepalive, and
 * reconnection after a failure with a jittered exponential backoff, so a
 * dead device is retried without a storm and never blocks another.
 *
 * The owner reads and writes the fd itself, through the loop, between
 * up() and its own tcpconn_drop() or tcpconn_close(), which close it.
 * Every callback runs on the loop's thread. */
#ifndef POWERD_TCPCONN_H
#define POWERD_TCPCONN_H

#include <stdint.h>

struct powerd;
struct tcpconn;

struct tcpconn_params {
	const char *host, *port; /* copied */
	int64_t connect_timeout_ns;
	int64_t backoff_min_ns, backoff_max_ns;
	int64_t keepalive_idle_ns; /* 0: no keepalive */
};

/* Connected: fd is the owner's to use until it drops or closes. */
typedef void (*tcpconn_up_cb)(void *arg, int fd);
/* An attempt failed (resolve, connect, timeout), why says which and how;
 * the next one follows after the backoff without being asked. */
typedef void (*tcpconn_fail_cb)(void *arg, int err, const char *why);

/* At a source's open (the loop exists, its thread has not started): also
 * starts the daemon's resolver (pd->resolver) on first use. */
int tcpconn_new(struct powerd *pd, const struct tcpconn_params *p, tcpconn_up_cb up,
		tcpconn_fail_cb fail, void *arg, struct tcpconn **out);

/* Connect now, or when the backoff running ends.  Nothing if connected or
 * connecting already. */
void tcpconn_connect(struct tcpconn *c);

/* The owner saw the connection fail (EOF, an error, a peer that stopped
 * answering): close the fd and reconnect after the backoff.  No op of the
 * owner's may still be in flight on the fd. */
void tcpconn_drop(struct tcpconn *c, int err);

/* Close without reconnecting (to free a device for other masters); a
 * later tcpconn_connect() connects again at once. */
void tcpconn_close(struct tcpconn *c);

/* A good exchange: the next failure backs off from the minimum again. */
void tcpconn_ok(struct tcpconn *c);

/* When the next attempt is due (CLOCK_MONOTONIC ns), 0 if none is. */
int64_t tcpconn_retry_at(const struct tcpconn *c);

/* At the source's stop, after loop_drain(). */
void tcpconn_free(struct tcpconn *c);

#endif

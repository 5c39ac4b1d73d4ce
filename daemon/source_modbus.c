/* The Modbus source ([modbus.NAME]): a device polled by its register map
 * (regmap.h) over Modbus/TCP or RTU on a serial line, on the I/O thread's
 * io_uring loop; the wire is modbus.h's.
 *
 * A bus is what requests are serialised on: one serial port (every section
 * with that rtu:// path: one fd, one queue, each section its own unit and
 * map), or one TCP connection (one per section, through tcpconn).  A bus
 * has one exchange in flight at a time: a request written, its reply read
 * with a timeout linked to the read.  Different buses never wait for each
 * other.
 *
 * Each section polls on its own timer, on a fixed grid of `interval`: the
 * poll is queued on its bus, sends the map's planned reads one after the
 * other and makes one sample per measurement from what came back.  A poll
 * still queued or running when the next is due is not queued again: the
 * new one is skipped and counted (overrun).  A request that gets no reply,
 * a bad one (CRC, short, another unit's or function's, a stray MBAP
 * header) is re-sent `retries` times, then the poll is given up and the
 * state says why; an exception is the device's answer, counted by code,
 * and the poll goes on with the next read.  On TCP a timeout or a reply
 * that does not match drops the connection (a late reply would otherwise be
 * taken for the next request's); tcpconn reconnects with its backoff, and
 * a retry waits for that.  With pipeline = yes a TCP poll sends all its
 * reads at once, each with its own transaction id, and takes the replies
 * in any order (for gateways and devices that queue requests).
 *
 * RTU timing (Serial Line v1.02 2.5.1.1): a reply ends when its length
 * (modbus_rtu_reply_len) is in, or at a silence of 3.5 characters, never
 * less than MSRC_SILENCE_MIN: a USB adapter's latency timer delivers a
 * frame in chunks up to 16 ms apart, which at 19200 baud would cut every
 * reply.  The next request on the line leaves 3.5 characters (and `pause`)
 * after the last byte received, and the input is flushed before it, so a
 * stray byte is never taken for the start of a reply.
 *
 * Writes (powerctl modbus write) are handed over by the HTTP thread, queued
 * on the bus ahead of the next poll and answered with what the device
 * said; a value sharing its register with others (bit, u8, i8) is read
 * first and written back with only its bits changed.  All Modbus sources
 * share one ring into the uploader ("modbus"); a full ring drops and
 * counts. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "clock.h"
#include "log.h"
#include "loop.h"
#include "modbus.h"
#include "powerd.h"
#include "regmap.h"
#include "sample.h"
#include "serial.h"
#include "source.h"
#include "source_modbus.h"
#include "status.h"
#include "tcpconn.h"
#include "uploader.h"

#define MSRC_RING	 (1u << 20) /* bytes: the ring all Modbus sources share */
#define MSRC_SILENCE_MIN (20 * 1000000LL)
#define MSRC_BACKOFF_MIN (100 * 1000000LL)
#define MSRC_BACKOFF_MAX (30 * 1000000000LL)
#define MSRC_LOG_NS	 (60 * 1000000000LL)
#define MSRC_RX_MAX	 512
#define MSRC_WRITE_WAIT	 (60 * 1000000000LL) /* the longest a caller waits */

struct msrc;

/* What the [modbus.NAME] sources share: the ring, and the serial lines. */
struct msrc_group {
	struct uploader_producer *prod;
	bool prod_tried;
	unsigned users;
	struct mbus *buses; /* rtu ones, by path */
};

enum mbus_job { MBUS_IDLE, MBUS_POLL, MBUS_WRITE_READ, MBUS_WRITE };

struct mbus {
	struct mbus *next;
	struct powerd *pd;
	bool rtu;
	char path[PATH_MAX]; /* rtu: the port */
	char where[160];     /* for messages: the path, or HOST:PORT */
	struct msrc **devs;  /* the sections on it */
	size_t ndevs;
	int fd;
	/* rtu */
	struct serial_params sp;
	bool rs485;
	uint64_t char_ns, t35_ns;
	/* tcp */
	struct tcpconn *conn;
	bool up;
	struct modbus_mbap_stream mbap;
	uint16_t tid;
	uint64_t rng; /* for tid, uploader_jitter()'s */
	/* The queue of polls, and the exchange in flight. */
	struct msrc *qfirst, *qlast;
	struct msrc *cur;
	enum mbus_job job;
	struct modbus_req req;
	uint8_t unit;
	unsigned tries;
	uint8_t tx[MODBUS_TCP_ADU_MAX];
	const uint8_t *txp; /* what is being sent: tx, or a pipelined poll's batch */
	size_t tx_len, tx_off;
	uint8_t rx[MSRC_RX_MAX];
	size_t rx_len;
	int64_t deadline; /* tcp: of the reply */
	int64_t quiet_at; /* no request before this (monotonic) */
	uint16_t wregs[2];
	struct loop_op op_tx, op_rx, op_gap;
};

struct msrc {
	struct source *s;
	struct powerd *pd;
	const struct cfg_modbus *c;
	struct msrc_group *g;
	struct mbus *bus;
	struct modbus_url url;
	char map_path[PATH_MAX];
	struct regmap map;
	struct regmap_request *plan;
	size_t nplan, ndone;
	uint16_t *regs; /* MODBUS_READ_MAX per planned read */
	struct regmap_block *blocks;
	bool *got; /* per planned read, this poll */
	/* pipeline = yes: every read of a poll sent at once, each with its
	 * transaction id, answered in any order. */
	bool pipelined;
	uint16_t *ptid;
	bool *pdone; /* answered (or refused with an exception) */
	size_t pleft;
	uint8_t *ptx;
	struct msrc *qnext;
	bool queued, polling, ok_shown;
	bool poll_excepted; /* an exception in this poll: shown, not ok */
	bool failing;	    /* logged as failing: said once, until it answers */
	int64_t next_poll, poll_unix_ns;
	struct loop_op tick;
	unsigned r_timeout, r_exception, r_bad_crc, r_short, r_unexpected, r_bad_header, r_connect,
		r_overrun, r_dropped, r_write_refused, r_io;
	struct log_rate drop_log;

	/* A write handed over by the HTTP thread under wr_lock; the I/O
	 * thread does it and says how it went. */
	pthread_mutex_t wr_lock;
	pthread_cond_t wr_cv; /* CLOCK_MONOTONIC */
	bool wr_sync;
	int wr_efd;
	uint64_t wr_efd_buf;
	struct loop_op wr_wake;
	bool wr_busy, wr_taken, wr_cancelled;
	uint64_t wr_seq, wr_done_seq;
	const struct regmap_value *wr_v;
	double wr_x;
	int wr_err;
	char wr_msg[256];
	bool wr_queued;			 /* I/O thread: waiting for the bus */
	const struct regmap_value *io_v; /* I/O thread: the write it does */
	double io_x;

	/* Counters for the status (any thread). */
	_Atomic uint64_t polls, requests, replies, written;
	_Atomic uint64_t exceptions[STATUS_MODBUS_EX];
	_Atomic bool connected;
};

static void mbus_kick(struct mbus *b);
static void mbus_send_when_quiet(struct mbus *b);

static uint8_t msrc_unit(const struct msrc *h, uint8_t map_unit)
{
	return h->c->unit.set ? h->c->unit.id : map_unit;
}

static int64_t msrc_max64(int64_t a, int64_t b)
{
	return a > b ? a : b;
}

/* Planned read i as a request, and the unit it goes to. */
static void msrc_plan_req(const struct msrc *h, size_t i, struct modbus_req *req, uint8_t *unit)
{
	const struct regmap_request *p = &h->plan[i];

	*req = (struct modbus_req){
		.fn = p->table == REGMAP_INPUT ? MODBUS_FC_READ_INPUT : MODBUS_FC_READ_HOLDING,
		.addr = p->start,
		.count = p->count,
	};
	*unit = msrc_unit(h, p->unit_id);
}

/* ------------------------------------------------------------ samples */

static void msrc_publish(struct msrc *h)
{
	struct sample_tag tag = {"source", h->s->name};
	struct sample smp;
	size_t i, nb = 0;
	uint64_t n;

	for (i = 0; i < h->nplan; i++) {
		if (!h->got[i])
			continue;
		h->blocks[nb] = (struct regmap_block){
			.unit_id = h->plan[i].unit_id,
			.table = h->plan[i].table,
			.start = h->plan[i].start,
			.count = h->plan[i].count,
			.regs = h->regs + i * MODBUS_READ_MAX,
		};
		nb++;
	}
	if (!nb)
		return;
	for (i = 0; i < h->map.nmeas; i++) {
		int r = regmap_sample(&h->map, i, &tag, 1, h->blocks, nb, h->poll_unix_ns, &smp);

		if (r) {
			sample_free(&smp);
			continue; /* no value of it read this time */
		}
		if (!h->g->prod) {
			source_sample(h->s, h->poll_unix_ns, sample_data(&smp),
				      sample_len(&smp)); /* no sinks: counted all the same */
		} else if (uploader_publish(h->g->prod, &smp) == 0) {
			source_sample(h->s, h->poll_unix_ns, sample_data(&smp), sample_len(&smp));
		} else {
			uploader_note_drop(h->g->prod);
			source_error(h->s, h->r_dropped);
			if (log_rate_event(&h->drop_log, loop_now(), MSRC_LOG_NS, &n))
				log_warn("modbus %s: the ring into the uploader is full: %llu "
					 "samples dropped",
					 h->s->name, (unsigned long long)n);
		}
		sample_free(&smp);
	}
}

/* ------------------------------------------------------------ writes */

/* I/O thread: the write is over; the caller is told. */
static void msrc_write_done(struct msrc *h, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void msrc_write_done(struct msrc *h, int err, const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&h->wr_lock);
	h->wr_err = err;
	va_start(ap, fmt);
	vsnprintf(h->wr_msg, sizeof(h->wr_msg), fmt, ap);
	va_end(ap);
	h->wr_busy = h->wr_taken = false;
	h->wr_done_seq = h->wr_seq;
	pthread_cond_broadcast(&h->wr_cv);
	pthread_mutex_unlock(&h->wr_lock);
}

static bool msrc_write_cancelled(struct msrc *h)
{
	bool c;

	pthread_mutex_lock(&h->wr_lock);
	c = h->wr_cancelled;
	pthread_mutex_unlock(&h->wr_lock);
	return c;
}

static void msrc_wr_wake_cb(struct loop *l, int res, void *arg)
{
	struct msrc *h = arg;
	bool go;

	if (res < 0 || atomic_load(&h->pd->stopping))
		return;
	loop_read(l, &h->wr_wake, h->wr_efd, &h->wr_efd_buf, sizeof(h->wr_efd_buf), -1,
		  msrc_wr_wake_cb, h);
	pthread_mutex_lock(&h->wr_lock);
	go = h->wr_busy && !h->wr_taken;
	h->wr_taken = h->wr_taken || go;
	if (go) {
		h->io_v = h->wr_v;
		h->io_x = h->wr_x;
	}
	pthread_mutex_unlock(&h->wr_lock);
	if (!go)
		return;
	h->wr_queued = true;
	mbus_kick(h->bus);
}

/* ------------------------------------------------------------ the bus */

static void mbus_close_tcp(struct mbus *b, bool drop, int err)
{
	b->up = false;
	if (b->cur)
		atomic_store(&b->cur->connected, false);
	else if (b->ndevs)
		atomic_store(&b->devs[0]->connected, false);
	if (drop)
		tcpconn_drop(b->conn, err);
	else
		tcpconn_close(b->conn);
	b->fd = -1;
}

/* The job is over (ok: its requests were answered, a poll's samples go
 * out); the bus takes the next. */
static void mbus_job_end(struct mbus *b, bool ok)
{
	struct msrc *h = b->cur;
	enum mbus_job job = b->job;

	b->cur = NULL;
	b->job = MBUS_IDLE;
	if (job == MBUS_POLL) {
		h->polling = false;
		if (ok)
			msrc_publish(h);
		if (ok && !h->poll_excepted) {
			if (h->failing) {
				h->failing = false;
				log_info("modbus %s: %s answers again", h->s->name, b->where);
			}
			if (!h->ok_shown) {
				h->ok_shown = true;
				source_set_state(h->s, SOURCE_OK, "polling %s every %.3g s",
						 b->where, (double)h->c->interval_ns / 1e9);
			}
		}
		if (!b->rtu && h->c->close_after_poll && b->up)
			mbus_close_tcp(b, false, 0);
	}
	mbus_kick(b);
}

/* Said once when a device starts failing, not per poll: the log stays
 * bounded however long it is down (the counters say how often). */
static void msrc_failing(struct msrc *h, const char *why)
{
	if (h->failing)
		return;
	h->failing = true;
	log_warn("modbus %s: %s (said once, until it answers again)", h->s->name, why);
}

/* A request of the job failed after its retries: a poll is given up, a
 * write answered. */
static void mbus_give_up(struct mbus *b, const char *why)
{
	struct msrc *h = b->cur;

	if (b->job == MBUS_POLL) {
		msrc_failing(h, why);
		h->ok_shown = false;
		source_set_state(h->s, SOURCE_ERROR, "%s", why);
		mbus_job_end(b, false);
		return;
	}
	msrc_write_done(h, -ETIMEDOUT, "modbus %s: %s (it may have been written)", h->s->name, why);
	log_warn("modbus %s: the write of %s failed: %s", h->s->name, h->io_v->name, why);
	mbus_job_end(b, false);
}

/* A bad or missing reply: counted; re-sent while retries are left. */
static void mbus_fail(struct mbus *b, unsigned reason, bool drop, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void mbus_fail(struct mbus *b, unsigned reason, bool drop, const char *fmt, ...)
{
	struct msrc *h = b->cur;
	char why[SOURCE_DETAIL_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	source_error(h->s, reason);
	if (!b->rtu && drop && b->up)
		mbus_close_tcp(b, true, -EPROTO);
	b->quiet_at = msrc_max64(b->quiet_at, loop_now() + h->c->pause_ns);
	/* Writes are not repeated: the first may have arrived. */
	if (b->job == MBUS_POLL && b->tries < h->c->retries) {
		b->tries++;
		if (b->rtu || b->up)
			mbus_send_when_quiet(b);
		/* else: tcpconn's up callback sends it again */
		return;
	}
	mbus_give_up(b, why);
}

static void mbus_request(struct mbus *b);

/* The reply to b->req is in: regs for a read. */
static void mbus_reply_ok(struct mbus *b, const uint16_t *regs)
{
	struct msrc *h = b->cur;
	int r;

	atomic_fetch_add(&h->replies, 1);
	if (!b->rtu)
		tcpconn_ok(b->conn);
	b->quiet_at = msrc_max64(b->quiet_at, loop_now() + h->c->pause_ns);
	switch (b->job) {
	case MBUS_POLL:
		memcpy(h->regs + h->ndone * MODBUS_READ_MAX, regs, b->req.count * sizeof(*regs));
		h->got[h->ndone] = true;
		h->ndone++;
		if (h->ndone < h->nplan) {
			mbus_request(b);
			return;
		}
		mbus_job_end(b, true);
		return;
	case MBUS_WRITE_READ:
		b->wregs[0] = regs[0];
		r = regmap_encode(&h->map, h->io_v, h->io_x, b->wregs);
		if (r) {
			msrc_write_done(h, -ERANGE, "modbus %s: %s = %g cannot be encoded: %s",
					h->s->name, h->io_v->name, h->io_x, strerror(-r));
			mbus_job_end(b, false);
			return;
		}
		b->job = MBUS_WRITE;
		mbus_request(b);
		return;
	case MBUS_WRITE:
		atomic_fetch_add(&h->written, 1);
		if (h->io_v->count == 1)
			msrc_write_done(h, 0, "modbus %s: wrote %s = %g (holding %u: 0x%04X)",
					h->s->name, h->io_v->name, h->io_x, h->io_v->address,
					b->wregs[0]);
		else
			msrc_write_done(h, 0,
					"modbus %s: wrote %s = %g (holding %u-%u: 0x%04X 0x%04X)",
					h->s->name, h->io_v->name, h->io_x, h->io_v->address,
					h->io_v->address + 1, b->wregs[0], b->wregs[1]);
		log_info("modbus %s: %s = %g written", h->s->name, h->io_v->name, h->io_x);
		mbus_job_end(b, true);
		return;
	case MBUS_IDLE:
		break;
	}
}

/* The device answered with an exception: counted by code, not retried. */
static void mbus_exception(struct mbus *b, uint8_t code)
{
	struct msrc *h = b->cur;
	char why[SOURCE_DETAIL_MAX];

	source_error(h->s, h->r_exception);
	atomic_fetch_add(&h->exceptions[code < STATUS_MODBUS_EX ? code : 0], 1);
	if (!b->rtu)
		tcpconn_ok(b->conn);
	snprintf(why, sizeof(why), "unit %u on %s: exception %u (%s) to function %u at %u", b->unit,
		 b->where, code, modbus_exception_name(code), b->req.fn, b->req.addr);
	b->quiet_at = msrc_max64(b->quiet_at, loop_now() + h->c->pause_ns);
	if (b->job == MBUS_POLL) {
		/* The other reads of the poll may well work (a register range
		 * this model lacks): go on, and show it. */
		h->ok_shown = false;
		h->poll_excepted = true;
		source_set_state(h->s, SOURCE_ERROR, "%s", why);
		h->ndone++;
		if (h->ndone < h->nplan)
			mbus_request(b);
		else
			mbus_job_end(b, true);
		return;
	}
	msrc_write_done(h, -EREMOTEIO, "modbus %s: the device refused: %s", h->s->name, why);
	log_warn("modbus %s: the write of %s refused: %s", h->s->name, h->io_v->name, why);
	mbus_job_end(b, false);
}

/* The result of a reply's decode, by kind (modbus.h's errors). */
static void mbus_decoded(struct mbus *b, int r, const uint16_t *regs, uint8_t code, bool short_rx)
{
	struct msrc *h = b->cur;

	if (r == 0) {
		mbus_reply_ok(b, regs);
		return;
	}
	if (r == -EREMOTEIO) {
		mbus_exception(b, code);
		return;
	}
	if (short_rx)
		mbus_fail(b, h->r_short, true, "unit %u on %s: a reply cut short", b->unit,
			  b->where);
	else if (r == -EILSEQ)
		mbus_fail(b, h->r_bad_crc, true, "unit %u on %s: a reply with a bad CRC", b->unit,
			  b->where);
	else if (r == -ENOMSG)
		mbus_fail(b, h->r_unexpected, true,
			  "unit %u on %s: a reply that does not answer the request", b->unit,
			  b->where);
	else
		mbus_fail(b, h->r_short, true, "unit %u on %s: a malformed reply (%s)", b->unit,
			  b->where, strerror(-r));
}

static void mbus_rtu_frame(struct mbus *b)
{
	uint16_t regs[MODBUS_READ_MAX];
	uint8_t code = 0;
	int need = modbus_rtu_reply_len(&b->req, b->rx, b->rx_len);
	size_t n = need > 0 && (size_t)need < b->rx_len ? (size_t)need : b->rx_len;
	int r = modbus_rtu_reply(&b->req, b->unit, b->rx, n, regs, MODBUS_READ_MAX, &code);

	b->quiet_at = msrc_max64(b->quiet_at, loop_now() + (int64_t)b->t35_ns);
	mbus_decoded(b, r, regs, code, r && r != -ENOMSG && need > 0 && b->rx_len < (size_t)need);
}

static void mbus_rx_cb(struct loop *l, int res, void *arg);

static int mbus_arm_rx(struct mbus *b, int64_t timeout_ns)
{
	int r = loop_read(b->pd->loop, &b->op_rx, b->fd, b->rx + b->rx_len,
			  sizeof(b->rx) - b->rx_len, -1, mbus_rx_cb, b);

	if (!r)
		r = loop_link_timeout(b->pd->loop, &b->op_rx, timeout_ns > 0 ? timeout_ns : 1);
	return r;
}

static void mbus_no_answer(struct mbus *b)
{
	struct msrc *h = b->cur;

	mbus_fail(b, h->r_timeout, true, "no answer from unit %u on %s (timeout %.3g s)", b->unit,
		  b->where, (double)h->c->timeout_ns / 1e9);
}

/* pipeline = yes: an ADU answers whichever outstanding read has its
 * transaction id.  Returns 0 to go on reading, 1 when the poll is over
 * (or failed: the caller stops). */
static int mbus_pipe_adu(struct mbus *b, const struct modbus_adu *adu)
{
	struct msrc *h = b->cur;
	struct modbus_req req = {0};
	uint8_t unit = 0, code = 0;
	size_t i;
	int r;

	for (i = 0; i < h->nplan; i++)
		if (!h->pdone[i] && h->ptid[i] == adu->tid)
			break;
	if (i < h->nplan)
		msrc_plan_req(h, i, &req, &unit);
	if (i == h->nplan || !modbus_mbap_answers(adu, adu->tid, unit, &req)) {
		mbus_fail(b, h->r_unexpected, true,
			  "%s: a reply that answers no request sent (transaction %u)", b->where,
			  adu->tid);
		return 1;
	}
	r = modbus_pdu_reply(&req, adu->pdu, adu->pdu_len, h->regs + i * MODBUS_READ_MAX,
			     MODBUS_READ_MAX, &code);
	if (r == -EREMOTEIO) {
		source_error(h->s, h->r_exception);
		atomic_fetch_add(&h->exceptions[code < STATUS_MODBUS_EX ? code : 0], 1);
		h->ok_shown = false;
		h->poll_excepted = true;
		source_set_state(h->s, SOURCE_ERROR,
				 "unit %u on %s: exception %u (%s) to function %u at %u", unit,
				 b->where, code, modbus_exception_name(code), req.fn, req.addr);
	} else if (r) {
		mbus_fail(b, r == -ENOMSG ? h->r_unexpected : h->r_short, true,
			  "unit %u on %s: a reply that does not answer the request", unit,
			  b->where);
		return 1;
	} else {
		atomic_fetch_add(&h->replies, 1);
		h->got[i] = true;
	}
	h->pdone[i] = true;
	if (--h->pleft)
		return 0;
	tcpconn_ok(b->conn);
	b->quiet_at = msrc_max64(b->quiet_at, loop_now() + h->c->pause_ns);
	mbus_job_end(b, true);
	return 1;
}

static void mbus_tcp_rx(struct mbus *b, size_t n)
{
	struct msrc *h = b->cur;
	struct modbus_adu adu;
	size_t at = 0, used;
	int r;

	while (at < n) {
		r = modbus_mbap_feed(&b->mbap, b->rx + at, n - at, &used, &adu);
		at += used;
		if (r < 0) {
			mbus_fail(b, h->r_bad_header, true, "%s: a bad MBAP header", b->where);
			return;
		}
		if (r == 1 && b->job == MBUS_POLL && h->pipelined) {
			if (mbus_pipe_adu(b, &adu))
				return;
			continue;
		}
		if (r == 1) {
			uint16_t regs[MODBUS_READ_MAX];
			uint8_t code = 0;

			if (!modbus_mbap_answers(&adu, b->tid, b->unit, &b->req) || at < n) {
				mbus_fail(b, h->r_unexpected, true,
					  "unit %u on %s: a reply that does not answer the "
					  "request (transaction %u)",
					  b->unit, b->where, adu.tid);
				return;
			}
			r = modbus_pdu_reply(&b->req, adu.pdu, adu.pdu_len, regs, MODBUS_READ_MAX,
					     &code);
			mbus_decoded(b, r, regs, code, false);
			return;
		}
	}
	b->rx_len = 0;
	r = mbus_arm_rx(b, b->deadline - loop_now());
	if (r)
		mbus_fail(b, h->r_io, true, "%s: reading: %s", b->where, strerror(-r));
}

static void mbus_rx_cb(struct loop *l, int res, void *arg)
{
	struct mbus *b = arg;
	struct msrc *h = b->cur;
	int need, r;

	(void)l;
	if (!h || res == -ECANCELED)
		return;
	if (res == -ETIME) {
		if (b->rtu && b->rx_len) {
			mbus_rtu_frame(b); /* the silence ended it */
			return;
		}
		if (b->rtu)
			b->quiet_at = msrc_max64(b->quiet_at, loop_now() + (int64_t)b->t35_ns);
		mbus_no_answer(b);
		return;
	}
	if (res <= 0) {
		mbus_fail(b, b->rtu ? h->r_io : h->r_connect, true, "%s: %s", b->where,
			  res == 0 ? "the connection was closed by the device" : strerror(-res));
		return;
	}
	if (!b->rtu) {
		mbus_tcp_rx(b, (size_t)res);
		return;
	}
	b->rx_len += (size_t)res;
	need = modbus_rtu_reply_len(&b->req, b->rx, b->rx_len);
	if ((need > 0 && b->rx_len >= (size_t)need) || b->rx_len == sizeof(b->rx)) {
		mbus_rtu_frame(b);
		return;
	}
	r = mbus_arm_rx(b, msrc_max64((int64_t)b->t35_ns, MSRC_SILENCE_MIN));
	if (r)
		mbus_fail(b, h->r_io, false, "%s: reading: %s", b->where, strerror(-r));
}

static void mbus_tx_cb(struct loop *l, int res, void *arg)
{
	struct mbus *b = arg;
	struct msrc *h = b->cur;
	int64_t timeout;
	int r, reply;

	(void)l;
	if (!h || res == -ECANCELED)
		return;
	if (res < 0) {
		mbus_fail(b, b->rtu ? h->r_io : h->r_connect, true, "%s: sending: %s", b->where,
			  strerror(-res));
		return;
	}
	b->tx_off += (size_t)res;
	if (b->tx_off < b->tx_len) {
		r = b->rtu ? loop_write(b->pd->loop, &b->op_tx, b->fd, b->txp + b->tx_off,
					b->tx_len - b->tx_off, -1, mbus_tx_cb, b)
			   : loop_send(b->pd->loop, &b->op_tx, b->fd, b->txp + b->tx_off,
				       b->tx_len - b->tx_off, 0, mbus_tx_cb, b);
		if (r)
			mbus_fail(b, h->r_io, true, "%s: sending: %s", b->where, strerror(-r));
		return;
	}
	timeout = h->c->timeout_ns;
	if (b->rtu) {
		/* The request and its reply still have to cross the line. */
		reply = b->req.fn == MODBUS_FC_READ_HOLDING || b->req.fn == MODBUS_FC_READ_INPUT
				? 5 + 2 * b->req.count
				: 8;
		timeout += (int64_t)((b->tx_len + (size_t)reply) * b->char_ns);
	}
	b->deadline = loop_now() + timeout;
	r = mbus_arm_rx(b, timeout);
	if (r)
		mbus_fail(b, h->r_io, true, "%s: reading: %s", b->where, strerror(-r));
}

/* pipeline = yes: the poll's reads not answered yet, in one send. */
static void mbus_send_batch(struct mbus *b)
{
	struct msrc *h = b->cur;
	uint8_t pdu[MODBUS_PDU_MAX];
	struct modbus_req req;
	size_t i, off = 0;
	uint8_t unit;
	int n, r;

	for (i = 0; i < h->nplan; i++) {
		if (h->pdone[i])
			continue;
		msrc_plan_req(h, i, &req, &unit);
		n = modbus_pdu_encode(&req, pdu, sizeof(pdu));
		if (n > 0)
			n = modbus_mbap_encode(++b->tid, unit, pdu, (size_t)n, h->ptx + off,
					       MODBUS_TCP_ADU_MAX);
		if (n < 0) {
			mbus_fail(b, h->r_io, false, "a request modbus.h refuses: %s",
				  strerror(-n));
			return;
		}
		h->ptid[i] = b->tid;
		off += (size_t)n;
		atomic_fetch_add(&h->requests, 1);
	}
	b->txp = h->ptx;
	b->tx_len = off;
	b->tx_off = 0;
	b->rx_len = 0;
	modbus_mbap_init(&b->mbap);
	r = loop_send(b->pd->loop, &b->op_tx, b->fd, b->txp, b->tx_len, 0, mbus_tx_cb, b);
	if (r)
		mbus_fail(b, h->r_io, true, "%s: sending: %s", b->where, strerror(-r));
}

static void mbus_send(struct mbus *b)
{
	struct msrc *h = b->cur;
	uint8_t pdu[MODBUS_PDU_MAX];
	int n, r;

	if (b->job != MBUS_POLL && msrc_write_cancelled(h)) {
		msrc_write_done(h, -ECANCELED, "modbus %s: given up by the caller", h->s->name);
		mbus_job_end(b, false);
		return;
	}
	if (b->job == MBUS_POLL && h->pipelined) {
		mbus_send_batch(b);
		return;
	}
	n = modbus_pdu_encode(&b->req, pdu, sizeof(pdu));
	if (n > 0)
		n = b->rtu ? modbus_rtu_encode(b->unit, pdu, (size_t)n, b->tx, sizeof(b->tx))
			   : modbus_mbap_encode(++b->tid, b->unit, pdu, (size_t)n, b->tx,
						sizeof(b->tx));
	if (n < 0) {
		/* The plan and regmap_encode keep requests within the spec. */
		mbus_fail(b, h->r_io, false, "a request modbus.h refuses: %s", strerror(-n));
		return;
	}
	b->tx_len = (size_t)n;
	b->tx_off = 0;
	b->txp = b->tx;
	b->rx_len = 0;
	atomic_fetch_add(&h->requests, 1);
	if (b->rtu) {
		/* Whatever came after the last frame is noise now. */
		tcflush(b->fd, TCIFLUSH);
		r = loop_write(b->pd->loop, &b->op_tx, b->fd, b->tx, b->tx_len, -1, mbus_tx_cb, b);
	} else {
		modbus_mbap_init(&b->mbap);
		r = loop_send(b->pd->loop, &b->op_tx, b->fd, b->tx, b->tx_len, 0, mbus_tx_cb, b);
	}
	if (r)
		mbus_fail(b, h->r_io, true, "%s: sending: %s", b->where, strerror(-r));
}

static void mbus_gap_cb(struct loop *l, int res, void *arg)
{
	struct mbus *b = arg;

	(void)l;
	(void)res;
	if (b->cur && !atomic_load(&b->pd->stopping))
		mbus_send(b);
}

static void mbus_send_when_quiet(struct mbus *b)
{
	int64_t now = loop_now();

	if (b->quiet_at > now &&
	    loop_timer_at(b->pd->loop, &b->op_gap, b->quiet_at, mbus_gap_cb, b) == 0)
		return;
	mbus_send(b);
}

/* The job's next request into b->req. */
static void mbus_request(struct mbus *b)
{
	struct msrc *h = b->cur;
	const struct regmap_value *v = h->io_v;

	b->tries = 0;
	if (b->job == MBUS_POLL) {
		msrc_plan_req(h, h->pipelined ? 0 : h->ndone, &b->req, &b->unit);
	} else if (b->job == MBUS_WRITE_READ) {
		b->req = (struct modbus_req){
			.fn = MODBUS_FC_READ_HOLDING, .addr = v->address, .count = 1};
		b->unit = msrc_unit(h, v->unit_id);
	} else if (v->count == 1) {
		b->req = (struct modbus_req){
			.fn = MODBUS_FC_WRITE_SINGLE, .addr = v->address, .value = b->wregs[0]};
		b->unit = msrc_unit(h, v->unit_id);
	} else {
		b->req = (struct modbus_req){.fn = MODBUS_FC_WRITE_MULTIPLE,
					     .addr = v->address,
					     .count = v->count,
					     .values = b->wregs};
		b->unit = msrc_unit(h, v->unit_id);
	}
	mbus_send_when_quiet(b);
}

/* Start the next job if the bus is free: writes first, then the polls in
 * the order they fell due. */
static void mbus_kick(struct mbus *b)
{
	struct msrc *h = NULL;
	size_t i;
	int r;

	if (b->cur || atomic_load(&b->pd->stopping))
		return;
	for (i = 0; i < b->ndevs && !h; i++)
		if (b->devs[i]->wr_queued)
			h = b->devs[i];
	if (!h && !b->qfirst)
		return;
	if (!b->rtu && !b->up) {
		/* Wait for the connection: tcpconn's up callback kicks again;
		 * a device that closes after each poll connects now. */
		if (b->ndevs && b->devs[0]->c->close_after_poll)
			tcpconn_connect(b->conn);
		return;
	}
	if (h) {
		h->wr_queued = false;
		b->cur = h;
		b->wregs[0] = b->wregs[1] = 0;
		b->job = h->io_v->type == REGMAP_BIT || h->io_v->type == REGMAP_U8 ||
					 h->io_v->type == REGMAP_I8
				 ? MBUS_WRITE_READ
				 : MBUS_WRITE;
		if (b->job == MBUS_WRITE) {
			r = regmap_encode(&h->map, h->io_v, h->io_x, b->wregs);
			if (r) {
				b->cur = NULL;
				b->job = MBUS_IDLE;
				msrc_write_done(h, -ERANGE, "modbus %s: %s = %g: %s", h->s->name,
						h->io_v->name, h->io_x, strerror(-r));
				mbus_kick(b);
				return;
			}
		}
		mbus_request(b);
		return;
	}
	h = b->qfirst;
	b->qfirst = h->qnext;
	if (!b->qfirst)
		b->qlast = NULL;
	h->qnext = NULL;
	h->queued = false;
	h->polling = true;
	h->poll_excepted = false;
	h->ndone = 0;
	memset(h->got, 0, h->nplan * sizeof(*h->got));
	if (h->pipelined) {
		memset(h->pdone, 0, h->nplan * sizeof(*h->pdone));
		h->pleft = h->nplan;
	}
	h->poll_unix_ns = clock_unix_ns();
	b->cur = h;
	b->job = MBUS_POLL;
	mbus_request(b);
}

/* Give up the jobs waiting on a connection that failed. */
static void mbus_fail_waiting(struct mbus *b, const char *why)
{
	struct msrc *h;
	size_t i;

	for (i = 0; i < b->ndevs; i++) {
		h = b->devs[i];
		if (h->wr_queued) {
			h->wr_queued = false;
			msrc_write_done(h, -ENOTCONN, "modbus %s: %s", h->s->name, why);
		}
	}
	while ((h = b->qfirst)) {
		b->qfirst = h->qnext;
		h->qnext = NULL;
		h->queued = false;
	}
	b->qlast = NULL;
}

static void mbus_up_cb(void *arg, int fd)
{
	struct mbus *b = arg;
	struct msrc *h = b->ndevs ? b->devs[0] : NULL;

	b->fd = fd;
	b->up = true;
	/* A new connection's transaction ids start anywhere: a reply meant
	 * for another connection (a gateway's, a device's reused socket) then
	 * matches one of ours one time in 65536 instead of every time. */
	b->tid = (uint16_t)(uploader_jitter(&b->rng) * 65536.0);
	if (h) {
		atomic_store(&h->connected, true);
		if (!h->ok_shown && !h->c->close_after_poll)
			source_set_state(h->s, SOURCE_CONNECTING, "connected to %s", b->where);
	}
	if (b->cur)
		mbus_send_when_quiet(b); /* a retry after a drop */
	else
		mbus_kick(b);
}

static void mbus_fail_cb(void *arg, int err, const char *why)
{
	struct mbus *b = arg;
	struct msrc *h = b->ndevs ? b->devs[0] : NULL;

	(void)err;
	b->up = false;
	b->fd = -1;
	if (!h)
		return;
	source_error(h->s, h->r_connect);
	atomic_store(&h->connected, false);
	h->ok_shown = false;
	msrc_failing(h, why);
	source_set_state(h->s, SOURCE_ERROR, "%s (retrying)", why);
	mbus_fail_waiting(b, why);
	if (b->cur) {
		/* A retry that waited for the connection. */
		if (b->job == MBUS_POLL)
			mbus_job_end(b, false);
		else
			mbus_give_up(b, why);
	}
}

/* ------------------------------------------------------------ polls */

static void msrc_tick_cb(struct loop *l, int res, void *arg)
{
	struct msrc *h = arg;
	struct mbus *b = h->bus;
	int64_t now = loop_now();

	(void)res;
	if (atomic_load(&h->pd->stopping))
		return;
	do
		h->next_poll += h->c->interval_ns;
	while (h->next_poll <= now);
	loop_timer_at(l, &h->tick, h->next_poll, msrc_tick_cb, h);
	if (h->queued || h->polling) {
		source_error(h->s, h->r_overrun);
		return;
	}
	if (!b->rtu && !b->up && !h->c->close_after_poll)
		return; /* reconnecting: the state says why */
	atomic_fetch_add(&h->polls, 1);
	h->queued = true;
	if (b->qlast)
		b->qlast->qnext = h;
	else
		b->qfirst = h;
	b->qlast = h;
	mbus_kick(b);
}

/* ------------------------------------------------------------ open, stop */

static struct msrc_group *msrc_group(struct powerd *pd)
{
	if (!pd->modbus_group)
		pd->modbus_group = calloc(1, sizeof(struct msrc_group));
	if (pd->modbus_group)
		pd->modbus_group->users++;
	return pd->modbus_group;
}

static int mbus_add_dev(struct mbus *b, struct msrc *h)
{
	struct msrc **d = realloc(b->devs, (b->ndevs + 1) * sizeof(*d));

	if (!d)
		return -ENOMEM;
	b->devs = d;
	b->devs[b->ndevs++] = h;
	h->bus = b;
	return 0;
}

static void mbus_free(struct mbus *b)
{
	if (b->conn)
		tcpconn_free(b->conn);
	else if (b->fd >= 0)
		close(b->fd);
	free(b->devs);
	free(b);
}

/* The serial line of an rtu:// section: shared with the sections on the
 * same path, which must agree on its settings. */
static int msrc_open_rtu(struct msrc *h)
{
	const struct cfg_modbus *c = h->c;
	struct serial_params p = {
		.baud = c->baud,
		.parity = "NEO"[c->parity],
		.data_bits = (uint8_t)c->data_bits,
		.stop_bits = (uint8_t)c->stop_bits,
	};
	bool rs485 = c->rs485 == CFG_MODBUS_RS485_KERNEL;
	struct mbus *b;
	char why[256];
	uint64_t t15;
	int r;

	for (b = h->g->buses; b; b = b->next) {
		if (strcmp(b->path, h->url.path))
			continue;
		if (memcmp(&b->sp, &p, sizeof(p)) || b->rs485 != rs485) {
			log_err("modbus %s: %s is opened by another section with other line "
				"settings (baud, parity, data_bits, stop_bits, rs485): one line, "
				"one setting",
				h->s->name, b->where);
			return -EINVAL;
		}
		return mbus_add_dev(b, h);
	}
	b = calloc(1, sizeof(*b));
	if (!b)
		return -ENOMEM;
	b->pd = h->pd;
	b->rtu = true;
	b->fd = -1;
	b->sp = p;
	b->rs485 = rs485;
	snprintf(b->path, sizeof(b->path), "%s", h->url.path);
	snprintf(b->where, sizeof(b->where), "%.159s", h->url.path);
	r = modbus_rtu_timing(p.baud, p.data_bits, p.parity, p.stop_bits, &t15, &b->t35_ns);
	if (!r) {
		/* One character on the line: start, data, parity, stop. */
		unsigned bits = 1u + p.data_bits + (p.parity != 'N') + p.stop_bits;

		b->char_ns = (uint64_t)bits * 1000000000ull / p.baud + 1;
		r = serial_open(b->path, &p, &b->fd, why, sizeof(why));
		if (r)
			log_err("modbus %s: %s", h->s->name, why);
	}
	if (!r && rs485) {
		r = serial_rs485(b->fd, true, c->rs485_delay_before, c->rs485_delay_after, why,
				 sizeof(why));
		if (r)
			log_err("modbus %s: rs485 = kernel: %s", h->s->name, why);
	}
	if (!r)
		r = mbus_add_dev(b, h);
	if (r) {
		mbus_free(b);
		return r;
	}
	b->next = h->g->buses;
	h->g->buses = b;
	return 0;
}

static int msrc_open(struct source *s)
{
	const struct cfg_modbus *c = s->conf;
	struct msrc *h = calloc(1, sizeof(*h));
	char why[300];
	size_t i;
	int r;

	if (!h)
		return -ENOMEM;
	h->s = s;
	h->pd = s->pd;
	h->c = c;
	h->wr_efd = -1;
	s->priv = h;
	h->r_timeout = source_reason(s, "timeout");
	h->r_exception = source_reason(s, "exception");
	h->r_bad_crc = source_reason(s, "bad_crc");
	h->r_short = source_reason(s, "short");
	h->r_unexpected = source_reason(s, "unexpected");
	h->r_bad_header = source_reason(s, "bad_header");
	h->r_connect = source_reason(s, "connect");
	h->r_overrun = source_reason(s, "overrun");
	h->r_dropped = source_reason(s, "dropped");
	h->r_write_refused = source_reason(s, "write_refused");
	h->r_io = source_reason(s, "io");
	if (modbus_url_parse(c->url, &h->url, why, sizeof(why))) {
		log_err("modbus %s: %s", s->name, why); /* checked at load already */
		return -EINVAL;
	}
	r = regmap_path(POWERD_DATADIR, c->map, h->map_path, sizeof(h->map_path));
	if (!r)
		r = regmap_load_file(h->map_path, &h->map, why, sizeof(why));
	if (r) {
		log_err("modbus %s: the map: %s", s->name, r == -EINVAL ? why : strerror(-r));
		return r;
	}
	h->plan = calloc(regmap_plan_max(&h->map), sizeof(*h->plan));
	if (!h->plan)
		return -ENOMEM;
	r = regmap_plan(&h->map, -1, -1, h->plan, regmap_plan_max(&h->map), &h->nplan);
	if (r) {
		log_err("modbus %s: planning the reads of %s: %s", s->name, h->map_path,
			strerror(-r));
		return r;
	}
	h->regs = calloc(h->nplan ? h->nplan : 1, MODBUS_READ_MAX * sizeof(*h->regs));
	h->blocks = calloc(h->nplan ? h->nplan : 1, sizeof(*h->blocks));
	h->got = calloc(h->nplan ? h->nplan : 1, sizeof(*h->got));
	h->g = msrc_group(h->pd);
	if (!h->regs || !h->blocks || !h->got || !h->g)
		return -ENOMEM;
	if (c->pipeline && h->url.transport == MODBUS_TCP && h->nplan > 1) {
		h->pipelined = true;
		h->ptid = calloc(h->nplan, sizeof(*h->ptid));
		h->pdone = calloc(h->nplan, sizeof(*h->pdone));
		h->ptx = calloc(h->nplan, MODBUS_TCP_ADU_MAX);
		if (!h->ptid || !h->pdone || !h->ptx)
			return -ENOMEM;
	}
	if (h->url.transport == MODBUS_RTU) {
		r = msrc_open_rtu(h);
		if (r)
			return r;
	} else {
		struct mbus *b = calloc(1, sizeof(*b));

		if (!b)
			return -ENOMEM;
		bool v6 = strchr(h->url.host, ':') != NULL;

		b->pd = h->pd;
		b->fd = -1;
		b->rng = (uint64_t)loop_now() ^ (uint64_t)(uintptr_t)b ^ 0x9E3779B97F4A7C15ULL;

		snprintf(b->where, sizeof(b->where), "%s%.140s%s:%s", v6 ? "[" : "", h->url.host,
			 v6 ? "]" : "", h->url.port);
		struct tcpconn_params p = {
			.host = h->url.host,
			.port = h->url.port,
			.connect_timeout_ns = c->connect_timeout_ns,
			.backoff_min_ns = MSRC_BACKOFF_MIN,
			.backoff_max_ns = MSRC_BACKOFF_MAX,
		};

		r = mbus_add_dev(b, h);
		if (!r)
			r = tcpconn_new(h->pd, &p, mbus_up_cb, mbus_fail_cb, b, &b->conn);
		if (r) {
			log_err("modbus %s: %s: %s", s->name, b->where, strerror(-r));
			h->bus = NULL;
			mbus_free(b);
			return r;
		}
	}
	if (c->allow_write) {
		pthread_condattr_t ca;

		h->wr_efd = eventfd(0, EFD_CLOEXEC);
		if (h->wr_efd < 0)
			return -errno;
		pthread_condattr_init(&ca);
		pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
		pthread_cond_init(&h->wr_cv, &ca);
		pthread_condattr_destroy(&ca);
		pthread_mutex_init(&h->wr_lock, NULL);
		h->wr_sync = true;
	}
	for (i = 0; i < h->nplan; i++)
		log_debug("modbus %s: read %u: unit %u %s %u+%u", s->name, (unsigned)i,
			  msrc_unit(h, h->plan[i].unit_id), regmap_table_name(h->plan[i].table),
			  h->plan[i].start, h->plan[i].count);
	source_set_state(s, SOURCE_CONNECTING, "opening %s", h->bus->where);
	return 0;
}

static void msrc_start(struct source *s)
{
	struct msrc *h = s->priv;
	struct mbus *b = h->bus;
	int r;

	if (!h->g->prod_tried) {
		h->g->prod_tried = true;
		r = uploader_producer(h->pd->uploader, "modbus", MSRC_RING, &h->g->prod);
		if (r)
			log_err("modbus: no ring into the uploader: %s; polls are counted, their "
				"samples dropped",
				strerror(-r));
	}
	if (h->wr_efd >= 0)
		loop_read(h->pd->loop, &h->wr_wake, h->wr_efd, &h->wr_efd_buf,
			  sizeof(h->wr_efd_buf), -1, msrc_wr_wake_cb, h);
	if (!b->rtu && !h->c->close_after_poll) {
		source_set_state(s, SOURCE_CONNECTING, "connecting to %s", b->where);
		tcpconn_connect(b->conn);
	} else if (b->rtu) {
		source_set_state(s, SOURCE_CONNECTING, "polling %s", b->where);
	}
	/* The first poll at once, then on the grid. */
	h->next_poll = loop_now() - h->c->interval_ns;
	loop_timer_at(h->pd->loop, &h->tick, loop_now(), msrc_tick_cb, h);
}

/* After loop_drain(): nothing of it is in flight. */
static void msrc_stop(struct source *s)
{
	struct msrc *h = s->priv;
	struct msrc_group *g;
	struct mbus **pb;

	if (!h)
		return;
	g = h->g;
	if (h->bus && h->bus->ndevs && --h->bus->ndevs == 0) {
		for (pb = &g->buses; *pb; pb = &(*pb)->next)
			if (*pb == h->bus) {
				*pb = h->bus->next;
				break;
			}
		mbus_free(h->bus);
	}
	if (h->wr_efd >= 0)
		close(h->wr_efd);
	if (h->wr_sync) {
		pthread_cond_destroy(&h->wr_cv);
		pthread_mutex_destroy(&h->wr_lock);
	}
	if (g && --g->users == 0) {
		free(g);
		h->pd->modbus_group = NULL;
	}
	regmap_free(&h->map);
	free(h->plan);
	free(h->regs);
	free(h->blocks);
	free(h->got);
	free(h->ptid);
	free(h->pdone);
	free(h->ptx);
	s->priv = NULL;
	free(h);
}

static void msrc_status(struct source *s, struct status_source *out)
{
	struct msrc *h = s->priv;
	struct status_modbus *o = &out->modbus;
	unsigned i;

	if (!h || !h->bus)
		return;
	o->present = true;
	o->rtu = h->bus->rtu;
	snprintf(o->device, sizeof(o->device), "%s", h->bus->where);
	o->unit = h->c->unit.set ? h->c->unit.id : -1;
	o->connected = h->bus->rtu || atomic_load(&h->connected);
	o->polls = atomic_load(&h->polls);
	o->requests = atomic_load(&h->requests);
	o->replies = atomic_load(&h->replies);
	o->written = atomic_load(&h->written);
	for (i = 0; i < STATUS_MODBUS_EX; i++)
		o->exceptions[i] = atomic_load(&h->exceptions[i]);
}

/* ------------------------------------------------------------ writes */

static int msrc_refuse(struct msrc *h, unsigned uid, struct buf *reply, int err, const char *fmt,
		       ...) __attribute__((format(printf, 5, 6)));
static int msrc_refuse(struct msrc *h, unsigned uid, struct buf *reply, int err, const char *fmt,
		       ...)
{
	char why[300];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	source_error(h->s, h->r_write_refused);
	log_warn("modbus %s: uid %u asked to write: refused (%s)", h->s->name, uid, why);
	buf_printf(reply, "modbus %s: %s\n", h->s->name, why);
	return err;
}

int source_modbus_write(struct source *s, const char *text, size_t len, unsigned uid,
			struct buf *reply)
{
	struct msrc *h = s->priv;
	const struct cfg_modbus *c = s->conf;
	const struct regmap_value *v;
	char line[256], *field, *value, *end, *save = NULL;
	uint16_t probe[2] = {0, 0};
	int64_t deadline, wait;
	uint64_t seq;
	double x;
	int r;

	if (!h)
		return -ENOENT;
	if (!c->allow_write)
		return msrc_refuse(h, uid, reply, -EPERM,
				   "writing is not allowed (allow_write = no in [modbus.%s])",
				   s->name);
	if (len >= sizeof(line))
		return msrc_refuse(h, uid, reply, -EINVAL, "the request is too long");
	memcpy(line, text, len);
	line[len] = '\0';
	field = strtok_r(line, " \t\r\n", &save);
	value = field ? strtok_r(NULL, " \t\r\n", &save) : NULL;
	if (!value || strtok_r(NULL, " \t\r\n", &save))
		return msrc_refuse(h, uid, reply, -EINVAL, "want FIELD VALUE");
	r = regmap_find(&h->map, field, &v);
	if (r)
		return msrc_refuse(h, uid, reply, -EINVAL, "%s: %s in %s", field,
				   r == -ENOTUNIQ ? "in several measurements: say MEAS.NAME"
						  : "no such value",
				   h->map_path);
	errno = 0;
	x = strtod(value, &end);
	if (errno || end == value || *end || !isfinite(x))
		return msrc_refuse(h, uid, reply, -EINVAL, "%s: '%s' is not a number", field,
				   value);
	/* The checks that need no register: writable, range, steps.  A value
	 * sharing its register is encoded again once the register is read. */
	r = regmap_encode(&h->map, v, x, probe);
	if (r == -EPERM)
		return msrc_refuse(h, uid, reply, -EPERM, "%s is not writable (the map %s)", field,
				   h->map_path);
	if (r == -ERANGE)
		return msrc_refuse(h, uid, reply, -EINVAL, "%s = %s is out of range%s", field,
				   value, v->has_min || v->has_max ? " (the map's min, max)" : "");
	if (r)
		return msrc_refuse(h, uid, reply, -EINVAL, "%s = %s: %s", field, value,
				   r == -EINVAL ? "not a whole number of its steps (scale)"
						: strerror(-r));
	pthread_mutex_lock(&h->wr_lock);
	if (h->wr_busy) {
		pthread_mutex_unlock(&h->wr_lock);
		return msrc_refuse(h, uid, reply, -EBUSY, "another write is under way");
	}
	h->wr_v = v;
	h->wr_x = x;
	h->wr_busy = true;
	h->wr_taken = h->wr_cancelled = false;
	seq = ++h->wr_seq;
	pthread_mutex_unlock(&h->wr_lock);
	log_info("modbus %s: uid %u writes %s = %g (unit %u, holding %u)", s->name, uid, v->name, x,
		 msrc_unit(h, v->unit_id), v->address);
	if (eventfd_write(h->wr_efd, 1)) {
		r = -errno;
		pthread_mutex_lock(&h->wr_lock);
		h->wr_busy = false;
		pthread_mutex_unlock(&h->wr_lock);
		return r;
	}
	/* Behind the poll under way, and the other sections' on the line. */
	wait = (int64_t)(h->nplan + 3) * c->timeout_ns * (c->retries + 1) * (int64_t)h->bus->ndevs +
	       c->connect_timeout_ns + 2000000000LL;
	if (wait > MSRC_WRITE_WAIT)
		wait = MSRC_WRITE_WAIT;
	deadline = loop_now() + wait;
	pthread_mutex_lock(&h->wr_lock);
	while (h->wr_done_seq < seq && loop_now() < deadline) {
		struct timespec ts = {.tv_sec = deadline / 1000000000LL,
				      .tv_nsec = deadline % 1000000000LL};

		pthread_cond_timedwait(&h->wr_cv, &h->wr_lock, &ts);
	}
	if (h->wr_done_seq < seq) {
		/* The I/O thread drops it if it has not sent it yet. */
		h->wr_cancelled = true;
		r = -ETIMEDOUT;
		buf_printf(reply, "modbus %s: no answer within %.1f s (it may still be written)\n",
			   s->name, (double)wait / 1e9);
	} else {
		r = h->wr_err;
		buf_printf(reply, "%s\n", h->wr_msg);
	}
	pthread_mutex_unlock(&h->wr_lock);
	if (r)
		log_warn("modbus %s: the write for uid %u failed: %s", s->name, uid, strerror(-r));
	return r;
}

const struct source_ops source_modbus_ops = {
	.kind = "modbus",
	.open = msrc_open,
	.start = msrc_start,
	.stop = msrc_stop,
	.status = msrc_status,
};

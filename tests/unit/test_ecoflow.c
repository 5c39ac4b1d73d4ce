/* EcoFlow record reassembly: the CRCs, the check vector, the whole LFP
 * battery capture by identity, and each way a frame sequence goes wrong
 * (counted under its reason, the next good record still decoded); the tap:
 * which record each frame went to and how each record ended, whatever the
 * order of the frames. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "crc.h"
#include "ecoflow.h"

#define FIX_3C	"tests/fixtures/can/single-message-3C.log"
#define FIX_LFP "tests/fixtures/can/ef_lfp_battery_pre-fw-update-modVer-1.1.1.141.log"

struct frame {
	uint32_t id;
	uint8_t len;
	uint8_t data[8];
	int64_t ts_ns;
};

#define GOT_MAX 64

/* What the callback saw: the first GOT_MAX records copied, all counted. */
struct got {
	size_t n;
	struct ecoflow_record r[GOT_MAX];
	uint8_t payload[GOT_MAX][ECOFLOW_RECORD_MAX];
	uint8_t raw[GOT_MAX][ECOFLOW_RECORD_MAX];
	/* Per identity, for the capture. */
	struct ident {
		char chan;
		uint8_t src, dst, cmd_set, cmd_id;
		uint16_t len;
		unsigned count;
	} id[64];
	size_t nid;
	bool bad_consistency;
};

static void on_record(void *ctx, const struct ecoflow_record *r)
{
	struct got *g = ctx;
	size_t i;

	if (r->err == ECOFLOW_OK && (r->len != r->hdr_len || !r->crc_ok))
		g->bad_consistency = true;
	if (g->n < GOT_MAX) {
		g->r[g->n] = *r;
		memcpy(g->payload[g->n], r->payload, r->len);
		memcpy(g->raw[g->n], r->raw, r->raw_len);
		g->r[g->n].payload = g->payload[g->n];
		g->r[g->n].raw = g->raw[g->n];
	}
	g->n++;
	if (r->err)
		return;
	for (i = 0; i < g->nid; i++)
		if (g->id[i].chan == r->chan && g->id[i].src == r->src && g->id[i].dst == r->dst &&
		    g->id[i].cmd_set == r->cmd_set && g->id[i].cmd_id == r->cmd_id &&
		    g->id[i].len == r->len)
			break;
	if (i == g->nid) {
		if (g->nid == sizeof(g->id) / sizeof(g->id[0]))
			return;
		g->id[g->nid++] =
			(struct ident){r->chan, r->src, r->dst, r->cmd_set, r->cmd_id, r->len, 0};
	}
	g->id[i].count++;
}

/* A minimal candump reader for the fixtures (not the library's parser). */
static size_t load_log(const char *path, struct frame *f, size_t max)
{
	FILE *fp = fopen(path, "r");
	char line[256], hex[64];
	long long sec, usec;
	unsigned id;
	size_t n = 0;

	if (!fp) {
		fprintf(stderr, "cannot open %s\n", path);
		return 0;
	}
	while (n < max && fgets(line, sizeof(line), fp)) {
		size_t k;

		if (sscanf(line, "(%lld.%lld) %*s %x#%63s", &sec, &usec, &id, hex) != 4)
			continue;
		f[n].id = id;
		f[n].ts_ns = sec * 1000000000LL + usec * 1000LL;
		f[n].len = (uint8_t)(strlen(hex) / 2);
		for (k = 0; k < f[n].len && k < 8; k++) {
			unsigned b;

			sscanf(hex + 2 * k, "%2x", &b);
			f[n].data[k] = (uint8_t)b;
		}
		n++;
	}
	fclose(fp);
	return n;
}

static struct ecoflow ef;
static struct got got;

static void reset(void)
{
	ecoflow_init(&ef);
	memset(&got, 0, sizeof(got));
}

static void feed(const struct frame *f)
{
	CHECK_EQ_INT(ecoflow_feed(&ef, f->id, true, f->len, f->data, f->ts_ns, on_record, &got), 0);
}

static void feed_all(const struct frame *f, size_t n)
{
	for (size_t i = 0; i < n; i++)
		feed(&f[i]);
}

static void test_crc(void)
{
	static const struct {
		uint8_t h[4], crc;
	} hdr[] = {
		{{0xAA, 0x03, 0x84, 0x00}, 0x3C}, {{0xAA, 0x03, 0x80, 0x00}, 0x68},
		{{0xAA, 0x03, 0x7E, 0x00}, 0xAA}, {{0xAA, 0x02, 0x17, 0x00}, 0x89},
		{{0xAA, 0x13, 0xBD, 0x01}, 0xDD},
	};

	for (size_t i = 0; i < sizeof(hdr) / sizeof(hdr[0]); i++)
		CHECK_EQ_INT(crc_8_smbus(0, hdr[i].h, 4), hdr[i].crc);
	/* The catalogue check values, and piecewise == whole. */
	CHECK_EQ_INT(crc_8_smbus(0, "123456789", 9), 0xF4);
	CHECK_EQ_INT(crc_16_arc(0, "123456789", 9), 0xBB3D);
	CHECK_EQ_INT(crc_16_arc(crc_16_arc(0, "1234", 4), "56789", 5), 0xBB3D);
	CHECK_EQ_INT(crc_8_smbus(crc_8_smbus(0, "12", 2), "3456789", 7), 0xF4);
}

static void test_check_vector(void)
{
	static const uint8_t head[] = {0xAA, 0x03, 0x84, 0x00, 0x3C, 0x2E, 0xAC, 0x04, 0x00,
				       0x00, 0x0B, 0x3C, 0x03, 0x14, 0x01, 0x01, 0x03, 0x2F};
	static const uint8_t pstart[] = {0x01, 0x84, 0x00, 0x4D, 0x31, 0x30};
	struct frame f[32];
	size_t n = load_log(FIX_3C, f, 32);
	const struct ecoflow_record *r = &got.r[0];

	CHECK_EQ_INT(n, 19);
	reset();
	feed_all(f, n);
	CHECK_EQ_INT(got.n, 1);
	CHECK_EQ_INT(ef.st.good, 1);
	CHECK_EQ_INT(r->err, ECOFLOW_OK);
	CHECK(r->crc_ok);
	CHECK_EQ_INT(r->chan, 'B');
	CHECK_EQ_INT(r->stream, 0x10003001);
	CHECK_EQ_INT(r->ts_ns, f[18].ts_ns);
	CHECK_EQ_INT(r->raw_len, 132 + 20);
	CHECK(memcmp(r->raw, head, sizeof(head)) == 0);
	CHECK_EQ_INT(r->version, 3);
	CHECK_EQ_INT(r->flags, 0x2E);
	CHECK(r->xored);
	CHECK_EQ_INT(r->seq, 0x04AC);
	CHECK_EQ_INT(r->src, 0x03);
	CHECK_EQ_INT(r->dst, 0x14);
	CHECK_EQ_INT(r->dsrc, 0x01);
	CHECK_EQ_INT(r->ddst, 0x01);
	CHECK_EQ_INT(r->cmd_set, 0x03);
	CHECK_EQ_INT(r->cmd_id, 0x2F);
	CHECK_EQ_INT(r->len, 132);
	CHECK_EQ_INT(r->hdr_len, 132);
	CHECK(memcmp(r->payload, pstart, sizeof(pstart)) == 0);
	CHECK(memcmp(r->payload + 3, "M102Z3B4ZE5H0601", 16) == 0);
	CHECK_EQ_INT(ef.st.orphan + ef.st.restarted + ef.st.bad_length + ef.st.bad_crc, 0);
}

static void test_capture(void)
{
	static const struct ident want[] = {
		{'A', 0x03, 0x08, 0x01, 0x50, 1, 71},	{'A', 0x03, 0x08, 0x03, 0x07, 26, 126},
		{'A', 0x03, 0x08, 0x03, 0x21, 1, 25},	{'A', 0x03, 0x08, 0x03, 0x22, 10, 25},
		{'B', 0x03, 0x00, 0x03, 0x03, 1, 21},	{'B', 0x03, 0x00, 0x03, 0x04, 1, 51},
		{'B', 0x03, 0x03, 0x03, 0x01, 120, 46}, {'B', 0x03, 0x03, 0x03, 0x02, 11, 32},
		{'B', 0x03, 0x03, 0x03, 0x13, 5, 102},	{'B', 0x03, 0x03, 0x03, 0x1A, 126, 18},
		{'B', 0x03, 0x03, 0x03, 0xC3, 1, 10},	{'B', 0x03, 0x03, 0x03, 0xC4, 1, 10},
		{'B', 0x03, 0x04, 0x03, 0x07, 26, 126}, {'B', 0x03, 0x05, 0x03, 0x07, 26, 126},
		{'B', 0x03, 0x08, 0x01, 0x50, 1, 69},	{'B', 0x03, 0x20, 0x20, 0x20, 6, 1},
		{'B', 0x03, 0x21, 0x03, 0x1A, 126, 69}, {'B', 0x03, 0x21, 0x03, 0x1C, 35, 51},
		{'B', 0x03, 0x35, 0x35, 0x10, 32, 9},	{'B', 0x03, 0x50, 0x03, 0x07, 26, 126},
		{'D', 0x00, 0x00, 0x00, 0x00, 8, 341},	{'E', 0x00, 0x00, 0x00, 0x00, 8, 20},
	};
	size_t nw = sizeof(want) / sizeof(want[0]), max = 10000, n, i, j;
	struct frame *f = calloc(max, sizeof(*f));

	if (!f)
		abort();
	n = load_log(FIX_LFP, f, max);
	CHECK_EQ_INT(n, 7833);
	reset();
	feed_all(f, n);
	ecoflow_flush(&ef, on_record, &got);
	CHECK_EQ_INT(ef.st.frames, 7833);
	CHECK_EQ_INT(ef.st.records, 247 + 867 + 341 + 20);
	CHECK_EQ_INT(ef.st.good, ef.st.records);
	/* The capture holds two first frames whose records never finished
	 * (the logger's or the bus's), and nothing else wrong. */
	CHECK_EQ_INT(ef.st.restarted, 2);
	CHECK_EQ_INT(ef.st.orphan, 0);
	CHECK_EQ_INT(ef.st.bad_header_crc + ef.st.bad_version + ef.st.bad_length + ef.st.bad_crc,
		     0);
	CHECK_EQ_INT(ef.st.too_long + ef.st.bad_frame + ef.st.unknown_channel + ef.st.evicted, 0);
	CHECK(!got.bad_consistency);
	CHECK_EQ_INT(got.nid, nw);
	for (i = 0; i < nw; i++) {
		for (j = 0; j < got.nid; j++)
			if (got.id[j].chan == want[i].chan && got.id[j].src == want[i].src &&
			    got.id[j].dst == want[i].dst && got.id[j].cmd_set == want[i].cmd_set &&
			    got.id[j].cmd_id == want[i].cmd_id && got.id[j].len == want[i].len)
				break;
		CHECK(j < got.nid);
		if (j < got.nid && got.id[j].count != want[i].count) {
			fprintf(stderr, "identity %c %02x:%02x %02x:%02x len %u: %u, expected %u\n",
				want[i].chan, want[i].src, want[i].dst, want[i].cmd_set,
				want[i].cmd_id, want[i].len, got.id[j].count, want[i].count);
			CHECK(0);
		}
	}
	free(f);
}

/* ------------------------------------------------ synthetic frame sequences */

/* A valid record: version 2 or 3, XORed with the seq's low byte. */
static size_t mk_record(uint8_t *out, uint8_t version, uint8_t src, uint8_t dst, uint8_t cmd_set,
			uint8_t cmd_id, uint8_t key, const uint8_t *payload, uint16_t plen)
{
	size_t hdr = version == 2 ? ECOFLOW_V2_HDR : ECOFLOW_V3_HDR, n = 0;
	uint16_t crc;

	out[n++] = 0xAA;
	out[n++] = version;
	out[n++] = (uint8_t)plen;
	out[n++] = (uint8_t)(plen >> 8);
	out[n] = crc_8_smbus(0, out, 4);
	n++;
	out[n++] = 0x2C;
	out[n++] = key;
	out[n++] = 0x12;
	out[n++] = 0;
	out[n++] = 0;
	out[n++] = 0x0B;
	out[n++] = 0x3C;
	out[n++] = src;
	out[n++] = dst;
	if (hdr == ECOFLOW_V3_HDR) {
		out[n++] = 1;
		out[n++] = 1;
	}
	out[n++] = cmd_set;
	out[n++] = cmd_id;
	for (size_t i = 0; i < plen; i++)
		out[n++] = payload[i] ^ key;
	crc = crc_16_arc(0, out, n);
	out[n++] = (uint8_t)crc;
	out[n++] = (uint8_t)(crc >> 8);
	return n;
}

/* A record as channel B (or C with base 0x120) frames of 8 bytes. */
static size_t mk_b(struct frame *f, uint32_t base, uint32_t node, const uint8_t *rec, size_t n)
{
	size_t k = 0, off;

	for (off = 0; off < n; off += 8, k++) {
		uint32_t part = off == 0 ? 0 : off + 8 >= n ? 2 : 1;

		f[k].id = (base + part) << 20 | node;
		f[k].len = (uint8_t)(n - off < 8 ? n - off : 8);
		memcpy(f[k].data, rec + off, f[k].len);
		f[k].ts_ns = (int64_t)k;
	}
	return k;
}

/* A record as channel A frames: a valid-length byte and up to 7 bytes. */
static size_t mk_a(struct frame *f, uint8_t src, uint8_t dst, const uint8_t *rec, size_t n)
{
	size_t count = (n + 6) / 7, k;

	for (k = 0; k < count; k++) {
		size_t off = k * 7, v = n - off < 7 ? n - off : 7;

		f[k].id =
			(uint32_t)(k + 1) << 22 | (uint32_t)count << 16 | (uint32_t)src << 8 | dst;
		memset(f[k].data, 0, 8);
		f[k].data[0] = (uint8_t)v;
		memcpy(f[k].data + 1, rec + off, v);
		f[k].len = 8; /* padded, as seen on the bus */
		f[k].ts_ns = (int64_t)k;
	}
	return k;
}

static uint8_t pay[300];
static uint8_t rec1[ECOFLOW_RECORD_MAX], rec2[ECOFLOW_RECORD_MAX], rec3[ECOFLOW_RECORD_MAX];
static size_t n1, n2, n3;

static void mk_records(void)
{
	for (size_t i = 0; i < sizeof(pay); i++)
		pay[i] = (uint8_t)(i * 7 + 1);
	n1 = mk_record(rec1, 3, 0x03, 0x14, 0x03, 0x2F, 0xAC, pay, 60);
	n2 = mk_record(rec2, 3, 0x14, 0x03, 0x20, 0x01, 0x33, pay + 5, 30);
	n3 = mk_record(rec3, 2, 0x03, 0x08, 0x03, 0x07, 0x5A, pay + 9, 26);
}

static void check_good(const struct ecoflow_record *r, char chan, uint8_t cmd_id, uint16_t len,
		       const uint8_t *p)
{
	CHECK_EQ_INT(r->err, ECOFLOW_OK);
	CHECK(r->crc_ok);
	CHECK_EQ_INT(r->chan, chan);
	CHECK_EQ_INT(r->cmd_id, cmd_id);
	CHECK_EQ_INT(r->len, len);
	CHECK(memcmp(r->payload, p, len) == 0);
}

static void test_interleaved(void)
{
	struct frame a[64], b[64], c[64], all[192];
	size_t na = mk_b(a, 0x100, 0x03001, rec1, n1), nb = mk_b(b, 0x100, 0x14001, rec2, n2);
	size_t nc = mk_a(c, 0x03, 0x08, rec3, n3), n = 0, i;

	/* Round robin over three streams, one frame each. */
	for (i = 0; i < na || i < nb || i < nc; i++) {
		if (i < na)
			all[n++] = a[i];
		if (i < nb)
			all[n++] = b[i];
		if (i < nc)
			all[n++] = c[i];
	}
	reset();
	feed_all(all, n);
	CHECK_EQ_INT(got.n, 3);
	CHECK_EQ_INT(ef.st.good, 3);
	/* Completion order: 7 frames each, B's fed first in each round. */
	check_good(&got.r[0], 'B', 0x01, 30, pay + 5);
	CHECK_EQ_INT(got.r[0].stream, 0x10014001);
	check_good(&got.r[1], 'A', 0x07, 26, pay + 9);
	CHECK_EQ_INT(got.r[1].version, 2);
	CHECK_EQ_INT(got.r[1].stream, 0x0308);
	check_good(&got.r[2], 'B', 0x2F, 60, pay);
	CHECK_EQ_INT(got.r[2].stream, 0x10003001);

	/* Channel C: the same as B under its own ids, its own stream. */
	reset();
	n = mk_b(a, 0x120, 0x03001, rec1, n1);
	feed_all(a, n);
	CHECK_EQ_INT(got.n, 1);
	check_good(&got.r[0], 'C', 0x2F, 60, pay);
}

static void test_duplicates(void)
{
	struct frame f[64], g[80];
	size_t n = mk_b(f, 0x100, 0x03001, rec1, n1), m, i;

	/* Duplicated middle frame: one frame too many. */
	m = 0;
	for (i = 0; i < n; i++) {
		g[m++] = f[i];
		if (i == 2)
			g[m++] = f[i];
	}
	reset();
	feed_all(g, m);
	feed_all(f, n);
	CHECK_EQ_INT(got.n, 2);
	CHECK_EQ_INT(got.r[0].err, ECOFLOW_BAD_LENGTH);
	CHECK(!got.r[0].crc_ok);
	CHECK_EQ_INT(got.r[0].raw_len, n1 + 8);
	CHECK_EQ_INT(ef.st.bad_length, 1);
	check_good(&got.r[1], 'B', 0x2F, 60, pay);

	/* Duplicated first frame: a restart, then the record is whole. */
	reset();
	feed(&f[0]);
	feed_all(f, n);
	CHECK_EQ_INT(ef.st.restarted, 1);
	CHECK_EQ_INT(got.n, 1);
	check_good(&got.r[0], 'B', 0x2F, 60, pay);

	/* Duplicated last frame: an orphan. */
	reset();
	feed_all(f, n);
	feed(&f[n - 1]);
	feed_all(f, n);
	CHECK_EQ_INT(ef.st.orphan, 1);
	CHECK_EQ_INT(ef.st.good, 2);
	CHECK_EQ_INT(got.n, 2);
}

static void test_missing_middle(void)
{
	struct frame f[64], a[64];
	size_t n = mk_b(f, 0x100, 0x03001, rec1, n1), na = mk_a(a, 0x03, 0x08, rec3, n3);

	reset();
	feed_all(f, 3);
	feed_all(f + 4, n - 4);
	feed_all(f, n);
	CHECK_EQ_INT(got.n, 2);
	CHECK_EQ_INT(got.r[0].err, ECOFLOW_BAD_LENGTH);
	CHECK_EQ_INT(got.r[0].raw_len, n1 - 8);
	CHECK_EQ_INT(got.r[0].cmd_id, 0x2F); /* the header is there to show */
	CHECK_EQ_INT(ef.st.bad_length, 1);
	check_good(&got.r[1], 'B', 0x2F, 60, pay);

	/* The same on channel A. */
	reset();
	feed_all(a, 2);
	feed_all(a + 3, na - 3);
	feed_all(a, na);
	CHECK_EQ_INT(got.n, 2);
	CHECK_EQ_INT(got.r[0].err, ECOFLOW_BAD_LENGTH);
	check_good(&got.r[1], 'A', 0x07, 26, pay + 9);
}

static void test_garbage(void)
{
	struct frame f[64], junk[4];
	size_t n = mk_b(f, 0x100, 0x03001, rec1, n1);

	memset(junk, 0, sizeof(junk));
	junk[0] = (struct frame){.id = 0x10103001, .len = 8, .data = {1, 2, 3, 4, 5, 6, 7, 8}};
	junk[1] = (struct frame){.id = 0x10003001, .len = 8, .data = {0x55, 2, 3}}; /* not AA */
	junk[2] = (struct frame){.id = 0x10203001, .len = 3, .data = {9, 9, 9}};
	junk[3] = (struct frame){.id = 0x1FF03001, .len = 2, .data = {1, 2}}; /* no channel */
	reset();
	feed_all(junk, 4);
	feed_all(f, n);
	feed_all(junk, 4);
	feed_all(f, n);
	CHECK_EQ_INT(ef.st.orphan, 6);
	CHECK_EQ_INT(ef.st.unknown_channel, 2);
	CHECK_EQ_INT(got.n, 2);
	check_good(&got.r[0], 'B', 0x2F, 60, pay);
	check_good(&got.r[1], 'B', 0x2F, 60, pay);

	/* A first frame that is not AA while a record is open: the record is
	 * restarted (dropped) and the frame is an orphan. */
	reset();
	feed_all(f, 3);
	feed(&junk[1]);
	feed_all(f + 3, n - 3);
	feed_all(f, n);
	CHECK_EQ_INT(ef.st.restarted, 1);
	CHECK_EQ_INT(ef.st.orphan, 1 + (n - 3));
	CHECK_EQ_INT(got.n, 1);
	check_good(&got.r[0], 'B', 0x2F, 60, pay);

	/* Standard (11-bit) and bad frames are not EcoFlow's. */
	reset();
	CHECK_EQ_INT(ecoflow_feed(&ef, 0x123, false, 2, f[0].data, 0, on_record, &got), 0);
	CHECK_EQ_INT(ecoflow_feed(&ef, 0x10003001, true, 9, f[0].data, 0, on_record, &got),
		     -EINVAL);
	CHECK_EQ_INT(
		ecoflow_feed(&ef, 0x00461403, true, 8, (const uint8_t[8]){8}, 0, on_record, &got),
		0); /* a valid length of 8 in an 8-byte frame */
	CHECK_EQ_INT(
		ecoflow_feed(&ef, 0x00C21403, true, 8, (const uint8_t[8]){1}, 0, on_record, &got),
		0); /* frame 3 of 2 */
	CHECK_EQ_INT(ef.st.bad_frame, 4);
	CHECK_EQ_INT(got.n, 0);
}

static void test_bad_records(void)
{
	struct frame f[64];
	uint8_t bad[ECOFLOW_RECORD_MAX];
	size_t n;

	/* A payload byte flipped: delivered, bad_crc. */
	memcpy(bad, rec1, n1);
	bad[30] ^= 1;
	n = mk_b(f, 0x100, 0x03001, bad, n1);
	reset();
	feed_all(f, n);
	CHECK_EQ_INT(got.n, 1);
	CHECK_EQ_INT(got.r[0].err, ECOFLOW_BAD_CRC);
	CHECK(!got.r[0].crc_ok);
	CHECK_EQ_INT(got.r[0].len, 60);
	CHECK_EQ_INT(ef.st.bad_crc, 1);

	/* The length byte changed: the header CRC catches it first. */
	memcpy(bad, rec1, n1);
	bad[2] ^= 4;
	n = mk_b(f, 0x100, 0x03001, bad, n1);
	reset();
	feed_all(f, n);
	CHECK_EQ_INT(got.r[0].err, ECOFLOW_BAD_HEADER_CRC);
	CHECK_EQ_INT(ef.st.bad_header_crc, 1);

	/* An unknown version with a right header CRC. */
	memcpy(bad, rec1, n1);
	bad[1] = 0x07;
	bad[4] = crc_8_smbus(0, bad, 4);
	n = mk_b(f, 0x100, 0x03001, bad, n1);
	reset();
	feed_all(f, n);
	CHECK_EQ_INT(got.r[0].err, ECOFLOW_BAD_VERSION);

	/* A record without end: too_long, the rest orphans, then a good one. */
	reset();
	n = mk_b(f, 0x100, 0x03001, rec1, n1);
	feed(&f[0]);
	for (size_t i = 0; i < ECOFLOW_RECORD_MAX / 8 + 3; i++)
		feed(&f[1]);
	feed_all(f, n);
	CHECK_EQ_INT(ef.st.too_long, 1);
	CHECK_EQ_INT(ef.st.orphan, 3);
	CHECK_EQ_INT(got.n, 1);
	check_good(&got.r[0], 'B', 0x2F, 60, pay);
}

static void test_truncated_end(void)
{
	struct frame f[64];
	size_t n = mk_b(f, 0x100, 0x03001, rec1, n1);

	reset();
	feed_all(f, n);
	feed_all(f, n - 2);
	CHECK_EQ_INT(got.n, 1);
	ecoflow_flush(&ef, on_record, &got);
	CHECK_EQ_INT(got.n, 2);
	check_good(&got.r[0], 'B', 0x2F, 60, pay);
	CHECK_EQ_INT(got.r[1].err, ECOFLOW_BAD_LENGTH);
	CHECK_EQ_INT(got.r[1].ts_ns, f[n - 3].ts_ns);
	CHECK_EQ_INT(ef.st.bad_length, 1);
	ecoflow_flush(&ef, on_record, &got); /* nothing left open */
	CHECK_EQ_INT(got.n, 2);
}

static void test_eviction(void)
{
	struct frame f[64];
	size_t n = mk_b(f, 0x100, 0x03001, rec1, n1);

	reset();
	feed(&f[0]); /* the oldest, evicted below */
	for (uint32_t i = 0; i < ECOFLOW_SLOTS; i++) {
		struct frame g = f[0];

		g.id = 0x10000000 | (0x40001 + i);
		feed(&g);
	}
	CHECK_EQ_INT(ef.st.evicted, 1);
	feed_all(f + 1, n - 1);
	CHECK_EQ_INT(ef.st.orphan, n - 1);
	CHECK_EQ_INT(got.n, 0);
	CHECK_EQ_INT(ecoflow_feed(NULL, 0, true, 0, NULL, 0, NULL, NULL), -EINVAL);
	CHECK_EQ_INT(strcmp(ecoflow_err_name(ECOFLOW_BAD_CRC), "bad_crc"), 0);
}

/* A record whose last frame never comes is cut once it is stale, and only
 * then; what comes after starts clean. */
static void test_expire(void)
{
	struct frame f[64];
	size_t n = mk_b(f, 0x100, 0x03001, rec1, n1), i;

	for (i = 0; i < n; i++)
		f[i].ts_ns = 1000 + (int64_t)i;
	reset();
	feed_all(f, n - 1);
	ecoflow_expire(&ef, 500, on_record, &got);
	CHECK_EQ_INT(got.n, 0);
	ecoflow_expire(&ef, f[n - 2].ts_ns, on_record, &got);
	CHECK_EQ_INT(got.n, 0);
	ecoflow_expire(&ef, f[n - 2].ts_ns + 1, on_record, &got);
	CHECK_EQ_INT(got.n, 1);
	CHECK_EQ_INT(got.r[0].err, ECOFLOW_BAD_LENGTH);
	CHECK(!got.r[0].crc_ok);
	CHECK_EQ_INT(ef.st.bad_length, 1);
	/* The lost last frame arrives late: nobody's. */
	feed(&f[n - 1]);
	CHECK_EQ_INT(ef.st.orphan, 1);
	CHECK_EQ_INT(got.n, 1);
	ecoflow_expire(&ef, INT64_MAX, on_record, &got);
	CHECK_EQ_INT(got.n, 1);
	feed_all(f, n);
	CHECK_EQ_INT(got.n, 2);
	check_good(&got.r[1], 'B', 0x2F, 60, pay);
}

/* ------------------------------------------------ the tap */

#define TAP_MAX	      4096
#define TAP_DELIVERED 100 /* not an ecoflow_tap_kind: the record callback */

/* Tap events and deliveries in the order they came, each with the index
 * of the frame being fed (SIZE_MAX during a flush). */
struct tap_ev {
	size_t frame;
	int kind;
	enum ecoflow_why why;
	uint64_t rec;
	int slot;
	char chan;
	uint32_t stream;
	bool last;
	enum ecoflow_err err;
};

static struct taplog {
	size_t n, frame;
	struct tap_ev e[TAP_MAX];
} tl;

static void tap_add(const struct tap_ev *ev)
{
	if (tl.n < TAP_MAX)
		tl.e[tl.n] = *ev;
	tl.n++;
}

static void on_tap(void *ctx, const struct ecoflow_tap_event *ev)
{
	struct taplog *t = ctx;

	tap_add(&(struct tap_ev){t->frame, (int)ev->kind, ev->why, ev->rec, ev->slot, ev->chan,
				 ev->stream, ev->last, ECOFLOW_OK});
}

static void on_tap_record(void *ctx, const struct ecoflow_record *r)
{
	struct taplog *t = ctx;

	tap_add(&(struct tap_ev){t->frame, TAP_DELIVERED, ECOFLOW_WHY_NONE, r->rec, r->slot,
				 r->chan, r->stream, false, r->err});
}

static void tap_reset(void)
{
	ecoflow_init(&ef);
	memset(&tl, 0, sizeof(tl));
	ecoflow_set_tap(&ef, on_tap, &tl);
}

static void tap_feed(const struct frame *f, size_t n)
{
	for (size_t i = 0; i < n; i++, tl.frame++)
		CHECK_EQ_INT(ecoflow_feed(&ef, f[i].id, true, f[i].len, f[i].data, f[i].ts_ns,
					  on_tap_record, &tl),
			     0);
}

static void tap_flush(void)
{
	tl.frame = SIZE_MAX;
	ecoflow_flush(&ef, on_tap_record, &tl);
}

/* What the header promises, whatever was fed (from tap_reset, nframes
 * frames, then a flush): one FRAME or NONE per frame; a record in one slot
 * from its first frame to its end, alone there; handles new in order; each
 * record ends once, delivered or dropped, a D/E frame delivered at once;
 * the events agree with the counters. */
static void tap_check(size_t nframes)
{
	uint64_t occ[ECOFLOW_SLOTS] = {0}, maxrec = 0, dropped[8] = {0}, none[8] = {0};
	static uint8_t per_frame[TAP_MAX], ended[TAP_MAX + 1];
	size_t i;

	CHECK(tl.n <= TAP_MAX && nframes <= TAP_MAX && ef.recs <= TAP_MAX);
	if (tl.n > TAP_MAX || nframes > TAP_MAX || ef.recs > TAP_MAX)
		return;
	memset(per_frame, 0, sizeof(per_frame));
	memset(ended, 0, sizeof(ended));
	for (i = 0; i < tl.n; i++) {
		const struct tap_ev *v = &tl.e[i];
		bool in = v->slot >= 0 && v->slot < ECOFLOW_SLOTS;

		if (v->kind != TAP_DELIVERED) {
			CHECK(v->frame < nframes);
			if (v->frame >= nframes)
				continue;
		}
		switch (v->kind) {
		case ECOFLOW_TAP_NONE:
			per_frame[v->frame]++;
			CHECK(v->rec == 0 && v->slot == -1 && v->chan == 0 && !v->last);
			CHECK(v->why >= ECOFLOW_WHY_ORPHAN &&
			      v->why <= ECOFLOW_WHY_UNKNOWN_CHANNEL);
			none[v->why & 7]++;
			break;
		case ECOFLOW_TAP_FRAME:
			per_frame[v->frame]++;
			CHECK(v->rec > 0 && v->rec <= ef.recs && v->why == ECOFLOW_WHY_NONE);
			CHECK(!ended[v->rec]);
			if (v->slot == -1) {
				/* D/E: its own record, delivered next. */
				CHECK(v->chan == 'D' || v->chan == 'E');
				CHECK(v->last && v->rec == maxrec + 1);
				CHECK(i + 1 < tl.n && tl.e[i + 1].kind == TAP_DELIVERED &&
				      tl.e[i + 1].rec == v->rec && tl.e[i + 1].frame == v->frame);
				maxrec = v->rec;
				break;
			}
			CHECK(in);
			if (!in)
				break;
			if (!occ[v->slot]) {
				CHECK(v->rec == maxrec + 1); /* a new handle, in order */
				occ[v->slot] = maxrec = v->rec;
			}
			CHECK_EQ_INT(occ[v->slot], v->rec);
			CHECK(v->chan == 'A' || v->chan == 'B' || v->chan == 'C');
			/* The last frame's record is delivered next. */
			if (v->last)
				CHECK(i + 1 < tl.n && tl.e[i + 1].kind == TAP_DELIVERED &&
				      tl.e[i + 1].rec == v->rec);
			break;
		case ECOFLOW_TAP_DROPPED:
			CHECK(in && occ[v->slot] == v->rec && v->rec && !ended[v->rec]);
			CHECK(v->why >= ECOFLOW_WHY_RESTARTED && v->why <= ECOFLOW_WHY_TOO_LONG);
			dropped[v->why & 7]++;
			if (in)
				occ[v->slot] = 0;
			ended[v->rec] = 1;
			break;
		case TAP_DELIVERED:
			CHECK(v->rec > 0 && v->rec <= ef.recs && !ended[v->rec]);
			if (v->slot >= 0) {
				CHECK(in && occ[v->slot] == v->rec);
				if (in)
					occ[v->slot] = 0;
			}
			ended[v->rec] = 1;
			break;
		default:
			CHECK(0);
		}
	}
	for (i = 0; i < nframes; i++)
		CHECK_EQ_INT(per_frame[i], 1);
	for (i = 1; i <= ef.recs; i++)
		CHECK(ended[i]);
	for (i = 0; i < ECOFLOW_SLOTS; i++)
		CHECK_EQ_INT(occ[i], 0);
	CHECK_EQ_INT(maxrec, ef.recs);
	CHECK_EQ_INT(none[ECOFLOW_WHY_ORPHAN], ef.st.orphan);
	CHECK_EQ_INT(none[ECOFLOW_WHY_BAD_FRAME], ef.st.bad_frame);
	CHECK_EQ_INT(none[ECOFLOW_WHY_UNKNOWN_CHANNEL], ef.st.unknown_channel);
	CHECK_EQ_INT(dropped[ECOFLOW_WHY_RESTARTED], ef.st.restarted);
	CHECK_EQ_INT(dropped[ECOFLOW_WHY_EVICTED], ef.st.evicted);
	CHECK_EQ_INT(dropped[ECOFLOW_WHY_TOO_LONG], ef.st.too_long);
}

/* The FRAME or NONE event of frame i (NULL if none). */
static const struct tap_ev *tap_of(size_t i)
{
	for (size_t k = 0; k < tl.n && k < TAP_MAX; k++)
		if (tl.e[k].frame == i &&
		    (tl.e[k].kind == ECOFLOW_TAP_FRAME || tl.e[k].kind == ECOFLOW_TAP_NONE))
			return &tl.e[k];
	return NULL;
}

static const struct tap_ev *tap_delivery(uint64_t rec)
{
	for (size_t k = 0; k < tl.n && k < TAP_MAX; k++)
		if (tl.e[k].kind == TAP_DELIVERED && tl.e[k].rec == rec)
			return &tl.e[k];
	return NULL;
}

/* Streams merged in any order (each one's frames in its own order): every
 * frame is told as its stream's record, and each record is delivered whole
 * and good, with the frames that named it exactly its stream's. */
static void test_tap_any_order(void)
{
	static struct frame src[6][16], all[64];
	static const uint8_t single[8] = {0x5A, 0x45, 0x35, 0x48, 0x30, 0x36, 0x30, 0x31};
	size_t ns[6], at[6], from[64], n, i, k;
	uint32_t lcg = 1;

	ns[0] = mk_b(src[0], 0x100, 0x03001, rec1, n1);
	ns[1] = mk_b(src[1], 0x100, 0x14001, rec2, n2);
	ns[2] = mk_a(src[2], 0x03, 0x08, rec3, n3);
	ns[3] = mk_b(src[3], 0x120, 0x03001, rec2, n2); /* C: the same node as B's */
	src[4][0] = (struct frame){.id = 0x10603001, .len = 8};
	memcpy(src[4][0].data, single, 8);
	src[5][0] = (struct frame){.id = 0x10A03130, .len = 8};
	memcpy(src[5][0].data, single, 8);
	ns[4] = ns[5] = 1;
	for (unsigned seed = 0; seed < 300; seed++) {
		uint64_t rec_of[6] = {0};

		memset(at, 0, sizeof(at));
		for (n = 0; n < ns[0] + ns[1] + ns[2] + ns[3] + 2;) {
			lcg = lcg * 1103515245u + 12345u;
			k = (lcg >> 16) % 6;
			if (at[k] == ns[k])
				continue;
			from[n] = k;
			all[n++] = src[k][at[k]++];
		}
		tap_reset();
		tap_feed(all, n);
		tap_flush();
		tap_check(n);
		CHECK_EQ_INT(ef.st.good, 6);
		CHECK_EQ_INT(ef.st.records, 6);
		for (i = 0; i < n; i++) {
			const struct tap_ev *v = tap_of(i);

			CHECK(v && v->kind == ECOFLOW_TAP_FRAME);
			if (!v)
				continue;
			/* One handle per stream, and no other stream's. */
			if (!rec_of[from[i]])
				rec_of[from[i]] = v->rec;
			CHECK_EQ_INT(v->rec, rec_of[from[i]]);
			CHECK_EQ_INT(v->chan, "BBACDE"[from[i]]);
		}
		for (k = 0; k < 6; k++) {
			const struct tap_ev *d = tap_delivery(rec_of[k]);
			size_t named = 0, last_at = 0;

			/* Only its last frame says so. */
			for (i = 0; i < n; i++)
				if (from[i] == k) {
					named++;
					last_at = i;
					CHECK_EQ_INT(tap_of(i)->last, named == ns[k]);
				}
			CHECK_EQ_INT(named, ns[k]);
			CHECK(d && d->err == ECOFLOW_OK && d->frame == last_at);
			for (i = k + 1; i < 6; i++)
				CHECK(rec_of[i] != rec_of[k]);
		}
	}

	/* One record's frames out of order.  A, reversed: its last frame first
	 * is an orphan, and so is every frame but its first, which opens a
	 * record that the flush delivers short, with the same handle. */
	n = mk_a(all, 0x03, 0x08, rec3, n3);
	tap_reset();
	for (i = n; i-- > 0;)
		tap_feed(&all[i], 1);
	tap_flush();
	tap_check(n);
	for (i = 0; i + 1 < n; i++)
		CHECK(tap_of(i)->kind == ECOFLOW_TAP_NONE && tap_of(i)->why == ECOFLOW_WHY_ORPHAN);
	CHECK(tap_of(n - 1)->kind == ECOFLOW_TAP_FRAME && tap_of(n - 1)->rec == 1);
	CHECK(tap_delivery(1) && tap_delivery(1)->err == ECOFLOW_BAD_LENGTH &&
	      tap_delivery(1)->frame == SIZE_MAX && tap_delivery(1)->slot == tap_of(n - 1)->slot);
	/* B, two middle frames swapped: still one record (B frames carry no
	 * index), every frame its own, delivered with a bad CRC. */
	n = mk_b(all, 0x100, 0x03001, rec1, n1);
	all[63] = all[3];
	all[3] = all[4];
	all[4] = all[63];
	tap_reset();
	tap_feed(all, n);
	tap_check(n);
	for (i = 0; i < n; i++)
		CHECK(tap_of(i)->kind == ECOFLOW_TAP_FRAME && tap_of(i)->rec == 1 &&
		      tap_of(i)->last == (i == n - 1));
	CHECK(tap_delivery(1) && tap_delivery(1)->err == ECOFLOW_BAD_CRC &&
	      tap_delivery(1)->frame == n - 1);
}

/* A first frame while a record is open: that record is dropped before the
 * frame opens the next one, in the slot it freed; its handle is never
 * delivered.  A first frame that is not AA drops it too, and is no
 * record's, nor are the frames after it. */
static void test_tap_restarted(void)
{
	struct frame f[64], g[64], junk = {.id = 0x10003001, .len = 8, .data = {0x55}};
	size_t n = mk_b(f, 0x100, 0x03001, rec1, n1), m = 0, i;
	const struct tap_ev *v;

	for (i = 0; i < 3; i++)
		g[m++] = f[i];
	for (i = 0; i < n; i++)
		g[m++] = f[i];
	tap_reset();
	tap_feed(g, m);
	tap_check(m);
	for (i = 0; i < 3; i++)
		CHECK(tap_of(i)->kind == ECOFLOW_TAP_FRAME && tap_of(i)->rec == 1);
	v = tap_of(3);
	CHECK(v > tl.e && v[-1].kind == ECOFLOW_TAP_DROPPED && v[-1].rec == 1 &&
	      v[-1].why == ECOFLOW_WHY_RESTARTED && v[-1].frame == 3);
	CHECK(v->kind == ECOFLOW_TAP_FRAME && v->rec == 2 && v->slot == v[-1].slot);
	for (i = 3; i < m; i++)
		CHECK(tap_of(i)->rec == 2 && tap_of(i)->last == (i == m - 1));
	CHECK(!tap_delivery(1));
	CHECK(tap_delivery(2) && tap_delivery(2)->err == ECOFLOW_OK);
	CHECK_EQ_INT(ef.st.restarted, 1);

	m = 0;
	for (i = 0; i < 3; i++)
		g[m++] = f[i];
	g[m++] = junk;
	for (i = 3; i < n; i++)
		g[m++] = f[i];
	tap_reset();
	tap_feed(g, m);
	tap_flush();
	tap_check(m);
	v = tap_of(3);
	CHECK(v[-1].kind == ECOFLOW_TAP_DROPPED && v[-1].rec == 1 &&
	      v[-1].why == ECOFLOW_WHY_RESTARTED);
	for (i = 3; i < m; i++)
		CHECK(tap_of(i)->kind == ECOFLOW_TAP_NONE && tap_of(i)->why == ECOFLOW_WHY_ORPHAN);
	CHECK_EQ_INT(ef.recs, 1);
	CHECK(!tap_delivery(1));
}

/* Frames of no record: each told once, as NONE with why, no handle used. */
static void test_tap_orphan(void)
{
	struct frame f[64];
	size_t n = mk_b(f, 0x100, 0x03001, rec1, n1);
	const struct frame other[] = {
		f[1],
		f[n - 1],
		{.id = 0x1FF03001, .len = 2, .data = {1, 2}},
		{.id = 0x00C20308, .len = 8, .data = {1}},
	};
	static const enum ecoflow_why want[] = {ECOFLOW_WHY_ORPHAN, ECOFLOW_WHY_ORPHAN,
						ECOFLOW_WHY_UNKNOWN_CHANNEL, ECOFLOW_WHY_BAD_FRAME};

	tap_reset();
	tap_feed(other, 4);
	CHECK_EQ_INT(ecoflow_feed(&ef, 0x308, false, 2, f[0].data, 0, on_tap_record, &tl), 0);
	tl.frame++;
	CHECK_EQ_INT(ecoflow_feed(&ef, 0x10003001, true, 9, f[0].data, 0, on_tap_record, &tl),
		     -EINVAL);
	tl.frame++;
	/* Not a frame at all: not counted, not told. */
	CHECK_EQ_INT(ecoflow_feed(&ef, 0x10003001, true, 2, NULL, 0, on_tap_record, &tl), -EINVAL);
	tap_flush();
	tap_check(6);
	for (size_t i = 0; i < 4; i++)
		CHECK(tap_of(i)->kind == ECOFLOW_TAP_NONE && tap_of(i)->why == want[i]);
	CHECK(tap_of(4)->why == ECOFLOW_WHY_BAD_FRAME && tap_of(5)->why == ECOFLOW_WHY_BAD_FRAME);
	CHECK_EQ_INT(tl.n, 6);
	CHECK_EQ_INT(ef.recs, 0);
	CHECK_EQ_INT(ef.st.frames, 6);

	/* The last frame again after its record was delivered. */
	tap_reset();
	tap_feed(f, n);
	tap_feed(&f[n - 1], 1);
	tap_check(n + 1);
	CHECK(tap_of(n)->kind == ECOFLOW_TAP_NONE && tap_of(n)->why == ECOFLOW_WHY_ORPHAN);
	CHECK_EQ_INT(ef.st.good, 1);
}

/* Eviction: the oldest record dropped just before the new stream's first
 * frame takes its slot.  Too long: the frame is told as the record's, then
 * the record dropped; the frames after it are orphans.  A flush: the open
 * records delivered with their handles and slots, nothing told to the tap. */
static void test_tap_evict_too_long_flush(void)
{
	struct frame f[64], g;
	size_t n = mk_b(f, 0x100, 0x03001, rec1, n1), i, k, before;
	const struct tap_ev *v;

	tap_reset();
	tap_feed(f, 1);
	for (i = 0; i < ECOFLOW_SLOTS; i++) {
		g = f[0];
		g.id = 0x10000000 | (0x40001 + (uint32_t)i);
		tap_feed(&g, 1);
	}
	v = tap_of(ECOFLOW_SLOTS);
	CHECK(v[-1].kind == ECOFLOW_TAP_DROPPED && v[-1].why == ECOFLOW_WHY_EVICTED &&
	      v[-1].rec == 1 && v[-1].slot == tap_of(0)->slot);
	CHECK(v->kind == ECOFLOW_TAP_FRAME && v->rec == ECOFLOW_SLOTS + 1 && v->slot == v[-1].slot);
	before = tl.n;
	tap_flush();
	CHECK_EQ_INT(tl.n - before, ECOFLOW_SLOTS);
	for (k = before; k < tl.n; k++)
		CHECK(tl.e[k].kind == TAP_DELIVERED && tl.e[k].err == ECOFLOW_BAD_LENGTH &&
		      tl.e[k].rec >= 2);
	tap_check(ECOFLOW_SLOTS + 1);

	tap_reset();
	tap_feed(f, 1);
	for (i = 0; i < ECOFLOW_RECORD_MAX / 8 + 3; i++)
		tap_feed(&f[1], 1);
	tap_check(tl.frame);
	k = ECOFLOW_RECORD_MAX / 8; /* 1 + k frames of 8 bytes fill it; this one is too many */
	v = tap_of(k);
	CHECK(v->kind == ECOFLOW_TAP_FRAME && v->rec == 1 && !v->last);
	CHECK(v[1].kind == ECOFLOW_TAP_DROPPED && v[1].why == ECOFLOW_WHY_TOO_LONG &&
	      v[1].rec == 1 && v[1].frame == k);
	for (i = k + 1; i < tl.frame; i++)
		CHECK(tap_of(i)->kind == ECOFLOW_TAP_NONE && tap_of(i)->why == ECOFLOW_WHY_ORPHAN);
	CHECK_EQ_INT(ef.st.too_long, 1);

	/* No tap: the same records, the same counters. */
	reset();
	feed_all(f, n);
	CHECK_EQ_INT(got.n, 1);
	CHECK_EQ_INT(got.r[0].rec, 1);
	CHECK(got.r[0].slot >= 0 && got.r[0].slot < ECOFLOW_SLOTS);
}

int main(void)
{
	test_crc();
	test_check_vector();
	test_capture();
	mk_records();
	test_interleaved();
	test_duplicates();
	test_missing_middle();
	test_garbage();
	test_bad_records();
	test_truncated_end();
	test_eviction();
	test_expire();
	test_tap_any_order();
	test_tap_restarted();
	test_tap_orphan();
	test_tap_evict_too_long_flush();
	return check_result();
}

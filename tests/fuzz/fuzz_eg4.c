/* libFuzzer target for the EG4 dongle protocol (include/eg4.h).  The first
 * input byte picks how the rest is cut into chunks; the rest is a TCP
 * stream.  Invariants:
 *   - the framer never crashes, and every frame it yields has the prefix,
 *     a length field of n - 6 and EG4_HEARTBEAT_LEN <= n <= EG4_FRAME_MAX;
 *   - the same frames come out however the stream is cut, and every byte
 *     fed is in a frame, counted as garbage, or still held;
 *   - a parsed TranslatedData frame's values fit the frame, a parse
 *     failure has a code with a name, and parsing is deterministic;
 *   - a protocol-1 read request rebuilds byte for byte, and whatever the
 *     builders accept parses back to what they were given and frames as
 *     one frame with no garbage. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eg4.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fuzz_fail(const char *what)
{
	fprintf(stderr, "fuzz_eg4: %s\n", what);
	abort();
}

struct fuzz_run {
	uint64_t frames, bytes, hash; /* FNV-1a over the frames, in order */
};

static void fuzz_check_msg(const uint8_t *f, size_t n)
{
	static struct eg4_msg m, m2;
	enum eg4_err err = EG4_ERR_N, err2 = EG4_ERR_N;
	int r = eg4_parse(f, n, &m, &err), r2 = eg4_parse(f, n, &m2, &err2);

	if (r != r2 || err != err2 || memcmp(&m, &m2, sizeof(m)))
		fuzz_fail("parsing the same frame twice differs");
	if (r != 0 && r != -EBADMSG)
		fuzz_fail("unexpected return value");
	if ((r == 0) != (err == EG4_OK) || (unsigned)err >= EG4_ERR_N ||
	    !strcmp(eg4_err_name(err), "unknown"))
		fuzz_fail("bad error code");
	if (r != 0 || m.tcp_fn != EG4_TCP_TRANSLATED)
		return;
	if (m.len != n || m.data_len != n - 20 || n < EG4_TD_HDR_LEN + 2)
		fuzz_fail("TranslatedData lengths inconsistent");
	if (m.nvals > EG4_REGS_MAX || 2 * (size_t)m.nvals > n - EG4_TD_HDR_LEN - 2 ||
	    m.nvals > m.count)
		fuzz_fail("values do not fit the frame");
	if (m.exception && (m.nvals || m.count))
		fuzz_fail("an exception with values");
	if (m.protocol == 1 && m.tcp_addr == 1 && m.dev_addr == 0 && !m.exception &&
	    (m.dev_fn == EG4_FN_READ_HOLD || m.dev_fn == EG4_FN_READ_INPUT)) {
		uint8_t out[64];
		size_t len;

		if (eg4_build_read(m.datalog, m.serial, (enum eg4_dev_fn)m.dev_fn, m.start, m.count,
				   out, sizeof(out), &len) == 0 &&
		    (len != n || memcmp(out, f, n)))
			fuzz_fail("a read request does not rebuild byte for byte");
	}
}

static void fuzz_frame(void *ctx, const uint8_t *f, size_t n)
{
	struct fuzz_run *run = ctx;

	if (n < EG4_HEARTBEAT_LEN || n > EG4_FRAME_MAX || f[0] != EG4_PREFIX0 ||
	    f[1] != EG4_PREFIX1 || (size_t)(f[4] | f[5] << 8) + 6 != n)
		fuzz_fail("the framer yielded a frame without a valid prefix and length");
	run->frames++;
	run->bytes += n;
	for (size_t i = 0; i < n; i++)
		run->hash = (run->hash ^ f[i]) * 1099511628211u;
	fuzz_check_msg(f, n);
}

static void fuzz_stream(const uint8_t *s, size_t n, uint8_t mode, struct fuzz_run *run)
{
	static struct eg4_framer fr;
	size_t off = 0, k = 0;

	memset(run, 0, sizeof(*run));
	run->hash = 14695981039346656037u;
	eg4_framer_init(&fr);
	while (off < n) {
		/* mode 0: all at once; else chunk sizes from a small cycle */
		size_t c = mode ? (size_t)((mode * (k + 1) * 7) % 61 + 1) : n - off;

		if (c > n - off)
			c = n - off;
		if (eg4_framer_feed(&fr, s + off, c, fuzz_frame, run) != 0)
			fuzz_fail("feed failed");
		off += c;
		k++;
	}
	if (fr.st.bytes != n || fr.st.frames != run->frames ||
	    fr.st.bytes != run->bytes + fr.st.garbage + fr.len || fr.len > EG4_FRAME_MAX)
		fuzz_fail("framer accounting does not add up");
}

static void fuzz_one_frame(const uint8_t *f, size_t n)
{
	static struct eg4_framer fr;
	struct fuzz_run run = {0};

	eg4_framer_init(&fr);
	eg4_framer_feed(&fr, f, n, fuzz_frame, &run);
	if (run.frames != 1 || fr.st.garbage || fr.len)
		fuzz_fail("a built frame does not frame as one");
}

/* Build with arguments taken from the input, parse back, compare. */
static void fuzz_builders(const uint8_t *d, size_t size)
{
	static struct eg4_msg m;
	uint8_t b[16] = {0}, out[EG4_FRAME_MAX];
	char dl[EG4_DATALOG_LEN], sn[EG4_SERIAL_LEN];
	uint16_t vals[EG4_QUERY_MAX], start, count;
	size_t len;

	memcpy(b, d, size < sizeof(b) ? size : sizeof(b));
	memcpy(dl, b, sizeof(dl));
	memset(sn, b[10], sizeof(sn));
	start = (uint16_t)(b[11] | b[12] << 8);
	count = (uint16_t)(b[13] % 48);
	for (uint16_t i = 0; i < EG4_QUERY_MAX; i++)
		vals[i] = (uint16_t)(b[14] * (i + 1) + b[15]);

	if (eg4_build_read(dl, sn, b[13] & 0x80 ? EG4_FN_READ_HOLD : EG4_FN_READ_INPUT, start,
			   count, out, sizeof(out), &len) == 0) {
		if (count < 1 || count > EG4_QUERY_MAX || start / 40 != (start + count - 1) / 40)
			fuzz_fail("a read outside the rules was built");
		if (eg4_parse(out, len, &m, NULL) || m.start != start || m.count != count ||
		    memcmp(m.datalog, dl, sizeof(dl)) || memcmp(m.serial, sn, sizeof(sn)))
			fuzz_fail("a built read does not parse back");
		fuzz_one_frame(out, len);
	}
	if (eg4_build_write_single(dl, sn, start, vals[0], out, sizeof(out), &len) ||
	    eg4_parse(out, len, &m, NULL) || m.start != start || m.nvals != 1 ||
	    m.vals[0] != vals[0] || m.dev_fn != EG4_FN_WRITE_SINGLE)
		fuzz_fail("a built WriteSingle does not parse back");
	fuzz_one_frame(out, len);
	if (eg4_build_write_multi(dl, NULL, start, vals, count, out, sizeof(out), &len) == 0) {
		if (eg4_parse(out, len, &m, NULL) || m.start != start || m.count != count ||
		    m.nvals != count || memcmp(m.vals, vals, 2 * (size_t)count))
			fuzz_fail("a built WriteMulti does not parse back");
		fuzz_one_frame(out, len);
	} else if (count >= 1 && count <= EG4_QUERY_MAX && (uint32_t)start + count <= 0x10000) {
		fuzz_fail("a valid WriteMulti was refused");
	}
	if (eg4_build_heartbeat(dl, out, sizeof(out), &len) || eg4_parse(out, len, &m, NULL) ||
	    m.tcp_fn != EG4_TCP_HEARTBEAT || m.protocol != 2 || memcmp(m.datalog, dl, sizeof(dl)))
		fuzz_fail("a built heartbeat does not parse back");
	fuzz_one_frame(out, len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_run whole, cut;

	if (size < 1)
		return 0;
	fuzz_stream(data + 1, size - 1, 0, &whole);
	fuzz_stream(data + 1, size - 1, data[0] ? data[0] : 1, &cut);
	if (whole.frames != cut.frames || whole.hash != cut.hash)
		fuzz_fail("cutting the stream changed the frames");
	/* a whole input as one frame, as a capture reader would hand it */
	fuzz_check_msg(data + 1, size - 1);
	fuzz_builders(data, size);
	return 0;
}

/* libFuzzer target for the Modbus/TCP stream decoder (include/modbus.h).
 *
 * The input's first byte seeds how the rest, a TCP byte stream, is cut into
 * chunks; the stream is decoded once whole and once in those chunks.
 * Invariants:
 *   - every call takes at least one byte of a non-empty chunk, at most all,
 *     and returns 1, 0 (only when it took all) or -EBADMSG;
 *   - every ADU yielded is within the limits (PDU 1..253 bytes) and
 *     re-encodes, from its tid, unit and PDU, to exactly its raw bytes, and
 *     answers a request of its own tid, unit and function;
 *   - bytes are accounted for: those of the ADUs, those dropped and those
 *     still held add up to the stream;
 *   - the cuts change nothing: the same ADUs, the same counts. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "modbus.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct fuzz_run {
	uint8_t *out; /* the raw ADUs, back to back */
	size_t out_len;
	struct modbus_mbap_stats stats;
};

static void fuzz_fail(const char *what)
{
	fprintf(stderr, "fuzz_modbus_mbap: %s\n", what);
	abort();
}

static void fuzz_check_adu(const struct modbus_adu *adu)
{
	uint8_t again[MODBUS_TCP_ADU_MAX];
	struct modbus_req req = {.fn = (uint8_t)(adu->pdu[0] & 0x7F)};

	if (adu->pdu_len < 1 || adu->pdu_len > MODBUS_PDU_MAX)
		fuzz_fail("a PDU length out of range");
	if (adu->raw_len != MODBUS_MBAP_HDR + adu->pdu_len ||
	    adu->pdu != adu->raw + MODBUS_MBAP_HDR)
		fuzz_fail("raw and PDU disagree");
	if (modbus_mbap_encode(adu->tid, adu->unit, adu->pdu, adu->pdu_len, again, sizeof(again)) !=
		    (int)adu->raw_len ||
	    memcmp(again, adu->raw, adu->raw_len))
		fuzz_fail("an ADU does not re-encode to its bytes");
	if (!modbus_mbap_answers(adu, adu->tid, adu->unit, &req))
		fuzz_fail("an ADU does not answer its own tid, unit and function");
	if (modbus_mbap_answers(adu, (uint16_t)(adu->tid + 1), adu->unit, &req))
		fuzz_fail("an ADU answers another tid");
}

/* Decode stream[0..n) in chunks; seed 0 means one chunk. */
static void fuzz_decode(const uint8_t *stream, size_t n, unsigned seed, struct fuzz_run *run)
{
	struct modbus_mbap_stream s;
	size_t from = 0, errors = 0;
	uint32_t x = seed;

	modbus_mbap_init(&s);
	while (from < n) {
		size_t chunk = n - from;

		if (seed) {
			x = x * 1103515245u + 12345u;
			/* mostly short chunks, now and then a long one */
			chunk = (x >> 16) % 8 ? 1 + (x >> 20) % 9 : 1 + (x >> 20) % 300;
			if (chunk > n - from)
				chunk = n - from;
		}
		while (chunk) {
			struct modbus_adu adu;
			size_t used = 0;
			int r = modbus_mbap_feed(&s, stream + from, chunk, &used, &adu);

			if (used < 1 || used > chunk)
				fuzz_fail("a feed took no bytes, or too many");
			if (r == 0 && used != chunk)
				fuzz_fail("0 without taking the whole chunk");
			if (r != 0 && r != 1 && r != -EBADMSG)
				fuzz_fail("an unexpected return value");
			from += used;
			chunk -= used;
			if (r == -EBADMSG)
				errors++;
			if (r == 1) {
				fuzz_check_adu(&adu);
				memcpy(run->out + run->out_len, adu.raw, adu.raw_len);
				run->out_len += adu.raw_len;
			}
		}
	}
	if (errors != s.stats.bad_protocol + s.stats.bad_length)
		fuzz_fail("refusals and their counts disagree");
	if (run->out_len + s.stats.dropped + (s.ready ? 0 : s.len) != n)
		fuzz_fail("bytes lost or made up");
	if (s.len > MODBUS_TCP_ADU_MAX)
		fuzz_fail("more held than an ADU");
	run->stats = s.stats;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_run whole = {0}, cut = {0};

	if (size < 1)
		return 0;
	whole.out = malloc(size);
	cut.out = malloc(size);
	if (!whole.out || !cut.out)
		abort();
	fuzz_decode(data + 1, size - 1, 0, &whole);
	fuzz_decode(data + 1, size - 1, 1u + data[0], &cut);
	if (whole.out_len != cut.out_len || memcmp(whole.out, cut.out, whole.out_len) ||
	    memcmp(&whole.stats, &cut.stats, sizeof(whole.stats)))
		fuzz_fail("cutting the stream into chunks changed the result");
	free(whole.out);
	free(cut.out);
	return 0;
}

/* The disk spool: round trips across segments, reopening, recovery from torn
 * and corrupt data (records, segment headers, missing or cut segments, ack
 * files that do not match, files that are not segments), the size cap,
 * acknowledgements, fsync policies, and memory that stays flat under a
 * 100 MB backlog.  Each case works in its own directory under one mkdtemp()
 * root, removed at exit. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <ftw.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "log.h"
#include "spool.h"

#define REC_HDR SPOOL_REC_HDR
#define SEG_HDR SPOOL_SEG_HDR
#define RL(n)	(REC_HDR + (n)) /* a record of n payload bytes on disk */

static char root[PATH_MAX];

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void cleanup(void)
{
	if (root[0])
		nftw(root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void path_join(char *out, size_t n, const char *dir, const char *name)
{
	if (snprintf(out, n, "%s/%s", dir, name) >= (int)n) {
		fprintf(stderr, "path too long: %s/%s\n", dir, name);
		exit(1);
	}
}

static void case_dir(char *out, size_t n, const char *name)
{
	path_join(out, n, root, name);
}

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* spool_read() with the record's parts in separate variables. */
static int rd(struct spool *s, uint64_t *pos, const void **d, size_t *len, uint32_t *items)
{
	struct spool_rec rec;
	int r = spool_read(s, pos, &rec);

	*d = NULL;
	*len = 0;
	if (items)
		*items = 0;
	if (r == 1) {
		*d = rec.data;
		*len = rec.len;
		if (items)
			*items = rec.items;
	}
	return r;
}

/* Opening must work for every case but the ones testing failures: stop
 * at once rather than crash on a NULL spool. */
static struct spool *sp_open(const char *dir, uint64_t max, uint64_t segb, enum spool_fsync f)
{
	struct spool_opts o = {
		.dir = dir, .max_bytes = max, .segment_bytes = segb, .fsync = f, .payload = 1};
	struct spool *s = NULL;
	int r = spool_open(&o, &s);

	if (r || !s) {
		fprintf(stderr, "%s:%d: spool_open(%s) = %d (%s)\n", __FILE__, __LINE__, dir, r,
			strerror(-r));
		exit(1);
	}
	return s;
}

static size_t len_of(unsigned i)
{
	return (i * 37u) % 300u;
}

/* Record i: its index in the first bytes, then a pattern of i. */
static void fill(unsigned i, uint8_t *p, size_t len)
{
	size_t k;

	for (k = 0; k < len; k++)
		p[k] = (uint8_t)(i * 131u + k * 7u + (k >> 8));
	if (len >= 4)
		memcpy(p, &i, 4);
}

static int rec_ok(unsigned i, const void *data, size_t len, size_t want_len)
{
	static uint8_t exp[1 << 16];

	if (len != want_len || len > sizeof(exp))
		return 0;
	fill(i, exp, len);
	return memcmp(exp, data, len) == 0;
}

/* The item count the tests give record i: known, and different per record. */
static uint32_t items_of(unsigned i)
{
	return i % 7 + 1;
}

static int append_rec(struct spool *s, unsigned i, size_t len)
{
	static uint8_t p[1 << 16];

	fill(i, p, len);
	return spool_append(s, p, len, items_of(i));
}

static void put_u32(uint8_t *p, uint32_t v)
{
	/* Little-endian on every machine this runs on (x86, arm). */
	memcpy(p, &v, 4);
}

/* The on-disk form of one record, written independently of the spool. */
static size_t encode(uint8_t *out, const void *payload, uint32_t len, uint32_t items)
{
	put_u32(out, 0x32445750u); /* "PWD2" */
	put_u32(out + 4, len);
	put_u32(out + 8, items);
	put_u32(out + 12, spool_crc32c(0, payload, len));
	put_u32(out + 16, spool_crc32c(0, out, 16));
	memcpy(out + REC_HDR, payload, len);
	return REC_HDR + len;
}

/* A segment header, written independently of the spool. */
static size_t encode_seg(uint8_t *out, uint32_t id, int prev_known, uint64_t prev_bytes,
			 uint32_t prev_items)
{
	put_u32(out, 0x47535750u); /* "PWSG" */
	put_u32(out + 4, 1);
	put_u32(out + 8, id);
	put_u32(out + 12, (prev_known ? 1 : 0) | 1 << 8); /* payload version 1 */
	put_u32(out + 16, (uint32_t)prev_bytes);
	put_u32(out + 20, (uint32_t)(prev_bytes >> 32));
	put_u32(out + 24, prev_items);
	put_u32(out + 28, spool_crc32c(0, out, 28));
	return SEG_HDR;
}

static int seg_filter(const struct dirent *d)
{
	size_t n = strlen(d->d_name);

	return n == 20 && !strcmp(d->d_name + 16, ".seg");
}

/* The segment files, oldest first; path of the i-th in *path if asked. */
static int seg_files(const char *dir, int idx, char *path, size_t n)
{
	struct dirent **v;
	int cnt = scandir(dir, &v, seg_filter, alphasort), i;

	if (cnt < 0)
		return -1;
	for (i = 0; i < cnt; i++) {
		if (i == idx && path)
			path_join(path, n, dir, v[i]->d_name);
		free(v[i]);
	}
	free(v);
	return cnt;
}

static uint64_t dir_seg_bytes(const char *dir)
{
	char p[PATH_MAX];
	uint64_t sum = 0;
	struct stat sb;
	int i, n = seg_files(dir, -1, NULL, 0);

	for (i = 0; i < n; i++) {
		seg_files(dir, i, p, sizeof(p));
		if (!stat(p, &sb))
			sum += (uint64_t)sb.st_size;
	}
	return sum;
}

static long file_size(const char *path)
{
	struct stat sb;

	return stat(path, &sb) ? -1 : (long)sb.st_size;
}

static void write_file(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "wb");

	CHECK(f != NULL);
	if (!f)
		return;
	CHECK_EQ_INT(fwrite(data, 1, len, f), len);
	fclose(f);
}

static size_t read_file(const char *path, void *buf, size_t cap)
{
	FILE *f = fopen(path, "rb");
	size_t n;

	if (!f)
		return 0;
	n = fread(buf, 1, cap, f);
	fclose(f);
	return n;
}

static void xor_byte(const char *path, long off, uint8_t x)
{
	int fd = open(path, O_RDWR);
	uint8_t b;

	CHECK(fd >= 0);
	CHECK_EQ_INT(pread(fd, &b, 1, off), 1);
	b ^= x;
	CHECK_EQ_INT(pwrite(fd, &b, 1, off), 1);
	close(fd);
}

/* Read everything from the ack position; record indexes in out[]. */
static int read_all(struct spool *s, unsigned *out, int max, uint64_t *ends)
{
	uint64_t pos = spool_ack_pos(s), prev = pos;
	const void *d;
	size_t len;
	int n = 0, r;

	while ((r = rd(s, &pos, &d, &len, NULL)) == 1) {
		unsigned i = 0;

		CHECK(pos > prev);
		prev = pos;
		if (len >= 4)
			memcpy(&i, d, 4);
		if (n < max) {
			out[n] = i;
			if (ends)
				ends[n] = pos;
		}
		n++;
	}
	CHECK_EQ_INT(r, 0);
	return n;
}

static uint32_t crc_bitwise(const uint8_t *p, size_t n)
{
	uint32_t c = 0xffffffffu;
	int k;

	while (n--) {
		c ^= *p++;
		for (k = 0; k < 8; k++)
			c = (c >> 1) ^ (0x82F63B78u & (0u - (c & 1u)));
	}
	return ~c;
}

static void test_crc(void)
{
	static uint8_t buf[1100];
	size_t len, off, i;

	CHECK_EQ_INT(spool_crc32c(0, "123456789", 9), 0xE3069283u);
	CHECK_EQ_INT(spool_crc32c(0, "", 0), 0);
	CHECK_EQ_INT(spool_crc32c(spool_crc32c(0, "1234", 4), "56789", 5), 0xE3069283u);
	for (i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)(rand() >> 7);
	/* Every length through the 8-byte loop and the tail, every alignment. */
	for (off = 0; off < 8; off++)
		for (len = 0; len + off <= sizeof(buf); len += len < 40 ? 1 : 97)
			CHECK_EQ_INT(spool_crc32c(0, buf + off, len), crc_bitwise(buf + off, len));
}

static void test_roundtrip(void)
{
	enum { N = 200 };
	static uint8_t big[5000];
	uint64_t ends[N + 4], total = 0, after = 0;
	unsigned got[N + 4];
	struct spool_stats st;
	struct spool *s;
	const void *d;
	char dir[PATH_MAX], first[PATH_MAX];
	uint32_t items;
	size_t len;
	uint64_t pos;
	int i, n, nfiles;

	case_dir(dir, sizeof(dir), "roundtrip");
	s = sp_open(dir, 0, 1000, SPOOL_FSYNC_NEVER);
	for (i = 0; i < N; i++) {
		CHECK_EQ_INT(append_rec(s, (unsigned)i, len_of((unsigned)i)), 0);
		total += RL(len_of((unsigned)i));
	}
	spool_stats(s, &st);
	nfiles = seg_files(dir, -1, NULL, 0);
	CHECK_EQ_INT(st.records_appended, N);
	CHECK_EQ_INT(st.bytes, total + (uint64_t)nfiles * SEG_HDR);
	CHECK_EQ_INT(st.unacked_bytes, total);
	CHECK_EQ_INT(dir_seg_bytes(dir), st.bytes);
	CHECK(nfiles >= (int)((total + 999) / 1000)); /* none over 1000 bytes */

	n = read_all(s, got, N, ends);
	CHECK_EQ_INT(n, N);
	for (i = 0; i < N && i < n; i++)
		CHECK_EQ_INT(got[i], len_of((unsigned)i) >= 4 ? (unsigned)i : 0);
	/* Contents and item counts, byte for byte. */
	pos = 0;
	for (i = 0; i < N; i++) {
		CHECK_EQ_INT(rd(s, &pos, &d, &len, &items), 1);
		CHECK(rec_ok((unsigned)i, d, len, len_of((unsigned)i)));
		CHECK_EQ_INT(items, items_of((unsigned)i));
	}
	CHECK_EQ_INT(rd(s, &pos, &d, &len, NULL), 0);

	/* Acknowledge half: the segments before it go. */
	seg_files(dir, 0, first, sizeof(first));
	CHECK_EQ_INT(spool_ack(s, ends[99]), 0);
	CHECK_EQ_INT(spool_ack_pos(s), ends[99]);
	CHECK(file_size(first) < 0);
	CHECK(seg_files(dir, -1, NULL, 0) < nfiles / 2 + 2);
	for (i = 100; i < N; i++)
		after += RL(len_of((unsigned)i));
	spool_stats(s, &st);
	CHECK_EQ_INT(st.records_acked, 100);
	CHECK_EQ_INT(st.unacked_bytes, after);
	CHECK_EQ_INT(st.bytes, dir_seg_bytes(dir));
	pos = spool_ack_pos(s);
	CHECK_EQ_INT(rd(s, &pos, &d, &len, NULL), 1);
	CHECK(rec_ok(100, d, len, len_of(100)));

	/* Positions only grow; past the end is refused. */
	CHECK_EQ_INT(spool_ack(s, ends[50]), 0);
	CHECK_EQ_INT(spool_ack_pos(s), ends[99]);
	CHECK_EQ_INT(spool_ack(s, ends[N - 1] + 1), -EINVAL);
	CHECK_EQ_INT(spool_ack_pos(s), ends[99]);

	CHECK_EQ_INT(spool_ack(s, ends[N - 1]), 0);
	spool_stats(s, &st);
	CHECK_EQ_INT(st.records_acked, N);
	CHECK_EQ_INT(st.unacked_bytes, 0);
	CHECK_EQ_INT(seg_files(dir, -1, NULL, 0), 1);
	pos = spool_ack_pos(s);
	CHECK_EQ_INT(rd(s, &pos, &d, &len, NULL), 0);

	/* A record larger than a segment, then a small one, then an empty one. */
	fill(7777, big, sizeof(big));
	CHECK_EQ_INT(spool_append(s, big, sizeof(big), 5), 0);
	CHECK_EQ_INT(append_rec(s, 7778, 10), 0);
	CHECK_EQ_INT(spool_append(s, NULL, 0, 0), 0);
	pos = spool_ack_pos(s);
	CHECK_EQ_INT(rd(s, &pos, &d, &len, &items), 1);
	CHECK(rec_ok(7777, d, len, sizeof(big)));
	CHECK_EQ_INT(items, 5);
	CHECK_EQ_INT(rd(s, &pos, &d, &len, NULL), 1);
	CHECK(rec_ok(7778, d, len, 10));
	CHECK_EQ_INT(rd(s, &pos, &d, &len, NULL), 1);
	CHECK_EQ_INT(len, 0);
	CHECK_EQ_INT(rd(s, &pos, &d, &len, NULL), 0);
	CHECK_EQ_INT(spool_append(s, big, (size_t)SPOOL_RECORD_MAX + 1, 1), -EMSGSIZE);
	spool_close(s);
}

static void test_format(void)
{
	uint8_t want[128], got[128];
	char dir[PATH_MAX], path[PATH_MAX];
	struct spool *s;
	size_t n;

	case_dir(dir, sizeof(dir), "format");
	s = sp_open(dir, 0, 0, SPOOL_FSYNC_NEVER);
	CHECK_EQ_INT(spool_append(s, "hello", 5, 3), 0);
	spool_close(s);
	CHECK_EQ_INT(seg_files(dir, 0, path, sizeof(path)), 1);
	CHECK(strstr(path, "/0000000000000001.seg") != NULL);
	/* The first segment of a spool knows nothing of a predecessor. */
	n = encode_seg(want, 1, 0, 0, 0);
	n += encode(want + n, "hello", 5, 3);
	CHECK_EQ_INT(read_file(path, got, sizeof(got)), n);
	CHECK(memcmp(want, got, n) == 0);
}

/* A new segment's header records what the one before it held. */
static void test_segment_header(void)
{
	uint8_t want[SEG_HDR], got[SEG_HDR];
	char dir[PATH_MAX], path[PATH_MAX];
	struct spool *s;
	long size0;
	int i;

	case_dir(dir, sizeof(dir), "seghdr");
	s = sp_open(dir, 0, 700, SPOOL_FSYNC_NEVER);
	for (i = 0; i < 6; i++) /* five of 120 bytes fit in 700 */
		CHECK_EQ_INT(append_rec(s, (unsigned)i, 100), 0);
	spool_close(s);
	CHECK_EQ_INT(seg_files(dir, -1, NULL, 0), 2);
	seg_files(dir, 0, path, sizeof(path));
	size0 = file_size(path);
	CHECK_EQ_INT(size0, SEG_HDR + 5 * RL(100));
	seg_files(dir, 1, path, sizeof(path));
	encode_seg(want, 2, 1, (uint64_t)size0,
		   items_of(0) + items_of(1) + items_of(2) + items_of(3) + items_of(4));
	CHECK_EQ_INT(read_file(path, got, sizeof(got)), SEG_HDR);
	CHECK(memcmp(want, got, SEG_HDR) == 0);
}

static void test_reopen(void)
{
	unsigned got[32];
	uint64_t ends[32], bytes;
	char dir[PATH_MAX], path[PATH_MAX], txt[128], want[128];
	struct spool_stats st;
	struct spool *s;
	int i, n;

	case_dir(dir, sizeof(dir), "reopen");
	s = sp_open(dir, 0, 0, SPOOL_FSYNC_INTERVAL);
	for (i = 0; i < 10; i++)
		CHECK_EQ_INT(append_rec(s, (unsigned)i, 50), 0);
	n = read_all(s, got, 4, ends);
	CHECK_EQ_INT(n, 10);
	CHECK_EQ_INT(spool_ack(s, ends[3]), 0);
	spool_stats(s, &st);
	bytes = st.bytes;
	spool_close(s);

	path_join(path, sizeof(path), dir, "ack");
	memset(txt, 0, sizeof(txt));
	read_file(path, txt, sizeof(txt) - 1);
	snprintf(want, sizeof(want), "powerd-spool-ack 1\n%016" PRIx64 " %08" PRIx64 "\n",
		 ends[3] >> 32, ends[3] & 0xffffffffu);
	CHECK(!strcmp(txt, want));

	s = sp_open(dir, 0, 0, SPOOL_FSYNC_INTERVAL);
	CHECK_EQ_INT(spool_ack_pos(s), ends[3]);
	spool_stats(s, &st);
	CHECK_EQ_INT(st.bytes, bytes);
	CHECK_EQ_INT(st.unacked_bytes, 6 * RL(50));
	CHECK_EQ_INT(st.ack_damaged, 0);
	CHECK_EQ_INT(append_rec(s, 10, 50), 0);
	n = read_all(s, got, 32, NULL);
	CHECK_EQ_INT(n, 7);
	for (i = 0; i < n && i < 7; i++)
		CHECK_EQ_INT(got[i], 4 + i);
	/* Appended to the same segment, after the old data. */
	CHECK_EQ_INT(seg_files(dir, -1, NULL, 0), 1);
	CHECK_EQ_INT(dir_seg_bytes(dir), bytes + RL(50));
	spool_close(s);

	s = sp_open(dir, 0, 0, SPOOL_FSYNC_INTERVAL);
	n = read_all(s, got, 32, NULL);
	CHECK_EQ_INT(n, 7);
	CHECK_EQ_INT(got[6], 10);
	spool_close(s);
}

static void test_torn_tail(void)
{
	unsigned got[16];
	char dir[PATH_MAX], path[PATH_MAX];
	struct spool_stats st;
	struct spool *s;
	int i, n;

	case_dir(dir, sizeof(dir), "torn");
	s = sp_open(dir, 0, 0, SPOOL_FSYNC_NEVER);
	for (i = 0; i < 5; i++)
		CHECK_EQ_INT(append_rec(s, (unsigned)i, 100), 0);
	spool_close(s);
	seg_files(dir, 0, path, sizeof(path));
	CHECK_EQ_INT(file_size(path), SEG_HDR + 5 * RL(100));

	/* Power cut in the middle of the fifth record's payload. */
	CHECK_EQ_INT(truncate(path, SEG_HDR + 5 * RL(100) - 50), 0);
	s = sp_open(dir, 0, 0, SPOOL_FSYNC_NEVER);
	spool_stats(s, &st);
	CHECK_EQ_INT(st.torn_tails, 1);
	CHECK_EQ_INT(st.corrupt_regions, 0);
	CHECK_EQ_INT(st.bytes, SEG_HDR + 4 * RL(100));
	CHECK_EQ_INT(file_size(path), SEG_HDR + 4 * RL(100));
	CHECK_EQ_INT(append_rec(s, 5, 100), 0);
	n = read_all(s, got, 16, NULL);
	CHECK_EQ_INT(n, 5);
	CHECK_EQ_INT(got[3], 3);
	CHECK_EQ_INT(got[4], 5);
	spool_close(s);

	/* ... and in the middle of a header. */
	CHECK_EQ_INT(truncate(path, SEG_HDR + 5 * RL(100) + 5), 0);
	s = sp_open(dir, 0, 0, SPOOL_FSYNC_NEVER);
	spool_stats(s, &st);
	CHECK_EQ_INT(st.torn_tails, 1);
	CHECK_EQ_INT(file_size(path), SEG_HDR + 5 * RL(100));
	CHECK_EQ_INT(append_rec(s, 6, 100), 0);
	n = read_all(s, got, 16, NULL);
	CHECK_EQ_INT(n, 6);
	CHECK_EQ_INT(got[5], 6);
	spool_close(s);

	/* ... and in the segment's own header, just after it was created. */
	CHECK_EQ_INT(truncate(path, 0), 0);
	s = sp_open(dir, 0, 0, SPOOL_FSYNC_NEVER);
	CHECK_EQ_INT(file_size(path), SEG_HDR);
	CHECK_EQ_INT(append_rec(s, 7, 100), 0);
	CHECK_EQ_INT(read_all(s, got, 16, NULL), 1);
	CHECK_EQ_INT(got[0], 7);
	spool_close(s);

	/* Clean now: nothing more to repair. */
	s = sp_open(dir, 0, 0, SPOOL_FSYNC_NEVER);
	spool_stats(s, &st);
	CHECK_EQ_INT(st.torn_tails, 0);
	CHECK_EQ_INT(read_all(s, got, 16, NULL), 1);
	spool_close(s);
}

static void test_flipped(void)
{
	static const unsigned want[] = {0, 1, 3, 4, 5, 6, 8, 9, 10, 11, 13, 14};
	unsigned got[32];
	char dir[PATH_MAX], path[PATH_MAX];
	long sizes[3];
	struct spool_stats st;
	struct spool *s;
	size_t k;
	int i, n;

	case_dir(dir, sizeof(dir), "flip");
	/* Five 120-byte records per 700-byte segment: three segments. */
	s = sp_open(dir, 0, 700, SPOOL_FSYNC_NEVER);
	for (i = 0; i < 15; i++)
		CHECK_EQ_INT(append_rec(s, (unsigned)i, 100), 0);
	spool_close(s);
	CHECK_EQ_INT(seg_files(dir, -1, NULL, 0), 3);
	/* Record 2: a payload byte (its header holds: its items are known).
	 * Record 7: its length (the header's own CRC fails).  Record 12 (in
	 * the last segment, which recovery reads through): its magic. */
	seg_files(dir, 0, path, sizeof(path));
	xor_byte(path, SEG_HDR + 2 * RL(100) + REC_HDR + 50, 0x10);
	seg_files(dir, 1, path, sizeof(path));
	xor_byte(path, SEG_HDR + 2 * RL(100) + 6, 0x40);
	seg_files(dir, 2, path, sizeof(path));
	xor_byte(path, SEG_HDR + 2 * RL(100), 0x01);
	for (i = 0; i < 3; i++) {
		seg_files(dir, i, path, sizeof(path));
		sizes[i] = file_size(path);
	}

	s = sp_open(dir, 0, 700, SPOOL_FSYNC_NEVER);
	spool_stats(s, &st);
	/* Opening counts nothing: the read that passes the damage does. */
	CHECK_EQ_INT(st.corrupt_regions, 0);
	CHECK_EQ_INT(st.corrupt_items, 0);
	CHECK_EQ_INT(st.torn_tails, 0);
	for (i = 0; i < 3; i++) {
		seg_files(dir, i, path, sizeof(path));
		CHECK_EQ_INT(file_size(path), sizes[i]);
	}
	n = read_all(s, got, 32, NULL);
	CHECK_EQ_INT(n, 12);
	for (k = 0; k < sizeof(want) / sizeof(want[0]) && k < (size_t)n; k++)
		CHECK_EQ_INT(got[k], want[k]);
	spool_stats(s, &st);
	CHECK_EQ_INT(st.corrupt_items, items_of(2));
	CHECK_EQ_INT(st.corrupt_regions, 2);
	/* The uploader re-reads after a failed send: counted once. */
	CHECK_EQ_INT(read_all(s, got, 32, NULL), 12);
	spool_stats(s, &st);
	CHECK_EQ_INT(st.corrupt_items, items_of(2));
	CHECK_EQ_INT(st.corrupt_regions, 2);
	/* And appends after the damage are read. */
	CHECK_EQ_INT(append_rec(s, 15, 100), 0);
	n = read_all(s, got, 32, NULL);
	CHECK_EQ_INT(n, 13);
	CHECK_EQ_INT(got[12], 15);
	spool_close(s);
}

static void test_garbage(void)
{
	/* Junk with false candidates: the magic with a bad header, and one
	 * that is cut off at the end. */
	static const uint8_t junk[] = "some junk \x00\x01\x02 PWD2\xff\xff\xff\x00 more "
				      "PWD2\x03\x00\x00\x00\x11\x22\x33\x44"
				      "abc trailing PW";
	uint8_t file[4096], p[200];
	char dir[PATH_MAX], path[PATH_MAX];
	unsigned got[16];
	struct spool_stats st;
	struct spool *s;
	size_t n = 0, n1;
	int i, k;

	case_dir(dir, sizeof(dir), "garbage");
	CHECK_EQ_INT(mkdir(dir, 0750), 0);
	/* Segment 1: r0 r1 junk r2 r3; segment 2: junk r4 r5 (the last one,
	 * so recovery reads it: junk at its start is not a torn tail). */
	n = encode_seg(file, 1, 0, 0, 0);
	for (i = 0; i < 4; i++) {
		if (i == 2) {
			memcpy(file + n, junk, sizeof(junk) - 1);
			n += sizeof(junk) - 1;
		}
		fill((unsigned)i, p, 100);
		n += encode(file + n, p, 100, items_of((unsigned)i));
	}
	path_join(path, sizeof(path), dir, "0000000000000001.seg");
	write_file(path, file, n);
	n1 = n;
	n = encode_seg(file, 2, 1, n1, items_of(0) + items_of(1) + items_of(2) + items_of(3));
	memcpy(file + n, junk, sizeof(junk) - 1);
	n += sizeof(junk) - 1;
	for (i = 4; i < 6; i++) {
		fill((unsigned)i, p, 100);
		n += encode(file + n, p, 100, items_of((unsigned)i));
	}
	path_join(path, sizeof(path), dir, "0000000000000002.seg");
	write_file(path, file, n);

	s = sp_open(dir, 0, 0, SPOOL_FSYNC_NEVER);
	CHECK_EQ_INT(file_size(path), (long)n);
	k = read_all(s, got, 16, NULL);
	CHECK_EQ_INT(k, 6);
	for (i = 0; i < 6 && i < k; i++)
		CHECK_EQ_INT(got[i], i);
	spool_stats(s, &st);
	CHECK_EQ_INT(st.corrupt_regions, 2);
	CHECK_EQ_INT(st.corrupt_items, 0);
	CHECK_EQ_INT(append_rec(s, 6, 100), 0);
	CHECK_EQ_INT(read_all(s, got, 16, NULL), 7);
	CHECK_EQ_INT(got[6], 6);
	spool_close(s);
}

/* A long corrupt stretch: the next record's magic straddles two 64 KiB
 * reads of the scan and must still be found. */
static void test_long_garbage(void)
{
	enum { JUNK = 65534 };
	static uint8_t file[SEG_HDR + JUNK + 512];
	char dir[PATH_MAX], path[PATH_MAX];
	unsigned got[8];
	struct spool_stats st;
	struct spool *s;
	uint8_t p[100];
	size_t n, start;
	int i, k;

	case_dir(dir, sizeof(dir), "garbage_long");
	CHECK_EQ_INT(mkdir(dir, 0750), 0);
	n = encode_seg(file, 1, 0, 0, 0);
	memset(file + n, 0xa5, JUNK);
	n += JUNK;
	start = n;
	for (i = 0; i < 2; i++) {
		fill((unsigned)i, p, sizeof(p));
		n += encode(file + n, p, sizeof(p), items_of((unsigned)i));
	}
	path_join(path, sizeof(path), dir, "0000000000000001.seg");
	write_file(path, file, n);
	/* Segment 2: a header then the same two, clean. */
	encode_seg(file + start - SEG_HDR, 2, 1, n, items_of(0) + items_of(1));
	path_join(path, sizeof(path), dir, "0000000000000002.seg");
	write_file(path, file + start - SEG_HDR, SEG_HDR + 2 * RL(100));
	s = sp_open(dir, 0, 0, SPOOL_FSYNC_NEVER);
	k = read_all(s, got, 8, NULL);
	CHECK_EQ_INT(k, 4);
	for (i = 0; i < k && i < 4; i++)
		CHECK_EQ_INT(got[i], i % 2);
	spool_stats(s, &st);
	CHECK_EQ_INT(st.corrupt_regions, 1);
	spool_close(s);
}

static void write_ack(const char *dir, uint64_t pos)
{
	char path[PATH_MAX], txt[64];

	path_join(path, sizeof(path), dir, "ack");
	snprintf(txt, sizeof(txt), "powerd-spool-ack 1\n%016" PRIx64 " %08" PRIx64 "\n", pos >> 32,
		 pos & 0xffffffffu);
	write_file(path, txt, strlen(txt));
}

static void test_ack_corrupt(void)
{
	static const char *const bad[] = {
		"",
		"powerd-spool-ack 1\n",
		"powerd-spool-ack 1\n0000000000000001 0000001g\n",
		"powerd-spool-ack 1\n0000000000000001 00000098",
		"powerd-spool-ack 1\n0000000000000001 00000098\nx",
		"powerd-spool-ack 2\n0000000000000001 00000098\n",
		"powerd-spool-ack 1\n0000000000000001_00000098\n",
		"powerd-spool-ack 1\n0000000000000001 0000009\n\n",
		"powerd-spool-ack 1\n0000000000000001 00000098x",
		"powerd-spool-ack 1\n0000000100000000 00000098\n", /* id beyond 32 bits */
		"\xff\xfe garbage",
	};
	char dir[PATH_MAX], path[PATH_MAX], tmp[PATH_MAX];
	unsigned got[16];
	uint64_t ends[16];
	struct spool_stats st;
	struct spool *s;
	size_t v;
	int i;

	case_dir(dir, sizeof(dir), "ackbad");
	s = sp_open(dir, 0, 0, SPOOL_FSYNC_BATCH);
	for (i = 0; i < 5; i++)
		CHECK_EQ_INT(append_rec(s, (unsigned)i, 100), 0);
	CHECK_EQ_INT(read_all(s, got, 16, ends), 5);
	CHECK_EQ_INT(ends[0], (1ull << 32) | 0x98); /* SEG_HDR + 120 */
	CHECK_EQ_INT(spool_ack(s, ends[2]), 0);
	spool_close(s);
	s = sp_open(dir, 0, 0, SPOOL_FSYNC_BATCH);
	CHECK_EQ_INT(spool_ack_pos(s), ends[2]);
	CHECK_EQ_INT(read_all(s, got, 16, NULL), 2);
	spool_close(s);

	path_join(path, sizeof(path), dir, "ack");
	for (v = 0; v < sizeof(bad) / sizeof(bad[0]); v++) {
		write_file(path, bad[v], strlen(bad[v]));
		s = sp_open(dir, 0, 0, SPOOL_FSYNC_BATCH);
		/* Replayed from the oldest: all five again, and said so. */
		CHECK_EQ_INT(spool_ack_pos(s), 1ull << 32);
		CHECK_EQ_INT(read_all(s, got, 16, NULL), 5);
		CHECK_EQ_INT(got[0], 0);
		spool_stats(s, &st);
		CHECK_EQ_INT(st.ack_damaged, 1);
		spool_close(s);
	}

	/* A stale ack.tmp is removed and does not count. */
	path_join(tmp, sizeof(tmp), dir, "ack.tmp");
	write_file(tmp, "junk", 4);
	write_ack(dir, ends[0]);
	s = sp_open(dir, 0, 0, SPOOL_FSYNC_BATCH);
	CHECK(file_size(tmp) < 0);
	CHECK_EQ_INT(spool_ack_pos(s), ends[0]);
	CHECK_EQ_INT(read_all(s, got, 16, NULL), 4);
	CHECK_EQ_INT(got[0], 1);
	spool_stats(s, &st);
	CHECK_EQ_INT(st.ack_damaged, 0);
	spool_close(s);

	/* Acks that do not match the segments on disk are damage, not a
	 * reason to skip data: past the end of the segment, in the middle of
	 * a record, at a segment after the last one.  All five are kept. */
	{
		const uint64_t wrong[] = {(1ull << 32) | 0x100000, ends[1] - 7, (7ull << 32) | 0x20,
					  (9ull << 32)};

		for (v = 0; v < sizeof(wrong) / sizeof(wrong[0]); v++) {
			write_ack(dir, wrong[v]);
			s = sp_open(dir, 0, 0, SPOOL_FSYNC_BATCH);
			CHECK_EQ_INT(read_all(s, got, 16, NULL), 5);
			spool_stats(s, &st);
			CHECK_EQ_INT(st.ack_damaged, 1);
			CHECK_EQ_INT(seg_files(dir, -1, NULL, 0), 1);
			spool_close(s);
		}
	}
	/* No ack file at all: nothing was acknowledged. */
	unlink(path);
	s = sp_open(dir, 0, 0, SPOOL_FSYNC_BATCH);
	CHECK_EQ_INT(read_all(s, got, 16, NULL), 5);
	spool_stats(s, &st);
	CHECK_EQ_INT(st.ack_damaged, 0);
	spool_close(s);
}

/* The probe's case: five segments of unsent data and an ack that points at
 * a segment that does not exist yet.  Everything is kept and re-sent. */
static void test_ack_future(void)
{
	char dir[PATH_MAX];
	unsigned got[64];
	struct spool_stats st;
	struct spool *s;
	int i;

	case_dir(dir, sizeof(dir), "ackfuture");
	s = sp_open(dir, 0, 700, SPOOL_FSYNC_NEVER);
	for (i = 0; i < 25; i++)
		CHECK_EQ_INT(append_rec(s, (unsigned)i, 100), 0);
	spool_close(s);
	CHECK_EQ_INT(seg_files(dir, -1, NULL, 0), 5);
	write_ack(dir, 6ull << 32 | SEG_HDR);
	s = sp_open(dir, 0, 700, SPOOL_FSYNC_NEVER);
	CHECK_EQ_INT(seg_files(dir, -1, NULL, 0), 5);
	CHECK_EQ_INT(read_all(s, got, 64, NULL), 25);
	CHECK_EQ_INT(got[0], 0);
	CHECK_EQ_INT(got[24], 24);
	spool_stats(s, &st);
	CHECK_EQ_INT(st.ack_damaged, 1);
	spool_close(s);
}

/* A segment in the middle emptied, cut short or deleted: what it held is
 * known from the next segment's header, and counted as lost. */
static void test_lost_segment(void)
{
	char dir[PATH_MAX], path[PATH_MAX];
	unsigned got[64];
	uint64_t ends[64];
	uint32_t seg2 = 0;
	struct spool_stats st;
	struct spool *s;
	int i, n;

	for (i = 5; i < 10; i++)
		seg2 += items_of((unsigned)i);

	/* Emptied. */
	case_dir(dir, sizeof(dir), "lost_empty");
	s = sp_open(dir, 0, 700, SPOOL_FSYNC_NEVER);
	for (i = 0; i < 15; i++)
		CHECK_EQ_INT(append_rec(s, (unsigned)i, 100), 0);
	spool_close(s);
	CHECK_EQ_INT(seg_files(dir, -1, NULL, 0), 3);
	seg_files(dir, 1, path, sizeof(path));
	CHECK_EQ_INT(truncate(path, 0), 0);
	s = sp_open(dir, 0, 700, SPOOL_FSYNC_NEVER);
	spool_stats(s, &st);
	CHECK_EQ_INT(st.corrupt_items, seg2);
	n = read_all(s, got, 64, NULL);
	CHECK_EQ_INT(n, 10);
	CHECK_EQ_INT(got[5], 10);
	spool_stats(s, &st);
	CHECK_EQ_INT(st.corrupt_items, seg2); /* not again when read */
	spool_close(s);

	/* Cut after its second record: three are lost. */
	case_dir(dir, sizeof(dir), "lost_cut");
	s = sp_open(dir, 0, 700, SPOOL_FSYNC_NEVER);
	for (i = 0; i < 15; i++)
		CHECK_EQ_INT(append_rec(s, (unsigned)i, 100), 0);
	spool_close(s);
	seg_files(dir, 1, path, sizeof(path));
	CHECK_EQ_INT(truncate(path, SEG_HDR + 2 * RL(100)), 0);
	s = sp_open(dir, 0, 700, SPOOL_FSYNC_NEVER);
	spool_stats(s, &st);
	CHECK_EQ_INT(st.corrupt_items, items_of(7) + items_of(8) + items_of(9));
	CHECK_EQ_INT(read_all(s, got, 64, NULL), 12);
	spool_close(s);

	/* Deleted. */
	case_dir(dir, sizeof(dir), "lost_gone");
	s = sp_open(dir, 0, 700, SPOOL_FSYNC_NEVER);
	for (i = 0; i < 15; i++)
		CHECK_EQ_INT(append_rec(s, (unsigned)i, 100), 0);
	spool_close(s);
	seg_files(dir, 1, path, sizeof(path));
	CHECK_EQ_INT(unlink(path), 0);
	s = sp_open(dir, 0, 700, SPOOL_FSYNC_NEVER);
	spool_stats(s, &st);
	CHECK_EQ_INT(st.corrupt_items, seg2);
	CHECK_EQ_INT(read_all(s, got, 64, NULL), 10);
	spool_close(s);

	/* Acknowledged, then deleted (by the spool, or after a crash): no
	 * loss, nothing counted. */
	case_dir(dir, sizeof(dir), "lost_acked");
	s = sp_open(dir, 0, 700, SPOOL_FSYNC_NEVER);
	for (i = 0; i < 15; i++)
		CHECK_EQ_INT(append_rec(s, (unsigned)i, 100), 0);
	CHECK_EQ_INT(read_all(s, got, 64, ends), 15);
	CHECK_EQ_INT(spool_ack(s, ends[11]), 0);
	spool_close(s);
	s = sp_open(dir, 0, 700, SPOOL_FSYNC_NEVER);
	spool_stats(s, &st);
	CHECK_EQ_INT(st.corrupt_items, 0);
	CHECK_EQ_INT(st.corrupt_regions, 0);
	CHECK_EQ_INT(read_all(s, got, 64, NULL), 3);
	spool_close(s);

	/* A damaged segment header is counted; its records are still read. */
	case_dir(dir, sizeof(dir), "lost_header");
	s = sp_open(dir, 0, 700, SPOOL_FSYNC_NEVER);
	for (i = 0; i < 15; i++)
		CHECK_EQ_INT(append_rec(s, (unsigned)i, 100), 0);
	spool_close(s);
	seg_files(dir, 1, path, sizeof(path));
	xor_byte(path, 3, 0xff);
	s = sp_open(dir, 0, 700, SPOOL_FSYNC_NEVER);
	CHECK_EQ_INT(read_all(s, got, 64, NULL), 15);
	spool_stats(s, &st);
	CHECK_EQ_INT(st.corrupt_regions, 1);
	CHECK_EQ_INT(st.corrupt_items, 0);
	spool_close(s);
}

/* The cap, modelled: segments of whole records, the oldest deleted while
 * over the cap, unacknowledged records counted as dropped. */
struct model {
	uint64_t seg_bytes, max;
	int first[4096], count[4096], nseg, head;
	uint64_t size[4096], total, dropped, dropped_items, dropped_bytes;
	int acked; /* records 0..acked-1 are acknowledged */
	size_t reclen;
};

static void model_init(struct model *m)
{
	/* The spool starts with one empty segment. */
	m->nseg = 1;
	m->first[0] = 0;
	m->size[0] = SEG_HDR;
	m->total = SEG_HDR;
}

static void model_append(struct model *m, int idx)
{
	int last = m->nseg - 1;

	if (m->size[last] > SEG_HDR && m->size[last] + m->reclen > m->seg_bytes) {
		last = m->nseg++;
		m->first[last] = idx;
		m->count[last] = 0;
		m->size[last] = SEG_HDR;
		m->total += SEG_HDR;
	}
	if (m->count[last] == 0)
		m->first[last] = idx;
	m->count[last]++;
	m->size[last] += m->reclen;
	m->total += m->reclen;
	while (m->total > m->max && m->nseg - m->head > 1) {
		int g = m->head++, k;

		for (k = m->first[g]; k < m->first[g] + m->count[g]; k++)
			if (k >= m->acked) {
				m->dropped++;
				m->dropped_items += items_of((unsigned)k);
				m->dropped_bytes += m->reclen;
			}
		m->total -= m->size[g];
	}
}

/* An ack deletes the segments wholly before it, as the spool does. */
static void model_ack(struct model *m, int acked)
{
	m->acked = acked;
	while (m->nseg - m->head > 1 && m->first[m->head] + m->count[m->head] <= acked)
		m->total -= m->size[m->head++];
}

static void check_cap(const char *name, int pre, int acked, int more, int reopen)
{
	struct model m = {.seg_bytes = 1024, .max = 4096, .reclen = RL(100)};
	char dir[PATH_MAX];
	unsigned got[512];
	uint64_t ends[512];
	struct spool_stats st;
	struct spool *s;
	int i, n, oldest;

	model_init(&m);
	case_dir(dir, sizeof(dir), name);
	s = sp_open(dir, 4096, 1024, SPOOL_FSYNC_NEVER);
	for (i = 0; i < pre; i++) {
		CHECK_EQ_INT(append_rec(s, (unsigned)i, 100), 0);
		model_append(&m, i);
	}
	if (acked) {
		CHECK(read_all(s, got, 512, ends) >= acked);
		CHECK_EQ_INT(spool_ack(s, ends[acked - 1]), 0);
		model_ack(&m, acked);
	}
	if (reopen) {
		/* Segments from before the open have unknown record counts. */
		spool_close(s);
		s = sp_open(dir, 4096, 1024, SPOOL_FSYNC_NEVER);
	}
	for (i = pre; i < pre + more; i++) {
		CHECK_EQ_INT(append_rec(s, (unsigned)i, 100), 0);
		model_append(&m, i);
	}
	spool_stats(s, &st);
	if (!m.dropped)
		fprintf(stderr, "check_cap(%s): the case drops nothing\n", name);
	CHECK(m.dropped > 0);
	CHECK_EQ_INT(st.dropped_records, m.dropped);
	CHECK_EQ_INT(st.dropped_items, m.dropped_items);
	CHECK_EQ_INT(st.dropped_bytes, m.dropped_bytes);
	CHECK_EQ_INT(st.bytes, m.total);
	CHECK(st.bytes <= 4096);
	CHECK_EQ_INT(dir_seg_bytes(dir), st.bytes);
	/* The newest survive, in order, up to the last one appended. */
	n = read_all(s, got, 512, NULL);
	oldest = m.first[m.head] > m.acked ? m.first[m.head] : m.acked;
	CHECK_EQ_INT(n, pre + more - oldest);
	for (i = 0; i < n && i < 512; i++)
		CHECK_EQ_INT(got[i], oldest + i);
	spool_close(s);
	/* What the cap deleted is not taken for lost segments later. */
	s = sp_open(dir, 4096, 1024, SPOOL_FSYNC_NEVER);
	spool_stats(s, &st);
	CHECK_EQ_INT(st.corrupt_items, 0);
	CHECK_EQ_INT(st.corrupt_regions, 0);
	CHECK_EQ_INT(st.ack_damaged, 0);
	CHECK_EQ_INT(read_all(s, got, 512, NULL), n);
	spool_close(s);
}

static void test_cap(void)
{
	static uint8_t big[5000];
	char dir[PATH_MAX];
	unsigned got[16];
	struct spool_stats st;
	struct spool *s;
	const void *d;
	uint64_t pos;
	size_t len;

	check_cap("cap", 100, 0, 0, 0);
	check_cap("cap_acked", 20, 4, 100, 0); /* ack inside a deleted segment */
	check_cap("cap_reopen", 30, 0, 10, 1); /* counts found by reading */
	check_cap("cap_reopen_acked", 30, 13, 20, 1);

	/* One record bigger than the cap is still appended; the rest goes. */
	case_dir(dir, sizeof(dir), "cap_big");
	s = sp_open(dir, 4096, 1024, SPOOL_FSYNC_NEVER);
	CHECK_EQ_INT(append_rec(s, 1, 100), 0);
	CHECK_EQ_INT(append_rec(s, 2, 100), 0);
	fill(3, big, sizeof(big));
	CHECK_EQ_INT(spool_append(s, big, sizeof(big), 9), 0);
	spool_stats(s, &st);
	CHECK_EQ_INT(st.dropped_records, 2);
	CHECK_EQ_INT(st.dropped_items, items_of(1) + items_of(2));
	CHECK_EQ_INT(st.dropped_bytes, 2 * RL(100));
	CHECK_EQ_INT(st.bytes, SEG_HDR + RL(sizeof(big)));
	pos = spool_ack_pos(s);
	CHECK_EQ_INT(rd(s, &pos, &d, &len, NULL), 1);
	CHECK(rec_ok(3, d, len, sizeof(big)));
	CHECK_EQ_INT(rd(s, &pos, &d, &len, NULL), 0);
	CHECK_EQ_INT(append_rec(s, 4, 100), 0);
	spool_stats(s, &st);
	CHECK_EQ_INT(st.dropped_records, 3);
	CHECK_EQ_INT(st.dropped_items, items_of(1) + items_of(2) + 9);
	CHECK_EQ_INT(read_all(s, got, 16, NULL), 1);
	CHECK_EQ_INT(got[0], 4);
	spool_close(s);
}

static void test_fsync(void)
{
	char dir[PATH_MAX], path[PATH_MAX], txt[64];
	struct spool_stats st;
	uint64_t base, ends[64];
	unsigned got[64];
	struct spool *s;
	int64_t t0, t;
	double secs;
	int i;

	/* BATCH: one per append; a new segment adds a directory fsync. */
	case_dir(dir, sizeof(dir), "fs_batch");
	s = sp_open(dir, 0, 1000, SPOOL_FSYNC_BATCH);
	spool_stats(s, &st);
	base = st.fsyncs;
	for (i = 0; i < 8; i++) /* a header and 8 x 120 bytes fill a 1000-byte segment */
		CHECK_EQ_INT(append_rec(s, (unsigned)i, 100), 0);
	spool_stats(s, &st);
	CHECK_EQ_INT(st.fsyncs - base, 8);
	CHECK_EQ_INT(append_rec(s, 8, 100), 0);
	spool_stats(s, &st);
	CHECK_EQ_INT(st.fsyncs - base, 10);
	/* The first ack is written at once: file and directory. */
	CHECK_EQ_INT(read_all(s, got, 64, ends), 9);
	CHECK_EQ_INT(spool_ack(s, ends[0]), 0);
	spool_stats(s, &st);
	CHECK_EQ_INT(st.fsyncs - base, 12);
	spool_close(s);

	/* NEVER: none, whatever happens. */
	case_dir(dir, sizeof(dir), "fs_never");
	s = sp_open(dir, 2000, 1000, SPOOL_FSYNC_NEVER);
	for (i = 0; i < 50; i++)
		CHECK_EQ_INT(append_rec(s, (unsigned)i, 100), 0);
	CHECK(read_all(s, got, 64, ends) > 5);
	CHECK_EQ_INT(spool_ack(s, ends[3]), 0);
	CHECK_EQ_INT(spool_tick(s, now_ns() + 10000000000LL), 0);
	CHECK_EQ_INT(spool_sync(s), 0);
	spool_stats(s, &st);
	CHECK_EQ_INT(st.fsyncs, 0);
	spool_close(s);

	/* INTERVAL: spool_tick() syncs when dirty and the interval passed;
	 * acks after the first are coalesced to the same interval. */
	case_dir(dir, sizeof(dir), "fs_interval");
	s = sp_open(dir, 0, 0, SPOOL_FSYNC_INTERVAL);
	t = now_ns();
	for (i = 0; i < 5; i++)
		CHECK_EQ_INT(append_rec(s, (unsigned)i, 100), 0);
	spool_stats(s, &st);
	base = st.fsyncs; /* the new segment's directory entry */
	CHECK_EQ_INT(spool_tick(s, t), 0);
	spool_stats(s, &st);
	CHECK_EQ_INT(st.fsyncs - base, 0);
	CHECK_EQ_INT(spool_tick(s, t + 2000000000LL), 0);
	spool_stats(s, &st);
	CHECK_EQ_INT(st.fsyncs - base, 1);
	CHECK_EQ_INT(spool_tick(s, t + 2100000000LL), 0); /* clean */
	CHECK_EQ_INT(append_rec(s, 5, 100), 0);
	CHECK_EQ_INT(spool_tick(s, t + 2500000000LL), 0); /* too soon */
	spool_stats(s, &st);
	CHECK_EQ_INT(st.fsyncs - base, 1);
	CHECK_EQ_INT(spool_tick(s, t + 3100000000LL), 0);
	spool_stats(s, &st);
	CHECK_EQ_INT(st.fsyncs - base, 2);

	CHECK_EQ_INT(read_all(s, got, 64, ends), 6);
	CHECK_EQ_INT(spool_ack(s, ends[0]), 0); /* written now: +2 */
	CHECK_EQ_INT(spool_ack(s, ends[1]), 0); /* coalesced */
	spool_stats(s, &st);
	CHECK_EQ_INT(st.fsyncs - base, 4);
	path_join(path, sizeof(path), dir, "ack");
	memset(txt, 0, sizeof(txt));
	read_file(path, txt, sizeof(txt) - 1);
	CHECK_EQ_INT(strtoull(txt + 36, NULL, 16), ends[0] & 0xffffffffu);
	CHECK_EQ_INT(spool_tick(s, now_ns() + 2000000000LL), 0);
	spool_stats(s, &st);
	CHECK_EQ_INT(st.fsyncs - base, 6);
	memset(txt, 0, sizeof(txt));
	read_file(path, txt, sizeof(txt) - 1);
	CHECK_EQ_INT(strtoull(txt + 36, NULL, 16), ends[1] & 0xffffffffu);
	spool_close(s);

	/* Figures for the report (not asserted): BATCH on this disk. */
	case_dir(dir, sizeof(dir), "fs_rate");
	s = sp_open(dir, 0, 0, SPOOL_FSYNC_BATCH);
	t0 = now_ns();
	for (i = 0; i < 200; i++)
		append_rec(s, (unsigned)i, 1000);
	secs = (double)(now_ns() - t0) / 1e9;
	printf("spool: BATCH appends of 1 KB: %.0f/s (one fdatasync each)\n", 200 / secs);
	CHECK_EQ_INT(read_all(s, got, 0, NULL), 200);
	t0 = now_ns();
	for (i = 0; i < 50; i++) {
		uint64_t pos = spool_ack_pos(s);
		const void *d;
		size_t len;

		rd(s, &pos, &d, &len, NULL);
		spool_ack(s, pos);
		spool_sync(s); /* force the write: not coalesced */
	}
	secs = (double)(now_ns() - t0) / 1e9;
	printf("spool: ack file writes (tmp+fsync+rename+dir fsync): %.0f/s\n", 50 / secs);
	spool_close(s);
}

/* A write that fails half way (disk full; here the file size limit) is cut
 * back, so the next append is not hidden behind a torn record, and the
 * caller can append the same batch again without a duplicate. */
static void test_write_failure(void)
{
	struct rlimit old, lim;
	char dir[PATH_MAX], path[PATH_MAX];
	unsigned got[8];
	struct spool_stats st;
	struct spool *s;
	int r;

	case_dir(dir, sizeof(dir), "wfail");
	s = sp_open(dir, 0, 0, SPOOL_FSYNC_NEVER);
	for (r = 0; r < 3; r++)
		CHECK_EQ_INT(append_rec(s, (unsigned)r, 100), 0);
	seg_files(dir, 0, path, sizeof(path));
	signal(SIGXFSZ, SIG_IGN);
	getrlimit(RLIMIT_FSIZE, &old);
	lim = old;
	lim.rlim_cur = SEG_HDR + 3 * RL(100) + 50; /* room for part of the next record */
	CHECK_EQ_INT(setrlimit(RLIMIT_FSIZE, &lim), 0);
	r = append_rec(s, 3, 100);
	setrlimit(RLIMIT_FSIZE, &old);
	CHECK_EQ_INT(r, -EFBIG);
	CHECK_EQ_INT(file_size(path), SEG_HDR + 3 * RL(100));
	spool_stats(s, &st);
	CHECK_EQ_INT(st.bytes, SEG_HDR + 3 * RL(100));
	CHECK_EQ_INT(st.records_appended, 3);
	CHECK_EQ_INT(append_rec(s, 3, 100), 0); /* the same batch again */
	CHECK_EQ_INT(read_all(s, got, 8, NULL), 4);
	CHECK_EQ_INT(got[3], 3);
	spool_close(s);
	s = sp_open(dir, 0, 0, SPOOL_FSYNC_NEVER);
	spool_stats(s, &st);
	CHECK_EQ_INT(st.torn_tails, 0);
	CHECK_EQ_INT(read_all(s, got, 8, NULL), 4);
	spool_close(s);
}

static long maxrss_kb(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_maxrss;
}

static void test_backlog(void)
{
	enum { N = 100000, LEN = 1024 };
	char dir[PATH_MAX];
	uint8_t rec[LEN];
	struct spool_stats st;
	struct spool *s;
	const void *d;
	long rss0, rss1;
	int64_t t0;
	double wsecs, rsecs;
	uint64_t pos;
	size_t len;
	int i, n = 0, bad = 0, r;

	case_dir(dir, sizeof(dir), "backlog");
	s = sp_open(dir, 0, 0, SPOOL_FSYNC_NEVER);
	memset(rec, 0x5a, sizeof(rec));
	rss0 = maxrss_kb();
	t0 = now_ns();
	for (i = 0; i < N; i++) {
		memcpy(rec, &i, sizeof(i));
		rec[LEN - 1] = (uint8_t)i;
		if (spool_append(s, rec, LEN, 1))
			bad++;
	}
	wsecs = (double)(now_ns() - t0) / 1e9;
	CHECK_EQ_INT(bad, 0);
	spool_stats(s, &st);
	CHECK_EQ_INT(st.unacked_bytes, (uint64_t)N * RL(LEN));

	t0 = now_ns();
	pos = spool_ack_pos(s);
	while ((r = rd(s, &pos, &d, &len, NULL)) == 1) {
		const uint8_t *p = d;
		int k;

		memcpy(&k, p, sizeof(k));
		if (len != LEN || k != n || p[LEN - 1] != (uint8_t)n || p[LEN / 2] != 0x5a)
			bad++;
		n++;
		/* Acknowledged as the uploader would, a batch at a time. */
		if (n % 1000 == 0)
			spool_ack(s, pos);
	}
	spool_ack(s, pos);
	rsecs = (double)(now_ns() - t0) / 1e9;
	rss1 = maxrss_kb();
	CHECK_EQ_INT(r, 0);
	CHECK_EQ_INT(n, N);
	CHECK_EQ_INT(bad, 0);
	spool_stats(s, &st);
	CHECK_EQ_INT(st.unacked_bytes, 0);
	CHECK_EQ_INT(st.records_acked, N);
	CHECK_EQ_INT(seg_files(dir, -1, NULL, 0), 1);
	CHECK(rss1 - rss0 < 16 * 1024);
	printf("spool: 100 MB backlog: append %.0f MB/s, read+verify %.0f MB/s, "
	       "max RSS growth %ld KB\n",
	       (double)N * LEN / 1e6 / wsecs, (double)N * LEN / 1e6 / rsecs, rss1 - rss0);
	spool_close(s);
}

static void test_dir_contents(void)
{
	char dir[PATH_MAX], path[PATH_MAX], other[3][PATH_MAX];
	static const char *const names[] = {"notes.txt", "0000000000000001.seg.bak",
					    "00000000000000AB.seg"};
	struct spool_opts o = {.fsync = SPOOL_FSYNC_NEVER, .payload = 1};
	struct spool_stats st;
	struct spool *s, *s2 = NULL;
	unsigned got[8];
	uint64_t ends[8];
	int i;

	case_dir(dir, sizeof(dir), "names/deeper/spool"); /* parents created */
	s = sp_open(dir, 0, 0, SPOOL_FSYNC_NEVER);
	/* A second opener (another powerd) is refused. */
	o.dir = dir;
	CHECK_EQ_INT(spool_open(&o, &s2), -EBUSY);
	CHECK(s2 == NULL);
	for (i = 0; i < 3; i++) {
		path_join(other[i], sizeof(other[i]), dir, names[i]);
		write_file(other[i], "x", 1);
	}
	CHECK_EQ_INT(append_rec(s, 1, 100), 0);
	spool_close(s);

	/* Foreign files are ignored and left alone, even across acks. */
	s = sp_open(dir, 0, 64, SPOOL_FSYNC_NEVER);
	CHECK_EQ_INT(append_rec(s, 2, 100), 0);
	CHECK_EQ_INT(read_all(s, got, 8, ends), 2);
	CHECK_EQ_INT(spool_ack(s, ends[1]), 0);
	spool_close(s);
	for (i = 0; i < 3; i++)
		CHECK_EQ_INT(file_size(other[i]), 1);

	/* Named like a segment but not one: a directory, an id beyond 32 bits,
	 * an unreadable file.  Each is set aside and counted; the spool opens
	 * and its data is all there. */
	s = sp_open(dir, 0, 0, SPOOL_FSYNC_NEVER);
	CHECK_EQ_INT(append_rec(s, 3, 100), 0);
	spool_close(s);
	path_join(path, sizeof(path), dir, "00000000000000ff.seg");
	CHECK_EQ_INT(mkdir(path, 0750), 0);
	path_join(path, sizeof(path), dir, "ffffffffffffffff.seg");
	write_file(path, "", 0);
	if (geteuid() != 0) {
		path_join(path, sizeof(path), dir, "0000000000000100.seg");
		write_file(path, "", 0);
		chmod(path, 0);
	}
	CHECK_EQ_INT(spool_open(&o, &s2), 0);
	if (s2) {
		spool_stats(s2, &st);
		CHECK_EQ_INT(st.files_skipped, geteuid() != 0 ? 3 : 2);
		CHECK_EQ_INT(read_all(s2, got, 8, NULL), 1);
		CHECK_EQ_INT(got[0], 3);
		/* New segments get ids of their own. */
		CHECK_EQ_INT(append_rec(s2, 4, 100), 0);
		CHECK_EQ_INT(read_all(s2, got, 8, NULL), 2);
		spool_close(s2);
	}
	path_join(path, sizeof(path), dir, "00000000000000ff.seg.bad");
	CHECK(file_size(path) >= 0);
	path_join(path, sizeof(path), dir, "ffffffffffffffff.seg.bad");
	CHECK_EQ_INT(file_size(path), 0);
	/* Set aside once: the next open finds nothing to skip. */
	CHECK_EQ_INT(spool_open(&o, &s2), 0);
	if (s2) {
		spool_stats(s2, &st);
		CHECK_EQ_INT(st.files_skipped, 0);
		CHECK_EQ_INT(read_all(s2, got, 8, NULL), 2);
		spool_close(s2);
	}
}

/* Format 1, as powerd 0.1.0 wrote it (tests/fixtures/spool-v1): read as it
 * is, items unknown, payload version 1; appends go to a new format-2
 * segment; the cap reports the format-1 records it deletes; a torn tail of
 * a format-1 segment is cut like any other. */
static void drop_counter(void *arg, uint64_t pos, const struct spool_rec *rec)
{
	(void)pos;
	if (rec->items == SPOOL_ITEMS_UNKNOWN && rec->payload == 1)
		(*(int *)arg)++;
}

static void test_format1(void)
{
	char dir[PATH_MAX], path[PATH_MAX], cmd[3 * PATH_MAX];
	struct spool_opts o = {.fsync = SPOOL_FSYNC_NEVER, .payload = 1};
	struct spool_stats st;
	struct spool_rec rec;
	struct spool *s = NULL;
	uint64_t pos;
	uint8_t head[4];
	int n = 0, r, dropped = 0;

	case_dir(dir, sizeof(dir), "format1");
	/* The tests run from the source tree (tests/run.sh does). */
	snprintf(cmd, sizeof(cmd), "mkdir -p %s && cp tests/fixtures/spool-v1/*.seg %s/", dir, dir);
	if (system(cmd) != 0) {
		fprintf(stderr,
			"test_format1: the fixture is missing (run from the source tree)\n");
		CHECK(0);
		return;
	}
	o.dir = dir;
	CHECK_EQ_INT(spool_open(&o, &s), 0);
	if (!s)
		return;
	spool_stats(s, &st);
	CHECK_EQ_INT(st.corrupt_regions, 0);
	CHECK_EQ_INT(st.ack_damaged, 0);
	pos = spool_ack_pos(s);
	while ((r = spool_read(s, &pos, &rec)) == 1) {
		CHECK_EQ_INT(rec.items, SPOOL_ITEMS_UNKNOWN);
		CHECK_EQ_INT(rec.payload, 1);
		CHECK(rec.len > 0);
		n++;
	}
	CHECK_EQ_INT(r, 0);
	CHECK_EQ_INT(n, 10);
	CHECK_EQ_INT(append_rec(s, 1, 100), 0);
	CHECK_EQ_INT(seg_files(dir, -1, NULL, 0), 11);
	seg_files(dir, 10, path, sizeof(path));
	CHECK_EQ_INT(read_file(path, head, 4), 4);
	CHECK(!memcmp(head, "PWSG", 4));
	CHECK_EQ_INT(read_all(s, (unsigned[16]){0}, 16, NULL), 11);
	spool_close(s);

	/* The cap: a 10 KiB spool keeps the newest, and says what it deleted. */
	o.max_bytes = 10240;
	o.on_drop = drop_counter;
	o.drop_arg = &dropped;
	CHECK_EQ_INT(spool_open(&o, &s), 0);
	if (!s)
		return;
	CHECK_EQ_INT(append_rec(s, 2, 100), 0);
	spool_stats(s, &st);
	CHECK(st.bytes <= 10240);
	CHECK(dropped >= 8);
	CHECK_EQ_INT(st.dropped_records, (uint64_t)dropped);
	spool_close(s);

	/* A torn format-1 tail (the last segment was format 1). */
	case_dir(dir, sizeof(dir), "format1_torn");
	snprintf(cmd, sizeof(cmd),
		 "mkdir -p %s && cp tests/fixtures/spool-v1/0000000000000001.seg %s/", dir, dir);
	CHECK_EQ_INT(system(cmd), 0);
	seg_files(dir, 0, path, sizeof(path));
	CHECK_EQ_INT(truncate(path, file_size(path) - 30), 0);
	o.max_bytes = 0;
	o.on_drop = NULL;
	o.dir = dir;
	CHECK_EQ_INT(spool_open(&o, &s), 0);
	if (!s)
		return;
	spool_stats(s, &st);
	CHECK_EQ_INT(st.torn_tails, 1);
	CHECK_EQ_INT(file_size(path), 0);
	CHECK_EQ_INT(append_rec(s, 3, 100), 0);
	CHECK_EQ_INT(read_all(s, (unsigned[16]){0}, 16, NULL), 1);
	spool_close(s);
}

int main(void)
{
	const char *tmp = getenv("TMPDIR");

	snprintf(root, sizeof(root), "%s/test_spool.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(root)) {
		perror("mkdtemp");
		return 1;
	}
	atexit(cleanup);
	srand(1);
	/* The spool logs what it repairs; the cases cause plenty of that. */
	log_set_level(getenv("SPOOL_TEST_VERBOSE") ? LOG_DEBUG : LOG_CRIT);

	test_crc();
	test_format();
	test_format1();
	test_segment_header();
	test_roundtrip();
	test_reopen();
	test_torn_tail();
	test_flipped();
	test_garbage();
	test_long_garbage();
	test_ack_corrupt();
	test_ack_future();
	test_lost_segment();
	test_cap();
	test_fsync();
	test_dir_contents();
	test_write_failure();
	test_backlog();
	return check_result();
}

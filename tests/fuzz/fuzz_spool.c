// fuzz-extra-sources: daemon/spool.c daemon/fsutil.c
/* libFuzzer target for the spool's recovery and reader.  The input becomes
 * the spool directory's files:
 *
 *   byte 0   flags: 1 = an ack file follows, 2 = split the rest into two
 *            segments, 4 = a 1 KiB cap, 0x18 = segment size (default, 64,
 *            256, 4096 bytes), 0x20 = give each segment a valid header (so
 *            the records behind it are reached without luck), 0x40 = the
 *            second header also records the first segment's size
 *   [1 byte  ack file length, then that many bytes]   if flags & 1
 *   [2 bytes split offset, little-endian]             if flags & 2
 *   the rest: segment 1 (and segment 2 after the split)
 *
 * Whatever the bytes, spool_open() succeeds, every read terminates, the
 * byte counts match the files, a record appended after recovery is the last
 * one read back (never hidden behind garbage), and an ack at the end leaves
 * nothing to read, also after reopening. */
#include <dirent.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "spool.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char fuzz_dir[64];

#define FUZZ_ASSERT(cond)                                                                          \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "fuzz_spool:%d: %s\n", __LINE__, #cond);                   \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

static void dir_clean(void)
{
	DIR *d = opendir(fuzz_dir);
	struct dirent *de;

	if (!d)
		return;
	while ((de = readdir(d)))
		if (de->d_name[0] != '.')
			unlinkat(dirfd(d), de->d_name, 0);
	closedir(d);
}

static void dir_remove(void)
{
	dir_clean();
	rmdir(fuzz_dir);
}

/* A segment header as spool.h describes it. */
static void seg_header(uint8_t *h, uint32_t id, uint64_t prev_bytes, uint32_t prev_items)
{
	uint32_t v[8] = {0x47535750u,
			 1,
			 id,
			 prev_bytes ? 1 : 0,
			 (uint32_t)prev_bytes,
			 (uint32_t)(prev_bytes >> 32),
			 prev_items,
			 0};

	memcpy(h, v, 28);
	v[7] = spool_crc32c(0, h, 28);
	memcpy(h + 28, &v[7], 4);
}

static void put_file_hdr(const char *name, const uint8_t *hdr, const uint8_t *p, size_t n)
{
	char path[128];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", fuzz_dir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	FUZZ_ASSERT(fd >= 0);
	FUZZ_ASSERT(!hdr || write(fd, hdr, SPOOL_SEG_HDR) == SPOOL_SEG_HDR);
	FUZZ_ASSERT(n == 0 || write(fd, p, n) == (ssize_t)n);
	close(fd);
}

static void put_file(const char *name, const uint8_t *p, size_t n)
{
	put_file_hdr(name, NULL, p, n);
}

/* Sum of the segment files' sizes, and how many there are. */
static uint64_t seg_bytes(int *count)
{
	DIR *d = opendir(fuzz_dir);
	struct dirent *de;
	struct stat sb;
	uint64_t sum = 0;

	*count = 0;
	FUZZ_ASSERT(d);
	while ((de = readdir(d))) {
		size_t n = strlen(de->d_name);

		if (n == 20 && !strcmp(de->d_name + 16, ".seg") &&
		    !fstatat(dirfd(d), de->d_name, &sb, 0)) {
			sum += (uint64_t)sb.st_size;
			(*count)++;
		}
	}
	closedir(d);
	return sum;
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

/* Read to the end; returns the records read, the last one in *last. */
static unsigned read_to_end(struct spool *s, uint64_t *pos, const void **last, size_t *last_len)
{
	uint64_t prev = *pos;
	unsigned n = 0;
	const void *d;
	size_t len;
	int r;

	*last = NULL;
	*last_len = 0;
	while ((r = rd(s, pos, &d, &len, NULL)) == 1) {
		FUZZ_ASSERT(*pos > prev);
		FUZZ_ASSERT(len <= SPOOL_RECORD_MAX);
		prev = *pos;
		*last = d;
		*last_len = len;
		n++;
	}
	FUZZ_ASSERT(r == 0);
	return n;
}

static struct spool *open_spool(uint8_t flags)
{
	static const uint64_t segb[4] = {0, 64, 256, 4096};
	struct spool_opts o = {
		.dir = fuzz_dir,
		.max_bytes = flags & 4 ? 1024 : 0,
		.segment_bytes = segb[(flags >> 3) & 3],
		.fsync = SPOOL_FSYNC_NEVER,
		.payload = 1,
	};
	struct spool *s = NULL;

	/* Corruption is never fatal: only I/O errors may fail an open. */
	FUZZ_ASSERT(spool_open(&o, &s) == 0 && s);
	return s;
}

static void check_stats(struct spool *s)
{
	struct spool_stats st;
	int nseg;

	spool_stats(s, &st);
	FUZZ_ASSERT(st.bytes == seg_bytes(&nseg));
	FUZZ_ASSERT(st.unacked_bytes <= st.bytes);
	FUZZ_ASSERT(nseg >= 1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t flags, marker[40], pad[300];
	const void *last;
	size_t last_len, split, i;
	struct spool_stats st;
	struct spool *s;
	uint64_t pos;
	uint32_t h;
	int nseg;

	if (!fuzz_dir[0]) {
		const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";

		snprintf(fuzz_dir, sizeof(fuzz_dir), "%s/fuzz_spool.XXXXXX", base);
		FUZZ_ASSERT(mkdtemp(fuzz_dir));
		atexit(dir_remove);
		log_set_level(LOG_EMERG); /* it logs every repair */
	}
	dir_clean();
	if (size < 1)
		return 0;
	flags = data[0];
	data++;
	size--;
	if (flags & 1) {
		size_t n = size ? data[0] : 0;

		if (size)
			data++, size--;
		if (n > size)
			n = size;
		put_file("ack", data, n);
		data += n;
		size -= n;
	}
	split = size;
	if ((flags & 2) && size >= 2) {
		unsigned at = (unsigned)data[0] | (unsigned)data[1] << 8;

		data += 2;
		size -= 2;
		split = at % (size + 1);
	}
	{
		uint8_t h1[SPOOL_SEG_HDR], h2[SPOOL_SEG_HDR];
		bool hdr = flags & 0x20;

		seg_header(h1, 1, 0, 0);
		/* Claims of a size and count that need not match: the chain
		 * check must survive whatever the header says. */
		seg_header(h2, 2, flags & 0x40 ? SPOOL_SEG_HDR + split + (size & 0xff) : 0,
			   (uint32_t)size);
		put_file_hdr("0000000000000001.seg", hdr ? h1 : NULL, data, split);
		if (split < size)
			put_file_hdr("0000000000000002.seg", hdr ? h2 : NULL, data + split,
				     size - split);
	}

	s = open_spool(flags);
	check_stats(s);
	pos = spool_ack_pos(s);
	read_to_end(s, &pos, &last, &last_len);

	/* Appended now, read back last: never hidden behind what was there.
	 * It depends on the whole input, so no input can forge a record
	 * that swallows it. */
	h = spool_crc32c(0, data, size);
	snprintf((char *)marker, sizeof(marker), "fuzz marker %08x %02x", h, flags);
	memset(pad, 'p', sizeof(pad));
	for (i = 0; i < 4; i++) /* enough to hit the cap and roll segments */
		FUZZ_ASSERT(spool_append(s, pad, sizeof(pad), 1) == 0);
	FUZZ_ASSERT(spool_append(s, marker, strlen((char *)marker), 1) == 0);
	check_stats(s);
	pos = spool_ack_pos(s);
	FUZZ_ASSERT(read_to_end(s, &pos, &last, &last_len) >= 1);
	FUZZ_ASSERT(last_len == strlen((char *)marker) && !memcmp(last, marker, last_len));

	FUZZ_ASSERT(spool_ack(s, pos) == 0);
	spool_stats(s, &st);
	FUZZ_ASSERT(st.unacked_bytes == 0);
	FUZZ_ASSERT(seg_bytes(&nseg) == st.bytes && nseg == 1);
	spool_close(s);

	s = open_spool(flags);
	pos = spool_ack_pos(s);
	FUZZ_ASSERT(read_to_end(s, &pos, &last, &last_len) == 0);
	FUZZ_ASSERT(spool_append(s, marker, 3, 1) == 0);
	pos = spool_ack_pos(s);
	FUZZ_ASSERT(read_to_end(s, &pos, &last, &last_len) == 1 && last_len == 3);
	spool_close(s);
	return 0;
}

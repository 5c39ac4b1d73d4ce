/* vmpulse: the real-kernel test's meter, and its referee (tests/vm/guest-init.sh).
 *
 *   vmpulse drive PULL STEP...         STEP: down:MS or up:MS (MS may be 0 or decimal)
 *   vmpulse expect MIN_PULSE_MS FILE   what powerd must count from the kernel's events
 *   vmpulse offset STRUCT MEMBER [BTF] a kernel struct member's offset, for a kprobe
 *   vmpulse now                        CLOCK_MONOTONIC in nanoseconds
 *
 * drive writes "pull-down"/"pull-up" into a gpio-sim line's sysfs pull and
 * holds each level for MS from the previous write, on absolute deadlines so
 * that a late wakeup does not shift the rest.  Under a busy host the guest
 * still stalls at random, so the widths it produces are only intended.
 *
 * expect therefore judges from what the kernel made for powerd: FILE is the
 * ftrace output of the kprobes guest-init.sh places where the GPIO
 * character device fills in each line event, with the event's own timestamp
 * and edge kind (the record powerd reads).  It prints shell assignments (and
 * '#' comments) for eval.  The rule is the one the README gives for
 * min_pulse_ms, restated over the observed periods: a period between two
 * level changes shorter than MIN_PULSE_MS is a glitch; the others, with runs
 * of one level merged, are the settled signal, and a flash is an active run
 * between two inactive ones, stamped with its start.  The last period counts
 * as settled: the line stays where the driver left it.
 *
 * Built static on the host (tests/vm/run.sh): the guest has only busybox. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/btf.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define NS_PER_MS 1000000LL
#define NS_PER_S  1000000000LL

/* The uAPI edge kinds (GPIOEVENT_EVENT_* and GPIO_V2_LINE_EVENT_* agree). */
#define EV_RISING  1
#define EV_FALLING 2

static int64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * NS_PER_S + ts.tv_nsec;
}

static int parse_ms(const char *s, int64_t *ns)
{
	char *end;
	double ms;

	errno = 0;
	ms = strtod(s, &end);
	if (errno || end == s || *end || ms < 0 || ms > 3600e3)
		return -1;
	*ns = (int64_t)(ms * NS_PER_MS + 0.5);
	return 0;
}

static int drive(int argc, char **argv)
{
	struct sched_param sp = {.sched_priority = 1};
	int64_t deadline, worst = 0;
	int fd, i, changes = 0;
	char cur[16] = ""; /* the pull as sysfs shows it: "pull-up\n" */

	if (argc < 2) {
		fprintf(stderr, "vmpulse drive: want PULL STEP...\n");
		return 2;
	}
	/* Above powerd and the shell, below the IRQ threads (FIFO 50): the
	 * wakeups are on time within the guest, and each edge's event is still
	 * queued before the next write changes the level it reads. */
	sched_setscheduler(0, SCHED_FIFO, &sp);
	fd = open(argv[0], O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "vmpulse drive: %s: %s\n", argv[0], strerror(errno));
		return 1;
	}
	/* The level before the first step, to count the edges the steps make. */
	if (pread(fd, cur, sizeof(cur) - 1, 0) < 0) {
		fprintf(stderr, "vmpulse drive: read %s: %s\n", argv[0], strerror(errno));
		close(fd);
		return 1;
	}
	deadline = mono_ns();
	for (i = 1; i < argc; i++) {
		const char *step = argv[i], *word;
		struct timespec ts;
		int64_t hold, t;

		if (!strncmp(step, "down:", 5))
			word = "pull-down";
		else if (!strncmp(step, "up:", 3))
			word = "pull-up";
		else
			word = NULL;
		if (!word || parse_ms(strchr(step, ':') + 1, &hold)) {
			fprintf(stderr, "vmpulse drive: bad step '%s'\n", step);
			close(fd);
			return 2;
		}
		ts.tv_sec = deadline / NS_PER_S;
		ts.tv_nsec = deadline % NS_PER_S;
		while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
			;
		t = mono_ns();
		if (pwrite(fd, word, strlen(word), 0) < 0) {
			fprintf(stderr, "vmpulse drive: write %s: %s\n", word, strerror(errno));
			close(fd);
			return 1;
		}
		if (strncmp(cur, word, strlen(word)) || cur[strlen(word)] != '\n')
			changes++;
		snprintf(cur, sizeof(cur), "%s\n", word);
		if (t - deadline > worst)
			worst = t - deadline;
		printf("%s %" PRId64 " late_us=%" PRId64 "\n", word, t, (t - deadline) / 1000);
		deadline += hold;
	}
	printf("CHANGES=%d\n# %d writes, %d level changes, the latest %.3f ms after its deadline\n",
	       changes, argc - 1, changes, (double)worst / NS_PER_MS);
	close(fd);
	return 0;
}

/* The kprobes guest-init.sh sets, of which only the IRQ threads' calls
 * ("irq/N-consumer") are line events:
 *   edge:    ts= id=  the v2 uAPI record linereq_put_event() queues;
 *   v1ts:    ts=      the timestamp lineevent_irq_thread() copies into its v1
 *                     record (the hard IRQ's, read at the thread's entry);
 *   v1level: level=   what its gpiod_get_value_cansleep() then returned, the
 *                     level the record's edge kind is made from.
 * Fields are looked up by name. */
struct reader {
	int64_t v1_ts;
	int v1_pending;
};

static int field(const char *line, const char *key, int64_t *v)
{
	const char *p = strstr(line, key);
	char *end;

	if (!p)
		return -1;
	p += strlen(key);
	errno = 0;
	*v = strtoll(p, &end, 10);
	return errno || end == p ? -1 : 0;
}

/* 1 and the event for a line that completes one, 0 for any other line. */
static int parse_event(struct reader *r, const char *line, int64_t *ts, int *id)
{
	int64_t v;

	if (line[0] == '#' || !strstr(line, " comm=\"irq/"))
		return 0;
	if (strstr(line, " edge: ")) {
		if (field(line, " ts=", ts) || field(line, " id=", &v))
			return 0;
		*id = (int)v;
		return *id == EV_RISING || *id == EV_FALLING;
	}
	if (strstr(line, " v1ts: ")) {
		r->v1_pending = !field(line, " ts=", &r->v1_ts) && r->v1_ts > 0;
		return 0;
	}
	if (strstr(line, " v1level: ") && r->v1_pending) {
		r->v1_pending = 0;
		if (field(line, " level=", &v) || v < 0)
			return 0;
		*ts = r->v1_ts;
		*id = v ? EV_RISING : EV_FALLING;
		return 1;
	}
	return 0;
}

struct range {
	int n;
	int64_t min, max;
};

static void range_add(struct range *r, int64_t v)
{
	if (!r->n || v < r->min)
		r->min = v;
	if (!r->n || v > r->max)
		r->max = v;
	r->n++;
}

static void range_print(const char *what, const struct range *r)
{
	if (r->n)
		printf("# %d %s %.3f..%.3f ms\n", r->n, what, (double)r->min / NS_PER_MS,
		       (double)r->max / NS_PER_MS);
	else
		printf("# 0 %s\n", what);
}

/* The settled signal, run by run: SETTLE is called for each period at least
 * min_pulse long, in order. */
struct settled {
	int level;     /* -1 before the first settled period */
	int64_t since; /* start of the current run */
	int64_t flashes, last_flash, interval;
	struct range on; /* widths of the flashes' active runs */
};

static void settle(struct settled *s, int level, int64_t start)
{
	if (s->level == level)
		return; /* the run goes on across a glitch */
	if (s->level == 1 && level == 0) {
		/* An active run between two inactive ones; one that was already
		 * active before the first event has an unseen start. */
		if (s->flashes)
			s->interval = s->since - s->last_flash;
		s->last_flash = s->since;
		s->flashes++;
		range_add(&s->on, start - s->since);
	}
	s->level = level;
	s->since = start;
}

static int expect(int argc, char **argv)
{
	struct settled s = {.level = -1};
	struct reader rd = {0};
	struct range glitch = {0};
	int64_t min_pulse, raw_since = 0, prev_ts = 0, first = 0;
	int64_t edges = 0, repeats = 0, glitches = 0, disorder = 0;
	int raw = -1;
	char line[1024];
	FILE *f;

	if (argc != 2 || parse_ms(argv[0], &min_pulse)) {
		fprintf(stderr, "vmpulse expect: want MIN_PULSE_MS FILE\n");
		return 2;
	}
	f = fopen(argv[1], "r");
	if (!f) {
		fprintf(stderr, "vmpulse expect: %s: %s\n", argv[1], strerror(errno));
		return 1;
	}
	while (fgets(line, sizeof(line), f)) {
		int64_t ts;
		int id, level;

		if (!parse_event(&rd, line, &ts, &id))
			continue;
		/* powerd's level: 1 while the LED is on, which its active-low
		 * request reports as a rising edge. */
		level = id == EV_RISING;
		if (edges && ts < prev_ts)
			disorder++;
		if (!edges)
			first = ts;
		prev_ts = ts;
		edges++;
		if (level == raw) {
			repeats++; /* a lost or misreported edge: no level change */
			continue;
		}
		if (raw >= 0) {
			int64_t d = ts - raw_since;

			if (d < min_pulse) {
				glitches++;
				range_add(&glitch, d);
			} else {
				settle(&s, raw, raw_since);
			}
		}
		raw = level;
		raw_since = ts;
	}
	fclose(f);
	if (raw >= 0)
		settle(&s, raw, raw_since);

	printf("EDGES=%" PRId64 "\nFLASHES=%" PRId64 "\nGLITCHES=%" PRId64 "\n", edges, s.flashes,
	       glitches);
	printf("REPEATS=%" PRId64 "\nDISORDER=%" PRId64 "\n", repeats, disorder);
	printf("INTERVAL_NS=%" PRId64 "\nLAST_FLASH_NS=%" PRId64 "\nLAST_EDGE_NS=%" PRId64 "\n",
	       s.interval, s.flashes ? s.last_flash : 0, prev_ts);
	printf("# kernel events %.3f..%.3f s: %" PRId64 " edges, %" PRId64
	       " without a level change\n",
	       (double)first / NS_PER_S, (double)prev_ts / NS_PER_S, edges, repeats);
	range_print("flashes (active)", &s.on);
	range_print("glitches (any level)", &glitch);
	return 0;
}

/* The byte offset of a struct's member in the running kernel, from its BTF:
 * what a kprobe needs to fetch a field of a kernel-private struct. */
static const char *btf_str(const char *strs, uint32_t len, uint32_t off)
{
	return off < len && memchr(strs + off, 0, len - off) ? strs + off : "";
}

/* Bytes of kind-specific data after a struct btf_type; -1 for a kind this
 * reader does not know. */
static long btf_extra(uint32_t kind, uint32_t vlen)
{
	switch (kind) {
	case BTF_KIND_INT:
	case BTF_KIND_VAR:
	case BTF_KIND_DECL_TAG:
		return 4;
	case BTF_KIND_PTR:
	case BTF_KIND_FWD:
	case BTF_KIND_TYPEDEF:
	case BTF_KIND_VOLATILE:
	case BTF_KIND_CONST:
	case BTF_KIND_RESTRICT:
	case BTF_KIND_FUNC:
	case BTF_KIND_FLOAT:
	case BTF_KIND_TYPE_TAG:
		return 0;
	case BTF_KIND_ARRAY:
		return sizeof(struct btf_array);
	case BTF_KIND_STRUCT:
	case BTF_KIND_UNION:
		return (long)vlen * sizeof(struct btf_member);
	case BTF_KIND_ENUM:
		return (long)vlen * sizeof(struct btf_enum);
	case BTF_KIND_FUNC_PROTO:
		return (long)vlen * sizeof(struct btf_param);
	case BTF_KIND_DATASEC:
		return (long)vlen * sizeof(struct btf_var_secinfo);
	case 19: /* BTF_KIND_ENUM64, newer than some headers */
		return (long)vlen * 12;
	}
	return -1;
}

static int offset(int argc, char **argv)
{
	const char *path = argc > 2 ? argv[2] : "/sys/kernel/btf/vmlinux";
	static char data[16 << 20];
	struct btf_header h;
	const char *types, *strs;
	size_t n, pos;
	FILE *f;

	if (argc < 2) {
		fprintf(stderr, "vmpulse offset: want STRUCT MEMBER [BTF]\n");
		return 2;
	}
	f = fopen(path, "rb");
	if (!f) {
		fprintf(stderr, "vmpulse offset: %s: %s\n", path, strerror(errno));
		return 1;
	}
	n = fread(data, 1, sizeof(data), f);
	fclose(f);
	if (n < sizeof(h) || n == sizeof(data))
		goto bad;
	memcpy(&h, data, sizeof(h));
	if (h.magic != BTF_MAGIC || h.hdr_len > n || h.type_off + h.type_len > n - h.hdr_len ||
	    h.str_off + h.str_len > n - h.hdr_len)
		goto bad;
	types = data + h.hdr_len + h.type_off;
	strs = data + h.hdr_len + h.str_off;
	for (pos = 0; pos + sizeof(struct btf_type) <= h.type_len;) {
		struct btf_type t;
		uint32_t kind, vlen, i;
		long extra;

		memcpy(&t, types + pos, sizeof(t));
		kind = BTF_INFO_KIND(t.info);
		vlen = BTF_INFO_VLEN(t.info);
		extra = btf_extra(kind, vlen);
		if (extra < 0 || pos + sizeof(t) + (size_t)extra > h.type_len)
			goto bad;
		if (kind == BTF_KIND_STRUCT &&
		    !strcmp(btf_str(strs, h.str_len, t.name_off), argv[0])) {
			for (i = 0; i < vlen; i++) {
				struct btf_member m;
				uint32_t bits;

				memcpy(&m, types + pos + sizeof(t) + i * sizeof(m), sizeof(m));
				if (strcmp(btf_str(strs, h.str_len, m.name_off), argv[1]))
					continue;
				bits = BTF_INFO_KFLAG(t.info) ? BTF_MEMBER_BIT_OFFSET(m.offset)
							      : m.offset;
				if (bits % 8)
					break;
				printf("%u\n", bits / 8);
				return 0;
			}
			fprintf(stderr, "vmpulse offset: struct %s has no byte-aligned member %s\n",
				argv[0], argv[1]);
			return 1;
		}
		pos += sizeof(t) + (size_t)extra;
	}
	fprintf(stderr, "vmpulse offset: no struct %s in %s\n", argv[0], path);
	return 1;
bad:
	fprintf(stderr, "vmpulse offset: %s: not BTF this reader understands\n", path);
	return 1;
}

int main(int argc, char **argv)
{
	if (argc >= 2 && !strcmp(argv[1], "drive"))
		return drive(argc - 2, argv + 2);
	if (argc >= 2 && !strcmp(argv[1], "expect"))
		return expect(argc - 2, argv + 2);
	if (argc >= 2 && !strcmp(argv[1], "offset"))
		return offset(argc - 2, argv + 2);
	if (argc == 2 && !strcmp(argv[1], "now")) {
		printf("%" PRId64 "\n", mono_ns());
		return 0;
	}
	fprintf(stderr, "usage: vmpulse drive PULL STEP... | expect MIN_PULSE_MS FILE |"
			" offset STRUCT MEMBER [BTF] | now\n");
	return 2;
}

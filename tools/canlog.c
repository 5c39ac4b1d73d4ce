/* canlog [FILE|-] [--csv] [--json] [--count] [--err] [--chan=A,B] [--cmd=SS:II,..]
 *        [--src=N,..] [--dst=N,..] [--decode=TABLE] [--lp] [--regen=OUT]
 *        [--iface=NAME] [--hex[=diff]] [--nodes=N,..] [--str] [--stat]
 *        [--pivot[=N]]
 *
 * Offline analysis of EcoFlow CAN captures with the daemon's own code: the
 * frame parsers (canframe.c: candump logs, SavvyCAN CSV), the reassembler
 * (ecoflow.c) and the decode table (ecoflow_table.c): the tool issue 9 asks
 * for, with the options of WattZup's canlog that matter (PROTOCOLS.md 3),
 * its bugs not kept, its output files on stdout instead.  --lp prints the decoded records as the
 * daemon will publish them (eftab_sample()), in InfluxDB line protocol, to import history.
 *
 * --regen=OUT writes the frames of the records that pass the filters (those
 * the listing shows: bad ones only with --err), every frame of each, in
 * input order, as a candump log canplayer -I reads.  A frame that ends in
 * no delivered record (an orphan, the start of a record restarted, given up
 * or evicted) is not written, nor are error, remote and FD frames.  Frames
 * from a CSV get the interface --iface (default can0) and, when the CSV has
 * no times, the time (frame number - 1) ms: 0.000000, 0.001000, ...  Which
 * record a frame went to, and when that record is delivered or given up, is
 * the reassembler's to say (its tap, ecoflow.h): canlog keeps a record's
 * frames by its slot until then, at most CANLOG_REC_FRAMES of them (a longer
 * record is not written, and counted).
 *
 * --hex adds each listed record's payload (XOR undone) in hex after the
 * columns (--json: a key "hex"); --hex=diff marks the bytes that differ from
 * the last listed record of the same identity: in red on a terminal, each
 * run of them in [..] otherwise.
 *
 * --nodes=03001,34001 keeps the records of any of the nodes listed: the
 * low 20 bits (5 hex digits) of a channel B-E id; channel A has no node and
 * is not kept.  --str adds the stream id column after the channel (the id
 * without its part bits, for A src << 8 | dst; --json: a key "stream").
 *
 * --stat and --pivot, like --count, list no records: at the end --stat
 * prints a TSV (a header row, then one row per identity, sorted: count, bad
 * ones, first and last time, mean interval in seconds, "-" for one record),
 * --pivot one of counts per time bucket and identity, sorted by bucket: the
 * first N (1-9, default 4: HHMM) characters of the record's HHMMSSmmm in
 * UTC (a CSV without times is all 000000000).  Plain TSV: no quote prefixes
 * for spreadsheets.  Both count every record that passes the filters, bad
 * ones too, as --count does; with --count too, all are printed in the order
 * --count, --stat, --pivot.
 *
 * On a terminal (stderr), a large input shows its progress there: every
 * 0.5 s, from 0.5 s on (so a small one shows none), "canlog: 12.3 MB of 250
 * MB (4.9%), 1.2M frames" for a regular file, "canlog: 12.3 MB, 1.2M
 * frames" for a pipe, one line rewritten in place and cleared at the end (and
 * before a record goes to stdout on the same terminal).  Not a terminal:
 * nothing, so a log or a script sees only the summary.
 *
 * Records are identified by (src, dst, cmd_set, cmd_id) and length, not
 * by the header CRC.  A malformed line is counted and reported with its
 * line number, never fatal; a bad option or an unreadable file is exit 2. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "canframe.h"
#include "ecoflow.h"
#include "ecoflow_table.h"
#include "fmt.h"
#include "lineproto.h"
#include "sample.h"

#define CANLOG_LIST_MAX 64
/* Frames kept for one open record (--regen): a record is at most
 * ECOFLOW_RECORD_MAX bytes, so only empty frames (B's may be) make a longer
 * run, and that record is given up. */
#define CANLOG_REC_FRAMES ECOFLOW_RECORD_MAX
/* Progress: the time between two lines, and the input lines between two
 * looks at the clock (cheap enough at millions of lines a second, often
 * enough for a pipe that brings a few thousand). */
#define CANLOG_PROGRESS_NS    500000000
#define CANLOG_PROGRESS_LINES 1024

enum { CANLOG_PENDING, CANLOG_KEEP, CANLOG_DROP };

/* A frame read, waiting until every record it may belong to is decided, so
 * --regen writes the kept ones in input order. */
struct canlog_frame {
	struct canframe f;
	uint8_t state;
};

/* The frames of the record open in one of the reassembler's slots (or, the
 * last one, of a D/E frame: its own record), by sequence number. */
struct canlog_rec {
	uint64_t rec; /* the reassembler's handle, 0 none */
	bool lost;    /* more than CANLOG_REC_FRAMES: not written */
	uint64_t *seq;
	size_t n;
};

/* --pivot: one per record, counted by run after sorting. */
struct canlog_cell {
	char bucket[10];
	char chan;
	uint8_t src, dst, cmd_set, cmd_id;
	uint16_t len;
};

/* Progress on stderr, when it is a terminal. */
struct canlog_progress {
	bool on;
	bool shown;   /* a line is on the terminal, to clear */
	bool share;   /* stdout is a terminal too: its lines clear ours first */
	int64_t size; /* of a regular file; -1 unknown */
	uint64_t bytes;
	int64_t next_ns; /* CLOCK_MONOTONIC */
};

struct canlog_ident {
	char chan;
	uint8_t src, dst, cmd_set, cmd_id;
	uint16_t len;
	uint64_t n, bad;
	int64_t first_ns, last_ns; /* --stat */
	uint8_t *last;		   /* --hex=diff: the payload last printed, last_len bytes */
	uint16_t last_len;
	bool have_last;
};

struct canlog {
	bool json, count, err, lp;
	int hex;  /* 1 --hex, 2 --hex=diff */
	bool str; /* --str */
	bool stat, nomem;
	int pivot; /* --pivot: the characters of HHMMSSmmm per bucket, 0 none */
	struct canlog_cell *cells;
	size_t ncells, cellcap;
	uint32_t nodes[CANLOG_LIST_MAX];
	unsigned nnodes;
	bool color;	/* --hex=diff on a terminal */
	struct buf out; /* --lp */
	char chans[8];
	unsigned cmds[CANLOG_LIST_MAX], ncmds; /* cmd_set << 8 | cmd_id */
	int srcs[CANLOG_LIST_MAX], nsrcs, dsts[CANLOG_LIST_MAX], ndsts;
	struct eftab table;
	bool have_table;
	struct canlog_ident *ids;
	size_t nids, cap;
	uint64_t shown;
	/* --regen */
	FILE *regen;
	const char *regen_path;
	char iface[CANFRAME_IFACE_MAX];
	struct canlog_frame *fr; /* fr[0] is sequence number base */
	size_t nfr, frcap;
	uint64_t base, cur; /* cur: the frame being fed */
	struct canlog_rec recs[ECOFLOW_SLOTS + 1];
	uint64_t regen_lost, regen_written;
	struct canlog_progress prog;
};

static void canlog_usage(FILE *f)
{
	fprintf(f,
		"usage: canlog [FILE|-] [--csv] [--json] [--count] [--err] [--chan=A,B,..]\n"
		"              [--cmd=SS:II,..] [--src=N,..] [--dst=N,..] [--decode=TABLE]\n"
		"              [--lp] [--regen=OUT [--iface=NAME]] [--hex[=diff]]\n"
		"              [--nodes=N,..] [--str] [--stat] [--pivot[=N]]\n"
		"       canlog --help | --version\n"
		"  reads a candump log (or SavvyCAN CSV with --csv), reassembles EcoFlow\n"
		"  records and prints one line per record (--json: one object per record;\n"
		"  --count: records per identity); --err also shows the records that fail;\n"
		"  --decode: decode fields with a table (share/ecoflow.json); --lp: the decoded\n"
		"  records as InfluxDB line protocol (needs --decode); --regen: the frames of\n"
		"  the records shown, as a candump log for canplayer -I (CSV frames get the\n"
		"  interface --iface, default can0); --hex: the payload in hex (--hex=diff:\n"
		"  bytes changed since the last record of the same identity in [..], red on\n"
		"  a terminal); --nodes: only records of any of these B-E nodes (5 hex\n"
		"  digits, 03001); --str: the stream id column; --stat: a TSV per identity\n"
		"  (count, bad, first, last, mean interval); --pivot: a TSV of counts per\n"
		"  time bucket (first N characters of HHMMSSmmm UTC, default 4) and\n"
		"  identity; a summary goes to stderr\n");
}

/* "3,0x14,20" into v. */
static int canlog_ints(const char *s, int *v, int *n)
{
	char *end;
	long x;

	for (*n = 0; *s; s = *end ? end + 1 : end) {
		errno = 0;
		x = strtol(s, &end, 0);
		if (end == s || errno || x < 0 || x > 255 || (*end && *end != ',') ||
		    *n == CANLOG_LIST_MAX)
			return -EINVAL;
		v[(*n)++] = (int)x;
	}
	return *n ? 0 : -EINVAL;
}

static int canlog_cmds(const char *s, unsigned *v, unsigned *n)
{
	unsigned a, b;
	int used;

	for (*n = 0; *s;) {
		if (sscanf(s, "%2x:%2x%n", &a, &b, &used) != 2 || s[2] != ':' || used != 5 ||
		    *n == CANLOG_LIST_MAX)
			return -EINVAL;
		v[(*n)++] = a << 8 | b;
		s += used;
		if (*s == ',')
			s++;
		else if (*s)
			return -EINVAL;
	}
	return *n ? 0 : -EINVAL;
}

/* "03001,34001": 20-bit node ids, the low 5 hex digits of a B-E id. */
static int canlog_nodes(const char *s, uint32_t *v, unsigned *n)
{
	char *end;
	unsigned long x;

	for (*n = 0; *s; s = *end ? end + 1 : end) {
		errno = 0;
		x = strtoul(s, &end, 16);
		if (end == s || errno || x > 0xFFFFF || (*end && *end != ',') || *s == '-' ||
		    *s == '+' || *n == CANLOG_LIST_MAX)
			return -EINVAL;
		v[(*n)++] = (uint32_t)x;
	}
	return *n ? 0 : -EINVAL;
}

static bool canlog_in(const int *v, int n, int x)
{
	int i;

	if (!n)
		return true;
	for (i = 0; i < n; i++)
		if (v[i] == x)
			return true;
	return false;
}

static bool canlog_wanted(const struct canlog *c, const struct ecoflow_record *r)
{
	unsigned i;

	if (c->chans[0] && !strchr(c->chans, r->chan))
		return false;
	if (!canlog_in(c->srcs, c->nsrcs, r->src) || !canlog_in(c->dsts, c->ndsts, r->dst))
		return false;
	if (c->nnodes) {
		/* Any node listed; channel A has none. */
		if (r->chan == 'A')
			return false;
		for (i = 0; i < c->nnodes && c->nodes[i] != (r->stream & 0xFFFFF); i++)
			;
		if (i == c->nnodes)
			return false;
	}
	if (!c->ncmds)
		return true;
	for (i = 0; i < c->ncmds; i++)
		if (c->cmds[i] == ((unsigned)r->cmd_set << 8 | r->cmd_id))
			return true;
	return false;
}

static struct canlog_ident *canlog_ident(struct canlog *c, const struct ecoflow_record *r)
{
	struct canlog_ident *d;
	size_t i;

	for (i = 0; i < c->nids; i++) {
		d = &c->ids[i];
		if (d->chan == r->chan && d->src == r->src && d->dst == r->dst &&
		    d->cmd_set == r->cmd_set && d->cmd_id == r->cmd_id && d->len == r->hdr_len)
			return d;
	}
	if (c->nids == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 64;
		void *v = realloc(c->ids, cap * sizeof(*c->ids));

		if (!v)
			return NULL;
		c->ids = v;
		c->cap = cap;
	}
	d = &c->ids[c->nids++];
	memset(d, 0, sizeof(*d));
	d->chan = r->chan;
	d->src = r->src;
	d->dst = r->dst;
	d->cmd_set = r->cmd_set;
	d->cmd_id = r->cmd_id;
	d->len = r->hdr_len;
	return d;
}

static void canlog_count(struct canlog *c, const struct ecoflow_record *r)
{
	struct canlog_ident *d = canlog_ident(c, r);

	if (!d)
		return;
	if (!d->n++)
		d->first_ns = r->ts_ns;
	d->last_ns = r->ts_ns;
	if (!r->crc_ok)
		d->bad++;
}

static int canlog_pivot_add(struct canlog *c, const struct ecoflow_record *r)
{
	int64_t t = r->ts_ns < 0 ? 0 : r->ts_ns;
	int64_t day_ms = t / 1000000 % 86400000;
	struct canlog_cell *x;
	char hms[16];

	if (c->ncells == c->cellcap) {
		size_t cap = c->cellcap ? c->cellcap * 2 : 1024;
		void *v = realloc(c->cells, cap * sizeof(*c->cells));

		if (!v)
			return -ENOMEM;
		c->cells = v;
		c->cellcap = cap;
	}
	x = &c->cells[c->ncells++];
	memset(x, 0, sizeof(*x));
	/* UTC from the Unix time itself: no time zone, no leap seconds. */
	snprintf(hms, sizeof(hms), "%02d%02d%02d%03d", (int)(day_ms / 3600000),
		 (int)(day_ms / 60000 % 60), (int)(day_ms / 1000 % 60), (int)(day_ms % 1000));
	memcpy(x->bucket, hms, (size_t)c->pivot);
	x->chan = r->chan;
	if (r->chan != 'D' && r->chan != 'E') {
		x->src = r->src;
		x->dst = r->dst;
		x->cmd_set = r->cmd_set;
		x->cmd_id = r->cmd_id;
	}
	x->len = r->hdr_len;
	return 0;
}

static int canlog_cell_cmp(const void *a, const void *b)
{
	const struct canlog_cell *x = a, *y = b;
	int d = strcmp(x->bucket, y->bucket);

	if (d)
		return d;
	if (x->chan != y->chan)
		return x->chan < y->chan ? -1 : 1;
	/* src, dst, cmd_set, cmd_id: the order of the --count key */
	d = memcmp(&x->src, &y->src, 4);
	if (d)
		return d;
	return x->len < y->len ? -1 : x->len > y->len;
}

/* The identity's columns in the TSV outputs: chan, src, dst, cmd, len. */
static void canlog_tsv_ident(char chan, uint8_t src, uint8_t dst, uint8_t cmd_set, uint8_t cmd_id,
			     uint16_t len)
{
	if (chan == 'D' || chan == 'E')
		printf("%c\t-\t-\t-\t%u", chan, len);
	else
		printf("%c\t%02X\t%02X\t%02X:%02X\t%u", chan, src, dst, cmd_set, cmd_id, len);
}

static void canlog_pivot_print(struct canlog *c)
{
	size_t i, j;

	qsort(c->cells, c->ncells, sizeof(*c->cells), canlog_cell_cmp);
	puts("time\tchan\tsrc\tdst\tcmd\tlen\tcount");
	for (i = 0; i < c->ncells; i = j) {
		const struct canlog_cell *x = &c->cells[i];

		for (j = i + 1; j < c->ncells && !canlog_cell_cmp(x, &c->cells[j]); j++)
			;
		printf("%s\t", x->bucket);
		canlog_tsv_ident(x->chan, x->src, x->dst, x->cmd_set, x->cmd_id, x->len);
		printf("\t%zu\n", j - i);
	}
}

static void canlog_stat_print(struct canlog *c)
{
	size_t i;

	puts("chan\tsrc\tdst\tcmd\tlen\tcount\tbad\tfirst\tlast\tmean_interval");
	for (i = 0; i < c->nids; i++) {
		const struct canlog_ident *d = &c->ids[i];

		canlog_tsv_ident(d->chan, d->src, d->dst, d->cmd_set, d->cmd_id, d->len);
		printf("\t%" PRIu64 "\t%" PRIu64 "\t%" PRId64 ".%06" PRId64 "\t%" PRId64
		       ".%06" PRId64,
		       d->n, d->bad, d->first_ns / 1000000000, d->first_ns % 1000000000 / 1000,
		       d->last_ns / 1000000000, d->last_ns % 1000000000 / 1000);
		/* One record has no interval. */
		if (d->n > 1)
			printf("\t%.6f\n",
			       (double)(d->last_ns - d->first_ns) / 1e9 / (double)(d->n - 1));
		else
			puts("\t-");
	}
}

/* The payload in hex; with --hex=diff the bytes that differ from the last
 * printed record of the same identity are marked: red on a terminal, else
 * each run of them in [..], so a file or a pipe shows them too.  The first
 * record of an identity, or one of another length (a bad record), has
 * nothing to differ from and is unmarked. */
static void canlog_hex(struct canlog *c, const struct ecoflow_record *r)
{
	struct canlog_ident *d = c->hex == 2 ? canlog_ident(c, r) : NULL;
	bool cmp = d && d->have_last && d->last_len == r->len, in = false, ch;
	size_t i;

	putchar(' ');
	for (i = 0; i < r->len; i++) {
		ch = cmp && d->last[i] != r->payload[i];
		if (ch != in)
			fputs(c->color ? (ch ? "\033[31m" : "\033[0m") : (ch ? "[" : "]"), stdout);
		in = ch;
		printf("%02X", r->payload[i]);
	}
	if (in)
		fputs(c->color ? "\033[0m" : "]", stdout);
	if (d && (d->last || (d->last = malloc(ECOFLOW_RECORD_MAX)))) {
		if (r->len)
			memcpy(d->last, r->payload, r->len);
		d->last_len = r->len;
		d->have_last = true;
	}
}

static void canlog_json_str(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			putchar('\\');
		putchar(*s);
	}
	putchar('"');
}

static void canlog_fields(const struct canlog *c, const struct ecoflow_record *r)
{
	const struct eftab_layout *l;
	struct eftab_value v;
	char num[FMT_DOUBLE_MAX];
	size_t i, k = 0;

	if (!c->have_table || !r->crc_ok || r->chan == 'D' || r->chan == 'E')
		return;
	l = eftab_find(&c->table, r->src, r->dst, r->cmd_set, r->cmd_id, r->len, NULL);
	if (!l)
		return;
	fputs(",\"fields\":{", stdout);
	for (i = 0; i < l->nfields; i++) {
		if (eftab_value(&l->fields[i], r->payload, r->len, &v))
			continue;
		printf("%s\"%s\":", k++ ? "," : "", l->fields[i].name);
		if (v.type == SAMPLE_STRING)
			canlog_json_str(v.s);
		else if (v.type == SAMPLE_INT)
			printf("%" PRId64, v.i);
		else {
			fmt_double(num, sizeof(num), v.f);
			fputs(num, stdout);
		}
	}
	putchar('}');
}

/* The daemon's sample of a decoded record, as line protocol. */
static void canlog_lp(struct canlog *c, const struct ecoflow_record *r)
{
	struct sample_view v;
	struct sample s;
	int r2 = eftab_record_sample(&c->table, r, NULL, &s, NULL);

	/* The daemon's own rule (no layout, not decodable: no line). */
	if (r2 == -ENOENT || r2 == -ENODATA)
		return;
	c->out.len = 0;
	if (!r2 && sample_view_of(&v, &s) >= 0 && !lp_encode(&v, &c->out)) {
		fwrite(c->out.data, 1, c->out.len, stdout);
		c->shown++;
	}
	sample_free(&s);
}

static void canlog_mark(struct canlog *c, uint64_t seq, uint8_t state)
{
	if (seq >= c->base && seq - c->base < c->nfr)
		c->fr[seq - c->base].state = state;
}

static struct canlog_rec *canlog_rec(struct canlog *c, int slot)
{
	return &c->recs[slot >= 0 && slot < ECOFLOW_SLOTS ? slot : ECOFLOW_SLOTS];
}

/* A record delivered (keep: shown) or given up: its frames are decided. */
static void canlog_rec_end(struct canlog *c, struct canlog_rec *k, uint64_t rec, bool keep)
{
	size_t i;

	if (k->rec != rec)
		return; /* none of its frames kept (a tap set late would do that) */
	for (i = 0; i < k->n; i++)
		canlog_mark(c, k->seq[i], keep && !k->lost ? CANLOG_KEEP : CANLOG_DROP);
	k->rec = 0;
	k->n = 0;
	k->lost = false;
}

/* The reassembler's word on the frame being fed (c->cur). */
static void canlog_tap(void *arg, const struct ecoflow_tap_event *ev)
{
	struct canlog *c = arg;
	struct canlog_rec *k;
	size_t i;

	if (ev->kind == ECOFLOW_TAP_NONE) {
		canlog_mark(c, c->cur, CANLOG_DROP);
		return;
	}
	k = canlog_rec(c, ev->slot);
	if (ev->kind == ECOFLOW_TAP_DROPPED) {
		canlog_rec_end(c, k, ev->rec, false);
		return;
	}
	if (k->rec != ev->rec) {
		/* A new record: the slot's last one has ended. */
		k->rec = ev->rec;
		k->n = 0;
		k->lost = false;
	}
	if (!k->lost && k->n == CANLOG_REC_FRAMES) {
		for (i = 0; i < k->n; i++)
			canlog_mark(c, k->seq[i], CANLOG_DROP);
		k->n = 0;
		k->lost = true;
		c->regen_lost++;
	}
	if (k->lost)
		canlog_mark(c, c->cur, CANLOG_DROP);
	else
		k->seq[k->n++] = c->cur;
}

static int canlog_regen_write(struct canlog *c, bool all)
{
	char line[CANFRAME_FORMAT_MAX];
	size_t k = 0;

	while (k < c->nfr && (all || c->fr[k].state != CANLOG_PENDING)) {
		if (c->fr[k].state == CANLOG_KEEP) {
			if (canframe_format_candump(&c->fr[k].f, line, sizeof(line)) ||
			    fprintf(c->regen, "%s\n", line) < 0)
				return -EIO;
			c->regen_written++;
		}
		k++;
	}
	if (k) {
		memmove(c->fr, c->fr + k, (c->nfr - k) * sizeof(*c->fr));
		c->nfr -= k;
		c->base += k;
	}
	return 0;
}

/* Queue frame f (sequence number c->cur) before it is fed, nframe frames
 * fed before it. */
static int canlog_regen_add(struct canlog *c, uint64_t nframe, const struct canframe *f)
{

	if (c->nfr == c->frcap) {
		size_t cap = c->frcap ? c->frcap * 2 : 1024;
		void *v = realloc(c->fr, cap * sizeof(*c->fr));

		if (!v)
			return -ENOMEM;
		c->fr = v;
		c->frcap = cap;
	}
	c->fr[c->nfr] = (struct canlog_frame){.f = *f, .state = CANLOG_PENDING};
	if (!f->iface[0])
		snprintf(c->fr[c->nfr].f.iface, sizeof(c->fr[c->nfr].f.iface), "%s", c->iface);
	if (!f->has_ts) {
		/* A CSV without times: one millisecond per frame read. */
		c->fr[c->nfr].f.has_ts = true;
		c->fr[c->nfr].f.ts_ns = nframe * 1000000;
	}
	c->cur = c->base + c->nfr++;
	return 0;
}

static int64_t canlog_now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

static void canlog_progress_init(struct canlog_progress *p, FILE *in)
{
	struct stat st;

	p->on = isatty(STDERR_FILENO);
	p->share = p->on && isatty(STDOUT_FILENO);
	p->size = !fstat(fileno(in), &st) && S_ISREG(st.st_mode) ? (int64_t)st.st_size : -1;
	p->next_ns = canlog_now_ns() + CANLOG_PROGRESS_NS;
}

/* "12.3 MB", "250 MB": three digits are enough to see it move. */
static void canlog_mb(char *out, size_t size, double bytes)
{
	double mb = bytes / 1e6;

	snprintf(out, size, mb < 100 ? "%.1f MB" : "%.0f MB", mb);
}

static void canlog_progress(struct canlog_progress *p, uint64_t frames)
{
	char done[32], total[32], count[32];
	int64_t now;

	if (!p->on || (now = canlog_now_ns()) < p->next_ns)
		return;
	p->next_ns = now + CANLOG_PROGRESS_NS;
	canlog_mb(done, sizeof(done), (double)p->bytes);
	if (frames < 10000)
		snprintf(count, sizeof(count), "%" PRIu64, frames);
	else if (frames < 1000000)
		snprintf(count, sizeof(count), "%.1fk", (double)frames / 1e3);
	else
		snprintf(count, sizeof(count), "%.1fM", (double)frames / 1e6);
	/* \r and erase to the end of the line: the last line, rewritten. */
	if (p->size > 0) {
		canlog_mb(total, sizeof(total), (double)p->size);
		fprintf(stderr, "\rcanlog: %s of %s (%.1f%%), %s frames\033[K", done, total,
			100.0 * (double)p->bytes / (double)p->size, count);
	} else {
		fprintf(stderr, "\rcanlog: %s, %s frames\033[K", done, count);
	}
	p->shown = true;
}

/* Before anything else goes to the terminal. */
static void canlog_progress_clear(struct canlog_progress *p)
{
	if (p->shown)
		fputs("\r\033[K", stderr);
	p->shown = false;
}

static void canlog_record(void *arg, const struct ecoflow_record *r)
{
	struct canlog *c = arg;
	int64_t s = r->ts_ns / 1000000000, us = r->ts_ns % 1000000000 / 1000;

	if (c->regen)
		canlog_rec_end(c, canlog_rec(c, r->slot), r->rec,
			       canlog_wanted(c, r) && (r->crc_ok || c->err));
	if (!canlog_wanted(c, r))
		return;
	if (c->pivot && canlog_pivot_add(c, r))
		c->nomem = true;
	if (c->count || c->stat || c->pivot) {
		if (c->count || c->stat)
			canlog_count(c, r);
		return;
	}
	if (!r->crc_ok && !c->err)
		return;
	if (c->prog.share)
		canlog_progress_clear(&c->prog);
	if (c->lp) {
		canlog_lp(c, r);
		return;
	}
	c->shown++;
	if (c->json) {
		printf("{\"t\":%" PRId64 ".%06" PRId64 ",\"chan\":\"%c\",\"src\":%u,\"dst\":%u,"
		       "\"cmd\":\"%02X:%02X\",\"len\":%u,\"crc_ok\":%s",
		       s, us, r->chan, r->src, r->dst, r->cmd_set, r->cmd_id, r->len,
		       r->crc_ok ? "true" : "false");
		if (c->str)
			printf(",\"stream\":\"%08" PRIX32 "\"", r->stream);
		canlog_fields(c, r);
		if (c->hex) {
			fputs(",\"hex\":\"", stdout);
			for (size_t i = 0; i < r->len; i++)
				printf("%02X", r->payload[i]);
			putchar('"');
		}
		if (!r->crc_ok)
			printf(",\"error\":\"%s\"", ecoflow_err_name(r->err));
		puts("}");
		return;
	}
	printf("%" PRId64 ".%06" PRId64 " %c", s, us, r->chan);
	if (c->str)
		printf(" %08" PRIX32, r->stream);
	printf(" %02X:%02X %02X:%02X %u%s%s", r->src, r->dst, r->cmd_set, r->cmd_id, r->len,
	       r->crc_ok ? "" : " ", r->crc_ok ? "" : ecoflow_err_name(r->err));
	if (c->hex)
		canlog_hex(c, r);
	putchar('\n');
}

static int canlog_ident_cmp(const void *a, const void *b)
{
	const struct canlog_ident *x = a, *y = b;
	uint64_t kx = (uint64_t)x->chan << 56 | (uint64_t)x->src << 48 | (uint64_t)x->dst << 40 |
		      (uint64_t)x->cmd_set << 32 | (uint64_t)x->cmd_id << 24 | x->len,
		 ky = (uint64_t)y->chan << 56 | (uint64_t)y->src << 48 | (uint64_t)y->dst << 40 |
		      (uint64_t)y->cmd_set << 32 | (uint64_t)y->cmd_id << 24 | y->len;

	return kx < ky ? -1 : kx > ky;
}

static int canlog_table(struct canlog *c, const char *path)
{
	char err[300];
	struct buf text;
	int r;

	buf_init(&text);
	r = buf_read_file(&text, path, 16u << 20);
	if (r) {
		fprintf(stderr, "canlog: cannot read %s: %s\n", path, strerror(-r));
		buf_free(&text);
		return r;
	}
	r = eftab_load(path, text.data ? text.data : "", text.len, &c->table, err, sizeof(err));
	buf_free(&text);
	if (r) {
		fprintf(stderr, "canlog: %s\n", r == -ENOMEM ? "out of memory" : err);
		return r;
	}
	c->have_table = true;
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"csv", no_argument, NULL, 'c'},	  {"json", no_argument, NULL, 'j'},
		{"count", no_argument, NULL, 'n'},	  {"err", no_argument, NULL, 'e'},
		{"chan", required_argument, NULL, 'C'},	  {"cmd", required_argument, NULL, 'm'},
		{"src", required_argument, NULL, 's'},	  {"dst", required_argument, NULL, 'd'},
		{"decode", required_argument, NULL, 't'}, {"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},	  {"lp", no_argument, NULL, 'l'},
		{"regen", required_argument, NULL, 'R'},  {"iface", required_argument, NULL, 'I'},
		{"hex", optional_argument, NULL, 'x'},	  {"nodes", required_argument, NULL, 'N'},
		{"str", no_argument, NULL, 'S'},	  {"stat", no_argument, NULL, 'T'},
		{"pivot", optional_argument, NULL, 'P'},  {NULL, 0, NULL, 0},
	};
	struct canlog c = {0};
	struct ecoflow *e;
	uint64_t lineno = 0, bad_lines = 0;
	const char *path = "-", *why;
	struct canframe fr;
	bool csv = false;
	char *line = NULL;
	size_t cap = 0, i;
	ssize_t n;
	FILE *in;
	int o, r;

	while ((o = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (o) {
		case 'c':
			csv = true;
			break;
		case 'j':
			c.json = true;
			break;
		case 'n':
			c.count = true;
			break;
		case 'e':
			c.err = true;
			break;
		case 'C':
			for (i = 0; optarg[i]; i++)
				if (!strchr("ABCDE,", optarg[i]) || strlen(c.chans) >= 5) {
					fprintf(stderr, "canlog: --chan takes A B C D E, "
							"comma-separated\n");
					return 2;
				} else if (optarg[i] != ',') {
					c.chans[strlen(c.chans)] = optarg[i];
				}
			break;
		case 'm':
			if (canlog_cmds(optarg, c.cmds, &c.ncmds)) {
				fprintf(stderr,
					"canlog: --cmd takes SS:II in hex, comma-separated\n");
				return 2;
			}
			break;
		case 's':
		case 'd':
			if (canlog_ints(optarg, o == 's' ? c.srcs : c.dsts,
					o == 's' ? &c.nsrcs : &c.ndsts)) {
				fprintf(stderr,
					"canlog: --%s takes addresses 0-255 (or 0xHH), "
					"comma-separated\n",
					o == 's' ? "src" : "dst");
				return 2;
			}
			break;
		case 't':
			if (canlog_table(&c, optarg))
				return 2;
			break;
		case 'l':
			c.lp = true;
			break;
		case 'x':
			if (optarg && strcmp(optarg, "diff")) {
				fprintf(stderr, "canlog: --hex takes nothing or =diff\n");
				return 2;
			}
			c.hex = optarg ? 2 : 1;
			c.color = optarg && isatty(STDOUT_FILENO);
			break;
		case 'N':
			if (canlog_nodes(optarg, c.nodes, &c.nnodes)) {
				fprintf(stderr, "canlog: --nodes takes 20-bit node ids in hex "
						"(03001), comma-separated\n");
				return 2;
			}
			break;
		case 'S':
			c.str = true;
			break;
		case 'T':
			c.stat = true;
			break;
		case 'P':
			c.pivot = 4;
			if (optarg && (optarg[0] < '1' || optarg[0] > '9' || optarg[1])) {
				fprintf(stderr,
					"canlog: --pivot takes 1-9 (characters of HHMMSSmmm)\n");
				return 2;
			}
			if (optarg)
				c.pivot = optarg[0] - '0';
			break;
		case 'R':
			c.regen_path = optarg;
			break;
		case 'I':
			if (!*optarg || strlen(optarg) >= sizeof(c.iface) ||
			    strpbrk(optarg, " \t()#")) {
				fprintf(stderr, "canlog: --iface takes an interface name\n");
				return 2;
			}
			strcpy(c.iface, optarg);
			break;
		case 'h':
			canlog_usage(stdout);
			return 0;
		case 'V':
			printf("canlog %s\n", POWERD_VERSION);
			return 0;
		default:
			canlog_usage(stderr);
			return 2;
		}
	}
	if (c.lp && !c.have_table) {
		fprintf(stderr, "canlog: --lp needs --decode=TABLE (the fields to write)\n");
		return 2;
	}
	buf_init(&c.out);
	if (optind < argc)
		path = argv[optind++];
	if (optind < argc) {
		canlog_usage(stderr);
		return 2;
	}
	in = strcmp(path, "-") ? fopen(path, "r") : stdin;
	if (!in) {
		fprintf(stderr, "canlog: cannot open %s: %s\n", path, strerror(errno));
		return 2;
	}
	if (!c.iface[0])
		strcpy(c.iface, "can0");
	if (c.regen_path) {
		c.regen = fopen(c.regen_path, "w");
		if (!c.regen) {
			fprintf(stderr, "canlog: cannot create %s: %s\n", c.regen_path,
				strerror(errno));
			return 2;
		}
	}
	/* Allocated last, so a usage error has nothing to free. */
	e = calloc(1, sizeof(*e));
	if (!e)
		return 1;
	ecoflow_init(e);
	if (c.regen) {
		for (i = 0; i <= ECOFLOW_SLOTS; i++)
			if (!(c.recs[i].seq = malloc(CANLOG_REC_FRAMES * sizeof(*c.recs[i].seq)))) {
				fprintf(stderr, "canlog: out of memory\n");
				return 1;
			}
		ecoflow_set_tap(e, canlog_tap, &c);
	}
	canlog_progress_init(&c.prog, in);
	while ((n = getline(&line, &cap, in)) > 0) {
		lineno++;
		c.prog.bytes += (uint64_t)n;
		if (lineno % CANLOG_PROGRESS_LINES == 0)
			canlog_progress(&c.prog, e->st.frames);
		if (csv && canframe_savvycsv_is_header(line, (size_t)n))
			continue;
		r = csv ? canframe_parse_savvycsv(line, (size_t)n, &fr, &why)
			: canframe_parse_candump(line, (size_t)n, &fr, &why);
		if (r) {
			if (bad_lines++ < 10) {
				canlog_progress_clear(&c.prog);
				fprintf(stderr, "canlog: %s:%" PRIu64 ": %s\n", path, lineno, why);
			}
			continue;
		}
		if (fr.err || fr.rtr || fr.fd)
			continue; /* no EcoFlow data in them */
		if (c.regen && canlog_regen_add(&c, e->st.frames, &fr)) {
			canlog_progress_clear(&c.prog);
			fprintf(stderr, "canlog: out of memory\n");
			return 1;
		}
		ecoflow_feed(e, fr.id, fr.ext, fr.len, fr.data, fr.has_ts ? (int64_t)fr.ts_ns : 0,
			     canlog_record, &c);
		if (c.regen) {
			if (canlog_regen_write(&c, false)) {
				canlog_progress_clear(&c.prog);
				fprintf(stderr, "canlog: writing %s: %s\n", c.regen_path,
					strerror(errno));
				return 2;
			}
		}
	}
	canlog_progress_clear(&c.prog);
	if (ferror(in)) {
		fprintf(stderr, "canlog: reading %s: %s\n", path, strerror(errno));
		return 2;
	}
	ecoflow_flush(e, canlog_record, &c);
	if (c.regen && (canlog_regen_write(&c, true) || fclose(c.regen))) {
		fprintf(stderr, "canlog: writing %s: %s\n", c.regen_path, strerror(errno));
		return 2;
	}
	if (c.regen)
		fprintf(stderr,
			"# --regen: %" PRIu64 " frames written to %s, %" PRIu64
			" records too many frames to keep\n",
			c.regen_written, c.regen_path, c.regen_lost);
	if (c.nomem) {
		fprintf(stderr, "canlog: out of memory\n");
		return 1;
	}
	if (c.nids)
		qsort(c.ids, c.nids, sizeof(*c.ids), canlog_ident_cmp);
	if (c.count) {
		for (i = 0; i < c.nids; i++) {
			const struct canlog_ident *d = &c.ids[i];

			if (d->chan == 'D' || d->chan == 'E')
				printf("%c - - %u %" PRIu64 "\n", d->chan, d->len, d->n);
			else
				printf("%c %02X:%02X %02X:%02X %u %" PRIu64 "%s\n", d->chan, d->src,
				       d->dst, d->cmd_set, d->cmd_id, d->len, d->n,
				       d->bad ? " (some bad)" : "");
		}
	}
	if (c.stat)
		canlog_stat_print(&c);
	if (c.pivot)
		canlog_pivot_print(&c);
	fprintf(stderr,
		"# %" PRIu64 " lines (%" PRIu64 " bad), %" PRIu64 " frames, %" PRIu64
		" records: %" PRIu64 " good, %" PRIu64 " bad_length, %" PRIu64 " bad_crc, %" PRIu64
		" bad_header_crc, %" PRIu64 " bad_version, %" PRIu64 " orphan frames, %" PRIu64
		" restarted, %" PRIu64 " too_long, %" PRIu64 " unknown_channel\n",
		lineno, bad_lines, e->st.frames, e->st.records, e->st.good, e->st.bad_length,
		e->st.bad_crc, e->st.bad_header_crc, e->st.bad_version, e->st.orphan,
		e->st.restarted, e->st.too_long, e->st.unknown_channel);
	if (in != stdin)
		fclose(in);
	free(line);
	for (i = 0; i < c.nids; i++)
		free(c.ids[i].last);
	free(c.ids);
	free(c.cells);
	free(c.fr);
	for (i = 0; i <= ECOFLOW_SLOTS; i++)
		free(c.recs[i].seq);
	buf_free(&c.out);
	if (c.have_table)
		eftab_free(&c.table);
	free(e);
	return 0;
}

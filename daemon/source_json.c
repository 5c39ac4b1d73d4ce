/* The JSON-files source ([json.NAME]): a directory that a logger fills with
 * JSON documents (the Power Pod's message_*.json), each read once, whole,
 * as samples.
 *
 * Two threads share the work.  The I/O thread reads the directory's inotify
 * descriptor through its loop and passes the names of files closed by their
 * writer (IN_CLOSE_WRITE) or moved in (IN_MOVED_TO) to this source's reader
 * thread.  The reader does what may take time: it lists the backlog, reads
 * and parses files, publishes through its own producer ring, and waits for
 * room there (back-pressure: a backlog of any size goes through without a
 * drop), which the loop must never do.
 *
 * A file is done when every sink holds its samples (uploader_durable()).
 * Only then is it deleted or moved to done/ (after = delete | move), and
 * the checkpoint, state_dir/json.NAME.checkpoint, names the last file done
 * in name order, at most a second (or 1,024 files) late: after a kill -9 or
 * a power cut the files done within that window are read again (their
 * samples twice), and nothing is skipped.  With after = keep a restart reads only the files that
 * sort after the checkpoint's name. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "fmt.h"
#include "fsutil.h"
#include "hash.h"
#include "json.h"
#include "json_ckpt.h"
#include "jsonpoints.h"
#include "log.h"
#include "loop.h"
#include "powerd.h"
#include "sample.h"
#include "source.h"
#include "source_doc.h"
#include "status.h"
#include "uploader.h"

#define JSRC_RING	  (1u << 20) /* bytes of the producer ring: ~5,000 PP1 records */
#define JSRC_LIVE_MAX	  65536	     /* names queued from inotify; beyond: rescan */
#define JSRC_TICK_NS	  (250 * 1000000LL)
#define JSRC_CKPT_NS	  (1000 * 1000000LL) /* the checkpoint's lag: the re-read window */
#define JSRC_CKPT_FILES	  1024		     /* ... or this many files, if fewer */
#define JSRC_PROGRESS_NS  (10 * 1000000000LL)
#define JSRC_SETTLE_NS	  (5 * 1000000000LL) /* a cut-short file this young is being written */
#define JSRC_RETRY_NS	  (10 * 1000000000LL)
#define JSRC_STOP_WAIT_NS (3 * 1000000000LL)
#define JSRC_SEEN_NS	  (300 * 1000000000LL)

/* A file whose samples are published, waiting until they are durable. */
struct jsrc_pending {
	char *name;
	uint64_t last_seq;
};

/* A file cut short while young: tried again when its writer closes it, or
 * when it has settled. */
struct jsrc_deferred {
	char *name;
	int64_t retry_ns;
};

/* Files read lately, by name, mtime and size: the backlog listing and
 * inotify may both name a file, and it is read once.  Two generations,
 * turned every JSRC_SEEN_NS, so the set holds minutes of files, not every
 * file of a year: a duplicate event never lags that long. */
struct jsrc_seen {
	uint64_t *key; /* open addressing; 0 = free */
	size_t n, cap;
};

struct jsrc {
	struct source *s;
	struct powerd *pd;
	const struct cfg_json *c;
	char ckpt_name[CFG_NAME_MAX + 32];
	int dirfd, ino_fd;
	_Atomic int wd; /* the watch: events of an older one are ignored */
	bool thread_started;
	pthread_t thread;

	/* The I/O thread's inotify read. */
	struct loop_op ino_op, ino_retry_op;
	_Alignas(struct inotify_event) unsigned char ino_buf[8192];

	/* Shared with the I/O thread, under mu. */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	char **live;
	size_t live_head, nlive, live_cap; /* names live[live_head .. nlive) */
	bool rescan, dir_gone, stop;

	/* The reader thread's own. */
	struct uploader_producer *prod;
	struct sdoc doc; /* the current file's samples */
	char **backlog;
	size_t nbacklog, backlog_at, backlog_cap;
	struct jsrc_pending *pend;
	size_t pend_head, npend, pend_cap;
	struct jsrc_deferred *defer;
	size_t ndefer, defer_cap;
	struct jsrc_seen seen, seen_old;
	int64_t seen_turn_ns;
	char mark[NAME_MAX + 1]; /* the checkpoint: the last file done, by name */
	bool mark_dirty;
	unsigned since_ckpt; /* files done since the checkpoint was written */
	int64_t ckpt_at_ns, progress_at_ns, backlog_start_ns, retry_at_ns;
	uint64_t files_ok, files_failed;
	struct log_rate after_log, ckpt_log;
	bool in_backlog;

	unsigned r_read, r_after, r_overflow, r_checkpoint;
};

static int64_t jsrc_now(void)
{
	return clock_mono_ns();
}

/* ------------------------------------------------------------ the seen set */

static uint64_t jsrc_key(const char *name, const struct stat *st)
{
	uint64_t h = hash_str(name);
	int64_t m = (int64_t)st->st_mtim.tv_sec * 1000000000LL + st->st_mtim.tv_nsec;

	h = hash_fnv1a(h, &m, sizeof(m));
	h = hash_fnv1a(h, &st->st_size, sizeof(st->st_size));
	return h ? h : 1;
}

static bool jsrc_seen_has(const struct jsrc_seen *t, uint64_t k)
{
	size_t i;

	if (!t->cap)
		return false;
	for (i = k & (t->cap - 1); t->key[i]; i = (i + 1) & (t->cap - 1))
		if (t->key[i] == k)
			return true;
	return false;
}

static int jsrc_seen_add(struct jsrc_seen *t, uint64_t k)
{
	size_t i;

	if ((t->n + 1) * 2 > t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 1024, j;
		uint64_t *key = calloc(cap, sizeof(*key));

		if (!key)
			return -ENOMEM;
		for (j = 0; j < t->cap; j++)
			if (t->key[j]) {
				for (i = t->key[j] & (cap - 1); key[i]; i = (i + 1) & (cap - 1))
					;
				key[i] = t->key[j];
			}
		free(t->key);
		t->key = key;
		t->cap = cap;
	}
	for (i = k & (t->cap - 1); t->key[i]; i = (i + 1) & (t->cap - 1))
		if (t->key[i] == k)
			return 0;
	t->key[i] = k;
	t->n++;
	return 0;
}

static void jsrc_seen_turn(struct jsrc *j)
{
	int64_t now = jsrc_now();

	if (now - j->seen_turn_ns < JSRC_SEEN_NS)
		return;
	j->seen_turn_ns = now;
	free(j->seen_old.key);
	j->seen_old = j->seen;
	memset(&j->seen, 0, sizeof(j->seen));
}

/* ------------------------------------------------------------ checkpoint */

static int jsrc_ckpt_load(struct jsrc *j)
{
	char path[PATH_MAX], text[JSON_CKPT_MAX + 1];
	ssize_t n;
	int fd, r;

	if ((size_t)snprintf(path, sizeof(path), "%s/%s", j->pd->cfg->daemon.state_dir,
			     j->ckpt_name) >= sizeof(path))
		return -ENAMETOOLONG;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	n = read(fd, text, sizeof(text));
	r = n < 0 ? -errno : 0;
	close(fd);
	if (r)
		return r;
	if (json_ckpt_parse(text, (size_t)n, j->mark, sizeof(j->mark))) {
		/* Reading everything again duplicates; skipping loses. */
		log_warn("json %s: checkpoint %s is damaged; every file in %s is read again",
			 j->s->name, path, j->c->path);
		j->mark[0] = '\0';
	}
	return 0;
}

static void jsrc_ckpt_save(struct jsrc *j, bool now)
{
	char text[JSON_CKPT_MAX];
	int64_t t = jsrc_now();
	uint64_t k;
	int n, r;

	if (!j->mark_dirty ||
	    (!now && t - j->ckpt_at_ns < JSRC_CKPT_NS && j->since_ckpt < JSRC_CKPT_FILES))
		return;
	n = json_ckpt_format(j->mark, text, sizeof(text));
	r = n < 0 ? n
		  : fs_replace(j->pd->cfg->daemon.state_dir, j->ckpt_name, text, (size_t)n, 0640);
	j->ckpt_at_ns = t;
	if (r) {
		source_error(j->s, j->r_checkpoint);
		if (log_rate_event(&j->ckpt_log, t, 60 * 1000000000LL, &k))
			log_err("json %s: cannot write the checkpoint %s/%s: %s (%llu times); a "
				"restart reads again what it would have skipped",
				j->s->name, j->pd->cfg->daemon.state_dir, j->ckpt_name,
				strerror(-r), (unsigned long long)k);
		return;
	}
	j->mark_dirty = false;
	j->since_ckpt = 0;
}

/* ------------------------------------------------------------ files */

static int jsrc_push_name(char ***v, size_t *n, size_t *cap, const char *name)
{
	char *d;

	if (*n == *cap) {
		size_t c = *cap ? *cap * 2 : 64;
		char **nv = realloc(*v, c * sizeof(*nv));

		if (!nv)
			return -ENOMEM;
		*v = nv;
		*cap = c;
	}
	d = strdup(name);
	if (!d)
		return -ENOMEM;
	(*v)[(*n)++] = d;
	return 0;
}

static int jsrc_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool jsrc_match(const struct jsrc *j, const char *name)
{
	return name[0] != '.' && fnmatch(j->c->pattern, name, FNM_PERIOD) == 0;
}

/* The backlog: every matching file, by name (after the checkpoint's with
 * after = keep: those before it were done). */
static int jsrc_scan(struct jsrc *j)
{
	struct dirent *e;
	size_t i;
	DIR *d;
	int fd = openat(j->dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC), r = 0;

	if (fd < 0)
		return -errno;
	d = fdopendir(fd);
	if (!d) {
		r = -errno;
		close(fd);
		return r;
	}
	for (i = j->backlog_at; i < j->nbacklog; i++)
		free(j->backlog[i]);
	j->nbacklog = j->backlog_at = 0;
	while (!r && (errno = 0, e = readdir(d))) {
		if (e->d_type != DT_REG && e->d_type != DT_UNKNOWN)
			continue;
		if (!jsrc_match(j, e->d_name))
			continue;
		if (j->c->after == CFG_JSON_KEEP && j->mark[0] && strcmp(e->d_name, j->mark) <= 0)
			continue;
		r = jsrc_push_name(&j->backlog, &j->nbacklog, &j->backlog_cap, e->d_name);
	}
	if (!r && errno)
		r = -errno;
	closedir(d);
	if (r)
		return r;
	if (j->nbacklog)
		qsort(j->backlog, j->nbacklog, sizeof(*j->backlog), jsrc_cmp);
	return 0;
}

static int jsrc_read_all(int fd, char *buf, size_t len)
{
	size_t done = 0;
	ssize_t n;

	while (done < len) {
		n = pread(fd, buf + done, len - done, (off_t)done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO; /* shrank while read: its writer is at work */
		done += (size_t)n;
	}
	return 0;
}

/* Move a refused file aside to failed/ (NAME.1, .2, ... if taken). */
static int jsrc_set_aside(struct jsrc *j, const char *name, char *to, size_t tolen)
{
	char base[NAME_MAX + 8];

	if (mkdirat(j->dirfd, "failed", 0750) < 0 && errno != EEXIST)
		return -errno;
	snprintf(base, sizeof(base), "failed/%s", name);
	return fs_set_aside(j->dirfd, name, base, 1000, false, to, tolen);
}

/* One line per refused file, counted by reason. */
static void jsrc_refuse(struct jsrc *j, const char *name, unsigned reason, const char *why)
{
	char to[NAME_MAX + 16];
	int r = jsrc_set_aside(j, name, to, sizeof(to));

	source_error(j->s, reason);
	j->files_failed++;
	if (r == 0)
		log_err("json %s: %s/%s refused (%s: %s); moved to %s", j->s->name, j->c->path,
			name, j->s->reason[reason], why, to);
	else
		log_err("json %s: %s/%s refused (%s: %s); left in place (cannot move it to "
			"failed/: "
			"%s)",
			j->s->name, j->c->path, name, j->s->reason[reason], why, strerror(-r));
}

static bool jsrc_stopping(struct jsrc *j)
{
	bool stop;

	pthread_mutex_lock(&j->mu);
	stop = j->stop;
	pthread_mutex_unlock(&j->mu);
	return stop;
}

static void jsrc_pend(struct jsrc *j, const char *name)
{
	struct jsrc_pending *p;

	if (j->npend == j->pend_cap) {
		size_t cap = j->pend_cap ? j->pend_cap * 2 : 64, i;
		struct jsrc_pending *v = malloc(cap * sizeof(*v));

		if (!v)
			goto nomem;
		for (i = 0; i < j->npend; i++)
			v[i] = j->pend[(j->pend_head + i) % j->pend_cap];
		free(j->pend);
		j->pend = v;
		j->pend_cap = cap;
		j->pend_head = 0;
	}
	p = &j->pend[(j->pend_head + j->npend) % j->pend_cap];
	p->name = strdup(name);
	if (!p->name)
		goto nomem;
	p->last_seq = uploader_published(j->prod);
	j->npend++;
	return;
nomem:
	/* Its samples are queued: it is only not deleted nor checkpointed. */
	log_err("json %s: out of memory: %s will be read again after a restart", j->s->name, name);
}

static void jsrc_defer(struct jsrc *j, const char *name, int64_t mtime_ns)
{
	int64_t now = clock_unix_ns();
	struct jsrc_deferred *d;

	if (j->ndefer == j->defer_cap) {
		size_t cap = j->defer_cap ? j->defer_cap * 2 : 8;
		struct jsrc_deferred *v = realloc(j->defer, cap * sizeof(*v));

		if (!v)
			return;
		j->defer = v;
		j->defer_cap = cap;
	}
	d = &j->defer[j->ndefer];
	d->name = strdup(name);
	if (!d->name)
		return;
	d->retry_ns = jsrc_now() + (mtime_ns + JSRC_SETTLE_NS - now);
	j->ndefer++;
}

/* Publish what the file gave, waiting for room in the ring: a stored file
 * may wait, a live source would drop.  false: stopped half-way. */
static bool jsrc_publish(struct jsrc *j)
{
	struct sample_span sp = sample_list_span(&j->doc.list, 0, j->doc.list.n);
	size_t i;
	int r;

	for (i = 0; i < sp.n; i++) {
		const void *rec = sp.data + sp.off[i];
		size_t len = sp.off[i + 1] - sp.off[i];

		while ((r = uploader_publish_packed(j->prod, rec, len)) == -EAGAIN) {
			struct timespec ts = {0, 2000000};

			if (jsrc_stopping(j))
				return false;
			nanosleep(&ts, NULL);
		}
		if (r == 0)
			source_sample(j->s, sample_packed_ts(rec), rec, len);
	}
	return true;
}

/* Read one file.  Returns false when the source is stopping. */
static bool jsrc_file(struct jsrc *j, const char *name, bool retried)
{
	struct jp_opts o = {0};
	struct json_error je;
	unsigned reason;
	struct json_doc doc;
	struct stat st;
	char why[200];
	char *buf = NULL;
	uint64_t key;
	int64_t mtime_ns;
	int fd, r;

	fd = openat(j->dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
	if (fd < 0) {
		if (errno == ENOENT)
			return true; /* gone: taken by its writer, or by us */
		source_error(j->s, j->r_read);
		log_err("json %s: cannot open %s/%s: %s", j->s->name, j->c->path, name,
			strerror(errno));
		return true;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return true; /* a directory or a device that matches: not ours */
	}
	key = jsrc_key(name, &st);
	jsrc_seen_turn(j);
	if (jsrc_seen_has(&j->seen, key) || jsrc_seen_has(&j->seen_old, key)) {
		close(fd);
		return true;
	}
	mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec;
	if ((uint64_t)st.st_size > j->c->max_size) {
		close(fd);
		snprintf(why, sizeof(why), "%lld bytes, max_size is %llu", (long long)st.st_size,
			 (unsigned long long)j->c->max_size);
		jsrc_refuse(j, name, j->doc.r_doc[JP_TOO_LARGE], why);
		jsrc_seen_add(&j->seen, key);
		return true;
	}
	buf = malloc((size_t)st.st_size + 1);
	r = buf ? jsrc_read_all(fd, buf, (size_t)st.st_size) : -ENOMEM;
	close(fd);
	if (r) {
		free(buf);
		source_error(j->s, j->r_read);
		log_err("json %s: cannot read %s/%s: %s", j->s->name, j->c->path, name,
			strerror(-r));
		return true;
	}
	r = json_parse(buf, (size_t)st.st_size, SDOC_NODES_MAX, &doc, &je);
	if (r == -EBADMSG && je.offset >= (size_t)st.st_size && !retried &&
	    clock_unix_ns() - mtime_ns < JSRC_SETTLE_NS) {
		/* Cut short and young: its writer is still at it. */
		free(buf);
		jsrc_defer(j, name, mtime_ns);
		return true;
	}
	if (r) {
		free(buf);
		if (r == -ENOMEM) {
			source_error(j->s, j->r_read);
			log_err("json %s: out of memory reading %s/%s", j->s->name, j->c->path,
				name);
			return true;
		}
		snprintf(why, sizeof(why), "%u:%u: %s", je.line, je.col, je.msg);
		jsrc_refuse(j, name, j->doc.r_doc[je.too_many ? JP_TOO_LARGE : JP_NOT_JSON], why);
		jsrc_seen_add(&j->seen, key);
		return true;
	}
	o.format = j->c->format == CFG_JSON_FLAT ? JP_FLAT : JP_POINTS;
	o.time_key = j->c->time_key[0] ? j->c->time_key : NULL;
	o.time_format = sdoc_time(j->c->time_format);
	o.default_ns = mtime_ns;
	o.name = j->c->measurement[0] ? j->c->measurement : j->s->name;
	r = sdoc_convert(&j->doc, doc.root, &o, &reason, why, sizeof(why));
	json_free(&doc);
	free(buf);
	if (r == -ENOMEM) {
		source_error(j->s, j->r_read);
		log_err("json %s: out of memory reading %s/%s", j->s->name, j->c->path, name);
		return true;
	}
	if (r == -EBADMSG) {
		jsrc_refuse(j, name, reason, why);
		jsrc_seen_add(&j->seen, key);
		return true;
	}
	if (r == -ENODATA)
		source_error(j->s, reason); /* read, and nothing to ship: done */
	if (!jsrc_publish(j))
		return false;
	jsrc_seen_add(&j->seen, key);
	jsrc_pend(j, name);
	j->files_ok++;
	return true;
}

/* Files whose samples every sink now holds: their after-action, and the
 * checkpoint moves on. */
static void jsrc_retire(struct jsrc *j)
{
	uint64_t durable = uploader_durable(j->prod), k;

	while (j->npend && j->pend[j->pend_head].last_seq <= durable) {
		struct jsrc_pending *p = &j->pend[j->pend_head];
		char to[NAME_MAX + 8];
		int r = 0;

		if (j->c->after == CFG_JSON_DELETE) {
			r = unlinkat(j->dirfd, p->name, 0) < 0 && errno != ENOENT ? -errno : 0;
		} else if (j->c->after == CFG_JSON_MOVE) {
			snprintf(to, sizeof(to), "done/%s", p->name);
			if (mkdirat(j->dirfd, "done", 0750) < 0 && errno != EEXIST)
				r = -errno;
			else if (renameat(j->dirfd, p->name, j->dirfd, to) < 0 && errno != ENOENT)
				r = -errno;
		}
		if (r) {
			source_error(j->s, j->r_after);
			if (log_rate_event(&j->after_log, jsrc_now(), 60 * 1000000000LL, &k))
				log_err("json %s: cannot %s %s/%s: %s (%llu files so far); it "
					"stays "
					"where it is",
					j->s->name,
					j->c->after == CFG_JSON_DELETE ? "delete" : "move to done/",
					j->c->path, p->name, strerror(-r), (unsigned long long)k);
		}
		if (strcmp(p->name, j->mark) > 0 && strlen(p->name) < sizeof(j->mark)) {
			strcpy(j->mark, p->name);
			j->mark_dirty = true;
			j->since_ckpt++;
		}
		free(p->name);
		j->pend_head = (j->pend_head + 1) % j->pend_cap;
		j->npend--;
	}
	jsrc_ckpt_save(j, false);
}

/* Files done / total and the time left, while a backlog drains. */
static void jsrc_progress(struct jsrc *j, bool force)
{
	int64_t now = jsrc_now();
	uint64_t done = j->backlog_at, total = j->nbacklog;
	double el = (double)(now - j->backlog_start_ns) / 1e9, rate, left;
	char eta[48];

	atomic_store(&j->s->progress_done, done);
	atomic_store(&j->s->progress_total, total);
	rate = el > 0 ? (double)done / el : 0;
	left = rate > 0 ? (double)(total - done) / rate : -1;
	atomic_store(&j->s->progress_eta_ns, left < 0 ? -1 : (int64_t)(left * 1e9));
	if (left < 0)
		snprintf(eta, sizeof(eta), "time left unknown");
	else if (left < 1)
		snprintf(eta, sizeof(eta), "less than a second left");
	else {
		char d[32];

		fmt_seconds(d, sizeof(d), left, false);
		snprintf(eta, sizeof(eta), "about %s left", d);
	}
	source_set_state(j->s, SOURCE_BACKLOG, "%llu of %llu files, %s", (unsigned long long)done,
			 (unsigned long long)total, eta);
	if (force || now - j->progress_at_ns >= JSRC_PROGRESS_NS) {
		j->progress_at_ns = now;
		log_info("json %s: backlog: %llu of %llu files (%.0f files/s), %s", j->s->name,
			 (unsigned long long)done, (unsigned long long)total, rate, eta);
	}
}

static void jsrc_watching(struct jsrc *j)
{
	source_set_state(j->s, SOURCE_OK, "watching %s: %llu files read, %llu refused", j->c->path,
			 (unsigned long long)j->files_ok, (unsigned long long)j->files_failed);
}

static void jsrc_backlog_start(struct jsrc *j)
{
	int r = jsrc_scan(j);

	if (r) {
		source_error(j->s, j->r_read);
		log_err("json %s: cannot list %s: %s", j->s->name, j->c->path, strerror(-r));
		return;
	}
	j->in_backlog = j->nbacklog > 0;
	j->backlog_start_ns = j->progress_at_ns = jsrc_now();
	if (j->in_backlog) {
		log_info("json %s: %zu files to read in %s", j->s->name, j->nbacklog, j->c->path);
		jsrc_progress(j, false);
	} else {
		jsrc_watching(j);
	}
}

static void jsrc_backlog_end(struct jsrc *j)
{
	double el = (double)(jsrc_now() - j->backlog_start_ns) / 1e9;
	size_t i;

	for (i = 0; i < j->nbacklog; i++)
		free(j->backlog[i]);
	log_info("json %s: backlog done: %zu files in %.1f s (%llu refused in all)", j->s->name,
		 j->nbacklog, el, (unsigned long long)j->files_failed);
	j->nbacklog = j->backlog_at = 0;
	j->in_backlog = false;
	atomic_store(&j->s->progress_total, 0);
	atomic_store(&j->s->progress_done, 0);
	jsrc_watching(j);
}

/* The directory went away (or never came): look for it again. */
static void jsrc_reopen(struct jsrc *j)
{
	int fd, wd;

	if (jsrc_now() < j->retry_at_ns)
		return;
	j->retry_at_ns = jsrc_now() + JSRC_RETRY_NS;
	fd = open(j->c->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return;
	wd = inotify_add_watch(j->ino_fd, j->c->path,
			       IN_CLOSE_WRITE | IN_MOVED_TO | IN_DELETE_SELF | IN_MOVE_SELF |
				       IN_ONLYDIR);
	if (wd < 0) {
		close(fd);
		return;
	}
	inotify_rm_watch(j->ino_fd, atomic_exchange(&j->wd, wd));
	close(j->dirfd);
	j->dirfd = fd;
	pthread_mutex_lock(&j->mu);
	j->dir_gone = false;
	pthread_mutex_unlock(&j->mu);
	log_info("json %s: %s is back", j->s->name, j->c->path);
	jsrc_backlog_start(j);
}

/* The next name to read, from the backlog, inotify, or a settled deferred
 * file; NULL after waiting a tick.  The caller frees it. */
static char *jsrc_next(struct jsrc *j, bool *retried)
{
	struct timespec ts;
	char *name = NULL;
	bool rescan, gone;
	int64_t now = jsrc_now();
	size_t i;

	*retried = false;
	if (j->in_backlog && j->backlog_at < j->nbacklog) {
		name = j->backlog[j->backlog_at];
		j->backlog[j->backlog_at++] = NULL;
		return name;
	}
	for (i = 0; i < j->ndefer; i++)
		if (j->defer[i].retry_ns <= now) {
			name = j->defer[i].name;
			j->defer[i] = j->defer[--j->ndefer];
			*retried = true;
			return name;
		}
	pthread_mutex_lock(&j->mu);
	if (j->live_head < j->nlive) {
		name = j->live[j->live_head++];
		if (j->live_head == j->nlive)
			j->live_head = j->nlive = 0;
	}
	rescan = j->rescan;
	j->rescan = false;
	gone = j->dir_gone;
	if (!name && !rescan && !gone && !j->stop) {
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_nsec += JSRC_TICK_NS;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&j->cv, &j->mu, &ts);
	}
	pthread_mutex_unlock(&j->mu);
	if (rescan) {
		source_error(j->s, j->r_overflow);
		log_warn("json %s: too many new files at once for inotify; listing %s again",
			 j->s->name, j->c->path);
		jsrc_backlog_start(j);
	}
	if (gone) {
		if (j->s->state != SOURCE_ERROR) {
			log_err("json %s: %s is gone; looking for it every 10 s", j->s->name,
				j->c->path);
			source_set_state(j->s, SOURCE_ERROR,
					 "%s is gone; looking for it every 10 s", j->c->path);
		}
		jsrc_reopen(j);
	}
	return name;
}

static void *jsrc_main(void *arg)
{
	struct jsrc *j = arg;
	char ring[CFG_NAME_MAX + 8];
	int64_t until;
	bool retried;
	char *name;
	int r;

	/* The ring is "json.NAME" on /metrics, or NAME if that is too long. */
	snprintf(ring, sizeof(ring), "json.%s", j->s->name);
	r = uploader_producer(j->pd->uploader, strlen(ring) < 32 ? ring : j->s->name, JSRC_RING,
			      &j->prod);
	if (r) {
		log_err("json %s: no ring into the uploader: %s; the source stays down", j->s->name,
			strerror(-r));
		source_set_state(j->s, SOURCE_ERROR, "no ring into the uploader (%s)",
				 strerror(-r));
		return NULL;
	}
	jsrc_backlog_start(j);
	while (!jsrc_stopping(j)) {
		name = jsrc_next(j, &retried);
		if (name) {
			bool go_on = jsrc_file(j, name, retried);

			free(name);
			if (!go_on)
				break;
		}
		jsrc_retire(j);
		if (j->in_backlog) {
			if (j->backlog_at == j->nbacklog)
				jsrc_backlog_end(j);
			else
				jsrc_progress(j, false);
		} else if (name && j->s->state == SOURCE_OK) {
			jsrc_watching(j);
		}
	}
	/* The uploader still runs: give it a moment to spool what it has, so
	 * that a clean stop re-reads nothing. */
	until = jsrc_now() + JSRC_STOP_WAIT_NS;
	while (j->npend && jsrc_now() < until) {
		struct timespec ts = {0, 20000000};

		jsrc_retire(j);
		nanosleep(&ts, NULL);
	}
	jsrc_retire(j);
	jsrc_ckpt_save(j, true);
	if (j->npend)
		log_warn("json %s: %zu files not yet in every sink's spool at stop: read again at "
			 "the next start",
			 j->s->name, j->npend);
	return NULL;
}

/* ------------------------------------------------------------ I/O thread */

static void jsrc_arm(struct jsrc *j);

static void jsrc_ino_retry_cb(struct loop *l, int res, void *arg)
{
	struct jsrc *j = arg;

	(void)l;
	if (res == -ECANCELED || atomic_load(&j->pd->stopping))
		return;
	jsrc_arm(j);
}

static void jsrc_ino_cb(struct loop *l, int res, void *arg)
{
	struct jsrc *j = arg;
	unsigned char *p = j->ino_buf, *end;
	bool wake = false;
	int r;

	if (res == -ECANCELED || atomic_load(&j->pd->stopping))
		return;
	if (res <= 0) {
		source_error(j->s, j->r_read);
		log_err("json %s: reading inotify: %s; trying again in 1 s", j->s->name,
			res ? strerror(-res) : "end of file");
		r = loop_timer_at(l, &j->ino_retry_op, loop_now() + 1000000000LL, jsrc_ino_retry_cb,
				  j);
		if (r)
			log_err("json %s: cannot queue a timer: %s; new files are seen at the next "
				"start",
				j->s->name, strerror(-r));
		return;
	}
	end = p + res;
	pthread_mutex_lock(&j->mu);
	while (p + sizeof(struct inotify_event) <= end) {
		const struct inotify_event *e = (const void *)p;

		p += sizeof(*e) + e->len;
		if (e->mask & IN_Q_OVERFLOW) {
			j->rescan = wake = true;
			continue;
		}
		if (e->wd != atomic_load(&j->wd))
			continue; /* the old directory's, after it moved away */
		if (e->mask & (IN_IGNORED | IN_DELETE_SELF | IN_MOVE_SELF)) {
			j->dir_gone = wake = true;
			continue;
		}
		if (!(e->mask & (IN_CLOSE_WRITE | IN_MOVED_TO)) || (e->mask & IN_ISDIR) ||
		    !e->len || !jsrc_match(j, e->name))
			continue;
		if (j->nlive - j->live_head >= JSRC_LIVE_MAX) {
			j->rescan = wake = true;
			continue;
		}
		if (jsrc_push_name(&j->live, &j->nlive, &j->live_cap, e->name))
			j->rescan = true;
		wake = true;
	}
	if (wake)
		pthread_cond_signal(&j->cv);
	pthread_mutex_unlock(&j->mu);
	jsrc_arm(j);
}

static void jsrc_arm(struct jsrc *j)
{
	int r = loop_read(j->pd->loop, &j->ino_op, j->ino_fd, j->ino_buf, sizeof(j->ino_buf), -1,
			  jsrc_ino_cb, j);

	if (r) {
		source_error(j->s, j->r_read);
		log_err("json %s: cannot queue the inotify read: %s; new files are seen at the "
			"next "
			"start",
			j->s->name, strerror(-r));
	}
}

/* ------------------------------------------------------------ the source */

static int jsrc_open(struct source *s)
{
	const struct cfg_json *c = s->conf;
	struct jsrc *j = calloc(1, sizeof(*j));
	int r;

	if (!j)
		return -ENOMEM;
	j->s = s;
	j->pd = s->pd;
	j->c = c;
	j->dirfd = j->ino_fd = -1;
	atomic_init(&j->wd, -1);
	pthread_mutex_init(&j->mu, NULL);
	{
		pthread_condattr_t ca;

		pthread_condattr_init(&ca);
		pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
		pthread_cond_init(&j->cv, &ca);
		pthread_condattr_destroy(&ca);
	}
	s->priv = j;
	r = sdoc_init(&j->doc, s, &c->fields);
	if (r)
		return r;
	j->r_read = source_reason(s, "read");
	j->r_after = source_reason(s, "after");
	j->r_overflow = source_reason(s, "overflow");
	j->r_checkpoint = source_reason(s, "checkpoint");
	snprintf(j->ckpt_name, sizeof(j->ckpt_name), "json.%s.checkpoint", s->name);

	j->dirfd = open(c->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (j->dirfd < 0) {
		r = -errno;
		log_err("json %s: cannot open the directory %s: %s", s->name, c->path,
			strerror(errno));
		return r;
	}
	/* Blocking: the loop's read waits in the kernel, not here. */
	j->ino_fd = inotify_init1(IN_CLOEXEC);
	if (j->ino_fd < 0) {
		r = -errno;
		log_err("json %s: inotify: %s", s->name, strerror(errno));
		return r;
	}
	/* Before the backlog is listed, so no file falls between the two. */
	r = inotify_add_watch(j->ino_fd, c->path,
			      IN_CLOSE_WRITE | IN_MOVED_TO | IN_DELETE_SELF | IN_MOVE_SELF |
				      IN_ONLYDIR);
	atomic_store(&j->wd, r);
	if (r < 0) {
		r = -errno;
		log_err("json %s: cannot watch %s: %s%s", s->name, c->path, strerror(errno),
			errno == ENOSPC ? " (fs.inotify.max_user_watches is reached)" : "");
		return r;
	}
	r = jsrc_ckpt_load(j);
	if (r) {
		log_err("json %s: cannot read the checkpoint %s/%s: %s", s->name,
			s->pd->cfg->daemon.state_dir, j->ckpt_name, strerror(-r));
		return r;
	}
	source_set_state(s, SOURCE_STARTING, "listing %s", c->path);
	return 0;
}

static void jsrc_start(struct source *s)
{
	struct jsrc *j = s->priv;
	int r;

	jsrc_arm(j);
	r = -pthread_create(&j->thread, NULL, jsrc_main, j);
	if (r) {
		log_err("json %s: cannot start its reader thread: %s", s->name, strerror(-r));
		source_set_state(s, SOURCE_ERROR, "no reader thread (%s)", strerror(-r));
		return;
	}
	j->thread_started = true;
}

/* While the uploader still runs: the reader's last files become safe and
 * are checkpointed (jsrc_main's end). */
static void jsrc_finish(struct source *s)
{
	struct jsrc *j = s->priv;

	if (!j || !j->thread_started)
		return;
	pthread_mutex_lock(&j->mu);
	j->stop = true;
	pthread_cond_signal(&j->cv);
	pthread_mutex_unlock(&j->mu);
	pthread_join(j->thread, NULL);
	j->thread_started = false;
}

static void jsrc_stop(struct source *s)
{
	struct jsrc *j = s->priv;
	size_t i;

	if (!j)
		return;
	jsrc_finish(s);
	for (i = j->live_head; i < j->nlive; i++)
		free(j->live[i]);
	free(j->live);
	for (i = j->backlog_at; i < j->nbacklog; i++)
		free(j->backlog[i]);
	free(j->backlog);
	for (i = 0; i < j->npend; i++)
		free(j->pend[(j->pend_head + i) % j->pend_cap].name);
	free(j->pend);
	for (i = 0; i < j->ndefer; i++)
		free(j->defer[i].name);
	free(j->defer);
	free(j->seen.key);
	free(j->seen_old.key);
	sdoc_free(&j->doc);
	if (j->ino_fd >= 0)
		close(j->ino_fd);
	if (j->dirfd >= 0)
		close(j->dirfd);
	pthread_cond_destroy(&j->cv);
	pthread_mutex_destroy(&j->mu);
	s->priv = NULL;
	free(j);
}

const struct source_ops source_json_ops = {
	.kind = "json",
	.open = jsrc_open,
	.start = jsrc_start,
	.finish = jsrc_finish,
	.stop = jsrc_stop,
};

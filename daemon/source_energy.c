/* A source's integrals, persisted (source_energy.h).  The checkpoint is
 * replaced atomically (fs_replace: temporary file, fsync, rename), so a
 * crash leaves the old one or the new one, never half of either. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fsutil.h"
#include "log.h"
#include "source.h"
#include "source_energy.h"

static int senergy_load(struct senergy *e)
{
	char path[PATH_MAX], buf[INTEG_FILE_MAX + 1], corrupt[NAME_MAX + 16];
	const char *why = "too long";
	size_t unknown = 0;
	ssize_t n;
	int fd, dfd, r;

	snprintf(path, sizeof(path), "%s/%s", e->state_dir, e->file);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	n = read(fd, buf, sizeof(buf));
	r = n < 0 ? -errno : 0;
	close(fd);
	if (r)
		return r;
	if ((size_t)n < sizeof(buf) &&
	    !integ_load(buf, (size_t)n, e->spec, e->live, e->n, &unknown, &why)) {
		if (unknown)
			log_info("%s %s: %zu integral(s) in %s are no longer configured: dropped",
				 e->s->ops->kind, e->s->name, unknown, path);
		return 0;
	}
	/* Damage: kept as evidence, and the integrals start from 0. */
	snprintf(corrupt, sizeof(corrupt), "%s.corrupt", e->file);
	dfd = open(e->state_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	r = dfd < 0 ? -errno : fs_set_aside(dfd, e->file, corrupt, 9, true, NULL, 0);
	if (dfd >= 0)
		close(dfd);
	log_err("%s %s: the energy checkpoint %s is damaged (%s)%s; its integrals start again "
		"from 0",
		e->s->ops->kind, e->s->name, path, why, r ? "" : ", moved aside as .corrupt");
	memset(e->live, 0, sizeof(e->live));
	return 0;
}

int senergy_open(struct senergy **out, struct source *s, const char *state_dir, const char *spec,
		 int64_t max_gap_ns)
{
	struct senergy *e;
	char why[160];
	int r;

	*out = NULL;
	if (!spec[0])
		return 0;
	e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	e->s = s;
	e->state_dir = state_dir;
	e->max_gap_ns = max_gap_ns;
	snprintf(e->file, sizeof(e->file), "integrate.%s.state", s->name);
	pthread_mutex_init(&e->mu, NULL);
	pthread_mutex_init(&e->save_mu, NULL);
	r = integ_parse(spec, e->spec, INTEG_MAX, &e->n, why, sizeof(why));
	if (r) {
		/* The configuration checked it: only a bug gets here. */
		log_err("%s %s: integrate: %s", s->ops->kind, s->name, why);
		senergy_free(e);
		return r;
	}
	e->r_gap = source_reason(s, "integrate_gap");
	e->r_stale = source_reason(s, "integrate_stale");
	r = senergy_load(e);
	if (r) {
		log_err("%s %s: cannot read %s/%s: %s", s->ops->kind, s->name, state_dir, e->file,
			strerror(-r));
		senergy_free(e);
		return r;
	}
	*out = e;
	return 0;
}

void senergy_free(struct senergy *e)
{
	if (!e)
		return;
	pthread_mutex_destroy(&e->mu);
	pthread_mutex_destroy(&e->save_mu);
	free(e);
}

void senergy_begin(struct senergy *e)
{
	/* The producer is the only writer: its copy is the live one. */
	pthread_mutex_lock(&e->mu);
	memcpy(e->work, e->live, sizeof(e->work));
	pthread_mutex_unlock(&e->mu);
}

void senergy_add(struct senergy *e, size_t i, int64_t t_ns, double watts, double *wh)
{
	switch (integ_add(&e->work[i], t_ns, watts, e->max_gap_ns)) {
	case INTEG_GAP:
		source_error(e->s, e->r_gap);
		break;
	case INTEG_STALE:
	case INTEG_BAD:
		source_error(e->s, e->r_stale);
		break;
	default:
		break;
	}
	*wh = e->work[i].joules / 3600.0;
}

void senergy_commit(struct senergy *e)
{
	pthread_mutex_lock(&e->mu);
	if (memcmp(e->live, e->work, sizeof(e->live))) {
		memcpy(e->live, e->work, sizeof(e->live));
		e->dirty = true;
	}
	pthread_mutex_unlock(&e->mu);
}

int senergy_save(struct senergy *e, bool force)
{
	struct integ_state st[INTEG_MAX];
	char buf[INTEG_FILE_MAX], who[CFG_NAME_MAX + 16];
	size_t len;
	bool dirty;
	int r;

	pthread_mutex_lock(&e->save_mu);
	pthread_mutex_lock(&e->mu);
	memcpy(st, e->live, sizeof(st));
	dirty = e->dirty;
	e->dirty = false;
	pthread_mutex_unlock(&e->mu);
	if (!dirty && !force) {
		pthread_mutex_unlock(&e->save_mu);
		return 0;
	}
	r = integ_format(e->spec, st, e->n, buf, sizeof(buf), &len);
	if (!r)
		r = fs_replace(e->state_dir, e->file, buf, len, 0640);
	if (r) {
		/* Saved next time round. */
		pthread_mutex_lock(&e->mu);
		e->dirty = true;
		pthread_mutex_unlock(&e->mu);
	}
	snprintf(who, sizeof(who), "%s %s", e->s->ops->kind, e->s->name);
	persist_report(&e->health, who, e->state_dir, r);
	pthread_mutex_unlock(&e->save_mu);
	return r ? r : 1;
}

double senergy_joules(struct senergy *e, size_t i)
{
	double j;

	pthread_mutex_lock(&e->mu);
	j = e->live[i].joules;
	pthread_mutex_unlock(&e->mu);
	return j;
}

/* libFuzzer target for register maps: any text loads or is refused with a
 * FILE:LINE message; a map that loads plans reads that cover every value
 * within its limits, decodes any registers into samples that open, and
 * encodes writes that read back.  The input is the map, then optionally a
 * NUL and the registers' bytes (else they come from a generator seeded by
 * the input). */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "regmap.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_ASSERT(cond)                                                                          \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "fuzz_regmap:%d: %s\n", __LINE__, #cond);                  \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

struct regs_src {
	const uint8_t *p;
	size_t n, at;
	uint64_t x;
};

static uint16_t next_reg(struct regs_src *g)
{
	uint16_t v;

	if (g->n) {
		v = (uint16_t)(g->p[g->at % g->n] << 8 | g->p[(g->at + 1) % g->n]);
		g->at += 2;
		return v;
	}
	g->x ^= g->x << 13;
	g->x ^= g->x >> 7;
	g->x ^= g->x << 17;
	return (uint16_t)g->x;
}

static bool covered(const struct regmap_value *v, const struct regmap_request *rq, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (rq[i].unit_id == v->unit_id && rq[i].table == v->table &&
		    v->address >= rq[i].start &&
		    (uint32_t)v->address + v->count <= (uint32_t)rq[i].start + rq[i].count)
			return true;
	return false;
}

static void check_requests(const struct regmap *m, const struct regmap_request *rq, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		uint32_t end = (uint32_t)rq[i].start + rq[i].count;

		FUZZ_ASSERT(rq[i].count >= 1 && rq[i].count <= m->max_registers && end <= 65536);
		if (m->boundary)
			FUZZ_ASSERT(rq[i].start / m->boundary == (end - 1) / m->boundary);
		/* The read lines come first, as they are; then the plan's own. */
		if (i > m->nreads) {
			const struct regmap_request *a = &rq[i - 1];

			FUZZ_ASSERT(a->unit_id < rq[i].unit_id ||
				    (a->unit_id == rq[i].unit_id &&
				     (a->table < rq[i].table ||
				      (a->table == rq[i].table &&
				       (uint32_t)a->start + a->count <= rq[i].start))));
		}
	}
}

static void check_writes(const struct regmap *m, const struct regmap_block *b, size_t nb)
{
	struct regmap_reading rd, back;
	struct regmap_block one;
	uint16_t w[REGMAP_ASCII_MAX];
	size_t i, k;
	int r;

	for (i = 0; i < m->n; i++) {
		const struct regmap_value *v = &m->v[i], *f = NULL;
		char ref[2 * SAMPLE_KEY_MAX];

		snprintf(ref, sizeof(ref), "%s.%s", m->meas[v->meas], v->name);
		FUZZ_ASSERT(regmap_find(m, ref, &f) == 0 && f == v);
		r = regmap_read(m, v, b, nb, &rd);
		FUZZ_ASSERT(r == 0 || r == -EDOM);
		if (r)
			continue;
		for (k = 0; k < nb; k++)
			if (b[k].unit_id == v->unit_id && b[k].table == v->table &&
			    v->address >= b[k].start &&
			    (uint32_t)v->address + v->count <= (uint32_t)b[k].start + b[k].count)
				break;
		FUZZ_ASSERT(k < nb);
		memcpy(w, b[k].regs + (v->address - b[k].start), v->count * sizeof(*w));
		r = regmap_encode(m, v, rd.type == SAMPLE_INT ? (double)rd.i : rd.f, w);
		if (!v->writable) {
			FUZZ_ASSERT(r == -EPERM);
			continue;
		}
		FUZZ_ASSERT(rd.type != SAMPLE_STRING);
		FUZZ_ASSERT(r == 0 || r == -ERANGE || r == -EINVAL);
		/* A plain integer reads back as itself, if the range takes it. */
		if (rd.type == SAMPLE_INT && (!v->has_min || (double)rd.i >= v->min) &&
		    (!v->has_max || (double)rd.i <= v->max)) {
			FUZZ_ASSERT(r == 0);
			one = (struct regmap_block){v->unit_id, v->table, v->address, v->count, w};
			FUZZ_ASSERT(regmap_read(m, v, &one, 1, &back) == 0);
			FUZZ_ASSERT(back.type == SAMPLE_INT && back.i == rd.i);
		}
		if (v->has_min) {
			r = regmap_encode(m, v, v->min, w);
			FUZZ_ASSERT(r == 0 || r == -ERANGE || r == -EINVAL);
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nul = memchr(data, 0, size);
	size_t len = nul ? (size_t)(nul - data) : size;
	struct regs_src g = {0};
	struct regmap_request *rq;
	struct regmap_block *b;
	uint16_t *regs;
	struct regmap m;
	char err[256];
	size_t n = 0, i, total = 0, nsub = 0, tab;
	int r = regmap_load("f.map", (const char *)data, len, &m, err, sizeof(err));

	FUZZ_ASSERT(r == 0 || r == -EINVAL || r == -ENOMEM);
	if (r == -EINVAL) {
		unsigned line = 0;

		FUZZ_ASSERT(sscanf(err, "f.map:%u: ", &line) == 1 && line >= 1);
		FUZZ_ASSERT(m.n == 0 && !m.v && !m.sorted && !m.derive && !m.meas);
	}
	if (r)
		return 0;
	FUZZ_ASSERT(m.n >= 1 && m.nmeas >= 1);
	g.p = nul ? nul + 1 : NULL;
	g.n = nul ? size - len - 1 : 0;
	g.x = 0x9E3779B97F4A7C15ull ^ size;
	for (i = 0; i < size; i++)
		g.x = (g.x ^ data[i]) * 0x100000001B3ull;
	if (!g.x)
		g.x = 1;

	rq = calloc(regmap_plan_max(&m), sizeof(*rq));
	b = calloc(regmap_plan_max(&m), sizeof(*b));
	FUZZ_ASSERT(rq && b);
	FUZZ_ASSERT(regmap_plan(&m, -1, -1, rq, regmap_plan_max(&m), &n) == 0);
	FUZZ_ASSERT(n >= 1 && n <= regmap_plan_max(&m));
	for (i = 0; i < m.nreads; i++)
		FUZZ_ASSERT(!memcmp(&rq[i], &m.reads[i], sizeof(rq[i])));
	check_requests(&m, rq, n);
	for (i = 0; i < m.n; i++)
		FUZZ_ASSERT(covered(&m.v[i], rq, n));
	/* one table at a time: the same requests */
	for (tab = 0; tab < 2; tab++) {
		size_t k = 0;

		FUZZ_ASSERT(regmap_plan(&m, (int)tab, -1, rq, regmap_plan_max(&m), &k) == 0);
		nsub += k;
	}
	FUZZ_ASSERT(nsub == n);
	FUZZ_ASSERT(regmap_plan(&m, -1, -1, rq, regmap_plan_max(&m), &n) == 0);
	if (n > 1)
		FUZZ_ASSERT(regmap_plan(&m, -1, -1, rq, n - 1, &i) == -ENOSPC && i == n);

	for (i = 0; i < n; i++)
		total += rq[i].count;
	regs = calloc(total ? total : 1, sizeof(*regs));
	FUZZ_ASSERT(regs);
	for (i = 0; i < total; i++)
		regs[i] = next_reg(&g);
	for (i = 0, total = 0; i < n; i++) {
		b[i] = (struct regmap_block){rq[i].unit_id, rq[i].table, rq[i].start, rq[i].count,
					     regs + total};
		total += rq[i].count;
	}
	for (i = 0; i < m.nmeas; i++) {
		static const struct sample_tag tags[] = {{"source", "fuzz"}};
		struct sample_view vw;
		struct sample s;

		r = regmap_sample(&m, i, tags, 1, b, n, 1, &s);
		/* every value is read: -ENODATA only when none is a number */
		FUZZ_ASSERT(r == 0 || r == -ENODATA || r == -ENOMEM);
		if (!r)
			FUZZ_ASSERT(sample_view_of(&vw, &s) > 0 && vw.nfields >= 1);
		sample_free(&s);
	}
	check_writes(&m, b, n);
	free(regs);
	free(b);
	free(rq);
	regmap_free(&m);
	return 0;
}

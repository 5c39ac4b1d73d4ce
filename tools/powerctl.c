/* powerctl [-s SOCKET] status [--json]
 * powerctl [-s SOCKET] tail [SOURCE] [--json] [--count N] [--seconds S]
 * powerctl [-s SOCKET] set-energy METER KWH
 * powerctl [-s SOCKET] capture METER SECONDS [-o FILE]
 * powerctl [-s SOCKET] capture METER SECONDS [-o FILE]
 * powerctl [-s SOCKET] reload
 * powerctl [-s SOCKET] can send NAME EVENTFILE
 * powerctl [-s SOCKET] modbus write NAME FIELD VALUE
 *
 * Asks a running powerd for its status: HTTP GET /api/status over the
 * daemon's Unix socket (libcurl), printed as a table or passed through as
 * JSON.  Self-contained on purpose: it reads only the JSON document, so it
 * shares nothing with the daemon but that format.  `can send` posts a
 * recorded event (candump log lines) to powerd, which checks and sends it
 * on [can.NAME]'s bus (allow_transmit) and answers with one line;
 * `modbus write` posts "FIELD VALUE", which powerd checks against the
 * register map (allow_write, writable, range) and writes.  `tail` reads
 * the stream of GET /api/tail (powerd's lines starting with '#' are notes:
 * "#dropped N" when this reader lagged); `set-energy` and `reload` post
 * and print powerd's answer.
 *
 * Exit status: 0 ok, 1 powerd not running or a bad answer, 2 usage. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>

#include "buf.h"
#include "fmt.h"

#define POWERCTL_SOCKET	   "/run/powerd/powerd.sock"
#define POWERCTL_URL	   "http://localhost/api/"
#define POWERCTL_EVENT_MAX (64 * 1024) /* the daemon's limit for a posted body */

enum { POWERCTL_OK = 0, POWERCTL_FAIL = 1, POWERCTL_USAGE = 2 };

#define POWERCTL_COLS 10

/* One cell of a table; a state line may be long. */
struct powerctl_row {
	char cell[POWERCTL_COLS][160];
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: powerctl [-s SOCKET] status [--json]\n"
		"       powerctl [-s SOCKET] tail [SOURCE] [--json] [--count N] [--seconds S]\n"
		"       powerctl [-s SOCKET] set-energy METER KWH\n"
		"       powerctl [-s SOCKET] capture METER SECONDS [-o FILE]\n"
		"       powerctl [-s SOCKET] reload\n"
		"       powerctl [-s SOCKET] can send NAME EVENTFILE\n"
		"       powerctl [-s SOCKET] modbus write NAME FIELD VALUE\n"
		"  status            sources (state, samples, errors; meters: power, energy, "
		"last flash, counters), sinks, "
		"rings, daemon\n"
		"  --json            print powerd's JSON status as received\n"
		"  tail              the samples powerd publishes from now on (of SOURCE only),\n"
		"                    as line protocol or, with --json, one JSON object a line,\n"
		"                    until Ctrl-C, N samples (--count) or S seconds (--seconds)\n"
		"  set-energy        set [pulse.METER]'s energy counter to the meter's register\n"
		"                    reading, in kWh (saved at once)\n"
		"  capture           [pulse.METER]'s raw edges for SECONDS (1 to 600) as a\n"
		"                    trace for pulselog (to tune min_pulse_ms), on stdout or FILE\n"
		"  reload            reload powerd's configuration file (as SIGHUP does) and\n"
		"                    say whether it was taken or what is wrong with it\n"
		"  can send          transmit a recorded event (candump log lines, their gaps\n"
		"                    kept) on [can.NAME]'s bus; needs allow_transmit = yes\n"
		"  modbus write      set FIELD of [modbus.NAME]'s map to VALUE (physical\n"
		"                    units); needs allow_write = yes and a writable field\n"
		"  -s, --socket PATH powerd's socket (default " POWERCTL_SOCKET ")\n"
		"  -h, --help        this text\n"
		"  --version         print the version\n");
}

static size_t powerctl_body(char *p, size_t size, size_t n, void *arg)
{
	return buf_append(arg, p, size * n) ? 0 : size * n;
}

/* Connection failures that mean nobody serves the socket. */
static int powerctl_down(long err)
{
	return err == ENOENT || err == ECONNREFUSED || err == ENOTDIR;
}

/* What a failed transfer means, on stderr: powerd down, no permission, or
 * no answer.  Returns POWERCTL_FAIL. */
static int powerctl_failed(const char *sock, CURLcode rc, long oserr, const char *errbuf)
{
	if (rc == CURLE_COULDNT_CONNECT && powerctl_down(oserr)) {
		fprintf(stderr, "powerctl: powerd is not running (cannot connect to %s: %s)\n",
			sock, strerror((int)oserr));
	} else if (rc == CURLE_COULDNT_CONNECT && oserr == EACCES) {
		/* The socket is root's and the powerd group's (0660). */
		fprintf(stderr,
			"powerctl: permission denied on %s: join the powerd group (sudo usermod "
			"-aG powerd $USER, then log in again)\n",
			sock);
	} else if (rc == CURLE_COULDNT_CONNECT && oserr) {
		fprintf(stderr, "powerctl: cannot connect to %s: %s\n", sock, strerror((int)oserr));
	} else {
		fprintf(stderr, "powerctl: no answer from powerd on %s: %s\n", sock,
			errbuf[0] ? errbuf : curl_easy_strerror(rc));
	}
	return POWERCTL_FAIL;
}

/* A handle for api/PATH (with its query) on the socket. */
static CURL *powerctl_curl(const char *sock, const char *path, char *errbuf)
{
	char url[512];
	CURL *c;

	if (curl_global_init(CURL_GLOBAL_DEFAULT) || !(c = curl_easy_init())) {
		fprintf(stderr, "powerctl: cannot initialise libcurl\n");
		return NULL;
	}
	snprintf(url, sizeof(url), "%s%s", POWERCTL_URL, path);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, sock);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 2000L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "powerctl/" POWERD_VERSION);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
	return c;
}

/* How powerctl_request_how takes a failure: a transfer cut after the
 * connection is an answer (code 0: a reload restarts the server answering
 * it), and quiet says nothing (the polls while powerd restarts). */
enum { POWERCTL_CUT_OK = 1, POWERCTL_QUIET = 2 };

/* GET (post NULL) or POST api/PATH on the socket; the answer in body, its
 * HTTP code in *code.  Returns POWERCTL_OK when powerd answered at all. */
static int powerctl_request_how(const char *sock, const char *path, const struct buf *post,
				struct buf *body, long *code_out, unsigned how)
{
	char errbuf[CURL_ERROR_SIZE] = "";
	long code = 0, oserr = 0;
	CURLcode rc;
	CURL *c = powerctl_curl(sock, path, errbuf);

	if (!c)
		return POWERCTL_FAIL;
	/* A transmission takes as long as its event (a minute at most). */
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, post ? 70000L : 5000L);
	if (post) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, post->data ? post->data : "");
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)post->len);
	}
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, powerctl_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, body);
	rc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
	curl_easy_getinfo(c, CURLINFO_OS_ERRNO, &oserr);
	curl_easy_cleanup(c);
	curl_global_cleanup();
	if ((how & POWERCTL_CUT_OK) && rc != CURLE_COULDNT_CONNECT && rc != CURLE_OK) {
		*code_out = 0;
		return buf_append(body, "", 0) ? POWERCTL_FAIL : POWERCTL_OK;
	}
	if (rc != CURLE_OK && (how & POWERCTL_QUIET))
		return POWERCTL_FAIL;
	if (rc != CURLE_OK)
		return powerctl_failed(sock, rc, oserr, errbuf);
	if (buf_append(body, "", 0)) {
		fprintf(stderr, "powerctl: out of memory\n");
		return POWERCTL_FAIL;
	}
	*code_out = code;
	return POWERCTL_OK;
}

static int powerctl_request(const char *sock, const char *path, const struct buf *post,
			    struct buf *body, long *code_out)
{
	return powerctl_request_how(sock, path, post, body, code_out, 0);
}

static int powerctl_fetch(const char *sock, struct buf *body)
{
	long code = 0;
	int r = powerctl_request(sock, "status", NULL, body, &code);

	if (r == POWERCTL_OK && code != 200) {
		fprintf(stderr, "powerctl: powerd on %s answered HTTP %ld\n", sock, code);
		return POWERCTL_FAIL;
	}
	return r;
}

/* Strings from the daemon must not reach the terminal with control
 * characters in them. */
static void powerctl_clean(char *s)
{
	for (; *s; s++)
		if (((unsigned char)*s < 0x20 && *s != '\n') || *s == 0x7f)
			*s = '?';
}

/* A request powerd answered with other than 200: its one-line reason is
 * printed (cleaned: it may quote what the user sent) and the verb fails. */
static int powerctl_refused(int r, long code, struct buf *body)
{
	if (r != POWERCTL_OK || !code || code == 200)
		return r;
	powerctl_clean(body->data ? body->data : (char *)"");
	fprintf(stderr, "powerctl: %s", body->data ? body->data : "refused\n");
	return POWERCTL_FAIL;
}

static bool powerctl_name_ok(const char *name)
{
	if (strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-") ==
		    strlen(name) &&
	    *name && strlen(name) <= 64)
		return true;
	fprintf(stderr, "powerctl: '%s' is not a source name\n", name);
	return false;
}

/* POST api/API with body; powerd's one-line answer on stdout (200) or
 * stderr. */
static int powerctl_post(const char *sock, const char *api, const struct buf *req)
{
	struct buf body;
	long code = 0;
	int r;

	buf_init(&body);
	r = powerctl_request(sock, api, req, &body, &code);
	if (r == POWERCTL_OK) {
		powerctl_clean(body.data);
		fputs(body.data, code == 200 ? stdout : stderr);
		if (code != 200)
			r = POWERCTL_FAIL;
	}
	buf_free(&body);
	return r;
}

/* can send NAME EVENTFILE: the file goes to powerd as it is ("-": stdin);
 * powerd checks it, sends it and says how it went. */
static int powerctl_can_send(const char *sock, const char *name, const char *path)
{
	FILE *f = strcmp(path, "-") ? fopen(path, "r") : stdin;
	struct buf ev;
	char chunk[4096], api[128];
	size_t n;
	int r;

	if (!f) {
		fprintf(stderr, "powerctl: cannot read %s: %s\n", path, strerror(errno));
		return POWERCTL_FAIL;
	}
	buf_init(&ev);
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0 && ev.len <= POWERCTL_EVENT_MAX)
		buf_append(&ev, chunk, n);
	r = ferror(f);
	if (f != stdin)
		fclose(f);
	if (r || ev.err || ev.len > POWERCTL_EVENT_MAX) {
		fprintf(stderr, "powerctl: %s: %s\n", path,
			r ? "read error" : "larger than 64 KiB: not an event");
		buf_free(&ev);
		return POWERCTL_FAIL;
	}
	if (!powerctl_name_ok(name)) {
		buf_free(&ev);
		return POWERCTL_USAGE;
	}
	snprintf(api, sizeof(api), "can/%s/send", name);
	r = powerctl_post(sock, api, &ev);
	buf_free(&ev);
	return r;
}

/* modbus write NAME FIELD VALUE: powerd checks, writes and says what the
 * device answered. */
static int powerctl_modbus_write(const char *sock, const char *name, const char *field,
				 const char *value)
{
	struct buf req;
	char api[128];
	int r;

	if (!powerctl_name_ok(name))
		return POWERCTL_USAGE;
	if (!*field || !*value || strpbrk(field, " \t\r\n") || strpbrk(value, " \t\r\n")) {
		fprintf(stderr, "powerctl: usage: powerctl modbus write NAME FIELD VALUE\n");
		return POWERCTL_USAGE;
	}
	buf_init(&req);
	buf_printf(&req, "%s %s\n", field, value);
	snprintf(api, sizeof(api), "modbus/%s/write", name);
	r = req.err ? POWERCTL_FAIL : powerctl_post(sock, api, &req);
	buf_free(&req);
	return r;
}

static double powerctl_num(const cJSON *o, const char *key);

/* The stream of a tail: whole lines out as they come, powerd's notes
 * ('#' lines) read, and the count kept. */
struct powerctl_tail {
	CURL *c;
	struct buf line; /* a line not yet ended */
	struct buf err;	 /* the body of a refusal */
	long code;
	unsigned long count, max; /* max 0: no limit */
	bool enough;
};

static void powerctl_tail_line(struct powerctl_tail *t, char *l)
{
	unsigned long long n;

	if (l[0] == '#') {
		if (sscanf(l, "#dropped %llu", &n) == 1)
			fprintf(stderr,
				"powerctl: %llu samples dropped (this reader did not keep up)\n",
				n);
		return;
	}
	if (t->enough)
		return;
	powerctl_clean(l);
	printf("%s\n", l);
	fflush(stdout);
	if (t->max && ++t->count >= t->max)
		t->enough = true;
}

static size_t powerctl_tail_data(char *p, size_t size, size_t n, void *arg)
{
	struct powerctl_tail *t = arg;
	size_t len = size * n, i, start = 0;

	if (!t->code)
		curl_easy_getinfo(t->c, CURLINFO_RESPONSE_CODE, &t->code);
	if (t->code != 200)
		return buf_append(&t->err, p, len) ? 0 : len;
	for (i = 0; i < len && !t->enough; i++) {
		if (p[i] != '\n')
			continue;
		if (buf_append(&t->line, p + start, i - start))
			return 0;
		powerctl_tail_line(t, t->line.data ? t->line.data : (char *)"");
		t->line.len = 0;
		start = i + 1;
	}
	if (!t->enough && buf_append(&t->line, p + start, len - start))
		return 0;
	return t->enough ? 0 : len; /* 0 ends the transfer: enough */
}

static int powerctl_tail(const char *sock, const char *source, bool json, unsigned long count,
			 double seconds)
{
	struct powerctl_tail t = {.max = count};
	char errbuf[CURL_ERROR_SIZE] = "", path[160];
	long oserr = 0;
	CURLcode rc;
	int r = POWERCTL_OK;

	if (source && !powerctl_name_ok(source))
		return POWERCTL_USAGE;
	snprintf(path, sizeof(path), "tail?format=%s%s%s", json ? "json" : "lp",
		 source ? "&source=" : "", source ? source : "");
	t.c = powerctl_curl(sock, path, errbuf);
	if (!t.c)
		return POWERCTL_FAIL;
	buf_init(&t.line);
	buf_init(&t.err);
	if (seconds > 0)
		curl_easy_setopt(t.c, CURLOPT_TIMEOUT_MS, (long)(seconds * 1000));
	curl_easy_setopt(t.c, CURLOPT_WRITEFUNCTION, powerctl_tail_data);
	curl_easy_setopt(t.c, CURLOPT_WRITEDATA, &t);
	rc = curl_easy_perform(t.c);
	curl_easy_getinfo(t.c, CURLINFO_OS_ERRNO, &oserr);
	if (!t.code)
		curl_easy_getinfo(t.c, CURLINFO_RESPONSE_CODE, &t.code);
	curl_easy_cleanup(t.c);
	curl_global_cleanup();
	if (t.code && t.code != 200) {
		buf_append(&t.err, "", 0);
		powerctl_clean(t.err.data ? t.err.data : (char *)"");
		fprintf(stderr, "powerctl: %s", t.err.data ? t.err.data : "refused\n");
		r = POWERCTL_FAIL;
	} else if (t.enough || (rc == CURLE_OPERATION_TIMEDOUT && seconds > 0 && t.code)) {
		r = POWERCTL_OK;
	} else if (rc == CURLE_OK || (t.code && rc != CURLE_COULDNT_CONNECT)) {
		fprintf(stderr, "powerctl: the stream ended (powerd stopped or reloaded)\n");
		r = POWERCTL_FAIL;
	} else {
		r = powerctl_failed(sock, rc, oserr, errbuf);
	}
	buf_free(&t.line);
	buf_free(&t.err);
	return r;
}

/* set-energy METER KWH: powerd sets the counter, saves it and says so. */
static int powerctl_set_energy(const char *sock, const char *meter, const char *kwh)
{
	struct buf req;
	char api[128];
	int r;

	if (!powerctl_name_ok(meter))
		return POWERCTL_USAGE;
	buf_init(&req);
	buf_printf(&req, "%s\n", kwh);
	snprintf(api, sizeof(api), "meter/%s/set-energy", meter);
	r = req.err ? POWERCTL_FAIL : powerctl_post(sock, api, &req);
	buf_free(&req);
	return r;
}

/* The reloads counted so far (ok, error), from the status; -1 when powerd
 * does not answer. */
static int powerctl_reloads(const char *sock, double *ok, double *bad, bool quiet)
{
	const cJSON *d, *rl;
	struct buf body;
	long code = 0;
	cJSON *root;
	int r;

	buf_init(&body);
	r = powerctl_request_how(sock, "status", NULL, &body, &code, quiet ? POWERCTL_QUIET : 0);
	root = r == POWERCTL_OK && code == 200 ? cJSON_Parse(body.data) : NULL;
	buf_free(&body);
	d = cJSON_GetObjectItemCaseSensitive(root, "daemon");
	rl = cJSON_GetObjectItemCaseSensitive(d, "reloads");
	*ok = powerctl_num(rl, "ok");
	*bad = powerctl_num(rl, "error");
	cJSON_Delete(root);
	return isfinite(*ok) && isfinite(*bad) ? 0 : -1;
}

/* reload: powerd parses the file; a bad one is refused with its errors, a
 * good one restarts the daemon (and the server that answers): the end is
 * told by the status, whose reload counter goes up. */
static int powerctl_reload(const char *sock)
{
	struct buf req, body;
	double ok0, bad0, ok, bad;
	long code = 0;
	int r, i;

	if (powerctl_reloads(sock, &ok0, &bad0, false))
		return POWERCTL_FAIL;
	buf_init(&req);
	buf_init(&body);
	r = powerctl_request_how(sock, "reload", &req, &body, &code, POWERCTL_CUT_OK);
	r = powerctl_refused(r, code, &body);
	buf_free(&req);
	buf_free(&body);
	if (r != POWERCTL_OK)
		return r;
	/* Taken: wait for the new configuration to run (or for powerd to
	 * give up on it). */
	for (i = 0; i < 300; i++) {
		if (powerctl_reloads(sock, &ok, &bad, true) == 0 && ok > ok0) {
			printf("powerd reloaded its configuration\n");
			return POWERCTL_OK;
		}
		usleep(100 * 1000);
	}
	fprintf(stderr, "powerctl: powerd took the new configuration but did not come back "
			"within 30 s (its log says why)\n");
	return POWERCTL_FAIL;
}

/* capture METER SECONDS [-o FILE]: powerd records the meter's edges; this
 * waits them out and fetches the trace (pulselog's format). */
static int powerctl_capture(const char *sock, const char *meter, const char *secs, const char *path)
{
	unsigned long long lost = 0, missed = 0;
	struct buf req, body;
	char api[128], *end;
	double s = strtod(secs, &end);
	long code = 0;
	FILE *f;
	int r, i;

	if (!powerctl_name_ok(meter))
		return POWERCTL_USAGE;
	if (*end || !(s >= 1 && s <= 600)) {
		fprintf(stderr, "powerctl: a capture takes 1 to 600 seconds\n");
		return POWERCTL_USAGE;
	}
	buf_init(&req);
	buf_init(&body);
	buf_printf(&req, "%s\n", secs);
	snprintf(api, sizeof(api), "meter/%s/capture", meter);
	r = req.err ? POWERCTL_FAIL : powerctl_request(sock, api, &req, &body, &code);
	r = powerctl_refused(r, code, &body);
	if (r != POWERCTL_OK)
		goto out;
	fprintf(stderr, "powerctl: capturing %s for %s s\n", meter, secs);
	usleep((useconds_t)(s * 1e6));
	snprintf(api, sizeof(api), "meter/%s/capture-fetch", meter);
	/* The end waits for edges still on their way (a fraction of a second). */
	for (i = 0; i < 100; i++) {
		body.len = 0;
		req.len = 0;
		r = powerctl_request(sock, api, &req, &body, &code);
		if (r != POWERCTL_OK || code != 429)
			break;
		usleep(100 * 1000);
	}
	r = powerctl_refused(r, code, &body);
	if (r != POWERCTL_OK)
		goto out;
	end = strstr(body.data, " edges, ");
	if (end)
		sscanf(end, " edges, %llu lost (kernel), %llu not kept", &lost, &missed);
	if (lost || missed)
		fprintf(stderr,
			"powerctl: note: %llu edges lost by the kernel and %llu not kept (buffer "
			"full) during the capture: the trace has gaps\n",
			lost, missed);
	f = path ? fopen(path, "w") : stdout;
	if (!f || fputs(body.data, f) == EOF || (path ? fclose(f) : fflush(f)) == EOF) {
		fprintf(stderr, "powerctl: cannot write %s: %s\n", path ? path : "the output",
			strerror(errno));
		r = POWERCTL_FAIL;
	}
out:
	buf_free(&req);
	buf_free(&body);
	return r;
}

/* Strings come from the daemon (a meter's state may quote an error):
 * control characters must not reach the terminal. */
static void powerctl_str(char *dst, size_t cap, const cJSON *o, const char *key)
{
	const char *s = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, key));
	size_t i;

	snprintf(dst, cap, "%s", s ? s : "?");
	for (i = 0; dst[i]; i++)
		if ((unsigned char)dst[i] < 0x20 || dst[i] == 0x7f)
			dst[i] = '?';
}

static double powerctl_num(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

static void powerctl_count(char *dst, size_t cap, const cJSON *o, const char *key)
{
	double v = powerctl_num(o, key);

	if (isfinite(v))
		snprintf(dst, cap, "%.0f", v);
	else
		snprintf(dst, cap, "?");
}

/* One source: what every kind has; a pulse meter's power, energy, last
 * flash and counters too ("-" for other kinds). */
static void powerctl_source(struct powerctl_row *r, const cJSON *m)
{
	const cJSON *age = cJSON_GetObjectItemCaseSensitive(m, "last_flash_age_s");
	const cJSON *errs = cJSON_GetObjectItemCaseSensitive(m, "errors"), *e;
	const char *kind = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(m, "kind"));
	bool pulse = kind && !strcmp(kind, "pulse");
	double power = powerctl_num(m, "power_w"), wh = powerctl_num(m, "energy_wh"), nerr = 0;
	char d[32], state[160], detail[160];
	int c;

	for (c = 0; c < POWERCTL_COLS; c++)
		snprintf(r->cell[c], sizeof(r->cell[c]), "-");
	powerctl_str(r->cell[0], sizeof(r->cell[0]), m, "name");
	powerctl_str(r->cell[1], sizeof(r->cell[1]), m, "kind");
	if (pulse && isfinite(power))
		snprintf(r->cell[2], sizeof(r->cell[2]), "%.1f W", power);
	if (pulse && isfinite(wh))
		snprintf(r->cell[3], sizeof(r->cell[3]), "%.3f kWh", wh / 1000.0);
	if (pulse && cJSON_IsNumber(age) && isfinite(age->valuedouble) && age->valuedouble >= 0) {
		fmt_seconds(d, sizeof(d), age->valuedouble, true);
		snprintf(r->cell[4], sizeof(r->cell[4]), "%s ago", d);
	} else if (pulse) {
		snprintf(r->cell[4], sizeof(r->cell[4]), "never");
	}
	powerctl_count(r->cell[5], sizeof(r->cell[5]), m, "samples");
	if (pulse) {
		powerctl_count(r->cell[6], sizeof(r->cell[6]), m, "flashes");
		powerctl_count(r->cell[7], sizeof(r->cell[7]), m, "glitches");
	}
	cJSON_ArrayForEach(e, errs) if (cJSON_IsNumber(e) && isfinite(e->valuedouble)) nerr +=
		e->valuedouble;
	snprintf(r->cell[8], sizeof(r->cell[8]), "%.0f", nerr);
	/* A pulse meter's summary says it all; other kinds: state and detail. */
	powerctl_str(state, sizeof(state), m, pulse ? "summary" : "state");
	powerctl_str(detail, sizeof(detail), m, "detail");
	if (pulse || !detail[0])
		snprintf(r->cell[9], sizeof(r->cell[9]), "%s", state);
	else
		snprintf(r->cell[9], sizeof(r->cell[9]), "%.60s: %.90s", state, detail);
}

/* Text columns left-aligned, numbers right-aligned, the last column (free
 * text) unpadded. */
static void powerctl_table(struct powerctl_row *rows, size_t n, int ncols, const char *align)
{
	int width[POWERCTL_COLS] = {0};
	size_t i;
	int c;

	for (i = 0; i < n; i++)
		for (c = 0; c < ncols; c++)
			if ((int)strlen(rows[i].cell[c]) > width[c])
				width[c] = (int)strlen(rows[i].cell[c]);
	for (i = 0; i < n; i++) {
		for (c = 0; c < ncols; c++) {
			const char *sep = c + 1 < ncols ? "  " : "\n";

			if (c + 1 == ncols && align[c] == 'l')
				printf("%s%s", rows[i].cell[c], sep);
			else
				printf(align[c] == 'l' ? "%-*s%s" : "%*s%s", width[c],
				       rows[i].cell[c], sep);
		}
	}
}

static int powerctl_sources(const cJSON *sources)
{
	static const char *const head[] = {"NAME",    "KIND",	 "POWER",    "ENERGY", "LAST FLASH",
					   "SAMPLES", "FLASHES", "GLITCHES", "ERRORS", "STATE"};
	size_t n = (size_t)cJSON_GetArraySize(sources), i = 1;
	struct powerctl_row *rows;
	const cJSON *m;
	int c;

	if (!n) {
		printf("no sources configured\n");
		return 0;
	}
	rows = calloc(n + 1, sizeof(*rows));
	if (!rows)
		return -ENOMEM;
	for (c = 0; c < POWERCTL_COLS; c++)
		snprintf(rows[0].cell[c], sizeof(rows[0].cell[c]), "%s", head[c]);
	cJSON_ArrayForEach(m, sources) powerctl_source(&rows[i++], m);
	powerctl_table(rows, n + 1, POWERCTL_COLS, "llrrrrrrrl");
	free(rows);
	return 0;
}

static int powerctl_rings(const cJSON *rings)
{
	size_t n = (size_t)cJSON_GetArraySize(rings), i = 1;
	struct powerctl_row *rows;
	const cJSON *r;

	if (!n)
		return 0;
	rows = calloc(n + 1, sizeof(*rows));
	if (!rows)
		return -ENOMEM;
	snprintf(rows[0].cell[0], sizeof(rows[0].cell[0]), "RING");
	snprintf(rows[0].cell[1], sizeof(rows[0].cell[1]), "CAPACITY");
	snprintf(rows[0].cell[2], sizeof(rows[0].cell[2]), "USED");
	snprintf(rows[0].cell[3], sizeof(rows[0].cell[3]), "DROPPED");
	cJSON_ArrayForEach(r, rings)
	{
		powerctl_str(rows[i].cell[0], sizeof(rows[i].cell[0]), r, "name");
		powerctl_count(rows[i].cell[1], sizeof(rows[i].cell[1]), r, "capacity");
		powerctl_count(rows[i].cell[2], sizeof(rows[i].cell[2]), r, "used");
		powerctl_count(rows[i].cell[3], sizeof(rows[i].cell[3]), r, "dropped");
		i++;
	}
	printf("\n");
	powerctl_table(rows, n + 1, 4, "lrrr");
	free(rows);
	return 0;
}

/* Sinks: a failing one shows its state and last error at a glance. */
static int powerctl_sinks(const cJSON *sinks)
{
	static const char *const reasons[] = {"rejected",    "spool_full", "corrupt",
					      "spool_error", "too_old",	   "unencodable"};
	size_t n = (size_t)cJSON_GetArraySize(sinks), i = 1, k;
	struct powerctl_row *rows;
	const cJSON *o;

	if (!n)
		return 0;
	rows = calloc(n + 1, sizeof(*rows));
	if (!rows)
		return -ENOMEM;
	snprintf(rows[0].cell[0], sizeof(rows[0].cell[0]), "SINK");
	snprintf(rows[0].cell[1], sizeof(rows[0].cell[1]), "TYPE");
	snprintf(rows[0].cell[2], sizeof(rows[0].cell[2]), "SENT");
	snprintf(rows[0].cell[3], sizeof(rows[0].cell[3]), "RETRIED");
	snprintf(rows[0].cell[4], sizeof(rows[0].cell[4]), "DROPPED");
	snprintf(rows[0].cell[5], sizeof(rows[0].cell[5]), "SPOOL");
	snprintf(rows[0].cell[6], sizeof(rows[0].cell[6]), "OLDEST");
	snprintf(rows[0].cell[7], sizeof(rows[0].cell[7]), "STATE");
	cJSON_ArrayForEach(o, sinks)
	{
		const cJSON *d = cJSON_GetObjectItemCaseSensitive(o, "dropped");
		double dropped = 0, age = powerctl_num(o, "oldest_unsent_age_s");
		char err[160];

		for (k = 0; k < sizeof(reasons) / sizeof(reasons[0]); k++) {
			double v = powerctl_num(d, reasons[k]);

			if (isfinite(v))
				dropped += v;
		}
		powerctl_str(rows[i].cell[0], sizeof(rows[i].cell[0]), o, "name");
		powerctl_str(rows[i].cell[1], sizeof(rows[i].cell[1]), o, "type");
		powerctl_count(rows[i].cell[2], sizeof(rows[i].cell[2]), o, "sent");
		powerctl_count(rows[i].cell[3], sizeof(rows[i].cell[3]), o, "retried");
		snprintf(rows[i].cell[4], sizeof(rows[i].cell[4]), "%.0f", dropped);
		snprintf(rows[i].cell[5], sizeof(rows[i].cell[5]), "%.0f B",
			 powerctl_num(o, "spool_unsent_bytes"));
		if (isfinite(age) && age > 0)
			fmt_seconds(rows[i].cell[6], sizeof(rows[i].cell[6]), age, true);
		else
			snprintf(rows[i].cell[6], sizeof(rows[i].cell[6]), "-");
		powerctl_str(rows[i].cell[7], sizeof(rows[i].cell[7]), o, "state");
		if (cJSON_IsString(cJSON_GetObjectItemCaseSensitive(o, "last_error")) &&
		    strncmp(rows[i].cell[7], "ok", 2)) {
			powerctl_str(err, sizeof(err), o, "last_error");
			snprintf(rows[i].cell[7] + strlen(rows[i].cell[7]),
				 sizeof(rows[i].cell[7]) - strlen(rows[i].cell[7]), " (%.100s)",
				 err);
		}
		i++;
	}
	printf("\n");
	powerctl_table(rows, n + 1, 8, "llrrrrrl");
	free(rows);
	return 0;
}

static void powerctl_daemon(const cJSON *d)
{
	char version[64], config[4096], up[32] = "?";
	double uptime = powerctl_num(d, "uptime_s");

	powerctl_str(version, sizeof(version), d, "version");
	powerctl_str(config, sizeof(config), d, "config");
	if (isfinite(uptime) && uptime >= 0)
		fmt_seconds(up, sizeof(up), uptime, true);
	printf("\npowerd %s, up %s, config %s\n", version, up, config);
}

static int powerctl_print(const char *json)
{
	const cJSON *sources, *rings, *sinks, *d;
	cJSON *root;
	int r;

	root = cJSON_Parse(json);
	if (!root) {
		fprintf(stderr, "powerctl: malformed status from powerd (not JSON)\n");
		return POWERCTL_FAIL;
	}
	sources = cJSON_GetObjectItemCaseSensitive(root, "sources");
	rings = cJSON_GetObjectItemCaseSensitive(root, "rings");
	sinks = cJSON_GetObjectItemCaseSensitive(root, "sinks");
	d = cJSON_GetObjectItemCaseSensitive(root, "daemon");
	if (!cJSON_IsObject(root) || !cJSON_IsArray(sources) || !cJSON_IsObject(d) ||
	    (rings && !cJSON_IsArray(rings))) {
		fprintf(stderr, "powerctl: malformed status from powerd (no daemon or sources)\n");
		cJSON_Delete(root);
		return POWERCTL_FAIL;
	}
	r = powerctl_sources(sources);
	if (!r && cJSON_IsArray(sinks))
		r = powerctl_sinks(sinks);
	if (!r)
		r = powerctl_rings(rings);
	if (!r)
		powerctl_daemon(d);
	cJSON_Delete(root);
	if (r) {
		fprintf(stderr, "powerctl: out of memory\n");
		return POWERCTL_FAIL;
	}
	return POWERCTL_OK;
}

/* The options from optind on (spec: getopt's); -1 to go on, else the exit
 * status. */
static int powerctl_opts(int argc, char **argv, const char *spec, const char **sock, int *json)
{
	static const struct option opts[] = {
		{"socket", required_argument, NULL, 's'},
		{"json", no_argument, NULL, 'j'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0},
	};
	int c;

	while ((c = getopt_long(argc, argv, spec, opts, NULL)) != -1) {
		switch (c) {
		case 's':
			*sock = optarg;
			break;
		case 'j':
			*json = 1;
			break;
		case 'h':
			usage(stdout);
			return POWERCTL_OK;
		case 'V':
			printf("powerctl %s\n", POWERD_VERSION);
			return POWERCTL_OK;
		default:
			usage(stderr);
			return POWERCTL_USAGE;
		}
	}
	return -1;
}

/* tail [SOURCE] [--json] [--count N] [--seconds S] (argv[0] is "tail"). */
static int powerctl_tail_main(const char *sock, int argc, char **argv)
{
	const char *source = NULL;
	unsigned long count = 0;
	double seconds = 0;
	bool json = false;
	char *end;
	int i;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--json")) {
			json = true;
		} else if (!strcmp(argv[i], "--count") && i + 1 < argc) {
			count = strtoul(argv[++i], &end, 10);
			if (*end || !count || argv[i][0] == '-') {
				fprintf(stderr, "powerctl: --count takes a number above 0\n");
				return POWERCTL_USAGE;
			}
		} else if (!strcmp(argv[i], "--seconds") && i + 1 < argc) {
			seconds = strtod(argv[++i], &end);
			if (*end || !(seconds > 0) || seconds > 1e6) {
				fprintf(stderr,
					"powerctl: --seconds takes a number of seconds above 0\n");
				return POWERCTL_USAGE;
			}
		} else if (argv[i][0] != '-' && !source) {
			source = argv[i];
		} else {
			fprintf(stderr,
				"powerctl: usage: powerctl tail [SOURCE] [--json] [--count N] "
				"[--seconds S]\n");
			return POWERCTL_USAGE;
		}
	}
	return powerctl_tail(sock, source, json, count, seconds);
}

int main(int argc, char **argv)
{
	const char *sock = POWERCTL_SOCKET;
	struct buf body;
	int json = 0, r;

	/* Options end at the command ("+"): `modbus write` takes a VALUE that
	 * may be negative.  status takes its own after it. */
	r = powerctl_opts(argc, argv, "+s:h", &sock, &json);
	if (r >= 0)
		return r;
	if (optind >= argc) {
		fprintf(stderr, "powerctl: missing command\n");
		usage(stderr);
		return POWERCTL_USAGE;
	}
	if (!strcmp(argv[optind], "can")) {
		if (argc - optind != 4 || strcmp(argv[optind + 1], "send")) {
			fprintf(stderr, "powerctl: usage: powerctl can send NAME EVENTFILE\n");
			return POWERCTL_USAGE;
		}
		return powerctl_can_send(sock, argv[optind + 2], argv[optind + 3]);
	}
	if (!strcmp(argv[optind], "modbus")) {
		if (argc - optind != 5 || strcmp(argv[optind + 1], "write")) {
			fprintf(stderr,
				"powerctl: usage: powerctl modbus write NAME FIELD VALUE\n");
			return POWERCTL_USAGE;
		}
		return powerctl_modbus_write(sock, argv[optind + 2], argv[optind + 3],
					     argv[optind + 4]);
	}
	if (!strcmp(argv[optind], "tail"))
		return powerctl_tail_main(sock, argc - optind, argv + optind);
	if (!strcmp(argv[optind], "set-energy")) {
		if (argc - optind != 3) {
			fprintf(stderr, "powerctl: usage: powerctl set-energy METER KWH\n");
			return POWERCTL_USAGE;
		}
		return powerctl_set_energy(sock, argv[optind + 1], argv[optind + 2]);
	}
	if (!strcmp(argv[optind], "capture")) {
		if (argc - optind == 5 && !strcmp(argv[optind + 3], "-o"))
			return powerctl_capture(sock, argv[optind + 1], argv[optind + 2],
						argv[optind + 4]);
		if (argc - optind != 3) {
			fprintf(stderr,
				"powerctl: usage: powerctl capture METER SECONDS [-o FILE]\n");
			return POWERCTL_USAGE;
		}
		return powerctl_capture(sock, argv[optind + 1], argv[optind + 2], NULL);
	}
	if (!strcmp(argv[optind], "reload")) {
		if (argc - optind != 1) {
			fprintf(stderr, "powerctl: usage: powerctl reload\n");
			return POWERCTL_USAGE;
		}
		return powerctl_reload(sock);
	}
	if (strcmp(argv[optind], "status")) {
		fprintf(stderr, "powerctl: unknown command '%s'\n", argv[optind]);
		usage(stderr);
		return POWERCTL_USAGE;
	}
	optind++;
	r = powerctl_opts(argc, argv, "s:h", &sock, &json);
	if (r >= 0)
		return r;
	if (optind < argc) {
		fprintf(stderr, "powerctl: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return POWERCTL_USAGE;
	}
	if (!*sock) {
		fprintf(stderr, "powerctl: empty socket path\n");
		return POWERCTL_USAGE;
	}

	buf_init(&body);
	r = powerctl_fetch(sock, &body);
	if (r == POWERCTL_OK && json) {
		fputs(body.data, stdout);
		if (body.len && body.data[body.len - 1] != '\n')
			putchar('\n');
	} else if (r == POWERCTL_OK) {
		r = powerctl_print(body.data);
	}
	buf_free(&body);
	if (fflush(stdout) == EOF && r == POWERCTL_OK) {
		fprintf(stderr, "powerctl: cannot write the output: %s\n", strerror(errno));
		r = POWERCTL_FAIL;
	}
	return r;
}

/* The HTTP server over TCP and over its Unix socket, with libcurl as the
 * client: routes, status codes, content types, HEAD, 405/404, a failing
 * status source, the socket file's life cycle (stale file replaced,
 * live one refused, removed on stop), keep-alive on both transports, and the
 * limits: clients that dribble a request are cut after the bound and
 * counted, one address gets 8 connections, the others are still served. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>

#include "buf.h"
#include "check.h"
#include "http.h"
#include "netaddr.h"
#include "status.h"

struct fake {
	_Atomic int calls;
	_Atomic bool fail;
};

static int fake_fill(void *arg, struct status *st)
{
	struct fake *f = arg;
	struct status_meter *m;

	atomic_fetch_add(&f->calls, 1);
	if (atomic_load(&f->fail))
		return -EIO;
	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	strcpy(st->version, "9.9.9");
	strcpy(st->config_path, "/etc/powerd/powerd.conf");
	st->uptime_s = 12;
	st->rss_bytes = -1;
	strcpy(m->name, "house");
	strcpy(m->input, "replay demo.trace");
	m->impulses_per_kwh = 1000;
	m->flashes = 1000;
	m->energy_wh = 1000;
	m->energy_j = 3600000;
	strcpy(m->state, "ok");
	st->meters = m;
	st->nmeters = 1;
	return 0;
}

struct reply {
	long code;
	char type[128];
	char allow[64];
	long content_length;
	struct buf body;
};

static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
	struct reply *r = arg;

	return buf_append(&r->body, p, size * n) ? 0 : size * n;
}

static void header_value(char *dst, size_t cap, const char *line, size_t n, const char *name)
{
	size_t k = strlen(name);

	if (n > k + 1 && !strncasecmp(line, name, k) && line[k] == ':') {
		line += k + 1;
		n -= k + 1;
		while (n && *line == ' ') {
			line++;
			n--;
		}
		while (n && (line[n - 1] == '\r' || line[n - 1] == '\n'))
			n--;
		if (n >= cap)
			n = cap - 1;
		memcpy(dst, line, n);
		dst[n] = '\0';
	}
}

static size_t on_header(char *p, size_t size, size_t n, void *arg)
{
	struct reply *r = arg;
	char len[32] = "";

	header_value(r->type, sizeof(r->type), p, size * n, "Content-Type");
	header_value(r->allow, sizeof(r->allow), p, size * n, "Allow");
	header_value(len, sizeof(len), p, size * n, "Content-Length");
	if (len[0])
		r->content_length = atol(len);
	return size * n;
}

/* unix_path NULL: TCP to port.  Returns the curl code; r->body is
 * NUL-terminated (possibly empty) on success. */
static int request(int port, const char *unix_path, const char *method, const char *path,
		   struct reply *r)
{
	char url[256];
	CURL *c;
	CURLcode rc;

	memset(r, 0, sizeof(*r));
	r->content_length = -1;
	buf_init(&r->body);
	if (unix_path)
		snprintf(url, sizeof(url), "http://localhost%s", path);
	else
		snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", port, path);
	c = curl_easy_init();
	if (!c)
		return CURLE_FAILED_INIT;
	curl_easy_setopt(c, CURLOPT_URL, url);
	if (unix_path)
		curl_easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, unix_path);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 5000L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
	if (!strcmp(method, "HEAD"))
		curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
	else if (!strcmp(method, "POST"))
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, "x=1");
	else if (strcmp(method, "GET"))
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	rc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->code);
	curl_easy_cleanup(c);
	buf_append(&r->body, "", 0);
	return (int)rc;
}

static const char *body(const struct reply *r)
{
	return r->body.data ? r->body.data : "";
}

/* The same checks over either transport. */
static void check_routes(int port, const char *unix_path)
{
	struct reply r;
	cJSON *j;

	CHECK_EQ_INT(request(port, unix_path, "GET", "/metrics", &r), CURLE_OK);
	CHECK_EQ_INT(r.code, 200);
	CHECK(!strcmp(r.type, "text/plain; version=0.0.4; charset=utf-8"));
	CHECK(strstr(body(&r), "\npowerd_pulse_energy_joules_total{meter=\"house\"} 3600000\n"));
	CHECK(strstr(body(&r), "powerd_build_info{version=\"9.9.9\"} 1"));
	buf_free(&r.body);

	CHECK_EQ_INT(request(port, unix_path, "GET", "/api/status", &r), CURLE_OK);
	CHECK_EQ_INT(r.code, 200);
	CHECK(!strcmp(r.type, "application/json"));
	j = cJSON_Parse(body(&r));
	CHECK(j != NULL);
	CHECK(!strcmp(cJSON_GetStringValue(
			      cJSON_GetObjectItem(cJSON_GetObjectItem(j, "daemon"), "version"))
			      ?: "",
		      "9.9.9"));
	cJSON_Delete(j);
	buf_free(&r.body);

	CHECK_EQ_INT(request(port, unix_path, "GET", "/", &r), CURLE_OK);
	CHECK_EQ_INT(r.code, 200);
	CHECK(!strcmp(r.type, "text/html; charset=utf-8"));
	CHECK(strstr(body(&r), "<title>powerd</title>") != NULL);
	buf_free(&r.body);

	/* A query string does not change the route. */
	CHECK_EQ_INT(request(port, unix_path, "GET", "/metrics?x=1", &r), CURLE_OK);
	CHECK_EQ_INT(r.code, 200);
	buf_free(&r.body);

	CHECK_EQ_INT(request(port, unix_path, "HEAD", "/metrics", &r), CURLE_OK);
	CHECK_EQ_INT(r.code, 200);
	CHECK(!strcmp(r.type, "text/plain; version=0.0.4; charset=utf-8"));
	CHECK(r.content_length > 100);
	CHECK_EQ_INT(r.body.len, 0);
	buf_free(&r.body);

	/* Nothing from the request comes back in the answer. */
	CHECK_EQ_INT(request(port, unix_path, "GET", "/%3Cscript%3Ex", &r), CURLE_OK);
	CHECK_EQ_INT(r.code, 404);
	CHECK(!strcmp(body(&r), "not found\n"));
	buf_free(&r.body);

	CHECK_EQ_INT(request(port, unix_path, "GET", "/metricsx", &r), CURLE_OK);
	CHECK_EQ_INT(r.code, 404);
	buf_free(&r.body);

	CHECK_EQ_INT(request(port, unix_path, "POST", "/metrics", &r), CURLE_OK);
	CHECK_EQ_INT(r.code, 405);
	CHECK(!strcmp(r.allow, "GET, HEAD"));
	buf_free(&r.body);

	CHECK_EQ_INT(request(port, unix_path, "DELETE", "/nothing", &r), CURLE_OK);
	CHECK_EQ_INT(r.code, 405);
	buf_free(&r.body);
}

/* A raw client, to see exactly what goes over one connection. */
static int raw_connect(int port, const char *unix_path, const char *from)
{
	int fd;

	if (unix_path) {
		struct sockaddr_un sa = {.sun_family = AF_UNIX};

		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", unix_path);
		if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
			close(fd);
			fd = -1;
		}
	} else {
		struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
		struct sockaddr_in src = {.sin_family = AF_INET};

		fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
		inet_pton(AF_INET, from ? from : "127.0.0.1", &src.sin_addr);
		if (fd >= 0 && (bind(fd, (struct sockaddr *)&src, sizeof(src)) < 0 ||
				connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)) {
			close(fd);
			fd = -1;
		}
	}
	CHECK(fd >= 0);
	return fd;
}

static bool send_all(int fd, const char *s)
{
	size_t n = strlen(s);

	while (n) {
		ssize_t k = send(fd, s, n, MSG_NOSIGNAL);

		if (k <= 0)
			return false;
		s += k;
		n -= (size_t)k;
	}
	return true;
}

/* Reads one response into out: its headers and, unless head, its
 * Content-Length body; timeout_ms for each read.  Returns its length, 0 on
 * EOF before any byte, -1 on a timeout or an error. */
static long raw_response(int fd, char *out, size_t cap, bool head, int timeout_ms)
{
	size_t n = 0;

	for (;;) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		const char *end, *cl;
		ssize_t k;

		out[n] = '\0';
		end = strstr(out, "\r\n\r\n");
		if (end) {
			cl = strcasestr(out, "\r\nContent-Length:");
			if (head || (cl && cl < end &&
				     n >= (size_t)(end + 4 - out) + strtoul(cl + 17, NULL, 10)))
				return (long)n;
		}
		if (n + 1 >= cap || poll(&p, 1, timeout_ms) != 1)
			return -1;
		k = recv(fd, out + n, cap - 1 - n, 0);
		if (k == 0)
			return n ? (long)n : 0;
		if (k < 0)
			return -1;
		n += (size_t)k;
	}
}

/* True once the peer has closed (EOF or reset) within timeout_ms. */
static bool raw_closed(int fd, int timeout_ms)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	char c;

	return poll(&p, 1, timeout_ms) == 1 && recv(fd, &c, 1, MSG_DONTWAIT) <= 0;
}

/* Two requests on one connection, both answered, and it stays open; a
 * request the server will not take is answered and closed. */
static void check_keepalive(int port, const char *unix_path)
{
	char resp[65536];
	int fd;

	fd = raw_connect(port, unix_path, NULL);
	if (fd < 0)
		return;
	CHECK(send_all(fd, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"));
	CHECK(raw_response(fd, resp, sizeof(resp), false, 5000) > 0);
	CHECK(!strncmp(resp, "HTTP/1.1 200 ", 13));
	CHECK(strstr(resp, "powerd_build_info") != NULL);
	CHECK(!strcasestr(resp, "\r\nConnection: close"));
	CHECK(send_all(fd, "HEAD /api/status HTTP/1.1\r\nHost: x\r\n\r\n"));
	CHECK(raw_response(fd, resp, sizeof(resp), true, 5000) > 0);
	CHECK(!strncmp(resp, "HTTP/1.1 200 ", 13));
	CHECK(!strcasestr(resp, "\r\nConnection: close"));
	CHECK(send_all(fd, "GET /nothing HTTP/1.1\r\nHost: x\r\n\r\n"));
	CHECK(raw_response(fd, resp, sizeof(resp), false, 5000) > 0);
	CHECK(!strncmp(resp, "HTTP/1.1 404 ", 13));
	CHECK(!strcasestr(resp, "\r\nConnection: close"));
	CHECK(!raw_closed(fd, 100));
	CHECK(send_all(fd, "POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nx=1"));
	CHECK(raw_response(fd, resp, sizeof(resp), false, 5000) > 0);
	CHECK(!strncmp(resp, "HTTP/1.1 405 ", 13));
	CHECK(strcasestr(resp, "\r\nConnection: close") != NULL);
	CHECK(raw_closed(fd, 5000));
	close(fd);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The value of a sample in the server's /metrics, -1 if missing. */
static long long metric(int port, const char *sample)
{
	struct reply r;
	long long v = -1;
	const char *p;

	if (request(port, NULL, "GET", "/metrics", &r) == CURLE_OK && r.code == 200) {
		p = strstr(body(&r), sample);
		if (p && p[strlen(sample)] == ' ')
			v = atoll(p + strlen(sample) + 1);
	}
	buf_free(&r.body);
	return v;
}

#define CUT_TCP	 "powerd_http_connections_cut_total{listener=\"tcp\",reason=\"slow_request\"}"
#define CUT_UNIX "powerd_http_connections_cut_total{listener=\"unix\",reason=\"slow_request\"}"

/* Slowloris: clients that send a header byte a second (under the idle
 * timeout, which every byte restarts) on TCP and on the socket, and 8
 * silent ones from 127.0.0.2, are cut 5 s after connecting and counted; a
 * 9th from that address is refused at once; a kept-alive client that sent
 * its request in time is left alone, and 127.0.0.1 is served throughout. */
static void check_slow(int port, const char *unix_path)
{
	static const char req[] = "GET /metrics HTTP/1.1\r\nHost: x\r\nX-Slow: abcdefghij";
	int drip[2], quiet[8], extra, alive;
	double t0, cut_at[2] = {0, 0};
	char resp[65536];
	size_t sent = 0, i;
	struct reply r;

	CHECK_EQ_INT(metric(port, CUT_TCP), 0);
	CHECK_EQ_INT(metric(port, CUT_UNIX), 0);
	t0 = now_s();
	drip[0] = raw_connect(port, NULL, NULL);
	drip[1] = raw_connect(0, unix_path, NULL);
	for (i = 0; i < 8; i++)
		quiet[i] = raw_connect(port, NULL, "127.0.0.2");
	alive = raw_connect(port, NULL, NULL);
	CHECK(send_all(alive, "GET /api/status HTTP/1.1\r\nHost: x\r\n\r\n"));
	CHECK(raw_response(alive, resp, sizeof(resp), false, 5000) > 0);
	CHECK(!strncmp(resp, "HTTP/1.1 200 ", 13));
	/* MHD accepts the 9th and closes it: the address has its 8. */
	extra = raw_connect(port, NULL, "127.0.0.2");
	CHECK(raw_closed(extra, 2000));
	close(extra);
	CHECK_EQ_INT(request(port, NULL, "GET", "/metrics", &r), CURLE_OK);
	CHECK_EQ_INT(r.code, 200);
	buf_free(&r.body);

	while (now_s() - t0 < 8 && (!cut_at[0] || !cut_at[1])) {
		for (i = 0; i < 2; i++) {
			if (cut_at[i])
				continue;
			if (raw_closed(drip[i], 0) ||
			    send(drip[i], req + sent % (sizeof(req) - 1), 1, MSG_NOSIGNAL) != 1)
				cut_at[i] = now_s() - t0;
		}
		sent++;
		for (i = 0; i < 2; i++)
			if (!cut_at[i] && raw_closed(drip[i], 1000))
				cut_at[i] = now_s() - t0;
	}
	printf("dribblers cut after %.2f s (tcp), %.2f s (unix)\n", cut_at[0], cut_at[1]);
	for (i = 0; i < 2; i++) {
		CHECK(cut_at[i] > 4.5 && cut_at[i] < 6.5);
		close(drip[i]);
	}
	for (i = 0; i < 8; i++) {
		CHECK(raw_closed(quiet[i], 1000));
		close(quiet[i]);
	}
	/* Cut, counted once each; the kept-alive one still works. */
	CHECK_EQ_INT(metric(port, CUT_TCP), 9);
	CHECK_EQ_INT(metric(port, CUT_UNIX), 1);
	CHECK(!raw_closed(alive, 0));
	CHECK(send_all(alive, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"));
	CHECK(raw_response(alive, resp, sizeof(resp), false, 5000) > 0);
	CHECK(!strncmp(resp, "HTTP/1.1 200 ", 13));
	CHECK(strstr(resp, "\n" CUT_TCP " 9\n") != NULL);
	close(alive);
}

static void test_parse_listen(void)
{
	struct sockaddr_storage ss;
	socklen_t len;

	CHECK_EQ_INT(netaddr_parse_listen("127.0.0.1:9480", &ss, &len, NULL), 0);
	CHECK_EQ_INT(ss.ss_family, AF_INET);
	CHECK_EQ_INT(len, sizeof(struct sockaddr_in));
	CHECK_EQ_INT(ntohs(((struct sockaddr_in *)&ss)->sin_port), 9480);
	CHECK_EQ_INT(netaddr_parse_listen("[::1]:80", &ss, &len, NULL), 0);
	CHECK_EQ_INT(ss.ss_family, AF_INET6);
	CHECK_EQ_INT(ntohs(((struct sockaddr_in6 *)&ss)->sin6_port), 80);
	CHECK_EQ_INT(netaddr_parse_listen("0.0.0.0:0", &ss, &len, NULL), 0);
	CHECK_EQ_INT(netaddr_parse_listen("off", &ss, &len, NULL), 1);
	CHECK_EQ_INT(netaddr_parse_listen("", &ss, &len, NULL), 1);
	CHECK_EQ_INT(netaddr_parse_listen(NULL, &ss, &len, NULL), 1);
	CHECK_EQ_INT(netaddr_parse_listen("127.0.0.1:65536", &ss, &len, NULL), -EINVAL);
	CHECK_EQ_INT(netaddr_parse_listen("127.0.0.1:", &ss, &len, NULL), -EINVAL);
	CHECK_EQ_INT(netaddr_parse_listen("127.0.0.1:-1", &ss, &len, NULL), -EINVAL);
	CHECK_EQ_INT(netaddr_parse_listen("127.0.0.1:80x", &ss, &len, NULL), -EINVAL);
	CHECK_EQ_INT(netaddr_parse_listen(":80", &ss, &len, NULL), -EINVAL);
	CHECK_EQ_INT(netaddr_parse_listen("9480", &ss, &len, NULL), -EINVAL);
	CHECK_EQ_INT(netaddr_parse_listen("localhost:80", &ss, &len, NULL), 0);
	CHECK_EQ_INT(netaddr_parse_listen("example.org:80", &ss, &len, NULL), -EINVAL);
	CHECK_EQ_INT(netaddr_parse_listen("::1:80", &ss, &len, NULL), -EINVAL);
	CHECK_EQ_INT(netaddr_parse_listen("[::1]80", &ss, &len, NULL), -EINVAL);
	CHECK_EQ_INT(netaddr_parse_listen("[127.0.0.1]:80", &ss, &len, NULL), -EINVAL);
}

/* A socket file left by a process that died: bound, never listening. */
static void make_stale_socket(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	size_t n = strlen(path);
	int fd;

	CHECK(n < sizeof(sa.sun_path));
	if (n >= sizeof(sa.sun_path))
		return;
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	CHECK(fd >= 0);
	memcpy(sa.sun_path, path, n + 1);
	CHECK_EQ_INT(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	close(fd);
}

static void test_server(const char *dir)
{
	struct fake fake = {0};
	struct http *h = NULL, *h2 = (struct http *)1;
	char sock[256], other[256];
	struct stat stb;
	struct reply r;
	int port, calls;

	snprintf(sock, sizeof(sock), "%s/run/powerd/powerd.sock", dir);
	CHECK_EQ_INT(http_start(&h, "127.0.0.1:0", sock, fake_fill, NULL, &fake), 0);
	if (!h)
		return;
	port = http_port(h);
	CHECK(port > 0 && port < 65536);

	/* Parent directories created; the socket is a socket, mode 0660. */
	CHECK_EQ_INT(lstat(sock, &stb), 0);
	CHECK(S_ISSOCK(stb.st_mode));
	CHECK_EQ_INT(stb.st_mode & 0777, 0660);
	snprintf(other, sizeof(other), "%s/run/powerd", dir);
	CHECK_EQ_INT(stat(other, &stb), 0);
	CHECK_EQ_INT(stb.st_mode & 0777, 0755);

	check_routes(port, NULL);
	check_routes(0, sock);
	check_keepalive(port, NULL);
	check_keepalive(0, sock);
	check_slow(port, sock);
	calls = atomic_load(&fake.calls);
	CHECK(calls >= 10);

	/* A live socket belongs to the running server: refused, left alone. */
	CHECK_EQ_INT(http_start(&h2, "off", sock, fake_fill, NULL, &fake), -EADDRINUSE);
	CHECK(h2 == NULL);
	CHECK_EQ_INT(lstat(sock, &stb), 0);
	CHECK_EQ_INT(request(0, sock, "GET", "/api/status", &r), CURLE_OK);
	CHECK_EQ_INT(r.code, 200);
	buf_free(&r.body);

	/* The TCP port is taken too. */
	snprintf(other, sizeof(other), "127.0.0.1:%d", port);
	CHECK_EQ_INT(http_start(&h2, other, NULL, fake_fill, NULL, &fake), -EADDRINUSE);
	CHECK(h2 == NULL);
	CHECK_EQ_INT(http_start(&h2, "127.0.0.1", NULL, fake_fill, NULL, &fake), -EINVAL);

	/* The status source failing is a 503, not a crash or an empty 200. */
	atomic_store(&fake.fail, true);
	CHECK_EQ_INT(request(port, NULL, "GET", "/metrics", &r), CURLE_OK);
	CHECK_EQ_INT(r.code, 503);
	buf_free(&r.body);
	atomic_store(&fake.fail, false);

	http_stop(h);
	CHECK_EQ_INT(lstat(sock, &stb), -1);
	CHECK_EQ_INT(errno, ENOENT);
	CHECK(request(port, NULL, "GET", "/metrics", &r) != CURLE_OK);
	buf_free(&r.body);

	/* A stale socket file is replaced. */
	make_stale_socket(sock);
	h = NULL;
	CHECK_EQ_INT(http_start(&h, "off", sock, fake_fill, NULL, &fake), 0);
	CHECK_EQ_INT(http_port(h), 0);
	CHECK_EQ_INT(request(0, sock, "GET", "/metrics", &r), CURLE_OK);
	CHECK_EQ_INT(r.code, 200);
	buf_free(&r.body);
	http_stop(h);
	CHECK_EQ_INT(lstat(sock, &stb), -1);

	/* A file that is not a socket is never removed. */
	snprintf(other, sizeof(other), "%s/not-a-socket", dir);
	fclose(fopen(other, "w"));
	CHECK_EQ_INT(http_start(&h2, "off", other, fake_fill, NULL, &fake), -EEXIST);
	CHECK_EQ_INT(lstat(other, &stb), 0);
	CHECK(S_ISREG(stb.st_mode));
	unlink(other);

	/* IPv6 loopback, where the host has it. */
	h = NULL;
	if (http_start(&h, "[::1]:0", NULL, fake_fill, NULL, &fake) == 0) {
		char url[64];
		CURL *c = curl_easy_init();
		long code = 0;

		snprintf(url, sizeof(url), "http://[::1]:%d/metrics", http_port(h));
		curl_easy_setopt(c, CURLOPT_URL, url);
		curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
		CHECK_EQ_INT(curl_easy_perform(c), CURLE_OK);
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
		CHECK_EQ_INT(code, 200);
		curl_easy_cleanup(c);
		http_stop(h);
	} else {
		printf("no IPv6 loopback, [::1] skipped\n");
	}

	/* Nothing to listen on is allowed, and stopping it is harmless. */
	h = NULL;
	CHECK_EQ_INT(http_start(&h, "off", "", fake_fill, NULL, &fake), 0);
	http_stop(h);
	http_stop(NULL);
}

int main(void)
{
	char dir[] = "/tmp/powerd-http-XXXXXX";
	char cmd[64];

	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	curl_global_init(CURL_GLOBAL_DEFAULT);
	test_parse_listen();
	test_server(dir);
	curl_global_cleanup();
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", dir);
	return check_result();
}

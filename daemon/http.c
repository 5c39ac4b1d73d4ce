#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <locale.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <microhttpd.h>

#include "buf.h"
#include "http.h"
#include "log.h"
#include "metrics.h"
#include "page.h"
#include "status_json.h"

/* A status server for a scraper, a browser and powerctl: a handful of
 * clients.  The limits keep a misbehaving client from holding threads or
 * memory. */
#define HTTP_MAX_CONNECTIONS 32
#define HTTP_TIMEOUT_S	     10
#define HTTP_BACKLOG	     64

struct http {
	struct MHD_Daemon *tcp;
	struct MHD_Daemon *unx;
	status_fill_fn fill;
	void *arg;
	locale_t c_locale;
	int port;
	bool own_socket; /* sock_path is ours to unlink */
	dev_t sock_dev;
	ino_t sock_ino;
	char sock_path[sizeof(((struct sockaddr_un *)NULL)->sun_path)];
};

enum http_doc { HTTP_DOC_METRICS, HTTP_DOC_STATUS, HTTP_DOC_PAGE };

static const struct {
	const char *path;
	enum http_doc doc;
	const char *type;
} http_routes[] = {
	{"/metrics", HTTP_DOC_METRICS, "text/plain; version=0.0.4; charset=utf-8"},
	{"/api/status", HTTP_DOC_STATUS, "application/json"},
	{"/", HTTP_DOC_PAGE, "text/html; charset=utf-8"},
};

int http_parse_listen(const char *listen_addr, struct sockaddr_storage *ss, socklen_t *len)
{
	char host[INET6_ADDRSTRLEN];
	const char *hs, *he, *port;
	unsigned long p;
	size_t hl, pl;

	if (!listen_addr || !*listen_addr || !strcmp(listen_addr, "off"))
		return 1;
	if (listen_addr[0] == '[') {
		hs = listen_addr + 1;
		he = strchr(hs, ']');
		if (!he || he[1] != ':')
			return -EINVAL;
		port = he + 2;
	} else {
		hs = listen_addr;
		he = strrchr(hs, ':');
		if (!he)
			return -EINVAL;
		port = he + 1;
	}
	hl = (size_t)(he - hs);
	pl = strlen(port);
	if (hl == 0 || hl >= sizeof(host) || pl == 0 || pl > 5 || strspn(port, "0123456789") != pl)
		return -EINVAL;
	p = strtoul(port, NULL, 10);
	if (p > 65535)
		return -EINVAL;
	memcpy(host, hs, hl);
	host[hl] = '\0';
	memset(ss, 0, sizeof(*ss));
	if (listen_addr[0] == '[') {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;

		if (inet_pton(AF_INET6, host, &a->sin6_addr) != 1)
			return -EINVAL;
		a->sin6_family = AF_INET6;
		a->sin6_port = htons((uint16_t)p);
		*len = sizeof(*a);
	} else {
		struct sockaddr_in *a = (struct sockaddr_in *)ss;

		if (inet_pton(AF_INET, host, &a->sin_addr) != 1)
			return -EINVAL;
		a->sin_family = AF_INET;
		a->sin_port = htons((uint16_t)p);
		*len = sizeof(*a);
	}
	return 0;
}

/* MHD's messages end in a newline and may quote what a client sent: keep
 * each one on one clean log line. */
static void http_mhd_log(void *cls, const char *fmt, va_list ap)
{
	char msg[512];
	size_t n, i;

	(void)cls;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	n = strlen(msg);
	while (n && msg[n - 1] == '\n')
		msg[--n] = '\0';
	for (i = 0; i < n; i++)
		if ((unsigned char)msg[i] < 0x20 || msg[i] == 0x7f)
			msg[i] = ' ';
	log_warn("http: %s", msg);
}

static enum MHD_Result http_queue(struct MHD_Connection *c, unsigned code, const char *type,
				  struct MHD_Response *r)
{
	enum MHD_Result ret;

	if (!r)
		return MHD_NO;
	if (MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type) != MHD_YES ||
	    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store") != MHD_YES ||
	    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff") != MHD_YES ||
	    MHD_add_response_header(r, "Content-Security-Policy",
				    "default-src 'none'; style-src 'unsafe-inline'") != MHD_YES) {
		MHD_destroy_response(r);
		return MHD_NO;
	}
	ret = MHD_queue_response(c, code, r);
	MHD_destroy_response(r);
	return ret;
}

/* Fixed bodies only: nothing from the request is ever echoed. */
static enum MHD_Result http_text(struct MHD_Connection *c, unsigned code, const char *text)
{
	struct MHD_Response *r;

	r = MHD_create_response_from_buffer(strlen(text), (void *)text, MHD_RESPMEM_PERSISTENT);
	if (r && code == MHD_HTTP_METHOD_NOT_ALLOWED &&
	    MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD") != MHD_YES) {
		MHD_destroy_response(r);
		return MHD_NO;
	}
	return http_queue(c, code, "text/plain; charset=utf-8", r);
}

static char *http_render(enum http_doc doc, const struct status *st)
{
	struct buf b;
	int r;

	if (doc == HTTP_DOC_STATUS)
		return status_json(st);
	buf_init(&b);
	r = doc == HTTP_DOC_METRICS ? metrics_render(st, &b) : page_render(st, &b);
	if (r) {
		buf_free(&b);
		return NULL;
	}
	return buf_steal(&b);
}

static enum MHD_Result http_document(struct http *h, struct MHD_Connection *c, size_t route)
{
	struct status st;
	locale_t old;
	char *body;
	int r;

	memset(&st, 0, sizeof(st));
	r = h->fill(h->arg, &st);
	if (r < 0) {
		status_release(&st);
		log_warn("http: cannot take the status: %s", strerror(-r));
		return http_text(c, MHD_HTTP_SERVICE_UNAVAILABLE, "status unavailable\n");
	}
	/* Numbers must read the same for every client, whatever locale a
	 * library may have set: render with the C locale on this thread. */
	old = uselocale(h->c_locale);
	body = http_render(http_routes[route].doc, &st);
	uselocale(old);
	status_release(&st);
	if (!body)
		return http_text(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory\n");
	return http_queue(
		c, MHD_HTTP_OK, http_routes[route].type,
		MHD_create_response_from_buffer(strlen(body), body, MHD_RESPMEM_MUST_FREE));
}

/* A request announcing a body: no endpoint takes one. */
static bool http_has_body(struct MHD_Connection *c)
{
	const char *len =
		MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);

	return (len && strcmp(len, "0")) ||
	       MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_TRANSFER_ENCODING);
}

/* GET and HEAD without a body are answered on the second call, once MHD
 * has the whole request: a response queued on the first call, before the
 * body is read, makes MHD close the connection, and scrapers reuse theirs.
 * Anything else is answered at once and the connection closed, so no body
 * is ever read. */
static enum MHD_Result http_handle(void *cls, struct MHD_Connection *c, const char *url,
				   const char *method, const char *version, const char *upload_data,
				   size_t *upload_data_size, void **con_cls)
{
	static char http_seen; /* any non-NULL *con_cls: "called before" */
	size_t i;

	(void)version;
	(void)upload_data;
	(void)upload_data_size;
	if (strcmp(method, MHD_HTTP_METHOD_GET) && strcmp(method, MHD_HTTP_METHOD_HEAD))
		return http_text(c, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed\n");
	if (!*con_cls && !http_has_body(c)) {
		*con_cls = &http_seen;
		return MHD_YES;
	}
	for (i = 0; i < sizeof(http_routes) / sizeof(http_routes[0]); i++)
		if (!strcmp(url, http_routes[i].path))
			return http_document(cls, c, i);
	return http_text(c, MHD_HTTP_NOT_FOUND, "not found\n");
}

/* Hands the listening socket fd to a new MHD daemon, which owns it from
 * then on. */
static int http_serve(struct http *h, int fd, const char *what, struct MHD_Daemon **out)
{
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG;
	struct stat before, after;
	int err;

	if (MHD_is_feature_supported(MHD_FEATURE_EPOLL) == MHD_YES)
		flags |= MHD_USE_EPOLL;
	else
		flags |= MHD_USE_POLL;
	if (fstat(fd, &before) < 0) {
		err = -errno;
		close(fd);
		return err;
	}
	errno = 0;
	/* The logger first, so that MHD's messages about the other options go
	 * through it too. */
	*out = MHD_start_daemon(flags, 0, NULL, NULL, http_handle, h, MHD_OPTION_EXTERNAL_LOGGER,
				http_mhd_log, (void *)NULL, MHD_OPTION_LISTEN_SOCKET, fd,
				MHD_OPTION_CONNECTION_LIMIT, (unsigned)HTTP_MAX_CONNECTIONS,
				MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)HTTP_TIMEOUT_S,
				MHD_OPTION_END);
	if (*out)
		return 0;
	err = errno ? -errno : -EIO;
	log_err("http: cannot start the HTTP server on %s: %s", what, strerror(-err));
	/* Whether MHD closes a socket it was given when it fails to start is
	 * not specified: close it only if the descriptor still is that
	 * socket. */
	if (!fstat(fd, &after) && after.st_dev == before.st_dev && after.st_ino == before.st_ino)
		close(fd);
	return err;
}

/* desc: where it listens, for the log ("127.0.0.1:9480"). */
static int http_tcp_socket(const char *listen_addr, int *fdp, int *port, char *desc,
			   size_t desc_size)
{
	char host[INET6_ADDRSTRLEN];
	struct sockaddr_storage ss;
	socklen_t len;
	int fd, r, one = 1;

	r = http_parse_listen(listen_addr, &ss, &len);
	if (r < 0)
		log_err("http: listen = %s: expected IPV4:PORT, [IPV6]:PORT or off", listen_addr);
	if (r)
		return r;
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		goto fail;
	/* SO_REUSEADDR: a restart must not wait for old connections in
	 * TIME_WAIT.  V6ONLY: "[::]:P" means IPv6, the same on every host. */
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    (ss.ss_family == AF_INET6 &&
	     setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) < 0) ||
	    bind(fd, (struct sockaddr *)&ss, len) < 0 || listen(fd, HTTP_BACKLOG) < 0)
		goto fail;
	len = sizeof(ss);
	if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
		goto fail;
	if (ss.ss_family == AF_INET6) {
		const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)&ss;

		*port = ntohs(a->sin6_port);
		inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof(host));
		snprintf(desc, desc_size, "[%s]:%d", host, *port);
	} else {
		const struct sockaddr_in *a = (const struct sockaddr_in *)&ss;

		*port = ntohs(a->sin_port);
		inet_ntop(AF_INET, &a->sin_addr, host, sizeof(host));
		snprintf(desc, desc_size, "%s:%d", host, *port);
	}
	*fdp = fd;
	return 0;
fail:
	r = -errno;
	log_err("http: cannot listen on %s: %s", listen_addr, strerror(-r));
	if (fd >= 0)
		close(fd);
	return r;
}

/* Creates the missing directories above path, 0755 so that powerctl run
 * by another user can reach the socket (the socket's own mode decides who
 * may use it). */
static int http_mkdir_parents(const char *path)
{
	char dir[PATH_MAX];
	char *p, *slash;

	if (strlen(path) >= sizeof(dir))
		return -ENAMETOOLONG;
	strcpy(dir, path);
	slash = strrchr(dir, '/');
	if (!slash || slash == dir)
		return 0;
	*slash = '\0';
	for (p = dir + 1;; p++) {
		bool end = *p == '\0';

		if (*p != '/' && !end)
			continue;
		*p = '\0';
		if (!mkdir(dir, 0755)) {
			if (chmod(dir, 0755) < 0)
				return -errno;
		} else if (errno != EEXIST) {
			return -errno;
		}
		if (end)
			return 0;
		*p = '/';
	}
}

/* The socket file exists: it is stale (left by a powerd that died) only if
 * nothing accepts on it. */
static int http_unix_stale(const char *path, const struct sockaddr_un *sa)
{
	struct stat stb;
	int fd, r;

	if (lstat(path, &stb) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISSOCK(stb.st_mode)) {
		log_err("http: %s exists and is not a socket", path);
		return -EEXIST;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	r = connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) < 0 ? -errno : 0;
	close(fd);
	if (r == 0 || r == -EAGAIN) {
		log_err("http: %s: another powerd is already serving this socket", path);
		return -EADDRINUSE;
	}
	if (r != -ECONNREFUSED) {
		log_err("http: cannot check the existing socket %s: %s", path, strerror(-r));
		return r;
	}
	log_info("http: removing stale socket %s", path);
	if (unlink(path) < 0 && errno != ENOENT)
		return -errno;
	return 0;
}

static int http_unix_socket(struct http *h, const char *path, int *fdp)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	size_t n = strlen(path);
	struct stat stb;
	int fd = -1, r;

	if (n >= sizeof(sa.sun_path)) {
		log_err("http: socket path is longer than %zu bytes: %s", sizeof(sa.sun_path) - 1,
			path);
		return -ENAMETOOLONG;
	}
	memcpy(sa.sun_path, path, n + 1);
	r = http_mkdir_parents(path);
	if (r) {
		log_err("http: cannot create the directory for %s: %s", path, strerror(-r));
		return r;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		goto fail;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		if (errno != EADDRINUSE)
			goto fail;
		r = http_unix_stale(path, &sa);
		if (r) {
			close(fd);
			return r;
		}
		if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
			goto fail;
	}
	/* Bound but not yet listening, so nobody connects before the mode is
	 * right. */
	if (stat(path, &stb) < 0)
		goto fail;
	memcpy(h->sock_path, path, n + 1);
	h->sock_dev = stb.st_dev;
	h->sock_ino = stb.st_ino;
	h->own_socket = true;
	if (chmod(path, 0660) < 0 || listen(fd, HTTP_BACKLOG) < 0)
		goto fail;
	*fdp = fd;
	return 0;
fail:
	r = -errno;
	log_err("http: cannot listen on %s: %s", path, strerror(-r));
	if (fd >= 0)
		close(fd);
	return r;
}

int http_start(struct http **out, const char *listen_addr, const char *socket_path,
	       status_fill_fn fill, void *arg)
{
	char desc[INET6_ADDRSTRLEN + 16];
	struct http *h;
	int fd = -1, r;

	*out = NULL;
	h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	h->fill = fill;
	h->arg = arg;
	h->c_locale = newlocale(LC_ALL_MASK, "C", (locale_t)0);
	if (h->c_locale == (locale_t)0) {
		free(h);
		return -ENOMEM;
	}
	if (socket_path && *socket_path) {
		r = http_unix_socket(h, socket_path, &fd);
		if (!r)
			r = http_serve(h, fd, socket_path, &h->unx);
		if (r)
			goto fail;
		log_info("http: serving on unix:%s", socket_path);
	}
	r = http_tcp_socket(listen_addr, &fd, &h->port, desc, sizeof(desc));
	if (r < 0)
		goto fail;
	if (r == 0) {
		r = http_serve(h, fd, listen_addr, &h->tcp);
		if (r)
			goto fail;
		log_info("http: serving on http://%s/", desc);
	}
	*out = h;
	return 0;
fail:
	http_stop(h);
	return r;
}

void http_stop(struct http *h)
{
	struct stat stb;

	if (!h)
		return;
	if (h->tcp)
		MHD_stop_daemon(h->tcp);
	if (h->unx)
		MHD_stop_daemon(h->unx);
	/* Only our own socket: after a failed start, or if someone replaced
	 * the file, it belongs to someone else. */
	if (h->own_socket && !lstat(h->sock_path, &stb) && stb.st_dev == h->sock_dev &&
	    stb.st_ino == h->sock_ino)
		unlink(h->sock_path);
	freelocale(h->c_locale);
	free(h);
}

int http_port(const struct http *h)
{
	return h ? h->port : 0;
}

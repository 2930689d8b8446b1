/* client_http.c - the HTTP side of ringtracker-client: a minimal HTTP/1.1
 * GET client for BEP 3 announces and BEP 48 scrapes.
 *
 * What it does: builds the announce or scrape query (binary info_hash and
 * peer_id percent-encoded), connects over TCP to each resolved address in
 * turn until one accepts, sends one GET with "Connection: close", reads the
 * response until its Content-Length, its last chunk, or the close, and hands
 * the body to client_reply.c.
 * What it doesn't: no TLS, no redirects (a 3xx is reported), no keep-alive,
 * no content codings (it asks for identity).
 * Limits: the connect and each wait for data are bounded by --timeout, the
 * whole request by --timeout x --tries; a response is at most 4 MiB.
 * Thread: single-threaded tool. Memory: the request text and the response
 * buffer are heap allocations freed before returning.
 * Spec: RFC 9112, BEP 3, BEP 7, BEP 23, BEP 48.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "client.h"

#define RESPONSE_MAX (4u << 20)	 /* bytes */
#define HEAD_MAX     (64u << 10) /* bytes of status line and headers */

struct response {
	uint8_t *buf;
	size_t len, cap;
	struct client_http_head head;
	const uint8_t *body;
	size_t body_len;
};

/* Appends bytes percent-encoded (RFC 3986: unreserved bytes stay). */
static size_t put_encoded(char *out, const uint8_t *p, size_t n)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t w = 0;

	for (size_t i = 0; i < n; i++) {
		uint8_t c = p[i];
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '.' || c == '_' || c == '~') {
			out[w++] = (char)c;
		} else {
			out[w++] = '%';
			out[w++] = hex[c >> 4];
			out[w++] = hex[c & 15];
		}
	}
	return w;
}

static const char *event_word(enum udp_event e)
{
	switch (e) {
	case UDP_EVENT_STARTED:
		return "started";
	case UDP_EVENT_COMPLETED:
		return "completed";
	case UDP_EVENT_STOPPED:
		return "stopped";
	default:
		return NULL;
	}
}

/* Builds the request target (path and query) for rq against u; event
 * overrides rq->event. Returns a heap string or NULL. */
static char *build_target(const struct client_url *u, const struct client_request *rq,
			  enum udp_event event)
{
	size_t cap = strlen(u->path) + 256 + rq->n_hashes * (sizeof("&info_hash=") + 60);
	char *t = malloc(cap), sep = strchr(u->path, '?') ? '&' : '?';
	size_t w;

	if (!t)
		return NULL;
	w = (size_t)snprintf(t, cap, "%s", u->path);
	if (rq->action == CLIENT_SCRAPE) {
		for (size_t i = 0; i < rq->n_hashes; i++) {
			w += (size_t)snprintf(t + w, cap - w, "%cinfo_hash=", sep);
			w += put_encoded(t + w, rq->hashes[i].b, INFO_HASH_LEN);
			sep = '&';
		}
		t[w] = '\0';
		return t;
	}
	w += (size_t)snprintf(t + w, cap - w, "%cinfo_hash=", sep);
	w += put_encoded(t + w, rq->hashes[0].b, INFO_HASH_LEN);
	w += (size_t)snprintf(t + w, cap - w, "&peer_id=");
	w += put_encoded(t + w, rq->peer_id.b, PEER_ID_LEN);
	w += (size_t)snprintf(t + w, cap - w,
			      "&port=%u&uploaded=%" PRIu64 "&downloaded=%" PRIu64 "&left=%" PRIu64
			      "&compact=%d&key=%08x",
			      rq->port, rq->uploaded, rq->downloaded, rq->left, rq->compact ? 1 : 0,
			      rq->key);
	if (event_word(event))
		w += (size_t)snprintf(t + w, cap - w, "&event=%s", event_word(event));
	if (rq->numwant >= 0)
		snprintf(t + w, cap - w, "&numwant=%d", rq->numwant);
	return t;
}

/* Waits for fd to be ready for events, at most ms. Returns 0, -ETIMEDOUT
 * or -errno. */
static int wait_fd(int fd, short events, double ms)
{
	for (;;) {
		struct pollfd p = {.fd = fd, .events = events};
		if (ms <= 0)
			return -ETIMEDOUT;
		double t0 = client_now_ms();
		int rc = poll(&p, 1, (int)ms + 1);
		if (rc > 0)
			return 0;
		if (rc == 0)
			return -ETIMEDOUT;
		if (errno != EINTR)
			return -errno;
		ms -= client_now_ms() - t0;
	}
}

/* Connects a non-blocking TCP socket to ai within timeout_ms. */
static int tcp_connect(const struct addrinfo *ai, int timeout_ms, int *fd_out)
{
	int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), err = 0;
	socklen_t len = sizeof(err);

	if (fd < 0)
		return -errno;
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
		if (errno != EINPROGRESS) {
			err = errno;
			goto close_fd;
		}
		int rc = wait_fd(fd, POLLOUT, timeout_ms);
		if (rc < 0) {
			err = -rc;
			goto close_fd;
		}
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
			err = errno;
		if (err)
			goto close_fd;
	}
	*fd_out = fd;
	return 0;
close_fd:
	close(fd);
	return -err;
}

/* True once the response in rs is complete (head and whole body). */
static bool response_complete(struct response *rs)
{
	if (rs->head.head_len == 0)
		return false;
	size_t have = rs->len - rs->head.head_len;
	if (rs->head.status / 100 == 1 || rs->head.status == 204 || rs->head.status == 304)
		return true;
	if (rs->head.chunked)
		return client_http_dechunk(rs->buf + rs->head.head_len, have, NULL) >= 0;
	if (rs->head.content_length >= 0)
		return have >= (uint64_t)rs->head.content_length;
	return false; /* read to the close */
}

/* Sends one GET for target over a fresh connection and reads the response
 * into rs. Returns 0 or -errno with r->error set. */
static int fetch(const struct client_url *u, const char *target, const struct client_request *rq,
		 struct client_result *r, struct response *rs)
{
	struct addrinfo *list, *ai;
	int fd = -1, rc;
	double t0 = client_now_ms();
	double deadline = t0 + (double)rq->timeout_ms * (rq->tries > 0 ? rq->tries : 1);
	char *req = NULL;

	memset(rs, 0, sizeof(*rs));
	rc = client_resolve(u, SOCK_STREAM, rq->family, &list, r);
	if (rc < 0)
		return rc;
	for (ai = list; ai; ai = ai->ai_next) {
		double c0 = client_now_ms();
		client_format_sockaddr(ai->ai_addr, ai->ai_addrlen, r->address, sizeof(r->address));
		rc = tcp_connect(ai, rq->timeout_ms, &fd);
		r->connect_ms = client_now_ms() - c0;
		if (rc == 0 || !client_try_next_address(-rc))
			break;
	}
	freeaddrinfo(list);
	if (rc < 0)
		return client_fail(r, -rc, "connect to %s: %s", r->address, strerror(-rc));

	/* The request: Host carries the port unless it is 80. */
	bool port80 = strcmp(u->port, "80") == 0;
	int n = asprintf(&req,
			 "GET %s HTTP/1.1\r\nHost: %s%s%s%s%s\r\nUser-Agent: ringtracker-client\r\n"
			 "Accept-Encoding: identity\r\nConnection: close\r\n\r\n",
			 target, u->host_is_v6 ? "[" : "", u->host, u->host_is_v6 ? "]" : "",
			 port80 ? "" : ":", port80 ? "" : u->port);
	if (n < 0) {
		rc = client_fail(r, ENOMEM, "out of memory");
		goto close_fd;
	}
	for (size_t sent = 0; sent < (size_t)n;) {
		ssize_t k = send(fd, req + sent, (size_t)n - sent, MSG_NOSIGNAL);
		if (k < 0 && errno == EAGAIN) {
			rc = wait_fd(fd, POLLOUT, deadline - client_now_ms());
			if (rc < 0) {
				client_fail(r, -rc, "send to %s: %s", r->address, strerror(-rc));
				goto free_req;
			}
			continue;
		}
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0) {
			rc = client_fail(r, errno, "send to %s: %s", r->address, strerror(errno));
			goto free_req;
		}
		sent += (size_t)k;
	}

	/* The response: until complete or closed. */
	for (;;) {
		if (rs->len == rs->cap) {
			size_t cap = rs->cap ? rs->cap * 2 : 16384;
			if (cap > RESPONSE_MAX) {
				rc = client_fail(r, EMSGSIZE, "response larger than %u bytes",
						 RESPONSE_MAX);
				goto free_buf;
			}
			uint8_t *p = realloc(rs->buf, cap + 1);
			if (!p) {
				rc = client_fail(r, ENOMEM, "out of memory");
				goto free_buf;
			}
			rs->buf = p;
			rs->cap = cap;
		}
		double left = deadline - client_now_ms();
		rc = wait_fd(fd, POLLIN, left < rq->timeout_ms ? left : rq->timeout_ms);
		if (rc < 0) {
			client_fail(
			    r, -rc,
			    "no complete response from %s within the timeout (%zu bytes read)",
			    r->address, rs->len);
			goto free_buf;
		}
		ssize_t k = recv(fd, rs->buf + rs->len, rs->cap - rs->len, 0);
		if (k < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (k < 0) {
			rc = client_fail(r, errno, "recv from %s: %s", r->address, strerror(errno));
			goto free_buf;
		}
		rs->len += (size_t)k;
		/* Skip any 1xx interim responses, then parse the head. */
		while (rs->head.head_len == 0) {
			int h = client_http_parse_head((char *)rs->buf, rs->len, &rs->head);
			if (h == -EAGAIN && rs->len > HEAD_MAX)
				h = -EPROTO;
			if (h == -EPROTO) {
				rc = client_fail(r, EPROTO, "malformed HTTP response from %s",
						 r->address);
				goto free_buf;
			}
			if (h < 0 || rs->head.status / 100 != 1 || rs->head.status == 101)
				break;
			memmove(rs->buf, rs->buf + h, rs->len - (size_t)h);
			rs->len -= (size_t)h;
			rs->head.head_len = 0;
		}
		if (k == 0 || response_complete(rs))
			break;
	}
	if (rs->head.head_len == 0) {
		rc = client_fail(r, EPROTO, "%s closed the connection before a complete response",
				 r->address);
		goto free_buf;
	}

	/* The body, with its framing checked. */
	uint8_t *body = rs->buf + rs->head.head_len;
	size_t have = rs->len - rs->head.head_len;
	if (rs->head.chunked) {
		long dl = client_http_dechunk(body, have, body);
		if (dl < 0) {
			rc = client_fail(r, EPROTO, "%s chunked body from %s",
					 dl == -EAGAIN ? "cut-off" : "malformed", r->address);
			goto free_buf;
		}
		have = (size_t)dl;
	} else if (rs->head.content_length >= 0) {
		if (have < (uint64_t)rs->head.content_length) {
			rc = client_fail(r, EPROTO, "%s closed after %zu of %lld body bytes",
					 r->address, have, (long long)rs->head.content_length);
			goto free_buf;
		}
		have = (size_t)rs->head.content_length;
	}
	rs->body = body;
	rs->body_len = have;
	rc = 0;
	goto free_req;

free_buf:
	free(rs->buf);
	rs->buf = NULL;
free_req:
	free(req);
close_fd:
	close(fd);
	return rc;
}

/* Reports a non-200 reply: the tracker's failure reason when the body is
 * one, else the status and the first line of a text body. */
static int fail_status(const struct response *rs, struct client_result *r)
{
	const struct client_http_head *h = &rs->head;
	size_t n = 0;

	r->error[0] = '\0';
	if (client_decode_announce(rs->body, rs->body_len, r) == -EPROTO)
		return -EPROTO;
	while (n < rs->body_len && n < 200 && rs->body[n] >= ' ' && rs->body[n] < 0x7f)
		n++;
	return client_fail(r, EPROTO, "HTTP %d %.*s%s%.*s", h->status, (int)h->reason_len,
			   h->reason, n ? ": " : "", (int)n, (const char *)rs->body);
}

/* One announce (with event) or scrape; times the whole request. */
static int run_one(const struct client_url *u, const struct client_request *rq,
		   enum udp_event event, struct client_result *r)
{
	struct client_url scrape_url;
	const struct client_url *target_url = u;
	struct response rs;
	double t0 = client_now_ms();
	int rc;

	if (rq->action == CLIENT_SCRAPE) {
		if (client_url_scrape(u, &scrape_url) < 0)
			return client_fail(r, ENOTSUP,
					   "no scrape URL: the path's last segment does not start "
					   "with \"announce\" (BEP 48)");
		target_url = &scrape_url;
	}
	char *target = build_target(target_url, rq, event);
	if (!target)
		return client_fail(r, ENOMEM, "out of memory");
	rc = fetch(target_url, target, rq, r, &rs);
	free(target);
	r->time_ms = client_now_ms() - t0;
	if (rc < 0)
		return rc;
	if (rs.head.status != 200) {
		struct client_result tmp;
		client_result_init(&tmp);
		rc = fail_status(&rs, &tmp);
		memcpy(r->error, tmp.error, sizeof(r->error));
		client_result_free(&tmp);
	} else if (rq->action == CLIENT_ANNOUNCE) {
		rc = client_decode_announce(rs.body, rs.body_len, r);
	} else {
		rc = client_decode_scrape(rs.body, rs.body_len, r);
	}
	free(rs.buf);
	return rc;
}

int client_http_run(const struct client_url *u, const struct client_request *rq,
		    struct client_result *r)
{
	return run_one(u, rq, rq->event, r);
}

int client_http_check(const struct client_url *u, const struct client_request *rq,
		      struct client_result *r, double *connect_ms, double *announce_ms,
		      double *scrape_ms)
{
	struct client_request sc = *rq;
	struct client_result ignored;
	int rc;

	sc.action = CLIENT_ANNOUNCE;
	rc = run_one(u, &sc, UDP_EVENT_STARTED, r);
	*connect_ms = r->connect_ms;
	*announce_ms = r->time_ms;
	/* Counts are optional in BEP 3 replies: judge them only when sent. */
	if (rc == 0 && r->seeders >= 0 && r->leechers >= 0 && r->seeders + r->leechers < 1)
		rc = client_fail(r, EPROTO, "the tracker did not count our peer");
	if (rc < 0) {
		client_error_prefix(r, "announce");
		return rc;
	}
	sc.action = CLIENT_SCRAPE;
	rc = run_one(u, &sc, UDP_EVENT_NONE, r);
	*scrape_ms = r->time_ms;
	if (rc == 0) {
		bool found = false;
		for (size_t i = 0; i < r->n_files; i++)
			if (memcmp(r->files[i].info_hash.b, rq->hashes[0].b, INFO_HASH_LEN) == 0)
				found = r->files[i].seeders + r->files[i].leechers >= 1;
		if (!found)
			rc = client_fail(r, EPROTO, "the tracker does not count our peer");
	}
	if (rc < 0) {
		client_error_prefix(r, "scrape");
		return rc;
	}
	/* Leave no trace: best effort, result ignored. */
	client_result_init(&ignored);
	sc.action = CLIENT_ANNOUNCE;
	run_one(u, &sc, UDP_EVENT_STOPPED, &ignored);
	client_result_free(&ignored);
	return 0;
}

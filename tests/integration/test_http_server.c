/* test_http_server.c - end-to-end tests of the HTTP tracker: starts
 * build/ringtracker (path in RINGTRACKER_BIN) on 127.0.0.1 and ::1 with
 * ephemeral ports and talks HTTP/1.x (BEP 3, 7, 23, 24, 48) to it over real
 * TCP on loopback, plus BEP 15 over UDP for the shared-swarm test.
 *
 * Holds a small blocking HTTP client (non-blocking sockets driven by poll()
 * with deadlines), a bencode reader just large enough to look keys up in a
 * reply (ints, byte strings, lists, dictionaries; keys must be sorted) and a
 * copy of the UDP client helpers of test_udp_server.c.
 *
 * Each test starts its own server and stops it with SIGTERM, checking a clean
 * exit. Every loop is bounded in count and time. Configuration the command
 * line cannot set ([http] limits and timeouts) goes through a temporary file.
 * The last three tests guard bugs found by this suite and since fixed.
 */
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "harness.h"
#include "udp_client.h"
#include "netaddr.h"
#include "udp.h"

#define IO_TIMEOUT_MS  3000  /* any single exchange with the server */
#define REPLY_BODY_MAX 65536 /* bytes: the server's largest body */
#define BDEPTH_MAX     16    /* nesting the bencode reader follows */

/* Milliseconds left until deadline (seconds, now_s() clock), at least 0. */
static int ms_left(double deadline)
{
	double left = (deadline - now_s()) * 1000.0;

	return left <= 0 ? 0 : (int)left + 1;
}

/* Writes an [http] (or any) config text to a temporary file; the caller
 * unlinks path once the server has read it. */
static void write_config(char *path, const char *text)
{
	int fd = mkstemp(path);

	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
}

static void start_with_config(struct tracker *t, const char *ini, const char *workers)
{
	char path[] = "/tmp/ringtracker-http-XXXXXX";

	write_config(path, ini);
	tracker_start(t, (const char *[]){"-c", path, "--workers", workers, NULL});
	unlink(path);
}

/* ------------------------------------------------------ TCP plumbing */

/* Connects a non-blocking TCP socket to a within IO_TIMEOUT_MS. Returns
 * the fd or -errno; never asserts (the slow-client thread uses it). */
static int tcp_connect_raw(const struct netaddr *a)
{
	struct sockaddr_storage ss;
	socklen_t sl = netaddr_to_sockaddr(a, &ss);
	int one = 1, err = 0;
	socklen_t el = sizeof(err);
	int fd = socket(a->family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&ss, sl) != 0) {
		struct pollfd p = {.fd = fd, .events = POLLOUT};
		if (errno != EINPROGRESS)
			err = errno;
		else if (poll(&p, 1, IO_TIMEOUT_MS) != 1)
			err = ETIMEDOUT;
		else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) != 0)
			err = errno;
		if (err) {
			close(fd);
			return -err;
		}
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

static int tcp_connect(const struct netaddr *a)
{
	int fd = tcp_connect_raw(a);

	cr_assert_geq(fd, 0, "connect: %s", strerror(-fd));
	return fd;
}

/* Sends all of data within IO_TIMEOUT_MS. Returns 0 or -errno (the server
 * may have closed first). */
static int send_all(int fd, const void *data, size_t len)
{
	const uint8_t *p = data;
	double deadline = now_s() + IO_TIMEOUT_MS / 1000.0;

	while (len > 0) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
		if (n > 0) {
			p += n;
			len -= (size_t)n;
			continue;
		}
		if (n < 0 && errno != EAGAIN && errno != EINTR)
			return -errno;
		int left = ms_left(deadline);
		if (left == 0)
			return -ETIMEDOUT;
		struct pollfd pf = {.fd = fd, .events = POLLOUT};
		poll(&pf, 1, left);
	}
	return 0;
}

/* Waits up to timeout_ms for the server to end the stream, discarding what
 * it sends. Returns 0 at end of stream, -ECONNRESET for a reset, -ETIMEDOUT
 * when the connection is still open. */
static int wait_closed(int fd, int timeout_ms)
{
	double deadline = now_s() + timeout_ms / 1000.0;
	uint8_t junk[4096];

	for (;;) {
		ssize_t n = recv(fd, junk, sizeof(junk), 0);
		if (n == 0)
			return 0;
		if (n < 0 && errno != EAGAIN && errno != EINTR)
			return -errno;
		int left = ms_left(deadline);
		if (left == 0)
			return -ETIMEDOUT;
		struct pollfd pf = {.fd = fd, .events = POLLIN};
		poll(&pf, 1, left);
	}
}

/* Closes with a reset instead of a FIN (SO_LINGER 0). */
static void close_with_reset(int fd)
{
	struct linger l = {.l_onoff = 1, .l_linger = 0};

	setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
	close(fd);
}

/* ------------------------------------------------------- HTTP client */

/* One client connection; buf holds bytes read but not yet consumed, so that
 * pipelined responses are split correctly. */
struct hconn {
	int fd;
	size_t len;
	uint8_t buf[2 * REPLY_BODY_MAX];
};

struct hreply {
	int status;
	bool conn_close; /* "Connection: close" */
	bool conn_keep;	 /* "Connection: keep-alive" */
	char head[2048]; /* status line and headers, NUL-ended (truncated) */
	size_t body_len;
	uint8_t body[REPLY_BODY_MAX + 1]; /* NUL after the body */
};

static void hc_open(struct hconn *c, const struct netaddr *a)
{
	c->fd = tcp_connect(a);
	c->len = 0;
}

static void hc_close(struct hconn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}

/* Reads more bytes before deadline. Returns the count, 0 at end of stream,
 * or -errno (-ETIMEDOUT, -ENOBUFS when the buffer is full). */
static ssize_t hc_fill(struct hconn *c, double deadline)
{
	for (;;) {
		if (c->len == sizeof(c->buf))
			return -ENOBUFS;
		ssize_t n = recv(c->fd, c->buf + c->len, sizeof(c->buf) - c->len, 0);
		if (n >= 0) {
			c->len += (size_t)n;
			return n;
		}
		if (errno != EAGAIN && errno != EINTR)
			return -errno;
		int left = ms_left(deadline);
		if (left == 0)
			return -ETIMEDOUT;
		struct pollfd pf = {.fd = c->fd, .events = POLLIN};
		poll(&pf, 1, left);
	}
}

/* hc_parse_head's answer for a body that ends with the connection (no
 * Content-Length, Connection: close), as a streamed full scrape is sent. */
#define BODY_UNTIL_CLOSE (-2L)

/* Fills *r from the complete head buf[0..head_len). Returns the
 * Content-Length, BODY_UNTIL_CLOSE, or -EPROTO. */
static long hc_parse_head(const uint8_t *buf, size_t head_len, struct hreply *r)
{
	size_t n = head_len < sizeof(r->head) - 1 ? head_len : sizeof(r->head) - 1;
	char *cl, *conn, *endp;

	memcpy(r->head, buf, n);
	r->head[n] = '\0';
	if (strncmp(r->head, "HTTP/1.1 ", 9) != 0 || sscanf(r->head + 9, "%3d", &r->status) != 1)
		return -EPROTO;
	conn = strcasestr(r->head, "\r\nConnection:");
	if (conn) {
		conn += 13;
		conn += strspn(conn, " \t");
		r->conn_close = strncasecmp(conn, "close\r", 6) == 0;
		r->conn_keep = strncasecmp(conn, "keep-alive\r", 11) == 0;
	}
	cl = strcasestr(r->head, "\r\nContent-Length:");
	if (!cl)
		return r->conn_close ? BODY_UNTIL_CLOSE : -EPROTO;
	long len = strtol(cl + 17, &endp, 10);
	if (endp == cl + 17 || len < 0 || len > REPLY_BODY_MAX)
		return -EPROTO;
	return len;
}

/* Reads one complete response (head, then Content-Length bytes of body)
 * within timeout_ms and consumes it. Returns 0, or -errno: -ETIMEDOUT,
 * -EPIPE when the stream ended first, -ECONNRESET, -EPROTO for a bad head. */
static int hc_read_reply(struct hconn *c, struct hreply *r, int timeout_ms)
{
	double deadline = now_s() + timeout_ms / 1000.0;

	memset(r, 0, offsetof(struct hreply, body));
	for (int i = 0; i < 100000; i++) {
		const uint8_t *end = memmem(c->buf, c->len, "\r\n\r\n", 4);
		if (end) {
			size_t head_len = (size_t)(end + 4 - c->buf);
			long body = hc_parse_head(c->buf, head_len, r);
			if (body == BODY_UNTIL_CLOSE) {
				ssize_t got = hc_fill(c, deadline);
				if (got > 0)
					continue;
				if (got < 0)
					return (int)got;
				body = (long)(c->len - head_len); /* the stream ended */
				if (body > REPLY_BODY_MAX)
					return -EPROTO;
			}
			if (body < 0)
				return (int)body;
			if (c->len >= head_len + (size_t)body) {
				r->body_len = (size_t)body;
				memcpy(r->body, c->buf + head_len, r->body_len);
				r->body[r->body_len] = '\0';
				c->len -= head_len + r->body_len;
				memmove(c->buf, c->buf + head_len + r->body_len, c->len);
				return 0;
			}
		}
		ssize_t n = hc_fill(c, deadline);
		if (n == 0)
			return -EPIPE;
		if (n < 0)
			return (int)n;
	}
	return -ETIMEDOUT;
}

static void hc_send(struct hconn *c, const void *req, size_t len)
{
	int rc = send_all(c->fd, req, len);

	cr_assert_eq(rc, 0, "send: %s", strerror(-rc));
}

static void hc_expect_reply(struct hconn *c, struct hreply *r)
{
	int rc = hc_read_reply(c, r, IO_TIMEOUT_MS);

	cr_assert_eq(rc, 0, "no complete reply: %s", strerror(-rc));
}

/* GET target over HTTP/1.1 and read the reply. */
static void hc_get(struct hconn *c, const char *target, struct hreply *r)
{
	static char req[20000];
	int n = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: tracker\r\n\r\n", target);

	cr_assert(n > 0 && (size_t)n < sizeof(req));
	hc_send(c, req, (size_t)n);
	hc_expect_reply(c, r);
}

/* ----------------------------------------------------- bencode reader */

/* Parses the byte string at p: sets *s and *n, returns the byte past it, or
 * NULL when p is not a well-formed string within end. */
static const uint8_t *bstr(const uint8_t *p, const uint8_t *end, const uint8_t **s, size_t *n)
{
	size_t len = 0;
	const uint8_t *q = p;

	if (q >= end || *q < '0' || *q > '9' || (*q == '0' && q + 1 < end && q[1] != ':'))
		return NULL;
	for (; q < end && *q >= '0' && *q <= '9'; q++) {
		len = len * 10 + (size_t)(*q - '0');
		if (len > (size_t)(end - p))
			return NULL;
	}
	if (q >= end || *q != ':' || (size_t)(end - q - 1) < len)
		return NULL;
	*s = q + 1;
	*n = len;
	return q + 1 + len;
}

/* Returns the byte past the value at p, or NULL when p is NULL or the value
 * is malformed, runs past end, nests deeper than BDEPTH_MAX or has unsorted
 * or repeated dictionary keys (BEP 3 requires them sorted by raw bytes). */
static const uint8_t *bskip(const uint8_t *p, const uint8_t *end, int depth)
{
	const uint8_t *q, *s, *prev = NULL;
	size_t n, prev_n = 0;

	if (!p || p >= end || depth > BDEPTH_MAX)
		return NULL;
	if (*p == 'i') {
		q = p + 1 + (p + 1 < end && p[1] == '-');
		const uint8_t *digits = q;
		while (q < end && *q >= '0' && *q <= '9')
			q++;
		/* No empty, zero-padded or negative-zero integers. */
		if (q == digits || q >= end || *q != 'e' ||
		    (*digits == '0' && (q - digits > 1 || digits > p + 1)))
			return NULL;
		return q + 1;
	}
	if (*p == 'l' || *p == 'd') {
		for (q = p + 1; q && q < end && *q != 'e';) {
			if (*p == 'd') {
				const uint8_t *v = bstr(q, end, &s, &n);
				if (!v)
					return NULL;
				if (prev) {
					int cmp = memcmp(prev, s, n < prev_n ? n : prev_n);
					if (cmp > 0 || (cmp == 0 && prev_n >= n))
						return NULL;
				}
				prev = s;
				prev_n = n;
				q = v;
			}
			q = bskip(q, end, depth + 1);
		}
		return q && q < end ? q + 1 : NULL;
	}
	return bstr(p, end, &s, &n);
}

/* The value of key (klen raw bytes) in the dictionary at d, or NULL. */
static const uint8_t *bget_raw(const uint8_t *d, const uint8_t *end, const void *key, size_t klen)
{
	const uint8_t *p = d + 1, *s;
	size_t n;

	if (d >= end || *d != 'd')
		return NULL;
	while (p && p < end && *p != 'e') {
		const uint8_t *v = bstr(p, end, &s, &n);
		if (!v)
			return NULL;
		if (n == klen && memcmp(s, key, n) == 0)
			return v;
		p = bskip(v, end, 1);
	}
	return NULL;
}

static const uint8_t *bget(const uint8_t *d, const uint8_t *end, const char *key)
{
	return bget_raw(d, end, key, strlen(key));
}

/* The integer at p; asserts it is one. */
static long long bint(const uint8_t *p, const uint8_t *end, const char *what)
{
	char *e;

	cr_assert(p && p < end && *p == 'i' && bskip(p, end, 0), "%s: not an integer", what);
	long long v = strtoll((const char *)p + 1, &e, 10);
	cr_assert_eq(*e, 'e', "%s: bad integer", what);
	return v;
}

static long long bget_int(const uint8_t *d, const uint8_t *end, const char *key)
{
	const uint8_t *v = bget(d, end, key);

	cr_assert(v, "key '%s' missing", key);
	return bint(v, end, key);
}

/* The byte string under key; asserts it exists and is a string. */
static size_t bget_str(const uint8_t *d, const uint8_t *end, const char *key, const uint8_t **s)
{
	size_t n;
	const uint8_t *v = bget(d, end, key);

	cr_assert(v, "key '%s' missing", key);
	cr_assert(bstr(v, end, s, &n), "key '%s' is not a byte string", key);
	return n;
}

/* Number of keys in the dictionary at d. */
static size_t bdict_len(const uint8_t *d, const uint8_t *end)
{
	const uint8_t *p = d + 1, *s;
	size_t n, count = 0;

	while (p && p < end && *p != 'e') {
		p = bskip(bstr(p, end, &s, &n), end, 1);
		count++;
	}
	return count;
}

/* The reply must be 200 with one well-formed bencoded dictionary as body. */
static void expect_bdict(const struct hreply *r)
{
	const uint8_t *end = r->body + r->body_len;

	cr_assert_eq(r->status, 200, "status %d: %s", r->status, r->head);
	cr_assert(r->body_len > 0 && r->body[0] == 'd', "not a dictionary: %s", r->body);
	cr_assert_eq(bskip(r->body, end, 0), end, "malformed bencode: %s", r->body);
}

/* ---------------------------------------------------------- requests */

/* Appends %XX for each of n bytes; returns the text length. */
static size_t pct_encode(char *out, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		sprintf(out + 3 * i, "%%%02X", p[i]);
	return 3 * n;
}

struct ann {
	struct info_hash ih;
	uint16_t port;
	uint64_t left;	   /* 0: seeder */
	const char *event; /* NULL: no event */
	bool dict;	   /* compact=0: the dictionary model */
	const char *extra; /* appended verbatim, e.g. "&numwant=2"; may be NULL */
};

/* Writes "/announce?..." for a; the peer id is derived from the port. */
static void announce_target(char *out, size_t cap, const struct ann *a)
{
	char hash[3 * INFO_HASH_LEN + 1];
	int n;

	pct_encode(hash, a->ih.b, INFO_HASH_LEN);
	n = snprintf(out, cap,
		     "/announce?info_hash=%s&peer_id=-RT0100-%012u&port=%u&uploaded=0"
		     "&downloaded=0&left=%llu&compact=%d%s%s%s",
		     hash, a->port, a->port, (unsigned long long)a->left, a->dict ? 0 : 1,
		     a->event ? "&event=" : "", a->event ? a->event : "", a->extra ? a->extra : "");
	cr_assert(n > 0 && (size_t)n < cap);
}

/* Announces a and asserts a 200 bencoded reply without a failure reason. */
static void announce(struct hconn *c, const struct ann *a, struct hreply *r)
{
	char target[512];

	announce_target(target, sizeof(target), a);
	hc_get(c, target, r);
	expect_bdict(r);
	cr_assert_null(bget(r->body, r->body + r->body_len, "failure reason"), "failure: %s",
		       r->body);
}

/* Writes "/scrape?info_hash=..&info_hash=.." for hashes[0..n). */
static void scrape_target(char *out, size_t cap, const struct info_hash *hashes, size_t n)
{
	size_t len = (size_t)snprintf(out, cap, "/scrape");

	for (size_t i = 0; i < n; i++) {
		cr_assert_lt(len + 12 + 3 * INFO_HASH_LEN, cap);
		len += (size_t)sprintf(out + len, "%cinfo_hash=", i ? '&' : '?');
		len += pct_encode(out + len, hashes[i].b, INFO_HASH_LEN);
	}
}

/* Asserts a 200 reply whose only key is a failure reason containing needle,
 * on a connection that stays open. */
static void expect_failure(struct hconn *c, const char *target, const char *needle)
{
	struct hreply r;
	const uint8_t *s;

	hc_get(c, target, &r);
	expect_bdict(&r);
	const uint8_t *end = r.body + r.body_len;
	size_t n = bget_str(r.body, end, "failure reason", &s);
	cr_assert_eq(bdict_len(r.body, end), 1, "extra keys beside the failure: %s", r.body);
	cr_assert(memmem(s, n, needle, strlen(needle)), "'%.*s' does not name '%s' (%s)", (int)n, s,
		  needle, target);
	cr_assert(r.conn_keep, "a failure reason should keep the connection: %s", r.head);
}

/* True when the compact records peers[0..len) hold ip:port. */
static bool compact_has(const uint8_t *peers, size_t len, const struct netaddr *ip, uint16_t port)
{
	size_t iplen = netaddr_ip_len(ip), rec = iplen + 2;

	for (size_t off = 0; off + rec <= len; off += rec)
		if (memcmp(peers + off, ip->ip, iplen) == 0 && peers[off + iplen] == port >> 8 &&
		    peers[off + iplen + 1] == (port & 0xff))
			return true;
	return false;
}


/* --------------------------------------------------- 1, 2: announces */

/* Two peers of one torrent see each other in compact form: "peers" (6-byte
 * records) over IPv4, "peers6" (18-byte records) over IPv6. */
static void compact_two_peers(const struct netaddr *srv, unsigned hash)
{
	static struct hconn a, b;
	static struct hreply r;
	bool v6 = srv->family == AF_INET6;
	size_t rec = v6 ? 18 : 6;
	const char *key = v6 ? "peers6" : "peers";
	const uint8_t *p, *ip;
	struct ann aa = {.ih = hash_of(hash), .port = 1111, .left = 1000, .event = "started"};
	struct ann bb = {.ih = hash_of(hash), .port = 2222, .left = 0, .event = "started"};

	hc_open(&a, srv);
	hc_open(&b, srv);
	announce(&a, &aa, &r);
	const uint8_t *end = r.body + r.body_len;
	cr_assert_eq(bget_int(r.body, end, "complete"), 0);
	cr_assert_eq(bget_int(r.body, end, "incomplete"), 1);
	cr_assert_eq(bget_int(r.body, end, "downloaded"), 0);
	cr_assert_eq(bget_int(r.body, end, "interval"), 1800, "the default announce_interval");
	cr_assert_eq(bget_int(r.body, end, "min interval"), 900);
	cr_assert_eq(bget_str(r.body, end, "peers", &p), 0, "the requester must not get itself");
	cr_assert_null(bget(r.body, end, "peers6"), "empty peers6 must be left out");
	cr_assert_eq(bget_str(r.body, end, "external ip", &ip), netaddr_ip_len(srv));
	cr_assert_arr_eq(ip, srv->ip, netaddr_ip_len(srv), "external ip is not the client's");
	cr_assert(r.conn_keep, "HTTP/1.1 keeps the connection: %s", r.head);

	announce(&b, &bb, &r);
	end = r.body + r.body_len;
	cr_assert_eq(bget_int(r.body, end, "complete"), 1);
	cr_assert_eq(bget_int(r.body, end, "incomplete"), 1);
	cr_assert_eq(bget_str(r.body, end, key, &p), rec, "%s: one record", key);
	cr_assert(compact_has(p, rec, srv, 1111), "B does not see A");
	if (v6)
		cr_assert_eq(bget_str(r.body, end, "peers", &p), 0, "IPv4 peers to an IPv6 client");

	aa.event = NULL;
	announce(&a, &aa, &r);
	end = r.body + r.body_len;
	cr_assert_eq(bget_str(r.body, end, key, &p), rec);
	cr_assert(compact_has(p, rec, srv, 2222), "A does not see B");
	hc_close(&a);
	hc_close(&b);
}

Test(http_integration, compact_announce_ipv4_and_ipv6, .timeout = 30)
{
	struct tracker t;

	tracker_start(&t, (const char *[]){"--workers", "2", NULL});
	compact_two_peers(&t.http4, 1001);
	compact_two_peers(&t.http6, 1002);
	tracker_stop(&t);
	cr_assert_eq(log_counter(&t, "http_announce_v4"), 3);
	cr_assert_eq(log_counter(&t, "http_announce_v6"), 3);
}

/* compact=0: "peers" is a list of {ip, port} dictionaries. */
static void dictionary_two_peers(const struct netaddr *srv, unsigned hash, const char *ip_text)
{
	static struct hconn a, b;
	static struct hreply r;
	const uint8_t *s;
	struct ann aa = {.ih = hash_of(hash), .port = 3111, .left = 5, .dict = true};
	struct ann bb = {.ih = hash_of(hash), .port = 3222, .left = 5, .dict = true};

	hc_open(&a, srv);
	hc_open(&b, srv);
	announce(&a, &aa, &r);
	const uint8_t *end = r.body + r.body_len;
	const uint8_t *list = bget(r.body, end, "peers");
	cr_assert(list && list[0] == 'l' && list[1] == 'e', "want an empty list: %s", r.body);

	announce(&b, &bb, &r);
	end = r.body + r.body_len;
	list = bget(r.body, end, "peers");
	cr_assert(list && *list == 'l', "peers is not a list: %s", r.body);
	cr_assert_null(bget(r.body, end, "peers6"), "the dictionary model has no peers6");
	const uint8_t *item = list + 1;
	cr_assert_eq(*item, 'd', "peer is not a dictionary: %s", r.body);
	size_t n = bget_str(item, end, "ip", &s);
	cr_assert(n == strlen(ip_text) && memcmp(s, ip_text, n) == 0, "ip '%.*s', want '%s'",
		  (int)n, s, ip_text);
	cr_assert_eq(bget_int(item, end, "port"), 3111);
	cr_assert_eq(*bskip(item, end, 1), 'e', "more than one peer: %s", r.body);
	hc_close(&a);
	hc_close(&b);
}

Test(http_integration, dictionary_model_peers, .timeout = 30)
{
	struct tracker t;

	tracker_start(&t, (const char *[]){"--workers", "2", NULL});
	dictionary_two_peers(&t.http4, 1101, "127.0.0.1");
	dictionary_two_peers(&t.http6, 1102, "::1");
	tracker_stop(&t);
}

/* numwant bounds the peers returned; stopped removes the peer. */
Test(http_integration, numwant_and_stopped, .timeout = 30)
{
	struct tracker t;
	static struct hconn c;
	static struct hreply r;
	const uint8_t *p;
	struct info_hash ih = hash_of(1201);

	tracker_start(&t, (const char *[]){"--workers", "2", NULL});
	hc_open(&c, &t.http4);
	for (uint16_t port = 5001; port <= 5005; port++)
		announce(&c, &(struct ann){.ih = ih, .port = port, .left = 1, .event = "started"},
			 &r);
	announce(&c, &(struct ann){.ih = ih, .port = 5001, .left = 1, .extra = "&numwant=2"}, &r);
	cr_assert_eq(bget_str(r.body, r.body + r.body_len, "peers", &p), 2 * 6);
	cr_assert_eq(bget_int(r.body, r.body + r.body_len, "incomplete"), 5);

	announce(&c, &(struct ann){.ih = ih, .port = 5002, .left = 1, .event = "stopped"}, &r);
	cr_assert_eq(bget_str(r.body, r.body + r.body_len, "peers", &p), 0, "stopped got peers");
	announce(&c, &(struct ann){.ih = ih, .port = 5001, .left = 1}, &r);
	size_t n = bget_str(r.body, r.body + r.body_len, "peers", &p);
	cr_assert_eq(bget_int(r.body, r.body + r.body_len, "incomplete"), 4);
	cr_assert_eq(n, 3 * 6);
	cr_assert_not(compact_has(p, n, &t.http4, 5002), "a stopped peer is still handed out");
	hc_close(&c);
	tracker_stop(&t);
}

/* ------------------------------------------------------- 3: scrape */

Test(http_integration, scrape_spans_shards, .timeout = 30)
{
	enum { TORRENTS = 20 };
	struct tracker t;
	static struct hconn c;
	static struct hreply r;
	static char target[8192];
	struct info_hash hashes[TORRENTS];
	unsigned seeders[TORRENTS], leechers[TORRENTS], done[TORRENTS];

	tracker_start(&t, (const char *[]){"--workers", "2", NULL});
	hc_open(&c, &t.http4);
	for (unsigned i = 0; i < TORRENTS; i++) {
		hashes[i] = hash_of(2000 + i);
		seeders[i] = i % 3;
		leechers[i] = i % 4; /* i = 0 and 12: never announced */
		done[i] = i % 5 == 0 ? seeders[i] : 0;
		for (unsigned k = 0; k < seeders[i] + leechers[i]; k++) {
			/* Seeders that finish here start as leechers and send
			 * completed twice: it counts once. */
			struct ann a = {.ih = hashes[i],
					.port = (uint16_t)(10000 + 10 * i + k),
					.left = k < seeders[i] && k >= done[i] ? 0 : 77,
					.event = "started"};
			announce(&c, &a, &r);
			if (k < done[i]) {
				a.left = 0;
				a.event = "completed";
				announce(&c, &a, &r);
				announce(&c, &a, &r);
			}
		}
	}
	for (int family = 0; family < 2; family++) {
		static struct hconn s;
		hc_open(&s, family ? &t.http6 : &t.http4);
		scrape_target(target, sizeof(target), hashes, TORRENTS);
		hc_get(&s, target, &r);
		expect_bdict(&r);
		const uint8_t *end = r.body + r.body_len;
		const uint8_t *files = bget(r.body, end, "files");
		cr_assert(files && *files == 'd', "no files dictionary: %s", r.body);
		cr_assert_eq(bdict_len(files, end), TORRENTS);
		for (unsigned i = 0; i < TORRENTS; i++) {
			const uint8_t *f = bget_raw(files, end, hashes[i].b, INFO_HASH_LEN);
			cr_assert(f && *f == 'd', "hash %u missing", i);
			cr_assert_eq(bget_int(f, end, "complete"), seeders[i], "hash %u", i);
			cr_assert_eq(bget_int(f, end, "incomplete"), leechers[i], "hash %u", i);
			cr_assert_eq(bget_int(f, end, "downloaded"), done[i],
				     "hash %u: downloaded %lld, want %u", i,
				     bget_int(f, end, "downloaded"), done[i]);
		}
		hc_close(&s);
	}
	/* A repeated hash is answered once. */
	struct info_hash twice[3] = {hashes[5], hashes[7], hashes[5]};
	scrape_target(target, sizeof(target), twice, 3);
	hc_get(&c, target, &r);
	expect_bdict(&r);
	cr_assert_eq(bdict_len(bget(r.body, r.body + r.body_len, "files"), r.body + r.body_len), 2);
	hc_close(&c);
	tracker_stop(&t);
	cr_assert_gt(log_counter(&t, "handoff_sent"), 0, "nothing crossed shards:\n%s", t.log);
	cr_assert_eq(log_counter(&t, "http_scrape_v4"), 2);
	cr_assert_eq(log_counter(&t, "http_scrape_v6"), 1);
	cr_assert_eq(log_counter(&t, "http_stale_answers"), 0);
}

/* ---------------------------------------------- 4: UDP and HTTP swarm */

Test(http_integration, udp_and_http_share_swarm, .timeout = 30)
{
	struct tracker t;
	static struct hconn c;
	static struct hreply r;
	uint8_t reply[2048];
	struct udp_response ur;
	const uint8_t *p;

	tracker_start(&t, (const char *[]){"--workers", "2", NULL});
	hc_open(&c, &t.http4);
	/* Several torrents: some owned by the worker holding the connection,
	 * some by the other one. */
	for (unsigned i = 0; i < 6; i++) {
		struct info_hash ih = hash_of(3000 + i);
		struct uclient u;
		uint16_t uport = (uint16_t)(4000 + i), hport = (uint16_t)(4100 + i);

		uc_open(&u, &t.udp4);
		uc_connect(&u);
		uc_announce(&u, &ih, uport, 10, UDP_EVENT_STARTED, -1, reply, sizeof(reply), &ur);
		cr_assert_eq(ur.announce.leechers, 1);

		announce(&c, &(struct ann){.ih = ih, .port = hport, .left = 0, .event = "started"},
			 &r);
		const uint8_t *end = r.body + r.body_len;
		cr_assert_eq(bget_int(r.body, end, "complete"), 1, "torrent %u", i);
		cr_assert_eq(bget_int(r.body, end, "incomplete"), 1, "torrent %u", i);
		size_t n = bget_str(r.body, end, "peers", &p);
		cr_assert(compact_has(p, n, &t.http4, uport),
			  "torrent %u: HTTP misses the UDP peer", i);

		uc_announce(&u, &ih, uport, 10, UDP_EVENT_NONE, -1, reply, sizeof(reply), &ur);
		cr_assert_eq(ur.announce.seeders, 1, "torrent %u", i);
		cr_assert(compact_has(ur.announce.peers, ur.announce.peers_len, &t.udp4, hport),
			  "torrent %u: UDP misses the HTTP peer", i);
		close(u.fd);
	}
	hc_close(&c);
	tracker_stop(&t);
}

/* ------------------------------------------------- 5: failure reasons */

Test(http_integration, failure_reasons_name_the_parameter, .timeout = 30)
{
	struct tracker t;
	static struct hconn c;
	static char target[8192];
	char hash[3 * INFO_HASH_LEN + 1];
	struct info_hash ih = hash_of(4000);
	const char *pid = "peer_id=-RT0100-000000000001";

	pct_encode(hash, ih.b, INFO_HASH_LEN);
	tracker_start(&t, (const char *[]){"--workers", "2", NULL});
	hc_open(&c, &t.http4);
	/* All on one connection: a failure reason keeps it open. */
	expect_failure(&c, "/announce", "info_hash");
	snprintf(target, sizeof(target), "/announce?%s&port=1&left=0", pid);
	expect_failure(&c, target, "info_hash");
	snprintf(target, sizeof(target), "/announce?info_hash=%%01%%02%%03&%s&port=1&left=0", pid);
	expect_failure(&c, target, "info_hash");
	snprintf(target, sizeof(target), "/announce?info_hash=%s%%01&%s&port=1&left=0", hash, pid);
	expect_failure(&c, target, "info_hash");
	snprintf(target, sizeof(target), "/announce?info_hash=%%zz%s&%s&port=1&left=0", hash + 3,
		 pid);
	expect_failure(&c, target, "info_hash");
	snprintf(target, sizeof(target), "/announce?info_hash=%s&%s&left=0", hash, pid);
	expect_failure(&c, target, "port");
	snprintf(target, sizeof(target), "/announce?info_hash=%s&%s&port=0&left=0", hash, pid);
	expect_failure(&c, target, "port");
	snprintf(target, sizeof(target), "/announce?info_hash=%s&%s&port=70000&left=0", hash, pid);
	expect_failure(&c, target, "port");
	snprintf(target, sizeof(target), "/announce?info_hash=%s&%s&port=1&left=0&event=bogus",
		 hash, pid);
	expect_failure(&c, target, "event");
	snprintf(target, sizeof(target), "/announce?info_hash=%s&port=1&left=0", hash);
	expect_failure(&c, target, "peer_id");
	snprintf(target, sizeof(target), "/announce?info_hash=%s&%s&port=1", hash, pid);
	expect_failure(&c, target, "left");
	snprintf(target, sizeof(target), "/announce?info_hash=%s&%s&port=1&left=0&compact=2", hash,
		 pid);
	expect_failure(&c, target, "compact");
	expect_failure(&c, "/scrape", "full scrape");
	expect_failure(&c, "/scrape?info_hash=abc", "info_hash");
	/* The default scrape_max is 100. */
	struct info_hash many[101];
	for (unsigned i = 0; i < 101; i++)
		many[i] = hash_of(4100 + i);
	scrape_target(target, sizeof(target), many, 101);
	expect_failure(&c, target, "too many");

	/* None of these registered anything. */
	static struct hreply r;
	scrape_target(target, sizeof(target), &ih, 1);
	hc_get(&c, target, &r);
	expect_bdict(&r);
	const uint8_t *f = bget_raw(bget(r.body, r.body + r.body_len, "files"), r.body + r.body_len,
				    ih.b, INFO_HASH_LEN);
	cr_assert(f, "scrape lacks the hash: %s", r.body);
	cr_assert_eq(bget_int(f, r.body + r.body_len, "complete"), 0);
	hc_close(&c);
	tracker_stop(&t);
	cr_assert_eq(log_counter(&t, "http_failures"), 15);
}

/* Configured limits: max_request_line, max_header (both inclusive) and
 * scrape_max. */
Test(http_integration, configured_limits, .timeout = 30)
{
	struct tracker t;
	static struct hconn c;
	static struct hreply r;
	static char target[8192], req[8192];
	struct info_hash hashes[5];
	int n;

	for (unsigned i = 0; i < 5; i++)
		hashes[i] = hash_of(4300 + i);
	start_with_config(&t, "[http]\nscrape_max = 4\nmax_request_line = 512\nmax_header = 1024\n",
			  "1");
	/* "GET /health?<digits> HTTP/1.1" is 21 bytes plus the digits. */
	hc_open(&c, &t.http4);
	n = snprintf(req, sizeof(req), "GET /health?%0*d HTTP/1.1\r\n\r\n", 512 - 21, 0);
	cr_assert_eq(n, 512 + 4);
	hc_send(&c, req, (size_t)n);
	hc_expect_reply(&c, &r);
	cr_assert_eq(r.status, 200, "a 512-byte line: %s", r.head);
	n = snprintf(req, sizeof(req), "GET /health?%0*d HTTP/1.1\r\n\r\n", 513 - 21, 0);
	hc_send(&c, req, (size_t)n);
	hc_expect_reply(&c, &r);
	cr_assert_eq(r.status, 414, "a 513-byte line: %s", r.head);
	cr_assert(r.conn_close);
	cr_assert_eq(wait_closed(c.fd, 2000), 0, "not closed after 414");
	hc_close(&c);

	/* The whole head, blank line included: 1024 bytes pass, 1025 do not.
	 * "GET /health HTTP/1.1\r\nX-Pad: <digits>\r\n\r\n" is 33 plus digits. */
	hc_open(&c, &t.http4);
	n = snprintf(req, sizeof(req), "GET /health HTTP/1.1\r\nX-Pad: %0*d\r\n\r\n", 1024 - 33, 0);
	cr_assert_eq(n, 1024);
	hc_send(&c, req, (size_t)n);
	hc_expect_reply(&c, &r);
	cr_assert_eq(r.status, 200, "a 1024-byte head: %s", r.head);
	n = snprintf(req, sizeof(req), "GET /health HTTP/1.1\r\nX-Pad: %0*d\r\n\r\n", 1025 - 33, 0);
	cr_assert_eq(n, 1025);
	hc_send(&c, req, (size_t)n);
	hc_expect_reply(&c, &r);
	cr_assert_eq(r.status, 431, "a 1025-byte head: %s", r.head);
	cr_assert(r.conn_close);
	cr_assert_eq(wait_closed(c.fd, 2000), 0, "not closed after 431");
	hc_close(&c);

	/* scrape_max = 4: four hashes answer, five fail. */
	hc_open(&c, &t.http4);
	scrape_target(target, sizeof(target), hashes, 4);
	hc_get(&c, target, &r);
	expect_bdict(&r);
	cr_assert_eq(bdict_len(bget(r.body, r.body + r.body_len, "files"), r.body + r.body_len), 4);
	scrape_target(target, sizeof(target), hashes, 5);
	expect_failure(&c, target, "too many");
	hc_close(&c);
	tracker_stop(&t);
	cr_assert_eq(log_counter(&t, "http_too_large"), 2);
}

/* ----------------------------------------------------- 6: error codes */

/* Sends raw bytes on a new connection and expects status, then (close)
 * the server closing the connection. */
static void expect_status(const struct netaddr *srv, const char *req, size_t len, int status,
			  bool close_after)
{
	static struct hconn c;
	static struct hreply r;

	hc_open(&c, srv);
	hc_send(&c, req, len);
	hc_expect_reply(&c, &r);
	cr_assert_eq(r.status, status, "want %d for '%.40s': %s", status, req, r.head);
	if (close_after) {
		cr_assert(r.conn_close, "%d without Connection: close: %s", status, r.head);
		cr_assert_eq(wait_closed(c.fd, 2000), 0, "connection left open after %d", status);
	} else {
		hc_get(&c, "/health", &r);
		cr_assert_eq(r.status, 200, "connection unusable after %d", status);
	}
	hc_close(&c);
}

#define EXPECT_STATUS(srv, text, status, close_after)                                              \
	expect_status(srv, text, sizeof(text) - 1, status, close_after)

Test(http_integration, error_statuses, .timeout = 30)
{
	struct tracker t;
	static char big[40000];
	size_t n;

	tracker_start(&t, (const char *[]){"--workers", "1", NULL});
	EXPECT_STATUS(&t.http4, "GET /nope HTTP/1.1\r\n\r\n", 404, false);
	EXPECT_STATUS(&t.http6, "GET /announce/ HTTP/1.1\r\n\r\n", 404, false);
	EXPECT_STATUS(&t.http4, "POST /announce HTTP/1.1\r\nContent-Length: 0\r\n\r\n", 405, false);
	EXPECT_STATUS(&t.http4, "POST /announce HTTP/1.1\r\n\r\n", 405, false);
	EXPECT_STATUS(&t.http4, "GARBAGE\r\n\r\n", 400, true);
	EXPECT_STATUS(&t.http4, "GET nope HTTP/1.1\r\n\r\n", 400, true);
	EXPECT_STATUS(&t.http4, "GET /health HTTP/1.1\r\nBad Header\r\n\r\n", 400, true);
	EXPECT_STATUS(&t.http4, "GET /health HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc", 400, true);
	EXPECT_STATUS(&t.http4, "GET /health HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", 400,
		      true);
	EXPECT_STATUS(&t.http4, "GET /health HTTP/2.0\r\n\r\n", 505, true);
	EXPECT_STATUS(&t.http6, "GET /health HTTP/1.2\r\n\r\n", 505, true);
	EXPECT_STATUS(&t.http4, "GET /health HTTP/0.9\r\n\r\n", 505, true);

	/* A request line over the default max_request_line (8 KiB): 414. */
	n = (size_t)sprintf(big, "GET /announce?%09000d HTTP/1.1\r\n\r\n", 0);
	expect_status(&t.http4, big, n, 414, true);
	/* A head over the default max_header (16 KiB), sent whole up to the
	 * byte that crosses the limit (so the server has read it all): 431. */
	n = (size_t)sprintf(big, "GET /health HTTP/1.1\r\n");
	for (int i = 0; n < 16 * 1024 + 1; i++)
		n += (size_t)sprintf(big + n, "X-Pad-%d: %0100d\r\n", i, 0);
	expect_status(&t.http4, big, 16 * 1024 + 1, 431, true);
	tracker_stop(&t);
	cr_assert_eq(log_counter(&t, "http_not_found"), 2);
	cr_assert_eq(log_counter(&t, "http_bad_method"), 2);
	cr_assert_eq(log_counter(&t, "http_bad_request"), 5);
	cr_assert_eq(log_counter(&t, "http_bad_version"), 3);
	cr_assert_eq(log_counter(&t, "http_too_large"), 2);
}

/* After an error the server closes a connection that still has unread
 * request bytes (a 40 KiB head, of which it reads 16 KiB + 1). Closing with
 * unread input makes the kernel send a reset, which could destroy the reply
 * in flight (RFC 9112 section 9.6 suggests a lingering close); on loopback
 * the 431 must still be readable every time. */
Test(http_integration, large_head_431_readable_despite_unread_input, .timeout = 30)
{
	struct tracker t;
	static struct hconn c;
	static struct hreply r;
	static char big[40000];
	size_t n = (size_t)sprintf(big, "GET /health HTTP/1.1\r\n");
	int ok = 0, tries = 10;

	tracker_start(&t, (const char *[]){"--workers", "1", NULL});
	while (n < sizeof(big) - 200)
		n += (size_t)sprintf(big + n, "X-Pad: %0100d\r\n", 0);
	for (int i = 0; i < tries; i++) {
		hc_open(&c, &t.http4);
		send_all(c.fd, big, n); /* may fail with a reset: the server closed */
		int rc = hc_read_reply(&c, &r, IO_TIMEOUT_MS);
		if (rc == 0 && r.status == 431)
			ok++;
		hc_close(&c);
	}
	tracker_stop(&t);
	cr_assert_eq(ok, tries, "the 431 reply reached the client %d times of %d", ok, tries);
}

/* Regression: a HEAD request is refused with 405, and that reply carries no
 * body; a response to HEAD must not (RFC 9110 section 9.3.2, RFC 9112 section 6.3),
 * or a keep-alive client reads the body as the start of the next reply. */
Test(http_integration, head_reply_has_no_body, .timeout = 30)
{
	struct tracker t;
	static struct hconn c;
	static struct hreply r;
	const char req[] = "HEAD /health HTTP/1.1\r\n\r\nGET /health HTTP/1.1\r\n\r\n";

	tracker_start(&t, (const char *[]){"--workers", "1", NULL});
	hc_open(&c, &t.http4);
	hc_send(&c, req, sizeof(req) - 1);
	hc_expect_reply(&c, &r); /* framed with Content-Length: may include a body */
	cr_assert_eq(r.status, 405, "%s", r.head);
	cr_assert_eq(r.body_len, 0, "a HEAD response carries %zu body bytes ('%s')",
		     r.body_len, r.body);
	hc_expect_reply(&c, &r);
	cr_assert_eq(r.status, 200);
	hc_close(&c);
	tracker_stop(&t);
}

/* Regression (RFC 9110 section 15.5.6): "The origin server MUST generate an
 * Allow header field in a 405 response". */
Test(http_integration, reply_405_has_allow_header, .timeout = 30)
{
	struct tracker t;
	static struct hconn c;
	static struct hreply r;
	const char req[] = "POST /announce HTTP/1.1\r\nContent-Length: 0\r\n\r\n";

	tracker_start(&t, (const char *[]){"--workers", "1", NULL});
	hc_open(&c, &t.http4);
	hc_send(&c, req, sizeof(req) - 1);
	hc_expect_reply(&c, &r);
	hc_close(&c);
	tracker_stop(&t);
	cr_assert_eq(r.status, 405);
	cr_assert(strcasestr(r.head, "\r\nAllow: GET"), "405 without Allow:\n%s",
		  r.head);
}

/* VmRSS of a process, KiB. */
static long rss_kib(pid_t pid)
{
	char path[64], line[256];
	long kib = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "r");
	cr_assert(f, "%s", path);
	while (kib < 0 && fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %ld", &kib) != 1)
			kib = -1;
	fclose(f);
	return kib;
}

/* Regression: back-pressure on replies. A client that pipelines requests
 * and reads none of the replies (24 MiB of health requests) must not grow
 * the server's memory: the server stops reading while unsent replies exceed
 * a bound, so the client's send blocks in the kernel, and the server stays
 * responsive. */
Test(http_integration, unread_replies_do_not_grow_server_memory, .timeout = 30)
{
	enum { REQ_LEN = 24, CHUNK = 4096 * REQ_LEN, BLAST = 24 << 20 };
	static const char one[] = "GET /health HTTP/1.1\r\n\r\n";
	static char chunk[CHUNK];
	static struct hconn c;
	static struct hreply r;
	struct tracker t;
	size_t sent = 0;

	static_assert(sizeof(one) - 1 == REQ_LEN, "request length");
	for (size_t i = 0; i < CHUNK; i += REQ_LEN)
		memcpy(chunk + i, one, REQ_LEN);
	tracker_start(&t, (const char *[]){"--workers", "1", NULL});
	long before = rss_kib(t.pid);
	int fd = tcp_connect(&t.http4);
	double t0 = now_s();
	/* Never reads. Sends from where the last partial send stopped, so the
	 * requests stay whole. */
	while (sent < BLAST && now_s() - t0 < 4) {
		size_t off = sent % CHUNK;
		ssize_t n = send(fd, chunk + off, CHUNK - off, MSG_NOSIGNAL);
		if (n > 0) {
			sent += (size_t)n;
		} else if (n < 0 && errno != EAGAIN && errno != EINTR) {
			break;
		} else {
			struct pollfd pf = {.fd = fd, .events = POLLOUT};
			poll(&pf, 1, 100);
		}
	}
	usleep(500 * 1000);
	long grown = rss_kib(t.pid) - before;

	/* The same worker must still answer others promptly. */
	hc_open(&c, &t.http4);
	hc_send(&c, one, REQ_LEN);
	int rc = hc_read_reply(&c, &r, 1000);
	hc_close(&c);
	cr_assert_eq(rc, 0,
		     "worker unresponsive (%s) after a client sent %zu MiB "
		     "of requests without reading; server RSS +%ld MiB",
		     strerror(-rc), sent >> 20, grown >> 10);
	cr_assert_lt(grown, 32 * 1024,
		     "server RSS grew by %ld MiB while one client sent %zu MiB of "
		     "pipelined requests without reading a reply",
		     grown >> 10, sent >> 20);
	close_with_reset(fd);
	tracker_stop(&t);
}

/* Bare LF line ends are accepted, as the parser documents. */
Test(http_integration, bare_lf_line_ends, .timeout = 30)
{
	struct tracker t;

	tracker_start(&t, (const char *[]){"--workers", "1", NULL});
	EXPECT_STATUS(&t.http4, "GET /health HTTP/1.1\nHost: x\n\n", 200, false);
	tracker_stop(&t);
}

/* ------------------------------------------ 7: keep-alive, pipelining */

/* Appends a GET request for target to buf at *len. */
static void append_get(char *buf, size_t cap, size_t *len, const char *target)
{
	int n =
	    snprintf(buf + *len, cap - *len, "GET %s HTTP/1.1\r\nHost: tracker\r\n\r\n", target);

	cr_assert(n > 0 && (size_t)n < cap - *len);
	*len += (size_t)n;
}

/* Reads the three replies of a pipelined announce, scrape and health of
 * hash, in order. */
static void expect_triple(struct hconn *c, const struct info_hash *ih, unsigned leechers)
{
	static struct hreply r;

	hc_expect_reply(c, &r);
	expect_bdict(&r);
	cr_assert_eq(bget_int(r.body, r.body + r.body_len, "incomplete"), leechers,
		     "1st reply is not the announce: %s", r.body);
	hc_expect_reply(c, &r);
	expect_bdict(&r);
	const uint8_t *end = r.body + r.body_len;
	const uint8_t *f = bget_raw(bget(r.body, end, "files"), end, ih->b, INFO_HASH_LEN);
	cr_assert(f, "2nd reply is not the scrape: %s", r.body);
	cr_assert_eq(bget_int(f, end, "incomplete"), leechers, "scrape ran before the announce");
	hc_expect_reply(c, &r);
	cr_assert_eq(r.status, 200);
	cr_assert_str_eq((char *)r.body, "ok\n", "3rd reply is not the health check");
}

Test(http_integration, pipelined_requests_in_order, .timeout = 30)
{
	/* 16 hashes: all of them owned by the accepting worker (no handoff to
	 * assert on) has a chance of 2^-16 with the random shard key; with 8
	 * it was 1 in 256, and it happened. */
	enum { ROUNDS = 16 };
	struct tracker t;
	static struct hconn c;
	static char buf[32768];
	char target[512];
	size_t len;

	tracker_start(&t, (const char *[]){"--workers", "2", NULL});
	hc_open(&c, &t.http4);
	/* One triple per send(); hashes on both shards, so that some
	 * announces wait for the other worker while the rest queue up. */
	for (unsigned k = 0; k < ROUNDS; k++) {
		struct info_hash ih = hash_of(5000 + k);
		len = 0;
		announce_target(target, sizeof(target),
				&(struct ann){.ih = ih, .port = 6000, .left = 1});
		append_get(buf, sizeof(buf), &len, target);
		scrape_target(target, sizeof(target), &ih, 1);
		append_get(buf, sizeof(buf), &len, target);
		append_get(buf, sizeof(buf), &len, "/health");
		cr_assert_eq(send(c.fd, buf, len, MSG_NOSIGNAL), (ssize_t)len);
		expect_triple(&c, &ih, 1);
	}
	/* All rounds again in one send(): 48 requests. */
	len = 0;
	for (unsigned k = 0; k < ROUNDS; k++) {
		struct info_hash ih = hash_of(5000 + k);
		announce_target(target, sizeof(target),
				&(struct ann){.ih = ih, .port = 6001, .left = 1});
		append_get(buf, sizeof(buf), &len, target);
		scrape_target(target, sizeof(target), &ih, 1);
		append_get(buf, sizeof(buf), &len, target);
		append_get(buf, sizeof(buf), &len, "/health");
	}
	cr_assert_lt(len, 16 * 1024, "must fit the server's read buffer");
	cr_assert_eq(send(c.fd, buf, len, MSG_NOSIGNAL), (ssize_t)len);
	for (unsigned k = 0; k < ROUNDS; k++) {
		struct info_hash ih = hash_of(5000 + k);
		expect_triple(&c, &ih, 2);
	}
	hc_close(&c);
	tracker_stop(&t);
	cr_assert_gt(log_counter(&t, "handoff_sent"), 0);
	cr_assert_eq(log_counter(&t, "http_accepted"), 1);
}

Test(http_integration, connection_header_and_http10, .timeout = 30)
{
	struct tracker t;
	static struct hconn c;
	static struct hreply r;
	const char ka10[] = "GET /health HTTP/1.0\r\nConnection: keep-alive\r\n\r\n";

	tracker_start(&t, (const char *[]){"--workers", "1", NULL});
	/* HTTP/1.0 without keep-alive: closed after the reply. */
	EXPECT_STATUS(&t.http4, "GET /health HTTP/1.0\r\n\r\n", 200, true);
	/* HTTP/1.1 with Connection: close: the same. */
	EXPECT_STATUS(&t.http6, "GET /health HTTP/1.1\r\nConnection: close\r\n\r\n", 200, true);

	/* HTTP/1.0 with keep-alive stays open for more requests. */
	hc_open(&c, &t.http4);
	for (int i = 0; i < 3; i++) {
		hc_send(&c, ka10, sizeof(ka10) - 1);
		hc_expect_reply(&c, &r);
		cr_assert_eq(r.status, 200);
		cr_assert(r.conn_keep, "reply %d: %s", i, r.head);
	}
	cr_assert_eq(wait_closed(c.fd, 300), -ETIMEDOUT, "a keep-alive connection was closed");
	hc_close(&c);

	/* A pipelined request after "Connection: close" is not answered. */
	const char two[] = "GET /health HTTP/1.1\r\nConnection: close\r\n\r\n"
			   "GET /health HTTP/1.1\r\n\r\n";
	hc_open(&c, &t.http4);
	hc_send(&c, two, sizeof(two) - 1);
	hc_expect_reply(&c, &r);
	cr_assert(r.conn_close);
	int rc = hc_read_reply(&c, &r, 2000);
	cr_assert(rc == -EPIPE || rc == -ECONNRESET, "answered past Connection: close (%d)", rc);
	hc_close(&c);

	/* A client that half-closes after its request still gets the reply. */
	hc_open(&c, &t.http4);
	hc_send(&c, "GET /health HTTP/1.1\r\n\r\n", 24);
	shutdown(c.fd, SHUT_WR);
	hc_expect_reply(&c, &r);
	cr_assert_eq(r.status, 200);
	hc_close(&c);
	tracker_stop(&t);
}

/* --------------------------------------------------- 8: robustness */

struct slow_client {
	struct netaddr srv;
	int status; /* of the reply; 0 when none */
	int err;    /* -errno of the first failure */
	double seconds;
};

/* Sends a health request one byte per 100 ms, then reads the reply. Runs on
 * its own thread: records its outcome, never asserts. */
static void *slow_client_run(void *arg)
{
	struct slow_client *s = arg;
	static struct hconn c;
	static struct hreply r;
	const char req[] = "GET /health HTTP/1.1\r\nHost: x\r\n\r\n";
	double t0 = now_s();

	c.fd = tcp_connect_raw(&s->srv);
	c.len = 0;
	if (c.fd < 0) {
		s->err = c.fd;
		return NULL;
	}
	for (size_t i = 0; i < sizeof(req) - 1 && !s->err; i++) {
		s->err = send_all(c.fd, req + i, 1);
		usleep(100 * 1000);
	}
	if (!s->err)
		s->err = hc_read_reply(&c, &r, IO_TIMEOUT_MS);
	if (!s->err)
		s->status = r.status;
	s->seconds = now_s() - t0;
	close(c.fd);
	return NULL;
}

/* One malformed request of kind k on fd; returns the status expected in
 * reply, 0 when the client just closes, -1 when the server must close. */
static int send_junk(int fd, unsigned k, const char *announce, char *buf, size_t cap)
{
	size_t len = 0;
	int expect = 0;

	switch (k) {
	case 0: /* random bytes */
		len = 1 + (size_t)rand() % 512;
		for (size_t i = 0; i < len; i++)
			buf[i] = (char)rand();
		expect = -1;
		break;
	case 1: /* a valid head cut short */
		len = (size_t)snprintf(buf, cap, "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", announce);
		len = (size_t)rand() % len;
		break;
	case 2: /* request line too long */
		len = (size_t)snprintf(buf, cap, "GET /announce?x=%09000d HTTP/1.1\r\n\r\n", 0);
		expect = 414;
		break;
	case 3: /* head too long, no blank line */
		len = (size_t)snprintf(buf, cap, "GET /health HTTP/1.1\r\n");
		while (len < 16 * 1024 + 1)
			len += (size_t)snprintf(buf + len, cap - len, "X-A: %080d\r\n", 0);
		len = 16 * 1024 + 1;
		expect = 431;
		break;
	case 4: { /* bad %-escapes */
		static const char *const bad[] = {"%zz", "%4", "%", "%%%", "%0g"};
		len =
		    (size_t)snprintf(buf, cap, "GET /announce?info_hash=%s&port=1 HTTP/1.1\r\n\r\n",
				     bad[rand() % 5]);
		expect = 200;
		break;
	}
	case 5: /* control bytes in the request line */
		len = (size_t)snprintf(buf, cap, "GET /he%clth HTTP/1.1\r\n\r\n", 1 + rand() % 31);
		expect = 400;
		break;
	case 6: /* a NUL inside a header */
		memcpy(buf, "GET /health HTTP/1.1\r\nX-A: a\0b\r\n\r\n", 35);
		len = 35;
		expect = 400;
		break;
	default: /* a valid head cut short, then a reset */
		len = (size_t)snprintf(buf, cap, "GET %s HTTP/1.1\r\n\r\n", announce);
		len = (size_t)rand() % len;
		break;
	}
	send_all(fd, buf, len);
	return expect;
}

Test(http_integration, survives_malformed_requests_and_slow_client, .timeout = 60)
{
	enum { TOTAL = 1000, BATCH = 50 };
	struct tracker t;
	static struct hconn c;
	static struct hreply r;
	static char buf[20000], target[512];
	struct slow_client slow = {0};
	pthread_t thread;
	int fds[BATCH], expect[BATCH];
	unsigned kinds[BATCH];
	unsigned got[8] = {0};

	tracker_start(&t, (const char *[]){"--workers", "2", NULL});
	slow.srv = t.http6;
	cr_assert_eq(pthread_create(&thread, NULL, slow_client_run, &slow), 0);
	announce_target(target, sizeof(target), &(struct ann){.ih = hash_of(6000), .port = 7});
	srand(4242);
	/* Batches of concurrent connections, each sent one malformed request. */
	for (int done = 0; done < TOTAL; done += BATCH) {
		for (int i = 0; i < BATCH; i++) {
			kinds[i] = (unsigned)(done + i) % 8;
			fds[i] = tcp_connect(i % 2 ? &t.http6 : &t.http4);
			expect[i] = send_junk(fds[i], kinds[i], target, buf, sizeof(buf));
		}
		for (int i = 0; i < BATCH; i++) {
			if (kinds[i] == 7) {
				close_with_reset(fds[i]);
				continue;
			}
			if (expect[i] == 0) {
				close(fds[i]);
				continue;
			}
			if (expect[i] < 0) {
				/* Answered 400, or an incomplete prefix: our
				 * half-close ends it either way. */
				shutdown(fds[i], SHUT_WR);
				int rc = wait_closed(fds[i], 2000);
				cr_assert(rc == 0 || rc == -ECONNRESET, "junk %d: not closed (%s)",
					  done + i, strerror(-rc));
				close(fds[i]);
				continue;
			}
			c.fd = fds[i];
			c.len = 0;
			int rc = hc_read_reply(&c, &r, IO_TIMEOUT_MS);
			cr_assert_eq(rc, 0, "junk %d (kind %u): %s", done + i, kinds[i],
				     strerror(-rc));
			cr_assert_eq(r.status, expect[i], "junk %d (kind %u): %s", done + i,
				     kinds[i], r.head);
			if (expect[i] == 200)
				cr_assert(strstr((char *)r.body, "failure reason"), "%s", r.body);
			got[kinds[i]]++;
			hc_close(&c);
		}
	}
	pthread_join(thread, NULL);
	cr_assert_eq(slow.err, 0, "slow client: %s", strerror(-slow.err));
	cr_assert_eq(slow.status, 200, "slow client");
	cr_assert_gt(slow.seconds, 3.0, "the slow client was not slow");

	/* A valid announce on a new connection still works. */
	hc_open(&c, &t.http4);
	announce(&c, &(struct ann){.ih = hash_of(6001), .port = 9, .left = 0}, &r);
	cr_assert_eq(bget_int(r.body, r.body + r.body_len, "complete"), 1);
	hc_close(&c);
	tracker_stop(&t);
	/* Each connection is either accepted or an accept error (one reset
	 * before its accept completes may fail it), never both or neither. */
	cr_assert_eq(log_counter(&t, "http_accepted") + log_counter(&t, "http_accept_errors"),
		     TOTAL + 2, "accepted %llu, accept errors %llu",
		     log_counter(&t, "http_accepted"), log_counter(&t, "http_accept_errors"));
	cr_assert_geq(log_counter(&t, "http_bad_request"), got[5] + got[6]);
	cr_assert_eq(log_counter(&t, "http_too_large"), got[2] + got[3]);
	cr_assert_eq(got[2] + got[3] + got[4] + got[5] + got[6], 5 * TOTAL / 8);
}

/* Clients that vanish while their announce waits for another worker: the
 * owner's late answers find the connection gone and are counted. */
Test(http_integration, clients_vanishing_mid_request, .timeout = 30)
{
	struct tracker t;
	static struct hconn c;
	static struct hreply r;
	static char buf[32768];
	char target[512];

	tracker_start(&t, (const char *[]){"--workers", "2", NULL});
	for (int i = 0; i < 200; i++) {
		size_t len = 0;
		int fd = tcp_connect(i % 2 ? &t.http6 : &t.http4);
		for (unsigned k = 0; k < 16; k++) {
			announce_target(target, sizeof(target),
					&(struct ann){.ih = hash_of(7000 + k),
						      .port = (uint16_t)(1000 + i),
						      .left = 1});
			append_get(buf, sizeof(buf), &len, target);
		}
		send_all(fd, buf, len);
		if (i % 2)
			close_with_reset(fd);
		else
			close(fd);
	}
	hc_open(&c, &t.http4);
	announce(&c, &(struct ann){.ih = hash_of(7000), .port = 9, .left = 1}, &r);
	hc_close(&c);
	tracker_stop(&t);
}

/* ------------------------------------------ 9: timeouts and limits */

Test(http_integration, idle_timeout_closes_keepalive, .timeout = 30)
{
	struct tracker t;
	static struct hconn a, b, busy;
	static struct hreply r;

	start_with_config(&t, "[http]\nidle_timeout = 1\n", "2");
	hc_open(&a, &t.http4);
	hc_open(&b, &t.http6); /* never sends a byte */
	hc_open(&busy, &t.http4);
	hc_get(&a, "/health", &r);
	cr_assert(r.conn_keep);
	double t0 = now_s();
	/* busy keeps talking every 400 ms and must stay open meanwhile. */
	for (int i = 0; i < 8; i++) {
		usleep(400 * 1000);
		hc_get(&busy, "/health", &r);
		cr_assert_eq(r.status, 200, "an active connection was closed");
	}
	int rc_a = wait_closed(a.fd, 500);
	double elapsed = now_s() - t0;
	cr_assert_eq(rc_a, 0, "idle keep-alive connection still open after %.1f s", elapsed);
	cr_assert_eq(wait_closed(b.fd, 500), 0, "silent connection still open");

	/* How soon: a fresh idle connection is closed after 1 to ~3 s. */
	hc_get(&busy, "/health", &r);
	t0 = now_s();
	int rc = wait_closed(busy.fd, 5000);
	elapsed = now_s() - t0;
	cr_assert_eq(rc, 0, "idle connection not closed within 5 s");
	cr_assert(elapsed > 0.9 && elapsed < 3.5, "closed after %.2f s", elapsed);
	hc_close(&a);
	hc_close(&b);
	hc_close(&busy);
	tracker_stop(&t);
	cr_assert_eq(log_counter(&t, "http_timeouts"), 3);
}

Test(http_integration, request_timeout_closes_slow_heads, .timeout = 30)
{
	struct tracker t;
	static struct hconn partial, trickle, quiet;
	static struct hreply r;
	const char head[] = "GET /health HTTP/1.1\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";

	start_with_config(&t, "[http]\nrequest_timeout = 1\nidle_timeout = 30\n", "1");
	hc_open(&partial, &t.http4);
	hc_open(&trickle, &t.http6);
	hc_open(&quiet, &t.http4);
	hc_get(&quiet, "/health", &r);
	double t0 = now_s();
	hc_send(&partial, "GET /hea", 8);
	/* One byte per 150 ms: active, yet the head never ends. */
	bool closed = false;
	for (size_t i = 0; i < sizeof(head) - 1 && !closed && now_s() - t0 < 5; i++) {
		int rc = send_all(trickle.fd, head + i, 1);
		if (rc == 0)
			rc = wait_closed(trickle.fd, 150);
		closed = rc != -ETIMEDOUT;
	}
	double trickle_s = now_s() - t0;
	cr_assert(closed, "a trickling head was never cut off");
	cr_assert_lt(trickle_s, 3.5, "trickling head cut after %.2f s", trickle_s);
	int rc = wait_closed(partial.fd, 1500);
	cr_assert_eq(rc, 0, "partial head not closed within %.1f s", now_s() - t0);

	/* A connection between requests is idle, not slow: it stays. */
	hc_get(&quiet, "/health", &r);
	cr_assert_eq(r.status, 200);
	hc_close(&partial);
	hc_close(&trickle);
	hc_close(&quiet);
	tracker_stop(&t);
	cr_assert_eq(log_counter(&t, "http_timeouts"), 2);
}

/* Tries GET /health on a new connection up to tries times, 100 ms apart;
 * true once one is answered 200. */
static bool health_served_within(const struct netaddr *a, int tries)
{
	static struct hconn c;
	static struct hreply r;
	static const char req[] = "GET /health HTTP/1.1\r\n\r\n";

	for (int i = 0; i < tries; i++) {
		if (i)
			usleep(100 * 1000);
		hc_open(&c, a);
		bool ok = send_all(c.fd, req, sizeof(req) - 1) == 0 && hc_read_reply(&c, &r, 500) == 0 &&
			  r.status == 200;
		hc_close(&c);
		if (ok)
			return true;
	}
	return false;
}

Test(http_integration, connection_limit_refuses_extra, .timeout = 30)
{
	struct tracker t;
	static struct hconn a, b, extra;
	static struct hreply r;

	start_with_config(&t, "[http]\nmax_connections = 2\n", "1");
	hc_open(&a, &t.http4);
	hc_open(&b, &t.http6);
	hc_get(&a, "/health", &r);
	hc_get(&b, "/health", &r);

	double t0 = now_s();
	extra.fd = tcp_connect(&t.http4);
	int rc = wait_closed(extra.fd, 2000);
	double refused_s = now_s() - t0;
	cr_assert(rc == 0 || rc == -ECONNRESET, "third connection not refused: %s", strerror(-rc));
	cr_assert_lt(refused_s, 1.0, "refused only after %.2f s", refused_s);
	hc_close(&extra);

	/* The first two still work. */
	hc_get(&a, "/health", &r);
	cr_assert_eq(r.status, 200);
	hc_get(&b, "/health", &r);
	cr_assert_eq(r.status, 200);

	/* A slot given back is usable again. */
	hc_close(&a);
	cr_assert(health_served_within(&t.http4, 20), "a freed slot never served again");
	hc_close(&b);
	tracker_stop(&t);
	cr_assert_geq(log_counter(&t, "http_refused"), 1);
}

/* A low soft descriptor limit inherited at start-up is raised to the hard
 * one, and said so. */
Test(http_integration, soft_descriptor_limit_is_raised, .timeout = 30)
{
	struct tracker t;
	struct rlimit old, low, got;

	cr_assert_eq(getrlimit(RLIMIT_NOFILE, &old), 0);
	if (old.rlim_max <= 256)
		cr_skip_test("hard descriptor limit %llu: nothing to raise",
			     (unsigned long long)old.rlim_max);
	low = old;
	low.rlim_cur = 256;
	cr_assert_eq(setrlimit(RLIMIT_NOFILE, &low), 0);
	tracker_start(&t, (const char *[]){"--workers", "1", "--metrics=", NULL});
	cr_assert_eq(setrlimit(RLIMIT_NOFILE, &old), 0);
	cr_assert_eq(prlimit(t.pid, RLIMIT_NOFILE, NULL, &got), 0);
	cr_assert_eq(got.rlim_cur, old.rlim_max);
	cr_assert(strstr(t.log, "descriptors: limit raised from 256"), "%s", t.log);
	tracker_stop(&t);
}

/* A hard descriptor limit short of the connection limit is warned about at
 * start-up (and the server still starts). */
Test(http_integration, short_descriptor_limit_is_warned, .timeout = 30)
{
	struct tracker t;
	struct rlimit rl;

	cr_assert_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
	if (rl.rlim_max == RLIM_INFINITY || rl.rlim_max > 1000000)
		cr_skip_test("hard descriptor limit %llu covers 1,000,000 connections",
			     (unsigned long long)rl.rlim_max);
	start_with_config(&t, "[http]\nmax_connections = 1000000\n", "1");
	cr_assert(strstr(t.log, "warn: descriptors: the limit"), "%s", t.log);
	cr_assert(strstr(t.log, "1000000 HTTP connections per worker need (1000064)"), "%s",
		  t.log);
	tracker_stop(&t);
}

/* Out of file descriptors: each accept fails at once (EMFILE), waiting
 * client or not. The listener pauses a second instead of re-arming in a
 * spin, UDP keeps answering, and HTTP serves again once descriptors are
 * free. The server's limit is lowered from here (prlimit). */
Test(http_integration, out_of_descriptors_pauses_accepts, .timeout = 30)
{
	struct tracker t;
	static struct hconn c[40];
	struct rlimit low;

	tracker_start(&t, (const char *[]){"--workers", "1", "--metrics=", NULL});
	/* After start-up, where it raises its own limit: ~10 are in use. */
	cr_assert_eq(prlimit(t.pid, RLIMIT_NOFILE, NULL, &low), 0);
	low.rlim_cur = 24;
	cr_assert_eq(prlimit(t.pid, RLIMIT_NOFILE, &low, NULL), 0, "%s", strerror(errno));

	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++)
		hc_open(&c[i], &t.http4); /* the kernel completes them; accepts fail */
	usleep(1500 * 1000);
	struct uclient u;
	uc_open(&u, &t.udp4);
	uc_connect(&u); /* the worker is not stuck */
	close(u.fd);
	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++)
		hc_close(&c[i]);

	cr_assert(health_served_within(&t.http4, 50),
		  "HTTP never served again after descriptors were freed");
	tracker_stop(&t);
	unsigned long long errors = log_counter(&t, "http_accept_errors");
	cr_assert_gt(errors, 0, "no accept ran out of descriptors");
	/* Two listeners (IPv4, IPv6) x 16 accepts, re-armed once a second at
	 * most while descriptors lack: a few hundred at most, where a spin
	 * would count tens of thousands. */
	cr_assert_lt(errors, 400, "%llu accept errors: the accepts spun", errors);
}

/* ------------------------------------------------------- 10: health */

Test(http_integration, health_ok, .timeout = 30)
{
	struct tracker t;
	static struct hconn c;
	static struct hreply r;

	tracker_start(&t, (const char *[]){"--workers", "2", NULL});
	for (int family = 0; family < 2; family++) {
		hc_open(&c, family ? &t.http6 : &t.http4);
		hc_get(&c, "/health", &r);
		cr_assert_eq(r.status, 200);
		cr_assert_str_eq((char *)r.body, "ok\n");
		cr_assert(strcasestr(r.head, "\r\nContent-Type: text/plain\r\n"), "%s", r.head);
		hc_get(&c, "/health?probe=1", &r);
		cr_assert_eq(r.status, 200, "a query string must not matter");
		hc_close(&c);
	}
	tracker_stop(&t);
	cr_assert_eq(log_counter(&t, "http_health"), 4);
}

/* GET target with one extra header line ("Name: value"). */
static void hc_get_with(struct hconn *c, const char *target, const char *header,
			struct hreply *r)
{
	static char req[20000];
	int n = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: tracker\r\n%s\r\n\r\n", target,
			 header);

	cr_assert(n > 0 && (size_t)n < sizeof(req));
	hc_send(c, req, (size_t)n);
	hc_expect_reply(c, r);
}

/* Behind a reverse proxy: only a trusted proxy's forwarding header sets the
 * peer address (its last entry); from anyone else the header is ignored. */
Test(http_integration, forwarded_address_only_from_trusted_proxies, .timeout = 30)
{
	struct tracker t;
	static struct hconn c;
	static struct hreply r;
	char target[512];
	const uint8_t *ip;
	struct ann a = { .ih = hash_of(9100), .port = 7001, .left = 5 };

	start_with_config(&t, "[http]\ntrusted_proxies = 127.0.0.0/8\n", "2");
	hc_open(&c, &t.http4);
	announce_target(target, sizeof(target), &a);
	hc_get_with(&c, target, "X-Forwarded-For: 198.51.100.7, 203.0.113.9", &r);
	expect_bdict(&r);
	size_t n = bget_str(r.body, r.body + r.body_len, "external ip", &ip);
	cr_assert_eq(n, 4);
	cr_assert(ip[0] == 203 && ip[1] == 0 && ip[2] == 113 && ip[3] == 9,
		  "the last forwarded entry is the client");

	/* Another client sees the forwarded address as the peer. */
	struct ann b = { .ih = a.ih, .port = 7002, .left = 5 };
	announce(&c, &b, &r);
	const uint8_t *peers;
	size_t plen = bget_str(r.body, r.body + r.body_len, "peers", &peers);
	struct netaddr fwd = { .family = AF_INET, .ip = { 203, 0, 113, 9 } };
	cr_assert(compact_has(peers, plen, &fwd, 7001), "forwarded peer missing");

	/* A forwarded IPv6 client over an IPv4 proxy connection. */
	a.port = 7003;
	announce_target(target, sizeof(target), &a);
	hc_get_with(&c, target, "X-Forwarded-For: 2001:db8::5", &r);
	cr_assert_eq(bget_str(r.body, r.body + r.body_len, "external ip", &ip), 16);

	/* Unreadable forwarded address: 400. */
	hc_get_with(&c, target, "X-Forwarded-For: not-an-address", &r);
	cr_assert_eq(r.status, 400);
	hc_close(&c);
	tracker_stop(&t);

	/* Untrusted: the header is ignored, the socket address counts. */
	start_with_config(&t, "[http]\ntrusted_proxies =\n", "1");
	hc_open(&c, &t.http4);
	a.port = 7004;
	announce_target(target, sizeof(target), &a);
	hc_get_with(&c, target, "X-Forwarded-For: 203.0.113.9", &r);
	cr_assert_eq(bget_str(r.body, r.body + r.body_len, "external ip", &ip), 4);
	cr_assert(ip[0] == 127 && ip[3] == 1, "an untrusted client set its own address");
	hc_close(&c);
	tracker_stop(&t);
}

/* Full scrape: off by default; when on, every torrent of every shard in one
 * close-delimited reply, and a second one within the interval is refused. */
Test(http_integration, full_scrape_streams_every_shard, .timeout = 30)
{
	struct tracker t;
	static struct hconn c;
	static struct hreply r;
	enum { N = 40 };

	start_with_config(&t, "[http]\nfull_scrape = 1\nfull_scrape_interval = 3600\n", "1");
	hc_open(&c, &t.http4);
	for (unsigned i = 0; i < N; i++) {
		struct ann a = { .ih = hash_of(9200 + i), .port = (uint16_t)(8000 + i), .left = i % 2 };
		announce(&c, &a, &r);
	}
	hc_get(&c, "/scrape", &r);
	cr_assert_eq(r.status, 200);
	cr_assert(r.conn_close, "a streamed full scrape ends with the connection");
	const uint8_t *end = r.body + r.body_len;
	const uint8_t *files = bget(r.body, end, "files");
	cr_assert_not_null(files, "%s", r.body);
	cr_assert_eq(bdict_len(files, end), N);
	for (unsigned i = 0; i < N; i++) {
		struct info_hash ih = hash_of(9200 + i);
		const uint8_t *f = bget_raw(files, end, ih.b, sizeof(ih.b));
		cr_assert_not_null(f, "torrent %u missing", i);
		cr_assert_eq(bget_int(f, end, "complete"), i % 2 ? 0 : 1);
	}
	hc_close(&c);
	hc_open(&c, &t.http4);
	hc_get(&c, "/scrape", &r);
	cr_assert(strstr((const char *)r.body, "rate limited"), "%s", r.body);
	hc_close(&c);
	tracker_stop(&t);
}

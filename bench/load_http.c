/* load_http.c - ringtracker-load's HTTP mode: BEP 3 announces (and BEP 48
 * scrapes, every --ratio announces) over TCP, one io_uring per load thread.
 *
 * What it does: --connections connections per thread, each with one request
 * in flight (no pipelining). Keep-alive by default; with --http-close every
 * request gets a fresh connection (Connection: close) and the connection is
 * closed once the response is read. Sockets are made and closed through the
 * ring; TCP_NODELAY is set only before a request longer than NODELAY_ABOVE.
 * A request's send and the response's recv are queued together; a response
 * is complete when its Content-Length is in.
 * Checks: status 200 and a bencoded body holding "8:intervali" (announce) or
 * "5:files" (scrape); "14:failure reason" counts as an error reply; anything
 * else is malformed. A request without a complete response after
 * --timeout-ms is lost and its connection is shut down and reopened; a
 * connection the server closes, refuses or resets counts as a connection
 * error.
 * What it doesn't: no chunked responses (the tracker always sends
 * Content-Length), no TLS, no redirects.
 * Threads: set-up and free on the main thread; the loop on its load thread.
 * Memory: the engine owns its connection table (request and response
 * buffers per connection, ~22 KiB each) and peer states.
 * Spec: BEP 3 (announce), BEP 23 (compact=1), BEP 48 (scrape), RFC 9112.
 */
#include <errno.h>
#include <liburing.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "load.h"
#include "ringutil.h"
#include "udp.h"

#define REQ_CAP 6144   /* a 74-hash scrape is ~4.8 KB */
#define RESP_CAP 16384 /* 200 peers or a 74-hash scrape, with headers */
#define WAIT_NS 10000000
#define HOUSEKEEPING_NS 10000000ULL
#define MAX_CONNECTIONS 16384
/* Requests longer than this get TCP_NODELAY first: one that spans several
 * segments would have its tail held by Nagle until the rest is acked. A
 * shorter one leaves at once without it (each request is sent after the
 * previous response, which acked everything before it). */
#define NODELAY_ABOVE 1024

enum conn_state { CONN_CLOSED, CONN_CONNECTING, CONN_OPEN };
enum op { OP_CONNECT = 1, OP_SEND = 2, OP_RECV = 3, OP_SOCKET = 4 };
#define UD_MAKE(op, conn) (((uint64_t)(op) << 32) | (uint32_t)(conn))
#define UD_OP(ud) ((unsigned)((ud) >> 32))
#define UD_CONN(ud) ((uint32_t)(ud))

struct http_conn {
	int fd;
	uint8_t state;     /* enum conn_state */
	uint8_t ops;       /* operations in flight on fd */
	bool doomed;       /* close once ops == 0 */
	bool nodelay;      /* TCP_NODELAY is set on fd */
	bool request_open; /* a request awaits its response */
	uint8_t action;    /* UDP_ACTION_ANNOUNCE or UDP_ACTION_SCRAPE numbering */
	uint8_t phase;
	uint64_t started_at; /* ns: request sent, or connect begun */
	uint32_t req_len, req_sent;
	uint32_t rlen;
	char req[REQ_CAP];
	char resp[RESP_CAP];
};

struct http_engine {
	struct load_thread *t;
	const struct load_config *cfg;
	struct io_uring ring;
	bool ring_ready;
	struct http_conn *conns;
	uint32_t n_conns;
	struct load_peer *peers;
	struct load_rng rng;
	uint32_t since_scrape;
	uint64_t last_housekeeping;
	struct sockaddr_storage target;
	socklen_t target_len;
	char host[NETADDR_TEXT_MAX];
};

/* ------------------------------------------------------------ set-up */

static int fail(struct load_thread *t, int err, const char *what)
{
	t->err = err;
	snprintf(t->err_what, sizeof(t->err_what), "%s", what);
	return err;
}

int load_http_setup(struct load_thread *t)
{
	struct http_engine *e = calloc(1, sizeof(*e));

	if (!e)
		return fail(t, -ENOMEM, "engine");
	t->engine = e;
	e->t = t;
	e->cfg = t->cfg;
	e->n_conns = t->cfg->connections > MAX_CONNECTIONS ? MAX_CONNECTIONS : t->cfg->connections;
	e->conns = calloc(e->n_conns, sizeof(*e->conns));
	e->peers = calloc(t->n_peers ? t->n_peers : 1, sizeof(*e->peers));
	if (!e->conns || !e->peers)
		return fail(t, -ENOMEM, "connection and peer tables");
	for (uint32_t i = 0; i < e->n_conns; i++)
		e->conns[i].fd = -1;
	load_rng_seed(&e->rng, 0x177900u + t->index);
	for (uint64_t i = 0; i < t->n_peers; i++) {
		e->peers[i].torrent = load_model_sample(t->model, &e->rng);
		e->peers[i].seeder = (uint8_t)(load_rng_next(&e->rng) & 1);
	}
	e->target_len = netaddr_to_sockaddr(&t->cfg->target, &e->target);
	netaddr_format(&t->cfg->target, e->host, sizeof(e->host));
	return 0;
}

void load_http_free(struct load_thread *t)
{
	struct http_engine *e = t->engine;

	if (!e)
		return;
	if (e->conns)
		for (uint32_t i = 0; i < e->n_conns; i++)
			if (e->conns[i].fd >= 0)
				close(e->conns[i].fd);
	free(e->conns);
	free(e->peers);
	free(e);
	t->engine = NULL;
}

/* ---------------------------------------------------------- requests */

/* Appends "%XX" for each of n bytes. */
static size_t put_escaped(char *out, const uint8_t *b, size_t n)
{
	static const char hex[] = "0123456789ABCDEF";

	for (size_t i = 0; i < n; i++) {
		out[3 * i] = '%';
		out[3 * i + 1] = hex[b[i] >> 4];
		out[3 * i + 2] = hex[b[i] & 15];
	}
	return 3 * n;
}

static const char *const event_names[] = {"", "&event=completed", "&event=started",
					  "&event=stopped"};

/* Ends a request head: Host, maybe Connection: close, blank line. */
static int finish_head(struct http_engine *e, char *p, size_t cap)
{
	return snprintf(p, cap, " HTTP/1.1\r\nHost: %s\r\n%s\r\n", e->host,
			e->cfg->http_close ? "Connection: close\r\n" : "");
}

static uint32_t build_announce(struct http_engine *e, struct http_conn *c)
{
	uint64_t local = load_rng_below(&e->rng, (uint32_t)e->t->n_peers);
	uint64_t p = e->t->first_peer + local;
	struct load_peer *peer = &e->peers[local];
	struct peer_id id;
	char *o = c->req;
	size_t n = 0;

	uint32_t ev = load_peer_event(peer, &e->rng);
	load_peer_id(p, &id);
	n += (size_t)snprintf(o, REQ_CAP, "GET /announce?info_hash=");
	n += put_escaped(o + n, e->t->model->hashes[peer->torrent].b, INFO_HASH_LEN);
	n += (size_t)snprintf(o + n, REQ_CAP - n,
			      "&peer_id=%.20s&port=%u&uploaded=1048576&downloaded=%u&left=%u"
			      "&compact=1%s",
			      (const char *)id.b, load_peer_port(p, 1), peer->seeder ? 1u << 30 : 0,
			      peer->seeder ? 0 : 1u << 30, event_names[ev]);
	if (e->cfg->numwant >= 0) /* absent: the tracker's default */
		n += (size_t)snprintf(o + n, REQ_CAP - n, "&numwant=%d", e->cfg->numwant);
	n += (size_t)finish_head(e, o + n, REQ_CAP - n);
	return (uint32_t)n;
}

static uint32_t build_scrape(struct http_engine *e, struct http_conn *c)
{
	uint32_t k = 1 + load_rng_below(&e->rng, e->cfg->scrape_hashes);
	char *o = c->req;
	size_t n = (size_t)snprintf(o, REQ_CAP, "GET /scrape?");

	for (uint32_t i = 0; i < k; i++) {
		uint32_t tor = load_model_sample(e->t->model, &e->rng);
		n += (size_t)snprintf(o + n, REQ_CAP - n, "%sinfo_hash=", i ? "&" : "");
		n += put_escaped(o + n, e->t->model->hashes[tor].b, INFO_HASH_LEN);
	}
	n += (size_t)finish_head(e, o + n, REQ_CAP - n);
	return (uint32_t)n;
}

static bool scrape_turn(struct http_engine *e)
{
	if (e->cfg->scrape_hashes == 0)
		return false;
	if (e->since_scrape >= e->cfg->ratio) {
		e->since_scrape = 0;
		return true;
	}
	e->since_scrape++;
	return false;
}

/* ------------------------------------------------------------- SQEs */

static struct io_uring_sqe *get_sqe(struct http_engine *e)
{
	return ringutil_get_sqe(&e->ring);
}

static bool queue_op(struct http_engine *e, struct http_conn *c, enum op op)
{
	struct io_uring_sqe *sqe = get_sqe(e);
	uint32_t i = (uint32_t)(c - e->conns);

	if (!sqe)
		return false;
	switch (op) {
	case OP_SOCKET:
		io_uring_prep_socket(sqe, e->cfg->target.family,
				     SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, 0);
		break;
	case OP_CONNECT:
		io_uring_prep_connect(sqe, c->fd, (struct sockaddr *)&e->target, e->target_len);
		break;
	case OP_SEND:
		io_uring_prep_send(sqe, c->fd, c->req + c->req_sent, c->req_len - c->req_sent,
				   MSG_NOSIGNAL);
		break;
	case OP_RECV:
		io_uring_prep_recv(sqe, c->fd, c->resp + c->rlen, RESP_CAP - c->rlen, 0);
		break;
	}
	io_uring_sqe_set_data64(sqe, UD_MAKE(op, i));
	c->ops++;
	return true;
}

/* ----------------------------------------------------- connections */

static void conn_error(struct http_engine *e, struct http_conn *c)
{
	int phase = load_phase(e->t, load_now_ns());

	load_count(&e->t->stats[c->request_open ? c->phase
						 : (phase < 0 ? LOAD_PHASE_MEASURE : phase)],
		   LC_http_conn_errors, 1);
	c->request_open = false;
}

static void conn_open(struct http_engine *e, struct http_conn *c, uint64_t now)
{
	/* The socket comes from the ring (socket_done connects it): no system
	 * call of its own. */
	c->fd = -1;
	c->state = CONN_CONNECTING;
	c->doomed = false;
	c->nodelay = false;
	c->rlen = 0;
	c->started_at = now;
	if (!queue_op(e, c, OP_SOCKET)) {
		conn_error(e, c); /* housekeeping tries again */
		c->state = CONN_CLOSED;
	}
}

/* Closes fd through the ring; a failure's completion names no connection. */
static void close_fd(struct http_engine *e, int fd)
{
	ringutil_close(&e->ring, fd, UD_MAKE(0, UINT32_MAX));
}

/* Closes now if nothing is in flight; else shuts the socket down so that
 * the pending operations return, and closes then. */
static void conn_doom(struct http_engine *e, struct http_conn *c, uint64_t now)
{
	c->doomed = true;
	if (c->ops) {
		if (c->fd >= 0) /* else the socket is still being made */
			shutdown(c->fd, SHUT_RDWR);
		return;
	}
	if (c->fd >= 0)
		close_fd(e, c->fd);
	c->fd = -1;
	c->state = CONN_CLOSED;
	c->request_open = false;
	if (load_phase(e->t, now) >= 0)
		conn_open(e, c, now);
}

static void start_request(struct http_engine *e, struct http_conn *c, uint64_t now)
{
	int phase = load_phase(e->t, now);

	if (phase < 0)
		return;
	bool scrape = scrape_turn(e);
	c->action = scrape ? UDP_ACTION_SCRAPE : UDP_ACTION_ANNOUNCE;
	c->req_len = scrape ? build_scrape(e, c) : build_announce(e, c);
	if (c->req_len > NODELAY_ABOVE && !c->nodelay) {
		int one = 1;
		setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		c->nodelay = true;
	}
	c->req_sent = 0;
	c->rlen = 0;
	c->phase = (uint8_t)phase;
	c->started_at = now;
	c->request_open = true;
	load_count(&e->t->stats[phase], scrape ? LC_sent_scrape : LC_sent_announce, 1);
	/* The recv waits for the response while the send goes out. */
	if (!queue_op(e, c, OP_SEND) || !queue_op(e, c, OP_RECV)) {
		conn_error(e, c);
		conn_doom(e, c, now);
	}
}

/* ------------------------------------------------------- responses */

/* Content-Length of a response head (head_len bytes); -1 when absent. */
static long content_length(const char *h, size_t head_len)
{
	static const char name[] = "\r\ncontent-length:";
	size_t nl = sizeof(name) - 1;

	for (size_t i = 0; i + nl <= head_len; i++) {
		if (strncasecmp(h + i, name, nl) != 0)
			continue;
		char *end;
		long v = strtol(h + i + nl, &end, 10);
		return end == h + i + nl || v < 0 ? -1 : v;
	}
	return -1;
}

/* Response length when complete, 0 when more bytes are needed, -1 when it
 * cannot be a valid response. */
static long response_length(const char *b, size_t len, int *status)
{
	const char *end = memmem(b, len, "\r\n\r\n", 4);

	if (!end)
		return len >= RESP_CAP ? -1 : 0;
	size_t head = (size_t)(end - b) + 4;
	if (head < 12 || (memcmp(b, "HTTP/1.1 ", 9) && memcmp(b, "HTTP/1.0 ", 9)))
		return -1;
	*status = atoi(b + 9);
	long body = content_length(b, head);
	if (body < 0 || head + (size_t)body > RESP_CAP)
		return -1;
	return head + (size_t)body <= len ? (long)(head + (size_t)body) : 0;
}

/* Copies the text of "14:failure reason<n>:<text>" into the error note. */
static void note_failure(struct load_stats *st, const char *body, size_t len, const char *at)
{
	const char *p = at + 17, *end = body + len;
	char *colon;
	long n = strtol(p, &colon, 10);

	if (colon < end && *colon == ':' && n >= 0 && n <= end - colon - 1)
		load_stats_note_error(st, colon + 1, (size_t)n);
	else
		load_stats_note_error(st, "(unreadable failure reason)", 27);
}

/* Compact IPv4 peers of an announce body ("5:peers<n>:..."): true when
 * absent, or a whole number of 6-byte records no more than numwant. */
static bool peers_fit(struct http_engine *e, struct load_stats *st, const char *body, size_t len)
{
	const char *p = memmem(body, len, "5:peers", 7), *end = body + len;
	char *colon;

	if (!p || p + 7 >= end || p[7] < '0' || p[7] > '9')
		return true; /* absent, or the dictionary model: not checked */
	long n = strtol(p + 7, &colon, 10);
	if (colon >= end || *colon != ':' || n < 0 || n > end - colon - 1 || n % UDP_PEER4_LEN)
		return false;
	if (e->cfg->numwant >= 0 && n / UDP_PEER4_LEN > e->cfg->numwant)
		return false;
	load_count(st, LC_peers_returned, (uint64_t)n / UDP_PEER4_LEN);
	return true;
}

static void judge(struct http_engine *e, struct http_conn *c, const char *body, size_t len,
		  int status, uint64_t now)
{
	struct load_stats *st = &e->t->stats[c->phase];
	bool scrape = c->action == UDP_ACTION_SCRAPE;
	const char *ok_key = scrape ? "5:files" : "8:intervali";
	const char *failure = memmem(body, len, "14:failure reason", 17);

	if (status == 200 && failure) {
		load_count(st, LC_errors, 1);
		note_failure(st, body, len, failure);
	} else if (status == 200 && len > 0 && body[0] == 'd' &&
		   memmem(body, len, ok_key, strlen(ok_key)) && (scrape || peers_fit(e, st, body, len))) {
		load_count(st, c->action == UDP_ACTION_SCRAPE ? LC_ok_scrape : LC_ok_announce, 1);
		load_hist_add(&st->hist, now - c->started_at);
	} else {
		load_count(st, LC_malformed, 1);
		if (status != 200) {
			char msg[32];
			int n = snprintf(msg, sizeof(msg), "HTTP status %d", status);
			load_stats_note_error(st, msg, (size_t)n);
		}
	}
}

static void recv_done(struct http_engine *e, struct http_conn *c, int res, uint64_t now)
{
	int status = 0;

	if (res <= 0 || c->doomed) {
		if (c->request_open && !c->doomed)
			conn_error(e, c); /* closed or reset mid-request */
		conn_doom(e, c, now);
		return;
	}
	c->rlen += (uint32_t)res;
	long n = response_length(c->resp, c->rlen, &status);
	if (n == 0) {
		if (!queue_op(e, c, OP_RECV))
			conn_doom(e, c, now);
		return;
	}
	if (n < 0) {
		load_count(&e->t->stats[c->phase], LC_malformed, 1);
		c->request_open = false;
		conn_doom(e, c, now);
		return;
	}
	const char *body = memmem(c->resp, (size_t)n, "\r\n\r\n", 4) + 4;
	judge(e, c, body, (size_t)(c->resp + n - body), status, now);
	c->request_open = false;
	if (e->cfg->http_close)
		conn_doom(e, c, now);
	else if (c->ops == 0)
		start_request(e, c, now);
}

static void send_done(struct http_engine *e, struct http_conn *c, int res, uint64_t now)
{
	if (res < 0 || c->doomed) {
		if (res < 0 && !c->doomed) {
			if (c->request_open)
				load_count(&e->t->stats[c->phase], LC_send_errors, 1);
			conn_error(e, c);
		}
		conn_doom(e, c, now);
		return;
	}
	c->req_sent += (uint32_t)res;
	if (c->req_sent < c->req_len && !queue_op(e, c, OP_SEND))
		conn_doom(e, c, now);
	/* A response that completed before its send's CQE: next request now. */
	if (c->ops == 0 && !c->request_open && !e->cfg->http_close)
		start_request(e, c, now);
}

static void socket_done(struct http_engine *e, struct http_conn *c, int res, uint64_t now)
{
	if (res < 0 && !c->doomed) {
		conn_error(e, c);
		c->state = CONN_CLOSED; /* housekeeping tries again */
		return;
	}
	if (res >= 0)
		c->fd = res;
	if (c->doomed) {
		conn_doom(e, c, now);
		return;
	}
	if (!queue_op(e, c, OP_CONNECT)) {
		conn_error(e, c);
		conn_doom(e, c, now);
	}
}

static void connect_done(struct http_engine *e, struct http_conn *c, int res, uint64_t now)
{
	if (res < 0 || c->doomed) {
		if (!c->doomed)
			conn_error(e, c);
		conn_doom(e, c, now);
		return;
	}
	c->state = CONN_OPEN;
	int phase = load_phase(e->t, now);
	load_count(&e->t->stats[phase < 0 ? LOAD_PHASE_MEASURE : phase], LC_http_opened, 1);
	start_request(e, c, now);
}

static void drain(struct http_engine *e, uint64_t now)
{
	struct io_uring_cqe *cqe;
	unsigned head, n = 0;

	io_uring_for_each_cqe(&e->ring, head, cqe)
	{
		n++;
		uint32_t i = UD_CONN(cqe->user_data);
		if (i >= e->n_conns)
			continue;
		struct http_conn *c = &e->conns[i];
		c->ops--;
		switch (UD_OP(cqe->user_data)) {
		case OP_SOCKET: socket_done(e, c, cqe->res, now); break;
		case OP_CONNECT: connect_done(e, c, cqe->res, now); break;
		case OP_SEND: send_done(e, c, cqe->res, now); break;
		case OP_RECV: recv_done(e, c, cqe->res, now); break;
		default: break;
		}
	}
	io_uring_cq_advance(&e->ring, n);
}

/* ---------------------------------------------------- housekeeping */

/* Every 10 ms: requests and connects past the timeout are given up (their
 * connection is shut down and reopened); closed connections reopen. */
static uint32_t housekeeping(struct http_engine *e, uint64_t now)
{
	uint64_t timeout = (uint64_t)e->cfg->timeout_ms * 1000000ULL;
	uint32_t open_requests = 0;
	bool sending = load_phase(e->t, now) >= 0;

	for (uint32_t i = 0; i < e->n_conns; i++) {
		struct http_conn *c = &e->conns[i];
		if (c->state != CONN_CLOSED && !c->doomed && now - c->started_at >= timeout &&
		    (c->request_open || c->state == CONN_CONNECTING)) {
			if (c->request_open)
				load_count(&e->t->stats[c->phase], LC_lost, 1);
			else
				conn_error(e, c);
			c->request_open = false;
			conn_doom(e, c, now);
		}
		if (c->state == CONN_CLOSED && sending)
			conn_open(e, c, now);
		open_requests += c->request_open;
	}
	return open_requests;
}

static void loop(struct http_engine *e)
{
	struct load_thread *t = e->t;
	struct __kernel_timespec ts = {.tv_sec = 0, .tv_nsec = WAIT_NS};
	struct io_uring_cqe *cqe;
	uint64_t now = load_now_ns(), deadline = 0;

	for (uint32_t i = 0; i < e->n_conns; i++)
		conn_open(e, &e->conns[i], now);
	/* Bounded in time: a wait returns within WAIT_NS, requests stop at the
	 * end of the run, and the drain ends by its deadline. */
	for (;;) {
		if (!deadline && load_phase(t, now) < 0) {
			t->stopped_at = now;
			deadline = now + (uint64_t)e->cfg->timeout_ms * 1000000ULL + WAIT_NS;
		}
		if (now - e->last_housekeeping >= HOUSEKEEPING_NS || deadline) {
			e->last_housekeeping = now;
			uint32_t open = housekeeping(e, now);
			if (deadline && (open == 0 || now > deadline))
				break;
		}
		io_uring_submit_and_wait_timeout(&e->ring, &cqe, 1, &ts, NULL);
		now = load_now_ns();
		drain(e, now);
	}
}

void load_http_run(struct load_thread *t)
{
	struct http_engine *e = t->engine;
	struct io_uring_params p;
	uint32_t entries = 64;

	while (entries < 2 * e->n_conns + 64 && entries < 32768)
		entries <<= 1;
	memset(&p, 0, sizeof(p));
	p.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN |
		  IORING_SETUP_SUBMIT_ALL | IORING_SETUP_CQSIZE | IORING_SETUP_CLAMP;
	p.cq_entries = entries * 4;
	int r = io_uring_queue_init_params(entries, &e->ring, &p);
	if (r < 0) {
		fail(t, r, "io_uring_queue_init");
		t->stopped_at = load_now_ns();
		return;
	}
	loop(e);
	io_uring_submit(&e->ring); /* the closes the last turn queued */
	io_uring_queue_exit(&e->ring);
}

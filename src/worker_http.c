/* worker_http.c - the HTTP tracker inside a worker: connections accepted
 * on the worker's own SO_REUSEPORT listeners, requests parsed (http.c),
 * announces and scrapes answered from the swarm shards.
 *
 * What it does: HTTP_ACCEPT_DEPTH accepts armed per listener, each with
 * room for the client's address (a multishot accept returns none, and a
 * getpeername per connection is one more system call); one recv and one
 * send at a time per connection; closes go through the ring (shutdowns
 * do not: io_uring runs them on a worker thread); keep-alive and
 * pipelining (requests of a connection are answered in order, one at a
 * time); 400/404/405/414/431/505 for bad requests, then close; bencoded failure reasons for bad parameters; idle and
 * request-head timeouts and a per-worker connection limit checked once a
 * second. An announce for a torrent another worker owns goes to the owner
 * over the handoff ring and its answer comes back over the reverse ring;
 * scrapes travel from owner to owner and return here (DESIGN.md).
 *
 * Peers: up to numwant, of the client's family first, then of the other
 * family (BEP 7: "peers" and "peers6" in one reply).
 *
 * Behind a reverse proxy: only connections from the trusted_proxies networks
 * have their forwarded_header read; its last entry is the client.
 *
 * Full scrape (off by default; rate limited per worker): the torrents of
 * every shard, chunk by chunk, paused while much output is unsent; the
 * "files" keys come in table order, not sorted (a stream cannot be).
 *
 * Threads: the worker's own thread only. Memory: the connection table and
 * each open connection's read and write buffers are owned here (malloc).
 * Spec: BEP 3, BEP 23 (compact), BEP 7 (peers6), BEP 24 (external ip),
 * BEP 48 (scrape).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bencode.h"
#include "ringutil.h"
#include "worker_internal.h"

/* Room for the largest body: a 256-hash scrape or 200 dictionary-model
 * IPv6 peers, with margin. */
#define HTTP_SCRATCH 65536
#define HTTP_HEAD_MAX 256 /* status line and our headers */
#define LIST_HIGH_WATER (256 * 1024) /* full scrape: unsent bytes before pausing */
#define HTTP_OUT_HIGH_WATER (64 * 1024) /* unsent reply bytes before we stop reading */
#define LIST_ENTRY_MAX 96 /* bencoded bytes of one full-scrape entry, at most */
#define PEERS_MAX_BYTES (200 * UDP_PEER6_LEN) /* numwant_max is at most 200 */
/* Accepts in flight per listener: a burst beyond this waits in the listen
 * backlog for the next loop turn, which re-arms the ones that completed. */
#define HTTP_ACCEPT_DEPTH 16

struct http_conn {
	int fd;             /* -1 when the slot is free */
	uint32_t gen;       /* bumped at each reuse of the slot */
	uint32_t next_free; /* free-list link */
	bool recv_armed;
	bool send_armed;
	bool waiting;          /* a request is with another worker */
	bool close_after_send; /* answer an error, then close */
	bool closing;          /* shut down: close when nothing is in flight */
	bool keep_alive;       /* of the request being answered */
	bool compact;          /* of the announce being answered */
	bool listing;          /* streaming a full scrape */
	uint16_t list_shard;   /* full scrape: the shard being listed */
	uint64_t list_cursor;  /* full scrape: where in that shard */
	struct netaddr peer;   /* the connection's remote address */
	struct netaddr client; /* the request's client: peer, or forwarded by a trusted proxy */
	bool trusted;          /* peer is a trusted proxy */
	uint32_t last_active;  /* seconds: last byte in or out */
	uint32_t head_started; /* seconds: first byte of an unfinished head; 0 = none */
	char *rbuf;
	uint32_t rlen, rcap;
	uint8_t *wbuf;
	uint32_t wlen, wsent, wcap;
};

/* One armed accept: the kernel writes the client's address here. */
struct accept_slot {
	struct sockaddr_storage addr;
	socklen_t addr_len;
	bool armed;
};

struct http_conns {
	struct http_conn *conns; /* [cfg->http_max_connections] */
	uint32_t n;
	uint32_t free_head; /* UINT32_MAX when full */
	uint32_t open;
	uint32_t last_tick; /* seconds */
	uint32_t last_full_scrape; /* seconds; 0 = never */
	/* seconds: a listener's accepts are not re-armed before this, after one
	 * failed for want of descriptors or memory (it fails at once then, with
	 * or without a client waiting, and re-arming would spin) */
	uint32_t accept_resume[CONFIG_MAX_LISTEN];
	struct accept_slot accepts[CONFIG_MAX_LISTEN][HTTP_ACCEPT_DEPTH]; /* [listener][k] */
	uint8_t scratch[HTTP_SCRATCH];
};

static void conn_pump(struct worker *w, struct http_conn *c);
static struct http_conn *conn_of_ticket(struct worker *w, const struct http_ticket *t);

/* -------------------------------------------------------------- table */

int worker_http_setup(struct worker *w)
{
	uint32_t n = w->cfg->http_max_connections;

	if (w->n_http == 0)
		return 0;
	w->http = calloc(1, sizeof(*w->http));
	if (!w->http)
		goto fail;
	w->http->conns = calloc(n, sizeof(struct http_conn));
	if (!w->http->conns)
		goto fail;
	w->http->n = n;
	for (uint32_t i = 0; i < n; i++) {
		w->http->conns[i].fd = -1;
		w->http->conns[i].next_free = i + 1 < n ? i + 1 : UINT32_MAX;
	}
	return 0; /* the accepts are armed by the first tick */
fail:
	w->setup_err = -ENOMEM;
	w->setup_what = "HTTP connection table";
	return -ENOMEM;
}

void worker_http_destroy(struct worker *w)
{
	if (!w->http)
		return;
	for (uint32_t i = 0; i < w->http->n; i++) {
		struct http_conn *c = &w->http->conns[i];
		if (c->fd >= 0)
			close(c->fd);
		free(c->rbuf);
		free(c->wbuf);
	}
	free(w->http->conns);
	free(w->http);
	w->http = NULL;
}

static struct http_conn *conn_alloc(struct worker *w, int fd)
{
	struct http_conns *h = w->http;

	if (h->free_head == UINT32_MAX)
		return NULL;
	struct http_conn *c = &h->conns[h->free_head];
	uint32_t gen = c->gen + 1;
	char *rbuf = c->rbuf;
	uint32_t rcap = w->cfg->http_max_header + 1;

	if (!rbuf) {
		rbuf = malloc(rcap);
		if (!rbuf)
			return NULL;
	}
	h->free_head = c->next_free;
	memset(c, 0, sizeof(*c));
	c->fd = fd;
	c->gen = gen;
	c->rbuf = rbuf;
	c->rcap = rcap;
	c->last_active = w->now;
	h->open++;
	return c;
}

/* Closes fd through the ring; a failure's completion is not looked at. */
static void fd_close(struct worker *w, int fd)
{
	ringutil_close(&w->ring, fd, UD_MAKE(UD_OTHER, 0));
}

/* Closes the socket and frees the slot; in-flight operations must be done.
 * The read buffer is kept for the next connection; the write buffer is not
 * (it may have grown large). */
static void conn_free(struct worker *w, struct http_conn *c)
{
	struct http_conns *h = w->http;

	if (c->fd < 0)
		return; /* already freed in this call chain */
	fd_close(w, c->fd);
	c->fd = -1;
	free(c->wbuf);
	c->wbuf = NULL;
	c->wlen = c->wsent = c->wcap = 0;
	c->next_free = h->free_head;
	h->free_head = (uint32_t)(c - h->conns);
	h->open--;
	counters_inc(&w->counters, CTR_http_closed);
}

/* Starts closing; conn_pump frees the slot once nothing is in flight. The
 * socket is shut down first when a recv or send is pending (so that it
 * completes), or when a last reply was held back for the FIN (shutdown sends
 * both, where a close with unread input would send a reset instead). A
 * connection the client closed is simply closed. */
static void conn_close(struct worker *w, struct http_conn *c)
{
	if (c->closing)
		return;
	c->closing = true;
	if (c->recv_armed || c->send_armed || c->close_after_send)
		shutdown(c->fd, SHUT_RDWR);
	conn_pump(w, c);
}

/* ------------------------------------------------------------ output */

/* Makes room for `more` bytes after the queued output. Returns false (and
 * closes the connection) when memory runs out. */
static bool wbuf_reserve(struct worker *w, struct http_conn *c, size_t more)
{
	size_t need = (size_t)c->wlen + more;

	if (need <= c->wcap)
		return true;
	size_t cap = need < 4096 ? 4096 : need + need / 2;
	uint8_t *p = realloc(c->wbuf, cap);
	if (!p) {
		conn_close(w, c);
		return false;
	}
	c->wbuf = p;
	c->wcap = (uint32_t)cap;
	return true;
}

/* Appends raw bytes to the output (room already reserved). */
static void wbuf_put(struct http_conn *c, const void *p, size_t n)
{
	memcpy(c->wbuf + c->wlen, p, n);
	c->wlen += (uint32_t)n;
}

/* Appends a complete response; closes the connection if it cannot. */
static void respond(struct worker *w, struct http_conn *c, int status, const char *type,
		    const void *body, size_t body_len)
{
	if (!wbuf_reserve(w, c, HTTP_HEAD_MAX + body_len))
		return;
	bool keep = c->keep_alive && !c->close_after_send;
	int n = http_write_response((char *)c->wbuf + c->wlen, c->wcap - c->wlen, status, type,
				    body, body_len, keep);
	if (n < 0) {
		conn_close(w, c);
		return;
	}
	c->wlen += (uint32_t)n;
	if (!keep)
		c->close_after_send = true;
}

/* 405 with the Allow header and no body (a HEAD reply must not have one). */
static void respond_not_allowed(struct worker *w, struct http_conn *c)
{
	char head[HTTP_HEAD_MAX];
	int n = snprintf(head, sizeof(head),
			 "HTTP/1.1 405 Method Not Allowed\r\nAllow: GET\r\n"
			 "Content-Length: 0\r\nConnection: %s\r\n\r\n",
			 c->keep_alive ? "keep-alive" : "close");

	if (!c->keep_alive)
		c->close_after_send = true;
	if (wbuf_reserve(w, c, (size_t)n))
		wbuf_put(c, head, (size_t)n);
}

static void respond_text(struct worker *w, struct http_conn *c, int status, const char *text)
{
	respond(w, c, status, "text/plain", text, strlen(text));
}

static void respond_failure(struct worker *w, struct http_conn *c, const char *reason)
{
	int n = http_failure_body(w->http->scratch, sizeof(w->http->scratch), reason);

	counters_inc(&w->counters, CTR_http_failures);
	if (n < 0)
		respond_text(w, c, 500, "failure reason too long\n");
	else
		respond(w, c, 200, "text/plain", w->http->scratch, (size_t)n);
}

/* The owner's part of an HTTP announce: the swarm update, then up to
 * numwant peers, of the client's family first and the other family after
 * (BEP 7), into peers: own bytes then *other_len bytes. Returns the bytes of
 * the client's family or -errno (swarm_announce). */
static int announce_both(struct worker *w, const struct swarm_announce *a, uint8_t *peers,
			 size_t cap, struct swarm_counts *counts, uint32_t *other_len)
{
	int rc = swarm_announce(w->swarm, a, w->now, peers, cap, counts);
	bool v6 = a->peer.family == AF_INET6;

	*other_len = 0;
	if (rc < 0 || a->event == SWARM_EVENT_STOPPED)
		return rc;
	uint32_t got = (uint32_t)rc / (v6 ? UDP_PEER6_LEN : UDP_PEER4_LEN);
	if (got < a->numwant) {
		int n = swarm_peers(w->swarm, &a->info_hash, v6 ? AF_INET : AF_INET6,
				    a->numwant - got, peers + rc, cap - (size_t)rc);
		*other_len = n > 0 ? (uint32_t)n : 0;
	}
	return rc;
}

/* The announce reply from swarm results (rc: bytes of peers of the client's
 * family, or -errno; then other_len bytes of the other family). */
static void respond_announce(struct worker *w, struct http_conn *c, int rc, uint32_t other_len,
			     const struct swarm_counts *counts, const uint8_t *peers)
{
	if (rc < 0) {
		respond_failure(w, c, worker_limit_message(w, rc));
		return;
	}
	bool v6 = c->client.family == AF_INET6;
	const uint8_t *own = peers, *other = peers + rc;
	struct http_announce_reply r = {
		.interval = w->cfg->announce_interval,
		.min_interval = w->cfg->announce_interval / 2,
		.complete = counts->seeders,
		.incomplete = counts->leechers,
		.downloaded = counts->downloaded,
		.peers4 = v6 ? other : own,
		.peers4_len = v6 ? other_len : (size_t)rc,
		.peers6 = v6 ? own : other,
		.peers6_len = v6 ? (size_t)rc : other_len,
		.compact = c->compact,
		.external_ip = c->client.ip,
		.external_ip_len = netaddr_ip_len(&c->client),
	};
	int n = http_announce_body(w->http->scratch, sizeof(w->http->scratch), &r);
	if (n < 0) {
		respond_failure(w, c, "reply too large");
		return;
	}
	counters_inc(&w->counters,
		     v6 ? CTR_http_announce_replies_v6 : CTR_http_announce_replies_v4);
	respond(w, c, 200, "text/plain", w->http->scratch, (size_t)n);
}

/* ----------------------------------------------------------- requests */

static bool path_is(const struct http_request *r, const char *path)
{
	size_t n = strlen(path);

	return r->path_len == n && memcmp(r->path, path, n) == 0;
}

static struct http_ticket ticket_of(struct worker *w, struct http_conn *c)
{
	return (struct http_ticket){
		.worker = (uint16_t)w->id,
		.conn = (uint32_t)(c - w->http->conns),
		.gen = c->gen,
	};
}

static void handle_announce(struct worker *w, struct http_conn *c, const struct http_request *req)
{
	struct http_announce ann;
	const char *reason = "bad request";

	counters_inc(&w->counters, c->client.family == AF_INET6 ? CTR_http_announce_v6
							      : CTR_http_announce_v4);
	if (http_parse_announce(req->query, req->query ? req->query_len : 0, &ann, &reason) < 0) {
		respond_failure(w, c, reason);
		return;
	}
	struct swarm_announce a = {
		.info_hash = ann.info_hash,
		.peer = c->client,
		.event = (enum swarm_event)ann.event,
		.seeder = ann.left == 0,
	};
	uint32_t numwant = ann.numwant < 0 ? w->cfg->numwant_default : (uint32_t)ann.numwant;
	a.peer.port = ann.port;
	a.numwant = numwant > w->cfg->numwant_max ? w->cfg->numwant_max : numwant;
	c->compact = ann.compact;

	unsigned owner = worker_owner(w->sh->shard_key, &a.info_hash, w->sh->n_workers);
	if (owner == w->id) {
		uint8_t peers[PEERS_MAX_BYTES];
		struct swarm_counts counts;
		uint32_t other_len;
		int rc = announce_both(w, &a, peers, sizeof(peers), &counts, &other_len);
		respond_announce(w, c, rc, other_len, &counts, peers);
		return;
	}
	struct handoff_http_announce *h =
		worker_handoff_reserve(w, owner, sizeof(*h), HANDOFF_HTTP_ANNOUNCE);
	if (!h) {
		respond_failure(w, c, "tracker busy, try again");
		return;
	}
	h->ticket = ticket_of(w, c);
	h->announce = a;
	c->waiting = true;
}

static void respond_scrape(struct worker *w, struct http_conn *c, const struct handoff_scrape *s)
{
	int n = http_scrape_body(w->http->scratch, sizeof(w->http->scratch), s->files, s->count);

	if (n < 0) {
		respond_failure(w, c, "reply too large");
		return;
	}
	counters_inc(&w->counters, c->client.family == AF_INET6 ? CTR_http_scrape_replies_v6
							      : CTR_http_scrape_replies_v4);
	respond(w, c, 200, "text/plain", w->http->scratch, (size_t)n);
}

/* ---------------------------------------------------------- full scrape */

/* Appends torrents as entries of the "files" dictionary. Keys come shard
 * by shard in table order, not sorted: a full scrape is streamed. */
static void list_append(struct worker *w, struct http_conn *c, const struct swarm_listing *e,
			size_t n)
{
	if (!wbuf_reserve(w, c, n * LIST_ENTRY_MAX))
		return;
	for (size_t i = 0; i < n; i++) {
		struct bencode b;
		bencode_init(&b, c->wbuf + c->wlen, LIST_ENTRY_MAX);
		bencode_bytes(&b, e[i].info_hash.b, sizeof(e[i].info_hash.b));
		bencode_dict_begin(&b);
		bencode_str(&b, "complete");
		bencode_int(&b, e[i].counts.seeders);
		bencode_str(&b, "downloaded");
		bencode_int(&b, e[i].counts.downloaded);
		bencode_str(&b, "incomplete");
		bencode_int(&b, e[i].counts.leechers);
		bencode_end(&b);
		int len = bencode_done(&b);
		if (len > 0)
			c->wlen += (uint32_t)len;
	}
}

/* Moves the listing on by one chunk: from our own shard at once, from
 * another shard by asking it (the answer comes as a chunk record). */
static void list_next(struct worker *w, struct http_conn *c)
{
	if (c->list_shard >= w->sh->n_workers) {
		if (wbuf_reserve(w, c, 2))
			wbuf_put(c, "ee", 2);
		c->listing = false;
		c->close_after_send = true;
		return;
	}
	if (c->list_shard == w->id) {
		struct swarm_listing entries[LIST_CHUNK];
		size_t n = swarm_list(w->swarm, &c->list_cursor, entries, LIST_CHUNK);
		list_append(w, c, entries, n);
	} else {
		struct handoff_list_ask *a =
			worker_handoff_reserve(w, c->list_shard, sizeof(*a), HANDOFF_LIST_ASK);
		if (!a) {
			conn_close(w, c); /* mid-stream: nothing valid can follow */
			return;
		}
		a->ticket = ticket_of(w, c);
		a->cursor = c->list_cursor;
		c->waiting = true;
		return;
	}
	if (c->list_cursor == SWARM_LIST_END) {
		c->list_shard++;
		c->list_cursor = 0;
	}
}

static const char list_head[] = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
				"Connection: close\r\n\r\nd5:filesd";

/* GET /scrape without info_hash: when enabled and not rate limited, streams
 * every torrent of every shard, then closes (no Content-Length). */
static void full_scrape_start(struct worker *w, struct http_conn *c)
{
	char msg[96];
	uint32_t since = w->now - w->http->last_full_scrape;

	if (!w->cfg->full_scrape) {
		respond_failure(w, c, "full scrape is disabled: give info_hash");
		return;
	}
	if (w->http->last_full_scrape && since < w->cfg->full_scrape_interval) {
		snprintf(msg, sizeof(msg), "full scrape rate limited: try again in %u s",
			 w->cfg->full_scrape_interval - since);
		respond_failure(w, c, msg);
		return;
	}
	w->http->last_full_scrape = w->now ? w->now : 1;
	counters_inc(&w->counters, CTR_http_full_scrapes);
	if (!wbuf_reserve(w, c, sizeof(list_head)))
		return;
	wbuf_put(c, list_head, sizeof(list_head) - 1);
	c->keep_alive = false;
	c->listing = true;
	c->list_shard = 0;
	c->list_cursor = 0;
}

void worker_http_list_ask(struct worker *w, const struct handoff_list_ask *a)
{
	size_t len = sizeof(struct handoff_list_chunk) + LIST_CHUNK * sizeof(struct swarm_listing);
	struct handoff_list_chunk *ch = worker_handoff_reserve(w, a->ticket.worker, len,
							       HANDOFF_LIST_CHUNK);

	if (!ch)
		return; /* the connection times out */
	ch->ticket = a->ticket;
	ch->next = a->cursor;
	ch->count = (uint32_t)swarm_list(w->swarm, &ch->next, ch->entries, LIST_CHUNK);
}

void worker_http_list_chunk(struct worker *w, const struct handoff_list_chunk *ch, uint32_t len)
{
	if (ch->count > LIST_CHUNK || len < sizeof(*ch) + ch->count * sizeof(ch->entries[0]))
		return;
	struct http_conn *c = conn_of_ticket(w, &ch->ticket);
	if (!c || !c->listing)
		return;
	c->waiting = false;
	list_append(w, c, ch->entries, ch->count);
	c->list_cursor = ch->next;
	if (c->list_cursor == SWARM_LIST_END) {
		c->list_shard++;
		c->list_cursor = 0;
	}
	conn_pump(w, c);
}

static void handle_scrape(struct worker *w, struct http_conn *c, const struct http_request *req)
{
	union {
		struct handoff_scrape s;
		uint8_t bytes[sizeof(struct handoff_scrape) +
			      HTTP_SCRAPE_MAX * sizeof(struct http_scrape_file)];
	} u;
	struct info_hash hashes[HTTP_SCRAPE_MAX];
	const char *reason = "bad request";

	counters_inc(&w->counters, c->client.family == AF_INET6 ? CTR_http_scrape_v6
							      : CTR_http_scrape_v4);
	int n = http_parse_scrape(req->query, req->query ? req->query_len : 0, hashes,
				  w->cfg->http_scrape_max, &reason);
	if (n < 0) {
		respond_failure(w, c, reason);
		return;
	}
	if (n == 0) {
		full_scrape_start(w, c);
		return;
	}
	memset(&u.s, 0, sizeof(u.s));
	u.s.reply = SCRAPE_REPLY_HTTP;
	u.s.http = ticket_of(w, c);
	u.s.count = (uint32_t)n;
	for (int i = 0; i < n; i++)
		u.s.files[i] = (struct http_scrape_file){ .info_hash = hashes[i] };
	unsigned next = worker_scrape_fill(w, &u.s);
	if (next == w->id) {
		respond_scrape(w, c, &u.s);
		return;
	}
	size_t len = worker_scrape_len(u.s.count);
	void *h = worker_handoff_reserve(w, next, len, HANDOFF_SCRAPE);
	if (!h) {
		respond_failure(w, c, "tracker busy, try again");
		return;
	}
	memcpy(h, &u.s, len);
	c->waiting = true;
}

/* The client address a trusted proxy forwarded: the last entry of the
 * header (the one the proxy itself added). Returns 0 or -EINVAL. */
static int forwarded_client(const struct http_request *req, struct netaddr *out)
{
	const char *v = req->forwarded, *end = v + req->forwarded_len;
	const char *start = v;
	char text[INET6_ADDRSTRLEN + 1];

	for (const char *p = v; p < end; p++)
		if (*p == ',')
			start = p + 1;
	while (start < end && (*start == ' ' || *start == '\t'))
		start++;
	size_t len = (size_t)(end - start);
	if (len == 0 || len >= sizeof(text))
		return -EINVAL;
	memcpy(text, start, len);
	text[len] = '\0';
	memset(out, 0, sizeof(*out));
	if (inet_pton(AF_INET, text, out->ip) == 1)
		out->family = AF_INET;
	else if (inet_pton(AF_INET6, text, out->ip) == 1)
		out->family = AF_INET6;
	else
		return -EINVAL;
	return 0;
}

static void handle_request(struct worker *w, struct http_conn *c, const struct http_request *req)
{
	c->keep_alive = req->keep_alive;
	c->client = c->peer;
	if (c->trusted && req->forwarded && forwarded_client(req, &c->client) < 0) {
		counters_inc(&w->counters, CTR_http_bad_request);
		respond_text(w, c, 400, "unreadable forwarded address\n");
		return;
	}
	if (req->method != HTTP_GET) {
		counters_inc(&w->counters, CTR_http_bad_method);
		respond_not_allowed(w, c);
	} else if (path_is(req, "/announce")) {
		handle_announce(w, c, req);
	} else if (path_is(req, "/scrape")) {
		handle_scrape(w, c, req);
	} else if (path_is(req, "/health")) {
		counters_inc(&w->counters, CTR_http_health);
		respond_text(w, c, 200, "ok\n");
	} else {
		counters_inc(&w->counters, CTR_http_not_found);
		respond_text(w, c, 404, "not found: try /announce or /scrape\n");
	}
}

/* A request head that cannot be parsed: answer, then close. */
static void handle_bad_head(struct worker *w, struct http_conn *c, int code)
{
	c->keep_alive = false;
	c->close_after_send = true;
	switch (code) {
	case HTTP_URI_TOO_LONG:
		counters_inc(&w->counters, CTR_http_too_large);
		respond_text(w, c, 414, "request line too long\n");
		break;
	case HTTP_HEADERS_TOO_LARGE:
		counters_inc(&w->counters, CTR_http_too_large);
		respond_text(w, c, 431, "request head too large\n");
		break;
	case HTTP_BAD_VERSION:
		counters_inc(&w->counters, CTR_http_bad_version);
		respond_text(w, c, 505, "only HTTP/1.0 and HTTP/1.1 are supported\n");
		break;
	default:
		counters_inc(&w->counters, CTR_http_bad_request);
		respond_text(w, c, 400, "malformed request\n");
		break;
	}
}

/* Parses and answers the requests waiting in the read buffer, in order,
 * stopping at one that waits for another worker. */
/* True while the client has enough unread replies queued: it must read
 * before we parse or receive more (bounds the output buffer). */
static bool output_backlogged(const struct http_conn *c)
{
	return c->wlen - c->wsent >= HTTP_OUT_HIGH_WATER;
}

static void conn_parse(struct worker *w, struct http_conn *c)
{
	uint32_t pos = 0; /* bytes of rbuf consumed; moved down once at the end */

	while (!c->waiting && !c->listing && !c->close_after_send && !c->closing &&
	       !output_backlogged(c) && pos < c->rlen) {
		struct http_request req;
		int r = http_parse_request(c->rbuf + pos, c->rlen - pos, w->cfg->http_max_line,
					   w->cfg->http_max_header,
					   c->trusted ? w->cfg->forwarded_header : NULL, &req);
		if (r == HTTP_INCOMPLETE) {
			if (!c->head_started)
				c->head_started = w->now ? w->now : 1;
			break;
		}
		c->head_started = 0;
		if (r < 0) {
			handle_bad_head(w, c, r);
			pos = c->rlen;
			break;
		}
		handle_request(w, c, &req);
		pos += (uint32_t)r;
	}
	if (pos > 0 && c->fd >= 0) {
		memmove(c->rbuf, c->rbuf + pos, c->rlen - pos);
		c->rlen -= pos;
	}
}

/* ------------------------------------------------------------- I/O */

static void arm_recv(struct worker *w, struct http_conn *c)
{
	struct io_uring_sqe *sqe = worker_get_sqe(w);

	if (!sqe) {
		conn_close(w, c);
		return;
	}
	io_uring_prep_recv(sqe, c->fd, c->rbuf + c->rlen, c->rcap - c->rlen, 0);
	io_uring_sqe_set_data64(sqe, UD_MAKE(UD_HTTP_RECV, c - w->http->conns));
	c->recv_armed = true;
}

static void arm_send(struct worker *w, struct http_conn *c)
{
	struct io_uring_sqe *sqe = worker_get_sqe(w);

	if (!sqe) {
		conn_close(w, c);
		return;
	}
	/* The last reply before a close: held back (MSG_MORE) so that the
	 * close's FIN leaves in the same segment. */
	bool last = c->close_after_send && !c->listing && !c->waiting;
	io_uring_prep_send(sqe, c->fd, c->wbuf + c->wsent, c->wlen - c->wsent,
			   MSG_NOSIGNAL | (last ? MSG_MORE : 0));
	io_uring_sqe_set_data64(sqe, UD_MAKE(UD_HTTP_SEND, c - w->http->conns));
	c->send_armed = true;
}

/* Moves a connection forward after any event: frees it once closed and
 * idle, answers what can be answered, sends what is queued, reads more. */
static void conn_pump(struct worker *w, struct http_conn *c)
{
	if (c->closing) {
		if (!c->recv_armed && !c->send_armed)
			conn_free(w, c);
		return;
	}
	conn_parse(w, c);
	while (c->listing && !c->waiting && !c->closing && c->wlen - c->wsent < LIST_HIGH_WATER)
		list_next(w, c);
	if (c->closing)
		return;
	if (c->wsent < c->wlen) {
		if (!c->send_armed)
			arm_send(w, c);
	} else if (c->close_after_send) {
		conn_close(w, c);
		return;
	}
	if (!c->waiting && !c->close_after_send && !c->recv_armed && !c->closing &&
	    !output_backlogged(c) && c->rlen < c->rcap)
		arm_recv(w, c);
}

static void on_accept(struct worker *w, const struct io_uring_cqe *cqe)
{
	uint32_t i = UD_INDEX(cqe->user_data);
	unsigned k = i / HTTP_ACCEPT_DEPTH;

	if (k >= w->n_http) {
		if (cqe->res >= 0)
			close(cqe->res); /* not ours to take */
		return;
	}
	struct accept_slot *a = &w->http->accepts[k][i % HTTP_ACCEPT_DEPTH];
	a->armed = false; /* the next tick arms it again */
	if (cqe->res < 0) {
		counters_inc(&w->counters, CTR_http_accept_errors);
		if (cqe->res == -EMFILE || cqe->res == -ENFILE || cqe->res == -ENOBUFS ||
		    cqe->res == -ENOMEM)
			w->http->accept_resume[k] = w->now + 1;
		return;
	}
	int fd = cqe->res;
	struct netaddr peer;
	if (netaddr_from_sockaddr((struct sockaddr *)&a->addr, a->addr_len, &peer) != 0) {
		fd_close(w, fd);
		counters_inc(&w->counters, CTR_http_accept_errors);
		return;
	}
	struct http_conn *c = conn_alloc(w, fd);
	if (!c) {
		/* Over the connection limit: say so if the socket takes it at once
		 * (a new socket's buffer is empty, so it does), then close. */
		static const char busy[] = "HTTP/1.1 503 Service Unavailable\r\n"
					   "Content-Length: 0\r\nConnection: close\r\n\r\n";
		ssize_t sent = send(fd, busy, sizeof(busy) - 1, MSG_DONTWAIT | MSG_NOSIGNAL);
		(void)sent;
		fd_close(w, fd);
		counters_inc(&w->counters, CTR_http_refused);
		return;
	}
	c->peer = peer; /* TCP_NODELAY comes from the listener */
	c->client = peer;
	c->trusted = config_trusted_proxy(w->cfg, &peer);
	counters_inc(&w->counters, CTR_http_accepted);
	conn_pump(w, c);
}

/* A recv or send finished with res bytes (0: the client closed; < 0: reset,
 * or shut down by us). */
static void on_io(struct worker *w, struct http_conn *c, bool is_recv, int res)
{
	if (is_recv)
		c->recv_armed = false;
	else
		c->send_armed = false;
	if (res <= 0) {
		if (c->closing)
			conn_pump(w, c);
		else
			conn_close(w, c);
		return;
	}
	c->last_active = w->now;
	if (is_recv) {
		c->rlen += (uint32_t)res;
		counters_add(&w->counters, CTR_http_rx_bytes, (uint64_t)res);
	} else {
		c->wsent += (uint32_t)res;
		counters_add(&w->counters, CTR_http_tx_bytes, (uint64_t)res);
		if (c->wsent == c->wlen)
			c->wsent = c->wlen = 0;
	}
	conn_pump(w, c);
}

void worker_http_completion(struct worker *w, const struct io_uring_cqe *cqe)
{
	unsigned kind = UD_KIND(cqe->user_data);
	uint32_t i = UD_INDEX(cqe->user_data);

	if (!w->http)
		return;
	if (kind == UD_HTTP_ACCEPT) {
		on_accept(w, cqe);
		return;
	}
	if (i >= w->http->n || w->http->conns[i].fd < 0)
		return;
	on_io(w, &w->http->conns[i], kind == UD_HTTP_RECV, cqe->res);
}

/* ------------------------------------------------------- from owners */

/* The connection an answer is for, or NULL (counted) when it is gone. */
static struct http_conn *conn_of_ticket(struct worker *w, const struct http_ticket *t)
{
	if (w->http && t->conn < w->http->n) {
		struct http_conn *c = &w->http->conns[t->conn];
		if (c->fd >= 0 && c->gen == t->gen && c->waiting && !c->closing)
			return c;
	}
	counters_inc(&w->counters, CTR_http_stale_answers);
	return NULL;
}

void worker_http_announce_owned(struct worker *w, const struct handoff_http_announce *h)
{
	uint8_t peers[PEERS_MAX_BYTES];
	struct swarm_counts counts;
	uint32_t other_len;
	int rc = announce_both(w, &h->announce, peers, sizeof(peers), &counts, &other_len);
	size_t n = (rc > 0 ? (size_t)rc : 0) + other_len;

	struct handoff_http_answer *a =
		worker_handoff_reserve(w, h->ticket.worker, sizeof(*a) + n, HANDOFF_HTTP_ANSWER);
	if (!a)
		return; /* the connection times out */
	a->ticket = h->ticket;
	a->rc = rc;
	a->other_len = other_len;
	a->counts = counts;
	memcpy(a->peers, peers, n);
}

void worker_http_answer(struct worker *w, const struct handoff_http_answer *a, uint32_t len)
{
	size_t own = a->rc > 0 ? (size_t)a->rc : 0;

	if (len != sizeof(*a) + own + a->other_len)
		return;
	struct http_conn *c = conn_of_ticket(w, &a->ticket);
	if (!c)
		return;
	c->waiting = false;
	respond_announce(w, c, a->rc, a->other_len, &a->counts, a->peers);
	conn_pump(w, c);
}

void worker_http_scrape_done(struct worker *w, const struct handoff_scrape *s)
{
	struct http_conn *c = conn_of_ticket(w, &s->http);

	if (!c)
		return;
	c->waiting = false;
	respond_scrape(w, c, s);
	conn_pump(w, c);
}

/* -------------------------------------------------------------- tick */

/* Arms the accepts of listener k that are not in flight, unless it pauses
 * (accept_resume); one the ring has no room for stays unarmed until the next
 * turn. */
static void arm_accepts(struct worker *w, unsigned k)
{
	if (w->now < w->http->accept_resume[k])
		return;
	for (unsigned j = 0; j < HTTP_ACCEPT_DEPTH; j++) {
		struct accept_slot *a = &w->http->accepts[k][j];
		if (a->armed)
			continue;
		struct io_uring_sqe *sqe = worker_get_sqe(w);
		if (!sqe)
			return;
		a->addr_len = sizeof(a->addr);
		io_uring_prep_accept(sqe, w->http_fds[k], (struct sockaddr *)&a->addr, &a->addr_len,
				     SOCK_CLOEXEC);
		io_uring_sqe_set_data64(sqe, UD_MAKE(UD_HTTP_ACCEPT, k * HTTP_ACCEPT_DEPTH + j));
		a->armed = true;
	}
}

/* Closes connections idle past idle_timeout, with an unfinished head past
 * request_timeout, or waiting for an owner's answer past request_timeout
 * (the answer was dropped). */
static void expire_connections(struct worker *w)
{
	const struct config *cfg = w->cfg;

	for (uint32_t i = 0; i < w->http->n; i++) {
		struct http_conn *c = &w->http->conns[i];
		if (c->fd < 0 || c->closing)
			continue;
		uint32_t idle = w->now - c->last_active;
		bool slow_head = c->head_started && w->now - c->head_started > cfg->http_request_timeout;
		bool lost = c->waiting && idle > cfg->http_request_timeout;
		if (slow_head || lost || idle > cfg->http_idle_timeout) {
			counters_inc(&w->counters, CTR_http_timeouts);
			conn_close(w, c);
		}
	}
}

uint32_t worker_http_open(const struct worker *w)
{
	return w->http ? w->http->open : 0;
}

void worker_http_tick(struct worker *w)
{
	if (!w->http)
		return;
	for (unsigned k = 0; k < w->n_http; k++)
		arm_accepts(w, k);
	if (w->now != w->http->last_tick) {
		w->http->last_tick = w->now;
		expire_connections(w);
	}
}

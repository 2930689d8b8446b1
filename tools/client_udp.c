/* client_udp.c - the BEP 15 side of ringtracker-client.
 *
 * What it does: connect, announce and scrape over one connected UDP socket,
 * with the retries of BEP 15 shortened to --tries waits of --timeout ms
 * each (BEP 15 waits 15 * 2^n seconds; a command-line tool cannot). A reply
 * counts only when its transaction id matches; anything else is ignored.
 * An ICMP "port unreachable" (ECONNREFUSED) or a silent address moves on to
 * the tracker's next resolved address, as the connect step is cheap.
 * What it doesn't: no BEP 41 options (the URL's path is not sent), no
 * connection id reuse across runs; the id is used within its minute.
 * Thread: single-threaded tool. Memory: requests and replies live on the
 * stack; results go into struct client_result.
 * Codec: udp_write_*_request and udp_parse_response (src/udp.c).
 */
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <sodium.h>

#include "client.h"

#define REPLY_MAX 65536 /* the largest UDP payload */

struct session {
	int fd;
	int family;
	uint64_t connection_id;
	int timeout_ms; /* per try */
	int tries;
};

static const char *action_name(enum udp_action a)
{
	switch (a) {
	case UDP_ACTION_CONNECT:
		return "connect";
	case UDP_ACTION_ANNOUNCE:
		return "announce";
	case UDP_ACTION_SCRAPE:
		return "scrape";
	default:
		return "error";
	}
}

static int session_open(struct session *s, const struct addrinfo *ai,
			const struct client_request *rq, struct client_result *r)
{
	s->fd = socket(ai->ai_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	s->family = ai->ai_family;
	s->timeout_ms = rq->timeout_ms;
	s->tries = rq->tries;
	client_format_sockaddr(ai->ai_addr, ai->ai_addrlen, r->address, sizeof(r->address));
	if (s->fd < 0)
		return client_fail(r, errno, "socket: %s", strerror(errno));
	/* connect() filters out datagrams from other sources and makes an
	 * ICMP port unreachable show up as ECONNREFUSED. */
	if (connect(s->fd, ai->ai_addr, ai->ai_addrlen) < 0) {
		int err = errno;
		close(s->fd);
		s->fd = -1;
		return client_fail(r, err, "%s: %s", r->address, strerror(err));
	}
	return 0;
}

static void session_close(struct session *s)
{
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
}

/* Sends req (len bytes) and waits for the reply with transaction id txid;
 * resends after each timeout. Returns 0 with *resp parsed (pointing into
 * reply), -EPROTO for a tracker error reply or a reply of another action,
 * or -errno. */
static int exchange(struct session *s, const uint8_t *req, size_t len, uint32_t txid,
		    enum udp_action want, uint8_t *reply, size_t cap, struct udp_response *resp,
		    struct client_result *r)
{
	const char *what = action_name(want);

	for (int attempt = 0; attempt < s->tries; attempt++) {
		if (send(s->fd, req, len, 0) != (ssize_t)len)
			return client_fail(r, errno, "%s: send to %s: %s", what, r->address,
					   strerror(errno));
		double deadline = client_now_ms() + s->timeout_ms;
		for (;;) {
			double left = deadline - client_now_ms();
			if (left <= 0)
				break;
			struct pollfd p = {.fd = s->fd, .events = POLLIN};
			int pr = poll(&p, 1, (int)left + 1);
			if (pr < 0 && errno == EINTR)
				continue;
			if (pr < 0)
				return client_fail(r, errno, "poll: %s", strerror(errno));
			if (pr == 0)
				continue;
			ssize_t n = recv(s->fd, reply, cap, 0);
			if (n < 0 && (errno == EINTR || errno == EAGAIN))
				continue;
			if (n < 0 && errno == ECONNREFUSED)
				return client_fail(
				    r, ECONNREFUSED,
				    "%s: connection refused by %s (no tracker there)", what,
				    r->address);
			if (n < 0)
				return client_fail(r, errno, "%s: recv from %s: %s", what,
						   r->address, strerror(errno));
			if (n < 8)
				continue; /* not a BEP 15 reply */
			uint32_t got = (uint32_t)reply[4] << 24 | (uint32_t)reply[5] << 16 |
				       (uint32_t)reply[6] << 8 | reply[7];
			if (got != txid)
				continue; /* a late reply to an earlier try */
			if (udp_parse_response(reply, (size_t)n, resp) < 0)
				return client_fail(r, EPROTO, "%s: malformed reply (%zd bytes)",
						   what, n);
			if (resp->action == UDP_ACTION_ERROR) {
				size_t m = resp->error.len;
				if (m >= sizeof(r->error))
					m = sizeof(r->error) - 1;
				/* The message is the tracker's text, not NUL-ended. */
				memcpy(r->error, resp->error.message, m);
				for (size_t i = 0; i < m; i++)
					if (r->error[i] == '\0')
						r->error[i] = ' ';
				r->error[m] = '\0';
				if (!m)
					snprintf(r->error, sizeof(r->error),
						 "tracker sent an empty error reply");
				return -EPROTO;
			}
			if (resp->action != want)
				return client_fail(r, EPROTO, "%s: reply has action %u", what,
						   (unsigned)resp->action);
			return 0;
		}
	}
	return client_fail(r, ETIMEDOUT, "%s: no reply from %s after %d tries of %d ms", what,
			   r->address, s->tries, s->timeout_ms);
}

static uint32_t new_txid(void)
{
	return randombytes_random();
}

static int do_connect(struct session *s, struct client_result *r)
{
	uint8_t req[UDP_CONNECT_REQUEST_LEN], reply[REPLY_MAX];
	struct udp_response resp;
	uint32_t txid = new_txid();
	int len = udp_write_connect_request(req, sizeof(req), txid);
	int rc;

	if (len < 0)
		return client_fail(r, -len, "connect: request does not fit");
	rc =
	    exchange(s, req, (size_t)len, txid, UDP_ACTION_CONNECT, reply, sizeof(reply), &resp, r);
	if (rc < 0)
		return rc;
	s->connection_id = resp.connection_id;
	return 0;
}

static int do_announce(struct session *s, const struct client_request *rq, enum udp_event event,
		       struct client_result *r)
{
	struct udp_announce_request a = {
	    .info_hash = rq->hashes[0],
	    .peer_id = rq->peer_id,
	    .downloaded = rq->downloaded,
	    .left = rq->left,
	    .uploaded = rq->uploaded,
	    .event = event,
	    .key = rq->key,
	    .num_want = rq->numwant,
	    .port = rq->port,
	};
	uint8_t req[UDP_ANNOUNCE_REQUEST_LEN], reply[REPLY_MAX];
	struct udp_response resp;
	uint32_t txid = new_txid();
	int len = udp_write_announce_request(req, sizeof(req), s->connection_id, txid, &a);
	int rc;

	if (len < 0)
		return client_fail(r, -len, "announce: request does not fit");
	rc = exchange(s, req, (size_t)len, txid, UDP_ACTION_ANNOUNCE, reply, sizeof(reply), &resp,
		      r);
	if (rc < 0)
		return rc;
	r->interval = resp.announce.interval;
	r->seeders = resp.announce.seeders;
	r->leechers = resp.announce.leechers;
	/* BEP 15: the peers are of the family the request came in over. A
	 * v6 reply that only divides by 6 is a tracker sending IPv4 peers. */
	size_t rec = UDP_PEER4_LEN, n = resp.announce.peers_len;
	if (s->family == AF_INET6 && n % UDP_PEER6_LEN == 0)
		rec = UDP_PEER6_LEN;
	if (n % rec != 0)
		return client_fail(r, EPROTO,
				   "announce: %zu bytes of peers is not a whole number "
				   "of %zu-byte records",
				   n, rec);
	if (client_add_compact_peers(r, resp.announce.peers, n, rec) < 0)
		return client_fail(r, ENOMEM, "out of memory");
	return 0;
}

static int do_scrape(struct session *s, const struct client_request *rq, struct client_result *r)
{
	uint8_t req[UDP_REQUEST_MAX], reply[REPLY_MAX];
	struct udp_response resp;
	uint32_t txid = new_txid();
	int len = udp_write_scrape_request(req, sizeof(req), s->connection_id, txid, rq->hashes,
					   rq->n_hashes);
	int rc;

	if (len < 0)
		return client_fail(r, -len, "scrape: %zu hashes do not fit one datagram",
				   rq->n_hashes);
	rc = exchange(s, req, (size_t)len, txid, UDP_ACTION_SCRAPE, reply, sizeof(reply), &resp, r);
	if (rc < 0)
		return rc;
	size_t n = resp.scrape.count < rq->n_hashes ? resp.scrape.count : rq->n_hashes;
	if (resp.scrape.count != rq->n_hashes)
		snprintf(r->warning, sizeof(r->warning), "tracker answered %zu of %zu hashes",
			 resp.scrape.count, rq->n_hashes);
	for (size_t i = 0; i < n; i++) {
		struct udp_scrape_entry e = udp_scrape_entry_at(&resp, i);
		struct client_file f = {
		    .info_hash = rq->hashes[i],
		    .seeders = e.seeders,
		    .completed = e.completed,
		    .leechers = e.leechers,
		};
		if (client_add_file(r, &f) < 0)
			return client_fail(r, ENOMEM, "out of memory");
	}
	return 0;
}

/* Resolves u and runs the connect step against each address in turn until
 * one answers. Returns 0 with s open and connected, or the last error. */
static int session_start(struct session *s, const struct client_url *u,
			 const struct client_request *rq, struct client_result *r)
{
	struct addrinfo *list, *ai;
	int rc = client_resolve(u, SOCK_DGRAM, rq->family, &list, r);

	s->fd = -1;
	if (rc < 0)
		return rc;
	for (ai = list; ai; ai = ai->ai_next) {
		rc = session_open(s, ai, rq, r);
		if (rc == 0) {
			double t0 = client_now_ms();
			rc = do_connect(s, r);
			r->connect_ms = client_now_ms() - t0;
			if (rc == 0)
				break;
			session_close(s);
		}
		if (!client_try_next_address(-rc))
			break;
	}
	freeaddrinfo(list);
	return rc;
}

int client_udp_run(const struct client_url *u, const struct client_request *rq,
		   struct client_result *r)
{
	struct session s;
	double t0 = client_now_ms();
	int rc = session_start(&s, u, rq, r);

	if (rc == 0)
		rc = rq->action == CLIENT_ANNOUNCE ? do_announce(&s, rq, rq->event, r)
						   : do_scrape(&s, rq, r);
	r->time_ms = client_now_ms() - t0;
	session_close(&s);
	return rc;
}

int client_udp_check(const struct client_url *u, const struct client_request *rq,
		     struct client_result *r, double *connect_ms, double *announce_ms,
		     double *scrape_ms)
{
	struct session s;
	double t0;
	int rc = session_start(&s, u, rq, r);

	*connect_ms = r->connect_ms;
	if (rc < 0) {
		client_error_prefix(r, "connect");
		goto out;
	}
	t0 = client_now_ms();
	rc = do_announce(&s, rq, UDP_EVENT_STARTED, r);
	*announce_ms = client_now_ms() - t0;
	if (rc == 0 && r->seeders + r->leechers < 1)
		rc = client_fail(r, EPROTO, "the tracker did not count our peer");
	if (rc < 0) {
		client_error_prefix(r, "announce");
		goto out;
	}
	t0 = client_now_ms();
	rc = do_scrape(&s, rq, r);
	*scrape_ms = client_now_ms() - t0;
	if (rc == 0 && (r->n_files != 1 || r->files[0].seeders + r->files[0].leechers < 1))
		rc = client_fail(r, EPROTO, "the tracker does not count our peer");
	if (rc < 0) {
		client_error_prefix(r, "scrape");
		goto out;
	}
	/* Leave no trace: best effort, one try, result ignored. */
	{
		struct client_result ignored;
		client_result_init(&ignored);
		s.tries = 1;
		do_announce(&s, rq, UDP_EVENT_STOPPED, &ignored);
		client_result_free(&ignored);
	}
out:
	session_close(&s);
	return rc;
}

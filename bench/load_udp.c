/* load_udp.c - ringtracker-load's BEP 15 client: one thread's simulated
 * peers, sockets, outstanding requests, and the checks on every reply.
 *
 * What it does: a load thread owns --sockets UDP sockets, each bound to a
 * loopback source (127.0.0.1, or 127.0.0.1 + k with --src-ips, or ::1) with
 * its own ephemeral port and connected to the target, so SO_REUSEPORT on the
 * server spreads the 4-tuples over its workers. A simulated peer p is (socket
 * p mod S, announced port load_peer_port(p), peer id load_peer_id(p)) and
 * belongs to one torrent drawn by Zipf popularity, so swarm sizes are
 * Zipf-distributed too. Each socket connects once and refreshes its
 * connection id every 60 s (while the old one is still used). Requests are
 * announces of random peers (event sequence: load_peer_event) and, every
 * --ratio announces, a scrape of 1..--scrape-hashes Zipf-drawn hashes.
 * Requests sit in a window of --window slots; the transaction id names the
 * slot (low 16 bits) and its use (high 16 bits), so a reply finds its request
 * in O(1). A reply is checked: action, length, announce peers <= numwant and
 * <= seeders + leechers, scrape entries == hashes asked. Requests without a
 * reply after --timeout-ms are lost and free their slot.
 *
 * What it doesn't: no I/O loop (load_udp_uring.c, load_udp_mmsg.c), no
 * protocol encoding of its own (udp.c writes requests and parses replies).
 * Thread: one load thread per engine; create/destroy on the main thread.
 * Memory: the engine owns its sockets, slots (1.5 KiB each) and peer states
 * (8 bytes per simulated peer of the thread).
 * Spec: BEP 15.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "load_udp.h"

/* ------------------------------------------------------------ set-up */

static int fail(struct load_thread *t, int err, const char *what)
{
	t->err = err;
	snprintf(t->err_what, sizeof(t->err_what), "%s", what);
	return err;
}

/* The source address of global socket g: loopback of the target's family
 * (spread over --src-ips IPv4 addresses), or the wildcard for a remote target. */
static void source_addr(const struct load_config *c, uint64_t g, struct netaddr *src)
{
	memset(src, 0, sizeof(*src));
	src->family = c->target.family;
	if (src->family == AF_INET6) {
		if (c->target.ip[15] == 1 && !memcmp(c->target.ip, in6addr_loopback.s6_addr, 16))
			src->ip[15] = 1;
		return;
	}
	if (c->target.ip[0] != 127)
		return;
	uint32_t a = 0x7f000001u + (uint32_t)(g % c->src_ips);
	src->ip[0] = (uint8_t)(a >> 24);
	src->ip[1] = (uint8_t)(a >> 16);
	src->ip[2] = (uint8_t)(a >> 8);
	src->ip[3] = (uint8_t)a;
}

static int open_socket(const struct load_config *c, uint64_t g)
{
	struct sockaddr_storage ss;
	struct netaddr src;
	int fd = socket(c->target.family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	source_addr(c, g, &src);
	socklen_t len = netaddr_to_sockaddr(&src, &ss);
	if (bind(fd, (struct sockaddr *)&ss, len) < 0)
		goto fail_close;
	len = netaddr_to_sockaddr(&c->target, &ss);
	if (connect(fd, (struct sockaddr *)&ss, len) < 0)
		goto fail_close;
	return fd;

fail_close:;
	int err = -errno;
	close(fd);
	return err;
}

static int create_sockets(struct udp_engine *e)
{
	struct load_thread *t = e->t;

	e->n_socks = e->cfg->sockets;
	e->socks = calloc(e->n_socks, sizeof(*e->socks));
	e->due = calloc(e->n_socks, sizeof(*e->due));
	if (!e->socks || !e->due)
		return fail(t, -ENOMEM, "socket table");
	for (uint32_t i = 0; i < e->n_socks; i++)
		e->socks[i].fd = -1;
	for (uint32_t i = 0; i < e->n_socks; i++) {
		int fd = open_socket(e->cfg, (uint64_t)t->index * e->n_socks + i);
		if (fd < 0)
			return fail(t, fd, "UDP socket/bind/connect (too many open files? see --sockets)");
		e->socks[i].fd = fd;
		e->socks[i].due = true;
		e->due[e->due_len++] = i;
	}
	return 0;
}

static int create_slots(struct udp_engine *e)
{
	uint32_t n = e->cfg->window;

	e->slots = calloc(n, sizeof(*e->slots));
	e->free = calloc(n, sizeof(*e->free));
	if (!e->slots || !e->free)
		return fail(e->t, -ENOMEM, "request window");
	for (uint32_t i = 0; i < n; i++)
		e->free[i] = n - 1 - i; /* pop order 0, 1, 2... */
	e->n_free = n;
	return 0;
}

static int create_peers(struct udp_engine *e)
{
	struct load_thread *t = e->t;

	e->peers = calloc(t->n_peers ? t->n_peers : 1, sizeof(*e->peers));
	if (!e->peers)
		return fail(t, -ENOMEM, "peer table");
	for (uint64_t i = 0; i < t->n_peers; i++) {
		e->peers[i].torrent = load_model_sample(t->model, &e->rng);
		e->peers[i].seeder = (uint8_t)(load_rng_next(&e->rng) & 1);
	}
	return 0;
}

int load_udp_setup(struct load_thread *t)
{
	struct udp_engine *e = calloc(1, sizeof(*e));
	int r;

	if (!e)
		return fail(t, -ENOMEM, "engine");
	t->engine = e;
	e->t = t;
	e->cfg = t->cfg;
	e->peer_len = t->cfg->target.family == AF_INET6 ? UDP_PEER6_LEN : UDP_PEER4_LEN;
	load_rng_seed(&e->rng, 0x5eed0000u + t->index);
	if ((r = create_slots(e)) < 0 || (r = create_peers(e)) < 0 || (r = create_sockets(e)) < 0)
		return r;
	return 0;
}

void load_udp_free(struct load_thread *t)
{
	struct udp_engine *e = t->engine;

	if (!e)
		return;
	if (e->socks)
		for (uint32_t i = 0; i < e->n_socks; i++)
			if (e->socks[i].fd >= 0)
				close(e->socks[i].fd);
	free(e->socks);
	free(e->due);
	free(e->slots);
	free(e->free);
	free(e->peers);
	free(e);
	t->engine = NULL;
}

/* ---------------------------------------------------------- requests */

static struct udp_slot *slot_take(struct udp_engine *e, uint32_t sock, uint8_t action, int phase,
				  uint64_t now)
{
	struct udp_slot *s = &e->slots[e->free[--e->n_free]];

	s->gen++;
	s->tid = ((uint32_t)s->gen << 16) | udp_slot_index(e, s);
	s->sock = sock;
	s->action = action;
	s->phase = (uint8_t)phase;
	s->sent_at = now;
	s->awaiting = true;
	s->hashes = 0;
	e->awaiting++;
	return s;
}

/* The request is no longer awaited (reply, loss or send failure): its slot
 * is free again. */
static void slot_settle(struct udp_engine *e, struct udp_slot *s)
{
	s->awaiting = false;
	e->awaiting--;
	e->free[e->n_free++] = udp_slot_index(e, s);
}

static struct udp_slot *make_connect(struct udp_engine *e, uint32_t sock, int phase, uint64_t now)
{
	struct udp_sock *k = &e->socks[sock];
	struct udp_slot *s = slot_take(e, sock, UDP_ACTION_CONNECT, phase, now);

	k->due = false;
	if (k->state == SOCK_READY)
		k->refreshing = true;
	else
		k->state = SOCK_CONNECTING;
	s->len = (uint16_t)udp_write_connect_request(s->buf, sizeof(s->buf), s->tid);
	load_count(&e->t->stats[phase], LC_sent_connect, 1);
	return s;
}

static struct udp_slot *make_announce(struct udp_engine *e, uint64_t local, int phase,
				      uint64_t now, bool first)
{
	const struct load_config *c = e->cfg;
	uint64_t p = e->t->first_peer + local;
	uint32_t sock = (uint32_t)(p % e->n_socks);
	struct load_peer *peer = &e->peers[local];
	struct udp_announce_request r = {
	    .info_hash = e->t->model->hashes[peer->torrent],
	    .key = (uint32_t)p,
	    .num_want = c->numwant,
	    .port = load_peer_port(p, e->n_socks),
	};

	if (first)
		peer->started = 0; /* --populate: every peer joins once */
	r.event = load_peer_event(peer, &e->rng);
	r.left = peer->seeder ? 0 : (1ULL << 30);
	r.downloaded = peer->seeder ? (1ULL << 30) : 0;
	r.uploaded = 1ULL << 20;
	load_peer_id(p, &r.peer_id);
	struct udp_slot *s = slot_take(e, sock, UDP_ACTION_ANNOUNCE, phase, now);
	s->len = (uint16_t)udp_write_announce_request(s->buf, sizeof(s->buf), e->socks[sock].connid,
						      s->tid, &r);
	load_count(&e->t->stats[phase], LC_sent_announce, 1);
	return s;
}

static struct udp_slot *make_scrape(struct udp_engine *e, uint32_t sock, int phase, uint64_t now)
{
	struct info_hash hashes[UDP_SCRAPE_MAX_HASHES];
	uint32_t n = 1 + load_rng_below(&e->rng, e->cfg->scrape_hashes);

	for (uint32_t i = 0; i < n; i++)
		hashes[i] = e->t->model->hashes[load_model_sample(e->t->model, &e->rng)];
	struct udp_slot *s = slot_take(e, sock, UDP_ACTION_SCRAPE, phase, now);
	s->hashes = (uint8_t)n;
	s->len = (uint16_t)udp_write_scrape_request(s->buf, sizeof(s->buf), e->socks[sock].connid,
						    s->tid, hashes, n);
	load_count(&e->t->stats[phase], LC_sent_scrape, 1);
	return s;
}

static bool scrape_turn(struct udp_engine *e)
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

#define PICK_TRIES 8

/* --populate: peers in order, each once, as soon as its socket has an id. */
static struct udp_slot *next_population(struct udp_engine *e, uint64_t now, int phase)
{
	if (e->next_peer >= e->t->n_peers) {
		e->exhausted = true;
		return NULL;
	}
	uint32_t sock = (uint32_t)((e->t->first_peer + e->next_peer) % e->n_socks);
	if (e->socks[sock].state != SOCK_READY)
		return NULL;
	return make_announce(e, e->next_peer++, phase, now, true);
}

struct udp_slot *udp_next_request(struct udp_engine *e, uint64_t now, int phase)
{
	if (e->n_free == 0)
		return NULL;
	if (e->due_len) {
		uint32_t sock = e->due[e->due_head];
		e->due_head = (e->due_head + 1) % e->n_socks;
		e->due_len--;
		return make_connect(e, sock, phase, now);
	}
	if (e->cfg->populate)
		return next_population(e, now, phase);
	if (e->t->n_peers == 0)
		return NULL;
	bool scrape = scrape_turn(e);
	/* A peer whose socket has no id yet (start-up, lost connect) waits. */
	for (int i = 0; i < PICK_TRIES; i++) {
		uint64_t local = load_rng_below(&e->rng, (uint32_t)e->t->n_peers);
		uint32_t sock = (uint32_t)((e->t->first_peer + local) % e->n_socks);
		if (e->socks[sock].state != SOCK_READY)
			continue;
		return scrape ? make_scrape(e, sock, phase, now)
			      : make_announce(e, local, phase, now, false);
	}
	return NULL;
}

void udp_send_failed(struct udp_engine *e, uint32_t tid, int res)
{
	uint32_t i = tid & 0xffff;
	struct udp_slot *s = i < e->cfg->window ? &e->slots[i] : NULL;

	(void)res;
	if (!s || !s->awaiting || s->tid != tid)
		return; /* already settled */
	load_count(&e->t->stats[s->phase], LC_send_errors, 1);
	if (s->action != UDP_ACTION_CONNECT)
		slot_settle(e, s);
}

/* ------------------------------------------------------------ replies */

static void queue_connect(struct udp_engine *e, uint32_t sock)
{
	struct udp_sock *k = &e->socks[sock];

	if (k->due)
		return;
	k->due = true;
	e->due[(e->due_head + e->due_len) % e->n_socks] = sock;
	e->due_len++;
}

static bool check_announce(struct udp_engine *e, const struct udp_response *r,
			   struct load_stats *st)
{
	size_t k = r->announce.peers_len / e->peer_len;
	uint64_t swarm = (uint64_t)r->announce.seeders + r->announce.leechers;

	if (r->announce.peers_len % e->peer_len != 0 || r->announce.interval == 0)
		return false;
	if (e->cfg->numwant >= 0 && k > (size_t)e->cfg->numwant)
		return false;
	if (k > swarm)
		return false;
	load_count(st, LC_peers_returned, k);
	return true;
}

/* Checks a reply of the expected action; true when valid. */
static bool check_reply(struct udp_engine *e, struct udp_slot *s, const struct udp_response *r,
			uint64_t now, struct load_stats *st)
{
	struct udp_sock *k = &e->socks[s->sock];

	switch (s->action) {
	case UDP_ACTION_CONNECT:
		k->connid = r->connection_id;
		k->connid_at = now;
		k->state = SOCK_READY;
		k->refreshing = false;
		return true;
	case UDP_ACTION_ANNOUNCE:
		return check_announce(e, r, st);
	case UDP_ACTION_SCRAPE:
		return r->scrape.count == s->hashes;
	default:
		return false;
	}
}

static const enum load_counter ok_counter[] = {
    [UDP_ACTION_CONNECT] = LC_ok_connect,
    [UDP_ACTION_ANNOUNCE] = LC_ok_announce,
    [UDP_ACTION_SCRAPE] = LC_ok_scrape,
};

/* A reply that matched no awaited request. */
static void unmatched(struct udp_engine *e, uint32_t tid, uint64_t now)
{
	uint32_t i = tid & 0xffff;
	int phase = load_phase(e->t, now);
	struct load_stats *st = &e->t->stats[phase < 0 ? LOAD_PHASE_MEASURE : phase];

	if (i < e->cfg->window && e->slots[i].expired_tid == tid)
		load_count(st, LC_late, 1);
	else
		load_count(st, LC_unknown, 1);
}

/* An error reply or one that does not fit: counted; a connect's socket is
 * asked to connect again. */
static void reply_failed(struct udp_engine *e, struct udp_slot *s, enum load_counter what)
{
	load_count(&e->t->stats[s->phase], what, 1);
	if (s->action == UDP_ACTION_CONNECT) {
		struct udp_sock *k = &e->socks[s->sock];
		k->refreshing = false;
		if (k->state == SOCK_CONNECTING)
			k->state = SOCK_NEW;
		queue_connect(e, s->sock);
	}
}

void udp_on_reply(struct udp_engine *e, uint32_t sock, const uint8_t *buf, size_t len,
		  uint64_t now)
{
	struct udp_response r;
	int err = udp_parse_response(buf, len, &r);

	if (len < 8) {
		/* Too short to carry a transaction id: matches nothing. */
		int phase = load_phase(e->t, now);
		load_count(&e->t->stats[phase < 0 ? LOAD_PHASE_MEASURE : phase], LC_malformed, 1);
		return;
	}
	uint32_t i = r.transaction_id & 0xffff;
	struct udp_slot *s = i < e->cfg->window ? &e->slots[i] : NULL;
	if (!s || !s->awaiting || s->tid != r.transaction_id) {
		unmatched(e, r.transaction_id, now);
		return;
	}
	struct load_stats *st = &e->t->stats[s->phase];
	if (now - s->sent_at >= (uint64_t)e->cfg->timeout_ms * 1000000ULL) {
		/* Past the timeout but not yet swept: lost, and its reply late. */
		load_count(st, LC_late, 1);
		s->expired_tid = s->tid;
		reply_failed(e, s, LC_lost);
		slot_settle(e, s);
		return;
	}
	if (s->sock != sock)
		load_count(st, LC_wrong_socket, 1);
	if (err == 0 && r.action == UDP_ACTION_ERROR) {
		load_stats_note_error(st, r.error.message, r.error.len);
		reply_failed(e, s, LC_errors);
	} else if (err < 0 || r.action != (enum udp_action)s->action ||
		   !check_reply(e, s, &r, now, st)) {
		reply_failed(e, s, LC_malformed);
	} else {
		load_count(st, ok_counter[s->action], 1);
		load_hist_add(&st->hist, now > s->sent_at ? now - s->sent_at : 0);
	}
	slot_settle(e, s);
}

/* ------------------------------------------------------ housekeeping */

static void expire(struct udp_engine *e, uint64_t now)
{
	uint64_t timeout = (uint64_t)e->cfg->timeout_ms * 1000000ULL;

	for (uint32_t i = 0; i < e->cfg->window; i++) {
		struct udp_slot *s = &e->slots[i];
		if (!s->awaiting || now - s->sent_at < timeout)
			continue;
		s->expired_tid = s->tid;
		reply_failed(e, s, LC_lost);
		slot_settle(e, s);
	}
}

static void refresh_ids(struct udp_engine *e, uint64_t now)
{
	for (uint32_t i = 0; i < e->n_socks; i++) {
		struct udp_sock *k = &e->socks[i];
		if (k->state == SOCK_READY && !k->refreshing &&
		    now - k->connid_at >= UDP_CONNID_REFRESH_NS)
			queue_connect(e, i);
	}
}

void udp_housekeeping(struct udp_engine *e, uint64_t now)
{
	if (now - e->last_expire < UDP_EXPIRE_EVERY_NS)
		return;
	e->last_expire = now;
	expire(e, now);
	if (now - e->last_refresh >= 1000000000ULL) {
		e->last_refresh = now;
		refresh_ids(e, now);
	}
}

/* ------------------------------------------------------------ the run */

void load_udp_run(struct load_thread *t)
{
	struct udp_engine *e = t->engine;
	int r = t->cfg->io == LOAD_IO_URING ? udp_uring_run(e) : udp_mmsg_run(e);

	if (r < 0 && !t->err)
		fail(t, r, t->cfg->io == LOAD_IO_URING ? "io_uring set-up" : "epoll set-up");
	if (!t->stopped_at)
		t->stopped_at = load_now_ns();
}

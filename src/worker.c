/* worker.c - one pinned worker: io_uring event loop, BEP 15 request
 * handling, swarm shard, and its ends of the handoff rings.
 *
 * What it does: receives UDP datagrams with one multishot recvmsg per
 * socket (registered as a fixed file) over a provided buffer ring; parses
 * them (udp.c); answers connects itself; checks connection ids (connid.c);
 * does the swarm work for torrents it owns (swarm.c) and posts the others
 * to their owner over an SPSC ring (spsc.c). The owner sends the UDP reply
 * from its own socket bound to the same address, so a handoff is one-way.
 * A scrape whose hashes span shards travels as a chain: each owner fills in
 * its hashes and passes the rest on; the last one replies. Replies are
 * queued as send-with-destination SQEs (sendto) and submitted once per
 * loop turn.
 *
 * What it doesn't: HTTP (worker_http.c), gauges and the busiest-torrents
 * scan for the metrics endpoint (worker_metrics.c).
 *
 * Threads: everything here runs on the worker's own thread, except
 * worker_create/worker_destroy (main thread, before start / after join).
 * The ring is SINGLE_ISSUER | DEFER_TASKRUN: only this thread touches it.
 * Another worker wakes a sleeping one with IORING_OP_MSG_RING, and only when
 * the sleeper has announced it is about to sleep (no syscall per message).
 *
 * Memory: the worker owns its ring, buffer ring, receive buffers, send slots
 * and swarm shard; its UDP sockets are handed over by server.c.
 *
 * Spec: BEP 15 (UDP tracker protocol), BEP 41 (options tolerated).
 */
#include "worker.h"

#include <errno.h>
#include <liburing.h>
#include <netinet/in.h>
#include <sched.h>
#include <sodium.h>
#include <stdalign.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "netaddr.h"
#include "ringutil.h"
#include "swarm.h"
#include "udp.h"
#include "worker_internal.h"

/* Incremental expiry is paced by time, not by loop turns: one pass over
 * the whole table every SWEEP_PASS_MS, spread over the turns in between, so
 * a busy worker does not rescan its table many times a second. A peer thus
 * expires at most SWEEP_PASS_MS after its timeout. */
#define SWEEP_PASS_MS 30000
#define SWEEP_MIN_PER_S 4096 /* slots a second, however small the table */
#define SWEEP_MAX_TURN 65536 /* slots in one turn, to bound its latency */

/* ---------------------------------------------------------------- helpers */

static uint32_t clock_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (uint32_t)ts.tv_sec;
}

unsigned worker_owner(const uint8_t shard_key[16], const struct info_hash *ih, unsigned n)
{
	uint8_t out[crypto_shorthash_BYTES];
	uint64_t h;

	if (n <= 1)
		return 0;
	crypto_shorthash(out, ih->b, sizeof(ih->b), shard_key);
	memcpy(&h, out, sizeof(h));
	return (unsigned)((h >> 32) % n);
}

static bool is_v6(const struct netaddr *a)
{
	return a->family == AF_INET6;
}

static void count_by_family(struct worker *w, enum counter_id v4, enum counter_id v6,
			    const struct netaddr *a)
{
	counters_inc(&w->counters, is_v6(a) ? v6 : v4);
}

/* ------------------------------------------------------------ send slots */

/* Slots are taken from the free list first, then from the never-used tail
 * (slots_fresh on), so a slot's pages are touched only once it is needed:
 * an idle or lightly loaded worker keeps most of the 4096 x 1.7 KiB
 * untouched (not resident). */
static struct send_slot *slot_get(struct worker *w)
{
	struct send_slot *s;

	if (w->free_slot != UINT32_MAX) {
		s = &w->slots[w->free_slot];
		w->free_slot = s->next_free;
		return s;
	}
	if (w->slots_fresh < w->cfg->send_slots)
		return &w->slots[w->slots_fresh++];
	counters_inc(&w->counters, CTR_send_no_slot);
	return NULL;
}

static void slot_put(struct worker *w, struct send_slot *s)
{
	s->next_free = w->free_slot;
	w->free_slot = (uint32_t)(s - w->slots);
}

struct io_uring_sqe *worker_get_sqe(struct worker *w)
{
	return ringutil_get_sqe(&w->ring);
}

/* Queues slot's len bytes to origin's client from our socket of the same
 * listener. Takes the slot in every case. */
static void udp_send(struct worker *w, const struct udp_origin *o, struct send_slot *s, size_t len)
{
	struct io_uring_sqe *sqe = worker_get_sqe(w);

	if (!sqe) {
		counters_inc(&w->counters, CTR_send_no_sqe);
		slot_put(w, s);
		return;
	}
	/* A send with a destination (sendto; the 2.3 header has no helper):
	 * no msghdr or iovec for the kernel to copy in. */
	io_uring_prep_send(sqe, (int)o->listener, s->data, len, 0);
	sqe->flags |= IOSQE_FIXED_FILE;
	sqe->addr2 = (uint64_t)(uintptr_t)&s->addr;
	sqe->addr_len = (uint16_t)netaddr_to_sockaddr(&o->client, &s->addr);
	io_uring_sqe_set_data64(sqe, UD_MAKE(UD_SEND, s - w->slots));
	counters_inc(&w->counters, CTR_udp_tx_packets);
	counters_add(&w->counters, CTR_udp_tx_bytes, len);
}

/* An error reply; reason is the counter of its cause (CTR_udp_error_*). */
static void udp_send_error(struct worker *w, const struct udp_origin *o, enum counter_id reason,
			   const char *msg)
{
	struct send_slot *s = slot_get(w);

	if (!s)
		return;
	int len = udp_write_error(s->data, sizeof(s->data), o->transaction_id, msg);
	if (len < 0) {
		slot_put(w, s);
		return;
	}
	counters_inc(&w->counters, CTR_udp_error_replies);
	counters_inc(&w->counters, reason);
	udp_send(w, o, s, (size_t)len);
}

/* --------------------------------------------------------------- handoff */

/* Reserves a record on the ring to worker `to`; NULL (counted) when full. */
void *worker_handoff_reserve(struct worker *w, unsigned to, size_t len, enum handoff_type type)
{
	void *p = spsc_reserve(w->out[to], (uint32_t)len, (uint16_t)type);

	if (!p) {
		counters_inc(&w->counters, CTR_handoff_dropped);
		return NULL;
	}
	w->out_dirty[to] = true;
	counters_inc(&w->counters, CTR_handoff_sent);
	return p;
}

/* Publishes every ring written this turn and wakes owners that sleep. */
static void handoff_flush(struct worker *w)
{
	for (unsigned j = 0; j < w->sh->n_workers; j++) {
		if (!w->out_dirty[j])
			continue;
		w->out_dirty[j] = false;
		spsc_publish(w->out[j]);
		/* Pairs with the fence in worker_sleep: publish, then look. */
		atomic_thread_fence(memory_order_seq_cst);
		struct worker *peer = w->sh->workers[j];
		if (!atomic_load_explicit(&peer->sleeping, memory_order_relaxed) ||
		    !atomic_exchange(&peer->sleeping, 0))
			continue;
		struct io_uring_sqe *sqe = worker_get_sqe(w);
		if (!sqe)
			continue; /* it wakes within WORKER_IDLE_MS anyway */
		io_uring_prep_msg_ring(sqe, peer->ring_fd, 0, UD_MAKE(UD_WAKE, w->id), 0);
		io_uring_sqe_set_data64(sqe, UD_MAKE(UD_OTHER, 0));
		sqe->flags |= IOSQE_CQE_SKIP_SUCCESS;
		counters_inc(&w->counters, CTR_handoff_wakeups);
	}
}

/* ------------------------------------------------------------- announces */

/* Peers that fit a reply without IP fragmentation, by family. */
static uint32_t numwant_fit(const struct netaddr *client)
{
	if (is_v6(client))
		return (SEND_DATA_MAX_V6 - UDP_ANNOUNCE_RESPONSE_HEADER) / UDP_PEER6_LEN;
	return (SEND_DATA_MAX - UDP_ANNOUNCE_RESPONSE_HEADER) / UDP_PEER4_LEN;
}

const char *worker_limit_message(struct worker *w, int err)
{
	switch (err) {
	case -ENOSPC:
		counters_inc(&w->counters, CTR_limit_torrents);
		return "tracker full: torrent limit reached";
	case -EDQUOT:
		counters_inc(&w->counters, CTR_limit_peers);
		return "swarm full: peer limit reached";
	default:
		counters_inc(&w->counters, CTR_limit_memory);
		return "tracker full: memory limit reached";
	}
}

/* The owner's part of an announce: swarm update and the reply. */
static void announce_owned(struct worker *w, const struct udp_origin *o,
			   const struct swarm_announce *a)
{
	struct send_slot *s = slot_get(w);
	struct swarm_counts counts;

	if (!s) {
		/* No room for the reply (counted): the swarm still learns of the
		 * announce, so a stopped or completed event is never lost. */
		swarm_announce(w->swarm, a, w->now, NULL, 0, &counts);
		return;
	}
	size_t cap = (is_v6(&o->client) ? SEND_DATA_MAX_V6 : SEND_DATA_MAX) -
		     UDP_ANNOUNCE_RESPONSE_HEADER;
	int n = swarm_announce(w->swarm, a, w->now, s->data + UDP_ANNOUNCE_RESPONSE_HEADER, cap,
			       &counts);
	if (n < 0) {
		slot_put(w, s);
		udp_send_error(w, o, CTR_udp_error_limit, worker_limit_message(w, n));
		return;
	}
	udp_write_announce_header(s->data, sizeof(s->data), o->transaction_id,
				  w->cfg->announce_interval, counts.leechers, counts.seeders);
	count_by_family(w, CTR_udp_announce_replies_v4, CTR_udp_announce_replies_v6, &o->client);
	udp_send(w, o, s, UDP_ANNOUNCE_RESPONSE_HEADER + (size_t)n);
}

static void announce_received(struct worker *w, const struct udp_origin *o,
			      const struct udp_announce_request *r)
{
	struct swarm_announce a = {
		.info_hash = r->info_hash,
		.peer = o->client,
		.event = (enum swarm_event)r->event,
		.seeder = r->left == 0,
	};
	uint32_t numwant = r->num_want < 0 ? w->cfg->numwant_default : (uint32_t)r->num_want;

	a.peer.port = r->port; /* the source address, the announced port */
	if (numwant > w->cfg->numwant_max)
		numwant = w->cfg->numwant_max;
	if (numwant > numwant_fit(&o->client))
		numwant = numwant_fit(&o->client);
	a.numwant = numwant;

	unsigned owner = worker_owner(w->sh->shard_key, &a.info_hash, w->sh->n_workers);
	if (owner == w->id) {
		announce_owned(w, o, &a);
		return;
	}
	struct handoff_udp_announce *h =
		worker_handoff_reserve(w, owner, sizeof(*h), HANDOFF_UDP_ANNOUNCE);
	if (h) {
		h->origin = *o;
		h->announce = a;
	}
}

/* --------------------------------------------------------------- scrapes */

size_t worker_scrape_len(uint32_t count)
{
	return sizeof(struct handoff_scrape) + count * sizeof(struct http_scrape_file);
}

static bool scrape_done(const struct handoff_scrape *s, uint32_t i)
{
	return (s->done[i / 64] >> (i % 64)) & 1;
}

unsigned worker_scrape_fill(struct worker *w, struct handoff_scrape *s)
{
	unsigned next = w->id;

	for (uint32_t i = 0; i < s->count; i++) {
		if (scrape_done(s, i))
			continue;
		struct http_scrape_file *f = &s->files[i];
		unsigned owner = worker_owner(w->sh->shard_key, &f->info_hash, w->sh->n_workers);
		if (owner != w->id) {
			if (next == w->id)
				next = owner;
			continue;
		}
		struct swarm_counts c;
		swarm_scrape(w->swarm, &f->info_hash, &c);
		f->complete = c.seeders;
		f->downloaded = c.downloaded;
		f->incomplete = c.leechers;
		s->done[i / 64] |= 1ULL << (i % 64);
	}
	return next;
}

static void scrape_udp_reply(struct worker *w, const struct handoff_scrape *s)
{
	struct udp_scrape_entry entries[UDP_SCRAPE_MAX_HASHES];
	struct send_slot *slot = slot_get(w);

	if (!slot)
		return;
	for (uint32_t i = 0; i < s->count && i < UDP_SCRAPE_MAX_HASHES; i++)
		entries[i] = (struct udp_scrape_entry){
			.seeders = s->files[i].complete,
			.completed = s->files[i].downloaded,
			.leechers = s->files[i].incomplete,
		};
	int len = udp_write_scrape(slot->data, sizeof(slot->data), s->udp.transaction_id, entries,
				   s->count);
	if (len < 0) {
		slot_put(w, slot);
		return;
	}
	count_by_family(w, CTR_udp_scrape_replies_v4, CTR_udp_scrape_replies_v6, &s->udp.client);
	udp_send(w, &s->udp, slot, (size_t)len);
}

/* One step of a scrape at this worker: fill what we own, then pass the
 * record on to the next owner, or finish it (UDP: reply from here; HTTP:
 * back to the connection's worker, or answer if that is us). */
static void scrape_step(struct worker *w, struct handoff_scrape *s)
{
	unsigned next = worker_scrape_fill(w, s);

	if (next == w->id && s->reply == SCRAPE_REPLY_HTTP)
		next = s->http.worker;
	if (next != w->id) {
		size_t len = worker_scrape_len(s->count);
		void *h = worker_handoff_reserve(w, next, len, HANDOFF_SCRAPE);
		if (h)
			memcpy(h, s, len);
		return;
	}
	if (s->reply == SCRAPE_REPLY_UDP)
		scrape_udp_reply(w, s);
	else
		worker_http_scrape_done(w, s);
}

static void scrape_received(struct worker *w, const struct udp_origin *o,
			    const struct udp_scrape_request *r)
{
	/* Built on the stack, copied to a ring only if another shard is involved. */
	union {
		struct handoff_scrape s;
		uint8_t bytes[sizeof(struct handoff_scrape) +
			      UDP_SCRAPE_MAX_HASHES * sizeof(struct http_scrape_file)];
	} u;

	memset(&u.s, 0, sizeof(u.s));
	u.s.reply = SCRAPE_REPLY_UDP;
	u.s.udp = *o;
	u.s.count = r->count;
	for (uint32_t i = 0; i < r->count; i++)
		u.s.files[i] = (struct http_scrape_file){ .info_hash = r->hashes[i] };
	scrape_step(w, &u.s);
}

/* ---------------------------------------------------------- UDP requests */

static void count_malformed(struct worker *w, enum udp_parse_error e)
{
	static const enum counter_id ids[UDP_PARSE_ERROR_COUNT] = {
		[UDP_PARSE_RUNT] = CTR_udp_malformed_runt,
		[UDP_PARSE_OVERSIZED] = CTR_udp_malformed_oversized,
		[UDP_PARSE_BAD_MAGIC] = CTR_udp_malformed_bad_magic,
		[UDP_PARSE_BAD_LENGTH] = CTR_udp_malformed_bad_length,
		[UDP_PARSE_BAD_ACTION] = CTR_udp_malformed_bad_action,
		[UDP_PARSE_BAD_EVENT] = CTR_udp_malformed_bad_event,
	};

	if (e > UDP_PARSE_OK && e < UDP_PARSE_ERROR_COUNT)
		counters_inc(&w->counters, ids[e]);
}

/* Checks a request's connection id; counts a failure. */
static bool connid_ok(struct worker *w, const struct netaddr *client, uint64_t id)
{
	int r = connid_check(&w->sh->connid_key, client, id, w->now, w->cfg->connid_lifetime,
			     w->cfg->connid_grace);

	if (r == 0)
		return true;
	counters_inc(&w->counters, r == -ETIMEDOUT ? CTR_udp_connid_expired : CTR_udp_connid_invalid);
	return false;
}

/* A request that did not parse. It is answered only when it carries a valid
 * connection id (the source address is then proven); otherwise dropped, so
 * the tracker never reflects junk at a spoofed address. */
static void udp_malformed(struct worker *w, const struct udp_origin *o,
			  const struct udp_request *req, enum udp_parse_error e)
{
	char msg[64];

	count_malformed(w, e);
	if (e == UDP_PARSE_RUNT || e == UDP_PARSE_BAD_MAGIC ||
	    connid_check(&w->sh->connid_key, &o->client, req->connection_id, w->now,
			 w->cfg->connid_lifetime, w->cfg->connid_grace) != 0) {
		counters_inc(&w->counters, CTR_udp_dropped_unverified);
		return;
	}
	snprintf(msg, sizeof(msg), "malformed request: %s", udp_parse_error_name(e));
	udp_send_error(w, o, CTR_udp_error_malformed, msg);
}

static void udp_connect(struct worker *w, const struct udp_origin *o)
{
	struct send_slot *s = slot_get(w);

	count_by_family(w, CTR_udp_connect_v4, CTR_udp_connect_v6, &o->client);
	if (!s)
		return;
	uint64_t id = connid_make(&w->sh->connid_key, &o->client, w->now);
	int len = udp_write_connect(s->data, sizeof(s->data), o->transaction_id, id);
	count_by_family(w, CTR_udp_connect_replies_v4, CTR_udp_connect_replies_v6, &o->client);
	udp_send(w, o, s, (size_t)len);
}

static void udp_request(struct worker *w, unsigned listener, const struct netaddr *client,
			const uint8_t *p, size_t len)
{
	struct udp_request req;
	struct udp_origin o = { .client = *client, .listener = (uint16_t)listener };

	counters_inc(&w->counters, CTR_udp_rx_packets);
	counters_add(&w->counters, CTR_udp_rx_bytes, len);
	enum udp_parse_error e = udp_parse_request(p, len, &req);
	o.transaction_id = req.transaction_id;
	if (e != UDP_PARSE_OK) {
		udp_malformed(w, &o, &req, e);
		return;
	}
	if (req.action == UDP_ACTION_CONNECT) {
		udp_connect(w, &o);
		return;
	}
	if (req.action == UDP_ACTION_ANNOUNCE)
		count_by_family(w, CTR_udp_announce_v4, CTR_udp_announce_v6, client);
	else
		count_by_family(w, CTR_udp_scrape_v4, CTR_udp_scrape_v6, client);
	if (!connid_ok(w, client, req.connection_id)) {
		udp_send_error(w, &o, CTR_udp_error_connid, "invalid connection id");
		return;
	}
	if (req.action == UDP_ACTION_ANNOUNCE)
		announce_received(w, &o, &req.announce);
	else
		scrape_received(w, &o, &req.scrape);
}

/* One record another worker handed to us. Records are checked for their
 * size: a ring only carries what workers wrote, but a mismatch must never
 * read past the record. */
static void handoff_dispatch(struct worker *w, void *p, uint32_t len, uint16_t type)
{
	switch (type) {
	case HANDOFF_UDP_ANNOUNCE:
		if (len == sizeof(struct handoff_udp_announce)) {
			const struct handoff_udp_announce *h = p;
			announce_owned(w, &h->origin, &h->announce);
		}
		break;
	case HANDOFF_SCRAPE: {
		struct handoff_scrape *s = p;
		if (len >= sizeof(*s) && s->count <= HTTP_SCRAPE_MAX &&
		    len == worker_scrape_len(s->count))
			scrape_step(w, s); /* ours until release: edited in place */
		break;
	}
	case HANDOFF_HTTP_ANNOUNCE:
		if (len == sizeof(struct handoff_http_announce))
			worker_http_announce_owned(w, p);
		break;
	case HANDOFF_HTTP_ANSWER:
		if (len >= sizeof(struct handoff_http_answer))
			worker_http_answer(w, p, len);
		break;
	case HANDOFF_LIST_ASK:
		if (len == sizeof(struct handoff_list_ask))
			worker_http_list_ask(w, p);
		break;
	case HANDOFF_LIST_CHUNK:
		if (len >= sizeof(struct handoff_list_chunk))
			worker_http_list_chunk(w, p, len);
		break;
	default:
		break;
	}
}

/* Requests and answers other workers handed to us. */
static bool handoff_drain(struct worker *w)
{
	bool any = false;

	for (unsigned j = 0; j < w->sh->n_workers; j++) {
		if (j == w->id)
			continue;
		const void *p;
		uint32_t len;
		uint16_t type;
		while ((p = spsc_next(w->in[j], &len, &type))) {
			any = true;
			counters_inc(&w->counters, CTR_handoff_received);
			handoff_dispatch(w, (void *)p, len, type);
		}
		spsc_release(w->in[j]);
	}
	return any;
}

/* ------------------------------------------------------------ completions */

static void recv_arm(struct worker *w, unsigned listener)
{
	struct io_uring_sqe *sqe = worker_get_sqe(w);

	if (!sqe) {
		w->rearm[listener] = true; /* try again next turn */
		return;
	}
	io_uring_prep_recvmsg_multishot(sqe, (int)listener, &w->recv_msg, 0);
	sqe->flags |= IOSQE_FIXED_FILE | IOSQE_BUFFER_SELECT;
	sqe->buf_group = RECV_BGID;
	io_uring_sqe_set_data64(sqe, UD_MAKE(UD_RECV, listener));
	w->rearm[listener] = false;
}

static void recv_completion(struct worker *w, const struct io_uring_cqe *cqe)
{
	unsigned listener = UD_INDEX(cqe->user_data);

	if (!(cqe->flags & IORING_CQE_F_MORE)) {
		/* Ended: by -ENOBUFS, an error, or a 0-byte datagram. */
		w->rearm[listener] = true;
		counters_inc(&w->counters, CTR_recv_rearm);
	}
	if (cqe->res < 0) {
		counters_inc(&w->counters,
			     cqe->res == -ENOBUFS ? CTR_recv_enobufs : CTR_recv_errors);
		return;
	}
	if (!(cqe->flags & IORING_CQE_F_BUFFER))
		return;

	unsigned bid = cqe->flags >> IORING_CQE_BUFFER_SHIFT;
	uint8_t *buf = bufring_buf(&w->recv_bufs, bid);
	struct io_uring_recvmsg_out *out = io_uring_recvmsg_validate(buf, cqe->res, &w->recv_msg);
	struct netaddr client;

	if (out && out->namelen <= RECV_NAMELEN &&
	    netaddr_from_sockaddr(io_uring_recvmsg_name(out), out->namelen, &client) == 0) {
		const uint8_t *payload = io_uring_recvmsg_payload(out, &w->recv_msg);
		size_t len = io_uring_recvmsg_payload_length(out, cqe->res, &w->recv_msg);
		/* Cut to fit the buffer: the length alone makes it oversized, and
		 * the parser then reads only the 16-byte header. */
		if ((out->flags & MSG_TRUNC) || len > UDP_REQUEST_MAX)
			len = UDP_REQUEST_MAX + 1;
		udp_request(w, listener, &client, payload, len);
	} else {
		counters_inc(&w->counters, CTR_recv_errors);
	}
	bufring_return(&w->recv_bufs, bid);
}

/* When the completion after the current one (at head) is a datagram that
 * looks like an announce, starts loading its torrent's record into the cache
 * (swarm_prefetch), so that the miss overlaps the current request's work;
 * a torrent another worker owns is left alone. Only a hint: nothing is
 * trusted or counted here, recv_completion checks. */
static void recv_prefetch_next(struct worker *w, unsigned head)
{
	struct io_uring *ring = &w->ring;
	const struct io_uring_cqe *cqe;
	const struct io_uring_recvmsg_out *out;
	const struct info_hash *ih;
	const uint8_t *buf, *p;
	uint32_t action;

	if (head + 1 == io_uring_smp_load_acquire(ring->cq.ktail))
		return;
	cqe = &ring->cq.cqes[io_uring_cqe_index(ring, head + 1, ring->cq.ring_mask)];
	if (UD_KIND(cqe->user_data) != UD_RECV || !(cqe->flags & IORING_CQE_F_BUFFER) ||
	    (cqe->flags >> IORING_CQE_BUFFER_SHIFT) >= w->recv_bufs.n)
		return;
	buf = bufring_buf(&w->recv_bufs, cqe->flags >> IORING_CQE_BUFFER_SHIFT);
	out = io_uring_recvmsg_validate((void *)buf, cqe->res, &w->recv_msg);
	if (!out || io_uring_recvmsg_payload_length((void *)out, cqe->res, &w->recv_msg) <
			UDP_ANNOUNCE_REQUEST_LEN)
		return;
	p = io_uring_recvmsg_payload((void *)out, &w->recv_msg);
	memcpy(&action, p + 8, sizeof(action));
	if (action != htonl(UDP_ACTION_ANNOUNCE))
		return;
	ih = (const struct info_hash *)(p + 16);
	if (worker_owner(w->sh->shard_key, ih, w->sh->n_workers) == w->id)
		swarm_prefetch(w->swarm, ih);
}

static void send_completion(struct worker *w, const struct io_uring_cqe *cqe)
{
	uint32_t i = UD_INDEX(cqe->user_data);

	if (cqe->res < 0)
		counters_inc(&w->counters, CTR_send_errors);
	if (i < w->cfg->send_slots)
		slot_put(w, &w->slots[i]);
}

/* Handles every completion ready now; returns how many. */
static unsigned completions_drain(struct worker *w)
{
	struct io_uring_cqe *cqe;
	unsigned head, n = 0;

	io_uring_for_each_cqe(&w->ring, head, cqe)
	{
		n++;
		switch (UD_KIND(cqe->user_data)) {
		case UD_RECV:
			recv_prefetch_next(w, head);
			recv_completion(w, cqe);
			break;
		case UD_SEND:
			send_completion(w, cqe);
			break;
		case UD_HTTP_ACCEPT:
		case UD_HTTP_RECV:
		case UD_HTTP_SEND:
			worker_http_completion(w, cqe);
			break;
		default:
			break; /* wake-ups and skipped successes */
		}
	}
	io_uring_cq_advance(&w->ring, n);
	bufring_publish(&w->recv_bufs);
	for (unsigned k = 0; k < w->n_udp; k++)
		if (w->rearm[k])
			recv_arm(w, k);
	return n;
}

/* This shard's part of the process-wide limits. */
static struct swarm_config shard_config(const struct worker *w)
{
	const struct config *c = w->cfg;
	unsigned n = w->sh->n_workers;

	return (struct swarm_config){
		.peer_timeout = c->peer_timeout,
		.max_torrents = (uint32_t)((c->max_torrents + n - 1) / n),
		.max_peers = c->max_peers_per_torrent,
		.memory_budget = c->memory_budget / n,
	};
}

/* Picks up a configuration the main thread published (SIGHUP reload). The
 * old one stays valid: the main thread frees retired configurations only
 * after the workers have stopped. */
static void config_refresh(struct worker *w)
{
	const struct config *c = atomic_load_explicit(&w->sh->live_cfg, memory_order_acquire);

	if (!c || c == w->cfg)
		return;
	w->cfg = c;
	struct swarm_config sc = shard_config(w);
	swarm_set_config(w->swarm, &sc);
}

/* Milliseconds of the coarse monotonic clock. */
static uint64_t clock_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Expiry work earned since the last turn (see SWEEP_PASS_MS). */
static void sweep(struct worker *w)
{
	struct swarm_stats st;
	uint64_t ms = clock_ms();

	swarm_stats(w->swarm, &st);
	uint64_t per_s = st.slots * 1000 / SWEEP_PASS_MS;
	if (per_s < SWEEP_MIN_PER_S)
		per_s = SWEEP_MIN_PER_S;
	w->sweep_credit += per_s * (ms - w->sweep_ms) / 1000;
	w->sweep_ms = ms;
	if (w->sweep_credit > SWEEP_MAX_TURN)
		w->sweep_credit = SWEEP_MAX_TURN;
	if (w->sweep_credit < 64)
		return; /* batch small amounts */
	size_t expired = swarm_sweep(w->swarm, w->now, w->sweep_credit);
	w->sweep_credit = 0;
	counters_add(&w->counters, CTR_peers_expired, expired);
}

/* ------------------------------------------------------------- the loop */

static bool inbox_empty(struct worker *w)
{
	for (unsigned j = 0; j < w->sh->n_workers; j++)
		if (j != w->id && !spsc_empty(w->in[j]))
			return false;
	return true;
}

/* Submits and sleeps until a completion, a wake-up or WORKER_IDLE_MS. */
static void worker_sleep(struct worker *w)
{
	struct __kernel_timespec ts = { .tv_sec = 0, .tv_nsec = WORKER_IDLE_MS * 1000000L };
	struct io_uring_cqe *cqe;

	atomic_store(&w->sleeping, 1);
	/* Pairs with the fence in handoff_flush: say we sleep, then look. */
	atomic_thread_fence(memory_order_seq_cst);
	if (!inbox_empty(w)) {
		atomic_store(&w->sleeping, 0);
		io_uring_submit(&w->ring);
		return;
	}
	io_uring_submit_and_wait_timeout(&w->ring, &cqe, 1, &ts, NULL);
	atomic_store(&w->sleeping, 0);
}

static void worker_loop(struct worker *w)
{
	while (!atomic_load_explicit(&w->sh->stop, memory_order_relaxed)) {
		counters_inc(&w->counters, CTR_loop_turns);
		w->now = clock_seconds();
		config_refresh(w);
		/* Completions first: finished sends give their slots back before
		 * the handed-over requests need them. */
		bool busy = completions_drain(w) > 0;
		busy |= handoff_drain(w);
		handoff_flush(w);
		sweep(w);
		worker_http_tick(w);
		worker_metrics_tick(w, busy);
		if (busy)
			io_uring_submit_and_get_events(&w->ring);
		else
			worker_sleep(w);
	}
}

/* -------------------------------------------------------------- set-up */

static int setup_fail(struct worker *w, int err, const char *what)
{
	w->setup_err = err;
	w->setup_what = what;
	return err;
}

static int setup_ring(struct worker *w)
{
	struct io_uring_params p;

	memset(&p, 0, sizeof(p));
	/* SINGLE_ISSUER: only this thread submits. DEFER_TASKRUN: completion work
	 * runs when we ask for events, not by interrupting the loop. */
	p.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN |
		  IORING_SETUP_SUBMIT_ALL | IORING_SETUP_CQSIZE | IORING_SETUP_CLAMP;
	p.cq_entries = w->cfg->ring_entries * 4;
	int r = io_uring_queue_init_params(w->cfg->ring_entries, &w->ring, &p);
	if (r == -ENOMEM)
		return setup_fail(w, r, "io_uring_setup (locked-memory limit?)");
	if (r == -EINVAL) /* a flag this kernel does not know */
		return setup_fail(w, r, "io_uring_setup (needs Linux 6.1 or newer)");
	if (r < 0)
		return setup_fail(w, r, "io_uring_setup");
	w->ring_ready = true;
	w->ring_fd = w->ring.ring_fd;
	return 0;
}

/* The UDP sockets as fixed files: index k is udp_fds[k], and a recv or send
 * on it skips the per-operation file lookup and reference count. */
static int setup_files(struct worker *w)
{
	if (w->n_udp == 0)
		return 0;
	int r = io_uring_register_files(&w->ring, w->udp_fds, w->n_udp);
	return r < 0 ? setup_fail(w, r, "io_uring_register_files") : 0;
}

/* The receive buffers, a provided-buffer ring of recv_buffers entries. */
static int setup_buffers(struct worker *w)
{
	int r = bufring_setup(&w->recv_bufs, &w->ring, w->cfg->recv_buffers, RECV_BUF_SIZE,
			      RECV_BGID);
	if (r < 0)
		return setup_fail(w, r, r == -ENOMEM ? "receive buffer ring (locked-memory limit?)"
						     : "receive buffer ring");

	memset(&w->recv_msg, 0, sizeof(w->recv_msg));
	w->recv_msg.msg_namelen = RECV_NAMELEN;
	return 0;
}

static int setup_slots(struct worker *w)
{
	uint32_t n = w->cfg->send_slots;

	w->slots = mmap(NULL, (size_t)n * sizeof(*w->slots), PROT_READ | PROT_WRITE,
			MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
	if (w->slots == MAP_FAILED) {
		w->slots = NULL;
		return setup_fail(w, -errno, "mmap send slots");
	}
	w->free_slot = UINT32_MAX;
	w->slots_fresh = 0;
	return 0;
}

static int setup_swarm(struct worker *w)
{
	struct swarm_config sc = shard_config(w);

	w->swarm = swarm_create(&sc, w->sh->swarm_seed);
	return w->swarm ? 0 : setup_fail(w, -ENOMEM, "swarm shard");
}

struct worker *worker_create(struct worker_shared *sh, unsigned id, int cpu, const int *udp_fds,
			     const int *http_fds)
{
	struct worker *w;
	unsigned n = sh->n_workers;

	if (posix_memalign((void **)&w, 64, sizeof(*w)) != 0)
		return NULL;
	memset(w, 0, sizeof(*w));
	w->sh = sh;
	w->cfg = sh->cfg;
	w->id = id;
	w->cpu = cpu;
	w->ring_fd = -1;
	w->n_udp = sh->cfg->n_udp;
	memcpy(w->udp_fds, udp_fds, w->n_udp * sizeof(int));
	w->n_http = sh->cfg->n_http;
	memcpy(w->http_fds, http_fds, w->n_http * sizeof(int));
	atomic_init(&w->sleeping, 0);
	w->in = calloc(n, sizeof(*w->in));
	w->out = calloc(n, sizeof(*w->out));
	w->out_dirty = calloc(n, sizeof(*w->out_dirty));
	if (!w->in || !w->out || !w->out_dirty) {
		w->n_udp = w->n_http = 0; /* the sockets stay the caller's on failure */
		worker_destroy(w);
		return NULL;
	}
	for (unsigned j = 0; j < n; j++) {
		w->in[j] = &sh->rings[j * n + id];
		w->out[j] = &sh->rings[id * n + j];
	}
	return w;
}

static int worker_setup(struct worker *w)
{
	int r;

	if ((r = setup_ring(w)) < 0 || (r = setup_files(w)) < 0 || (r = setup_buffers(w)) < 0 ||
	    (r = setup_slots(w)) < 0 || (r = setup_swarm(w)) < 0 ||
	    (r = worker_http_setup(w)) < 0 || (r = worker_metrics_setup(w)) < 0)
		return r;
	for (unsigned k = 0; k < w->n_udp; k++)
		recv_arm(w, k);
	r = io_uring_submit(&w->ring);
	return r < 0 ? setup_fail(w, r, "first io_uring_submit") : 0;
}

/* Ends every request still in the kernel (multishot receives and accepts,
 * HTTP receives into buffers worker_destroy frees, sends) and drops the
 * registered files, on this thread: see ringutil_quiesce. */
static void worker_quiesce(struct worker *w)
{
	if (!w->ring_ready)
		return;
	int r = ringutil_quiesce(&w->ring, w->n_udp > 0);
	if (r < 0)
		log_warn("worker %u: cancelling requests at exit: %s", w->id, strerror(-r));
}

void *worker_main(void *arg)
{
	struct worker *w = arg;

	int r = worker_setup(w);

	/* Report, then wait until every worker has reported: nobody may
	 * post to a ring of a worker that is not set up. */
	pthread_mutex_lock(&w->sh->lock);
	w->sh->reported++;
	if (r < 0)
		w->sh->failed = true;
	pthread_cond_broadcast(&w->sh->cond);
	while (!w->sh->go && !w->sh->failed)
		pthread_cond_wait(&w->sh->cond, &w->sh->lock);
	bool run = w->sh->go && !w->sh->failed;
	pthread_mutex_unlock(&w->sh->lock);
	if (run)
		worker_loop(w);
	worker_quiesce(w);
	return NULL;
}

void worker_destroy(struct worker *w)
{
	if (!w)
		return;
	worker_http_destroy(w);
	worker_metrics_destroy(w);
	if (w->ring_ready)
		io_uring_queue_exit(&w->ring);
	for (size_t k = 0; k < w->n_udp; k++)
		if (w->udp_fds[k] >= 0)
			close(w->udp_fds[k]);
	for (size_t k = 0; k < w->n_http; k++)
		if (w->http_fds[k] >= 0)
			close(w->http_fds[k]);
	bufring_free(&w->recv_bufs);
	if (w->slots)
		munmap(w->slots, (size_t)w->cfg->send_slots * sizeof(*w->slots));
	swarm_destroy(w->swarm);
	free(w->in);
	free(w->out);
	free(w->out_dirty);
	free(w);
}

const struct counters *worker_counters(const struct worker *w)
{
	return &w->counters;
}

int worker_setup_error(const struct worker *w, const char **what)
{
	*what = w->setup_what;
	return w->setup_err;
}

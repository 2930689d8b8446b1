/* worker.c - one pinned worker: io_uring event loop, BEP 15 request
 * handling, swarm shard, and its ends of the handoff rings.
 *
 * What it does: receives UDP datagrams with one multishot recvmsg per
 * socket over a provided buffer ring; parses them (udp.c); answers connects
 * itself; checks connection ids (connid.c); does the swarm work for torrents
 * it owns (swarm.c) and posts the others to their owner over an SPSC ring
 * (spsc.c). The owner sends the UDP reply from its own socket bound to the
 * same address, so a handoff is one-way. A scrape whose hashes span shards
 * travels as a chain: each owner fills in its hashes and passes the rest on;
 * the last one replies. Replies are queued as sendmsg SQEs and submitted once
 * per loop turn.
 *
 * What it doesn't: HTTP (issue 4), exporting counters (issue 7).
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
#include "swarm.h"
#include "udp.h"

/* Receive buffer: io_uring_recvmsg_out, the source address (32 bytes, see
 * PLATFORM.md) and the payload. A payload longer than UDP_REQUEST_MAX is
 * malformed, so anything that reaches that length is enough. */
#define RECV_NAMELEN 32
#define RECV_BUF_SIZE 2048
#define RECV_BGID 0

/* Send slot payload: the largest UDP payload that leaves a 1500-byte MTU
 * unfragmented over IPv4 (1472) - replies are capped to fit. */
#define SEND_DATA_MAX 1472
#define SEND_DATA_MAX_V6 1452 /* 1500 - 40 (IPv6) - 8 (UDP) */

/* Incremental expiry work per loop turn: torrent slots visited. */
#define SWEEP_BUDGET_BUSY 256
#define SWEEP_BUDGET_IDLE 8192

/* user_data: kind in the top byte, an index below. */
enum ud_kind {
	UD_RECV = 1,  /* index = listener */
	UD_SEND = 2,  /* index = send slot */
	UD_WAKE = 3,  /* MSG_RING from another worker */
	UD_OTHER = 4, /* completions we do not act on */
};
#define UD_MAKE(kind, idx) (((uint64_t)(kind) << 56) | (uint64_t)(idx))
#define UD_KIND(ud) ((unsigned)((ud) >> 56))
#define UD_INDEX(ud) ((uint32_t)(ud))

/* Handoff record types on the SPSC rings. */
enum handoff_type {
	HANDOFF_UDP_ANNOUNCE = 1,
	HANDOFF_UDP_SCRAPE = 2,
};

/* Where a UDP reply goes: the client and the listener it wrote to. */
struct udp_origin {
	struct netaddr client; /* source address and port */
	uint32_t transaction_id;
	uint16_t listener; /* index into cfg->udp; same on every worker */
};

struct handoff_announce {
	struct udp_origin origin;
	struct swarm_announce announce;
};

/* A scrape travelling between owners. Variable length: count hashes follow
 * the fixed part. done has bit i set once entry i is filled. */
struct handoff_scrape {
	struct udp_origin origin;
	uint32_t count;
	uint64_t done[2];
	struct udp_scrape_entry entries[UDP_SCRAPE_MAX_HASHES];
	struct info_hash hashes[];
};

struct send_slot {
	struct msghdr msg;
	struct iovec iov;
	struct sockaddr_storage addr;
	uint32_t next_free; /* free-list link */
	uint8_t data[SEND_DATA_MAX];
};

struct worker {
	struct counters counters; /* first: its own cache lines */

	struct worker_shared *sh;
	const struct config *cfg;
	unsigned id;
	int cpu;

	struct io_uring ring;
	bool ring_ready;
	int udp_fds[CONFIG_MAX_LISTEN];
	size_t n_udp;
	bool rearm[CONFIG_MAX_LISTEN];

	struct io_uring_buf_ring *br; /* mmap'd, recv_buffers entries */
	size_t br_bytes;
	uint8_t *recv_bufs; /* recv_buffers * RECV_BUF_SIZE */
	unsigned n_bufs;
	unsigned buf_added; /* buffers given back in this batch */
	struct msghdr recv_msg; /* multishot template: namelen only */

	struct send_slot *slots;
	uint32_t free_slot; /* head of the free list; UINT32_MAX when empty */

	struct swarm *swarm;
	struct spsc **in;  /* [n_workers]: ring from worker j to us */
	struct spsc **out; /* [n_workers]: ring from us to worker j */
	bool *out_dirty;   /* [n_workers]: reserved but not published */

	alignas(64) atomic_int sleeping; /* 1 while in (or about to enter) wait */
	int ring_fd;                     /* for MSG_RING from other workers */

	uint32_t now; /* coarse clock, seconds; refreshed each loop turn */
	int setup_err;
	const char *setup_what;
};

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

static struct send_slot *slot_get(struct worker *w)
{
	if (w->free_slot == UINT32_MAX) {
		counters_inc(&w->counters, CTR_send_no_slot);
		return NULL;
	}
	struct send_slot *s = &w->slots[w->free_slot];
	w->free_slot = s->next_free;
	return s;
}

static void slot_put(struct worker *w, struct send_slot *s)
{
	s->next_free = w->free_slot;
	w->free_slot = (uint32_t)(s - w->slots);
}

static struct io_uring_sqe *get_sqe(struct worker *w)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&w->ring);

	if (!sqe) {
		/* Queue full within one turn: push what we have and retry. */
		io_uring_submit(&w->ring);
		sqe = io_uring_get_sqe(&w->ring);
	}
	return sqe;
}

/* Queues slot's len bytes to origin's client from our socket of the same
 * listener. Takes the slot in every case. */
static void udp_send(struct worker *w, const struct udp_origin *o, struct send_slot *s, size_t len)
{
	struct io_uring_sqe *sqe = get_sqe(w);

	if (!sqe) {
		counters_inc(&w->counters, CTR_send_no_sqe);
		slot_put(w, s);
		return;
	}
	s->iov.iov_base = s->data;
	s->iov.iov_len = len;
	memset(&s->msg, 0, sizeof(s->msg));
	s->msg.msg_name = &s->addr;
	s->msg.msg_namelen = netaddr_to_sockaddr(&o->client, &s->addr);
	s->msg.msg_iov = &s->iov;
	s->msg.msg_iovlen = 1;
	io_uring_prep_sendmsg(sqe, w->udp_fds[o->listener], &s->msg, 0);
	io_uring_sqe_set_data64(sqe, UD_MAKE(UD_SEND, s - w->slots));
	counters_inc(&w->counters, CTR_udp_tx_packets);
	counters_add(&w->counters, CTR_udp_tx_bytes, len);
}

static void udp_send_error(struct worker *w, const struct udp_origin *o, const char *msg)
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
	udp_send(w, o, s, (size_t)len);
}

/* --------------------------------------------------------------- handoff */

/* Reserves a record on the ring to worker `to`; NULL (counted) when full. */
static void *handoff_reserve(struct worker *w, unsigned to, size_t len, enum handoff_type type)
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
		if (!atomic_exchange(&peer->sleeping, 0))
			continue;
		struct io_uring_sqe *sqe = get_sqe(w);
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

static const char *limit_message(struct worker *w, int err)
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

	if (!s)
		return;
	size_t cap = (is_v6(&o->client) ? SEND_DATA_MAX_V6 : SEND_DATA_MAX) -
		     UDP_ANNOUNCE_RESPONSE_HEADER;
	int n = swarm_announce(w->swarm, a, w->now, s->data + UDP_ANNOUNCE_RESPONSE_HEADER, cap,
			       &counts);
	if (n < 0) {
		slot_put(w, s);
		udp_send_error(w, o, limit_message(w, n));
		return;
	}
	udp_write_announce_header(s->data, sizeof(s->data), o->transaction_id,
				  w->cfg->announce_interval, counts.leechers, counts.seeders);
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
	struct handoff_announce *h = handoff_reserve(w, owner, sizeof(*h), HANDOFF_UDP_ANNOUNCE);
	if (h) {
		h->origin = *o;
		h->announce = a;
	}
}

/* --------------------------------------------------------------- scrapes */

static size_t scrape_record_len(uint32_t count)
{
	return sizeof(struct handoff_scrape) + count * sizeof(struct info_hash);
}

static bool scrape_done(const struct handoff_scrape *s, uint32_t i)
{
	return (s->done[i / 64] >> (i % 64)) & 1;
}

/* Fills every entry this worker owns; returns the owner of the first entry
 * still missing, or our id when all are filled. */
static unsigned scrape_fill(struct worker *w, struct handoff_scrape *s)
{
	unsigned next = w->id;

	for (uint32_t i = 0; i < s->count; i++) {
		if (scrape_done(s, i))
			continue;
		unsigned owner = worker_owner(w->sh->shard_key, &s->hashes[i], w->sh->n_workers);
		if (owner != w->id) {
			if (next == w->id)
				next = owner;
			continue;
		}
		struct swarm_counts c;
		swarm_scrape(w->swarm, &s->hashes[i], &c);
		s->entries[i] = (struct udp_scrape_entry){
			.seeders = c.seeders,
			.completed = c.downloaded,
			.leechers = c.leechers,
		};
		s->done[i / 64] |= 1ULL << (i % 64);
	}
	return next;
}

/* Fills what we own, then replies or passes the rest to the next owner. */
static void scrape_step(struct worker *w, struct handoff_scrape *s)
{
	unsigned next = scrape_fill(w, s);

	if (next != w->id) {
		size_t len = scrape_record_len(s->count);
		void *h = handoff_reserve(w, next, len, HANDOFF_UDP_SCRAPE);
		if (h)
			memcpy(h, s, len);
		return;
	}
	struct send_slot *slot = slot_get(w);
	if (!slot)
		return;
	int len = udp_write_scrape(slot->data, sizeof(slot->data), s->origin.transaction_id,
				   s->entries, s->count);
	if (len < 0) {
		slot_put(w, slot);
		return;
	}
	udp_send(w, &s->origin, slot, (size_t)len);
}

static void scrape_received(struct worker *w, const struct udp_origin *o,
			    const struct udp_scrape_request *r)
{
	/* Built on the stack, copied to a ring only if another shard is involved. */
	union {
		struct handoff_scrape s;
		uint8_t bytes[sizeof(struct handoff_scrape) +
			      UDP_SCRAPE_MAX_HASHES * sizeof(struct info_hash)];
	} u;

	u.s.origin = *o;
	u.s.count = r->count;
	u.s.done[0] = u.s.done[1] = 0;
	memcpy(u.s.hashes, r->hashes, r->count * sizeof(struct info_hash));
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
	udp_send_error(w, o, msg);
}

static void udp_connect(struct worker *w, const struct udp_origin *o)
{
	struct send_slot *s = slot_get(w);

	count_by_family(w, CTR_udp_connect_v4, CTR_udp_connect_v6, &o->client);
	if (!s)
		return;
	uint64_t id = connid_make(&w->sh->connid_key, &o->client, w->now);
	int len = udp_write_connect(s->data, sizeof(s->data), o->transaction_id, id);
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
		udp_send_error(w, &o, "invalid connection id");
		return;
	}
	if (req.action == UDP_ACTION_ANNOUNCE)
		announce_received(w, &o, &req.announce);
	else
		scrape_received(w, &o, &req.scrape);
}

/* Requests other workers handed to us. */
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
			if (type == HANDOFF_UDP_ANNOUNCE && len == sizeof(struct handoff_announce)) {
				const struct handoff_announce *h = p;
				announce_owned(w, &h->origin, &h->announce);
			} else if (type == HANDOFF_UDP_SCRAPE) {
				/* The record is ours until release; scrape_step edits it. */
				scrape_step(w, (struct handoff_scrape *)p);
			}
		}
		spsc_release(w->in[j]);
	}
	return any;
}

/* ------------------------------------------------------------ completions */

static void recv_arm(struct worker *w, unsigned listener)
{
	struct io_uring_sqe *sqe = get_sqe(w);

	if (!sqe) {
		w->rearm[listener] = true; /* try again next turn */
		return;
	}
	io_uring_prep_recvmsg_multishot(sqe, w->udp_fds[listener], &w->recv_msg, 0);
	sqe->flags |= IOSQE_BUFFER_SELECT;
	sqe->buf_group = RECV_BGID;
	io_uring_sqe_set_data64(sqe, UD_MAKE(UD_RECV, listener));
	w->rearm[listener] = false;
}

static void recv_buffer_return(struct worker *w, unsigned bid)
{
	io_uring_buf_ring_add(w->br, w->recv_bufs + (size_t)bid * RECV_BUF_SIZE, RECV_BUF_SIZE,
			      (unsigned short)bid, io_uring_buf_ring_mask(w->n_bufs),
			      (int)w->buf_added++);
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
	uint8_t *buf = w->recv_bufs + (size_t)bid * RECV_BUF_SIZE;
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
	recv_buffer_return(w, bid);
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
			recv_completion(w, cqe);
			break;
		case UD_SEND:
			send_completion(w, cqe);
			break;
		default:
			break; /* wake-ups and skipped successes */
		}
	}
	io_uring_cq_advance(&w->ring, n);
	if (w->buf_added) {
		io_uring_buf_ring_advance(w->br, (int)w->buf_added);
		w->buf_added = 0;
	}
	for (unsigned k = 0; k < w->n_udp; k++)
		if (w->rearm[k])
			recv_arm(w, k);
	return n;
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
		bool busy = handoff_drain(w);
		busy |= completions_drain(w) > 0;
		handoff_flush(w);
		size_t expired = swarm_sweep(w->swarm, w->now,
					     busy ? SWEEP_BUDGET_BUSY : SWEEP_BUDGET_IDLE);
		counters_add(&w->counters, CTR_peers_expired, expired);
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
		  IORING_SETUP_SUBMIT_ALL | IORING_SETUP_CQSIZE;
	p.cq_entries = w->cfg->ring_entries * 4;
	int r = io_uring_queue_init_params(w->cfg->ring_entries, &w->ring, &p);
	if (r < 0)
		return setup_fail(w, r, r == -ENOMEM ? "io_uring_setup (locked-memory limit?)"
						     : "io_uring_setup");
	w->ring_ready = true;
	w->ring_fd = w->ring.ring_fd;
	return 0;
}

/* liburing 2.3 has no io_uring_setup_buf_ring: map and register it here. */
static int setup_buffers(struct worker *w)
{
	w->n_bufs = w->cfg->recv_buffers;
	w->br_bytes = (size_t)w->n_bufs * sizeof(struct io_uring_buf);
	w->br = mmap(NULL, w->br_bytes, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
	if (w->br == MAP_FAILED) {
		w->br = NULL;
		return setup_fail(w, -errno, "mmap buffer ring");
	}
	w->recv_bufs = mmap(NULL, (size_t)w->n_bufs * RECV_BUF_SIZE, PROT_READ | PROT_WRITE,
			    MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
	if (w->recv_bufs == MAP_FAILED) {
		w->recv_bufs = NULL;
		return setup_fail(w, -errno, "mmap receive buffers");
	}
	struct io_uring_buf_reg reg = {
		.ring_addr = (uint64_t)(uintptr_t)w->br,
		.ring_entries = w->n_bufs,
		.bgid = RECV_BGID,
	};
	int r = io_uring_register_buf_ring(&w->ring, &reg, 0);
	if (r < 0)
		return setup_fail(w, r, r == -ENOMEM ? "register buffer ring (locked-memory limit?)"
						     : "register buffer ring");
	io_uring_buf_ring_init(w->br);
	for (unsigned i = 0; i < w->n_bufs; i++)
		recv_buffer_return(w, i);
	io_uring_buf_ring_advance(w->br, (int)w->buf_added);
	w->buf_added = 0;

	memset(&w->recv_msg, 0, sizeof(w->recv_msg));
	w->recv_msg.msg_namelen = RECV_NAMELEN;
	return 0;
}

static int setup_slots(struct worker *w)
{
	uint32_t n = w->cfg->send_slots;

	/* Lazily backed: only slots actually used become resident. */
	w->slots = mmap(NULL, (size_t)n * sizeof(*w->slots), PROT_READ | PROT_WRITE,
			MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
	if (w->slots == MAP_FAILED) {
		w->slots = NULL;
		return setup_fail(w, -errno, "mmap send slots");
	}
	for (uint32_t i = 0; i < n; i++)
		w->slots[i].next_free = i + 1 < n ? i + 1 : UINT32_MAX;
	w->free_slot = 0;
	return 0;
}

static int setup_swarm(struct worker *w)
{
	const struct config *c = w->cfg;
	unsigned n = w->sh->n_workers;
	struct swarm_config sc = {
		.peer_timeout = c->peer_timeout,
		.max_torrents = (uint32_t)((c->max_torrents + n - 1) / n),
		.max_peers = c->max_peers_per_torrent,
		.memory_budget = c->memory_budget / n,
	};

	w->swarm = swarm_create(&sc, w->sh->swarm_seed);
	return w->swarm ? 0 : setup_fail(w, -ENOMEM, "swarm shard");
}

struct worker *worker_create(struct worker_shared *sh, unsigned id, int cpu, const int *udp_fds)
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
	atomic_init(&w->sleeping, 0);
	w->in = calloc(n, sizeof(*w->in));
	w->out = calloc(n, sizeof(*w->out));
	w->out_dirty = calloc(n, sizeof(*w->out_dirty));
	if (!w->in || !w->out || !w->out_dirty) {
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

	if ((r = setup_ring(w)) < 0 || (r = setup_buffers(w)) < 0 || (r = setup_slots(w)) < 0 ||
	    (r = setup_swarm(w)) < 0)
		return r;
	for (unsigned k = 0; k < w->n_udp; k++)
		recv_arm(w, k);
	r = io_uring_submit(&w->ring);
	return r < 0 ? setup_fail(w, r, "first io_uring_submit") : 0;
}

void *worker_main(void *arg)
{
	struct worker *w = arg;

	if (worker_setup(w) < 0)
		atomic_store(&w->sh->failed, 1);
	pthread_barrier_wait(&w->sh->started);
	if (!atomic_load(&w->sh->failed))
		worker_loop(w);
	return NULL;
}

void worker_destroy(struct worker *w)
{
	if (!w)
		return;
	if (w->ring_ready)
		io_uring_queue_exit(&w->ring);
	for (size_t k = 0; k < w->n_udp; k++)
		if (w->udp_fds[k] >= 0)
			close(w->udp_fds[k]);
	if (w->br)
		munmap(w->br, w->br_bytes);
	if (w->recv_bufs)
		munmap(w->recv_bufs, (size_t)w->n_bufs * RECV_BUF_SIZE);
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

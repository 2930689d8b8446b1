/* worker_internal.h - the worker's private state, shared by the files that
 * make up one worker: worker.c (loop, ring, UDP) and worker_http.c (HTTP
 * connections). Not part of any public contract; include only from those.
 *
 * Everything here is touched only by the worker's own thread, except
 * `sleeping` and `ring_fd` (read by other workers to wake it).
 */
#ifndef RINGTRACKER_WORKER_INTERNAL_H
#define RINGTRACKER_WORKER_INTERNAL_H

#include <liburing.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "bufring.h"
#include "config.h"
#include "counters.h"
#include "http.h"
#include "netaddr.h"
#include "swarm.h"
#include "udp.h"
#include "worker.h"

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

/* user_data: kind in the top byte, an index below. */
enum ud_kind {
	UD_RECV = 1,        /* UDP multishot recvmsg; index = listener */
	UD_SEND = 2,        /* UDP send (sendto); index = send slot */
	UD_WAKE = 3,        /* MSG_RING from another worker */
	UD_OTHER = 4,       /* completions we do not act on */
	UD_HTTP_ACCEPT = 5, /* accept; index = listener * HTTP_ACCEPT_DEPTH + slot */
	UD_HTTP_RECV = 6,   /* index = connection */
	UD_HTTP_SEND = 7,   /* index = connection */
};
#define UD_MAKE(kind, idx) (((uint64_t)(kind) << 56) | (uint64_t)(idx))
#define UD_KIND(ud) ((unsigned)((ud) >> 56))
#define UD_INDEX(ud) ((uint32_t)(ud))

/* Handoff record types on the SPSC rings. */
enum handoff_type {
	HANDOFF_UDP_ANNOUNCE = 1,  /* struct handoff_udp_announce, to the owner */
	HANDOFF_SCRAPE = 2,        /* struct handoff_scrape, owner to owner */
	HANDOFF_HTTP_ANNOUNCE = 3, /* struct handoff_http_announce, to the owner */
	HANDOFF_HTTP_ANSWER = 4,   /* struct handoff_http_answer, back to the connection */
	HANDOFF_LIST_ASK = 5,      /* struct handoff_list_ask: full scrape, next chunk please */
	HANDOFF_LIST_CHUNK = 6,    /* struct handoff_list_chunk: torrents of one shard */
};

/* Where a UDP reply goes: the client and the listener it wrote to. */
struct udp_origin {
	struct netaddr client; /* source address and port */
	uint32_t transaction_id;
	uint16_t listener; /* index into cfg->udp; same on every worker */
};

/* Which HTTP request an answer belongs to: a connection of one worker.
 * gen changes whenever the connection slot is reused, so an answer for a
 * connection that has since closed is recognised and dropped. */
struct http_ticket {
	uint16_t worker;
	uint32_t conn;
	uint32_t gen;
};

struct handoff_udp_announce {
	struct udp_origin origin;
	struct swarm_announce announce;
};

struct handoff_http_announce {
	struct http_ticket ticket;
	struct swarm_announce announce;
};

/* The owner's answer to an HTTP announce: rc as swarm_announce returned it
 * (bytes of peers of the client's family, or -errno), the counts, then the
 * compact peers: rc bytes of the client's family, other_len bytes of the
 * other family (BEP 7). */
struct handoff_http_answer {
	struct http_ticket ticket;
	int32_t rc;
	uint32_t other_len;
	struct swarm_counts counts;
	uint8_t peers[];
};

/* Full scrape: the connection's worker asks each shard in turn for chunks
 * of its table; the shard answers with a chunk and where to go on. */
struct handoff_list_ask {
	struct http_ticket ticket;
	uint64_t cursor; /* swarm_list cursor */
};

struct handoff_list_chunk {
	struct http_ticket ticket;
	uint64_t next; /* cursor for the next ask, or SWARM_LIST_END */
	uint32_t count;
	struct swarm_listing entries[]; /* count entries */
};

#define LIST_CHUNK 512 /* torrents per chunk */

enum scrape_reply { SCRAPE_REPLY_UDP, SCRAPE_REPLY_HTTP };

/* A scrape travelling from owner to owner; each fills in the hashes it owns
 * (done bit i set once files[i] is filled). UDP: the last owner replies.
 * HTTP: the finished record returns to the connection's worker. */
struct handoff_scrape {
	uint8_t reply; /* enum scrape_reply */
	struct udp_origin udp;
	struct http_ticket http;
	uint32_t count;
	uint64_t done[HTTP_SCRAPE_MAX / 64];
	struct http_scrape_file files[]; /* count entries */
};

struct send_slot {
	struct sockaddr_storage addr; /* the destination, until the CQE */
	uint32_t next_free; /* free-list link */
	uint8_t data[SEND_DATA_MAX];
};

struct http_conns; /* worker_http.c */
struct worker_top;  /* worker_metrics.c */

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
	int http_fds[CONFIG_MAX_LISTEN];
	size_t n_http;

	struct bufring recv_bufs; /* recv_buffers buffers of RECV_BUF_SIZE bytes */
	struct msghdr recv_msg; /* multishot template: namelen only */

	struct send_slot *slots;
	uint32_t free_slot;   /* head of the free list; UINT32_MAX when empty */
	uint32_t slots_fresh; /* slots [slots_fresh, send_slots) never used yet */

	struct swarm *swarm;
	struct spsc **in;  /* [n_workers]: ring from worker j to us */
	struct spsc **out; /* [n_workers]: ring from us to worker j */
	bool *out_dirty;   /* [n_workers]: reserved but not published */

	struct http_conns *http; /* NULL without HTTP listeners */

	struct worker_top *top; /* busiest-torrents scan (worker_metrics.c) */
	uint32_t gauges_at;     /* seconds: last refresh of the counters' gauges */

	/* Read by other workers: on a cache line of their own. */
	alignas(64) atomic_int sleeping; /* 1 while in (or about to enter) wait */
	int ring_fd;                     /* for MSG_RING from other workers */

	alignas(64) uint32_t now; /* coarse clock, seconds; refreshed each loop turn */
	uint64_t sweep_ms;        /* coarse clock of the last sweep, milliseconds */
	uint64_t sweep_credit;    /* slots the sweep may visit now */
	int setup_err;
	const char *setup_what;
};

/* --- worker.c, for worker_http.c --- */

/* A free SQE, submitting what is queued if the SQ is full; NULL if none. */
struct io_uring_sqe *worker_get_sqe(struct worker *w);

/* Reserves a handoff record to worker `to`; NULL (counted) when the ring is
 * full. Published at the end of the loop turn. */
void *worker_handoff_reserve(struct worker *w, unsigned to, size_t len, enum handoff_type type);

/* Fills every scrape entry this worker owns; returns the owner of the first
 * entry still missing, or w->id when all are filled. */
unsigned worker_scrape_fill(struct worker *w, struct handoff_scrape *s);

/* Size of a scrape record of count hashes. */
size_t worker_scrape_len(uint32_t count);

/* Error reply text for a swarm_announce error; counts the limit hit. */
const char *worker_limit_message(struct worker *w, int err);

/* --- worker_http.c, for worker.c --- */

/* Sets up the connection table and arms accept on every HTTP listener.
 * Returns 0 or -errno (and sets the worker's set-up error). */
int worker_http_setup(struct worker *w);

/* Frees the connection table, closing open connections. */
void worker_http_destroy(struct worker *w);

/* Handles an HTTP completion (UD_HTTP_* kinds). */
void worker_http_completion(struct worker *w, const struct io_uring_cqe *cqe);

/* Re-arms accepts that ended; closes timed-out connections (once a second). */
void worker_http_tick(struct worker *w);

/* HTTP connections open now (0 without HTTP). */
uint32_t worker_http_open(const struct worker *w);

/* --- worker_metrics.c, for worker.c --- */

/* Allocates the busiest-torrents scan state and its board. Returns 0 or
 * -ENOMEM (and sets the worker's set-up error). */
int worker_metrics_setup(struct worker *w);

/* Frees what worker_metrics_setup allocated. */
void worker_metrics_destroy(struct worker *w);

/* Once per loop turn, off the packet path: refreshes the gauges once a
 * second and, while a busiest-torrents scan runs, visits a bounded number
 * of table slots (fewer when busy). */
void worker_metrics_tick(struct worker *w, bool busy);

/* Handoff records for HTTP: an announce to do as owner, an answer or a
 * finished scrape for one of our connections. */
void worker_http_announce_owned(struct worker *w, const struct handoff_http_announce *h);
void worker_http_answer(struct worker *w, const struct handoff_http_answer *a, uint32_t len);
void worker_http_scrape_done(struct worker *w, const struct handoff_scrape *s);
void worker_http_list_ask(struct worker *w, const struct handoff_list_ask *a);
void worker_http_list_chunk(struct worker *w, const struct handoff_list_chunk *c, uint32_t len);

#endif

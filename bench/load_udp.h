/* load_udp.h - one UDP load thread's engine, shared by load_udp.c (the BEP 15
 * client: requests, matching, validation) and the two I/O loops
 * (load_udp_uring.c, load_udp_mmsg.c).
 *
 * Thread: everything here is owned and touched by one load thread, except
 * load_udp_setup/load_udp_free (load.h: main thread, before start / after
 * join).
 */
#ifndef RINGTRACKER_LOAD_UDP_H
#define RINGTRACKER_LOAD_UDP_H

#include <stdbool.h>
#include <stdint.h>

#include "load.h"
#include "udp.h"

#define UDP_REQ_CAP 1500   /* largest request: a 74-hash scrape is 1496 bytes */
#define UDP_REPLY_CAP 2048 /* receive buffer; replies are capped at 1472 bytes */
#define UDP_CONNID_REFRESH_NS (60ULL * 1000000000ULL)
#define UDP_EXPIRE_EVERY_NS (10ULL * 1000000ULL)

enum sock_state { SOCK_NEW, SOCK_CONNECTING, SOCK_READY };

struct udp_sock {
	int fd;
	uint8_t state;      /* enum sock_state */
	bool refreshing;    /* READY with a connect for a fresh id outstanding */
	bool due;           /* queued for a connect */
	uint64_t connid;
	uint64_t connid_at; /* ns: when the id was received */
};

/* An outstanding request, in the slot named by its transaction id's low 16
 * bits. The request bytes stay in the slot until the request is settled (a
 * reply, the timeout, or a failed send): a reply cannot come before its send
 * left, so the buffer is never reused under a send still in the kernel -
 * unless a send sat in the kernel longer than --timeout-ms, which a UDP send
 * on loopback does not (the skb is orphaned at transmit, so the send buffer
 * never fills). */
struct udp_slot {
	uint64_t sent_at;     /* ns */
	uint32_t tid;         /* full transaction id while awaited */
	uint32_t expired_tid; /* the last id given up on: its reply is "late" */
	uint32_t sock;
	uint8_t action;   /* enum udp_action */
	uint8_t phase;
	uint8_t hashes;   /* scrape: entries expected */
	bool awaiting;
	uint16_t gen;     /* bumped at each use: high half of the tid */
	uint16_t len;     /* request bytes */
	uint8_t buf[UDP_REQ_CAP];
};

struct udp_engine {
	struct load_thread *t;
	const struct load_config *cfg;
	struct udp_sock *socks; /* [cfg->sockets] */
	uint32_t n_socks;
	uint32_t *due;          /* FIFO of sockets to connect: [n_socks] */
	uint32_t due_head, due_len;
	struct udp_slot *slots; /* [cfg->window] */
	uint32_t *free;         /* stack of free slot indices */
	uint32_t n_free;
	uint32_t awaiting;      /* slots with a reply outstanding */
	struct load_peer *peers; /* [t->n_peers] */
	struct load_rng rng;
	uint32_t since_scrape; /* announces since the last scrape */
	uint64_t next_peer;    /* --populate: the next local peer to announce */
	bool exhausted;        /* --populate: every peer has been sent */
	size_t peer_len;       /* 6 (IPv4) or 18 (IPv6) */
	uint64_t last_expire, last_refresh; /* ns */
	void *io; /* the loop's own state */
};

/* Builds the next request into a free slot. Returns the slot, or NULL when
 * the window is full, no socket is ready, or (--populate) every peer has
 * been sent, which sets e->exhausted: the loops then stop sending. Counts it as sent; the caller
 * must hand slot->buf/len to the kernel on e->socks[slot->sock], and report
 * a failed send with udp_send_failed. */
struct udp_slot *udp_next_request(struct udp_engine *e, uint64_t now, int phase);

/* The send of request tid failed with res (-errno): counted, and the request
 * settled unless it is a connect (which the expiry retries, so that a
 * failing socket does not spin) or tid is no longer outstanding. */
void udp_send_failed(struct udp_engine *e, uint32_t tid, int res);

/* A datagram arrived on socket sock: match, validate, count. */
void udp_on_reply(struct udp_engine *e, uint32_t sock, const uint8_t *buf, size_t len,
		  uint64_t now);

/* Periodic work: requests past the timeout are lost (at most every
 * UDP_EXPIRE_EVERY_NS), connection ids older than 60 s queued for refresh. */
void udp_housekeeping(struct udp_engine *e, uint64_t now);

static inline uint32_t udp_slot_index(const struct udp_engine *e, const struct udp_slot *s)
{
	return (uint32_t)(s - e->slots);
}

/* The I/O loops. Each returns when sending stopped and the window drained
 * (or the drain deadline passed). 0 or -errno at set-up. */
int udp_uring_run(struct udp_engine *e);
int udp_mmsg_run(struct udp_engine *e);

#endif

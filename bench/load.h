/* load.h - ringtracker-load: the load generator's shared types and the
 * contracts between its files.
 *
 *   load.c           flags, threads, phases, progress, main
 *   load_model.c     the swarm model: Zipf popularity, info hashes, peers, RNG
 *   load_stats.c     counters, latency histogram, summary and JSON output
 *   load_udp.c       BEP 15 client: sockets, outstanding requests, replies
 *   load_udp_uring.c one UDP thread's loop over io_uring
 *   load_udp_mmsg.c  one UDP thread's loop over sendmmsg/recvmmsg + epoll
 *   load_http.c      one HTTP thread's loop over io_uring
 *
 * Threads: the main thread parses flags, builds the read-only model and the
 * per-thread state, then starts one pinned load thread per --cpus entry and
 * prints progress. A load thread owns its sockets, ring, outstanding table
 * and counters; the main thread only reads the counters (relaxed atomics).
 */
#ifndef RINGTRACKER_LOAD_H
#define RINGTRACKER_LOAD_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ids.h"
#include "netaddr.h"

#define LOAD_MAX_THREADS 64
#define LOAD_MAX_WINDOW 65536 /* slot index lives in the low 16 bits of a transaction id */
#define LOAD_MAX_SOCKETS 65536
#define LOAD_ERROR_TEXT 128

enum load_mode { LOAD_UDP, LOAD_HTTP };
enum load_io { LOAD_IO_URING, LOAD_IO_MMSG };

/* Read-only after flag parsing; shared by every thread. */
struct load_config {
	enum load_mode mode;
	enum load_io io;
	struct netaddr target;
	bool allow_remote;
	bool ipv6;
	uint32_t torrents;
	double zipf;
	uint32_t peers;
	uint32_t sockets;  /* UDP sockets per thread */
	uint32_t src_ips;  /* IPv4 loopback source addresses 127.0.0.1.. */
	uint32_t scrape_hashes;
	uint32_t ratio;    /* announces per scrape; 0 = scrapes only */
	int32_t numwant;
	uint32_t threads;
	int cpus[LOAD_MAX_THREADS];
	uint32_t n_cpus;
	uint32_t window;     /* requests outstanding per thread */
	uint32_t warmup;     /* seconds */
	uint32_t duration;   /* seconds */
	uint32_t timeout_ms; /* a request without a reply after this is lost */
	uint32_t connections; /* HTTP connections per thread */
	bool http_close;      /* one request per HTTP connection */
	bool json;
	bool quiet;
	uint32_t dump_hashes; /* print this many info hashes and exit; 0 = run */
	bool populate;        /* announce each peer once, then stop (UDP only) */
};

/* --populate stops after this many seconds even if not every peer is in. */
#define LOAD_POPULATE_CAP_S 300

/* ------------------------------------------------------------ counters */

/* X(name): every per-thread counter. Written by the owning thread only. */
#define LOAD_COUNTERS(X)                                                                   \
	X(sent_connect)                                                                    \
	X(sent_announce)                                                                   \
	X(sent_scrape)                                                                     \
	X(ok_connect)                                                                      \
	X(ok_announce)                                                                     \
	X(ok_scrape)                                                                       \
	X(errors)       /* error replies: UDP action 3, HTTP failure reason */             \
	X(malformed)    /* replies that do not fit their request */                        \
	X(lost)         /* no reply within --timeout-ms */                                 \
	X(late)         /* a reply to a request already counted lost */                    \
	X(unknown)      /* a reply matching nothing outstanding */                         \
	X(wrong_socket) /* a reply arriving on another socket than its request's */        \
	X(send_errors)                                                                     \
	X(recv_rearm)   /* multishot receive re-armed (-ENOBUFS or ended) */               \
	X(refused)      /* ICMP port unreachable seen: nothing listens at the target */    \
	X(http_opened)  /* TCP connections established */                                  \
	X(http_conn_errors) /* connect/send/recv failures and server closes */             \
	X(peers_returned) /* compact peers received in announce replies */

enum load_counter {
#define LOAD_COUNTER_ENUM(name) LC_##name,
	LOAD_COUNTERS(LOAD_COUNTER_ENUM)
#undef LOAD_COUNTER_ENUM
	LC_COUNT
};

/* Latency histogram: 64 powers of two times 16 linear sub-buckets
 * (HDR-like, < 6.25% relative error), in nanoseconds. */
#define LOAD_HIST_SUB 16
#define LOAD_HIST_BUCKETS (64 * LOAD_HIST_SUB)

struct load_hist {
	uint64_t n[LOAD_HIST_BUCKETS];
	uint64_t max; /* ns */
};

/* One phase's figures of one thread (phase 0 warm-up, 1 measured). */
struct load_stats {
	uint64_t c[LC_COUNT];
	struct load_hist hist;
	char first_error[LOAD_ERROR_TEXT]; /* NUL-ended; "" when none */
};

enum { LOAD_PHASE_WARMUP = 0, LOAD_PHASE_MEASURE = 1, LOAD_PHASES = 2 };

/* Owner thread only: relaxed store of a plain add, readable by the main thread. */
static inline void load_count(struct load_stats *s, enum load_counter id, uint64_t n)
{
	__atomic_store_n(&s->c[id], __atomic_load_n(&s->c[id], __ATOMIC_RELAXED) + n,
			 __ATOMIC_RELAXED);
}

static inline uint64_t load_counter_get(const struct load_stats *s, enum load_counter id)
{
	return __atomic_load_n(&s->c[id], __ATOMIC_RELAXED);
}

/* Adds one latency sample (ns). Owner thread only. */
void load_hist_add(struct load_hist *h, uint64_t ns);

/* Value (ns, bucket upper bound) at quantile q in 0..1 of the merged
 * histogram; 0 when empty. */
uint64_t load_hist_quantile(const struct load_hist *h, double q);

/* Adds src's counters and histogram into dst; keeps dst's first error, or
 * takes src's when dst has none. */
void load_stats_merge(struct load_stats *dst, const struct load_stats *src);

/* Stores the first error text of a phase (len bytes, not NUL-ended). */
void load_stats_note_error(struct load_stats *s, const char *msg, size_t len);

/* ---------------------------------------------------------------- model */

/* xoshiro256** state; one per thread, seeded from the thread index. */
struct load_rng {
	uint64_t s[4];
};

void load_rng_seed(struct load_rng *r, uint64_t seed);
uint64_t load_rng_next(struct load_rng *r);

/* Uniform in [0, n), n >= 1 (Lemire's multiply-shift; bias < n / 2^64). */
static inline uint32_t load_rng_below(struct load_rng *r, uint32_t n)
{
	return (uint32_t)(((unsigned __int128)load_rng_next(r) * n) >> 64);
}

/* The read-only swarm model shared by all threads. */
struct load_model {
	uint32_t torrents;
	double *cdf;        /* [torrents]: P(index <= i) under Zipf(s) */
	uint32_t *guide;    /* [LOAD_GUIDE + 1]: first i with cdf[i] >= k / LOAD_GUIDE */
	struct info_hash *hashes; /* [torrents] */
};

#define LOAD_GUIDE 65536

/* Info hash of torrent i: BLAKE2b-160 (libsodium crypto_generichash, 20-byte
 * output) of the 8-byte little-endian index, keyed with the 16 ASCII bytes
 * "ringtracker-load". Anyone can recompute them (--dump-hashes prints them). */
void load_info_hash(uint64_t index, struct info_hash *out);

/* Builds the Zipf table and the hash table. Returns 0 or -ENOMEM. */
int load_model_init(struct load_model *m, uint32_t torrents, double s);
void load_model_free(struct load_model *m);

/* Samples a torrent index by Zipf popularity. */
uint32_t load_model_sample(const struct load_model *m, struct load_rng *r);

/* One simulated peer: its torrent and its state as the tracker should see it. */
struct load_peer {
	uint32_t torrent;
	uint8_t started; /* a "started" announce was sent and not followed by "stopped" */
	uint8_t seeder;  /* left == 0 */
};

/* Peer id of global peer index p: "-RL0001-" then 12 decimal digits. */
void load_peer_id(uint64_t p, struct peer_id *out);

/* The port peer p announces (1024..65535). With one source address per
 * socket (--src-ips >= threads x sockets) every (address, port) pair is
 * distinct while peers per socket stay below 64512. */
uint16_t load_peer_port(uint64_t p, uint32_t sockets);

/* Picks the event of peer's next announce and updates its state:
 * started first, then ~1% completed (a leecher becomes a seeder), ~0.5%
 * stopped (the next one is started again), else none. Returns enum
 * udp_event numbering (the HTTP code maps it). */
uint32_t load_peer_event(struct load_peer *peer, struct load_rng *r);

/* ------------------------------------------------------------- threads */

/* Start/stop times shared by all threads: set by the main thread before the
 * threads are released, read-only after. CLOCK_MONOTONIC nanoseconds. */
struct load_clock {
	uint64_t start;
	uint64_t measure; /* end of warm-up */
	uint64_t end;     /* end of the measured phase: stop sending */
};

/* Everything a load thread needs; the thread owns the engine state. */
struct load_thread {
	unsigned index;
	int cpu;
	const struct load_config *cfg;
	const struct load_model *model;
	const struct load_clock *clock;
	const atomic_int *stop;
	atomic_uint *finished; /* incremented when the thread's run is over */
	uint64_t first_peer, n_peers; /* this thread's global peer range */
	struct load_stats stats[LOAD_PHASES];
	uint64_t stopped_at; /* ns: when it stopped sending */
	int err;             /* set-up error (-errno), 0 when fine */
	char err_what[96];
	void *engine; /* struct udp_engine or struct http_engine */
};

/* Now, CLOCK_MONOTONIC, nanoseconds. */
uint64_t load_now_ns(void);

/* Phase of a request sent at t, or -1 once sending must stop. */
int load_phase(const struct load_thread *t, uint64_t now);

/* Set-up on the main thread (before the threads start); each returns 0 or
 * -errno and fills t->err_what. */
int load_udp_setup(struct load_thread *t);
int load_http_setup(struct load_thread *t);

/* Thread bodies; they return when their run is over (duration, SIGINT, or
 * every peer announced with --populate). */
void load_udp_run(struct load_thread *t);
void load_http_run(struct load_thread *t);

void load_udp_free(struct load_thread *t);
void load_http_free(struct load_thread *t);

/* ------------------------------------------------------------- output */

struct load_report {
	const struct load_config *cfg;
	struct load_stats total; /* measured phase, every thread */
	double seconds;          /* achieved measured duration */
	double cpu_user, cpu_sys; /* seconds of the generator during it */
	bool interrupted;
};

void load_print_summary(const struct load_report *r);
void load_print_json(const struct load_report *r);

#endif

/* counters.h - a worker's event counters.
 *
 * Each worker owns one struct counters on its own cache lines and is the only
 * writer; any thread may read a snapshot (the metrics endpoint sums them at
 * scrape time). Writes are relaxed atomic stores of a plain add (no locked
 * instruction on the packet path); reads are relaxed atomic loads.
 * Besides the event counters it holds a few gauges (levels such as torrents
 * or open connections) that the owner refreshes about once a second.
 */
#ifndef RINGTRACKER_COUNTERS_H
#define RINGTRACKER_COUNTERS_H

#include <stdalign.h>
#include <stdint.h>

/* X(name, help): every counter a worker keeps. */
#define COUNTERS_LIST(X)                                                                   \
	X(udp_rx_packets, "UDP datagrams received")                                        \
	X(udp_rx_bytes, "UDP payload bytes received")                                      \
	X(udp_tx_packets, "UDP datagrams sent")                                            \
	X(udp_tx_bytes, "UDP payload bytes sent")                                          \
	X(udp_connect_v4, "UDP connect requests over IPv4")                                \
	X(udp_connect_v6, "UDP connect requests over IPv6")                                \
	X(udp_announce_v4, "UDP announce requests over IPv4")                              \
	X(udp_announce_v6, "UDP announce requests over IPv6")                              \
	X(udp_scrape_v4, "UDP scrape requests over IPv4")                                  \
	X(udp_scrape_v6, "UDP scrape requests over IPv6")                                  \
	X(udp_malformed_runt, "UDP requests shorter than 16 bytes (dropped)")              \
	X(udp_malformed_oversized, "UDP requests over 1500 bytes")                         \
	X(udp_malformed_bad_magic, "UDP connects without the protocol magic (dropped)")    \
	X(udp_malformed_bad_length, "UDP requests whose length does not fit the action")   \
	X(udp_malformed_bad_action, "UDP requests with an unknown action")                 \
	X(udp_malformed_bad_event, "UDP announces with an unknown event")                  \
	X(udp_connid_invalid, "UDP requests with a forged or foreign connection id")       \
	X(udp_connid_expired, "UDP requests with an expired connection id")                \
	X(udp_connect_replies_v4, "UDP connect replies queued over IPv4")                  \
	X(udp_connect_replies_v6, "UDP connect replies queued over IPv6")                  \
	X(udp_announce_replies_v4, "UDP announce replies queued over IPv4")                \
	X(udp_announce_replies_v6, "UDP announce replies queued over IPv6")                \
	X(udp_scrape_replies_v4, "UDP scrape replies queued over IPv4")                    \
	X(udp_scrape_replies_v6, "UDP scrape replies queued over IPv6")                    \
	X(udp_error_replies, "UDP error replies (action 3) sent")                          \
	X(udp_error_malformed, "UDP error replies: malformed request with a valid id")     \
	X(udp_error_connid, "UDP error replies: invalid or expired connection id")         \
	X(udp_error_limit, "UDP error replies: torrent, peer or memory limit")             \
	X(udp_dropped_unverified, "malformed UDP requests dropped without a valid id")     \
	X(recv_rearm, "multishot recvmsg re-armed after a completion without F_MORE")      \
	X(recv_enobufs, "receive completions with -ENOBUFS (buffer ring empty)")           \
	X(recv_errors, "other receive errors")                                             \
	X(send_errors, "UDP send completions with an error")                                \
	X(send_no_slot, "replies dropped: no free send slot")                              \
	X(send_no_sqe, "replies dropped: submission queue full")                           \
	X(http_accepted, "HTTP connections accepted")                                      \
	X(http_refused, "HTTP connections closed at once: connection limit")              \
	X(http_closed, "HTTP connections closed")                                          \
	X(http_timeouts, "HTTP connections closed for idling or a slow request")          \
	X(http_accept_errors, "accept completions with an error")                          \
	X(http_rx_bytes, "HTTP bytes received")                                            \
	X(http_tx_bytes, "HTTP bytes sent")                                                \
	X(http_announce_v4, "HTTP announce requests over IPv4")                            \
	X(http_announce_v6, "HTTP announce requests over IPv6")                            \
	X(http_scrape_v4, "HTTP scrape requests over IPv4")                                \
	X(http_scrape_v6, "HTTP scrape requests over IPv6")                                \
	X(http_announce_replies_v4, "HTTP announce replies with peers over IPv4")          \
	X(http_announce_replies_v6, "HTTP announce replies with peers over IPv6")          \
	X(http_scrape_replies_v4, "HTTP scrape replies with counts over IPv4")             \
	X(http_scrape_replies_v6, "HTTP scrape replies with counts over IPv6")             \
	X(http_health, "HTTP /health requests")                                            \
	X(http_full_scrapes, "HTTP full scrapes served")                                   \
	X(http_failures, "HTTP announces/scrapes answered with a failure reason")         \
	X(http_bad_request, "HTTP 400 replies: malformed request")                         \
	X(http_not_found, "HTTP 404 replies: unknown path")                                \
	X(http_bad_method, "HTTP 405 replies: method other than GET")                      \
	X(http_too_large, "HTTP 414/431 replies: request line or head too long")          \
	X(http_bad_version, "HTTP 505 replies: not HTTP/1.0 or 1.1")                       \
	X(http_stale_answers, "owner answers for HTTP connections already gone")           \
	X(handoff_sent, "requests handed to another worker")                               \
	X(handoff_received, "requests received from another worker")                       \
	X(handoff_dropped, "requests dropped: handoff ring full")                          \
	X(handoff_wakeups, "MSG_RING wake-ups sent to sleeping workers")                   \
	X(limit_torrents, "announces refused: torrent limit")                              \
	X(limit_peers, "announces refused: peers-per-torrent limit")                       \
	X(limit_memory, "announces refused: memory budget")                                \
	X(peers_expired, "peers removed by the expiry sweep")                              \
	X(loop_turns, "event loop iterations")

/* X(name, help): levels a worker refreshes about once a second in its own
 * loop (from swarm_stats and its connection table), for the metrics
 * endpoint, which must not read the shard itself. Set, never added to. */
#define GAUGES_LIST(X)                                                                     \
	X(torrents, "torrents in the worker's shard")                                      \
	X(seeders_v4, "IPv4 seeders in the worker's shard")                                \
	X(seeders_v6, "IPv6 seeders in the worker's shard")                                \
	X(leechers_v4, "IPv4 leechers in the worker's shard")                              \
	X(leechers_v6, "IPv6 leechers in the worker's shard")                              \
	X(swarm_memory_bytes, "bytes of the shard's table and peer arrays (budget charge)") \
	X(http_connections_open, "HTTP connections open on the worker")

enum counter_id {
#define COUNTERS_ENUM(name, help) CTR_##name,
	COUNTERS_LIST(COUNTERS_ENUM)
#undef COUNTERS_ENUM
	CTR_COUNT
};

enum gauge_id {
#define GAUGES_ENUM(name, help) GAUGE_##name,
	GAUGES_LIST(GAUGES_ENUM)
#undef GAUGES_ENUM
	GAUGE_COUNT
};

struct counters {
	alignas(64) uint64_t v[CTR_COUNT];
	uint64_t g[GAUGE_COUNT]; /* levels, see GAUGES_LIST */
};

/* Owner thread only. */
static inline void counters_add(struct counters *c, enum counter_id id, uint64_t n)
{
	__atomic_store_n(&c->v[id], __atomic_load_n(&c->v[id], __ATOMIC_RELAXED) + n,
			 __ATOMIC_RELAXED);
}

static inline void counters_inc(struct counters *c, enum counter_id id)
{
	counters_add(c, id, 1);
}

/* Owner thread only: sets a level. */
static inline void counters_set_gauge(struct counters *c, enum gauge_id id, uint64_t v)
{
	__atomic_store_n(&c->g[id], v, __ATOMIC_RELAXED);
}

/* Any thread. */
static inline uint64_t counters_get(const struct counters *c, enum counter_id id)
{
	return __atomic_load_n(&c->v[id], __ATOMIC_RELAXED);
}

static inline uint64_t counters_get_gauge(const struct counters *c, enum gauge_id id)
{
	return __atomic_load_n(&c->g[id], __ATOMIC_RELAXED);
}

/* Name ("udp_rx_packets") and help text of a counter. */
const char *counters_name(enum counter_id id);
const char *counters_help(enum counter_id id);

/* Name ("torrents") and help text of a gauge. */
const char *counters_gauge_name(enum gauge_id id);
const char *counters_gauge_help(enum gauge_id id);

#endif

/* swarm.h - one shard's torrents and peers (no I/O, no locks).
 *
 * A shard is owned by exactly one worker thread; every function here must be
 * called only by that thread (the owner). Time is the owner's coarse clock in
 * seconds. Peers are stored compactly (8 bytes IPv4, 20 bytes IPv6), IPv4 and
 * IPv6 apart; peer identity is (address, port) as seen by the server.
 */
#ifndef RINGTRACKER_SWARM_H
#define RINGTRACKER_SWARM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ids.h"
#include "netaddr.h"

struct swarm;

/* Most peers of one family a torrent can hold (the count is 24 bits). */
#define SWARM_PEERS_MAX 16777215u

struct swarm_config {
	uint32_t peer_timeout;       /* seconds a peer lives without announcing; <= 86400 */
	uint32_t max_torrents;       /* torrents in this shard */
	uint32_t max_peers;          /* peers per torrent, both families together;
	                              * at most SWARM_PEERS_MAX of each family */
	uint64_t memory_budget;      /* bytes this shard may use for table and peers */
	uint32_t initial_torrents;   /* table size hint; 0 for a small default */
};

enum swarm_event {
	SWARM_EVENT_NONE = 0,
	SWARM_EVENT_COMPLETED = 1,
	SWARM_EVENT_STARTED = 2,
	SWARM_EVENT_STOPPED = 3,
};

struct swarm_announce {
	struct info_hash info_hash;
	struct netaddr peer;   /* source address, announced port */
	enum swarm_event event;
	bool seeder;           /* left == 0 */
	uint32_t numwant;      /* already defaulted and capped by the caller */
};

struct swarm_counts {
	uint32_t seeders;    /* both families */
	uint32_t leechers;   /* both families */
	uint32_t downloaded; /* completed events, once per peer */
};

/* Creates an empty shard; seed keys its hash table (random per process).
 * Returns NULL when out of memory. The caller owns the result. */
struct swarm *swarm_create(const struct swarm_config *cfg, const uint8_t seed[16]);

/* Frees the shard and every torrent and peer in it. NULL is allowed. */
void swarm_destroy(struct swarm *s);

/* Replaces the limits and timeout (live reconfiguration); existing peers stay. */
void swarm_set_config(struct swarm *s, const struct swarm_config *cfg);

/* Handles one announce at time now: adds, refreshes or (stopped) removes the
 * peer, counts completed once per peer, then writes up to numwant other peers
 * of the same family as compact records (6 or 18 bytes) into out (capacity
 * cap bytes), chosen at random, never the requester, no duplicates. Fills
 * *counts after the update. Returns the bytes written to out, or
 *   -ENOSPC  the torrent is new and the torrent limit is reached,
 *   -EDQUOT  the peer is new and the torrent's peer limit is reached,
 *   -ENOMEM  the memory budget or the allocator refused,
 *   -EAFNOSUPPORT  the peer's family is neither AF_INET nor AF_INET6.
 * On error nothing changes, *counts still describes the torrent (zeros when
 * unknown); the caller replies with an error. A stopped announce writes no
 * peers and never fails. */
int swarm_announce(struct swarm *s, const struct swarm_announce *a, uint32_t now,
		   uint8_t *out, size_t cap, struct swarm_counts *counts);

/* Writes up to numwant random peers of one family (AF_INET: 6-byte records,
 * AF_INET6: 18-byte records) of a torrent into out (capacity cap), with no
 * requester to leave out: for BEP 7, the family other than the client's.
 * Returns the bytes written (0 when the torrent is unknown). */
int swarm_peers(struct swarm *s, const struct info_hash *ih, int family, uint32_t numwant,
		uint8_t *out, size_t cap);

struct swarm_listing {
	struct info_hash info_hash;
	struct swarm_counts counts;
};

#define SWARM_LIST_END UINT64_MAX

/* Full scrape, a chunk at a time: writes up to max torrents from *cursor on
 * (start with 0) and advances *cursor, to SWARM_LIST_END after the last.
 * A table that grows between calls may list a torrent twice or miss one.
 * Returns the number written. */
size_t swarm_list(const struct swarm *s, uint64_t *cursor, struct swarm_listing *out, size_t max);

/* Like swarm_list, but looks at no more than budget table slots from
 * *cursor on, so one call costs O(budget) even in a large, sparse table (the
 * busiest-torrents view scans with it a little per loop turn). Writes the
 * torrents found there into out (room for budget entries) and advances
 * *cursor, to SWARM_LIST_END after the last slot. Returns the number written. */
size_t swarm_list_slots(const struct swarm *s, uint64_t *cursor, size_t budget,
			struct swarm_listing *out);

/* Starts loading into the cache the table slot where ih's record would be,
 * for an announce to it soon after (the worker does this for the next
 * datagram while it handles the current one), and keeps ih's hash for that
 * announce. Changes no torrent. */
void swarm_prefetch(struct swarm *s, const struct info_hash *ih);

/* Fills *counts for one torrent; zeros when unknown. */
void swarm_scrape(const struct swarm *s, const struct info_hash *ih, struct swarm_counts *counts);

/* Incremental expiry: visits at most budget torrent slots from where the last
 * call stopped, drops peers not seen for peer_timeout seconds and frees
 * torrents left empty. Returns the number of peers removed. */
size_t swarm_sweep(struct swarm *s, uint32_t now, size_t budget);

struct swarm_stats {
	uint64_t torrents;
	uint64_t seeders;  /* both families */
	uint64_t leechers; /* both families */
	uint64_t seeders6; /* IPv6 seeders (IPv4: seeders - seeders6) */
	uint64_t peers4;
	uint64_t peers6;
	uint64_t memory_bytes; /* table and peer arrays, as charged to the budget */
	uint64_t limit_torrents; /* announces refused: torrent limit */
	uint64_t limit_peers;    /* announces refused: peer limit */
	uint64_t limit_memory;   /* announces refused: memory budget */
	uint64_t expired_peers;  /* removed by the sweep */
	uint64_t slots;          /* hash table capacity: what one sweep pass visits */
};

/* Fills *st; O(1). */
void swarm_stats(const struct swarm *s, struct swarm_stats *st);

#endif

/* test_swarm.c - unit tests for the swarm store (src/swarm.c).
 *
 * Accounting through event sequences, expiry by sweep, peer selection
 * (numwant, cap, no duplicates, never the requester, families apart), growth
 * of peer arrays and of the table, backward-shift deletion, limits and stats.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <criterion/criterion.h>

#include "swarm.h"

static const uint8_t SEED[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};

static struct swarm_config cfg_default(void)
{
	return (struct swarm_config){
	    .peer_timeout = 1800,
	    .max_torrents = 1u << 20,
	    .max_peers = 1u << 20,
	    .memory_budget = 1ull << 30,
	    .initial_torrents = 0,
	};
}

static struct swarm *mk(const struct swarm_config *cfg)
{
	struct swarm *s = swarm_create(cfg, SEED);
	cr_assert_not_null(s);
	return s;
}

static struct info_hash ih_of(uint32_t n)
{
	struct info_hash ih;

	memset(&ih, 0xab, sizeof(ih));
	memcpy(ih.b, &n, sizeof(n));
	return ih;
}

/* IPv4 peer 10.x.y.z from n (24 bits), port given. */
static struct netaddr v4(uint32_t n, uint16_t port)
{
	struct netaddr a = {.family = AF_INET, .port = port};

	a.ip[0] = 10;
	a.ip[1] = (uint8_t)(n >> 16);
	a.ip[2] = (uint8_t)(n >> 8);
	a.ip[3] = (uint8_t)n;
	return a;
}

/* IPv6 peer 2001:db8::n, port given. */
static struct netaddr v6(uint32_t n, uint16_t port)
{
	struct netaddr a = {.family = AF_INET6, .port = port};

	a.ip[0] = 0x20;
	a.ip[1] = 0x01;
	a.ip[2] = 0x0d;
	a.ip[3] = 0xb8;
	memcpy(a.ip + 12, &n, sizeof(n));
	return a;
}

static struct swarm_announce ann(uint32_t t, struct netaddr peer, enum swarm_event ev, bool seeder,
				 uint32_t numwant)
{
	return (struct swarm_announce){
	    .info_hash = ih_of(t),
	    .peer = peer,
	    .event = ev,
	    .seeder = seeder,
	    .numwant = numwant,
	};
}

/* Announces without wanting peers; returns the result. */
static int go(struct swarm *s, uint32_t t, struct netaddr peer, enum swarm_event ev, bool seeder,
	      uint32_t now, struct swarm_counts *c)
{
	struct swarm_announce a = ann(t, peer, ev, seeder, 0);
	struct swarm_counts dummy;

	return swarm_announce(s, &a, now, NULL, 0, c ? c : &dummy);
}

static void expect_counts(const struct swarm_counts *c, uint32_t seeders, uint32_t leechers,
			  uint32_t downloaded)
{
	cr_expect_eq(c->seeders, seeders, "seeders %u, want %u", c->seeders, seeders);
	cr_expect_eq(c->leechers, leechers, "leechers %u, want %u", c->leechers, leechers);
	cr_expect_eq(c->downloaded, downloaded, "downloaded %u, want %u", c->downloaded,
		     downloaded);
}

static void expect_scrape(struct swarm *s, uint32_t t, uint32_t seeders, uint32_t leechers,
			  uint32_t downloaded)
{
	struct info_hash ih = ih_of(t);
	struct swarm_counts c;

	swarm_scrape(s, &ih, &c);
	expect_counts(&c, seeders, leechers, downloaded);
}

static struct swarm_stats stats_of(struct swarm *s)
{
	struct swarm_stats st;

	swarm_stats(s, &st);
	return st;
}

/* Memory charged by an empty shard: its table only. */
/* Bytes per record of the main table (every torrent) and of the IPv6 table
 * (torrents with IPv6 peers), and what the IPv6 table costs empty. */
#define REC4 40
#define REC6 48
#define SIX0 (8 * REC6)

static uint64_t empty_bytes(const struct swarm_config *cfg)
{
	struct swarm *s = mk(cfg);
	uint64_t b = stats_of(s).memory_bytes;

	swarm_destroy(s);
	return b;
}

/* xorshift for test randomness; deterministic. */
static uint32_t trand(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return (uint32_t)(*x >> 11);
}

static void shuffle(uint32_t *v, size_t n, uint64_t *x)
{
	for (size_t i = n; i > 1; i--) {
		size_t j = trand(x) % i;
		uint32_t tmp = v[i - 1];
		v[i - 1] = v[j];
		v[j] = tmp;
	}
}

/* ---- compact records -------------------------------------------------- */

Test(swarm, compact_record_ipv4_bytes)
{
	struct swarm *s = mk(&(struct swarm_config){1800, 10, 10, 1 << 20, 0});
	struct netaddr a = {.family = AF_INET, .ip = {192, 0, 2, 7}, .port = 6881};
	struct swarm_announce req = ann(1, v4(1, 1), SWARM_EVENT_STARTED, false, 50);
	const uint8_t want[6] = {192, 0, 2, 7, 0x1a, 0xe1};
	struct swarm_counts c;
	uint8_t out[64];

	cr_assert_eq(go(s, 1, a, SWARM_EVENT_STARTED, true, 100, NULL), 0);
	cr_assert_eq(swarm_announce(s, &req, 100, out, sizeof(out), &c), 6);
	cr_expect_arr_eq(out, want, 6);
	expect_counts(&c, 1, 1, 0);
	swarm_destroy(s);
}

Test(swarm, compact_record_ipv6_bytes)
{
	struct swarm *s = mk(&(struct swarm_config){1800, 10, 10, 1 << 20, 0});
	struct netaddr a = {.family = AF_INET6, .port = 0xbeef};
	struct swarm_announce req = ann(1, v6(9, 1), SWARM_EVENT_NONE, false, 50);
	uint8_t want[18], out[64];
	struct swarm_counts c;

	cr_assert_eq(inet_pton(AF_INET6, "2001:db8:1:2:3:4:5:6", a.ip), 1);
	memcpy(want, a.ip, 16);
	want[16] = 0xbe;
	want[17] = 0xef;
	cr_assert_eq(go(s, 1, a, SWARM_EVENT_STARTED, false, 100, NULL), 0);
	cr_assert_eq(swarm_announce(s, &req, 100, out, sizeof(out), &c), 18);
	cr_expect_arr_eq(out, want, 18);
	expect_counts(&c, 0, 2, 0);
	swarm_destroy(s);
}

/* ---- accounting ------------------------------------------------------- */

Test(swarm, accounting_through_events)
{
	struct swarm_config cfg = cfg_default();
	struct swarm *s = mk(&cfg);
	struct swarm_counts c;
	struct swarm_stats st;

	cr_assert_eq(go(s, 7, v4(1, 1), SWARM_EVENT_STARTED, false, 10, &c), 0);
	expect_counts(&c, 0, 1, 0);
	cr_assert_eq(go(s, 7, v4(1, 1), SWARM_EVENT_NONE, false, 20, &c), 0);
	expect_counts(&c, 0, 1, 0);
	cr_assert_eq(go(s, 7, v4(2, 1), SWARM_EVENT_STARTED, false, 20, &c), 0);
	expect_counts(&c, 0, 2, 0);
	cr_assert_eq(go(s, 7, v4(1, 1), SWARM_EVENT_COMPLETED, true, 30, &c), 0);
	expect_counts(&c, 1, 1, 1);
	cr_assert_eq(go(s, 7, v4(1, 1), SWARM_EVENT_NONE, true, 40, &c), 0);
	expect_counts(&c, 1, 1, 1);
	cr_assert_eq(go(s, 7, v6(1, 1), SWARM_EVENT_STARTED, true, 40, &c), 0);
	expect_counts(&c, 2, 1, 1);
	st = stats_of(s);
	cr_expect_eq(st.seeders, 2);
	cr_expect_eq(st.leechers, 1);
	cr_expect_eq(st.peers4, 2);
	cr_expect_eq(st.peers6, 1);
	cr_expect_eq(st.torrents, 1);

	cr_assert_eq(go(s, 7, v4(1, 1), SWARM_EVENT_STOPPED, true, 50, &c), 0);
	expect_counts(&c, 1, 1, 1);
	cr_assert_eq(go(s, 7, v4(2, 1), SWARM_EVENT_STOPPED, false, 50, &c), 0);
	expect_counts(&c, 1, 0, 1);
	expect_scrape(s, 7, 1, 0, 1);
	st = stats_of(s);
	cr_expect_eq(st.seeders, 1);
	cr_expect_eq(st.leechers, 0);
	cr_expect_eq(st.peers4, 0);
	cr_expect_eq(st.peers6, 1);
	swarm_destroy(s);
}

Test(swarm, seeder_transition_both_ways)
{
	struct swarm_config cfg = cfg_default();
	struct swarm *s = mk(&cfg);
	struct swarm_counts c;

	cr_assert_eq(go(s, 1, v4(1, 1), SWARM_EVENT_STARTED, false, 10, &c), 0);
	expect_counts(&c, 0, 1, 0);
	cr_assert_eq(go(s, 1, v4(1, 1), SWARM_EVENT_NONE, true, 20, &c), 0);
	expect_counts(&c, 1, 0, 0); /* became seeder without completed: no download */
	cr_expect_eq(stats_of(s).seeders, 1);
	cr_expect_eq(stats_of(s).leechers, 0);
	cr_assert_eq(go(s, 1, v4(1, 1), SWARM_EVENT_NONE, false, 30, &c), 0);
	expect_counts(&c, 0, 1, 0);
	cr_expect_eq(stats_of(s).seeders, 0);
	cr_expect_eq(stats_of(s).leechers, 1);
	cr_assert_eq(go(s, 1, v4(1, 1), SWARM_EVENT_NONE, false, 40, &c), 0);
	expect_counts(&c, 0, 1, 0);
	/* A seeder that stops leaves as a seeder. */
	cr_assert_eq(go(s, 1, v4(2, 1), SWARM_EVENT_STARTED, true, 40, &c), 0);
	expect_counts(&c, 1, 1, 0);
	cr_assert_eq(go(s, 1, v4(2, 1), SWARM_EVENT_STOPPED, true, 40, &c), 0);
	expect_counts(&c, 0, 1, 0);
	cr_expect_eq(stats_of(s).seeders, 0);
	swarm_destroy(s);
}

Test(swarm, completed_counts_once_per_peer)
{
	struct swarm_config cfg = cfg_default();
	struct swarm *s = mk(&cfg);
	struct swarm_counts c;

	go(s, 1, v4(1, 1), SWARM_EVENT_STARTED, false, 10, NULL);
	cr_assert_eq(go(s, 1, v4(1, 1), SWARM_EVENT_COMPLETED, true, 20, &c), 0);
	expect_counts(&c, 1, 0, 1);
	cr_assert_eq(go(s, 1, v4(1, 1), SWARM_EVENT_COMPLETED, true, 30, &c), 0);
	expect_counts(&c, 1, 0, 1);
	/* A peer first seen with completed counts. */
	cr_assert_eq(go(s, 1, v4(2, 1), SWARM_EVENT_COMPLETED, true, 30, &c), 0);
	expect_counts(&c, 2, 0, 2);
	/* A peer already seeding that says completed does not. */
	go(s, 1, v4(3, 1), SWARM_EVENT_STARTED, true, 30, NULL);
	cr_assert_eq(go(s, 1, v4(3, 1), SWARM_EVENT_COMPLETED, true, 30, &c), 0);
	expect_counts(&c, 3, 0, 2);
	/* Same address, other port: another peer. */
	cr_assert_eq(go(s, 1, v4(1, 2), SWARM_EVENT_COMPLETED, true, 30, &c), 0);
	expect_counts(&c, 4, 0, 3);
	swarm_destroy(s);
}

Test(swarm, stopped_removes_and_frees_empty_torrent)
{
	struct swarm_config cfg = cfg_default();
	struct swarm *s = mk(&cfg);
	uint64_t base = stats_of(s).memory_bytes;
	struct swarm_counts c;
	uint8_t out[64];

	/* Stopped for an unknown torrent creates nothing. */
	cr_assert_eq(go(s, 5, v4(1, 1), SWARM_EVENT_STOPPED, false, 10, &c), 0);
	expect_counts(&c, 0, 0, 0);
	cr_expect_eq(stats_of(s).torrents, 0);

	for (uint32_t i = 0; i < 10; i++)
		go(s, 5, v4(i, 1), SWARM_EVENT_STARTED, false, 10, NULL);
	go(s, 6, v4(1, 1), SWARM_EVENT_COMPLETED, true, 10, NULL);
	cr_expect_eq(stats_of(s).torrents, 2);
	cr_expect_gt(stats_of(s).memory_bytes, base);

	/* Stopped from a peer the torrent does not know changes nothing. */
	cr_assert_eq(go(s, 5, v4(99, 1), SWARM_EVENT_STOPPED, false, 10, &c), 0);
	expect_counts(&c, 0, 10, 0);

	for (uint32_t i = 0; i < 10; i++) {
		struct swarm_announce a = ann(5, v4(i, 1), SWARM_EVENT_STOPPED, false, 50);
		memset(out, 0, sizeof(out));
		cr_assert_eq(swarm_announce(s, &a, 20, out, sizeof(out), &c), 0,
			     "stopped returns no peers");
		expect_counts(&c, 0, 9 - i, 0);
	}
	expect_scrape(s, 5, 0, 0, 0);
	cr_expect_eq(stats_of(s).torrents, 1);
	cr_expect_eq(stats_of(s).memory_bytes, base, "heap array given back");
	expect_scrape(s, 6, 1, 0, 1);

	cr_assert_eq(go(s, 6, v4(1, 1), SWARM_EVENT_STOPPED, true, 10, &c), 0);
	cr_expect_eq(stats_of(s).torrents, 0);
	cr_expect_eq(stats_of(s).seeders, 0);
	cr_expect_eq(stats_of(s).peers4, 0);
	/* Downloaded goes with the torrent. */
	expect_scrape(s, 6, 0, 0, 0);
	go(s, 6, v4(1, 1), SWARM_EVENT_STARTED, false, 10, &c);
	expect_counts(&c, 0, 1, 0);
	swarm_destroy(s);
}

Test(swarm, unknown_family_refused)
{
	struct swarm_config cfg = cfg_default();
	struct swarm *s = mk(&cfg);
	struct netaddr bad = v4(1, 1);
	struct swarm_counts c;

	bad.family = AF_UNIX;
	cr_expect_eq(go(s, 1, bad, SWARM_EVENT_STARTED, false, 10, &c), -EAFNOSUPPORT);
	cr_expect_eq(go(s, 1, bad, SWARM_EVENT_STOPPED, false, 10, &c), 0);
	cr_expect_eq(stats_of(s).torrents, 0);
	swarm_destroy(s);
}

/* ---- expiry ----------------------------------------------------------- */

Test(swarm, sweep_expires_stale_keeps_fresh)
{
	struct swarm_config cfg = cfg_default();
	struct swarm *s;
	struct swarm_counts c;

	cfg.peer_timeout = 100;
	s = mk(&cfg);
	go(s, 1, v4(1, 1), SWARM_EVENT_STARTED, true, 1000, NULL);
	go(s, 1, v4(2, 1), SWARM_EVENT_STARTED, false, 1000, NULL);
	go(s, 1, v6(3, 1), SWARM_EVENT_STARTED, false, 1000, NULL);
	go(s, 1, v4(1, 1), SWARM_EVENT_NONE, true, 1080, NULL); /* refreshed */

	/* Exactly at the timeout nobody goes. */
	cr_expect_eq(swarm_sweep(s, 1100, 1000), 0);
	expect_scrape(s, 1, 1, 2, 0);

	cr_expect_eq(swarm_sweep(s, 1150, 1000), 2);
	expect_scrape(s, 1, 1, 0, 0);
	cr_expect_eq(stats_of(s).expired_peers, 2);
	cr_expect_eq(stats_of(s).leechers, 0);
	cr_expect_eq(stats_of(s).peers6, 0);

	cr_expect_eq(swarm_sweep(s, 1170, 1000), 0);
	cr_expect_eq(swarm_sweep(s, 1300, 1000), 1);
	expect_scrape(s, 1, 0, 0, 0);
	cr_expect_eq(stats_of(s).torrents, 0);
	cr_expect_eq(stats_of(s).seeders, 0);
	cr_expect_eq(stats_of(s).expired_peers, 3);

	/* The shard still works: the torrent comes back fresh. */
	cr_assert_eq(go(s, 1, v4(2, 1), SWARM_EVENT_STARTED, false, 1300, &c), 0);
	expect_counts(&c, 0, 1, 0);
	swarm_destroy(s);
}

Test(swarm, sweep_never_early_at_most_a_few_seconds_late)
{
	struct swarm_config cfg = cfg_default();

	cfg.peer_timeout = 60;
	for (uint32_t seen = 1000; seen < 1008; seen++) {
		struct swarm *s = mk(&cfg);
		go(s, 1, v4(1, 1), SWARM_EVENT_STARTED, false, seen, NULL);
		cr_expect_eq(swarm_sweep(s, seen + 60, 100), 0, "seen %u", seen);
		cr_expect_eq(swarm_sweep(s, seen + 64, 100), 1, "seen %u", seen);
		swarm_destroy(s);
	}
}

Test(swarm, sweep_frees_heap_and_many_torrents)
{
	struct swarm_config cfg = cfg_default();
	struct swarm *s;
	uint64_t base;

	cfg.peer_timeout = 10;
	base = empty_bytes(&cfg);
	s = mk(&cfg);
	for (uint32_t i = 0; i < 300; i++)
		go(s, 1, v4(i, 1), SWARM_EVENT_STARTED, false, 100, NULL);
	go(s, 1, v4(0, 1), SWARM_EVENT_NONE, false, 200, NULL);
	for (uint32_t t = 2; t < 500; t++)
		go(s, t, v6(t, 1), SWARM_EVENT_STARTED, false, 100, NULL);
	cr_expect_gt(stats_of(s).memory_bytes, base);
	cr_expect_eq(swarm_sweep(s, 200, 1u << 20), 299 + 498);
	cr_expect_eq(stats_of(s).torrents, 1);
	expect_scrape(s, 1, 0, 1, 0);
	/* Only the grown tables are left; the peer array went back inline. */
	cr_expect_eq(stats_of(s).peers4, 1);
	cr_expect_eq(stats_of(s).peers6, 0);
	cr_expect_eq(stats_of(s).memory_bytes, 1024 * REC4 + 1024 * REC6, "tables only, got %llu",
		     (unsigned long long)stats_of(s).memory_bytes);
	swarm_destroy(s);
}

Test(swarm, sweep_shrinks_big_array_to_fit)
{
	struct swarm_config cfg = cfg_default();
	struct swarm *s;
	uint64_t base;

	cfg.peer_timeout = 10;
	base = empty_bytes(&cfg);
	s = mk(&cfg);
	for (uint32_t i = 0; i < 4096; i++)
		go(s, 1, v4(i, 1), SWARM_EVENT_STARTED, false, 0, NULL);
	cr_expect_eq(stats_of(s).memory_bytes, base + 4096 * 8);
	for (uint32_t i = 0; i < 5; i++)
		go(s, 1, v4(i, 1), SWARM_EVENT_NONE, false, 100, NULL);
	cr_expect_eq(swarm_sweep(s, 100, 100), 4091);
	/* 5 peers: the smallest class with room for 5 + 5 / 4, 6 slots. */
	cr_expect_eq(stats_of(s).memory_bytes, base + 6 * 8);
	for (uint32_t i = 0; i < 5; i++)
		cr_expect_eq(go(s, 1, v4(i, 1), SWARM_EVENT_NONE, true, 100, NULL), 0);
	expect_scrape(s, 1, 5, 0, 0);
	swarm_destroy(s);
}

Test(swarm, sweep_budget_honoured)
{
	struct swarm_config cfg = cfg_default();
	struct swarm *s;
	size_t calls = 0, removed = 0;

	cfg.peer_timeout = 10;
	s = mk(&cfg);
	for (uint32_t t = 0; t < 1000; t++)
		go(s, t, v4(t, 1), SWARM_EVENT_STARTED, false, 0, NULL);
	/* 10 calls of one slot each remove at most 10 peers. */
	for (int i = 0; i < 10; i++)
		removed += swarm_sweep(s, 1000, 1);
	cr_expect_leq(removed, 10);
	cr_expect_geq(stats_of(s).torrents, 990);
	while (stats_of(s).torrents > 0 && calls < 100000) {
		size_t r = swarm_sweep(s, 1000, 1);
		cr_assert_leq(r, 1);
		removed += r;
		calls++;
	}
	cr_expect_eq(removed, 1000);
	cr_expect_geq(calls, 990, "a budget of 1 needs a call per torrent (%zu calls)", calls);
	cr_expect_eq(stats_of(s).expired_peers, 1000);
	swarm_destroy(s);
}

Test(swarm, sweep_one_pass_frees_whole_clusters)
{
	struct swarm_config cfg = cfg_default();
	struct swarm *s;
	size_t slots;

	cfg.peer_timeout = 10;
	s = mk(&cfg);
	for (uint32_t t = 0; t < 3000; t++)
		go(s, t, v4(t, 1), SWARM_EVENT_STARTED, false, 0, NULL);
	slots = stats_of(s).slots;
	cr_assert_eq(slots, 4096);
	/* One pass visits every slot once, plus a look again at each slot
	 * whose torrent was freed (a shifted record moved in). */
	cr_expect_eq(swarm_sweep(s, 1000, slots + 3000), 3000);
	cr_expect_eq(stats_of(s).torrents, 0);
	swarm_destroy(s);
}

Test(swarm, sweep_survives_unreadable_ages)
{
	struct swarm_config cfg = cfg_default();
	struct swarm *s;

	cfg.peer_timeout = 86400;
	s = mk(&cfg);
	for (uint32_t i = 0; i < 50; i++)
		go(s, i, v4(i, 1), SWARM_EVENT_STARTED, false, 1000000 + i * 5000, NULL);
	/* Far past the stamp's range, and a clock that went backwards. */
	swarm_sweep(s, 1000000 + 200000, 1000);
	swarm_sweep(s, 10, 1000);
	swarm_sweep(s, UINT32_MAX, 1000);
	cr_expect_leq(stats_of(s).torrents, 50);
	cr_expect_eq(stats_of(s).torrents + stats_of(s).expired_peers, 50);
	swarm_destroy(s);
}

/* ---- peer selection --------------------------------------------------- */

static uint32_t peer_index(const uint8_t *rec)
{
	cr_assert_eq(rec[0], 10);
	return (uint32_t)rec[1] << 16 | (uint32_t)rec[2] << 8 | rec[3];
}

Test(swarm, numwant_and_cap_honoured)
{
	struct swarm_config cfg = cfg_default();
	struct swarm *s = mk(&cfg);
	struct swarm_counts c;
	uint8_t out[6 * 200];

	for (uint32_t i = 0; i < 100; i++)
		go(s, 1, v4(i, 6881), SWARM_EVENT_STARTED, false, 10, NULL);
	struct swarm_announce a = ann(1, v4(0, 6881), SWARM_EVENT_NONE, false, 10);
	cr_expect_eq(swarm_announce(s, &a, 10, out, sizeof(out), &c), 60);
	a.numwant = 0;
	cr_expect_eq(swarm_announce(s, &a, 10, out, sizeof(out), &c), 0);
	a.numwant = 1000;
	cr_expect_eq(swarm_announce(s, &a, 10, out, sizeof(out), &c), 99 * 6, "all but self");
	a.numwant = 10;
	cr_expect_eq(swarm_announce(s, &a, 10, out, 20, &c), 18, "cap holds 3 records");
	cr_expect_eq(swarm_announce(s, &a, 10, out, 5, &c), 0, "cap holds none");
	cr_expect_eq(swarm_announce(s, &a, 10, NULL, 0, &c), 0);
	expect_counts(&c, 0, 100, 0);

	/* A lone peer gets nobody, not itself. */
	a = ann(2, v4(5, 1), SWARM_EVENT_STARTED, false, 50);
	cr_expect_eq(swarm_announce(s, &a, 10, out, sizeof(out), &c), 0);
	swarm_destroy(s);
}

static void check_reply(const uint8_t *out, int n, uint32_t self, uint32_t npeers, uint8_t *seen)
{
	cr_assert_eq(n % 6, 0);
	memset(seen, 0, npeers);
	for (int off = 0; off < n; off += 6) {
		uint32_t idx = peer_index(out + off);
		cr_assert_lt(idx, npeers, "unknown peer %u", idx);
		cr_assert_neq(idx, self, "requester in its own reply");
		cr_assert_eq(seen[idx], 0, "duplicate peer %u", idx);
		cr_assert_eq(out[off + 4], 0x1a);
		cr_assert_eq(out[off + 5], 0xe1);
		seen[idx] = 1;
	}
}

Test(swarm, replies_distinct_never_self)
{
	static const uint32_t sizes[] = {2, 3, 4, 5, 7, 12, 64, 97, 1000};
	struct swarm_config cfg = cfg_default();
	uint8_t out[6 * 1000], seen[1000];
	uint64_t x = 42;

	for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
		uint32_t n = sizes[k];
		struct swarm *s = mk(&cfg);
		uint32_t hits_first = 0;
		for (uint32_t i = 0; i < n; i++)
			go(s, 1, v4(i, 6881), SWARM_EVENT_STARTED, false, 10, NULL);
		for (int trial = 0; trial < 400; trial++) {
			uint32_t self = trand(&x) % n, want = trand(&x) % (n + 2);
			struct swarm_announce a =
			    ann(1, v4(self, 6881), SWARM_EVENT_NONE, false, want);
			struct swarm_counts c;
			int r = swarm_announce(s, &a, 10, out, sizeof(out), &c);
			uint32_t expect = want < n - 1 ? want : n - 1;
			cr_assert_eq(r, (int)(expect * 6), "n %u want %u got %d", n, want, r);
			check_reply(out, r, self, n, seen);
			hits_first += self != 0 && r > 0 && peer_index(out) == (self + 1) % n;
		}
		cr_expect_eq(stats_of(s).peers4, n, "replies add nobody");
		if (n >= 12)
			cr_expect_lt(hits_first, 200, "start is random (%u)", hits_first);
		swarm_destroy(s);
	}
}

Test(swarm, every_peer_gets_picked)
{
	struct swarm_config cfg = cfg_default();
	struct swarm *s = mk(&cfg);
	uint32_t count[50] = {0};
	uint8_t out[6 * 5];

	for (uint32_t i = 0; i < 50; i++)
		go(s, 1, v4(i, 6881), SWARM_EVENT_STARTED, false, 10, NULL);
	for (int trial = 0; trial < 2000; trial++) {
		struct swarm_announce a = ann(1, v4(0, 6881), SWARM_EVENT_NONE, false, 5);
		struct swarm_counts c;
		int r = swarm_announce(s, &a, 10, out, sizeof(out), &c);
		cr_assert_eq(r, 30);
		for (int off = 0; off < r; off += 6)
			count[peer_index(out + off)]++;
	}
	cr_expect_eq(count[0], 0);
	for (uint32_t i = 1; i < 50; i++)
		cr_expect_gt(count[i], 50, "peer %u picked %u times of ~204", i, count[i]);
	swarm_destroy(s);
}

/* Replies of several runs (50 of 300 peers): each reply distinct and without
 * the requester, and over many replies every other peer about equally
 * often, the requester's neighbours in the array included. */
Test(swarm, multi_run_replies_cover_evenly)
{
	struct swarm_config cfg = cfg_default();
	struct swarm *s = mk(&cfg);
	static uint32_t count[300];
	uint8_t out[6 * 50], seen[300];
	const uint32_t self = 150, trials = 3000;

	for (uint32_t i = 0; i < 300; i++)
		go(s, 1, v4(i, 6881), SWARM_EVENT_STARTED, false, 10, NULL);
	for (uint32_t trial = 0; trial < trials; trial++) {
		struct swarm_announce a = ann(1, v4(self, 6881), SWARM_EVENT_NONE, false, 50);
		struct swarm_counts c;
		int r = swarm_announce(s, &a, 10, out, sizeof(out), &c);
		cr_assert_eq(r, 50 * 6);
		check_reply(out, r, self, 300, seen);
		for (int off = 0; off < r; off += 6)
			count[peer_index(out + off)]++;
	}
	/* 3000 * 50 / 299 = ~502 each */
	for (uint32_t i = 0; i < 300; i++)
		if (i != self)
			cr_expect(count[i] > 350 && count[i] < 650, "peer %u picked %u times of ~502",
				  i, count[i]);
	swarm_destroy(s);
}

Test(swarm, families_kept_apart)
{
	struct swarm_config cfg = cfg_default();
	struct swarm *s = mk(&cfg);
	struct swarm_counts c;
	uint8_t out[18 * 50];
	int r;

	for (uint32_t i = 0; i < 10; i++) {
		go(s, 1, v4(i, 6881), SWARM_EVENT_STARTED, false, 10, NULL);
		go(s, 1, v6(i, 6881), SWARM_EVENT_STARTED, i < 4, 10, NULL);
	}
	struct swarm_announce a = ann(1, v6(100, 7), SWARM_EVENT_STARTED, false, 50);
	r = swarm_announce(s, &a, 10, out, sizeof(out), &c);
	cr_expect_eq(r, 10 * 18, "only the 10 other v6 peers");
	for (int off = 0; off < r; off += 18) {
		cr_expect_eq(out[off], 0x20);
		cr_expect_eq(out[off + 1], 0x01);
		cr_expect_eq(out[off + 16], 0x1a);
		cr_expect_eq(out[off + 17], 0xe1);
	}
	expect_counts(&c, 4, 17, 0);
	a = ann(1, v4(100, 7), SWARM_EVENT_STARTED, false, 50);
	r = swarm_announce(s, &a, 10, out, sizeof(out), &c);
	cr_expect_eq(r, 10 * 6, "only the 10 other v4 peers");
	for (int off = 0; off < r; off += 6)
		cr_expect_eq(out[off], 10);
	expect_counts(&c, 4, 18, 0);
	cr_expect_eq(stats_of(s).peers4, 11);
	cr_expect_eq(stats_of(s).peers6, 11);
	/* Same bytes in the other family are another peer. */
	struct netaddr twin = v4(3, 6881);
	twin.family = AF_INET6;
	go(s, 1, twin, SWARM_EVENT_STARTED, false, 10, &c);
	expect_counts(&c, 4, 19, 0);
	swarm_destroy(s);
}

/* ---- growth ----------------------------------------------------------- */

Test(swarm, inline_to_heap_to_many_peers)
{
	struct swarm_config cfg = cfg_default();
	struct swarm *s = mk(&cfg);
	uint64_t base = stats_of(s).memory_bytes;
	uint32_t order[10000];
	uint64_t x = 7;
	struct swarm_counts c;

	for (uint32_t i = 0; i < 10000; i++)
		order[i] = i;
	shuffle(order, 10000, &x);
	for (uint32_t i = 0; i < 10000; i++) {
		cr_assert_eq(go(s, 1, v4(order[i], 1), SWARM_EVENT_STARTED, i & 1, 10, &c), 0);
		if (i < 4)
			cr_assert_eq(stats_of(s).memory_bytes,
				     base + (i < 1 ? 0 : i < 2 ? 2 * 8 : 4 * 8),
				     "1 inline, then 2, then 4 on the heap");
	}
	for (uint32_t i = 0; i < 2000; i++)
		cr_assert_eq(go(s, 1, v6(i, 1), SWARM_EVENT_STARTED, false, 10, &c), 0);
	expect_counts(&c, 5000, 7000, 0);
	/* The classes holding them: 10240 (80 KiB) and 2048 (40 KiB). */
	cr_expect_eq(stats_of(s).memory_bytes, base + 10240 * 8 + 2048 * 20);
	/* Every peer is found: announcing again adds nobody. */
	for (uint32_t i = 0; i < 10000; i++)
		cr_assert_eq(go(s, 1, v4(i, 1), SWARM_EVENT_NONE, true, 20, &c), 0);
	for (uint32_t i = 0; i < 2000; i++)
		cr_assert_eq(go(s, 1, v6(i, 1), SWARM_EVENT_NONE, true, 20, &c), 0);
	expect_counts(&c, 12000, 0, 0);
	cr_expect_eq(stats_of(s).peers4, 10000);
	cr_expect_eq(stats_of(s).peers6, 2000);
	cr_expect_eq(stats_of(s).seeders, 12000);
	/* Stop them all in another order: the torrent and its arrays go. */
	shuffle(order, 10000, &x);
	for (uint32_t i = 0; i < 10000; i++)
		cr_assert_eq(go(s, 1, v4(order[i], 1), SWARM_EVENT_STOPPED, true, 30, &c), 0);
	expect_counts(&c, 2000, 0, 0);
	for (uint32_t i = 0; i < 2000; i++)
		go(s, 1, v6(i, 1), SWARM_EVENT_STOPPED, true, 30, NULL);
	cr_expect_eq(stats_of(s).torrents, 0);
	cr_expect_eq(stats_of(s).memory_bytes, base);
	swarm_destroy(s);
}

/* jemalloc's size classes: 8, 16, then 16-byte steps up to 128, then four
 * classes per doubling. */
static size_t jem_class(size_t bytes)
{
	size_t step;

	if (bytes <= 16)
		return bytes <= 8 ? 8 : 16;
	if (bytes <= 128)
		return (bytes + 15) & ~(size_t)15;
	step = (size_t)1 << (63 - __builtin_clzll((unsigned long long)(bytes - 1)) - 2);
	return (bytes + step - 1) & ~(step - 1);
}

/* Adds peers to one torrent one at a time and checks each growth of its heap
 * array: the new capacity is the most peers that fit in the size class of room
 * for one more, so it grows by 1/8 to 1/4 once past the small classes. */
static void check_growth(bool fam6, uint32_t n, const uint32_t *first, size_t nfirst)
{
	struct swarm_config cfg = cfg_default();
	struct swarm *s = mk(&cfg);
	uint64_t base = stats_of(s).memory_bytes;
	size_t esz = fam6 ? 20 : 8, steps = 0;
	uint32_t inl = 1, cap = inl;

	for (uint32_t i = 0; i < n; i++) {
		struct netaddr p = fam6 ? v6(i, 1) : v4(i, 1);
		uint64_t heap;
		cr_assert_eq(go(s, 1, p, SWARM_EVENT_STARTED, false, 10, NULL), 0);
		heap = stats_of(s).memory_bytes - base;
		cr_assert_eq(heap % esz, 0);
		if (i + 1 <= inl) {
			cr_assert_eq(heap, 0, "%u peers inline", i + 1);
			continue;
		}
		if (heap / esz == cap)
			continue;
		cr_assert_eq(i, cap, "grows only when full (%u peers, capacity %u)", i, cap);
		cr_assert_eq(heap / esz, jem_class((cap + 1) * esz) / esz, "capacity %u -> %llu",
			     cap, (unsigned long long)(heap / esz));
		if (cap >= 64) {
			/* By 1/8 to 1/4 of the bytes; a capacity rounds down. */
			cr_assert_geq((heap / esz - cap) * 8, cap, "grows by at least 1/8");
			cr_assert_leq((heap / esz - cap - 1) * 4, cap,
				      "grows by about 1/4 at most");
		}
		if (steps < nfirst)
			cr_assert_eq(heap / esz, first[steps], "step %zu", steps);
		cap = (uint32_t)(heap / esz);
		steps++;
	}
	cr_assert_geq(steps, nfirst);
	swarm_destroy(s);
}

Test(swarm, growth_steps_follow_size_classes)
{
	static const uint32_t first4[] = {2,   4,   6,   8,	 10,  12,  14,	16,  20,  24,  28,  32,
					  40,  48,  56,	 64,  80,  96,	112, 128, 160, 192, 224,
					  256, 320, 384, 448, 512, 640, 768, 896, 1024};
	static const uint32_t first6[] = {2,   3,   4,	 5,   6,   8,	9,   11,  12,  16,
					  19,  22,  25,	 32,  38,  44,	51,  64,  76,  89,
					  102, 128, 153, 179, 204, 256, 307, 358, 409, 512};

	check_growth(false, 70000, first4, sizeof(first4) / sizeof(first4[0]));
	check_growth(true, 20000, first6, sizeof(first6) / sizeof(first6[0]));
}

/* Removal shrinks only at most half full, to the smallest class with room for
 * about 5/4 of the peers; add/remove at a boundary does not reallocate. */
Test(swarm, shrink_to_five_quarters_when_half_empty)
{
	struct swarm_config cfg = cfg_default();
	struct swarm *s = mk(&cfg);
	uint64_t base = stats_of(s).memory_bytes;
	uint32_t n = 100;

#define HEAP4 ((stats_of(s).memory_bytes - base) / 8)
	for (uint32_t i = 0; i < n; i++)
		cr_assert_eq(go(s, 1, v4(i, 1), SWARM_EVENT_STARTED, false, 10, NULL), 0);
	cr_assert_eq(HEAP4, 112);
	/* Down to 57 peers: more than half of 112 used, no change. */
	while (n > 57)
		cr_assert_eq(go(s, 1, v4(--n, 1), SWARM_EVENT_STOPPED, false, 10, NULL), 0);
	cr_assert_eq(HEAP4, 112);
	/* 56 = 112 / 2: shrinks to the class with room for 70, 80. */
	cr_assert_eq(go(s, 1, v4(--n, 1), SWARM_EVENT_STOPPED, false, 10, NULL), 0);
	cr_assert_eq(HEAP4, 80);
	/* Back up to 80 peers: no growth; the 81st grows to 96. */
	while (n < 80)
		cr_assert_eq(go(s, 1, v4(n++, 1), SWARM_EVENT_STARTED, false, 10, NULL), 0);
	cr_assert_eq(HEAP4, 80);
	cr_assert_eq(go(s, 1, v4(n++, 1), SWARM_EVENT_STARTED, false, 10, NULL), 0);
	cr_assert_eq(HEAP4, 96);
	/* Stopping and starting the 81st again keeps 96. */
	for (int k = 0; k < 3; k++) {
		cr_assert_eq(go(s, 1, v4(n - 1, 1), SWARM_EVENT_STOPPED, false, 10, NULL), 0);
		cr_assert_eq(HEAP4, 96);
		cr_assert_eq(go(s, 1, v4(n - 1, 1), SWARM_EVENT_STARTED, false, 10, NULL), 0);
		cr_assert_eq(HEAP4, 96);
	}
	/* Every removal that shrinks leaves the smallest class >= n + n / 4. */
	while (n > 3) {
		uint64_t before = HEAP4, after;
		cr_assert_eq(go(s, 1, v4(--n, 1), SWARM_EVENT_STOPPED, false, 10, NULL), 0);
		after = HEAP4;
		if (after != before) {
			uint32_t want = n + n / 4;
			cr_assert_leq(n * 2, before, "shrinks only at most half full (%u)", n);
			cr_assert_geq(after, want);
			cr_assert_eq(after, jem_class(want * 8) / 8, "%u peers: capacity %llu", n,
				     (unsigned long long)after);
		}
	}
	cr_assert_eq(HEAP4, 4, "3 peers in a heap array of 4");
	cr_assert_eq(go(s, 1, v4(--n, 1), SWARM_EVENT_STOPPED, false, 10, NULL), 0);
	cr_assert_eq(HEAP4, 2, "2 peers in the smallest heap array");
	cr_assert_eq(go(s, 1, v4(--n, 1), SWARM_EVENT_STOPPED, false, 10, NULL), 0);
	cr_assert_eq(HEAP4, 0, "1 peer goes back inline");
#undef HEAP4
	expect_scrape(s, 1, 0, 1, 0);
	swarm_destroy(s);
}

Test(swarm, many_torrents_table_grows)
{
	struct swarm_config cfg = cfg_default();
	struct swarm *s = mk(&cfg);
	uint64_t base = stats_of(s).memory_bytes;
	const uint32_t n = 100000;

	for (uint32_t t = 0; t < n; t++)
		cr_assert_eq(go(s, t, v4(t, 1), SWARM_EVENT_STARTED, t % 3 == 0, 10, NULL), 0);
	cr_expect_eq(stats_of(s).torrents, n);
	cr_expect_eq(stats_of(s).peers4, n);
	cr_expect_gt(stats_of(s).memory_bytes, base);
	/* 100000 at load <= 3/4 needs 2^18 slots; growth doubles. */
	cr_expect_eq(stats_of(s).memory_bytes, (1u << 18) * (uint64_t)REC4 + SIX0);
	for (uint32_t t = 0; t < n; t++) {
		struct info_hash ih = ih_of(t);
		struct swarm_counts c;
		swarm_scrape(s, &ih, &c);
		cr_assert_eq(c.seeders + c.leechers, 1, "torrent %u lost", t);
		cr_assert_eq(c.seeders, t % 3 == 0);
	}
	expect_scrape(s, n + 1, 0, 0, 0);
	swarm_destroy(s);
}

/* swarm_prefetch keeps the hashes of the last two info hashes it saw; an
 * announce must land in its own torrent whether its hash is one of those,
 * an older one, or the all-zero hash the cache starts with. */
Test(swarm, announces_after_prefetches_find_their_torrent)
{
	struct swarm_config cfg = cfg_default();
	struct swarm *s = mk(&cfg);
	const uint32_t n = 5000;
	struct swarm_announce zero = {.peer = v4(7, 7), .event = SWARM_EVENT_STARTED};
	struct swarm_counts c;

	/* The worker's order: prefetch the next one, announce this one. */
	swarm_prefetch(s, &(struct info_hash){{0}});
	for (uint32_t t = 0; t < n; t++) {
		struct info_hash next = ih_of(t + 1);
		swarm_prefetch(s, &next);
		cr_assert_eq(go(s, t, v4(t, 1), SWARM_EVENT_STARTED, false, 10, NULL), 0);
	}
	/* Prefetches that do not match the announces that follow. */
	for (uint32_t t = 0; t < n; t++) {
		struct info_hash other = ih_of(t + 2 * n);
		swarm_prefetch(s, &other);
		cr_assert_eq(go(s, t, v4(t, 2), SWARM_EVENT_NONE, false, 10, NULL), 0);
	}
	cr_assert_eq(swarm_announce(s, &zero, 10, NULL, 0, &c), 0);
	cr_expect_eq(stats_of(s).torrents, n + 1);
	for (uint32_t t = 0; t < n; t++) {
		struct info_hash ih = ih_of(t);
		swarm_scrape(s, &ih, &c);
		cr_assert_eq(c.leechers, 2, "torrent %u: %u leechers", t, c.leechers);
	}
	swarm_scrape(s, &zero.info_hash, &c);
	expect_counts(&c, 0, 1, 0);
	swarm_destroy(s);
}

Test(swarm, backward_shift_deletion)
{
	struct swarm_config cfg = cfg_default();
	const uint32_t n = 20000;
	uint32_t *order = malloc(n * sizeof(*order));
	struct swarm *s;
	uint64_t x = 99;

	cr_assert_not_null(order);
	cfg.initial_torrents = 1;
	s = mk(&cfg);
	for (uint32_t i = 0; i < n; i++) {
		order[i] = i;
		go(s, i, v4(i, 1), SWARM_EVENT_STARTED, false, 10, NULL);
	}
	shuffle(order, n, &x);
	for (uint32_t i = 0; i < n / 2; i++) {
		uint32_t t = order[i];
		cr_assert_eq(go(s, t, v4(t, 1), SWARM_EVENT_STOPPED, false, 10, NULL), 0);
		if (i % 1000 == 0) /* the rest stays findable all along */
			for (uint32_t j = i + 1; j < n; j++)
				expect_scrape(s, order[j], 0, 1, 0);
	}
	cr_expect_eq(stats_of(s).torrents, n / 2);
	for (uint32_t i = 0; i < n; i++)
		expect_scrape(s, order[i], 0, i < n / 2 ? 0 : 1, 0);
	/* Deleted ones come back, kept ones are not duplicated. */
	for (uint32_t i = 0; i < n; i++)
		go(s, order[i], v4(order[i], 1), SWARM_EVENT_NONE, false, 10, NULL);
	cr_expect_eq(stats_of(s).torrents, n);
	for (uint32_t i = 0; i < n; i++)
		expect_scrape(s, i, 0, 1, 0);
	free(order);
	swarm_destroy(s);
}

/* ---- limits ----------------------------------------------------------- */

Test(swarm, torrent_limit)
{
	struct swarm_config cfg = cfg_default();
	struct swarm *s;
	struct swarm_counts c;

	cfg.max_torrents = 3;
	s = mk(&cfg);
	for (uint32_t t = 0; t < 3; t++)
		cr_assert_eq(go(s, t, v4(1, 1), SWARM_EVENT_STARTED, false, 10, NULL), 0);
	memset(&c, 0xff, sizeof(c));
	cr_expect_eq(go(s, 3, v4(1, 1), SWARM_EVENT_STARTED, false, 10, &c), -ENOSPC);
	expect_counts(&c, 0, 0, 0);
	cr_expect_eq(stats_of(s).limit_torrents, 1);
	cr_expect_eq(stats_of(s).torrents, 3);
	expect_scrape(s, 3, 0, 0, 0);
	/* Existing torrents keep serving, new peers included. */
	cr_expect_eq(go(s, 2, v4(2, 1), SWARM_EVENT_STARTED, true, 10, &c), 0);
	expect_counts(&c, 1, 1, 0);
	/* Room again after one leaves. */
	go(s, 0, v4(1, 1), SWARM_EVENT_STOPPED, false, 10, NULL);
	cr_expect_eq(go(s, 3, v4(1, 1), SWARM_EVENT_STARTED, false, 10, &c), 0);
	expect_counts(&c, 0, 1, 0);
	cr_expect_eq(stats_of(s).limit_torrents, 1);
	swarm_destroy(s);
}

Test(swarm, peer_limit)
{
	struct swarm_config cfg = cfg_default();
	struct swarm *s;
	struct swarm_counts c;
	uint8_t out[64];

	cfg.max_peers = 3;
	s = mk(&cfg);
	go(s, 1, v4(1, 1), SWARM_EVENT_STARTED, false, 10, NULL);
	go(s, 1, v4(2, 1), SWARM_EVENT_COMPLETED, true, 10, NULL);
	go(s, 1, v6(3, 1), SWARM_EVENT_STARTED, false, 10, NULL);
	cr_expect_eq(go(s, 1, v4(4, 1), SWARM_EVENT_STARTED, false, 10, &c), -EDQUOT);
	expect_counts(&c, 1, 2, 1);
	cr_expect_eq(go(s, 1, v6(4, 1), SWARM_EVENT_COMPLETED, true, 10, &c), -EDQUOT);
	expect_counts(&c, 1, 2, 1);
	cr_expect_eq(stats_of(s).limit_peers, 2);
	cr_expect_eq(stats_of(s).peers4, 2);
	cr_expect_eq(stats_of(s).peers6, 1);
	/* Known peers still refresh and get peers. */
	struct swarm_announce a = ann(1, v4(1, 1), SWARM_EVENT_COMPLETED, true, 50);
	cr_expect_eq(swarm_announce(s, &a, 20, out, sizeof(out), &c), 6);
	expect_counts(&c, 2, 1, 2);
	/* Other torrents are not affected. */
	cr_expect_eq(go(s, 2, v4(4, 1), SWARM_EVENT_STARTED, false, 10, NULL), 0);
	swarm_destroy(s);
}

Test(swarm, zero_peer_limit_leaves_no_torrent)
{
	struct swarm_config cfg = cfg_default();
	struct swarm *s;
	struct swarm_counts c;

	cfg.max_peers = 0;
	s = mk(&cfg);
	cr_expect_eq(go(s, 1, v4(1, 1), SWARM_EVENT_STARTED, false, 10, &c), -EDQUOT);
	expect_counts(&c, 0, 0, 0);
	cr_expect_eq(stats_of(s).torrents, 0);
	cr_expect_eq(stats_of(s).limit_peers, 1);
	expect_scrape(s, 1, 0, 0, 0);
	/* Live reconfiguration lifts it. */
	cfg.max_peers = 5;
	swarm_set_config(s, &cfg);
	cr_expect_eq(go(s, 1, v4(1, 1), SWARM_EVENT_STARTED, false, 10, &c), 0);
	expect_counts(&c, 0, 1, 0);
	swarm_destroy(s);
}

Test(swarm, refused_announce_changes_nothing)
{
	struct swarm_config cfg = cfg_default();
	struct swarm *s;
	struct swarm_counts c;

	cfg.initial_torrents = 1;
	s = mk(&cfg);
	for (uint32_t t = 0; t < 6; t++)
		go(s, t, v4(1, 1), SWARM_EVENT_STARTED, false, 10, NULL);
	cr_assert_eq(stats_of(s).memory_bytes, 8 * REC4 + SIX0, "8 slots hold 6 torrents");
	/* The next new torrent would grow the table; refused, it must not. */
	cfg.max_peers = 0;
	swarm_set_config(s, &cfg);
	cr_expect_eq(go(s, 6, v4(1, 1), SWARM_EVENT_STARTED, false, 10, &c), -EDQUOT);
	cr_expect_eq(stats_of(s).memory_bytes, 8 * REC4 + SIX0);
	cr_expect_eq(stats_of(s).torrents, 6);
	cfg.max_torrents = 6;
	cfg.max_peers = 10;
	swarm_set_config(s, &cfg);
	cr_expect_eq(go(s, 6, v4(1, 1), SWARM_EVENT_STARTED, false, 10, &c), -ENOSPC);
	cr_expect_eq(stats_of(s).memory_bytes, 8 * REC4 + SIX0);
	swarm_destroy(s);
}

Test(swarm, memory_budget_peers)
{
	struct swarm_config cfg = cfg_default();
	struct swarm *s;
	struct swarm_counts c;
	uint64_t base;
	uint32_t added = 0;
	int r = 0;

	cfg.memory_budget = 1u << 20;
	base = empty_bytes(&cfg);
	cfg.memory_budget = base + 520; /* a heap array of 64 IPv4 peers, little more */
	s = mk(&cfg);
	while (added < 1000) {
		r = go(s, 1, v4(added, 1), SWARM_EVENT_STARTED, false, 10, &c);
		if (r)
			break;
		added++;
	}
	cr_expect_eq(r, -ENOMEM);
	cr_expect_eq(added, 64, "64 fit in 512 bytes, 80 do not (added %u)", added);
	expect_counts(&c, 0, 64, 0);
	cr_expect_eq(stats_of(s).limit_memory, 1);
	cr_expect_leq(stats_of(s).memory_bytes, cfg.memory_budget);
	cr_expect_eq(stats_of(s).peers4, 64);
	/* Known peers and inline-only torrents still work. */
	cr_expect_eq(go(s, 1, v4(5, 1), SWARM_EVENT_COMPLETED, true, 10, &c), 0);
	expect_counts(&c, 1, 63, 1);
	cr_expect_eq(go(s, 2, v4(5, 1), SWARM_EVENT_STARTED, true, 10, &c), 0);
	cr_expect_eq(go(s, 3, v4(6, 1), SWARM_EVENT_STARTED, true, 10, &c), 0);
	cr_expect_eq(go(s, 1, v6(1, 1), SWARM_EVENT_STARTED, true, 10, &c), 0);
	cr_expect_eq(go(s, 1, v6(2, 1), SWARM_EVENT_STARTED, true, 10, &c), -ENOMEM);
	cr_expect_eq(stats_of(s).limit_memory, 2);
	expect_counts(&c, 2, 63, 1);
	swarm_destroy(s);
}

Test(swarm, memory_budget_table)
{
	struct swarm_config cfg = cfg_default();
	struct swarm *s;
	struct swarm_counts c;
	uint32_t added = 0;
	int r = 0;

	cfg.initial_torrents = 1;
	/* The smallest tables, no growth, and one heap array of 2 peers. */
	cfg.memory_budget = 8 * REC4 + SIX0 + 2 * 8;
	s = mk(&cfg);
	cr_expect_eq(stats_of(s).memory_bytes, 8 * REC4 + SIX0);
	while (added < 100) {
		r = go(s, added, v4(1, 1), SWARM_EVENT_STARTED, false, 10, &c);
		if (r)
			break;
		added++;
	}
	cr_expect_eq(r, -ENOMEM);
	cr_expect_eq(added, 6, "load 3/4 of 8 slots");
	expect_counts(&c, 0, 0, 0);
	cr_expect_eq(stats_of(s).torrents, 6);
	cr_expect_eq(stats_of(s).limit_memory, 1);
	cr_expect_eq(stats_of(s).memory_bytes, 8 * REC4 + SIX0);
	for (uint32_t t = 0; t < 6; t++)
		expect_scrape(s, t, 0, 1, 0);
	expect_scrape(s, 6, 0, 0, 0);
	cr_expect_eq(go(s, 3, v4(2, 1), SWARM_EVENT_STARTED, false, 10, &c), 0);
	expect_counts(&c, 0, 2, 0);
	/* A larger budget lets the table grow. */
	cfg.memory_budget = 1 << 20;
	swarm_set_config(s, &cfg);
	cr_expect_eq(go(s, 6, v4(1, 1), SWARM_EVENT_STARTED, false, 10, &c), 0);
	cr_expect_eq(stats_of(s).memory_bytes, 16 * REC4 + SIX0 + 2 * 8);
	swarm_destroy(s);
}

/* ---- the IPv6 table ---------------------------------------------------- */

/* A torrent's IPv6 peers live in a record of their own that exists only
 * while it has some; counts, scrapes, listings and peer picks see both. */
Test(swarm, ipv6_record_follows_ipv6_peers)
{
	struct swarm_config cfg = cfg_default();
	struct swarm *s = mk(&cfg);
	uint64_t base = stats_of(s).memory_bytes;
	struct swarm_announce a;
	struct swarm_counts c;
	struct swarm_listing l[4];
	uint64_t cursor = 0;
	uint8_t out[64];
	struct info_hash ih = ih_of(1);

	cr_assert_eq(go(s, 1, v4(1, 1), SWARM_EVENT_STARTED, true, 10, &c), 0);
	cr_assert_eq(go(s, 1, v6(1, 1), SWARM_EVENT_COMPLETED, false, 10, &c), 0);
	expect_counts(&c, 1, 1, 1);
	/* An IPv4 announce counts the IPv6 leecher too. */
	cr_assert_eq(go(s, 1, v4(1, 1), SWARM_EVENT_NONE, true, 11, &c), 0);
	expect_counts(&c, 1, 1, 1);
	expect_scrape(s, 1, 1, 1, 1);
	cr_assert_eq(swarm_list(s, &cursor, l, 4), 1);
	expect_counts(&l[0].counts, 1, 1, 1);
	cr_expect_eq(swarm_peers(s, &ih, AF_INET6, 50, out, sizeof(out)), 18);
	cr_expect_eq(swarm_peers(s, &ih, AF_INET, 50, out, sizeof(out)), 6);
	a = ann(1, v4(2, 1), SWARM_EVENT_STARTED, false, 50);
	cr_expect_eq(swarm_announce(s, &a, 12, out, sizeof(out), &c), 6, "IPv4 peers only");
	expect_counts(&c, 1, 2, 1);
	cr_expect_eq(stats_of(s).memory_bytes, base + 2 * 8, "inline IPv6 peer, 2 IPv4 on the heap");
	/* The last IPv6 peer leaves: its record goes, the torrent stays. */
	cr_assert_eq(go(s, 1, v6(1, 1), SWARM_EVENT_STOPPED, false, 13, &c), 0);
	expect_counts(&c, 1, 1, 1);
	cr_expect_eq(swarm_peers(s, &ih, AF_INET6, 50, out, sizeof(out)), 0);
	/* Back again, and gone by its last IPv4 peer leaving first. */
	cr_assert_eq(go(s, 1, v6(1, 1), SWARM_EVENT_STARTED, false, 14, &c), 0);
	go(s, 1, v4(1, 1), SWARM_EVENT_STOPPED, true, 15, NULL);
	go(s, 1, v4(2, 1), SWARM_EVENT_STOPPED, false, 15, &c);
	expect_counts(&c, 0, 1, 1);
	cr_expect_eq(stats_of(s).torrents, 1, "an IPv6-only torrent");
	cr_assert_eq(go(s, 1, v6(1, 1), SWARM_EVENT_STOPPED, false, 16, &c), 0);
	expect_counts(&c, 0, 0, 1);
	cr_expect_eq(stats_of(s).torrents, 0);
	cr_expect_eq(stats_of(s).memory_bytes, base);
	swarm_destroy(s);
}

/* Many torrents with IPv6 peers grow the IPv6 table; the sweep expires their
 * IPv6 peers and frees records of both tables. */
Test(swarm, ipv6_table_grows_and_sweeps)
{
	struct swarm_config cfg = cfg_default();
	struct swarm *s;
	const uint32_t n = 3000;

	cfg.peer_timeout = 10;
	s = mk(&cfg);
	for (uint32_t t = 0; t < n; t++) {
		cr_assert_eq(go(s, t, v6(t, 1), SWARM_EVENT_STARTED, t & 1, 0, NULL), 0);
		if (t % 3 == 0)
			cr_assert_eq(go(s, t, v4(t, 1), SWARM_EVENT_STARTED, false, 100, NULL), 0);
	}
	cr_expect_eq(stats_of(s).torrents, n);
	cr_expect_eq(stats_of(s).peers6, n);
	for (uint32_t t = 0; t < n; t++)
		expect_scrape(s, t, t & 1, 1 - (t & 1) + (t % 3 == 0), 0);
	cr_expect_eq(swarm_sweep(s, 100, 1u << 20), n);
	cr_expect_eq(stats_of(s).torrents, n / 3, "torrents with an IPv4 peer stay");
	cr_expect_eq(stats_of(s).peers6, 0);
	cr_expect_eq(stats_of(s).seeders, 0);
	for (uint32_t t = 0; t < n; t++)
		expect_scrape(s, t, 0, t % 3 == 0, 0);
	/* The grown IPv6 table stays (tables never shrink), empty. */
	cr_expect_eq(stats_of(s).memory_bytes, 4096 * REC4 + 4096 * REC6);
	swarm_destroy(s);
}

/* An IPv6 peer whose record does not fit the budget is refused and leaves
 * nothing behind, not even the torrent it would have created. */
Test(swarm, ipv6_record_refused_by_budget)
{
	struct swarm_config cfg = cfg_default();
	struct swarm *s;
	struct swarm_counts c;

	cfg.initial_torrents = 12; /* 16 main slots, so the main table does not grow */
	cfg.memory_budget = 16 * REC4 + SIX0;
	s = mk(&cfg);
	for (uint32_t t = 0; t < 6; t++)
		cr_assert_eq(go(s, t, v6(t, 1), SWARM_EVENT_STARTED, false, 10, NULL), 0);
	/* A 7th IPv6 record would grow the IPv6 table past the budget. */
	cr_expect_eq(go(s, 6, v6(6, 1), SWARM_EVENT_STARTED, false, 10, &c), -ENOMEM);
	expect_counts(&c, 0, 0, 0);
	cr_expect_eq(stats_of(s).torrents, 6);
	cr_expect_eq(stats_of(s).limit_memory, 1);
	expect_scrape(s, 6, 0, 0, 0);
	/* The torrent exists with an IPv4 peer: refused, its counts stay. */
	cr_assert_eq(go(s, 6, v4(6, 1), SWARM_EVENT_STARTED, true, 10, NULL), 0);
	cr_expect_eq(go(s, 6, v6(6, 1), SWARM_EVENT_STARTED, false, 10, &c), -ENOMEM);
	expect_counts(&c, 1, 0, 0);
	cr_expect_eq(stats_of(s).torrents, 7);
	cr_expect_eq(stats_of(s).memory_bytes, 16 * REC4 + SIX0);
	swarm_destroy(s);
}

/* ---- stats ------------------------------------------------------------ */

Test(swarm, stats_match_scrapes)
{
	struct swarm_config cfg = cfg_default();
	struct swarm *s;
	uint64_t x = 1234, seeders = 0, leechers = 0, torrents = 0;
	struct swarm_stats st;

	cfg.peer_timeout = 100;
	s = mk(&cfg);
	for (uint32_t i = 0; i < 20000; i++) {
		uint32_t t = trand(&x) % 300, p = trand(&x) % 40, now = i / 20;
		enum swarm_event ev = (enum swarm_event)(trand(&x) % 4);
		struct netaddr peer = p & 1 ? v6(p, 1) : v4(p, 1);
		struct swarm_announce a = ann(t, peer, ev, trand(&x) & 1, trand(&x) % 60);
		struct swarm_counts c;
		uint8_t out[18 * 60];
		int r = swarm_announce(s, &a, now, out, sizeof(out), &c);
		cr_assert_geq(r, 0);
		cr_assert_eq(r % (p & 1 ? 18 : 6), 0);
		if (i % 50 == 0)
			swarm_sweep(s, now, 7);
	}
	for (uint32_t t = 0; t < 300; t++) {
		struct info_hash ih = ih_of(t);
		struct swarm_counts c;
		swarm_scrape(s, &ih, &c);
		seeders += c.seeders;
		leechers += c.leechers;
		torrents += c.seeders + c.leechers > 0;
	}
	st = stats_of(s);
	cr_expect_eq(st.seeders, seeders);
	cr_expect_eq(st.leechers, leechers);
	cr_expect_eq(st.peers4 + st.peers6, seeders + leechers);
	cr_expect_eq(st.torrents, torrents);
	cr_expect_gt(st.expired_peers, 0);
	swarm_destroy(s);
}

Test(swarm, destroy_null_is_fine)
{
	swarm_destroy(NULL);
}

/* BEP 7 support: peers of one family, no requester to leave out. */
Test(swarm, peers_of_one_family)
{
	struct swarm_config cfg = cfg_default();
	struct swarm *s = mk(&cfg);
	uint8_t out[64 * 18];

	for (uint32_t i = 0; i < 5; i++)
		cr_assert_geq(go(s, 1, v4(i + 1, 1000), SWARM_EVENT_STARTED, false, 10, NULL), 0);
	for (uint32_t i = 0; i < 3; i++)
		cr_assert_geq(go(s, 1, v6(i + 1, 2000), SWARM_EVENT_STARTED, false, 10, NULL), 0);

	cr_assert_eq(swarm_peers(s, &(struct info_hash){ 0 }, AF_INET, 50, out, sizeof(out)), 0,
		     "unknown torrent");
	struct info_hash ih = ih_of(1);
	cr_assert_eq(swarm_peers(s, &ih, AF_INET, 50, out, sizeof(out)), 5 * 6);
	cr_assert_eq(swarm_peers(s, &ih, AF_INET6, 50, out, sizeof(out)), 3 * 18);
	cr_assert_eq(swarm_peers(s, &ih, AF_INET6, 2, out, sizeof(out)), 2 * 18, "numwant");
	cr_assert_eq(swarm_peers(s, &ih, AF_INET, 50, out, 13), 2 * 6, "cap");
	/* Every IPv6 record is one of ours, each once. */
	int n = swarm_peers(s, &ih, AF_INET6, 50, out, sizeof(out));
	bool seen[4] = { false };
	for (int off = 0; off < n; off += 18) {
		uint32_t id;
		memcpy(&id, out + off + 12, sizeof(id));
		cr_assert(id >= 1 && id <= 3 && !seen[id], "record %u", id);
		seen[id] = true;
		cr_assert_eq(out[off + 16], 2000 >> 8);
		cr_assert_eq(out[off + 17], 2000 & 0xff);
	}
	swarm_destroy(s);
}

/* Full scrape: every torrent listed once, chunk by chunk, with its counts. */
Test(swarm, list_every_torrent_in_chunks)
{
	struct swarm_config cfg = cfg_default();
	struct swarm *s = mk(&cfg);
	enum { N = 1000 };
	static bool seen[N];
	struct swarm_listing chunk[64];
	uint64_t cursor = 0;
	size_t total = 0, calls = 0;

	for (uint32_t t = 0; t < N; t++) {
		cr_assert_geq(go(s, t, v4(t + 1, 1), SWARM_EVENT_STARTED, t % 3 == 0, 5, NULL), 0);
		if (t % 5 == 0)
			cr_assert_geq(go(s, t, v6(t + 1, 2), SWARM_EVENT_STARTED, false, 5, NULL), 0);
	}
	while (cursor != SWARM_LIST_END) {
		size_t n = swarm_list(s, &cursor, chunk, 64);
		cr_assert_leq(n, 64);
		cr_assert(++calls < 10000, "the cursor does not advance");
		for (size_t i = 0; i < n; i++) {
			uint32_t t;
			memcpy(&t, chunk[i].info_hash.b, sizeof(t));
			cr_assert_lt(t, N);
			cr_assert_not(seen[t], "torrent %u listed twice", t);
			seen[t] = true;
			cr_assert_eq(chunk[i].counts.seeders, t % 3 == 0 ? 1u : 0u, "torrent %u", t);
			cr_assert_eq(chunk[i].counts.leechers,
				     (t % 3 == 0 ? 0u : 1u) + (t % 5 == 0 ? 1u : 0u), "torrent %u", t);
		}
		total += n;
	}
	cr_assert_eq(total, N);
	cr_assert_gt(calls, N / 64);
	swarm_destroy(s);
}

/* IPv6 seeders are counted apart (for peers by family and kind), through
 * every way a seeder comes and goes: start, completion, back to leeching,
 * stop, expiry. */
Test(swarm, ipv6_seeders_counted_apart)
{
	struct swarm_config cfg = cfg_default();
	struct swarm *s;

	cfg.peer_timeout = 100;
	s = mk(&cfg);
	go(s, 1, v4(1, 1), SWARM_EVENT_STARTED, true, 1000, NULL);
	go(s, 1, v6(2, 1), SWARM_EVENT_STARTED, true, 1000, NULL);
	go(s, 1, v6(3, 1), SWARM_EVENT_STARTED, false, 1000, NULL);
	go(s, 2, v6(4, 1), SWARM_EVENT_STARTED, false, 1000, NULL);
	cr_expect_eq(stats_of(s).seeders, 2);
	cr_expect_eq(stats_of(s).seeders6, 1);
	go(s, 2, v6(4, 1), SWARM_EVENT_COMPLETED, true, 1000, NULL);
	cr_expect_eq(stats_of(s).seeders6, 2);
	go(s, 2, v6(4, 1), SWARM_EVENT_NONE, false, 1000, NULL); /* leeches again */
	cr_expect_eq(stats_of(s).seeders6, 1);
	go(s, 1, v6(2, 1), SWARM_EVENT_STOPPED, true, 1000, NULL);
	cr_expect_eq(stats_of(s).seeders6, 0);
	cr_expect_eq(stats_of(s).seeders, 1);
	go(s, 2, v6(4, 1), SWARM_EVENT_NONE, true, 1080, NULL);
	go(s, 1, v4(1, 1), SWARM_EVENT_NONE, true, 1080, NULL);
	cr_expect_eq(stats_of(s).seeders6, 1);
	cr_expect_eq(swarm_sweep(s, 1150, 1000), 1); /* v6(3), a leecher */
	cr_expect_eq(stats_of(s).seeders6, 1);
	cr_expect_eq(swarm_sweep(s, 1300, 1000), 2);
	cr_expect_eq(stats_of(s).seeders6, 0);
	cr_expect_eq(stats_of(s).seeders, 0);
	swarm_destroy(s);
}

/* swarm_list_slots: never more than budget slots per call, whatever the
 * table holds, and every torrent once over a whole pass. */
Test(swarm, list_slots_bounded_per_call)
{
	struct swarm_config cfg = cfg_default();
	struct swarm *s = mk(&cfg);
	enum { N = 300, BUDGET = 16 };
	static bool seen[N];
	struct swarm_listing chunk[BUDGET];
	uint64_t cursor = 0, last = 0;
	size_t total = 0, calls = 0;

	for (uint32_t t = 0; t < N; t++)
		cr_assert_geq(go(s, t, v4(t + 1, 1), SWARM_EVENT_STARTED, t % 2 == 0, 5, NULL), 0);
	while (cursor != SWARM_LIST_END) {
		size_t n = swarm_list_slots(s, &cursor, BUDGET, chunk);
		cr_assert_leq(n, BUDGET);
		cr_assert(++calls < 100000, "the cursor does not advance");
		if (cursor != SWARM_LIST_END) {
			cr_assert_eq(cursor, last + BUDGET, "exactly budget slots looked at");
			last = cursor;
		}
		for (size_t i = 0; i < n; i++) {
			uint32_t t;
			memcpy(&t, chunk[i].info_hash.b, sizeof(t));
			cr_assert_lt(t, N);
			cr_assert_not(seen[t], "torrent %u listed twice", t);
			seen[t] = true;
			cr_assert_eq(chunk[i].counts.seeders + chunk[i].counts.leechers, 1);
		}
		total += n;
	}
	cr_assert_eq(total, N);
	/* An empty shard: one call reaches the end of its small table. */
	static struct swarm_listing room[64]; /* the default table has 16 slots */
	struct swarm *e = mk(&cfg);
	cursor = 0;
	cr_assert_eq(swarm_list_slots(e, &cursor, 64, room), 0);
	cr_assert_eq(cursor, SWARM_LIST_END);
	swarm_destroy(e);
	swarm_destroy(s);
}

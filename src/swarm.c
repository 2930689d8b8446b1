/* swarm.c - one shard's torrents and peers: the tracker's in-memory store.
 *
 * What it does: keeps, per info hash, the seeder/leecher/downloaded counts and
 * the peers (IPv4 and IPv6 apart), handles announces (add, refresh, stop),
 * picks random peers for replies as compact records (BEP 23 for IPv4, BEP 7
 * for IPv6: ip then port, network order), answers scrapes (BEP 48 counts) and
 * expires silent peers by an incremental sweep. What it doesn't: no I/O, no
 * locks, no persistence (a torrent's downloaded count dies with its last
 * peer), no per-peer data beyond (address, port, last seen, seeder).
 *
 * Thread: a shard belongs to one worker; only that thread may call in.
 *
 * Layout: two open-addressing tables (linear probing, power-of-two size,
 * backward-shift deletion, no tombstones) hold records by value. The main
 * table has every torrent: its counts and its IPv4 peers, in 40 bytes. The
 * IPv6 table has a 48-byte record for each torrent that has IPv6 peers, and
 * a bit in the main record says so, so that torrents without IPv6 peers
 * (most, on most trackers) cost one lookup and no IPv6 storage; a torrent
 * with peers of both families costs a second lookup for its counts. The
 * bucket is SipHash-2-4 (crypto_shorthash) of the info hash keyed by the
 * shard's seed, so nobody can aim crafted hashes at one bucket; one hash
 * serves both tables. A table doubles at load 3/4 and never shrinks. A record
 * keeps one peer inline; more go to a heap array whose capacity fills one of
 * the allocator's size classes (jemalloc: four per doubling). A full array
 * grows to the next class (by 1/8 to 1/4, about 10% slack on average); one at
 * most half full shrinks to the class holding about 5/4 of its peers; it goes
 * back inline when the peer fits there. The record keeps a 7-bit index into
 * a per-family table of these capacities. Each peer array is sorted by (ip,
 * port) bytes, so finding a peer is a binary search and adding/removing one is
 * a memmove.
 *
 * Memory: the shard owns everything it allocates. memory_bytes charges the
 * tables and the peer arrays by capacity (not malloc's overhead); growth past
 * memory_budget is refused with -ENOMEM. The first tables are allocated even
 * if they alone exceed a tiny budget.
 *
 * Complexity: announce O(1) expected for the table(s) plus O(log n) to find
 * the peer and O(n) memmove to add/remove one in a torrent of n peers of that
 * family, plus O(numwant) to pick; scrape O(1) expected; stats O(1);
 * swarm_list_slots O(budget) whatever the table's load; a sweep visits at
 * most `budget` main-table slots but a visited torrent costs O(its peers); a
 * slot looked at again after its torrent was freed counts as another visit.
 *
 * Known limits: at most SWARM_PEERS_MAX peers of one family per torrent (the
 * count is 24 bits). The last-seen stamp is 15 bits of 4-second units (wraps
 * after about 36 hours), so a peer the sweep does not reach within that time
 * may look young and live one more cycle; a clock going backwards makes peers
 * look old. Deletions by announces and table growth move records around the
 * sweep cursor, so one pass may skip or revisit a torrent (the next pass gets
 * it). Peer choice takes runs of up to 8 array neighbours (peers sorted by
 * address) from evenly spread, randomly placed slots: distinct, every peer
 * equally likely, cache-friendly, but not uniform over subsets (peers close
 * in the array tend to come together).
 * A failed malloc counts as limit_memory, like the budget. Seeders are sent
 * seeders too. "completed" counts when the peer was not marked seeder before,
 * so a client sending completed with left > 0 counts each time.
 */
#include "swarm.h"

#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#define STAMP_BITS     15
#define STAMP_MASK     ((1u << STAMP_BITS) - 1)
#define STAMP_SEEDER   (1u << STAMP_BITS)
#define STAMP_UNIT_LOG 2		     /* a stamp unit is 4 seconds */
#define TIMEOUT_MAX    (4u * STAMP_MASK - 8) /* longest age the stamp can tell */
#define TABLE_MIN      8		     /* slots */
#define TABLE_DEFAULT  16		     /* slots when no hint is given */
#define INLINE4	       1		     /* IPv4 peers kept in the record */
#define INLINE6	       1		     /* IPv6 peers kept in the record */

/* One IPv4 peer: the compact record (ip, port; network order) then a stamp. */
struct swarm_peer4 {
	uint8_t ip[4];	 /* network order */
	uint8_t port[2]; /* network order */
	uint16_t stamp;	 /* host order: seeder bit | last seen in 4 s units */
};

/* One IPv6 peer, same scheme. */
struct swarm_peer6 {
	uint8_t ip[16];	 /* network order */
	uint8_t port[2]; /* network order */
	uint16_t stamp;	 /* host order: seeder bit | last seen in 4 s units */
};

static_assert(sizeof(struct swarm_peer4) == 8, "IPv4 peer is 8 bytes");
static_assert(sizeof(struct swarm_peer6) == 20, "IPv6 peer is 20 bytes");

/* How every record of both tables starts: what the table code needs (key,
 * used) and one family's peer array size. A slot is free when used == 0. */
struct rec_head {
	struct info_hash ih;
	uint32_t n : 24;   /* peers of the table's family */
	uint32_t cls : 7;  /* 0: inline; else heap capacity fam->cap[cls] */
	uint32_t used : 1; /* the slot holds a torrent */
};

/* Main table: every torrent. A used one has at least one peer of either
 * family (outside of swarm_announce's own steps). */
struct swarm_torrent {
	struct rec_head h; /* h.n: IPv4 peers */
	uint32_t downloaded; /* completed events, once per peer */
	uint32_t seeders : 31; /* both families; leechers = n4 + n6 - seeders */
	uint32_t has6 : 1;     /* a record in the IPv6 table holds its IPv6 peers */
	union {
		struct swarm_peer4 in[INLINE4];
		uint8_t *heap; /* when h.cls != 0 */
	} v4;
};

/* IPv6 table: the IPv6 peers of a torrent that has some (h.n > 0). */
struct swarm_torrent6 {
	struct rec_head h; /* h.n: IPv6 peers */
	union {
		struct swarm_peer6 in[INLINE6];
		uint8_t *heap; /* when h.cls != 0 */
	} v6;
};

static_assert(sizeof(struct rec_head) == 24, "record head is 24 bytes");
static_assert(sizeof(struct swarm_torrent) == 40, "torrent record stays compact");
static_assert(sizeof(struct swarm_torrent6) == 48, "IPv6 record stays compact");
static_assert(SWARM_PEERS_MAX < (1u << 24), "a family's peer count fits 24 bits");

/* One open-addressing table of fixed-size records starting with rec_head. */
struct table {
	uint8_t *slots; /* (mask + 1) records of esz bytes */
	size_t mask;	/* slots - 1; the size is a power of two */
	size_t esz;	/* bytes per record */
	uint64_t count; /* used slots */
};

struct swarm {
	struct table main; /* struct swarm_torrent */
	struct table six;  /* struct swarm_torrent6 */
	size_t cursor;	   /* next main-table slot the sweep visits */
	struct swarm_config cfg;
	uint8_t key[crypto_shorthash_KEYBYTES];
	uint64_t rng; /* wyrand state */
	struct swarm_stats st;
	/* The hashes of the last two info hashes swarm_prefetch looked up: the
	 * worker prefetches for the next datagram while it handles the current
	 * one, so the announce that follows finds its hash here. */
	struct recent_hash {
		struct info_hash ih;
		uint64_t h;
	} recent[2];
	unsigned recent_next; /* the entry swarm_prefetch overwrites next */
};

/* Heap capacities by class index (0: inline), one table per family. Entry
 * k + 1 is the most peers that fit in the jemalloc size class (8, 16, then
 * 16-byte steps to 128, then four classes per doubling) of room for entry k
 * plus one peer: growth is by 1/8 to 1/4 and a capacity uses all its block.
 * The first is the class of room for inline + 1 peers; the last is 2^24,
 * past SWARM_PEERS_MAX. Generated; tests/test_swarm.c checks the growth
 * steps. */
static const uint32_t CAP4[] = {
    0, 2u, 4u, 6u, 8u, 10u, 12u, 14u, 16u, 20u, 24u, 28u, 32u, 40u, 48u, 56u, 64u, 80u, 96u,
    112u, 128u, 160u, 192u, 224u, 256u, 320u, 384u, 448u, 512u, 640u, 768u, 896u, 1024u,
    1280u, 1536u, 1792u, 2048u, 2560u, 3072u, 3584u, 4096u, 5120u, 6144u, 7168u, 8192u,
    10240u, 12288u, 14336u, 16384u, 20480u, 24576u, 28672u, 32768u, 40960u, 49152u, 57344u,
    65536u, 81920u, 98304u, 114688u, 131072u, 163840u, 196608u, 229376u, 262144u, 327680u,
    393216u, 458752u, 524288u, 655360u, 786432u, 917504u, 1048576u, 1310720u, 1572864u,
    1835008u, 2097152u, 2621440u, 3145728u, 3670016u, 4194304u, 5242880u, 6291456u,
    7340032u, 8388608u, 10485760u, 12582912u, 14680064u, 16777216u};
static const uint32_t CAP6[] = {
    0, 2u, 3u, 4u, 5u, 6u, 8u, 9u, 11u, 12u, 16u, 19u, 22u, 25u, 32u, 38u, 44u, 51u, 64u,
    76u, 89u, 102u, 128u, 153u, 179u, 204u, 256u, 307u, 358u, 409u, 512u, 614u, 716u, 819u,
    1024u, 1228u, 1433u, 1638u, 2048u, 2457u, 2867u, 3276u, 4096u, 4915u, 5734u, 6553u,
    8192u, 9830u, 11468u, 13107u, 16384u, 19660u, 22937u, 26214u, 32768u, 39321u, 45875u,
    52428u, 65536u, 78643u, 91750u, 104857u, 131072u, 157286u, 183500u, 209715u, 262144u,
    314572u, 367001u, 419430u, 524288u, 629145u, 734003u, 838860u, 1048576u, 1258291u,
    1468006u, 1677721u, 2097152u, 2516582u, 2936012u, 3355443u, 4194304u, 5033164u,
    5872025u, 6710886u, 8388608u, 10066329u, 11744051u, 13421772u, 16777216u};
#define NCLS4 (sizeof(CAP4) / sizeof(CAP4[0]))
#define NCLS6 (sizeof(CAP6) / sizeof(CAP6[0]))
static_assert(NCLS4 <= 128 && NCLS6 <= 128, "a class index fits 7 bits");

/* Per-family constants. */
struct fam {
	size_t esz;	     /* bytes per peer record */
	size_t ksz;	     /* bytes of (ip, port), the compact record */
	uint32_t inl;	     /* peers kept inline */
	const uint32_t *cap; /* heap capacity by class index */
	unsigned ncls;	     /* entries of cap */
};

static const struct fam FAM4 = {sizeof(struct swarm_peer4), 6, INLINE4, CAP4, NCLS4};
static const struct fam FAM6 = {sizeof(struct swarm_peer6), 18, INLINE6, CAP6, NCLS6};

/* A view of one family's peer array in a record. */
struct pvec {
	const struct fam *f;
	struct rec_head *h; /* h->n peers, capacity class h->cls */
	uint8_t *inl;	    /* inline storage */
	uint8_t **heap;	    /* heap pointer; shares storage with inl */
	uint64_t *total;    /* the shard's peer count of this family */
};

/* ---- small helpers ---------------------------------------------------- */

static uint64_t rng_next(uint64_t *state)
{
	*state += 0xa0761d6478bd642fULL;
	unsigned __int128 m = (unsigned __int128)*state * (*state ^ 0xe7037ed1a0b428dbULL);
	return (uint64_t)(m >> 64) ^ (uint64_t)m;
}

/* Uniform enough in [0, n) for n > 0. */
static uint32_t rng_below(uint64_t *state, uint32_t n)
{
	return (uint32_t)(((rng_next(state) >> 32) * (uint64_t)n) >> 32);
}

/* The keyed hash of an info hash; a table's bucket is its low bits. */
static uint64_t ih_hash(const struct swarm *s, const struct info_hash *ih)
{
	uint8_t h[crypto_shorthash_BYTES];
	uint64_t v;

	crypto_shorthash(h, ih->b, sizeof(ih->b), s->key);
	memcpy(&v, h, sizeof(v));
	return v;
}

/* ih_hash, from the recent prefetches when ih is one of them. */
static uint64_t ih_hash_recent(const struct swarm *s, const struct info_hash *ih)
{
	for (unsigned k = 0; k < 2; k++)
		if (memcmp(s->recent[k].ih.b, ih->b, sizeof(ih->b)) == 0)
			return s->recent[k].h;
	return ih_hash(s, ih);
}

static uint16_t stamp_make(uint32_t now, bool seeder)
{
	return (uint16_t)(((now >> STAMP_UNIT_LOG) & STAMP_MASK) | (seeder ? STAMP_SEEDER : 0));
}

static bool stamp_seeder(uint16_t stamp)
{
	return stamp & STAMP_SEEDER;
}

/* True when the peer was certainly last seen more than timeout seconds ago.
 * The stamp only knows the 4-second unit, so the youngest age it allows is
 * compared: a peer is never dropped early, at most 3 s late. */
static bool stamp_expired(uint16_t stamp, uint32_t now, uint32_t timeout)
{
	uint32_t age_units = ((now >> STAMP_UNIT_LOG) - (stamp & STAMP_MASK)) & STAMP_MASK;
	uint32_t youngest = (age_units << STAMP_UNIT_LOG) + (now & 3);

	if (timeout > TIMEOUT_MAX)
		timeout = TIMEOUT_MAX;
	return youngest > timeout + 3;
}

static bool budget_allows(const struct swarm *s, size_t old_bytes, size_t new_bytes)
{
	if (new_bytes <= old_bytes)
		return true;
	return s->st.memory_bytes - old_bytes + new_bytes <= s->cfg.memory_budget;
}

/* ---- peer arrays ------------------------------------------------------ */

static struct pvec pvec_of4(struct swarm *s, struct swarm_torrent *t)
{
	return (struct pvec){&FAM4, &t->h, (uint8_t *)t->v4.in, &t->v4.heap, &s->st.peers4};
}

static struct pvec pvec_of6(struct swarm *s, struct swarm_torrent6 *t6)
{
	return (struct pvec){&FAM6, &t6->h, (uint8_t *)t6->v6.in, &t6->v6.heap, &s->st.peers6};
}

static uint8_t *pvec_data(const struct pvec *v)
{
	return v->h->cls ? *v->heap : v->inl;
}

static uint8_t *pvec_at(const struct pvec *v, uint32_t i)
{
	return pvec_data(v) + (size_t)i * v->f->esz;
}

static size_t pvec_heap_bytes(const struct pvec *v)
{
	return (size_t)v->f->cap[v->h->cls] * v->f->esz; /* cap[0] is 0 */
}

static uint16_t peer_stamp(const struct pvec *v, const uint8_t *p)
{
	uint16_t st;

	memcpy(&st, p + v->f->ksz, sizeof(st));
	return st;
}

static void peer_set_stamp(const struct pvec *v, uint8_t *p, uint16_t st)
{
	memcpy(p + v->f->ksz, &st, sizeof(st));
}

/* 8 bytes at p as a big-endian number: comparing two of them orders like
 * memcmp of the bytes. */
static inline uint64_t load_be64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return __builtin_bswap64(v);
}

static inline int cmp_u64(uint64_t x, uint64_t y)
{
	return (x > y) - (x < y);
}

/* Orders peer keys like memcmp over ksz bytes (6: ip and port of IPv4, 18:
 * of IPv6), with integer compares instead of a libc call per step (memcmp
 * was 5% of a loaded server's CPU). Both sides must have 8 readable bytes
 * from the start (IPv4 records are 8 bytes, keys 18), and ksz must be a
 * constant at the call site. */
static inline int key_cmp(const uint8_t *a, const uint8_t *b, size_t ksz)
{
	uint64_t x = load_be64(a), y = load_be64(b);

	if (ksz == 6)
		return cmp_u64(x >> 16, y >> 16); /* the low 2 bytes are not key */
	if (x != y)
		return cmp_u64(x, y);
	x = load_be64(a + 8);
	y = load_be64(b + 8);
	if (x != y)
		return cmp_u64(x, y);
	return cmp_u64((uint64_t)a[16] << 8 | a[17], (uint64_t)b[16] << 8 | b[17]);
}

/* The binary search of pvec_find for one record layout (esz, ksz constant
 * at each call site). Branch-free, so that the data-dependent compares cost
 * no mispredictions, and each step prefetches both records the next step may
 * look at: in a swarm of 100k peers most steps miss the cache. */
static inline bool find_walk(const uint8_t *d, uint32_t n, const uint8_t *key, size_t esz,
			     size_t ksz, uint32_t *pos)
{
	const uint8_t *base = d;
	uint32_t len = n;

	if (n == 0) {
		*pos = 0;
		return false;
	}
	/* The last record <= key, if there is one, is in [base, base + len). */
	while (len > 1) {
		uint32_t half = len / 2, next = (len - half) / 2;
		__builtin_prefetch(base + (size_t)next * esz);
		__builtin_prefetch(base + (size_t)(half + next) * esz);
		base += key_cmp(base + (size_t)half * esz, key, ksz) <= 0 ? (size_t)half * esz : 0;
		len -= half;
	}
	/* base is that record, or the first one when all are > key. */
	int c = key_cmp(base, key, ksz);
	*pos = (uint32_t)((size_t)(base - d) / esz) + (c < 0);
	return c == 0;
}

/* Binary search for key (ip then port, network order; 18 readable bytes).
 * Returns true when found; *pos is its index, or where it would be
 * inserted. */
static bool pvec_find(const struct pvec *v, const uint8_t *key, uint32_t *pos)
{
	if (v->f->ksz == 6)
		return find_walk(pvec_data(v), v->h->n, key, sizeof(struct swarm_peer4), 6, pos);
	return find_walk(pvec_data(v), v->h->n, key, sizeof(struct swarm_peer6), 18, pos);
}

/* Makes room for one more peer: a full array moves to the next capacity
 * class. Returns 0 or -ENOMEM (nothing changed). */
static int pvec_reserve(struct swarm *s, struct pvec *v)
{
	unsigned cls = v->h->cls;
	uint32_t cap = cls ? v->f->cap[cls] : v->f->inl;
	size_t old_bytes, new_bytes;
	uint8_t *p;

	if (v->h->n < cap)
		return 0;
	if (cls + 1 >= v->f->ncls)
		return -ENOMEM;
	old_bytes = pvec_heap_bytes(v);
	new_bytes = (size_t)v->f->cap[cls + 1] * v->f->esz;
	if (!budget_allows(s, old_bytes, new_bytes))
		return -ENOMEM;
	if (cls) {
		p = realloc(*v->heap, new_bytes);
		if (!p)
			return -ENOMEM;
	} else {
		p = malloc(new_bytes);
		if (!p)
			return -ENOMEM;
		memcpy(p, v->inl, (size_t)v->h->n * v->f->esz);
	}
	*v->heap = p;
	v->h->cls = cls + 1;
	s->st.memory_bytes += new_bytes - old_bytes;
	return 0;
}

/* Gives memory back after removals: inline when the peers fit there, else,
 * while at most half of the capacity is used, the smallest class with room
 * for about 5/4 of the peers (the hysteresis keeps add/remove at a boundary
 * from reallocating each time). Never fails. */
static void pvec_shrink(struct swarm *s, struct pvec *v)
{
	size_t old_bytes = pvec_heap_bytes(v), new_bytes;
	unsigned cls = v->h->cls;
	uint32_t len = v->h->n, want;
	uint8_t *p;

	if (!cls)
		return;
	if (len <= v->f->inl) {
		p = *v->heap; /* inline storage overwrites the pointer */
		memcpy(v->inl, p, (size_t)len * v->f->esz);
		free(p);
		v->h->cls = 0;
		s->st.memory_bytes -= old_bytes;
		return;
	}
	if (len > v->f->cap[cls] / 2)
		return;
	want = len + len / 4;
	while (cls > 1 && v->f->cap[cls - 1] >= want)
		cls--;
	if (cls == v->h->cls)
		return;
	new_bytes = (size_t)v->f->cap[cls] * v->f->esz;
	p = realloc(*v->heap, new_bytes);
	if (!p)
		return;
	*v->heap = p;
	v->h->cls = cls;
	s->st.memory_bytes -= old_bytes - new_bytes;
}

/* Inserts key at pos with stamp st; room must have been reserved. */
static void pvec_insert(struct pvec *v, uint32_t pos, const uint8_t *key, uint16_t st)
{
	uint8_t *p = pvec_at(v, pos);

	memmove(p + v->f->esz, p, (size_t)(v->h->n - pos) * v->f->esz);
	memcpy(p, key, v->f->ksz);
	peer_set_stamp(v, p, st);
	v->h->n++;
	*v->total += 1;
}

static void pvec_remove(struct swarm *s, struct pvec *v, uint32_t pos)
{
	uint8_t *p = pvec_at(v, pos);

	memmove(p, p + v->f->esz, (size_t)(v->h->n - pos - 1) * v->f->esz);
	v->h->n--;
	*v->total -= 1;
	pvec_shrink(s, v);
}

/* Drops expired peers in one pass; returns how many, *seeders_gone of them
 * seeders. */
static uint32_t pvec_expire(struct swarm *s, struct pvec *v, uint32_t now, uint32_t *seeders_gone)
{
	uint8_t *d = pvec_data(v);
	size_t esz = v->f->esz;
	uint32_t keep = 0, n = v->h->n;

	for (uint32_t i = 0; i < n; i++) {
		uint8_t *p = d + (size_t)i * esz;
		uint16_t st = peer_stamp(v, p);
		if (stamp_expired(st, now, s->cfg.peer_timeout)) {
			*seeders_gone += stamp_seeder(st);
			continue;
		}
		if (keep != i)
			memcpy(d + (size_t)keep * esz, p, esz);
		keep++;
	}
	v->h->n = keep;
	*v->total -= n - keep;
	pvec_shrink(s, v);
	return n - keep;
}

/* Replies take peers in runs of up to PICK_RUN neighbours of the array, the
 * runs spread evenly over it with a random start and jitter: a reply of 50
 * IPv4 peers reads about 14 cache lines instead of 50, and still draws from
 * the whole swarm, every peer equally likely. */
#define PICK_RUN 8

/* The walk of pvec_pick for one record layout; esz and ksz are constants at
 * each call site, so the copies inline. The m peers other than index self
 * (UINT32_MAX: none) are numbered 0..m-1 ("virtual" indexes, skipping self)
 * and cut into `runs` slots, each a run of len peers then a gap; a run sits
 * at a random offset inside its slot, so runs never overlap and no peer is
 * taken twice. Needs 0 < want <= m. */
static inline uint32_t pick_walk(uint64_t *rng, const uint8_t *d, uint32_t n, uint32_t self,
				 uint32_t want, uint8_t *out, size_t esz, size_t ksz)
{
	uint32_t m = self < n ? n - 1 : n;
	uint32_t runs = (want + PICK_RUN - 1) / PICK_RUN, slack = m - want;
	uint32_t len = want / runs, len_extra = want % runs; /* the first runs get one more */
	uint32_t gap = slack / runs, gap_extra = slack % runs;
	uint32_t slot = rng_below(rng, m); /* where slot j starts */
	uint32_t got = 0;

	for (uint32_t j = 0; j < runs; j++) {
		uint32_t run = len + (j < len_extra), room = gap + (j < gap_extra);
		uint32_t v = slot + rng_below(rng, room + 1);
		if (v >= m)
			v -= m;
		for (uint32_t t = 0; t < run; t++) {
			uint32_t i = v + (v >= self);
			memcpy(out + (size_t)got * ksz, d + (size_t)i * esz, ksz);
			got++;
			if (++v == m)
				v = 0;
		}
		slot += run + room;
		if (slot >= m)
			slot -= m;
	}
	return got;
}

/* Writes want peers other than index self as compact records; returns the
 * bytes written. 0 < want <= the peers other than self. */
static size_t pvec_pick(struct swarm *s, const struct pvec *v, uint32_t self, uint32_t want,
			uint8_t *out)
{
	const uint8_t *d = pvec_data(v);
	uint32_t n = v->h->n, got;

	if (v->f->ksz == 6)
		got = pick_walk(&s->rng, d, n, self, want, out, sizeof(struct swarm_peer4), 6);
	else
		got = pick_walk(&s->rng, d, n, self, want, out, sizeof(struct swarm_peer6), 18);
	return (size_t)got * v->f->ksz;
}

/* Writes up to numwant peers of v, none of them index self (UINT32_MAX:
 * no requester in the array), into out (capacity cap); returns the bytes. */
static int pvec_reply(struct swarm *s, const struct pvec *v, uint32_t self, size_t numwant,
		      uint8_t *out, size_t cap)
{
	size_t want = numwant, avail = v->h->n - (self != UINT32_MAX);

	if (want > avail)
		want = avail;
	if (want > cap / v->f->ksz)
		want = cap / v->f->ksz;
	if (want > INT_MAX / v->f->ksz)
		want = INT_MAX / v->f->ksz;
	if (want == 0)
		return 0;
	return (int)pvec_pick(s, v, self, (uint32_t)want, out);
}

/* ---- the tables ------------------------------------------------------- */

static size_t table_bytes(const struct table *tb, size_t slots)
{
	return slots * tb->esz;
}

static struct rec_head *table_at(const struct table *tb, size_t i)
{
	return (struct rec_head *)(tb->slots + i * tb->esz);
}

/* Finds ih (keyed hash h) in tb. Returns its record, or NULL with *slot the
 * free slot where it would go. */
static struct rec_head *table_find(const struct table *tb, const struct info_hash *ih,
				   uint64_t h, size_t *slot)
{
	size_t i = (size_t)h & tb->mask;

	for (;;) {
		struct rec_head *r = table_at(tb, i);
		if (!r->used)
			break;
		if (memcmp(r->ih.b, ih->b, sizeof(ih->b)) == 0) {
			*slot = i;
			return r;
		}
		i = (i + 1) & tb->mask;
	}
	*slot = i;
	return NULL;
}

static int table_alloc(struct table *tb, size_t slots)
{
	tb->slots = calloc(slots, tb->esz);
	if (!tb->slots)
		return -ENOMEM;
	tb->mask = slots - 1;
	return 0;
}

/* Doubles tb and rehashes. Returns 0 or -ENOMEM (nothing changed). */
static int table_grow(struct swarm *s, struct table *tb)
{
	size_t old_n = tb->mask + 1, new_n = old_n * 2;
	struct table fresh = {.esz = tb->esz, .count = tb->count};

	if (new_n > SIZE_MAX / tb->esz / 2 ||
	    !budget_allows(s, table_bytes(tb, old_n), table_bytes(tb, new_n)))
		return -ENOMEM;
	if (table_alloc(&fresh, new_n))
		return -ENOMEM;
	for (size_t i = 0; i < old_n; i++) {
		struct rec_head *r = table_at(tb, i);
		size_t j;
		if (!r->used)
			continue;
		table_find(&fresh, &r->ih, ih_hash(s, &r->ih), &j);
		memcpy(table_at(&fresh, j), r, tb->esz);
	}
	free(tb->slots);
	*tb = fresh;
	s->st.memory_bytes += table_bytes(tb, new_n) - table_bytes(tb, old_n);
	return 0;
}

/* Adds an empty record for ih (keyed hash h; known to be absent), growing
 * tb first at load 3/4. Returns it and its *slot, or NULL (-ENOMEM) with
 * nothing changed. */
static struct rec_head *table_add(struct swarm *s, struct table *tb, const struct info_hash *ih,
				  uint64_t h, size_t *slot)
{
	struct rec_head *r;

	if ((tb->count + 1) * 4 > (uint64_t)(tb->mask + 1) * 3 && table_grow(s, tb))
		return NULL;
	table_find(tb, ih, h, slot);
	r = table_at(tb, *slot);
	memset(r, 0, tb->esz);
	r->ih = *ih;
	r->used = 1;
	tb->count++;
	return r;
}

/* Frees slot i (its peers must be gone and its array inline) and shifts the
 * records of its probe run back, so that no tombstone is needed. */
static void table_del(struct swarm *s, struct table *tb, size_t i)
{
	size_t j = i;

	for (;;) {
		struct rec_head *r;
		size_t home;
		j = (j + 1) & tb->mask;
		r = table_at(tb, j);
		if (!r->used)
			break;
		home = (size_t)ih_hash(s, &r->ih) & tb->mask;
		/* j may fill the hole at i when i lies in [home, j) cyclically. */
		if (((j - home) & tb->mask) >= ((j - i) & tb->mask)) {
			memcpy(table_at(tb, i), r, tb->esz);
			i = j;
		}
	}
	memset(table_at(tb, i), 0, tb->esz);
	tb->count--;
}

/* ---- torrents: a main record and, with IPv6 peers, an IPv6 record ------ */

static struct swarm_torrent *torrent_find(const struct swarm *s, const struct info_hash *ih,
					  uint64_t h, size_t *slot)
{
	return (struct swarm_torrent *)table_find(&s->main, ih, h, slot);
}

/* The IPv6 record of t (keyed hash h); NULL when t has no IPv6 peers. */
static struct swarm_torrent6 *torrent6_of(const struct swarm *s, const struct swarm_torrent *t,
					  uint64_t h, size_t *slot)
{
	size_t unused;

	if (!t->has6)
		return NULL;
	return (struct swarm_torrent6 *)table_find(&s->six, &t->h.ih, h, slot ? slot : &unused);
}

static uint32_t torrent_n6(const struct swarm *s, const struct swarm_torrent *t, uint64_t h)
{
	const struct swarm_torrent6 *t6 = torrent6_of(s, t, h, NULL);

	return t6 ? t6->h.n : 0;
}

static bool torrent_empty(const struct swarm_torrent *t)
{
	return t->h.n == 0 && !t->has6;
}

static void counts_fill(const struct swarm_torrent *t, uint32_t n6, struct swarm_counts *c)
{
	c->seeders = t->seeders;
	c->leechers = t->h.n + n6 - t->seeders;
	c->downloaded = t->downloaded;
}

/* Adds an empty torrent for ih (known to be absent). Returns it and its
 * *slot, or NULL with *err = -ENOSPC / -ENOMEM and nothing changed. */
static struct swarm_torrent *torrent_add(struct swarm *s, const struct info_hash *ih, uint64_t h,
					 size_t *slot, int *err)
{
	struct rec_head *r;

	if (s->main.count >= s->cfg.max_torrents) {
		*err = -ENOSPC;
		return NULL;
	}
	r = table_add(s, &s->main, ih, h, slot);
	if (!r) {
		*err = -ENOMEM;
		return NULL;
	}
	s->st.torrents++;
	return (struct swarm_torrent *)r;
}

/* Frees the torrent in main slot i: it must be empty (torrent_empty). */
static void torrent_del(struct swarm *s, size_t i)
{
	struct swarm_torrent *t = (struct swarm_torrent *)table_at(&s->main, i);
	struct pvec v = pvec_of4(s, t);

	pvec_shrink(s, &v);
	table_del(s, &s->main, i);
	s->st.torrents--;
}

/* The IPv6 record of t, made (and t->has6 set) when absent. Returns NULL
 * (-ENOMEM) with nothing changed. */
static struct swarm_torrent6 *torrent6_get(struct swarm *s, struct swarm_torrent *t, uint64_t h,
					   size_t *slot)
{
	struct swarm_torrent6 *t6 = torrent6_of(s, t, h, slot);

	if (t6)
		return t6;
	t6 = (struct swarm_torrent6 *)table_add(s, &s->six, &t->h.ih, h, slot);
	if (t6)
		t->has6 = 1;
	return t6;
}

/* Frees t's IPv6 record in IPv6 slot i once its last peer is gone. */
static void torrent6_drop_if_empty(struct swarm *s, struct swarm_torrent *t,
				   struct swarm_torrent6 *t6, size_t i)
{
	struct pvec v = pvec_of6(s, t6);

	if (t6->h.n)
		return;
	pvec_shrink(s, &v);
	table_del(s, &s->six, i);
	t->has6 = 0;
}

/* ---- API -------------------------------------------------------------- */

void swarm_prefetch(struct swarm *s, const struct info_hash *ih)
{
	struct recent_hash *e = &s->recent[s->recent_next];
	s->recent_next ^= 1;
	e->ih = *ih;
	e->h = ih_hash(s, ih);
	const uint8_t *r = (const uint8_t *)table_at(&s->main, (size_t)e->h & s->main.mask);

	__builtin_prefetch(r);
	__builtin_prefetch(r + sizeof(struct swarm_torrent) - 1); /* a record may span two lines */
}

static size_t initial_slots(const struct swarm_config *cfg)
{
	uint64_t want = cfg->initial_torrents ? cfg->initial_torrents : TABLE_DEFAULT * 3 / 4;
	uint64_t need;
	size_t n = TABLE_MIN;

	if (want > cfg->max_torrents)
		want = cfg->max_torrents;
	need = (want * 4 + 2) / 3; /* slots holding want torrents at load 3/4 */
	while (n < need)
		n *= 2;
	while (n > TABLE_MIN && n * sizeof(struct swarm_torrent) > cfg->memory_budget)
		n /= 2;
	return n;
}

struct swarm *swarm_create(const struct swarm_config *cfg, const uint8_t seed[16])
{
	static const char rng_label[] = "ringtracker swarm rng";
	uint8_t h[crypto_shorthash_BYTES];
	struct swarm *s;

	if (sodium_init() < 0)
		return NULL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->main.esz = sizeof(struct swarm_torrent);
	s->six.esz = sizeof(struct swarm_torrent6);
	if (table_alloc(&s->main, initial_slots(cfg)))
		goto free_s;
	if (table_alloc(&s->six, TABLE_MIN))
		goto free_main;
	s->cfg = *cfg;
	memcpy(s->key, seed, sizeof(s->key));
	crypto_shorthash(h, (const uint8_t *)rng_label, sizeof(rng_label) - 1, s->key);
	memcpy(&s->rng, h, sizeof(s->rng));
	for (unsigned k = 0; k < 2; k++)
		s->recent[k].h = ih_hash(s, &s->recent[k].ih); /* the all-zero hash, true */
	s->st.memory_bytes = table_bytes(&s->main, s->main.mask + 1) +
			     table_bytes(&s->six, s->six.mask + 1);
	return s;

free_main:
	free(s->main.slots);
free_s:
	free(s);
	return NULL;
}

void swarm_destroy(struct swarm *s)
{
	if (!s)
		return;
	for (size_t i = 0; i <= s->main.mask; i++) {
		struct swarm_torrent *t = (struct swarm_torrent *)table_at(&s->main, i);
		if (t->h.used && t->h.cls)
			free(t->v4.heap);
	}
	for (size_t i = 0; i <= s->six.mask; i++) {
		struct swarm_torrent6 *t6 = (struct swarm_torrent6 *)table_at(&s->six, i);
		if (t6->h.used && t6->h.cls)
			free(t6->v6.heap);
	}
	free(s->main.slots);
	free(s->six.slots);
	sodium_memzero(s->key, sizeof(s->key));
	free(s);
}

void swarm_set_config(struct swarm *s, const struct swarm_config *cfg)
{
	s->cfg = *cfg;
}

/* Copies the peer's (ip, port) in network order: its compact record. */
static void peer_key(const struct netaddr *a, uint8_t *key)
{
	size_t iplen = a->family == AF_INET6 ? 16 : 4;

	memcpy(key, a->ip, iplen);
	key[iplen] = (uint8_t)(a->port >> 8);
	key[iplen + 1] = (uint8_t)a->port;
}

static void stats_peer_gone(struct swarm *s, bool seeder, bool v6)
{
	if (seeder) {
		s->st.seeders--;
		s->st.seeders6 -= v6;
	} else {
		s->st.leechers--;
	}
}

/* A stopped announce: removes the peer if present, frees an empty torrent. */
static void announce_stopped(struct swarm *s, struct swarm_torrent *t, size_t slot, uint64_t h,
			     const uint8_t *key, bool v6, struct swarm_counts *counts)
{
	size_t slot6;
	struct swarm_torrent6 *t6 = torrent6_of(s, t, h, &slot6);
	uint32_t pos;

	if (!v6 || t6) {
		struct pvec v = v6 ? pvec_of6(s, t6) : pvec_of4(s, t);
		if (pvec_find(&v, key, &pos)) {
			bool seeder = stamp_seeder(peer_stamp(&v, pvec_at(&v, pos)));
			pvec_remove(s, &v, pos);
			t->seeders -= seeder;
			stats_peer_gone(s, seeder, v6);
		}
	}
	counts_fill(t, t6 ? t6->h.n : 0, counts);
	if (t6)
		torrent6_drop_if_empty(s, t, t6, slot6);
	if (torrent_empty(t))
		torrent_del(s, slot);
}

/* Adds or refreshes the peer in v (t's array of its family); returns 0 or
 * -EDQUOT / -ENOMEM (no change). *pos is the peer's index afterwards.
 * peers is the torrent's peer count, both families. */
static int announce_update(struct swarm *s, struct swarm_torrent *t, struct pvec *v,
			   uint32_t peers, const struct swarm_announce *a, uint32_t now,
			   const uint8_t *key, uint32_t *pos)
{
	bool v6 = a->peer.family == AF_INET6;
	bool was_seeder = false;
	int err;

	if (pvec_find(v, key, pos)) {
		was_seeder = stamp_seeder(peer_stamp(v, pvec_at(v, *pos)));
	} else {
		if (peers >= s->cfg.max_peers || v->h->n >= SWARM_PEERS_MAX) {
			s->st.limit_peers++;
			return -EDQUOT;
		}
		err = pvec_reserve(s, v);
		if (err) {
			s->st.limit_memory++;
			return err;
		}
		pvec_insert(v, *pos, key, 0);
		s->st.leechers++;
	}
	peer_set_stamp(v, pvec_at(v, *pos), stamp_make(now, a->seeder));
	if (a->seeder && !was_seeder) {
		t->seeders++;
		s->st.seeders++;
		s->st.seeders6 += v6;
		s->st.leechers--;
	} else if (!a->seeder && was_seeder) {
		t->seeders--;
		s->st.seeders--;
		s->st.seeders6 -= v6;
		s->st.leechers++;
	}
	if (a->event == SWARM_EVENT_COMPLETED && !was_seeder)
		t->downloaded++;
	return 0;
}

/* An announce that adds or refreshes a peer of t (in main slot slot). */
static int announce_join(struct swarm *s, struct swarm_torrent *t, size_t slot, uint64_t h,
			 const struct swarm_announce *a, uint32_t now, const uint8_t *key,
			 uint8_t *out, size_t cap, struct swarm_counts *counts)
{
	bool v6 = a->peer.family == AF_INET6;
	struct swarm_torrent6 *t6;
	struct pvec v;
	size_t slot6 = 0;
	uint32_t pos;
	int err;

	if (v6) {
		t6 = torrent6_get(s, t, h, &slot6);
		if (!t6) {
			s->st.limit_memory++;
			err = -ENOMEM;
			goto undo;
		}
	} else {
		t6 = torrent6_of(s, t, h, &slot6);
	}
	v = v6 ? pvec_of6(s, t6) : pvec_of4(s, t);
	err = announce_update(s, t, &v, t->h.n + (t6 ? t6->h.n : 0), a, now, key, &pos);
	if (err)
		goto undo;
	counts_fill(t, t6 ? t6->h.n : 0, counts);
	return pvec_reply(s, &v, pos, a->numwant, out, cap);

undo: /* the records made for this announce go; counts of the rest stay */
	if (t6)
		torrent6_drop_if_empty(s, t, t6, slot6);
	counts_fill(t, t6 && t->has6 ? t6->h.n : 0, counts);
	if (torrent_empty(t)) {
		torrent_del(s, slot);
		memset(counts, 0, sizeof(*counts));
	}
	return err;
}

int swarm_announce(struct swarm *s, const struct swarm_announce *a, uint32_t now, uint8_t *out,
		   size_t cap, struct swarm_counts *counts)
{
	bool v6 = a->peer.family == AF_INET6;
	uint64_t h = ih_hash_recent(s, &a->info_hash);
	struct swarm_torrent *t;
	uint8_t key[18];
	size_t slot;
	int err;

	memset(counts, 0, sizeof(*counts));
	t = torrent_find(s, &a->info_hash, h, &slot);
	if (a->peer.family != AF_INET && !v6) {
		if (t)
			counts_fill(t, torrent_n6(s, t, h), counts);
		return a->event == SWARM_EVENT_STOPPED ? 0 : -EAFNOSUPPORT;
	}
	peer_key(&a->peer, key);
	if (a->event == SWARM_EVENT_STOPPED) {
		if (t)
			announce_stopped(s, t, slot, h, key, v6, counts);
		return 0;
	}
	if (!t) {
		if (s->main.count < s->cfg.max_torrents && s->cfg.max_peers == 0) {
			s->st.limit_peers++; /* refuse before creating anything */
			return -EDQUOT;
		}
		t = torrent_add(s, &a->info_hash, h, &slot, &err);
		if (!t) {
			if (err == -ENOSPC)
				s->st.limit_torrents++;
			else
				s->st.limit_memory++;
			return err;
		}
	}
	return announce_join(s, t, slot, h, a, now, key, out, cap, counts);
}

int swarm_peers(struct swarm *s, const struct info_hash *ih, int family, uint32_t numwant,
		uint8_t *out, size_t cap)
{
	uint64_t h = ih_hash(s, ih);
	size_t slot;
	struct swarm_torrent *t = torrent_find(s, ih, h, &slot);
	struct swarm_torrent6 *t6;
	struct pvec v;

	if (!t)
		return 0;
	if (family == AF_INET) {
		v = pvec_of4(s, t);
	} else if (family == AF_INET6) {
		t6 = torrent6_of(s, t, h, NULL);
		if (!t6)
			return 0;
		v = pvec_of6(s, t6);
	} else {
		return 0;
	}
	return pvec_reply(s, &v, UINT32_MAX, numwant, out, cap);
}

/* Lists torrents from *cursor on, stopping after max_out torrents or
 * max_slots slots, whichever comes first; advances *cursor. */
static size_t list_range(const struct swarm *s, uint64_t *cursor, size_t max_out,
			 uint64_t max_slots, struct swarm_listing *out)
{
	size_t n = 0, slots = s->main.mask + 1;
	uint64_t i = *cursor, end = max_slots > slots ? slots : i + max_slots;

	for (; i < slots && i < end && n < max_out; i++) {
		const struct swarm_torrent *t =
			(const struct swarm_torrent *)table_at(&s->main, (size_t)i);
		if (!t->h.used)
			continue;
		out[n].info_hash = t->h.ih;
		counts_fill(t, t->has6 ? torrent_n6(s, t, ih_hash(s, &t->h.ih)) : 0,
			    &out[n].counts);
		n++;
	}
	*cursor = i < slots ? i : SWARM_LIST_END;
	return n;
}

size_t swarm_list(const struct swarm *s, uint64_t *cursor, struct swarm_listing *out, size_t max)
{
	return list_range(s, cursor, max, UINT64_MAX, out);
}

size_t swarm_list_slots(const struct swarm *s, uint64_t *cursor, size_t budget,
			struct swarm_listing *out)
{
	return list_range(s, cursor, budget, budget, out);
}

void swarm_scrape(const struct swarm *s, const struct info_hash *ih, struct swarm_counts *counts)
{
	uint64_t h = ih_hash(s, ih);
	size_t slot;
	const struct swarm_torrent *t = torrent_find(s, ih, h, &slot);

	memset(counts, 0, sizeof(*counts));
	if (t)
		counts_fill(t, torrent_n6(s, t, h), counts);
}

/* Expires the peers of the torrent in main slot i; frees it when empty.
 * Returns the peers removed; *freed tells whether the slot was emptied. */
static size_t sweep_slot(struct swarm *s, size_t i, uint32_t now, bool *freed)
{
	struct swarm_torrent *t = (struct swarm_torrent *)table_at(&s->main, i);
	uint32_t gone, seeders_gone = 0, seeders6_gone = 0;
	struct pvec v = pvec_of4(s, t);

	gone = pvec_expire(s, &v, now, &seeders_gone);
	if (t->has6) {
		size_t slot6;
		struct swarm_torrent6 *t6 = torrent6_of(s, t, ih_hash(s, &t->h.ih), &slot6);
		struct pvec v6 = pvec_of6(s, t6);
		gone += pvec_expire(s, &v6, now, &seeders6_gone);
		torrent6_drop_if_empty(s, t, t6, slot6);
	}
	seeders_gone += seeders6_gone;
	s->st.seeders6 -= seeders6_gone;
	t->seeders -= seeders_gone;
	s->st.seeders -= seeders_gone;
	s->st.leechers -= gone - seeders_gone;
	*freed = torrent_empty(t);
	if (*freed)
		torrent_del(s, i);
	return gone;
}

size_t swarm_sweep(struct swarm *s, uint32_t now, size_t budget)
{
	size_t removed = 0;

	while (budget-- > 0 && s->main.count > 0) {
		bool freed = false;
		if (table_at(&s->main, s->cursor)->used)
			removed += sweep_slot(s, s->cursor, now, &freed);
		/* After a delete the slot holds a shifted record: look again. */
		if (!freed)
			s->cursor = (s->cursor + 1) & s->main.mask;
	}
	s->st.expired_peers += removed;
	return removed;
}

void swarm_stats(const struct swarm *s, struct swarm_stats *st)
{
	*st = s->st;
	st->slots = s->main.mask + 1;
}

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
 * Layout: an open-addressing table (linear probing, power-of-two size,
 * backward-shift deletion, no tombstones) holds torrent records by value. The
 * bucket is SipHash-2-4 (crypto_shorthash) of the info hash keyed by the
 * shard's seed, so nobody can aim crafted hashes at one bucket. The table
 * doubles at load 3/4 and never shrinks. A torrent keeps up to 2 IPv4 peers and
 * 1 IPv6 peer inline; more go to a heap array whose capacity fills one of the
 * allocator's size classes (jemalloc: four per doubling). A full array grows
 * to the next class (by 1/8 to 1/4, about 10% slack on average); one at most
 * half full shrinks to the class holding about 5/4 of its peers; it goes back
 * inline when the peers fit there. The record keeps a 1-byte index into a
 * per-family table of these capacities. Each peer array is sorted by (ip,
 * port) bytes, so finding a peer is a binary search and adding/removing one is
 * a memmove.
 *
 * Memory: the shard owns everything it allocates. memory_bytes charges the
 * table and the peer arrays by capacity (not malloc's overhead); growth past
 * memory_budget is refused with -ENOMEM. The first table is allocated even if
 * it alone exceeds a tiny budget.
 *
 * Complexity: announce O(1) expected for the table plus O(log n) to find the
 * peer and O(n) memmove to add/remove one in a torrent of n peers of that
 * family, plus O(numwant) to pick; scrape O(1) expected; stats O(1);
 * swarm_list_slots O(budget) whatever the table's load; a sweep
 * visits at most `budget` slots but a visited torrent costs O(its peers); a
 * slot looked at again after its torrent was freed counts as another visit.
 *
 * Known limits: the last-seen stamp is 15 bits of 4-second units (wraps after
 * about 36 hours), so a peer the sweep does not reach within that time may look
 * young and live one more cycle; a clock going backwards makes peers look old.
 * Deletions by announces and table growth move records around the sweep
 * cursor, so one pass may skip or revisit a torrent (the next pass gets it).
 * Peer choice walks the array from a random start with a random stride
 * coprime with its length: distinct and cheap, but not uniform over subsets.
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
#define INLINE4	       2		     /* IPv4 peers kept in the record */
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

/* One table slot. A slot is free when used == 0; a used one always has at
 * least one peer (outside of swarm_announce's own steps). */
struct swarm_torrent {
	struct info_hash ih;
	uint32_t downloaded; /* completed events, once per peer */
	uint32_t seeders;    /* both families; leechers = n4 + n6 - seeders */
	uint32_t n4;	     /* IPv4 peers */
	union {
		struct swarm_peer4 in[INLINE4];
		uint8_t *heap; /* when cap4_cls != 0 */
	} v4;
	uint32_t n6; /* IPv6 peers */
	uint8_t used;
	uint8_t cap4_cls; /* 0: inline; else heap capacity CAP4[cap4_cls] */
	uint8_t cap6_cls; /* 0: inline; else heap capacity CAP6[cap6_cls] */
	uint8_t pad;
	union {
		struct swarm_peer6 in[INLINE6];
		uint8_t *heap; /* when cap6_cls != 0 */
	} v6;
};

static_assert(sizeof(struct swarm_torrent) == 80, "torrent record stays compact");

struct swarm {
	struct swarm_torrent *slots;
	size_t mask;   /* slots - 1; the size is a power of two */
	size_t cursor; /* next slot the sweep visits */
	struct swarm_config cfg;
	uint8_t key[crypto_shorthash_KEYBYTES];
	uint64_t rng; /* wyrand state */
	struct swarm_stats st;
};

/* Heap capacities by class index (0: inline), one table per family. Entry
 * k + 1 is the most peers that fit in the jemalloc size class (8, 16, then
 * 16-byte steps to 128, then four classes per doubling) of room for entry k
 * plus one peer: growth is by 1/8 to 1/4 and a capacity uses all its block.
 * The first is the class of room for inline + 1 peers (IPv6: 2); the last is
 * 2^31. Generated; tests/test_swarm.c checks the growth steps. */
static const uint32_t CAP4[] = {
    0,		 4u,	      6u,	   8u,	       10u,	   12u,	       14u,
    16u,	 20u,	      24u,	   28u,	       32u,	   40u,	       48u,
    56u,	 64u,	      80u,	   96u,	       112u,	   128u,       160u,
    192u,	 224u,	      256u,	   320u,       384u,	   448u,       512u,
    640u,	 768u,	      896u,	   1024u,      1280u,	   1536u,      1792u,
    2048u,	 2560u,	      3072u,	   3584u,      4096u,	   5120u,      6144u,
    7168u,	 8192u,	      10240u,	   12288u,     14336u,	   16384u,     20480u,
    24576u,	 28672u,      32768u,	   40960u,     49152u,	   57344u,     65536u,
    81920u,	 98304u,      114688u,	   131072u,    163840u,	   196608u,    229376u,
    262144u,	 327680u,     393216u,	   458752u,    524288u,	   655360u,    786432u,
    917504u,	 1048576u,    1310720u,	   1572864u,   1835008u,   2097152u,   2621440u,
    3145728u,	 3670016u,    4194304u,	   5242880u,   6291456u,   7340032u,   8388608u,
    10485760u,	 12582912u,   14680064u,   16777216u,  20971520u,  25165824u,  29360128u,
    33554432u,	 41943040u,   50331648u,   58720256u,  67108864u,  83886080u,  100663296u,
    117440512u,	 134217728u,  167772160u,  201326592u, 234881024u, 268435456u, 335544320u,
    402653184u,	 469762048u,  536870912u,  671088640u, 805306368u, 939524096u, 1073741824u,
    1342177280u, 1610612736u, 1879048192u, 2147483648u};
static const uint32_t CAP6[] = {
    0,		2u,	    3u,		 4u,	      5u,	   6u,		8u,
    9u,		11u,	    12u,	 16u,	      19u,	   22u,		25u,
    32u,	38u,	    44u,	 51u,	      64u,	   76u,		89u,
    102u,	128u,	    153u,	 179u,	      204u,	   256u,	307u,
    358u,	409u,	    512u,	 614u,	      716u,	   819u,	1024u,
    1228u,	1433u,	    1638u,	 2048u,	      2457u,	   2867u,	3276u,
    4096u,	4915u,	    5734u,	 6553u,	      8192u,	   9830u,	11468u,
    13107u,	16384u,	    19660u,	 22937u,      26214u,	   32768u,	39321u,
    45875u,	52428u,	    65536u,	 78643u,      91750u,	   104857u,	131072u,
    157286u,	183500u,    209715u,	 262144u,     314572u,	   367001u,	419430u,
    524288u,	629145u,    734003u,	 838860u,     1048576u,	   1258291u,	1468006u,
    1677721u,	2097152u,   2516582u,	 2936012u,    3355443u,	   4194304u,	5033164u,
    5872025u,	6710886u,   8388608u,	 10066329u,   11744051u,   13421772u,	16777216u,
    20132659u,	23488102u,  26843545u,	 33554432u,   40265318u,   46976204u,	53687091u,
    67108864u,	80530636u,  93952409u,	 107374182u,  134217728u,  161061273u,	187904819u,
    214748364u, 268435456u, 322122547u,	 375809638u,  429496729u,  536870912u,	644245094u,
    751619276u, 858993459u, 1073741824u, 1288490188u, 1503238553u, 1717986918u, 2147483648u};

#define NCLS4 (sizeof(CAP4) / sizeof(CAP4[0]))
#define NCLS6 (sizeof(CAP6) / sizeof(CAP6[0]))
static_assert(NCLS4 <= 256 && NCLS6 <= 256, "a class index fits a byte");

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

/* A view of one family's peer array in a torrent. */
struct pvec {
	const struct fam *f;
	uint8_t *inl;	/* inline storage */
	uint8_t **heap; /* heap pointer; shares storage with inl */
	uint32_t *len;
	uint8_t *cls;	 /* capacity class; 0: inline */
	uint64_t *total; /* the shard's peer count of this family */
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

static uint32_t gcd32(uint32_t a, uint32_t b)
{
	while (b) {
		uint32_t r = a % b;
		a = b;
		b = r;
	}
	return a;
}

/* A random step in [1, n) coprime with n, so that n steps visit every index. */
static uint32_t rng_stride(uint64_t *state, uint32_t n)
{
	if (n <= 2)
		return 1;
	for (int tries = 0; tries < 16; tries++) {
		uint32_t k = 1 + rng_below(state, n - 1);
		if (gcd32(k, n) == 1)
			return k;
	}
	return 1;
}

static size_t hash_slot(const struct swarm *s, const struct info_hash *ih)
{
	uint8_t h[crypto_shorthash_BYTES];
	uint64_t v;

	crypto_shorthash(h, ih->b, sizeof(ih->b), s->key);
	memcpy(&v, h, sizeof(v));
	return (size_t)v & s->mask;
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

static void counts_fill(const struct swarm_torrent *t, struct swarm_counts *c)
{
	c->seeders = t->seeders;
	c->leechers = t->n4 + t->n6 - t->seeders;
	c->downloaded = t->downloaded;
}

/* ---- peer arrays ------------------------------------------------------ */

static struct pvec pvec_of(struct swarm *s, struct swarm_torrent *t, bool v6)
{
	if (v6)
		return (struct pvec){&FAM6,  (uint8_t *)t->v6.in, &t->v6.heap,
				     &t->n6, &t->cap6_cls,	  &s->st.peers6};
	return (struct pvec){&FAM4,  (uint8_t *)t->v4.in, &t->v4.heap,
			     &t->n4, &t->cap4_cls,	  &s->st.peers4};
}

static uint8_t *pvec_data(const struct pvec *v)
{
	return *v->cls ? *v->heap : v->inl;
}

static uint8_t *pvec_at(const struct pvec *v, uint32_t i)
{
	return pvec_data(v) + (size_t)i * v->f->esz;
}

static size_t pvec_heap_bytes(const struct pvec *v)
{
	return (size_t)v->f->cap[*v->cls] * v->f->esz; /* cap[0] is 0 */
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

/* Binary search for key (ip then port, network order). Returns true when
 * found; *pos is its index, or where it would be inserted. */
/* memcmp of a peer key with its size known at compile time, so that the
 * compiler inlines it (a call per comparison shows in profiles). */
static inline int key_cmp(const uint8_t *a, const uint8_t *b, size_t ksz)
{
	return ksz == 6 ? memcmp(a, b, 6) : memcmp(a, b, 18);
}

static bool pvec_find(const struct pvec *v, const uint8_t *key, uint32_t *pos)
{
	const uint8_t *d = pvec_data(v);
	uint32_t lo = 0, hi = *v->len;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		int c = key_cmp(d + (size_t)mid * v->f->esz, key, v->f->ksz);
		if (c == 0) {
			*pos = mid;
			return true;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*pos = lo;
	return false;
}

/* Makes room for one more peer: a full array moves to the next capacity
 * class. Returns 0 or -ENOMEM (nothing changed). */
static int pvec_reserve(struct swarm *s, struct pvec *v)
{
	unsigned cls = *v->cls;
	uint32_t cap = cls ? v->f->cap[cls] : v->f->inl;
	size_t old_bytes, new_bytes;
	uint8_t *p;

	if (*v->len < cap)
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
		memcpy(p, v->inl, (size_t)*v->len * v->f->esz);
	}
	*v->heap = p;
	*v->cls = (uint8_t)(cls + 1);
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
	unsigned cls = *v->cls;
	uint32_t len = *v->len, want;
	uint8_t *p;

	if (!cls)
		return;
	if (len <= v->f->inl) {
		p = *v->heap; /* inline storage overwrites the pointer */
		memcpy(v->inl, p, (size_t)len * v->f->esz);
		free(p);
		*v->cls = 0;
		s->st.memory_bytes -= old_bytes;
		return;
	}
	if (len > v->f->cap[cls] / 2)
		return;
	want = len + len / 4;
	while (cls > 1 && v->f->cap[cls - 1] >= want)
		cls--;
	if (cls == *v->cls)
		return;
	new_bytes = (size_t)v->f->cap[cls] * v->f->esz;
	p = realloc(*v->heap, new_bytes);
	if (!p)
		return;
	*v->heap = p;
	*v->cls = (uint8_t)cls;
	s->st.memory_bytes -= old_bytes - new_bytes;
}

/* Inserts key at pos with stamp st; room must have been reserved. */
static void pvec_insert(struct pvec *v, uint32_t pos, const uint8_t *key, uint16_t st)
{
	uint8_t *p = pvec_at(v, pos);

	memmove(p + v->f->esz, p, (size_t)(*v->len - pos) * v->f->esz);
	memcpy(p, key, v->f->ksz);
	peer_set_stamp(v, p, st);
	*v->len += 1;
	*v->total += 1;
}

static void pvec_remove(struct swarm *s, struct pvec *v, uint32_t pos)
{
	uint8_t *p = pvec_at(v, pos);

	memmove(p, p + v->f->esz, (size_t)(*v->len - pos - 1) * v->f->esz);
	*v->len -= 1;
	*v->total -= 1;
	pvec_shrink(s, v);
}

/* Drops expired peers in one pass; returns how many, *seeders_gone of them
 * seeders. */
static uint32_t pvec_expire(struct swarm *s, struct pvec *v, uint32_t now, uint32_t *seeders_gone)
{
	uint8_t *d = pvec_data(v);
	size_t esz = v->f->esz;
	uint32_t keep = 0, n = *v->len;

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
	*v->len = keep;
	*v->total -= n - keep;
	pvec_shrink(s, v);
	return n - keep;
}

/* Writes up to want peers other than index self as compact records; returns
 * the bytes written. want must be < *v->len when self is in the array. */
/* The walk of pvec_pick for one record layout; esz and ksz are constants
 * at each call site, so the copies inline. */
static inline uint32_t pick_walk(const uint8_t *d, uint32_t n, uint32_t i, uint32_t k,
				 uint32_t self, uint32_t want, uint8_t *out, size_t esz, size_t ksz)
{
	uint32_t got = 0;

	for (uint32_t step = 0; step < n && got < want; step++) {
		if (i != self) {
			memcpy(out + (size_t)got * ksz, d + (size_t)i * esz, ksz);
			got++;
		}
		i += k;
		if (i >= n)
			i -= n;
	}
	return got;
}

static size_t pvec_pick(struct swarm *s, const struct pvec *v, uint32_t self, uint32_t want,
			uint8_t *out)
{
	const uint8_t *d = pvec_data(v);
	uint32_t n = *v->len, got;
	uint32_t i = rng_below(&s->rng, n), k = rng_stride(&s->rng, n);

	if (v->f->ksz == 6)
		got = pick_walk(d, n, i, k, self, want, out, sizeof(struct swarm_peer4), 6);
	else
		got = pick_walk(d, n, i, k, self, want, out, sizeof(struct swarm_peer6), 18);
	return (size_t)got * v->f->ksz;
}

/* ---- the table -------------------------------------------------------- */

static size_t table_bytes(size_t slots)
{
	return slots * sizeof(struct swarm_torrent);
}

static struct swarm_torrent *table_find(const struct swarm *s, const struct info_hash *ih,
					size_t *slot)
{
	size_t i = hash_slot(s, ih);

	while (s->slots[i].used) {
		if (memcmp(s->slots[i].ih.b, ih->b, sizeof(ih->b)) == 0) {
			*slot = i;
			return &s->slots[i];
		}
		i = (i + 1) & s->mask;
	}
	*slot = i;
	return NULL;
}

/* Doubles the table and rehashes. Returns 0 or -ENOMEM (nothing changed). */
static int table_grow(struct swarm *s)
{
	size_t old_n = s->mask + 1, new_n = old_n * 2;
	struct swarm_torrent *old = s->slots, *fresh;

	if (new_n > SIZE_MAX / sizeof(*fresh) / 2 ||
	    !budget_allows(s, table_bytes(old_n), table_bytes(new_n)))
		return -ENOMEM;
	fresh = calloc(new_n, sizeof(*fresh));
	if (!fresh)
		return -ENOMEM;
	s->slots = fresh;
	s->mask = new_n - 1;
	for (size_t i = 0; i < old_n; i++) {
		size_t j;
		if (!old[i].used)
			continue;
		j = hash_slot(s, &old[i].ih);
		while (fresh[j].used)
			j = (j + 1) & s->mask;
		fresh[j] = old[i];
	}
	free(old);
	s->cursor &= s->mask;
	s->st.memory_bytes += table_bytes(new_n) - table_bytes(old_n);
	return 0;
}

/* Adds an empty torrent for ih (known to be absent). Returns it, or NULL
 * with *err = -ENOSPC / -ENOMEM and nothing changed. */
static struct swarm_torrent *table_add(struct swarm *s, const struct info_hash *ih, int *err)
{
	struct swarm_torrent *t;
	size_t slot;

	if (s->st.torrents >= s->cfg.max_torrents) {
		*err = -ENOSPC;
		return NULL;
	}
	if ((s->st.torrents + 1) * 4 > (uint64_t)(s->mask + 1) * 3) {
		*err = table_grow(s);
		if (*err)
			return NULL;
	}
	table_find(s, ih, &slot);
	t = &s->slots[slot];
	memset(t, 0, sizeof(*t));
	t->ih = *ih;
	t->used = 1;
	s->st.torrents++;
	return t;
}

/* Frees slot i (its peers must be gone) and shifts the records of its probe
 * run back, so that no tombstone is needed. */
static void table_del(struct swarm *s, size_t i)
{
	size_t j = i;

	if (s->slots[i].cap4_cls || s->slots[i].cap6_cls) {
		struct pvec v4 = pvec_of(s, &s->slots[i], false);
		struct pvec v6 = pvec_of(s, &s->slots[i], true);
		pvec_shrink(s, &v4);
		pvec_shrink(s, &v6);
	}
	for (;;) {
		size_t home;
		j = (j + 1) & s->mask;
		if (!s->slots[j].used)
			break;
		home = hash_slot(s, &s->slots[j].ih);
		/* j may fill the hole at i when i lies in [home, j) cyclically. */
		if (((j - home) & s->mask) >= ((j - i) & s->mask)) {
			s->slots[i] = s->slots[j];
			i = j;
		}
	}
	memset(&s->slots[i], 0, sizeof(s->slots[i]));
	s->st.torrents--;
}

/* ---- API -------------------------------------------------------------- */

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
	while (n > TABLE_MIN && table_bytes(n) > cfg->memory_budget)
		n /= 2;
	return n;
}

struct swarm *swarm_create(const struct swarm_config *cfg, const uint8_t seed[16])
{
	static const char rng_label[] = "ringtracker swarm rng";
	uint8_t h[crypto_shorthash_BYTES];
	struct swarm *s;
	size_t n;

	if (sodium_init() < 0)
		return NULL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	n = initial_slots(cfg);
	s->slots = calloc(n, sizeof(*s->slots));
	if (!s->slots)
		goto free_s;
	s->mask = n - 1;
	s->cfg = *cfg;
	memcpy(s->key, seed, sizeof(s->key));
	crypto_shorthash(h, (const uint8_t *)rng_label, sizeof(rng_label) - 1, s->key);
	memcpy(&s->rng, h, sizeof(s->rng));
	s->st.memory_bytes = table_bytes(n);
	return s;

free_s:
	free(s);
	return NULL;
}

void swarm_destroy(struct swarm *s)
{
	if (!s)
		return;
	for (size_t i = 0; i <= s->mask; i++) {
		if (s->slots[i].cap4_cls)
			free(s->slots[i].v4.heap);
		if (s->slots[i].cap6_cls)
			free(s->slots[i].v6.heap);
	}
	free(s->slots);
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
static void announce_stopped(struct swarm *s, struct swarm_torrent *t, size_t slot,
			     const uint8_t *key, bool v6, struct swarm_counts *counts)
{
	struct pvec v = pvec_of(s, t, v6);
	uint32_t pos;

	if (pvec_find(&v, key, &pos)) {
		bool seeder = stamp_seeder(peer_stamp(&v, pvec_at(&v, pos)));
		pvec_remove(s, &v, pos);
		t->seeders -= seeder;
		stats_peer_gone(s, seeder, v6);
	}
	counts_fill(t, counts);
	if (t->n4 + t->n6 == 0)
		table_del(s, slot);
}

/* Adds or refreshes the peer; returns 0 or -EDQUOT / -ENOMEM (no change).
 * *pos is the peer's index afterwards. */
static int announce_update(struct swarm *s, struct swarm_torrent *t, const struct swarm_announce *a,
			   uint32_t now, const uint8_t *key, uint32_t *pos)
{
	bool v6 = a->peer.family == AF_INET6;
	struct pvec v = pvec_of(s, t, v6);
	bool was_seeder = false;
	int err;

	if (pvec_find(&v, key, pos)) {
		was_seeder = stamp_seeder(peer_stamp(&v, pvec_at(&v, *pos)));
	} else {
		if (t->n4 + t->n6 >= s->cfg.max_peers) {
			s->st.limit_peers++;
			return -EDQUOT;
		}
		err = pvec_reserve(s, &v);
		if (err) {
			s->st.limit_memory++;
			return err;
		}
		pvec_insert(&v, *pos, key, 0);
		s->st.leechers++;
	}
	peer_set_stamp(&v, pvec_at(&v, *pos), stamp_make(now, a->seeder));
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

static int announce_reply(struct swarm *s, struct swarm_torrent *t, const struct swarm_announce *a,
			  uint32_t self, uint8_t *out, size_t cap)
{
	struct pvec v = pvec_of(s, t, a->peer.family == AF_INET6);
	size_t want = a->numwant;

	if (want > *v.len - 1)
		want = *v.len - 1;
	if (want > cap / v.f->ksz)
		want = cap / v.f->ksz;
	if (want > INT_MAX / v.f->ksz)
		want = INT_MAX / v.f->ksz;
	if (want == 0)
		return 0;
	return (int)pvec_pick(s, &v, self, (uint32_t)want, out);
}

int swarm_announce(struct swarm *s, const struct swarm_announce *a, uint32_t now, uint8_t *out,
		   size_t cap, struct swarm_counts *counts)
{
	bool v6 = a->peer.family == AF_INET6;
	struct swarm_torrent *t;
	uint8_t key[18];
	uint32_t pos;
	size_t slot;
	int err;

	memset(counts, 0, sizeof(*counts));
	t = table_find(s, &a->info_hash, &slot);
	if (a->peer.family != AF_INET && !v6) {
		if (t)
			counts_fill(t, counts);
		return a->event == SWARM_EVENT_STOPPED ? 0 : -EAFNOSUPPORT;
	}
	peer_key(&a->peer, key);
	if (a->event == SWARM_EVENT_STOPPED) {
		if (t)
			announce_stopped(s, t, slot, key, v6, counts);
		return 0;
	}
	if (!t) {
		if (s->st.torrents < s->cfg.max_torrents && s->cfg.max_peers == 0) {
			s->st.limit_peers++; /* refuse before creating anything */
			return -EDQUOT;
		}
		t = table_add(s, &a->info_hash, &err);
		if (!t) {
			if (err == -ENOSPC)
				s->st.limit_torrents++;
			else
				s->st.limit_memory++;
			return err;
		}
		slot = (size_t)(t - s->slots);
	}
	err = announce_update(s, t, a, now, key, &pos);
	if (err) {
		if (t->n4 + t->n6 == 0)
			table_del(s, slot); /* a torrent made for this announce */
		else
			counts_fill(t, counts);
		return err;
	}
	counts_fill(t, counts);
	return announce_reply(s, t, a, pos, out, cap);
}

int swarm_peers(struct swarm *s, const struct info_hash *ih, int family, uint32_t numwant,
		uint8_t *out, size_t cap)
{
	size_t slot;
	struct swarm_torrent *t = table_find(s, ih, &slot);

	if (!t || (family != AF_INET && family != AF_INET6))
		return 0;
	struct pvec v = pvec_of(s, t, family == AF_INET6);
	size_t want = numwant;

	if (want > *v.len)
		want = *v.len;
	if (want > cap / v.f->ksz)
		want = cap / v.f->ksz;
	if (want == 0)
		return 0;
	return (int)pvec_pick(s, &v, UINT32_MAX, (uint32_t)want, out);
}

/* Lists torrents from *cursor on, stopping after max_out torrents or
 * max_slots slots, whichever comes first; advances *cursor. */
static size_t list_range(const struct swarm *s, uint64_t *cursor, size_t max_out,
			 uint64_t max_slots, struct swarm_listing *out)
{
	size_t n = 0, slots = s->mask + 1;
	uint64_t i = *cursor, end = max_slots > slots ? slots : i + max_slots;

	for (; i < slots && i < end && n < max_out; i++) {
		const struct swarm_torrent *t = &s->slots[i];
		if (!t->used)
			continue;
		out[n].info_hash = t->ih;
		counts_fill(t, &out[n].counts);
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
	size_t slot;
	const struct swarm_torrent *t = table_find(s, ih, &slot);

	memset(counts, 0, sizeof(*counts));
	if (t)
		counts_fill(t, counts);
}

/* Expires the peers of the torrent in slot i; frees it when empty. Returns
 * the peers removed; *freed tells whether the slot was emptied. */
static size_t sweep_slot(struct swarm *s, size_t i, uint32_t now, bool *freed)
{
	struct swarm_torrent *t = &s->slots[i];
	uint32_t gone = 0, seeders_gone = 0, seeders6_gone = 0;

	for (int fam = 0; fam < 2; fam++) {
		struct pvec v = pvec_of(s, t, fam == 1);
		gone += pvec_expire(s, &v, now, fam == 1 ? &seeders6_gone : &seeders_gone);
	}
	seeders_gone += seeders6_gone;
	s->st.seeders6 -= seeders6_gone;
	t->seeders -= seeders_gone;
	s->st.seeders -= seeders_gone;
	s->st.leechers -= gone - seeders_gone;
	*freed = t->n4 + t->n6 == 0;
	if (*freed)
		table_del(s, i);
	return gone;
}

size_t swarm_sweep(struct swarm *s, uint32_t now, size_t budget)
{
	size_t removed = 0;

	while (budget-- > 0 && s->st.torrents > 0) {
		bool freed = false;
		if (s->slots[s->cursor].used)
			removed += sweep_slot(s, s->cursor, now, &freed);
		/* After a delete the slot holds a shifted record: look again. */
		if (!freed)
			s->cursor = (s->cursor + 1) & s->mask;
	}
	s->st.expired_peers += removed;
	return removed;
}

void swarm_stats(const struct swarm *s, struct swarm_stats *st)
{
	*st = s->st;
	st->slots = s->mask + 1;
}

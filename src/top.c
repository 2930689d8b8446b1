/* top.c - bounded lists of the busiest torrents and the boards that
 * publish them from a worker to the metrics thread (see top.h).
 *
 * What it does: a min-heap of at most cap entries keyed by peers (so the
 * least busy one held is at the root and is the one replaced), a sort for
 * output, and a single-writer seqlock board. What it doesn't: scan a shard
 * (worker_metrics.c does, a bounded number of slots per loop turn) or render
 * JSON (metrics.c).
 *
 * Threads: a top_list belongs to whoever fills it. A board has one writer,
 * the worker that owns the shard, and any number of readers. The seqlock
 * follows Boehm, "Can seqlocks get along with programming language memory
 * models?" (MSPC 2012): the data is stored and loaded as relaxed atomic
 * 64-bit words, so a torn copy is detected by the sequence check and never
 * a data race; the writer never blocks and never retries.
 *
 * Memory: a board is one allocation of about 32 KiB, owned by its creator.
 */
#include "top.h"

#include <errno.h>
#include <sched.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define TOP_WORDS  (TOP_MAX * sizeof(struct top_entry) / sizeof(uint64_t))
#define READ_TRIES 64 /* copies a reader attempts before giving up */

struct top_board {
	alignas(64) atomic_bool wanted; /* set by readers, cleared by the writer */
	alignas(64)
	    atomic_uint_fast64_t seq;	   /* odd while the writer copies; generation = seq / 2 */
	_Atomic uint32_t n;		   /* entries published */
	_Atomic uint32_t stamp;		   /* seconds, when the list was finished */
	_Atomic uint64_t words[TOP_WORDS]; /* n entries, 4 words each */
};

/* ---------------------------------------------------------------- lists */

static uint64_t peers_of(const struct top_entry *e)
{
	return (uint64_t)e->seeders + e->leechers;
}

/* True when a ranks before b: more peers, then more seeders, then the
 * smaller info hash (so that the order is total and output is stable). */
static bool busier(const struct top_entry *a, const struct top_entry *b)
{
	uint64_t pa = peers_of(a), pb = peers_of(b);

	if (pa != pb)
		return pa > pb;
	if (a->seeders != b->seeders)
		return a->seeders > b->seeders;
	return memcmp(a->info_hash.b, b->info_hash.b, sizeof(a->info_hash.b)) < 0;
}

void top_init(struct top_list *l, uint32_t cap)
{
	l->cap = cap < 1 ? 1 : cap > TOP_MAX ? TOP_MAX : cap;
	l->n = 0;
}

static void swap(struct top_entry *a, struct top_entry *b)
{
	struct top_entry t = *a;

	*a = *b;
	*b = t;
}

/* Min-heap on `busier`: the root is the least busy entry held. */
static void sift_up(struct top_list *l, uint32_t i)
{
	while (i > 0) {
		uint32_t parent = (i - 1) / 2;
		if (!busier(&l->e[parent], &l->e[i]))
			break;
		swap(&l->e[parent], &l->e[i]);
		i = parent;
	}
}

static void sift_down(struct top_list *l, uint32_t i)
{
	for (;;) {
		uint32_t least = i, left = 2 * i + 1, right = left + 1;
		if (left < l->n && busier(&l->e[least], &l->e[left]))
			least = left;
		if (right < l->n && busier(&l->e[least], &l->e[right]))
			least = right;
		if (least == i)
			return;
		swap(&l->e[least], &l->e[i]);
		i = least;
	}
}

void top_offer(struct top_list *l, const struct top_entry *e)
{
	if (l->n < l->cap) {
		l->e[l->n] = *e;
		sift_up(l, l->n++);
		return;
	}
	if (!busier(e, &l->e[0]))
		return;
	l->e[0] = *e;
	sift_down(l, 0);
}

static int cmp_hash(const void *a, const void *b)
{
	const struct top_entry *x = a, *y = b;
	int c = memcmp(x->info_hash.b, y->info_hash.b, sizeof(x->info_hash.b));

	if (c != 0)
		return c;
	return busier(x, y) ? -1 : busier(y, x) ? 1 : 0; /* the busier copy first */
}

static int cmp_rank(const void *a, const void *b)
{
	const struct top_entry *x = a, *y = b;

	return busier(x, y) ? -1 : busier(y, x) ? 1 : 0;
}

void top_sort(struct top_list *l)
{
	uint32_t kept = 0;

	qsort(l->e, l->n, sizeof(l->e[0]), cmp_hash);
	for (uint32_t i = 0; i < l->n; i++) {
		if (kept > 0 && memcmp(l->e[kept - 1].info_hash.b, l->e[i].info_hash.b,
				       sizeof(l->e[i].info_hash.b)) == 0)
			continue;
		l->e[kept++] = l->e[i];
	}
	l->n = kept;
	qsort(l->e, l->n, sizeof(l->e[0]), cmp_rank);
}

/* --------------------------------------------------------------- boards */

struct top_board *top_board_create(void)
{
	struct top_board *b;

	if (posix_memalign((void **)&b, 64, sizeof(*b)) != 0)
		return NULL;
	memset(b, 0, sizeof(*b));
	atomic_init(&b->wanted, false);
	atomic_init(&b->seq, 0);
	return b;
}

void top_board_destroy(struct top_board *b)
{
	free(b);
}

void top_board_publish(struct top_board *b, const struct top_list *l, uint32_t stamp)
{
	uint_fast64_t seq = atomic_load_explicit(&b->seq, memory_order_relaxed);
	uint32_t n = l->n < TOP_MAX ? l->n : TOP_MAX;

	atomic_store_explicit(&b->seq, seq + 1, memory_order_relaxed);
	atomic_thread_fence(memory_order_release);
	atomic_store_explicit(&b->n, n, memory_order_relaxed);
	atomic_store_explicit(&b->stamp, stamp, memory_order_relaxed);
	for (uint32_t i = 0; i < n; i++) {
		uint64_t w[4];
		memcpy(w, &l->e[i], sizeof(w));
		for (unsigned k = 0; k < 4; k++)
			atomic_store_explicit(&b->words[i * 4 + k], w[k], memory_order_relaxed);
	}
	atomic_store_explicit(&b->seq, seq + 2, memory_order_release);
}

bool top_board_take_request(struct top_board *b)
{
	return atomic_load_explicit(&b->wanted, memory_order_relaxed) &&
	       atomic_exchange_explicit(&b->wanted, false, memory_order_relaxed);
}

void top_board_request(struct top_board *b)
{
	atomic_store_explicit(&b->wanted, true, memory_order_relaxed);
}

uint64_t top_board_generation(const struct top_board *b)
{
	return atomic_load_explicit(&((struct top_board *)b)->seq, memory_order_acquire) / 2;
}

int64_t top_board_read(const struct top_board *b, struct top_list *out, uint32_t *stamp)
{
	struct top_board *w = (struct top_board *)b; /* atomic loads want non-const */

	for (int tries = 0; tries < READ_TRIES; tries++) {
		uint_fast64_t s1 = atomic_load_explicit(&w->seq, memory_order_acquire);
		if (s1 & 1) {
			sched_yield();
			continue;
		}
		uint32_t n = atomic_load_explicit(&w->n, memory_order_relaxed);
		uint32_t st = atomic_load_explicit(&w->stamp, memory_order_relaxed);
		if (n > TOP_MAX)
			n = TOP_MAX; /* torn: the check below rejects it */
		for (uint32_t i = 0; i < n; i++) {
			uint64_t v[4];
			for (unsigned k = 0; k < 4; k++)
				v[k] = atomic_load_explicit(&w->words[i * 4 + k],
							    memory_order_relaxed);
			memcpy(&out->e[i], v, sizeof(v));
		}
		atomic_thread_fence(memory_order_acquire);
		if (atomic_load_explicit(&w->seq, memory_order_relaxed) != s1)
			continue;
		out->cap = TOP_MAX;
		out->n = n;
		*stamp = st;
		return (int64_t)(s1 / 2);
	}
	return -EAGAIN;
}

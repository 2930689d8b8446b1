/* test_top.c - unit tests for the busiest-torrents lists and boards
 * (src/top.c): the heap keeps the cap busiest, the sort order and its ties,
 * duplicate hashes dropped, publish/read/generation/request on a board, and
 * a reader racing a writer never sees a torn list.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "top.h"

static struct top_entry entry(uint32_t id, uint32_t seeders, uint32_t leechers)
{
	struct top_entry e = {.seeders = seeders, .leechers = leechers, .downloaded = id};

	memset(e.info_hash.b, 0x77, sizeof(e.info_hash.b));
	memcpy(e.info_hash.b, &id, sizeof(id));
	return e;
}

static uint32_t id_of(const struct top_entry *e)
{
	uint32_t id;

	memcpy(&id, e->info_hash.b, sizeof(id));
	return id;
}

Test(top, keeps_the_busiest_in_order)
{
	static struct top_list l;

	top_init(&l, 10);
	/* 1000 torrents with peers = a shuffled permutation of 0..999. */
	uint32_t perm[1000];
	for (uint32_t i = 0; i < 1000; i++)
		perm[i] = i;
	srand(7);
	for (uint32_t i = 999; i > 0; i--) {
		uint32_t j = (uint32_t)rand() % (i + 1), t = perm[i];
		perm[i] = perm[j];
		perm[j] = t;
	}
	for (uint32_t i = 0; i < 1000; i++) {
		struct top_entry e = entry(perm[i], perm[i] / 2, perm[i] - perm[i] / 2);
		top_offer(&l, &e);
		cr_assert_leq(l.n, 10);
	}
	top_sort(&l);
	cr_assert_eq(l.n, 10);
	for (uint32_t i = 0; i < 10; i++)
		cr_assert_eq(id_of(&l.e[i]), 999 - i, "rank %u holds %u", i, id_of(&l.e[i]));
}

Test(top, ties_order_by_seeders_then_hash_and_duplicates_go)
{
	static struct top_list l;
	struct top_entry a = entry(3, 1, 4), b = entry(1, 2, 3), c = entry(2, 2, 3);
	struct top_entry a_again = entry(3, 0, 1); /* same hash, fewer peers */

	top_init(&l, 5);
	top_offer(&l, &a_again);
	top_offer(&l, &a);
	top_offer(&l, &c);
	top_offer(&l, &b);
	top_sort(&l);
	cr_assert_eq(l.n, 3, "a twice counts once");
	cr_assert_eq(id_of(&l.e[0]), 1, "5 peers, 2 seeders, smaller hash");
	cr_assert_eq(id_of(&l.e[1]), 2);
	cr_assert_eq(id_of(&l.e[2]), 3);
	cr_assert_eq(l.e[2].leechers, 4, "the busier copy of a stays");
}

Test(top, cap_is_clamped)
{
	static struct top_list l;

	top_init(&l, 0);
	cr_assert_eq(l.cap, 1);
	top_init(&l, 5000);
	cr_assert_eq(l.cap, TOP_MAX);
	for (uint32_t i = 0; i < 3000; i++) {
		struct top_entry e = entry(i, 0, i);
		top_offer(&l, &e);
	}
	cr_assert_eq(l.n, TOP_MAX);
	top_sort(&l);
	cr_assert_eq(id_of(&l.e[0]), 2999);
	cr_assert_eq(id_of(&l.e[TOP_MAX - 1]), 3000 - TOP_MAX);
}

Test(top, board_publish_read_request)
{
	static struct top_list l, out;
	struct top_board *b = top_board_create();
	uint32_t stamp = 99;

	cr_assert_not_null(b);
	cr_assert_eq(top_board_generation(b), 0);
	cr_assert_eq(top_board_read(b, &out, &stamp), 0);
	cr_assert_eq(out.n, 0);
	cr_assert(!top_board_take_request(b));
	top_board_request(b);
	cr_assert(top_board_take_request(b));
	cr_assert(!top_board_take_request(b), "taking clears the request");

	top_init(&l, 100);
	for (uint32_t i = 0; i < 50; i++) {
		struct top_entry e = entry(i, i, 1);
		top_offer(&l, &e);
	}
	top_sort(&l);
	top_board_publish(b, &l, 1234);
	cr_assert_eq(top_board_generation(b), 1);
	cr_assert_eq(top_board_read(b, &out, &stamp), 1);
	cr_assert_eq(stamp, 1234);
	cr_assert_eq(out.n, 50);
	cr_assert_eq(memcmp(out.e, l.e, 50 * sizeof(l.e[0])), 0);

	top_init(&l, 10);
	top_board_publish(b, &l, 1240);
	cr_assert_eq(top_board_read(b, &out, &stamp), 2);
	cr_assert_eq(out.n, 0);
	cr_assert_eq(stamp, 1240);
	top_board_destroy(b);
}

/* A writer publishes lists whose every entry carries the generation it was
 * published with; a reader must only ever see whole lists. */
struct race {
	struct top_board *b;
	atomic_bool done;
};

static void *writer(void *arg)
{
	struct race *r = arg;
	static struct top_list l;

	for (uint32_t gen = 1; gen <= 3000; gen++) {
		top_init(&l, TOP_MAX);
		uint32_t n = 1 + gen % TOP_MAX;
		for (uint32_t i = 0; i < n; i++) {
			struct top_entry e = entry(i, gen, n);
			l.e[l.n++] = e; /* filled as is: the reader checks, not the order */
		}
		top_board_publish(r->b, &l, gen);
	}
	atomic_store(&r->done, true);
	return NULL;
}

Test(top, reader_never_sees_a_torn_list, .timeout = 60)
{
	static struct top_list out;
	struct race r = {.b = top_board_create()};
	pthread_t t;
	unsigned reads = 0;

	cr_assert_not_null(r.b);
	atomic_init(&r.done, false);
	cr_assert_eq(pthread_create(&t, NULL, writer, &r), 0);
	while (!atomic_load(&r.done) || reads == 0) {
		uint32_t stamp;
		int64_t gen = top_board_read(r.b, &out, &stamp);
		if (gen == -EAGAIN || gen == 0)
			continue;
		cr_assert_gt(gen, 0);
		reads++;
		cr_assert_eq((uint64_t)gen, stamp, "generation %lld, stamp %u", (long long)gen,
			     stamp);
		cr_assert_eq(out.n, 1 + stamp % TOP_MAX);
		for (uint32_t i = 0; i < out.n; i++)
			cr_assert(out.e[i].seeders == stamp && out.e[i].leechers == out.n &&
				      id_of(&out.e[i]) == i,
				  "entry %u of list %u is torn", i, stamp);
	}
	pthread_join(t, NULL);
	cr_assert_eq(top_board_generation(r.b), 3000);
	top_board_destroy(r.b);
}

/* top.h - the busiest torrents (by peers) of a shard, for GET /top.
 *
 * Two parts. A top_list is a plain bounded list: a min-heap while it is
 * filled (top_offer keeps the `cap` busiest seen), sorted busiest first by
 * top_sort; any one thread at a time. A top_board is where a worker
 * publishes its last finished list and where the metrics thread reads it:
 * one writer (the owning worker), any number of readers, no lock - a
 * sequence counter (seqlock) tells a reader to copy again when a publish
 * overlapped its copy. The writer never waits.
 */
#ifndef RINGTRACKER_TOP_H
#define RINGTRACKER_TOP_H

#include <assert.h>
#include <stdbool.h>
#include <stdint.h>

#include "ids.h"

#define TOP_MAX 1000 /* entries a list holds at most */

struct top_entry {
	struct info_hash info_hash;
	uint32_t seeders;    /* both families */
	uint32_t leechers;   /* both families */
	uint32_t downloaded; /* completed events */
};

static_assert(sizeof(struct top_entry) == 32, "a top entry is four 64-bit words");

struct top_list {
	uint32_t cap; /* entries kept, 1..TOP_MAX */
	uint32_t n;   /* entries held, <= cap */
	struct top_entry e[TOP_MAX];
};

/* Empties l and sets how many entries it keeps (clamped to 1..TOP_MAX). */
void top_init(struct top_list *l, uint32_t cap);

/* Offers one torrent: kept while fewer than cap are held or when it has more
 * peers (seeders + leechers) than the least busy one held, which it then
 * replaces. O(log cap). Only between top_init and top_sort. */
void top_offer(struct top_list *l, const struct top_entry *e);

/* Drops repeated info hashes (a table that moved during a scan can list a
 * torrent twice; the busier copy stays) and sorts busiest first: peers
 * descending, then seeders descending, then info hash ascending. O(n log n). */
void top_sort(struct top_list *l);

struct top_board;

/* Allocates an empty board (generation 0: nothing published). NULL when out
 * of memory. Any thread; the caller frees it with top_board_destroy after
 * every reader and the writer are done with it. */
struct top_board *top_board_create(void);
void top_board_destroy(struct top_board *b);

/* Writer (the owning worker) only: copies l's entries into the board with
 * stamp (seconds, CLOCK_MONOTONIC_COARSE) and bumps the generation. */
void top_board_publish(struct top_board *b, const struct top_list *l, uint32_t stamp);

/* Writer only: true (and cleared) when a reader asked for a fresh list. */
bool top_board_take_request(struct top_board *b);

/* Any thread: asks the writer for a fresh list. */
void top_board_request(struct top_board *b);

/* Any thread: lists published so far (0: none yet). */
uint64_t top_board_generation(const struct top_board *b);

/* Any thread: copies the last published list into *out (sorted as it was
 * published; out->cap is set to TOP_MAX) and its stamp into *stamp. Returns
 * the generation copied (0: nothing published, out empty), or -EAGAIN if
 * publishes kept overlapping the copy. */
int64_t top_board_read(const struct top_board *b, struct top_list *out, uint32_t *stamp);

#endif

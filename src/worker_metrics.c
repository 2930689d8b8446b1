/* worker_metrics.c - what a worker does for the metrics endpoint, on its own
 * thread and off the packet path.
 *
 * What it does: once a second copies its shard's levels (swarm_stats, O(1))
 * and its open HTTP connections into the gauges of its counters, which the
 * metrics thread reads without touching the shard. When the metrics thread
 * asks its board for a fresh busiest-torrents list (GET /top), it scans the
 * shard's table a bounded number of slots per loop turn (TOP_CHUNK slots per
 * busy turn, TOP_CHUNK * TOP_CHUNKS_IDLE per idle one), keeps the TOP_MAX
 * busiest in a heap and publishes the sorted list on the board when the scan
 * reaches the end of the table. Requests that arrive during a scan are
 * answered by that scan. The metrics thread asks only when the published list
 * is older than its refresh interval, so there is at most one scan per
 * interval, and none while nobody asks.
 *
 * Known limits: the table may grow or shift during a scan (announces run
 * between turns), so a scan can miss a torrent or see one twice (top_sort
 * drops the copy); counts are those seen when the slot was visited. A scan
 * of a large table takes several turns: about 16M slots / 256 per busy turn.
 *
 * Threads: the worker's own thread, except worker_top_board (any thread:
 * the pointer is set before the worker reports its set-up).
 * Memory: owns the scan state and the board (about 100 KiB per worker).
 */
#include <errno.h>
#include <stdlib.h>

#include "top.h"
#include "worker_internal.h"

#define TOP_CHUNK	256 /* table slots per step */
#define TOP_CHUNKS_IDLE 128 /* steps per idle loop turn (busy turns take one) */

struct worker_top {
	struct top_board *board;
	struct top_list list; /* the heap being filled by the scan */
	struct swarm_listing chunk[TOP_CHUNK];
	uint64_t cursor; /* next table slot */
	bool scanning;
};

int worker_metrics_setup(struct worker *w)
{
	w->top = calloc(1, sizeof(*w->top));
	if (w->top)
		w->top->board = top_board_create();
	if (!w->top || !w->top->board) {
		w->setup_err = -ENOMEM;
		w->setup_what = "busiest-torrents board";
		return -ENOMEM;
	}
	return 0;
}

void worker_metrics_destroy(struct worker *w)
{
	if (!w->top)
		return;
	top_board_destroy(w->top->board);
	free(w->top);
	w->top = NULL;
}

struct top_board *worker_top_board(const struct worker *w)
{
	return w->top ? w->top->board : NULL;
}

static void gauges_refresh(struct worker *w)
{
	struct swarm_stats st;
	struct counters *c = &w->counters;

	swarm_stats(w->swarm, &st);
	uint64_t seeders4 = st.seeders - st.seeders6;
	counters_set_gauge(c, GAUGE_torrents, st.torrents);
	counters_set_gauge(c, GAUGE_seeders_v4, seeders4);
	counters_set_gauge(c, GAUGE_seeders_v6, st.seeders6);
	counters_set_gauge(c, GAUGE_leechers_v4, st.peers4 - seeders4);
	counters_set_gauge(c, GAUGE_leechers_v6, st.peers6 - st.seeders6);
	counters_set_gauge(c, GAUGE_swarm_memory_bytes, st.memory_bytes);
	counters_set_gauge(c, GAUGE_http_connections_open, worker_http_open(w));
}

/* One step of a scan: TOP_CHUNK slots. Publishes at the end of the table. */
static void top_step(struct worker *w, struct worker_top *t)
{
	size_t n = swarm_list_slots(w->swarm, &t->cursor, TOP_CHUNK, t->chunk);

	for (size_t i = 0; i < n; i++) {
		struct top_entry e = {
		    .info_hash = t->chunk[i].info_hash,
		    .seeders = t->chunk[i].counts.seeders,
		    .leechers = t->chunk[i].counts.leechers,
		    .downloaded = t->chunk[i].counts.downloaded,
		};
		top_offer(&t->list, &e);
	}
	if (t->cursor != SWARM_LIST_END)
		return;
	top_sort(&t->list);
	top_board_take_request(t->board); /* asked meanwhile: this scan answers */
	top_board_publish(t->board, &t->list, w->now);
	t->scanning = false;
}

void worker_metrics_tick(struct worker *w, bool busy)
{
	struct worker_top *t = w->top;

	if (w->now != w->gauges_at) {
		w->gauges_at = w->now;
		gauges_refresh(w);
	}
	if (!t->scanning) {
		if (!top_board_take_request(t->board))
			return;
		top_init(&t->list, TOP_MAX);
		t->cursor = 0;
		t->scanning = true;
	}
	for (unsigned k = busy ? 1 : TOP_CHUNKS_IDLE; k > 0 && t->scanning; k--)
		top_step(w, t);
}

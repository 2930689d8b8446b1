/* worker.h - one pinned worker thread: its io_uring event loop, its UDP
 * sockets, its swarm shard, and its ends of the handoff rings.
 *
 * Used by server.c only. The shared block (struct worker_shared) is written
 * by the main thread before any worker starts and is read-only afterwards,
 * except for the atomics it names.
 */
#ifndef RINGTRACKER_WORKER_H
#define RINGTRACKER_WORKER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "connid.h"
#include "counters.h"
#include "ids.h"
#include "spsc.h"

struct worker;

#define WORKER_IDLE_MS 100 /* longest sleep in io_uring_wait */

struct worker_shared {
	const struct config *cfg; /* the start-up configuration */
	/* The configuration in force: the start-up one, or one a reload
	 * published (release); each worker adopts it at its next loop turn. */
	_Atomic(const struct config *) live_cfg;
	unsigned n_workers;
	struct worker **workers;   /* [n_workers] */
	struct spsc *rings;        /* [from * n_workers + to]; from == to unused */
	uint8_t shard_key[16];     /* keys owner(info_hash) */
	uint8_t swarm_seed[16];    /* keys each shard's table */
	struct connid_key connid_key;
	atomic_bool stop;          /* set by the main thread */

	/* Start-up handshake: each worker sets itself up, counts itself in
	 * `reported` (setting `failed` if it could not), then waits for `go`
	 * or `failed` from the main thread. */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	unsigned reported;
	bool failed;
	bool go;
};

/* Which worker owns a torrent: keyed hash of the info hash modulo n. */
unsigned worker_owner(const uint8_t shard_key[16], const struct info_hash *ih, unsigned n);

/* Allocates worker id; udp_fds[k] / http_fds[k] are this worker's sockets
 * for cfg->udp[k] / cfg->http[k]. On success the worker owns them; on
 * failure (NULL: out of memory) they stay the caller's. */
struct worker *worker_create(struct worker_shared *sh, unsigned id, int cpu, const int *udp_fds,
			     const int *http_fds);

/* Thread entry (arg is the struct worker). Sets up the ring and buffers,
 * reports and waits for sh->go (see the handshake above), then loops until
 * sh->stop (checked at
 * least every WORKER_IDLE_MS milliseconds, since a sleeping worker wakes then). */
void *worker_main(void *arg);

/* Frees a worker whose thread has ended (or never started). */
void worker_destroy(struct worker *w);

const struct counters *worker_counters(const struct worker *w);

struct top_board;

/* The board on which the worker publishes its busiest torrents (top.h), or
 * NULL before its set-up. Valid until worker_destroy; any thread may read
 * it or ask it for a fresh list. */
struct top_board *worker_top_board(const struct worker *w);

/* Last set-up error of the worker (-errno) and what it was doing. */
int worker_setup_error(const struct worker *w, const char **what);

#endif

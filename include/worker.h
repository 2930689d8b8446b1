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
	const struct config *cfg;
	unsigned n_workers;
	struct worker **workers;   /* [n_workers] */
	struct spsc *rings;        /* [from * n_workers + to]; from == to unused */
	uint8_t shard_key[16];     /* keys owner(info_hash) */
	uint8_t swarm_seed[16];    /* keys each shard's table */
	struct connid_key connid_key;
	atomic_bool stop;          /* set by the main thread */
	pthread_barrier_t started; /* n_workers + 1: every worker set up */
	atomic_int failed;         /* set by a worker whose set-up failed */
};

/* Which worker owns a torrent: keyed hash of the info hash modulo n. */
unsigned worker_owner(const uint8_t shard_key[16], const struct info_hash *ih, unsigned n);

/* Allocates worker id; udp_fds[k] is this worker's socket for cfg->udp[k]
 * (ownership passes to the worker). Returns NULL when out of memory. */
struct worker *worker_create(struct worker_shared *sh, unsigned id, int cpu, const int *udp_fds);

/* Thread entry (arg is the struct worker). Sets up the ring and buffers,
 * waits on sh->started, then loops until sh->stop (checked at
 * least every WORKER_IDLE_MS milliseconds, since a sleeping worker wakes then). */
void *worker_main(void *arg);

/* Frees a worker whose thread has ended (or never started). */
void worker_destroy(struct worker *w);

const struct counters *worker_counters(const struct worker *w);

/* Last set-up error of the worker (-errno) and what it was doing. */
int worker_setup_error(const struct worker *w, const char **what);

#endif

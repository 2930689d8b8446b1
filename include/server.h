/* server.h - the worker threads as a whole: start, stop, counters.
 *
 * The main thread calls these; workers never do. server_start binds every
 * listener (so port 0 resolves once and every worker shares the port),
 * creates the worker-to-worker rings, starts one pinned thread per worker and
 * returns when all of them run (or reports the first failure).
 */
#ifndef RINGTRACKER_SERVER_H
#define RINGTRACKER_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "counters.h"

struct server;

/* Starts the workers for cfg (which must outlive the server). Returns the
 * server, or NULL with one line in err (capacity errcap) naming what failed
 * (an address that cannot be bound, io_uring setup, memory). */
struct server *server_start(const struct config *cfg, char *err, size_t errcap);

/* Asks every worker to stop and joins them (each notices within
 * WORKER_IDLE_MS). Counters stay readable until server_free. NULL is allowed. */
void server_stop(struct server *srv);

/* Stops (if still running) and frees everything. NULL is allowed. */
void server_free(struct server *srv);

/* Publishes cfg (which must outlive the server, as must the one it
 * replaces) to every worker; each adopts it at its next loop turn. Fields
 * that cannot change live must equal the running ones (reload_merge). Main
 * thread only. */
void server_reconfigure(struct server *srv, const struct config *cfg);

/* Number of workers running. */
unsigned server_workers(const struct server *srv);

/* Port UDP listener k (cfg->udp[k]) is bound to, host order: the configured
 * port, or the one the kernel chose for port 0. 0 when k is out of range. */
uint16_t server_udp_port(const struct server *srv, size_t k);

/* Copies worker i's counters and gauges (any thread, relaxed reads). */
void server_worker_counters(const struct server *srv, unsigned i, struct counters *out);

struct top_board;

/* Worker i's busiest-torrents board (top.h), NULL when i is out of range.
 * Any thread, while the server exists (until server_free). */
struct top_board *server_worker_top(const struct server *srv, unsigned i);

#endif

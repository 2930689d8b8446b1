/* metrics.h - the metrics endpoint: a small dedicated thread that serves
 * GET /metrics (Prometheus text exposition format 0.0.4), GET /top?n=N (the
 * busiest torrents, JSON) and GET /health on its own TCP listener
 * (--metrics, default 127.0.0.1:9469), and the pure renderers it uses.
 *
 * Per-worker counters are copied with relaxed loads and summed at scrape
 * time; the endpoint takes no lock and writes nothing the workers read on
 * their packet path (it only raises a worker's "fresh /top list, please"
 * flag). No metric carries a per-torrent or per-client label.
 *
 * metrics_start / metrics_stop: main thread. The renderers and readers: any
 * thread, no shared state. Errors: -errno, plus one line in the caller's
 * buffer where one is taken; nothing here exits.
 */
#ifndef RINGTRACKER_METRICS_H
#define RINGTRACKER_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "counters.h"
#include "top.h"
#include "xdp.h"

struct server;

#define METRICS_TOP_DEFAULT   100  /* /top without n */
#define METRICS_TOP_REFRESH_S 10   /* a worker's list older than this is rescanned on request */
#define METRICS_TOP_WAIT_MS   2000 /* how long /top waits for rescans to finish */

/* The process as /proc/self tells it. */
struct metrics_process {
	double cpu_seconds;	   /* user + system */
	uint64_t resident_bytes;   /* statm resident * page size */
	uint64_t virtual_bytes;	   /* stat vsize */
	uint64_t open_fds;	   /* entries of /proc/self/fd */
	uint64_t max_fds;	   /* RLIMIT_NOFILE soft limit */
	double start_time_seconds; /* since the Unix epoch */
};

/* jemalloc's statistics (release builds link jemalloc; others do not). */
struct metrics_allocator {
	uint64_t allocated; /* bytes the application holds */
	uint64_t active;    /* bytes in active pages */
	uint64_t resident;  /* bytes in physically resident data pages */
	uint64_t mapped;    /* bytes in active extents mapped by the allocator */
};

/* Everything one /metrics page shows. */
struct metrics_snapshot {
	unsigned n_workers;
	const struct counters *workers; /* [n_workers] copies */
	bool xdp_attached;		/* the XDP prefilter is loaded */
	bool has_xdp;			/* xdp holds its counters */
	struct xdp_counters xdp;
	bool has_allocator;
	struct metrics_allocator allocator;
	bool has_process;
	struct metrics_process process;
	const char *version;  /* "0.1.0" */
	const char *features; /* comma-separated, see metrics_features */
};

/* Writes the whole /metrics page for s into buf (capacity cap): every family
 * with # HELP and # TYPE, counters named *_total, base units. Returns the
 * bytes written, or -ENOSPC (buf then holds a truncated page). */
int metrics_render(const struct metrics_snapshot *s, char *buf, size_t cap);

/* What a /top answer says besides its entries. */
struct metrics_top_info {
	unsigned workers;     /* shards asked */
	unsigned stale;	      /* shards whose rescan did not finish in time (older list used) */
	uint32_t age_seconds; /* oldest list merged, seconds since its scan finished */
};

/* Writes l (sorted busiest first) as JSON:
 * {"torrents":[{"info_hash":"<40 hex>","seeders":S,"leechers":L,"peers":P,
 * "downloaded":D},...],"count":N,"workers":W,"stale_workers":X,
 * "age_seconds":A,"refresh_seconds":R}. Returns bytes or -ENOSPC. */
int metrics_render_top(const struct top_list *l, const struct metrics_top_info *info, char *buf,
		       size_t cap);

/* Reads CPU time, memory, open files and start time from /proc/self.
 * Returns 0 or -errno. */
int metrics_read_process(struct metrics_process *p);

/* Refreshes and reads jemalloc's statistics. Returns 0, or -ENOTSUP when
 * jemalloc is not linked in (sanitizer and debug builds), or -EIO. */
int metrics_read_allocator(struct metrics_allocator *a);

/* Build features for ringtracker_build_info: "udp,http,xdp", then
 * ",jemalloc" when linked, ",asan" in sanitizer builds. Static string. */
const char *metrics_features(void);

struct metrics;

/* Binds cfg->metrics (SO_REUSEADDR; port 0 picks one), logs "metrics:
 * listening on ADDR:PORT" and starts the thread. srv, xdp (NULL without the
 * prefilter), cfg and version must outlive the endpoint. Returns it, or NULL
 * with "--metrics ADDR: cannot bind: reason" (or another one-line reason)
 * in err. Main thread. */
struct metrics *metrics_start(const struct config *cfg, const struct server *srv,
			      const struct xdp_filter *xdp, const char *version, char *err,
			      size_t errcap);

/* Wakes the thread, joins it (an exchange in progress is cut short) and
 * frees everything. Call before the server or the prefilter is freed.
 * NULL is allowed. Main thread. */
void metrics_stop(struct metrics *m);

#endif

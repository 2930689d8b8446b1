/* server.c - starts and stops the worker threads (see server.h).
 *
 * What it does: picks the CPUs, binds every UDP listener once per worker
 * with SO_REUSEPORT (resolving port 0 on the first bind so that every worker
 * shares the port), draws the process's random keys, allocates the
 * worker-to-worker rings, starts one pinned thread per worker and waits
 * until all are set up. At stop it raises the stop flag and joins them.
 *
 * Threads: main thread only. Memory: owns the workers, rings and keys.
 */
#include "server.h"

#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "listener.h"
#include "log.h"
#include "worker.h"

/* Kernel receive buffer asked for each UDP socket (bytes). */
#define UDP_RCVBUF (4 << 20)

/* Each worker's sockets: UDP listeners then HTTP listeners. */
#define FDS_PER_WORKER (2 * CONFIG_MAX_LISTEN)

struct server {
	struct worker_shared sh;
	int *cpus; /* [n_workers] */
	pthread_t *threads;
	unsigned started; /* threads created and not yet joined */
	uint16_t udp_ports[CONFIG_MAX_LISTEN]; /* bound port of cfg->udp[k], host order */
};

/* The CPUs to run on: the configured set, else the process's affinity.
 * -ERANGE (with the CPU in *n_out) when the set names a CPU this process may
 * not run on; -ENOENT when no CPU is left. */
static int pick_cpus(const struct config *cfg, int **out, unsigned *n_out)
{
	cpu_set_t allowed;
	int *cpus = NULL;
	unsigned n = 0;

	CPU_ZERO(&allowed);
	if (sched_getaffinity(0, sizeof(allowed), &allowed) != 0)
		return -errno;
	cpus = calloc(CPU_SETSIZE, sizeof(int));
	if (!cpus)
		return -ENOMEM;
	for (unsigned c = 0; c < CPU_SETSIZE; c++) {
		if (cfg->has_cpus && config_cpu_allowed(cfg, c) && !CPU_ISSET(c, &allowed)) {
			free(cpus);
			*n_out = c; /* names the CPU in the error */
			return -ERANGE;
		}
		if (cfg->has_cpus ? config_cpu_allowed(cfg, c) : CPU_ISSET(c, &allowed))
			cpus[n++] = (int)c;
	}
	if (n == 0) {
		free(cpus);
		return -ENOENT;
	}
	*out = cpus;
	*n_out = n;
	return 0;
}

static void set_rcvbuf(int fd)
{
	int size = UDP_RCVBUF;

	/* FORCE passes rmem_max when privileged; fall back quietly. */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)) != 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
}

/* Listen backlog of each worker's HTTP socket. */
#define HTTP_BACKLOG 4096

/* Fails with -EADDRINUSE when another socket (another ringtracker, say)
 * already holds a's port: a plain bind without SO_REUSEPORT tells, where the
 * SO_REUSEPORT group would silently share the traffic with it. */
static int probe_unused(const struct netaddr *a, int type)
{
	struct sockaddr_storage ss;
	socklen_t len = netaddr_to_sockaddr(a, &ss);
	int one = 1, r = 0;
	int fd = socket(a->family, type | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	if (a->family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (type == SOCK_STREAM) /* TIME_WAIT leftovers are no owner */
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, len) != 0)
		r = -errno;
	close(fd);
	return r;
}

/* Binds one socket (SOCK_DGRAM for UDP, SOCK_STREAM for HTTP) to *a in an
 * SO_REUSEPORT group; a port of 0 is replaced by the port the kernel chose.
 * Returns the fd or -errno. */
static int listener_bind(struct netaddr *a, int type)
{
	int fd = listener_open(a, type, true, HTTP_BACKLOG);

	if (fd >= 0 && type == SOCK_DGRAM)
		set_rcvbuf(fd);
	return fd;
}

/* Binds listener k of a protocol for every worker into
 * fds[w * FDS_PER_WORKER + slot]. */
static int bind_listener(struct server *srv, const struct netaddr *addr, int type, size_t slot,
			 int *fds, char *err, size_t errcap)
{
	struct netaddr a = *addr;
	char text[NETADDR_TEXT_MAX];
	const char *proto = type == SOCK_DGRAM ? "udp" : "http";
	int r = a.port ? probe_unused(&a, type) : 0;

	if (r < 0) {
		netaddr_format(addr, text, sizeof(text));
		snprintf(err, errcap, "--%s %s: cannot bind: %s%s", proto, text, strerror(-r),
			 r == -EADDRINUSE ? " (is another tracker running?)" : "");
		return r;
	}
	for (unsigned w = 0; w < srv->sh.n_workers; w++) {
		int fd = listener_bind(&a, type);
		if (fd < 0) {
			netaddr_format(addr, text, sizeof(text));
			snprintf(err, errcap, "--%s %s: cannot bind: %s", proto, text, strerror(-fd));
			return fd;
		}
		fds[w * FDS_PER_WORKER + slot] = fd;
	}
	if (type == SOCK_DGRAM)
		srv->udp_ports[slot] = a.port;
	netaddr_format(&a, text, sizeof(text));
	log_info("%s: listening on %s (%u workers, SO_REUSEPORT)", proto, text, srv->sh.n_workers);
	return 0;
}

static int rings_create(struct server *srv)
{
	unsigned n = srv->sh.n_workers;

	srv->sh.rings = calloc((size_t)n * n, sizeof(struct spsc));
	if (!srv->sh.rings)
		return -ENOMEM;
	for (unsigned from = 0; from < n; from++)
		for (unsigned to = 0; to < n; to++) {
			if (from == to)
				continue;
			int r = spsc_init(&srv->sh.rings[from * n + to], srv->sh.cfg->handoff_ring);
			if (r < 0)
				return r;
		}
	return 0;
}

static void rings_free(struct server *srv)
{
	unsigned n = srv->sh.n_workers;

	if (!srv->sh.rings)
		return;
	for (unsigned i = 0; i < n * n; i++)
		spsc_free(&srv->sh.rings[i]);
	free(srv->sh.rings);
}

static void close_fds(int *fds, size_t count)
{
	for (size_t i = 0; i < count; i++)
		if (fds[i] >= 0)
			close(fds[i]);
}

static int start_thread(struct server *srv, unsigned i)
{
	pthread_attr_t attr;
	cpu_set_t set;
	int r;

	/* Pinned before it exists, so its ring is created on its CPU. */
	pthread_attr_init(&attr);
	CPU_ZERO(&set);
	CPU_SET(srv->cpus[i], &set);
	r = pthread_attr_setaffinity_np(&attr, sizeof(set), &set);
	if (r == 0)
		r = pthread_create(&srv->threads[i], &attr, worker_main, srv->sh.workers[i]);
	pthread_attr_destroy(&attr);
	return -r;
}

/* Creates the workers with their sockets; on failure the fds not yet handed
 * to a worker are closed by the caller. */
static int workers_create(struct server *srv, int *fds, const int *cpus, unsigned n_cpus)
{
	unsigned n = srv->sh.n_workers;

	srv->sh.workers = calloc(n, sizeof(*srv->sh.workers));
	srv->cpus = calloc(n, sizeof(int));
	srv->threads = calloc(n, sizeof(pthread_t));
	if (!srv->sh.workers || !srv->cpus || !srv->threads)
		return -ENOMEM;
	for (unsigned i = 0; i < n; i++) {
		srv->cpus[i] = cpus[i % n_cpus];
		int *mine = &fds[i * FDS_PER_WORKER];
		srv->sh.workers[i] = worker_create(&srv->sh, i, srv->cpus[i], mine,
						   mine + CONFIG_MAX_LISTEN);
		if (!srv->sh.workers[i])
			return -ENOMEM;
		for (size_t k = 0; k < FDS_PER_WORKER; k++)
			mine[k] = -1; /* the worker owns them now */
	}
	return 0;
}

/* Releases the started workers: to run (go) or to end (failed). */
static void workers_release(struct server *srv, bool go)
{
	pthread_mutex_lock(&srv->sh.lock);
	if (go)
		srv->sh.go = true;
	else
		srv->sh.failed = true;
	pthread_cond_broadcast(&srv->sh.cond);
	pthread_mutex_unlock(&srv->sh.lock);
}

/* Starts the threads and waits until each has set itself up. On failure
 * the threads already started are told to end (server_stop joins them). */
static int workers_start(struct server *srv, char *err, size_t errcap)
{
	unsigned n = srv->sh.n_workers;

	for (unsigned i = 0; i < n; i++) {
		int r = start_thread(srv, i);
		if (r < 0) {
			snprintf(err, errcap, "worker %u: cannot start a thread on cpu %d: %s", i,
				 srv->cpus[i], strerror(-r));
			workers_release(srv, false);
			return r;
		}
		srv->started++;
	}
	pthread_mutex_lock(&srv->sh.lock);
	while (srv->sh.reported < n)
		pthread_cond_wait(&srv->sh.cond, &srv->sh.lock);
	pthread_mutex_unlock(&srv->sh.lock);
	for (unsigned i = 0; i < n; i++) {
		const char *what;
		int r = worker_setup_error(srv->sh.workers[i], &what);
		if (r < 0) {
			snprintf(err, errcap, "worker %u: %s: %s", i, what, strerror(-r));
			workers_release(srv, false);
			return r;
		}
		log_info("worker %u: running on cpu %d", i, srv->cpus[i]);
	}
	workers_release(srv, true);
	return 0;
}

struct server *server_start(const struct config *cfg, char *err, size_t errcap)
{
	struct server *srv = calloc(1, sizeof(*srv));
	int *cpus = NULL, *fds = NULL;
	unsigned n_cpus = 0;
	int r;

	if (!srv) {
		snprintf(err, errcap, "out of memory");
		return NULL;
	}
	srv->sh.cfg = cfg;
	atomic_init(&srv->sh.live_cfg, cfg);
	atomic_init(&srv->sh.stop, false);
	pthread_mutex_init(&srv->sh.lock, NULL);
	pthread_cond_init(&srv->sh.cond, NULL);
	r = pick_cpus(cfg, &cpus, &n_cpus);
	if (r == -ERANGE) {
		snprintf(err, errcap, "--cpus: CPU %u is not online or not allowed for this process",
			 n_cpus);
		goto fail;
	}
	if (r < 0) {
		snprintf(err, errcap, "--cpus: no usable CPU in the set (%s)", strerror(-r));
		goto fail;
	}
	srv->sh.n_workers = cfg->workers ? cfg->workers : n_cpus;
	randombytes_buf(srv->sh.shard_key, sizeof(srv->sh.shard_key));
	randombytes_buf(srv->sh.swarm_seed, sizeof(srv->sh.swarm_seed));
	connid_key_init(&srv->sh.connid_key);

	size_t n_fds = (size_t)srv->sh.n_workers * FDS_PER_WORKER;
	fds = malloc(n_fds * sizeof(int));
	if (!fds) {
		snprintf(err, errcap, "out of memory");
		goto fail;
	}
	for (size_t i = 0; i < n_fds; i++)
		fds[i] = -1;
	/* Listener k's sockets share one port: port 0 resolves on the first bind. */
	for (size_t k = 0; k < cfg->n_udp; k++)
		if ((r = bind_listener(srv, &cfg->udp[k], SOCK_DGRAM, k, fds, err, errcap)) < 0)
			goto fail_fds;
	for (size_t k = 0; k < cfg->n_http; k++)
		if ((r = bind_listener(srv, &cfg->http[k], SOCK_STREAM, CONFIG_MAX_LISTEN + k, fds,
				       err, errcap)) < 0)
			goto fail_fds;
	if ((r = rings_create(srv)) < 0) {
		snprintf(err, errcap, "handoff rings: %s", strerror(-r));
		goto fail_fds;
	}
	if ((r = workers_create(srv, fds, cpus, n_cpus)) < 0) {
		snprintf(err, errcap, "workers: %s", strerror(-r));
		goto fail_fds;
	}
	free(fds);
	free(cpus);
	if (workers_start(srv, err, errcap) < 0) {
		server_stop(srv);
		server_free(srv);
		return NULL;
	}
	return srv;

fail_fds:
	close_fds(fds, n_fds);
	free(fds);
fail:
	free(cpus);
	server_free(srv);
	return NULL;
}

void server_stop(struct server *srv)
{
	if (!srv)
		return;
	atomic_store(&srv->sh.stop, true);
	for (unsigned i = 0; i < srv->started; i++)
		pthread_join(srv->threads[i], NULL);
	srv->started = 0;
}

void server_free(struct server *srv)
{
	if (!srv)
		return;
	server_stop(srv);
	pthread_mutex_destroy(&srv->sh.lock);
	pthread_cond_destroy(&srv->sh.cond);
	if (srv->sh.workers)
		for (unsigned i = 0; i < srv->sh.n_workers; i++)
			worker_destroy(srv->sh.workers[i]);
	rings_free(srv);
	free(srv->sh.workers);
	free(srv->cpus);
	free(srv->threads);
	free(srv);
}

void server_reconfigure(struct server *srv, const struct config *cfg)
{
	atomic_store_explicit(&srv->sh.live_cfg, cfg, memory_order_release);
}

unsigned server_workers(const struct server *srv)
{
	return srv->sh.n_workers;
}

uint16_t server_udp_port(const struct server *srv, size_t k)
{
	return k < srv->sh.cfg->n_udp && k < CONFIG_MAX_LISTEN ? srv->udp_ports[k] : 0;
}

void server_worker_counters(const struct server *srv, unsigned i, struct counters *out)
{
	const struct counters *c = worker_counters(srv->sh.workers[i]);

	for (unsigned k = 0; k < CTR_COUNT; k++)
		out->v[k] = counters_get(c, (enum counter_id)k);
	for (unsigned k = 0; k < GAUGE_COUNT; k++)
		out->g[k] = counters_get_gauge(c, (enum gauge_id)k);
}

struct top_board *server_worker_top(const struct server *srv, unsigned i)
{
	return i < srv->sh.n_workers ? worker_top_board(srv->sh.workers[i]) : NULL;
}

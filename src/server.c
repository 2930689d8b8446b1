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

#include "log.h"
#include "worker.h"

/* Kernel receive buffer asked for each UDP socket (bytes). */
#define UDP_RCVBUF (4 << 20)

struct server {
	struct worker_shared sh;
	int *cpus; /* [n_workers] */
	pthread_t *threads;
	unsigned started; /* threads created */
	bool barrier_ready;
};

/* The CPUs to run on: the configured set, else the process's affinity. */
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
		bool want = cfg->has_cpus ? config_cpu_allowed(cfg, c) : CPU_ISSET(c, &allowed);
		if (want)
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

/* Binds one UDP socket to *a with SO_REUSEPORT; a port of 0 is replaced by
 * the port the kernel chose. Returns the fd or -errno. */
static int udp_bind(struct netaddr *a)
{
	struct sockaddr_storage ss;
	socklen_t len = netaddr_to_sockaddr(a, &ss);
	int one = 1;
	int fd = socket(a->family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0 ||
	    (a->family == AF_INET6 &&
	     setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) != 0) ||
	    bind(fd, (struct sockaddr *)&ss, len) != 0)
		goto fail_close;
	set_rcvbuf(fd);
	if (a->port == 0) {
		len = sizeof(ss);
		if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0)
			goto fail_close;
		struct netaddr bound;
		if (netaddr_from_sockaddr((struct sockaddr *)&ss, len, &bound) == 0)
			a->port = bound.port;
	}
	return fd;

fail_close:;
	int err = -errno;
	close(fd);
	return err;
}

/* Binds listener k for every worker; fds[w * CONFIG_MAX_LISTEN + k]. */
static int bind_listener(struct server *srv, size_t k, int *fds, char *err, size_t errcap)
{
	struct netaddr a = srv->sh.cfg->udp[k];
	char text[NETADDR_TEXT_MAX];

	for (unsigned w = 0; w < srv->sh.n_workers; w++) {
		int fd = udp_bind(&a);
		if (fd < 0) {
			netaddr_format(&srv->sh.cfg->udp[k], text, sizeof(text));
			snprintf(err, errcap, "--udp %s: cannot bind: %s", text, strerror(-fd));
			return fd;
		}
		fds[w * CONFIG_MAX_LISTEN + k] = fd;
	}
	netaddr_format(&a, text, sizeof(text));
	log_info("udp: listening on %s (%u workers, SO_REUSEPORT)", text, srv->sh.n_workers);
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
	pthread_attr_setaffinity_np(&attr, sizeof(set), &set);
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
		srv->sh.workers[i] = worker_create(&srv->sh, i, srv->cpus[i], &fds[i * CONFIG_MAX_LISTEN]);
		if (!srv->sh.workers[i])
			return -ENOMEM;
		for (size_t k = 0; k < srv->sh.cfg->n_udp; k++)
			fds[i * CONFIG_MAX_LISTEN + k] = -1; /* the worker owns it now */
	}
	return 0;
}

/* Starts the threads and waits until each has set itself up. */
static int workers_start(struct server *srv, char *err, size_t errcap)
{
	unsigned n = srv->sh.n_workers;

	if (pthread_barrier_init(&srv->sh.started, NULL, n + 1) != 0)
		return -ENOMEM;
	srv->barrier_ready = true;
	for (unsigned i = 0; i < n; i++) {
		int r = start_thread(srv, i);
		if (r < 0) {
			/* The barrier can no longer complete: fatal at start-up. */
			snprintf(err, errcap, "worker %u: pthread_create: %s", i, strerror(-r));
			log_error("%s", err);
			abort();
		}
		srv->started++;
	}
	pthread_barrier_wait(&srv->sh.started);
	for (unsigned i = 0; i < n; i++) {
		const char *what;
		int r = worker_setup_error(srv->sh.workers[i], &what);
		if (r < 0) {
			snprintf(err, errcap, "worker %u: %s: %s", i, what, strerror(-r));
			return r;
		}
		log_info("worker %u: running on cpu %d", i, srv->cpus[i]);
	}
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
	atomic_init(&srv->sh.stop, false);
	atomic_init(&srv->sh.failed, 0);
	r = pick_cpus(cfg, &cpus, &n_cpus);
	if (r < 0) {
		snprintf(err, errcap, "--cpus: no usable CPU in the set (%s)", strerror(-r));
		goto fail;
	}
	srv->sh.n_workers = cfg->workers ? cfg->workers : n_cpus;
	randombytes_buf(srv->sh.shard_key, sizeof(srv->sh.shard_key));
	randombytes_buf(srv->sh.swarm_seed, sizeof(srv->sh.swarm_seed));
	connid_key_init(&srv->sh.connid_key);

	size_t n_fds = (size_t)srv->sh.n_workers * CONFIG_MAX_LISTEN;
	fds = malloc(n_fds * sizeof(int));
	if (!fds) {
		snprintf(err, errcap, "out of memory");
		goto fail;
	}
	for (size_t i = 0; i < n_fds; i++)
		fds[i] = -1;
	/* Listener k's sockets share one port: port 0 resolves on the first bind. */
	for (size_t k = 0; k < cfg->n_udp; k++)
		if ((r = bind_listener(srv, k, fds, err, errcap)) < 0)
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
		return NULL;
	}
	return srv;

fail_fds:
	close_fds(fds, n_fds);
	free(fds);
fail:
	free(cpus);
	server_stop(srv);
	return NULL;
}

void server_stop(struct server *srv)
{
	if (!srv)
		return;
	atomic_store(&srv->sh.stop, true);
	for (unsigned i = 0; i < srv->started; i++)
		pthread_join(srv->threads[i], NULL);
	if (srv->barrier_ready)
		pthread_barrier_destroy(&srv->sh.started);
	if (srv->sh.workers)
		for (unsigned i = 0; i < srv->sh.n_workers; i++)
			worker_destroy(srv->sh.workers[i]);
	rings_free(srv);
	free(srv->sh.workers);
	free(srv->cpus);
	free(srv->threads);
	free(srv);
}

unsigned server_workers(const struct server *srv)
{
	return srv->sh.n_workers;
}

void server_worker_counters(const struct server *srv, unsigned i, struct counters *out)
{
	const struct counters *c = worker_counters(srv->sh.workers[i]);

	for (unsigned k = 0; k < CTR_COUNT; k++)
		out->v[k] = counters_get(c, (enum counter_id)k);
}

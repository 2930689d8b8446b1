/* metrics.c - the metrics endpoint's thread: listener, requests, snapshots
 * (see metrics.h; the text itself is metrics_render.c).
 *
 * What it does: one thread, not pinned, at nice +10, blocks in poll(2) on
 * its TCP listener and an eventfd that metrics_stop writes. It serves one
 * connection at a time, one HTTP/1.x request per connection (answered with
 * "Connection: close"): the request head is capped at METRICS_REQUEST_MAX
 * bytes and must arrive within METRICS_IO_MS, and the answer must be taken
 * within METRICS_IO_MS, or the connection is dropped. Paths: /metrics,
 * /top?n=N (1..TOP_MAX, default METRICS_TOP_DEFAULT), /health; 404 else;
 * GET only (405).
 *
 * /metrics copies every worker's counters (relaxed loads, server.h), reads
 * the XDP prefilter's per-CPU maps, jemalloc's statistics and /proc/self,
 * and renders. /top asks each worker whose published list is older than
 * METRICS_TOP_REFRESH_S for a rescan (a flag on its board: the worker scans
 * a bounded number of slots per loop turn), waits up to METRICS_TOP_WAIT_MS
 * for them, then merges the boards' lists (seqlock reads) into the n
 * busiest. So /top shows counts at most METRICS_TOP_REFRESH_S old plus the
 * scan time, and costs the workers nothing while nobody asks.
 *
 * What it doesn't: keep-alive, TLS, authentication (it binds to loopback by
 * default; expose it with care), more than one client at a time (a slow
 * client delays the next by at most 2 * METRICS_IO_MS).
 *
 * Threads: metrics_start/metrics_stop run on the main thread; everything
 * else on the metrics thread. Memory: the endpoint owns its buffers (grown
 * as the page grows, capped at METRICS_BODY_MAX) and its sockets.
 * Spec: RFC 9112 (just enough), Prometheus exposition format 0.0.4.
 */
#include "metrics.h"
#include "listener.h"

#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "http.h"
#include "log.h"
#include "server.h"

#define METRICS_BACKLOG	    16
#define METRICS_REQUEST_MAX 4096       /* bytes of a request head */
#define METRICS_LINE_MAX    2048       /* bytes of the request line */
#define METRICS_IO_MS	    2000       /* to receive a request head; to send an answer */
#define METRICS_BODY_MAX    (64 << 20) /* largest page rendered */
#define METRICS_NICE	    10	       /* the thread's nice value */

struct metrics {
	const struct server *srv;
	const struct xdp_filter *xdp;
	const char *version;
	int listen_fd;
	int wake_fd; /* eventfd: metrics_stop writes it */
	pthread_t thread;
	bool running;

	unsigned n_workers;
	struct counters *snap; /* [n_workers] */
	uint64_t *top_gen;     /* [n_workers]: generation when a rescan was asked */
	struct top_list *merged, *one;
	char *body, *resp;
	size_t body_cap, resp_cap;
	char req[METRICS_REQUEST_MAX];
};

/* ----------------------------------------------------- process, allocator */

/* jemalloc's control interface; NULL unless jemalloc is linked in. */
extern int mallctl(const char *name, void *oldp, size_t *oldlenp, void *newp, size_t newlen)
    __attribute__((weak));

int metrics_read_allocator(struct metrics_allocator *a)
{
	static const char *const names[] = {"stats.allocated", "stats.active", "stats.resident",
					    "stats.mapped"};
	uint64_t *const dst[] = {&a->allocated, &a->active, &a->resident, &a->mapped};
	uint64_t epoch = 1;
	size_t len = sizeof(epoch);

	if (!mallctl)
		return -ENOTSUP;
	/* Statistics are cached; bumping the epoch refreshes them. */
	if (mallctl("epoch", &epoch, &len, &epoch, sizeof(epoch)) != 0)
		return -EIO;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		size_t v;
		len = sizeof(v);
		if (mallctl(names[i], &v, &len, NULL, 0) != 0)
			return -EIO;
		*dst[i] = v;
	}
	return 0;
}

const char *metrics_features(void)
{
#if defined(__SANITIZE_ADDRESS__)
	return mallctl ? "udp,http,xdp,jemalloc,asan" : "udp,http,xdp,asan";
#else
	return mallctl ? "udp,http,xdp,jemalloc" : "udp,http,xdp";
#endif
}

/* Reads a small file into buf (NUL-ended). Returns its length or -errno. */
static ssize_t read_small(const char *path, char *buf, size_t cap)
{
	FILE *f = fopen(path, "re");

	if (!f)
		return -errno;
	size_t n = fread(buf, 1, cap - 1, f);
	int err = ferror(f) ? EIO : 0;
	fclose(f);
	buf[n] = '\0';
	return err ? -err : (ssize_t)n;
}

/* Boot time (seconds since the epoch) from /proc/stat's btime line. */
static int boot_time(uint64_t *out)
{
	char buf[8192];
	ssize_t n = read_small("/proc/stat", buf, sizeof(buf));
	const char *p;

	if (n < 0)
		return (int)n;
	p = strstr(buf, "\nbtime ");
	if (!p || sscanf(p + 7, "%llu", (unsigned long long *)out) != 1)
		return -EPROTO;
	return 0;
}

static int count_fds(uint64_t *out)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	uint64_t n = 0;

	if (!d)
		return -errno;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	*out = n > 0 ? n - 1 : 0; /* not the directory's own fd */
	return 0;
}

int metrics_read_process(struct metrics_process *p)
{
	char buf[1024];
	unsigned long long utime, stime, start, vsize, pages, resident;
	uint64_t btime;
	struct rlimit rl;
	long tick = sysconf(_SC_CLK_TCK), page = sysconf(_SC_PAGESIZE);
	ssize_t n = read_small("/proc/self/stat", buf, sizeof(buf));
	int r;

	if (n < 0)
		return (int)n;
	/* The command name is in parentheses and may hold blanks: start after
	 * the last ')'. Fields 14, 15 (utime, stime), 22 (starttime), 23 (vsize). */
	const char *q = strrchr(buf, ')');
	if (!q || tick <= 0 || page <= 0 ||
	    sscanf(q + 1,
		   " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %*d %*d %*d %*d %*d "
		   "%*d %llu %llu",
		   &utime, &stime, &start, &vsize) != 4)
		return -EPROTO;
	if ((n = read_small("/proc/self/statm", buf, sizeof(buf))) < 0)
		return (int)n;
	if (sscanf(buf, "%llu %llu", &pages, &resident) != 2)
		return -EPROTO;
	if ((r = boot_time(&btime)) < 0 || (r = count_fds(&p->open_fds)) < 0)
		return r;
	p->cpu_seconds = (double)(utime + stime) / (double)tick;
	p->resident_bytes = (uint64_t)resident * (uint64_t)page;
	p->virtual_bytes = vsize;
	p->start_time_seconds = (double)btime + (double)start / (double)tick;
	p->max_fds = getrlimit(RLIMIT_NOFILE, &rl) == 0 ? (uint64_t)rl.rlim_cur : 0;
	return 0;
}

/* ------------------------------------------------------------------- I/O */

static double mono_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The workers' coarse clock (seconds), for the age of /top lists. */
static uint32_t coarse_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (uint32_t)ts.tv_sec;
}

/* Waits until fd is ready for events or the deadline. Returns 0, -ETIMEDOUT,
 * or -ECANCELED when metrics_stop woke us. */
static int wait_fd(struct metrics *m, int fd, short events, double deadline)
{
	for (;;) {
		struct pollfd p[2] = {{.fd = fd, .events = events},
				      {.fd = m->wake_fd, .events = POLLIN}};
		double left = deadline - mono_now();
		if (left <= 0)
			return -ETIMEDOUT;
		int r = poll(p, 2, (int)(left * 1000) + 1);
		if (r < 0 && errno != EINTR)
			return -errno;
		if (r > 0 && p[1].revents)
			return -ECANCELED;
		if (r > 0 && p[0].revents)
			return 0;
	}
}

/* Sends all of data by the deadline. Returns 0 or -errno. */
static int send_all(struct metrics *m, int fd, const char *data, size_t len, double deadline)
{
	while (len > 0) {
		ssize_t n = send(fd, data, len, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n > 0) {
			data += n;
			len -= (size_t)n;
			continue;
		}
		if (n < 0 && errno != EAGAIN && errno != EINTR)
			return -errno;
		int r = wait_fd(m, fd, POLLOUT, deadline);
		if (r < 0)
			return r;
	}
	return 0;
}

/* Grows *buf to at least need bytes. Returns 0 or -ENOMEM. */
static int reserve(char **buf, size_t *cap, size_t need)
{
	if (need <= *cap)
		return 0;
	char *p = realloc(*buf, need);
	if (!p)
		return -ENOMEM;
	*buf = p;
	*cap = need;
	return 0;
}

static void respond(struct metrics *m, int fd, int status, const char *type, const char *body,
		    size_t len)
{
	if (reserve(&m->resp, &m->resp_cap, len + 512) < 0)
		return;
	int n = http_write_response(m->resp, m->resp_cap, status, type, body, len, false);
	if (n > 0)
		send_all(m, fd, m->resp, (size_t)n, mono_now() + METRICS_IO_MS / 1000.0);
}

static void respond_text(struct metrics *m, int fd, int status, const char *text)
{
	respond(m, fd, status, "text/plain; charset=utf-8", text, strlen(text));
}

/* -------------------------------------------------------------- /metrics */

static void serve_metrics(struct metrics *m, int fd)
{
	struct metrics_snapshot s = {
	    .n_workers = m->n_workers,
	    .workers = m->snap,
	    .xdp_attached = m->xdp != NULL,
	    .version = m->version,
	    .features = metrics_features(),
	};
	int n;

	for (unsigned i = 0; i < m->n_workers; i++)
		server_worker_counters(m->srv, i, &m->snap[i]);
	s.has_xdp = m->xdp && xdp_read_counters(m->xdp, &s.xdp) == 0;
	s.has_allocator = metrics_read_allocator(&s.allocator) == 0;
	s.has_process = metrics_read_process(&s.process) == 0;
	while ((n = metrics_render(&s, m->body, m->body_cap)) == -ENOSPC) {
		if (m->body_cap >= METRICS_BODY_MAX ||
		    reserve(&m->body, &m->body_cap, m->body_cap * 2) < 0) {
			respond_text(m, fd, 503, "metrics page too large\n");
			return;
		}
	}
	respond(m, fd, 200, "text/plain; version=0.0.4; charset=utf-8", m->body, (size_t)n);
}

/* ------------------------------------------------------------------ /top */

/* n from a query like "n=25" (other keys ignored). Returns 0, or -EINVAL
 * when n is not a number from 1 to TOP_MAX. */
static int top_count(const char *q, size_t len, uint32_t *n)
{
	const char *end = q + len;

	*n = METRICS_TOP_DEFAULT;
	while (q && q < end) {
		const char *amp = memchr(q, '&', (size_t)(end - q));
		const char *stop = amp ? amp : end;
		if (stop - q >= 2 && q[0] == 'n' && q[1] == '=') {
			uint32_t v = 0;
			const char *p = q + 2;
			if (p == stop || stop - p > 4)
				return -EINVAL;
			for (; p < stop; p++) {
				if (*p < '0' || *p > '9')
					return -EINVAL;
				v = v * 10 + (uint32_t)(*p - '0');
			}
			if (v < 1 || v > TOP_MAX)
				return -EINVAL;
			*n = v;
		}
		q = amp ? amp + 1 : NULL;
	}
	return 0;
}

/* Asks the workers whose list is old for a rescan and waits for them.
 * Returns how many did not finish in time, or -ECANCELED at stop. */
static int top_refresh(struct metrics *m)
{
	uint32_t now = coarse_seconds();
	unsigned pending = 0;

	for (unsigned i = 0; i < m->n_workers; i++) {
		struct top_board *b = server_worker_top(m->srv, i);
		m->top_gen[i] = UINT64_MAX; /* not asked */
		if (!b)
			continue;
		uint32_t stamp = 0;
		uint64_t gen = top_board_generation(b);
		if (gen > 0 && top_board_read(b, m->one, &stamp) >= 0 &&
		    now - stamp < METRICS_TOP_REFRESH_S)
			continue;
		m->top_gen[i] = gen;
		top_board_request(b);
		pending++;
	}
	double deadline = mono_now() + METRICS_TOP_WAIT_MS / 1000.0;
	while (pending > 0) {
		pending = 0;
		for (unsigned i = 0; i < m->n_workers; i++)
			if (m->top_gen[i] != UINT64_MAX &&
			    top_board_generation(server_worker_top(m->srv, i)) == m->top_gen[i])
				pending++;
		if (pending == 0)
			break;
		struct pollfd p = {.fd = m->wake_fd, .events = POLLIN};
		if (mono_now() >= deadline)
			break;
		if (poll(&p, 1, 10) > 0)
			return -ECANCELED;
	}
	return (int)pending;
}

static void serve_top(struct metrics *m, int fd, const struct http_request *req)
{
	struct metrics_top_info info = {.workers = m->n_workers};
	uint32_t n, now;
	int stale, len;

	if (top_count(req->query, req->query ? req->query_len : 0, &n) < 0) {
		respond_text(m, fd, 400, "n must be a number from 1 to 1000\n");
		return;
	}
	if ((stale = top_refresh(m)) < 0)
		return;
	info.stale = (unsigned)stale;
	now = coarse_seconds();
	top_init(m->merged, n);
	for (unsigned i = 0; i < m->n_workers; i++) {
		struct top_board *b = server_worker_top(m->srv, i);
		uint32_t stamp = 0;
		if (!b || top_board_read(b, m->one, &stamp) <= 0)
			continue;
		if (now - stamp > info.age_seconds)
			info.age_seconds = now - stamp;
		for (uint32_t k = 0; k < m->one->n; k++)
			top_offer(m->merged, &m->one->e[k]);
	}
	top_sort(m->merged);
	while ((len = metrics_render_top(m->merged, &info, m->body, m->body_cap)) == -ENOSPC) {
		if (reserve(&m->body, &m->body_cap, m->body_cap * 2) < 0) {
			respond_text(m, fd, 503, "out of memory\n");
			return;
		}
	}
	respond(m, fd, 200, "application/json", m->body, (size_t)len);
}

/* -------------------------------------------------------------- requests */

static bool path_is(const struct http_request *r, const char *path)
{
	size_t n = strlen(path);

	return r->path_len == n && memcmp(r->path, path, n) == 0;
}

static void route(struct metrics *m, int fd, const struct http_request *req)
{
	static const char not_allowed[] = "HTTP/1.1 405 Method Not Allowed\r\nAllow: GET\r\n"
					  "Content-Length: 0\r\nConnection: close\r\n\r\n";

	if (req->method != HTTP_GET)
		send_all(m, fd, not_allowed, sizeof(not_allowed) - 1,
			 mono_now() + METRICS_IO_MS / 1000.0);
	else if (path_is(req, "/metrics"))
		serve_metrics(m, fd);
	else if (path_is(req, "/top"))
		serve_top(m, fd, req);
	else if (path_is(req, "/health"))
		respond_text(m, fd, 200, "ok\n");
	else
		respond_text(m, fd, 404, "not found: try /metrics, /top?n=100 or /health\n");
}

static void bad_head(struct metrics *m, int fd, int code)
{
	switch (code) {
	case HTTP_URI_TOO_LONG:
		respond_text(m, fd, 414, "request line too long\n");
		break;
	case HTTP_HEADERS_TOO_LARGE:
		respond_text(m, fd, 431, "request head too large\n");
		break;
	case HTTP_BAD_VERSION:
		respond_text(m, fd, 505, "only HTTP/1.0 and HTTP/1.1 are supported\n");
		break;
	default:
		respond_text(m, fd, 400, "malformed request\n");
		break;
	}
}

/* Reads one request head from a fresh connection and answers it. */
static void serve(struct metrics *m, int fd)
{
	double deadline = mono_now() + METRICS_IO_MS / 1000.0;
	struct http_request req;
	size_t len = 0;

	for (;;) {
		int r = http_parse_request(m->req, len, METRICS_LINE_MAX, METRICS_REQUEST_MAX, NULL,
					   &req);
		if (r > 0)
			break;
		if (r != HTTP_INCOMPLETE) {
			bad_head(m, fd, r);
			return;
		}
		if (len == sizeof(m->req)) {
			bad_head(m, fd, HTTP_HEADERS_TOO_LARGE);
			return;
		}
		ssize_t n = recv(fd, m->req + len, sizeof(m->req) - len, MSG_DONTWAIT);
		if (n == 0)
			return;
		if (n > 0) {
			len += (size_t)n;
			continue;
		}
		if ((errno != EAGAIN && errno != EINTR) || wait_fd(m, fd, POLLIN, deadline) < 0)
			return;
	}
	route(m, fd, &req);
}

static void *metrics_main(void *arg)
{
	struct metrics *m = arg;

	pthread_setname_np(pthread_self(), "rt-metrics");
	setpriority(PRIO_PROCESS, (id_t)gettid(), METRICS_NICE); /* this thread only */
	for (;;) {
		struct pollfd p[2] = {{.fd = m->listen_fd, .events = POLLIN},
				      {.fd = m->wake_fd, .events = POLLIN}};
		if (poll(p, 2, -1) < 0 && errno != EINTR)
			break;
		if (p[1].revents)
			break;
		if (!(p[0].revents & POLLIN))
			continue;
		int fd = accept4(m->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			/* Out of descriptors: back off rather than spin on poll. */
			if (errno == EMFILE || errno == ENFILE || errno == ENOMEM) {
				struct pollfd w = {.fd = m->wake_fd, .events = POLLIN};
				if (poll(&w, 1, 100) > 0)
					break;
			}
			continue;
		}
		serve(m, fd);
		shutdown(fd, SHUT_WR);
		close(fd);
	}
	return NULL;
}

/* ------------------------------------------------------------ start, stop */

/* Binds and listens on *a; a port of 0 is replaced by the chosen one.
 * Returns the fd or -errno. */
static int listen_on(struct netaddr *a)
{
	return listener_open(a, SOCK_STREAM, false, METRICS_BACKLOG);
}

static void metrics_free(struct metrics *m)
{
	if (m->listen_fd >= 0)
		close(m->listen_fd);
	if (m->wake_fd >= 0)
		close(m->wake_fd);
	free(m->snap);
	free(m->top_gen);
	free(m->merged);
	free(m->one);
	free(m->body);
	free(m->resp);
	free(m);
}

struct metrics *metrics_start(const struct config *cfg, const struct server *srv,
			      const struct xdp_filter *xdp, const char *version, char *err,
			      size_t errcap)
{
	struct metrics *m = calloc(1, sizeof(*m));
	char text[NETADDR_TEXT_MAX];
	struct netaddr a = cfg->metrics;
	int r;

	if (!m) {
		snprintf(err, errcap, "metrics: out of memory");
		return NULL;
	}
	m->srv = srv;
	m->xdp = xdp;
	m->version = version;
	m->listen_fd = m->wake_fd = -1;
	m->n_workers = server_workers(srv);
	m->snap = calloc(m->n_workers, sizeof(*m->snap));
	m->top_gen = calloc(m->n_workers, sizeof(*m->top_gen));
	m->merged = malloc(sizeof(*m->merged));
	m->one = malloc(sizeof(*m->one));
	m->body_cap = 64 * 1024;
	m->body = malloc(m->body_cap);
	m->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (!m->snap || !m->top_gen || !m->merged || !m->one || !m->body || m->wake_fd < 0) {
		snprintf(err, errcap, "metrics: %s", strerror(m->wake_fd < 0 ? errno : ENOMEM));
		goto fail;
	}
	netaddr_format(&cfg->metrics, text, sizeof(text));
	m->listen_fd = listen_on(&a);
	if (m->listen_fd < 0) {
		snprintf(err, errcap, "--metrics %s: cannot bind: %s%s", text,
			 strerror(-m->listen_fd),
			 m->listen_fd == -EADDRINUSE
			     ? " (another process holds it: give --metrics another address, "
			       "or --metrics= for none)"
			     : "");
		goto fail;
	}
	if ((r = pthread_create(&m->thread, NULL, metrics_main, m)) != 0) {
		snprintf(err, errcap, "metrics: cannot start its thread: %s", strerror(r));
		goto fail;
	}
	m->running = true;
	netaddr_format(&a, text, sizeof(text));
	log_info("metrics: listening on %s (/metrics, /top, /health)", text);
	return m;

fail:
	metrics_free(m);
	return NULL;
}

void metrics_stop(struct metrics *m)
{
	uint64_t one = 1;

	if (!m)
		return;
	if (m->running) {
		if (write(m->wake_fd, &one, sizeof(one)) != sizeof(one))
			log_warn("metrics: cannot wake its thread: %s", strerror(errno));
		pthread_join(m->thread, NULL);
	}
	metrics_free(m);
}

/* test_ops.c - end-to-end checks of the operations tooling in tools/:
 *
 *   - tools/ringtracker-top --once against a running server shows the
 *     traffic the test sent (requests by protocol and action, errors,
 *     malformed requests, torrents, peers by family and kind, torrents per
 *     worker), and exits 1 when the endpoint is unreachable;
 *   - tools/ringtracker.8 documents every flag of --help, every key of
 *     --print-config (each in its own section) and every metric family of a
 *     live /metrics, and renders without warnings;
 *   - tools/grafana/ringtracker.json parses and every metric it queries is
 *     exported by a live /metrics (ringtracker_xdp_packets_total only while
 *     the prefilter is attached, ringtracker_allocator_bytes only with
 *     jemalloc: the page itself says which);
 *   - tools/ringtracker.service passes `systemd-analyze verify`.
 *
 * Files are looked up from the current directory (the repository root under
 * `make test`), then from RINGTRACKER_BIN's directory up to the root. Tests
 * needing a tool that is missing (python3, systemd-analyze, mandoc or groff)
 * or the metrics endpoint (GET /metrics on --metrics ADDR:PORT) skip, saying
 * why. Each test starts its own server; every wait is bounded in time.
 */
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "netaddr.h"
#include "udp.h"

#define OUT_MAX	 (256 * 1024) /* bytes of a command's output or a file */
#define IO_MS	 3000	      /* any single exchange with the server */
#define WORKERS	 "2"	      /* fixed, so the per-worker rows are known */
#define TOP_PATH "tools/ringtracker-top"

/* ---- files and commands ------------------------------------------------ */

/* Finds rel (a path inside the repository) from the current directory or
 * above RINGTRACKER_BIN (build/ringtracker, build/release/ringtracker).
 * Returns false when it is nowhere. */
static bool find_source(const char *rel, char *out, size_t cap)
{
	char bin[PATH_MAX];

	snprintf(out, cap, "%s", rel);
	if (access(out, R_OK) == 0)
		return true;
	if (!realpath(server_bin(), bin))
		return false;
	const char *dir = dirname(bin);
	for (int up = 1; up <= 3; up++) {
		char path[PATH_MAX] = "";
		size_t n = (size_t)snprintf(path, sizeof(path), "%s", dir);
		for (int i = 0; i < up && n < sizeof(path); i++)
			n += (size_t)snprintf(path + n, sizeof(path) - n, "/..");
		snprintf(out, cap, "%s/%s", path, rel);
		if (access(out, R_OK) == 0)
			return true;
	}
	return false;
}

static const char *need_source(const char *rel, char *out, size_t cap)
{
	if (!find_source(rel, out, cap))
		cr_skip_test("%s not found from the current directory or above RINGTRACKER_BIN "
			     "(run from the repository root)",
			     rel);
	return out;
}

/* Reads a whole file into a NUL-ended heap buffer (the caller frees). */
static char *read_file(const char *path)
{
	FILE *f = fopen(path, "r");

	cr_assert_not_null(f, "cannot open %s: %s", path, strerror(errno));
	char *buf = malloc(OUT_MAX);
	cr_assert_not_null(buf);
	size_t n = fread(buf, 1, OUT_MAX - 1, f);
	cr_assert(feof(f), "%s is larger than %d bytes", path, OUT_MAX - 1);
	fclose(f);
	buf[n] = '\0';
	return buf;
}

/* True when name is an executable file in PATH. */
static bool have_exe(const char *name)
{
	const char *path = getenv("PATH");
	char dirs[4096], file[PATH_MAX];

	snprintf(dirs, sizeof(dirs), "%s", path ? path : "/usr/bin:/bin");
	for (char *save = NULL, *d = strtok_r(dirs, ":", &save); d;
	     d = strtok_r(NULL, ":", &save)) {
		snprintf(file, sizeof(file), "%s/%s", d, name);
		if (access(file, X_OK) == 0)
			return true;
	}
	return false;
}

/* Runs argv (NULL-ended, looked up in PATH) with stdin from /dev/null;
 * stdout and stderr together go to out. Kills it and fails the test after
 * timeout_s. Returns the exit status, or 128 + signal. */
static int run_cmd(const char *const *argv, char *out, size_t cap, int timeout_s)
{
	int fds[2], status;

	cr_assert_eq(pipe2(fds, O_CLOEXEC), 0);
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		int null = open("/dev/null", O_RDONLY);
		dup2(null, STDIN_FILENO);
		dup2(fds[1], STDOUT_FILENO);
		dup2(fds[1], STDERR_FILENO);
		execvp(argv[0], (char *const *)argv);
		_exit(127);
	}
	close(fds[1]);
	size_t len = 0;
	double deadline = now_s() + timeout_s;
	for (;;) {
		struct pollfd p = {.fd = fds[0], .events = POLLIN};
		int left = (int)((deadline - now_s()) * 1000);
		if (left <= 0 || poll(&p, 1, left) <= 0) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			close(fds[0]);
			cr_assert_fail("%s did not finish within %d s", argv[0], timeout_s);
		}
		char scratch[4096];
		char *dst = len < cap - 1 ? out + len : scratch;
		size_t room = len < cap - 1 ? cap - 1 - len : sizeof(scratch);
		ssize_t r = read(fds[0], dst, room);
		if (r <= 0)
			break;
		if (dst != scratch)
			len += (size_t)r;
	}
	out[len] = '\0';
	close(fds[0]);
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* ---- the metrics endpoint ---------------------------------------------- */

/* A TCP port on 127.0.0.1 that was free a moment ago. */
static uint16_t free_tcp_port(void)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	cr_assert_geq(fd, 0);
	cr_assert_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	cr_assert_eq(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	close(fd);
	return ntohs(sa.sin_port);
}

/* GET target over HTTP/1.0 from a (TCP). Returns the status code with the
 * body in body (NUL-ended), or -errno when the connection fails. */
static int http_get(const struct netaddr *a, const char *target, char *body, size_t cap)
{
	struct sockaddr_storage ss;
	socklen_t sl = netaddr_to_sockaddr(a, &ss);
	int fd = socket(a->family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	char req[2048];
	size_t len = 0;

	body[0] = '\0';
	cr_assert_geq(fd, 0);
	if (connect(fd, (struct sockaddr *)&ss, sl) < 0 && errno != EINPROGRESS) {
		int e = errno;
		close(fd);
		return -e;
	}
	struct pollfd p = {.fd = fd, .events = POLLOUT};
	int soerr = 0;
	socklen_t el = sizeof(soerr);
	if (poll(&p, 1, IO_MS) <= 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &el) < 0 ||
	    soerr) {
		close(fd);
		return soerr ? -soerr : -ETIMEDOUT;
	}
	int n = snprintf(req, sizeof(req), "GET %s HTTP/1.0\r\nHost: test\r\n\r\n", target);
	cr_assert_eq(send(fd, req, (size_t)n, MSG_NOSIGNAL), n);
	double deadline = now_s() + IO_MS / 1000.0;
	for (;;) {
		p = (struct pollfd){.fd = fd, .events = POLLIN};
		int left = (int)((deadline - now_s()) * 1000);
		if (left <= 0 || poll(&p, 1, left) <= 0)
			break;
		ssize_t r = read(fd, body + len, cap - 1 - len);
		if (r <= 0 || (len += (size_t)r) >= cap - 1)
			break;
	}
	close(fd);
	body[len] = '\0';
	int status = 0;
	if (sscanf(body, "HTTP/1.%*d %d", &status) != 1)
		return -EPROTO;
	char *start = strstr(body, "\r\n\r\n");
	if (start)
		memmove(body, start + 4, strlen(start + 4) + 1);
	return status;
}

struct metrics_server {
	struct tracker t;
	struct netaddr addr; /* the metrics listener */
	char url[128];
};

/* Starts the server with --metrics on a free loopback port and checks that
 * GET /metrics answers with ringtracker metrics; skips the test (after a
 * clean stop) when it does not. The body is left in body. */
static void start_with_metrics(struct metrics_server *m, char *body, size_t cap)
{
	char listen[64];
	uint16_t port = free_tcp_port();

	snprintf(listen, sizeof(listen), "127.0.0.1:%u", port);
	const char *extra[] = {"--metrics", listen, "--workers", WORKERS, NULL};
	tracker_start(&m->t, extra);
	cr_assert_eq(netaddr_parse(listen, &m->addr), 0);
	snprintf(m->url, sizeof(m->url), "http://%s/metrics", listen);

	int status = -ECONNREFUSED;
	for (int i = 0; i < 20; i++) { /* the listener may open just after "ready" */
		status = http_get(&m->addr, "/metrics", body, cap);
		if (status != -ECONNREFUSED)
			break;
		usleep(100 * 1000);
	}
	if (status == 200 && strstr(body, "ringtracker_"))
		return;
	tracker_stop(&m->t);
	if (status < 0)
		cr_skip_test("metrics endpoint not served yet: GET %s: %s (start-up log: %s)",
			     m->url, strerror(-status),
			     strstr(m->t.log, "metrics") ? strstr(m->t.log, "metrics") : "-");
	cr_skip_test("metrics endpoint not served yet: GET %s answered %d without ringtracker_ "
		     "metrics",
		     m->url, status);
}

/* The value of an unlabelled sample name in an exposition page. */
static bool tracker_metric_value(const char *page, const char *name, double *v)
{
	size_t n = strlen(name);

	for (const char *p = page; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		if (strncmp(p, name, n) == 0 && p[n] == ' ') {
			*v = strtod(p + n + 1, NULL);
			return true;
		}
	}
	return false;
}

/* ---- traffic ---------------------------------------------------------------- */

static int udp_socket(const struct netaddr *server)
{
	struct sockaddr_storage ss;
	socklen_t len = netaddr_to_sockaddr(server, &ss);
	int fd = socket(server->family, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	cr_assert_geq(fd, 0);
	cr_assert_eq(connect(fd, (struct sockaddr *)&ss, len), 0);
	return fd;
}

/* Sends one datagram and waits for the reply with the same transaction id.
 * No resend: the counts the test checks must be exact (loopback does not
 * lose datagrams at this rate). */
static void udp_exchange(int fd, const uint8_t *req, size_t len, uint32_t txid,
			 struct udp_response *r, uint8_t *reply, size_t cap)
{
	cr_assert_eq(send(fd, req, len, 0), (ssize_t)len);
	double deadline = now_s() + IO_MS / 1000.0;
	while (now_s() < deadline) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		if (poll(&p, 1, 100) <= 0)
			continue;
		ssize_t n = recv(fd, reply, cap, 0);
		uint32_t got;
		if (n < 8)
			continue;
		memcpy(&got, reply + 4, 4);
		if (ntohl(got) != txid)
			continue;
		cr_assert_eq(udp_parse_response(reply, (size_t)n, r), 0);
		return;
	}
	cr_assert_fail("no UDP reply within %d ms", IO_MS);
}

static uint64_t udp_connect(int fd, uint32_t txid)
{
	uint8_t req[64], reply[64];
	struct udp_response r;
	int len = udp_write_connect_request(req, sizeof(req), txid);

	cr_assert_gt(len, 0);
	udp_exchange(fd, req, (size_t)len, txid, &r, reply, sizeof(reply));
	cr_assert_eq(r.action, UDP_ACTION_CONNECT);
	return r.connection_id;
}

/* Announces ih from port; returns the reply's action (announce or error). */
static uint32_t udp_announce(int fd, uint64_t connid, uint32_t txid, const struct info_hash *ih,
			     uint16_t port, uint64_t left)
{
	struct udp_announce_request a = {.info_hash = *ih,
					 .left = left,
					 .event = UDP_EVENT_STARTED,
					 .num_want = -1,
					 .port = port};
	uint8_t req[128], reply[2048];
	struct udp_response r;

	memset(a.peer_id.b, 'O', sizeof(a.peer_id.b));
	int len = udp_write_announce_request(req, sizeof(req), connid, txid, &a);
	cr_assert_gt(len, 0);
	udp_exchange(fd, req, (size_t)len, txid, &r, reply, sizeof(reply));
	return r.action;
}

/* One HTTP announce (or scrape when port is 0) of ih; expects a bencoded
 * answer without a failure reason. */
static void http_tracker_get(const struct netaddr *server, const struct info_hash *ih,
			     uint16_t port, uint64_t left)
{
	char target[512], body[4096];
	size_t n = 0;

	n += (size_t)snprintf(target, sizeof(target),
			      "/%s?info_hash=", port ? "announce" : "scrape");
	for (size_t i = 0; i < sizeof(ih->b); i++)
		n += (size_t)snprintf(target + n, sizeof(target) - n, "%%%02X", ih->b[i]);
	if (port)
		snprintf(target + n, sizeof(target) - n,
			 "&peer_id=-OP0001-abcdefghijkl&port=%u&left=%llu&compact=1", port,
			 (unsigned long long)left);
	int status = http_get(server, target, body, sizeof(body));
	cr_assert_eq(status, 200, "GET %s: %d", target, status);
	cr_assert_null(strstr(body, "failure reason"), "GET %s: %s", target, body);
}

/* ---- reading ringtracker-top's snapshot ----------------------------------- */

/* The first line whose leading whitespace-separated words are words[0..n).
 * Returns a pointer to the line, or NULL. */
static const char *find_row(const char *text, const char *const *words, size_t n)
{
	for (const char *line = text; line && *line;
	     line = strchr(line, '\n'), line = line ? line + 1 : NULL) {
		const char *p = line;
		size_t k = 0;
		for (; k < n; k++) {
			while (*p == ' ')
				p++;
			size_t w = strlen(words[k]);
			if (strncmp(p, words[k], w) != 0 || (p[w] != ' ' && p[w] != '\n' && p[w]))
				break;
			p += w;
		}
		if (k == n)
			return line;
	}
	return NULL;
}

/* The i-th field (0-based, negative counts from the end) of a line. */
static long long row_field(const char *line, int i)
{
	const char *fields[32];
	int n = 0;
	const char *end = strchr(line, '\n');

	if (!end)
		end = line + strlen(line);
	for (const char *p = line; p < end && n < 32;) {
		while (p < end && *p == ' ')
			p++;
		if (p < end)
			fields[n++] = p;
		while (p < end && *p != ' ')
			p++;
	}
	if (i < 0)
		i += n;
	if (i < 0 || i >= n)
		return -1;
	char *stop;
	long long v = strtoll(fields[i], &stop, 10);
	return stop == fields[i] ? -1 : v;
}

static long long row_total(const char *text, const char *const *words, size_t n)
{
	const char *line = find_row(text, words, n);

	return line ? row_field(line, -1) : -1;
}

#define ROW(text, ...)                                                                             \
	row_total(text, (const char *const[]){__VA_ARGS__},                                        \
		  sizeof((const char *const[]){__VA_ARGS__}) / sizeof(const char *))

/* Sum of the last fields of rows whose first words are prefix[0..n). */
static long long rows_sum(const char *text, const char *w0, const char *w1)
{
	long long sum = 0;
	const char *words[] = {w0, w1};

	for (const char *p = text; (p = find_row(p, words, 2));) {
		sum += row_field(p, -1);
		p = strchr(p, '\n');
		if (!p)
			break;
		p++;
	}
	return sum;
}

/* The per-worker rows ("  0      [####   ]  ...  torrents"): their count and
 * the sum of their last field (torrents). */
static void worker_rows(const char *text, int *rows, long long *torrents)
{
	const char *sec = strstr(text, "\nWORKERS ");

	*rows = 0;
	*torrents = 0;
	for (const char *line = sec ? strchr(sec + 1, '\n') : NULL; line && line[1];
	     line = strchr(line + 1, '\n')) {
		const char *p = line + 1;
		while (*p == ' ')
			p++;
		const char *q = p;
		while (*q >= '0' && *q <= '9')
			q++;
		if (q == p || *q != ' ' || !strchr(q, '['))
			break;
		(*rows)++;
		*torrents += row_field(line + 1, -1);
	}
}

/* Runs ringtracker-top --once on url; returns its exit status. */
static int run_top(const char *url, const char *interval, char *out, size_t cap)
{
	char top[PATH_MAX];

	need_source(TOP_PATH, top, sizeof(top));
	if (!have_exe("python3"))
		cr_skip_test("python3 not found: ringtracker-top needs it (Debian: python3)");
	/* Through python3 so that a checkout without the executable bit works. */
	const char *argv[] = {"python3", top, "--once", "--interval", interval, "--url", url, NULL};
	return run_cmd(argv, out, cap, 30);
}

/* ---- tests ------------------------------------------------------------------ */

Test(ops_integration, top_once_shows_sent_traffic, .timeout = 90)
{
	static char body[OUT_MAX], out[OUT_MAX];
	struct metrics_server m;
	struct info_hash h1 = hash_of(701), h2 = hash_of(702), h3 = hash_of(703);
	uint32_t txid = 1000;

	if (!have_exe("python3"))
		cr_skip_test("python3 not found: ringtracker-top needs it (Debian: python3)");
	start_with_metrics(&m, body, sizeof(body));

	/* UDP over IPv4: 3 connects, 2 announces of h1 (a leecher and a
	 * seeder), 1 announce with a forged id (counted as a request, answered
	 * with an error), 4 runts (dropped unanswered). */
	int a = udp_socket(&m.t.udp4), b = udp_socket(&m.t.udp4);
	uint64_t ida = udp_connect(a, txid++);
	uint64_t idb = udp_connect(b, txid++);
	(void)udp_connect(b, txid++);
	cr_assert_eq(udp_announce(a, ida, txid++, &h1, 1001, 100), UDP_ACTION_ANNOUNCE);
	cr_assert_eq(udp_announce(b, idb, txid++, &h1, 1002, 0), UDP_ACTION_ANNOUNCE);
	cr_assert_eq(udp_announce(a, ida ^ 0x5a5a5a5a5a5aULL, txid++, &h1, 1001, 100),
		     UDP_ACTION_ERROR);
	for (int i = 0; i < 4; i++)
		cr_assert_eq(send(a, "runt", 4, 0), 4);
	/* UDP over IPv6: 1 connect, 1 announce of h2 (a leecher). */
	int c = udp_socket(&m.t.udp6);
	uint64_t idc = udp_connect(c, txid++);
	cr_assert_eq(udp_announce(c, idc, txid++, &h2, 1003, 100), UDP_ACTION_ANNOUNCE);
	/* HTTP over IPv4: 2 announces of h3 (a leecher and a seeder), 1 scrape. */
	http_tracker_get(&m.t.http4, &h3, 1004, 100);
	http_tracker_get(&m.t.http4, &h3, 1005, 0);
	http_tracker_get(&m.t.http4, &h3, 0, 0);
	close(a);
	close(b);
	close(c);

	/* Torrents and peers are levels the workers refresh about once a
	 * second: take snapshots until they show up (bounded). */
	int status = -1;
	for (int attempt = 0; attempt < 8; attempt++) {
		status = run_top(m.url, "0.3", out, sizeof(out));
		if (status == 0 && ROW(out, "torrents") == 3 && ROW(out, "all", "peers") == 5)
			break;
		usleep(300 * 1000);
	}
	cr_log_info("ringtracker-top --once:\n%s", out);
	cr_assert_eq(status, 0, "ringtracker-top exited %d:\n%s", status, out);
	cr_assert(strstr(out, "REQUESTS"), "no REQUESTS section:\n%s", out);

	cr_expect_eq(ROW(out, "udp", "connect"), 4, "udp connect row:\n%s", out);
	/* Requests count as received, the forged one included. */
	cr_expect_eq(ROW(out, "udp", "announce"), 4, "udp announce row:\n%s", out);
	cr_expect_eq(ROW(out, "http", "announce"), 2, "http announce row:\n%s", out);
	cr_expect_eq(ROW(out, "http", "scrape"), 1, "http scrape row:\n%s", out);
	cr_expect_eq(ROW(out, "all"), 11, "all requests row:\n%s", out);
	cr_expect_eq(ROW(out, "answered"), 10, "answered row (all but the forged id):\n%s", out);
	cr_expect_eq(ROW(out, "udp", "error", "replies"), 1, "udp error replies row:\n%s", out);
	cr_expect_geq(rows_sum(out, "udp", "malformed"), 4, "udp malformed rows:\n%s", out);

	cr_expect_eq(ROW(out, "torrents"), 3, "torrents row:\n%s", out);
	cr_expect_eq(ROW(out, "all", "peers"), 5, "all peers row:\n%s", out);
	const char *v4 = find_row(out, (const char *const[]){"peers", "ipv4"}, 2);
	const char *v6 = find_row(out, (const char *const[]){"peers", "ipv6"}, 2);
	cr_assert(v4 && v6, "no per-family peer rows:\n%s", out);
	cr_expect_eq(row_field(v4, 2), 2, "IPv4 seeders:\n%s", out);
	cr_expect_eq(row_field(v4, 3), 2, "IPv4 leechers:\n%s", out);
	cr_expect_eq(row_field(v4, -1), 4, "IPv4 peers:\n%s", out);
	cr_expect_eq(row_field(v6, 3), 1, "IPv6 leechers:\n%s", out);
	cr_expect_eq(row_field(v6, -1), 1, "IPv6 peers:\n%s", out);

	int rows;
	long long torrents;
	worker_rows(out, &rows, &torrents);
	cr_expect_eq(rows, atoi(WORKERS), "one bar per worker:\n%s", out);
	cr_expect_eq(torrents, 3, "torrents over the worker rows:\n%s", out);
	tracker_stop(&m.t);
}

Test(ops_integration, top_once_unreachable_endpoint_exits_1, .timeout = 60)
{
	char url[64], out[4096];

	snprintf(url, sizeof(url), "http://127.0.0.1:%u/metrics", free_tcp_port());
	int status = run_top(url, "0", out, sizeof(out));
	cr_assert_eq(status, 1, "exit status %d:\n%s", status, out);
	cr_assert(strstr(out, "cannot read metrics"), "no reason given:\n%s", out);

	status = run_top(url, "-1", out, sizeof(out));
	cr_assert_eq(status, 2, "bad --interval: exit status %d:\n%s", status, out);
}

/* The man page source with roff escapes for '-' and fonts removed. */
static char *man_text(void)
{
	char path[PATH_MAX];
	char *src = read_file(need_source("tools/ringtracker.8", path, sizeof(path)));
	char *w = src;

	for (const char *r = src; *r;) {
		if (r[0] == '\\' && r[1] == '-') {
			*w++ = '-';
			r += 2;
		} else if (r[0] == '\\' && r[1] == 'f' && r[2]) {
			r += 3;
		} else if (r[0] == '\\' && (r[1] == '%' || r[1] == '&')) {
			r += 2;
		} else {
			*w++ = *r++;
		}
	}
	*w = '\0';
	return src;
}

/* True when text holds word with no name character on either side. */
static bool has_word(const char *text, const char *word)
{
	size_t n = strlen(word);

	for (const char *p = text; (p = strstr(p, word)); p++) {
		char before = p == text ? ' ' : p[-1];
		char after = p[n];
		bool name_before =
		    before == '_' || before == '-' || (before >= 'a' && before <= 'z');
		bool name_after = after == '_' || after == '-' || (after >= 'a' && after <= 'z') ||
				  (after >= '0' && after <= '9');
		if (!name_before && !name_after)
			return true;
	}
	return false;
}

Test(ops_integration, man_page_documents_every_flag_and_key, .timeout = 30)
{
	static char help[OUT_MAX], conf[OUT_MAX];
	char *man = man_text();
	int flags = 0, keys = 0;

	cr_assert_eq(run_cli((const char *const[]){"--help", NULL}, help, sizeof(help)), 0);
	cr_assert_eq(run_cli((const char *const[]){"--print-config", NULL}, conf, sizeof(conf)), 0);

	/* Flags: every -x / --name token on the lines of --help that start
	 * with a dash (the option list and its continuation lines). */
	for (char *save = NULL, *line = strtok_r(help, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		while (*line == ' ')
			line++;
		if (line[0] != '-')
			continue;
		for (char *p = line; (p = strchr(p, '-'));) {
			if (p != line && p[-1] != ' ') {
				p++;
				continue;
			}
			size_t n = 1 + (p[1] == '-');
			while ((p[n] >= 'a' && p[n] <= 'z') || (p[n] >= '0' && p[n] <= '9') ||
			       (p[n] == '-' && n > 2))
				n++;
			if (n > 2 || (n == 2 && p[1] != '-')) {
				char flag[64];
				snprintf(flag, sizeof(flag), "%.*s", (int)n, p);
				cr_expect(has_word(man, flag), "man page lacks flag %s", flag);
				flags++;
			}
			p += n;
		}
	}
	cr_assert_geq(flags, 10, "too few flags found in --help:\n%s", help);

	/* Keys: each "key = value" of --print-config must be a tagged entry
	 * (".B key" line) of its own ".SS [section]" in the man page. */
	char section[64] = "";
	for (char *save = NULL, *line = strtok_r(conf, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		char key[64];
		if (line[0] == '[') {
			snprintf(section, sizeof(section), "%.*s", (int)strcspn(line, "\n"), line);
			continue;
		}
		if (line[0] == '#' || sscanf(line, "%63[a-z0-9_] =", key) != 1)
			continue;
		char head[80], entry[80];
		snprintf(head, sizeof(head), "\n.SS %s\n", section);
		snprintf(entry, sizeof(entry), "\n.B %s\n", key);
		const char *sec = strstr(man, head);
		cr_expect_not_null(sec, "man page lacks a section \".SS %s\"", section);
		if (!sec)
			continue;
		const char *end = strstr(sec + 1, "\n.S");
		const char *at = strstr(sec, entry);
		cr_expect(at && (!end || at < end), "man page lacks key %s in %s", key, section);
		keys++;
	}
	cr_assert_geq(keys, 30, "too few keys in --print-config:\n%s", conf);

	const char *needed[] = {".SH SIGNALS", "SIGHUP",       "SIGTERM",    ".SH EXIT STATUS",
				".SH FILES",   ".SH EXAMPLES", ".SH METRICS"};
	for (size_t i = 0; i < sizeof(needed) / sizeof(needed[0]); i++)
		cr_expect(strstr(man, needed[i]), "man page lacks %s", needed[i]);
	free(man);
}

Test(ops_integration, man_page_renders_without_warnings, .timeout = 30)
{
	char path[PATH_MAX], out[OUT_MAX];
	int status;

	need_source("tools/ringtracker.8", path, sizeof(path));
	if (have_exe("mandoc")) {
		const char *argv[] = {"mandoc", "-T", "lint", "-W", "warning", path, NULL};
		status = run_cmd(argv, out, sizeof(out), 20);
	} else if (have_exe("groff")) {
		const char *argv[] = {"groff", "-man", "-ww", "-z", path, NULL};
		status = run_cmd(argv, out, sizeof(out), 20);
	} else {
		cr_skip_test("neither mandoc nor groff found (Debian: mandoc or groff-base)");
	}
	cr_assert_eq(status, 0, "man page warnings:\n%s", out);
	cr_assert_eq(out[0], '\0', "man page warnings:\n%s", out);
}

Test(ops_integration, dashboard_is_valid_json, .timeout = 30)
{
	char path[PATH_MAX], out[OUT_MAX];

	need_source("tools/grafana/ringtracker.json", path, sizeof(path));
	if (!have_exe("python3"))
		cr_skip_test("python3 not found: it checks the JSON (Debian: python3)");
	const char *argv[] = {"python3", "-m", "json.tool", path, "/dev/null", NULL};
	int status = run_cmd(argv, out, sizeof(out), 20);
	cr_assert_eq(status, 0, "%s is not valid JSON:\n%s", path, out);

	char *json = read_file(path);
	cr_expect(strstr(json, "\"schemaVersion\""), "no schemaVersion");
	cr_expect(strstr(json, "${DS_PROMETHEUS}"), "no ${DS_PROMETHEUS} datasource input");
	cr_expect(strstr(json, "\"__inputs\""),
		  "no __inputs: not importable as a shared dashboard");
	free(json);
}

/* True when the exposition text has a sample or a # TYPE line of name. */
static bool exported(const char *metrics, const char *name)
{
	size_t n = strlen(name);

	for (const char *line = metrics; line && *line;
	     line = strchr(line, '\n'), line = line ? line + 1 : NULL) {
		if (strncmp(line, name, n) == 0 && (line[n] == '{' || line[n] == ' '))
			return true;
		if (strncmp(line, "# TYPE ", 7) == 0 && strncmp(line + 7, name, n) == 0 &&
		    line[7 + n] == ' ')
			return true;
	}
	return false;
}

/* Metrics the server exports only in some set-ups, and whether the page
 * says this server is one where it does not. */
static bool absent_by_design(const char *metrics, const char *name)
{
	double attached = -1;

	if (strcmp(name, "ringtracker_xdp_packets_total") == 0)
		return tracker_metric_value(metrics, "ringtracker_xdp_attached", &attached) &&
		       attached == 0;
	if (strcmp(name, "ringtracker_allocator_bytes") == 0) {
		const char *info = strstr(metrics, "\nringtracker_build_info{");
		const char *eol = info ? strchr(info + 1, '\n') : NULL;
		const char *jem = info ? strstr(info, "jemalloc") : NULL;
		return info && (!jem || (eol && jem > eol));
	}
	return false;
}

Test(ops_integration, man_page_lists_every_exported_metric, .timeout = 60)
{
	static char body[OUT_MAX], missing[8192];
	struct metrics_server m;
	size_t nmissing = 0;
	int families = 0;
	char *man = man_text();

	start_with_metrics(&m, body, sizeof(body));
	tracker_stop(&m.t);
	for (const char *p = body; (p = strstr(p, "# TYPE "));) {
		char name[128];
		p += 7;
		if (sscanf(p, "%127[a-z0-9_:]", name) != 1)
			continue;
		families++;
		if (!has_word(man, name))
			nmissing += (size_t)snprintf(missing + nmissing, sizeof(missing) - nmissing,
						     " %s", name);
	}
	free(man);
	cr_assert_geq(families, 10, "too few # TYPE lines on /metrics:\n%s", body);
	cr_assert_eq(nmissing, 0, "man page (METRICS) lacks:%s", missing);
}

Test(ops_integration, dashboard_metrics_are_exported, .timeout = 60)
{
	static char body[OUT_MAX], missing[8192];
	char path[PATH_MAX];
	struct metrics_server m;
	size_t nmissing = 0;
	int names = 0;

	char *json = read_file(need_source("tools/grafana/ringtracker.json", path, sizeof(path)));
	start_with_metrics(&m, body, sizeof(body));

	/* Every ringtracker_* and process_* name in the dashboard's queries. */
	const char *prefixes[] = {"ringtracker_", "process_"};
	for (size_t k = 0; k < 2; k++) {
		for (const char *p = json; (p = strstr(p, prefixes[k]));) {
			size_t n = 0;
			while ((p[n] >= 'a' && p[n] <= 'z') || (p[n] >= '0' && p[n] <= '9') ||
			       p[n] == '_')
				n++;
			bool name_before =
			    p > json && ((p[-1] >= 'a' && p[-1] <= 'z') || p[-1] == '_');
			char name[128];
			snprintf(name, sizeof(name), "%.*s", (int)n, p);
			p += n;
			if (name_before)
				continue;
			names++;
			if (!exported(body, name) && !absent_by_design(body, name) &&
			    !strstr(missing, name))
				nmissing += (size_t)snprintf(
				    missing + nmissing, sizeof(missing) - nmissing, " %s", name);
		}
	}
	tracker_stop(&m.t);
	free(json);
	cr_assert_geq(names, 15, "too few metric names found in %s", path);
	cr_assert_eq(nmissing, 0, "dashboard metrics missing from GET %s:%s\n--- /metrics ---\n%s",
		     m.url, missing, body);
}

Test(ops_integration, systemd_unit_verifies, .timeout = 60)
{
	char path[PATH_MAX], bin[PATH_MAX], dir[] = "/tmp/ringtracker-ops-XXXXXX", copy[PATH_MAX];
	static char out[OUT_MAX];

	need_source("tools/ringtracker.service", path, sizeof(path));
	if (!have_exe("systemd-analyze"))
		cr_skip_test("systemd-analyze not found (Debian: systemd)");
	cr_assert_not_null(realpath(server_bin(), bin), "RINGTRACKER_BIN %s: %s", server_bin(),
			   strerror(errno));

	/* A copy whose ExecStart names the binary under test, so that verify
	 * checks an executable that exists; the rest is unchanged. */
	char *unit = read_file(path);
	const char *installed = "/usr/local/bin/ringtracker";
	char *at = strstr(unit, installed);
	cr_assert_not_null(at, "ExecStart does not run %s", installed);
	cr_assert_not_null(strstr(unit, "\nExecStart=/usr/local/bin/ringtracker -c "
					"/etc/ringtracker/ringtracker.ini\n"));
	cr_assert_not_null(strstr(unit, "\nType=notify\n"));
	cr_assert_not_null(strstr(unit, "\nExecReload=/bin/kill -HUP $MAINPID\n"));
	cr_assert_not_null(mkdtemp(dir));
	snprintf(copy, sizeof(copy), "%s/ringtracker.service", dir);
	FILE *f = fopen(copy, "w");
	cr_assert_not_null(f);
	for (const char *p = unit; (at = strstr(p, installed)); p = at + strlen(installed)) {
		fwrite(p, 1, (size_t)(at - p), f);
		fputs(bin, f);
		if (!strstr(at + strlen(installed), installed)) {
			fputs(at + strlen(installed), f);
			break;
		}
	}
	cr_assert_eq(fclose(f), 0);

	const char *argv[] = {"systemd-analyze", "verify", "--man=no", copy, NULL};
	int status = run_cmd(argv, out, sizeof(out), 45);
	unlink(copy);
	rmdir(dir);
	free(unit);
	cr_assert_eq(status, 0, "systemd-analyze verify failed (%d):\n%s", status, out);
	cr_assert_null(strstr(out, "ringtracker.service"), "systemd-analyze verify:\n%s", out);
}

/* test_metrics.c - end-to-end tests of the metrics endpoint (suite
 * metrics_integration): starts build/ringtracker (RINGTRACKER_BIN) with
 * --metrics on 127.0.0.1:0, sends BEP 15 and BEP 3 traffic over loopback
 * and reads GET /metrics, /top and /health.
 *
 * Checks that the counters move by exactly what was sent and agree with
 * each other (per-worker sums, handoffs), that the gauges (peers by family
 * and kind, torrents) follow the swarm, that every sample has # HELP and
 * # TYPE, that `promtool check metrics` (Debian package prometheus) accepts
 * the page (skipped, saying so, without /usr/bin/promtool), that /top lists
 * the announced torrents busiest first, that the endpoint answers bad
 * requests and stops promptly, and that --metrics= turns it off.
 *
 * Each test starts its own server; every wait is bounded in time.
 */
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "udp_client.h"
#include "netaddr.h"
#include "udp.h"

#define PAGE_MAX (256 * 1024)
#define PROMTOOL "/usr/bin/promtool"

/* ---- a small BEP 15 client --------------------------------------------- */


/* Announces with connection id cid and event; returns the reply's action. */
static uint32_t uannounce_with(struct uclient *c, uint64_t cid, const struct info_hash *ih,
			       uint16_t port, uint64_t left, uint32_t event)
{
	struct udp_announce_request a = {
	    .info_hash = *ih, .left = left, .event = event, .num_want = -1, .port = port};
	uint8_t req[128], reply[2048];
	struct udp_response r;
	uint32_t txid = ++c->next_txid;

	memset(a.peer_id.b, 'M', sizeof(a.peer_id.b));
	int len = udp_write_announce_request(req, sizeof(req), cid, txid, &a);
	cr_assert_gt(len, 0);
	if (event > UDP_EVENT_STOPPED)
		req[83] = (uint8_t)event; /* the writer may refuse an unknown event */
	ssize_t n = uc_exchange(c, req, (size_t)len, txid, reply, sizeof(reply));
	cr_assert_eq(udp_parse_response(reply, (size_t)n, &r), 0);
	return r.action;
}

static void uannounce(struct uclient *c, const struct info_hash *ih, uint16_t port, uint64_t left)
{
	cr_assert_eq(uannounce_with(c, c->connection_id, ih, port, left, UDP_EVENT_STARTED),
		     UDP_ACTION_ANNOUNCE);
}

static void uscrape(struct uclient *c, const struct info_hash *ih)
{
	uint8_t req[64], reply[256];
	struct udp_response r;
	uint32_t txid = ++c->next_txid;
	int len = udp_write_scrape_request(req, sizeof(req), c->connection_id, txid, ih, 1);
	ssize_t n = uc_exchange(c, req, (size_t)len, txid, reply, sizeof(reply));

	cr_assert_eq(udp_parse_response(reply, (size_t)n, &r), 0);
	cr_assert_eq(r.action, UDP_ACTION_SCRAPE);
}

/* ---- HTTP and the page ------------------------------------------------- */

/* "%61%62..." for an info hash in a query. */
static void escape_hash(const struct info_hash *ih, char *out)
{
	for (size_t i = 0; i < sizeof(ih->b); i++)
		sprintf(out + 3 * i, "%%%02X", ih->b[i]);
}

static void http_announce(const struct netaddr *a, const struct info_hash *ih, uint16_t port,
			  unsigned left)
{
	static char reply[8192];
	char path[256], h[61];
	const char *body;

	escape_hash(ih, h);
	snprintf(path, sizeof(path),
		 "/announce?info_hash=%s&peer_id=-RT0001-metricstest1&port=%u&left=%u", h, port,
		 left);
	cr_assert_eq(tracker_http_get(a, path, reply, sizeof(reply), &body), 200, "%s", reply);
	cr_assert(strncmp(body, "d8:complete", 11) == 0, "not a peer list: %s", body);
}

/* GET /metrics: status 200, the exposition content type; *page is the body. */
static void get_page(const struct tracker *t, char *buf, const char **page)
{
	int status = tracker_http_get(&t->metrics, "/metrics", buf, PAGE_MAX, page);

	cr_assert_eq(status, 200, "GET /metrics: %d\n%s", status, buf);
	cr_assert(strstr(buf, "Content-Type: text/plain; version=0.0.4"), "%.300s", buf);
}

/* One sample, which must be on the page. */
static double value(const char *page, const char *series)
{
	double v = -1;

	cr_assert(tracker_metric(page, series, &v), "%s missing from\n%s", series, page);
	return v;
}

/* Sum of every sample of a family (name followed by '{' or ' '). */
static double family_sum(const char *page, const char *name)
{
	size_t n = strlen(name);
	double sum = 0;

	for (const char *p = page; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		if (strncmp(p, name, n) != 0 || (p[n] != '{' && p[n] != ' '))
			continue;
		const char *sp = strchr(p, ' ');
		const char *close = strchr(p, '}');
		const char *nl = strchr(p, '\n');
		if (close && (!nl || close < nl))
			sp = strchr(close, ' ');
		sum += strtod(sp + 1, NULL);
	}
	return sum;
}

/* Every sample's family has # HELP and # TYPE before it. */
static void check_help_and_type(const char *page)
{
	for (const char *p = page; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		if (*p == '#' || *p == '\n')
			continue;
		char name[128], key[160];
		size_t n = strcspn(p, "{ ");
		cr_assert_lt(n, sizeof(name));
		memcpy(name, p, n);
		name[n] = '\0';
		snprintf(key, sizeof(key), "# TYPE %s ", name);
		const char *type = strstr(page, key);
		cr_assert(type && type < p, "no # TYPE before %s", name);
		snprintf(key, sizeof(key), "# HELP %s ", name);
		const char *help = strstr(page, key);
		cr_assert(help && help < p, "no # HELP before %s", name);
	}
}

#define RQ(proto, action, fam)                                                                     \
	"ringtracker_requests_total{protocol=\"" proto "\",action=\"" action "\",family=\"" fam    \
	"\"}"
#define RS(proto, action, fam)                                                                     \
	"ringtracker_responses_total{protocol=\"" proto "\",action=\"" action "\",family=\"" fam   \
	"\"}"

/* ---- tests --------------------------------------------------------------- */

Test(metrics_integration, counters_move_with_traffic, .timeout = 60)
{
	static char buf[PAGE_MAX];
	struct tracker t;
	struct uclient a, b, c, d;
	const char *page;
	struct info_hash h1 = hash_of(801), h2 = hash_of(802), h3 = hash_of(803);

	tracker_start(&t, (const char *[]){"--workers", "2", NULL});
	cr_assert_neq(t.metrics.port, 0, "no metrics listener in the log:\n%s", t.log);
	get_page(&t, buf, &page);
	cr_assert_eq(value(page, RQ("udp", "connect", "ipv4")), 0);
	cr_assert_eq(value(page, "ringtracker_workers"), 2);
	cr_assert_eq(value(page, "ringtracker_xdp_attached"), 0);
	cr_assert_null(strstr(page, "ringtracker_xdp_packets_total"), "no prefilter, no verdicts");

	/* UDP over IPv4: two peers of h1 (a seeder, a leecher) and a scrape. */
	uc_open(&a, &t.udp4);
	uc_open(&b, &t.udp4);
	uc_connect(&a);
	uc_connect(&b);
	uannounce(&a, &h1, 7001, 0);
	uannounce(&b, &h1, 7002, 100);
	uscrape(&a, &h1);
	/* Errors: a forged connection id, an unknown event with a valid id
	 * (answered), and a runt (dropped: it proves no address). */
	cr_assert_eq(uannounce_with(&a, a.connection_id ^ 0x5a5a, &h1, 7001, 0, UDP_EVENT_NONE),
		     UDP_ACTION_ERROR);
	cr_assert_eq(uannounce_with(&a, a.connection_id, &h1, 7001, 0, 9), UDP_ACTION_ERROR);
	cr_assert_eq(send(a.fd, "runt", 4, 0), 4);
	/* UDP over IPv6: a seeder and a leecher of h2. */
	uc_open(&c, &t.udp6);
	uc_open(&d, &t.udp6);
	uc_connect(&c);
	uc_connect(&d);
	uannounce(&c, &h2, 7003, 50);
	uannounce(&d, &h2, 7004, 0);
	/* HTTP: a leecher over IPv4 and a seeder over IPv6 of h3, a scrape, a 404. */
	http_announce(&t.http4, &h3, 7005, 10);
	http_announce(&t.http6, &h3, 7006, 0);
	char path[128], h[61];
	const char *body;
	escape_hash(&h3, h);
	snprintf(path, sizeof(path), "/scrape?info_hash=%s", h);
	cr_assert_eq(tracker_http_get(&t.http4, path, buf, PAGE_MAX, &body), 200);
	cr_assert_eq(tracker_http_get(&t.http4, "/nothing", buf, PAGE_MAX, &body), 404);

	/* Gauges are refreshed once a second by each worker. */
	double deadline = now_s() + 5;
	do {
		usleep(100 * 1000);
		get_page(&t, buf, &page);
	} while (now_s() < deadline &&
		 (family_sum(page, "ringtracker_torrents") != 3 ||
		  family_sum(page, "ringtracker_peers") != 6 ||
		  value(page, "ringtracker_http_connections_open") != 0 ||
		  value(page, "ringtracker_udp_received_datagrams_total") < 12));

	cr_assert_eq(value(page, RQ("udp", "connect", "ipv4")), 2);
	cr_assert_eq(value(page, RQ("udp", "connect", "ipv6")), 2);
	cr_assert_eq(value(page, RQ("udp", "announce", "ipv4")), 3, "the forged id counts too");
	cr_assert_eq(value(page, RQ("udp", "announce", "ipv6")), 2);
	cr_assert_eq(value(page, RQ("udp", "scrape", "ipv4")), 1);
	cr_assert_eq(value(page, RQ("udp", "scrape", "ipv6")), 0);
	cr_assert_eq(value(page, RQ("http", "announce", "ipv4")), 1);
	cr_assert_eq(value(page, RQ("http", "announce", "ipv6")), 1);
	cr_assert_eq(value(page, RQ("http", "scrape", "ipv4")), 1);
	cr_assert_eq(value(page, RS("udp", "connect", "ipv4")), 2);
	cr_assert_eq(value(page, RS("udp", "connect", "ipv6")), 2);
	cr_assert_eq(value(page, RS("udp", "announce", "ipv4")), 2);
	cr_assert_eq(value(page, RS("udp", "announce", "ipv6")), 2);
	cr_assert_eq(value(page, RS("udp", "scrape", "ipv4")), 1);
	cr_assert_eq(value(page, RS("http", "announce", "ipv4")), 1);
	cr_assert_eq(value(page, RS("http", "announce", "ipv6")), 1);
	cr_assert_eq(value(page, RS("http", "scrape", "ipv4")), 1);
	cr_assert_eq(
	    value(page,
		  "ringtracker_error_replies_total{protocol=\"udp\",reason=\"connection_id\"}"),
	    1);
	cr_assert_eq(
	    value(page, "ringtracker_error_replies_total{protocol=\"udp\",reason=\"malformed\"}"),
	    1);
	cr_assert_eq(
	    value(page, "ringtracker_error_replies_total{protocol=\"http\",reason=\"not_found\"}"),
	    1);
	cr_assert_eq(value(page, "ringtracker_malformed_requests_total{protocol=\"udp\","
				 "reason=\"bad_event\"}"),
		     1);
	cr_assert_eq(
	    value(page, "ringtracker_malformed_requests_total{protocol=\"udp\",reason=\"runt\"}"),
	    1);
	cr_assert_eq(value(page, "ringtracker_udp_unverified_dropped_total"), 1);
	cr_assert_eq(value(page, "ringtracker_connection_id_rejected_total{reason=\"invalid\"}"),
		     1);
	cr_assert_geq(value(page, "ringtracker_udp_received_datagrams_total"), 12);
	cr_assert_gt(value(page, "ringtracker_received_bytes_total{protocol=\"udp\"}"), 0);
	cr_assert_gt(value(page, "ringtracker_sent_bytes_total{protocol=\"udp\"}"), 0);
	cr_assert_gt(value(page, "ringtracker_received_bytes_total{protocol=\"http\"}"), 0);
	cr_assert_gt(value(page, "ringtracker_sent_bytes_total{protocol=\"http\"}"), 0);
	cr_assert_geq(value(page, "ringtracker_http_connections_accepted_total"), 4);

	/* Gauges: peers by family and kind, torrents summed over shards. */
	cr_assert_eq(value(page, "ringtracker_peers{family=\"ipv4\",kind=\"seeder\"}"), 1, "%s",
		     page);
	cr_assert_eq(value(page, "ringtracker_peers{family=\"ipv4\",kind=\"leecher\"}"), 2);
	cr_assert_eq(value(page, "ringtracker_peers{family=\"ipv6\",kind=\"seeder\"}"), 2);
	cr_assert_eq(value(page, "ringtracker_peers{family=\"ipv6\",kind=\"leecher\"}"), 1);
	cr_assert_eq(family_sum(page, "ringtracker_torrents"), 3);
	cr_assert_gt(value(page, "ringtracker_swarm_memory_bytes"), 0);
	cr_assert_eq(value(page, "ringtracker_http_connections_open"), 0);

	/* Consistency: per-worker requests sum to the requests; every handoff
	 * sent was received; nothing dropped. */
	cr_assert_eq(family_sum(page, "ringtracker_worker_requests_total"),
		     family_sum(page, "ringtracker_requests_total"));
	cr_assert_eq(value(page, "ringtracker_handoffs_total{result=\"sent\"}"),
		     value(page, "ringtracker_handoffs_total{result=\"received\"}"));
	cr_assert_eq(value(page, "ringtracker_handoffs_total{result=\"dropped\"}"), 0);
	cr_assert_leq(family_sum(page, "ringtracker_responses_total"),
		      family_sum(page, "ringtracker_requests_total"));

	/* Process and build. */
	double start = value(page, "process_start_time_seconds");
	cr_assert(start > (double)time(NULL) - 600 && start <= (double)time(NULL) + 1, "%f", start);
	cr_assert_gt(value(page, "process_resident_memory_bytes"), 0);
	cr_assert_gt(value(page, "process_open_fds"), 5);
	cr_assert_geq(value(page, "process_cpu_seconds_total"), 0);
	cr_assert(strstr(page, "ringtracker_build_info{version=\"0.1.0\",features=\"udp,http,xdp"),
		  "%s", page);
	if (strstr(page, "jemalloc\"}"))
		cr_assert_gt(value(page, "ringtracker_allocator_bytes{kind=\"allocated\"}"), 0);
	else
		cr_assert_null(strstr(page, "ringtracker_allocator_bytes"));
	check_help_and_type(page);
	cr_assert_null(strstr(page, "info_hash"), "no per-torrent labels");
	cr_assert_null(strstr(page, "127.0.0.1"), "no per-client labels");

	close(a.fd);
	close(b.fd);
	close(c.fd);
	close(d.fd);
	tracker_stop(&t);
}

Test(metrics_integration, promtool_accepts_the_page, .timeout = 60)
{
	static char buf[PAGE_MAX], out[8192];
	struct tracker t;
	struct uclient a;
	const char *page;
	char path[] = "/tmp/ringtracker-metrics-XXXXXX";
	struct info_hash ih = hash_of(810);

	if (access(PROMTOOL, X_OK) != 0)
		cr_skip_test("%s not found (Debian package prometheus; tools/install-deps.sh "
			     "installs it): page format not checked",
			     PROMTOOL);
	tracker_start(&t, (const char *[]){"--workers", "2", NULL});
	uc_open(&a, &t.udp4);
	uc_connect(&a);
	uannounce(&a, &ih, 7100, 0);
	http_announce(&t.http6, &ih, 7101, 5);
	usleep(1100 * 1000); /* gauges refreshed */
	get_page(&t, buf, &page);
	int fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, page, strlen(page)), (ssize_t)strlen(page));
	close(fd);
	char cmd[256];
	snprintf(cmd, sizeof(cmd), "%s check metrics < %s 2>&1", PROMTOOL, path);
	FILE *p = popen(cmd, "r");
	cr_assert_not_null(p);
	size_t n = fread(out, 1, sizeof(out) - 1, p);
	out[n] = '\0';
	int st = pclose(p);
	unlink(path);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "promtool check metrics failed:\n%s", out);
	cr_assert_eq(n, 0, "promtool check metrics complained:\n%s", out);
	close(a.fd);
	tracker_stop(&t);
}

/* Position of a torrent's hex info hash in a /top reply, or NULL. */
static const char *find_hash(const char *json, const struct info_hash *ih)
{
	char key[64];
	size_t n = (size_t)snprintf(key, sizeof(key), "\"info_hash\":\"");

	for (size_t i = 0; i < sizeof(ih->b); i++)
		n += (size_t)snprintf(key + n, sizeof(key) - n, "%02x", ih->b[i]);
	return strstr(json, key);
}

Test(metrics_integration, top_lists_busiest_first, .timeout = 60)
{
	static char buf[65536];
	struct tracker t;
	struct uclient a;
	const char *json;
	struct info_hash busy = hash_of(820), mid = hash_of(821), quiet = hash_of(822);

	tracker_start(&t, (const char *[]){"--workers", "2", NULL});
	uc_open(&a, &t.udp4);
	uc_connect(&a);
	for (uint16_t p = 0; p < 4; p++)
		uannounce(&a, &busy, (uint16_t)(7200 + p), p == 0 ? 0 : 10);
	for (uint16_t p = 0; p < 2; p++)
		uannounce(&a, &mid, (uint16_t)(7300 + p), 10);
	uannounce(&a, &quiet, 7400, 0);

	/* The first request makes the workers scan (a list is never older
	 * than refresh_seconds; a scan takes a few loop turns here). */
	cr_assert_eq(tracker_http_get(&t.metrics, "/top?n=2", buf, sizeof(buf), &json), 200, "%s",
		     buf);
	cr_assert(strstr(buf, "Content-Type: application/json"), "%s", buf);
	const char *p1 = find_hash(json, &busy), *p2 = find_hash(json, &mid);
	cr_assert(p1 && p2 && p1 < p2, "busiest first:\n%s", json);
	cr_assert_null(find_hash(json, &quiet), "n=2 lists two:\n%s", json);
	cr_assert(strstr(p1, "\"seeders\":1,\"leechers\":3,\"peers\":4"), "%s", json);
	cr_assert(strstr(json, "\"count\":2,\"workers\":2,\"stale_workers\":0"), "%s", json);

	cr_assert_eq(tracker_http_get(&t.metrics, "/top", buf, sizeof(buf), &json), 200);
	cr_assert(find_hash(json, &quiet) > find_hash(json, &mid), "%s", json);
	cr_assert(strstr(json, "\"count\":3,"), "%s", json);

	cr_assert_eq(tracker_http_get(&t.metrics, "/top?n=0", buf, sizeof(buf), &json), 400);
	cr_assert_eq(tracker_http_get(&t.metrics, "/top?n=1001", buf, sizeof(buf), &json), 400);
	cr_assert_eq(tracker_http_get(&t.metrics, "/top?n=x", buf, sizeof(buf), &json), 400);
	close(a.fd);
	tracker_stop(&t);
}

/* Connects to a and sends raw; returns the socket. */
static int tcp_send(const struct netaddr *a, const char *raw, size_t len)
{
	struct sockaddr_storage ss;
	socklen_t sl = netaddr_to_sockaddr(a, &ss);
	struct timeval tv = {.tv_sec = 5};
	int fd = socket(a->family, SOCK_STREAM | SOCK_CLOEXEC, 0);

	cr_assert_geq(fd, 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	cr_assert_eq(connect(fd, (struct sockaddr *)&ss, sl), 0);
	if (len)
		cr_assert_eq(send(fd, raw, len, MSG_NOSIGNAL), (ssize_t)len);
	return fd;
}

static void expect_status(int fd, const char *status_line)
{
	char reply[1024];
	ssize_t n = recv(fd, reply, sizeof(reply) - 1, 0);

	cr_assert_gt(n, 0, "no reply");
	reply[n] = '\0';
	cr_assert(strncmp(reply, status_line, strlen(status_line)) == 0, "%s", reply);
	close(fd);
}

Test(metrics_integration, endpoint_answers_and_stops_promptly, .timeout = 60)
{
	static char buf[16384], big[6000];
	struct tracker t;
	const char *body;

	tracker_start(&t, (const char *[]){"--workers", "1", NULL});
	cr_assert_eq(tracker_http_get(&t.metrics, "/health", buf, sizeof(buf), &body), 200);
	cr_assert_str_eq(body, "ok\n");
	cr_assert_eq(tracker_http_get(&t.metrics, "/nothing", buf, sizeof(buf), &body), 404);
	const char post[] = "POST /metrics HTTP/1.1\r\nHost: x\r\n\r\n";
	int fd = tcp_send(&t.metrics, post, sizeof(post) - 1);
	expect_status(fd, "HTTP/1.1 405 ");
	const char v2[] = "GET /metrics HTTP/2.0\r\n\r\n";
	expect_status(tcp_send(&t.metrics, v2, sizeof(v2) - 1), "HTTP/1.1 505 ");
	int n = snprintf(big, sizeof(big), "GET /metrics HTTP/1.1\r\nX-Pad: ");
	memset(big + n, 'a', sizeof(big) - (size_t)n - 5);
	memcpy(big + sizeof(big) - 5, "\r\n\r\n", 5);
	expect_status(tcp_send(&t.metrics, big, sizeof(big) - 1), "HTTP/1.1 431 ");

	/* A client that connects and says nothing holds the endpoint for at most
	 * the read timeout; the next one is served after it, and a stop cuts it
	 * short (tracker_stop wants an exit within a second). */
	int idle = tcp_send(&t.metrics, NULL, 0);
	double t0 = now_s();
	cr_assert_eq(tracker_http_get(&t.metrics, "/health", buf, sizeof(buf), &body), 200);
	cr_assert_lt(now_s() - t0, 4.0);
	int idle2 = tcp_send(&t.metrics, NULL, 0);
	usleep(50 * 1000);
	tracker_stop(&t);
	close(idle);
	close(idle2);
}

Test(metrics_integration, off_with_empty_flag_and_port_in_use_exits_2, .timeout = 60)
{
	struct tracker t, off;
	char out[8192], addr[NETADDR_TEXT_MAX];

	tracker_start(&off, (const char *[]){"--workers", "1", "--metrics=", NULL});
	cr_assert_null(strstr(off.log, "metrics: listening"), "%s", off.log);
	cr_assert_eq(off.metrics.port, 0);
	tracker_stop(&off);

	tracker_start(&t, (const char *[]){"--workers", "1", NULL});
	netaddr_format(&t.metrics, addr, sizeof(addr));
	int rc = run_cli((const char *[]){"--udp", "127.0.0.1:0", "--http=", "--workers", "1",
					  "--metrics", addr, NULL},
			 out, sizeof(out));
	cr_assert_eq(rc, 2, "%s", out);
	cr_assert(strstr(out, "--metrics"), "%s", out);
	cr_assert(strstr(out, "Address already in use"), "%s", out);
	tracker_stop(&t);
}

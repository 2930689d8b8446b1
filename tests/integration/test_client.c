/* test_client.c - end-to-end tests of ringtracker-client (tools/client*.c)
 * against a real server: starts build/ringtracker (RINGTRACKER_BIN) on
 * loopback, runs the client as a subprocess and reads its JSON and exit
 * status.
 *
 * The client is built only in the release variant (build/ringtracker-client)
 * and found with tool_bin (harness.h); without it the tests are skipped,
 * saying so. Each test starts its own server; every wait is
 * bounded (the client's --timeout, Criterion's .timeout).
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "netaddr.h"

#define OUT_MAX 65536

/* Reads from the two pipes until both close. */
static void read_both(int fd_out, char *out, size_t cap, int fd_err, char *err, size_t ecap)
{
	size_t n[2] = {0, 0}, caps[2] = {cap, ecap};
	char *bufs[2] = {out, err};
	struct pollfd p[2] = {{.fd = fd_out, .events = POLLIN}, {.fd = fd_err, .events = POLLIN}};
	int open = 2;

	while (open > 0) {
		cr_assert_gt(poll(p, 2, 30000), 0, "the client hangs");
		for (int i = 0; i < 2; i++) {
			if (p[i].fd < 0 || !p[i].revents)
				continue;
			char scratch[4096];
			char *dst = n[i] < caps[i] - 1 ? bufs[i] + n[i] : scratch;
			size_t room = n[i] < caps[i] - 1 ? caps[i] - 1 - n[i] : sizeof(scratch);
			ssize_t r = read(p[i].fd, dst, room);
			if (r <= 0) {
				close(p[i].fd);
				p[i].fd = -1;
				open--;
			} else if (dst != scratch) {
				n[i] += (size_t)r;
			}
		}
	}
	out[n[0]] = '\0';
	err[n[1]] = '\0';
}

/* Runs the client with args (NULL-ended); stdout into out, stderr into err.
 * Returns its exit status. */
static int run_client(const char *const *args, char *out, size_t cap, char *err, size_t ecap)
{
	const char *argv[32] = {tool_or_skip("ringtracker-client")};
	int n = 1, po[2], pe[2], status;

	for (; *args; args++) {
		cr_assert_lt(n, 31);
		argv[n++] = *args;
	}
	argv[n] = NULL;
	cr_assert_eq(pipe2(po, O_CLOEXEC), 0);
	cr_assert_eq(pipe2(pe, O_CLOEXEC), 0);
	pid_t pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		dup2(po[1], STDOUT_FILENO);
		dup2(pe[1], STDERR_FILENO);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	close(po[1]);
	close(pe[1]);
	read_both(po[0], out, cap, pe[0], err, ecap);
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status), "the client died of signal %d", WTERMSIG(status));
	return WEXITSTATUS(status);
}

/* "udp://127.0.0.1:P", "http://[::1]:P/announce", ... */
static void url_of(char *buf, size_t cap, const char *scheme, const struct netaddr *a,
		   const char *path)
{
	char text[NETADDR_TEXT_MAX];

	netaddr_format(a, text, sizeof(text));
	snprintf(buf, cap, "%s://%s%s", scheme, text, path);
}

static void hex_of(unsigned i, char out[41])
{
	struct info_hash h = hash_of(i);

	for (int k = 0; k < 20; k++)
		snprintf(out + 2 * k, 3, "%02x", h.b[k]);
}

/* Announces and expects success; out holds the JSON line. */
static void announce_ok(const char *url, const char *hex, const char *port, const char *left,
			const char *event, const char *extra, char *out)
{
	char err[4096];
	const char *args[16] = {"announce", url,      "--info-hash", hex,	"--port",
				port,	    "--left", left,	     "--event", event};
	int n = 10;

	if (extra)
		args[n++] = extra;
	args[n] = NULL;
	int rc = run_client(args, out, OUT_MAX, err, sizeof(err));
	cr_assert_eq(rc, 0, "announce %s: exit %d\n%s%s", url, rc, out, err);
	cr_assert(strncmp(out, "{\"tracker\":", 11) == 0, "%s", out);
	cr_assert(strstr(out, "\"action\":\"announce\""), "%s", out);
	cr_assert(strstr(out, "\"time_ms\":"), "%s", out);
	cr_assert_null(strstr(out, "\"error\""), "%s", out);
	cr_assert_eq(strchr(out, '\n'), out + strlen(out) - 1, "one line of JSON: %s", out);
}

/* A at port 1111 (leecher), then B at 2222 (seeder): each sees the other. */
static void two_peers(const char *url, const char *host, unsigned hash, const char *extra)
{
	static char out[OUT_MAX];
	char hex[41], a[80], b[80];

	hex_of(hash, hex);
	snprintf(a, sizeof(a), "\"%s:1111\"", host);
	snprintf(b, sizeof(b), "\"%s:2222\"", host);
	announce_ok(url, hex, "1111", "10", "started", extra, out);
	cr_assert(strstr(out, "\"interval\":"), "%s", out);
	cr_assert(strstr(out, "\"leechers\":1,"), "%s", out);
	cr_assert(strstr(out, "\"peers\":[]"), "the requester got itself: %s", out);
	announce_ok(url, hex, "2222", "0", "started", extra, out);
	cr_assert(strstr(out, "\"seeders\":1,\"leechers\":1"), "%s", out);
	cr_assert(strstr(out, a), "B does not see A: %s", out);
	announce_ok(url, hex, "1111", "10", "none", extra, out);
	cr_assert(strstr(out, b), "A does not see B: %s", out);
	cr_assert_null(strstr(out, a), "A sees itself: %s", out);
}

Test(client_integration, udp_announce_two_peers_see_each_other, .timeout = 60)
{
	struct tracker t;
	char url[128];

	tool_or_skip("ringtracker-client");
	tracker_start(&t, (const char *[]){"--workers", "2", NULL});
	url_of(url, sizeof(url), "udp", &t.udp4, "");
	two_peers(url, "127.0.0.1", 1, NULL);
	url_of(url, sizeof(url), "udp", &t.udp6, "/announce");
	two_peers(url, "[::1]", 2, NULL);
	tracker_stop(&t);
}

Test(client_integration, http_announce_two_peers_see_each_other, .timeout = 60)
{
	struct tracker t;
	char url[128];

	tool_or_skip("ringtracker-client");
	tracker_start(&t, (const char *[]){"--workers", "2", NULL});
	url_of(url, sizeof(url), "http", &t.http4, "/announce");
	two_peers(url, "127.0.0.1", 3, NULL);
	url_of(url, sizeof(url), "http", &t.http6, "/announce");
	two_peers(url, "[::1]", 4, NULL);
	/* The dictionary model (compact=0) decodes to the same peers. */
	url_of(url, sizeof(url), "http", &t.http4, "/announce");
	two_peers(url, "127.0.0.1", 5, "--no-compact");
	tracker_stop(&t);
}

/* The JSON object of one scrape file, as the client prints it. */
static void expect_file(const char *out, unsigned hash, int seeders, int completed, int leechers)
{
	char hex[41], want[160];

	hex_of(hash, hex);
	snprintf(want, sizeof(want),
		 "{\"info_hash\":\"%s\",\"seeders\":%d,\"completed\":%d,\"leechers\":%d}", hex,
		 seeders, completed, leechers);
	cr_assert(strstr(out, want), "want %s in %s", want, out);
}

Test(client_integration, scrape_counts_udp_and_http, .timeout = 60)
{
	static char out[OUT_MAX];
	char err[4096], url[128], http[128], h1[41], h2[41], h3[41];
	struct tracker t;

	tool_or_skip("ringtracker-client");
	hex_of(201, h1);
	hex_of(202, h2);
	hex_of(203, h3);
	tracker_start(&t, (const char *[]){"--workers", "2", NULL});
	url_of(url, sizeof(url), "udp", &t.udp4, "");
	url_of(http, sizeof(http), "http", &t.http4, "/announce");
	/* 201: a seeder that completed and a leecher; 202 unknown; 203: a
	 * leecher (over HTTP: one swarm whatever the protocol). */
	announce_ok(url, h1, "5000", "0", "completed", NULL, out);
	announce_ok(url, h1, "5001", "9", "started", NULL, out);
	announce_ok(http, h3, "5002", "9", "started", NULL, out);

	const char *const udp_args[] = {"scrape",      url, "--info-hash", h1, "--info-hash", h2,
					"--info-hash", h3,  NULL};
	cr_assert_eq(run_client(udp_args, out, OUT_MAX, err, sizeof(err)), 0, "%s%s", out, err);
	cr_assert(strstr(out, "\"action\":\"scrape\""), "%s", out);
	expect_file(out, 201, 1, 1, 1);
	expect_file(out, 202, 0, 0, 0);
	expect_file(out, 203, 0, 0, 1);
	cr_assert_lt(strstr(out, h1), strstr(out, h2), "UDP answers in request order: %s", out);
	cr_assert_lt(strstr(out, h2), strstr(out, h3), "%s", out);

	/* HTTP: the BEP 48 scrape URL is derived from the announce URL. */
	const char *const http_args[] = {"scrape",	http, "--info-hash", h3,
					 "--info-hash", h1,   NULL};
	cr_assert_eq(run_client(http_args, out, OUT_MAX, err, sizeof(err)), 0, "%s%s", out, err);
	expect_file(out, 201, 1, 1, 1);
	expect_file(out, 203, 0, 0, 1);
	cr_assert_null(strstr(out, h2), "%s", out);
	tracker_stop(&t);
}

Test(client_integration, check_passes_udp_udp6_and_http, .timeout = 60)
{
	static char out[OUT_MAX];
	char err[4096], u4[128], u6[128], h4[128], h6[128], host[128];
	struct tracker t;

	tool_or_skip("ringtracker-client");
	tracker_start(&t, (const char *[]){"--workers", "2", NULL});
	url_of(u4, sizeof(u4), "udp", &t.udp4, "");
	url_of(u6, sizeof(u6), "udp", &t.udp6, "/announce");
	url_of(h4, sizeof(h4), "http", &t.http4, "/announce");
	url_of(h6, sizeof(h6), "http", &t.http6, "/announce");
	/* A host name: getaddrinfo may offer ::1 first, where this port is
	 * closed; the client must move on to 127.0.0.1. */
	snprintf(host, sizeof(host), "udp://localhost:%u", t.udp4.port);
	const char *const args[] = {"check", u4, u6, h4, h6, host, "--timeout", "1000", NULL};
	int rc = run_client(args, out, OUT_MAX, err, sizeof(err));
	cr_assert_eq(rc, 0, "exit %d\n%s%s", rc, out, err);
	const char *urls[] = {u4, u6, h4, h6, host};
	const char *p = out;
	for (size_t i = 0; i < 5; i++) {
		char want[200];
		snprintf(want, sizeof(want), "PASS %s connect ", urls[i]);
		cr_assert(strncmp(p, want, strlen(want)) == 0, "line %zu: want %s\n%s", i, want,
			  out);
		cr_assert(strstr(p, " ms announce ") && strstr(p, " ms scrape "), "%s", out);
		p = strchr(p, '\n');
		cr_assert_not_null(p);
		p++;
	}
	cr_assert_eq(*p, '\0', "one line per tracker:\n%s", out);
	tracker_stop(&t);
}

/* A port with nothing behind it: bind, read the port, close. */
static unsigned closed_port(int type)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, type, 0);

	cr_assert_geq(fd, 0);
	cr_assert_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	cr_assert_eq(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	close(fd);
	return ntohs(sa.sin_port);
}

Test(client_integration, check_fails_without_a_tracker, .timeout = 60)
{
	static char out[OUT_MAX];
	char err[4096], good[128], dead_udp[128], dead_http[128];
	struct tracker t;

	tool_or_skip("ringtracker-client");
	tracker_start(&t, (const char *[]){"--workers", "1", NULL});
	url_of(good, sizeof(good), "udp", &t.udp4, "");
	snprintf(dead_udp, sizeof(dead_udp), "udp://127.0.0.1:%u", closed_port(SOCK_DGRAM));
	snprintf(dead_http, sizeof(dead_http), "http://127.0.0.1:%u/announce",
		 closed_port(SOCK_STREAM));
	const char *const args[] = {"check", good,	dead_udp, dead_http, "--timeout",
				    "300",   "--tries", "1",	  NULL};
	int rc = run_client(args, out, OUT_MAX, err, sizeof(err));
	cr_assert_eq(rc, 1, "exit %d\n%s%s", rc, out, err);
	char want[200];
	snprintf(want, sizeof(want), "PASS %s ", good);
	cr_assert(strstr(out, want), "%s", out);
	snprintf(want, sizeof(want), "FAIL %s connect", dead_udp);
	cr_assert(strstr(out, want), "%s", out);
	snprintf(want, sizeof(want), "FAIL %s announce", dead_http);
	cr_assert(strstr(out, want), "%s", out);
	tracker_stop(&t);
}

/* The tracker's own "no": a BEP 15 error reply, an HTTP failure reason. */
Test(client_integration, tracker_errors_are_json_and_exit_1, .timeout = 60)
{
	static char out[OUT_MAX];
	char err[4096], udp[128], http[128], h1[41], h2[41], path[] = "/tmp/rt-client-XXXXXX";
	const char *ini = "[limits]\nmax_torrents = 1\n";
	struct tracker t;

	tool_or_skip("ringtracker-client");
	int fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, ini, strlen(ini)), (ssize_t)strlen(ini));
	close(fd);
	tracker_start(&t, (const char *[]){"-c", path, "--workers", "1", NULL});
	unlink(path);
	url_of(udp, sizeof(udp), "udp", &t.udp4, "");
	url_of(http, sizeof(http), "http", &t.http4, "/announce");
	hex_of(301, h1);
	hex_of(302, h2);
	announce_ok(udp, h1, "6000", "1", "started", NULL, out);

	const char *const a1[] = {"announce", udp, "--info-hash", h2, NULL};
	cr_assert_eq(run_client(a1, out, OUT_MAX, err, sizeof(err)), 1, "%s%s", out, err);
	cr_assert(strstr(out, "\"error\":\"") && strstr(out, "torrent limit"), "%s", out);
	cr_assert_null(strstr(out, "\"peers\""), "%s", out);

	const char *const a2[] = {"announce", http, "--info-hash", h2, NULL};
	cr_assert_eq(run_client(a2, out, OUT_MAX, err, sizeof(err)), 1, "%s%s", out, err);
	cr_assert(strstr(out, "\"error\":\"") && strstr(out, "torrent limit"), "%s", out);

	/* Not a tracker path: the HTTP status is the error. */
	url_of(http, sizeof(http), "http", &t.http4, "/nothing-here");
	const char *const a3[] = {"announce", http, "--info-hash", h1, NULL};
	cr_assert_eq(run_client(a3, out, OUT_MAX, err, sizeof(err)), 1, "%s%s", out, err);
	cr_assert(strstr(out, "\"error\":\"HTTP 404"), "%s", out);
	tracker_stop(&t);
}

Test(client_integration, bad_usage_exits_2, .timeout = 30)
{
	static char out[OUT_MAX];
	char err[4096], hex[41];
	const char *url = "udp://127.0.0.1:6969";

	tool_or_skip("ringtracker-client");
	hex_of(1, hex);
	const struct {
		const char *args[8];
		const char *says;
	} cases[] = {
	    /* An info hash of 19 bytes, and one of 21. */
	    {{"announce", url, "--info-hash", "0123456789abcdef0123456789abcdef012345", NULL},
	     "--info-hash"},
	    {{"announce", url, "--info-hash", "0123456789abcdef0123456789abcdef0123456789", NULL},
	     "--info-hash"},
	    {{"announce", url, "--info-hash", "zz23456789abcdef0123456789abcdef01234567", NULL},
	     "--info-hash"},
	    {{"announce", url, NULL}, "--info-hash"},
	    {{"announce", "udp://127.0.0.1", "--info-hash", hex, NULL}, "port"},
	    {{"announce", "https://127.0.0.1/announce", "--info-hash", hex, NULL}, "https"},
	    {{"announce", url, "--info-hash", hex, "--event", "paused", NULL}, "--event"},
	    {{"announce", url, "--info-hash", hex, "--port", "70000", NULL}, "--port"},
	    {{"announce", url, "--info-hash", hex, "--bogus", NULL}, "--bogus"},
	    {{"scrape", "http://127.0.0.1:1/tracker", "--info-hash", hex, NULL}, "scrape"},
	    {{"check", NULL}, "check"},
	    {{"frobnicate", NULL}, "frobnicate"},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int rc = run_client(cases[i].args, out, OUT_MAX, err, sizeof(err));
		cr_assert_eq(rc, 2, "case %zu: exit %d\n%s%s", i, rc, out, err);
		cr_assert_str_empty(out, "case %zu: nothing on stdout", i);
		cr_assert(strstr(err, cases[i].says), "case %zu: %s", i, err);
	}
	const char *const help[] = {"--help", NULL};
	cr_assert_eq(run_client(help, out, OUT_MAX, err, sizeof(err)), 0);
	cr_assert(strstr(out, "announce") && strstr(out, "scrape") && strstr(out, "check"), "%s",
		  out);
}

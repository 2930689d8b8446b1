/* test_load.c - end-to-end tests of the load generator,
 * build/ringtracker-load (bench/load*.c): short runs against a running
 * ringtracker over UDP, HTTP keep-alive and one request per connection
 * must end with answers of every kind and nothing lost, malformed or
 * refused; runs against a responder of this file that answers wrongly must
 * count what it got wrong, apart, and still stop by themselves.
 *
 * The generator is built only in the release variant and found with
 * tool_bin; without it the tests are skipped, saying so. Each test starts
 * its own server on 127.0.0.1:0; every run and wait is bounded.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "harness.h"

#define OUT_MAX 16384

/* Runs the generator for 1 s against target with a small model, plus
 * extra (NULL-ended) flags; asserts exit status 0 and leaves its JSON in
 * out. A reply may take 5 s before it counts as lost (sanitizer builds,
 * a loaded machine). */
static void load_run(const char *mode, const struct netaddr *target, const char *const *extra,
		     char *out, size_t cap)
{
	const char *bin = tool_or_skip("ringtracker-load");
	char addr[NETADDR_TEXT_MAX];
	const char *args[30];
	int n = 0;

	netaddr_format(target, addr, sizeof(addr));
	args[n++] = mode;
	args[n++] = addr;
	const char *base[] = {"--torrents", "1000", "--peers", "4000", "--warmup", "0",
			      "--duration", "1",    "--json",  "--quiet", "--timeout-ms", "5000"};
	for (size_t i = 0; i < sizeof(base) / sizeof(base[0]); i++)
		args[n++] = base[i];
	for (; extra && *extra; extra++) {
		cr_assert_lt(n, 29, "too many flags");
		args[n++] = *extra;
	}
	args[n] = NULL;
	int status = run_bin(bin, args, out, cap);
	cr_assert_eq(status, 0, "exit status %d: %s", status, out);
}

/* The value of "name": N in the generator's JSON. */
static unsigned long long json_count(const char *out, const char *name)
{
	char key[64];

	snprintf(key, sizeof(key), "\"%s\":", name);
	const char *p = strstr(out, key);
	cr_assert(p, "no %s in: %s", name, out);
	return strtoull(p + strlen(key), NULL, 10);
}

/* Waits (up to 5 s) until the tracker has closed every connection it
 * accepted: the generator's last ones close as it exits. */
static void wait_all_closed(const struct tracker *t)
{
	static char page[65536];
	const char *body;
	double accepted = -1, closed = -2;

	for (int i = 0; i < 100 && accepted != closed; i++) {
		if (i)
			usleep(50000);
		cr_assert_eq(tracker_http_get(&t->metrics, "/metrics", page, sizeof(page), &body),
			     200);
		cr_assert(tracker_metric(body, "ringtracker_http_connections_accepted_total",
					 &accepted));
		cr_assert(tracker_metric(body, "ringtracker_http_connections_closed_total", &closed));
	}
	cr_assert_eq(accepted, closed, "accepted %.0f, closed %.0f", accepted, closed);
}

/* Nothing went wrong in a run against a correct tracker. Some counters
 * belong to UDP only (late, unknown, wrong_socket, refused) or to HTTP only
 * (http_conn_errors) and are 0 by construction in the other mode; the JSON
 * has them all. */
static void assert_clean(const char *out)
{
	static const char *const bad[] = {"errors",	 "malformed",	"lost",
					  "late",	 "unknown",	"wrong_socket",
					  "send_errors", "refused",	"http_conn_errors"};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_assert_eq(json_count(out, bad[i]), 0, "%s: %s", bad[i], out);
}

Test(load, udp_run_against_the_tracker_is_clean, .timeout = 60)
{
	struct tracker t;
	char out[OUT_MAX];
	const char *extra[] = {"--window", "64", "--sockets", "16", NULL};

	tracker_start(&t, NULL);
	load_run("--udp", &t.udp4, extra, out, sizeof(out));
	tracker_stop(&t);
	assert_clean(out);
	/* One connect per socket, then a stream of announces with a scrape
	 * every 100 announces. */
	cr_assert_eq(json_count(out, "ok_connect"), 16, "%s", out);
	unsigned long long ann = json_count(out, "ok_announce");
	cr_assert_gt(ann, 1000, "%s", out);
	cr_assert_gt(json_count(out, "ok_scrape"), 0, "%s", out);
	cr_assert_eq(json_count(out, "sent_announce"), ann);
	cr_assert_gt(json_count(out, "peers_returned"), 0, "%s", out);
	/* The tracker saw at least what was answered. */
	cr_assert_geq(log_counter(&t, "udp_announce_v4"), ann);
}

Test(load, http_keepalive_run_reuses_its_connections, .timeout = 60)
{
	struct tracker t;
	char out[OUT_MAX];
	const char *extra[] = {"--connections", "8", NULL};

	tracker_start(&t, NULL);
	load_run("--http", &t.http4, extra, out, sizeof(out));
	wait_all_closed(&t);
	tracker_stop(&t);
	assert_clean(out);
	unsigned long long ann = json_count(out, "ok_announce");
	cr_assert_gt(ann, 100, "%s", out);
	cr_assert_gt(json_count(out, "ok_scrape"), 0, "%s", out);
	cr_assert_eq(json_count(out, "http_opened"), 8, "one connection each, kept: %s", out);
	cr_assert_eq(log_counter(&t, "http_accepted"), 8);
	cr_assert_eq(log_counter(&t, "http_closed"), 8, "closed when the generator left");
}

Test(load, http_close_run_opens_a_connection_per_request, .timeout = 60)
{
	struct tracker t;
	char out[OUT_MAX];
	const char *extra[] = {"--connections", "8", "--http-close", NULL};

	tracker_start(&t, NULL);
	load_run("--http", &t.http4, extra, out, sizeof(out));
	wait_all_closed(&t);
	tracker_stop(&t);
	assert_clean(out);
	unsigned long long done = json_count(out, "ok_announce") + json_count(out, "ok_scrape");
	cr_assert_gt(done, 100, "%s", out);
	/* Each request had its own connection; the last 8 may have been opened
	 * without a request sent before the run ended. */
	unsigned long long opened = json_count(out, "http_opened");
	cr_assert(opened >= done && opened <= done + 8, "opened %llu for %llu requests", opened,
		  done);
	/* The tracker accepted and closed each of them (and up to 8 whose
	 * connect was still in flight when the generator stopped). */
	unsigned long long accepted = log_counter(&t, "http_accepted");
	cr_assert(accepted >= opened && accepted <= opened + 8, "accepted %llu of %llu", accepted,
		  opened);
	cr_assert_eq(log_counter(&t, "http_closed"), accepted);
}

/* ------------------------------------------------- a wrong responder */

struct liar {
	int fd;
	struct netaddr addr;
	atomic_bool stop;
	pthread_t thread;
};

static void put32(uint8_t *p, uint32_t v)
{
	v = htonl(v);
	memcpy(p, &v, 4);
}

/* Answers connects correctly; announces with a reply one byte short of its
 * header (malformed); scrapes with an error reply. */
static void *liar_main(void *arg)
{
	struct liar *l = arg;
	struct pollfd p = {.fd = l->fd, .events = POLLIN};
	uint8_t in[2048], out[64];

	while (!atomic_load(&l->stop)) {
		if (poll(&p, 1, 50) <= 0)
			continue;
		struct sockaddr_storage from;
		socklen_t fl = sizeof(from);
		ssize_t n = recvfrom(l->fd, in, sizeof(in), 0, (struct sockaddr *)&from, &fl);
		if (n < 16)
			continue;
		uint32_t action;
		memcpy(&action, in + 8, 4);
		action = ntohl(action);
		size_t len = 0;
		memcpy(out + 4, in + 12, 4); /* the transaction id */
		if (action == 0) {
			put32(out, 0);
			memset(out + 8, 0x5a, 8); /* connection id */
			len = 16;
		} else if (action == 1) {
			put32(out, 1);
			memset(out + 8, 0, 11);
			len = 19; /* the header is 20 bytes */
		} else if (action == 2) {
			put32(out, 3);
			memcpy(out + 8, "test says no", 12);
			len = 20;
		}
		if (len)
			sendto(l->fd, out, len, 0, (struct sockaddr *)&from, fl);
	}
	return NULL;
}

static void liar_start(struct liar *l)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t sl = sizeof(sa);

	memset(l, 0, sizeof(*l));
	l->fd = socket(AF_INET, SOCK_DGRAM, 0);
	cr_assert_geq(l->fd, 0);
	cr_assert_eq(bind(l->fd, (struct sockaddr *)&sa, sl), 0);
	cr_assert_eq(getsockname(l->fd, (struct sockaddr *)&sa, &sl), 0);
	cr_assert_eq(netaddr_from_sockaddr((struct sockaddr *)&sa, sl, &l->addr), 0);
	cr_assert_eq(pthread_create(&l->thread, NULL, liar_main, l), 0);
}

static void liar_stop(struct liar *l)
{
	atomic_store(&l->stop, true);
	pthread_join(l->thread, NULL);
	close(l->fd);
}

Test(load, wrong_replies_are_counted_apart, .timeout = 60)
{
	struct liar l;
	char out[OUT_MAX];
	const char *extra[] = {"--window", "16", "--sockets", "4", "--ratio", "4", NULL};

	liar_start(&l);
	load_run("--udp", &l.addr, extra, out, sizeof(out));
	liar_stop(&l);
	cr_assert_eq(json_count(out, "ok_connect"), 4, "%s", out);
	cr_assert_eq(json_count(out, "ok_announce"), 0, "%s", out);
	cr_assert_eq(json_count(out, "ok_scrape"), 0, "%s", out);
	unsigned long long malformed = json_count(out, "malformed");
	unsigned long long errors = json_count(out, "errors");
	cr_assert_eq(malformed, json_count(out, "sent_announce"), "every announce reply: %s", out);
	cr_assert_eq(errors, json_count(out, "sent_scrape"), "every scrape reply: %s", out);
	cr_assert_gt(malformed, 0);
	cr_assert_gt(errors, 0);
	cr_assert(strstr(out, "\"first_error\":\"test says no\""), "%s", out);
	cr_assert_eq(json_count(out, "lost"), 0, "%s", out);
}

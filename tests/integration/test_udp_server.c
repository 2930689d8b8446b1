/* test_udp_server.c - end-to-end tests: starts build/ringtracker (path in
 * RINGTRACKER_BIN) on 127.0.0.1 and ::1 with ephemeral ports and talks BEP 15
 * to it over real UDP sockets on loopback.
 *
 * Each test starts its own server, reads the bound ports from its start-up
 * log, and stops it with SIGTERM, checking a clean exit within a second.
 * Every loop is bounded in count and time.
 */
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "udp_client.h"
#include "netaddr.h"
#include "udp.h"

static void two_peers_see_each_other(const struct netaddr *server)
{
	struct uclient a, b;
	uint8_t reply[2048];
	struct udp_response r;
	struct info_hash ih = hash_of(server->family == AF_INET6 ? 2 : 1);
	size_t rec = server->family == AF_INET6 ? UDP_PEER6_LEN : UDP_PEER4_LEN;

	uc_open(&a, server);
	uc_open(&b, server);
	uc_connect(&a);
	uc_connect(&b);
	uc_announce(&a, &ih, 1111, 1000, UDP_EVENT_STARTED, -1, reply, sizeof(reply), &r);
	cr_assert_eq(r.action, UDP_ACTION_ANNOUNCE);
	cr_assert_eq(r.announce.leechers, 1);
	cr_assert_eq(r.announce.seeders, 0);
	cr_assert_eq(r.announce.peers_len, 0, "the requester must not get itself");

	uc_announce(&b, &ih, 2222, 0, UDP_EVENT_STARTED, -1, reply, sizeof(reply), &r);
	cr_assert_eq(r.announce.leechers, 1);
	cr_assert_eq(r.announce.seeders, 1);
	cr_assert_eq(r.announce.peers_len, rec);
	cr_assert(uc_peers_contain(&r, server, 1111), "B does not see A");

	uc_announce(&a, &ih, 1111, 1000, UDP_EVENT_NONE, -1, reply, sizeof(reply), &r);
	cr_assert_eq(r.announce.peers_len, rec);
	cr_assert(uc_peers_contain(&r, server, 2222), "A does not see B");
	close(a.fd);
	close(b.fd);
}

Test(integration, two_peers_see_each_other_ipv4_and_ipv6, .timeout = 30)
{
	struct tracker t;

	tracker_start(&t, (const char *[]){ "--workers", "2", NULL });
	two_peers_see_each_other(&t.udp4);
	two_peers_see_each_other(&t.udp6);
	tracker_stop(&t);
}

Test(integration, families_are_kept_apart, .timeout = 30)
{
	struct tracker t;
	struct uclient c4, c6;
	uint8_t reply[2048];
	struct udp_response r;
	struct info_hash ih = hash_of(7);

	tracker_start(&t, (const char *[]){ "--workers", "1", NULL });
	uc_open(&c4, &t.udp4);
	uc_open(&c6, &t.udp6);
	uc_connect(&c4);
	uc_connect(&c6);
	uc_announce(&c4, &ih, 4444, 5, UDP_EVENT_STARTED, 50, reply, sizeof(reply), &r);
	uc_announce(&c6, &ih, 6666, 5, UDP_EVENT_STARTED, 50, reply, sizeof(reply), &r);
	cr_assert_eq(r.announce.leechers, 2, "one swarm for both families");
	cr_assert_eq(r.announce.peers_len, 0, "an IPv6 client got IPv4 peers");
	uc_announce(&c4, &ih, 4444, 5, UDP_EVENT_NONE, 50, reply, sizeof(reply), &r);
	cr_assert_eq(r.announce.peers_len, 0, "an IPv4 client got IPv6 peers");
	close(c4.fd);
	close(c6.fd);
	tracker_stop(&t);
}

/* Many torrents from many source ports: with two workers about half of the
 * requests arrive at the worker that does not own the torrent. */
Test(integration, torrents_owned_by_another_worker_work, .timeout = 60)
{
	struct tracker t;
	enum { TORRENTS = 32 };
	uint8_t reply[2048];
	struct udp_response r;

	tracker_start(&t, (const char *[]){ "--workers", "2", NULL });
	for (unsigned i = 0; i < TORRENTS; i++) {
		struct info_hash ih = hash_of(100 + i);
		struct uclient a, b;
		uc_open(&a, &t.udp4);
		uc_open(&b, &t.udp4);
		uc_connect(&a);
		uc_connect(&b);
		uc_announce(&a, &ih, 3000, 10, UDP_EVENT_STARTED, -1, reply, sizeof(reply), &r);
		uc_announce(&b, &ih, 3001, 0, UDP_EVENT_STARTED, -1, reply, sizeof(reply), &r);
		cr_assert_eq(r.announce.seeders, 1, "torrent %u", i);
		cr_assert_eq(r.announce.leechers, 1, "torrent %u", i);
		cr_assert(uc_peers_contain(&r, &t.udp4, 3000), "torrent %u: peer missing", i);
		close(a.fd);
		close(b.fd);
	}
	tracker_stop(&t);
	cr_assert_gt(log_counter(&t, "handoff_sent"), 0, "no handoff happened:\n%s", t.log);
	cr_assert_eq(log_counter(&t, "handoff_received"), log_counter(&t, "handoff_sent"));
	cr_assert_eq(log_counter(&t, "handoff_dropped"), 0);
}

/* A burst from one socket, which the worker can take many datagrams of per
 * turn, looking at the next one (to prefetch its torrent) before it routes
 * the current one. Every torrent is announced twice in the burst, from two
 * ports, and both announces must land at its owner, where a later announce
 * finds them. */
Test(integration, announce_bursts_reach_each_torrents_owner, .timeout = 60)
{
	struct tracker t;
	enum { TORRENTS = 48, BURST = 2 * TORRENTS };
	uint8_t req[128], reply[2048];
	struct udp_response r;
	struct uclient a, b;

	tracker_start(&t, (const char *[]){ "--workers", "2", NULL });
	uc_open(&a, &t.udp4);
	uc_open(&b, &t.udp4);
	uc_connect(&a);
	uc_connect(&b);
	for (unsigned i = 0; i < BURST; i++) {
		struct udp_announce_request q = {
			.info_hash = hash_of(300 + (i * 7) % TORRENTS),
			.left = 10,
			.event = UDP_EVENT_STARTED,
			.num_want = -1,
			.port = (uint16_t)(4000 + i / TORRENTS),
		};
		memset(q.peer_id.b, 'A' + (int)(i / TORRENTS), sizeof(q.peer_id.b));
		int len = udp_write_announce_request(req, sizeof(req), a.connection_id, 1000 + i, &q);
		cr_assert_eq(send(a.fd, req, (size_t)len, 0), len);
	}
	unsigned got = 0;
	struct pollfd p = {.fd = a.fd, .events = POLLIN};
	while (got < BURST && poll(&p, 1, 2000) > 0) {
		ssize_t n = recv(a.fd, reply, sizeof(reply), 0);
		cr_assert_gt(n, 0);
		cr_assert_eq(udp_parse_response(reply, (size_t)n, &r), 0);
		cr_assert_eq(r.action, UDP_ACTION_ANNOUNCE);
		got++;
	}
	cr_assert_eq(got, BURST, "%u of %u replies", got, BURST);
	for (unsigned k = 0; k < TORRENTS; k++) {
		struct info_hash ih = hash_of(300 + k);
		uc_announce(&b, &ih, 5000, 0, UDP_EVENT_STARTED, -1, reply, sizeof(reply), &r);
		cr_assert_eq(r.announce.leechers, 2, "torrent %u", k);
		cr_assert_eq(r.announce.seeders, 1, "torrent %u", k);
		cr_assert(uc_peers_contain(&r, &t.udp4, 4000), "torrent %u: first peer missing", k);
		cr_assert(uc_peers_contain(&r, &t.udp4, 4001), "torrent %u: second peer missing", k);
	}
	close(a.fd);
	close(b.fd);
	tracker_stop(&t);
	cr_assert_gt(log_counter(&t, "handoff_sent"), 0, "no handoff happened:\n%s", t.log);
	cr_assert_eq(log_counter(&t, "handoff_dropped"), 0);
}

Test(integration, scrape_counts_in_request_order, .timeout = 30)
{
	struct tracker t;
	struct uclient a, b;
	uint8_t reply[2048], req[2048];
	struct udp_response r;
	struct info_hash hashes[3] = { hash_of(201), hash_of(202), hash_of(203) };

	tracker_start(&t, (const char *[]){ "--workers", "2", NULL });
	uc_open(&a, &t.udp4);
	uc_open(&b, &t.udp4);
	uc_connect(&a);
	uc_connect(&b);
	/* 201: one seeder that completed, one leecher; 202 unknown; 203: one leecher. */
	uc_announce(&a, &hashes[0], 5000, 0, UDP_EVENT_COMPLETED, -1, reply, sizeof(reply), &r);
	uc_announce(&b, &hashes[0], 5001, 9, UDP_EVENT_STARTED, -1, reply, sizeof(reply), &r);
	uc_announce(&b, &hashes[2], 5001, 9, UDP_EVENT_STARTED, -1, reply, sizeof(reply), &r);

	uint32_t txid = a.next_txid++;
	int len = udp_write_scrape_request(req, sizeof(req), a.connection_id, txid, hashes, 3);
	ssize_t n = uc_exchange(&a, req, (size_t)len, txid, reply, sizeof(reply));
	cr_assert_eq(n, 8 + 3 * 12);
	cr_assert_eq(udp_parse_response(reply, (size_t)n, &r), 0);
	cr_assert_eq(r.action, UDP_ACTION_SCRAPE);
	cr_assert_eq(r.scrape.count, 3);
	struct udp_scrape_entry e0 = udp_scrape_entry_at(&r, 0);
	struct udp_scrape_entry e1 = udp_scrape_entry_at(&r, 1);
	struct udp_scrape_entry e2 = udp_scrape_entry_at(&r, 2);
	cr_assert(e0.seeders == 1 && e0.completed == 1 && e0.leechers == 1);
	cr_assert(e1.seeders == 0 && e1.completed == 0 && e1.leechers == 0);
	cr_assert(e2.seeders == 0 && e2.completed == 0 && e2.leechers == 1);

	/* A scrape of many hashes spanning both shards, all known. */
	struct info_hash many[40];
	for (unsigned i = 0; i < 40; i++) {
		many[i] = hash_of(300 + i);
		uc_announce(&a, &many[i], 5000, i % 2 ? 0 : 7, UDP_EVENT_STARTED, 0, reply,
				sizeof(reply), &r);
	}
	txid = a.next_txid++;
	len = udp_write_scrape_request(req, sizeof(req), a.connection_id, txid, many, 40);
	n = uc_exchange(&a, req, (size_t)len, txid, reply, sizeof(reply));
	cr_assert_eq(n, 8 + 40 * 12);
	cr_assert_eq(udp_parse_response(reply, (size_t)n, &r), 0);
	for (unsigned i = 0; i < 40; i++) {
		struct udp_scrape_entry e = udp_scrape_entry_at(&r, i);
		cr_assert_eq(e.seeders, i % 2 ? 1u : 0u, "hash %u", i);
		cr_assert_eq(e.leechers, i % 2 ? 0u : 1u, "hash %u", i);
	}
	close(a.fd);
	close(b.fd);
	tracker_stop(&t);
}

Test(integration, bad_connection_id_gets_error_and_no_registration, .timeout = 30)
{
	struct tracker t;
	struct uclient c, d;
	uint8_t reply[2048];
	struct udp_response r;
	struct info_hash ih = hash_of(400);

	tracker_start(&t, (const char *[]){ "--workers", "2", NULL });
	uc_open(&c, &t.udp4);
	uc_connect(&c);
	c.connection_id ^= 1; /* forged */
	uc_announce(&c, &ih, 7000, 5, UDP_EVENT_STARTED, -1, reply, sizeof(reply), &r);
	cr_assert_eq(r.action, UDP_ACTION_ERROR);
	cr_assert(r.error.len > 0);

	uc_open(&d, &t.udp4);
	uc_connect(&d);
	uc_announce(&d, &ih, 7001, 5, UDP_EVENT_STARTED, -1, reply, sizeof(reply), &r);
	cr_assert_eq(r.action, UDP_ACTION_ANNOUNCE);
	cr_assert_eq(r.announce.leechers, 1, "the forged announce registered a peer");
	cr_assert_eq(r.announce.peers_len, 0);
	close(c.fd);
	close(d.fd);
	tracker_stop(&t);
}

/* 10,000 junk datagrams of every kind, then a valid announce still works. */
Test(integration, survives_junk, .timeout = 60)
{
	struct tracker t;
	struct uclient c;
	uint8_t junk[4096], reply[2048];
	struct udp_response r;
	struct info_hash ih = hash_of(500);

	tracker_start(&t, (const char *[]){ "--workers", "2", NULL });
	uc_open(&c, &t.udp4);
	uc_connect(&c);
	srand(12345);
	for (int i = 0; i < 10000; i++) {
		size_t len;
		for (size_t k = 0; k < sizeof(junk); k++)
			junk[k] = (uint8_t)rand();
		switch (i % 6) {
		case 0: /* random bytes, random length */
			len = (size_t)rand() % 200;
			break;
		case 1: /* a valid announce cut short */
			len = (size_t)udp_write_announce_request(junk, sizeof(junk), c.connection_id, 1,
								 &(struct udp_announce_request){ .port = 1 });
			len = (size_t)rand() % len;
			break;
		case 2: /* empty datagram: ends a multishot receive */
			len = 0;
			break;
		case 3: /* oversized */
			len = 1501 + (size_t)rand() % 2500;
			break;
		case 4: /* valid id, unknown action */
			len = 16 + (size_t)rand() % 100;
			memcpy(junk, &c.connection_id, 8);
			memcpy(junk + 8, "\0\0\0\x09", 4);
			break;
		default: /* well-formed announce, forged id */
			len = (size_t)udp_write_announce_request(junk, sizeof(junk), (uint64_t)rand(), 1,
								 &(struct udp_announce_request){ .port = 1 });
			break;
		}
		send(c.fd, junk, len, 0);
		if (i % 500 == 0)
			usleep(1000); /* let the tracker keep up; this is not a load test */
	}
	/* Drain the error replies the junk earned. */
	while (recv(c.fd, reply, sizeof(reply), MSG_DONTWAIT) > 0)
		;
	struct uclient v;
	uc_open(&v, &t.udp4);
	uc_connect(&v);
	uc_announce(&v, &ih, 8000, 5, UDP_EVENT_STARTED, -1, reply, sizeof(reply), &r);
	cr_assert_eq(r.action, UDP_ACTION_ANNOUNCE);
	cr_assert_eq(r.announce.leechers, 1);
	close(c.fd);
	close(v.fd);
	tracker_stop(&t);
	cr_assert_gt(log_counter(&t, "udp_malformed_runt"), 0);
	cr_assert_gt(log_counter(&t, "udp_malformed_oversized"), 0);
	cr_assert_gt(log_counter(&t, "udp_malformed_bad_action"), 0);
	cr_assert_gt(log_counter(&t, "udp_connid_invalid"), 0);
	cr_assert_gt(log_counter(&t, "recv_rearm"), 0, "0-byte datagrams must force a re-arm");
}

Test(integration, bad_flags_and_addresses_exit_2, .timeout = 30)
{
	char out[8192];

	cr_assert_eq(run_cli((const char *[]){ "--workers", "abc", NULL }, out, sizeof(out)), 2);
	cr_assert(strstr(out, "--workers"), "%s", out);
	cr_assert_eq(run_cli((const char *[]){ "--bogus", NULL }, out, sizeof(out)), 2);
	cr_assert(strstr(out, "--bogus"), "%s", out);
	cr_assert_eq(run_cli((const char *[]){ "--udp", "[::1:6969", NULL }, out, sizeof(out)), 2);
	cr_assert(strstr(out, "--udp"), "%s", out);
	/* TEST-NET-1: never an address of this machine, so bind fails. */
	cr_assert_eq(run_cli((const char *[]){ "--udp", "192.0.2.1:6969", "--workers", "1", NULL },
			     out, sizeof(out)),
		     2);
	cr_assert(strstr(out, "192.0.2.1:6969"), "%s", out);
	cr_assert_eq(run_cli((const char *[]){ "-c", "/nonexistent/ringtracker.ini", NULL }, out,
			     sizeof(out)),
		     2);
	cr_assert(strstr(out, "/nonexistent/ringtracker.ini"), "%s", out);
}

Test(integration, print_config_round_trips, .timeout = 30)
{
	char first[8192], second[8192];
	char path[] = "/tmp/ringtracker-config-XXXXXX";

	cr_assert_eq(run_cli((const char *[]){ "--udp", "[::1]:7000", "--workers", "3",
					      "--print-config", NULL },
			     first, sizeof(first)),
		     0);
	int fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, first, strlen(first)), (ssize_t)strlen(first));
	close(fd);
	cr_assert_eq(run_cli((const char *[]){ "-c", path, "--print-config", NULL }, second,
			     sizeof(second)),
		     0);
	unlink(path);
	cr_assert_str_eq(first, second);
	cr_assert(strstr(first, "[::1]:7000"));
}

/* Past a limit: an error reply naming it, a counter, and service goes on. */
Test(integration, limits_answer_with_errors_and_keep_serving, .timeout = 30)
{
	struct tracker t;
	struct uclient c[3];
	uint8_t reply[2048];
	struct udp_response r;
	char path[] = "/tmp/ringtracker-limits-XXXXXX";
	const char *ini = "[limits]\nmax_torrents = 2\nmax_peers_per_torrent = 2\n";
	struct info_hash h1 = hash_of(601), h2 = hash_of(602), h3 = hash_of(603);

	int fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, ini, strlen(ini)), (ssize_t)strlen(ini));
	close(fd);
	tracker_start(&t, (const char *[]){ "-c", path, "--workers", "1", NULL });
	unlink(path);
	for (int i = 0; i < 3; i++) {
		uc_open(&c[i], &t.udp4);
		uc_connect(&c[i]);
	}
	uc_announce(&c[0], &h1, 9000, 1, UDP_EVENT_STARTED, -1, reply, sizeof(reply), &r);
	cr_assert_eq(r.action, UDP_ACTION_ANNOUNCE);
	uc_announce(&c[0], &h2, 9000, 1, UDP_EVENT_STARTED, -1, reply, sizeof(reply), &r);
	cr_assert_eq(r.action, UDP_ACTION_ANNOUNCE);
	uc_announce(&c[0], &h3, 9000, 1, UDP_EVENT_STARTED, -1, reply, sizeof(reply), &r);
	cr_assert_eq(r.action, UDP_ACTION_ERROR, "third torrent accepted over the limit");
	cr_assert(memmem(r.error.message, r.error.len, "torrent limit", 13));

	uc_announce(&c[1], &h1, 9001, 1, UDP_EVENT_STARTED, -1, reply, sizeof(reply), &r);
	cr_assert_eq(r.action, UDP_ACTION_ANNOUNCE);
	uc_announce(&c[2], &h1, 9002, 1, UDP_EVENT_STARTED, -1, reply, sizeof(reply), &r);
	cr_assert_eq(r.action, UDP_ACTION_ERROR, "third peer accepted over the limit");
	cr_assert(memmem(r.error.message, r.error.len, "peer limit", 10));

	/* Existing peers and torrents still served. */
	uc_announce(&c[0], &h1, 9000, 1, UDP_EVENT_NONE, -1, reply, sizeof(reply), &r);
	cr_assert_eq(r.action, UDP_ACTION_ANNOUNCE);
	cr_assert_eq(r.announce.leechers, 2);
	for (int i = 0; i < 3; i++)
		close(c[i].fd);
	tracker_stop(&t);
	cr_assert_eq(log_counter(&t, "limit_torrents"), 1);
	cr_assert_eq(log_counter(&t, "limit_peers"), 1);
}

/* A second tracker on a port already served must refuse to start, not
 * silently share the traffic through SO_REUSEPORT. */
Test(integration, second_instance_on_same_port_refused, .timeout = 30)
{
	struct tracker t;
	char out[8192], udp[NETADDR_TEXT_MAX], http[NETADDR_TEXT_MAX];

	tracker_start(&t, (const char *[]){ "--workers", "1", NULL });
	netaddr_format(&t.udp4, udp, sizeof(udp));
	netaddr_format(&t.http4, http, sizeof(http));
	cr_assert_eq(run_cli((const char *[]){ "--udp", udp, "--http", "127.0.0.1:0", NULL }, out,
			     sizeof(out)),
		     2, "%s", out);
	cr_assert(strstr(out, "another tracker"), "%s", out);
	cr_assert_eq(run_cli((const char *[]){ "--udp", "127.0.0.1:0", "--http", http, NULL }, out,
			     sizeof(out)),
		     2, "%s", out);
	cr_assert(strstr(out, "--http"), "%s", out);
	tracker_stop(&t);
}

Test(integration, unusable_cpu_exits_2, .timeout = 30)
{
	char out[8192];

	cr_assert_eq(run_cli((const char *[]){ "--udp", "127.0.0.1:0", "--http", "127.0.0.1:0",
					      "--cpus", "1000", NULL },
			     out, sizeof(out)),
		     2, "%s", out);
	cr_assert(strstr(out, "CPU 1000"), "%s", out);
}

/* SIGHUP: live keys apply to the next requests, fixed ones are named. */
Test(integration, sighup_applies_live_keys, .timeout = 30)
{
	struct tracker t;
	struct uclient c;
	uint8_t reply[2048];
	struct udp_response r;
	struct info_hash ih = hash_of(700);
	char path[] = "/tmp/ringtracker-reload-XXXXXX";
	const char *before = "[tracker]\nannounce_interval = 1800\n";
	const char *after = "[tracker]\nannounce_interval = 600\n[io]\nsend_slots = 99\n";

	int fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, before, strlen(before)), (ssize_t)strlen(before));
	close(fd);
	tracker_start(&t, (const char *[]){ "-c", path, "--workers", "2", NULL });
	uc_open(&c, &t.udp4);
	uc_connect(&c);
	uc_announce(&c, &ih, 1, 1, UDP_EVENT_STARTED, -1, reply, sizeof(reply), &r);
	cr_assert_eq(r.announce.interval, 1800);

	FILE *f = fopen(path, "w");
	cr_assert_not_null(f);
	fputs(after, f);
	fclose(f);
	kill(t.pid, SIGHUP);
	/* Both workers adopt it at their next turn (at most WORKER_IDLE_MS). */
	bool applied = false;
	for (int i = 0; i < 50 && !applied; i++) {
		usleep(20000);
		uc_announce(&c, &ih, 1, 1, UDP_EVENT_NONE, -1, reply, sizeof(reply), &r);
		applied = r.announce.interval == 600;
	}
	cr_assert(applied, "announce_interval not applied after SIGHUP");
	unlink(path);
	close(c.fd);
	tracker_stop(&t);
	cr_assert(strstr(t.log, "SIGHUP: applied announce_interval"), "%s", t.log);
	cr_assert(strstr(t.log, "send_slots cannot change while running"), "%s", t.log);
}

/* Started as root with --user: the process runs as that user once bound,
 * and still serves. */
Test(integration, user_switch_after_binding, .timeout = 30)
{
	struct tracker t;
	struct uclient c;
	char path[64], line[256], out[8192];
	unsigned uid = 0;

	if (geteuid() != 0)
		cr_skip_test("needs root to switch users");
	tracker_start(&t, (const char *[]){ "--user", "nobody", "--workers", "1", NULL });
	snprintf(path, sizeof(path), "/proc/%d/status", (int)t.pid);
	FILE *f = fopen(path, "r");
	cr_assert_not_null(f);
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "Uid: %u", &uid) == 1)
			break;
	fclose(f);
	cr_assert_eq(uid, 65534, "still uid %u", uid);
	uc_open(&c, &t.udp4);
	uc_connect(&c);
	close(c.fd);
	tracker_stop(&t);
	cr_assert(strstr(t.log, "user: running as nobody"), "%s", t.log);

	cr_assert_eq(run_cli((const char *[]){ "--udp", "127.0.0.1:0", "--http=", "--metrics=",
					      "--user", "no-such-user-here", NULL },
			     out, sizeof(out)),
		     2, "%s", out);
	cr_assert(strstr(out, "no such user"), "%s", out);
}

/* A peer that stops announcing is removed by the time-paced expiry sweep
 * (peer_timeout, plus the stamp's 4-second resolution), and counted. */
Test(integration, silent_peers_expire, .timeout = 40)
{
	struct tracker t;
	struct uclient a, b;
	uint8_t reply[2048];
	struct udp_response r;
	struct info_hash ih = hash_of(800);
	char path[] = "/tmp/ringtracker-expiry-XXXXXX";
	const char *ini = "[tracker]\nannounce_interval = 1\npeer_timeout = 1\n";

	int fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, ini, strlen(ini)), (ssize_t)strlen(ini));
	close(fd);
	tracker_start(&t, (const char *[]){ "-c", path, "--workers", "1", NULL });
	unlink(path);
	uc_open(&a, &t.udp4);
	uc_open(&b, &t.udp4);
	uc_connect(&a);
	uc_connect(&b);
	uc_announce(&a, &ih, 9101, 5, UDP_EVENT_STARTED, -1, reply, sizeof(reply), &r);
	uc_announce(&b, &ih, 9102, 5, UDP_EVENT_STARTED, -1, reply, sizeof(reply), &r);
	cr_assert_eq(r.announce.leechers, 2);
	/* Only b keeps announcing; a must go within timeout + stamp resolution. */
	double deadline = now_s() + 15;
	while (r.announce.leechers != 1 && now_s() < deadline) {
		usleep(500000);
		uc_announce(&b, &ih, 9102, 5, UDP_EVENT_NONE, -1, reply, sizeof(reply), &r);
	}
	cr_assert_eq(r.announce.leechers, 1, "the silent peer was never expired");
	cr_assert_not(uc_peers_contain(&r, &t.udp4, 9101));
	close(a.fd);
	close(b.fd);
	tracker_stop(&t);
	cr_assert_geq(log_counter(&t, "peers_expired"), 1);
}

/* A restart on the same ports right after a stop (what systemctl restart
 * does) must find them free: the stopped tracker ends its in-flight
 * requests (multishot receives, an idle HTTP connection's receive) before
 * it exits instead of leaving the kernel to release the sockets later. */
Test(integration, restart_on_same_ports_right_after_stop, .timeout = 60)
{
	struct tracker t;
	char udp[NETADDR_TEXT_MAX], http[NETADDR_TEXT_MAX], page[4096];
	const char *body;

	tracker_start(&t, (const char *[]){ "--workers", "2", NULL });
	struct netaddr u = t.udp4, h = t.http4;
	netaddr_format(&u, udp, sizeof(udp));
	netaddr_format(&h, http, sizeof(http));
	for (int round = 0; round < 3; round++) {
		struct uclient c;
		uc_open(&c, &u);
		uc_connect(&c);
		close(c.fd);
		cr_assert_eq(tracker_http_get(&h, "/scrape", page, sizeof(page), &body), 200);
		/* An idle keep-alive connection: its receive is still pending. */
		int idle = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		struct sockaddr_storage ss;
		socklen_t len = netaddr_to_sockaddr(&h, &ss);
		cr_assert_eq(connect(idle, (struct sockaddr *)&ss, len), 0, "%s", strerror(errno));
		tracker_stop(&t);
		close(idle);
		tracker_start(&t, (const char *[]){ "--workers", "2", "--udp", udp, "--http", http,
						    NULL });
	}
	struct uclient c;
	uc_open(&c, &u);
	uc_connect(&c);
	close(c.fd);
	tracker_stop(&t);
}

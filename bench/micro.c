/* micro.c - microbenchmarks of the tracker's hot paths, one thread, no I/O.
 *
 * Prints ns/op for: swarm announces at 1k and 1M torrents (a mix of new and
 * returning peers, numwant 50); swarm announces over the population `make
 * bench` loads (1M torrents of Zipf(1.0) popularity, 2M peers, so that the
 * most popular swarm holds ~140k peers; returning peers, numwant 50); UDP
 * announce and scrape request parsing; HTTP announce request parsing (head +
 * query); and an SPSC ring handoff (reserve + publish + next + release of a
 * 96-byte record). Each figure is the best of --repeat runs (default 5) of
 * --ops operations. It reports; it never asserts a time. Not part of `make
 * test`.
 *
 * Usage: ringtracker-micro [--ops N] [--repeat R] [--json]
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "http.h"
#include "load.h"
#include "spsc.h"
#include "swarm.h"
#include "udp.h"

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static uint64_t rng_next(uint64_t *s)
{
	*s += 0x9e3779b97f4a7c15ULL;
	uint64_t z = *s;
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static struct info_hash hash_of(uint64_t i)
{
	struct info_hash h;
	uint64_t s = i;

	for (int k = 0; k < 20; k += 8) {
		uint64_t v = rng_next(&s);
		memcpy(h.b + k, &v, k + 8 <= 20 ? 8 : 4);
	}
	return h;
}

/* A swarm table with room for twice `torrents` torrents and no memory limit
 * that a benchmark could reach. */
static struct swarm *bench_swarm_create(uint32_t torrents)
{
	struct swarm_config cfg = {
		.peer_timeout = 3600,
		.max_torrents = torrents * 2,
		.max_peers = 1u << 20,
		.memory_budget = 16ULL << 30,
	};
	uint8_t seed[16] = { 7 };

	return swarm_create(&cfg, seed);
}

/* One announce of IPv4 peer ip:6881 to torrent h, at time 100. */
static void announce_v4(struct swarm *s, struct info_hash h, uint32_t ip, uint32_t numwant,
			bool seeder)
{
	struct swarm_announce a = { .info_hash = h, .numwant = numwant, .seeder = seeder };
	uint8_t out[200 * 6];
	struct swarm_counts counts;

	a.peer.family = AF_INET;
	memcpy(a.peer.ip, &ip, 4);
	a.peer.port = 6881;
	swarm_announce(s, &a, 100, out, sizeof(out), &counts);
}

/* Announces to `torrents` torrents: a warm-up gives each torrent ~4 peers,
 * then ops announces from random (mostly returning) peers are timed. */
static double bench_swarm(uint32_t torrents, uint64_t ops)
{
	struct swarm *s = bench_swarm_create(torrents);
	uint64_t r = 42;

	if (!s)
		return -1;
	for (uint64_t i = 0; i < (uint64_t)torrents * 4; i++) {
		uint32_t ip = (uint32_t)(i / torrents) * 65599u + (uint32_t)i;
		announce_v4(s, hash_of(i % torrents), ip, 0, false);
	}
	double t0 = now_ns();
	for (uint64_t i = 0; i < ops; i++) {
		uint64_t v = rng_next(&r);
		uint32_t ip = (uint32_t)(v >> 32) % (torrents * 8u);
		announce_v4(s, hash_of(v % torrents), ip, 50, (v & 7) == 0);
	}
	double ns = (now_ns() - t0) / (double)ops;
	swarm_destroy(s);
	return ns;
}

/* The population of `make bench`: peers peers, each in one torrent drawn by
 * Zipf(1.0) popularity over torrents, each announced once (untimed); then
 * ops announces from random returning peers, numwant 50, are timed. */
static double bench_swarm_zipf(uint32_t torrents, uint32_t peers, uint64_t ops)
{
	struct load_model model;
	struct load_rng r;
	uint32_t *torrent_of = malloc((size_t)peers * sizeof(*torrent_of));
	struct swarm *s = bench_swarm_create(torrents);
	double ns = -1;

	if (!torrent_of || !s || load_model_init(&model, torrents, 1.0) < 0)
		goto out;
	load_rng_seed(&r, 42);
	for (uint32_t p = 0; p < peers; p++)
		torrent_of[p] = load_model_sample(&model, &r);
	for (uint32_t p = 0; p < peers; p++)
		announce_v4(s, model.hashes[torrent_of[p]], 0x0a000000u + p, 0, (p & 7) == 0);
	double t0 = now_ns();
	for (uint64_t i = 0; i < ops; i++) {
		uint32_t p = load_rng_below(&r, peers);
		announce_v4(s, model.hashes[torrent_of[p]], 0x0a000000u + p, 50, (p & 7) == 0);
	}
	ns = (now_ns() - t0) / (double)ops;
	load_model_free(&model);
out:
	if (s)
		swarm_destroy(s);
	free(torrent_of);
	return ns;
}

static double bench_udp_parse(uint64_t ops, bool scrape)
{
	uint8_t buf[UDP_REQUEST_MAX];
	struct udp_announce_request a = { .port = 6881, .num_want = 50 };
	struct info_hash hashes[10];
	struct udp_request req;
	int len;

	for (int i = 0; i < 10; i++)
		hashes[i] = hash_of((uint64_t)i);
	if (scrape)
		len = udp_write_scrape_request(buf, sizeof(buf), 1, 2, hashes, 10);
	else
		len = udp_write_announce_request(buf, sizeof(buf), 1, 2, &a);
	if (len < 0)
		return -1;
	volatile uint32_t sink = 0;
	double t0 = now_ns();
	for (uint64_t i = 0; i < ops; i++) {
		buf[12] = (uint8_t)i; /* defeat hoisting */
		if (udp_parse_request(buf, (size_t)len, &req) == UDP_PARSE_OK)
			sink += req.transaction_id;
	}
	(void)sink;
	return (now_ns() - t0) / (double)ops;
}

static double bench_http_parse(uint64_t ops)
{
	static const char req_text[] =
		"GET /announce?info_hash=%12%34Vx%9A%BC%DE%F0%12%34Vx%9A%BC%DE%F0%12%34Vx"
		"&peer_id=-qB4500-abcdefghijkl&port=6881&uploaded=0&downloaded=0&left=1000"
		"&corrupt=0&key=1A2B3C4D&event=started&numwant=50&compact=1&no_peer_id=1 "
		"HTTP/1.1\r\nHost: tracker.example:6969\r\nUser-Agent: qBittorrent/4.5.0\r\n"
		"Accept-Encoding: gzip\r\nConnection: close\r\n\r\n";
	struct http_request req;
	struct http_announce ann;
	const char *reason;
	volatile uint32_t sink = 0;
	double t0 = now_ns();

	for (uint64_t i = 0; i < ops; i++) {
		int r = http_parse_request(req_text, sizeof(req_text) - 1, 8192, 16384, NULL, &req);
		if (r > 0 && http_parse_announce(req.query, req.query_len, &ann, &reason) == 0)
			sink += ann.port;
	}
	(void)sink;
	return (now_ns() - t0) / (double)ops;
}

/* One producer and one consumer on the same thread: the cost of the ring's
 * own bookkeeping and copies, batched by 32 as the workers do. */
static double bench_spsc(uint64_t ops)
{
	struct spsc ring;
	uint8_t payload[96] = { 1 };
	uint32_t len;
	uint16_t type;
	volatile uint32_t sink = 0;

	if (spsc_init(&ring, 1 << 20) < 0)
		return -1;
	double t0 = now_ns();
	for (uint64_t i = 0; i < ops; i += 32) {
		for (int k = 0; k < 32; k++) {
			void *p = spsc_reserve(&ring, sizeof(payload), 1);
			if (p)
				memcpy(p, payload, sizeof(payload));
		}
		spsc_publish(&ring);
		const uint8_t *q;
		while ((q = spsc_next(&ring, &len, &type)))
			sink += q[0];
		spsc_release(&ring);
	}
	(void)sink;
	double ns = (now_ns() - t0) / (double)ops;
	spsc_free(&ring);
	return ns;
}

struct result {
	const char *name;
	double ns;
};

static double best_of(int repeat, double (*run)(void *), void *arg)
{
	double best = -1;

	for (int i = 0; i < repeat; i++) {
		double v = run(arg);
		if (v >= 0 && (best < 0 || v < best))
			best = v;
	}
	return best;
}

struct args {
	uint64_t ops;
	uint32_t torrents;
	uint32_t peers; /* kind 5 */
	int kind;
};

static double run_one(void *p)
{
	const struct args *a = p;

	switch (a->kind) {
	case 0:
		return bench_swarm(a->torrents, a->ops);
	case 1:
		return bench_udp_parse(a->ops, false);
	case 2:
		return bench_udp_parse(a->ops, true);
	case 3:
		return bench_http_parse(a->ops);
	case 5:
		return bench_swarm_zipf(a->torrents, a->peers, a->ops);
	default:
		return bench_spsc(a->ops);
	}
}

int main(int argc, char **argv)
{
	uint64_t ops = 2000000;
	int repeat = 5;
	bool json = false;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--ops") && i + 1 < argc) {
			ops = strtoull(argv[++i], NULL, 10);
		} else if (!strcmp(argv[i], "--repeat") && i + 1 < argc) {
			repeat = atoi(argv[++i]);
		} else if (!strcmp(argv[i], "--json")) {
			json = true;
		} else {
			fprintf(stderr, "usage: %s [--ops N] [--repeat R] [--json]\n", argv[0]);
			return 2;
		}
	}
	if (ops < 64 || repeat < 1) {
		fprintf(stderr, "%s: --ops must be >= 64 and --repeat >= 1\n", argv[0]);
		return 2;
	}
	struct {
		const char *name;
		struct args a;
	} cases[] = {
		{ "swarm_announce_1k_torrents", { ops, 1000, 0, 0 } },
		{ "swarm_announce_1M_torrents", { ops, 1000000, 0, 0 } },
		{ "swarm_announce_zipf_2M_peers", { ops, 1000000, 2000000, 5 } },
		{ "udp_parse_announce", { ops * 10, 0, 0, 1 } },
		{ "udp_parse_scrape_10", { ops * 10, 0, 0, 2 } },
		{ "http_parse_announce", { ops, 0, 0, 3 } },
		{ "spsc_handoff_96B", { ops * 10, 0, 0, 4 } },
	};
	size_t n = sizeof(cases) / sizeof(cases[0]);

	if (json)
		printf("{");
	for (size_t i = 0; i < n; i++) {
		/* The 1M-torrent warm-up is heavy: fewer repeats. */
		int reps = cases[i].a.torrents >= 1000000 && repeat > 2 ? 2 : repeat;
		double ns = best_of(reps, run_one, &cases[i].a);
		if (json)
			printf("%s\"%s_ns\":%.2f", i ? "," : "", cases[i].name, ns);
		else
			printf("%-28s %8.1f ns/op\n", cases[i].name, ns);
		fflush(stdout);
	}
	if (json)
		printf("}\n");
	return 0;
}

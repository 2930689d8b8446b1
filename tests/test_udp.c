/* test_udp.c - Criterion tests for the BEP 15 codec (src/udp.c).
 *
 * What it covers: known-answer tests with hand-written bytes for every
 * message of both directions, every udp_parse_error reason, every request and
 * response cut at every length, BEP 41 options, round trips through the
 * writers and parsers, and -ENOSPC with no partial writes.
 * Parsed inputs sit at the very end of a mapping whose next page is
 * PROT_NONE, so a single byte of over-read faults the test.
 * Thread: Criterion runs each test in its own process. Memory: each test
 * maps and unmaps its own guard area. Spec: BEP 15, BEP 41.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "udp.h"

#include "guard.h"

static enum udp_parse_error parse_guarded(struct guard *g, const void *msg, size_t len,
					  struct udp_request *out)
{
	return udp_parse_request(guard_put(g, msg, len), len, out);
}

static int parse_response_guarded(struct guard *g, const void *msg, size_t len,
				  struct udp_response *out)
{
	return udp_parse_response(guard_put(g, msg, len), len, out);
}

/* --- hand-written messages (BEP 15 byte layouts) --- */

/* clang-format off */
/* Connect request, transaction id 0xdeadbeef. */
static const uint8_t connect_req[16] = {
	0x00, 0x00, 0x04, 0x17, 0x27, 0x10, 0x19, 0x80, /* protocol magic */
	0x00, 0x00, 0x00, 0x00,				/* action 0: connect */
	0xde, 0xad, 0xbe, 0xef,				/* transaction id */
};

/* Connect response, transaction id 0xdeadbeef, connection id 0x0123456789abcdef. */
static const uint8_t connect_resp[16] = {
	0x00, 0x00, 0x00, 0x00,				/* action 0 */
	0xde, 0xad, 0xbe, 0xef,				/* transaction id */
	0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef, /* connection id */
};

/* Announce request, 98 bytes; the values are checked in announce_expected. */
static const uint8_t announce_req[98] = {
	0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, /* connection id */
	0x00, 0x00, 0x00, 0x01,				/* action 1: announce */
	0x01, 0x02, 0x03, 0x04,				/* transaction id */
	/* info hash */
	0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8, 0xa9, 0xaa, 0xab, 0xac, 0xad, 0xae,
	0xaf, 0xb0, 0xb1, 0xb2, 0xb3,
	/* peer id "-RT0001-abcdefghijkl" */
	'-', 'R', 'T', '0', '0', '0', '1', '-', 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j',
	'k', 'l',
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10, 0x00, /* downloaded 4096 */
	0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, /* left 2^32 */
	0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, /* uploaded 2^63 + 1 */
	0x00, 0x00, 0x00, 0x02,				/* event 2: started */
	0xc0, 0x00, 0x02, 0x01,				/* ip 192.0.2.1 */
	0xca, 0xfe, 0xf0, 0x0d,				/* key */
	0xff, 0xff, 0xff, 0xff,				/* num_want -1 */
	0x1a, 0xe1,					/* port 6881 */
};
/* clang-format on */

static struct udp_announce_request announce_expected(void)
{
	struct udp_announce_request a = {
	    .downloaded = 4096,
	    .left = UINT64_C(1) << 32,
	    .uploaded = (UINT64_C(1) << 63) + 1,
	    .event = UDP_EVENT_STARTED,
	    .key = 0xcafef00d,
	    .num_want = -1,
	    .port = 6881,
	};
	const uint8_t ip[4] = {192, 0, 2, 1};

	for (int i = 0; i < INFO_HASH_LEN; i++)
		a.info_hash.b[i] = (uint8_t)(0xa0 + i);
	memcpy(a.peer_id.b, "-RT0001-abcdefghijkl", PEER_ID_LEN);
	memcpy(&a.ip, ip, 4);
	return a;
}

/* clang-format off */
/* Scrape request for one hash 0x10..0x23, transaction id 0x0a0b0c0d. */
static const uint8_t scrape1_req[36] = {
	0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, /* connection id */
	0x00, 0x00, 0x00, 0x02,				/* action 2: scrape */
	0x0a, 0x0b, 0x0c, 0x0d,				/* transaction id */
	0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e,
	0x1f, 0x20, 0x21, 0x22, 0x23,
};

/* Scrape request for hashes 0x10..0x23 and 0x30..0x43. */
static const uint8_t scrape2_req[56] = {
	0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, /* connection id */
	0x00, 0x00, 0x00, 0x02,				/* action 2: scrape */
	0x0a, 0x0b, 0x0c, 0x0d,				/* transaction id */
	0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19,
	0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f, 0x20, 0x21, 0x22, 0x23,
	0x30, 0x31, 0x32, 0x33, 0x34, 0x35, 0x36, 0x37, 0x38, 0x39,
	0x3a, 0x3b, 0x3c, 0x3d, 0x3e, 0x3f, 0x40, 0x41, 0x42, 0x43,
};

/* Announce reply: tid 0x01020304, interval 1800, 3 leechers, 5 seeders, then
 * two IPv4 peers 192.0.2.1:6881 and 198.51.100.7:51413. */
static const uint8_t announce4_resp[32] = {
	0x00, 0x00, 0x00, 0x01,				/* action 1: announce */
	0x01, 0x02, 0x03, 0x04,				/* transaction id */
	0x00, 0x00, 0x07, 0x08,				/* interval 1800 s */
	0x00, 0x00, 0x00, 0x03,				/* leechers */
	0x00, 0x00, 0x00, 0x05,				/* seeders */
	0xc0, 0x00, 0x02, 0x01, 0x1a, 0xe1,		/* 192.0.2.1:6881 */
	0xc6, 0x33, 0x64, 0x07, 0xc8, 0xd5,		/* 198.51.100.7:51413 */
};

/* The same header with one IPv6 peer [2001:db8::1]:6881. */
static const uint8_t announce6_resp[38] = {
	0x00, 0x00, 0x00, 0x01,				/* action 1: announce */
	0x01, 0x02, 0x03, 0x04,				/* transaction id */
	0x00, 0x00, 0x07, 0x08,				/* interval 1800 s */
	0x00, 0x00, 0x00, 0x03,				/* leechers */
	0x00, 0x00, 0x00, 0x05,				/* seeders */
	0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00,	/* 2001:db8:: */
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01,	/* ...::1 */
	0x1a, 0xe1,					/* port 6881 */
};

/* Scrape reply, tid 0x0a0b0c0d: {10, 20, 30} and {0xffffffff, 0, 1}. */
static const uint8_t scrape_resp[32] = {
	0x00, 0x00, 0x00, 0x02,				/* action 2: scrape */
	0x0a, 0x0b, 0x0c, 0x0d,				/* transaction id */
	0x00, 0x00, 0x00, 0x0a,				/* seeders 10 */
	0x00, 0x00, 0x00, 0x14,				/* completed 20 */
	0x00, 0x00, 0x00, 0x1e,				/* leechers 30 */
	0xff, 0xff, 0xff, 0xff,				/* seeders 2^32 - 1 */
	0x00, 0x00, 0x00, 0x00,				/* completed 0 */
	0x00, 0x00, 0x00, 0x01,				/* leechers 1 */
};

/* Error reply, tid 0xdeadbeef, "bad id". */
static const uint8_t error_resp[14] = {
	0x00, 0x00, 0x00, 0x03,				/* action 3: error */
	0xde, 0xad, 0xbe, 0xef,				/* transaction id */
	'b', 'a', 'd', ' ', 'i', 'd',			/* message, no NUL */
};
/* clang-format on */

static void assert_announce_eq(const struct udp_announce_request *a,
			       const struct udp_announce_request *b)
{
	cr_assert_arr_eq(a->info_hash.b, b->info_hash.b, INFO_HASH_LEN);
	cr_assert_arr_eq(a->peer_id.b, b->peer_id.b, PEER_ID_LEN);
	cr_assert_eq(a->downloaded, b->downloaded);
	cr_assert_eq(a->left, b->left);
	cr_assert_eq(a->uploaded, b->uploaded);
	cr_assert_eq(a->event, b->event);
	cr_assert_eq(a->ip, b->ip);
	cr_assert_eq(a->key, b->key);
	cr_assert_eq(a->num_want, b->num_want);
	cr_assert_eq(a->port, b->port);
}

/* Builds a 16 + 20n byte scrape request whose hash i has every byte = i + 1. */
static size_t make_scrape(uint8_t *buf, size_t cap, size_t n)
{
	struct info_hash h[UDP_SCRAPE_MAX_HASHES + 1];
	int len;

	cr_assert_leq(n, UDP_SCRAPE_MAX_HASHES + 1);
	for (size_t i = 0; i < n; i++)
		memset(h[i].b, (int)(i + 1), INFO_HASH_LEN);
	len = udp_write_scrape_request(buf, cap, 0x1122334455667788, 0x0a0b0c0d, h, n);
	cr_assert_eq(len, (int)(16 + 20 * n));
	return (size_t)len;
}

/* Writes a 16-byte request header with any action. */
static void put_header(uint8_t *buf, uint64_t cid, uint32_t action, uint32_t tid)
{
	for (int i = 0; i < 8; i++)
		buf[i] = (uint8_t)(cid >> (56 - 8 * i));
	for (int i = 0; i < 4; i++) {
		buf[8 + i] = (uint8_t)(action >> (24 - 8 * i));
		buf[12 + i] = (uint8_t)(tid >> (24 - 8 * i));
	}
}

/* --- known-answer tests: requests --- */

Test(udp, connect_request_kat)
{
	struct udp_request r;
	struct guard g;
	uint8_t out[16];

	cr_assert_eq(udp_write_connect_request(out, sizeof(out), 0xdeadbeef), 16);
	cr_assert_arr_eq(out, connect_req, 16);

	guard_open(&g, 16);
	cr_assert_eq(parse_guarded(&g, connect_req, 16, &r), UDP_PARSE_OK);
	cr_assert_eq(r.action, UDP_ACTION_CONNECT);
	cr_assert_eq(r.connection_id, UDP_PROTOCOL_MAGIC);
	cr_assert_eq(r.transaction_id, 0xdeadbeef);
	guard_close(&g);
}

Test(udp, announce_request_kat)
{
	struct udp_announce_request want = announce_expected();
	struct udp_request r;
	struct guard g;
	uint8_t out[98];

	guard_open(&g, 98);
	cr_assert_eq(parse_guarded(&g, announce_req, 98, &r), UDP_PARSE_OK);
	cr_assert_eq(r.action, UDP_ACTION_ANNOUNCE);
	cr_assert_eq(r.connection_id, 0x1122334455667788);
	cr_assert_eq(r.transaction_id, 0x01020304);
	assert_announce_eq(&r.announce, &want);
	guard_close(&g);

	cr_assert_eq(
	    udp_write_announce_request(out, sizeof(out), 0x1122334455667788, 0x01020304, &want),
	    98);
	cr_assert_arr_eq(out, announce_req, 98);
}

Test(udp, scrape_request_one_hash_kat)
{
	struct info_hash h;
	struct udp_request r;
	struct guard g;
	uint8_t out[36];
	const uint8_t *in;

	for (int i = 0; i < INFO_HASH_LEN; i++)
		h.b[i] = (uint8_t)(0x10 + i);
	cr_assert_eq(
	    udp_write_scrape_request(out, sizeof(out), 0x1122334455667788, 0x0a0b0c0d, &h, 1), 36);
	cr_assert_arr_eq(out, scrape1_req, 36);

	guard_open(&g, 36);
	in = guard_put(&g, scrape1_req, 36);
	cr_assert_eq(udp_parse_request(in, 36, &r), UDP_PARSE_OK);
	cr_assert_eq(r.action, UDP_ACTION_SCRAPE);
	cr_assert_eq(r.connection_id, 0x1122334455667788);
	cr_assert_eq(r.transaction_id, 0x0a0b0c0d);
	cr_assert_eq(r.scrape.count, 1);
	cr_assert_eq((const void *)r.scrape.hashes, (const void *)(in + 16));
	cr_assert_arr_eq(r.scrape.hashes[0].b, h.b, 20);
	guard_close(&g);
}

Test(udp, scrape_request_two_hashes_kat)
{
	struct info_hash h[2];
	struct udp_request r;
	struct guard g;
	uint8_t out[56];

	for (int i = 0; i < INFO_HASH_LEN; i++) {
		h[0].b[i] = (uint8_t)(0x10 + i);
		h[1].b[i] = (uint8_t)(0x30 + i);
	}
	cr_assert_eq(
	    udp_write_scrape_request(out, sizeof(out), 0x1122334455667788, 0x0a0b0c0d, h, 2), 56);
	cr_assert_arr_eq(out, scrape2_req, 56);

	guard_open(&g, 56);
	cr_assert_eq(parse_guarded(&g, scrape2_req, 56, &r), UDP_PARSE_OK);
	cr_assert_eq(r.scrape.count, 2);
	cr_assert_arr_eq(r.scrape.hashes[0].b, h[0].b, 20);
	cr_assert_arr_eq(r.scrape.hashes[1].b, h[1].b, 20);
	guard_close(&g);
}

Test(udp, scrape_request_74_hashes_is_the_maximum)
{
	uint8_t buf[16 + 74 * 20];
	struct udp_request r;
	struct guard g;
	size_t len = make_scrape(buf, sizeof(buf), 74);

	cr_assert_eq(len, 1496);
	guard_open(&g, len);
	cr_assert_eq(parse_guarded(&g, buf, len, &r), UDP_PARSE_OK);
	cr_assert_eq(r.scrape.count, 74);
	cr_assert_eq(r.scrape.hashes[0].b[0], 1);
	cr_assert_eq(r.scrape.hashes[73].b[19], 74);
	guard_close(&g);
}

Test(udp, scrape_request_75_hashes_is_rejected)
{
	uint8_t buf[16 + 75 * 20];
	struct udp_request r;
	struct guard g;
	size_t len = make_scrape(buf, sizeof(buf), 75);

	guard_open(&g, len);
	cr_assert_eq(parse_guarded(&g, buf, len, &r), UDP_PARSE_OVERSIZED);
	cr_assert_eq(r.action, UDP_ACTION_SCRAPE);
	cr_assert_eq(r.transaction_id, 0x0a0b0c0d);
	guard_close(&g);
}

/* --- known-answer tests: responses --- */

Test(udp, connect_response_kat)
{
	struct udp_response r;
	struct guard g;
	uint8_t out[16];

	cr_assert_eq(udp_write_connect(out, sizeof(out), 0xdeadbeef, 0x0123456789abcdef), 16);
	cr_assert_arr_eq(out, connect_resp, 16);

	guard_open(&g, 16);
	cr_assert_eq(parse_response_guarded(&g, connect_resp, 16, &r), 0);
	cr_assert_eq(r.action, UDP_ACTION_CONNECT);
	cr_assert_eq(r.transaction_id, 0xdeadbeef);
	cr_assert_eq(r.connection_id, 0x0123456789abcdef);
	guard_close(&g);
}

/* Checks an announce reply header written by the server against bytes, then
 * parses the whole reply back. */
static void check_announce_resp(const uint8_t *want, size_t len)
{
	struct udp_response r;
	struct guard g;
	uint8_t out[64];
	const uint8_t *in;

	cr_assert_eq(udp_write_announce_header(out, sizeof(out), 0x01020304, 1800, 3, 5), 20);
	memcpy(out + 20, want + 20, len - 20);
	cr_assert_arr_eq(out, want, len);

	guard_open(&g, len);
	in = guard_put(&g, want, len);
	cr_assert_eq(udp_parse_response(in, len, &r), 0);
	cr_assert_eq(r.action, UDP_ACTION_ANNOUNCE);
	cr_assert_eq(r.transaction_id, 0x01020304);
	cr_assert_eq(r.announce.interval, 1800);
	cr_assert_eq(r.announce.leechers, 3);
	cr_assert_eq(r.announce.seeders, 5);
	cr_assert_eq(r.announce.peers, in + 20);
	cr_assert_eq(r.announce.peers_len, len - 20);
	guard_close(&g);
}

Test(udp, announce_response_ipv4_peers_kat)
{
	check_announce_resp(announce4_resp, sizeof(announce4_resp));
	cr_assert_eq((sizeof(announce4_resp) - 20) / UDP_PEER4_LEN, 2);
}

Test(udp, announce_response_ipv6_peers_kat)
{
	check_announce_resp(announce6_resp, sizeof(announce6_resp));
	cr_assert_eq((sizeof(announce6_resp) - 20) / UDP_PEER6_LEN, 1);
}

Test(udp, scrape_response_kat)
{
	const struct udp_scrape_entry e[2] = {{10, 20, 30}, {0xffffffff, 0, 1}};
	struct udp_scrape_entry got;
	struct udp_response r;
	struct guard g;
	uint8_t out[32];

	cr_assert_eq(udp_write_scrape(out, sizeof(out), 0x0a0b0c0d, e, 2), 32);
	cr_assert_arr_eq(out, scrape_resp, 32);

	guard_open(&g, 32);
	cr_assert_eq(parse_response_guarded(&g, scrape_resp, 32, &r), 0);
	cr_assert_eq(r.action, UDP_ACTION_SCRAPE);
	cr_assert_eq(r.transaction_id, 0x0a0b0c0d);
	cr_assert_eq(r.scrape.count, 2);
	got = udp_scrape_entry_at(&r, 1);
	cr_assert_eq(got.seeders, 0xffffffff);
	cr_assert_eq(got.completed, 0);
	cr_assert_eq(got.leechers, 1);
	got = udp_scrape_entry_at(&r, 0);
	cr_assert_eq(got.seeders, 10);
	cr_assert_eq(got.completed, 20);
	cr_assert_eq(got.leechers, 30);
	got = udp_scrape_entry_at(&r, 2); /* out of range reads nothing */
	cr_assert_eq(got.seeders + got.completed + got.leechers, 0);
	guard_close(&g);
}

Test(udp, error_response_kat)
{
	struct udp_response r;
	struct guard g;
	uint8_t out[14];

	cr_assert_eq(udp_write_error(out, sizeof(out), 0xdeadbeef, "bad id"), 14);
	cr_assert_arr_eq(out, error_resp, 14);

	guard_open(&g, 14);
	cr_assert_eq(parse_response_guarded(&g, error_resp, 14, &r), 0);
	cr_assert_eq(r.action, UDP_ACTION_ERROR);
	cr_assert_eq(r.transaction_id, 0xdeadbeef);
	cr_assert_eq(r.error.len, 6);
	cr_assert_arr_eq(r.error.message, "bad id", 6);
	guard_close(&g);
}

/* --- malformed requests: one test per reason --- */

Test(udp, runt_below_16_bytes)
{
	struct udp_request r;
	struct guard g;

	guard_open(&g, 16);
	for (size_t len = 0; len < 16; len++)
		cr_assert_eq(parse_guarded(&g, connect_req, len, &r), UDP_PARSE_RUNT, "len %zu",
			     len);
	guard_close(&g);
}

Test(udp, oversized_above_1500_bytes)
{
	uint8_t buf[1501] = {0};
	struct udp_request r;
	struct guard g;

	memcpy(buf, announce_req, sizeof(announce_req));
	guard_open(&g, sizeof(buf));
	cr_assert_eq(parse_guarded(&g, buf, 1500, &r), UDP_PARSE_OK); /* options */
	cr_assert_eq(parse_guarded(&g, buf, 1501, &r), UDP_PARSE_OVERSIZED);
	cr_assert_eq(r.action, UDP_ACTION_ANNOUNCE);
	cr_assert_eq(r.transaction_id, 0x01020304);

	memcpy(buf, connect_req, sizeof(connect_req));
	cr_assert_eq(parse_guarded(&g, buf, 1501, &r), UDP_PARSE_OVERSIZED);
	cr_assert_eq(r.action, UDP_ACTION_CONNECT);
	cr_assert_eq(r.transaction_id, 0xdeadbeef);
	guard_close(&g);
}

Test(udp, oversized_jumbo_datagram)
{
	static uint8_t buf[65535];
	struct udp_request r;
	struct guard g;

	memcpy(buf, scrape1_req, sizeof(scrape1_req));
	guard_open(&g, sizeof(buf));
	cr_assert_eq(parse_guarded(&g, buf, sizeof(buf), &r), UDP_PARSE_OVERSIZED);
	cr_assert_eq(r.transaction_id, 0x0a0b0c0d);
	guard_close(&g);
}

Test(udp, connect_without_magic)
{
	uint8_t buf[16];
	struct udp_request r;
	struct guard g;

	guard_open(&g, 16);
	put_header(buf, UDP_PROTOCOL_MAGIC ^ 1, 0, 77);
	cr_assert_eq(parse_guarded(&g, buf, 16, &r), UDP_PARSE_BAD_MAGIC);
	cr_assert_eq(r.action, UDP_ACTION_CONNECT);
	cr_assert_eq(r.transaction_id, 77);
	put_header(buf, 0, 0, 77);
	cr_assert_eq(parse_guarded(&g, buf, 16, &r), UDP_PARSE_BAD_MAGIC);
	guard_close(&g);
}

Test(udp, bad_length_for_each_action)
{
	uint8_t buf[128] = {0};
	const size_t connect_lens[] = {17, 20, 98};
	const size_t scrape_lens[] = {16, 17, 35, 37, 55, 57, 97};
	struct udp_request r;
	struct guard g;

	guard_open(&g, sizeof(buf));
	memcpy(buf, connect_req, 16);
	for (size_t i = 0; i < sizeof(connect_lens) / sizeof(connect_lens[0]); i++) {
		cr_assert_eq(parse_guarded(&g, buf, connect_lens[i], &r), UDP_PARSE_BAD_LENGTH);
		cr_assert_eq(r.transaction_id, 0xdeadbeef);
	}
	memcpy(buf, announce_req, 98);
	for (size_t len = 16; len < 98; len++) {
		cr_assert_eq(parse_guarded(&g, buf, len, &r), UDP_PARSE_BAD_LENGTH);
		cr_assert_eq(r.action, UDP_ACTION_ANNOUNCE);
	}
	memcpy(buf, scrape2_req, 56);
	for (size_t i = 0; i < sizeof(scrape_lens) / sizeof(scrape_lens[0]); i++) {
		cr_assert_eq(parse_guarded(&g, buf, scrape_lens[i], &r), UDP_PARSE_BAD_LENGTH,
			     "len %zu", scrape_lens[i]);
		cr_assert_eq(r.action, UDP_ACTION_SCRAPE);
		cr_assert_eq(r.transaction_id, 0x0a0b0c0d);
	}
	guard_close(&g);
}

Test(udp, unknown_action)
{
	const uint32_t actions[] = {UDP_ACTION_ERROR, 4, 0x100, 0x80000000u, 0xffffffffu};
	uint8_t buf[98] = {0};
	struct udp_request r;
	struct guard g;

	guard_open(&g, sizeof(buf));
	for (size_t i = 0; i < sizeof(actions) / sizeof(actions[0]); i++) {
		put_header(buf, UDP_PROTOCOL_MAGIC, actions[i], 0x55aa55aa);
		cr_assert_eq(parse_guarded(&g, buf, 16, &r), UDP_PARSE_BAD_ACTION);
		cr_assert_eq((uint32_t)r.action, actions[i]);
		cr_assert_eq(r.transaction_id, 0x55aa55aa);
		cr_assert_eq(parse_guarded(&g, buf, 98, &r), UDP_PARSE_BAD_ACTION);
	}
	guard_close(&g);
}

Test(udp, announce_event_range)
{
	const uint8_t bad[][4] = {{0, 0, 0, 4}, {0, 0, 1, 0}, {0xff, 0xff, 0xff, 0xff}};
	uint8_t buf[98];
	struct udp_request r;
	struct guard g;

	guard_open(&g, sizeof(buf));
	memcpy(buf, announce_req, 98);
	for (uint8_t ev = 0; ev <= 3; ev++) {
		buf[83] = ev;
		cr_assert_eq(parse_guarded(&g, buf, 98, &r), UDP_PARSE_OK);
		cr_assert_eq(r.announce.event, ev);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memcpy(buf + 80, bad[i], 4);
		cr_assert_eq(parse_guarded(&g, buf, 98, &r), UDP_PARSE_BAD_EVENT);
		cr_assert_eq(r.action, UDP_ACTION_ANNOUNCE);
		cr_assert_eq(r.transaction_id, 0x01020304);
	}
	guard_close(&g);
}

Test(udp, parse_error_names)
{
	for (int i = 0; i < UDP_PARSE_ERROR_COUNT; i++) {
		const char *a = udp_parse_error_name((enum udp_parse_error)i);

		cr_assert(a && a[0]);
		for (int j = 0; j < i; j++)
			cr_assert_str_neq(a, udp_parse_error_name((enum udp_parse_error)j));
	}
	cr_assert_str_eq(udp_parse_error_name(UDP_PARSE_RUNT), "runt");
	cr_assert_str_eq(udp_parse_error_name(UDP_PARSE_BAD_LENGTH), "bad length");
	cr_assert_not_null(udp_parse_error_name(UDP_PARSE_ERROR_COUNT));
	cr_assert_not_null(udp_parse_error_name((enum udp_parse_error) - 1));
}

/* --- truncation: every valid request cut at every length --- */

/* Cuts msg at every length below len. Announce cuts at >= 98 and scrape cuts
 * at 16 + 20k (k >= 1) are themselves valid requests; all others must fail
 * with RUNT below 16 bytes and BAD_LENGTH above. */
static void check_cuts(const uint8_t *msg, size_t len)
{
	struct udp_request r;
	struct guard g;
	uint32_t action = msg[11];

	guard_open(&g, len);
	for (size_t cut = 0; cut < len; cut++) {
		enum udp_parse_error e = parse_guarded(&g, msg, cut, &r);
		bool valid = (action == UDP_ACTION_ANNOUNCE && cut >= 98) ||
			     (action == UDP_ACTION_SCRAPE && cut > 16 && (cut - 16) % 20 == 0);

		if (valid)
			cr_assert_eq(e, UDP_PARSE_OK, "cut %zu", cut);
		else
			cr_assert_eq(e, cut < 16 ? UDP_PARSE_RUNT : UDP_PARSE_BAD_LENGTH, "cut %zu",
				     cut);
		if (valid && action == UDP_ACTION_SCRAPE)
			cr_assert_eq(r.scrape.count, (cut - 16) / 20);
	}
	guard_close(&g);
}

Test(udp, truncated_requests_never_parse)
{
	uint8_t big[16 + 74 * 20];
	size_t big_len = make_scrape(big, sizeof(big), 74);

	check_cuts(connect_req, sizeof(connect_req));
	check_cuts(announce_req, sizeof(announce_req));
	check_cuts(scrape1_req, sizeof(scrape1_req));
	check_cuts(scrape2_req, sizeof(scrape2_req));
	check_cuts(big, big_len);
}

/* Announce followed by BEP 41 options: URLData "/ann?x" then EndOfOptions. */
static size_t make_announce_with_options(uint8_t *buf)
{
	const uint8_t opts[] = {0x02, 0x06, '/', 'a', 'n', 'n', '?', 'x', 0x00, 0x01};

	memcpy(buf, announce_req, 98);
	memcpy(buf + 98, opts, sizeof(opts));
	return 98 + sizeof(opts);
}

Test(udp, bep41_options_are_tolerated)
{
	struct udp_announce_request want = announce_expected();
	uint8_t buf[1500];
	struct udp_request r;
	struct guard g;
	size_t len = make_announce_with_options(buf);

	guard_open(&g, sizeof(buf));
	cr_assert_eq(parse_guarded(&g, buf, len, &r), UDP_PARSE_OK);
	assert_announce_eq(&r.announce, &want);
	check_cuts(buf, len);

	/* Options up to the size limit, even junk ones, are not looked at. */
	memset(buf + 98, 0xff, sizeof(buf) - 98);
	cr_assert_eq(parse_guarded(&g, buf, sizeof(buf), &r), UDP_PARSE_OK);
	assert_announce_eq(&r.announce, &want);
	guard_close(&g);
}

/* --- truncation: every valid response cut at every length --- */

Test(udp, truncated_responses)
{
	struct udp_response r;
	struct guard g;

	guard_open(&g, 64);
	for (size_t cut = 0; cut < 16; cut++)
		cr_assert_eq(parse_response_guarded(&g, connect_resp, cut, &r), -EINVAL);
	for (size_t cut = 0; cut < sizeof(announce4_resp); cut++)
		cr_assert_eq(parse_response_guarded(&g, announce4_resp, cut, &r),
			     cut < 20 ? -EINVAL : 0, "cut %zu", cut);
	for (size_t cut = 0; cut < sizeof(scrape_resp); cut++)
		cr_assert_eq(parse_response_guarded(&g, scrape_resp, cut, &r),
			     cut >= 8 && (cut - 8) % 12 == 0 ? 0 : -EINVAL, "cut %zu", cut);
	for (size_t cut = 0; cut < sizeof(error_resp); cut++) {
		cr_assert_eq(parse_response_guarded(&g, error_resp, cut, &r),
			     cut < 8 ? -EINVAL : 0);
		if (cut >= 8)
			cr_assert_eq(r.error.len, cut - 8);
	}
	guard_close(&g);
}

Test(udp, malformed_responses)
{
	uint8_t buf[17];
	struct udp_response r;
	struct guard g;

	guard_open(&g, sizeof(buf));
	memcpy(buf, connect_resp, 16);
	buf[16] = 0;
	cr_assert_eq(parse_response_guarded(&g, buf, 17, &r), -EINVAL);
	buf[3] = 4; /* unknown action */
	cr_assert_eq(parse_response_guarded(&g, buf, 16, &r), -EPROTO);
	buf[0] = 0x80;
	cr_assert_eq(parse_response_guarded(&g, buf, 8, &r), -EPROTO);
	guard_close(&g);
}

/* --- round trips --- */

Test(udp, announce_client_to_server_round_trip)
{
	const int32_t wants[] = {-1, 0, 50, INT32_MAX, INT32_MIN};
	const uint16_t ports[] = {0, 1, 6881, 65535};
	struct udp_announce_request a = announce_expected();
	uint8_t out[98];
	struct udp_request r;
	struct guard g;

	guard_open(&g, sizeof(out));
	for (uint32_t ev = 0; ev <= 3; ev++) {
		for (size_t i = 0; i < 5; i++) {
			a.event = ev;
			a.num_want = wants[i];
			a.port = ports[i % 4];
			a.ip = ev * 0x01010101u;
			a.left = ev == 1 ? 0 : UINT64_MAX - i;
			a.info_hash.b[i] ^= 0xff;
			cr_assert_eq(
			    udp_write_announce_request(out, sizeof(out), ~(uint64_t)i, ev, &a), 98);
			cr_assert_eq(parse_guarded(&g, out, 98, &r), UDP_PARSE_OK);
			cr_assert_eq(r.connection_id, ~(uint64_t)i);
			cr_assert_eq(r.transaction_id, ev);
			assert_announce_eq(&r.announce, &a);
		}
	}
	guard_close(&g);
}

Test(udp, scrape_client_to_server_round_trip)
{
	uint8_t out[16 + 74 * 20];
	struct udp_request r;
	struct guard g;

	guard_open(&g, sizeof(out));
	for (size_t n = 1; n <= 74; n++) {
		size_t len = make_scrape(out, sizeof(out), n);
		const uint8_t *in = guard_put(&g, out, len);

		cr_assert_eq(udp_parse_request(in, len, &r), UDP_PARSE_OK);
		cr_assert_eq(r.scrape.count, n);
		cr_assert_eq((const void *)r.scrape.hashes, (const void *)(in + 16));
		for (size_t i = 0; i < n; i++)
			cr_assert_eq(r.scrape.hashes[i].b[i % 20], i + 1);
	}
	guard_close(&g);
}

Test(udp, server_to_client_round_trip)
{
	struct udp_scrape_entry e[74];
	uint8_t out[8 + 74 * 12];
	struct udp_response r;
	struct guard g;
	int len;

	guard_open(&g, sizeof(out));
	for (size_t n = 0; n <= 74; n++) {
		for (size_t i = 0; i < n; i++)
			e[i] = (struct udp_scrape_entry){(uint32_t)i, (uint32_t)(i << 8),
							 (uint32_t)(i << 24)};
		len = udp_write_scrape(out, sizeof(out), (uint32_t)n, e, n);
		cr_assert_eq(len, (int)(8 + 12 * n));
		cr_assert_eq(parse_response_guarded(&g, out, (size_t)len, &r), 0);
		cr_assert_eq(r.transaction_id, n);
		cr_assert_eq(r.scrape.count, n);
		for (size_t i = 0; i < n; i++) {
			struct udp_scrape_entry got = udp_scrape_entry_at(&r, i);

			cr_assert_eq(got.seeders, e[i].seeders);
			cr_assert_eq(got.completed, e[i].completed);
			cr_assert_eq(got.leechers, e[i].leechers);
		}
	}

	len = udp_write_connect(out, sizeof(out), 1, UINT64_MAX);
	cr_assert_eq(parse_response_guarded(&g, out, (size_t)len, &r), 0);
	cr_assert_eq(r.connection_id, UINT64_MAX);

	len = udp_write_announce_header(out, sizeof(out), 2, 0xffffffff, 0, 7);
	cr_assert_eq(parse_response_guarded(&g, out, (size_t)len, &r), 0);
	cr_assert_eq(r.announce.interval, 0xffffffff);
	cr_assert_eq(r.announce.seeders, 7);
	cr_assert_eq(r.announce.peers_len, 0);

	len = udp_write_error(out, sizeof(out), 3, "");
	cr_assert_eq(len, 8);
	cr_assert_eq(parse_response_guarded(&g, out, (size_t)len, &r), 0);
	cr_assert_eq(r.action, UDP_ACTION_ERROR);
	cr_assert_eq(r.error.len, 0);
	guard_close(&g);
}

/* --- writers: -ENOSPC below the exact size, no byte written --- */

/* Calls write(buf, cap) for cap = need - 1 (must be -ENOSPC and leave the
 * canary intact) and for cap = need at the end of a guard area. */
#define CHECK_CAP(need, call)                                                                      \
	do {                                                                                       \
		struct guard g_;                                                                   \
		uint8_t *buf;                                                                      \
		size_t cap;                                                                        \
		guard_open(&g_, (need));                                                           \
		buf = guard_slot(&g_, (need));                                                     \
		memset(buf, 0x5a, (need));                                                         \
		cap = (need)-1;                                                                    \
		cr_assert_eq((call), -ENOSPC, "cap %zu", cap);                                     \
		for (size_t i_ = 0; i_ < (need); i_++)                                             \
			cr_assert_eq(buf[i_], 0x5a, "byte %zu written on -ENOSPC", i_);            \
		cap = 0;                                                                           \
		cr_assert_eq((call), -ENOSPC);                                                     \
		cap = (need);                                                                      \
		cr_assert_eq((call), (int)(need));                                                 \
		guard_close(&g_);                                                                  \
	} while (0)

Test(udp, writers_report_enospc)
{
	const struct udp_scrape_entry e[3] = {{1, 2, 3}, {4, 5, 6}, {7, 8, 9}};
	struct udp_announce_request a = announce_expected();
	struct info_hash h[3] = {{{0}}};

	CHECK_CAP(16, udp_write_connect(buf, cap, 1, 2));
	CHECK_CAP(20, udp_write_announce_header(buf, cap, 1, 2, 3, 4));
	CHECK_CAP(8 + 3 * 12, udp_write_scrape(buf, cap, 1, e, 3));
	CHECK_CAP(8, udp_write_scrape(buf, cap, 1, e, 0));
	CHECK_CAP(8 + 11, udp_write_error(buf, cap, 1, "hello world"));
	CHECK_CAP(16, udp_write_connect_request(buf, cap, 1));
	CHECK_CAP(98, udp_write_announce_request(buf, cap, 1, 2, &a));
	CHECK_CAP(16 + 3 * 20, udp_write_scrape_request(buf, cap, 1, 2, h, 3));
}

Test(udp, writers_reject_counts_that_overflow)
{
	uint8_t buf[64];
	struct udp_scrape_entry e = {0};
	struct info_hash h = {{0}};

	cr_assert_eq(udp_write_scrape(buf, sizeof(buf), 1, &e, SIZE_MAX / 12 + 1), -ENOSPC);
	cr_assert_eq(udp_write_scrape_request(buf, sizeof(buf), 1, 2, &h, SIZE_MAX / 20 + 1),
		     -ENOSPC);
}

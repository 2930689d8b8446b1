/* fuzz_udp.c - libFuzzer harness for the BEP 15 codec (src/udp.c).
 *
 * What it does: feeds every input to udp_parse_request and udp_parse_response
 * from an exactly-sized heap copy (so ASan sees any over-read), then checks
 * that what parsed re-encodes, through the writers, to the very same bytes,
 * and that failures report the reason the length and header imply. Any
 * mismatch is __builtin_trap().
 * What it doesn't: check semantics beyond the codec (connection ids, swarm).
 * Thread: libFuzzer's, one input at a time. Memory: one heap copy per input,
 * freed before returning. Spec: BEP 15, BEP 41 (options after byte 98).
 * Seeds: tests/fuzz/corpus/udp/.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "udp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond))                                                                       \
			__builtin_trap();                                                          \
	} while (0)

static uint32_t be32_at(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* A request that parsed must be re-written byte for byte (an announce up to
 * byte 98: BEP 41 options are not kept). */
static void check_request_ok(const uint8_t *buf, size_t len, const struct udp_request *r)
{
	uint8_t out[UDP_REQUEST_MAX];
	int n = -1;

	switch (r->action) {
	case UDP_ACTION_CONNECT:
		CHECK(r->connection_id == UDP_PROTOCOL_MAGIC);
		n = udp_write_connect_request(out, sizeof(out), r->transaction_id);
		CHECK(n == (int)len);
		break;
	case UDP_ACTION_ANNOUNCE:
		CHECK(r->announce.event <= UDP_EVENT_STOPPED);
		n = udp_write_announce_request(out, sizeof(out), r->connection_id,
					       r->transaction_id, &r->announce);
		CHECK(n == UDP_ANNOUNCE_REQUEST_LEN && len >= (size_t)n);
		break;
	case UDP_ACTION_SCRAPE:
		CHECK(r->scrape.count >= 1 && r->scrape.count <= UDP_SCRAPE_MAX_HASHES);
		CHECK(r->scrape.count == (len - 16) / INFO_HASH_LEN);
		CHECK((const uint8_t *)r->scrape.hashes == buf + 16);
		n = udp_write_scrape_request(out, sizeof(out), r->connection_id, r->transaction_id,
					     r->scrape.hashes, r->scrape.count);
		CHECK(n == (int)len);
		break;
	default:
		CHECK(0);
	}
	CHECK(memcmp(out, buf, (size_t)n) == 0);
}

static void check_request(const uint8_t *buf, size_t len)
{
	struct udp_request r;
	enum udp_parse_error e = udp_parse_request(buf, len, &r);

	CHECK((unsigned)e < UDP_PARSE_ERROR_COUNT);
	CHECK(udp_parse_error_name(e) != NULL);
	CHECK((e == UDP_PARSE_RUNT) == (len < 16));
	if (e == UDP_PARSE_RUNT)
		return;
	CHECK((uint32_t)r.action == be32_at(buf + 8));
	CHECK(r.transaction_id == be32_at(buf + 12));
	CHECK((e == UDP_PARSE_OVERSIZED) == (len > UDP_REQUEST_MAX));
	CHECK((e == UDP_PARSE_BAD_ACTION) == (e != UDP_PARSE_OVERSIZED && (uint32_t)r.action > 2));
	if (e == UDP_PARSE_OK)
		check_request_ok(buf, len, &r);
}

/* Re-writes each entry of a parsed scrape reply and compares it in place. */
static void check_scrape_entries(const uint8_t *buf, const struct udp_response *r)
{
	uint8_t out[8 + UDP_SCRAPE_ENTRY_LEN];

	for (size_t i = 0; i < r->scrape.count; i++) {
		struct udp_scrape_entry e = udp_scrape_entry_at(r, i);

		CHECK(udp_write_scrape(out, sizeof(out), r->transaction_id, &e, 1) ==
		      (int)sizeof(out));
		CHECK(memcmp(out, buf, 8) == 0);
		CHECK(memcmp(out + 8, buf + 8 + i * UDP_SCRAPE_ENTRY_LEN, UDP_SCRAPE_ENTRY_LEN) ==
		      0);
	}
}

/* Re-writes an error reply whose text holds no NUL (the writer takes a C
 * string). */
static void check_error_reply(const uint8_t *buf, size_t len, const struct udp_response *r)
{
	char *msg;
	uint8_t *out;

	CHECK(r->error.message == (const char *)buf + 8 && r->error.len == len - 8);
	if (memchr(r->error.message, 0, r->error.len))
		return;
	msg = malloc(r->error.len + 1);
	out = malloc(len);
	if (msg && out) {
		memcpy(msg, r->error.message, r->error.len);
		msg[r->error.len] = '\0';
		CHECK(udp_write_error(out, len, r->transaction_id, msg) == (int)len);
		CHECK(memcmp(out, buf, len) == 0);
		CHECK(udp_write_error(out, len - 1, r->transaction_id, msg) == -ENOSPC);
	}
	free(out);
	free(msg);
}

static void check_response_ok(const uint8_t *buf, size_t len, const struct udp_response *r)
{
	uint8_t out[UDP_ANNOUNCE_RESPONSE_HEADER];

	switch (r->action) {
	case UDP_ACTION_CONNECT:
		CHECK(len == 16);
		CHECK(udp_write_connect(out, sizeof(out), r->transaction_id, r->connection_id) ==
		      16);
		CHECK(memcmp(out, buf, 16) == 0);
		break;
	case UDP_ACTION_ANNOUNCE:
		CHECK(udp_write_announce_header(out, sizeof(out), r->transaction_id,
						r->announce.interval, r->announce.leechers,
						r->announce.seeders) == 20);
		CHECK(memcmp(out, buf, 20) == 0);
		CHECK(r->announce.peers == buf + 20 && r->announce.peers_len == len - 20);
		break;
	case UDP_ACTION_SCRAPE:
		CHECK(r->scrape.entries == buf + 8);
		CHECK(r->scrape.count * UDP_SCRAPE_ENTRY_LEN == len - 8);
		check_scrape_entries(buf, r);
		break;
	case UDP_ACTION_ERROR:
		check_error_reply(buf, len, r);
		break;
	default:
		CHECK(0);
	}
}

static void check_response(const uint8_t *buf, size_t len)
{
	struct udp_response r;
	int rc = udp_parse_response(buf, len, &r);

	CHECK(rc == 0 || rc == -EINVAL || rc == -EPROTO);
	if (len < 8)
		CHECK(rc == -EINVAL);
	if (rc == -EPROTO)
		CHECK(be32_at(buf) > UDP_ACTION_ERROR);
	if (rc == 0) {
		CHECK(r.transaction_id == be32_at(buf + 4));
		check_response_ok(buf, len, &r);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *buf = malloc(size);

	if (!buf && size)
		return 0;
	if (size)
		memcpy(buf, data, size);
	check_request(buf, size);
	check_response(buf, size);
	free(buf);
	return 0;
}

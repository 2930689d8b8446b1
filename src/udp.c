/* udp.c - BEP 15 UDP tracker protocol codec.
 *
 * What it does: parses request datagrams into struct udp_request (server
 * side) and response datagrams into struct udp_response (client side), and
 * writes every message of both directions.
 * What it doesn't: no I/O, no connection id checks (connid.c), no swarm
 * logic, no BEP 41 option parsing (options after byte 98 of an announce are
 * accepted and skipped), no peer list encoding (the caller appends compact
 * peers after udp_write_announce_header).
 * Thread: pure functions, any thread, no state.
 * Memory: never allocates; parsed hashes, peers, scrape entries and error
 * messages point into the caller's buffer. Writers take a capacity and write
 * nothing at all when the message does not fit (-ENOSPC).
 * Wire: big-endian integers at fixed offsets, read and written with memcpy so
 * that no access is unaligned. Spec: BEP 15, BEP 41 (options tolerated).
 */
#include <assert.h>
#include <endian.h>
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <string.h>

#include "udp.h"

static_assert(_Alignof(struct info_hash) == 1, "scrape hashes point into unaligned buffers");
static_assert(UDP_CONNECT_REQUEST_LEN + (UDP_SCRAPE_MAX_HASHES + 1) * INFO_HASH_LEN >
		  UDP_REQUEST_MAX,
	      "a scrape of more than 74 hashes is oversized");

/* --- big-endian load/store at any alignment --- */

static uint64_t get64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return be64toh(v);
}

static uint32_t get32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return be32toh(v);
}

static uint16_t get16(const uint8_t *p)
{
	uint16_t v;

	memcpy(&v, p, sizeof(v));
	return be16toh(v);
}

static void put64(uint8_t *p, uint64_t v)
{
	v = htobe64(v);
	memcpy(p, &v, sizeof(v));
}

static void put32(uint8_t *p, uint32_t v)
{
	v = htobe32(v);
	memcpy(p, &v, sizeof(v));
}

static void put16(uint8_t *p, uint16_t v)
{
	v = htobe16(v);
	memcpy(p, &v, sizeof(v));
}

/* True when a message of header + n * item bytes fits in cap (and in an int
 * return value); stores that length in *len. */
static bool fits(size_t cap, size_t header, size_t n, size_t item, size_t *len)
{
	if (cap < header || n > (cap - header) / item)
		return false;
	*len = header + n * item;
	return *len <= INT_MAX;
}

/* --- server side: requests in --- */

/* Request offsets (BEP 15). */
enum {
	REQ_CONNECTION_ID = 0,
	REQ_ACTION = 8,
	REQ_TRANSACTION_ID = 12,
	REQ_BODY = 16,
	ANN_INFO_HASH = 16,
	ANN_PEER_ID = 36,
	ANN_DOWNLOADED = 56,
	ANN_LEFT = 64,
	ANN_UPLOADED = 72,
	ANN_EVENT = 80,
	ANN_IP = 84,
	ANN_KEY = 88,
	ANN_NUM_WANT = 92,
	ANN_PORT = 96,
};

static enum udp_parse_error parse_connect(size_t len, struct udp_request *out)
{
	if (len != UDP_CONNECT_REQUEST_LEN)
		return UDP_PARSE_BAD_LENGTH;
	if (out->connection_id != UDP_PROTOCOL_MAGIC)
		return UDP_PARSE_BAD_MAGIC;
	return UDP_PARSE_OK;
}

static enum udp_parse_error parse_announce(const uint8_t *buf, size_t len,
					   struct udp_announce_request *a)
{
	if (len < UDP_ANNOUNCE_REQUEST_LEN)
		return UDP_PARSE_BAD_LENGTH;
	memcpy(a->info_hash.b, buf + ANN_INFO_HASH, INFO_HASH_LEN);
	memcpy(a->peer_id.b, buf + ANN_PEER_ID, PEER_ID_LEN);
	a->downloaded = get64(buf + ANN_DOWNLOADED);
	a->left = get64(buf + ANN_LEFT);
	a->uploaded = get64(buf + ANN_UPLOADED);
	a->event = get32(buf + ANN_EVENT);
	memcpy(&a->ip, buf + ANN_IP, sizeof(a->ip)); /* stays in network order */
	a->key = get32(buf + ANN_KEY);
	a->num_want = (int32_t)get32(buf + ANN_NUM_WANT);
	a->port = get16(buf + ANN_PORT);
	if (a->event > UDP_EVENT_STOPPED)
		return UDP_PARSE_BAD_EVENT;
	return UDP_PARSE_OK;
}

static enum udp_parse_error parse_scrape(const uint8_t *buf, size_t len,
					 struct udp_scrape_request *s)
{
	size_t body = len - REQ_BODY;

	if (body % INFO_HASH_LEN != 0 || body == 0 || body / INFO_HASH_LEN > UDP_SCRAPE_MAX_HASHES)
		return UDP_PARSE_BAD_LENGTH;
	s->count = (uint32_t)(body / INFO_HASH_LEN);
	s->hashes = (const struct info_hash *)(buf + REQ_BODY);
	return UDP_PARSE_OK;
}

enum udp_parse_error udp_parse_request(const uint8_t *buf, size_t len, struct udp_request *out)
{
	uint32_t action;

	memset(out, 0, sizeof(*out));
	if (len < REQ_BODY)
		return UDP_PARSE_RUNT;
	action = get32(buf + REQ_ACTION);
	out->action = (enum udp_action)action;
	out->connection_id = get64(buf + REQ_CONNECTION_ID);
	out->transaction_id = get32(buf + REQ_TRANSACTION_ID);
	if (len > UDP_REQUEST_MAX)
		return UDP_PARSE_OVERSIZED;
	switch (action) {
	case UDP_ACTION_CONNECT:
		return parse_connect(len, out);
	case UDP_ACTION_ANNOUNCE:
		return parse_announce(buf, len, &out->announce);
	case UDP_ACTION_SCRAPE:
		return parse_scrape(buf, len, &out->scrape);
	default:
		return UDP_PARSE_BAD_ACTION;
	}
}

const char *udp_parse_error_name(enum udp_parse_error e)
{
	static const char *const names[UDP_PARSE_ERROR_COUNT] = {
	    [UDP_PARSE_OK] = "ok",
	    [UDP_PARSE_RUNT] = "runt",
	    [UDP_PARSE_OVERSIZED] = "oversized",
	    [UDP_PARSE_BAD_MAGIC] = "bad magic",
	    [UDP_PARSE_BAD_LENGTH] = "bad length",
	    [UDP_PARSE_BAD_ACTION] = "bad action",
	    [UDP_PARSE_BAD_EVENT] = "bad event",
	};

	if ((unsigned)e >= UDP_PARSE_ERROR_COUNT)
		return "unknown";
	return names[e];
}

/* --- server side: replies out --- */

/* Writes the 8-byte action + transaction id header every reply starts with. */
static void put_reply_header(uint8_t *buf, enum udp_action action, uint32_t transaction_id)
{
	put32(buf, action);
	put32(buf + 4, transaction_id);
}

int udp_write_connect(uint8_t *buf, size_t cap, uint32_t transaction_id, uint64_t connection_id)
{
	if (cap < UDP_CONNECT_RESPONSE_LEN)
		return -ENOSPC;
	put_reply_header(buf, UDP_ACTION_CONNECT, transaction_id);
	put64(buf + 8, connection_id);
	return UDP_CONNECT_RESPONSE_LEN;
}

int udp_write_announce_header(uint8_t *buf, size_t cap, uint32_t transaction_id, uint32_t interval,
			      uint32_t leechers, uint32_t seeders)
{
	if (cap < UDP_ANNOUNCE_RESPONSE_HEADER)
		return -ENOSPC;
	put_reply_header(buf, UDP_ACTION_ANNOUNCE, transaction_id);
	put32(buf + 8, interval);
	put32(buf + 12, leechers);
	put32(buf + 16, seeders);
	return UDP_ANNOUNCE_RESPONSE_HEADER;
}

int udp_write_scrape(uint8_t *buf, size_t cap, uint32_t transaction_id,
		     const struct udp_scrape_entry *entries, size_t n)
{
	size_t len;

	if (!fits(cap, 8, n, UDP_SCRAPE_ENTRY_LEN, &len))
		return -ENOSPC;
	put_reply_header(buf, UDP_ACTION_SCRAPE, transaction_id);
	for (size_t i = 0; i < n; i++) {
		uint8_t *p = buf + 8 + i * UDP_SCRAPE_ENTRY_LEN;

		put32(p, entries[i].seeders);
		put32(p + 4, entries[i].completed);
		put32(p + 8, entries[i].leechers);
	}
	return (int)len;
}

int udp_write_error(uint8_t *buf, size_t cap, uint32_t transaction_id, const char *msg)
{
	size_t n = strlen(msg), len;

	if (!fits(cap, UDP_ERROR_HEADER, n, 1, &len))
		return -ENOSPC;
	put_reply_header(buf, UDP_ACTION_ERROR, transaction_id);
	memcpy(buf + UDP_ERROR_HEADER, msg, n);
	return (int)len;
}

/* --- client side: requests out --- */

static void put_request_header(uint8_t *buf, uint64_t connection_id, enum udp_action action,
			       uint32_t transaction_id)
{
	put64(buf + REQ_CONNECTION_ID, connection_id);
	put32(buf + REQ_ACTION, action);
	put32(buf + REQ_TRANSACTION_ID, transaction_id);
}

int udp_write_connect_request(uint8_t *buf, size_t cap, uint32_t transaction_id)
{
	if (cap < UDP_CONNECT_REQUEST_LEN)
		return -ENOSPC;
	put_request_header(buf, UDP_PROTOCOL_MAGIC, UDP_ACTION_CONNECT, transaction_id);
	return UDP_CONNECT_REQUEST_LEN;
}

int udp_write_announce_request(uint8_t *buf, size_t cap, uint64_t connection_id,
			       uint32_t transaction_id, const struct udp_announce_request *r)
{
	if (cap < UDP_ANNOUNCE_REQUEST_LEN)
		return -ENOSPC;
	put_request_header(buf, connection_id, UDP_ACTION_ANNOUNCE, transaction_id);
	memcpy(buf + ANN_INFO_HASH, r->info_hash.b, INFO_HASH_LEN);
	memcpy(buf + ANN_PEER_ID, r->peer_id.b, PEER_ID_LEN);
	put64(buf + ANN_DOWNLOADED, r->downloaded);
	put64(buf + ANN_LEFT, r->left);
	put64(buf + ANN_UPLOADED, r->uploaded);
	put32(buf + ANN_EVENT, r->event);
	memcpy(buf + ANN_IP, &r->ip, sizeof(r->ip)); /* already network order */
	put32(buf + ANN_KEY, r->key);
	put32(buf + ANN_NUM_WANT, (uint32_t)r->num_want);
	put16(buf + ANN_PORT, r->port);
	return UDP_ANNOUNCE_REQUEST_LEN;
}

int udp_write_scrape_request(uint8_t *buf, size_t cap, uint64_t connection_id,
			     uint32_t transaction_id, const struct info_hash *hashes, size_t n)
{
	size_t len;

	if (!fits(cap, REQ_BODY, n, INFO_HASH_LEN, &len))
		return -ENOSPC;
	put_request_header(buf, connection_id, UDP_ACTION_SCRAPE, transaction_id);
	if (n)
		memcpy(buf + REQ_BODY, hashes, n * INFO_HASH_LEN);
	return (int)len;
}

/* --- client side: replies in --- */

static int parse_announce_reply(const uint8_t *buf, size_t len, struct udp_response *out)
{
	if (len < UDP_ANNOUNCE_RESPONSE_HEADER)
		return -EINVAL;
	out->announce.interval = get32(buf + 8);
	out->announce.leechers = get32(buf + 12);
	out->announce.seeders = get32(buf + 16);
	out->announce.peers = buf + UDP_ANNOUNCE_RESPONSE_HEADER;
	out->announce.peers_len = len - UDP_ANNOUNCE_RESPONSE_HEADER;
	return 0;
}

static int parse_scrape_reply(const uint8_t *buf, size_t len, struct udp_response *out)
{
	if ((len - 8) % UDP_SCRAPE_ENTRY_LEN != 0)
		return -EINVAL;
	out->scrape.entries = buf + 8;
	out->scrape.count = (len - 8) / UDP_SCRAPE_ENTRY_LEN;
	return 0;
}

int udp_parse_response(const uint8_t *buf, size_t len, struct udp_response *out)
{
	uint32_t action;

	memset(out, 0, sizeof(*out));
	if (len < 8)
		return -EINVAL;
	action = get32(buf);
	out->action = (enum udp_action)action;
	out->transaction_id = get32(buf + 4);
	switch (action) {
	case UDP_ACTION_CONNECT:
		if (len != UDP_CONNECT_RESPONSE_LEN)
			return -EINVAL;
		out->connection_id = get64(buf + 8);
		return 0;
	case UDP_ACTION_ANNOUNCE:
		return parse_announce_reply(buf, len, out);
	case UDP_ACTION_SCRAPE:
		return parse_scrape_reply(buf, len, out);
	case UDP_ACTION_ERROR:
		out->error.message = (const char *)buf + UDP_ERROR_HEADER;
		out->error.len = len - UDP_ERROR_HEADER;
		return 0;
	default:
		return -EPROTO;
	}
}

struct udp_scrape_entry udp_scrape_entry_at(const struct udp_response *r, size_t i)
{
	struct udp_scrape_entry e = {0};
	const uint8_t *p;

	if (i >= r->scrape.count)
		return e;
	p = r->scrape.entries + i * UDP_SCRAPE_ENTRY_LEN;
	e.seeders = get32(p);
	e.completed = get32(p + 4);
	e.leechers = get32(p + 8);
	return e;
}

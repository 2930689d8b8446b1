/* udp.h - BEP 15 (UDP tracker protocol) codec: bytes in, structs out, and back.
 *
 * Pure: no I/O, no allocation, no global state; callable from any thread.
 * Parsed requests point into the caller's buffer and are valid until the
 * caller recycles it. All wire integers are big-endian.
 *
 * Server side: udp_parse_request + udp_write_{connect,announce_header,
 * scrape,error}. Client side (tests, load generator, client tool):
 * udp_write_*_request + udp_parse_response.
 */
#ifndef RINGTRACKER_UDP_H
#define RINGTRACKER_UDP_H

#include <stddef.h>
#include <stdint.h>

#include "ids.h"

#define UDP_PROTOCOL_MAGIC 0x41727101980ULL

#define UDP_CONNECT_REQUEST_LEN 16
#define UDP_ANNOUNCE_REQUEST_LEN 98 /* minimum; BEP 41 options may follow */
#define UDP_SCRAPE_REQUEST_MIN 36   /* 16 + one hash */
#define UDP_SCRAPE_MAX_HASHES 74    /* BEP 15: what fits in a 1500-byte MTU */
#define UDP_REQUEST_MAX 1500        /* anything longer is malformed */

#define UDP_CONNECT_RESPONSE_LEN 16
#define UDP_ANNOUNCE_RESPONSE_HEADER 20 /* compact peers follow */
#define UDP_SCRAPE_ENTRY_LEN 12
#define UDP_ERROR_HEADER 8 /* message text follows, not NUL-ended */

#define UDP_PEER4_LEN 6  /* 4 address bytes + 2 port bytes */
#define UDP_PEER6_LEN 18 /* 16 address bytes + 2 port bytes */

enum udp_action {
	UDP_ACTION_CONNECT = 0,
	UDP_ACTION_ANNOUNCE = 1,
	UDP_ACTION_SCRAPE = 2,
	UDP_ACTION_ERROR = 3,
};

/* Announce event codes as BEP 15 numbers them. */
enum udp_event {
	UDP_EVENT_NONE = 0,
	UDP_EVENT_COMPLETED = 1,
	UDP_EVENT_STARTED = 2,
	UDP_EVENT_STOPPED = 3,
};

struct udp_announce_request {
	struct info_hash info_hash;
	struct peer_id peer_id;
	uint64_t downloaded; /* bytes */
	uint64_t left;       /* bytes; 0 means seeder */
	uint64_t uploaded;   /* bytes */
	uint32_t event;      /* enum udp_event; validated to 0..3 */
	uint32_t ip;         /* as sent, network order; the server ignores it */
	uint32_t key;
	int32_t num_want; /* -1 means the server's default */
	uint16_t port;    /* host order: the peer's listening port */
};

struct udp_scrape_request {
	uint32_t count;                 /* 1..UDP_SCRAPE_MAX_HASHES */
	const struct info_hash *hashes; /* points into the parsed buffer */
};

struct udp_request {
	enum udp_action action;
	uint64_t connection_id; /* the magic for connect */
	uint32_t transaction_id;
	union {
		struct udp_announce_request announce;
		struct udp_scrape_request scrape;
	};
};

/* Why a request was not parsed; counted per reason by the worker. */
enum udp_parse_error {
	UDP_PARSE_OK = 0,
	UDP_PARSE_RUNT,       /* < 16 bytes: no action or transaction id */
	UDP_PARSE_OVERSIZED,  /* > UDP_REQUEST_MAX bytes */
	UDP_PARSE_BAD_MAGIC,  /* connect without the protocol magic */
	UDP_PARSE_BAD_LENGTH, /* length does not fit the action */
	UDP_PARSE_BAD_ACTION, /* action not 0, 1 or 2 */
	UDP_PARSE_BAD_EVENT,  /* announce event not 0..3 */
	UDP_PARSE_ERROR_COUNT
};

/* Parses one request datagram of len bytes. Returns UDP_PARSE_OK and fills
 * *out, or a reason. When the reason is not RUNT, out->action and
 * out->transaction_id are still filled (so an error reply can be sent).
 * Connect: exactly 16 bytes. Announce: >= 98 bytes (BEP 41 options after
 * byte 98 are ignored). Scrape: 16 + 20k bytes, 1 <= k <= 74. */
enum udp_parse_error udp_parse_request(const uint8_t *buf, size_t len, struct udp_request *out);

/* Short readable name of a parse error ("runt", "bad length", ...). */
const char *udp_parse_error_name(enum udp_parse_error e);

/* --- server replies; each returns the bytes written or -ENOSPC --- */

int udp_write_connect(uint8_t *buf, size_t cap, uint32_t transaction_id, uint64_t connection_id);

/* Writes the 20-byte announce reply header; the caller puts compact peers
 * (6 or 18 bytes each) right after it. */
int udp_write_announce_header(uint8_t *buf, size_t cap, uint32_t transaction_id,
			      uint32_t interval, uint32_t leechers, uint32_t seeders);

struct udp_scrape_entry {
	uint32_t seeders;
	uint32_t completed;
	uint32_t leechers;
};

/* Writes a scrape reply with n entries, in request order. */
int udp_write_scrape(uint8_t *buf, size_t cap, uint32_t transaction_id,
		     const struct udp_scrape_entry *entries, size_t n);

/* Writes an error reply (action 3) carrying msg (not NUL-ended on the wire). */
int udp_write_error(uint8_t *buf, size_t cap, uint32_t transaction_id, const char *msg);

/* --- client side: requests, and parsing the tracker's responses --- */

int udp_write_connect_request(uint8_t *buf, size_t cap, uint32_t transaction_id);

/* Writes a 98-byte announce request; r->ip is written as given. */
int udp_write_announce_request(uint8_t *buf, size_t cap, uint64_t connection_id,
			       uint32_t transaction_id, const struct udp_announce_request *r);

int udp_write_scrape_request(uint8_t *buf, size_t cap, uint64_t connection_id,
			     uint32_t transaction_id, const struct info_hash *hashes, size_t n);

struct udp_response {
	enum udp_action action;
	uint32_t transaction_id;
	union {
		uint64_t connection_id; /* connect */
		struct {
			uint32_t interval; /* seconds */
			uint32_t leechers;
			uint32_t seeders;
			const uint8_t *peers; /* points into the buffer */
			size_t peers_len;     /* bytes; caller knows 6 or 18 */
		} announce;
		struct {
			const uint8_t *entries; /* 12 bytes each, into the buffer */
			size_t count;
		} scrape;
		struct {
			const char *message; /* into the buffer, not NUL-ended */
			size_t len;
		} error;
	};
};

/* Parses a tracker response. Returns 0, or -EINVAL when the length does not
 * fit the action (connect 16, announce >= 20, scrape 8 + 12k, error >= 8),
 * or -EPROTO for an unknown action. */
int udp_parse_response(const uint8_t *buf, size_t len, struct udp_response *out);

/* Reads scrape entry i of a parsed scrape response. */
struct udp_scrape_entry udp_scrape_entry_at(const struct udp_response *r, size_t i);

#endif

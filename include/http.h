/* http.h - HTTP/1.x request parsing and response writing for the tracker
 * (BEP 3 announce, BEP 48 scrape, BEP 7 peers6, BEP 23 compact, BEP 24).
 *
 * Pure: no I/O, no allocation, any thread. Parsed fields point into the
 * caller's buffer and stay valid until it is recycled. Only what a tracker
 * needs is parsed: the request line, Connection, Content-Length,
 * Transfer-Encoding and one configurable forwarding header.
 */
#ifndef RINGTRACKER_HTTP_H
#define RINGTRACKER_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ids.h"

#define HTTP_SCRAPE_MAX 256 /* hard ceiling on hashes in one scrape */

enum http_method { HTTP_GET, HTTP_HEAD, HTTP_OTHER };

struct http_request {
	enum http_method method;
	const char *path;     /* "/announce"; not NUL-ended */
	size_t path_len;
	const char *query;    /* after '?', not decoded; NULL when none */
	size_t query_len;
	int minor;            /* HTTP/1.<minor>: 0 or 1 */
	bool keep_alive;      /* 1.1 unless "Connection: close"; 1.0 only with keep-alive */
	const char *forwarded; /* value of the forwarding header, trimmed; NULL if absent */
	size_t forwarded_len;
	size_t header_len;    /* bytes from the start through the blank line */
};

/* Result of http_parse_request besides a header length. */
enum {
	HTTP_INCOMPLETE = -1,     /* need more bytes (a prefix of a valid request) */
	HTTP_BAD_REQUEST = -2,    /* 400: malformed, or has a body */
	HTTP_URI_TOO_LONG = -3,   /* 414: request line longer than max_line */
	HTTP_HEADERS_TOO_LARGE = -4, /* 431: header block longer than max_header */
	HTTP_BAD_VERSION = -5,    /* 505: not HTTP/1.0 or HTTP/1.1 */
};

/* Parses one request head from buf[0..len). fwd_header names the forwarding
 * header to pick up (e.g. "X-Forwarded-For", case-insensitive) or is NULL.
 * Returns header_len (> 0) and fills *out, or one of the negative codes
 * above. max_line bounds the request line without its line end; max_header
 * bounds the whole head through the blank line. Never reads beyond buf + len. A request with a body
 * (Content-Length > 0 or Transfer-Encoding) is HTTP_BAD_REQUEST. */
int http_parse_request(const char *buf, size_t len, size_t max_line, size_t max_header,
		       const char *fwd_header, struct http_request *out);

/* Decodes %XX and '+' of a query value into out (capacity cap).
 * Returns the decoded length, or -EINVAL for a bad escape, -ENOSPC. */
int http_percent_decode(const char *in, size_t len, uint8_t *out, size_t cap);

enum http_event { HTTP_EVENT_NONE, HTTP_EVENT_COMPLETED, HTTP_EVENT_STARTED, HTTP_EVENT_STOPPED };

struct http_announce {
	struct info_hash info_hash;
	struct peer_id peer_id;
	uint16_t port;        /* host order, 1..65535 */
	uint64_t uploaded, downloaded, left; /* bytes */
	enum http_event event;
	bool compact;         /* default true; compact=0 asks for the dictionary model */
	bool no_peer_id;
	int32_t numwant;      /* -1 when absent */
};

/* Parses an announce query string (BEP 3). Required: info_hash (20 bytes
 * after decoding), peer_id (20 bytes), port (1..65535), and left; uploaded and
 * downloaded default to 0. Unknown keys are ignored (ip, key, trackerid, ...).
 * Returns 0, or -EINVAL with *reason set to a readable static message naming
 * the parameter ("missing info_hash", "info_hash must be 20 bytes", ...). */
int http_parse_announce(const char *query, size_t len, struct http_announce *out,
			const char **reason);

/* Parses a scrape query: every info_hash parameter, in order, into hashes
 * (capacity cap). Returns the count (0 when none: a full scrape request), or
 * -EINVAL with *reason (bad hash, or more than cap hashes). */
int http_parse_scrape(const char *query, size_t len, struct info_hash *hashes, size_t cap,
		      const char **reason);

/* --- bencoded bodies (keys in sorted order, as BEP 3 needs) --- */

struct http_announce_reply {
	uint32_t interval;     /* seconds */
	uint32_t min_interval; /* seconds */
	uint32_t complete;     /* seeders */
	uint32_t incomplete;   /* leechers */
	uint32_t downloaded;
	const uint8_t *peers4; /* compact 6-byte records (ip, port; network order) */
	size_t peers4_len;     /* bytes */
	const uint8_t *peers6; /* compact 18-byte records */
	size_t peers6_len;     /* bytes */
	bool compact;          /* false: "peers" is a list of {ip, port} dictionaries
				* (no "peer id": the tracker does not keep them) */
	const uint8_t *external_ip; /* BEP 24: the client's address as seen, or NULL */
	size_t external_ip_len;     /* 4 or 16 */
};

/* Writes the announce reply dictionary: complete, downloaded, external ip,
 * incomplete, interval, min interval, peers, peers6 (compact: peers6 only
 * when there are IPv6 peers; dictionary model: both families in "peers").
 * Returns the bytes written, or -ENOSPC. */
int http_announce_body(uint8_t *buf, size_t cap, const struct http_announce_reply *r);

/* Writes d14:failure reason<n>:<reason>e. Returns bytes or -ENOSPC. */
int http_failure_body(uint8_t *buf, size_t cap, const char *reason);

struct http_scrape_file {
	struct info_hash info_hash;
	uint32_t complete;   /* seeders */
	uint32_t downloaded;
	uint32_t incomplete; /* leechers */
};

/* Writes d5:filesd<hash>d8:completei..e10:downloadedi..e10:incompletei..eee..ee
 * with the hashes sorted by raw bytes and duplicates written once (n <=
 * HTTP_SCRAPE_MAX; files is not modified). Returns bytes or -ENOSPC, or
 * -EINVAL when n > HTTP_SCRAPE_MAX. */
int http_scrape_body(uint8_t *buf, size_t cap, const struct http_scrape_file *files, size_t n);

/* Writes a complete response head and body: status line with the standard
 * reason phrase for status (200, 400, 404, 405, 414, 431, 503, 505),
 * Content-Type (omitted when content_type is NULL), Content-Length, and
 * "Connection: close" or keep-alive. Returns the bytes written, or -ENOSPC
 * (then nothing is written). */
int http_write_response(char *buf, size_t cap, int status, const char *content_type,
			const void *body, size_t body_len, bool keep_alive);

#endif

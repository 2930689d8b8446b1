/* client.h - shared types of ringtracker-client, a command-line client for
 * any BitTorrent tracker: UDP (BEP 15) and HTTP (BEP 3, 23, 7, 48).
 *
 * The tool is single-threaded and short-lived. Results own their peer and
 * file arrays (heap; client_result_free). Every network wait is bounded by
 * the request's timeout. Functions return 0 or -errno; a tracker's own "no"
 * (an error reply, a failure reason) is -EPROTO with the text in
 * result->error.
 */
#ifndef RINGTRACKER_CLIENT_H
#define RINGTRACKER_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>

#include "ids.h"
#include "udp.h"

#define CLIENT_HOST_MAX	  256  /* host text from a URL, with its NUL */
#define CLIENT_PATH_MAX	  2048 /* path and query from a URL, with its NUL */
#define CLIENT_ERROR_MAX  512  /* an error message, with its NUL */
#define CLIENT_PEER_TEXT  300  /* "host:port" of one peer, with its NUL */
#define CLIENT_MAX_HASHES 256  /* info hashes in one scrape (UDP: 74) */

enum client_scheme { CLIENT_UDP, CLIENT_HTTP };

/* udp://HOST:PORT[/...] or http://HOST[:PORT][/path[?query]]. */
struct client_url {
	enum client_scheme scheme;
	char host[CLIENT_HOST_MAX]; /* without IPv6 brackets */
	bool host_is_v6;	    /* was written as [v6] */
	char port[6];		    /* decimal text, for getaddrinfo */
	char path[CLIENT_PATH_MAX]; /* http: "/announce?..."; udp: unused */
};

enum client_action { CLIENT_ANNOUNCE, CLIENT_SCRAPE };

struct client_request {
	enum client_action action;
	struct info_hash hashes[CLIENT_MAX_HASHES]; /* announce: hashes[0] */
	size_t n_hashes;
	enum udp_event event;	/* BEP 15 numbering; HTTP maps it to words */
	uint64_t left;		/* bytes */
	uint64_t uploaded;	/* bytes */
	uint64_t downloaded;	/* bytes */
	int32_t numwant;	/* -1: the tracker's default */
	uint16_t port;		/* the peer's listening port */
	struct peer_id peer_id; /* raw bytes */
	uint32_t key;		/* random, as clients send it */
	bool compact;		/* HTTP: compact=1 (default) or 0 */
	int family;		/* AF_UNSPEC, or AF_INET/AF_INET6 to force one */
	int timeout_ms;		/* UDP: per try; HTTP: per wait */
	int tries;		/* UDP tries per message */
};

struct client_peer {
	char text[CLIENT_PEER_TEXT]; /* "1.2.3.4:6881", "[::1]:6881" or "name:6881" */
};

struct client_file {
	struct info_hash info_hash;
	int64_t seeders;
	int64_t completed;
	int64_t leechers;
};

struct client_result {
	char error[CLIENT_ERROR_MAX];	/* non-empty when the request failed */
	char warning[CLIENT_ERROR_MAX]; /* HTTP "warning message", if any */
	char address[64];		/* the tracker address used, "[v6]:port" */
	char external_ip[64];		/* BEP 24: our address as the tracker saw it */
	int64_t interval;		/* seconds */
	int64_t min_interval;		/* seconds; -1 when not sent */
	int64_t seeders;
	int64_t leechers;
	int64_t completed; /* HTTP "downloaded"; -1 when not sent */
	struct client_peer *peers;
	size_t n_peers, cap_peers;
	struct client_file *files;
	size_t n_files, cap_files;
	double connect_ms; /* UDP connect exchange / TCP handshake */
	double time_ms;	   /* the whole request, after name resolution */
};

void client_result_init(struct client_result *r);
void client_result_free(struct client_result *r);

/* Sets r->error (printf format) and returns -err (pass a positive errno). */
int client_fail(struct client_result *r, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Puts "step: " before r->error unless it already starts so. */
void client_error_prefix(struct client_result *r, const char *step);

/* Appends a peer / a file. Returns 0 or -ENOMEM. */
int client_add_peer(struct client_result *r, const char *text);
int client_add_file(struct client_result *r, const struct client_file *f);

/* Appends the compact peers of rec bytes each (6: IPv4, 18: IPv6) in p. */
int client_add_compact_peers(struct client_result *r, const uint8_t *p, size_t len, size_t rec);

/* Writes len bytes of text as a JSON string; invalid UTF-8 becomes U+FFFD. */
void client_json_string(FILE *f, const void *text, size_t len);

/* Prints r as one line of JSON: counts and peers or files, or the error. */
void client_print_json(FILE *f, const char *tracker, enum client_action action,
		       const struct client_result *r);

/* Milliseconds on the monotonic clock. */
double client_now_ms(void);

/* --- client_url.c --- */

/* Parses a tracker URL. Returns 0, or -EINVAL with *why set (static text). */
int client_url_parse(const char *text, struct client_url *u, const char **why);

/* Derives the BEP 48 scrape URL: the last path segment must start with
 * "announce", which becomes "scrape" (query kept). Returns 0 or -ENOTSUP. */
int client_url_scrape(const struct client_url *announce, struct client_url *scrape);

/* Resolves u with getaddrinfo for socktype (SOCK_DGRAM/SOCK_STREAM) in the
 * given family (AF_UNSPEC: both). Returns 0 and *out (freeaddrinfo it), or
 * -ENOENT with r->error set. */
struct addrinfo;
int client_resolve(const struct client_url *u, int socktype, int family, struct addrinfo **out,
		   struct client_result *r);

/* "host:port" text of a sockaddr, IPv6 in brackets. */
void client_format_sockaddr(const struct sockaddr *sa, socklen_t len, char *buf, size_t cap);

/* --- client_udp.c: BEP 15 over a connected UDP socket --- */

/* Which errors mean "try the tracker's next address": the network, not the
 * tracker, said no. */
bool client_try_next_address(int err);

/* Runs one announce or scrape (connect first) against u, trying each
 * resolved address in turn until one answers. Returns 0, -EPROTO (tracker
 * said no), or -errno (timeout, refused, ...), with r->error set. */
int client_udp_run(const struct client_url *u, const struct client_request *rq,
		   struct client_result *r);

/* The check: connect, announce (started), scrape, then a best-effort
 * stopped announce. Fills the three times. Returns 0 or -errno with
 * r->error naming the failing step. */
int client_udp_check(const struct client_url *u, const struct client_request *rq,
		     struct client_result *r, double *connect_ms, double *announce_ms,
		     double *scrape_ms);

/* --- client_http.c: BEP 3 announce and BEP 48 scrape over HTTP/1.1 --- */

/* Runs one announce or scrape (rq->action) against the announce URL u; a
 * scrape goes to client_url_scrape(u). Returns like client_udp_run. */
int client_http_run(const struct client_url *u, const struct client_request *rq,
		    struct client_result *r);

/* The check over HTTP: announce (started; connect_ms is the TCP
 * handshake), scrape, then a best-effort stopped announce. */
int client_http_check(const struct client_url *u, const struct client_request *rq,
		      struct client_result *r, double *connect_ms, double *announce_ms,
		      double *scrape_ms);

/* --- client_reply.c: pure decoding of HTTP responses and bodies --- */

struct client_http_head {
	int status;	    /* 100..999 */
	const char *reason; /* not NUL-ended */
	size_t reason_len;
	int64_t content_length; /* -1 when absent */
	bool chunked;		/* Transfer-Encoding: chunked */
	size_t head_len;	/* bytes through the blank line */
};

/* Parses a response head in buf[0..len). Returns head_len (> 0), -EAGAIN
 * when the blank line has not arrived, or -EPROTO when malformed. */
int client_http_parse_head(const char *buf, size_t len, struct client_http_head *h);

/* Decodes a chunked body. With out == NULL only checks: returns the decoded
 * length once the last chunk and trailers are in buf, -EAGAIN before, or
 * -EPROTO. With out (capacity >= len; may equal buf) also writes the data. */
long client_http_dechunk(const uint8_t *buf, size_t len, uint8_t *out);

/* Fills r from a bencoded announce / scrape reply body. Returns 0, -EPROTO
 * for a failure reason (text in r->error), or -EINVAL / -ENOMEM. */
int client_decode_announce(const uint8_t *body, size_t len, struct client_result *r);
int client_decode_scrape(const uint8_t *body, size_t len, struct client_result *r);

#endif

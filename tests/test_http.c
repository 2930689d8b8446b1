/* test_http.c - Criterion tests for the HTTP tracker codec (src/http.c).
 *
 * What it covers: typical client requests (libtorrent/qBittorrent,
 * Transmission, behind a proxy, HTTP/1.0 with and without keep-alive, bare
 * LF, a pipelined pair) each cut at every byte, which must answer
 * HTTP_INCOMPLETE until the head is whole; malformed request lines, headers,
 * versions and bodies; the 414 and 431 limits at their exact edges; the
 * announce and scrape query decoders, with every missing or bad parameter;
 * percent-decoding; byte-exact bodies (compact and dictionary announce
 * replies, failure, scrape) and response heads, and -ENOSPC everywhere.
 * Every parsed input sits at the very end of a mapping whose next page is
 * PROT_NONE, so a single byte of over-read faults the test; writers write
 * into slots that end there too.
 * Thread: Criterion runs each test in its own process. Memory: each test
 * maps and unmaps its own guard area. Spec: RFC 9112, BEP 3, 7, 23, 24, 48.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "http.h"

#include "guard.h"

#define MAX_LINE 8192
#define MAX_HEAD 16384
#define FWD	 "X-Forwarded-For"

/* Parses the first len bytes of text from the end of the guard area. */
static int parse_end(struct guard *g, const char *text, size_t len, size_t max_line,
		     size_t max_header, struct http_request *out)
{
	return http_parse_request(guard_put(g, text, len), len, max_line, max_header, FWD, out);
}

/* Asserts that p[0..n) is the text want, or that p is NULL when want is. */
static void assert_span(const char *p, size_t n, const char *want, const char *what)
{
	if (!want) {
		cr_assert_null(p, "%s: want none, got %.*s", what, (int)n, p ? p : "");
		cr_assert_eq(n, 0);
		return;
	}
	cr_assert_not_null(p, "%s: want %s, got none", what, want);
	cr_assert_eq(n, strlen(want), "%s: got %.*s, want %s", what, (int)n, p, want);
	cr_assert_arr_eq(p, want, n, "%s: got %.*s, want %s", what, (int)n, p, want);
}

/* --- valid requests, each cut at every byte --- */

struct valid_case {
	const char *name;
	const char *text;
	enum http_method method;
	int minor;
	bool keep_alive;
	const char *path;
	const char *query;     /* NULL: no '?' */
	const char *forwarded; /* NULL: no X-Forwarded-For */
};

#define HASH_ENC "%d8%e4%9b%1b%a2%3c%9f%0e%7a%c1%b2%f5%11%9e%ab%04%5b%a3%6c%fb"

/* clang-format off */
static const struct valid_case valid[] = {
	{
		"qbittorrent",
		"GET /announce?info_hash=" HASH_ENC "&peer_id=-qB4520-k8mz~2Gv3Hy.&port=6881"
		"&uploaded=0&downloaded=0&left=733906944&corrupt=0&key=7E6A1F3C&event=started"
		"&numwant=200&compact=1&no_peer_id=1&supportcrypto=1&redundant=0 HTTP/1.1\r\n"
		"Host: tracker.example.org:6969\r\n"
		"User-Agent: qBittorrent/4.5.2\r\n"
		"Accept-Encoding: gzip\r\n"
		"Connection: close\r\n"
		"\r\n",
		HTTP_GET, 1, false, "/announce",
		"info_hash=" HASH_ENC "&peer_id=-qB4520-k8mz~2Gv3Hy.&port=6881"
		"&uploaded=0&downloaded=0&left=733906944&corrupt=0&key=7E6A1F3C&event=started"
		"&numwant=200&compact=1&no_peer_id=1&supportcrypto=1&redundant=0",
		NULL,
	},
	{
		"transmission",
		"GET /announce?info_hash=%D8%E4%9B%1B%A2%3C%9F%0Ez%C1%B2%F5%11%9E%AB%04%5B%A3l%FB"
		"&peer_id=-TR3000-9f5w2hq0b1x7&port=51413&uploaded=0&downloaded=0&left=0"
		"&numwant=80&key=6b2c9a11&compact=1&supportcrypto=1&event=completed HTTP/1.1\r\n"
		"Host: tracker.example.org\r\n"
		"User-Agent: Transmission/3.00\r\n"
		"Accept: */*\r\n"
		"Accept-Encoding: deflate, gzip\r\n"
		"\r\n",
		HTTP_GET, 1, true, "/announce",
		"info_hash=%D8%E4%9B%1B%A2%3C%9F%0Ez%C1%B2%F5%11%9E%AB%04%5B%A3l%FB"
		"&peer_id=-TR3000-9f5w2hq0b1x7&port=51413&uploaded=0&downloaded=0&left=0"
		"&numwant=80&key=6b2c9a11&compact=1&supportcrypto=1&event=completed",
		NULL,
	},
	{
		"libtorrent_behind_proxy",
		"GET /tracker/announce.php?info_hash=" HASH_ENC "&peer_id=-LT2090-Xq1b8Zk3p0Lm"
		"&port=6881&uploaded=1024&downloaded=2048&left=4096&corrupt=0&key=1A2B3C4D"
		"&numwant=200&compact=1&no_peer_id=1&ipv6=2001%3Adb8%3A%3A1 HTTP/1.1\r\n"
		"Host: tracker.example.org\r\n"
		"User-Agent: libtorrent/2.0.9.0\r\n"
		"Accept-Encoding: gzip\r\n"
		"X-Real-IP: 203.0.113.7\r\n"
		"X-Forwarded-For: \t 203.0.113.7, 10.0.0.1 \t\r\n"
		"X-Forwarded-Proto: http\r\n"
		"Connection: close\r\n"
		"\r\n",
		HTTP_GET, 1, false, "/tracker/announce.php",
		"info_hash=" HASH_ENC "&peer_id=-LT2090-Xq1b8Zk3p0Lm"
		"&port=6881&uploaded=1024&downloaded=2048&left=4096&corrupt=0&key=1A2B3C4D"
		"&numwant=200&compact=1&no_peer_id=1&ipv6=2001%3Adb8%3A%3A1",
		"203.0.113.7, 10.0.0.1",
	},
	{
		"http10_closes_by_default",
		"GET /scrape?info_hash=" HASH_ENC " HTTP/1.0\r\n"
		"Host: tracker.example.org\r\n"
		"User-Agent: Deluge 2.1.1\r\n"
		"\r\n",
		HTTP_GET, 0, false, "/scrape", "info_hash=" HASH_ENC, NULL,
	},
	{
		"http10_keep_alive",
		"GET /announce?info_hash=" HASH_ENC " HTTP/1.0\r\n"
		"Host: tracker.example.org\r\n"
		"Connection: Keep-Alive\r\n"
		"\r\n",
		HTTP_GET, 0, true, "/announce", "info_hash=" HASH_ENC, NULL,
	},
	{
		"http10_close_beats_keep_alive",
		"GET / HTTP/1.0\r\nConnection: keep-alive\r\nconnection: CLOSE\r\n\r\n",
		HTTP_GET, 0, false, "/", NULL, NULL,
	},
	{
		"http11_token_list_with_close",
		"HEAD /announce HTTP/1.1\r\nConnection: TE,  close\r\nTE: trailers\r\n\r\n",
		HTTP_HEAD, 1, false, "/announce", NULL, NULL,
	},
	{
		"http11_token_list_keep_alive",
		"GET /announce? HTTP/1.1\r\nconnection: Upgrade , KEEP-ALIVE,\r\n\r\n",
		HTTP_GET, 1, true, "/announce", "", NULL,
	},
	{
		"bare_lf_line_ends",
		"GET /announce?x=1 HTTP/1.1\nHost: t\nx-forwarded-for:198.51.100.2\n\n",
		HTTP_GET, 1, true, "/announce", "x=1", "198.51.100.2",
	},
	{
		"mixed_line_ends_last_forwarded_wins",
		"GET /a?b?c HTTP/1.1\r\nX-Forwarded-For: 192.0.2.1\nX-FORWARDED-FOR:  192.0.2.2\r\n\n",
		HTTP_GET, 1, true, "/a", "b?c", "192.0.2.2",
	},
	{
		"post_with_zero_length_body",
		"POST /announce HTTP/1.1\r\nContent-Length: 0\r\ncontent-length: 00\r\n\r\n",
		HTTP_OTHER, 1, true, "/announce", NULL, NULL,
	},
	{
		"obs_text_and_empty_values",
		"GET / HTTP/1.1\r\nUser-Agent: caf\xc3\xa9 \xff\r\nX-Empty:\r\nX-Forwarded-For:\t\r\n\r\n",
		HTTP_GET, 1, true, "/", NULL, "",
	},
	{
		"lowercase_method_is_other",
		"get /announce HTTP/1.1\r\n\r\n",
		HTTP_OTHER, 1, true, "/announce", NULL, NULL,
	},
	{
		"minimal",
		"GET / HTTP/1.1\r\n\r\n",
		HTTP_GET, 1, true, "/", NULL, NULL,
	},
};
/* clang-format on */

/* Checks the fields of a request parsed from text placed at p, whose head
 * is len bytes. */
static void assert_fields(const struct valid_case *c, const char *p, size_t len,
			  const struct http_request *r)
{
	cr_assert_eq(r->header_len, len, "%s", c->name);
	cr_assert_eq(r->method, c->method, "%s", c->name);
	cr_assert_eq(r->minor, c->minor, "%s", c->name);
	cr_assert_eq(r->keep_alive, c->keep_alive, "%s: keep_alive", c->name);
	assert_span(r->path, r->path_len, c->path, "path");
	assert_span(r->query, r->query_len, c->query, "query");
	assert_span(r->forwarded, r->forwarded_len, c->forwarded, "forwarded");
	/* Outputs point into the caller's buffer, not into copies. */
	cr_assert(r->path > p && r->path + r->path_len <= p + len, "%s", c->name);
	if (r->query)
		cr_assert(r->query == r->path + r->path_len + 1 && r->query[-1] == '?');
	if (r->forwarded)
		cr_assert(r->forwarded >= p && r->forwarded + r->forwarded_len <= p + len);
}

/* Parses c at every cut (HTTP_INCOMPLETE until whole), then whole. */
static void check_valid(struct guard *g, const struct valid_case *c)
{
	size_t len = strlen(c->text);
	struct http_request r;
	int rc;

	for (size_t cut = 0; cut < len; cut++) {
		rc = parse_end(g, c->text, cut, MAX_LINE, MAX_HEAD, &r);
		cr_assert_eq(rc, HTTP_INCOMPLETE, "%s cut at %zu: %d", c->name, cut, rc);
	}
	rc = parse_end(g, c->text, len, MAX_LINE, MAX_HEAD, &r);
	cr_assert_eq(rc, (int)len, "%s: %d", c->name, rc);
	assert_fields(c, (const char *)guard_slot(g, len), len, &r);
}

Test(http, valid_requests_every_cut)
{
	struct guard g;

	guard_open(&g, 2048);
	for (size_t i = 0; i < sizeof(valid) / sizeof(valid[0]); i++)
		check_valid(&g, &valid[i]);
	guard_close(&g);
}

Test(http, valid_requests_ignore_bytes_after_the_head)
{
	char buf[2048];
	struct http_request r;
	struct guard g;

	guard_open(&g, sizeof(buf));
	for (size_t i = 0; i < sizeof(valid) / sizeof(valid[0]); i++) {
		size_t len = strlen(valid[i].text);
		int n = snprintf(buf, sizeof(buf), "%s%s", valid[i].text, "\x01garbage\r\n");

		cr_assert_eq(parse_end(&g, buf, (size_t)n, MAX_LINE, MAX_HEAD, &r), (int)len, "%s",
			     valid[i].name);
		assert_fields(&valid[i], (const char *)guard_slot(&g, (size_t)n), len, &r);
	}
	guard_close(&g);
}

Test(http, forwarding_header_ignored_when_not_asked)
{
	const struct valid_case *c = &valid[2]; /* libtorrent_behind_proxy */
	size_t len = strlen(c->text);
	struct http_request r;
	struct guard g;

	cr_assert_str_eq(c->name, "libtorrent_behind_proxy");
	guard_open(&g, len);
	cr_assert_eq(
	    http_parse_request(guard_put(&g, c->text, len), len, MAX_LINE, MAX_HEAD, NULL, &r),
	    (int)len);
	cr_assert_null(r.forwarded);
	cr_assert_eq(
	    http_parse_request(guard_put(&g, c->text, len), len, MAX_LINE, MAX_HEAD, "", &r),
	    (int)len);
	cr_assert_null(r.forwarded);
	cr_assert_eq(http_parse_request(guard_put(&g, c->text, len), len, MAX_LINE, MAX_HEAD,
					"x-real-ip", &r),
		     (int)len);
	assert_span(r.forwarded, r.forwarded_len, "203.0.113.7", "x-real-ip");
	guard_close(&g);
}

Test(http, pipelined_keep_alive_pair)
{
	static const char first[] = "GET /announce?info_hash=" HASH_ENC
				    "&peer_id=-TR3000-9f5w2hq0b1x7&port=51413&left=0 HTTP/1.1\r\n"
				    "Host: tracker.example.org\r\n"
				    "Connection: keep-alive\r\n"
				    "\r\n";
	static const char second[] = "GET /scrape?info_hash=" HASH_ENC " HTTP/1.1\r\n"
				     "Host: tracker.example.org\r\n"
				     "Connection: close\r\n"
				     "\r\n";
	const size_t n1 = sizeof(first) - 1, n2 = sizeof(second) - 1;
	char both[sizeof(first) + sizeof(second)];
	struct http_request r;
	struct guard g;
	const char *p;
	int rc;

	memcpy(both, first, n1);
	memcpy(both + n1, second, n2);
	guard_open(&g, n1 + n2);
	for (size_t cut = 0; cut <= n1 + n2; cut++) {
		rc = parse_end(&g, both, cut, MAX_LINE, MAX_HEAD, &r);
		cr_assert_eq(rc, cut < n1 ? HTTP_INCOMPLETE : (int)n1, "cut %zu: %d", cut, rc);
	}
	cr_assert(r.keep_alive);
	assert_span(r.path, r.path_len, "/announce", "path");

	/* The rest of the same buffer is the next request. */
	p = (const char *)guard_slot(&g, n1 + n2);
	for (size_t cut = 0; cut < n2; cut++)
		cr_assert_eq(http_parse_request(guard_put(&g, second, cut), cut, MAX_LINE, MAX_HEAD,
						FWD, &r),
			     HTTP_INCOMPLETE);
	guard_put(&g, both, n1 + n2);
	cr_assert_eq(http_parse_request(p + n1, n2, MAX_LINE, MAX_HEAD, FWD, &r), (int)n2);
	cr_assert_not(r.keep_alive);
	cr_assert_eq(r.path, p + n1 + 4);
	assert_span(r.path, r.path_len, "/scrape", "path");
	assert_span(r.query, r.query_len, "info_hash=" HASH_ENC, "query");
	guard_close(&g);
}

/* --- malformed requests --- */

struct bad_case {
	const char *text;
	size_t len; /* 0: strlen */
	int want;
};

/* clang-format off */
static const struct bad_case bad[] = {
	/* request line */
	{"GET  / HTTP/1.1\r\n\r\n", 0, HTTP_BAD_REQUEST},
	{" GET / HTTP/1.1\r\n\r\n", 0, HTTP_BAD_REQUEST},
	{"\r\nGET / HTTP/1.1\r\n\r\n", 0, HTTP_BAD_REQUEST},
	{"GET / HTTP/1.1 \r\n\r\n", 0, HTTP_BAD_REQUEST},
	{"GET /  HTTP/1.1\r\n\r\n", 0, HTTP_BAD_REQUEST},
	{"GET\t/ HTTP/1.1\r\n\r\n", 0, HTTP_BAD_REQUEST},
	{"GET announce HTTP/1.1\r\n\r\n", 0, HTTP_BAD_REQUEST},
	{"GET http://t.example/announce HTTP/1.1\r\n\r\n", 0, HTTP_BAD_REQUEST},
	{"OPTIONS * HTTP/1.1\r\n\r\n", 0, HTTP_BAD_REQUEST},
	{"GET /a\x01 HTTP/1.1\r\n\r\n", 0, HTTP_BAD_REQUEST},
	{"GET /a\x7f HTTP/1.1\r\n\r\n", 0, HTTP_BAD_REQUEST},
	{"GET /a\x80 HTTP/1.1\r\n\r\n", 0, HTTP_BAD_REQUEST},
	{"GET /a\tb HTTP/1.1\r\n\r\n", 0, HTTP_BAD_REQUEST},
	{"GET /a\0b HTTP/1.1\r\n\r\n", 21, HTTP_BAD_REQUEST},
	{"GET /\r\n\r\n", 0, HTTP_BAD_REQUEST},
	{"GET / \r\n\r\n", 0, HTTP_BAD_REQUEST},
	{"GET\r\n\r\n", 0, HTTP_BAD_REQUEST},
	{"\r\n\r\n", 0, HTTP_BAD_REQUEST},
	{"\n", 0, HTTP_BAD_REQUEST},
	{"GET / HTTP/1.1\rX\r\n\r\n", 0, HTTP_BAD_REQUEST},
	{"GET / HTTP/1.1\r\r\n\r\n", 0, HTTP_BAD_REQUEST},
	{"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 0, HTTP_BAD_REQUEST}, /* TLS */
	/* versions */
	{"GET / HTTP/1.2\r\n\r\n", 0, HTTP_BAD_VERSION},
	{"GET / HTTP/2.0\r\n\r\n", 0, HTTP_BAD_VERSION},
	{"GET / HTTP/0.9\r\n\r\n", 0, HTTP_BAD_VERSION},
	{"GET / HTTP/3.1\n\n", 0, HTTP_BAD_VERSION},
	{"GET / HTTP/1.1x\r\n\r\n", 0, HTTP_BAD_REQUEST},
	{"GET / HTTP/1.10\r\n\r\n", 0, HTTP_BAD_REQUEST},
	{"GET / HTTP/11.1\r\n\r\n", 0, HTTP_BAD_REQUEST},
	{"GET / HTTP/1\r\n\r\n", 0, HTTP_BAD_REQUEST},
	{"GET / HTTP/2\r\n\r\n", 0, HTTP_BAD_REQUEST},
	{"GET / http/1.1\r\n\r\n", 0, HTTP_BAD_REQUEST},
	{"GET / HTTPS/1.1\r\n\r\n", 0, HTTP_BAD_REQUEST},
	{"GET / HTTP/1.a\r\n\r\n", 0, HTTP_BAD_REQUEST},
	/* header lines */
	{"GET / HTTP/1.1\r\nHost : t\r\n\r\n", 0, HTTP_BAD_REQUEST},
	{"GET / HTTP/1.1\r\nHost\t: t\r\n\r\n", 0, HTTP_BAD_REQUEST},
	{"GET / HTTP/1.1\r\nHost t\r\n\r\n", 0, HTTP_BAD_REQUEST},
	{"GET / HTTP/1.1\r\nHost\r\n\r\n", 0, HTTP_BAD_REQUEST},
	{"GET / HTTP/1.1\r\n: t\r\n\r\n", 0, HTTP_BAD_REQUEST},
	{"GET / HTTP/1.1\r\nX(A): t\r\n\r\n", 0, HTTP_BAD_REQUEST},
	{"GET / HTTP/1.1\r\nX-A: a\r\n  folded\r\n\r\n", 0, HTTP_BAD_REQUEST},
	{"GET / HTTP/1.1\r\nX-A: a\r\n\tfolded\r\n\r\n", 0, HTTP_BAD_REQUEST},
	{"GET / HTTP/1.1\r\n Host: t\r\n\r\n", 0, HTTP_BAD_REQUEST},
	{"GET / HTTP/1.1\r\nX-A: a\x01z\r\n\r\n", 0, HTTP_BAD_REQUEST},
	{"GET / HTTP/1.1\r\nX-A: a\x7f\r\n\r\n", 0, HTTP_BAD_REQUEST},
	{"GET / HTTP/1.1\r\nX-A: a\rb\r\n\r\n", 0, HTTP_BAD_REQUEST},
	{"GET / HTTP/1.1\r\nX-A: a\0b\r\n\r\n", 28, HTTP_BAD_REQUEST},
	{"GET / HTTP/1.1\r\nX-A: a\r\r\n\r\n", 0, HTTP_BAD_REQUEST},
	{"GET / HTTP/1.1\r\n\rX\r\n", 0, HTTP_BAD_REQUEST},
	{"GET / HTTP/1.1\r\n\r\r\n", 0, HTTP_BAD_REQUEST},
	/* bodies */
	{"POST /announce HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello", 0, HTTP_BAD_REQUEST},
	{"GET / HTTP/1.1\r\ncontent-length: 1\r\n\r\n", 0, HTTP_BAD_REQUEST},
	{"GET / HTTP/1.1\r\nContent-Length: 10\r\n\r\n", 0, HTTP_BAD_REQUEST},
	{"GET / HTTP/1.1\r\nContent-Length: -0\r\n\r\n", 0, HTTP_BAD_REQUEST},
	{"GET / HTTP/1.1\r\nContent-Length: 0, 0\r\n\r\n", 0, HTTP_BAD_REQUEST},
	{"GET / HTTP/1.1\r\nContent-Length: abc\r\n\r\n", 0, HTTP_BAD_REQUEST},
	{"GET / HTTP/1.1\r\nContent-Length:\r\n\r\n", 0, HTTP_BAD_REQUEST},
	{"GET / HTTP/1.1\r\nContent-Length: 0\r\nContent-Length: 7\r\n\r\n", 0, HTTP_BAD_REQUEST},
	{"GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 0, HTTP_BAD_REQUEST},
	{"GET / HTTP/1.1\r\ntransfer-encoding: identity\r\n\r\n", 0, HTTP_BAD_REQUEST},
	{"GET / HTTP/1.1\r\nTransfer-Encoding:\r\n\r\n", 0, HTTP_BAD_REQUEST},
};
/* clang-format on */

Test(http, malformed_requests)
{
	struct http_request r;
	struct guard g;

	guard_open(&g, 256);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		size_t len = bad[i].len ? bad[i].len : strlen(bad[i].text);
		int rc = parse_end(&g, bad[i].text, len, MAX_LINE, MAX_HEAD, &r);

		cr_assert_eq(rc, bad[i].want, "case %zu (%.*s): got %d, want %d", i, (int)len,
			     bad[i].text, rc, bad[i].want);
	}
	guard_close(&g);
}

/* Once a prefix is malformed, every longer prefix is malformed too, and no
 * prefix of a malformed input ever parses. */
Test(http, malformed_prefixes_never_recover)
{
	struct http_request r;
	struct guard g;

	guard_open(&g, 256);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		size_t len = bad[i].len ? bad[i].len : strlen(bad[i].text);
		bool failed = false;

		for (size_t cut = 0; cut <= len; cut++) {
			int rc = parse_end(&g, bad[i].text, cut, MAX_LINE, MAX_HEAD, &r);

			cr_assert_lt(rc, 0, "case %zu cut %zu parsed", i, cut);
			if (failed)
				cr_assert_neq(rc, HTTP_INCOMPLETE, "case %zu cut %zu", i, cut);
			failed = rc != HTTP_INCOMPLETE;
		}
	}
	guard_close(&g);
}

/* Garbage is refused as soon as its byte arrives, not at the line end. */
Test(http, malformed_bytes_refused_before_the_line_ends)
{
	const struct {
		const char *text;
		size_t first_bad; /* length at which the answer turns 400 */
	} cases[] = {
	    {"\x16", 1},
	    {"GET /a b", 8},
	    {"GET / HTTP/1.1x", 15},
	    {"GET / HTTP/1.1\r\nHost ", 21},
	    {"GET / HTTP/1.1\r\n ", 17},
	    {"GET / HTTP/1.1\r\nX: a\x01", 21},
	};
	struct http_request r;
	struct guard g;

	guard_open(&g, 64);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t len = strlen(cases[i].text);

		cr_assert_eq(len, cases[i].first_bad, "case %zu", i);
		cr_assert_eq(parse_end(&g, cases[i].text, len - 1, MAX_LINE, MAX_HEAD, &r),
			     HTTP_INCOMPLETE, "case %zu", i);
		cr_assert_eq(parse_end(&g, cases[i].text, len, MAX_LINE, MAX_HEAD, &r),
			     HTTP_BAD_REQUEST, "case %zu", i);
	}
	guard_close(&g);
}

/* --- 414 and 431 at their exact edges --- */

/* Writes "GET /aaa...a HTTP/1.1" of exactly content bytes, then tail. */
static size_t make_line(char *buf, size_t cap, size_t content, const char *tail)
{
	size_t n = 0;

	cr_assert_geq(content, 15);
	cr_assert_lt(content + strlen(tail), cap);
	memcpy(buf, "GET /", 5);
	n = 5;
	memset(buf + n, 'a', content - 14);
	n += content - 14;
	memcpy(buf + n, " HTTP/1.1", 9);
	n += 9;
	memcpy(buf + n, tail, strlen(tail));
	return n + strlen(tail);
}

Test(http, request_line_of_max_line_bytes_is_accepted)
{
	char buf[256];
	struct http_request r;
	struct guard g;
	size_t len;

	guard_open(&g, sizeof(buf));
	len = make_line(buf, sizeof(buf), 64, "\r\n\r\n");
	for (size_t cut = 0; cut < len; cut++)
		cr_assert_eq(parse_end(&g, buf, cut, 64, 256, &r), HTTP_INCOMPLETE, "cut %zu", cut);
	cr_assert_eq(parse_end(&g, buf, len, 64, 256, &r), (int)len);
	cr_assert_eq(r.path_len, 64 - 13);

	len = make_line(buf, sizeof(buf), 64, "\n\n"); /* bare LF */
	cr_assert_eq(parse_end(&g, buf, len, 64, 256, &r), (int)len);
	guard_close(&g);
}

Test(http, request_line_past_max_line_is_414)
{
	char buf[256];
	struct http_request r;
	struct guard g;
	size_t len;

	guard_open(&g, sizeof(buf));
	len = make_line(buf, sizeof(buf), 65, "\r\n\r\n");
	for (size_t cut = 0; cut <= len; cut++)
		cr_assert_eq(parse_end(&g, buf, cut, 64, 256, &r),
			     cut <= 64 ? HTTP_INCOMPLETE : HTTP_URI_TOO_LONG, "cut %zu", cut);

	/* A long line whose end never comes is 414 as well. */
	memset(buf, 'a', sizeof(buf));
	memcpy(buf, "GET /", 5);
	cr_assert_eq(parse_end(&g, buf, 65, 64, 256, &r), HTTP_URI_TOO_LONG);
	cr_assert_eq(parse_end(&g, buf, sizeof(buf), 64, 256, &r), HTTP_URI_TOO_LONG);
	/* ... while garbage within the first max_line bytes is still 400, and
	 * garbage beyond them is not looked at. */
	buf[10] = '\x01';
	cr_assert_eq(parse_end(&g, buf, sizeof(buf), 64, 256, &r), HTTP_BAD_REQUEST);
	buf[10] = 'a';
	buf[70] = '\x01';
	cr_assert_eq(parse_end(&g, buf, sizeof(buf), 64, 256, &r), HTTP_URI_TOO_LONG);

	/* max_line falling right after a whole version, or inside it. */
	cr_assert_eq(parse_end(&g, "GET / HTTP/1.1\r\n\r\n", 18, 14, 256, &r), 18);
	cr_assert_eq(parse_end(&g, "GET / HTTP/1.1\r\n\r\n", 18, 13, 256, &r), HTTP_URI_TOO_LONG);
	cr_assert_eq(parse_end(&g, "GET / HTTP/1.1x\r\n\r\n", 19, 14, 256, &r), HTTP_URI_TOO_LONG);
	cr_assert_eq(parse_end(&g, "GET / HTTP/1.1x", 15, 14, 256, &r), HTTP_URI_TOO_LONG);
	guard_close(&g);
}

/* Writes a head of exactly total bytes: request line, one padding header,
 * blank line. */
static size_t make_head(char *buf, size_t cap, size_t total)
{
	static const char line[] = "GET / HTTP/1.1\r\nX-Pad: ";
	size_t n = sizeof(line) - 1;

	cr_assert_lt(total, cap);
	cr_assert_gt(total, n + 4);
	memcpy(buf, line, n);
	memset(buf + n, 'p', total - n - 4);
	memcpy(buf + total - 4, "\r\n\r\n", 4);
	return total;
}

Test(http, head_of_max_header_bytes_is_accepted)
{
	char buf[512];
	struct http_request r;
	struct guard g;
	size_t len;

	guard_open(&g, sizeof(buf));
	len = make_head(buf, sizeof(buf), 256);
	for (size_t cut = 0; cut < len; cut++)
		cr_assert_eq(parse_end(&g, buf, cut, 64, 256, &r), HTTP_INCOMPLETE, "cut %zu", cut);
	cr_assert_eq(parse_end(&g, buf, len, 64, 256, &r), 256);
	guard_close(&g);
}

Test(http, head_past_max_header_is_431)
{
	char buf[512];
	struct http_request r;
	struct guard g;
	size_t len;

	guard_open(&g, sizeof(buf));
	len = make_head(buf, sizeof(buf), 257);
	for (size_t cut = 0; cut <= len; cut++)
		cr_assert_eq(parse_end(&g, buf, cut, 64, 256, &r),
			     cut <= 256 ? HTTP_INCOMPLETE : HTTP_HEADERS_TOO_LARGE, "cut %zu", cut);

	/* A request line longer than the whole head allowance: 431 once the
	 * head is past it, whether the line has ended or not. */
	len = make_line(buf, sizeof(buf), 100, "\r\n\r\n");
	for (size_t cut = 0; cut <= len; cut++)
		cr_assert_eq(parse_end(&g, buf, cut, 1024, 64, &r),
			     cut <= 64 ? HTTP_INCOMPLETE : HTTP_HEADERS_TOO_LARGE, "cut %zu", cut);
	guard_close(&g);
}

Test(http, huge_limits_do_not_wrap)
{
	static const char req[] = "GET /announce HTTP/1.1\r\nHost: t\r\n\r\n";
	struct http_request r;
	struct guard g;

	guard_open(&g, sizeof(req));
	cr_assert_eq(parse_end(&g, req, sizeof(req) - 1, SIZE_MAX, SIZE_MAX, &r),
		     (int)sizeof(req) - 1);
	cr_assert_eq(parse_end(&g, req, 10, SIZE_MAX, SIZE_MAX, &r), HTTP_INCOMPLETE);
	cr_assert_eq(parse_end(&g, req, sizeof(req) - 1, 0, SIZE_MAX, &r), HTTP_URI_TOO_LONG);
	cr_assert_eq(parse_end(&g, req, 0, 0, 0, &r), HTTP_INCOMPLETE);
	guard_close(&g);
}

/* --- percent-decoding --- */

Test(http, percent_decode_kat)
{
	const struct {
		const char *in;
		const char *out;
		int len;
	} cases[] = {
	    {"", "", 0},
	    {"abc", "abc", 3},
	    {"%41%62", "Ab", 2},
	    {"%e2%82%AC", "\xe2\x82\xac", 3},
	    {"a+b", "a b", 3},
	    {"%2B%2b", "++", 2},
	    {"%00%ff", "\x00\xff", 2},
	    {"-._~", "-._~", 4},
	    {"%25", "%", 1},
	};
	uint8_t out[16];
	struct guard g;

	guard_open(&g, 64);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t n = strlen(cases[i].in);

		memset(out, '#', sizeof(out));
		cr_assert_eq(
		    http_percent_decode(guard_put(&g, cases[i].in, n), n, out, sizeof(out)),
		    cases[i].len, "%s", cases[i].in);
		cr_assert_arr_eq(out, cases[i].out, (size_t)cases[i].len, "%s", cases[i].in);
	}
	guard_close(&g);
}

Test(http, percent_decode_errors)
{
	const char *bad_escapes[] = {"%", "%4", "a%", "%G1", "%1G", "%%", "%-1", "% 1", "ab%4"};
	uint8_t out[16];
	struct guard g;

	guard_open(&g, 64);
	for (size_t i = 0; i < sizeof(bad_escapes) / sizeof(bad_escapes[0]); i++) {
		size_t n = strlen(bad_escapes[i]);

		/* At the end of the mapping: a truncated escape must not make
		 * the decoder look past the input. */
		cr_assert_eq(
		    http_percent_decode(guard_put(&g, bad_escapes[i], n), n, out, sizeof(out)),
		    -EINVAL, "%s", bad_escapes[i]);
	}
	cr_assert_eq(http_percent_decode("abcd", 4, out, 3), -ENOSPC);
	cr_assert_eq(http_percent_decode("%41%42%43%44", 12, out, 3), -ENOSPC);
	cr_assert_eq(http_percent_decode("abcd", 4, out, 4), 4);
	cr_assert_eq(http_percent_decode("a", 1, NULL, 0), -ENOSPC);
	cr_assert_eq(http_percent_decode("", 0, NULL, 0), 0);
	guard_close(&g);
}

/* --- announce queries --- */

/* 20 bytes: %00, %FF, unreserved characters, '+' as space, escapes of
 * either case. */
#define IH_ENC "%00%FFaB-._~1%124Vx%9a%BC%de%F0z+%2B"
static const uint8_t ih_raw[20] = {0x00, 0xff, 'a', 'B',  '-',	'.',  '_',  '~', '1', 0x12,
				   '4',	 'V',  'x', 0x9a, 0xbc, 0xde, 0xf0, 'z', ' ', '+'};
#define PID_ENC "-RT0001-%21%40abcdefghij"
#define IH	"info_hash=" IH_ENC
#define PID	"peer_id=" PID_ENC
#define BASE	IH "&" PID "&port=6881&left=0"

static int announce_end(struct guard *g, const char *q, struct http_announce *a,
			const char **reason)
{
	size_t n = strlen(q);

	*reason = "unset";
	return http_parse_announce(guard_put(g, q, n), n, a, reason);
}

Test(http, announce_all_parameters)
{
	static const char q[] = "info_hash=" IH_ENC "&peer_id=" PID_ENC "&port=51413"
				"&uploaded=123&downloaded=18446744073709551615&left=0"
				"&event=completed&compact=0&no_peer_id=1&numwant=50"
				"&key=1A2B3C4D&ip=192.0.2.9&corrupt=0&trackerid=&&supportcrypto=1";
	struct http_announce a;
	const char *reason;
	struct guard g;

	guard_open(&g, sizeof(q));
	cr_assert_eq(announce_end(&g, q, &a, &reason), 0, "%s", reason);
	cr_assert_null(reason);
	cr_assert_arr_eq(a.info_hash.b, ih_raw, 20);
	cr_assert_arr_eq(a.peer_id.b, "-RT0001-!@abcdefghij", 20);
	cr_assert_eq(a.port, 51413);
	cr_assert_eq(a.uploaded, 123);
	cr_assert_eq(a.downloaded, UINT64_MAX);
	cr_assert_eq(a.left, 0);
	cr_assert_eq(a.event, HTTP_EVENT_COMPLETED);
	cr_assert_not(a.compact);
	cr_assert(a.no_peer_id);
	cr_assert_eq(a.numwant, 50);
	guard_close(&g);
}

Test(http, announce_defaults)
{
	struct http_announce a;
	const char *reason;
	struct guard g;

	guard_open(&g, 256);
	cr_assert_eq(announce_end(&g, BASE, &a, &reason), 0, "%s", reason);
	cr_assert_eq(a.port, 6881);
	cr_assert_eq(a.uploaded, 0);
	cr_assert_eq(a.downloaded, 0);
	cr_assert_eq(a.left, 0);
	cr_assert_eq(a.event, HTTP_EVENT_NONE);
	cr_assert(a.compact);
	cr_assert_not(a.no_peer_id);
	cr_assert_eq(a.numwant, -1);
	guard_close(&g);
}

Test(http, announce_value_variants)
{
	const struct {
		const char *extra;
		enum http_event event;
		int32_t numwant;
		bool compact, no_peer_id;
		uint16_t port;
	} cases[] = {
	    {"&event=started", HTTP_EVENT_STARTED, -1, true, false, 6881},
	    {"&event=stopped", HTTP_EVENT_STOPPED, -1, true, false, 6881},
	    {"&event=completed", HTTP_EVENT_COMPLETED, -1, true, false, 6881},
	    {"&event=paused", HTTP_EVENT_NONE, -1, true, false, 6881},
	    {"&event=", HTTP_EVENT_NONE, -1, true, false, 6881},
	    {"&event", HTTP_EVENT_NONE, -1, true, false, 6881},
	    {"&event=%73tarted", HTTP_EVENT_STARTED, -1, true, false, 6881},
	    {"&event=stopped&event=started", HTTP_EVENT_STARTED, -1, true, false, 6881},
	    {"&numwant=0", HTTP_EVENT_NONE, 0, true, false, 6881},
	    {"&numwant=-5", HTTP_EVENT_NONE, -1, true, false, 6881},
	    {"&numwant=-0", HTTP_EVENT_NONE, 0, true, false, 6881},
	    {"&numwant=2147483647", HTTP_EVENT_NONE, INT32_MAX, true, false, 6881},
	    {"&numwant=2147483648", HTTP_EVENT_NONE, INT32_MAX, true, false, 6881},
	    {"&numwant=999999999999999999999999999999", HTTP_EVENT_NONE, INT32_MAX, true, false,
	     6881},
	    {"&numwant=-999999999999999999999999999999", HTTP_EVENT_NONE, -1, true, false, 6881},
	    {"&compact=1", HTTP_EVENT_NONE, -1, true, false, 6881},
	    {"&compact=0&compact=1", HTTP_EVENT_NONE, -1, true, false, 6881},
	    {"&no_peer_id=1", HTTP_EVENT_NONE, -1, true, true, 6881},
	    {"&no_peer_id=0", HTTP_EVENT_NONE, -1, true, false, 6881},
	    {"&no_peer_id", HTTP_EVENT_NONE, -1, true, false, 6881},
	    {"&port=1", HTTP_EVENT_NONE, -1, true, false, 1},
	    {"&port=65535", HTTP_EVENT_NONE, -1, true, false, 65535},
	    {"&port=000080", HTTP_EVENT_NONE, -1, true, false, 80},
	    {"&port=%36%38%38%32", HTTP_EVENT_NONE, -1, true, false, 6882},
	    {"&info%5Fhash=%00&INFO_HASH=x&Port=0", HTTP_EVENT_NONE, -1, true, false, 6881},
	};
	char q[512];
	struct http_announce a;
	const char *reason;
	struct guard g;

	guard_open(&g, sizeof(q));
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(q, sizeof(q), "%s%s", BASE, cases[i].extra);
		cr_assert_eq(announce_end(&g, q, &a, &reason), 0, "%s: %s", q, reason);
		cr_assert_eq(a.event, cases[i].event, "%s", q);
		cr_assert_eq(a.numwant, cases[i].numwant, "%s", q);
		cr_assert_eq(a.compact, cases[i].compact, "%s", q);
		cr_assert_eq(a.no_peer_id, cases[i].no_peer_id, "%s", q);
		cr_assert_eq(a.port, cases[i].port, "%s", q);
		cr_assert_arr_eq(a.info_hash.b, ih_raw, 20, "%s", q);
	}
	guard_close(&g);
}

Test(http, announce_repeated_scalars_last_wins)
{
	static const char q[] = BASE "&peer_id=-XX0001-abcdefghijkl&port=7000&left=5&left=6"
				     "&uploaded=1&uploaded=2";
	struct http_announce a;
	const char *reason;
	struct guard g;

	guard_open(&g, sizeof(q));
	cr_assert_eq(announce_end(&g, q, &a, &reason), 0, "%s", reason);
	cr_assert_arr_eq(a.peer_id.b, "-XX0001-abcdefghijkl", 20);
	cr_assert_eq(a.port, 7000);
	cr_assert_eq(a.left, 6);
	cr_assert_eq(a.uploaded, 2);
	guard_close(&g);
}

Test(http, announce_missing_or_bad_parameters)
{
	const struct {
		const char *q;
		const char *param; /* must appear in the reason */
		const char *exact; /* NULL: only the parameter name is checked */
	} cases[] = {
	    {PID "&port=6881&left=0", "info_hash", "missing info_hash"},
	    {IH "&port=6881&left=0", "peer_id", "missing peer_id"},
	    {IH "&" PID "&left=0", "port", "missing port"},
	    {IH "&" PID "&port=6881", "left", "missing left"},
	    {"", "info_hash", "missing info_hash"},
	    {"info_hash=%00%01&" PID "&port=6881&left=0", "info_hash",
	     "info_hash must be 20 bytes"},
	    {IH "%00&" PID "&port=6881&left=0", "info_hash", "info_hash must be 20 bytes"},
	    {"info_hash=&" PID "&port=6881&left=0", "info_hash", "info_hash must be 20 bytes"},
	    {"info_hash&" PID "&port=6881&left=0", "info_hash", "info_hash must be 20 bytes"},
	    {"info_hash=%zz" IH_ENC "&" PID "&port=6881&left=0", "info_hash", NULL},
	    {PID "&port=6881&left=0&info_hash=" IH_ENC "%0", "info_hash", NULL},
	    {BASE "&" IH, "info_hash", "info_hash given twice"},
	    {IH "&peer_id=-RT0001-abcdefghijk&port=6881&left=0", "peer_id",
	     "peer_id must be 20 bytes"},
	    {IH "&peer_id=-RT0001-abcdefghijklm&port=6881&left=0", "peer_id",
	     "peer_id must be 20 bytes"},
	    {IH "&peer_id=-RT0001-abcdefghijk%&port=6881&left=0", "peer_id", NULL},
	    {BASE "&port=0", "port", NULL},
	    {BASE "&port=65536", "port", NULL},
	    {BASE "&port=-1", "port", NULL},
	    {BASE "&port=", "port", NULL},
	    {BASE "&port=68a1", "port", NULL},
	    {BASE "&port=6881+", "port", NULL},
	    {BASE "&port=99999999999999999999999", "port", NULL},
	    {BASE "&uploaded=-1", "uploaded", NULL},
	    {BASE "&uploaded=", "uploaded", NULL},
	    {BASE "&uploaded=18446744073709551616", "uploaded", NULL},
	    {BASE "&uploaded=1.5", "uploaded", NULL},
	    {BASE "&downloaded=1e3", "downloaded", NULL},
	    {BASE "&downloaded=99999999999999999999", "downloaded", NULL},
	    {BASE "&left=", "left", NULL},
	    {BASE "&left=%", "left", NULL},
	    {BASE "&left=+1", "left", NULL},
	    {BASE "&event=start", "event", "unknown event"},
	    {BASE "&event=STARTED", "event", "unknown event"},
	    {BASE "&event=started%00", "event", "unknown event"},
	    {BASE "&event=startedstartedstarted", "event", "unknown event"},
	    {BASE "&event=%zz", "event", "unknown event"},
	    {BASE "&compact=2", "compact", NULL},
	    {BASE "&compact=", "compact", NULL},
	    {BASE "&compact=true", "compact", NULL},
	    {BASE "&numwant=abc", "numwant", NULL},
	    {BASE "&numwant=", "numwant", NULL},
	    {BASE "&numwant=-", "numwant", NULL},
	    {BASE "&numwant=1-", "numwant", NULL},
	};
	struct http_announce a;
	const char *reason;
	struct guard g;

	guard_open(&g, 512);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cr_assert_eq(announce_end(&g, cases[i].q, &a, &reason), -EINVAL, "%s", cases[i].q);
		cr_assert_not_null(reason, "%s", cases[i].q);
		cr_assert_not_null(strstr(reason, cases[i].param), "%s: reason \"%s\" lacks %s",
				   cases[i].q, reason, cases[i].param);
		if (cases[i].exact)
			cr_assert_str_eq(reason, cases[i].exact, "%s", cases[i].q);
	}
	guard_close(&g);
}

Test(http, announce_from_a_parsed_request)
{
	const struct valid_case *c = &valid[0]; /* qbittorrent */
	static const uint8_t hash[20] = {0xd8, 0xe4, 0x9b, 0x1b, 0xa2, 0x3c, 0x9f,
					 0x0e, 0x7a, 0xc1, 0xb2, 0xf5, 0x11, 0x9e,
					 0xab, 0x04, 0x5b, 0xa3, 0x6c, 0xfb};
	size_t len = strlen(c->text);
	struct http_announce a;
	struct http_request r;
	const char *reason;
	struct guard g;

	cr_assert_str_eq(c->name, "qbittorrent");
	guard_open(&g, len);
	cr_assert_eq(parse_end(&g, c->text, len, MAX_LINE, MAX_HEAD, &r), (int)len);
	cr_assert_eq(http_parse_announce(r.query, r.query_len, &a, &reason), 0, "%s", reason);
	cr_assert_arr_eq(a.info_hash.b, hash, 20);
	cr_assert_arr_eq(a.peer_id.b, "-qB4520-k8mz~2Gv3Hy.", 20);
	cr_assert_eq(a.port, 6881);
	cr_assert_eq(a.left, 733906944);
	cr_assert_eq(a.event, HTTP_EVENT_STARTED);
	cr_assert_eq(a.numwant, 200);
	cr_assert(a.compact);
	cr_assert(a.no_peer_id);
	guard_close(&g);
}

/* --- scrape queries --- */

static int scrape_end(struct guard *g, const char *q, struct info_hash *h, size_t cap,
		      const char **reason)
{
	size_t n = strlen(q);

	*reason = "unset";
	return http_parse_scrape(guard_put(g, q, n), n, h, cap, reason);
}

#define H1 "info_hash=%01%01%01%01%01%01%01%01%01%01%01%01%01%01%01%01%01%01%01%01"
#define H2 "info_hash=%ff%FE%fd%fc%fb%fa%f9%f8%f7%f6%f5%f4%f3%f2%f1%f0%ef%ee%ed%ec"
#define H3 "info_hash=ABCDEFGHIJKLMNOPQRST"

Test(http, scrape_zero_one_three_hashes)
{
	struct info_hash h[4];
	const char *reason;
	struct guard g;

	guard_open(&g, 512);
	cr_assert_eq(scrape_end(&g, "", h, 4, &reason), 0);
	cr_assert_eq(http_parse_scrape(NULL, 0, h, 4, &reason), 0);
	cr_assert_eq(scrape_end(&g, "foo=bar&&info_hashx=1&Info_hash=2", h, 4, &reason), 0);
	cr_assert_eq(http_parse_scrape(NULL, 0, NULL, 0, &reason), 0);

	cr_assert_eq(scrape_end(&g, H1, h, 4, &reason), 1, "%s", reason);
	for (int i = 0; i < 20; i++)
		cr_assert_eq(h[0].b[i], 0x01);

	memset(h, 0, sizeof(h));
	cr_assert_eq(scrape_end(&g, H3 "&x=1&" H1 "&&" H2 "&y", h, 4, &reason), 3, "%s", reason);
	cr_assert_arr_eq(h[0].b, "ABCDEFGHIJKLMNOPQRST", 20);
	cr_assert_eq(h[1].b[19], 0x01);
	for (int i = 0; i < 20; i++)
		cr_assert_eq(h[2].b[i], 0xff - i);
	cr_assert_eq(h[3].b[0], 0, "nothing written past the count");

	/* Exactly cap hashes is fine; a repeated hash is kept twice (the
	 * body writer drops duplicates). */
	cr_assert_eq(scrape_end(&g, H1 "&" H1, h, 2, &reason), 2);
	guard_close(&g);
}

Test(http, scrape_too_many_hashes)
{
	struct info_hash h[HTTP_SCRAPE_MAX];
	char q[(sizeof(H3) + 1) * (HTTP_SCRAPE_MAX + 1)];
	const char *reason;
	struct guard g;
	size_t n = 0;

	guard_open(&g, sizeof(q));
	cr_assert_eq(scrape_end(&g, H1 "&" H2 "&" H3, h, 2, &reason), -EINVAL);
	cr_assert_str_eq(reason, "too many info_hash parameters");
	cr_assert_eq(scrape_end(&g, H1, h, 0, &reason), -EINVAL);
	cr_assert_not_null(strstr(reason, "info_hash"));

	for (size_t i = 0; i < HTTP_SCRAPE_MAX; i++)
		n += (size_t)snprintf(q + n, sizeof(q) - n, "%s" H3, i ? "&" : "");
	cr_assert_eq(scrape_end(&g, q, h, HTTP_SCRAPE_MAX, &reason), HTTP_SCRAPE_MAX);
	snprintf(q + n, sizeof(q) - n, "&" H3);
	cr_assert_eq(scrape_end(&g, q, h, HTTP_SCRAPE_MAX, &reason), -EINVAL);
	cr_assert_str_eq(reason, "too many info_hash parameters");
	guard_close(&g);
}

Test(http, scrape_bad_hashes)
{
	const char *cases[] = {
	    "info_hash=ABCDEFGHIJKLMNOPQRS",
	    "info_hash=ABCDEFGHIJKLMNOPQRSTU",
	    "info_hash=",
	    "info_hash",
	    H1 "&info_hash=ABCDEFGHIJKLMNOPQRS%",
	    "info_hash=ABCDEFGHIJKLMNOPQRS%G0",
	};
	struct info_hash h[4];
	const char *reason;
	struct guard g;

	guard_open(&g, 256);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cr_assert_eq(scrape_end(&g, cases[i], h, 4, &reason), -EINVAL, "%s", cases[i]);
		cr_assert_not_null(strstr(reason, "info_hash"), "%s: %s", cases[i], reason);
	}
	cr_assert_eq(scrape_end(&g, cases[0], h, 4, &reason), -EINVAL);
	cr_assert_str_eq(reason, "info_hash must be 20 bytes");
	guard_close(&g);
}

/* --- bencoded bodies --- */

/* Appends bytes to an expected-answer buffer. */
struct want {
	uint8_t b[1024];
	size_t n;
};

static void want_add(struct want *w, const void *p, size_t n)
{
	cr_assert_leq(n, sizeof(w->b) - w->n);
	memcpy(w->b + w->n, p, n);
	w->n += n;
}

static void want_str(struct want *w, const char *s)
{
	want_add(w, s, strlen(s));
}

/* clang-format off */
static const uint8_t peers4[12] = {
	0xc0, 0x00, 0x02, 0x01, 0x1a, 0xe1, /* 192.0.2.1:6881 */
	0xc6, 0x33, 0x64, 0x07, 0xc8, 0xd5, /* 198.51.100.7:51413 */
};
static const uint8_t peers6[18] = {
	0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00, /* 2001:db8:: */
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, /* ...::1 */
	0x1a, 0xe1,                                     /* port 6881 */
};
static const uint8_t ext_ip[4] = {203, 0, 113, 9};
/* clang-format on */

static struct http_announce_reply sample_reply(void)
{
	return (struct http_announce_reply){
	    .interval = 1800,
	    .min_interval = 900,
	    .complete = 5,
	    .incomplete = 3,
	    .downloaded = 12,
	    .peers4 = peers4,
	    .peers4_len = sizeof(peers4),
	    .peers6 = peers6,
	    .peers6_len = sizeof(peers6),
	    .compact = true,
	    .external_ip = ext_ip,
	    .external_ip_len = sizeof(ext_ip),
	};
}

/* Runs a body writer into a slot at the end of a guard area for every
 * capacity below need (-ENOSPC) and at need (the exact bytes). */
#define CHECK_BODY(want_buf, want_len, call)                                                       \
	do {                                                                                       \
		struct guard g_;                                                                   \
		uint8_t *buf;                                                                      \
		guard_open(&g_, (want_len));                                                       \
		for (size_t cap = 0; cap < (want_len); cap++) {                                    \
			buf = guard_slot(&g_, cap);                                                \
			cr_assert_eq((call), -ENOSPC, "cap %zu", cap);                             \
		}                                                                                  \
		size_t cap = (want_len);                                                           \
		buf = guard_slot(&g_, cap);                                                        \
		cr_assert_eq((call), (int)(want_len));                                             \
		cr_assert_arr_eq(buf, (want_buf), (want_len), "got %.*s", (int)(want_len),         \
				 (const char *)buf);                                               \
		guard_close(&g_);                                                                  \
	} while (0)

Test(http, announce_body_compact_kat)
{
	struct http_announce_reply r = sample_reply();
	struct want w = {.n = 0};

	want_str(&w, "d8:completei5e10:downloadedi12e11:external ip4:");
	want_add(&w, ext_ip, 4);
	want_str(&w, "10:incompletei3e8:intervali1800e12:min intervali900e5:peers12:");
	want_add(&w, peers4, 12);
	want_str(&w, "6:peers618:");
	want_add(&w, peers6, 18);
	want_str(&w, "e");
	CHECK_BODY(w.b, w.n, http_announce_body(buf, cap, &r));
}

Test(http, announce_body_compact_without_peers_kat)
{
	struct http_announce_reply r = sample_reply();
	static const char want[] = "d8:completei0e10:downloadedi0e10:incompletei0e"
				   "8:intervali4294967295e12:min intervali0e5:peers0:e";

	r.peers4 = NULL;
	r.peers4_len = 0;
	r.peers6_len = 0; /* no peers6 key at all */
	r.external_ip = NULL;
	r.complete = r.incomplete = r.downloaded = r.min_interval = 0;
	r.interval = UINT32_MAX;
	CHECK_BODY(want, sizeof(want) - 1, http_announce_body(buf, cap, &r));
}

Test(http, announce_body_ipv6_only_kat)
{
	struct http_announce_reply r = sample_reply();
	struct want w = {.n = 0};

	r.peers4_len = 0;
	r.external_ip = peers6; /* 16 bytes of an IPv6 address */
	r.external_ip_len = 16;
	want_str(&w, "d8:completei5e10:downloadedi12e11:external ip16:");
	want_add(&w, peers6, 16);
	want_str(&w, "10:incompletei3e8:intervali1800e12:min intervali900e5:peers0:6:peers618:");
	want_add(&w, peers6, 18);
	want_str(&w, "e");
	CHECK_BODY(w.b, w.n, http_announce_body(buf, cap, &r));
}

Test(http, announce_body_dictionary_model_kat)
{
	struct http_announce_reply r = sample_reply();
	static const char want[] = "d8:completei5e10:downloadedi12e10:incompletei3e"
				   "8:intervali1800e12:min intervali900e5:peersl"
				   "d2:ip9:192.0.2.14:porti6881ee"
				   "d2:ip12:198.51.100.74:porti51413ee"
				   "d2:ip11:2001:db8::14:porti6881ee"
				   "ee";

	r.compact = false;
	r.external_ip = NULL;
	CHECK_BODY(want, sizeof(want) - 1, http_announce_body(buf, cap, &r));

	/* No peers at all: an empty list. */
	r.peers4_len = r.peers6_len = 0;
	{
		static const char empty[] = "d8:completei5e10:downloadedi12e10:incompletei3e"
					    "8:intervali1800e12:min intervali900e5:peerslee";

		CHECK_BODY(empty, sizeof(empty) - 1, http_announce_body(buf, cap, &r));
	}
}

Test(http, failure_body_kat)
{
	static const char want[] = "d14:failure reason17:missing info_hashe";

	CHECK_BODY(want, sizeof(want) - 1, http_failure_body(buf, cap, "missing info_hash"));
	CHECK_BODY("d14:failure reason0:e", 21, http_failure_body(buf, cap, ""));
}

/* Hashes whose order differs between signed and unsigned byte compares,
 * and two that differ only in their last byte. */
static void scrape_hash(struct info_hash *h, uint8_t fill, uint8_t last)
{
	memset(h->b, fill, INFO_HASH_LEN);
	h->b[19] = last;
}

static void want_file(struct want *w, const struct info_hash *h, const char *counts)
{
	want_str(w, "20:");
	want_add(w, h->b, 20);
	want_str(w, counts);
}

Test(http, scrape_body_sorted_deduplicated_kat)
{
	struct http_scrape_file files[4] = {
	    {.complete = 1, .downloaded = 2, .incomplete = 3},
	    {.complete = 4, .downloaded = 5, .incomplete = 6},
	    {.complete = 7, .downloaded = 8, .incomplete = 9},
	    {.complete = 99, .downloaded = 99, .incomplete = 99},
	};
	struct http_scrape_file copy[4];
	struct want w = {.n = 0};

	scrape_hash(&files[0].info_hash, 0x80, 0x00); /* sorts last */
	scrape_hash(&files[1].info_hash, 0x7f, 0xff); /* sorts second */
	scrape_hash(&files[2].info_hash, 0x7f, 0x01); /* sorts first */
	files[3].info_hash = files[1].info_hash;      /* duplicate: dropped */
	memcpy(copy, files, sizeof(files));

	want_str(&w, "d5:filesd");
	want_file(&w, &files[2].info_hash, "d8:completei7e10:downloadedi8e10:incompletei9ee");
	want_file(&w, &files[1].info_hash, "d8:completei4e10:downloadedi5e10:incompletei6ee");
	want_file(&w, &files[0].info_hash, "d8:completei1e10:downloadedi2e10:incompletei3ee");
	want_str(&w, "ee");
	CHECK_BODY(w.b, w.n, http_scrape_body(buf, cap, files, 4));
	cr_assert_arr_eq(files, copy, sizeof(files), "files was modified");
}

Test(http, scrape_body_edges)
{
	struct http_scrape_file files[HTTP_SCRAPE_MAX + 1];
	static uint8_t big[HTTP_SCRAPE_MAX * 80 + 16];
	const size_t entry = 23 + strlen("d8:completei0e10:downloadedi0e10:incompletei0ee");
	int n;

	CHECK_BODY("d5:filesdee", 11, http_scrape_body(buf, cap, NULL, 0));

	/* HTTP_SCRAPE_MAX distinct hashes given in descending order come out
	 * ascending; one more is refused. */
	memset(files, 0, sizeof(files));
	for (size_t i = 0; i <= HTTP_SCRAPE_MAX; i++) {
		files[i].info_hash.b[0] = (uint8_t)((HTTP_SCRAPE_MAX - 1 - i) >> 8);
		files[i].info_hash.b[1] = (uint8_t)(HTTP_SCRAPE_MAX - 1 - i);
	}
	n = http_scrape_body(big, sizeof(big), files, HTTP_SCRAPE_MAX);
	cr_assert_eq(n, (int)(9 + HTTP_SCRAPE_MAX * entry + 2));
	for (size_t i = 0; i < HTTP_SCRAPE_MAX; i++) {
		/* Each entry: "20:" and the hash, then a fixed-width dict. */
		const uint8_t *key = big + 9 + i * entry;

		cr_assert_arr_eq(key, "20:", 3, "entry %zu", i);
		cr_assert_eq(key[3] << 8 | key[4], (int)i, "entry %zu", i);
	}
	cr_assert_eq(http_scrape_body(big, sizeof(big), files, HTTP_SCRAPE_MAX + 1), -EINVAL);
}

/* --- response heads --- */

Test(http, write_response_kat)
{
	static const char body[] = "d14:failure reason4:nopee";
	static const char want[] = "HTTP/1.1 200 OK\r\n"
				   "Content-Type: text/plain\r\n"
				   "Content-Length: 25\r\n"
				   "Connection: keep-alive\r\n"
				   "\r\n"
				   "d14:failure reason4:nopee";
	char out[256];

	cr_assert_eq(sizeof(body) - 1, 25);
	cr_assert_eq(http_write_response(out, sizeof(out), 200, "text/plain", body, 25, true),
		     (int)sizeof(want) - 1);
	cr_assert_arr_eq(out, want, sizeof(want) - 1);
}

Test(http, write_response_status_lines)
{
	const struct {
		int status;
		const char *line;
	} cases[] = {
	    {200, "HTTP/1.1 200 OK\r\n"},
	    {400, "HTTP/1.1 400 Bad Request\r\n"},
	    {404, "HTTP/1.1 404 Not Found\r\n"},
	    {405, "HTTP/1.1 405 Method Not Allowed\r\n"},
	    {414, "HTTP/1.1 414 URI Too Long\r\n"},
	    {431, "HTTP/1.1 431 Request Header Fields Too Large\r\n"},
	    {503, "HTTP/1.1 503 Service Unavailable\r\n"},
	    {505, "HTTP/1.1 505 HTTP Version Not Supported\r\n"},
	    {418, "HTTP/1.1 418 Unknown\r\n"},
	    {500, "HTTP/1.1 500 Unknown\r\n"},
	};
	char out[256], want[256];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int n = snprintf(want, sizeof(want),
				 "%sContent-Type: text/plain\r\nContent-Length: 0\r\n"
				 "Connection: close\r\n\r\n",
				 cases[i].line);

		cr_assert_eq(http_write_response(out, sizeof(out), cases[i].status, "text/plain",
						 NULL, 0, false),
			     n, "%d", cases[i].status);
		cr_assert_arr_eq(out, want, (size_t)n, "%d", cases[i].status);
	}
}

Test(http, write_response_without_content_type)
{
	static const char want[] = "HTTP/1.1 404 Not Found\r\n"
				   "Content-Length: 3\r\n"
				   "Connection: close\r\n"
				   "\r\n"
				   "no\n";
	char out[128];

	cr_assert_eq(http_write_response(out, sizeof(out), 404, NULL, "no\n", 3, false),
		     (int)sizeof(want) - 1);
	cr_assert_arr_eq(out, want, sizeof(want) - 1);
}

Test(http, write_response_enospc_writes_nothing)
{
	static const char body[] = "d5:filesdee";
	const size_t need = strlen("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
				   "Content-Length: 11\r\nConnection: close\r\n\r\n") +
			    11;
	struct guard g;
	char *buf;

	guard_open(&g, need);
	for (size_t cap = 0; cap < need; cap++) {
		buf = (char *)guard_slot(&g, cap);
		memset(buf, '#', cap);
		cr_assert_eq(http_write_response(buf, cap, 200, "text/plain", body, 11, false),
			     -ENOSPC, "cap %zu", cap);
		for (size_t i = 0; i < cap; i++)
			cr_assert_eq(buf[i], '#', "cap %zu: byte %zu written on -ENOSPC", cap, i);
	}
	buf = (char *)guard_slot(&g, need);
	cr_assert_eq(http_write_response(buf, need, 200, "text/plain", body, 11, false), (int)need);
	cr_assert_arr_eq(buf + need - 11, body, 11);
	/* A body length that would wrap the total. */
	cr_assert_eq(http_write_response(buf, need, 200, "text/plain", body, SIZE_MAX, false),
		     -ENOSPC);
	guard_close(&g);
}

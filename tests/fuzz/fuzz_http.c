/* fuzz_http.c - libFuzzer harness for the HTTP tracker codec (src/http.c).
 *
 * What it does: parses every input as a request head from an exactly-sized
 * heap copy (so ASan sees any over-read) with small limits, and checks what
 * came out: header_len within the input and the limits, outputs pointing
 * into the head, and, for inputs under 512 bytes, the prefix contract: each
 * prefix (again an exact copy) answers HTTP_INCOMPLETE until the head is
 * whole, the same header_len from then on, and once malformed stays
 * malformed. A head that parsed is followed by a parse of the bytes after it
 * (pipelining). The input, and any parsed query, also go through the
 * announce and scrape decoders and percent-decoding; the input's bytes also
 * feed the body writers, whose lengths must be exact (cap - 1 is -ENOSPC).
 * Any broken invariant is __builtin_trap().
 * What it doesn't: judge semantics beyond the codec (swarm, trust in the
 * forwarding header).
 * Thread: libFuzzer's, one input at a time. Memory: heap copies per input,
 * freed before returning. Spec: RFC 9112, BEP 3, 7, 23, 24, 48.
 * Seeds: tests/fuzz/corpus/http/.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond))                                                                       \
			__builtin_trap();                                                          \
	} while (0)

#define MAX_LINE     512
#define MAX_HEAD     2048
#define PREFIX_LIMIT 512 /* inputs below this get every prefix checked */
#define FWD	     "X-Forwarded-For"

static bool is_ows(char c)
{
	return c == ' ' || c == '\t';
}

static bool within(const char *p, size_t n, const char *buf, size_t len)
{
	return p >= buf && n <= len && p - buf <= (ptrdiff_t)(len - n);
}

static char lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c + 'a' - 'A') : c;
}

/* True when the lower-case word occurs in p[0..n) in any case. */
static bool contains_nocase(const char *p, size_t n, const char *word)
{
	size_t w = strlen(word);

	for (size_t i = 0; i + w <= n; i++) {
		size_t j = 0;

		while (j < w && lower(p[i + j]) == word[j])
			j++;
		if (j == w)
			return true;
	}
	return false;
}

/* Parses buf[0..len) from its own exactly-sized copy. */
static int parse_copy(const char *buf, size_t len)
{
	struct http_request r;
	char *copy = malloc(len ? len : 1);
	int rc;

	if (!copy)
		return HTTP_INCOMPLETE;
	if (len)
		memcpy(copy, buf, len);
	rc = http_parse_request(copy, len, MAX_LINE, MAX_HEAD, FWD, &r);
	free(copy);
	return rc;
}

static void check_announce(const char *q, size_t len)
{
	struct http_announce a;
	const char *reason = NULL;
	int rc = http_parse_announce(q, len, &a, &reason);

	CHECK(rc == 0 || rc == -EINVAL);
	if (rc < 0) {
		CHECK(reason && reason[0]);
		return;
	}
	CHECK(a.port >= 1);
	CHECK(a.numwant >= -1);
	CHECK(a.event <= HTTP_EVENT_STOPPED);
}

static void check_scrape(const char *q, size_t len)
{
	struct info_hash h[8];
	const char *reason = NULL;
	int rc = http_parse_scrape(q, len, h, 8, &reason);

	CHECK(rc == -EINVAL || (rc >= 0 && rc <= 8));
	if (rc < 0)
		CHECK(reason && reason[0]);
}

/* Decoding never grows the text, so a buffer of len bytes always fits. */
static void check_decode(const char *q, size_t len)
{
	uint8_t *out = malloc(len ? len : 1);
	int rc;

	if (!out)
		return;
	rc = http_percent_decode(q, len, out, len);
	CHECK(rc == -EINVAL || (rc >= 0 && (size_t)rc <= len));
	free(out);
}

static void check_query(const char *q, size_t len)
{
	check_announce(q, len);
	check_scrape(q, len);
	check_decode(q, len);
}

/* Invariants of a head that parsed from buf[0..len). */
static void check_parsed(const char *buf, size_t len, int rc, const struct http_request *r)
{
	size_t n = (size_t)rc;

	CHECK(n == r->header_len && n <= len && n <= MAX_HEAD);
	CHECK(buf[n - 1] == '\n');
	CHECK(r->minor == 0 || r->minor == 1);
	CHECK(r->method == HTTP_GET || r->method == HTTP_HEAD || r->method == HTTP_OTHER);
	CHECK(r->path_len >= 1 && within(r->path, r->path_len, buf, n) && r->path[0] == '/');
	CHECK(r->path - buf <= MAX_LINE);
	CHECK(!memchr(r->path, '?', r->path_len));
	if (r->query) {
		CHECK(r->query == r->path + r->path_len + 1 && r->query[-1] == '?');
		CHECK(within(r->query, r->query_len, buf, n));
	} else {
		CHECK(r->query_len == 0);
	}
	if (r->forwarded) {
		CHECK(within(r->forwarded, r->forwarded_len, buf, n));
		if (r->forwarded_len)
			CHECK(!is_ows(r->forwarded[0]) &&
			      !is_ows(r->forwarded[r->forwarded_len - 1]));
	}
	/* A change from the version's default needs its token in the head. */
	if (r->minor == 0 && r->keep_alive)
		CHECK(contains_nocase(buf, n, "keep-alive"));
	if (r->minor == 1 && !r->keep_alive)
		CHECK(contains_nocase(buf, n, "close"));
}

/* The prefix contract, each prefix from its own exact copy. */
static void check_prefixes(const char *buf, size_t len)
{
	int done = 0;	  /* header_len once a prefix parsed */
	bool bad = false; /* once a prefix was malformed */

	for (size_t k = 0; k <= len; k++) {
		int rk = parse_copy(buf, k);

		if (done)
			CHECK(rk == done);
		else if (bad)
			CHECK(rk < 0 && rk != HTTP_INCOMPLETE);
		else if (rk > 0)
			CHECK((size_t)rk == k);
		if (rk > 0)
			done = rk;
		else if (rk != HTTP_INCOMPLETE)
			bad = true;
	}
}

static void check_request(const char *buf, size_t len)
{
	struct http_request r;
	int rc = http_parse_request(buf, len, MAX_LINE, MAX_HEAD, FWD, &r);

	CHECK(rc > 0 || (rc >= HTTP_BAD_VERSION && rc <= HTTP_INCOMPLETE));
	if (rc == HTTP_INCOMPLETE)
		CHECK(len <= MAX_HEAD);
	if (len < PREFIX_LIMIT)
		check_prefixes(buf, len);
	if (rc <= 0)
		return;
	check_parsed(buf, len, rc, &r);
	if (len >= PREFIX_LIMIT) {
		CHECK(parse_copy(buf, (size_t)rc) == rc);
		CHECK(parse_copy(buf, (size_t)rc - 1) == HTTP_INCOMPLETE);
	}
	if (r.query)
		check_query(r.query, r.query_len);
	/* Pipelining: the bytes after the head are the next request. */
	rc = http_parse_request(buf + rc, len - (size_t)rc, MAX_LINE, MAX_HEAD, FWD, &r);
	CHECK(rc > 0 || (rc >= HTTP_BAD_VERSION && rc <= HTTP_INCOMPLETE));
}

/* A writer's answer n must be exact: the same bytes with cap n, -ENOSPC
 * with cap n - 1. out has room for at least n bytes. */
#define CHECK_EXACT(n, out, call_cap)                                                              \
	do {                                                                                       \
		if ((n) > 0) {                                                                     \
			size_t cap_ = (size_t)(n)-1;                                               \
			CHECK((call_cap) == -ENOSPC);                                              \
			cap_ = (size_t)(n);                                                        \
			CHECK((call_cap) == (n));                                                  \
		}                                                                                  \
	} while (0)

static void check_bodies(const uint8_t *buf, size_t len)
{
	static uint8_t out[1 << 16];
	static struct http_scrape_file files[HTTP_SCRAPE_MAX];
	struct http_announce_reply r = {
	    .interval = 1800,
	    .peers4 = buf,
	    .peers4_len = len,
	    .peers6 = buf,
	    .peers6_len = len,
	    .compact = len & 1,
	    .external_ip = len >= 4 ? buf : NULL,
	    .external_ip_len = 4,
	};
	size_t n = len / INFO_HASH_LEN;
	int rc;

	rc = http_announce_body(out, sizeof(out), &r);
	CHECK(rc > 0 || rc == -ENOSPC);
	CHECK_EXACT(rc, out, http_announce_body(out, cap_, &r));

	if (n > HTTP_SCRAPE_MAX)
		n = HTTP_SCRAPE_MAX;
	for (size_t i = 0; i < n; i++) {
		memcpy(files[i].info_hash.b, buf + i * INFO_HASH_LEN, INFO_HASH_LEN);
		files[i].complete = (uint32_t)i;
		files[i].downloaded = buf[i];
		files[i].incomplete = UINT32_MAX - (uint32_t)i;
	}
	rc = http_scrape_body(out, sizeof(out), files, n);
	CHECK(rc >= (int)sizeof("d5:filesdee") - 1);
	CHECK_EXACT(rc, out, http_scrape_body(out, cap_, files, n));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf = malloc(size ? size : 1);

	if (!buf)
		return 0;
	if (size)
		memcpy(buf, data, size);
	check_request(buf, size);
	check_query(buf, size);
	check_bodies((const uint8_t *)buf, size);
	free(buf);
	return 0;
}

/* client_reply.c - pure decoding of what an HTTP tracker sends back.
 *
 * What it does: parses an HTTP/1.x response head (status, Content-Length,
 * Transfer-Encoding: chunked), decodes chunked bodies, and turns bencoded
 * announce replies (BEP 3 dictionary-model peers, BEP 23 compact peers,
 * BEP 7 peers6, BEP 24 external ip, failure reason, warning message) and
 * scrape replies (BEP 48 files dictionary) into struct client_result.
 * What it doesn't: no I/O; no header folding, no content codings (the
 * request asks for identity), no trailers beyond skipping them.
 * Thread: single-threaded tool; the functions are pure apart from the
 * result arrays they append to. Memory: the bencode cursor reads the
 * caller's buffer in place (bencode_next / bencode_dict_find).
 * Spec: RFC 9112 (message framing), BEP 3, 7, 23, 24, 48.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "bencode.h"
#include "client.h"

/* --- HTTP framing --- */

/* True when the header line [p, p+n) is "name: ..." (case-insensitive);
 * *value and *vlen get the trimmed value. */
static bool header_is(const char *p, size_t n, const char *name, const char **value, size_t *vlen)
{
	size_t k = strlen(name);

	if (n <= k || strncasecmp(p, name, k) != 0 || p[k] != ':')
		return false;
	p += k + 1;
	n -= k + 1;
	while (n && (*p == ' ' || *p == '\t'))
		p++, n--;
	while (n && (p[n - 1] == ' ' || p[n - 1] == '\t'))
		n--;
	*value = p;
	*vlen = n;
	return true;
}

int client_http_parse_head(const char *buf, size_t len, struct client_http_head *h)
{
	const char *end = NULL;

	/* The head ends at the first blank line (CRLF CRLF, or bare LFs). */
	for (size_t i = 0; i + 1 < len; i++) {
		if (buf[i] == '\n' && buf[i + 1] == '\n') {
			end = buf + i + 2;
			break;
		}
		if (buf[i] == '\n' && buf[i + 1] == '\r' && i + 2 < len && buf[i + 2] == '\n') {
			end = buf + i + 3;
			break;
		}
	}
	if (!end)
		return -EAGAIN;
	memset(h, 0, sizeof(*h));
	h->content_length = -1;
	h->head_len = (size_t)(end - buf);
	if (h->head_len > INT_MAX)
		return -EPROTO;

	/* Status line: HTTP/1.x SP 3DIGIT [SP reason] */
	const char *p = buf, *eol = memchr(p, '\n', (size_t)(end - p));
	size_t n = (size_t)(eol - p);
	if (n && p[n - 1] == '\r')
		n--;
	if (n < 12 || strncmp(p, "HTTP/1.", 7) != 0 || p[8] != ' ' || p[9] < '1' || p[9] > '9' ||
	    p[10] < '0' || p[10] > '9' || p[11] < '0' || p[11] > '9' || (n > 12 && p[12] != ' '))
		return -EPROTO;
	h->status = (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');
	h->reason = n > 13 ? p + 13 : p + n;
	h->reason_len = n > 13 ? n - 13 : 0;

	for (p = eol + 1; p < end;) {
		const char *value;
		size_t vlen;

		eol = memchr(p, '\n', (size_t)(end - p));
		n = (size_t)(eol - p);
		if (n && p[n - 1] == '\r')
			n--;
		if (n == 0)
			break;
		if (header_is(p, n, "Content-Length", &value, &vlen)) {
			int64_t v = 0;
			if (vlen == 0 || vlen > 15)
				return -EPROTO;
			for (size_t i = 0; i < vlen; i++) {
				if (value[i] < '0' || value[i] > '9')
					return -EPROTO;
				v = v * 10 + (value[i] - '0');
			}
			if (h->content_length >= 0 && h->content_length != v)
				return -EPROTO; /* two different lengths */
			h->content_length = v;
		} else if (header_is(p, n, "Transfer-Encoding", &value, &vlen)) {
			/* Only chunked is understood; it must be the last coding. */
			if (vlen >= 7 && strncasecmp(value + vlen - 7, "chunked", 7) == 0)
				h->chunked = true;
			else if (!(vlen == 8 && strncasecmp(value, "identity", 8) == 0))
				return -EPROTO;
		}
		p = eol + 1;
	}
	if (h->chunked)
		h->content_length = -1; /* RFC 9112 6.3: chunked wins */
	return (int)h->head_len;
}

/* Finds the end of the line at p (before limit): returns the index after
 * its LF, or 0 when the LF has not arrived. */
static size_t line_end(const uint8_t *buf, size_t p, size_t len)
{
	const uint8_t *lf = memchr(buf + p, '\n', len - p);

	return lf ? (size_t)(lf - buf) + 1 : 0;
}

long client_http_dechunk(const uint8_t *buf, size_t len, uint8_t *out)
{
	size_t p = 0, w = 0;

	for (;;) {
		size_t size = 0, digits = 0, e = line_end(buf, p, len);

		if (!e)
			return -EAGAIN;
		while (p < e && digits < 16) {
			uint8_t c = buf[p];
			int d = c >= '0' && c <= '9'   ? c - '0'
				: c >= 'a' && c <= 'f' ? c - 'a' + 10
				: c >= 'A' && c <= 'F' ? c - 'A' + 10
						       : -1;
			if (d < 0)
				break;
			size = size * 16 + (size_t)d;
			digits++;
			p++;
		}
		if (digits == 0 || digits == 16)
			return -EPROTO;
		if (buf[p] != '\r' && buf[p] != '\n' && buf[p] != ';' && buf[p] != ' ' &&
		    buf[p] != '\t')
			return -EPROTO;
		p = e; /* chunk extensions are ignored */
		if (size == 0)
			break;
		if (size > len - p)
			return -EAGAIN;
		if (out)
			memmove(out + w, buf + p, size);
		w += size;
		p += size;
		/* CRLF (or LF) after the data. */
		if (p < len && buf[p] == '\r')
			p++;
		if (p >= len)
			return -EAGAIN;
		if (buf[p] != '\n')
			return -EPROTO;
		p++;
		if (w > LONG_MAX)
			return -EPROTO;
	}
	/* Trailer fields, then the blank line. */
	for (;;) {
		size_t e = line_end(buf, p, len);
		if (!e)
			return -EAGAIN;
		bool blank = e - p == 1 || (e - p == 2 && buf[p] == '\r');
		p = e;
		if (blank)
			return (long)w;
	}
}

/* --- bencoded bodies --- */

/* Reads the integer under key in the dictionary at dict: 0, -ENOENT, or
 * -EINVAL when it is there but not an integer. */
static int dict_int(const uint8_t *b, size_t len, size_t dict, const char *key, int64_t *out)
{
	struct bencode_value v;
	size_t at;
	int rc = bencode_dict_find(b, len, dict, key, strlen(key), &at);

	if (rc < 0)
		return rc;
	if (bencode_next(b, len, &at, &v) != BENCODE_INT)
		return -EINVAL;
	*out = v.i;
	return 0;
}

static int dict_bytes(const uint8_t *b, size_t len, size_t dict, const char *key,
		      struct bencode_value *out)
{
	size_t at;
	int rc = bencode_dict_find(b, len, dict, key, strlen(key), &at);

	if (rc < 0)
		return rc;
	if (bencode_next(b, len, &at, out) != BENCODE_BYTES)
		return -EINVAL;
	return 0;
}

/* Copies bytes into a NUL-ended string of capacity cap (NULs become
 * spaces, as the text is for people and JSON). */
static void copy_text(char *dst, size_t cap, const struct bencode_value *v)
{
	size_t n = v->len < cap - 1 ? v->len : cap - 1;

	memcpy(dst, v->bytes, n);
	for (size_t i = 0; i < n; i++)
		if (dst[i] == '\0')
			dst[i] = ' ';
	dst[n] = '\0';
}

/* Checks the body is one dictionary (whitespace may follow: some trackers
 * end with a newline) and handles "failure reason". */
static int open_body(const uint8_t *b, size_t len, struct client_result *r)
{
	size_t end = 0;
	struct bencode_value v;
	int t = bencode_skip(b, len, &end);

	if (t == -EAGAIN)
		return client_fail(r, EINVAL, "reply body is cut off (%zu bytes)", len);
	if (t < 0)
		return client_fail(r, EINVAL, "reply body is not valid bencode");
	if (t != BENCODE_DICT)
		return client_fail(r, EINVAL, "reply body is not a bencoded dictionary");
	for (; end < len; end++)
		if (b[end] != '\r' && b[end] != '\n' && b[end] != ' ' && b[end] != '\t')
			return client_fail(r, EINVAL, "junk after the reply dictionary");
	if (dict_bytes(b, len, 0, "failure reason", &v) == 0) {
		copy_text(r->error, sizeof(r->error), &v);
		if (!r->error[0])
			snprintf(r->error, sizeof(r->error),
				 "tracker sent an empty failure reason");
		return -EPROTO;
	}
	if (dict_bytes(b, len, 0, "warning message", &v) == 0)
		copy_text(r->warning, sizeof(r->warning), &v);
	return 0;
}

/* One dictionary-model peer: {"ip": text, "port": int, "peer id": ...}. */
static int add_dict_peer(const uint8_t *b, size_t len, size_t at, struct client_result *r)
{
	struct bencode_value ip;
	int64_t port;
	char host[256], text[CLIENT_PEER_TEXT];
	unsigned char tmp[16];

	if (dict_bytes(b, len, at, "ip", &ip) < 0 || dict_int(b, len, at, "port", &port) < 0)
		return client_fail(r, EINVAL, "a dictionary-model peer lacks ip or port");
	if (port < 0 || port > 65535 || ip.len == 0 || ip.len >= sizeof(host))
		return client_fail(r, EINVAL, "a dictionary-model peer has a bad ip or port");
	memcpy(host, ip.bytes, ip.len);
	host[ip.len] = '\0';
	for (size_t i = 0; i < ip.len; i++)
		if ((unsigned char)host[i] <= ' ' || (unsigned char)host[i] >= 0x7f)
			return client_fail(r, EINVAL, "a dictionary-model peer's ip is not text");
	if (inet_pton(AF_INET6, host, tmp) == 1)
		snprintf(text, sizeof(text), "[%s]:%lld", host, (long long)port);
	else
		snprintf(text, sizeof(text), "%s:%lld", host, (long long)port);
	return client_add_peer(r, text) < 0 ? client_fail(r, ENOMEM, "out of memory") : 0;
}

int client_decode_announce(const uint8_t *b, size_t len, struct client_result *r)
{
	struct bencode_value v;
	size_t at;
	int rc = open_body(b, len, r);

	if (rc < 0)
		return rc;
	if (dict_int(b, len, 0, "interval", &r->interval) < 0)
		return client_fail(r, EINVAL, "reply has no integer interval");
	dict_int(b, len, 0, "min interval", &r->min_interval);
	dict_int(b, len, 0, "complete", &r->seeders);
	dict_int(b, len, 0, "incomplete", &r->leechers);
	dict_int(b, len, 0, "downloaded", &r->completed);
	if (dict_bytes(b, len, 0, "external ip", &v) == 0 && (v.len == 4 || v.len == 16))
		inet_ntop(v.len == 4 ? AF_INET : AF_INET6, v.bytes, r->external_ip,
			  sizeof(r->external_ip));

	rc = bencode_dict_find(b, len, 0, "peers", 5, &at);
	if (rc == 0) {
		size_t p = at, item;
		int t = bencode_next(b, len, &p, &v);
		if (t == BENCODE_BYTES) {
			if (v.len % UDP_PEER4_LEN)
				return client_fail(
				    r, EINVAL, "compact peers: %zu bytes is not a multiple of 6",
				    v.len);
			if (client_add_compact_peers(r, v.bytes, v.len, UDP_PEER4_LEN) < 0)
				return client_fail(r, ENOMEM, "out of memory");
		} else if (t == BENCODE_LIST) {
			while ((t = bencode_item(b, len, &p, &item)) == 1) {
				if (b[item] != 'd')
					return client_fail(r, EINVAL, "a peer is not a dictionary");
				rc = add_dict_peer(b, len, item, r);
				if (rc < 0)
					return rc;
			}
			if (t < 0)
				return client_fail(r, EINVAL, "malformed peer list");
		} else {
			return client_fail(r, EINVAL, "peers is neither a string nor a list");
		}
	}
	if (dict_bytes(b, len, 0, "peers6", &v) == 0) {
		if (v.len % UDP_PEER6_LEN)
			return client_fail(r, EINVAL, "peers6: %zu bytes is not a multiple of 18",
					   v.len);
		if (client_add_compact_peers(r, v.bytes, v.len, UDP_PEER6_LEN) < 0)
			return client_fail(r, ENOMEM, "out of memory");
	}
	return 0;
}

int client_decode_scrape(const uint8_t *b, size_t len, struct client_result *r)
{
	size_t files, p, key, val;
	int rc = open_body(b, len, r), t;

	if (rc < 0)
		return rc;
	if (bencode_dict_find(b, len, 0, "files", 5, &files) < 0 || b[files] != 'd')
		return client_fail(r, EINVAL, "scrape reply has no files dictionary");
	p = files + 1;
	while ((t = bencode_item(b, len, &p, &key)) == 1) {
		struct bencode_value k;
		struct client_file f = {0};
		size_t kp = key;

		if (bencode_item(b, len, &p, &val) != 1 || bencode_next(b, len, &kp, &k) < 0)
			return client_fail(r, EINVAL, "malformed files dictionary");
		if (k.len != INFO_HASH_LEN)
			return client_fail(r, EINVAL,
					   "a files key is %zu bytes, not a 20-byte hash", k.len);
		if (b[val] != 'd')
			return client_fail(r, EINVAL, "a files entry is not a dictionary");
		memcpy(f.info_hash.b, k.bytes, INFO_HASH_LEN);
		dict_int(b, len, val, "complete", &f.seeders);
		dict_int(b, len, val, "downloaded", &f.completed);
		dict_int(b, len, val, "incomplete", &f.leechers);
		if (client_add_file(r, &f) < 0)
			return client_fail(r, ENOMEM, "out of memory");
	}
	if (t < 0)
		return client_fail(r, EINVAL, "malformed files dictionary");
	return 0;
}

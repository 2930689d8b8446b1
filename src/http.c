/* http.c - HTTP/1.x request heads in, tracker replies out (BEP 3, 7, 23, 24, 48).
 *
 * What it does: parses one request head (request line and header fields,
 * CRLF or bare LF line ends) into struct http_request, decodes the announce
 * and scrape query strings, and writes the bencoded bodies and the response
 * head of the replies.
 * What it doesn't: no I/O, no bodies (Content-Length other than 0 and any
 * Transfer-Encoding are refused: a tracker takes none), no absolute-form or
 * asterisk-form targets, no leading empty lines before the request line, no
 * obs-fold, no Host check, no percent-decoding of query keys (keys are
 * compared raw: "info%5Fhash" is an unknown key), and no trust decisions
 * about the forwarding header (the caller decides whether to believe it).
 * Thread: pure functions, any thread, no state.
 * Memory: never allocates. Parsed paths, queries and the forwarding value
 * point into the caller's buffer. Body writers may leave a partial prefix in
 * buf when they answer -ENOSPC; http_write_response writes nothing then.
 *
 * Parser contract: every strict prefix of a request that parses answers
 * HTTP_INCOMPLETE, bytes beyond buf + len are never read, and once a prefix
 * is found malformed every longer input is malformed too (possibly with
 * another code). Lines are checked as their bytes arrive, so garbage is
 * refused before its line ends; a line's meaning (Connection,
 * Content-Length, ...) is only judged once its line end is in. The request
 * line counts against max_line without its line end; the whole head, request
 * line and blank line included, counts against max_header. Each call rescans
 * from the start: O(len) per call, O(max_header^2) at worst over a slowly
 * arriving head, the picohttpparser trade-off.
 * When the forwarding header appears more than once the last one wins.
 * Spec: RFC 9112 (message syntax), RFC 9110 (tokens, field values), BEP 3
 * (announce), BEP 7 (peers6), BEP 21 (event=paused, read as no event),
 * BEP 23 (compact), BEP 24 (external ip), BEP 48 (scrape).
 */
#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "bencode.h"
#include "http.h"

static_assert(HTTP_SCRAPE_MAX <= UINT16_MAX, "scrape sort indices are 16-bit");

/* --- character classes (ASCII; no locale) --- */

static bool is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

/* RFC 9110 tchar: the bytes of a method or a header name. */
static bool is_tchar(unsigned char c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c))
		return true;
	return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* Visible ASCII: the bytes of a request target. */
static bool is_vchar(unsigned char c)
{
	return c > 0x20 && c < 0x7f;
}

/* Field value bytes: HTAB, SP, VCHAR and obs-text; no other control. */
static bool is_field_char(unsigned char c)
{
	return c == '\t' || (c >= 0x20 && c != 0x7f);
}

static bool is_ows(char c)
{
	return c == ' ' || c == '\t';
}

static unsigned char lower(unsigned char c)
{
	return c >= 'A' && c <= 'Z' ? (unsigned char)(c + 'a' - 'A') : c;
}

/* True when s[0..n) equals the NUL-ended word, ASCII case-insensitively. */
static bool eq_nocase(const char *s, size_t n, const char *word)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (word[i] == '\0' || lower((unsigned char)s[i]) != lower((unsigned char)word[i]))
			return false;
	return word[i] == '\0';
}

/* --- request line --- */

static enum http_method method_of(const char *p, size_t n)
{
	if (n == 3 && memcmp(p, "GET", 3) == 0)
		return HTTP_GET;
	if (n == 4 && memcmp(p, "HEAD", 4) == 0)
		return HTTP_HEAD;
	return HTTP_OTHER;
}

/* Splits the request target at its first '?'. */
static void set_target(struct http_request *out, const char *t, size_t n)
{
	const char *q = memchr(t, '?', n);

	out->path = t;
	out->path_len = q ? (size_t)(q - t) : n;
	out->query = q ? q + 1 : NULL;
	out->query_len = q ? n - out->path_len - 1 : 0;
}

/* What running out of bytes means: malformed if the line has ended. */
static int ran_out(bool complete)
{
	return complete ? HTTP_BAD_REQUEST : HTTP_INCOMPLETE;
}

/* Parses the request line p[0..n), line end excluded. complete says whether
 * the line end follows; if not, a valid prefix answers HTTP_INCOMPLETE.
 * Grammar: method SP "/" *VCHAR SP "HTTP/" DIGIT "." DIGIT. */
static int parse_request_line(const char *p, size_t n, bool complete, struct http_request *out)
{
	static const char version[] = "HTTP/#.#"; /* '#': any digit */
	size_t i = 0, start;

	while (i < n && is_tchar((unsigned char)p[i]))
		i++;
	if (i == n)
		return ran_out(complete);
	if (i == 0 || p[i] != ' ')
		return HTTP_BAD_REQUEST;
	out->method = method_of(p, i);

	start = ++i;
	if (i == n)
		return ran_out(complete);
	if (p[i] != '/')
		return HTTP_BAD_REQUEST;
	while (i < n && is_vchar((unsigned char)p[i]))
		i++;
	if (i == n)
		return ran_out(complete);
	if (p[i] != ' ')
		return HTTP_BAD_REQUEST;
	set_target(out, p + start, i - start);

	start = ++i;
	for (size_t k = 0; k < sizeof(version) - 1; k++, i++) {
		if (i == n)
			return ran_out(complete);
		if (version[k] == '#' ? !is_digit((unsigned char)p[i]) : p[i] != version[k])
			return HTTP_BAD_REQUEST;
	}
	if (i != n)
		return HTTP_BAD_REQUEST; /* bytes after the version */
	if (!complete)
		return HTTP_INCOMPLETE;
	if (p[start + 5] != '1' || (p[start + 7] != '0' && p[start + 7] != '1'))
		return HTTP_BAD_VERSION;
	out->minor = p[start + 7] - '0';
	return 0;
}

/* --- header fields --- */

struct head_state {
	bool saw_close;	     /* "Connection: close" */
	bool saw_keep_alive; /* "Connection: keep-alive" */
};

/* Checks the bytes of a header line p[0..n), line end excluded: no leading
 * whitespace (obs-fold), a non-empty token name, ':', then field bytes.
 * complete says whether the line has ended (then the colon is required).
 * Returns 0 with the colon's offset in *colon (n when not seen yet), or
 * HTTP_BAD_REQUEST. */
static int header_syntax(const char *p, size_t n, bool complete, size_t *colon)
{
	size_t i = 0;

	*colon = n;
	if (n == 0)
		return 0;
	if (is_ows(p[0]))
		return HTTP_BAD_REQUEST; /* obs-fold, or whitespace before a name */
	while (i < n && is_tchar((unsigned char)p[i]))
		i++;
	if (i == n)
		return complete ? HTTP_BAD_REQUEST : 0; /* no colon */
	if (i == 0 || p[i] != ':')
		return HTTP_BAD_REQUEST; /* empty name, or space before the colon */
	*colon = i;
	for (i++; i < n; i++)
		if (!is_field_char((unsigned char)p[i]))
			return HTTP_BAD_REQUEST;
	return 0;
}

/* Reads the token list of a Connection header. */
static void parse_connection(const char *v, size_t n, struct head_state *st)
{
	size_t i = 0;

	while (i < n) {
		size_t start, end;

		while (i < n && (is_ows(v[i]) || v[i] == ','))
			i++;
		start = i;
		while (i < n && v[i] != ',')
			i++;
		end = i;
		while (end > start && is_ows(v[end - 1]))
			end--;
		if (eq_nocase(v + start, end - start, "close"))
			st->saw_close = true;
		else if (eq_nocase(v + start, end - start, "keep-alive"))
			st->saw_keep_alive = true;
	}
}

/* True for a Content-Length that says no body: one or more '0' digits. */
static bool zero_length(const char *v, size_t n)
{
	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++)
		if (v[i] != '0')
			return false;
	return true;
}

/* Judges a complete header line p[0..n) whose syntax already passed. */
static int header_meaning(const char *p, size_t n, size_t colon, const char *fwd_header,
			  struct head_state *st, struct http_request *out)
{
	const char *v = p + colon + 1;
	size_t vn = n - colon - 1;

	while (vn && is_ows(v[0])) {
		v++;
		vn--;
	}
	while (vn && is_ows(v[vn - 1]))
		vn--;

	if (eq_nocase(p, colon, "connection"))
		parse_connection(v, vn, st);
	else if (eq_nocase(p, colon, "content-length") && !zero_length(v, vn))
		return HTTP_BAD_REQUEST;
	else if (eq_nocase(p, colon, "transfer-encoding"))
		return HTTP_BAD_REQUEST;
	if (fwd_header && eq_nocase(p, colon, fwd_header)) {
		out->forwarded = v;
		out->forwarded_len = vn;
	}
	return 0;
}

/* Length of a line's content: n bytes before its LF, less a CR. */
static size_t chomp(const char *p, size_t n)
{
	return n && p[n - 1] == '\r' ? n - 1 : n;
}

/* Parses the header lines from buf + pos until the blank line, looking no
 * further than lim (= min(len, max_header)). */
static int parse_headers(const char *buf, size_t len, size_t pos, size_t lim, size_t max_header,
			 const char *fwd_header, struct http_request *out)
{
	struct head_state st = {false, false};

	for (;;) {
		const char *line = buf + pos;
		const char *lf = memchr(line, '\n', lim - pos);
		size_t n, colon;
		int rc;

		if (!lf) {
			/* A partial line: refuse bad bytes now; a trailing CR
			 * may be the start of its line end. */
			rc = header_syntax(line, chomp(line, lim - pos), false, &colon);
			if (rc < 0)
				return rc;
			return len > max_header ? HTTP_HEADERS_TOO_LARGE : HTTP_INCOMPLETE;
		}
		n = chomp(line, (size_t)(lf - line));
		pos += (size_t)(lf - line) + 1;
		if (n == 0)
			break; /* the blank line */
		rc = header_syntax(line, n, true, &colon);
		if (rc == 0)
			rc = header_meaning(line, n, colon, fwd_header, &st, out);
		if (rc < 0)
			return rc;
	}
	out->keep_alive = out->minor == 1 ? !st.saw_close : st.saw_keep_alive && !st.saw_close;
	out->header_len = pos;
	return (int)pos;
}

int http_parse_request(const char *buf, size_t len, size_t max_line, size_t max_header,
		       const char *fwd_header, struct http_request *out)
{
	const char *lf;
	size_t scan, content, pos;
	bool pending_cr;
	int rc;

	memset(out, 0, sizeof(*out));
	if (max_header > INT_MAX)
		max_header = INT_MAX; /* header_len is returned as an int */
	if (max_line > INT_MAX)
		max_line = INT_MAX; /* keeps max_line + 2 from wrapping */
	if (fwd_header && fwd_header[0] == '\0')
		fwd_header = NULL;

	/* The request line: its LF, if any, lies within max_line + 2 bytes
	 * (content, CR, LF); a longer line is 414 without looking further. */
	scan = len < max_line + 2 ? len : max_line + 2;
	lf = memchr(buf, '\n', scan);
	pending_cr = !lf && len && buf[len - 1] == '\r';
	content = lf ? chomp(buf, (size_t)(lf - buf)) : len - pending_cr;
	if (content > max_line) {
		/* Garbage within the allowed length is still a 400. */
		rc = parse_request_line(buf, max_line, false, out);
		return rc == HTTP_INCOMPLETE ? HTTP_URI_TOO_LONG : rc;
	}
	rc = parse_request_line(buf, content, lf || pending_cr, out);
	if (rc < 0 && rc != HTTP_INCOMPLETE)
		return rc;
	if (!lf)
		return len > max_header ? HTTP_HEADERS_TOO_LARGE : HTTP_INCOMPLETE;
	pos = (size_t)(lf - buf) + 1;
	if (pos > max_header)
		return HTTP_HEADERS_TOO_LARGE;
	return parse_headers(buf, len, pos, len < max_header ? len : max_header, max_header,
			     fwd_header, out);
}

/* --- query strings --- */

static int hex_value(unsigned char c)
{
	if (is_digit(c))
		return c - '0';
	c = lower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Decodes the byte at s[*i] ('%XX', '+' or itself) and advances *i past it.
 * Returns the byte, or -EINVAL for a bad escape. */
static int decode_next(const char *s, size_t n, size_t *i)
{
	unsigned char c = (unsigned char)s[*i];
	int hi, lo;

	if (c != '%') {
		(*i)++;
		return c == '+' ? ' ' : c;
	}
	if (n - *i < 3)
		return -EINVAL;
	hi = hex_value((unsigned char)s[*i + 1]);
	lo = hex_value((unsigned char)s[*i + 2]);
	if (hi < 0 || lo < 0)
		return -EINVAL;
	*i += 3;
	return hi << 4 | lo;
}

int http_percent_decode(const char *in, size_t len, uint8_t *out, size_t cap)
{
	size_t i = 0, o = 0;

	if (cap > INT_MAX)
		cap = INT_MAX;
	while (i < len) {
		int c = decode_next(in, len, &i);

		if (c < 0)
			return c;
		if (o == cap)
			return -ENOSPC;
		out[o++] = (uint8_t)c;
	}
	return (int)o;
}

/* One key=value pair of a query; the value is still encoded. */
struct pair {
	const char *key;
	size_t key_len;
	const char *val; /* empty when there is no '=' */
	size_t val_len;
};

/* Finds the next non-empty '&'-separated pair at or after *pos. */
static bool next_pair(const char *q, size_t len, size_t *pos, struct pair *p)
{
	while (*pos < len) {
		const char *s = q + *pos;
		const char *amp = memchr(s, '&', len - *pos);
		size_t n = amp ? (size_t)(amp - s) : len - *pos;
		const char *eq = memchr(s, '=', n);

		*pos += n + (amp != NULL);
		if (n == 0)
			continue;
		p->key = s;
		p->key_len = eq ? (size_t)(eq - s) : n;
		p->val = eq ? eq + 1 : s + n;
		p->val_len = eq ? n - p->key_len - 1 : 0;
		return true;
	}
	return false;
}

static bool key_is(const struct pair *p, const char *key)
{
	size_t n = strlen(key);

	return p->key_len == n && memcmp(p->key, key, n) == 0;
}

static int fail(const char **reason, const char *why)
{
	if (reason)
		*reason = why;
	return -EINVAL;
}

/* Decodes a 20-byte id. Returns 0, or -EINVAL for a bad escape and -ENOSPC
 * for any other length. */
static int decode_id(const struct pair *p, uint8_t out[20])
{
	uint8_t tmp[20];
	int n = http_percent_decode(p->val, p->val_len, tmp, sizeof(tmp));

	if (n == -EINVAL)
		return -EINVAL;
	if (n != (int)sizeof(tmp))
		return -ENOSPC;
	memcpy(out, tmp, sizeof(tmp));
	return 0;
}

/* Parses a decoded unsigned decimal of at most 64 bits: 1*DIGIT. */
static int decode_u64(const struct pair *p, uint64_t *v)
{
	size_t i = 0;
	uint64_t x = 0;

	if (p->val_len == 0)
		return -EINVAL;
	while (i < p->val_len) {
		int c = decode_next(p->val, p->val_len, &i);

		if (c < '0' || c > '9')
			return -EINVAL;
		if (x > (UINT64_MAX - (uint64_t)(c - '0')) / 10)
			return -ERANGE;
		x = x * 10 + (uint64_t)(c - '0');
	}
	*v = x;
	return 0;
}

/* Parses numwant: ["-"] 1*DIGIT; negative means -1 (the server's default),
 * too large saturates at INT32_MAX. */
static int decode_numwant(const struct pair *p, int32_t *v)
{
	size_t i = 0;
	bool neg = false, digits = false;
	int64_t x = 0;

	if (p->val_len && p->val[0] == '-') {
		neg = true;
		i++;
	}
	while (i < p->val_len) {
		int c = decode_next(p->val, p->val_len, &i);

		if (c < '0' || c > '9')
			return -EINVAL;
		digits = true;
		x = x * 10 + (c - '0');
		if (x > INT32_MAX)
			x = INT32_MAX;
	}
	if (!digits)
		return -EINVAL;
	*v = neg && x ? -1 : (int32_t)x;
	return 0;
}

/* Decodes a short text value (event, compact) into buf, NUL-ended; a value
 * too long to fit decodes as "?" so that it matches no keyword. */
static void decode_word(const struct pair *p, char *buf, size_t cap)
{
	int n = http_percent_decode(p->val, p->val_len, (uint8_t *)buf, cap - 1);

	if (n < 0 || memchr(buf, '\0', (size_t)n)) {
		buf[0] = '?';
		n = 1;
	}
	buf[n] = '\0';
}

static int parse_event(const struct pair *p, enum http_event *ev)
{
	char w[12];

	decode_word(p, w, sizeof(w));
	if (w[0] == '\0' || strcmp(w, "paused") == 0)
		*ev = HTTP_EVENT_NONE;
	else if (strcmp(w, "started") == 0)
		*ev = HTTP_EVENT_STARTED;
	else if (strcmp(w, "completed") == 0)
		*ev = HTTP_EVENT_COMPLETED;
	else if (strcmp(w, "stopped") == 0)
		*ev = HTTP_EVENT_STOPPED;
	else
		return -EINVAL;
	return 0;
}

static int parse_flag(const struct pair *p, bool *flag)
{
	char w[4];

	decode_word(p, w, sizeof(w));
	if (strcmp(w, "0") != 0 && strcmp(w, "1") != 0)
		return -EINVAL;
	*flag = w[0] == '1';
	return 0;
}

int http_parse_announce(const char *query, size_t len, struct http_announce *out,
			const char **reason)
{
	bool have_hash = false, have_peer = false, have_port = false, have_left = false;
	struct pair p;
	size_t pos = 0;
	uint64_t v;
	int rc;

	memset(out, 0, sizeof(*out));
	out->event = HTTP_EVENT_NONE;
	out->compact = true;
	out->numwant = -1;
	if (reason)
		*reason = NULL;

	while (next_pair(query, len, &pos, &p)) {
		if (key_is(&p, "info_hash")) {
			if (have_hash)
				return fail(reason, "info_hash given twice");
			rc = decode_id(&p, out->info_hash.b);
			if (rc == -EINVAL)
				return fail(reason, "info_hash has a bad %-escape");
			if (rc < 0)
				return fail(reason, "info_hash must be 20 bytes");
			have_hash = true;
		} else if (key_is(&p, "peer_id")) {
			rc = decode_id(&p, out->peer_id.b);
			if (rc == -EINVAL)
				return fail(reason, "peer_id has a bad %-escape");
			if (rc < 0)
				return fail(reason, "peer_id must be 20 bytes");
			have_peer = true;
		} else if (key_is(&p, "port")) {
			if (decode_u64(&p, &v) < 0 || v < 1 || v > 65535)
				return fail(reason, "port must be 1..65535");
			out->port = (uint16_t)v;
			have_port = true;
		} else if (key_is(&p, "uploaded")) {
			if (decode_u64(&p, &out->uploaded) < 0)
				return fail(reason, "uploaded must be an unsigned 64-bit integer");
		} else if (key_is(&p, "downloaded")) {
			if (decode_u64(&p, &out->downloaded) < 0)
				return fail(reason,
					    "downloaded must be an unsigned 64-bit integer");
		} else if (key_is(&p, "left")) {
			if (decode_u64(&p, &out->left) < 0)
				return fail(reason, "left must be an unsigned 64-bit integer");
			have_left = true;
		} else if (key_is(&p, "event")) {
			if (parse_event(&p, &out->event) < 0)
				return fail(reason, "unknown event");
		} else if (key_is(&p, "compact")) {
			if (parse_flag(&p, &out->compact) < 0)
				return fail(reason, "compact must be 0 or 1");
		} else if (key_is(&p, "no_peer_id")) {
			/* Only "1" asks; anything else is the default. */
			out->no_peer_id = p.val_len == 1 && p.val[0] == '1';
		} else if (key_is(&p, "numwant")) {
			if (decode_numwant(&p, &out->numwant) < 0)
				return fail(reason, "numwant must be an integer");
		}
	}
	if (!have_hash)
		return fail(reason, "missing info_hash");
	if (!have_peer)
		return fail(reason, "missing peer_id");
	if (!have_port)
		return fail(reason, "missing port");
	if (!have_left)
		return fail(reason, "missing left");
	return 0;
}

int http_parse_scrape(const char *query, size_t len, struct info_hash *hashes, size_t cap,
		      const char **reason)
{
	struct pair p;
	size_t pos = 0, n = 0;
	int rc;

	if (reason)
		*reason = NULL;
	if (cap > INT_MAX)
		cap = INT_MAX;
	while (next_pair(query, len, &pos, &p)) {
		if (!key_is(&p, "info_hash"))
			continue;
		if (n == cap)
			return fail(reason, "too many info_hash parameters");
		rc = decode_id(&p, hashes[n].b);
		if (rc == -EINVAL)
			return fail(reason, "info_hash has a bad %-escape");
		if (rc < 0)
			return fail(reason, "info_hash must be 20 bytes");
		n++;
	}
	return (int)n;
}

/* --- bencoded bodies --- */

/* Writes d2:ip<text>4:porti<port>ee for one compact record of an address of
 * alen bytes followed by a port, both network order. */
static void peer_dict(struct bencode *b, int af, const uint8_t *rec, size_t alen)
{
	char text[INET6_ADDRSTRLEN];

	if (!inet_ntop(af, rec, text, sizeof(text)))
		text[0] = '\0'; /* cannot happen: the buffer fits any address */
	bencode_dict_begin(b);
	bencode_str(b, "ip");
	bencode_str(b, text);
	bencode_str(b, "port");
	bencode_int(b, (int64_t)rec[alen] << 8 | rec[alen + 1]);
	bencode_end(b);
}

int http_announce_body(uint8_t *buf, size_t cap, const struct http_announce_reply *r)
{
	struct bencode b;

	bencode_init(&b, buf, cap);
	bencode_dict_begin(&b);
	bencode_str(&b, "complete");
	bencode_int(&b, r->complete);
	bencode_str(&b, "downloaded");
	bencode_int(&b, r->downloaded);
	if (r->external_ip) {
		bencode_str(&b, "external ip");
		bencode_bytes(&b, r->external_ip, r->external_ip_len);
	}
	bencode_str(&b, "incomplete");
	bencode_int(&b, r->incomplete);
	bencode_str(&b, "interval");
	bencode_int(&b, r->interval);
	bencode_str(&b, "min interval");
	bencode_int(&b, r->min_interval);
	bencode_str(&b, "peers");
	if (r->compact) {
		bencode_bytes(&b, r->peers4, r->peers4_len);
		if (r->peers6_len) {
			bencode_str(&b, "peers6");
			bencode_bytes(&b, r->peers6, r->peers6_len);
		}
	} else {
		/* Whole records only; a trailing partial record is dropped. */
		bencode_list_begin(&b);
		for (size_t i = 0; i + 6 <= r->peers4_len; i += 6)
			peer_dict(&b, AF_INET, r->peers4 + i, 4);
		for (size_t i = 0; i + 18 <= r->peers6_len; i += 18)
			peer_dict(&b, AF_INET6, r->peers6 + i, 16);
		bencode_end(&b);
	}
	bencode_end(&b);
	return bencode_done(&b);
}

int http_failure_body(uint8_t *buf, size_t cap, const char *reason)
{
	struct bencode b;

	bencode_init(&b, buf, cap);
	bencode_dict_begin(&b);
	bencode_str(&b, "failure reason");
	bencode_str(&b, reason ? reason : "");
	bencode_end(&b);
	return bencode_done(&b);
}

int http_scrape_body(uint8_t *buf, size_t cap, const struct http_scrape_file *files, size_t n)
{
	uint16_t idx[HTTP_SCRAPE_MAX];
	struct bencode b;

	if (n > HTTP_SCRAPE_MAX)
		return -EINVAL;
	/* Stable insertion sort of indices by raw hash: n <= 256, so at most
	 * ~32k comparisons, and files stays untouched. */
	for (size_t i = 0; i < n; i++) {
		size_t j = i;

		while (j > 0 && memcmp(files[idx[j - 1]].info_hash.b, files[i].info_hash.b,
				       INFO_HASH_LEN) > 0) {
			idx[j] = idx[j - 1];
			j--;
		}
		idx[j] = (uint16_t)i;
	}

	bencode_init(&b, buf, cap);
	bencode_dict_begin(&b);
	bencode_str(&b, "files");
	bencode_dict_begin(&b);
	for (size_t i = 0; i < n; i++) {
		const struct http_scrape_file *f = &files[idx[i]];

		/* A repeated hash is written once, with its first counts. */
		if (i > 0 &&
		    memcmp(files[idx[i - 1]].info_hash.b, f->info_hash.b, INFO_HASH_LEN) == 0)
			continue;
		bencode_bytes(&b, f->info_hash.b, INFO_HASH_LEN);
		bencode_dict_begin(&b);
		bencode_str(&b, "complete");
		bencode_int(&b, f->complete);
		bencode_str(&b, "downloaded");
		bencode_int(&b, f->downloaded);
		bencode_str(&b, "incomplete");
		bencode_int(&b, f->incomplete);
		bencode_end(&b);
	}
	bencode_end(&b);
	bencode_end(&b);
	return bencode_done(&b);
}

/* --- response head --- */

static const char *status_reason(int status)
{
	switch (status) {
	case 200:
		return "OK";
	case 400:
		return "Bad Request";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 414:
		return "URI Too Long";
	case 431:
		return "Request Header Fields Too Large";
	case 503:
		return "Service Unavailable";
	case 505:
		return "HTTP Version Not Supported";
	default:
		return "Unknown";
	}
}

/* Appends n bytes at *at; the caller has checked the total fits. */
static char *append(char *at, const void *p, size_t n)
{
	if (n)
		memcpy(at, p, n);
	return at + n;
}

int http_write_response(char *buf, size_t cap, int status, const char *content_type,
			const void *body, size_t body_len, bool keep_alive)
{
	const char *phrase = status_reason(status);
	const char *conn = keep_alive ? "keep-alive" : "close";
	char status_txt[16], len_txt[24];
	size_t ct_len = content_type ? strlen(content_type) : 0;
	size_t total, head;
	char *at = buf;

	snprintf(status_txt, sizeof(status_txt), "%d", status);
	snprintf(len_txt, sizeof(len_txt), "%zu", body_len);
	/* Sized first: nothing is written unless head and body fit. Each term
	 * is bounded by a string in memory, so only body_len can wrap. */
	head = strlen("HTTP/1.1 ") + strlen(status_txt) + 1 + strlen(phrase) + 2 +
	       (content_type ? strlen("Content-Type: ") + ct_len + 2 : 0) +
	       strlen("Content-Length: ") + strlen(len_txt) + 2 + strlen("Connection: ") +
	       strlen(conn) + 4;
	if (body_len > SIZE_MAX - head)
		return -ENOSPC;
	total = head + body_len;
	if (total > cap || total > INT_MAX)
		return -ENOSPC;

	at = append(at, "HTTP/1.1 ", 9);
	at = append(at, status_txt, strlen(status_txt));
	at = append(at, " ", 1);
	at = append(at, phrase, strlen(phrase));
	at = append(at, "\r\n", 2);
	if (content_type) {
		at = append(at, "Content-Type: ", 14);
		at = append(at, content_type, ct_len);
		at = append(at, "\r\n", 2);
	}
	at = append(at, "Content-Length: ", 16);
	at = append(at, len_txt, strlen(len_txt));
	at = append(at, "\r\nConnection: ", 14);
	at = append(at, conn, strlen(conn));
	at = append(at, "\r\n\r\n", 4);
	at = append(at, body, body_len);
	return (int)(at - buf);
}

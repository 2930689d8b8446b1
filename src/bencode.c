/* bencode.c - writes bencoded values (BEP 3) into a caller's buffer, and
 * reads them back (the decoder, used by the client tool, is at the end).
 *
 * What it does: appends integers, byte strings, and the d/l/e markers of
 * dictionaries and lists to a fixed buffer. Each call either writes its whole
 * token or nothing and marks the writer as overflowed; after an overflow
 * every call is a no-op, so the buffer always holds a valid prefix of the
 * encoding and bencode_done reports -ENOSPC once at the end.
 * What the writer doesn't do: no nesting checks (a stray bencode_end is
 * written as asked), no key ordering checks: the caller writes dictionary
 * keys in raw byte order, as BEP 3 requires.
 * Thread: pure, any thread; the writer struct belongs to one caller.
 * Memory: never allocates; writes only into buf[0..cap). The capacity is
 * clamped to INT_MAX so that bencode_done's int always holds the length.
 * Spec: BEP 3 (bencoding).
 */
#include <errno.h>
#include <limits.h>
#include <string.h>

#include "bencode.h"

void bencode_init(struct bencode *b, uint8_t *buf, size_t cap)
{
	b->buf = buf;
	b->cap = cap > INT_MAX ? INT_MAX : cap;
	b->len = 0;
	b->overflow = false;
}

/* Appends n bytes, all or none. */
static void put(struct bencode *b, const void *p, size_t n)
{
	if (b->overflow || n > b->cap - b->len) {
		b->overflow = true;
		return;
	}
	if (n)
		memcpy(b->buf + b->len, p, n);
	b->len += n;
}

/* Writes v in decimal backwards so that its last digit sits just before end
 * (20 digits hold UINT64_MAX); returns where the first digit landed. */
static char *utoa_end(char *end, uint64_t v)
{
	do {
		*--end = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	return end;
}

void bencode_dict_begin(struct bencode *b)
{
	put(b, "d", 1);
}

void bencode_list_begin(struct bencode *b)
{
	put(b, "l", 1);
}

void bencode_end(struct bencode *b)
{
	put(b, "e", 1);
}

void bencode_int(struct bencode *b, int64_t v)
{
	char tmp[22]; /* 'i', '-', 19 digits, 'e' */
	char *end = tmp + sizeof(tmp), *p;
	/* Magnitude in unsigned arithmetic: -INT64_MIN does not fit int64_t. */
	uint64_t mag = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;

	*--end = 'e';
	p = utoa_end(end, mag);
	if (v < 0)
		*--p = '-';
	*--p = 'i';
	put(b, p, (size_t)(tmp + sizeof(tmp) - p));
}

void bencode_bytes(struct bencode *b, const void *p, size_t n)
{
	char tmp[21]; /* 20 digits and ':' */
	char *end = tmp + sizeof(tmp), *s;
	size_t head;

	*--end = ':';
	s = utoa_end(end, n);
	head = (size_t)(tmp + sizeof(tmp) - s);
	/* Check the whole token first so that a string never appears
	 * half-written. */
	if (b->overflow || head > b->cap - b->len || n > b->cap - b->len - head) {
		b->overflow = true;
		return;
	}
	put(b, s, head);
	put(b, p, n);
}

void bencode_str(struct bencode *b, const char *s)
{
	bencode_bytes(b, s, strlen(s));
}

int bencode_done(const struct bencode *b)
{
	if (b->overflow)
		return -ENOSPC;
	return (int)b->len;
}

/* --- reading: a cursor over a bencoded buffer ---
 *
 * What it does: tokenises one value at a time (bencode_next), skips and
 * checks whole values (bencode_skip, bencode_check), walks containers
 * (bencode_item) and finds dictionary keys (bencode_dict_find).
 * What it doesn't: no allocation, no tree, no key-order check (replies from
 * other trackers are not always sorted), no integers beyond int64_t.
 * Limits: nesting depth BENCODE_MAX_DEPTH, tracked in two 64-bit masks, so
 * a skip is iterative, O(bytes) time and O(1) space whatever the input.
 * Every read is guarded by the length: a cut-off buffer gives -EAGAIN.
 */
_Static_assert(BENCODE_MAX_DEPTH <= 64, "depth bits live in a uint64_t");

static bool is_digit(uint8_t c)
{
	return c >= '0' && c <= '9';
}

/* Parses i<n>e with p just after the 'i'. */
static int next_int(const uint8_t *buf, size_t len, size_t p, size_t *end, int64_t *v)
{
	bool neg = false;
	uint64_t mag = 0, limit = (uint64_t)INT64_MAX;

	if (p < len && buf[p] == '-') {
		neg = true;
		limit += 1; /* |INT64_MIN| */
		p++;
	}
	if (p >= len)
		return -EAGAIN;
	if (!is_digit(buf[p]))
		return -EINVAL;
	if (buf[p] == '0') {
		if (neg)
			return -EINVAL; /* "-0" */
		p++;
	} else {
		while (p < len && is_digit(buf[p])) {
			uint64_t d = (uint64_t)(buf[p] - '0');
			if (mag > (limit - d) / 10)
				return -EINVAL; /* does not fit int64_t */
			mag = mag * 10 + d;
			p++;
		}
	}
	if (p >= len)
		return -EAGAIN;
	if (buf[p] != 'e')
		return -EINVAL; /* a leading zero, or junk */
	*end = p + 1;
	*v = neg ? (int64_t)(0 - mag) : (int64_t)mag;
	return 0;
}

/* Parses <len>:<bytes> with p at the first digit. */
static int next_bytes(const uint8_t *buf, size_t len, size_t p, size_t *end, size_t *start,
		      size_t *n)
{
	size_t v = 0;

	if (buf[p] == '0') {
		p++;
	} else {
		while (p < len && is_digit(buf[p])) {
			size_t d = (size_t)(buf[p] - '0');
			if (v > (SIZE_MAX - d) / 10)
				return -EINVAL;
			v = v * 10 + d;
			p++;
		}
	}
	if (p >= len)
		return -EAGAIN;
	if (buf[p] != ':')
		return -EINVAL;
	p++;
	if (v > len - p)
		return -EAGAIN;
	*start = p;
	*n = v;
	*end = p + v;
	return 0;
}

int bencode_next(const uint8_t *buf, size_t len, size_t *pos, struct bencode_value *out)
{
	size_t p = *pos, end = p + 1;
	struct bencode_value v = {0};
	int rc;

	if (p >= len)
		return -EAGAIN;
	switch (buf[p]) {
	case 'i':
		v.type = BENCODE_INT;
		rc = next_int(buf, len, p + 1, &end, &v.i);
		if (rc < 0)
			return rc;
		break;
	case 'l':
		v.type = BENCODE_LIST;
		break;
	case 'd':
		v.type = BENCODE_DICT;
		break;
	case 'e':
		v.type = BENCODE_END;
		break;
	default: {
		size_t start;
		if (!is_digit(buf[p]))
			return -EINVAL;
		v.type = BENCODE_BYTES;
		rc = next_bytes(buf, len, p, &end, &start, &v.len);
		if (rc < 0)
			return rc;
		v.bytes = buf + start;
		break;
	}
	}
	*out = v;
	*pos = end;
	return (int)v.type;
}

int bencode_skip(const uint8_t *buf, size_t len, size_t *pos)
{
	uint64_t in_dict = 0; /* bit d-1: the container at depth d is a dictionary */
	uint64_t has_key = 0; /* bit d-1: that dictionary read a key, wants its value */
	unsigned depth = 0;
	size_t p = *pos;
	int first = 0;

	do {
		struct bencode_value v;
		int t = bencode_next(buf, len, &p, &v);
		uint64_t bit = depth ? (uint64_t)1 << (depth - 1) : 0;

		if (t < 0)
			return t;
		if (!first)
			first = t;
		if (in_dict & bit) {
			if (t == BENCODE_END) {
				if (has_key & bit)
					return -EINVAL; /* a key without a value */
			} else if (!(has_key & bit)) {
				if (t != BENCODE_BYTES)
					return -EINVAL; /* keys are byte strings */
				has_key |= bit;
				continue;
			} else {
				has_key &= ~bit;
			}
		}
		switch (t) {
		case BENCODE_LIST:
		case BENCODE_DICT:
			if (depth == BENCODE_MAX_DEPTH)
				return -EINVAL;
			bit = (uint64_t)1 << depth++;
			in_dict = t == BENCODE_DICT ? in_dict | bit : in_dict & ~bit;
			has_key &= ~bit;
			break;
		case BENCODE_END:
			if (depth == 0)
				return -EINVAL; /* an 'e' where a value belongs */
			depth--;
			break;
		default:
			break;
		}
	} while (depth > 0);
	*pos = p;
	return first;
}

int bencode_check(const uint8_t *buf, size_t len)
{
	size_t pos = 0;
	int t = bencode_skip(buf, len, &pos);

	if (t < 0)
		return t;
	return pos == len ? t : -EINVAL;
}

int bencode_item(const uint8_t *buf, size_t len, size_t *pos, size_t *item)
{
	size_t p = *pos;
	struct bencode_value v;
	int t = bencode_next(buf, len, &p, &v);

	if (t < 0)
		return t;
	if (t == BENCODE_END) {
		*pos = p;
		return 0;
	}
	p = *pos;
	t = bencode_skip(buf, len, &p);
	if (t < 0)
		return t;
	*item = *pos;
	*pos = p;
	return 1;
}

int bencode_dict_find(const uint8_t *buf, size_t len, size_t dict, const void *key, size_t key_len,
		      size_t *value)
{
	size_t p = dict, end = dict, found = 0;
	struct bencode_value v;
	bool have = false;
	int t;

	/* Check the whole dictionary first: a lookup never trusts a prefix. */
	t = bencode_skip(buf, len, &end);
	if (t < 0)
		return t;
	if (t != BENCODE_DICT)
		return -EINVAL;
	p = dict + 1;
	while (bencode_next(buf, len, &p, &v) == BENCODE_BYTES) {
		if (!have && v.len == key_len &&
		    (key_len == 0 || memcmp(v.bytes, key, key_len) == 0)) {
			found = p;
			have = true;
		}
		if (bencode_skip(buf, len, &p) < 0)
			return -EINVAL; /* cannot happen: checked above */
	}
	if (!have)
		return -ENOENT;
	*value = found;
	return 0;
}

/* bencode.c - writes bencoded values (BEP 3) into a caller's buffer.
 *
 * What it does: appends integers, byte strings, and the d/l/e markers of
 * dictionaries and lists to a fixed buffer. Each call either writes its whole
 * token or nothing and marks the writer as overflowed; after an overflow
 * every call is a no-op, so the buffer always holds a valid prefix of the
 * encoding and bencode_done reports -ENOSPC once at the end.
 * What it doesn't: no parsing, no nesting checks (a stray bencode_end is
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

/* bencode.h - writing bencoded values (BEP 3) into a caller's buffer.
 *
 * Pure, allocation-free, any thread. A writer records overflow instead of
 * failing each call: write everything, then check bencode_done once. The
 * caller writes dictionary keys in sorted (raw byte) order, as BEP 3 needs.
 */
#ifndef RINGTRACKER_BENCODE_H
#define RINGTRACKER_BENCODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct bencode {
	uint8_t *buf;
	size_t cap;  /* bytes */
	size_t len;  /* bytes written so far */
	bool overflow;
};

/* Starts writing into buf (capacity cap). */
void bencode_init(struct bencode *b, uint8_t *buf, size_t cap);

void bencode_dict_begin(struct bencode *b); /* d */
void bencode_list_begin(struct bencode *b); /* l */
void bencode_end(struct bencode *b);        /* e */
void bencode_int(struct bencode *b, int64_t v);                 /* i<v>e */
void bencode_bytes(struct bencode *b, const void *p, size_t n); /* <n>:<bytes> */
void bencode_str(struct bencode *b, const char *s);             /* NUL-ended text */

/* Returns the bytes written, or -ENOSPC if anything did not fit. */
int bencode_done(const struct bencode *b);

#endif

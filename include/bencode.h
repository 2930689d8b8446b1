/* bencode.h - writing and reading bencoded values (BEP 3).
 *
 * Pure, allocation-free, any thread. Writer: records overflow instead of
 * failing each call: write everything, then check bencode_done once; the
 * caller writes dictionary keys in sorted (raw byte) order, as BEP 3 needs.
 * Reader (bencode_next and friends, at the end): a cursor over a buffer,
 * values pointing into it, never reading past its length.
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

/* --- reading: a cursor over a bencoded buffer (BEP 3) ---
 *
 * Pure, allocation-free, any thread. Positions are byte offsets into the
 * caller's buffer; values point into it and stay valid as long as it does.
 * No function reads at or past buf + len. Errors: -EAGAIN when the buffer
 * ends before the value does (a cut-off body), -EINVAL when it is malformed
 * or nested deeper than BENCODE_MAX_DEPTH. Integers and lengths must be
 * canonical (no leading zeros, no "-0"); dictionary key order is not
 * checked, so that replies of careless trackers still decode. */

#define BENCODE_MAX_DEPTH 64 /* nested lists and dictionaries, counting the outermost */

enum bencode_type {
	BENCODE_INT = 1,   /* i<n>e */
	BENCODE_BYTES = 2, /* <len>:<bytes> */
	BENCODE_LIST = 3,  /* 'l': a list starts */
	BENCODE_DICT = 4,  /* 'd': a dictionary starts */
	BENCODE_END = 5,   /* 'e': the innermost list or dictionary ends */
};

struct bencode_value {
	enum bencode_type type;
	int64_t i;	      /* BENCODE_INT */
	const uint8_t *bytes; /* BENCODE_BYTES: into the buffer, not NUL-ended */
	size_t len;	      /* BENCODE_BYTES: length in bytes */
};

/* Reads the one token at *pos. Returns its type (> 0), fills *out and moves
 * *pos past it; or -EAGAIN / -EINVAL with *pos and *out unchanged. A list or
 * dictionary start is one token: its contents follow at the new *pos. */
int bencode_next(const uint8_t *buf, size_t len, size_t *pos, struct bencode_value *out);

/* Skips the whole value at *pos (with everything nested in it), checking it:
 * depth <= BENCODE_MAX_DEPTH counted from this value, dictionary keys are
 * byte strings, every key has a value, no stray 'e'. Returns the value's
 * type and moves *pos past it; or -EAGAIN / -EINVAL with *pos unchanged. */
int bencode_skip(const uint8_t *buf, size_t len, size_t *pos);

/* Checks that buf[0..len) is exactly one valid value. Returns its type, or
 * -EAGAIN (cut off), or -EINVAL (malformed, too deep, or bytes after it). */
int bencode_check(const uint8_t *buf, size_t len);

/* Walks a list or dictionary: *pos is just inside it (after its 'l' or 'd',
 * or after the previous item). Returns 1 with *item at the next item's
 * first byte and *pos past the item (checked as by bencode_skip); 0 at the
 * container's end ('e' consumed); or -EAGAIN / -EINVAL. A dictionary yields
 * its keys and values alternately. */
int bencode_item(const uint8_t *buf, size_t len, size_t *pos, size_t *item);

/* Finds key (key_len raw bytes) in the dictionary whose 'd' is at dict.
 * Returns 0 with *value at the first byte of the first matching key's
 * value, -ENOENT when no key matches, -EINVAL when dict is not a
 * dictionary, or the error of checking the whole dictionary (it is always
 * checked to its end, as by bencode_skip, so a later malformed entry fails
 * the lookup too). O(size of the dictionary). */
int bencode_dict_find(const uint8_t *buf, size_t len, size_t dict, const void *key, size_t key_len,
		      size_t *value);

#endif

/* spsc.h - lock-free single-producer single-consumer ring of variable-size
 * records, used to hand requests from one worker to another.
 *
 * Exactly one thread produces (spsc_reserve/spsc_publish) and exactly one
 * thread consumes (spsc_next/spsc_release); both may run at once. Records
 * are 8-byte aligned, at most spsc_max_record() bytes. Writes become visible
 * to the consumer only at spsc_publish (batched publish), and freed space
 * becomes visible to the producer only at spsc_release. A full ring never
 * blocks: spsc_reserve returns NULL and the caller drops and counts.
 */
#ifndef RINGTRACKER_SPSC_H
#define RINGTRACKER_SPSC_H

#include <stdalign.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SPSC_CACHE_LINE 64

struct spsc {
	/* producer side */
	alignas(SPSC_CACHE_LINE) _Atomic uint64_t head; /* bytes published */
	uint64_t head_local; /* bytes reserved, not yet published */
	uint64_t tail_seen;  /* producer's last view of tail */

	/* consumer side */
	alignas(SPSC_CACHE_LINE) _Atomic uint64_t tail; /* bytes released */
	uint64_t tail_local; /* bytes read, not yet released */
	uint64_t head_seen;  /* consumer's last view of head */

	/* read-only after spsc_init */
	alignas(SPSC_CACHE_LINE) uint8_t *buf;
	uint64_t size; /* bytes, power of two */
};

/* Allocates a ring of size bytes (a power of two, >= 64). Returns 0,
 * -EINVAL for a bad size, -ENOMEM. Call before either thread uses it. */
int spsc_init(struct spsc *r, size_t size);

/* Frees the buffer; no thread may use the ring any more. */
void spsc_free(struct spsc *r);

/* Largest payload one record may carry for this ring. */
size_t spsc_max_record(const struct spsc *r);

/* Producer: reserves len payload bytes tagged with type (0..0xfffe).
 * Returns where to write them, or NULL when the ring is full or len is over
 * spsc_max_record. Invisible to the consumer until spsc_publish. */
void *spsc_reserve(struct spsc *r, uint32_t len, uint16_t type);

/* Producer: makes every reserved record visible. Returns true when there
 * was anything new to publish. */
bool spsc_publish(struct spsc *r);

/* Consumer: returns the next published record's payload and fills *len and
 * *type, or NULL when none. The payload stays valid until spsc_release. */
const void *spsc_next(struct spsc *r, uint32_t *len, uint16_t *type);

/* Consumer: gives the space of every record read so far back to the
 * producer. */
void spsc_release(struct spsc *r);

/* Consumer: true when no published record is waiting. Acquire load; pair
 * with a seq_cst fence for the sleep/wake handshake. */
bool spsc_empty(struct spsc *r);

#endif

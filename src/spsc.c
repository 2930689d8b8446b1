/* spsc.c - single-producer single-consumer ring of variable-size records.
 *
 * Layout: a power-of-two byte buffer addressed by two free-running 64-bit
 * counters (head: bytes produced, tail: bytes consumed); offset = counter &
 * (size - 1). Each record is an 8-byte header {uint32 len, uint16 type,
 * uint16 reserved} followed by its payload rounded up to 8 bytes. A record
 * never wraps: when it does not fit before the end of the buffer, the
 * producer writes a padding record to the end and starts again at offset 0.
 *
 * Threads: one producer and one consumer; head is written only by the
 * producer (release), tail only by the consumer (release); each side caches
 * its view of the other's counter and reloads it (acquire) only when it runs
 * out, so the common path touches one shared cache line per batch.
 * Memory: the buffer is owned by the ring (spsc_init/spsc_free).
 */
#include "spsc.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define SPSC_HEADER 8
#define SPSC_TYPE_PAD 0xffff

struct spsc_header {
	uint32_t len; /* payload bytes, before rounding */
	uint16_t type;
	uint16_t reserved;
};

_Static_assert(sizeof(struct spsc_header) == SPSC_HEADER, "record header is 8 bytes");

static uint64_t round8(uint64_t n)
{
	return (n + 7) & ~(uint64_t)7;
}

int spsc_init(struct spsc *r, size_t size)
{
	memset(r, 0, sizeof(*r));
	if (size < 64 || (size & (size - 1)) != 0)
		return -EINVAL;
	r->buf = aligned_alloc(SPSC_CACHE_LINE, size);
	if (!r->buf)
		return -ENOMEM;
	r->size = size;
	atomic_init(&r->head, 0);
	atomic_init(&r->tail, 0);
	return 0;
}

void spsc_free(struct spsc *r)
{
	free(r->buf);
	r->buf = NULL;
	r->size = 0;
}

size_t spsc_max_record(const struct spsc *r)
{
	/* Half the ring, so that a record plus the padding before it fits. */
	return r->size / 2 - SPSC_HEADER;
}

/* Producer: free bytes, reloading the consumer's tail only if needed. */
static bool spsc_has_room(struct spsc *r, uint64_t need)
{
	if (r->size - (r->head_local - r->tail_seen) >= need)
		return true;
	r->tail_seen = atomic_load_explicit(&r->tail, memory_order_acquire);
	return r->size - (r->head_local - r->tail_seen) >= need;
}

static void spsc_write_header(struct spsc *r, uint64_t pos, uint32_t len, uint16_t type)
{
	struct spsc_header h = { .len = len, .type = type, .reserved = 0 };

	memcpy(r->buf + (pos & (r->size - 1)), &h, sizeof(h));
}

void *spsc_reserve(struct spsc *r, uint32_t len, uint16_t type)
{
	if (len > spsc_max_record(r) || type == SPSC_TYPE_PAD)
		return NULL;

	uint64_t need = SPSC_HEADER + round8(len);
	uint64_t offset = r->head_local & (r->size - 1);
	uint64_t to_end = r->size - offset;
	uint64_t pad = need > to_end ? to_end : 0;

	if (!spsc_has_room(r, pad + need))
		return NULL;
	if (pad) {
		spsc_write_header(r, r->head_local, (uint32_t)(pad - SPSC_HEADER), SPSC_TYPE_PAD);
		r->head_local += pad;
	}
	spsc_write_header(r, r->head_local, len, type);
	void *payload = r->buf + ((r->head_local + SPSC_HEADER) & (r->size - 1));
	r->head_local += need;
	return payload;
}

bool spsc_publish(struct spsc *r)
{
	if (atomic_load_explicit(&r->head, memory_order_relaxed) == r->head_local)
		return false;
	atomic_store_explicit(&r->head, r->head_local, memory_order_release);
	return true;
}

const void *spsc_next(struct spsc *r, uint32_t *len, uint16_t *type)
{
	for (;;) {
		if (r->tail_local == r->head_seen) {
			r->head_seen = atomic_load_explicit(&r->head, memory_order_acquire);
			if (r->tail_local == r->head_seen)
				return NULL;
		}
		struct spsc_header h;
		uint64_t offset = r->tail_local & (r->size - 1);

		memcpy(&h, r->buf + offset, sizeof(h));
		r->tail_local += SPSC_HEADER + round8(h.len);
		if (h.type == SPSC_TYPE_PAD)
			continue;
		*len = h.len;
		*type = h.type;
		return r->buf + offset + SPSC_HEADER;
	}
}

void spsc_release(struct spsc *r)
{
	atomic_store_explicit(&r->tail, r->tail_local, memory_order_release);
}

bool spsc_empty(struct spsc *r)
{
	if (r->tail_local != r->head_seen)
		return false;
	r->head_seen = atomic_load_explicit(&r->head, memory_order_acquire);
	return r->tail_local == r->head_seen;
}

/* bufring.h - an io_uring provided-buffer ring (receives with
 * IOSQE_BUFFER_SELECT pick a buffer from it) and the buffers it hands out.
 *
 * liburing 2.3 has no io_uring_setup_buf_ring, so the ring is mapped and
 * registered here; the server's workers, the load generator and the ceiling
 * responder share this code. All calls are made by the thread that owns the
 * io_uring. Buffers given back with bufring_return reach the kernel only at
 * bufring_publish (once per batch of completions).
 */
#ifndef RINGTRACKER_BUFRING_H
#define RINGTRACKER_BUFRING_H

#include <liburing.h>
#include <stddef.h>
#include <stdint.h>

struct bufring {
	struct io_uring_buf_ring *br; /* mmap'd, n entries */
	uint8_t *bufs;		      /* mmap'd, n * size bytes, touched when used */
	uint32_t n;		      /* buffers: a power of two, at most 32768 */
	uint32_t size;		      /* bytes per buffer */
	uint32_t added;		      /* returned since the last bufring_publish */
};

/* Maps n buffers of size bytes and registers them as buffer group bgid of
 * ring, all available. Returns 0, -EINVAL (n not a power of two in 1..32768),
 * -errno of mmap, or the registration's -errno (-ENOMEM: locked-memory
 * limit). On error *b holds what to give to bufring_free. */
int bufring_setup(struct bufring *b, struct io_uring *ring, uint32_t n, uint32_t size,
		  uint16_t bgid);

/* Unmaps what bufring_setup mapped; safe on a zeroed or failed *b. Call after
 * io_uring_queue_exit (or after unregistering the group). */
void bufring_free(struct bufring *b);

/* The buffer bid (from a completion's IORING_CQE_BUFFER_SHIFT bits, which the
 * caller has checked is below b->n). */
static inline uint8_t *bufring_buf(const struct bufring *b, uint32_t bid)
{
	return b->bufs + (size_t)bid * b->size;
}

/* Gives buffer bid back; the kernel sees it after bufring_publish. */
static inline void bufring_return(struct bufring *b, uint32_t bid)
{
	io_uring_buf_ring_add(b->br, bufring_buf(b, bid), b->size, (unsigned short)bid,
			      io_uring_buf_ring_mask(b->n), (int)b->added++);
}

/* Makes every buffer returned since the last call available to the kernel. */
static inline void bufring_publish(struct bufring *b)
{
	if (b->added) {
		io_uring_buf_ring_advance(b->br, (int)b->added);
		b->added = 0;
	}
}

#endif

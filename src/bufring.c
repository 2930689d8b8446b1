/* bufring.c - set-up and tear-down of an io_uring provided-buffer ring.
 *
 * What it does: maps the ring of buffer descriptors and the buffers
 * (anonymous memory: a buffer costs RSS only once the kernel writes into
 * it), registers the group, and offers every buffer. What it doesn't: the
 * per-completion return and publish (inline in bufring.h). Thread: the
 * io_uring's owner. Memory: both mappings belong to the struct bufring until
 * bufring_free. Platform: liburing 2.3 lacks io_uring_setup_buf_ring.
 */
#include "bufring.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>

static void *map_anon(size_t bytes)
{
	void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

int bufring_setup(struct bufring *b, struct io_uring *ring, uint32_t n, uint32_t size,
		  uint16_t bgid)
{
	memset(b, 0, sizeof(*b));
	if (n == 0 || n > 32768 || (n & (n - 1)) || size == 0)
		return -EINVAL;
	b->n = n;
	b->size = size;
	b->br = map_anon((size_t)n * sizeof(struct io_uring_buf));
	if (!b->br)
		return -errno;
	b->bufs = map_anon((size_t)n * size);
	if (!b->bufs)
		return -errno;
	struct io_uring_buf_reg reg = {
		.ring_addr = (uint64_t)(uintptr_t)b->br,
		.ring_entries = n,
		.bgid = bgid,
	};
	int r = io_uring_register_buf_ring(ring, &reg, 0);
	if (r < 0)
		return r;
	io_uring_buf_ring_init(b->br);
	for (uint32_t i = 0; i < n; i++)
		bufring_return(b, i);
	bufring_publish(b);
	return 0;
}

void bufring_free(struct bufring *b)
{
	if (b->br)
		munmap(b->br, (size_t)b->n * sizeof(struct io_uring_buf));
	if (b->bufs)
		munmap(b->bufs, (size_t)b->n * b->size);
	memset(b, 0, sizeof(*b));
}

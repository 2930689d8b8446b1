/* ringutil.c - see ringutil.h. Runs on the thread that owns the ring; owns
 * no memory.
 */
#include "ringutil.h"

#include <errno.h>

/* Completion rounds at most; each takes ~20 of the cancelled requests. */
#define QUIESCE_ROUNDS_MAX 4096

int ringutil_quiesce(struct io_uring *ring, bool files)
{
	struct io_uring_sync_cancel_reg reg = {
	    .fd = -1,
	    .flags = IORING_ASYNC_CANCEL_ANY | IORING_ASYNC_CANCEL_ALL,
	    .timeout = {.tv_sec = 1, .tv_nsec = 0},
	};
	int r = io_uring_register_sync_cancel(ring, &reg);

	/* DEFER_TASKRUN: the cancelled requests are freed, and their files
	 * put, only when we ask for events, and the kernel runs a bounded
	 * number of them per ask (about 20 on 6.18): ask until a round brings
	 * no completion. Bounded: each round frees requests that were in
	 * flight, and nothing new is submitted. */
	for (int round = 0; round < QUIESCE_ROUNDS_MAX; round++) {
		io_uring_get_events(ring);
		unsigned n = io_uring_cq_ready(ring);
		if (n == 0)
			break;
		io_uring_cq_advance(ring, n);
	}
	if (files)
		io_uring_unregister_files(ring);
	return r == -ENOENT ? 0 : r;
}

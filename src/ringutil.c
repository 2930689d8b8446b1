/* ringutil.c - see ringutil.h. Runs on the thread that owns the ring; owns
 * no memory.
 */
#include "ringutil.h"

#include <errno.h>

int ringutil_quiesce(struct io_uring *ring, bool files)
{
	struct io_uring_sync_cancel_reg reg = {
	    .fd = -1,
	    .flags = IORING_ASYNC_CANCEL_ANY | IORING_ASYNC_CANCEL_ALL,
	    .timeout = {.tv_sec = 1, .tv_nsec = 0},
	};
	int r = io_uring_register_sync_cancel(ring, &reg);

	/* DEFER_TASKRUN: the cancelled requests are freed, and their files
	 * put, only when we ask for events. */
	io_uring_get_events(ring);
	io_uring_cq_advance(ring, io_uring_cq_ready(ring));
	if (files)
		io_uring_unregister_files(ring);
	return r == -ENOENT ? 0 : r;
}

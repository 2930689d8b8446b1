/* ringutil.c - see ringutil.h. Runs on the thread that owns the ring; owns
 * no memory.
 */
#include "ringutil.h"

#include <errno.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>

#define QUIESCE_MAX_NS 2000000000ULL /* for the completions of the cancelled */

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

struct io_uring_sqe *ringutil_get_sqe(struct io_uring *ring)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(ring);

	if (!sqe) {
		io_uring_submit(ring);
		sqe = io_uring_get_sqe(ring);
	}
	return sqe;
}

void ringutil_close(struct io_uring *ring, int fd, uint64_t user_data)
{
	struct io_uring_sqe *sqe = ringutil_get_sqe(ring);

	if (!sqe) {
		close(fd);
		return;
	}
	io_uring_prep_close(sqe, fd);
	io_uring_sqe_set_data64(sqe, user_data);
	sqe->flags |= IOSQE_CQE_SKIP_SUCCESS;
}

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
	 * no completion, for QUIESCE_MAX_NS at most (a worker may have
	 * hundreds of thousands of requests in flight). */
	uint64_t start = now_ns();
	bool drained = false;
	while (!drained && now_ns() - start < QUIESCE_MAX_NS) {
		io_uring_get_events(ring);
		unsigned n = io_uring_cq_ready(ring);
		io_uring_cq_advance(ring, n);
		drained = n == 0;
	}
	if (files)
		io_uring_unregister_files(ring);
	if (r == -ENOENT)
		r = 0;
	return r == 0 && !drained ? -ETIME : r;
}

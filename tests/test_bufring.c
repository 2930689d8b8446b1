/* test_bufring.c - the provided-buffer ring (src/bufring.c): bad sizes are
 * refused, and over a real io_uring a multishot receive takes every buffer,
 * stops with -ENOBUFS when none is left, and goes on once they are given
 * back and published. Loopback UDP only; every wait is bounded. */
#include <criterion/criterion.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bufring.h"

Test(bufring, refuses_bad_sizes)
{
	struct io_uring ring;
	struct bufring b;

	cr_assert_eq(io_uring_queue_init(8, &ring, 0), 0);
	cr_assert_eq(bufring_setup(&b, &ring, 0, 64, 0), -EINVAL);
	bufring_free(&b);
	cr_assert_eq(bufring_setup(&b, &ring, 12, 64, 0), -EINVAL, "not a power of two");
	bufring_free(&b);
	cr_assert_eq(bufring_setup(&b, &ring, 65536, 64, 0), -EINVAL, "above 32768");
	bufring_free(&b);
	cr_assert_eq(bufring_setup(&b, &ring, 8, 0, 0), -EINVAL);
	bufring_free(&b);
	io_uring_queue_exit(&ring);
}

/* A bound loopback UDP socket and one connected to it. */
static void socket_pair(int *rx, int *tx)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(a);

	*rx = socket(AF_INET, SOCK_DGRAM, 0);
	*tx = socket(AF_INET, SOCK_DGRAM, 0);
	cr_assert(*rx >= 0 && *tx >= 0);
	cr_assert_eq(bind(*rx, (struct sockaddr *)&a, sizeof(a)), 0);
	cr_assert_eq(getsockname(*rx, (struct sockaddr *)&a, &len), 0);
	cr_assert_eq(connect(*tx, (struct sockaddr *)&a, sizeof(a)), 0);
}

static void arm(struct io_uring *ring, int fd)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(ring);

	io_uring_prep_recv_multishot(sqe, fd, NULL, 0, 0);
	sqe->flags |= IOSQE_BUFFER_SELECT;
	sqe->buf_group = 3;
	cr_assert_eq(io_uring_submit(ring), 1);
}

/* Waits (up to 2 s) for one completion and consumes it. Returns its result;
 * *bid is its buffer, or -1 without one. */
static int next(struct io_uring *ring, int *bid)
{
	struct __kernel_timespec ts = {.tv_sec = 2};
	struct io_uring_cqe *cqe;

	cr_assert_eq(io_uring_wait_cqe_timeout(ring, &cqe, &ts), 0, "no completion in 2 s");
	int res = cqe->res;
	*bid =
	    (cqe->flags & IORING_CQE_F_BUFFER) ? (int)(cqe->flags >> IORING_CQE_BUFFER_SHIFT) : -1;
	io_uring_cqe_seen(ring, cqe);
	return res;
}

Test(bufring, receives_into_each_buffer_until_given_back, .timeout = 20)
{
	struct io_uring ring;
	struct bufring b;
	int rx, tx, bid, seen = 0;
	char msg[16];

	cr_assert_eq(io_uring_queue_init(16, &ring, 0), 0);
	cr_assert_eq(bufring_setup(&b, &ring, 4, 64, 3), 0);
	socket_pair(&rx, &tx);
	arm(&ring, rx);
	for (int i = 0; i < 4; i++) {
		int n = snprintf(msg, sizeof(msg), "datagram %d", i);
		cr_assert_eq(send(tx, msg, (size_t)n, 0), n);
		cr_assert_eq(next(&ring, &bid), n);
		cr_assert(bid >= 0 && bid < 4, "buffer %d", bid);
		cr_assert_eq(memcmp(bufring_buf(&b, (uint32_t)bid), msg, (size_t)n), 0);
		cr_assert_eq(seen & (1 << bid), 0, "buffer %d handed out twice", bid);
		seen |= 1 << bid;
	}
	/* All four in use: the next datagram ends the multishot receive. */
	cr_assert_eq(send(tx, "x", 1, 0), 1);
	cr_assert_eq(next(&ring, &bid), -ENOBUFS);

	/* Given back but not published: still none for the kernel. */
	for (uint32_t i = 0; i < 4; i++)
		bufring_return(&b, i);
	arm(&ring, rx);
	cr_assert_eq(next(&ring, &bid), -ENOBUFS);
	bufring_publish(&b);
	arm(&ring, rx);
	cr_assert_eq(next(&ring, &bid), 1, "the queued datagram, now that buffers are back");
	cr_assert_eq(bufring_buf(&b, (uint32_t)bid)[0], 'x');

	close(rx);
	close(tx);
	io_uring_queue_exit(&ring);
	bufring_free(&b);
}

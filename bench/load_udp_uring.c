/* load_udp_uring.c - one UDP load thread's I/O loop over io_uring.
 *
 * What it does: one ring per load thread (SINGLE_ISSUER | DEFER_TASKRUN,
 * created on that thread), the thread's sockets registered as fixed files,
 * one multishot recv per socket over a provided buffer ring, one send SQE per
 * request (a completion only when it fails). Each turn fills the window,
 * then submits every queued send and waits for a batch of replies (see
 * WAIT_DIV) in a single io_uring_enter, so a turn costs one syscall for any
 * number of requests and replies across sockets - which sendmmsg/recvmmsg
 * cannot do when requests are spread over hundreds of sockets (measured:
 * bench/README.md, ~25% less generator CPU per request).
 * What it doesn't: no request logic (load_udp.c).
 * Thread: the load thread only. Memory: the ring, the buffer ring and its
 * buffers are allocated and freed here, inside udp_uring_run.
 * Platform: the buffer ring comes from bufring.h (liburing 2.3 lacks
 * io_uring_setup_buf_ring); a multishot recv ends without IORING_CQE_F_MORE (on
 * -ENOBUFS or any error) and is re-armed then.
 */
#include <errno.h>
#include <liburing.h>
#include <stdlib.h>
#include <string.h>

#include "bufring.h"
#include "ringutil.h"
#include "load_udp.h"

#define BGID 0
#define WAIT_NS 10000000 /* longest wait for one completion: expiry runs at least this often */
/* With many replies outstanding a turn waits for 1/WAIT_DIV of them (at most
 * WAIT_MAX) or WAIT_BATCH_NS, whichever comes first. With DEFER_TASKRUN the
 * kernel then wakes us once per batch instead of once per reply, which the
 * responder's CPU pays for (measured: ~300k/s against the ceiling instead of
 * a bimodal 220k or 290k with a wait for one). The short timeout bounds what
 * the batching adds to a measured latency. */
#define WAIT_DIV 8
#define WAIT_MAX 32
#define WAIT_BATCH_NS 200000

enum { UD_RECV = 1, UD_SEND = 2 };
#define UD_MAKE(kind, idx) (((uint64_t)(kind) << 32) | (uint32_t)(idx))
#define UD_KIND(ud) ((unsigned)((ud) >> 32))
#define UD_INDEX(ud) ((uint32_t)(ud))

struct uring_io {
	struct io_uring ring;
	bool ring_ready;
	struct bufring bufs; /* replies: UDP_REPLY_CAP bytes each */
	bool *rearm;      /* [n_socks] */
	uint32_t n_rearm; /* how many are set */
};

static uint32_t pow2_at_least(uint32_t n)
{
	uint32_t p = 1;

	while (p < n && p < (1u << 30))
		p <<= 1;
	return p;
}

/* ------------------------------------------------------------ set-up */

static int setup_ring(struct udp_engine *e, struct uring_io *io)
{
	struct io_uring_params p;
	uint32_t entries = pow2_at_least(e->cfg->window + e->n_socks + 64);

	if (entries > 32768)
		entries = 32768;
	memset(&p, 0, sizeof(p));
	/* Only this thread submits; completion work runs when we wait. */
	p.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN |
		  IORING_SETUP_SUBMIT_ALL | IORING_SETUP_CQSIZE | IORING_SETUP_CLAMP;
	p.cq_entries = entries * 4;
	int r = io_uring_queue_init_params(entries, &io->ring, &p);
	if (r < 0)
		return r;
	io->ring_ready = true;

	int *fds = malloc(e->n_socks * sizeof(*fds));
	if (!fds)
		return -ENOMEM;
	for (uint32_t i = 0; i < e->n_socks; i++)
		fds[i] = e->socks[i].fd;
	r = io_uring_register_files(&io->ring, fds, e->n_socks);
	free(fds);
	return r;
}

static int setup_buffers(struct udp_engine *e, struct uring_io *io)
{
	uint32_t n = pow2_at_least(e->cfg->window * 2 > 1024 ? e->cfg->window * 2 : 1024);

	io->rearm = calloc(e->n_socks, sizeof(*io->rearm));
	if (!io->rearm)
		return -ENOMEM;
	return bufring_setup(&io->bufs, &io->ring, n > 32768 ? 32768 : n, UDP_REPLY_CAP, BGID);
}

static void teardown(struct uring_io *io)
{
	if (io->ring_ready)
		io_uring_queue_exit(&io->ring);
	bufring_free(&io->bufs);
	free(io->rearm);
}

/* --------------------------------------------------------------- SQEs */

static struct io_uring_sqe *get_sqe(struct uring_io *io)
{
	return ringutil_get_sqe(&io->ring);
}

static void recv_arm(struct uring_io *io, uint32_t sock)
{
	struct io_uring_sqe *sqe = get_sqe(io);

	if (!sqe)
		return; /* stays set: next turn */
	io_uring_prep_recv_multishot(sqe, (int)sock, NULL, 0, 0);
	sqe->flags |= IOSQE_FIXED_FILE | IOSQE_BUFFER_SELECT;
	sqe->buf_group = BGID;
	io_uring_sqe_set_data64(sqe, UD_MAKE(UD_RECV, sock));
	if (io->rearm[sock]) {
		io->rearm[sock] = false;
		io->n_rearm--;
	}
}

/* Queues as many requests as the window allows. */
static void fill(struct udp_engine *e, struct uring_io *io, uint64_t now, int phase)
{
	struct udp_slot *s;

	while ((s = udp_next_request(e, now, phase))) {
		struct io_uring_sqe *sqe = get_sqe(io);
		if (!sqe) {
			udp_send_failed(e, s->tid, -EBUSY);
			return;
		}
		/* Connected socket: plain send; the buffer lives in the slot until
		 * the request settles. Only a failure posts a completion, so the
		 * CQ holds replies and a wait can ask for several. */
		io_uring_prep_send(sqe, (int)s->sock, s->buf, s->len, 0);
		sqe->flags |= IOSQE_FIXED_FILE | IOSQE_CQE_SKIP_SUCCESS;
		io_uring_sqe_set_data64(sqe, UD_MAKE(UD_SEND, s->tid));
	}
}

/* ------------------------------------------------------- completions */

static void recv_done(struct udp_engine *e, struct uring_io *io, const struct io_uring_cqe *cqe,
		      uint64_t now)
{
	uint32_t sock = UD_INDEX(cqe->user_data);

	if (!(cqe->flags & IORING_CQE_F_MORE) && !io->rearm[sock]) {
		io->rearm[sock] = true;
		io->n_rearm++;
		load_count(&e->t->stats[LOAD_PHASE_MEASURE], LC_recv_rearm, 1);
	}
	if (cqe->res == -ECONNREFUSED)
		load_count(&e->t->stats[LOAD_PHASE_MEASURE], LC_refused, 1);
	if (cqe->res < 0 || !(cqe->flags & IORING_CQE_F_BUFFER))
		return;
	uint32_t bid = cqe->flags >> IORING_CQE_BUFFER_SHIFT;
	if (bid >= io->bufs.n)
		return;
	udp_on_reply(e, sock, bufring_buf(&io->bufs, bid), (size_t)cqe->res, now);
	bufring_return(&io->bufs, bid);
}

static void drain(struct udp_engine *e, struct uring_io *io, uint64_t now)
{
	struct io_uring_cqe *cqe;
	unsigned head, n = 0;

	io_uring_for_each_cqe(&io->ring, head, cqe)
	{
		n++;
		if (UD_KIND(cqe->user_data) == UD_RECV)
			recv_done(e, io, cqe, now);
		else if (cqe->res < 0)
			udp_send_failed(e, UD_INDEX(cqe->user_data), cqe->res);
	}
	io_uring_cq_advance(&io->ring, n);
	bufring_publish(&io->bufs);
	for (uint32_t k = 0; io->n_rearm && k < e->n_socks; k++)
		if (io->rearm[k])
			recv_arm(io, k);
}

/* ------------------------------------------------------------- loop */

static void loop(struct udp_engine *e, struct uring_io *io)
{
	struct load_thread *t = e->t;
	struct __kernel_timespec one = {.tv_sec = 0, .tv_nsec = WAIT_NS};
	struct __kernel_timespec batch = {.tv_sec = 0, .tv_nsec = WAIT_BATCH_NS};
	struct io_uring_cqe *cqe;
	uint64_t now = load_now_ns(), deadline = 0;

	/* Bounded in time: a wait returns within WAIT_NS, sending stops at the
	 * end of the run, and the drain that follows ends by its deadline. */
	for (;;) {
		int phase = e->exhausted ? -1 : load_phase(t, now);
		if (phase >= 0) {
			fill(e, io, now, phase);
		} else if (!deadline) {
			t->stopped_at = now;
			deadline = now + (uint64_t)e->cfg->timeout_ms * 1000000ULL + WAIT_NS;
		}
		udp_housekeeping(e, now);
		if (deadline && (e->awaiting == 0 || now > deadline))
			break;
		unsigned want = e->awaiting / WAIT_DIV;
		if (want > WAIT_MAX)
			want = WAIT_MAX;
		io_uring_submit_and_wait_timeout(&io->ring, &cqe, want > 1 ? want : 1,
						 want > 1 ? &batch : &one, NULL);
		now = load_now_ns();
		drain(e, io, now);
	}
}

int udp_uring_run(struct udp_engine *e)
{
	struct uring_io io;
	int r;

	memset(&io, 0, sizeof(io));
	e->io = &io;
	if ((r = setup_ring(e, &io)) < 0 || (r = setup_buffers(e, &io)) < 0)
		goto out_teardown;
	for (uint32_t k = 0; k < e->n_socks; k++) {
		io.rearm[k] = true;
		io.n_rearm++;
		recv_arm(&io, k);
	}
	loop(e, &io);
	r = 0;
out_teardown:
	teardown(&io);
	e->io = NULL;
	return r;
}

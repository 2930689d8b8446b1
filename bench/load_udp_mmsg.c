/* load_udp_mmsg.c - one UDP load thread's I/O loop over sendmmsg/recvmmsg
 * and epoll (--io mmsg), kept to compare against io_uring.
 *
 * What it does: each turn fills the window, groups the new requests by
 * socket and sends each group with one sendmmsg; then epoll_wait (level
 * triggered, at most 10 ms) and one recvmmsg batch per ready socket, repeated
 * while a batch comes back full (at most MAX_ROUNDS times). With requests
 * spread over many sockets a group is usually one request, so this costs
 * about one syscall per request - fine with --sockets 1..8, slower than
 * io_uring with the default 256 (bench/README.md has the figures).
 * What it doesn't: no request logic (load_udp.c).
 * Thread: the load thread only. Memory: the epoll fd and batch arrays are
 * allocated and freed inside udp_mmsg_run.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "load_udp.h"

#define BATCH 64
#define MAX_ROUNDS 4
#define WAIT_MS 10

struct mmsg_io {
	int ep;
	uint32_t *head;    /* [n_socks]: first queued slot + 1, 0 = none */
	uint32_t *next;    /* [window]: next queued slot of the same socket + 1 */
	uint32_t *touched; /* sockets with queued requests this turn */
	uint32_t n_touched;
	struct mmsghdr msgs[BATCH];
	struct iovec iov[BATCH];
	struct udp_slot *batch[BATCH];
	uint8_t (*rbuf)[UDP_REPLY_CAP]; /* [BATCH] */
	struct epoll_event events[256];
};

static int setup(struct udp_engine *e, struct mmsg_io *io)
{
	io->ep = epoll_create1(EPOLL_CLOEXEC);
	if (io->ep < 0)
		return -errno;
	io->head = calloc(e->n_socks, sizeof(*io->head));
	io->next = calloc(e->cfg->window, sizeof(*io->next));
	io->touched = calloc(e->n_socks, sizeof(*io->touched));
	io->rbuf = malloc(BATCH * sizeof(*io->rbuf));
	if (!io->head || !io->next || !io->touched || !io->rbuf)
		return -ENOMEM;
	for (uint32_t i = 0; i < e->n_socks; i++) {
		struct epoll_event ev = {.events = EPOLLIN, .data.u32 = i};
		if (epoll_ctl(io->ep, EPOLL_CTL_ADD, e->socks[i].fd, &ev) < 0)
			return -errno;
	}
	return 0;
}

static void teardown(struct mmsg_io *io)
{
	if (io->ep >= 0)
		close(io->ep);
	free(io->head);
	free(io->next);
	free(io->touched);
	free(io->rbuf);
}

/* ------------------------------------------------------------- sends */

static void queue(struct udp_engine *e, struct mmsg_io *io, struct udp_slot *s)
{
	uint32_t i = udp_slot_index(e, s);

	if (!io->head[s->sock])
		io->touched[io->n_touched++] = s->sock;
	io->next[i] = io->head[s->sock];
	io->head[s->sock] = i + 1;
}

/* Sends up to BATCH queued requests of one socket; the rest next call. */
static void send_batch(struct udp_engine *e, struct mmsg_io *io, uint32_t sock)
{
	unsigned n = 0;

	while (io->head[sock] && n < BATCH) {
		struct udp_slot *s = &e->slots[io->head[sock] - 1];
		io->head[sock] = io->next[udp_slot_index(e, s)];
		io->iov[n] = (struct iovec){.iov_base = s->buf, .iov_len = s->len};
		memset(&io->msgs[n], 0, sizeof(io->msgs[n]));
		io->msgs[n].msg_hdr.msg_iov = &io->iov[n];
		io->msgs[n].msg_hdr.msg_iovlen = 1;
		io->batch[n++] = s;
	}
	int sent = sendmmsg(e->socks[sock].fd, io->msgs, n, MSG_DONTWAIT);
	int err = sent < 0 ? -errno : -EAGAIN;
	for (unsigned k = sent < 0 ? 0 : (unsigned)sent; k < n; k++)
		udp_send_failed(e, io->batch[k]->tid, err);
}

static void fill_and_send(struct udp_engine *e, struct mmsg_io *io, uint64_t now, int phase)
{
	struct udp_slot *s;

	while ((s = udp_next_request(e, now, phase)))
		queue(e, io, s);
	for (uint32_t k = 0; k < io->n_touched; k++) {
		uint32_t sock = io->touched[k];
		while (io->head[sock])
			send_batch(e, io, sock);
	}
	io->n_touched = 0;
}

/* ---------------------------------------------------------- receives */

static void receive(struct udp_engine *e, struct mmsg_io *io, uint32_t sock, uint64_t now)
{
	for (int round = 0; round < MAX_ROUNDS; round++) {
		for (unsigned k = 0; k < BATCH; k++) {
			io->iov[k] = (struct iovec){.iov_base = io->rbuf[k], .iov_len = UDP_REPLY_CAP};
			memset(&io->msgs[k], 0, sizeof(io->msgs[k]));
			io->msgs[k].msg_hdr.msg_iov = &io->iov[k];
			io->msgs[k].msg_hdr.msg_iovlen = 1;
		}
		int n = recvmmsg(e->socks[sock].fd, io->msgs, BATCH, MSG_DONTWAIT, NULL);
		if (n < 0 && errno == ECONNREFUSED)
			load_count(&e->t->stats[LOAD_PHASE_MEASURE], LC_refused, 1);
		if (n <= 0)
			return;
		for (int k = 0; k < n; k++)
			udp_on_reply(e, sock, io->rbuf[k], io->msgs[k].msg_len, now);
		if (n < BATCH)
			return;
	}
}

static uint64_t wait_and_receive(struct udp_engine *e, struct mmsg_io *io)
{
	int n = epoll_wait(io->ep, io->events, 256, WAIT_MS);
	uint64_t now = load_now_ns();

	for (int i = 0; i < n; i++)
		receive(e, io, io->events[i].data.u32, now);
	return now;
}

int udp_mmsg_run(struct udp_engine *e)
{
	struct mmsg_io *io = calloc(1, sizeof(*io));
	struct load_thread *t = e->t;
	uint64_t now = load_now_ns(), deadline = 0;
	int r;

	if (!io)
		return -ENOMEM;
	io->ep = -1;
	if ((r = setup(e, io)) < 0)
		goto out_teardown;
	/* Bounded in time: epoll_wait returns within WAIT_MS, sending stops at
	 * the end of the run, and the drain ends by its deadline. */
	for (;;) {
		int phase = e->exhausted ? -1 : load_phase(t, now);
		if (phase >= 0) {
			fill_and_send(e, io, now, phase);
		} else if (!deadline) {
			t->stopped_at = now;
			deadline = now + (uint64_t)e->cfg->timeout_ms * 1000000ULL + WAIT_MS * 1000000ULL;
		}
		udp_housekeeping(e, now);
		if (deadline && (e->awaiting == 0 || now > deadline))
			break;
		now = wait_and_receive(e, io);
	}
out_teardown:
	teardown(io);
	free(io);
	return r;
}

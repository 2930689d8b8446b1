/* ceiling.c - ringtracker-ceiling: a stateless BEP 15 responder that does
 * the least work a UDP tracker can do, to show how many packets per second
 * the kernel, the loopback path and the load generator allow at all.
 *
 * What it does: --workers threads, each pinned to a CPU of --cpus, each with
 * its own SO_REUSEPORT socket on --udp ADDR:PORT. With --io mmsg (the
 * default) a worker receives batches with recvmmsg (blocking until at least
 * one datagram, MSG_WAITFORONE) and answers a batch with one sendmmsg; with
 * --io uring it uses io_uring as ringtracker's workers do (multishot recvmsg
 * over a provided buffer ring, one send SQE per reply, one io_uring_enter
 * per turn). Which is cheaper depends on the host: where kernel entries are
 * dear (PTI), io_uring wins. Either way it parses each datagram with
 * udp_parse_request and answers every valid request with a fixed valid
 * reply:
 *   connect  -> CEILING_CONNID (a constant);
 *   announce -> interval 1800, 50 leechers, 50 seeders, and min(numwant, 50)
 *               fixed peers (50 when numwant is -1): 6-byte peers to IPv4
 *               clients, 18-byte peers to IPv6 clients;
 *   scrape   -> one zero entry per hash asked.
 * Malformed requests and announces/scrapes without CEILING_CONNID are
 * dropped (and counted). SIGINT/SIGTERM stop it (within RECV_TIMEOUT_MS);
 * it then prints the packets handled per worker and in total.
 * What it doesn't: no swarm, no connection id MAC, no error replies, no
 * HTTP. It is a yardstick, not a tracker.
 * Threads: main (flags, signals, join) and the workers; the stop flag is the
 * only shared mutable state, each worker's counters are read after join.
 * Memory: each worker owns its socket and batch buffers (~200 KiB; with
 * --io uring also its ring, 1024 receive buffers and 1024 reply slots,
 * ~4 MiB).
 * Spec: BEP 15.
 */
#include <assert.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "bufring.h"
#include "netaddr.h"
#include "ringutil.h"
#include "udp.h"

#define CEILING_CONNID 0x5241494e47434c47ULL
#define MAX_WORKERS 256
#define BATCH 64
#define REPLY_CAP 1472
#define FIXED_PEERS 50
#define RECV_TIMEOUT_MS 100
#define RCVBUF (4 << 20) /* bytes; as ringtracker's server.c, so bursts fit alike */

static_assert(UDP_ANNOUNCE_RESPONSE_HEADER + FIXED_PEERS * UDP_PEER6_LEN <= REPLY_CAP,
	      "an announce reply fits");
static_assert(8 + UDP_SCRAPE_MAX_HASHES * UDP_SCRAPE_ENTRY_LEN <= REPLY_CAP, "a scrape reply fits");

static atomic_int stop_flag;

struct ceiling_config {
	struct netaddr addr;
	unsigned workers;
	int cpus[MAX_WORKERS];
	unsigned n_cpus; /* 0: do not pin */
	bool uring;      /* --io uring: io_uring instead of recvmmsg/sendmmsg */
};

struct ceiling_worker {
	unsigned index;
	int cpu; /* -1: not pinned */
	int fd;
	uint64_t received, answered, dropped_malformed, dropped_connid, send_errors;
	uint64_t batches; /* recvmmsg calls (io_uring: loop turns) that returned datagrams */
	int err;          /* io_uring set-up failure (-errno), or 0 */
	bool uring;
	pthread_t tid;
	/* Batch buffers: requests in, replies out, source addresses. */
	struct mmsghdr in[BATCH], out[BATCH];
	struct iovec in_iov[BATCH], out_iov[BATCH];
	struct sockaddr_storage from[BATCH];
	uint8_t rbuf[BATCH][UDP_REQUEST_MAX + 1];
	uint8_t wbuf[BATCH][REPLY_CAP];
};

static void on_signal(int sig)
{
	(void)sig;
	atomic_store(&stop_flag, 1);
}

/* ------------------------------------------------------------ replies */

/* 50 fixed peers: 10.0.0.1..50 port 6881, or fd00::1..50 port 6881. */
static size_t put_peers(uint8_t *p, size_t n, bool v6)
{
	size_t len = v6 ? UDP_PEER6_LEN : UDP_PEER4_LEN;

	for (size_t i = 0; i < n; i++, p += len) {
		memset(p, 0, len);
		if (v6) {
			p[0] = 0xfd;
			p[15] = (uint8_t)(i + 1);
		} else {
			p[0] = 10;
			p[3] = (uint8_t)(i + 1);
		}
		p[len - 2] = 6881 >> 8;
		p[len - 1] = 6881 & 0xff;
	}
	return n * len;
}

/* Writes the reply to one datagram into out (REPLY_CAP bytes); returns its
 * length, or 0 to drop it. Every reply fits: 20 + 50 * 18 and 8 + 74 * 12
 * bytes are below REPLY_CAP. */
static size_t answer(struct ceiling_worker *w, const uint8_t *req, size_t len, uint8_t *out,
		     bool v6)
{
	static const struct udp_scrape_entry zeros[UDP_SCRAPE_MAX_HASHES];
	struct udp_request r;
	int n;

	if (udp_parse_request(req, len, &r) != UDP_PARSE_OK) {
		w->dropped_malformed++;
		return 0;
	}
	if (r.action == UDP_ACTION_CONNECT) {
		n = udp_write_connect(out, REPLY_CAP, r.transaction_id, CEILING_CONNID);
	} else if (r.connection_id != CEILING_CONNID) {
		w->dropped_connid++;
		return 0;
	} else if (r.action == UDP_ACTION_SCRAPE) {
		n = udp_write_scrape(out, REPLY_CAP, r.transaction_id, zeros, r.scrape.count);
	} else {
		size_t k = r.announce.num_want < 0 || r.announce.num_want > FIXED_PEERS
				   ? FIXED_PEERS
				   : (size_t)r.announce.num_want;
		n = udp_write_announce_header(out, REPLY_CAP, r.transaction_id, 1800, 50, 50);
		if (n > 0)
			n += (int)put_peers(out + n, k, v6);
	}
	return n > 0 ? (size_t)n : 0;
}

/* --------------------------------------------------------------- loop */

static void prepare_batch(struct ceiling_worker *w)
{
	for (unsigned i = 0; i < BATCH; i++) {
		w->in_iov[i] = (struct iovec){.iov_base = w->rbuf[i], .iov_len = sizeof(w->rbuf[i])};
		memset(&w->in[i], 0, sizeof(w->in[i]));
		w->in[i].msg_hdr.msg_iov = &w->in_iov[i];
		w->in[i].msg_hdr.msg_iovlen = 1;
		w->in[i].msg_hdr.msg_name = &w->from[i];
		w->in[i].msg_hdr.msg_namelen = sizeof(w->from[i]);
	}
}

/* Answers one received batch of n datagrams with one sendmmsg. */
static void serve_batch(struct ceiling_worker *w, unsigned n)
{
	unsigned k = 0;

	for (unsigned i = 0; i < n; i++) {
		struct msghdr *h = &w->in[i].msg_hdr;
		size_t len = w->in[i].msg_len;
		bool v6 = ((struct sockaddr *)h->msg_name)->sa_family == AF_INET6;
		if (h->msg_flags & MSG_TRUNC)
			len = UDP_REQUEST_MAX + 1; /* oversized: dropped */
		size_t rlen = answer(w, w->rbuf[i], len, w->wbuf[k], v6);
		if (!rlen)
			continue;
		w->out_iov[k] = (struct iovec){.iov_base = w->wbuf[k], .iov_len = rlen};
		memset(&w->out[k], 0, sizeof(w->out[k]));
		w->out[k].msg_hdr.msg_iov = &w->out_iov[k];
		w->out[k].msg_hdr.msg_iovlen = 1;
		w->out[k].msg_hdr.msg_name = h->msg_name;
		w->out[k].msg_hdr.msg_namelen = h->msg_namelen;
		k++;
	}
	for (unsigned done = 0; done < k;) {
		int s = sendmmsg(w->fd, w->out + done, k - done, 0);
		if (s <= 0) {
			w->send_errors += k - done; /* dropped: a reply is best effort */
			break;
		}
		w->answered += (unsigned)s;
		done += (unsigned)s;
	}
}

/* ------------------------------------------------------ io_uring loop */

/* The same work as serve_batch over io_uring, the way ringtracker's workers
 * do it: the socket as a fixed file, one multishot recvmsg over a provided
 * buffer ring, one send SQE with a destination per reply from a slot that
 * lives until its completion, and one io_uring_enter per loop turn for all
 * sends queued and datagrams received. */
#define UR_ENTRIES 1024
#define UR_SLOTS 1024 /* replies in flight */
#define UR_BUFS 1024
#define UR_BUF_SIZE 2048
#define UR_NAMELEN 32 /* not sizeof(sockaddr_in6): keeps the cmsg header aligned */
enum { UR_RECV = 1, UR_SEND = 2 };
#define UR_MAKE(kind, idx) (((uint64_t)(kind) << 32) | (uint32_t)(idx))

struct ur_slot {
	struct sockaddr_storage to;
	uint32_t next_free;
	uint8_t buf[REPLY_CAP];
};

struct ur_state {
	struct io_uring ring;
	struct bufring bufs;
	struct msghdr tmpl; /* multishot template: namelen only */
	struct ur_slot *slots;
	uint32_t free_slot; /* UINT32_MAX: none */
	bool rearm;
	bool ring_ready;
};

static struct io_uring_sqe *ur_sqe(struct ur_state *u)
{
	return ringutil_get_sqe(&u->ring);
}

static void ur_arm(struct ur_state *u)
{
	struct io_uring_sqe *sqe = ur_sqe(u);

	if (!sqe)
		return; /* stays set: next turn */
	io_uring_prep_recvmsg_multishot(sqe, 0, &u->tmpl, 0);
	sqe->flags |= IOSQE_FIXED_FILE | IOSQE_BUFFER_SELECT;
	sqe->buf_group = 0;
	io_uring_sqe_set_data64(sqe, UR_MAKE(UR_RECV, 0));
	u->rearm = false;
}

/* Answers the datagram in buffer bid of a multishot completion of res bytes. */
static void ur_received(struct ceiling_worker *w, struct ur_state *u, uint32_t bid, int res)
{
	struct io_uring_recvmsg_out *out =
	    io_uring_recvmsg_validate(bufring_buf(&u->bufs, bid), res, &u->tmpl);

	w->received++;
	if (!out || out->namelen > UR_NAMELEN) {
		w->dropped_malformed++; /* no room for its header and address */
		return;
	}
	if (u->free_slot == UINT32_MAX) {
		w->send_errors++; /* every slot in flight: dropped */
		return;
	}
	struct ur_slot *s = &u->slots[u->free_slot];
	const struct sockaddr *from = io_uring_recvmsg_name(out);
	size_t len = io_uring_recvmsg_payload_length(out, res, &u->tmpl);
	if ((out->flags & MSG_TRUNC) || len > UDP_REQUEST_MAX)
		len = UDP_REQUEST_MAX + 1; /* oversized: dropped */
	size_t rlen = answer(w, io_uring_recvmsg_payload(out, &u->tmpl), len, s->buf,
			     from->sa_family == AF_INET6);
	struct io_uring_sqe *sqe = rlen ? ur_sqe(u) : NULL;
	if (!sqe) {
		w->send_errors += rlen != 0;
		return;
	}
	u->free_slot = s->next_free;
	memcpy(&s->to, from, out->namelen);
	/* A send with a destination, as the server's udp_send: no msghdr or
	 * iovec for the kernel to copy in (the 2.3 header has no helper). */
	io_uring_prep_send(sqe, 0, s->buf, rlen, 0);
	sqe->flags |= IOSQE_FIXED_FILE;
	sqe->addr2 = (uint64_t)(uintptr_t)&s->to;
	sqe->addr_len = (uint16_t)out->namelen;
	io_uring_sqe_set_data64(sqe, UR_MAKE(UR_SEND, s - u->slots));
}

static void ur_drain(struct ceiling_worker *w, struct ur_state *u)
{
	struct io_uring_cqe *cqe;
	unsigned head, n = 0;
	uint64_t before = w->received;

	io_uring_for_each_cqe(&u->ring, head, cqe)
	{
		uint32_t idx = (uint32_t)cqe->user_data;
		n++;
		if (cqe->user_data >> 32 == UR_SEND) {
			if (cqe->res < 0)
				w->send_errors++;
			else
				w->answered++;
			u->slots[idx].next_free = u->free_slot;
			u->free_slot = idx;
			continue;
		}
		if (!(cqe->flags & IORING_CQE_F_MORE))
			u->rearm = true; /* ended: -ENOBUFS, an error or a 0-byte datagram */
		if (cqe->res < 0 || !(cqe->flags & IORING_CQE_F_BUFFER))
			continue;
		uint32_t bid = cqe->flags >> IORING_CQE_BUFFER_SHIFT;
		if (bid >= u->bufs.n)
			continue;
		ur_received(w, u, bid, cqe->res);
		bufring_return(&u->bufs, bid);
	}
	io_uring_cq_advance(&u->ring, n);
	bufring_publish(&u->bufs);
	w->batches += w->received != before;
}

static int ur_setup(struct ceiling_worker *w, struct ur_state *u)
{
	struct io_uring_params p;
	int r;

	memset(&p, 0, sizeof(p));
	/* Only this thread submits; completion work runs when we wait. */
	p.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN |
		  IORING_SETUP_SUBMIT_ALL | IORING_SETUP_CQSIZE;
	p.cq_entries = UR_ENTRIES * 4;
	if ((r = io_uring_queue_init_params(UR_ENTRIES, &u->ring, &p)) < 0)
		return r;
	u->ring_ready = true;
	if ((r = io_uring_register_files(&u->ring, &w->fd, 1)) < 0 ||
	    (r = bufring_setup(&u->bufs, &u->ring, UR_BUFS, UR_BUF_SIZE, 0)) < 0)
		return r;
	u->slots = calloc(UR_SLOTS, sizeof(*u->slots));
	if (!u->slots)
		return -ENOMEM;
	for (uint32_t i = 0; i < UR_SLOTS; i++)
		u->slots[i].next_free = i + 1 < UR_SLOTS ? i + 1 : UINT32_MAX;
	u->free_slot = 0;
	u->tmpl.msg_namelen = UR_NAMELEN;
	u->rearm = true;
	return 0;
}

/* Bounded in time: each wait returns within RECV_TIMEOUT_MS, so the stop
 * flag is seen. Returns 0 or the set-up's -errno. */
static int serve_uring(struct ceiling_worker *w)
{
	struct __kernel_timespec ts = {.tv_sec = 0, .tv_nsec = RECV_TIMEOUT_MS * 1000000L};
	struct io_uring_cqe *cqe;
	struct ur_state *u = calloc(1, sizeof(*u));
	int r = u ? ur_setup(w, u) : -ENOMEM;

	while (r == 0 && !atomic_load_explicit(&stop_flag, memory_order_relaxed)) {
		if (u->rearm)
			ur_arm(u);
		io_uring_submit_and_wait_timeout(&u->ring, &cqe, 1, &ts, NULL);
		ur_drain(w, u);
	}
	if (u) {
		if (u->ring_ready) {
			/* Frees the port at exit, not tens of ms later: a bench
			 * starts the next server on it straight away. */
			int q = ringutil_quiesce(&u->ring, true);
			if (q < 0)
				fprintf(stderr, "ringtracker-ceiling: worker %u: cancelling at exit: %s\n",
					w->index, strerror(-q));
			io_uring_queue_exit(&u->ring);
		}
		bufring_free(&u->bufs);
		free(u->slots);
		free(u);
	}
	return r;
}

static void *worker_main(void *arg)
{
	struct ceiling_worker *w = arg;

	if (w->cpu >= 0) {
		cpu_set_t set;
		CPU_ZERO(&set);
		CPU_SET(w->cpu, &set);
		if (pthread_setaffinity_np(pthread_self(), sizeof(set), &set) != 0)
			fprintf(stderr, "ringtracker-ceiling: worker %u: cannot pin to CPU %d\n",
				w->index, w->cpu);
	}
	if (w->uring) {
		w->err = serve_uring(w);
		if (w->err)
			atomic_store(&stop_flag, 1); /* main reports it */
		return NULL;
	}
	/* Bounded in time: recvmmsg returns within RECV_TIMEOUT_MS (SO_RCVTIMEO)
	 * so the stop flag is seen. */
	while (!atomic_load_explicit(&stop_flag, memory_order_relaxed)) {
		prepare_batch(w);
		int n = recvmmsg(w->fd, w->in, BATCH, MSG_WAITFORONE, NULL);
		if (n <= 0)
			continue; /* timeout, EINTR, or an error: check the flag again */
		w->received += (unsigned)n;
		w->batches++;
		serve_batch(w, (unsigned)n);
	}
	return NULL;
}

/* ------------------------------------------------------------- set-up */

static int open_socket(const struct netaddr *a)
{
	struct sockaddr_storage ss;
	socklen_t len = netaddr_to_sockaddr(a, &ss);
	struct timeval tv = {.tv_sec = 0, .tv_usec = RECV_TIMEOUT_MS * 1000};
	int one = 1, size = RCVBUF, fd = socket(a->family, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	/* A window of requests arrives at once: room for it (FORCE needs root). */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)) != 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0 ||
	    (a->family == AF_INET6 &&
	     setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) < 0) ||
	    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0 ||
	    bind(fd, (struct sockaddr *)&ss, len) < 0) {
		int err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

static const char usage_text[] =
    "Usage: ringtracker-ceiling --udp ADDR:PORT [--workers N] [--cpus LIST] [--io uring|mmsg]\n"
    "\n"
    "A stateless BEP 15 responder: the performance ceiling for a UDP tracker on this\n"
    "machine. Answers every valid request with a fixed valid reply (connect: a\n"
    "constant id; announce: min(numwant, 50) fixed peers; scrape: zeros), drops\n"
    "malformed requests and requests without its connection id. Stop with Ctrl-C or\n"
    "SIGTERM; it prints the packets it handled.\n"
    "\n"
    "  --udp ADDR:PORT  address to serve, A.B.C.D:PORT or [V6]:PORT (default\n"
    "                   127.0.0.1:6969); port 0 picks one and prints it\n"
    "  --workers N      threads, each with its own SO_REUSEPORT socket (default 1)\n"
    "  --cpus LIST      pin worker i to the i-th CPU of LIST, e.g. 1 or 0-3\n"
    "                   (default: not pinned)\n"
    "  --io uring|mmsg  how a worker receives and sends: io_uring (multishot recvmsg,\n"
    "                   a send SQE per reply, as ringtracker does) or one recvmmsg\n"
    "                   and one sendmmsg per batch (default mmsg)\n"
    "  -h, --help       this text\n";

static int parse_cpus(const char *s, struct ceiling_config *c)
{
	const char *p = s;

	c->n_cpus = 0;
	while (*p) {
		char *end;
		long a = strtol(p, &end, 10), b = a;
		if (end == p || a < 0 || a >= CPU_SETSIZE)
			return -EINVAL;
		p = end;
		if (*p == '-') {
			b = strtol(p + 1, &end, 10);
			if (end == p + 1 || b < a || b >= CPU_SETSIZE)
				return -EINVAL;
			p = end;
		}
		for (long k = a; k <= b; k++) {
			if (c->n_cpus == MAX_WORKERS)
				return -EINVAL;
			c->cpus[c->n_cpus++] = (int)k;
		}
		if (*p == ',')
			p++;
		else if (*p)
			return -EINVAL;
	}
	return c->n_cpus ? 0 : -EINVAL;
}

/* Returns 0 to run, 1 after --help, 2 on a bad flag. */
static int parse_flags(int argc, char **argv, struct ceiling_config *c)
{
	static const struct option opts[] = {
	    {"udp", required_argument, NULL, 'u'},     {"workers", required_argument, NULL, 'w'},
	    {"cpus", required_argument, NULL, 'c'},    {"io", required_argument, NULL, 'i'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	int opt;
	char *end;

	memset(c, 0, sizeof(*c));
	c->workers = 1;
	netaddr_parse("127.0.0.1:6969", &c->addr);
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (opt) {
		case 'u':
			if (netaddr_parse(optarg, &c->addr) < 0) {
				fprintf(stderr, "ringtracker-ceiling: --udp: '%s' is not ADDR:PORT\n",
					optarg);
				return 2;
			}
			break;
		case 'w':
			c->workers = (unsigned)strtoul(optarg, &end, 10);
			if (*end || c->workers < 1 || c->workers > MAX_WORKERS) {
				fprintf(stderr, "ringtracker-ceiling: --workers: 1..%d\n", MAX_WORKERS);
				return 2;
			}
			break;
		case 'c':
			if (parse_cpus(optarg, c) < 0) {
				fprintf(stderr, "ringtracker-ceiling: --cpus: '%s' is not a list "
						"like 0,2-3\n", optarg);
				return 2;
			}
			break;
		case 'i':
			if (strcmp(optarg, "uring") != 0 && strcmp(optarg, "mmsg") != 0) {
				fprintf(stderr, "ringtracker-ceiling: --io: uring or mmsg, not '%s'\n",
					optarg);
				return 2;
			}
			c->uring = strcmp(optarg, "uring") == 0;
			break;
		case 'h':
			return 1;
		default:
			fprintf(stderr, "ringtracker-ceiling: unknown flag or missing value: %s\n",
				argv[optind - 1]);
			return 2;
		}
	}
	return optind < argc ? 2 : 0;
}

/* Binds the first socket; with port 0 the others take the port it got. */
static int open_sockets(struct ceiling_config *c, struct ceiling_worker *w)
{
	for (unsigned i = 0; i < c->workers; i++) {
		w[i].fd = open_socket(&c->addr);
		if (w[i].fd < 0)
			return w[i].fd;
		if (i == 0 && c->addr.port == 0) {
			struct sockaddr_storage ss;
			socklen_t len = sizeof(ss);
			getsockname(w[0].fd, (struct sockaddr *)&ss, &len);
			netaddr_from_sockaddr((struct sockaddr *)&ss, len, &c->addr);
		}
	}
	return 0;
}

static void report(const struct ceiling_config *c, const struct ceiling_worker *w)
{
	uint64_t rx = 0, tx = 0, bad = 0, connid = 0, err = 0, batches = 0;

	for (unsigned i = 0; i < c->workers; i++) {
		printf("worker %u: received %llu answered %llu dropped_malformed %llu "
		       "dropped_connid %llu send_errors %llu batches %llu\n",
		       i, (unsigned long long)w[i].received, (unsigned long long)w[i].answered,
		       (unsigned long long)w[i].dropped_malformed,
		       (unsigned long long)w[i].dropped_connid, (unsigned long long)w[i].send_errors,
		       (unsigned long long)w[i].batches);
		batches += w[i].batches;
		rx += w[i].received;
		tx += w[i].answered;
		bad += w[i].dropped_malformed;
		connid += w[i].dropped_connid;
		err += w[i].send_errors;
	}
	printf("total: received %llu answered %llu dropped_malformed %llu dropped_connid %llu "
	       "send_errors %llu, %.1f datagrams per batch\n",
	       (unsigned long long)rx, (unsigned long long)tx, (unsigned long long)bad,
	       (unsigned long long)connid, (unsigned long long)err,
	       batches ? (double)rx / (double)batches : 0.0);
}

int main(int argc, char **argv)
{
	struct ceiling_config cfg;
	struct ceiling_worker *w;
	struct sigaction sa;
	char text[NETADDR_TEXT_MAX];
	unsigned started = 0;
	int r = parse_flags(argc, argv, &cfg);

	if (r == 1) {
		fputs(usage_text, stdout);
		return 0;
	}
	if (r)
		return 2;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal; /* no SA_RESTART: a blocked recvmmsg returns */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	w = calloc(cfg.workers, sizeof(*w));
	if (!w)
		return 1;
	for (unsigned i = 0; i < cfg.workers; i++) {
		w[i].fd = -1;
		w[i].index = i;
		w[i].cpu = cfg.n_cpus ? cfg.cpus[i % cfg.n_cpus] : -1;
		w[i].uring = cfg.uring;
	}
	if ((r = open_sockets(&cfg, w)) < 0) {
		fprintf(stderr, "ringtracker-ceiling: socket/bind: %s\n", strerror(-r));
		goto out_close;
	}
	netaddr_format(&cfg.addr, text, sizeof(text));
	printf("ringtracker-ceiling: serving %s with %u worker(s), %s\n", text, cfg.workers,
	       cfg.uring ? "io_uring" : "recvmmsg/sendmmsg");
	fflush(stdout);
	for (; started < cfg.workers; started++)
		if ((r = -pthread_create(&w[started].tid, NULL, worker_main, &w[started])) < 0) {
			fprintf(stderr, "ringtracker-ceiling: pthread_create: %s\n", strerror(-r));
			atomic_store(&stop_flag, 1);
			break;
		}
	for (unsigned i = 0; i < started; i++) {
		pthread_join(w[i].tid, NULL);
		if (w[i].err) {
			fprintf(stderr, "ringtracker-ceiling: worker %u: io_uring set-up: %s%s\n", i,
				strerror(-w[i].err),
				w[i].err == -ENOMEM ? " (locked-memory limit?)" : "");
			r = w[i].err;
		}
	}
	if (started == cfg.workers)
		report(&cfg, w);
out_close:
	for (unsigned i = 0; i < cfg.workers; i++)
		if (w[i].fd >= 0)
			close(w[i].fd);
	free(w);
	return r < 0 ? 1 : 0;
}

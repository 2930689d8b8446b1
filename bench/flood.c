/* flood.c - ringtracker-flood: a bounded junk flood of malformed BEP 15
 * datagrams for bench/xdp-flood.sh.
 *
 *   ringtracker-flood --udp ADDR:PORT [--duration S] [--count N] [--sockets N]
 *                     [--batch N] [--pps N] [--allow-remote-target]
 *
 * Sends, round-robin over --sockets connected UDP sockets (each its own
 * source port) with sendmmsg batches of --batch, a fixed mix of malformed
 * requests: runts (0, 1, 8 and 15 bytes), unknown actions, bad lengths
 * (connect of 17 bytes, announce of 60, scrape of 35), and connects with a
 * wrong protocol id. Stops after --duration seconds (default 10, at most 600)
 * or --count datagrams (default 100,000,000), whichever comes first, or on
 * SIGINT/SIGTERM. Prints one JSON object on stdout. Self-contained (no
 * project library), so that it also builds with a bare `cc -O2`.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_BATCH 256
#define MAX_SOCKETS 256

enum kind { K_RUNT, K_BAD_ACTION, K_BAD_LENGTH, K_BAD_MAGIC, K_COUNT };
static const char *kind_name[K_COUNT] = {"runt", "bad_action", "bad_length", "bad_magic"};

struct tmpl {
	enum kind kind;
	size_t len;
	unsigned char buf[128];
};

static volatile sig_atomic_t stop;
static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void put32(unsigned char *p, uint32_t v)
{
	v = htonl(v);
	memcpy(p, &v, 4);
}

static void put64(unsigned char *p, uint64_t v)
{
	put32(p, (uint32_t)(v >> 32));
	put32(p + 4, (uint32_t)v);
}

static size_t build_templates(struct tmpl *t)
{
	size_t n = 0;
	const uint64_t magic = 0x41727101980ULL;
	/* runts: shorter than the 16-byte header (0 bytes included) */
	const size_t runt_len[] = {0, 1, 8, 15};
	for (size_t i = 0; i < sizeof(runt_len) / sizeof(runt_len[0]); i++) {
		t[n] = (struct tmpl){.kind = K_RUNT, .len = runt_len[i]};
		memset(t[n].buf, 0xab, sizeof(t[n].buf));
		n++;
	}
	/* unknown actions 3 (error: only the server sends it), 7, 0xffffffff */
	const uint32_t acts[] = {3, 7, 0xffffffffu};
	for (size_t i = 0; i < 3; i++) {
		t[n] = (struct tmpl){.kind = K_BAD_ACTION, .len = 16};
		put64(t[n].buf, 0x1122334455667788ULL);
		put32(t[n].buf + 8, acts[i]);
		put32(t[n].buf + 12, 0xdead0000u + (uint32_t)i);
		n++;
	}
	/* bad lengths: connect 17, announce 60 (< 98), scrape 35 (not 16 + 20k) */
	t[n] = (struct tmpl){.kind = K_BAD_LENGTH, .len = 17};
	put64(t[n].buf, magic);
	put32(t[n].buf + 8, 0);
	put32(t[n].buf + 12, 0xbeef0001u);
	n++;
	t[n] = (struct tmpl){.kind = K_BAD_LENGTH, .len = 60};
	put64(t[n].buf, 0x1122334455667788ULL);
	put32(t[n].buf + 8, 1);
	put32(t[n].buf + 12, 0xbeef0002u);
	n++;
	t[n] = (struct tmpl){.kind = K_BAD_LENGTH, .len = 35};
	put64(t[n].buf, 0x1122334455667788ULL);
	put32(t[n].buf + 8, 2);
	put32(t[n].buf + 12, 0xbeef0003u);
	n++;
	/* connects with a wrong protocol id */
	const uint64_t wrong[] = {0, magic + 1, 0x0198107172040000ULL};
	for (size_t i = 0; i < 3; i++) {
		t[n] = (struct tmpl){.kind = K_BAD_MAGIC, .len = 16};
		put64(t[n].buf, wrong[i]);
		put32(t[n].buf + 8, 0);
		put32(t[n].buf + 12, 0xcafe0000u + (uint32_t)i);
		n++;
	}
	return n;
}

static int parse_addr(const char *s, struct sockaddr_storage *ss, socklen_t *len)
{
	char host[128];
	const char *colon = strrchr(s, ':');
	if (!colon || colon == s || (size_t)(colon - s) >= sizeof(host))
		return -1;
	memcpy(host, s, (size_t)(colon - s));
	host[colon - s] = 0;
	char *end;
	long port = strtol(colon + 1, &end, 10);
	if (*end || port <= 0 || port > 65535)
		return -1;
	memset(ss, 0, sizeof(*ss));
	if (host[0] == '[') {
		size_t hl = strlen(host);
		if (hl < 3 || host[hl - 1] != ']')
			return -1;
		host[hl - 1] = 0;
		struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons((uint16_t)port);
		if (inet_pton(AF_INET6, host + 1, &a6->sin6_addr) != 1)
			return -1;
		*len = sizeof(*a6);
	} else {
		struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
		a4->sin_family = AF_INET;
		a4->sin_port = htons((uint16_t)port);
		if (inet_pton(AF_INET, host, &a4->sin_addr) != 1)
			return -1;
		*len = sizeof(*a4);
	}
	return 0;
}

static int is_loopback(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET)
		return (ntohl(((const struct sockaddr_in *)ss)->sin_addr.s_addr) >> 24) == 127;
	return IN6_IS_ADDR_LOOPBACK(&((const struct sockaddr_in6 *)ss)->sin6_addr);
}

static void usage(FILE *f)
{
	fprintf(f, "Usage: ringtracker-flood --udp ADDR:PORT [--duration S] [--count N]\n"
		   "         [--sockets N] [--batch N] [--pps N] [--allow-remote-target]\n"
		   "Sends malformed BEP 15 datagrams (runts, bad actions, bad lengths, wrong\n"
		   "magic) as fast as it can (or at --pps), for at most --duration seconds\n"
		   "(default 10, max 600) and --count datagrams (default 100000000), then\n"
		   "prints one JSON object. Loopback targets only unless --allow-remote-target.\n");
}

int main(int argc, char **argv)
{
	const char *target = "127.0.0.1:6969";
	double duration = 10;
	unsigned long long count = 100000000ULL, pps = 0;
	int nsock = 8, batch = 64, allow_remote = 0;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			usage(stdout);
			return 0;
		} else if (!strcmp(a, "--allow-remote-target")) {
			allow_remote = 1;
			continue;
		}
		if (!v) {
			usage(stderr);
			return 2;
		}
		if (!strcmp(a, "--udp"))
			target = v;
		else if (!strcmp(a, "--duration"))
			duration = atof(v);
		else if (!strcmp(a, "--count"))
			count = strtoull(v, NULL, 10);
		else if (!strcmp(a, "--sockets"))
			nsock = atoi(v);
		else if (!strcmp(a, "--batch"))
			batch = atoi(v);
		else if (!strcmp(a, "--pps"))
			pps = strtoull(v, NULL, 10);
		else {
			usage(stderr);
			return 2;
		}
		i++;
	}
	if (duration <= 0 || duration > 600 || count == 0 || nsock < 1 || nsock > MAX_SOCKETS ||
	    batch < 1 || batch > MAX_BATCH) {
		fprintf(stderr, "ringtracker-flood: --duration 0..600, --count > 0, --sockets "
				"1..256, --batch 1..256\n");
		return 2;
	}
	struct sockaddr_storage dst;
	socklen_t dlen;
	if (parse_addr(target, &dst, &dlen) != 0) {
		fprintf(stderr, "ringtracker-flood: bad --udp %s\n", target);
		return 2;
	}
	if (!allow_remote && !is_loopback(&dst)) {
		fprintf(stderr, "ringtracker-flood: %s is not loopback; add --allow-remote-target\n",
			target);
		return 2;
	}

	int fds[MAX_SOCKETS];
	for (int s = 0; s < nsock; s++) {
		fds[s] = socket(dst.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		if (fds[s] < 0 || connect(fds[s], (struct sockaddr *)&dst, dlen) != 0) {
			perror("ringtracker-flood: socket/connect");
			return 1;
		}
		int sz = 4 << 20;
		setsockopt(fds[s], SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	}

	struct tmpl t[32];
	size_t nt = build_templates(t);
	static struct mmsghdr msgs[MAX_BATCH];
	static struct iovec iov[MAX_BATCH];
	unsigned long long per_kind[K_COUNT] = {0};
	unsigned long long sent = 0, send_errors = 0, calls = 0;
	int last_errno = 0;
	size_t next_t = 0;

	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	double t0 = now_s(), t_end = t0 + duration, t_now = t0;
	int s = 0;
	while (!stop && sent < count) {
		t_now = now_s();
		if (t_now >= t_end)
			break;
		if (pps) { /* pace: never ahead of pps * elapsed */
			double allowed = (t_now - t0) * (double)pps;
			if ((double)sent >= allowed) {
				struct timespec ts = {0, 50000};
				nanosleep(&ts, NULL);
				continue;
			}
		}
		unsigned n = (unsigned)batch;
		if (count - sent < n)
			n = (unsigned)(count - sent);
		size_t first_t = next_t;
		for (unsigned i = 0; i < n; i++) {
			struct tmpl *p = &t[(first_t + i) % nt];
			iov[i].iov_base = p->buf;
			iov[i].iov_len = p->len;
			memset(&msgs[i].msg_hdr, 0, sizeof(msgs[i].msg_hdr));
			msgs[i].msg_hdr.msg_iov = &iov[i];
			msgs[i].msg_hdr.msg_iovlen = 1;
		}
		int r = sendmmsg(fds[s], msgs, n, 0);
		calls++;
		if (r < 0) {
			send_errors++;
			last_errno = errno;
			if (errno != EAGAIN && errno != ENOBUFS && errno != ECONNREFUSED &&
			    errno != EINTR) {
				perror("ringtracker-flood: sendmmsg");
				break;
			}
			/* ECONNREFUSED: an ICMP error queued on the socket; the next
			 * call goes through. */
		} else {
			for (int i = 0; i < r; i++)
				per_kind[t[(first_t + (size_t)i) % nt].kind]++;
			sent += (unsigned long long)r;
			next_t = (first_t + (size_t)r) % nt;
		}
		s = (s + 1) % nsock;
	}
	double secs = now_s() - t0;
	if (secs <= 0)
		secs = 1e-9;
	printf("{\"target\":\"%s\",\"seconds\":%.3f,\"sent\":%llu,\"sent_per_s\":%.0f,"
	       "\"send_errors\":%llu,\"last_errno\":%d,\"syscalls\":%llu,\"batch\":%d,"
	       "\"sockets\":%d,\"pps_limit\":%llu,\"by_kind\":{",
	       target, secs, sent, (double)sent / secs, send_errors, last_errno, calls, batch,
	       nsock, pps);
	for (int k = 0; k < K_COUNT; k++)
		printf("%s\"%s\":%llu", k ? "," : "", kind_name[k], per_kind[k]);
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	printf("},\"cpu_user_s\":%.3f,\"cpu_sys_s\":%.3f}\n",
	       ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6,
	       ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6);
	for (int i = 0; i < nsock; i++)
		close(fds[i]);
	return 0;
}

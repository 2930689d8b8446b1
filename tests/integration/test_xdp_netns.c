/* test_xdp_netns.c - end-to-end tests of the XDP prefilter (suite
 * xdp_integration): the tracker runs with --xdp inside a network namespace
 * this test creates, and a sender in another namespace (joined by a veth
 * pair) or in the same one (lo, generic mode) sends valid BEP 15 requests
 * mixed with junk. Only the valid requests may reach the tracker (its own
 * malformed counters stay 0), the filter's drop counters (from its exit log)
 * must match what was sent, and valid requests must be answered. The rate
 * limiter test floods from one address and checks that another address is
 * still answered.
 *
 * Needs root and network namespaces; skipped with a message otherwise. All
 * traffic stays inside the namespaces created here, named with this
 * process's id (rtx<pid>-s, rtx<pid>-c, veth rtx<pid>a / rtx<pid>b); they are
 * deleted by the test's .fini even when an assertion fails, and leftovers of
 * a killed run (whose pid is gone) are deleted by the next run. Only the
 * tracker this test started is ever signalled. Every loop is bounded in
 * count and time.
 */
#include <criterion/criterion.h>
#include <criterion/logging.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "netaddr.h"
#include "udp.h"
#include "xdp.h"

#define NETNS_DIR "/var/run/netns"

/* Datagrams longer than this are fragmented on a 1500-byte veth in both
 * families (IPv6: 1500 - 40 - 8). */
#define FRAG_THRESHOLD 1452

/* ---- namespaces, links and the tracker of this test process ------------- */

static struct {
	char srv[32], cli[32]; /* namespace names, "" until created */
	char va[16], vb[16];   /* veth ends: va in srv, vb in cli */
	bool va_home;	       /* the veth pair still sits in our namespace */
	int home_fd;	       /* our own network namespace, or -1 */
	bool tracker_running;  /* trk.pid is our unreaped child */
	struct tracker trk;
} env = {.home_fd = -1};

__attribute__((format(printf, 1, 2))) static int sh(const char *fmt, ...)
{
	char cmd[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	int st = system(cmd);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static bool pid_gone(long pid)
{
	return pid > 0 && kill((pid_t)pid, 0) < 0 && errno == ESRCH;
}

/* Deletes namespaces and root-namespace links named like ours whose
 * creating process no longer exists (a run killed by a timeout). */
static void remove_leftovers(void)
{
	static const char *const dirs[] = {NETNS_DIR, "/sys/class/net"};

	for (size_t d = 0; d < 2; d++) {
		DIR *dir = opendir(dirs[d]);
		struct dirent *e;
		for (int n = 0; dir && n < 4096 && (e = readdir(dir)); n++) {
			long pid;
			char tag, again[64];
			if (sscanf(e->d_name, d == 0 ? "rtx%ld-%c" : "rtx%ld%c", &pid, &tag) != 2)
				continue;
			snprintf(again, sizeof(again), d == 0 ? "rtx%ld-%c" : "rtx%ld%c", pid, tag);
			if (strcmp(again, e->d_name) != 0 || !pid_gone(pid))
				continue;
			if (d == 0)
				sh("ip netns del %s >/dev/null 2>&1", e->d_name);
			else
				sh("ip link del %s >/dev/null 2>&1", e->d_name);
		}
		if (dir)
			closedir(dir);
	}
}

static void enter_netns(const char *name)
{
	char path[128];

	snprintf(path, sizeof(path), NETNS_DIR "/%s", name);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	cr_assert_geq(fd, 0, "open %s: %s", path, strerror(errno));
	cr_assert_eq(setns(fd, CLONE_NEWNET), 0, "setns %s: %s", name, strerror(errno));
	close(fd);
}

/* .fini of every test: stop our tracker, go home, delete what we made. */
static void cleanup(void)
{
	if (env.tracker_running) {
		kill(env.trk.pid, SIGKILL);
		waitpid(env.trk.pid, NULL, 0);
		env.tracker_running = false;
	}
	if (env.home_fd >= 0) {
		setns(env.home_fd, CLONE_NEWNET);
		close(env.home_fd);
		env.home_fd = -1;
	}
	if (env.va_home)
		sh("ip link del %s >/dev/null 2>&1", env.va); /* takes its peer along */
	env.va_home = false;
	if (env.srv[0])
		sh("ip netns del %s >/dev/null 2>&1", env.srv); /* takes its veth end along */
	if (env.cli[0])
		sh("ip netns del %s >/dev/null 2>&1", env.cli);
	env.srv[0] = env.cli[0] = env.va[0] = env.vb[0] = '\0';
}

static void skip(const char *why)
{
	cr_log_warn("xdp_integration: SKIPPED, %s", why);
	cr_skip_test("%s", why);
}

/* Skips unless root with iproute2 and namespaces; creates the server
 * namespace (lo up) and, with veth, the client namespace joined to it. */
static void setup(bool veth)
{
	int pid = getpid();

	if (geteuid() != 0)
		skip("needs root (network namespaces, XDP); CI runs as root");
	if (sh("ip -V >/dev/null 2>&1") != 0)
		skip("no 'ip' command (iproute2)");
	remove_leftovers();
	env.home_fd = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	cr_assert_geq(env.home_fd, 0);
	snprintf(env.srv, sizeof(env.srv), "rtx%d-s", pid);
	if (sh("ip netns add %s", env.srv) != 0) {
		env.srv[0] = '\0';
		skip("cannot create a network namespace");
	}
	cr_assert_eq(sh("ip -n %s link set lo up", env.srv), 0);
	if (!veth)
		return;
	snprintf(env.cli, sizeof(env.cli), "rtx%d-c", pid);
	snprintf(env.va, sizeof(env.va), "rtx%da", pid);
	snprintf(env.vb, sizeof(env.vb), "rtx%db", pid);
	cr_assert_eq(sh("ip netns add %s", env.cli), 0);
	env.va_home = true;
	cr_assert_eq(sh("ip link add %s type veth peer name %s", env.va, env.vb), 0);
	cr_assert_eq(sh("ip link set %s netns %s && ip link set %s netns %s", env.va, env.srv,
			env.vb, env.cli),
		     0);
	env.va_home = false; /* deleted with the namespaces from now on */
	cr_assert_eq(sh("ip -n %s addr add 10.77.0.1/24 dev %s && "
			"ip -n %s addr add fd77::1/64 dev %s nodad && "
			"ip -n %s addr add fd77:0:0:1::1/64 dev %s nodad && "
			"ip -n %s link set %s up",
			env.srv, env.va, env.srv, env.va, env.srv, env.va, env.srv, env.va),
		     0);
	cr_assert_eq(sh("ip -n %s link set lo up && "
			"ip -n %s addr add 10.77.0.2/24 dev %s && "
			"ip -n %s addr add 10.77.0.3/24 dev %s && "
			"ip -n %s addr add fd77::2/64 dev %s nodad && "
			"ip -n %s addr add fd77:0:0:1::3/64 dev %s nodad && "
			"ip -n %s link set %s up",
			env.cli, env.cli, env.vb, env.cli, env.vb, env.cli, env.vb, env.cli, env.vb,
			env.cli, env.vb),
		     0);
}

/* ---- the tracker under test -------------------------------------------- */

static void read_log(struct tracker *t, int timeout_ms)
{
	struct pollfd p = {.fd = t->log_fd, .events = POLLIN};

	if (poll(&p, 1, timeout_ms) <= 0)
		return;
	ssize_t n = read(t->log_fd, t->log + t->log_len, MAX_LOG - 1 - t->log_len);
	if (n > 0)
		t->log_len += (size_t)n;
	t->log[t->log_len] = '\0';
}

/* Starts argv (argv[0] looked up in PATH) with stderr into t->log, inside
 * namespace ns (NULL: ours). */
static void spawn(struct tracker *t, const char *ns, const char *const *argv)
{
	char path[128];
	int fds[2], nsfd = -1;

	memset(t, 0, sizeof(*t));
	if (ns) {
		snprintf(path, sizeof(path), NETNS_DIR "/%s", ns);
		nsfd = open(path, O_RDONLY | O_CLOEXEC);
		cr_assert_geq(nsfd, 0, "open %s: %s", path, strerror(errno));
	}
	cr_assert_eq(pipe2(fds, O_CLOEXEC), 0);
	t->pid = fork();
	cr_assert_geq(t->pid, 0);
	if (t->pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL); /* a failed test takes it along */
		dup2(fds[1], STDERR_FILENO);
		dup2(fds[1], STDOUT_FILENO);
		if (nsfd >= 0 && setns(nsfd, CLONE_NEWNET) != 0)
			_exit(126);
		execvp(argv[0], (char *const *)argv);
		_exit(127);
	}
	env.tracker_running = true;
	if (nsfd >= 0)
		close(nsfd);
	close(fds[1]);
	t->log_fd = fds[0];
}

static void find_udp_listener(const struct tracker *t, int family, struct netaddr *out)
{
	const char *p = t->log, *key = "udp: listening on ";

	memset(out, 0, sizeof(*out));
	while ((p = strstr(p, key))) {
		char text[NETADDR_TEXT_MAX];
		struct netaddr a;
		p += strlen(key);
		size_t n = strcspn(p, " \n");
		if (n >= sizeof(text))
			continue;
		memcpy(text, p, n);
		text[n] = '\0';
		if (netaddr_parse(text, &a) == 0 && a.family == family) {
			*out = a;
			return;
		}
	}
}

/* Waits up to 10 s for "ready"; fails if the tracker exits first. */
static void wait_ready(struct tracker *t)
{
	double deadline = now_s() + 10;

	while (!strstr(t->log, " ready") && now_s() < deadline) {
		size_t before = t->log_len;
		int status;
		read_log(t, 100);
		if (t->log_len == before && waitpid(t->pid, &status, WNOHANG) == t->pid) {
			env.tracker_running = false;
			cr_assert_fail("tracker exited at start-up (status %d):\n%s", status,
				       t->log);
		}
	}
	cr_assert(strstr(t->log, " ready"), "tracker not ready in 10 s:\n%s", t->log);
	find_udp_listener(t, AF_INET, &t->udp4);
	find_udp_listener(t, AF_INET6, &t->udp6);
	tracker_find_listener(t, "metrics", AF_INET, &t->metrics);
}

/* Waits up to 10 s for the process to exit by itself; returns its status. */
static int wait_exit(struct tracker *t)
{
	double deadline = now_s() + 10;
	int status = -1;

	while (now_s() < deadline) {
		read_log(t, 50);
		if (waitpid(t->pid, &status, WNOHANG) == t->pid) {
			env.tracker_running = false;
			for (int i = 0; i < 20; i++) {
				size_t before = t->log_len;
				read_log(t, 10);
				if (t->log_len == before)
					break;
			}
			close(t->log_fd);
			return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
		}
	}
	cr_assert_fail("process did not exit in 10 s:\n%s", t->log);
	return -1;
}

/* Starts the tracker in namespace ns with extra args (NULL-ended), its
 * metrics endpoint on an ephemeral loopback port of that namespace. */
static void tracker_in_ns(const char *ns, const char *const *args)
{
	const char *argv[40] = {server_bin(), "--metrics", "127.0.0.1:0"};
	int n = 3;

	for (; args && *args && n < 39; args++)
		argv[n++] = *args;
	argv[n] = NULL;
	spawn(&env.trk, ns, argv);
	wait_ready(&env.trk);
}

static void stop_tracker(void)
{
	env.tracker_running = false; /* tracker_stop reaps it, also on failure */
	tracker_stop(&env.trk);
}

/* ---- BEP 15 traffic ----------------------------------------------------- */

/* What was sent, for comparison with the counters. */
struct tally {
	unsigned long long valid;	       /* valid requests, retries included */
	unsigned long long big;		       /* datagrams over FRAG_THRESHOLD */
	unsigned long long junk[XDP_COUNTERS]; /* junk, by the reason it must be dropped */
	unsigned long long answered;	       /* valid requests answered */
};

static int udp_socket(const struct netaddr *server, const char *bind_ip)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fd = socket(server->family, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	cr_assert_geq(fd, 0);
	if (bind_ip) {
		struct netaddr b;
		char text[NETADDR_TEXT_MAX];
		snprintf(text, sizeof(text), server->family == AF_INET6 ? "[%s]:0" : "%s:0",
			 bind_ip);
		cr_assert_eq(netaddr_parse(text, &b), 0, "%s", text);
		len = netaddr_to_sockaddr(&b, &ss);
		cr_assert_eq(bind(fd, (struct sockaddr *)&ss, len), 0, "bind %s: %s", text,
			     strerror(errno));
	}
	len = netaddr_to_sockaddr(server, &ss);
	cr_assert_eq(connect(fd, (struct sockaddr *)&ss, len), 0);
	return fd;
}

static void send_counted(int fd, const uint8_t *buf, size_t len, struct tally *tl)
{
	cr_assert_eq(send(fd, buf, len, 0), (ssize_t)len, "send %zu bytes: %s", len,
		     strerror(errno));
	if (len > FRAG_THRESHOLD)
		tl->big++;
}

/* Sends a valid request and waits for the reply with its transaction id
 * (three tries of a second). Returns the reply length. */
static ssize_t exchange(int fd, const uint8_t *req, size_t len, uint32_t txid, uint8_t *reply,
			size_t cap, struct tally *tl)
{
	for (int attempt = 0; attempt < 3; attempt++) {
		send_counted(fd, req, len, tl);
		tl->valid++;
		double deadline = now_s() + 1.0;
		while (now_s() < deadline) {
			struct pollfd p = {.fd = fd, .events = POLLIN};
			if (poll(&p, 1, 50) <= 0)
				continue;
			ssize_t n = recv(fd, reply, cap, 0);
			uint32_t got;
			if (n >= 8) {
				memcpy(&got, reply + 4, 4);
				if (ntohl(got) == txid) {
					tl->answered++;
					return n;
				}
			}
		}
	}
	cr_assert_fail("no reply to a valid request of %zu bytes", len);
	return -1;
}

static uint64_t do_connect(int fd, uint32_t txid, struct tally *tl)
{
	uint8_t req[16], reply[64];
	struct udp_response r;
	int len = udp_write_connect_request(req, sizeof(req), txid);

	ssize_t n = exchange(fd, req, (size_t)len, txid, reply, sizeof(reply), tl);
	cr_assert_eq(udp_parse_response(reply, (size_t)n, &r), 0);
	cr_assert_eq(r.action, UDP_ACTION_CONNECT);
	return r.connection_id;
}

/* A junk datagram: len bytes with connection id cid, action, txid. */
static size_t junk(uint8_t *b, size_t cap, uint64_t cid, uint32_t action, size_t len)
{
	uint64_t be = htobe64(cid);
	uint32_t a = htonl(action), tx = htonl(0x4a554e4b);

	cr_assert_leq(len, cap);
	memset(b, 0x5a, len);
	if (len >= 16) {
		memcpy(b, &be, 8);
		memcpy(b + 8, &a, 4);
		memcpy(b + 12, &tx, 4);
	}
	return len;
}

/* Rounds of: junk of every kind, then valid connect, announce (answered with
 * peers), scrape of 2 and of 74 hashes. Junk carries a valid connection id:
 * were it to reach the tracker, it would answer with an error. */
static void mixed_traffic(const struct netaddr *server, unsigned rounds, struct tally *tl)
{
	static const struct {
		uint32_t action;
		size_t len;
		bool bad_magic;
		enum prefilter_reason reason;
	} kinds[] = {
	    {0, 0, false, PREFILTER_DROP_RUNT},
	    {0, 11, false, PREFILTER_DROP_RUNT},
	    {0, 16, true, PREFILTER_DROP_BAD_MAGIC},
	    {0, 20, false, PREFILTER_DROP_BAD_LENGTH},
	    {1, 97, false, PREFILTER_DROP_BAD_LENGTH},
	    {2, 16, false, PREFILTER_DROP_BAD_LENGTH},
	    {2, 16 + 21, false, PREFILTER_DROP_BAD_LENGTH},
	    {3, 30, false, PREFILTER_DROP_BAD_ACTION},
	    {7, 98, false, PREFILTER_DROP_BAD_ACTION},
	    {1, 1600, false, PREFILTER_DROP_OVERSIZED},
	    {2, 16 + 20 * 75, false, PREFILTER_DROP_OVERSIZED},
	};
	static uint8_t buf[2048], reply[2048];
	struct info_hash hashes[74];
	struct udp_response r;
	int fd = udp_socket(server, NULL);
	uint32_t txid = (uint32_t)server->family << 24;
	uint64_t cid = do_connect(fd, ++txid, tl);

	for (unsigned i = 0; i < 74; i++)
		hashes[i] = hash_of(i);
	for (unsigned round = 0; round < rounds; round++) {
		for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
			uint64_t id = kinds[k].action == 0 ? UDP_PROTOCOL_MAGIC : cid;
			size_t len = junk(buf, sizeof(buf), kinds[k].bad_magic ? id ^ 1 : id,
					  kinds[k].action, kinds[k].len);
			send_counted(fd, buf, len, tl);
			tl->junk[kinds[k].reason]++;
		}
		cid = do_connect(fd, ++txid, tl);

		struct udp_announce_request a = {.info_hash = hashes[round % 74],
						 .left = round,
						 .event = UDP_EVENT_STARTED,
						 .num_want = -1,
						 .port = (uint16_t)(1000 + round)};
		memset(a.peer_id.b, 'X', sizeof(a.peer_id.b));
		int len = udp_write_announce_request(buf, sizeof(buf), cid, ++txid, &a);
		ssize_t n = exchange(fd, buf, (size_t)len, txid, reply, sizeof(reply), tl);
		cr_assert_eq(udp_parse_response(reply, (size_t)n, &r), 0);
		cr_assert_eq(r.action, UDP_ACTION_ANNOUNCE, "announce answered with action %d",
			     r.action);

		size_t nh = round % 2 ? 74 : 2; /* 74 hashes: fragmented on a veth */
		len = udp_write_scrape_request(buf, sizeof(buf), cid, ++txid, hashes, nh);
		n = exchange(fd, buf, (size_t)len, txid, reply, sizeof(reply), tl);
		cr_assert_eq(udp_parse_response(reply, (size_t)n, &r), 0);
		cr_assert_eq(r.action, UDP_ACTION_SCRAPE, "scrape answered with action %d",
			     r.action);
		cr_assert_eq(r.scrape.count, nh);
	}
	/* Nothing but answers to valid requests may come back. */
	usleep(100 * 1000);
	ssize_t extra = recv(fd, reply, sizeof(reply), MSG_DONTWAIT);
	cr_assert_lt(extra, 0, "the tracker answered junk (%zd bytes)", extra);
	close(fd);
}

/* Sends 3 datagrams per address to a plain socket at port (non-tracker
 * traffic) and expects all of them to arrive at rx. */
static void other_traffic_passes(int rx, const struct netaddr *to4, const struct netaddr *to6)
{
	const struct netaddr *to[2] = {to4, to6};
	char buf[64];
	int got = 0;

	for (int i = 0; i < 2; i++) {
		int fd = udp_socket(to[i], NULL);
		for (int k = 0; k < 3; k++)
			cr_assert_eq(send(fd, "\x01\x02\x03", 3, 0), 3);
		close(fd);
	}
	double deadline = now_s() + 2;
	while (got < 6 && now_s() < deadline) {
		struct pollfd p = {.fd = rx, .events = POLLIN};
		if (poll(&p, 1, 50) > 0 && recv(rx, buf, sizeof(buf), 0) == 3)
			got++;
	}
	cr_assert_eq(got, 6, "non-tracker datagrams lost: %d of 6 arrived", got);
}

/* A dual-stack UDP socket on [::]:0 in the current namespace; *port gets
 * its port. */
static int plain_receiver(uint16_t *port)
{
	struct sockaddr_in6 sa = {.sin6_family = AF_INET6};
	socklen_t len = sizeof(sa);
	int zero = 0, fd = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	cr_assert_geq(fd, 0);
	setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
	cr_assert_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	cr_assert_eq(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	*port = ntohs(sa.sin6_port);
	return fd;
}

/* After the tracker stopped: its counters and the filter's against tl. */
static void check_counters(const struct tracker *t, const struct tally *tl, bool fragmenting)
{
	static const char *const malformed[] = {
	    "udp_malformed_runt",	"udp_malformed_oversized",  "udp_malformed_bad_magic",
	    "udp_malformed_bad_length", "udp_malformed_bad_action", "udp_malformed_bad_event",
	    "udp_dropped_unverified",	"udp_error_replies"};

	cr_assert(strstr(t->log, "xdp counters:"), "no xdp counters in the log:\n%s", t->log);
	for (size_t i = 0; i < sizeof(malformed) / sizeof(malformed[0]); i++)
		cr_assert_eq(log_counter(t, malformed[i]), 0, "%s reached the tracker:\n%s",
			     malformed[i], t->log);
	cr_assert_eq(log_counter(t, "udp_rx_packets"), tl->valid,
		     "tracker received %llu datagrams, %llu valid ones were sent:\n%s",
		     log_counter(t, "udp_rx_packets"), tl->valid, t->log);
	for (unsigned k = 0; k < XDP_COUNTERS; k++) {
		unsigned long long want, got = log_counter(t, xdp_counter_name(k));
		if (k == PREFILTER_PASS_OTHER)
			continue; /* ARP, neighbour discovery, the plain datagrams */
		if (k == PREFILTER_PASS_VALID)
			want = tl->valid;
		else if (k == PREFILTER_PASS_FRAGMENT)
			want = fragmenting ? tl->big : 0;
		else
			want = tl->junk[k];
		cr_assert_eq(got, want, "xdp counter %s = %llu, expected %llu:\n%s",
			     xdp_counter_name(k), got, want, t->log);
	}
	cr_assert_gt(log_counter(t, "passed_other"), 0);
}

/* While the tracker runs: GET /metrics (from the namespace it serves in)
 * shows the prefilter attached and its verdicts as they stand. */
static void check_metrics_page(const struct tracker *t, const struct tally *tl)
{
	static char page[256 * 1024];
	const char *body;
	char series[160];
	double v = -1;

	cr_assert_neq(t->metrics.port, 0, "no metrics listener:\n%s", t->log);
	int status = tracker_http_get(&t->metrics, "/metrics", page, sizeof(page), &body);
	cr_assert_eq(status, 200, "GET /metrics: %d", status);
	cr_assert(tracker_metric(body, "ringtracker_xdp_attached", &v) && v == 1, "%s", body);
	for (unsigned k = 0; k < XDP_COUNTERS; k++) {
		if (k == PREFILTER_PASS_OTHER || k == PREFILTER_PASS_FRAGMENT)
			continue;
		snprintf(series, sizeof(series),
			 "ringtracker_xdp_packets_total{verdict=\"%s\",reason=\"%s\"}",
			 xdp_counter_verdict(k), xdp_counter_reason(k));
		double want = (double)(k == PREFILTER_PASS_VALID ? tl->valid : tl->junk[k]);
		cr_assert(tracker_metric(body, series, &v), "%s missing:\n%s", series, body);
		cr_assert_eq(v, want, "%s = %.0f, expected %.0f", series, v, want);
	}
	cr_assert(tracker_metric(body, "ringtracker_udp_received_datagrams_total", &v) &&
		      v == (double)tl->valid,
		  "the tracker saw %.0f datagrams, %llu valid ones were sent", v, tl->valid);
}

/* ---- tests -------------------------------------------------------------- */

TestSuite(xdp_integration, .fini = cleanup);

Test(xdp_integration, veth_native_only_valid_requests_reach_the_tracker, .timeout = 60)
{
	struct tally tl = {0};
	struct netaddr s4, s6;
	uint16_t port;

	setup(true);
	tracker_in_ns(env.srv, (const char *[]){"--udp", "10.77.0.1:0", "--udp", "[fd77::1]:0",
						"--http=", "--workers", "2", "--xdp", env.va,
						"--xdp-mode", "native", "--xdp-required", NULL});
	char want[64];
	snprintf(want, sizeof(want), "attached to %s (native mode", env.va);
	cr_assert(strstr(env.trk.log, want), "%s", env.trk.log);
	enter_netns(env.srv);
	int rx = plain_receiver(&port);
	enter_netns(env.cli);
	s4 = env.trk.udp4;
	s6 = env.trk.udp6;
	mixed_traffic(&s4, 10, &tl);
	mixed_traffic(&s6, 10, &tl);
	struct netaddr o4 = s4, o6 = s6;
	o4.port = o6.port = port;
	other_traffic_passes(rx, &o4, &o6);
	close(rx);
	stop_tracker();
	check_counters(&env.trk, &tl, true);
	cr_assert_gt(tl.big, 0);
}

Test(xdp_integration, lo_skb_mode, .timeout = 60)
{
	struct tally tl = {0};
	uint16_t port;

	setup(false);
	tracker_in_ns(env.srv, (const char *[]){"--udp", "127.0.0.1:0", "--udp", "[::1]:0",
						"--http=", "--workers", "1", "--xdp", "lo",
						"--xdp-mode", "skb", "--xdp-required", NULL});
	cr_assert(strstr(env.trk.log, "attached to lo (skb mode"), "%s", env.trk.log);
	enter_netns(env.srv);
	int rx = plain_receiver(&port);
	mixed_traffic(&env.trk.udp4, 5, &tl);
	mixed_traffic(&env.trk.udp6, 5, &tl);
	struct netaddr o4 = env.trk.udp4, o6 = env.trk.udp6;
	o4.port = o6.port = port;
	other_traffic_passes(rx, &o4, &o6);
	close(rx);
	check_metrics_page(&env.trk, &tl);
	stop_tracker();
	check_counters(&env.trk, &tl, false); /* lo's MTU is 64 KiB: no fragments */
}

/* Floods connects from flood_ip for about a second while other_ip sends one
 * request every 100 ms; returns what the flood got through. */
struct flood {
	unsigned sent, answered, other_sent, other_answered;
	double seconds;
};

static void flood(const struct netaddr *server, const char *flood_ip, const char *other_ip,
		  struct flood *f)
{
	uint8_t req[16], reply[64];
	int fl = udp_socket(server, flood_ip), ot = udp_socket(server, other_ip);
	int big = 1 << 20;
	uint32_t other_txid = 0x0700;
	struct netaddr discard = *server;

	/* Resolve the neighbour first with a datagram to another port, so
	 * that no request waits in (or falls out of) the resolution queue. */
	discard.port = 9;
	int warm = udp_socket(&discard, flood_ip);
	send(warm, "w", 1, 0);
	close(warm);
	usleep(100 * 1000);
	memset(f, 0, sizeof(*f));
	setsockopt(fl, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof(big));
	udp_write_connect_request(req, sizeof(req), 1);
	double start = now_s();
	for (int tick = 0; tick < 100; tick++) {
		for (int k = 0; k < 20; k++, f->sent++)
			cr_assert_eq(send(fl, req, sizeof(req), 0), (ssize_t)sizeof(req));
		f->seconds = now_s() - start;
		if (tick % 10 == 0) {
			uint8_t o[16];
			udp_write_connect_request(o, sizeof(o), ++other_txid);
			cr_assert_eq(send(ot, o, sizeof(o), 0), (ssize_t)sizeof(o));
			f->other_sent++;
		}
		double until = start + (tick + 1) * 0.01;
		do {
			for (int k = 0;
			     k < 64 && recv(fl, reply, sizeof(reply), MSG_DONTWAIT) == 16; k++)
				f->answered++;
			for (int k = 0; k < 4 && recv(ot, reply, sizeof(reply), MSG_DONTWAIT) == 16;
			     k++)
				f->other_answered++;
			usleep(1000);
		} while (now_s() < until);
	}
	double deadline = now_s() + 0.5;
	while (now_s() < deadline) {
		while (recv(fl, reply, sizeof(reply), MSG_DONTWAIT) == 16)
			f->answered++;
		while (recv(ot, reply, sizeof(reply), MSG_DONTWAIT) == 16)
			f->other_answered++;
		usleep(5000);
	}
	close(fl);
	close(ot);
}

Test(xdp_integration, rate_limit_cuts_a_flood_and_serves_others, .timeout = 60)
{
	enum { PPS = 50, BURST = 10 };
	char path[] = "/tmp/ringtracker-xdp-XXXXXX";
	char cfg[128];
	struct flood f4, f6;

	setup(true);
	int fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	int n = snprintf(cfg, sizeof(cfg), "[xdp]\nrate_limit_pps = %d\nrate_limit_burst = %d\n",
			 PPS, BURST);
	cr_assert_eq(write(fd, cfg, (size_t)n), n);
	close(fd);
	tracker_in_ns(env.srv, (const char *[]){"-c", path, "--udp", "10.77.0.1:0", "--udp",
						"[fd77::1]:0", "--http=", "--workers", "2", "--xdp",
						env.va, "--xdp-required", NULL});
	unlink(path);
	cr_assert(strstr(env.trk.log, "rate limit 50/s per source, burst 10"), "%s", env.trk.log);
	enter_netns(env.cli);
	flood(&env.trk.udp4, "10.77.0.2", "10.77.0.3", &f4);
	flood(&env.trk.udp6, "fd77::2", "fd77:0:0:1::3", &f6); /* another /64 */
	stop_tracker();

	const struct flood *fs[2] = {&f4, &f6};
	unsigned long long sent = 0, answered = 0;
	for (int i = 0; i < 2; i++) {
		const struct flood *x = fs[i];
		double most = BURST + PPS * x->seconds + 2;
		cr_assert_eq(x->other_answered, x->other_sent,
			     "%s: other address answered %u of %u", i ? "IPv6" : "IPv4",
			     x->other_answered, x->other_sent);
		cr_assert_geq(x->answered, BURST, "%s: flood answered %u", i ? "IPv6" : "IPv4",
			      x->answered);
		cr_assert_leq(x->answered, most, "%s: flood answered %u in %.2f s, at most %.0f",
			      i ? "IPv6" : "IPv4", x->answered, x->seconds, most);
		sent += x->sent + x->other_sent;
		answered += x->answered + x->other_answered;
	}
	unsigned long long passed = log_counter(&env.trk, "passed");
	unsigned long long limited = log_counter(&env.trk, "drop_rate_limited");
	cr_assert_eq(passed + limited, sent, "passed %llu + limited %llu != sent %llu:\n%s", passed,
		     limited, sent, env.trk.log);
	cr_assert_eq(passed, answered, "every request let through was answered:\n%s", env.trk.log);
	cr_assert_eq(log_counter(&env.trk, "udp_rx_packets"), passed);
}

/* Without privilege: one line and no prefilter, or exit 2 with
 * --xdp-required; an unknown interface likewise. */
Test(xdp_integration, unavailable_prefilter_warns_or_exits_2, .timeout = 60)
{
	struct tracker t;
	const char *base[] = {"--udp", "127.0.0.1:0", "--http=", "--workers", "1", "--metrics="};
	char out[8192];

	if (geteuid() != 0)
		skip("needs root to drop privilege for the test");
	cr_assert_eq(run_cli((const char *[]){base[0], base[1], base[2], base[3], base[4], base[5],
					      "--xdp", "rtxnosuch0", "--xdp-required", NULL},
			     out, sizeof(out)),
		     2, "%s", out);
	cr_assert(strstr(out, "no network interface named 'rtxnosuch0'"), "%s", out);
	cr_assert(strstr(out, "--xdp-required"), "%s", out);

	if (sh("setpriv --version >/dev/null 2>&1") != 0)
		skip("no setpriv (util-linux) to run the tracker without privilege");
	const char *nobody[] = {"setpriv",
				"--reuid=65534",
				"--regid=65534",
				"--clear-groups",
				"--inh-caps=-all",
				server_bin(),
				base[0],
				base[1],
				base[2],
				base[3],
				base[4],
				base[5],
				"--xdp",
				"lo",
				"--xdp-mode",
				"skb",
				NULL,
				NULL};
	spawn(&t, NULL, nobody);
	wait_ready(&t);
	const char *at = strstr(t.log, "xdp: cannot load");
	char line[512];
	cr_assert(at, "%s", t.log);
	snprintf(line, sizeof(line), "%.*s", (int)strcspn(at, "\n"), at);
	cr_assert(strstr(line, "Operation not permitted"), "%s", t.log);
	cr_assert(strstr(line, "running without the prefilter"), "%s", t.log);
	cr_assert_null(strstr(at + strlen(line), "xdp"), "more than one xdp line:\n%s", t.log);
	cr_assert_null(strstr(t.log, "libbpf"), "libbpf printed:\n%s", t.log);
	env.tracker_running = false;
	tracker_stop(&t);
	cr_assert_null(strstr(t.log, "xdp counters"), "%s", t.log);

	nobody[16] = "--xdp-required";
	spawn(&t, NULL, nobody);
	cr_assert_eq(wait_exit(&t), 2, "%s", t.log);
	cr_assert(strstr(t.log, "Operation not permitted"), "%s", t.log);
}

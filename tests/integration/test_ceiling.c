/* test_ceiling.c - end-to-end tests of the benchmark's stateless responder,
 * build/ringtracker-ceiling (bench/ceiling.c), in both of its I/O modes:
 * it answers connect, announce and scrape with its fixed replies, drops
 * malformed requests and requests without its connection id, and counts
 * each in its exit report.
 *
 * The ceiling is built only in the release variant and found with tool_bin;
 * without it the tests are skipped, saying so. Each test starts its own
 * responder on 127.0.0.1:0; every wait is bounded.
 */
#include <criterion/criterion.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "udp_client.h"

#define OUT_MAX 8192

struct ceiling {
	pid_t pid;
	int out_fd; /* read end of its stdout */
	char out[OUT_MAX];
	size_t out_len;
	struct netaddr addr;
};

/* Reads its stdout into c->out until want appears (NULL: until it closes)
 * or timeout_ms pass without output. */
static void read_out(struct ceiling *c, const char *want, int timeout_ms)
{
	struct pollfd p = {.fd = c->out_fd, .events = POLLIN};

	while (!(want && strstr(c->out, want)) && c->out_len + 1 < sizeof(c->out) &&
	       poll(&p, 1, timeout_ms) > 0) {
		ssize_t n = read(c->out_fd, c->out + c->out_len, sizeof(c->out) - 1 - c->out_len);
		if (n <= 0)
			break;
		c->out_len += (size_t)n;
		c->out[c->out_len] = '\0';
	}
}

static void ceiling_start(struct ceiling *c, const char *io)
{
	const char *bin = tool_or_skip("ringtracker-ceiling");
	int fds[2];

	memset(c, 0, sizeof(*c));
	cr_assert_eq(pipe(fds), 0);
	c->pid = fork();
	cr_assert_geq(c->pid, 0);
	if (c->pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		dup2(fds[1], 1);
		close(fds[0]);
		execl(bin, bin, "--udp", "127.0.0.1:0", "--io", io, (char *)NULL);
		_exit(127);
	}
	close(fds[1]);
	c->out_fd = fds[0];
	read_out(c, "\n", 5000); /* "ringtracker-ceiling: serving ADDR with ..." */
	const char *p = strstr(c->out, "serving ");
	char addr[64];
	cr_assert(p && sscanf(p, "serving %63s", addr) == 1, "no start-up line: %s", c->out);
	cr_assert_eq(netaddr_parse(addr, &c->addr), 0, "bad address '%s'", addr);
	cr_assert(strstr(c->out, strcmp(io, "uring") == 0 ? "io_uring" : "recvmmsg"),
		  "wrong mode: %s", c->out);
}

/* SIGTERM; asserts exit status 0 within 2 s and keeps the report. */
static void ceiling_stop(struct ceiling *c)
{
	int status = -1;

	kill(c->pid, SIGTERM);
	for (int i = 0; i < 200 && waitpid(c->pid, &status, WNOHANG) == 0; i++)
		usleep(10000);
	read_out(c, NULL, 1000);
	close(c->out_fd);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "exit status %d: %s", status,
		  c->out);
}

static unsigned long long total_of(const struct ceiling *c, const char *name)
{
	const char *t = strstr(c->out, "total:");
	char key[64];

	cr_assert(t, "no total line: %s", c->out);
	snprintf(key, sizeof(key), " %s ", name);
	const char *p = strstr(t, key);
	cr_assert(p, "no %s in: %s", name, t);
	return strtoull(p + strlen(key), NULL, 10);
}

static void answers_and_drops(const char *io)
{
	struct ceiling c;
	struct uclient u;
	uint8_t reply[1500], req[128];
	struct udp_response r;
	struct info_hash ih = hash_of(1);

	ceiling_start(&c, io);
	uc_open(&u, &c.addr);
	uc_connect(&u);
	uc_announce(&u, &ih, 6881, 100, UDP_EVENT_STARTED, 7, reply, sizeof(reply), &r);
	cr_assert_eq(r.action, UDP_ACTION_ANNOUNCE);
	cr_assert_eq(r.announce.interval, 1800);
	cr_assert_eq(r.announce.peers_len, 7 * UDP_PEER4_LEN, "numwant 7 gives 7 peers");

	/* An empty datagram (it ends io_uring's multishot receive, which must
	 * be re-armed), a runt, and an announce with a connection id it never
	 * issued: no replies; the scrape after them shows all were read. */
	cr_assert_eq(send(u.fd, "", 0, 0), 0);
	cr_assert_eq(send(u.fd, "abc", 3, 0), 3);
	struct udp_announce_request a = {.info_hash = ih, .num_want = 5, .port = 1};
	int len = udp_write_announce_request(req, sizeof(req), u.connection_id ^ 1, 99, &a);
	cr_assert_eq(send(u.fd, req, (size_t)len, 0), len);
	uint32_t txid = u.next_txid++;
	len = udp_write_scrape_request(req, sizeof(req), u.connection_id, txid, &ih, 1);
	cr_assert_gt(len, 0);
	ssize_t n = uc_exchange(&u, req, (size_t)len, txid, reply, sizeof(reply));
	cr_assert_eq(n, 8 + UDP_SCRAPE_ENTRY_LEN, "scrape of one hash: one entry");
	close(u.fd);

	ceiling_stop(&c);
	/* The port is free as soon as the process is gone (a bench starts the
	 * next server on it at once): bind it without SO_REUSEPORT. */
	struct sockaddr_storage ss;
	socklen_t sl = netaddr_to_sockaddr(&c.addr, &ss);
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	cr_assert_eq(bind(fd, (struct sockaddr *)&ss, sl), 0, "port still bound after exit");
	close(fd);
	cr_assert_eq(total_of(&c, "received"), 6);
	cr_assert_eq(total_of(&c, "answered"), 3);
	cr_assert_eq(total_of(&c, "dropped_malformed"), 2, "the empty datagram and the runt");
	cr_assert_eq(total_of(&c, "dropped_connid"), 1);
	cr_assert_eq(total_of(&c, "send_errors"), 0);
}

Test(ceiling, mmsg_answers_valid_requests_and_drops_the_rest, .timeout = 20)
{
	answers_and_drops("mmsg");
}

Test(ceiling, uring_answers_valid_requests_and_drops_the_rest, .timeout = 20)
{
	answers_and_drops("uring");
}

Test(ceiling, unknown_io_mode_is_refused, .timeout = 10)
{
	const char *bin = tool_or_skip("ringtracker-ceiling");
	char out[1024];
	const char *args[] = {"--io", "epoll", NULL};
	int status = run_bin(bin, args, out, sizeof(out));
	cr_assert_eq(status, 2, "exit status %d: %s", status, out);
	cr_assert(strstr(out, "--io: uring or mmsg"), "%s", out);
}

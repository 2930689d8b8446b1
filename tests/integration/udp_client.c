/* udp_client.c - see udp_client.h. Every wait is bounded in time. */
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "harness.h"
#include "udp_client.h"

void uc_open(struct uclient *c, const struct netaddr *server)
{
	struct sockaddr_storage ss;
	socklen_t len = netaddr_to_sockaddr(server, &ss);

	memset(c, 0, sizeof(*c));
	c->server = *server;
	c->next_txid = (uint32_t)rand();
	c->fd = socket(server->family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	cr_assert_geq(c->fd, 0);
	cr_assert_eq(connect(c->fd, (struct sockaddr *)&ss, len), 0);
}

/* Sends req and waits for a reply with the same transaction id; retries
 * three times (UDP may drop). Returns the reply length or -1. */
ssize_t uc_exchange(struct uclient *c, const uint8_t *req, size_t len, uint32_t txid,
		    uint8_t *reply, size_t cap)
{
	for (int attempt = 0; attempt < 3; attempt++) {
		cr_assert_eq(send(c->fd, req, len, 0), (ssize_t)len);
		double deadline = now_s() + 1.0;
		while (now_s() < deadline) {
			struct pollfd p = {.fd = c->fd, .events = POLLIN};
			if (poll(&p, 1, 100) <= 0)
				continue;
			ssize_t n = recv(c->fd, reply, cap, 0);
			uint32_t got;
			if (n >= 8) {
				memcpy(&got, reply + 4, 4);
				if (ntohl(got) == txid)
					return n;
			}
		}
	}
	return -1;
}

void uc_connect(struct uclient *c)
{
	uint8_t req[64], reply[64];
	struct udp_response r;
	uint32_t txid = c->next_txid++;
	int len = udp_write_connect_request(req, sizeof(req), txid);

	ssize_t n = uc_exchange(c, req, (size_t)len, txid, reply, sizeof(reply));
	cr_assert_eq(n, 16, "connect: no reply");
	cr_assert_eq(udp_parse_response(reply, (size_t)n, &r), 0);
	cr_assert_eq(r.action, UDP_ACTION_CONNECT);
	c->connection_id = r.connection_id;
}

/* Announces and parses the reply into *r (pointing into reply). */
void uc_announce(struct uclient *c, const struct info_hash *ih, uint16_t port, uint64_t left,
		 uint32_t event, int32_t numwant, uint8_t *reply, size_t cap,
		 struct udp_response *r)
{
	struct udp_announce_request a = {
	    .info_hash = *ih,
	    .left = left,
	    .event = event,
	    .num_want = numwant,
	    .port = port,
	};
	uint8_t req[128];
	uint32_t txid = c->next_txid++;

	memset(a.peer_id.b, 'P', sizeof(a.peer_id.b));
	int len = udp_write_announce_request(req, sizeof(req), c->connection_id, txid, &a);
	cr_assert_eq(len, 98);
	ssize_t n = uc_exchange(c, req, (size_t)len, txid, reply, cap);
	cr_assert_gt(n, 0, "announce: no reply");
	cr_assert_eq(udp_parse_response(reply, (size_t)n, r), 0);
}

/* True when the compact peer list holds ip:port. */
bool uc_peers_contain(const struct udp_response *r, const struct netaddr *ip, uint16_t port)
{
	size_t rec = ip->family == AF_INET6 ? UDP_PEER6_LEN : UDP_PEER4_LEN;
	size_t iplen = rec - 2;

	for (size_t off = 0; off + rec <= r->announce.peers_len; off += rec) {
		const uint8_t *p = r->announce.peers + off;
		if (memcmp(p, ip->ip, iplen) == 0 && p[iplen] == port >> 8 &&
		    p[iplen + 1] == (port & 0xff))
			return true;
	}
	return false;
}

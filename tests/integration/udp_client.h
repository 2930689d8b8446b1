/* udp_client.h - a small blocking BEP 15 client for the integration
 * suites: connect, announce, scrape over a connected UDP socket, three tries
 * of a second each. Failed steps fail the calling test. */
#ifndef RINGTRACKER_TEST_UDP_CLIENT_H
#define RINGTRACKER_TEST_UDP_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "ids.h"
#include "netaddr.h"
#include "udp.h"

struct uclient {
	/* one socket, so one source port */
	int fd;
	struct netaddr server;
	uint64_t connection_id;
	uint32_t next_txid;
};

/* Opens a socket connected to server. */
void uc_open(struct uclient *c, const struct netaddr *server);

/* Sends req and waits for a reply with txid; three tries. Returns the reply
 * length or -1. */
ssize_t uc_exchange(struct uclient *c, const uint8_t *req, size_t len, uint32_t txid,
		    uint8_t *reply, size_t cap);

/* BEP 15 connect; keeps the connection id in c. */
void uc_connect(struct uclient *c);

/* Announces and parses the reply into *r (pointing into reply). */
void uc_announce(struct uclient *c, const struct info_hash *ih, uint16_t port, uint64_t left,
		 uint32_t event, int32_t numwant, uint8_t *reply, size_t cap,
		 struct udp_response *r);

/* True when the announce reply's compact peers hold ip:port. */
bool uc_peers_contain(const struct udp_response *r, const struct netaddr *ip, uint16_t port);

#endif

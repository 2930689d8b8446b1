/* connid.h - stateless BEP 15 connection ids.
 *
 * id = 16-bit issue time (seconds, wrapping) << 48 | 48-bit keyed MAC
 * (SipHash-2-4, libsodium crypto_shorthash) of (issue time, client IP).
 * Any worker holding the same key validates any id; nothing is stored.
 * The client's port is not bound: NATs may change it between requests.
 * Pure functions, callable from any thread once the key is set.
 */
#ifndef RINGTRACKER_CONNID_H
#define RINGTRACKER_CONNID_H

#include <stdint.h>

#include "netaddr.h"

struct connid_key {
	uint8_t k[16]; /* crypto_shorthash_KEYBYTES */
};

/* Seconds an id issued by another worker may appear to be from the future
 * (workers refresh their coarse clocks independently). */
#define CONNID_FUTURE_SKEW 1

/* Fills *key from libsodium's CSPRNG. Call sodium_init() first. */
void connid_key_init(struct connid_key *key);

/* Issues an id for client at time now (seconds of the tracker's clock). */
uint64_t connid_make(const struct connid_key *key, const struct netaddr *client, uint32_t now);

/* Checks an id presented by client at time now. Valid from issue until
 * issue + lifetime + grace seconds. Returns 0 when valid, -ETIMEDOUT when
 * the MAC matches but the id is too old, -EINVAL when the MAC does not match
 * or the issue time is more than CONNID_FUTURE_SKEW seconds ahead.
 * lifetime + grace must be below 32768 seconds. */
int connid_check(const struct connid_key *key, const struct netaddr *client, uint64_t id,
		 uint32_t now, uint32_t lifetime, uint32_t grace);

#endif

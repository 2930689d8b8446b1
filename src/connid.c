/* connid.c - stateless BEP 15 connection ids: a 16-bit clock and a keyed MAC.
 *
 * What it does: issues and checks 64-bit connection ids laid out as
 *   bits 63..48  issue time, seconds mod 65536
 *   bits 47..0   first 6 bytes (big-endian) of SipHash-2-4(key, msg),
 *                msg = time (2 bytes, big-endian) || family (1 byte,
 *                the AF_ value) || ip (16 bytes, IPv4 zero-padded)
 * so any worker holding the key validates any id without shared state.
 * What it doesn't: bind the client's port (NATs rewrite it), rotate keys, or
 * store anything. Known limit: the 16-bit clock wraps every 65536 s (18.2 h),
 * so an id captured by an on-path observer is accepted again for the same IP
 * in each later window of the same phase; BEP 15 ids only guard against
 * source-address spoofing, and such an observer can get a fresh id anyway.
 * Thread: pure functions, any thread, once the key is set.
 * Memory: none allocated; the key belongs to the caller.
 * Spec: BEP 15 (connection ids); libsodium crypto_shorthash.
 */
#include <assert.h>
#include <errno.h>
#include <string.h>

#include <sodium.h>

#include "connid.h"

static_assert(sizeof(struct connid_key) == crypto_shorthash_KEYBYTES, "SipHash key size");
static_assert(crypto_shorthash_BYTES == 8, "SipHash-2-4 output size");

#define MAC_BITS   48
#define MAC_MASK   ((UINT64_C(1) << MAC_BITS) - 1)
#define CLOCK_HALF 32768 /* ages at or past this look like the future */

void connid_key_init(struct connid_key *key)
{
	randombytes_buf(key->k, sizeof(key->k));
}

/* 48-bit MAC over (t16, family, ip) under key. */
static uint64_t connid_mac(const struct connid_key *key, const struct netaddr *client, uint16_t t16)
{
	uint8_t msg[2 + 1 + 16] = {0};
	uint8_t h[crypto_shorthash_BYTES];
	uint64_t mac = 0;

	msg[0] = (uint8_t)(t16 >> 8);
	msg[1] = (uint8_t)t16;
	msg[2] = client->family;
	memcpy(msg + 3, client->ip, netaddr_ip_len(client));
	crypto_shorthash(h, msg, sizeof(msg), key->k);
	for (int i = 0; i < MAC_BITS / 8; i++)
		mac = mac << 8 | h[i];
	return mac;
}

uint64_t connid_make(const struct connid_key *key, const struct netaddr *client, uint32_t now)
{
	uint16_t t16 = (uint16_t)now;

	return (uint64_t)t16 << MAC_BITS | connid_mac(key, client, t16);
}

int connid_check(const struct connid_key *key, const struct netaddr *client, uint64_t id,
		 uint32_t now, uint32_t lifetime, uint32_t grace)
{
	uint16_t t16 = (uint16_t)(id >> MAC_BITS);
	uint16_t age = (uint16_t)((uint16_t)now - t16);

	if (connid_mac(key, client, t16) != (id & MAC_MASK))
		return -EINVAL;
	if (age >= CLOCK_HALF)
		return 65536 - age <= CONNID_FUTURE_SKEW ? 0 : -EINVAL;
	if (age > (uint64_t)lifetime + grace)
		return -ETIMEDOUT;
	return 0;
}

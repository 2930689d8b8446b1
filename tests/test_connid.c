/* test_connid.c - Criterion tests for stateless connection ids (src/connid.c).
 *
 * What it covers: the documented bit layout (rebuilt here independently from
 * crypto_shorthash), the validity window edges, future skew, 16-bit clock
 * wrap-around, binding to the client IP and family but not the port, MAC
 * tampering and key separation.
 * Thread: Criterion runs each test in its own process; sodium_init() runs in
 * the suite's per-test init. Memory: stack only. Spec: BEP 15.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include <sodium.h>

#include "connid.h"

#define LIFETIME 120
#define GRACE	 60

static void setup(void)
{
	cr_assert_geq(sodium_init(), 0);
}

TestSuite(connid, .init = setup);

static struct connid_key fixed_key(uint8_t seed)
{
	struct connid_key k;

	for (int i = 0; i < 16; i++)
		k.k[i] = (uint8_t)(seed + i);
	return k;
}

static struct netaddr v4(const char *ip, uint16_t port)
{
	struct netaddr a = {.family = AF_INET, .port = port};

	cr_assert_eq(inet_pton(AF_INET, ip, a.ip), 1);
	return a;
}

static struct netaddr v6(const char *ip, uint16_t port)
{
	struct netaddr a = {.family = AF_INET6, .port = port};

	cr_assert_eq(inet_pton(AF_INET6, ip, a.ip), 1);
	return a;
}

static int check(const struct connid_key *k, const struct netaddr *a, uint64_t id, uint32_t now)
{
	return connid_check(k, a, id, now, LIFETIME, GRACE);
}

Test(connid, layout_matches_the_documented_construction)
{
	struct connid_key k = fixed_key(0x40);
	struct netaddr a = v4("192.0.2.7", 6881);
	uint8_t msg[19] = {0x12, 0x34, AF_INET, 192, 0, 2, 7}, h[8];
	uint64_t id = connid_make(&k, &a, 0xabcd1234), want = 0x1234;

	crypto_shorthash(h, msg, sizeof(msg), k.k);
	for (int i = 0; i < 6; i++)
		want = want << 8 | h[i];
	cr_assert_eq(id, want, "id %016llx want %016llx", (unsigned long long)id,
		     (unsigned long long)want);
}

Test(connid, ipv4_padding_bytes_are_not_bound)
{
	struct connid_key k = fixed_key(1);
	struct netaddr a = v4("192.0.2.7", 1), b = a;

	memset(b.ip + 4, 0xee, 12);
	cr_assert_eq(connid_make(&k, &a, 500), connid_make(&k, &b, 500));
	cr_assert_eq(check(&k, &b, connid_make(&k, &a, 500), 500), 0);
}

Test(connid, valid_from_issue_to_lifetime_plus_grace)
{
	struct connid_key k;
	struct netaddr a = v4("198.51.100.1", 1234);
	uint64_t id;

	connid_key_init(&k);
	id = connid_make(&k, &a, 1000);
	cr_assert_eq(check(&k, &a, id, 1000), 0);
	cr_assert_eq(check(&k, &a, id, 1000 + LIFETIME), 0);
	cr_assert_eq(check(&k, &a, id, 1000 + LIFETIME + GRACE), 0);
	cr_assert_eq(check(&k, &a, id, 1000 + LIFETIME + GRACE + 1), -ETIMEDOUT);
	cr_assert_eq(check(&k, &a, id, 1000 + 32767), -ETIMEDOUT);
}

Test(connid, issue_time_in_the_future)
{
	struct connid_key k = fixed_key(2);
	struct netaddr a = v6("2001:db8::5", 1);
	uint32_t now = 70000;

	cr_assert_eq(check(&k, &a, connid_make(&k, &a, now + 1), now), 0);
	cr_assert_eq(check(&k, &a, connid_make(&k, &a, now + 2), now), -EINVAL);
	cr_assert_eq(check(&k, &a, connid_make(&k, &a, now + 10), now), -EINVAL);
	cr_assert_eq(check(&k, &a, connid_make(&k, &a, now + 32768), now), -EINVAL);
}

Test(connid, clock_wraps_at_16_bits)
{
	struct connid_key k = fixed_key(3);
	struct netaddr a = v4("203.0.113.9", 80);
	uint64_t id = connid_make(&k, &a, 65530);

	cr_assert_eq(id >> 48, 65530);
	cr_assert_eq(check(&k, &a, id, 65540), 0);
	cr_assert_eq(check(&k, &a, id, 65530 + LIFETIME + GRACE), 0);
	cr_assert_eq(check(&k, &a, id, 65530 + LIFETIME + GRACE + 1), -ETIMEDOUT);
	/* Issued just before the wrap, checked by a worker whose clock lags. */
	cr_assert_eq(check(&k, &a, connid_make(&k, &a, 65536), 65535), 0);
	/* Only the low 16 bits of the clock matter. */
	cr_assert_eq(check(&k, &a, id, 3u * 65536 + 65540), 0);
}

Test(connid, bound_to_ip_not_port)
{
	struct connid_key k = fixed_key(4);
	struct netaddr a = v4("192.0.2.1", 6881);
	struct netaddr other_port = v4("192.0.2.1", 6882);
	struct netaddr other_ip = v4("192.0.2.2", 6881);
	uint64_t id = connid_make(&k, &a, 42);

	cr_assert_eq(check(&k, &other_port, id, 42), 0);
	cr_assert_eq(check(&k, &other_ip, id, 42), -EINVAL);
}

Test(connid, bound_to_ipv6_address)
{
	struct connid_key k = fixed_key(5);
	struct netaddr a = v6("2001:db8::1", 1);
	struct netaddr b = v6("2001:db8::2", 1);
	struct netaddr c = v6("2001:db9::1", 1);
	uint64_t id = connid_make(&k, &a, 42);

	cr_assert_eq(check(&k, &a, id, 42), 0);
	cr_assert_eq(check(&k, &b, id, 42), -EINVAL);
	cr_assert_eq(check(&k, &c, id, 42), -EINVAL);
}

Test(connid, bound_to_family)
{
	struct connid_key k = fixed_key(6);
	struct netaddr a4 = v4("0.0.0.0", 1);
	struct netaddr a6 = v6("::", 1);
	struct netaddr mapped = v6("::ffff:192.0.2.1", 1);
	struct netaddr plain = v4("192.0.2.1", 1);

	cr_assert_eq(check(&k, &a6, connid_make(&k, &a4, 42), 42), -EINVAL);
	cr_assert_eq(check(&k, &a4, connid_make(&k, &a6, 42), 42), -EINVAL);
	cr_assert_eq(check(&k, &plain, connid_make(&k, &mapped, 42), 42), -EINVAL);
}

Test(connid, any_flipped_bit_is_rejected)
{
	struct connid_key k = fixed_key(7);
	struct netaddr a = v4("192.0.2.1", 1);
	uint64_t id = connid_make(&k, &a, 5000);

	/* MAC bits, and time bits: a moved time no longer matches the MAC. */
	for (int bit = 0; bit < 64; bit++)
		cr_assert_eq(check(&k, &a, id ^ (UINT64_C(1) << bit), 5000), -EINVAL, "bit %d",
			     bit);
}

Test(connid, another_key_rejects)
{
	struct connid_key k1, k2;
	struct netaddr a = v6("2001:db8::1", 1);

	connid_key_init(&k1);
	connid_key_init(&k2);
	cr_assert_arr_neq(k1.k, k2.k, 16);
	cr_assert_eq(check(&k2, &a, connid_make(&k1, &a, 9), 9), -EINVAL);
	cr_assert_eq(check(&k1, &a, connid_make(&k1, &a, 9), 9), 0);
}

Test(connid, ids_differ_over_time_and_clients)
{
	struct connid_key k = fixed_key(8);
	struct netaddr a = v4("192.0.2.1", 1), b = v4("192.0.2.2", 1);

	cr_assert_neq(connid_make(&k, &a, 1), connid_make(&k, &a, 2));
	cr_assert_neq(connid_make(&k, &a, 1) & 0xffffffffffff,
		      connid_make(&k, &a, 2) & 0xffffffffffff);
	cr_assert_neq(connid_make(&k, &a, 1), connid_make(&k, &b, 1));
	cr_assert_eq(connid_make(&k, &a, 1), connid_make(&k, &a, 65537));
}

/* test_netaddr.c - Criterion tests for address text and sockaddr conversions
 * (src/netaddr.c).
 *
 * What it covers: parse/format round trips for IPv4 and IPv6, every rejected
 * text form, -ENOSPC at the exact boundary, sockaddr conversions both ways
 * (IPv4-mapped stays IPv6), and same-ip comparison.
 * Thread: Criterion runs each test in its own process. Memory: stack only.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>

#include "netaddr.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

Test(netaddr, parse_ipv4)
{
	const uint8_t ip[4] = {192, 0, 2, 1};
	struct netaddr a;

	cr_assert_eq(netaddr_parse("192.0.2.1:6969", &a), 0);
	cr_assert_eq(a.family, AF_INET);
	cr_assert_arr_eq(a.ip, ip, 4);
	cr_assert_eq(a.port, 6969);
	cr_assert_eq(netaddr_ip_len(&a), 4);
}

Test(netaddr, parse_ipv6)
{
	uint8_t ip[16] = {0x20, 0x01, 0x0d, 0xb8};
	struct netaddr a;

	ip[15] = 1;
	cr_assert_eq(netaddr_parse("[2001:db8::1]:443", &a), 0);
	cr_assert_eq(a.family, AF_INET6);
	cr_assert_arr_eq(a.ip, ip, 16);
	cr_assert_eq(a.port, 443);
	cr_assert_eq(netaddr_ip_len(&a), 16);
}

Test(netaddr, format_round_trips)
{
	const char *const texts[] = {
	    "0.0.0.0:0",
	    "255.255.255.255:65535",
	    "127.0.0.1:6969",
	    "[::]:0",
	    "[::1]:6969",
	    "[2001:db8::1]:65535",
	    "[fe80::1:2]:1",
	    "[::ffff:192.0.2.1]:80",
	    "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535",
	};
	char buf[NETADDR_TEXT_MAX];
	struct netaddr a, b;

	for (size_t i = 0; i < ARRAY_LEN(texts); i++) {
		cr_assert_eq(netaddr_parse(texts[i], &a), 0, "%s", texts[i]);
		cr_assert_eq(netaddr_format(&a, buf, sizeof(buf)), (int)strlen(texts[i]));
		cr_assert_str_eq(buf, texts[i]);
		cr_assert_eq(netaddr_parse(buf, &b), 0);
		cr_assert(netaddr_same_ip(&a, &b));
		cr_assert_eq(a.port, b.port);
	}
}

Test(netaddr, parse_canonicalises_on_format)
{
	char buf[NETADDR_TEXT_MAX];
	struct netaddr a;

	cr_assert_eq(netaddr_parse("[2001:DB8:0:0:0:0:0:1]:00080", &a), 0);
	cr_assert_eq(netaddr_format(&a, buf, sizeof(buf)), 16);
	cr_assert_str_eq(buf, "[2001:db8::1]:80");
}

Test(netaddr, parse_rejects)
{
	const char *const bad[] = {
	    "",
	    ":",
	    ":80",
	    "1.2.3.4",
	    "1.2.3.4:",
	    " 1.2.3.4:80",
	    "1.2.3.4:80 ",
	    "1.2.3.4: 80",
	    "1.2.3.4 :80",
	    "1.2.3.4:+1",
	    "1.2.3.4:-1",
	    "1.2.3.4:65536",
	    "1.2.3.4:99999999999999999999",
	    "1.2.3.4:80x",
	    "1.2.3.4:0x50",
	    "1.2.3.4::80",
	    "1.2.3:80",
	    "1.2.3.4.5:80",
	    "256.1.1.1:80",
	    "localhost:80",
	    "::1:80",
	    "2001:db8::1:80",
	    "[::1]",
	    "[::1]:",
	    "[::1]80",
	    "[::1]:80:",
	    "[::1]:80]",
	    "[::1:80",
	    "::1]:80",
	    "[]:80",
	    "[1.2.3.4]:80",
	    "[::1%1]:80",
	    "[fe80::1%eth0]:80",
	    " [::1]:80",
	    "[ ::1]:80",
	    "[[::1]]:80",
	    "[::1]:65536",
	    "[::1]:+1",
	};
	struct netaddr a;

	for (size_t i = 0; i < ARRAY_LEN(bad); i++)
		cr_assert_eq(netaddr_parse(bad[i], &a), -EINVAL, "accepted \"%s\"", bad[i]);
}

Test(netaddr, format_reports_enospc)
{
	char buf[NETADDR_TEXT_MAX];
	struct netaddr a;

	cr_assert_eq(netaddr_parse("10.0.0.1:80", &a), 0);
	memset(buf, 'x', sizeof(buf));
	cr_assert_eq(netaddr_format(&a, buf, 11), -ENOSPC); /* no room for the NUL */
	cr_assert_eq(buf[0], 'x');
	cr_assert_eq(netaddr_format(&a, buf, 0), -ENOSPC);
	cr_assert_eq(netaddr_format(&a, buf, 12), 11);
	cr_assert_str_eq(buf, "10.0.0.1:80");

	cr_assert_eq(netaddr_parse("[::1]:1", &a), 0);
	cr_assert_eq(netaddr_format(&a, buf, 7), -ENOSPC);
	cr_assert_eq(netaddr_format(&a, buf, 8), 7);
}

Test(netaddr, format_rejects_unknown_family)
{
	struct netaddr a = {.family = AF_UNIX};
	char buf[NETADDR_TEXT_MAX];

	cr_assert_eq(netaddr_format(&a, buf, sizeof(buf)), -EAFNOSUPPORT);
}

Test(netaddr, sockaddr_ipv4_round_trip)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
	struct netaddr a, b;

	cr_assert_eq(netaddr_parse("192.0.2.9:6881", &a), 0);
	cr_assert_eq(netaddr_to_sockaddr(&a, &ss), sizeof(struct sockaddr_in));
	cr_assert_eq(s4->sin_family, AF_INET);
	cr_assert_eq(s4->sin_port, htons(6881));
	cr_assert_eq(s4->sin_addr.s_addr, htonl(0xc0000209));
	cr_assert_eq(netaddr_from_sockaddr((struct sockaddr *)&ss, sizeof(*s4), &b), 0);
	cr_assert(netaddr_same_ip(&a, &b));
	cr_assert_eq(b.port, 6881);
	cr_assert_eq(b.family, AF_INET);
}

Test(netaddr, sockaddr_ipv6_round_trip)
{
	struct sockaddr_storage ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
	struct netaddr a, b;

	cr_assert_eq(netaddr_parse("[2001:db8::42]:51413", &a), 0);
	cr_assert_eq(netaddr_to_sockaddr(&a, &ss), sizeof(struct sockaddr_in6));
	cr_assert_eq(s6->sin6_family, AF_INET6);
	cr_assert_eq(s6->sin6_port, htons(51413));
	cr_assert_arr_eq(&s6->sin6_addr, a.ip, 16);
	cr_assert_eq(netaddr_from_sockaddr((struct sockaddr *)&ss, sizeof(*s6), &b), 0);
	cr_assert(netaddr_same_ip(&a, &b));
	cr_assert_eq(b.port, 51413);
}

Test(netaddr, ipv4_mapped_stays_ipv6)
{
	struct sockaddr_in6 s6 = {.sin6_family = AF_INET6, .sin6_port = htons(80)};
	struct netaddr a;

	cr_assert_eq(inet_pton(AF_INET6, "::ffff:192.0.2.1", &s6.sin6_addr), 1);
	cr_assert_eq(netaddr_from_sockaddr((struct sockaddr *)&s6, sizeof(s6), &a), 0);
	cr_assert_eq(a.family, AF_INET6);
	cr_assert_eq(a.ip[10], 0xff);
	cr_assert_eq(a.ip[15], 1);
}

Test(netaddr, from_sockaddr_rejects)
{
	struct sockaddr_in6 s6 = {.sin6_family = AF_INET6};
	struct sockaddr_in s4 = {.sin_family = AF_INET};
	struct sockaddr_storage ss = {.ss_family = AF_UNIX};
	struct netaddr a = {.family = 77};

	cr_assert_eq(netaddr_from_sockaddr((struct sockaddr *)&ss, sizeof(ss), &a), -EAFNOSUPPORT);
	cr_assert_eq(netaddr_from_sockaddr((struct sockaddr *)&s4, sizeof(s4) - 1, &a),
		     -EAFNOSUPPORT);
	cr_assert_eq(netaddr_from_sockaddr((struct sockaddr *)&s6, sizeof(s6) - 1, &a),
		     -EAFNOSUPPORT);
	cr_assert_eq(netaddr_from_sockaddr((struct sockaddr *)&s6, 0, &a), -EAFNOSUPPORT);
	cr_assert_eq(a.family, 77, "out written on failure");
}

Test(netaddr, same_ip_compares_family_and_address_only)
{
	struct netaddr a, b, c, d, e, f;

	cr_assert_eq(netaddr_parse("1.2.3.4:1", &e), 0);
	cr_assert_eq(netaddr_parse("[102:304::]:1", &f), 0); /* same first 4 bytes */
	cr_assert_not(netaddr_same_ip(&e, &f));
	cr_assert_not(netaddr_same_ip(&f, &e));
	cr_assert_eq(netaddr_parse("192.0.2.1:1", &a), 0);
	cr_assert_eq(netaddr_parse("192.0.2.1:2", &b), 0);
	cr_assert_eq(netaddr_parse("192.0.2.2:1", &c), 0);
	cr_assert_eq(netaddr_parse("[::ffff:192.0.2.1]:1", &d), 0);
	cr_assert(netaddr_same_ip(&a, &b));
	cr_assert_not(netaddr_same_ip(&a, &c));
	cr_assert_not(netaddr_same_ip(&a, &d));
	memset(b.ip + 4, 0xaa, 12); /* bytes past an IPv4 address are not compared */
	cr_assert(netaddr_same_ip(&a, &b));
}

Test(netaddr, prefixes_parse_format_and_match)
{
	struct netaddr net, a;
	uint8_t bits;
	char text[NETADDR_TEXT_MAX];

	cr_assert_eq(netaddr_parse_prefix("10.0.0.0/8", &net, &bits), 0);
	cr_assert_eq(net.family, AF_INET);
	cr_assert_eq(bits, 8);
	cr_assert_eq(netaddr_format_prefix(&net, bits, text, sizeof(text)), 10);
	cr_assert_str_eq(text, "10.0.0.0/8");
	cr_assert_eq(netaddr_parse("10.200.3.4:1", &a), 0);
	cr_assert(netaddr_in_prefix(&net, bits, &a));
	cr_assert_eq(netaddr_parse("11.0.0.1:1", &a), 0);
	cr_assert_not(netaddr_in_prefix(&net, bits, &a));

	cr_assert_eq(netaddr_parse_prefix("192.168.4.0/22", &net, &bits), 0);
	cr_assert_eq(netaddr_parse("192.168.7.255:1", &a), 0);
	cr_assert(netaddr_in_prefix(&net, bits, &a), "inside the partial byte");
	cr_assert_eq(netaddr_parse("192.168.8.0:1", &a), 0);
	cr_assert_not(netaddr_in_prefix(&net, bits, &a));

	cr_assert_eq(netaddr_parse_prefix("fd00::/8", &net, &bits), 0);
	cr_assert_eq(net.family, AF_INET6);
	cr_assert_eq(netaddr_parse("[fdff::1]:1", &a), 0);
	cr_assert(netaddr_in_prefix(&net, bits, &a));
	cr_assert_eq(netaddr_parse("10.0.0.1:1", &a), 0);
	cr_assert_not(netaddr_in_prefix(&net, bits, &a), "families never match");
	cr_assert_eq(netaddr_parse_prefix("::1/128", &net, &bits), 0);
	cr_assert_eq(netaddr_parse_prefix("0.0.0.0/0", &net, &bits), 0);
	cr_assert(netaddr_in_prefix(&net, bits, &a), "/0 holds every IPv4 address");

	static const char *const bad[] = { "10.0.0.1/8", "10.0.0.0/33", "::/129", "10.0.0.0",
					   "10.0.0.0/", "/8",	      "10.0.0.0/8x", "[::1]/128",
					   "10.0.0.0/-1" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_assert_eq(netaddr_parse_prefix(bad[i], &net, &bits), -EINVAL, "%s", bad[i]);
}

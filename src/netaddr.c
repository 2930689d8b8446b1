/* netaddr.c - IPv4/IPv6 address + port: text and sockaddr conversions.
 *
 * What it does: parses and formats the two text forms "A.B.C.D:PORT" and
 * "[V6]:PORT" (inet_pton/inet_ntop do the address part), and converts to and
 * from struct sockaddr_in/sockaddr_in6.
 * What it doesn't: no name resolution, no zone ids ("%eth0"), no bare
 * addresses without a port, no IPv4-mapped folding (a v6 socket's peers stay
 * v6 so replies go out on the same family).
 * Thread: pure functions, any thread. Memory: callers own every buffer.
 * Spec: RFC 3986 section 3.2.2 bracket form for IPv6 literals with a port.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "netaddr.h"

/* Parses a decimal port 0..65535 that runs to the end of the string: digits
 * only (no sign, no spaces), at least one. */
static int parse_port(const char *s, uint16_t *port)
{
	uint32_t v = 0;

	if (*s == '\0')
		return -EINVAL;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -EINVAL;
		v = v * 10 + (uint32_t)(*s - '0');
		if (v > 65535)
			return -EINVAL;
	}
	*port = (uint16_t)v;
	return 0;
}

/* Copies host[0..len) into a NUL-ended scratch buffer and runs inet_pton. */
static int parse_host(int family, const char *host, size_t len, uint8_t ip[16])
{
	char tmp[INET6_ADDRSTRLEN];

	if (len == 0 || len >= sizeof(tmp))
		return -EINVAL;
	memcpy(tmp, host, len);
	tmp[len] = '\0';
	return inet_pton(family, tmp, ip) == 1 ? 0 : -EINVAL;
}

int netaddr_parse(const char *text, struct netaddr *out)
{
	struct netaddr a;
	const char *end;

	memset(&a, 0, sizeof(a));
	if (text[0] == '[') {
		end = strchr(text, ']');
		if (!end || end[1] != ':')
			return -EINVAL;
		a.family = AF_INET6;
		if (parse_host(AF_INET6, text + 1, (size_t)(end - text - 1), a.ip))
			return -EINVAL;
		end++;
	} else {
		end = strchr(text, ':');
		if (!end)
			return -EINVAL;
		a.family = AF_INET;
		if (parse_host(AF_INET, text, (size_t)(end - text), a.ip))
			return -EINVAL;
	}
	if (parse_port(end + 1, &a.port))
		return -EINVAL;
	*out = a;
	return 0;
}

/* Formats into a scratch buffer first so that a short buf is left untouched
 * rather than holding a truncated address. */
int netaddr_format(const struct netaddr *a, char *buf, size_t cap)
{
	char host[INET6_ADDRSTRLEN];
	char tmp[NETADDR_TEXT_MAX];
	int n;

	if (a->family != AF_INET && a->family != AF_INET6)
		return -EAFNOSUPPORT;
	if (!inet_ntop(a->family, a->ip, host, sizeof(host)))
		return -EAFNOSUPPORT;
	if (a->family == AF_INET6)
		n = snprintf(tmp, sizeof(tmp), "[%s]:%u", host, (unsigned)a->port);
	else
		n = snprintf(tmp, sizeof(tmp), "%s:%u", host, (unsigned)a->port);
	if (n < 0 || (size_t)n >= sizeof(tmp) || (size_t)n >= cap)
		return -ENOSPC;
	memcpy(buf, tmp, (size_t)n + 1);
	return n;
}

/* A family other than AF_INET6 is treated as AF_INET, as netaddr_ip_len does. */
socklen_t netaddr_to_sockaddr(const struct netaddr *a, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (a->family == AF_INET6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(a->port);
		memcpy(&s6->sin6_addr, a->ip, 16);
		return sizeof(*s6);
	}
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;

	s4->sin_family = AF_INET;
	s4->sin_port = htons(a->port);
	memcpy(&s4->sin_addr, a->ip, 4);
	return sizeof(*s4);
}

int netaddr_from_sockaddr(const struct sockaddr *sa, socklen_t len, struct netaddr *out)
{
	struct sockaddr_in6 s6;
	struct sockaddr_in s4;
	struct netaddr a;

	if (len < sizeof(sa_family_t))
		return -EAFNOSUPPORT;
	memset(&a, 0, sizeof(a));
	if (sa->sa_family == AF_INET && len >= sizeof(s4)) {
		memcpy(&s4, sa, sizeof(s4));
		a.family = AF_INET;
		a.port = ntohs(s4.sin_port);
		memcpy(a.ip, &s4.sin_addr, 4);
	} else if (sa->sa_family == AF_INET6 && len >= sizeof(s6)) {
		memcpy(&s6, sa, sizeof(s6));
		a.family = AF_INET6;
		a.port = ntohs(s6.sin6_port);
		memcpy(a.ip, &s6.sin6_addr, 16);
	} else {
		return -EAFNOSUPPORT;
	}
	*out = a;
	return 0;
}

bool netaddr_same_ip(const struct netaddr *a, const struct netaddr *b)
{
	return a->family == b->family && memcmp(a->ip, b->ip, netaddr_ip_len(a)) == 0;
}

int netaddr_parse_prefix(const char *text, struct netaddr *out, uint8_t *bits)
{
	struct netaddr a;
	const char *slash = strchr(text, '/');
	unsigned long n = 0;

	memset(&a, 0, sizeof(a));
	if (!slash || slash == text || !slash[1] || strlen(slash + 1) > 3)
		return -EINVAL;
	a.family = memchr(text, ':', (size_t)(slash - text)) ? AF_INET6 : AF_INET;
	if (parse_host(a.family, text, (size_t)(slash - text), a.ip))
		return -EINVAL;
	for (const char *p = slash + 1; *p; p++) {
		if (*p < '0' || *p > '9')
			return -EINVAL;
		n = n * 10 + (unsigned long)(*p - '0');
	}
	if (n > netaddr_ip_len(&a) * 8)
		return -EINVAL;
	/* The network address itself: host bits must be zero. */
	for (unsigned i = (unsigned)n; i < netaddr_ip_len(&a) * 8; i++)
		if (a.ip[i / 8] & (0x80 >> (i % 8)))
			return -EINVAL;
	*out = a;
	*bits = (uint8_t)n;
	return 0;
}

int netaddr_format_prefix(const struct netaddr *net, uint8_t bits, char *buf, size_t cap)
{
	char host[INET6_ADDRSTRLEN];
	char tmp[NETADDR_TEXT_MAX];
	int n;

	if (!inet_ntop(net->family, net->ip, host, sizeof(host)))
		return -EAFNOSUPPORT;
	n = snprintf(tmp, sizeof(tmp), "%s/%u", host, bits);
	if (n < 0 || (size_t)n >= cap)
		return -ENOSPC;
	memcpy(buf, tmp, (size_t)n + 1);
	return n;
}

bool netaddr_in_prefix(const struct netaddr *net, uint8_t bits, const struct netaddr *a)
{
	if (a->family != net->family)
		return false;
	unsigned full = bits / 8, rest = bits % 8;
	if (memcmp(a->ip, net->ip, full) != 0)
		return false;
	if (rest == 0)
		return true;
	uint8_t mask = (uint8_t)(0xff << (8 - rest));
	return (a->ip[full] & mask) == (net->ip[full] & mask);
}

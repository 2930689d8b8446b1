/* netaddr.h - an IPv4 or IPv6 address with a port, as a plain value.
 *
 * Used for listen addresses (config), client source addresses (connection
 * ids, peers) and conversions to and from struct sockaddr. Pure functions,
 * callable from any thread.
 */
#ifndef RINGTRACKER_NETADDR_H
#define RINGTRACKER_NETADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* Longest text netaddr_format writes, with its NUL: "[v6]:65535". */
#define NETADDR_TEXT_MAX 56

struct netaddr {
	uint8_t family; /* AF_INET or AF_INET6 */
	uint8_t ip[16]; /* network order; IPv4 uses the first 4 bytes */
	uint16_t port;  /* host order */
};

/* Parses "A.B.C.D:PORT" or "[V6]:PORT" (port 0..65535) into *out.
 * Returns 0, or -EINVAL when the text is not exactly that form. */
int netaddr_parse(const char *text, struct netaddr *out);

/* Writes "A.B.C.D:PORT" or "[V6]:PORT" into buf (capacity cap, NUL-ended).
 * Returns the length written without the NUL, or -ENOSPC. */
int netaddr_format(const struct netaddr *a, char *buf, size_t cap);

/* Converts to a sockaddr in *ss; returns the sockaddr length to pass to
 * bind or as a send destination. */
socklen_t netaddr_to_sockaddr(const struct netaddr *a, struct sockaddr_storage *ss);

/* Converts from a sockaddr (AF_INET or AF_INET6). An IPv4-mapped IPv6 address
 * (::ffff:a.b.c.d) stays IPv6: a v6 socket answers in v6. Returns 0, or
 * -EAFNOSUPPORT for another family or a short length. */
int netaddr_from_sockaddr(const struct sockaddr *sa, socklen_t len, struct netaddr *out);

/* True when family and address bytes match (the port is not compared). */
bool netaddr_same_ip(const struct netaddr *a, const struct netaddr *b);

/* Parses a network "A.B.C.D/N" or "V6/N" (no brackets, no port; host bits
 * zero) into *net and *bits. Returns 0 or -EINVAL. */
int netaddr_parse_prefix(const char *text, struct netaddr *net, uint8_t *bits);

/* Writes "A.B.C.D/N" or "V6/N". Returns the length, or -ENOSPC. */
int netaddr_format_prefix(const struct netaddr *net, uint8_t bits, char *buf, size_t cap);

/* True when a is inside net/bits (same family, first bits equal). */
bool netaddr_in_prefix(const struct netaddr *net, uint8_t bits, const struct netaddr *a);

/* Number of meaningful ip bytes: 4 or 16. */
static inline size_t netaddr_ip_len(const struct netaddr *a)
{
	return a->family == AF_INET6 ? 16 : 4;
}

#endif

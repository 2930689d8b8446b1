/* client_url.c - tracker URLs for ringtracker-client: parsing, the BEP 48
 * scrape convention, and name resolution.
 *
 * What it does: splits udp://HOST:PORT[/...] and http://HOST[:PORT][/path]
 * into host, port and path (HOST: IPv4 literal, [IPv6] literal or a name),
 * derives a scrape URL from an announce URL, and resolves the host with
 * getaddrinfo in the order the resolver prefers.
 * What it doesn't: no https (no TLS here), no user:password@, no
 * percent-decoding of the host; the path is sent as written.
 * Thread: single-threaded tool. Memory: URLs are fixed-size values; the
 * address list from client_resolve belongs to the caller (freeaddrinfo).
 * Spec: RFC 3986 (the parts used), BEP 15 (udp URLs), BEP 48 (scrape URL).
 */
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "client.h"
#include "netaddr.h"

static bool is_port(const char *p, size_t n)
{
	unsigned v = 0;

	if (n == 0 || n > 5)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (p[i] < '0' || p[i] > '9')
			return false;
		v = v * 10 + (unsigned)(p[i] - '0');
	}
	return v >= 1 && v <= 65535;
}

int client_url_parse(const char *text, struct client_url *u, const char **why)
{
	const char *p, *host, *end;
	size_t host_len;

	memset(u, 0, sizeof(*u));
	if (strncasecmp(text, "udp://", 6) == 0) {
		u->scheme = CLIENT_UDP;
		p = text + 6;
	} else if (strncasecmp(text, "http://", 7) == 0) {
		u->scheme = CLIENT_HTTP;
		p = text + 7;
	} else if (strncasecmp(text, "https://", 8) == 0) {
		*why = "https:// is not supported (no TLS): use http:// or udp://";
		return -EINVAL;
	} else {
		*why = "the URL must start with udp:// or http://";
		return -EINVAL;
	}

	/* Host: [v6] or everything up to ':', '/', '?' or the end. */
	if (*p == '[') {
		host = p + 1;
		end = strchr(host, ']');
		if (!end) {
			*why = "missing ']' after an IPv6 address";
			return -EINVAL;
		}
		host_len = (size_t)(end - host);
		p = end + 1;
		u->host_is_v6 = true;
	} else {
		host = p;
		host_len = strcspn(p, ":/?#");
		p += host_len;
	}
	if (host_len == 0 || host_len >= sizeof(u->host)) {
		*why = host_len ? "host name too long" : "no host in the URL";
		return -EINVAL;
	}
	for (size_t i = 0; i < host_len; i++) {
		unsigned char c = (unsigned char)host[i];
		if (c <= ' ' || c == 0x7f || c == '@' || c == '[' || c == ']') {
			*why = "bad character in the host (user@host is not supported)";
			return -EINVAL;
		}
	}
	memcpy(u->host, host, host_len);

	/* Port: required for udp, 80 by default for http. */
	if (*p == ':') {
		size_t n = strcspn(p + 1, "/?#");
		if (!is_port(p + 1, n)) {
			*why = "the port must be a number from 1 to 65535";
			return -EINVAL;
		}
		memcpy(u->port, p + 1, n);
		p += 1 + n;
	} else if (u->scheme == CLIENT_UDP) {
		*why = "a udp:// URL needs a port (udp://HOST:PORT)";
		return -EINVAL;
	} else {
		memcpy(u->port, "80", 3);
	}
	if (*p && *p != '/' && *p != '?' && *p != '#') {
		*why = "junk after the host and port";
		return -EINVAL;
	}

	/* Path and query, without any fragment; "/announce" when empty. */
	size_t path_len = strcspn(p, "#");
	for (size_t i = 0; i < path_len; i++) {
		unsigned char c = (unsigned char)p[i];
		if (c <= ' ' || c == 0x7f) {
			*why = "spaces and control characters must be percent-encoded in the path";
			return -EINVAL;
		}
	}
	const char *prefix = path_len == 0 || *p == '?' ? "/announce" : "";
	if (strlen(prefix) + path_len >= sizeof(u->path)) {
		*why = "path too long";
		return -EINVAL;
	}
	snprintf(u->path, sizeof(u->path), "%s%.*s", prefix, (int)path_len, p);
	return 0;
}

int client_url_scrape(const struct client_url *announce, struct client_url *scrape)
{
	const char *path = announce->path;
	size_t plen = strcspn(path, "?");
	const char *slash = NULL;

	for (size_t i = 0; i < plen; i++)
		if (path[i] == '/')
			slash = path + i;
	if (!slash || strncmp(slash + 1, "announce", 8) != 0 ||
	    (size_t)(slash + 1 + 8 - path) > plen)
		return -ENOTSUP;
	*scrape = *announce;
	size_t head = (size_t)(slash + 1 - path);
	snprintf(scrape->path, sizeof(scrape->path), "%.*sscrape%s", (int)head, path,
		 slash + 1 + 8);
	return 0;
}

int client_resolve(const struct client_url *u, int socktype, int family, struct addrinfo **out,
		   struct client_result *r)
{
	struct addrinfo hints = {
	    .ai_family = u->host_is_v6 ? AF_INET6 : family,
	    .ai_socktype = socktype,
	    .ai_flags = u->host_is_v6 ? AI_NUMERICHOST : 0,
	};
	int rc;

	if (u->host_is_v6 && family == AF_INET)
		return client_fail(r, ENOENT, "cannot use IPv6 address %s with -4", u->host);
	rc = getaddrinfo(u->host, u->port, &hints, out);
	if (rc != 0)
		return client_fail(r, ENOENT, "cannot resolve %s: %s", u->host,
				   rc == EAI_SYSTEM ? strerror(errno) : gai_strerror(rc));
	return 0;
}

void client_format_sockaddr(const struct sockaddr *sa, socklen_t len, char *buf, size_t cap)
{
	struct netaddr a;

	if (netaddr_from_sockaddr(sa, len, &a) < 0 || netaddr_format(&a, buf, cap) < 0)
		snprintf(buf, cap, "?");
}

bool client_try_next_address(int err)
{
	switch (err) {
	case ETIMEDOUT:
	case ECONNREFUSED:
	case ECONNRESET:
	case ENETUNREACH:
	case EHOSTUNREACH:
	case EADDRNOTAVAIL:
	case EAFNOSUPPORT:
	case ENETDOWN:
	case EHOSTDOWN:
		return true;
	default:
		return false;
	}
}

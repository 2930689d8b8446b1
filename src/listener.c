/* listener.c - bound sockets for the listeners (see listener.h). One place
 * for the socket options every listener needs, so UDP, HTTP and metrics
 * sockets cannot drift apart. Main thread; the caller owns the fd. */
#include "listener.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

static int set_flag(int fd, int level, int name)
{
	int one = 1;

	return setsockopt(fd, level, name, &one, sizeof(one));
}

int listener_open(struct netaddr *a, int type, bool reuseport, int backlog)
{
	struct sockaddr_storage ss;
	socklen_t len = netaddr_to_sockaddr(a, &ss);
	int fd = socket(a->family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	if ((reuseport && set_flag(fd, SOL_SOCKET, SO_REUSEPORT) != 0) ||
	    (type == SOCK_STREAM && set_flag(fd, SOL_SOCKET, SO_REUSEADDR) != 0) ||
	    /* Accepted sockets inherit it: no setsockopt per connection. */
	    (type == SOCK_STREAM && set_flag(fd, IPPROTO_TCP, TCP_NODELAY) != 0) ||
	    (a->family == AF_INET6 && set_flag(fd, IPPROTO_IPV6, IPV6_V6ONLY) != 0) ||
	    bind(fd, (struct sockaddr *)&ss, len) != 0 ||
	    (type == SOCK_STREAM && listen(fd, backlog) != 0))
		goto fail_close;
	if (a->port == 0) {
		struct netaddr bound;
		len = sizeof(ss);
		if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0)
			goto fail_close;
		if (netaddr_from_sockaddr((struct sockaddr *)&ss, len, &bound) == 0)
			a->port = bound.port;
	}
	return fd;

fail_close:;
	int err = -errno;
	close(fd);
	return err;
}

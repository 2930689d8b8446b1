/* listener.h - opening the tracker's bound sockets: UDP listeners, HTTP and
 * metrics TCP listeners. Main thread, at start-up. */
#ifndef RINGTRACKER_LISTENER_H
#define RINGTRACKER_LISTENER_H

#include <stdbool.h>

#include "netaddr.h"

/* Opens a non-blocking, close-on-exec socket of type (SOCK_DGRAM or
 * SOCK_STREAM) bound to *a: IPv6 sockets are IPv6-only, TCP sockets get
 * SO_REUSEADDR and listen with backlog, and with reuseport the socket joins
 * an SO_REUSEPORT group. A port of 0 is replaced in *a by the port the kernel
 * chose. Returns the fd or -errno. */
int listener_open(struct netaddr *a, int type, bool reuseport, int backlog);

#endif

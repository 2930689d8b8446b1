/* sdnotify.h - readiness and status for systemd (Type=notify), without
 * libsystemd: one datagram to $NOTIFY_SOCKET, as sd_notify(3) documents.
 * Main thread; a no-op when not started by systemd. */
#ifndef RINGTRACKER_SDNOTIFY_H
#define RINGTRACKER_SDNOTIFY_H

/* Sends state (e.g. "READY=1", "STOPPING=1", "RELOADING=1") to the service
 * manager. Returns 1 when sent, 0 when there is no $NOTIFY_SOCKET, -errno
 * when sending failed. */
int sdnotify(const char *state);

#endif

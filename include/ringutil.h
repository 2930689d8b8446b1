/* ringutil.h - io_uring chores shared by the server's workers and the
 * benchmark's ceiling responder.
 */
#ifndef RINGTRACKER_RINGUTIL_H
#define RINGTRACKER_RINGUTIL_H

#include <liburing.h>
#include <stdbool.h>

/* Before io_uring_queue_exit: cancels every request in flight (waiting up to
 * a second), runs the deferred completion work that frees them (for up to 2
 * seconds more; -ETIME when that was not enough), and, when
 * files is set, unregisters the fixed files. Without this the kernel
 * finishes the ring's teardown in the background after the process has
 * exited and keeps its sockets bound for tens of milliseconds, so a server
 * started straight after finds the port taken. Returns 0 or the cancel's
 * -errno (-ENOENT, nothing in flight, counts as 0). Call on the ring's
 * own thread (SINGLE_ISSUER). */
int ringutil_quiesce(struct io_uring *ring, bool files);

#endif

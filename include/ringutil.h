/* ringutil.h - io_uring chores shared by the server's workers, the
 * benchmark's ceiling responder and the load generator.
 */
#ifndef RINGTRACKER_RINGUTIL_H
#define RINGTRACKER_RINGUTIL_H

#include <liburing.h>
#include <stdbool.h>
#include <stdint.h>

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

/* An SQE of ring; when the queue is full within one turn, submits what is
 * queued and tries once more. NULL when there is still none. */
struct io_uring_sqe *ringutil_get_sqe(struct io_uring *ring);

/* Closes fd through the ring (no system call of its own) with user_data
 * for a failure's completion; a success posts none. Closes at once when the
 * ring has no SQE. */
void ringutil_close(struct io_uring *ring, int fd, uint64_t user_data);

#endif

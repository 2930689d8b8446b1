/* harness.h - shared by the integration suites: start build/ringtracker
 * (RINGTRACKER_BIN) on loopback with ephemeral ports, read its log, stop it,
 * and run it as a command line. Each test starts its own server; a failed
 * assertion ends the test process and the server with it (PDEATHSIG). */
#ifndef RINGTRACKER_TEST_HARNESS_H
#define RINGTRACKER_TEST_HARNESS_H

#include <stddef.h>
#include <sys/types.h>

#include "ids.h"
#include "netaddr.h"

#define MAX_LOG 65536

struct tracker {
	pid_t pid;
	int log_fd; /* read end of the server's stderr */
	char log[MAX_LOG];
	size_t log_len;
	struct netaddr udp4, udp6;   /* bound UDP listeners, from the log */
	struct netaddr http4, http6; /* bound HTTP listeners, from the log */
};

/* Path of the server under test. */
const char *server_bin(void);

/* Monotonic seconds. */
double now_s(void);

/* Starts the server on 127.0.0.1:0 and [::1]:0 for UDP and HTTP, plus extra
 * (NULL-ended) arguments, and waits up to 10 s for "ready". */
void tracker_start(struct tracker *t, const char *const *extra);

/* SIGTERM; asserts a clean exit (status 0, "stopped") within a second and
 * keeps the final log in t->log. */
void tracker_stop(struct tracker *t);

/* Sum over the workers' exit lines of counter `name`. */
unsigned long long log_counter(const struct tracker *t, const char *name);

/* Runs the server with args (NULL-ended) to completion; its stdout and
 * stderr go to out (capacity cap). Returns the exit status. */
int run_cli(const char *const *args, char *out, size_t cap);

/* A distinct, recognisable info hash for each i. */
struct info_hash hash_of(unsigned i);

#endif

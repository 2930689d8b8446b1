/* harness.h - shared by the integration suites: start build/ringtracker
 * (RINGTRACKER_BIN) on loopback with ephemeral ports, read its log, stop it,
 * and run it as a command line. Each test starts its own server; a failed
 * assertion ends the test process and the server with it (PDEATHSIG). */
#ifndef RINGTRACKER_TEST_HARNESS_H
#define RINGTRACKER_TEST_HARNESS_H

#include <stdbool.h>
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
	struct netaddr metrics;	     /* bound metrics listener; port 0 when off */
};

/* Path of the server under test. */
const char *server_bin(void);

/* Path of a tool built beside the server (only in the release variant, as
 * build/<name>): next to RINGTRACKER_BIN, one directory up from it (the
 * release server is build/release/ringtracker), or build/<name> from the
 * current directory. NULL when there is none. */
const char *tool_bin(const char *name);

/* tool_bin, or skips the calling test, saying how to build the tool. */
const char *tool_or_skip(const char *name);

/* Monotonic seconds. */
double now_s(void);

/* Starts the server on 127.0.0.1:0 and [::1]:0 for UDP and HTTP, the
 * metrics endpoint on 127.0.0.1:0 (never the default port: suites run in
 * parallel), plus extra (NULL-ended) arguments, which may override these
 * ("--metrics=" turns the endpoint off), and waits up to 10 s for "ready". */
void tracker_start(struct tracker *t, const char *const *extra);

/* Finds "<proto>: listening on <addr>" of the given family in t's log; *out
 * is left alone when there is none. */
void tracker_find_listener(const struct tracker *t, const char *proto, int family,
			   struct netaddr *out);

/* SIGTERM; asserts a clean exit (status 0, "stopped") within a second and
 * keeps the final log in t->log. */
void tracker_stop(struct tracker *t);

/* Sum over the workers' exit lines of counter `name`. */
unsigned long long log_counter(const struct tracker *t, const char *name);

/* Runs the server with args (NULL-ended) to completion; its stdout and
 * stderr go to out (capacity cap). Returns the exit status. */
int run_cli(const char *const *args, char *out, size_t cap);

/* The same for program bin (a path) instead of the server; at most 30
 * arguments (more fail the test). */
int run_bin(const char *bin, const char *const *args, char *out, size_t cap);

/* GET path from a over HTTP/1.1 (Connection: close), reading until the
 * server closes, within 5 s. The whole reply (head and body, NUL-ended)
 * goes to out (capacity cap), *body points at the body in it. Returns the
 * status code, or -errno. */
int tracker_http_get(const struct netaddr *a, const char *path, char *out, size_t cap,
		     const char **body);

/* The value of one sample in a Prometheus text page: series is the name
 * with its labels exactly as the page writes them, e.g.
 * `ringtracker_requests_total{protocol="udp",action="connect",family="ipv4"}`.
 * Returns true and sets *v when the sample is there. */
bool tracker_metric(const char *page, const char *series, double *v);

/* A distinct, recognisable info hash for each i. */
struct info_hash hash_of(unsigned i);

#endif

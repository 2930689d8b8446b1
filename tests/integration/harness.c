/* harness.c - see harness.h. Every wait is bounded in time. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

const char *server_bin(void)
{
	const char *bin = getenv("RINGTRACKER_BIN");

	return bin ? bin : "build/ringtracker";
}

const char *tool_bin(const char *name)
{
	static char path[PATH_MAX];
	const char *bin = getenv("RINGTRACKER_BIN");

	if (bin) {
		char copy[PATH_MAX];
		snprintf(copy, sizeof(copy), "%s", bin);
		const char *dir = dirname(copy);
		snprintf(path, sizeof(path), "%s/%s", dir, name);
		if (access(path, X_OK) == 0)
			return path;
		snprintf(path, sizeof(path), "%s/../%s", dir, name);
		if (access(path, X_OK) == 0)
			return path;
	}
	snprintf(path, sizeof(path), "build/%s", name);
	return access(path, X_OK) == 0 ? path : NULL;
}

const char *tool_or_skip(const char *name)
{
	const char *bin = tool_bin(name);

	if (!bin)
		cr_skip_test("%s not found next to RINGTRACKER_BIN or as build/%s: build it "
			     "with `make` (release)",
			     name, name);
	return bin;
}

double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Reads what the server logged so far, waiting at most timeout_ms. */
static void tracker_read_log(struct tracker *t, int timeout_ms)
{
	struct pollfd p = { .fd = t->log_fd, .events = POLLIN };

	if (poll(&p, 1, timeout_ms) <= 0)
		return;
	ssize_t n = read(t->log_fd, t->log + t->log_len, MAX_LOG - 1 - t->log_len);
	if (n > 0)
		t->log_len += (size_t)n;
	t->log[t->log_len] = '\0';
}

void tracker_find_listener(const struct tracker *t, const char *proto, int family,
			   struct netaddr *out)
{
	const char *p = t->log;
	char key[32];

	snprintf(key, sizeof(key), "%s: listening on ", proto);
	while ((p = strstr(p, key))) {
		char text[NETADDR_TEXT_MAX];
		p += strlen(key);
		size_t n = strcspn(p, " \n");
		if (n >= sizeof(text))
			continue;
		memcpy(text, p, n);
		text[n] = '\0';
		struct netaddr a;
		if (netaddr_parse(text, &a) == 0 && a.family == family) {
			*out = a;
			return;
		}
	}
}

/* Starts the server with extra args (NULL-ended) and waits for "ready". */
void tracker_start(struct tracker *t, const char *const *extra)
{
	const char *argv[40] = { server_bin(), "--udp",	    "127.0.0.1:0", "--udp",
				 "[::1]:0",    "--http",    "127.0.0.1:0", "--http",
				 "[::1]:0",    "--metrics", "127.0.0.1:0" };
	int n = 11, fds[2];

	memset(t, 0, sizeof(*t));
	for (; extra && *extra && n < 39; extra++)
		argv[n++] = *extra;
	argv[n] = NULL;
	cr_assert_eq(pipe2(fds, O_CLOEXEC), 0);
	t->pid = fork();
	cr_assert_geq(t->pid, 0);
	if (t->pid == 0) {
		/* A failed assertion ends the test process: take the server along. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		dup2(fds[1], STDERR_FILENO);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	close(fds[1]);
	t->log_fd = fds[0];
	double deadline = now_s() + 10;
	while (!strstr(t->log, " ready") && now_s() < deadline) {
		size_t before = t->log_len;
		tracker_read_log(t, 100);
		int status;
		if (t->log_len == before && waitpid(t->pid, &status, WNOHANG) == t->pid)
			cr_assert_fail("server exited at start-up:\n%s", t->log);
	}
	cr_assert(strstr(t->log, " ready"), "server not ready in 10 s:\n%s", t->log);
	tracker_find_listener(t, "udp", AF_INET, &t->udp4);
	tracker_find_listener(t, "udp", AF_INET6, &t->udp6);
	tracker_find_listener(t, "http", AF_INET, &t->http4);
	tracker_find_listener(t, "http", AF_INET6, &t->http6);
	tracker_find_listener(t, "metrics", AF_INET, &t->metrics);
	cr_assert_neq(t->udp4.port, 0, "no IPv4 UDP listener in log:\n%s", t->log);
	cr_assert_neq(t->udp6.port, 0, "no IPv6 UDP listener in log:\n%s", t->log);
	cr_assert_neq(t->http4.port, 0, "no IPv4 HTTP listener in log:\n%s", t->log);
	cr_assert_neq(t->http6.port, 0, "no IPv6 HTTP listener in log:\n%s", t->log);
}

/* SIGTERM, then expects a clean exit within a second. */
void tracker_stop(struct tracker *t)
{
	int status = -1;
	pid_t r = 0;

	kill(t->pid, SIGTERM);
	double deadline = now_s() + 1.0;
	while (now_s() < deadline && (r = waitpid(t->pid, &status, WNOHANG)) == 0)
		usleep(5000);
	if (r != t->pid) {
		kill(t->pid, SIGKILL);
		waitpid(t->pid, &status, 0);
		cr_assert_fail("server did not stop within 1 s of SIGTERM");
	}
	for (int i = 0; i < 20 && t->log_len < MAX_LOG - 1; i++) {
		size_t before = t->log_len;
		tracker_read_log(t, 10);
		if (t->log_len == before)
			break;
	}
	close(t->log_fd);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "bad exit status %d:\n%s",
		  status, t->log);
	cr_assert(strstr(t->log, "stopped"), "no clean stop in log:\n%s", t->log);
}

/* Sum of one counter over the workers' exit lines ("name=N"). */
unsigned long long log_counter(const struct tracker *t, const char *name)
{
	char key[64];
	unsigned long long sum = 0;
	const char *p = t->log;

	snprintf(key, sizeof(key), " %s=", name);
	while ((p = strstr(p, key))) {
		p += strlen(key);
		sum += strtoull(p, NULL, 10);
	}
	return sum;
}

/* --- command line --- */

int run_bin(const char *bin, const char *const *args, char *err, size_t cap)
{
	const char *argv[32] = { bin };
	int n = 1, fds[2];

	for (; *args; args++) {
		cr_assert_lt(n, 31, "run_bin: more than 30 arguments");
		argv[n++] = *args;
	}
	argv[n] = NULL;
	cr_assert_eq(pipe2(fds, O_CLOEXEC), 0);
	pid_t pid = fork();
	if (pid == 0) {
		dup2(fds[1], STDERR_FILENO);
		dup2(fds[1], STDOUT_FILENO);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	close(fds[1]);
	size_t len = 0;
	ssize_t r;
	while (len < cap - 1 && (r = read(fds[0], err + len, cap - 1 - len)) > 0)
		len += (size_t)r;
	err[len] = '\0';
	close(fds[0]);
	int status;
	waitpid(pid, &status, 0);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

int run_cli(const char *const *args, char *err, size_t cap)
{
	return run_bin(server_bin(), args, err, cap);
}

/* --- HTTP and the metrics page --- */

int tracker_http_get(const struct netaddr *a, const char *path, char *out, size_t cap,
		     const char **body)
{
	struct sockaddr_storage ss;
	socklen_t sl = netaddr_to_sockaddr(a, &ss);
	char req[512];
	int len = snprintf(req, sizeof(req),
			   "GET %s HTTP/1.1\r\nHost: test\r\n"
			   "Connection: close\r\n\r\n",
			   path);
	double deadline = now_s() + 5;
	size_t got = 0;
	int fd = socket(a->family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct timeval tv = {.tv_sec = 5};

	*body = out;
	out[0] = '\0';
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&ss, sl) != 0 ||
	    send(fd, req, (size_t)len, MSG_NOSIGNAL) != len) {
		int err = -errno;
		close(fd);
		return err;
	}
	while (got < cap - 1 && now_s() < deadline) {
		ssize_t n = recv(fd, out + got, cap - 1 - got, 0);
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	out[got] = '\0';
	int status = 0;
	if (sscanf(out, "HTTP/1.%*d %d", &status) != 1)
		return -EPROTO;
	char *end = strstr(out, "\r\n\r\n");
	*body = end ? end + 4 : out + got;
	return status;
}

bool tracker_metric(const char *page, const char *series, double *v)
{
	size_t n = strlen(series);

	for (const char *p = page; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		if (strncmp(p, series, n) == 0 && p[n] == ' ') {
			*v = strtod(p + n + 1, NULL);
			return true;
		}
	}
	return false;
}

struct info_hash hash_of(unsigned i)
{
	struct info_hash h;

	memset(h.b, 0xab, sizeof(h.b));
	memcpy(h.b, &i, sizeof(i));
	return h;
}


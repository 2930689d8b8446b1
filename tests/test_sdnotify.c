/* test_sdnotify.c - the datagram reaches a socket named by $NOTIFY_SOCKET,
 * path or abstract; nothing happens without it. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "sdnotify.h"

static int bind_unix(const char *name, bool abstract)
{
	struct sockaddr_un sa;
	int fd = socket(AF_UNIX, SOCK_DGRAM, 0);
	size_t len = strlen(name);

	cr_assert_geq(fd, 0);
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path + (abstract ? 1 : 0), name, len);
	cr_assert_eq(bind(fd, (struct sockaddr *)&sa,
			  (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len + (abstract ? 1 : 0))),
		     0);
	return fd;
}

static void expect_received(int fd, const char *want)
{
	char buf[64];
	ssize_t n = recv(fd, buf, sizeof(buf) - 1, MSG_DONTWAIT);

	cr_assert_gt(n, 0, "nothing received");
	buf[n] = '\0';
	cr_assert_str_eq(buf, want);
}

Test(sdnotify, path_and_abstract_sockets)
{
	char path[64], env[80], name[64];

	unsetenv("NOTIFY_SOCKET");
	cr_assert_eq(sdnotify("READY=1"), 0, "no socket: nothing to do");

	snprintf(path, sizeof(path), "/tmp/rt-notify-%d", getpid());
	unlink(path);
	int fd = bind_unix(path, false);
	setenv("NOTIFY_SOCKET", path, 1);
	cr_assert_eq(sdnotify("READY=1"), 1);
	expect_received(fd, "READY=1");
	close(fd);
	unlink(path);

	snprintf(name, sizeof(name), "rt-notify-abstract-%d", getpid());
	fd = bind_unix(name, true);
	snprintf(env, sizeof(env), "@%s", name);
	setenv("NOTIFY_SOCKET", env, 1);
	cr_assert_eq(sdnotify("STOPPING=1"), 1);
	expect_received(fd, "STOPPING=1");
	close(fd);

	setenv("NOTIFY_SOCKET", "relative/path", 1);
	cr_assert_eq(sdnotify("READY=1"), -EINVAL);
	unsetenv("NOTIFY_SOCKET");
}

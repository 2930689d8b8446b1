/* test_log.c - log lines: format, and the level filter ([server] log_level). */
#include <criterion/criterion.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

/* Runs the three log calls with stderr captured; returns what was written. */
static void capture(enum log_level level, char *out, size_t cap)
{
	int fds[2], saved = dup(STDERR_FILENO);

	cr_assert_eq(pipe(fds), 0);
	dup2(fds[1], STDERR_FILENO);
	log_set_level(level);
	log_error("e-%d", 1);
	log_warn("w-%d", 2);
	log_info("i-%d", 3);
	log_set_level(LOG_INFO);
	dup2(saved, STDERR_FILENO);
	close(saved);
	close(fds[1]);
	ssize_t n = read(fds[0], out, cap - 1);
	close(fds[0]);
	out[n > 0 ? n : 0] = '\0';
}

Test(log, level_filters_less_severe_lines)
{
	char out[1024];

	capture(LOG_INFO, out, sizeof(out));
	cr_assert(strstr(out, "error: e-1\n") && strstr(out, "warn: w-2\n") &&
		      strstr(out, "info: i-3\n"),
		  "%s", out);
	cr_assert_eq(out[4], '-', "lines start with a UTC timestamp: %s", out);
	capture(LOG_WARN, out, sizeof(out));
	cr_assert(strstr(out, "w-2") && !strstr(out, "i-3"), "%s", out);
	capture(LOG_ERROR, out, sizeof(out));
	cr_assert(strstr(out, "e-1") && !strstr(out, "w-2") && !strstr(out, "i-3"), "%s", out);
}

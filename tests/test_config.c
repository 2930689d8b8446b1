/* test_config.c - unit tests for config.c: defaults, flags, the INI file,
 * validation, and the --print-config round trip (printed text loads back to
 * a byte-identical struct config). Temp files live under /tmp (mkstemp) and
 * are removed by the test that made them.
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"

#define TMP_TEMPLATE "/tmp/ringtracker-config-XXXXXX"

/* ---- helpers ----------------------------------------------------------- */

/* Writes text to a new temp file; its name goes to path (>= 32 bytes). */
static void write_tmp(const char *text, char *path)
{
	strcpy(path, TMP_TEMPLATE);
	int fd = mkstemp(path);
	cr_assert_geq(fd, 0, "mkstemp: %s", strerror(errno));
	size_t len = strlen(text);
	cr_assert_eq(write(fd, text, len), (ssize_t)len);
	close(fd);
}

/* Loads text as an INI file over *c; the file's name is left in path. */
static int load_text(struct config *c, const char *text, char *path, char *err)
{
	write_tmp(text, path);
	int rc = config_load_file(c, path, err, CONFIG_ERROR_MAX);
	unlink(path);
	return rc;
}

static int parse_v(struct config *c, struct config_args *a, char *err, const char *const *argv)
{
	int argc = 0;

	while (argv[argc])
		argc++;
	return config_parse_args(c, a, argc, (char **)argv, err, CONFIG_ERROR_MAX);
}

#define PARSE(c, a, err, ...)                                                                      \
	parse_v(c, a, err, (const char *const[]){"ringtracker", __VA_ARGS__, NULL})

static struct netaddr addr(const char *text)
{
	struct netaddr a;

	memset(&a, 0, sizeof(a));
	cr_assert_eq(netaddr_parse(text, &a), 0, "netaddr_parse(%s)", text);
	return a;
}

static bool addr_is(const struct netaddr *a, const char *text)
{
	struct netaddr b = addr(text);

	return memcmp(a, &b, sizeof(b)) == 0;
}

/* Expects rc == -EINVAL and every needle in err. */
static void expect_einval(int rc, const char *err, const char *needle1, const char *needle2)
{
	cr_assert_eq(rc, -EINVAL, "rc %d, err '%s'", rc, err);
	cr_assert(strstr(err, needle1), "'%s' not in '%s'", needle1, err);
	if (needle2)
		cr_assert(strstr(err, needle2), "'%s' not in '%s'", needle2, err);
	cr_assert(!strchr(err, '\n'), "error is not one line: '%s'", err);
}

/* Expects argv (after the program name) to fail naming flag. */
#define EXPECT_FLAG_ERROR(flag, what, ...)                                                         \
	do {                                                                                       \
		struct config c_;                                                                  \
		struct config_args a_;                                                             \
		char e_[CONFIG_ERROR_MAX];                                                         \
		int rc_ = PARSE(&c_, &a_, e_, __VA_ARGS__);                                        \
		expect_einval(rc_, e_, flag, what);                                                \
	} while (0)

/* Prints a, loads the text over the defaults, and expects identical bytes. */
static void expect_round_trip(const struct config *a)
{
	char path[32], err[CONFIG_ERROR_MAX] = "";
	struct config b;

	strcpy(path, TMP_TEMPLATE);
	int fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	FILE *f = fdopen(fd, "w");
	cr_assert_not_null(f);
	cr_assert_eq(config_print(a, f), 0);
	fclose(f);
	config_defaults(&b);
	int rc = config_load_file(&b, path, err, sizeof(err));
	unlink(path);
	cr_assert_eq(rc, 0, "reload failed: %s", err);
	cr_assert_eq(memcmp(a, &b, sizeof(b)), 0, "printed config does not load back the same");
	cr_assert_eq(config_validate(&b, err, sizeof(err)), 0, "%s", err);
}

/* config_print output as a string (caller frees). */
static char *print_to_string(const struct config *c)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	cr_assert_not_null(f);
	cr_assert_eq(config_print(c, f), 0);
	fclose(f);
	return buf;
}

/* ---- defaults ---------------------------------------------------------- */

Test(config, defaults)
{
	struct config c;
	char err[CONFIG_ERROR_MAX];

	config_defaults(&c);
	cr_assert_eq(c.n_udp, 2);
	cr_assert(addr_is(&c.udp[0], "0.0.0.0:6969"));
	cr_assert(addr_is(&c.udp[1], "[::]:6969"));
	cr_assert_eq(c.n_http, 2);
	cr_assert(addr_is(&c.http[0], "0.0.0.0:6969"));
	cr_assert(addr_is(&c.http[1], "[::]:6969"));
	cr_assert(c.has_metrics, "the metrics endpoint is on by default");
	cr_assert(addr_is(&c.metrics, "127.0.0.1:9469"), "on loopback only");
	cr_assert_eq(c.workers, 0);
	cr_assert(!c.has_cpus);
	cr_assert_eq(c.announce_interval, 1800);
	cr_assert_eq(c.peer_timeout, 2700);
	cr_assert_eq(c.numwant_default, 50);
	cr_assert_eq(c.numwant_max, 200);
	cr_assert_eq(c.connid_lifetime, 120);
	cr_assert_eq(c.connid_grace, 60);
	cr_assert_eq(c.max_torrents, 10000000);
	cr_assert_eq(c.max_peers_per_torrent, 1000000);
	cr_assert_eq(c.memory_budget, 8ull << 30);
	cr_assert_eq(c.recv_buffers, 1024);
	cr_assert_eq(c.send_slots, 4096);
	cr_assert_eq(c.handoff_ring, 4u << 20);
	cr_assert_eq(c.ring_entries, 4096);
	cr_assert_eq(config_validate(&c, err, sizeof(err)), 0, "%s", err);
	cr_assert(config_cpu_allowed(&c, 0));
	cr_assert(config_cpu_allowed(&c, 5000));
}

Test(config, no_arguments_give_defaults)
{
	struct config c, d;
	struct config_args a;
	char err[CONFIG_ERROR_MAX];

	cr_assert_eq(PARSE(&c, &a, err, NULL), 0, "%s", err);
	config_defaults(&d);
	cr_assert_eq(memcmp(&c, &d, sizeof(c)), 0);
	cr_assert_null(a.config_file);
	cr_assert(!a.print_config && !a.help && !a.version);
}

/* ---- flags ------------------------------------------------------------- */

Test(config, every_value_flag_both_forms)
{
	struct config c;
	struct config_args a;
	char err[CONFIG_ERROR_MAX];

	int rc = PARSE(&c, &a, err, "--udp", "127.0.0.1:7000", "--udp=[::1]:7001", "--http",
		       "10.0.0.1:8080", "--metrics=127.0.0.1:9100", "--workers", "4",
		       "--cpus=0-3,6", "--print-config");
	cr_assert_eq(rc, 0, "%s", err);
	cr_assert_eq(c.n_udp, 2);
	cr_assert(addr_is(&c.udp[0], "127.0.0.1:7000"));
	cr_assert(addr_is(&c.udp[1], "[::1]:7001"));
	cr_assert_eq(c.n_http, 1);
	cr_assert(addr_is(&c.http[0], "10.0.0.1:8080"));
	cr_assert(c.has_metrics);
	cr_assert(addr_is(&c.metrics, "127.0.0.1:9100"));
	cr_assert_eq(c.workers, 4);
	cr_assert(c.has_cpus);
	for (unsigned i = 0; i < 8; i++)
		cr_assert_eq(config_cpu_allowed(&c, i), i <= 3 || i == 6, "cpu %u", i);
	cr_assert(a.print_config);
	cr_assert(!a.help && !a.version);
}

Test(config, help_and_version_flags)
{
	struct config c;
	struct config_args a;
	char err[CONFIG_ERROR_MAX];

	cr_assert_eq(PARSE(&c, &a, err, "-h"), 0);
	cr_assert(a.help && !a.version);
	cr_assert_eq(PARSE(&c, &a, err, "--help"), 0);
	cr_assert(a.help);
	cr_assert_eq(PARSE(&c, &a, err, "--version"), 0);
	cr_assert(a.version && !a.help);
	/* Help works even when the config file is missing or a value is bad. */
	cr_assert_eq(PARSE(&c, &a, err, "-c", "/nonexistent/ringtracker.ini", "--help"), 0);
	cr_assert(a.help);
	cr_assert_eq(PARSE(&c, &a, err, "--workers", "abc", "--version"), 0);
	cr_assert(a.version);
	/* ... but not with an unknown flag. */
	EXPECT_FLAG_ERROR("--bogus", "unknown", "--help", "--bogus");
}

Test(config, config_flag_forms)
{
	struct config c;
	struct config_args a;
	char err[CONFIG_ERROR_MAX], path[32], opt[64];

	write_tmp("[server]\nworkers = 3\n", path);
	cr_assert_eq(PARSE(&c, &a, err, "-c", path), 0, "%s", err);
	cr_assert_str_eq(a.config_file, path);
	cr_assert_eq(c.workers, 3);
	snprintf(opt, sizeof(opt), "-c%s", path);
	cr_assert_eq(PARSE(&c, &a, err, opt), 0, "%s", err);
	cr_assert_eq(c.workers, 3);
	snprintf(opt, sizeof(opt), "--config=%s", path);
	cr_assert_eq(PARSE(&c, &a, err, opt), 0, "%s", err);
	cr_assert_eq(c.workers, 3);
	cr_assert_eq(PARSE(&c, &a, err, "--config", path), 0, "%s", err);
	cr_assert_eq(c.workers, 3);
	EXPECT_FLAG_ERROR("-c", "only one", "-c", path, "-c", path);
	unlink(path);
}

Test(config, repeated_and_comma_separated_listeners)
{
	struct config c;
	struct config_args a;
	char err[CONFIG_ERROR_MAX];

	int rc = PARSE(&c, &a, err, "--udp", "1.2.3.4:1, [2001:db8::1]:2", "--udp", "5.6.7.8:3",
		       "--http=");
	cr_assert_eq(rc, 0, "%s", err);
	cr_assert_eq(c.n_udp, 3);
	cr_assert(addr_is(&c.udp[0], "1.2.3.4:1"));
	cr_assert(addr_is(&c.udp[1], "[2001:db8::1]:2"));
	cr_assert(addr_is(&c.udp[2], "5.6.7.8:3"));
	cr_assert_eq(c.n_http, 0, "--http= means no HTTP listener");
}

Test(config, port_zero_means_ephemeral)
{
	struct config c;
	struct config_args a;
	char err[CONFIG_ERROR_MAX];

	cr_assert_eq(PARSE(&c, &a, err, "--udp", "127.0.0.1:0", "--udp", "[::1]:0"), 0, "%s", err);
	cr_assert_eq(c.n_udp, 2);
	cr_assert_eq(c.udp[0].port, 0);
	cr_assert_eq(c.udp[1].port, 0);
}

Test(config, bracketed_ipv6)
{
	struct config c;
	struct config_args a;
	char err[CONFIG_ERROR_MAX];

	cr_assert_eq(PARSE(&c, &a, err, "--udp", "[::1]:6969", "--http", "[fe80::1:2]:80",
			   "--metrics", "[::]:9100"),
		     0, "%s", err);
	cr_assert_eq(c.udp[0].family, AF_INET6);
	cr_assert_eq(c.udp[0].ip[15], 1);
	cr_assert_eq(c.udp[0].port, 6969);
	cr_assert_eq(c.http[0].family, AF_INET6);
	cr_assert_eq(c.metrics.family, AF_INET6);
	EXPECT_FLAG_ERROR("--udp", "not an address", "--udp", "::1:6969");
	EXPECT_FLAG_ERROR("--udp", "not an address", "--udp", "[::1]6969");
	EXPECT_FLAG_ERROR("--udp", "not an address", "--udp", "[1.2.3.4]:6969");
}

Test(config, flags_override_file)
{
	struct config c;
	struct config_args a;
	char err[CONFIG_ERROR_MAX], path[32];

	write_tmp("[server]\n"
		  "udp = 10.0.0.1:1, 10.0.0.2:2\n"
		  "http = 10.0.0.1:80\n"
		  "metrics = 10.0.0.1:9100\n"
		  "workers = 2\n"
		  "cpus = 0-1\n"
		  "[tracker]\n"
		  "announce_interval = 600\n",
		  path);

	cr_assert_eq(PARSE(&c, &a, err, "-c", path), 0, "%s", err);
	cr_assert_eq(c.n_udp, 2);
	cr_assert_eq(c.n_http, 1);
	cr_assert_eq(c.workers, 2);
	cr_assert_eq(c.announce_interval, 600);

	/* Flags after or before -c both win; the first --udp replaces the
	 * file's list, the second adds to it. */
	int rc = PARSE(&c, &a, err, "--udp", "10.0.0.9:9", "--workers=8", "-c", path, "--udp",
		       "[::1]:9", "--cpus", "4", "--metrics=", "--http", "10.0.0.7:7");
	cr_assert_eq(rc, 0, "%s", err);
	cr_assert_eq(c.n_udp, 2);
	cr_assert(addr_is(&c.udp[0], "10.0.0.9:9"));
	cr_assert(addr_is(&c.udp[1], "[::1]:9"));
	struct netaddr zero;
	memset(&zero, 0, sizeof(zero));
	cr_assert_eq(memcmp(&c.udp[2], &zero, sizeof(zero)), 0, "replaced slots are cleared");
	cr_assert_eq(c.n_http, 1);
	cr_assert(addr_is(&c.http[0], "10.0.0.7:7"));
	cr_assert(!c.has_metrics);
	cr_assert_eq(c.workers, 8);
	cr_assert(!config_cpu_allowed(&c, 0) && config_cpu_allowed(&c, 4));
	cr_assert_eq(c.announce_interval, 600, "keys without flags keep the file's value");
	unlink(path);
}

Test(config, missing_config_file)
{
	struct config c;
	struct config_args a;
	char err[CONFIG_ERROR_MAX];

	int rc = PARSE(&c, &a, err, "-c", "/nonexistent/ringtracker.ini");
	cr_assert_eq(rc, -ENOENT);
	cr_assert(strstr(err, "-c /nonexistent/ringtracker.ini"), "%s", err);
	cr_assert(strstr(err, "No such file or directory"), "%s", err);

	rc = config_load_file(&c, "/nonexistent/x.ini", err, sizeof(err));
	cr_assert_eq(rc, -ENOENT);
	cr_assert(strstr(err, "/nonexistent/x.ini"), "%s", err);

	rc = PARSE(&c, &a, err, "-c", "/tmp");
	cr_assert_eq(rc, -EISDIR, "a directory is not a config file: %d %s", rc, err);
	cr_assert(strstr(err, "-c /tmp"), "%s", err);
}

Test(config, bad_flags)
{
	EXPECT_FLAG_ERROR("--bogus", "unknown option", "--bogus");
	EXPECT_FLAG_ERROR("--bogus", "unknown option", "--bogus=1");
	EXPECT_FLAG_ERROR("-x", "unknown option", "-x");
	EXPECT_FLAG_ERROR("--", "unknown option", "--");
	EXPECT_FLAG_ERROR("--work", "unknown option", "--work", "2");
	EXPECT_FLAG_ERROR("'extra'", "unexpected argument", "extra");
	EXPECT_FLAG_ERROR("'extra'", "unexpected argument", "--workers", "2", "extra");
	EXPECT_FLAG_ERROR("--workers", "missing value", "--workers");
	EXPECT_FLAG_ERROR("--udp", "missing value", "--udp");
	EXPECT_FLAG_ERROR("-c", "missing value", "-c");
	EXPECT_FLAG_ERROR("--help", "takes no value", "--help=yes");
	EXPECT_FLAG_ERROR("--print-config", "takes no value", "--print-config=1");
	EXPECT_FLAG_ERROR("--version", "takes no value", "--version=2");
}

Test(config, bad_flag_values)
{
	EXPECT_FLAG_ERROR("--workers", "'abc' is not a number from 0 to 1024", "--workers", "abc");
	EXPECT_FLAG_ERROR("--workers", "'1025'", "--workers", "1025");
	EXPECT_FLAG_ERROR("--workers", "'-1'", "--workers=-1");
	EXPECT_FLAG_ERROR("--workers", "'+2'", "--workers=+2");
	EXPECT_FLAG_ERROR("--workers", "' 2'", "--workers= 2");
	EXPECT_FLAG_ERROR("--workers", "''", "--workers=");
	EXPECT_FLAG_ERROR("--workers", "99999999999999999999999", "--workers",
			  "99999999999999999999999");
	EXPECT_FLAG_ERROR("--udp", "not an address", "--udp", "1.2.3.4");
	EXPECT_FLAG_ERROR("--udp", "not an address", "--udp", "1.2.3.4:65536");
	EXPECT_FLAG_ERROR("--udp", "not an address", "--udp", "localhost:6969");
	EXPECT_FLAG_ERROR("--udp", "listed twice", "--udp", "1.2.3.4:1,1.2.3.4:1");
	EXPECT_FLAG_ERROR("--udp", "listed twice", "--udp", "1.2.3.4:1", "--udp", "1.2.3.4:1");
	EXPECT_FLAG_ERROR("--udp", "empty item", "--udp", "1.2.3.4:1,");
	EXPECT_FLAG_ERROR("udp", "at least one", "--udp=");
	EXPECT_FLAG_ERROR("--http", "not an address", "--http", "[::1]");
	EXPECT_FLAG_ERROR("--metrics", "not an address", "--metrics", "1.2.3.4:1,1.2.3.5:2");
	EXPECT_FLAG_ERROR("--cpus", "descending", "--cpus", "3-1");
	EXPECT_FLAG_ERROR("--cpus", "up to 1023", "--cpus", "1024");
}

Test(config, too_many_listeners)
{
	char list[CONFIG_MAX_LISTEN * 24 + 32] = "";

	for (int i = 0; i <= CONFIG_MAX_LISTEN; i++) {
		char one[24];
		snprintf(one, sizeof(one), "%s10.0.0.%d:1", i ? "," : "", i + 1);
		strcat(list, one);
	}
	EXPECT_FLAG_ERROR("--udp", "more than 16", "--udp", list);
}

/* ---- INI file ---------------------------------------------------------- */

Test(config, ini_every_key)
{
	struct config c;
	char err[CONFIG_ERROR_MAX] = "", path[32];

	config_defaults(&c);
	int rc = load_text(&c,
			   "; comment\n"
			   "# another comment\n"
			   "[server]\n"
			   "udp = 0.0.0.0:6969, [::]:6969\n"
			   "udp = 127.0.0.1:7000\n"
			   "http = [::1]:8080\n"
			   "metrics = 127.0.0.1:9100\n"
			   "workers = 16\n"
			   "cpus = 0-7\n"
			   "[tracker]\n"
			   "announce_interval = 900\n"
			   "peer_timeout = 1000\n"
			   "numwant_default = 30 ; inline comment\n"
			   "numwant_max = 100\n"
			   "connection_id_lifetime = 300\n"
			   "connection_id_grace = 30\n"
			   "[limits]\n"
			   "max_torrents = 123\n"
			   "max_peers_per_torrent = 456\n"
			   "memory_budget = 512M\n"
			   "[io]\n"
			   "recv_buffers = 2048\n"
			   "send_slots = 1000\n"
			   "handoff_ring = 64K\n"
			   "ring_entries = 256\n",
			   path, err);
	cr_assert_eq(rc, 0, "%s", err);
	cr_assert_eq(c.n_udp, 3);
	cr_assert(addr_is(&c.udp[2], "127.0.0.1:7000"));
	cr_assert_eq(c.n_http, 1);
	cr_assert(addr_is(&c.http[0], "[::1]:8080"));
	cr_assert(c.has_metrics);
	cr_assert_eq(c.workers, 16);
	cr_assert(config_cpu_allowed(&c, 7) && !config_cpu_allowed(&c, 8));
	cr_assert_eq(c.announce_interval, 900);
	cr_assert_eq(c.peer_timeout, 1000);
	cr_assert_eq(c.numwant_default, 30);
	cr_assert_eq(c.numwant_max, 100);
	cr_assert_eq(c.connid_lifetime, 300);
	cr_assert_eq(c.connid_grace, 30);
	cr_assert_eq(c.max_torrents, 123);
	cr_assert_eq(c.max_peers_per_torrent, 456);
	cr_assert_eq(c.memory_budget, 512ull << 20);
	cr_assert_eq(c.recv_buffers, 2048);
	cr_assert_eq(c.send_slots, 1000);
	cr_assert_eq(c.handoff_ring, 64u << 10);
	cr_assert_eq(c.ring_entries, 256);
	cr_assert_eq(config_validate(&c, err, sizeof(err)), 0, "%s", err);
}

Test(config, ini_lists_scalars_and_layout)
{
	struct config c;
	char err[CONFIG_ERROR_MAX] = "", path[32];

	config_defaults(&c);
	int rc = load_text(&c,
			   "[server]\n"
			   "  workers = 1\n" /* indented keys are keys, not continuations */
			   "\tworkers = 2\n" /* a repeated scalar: the last wins */
			   "http =\n"	     /* none */
			   "cpus = 0, 2\n"
			   "cpus = 4-5\n" /* lists add up */
			   "metrics = 127.0.0.1:1\n"
			   "metrics =\n"
			   "\n"
			   "[server]\n" /* a section may be reopened */
			   "udp = 1.1.1.1:1\n",
			   path, err);
	cr_assert_eq(rc, 0, "%s", err);
	cr_assert_eq(c.workers, 2);
	cr_assert_eq(c.n_http, 0);
	cr_assert_eq(c.n_udp, 1);
	cr_assert(c.has_cpus);
	for (unsigned i = 0; i < 8; i++)
		cr_assert_eq(config_cpu_allowed(&c, i), i == 0 || i == 2 || i == 4 || i == 5);
	cr_assert(!c.has_metrics);
}

Test(config, ini_errors_name_file_line_and_key)
{
	struct config c;
	char err[CONFIG_ERROR_MAX], path[32], where[128];

	config_defaults(&c);
	int rc = load_text(&c, "[server]\nworkers = 2\nwrkers = 3\n", path, err);
	snprintf(where, sizeof(where), "%s:3: [server] wrkers: unknown key", path);
	expect_einval(rc, err, where, NULL);

	rc = load_text(&c, "[tracker]\n\nworkers = 3\n", path, err);
	snprintf(where, sizeof(where), "%s:3: [tracker] workers:", path);
	expect_einval(rc, err, where, "belongs in [server]");

	rc = load_text(&c, "[srever]\nworkers = 3\n", path, err);
	snprintf(where, sizeof(where), "%s:2: [srever] workers: unknown section", path);
	expect_einval(rc, err, where, NULL);

	rc = load_text(&c, "workers = 3\n", path, err);
	snprintf(where, sizeof(where), "%s:1: [] workers:", path);
	expect_einval(rc, err, where, "outside a section");

	rc = load_text(&c, "[server]\n# c\nworkers = lots\n", path, err);
	snprintf(where, sizeof(where), "%s:3: [server] workers:", path);
	expect_einval(rc, err, where, "'lots' is not a number from 0 to 1024");

	rc = load_text(&c, "[io]\nrecv_buffers = 100\n", path, err);
	snprintf(where, sizeof(where), "%s:2: [io] recv_buffers:", path);
	expect_einval(rc, err, where, "power-of-two");

	rc = load_text(&c, "[server]\nudp = 1.2.3.4:5 # not a comment\n", path, err);
	snprintf(where, sizeof(where), "%s:2: [server] udp:", path);
	expect_einval(rc, err, where, "not an address");

	/* The first error is reported, not a later one. */
	rc = load_text(&c, "[server]\nworkers = x\nbogus = 1\n", path, err);
	snprintf(where, sizeof(where), "%s:2: [server] workers:", path);
	expect_einval(rc, err, where, NULL);
}

Test(config, ini_syntax_errors)
{
	struct config c;
	char err[CONFIG_ERROR_MAX], path[32], where[128];

	config_defaults(&c);
	int rc = load_text(&c, "[server]\nworkers 3\n", path, err);
	snprintf(where, sizeof(where), "%s:2:", path);
	expect_einval(rc, err, where, "expected [section] or key = value");

	rc = load_text(&c, "[server\nworkers = 3\n", path, err);
	snprintf(where, sizeof(where), "%s:1:", path);
	expect_einval(rc, err, where, NULL);

	/* A syntax error before a bad value is the one reported. */
	rc = load_text(&c, "[server]\nnonsense\nworkers = x\n", path, err);
	snprintf(where, sizeof(where), "%s:2:", path);
	expect_einval(rc, err, where, "expected");

	char text[512];
	memset(text, 0, sizeof(text));
	strcpy(text, "[server]\nudp = ");
	for (int i = 0; i < 12; i++)
		strcat(text, "255.255.255.255:65535, ");
	strcat(text, "1.1.1.1:1\n");
	rc = load_text(&c, text, path, err);
	snprintf(where, sizeof(where), "%s:2:", path);
	expect_einval(rc, err, where, "line longer than");
}

Test(config, ini_no_final_newline_and_crlf)
{
	struct config c;
	char err[CONFIG_ERROR_MAX] = "", path[32];

	config_defaults(&c);
	cr_assert_eq(load_text(&c, "[server]\r\nworkers = 5\r\ncpus = 1\r\n", path, err), 0, "%s",
		     err);
	cr_assert_eq(c.workers, 5);
	cr_assert_eq(load_text(&c, "[server]\nworkers = 6", path, err), 0, "%s", err);
	cr_assert_eq(c.workers, 6);
	cr_assert_eq(load_text(&c, "", path, err), 0, "%s", err);
}

/* ---- sizes ------------------------------------------------------------- */

static uint64_t load_budget(const char *value, int *rc, char *err)
{
	struct config c;
	char text[128], path[32];

	config_defaults(&c);
	snprintf(text, sizeof(text), "[limits]\nmemory_budget = %s\n", value);
	*rc = load_text(&c, text, path, err);
	return c.memory_budget;
}

Test(config, sizes_with_suffixes)
{
	char err[CONFIG_ERROR_MAX] = "";
	int rc;

	cr_assert_eq(load_budget("1048576", &rc, err), 1ull << 20);
	cr_assert_eq(rc, 0, "%s", err);
	cr_assert_eq(load_budget("1024K", &rc, err), 1ull << 20);
	cr_assert_eq(load_budget("3M", &rc, err), 3ull << 20);
	cr_assert_eq(load_budget("8G", &rc, err), 8ull << 30);
	cr_assert_eq(load_budget("2T", &rc, err), 2ull << 40);
	cr_assert_eq(load_budget("16g", &rc, err), 16ull << 30);
	cr_assert_eq(rc, 0, "%s", err);

	static const char *const bad[] = {"",
					  "G",
					  "8GB",
					  "8 G",
					  "-1",
					  "1.5G",
					  "0x100000",
					  "1000K",
					  "1025T",
					  "16777216T",
					  "99999999999999999999",
					  "8P"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		load_budget(bad[i], &rc, err);
		expect_einval(rc, err, "memory_budget", "is not a size from 1M to 1024T");
	}
}

Test(config, handoff_ring_is_a_power_of_two_size)
{
	struct config c;
	char err[CONFIG_ERROR_MAX] = "", path[32];

	config_defaults(&c);
	cr_assert_eq(load_text(&c, "[io]\nhandoff_ring = 1G\n", path, err), 0, "%s", err);
	cr_assert_eq(c.handoff_ring, 1u << 30);
	expect_einval(load_text(&c, "[io]\nhandoff_ring = 2G\n", path, err), err, "handoff_ring",
		      "power-of-two size from 64K to 1G");
	expect_einval(load_text(&c, "[io]\nhandoff_ring = 96K\n", path, err), err, "handoff_ring",
		      NULL);
	expect_einval(load_text(&c, "[io]\nhandoff_ring = 32K\n", path, err), err, "handoff_ring",
		      NULL);
}

/* ---- CPU lists --------------------------------------------------------- */

Test(config, cpu_lists_good)
{
	struct config c;
	struct config_args a;
	char err[CONFIG_ERROR_MAX];

	cr_assert_eq(PARSE(&c, &a, err, "--cpus", "0-3,5,7-8"), 0, "%s", err);
	for (unsigned i = 0; i < 16; i++)
		cr_assert_eq(config_cpu_allowed(&c, i), i <= 3 || i == 5 || i == 7 || i == 8,
			     "cpu %u", i);
	cr_assert(!config_cpu_allowed(&c, CONFIG_MAX_CPUS));
	cr_assert(!config_cpu_allowed(&c, 100000));

	cr_assert_eq(PARSE(&c, &a, err, "--cpus", "1023"), 0, "%s", err);
	cr_assert(config_cpu_allowed(&c, 1023) && !config_cpu_allowed(&c, 0));
	cr_assert_eq(PARSE(&c, &a, err, "--cpus", " 2 , 4-4 "), 0, "%s", err);
	cr_assert(config_cpu_allowed(&c, 2) && config_cpu_allowed(&c, 4));
	cr_assert_eq(PARSE(&c, &a, err, "--cpus", "0-1023"), 0, "%s", err);
	cr_assert(config_cpu_allowed(&c, 1023));
	cr_assert_eq(PARSE(&c, &a, err, "--cpus", "0", "--cpus", "9"), 0, "%s", err);
	cr_assert(config_cpu_allowed(&c, 0) && config_cpu_allowed(&c, 9));
	cr_assert_eq(PARSE(&c, &a, err, "--cpus="), 0, "%s", err);
	cr_assert(!c.has_cpus, "an empty list means every CPU");
}

Test(config, cpu_lists_bad)
{
	static const char *const bad[] = {"a",	    "1-",  "-1",  "1,,2", "1,",	   "0x1",
					  "1-2-3",  "3-1", "1,1", "2,1",  "0-3,2", "1024",
					  "0-1024", "+1",  "1 2", "0-3,3"};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		EXPECT_FLAG_ERROR("--cpus: '", NULL, "--cpus", bad[i]);

	struct config c;
	char err[CONFIG_ERROR_MAX], path[32];
	config_defaults(&c);
	expect_einval(load_text(&c, "[server]\ncpus = 4,2\n", path, err), err,
		      "[server] cpus:", "'2': list CPUs in ascending order");
}

/* ---- validation -------------------------------------------------------- */

static void expect_invalid(const struct config *c, const char *key, const char *what)
{
	char err[CONFIG_ERROR_MAX];

	expect_einval(config_validate(c, err, sizeof(err)), err, key, what);
}

Test(config, validation_rules)
{
	struct config c;

	config_defaults(&c);
	c.peer_timeout = 1799;
	expect_invalid(&c, "peer_timeout", "announce_interval");
	c.peer_timeout = 1800;
	char err[CONFIG_ERROR_MAX];
	cr_assert_eq(config_validate(&c, err, sizeof(err)), 0, "equal is allowed: %s", err);

	config_defaults(&c);
	c.numwant_default = 60;
	c.numwant_max = 50;
	expect_invalid(&c, "numwant_default", "numwant_max");

	config_defaults(&c);
	c.numwant_max = 201;
	expect_invalid(&c, "numwant_max", "from 1 to 200");

	config_defaults(&c);
	c.connid_lifetime = 30000;
	c.connid_grace = 2768;
	expect_invalid(&c, "connection_id", "32768");
	c.connid_grace = 2767;
	cr_assert_eq(config_validate(&c, err, sizeof(err)), 0, "%s", err);

	config_defaults(&c);
	c.n_udp = 0;
	expect_invalid(&c, "udp", "at least one");

	config_defaults(&c);
	c.n_http = 0;
	cr_assert_eq(config_validate(&c, err, sizeof(err)), 0, "no HTTP is fine: %s", err);

	config_defaults(&c);
	c.workers = 1025;
	expect_invalid(&c, "workers", "'1025' is not a number from 0 to 1024");

	config_defaults(&c);
	c.recv_buffers = 3000;
	expect_invalid(&c, "recv_buffers", "power-of-two");

	config_defaults(&c);
	c.memory_budget = 1000;
	expect_invalid(&c, "memory_budget", "1000");

	config_defaults(&c);
	c.announce_interval = 0;
	expect_invalid(&c, "announce_interval", NULL);

	config_defaults(&c);
	c.has_cpus = true;
	expect_invalid(&c, "cpus", "empty");

	config_defaults(&c);
	c.cpus[0] = 1;
	expect_invalid(&c, "cpus", "has_cpus");
}

Test(config, validation_of_listeners)
{
	struct config c;

	config_defaults(&c);
	c.udp[1] = c.udp[0];
	expect_invalid(&c, "udp", "listed twice");

	config_defaults(&c);
	c.n_udp = CONFIG_MAX_LISTEN + 1;
	expect_invalid(&c, "udp", "more than 16");

	config_defaults(&c);
	c.has_metrics = true;
	c.metrics = addr("127.0.0.1:6969"); /* http listens on 0.0.0.0:6969 */
	expect_invalid(&c, "metrics", "clashes");
	c.metrics = addr("127.0.0.1:9100");
	char err[CONFIG_ERROR_MAX];
	cr_assert_eq(config_validate(&c, err, sizeof(err)), 0, "%s", err);
	c.metrics.family = 0;
	expect_invalid(&c, "metrics", "family");

	/* Port 0 is ephemeral on both sides: each socket gets its own. */
	config_defaults(&c);
	c.n_http = 1;
	c.http[0] = addr("127.0.0.1:0");
	c.metrics = addr("127.0.0.1:0");
	cr_assert_eq(config_validate(&c, err, sizeof(err)), 0, "%s", err);
}

Test(config, metrics_default_off_and_back)
{
	struct config c, d;
	struct config_args a;
	char err[CONFIG_ERROR_MAX], path[32];

	cr_assert_eq(PARSE(&c, &a, err, "--metrics="), 0, "%s", err);
	cr_assert(!c.has_metrics, "--metrics= turns it off");
	char *text = print_to_string(&c);
	cr_assert(strstr(text, "\nmetrics =\n"), "%s", text);
	write_tmp(text, path);
	free(text);
	config_defaults(&d);
	cr_assert_eq(config_load_file(&d, path, err, sizeof(err)), 0, "%s", err);
	unlink(path);
	cr_assert(!d.has_metrics, "off survives print and load");
	cr_assert_eq(memcmp(&c, &d, sizeof(c)), 0);

	write_tmp("[server]\nmetrics =\n", path);
	cr_assert_eq(PARSE(&c, &a, err, "-c", path, "--metrics", "[::1]:0"), 0, "%s", err);
	unlink(path);
	cr_assert(c.has_metrics, "a flag turns it back on over the file");
	cr_assert(addr_is(&c.metrics, "[::1]:0"));
}

Test(config, parse_args_validates)
{
	struct config c;
	struct config_args a;
	char err[CONFIG_ERROR_MAX], path[32];

	write_tmp("[tracker]\npeer_timeout = 60\n", path);
	int rc = PARSE(&c, &a, err, "-c", path);
	unlink(path);
	expect_einval(rc, err, "peer_timeout", "announce_interval");
	EXPECT_FLAG_ERROR("metrics", "clashes", "--metrics", "[::1]:6969");
}

/* ---- printing ---------------------------------------------------------- */

Test(config, print_text)
{
	struct config c;
	struct config_args a;
	char err[CONFIG_ERROR_MAX];

	config_defaults(&c);
	char *text = print_to_string(&c);
	cr_assert(text[0] == '#', "starts with a comment header");
	static const char *const want[] = {"[server]\n",
					   "[tracker]\n",
					   "[limits]\n",
					   "[io]\n",
					   "\nudp = 0.0.0.0:6969, [::]:6969\n",
					   "\nhttp = 0.0.0.0:6969, [::]:6969\n",
					   "\nmetrics = 127.0.0.1:9469\n",
					   "\nworkers = 0\n",
					   "\ncpus =\n",
					   "\nannounce_interval = 1800\n",
					   "\npeer_timeout = 2700\n",
					   "\nnumwant_default = 50\n",
					   "\nnumwant_max = 200\n",
					   "\nconnection_id_lifetime = 120\n",
					   "\nconnection_id_grace = 60\n",
					   "\nmax_torrents = 10000000\n",
					   "\nmax_peers_per_torrent = 1000000\n",
					   "\nmemory_budget = 8G\n",
					   "\nrecv_buffers = 1024\n",
					   "\nsend_slots = 4096\n",
					   "\nhandoff_ring = 4M\n",
					   "\nring_entries = 4096\n"};
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		cr_assert(strstr(text, want[i]), "missing '%s' in:\n%s", want[i], text);
	free(text);

	cr_assert_eq(
	    PARSE(&c, &a, err, "--cpus", "0-3,5,7-8", "--http=", "--metrics", "[::1]:9100"), 0,
	    "%s", err);
	text = print_to_string(&c);
	cr_assert(strstr(text, "\ncpus = 0-3, 5, 7-8\n"), "%s", text);
	cr_assert(strstr(text, "\nhttp =\n"), "%s", text);
	cr_assert(strstr(text, "\nmetrics = [::1]:9100\n"), "%s", text);
	free(text);
}

Test(config, print_round_trip_defaults)
{
	struct config c;

	config_defaults(&c);
	expect_round_trip(&c);
}

Test(config, print_round_trip_non_default)
{
	struct config c;
	struct config_args a;
	char err[CONFIG_ERROR_MAX], path[32];

	write_tmp("[tracker]\n"
		  "announce_interval = 60\n"
		  "peer_timeout = 90\n"
		  "numwant_default = 0\n"
		  "numwant_max = 1\n"
		  "connection_id_lifetime = 32000\n"
		  "connection_id_grace = 767\n"
		  "[limits]\n"
		  "max_torrents = 4294967295\n"
		  "max_peers_per_torrent = 7\n"
		  "memory_budget = 1536M\n"
		  "[io]\n"
		  "recv_buffers = 64\n"
		  "send_slots = 65536\n"
		  "handoff_ring = 1G\n"
		  "ring_entries = 32768\n",
		  path);
	int rc = PARSE(&c, &a, err, "-c", path, "--udp", "[2001:db8::1]:6969,10.1.2.3:1", "--udp",
		       "[::ffff:1.2.3.4]:65535", "--http", "[fe80::abcd]:80", "--metrics",
		       "[::1]:9100", "--workers", "1024", "--cpus", "0,2-3,8-15,64,1000-1023");
	unlink(path);
	cr_assert_eq(rc, 0, "%s", err);
	expect_round_trip(&c);
}

Test(config, print_round_trip_no_http_and_wrapped_lists)
{
	struct config c;
	char err[CONFIG_ERROR_MAX];

	config_defaults(&c);
	memset(c.http, 0, sizeof(c.http));
	c.n_http = 0;
	expect_round_trip(&c);

	/* 16 long IPv6 listeners and a CPU set of 512 single CPUs do not fit
	 * one line each: printed over several lines, they still load back. */
	memset(c.udp, 0, sizeof(c.udp));
	for (int i = 0; i < CONFIG_MAX_LISTEN; i++) {
		char text[64];
		snprintf(text, sizeof(text), "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:%x]:65535",
			 0xff00 + i);
		c.udp[i] = addr(text);
	}
	c.n_udp = CONFIG_MAX_LISTEN;
	c.has_cpus = true;
	memset(c.cpus, 0x55, sizeof(c.cpus));
	cr_assert_eq(config_validate(&c, err, sizeof(err)), 0, "%s", err);
	expect_round_trip(&c);
}

Test(config, print_write_error)
{
	struct config c;
	FILE *f = fopen("/dev/full", "w");

	cr_assert_not_null(f);
	config_defaults(&c);
	cr_assert_eq(config_print(&c, f), -ENOSPC);
	fclose(f);
}

/* ---- help -------------------------------------------------------------- */

Test(config, usage_names_every_flag_and_key)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	cr_assert_not_null(f);
	config_usage(f, "ringtracker");
	fclose(f);
	static const char *const want[] = {"Usage: ringtracker",
					   "-c",
					   "--udp",
					   "--http",
					   "--metrics",
					   "--workers",
					   "--cpus",
					   "--print-config",
					   "--help",
					   "--version",
					   "[server]",
					   "[tracker]",
					   "[limits]",
					   "[io]",
					   "udp",
					   "http",
					   "metrics",
					   "workers",
					   "cpus",
					   "announce_interval",
					   "peer_timeout",
					   "numwant_default",
					   "numwant_max",
					   "connection_id_lifetime",
					   "connection_id_grace",
					   "max_torrents",
					   "max_peers_per_torrent",
					   "memory_budget",
					   "recv_buffers",
					   "send_slots",
					   "handoff_ring",
					   "ring_entries"};
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		cr_assert(strstr(buf, want[i]), "usage lacks '%s'", want[i]);
	free(buf);
}

Test(config, trusted_proxies_and_forwarded_header)
{
	struct config c;
	char path[sizeof(TMP_TEMPLATE)];
	char err[CONFIG_ERROR_MAX];
	struct netaddr a;

	config_defaults(&c);
	cr_assert_str_eq(c.forwarded_header, "X-Forwarded-For");
	cr_assert_eq(c.n_trusted_proxies, 0);
	cr_assert_eq(netaddr_parse("127.0.0.1:1", &a), 0);
	cr_assert_not(config_trusted_proxy(&c, &a), "nobody is trusted by default");

	cr_assert_eq(load_text(&c,
			       "[http]\ntrusted_proxies = 127.0.0.0/8, fd00::/8\n"
			       "forwarded_header = X-Real-IP\n",
			       path, err),
		     0, "%s", err);
	cr_assert_eq(c.n_trusted_proxies, 2);
	cr_assert_str_eq(c.forwarded_header, "X-Real-IP");
	cr_assert(config_trusted_proxy(&c, &a));
	cr_assert_eq(netaddr_parse("[fd12::1]:1", &a), 0);
	cr_assert(config_trusted_proxy(&c, &a));
	cr_assert_eq(netaddr_parse("[fe80::1]:1", &a), 0);
	cr_assert_not(config_trusted_proxy(&c, &a));
	expect_round_trip(&c);

	config_defaults(&c);
	cr_assert_eq(load_text(&c, "[http]\ntrusted_proxies = 10.0.0.1/8\n", path, err), -EINVAL);
	cr_assert(strstr(err, "trusted_proxies") && strstr(err, "host bits"), "%s", err);
	cr_assert_eq(load_text(&c, "[http]\nforwarded_header = X Forwarded\n", path, err), -EINVAL);
	cr_assert(strstr(err, "forwarded_header"), "%s", err);
	cr_assert_eq(load_text(&c, "[http]\ntrusted_proxies =\n", path, err), 0, "%s", err);
	cr_assert_eq(c.n_trusted_proxies, 0, "an empty list means none");
}

Test(config, request_line_not_above_head)
{
	struct config c;
	char err[CONFIG_ERROR_MAX];

	config_defaults(&c);
	c.http_max_line = 32 * 1024;
	c.http_max_header = 16 * 1024;
	cr_assert_eq(config_validate(&c, err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "max_request_line"), "%s", err);
}

/* ---- [xdp] ------------------------------------------------------------- */

Test(config, xdp_defaults_and_flags)
{
	struct config c;
	struct config_args a;
	char err[CONFIG_ERROR_MAX];

	config_defaults(&c);
	cr_assert_str_eq(c.xdp_interface, "", "no prefilter by default");
	cr_assert_eq(c.xdp_mode, CONFIG_XDP_AUTO);
	cr_assert_eq(c.xdp_required, 0);
	cr_assert_eq(c.xdp_scrape_max, 74);
	cr_assert_eq(c.xdp_rate_limit_pps, 0, "no rate limit by default");
	cr_assert_eq(c.xdp_rate_limit_burst, 100);

	/* --xdp-required takes no value: "--workers" after it is a flag. */
	cr_assert_eq(PARSE(&c, &a, err, "--xdp", "eth0", "--xdp-mode", "skb", "--xdp-required",
			   "--workers", "2"),
		     0, "%s", err);
	cr_assert_str_eq(c.xdp_interface, "eth0");
	cr_assert_eq(c.xdp_mode, CONFIG_XDP_SKB);
	cr_assert_eq(c.xdp_required, 1);
	cr_assert_eq(c.workers, 2);
	cr_assert_str_eq(config_xdp_mode_name(c.xdp_mode), "skb");
	cr_assert_eq(PARSE(&c, &a, err, "--xdp=veth-rt.0", "--xdp-mode=native", "--xdp-required=0"),
		     0, "%s", err);
	cr_assert_str_eq(c.xdp_interface, "veth-rt.0");
	cr_assert_eq(c.xdp_mode, CONFIG_XDP_NATIVE);
	cr_assert_eq(c.xdp_required, 0);
	cr_assert_eq(PARSE(&c, &a, err, "--xdp", "lo", "--xdp-mode", "auto", "--xdp="), 0, "%s",
		     err);
	cr_assert_str_eq(c.xdp_interface, "", "--xdp= turns the prefilter off");
	cr_assert_eq(c.xdp_mode, CONFIG_XDP_AUTO);
	cr_assert_str_eq(config_xdp_mode_name(99), "?");

	EXPECT_FLAG_ERROR("--xdp-mode", "native", "--xdp-mode", "fast");
	EXPECT_FLAG_ERROR("--xdp", "interface name", "--xdp", "a/b");
	EXPECT_FLAG_ERROR("--xdp", "interface name", "--xdp", "a b");
	EXPECT_FLAG_ERROR("--xdp", "interface name", "--xdp", "sixteen-chars-xx");
	EXPECT_FLAG_ERROR("--xdp", "interface name", "--xdp", "..");
	EXPECT_FLAG_ERROR("--xdp-required", "0 to 1", "--xdp", "lo", "--xdp-required=2");
	EXPECT_FLAG_ERROR("required", "interface", "--xdp-required");
	EXPECT_FLAG_ERROR("--xdp", "missing value", "--xdp");
}

Test(config, xdp_ini_keys_and_round_trip)
{
	struct config c;
	char err[CONFIG_ERROR_MAX] = "", path[32];

	config_defaults(&c);
	cr_assert_eq(load_text(&c,
			       "[xdp]\n"
			       "interface = enp1s0f0\n"
			       "mode = native\n"
			       "required = 1\n"
			       "scrape_max = 10\n"
			       "rate_limit_pps = 500\n"
			       "rate_limit_burst = 20\n",
			       path, err),
		     0, "%s", err);
	cr_assert_str_eq(c.xdp_interface, "enp1s0f0");
	cr_assert_eq(c.xdp_mode, CONFIG_XDP_NATIVE);
	cr_assert_eq(c.xdp_required, 1);
	cr_assert_eq(c.xdp_scrape_max, 10);
	cr_assert_eq(c.xdp_rate_limit_pps, 500);
	cr_assert_eq(c.xdp_rate_limit_burst, 20);
	cr_assert_eq(config_validate(&c, err, sizeof(err)), 0, "%s", err);
	expect_round_trip(&c);

	char *text = print_to_string(&c);
	cr_assert(strstr(text, "\n[xdp]\n"), "%s", text);
	cr_assert(strstr(text, "\ninterface = enp1s0f0\n"), "%s", text);
	cr_assert(strstr(text, "\nmode = native\n"), "%s", text);
	cr_assert(strstr(text, "\nrequired = 1\n"), "%s", text);
	cr_assert(strstr(text, "auto, native or skb"), "the choices are listed:\n%s", text);
	free(text);

	config_defaults(&c);
	text = print_to_string(&c);
	cr_assert(strstr(text, "\ninterface =\n"), "%s", text);
	cr_assert(strstr(text, "\nmode = auto\n"), "%s", text);
	cr_assert(strstr(text, "\nrate_limit_pps = 0\n"), "%s", text);
	free(text);
	cr_assert_eq(load_text(&c, "[xdp]\ninterface =\nmode = skb\n", path, err), 0, "%s", err);
	cr_assert_str_eq(c.xdp_interface, "");
	expect_round_trip(&c);

	static const struct {
		const char *text, *needle;
	} bad[] = {
	    {"[xdp]\nmode = turbo\n", "mode"},
	    {"[xdp]\ninterface = a:b\n", "interface"},
	    {"[xdp]\nrequired = yes\n", "required"},
	    {"[xdp]\nscrape_max = 0\n", "scrape_max"},
	    {"[xdp]\nscrape_max = 75\n", "scrape_max"},
	    {"[xdp]\nrate_limit_burst = 0\n", "rate_limit_burst"},
	    {"[server]\nrate_limit_pps = 5\n", "belongs in [xdp]"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		config_defaults(&c);
		expect_einval(load_text(&c, bad[i].text, path, err), err, bad[i].needle, NULL);
	}
	config_defaults(&c);
	c.xdp_required = 1;
	expect_einval(config_validate(&c, err, sizeof(err)), err, "required", "--xdp");
	strcpy(c.xdp_interface, "bad/name");
	expect_einval(config_validate(&c, err, sizeof(err)), err, "interface", NULL);
}

Test(config, xdp_usage_names_flags_and_keys)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	cr_assert_not_null(f);
	config_usage(f, "ringtracker");
	fclose(f);
	static const char *const want[] = {
	    "--xdp IFACE", "--xdp-mode",     "--xdp-required",	 "[xdp]",
	    "interface",   "rate_limit_pps", "rate_limit_burst", "scrape_max"};
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		cr_assert(strstr(buf, want[i]), "usage lacks '%s':\n%s", want[i], buf);
	free(buf);
}

Test(config, user_and_log_level)
{
	struct config c;
	struct config_args a;
	char err[CONFIG_ERROR_MAX];

	config_defaults(&c);
	cr_assert_str_eq(c.user, "", "no user switch by default");
	cr_assert_eq(c.log_level, 2, "info by default");
	cr_assert_eq(PARSE(&c, &a, err, "--user", "ringtracker", "--log-level", "warn"), 0, "%s",
		     err);
	cr_assert_str_eq(c.user, "ringtracker");
	cr_assert_eq(c.log_level, 1);
	expect_round_trip(&c);
	EXPECT_FLAG_ERROR("--user", "not a user name", "--user", "bad/name");
	EXPECT_FLAG_ERROR("--user", "not a user name", "--user", "9lives");
	EXPECT_FLAG_ERROR("--log-level", "debug", "--log-level", "debug");
}

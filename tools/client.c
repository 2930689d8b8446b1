/* client.c - ringtracker-client: announce to, scrape, and check any
 * BitTorrent tracker from the command line.
 *
 * What it does: parses the command line, runs one announce or scrape over
 * UDP (client_udp.c) or HTTP (client_http.c) and prints the answer as one
 * line of JSON; or checks a list of trackers (connect, announce, scrape with
 * a random info hash) and prints PASS/FAIL lines.
 * What it doesn't: no torrent files, no peer wire protocol, no https.
 * Exit status: 0 success, 1 the tracker or the network said no (JSON has
 * "error"; check: any FAIL), 2 bad usage (message on stderr).
 * Thread: single-threaded; main returns, it never calls exit.
 * Memory: the request is a value on the stack; results own heap arrays.
 * Spec: BEP 3, 7, 15, 23, 24, 48.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "client.h"

#define PROG "ringtracker-client"

enum { EXIT_TRACKER = 1, EXIT_USAGE = 2 };

static const char usage_text[] =
    "Usage:\n"
    "  " PROG " announce URL --info-hash HEX [options]\n"
    "  " PROG " scrape URL --info-hash HEX [--info-hash HEX]... [options]\n"
    "  " PROG " check URL...\n"
    "  " PROG " --help\n"
    "\n"
    "A client for any BitTorrent tracker, over UDP (BEP 15) or HTTP (BEP 3).\n"
    "\n"
    "URL:\n"
    "  udp://HOST:PORT[/announce]    BEP 15; the path is not sent\n"
    "  http://HOST[:PORT][/PATH]     BEP 3; port 80 and path /announce by default;\n"
    "                                a query in the URL (a passkey) is kept\n"
    "  HOST is an IPv4 address, an [IPv6] address in brackets, or a name; a name\n"
    "  is resolved with getaddrinfo and its addresses are tried in turn until\n"
    "  one answers (a refused or silent address moves on to the next).\n"
    "  An HTTP scrape goes to the BEP 48 scrape URL: the last path segment must\n"
    "  start with \"announce\", which becomes \"scrape\" (/x/announce.php?k=1 ->\n"
    "  /x/scrape.php?k=1).\n"
    "\n"
    "Commands:\n"
    "  announce   one announce; prints interval, seeders, leechers and peers\n"
    "  scrape     one scrape of up to 74 (UDP) or 256 (HTTP) info hashes\n"
    "  check      for each URL: connect, announce (event started) and scrape a\n"
    "             random info hash, then announce stopped; prints one line per\n"
    "             tracker, \"PASS URL connect T ms announce T ms scrape T ms\" or\n"
    "             \"FAIL URL reason\" (HTTP: connect is the TCP handshake)\n"
    "\n"
    "Options:\n"
    "  --info-hash HEX     40 hex digits (20 bytes); repeat for a scrape\n"
    "  --event E           started (default), completed, stopped or none\n"
    "  --left N            bytes left to download (default 1: a leecher; 0 is a seeder)\n"
    "  --uploaded N        bytes uploaded (default 0)\n"
    "  --downloaded N      bytes downloaded (default 0)\n"
    "  --numwant N         peers wanted (default: the tracker's choice)\n"
    "  --port P            our listening port, 1..65535 (default 6881)\n"
    "  --peer-id ID        40 hex digits, or text of at most 20 bytes padded with\n"
    "                      random digits (default -RC0001- and 12 random digits)\n"
    "  --no-compact        HTTP: ask for dictionary-model peers (compact=0)\n"
    "  --timeout MS        UDP: wait per try (default 2000; BEP 15's 15 s x 2^n is\n"
    "                      too long for a tool); HTTP: bound on the connect and on\n"
    "                      each wait for data\n"
    "  --tries N           UDP: tries per message (default 3); HTTP: the whole\n"
    "                      request is bounded by --timeout x --tries\n"
    "  -4, -6              use only IPv4 / only IPv6 addresses of a host name\n"
    "  -h, --help          this text\n"
    "\n"
    "Output (announce, scrape): one line of JSON on stdout, e.g.\n"
    "  {\"tracker\":\"udp://127.0.0.1:6969\",\"action\":\"announce\",\"address\":"
    "\"127.0.0.1:6969\",\n"
    "   \"interval\":1800,\"seeders\":1,\"leechers\":0,\"peers\":[\"127.0.0.1:6881\","
    "\"[::1]:6882\"],\n"
    "   \"time_ms\":0.40}\n"
    "  {\"tracker\":...,\"action\":\"scrape\",...,\"files\":[{\"info_hash\":\"HEX\","
    "\"seeders\":1,\n"
    "   \"completed\":0,\"leechers\":2}],\"time_ms\":0.31}\n"
    "  HTTP replies may add min_interval, completed, external_ip and warning.\n"
    "  A tracker's error reply or failure reason, a timeout or a refused\n"
    "  connection: {\"tracker\":...,\"action\":...,\"error\":\"...\"}.\n"
    "\n"
    "Exit status: 0 success; 1 an error from the tracker or the network (check:\n"
    "any FAIL); 2 bad usage.\n";

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int usage_error(const char *fmt, ...)
{
	va_list ap;

	fputs(PROG ": ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\nTry '" PROG " --help'.\n", stderr);
	return EXIT_USAGE;
}

static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decodes exactly 2 * n hex digits into out. */
static bool parse_hex(const char *s, uint8_t *out, size_t n)
{
	if (strlen(s) != 2 * n)
		return false;
	for (size_t i = 0; i < n; i++) {
		int hi = hex_value(s[2 * i]), lo = hex_value(s[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return false;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return true;
}

/* Parses a decimal in [min, max]. */
static bool parse_num(const char *s, long long min, long long max, long long *out)
{
	char *end;

	if (!*s)
		return false;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (errno || *end || v < min || v > max)
		return false;
	*out = v;
	return true;
}

static bool parse_u64(const char *s, uint64_t *out)
{
	char *end;

	if (*s < '0' || *s > '9')
		return false;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || *end)
		return false;
	*out = v;
	return true;
}

/* Fills p[0..n) with random decimal digits. */
static void random_digits(uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)('0' + randombytes_uniform(10));
}

static bool parse_peer_id(const char *s, struct peer_id *id)
{
	size_t n = strlen(s);

	if (n == 2 * PEER_ID_LEN && parse_hex(s, id->b, PEER_ID_LEN))
		return true;
	if (n > PEER_ID_LEN)
		return false;
	memcpy(id->b, s, n);
	random_digits(id->b + n, PEER_ID_LEN - n);
	return true;
}

static int run_check(char **urls, int n, const struct client_request *base)
{
	int failed = 0;

	for (int i = 0; i < n; i++) {
		struct client_url u;
		struct client_request rq = *base;
		struct client_result r;
		double c = 0, a = 0, s = 0;
		const char *why;
		int rc;

		client_url_parse(urls[i], &u, &why); /* checked before */
		rq.n_hashes = 1;
		randombytes_buf(rq.hashes[0].b, INFO_HASH_LEN);
		rq.port = (uint16_t)(1024 + randombytes_uniform(65535 - 1024));
		client_result_init(&r);
		rc = u.scheme == CLIENT_UDP ? client_udp_check(&u, &rq, &r, &c, &a, &s)
					    : client_http_check(&u, &rq, &r, &c, &a, &s);
		if (rc == 0) {
			printf("PASS %s connect %.2f ms announce %.2f ms scrape %.2f ms\n", urls[i],
			       c, a, s);
		} else {
			printf("FAIL %s %s\n", urls[i], r.error);
			failed++;
		}
		fflush(stdout);
		client_result_free(&r);
	}
	return failed ? EXIT_TRACKER : 0;
}

int main(int argc, char **argv)
{
	enum {
		OPT_INFO_HASH = 256,
		OPT_EVENT,
		OPT_LEFT,
		OPT_UPLOADED,
		OPT_DOWNLOADED,
		OPT_NUMWANT,
		OPT_PORT,
		OPT_PEER_ID,
		OPT_TIMEOUT,
		OPT_TRIES,
		OPT_NO_COMPACT,
	};
	static const struct option opts[] = {
	    {"info-hash", required_argument, NULL, OPT_INFO_HASH},
	    {"event", required_argument, NULL, OPT_EVENT},
	    {"left", required_argument, NULL, OPT_LEFT},
	    {"uploaded", required_argument, NULL, OPT_UPLOADED},
	    {"downloaded", required_argument, NULL, OPT_DOWNLOADED},
	    {"numwant", required_argument, NULL, OPT_NUMWANT},
	    {"port", required_argument, NULL, OPT_PORT},
	    {"peer-id", required_argument, NULL, OPT_PEER_ID},
	    {"timeout", required_argument, NULL, OPT_TIMEOUT},
	    {"tries", required_argument, NULL, OPT_TRIES},
	    {"no-compact", no_argument, NULL, OPT_NO_COMPACT},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct client_request rq = {
	    .event = UDP_EVENT_STARTED,
	    .left = 1,
	    .numwant = -1,
	    .port = 6881,
	    .compact = true,
	    .family = AF_UNSPEC,
	    .timeout_ms = 2000,
	    .tries = 3,
	};
	const char *cmd;
	long long v;
	int c;

	if (sodium_init() < 0) {
		fputs(PROG ": libsodium failed to initialise\n", stderr);
		return EXIT_TRACKER;
	}
	if (argc < 2)
		return usage_error("missing command: announce, scrape or check");
	cmd = argv[1];
	if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
		fputs(usage_text, stdout);
		return 0;
	}
	if (strcmp(cmd, "announce") == 0)
		rq.action = CLIENT_ANNOUNCE;
	else if (strcmp(cmd, "scrape") == 0)
		rq.action = CLIENT_SCRAPE;
	else if (strcmp(cmd, "check") != 0)
		return usage_error("unknown command '%s': use announce, scrape or check", cmd);

	memcpy(rq.peer_id.b, "-RC0001-", 8);
	random_digits(rq.peer_id.b + 8, PEER_ID_LEN - 8);
	rq.key = randombytes_random();

	/* getopt sees the command as its program name and permutes the rest,
	 * so options may come before or after the URLs. */
	opterr = 0;
	while ((c = getopt_long(argc - 1, argv + 1, ":46h", opts, NULL)) != -1) {
		const char *arg = optarg;
		switch (c) {
		case OPT_INFO_HASH:
			if (rq.n_hashes == CLIENT_MAX_HASHES)
				return usage_error("at most %d --info-hash", CLIENT_MAX_HASHES);
			if (!parse_hex(arg, rq.hashes[rq.n_hashes].b, INFO_HASH_LEN))
				return usage_error(
				    "--info-hash '%s': want 40 hex digits (20 bytes)", arg);
			rq.n_hashes++;
			break;
		case OPT_EVENT:
			if (strcmp(arg, "started") == 0)
				rq.event = UDP_EVENT_STARTED;
			else if (strcmp(arg, "completed") == 0)
				rq.event = UDP_EVENT_COMPLETED;
			else if (strcmp(arg, "stopped") == 0)
				rq.event = UDP_EVENT_STOPPED;
			else if (strcmp(arg, "none") == 0)
				rq.event = UDP_EVENT_NONE;
			else
				return usage_error("--event '%s': want started, completed, "
						   "stopped or none",
						   arg);
			break;
		case OPT_LEFT:
		case OPT_UPLOADED:
		case OPT_DOWNLOADED: {
			uint64_t *dst = c == OPT_LEFT	    ? &rq.left
					: c == OPT_UPLOADED ? &rq.uploaded
							    : &rq.downloaded;
			if (!parse_u64(arg, dst))
				return usage_error("--%s '%s': want a number of bytes",
						   c == OPT_LEFT       ? "left"
						   : c == OPT_UPLOADED ? "uploaded"
								       : "downloaded",
						   arg);
			break;
		}
		case OPT_NUMWANT:
			if (!parse_num(arg, -1, INT32_MAX, &v))
				return usage_error("--numwant '%s': want -1..%d", arg, INT32_MAX);
			rq.numwant = (int32_t)v;
			break;
		case OPT_PORT:
			if (!parse_num(arg, 1, 65535, &v))
				return usage_error("--port '%s': want 1..65535", arg);
			rq.port = (uint16_t)v;
			break;
		case OPT_PEER_ID:
			if (!parse_peer_id(arg, &rq.peer_id))
				return usage_error("--peer-id '%s': want 40 hex digits or at most "
						   "20 bytes of text",
						   arg);
			break;
		case OPT_TIMEOUT:
			if (!parse_num(arg, 1, 600000, &v))
				return usage_error("--timeout '%s': want 1..600000 ms", arg);
			rq.timeout_ms = (int)v;
			break;
		case OPT_TRIES:
			if (!parse_num(arg, 1, 100, &v))
				return usage_error("--tries '%s': want 1..100", arg);
			rq.tries = (int)v;
			break;
		case OPT_NO_COMPACT:
			rq.compact = false;
			break;
		case '4':
			rq.family = AF_INET;
			break;
		case '6':
			rq.family = AF_INET6;
			break;
		case 'h':
			fputs(usage_text, stdout);
			return 0;
		case ':':
			return usage_error("%s needs a value", argv[optind]);
		default:
			return usage_error("unknown option '%s'", argv[optind]);
		}
	}

	/* The URLs: what getopt left, after the command. */
	char **urls = argv + 1 + optind;
	int n_urls = argc - 1 - optind;
	for (int i = 0; i < n_urls; i++) {
		struct client_url u;
		const char *why;
		if (client_url_parse(urls[i], &u, &why) < 0)
			return usage_error("%s: %s", urls[i], why);
	}
	if (strcmp(cmd, "check") == 0) {
		if (n_urls == 0)
			return usage_error("check needs at least one tracker URL");
		if (rq.n_hashes)
			return usage_error("check uses a random info hash: drop --info-hash");
		return run_check(urls, n_urls, &rq);
	}
	if (n_urls != 1)
		return usage_error("%s needs exactly one tracker URL, got %d", cmd, n_urls);
	if (rq.n_hashes == 0)
		return usage_error("%s needs --info-hash", cmd);
	if (rq.action == CLIENT_ANNOUNCE && rq.n_hashes != 1)
		return usage_error("announce takes one --info-hash, got %zu", rq.n_hashes);

	struct client_url u;
	const char *why;
	client_url_parse(urls[0], &u, &why);
	if (rq.action == CLIENT_SCRAPE && u.scheme == CLIENT_UDP &&
	    rq.n_hashes > UDP_SCRAPE_MAX_HASHES)
		return usage_error("a UDP scrape takes at most %d info hashes, got %zu",
				   UDP_SCRAPE_MAX_HASHES, rq.n_hashes);
	if (rq.action == CLIENT_SCRAPE && u.scheme == CLIENT_HTTP) {
		struct client_url s;
		if (client_url_scrape(&u, &s) < 0)
			return usage_error("%s: no BEP 48 scrape URL: the last path segment must "
					   "start with \"announce\"",
					   urls[0]);
	}

	struct client_result r;
	client_result_init(&r);
	int rc =
	    u.scheme == CLIENT_UDP ? client_udp_run(&u, &rq, &r) : client_http_run(&u, &rq, &r);
	if (rc < 0 && !r.error[0])
		client_fail(&r, -rc, "%s", strerror(-rc));
	client_print_json(stdout, urls[0], rq.action, &r);
	client_result_free(&r);
	if (fflush(stdout) != 0)
		return EXIT_TRACKER;
	return rc < 0 ? EXIT_TRACKER : 0;
}

/* config.c - the tracker's effective configuration: defaults, the INI file
 * (read with libinih), command-line flags, cross-field validation, and
 * printing the result back as an INI file that loads to the same bytes.
 *
 * What it does not do: open sockets, pin threads or print errors. Every
 * failure comes back as -errno plus one line in the caller's buffer; main.c
 * prints it and exits.
 *
 * Thread: the main thread, at start-up (and on reload). Nothing here keeps
 * state between calls: the loader and the flag parser live on the stack, so
 * the functions can be called again (tests do).
 *
 * Spec: no BEP; the file is INI as libinih reads it, with the rules below.
 *
 * Memory: no allocation. The struct config is the caller's; strings from argv
 * are only read while parsing.
 *
 * One table, keys[], drives the file parser, the flags that set a key, the
 * range checks, config_print and the key list in --help, so they cannot
 * drift apart.
 *
 * File format (libinih, with two local rules enforced by our line reader):
 *   - leading blanks are ignored, so an indented key is a key, and there are
 *     no continuation lines;
 *   - a line may hold at most (libinih's line buffer - 3) characters; longer
 *     lines are an error rather than being split silently.
 * The [xdp] section configures the optional XDP prefilter (bpf/, src/xdp.c):
 * the interface ("" = none), mode (a name), required (a boolean: the flag
 * --xdp-required takes no value) and the filter's limits.
 * List keys (udp, http, cpus) take comma-separated values; the first
 * occurrence of a list key in a file (or the first such flag on the command
 * line) replaces the list, later ones add to it. An empty list value means
 * none: "http =" disables HTTP, "cpus =" means every online CPU, and
 * "metrics =" means no metrics listener. Scalar keys may repeat: the last one
 * wins. Sizes take K, M, G or T (1024-based); durations are plain seconds.
 */
#include "config.h"
#include "swarm.h"

#include <errno.h>
#include <stdarg.h>
#include <string.h>

#include <ini.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Lists are printed over several lines once a line gets this long; libinih
 * (Debian 12) reads lines of at most 197 characters. */
#define PRINT_WRAP 96

/* How a key's text maps to its field. */
enum kind {
	KIND_LISTEN, /* struct netaddr[CONFIG_MAX_LISTEN] + size_t count */
	KIND_ADDR,   /* struct netaddr + bool present */
	KIND_CPUS,   /* bit set + bool present */
	KIND_COUNT,  /* plain decimal number (counts, seconds) */
	KIND_SIZE,   /* bytes, with an optional K/M/G/T suffix */
	KIND_NETS,   /* struct config_net[CONFIG_MAX_PROXIES] + size_t count */
	KIND_TEXT,   /* char[CONFIG_HEADER_MAX]: an HTTP header name */
	KIND_IFNAME, /* char[CONFIG_IFNAME_MAX]: a network interface name, "" = none */
	KIND_CHOICE, /* uint32_t index into the key's choices[] names */
	KIND_BOOL,   /* uint32_t 0 or 1; its flag takes no value and sets 1 */
	KIND_USER,   /* char[CONFIG_USER_MAX]: a user name, "" = none */
};

struct key_def {
	const char *section;
	const char *name;
	const char *flag; /* command-line flag setting this key, or NULL */
	enum kind kind;
	size_t off;   /* offset of the value in struct config */
	size_t off_n; /* lists and addresses: offset of the count / present flag */
	size_t width; /* numbers: 4 or 8 bytes */
	uint64_t min; /* numbers: inclusive range */
	uint64_t max;
	bool pow2;	  /* numbers: must be a power of two */
	const char *help; /* one line for --print-config and the example file */
	const char *const *choices; /* KIND_CHOICE: the names, NULL-ended */
};

#define FIELD_SIZE(f) sizeof(((struct config *)0)->f)
#define LIST(sec, key, flg, k, f, fn, h)                                                           \
	{                                                                                          \
		sec, key, flg, k, offsetof(struct config, f), offsetof(struct config, fn), 0, 0,   \
		    0, false, h                                                                    \
	}
#define NUM(sec, key, flg, k, f, lo, hi, p2, h)                                                    \
	{                                                                                          \
		sec, key, flg, k, offsetof(struct config, f), 0, FIELD_SIZE(f), lo, hi, p2, h      \
	}

#define CHOICE(sec, key, flg, f, names, h)                                                         \
	{                                                                                          \
		sec, key, flg, KIND_CHOICE, offsetof(struct config, f), 0, FIELD_SIZE(f), 0,       \
		    ARRAY_SIZE(names) - 2, false, h, names                                         \
	}

/* [xdp] mode names, in enum config_xdp_mode order. */
static const char *const xdp_modes[] = {"auto", "native", "skb", NULL};
static const char *const log_levels[] = {"error", "warn", "info", NULL};

#define KIB (UINT64_C(1) << 10)
#define MIB (UINT64_C(1) << 20)
#define GIB (UINT64_C(1) << 30)
#define TIB (UINT64_C(1) << 40)

static const struct key_def keys[] = {
    LIST("server", "udp", "--udp", KIND_LISTEN, udp, n_udp,
	 "UDP (BEP 15) listen addresses, A.B.C.D:PORT or [V6]:PORT, comma-separated"),
    LIST("server", "http", "--http", KIND_LISTEN, http, n_http,
	 "HTTP (BEP 3) listen addresses; empty = no HTTP"),
    LIST("server", "metrics", "--metrics", KIND_ADDR, metrics, has_metrics,
	 "metrics endpoint (/metrics, /top, /health) listen address, default "
	 "127.0.0.1:9469; empty = none"),
    NUM("server", "workers", "--workers", KIND_COUNT, workers, 0, 1024, false,
	"worker threads; 0 = one per CPU of the set"),
    LIST("server", "user", "--user", KIND_USER, user, user,
	 "when started as root, switch to this user once every socket is bound; empty = stay"),
    CHOICE("server", "log_level", "--log-level", log_level, log_levels,
	   "least severe messages logged: error, warn or info"),
    LIST("server", "cpus", "--cpus", KIND_CPUS, cpus, has_cpus,
	 "CPUs to run workers on, e.g. 0-3,8; empty = every online CPU"),
    NUM("tracker", "announce_interval", NULL, KIND_COUNT, announce_interval, 1, 86400, false,
	"seconds between announces, sent to clients"),
    NUM("tracker", "peer_timeout", NULL, KIND_COUNT, peer_timeout, 1, 86400, false,
	"seconds without an announce before a peer expires; >= announce_interval"),
    NUM("tracker", "numwant_default", NULL, KIND_COUNT, numwant_default, 0, 200, false,
	"peers sent when the client asks for -1 or nothing; <= numwant_max"),
    NUM("tracker", "numwant_max", NULL, KIND_COUNT, numwant_max, 1, 200, false,
	"most peers sent in one reply"),
    NUM("tracker", "connection_id_lifetime", NULL, KIND_COUNT, connid_lifetime, 1, 32767, false,
	"seconds a UDP connection id is valid"),
    NUM("tracker", "connection_id_grace", NULL, KIND_COUNT, connid_grace, 0, 32767, false,
	"extra seconds a late connection id is accepted; lifetime + grace < 32768"),
    NUM("limits", "max_torrents", NULL, KIND_COUNT, max_torrents, 1, UINT32_MAX, false,
	"torrents tracked by the whole process"),
    NUM("limits", "max_peers_per_torrent", NULL, KIND_COUNT, max_peers_per_torrent, 1, SWARM_PEERS_MAX,
	false, "peers kept per torrent, IPv4 and IPv6 together"),
    NUM("limits", "memory_budget", NULL, KIND_SIZE, memory_budget, MIB, 1024 * TIB, false,
	"bytes for the swarm store, whole process"),
    NUM("http", "max_connections", NULL, KIND_COUNT, http_max_connections, 1, 1000000, false,
	"open HTTP connections per worker; past it new ones are closed at once"),
    NUM("http", "idle_timeout", NULL, KIND_COUNT, http_idle_timeout, 1, 3600, false,
	"seconds a keep-alive connection may stay idle"),
    NUM("http", "request_timeout", NULL, KIND_COUNT, http_request_timeout, 1, 3600, false,
	"seconds a client has to finish sending a request head"),
    NUM("http", "max_request_line", NULL, KIND_SIZE, http_max_line, 256, 64 * KIB, false,
	"bytes of request line before 414 URI Too Long"),
    NUM("http", "max_header", NULL, KIND_SIZE, http_max_header, 1 * KIB, 64 * KIB, false,
	"bytes of request head before 431; also each connection's read buffer"),
    NUM("http", "scrape_max", NULL, KIND_COUNT, http_scrape_max, 1, 256, false,
	"info hashes accepted in one HTTP scrape"),
    NUM("http", "full_scrape", NULL, KIND_COUNT, full_scrape, 0, 1, false,
	"1: /scrape without info_hash streams every torrent (off by default)"),
    NUM("http", "full_scrape_interval", NULL, KIND_COUNT, full_scrape_interval, 1, 86400, false,
	"seconds between two full scrapes served by one worker (rate limit)"),
    LIST("http", "trusted_proxies", NULL, KIND_NETS, trusted_proxies, n_trusted_proxies,
	 "networks of reverse proxies whose forwarded_header gives the peer address, "
	 "e.g. 127.0.0.1/32, ::1/128; empty = none"),
    LIST("http", "forwarded_header", NULL, KIND_TEXT, forwarded_header, forwarded_header,
	 "header a trusted proxy puts the client address in (last entry is used)"),
    NUM("io", "recv_buffers", NULL, KIND_COUNT, recv_buffers, 64, 32768, true,
	"provided receive buffers per worker"),
    NUM("io", "send_slots", NULL, KIND_COUNT, send_slots, 1, 65536, false,
	"replies in flight per worker"),
    NUM("io", "handoff_ring", NULL, KIND_SIZE, handoff_ring, 64 * KIB, GIB, true,
	"bytes of each worker-to-worker ring"),
    NUM("io", "ring_entries", NULL, KIND_COUNT, ring_entries, 64, 32768, true,
	"io_uring submission queue entries per worker"),
    LIST("xdp", "interface", "--xdp", KIND_IFNAME, xdp_interface, xdp_interface,
	 "network interface to attach the XDP prefilter to; empty = no prefilter"),
    CHOICE("xdp", "mode", "--xdp-mode", xdp_mode, xdp_modes,
	   "XDP attach mode; auto = native where the driver has it, else skb (generic)"),
    NUM("xdp", "required", "--xdp-required", KIND_BOOL, xdp_required, 0, 1, false,
	"1: exit with status 2 when the prefilter cannot be loaded; 0: run without it"),
    NUM("xdp", "scrape_max", NULL, KIND_COUNT, xdp_scrape_max, 1, 74, false,
	"info hashes a UDP scrape may carry past the prefilter (BEP 15 allows 74)"),
    NUM("xdp", "rate_limit_pps", NULL, KIND_COUNT, xdp_rate_limit_pps, 0, 100000000, false,
	"UDP requests per second let through per IPv4 address or IPv6 /64; 0 = no limit"),
    NUM("xdp", "rate_limit_burst", NULL, KIND_COUNT, xdp_rate_limit_burst, 1, 100000000, false,
	"UDP requests a source may send at once before the rate limit applies"),
};

#define N_KEYS ARRAY_SIZE(keys)

/* Field access through a key's offsets. */
#define FIELD(c, off, type)  ((type *)((char *)(c) + (off)))
#define CFIELD(c, off, type) ((const type *)((const char *)(c) + (off)))

__attribute__((format(printf, 3, 4))) static void set_err(char *err, size_t cap, const char *fmt,
							  ...)
{
	va_list ap;

	if (!err || cap == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, cap, fmt, ap);
	va_end(ap);
}

/* ---- defaults ---------------------------------------------------------- */

static void any_addr(struct netaddr *a, int family, uint16_t port)
{
	memset(a, 0, sizeof(*a)); /* 0.0.0.0 and :: are all zero bytes */
	a->family = (uint8_t)family;
	a->port = port;
}

void config_defaults(struct config *c)
{
	/* memset first: padding bytes must be zero so that configs compare
	 * equal with memcmp (the print/load round trip relies on it). */
	memset(c, 0, sizeof(*c));
	any_addr(&c->udp[0], AF_INET, 6969);
	any_addr(&c->udp[1], AF_INET6, 6969);
	c->n_udp = 2;
	any_addr(&c->http[0], AF_INET, 6969);
	any_addr(&c->http[1], AF_INET6, 6969);
	c->n_http = 2;
	c->metrics.family = AF_INET; /* 127.0.0.1:9469: loopback only */
	c->metrics.ip[0] = 127;
	c->metrics.ip[3] = 1;
	c->metrics.port = 9469;
	c->has_metrics = true;
	c->workers = 0;
	c->log_level = 2; /* info */
	c->announce_interval = 1800;
	c->peer_timeout = 2700;
	c->numwant_default = 50;
	c->numwant_max = 200;
	c->connid_lifetime = 120;
	c->connid_grace = 60;
	c->max_torrents = 10000000;
	c->max_peers_per_torrent = 1000000;
	c->memory_budget = 8 * GIB;
	c->http_max_connections = 4096;
	c->http_idle_timeout = 30;
	c->http_request_timeout = 10;
	c->http_max_line = 8 * KIB;
	c->http_max_header = 16 * KIB;
	c->http_scrape_max = 100;
	c->full_scrape = 0;
	c->full_scrape_interval = 60;
	strcpy(c->forwarded_header, "X-Forwarded-For");
	c->recv_buffers = 1024;
	c->send_slots = 4096;
	c->handoff_ring = 4 * MIB;
	c->ring_entries = 4096;
	c->xdp_mode = CONFIG_XDP_AUTO;
	c->xdp_required = 0;
	c->xdp_scrape_max = 74;
	c->xdp_rate_limit_pps = 0;
	c->xdp_rate_limit_burst = 100;
}

const char *config_xdp_mode_name(uint32_t mode)
{
	return mode < ARRAY_SIZE(xdp_modes) - 1 ? xdp_modes[mode] : "?";
}

bool config_trusted_proxy(const struct config *c, const struct netaddr *a)
{
	for (size_t i = 0; i < c->n_trusted_proxies && i < CONFIG_MAX_PROXIES; i++)
		if (netaddr_in_prefix(&c->trusted_proxies[i].addr, c->trusted_proxies[i].bits, a))
			return true;
	return false;
}

bool config_cpu_allowed(const struct config *c, unsigned n)
{
	if (!c->has_cpus)
		return true;
	if (n >= CONFIG_MAX_CPUS)
		return false;
	return c->cpus[n / 8] & (1u << (n % 8));
}

/* ---- numbers ----------------------------------------------------------- */

static unsigned size_shift(char s)
{
	switch (s) {
	case 'K':
	case 'k':
		return 10;
	case 'M':
	case 'm':
		return 20;
	case 'G':
	case 'g':
		return 30;
	case 'T':
	case 't':
		return 40;
	}
	return 0;
}

/* Strict unsigned decimal, no sign or blanks; with_suffix allows one K/M/G/T.
 * Returns 0 or -EINVAL (also on overflow). */
static int parse_u64(const char *s, bool with_suffix, uint64_t *out)
{
	uint64_t v = 0;
	const char *p = s;
	unsigned shift;

	if (*p < '0' || *p > '9')
		return -EINVAL;
	for (; *p >= '0' && *p <= '9'; p++) {
		unsigned d = (unsigned)(*p - '0');
		if (v > (UINT64_MAX - d) / 10)
			return -EINVAL;
		v = v * 10 + d;
	}
	if (with_suffix && *p && (shift = size_shift(*p)) != 0) {
		if (v > (UINT64_MAX >> shift))
			return -EINVAL;
		v <<= shift;
		p++;
	}
	if (*p)
		return -EINVAL;
	*out = v;
	return 0;
}

/* Writes v with the largest suffix that divides it exactly ("8G", "65536"). */
static void format_size(uint64_t v, char *buf, size_t cap)
{
	static const char suffix[] = "TGMK";
	unsigned shift = 40;

	for (size_t i = 0; i < 4; i++, shift -= 10) {
		if (v != 0 && v % (UINT64_C(1) << shift) == 0) {
			snprintf(buf, cap, "%llu%c", (unsigned long long)(v >> shift), suffix[i]);
			return;
		}
	}
	snprintf(buf, cap, "%llu", (unsigned long long)v);
}

static void format_number(const struct key_def *k, uint64_t v, char *buf, size_t cap)
{
	if (k->kind == KIND_SIZE)
		format_size(v, buf, cap);
	else
		snprintf(buf, cap, "%llu", (unsigned long long)v);
}

static uint64_t get_number(const struct config *c, const struct key_def *k)
{
	if (k->width == 8)
		return *CFIELD(c, k->off, uint64_t);
	return *CFIELD(c, k->off, uint32_t);
}

static void set_number(struct config *c, const struct key_def *k, uint64_t v)
{
	if (k->width == 8)
		*FIELD(c, k->off, uint64_t) = v;
	else
		*FIELD(c, k->off, uint32_t) = (uint32_t)v;
}

static bool number_ok(const struct key_def *k, uint64_t v)
{
	if (v < k->min || v > k->max)
		return false;
	return !k->pow2 || (v & (v - 1)) == 0;
}

/* "'abc' is not a number from 0 to 1024", with the key's kind of number. */
static void explain_number(const struct key_def *k, const char *text, char *why, size_t cap)
{
	char lo[32], hi[32];

	format_number(k, k->min, lo, sizeof(lo));
	format_number(k, k->max, hi, sizeof(hi));
	set_err(why, cap, "'%.64s' is not a %s%s from %s to %s", text,
		k->pow2 ? "power-of-two " : "", k->kind == KIND_SIZE ? "size" : "number", lo, hi);
}

static int apply_number(struct config *c, const struct key_def *k, const char *value, char *why,
			size_t cap)
{
	uint64_t v;

	if (parse_u64(value, k->kind == KIND_SIZE, &v) < 0 || !number_ok(k, v)) {
		explain_number(k, value, why, cap);
		return -EINVAL;
	}
	set_number(c, k, v);
	return 0;
}

/* ---- lists ------------------------------------------------------------- */

/* Walks a comma-separated value; items are trimmed of blanks. An all-blank
 * value is an empty list. */
struct list_iter {
	const char *p;	 /* next unread character, NULL when done */
	const char *end; /* end of the trimmed value */
};

static bool is_blank(char ch)
{
	return ch == ' ' || ch == '\t';
}

static void list_begin(struct list_iter *it, const char *value)
{
	const char *end = value + strlen(value);

	while (is_blank(*value))
		value++;
	while (end > value && is_blank(end[-1]))
		end--;
	it->p = end > value ? value : NULL;
	it->end = end;
}

/* Returns 1 with the next item in *item (length *len), 0 at the end, -EINVAL on an
 * empty item ("a,,b", "a,"). */
static int list_next(struct list_iter *it, const char **item, size_t *len)
{
	const char *s = it->p, *e;

	if (!s)
		return 0;
	e = memchr(s, ',', (size_t)(it->end - s));
	it->p = e ? e + 1 : NULL;
	if (!e)
		e = it->end;
	while (s < e && is_blank(*s))
		s++;
	while (e > s && is_blank(e[-1]))
		e--;
	*item = s;
	*len = (size_t)(e - s);
	return *len ? 1 : -EINVAL;
}

static bool same_listener(const struct netaddr *a, const struct netaddr *b)
{
	return a->family == b->family && a->port == b->port &&
	       memcmp(a->ip, b->ip, netaddr_ip_len(a)) == 0;
}

/* Parses one listen address into a zeroed struct (so padding compares
 * equal). Port 0 means an ephemeral port: the kernel picks it at the first
 * bind, every worker shares it, and the start-up log names it. */
static int parse_listener(const char *item, size_t len, struct netaddr *a, char *why, size_t cap)
{
	char text[NETADDR_TEXT_MAX];

	memset(a, 0, sizeof(*a));
	if (len >= sizeof(text))
		goto bad;
	memcpy(text, item, len);
	text[len] = '\0';
	if (netaddr_parse(text, a) < 0)
		goto bad;
	return 0;
bad:
	set_err(why, cap, "'%.*s' is not an address like 0.0.0.0:6969 or [::]:6969",
		(int)(len < 64 ? len : 64), item);
	return -EINVAL;
}

static int apply_listen(struct config *c, const struct key_def *k, const char *value, bool first,
			char *why, size_t cap)
{
	struct netaddr *arr = FIELD(c, k->off, struct netaddr);
	size_t *n = FIELD(c, k->off_n, size_t);
	struct list_iter it;
	const char *item;
	size_t len;
	int rc;

	if (first) {
		memset(arr, 0, CONFIG_MAX_LISTEN * sizeof(*arr));
		*n = 0;
	}
	list_begin(&it, value);
	while ((rc = list_next(&it, &item, &len)) > 0) {
		struct netaddr a;
		if (parse_listener(item, len, &a, why, cap) < 0)
			return -EINVAL;
		for (size_t i = 0; i < *n; i++) {
			if (same_listener(&arr[i], &a)) {
				set_err(why, cap, "'%.*s' is listed twice", (int)len, item);
				return -EINVAL;
			}
		}
		if (*n == CONFIG_MAX_LISTEN) {
			set_err(why, cap, "more than %d addresses", CONFIG_MAX_LISTEN);
			return -EINVAL;
		}
		memcpy(&arr[(*n)++], &a, sizeof(a));
	}
	if (rc < 0)
		set_err(why, cap, "'%.64s' has an empty item", value);
	return rc;
}

static int apply_addr(struct config *c, const struct key_def *k, const char *value, char *why,
		      size_t cap)
{
	struct netaddr *a = FIELD(c, k->off, struct netaddr);
	bool *has = FIELD(c, k->off_n, bool);
	struct list_iter it;

	list_begin(&it, value);
	if (!it.p) {
		memset(a, 0, sizeof(*a));
		*has = false;
		return 0;
	}
	if (parse_listener(it.p, (size_t)(it.end - it.p), a, why, cap) < 0)
		return -EINVAL;
	*has = true;
	return 0;
}

static int apply_nets(struct config *c, const struct key_def *k, const char *value, bool first,
		      char *why, size_t cap)
{
	struct config_net *arr = FIELD(c, k->off, struct config_net);
	size_t *n = FIELD(c, k->off_n, size_t);
	struct list_iter it;
	const char *item;
	size_t len;
	int rc;

	if (first) {
		memset(arr, 0, CONFIG_MAX_PROXIES * sizeof(*arr));
		*n = 0;
	}
	list_begin(&it, value);
	while ((rc = list_next(&it, &item, &len)) > 0) {
		char text[NETADDR_TEXT_MAX];
		struct config_net net;
		memset(&net, 0, sizeof(net));
		if (len >= sizeof(text)) {
			set_err(why, cap, "'%.64s' is not a network like 10.0.0.0/8 or fd00::/8", item);
			return -EINVAL;
		}
		memcpy(text, item, len);
		text[len] = '\0';
		if (netaddr_parse_prefix(text, &net.addr, &net.bits) < 0) {
			set_err(why, cap,
				"'%s' is not a network like 10.0.0.0/8 or fd00::/8 (host bits zero)",
				text);
			return -EINVAL;
		}
		if (*n == CONFIG_MAX_PROXIES) {
			set_err(why, cap, "more than %d networks", CONFIG_MAX_PROXIES);
			return -EINVAL;
		}
		arr[(*n)++] = net;
	}
	if (rc < 0)
		set_err(why, cap, "'%.64s' has an empty item", value);
	return rc;
}

/* An HTTP header name: a token of letters, digits and '-'. */
static int apply_text(struct config *c, const struct key_def *k, const char *value, char *why,
		      size_t cap)
{
	char *dst = FIELD(c, k->off, char);
	size_t len = strlen(value);

	while (len && (value[len - 1] == ' ' || value[len - 1] == '\t'))
		len--;
	while (*value == ' ' || *value == '\t') {
		value++;
		len--;
	}
	if (len == 0 || len >= CONFIG_HEADER_MAX) {
		set_err(why, cap, "a header name of 1 to %d characters is needed", CONFIG_HEADER_MAX - 1);
		return -EINVAL;
	}
	for (size_t i = 0; i < len; i++) {
		char ch = value[i];
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
		      ch == '-')) {
			set_err(why, cap, "'%.*s' is not a header name (letters, digits, '-')", (int)len,
				value);
			return -EINVAL;
		}
	}
	memset(dst, 0, CONFIG_HEADER_MAX);
	memcpy(dst, value, len);
	return 0;
}

/* A network interface name as the kernel accepts it (dev_valid_name): up to
 * IFNAMSIZ - 1 characters, not "." or "..", no '/', ':' or blanks. Empty
 * means none. */
static bool ifname_ok(const char *name)
{
	size_t len = strlen(name);

	if (len == 0)
		return true;
	if (len >= CONFIG_IFNAME_MAX || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		return false;
	for (size_t i = 0; i < len; i++)
		if (name[i] == '/' || name[i] == ':' || name[i] <= ' ' || name[i] == 0x7f)
			return false;
	return true;
}

/* A POSIX-ish user name: a letter or '_', then letters, digits, '_', '.', '-'. */
static bool user_ok(const char *name)
{
	size_t len = strlen(name);

	if (len >= CONFIG_USER_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		char ch = name[i];
		bool alpha = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || ch == '_';
		if (!alpha && (i == 0 || !((ch >= '0' && ch <= '9') || ch == '.' || ch == '-')))
			return false;
	}
	return true;
}

/* A name key (user, interface): blanks trimmed, checked by ok, stored
 * NUL-padded in a field of max bytes; explain says what a valid one is. */
static int apply_name(struct config *c, const struct key_def *k, const char *value, char *why,
		      size_t cap, size_t max, bool (*ok)(const char *), const char *explain)
{
	char *dst = FIELD(c, k->off, char);
	struct list_iter it;
	char name[64];
	size_t len;

	list_begin(&it, value); /* trims blanks; it.p is NULL for an empty value */
	len = it.p ? (size_t)(it.end - it.p) : 0;
	if (len >= max || len >= sizeof(name))
		goto bad;
	memcpy(name, it.p ? it.p : "", len);
	name[len] = '\0';
	if (!ok(name))
		goto bad;
	memset(dst, 0, max);
	memcpy(dst, name, len);
	return 0;
bad:
	set_err(why, cap, "'%.64s' is not %s", value, explain);
	return -EINVAL;
}

static int apply_user(struct config *c, const struct key_def *k, const char *value, char *why,
		      size_t cap)
{
	return apply_name(c, k, value, why, cap, CONFIG_USER_MAX, user_ok,
			  "a user name (up to 32 letters, digits, '_', '.', '-')");
}

static int apply_ifname(struct config *c, const struct key_def *k, const char *value, char *why,
			size_t cap)
{
	return apply_name(c, k, value, why, cap, CONFIG_IFNAME_MAX, ifname_ok,
			  "an interface name (1 to 15 characters, no '/', ':' or blanks)");
}

/* Writes the key's choices as "a, b or c" into buf. */
static void format_choices(const struct key_def *k, char *buf, size_t cap)
{
	size_t n = 0;

	buf[0] = '\0';
	for (size_t i = 0; k->choices[i] && n < cap; i++) {
		const char *sep = i == 0 ? "" : k->choices[i + 1] ? ", " : " or ";
		n += (size_t)snprintf(buf + n, cap - n, "%s%s", sep, k->choices[i]);
	}
}

/* Name of choice v of key k ("?" when out of range). */
static const char *choice_name(const struct key_def *k, uint64_t v)
{
	for (uint64_t i = 0; k->choices[i]; i++)
		if (i == v)
			return k->choices[i];
	return "?";
}

static int apply_choice(struct config *c, const struct key_def *k, const char *value, char *why,
			size_t cap)
{
	struct list_iter it;
	char names[128];

	list_begin(&it, value);
	for (uint32_t i = 0; it.p && k->choices[i]; i++) {
		if (strlen(k->choices[i]) == (size_t)(it.end - it.p) &&
		    memcmp(k->choices[i], it.p, (size_t)(it.end - it.p)) == 0) {
			*FIELD(c, k->off, uint32_t) = i;
			return 0;
		}
	}
	format_choices(k, names, sizeof(names));
	set_err(why, cap, "'%.64s' is not one of %s", value, names);
	return -EINVAL;
}

/* ---- CPU lists --------------------------------------------------------- */

enum cpu_item { CPU_OK, CPU_SYNTAX, CPU_TOO_BIG, CPU_DESCENDING, CPU_NOT_AFTER };

/* Parses "N" or "N-M" (N <= M < CONFIG_MAX_CPUS) from item[0..len). */
static enum cpu_item parse_cpu_range(const char *item, size_t len, unsigned *lo, unsigned *hi)
{
	char text[32];
	char *dash;
	uint64_t a, b;

	if (len >= sizeof(text))
		return CPU_SYNTAX;
	memcpy(text, item, len);
	text[len] = '\0';
	dash = strchr(text, '-');
	if (dash)
		*dash = '\0';
	if (parse_u64(text, false, &a) < 0)
		return CPU_SYNTAX;
	b = a;
	if (dash && parse_u64(dash + 1, false, &b) < 0)
		return CPU_SYNTAX;
	if (a >= CONFIG_MAX_CPUS || b >= CONFIG_MAX_CPUS)
		return CPU_TOO_BIG;
	if (a > b)
		return CPU_DESCENDING;
	*lo = (unsigned)a;
	*hi = (unsigned)b;
	return CPU_OK;
}

static void explain_cpu_item(enum cpu_item e, const char *item, size_t len, char *why, size_t cap)
{
	int n = (int)(len < 64 ? len : 64);

	if (e == CPU_TOO_BIG)
		set_err(why, cap, "'%.*s': CPU numbers go up to %d", n, item, CONFIG_MAX_CPUS - 1);
	else if (e == CPU_DESCENDING)
		set_err(why, cap, "'%.*s' is a descending range", n, item);
	else if (e == CPU_NOT_AFTER)
		set_err(why, cap, "'%.*s': list CPUs in ascending order, without overlap", n, item);
	else
		set_err(why, cap, "'%.*s' is not a CPU number or range like 0-3", n, item);
}

/* Items must be in ascending order without overlap: "0-3,5,7-8". */
static int apply_cpus(struct config *c, const struct key_def *k, const char *value, bool first,
		      char *why, size_t cap)
{
	uint8_t *bits = FIELD(c, k->off, uint8_t);
	bool *has = FIELD(c, k->off_n, bool);
	uint8_t add[CONFIG_MAX_CPUS / 8] = {0};
	struct list_iter it;
	const char *item;
	size_t len;
	int next = 0; /* lowest CPU the next item may start at */
	int rc;

	list_begin(&it, value);
	while ((rc = list_next(&it, &item, &len)) > 0) {
		unsigned lo = 0, hi = 0;
		enum cpu_item e = parse_cpu_range(item, len, &lo, &hi);
		if (e == CPU_OK && (int)lo < next)
			e = CPU_NOT_AFTER;
		if (e != CPU_OK) {
			explain_cpu_item(e, item, len, why, cap);
			return -EINVAL;
		}
		for (unsigned cpu = lo; cpu <= hi; cpu++)
			add[cpu / 8] |= (uint8_t)(1u << (cpu % 8));
		next = (int)hi + 1;
	}
	if (rc < 0) {
		set_err(why, cap, "'%.64s' has an empty item", value);
		return rc;
	}
	if (first) {
		memset(bits, 0, CONFIG_MAX_CPUS / 8);
		*has = false;
	}
	for (size_t i = 0; i < sizeof(add); i++)
		bits[i] |= add[i];
	*has = *has || next > 0;
	return 0;
}

/* ---- applying one key -------------------------------------------------- */

/* Sets key k from text. seen[] tracks which list keys were already given in
 * this file or on this command line: the first occurrence replaces the list.
 * On error writes what is wrong (without the key's name) into why. */
static int apply_value(struct config *c, const struct key_def *k, const char *value, bool *seen,
		       char *why, size_t cap)
{
	size_t idx = (size_t)(k - keys);
	bool first = !seen[idx];

	seen[idx] = true;
	switch (k->kind) {
	case KIND_LISTEN:
		return apply_listen(c, k, value, first, why, cap);
	case KIND_ADDR:
		return apply_addr(c, k, value, why, cap);
	case KIND_CPUS:
		return apply_cpus(c, k, value, first, why, cap);
	case KIND_COUNT:
	case KIND_SIZE:
	case KIND_BOOL:
		return apply_number(c, k, value, why, cap);
	case KIND_NETS:
		return apply_nets(c, k, value, first, why, cap);
	case KIND_TEXT:
		return apply_text(c, k, value, why, cap);
	case KIND_IFNAME:
		return apply_ifname(c, k, value, why, cap);
	case KIND_USER:
		return apply_user(c, k, value, why, cap);
	case KIND_CHOICE:
		return apply_choice(c, k, value, why, cap);
	}
	return -EINVAL;
}

static bool section_known(const char *section)
{
	for (size_t i = 0; i < N_KEYS; i++)
		if (strcmp(keys[i].section, section) == 0)
			return true;
	return false;
}

/* Finds [section] name, or explains why not. */
static const struct key_def *find_key(const char *section, const char *name, char *why, size_t cap)
{
	const struct key_def *elsewhere = NULL;

	for (size_t i = 0; i < N_KEYS; i++) {
		if (strcmp(keys[i].name, name) != 0)
			continue;
		if (strcmp(keys[i].section, section) == 0)
			return &keys[i];
		elsewhere = &keys[i];
	}
	if (*section && !section_known(section))
		set_err(why, cap, "unknown section");
	else if (elsewhere)
		set_err(why, cap, "%s (it belongs in [%s])",
			*section ? "unknown key in this section" : "key outside a section",
			elsewhere->section);
	else
		set_err(why, cap, "unknown key");
	return NULL;
}

/* ---- INI file ---------------------------------------------------------- */

struct loader {
	struct config *c;
	const char *path;
	FILE *f;
	char *err;
	size_t errcap;
	bool seen[N_KEYS];
	int line;	/* line last handed to libinih, from 1 */
	int fail_line;	/* first line with an error we reported, or 0 */
	int read_errno; /* errno of a failed read, or 0 */
};

/* libinih line reader: counts lines, strips leading blanks and refuses lines
 * longer than libinih's buffer. Returning NULL stops the parse. */
static char *ini_read_line(char *buf, int cap, void *stream)
{
	struct loader *ld = stream;
	size_t len, skip;

	if (ld->fail_line || ld->read_errno)
		return NULL;
	if (!fgets(buf, cap, ld->f)) {
		if (ferror(ld->f))
			ld->read_errno = errno ? errno : EIO;
		return NULL;
	}
	ld->line++;
	len = strlen(buf);
	if (len > 0 && buf[len - 1] != '\n' && !feof(ld->f)) {
		int ch = fgetc(ld->f);
		if (ch != EOF && ch != '\n') {
			set_err(ld->err, ld->errcap, "%s:%d: line longer than %d characters",
				ld->path, ld->line, cap - 3);
			ld->fail_line = ld->line;
			return NULL;
		}
	}
	skip = strspn(buf, " \t");
	memmove(buf, buf + skip, len - skip + 1);
	return buf;
}

static int ini_on_pair(void *user, const char *section, const char *name, const char *value)
{
	struct loader *ld = user;
	const struct key_def *k;
	char why[CONFIG_ERROR_MAX];

	if (ld->fail_line)
		return 0;
	k = find_key(section, name, why, sizeof(why));
	if (k && apply_value(ld->c, k, value, ld->seen, why, sizeof(why)) == 0)
		return 1;
	set_err(ld->err, ld->errcap, "%s:%d: [%s] %s: %s", ld->path, ld->line, section, name, why);
	ld->fail_line = ld->line;
	return 0;
}

int config_load_file(struct config *c, const char *path, char *err, size_t errcap)
{
	struct loader ld;
	int rc = 0, bad;

	memset(&ld, 0, sizeof(ld));
	ld.c = c;
	ld.path = path;
	ld.err = err;
	ld.errcap = errcap;
	ld.f = fopen(path, "re");
	if (!ld.f) {
		rc = -errno;
		set_err(err, errcap, "%s: %s", path, strerror(-rc));
		return rc;
	}
	bad = ini_parse_stream(ini_read_line, &ld, ini_on_pair, &ld);
	if (ld.read_errno) {
		rc = -ld.read_errno;
		set_err(err, errcap, "%s: %s", path, strerror(ld.read_errno));
	} else if (bad > 0 && (!ld.fail_line || bad < ld.fail_line)) {
		rc = -EINVAL;
		set_err(err, errcap, "%s:%d: expected [section] or key = value", path, bad);
	} else if (ld.fail_line) {
		rc = -EINVAL; /* message already written */
	} else if (bad < 0) {
		rc = -ENOMEM;
		set_err(err, errcap, "%s: %s", path, strerror(ENOMEM));
	}
	fclose(ld.f);
	return rc;
}

/* ---- validation -------------------------------------------------------- */

static int check_listeners(const struct netaddr *a, size_t n, char *why, size_t cap)
{
	char text[NETADDR_TEXT_MAX];

	if (n > CONFIG_MAX_LISTEN) {
		set_err(why, cap, "more than %d addresses", CONFIG_MAX_LISTEN);
		return -EINVAL;
	}
	for (size_t i = 0; i < n; i++) {
		if (a[i].family != AF_INET && a[i].family != AF_INET6) {
			set_err(why, cap, "address %zu has no address family", i + 1);
			return -EINVAL;
		}
		netaddr_format(&a[i], text, sizeof(text));
		for (size_t j = 0; j < i; j++) {
			if (same_listener(&a[i], &a[j])) {
				set_err(why, cap, "'%s' is listed twice", text);
				return -EINVAL;
			}
		}
	}
	return 0;
}

static int check_cpus(const uint8_t *bits, bool has, char *why, size_t cap)
{
	bool any = false;

	for (size_t i = 0; i < CONFIG_MAX_CPUS / 8; i++)
		any = any || bits[i];
	if (has && !any) {
		set_err(why, cap, "the CPU set is empty");
		return -EINVAL;
	}
	if (!has && any) {
		set_err(why, cap, "CPU bits are set but has_cpus is false");
		return -EINVAL;
	}
	return 0;
}

/* Checks one key's value on its own (ranges, list shape). */
static int check_key(const struct config *c, const struct key_def *k, char *why, size_t cap)
{
	char text[32];
	uint64_t v;

	switch (k->kind) {
	case KIND_LISTEN:
		return check_listeners(CFIELD(c, k->off, struct netaddr),
				       *CFIELD(c, k->off_n, size_t), why, cap);
	case KIND_ADDR:
		return *CFIELD(c, k->off_n, bool)
			   ? check_listeners(CFIELD(c, k->off, struct netaddr), 1, why, cap)
			   : 0;
	case KIND_CPUS:
		return check_cpus(CFIELD(c, k->off, uint8_t), *CFIELD(c, k->off_n, bool), why, cap);
	case KIND_COUNT:
	case KIND_SIZE:
	case KIND_BOOL:
	case KIND_CHOICE:
		v = get_number(c, k);
		if (number_ok(k, v))
			return 0;
		format_number(k, v, text, sizeof(text));
		explain_number(k, text, why, cap);
		return -EINVAL;
	case KIND_NETS:
		if (*CFIELD(c, k->off_n, size_t) <= CONFIG_MAX_PROXIES)
			return 0;
		set_err(why, cap, "more than %d networks", CONFIG_MAX_PROXIES);
		return -EINVAL;
	case KIND_TEXT:
		if (CFIELD(c, k->off, char)[0] && memchr(CFIELD(c, k->off, char), 0, CONFIG_HEADER_MAX))
			return 0;
		set_err(why, cap, "a header name is needed");
		return -EINVAL;
	case KIND_IFNAME:
		if (memchr(CFIELD(c, k->off, char), 0, CONFIG_IFNAME_MAX) &&
		    ifname_ok(CFIELD(c, k->off, char)))
			return 0;
		set_err(why, cap, "not an interface name");
		return -EINVAL;
	case KIND_USER:
		if (memchr(CFIELD(c, k->off, char), 0, CONFIG_USER_MAX) &&
		    user_ok(CFIELD(c, k->off, char)))
			return 0;
		set_err(why, cap, "not a user name");
		return -EINVAL;
	}
	return -EINVAL;
}

/* Two TCP listeners collide when they share family and port and either one
 * is the wildcard or both have the same address. Port 0 never collides: the
 * kernel gives each socket its own port. */
static bool tcp_overlap(const struct netaddr *a, const struct netaddr *b)
{
	static const uint8_t zero[16];
	size_t n = netaddr_ip_len(a);

	if (a->family != b->family || a->port != b->port || a->port == 0)
		return false;
	return memcmp(a->ip, zero, n) == 0 || memcmp(b->ip, zero, n) == 0 ||
	       memcmp(a->ip, b->ip, n) == 0;
}

static int check_metrics(const struct config *c, char *err, size_t errcap)
{
	char m[NETADDR_TEXT_MAX], h[NETADDR_TEXT_MAX];

	if (!c->has_metrics)
		return 0;
	for (size_t i = 0; i < c->n_http; i++) {
		if (!tcp_overlap(&c->metrics, &c->http[i]))
			continue;
		netaddr_format(&c->metrics, m, sizeof(m));
		netaddr_format(&c->http[i], h, sizeof(h));
		set_err(err, errcap, "metrics: '%s' clashes with http listener '%s'", m, h);
		return -EINVAL;
	}
	return 0;
}

static int check_cross(const struct config *c, char *err, size_t errcap)
{
	if (c->n_udp == 0) {
		set_err(err, errcap, "udp: at least one UDP listen address is required");
		return -EINVAL;
	}
	if (c->peer_timeout < c->announce_interval) {
		set_err(err, errcap, "peer_timeout: %u is shorter than announce_interval (%u)",
			c->peer_timeout, c->announce_interval);
		return -EINVAL;
	}
	if (c->numwant_default > c->numwant_max) {
		set_err(err, errcap, "numwant_default: %u is above numwant_max (%u)",
			c->numwant_default, c->numwant_max);
		return -EINVAL;
	}
	if ((uint64_t)c->connid_lifetime + c->connid_grace >= 32768) {
		set_err(err, errcap,
			"connection_id_grace: connection_id_lifetime + connection_id_grace = %llu, "
			"must be below 32768",
			(unsigned long long)c->connid_lifetime + c->connid_grace);
		return -EINVAL;
	}
	if (c->http_max_line > c->http_max_header) {
		set_err(err, errcap, "max_request_line: %u is above max_header (%u)", c->http_max_line,
			c->http_max_header);
		return -EINVAL;
	}
	if (c->xdp_required && !c->xdp_interface[0]) {
		set_err(err, errcap,
			"required: the XDP prefilter is required but no interface is "
			"given (--xdp IFACE or [xdp] interface)");
		return -EINVAL;
	}
	return check_metrics(c, err, errcap);
}

int config_validate(const struct config *c, char *err, size_t errcap)
{
	char why[CONFIG_ERROR_MAX];

	for (size_t i = 0; i < N_KEYS; i++) {
		if (check_key(c, &keys[i], why, sizeof(why)) < 0) {
			set_err(err, errcap, "%s: %s", keys[i].name, why);
			return -EINVAL;
		}
	}
	return check_cross(c, err, errcap);
}

/* ---- command line ------------------------------------------------------ */

enum flag_id { FLAG_CONFIG, FLAG_HELP, FLAG_VERSION, FLAG_PRINT, FLAG_KEY };

/* One flag as found in argv. */
struct flag {
	enum flag_id id;
	const struct key_def *key; /* FLAG_KEY: the key it sets */
	const char *name;	   /* as written, e.g. "--udp" in "--udp=..." */
	int name_len;
	const char *value; /* NULL for flags without a value */
};

static const struct {
	const char *name; /* without the leading "--" */
	enum flag_id id;
} plain_flags[] = {
    {"config", FLAG_CONFIG},
    {"help", FLAG_HELP},
    {"version", FLAG_VERSION},
    {"print-config", FLAG_PRINT},
};

/* Looks up a long flag by name (with its "--"). */
static bool lookup_long(const char *name, size_t len, struct flag *f)
{
	for (size_t i = 0; i < ARRAY_SIZE(plain_flags); i++) {
		if (strlen(plain_flags[i].name) == len - 2 &&
		    memcmp(plain_flags[i].name, name + 2, len - 2) == 0) {
			f->id = plain_flags[i].id;
			return true;
		}
	}
	for (size_t i = 0; i < N_KEYS; i++) {
		if (keys[i].flag && strlen(keys[i].flag) == len &&
		    memcmp(keys[i].flag, name, len) == 0) {
			f->id = FLAG_KEY;
			f->key = &keys[i];
			return true;
		}
	}
	return false;
}

/* Splits argv[*i] into a flag and, where it takes one, its value (attached
 * with '=' for long flags, attached for -cFILE, or the next argument).
 * Advances *i past what it used. */
static int next_flag(int argc, char **argv, int *i, struct flag *f, char *err, size_t errcap)
{
	const char *arg = argv[(*i)++];
	const char *attached = NULL;
	bool takes_value;

	memset(f, 0, sizeof(*f));
	f->name = arg;
	if (arg[0] == '-' && arg[1] == '-' && arg[2]) {
		const char *eq = strchr(arg, '=');
		f->name_len = eq ? (int)(eq - arg) : (int)strlen(arg);
		attached = eq ? eq + 1 : NULL;
		if (!lookup_long(arg, (size_t)f->name_len, f))
			goto unknown;
	} else if (arg[0] == '-' && (arg[1] == 'c' || arg[1] == 'h')) {
		f->name_len = 2;
		f->id = arg[1] == 'c' ? FLAG_CONFIG : FLAG_HELP;
		attached = arg[2] ? arg + 2 : NULL;
	} else if (arg[0] == '-') {
		f->name_len = (int)strlen(arg);
		goto unknown;
	} else {
		set_err(err, errcap, "'%.64s': unexpected argument (options start with -)", arg);
		return -EINVAL;
	}

	/* A boolean flag takes no value, but "--flag=0" and "--flag=1" work. */
	if (f->id == FLAG_KEY && f->key->kind == KIND_BOOL) {
		f->value = attached ? attached : "1";
		return 0;
	}
	takes_value = f->id == FLAG_CONFIG || f->id == FLAG_KEY;
	if (!takes_value && attached) {
		set_err(err, errcap, "%.*s: takes no value", f->name_len, f->name);
		return -EINVAL;
	}
	if (takes_value && !attached) {
		if (*i >= argc) {
			set_err(err, errcap, "%.*s: missing value", f->name_len, f->name);
			return -EINVAL;
		}
		attached = argv[(*i)++];
	}
	f->value = attached;
	return 0;
unknown:
	set_err(err, errcap, "%.*s: unknown option (see --help)", f->name_len, f->name);
	return -EINVAL;
}

/* First pass: checks every flag's syntax and collects -c, -h, --version and
 * --print-config. */
static int scan_flags(struct config_args *args, int argc, char **argv, char *err, size_t errcap)
{
	struct flag f;

	for (int i = 1; i < argc;) {
		if (next_flag(argc, argv, &i, &f, err, errcap) < 0)
			return -EINVAL;
		switch (f.id) {
		case FLAG_CONFIG:
			if (args->config_file) {
				set_err(err, errcap, "%.*s: only one config file may be given",
					f.name_len, f.name);
				return -EINVAL;
			}
			args->config_file = f.value;
			break;
		case FLAG_HELP:
			args->help = true;
			break;
		case FLAG_VERSION:
			args->version = true;
			break;
		case FLAG_PRINT:
			args->print_config = true;
			break;
		case FLAG_KEY:
			break;
		}
	}
	return 0;
}

/* Second pass: applies the flags that set keys, over the file's values. */
static int apply_flags(struct config *c, int argc, char **argv, char *err, size_t errcap)
{
	bool seen[N_KEYS] = {false};
	char why[CONFIG_ERROR_MAX];
	struct flag f;

	for (int i = 1; i < argc;) {
		if (next_flag(argc, argv, &i, &f, err, errcap) < 0)
			return -EINVAL;
		if (f.id != FLAG_KEY)
			continue;
		if (apply_value(c, f.key, f.value, seen, why, sizeof(why)) < 0) {
			set_err(err, errcap, "%.*s: %s", f.name_len, f.name, why);
			return -EINVAL;
		}
	}
	return 0;
}

/* With -h or --version only the flags' syntax is checked: the file is not
 * read and *c keeps the defaults, so help works even with a broken config. */
int config_parse_args(struct config *c, struct config_args *args, int argc, char **argv, char *err,
		      size_t errcap)
{
	int rc;

	memset(args, 0, sizeof(*args));
	config_defaults(c);
	set_err(err, errcap, "%s", "");
	rc = scan_flags(args, argc, argv, err, errcap);
	if (rc < 0 || args->help || args->version)
		return rc;
	if (args->config_file) {
		rc = config_load_file(c, args->config_file, err, errcap);
		if (rc < 0 && rc != -EINVAL)
			set_err(err, errcap, "-c %s: %s", args->config_file, strerror(-rc));
		if (rc < 0)
			return rc;
	}
	rc = apply_flags(c, argc, argv, err, errcap);
	if (rc < 0)
		return rc;
	return config_validate(c, err, errcap);
}

/* ---- printing ---------------------------------------------------------- */

/* Builds "key = a, b, c" lines, starting a new "key =" line (which adds to
 * the list on load) before a line grows past PRINT_WRAP characters. */
struct list_out {
	FILE *out;
	const char *key;
	char line[PRINT_WRAP + NETADDR_TEXT_MAX + 8];
	size_t len;
	bool any; /* a line was written */
};

static void list_out_flush(struct list_out *lo)
{
	fprintf(lo->out, "%s =%s%s\n", lo->key, lo->len ? " " : "", lo->line);
	lo->len = 0;
	lo->line[0] = '\0';
	lo->any = true;
}

static void list_out_add(struct list_out *lo, const char *item)
{
	size_t n = strlen(item);

	if (lo->len && lo->len + n + 2 > PRINT_WRAP)
		list_out_flush(lo);
	if (lo->len) {
		memcpy(lo->line + lo->len, ", ", 2);
		lo->len += 2;
	}
	memcpy(lo->line + lo->len, item, n + 1);
	lo->len += n;
}

static void list_out_end(struct list_out *lo)
{
	if (lo->len || !lo->any)
		list_out_flush(lo);
}

static void print_listeners(struct list_out *lo, const struct netaddr *a, size_t n)
{
	char text[NETADDR_TEXT_MAX];

	for (size_t i = 0; i < n && i < CONFIG_MAX_LISTEN; i++) {
		if (netaddr_format(&a[i], text, sizeof(text)) >= 0)
			list_out_add(lo, text);
	}
}

static void print_nets(struct list_out *lo, const struct config_net *n, size_t count)
{
	char text[NETADDR_TEXT_MAX];

	for (size_t i = 0; i < count && i < CONFIG_MAX_PROXIES; i++)
		if (netaddr_format_prefix(&n[i].addr, n[i].bits, text, sizeof(text)) >= 0)
			list_out_add(lo, text);
}

static void print_cpus(struct list_out *lo, const struct config *c)
{
	char text[32];

	if (!c->has_cpus)
		return;
	for (unsigned cpu = 0; cpu < CONFIG_MAX_CPUS; cpu++) {
		unsigned last = cpu;
		if (!config_cpu_allowed(c, cpu))
			continue;
		while (last + 1 < CONFIG_MAX_CPUS && config_cpu_allowed(c, last + 1))
			last++;
		if (last > cpu)
			snprintf(text, sizeof(text), "%u-%u", cpu, last);
		else
			snprintf(text, sizeof(text), "%u", cpu);
		list_out_add(lo, text);
		cpu = last;
	}
}

static void print_range(const struct key_def *k, FILE *out)
{
	char lo[32], hi[32];

	if (k->kind == KIND_CHOICE) {
		format_choices(k, lo, sizeof(lo));
		fprintf(out, " (%s)", lo);
		return;
	}
	if (k->kind != KIND_COUNT && k->kind != KIND_SIZE && k->kind != KIND_BOOL)
		return;
	format_number(k, k->min, lo, sizeof(lo));
	format_number(k, k->max, hi, sizeof(hi));
	fprintf(out, " (%s%s..%s)", k->pow2 ? "power of two, " : "", lo, hi);
}

static void print_key(const struct config *c, const struct key_def *k, FILE *out)
{
	struct list_out lo = {.out = out, .key = k->name};
	char text[32];

	fprintf(out, "# %s", k->help);
	print_range(k, out);
	fputc('\n', out);
	switch (k->kind) {
	case KIND_LISTEN:
		print_listeners(&lo, CFIELD(c, k->off, struct netaddr),
				*CFIELD(c, k->off_n, size_t));
		break;
	case KIND_ADDR:
		if (*CFIELD(c, k->off_n, bool))
			print_listeners(&lo, CFIELD(c, k->off, struct netaddr), 1);
		break;
	case KIND_CPUS:
		print_cpus(&lo, c);
		break;
	case KIND_COUNT:
	case KIND_SIZE:
	case KIND_BOOL:
		format_number(k, get_number(c, k), text, sizeof(text));
		fprintf(out, "%s = %s\n", k->name, text);
		return;
	case KIND_CHOICE:
		fprintf(out, "%s = %s\n", k->name, choice_name(k, get_number(c, k)));
		return;
	case KIND_IFNAME:
	case KIND_USER:
		fprintf(out, "%s =%s%s\n", k->name, CFIELD(c, k->off, char)[0] ? " " : "",
			CFIELD(c, k->off, char));
		return;
	case KIND_NETS:
		print_nets(&lo, CFIELD(c, k->off, struct config_net), *CFIELD(c, k->off_n, size_t));
		break;
	case KIND_TEXT:
		fprintf(out, "%s = %s\n", k->name, CFIELD(c, k->off, char));
		return;
	}
	list_out_end(&lo);
}

static const char print_header[] =
    "# ringtracker configuration (INI). Load it with: ringtracker -c FILE\n"
    "# Command-line flags override these values.\n"
    "# Lists (udp, http, cpus) are comma-separated; a repeated list key adds to\n"
    "# the list. An empty list means none: \"http =\" turns HTTP off, \"cpus =\"\n"
    "# uses every online CPU, \"metrics =\" serves no metrics.\n"
    "# Sizes take K, M, G or T (1024-based); durations are in seconds.\n";

int config_print(const struct config *c, FILE *out)
{
	const char *section = NULL;

	errno = 0;
	fputs(print_header, out);
	for (size_t i = 0; i < N_KEYS; i++) {
		if (!section || strcmp(section, keys[i].section) != 0) {
			section = keys[i].section;
			fprintf(out, "\n[%s]\n", section);
		}
		print_key(c, &keys[i], out);
	}
	if (fflush(out) != 0 || ferror(out))
		return errno ? -errno : -EIO;
	return 0;
}

/* ---- help -------------------------------------------------------------- */

static const char usage_text[] =
    "BitTorrent tracker: UDP (BEP 15) and HTTP (BEP 3) announces and scrapes.\n"
    "\n"
    "Options (--flag VALUE or --flag=VALUE):\n"
    "  -c, --config FILE    read an INI config file; flags override it\n"
    "  --udp ADDR:PORT      UDP listen address (default 0.0.0.0:6969 and [::]:6969);\n"
    "                       repeat or comma-separate; the first --udp replaces the\n"
    "                       file's list\n"
    "  --http ADDR:PORT     HTTP listen address, same rules and default;\n"
    "                       --http= turns HTTP off\n"
    "  --metrics ADDR:PORT  metrics endpoint: Prometheus /metrics, /top?n=N (busiest\n"
    "                       torrents, JSON) and /health (default 127.0.0.1:9469);\n"
    "                       --metrics= turns it off\n"
    "  --workers N          worker threads, 0..1024; 0 = one per CPU of the set\n"
    "  --cpus LIST          CPUs to run on, ascending, e.g. 0-3,5 (default: all online)\n"
    "  --xdp IFACE          attach the XDP prefilter (drops malformed BEP 15 packets\n"
    "                       in the kernel) to IFACE; needs root\n"
    "  --xdp-mode MODE      native, skb (generic; use it for lo) or auto (default)\n"
    "  --xdp-required       exit with status 2 when the prefilter cannot be loaded\n"
    "                       (default: say so in one line and run without it)\n"
    "  --print-config       print the effective configuration as INI and exit\n"
    "  -h, --help           print this help and exit\n"
    "  --version            print the version and exit\n"
    "\n"
    "ADDR is A.B.C.D or [IPv6]. Sizes in the file take K, M, G or T (1024-based).\n"
    "\n"
    "Config file sections and keys (--print-config shows values and ranges):\n";

void config_usage(FILE *out, const char *prog)
{
	const char *section = NULL;
	int col = 0;

	fprintf(out, "Usage: %s [-c FILE] [options]\n\n", prog ? prog : "ringtracker");
	fputs(usage_text, out);
	for (size_t i = 0; i < N_KEYS; i++) {
		if (!section || strcmp(section, keys[i].section) != 0) {
			section = keys[i].section;
			col = fprintf(out, "%s  [%s]", i ? "\n" : "", section) - (i ? 1 : 0);
		}
		if (col + 1 + (int)strlen(keys[i].name) > 78)
			col = fprintf(out, "\n           ") - 1;
		col += fprintf(out, " %s", keys[i].name);
	}
	fputc('\n', out);
}

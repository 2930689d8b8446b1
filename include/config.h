/* config.h - the tracker's effective configuration: defaults, INI file
 * (libinih), command-line flags, and printing it back as a config file.
 *
 * Built once by the main thread at start-up; read-only afterwards (workers
 * read it without locks). Errors are returned as one readable line naming the
 * key or flag; the caller prints it and exits with status 2.
 */
#ifndef RINGTRACKER_CONFIG_H
#define RINGTRACKER_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "netaddr.h"

#define CONFIG_MAX_LISTEN 16   /* per protocol */
#define CONFIG_MAX_CPUS 1024   /* highest CPU number + 1 accepted in a list */
#define CONFIG_ERROR_MAX 256   /* capacity of an error message */
#define CONFIG_MAX_PROXIES 16  /* trusted proxy networks */
#define CONFIG_HEADER_MAX 64   /* bytes of a header name, with its NUL */
#define CONFIG_USER_MAX 33   /* bytes of a user name, with its NUL */
#define CONFIG_IFNAME_MAX 16   /* bytes of a network interface name, with its NUL (IFNAMSIZ) */

/* How the XDP prefilter is attached ([xdp] mode). */
enum config_xdp_mode {
	CONFIG_XDP_AUTO,   /* native where the driver has it, else generic (skb) */
	CONFIG_XDP_NATIVE, /* driver mode only */
	CONFIG_XDP_SKB,    /* generic mode (any interface, lo included) */
};

/* A network: address with host bits zero, and its prefix length. */
struct config_net {
	struct netaddr addr; /* port unused */
	uint8_t bits;
};

struct config {
	/* [server] */
	struct netaddr udp[CONFIG_MAX_LISTEN];
	size_t n_udp;
	struct netaddr http[CONFIG_MAX_LISTEN];
	size_t n_http;
	struct netaddr metrics;
	bool has_metrics;
	uint32_t workers;                 /* 0 = one per CPU of the set */
	char user[CONFIG_USER_MAX];       /* drop to this user after binding; "" = stay */
	uint32_t log_level;               /* enum log_level: 0 error, 1 warn, 2 info */
	uint8_t cpus[CONFIG_MAX_CPUS / 8]; /* CPU n is bit n % 8 of byte n / 8;
					    * all zero = every online CPU */
	bool has_cpus;

	/* [tracker] */
	uint32_t announce_interval; /* seconds, sent to clients */
	uint32_t peer_timeout;      /* seconds without announce before a peer expires */
	uint32_t numwant_default;   /* peers sent when the client asks -1 or nothing */
	uint32_t numwant_max;       /* cap on peers per reply */
	uint32_t connid_lifetime;   /* seconds a connection id is valid */
	uint32_t connid_grace;      /* extra seconds accepted for late reuse */

	/* [limits] */
	uint64_t max_torrents;          /* whole process */
	uint32_t max_peers_per_torrent;
	uint64_t memory_budget;         /* bytes, whole process, swarm store */

	/* [http] */
	uint32_t http_max_connections; /* open connections per worker */
	uint32_t http_idle_timeout;    /* seconds a keep-alive connection may idle */
	uint32_t http_request_timeout; /* seconds to finish sending a request head */
	uint32_t http_max_line;        /* bytes of request line before 414 */
	uint32_t http_max_header;      /* bytes of request head before 431 */
	uint32_t http_scrape_max;      /* info hashes in one scrape */
	uint32_t full_scrape;          /* 1: GET /scrape without info_hash lists every torrent */
	uint32_t full_scrape_interval; /* seconds between full scrapes a worker serves */
	struct config_net trusted_proxies[CONFIG_MAX_PROXIES]; /* may set the peer address */
	size_t n_trusted_proxies;
	char forwarded_header[CONFIG_HEADER_MAX]; /* e.g. X-Forwarded-For */

	/* [io] */
	uint32_t recv_buffers;   /* provided buffers per worker, power of two, <= 32768 */
	uint32_t send_slots;     /* in-flight replies per worker */
	uint32_t handoff_ring;   /* bytes of each worker-to-worker ring, power of two */
	uint32_t ring_entries;   /* io_uring submission queue entries */

	/* [xdp] */
	char xdp_interface[CONFIG_IFNAME_MAX]; /* prefilter on this interface; "" = none */
	uint32_t xdp_mode;             /* enum config_xdp_mode */
	uint32_t xdp_required;         /* 1: exit 2 when the prefilter cannot be loaded */
	uint32_t xdp_scrape_max;       /* info hashes a UDP scrape may carry past the filter */
	uint32_t xdp_rate_limit_pps;   /* requests per second per source (IPv6: per /64); 0 = off */
	uint32_t xdp_rate_limit_burst; /* requests a source may send at once */
};

/* Fills *c with the defaults: UDP and HTTP on 0.0.0.0:6969 and [::]:6969,
 * metrics on 127.0.0.1:9469 (loopback only), one worker per online CPU, no XDP prefilter, and the tunables'
 * defaults. */
void config_defaults(struct config *c);

/* Loads an INI file over *c (keys it names replace the value in *c; a
 * repeated list key such as udp= appends, and its first occurrence clears the
 * list; "http =" with no value means no listener, likewise cpus and
 * metrics). Range checks per key only; cross-field rules are
 * config_validate's. Returns 0, or -EINVAL with a message in err (capacity
 * errcap) that names the file, line and key, or -errno when the file cannot
 * be read. */
int config_load_file(struct config *c, const char *path, char *err, size_t errcap);

/* Result of config_parse_args. */
struct config_args {
	const char *config_file; /* -c FILE, or NULL */
	bool print_config;       /* --print-config */
	bool help;               /* -h / --help */
	bool version;            /* --version */
};

/* Parses argv: first finds -c, loads defaults and that file into *c, then
 * applies the flags over it (flags override the file; the first --udp,
 * --http or --cpus replaces the file's list, later ones add to it), then
 * calls config_validate. With -h or --version only the flags' syntax is
 * checked and *c keeps the defaults. Returns 0, or -EINVAL with one line in
 * err naming the flag or key and what is wrong, or -errno (e.g. -ENOENT)
 * with "-c FILE: reason" when the config file cannot be read. Never prints
 * or exits. */
int config_parse_args(struct config *c, struct config_args *args, int argc, char **argv,
		      char *err, size_t errcap);

/* Checks cross-field rules (e.g. numwant_default <= numwant_max, at least one
 * listener, cpu set not empty, xdp required only with an interface). Returns
 * 0 or -EINVAL with a message. Called by config_parse_args; exported for
 * tests. */
int config_validate(const struct config *c, char *err, size_t errcap);

/* Writes the configuration as a valid INI file that config_load_file reads
 * back to the same values. Returns 0 or -errno on write error. */
int config_print(const struct config *c, FILE *out);

/* Writes the --help text. */
void config_usage(FILE *out, const char *prog);

/* True when a is inside one of the trusted proxy networks. */
bool config_trusted_proxy(const struct config *c, const struct netaddr *a);

/* True when CPU n is in the configured set (always true if no set given). */
bool config_cpu_allowed(const struct config *c, unsigned n);

/* Name of an [xdp] mode ("auto", "native", "skb"), "?" when out of range. */
const char *config_xdp_mode_name(uint32_t mode);

#endif

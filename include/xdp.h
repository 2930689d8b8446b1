/* xdp.h - loader of the optional XDP prefilter (bpf/prefilter.bpf.c): open
 * the libbpf skeleton, configure it, load it, attach it to an interface with
 * a bpf_link (so it goes away with the process), read its per-CPU counters,
 * detach and free it.
 *
 * Main thread only for open/configure/load/attach/detach/destroy; the
 * counters may be read from any thread while the filter exists (each read is
 * a few bpf() syscalls: not for the packet path). Errors: -errno plus one
 * readable line in the caller's buffer; nothing here prints or exits.
 */
#ifndef RINGTRACKER_XDP_H
#define RINGTRACKER_XDP_H

#include <stddef.h>
#include <stdint.h>

#include "../bpf/prefilter.h" /* enum prefilter_reason: the counter indices */

#define XDP_MAX_PORTS PREFILTER_MAX_PORTS
#define XDP_COUNTERS  PREFILTER_REASON_COUNT

struct xdp_filter;

enum xdp_attach_mode {
	XDP_ATTACH_AUTO,   /* native where the driver supports it, else generic */
	XDP_ATTACH_NATIVE, /* driver mode */
	XDP_ATTACH_SKB,	   /* generic mode: any interface, lo included */
};

/* What the program is configured with before load. */
struct xdp_options {
	uint16_t ports4[XDP_MAX_PORTS]; /* IPv4 tracker UDP ports, host order */
	size_t n_ports4;
	uint16_t ports6[XDP_MAX_PORTS]; /* IPv6 tracker UDP ports, host order */
	size_t n_ports6;
	uint32_t scrape_max;	   /* 1..74 info hashes per scrape */
	uint32_t rate_limit_pps;   /* per IPv4 address / IPv6 /64; 0 = off */
	uint32_t rate_limit_burst; /* >= 1 when rate_limit_pps > 0 */
};

/* Summed over CPUs; v[i] is counter enum prefilter_reason i. */
struct xdp_counters {
	uint64_t v[XDP_COUNTERS];
};

/* Opens the skeleton (no kernel object yet; libbpf's own messages are
 * silenced unless RINGTRACKER_XDP_DEBUG is set in the environment). Returns
 * the filter (caller frees with xdp_destroy) or NULL with a message. */
struct xdp_filter *xdp_open(char *err, size_t errcap);

/* Sets ports, scrape cap and rate limit. Before xdp_load only. Returns 0, or
 * -EINVAL (a message says which value) when a value is out of range. */
int xdp_configure(struct xdp_filter *f, const struct xdp_options *o, char *err, size_t errcap);

/* Loads program and maps into the kernel. Returns 0 or -errno (-EPERM
 * without privilege) with a message naming the cause. */
int xdp_load(struct xdp_filter *f, char *err, size_t errcap);

/* Attaches the loaded program to ifname through a bpf_link. AUTO tries the
 * driver's native mode and falls back to generic. Returns 0, -ENODEV for an
 * unknown interface, -EBUSY when another XDP program holds it, or -errno,
 * each with a message. */
int xdp_attach(struct xdp_filter *f, const char *ifname, enum xdp_attach_mode mode, char *err,
	       size_t errcap);

/* Mode actually attached (NATIVE or SKB), or AUTO when not attached. */
enum xdp_attach_mode xdp_attached_mode(const struct xdp_filter *f);

/* "auto", "native", "skb". */
const char *xdp_mode_name(enum xdp_attach_mode mode);

/* File descriptor of the loaded program (for bpf_prog_test_run_opts), or -1
 * before xdp_load. Owned by the filter. */
int xdp_prog_fd(const struct xdp_filter *f);

/* Reads the per-CPU counters summed over CPUs. Returns 0 or -errno. */
int xdp_read_counters(const struct xdp_filter *f, struct xdp_counters *out);

/* Zeroes the counters on every CPU (tests). Returns 0 or -errno. */
int xdp_reset_counters(const struct xdp_filter *f);

/* Counter i's name in the exit log ("passed", "drop_runt", ...), its
 * verdict label ("pass" or "drop") and its reason label ("valid", "runt",
 * ...) for ..._xdp_packets_total{verdict,reason}. "unknown" out of range. */
const char *xdp_counter_name(unsigned i);
const char *xdp_counter_verdict(unsigned i);
const char *xdp_counter_reason(unsigned i);
const char *xdp_counter_help(unsigned i);

/* Detaches (closes the link) if attached; the counters stay readable.
 * NULL is allowed. */
void xdp_detach(struct xdp_filter *f);

/* Detaches and frees everything. NULL is allowed. */
void xdp_destroy(struct xdp_filter *f);

#endif

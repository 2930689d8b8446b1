/* xdp.c - loader of the XDP prefilter (see xdp.h and bpf/prefilter.bpf.c).
 *
 * What it does: opens the libbpf skeleton the Makefile generates
 * (build/bpf/prefilter.skel.h, which embeds the BPF object), writes the
 * configuration into the program's .rodata before load (ports, scrape cap,
 * rate limit: no recompilation), loads it, attaches it with bpf_link_create
 * (a bpf_link: the kernel detaches it when the last descriptor closes, so a
 * killed tracker leaves nothing behind, unlike bpf_xdp_attach), sums the
 * per-CPU counters and names them for the exit log and the metrics endpoint.
 *
 * What it doesn't: decide whether a failure is fatal (main.c does, from
 * --xdp-required), or print anything. libbpf's own messages are silenced
 * unless RINGTRACKER_XDP_DEBUG is set, since a missing privilege would
 * otherwise print several lines where the tracker promises one.
 *
 * Thread: main thread, except xdp_read_counters (any thread). Memory: owns
 * the skeleton and the link descriptor; freed by xdp_destroy.
 */
#include "xdp.h"

#include <assert.h>
#include <errno.h>
#include <net/if.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/if_link.h>

#include "udp.h"

#include "prefilter.skel.h"

static_assert(PREFILTER_REQUEST_MAX == UDP_REQUEST_MAX, "filter and parser agree on oversized");
static_assert(PREFILTER_SCRAPE_MAX == UDP_SCRAPE_MAX_HASHES, "scrape cap");
static_assert(PREFILTER_CONNECT_LEN == UDP_CONNECT_REQUEST_LEN, "connect length");
static_assert(PREFILTER_ANNOUNCE_MIN == UDP_ANNOUNCE_REQUEST_LEN, "announce length");
static_assert(PREFILTER_PROTOCOL_MAGIC == UDP_PROTOCOL_MAGIC, "connect magic");
static_assert(sizeof(struct prefilter_rate_key) == 12, "rate key has no padding");

struct xdp_filter {
	struct prefilter_bpf *skel;
	bool loaded;
	int link_fd;		   /* -1 when not attached */
	enum xdp_attach_mode mode; /* NATIVE or SKB once attached */
};

static const struct {
	const char *name;
	const char *verdict;
	const char *reason;
	const char *help;
} counter_info[XDP_COUNTERS] = {
    [PREFILTER_PASS_VALID] = {"passed", "pass", "valid", "well-shaped requests to a tracker port"},
    [PREFILTER_PASS_OTHER] = {"passed_other", "pass", "other",
			      "packets not for a tracker port, passed untouched"},
    [PREFILTER_PASS_FRAGMENT] = {"passed_fragment", "pass", "fragment",
				 "UDP non-first fragments, passed (no port to judge)"},
    [PREFILTER_DROP_RUNT] = {"drop_runt", "drop", "runt",
			     "tracker datagrams under 16 bytes, empty ones included"},
    [PREFILTER_DROP_OVERSIZED] = {"drop_oversized", "drop", "oversized",
				  "tracker datagrams over 1500 bytes"},
    [PREFILTER_DROP_BAD_MAGIC] = {"drop_bad_magic", "drop", "bad_magic",
				  "connects without the protocol magic"},
    [PREFILTER_DROP_BAD_LENGTH] = {"drop_bad_length", "drop", "bad_length",
				   "requests whose length does not fit the action"},
    [PREFILTER_DROP_BAD_ACTION] = {"drop_bad_action", "drop", "bad_action",
				   "requests with an action other than 0, 1 or 2"},
    [PREFILTER_DROP_BAD_HEADER] = {"drop_bad_header", "drop", "bad_header",
				   "UDP length inconsistent with the packet, or a tiny first "
				   "fragment"},
    [PREFILTER_DROP_RATE_LIMITED] = {"drop_rate_limited", "drop", "rate_limited",
				     "requests over the per-source rate limit"},
};

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

static int libbpf_quiet(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	(void)level;
	(void)fmt;
	(void)ap;
	return 0;
}

static int libbpf_stderr(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (level == LIBBPF_DEBUG)
		return 0;
	return vfprintf(stderr, fmt, ap);
}

/* Why a bpf() step failed, in words a user can act on. */
static const char *hint(int err)
{
	switch (err) {
	case EPERM:
	case EACCES:
		return " (needs root, or CAP_BPF and CAP_NET_ADMIN)";
	case ENOSYS:
	case EOPNOTSUPP:
	case EINVAL:
		return " (kernel without BPF/XDP support for this?)";
	default:
		return "";
	}
}

struct xdp_filter *xdp_open(char *err, size_t errcap)
{
	struct xdp_filter *f = calloc(1, sizeof(*f));

	if (!f) {
		set_err(err, errcap, "xdp: out of memory");
		return NULL;
	}
	libbpf_set_print(getenv("RINGTRACKER_XDP_DEBUG") ? libbpf_stderr : libbpf_quiet);
	f->link_fd = -1;
	f->mode = XDP_ATTACH_AUTO;
	f->skel = prefilter_bpf__open();
	if (!f->skel) {
		int e = errno;
		set_err(err, errcap, "xdp: cannot open the prefilter object: %s", strerror(e));
		free(f);
		errno = e;
		return NULL;
	}
	/* Defaults: no ports (everything passes), BEP 15 limits, no rate limit. */
	f->skel->rodata->cfg.max_payload = PREFILTER_REQUEST_MAX;
	f->skel->rodata->cfg.scrape_max = PREFILTER_SCRAPE_MAX;
	bpf_map__set_max_entries(f->skel->maps.pf_rate, 1);
	return f;
}

static int copy_ports(__u16 *dst, __u32 *n_dst, const uint16_t *src, size_t n, const char *family,
		      char *err, size_t errcap)
{
	if (n > XDP_MAX_PORTS) {
		set_err(err, errcap, "xdp: more than %d %s ports", XDP_MAX_PORTS, family);
		return -EINVAL;
	}
	for (size_t i = 0; i < n; i++) {
		if (src[i] == 0) {
			set_err(err, errcap, "xdp: %s port %zu is 0 (not bound yet?)", family,
				i + 1);
			return -EINVAL;
		}
		dst[i] = htons(src[i]);
	}
	*n_dst = (__u32)n;
	return 0;
}

int xdp_configure(struct xdp_filter *f, const struct xdp_options *o, char *err, size_t errcap)
{
	struct prefilter_config c;

	if (f->loaded) {
		set_err(err, errcap, "xdp: already loaded; configure before xdp_load");
		return -EINVAL;
	}
	if (o->scrape_max < 1 || o->scrape_max > PREFILTER_SCRAPE_MAX) {
		set_err(err, errcap, "xdp: scrape_max %u is not 1..%d", o->scrape_max,
			PREFILTER_SCRAPE_MAX);
		return -EINVAL;
	}
	if (o->rate_limit_pps && o->rate_limit_burst < 1) {
		set_err(err, errcap, "xdp: a rate limit needs a burst of at least 1");
		return -EINVAL;
	}
	memset(&c, 0, sizeof(c));
	if (copy_ports(c.ports4, &c.n_ports4, o->ports4, o->n_ports4, "IPv4", err, errcap) < 0 ||
	    copy_ports(c.ports6, &c.n_ports6, o->ports6, o->n_ports6, "IPv6", err, errcap) < 0)
		return -EINVAL;
	c.max_payload = PREFILTER_REQUEST_MAX;
	c.scrape_max = o->scrape_max;
	if (o->rate_limit_pps) {
		c.rate_interval_ns = 1000000000ULL / o->rate_limit_pps;
		if (c.rate_interval_ns == 0)
			c.rate_interval_ns = 1;
		c.rate_tolerance_ns = (uint64_t)(o->rate_limit_burst - 1) * c.rate_interval_ns;
	}
	int r = bpf_map__set_max_entries(f->skel->maps.pf_rate,
					 o->rate_limit_pps ? PREFILTER_RATE_ENTRIES : 1);
	if (r < 0) {
		set_err(err, errcap, "xdp: rate limiter map: %s", strerror(-r));
		return r;
	}
	memcpy((void *)&f->skel->rodata->cfg, &c, sizeof(c));
	return 0;
}

int xdp_load(struct xdp_filter *f, char *err, size_t errcap)
{
	int r;

	if (f->loaded)
		return 0;
	r = prefilter_bpf__load(f->skel);
	if (r < 0) {
		set_err(err, errcap, "xdp: cannot load the prefilter: %s%s", strerror(-r),
			hint(-r));
		return r;
	}
	f->loaded = true;
	return 0;
}

/* Which mode our program ended up in on ifindex (NATIVE, SKB, or AUTO when
 * the query fails). */
static enum xdp_attach_mode query_mode(const struct xdp_filter *f, int ifindex)
{
	struct bpf_prog_info info;
	__u32 len = sizeof(info);
	LIBBPF_OPTS(bpf_xdp_query_opts, q);

	memset(&info, 0, sizeof(info));
	if (bpf_obj_get_info_by_fd(xdp_prog_fd(f), &info, &len) < 0 ||
	    bpf_xdp_query(ifindex, 0, &q) < 0)
		return XDP_ATTACH_AUTO;
	if (q.drv_prog_id == info.id)
		return XDP_ATTACH_NATIVE;
	if (q.skb_prog_id == info.id)
		return XDP_ATTACH_SKB;
	return XDP_ATTACH_AUTO;
}

static int link_xdp(const struct xdp_filter *f, int ifindex, __u32 flags)
{
	LIBBPF_OPTS(bpf_link_create_opts, opts, .flags = flags);

	return bpf_link_create(xdp_prog_fd(f), ifindex, BPF_XDP, &opts);
}

int xdp_attach(struct xdp_filter *f, const char *ifname, enum xdp_attach_mode mode, char *err,
	       size_t errcap)
{
	unsigned ifindex;
	int fd;

	if (!f->loaded) {
		set_err(err, errcap, "xdp: attach before load");
		return -EINVAL;
	}
	if (f->link_fd >= 0) {
		set_err(err, errcap, "xdp: already attached");
		return -EBUSY;
	}
	ifindex = if_nametoindex(ifname);
	if (ifindex == 0) {
		set_err(err, errcap, "xdp: no network interface named '%s'", ifname);
		return -ENODEV;
	}
	switch (mode) {
	case XDP_ATTACH_NATIVE:
		fd = link_xdp(f, (int)ifindex, XDP_FLAGS_DRV_MODE);
		break;
	case XDP_ATTACH_SKB:
		fd = link_xdp(f, (int)ifindex, XDP_FLAGS_SKB_MODE);
		break;
	default:
		/* No flag: the kernel takes native mode where the driver has it. */
		fd = link_xdp(f, (int)ifindex, 0);
		if (fd < 0 && fd != -EBUSY && fd != -EEXIST && fd != -EPERM)
			fd = link_xdp(f, (int)ifindex, XDP_FLAGS_SKB_MODE);
		break;
	}
	if (fd < 0) {
		if (fd == -EBUSY || fd == -EEXIST)
			set_err(err, errcap, "xdp: %s already has an XDP program attached (%s)",
				ifname, strerror(-fd));
		else if (fd == -EOPNOTSUPP && mode == XDP_ATTACH_NATIVE)
			set_err(err, errcap,
				"xdp: %s: the driver has no native XDP (try --xdp-mode skb)",
				ifname);
		else
			set_err(err, errcap, "xdp: cannot attach to %s in %s mode: %s%s", ifname,
				xdp_mode_name(mode), strerror(-fd), hint(-fd));
		return fd;
	}
	f->link_fd = fd;
	f->mode = mode != XDP_ATTACH_AUTO ? mode : query_mode(f, (int)ifindex);
	return 0;
}

enum xdp_attach_mode xdp_attached_mode(const struct xdp_filter *f)
{
	return f->link_fd >= 0 ? f->mode : XDP_ATTACH_AUTO;
}

const char *xdp_mode_name(enum xdp_attach_mode mode)
{
	switch (mode) {
	case XDP_ATTACH_AUTO:
		return "auto";
	case XDP_ATTACH_NATIVE:
		return "native";
	case XDP_ATTACH_SKB:
		return "skb";
	}
	return "?";
}

int xdp_prog_fd(const struct xdp_filter *f)
{
	return f->loaded ? bpf_program__fd(f->skel->progs.prefilter) : -1;
}

int xdp_read_counters(const struct xdp_filter *f, struct xdp_counters *out)
{
	int ncpu = libbpf_num_possible_cpus();
	uint64_t *vals;
	int fd, r = 0;

	memset(out, 0, sizeof(*out));
	if (!f->loaded)
		return -EINVAL;
	if (ncpu <= 0)
		return ncpu < 0 ? ncpu : -EINVAL;
	vals = calloc((size_t)ncpu, sizeof(*vals));
	if (!vals)
		return -ENOMEM;
	fd = bpf_map__fd(f->skel->maps.pf_counters);
	for (__u32 k = 0; k < XDP_COUNTERS; k++) {
		if (bpf_map_lookup_elem(fd, &k, vals) < 0) {
			r = -errno;
			break;
		}
		for (int cpu = 0; cpu < ncpu; cpu++)
			out->v[k] += vals[cpu];
	}
	free(vals);
	return r;
}

int xdp_reset_counters(const struct xdp_filter *f)
{
	int ncpu = libbpf_num_possible_cpus();
	uint64_t *zero;
	int fd, r = 0;

	if (!f->loaded)
		return -EINVAL;
	if (ncpu <= 0)
		return ncpu < 0 ? ncpu : -EINVAL;
	zero = calloc((size_t)ncpu, sizeof(*zero));
	if (!zero)
		return -ENOMEM;
	fd = bpf_map__fd(f->skel->maps.pf_counters);
	for (__u32 k = 0; k < XDP_COUNTERS && r == 0; k++)
		if (bpf_map_update_elem(fd, &k, zero, BPF_ANY) < 0)
			r = -errno;
	free(zero);
	return r;
}

const char *xdp_counter_name(unsigned i)
{
	return i < XDP_COUNTERS ? counter_info[i].name : "unknown";
}

const char *xdp_counter_verdict(unsigned i)
{
	return i < XDP_COUNTERS ? counter_info[i].verdict : "unknown";
}

const char *xdp_counter_reason(unsigned i)
{
	return i < XDP_COUNTERS ? counter_info[i].reason : "unknown";
}

const char *xdp_counter_help(unsigned i)
{
	return i < XDP_COUNTERS ? counter_info[i].help : "";
}

void xdp_detach(struct xdp_filter *f)
{
	if (!f || f->link_fd < 0)
		return;
	close(f->link_fd);
	f->link_fd = -1;
}

void xdp_destroy(struct xdp_filter *f)
{
	if (!f)
		return;
	xdp_detach(f);
	prefilter_bpf__destroy(f->skel);
	free(f);
}

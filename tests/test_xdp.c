/* test_xdp.c - unit tests of the XDP prefilter (bpf/prefilter.bpf.c) and its
 * loader (src/xdp.c), without any network: each test loads the program and
 * runs it on crafted Ethernet frames with bpf_prog_test_run_opts, then checks
 * the verdict and that exactly the expected per-CPU counter moved.
 *
 * Needs BPF (root here: unprivileged_bpf_disabled=2); where loading is not
 * permitted the tests are skipped with a message, not passed. Each test runs
 * in its own process (Criterion), so each loads its own copy of the program.
 */
#include <criterion/criterion.h>

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <linux/bpf.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "udp.h"
#include "xdp.h"

#define TRACKER_PORT  6969
#define TRACKER_PORT6 7000 /* IPv6 listens on another port: families are apart */
#define OTHER_PORT    53

/* ---- frames ------------------------------------------------------------ */

enum frag { FRAG_NONE, FRAG_FIRST, FRAG_LATER };

/* What build() puts on the wire; zero fields mean the plain case. */
struct pkt {
	int family;		/* AF_INET or AF_INET6 */
	uint16_t dport;		/* host order; 0 = the family's tracker port */
	const uint8_t *payload; /* UDP payload */
	size_t len;		/* its length */
	int udp_len_delta;	/* added to the UDP length field */
	size_t ip_opts;		/* IPv4 option bytes, multiple of 4, <= 40 */
	enum frag frag;		/* fragment kind */
	size_t carried;		/* FRAG_FIRST: payload bytes in this frame */
	int vlans;		/* VLAN tags, 0..2 */
	int ext;		/* IPv6: hop-by-hop + destination options first */
	uint8_t proto;		/* IP protocol; 0 = UDP */
	uint8_t src;		/* last byte of the source address */
	uint8_t src_net;	/* IPv6: byte 7 of the source (its /64) */
};

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* Writes the frame into buf (capacity cap); returns its length. */
static size_t build(const struct pkt *p, uint8_t *buf, size_t cap)
{
	size_t off = 12, l3, l4, carried = p->frag == FRAG_FIRST ? p->carried : p->len;
	uint8_t proto = p->proto ? p->proto : IPPROTO_UDP;
	bool v6 = p->family == AF_INET6;
	uint16_t dport = p->dport ? p->dport : v6 ? TRACKER_PORT6 : TRACKER_PORT;

	cr_assert_leq(carried, p->len);
	cr_assert_lt(14 + 8 + 60 + 48 + 16 + carried, cap, "frame too big for the test buffer");
	memset(buf, 0, cap);
	memcpy(buf, "\x02\0\0\0\0\x01\x02\0\0\0\0\x02", 12); /* dst, src MAC */
	for (int i = 0; i < p->vlans; i++, off += 4) {
		put16(buf + off, i == 0 && p->vlans == 2 ? 0x88a8 : 0x8100);
		put16(buf + off + 2, (uint16_t)(100 + i)); /* VLAN id */
	}
	put16(buf + off, v6 ? 0x86dd : 0x0800);
	l3 = off + 2;
	if (!v6) {
		size_t hlen = 20 + p->ip_opts;
		size_t l4len = p->frag == FRAG_LATER ? carried : 8 + carried;
		buf[l3] = (uint8_t)(0x40 | (hlen / 4));
		put16(buf + l3 + 2, (uint16_t)(hlen + l4len));
		put16(buf + l3 + 4, 0x1234); /* id */
		put16(buf + l3 + 6, p->frag == FRAG_FIRST   ? 0x2000
				    : p->frag == FRAG_LATER ? 185
							    : 0);
		buf[l3 + 8] = 64;
		buf[l3 + 9] = proto;
		memcpy(buf + l3 + 12, "\xc0\x00\x02", 3); /* 192.0.2.src */
		buf[l3 + 15] = p->src;
		memcpy(buf + l3 + 16, "\xc0\x00\x02\x01", 4);
		memset(buf + l3 + 20, 1, p->ip_opts); /* NOP options */
		l4 = l3 + hlen;
	} else {
		size_t ext = p->ext ? 16 : 0, frag = p->frag ? 8 : 0;
		size_t l4len = p->frag == FRAG_LATER ? carried : 8 + carried;
		buf[l3] = 0x60;
		put16(buf + l3 + 4, (uint16_t)(ext + frag + l4len));
		buf[l3 + 6] = p->ext ? 0 /* hop-by-hop */ : frag ? 44 : proto;
		buf[l3 + 7] = 64;
		memcpy(buf + l3 + 8, "\x20\x01\x0d\xb8", 4); /* 2001:db8:0:NET::SRC */
		buf[l3 + 15] = p->src_net;
		buf[l3 + 23] = p->src;
		memcpy(buf + l3 + 24, "\x20\x01\x0d\xb8", 4);
		buf[l3 + 39] = 1;
		off = l3 + 40;
		if (p->ext) {
			buf[off] = 60; /* next: destination options; 8 bytes of PadN */
			buf[off + 2] = 1;
			buf[off + 3] = 4;
			buf[off + 8] = frag ? 44 : proto;
			buf[off + 10] = 1;
			buf[off + 11] = 4;
			off += 16;
		}
		if (frag) {
			buf[off] = proto;
			put16(buf + off + 2, p->frag == FRAG_FIRST ? 1 : 185 << 3);
			memcpy(buf + off + 4, "\0\0\x12\x34", 4);
			off += 8;
		}
		l4 = off;
	}
	if (p->frag == FRAG_LATER) {
		memcpy(buf + l4, p->payload, carried);
		return l4 + carried;
	}
	put16(buf + l4, 40000);
	put16(buf + l4 + 2, dport);
	put16(buf + l4 + 4, (uint16_t)((int)(8 + p->len) + p->udp_len_delta));
	memcpy(buf + l4 + 8, p->payload, carried);
	return l4 + 8 + carried;
}

/* A request of len bytes: connection id (the magic for action 0), action,
 * transaction id, zeros. */
static size_t request(uint8_t *b, size_t cap, uint32_t action, size_t len)
{
	uint64_t cid = action == 0 ? UDP_PROTOCOL_MAGIC : 0x1122334455667788ULL;

	cr_assert_leq(len, cap);
	memset(b, 0, cap);
	for (int i = 0; i < 8; i++)
		b[i] = (uint8_t)(cid >> (56 - 8 * i));
	b[8] = (uint8_t)(action >> 24);
	b[9] = (uint8_t)(action >> 16);
	b[10] = (uint8_t)(action >> 8);
	b[11] = (uint8_t)action;
	b[15] = 7; /* transaction id */
	return len;
}

/* ---- the filter under test --------------------------------------------- */

static struct xdp_options default_options(void)
{
	struct xdp_options o = {
	    .ports4 = {TRACKER_PORT, 8000},
	    .n_ports4 = 2,
	    .ports6 = {TRACKER_PORT6},
	    .n_ports6 = 1,
	    .scrape_max = 74,
	};
	return o;
}

/* Opens, configures and loads; skips the test where BPF is not permitted. */
static struct xdp_filter *load(const struct xdp_options *o)
{
	char err[256];
	struct xdp_filter *f = xdp_open(err, sizeof(err));

	cr_assert_not_null(f, "%s", err);
	cr_assert_eq(xdp_configure(f, o, err, sizeof(err)), 0, "%s", err);
	int r = xdp_load(f, err, sizeof(err));
	if (r == -EPERM || r == -EACCES) {
		xdp_destroy(f);
		/* A warning is printed at the default verbosity, a skip is not. */
		cr_log_warn("xdp: SKIPPED, BPF is not permitted here (%s)", err);
		cr_skip_test("BPF is not permitted here (%s); run the tests as root to test the "
			     "XDP prefilter",
			     err);
	}
	cr_assert_eq(r, 0, "%s (set RINGTRACKER_XDP_DEBUG=1 for the verifier log)", err);
	return f;
}

/* Runs the program once on the frame; returns its XDP action. */
static unsigned run_frame(const struct xdp_filter *f, const uint8_t *frame, size_t len)
{
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = frame, .data_size_in = (__u32)len,
		    .repeat = 1);

	cr_assert_eq(bpf_prog_test_run_opts(xdp_prog_fd(f), &o), 0, "test run: %s",
		     strerror(errno));
	return o.retval;
}

/* Runs p with zeroed counters; expects the verdict of `want` and that
 * counter alone to read 1. */
static void expect(const struct xdp_filter *f, const struct pkt *p, enum prefilter_reason want,
		   const char *what)
{
	static uint8_t frame[4096];
	struct xdp_counters c;
	size_t n = build(p, frame, sizeof(frame));
	const char *fam = p->family == AF_INET6 ? "IPv6" : "IPv4";

	cr_assert_eq(xdp_reset_counters(f), 0);
	unsigned act = run_frame(f, frame, n);
	cr_assert_eq(act, want < PREFILTER_FIRST_DROP ? XDP_PASS : XDP_DROP,
		     "%s %s: action %u, expected %s (%s)", fam, what, act,
		     xdp_counter_verdict(want), xdp_counter_reason(want));
	cr_assert_eq(xdp_read_counters(f, &c), 0);
	for (unsigned k = 0; k < XDP_COUNTERS; k++)
		cr_assert_eq(c.v[k], k == (unsigned)want ? 1u : 0u, "%s %s: counter %s = %llu", fam,
			     what, xdp_counter_name(k), (unsigned long long)c.v[k]);
}

/* A request of `len` bytes with `action`, sent to the tracker port. */
static void expect_request(const struct xdp_filter *f, int family, uint32_t action, size_t len,
			   enum prefilter_reason want, const char *what)
{
	static uint8_t b[2048];
	struct pkt p = {.family = family, .payload = b, .len = request(b, sizeof(b), action, len)};

	expect(f, &p, want, what);
}

static const int families[] = {AF_INET, AF_INET6};

/* ---- tests ------------------------------------------------------------- */

Test(xdp, counter_names_and_verdicts)
{
	for (unsigned i = 0; i < XDP_COUNTERS; i++) {
		cr_assert_str_neq(xdp_counter_name(i), "unknown", "counter %u has no name", i);
		cr_assert_str_eq(xdp_counter_verdict(i),
				 i < PREFILTER_FIRST_DROP ? "pass" : "drop");
		cr_assert(strlen(xdp_counter_reason(i)) > 0);
		cr_assert(strlen(xdp_counter_help(i)) > 0);
		for (unsigned j = 0; j < i; j++)
			cr_assert_str_neq(xdp_counter_name(i), xdp_counter_name(j));
	}
	cr_assert_str_eq(xdp_counter_name(PREFILTER_PASS_VALID), "passed");
	cr_assert_str_eq(xdp_counter_name(PREFILTER_DROP_RUNT), "drop_runt");
	cr_assert_str_eq(xdp_counter_name(XDP_COUNTERS), "unknown");
}

Test(xdp, configure_rejects_bad_values)
{
	char err[256];
	struct xdp_filter *f = xdp_open(err, sizeof(err)); /* no kernel object: no privilege */
	struct xdp_options o = default_options();

	cr_assert_not_null(f, "%s", err);
	o.scrape_max = 0;
	cr_assert_eq(xdp_configure(f, &o, err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "scrape_max"), "%s", err);
	o.scrape_max = 75;
	cr_assert_eq(xdp_configure(f, &o, err, sizeof(err)), -EINVAL);
	o = default_options();
	o.ports4[1] = 0;
	cr_assert_eq(xdp_configure(f, &o, err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "port"), "%s", err);
	o = default_options();
	o.n_ports6 = XDP_MAX_PORTS + 1;
	cr_assert_eq(xdp_configure(f, &o, err, sizeof(err)), -EINVAL);
	o = default_options();
	o.rate_limit_pps = 10;
	o.rate_limit_burst = 0;
	cr_assert_eq(xdp_configure(f, &o, err, sizeof(err)), -EINVAL);
	cr_assert_eq(xdp_prog_fd(f), -1, "not loaded yet");
	cr_assert_eq(xdp_attach(f, "lo", XDP_ATTACH_SKB, err, sizeof(err)), -EINVAL);
	xdp_destroy(f);
	xdp_destroy(NULL);
}

Test(xdp, valid_requests_pass)
{
	struct xdp_options o = default_options();
	struct xdp_filter *f = load(&o);

	for (size_t i = 0; i < 2; i++) {
		int fam = families[i];
		expect_request(f, fam, 0, 16, PREFILTER_PASS_VALID, "connect");
		expect_request(f, fam, 1, 98, PREFILTER_PASS_VALID, "announce");
		expect_request(f, fam, 1, 98 + 12, PREFILTER_PASS_VALID,
			       "announce + BEP 41 options");
		expect_request(f, fam, 2, 16 + 20, PREFILTER_PASS_VALID, "scrape of 1");
		expect_request(f, fam, 2, 16 + 20 * 74, PREFILTER_PASS_VALID, "scrape of 74");
	}
	/* Every configured port is a tracker port. */
	static uint8_t b[64];
	struct pkt p = {
	    .family = AF_INET, .dport = 8000, .payload = b, .len = request(b, 64, 9, 16)};
	expect(f, &p, PREFILTER_DROP_BAD_ACTION, "bad action to the second port");
	xdp_destroy(f);
}

Test(xdp, malformed_shapes_are_dropped_with_their_reason)
{
	struct xdp_options o = default_options();
	struct xdp_filter *f = load(&o);

	for (size_t i = 0; i < 2; i++) {
		int fam = families[i];
		expect_request(f, fam, 0, 0, PREFILTER_DROP_RUNT, "empty datagram");
		expect_request(f, fam, 0, 15, PREFILTER_DROP_RUNT, "15-byte connect");
		expect_request(f, fam, 1, 8, PREFILTER_DROP_RUNT, "8-byte announce");
		expect_request(f, fam, 0, 17, PREFILTER_DROP_BAD_LENGTH, "17-byte connect");
		expect_request(f, fam, 0, 98, PREFILTER_DROP_BAD_LENGTH, "98-byte connect");
		expect_request(f, fam, 1, 97, PREFILTER_DROP_BAD_LENGTH, "97-byte announce");
		expect_request(f, fam, 1, 16, PREFILTER_DROP_BAD_LENGTH, "16-byte announce");
		expect_request(f, fam, 2, 16, PREFILTER_DROP_BAD_LENGTH, "scrape of 0");
		expect_request(f, fam, 2, 16 + 19, PREFILTER_DROP_BAD_LENGTH, "scrape of 19 bytes");
		expect_request(f, fam, 2, 16 + 20 * 3 + 1, PREFILTER_DROP_BAD_LENGTH,
			       "scrape of 3 hashes + 1 byte");
		expect_request(f, fam, 3, 16, PREFILTER_DROP_BAD_ACTION, "action 3 (error)");
		expect_request(f, fam, 0xffffffff, 98, PREFILTER_DROP_BAD_ACTION, "action 2^32-1");
		expect_request(f, fam, 1, 1501, PREFILTER_DROP_OVERSIZED, "1501-byte announce");
		expect_request(f, fam, 2, 16 + 20 * 75, PREFILTER_DROP_OVERSIZED, "scrape of 75");

		static uint8_t b[128];
		struct pkt p = {.family = fam, .payload = b, .len = request(b, sizeof(b), 0, 16)};
		b[7] ^= 1; /* not the magic */
		expect(f, &p, PREFILTER_DROP_BAD_MAGIC, "connect without the magic");

		p.len = request(b, sizeof(b), 0, 16);
		p.udp_len_delta = -12; /* UDP length 12: 4 payload bytes, the rest is padding */
		expect(f, &p, PREFILTER_DROP_RUNT, "UDP length says 4 payload bytes");
		p.udp_len_delta = 7 - (8 + 16); /* UDP length 7: shorter than its own header */
		expect(f, &p, PREFILTER_DROP_BAD_HEADER, "UDP length 7");
		p.udp_len_delta = 1; /* one byte more than the IP payload */
		expect(f, &p, PREFILTER_DROP_BAD_HEADER, "UDP length past the IP payload");
		p.udp_len_delta = 0;
		p.frag = FRAG_FIRST;
		p.carried = 8; /* a first fragment too short for the request header */
		expect(f, &p, PREFILTER_DROP_BAD_HEADER, "tiny first fragment");
	}
	xdp_destroy(f);
}

Test(xdp, non_tracker_traffic_passes_untouched)
{
	struct xdp_options o = default_options();
	struct xdp_filter *f = load(&o);
	static uint8_t junk[64], frame[256];

	memset(junk, 0xee, sizeof(junk));
	for (size_t i = 0; i < 2; i++) {
		int fam = families[i];
		struct pkt p = {.family = fam, .dport = OTHER_PORT, .payload = junk, .len = 5};
		expect(f, &p, PREFILTER_PASS_OTHER, "junk UDP to port 53");
		p.dport = 0;
		p.proto = IPPROTO_TCP;
		expect(f, &p, PREFILTER_PASS_OTHER, "TCP to the tracker port");
		p.proto = fam == AF_INET ? IPPROTO_ICMP : IPPROTO_ICMPV6;
		expect(f, &p, PREFILTER_PASS_OTHER, "ICMP");
	}
	/* Ports are per family: 6969 is not an IPv6 tracker port, 7000 not IPv4. */
	struct pkt p4 = {.family = AF_INET, .dport = TRACKER_PORT6, .payload = junk, .len = 5};
	expect(f, &p4, PREFILTER_PASS_OTHER, "junk to the IPv6 tracker port");
	struct pkt p6 = {.family = AF_INET6, .dport = TRACKER_PORT, .payload = junk, .len = 5};
	expect(f, &p6, PREFILTER_PASS_OTHER, "junk to the IPv4 tracker port");

	/* ARP, and frames too short for their headers. */
	cr_assert_eq(xdp_reset_counters(f), 0);
	memset(frame, 0, sizeof(frame));
	frame[12] = 0x08;
	frame[13] = 0x06;
	cr_assert_eq(run_frame(f, frame, 42), XDP_PASS, "ARP");
	frame[13] = 0x00;
	cr_assert_eq(run_frame(f, frame, 14), XDP_PASS, "IPv4 with no header");
	frame[12] = 0x86;
	frame[13] = 0xdd;
	cr_assert_eq(run_frame(f, frame, 30), XDP_PASS, "IPv6 cut short");
	struct xdp_counters c;
	cr_assert_eq(xdp_read_counters(f, &c), 0);
	cr_assert_eq(c.v[PREFILTER_PASS_OTHER], 3);
	xdp_destroy(f);
}

Test(xdp, ipv4_options_vlan_tags_and_ipv6_extension_headers)
{
	struct xdp_options o = default_options();
	struct xdp_filter *f = load(&o);
	static uint8_t b[2048];

	struct pkt p = {.family = AF_INET, .payload = b, .len = request(b, sizeof(b), 0, 16)};
	p.ip_opts = 12;
	expect(f, &p, PREFILTER_PASS_VALID, "connect after 12 bytes of IP options");
	p.ip_opts = 40;
	expect(f, &p, PREFILTER_PASS_VALID, "connect after 40 bytes of IP options");
	p.len = request(b, sizeof(b), 0, 17);
	expect(f, &p, PREFILTER_DROP_BAD_LENGTH, "bad connect after IP options");

	for (size_t i = 0; i < 2; i++) {
		struct pkt q = {.family = families[i], .payload = b};
		for (int vlans = 1; vlans <= 2; vlans++) {
			q.vlans = vlans;
			q.len = request(b, sizeof(b), 1, 98);
			expect(f, &q, PREFILTER_PASS_VALID, "announce with VLAN tags");
			q.len = request(b, sizeof(b), 1, 50);
			expect(f, &q, PREFILTER_DROP_BAD_LENGTH, "short announce with VLAN tags");
		}
	}

	struct pkt q = {.family = AF_INET6, .payload = b, .ext = 1};
	q.len = request(b, sizeof(b), 2, 16 + 40);
	expect(f, &q, PREFILTER_PASS_VALID, "scrape after two extension headers");
	q.len = request(b, sizeof(b), 2, 16 + 41);
	expect(f, &q, PREFILTER_DROP_BAD_LENGTH, "bad scrape after two extension headers");
	xdp_destroy(f);
}

/* Policy: a first fragment is judged by its UDP header (whose length is the
 * whole datagram's) and request header; later fragments pass. */
Test(xdp, fragments)
{
	struct xdp_options o = default_options();
	struct xdp_filter *f = load(&o);
	static uint8_t b[4096];

	for (size_t i = 0; i < 2; i++) {
		for (int ext = 0; ext <= (families[i] == AF_INET6); ext++) {
			struct pkt p = {.family = families[i], .payload = b, .ext = ext};
			p.frag = FRAG_FIRST;
			p.len = request(b, sizeof(b), 2, 16 + 20 * 74);
			p.carried = 1232;
			expect(f, &p, PREFILTER_PASS_VALID, "first fragment of a scrape of 74");
			p.len = request(b, sizeof(b), 1, 2000);
			expect(f, &p, PREFILTER_DROP_OVERSIZED, "first fragment of 2000 bytes");
			p.len = request(b, sizeof(b), 5, 1400);
			expect(f, &p, PREFILTER_DROP_BAD_ACTION, "first fragment, action 5");
			p.frag = FRAG_LATER;
			p.len = 600;
			expect(f, &p, PREFILTER_PASS_FRAGMENT, "later fragment");
		}
	}
	xdp_destroy(f);
}

Test(xdp, scrape_cap_is_configurable)
{
	struct xdp_options o = default_options();
	o.scrape_max = 10;
	struct xdp_filter *f = load(&o);

	for (size_t i = 0; i < 2; i++) {
		expect_request(f, families[i], 2, 16 + 20 * 10, PREFILTER_PASS_VALID,
			       "scrape of 10");
		expect_request(f, families[i], 2, 16 + 20 * 11, PREFILTER_DROP_BAD_LENGTH,
			       "scrape of 11");
	}
	xdp_destroy(f);
}

/* Counts how many of n identical requests from (src_net, src) pass. */
static unsigned passes(const struct xdp_filter *f, int family, uint8_t src_net, uint8_t src,
		       unsigned n)
{
	static uint8_t b[64], frame[256];
	struct pkt p = {.family = family,
			.payload = b,
			.len = request(b, sizeof(b), 0, 16),
			.src = src,
			.src_net = src_net};
	size_t len = build(&p, frame, sizeof(frame));
	unsigned ok = 0;

	for (unsigned i = 0; i < n; i++)
		ok += run_frame(f, frame, len) == XDP_PASS;
	return ok;
}

Test(xdp, rate_limit_per_source_address_and_ipv6_64)
{
	struct xdp_options o = default_options();
	o.rate_limit_pps = 1; /* one token per second: none refills during the test */
	o.rate_limit_burst = 3;
	struct xdp_filter *f = load(&o);
	struct xdp_counters c;

	cr_assert_eq(passes(f, AF_INET, 0, 10, 10), 3, "burst of 3 from 192.0.2.10");
	cr_assert_eq(passes(f, AF_INET, 0, 11, 10), 3, "another address has its own bucket");
	cr_assert_eq(passes(f, AF_INET, 0, 10, 5), 0, "192.0.2.10 is still limited");
	cr_assert_eq(passes(f, AF_INET6, 1, 1, 2), 2);
	cr_assert_eq(passes(f, AF_INET6, 1, 2, 10), 1, "same /64: one bucket");
	cr_assert_eq(passes(f, AF_INET6, 2, 1, 10), 3, "another /64");
	cr_assert_eq(xdp_read_counters(f, &c), 0);
	cr_assert_eq(c.v[PREFILTER_PASS_VALID], 3 + 3 + 2 + 1 + 3);
	cr_assert_eq(c.v[PREFILTER_DROP_RATE_LIMITED], 7 + 7 + 5 + 9 + 7);

	/* Malformed requests are dropped for their shape and spend no token. */
	expect_request(f, AF_INET, 0, 17, PREFILTER_DROP_BAD_LENGTH, "bad connect, limited source");
	xdp_destroy(f);
}

Test(xdp, rate_limit_refills)
{
	struct xdp_options o = default_options();
	o.rate_limit_pps = 100; /* a token every 10 ms */
	o.rate_limit_burst = 1;
	struct xdp_filter *f = load(&o);

	cr_assert_eq(passes(f, AF_INET, 0, 20, 1), 1);
	usleep(30 * 1000);
	cr_assert_eq(passes(f, AF_INET, 0, 20, 1), 1, "a token came back after 30 ms");
	xdp_destroy(f);
}

Test(xdp, no_ports_means_everything_passes)
{
	struct xdp_options o = {.scrape_max = 74};
	struct xdp_filter *f = load(&o);

	expect_request(f, AF_INET, 9, 3, PREFILTER_PASS_OTHER, "junk with no tracker port");
	xdp_destroy(f);
}

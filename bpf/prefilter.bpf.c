/* prefilter.bpf.c - XDP prefilter for the BEP 15 UDP tracker.
 *
 * What it does: parses Ethernet (up to two VLAN tags), IPv4 (options
 * included) and IPv6 (up to PREFILTER_MAX_EXT_HEADERS extension headers),
 * and for UDP datagrams to one of the tracker's ports checks the BEP 15
 * request shape: connect = exactly 16 bytes with the protocol magic and
 * action 0; announce >= 98 bytes with action 1 (BEP 41 options may follow);
 * scrape = 16 + 20k bytes, 1 <= k <= scrape_max, action 2. Anything else
 * sent to a tracker port is dropped with a reason; everything not sent to a
 * tracker port passes untouched. Optionally drops a source's valid requests
 * over a packet rate (GCRA token bucket per IPv4 address or IPv6 /64, in an
 * LRU hash).
 *
 * What it does not: verify checksums or connection ids, look at announce
 * fields (event, port), reassemble fragments, or touch replies (XDP sees
 * ingress only).
 *
 * Fragments: a first fragment (offset 0, more-fragments set) carries the UDP
 * header, whose length field is the whole datagram's, and the request
 * header: it is judged like a whole datagram, so an oversized or misshapen
 * request is dropped at its first fragment (the kernel then discards the
 * orphaned rest when reassembly times out). A first fragment too short to
 * hold the 16-byte request header is dropped (bad_header: no real stack
 * fragments that small). Non-first fragments carry no port: they pass,
 * counted as pass/fragment.
 *
 * Runs: in the kernel, on every CPU receiving on the attached interface.
 * Memory: per-CPU counters (array) and the rate limiter's LRU hash; the
 * configuration is .rodata, set by src/xdp.c before load.
 * Spec: BEP 15 (request shapes), BEP 41 (announce options tolerated).
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/udp.h>

#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "prefilter.h"

char LICENSE[] SEC("license") = "Dual MIT/GPL";

/* Read-only after load: set by the loader through the skeleton. */
const volatile struct prefilter_config cfg = {};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, PREFILTER_REASON_COUNT);
	__type(key, __u32);
	__type(value, __u64);
} pf_counters SEC(".maps");

/* Value: theoretical arrival time of the source's next packet (ns,
 * bpf_ktime_get_ns clock). The loader shrinks the map to one entry when the
 * rate limit is off. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, PREFILTER_RATE_ENTRIES);
	__type(key, struct prefilter_rate_key);
	__type(value, __u64);
} pf_rate SEC(".maps");

struct vlan_hdr {
	__be16 tci;
	__be16 proto;
};

#define IP_MF	   0x2000 /* IPv4 more fragments */
#define IP_OFFSET  0x1fff /* IPv4 fragment offset, 8-byte units */
#define IP6_MF	   0x0001 /* IPv6 fragment header: more fragments */
#define IP6_OFFSET 0xfff8

/* Counts the reason and returns its verdict. */
static __always_inline int verdict(__u32 reason)
{
	__u64 *c = bpf_map_lookup_elem(&pf_counters, &reason);

	if (c)
		*c += 1;
	return reason < PREFILTER_FIRST_DROP ? XDP_PASS : XDP_DROP;
}

static __always_inline int tracker_port(__be16 port, int v6)
{
	__u32 n = v6 ? cfg.n_ports6 : cfg.n_ports4;

	for (__u32 i = 0; i < PREFILTER_MAX_PORTS; i++) {
		if (i >= n)
			break;
		if ((v6 ? cfg.ports6[i] : cfg.ports4[i]) == port)
			return 1;
	}
	return 0;
}

/* GCRA (a token bucket of rate 1/interval and depth burst): a packet at
 * `now` conforms when the source's theoretical arrival time is at most
 * tolerance ahead of now. Updates from two CPUs for one source may race;
 * the loser's packet is admitted without being charged, so the limit can be
 * exceeded by at most one packet per racing CPU. */
static __always_inline int rate_conforms(const struct prefilter_rate_key *key)
{
	__u64 now = bpf_ktime_get_ns();
	__u64 *tat = bpf_map_lookup_elem(&pf_rate, key);
	__u64 t;

	if (!tat) {
		t = now + cfg.rate_interval_ns;
		bpf_map_update_elem(&pf_rate, key, &t, BPF_ANY);
		return 1;
	}
	t = *tat;
	if (t < now)
		t = now;
	if (t - now > cfg.rate_tolerance_ns)
		return 0;
	*tat = t + cfg.rate_interval_ns;
	return 1;
}

/* Judges a UDP datagram to a tracker port. ip_payload: bytes the IP header
 * says follow it (meaningless for a first fragment, whose UDP length covers
 * the reassembled datagram). */
static __always_inline int judge(struct udphdr *udp, void *end, __u32 ip_payload, int first_frag,
				 const struct prefilter_rate_key *key)
{
	__u32 ulen = bpf_ntohs(udp->len);
	__u8 *p = (__u8 *)(udp + 1);
	__u64 cid;
	__u32 action, len, body;

	if (ulen < sizeof(*udp) || (!first_frag && ulen > ip_payload))
		return verdict(PREFILTER_DROP_BAD_HEADER);
	len = ulen - sizeof(*udp);
	if (len < PREFILTER_HEADER_LEN)
		return verdict(PREFILTER_DROP_RUNT);
	if (len > cfg.max_payload)
		return verdict(PREFILTER_DROP_OVERSIZED);
	if ((void *)(p + PREFILTER_HEADER_LEN) > end)
		return verdict(PREFILTER_DROP_BAD_HEADER);
	__builtin_memcpy(&cid, p, sizeof(cid));
	__builtin_memcpy(&action, p + 8, sizeof(action));
	switch (bpf_ntohl(action)) {
	case 0: /* connect */
		if (len != PREFILTER_CONNECT_LEN)
			return verdict(PREFILTER_DROP_BAD_LENGTH);
		if (cid != bpf_cpu_to_be64(PREFILTER_PROTOCOL_MAGIC))
			return verdict(PREFILTER_DROP_BAD_MAGIC);
		break;
	case 1: /* announce */
		if (len < PREFILTER_ANNOUNCE_MIN)
			return verdict(PREFILTER_DROP_BAD_LENGTH);
		break;
	case 2: /* scrape */
		body = len - PREFILTER_HEADER_LEN;
		if (body == 0 || body % PREFILTER_HASH_LEN != 0 ||
		    body / PREFILTER_HASH_LEN > cfg.scrape_max)
			return verdict(PREFILTER_DROP_BAD_LENGTH);
		break;
	default:
		return verdict(PREFILTER_DROP_BAD_ACTION);
	}
	if (cfg.rate_interval_ns && !rate_conforms(key))
		return verdict(PREFILTER_DROP_RATE_LIMITED);
	return verdict(PREFILTER_PASS_VALID);
}

static __always_inline int ipv4(void *l3, void *end)
{
	struct iphdr *ip = l3;
	struct prefilter_rate_key key = {.family = 4};
	struct udphdr *udp;
	__u32 hlen, tot, frag;

	if ((void *)(ip + 1) > end)
		return verdict(PREFILTER_PASS_OTHER);
	if (ip->version != 4 || ip->ihl < 5 || ip->protocol != IPPROTO_UDP)
		return verdict(PREFILTER_PASS_OTHER);
	frag = bpf_ntohs(ip->frag_off);
	if (frag & IP_OFFSET)
		return verdict(PREFILTER_PASS_FRAGMENT);
	hlen = ip->ihl * 4;
	tot = bpf_ntohs(ip->tot_len);
	udp = l3 + hlen;
	if ((void *)(udp + 1) > end || tot < hlen)
		return verdict(PREFILTER_PASS_OTHER); /* the kernel drops it */
	if (!tracker_port(udp->dest, 0))
		return verdict(PREFILTER_PASS_OTHER);
	__builtin_memcpy(key.addr, &ip->saddr, 4);
	return judge(udp, end, tot - hlen, frag & IP_MF, &key);
}

static __always_inline int ipv6(void *l3, void *end)
{
	struct ipv6hdr *ip6 = l3;
	struct prefilter_rate_key key = {.family = 6};
	struct udphdr *udp;
	__u32 off = sizeof(*ip6), plen, first_frag = 0;
	__u8 next;

	if ((void *)(ip6 + 1) > end || ip6->version != 6)
		return verdict(PREFILTER_PASS_OTHER);
	next = ip6->nexthdr;
	for (int i = 0; i < PREFILTER_MAX_EXT_HEADERS; i++) {
		__u8 *h;
		__u16 fo;

		if (next == IPPROTO_UDP)
			break;
		off &= 0x7fff; /* bounds the offset for the verifier */
		h = l3 + off;
		if ((void *)(h + 8) > end) /* every extension header is >= 8 bytes */
			return verdict(PREFILTER_PASS_OTHER);
		switch (next) {
		case IPPROTO_HOPOPTS:
		case IPPROTO_ROUTING:
		case IPPROTO_DSTOPTS:
			off += ((__u32)h[1] + 1) * 8;
			break;
		case IPPROTO_AH:
			off += ((__u32)h[1] + 2) * 4;
			break;
		case IPPROTO_FRAGMENT:
			fo = ((__u16)h[2] << 8) | h[3];
			if (fo & IP6_OFFSET)
				return verdict(h[0] == IPPROTO_UDP ? PREFILTER_PASS_FRAGMENT
								   : PREFILTER_PASS_OTHER);
			first_frag = fo & IP6_MF; /* M = 0: an atomic fragment, whole */
			off += 8;
			break;
		default:
			return verdict(PREFILTER_PASS_OTHER);
		}
		next = h[0];
	}
	if (next != IPPROTO_UDP)
		return verdict(PREFILTER_PASS_OTHER);
	off &= 0x7fff;
	udp = l3 + off;
	if ((void *)(udp + 1) > end)
		return verdict(PREFILTER_PASS_OTHER);
	if (!tracker_port(udp->dest, 1))
		return verdict(PREFILTER_PASS_OTHER);
	plen = bpf_ntohs(ip6->payload_len) + sizeof(*ip6);
	__builtin_memcpy(key.addr, &ip6->saddr, 8);
	return judge(udp, end, plen > off ? plen - off : 0, first_frag, &key);
}

SEC("xdp")
int prefilter(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	void *l3 = eth + 1;
	__be16 proto;

	if (l3 > end)
		return verdict(PREFILTER_PASS_OTHER);
	proto = eth->h_proto;
	for (int i = 0; i < 2; i++) {
		struct vlan_hdr *vh = l3;

		if (proto != bpf_htons(ETH_P_8021Q) && proto != bpf_htons(ETH_P_8021AD))
			break;
		if ((void *)(vh + 1) > end)
			return verdict(PREFILTER_PASS_OTHER);
		proto = vh->proto;
		l3 = vh + 1;
	}
	if (proto == bpf_htons(ETH_P_IP))
		return ipv4(l3, end);
	if (proto == bpf_htons(ETH_P_IPV6))
		return ipv6(l3, end);
	return verdict(PREFILTER_PASS_OTHER);
}

/* metrics_render.c - the /metrics page and the /top JSON from a snapshot
 * (see metrics.h).
 *
 * What it does: names every worker counter and gauge by Prometheus
 * conventions (ringtracker_ prefix, _total on counters, base units, labels
 * for protocol, action, family, reason), sums the workers' copies, and adds
 * per-worker series where they show an imbalance (torrents, requests, loop
 * turns per worker), the XDP prefilter's verdicts, jemalloc's byte counts,
 * the standard process_* metrics and a build-info gauge. What it doesn't:
 * I/O - the snapshot is filled by metrics.c, and tests fill fake ones.
 *
 * Spec: Prometheus text exposition format 0.0.4
 * (https://prometheus.io/docs/instrumenting/exposition_formats/) and its
 * naming conventions (https://prometheus.io/docs/practices/naming/).
 *
 * Threads: any; no state. Memory: writes only into the caller's buffer.
 */
#include "metrics.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* The output buffer; once full, later writes are dropped. */
struct out {
	char *buf;
	size_t cap, len;
	bool full;
};

__attribute__((format(printf, 2, 3))) static void put(struct out *o, const char *fmt, ...)
{
	va_list ap;

	if (o->full)
		return;
	va_start(ap, fmt);
	int n = vsnprintf(o->buf + o->len, o->cap - o->len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= o->cap - o->len) {
		o->full = true;
		return;
	}
	o->len += (size_t)n;
}

static void family(struct out *o, const char *name, const char *type, const char *help)
{
	put(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* One sample; labels is "" or a list like `protocol="udp"`. */
static void sample(struct out *o, const char *name, const char *labels, uint64_t v)
{
	put(o, "%s%s%s%s %llu\n", name, *labels ? "{" : "", labels, *labels ? "}" : "",
	    (unsigned long long)v);
}

/* --------------------------------------------- counters summed over workers */

enum kind { COUNTER, GAUGE };

/* One series: its labels and the worker counter (or gauge) it sums. */
struct series {
	const char *labels;
	unsigned id; /* enum counter_id, or enum gauge_id for a GAUGE family */
};

struct family_def {
	const char *name;
	enum kind kind;
	const char *help;
	const struct series *series;
	size_t n;
};

#define FAMILY(nm, k, h, ...)                                                                      \
	{                                                                                          \
		nm, k, h, (const struct series[]){__VA_ARGS__},                                    \
		    sizeof((const struct series[]){__VA_ARGS__}) / sizeof(struct series)           \
	}

#define UDP_ACTION(a, A)                                                                           \
	{"protocol=\"udp\",action=\"" a "\",family=\"ipv4\"", A##_v4},                             \
	{                                                                                          \
		"protocol=\"udp\",action=\"" a "\",family=\"ipv6\"", A##_v6                        \
	}
#define HTTP_ACTION(a, A)                                                                          \
	{"protocol=\"http\",action=\"" a "\",family=\"ipv4\"", A##_v4},                            \
	{                                                                                          \
		"protocol=\"http\",action=\"" a "\",family=\"ipv6\"", A##_v6                       \
	}

static const struct family_def families[] = {
    FAMILY("ringtracker_requests_total", COUNTER,
	   "Requests received, by protocol, action and address family (before validation).",
	   UDP_ACTION("connect", CTR_udp_connect), UDP_ACTION("announce", CTR_udp_announce),
	   UDP_ACTION("scrape", CTR_udp_scrape), HTTP_ACTION("announce", CTR_http_announce),
	   HTTP_ACTION("scrape", CTR_http_scrape)),
    FAMILY("ringtracker_responses_total", COUNTER,
	   "Successful replies (peers, counts or a connection id), by protocol, action and "
	   "address family; error replies are counted apart.",
	   UDP_ACTION("connect", CTR_udp_connect_replies),
	   UDP_ACTION("announce", CTR_udp_announce_replies),
	   UDP_ACTION("scrape", CTR_udp_scrape_replies),
	   HTTP_ACTION("announce", CTR_http_announce_replies),
	   HTTP_ACTION("scrape", CTR_http_scrape_replies)),
    FAMILY("ringtracker_error_replies_total", COUNTER,
	   "Error replies, by protocol and reason (UDP action 3; HTTP failure reason or "
	   "4xx/5xx status).",
	   {"protocol=\"udp\",reason=\"malformed\"", CTR_udp_error_malformed},
	   {"protocol=\"udp\",reason=\"connection_id\"", CTR_udp_error_connid},
	   {"protocol=\"udp\",reason=\"limit\"", CTR_udp_error_limit},
	   {"protocol=\"http\",reason=\"failure\"", CTR_http_failures},
	   {"protocol=\"http\",reason=\"bad_request\"", CTR_http_bad_request},
	   {"protocol=\"http\",reason=\"not_found\"", CTR_http_not_found},
	   {"protocol=\"http\",reason=\"bad_method\"", CTR_http_bad_method},
	   {"protocol=\"http\",reason=\"too_large\"", CTR_http_too_large},
	   {"protocol=\"http\",reason=\"bad_version\"", CTR_http_bad_version}),
    FAMILY("ringtracker_malformed_requests_total", COUNTER,
	   "UDP requests that did not parse, by reason (answered only with a valid connection "
	   "id).",
	   {"protocol=\"udp\",reason=\"runt\"", CTR_udp_malformed_runt},
	   {"protocol=\"udp\",reason=\"oversized\"", CTR_udp_malformed_oversized},
	   {"protocol=\"udp\",reason=\"bad_magic\"", CTR_udp_malformed_bad_magic},
	   {"protocol=\"udp\",reason=\"bad_length\"", CTR_udp_malformed_bad_length},
	   {"protocol=\"udp\",reason=\"bad_action\"", CTR_udp_malformed_bad_action},
	   {"protocol=\"udp\",reason=\"bad_event\"", CTR_udp_malformed_bad_event}),
    FAMILY("ringtracker_connection_id_rejected_total", COUNTER,
	   "UDP announces and scrapes with a connection id that does not check, by reason.",
	   {"reason=\"invalid\"", CTR_udp_connid_invalid},
	   {"reason=\"expired\"", CTR_udp_connid_expired}),
    FAMILY("ringtracker_udp_unverified_dropped_total", COUNTER,
	   "Malformed UDP requests dropped unanswered: no valid connection id.",
	   {"", CTR_udp_dropped_unverified}),
    FAMILY("ringtracker_received_bytes_total", COUNTER,
	   "Payload bytes received (UDP datagrams, HTTP stream).",
	   {"protocol=\"udp\"", CTR_udp_rx_bytes}, {"protocol=\"http\"", CTR_http_rx_bytes}),
    FAMILY("ringtracker_sent_bytes_total", COUNTER,
	   "Payload bytes sent (UDP datagrams queued, HTTP stream).",
	   {"protocol=\"udp\"", CTR_udp_tx_bytes}, {"protocol=\"http\"", CTR_http_tx_bytes}),
    FAMILY("ringtracker_udp_received_datagrams_total", COUNTER, "UDP datagrams received.",
	   {"", CTR_udp_rx_packets}),
    FAMILY("ringtracker_udp_sent_datagrams_total", COUNTER, "UDP datagrams queued for sending.",
	   {"", CTR_udp_tx_packets}),
    FAMILY("ringtracker_replies_dropped_total", COUNTER,
	   "UDP replies dropped before sending, by reason.",
	   {"reason=\"no_send_slot\"", CTR_send_no_slot},
	   {"reason=\"submission_queue_full\"", CTR_send_no_sqe}),
    FAMILY("ringtracker_send_errors_total", COUNTER, "UDP sends that completed with an error.",
	   {"", CTR_send_errors}),
    FAMILY("ringtracker_recv_rearms_total", COUNTER,
	   "Multishot UDP receives re-armed after ending (buffer ring empty, error or 0-byte "
	   "datagram).",
	   {"", CTR_recv_rearm}),
    FAMILY("ringtracker_recv_enobufs_total", COUNTER,
	   "UDP receive completions with -ENOBUFS: the provided buffer ring ran empty.",
	   {"", CTR_recv_enobufs}),
    FAMILY("ringtracker_recv_errors_total", COUNTER, "Other UDP receive errors.",
	   {"", CTR_recv_errors}),
    FAMILY("ringtracker_handoffs_total", COUNTER,
	   "Requests and answers handed between workers over the SPSC rings, by result.",
	   {"result=\"sent\"", CTR_handoff_sent}, {"result=\"received\"", CTR_handoff_received},
	   {"result=\"dropped\"", CTR_handoff_dropped}),
    FAMILY("ringtracker_handoff_wakeups_total", COUNTER,
	   "MSG_RING wake-ups sent to sleeping workers.", {"", CTR_handoff_wakeups}),
    FAMILY("ringtracker_http_connections_accepted_total", COUNTER, "HTTP connections accepted.",
	   {"", CTR_http_accepted}),
    FAMILY("ringtracker_http_connections_refused_total", COUNTER,
	   "HTTP connections closed at once: connection limit.", {"", CTR_http_refused}),
    FAMILY("ringtracker_http_connections_closed_total", COUNTER, "HTTP connections closed.",
	   {"", CTR_http_closed}),
    FAMILY("ringtracker_http_connection_timeouts_total", COUNTER,
	   "HTTP connections closed for idling or a slow request.", {"", CTR_http_timeouts}),
    FAMILY("ringtracker_http_accept_errors_total", COUNTER, "HTTP accepts that failed.",
	   {"", CTR_http_accept_errors}),
    FAMILY("ringtracker_http_health_requests_total", COUNTER,
	   "GET /health requests on the tracker's HTTP listeners.", {"", CTR_http_health}),
    FAMILY("ringtracker_http_full_scrapes_total", COUNTER, "HTTP full scrapes served.",
	   {"", CTR_http_full_scrapes}),
    FAMILY("ringtracker_http_stale_answers_total", COUNTER,
	   "Owner answers for HTTP connections already closed.", {"", CTR_http_stale_answers}),
    FAMILY("ringtracker_limit_hits_total", COUNTER,
	   "Announces refused by a limit (UDP and HTTP), by limit.",
	   {"limit=\"torrents\"", CTR_limit_torrents}, {"limit=\"peers\"", CTR_limit_peers},
	   {"limit=\"memory\"", CTR_limit_memory}),
    FAMILY("ringtracker_peers_expired_total", COUNTER,
	   "Peers removed by the expiry sweep for not announcing.", {"", CTR_peers_expired}),
    FAMILY("ringtracker_peers", GAUGE,
	   "Peers tracked, by address family and kind (refreshed by each worker every second).",
	   {"family=\"ipv4\",kind=\"seeder\"", GAUGE_seeders_v4},
	   {"family=\"ipv4\",kind=\"leecher\"", GAUGE_leechers_v4},
	   {"family=\"ipv6\",kind=\"seeder\"", GAUGE_seeders_v6},
	   {"family=\"ipv6\",kind=\"leecher\"", GAUGE_leechers_v6}),
    FAMILY("ringtracker_swarm_memory_bytes", GAUGE,
	   "Bytes of the swarm tables and peer arrays, as charged to memory_budget.",
	   {"", GAUGE_swarm_memory_bytes}),
    FAMILY("ringtracker_http_connections_open", GAUGE, "HTTP connections open.",
	   {"", GAUGE_http_connections_open}),
};

static uint64_t sum(const struct metrics_snapshot *s, enum kind kind, unsigned id)
{
	uint64_t v = 0;

	for (unsigned w = 0; w < s->n_workers; w++)
		v += kind == GAUGE ? s->workers[w].g[id] : s->workers[w].v[id];
	return v;
}

static void render_families(struct out *o, const struct metrics_snapshot *s)
{
	for (size_t f = 0; f < ARRAY_SIZE(families); f++) {
		const struct family_def *d = &families[f];
		family(o, d->name, d->kind == GAUGE ? "gauge" : "counter", d->help);
		for (size_t i = 0; i < d->n; i++)
			sample(o, d->name, d->series[i].labels, sum(s, d->kind, d->series[i].id));
	}
}

/* ---------------------------------------------------------- per worker */

static uint64_t worker_udp_requests(const struct counters *c)
{
	return c->v[CTR_udp_connect_v4] + c->v[CTR_udp_connect_v6] + c->v[CTR_udp_announce_v4] +
	       c->v[CTR_udp_announce_v6] + c->v[CTR_udp_scrape_v4] + c->v[CTR_udp_scrape_v6];
}

static uint64_t worker_http_requests(const struct counters *c)
{
	return c->v[CTR_http_announce_v4] + c->v[CTR_http_announce_v6] + c->v[CTR_http_scrape_v4] +
	       c->v[CTR_http_scrape_v6];
}

static void render_workers(struct out *o, const struct metrics_snapshot *s)
{
	char labels[64];

	family(o, "ringtracker_workers", "gauge", "Worker threads (one swarm shard each).");
	sample(o, "ringtracker_workers", "", s->n_workers);

	family(o, "ringtracker_torrents", "gauge",
	       "Torrents tracked, by worker (shard); refreshed every second.");
	for (unsigned w = 0; w < s->n_workers; w++) {
		snprintf(labels, sizeof(labels), "worker=\"%u\"", w);
		sample(o, "ringtracker_torrents", labels, s->workers[w].g[GAUGE_torrents]);
	}
	family(o, "ringtracker_worker_requests_total", "counter",
	       "Requests received, by worker and protocol (sums ringtracker_requests_total).");
	for (unsigned w = 0; w < s->n_workers; w++) {
		snprintf(labels, sizeof(labels), "worker=\"%u\",protocol=\"udp\"", w);
		sample(o, "ringtracker_worker_requests_total", labels,
		       worker_udp_requests(&s->workers[w]));
		snprintf(labels, sizeof(labels), "worker=\"%u\",protocol=\"http\"", w);
		sample(o, "ringtracker_worker_requests_total", labels,
		       worker_http_requests(&s->workers[w]));
	}
	family(o, "ringtracker_worker_loop_turns_total", "counter",
	       "Event loop iterations, by worker.");
	for (unsigned w = 0; w < s->n_workers; w++) {
		snprintf(labels, sizeof(labels), "worker=\"%u\"", w);
		sample(o, "ringtracker_worker_loop_turns_total", labels,
		       s->workers[w].v[CTR_loop_turns]);
	}
}

/* ------------------------------------------------------ everything else */

static void render_xdp(struct out *o, const struct metrics_snapshot *s)
{
	char labels[96];

	family(o, "ringtracker_xdp_attached", "gauge",
	       "1 when the XDP prefilter is loaded and attached, else 0.");
	sample(o, "ringtracker_xdp_attached", "", s->xdp_attached ? 1 : 0);
	if (!s->has_xdp)
		return;
	family(o, "ringtracker_xdp_packets_total", "counter",
	       "Packets to the tracker's UDP ports seen by the XDP prefilter, by verdict and "
	       "reason.");
	for (unsigned i = 0; i < XDP_COUNTERS; i++) {
		snprintf(labels, sizeof(labels), "verdict=\"%s\",reason=\"%s\"",
			 xdp_counter_verdict(i), xdp_counter_reason(i));
		sample(o, "ringtracker_xdp_packets_total", labels, s->xdp.v[i]);
	}
}

static void render_allocator(struct out *o, const struct metrics_snapshot *s)
{
	static const char *const kinds[] = {"allocated", "active", "resident", "mapped"};
	const uint64_t v[] = {s->allocator.allocated, s->allocator.active, s->allocator.resident,
			      s->allocator.mapped};
	char labels[32];

	if (!s->has_allocator)
		return;
	family(o, "ringtracker_allocator_bytes", "gauge",
	       "jemalloc statistics (stats.allocated, .active, .resident, .mapped), by kind.");
	for (size_t i = 0; i < ARRAY_SIZE(kinds); i++) {
		snprintf(labels, sizeof(labels), "kind=\"%s\"", kinds[i]);
		sample(o, "ringtracker_allocator_bytes", labels, v[i]);
	}
}

static void render_process(struct out *o, const struct metrics_snapshot *s)
{
	const struct metrics_process *p = &s->process;

	if (!s->has_process)
		return;
	family(o, "process_cpu_seconds_total", "counter",
	       "Total user and system CPU time spent "
	       "in seconds.");
	put(o, "process_cpu_seconds_total %.2f\n", p->cpu_seconds);
	family(o, "process_resident_memory_bytes", "gauge", "Resident memory size in bytes.");
	sample(o, "process_resident_memory_bytes", "", p->resident_bytes);
	family(o, "process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.");
	sample(o, "process_virtual_memory_bytes", "", p->virtual_bytes);
	family(o, "process_open_fds", "gauge", "Number of open file descriptors.");
	sample(o, "process_open_fds", "", p->open_fds);
	family(o, "process_max_fds", "gauge", "Maximum number of open file descriptors.");
	sample(o, "process_max_fds", "", p->max_fds);
	family(o, "process_start_time_seconds", "gauge",
	       "Start time of the process since unix epoch in seconds.");
	put(o, "process_start_time_seconds %.2f\n", p->start_time_seconds);
}

/* A label value with \, " and newline escaped (format 0.0.4). */
static void label_value(const char *in, char *out, size_t cap)
{
	size_t n = 0;

	for (; *in && n + 3 < cap; in++) {
		if (*in == '\\' || *in == '"' || *in == '\n') {
			out[n++] = '\\';
			out[n++] = *in == '\n' ? 'n' : *in;
		} else {
			out[n++] = *in;
		}
	}
	out[n] = '\0';
}

static void render_build_info(struct out *o, const struct metrics_snapshot *s)
{
	char version[64], features[128], labels[256];

	label_value(s->version ? s->version : "unknown", version, sizeof(version));
	label_value(s->features ? s->features : "", features, sizeof(features));
	snprintf(labels, sizeof(labels), "version=\"%s\",features=\"%s\"", version, features);
	family(o, "ringtracker_build_info", "gauge",
	       "Always 1; the labels give the version and the features built in.");
	sample(o, "ringtracker_build_info", labels, 1);
}

int metrics_render(const struct metrics_snapshot *s, char *buf, size_t cap)
{
	struct out o = {.buf = buf, .cap = cap};

	if (cap == 0)
		return -ENOSPC;
	buf[0] = '\0';
	render_build_info(&o, s);
	render_families(&o, s);
	render_workers(&o, s);
	render_xdp(&o, s);
	render_allocator(&o, s);
	render_process(&o, s);
	return o.full ? -ENOSPC : (int)o.len;
}

/* ------------------------------------------------------------------ /top */

int metrics_render_top(const struct top_list *l, const struct metrics_top_info *info, char *buf,
		       size_t cap)
{
	static const char hex[] = "0123456789abcdef";
	struct out o = {.buf = buf, .cap = cap};

	if (cap == 0)
		return -ENOSPC;
	put(&o, "{\"torrents\":[");
	for (uint32_t i = 0; i < l->n; i++) {
		const struct top_entry *e = &l->e[i];
		char ih[2 * sizeof(e->info_hash.b) + 1];
		for (size_t k = 0; k < sizeof(e->info_hash.b); k++) {
			ih[2 * k] = hex[e->info_hash.b[k] >> 4];
			ih[2 * k + 1] = hex[e->info_hash.b[k] & 15];
		}
		ih[sizeof(ih) - 1] = '\0';
		put(&o,
		    "%s\n{\"info_hash\":\"%s\",\"seeders\":%u,\"leechers\":%u,\"peers\":%llu,"
		    "\"downloaded\":%u}",
		    i ? "," : "", ih, e->seeders, e->leechers,
		    (unsigned long long)e->seeders + e->leechers, e->downloaded);
	}
	put(&o,
	    "],\n\"count\":%u,\"workers\":%u,\"stale_workers\":%u,\"age_seconds\":%u,"
	    "\"refresh_seconds\":%u}\n",
	    l->n, info->workers, info->stale, info->age_seconds, METRICS_TOP_REFRESH_S);
	return o.full ? -ENOSPC : (int)o.len;
}

/* load_stats.c - ringtracker-load's figures: latency histogram, merging
 * per-thread counters, and the final summary (text or one JSON object).
 *
 * What it does: log-bucket histogram (64 octaves x 16 linear sub-buckets of
 * nanoseconds, so a reported percentile is the upper bound of its bucket,
 * at most 6.25% above the true value); text and JSON reports.
 * What it doesn't: no timing, no I/O besides stdout.
 * Threads: load_hist_add and load_stats_note_error run on the owning load
 * thread; merging and printing on the main thread after the threads joined.
 */
#include <stdio.h>
#include <string.h>

#include "load.h"

static const char *const counter_names[LC_COUNT] = {
#define LOAD_COUNTER_NAME(name) #name,
	LOAD_COUNTERS(LOAD_COUNTER_NAME)
#undef LOAD_COUNTER_NAME
};

/* ---------------------------------------------------------- histogram */

static unsigned hist_bucket(uint64_t ns)
{
	if (ns < LOAD_HIST_SUB)
		return (unsigned)ns;
	unsigned msb = 63u - (unsigned)__builtin_clzll(ns); /* >= 4 */
	unsigned sub = (unsigned)(ns >> (msb - 4)) & (LOAD_HIST_SUB - 1);

	return (msb - 3) * LOAD_HIST_SUB + sub;
}

/* Largest value that lands in bucket b. */
static uint64_t hist_upper(unsigned b)
{
	if (b < LOAD_HIST_SUB)
		return b;
	unsigned msb = b / LOAD_HIST_SUB + 3, sub = b % LOAD_HIST_SUB;
	uint64_t lo = ((uint64_t)(LOAD_HIST_SUB + sub)) << (msb - 4);

	return lo + (1ULL << (msb - 4)) - 1;
}

void load_hist_add(struct load_hist *h, uint64_t ns)
{
	h->n[hist_bucket(ns)]++;
	if (ns > h->max)
		h->max = ns;
}

uint64_t load_hist_quantile(const struct load_hist *h, double q)
{
	uint64_t total = 0, seen = 0;

	for (unsigned b = 0; b < LOAD_HIST_BUCKETS; b++)
		total += h->n[b];
	if (total == 0)
		return 0;
	uint64_t want = (uint64_t)(q * (double)total);
	if (want >= total)
		want = total - 1;
	for (unsigned b = 0; b < LOAD_HIST_BUCKETS; b++) {
		seen += h->n[b];
		if (seen > want) {
			uint64_t up = hist_upper(b);
			return up < h->max ? up : h->max;
		}
	}
	return h->max;
}

/* -------------------------------------------------------------- merge */

void load_stats_merge(struct load_stats *dst, const struct load_stats *src)
{
	for (unsigned i = 0; i < LC_COUNT; i++)
		dst->c[i] += src->c[i];
	for (unsigned b = 0; b < LOAD_HIST_BUCKETS; b++)
		dst->hist.n[b] += src->hist.n[b];
	if (src->hist.max > dst->hist.max)
		dst->hist.max = src->hist.max;
	if (!dst->first_error[0])
		memcpy(dst->first_error, src->first_error, sizeof(dst->first_error));
}

void load_stats_note_error(struct load_stats *s, const char *msg, size_t len)
{
	if (s->first_error[0])
		return;
	if (len >= sizeof(s->first_error))
		len = sizeof(s->first_error) - 1;
	/* Keep it printable: the text comes from the network. */
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)msg[i];
		s->first_error[i] = (ch >= 0x20 && ch < 0x7f && ch != '"' && ch != '\\') ? (char)ch
											   : '?';
	}
	s->first_error[len] = '\0';
	if (len == 0)
		memcpy(s->first_error, "(empty)", 8);
}

/* ------------------------------------------------------------ output */

struct figures {
	uint64_t ok, ok_connect, ok_announce, ok_scrape;
	double rate, rate_connect, rate_announce, rate_scrape;
	double p50, p99, p999, max; /* microseconds */
	double cpu, cpu_pct;
};

static double per_second(uint64_t n, double s)
{
	return s > 0 ? (double)n / s : 0;
}

static void compute(const struct load_report *r, struct figures *f)
{
	const struct load_stats *t = &r->total;

	f->ok_connect = t->c[LC_ok_connect];
	f->ok_announce = t->c[LC_ok_announce];
	f->ok_scrape = t->c[LC_ok_scrape];
	f->ok = f->ok_connect + f->ok_announce + f->ok_scrape;
	f->rate = per_second(f->ok, r->seconds);
	f->rate_connect = per_second(f->ok_connect, r->seconds);
	f->rate_announce = per_second(f->ok_announce, r->seconds);
	f->rate_scrape = per_second(f->ok_scrape, r->seconds);
	f->p50 = (double)load_hist_quantile(&t->hist, 0.50) / 1e3;
	f->p99 = (double)load_hist_quantile(&t->hist, 0.99) / 1e3;
	f->p999 = (double)load_hist_quantile(&t->hist, 0.999) / 1e3;
	f->max = (double)t->hist.max / 1e3;
	f->cpu = r->cpu_user + r->cpu_sys;
	f->cpu_pct = r->seconds > 0 ? 100.0 * f->cpu / r->seconds : 0;
}

void load_print_summary(const struct load_report *r)
{
	const struct load_config *c = r->cfg;
	const struct load_stats *t = &r->total;
	char target[NETADDR_TEXT_MAX];
	struct figures f;

	compute(r, &f);
	netaddr_format(&c->target, target, sizeof(target));
	printf("ringtracker-load: %s %s, %u thread(s), %.2f s measured%s\n",
	       c->mode == LOAD_UDP ? "udp" : "http", target, c->threads, r->seconds,
	       r->interrupted ? " (interrupted)" : "");
	printf("  ok/s         %.0f total: announce %.0f, scrape %.0f, connect %.0f\n", f.rate,
	       f.rate_announce, f.rate_scrape, f.rate_connect);
	printf("  ok           announce %llu, scrape %llu, connect %llu\n",
	       (unsigned long long)f.ok_announce, (unsigned long long)f.ok_scrape,
	       (unsigned long long)f.ok_connect);
	printf("  sent         announce %llu, scrape %llu, connect %llu\n",
	       (unsigned long long)t->c[LC_sent_announce], (unsigned long long)t->c[LC_sent_scrape],
	       (unsigned long long)t->c[LC_sent_connect]);
	printf("  errors %llu, malformed %llu, lost %llu, late %llu, unknown %llu, "
	       "wrong socket %llu, send errors %llu\n",
	       (unsigned long long)t->c[LC_errors], (unsigned long long)t->c[LC_malformed],
	       (unsigned long long)t->c[LC_lost], (unsigned long long)t->c[LC_late],
	       (unsigned long long)t->c[LC_unknown], (unsigned long long)t->c[LC_wrong_socket],
	       (unsigned long long)t->c[LC_send_errors]);
	if (t->first_error[0])
		printf("  first error  \"%s\"\n", t->first_error);
	if (t->c[LC_refused])
		printf("  refused      %llu ICMP port unreachable: is anything listening there?\n",
		       (unsigned long long)t->c[LC_refused]);
	printf("  latency us   p50 %.1f, p99 %.1f, p99.9 %.1f, max %.1f\n", f.p50, f.p99, f.p999,
	       f.max);
	printf("  generator    cpu %.2f s (user %.2f, sys %.2f) = %.0f%% of one core\n", f.cpu,
	       r->cpu_user, r->cpu_sys, f.cpu_pct);
	if (c->mode == LOAD_HTTP)
		printf("  http         connections opened %llu, connection errors %llu\n",
		       (unsigned long long)t->c[LC_http_opened],
		       (unsigned long long)t->c[LC_http_conn_errors]);
}

static void json_config(const struct load_config *c)
{
	char target[NETADDR_TEXT_MAX];

	netaddr_format(&c->target, target, sizeof(target));
	printf("\"mode\":\"%s\",\"target\":\"%s\",\"io\":\"%s\",\"threads\":%u,", 
	       c->mode == LOAD_UDP ? "udp" : (c->http_close ? "http-close" : "http"), target,
	       c->io == LOAD_IO_URING ? "uring" : "mmsg", c->threads);
	printf("\"torrents\":%u,\"zipf\":%g,\"peers\":%u,\"sockets\":%u,\"window\":%u,"
	       "\"connections\":%u,\"numwant\":%d,\"ratio\":%u,\"scrape_hashes\":%u,"
	       "\"warmup_s\":%u,\"duration_s\":%u,\"timeout_ms\":%u,",
	       c->torrents, c->zipf, c->peers, c->sockets, c->window, c->connections, c->numwant,
	       c->ratio, c->scrape_hashes, c->warmup, c->duration, c->timeout_ms);
}

void load_print_json(const struct load_report *r)
{
	const struct load_stats *t = &r->total;
	struct figures f;

	compute(r, &f);
	printf("{");
	json_config(r->cfg);
	printf("\"seconds\":%.3f,\"interrupted\":%s,", r->seconds, r->interrupted ? "true" : "false");
	printf("\"responses_per_s\":{\"total\":%.1f,\"announce\":%.1f,\"scrape\":%.1f,"
	       "\"connect\":%.1f},",
	       f.rate, f.rate_announce, f.rate_scrape, f.rate_connect);
	printf("\"counters\":{");
	for (unsigned i = 0; i < LC_COUNT; i++)
		printf("%s\"%s\":%llu", i ? "," : "", counter_names[i],
		       (unsigned long long)t->c[i]);
	printf("},\"first_error\":\"%s\",", t->first_error);
	printf("\"latency_us\":{\"p50\":%.1f,\"p99\":%.1f,\"p999\":%.1f,\"max\":%.1f},", f.p50,
	       f.p99, f.p999, f.max);
	printf("\"cpu\":{\"user_s\":%.3f,\"sys_s\":%.3f,\"percent\":%.1f}}\n", r->cpu_user,
	       r->cpu_sys, f.cpu_pct);
	fflush(stdout);
}

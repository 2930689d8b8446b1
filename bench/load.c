/* load.c - ringtracker-load: a load generator for BitTorrent trackers that
 * models real swarms (BEP 15 over UDP, BEP 3 announces over HTTP).
 *
 * What it does: parses flags, builds the swarm model (load_model.c), sets up
 * one engine per load thread (load_udp.c / load_http.c) on the main thread,
 * starts the threads pinned to --cpus, prints a progress line each second,
 * and after --warmup + --duration seconds (or SIGINT/SIGTERM) joins them and
 * prints the summary or one JSON object (load_stats.c).
 * What it doesn't: no protocol code (udp.c, http.h), no remote targets unless
 * --allow-remote-target says so.
 * Threads: main thread here; load threads run load_udp_run/load_http_run.
 * The stop flag is the only mutable global; signal handlers only set it.
 * Memory: the model and the engines are owned by main and freed after join.
 */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "load.h"
#include "udp.h"

static atomic_int stop_flag;

static void on_signal(int sig)
{
	(void)sig;
	atomic_store(&stop_flag, 1);
}

uint64_t load_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

int load_phase(const struct load_thread *t, uint64_t now)
{
	if (now >= t->clock->end || atomic_load_explicit(t->stop, memory_order_relaxed))
		return -1;
	return now < t->clock->measure ? LOAD_PHASE_WARMUP : LOAD_PHASE_MEASURE;
}

/* -------------------------------------------------------------- flags */

static const char usage_text[] =
    "Usage: ringtracker-load [options]\n"
    "\n"
    "Load generator for BitTorrent trackers: simulated peers announce and scrape\n"
    "over UDP (BEP 15, default) or HTTP (BEP 3), with Zipf-skewed torrent\n"
    "popularity. Stops by itself after --warmup + --duration seconds, or on Ctrl-C,\n"
    "and prints a summary. Targets loopback only unless --allow-remote-target.\n"
    "\n"
    "Target:\n"
    "  --udp ADDR:PORT        UDP tracker address (default 127.0.0.1:6969); a URL\n"
    "                         udp://ADDR:PORT/announce is accepted too\n"
    "  --http ADDR:PORT       HTTP mode: announce over HTTP/1.1 to this address\n"
    "                         (or http://ADDR:PORT/announce; the path is ignored)\n"
    "  --ipv6                 use [::1] with the port of --udp/--http\n"
    "  --allow-remote-target  permit an address outside 127.0.0.0/8 and ::1, e.g. a\n"
    "                         tracker in a network namespace reached over a veth\n"
    "                         pair; sockets then bind to the wildcard address\n"
    "Model:\n"
    "  --torrents N           torrents (default 1000000)\n"
    "  --zipf S               Zipf exponent of torrent popularity (default 1.0)\n"
    "  --peers N              simulated peers, each in one torrent (default 2000000)\n"
    "  --numwant N            peers asked for per announce, -1..1000 (default 50)\n"
    "  --ratio R              announces per scrape (default 100); 0 = scrapes only\n"
    "  --scrape-hashes K      a scrape asks 1..K hashes, 0..74 (default 10);\n"
    "                         0 = no scrapes\n"
    "UDP:\n"
    "  --sockets N            UDP sockets per thread, each its own source port and\n"
    "                         connection id (default 256)\n"
    "  --src-ips N            spread sockets over 127.0.0.1 .. 127.0.0.N (default 1)\n"
    "  --window N             requests outstanding per thread, 1..65536 (default 256)\n"
    "  --io uring|mmsg        I/O: io_uring (default) or sendmmsg/recvmmsg + epoll\n"
    "HTTP:\n"
    "  --connections C        connections per thread, one request in flight each\n"
    "                         (default 64)\n"
    "  --http-close           one request per connection (Connection: close)\n"
    "Run:\n"
    "  --threads T            load threads (default 1, or one per --cpus entry)\n"
    "  --cpus LIST            CPUs to pin threads to, e.g. 0 or 0,2-3 (default 0)\n"
    "  --warmup S             seconds before measuring, 0..600 (default 2)\n"
    "  --duration S           measured seconds, 1..3600 (default 10)\n"
    "  --timeout-ms MS        a request without a reply after MS is lost (default 1000)\n"
    "Output:\n"
    "  --json                 print one JSON object instead of the summary\n"
    "  --quiet                no progress lines (stderr)\n"
    "  --dump-hashes N        print the first N info hashes (hex) and exit\n"
    "  --populate             UDP: announce every peer once (started), then stop;\n"
    "                         all of it is measured (no warm-up), capped at 300 s;\n"
    "                         sources spread over one address per socket unless\n"
    "                         --src-ips is given, so the tracker stores --peers peers\n"
    "  -h, --help             this text\n"
    "\n"
    "Info hash i = BLAKE2b-160 keyed with \"ringtracker-load\" of i as 8 bytes LE.\n"
    "Exit status: 0 done, 1 set-up failure, 2 bad flags.\n";

enum {
	OPT_UDP = 256, OPT_HTTP, OPT_IPV6, OPT_REMOTE, OPT_TORRENTS, OPT_ZIPF, OPT_PEERS,
	OPT_NUMWANT, OPT_RATIO, OPT_SCRAPE_HASHES, OPT_SOCKETS, OPT_SRC_IPS, OPT_WINDOW,
	OPT_IO, OPT_CONNECTIONS, OPT_HTTP_CLOSE, OPT_THREADS, OPT_CPUS, OPT_WARMUP,
	OPT_DURATION, OPT_TIMEOUT, OPT_JSON, OPT_QUIET, OPT_DUMP, OPT_POPULATE,
};

static const struct option long_opts[] = {
    {"udp", required_argument, NULL, OPT_UDP},
    {"http", required_argument, NULL, OPT_HTTP},
    {"ipv6", no_argument, NULL, OPT_IPV6},
    {"allow-remote-target", no_argument, NULL, OPT_REMOTE},
    {"torrents", required_argument, NULL, OPT_TORRENTS},
    {"zipf", required_argument, NULL, OPT_ZIPF},
    {"peers", required_argument, NULL, OPT_PEERS},
    {"numwant", required_argument, NULL, OPT_NUMWANT},
    {"ratio", required_argument, NULL, OPT_RATIO},
    {"scrape-hashes", required_argument, NULL, OPT_SCRAPE_HASHES},
    {"sockets", required_argument, NULL, OPT_SOCKETS},
    {"src-ips", required_argument, NULL, OPT_SRC_IPS},
    {"window", required_argument, NULL, OPT_WINDOW},
    {"io", required_argument, NULL, OPT_IO},
    {"connections", required_argument, NULL, OPT_CONNECTIONS},
    {"http-close", no_argument, NULL, OPT_HTTP_CLOSE},
    {"threads", required_argument, NULL, OPT_THREADS},
    {"cpus", required_argument, NULL, OPT_CPUS},
    {"warmup", required_argument, NULL, OPT_WARMUP},
    {"duration", required_argument, NULL, OPT_DURATION},
    {"timeout-ms", required_argument, NULL, OPT_TIMEOUT},
    {"json", no_argument, NULL, OPT_JSON},
    {"quiet", no_argument, NULL, OPT_QUIET},
    {"dump-hashes", required_argument, NULL, OPT_DUMP},
    {"populate", no_argument, NULL, OPT_POPULATE},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

/* Parses a whole decimal integer in [lo, hi]. */
static int parse_int(const char *flag, const char *s, long long lo, long long hi, long long *out)
{
	char *end;

	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (errno || end == s || *end || v < lo || v > hi) {
		fprintf(stderr, "ringtracker-load: --%s: '%s' is not an integer in %lld..%lld\n",
			flag, s, lo, hi);
		return -EINVAL;
	}
	*out = v;
	return 0;
}

static int parse_u32(const char *flag, const char *s, long long lo, long long hi, uint32_t *out)
{
	long long v;
	int r = parse_int(flag, s, lo, hi, &v);

	if (r == 0)
		*out = (uint32_t)v;
	return r;
}

/* "0", "0,2-3": ascending or not, at most LOAD_MAX_THREADS entries. */
static int parse_cpus(const char *s, struct load_config *c)
{
	const char *p = s;

	c->n_cpus = 0;
	while (*p) {
		char *end;
		long a = strtol(p, &end, 10), b = a;
		if (end == p || a < 0 || a >= CPU_SETSIZE)
			goto bad;
		p = end;
		if (*p == '-') {
			b = strtol(p + 1, &end, 10);
			if (end == p + 1 || b < a || b >= CPU_SETSIZE)
				goto bad;
			p = end;
		}
		for (long k = a; k <= b; k++) {
			if (c->n_cpus == LOAD_MAX_THREADS)
				goto bad;
			c->cpus[c->n_cpus++] = (int)k;
		}
		if (*p == ',')
			p++;
		else if (*p)
			goto bad;
	}
	if (c->n_cpus)
		return 0;
bad:
	fprintf(stderr, "ringtracker-load: --cpus: '%s' is not a list like 0,2-3 (at most %d)\n", s,
		LOAD_MAX_THREADS);
	return -EINVAL;
}

/* ADDR:PORT, optionally written as a tracker URL: udp://ADDR:PORT/announce
 * or http://ADDR:PORT/announce (the path is ignored). */
static int parse_target(const char *flag, const char *s, struct netaddr *out)
{
	char text[NETADDR_TEXT_MAX + 16];
	const char *p = s;

	if (!strncmp(p, "udp://", 6))
		p += 6;
	else if (!strncmp(p, "http://", 7))
		p += 7;
	size_t n = strcspn(p, "/");
	if (n < sizeof(text)) {
		memcpy(text, p, n);
		text[n] = '\0';
		if (netaddr_parse(text, out) == 0 && out->port != 0)
			return 0;
	}
	fprintf(stderr, "ringtracker-load: --%s: '%s' is not ADDR:PORT (e.g. 127.0.0.1:6969)\n",
		flag, s);
	return -EINVAL;
}

static void config_defaults(struct load_config *c)
{
	memset(c, 0, sizeof(*c));
	c->mode = LOAD_UDP;
	c->io = LOAD_IO_URING;
	netaddr_parse("127.0.0.1:6969", &c->target);
	c->torrents = 1000000;
	c->zipf = 1.0;
	c->peers = 2000000;
	c->sockets = 256;
	c->src_ips = 1;
	c->scrape_hashes = 10;
	c->ratio = 100;
	c->numwant = 50;
	c->threads = 1;
	c->cpus[0] = 0;
	c->n_cpus = 1;
	c->window = 256;
	c->warmup = 2;
	c->duration = 10;
	c->timeout_ms = 1000;
	c->connections = 64;
}

static int parse_double(const char *flag, const char *s, double lo, double hi, double *out)
{
	char *end;
	double v = strtod(s, &end);

	if (end == s || *end || !(v >= lo && v <= hi)) {
		fprintf(stderr, "ringtracker-load: --%s: '%s' is not a number in %g..%g\n", flag, s,
			lo, hi);
		return -EINVAL;
	}
	*out = v;
	return 0;
}

/* Flags given explicitly, for defaults that depend on other flags. */
struct flags_seen {
	bool threads, src_ips;
};

/* One flag; returns 0, 1 for --help, or -EINVAL. */
static int apply_flag(struct load_config *c, int opt, const char *arg, struct flags_seen *seen)
{
	long long v;

	switch (opt) {
	case OPT_UDP: return parse_target("udp", arg, &c->target);
	case OPT_HTTP: c->mode = LOAD_HTTP; return parse_target("http", arg, &c->target);
	case OPT_IPV6: c->ipv6 = true; return 0;
	case OPT_REMOTE: c->allow_remote = true; return 0;
	case OPT_TORRENTS: return parse_u32("torrents", arg, 1, 100000000, &c->torrents);
	case OPT_ZIPF: return parse_double("zipf", arg, 0, 10, &c->zipf);
	case OPT_PEERS: return parse_u32("peers", arg, 1, 1000000000, &c->peers);
	case OPT_NUMWANT:
		if (parse_int("numwant", arg, -1, 1000, &v) < 0)
			return -EINVAL;
		c->numwant = (int32_t)v;
		return 0;
	case OPT_RATIO: return parse_u32("ratio", arg, 0, 1000000000, &c->ratio);
	case OPT_SCRAPE_HASHES:
		return parse_u32("scrape-hashes", arg, 0, UDP_SCRAPE_MAX_HASHES, &c->scrape_hashes);
	case OPT_SOCKETS: return parse_u32("sockets", arg, 1, LOAD_MAX_SOCKETS, &c->sockets);
	case OPT_SRC_IPS:
		seen->src_ips = true;
		return parse_u32("src-ips", arg, 1, 1 << 20, &c->src_ips);
	case OPT_WINDOW: return parse_u32("window", arg, 1, LOAD_MAX_WINDOW, &c->window);
	case OPT_IO:
		if (!strcmp(arg, "uring") || !strcmp(arg, "mmsg")) {
			c->io = arg[0] == 'u' ? LOAD_IO_URING : LOAD_IO_MMSG;
			return 0;
		}
		fprintf(stderr, "ringtracker-load: --io: '%s' is not uring or mmsg\n", arg);
		return -EINVAL;
	case OPT_CONNECTIONS: return parse_u32("connections", arg, 1, 65536, &c->connections);
	case OPT_HTTP_CLOSE: c->http_close = true; return 0;
	case OPT_THREADS:
		seen->threads = true;
		return parse_u32("threads", arg, 1, LOAD_MAX_THREADS, &c->threads);
	case OPT_CPUS: return parse_cpus(arg, c);
	case OPT_WARMUP: return parse_u32("warmup", arg, 0, 600, &c->warmup);
	case OPT_DURATION: return parse_u32("duration", arg, 1, 3600, &c->duration);
	case OPT_TIMEOUT: return parse_u32("timeout-ms", arg, 1, 60000, &c->timeout_ms);
	case OPT_JSON: c->json = true; return 0;
	case OPT_QUIET: c->quiet = true; return 0;
	case OPT_DUMP: return parse_u32("dump-hashes", arg, 1, 100000000, &c->dump_hashes);
	case OPT_POPULATE: c->populate = true; return 0;
	case 'h': return 1;
	default: return -EINVAL;
	}
}

static bool is_loopback(const struct netaddr *a)
{
	static const uint8_t v6_loopback[16] = {[15] = 1};

	if (a->family == AF_INET)
		return a->ip[0] == 127;
	return memcmp(a->ip, v6_loopback, 16) == 0;
}

/* Cross-flag rules, after every flag is read. */
static int config_finish(struct load_config *c, const struct flags_seen *seen)
{
	char text[NETADDR_TEXT_MAX];

	if (c->ipv6) {
		uint16_t port = c->target.port;
		netaddr_parse("[::1]:1", &c->target);
		c->target.port = port;
	}
	if (!seen->threads && c->n_cpus > 1)
		c->threads = c->n_cpus;
	if (c->populate && c->mode != LOAD_UDP) {
		fprintf(stderr, "ringtracker-load: --populate is for UDP only\n");
		return -EINVAL;
	}
	/* One source address per socket: every peer a distinct (address, port). */
	if (c->populate && !seen->src_ips && c->target.family == AF_INET)
		c->src_ips = c->sockets * c->threads < (1u << 20) ? c->sockets * c->threads : 1u << 20;
	if (!is_loopback(&c->target) && !c->allow_remote) {
		netaddr_format(&c->target, text, sizeof(text));
		fprintf(stderr,
			"ringtracker-load: %s is not a loopback address (127.0.0.0/8, ::1); "
			"add --allow-remote-target if you mean it\n",
			text);
		return -EINVAL;
	}
	if (c->target.family == AF_INET && (uint64_t)c->src_ips > (1u << 24) - 2) {
		fprintf(stderr, "ringtracker-load: --src-ips must stay within 127.0.0.0/8\n");
		return -EINVAL;
	}
	if (c->peers < c->threads) {
		fprintf(stderr, "ringtracker-load: --peers must be at least --threads\n");
		return -EINVAL;
	}
	return 0;
}

/* Returns 0 to run, 1 after --help, or -EINVAL. */
static int parse_flags(int argc, char **argv, struct load_config *c)
{
	struct flags_seen seen = {0};
	int opt, r;

	config_defaults(c);
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "h", long_opts, NULL)) != -1) {
		if (opt == '?') {
			fprintf(stderr, "ringtracker-load: unknown flag or missing value: %s\n",
				argv[optind - 1]);
			return -EINVAL;
		}
		if ((r = apply_flag(c, opt, optarg, &seen)) != 0)
			return r;
	}
	if (optind < argc) {
		fprintf(stderr, "ringtracker-load: unexpected argument '%s'\n", argv[optind]);
		return -EINVAL;
	}
	return config_finish(c, &seen);
}

/* ------------------------------------------------------------ threads */

static void *thread_main(void *arg)
{
	struct load_thread *t = arg;
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(t->cpu, &set);
	if (pthread_setaffinity_np(pthread_self(), sizeof(set), &set) != 0)
		fprintf(stderr, "ringtracker-load: thread %u: cannot pin to CPU %d; runs unpinned\n",
			t->index, t->cpu);
	if (t->cfg->mode == LOAD_UDP)
		load_udp_run(t);
	else
		load_http_run(t);
	atomic_fetch_add(t->finished, 1);
	return NULL;
}

static int setup_threads(const struct load_config *c, const struct load_model *m,
			 const struct load_clock *clk, atomic_uint *finished, struct load_thread *th)
{
	for (uint32_t i = 0; i < c->threads; i++) {
		struct load_thread *t = &th[i];
		t->index = i;
		t->cpu = c->cpus[i % c->n_cpus];
		t->cfg = c;
		t->model = m;
		t->clock = clk;
		t->stop = &stop_flag;
		t->finished = finished;
		t->first_peer = (uint64_t)c->peers * i / c->threads;
		t->n_peers = (uint64_t)c->peers * (i + 1) / c->threads - t->first_peer;
		int r = c->mode == LOAD_UDP ? load_udp_setup(t) : load_http_setup(t);
		if (r < 0) {
			fprintf(stderr, "ringtracker-load: thread %u: %s: %s\n", i, t->err_what,
				strerror(-r));
			return r;
		}
	}
	return 0;
}

static void free_threads(const struct load_config *c, struct load_thread *th)
{
	for (uint32_t i = 0; i < c->threads; i++) {
		if (c->mode == LOAD_UDP)
			load_udp_free(&th[i]);
		else
			load_http_free(&th[i]);
	}
}

/* ----------------------------------------------------------- progress */

static double rusage_seconds(const struct timeval *tv)
{
	return (double)tv->tv_sec + (double)tv->tv_usec / 1e6;
}

static void cpu_now(double *user, double *sys)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	*user = rusage_seconds(&ru.ru_utime);
	*sys = rusage_seconds(&ru.ru_stime);
}

static uint64_t responses_so_far(const struct load_config *c, const struct load_thread *th,
				 uint64_t *bad)
{
	uint64_t ok = 0;

	*bad = 0;
	for (uint32_t i = 0; i < c->threads; i++)
		for (int p = 0; p < LOAD_PHASES; p++) {
			const struct load_stats *s = &th[i].stats[p];
			ok += load_counter_get(s, LC_ok_announce) + load_counter_get(s, LC_ok_scrape) +
			      load_counter_get(s, LC_ok_connect);
			*bad += load_counter_get(s, LC_errors) + load_counter_get(s, LC_malformed) +
				load_counter_get(s, LC_lost);
		}
	return ok;
}

/* Sleeps until ns (CLOCK_MONOTONIC), or until a stop or every thread is
 * finished (looked at every 50 ms). */
static void sleep_until(uint64_t ns, const atomic_uint *finished, uint32_t threads)
{
	while (!atomic_load(&stop_flag) && atomic_load(finished) < threads) {
		uint64_t now = load_now_ns();
		if (now >= ns)
			return;
		uint64_t step = ns - now < 50000000ULL ? ns - now : 50000000ULL;
		struct timespec ts = {.tv_sec = 0, .tv_nsec = (long)step};
		nanosleep(&ts, NULL);
	}
}

/* Ticks once a second from the start until the end (or a stop), printing
 * progress and sampling CPU time at the start and end of the measurement. */
static void supervise(const struct load_config *c, const struct load_clock *clk,
		      const struct load_thread *th, const atomic_uint *finished,
		      struct load_report *rep)
{
	double u0 = 0, s0 = 0, u1, s1;
	bool measuring = false;
	uint64_t last_ok = 0, bad;

	for (uint64_t tick = clk->start + 1000000000ULL;; tick += 1000000000ULL) {
		uint64_t wake = tick;
		if (!measuring && clk->measure <= tick)
			wake = clk->measure;
		if (wake > clk->end)
			wake = clk->end;
		sleep_until(wake, finished, c->threads);
		if (atomic_load(&stop_flag) || atomic_load(finished) == c->threads)
			break;
		if (wake == clk->measure && !measuring) {
			measuring = true;
			cpu_now(&u0, &s0);
			tick -= 1000000000ULL; /* the second tick still comes */
			continue;
		}
		uint64_t ok = responses_so_far(c, th, &bad);
		if (!c->quiet)
			fprintf(stderr, "[%3llus] %s ok/s %llu (errors+malformed+lost so far %llu)\n",
				(unsigned long long)((wake - clk->start + 500000000ULL) / 1000000000ULL),
				wake <= clk->measure ? "warmup" : "      ",
				(unsigned long long)(ok - last_ok), (unsigned long long)bad);
		last_ok = ok;
		if (wake >= clk->end)
			break;
	}
	cpu_now(&u1, &s1);
	if (!measuring) {
		u0 = u1;
		s0 = s1;
	}
	rep->cpu_user = u1 - u0;
	rep->cpu_sys = s1 - s0;
	rep->interrupted = atomic_load(&stop_flag) != 0;
}

static void build_report(const struct load_config *c, const struct load_clock *clk,
			 const struct load_thread *th, struct load_report *rep)
{
	uint64_t stopped = clk->measure;

	for (uint32_t i = 0; i < c->threads; i++) {
		load_stats_merge(&rep->total, &th[i].stats[LOAD_PHASE_MEASURE]);
		if (th[i].stopped_at > stopped)
			stopped = th[i].stopped_at;
	}
	if (stopped > clk->end)
		stopped = clk->end;
	rep->seconds = (double)(stopped - clk->measure) / 1e9;
}

static void dump_hashes(uint32_t n)
{
	struct info_hash h;

	for (uint32_t i = 0; i < n; i++) {
		load_info_hash(i, &h);
		for (int k = 0; k < INFO_HASH_LEN; k++)
			printf("%02x", h.b[k]);
		putchar('\n');
	}
}

static void install_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

/* Room for every socket: raise the soft descriptor limit to the hard one. */
static void raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

static int run(const struct load_config *c, const struct load_model *m, struct load_thread *th)
{
	struct load_clock clk;
	pthread_t tid[LOAD_MAX_THREADS];
	struct load_report rep;
	atomic_uint finished;
	uint32_t started = 0;
	int r;

	memset(&rep, 0, sizeof(rep));
	rep.cfg = c;
	atomic_init(&finished, 0);
	if ((r = setup_threads(c, m, &clk, &finished, th)) < 0)
		return r;
	clk.start = load_now_ns();
	clk.measure = clk.start + (c->populate ? 0 : (uint64_t)c->warmup * 1000000000ULL);
	clk.end = clk.measure + (uint64_t)(c->populate ? LOAD_POPULATE_CAP_S : c->duration) *
					1000000000ULL;
	for (; started < c->threads; started++)
		if ((r = -pthread_create(&tid[started], NULL, thread_main, &th[started])) < 0) {
			fprintf(stderr, "ringtracker-load: pthread_create: %s\n", strerror(-r));
			atomic_store(&stop_flag, 1);
			break;
		}
	if (started == c->threads)
		supervise(c, &clk, th, &finished, &rep);
	for (uint32_t i = 0; i < started; i++)
		pthread_join(tid[i], NULL);
	for (uint32_t i = 0; i < started; i++)
		if (th[i].err < 0) {
			fprintf(stderr, "ringtracker-load: thread %u: %s: %s\n", i, th[i].err_what,
				strerror(-th[i].err));
			r = th[i].err;
		}
	if (r < 0)
		return r;
	build_report(c, &clk, th, &rep);
	if (c->json)
		load_print_json(&rep);
	else
		load_print_summary(&rep);
	return 0;
}

int main(int argc, char **argv)
{
	struct load_config cfg;
	struct load_model model;
	struct load_thread *th;
	int r = parse_flags(argc, argv, &cfg);

	if (r == 1) {
		fputs(usage_text, stdout);
		return 0;
	}
	if (r < 0)
		return 2;
	if (sodium_init() < 0) {
		fprintf(stderr, "ringtracker-load: sodium_init failed\n");
		return 1;
	}
	if (cfg.dump_hashes) {
		dump_hashes(cfg.dump_hashes);
		return 0;
	}
	raise_nofile();
	install_signals();
	if ((r = load_model_init(&model, cfg.torrents, cfg.zipf)) < 0) {
		fprintf(stderr, "ringtracker-load: model: %s\n", strerror(-r));
		return 1;
	}
	th = calloc(cfg.threads, sizeof(*th));
	r = th ? run(&cfg, &model, th) : -ENOMEM;
	if (th)
		free_threads(&cfg, th);
	free(th);
	load_model_free(&model);
	return r < 0 ? 1 : 0;
}

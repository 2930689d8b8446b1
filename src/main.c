/* main.c - the ringtracker process: configuration, signals, start and stop.
 *
 * The only file that calls exit. The main thread parses the command line and
 * config file, starts the workers (server.c), then waits on a signalfd:
 * SIGINT/SIGTERM stop the workers (within WORKER_IDLE_MS) and exit 0;
 * SIGHUP re-reads the configuration and applies what can change live.
 * With --xdp IFACE it loads the XDP prefilter (xdp.c) once the listeners are
 * bound (so port 0 is known) and logs its counters at exit. With --metrics
 * (on by default, 127.0.0.1:9469) it starts the metrics endpoint's thread
 * (metrics.c) last and stops it first.
 * Exit status: 0 clean stop, 1 runtime failure, 2 bad configuration or an
 * unusable address, or a prefilter that --xdp-required and could not load.
 */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "config.h"
#include "counters.h"
#include "log.h"
#include "metrics.h"
#include "reload.h"
#include "sdnotify.h"
#include "server.h"
#include "xdp.h"

#define RINGTRACKER_VERSION "0.1.0"

/* One line per worker with its non-zero counters, at exit. */
static void log_counters(const struct server *srv)
{
	for (unsigned i = 0; i < server_workers(srv); i++) {
		struct counters c;
		char line[900];
		size_t n = 0;

		server_worker_counters(srv, i, &c);
		for (unsigned k = 0; k < CTR_COUNT && n < sizeof(line); k++) {
			if (c.v[k] == 0 || k == CTR_loop_turns)
				continue;
			n += (size_t)snprintf(line + n, sizeof(line) - n, " %s=%llu",
					      counters_name((enum counter_id)k),
					      (unsigned long long)c.v[k]);
		}
		if (n >= sizeof(line))
			n = sizeof(line) - 1;
		line[n] = '\0';
		log_info("worker %u counters:%s", i, n ? line : " none");
	}
}

/* Adds port to ports[*n] unless it is there already. */
static void add_port(uint16_t *ports, size_t *n, uint16_t port)
{
	for (size_t i = 0; i < *n; i++)
		if (ports[i] == port)
			return;
	if (*n < XDP_MAX_PORTS)
		ports[(*n)++] = port;
}

static const enum xdp_attach_mode xdp_modes[] = {
    [CONFIG_XDP_AUTO] = XDP_ATTACH_AUTO,
    [CONFIG_XDP_NATIVE] = XDP_ATTACH_NATIVE,
    [CONFIG_XDP_SKB] = XDP_ATTACH_SKB,
};

/* Loads and attaches the prefilter on the bound UDP ports. Returns the
 * filter, or NULL with the reason in err. */
static struct xdp_filter *xdp_start(const struct config *cfg, const struct server *srv, char *err,
				    size_t errcap)
{
	struct xdp_options o;
	struct xdp_filter *f;

	_Static_assert(XDP_MAX_PORTS >= CONFIG_MAX_LISTEN, "every UDP listener fits the filter");
	memset(&o, 0, sizeof(o));
	for (size_t k = 0; k < cfg->n_udp; k++) {
		uint16_t port = server_udp_port(srv, k);
		if (cfg->udp[k].family == AF_INET6)
			add_port(o.ports6, &o.n_ports6, port);
		else
			add_port(o.ports4, &o.n_ports4, port);
	}
	o.scrape_max = cfg->xdp_scrape_max;
	o.rate_limit_pps = cfg->xdp_rate_limit_pps;
	o.rate_limit_burst = cfg->xdp_rate_limit_burst;
	f = xdp_open(err, errcap);
	if (!f)
		return NULL;
	if (xdp_configure(f, &o, err, errcap) < 0 || xdp_load(f, err, errcap) < 0 ||
	    xdp_attach(f, cfg->xdp_interface,
		       cfg->xdp_mode <= CONFIG_XDP_SKB ? xdp_modes[cfg->xdp_mode] : XDP_ATTACH_AUTO,
		       err, errcap) < 0) {
		xdp_destroy(f);
		return NULL;
	}
	char rate[64] = "off";
	if (o.rate_limit_pps)
		snprintf(rate, sizeof(rate), "%u/s per source, burst %u", o.rate_limit_pps,
			 o.rate_limit_burst);
	log_info("xdp: prefilter attached to %s (%s mode; %zu IPv4 and %zu IPv6 ports; "
		 "rate limit %s)",
		 cfg->xdp_interface, xdp_mode_name(xdp_attached_mode(f)), o.n_ports4, o.n_ports6,
		 rate);
	return f;
}

/* One line with every prefilter counter, at exit. */
static void log_xdp_counters(const struct xdp_filter *f)
{
	struct xdp_counters c;
	char line[900];
	size_t n = 0;
	int r = xdp_read_counters(f, &c);

	if (r < 0) {
		log_warn("xdp counters: cannot read: %s", strerror(-r));
		return;
	}
	for (unsigned k = 0; k < XDP_COUNTERS && n < sizeof(line); k++)
		n += (size_t)snprintf(line + n, sizeof(line) - n, " %s=%llu", xdp_counter_name(k),
				      (unsigned long long)c.v[k]);
	if (n >= sizeof(line))
		n = sizeof(line) - 1;
	line[n] = '\0';
	log_info("xdp counters:%s", line);
}

/* Raises the soft descriptor limit to the hard one (a shell's default of
 * 1024 is below one worker's default HTTP connection limit), and warns when
 * even that is short of what the HTTP connection limits can use: past it,
 * accepts fail and are counted (http_accept_errors). */
static void descriptors_setup(const struct config *cfg, unsigned workers)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return;
	if (rl.rlim_cur < rl.rlim_max) {
		unsigned long long was = (unsigned long long)rl.rlim_cur;
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) == 0)
			log_info("descriptors: limit raised from %llu to %llu", was,
				 (unsigned long long)rl.rlim_cur);
		else
			rl.rlim_cur = (rlim_t)was;
	}
	unsigned long long need = (unsigned long long)cfg->http_max_connections * workers + 64;
	if (cfg->n_http > 0 && rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < need)
		log_warn("descriptors: the limit (%llu) is below what %u HTTP connections per "
			 "worker need (%llu); accepts past it fail and are counted",
			 (unsigned long long)rl.rlim_cur, cfg->http_max_connections, need);
}

/* Blocks the signals we handle in every thread (workers inherit the mask)
 * and returns a signalfd for them, or -1. */
static int signals_setup(void)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	if (pthread_sigmask(SIG_BLOCK, &set, NULL) != 0)
		return -1;
	signal(SIGPIPE, SIG_IGN);
	return signalfd(-1, &set, SFD_CLOEXEC);
}

/* When started as root with [server] user set: switches to that user (and
 * its groups) once every socket is bound and the prefilter is attached.
 * Returns 0, or the exit status with the reason logged: 2 for a user that
 * does not exist (a configuration error), 1 when the switch fails. */
static int drop_privileges(const struct config *cfg)
{
	if (!cfg->user[0])
		return 0;
	if (geteuid() != 0) {
		log_warn("user: not started as root; staying uid %u", (unsigned)geteuid());
		return 0;
	}
	struct passwd *pw = getpwnam(cfg->user);
	if (!pw) {
		log_error("--user %s: no such user", cfg->user);
		return 2;
	}
	/* Groups first: after setuid we may no longer change them. */
	if (initgroups(pw->pw_name, pw->pw_gid) != 0 || setgid(pw->pw_gid) != 0 ||
	    setuid(pw->pw_uid) != 0) {
		log_error("--user %s: cannot switch: %s", cfg->user, strerror(errno));
		return 1;
	}
	if (setuid(0) == 0) {
		log_error("--user %s: root could be regained; refusing to run", cfg->user);
		return 1;
	}
	log_info("user: running as %s (uid %u, gid %u)", pw->pw_name, (unsigned)pw->pw_uid,
		 (unsigned)pw->pw_gid);
	return 0;
}

/* The running configuration and the ones it replaced. Workers may still
 * read a replaced one until their next loop turn, so those are freed only
 * after the workers stop. */
struct configs {
	int argc;
	char **argv;
	struct config *live;
	struct config **retired;
	size_t n_retired;
};

/* SIGHUP: reads the command line and config file again and applies what
 * can change live; names what cannot in one line. A bad file changes
 * nothing. */
static void reload(struct configs *cs, struct server *srv)
{
	struct config_args args;
	char err[CONFIG_ERROR_MAX], changed[512], fixed[512];
	struct config *fresh = calloc(1, sizeof(*fresh));
	struct config **grown = realloc(cs->retired, (cs->n_retired + 1) * sizeof(*grown));

	if (!fresh || !grown) {
		free(fresh);
		log_error("SIGHUP: out of memory; configuration unchanged");
		return;
	}
	cs->retired = grown;
	if (config_parse_args(fresh, &args, cs->argc, cs->argv, err, sizeof(err)) < 0) {
		log_error("SIGHUP: %s; configuration unchanged", err);
		free(fresh);
		return;
	}
	if (!args.config_file)
		log_warn("SIGHUP: no configuration file (-c) to re-read");
	int n = reload_merge(cs->live, fresh, changed, sizeof(changed), fixed, sizeof(fixed));
	if (fixed[0])
		log_warn("SIGHUP: %s cannot change while running; restart to apply", fixed);
	if (n == 0) {
		log_info("SIGHUP: configuration re-read; nothing to change");
		free(fresh);
		return;
	}
	server_reconfigure(srv, fresh);
	cs->retired[cs->n_retired++] = cs->live;
	cs->live = fresh;
	log_set_level((enum log_level)fresh->log_level);
	log_info("SIGHUP: applied %s", changed);
}

/* Waits for SIGINT or SIGTERM, reloading on SIGHUP; returns the exit status
 * (1 when the signalfd itself failed). */
static int wait_for_stop(int sfd, struct configs *cs, struct server *srv)
{
	for (;;) {
		struct signalfd_siginfo si;
		ssize_t r = read(sfd, &si, sizeof(si));
		if (r < 0 && errno == EINTR)
			continue;
		if (r != (ssize_t)sizeof(si)) {
			log_error("signalfd read failed: %s; stopping", strerror(errno));
			return 1;
		}
		if (si.ssi_signo == SIGHUP) {
			sdnotify("RELOADING=1");
			reload(cs, srv);
			sdnotify("READY=1");
			continue;
		}
		log_info("%s: stopping", strsignal((int)si.ssi_signo));
		sdnotify("STOPPING=1");
		return 0;
	}
}

int main(int argc, char **argv)
{
	struct config cfg;
	struct config_args args;
	char err[CONFIG_ERROR_MAX];

	if (sodium_init() < 0) {
		fprintf(stderr, "ringtracker: libsodium failed to initialise\n");
		exit(1);
	}
	if (config_parse_args(&cfg, &args, argc, argv, err, sizeof(err)) < 0) {
		fprintf(stderr, "ringtracker: %s\n", err);
		fprintf(stderr, "Try 'ringtracker --help'.\n");
		exit(2);
	}
	if (args.help) {
		config_usage(stdout, argv[0]);
		exit(0);
	}
	if (args.version) {
		printf("ringtracker %s\n", RINGTRACKER_VERSION);
		exit(0);
	}
	if (args.print_config)
		exit(config_print(&cfg, stdout) == 0 ? 0 : 1);

	log_set_level((enum log_level)cfg.log_level);
	int sfd = signals_setup();
	if (sfd < 0) {
		fprintf(stderr, "ringtracker: signal set-up failed: %s\n", strerror(errno));
		exit(1);
	}
	log_info("ringtracker %s starting", RINGTRACKER_VERSION);
	struct server *srv = server_start(&cfg, err, sizeof(err));
	if (!srv) {
		log_error("%s", err);
		/* Errors about a flag's value (an unusable address or CPU) start
		 * with the flag's name: a configuration error, status 2. */
		exit(strncmp(err, "--", 2) == 0 ? 2 : 1);
	}
	descriptors_setup(&cfg, server_workers(srv));
	struct xdp_filter *xdp = NULL;
	if (cfg.xdp_interface[0]) {
		xdp = xdp_start(&cfg, srv, err, sizeof(err));
		if (!xdp && cfg.xdp_required) {
			log_error("%s; exiting (--xdp-required)", err);
			server_free(srv);
			exit(2);
		}
		if (!xdp)
			log_warn("%s; running without the prefilter", err);
	}
	struct metrics *metrics = NULL;
	if (cfg.has_metrics) {
		metrics = metrics_start(&cfg, srv, xdp, RINGTRACKER_VERSION, err, sizeof(err));
		if (!metrics) {
			log_error("%s", err);
			xdp_destroy(xdp);
			server_free(srv);
			exit(strncmp(err, "--", 2) == 0 ? 2 : 1);
		}
	}
	int dropped = drop_privileges(&cfg);
	if (dropped) {
		metrics_stop(metrics);
		server_free(srv);
		xdp_destroy(xdp);
		exit(dropped);
	}
	log_info("ready");
	sdnotify("READY=1");
	struct configs cs = { .argc = argc, .argv = argv, .live = &cfg };
	int status = wait_for_stop(sfd, &cs, srv);
	metrics_stop(metrics); /* it reads the server and the prefilter: first */
	server_stop(srv);
	xdp_detach(xdp);
	log_counters(srv);
	if (xdp)
		log_xdp_counters(xdp);
	xdp_destroy(xdp);
	server_free(srv);
	/* The first configuration lives on main's stack; the others on the heap. */
	for (size_t i = 0; i < cs.n_retired; i++)
		if (cs.retired[i] != &cfg)
			free(cs.retired[i]);
	if (cs.live != &cfg)
		free(cs.live);
	free(cs.retired);
	close(sfd);
	log_info("stopped");
	return status;
}

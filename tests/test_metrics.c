/* test_metrics.c - unit tests for the metrics renderers (src/metrics_render.c)
 * and readers (src/metrics.c): the /metrics page from fake snapshots (names,
 * labels, sums over workers, per-worker series, # HELP / # TYPE, optional
 * families, every counter and gauge exported, escaping, running out of
 * room), `promtool check metrics` on a page with every family when
 * /usr/bin/promtool exists, the /top JSON, and /proc/self and jemalloc
 * readings.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "metrics.h"

#define PAGE_MAX (256 * 1024)

static char page[PAGE_MAX];

static struct metrics_snapshot snapshot(struct counters *w, unsigned n)
{
	return (struct metrics_snapshot){
	    .n_workers = n,
	    .workers = w,
	    .version = "1.2.3",
	    .features = "udp,http",
	};
}

static void render(const struct metrics_snapshot *s)
{
	int n = metrics_render(s, page, sizeof(page));

	cr_assert_gt(n, 0, "render: %d", n);
	cr_assert_eq((size_t)n, strlen(page));
}

/* True when the page holds this exact line. */
static bool has_line(const char *line)
{
	size_t n = strlen(line);

	for (const char *p = page; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		if (strncmp(p, line, n) == 0 && p[n] == '\n')
			return true;
	return false;
}

#define HAS(line) cr_assert(has_line(line), "missing line: %s\n%s", line, page)

Test(metrics, sums_workers_and_labels_series)
{
	static struct counters w[2];

	memset(w, 0, sizeof(w));
	w[0].v[CTR_udp_announce_v4] = 5;
	w[1].v[CTR_udp_announce_v4] = 7;
	w[1].v[CTR_http_scrape_v6] = 3;
	w[0].v[CTR_udp_announce_replies_v6] = 2;
	w[0].v[CTR_udp_malformed_runt] = 4;
	w[1].v[CTR_udp_error_connid] = 6;
	w[0].v[CTR_http_not_found] = 1;
	w[0].v[CTR_handoff_dropped] = 9;
	w[1].v[CTR_limit_memory] = 8;
	w[0].v[CTR_recv_enobufs] = 11;
	w[1].v[CTR_udp_rx_bytes] = 1000;
	w[0].v[CTR_loop_turns] = 40;
	w[1].v[CTR_loop_turns] = 50;
	w[0].g[GAUGE_torrents] = 10;
	w[1].g[GAUGE_torrents] = 20;
	w[0].g[GAUGE_seeders_v6] = 2;
	w[1].g[GAUGE_seeders_v6] = 3;
	w[1].g[GAUGE_leechers_v4] = 4;
	w[0].g[GAUGE_http_connections_open] = 12;
	struct metrics_snapshot s = snapshot(w, 2);
	render(&s);

	HAS("ringtracker_requests_total{protocol=\"udp\",action=\"announce\",family=\"ipv4\"} 12");
	HAS("ringtracker_requests_total{protocol=\"http\",action=\"scrape\",family=\"ipv6\"} 3");
	HAS("ringtracker_requests_total{protocol=\"udp\",action=\"connect\",family=\"ipv4\"} 0");
	HAS("ringtracker_responses_total{protocol=\"udp\",action=\"announce\",family=\"ipv6\"} 2");
	HAS("ringtracker_malformed_requests_total{protocol=\"udp\",reason=\"runt\"} 4");
	HAS("ringtracker_error_replies_total{protocol=\"udp\",reason=\"connection_id\"} 6");
	HAS("ringtracker_error_replies_total{protocol=\"http\",reason=\"not_found\"} 1");
	HAS("ringtracker_handoffs_total{result=\"dropped\"} 9");
	HAS("ringtracker_limit_hits_total{limit=\"memory\"} 8");
	HAS("ringtracker_recv_enobufs_total 11");
	HAS("ringtracker_received_bytes_total{protocol=\"udp\"} 1000");
	HAS("ringtracker_peers{family=\"ipv6\",kind=\"seeder\"} 5");
	HAS("ringtracker_peers{family=\"ipv4\",kind=\"leecher\"} 4");
	HAS("ringtracker_http_connections_open 12");
	HAS("ringtracker_workers 2");
	HAS("ringtracker_torrents{worker=\"0\"} 10");
	HAS("ringtracker_torrents{worker=\"1\"} 20");
	HAS("ringtracker_worker_requests_total{worker=\"0\",protocol=\"udp\"} 5");
	HAS("ringtracker_worker_requests_total{worker=\"1\",protocol=\"udp\"} 7");
	HAS("ringtracker_worker_requests_total{worker=\"1\",protocol=\"http\"} 3");
	HAS("ringtracker_worker_loop_turns_total{worker=\"1\"} 50");
	HAS("ringtracker_build_info{version=\"1.2.3\",features=\"udp,http\"} 1");
	HAS("# TYPE ringtracker_requests_total counter");
	HAS("# TYPE ringtracker_peers gauge");
	HAS("# TYPE ringtracker_torrents gauge");
	HAS("# TYPE ringtracker_build_info gauge");
	HAS("ringtracker_xdp_attached 0");
	cr_assert_null(strstr(page, "ringtracker_xdp_packets_total"));
	cr_assert_null(strstr(page, "ringtracker_allocator_bytes"));
	cr_assert_null(strstr(page, "process_"));
}

/* Every family: # HELP then # TYPE, once, before its samples; counters and
 * only counters end in _total; names are snake_case with our prefix. */
Test(metrics, every_family_has_help_and_type_once)
{
	static struct counters w[3];
	struct metrics_snapshot s = snapshot(w, 3);

	memset(w, 0, sizeof(w));
	s.xdp_attached = s.has_xdp = s.has_allocator = s.has_process = true;
	render(&s);
	for (const char *p = page; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		char name[128], type[16], key[160];
		if (strncmp(p, "# TYPE ", 7) == 0) {
			cr_assert_eq(sscanf(p, "# TYPE %127s %15s", name, type), 2);
			snprintf(key, sizeof(key), "# TYPE %s ", name);
			cr_assert_eq(strstr(page, key), p, "%s typed twice", name);
			snprintf(key, sizeof(key), "# HELP %s ", name);
			const char *help = strstr(page, key);
			cr_assert(help && help < p, "%s: HELP must come before TYPE", name);
			bool total =
			    strlen(name) > 6 && strcmp(name + strlen(name) - 6, "_total") == 0;
			cr_assert_eq(strcmp(type, "counter") == 0, total, "%s is a %s", name, type);
			cr_assert(strncmp(name, "ringtracker_", 12) == 0 ||
				      strncmp(name, "process_", 8) == 0,
				  "%s", name);
			for (const char *c = name; *c; c++)
				cr_assert((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') ||
					      *c == '_',
					  "%s", name);
			continue;
		}
		if (*p == '#')
			continue;
		size_t n = strcspn(p, "{ ");
		cr_assert_lt(n, sizeof(name));
		memcpy(name, p, n);
		name[n] = '\0';
		snprintf(key, sizeof(key), "# TYPE %s ", name);
		const char *t = strstr(page, key);
		cr_assert(t && t < p, "sample of %s before (or without) its TYPE", name);
	}
}

/* Each worker counter and gauge shows up somewhere on the page: give one a
 * value no other has and look for it. */
Test(metrics, every_counter_and_gauge_is_exported)
{
	static struct counters w[1];
	struct metrics_snapshot s = snapshot(w, 1);
	char want[32];

	for (unsigned k = 0; k < CTR_COUNT; k++) {
		/* The sum of the CTR_udp_error_* reasons, exported as those. */
		if (k == CTR_udp_error_replies)
			continue;
		memset(w, 0, sizeof(w));
		w[0].v[k] = 987650000u + k;
		render(&s);
		snprintf(want, sizeof(want), " %u\n", 987650000u + k);
		cr_assert(strstr(page, want), "counter %s is not exported",
			  counters_name((enum counter_id)k));
	}
	for (unsigned k = 0; k < GAUGE_COUNT; k++) {
		memset(w, 0, sizeof(w));
		w[0].g[k] = 876540000u + k;
		render(&s);
		snprintf(want, sizeof(want), " %u\n", 876540000u + k);
		cr_assert(strstr(page, want), "gauge %s is not exported",
			  counters_gauge_name((enum gauge_id)k));
	}
}

Test(metrics, optional_families_and_escaping)
{
	static struct counters w[1];
	struct metrics_snapshot s = snapshot(w, 1);

	memset(w, 0, sizeof(w));
	s.xdp_attached = true;
	s.has_xdp = true;
	for (unsigned i = 0; i < XDP_COUNTERS; i++)
		s.xdp.v[i] = 100 + i;
	s.has_allocator = true;
	s.allocator =
	    (struct metrics_allocator){.allocated = 1, .active = 2, .resident = 3, .mapped = 4};
	s.has_process = true;
	s.process = (struct metrics_process){.cpu_seconds = 1.5,
					     .resident_bytes = 4096,
					     .virtual_bytes = 8192,
					     .open_fds = 7,
					     .max_fds = 1024,
					     .start_time_seconds = 1700000000.25};
	s.version = "a\"b\\c\nd";
	render(&s);
	HAS("ringtracker_xdp_attached 1");
	char line[160];
	for (unsigned i = 0; i < XDP_COUNTERS; i++) {
		snprintf(line, sizeof(line),
			 "ringtracker_xdp_packets_total{verdict=\"%s\",reason=\"%s\"} %u",
			 xdp_counter_verdict(i), xdp_counter_reason(i), 100 + i);
		HAS(line);
	}
	HAS("ringtracker_xdp_packets_total{verdict=\"pass\",reason=\"valid\"} 100");
	HAS("ringtracker_allocator_bytes{kind=\"allocated\"} 1");
	HAS("ringtracker_allocator_bytes{kind=\"mapped\"} 4");
	HAS("process_cpu_seconds_total 1.50");
	HAS("process_resident_memory_bytes 4096");
	HAS("process_virtual_memory_bytes 8192");
	HAS("process_open_fds 7");
	HAS("process_max_fds 1024");
	HAS("process_start_time_seconds 1700000000.25");
	HAS("ringtracker_build_info{version=\"a\\\"b\\\\c\\nd\",features=\"udp,http\"} 1");
}

Test(metrics, too_small_a_buffer_is_enospc)
{
	static struct counters w[4];
	struct metrics_snapshot s = snapshot(w, 4);
	static char small[1000];

	memset(w, 0, sizeof(w));
	cr_assert_eq(metrics_render(&s, small, sizeof(small)), -ENOSPC);
	cr_assert_eq(metrics_render(&s, small, 0), -ENOSPC);
	int n = metrics_render(&s, page, sizeof(page));
	cr_assert_gt(n, 0);
	cr_assert_eq(metrics_render(&s, page, (size_t)n), -ENOSPC, "no room for the NUL");
	cr_assert_eq(metrics_render(&s, page, (size_t)n + 1), n);
}

/* With promtool (Debian package prometheus), the page with every family
 * passes `promtool check metrics` without a lint message. */
Test(metrics, promtool_accepts_a_full_page)
{
	static struct counters w[2];
	struct metrics_snapshot s = snapshot(w, 2);
	char path[] = "/tmp/ringtracker-metrics-unit-XXXXXX", cmd[256], out[4096];

	if (access("/usr/bin/promtool", X_OK) != 0)
		cr_skip_test("/usr/bin/promtool not found (Debian package prometheus)");
	memset(w, 0, sizeof(w));
	for (unsigned k = 0; k < CTR_COUNT; k++)
		w[k % 2].v[k] = k;
	s.xdp_attached = s.has_xdp = s.has_allocator = s.has_process = true;
	s.process.start_time_seconds = 1700000000;
	render(&s);
	int fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, page, strlen(page)), (ssize_t)strlen(page));
	close(fd);
	snprintf(cmd, sizeof(cmd), "/usr/bin/promtool check metrics < %s 2>&1", path);
	FILE *p = popen(cmd, "r");
	cr_assert_not_null(p);
	size_t n = fread(out, 1, sizeof(out) - 1, p);
	out[n] = '\0';
	int st = pclose(p);
	unlink(path);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0 && n == 0, "promtool:\n%s", out);
}

/* ---- /top --------------------------------------------------------------- */

Test(metrics, top_json)
{
	static struct top_list l;
	struct metrics_top_info info = {.workers = 4, .stale = 1, .age_seconds = 7};
	struct top_entry e = {.seeders = 3, .leechers = 4, .downloaded = 5};
	static char buf[4096];

	top_init(&l, 10);
	int n = metrics_render_top(&l, &info, buf, sizeof(buf));
	cr_assert_gt(n, 0);
	cr_assert_str_eq(buf, "{\"torrents\":[],\n\"count\":0,\"workers\":4,\"stale_workers\":1,"
			      "\"age_seconds\":7,\"refresh_seconds\":10}\n");
	memset(e.info_hash.b, 0xab, sizeof(e.info_hash.b));
	e.info_hash.b[0] = 0x01;
	top_offer(&l, &e);
	top_sort(&l);
	n = metrics_render_top(&l, &info, buf, sizeof(buf));
	cr_assert_gt(n, 0);
	cr_assert(strstr(buf, "{\"info_hash\":\"01ababababababababababababababababababab\","
			      "\"seeders\":3,\"leechers\":4,\"peers\":7,\"downloaded\":5}"),
		  "%s", buf);
	cr_assert(strstr(buf, "\"count\":1,"), "%s", buf);
	cr_assert_eq(metrics_render_top(&l, &info, buf, 50), -ENOSPC);
}

/* ---- readers ------------------------------------------------------------ */

Test(metrics, process_readings_are_sane)
{
	struct metrics_process p;

	cr_assert_eq(metrics_read_process(&p), 0);
	cr_assert_gt(p.resident_bytes, 0);
	cr_assert_geq(p.virtual_bytes, p.resident_bytes);
	cr_assert_geq(p.open_fds, 3, "stdin, stdout, stderr at least");
	cr_assert_geq(p.max_fds, p.open_fds);
	cr_assert_geq(p.cpu_seconds, 0);
	double now = (double)time(NULL);
	cr_assert(p.start_time_seconds > now - 86400 && p.start_time_seconds < now + 2, "%f",
		  p.start_time_seconds);
}

Test(metrics, allocator_readings_match_the_build)
{
	struct metrics_allocator a;
	int r = metrics_read_allocator(&a);

	if (strstr(metrics_features(), "jemalloc")) {
		cr_assert_eq(r, 0);
		cr_assert_gt(a.allocated, 0);
		cr_assert_geq(a.active, a.allocated);
		cr_assert_gt(a.resident, 0);
		cr_assert_geq(a.mapped, a.active);
	} else {
		cr_assert_eq(r, -ENOTSUP);
	}
}

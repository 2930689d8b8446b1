/* reload.c - splits a reloaded configuration into what applies live and what
 * waits for a restart (see reload.h).
 *
 * Live: the [tracker] tunables (intervals, timeouts, numwant, connection id
 * lifetime), the [limits], the [http] request handling keys (timeouts,
 * request line limit, scrape limit, full scrape, trusted proxies), and the
 * log level. Fixed:
 * every listener, the worker and CPU set, the [io] sizes, the HTTP
 * connection table size and read buffer size (max_header), and [xdp].
 *
 * Pure; called by the main thread only. Memory: none of its own.
 */
#include "reload.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

/* A field of struct config, by offset and size, with its key name. */
struct field {
	const char *name;
	size_t off;
	size_t size;
};

#define F(name, member) { name, offsetof(struct config, member), sizeof(((struct config *)0)->member) }

static const struct field live_fields[] = {
	F("announce_interval", announce_interval),
	F("peer_timeout", peer_timeout),
	F("numwant_default", numwant_default),
	F("numwant_max", numwant_max),
	F("connection_id_lifetime", connid_lifetime),
	F("connection_id_grace", connid_grace),
	F("max_torrents", max_torrents),
	F("max_peers_per_torrent", max_peers_per_torrent),
	F("memory_budget", memory_budget),
	F("idle_timeout", http_idle_timeout),
	F("request_timeout", http_request_timeout),
	F("max_request_line", http_max_line),
	F("scrape_max", http_scrape_max),
	F("full_scrape", full_scrape),
	F("full_scrape_interval", full_scrape_interval),
	F("trusted_proxies", trusted_proxies),
	F("trusted_proxies", n_trusted_proxies),
	F("forwarded_header", forwarded_header),
	F("log_level", log_level),
};

static const struct field fixed_fields[] = {
	F("udp", udp),
	F("udp", n_udp),
	F("http", http),
	F("http", n_http),
	F("metrics", metrics),
	F("metrics", has_metrics),
	F("workers", workers),
	F("user", user),
	F("cpus", cpus),
	F("cpus", has_cpus),
	F("max_connections", http_max_connections),
	F("max_header", http_max_header),
	F("recv_buffers", recv_buffers),
	F("send_slots", send_slots),
	F("handoff_ring", handoff_ring),
	F("ring_entries", ring_entries),
	F("xdp interface", xdp_interface),
	F("xdp mode", xdp_mode),
	F("xdp required", xdp_required),
	F("xdp scrape_max", xdp_scrape_max),
	F("xdp rate_limit_pps", xdp_rate_limit_pps),
	F("xdp rate_limit_burst", xdp_rate_limit_burst),
};

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

static bool differs(const struct config *a, const struct config *b, const struct field *f)
{
	return memcmp((const char *)a + f->off, (const char *)b + f->off, f->size) != 0;
}

/* Appends name to a comma-separated list unless it is already last (a key
 * may span two fields: a list and its count). */
static void list_add(char *buf, size_t cap, const char *name)
{
	size_t len = strlen(buf), n = strlen(name);

	if (len >= n && strcmp(buf + len - n, name) == 0)
		return;
	if (len + strlen(name) + 6 >= cap) {
		if (len + 4 < cap && !strstr(buf, "..."))
			strcat(buf, " ...");
		return;
	}
	if (len)
		strcat(buf, ", ");
	strcat(buf, name);
}

int reload_merge(const struct config *old, struct config *fresh, char *changed,
		 size_t changed_cap, char *fixed, size_t fixed_cap)
{
	int n = 0;

	changed[0] = '\0';
	fixed[0] = '\0';
	for (size_t i = 0; i < N_OF(fixed_fields); i++) {
		const struct field *f = &fixed_fields[i];
		if (!differs(old, fresh, f))
			continue;
		list_add(fixed, fixed_cap, f->name);
		memcpy((char *)fresh + f->off, (const char *)old + f->off, f->size);
	}
	for (size_t i = 0; i < N_OF(live_fields); i++) {
		if (differs(old, fresh, &live_fields[i])) {
			list_add(changed, changed_cap, live_fields[i].name);
			n++;
		}
	}
	if (n == 0)
		snprintf(changed, changed_cap, "none");
	return n;
}

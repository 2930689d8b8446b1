/* load_model.c - the swarm model of ringtracker-load.
 *
 * What it does: a Zipf(s) popularity over N torrents (a CDF table sampled by
 * binary search, narrowed by a guide table so that a sample costs a handful
 * of steps instead of log2 N cache misses); deterministic info hashes and
 * peer ids; each simulated peer's event sequence; a small fast RNG.
 * What it doesn't: no I/O, no protocol encoding (udp.c and load_http.c).
 * Threads: the model is built on the main thread and read-only afterwards;
 * RNG and peer state belong to one load thread each.
 * Memory: load_model_init allocates the tables (8 + 20 bytes per torrent plus
 * 256 KiB); load_model_free releases them.
 */
#include <errno.h>
#include <math.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "load.h"
#include "udp.h"

/* -------------------------------------------------------------- RNG */

static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

void load_rng_seed(struct load_rng *r, uint64_t seed)
{
	for (int i = 0; i < 4; i++)
		r->s[i] = splitmix64(&seed);
}

static uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

uint64_t load_rng_next(struct load_rng *r)
{
	uint64_t *s = r->s;
	uint64_t result = rotl(s[1] * 5, 7) * 9;
	uint64_t t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return result;
}

/* Uniform double in [0, 1) from the top 53 bits. */
static double rng_unit(struct load_rng *r)
{
	return (double)(load_rng_next(r) >> 11) * 0x1.0p-53;
}

/* ------------------------------------------------------------- hashes */

void load_info_hash(uint64_t index, struct info_hash *out)
{
	static const unsigned char key[16] = "ringtracker-load";
	uint8_t in[8];

	for (int i = 0; i < 8; i++)
		in[i] = (uint8_t)(index >> (8 * i));
	crypto_generichash(out->b, sizeof(out->b), in, sizeof(in), key, sizeof(key));
}

void load_peer_id(uint64_t p, struct peer_id *out)
{
	static const char prefix[8] = "-RL0001-";

	memcpy(out->b, prefix, sizeof(prefix));
	for (int i = PEER_ID_LEN - 1; i >= 8; i--) {
		out->b[i] = (uint8_t)('0' + p % 10);
		p /= 10;
	}
}

uint16_t load_peer_port(uint64_t p, uint32_t sockets)
{
	/* Peers of one socket are p, p + S, p + 2S...: p / S numbers them. */
	return (uint16_t)(1024 + (p / (sockets ? sockets : 1)) % (65536 - 1024));
}

uint32_t load_peer_event(struct load_peer *peer, struct load_rng *r)
{
	uint32_t roll;

	if (!peer->started) {
		peer->started = 1;
		return UDP_EVENT_STARTED;
	}
	roll = load_rng_below(r, 1000);
	if (roll < 5) {
		peer->started = 0;
		peer->seeder = (uint8_t)(load_rng_next(r) & 1); /* it may rejoin either way */
		return UDP_EVENT_STOPPED;
	}
	if (roll < 15 && !peer->seeder) {
		peer->seeder = 1;
		return UDP_EVENT_COMPLETED;
	}
	return UDP_EVENT_NONE;
}

/* -------------------------------------------------------------- Zipf */

/* cdf[i] = sum_{j <= i} (j + 1)^-s / H; the last entry is exactly 1. */
static void build_cdf(double *cdf, uint32_t n, double s)
{
	double sum = 0;

	for (uint32_t i = 0; i < n; i++) {
		sum += pow((double)i + 1, -s);
		cdf[i] = sum;
	}
	for (uint32_t i = 0; i < n; i++)
		cdf[i] /= sum;
	cdf[n - 1] = 1.0;
}

/* guide[k] = first i with cdf[i] >= k / G, so a sample u in [k/G, (k+1)/G)
 * lies in cdf[guide[k] .. guide[k + 1]]. */
static void build_guide(uint32_t *guide, const double *cdf, uint32_t n)
{
	uint32_t i = 0;

	for (uint32_t k = 0; k <= LOAD_GUIDE; k++) {
		double u = (double)k / LOAD_GUIDE;

		while (i < n - 1 && cdf[i] < u)
			i++;
		guide[k] = i;
	}
}

int load_model_init(struct load_model *m, uint32_t torrents, double s)
{
	memset(m, 0, sizeof(*m));
	if (torrents == 0)
		return -EINVAL;
	m->torrents = torrents;
	m->cdf = malloc((size_t)torrents * sizeof(*m->cdf));
	m->guide = malloc((LOAD_GUIDE + 1) * sizeof(*m->guide));
	m->hashes = malloc((size_t)torrents * sizeof(*m->hashes));
	if (!m->cdf || !m->guide || !m->hashes) {
		load_model_free(m);
		return -ENOMEM;
	}
	build_cdf(m->cdf, torrents, s);
	build_guide(m->guide, m->cdf, torrents);
	for (uint32_t i = 0; i < torrents; i++)
		load_info_hash(i, &m->hashes[i]);
	return 0;
}

void load_model_free(struct load_model *m)
{
	free(m->cdf);
	free(m->guide);
	free(m->hashes);
	memset(m, 0, sizeof(*m));
}

uint32_t load_model_sample(const struct load_model *m, struct load_rng *r)
{
	double u = rng_unit(r);
	uint32_t k = (uint32_t)(u * LOAD_GUIDE);
	uint32_t lo = m->guide[k], hi = m->guide[k + 1];

	/* Smallest i in [lo, hi] with cdf[i] > u. */
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (m->cdf[mid] > u)
			hi = mid;
		else
			lo = mid + 1;
	}
	return lo;
}

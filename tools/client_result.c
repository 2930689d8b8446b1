/* client_result.c - the result of one tracker request, and its JSON form.
 *
 * What it does: keeps what a tracker answered (counts, peers as text, scrape
 * files, or an error) and prints it as one JSON object on one line.
 * What it doesn't: no I/O besides the FILE it is handed, no parsing.
 * Thread: the tool is single-threaded. Memory: the peer and file arrays
 * grow on the heap and are freed by client_result_free.
 * JSON: RFC 8259; text from trackers is not trusted to be UTF-8, so every
 * invalid byte is written as U+FFFD and control characters are escaped.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "client.h"
#include "netaddr.h"

void client_result_init(struct client_result *r)
{
	memset(r, 0, sizeof(*r));
	r->min_interval = -1;
	r->seeders = -1;
	r->leechers = -1;
	r->completed = -1;
}

void client_result_free(struct client_result *r)
{
	free(r->peers);
	free(r->files);
	r->peers = NULL;
	r->files = NULL;
	r->n_peers = r->cap_peers = 0;
	r->n_files = r->cap_files = 0;
}

int client_fail(struct client_result *r, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r->error, sizeof(r->error), fmt, ap);
	va_end(ap);
	if (!r->error[0])
		snprintf(r->error, sizeof(r->error), "%s", strerror(err));
	return -err;
}

void client_error_prefix(struct client_result *r, const char *step)
{
	char msg[CLIENT_ERROR_MAX];
	size_t n = strlen(step);

	if (strncmp(r->error, step, n) == 0 && r->error[n] == ':')
		return;
	snprintf(msg, sizeof(msg), "%s", r->error);
	snprintf(r->error, sizeof(r->error), "%s: %.*s", step, (int)(sizeof(msg) - n - 3), msg);
}

/* Makes room for one more element of size sz in *arr (n used, *cap held). */
static int grow(void **arr, size_t n, size_t *cap, size_t sz)
{
	if (n < *cap)
		return 0;
	size_t want = *cap ? *cap * 2 : 16;
	void *p = reallocarray(*arr, want, sz);
	if (!p)
		return -ENOMEM;
	*arr = p;
	*cap = want;
	return 0;
}

int client_add_peer(struct client_result *r, const char *text)
{
	if (grow((void **)&r->peers, r->n_peers, &r->cap_peers, sizeof(*r->peers)) < 0)
		return -ENOMEM;
	snprintf(r->peers[r->n_peers++].text, CLIENT_PEER_TEXT, "%s", text);
	return 0;
}

int client_add_file(struct client_result *r, const struct client_file *f)
{
	if (grow((void **)&r->files, r->n_files, &r->cap_files, sizeof(*r->files)) < 0)
		return -ENOMEM;
	r->files[r->n_files++] = *f;
	return 0;
}

int client_add_compact_peers(struct client_result *r, const uint8_t *p, size_t len, size_t rec)
{
	for (size_t off = 0; off + rec <= len; off += rec) {
		struct netaddr a = {.family = rec == UDP_PEER6_LEN ? AF_INET6 : AF_INET};
		char text[NETADDR_TEXT_MAX];
		size_t iplen = rec - 2;

		memcpy(a.ip, p + off, iplen);
		a.port = (uint16_t)(p[off + iplen] << 8 | p[off + iplen + 1]);
		if (netaddr_format(&a, text, sizeof(text)) < 0 || client_add_peer(r, text) < 0)
			return -ENOMEM;
	}
	return 0;
}

double client_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* Length of the valid UTF-8 sequence at p (1..4), or 0 when invalid. */
static size_t utf8_len(const uint8_t *p, size_t n)
{
	size_t need;
	uint32_t cp;

	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf) {
		need = 2;
		cp = p[0] & 0x1f;
	} else if (p[0] >= 0xe0 && p[0] <= 0xef) {
		need = 3;
		cp = p[0] & 0x0f;
	} else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
		need = 4;
		cp = p[0] & 0x07;
	} else {
		return 0;
	}
	if (need > n)
		return 0;
	for (size_t i = 1; i < need; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (p[i] & 0x3f);
	}
	/* Overlong forms, surrogates, and past U+10FFFF. */
	if ((need == 3 && cp < 0x800) || (need == 4 && cp < 0x10000) || cp > 0x10ffff ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return need;
}

void client_json_string(FILE *f, const void *text, size_t len)
{
	const uint8_t *p = text;

	fputc('"', f);
	for (size_t i = 0; i < len;) {
		uint8_t c = p[i];
		size_t n = utf8_len(p + i, len - i);

		if (n == 0) {
			fputs("\\ufffd", f);
			i++;
			continue;
		}
		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c == '\n')
			fputs("\\n", f);
		else if (c == '\r')
			fputs("\\r", f);
		else if (c == '\t')
			fputs("\\t", f);
		else if (c < 0x20 || c == 0x7f)
			fprintf(f, "\\u%04x", c);
		else
			fwrite(p + i, 1, n, f);
		i += n;
	}
	fputc('"', f);
}

static void json_key(FILE *f, const char *key)
{
	fprintf(f, ",\"%s\":", key);
}

void client_print_json(FILE *f, const char *tracker, enum client_action action,
		       const struct client_result *r)
{
	fputs("{\"tracker\":", f);
	client_json_string(f, tracker, strlen(tracker));
	fprintf(f, ",\"action\":\"%s\"", action == CLIENT_ANNOUNCE ? "announce" : "scrape");
	if (r->address[0]) {
		json_key(f, "address");
		client_json_string(f, r->address, strlen(r->address));
	}
	if (r->error[0]) {
		json_key(f, "error");
		client_json_string(f, r->error, strlen(r->error));
		fputs("}\n", f);
		return;
	}
	if (action == CLIENT_ANNOUNCE) {
		fprintf(f, ",\"interval\":%lld", (long long)r->interval);
		if (r->min_interval >= 0)
			fprintf(f, ",\"min_interval\":%lld", (long long)r->min_interval);
		if (r->seeders >= 0)
			fprintf(f, ",\"seeders\":%lld", (long long)r->seeders);
		if (r->leechers >= 0)
			fprintf(f, ",\"leechers\":%lld", (long long)r->leechers);
		if (r->completed >= 0)
			fprintf(f, ",\"completed\":%lld", (long long)r->completed);
		if (r->external_ip[0]) {
			json_key(f, "external_ip");
			client_json_string(f, r->external_ip, strlen(r->external_ip));
		}
		json_key(f, "peers");
		fputc('[', f);
		for (size_t i = 0; i < r->n_peers; i++) {
			if (i)
				fputc(',', f);
			client_json_string(f, r->peers[i].text, strlen(r->peers[i].text));
		}
		fputc(']', f);
	} else {
		json_key(f, "files");
		fputc('[', f);
		for (size_t i = 0; i < r->n_files; i++) {
			const struct client_file *x = &r->files[i];
			fprintf(f, "%s{\"info_hash\":\"", i ? "," : "");
			for (size_t k = 0; k < INFO_HASH_LEN; k++)
				fprintf(f, "%02x", x->info_hash.b[k]);
			fprintf(f, "\",\"seeders\":%lld,\"completed\":%lld,\"leechers\":%lld}",
				(long long)x->seeders, (long long)x->completed,
				(long long)x->leechers);
		}
		fputc(']', f);
	}
	if (r->warning[0]) {
		json_key(f, "warning");
		client_json_string(f, r->warning, strlen(r->warning));
	}
	fprintf(f, ",\"time_ms\":%.2f}\n", r->time_ms);
}

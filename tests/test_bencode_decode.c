/* test_bencode_decode.c - Criterion tests for the bencode reader (the cursor
 * half of src/bencode.c: bencode_next, bencode_skip, bencode_check,
 * bencode_item, bencode_dict_find).
 *
 * What it covers: known answers for every token kind and integer extremes;
 * non-canonical and malformed tokens (leading zeros, "-0", overflow, junk);
 * structure errors (non-string keys, keys without values, stray 'e', bytes
 * after the value); every cut of real tracker replies fails cleanly with
 * -EAGAIN and never reads past the end (the buffer ends at a PROT_NONE
 * page); the nesting limit, exactly at and one past it; container walks and
 * dictionary lookups with binary keys; random and mutated inputs.
 * Thread: Criterion runs each test in its own process. Memory: stack buffers
 * and one guard mapping per test that needs it. Spec: BEP 3, BEP 23, BEP 48.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "bencode.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* A buffer whose last byte is followed by a PROT_NONE page: any read past
 * the given length faults and fails the test. */
struct guard {
	uint8_t *map;
	size_t page;
};

static void guard_open(struct guard *g)
{
	g->page = (size_t)sysconf(_SC_PAGESIZE);
	g->map =
	    mmap(NULL, 2 * g->page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	cr_assert(g->map != MAP_FAILED);
	cr_assert_eq(mprotect(g->map + g->page, g->page, PROT_NONE), 0);
}

/* Copies n bytes so that they end right at the guard page. */
static const uint8_t *guard_put(struct guard *g, const void *p, size_t n)
{
	cr_assert_leq(n, g->page);
	uint8_t *at = g->map + g->page - n;
	if (n)
		memcpy(at, p, n);
	return at;
}

static void guard_close(struct guard *g)
{
	munmap(g->map, 2 * g->page);
}

static int next_of(const char *text, size_t n, size_t *pos, struct bencode_value *v)
{
	return bencode_next((const uint8_t *)text, n, pos, v);
}

Test(bencode_decode, integers_kat)
{
	const struct {
		const char *text;
		int64_t v;
	} cases[] = {
	    {"i0e", 0},
	    {"i1e", 1},
	    {"i-1e", -1},
	    {"i42e", 42},
	    {"i1800e", 1800},
	    {"i4294967295e", 4294967295},
	    {"i9223372036854775807e", INT64_MAX},
	    {"i-9223372036854775808e", INT64_MIN},
	};

	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		struct bencode_value v;
		size_t pos = 0, n = strlen(cases[i].text);

		cr_assert_eq(next_of(cases[i].text, n, &pos, &v), BENCODE_INT, "%s", cases[i].text);
		cr_assert_eq(v.type, BENCODE_INT);
		cr_assert_eq(v.i, cases[i].v, "%s", cases[i].text);
		cr_assert_eq(pos, n, "%s", cases[i].text);
		cr_assert_eq(bencode_check((const uint8_t *)cases[i].text, n), BENCODE_INT);
	}
}

Test(bencode_decode, strings_and_markers_kat)
{
	const char text[] = "4:spam0:4:\x00:e\xffldei7e";
	size_t n = sizeof(text) - 1, pos = 0;
	struct bencode_value v;

	cr_assert_eq(next_of(text, n, &pos, &v), BENCODE_BYTES);
	cr_assert_eq(v.len, 4);
	cr_assert_arr_eq(v.bytes, "spam", 4);
	cr_assert_eq((const char *)v.bytes, text + 2, "points into the buffer");
	cr_assert_eq(pos, 6);

	cr_assert_eq(next_of(text, n, &pos, &v), BENCODE_BYTES);
	cr_assert_eq(v.len, 0);
	cr_assert_eq(pos, 8);

	/* Binary bytes, including ':' and 'e', are data. */
	cr_assert_eq(next_of(text, n, &pos, &v), BENCODE_BYTES);
	cr_assert_eq(v.len, 4);
	cr_assert_arr_eq(v.bytes, "\x00:e\xff", 4);

	cr_assert_eq(next_of(text, n, &pos, &v), BENCODE_LIST);
	cr_assert_eq(next_of(text, n, &pos, &v), BENCODE_DICT);
	cr_assert_eq(next_of(text, n, &pos, &v), BENCODE_END);
	cr_assert_eq(next_of(text, n, &pos, &v), BENCODE_INT);
	cr_assert_eq(v.i, 7);
	cr_assert_eq(pos, n);
	cr_assert_eq(next_of(text, n, &pos, &v), -EAGAIN, "nothing left");
	cr_assert_eq(pos, n);
}

Test(bencode_decode, malformed_tokens_rejected)
{
	const struct {
		const char *text;
		int want;
	} cases[] = {
	    {"i-0e", -EINVAL},
	    {"i03e", -EINVAL},
	    {"i-03e", -EINVAL},
	    {"ie", -EINVAL},
	    {"i-e", -EINVAL},
	    {"i+1e", -EINVAL},
	    {"i1xe", -EINVAL},
	    {"i 1e", -EINVAL},
	    {"i9223372036854775808e", -EINVAL},
	    {"i-9223372036854775809e", -EINVAL},
	    {"i99999999999999999999999e", -EINVAL},
	    {"03:abc", -EINVAL},
	    {"00:", -EINVAL},
	    {"-1:a", -EINVAL},
	    {"4x", -EINVAL},
	    {"4 :spam", -EINVAL},
	    {"99999999999999999999999:", -EINVAL},
	    {"x", -EINVAL},
	    {" ", -EINVAL},
	    {"\xff", -EINVAL},
	    /* Cut off, not malformed. */
	    {"", -EAGAIN},
	    {"i", -EAGAIN},
	    {"i-", -EAGAIN},
	    {"i0", -EAGAIN},
	    {"i12", -EAGAIN},
	    {"4", -EAGAIN},
	    {"4:", -EAGAIN},
	    {"4:spa", -EAGAIN},
	    {"18446744073709551615:x", -EAGAIN},
	};

	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		struct bencode_value v = {.type = 99};
		size_t pos = 0, n = strlen(cases[i].text);

		cr_assert_eq(next_of(cases[i].text, n, &pos, &v), cases[i].want, "%s",
			     cases[i].text);
		cr_assert_eq(pos, 0, "%s: position moved on error", cases[i].text);
		cr_assert_eq(v.type, 99, "%s: output written on error", cases[i].text);
	}
}

Test(bencode_decode, structure_checked)
{
	const struct {
		const char *text;
		int want;
	} cases[] = {
	    {"l4:spam4:eggse", BENCODE_LIST},
	    {"d3:cow3:moo4:spam4:eggse", BENCODE_DICT},
	    {"d4:spaml1:a1:bee", BENCODE_DICT},
	    {"d1:ali-3edeleee", BENCODE_DICT},
	    {"le", BENCODE_LIST},
	    {"de", BENCODE_DICT},
	    {"d1:b0:1:a0:e", BENCODE_DICT}, /* unsorted keys are tolerated */
	    {"e", -EINVAL},
	    {"i1ee", -EINVAL}, /* bytes after the value */
	    {"lee", -EINVAL},
	    {"i1ei2e", -EINVAL},
	    {"di1ei2ee", -EINVAL}, /* integer key */
	    {"dlei2ee", -EINVAL},  /* list key */
	    {"d1:ae", -EINVAL},	   /* key without a value */
	    {"d1:ai1e1:be", -EINVAL},
	    {"l", -EAGAIN},
	    {"d1:a", -EAGAIN},
	    {"d1:ai1e", -EAGAIN},
	    {"li1e", -EAGAIN},
	};

	for (size_t i = 0; i < ARRAY_LEN(cases); i++)
		cr_assert_eq(bencode_check((const uint8_t *)cases[i].text, strlen(cases[i].text)),
			     cases[i].want, "%s", cases[i].text);
}

/* Real replies: a compact announce (BEP 23) with binary peers, peers6 (BEP
 * 7), a dictionary-model announce, a failure, and a scrape (BEP 48). */
static const struct {
	const char *text;
	size_t len;
} samples[] = {
#define S(lit)                                                                                     \
	{                                                                                          \
		lit, sizeof(lit) - 1                                                               \
	}
    S("d8:completei1e10:downloadedi0e10:incompletei2e8:intervali1800e12:min "
      "intervali900e5:peers12:"
      "\x7f\x00\x00\x01\x1a\xe1\x0a\x00\x00\x02\x00\x65"
      "6:peers618:"
      "\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01\x1a\xe2"
      "e"),
    S("d8:intervali1800e5:peersld2:ip9:127.0.0.14:porti6881eed2:ip3:::14:porti6882eeee"),
    S("d14:failure reason17:torrent not founde"),
    S("d5:filesd20:\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f\x10\x11\x12"
      "\x13\x14"
      "d8:completei5e10:downloadedi50e10:incompletei10eeee"),
    S("i-9223372036854775808e"),
    S("1:e"),
#undef S
};

Test(bencode_decode, every_cut_fails_cleanly)
{
	struct guard g;

	guard_open(&g);
	for (size_t s = 0; s < ARRAY_LEN(samples); s++) {
		const size_t len = samples[s].len;
		int type = bencode_check(guard_put(&g, samples[s].text, len), len);

		cr_assert_gt(type, 0, "sample %zu is valid", s);
		for (size_t cut = 0; cut < len; cut++) {
			const uint8_t *buf = guard_put(&g, samples[s].text, cut);
			size_t pos = 0, value;

			cr_assert_eq(bencode_check(buf, cut), -EAGAIN, "sample %zu cut at %zu", s,
				     cut);
			cr_assert_eq(bencode_skip(buf, cut, &pos), -EAGAIN);
			cr_assert_eq(pos, 0);
			cr_assert_lt(bencode_dict_find(buf, cut, 0, "interval", 8, &value), 0);
			/* The tokens up to the cut read cleanly, then -EAGAIN. */
			struct bencode_value v;
			int t;
			while ((t = bencode_next(buf, cut, &pos, &v)) > 0)
				cr_assert_leq(pos, cut);
			cr_assert(t == -EAGAIN || t == -EINVAL, "sample %zu cut %zu: %d", s, cut,
				  t);
		}
	}
	guard_close(&g);
}

/* n nested containers of the kind open ("l" or "d1:k"), around i0e. */
static size_t nest(char *buf, size_t cap, unsigned n, const char *open)
{
	size_t len = 0, ol = strlen(open);

	cr_assert_lt(n * (ol + 1) + 3, cap);
	for (unsigned i = 0; i < n; i++, len += ol)
		memcpy(buf + len, open, ol);
	memcpy(buf + len, "i0e", 3);
	len += 3;
	for (unsigned i = 0; i < n; i++)
		buf[len++] = 'e';
	return len;
}

Test(bencode_decode, nesting_limit)
{
	char buf[1024];
	size_t n, pos;

	n = nest(buf, sizeof(buf), BENCODE_MAX_DEPTH, "l");
	cr_assert_eq(bencode_check((uint8_t *)buf, n), BENCODE_LIST, "exactly at the limit");
	n = nest(buf, sizeof(buf), BENCODE_MAX_DEPTH + 1, "l");
	cr_assert_eq(bencode_check((uint8_t *)buf, n), -EINVAL, "one past the limit");

	n = nest(buf, sizeof(buf), BENCODE_MAX_DEPTH, "d1:k");
	cr_assert_eq(bencode_check((uint8_t *)buf, n), BENCODE_DICT);
	n = nest(buf, sizeof(buf), BENCODE_MAX_DEPTH + 1, "d1:k");
	cr_assert_eq(bencode_check((uint8_t *)buf, n), -EINVAL);
	size_t value;
	cr_assert_eq(bencode_dict_find((uint8_t *)buf, n, 0, "k", 1, &value), -EINVAL,
		     "a lookup checks the depth too");

	/* Depth counts from where a skip starts: the inner value of a too
	 * deep document is itself fine. */
	n = nest(buf, sizeof(buf), BENCODE_MAX_DEPTH + 1, "l");
	pos = 1;
	cr_assert_eq(bencode_skip((uint8_t *)buf, n, &pos), BENCODE_LIST);
	cr_assert_eq(pos, n - 1);

	/* Thousands of levels: refused quickly, no recursion to overflow. */
	static char deep[200000];
	memset(deep, 'l', sizeof(deep));
	cr_assert_eq(bencode_check((uint8_t *)deep, sizeof(deep)), -EINVAL);
}

Test(bencode_decode, items_walk_lists_and_dicts)
{
	const char list[] = "l4:spami42eli1eedee";
	const size_t want_list[] = {1, 7, 11, 16};
	const char dict[] = "d1:ai1e1:bl1:xee";
	const size_t want_dict[] = {1, 4, 7, 10};
	size_t pos = 1, item, k = 0;
	int rc;

	while ((rc = bencode_item((const uint8_t *)list, sizeof(list) - 1, &pos, &item)) == 1) {
		cr_assert_lt(k, ARRAY_LEN(want_list));
		cr_assert_eq(item, want_list[k], "item %zu", k);
		k++;
	}
	cr_assert_eq(rc, 0);
	cr_assert_eq(k, ARRAY_LEN(want_list));
	cr_assert_eq(pos, sizeof(list) - 1, "the end consumed");

	pos = 1;
	k = 0;
	while ((rc = bencode_item((const uint8_t *)dict, sizeof(dict) - 1, &pos, &item)) == 1) {
		cr_assert_lt(k, ARRAY_LEN(want_dict));
		cr_assert_eq(item, want_dict[k], "item %zu", k);
		k++;
	}
	cr_assert_eq(rc, 0);
	cr_assert_eq(k, ARRAY_LEN(want_dict));

	/* A malformed item stops the walk with its error. */
	const char bad[] = "li1ei01ee";
	pos = 1;
	cr_assert_eq(bencode_item((const uint8_t *)bad, sizeof(bad) - 1, &pos, &item), 1);
	cr_assert_eq(bencode_item((const uint8_t *)bad, sizeof(bad) - 1, &pos, &item), -EINVAL);
	cr_assert_eq(pos, 4, "position kept on error");
	cr_assert_eq(bencode_item((const uint8_t *)"l", 1, &(size_t){1}, &item), -EAGAIN);
}

Test(bencode_decode, dict_find)
{
	const uint8_t *b = (const uint8_t *)samples[0].text;
	const size_t n = samples[0].len;
	struct bencode_value v;
	size_t at, p;

	cr_assert_eq(bencode_dict_find(b, n, 0, "interval", 8, &at), 0);
	p = at;
	cr_assert_eq(bencode_next(b, n, &p, &v), BENCODE_INT);
	cr_assert_eq(v.i, 1800);
	cr_assert_eq(bencode_dict_find(b, n, 0, "min interval", 12, &at), 0);
	cr_assert_eq(bencode_next(b, n, &at, &v), BENCODE_INT);
	cr_assert_eq(v.i, 900);
	cr_assert_eq(bencode_dict_find(b, n, 0, "peers6", 6, &at), 0);
	cr_assert_eq(bencode_next(b, n, &at, &v), BENCODE_BYTES);
	cr_assert_eq(v.len, 18);
	cr_assert_eq(bencode_dict_find(b, n, 0, "peers", 5, &at), 0);
	cr_assert_eq(bencode_next(b, n, &at, &v), BENCODE_BYTES);
	cr_assert_eq(v.len, 12, "a prefix of a key is not that key");
	cr_assert_eq(bencode_dict_find(b, n, 0, "peer", 4, &at), -ENOENT);
	cr_assert_eq(bencode_dict_find(b, n, 0, "failure reason", 14, &at), -ENOENT);
	cr_assert_eq(bencode_dict_find(b, n, 0, "", 0, &at), -ENOENT);

	/* Binary keys: the scrape's files dictionary is keyed by info hash. */
	const uint8_t *s = (const uint8_t *)samples[3].text;
	const size_t sn = samples[3].len;
	const uint8_t hash[20] = {1,  2,  3,  4,  5,  6,  7,  8,  9,  10,
				  11, 12, 13, 14, 15, 16, 17, 18, 19, 20};
	size_t files, file;
	cr_assert_eq(bencode_dict_find(s, sn, 0, "files", 5, &files), 0);
	cr_assert_eq(bencode_dict_find(s, sn, files, hash, sizeof(hash), &file), 0);
	cr_assert_eq(bencode_dict_find(s, sn, file, "downloaded", 10, &at), 0);
	cr_assert_eq(bencode_next(s, sn, &at, &v), BENCODE_INT);
	cr_assert_eq(v.i, 50);
	cr_assert_eq(bencode_dict_find(s, sn, files, hash, 19, &at), -ENOENT);

	/* Not a dictionary; duplicates; an empty key; a bad later entry. */
	cr_assert_eq(bencode_dict_find((const uint8_t *)"li1ee", 5, 0, "a", 1, &at), -EINVAL);
	cr_assert_eq(bencode_dict_find((const uint8_t *)"d1:ai1e1:ai2ee", 14, 0, "a", 1, &at), 0);
	cr_assert_eq(at, 4, "the first of duplicate keys");
	cr_assert_eq(bencode_dict_find((const uint8_t *)"d0:i5ee", 7, 0, "", 0, &at), 0);
	cr_assert_eq(at, 3);
	cr_assert_eq(bencode_dict_find((const uint8_t *)"d1:ai1e1:bi01ee", 15, 0, "a", 1, &at),
		     -EINVAL);
	cr_assert_eq(bencode_dict_find((const uint8_t *)"d1:ai1e", 7, 0, "a", 1, &at), -EAGAIN);
	cr_assert_eq(bencode_dict_find((const uint8_t *)"de", 2, 5, "a", 1, &at), -EAGAIN,
		     "a position past the end");
}

/* Random bytes and mutated replies: never a crash, never a read past the
 * end, and a value accepted by bencode_check walks cleanly to its end. */
Test(bencode_decode, random_and_mutated_inputs)
{
	const char alphabet[] = "ilde0123456789:-x";
	struct guard g;
	uint8_t tmp[512];

	guard_open(&g);
	srand(20240501);
	for (int round = 0; round < 20000; round++) {
		size_t n;
		if (round % 2) {
			n = (size_t)rand() % 64;
			for (size_t i = 0; i < n; i++)
				tmp[i] = (uint8_t)alphabet[(size_t)rand() % (sizeof(alphabet) - 1)];
		} else {
			size_t s = (size_t)rand() % ARRAY_LEN(samples);
			n = samples[s].len;
			memcpy(tmp, samples[s].text, n);
			for (int k = 0; k < 1 + rand() % 3; k++)
				tmp[(size_t)rand() % n] = (uint8_t)rand();
		}
		const uint8_t *buf = guard_put(&g, tmp, n);
		int t = bencode_check(buf, n);
		cr_assert(t == -EAGAIN || t == -EINVAL || (t >= BENCODE_INT && t <= BENCODE_DICT),
			  "round %d: %d", round, t);
		size_t at;
		int f = bencode_dict_find(buf, n, 0, "peers", 5, &at);
		cr_assert(f == 0 || f == -ENOENT || f == -EINVAL || f == -EAGAIN);
		if (f == 0)
			cr_assert_lt(at, n);
		if (t > 0) {
			size_t pos = 0;
			cr_assert_eq(bencode_skip(buf, n, &pos), t);
			cr_assert_eq(pos, n);
		}
	}
	guard_close(&g);
}

/* test_bencode.c - Criterion tests for the bencode writer (src/bencode.c).
 *
 * What it covers: known-answer bytes for every value kind, integer extremes
 * (0, negatives, INT64_MIN/MAX), empty and binary strings, nesting, and
 * overflow: a writer that runs out of room reports -ENOSPC, never writes
 * past its capacity (the buffer ends at a PROT_NONE page), never leaves a
 * token half-written, and ignores every call after the first overflow.
 * Thread: Criterion runs each test in its own process. Memory: stack buffers
 * and one guard mapping per test that needs it. Spec: BEP 3.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "bencode.h"

/* Asserts that the writer holds exactly the text want. */
static void assert_written(const struct bencode *b, const char *want)
{
	size_t n = strlen(want);

	cr_assert_eq(bencode_done(b), (int)n, "got %d, want %zu (%s)", bencode_done(b), n, want);
	cr_assert_arr_eq(b->buf, want, n, "got %.*s, want %s", (int)b->len, (const char *)b->buf,
			 want);
}

Test(bencode, integers_kat)
{
	const struct {
		int64_t v;
		const char *want;
	} cases[] = {
	    {0, "i0e"},
	    {1, "i1e"},
	    {-1, "i-1e"},
	    {42, "i42e"},
	    {-42, "i-42e"},
	    {1800, "i1800e"},
	    {4294967295, "i4294967295e"},
	    {INT64_MAX, "i9223372036854775807e"},
	    {INT64_MIN, "i-9223372036854775808e"},
	};
	uint8_t buf[32];
	struct bencode b;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		bencode_init(&b, buf, sizeof(buf));
		bencode_int(&b, cases[i].v);
		assert_written(&b, cases[i].want);
	}
}

Test(bencode, strings_kat)
{
	const uint8_t bin[4] = {0x00, 0xff, ':', 'e'};
	uint8_t buf[64];
	struct bencode b;

	bencode_init(&b, buf, sizeof(buf));
	bencode_str(&b, "spam");
	assert_written(&b, "4:spam");

	bencode_init(&b, buf, sizeof(buf));
	bencode_str(&b, "");
	assert_written(&b, "0:");

	bencode_init(&b, buf, sizeof(buf));
	bencode_bytes(&b, NULL, 0);
	assert_written(&b, "0:");

	bencode_init(&b, buf, sizeof(buf));
	bencode_bytes(&b, bin, sizeof(bin));
	cr_assert_eq(bencode_done(&b), 6);
	cr_assert_arr_eq(buf, "4:\x00\xff:e", 6);

	bencode_init(&b, buf, sizeof(buf));
	bencode_str(&b, "0123456789abcdef");
	assert_written(&b, "16:0123456789abcdef");
}

Test(bencode, nested_values_kat)
{
	uint8_t buf[128];
	struct bencode b;

	/* The BEP 3 examples, and a dictionary holding a list. */
	bencode_init(&b, buf, sizeof(buf));
	bencode_list_begin(&b);
	bencode_str(&b, "spam");
	bencode_str(&b, "eggs");
	bencode_end(&b);
	assert_written(&b, "l4:spam4:eggse");

	bencode_init(&b, buf, sizeof(buf));
	bencode_dict_begin(&b);
	bencode_str(&b, "cow");
	bencode_str(&b, "moo");
	bencode_str(&b, "spam");
	bencode_str(&b, "eggs");
	bencode_end(&b);
	assert_written(&b, "d3:cow3:moo4:spam4:eggse");

	bencode_init(&b, buf, sizeof(buf));
	bencode_dict_begin(&b);
	bencode_str(&b, "a");
	bencode_list_begin(&b);
	bencode_int(&b, -3);
	bencode_dict_begin(&b);
	bencode_end(&b);
	bencode_list_begin(&b);
	bencode_end(&b);
	bencode_end(&b);
	bencode_end(&b);
	assert_written(&b, "d1:ali-3edeleee");
}

Test(bencode, empty_writer_is_zero_bytes)
{
	struct bencode b;

	bencode_init(&b, NULL, 0);
	cr_assert_eq(bencode_done(&b), 0);
	bencode_end(&b);
	cr_assert_eq(bencode_done(&b), -ENOSPC);
}

/* Writes the same sequence of values into buf with capacity cap. */
static int write_sample(uint8_t *buf, size_t cap)
{
	struct bencode b;

	bencode_init(&b, buf, cap);
	bencode_dict_begin(&b);
	bencode_str(&b, "interval");
	bencode_int(&b, -1800);
	bencode_str(&b, "peers");
	bencode_bytes(&b, "\x01\x02\x03\x04\x1a\xe1", 6);
	bencode_end(&b);
	return bencode_done(&b);
}

static const char sample[] = "d8:intervali-1800e5:peers6:\x01\x02\x03\x04\x1a\xe1"
			     "e";

Test(bencode, every_short_capacity_overflows_at_a_token_boundary)
{
	const size_t need = sizeof(sample) - 1;
	/* Token ends: what a writer of capacity cap may hold on overflow. */
	const size_t ends[] = {0, 1, 11, 18, 25, 33, 34};
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	uint8_t *map =
	    mmap(NULL, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	cr_assert(map != MAP_FAILED);
	cr_assert_eq(mprotect(map + page, page, PROT_NONE), 0);
	cr_assert_eq(need, 34);
	for (size_t cap = 0; cap <= need; cap++) {
		uint8_t *buf = map + page - cap; /* buf + cap is the guard page */
		size_t kept = 0;

		memset(buf, '#', cap);
		cr_assert_eq(write_sample(buf, cap), cap == need ? (int)need : -ENOSPC, "cap %zu",
			     cap);
		/* What was kept: the longest whole-token prefix that fits. */
		for (size_t i = 0; i < sizeof(ends) / sizeof(ends[0]); i++)
			if (ends[i] <= cap)
				kept = ends[i];
		cr_assert_arr_eq(buf, sample, kept, "cap %zu", cap);
		for (size_t i = kept; i < cap; i++)
			cr_assert_eq(buf[i], '#', "cap %zu: byte %zu of a cut token written", cap,
				     i);
	}
	munmap(map, 2 * page);
}

Test(bencode, calls_after_overflow_are_ignored)
{
	uint8_t buf[8];
	struct bencode b;

	memset(buf, '#', sizeof(buf));
	bencode_init(&b, buf, 5);
	bencode_str(&b, "ab"); /* 2:ab, 4 bytes */
	bencode_str(&b, "cd"); /* does not fit: overflow */
	bencode_end(&b);       /* would fit, but is ignored */
	bencode_int(&b, 0);
	cr_assert_eq(bencode_done(&b), -ENOSPC);
	cr_assert_eq(b.len, 4);
	cr_assert_arr_eq(buf, "2:ab####", 8);
}

Test(bencode, string_length_prefix_never_written_alone)
{
	uint8_t buf[8];
	struct bencode b;

	/* "5:hello" needs 7 bytes; with 6 neither the prefix nor the text
	 * may land. */
	memset(buf, '#', sizeof(buf));
	bencode_init(&b, buf, 6);
	bencode_str(&b, "hello");
	cr_assert_eq(bencode_done(&b), -ENOSPC);
	cr_assert_eq(b.len, 0);
	cr_assert_arr_eq(buf, "########", 8);
}

Test(bencode, huge_string_length_does_not_wrap)
{
	uint8_t buf[16];
	struct bencode b;

	bencode_init(&b, buf, sizeof(buf));
	bencode_bytes(&b, buf, SIZE_MAX); /* never read: it cannot fit */
	cr_assert_eq(bencode_done(&b), -ENOSPC);
	cr_assert_eq(b.len, 0);
}

/* test_spsc.c - the worker-to-worker ring: order, batching, wrap-around,
 * full ring, and a two-thread run that checks every record arrives once and
 * in order. */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <string.h>

#include "spsc.h"

Test(spsc, rejects_bad_sizes)
{
	struct spsc r;

	cr_assert_eq(spsc_init(&r, 100), -EINVAL);
	cr_assert_eq(spsc_init(&r, 32), -EINVAL);
	cr_assert_eq(spsc_init(&r, 4096), 0);
	cr_assert_eq(spsc_max_record(&r), 2048 - 8);
	cr_assert_null(spsc_reserve(&r, 2048, 1), "over the record limit");
	spsc_free(&r);
}

Test(spsc, records_visible_only_after_publish)
{
	struct spsc r;
	uint32_t len;
	uint16_t type;

	cr_assert_eq(spsc_init(&r, 1024), 0);
	cr_assert(spsc_empty(&r));
	char *p = spsc_reserve(&r, 5, 7);
	cr_assert_not_null(p);
	memcpy(p, "hello", 5);
	cr_assert_null(spsc_next(&r, &len, &type), "unpublished record seen");
	cr_assert(spsc_empty(&r));
	cr_assert(spsc_publish(&r));
	cr_assert_not(spsc_publish(&r), "nothing new to publish");
	cr_assert_not(spsc_empty(&r));
	const char *q = spsc_next(&r, &len, &type);
	cr_assert_not_null(q);
	cr_assert_eq(len, 5);
	cr_assert_eq(type, 7);
	cr_assert_eq(memcmp(q, "hello", 5), 0);
	cr_assert_null(spsc_next(&r, &len, &type));
	spsc_release(&r);
	cr_assert(spsc_empty(&r));
	spsc_free(&r);
}

Test(spsc, full_ring_refuses_until_released)
{
	struct spsc r;
	uint32_t len;
	uint16_t type;
	int n = 0;

	cr_assert_eq(spsc_init(&r, 256), 0);
	/* 24-byte payload = 32 bytes a record: exactly 8 fit. */
	while (spsc_reserve(&r, 24, 1))
		n++;
	cr_assert_eq(n, 8);
	spsc_publish(&r);
	cr_assert_not_null(spsc_next(&r, &len, &type));
	cr_assert_null(spsc_reserve(&r, 24, 1), "space freed before release");
	spsc_release(&r);
	cr_assert_not_null(spsc_reserve(&r, 24, 1), "released space not reusable");
	spsc_free(&r);
}

Test(spsc, wraps_with_padding_and_keeps_order)
{
	struct spsc r;
	uint32_t len;
	uint16_t type;
	uint32_t sent = 0, got = 0;

	cr_assert_eq(spsc_init(&r, 256), 0);
	/* Odd sizes force padding records at the end of the buffer many times. */
	for (int round = 0; round < 1000; round++) {
		uint32_t size = 4 + (uint32_t)(round % 9) * 13;
		uint32_t *p = spsc_reserve(&r, size, (uint16_t)(size));
		cr_assert_not_null(p, "round %d", round);
		p[0] = sent++;
		spsc_publish(&r);
		const uint32_t *q = spsc_next(&r, &len, &type);
		cr_assert_not_null(q);
		cr_assert_eq(len, size);
		cr_assert_eq(type, size);
		cr_assert_eq(q[0], got++);
		spsc_release(&r);
	}
	cr_assert_gt(r.head_local, 256 * 10, "the test did not wrap");
	spsc_free(&r);
}

#define STRESS_RECORDS 200000

static void *stress_producer(void *arg)
{
	struct spsc *r = arg;

	for (uint32_t i = 0; i < STRESS_RECORDS;) {
		uint32_t size = 4 + (i % 5) * 20;
		uint32_t *p = spsc_reserve(r, size, 1);
		if (!p) {
			spsc_publish(r);
			continue;
		}
		for (uint32_t k = 0; k < size / 4; k++)
			p[k] = i;
		i++;
		if (i % 16 == 0)
			spsc_publish(r);
	}
	spsc_publish(r);
	return NULL;
}

Test(spsc, two_threads_every_record_once_in_order)
{
	struct spsc r;
	pthread_t t;
	uint32_t expect = 0;

	cr_assert_eq(spsc_init(&r, 4096), 0);
	cr_assert_eq(pthread_create(&t, NULL, stress_producer, &r), 0);
	while (expect < STRESS_RECORDS) {
		uint32_t len;
		uint16_t type;
		const uint32_t *p = spsc_next(&r, &len, &type);
		if (!p) {
			spsc_release(&r);
			continue;
		}
		cr_assert_eq(len, 4 + (expect % 5) * 20);
		for (uint32_t k = 0; k < len / 4; k++)
			cr_assert_eq(p[k], expect, "record %u word %u", expect, k);
		expect++;
	}
	spsc_release(&r);
	pthread_join(t, NULL);
	cr_assert(spsc_empty(&r));
	spsc_free(&r);
}

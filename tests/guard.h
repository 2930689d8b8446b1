/* guard.h - test helper: a buffer whose end touches a PROT_NONE page, so a
 * parser that reads one byte past its input crashes the test. Used by the
 * codec suites (test_udp.c, test_http.c). */
#ifndef RINGTRACKER_TEST_GUARD_H
#define RINGTRACKER_TEST_GUARD_H

#include <criterion/criterion.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

struct guard {
	uint8_t *map;
	size_t cap; /* bytes before the PROT_NONE page */
	size_t page;
};

static inline void guard_open(struct guard *g, size_t max_len)
{
	g->page = (size_t)sysconf(_SC_PAGESIZE);
	g->cap = (max_len + g->page - 1) / g->page * g->page;
	if (g->cap == 0)
		g->cap = g->page;
	g->map = mmap(NULL, g->cap + g->page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
		      -1, 0);
	cr_assert(g->map != MAP_FAILED);
	cr_assert_eq(mprotect(g->map + g->cap, g->page, PROT_NONE), 0);
}

static inline void guard_close(struct guard *g)
{
	munmap(g->map, g->cap + g->page);
}

/* Returns a writable slot of len bytes that ends at the PROT_NONE page. */
static inline uint8_t *guard_slot(struct guard *g, size_t len)
{
	cr_assert_leq(len, g->cap);
	return g->map + g->cap - len;
}

/* Copies msg to the end of the guard area and returns where it now lives. */
static inline const void *guard_put(struct guard *g, const void *msg, size_t len)
{
	uint8_t *p = guard_slot(g, len);

	if (len)
		memcpy(p, msg, len);
	return p;
}

#endif

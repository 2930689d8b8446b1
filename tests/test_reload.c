/* test_reload.c - reload_merge: every configuration field is either applied
 * live or held until restart, and held fields keep their running value. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "reload.h"

/* --print-config text of c (caller frees). */
static char *printed(const struct config *c)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	cr_assert_not_null(f);
	config_print(c, f);
	fclose(f);
	return text;
}

Test(reload, live_keys_change_fixed_keys_are_held)
{
	struct config old, fresh;
	char changed[256], fixed[256];

	config_defaults(&old);
	fresh = old;
	fresh.announce_interval = 600;
	fresh.max_torrents = 5;
	fresh.workers = 7;
	fresh.udp[0].port = 1234;
	int n = reload_merge(&old, &fresh, changed, sizeof(changed), fixed, sizeof(fixed));
	cr_assert_eq(n, 2);
	cr_assert(strstr(changed, "announce_interval") && strstr(changed, "max_torrents"), "%s",
		  changed);
	cr_assert(strstr(fixed, "workers") && strstr(fixed, "udp"), "%s", fixed);
	cr_assert_eq(fresh.announce_interval, 600);
	cr_assert_eq(fresh.workers, old.workers, "a fixed key must keep the running value");
	cr_assert_eq(fresh.udp[0].port, 6969);

	fresh = old;
	n = reload_merge(&old, &fresh, changed, sizeof(changed), fixed, sizeof(fixed));
	cr_assert_eq(n, 0);
	cr_assert_str_eq(changed, "none");
	cr_assert_str_eq(fixed, "");
}

/* Flipping any byte that shows in the printed configuration must be
 * reported as live or fixed: a key added to config.h but to neither list of
 * reload.c would otherwise be silently applied half-way or ignored. */
Test(reload, every_printed_field_is_classified)
{
	struct config old, fresh;
	char changed[1024], fixed[1024];
	char *base;
	size_t checked = 0;

	config_defaults(&old);
	base = printed(&old);
	for (size_t i = 0; i < sizeof(old); i++) {
		fresh = old;
		((unsigned char *)&fresh)[i] ^= 0x01;
		char *text = printed(&fresh);
		bool visible = strcmp(text, base) != 0;
		free(text);
		if (!visible)
			continue; /* padding, or a byte the printer does not show */
		checked++;
		struct config probe = fresh;
		int n = reload_merge(&old, &probe, changed, sizeof(changed), fixed, sizeof(fixed));
		cr_assert(n > 0 || fixed[0], "byte %zu of struct config is neither live nor fixed", i);
	}
	free(base);
	cr_assert_gt(checked, 100, "the probe did not reach the fields");
}

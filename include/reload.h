/* reload.h - what a configuration reload (SIGHUP) may change live.
 *
 * Pure: compares two configurations field by field. The main thread calls it
 * with the running configuration and a freshly loaded one; the result is
 * published to the workers (server_reconfigure). Listeners, worker count,
 * CPUs, buffer and ring sizes, the HTTP connection table and read buffers,
 * and the XDP prefilter are fixed at start-up.
 */
#ifndef RINGTRACKER_RELOAD_H
#define RINGTRACKER_RELOAD_H

#include <stddef.h>

#include "config.h"

/* Makes fresh applicable live: every field that cannot change while running
 * is copied from old into fresh. Writes the names of the keys that change
 * (comma-separated, "none" if nothing) into changed, and of the keys whose
 * new values are ignored until a restart into fixed ("" if none); each
 * capacity in bytes, truncated with "..." when full. Returns the number of
 * keys that change live. */
int reload_merge(const struct config *old, struct config *fresh, char *changed,
		 size_t changed_cap, char *fixed, size_t fixed_cap);

#endif

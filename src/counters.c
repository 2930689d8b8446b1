/* counters.c - names and help texts of the worker counters and gauges
 * (counters.h).
 * Read-only tables; any thread. */
#include "counters.h"

static const char *const counter_names[CTR_COUNT] = {
#define COUNTERS_NAME(name, help) #name,
	COUNTERS_LIST(COUNTERS_NAME)
#undef COUNTERS_NAME
};

static const char *const counter_helps[CTR_COUNT] = {
#define COUNTERS_HELP(name, help) help,
	COUNTERS_LIST(COUNTERS_HELP)
#undef COUNTERS_HELP
};

const char *counters_name(enum counter_id id)
{
	return id < CTR_COUNT ? counter_names[id] : "unknown";
}

const char *counters_help(enum counter_id id)
{
	return id < CTR_COUNT ? counter_helps[id] : "";
}

static const char *const gauge_names[GAUGE_COUNT] = {
#define GAUGES_NAME(name, help) #name,
	GAUGES_LIST(GAUGES_NAME)
#undef GAUGES_NAME
};

static const char *const gauge_helps[GAUGE_COUNT] = {
#define GAUGES_HELP(name, help) help,
	GAUGES_LIST(GAUGES_HELP)
#undef GAUGES_HELP
};

const char *counters_gauge_name(enum gauge_id id)
{
	return id < GAUGE_COUNT ? gauge_names[id] : "unknown";
}

const char *counters_gauge_help(enum gauge_id id)
{
	return id < GAUGE_COUNT ? gauge_helps[id] : "";
}

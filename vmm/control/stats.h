/* stats.h - replies of the "stats" and "set" control commands. */
#ifndef VMM_CONTROL_STATS_H
#define VMM_CONTROL_STATS_H

#include <stddef.h>
#include <stdint.h>

struct fleet;

struct ksm_stats;

#include <json-glib/json-glib.h>

/* Add the engine counters that both the "stats" and the "report" replies carry
 * (passes ... budget_state, cpu_seconds) to the open object of @b. */
void control_stats_add_engine(JsonBuilder *b, const struct ksm_stats *s);

/* "ok", "isolated-paused" or "full": the mapping budget of @s in words. */
const char *control_stats_budget_state(const struct ksm_stats *s);

/* The "stats" reply line (docs/stats.md); g_free it. */
char *control_stats_reply(struct fleet *f);

/* The "probe" reply: every running workload guest times the first store to up to
 * CONTROL_PROBE_PAGES of its shared pages per vCPU (worker thread: it waits for them). */
char *control_stats_probe_reply(struct fleet *f);

#define CONTROL_PROBE_PAGES 256

/* The "watch" reply: guest @i (@name) watches for stalls above @threshold_us for @ms
 * (worker thread: it waits for the guest). NULL with a -errno of fleet.h in *@err. */
char *control_stats_watch_reply(struct fleet *f, size_t i, const char *name, uint32_t ms,
				uint32_t threshold_us, int *err);

/* Set engine tunable @key to @value; the reply line (g_free it). */
char *control_stats_set_reply(struct fleet *f, const char *key, uint64_t value);

#endif

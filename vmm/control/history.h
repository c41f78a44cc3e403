/* history.h - a bounded ring of merge samples (one a second for an hour), for reports.
 *
 * The VMM samples the engine's published figures from the GLib main loop (cheap: a copy
 * of a snapshot) and keeps the last HISTORY_CAP samples: fleet totals and, per guest,
 * bytes saved and copy-on-write breaks. Readers (the "history" and "report" commands,
 * possibly on worker threads) copy samples out under the ring's lock.
 */
#ifndef VMM_CONTROL_HISTORY_H
#define VMM_CONTROL_HISTORY_H

#include <stddef.h>
#include <stdint.h>

#define HISTORY_CAP 3600   /* samples kept: one hour at one a second */
#define HISTORY_PERIOD_S 1 /* seconds between samples */

struct fleet;
struct history;
struct ksm_stats;
struct ksm_vm_stats;

/* One sample of the fleet. Counters (merges, cow_breaks, cpu_seconds) only grow. */
struct history_sample {
	double time;	      /* wall clock, seconds since the Unix epoch */
	double uptime;	      /* seconds since the history started (monotonic) */
	uint64_t bytes_saved; /* fleet: zero pages + (k-1)/k of each page shared by k */
	uint64_t cost_bytes;  /* fleet: private pages + pool pages they map */
	uint64_t merges;      /* engine: merges so far */
	uint64_t cow_breaks;  /* engine: copy-on-write breaks so far */
	uint64_t zero_pages;  /* guests' zero pages released now */
	uint64_t pool_pages;  /* canonical pages in the pool now */
	double cpu_seconds;   /* engine thread CPU time so far */
};

/* A ring for @nguests guests holding up to @cap samples (1..HISTORY_CAP).
 * Returns NULL on bad arguments or out of memory. */
struct history *history_create(size_t nguests, size_t cap);

/* Free @h (stops its timer first). NULL is a no-op. Main-loop thread if started. */
void history_destroy(struct history *h);

/* Sample @f now and then every HISTORY_PERIOD_S seconds from the GLib default main
 * context, until history_destroy(). Does nothing if the fleet has no merge engine.
 * Call from the main-loop thread; @f must outlive @h. */
void history_start(struct history *h, struct fleet *f);

/* Record one sample taken at @uptime seconds (monotonic) and @time (epoch) from the
 * engine figures @s and @n per-guest entries @vms (extra guests are ignored, missing
 * ones recorded as 0). The oldest sample is dropped when the ring is full. Any thread. */
void history_add(struct history *h, double time, double uptime, const struct ksm_stats *s,
		 const struct ksm_vm_stats *vms, size_t n);

/* Samples held (0..cap). Any thread. */
size_t history_count(struct history *h);

/* Copy sample @i (0 = oldest) into @out, and if non-NULL the per-guest bytes saved and
 * copy-on-write breaks into @saved / @cow (nguests entries each).
 * Returns 0 or -ERANGE. Any thread. */
int history_get(struct history *h, size_t i, struct history_sample *out, uint64_t *saved,
		uint64_t *cow);

/* Copy-on-write breaks per second of guest @g (or of the fleet with @g == SIZE_MAX)
 * over the last @window_s seconds of samples (fewer if the history is shorter).
 * Returns 0 with *rate set, -ENODATA with fewer than two samples, -ERANGE for a bad @g.
 * Any thread. */
int history_cow_rate(struct history *h, size_t g, double window_s, double *rate);

/* The "history" reply line (g_free it): {"ok":true,"version":1,"period_s":1,
 * "capacity":3600,"columns":[...],"samples":[[...],...]} and, when @guest is not
 * SIZE_MAX, that guest's "guest" name and per-sample "guest_samples" [saved, cow].
 * @name is guest @guest's name (ignored for SIZE_MAX). docs/reports.md. Any thread. */
char *history_reply(struct history *h, size_t guest, const char *name);

#endif

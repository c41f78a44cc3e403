/* measure.c - the workload guest's measuring requests: first-store probe, stall watch. */
#include "tests/guest/workload/measure.h"

#include "tests/guest/workload/console.h"
#include "tests/guest/workload/port.h"

/* Time the first store to page @p (version 0, merged if merging converged), then move the
 * page to version 1 (this guest's own content). Returns the store's TSC ticks. */
static uint64_t probe_page(struct wl_cpu *c, uint64_t p)
{
	struct wl_content want = wl_page_content_by(&c->lay, &c->lineage[c->entry], p, 1);
	volatile uint64_t *page = wl_cpu_page(c, p);
	uint64_t t0, t1;

	t0 = wl_rdtsc_fenced();
	page[0] = wl_content_qword(&want, 0);
	t1 = wl_rdtsc_fenced();
	wl_cpu_write(c, p, 1);
	return t1 - t0;
}

/* PROBE request: first-store cost on up to probe_pages of this vCPU's shared pages that
 * were never rewritten and do not mutate. */
void wl_measure_probe(struct wl_cpu *c)
{
	volatile uint32_t *samples = (volatile uint32_t *) (uintptr_t) WL_PROBE_GPA;
	uint32_t want = c->live->probe_pages, n = 0;
	uint64_t first = c->lay.shared_start;

	first += (c->index + c->ncpu - first % c->ncpu) % c->ncpu; /* our first shared page */
	for (uint64_t p = first; p < c->lay.dup_start && n < want && !c->prm.image_mode;
	     p += c->ncpu) {
		uint64_t ticks, slot;

		if (c->versions[p] || wl_page_mutates(&c->lay, p))
			continue;
		ticks = probe_page(c, p);
		slot = wl_xadd(&c->live->probe_count, 1);
		if (slot < WL_PROBE_MAX)
			samples[slot] = ticks > 0xffffffffu ? 0xffffffffu : (uint32_t) ticks;
		n++;
	}
	if (wl_xadd(&c->live->probe_cpus, 1) + 1 == c->ncpu) {
		wl_printf("PROBE pages=%lu\n", c->live->probe_count);
		wl_outl(WL_PORT_CMD, WL_CMD_PROBE_DONE);
	}
}

/* Bounds of a watch, from the live parameters (the VMM may be hostile to itself). */
static uint64_t watch_param(volatile uint32_t *v, uint32_t lo, uint32_t hi)
{
	uint32_t x = *v;

	return x < lo ? lo : x > hi ? hi : x;
}

/* WATCH request: for watch_ms, read one word of each owned page in turn and time every
 * read. A gap above the threshold is a stall this guest noticed; its length is recorded.
 * Reads never change a page, so merged pages stay merged. */
void wl_measure_watch(struct wl_cpu *c)
{
	volatile uint32_t *samples = (volatile uint32_t *) (uintptr_t) WL_WATCH_GPA;
	uint64_t span = watch_param(&c->live->watch_ms, 1, WL_WATCH_MAX_MS) * 1000 * c->tsc_per_us;
	uint64_t limit = watch_param(&c->live->watch_threshold_us, 1, 1000) * c->tsc_per_us;
	uint64_t start = wl_rdtsc(), prev = start, now = start, p = c->index;
	uint64_t reads = 0, stalled = 0;

	while (now - start < span) {
		(void) *(volatile uint64_t *) wl_cpu_page(c, p);
		now = wl_rdtsc();
		reads++;
		if (now - prev > limit) {
			uint64_t gap = now - prev, slot = wl_xadd(&c->live->watch_count, 1);

			stalled += gap;
			if (slot < WL_WATCH_MAX)
				samples[slot] = gap > 0xffffffffu ? 0xffffffffu : (uint32_t) gap;
		}
		prev = now;
		p += c->ncpu;
		if (p >= c->lay.total)
			p = c->index;
	}
	wl_atomic_add(&c->live->watch_stall_ticks, stalled);
	wl_atomic_add(&c->live->watch_ticks, now - start);
	wl_atomic_add(&c->live->watch_reads, reads);
	if (wl_xadd(&c->live->watch_cpus, 1) + 1 == c->ncpu) {
		wl_printf("WATCH stalls=%lu\n", c->live->watch_count);
		wl_outl(WL_PORT_CMD, WL_CMD_WATCH_DONE);
	}
}

/* workload.c - the workload guest: fill a memory profile, mutate it, verify it on request.
 *
 * Every vCPU runs wl_main. vCPU i owns the profile pages p with p % nr_cpus == i and is the
 * only writer of those pages and of their entries in the version table, so the vCPUs need
 * no locks: they meet only in the lock-prefixed counters of struct wl_params (ready_cpus,
 * verify_cpus, ...), where the last vCPU to arrive reports to the VMM.
 *
 * Phases: validate the parameters; fill the owned pages (version 0); report READY; then
 * loop: rewrite a batch of the mutating working set every 10 ms tick (if mutate_rate > 0)
 * and wait on WL_PORT_WAIT for the rest of the tick, serving VERIFY and FAULT requests.
 * RESTORED (this memory image is a new instance: a restored snapshot or a clone) gives
 * every vCPU a new identity; each page's version tag says under which entry of the
 * vCPU's lineage table it was written, so verify checks inherited and new pages alike.
 * Exits to the VMM are expensive (~17 us each under PVM), so the loop makes one wait per
 * tick and nothing else.
 *
 * cpu.c holds the vCPU's page access, measure.c the PROBE and WATCH requests, lineage.c
 * the identities (RESTORED).
 */
#include <stdint.h>

#include "tests/guest/workload/console.h"
#include "tests/guest/workload/cpu.h"
#include "tests/guest/workload/devices.h"
#include "tests/guest/workload/layout.h"
#include "tests/guest/workload/libc.h"
#include "tests/guest/workload/lineage.h"
#include "tests/guest/workload/measure.h"
#include "tests/guest/workload/port.h"
#include "tests/guest/workload/store.h"
#include "vmm/guest_abi.h"

#define TICK_US 10000u		 /* mutation tick */
#define CALIBRATE_SHORT_US 1000u /* TSC calibration: two waits... */
#define CALIBRATE_LONG_US 11000u /* ...10 ms apart */
#define MAX_BAD_REPORTS 3	 /* bad pages printed per vCPU per verify round */
#define MAX_TOTAL_PAGES (((uint64_t) WL_MAX_PD << 30) / WL_PAGE_SIZE)

static struct wl_devices devices; /* vCPU 0's; in .data, inside the image */
extern uint64_t vio_tsc_per_us;

void wl_main(uint64_t index, struct wl_params *params) __attribute__((noreturn));

/* Regions must be page aligned, ascending, above the version table and inside the
 * identity map. Returns NULL or why not. */
static const char *check_regions(const struct wl_params *p)
{
	uint64_t floor = WL_VERSIONS_GPA + p->total_pages * sizeof(uint32_t);
	uint64_t limit = (uint64_t) WL_MAX_PD << 30, sum = 0;

	if (p->nr_regions < 1 || p->nr_regions > WL_MAX_REGIONS)
		return "nr_regions out of range";
	for (uint32_t i = 0; i < p->nr_regions; i++) {
		const struct wl_region *r = &p->regions[i];

		if (r->gpa % WL_PAGE_SIZE)
			return "region not page aligned";
		if (r->gpa < floor)
			return "region overlaps the version table or the previous region";
		if (r->gpa > limit || r->npages > (limit - r->gpa) / WL_PAGE_SIZE)
			return "region beyond the identity map";
		floor = r->gpa + r->npages * WL_PAGE_SIZE;
		sum += r->npages;
	}
	if (sum != p->total_pages)
		return "total_pages is not the sum of the regions";
	return 0;
}

/* Returns NULL if the parameters are usable, else why not. */
static const char *check_params(const struct wl_params *p)
{
	if (p->magic != WL_MAGIC)
		return "bad magic";
	if (p->abi_version != WL_ABI_VERSION)
		return "abi_version mismatch";
	if (p->nr_cpus < 1 || p->nr_cpus > WL_MAX_CPUS)
		return "nr_cpus out of range";
	if (p->total_pages < 1 || p->total_pages > MAX_TOTAL_PAGES)
		return "total_pages out of range";
	if ((uint64_t) p->pct_zero + p->pct_shared + p->pct_dup > 100)
		return "percentages sum above 100";
	if (p->placement != WL_PLACE_SAME && p->placement != WL_PLACE_SHUFFLED)
		return "unknown placement";
	if (p->mutate_pct > 100)
		return "mutate_pct above 100";
	if (p->image_mode > 1 || (p->image_mode && p->mutate_rate))
		return "image_mode must be 0 or 1, without mutation";
	if (p->nr_virtio > WL_MAX_VIRTIO || p->pct_free > 100 || (p->pct_free && p->image_mode))
		return "nr_virtio or pct_free out of range";
	return check_regions(p);
}

/* has_avx promises CR4.OSXSAVE and XCR0 with SSE|AVX state; check rather than die on
 * the first vmovdqu. CPUID.1:ECX bit 27 mirrors CR4.OSXSAVE, so xgetbv is then legal. */
static int avx_usable(void)
{
	uint32_t a, b, c, d, lo, hi;

	asm volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(1), "c"(0));
	if (!(c & (1u << 27)) || !(c & (1u << 28)))
		return 0;
	asm volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
	return (lo & 6) == 6;
}

/* Wait forever, serving only FAULT: what a vCPU does when it cannot run the workload. */
static __attribute__((noreturn)) void wait_forever(void)
{
	for (;;)
		if (wl_cpu_wait(0) == WL_REQ_FAULT)
			wl_die();
}

static __attribute__((noreturn)) void panic(const char *why)
{
	wl_printf("PANIC: %s\n", why);
	wl_outl(WL_PORT_CMD, WL_CMD_PANIC);
	wait_forever();
}

/* Copy and validate the parameters. Problems of the parameter block are reported by
 * vCPU 0 only (the others would repeat it); a bad index by the vCPU concerned. */
static void setup(struct wl_cpu *c, uint64_t index, struct wl_params *params)
{
	const char *why;

	c->live = params;
	c->prm = *params;
	why = check_params(&c->prm);
	if (!why && c->prm.has_avx && !avx_usable())
		why = "has_avx set but AVX is not enabled";
	if (why) {
		if (index == 0)
			panic(why);
		wait_forever();
	}
	if (index >= c->prm.nr_cpus)
		panic("vCPU index >= nr_cpus");
	c->index = (uint32_t) index;
	c->ncpu = c->prm.nr_cpus;
	c->versions = (volatile uint32_t *) (uintptr_t) WL_VERSIONS_GPA;
	wl_layout_init(&c->lay, &c->prm);
	wl_lineage_init(c);
}

static void report_bad(const struct wl_cpu *c, uint64_t p, uint32_t v, uint64_t nbad);

/* A 32-bit checksum of a page (image mode): a strong mix of every qword. */
static uint32_t page_sum(const uint64_t *page)
{
	uint64_t h = 0x9e3779b97f4a7c15ull;

	for (unsigned k = 0; k < WL_PAGE_SIZE / 8; k++)
		h = wl_mix(h ^ page[k]) + k;
	return (uint32_t) (h ^ (h >> 32));
}

/* Image mode: the VMM loaded the pages; remember their checksums instead of filling. */
static void record_sums(struct wl_cpu *c)
{
	uint64_t n = 0;

	for (uint64_t p = c->index; p < c->lay.total; p += c->ncpu, n++)
		c->versions[p] = page_sum(wl_cpu_page(c, p));
	wl_atomic_add(&c->live->pages_filled, n);
}

static void verify_sums(struct wl_cpu *c, uint64_t *ok, uint64_t *bad)
{
	for (uint64_t p = c->index; p < c->lay.total; p += c->ncpu) {
		if (page_sum(wl_cpu_page(c, p)) == c->versions[p]) {
			(*ok)++;
		} else {
			(*bad)++;
			report_bad(c, p, c->versions[p], *bad);
		}
	}
}

/* Fill phase: every owned page at version 0. The version entry is only written if it
 * is not already 0, so a fresh guest leaves the table untouched (zero pages). */
static void fill(struct wl_cpu *c)
{
	uint64_t n = 0;

	for (uint64_t p = c->index; p < c->lay.total; p += c->ncpu, n++)
		wl_cpu_write(c, p, 0);
	wl_atomic_add(&c->live->pages_filled, n);
}

/* TSC ticks spent in one VMM wait of @us; 0 if a request cut it short (kept in
 * c->pending for after READY: none is expected before, but one may come anyway). */
static uint64_t timed_wait(struct wl_cpu *c, uint32_t us)
{
	uint64_t t0 = wl_rdtsc(), t1;
	uint32_t req = wl_cpu_wait(us);

	t1 = wl_rdtsc();
	if (req == WL_REQ_FAULT)
		wl_die();
	if (req == WL_REQ_NONE)
		return t1 - t0;
	if (req == WL_REQ_RESTORED)
		wl_lineage_restored(c); /* needs nothing of the later phases */
	else
		c->pending = req;
	return 0;
}

/* Measure TSC ticks per microsecond against the VMM's wait timeouts. The difference of
 * a long and a short wait cancels the fixed cost of the exits and the wake-up, which
 * would otherwise stretch every tick by a few percent. */
static void calibrate(struct wl_cpu *c)
{
	uint64_t t_short = 0, t_long = 0;
	uint32_t khz = wl_inl(WL_PORT_TSC_KHZ);

	/* KVM knows the rate exactly; measuring is the fallback (it drifts by a wake-up
	 * delay, milliseconds when the host is busy). */
	if (khz >= 1000) {
		c->tsc_per_us = khz / 1000;
		return;
	}

	while (!t_short || !t_long) {
		t_short = timed_wait(c, CALIBRATE_SHORT_US);
		t_long = timed_wait(c, CALIBRATE_LONG_US);
	}
	c->tsc_per_us =
	    t_long > t_short ? (t_long - t_short) / (CALIBRATE_LONG_US - CALIBRATE_SHORT_US) : 0;
	if (c->tsc_per_us == 0)
		c->tsc_per_us = 1;
}

/* Set up mutation: this vCPU's share of mutate_rate (the remainder goes to the lowest
 * indices). Leaves rate 0 if this vCPU owns no mutating page. */
static void mutate_setup(struct wl_cpu *c)
{
	int any = 0;

	c->rate = c->prm.mutate_rate / c->ncpu + (c->index < c->prm.mutate_rate % c->ncpu);
	if (!c->rate)
		return;
	for (uint64_t p = c->index; p < c->lay.total && !any; p += c->ncpu)
		any = wl_page_mutates(&c->lay, p);
	if (!any) {
		c->rate = 0;
		return;
	}
	c->cursor = c->index;
}

/* Next owned page of the working set, round-robin. Requires at least one such page. */
static uint64_t next_mutating(struct wl_cpu *c)
{
	for (;;) {
		uint64_t p = c->cursor;

		c->cursor += c->ncpu;
		if (c->cursor >= c->lay.total)
			c->cursor = c->index;
		if (wl_page_mutates(&c->lay, p))
			return p;
	}
}

/* One tick's worth of rewrites: rate / 100 pages, carrying the fraction. */
static void mutate_batch(struct wl_cpu *c)
{
	uint64_t n;

	c->acc += c->rate;
	n = c->acc / 100;
	c->acc %= 100;
	for (uint64_t i = 0; i < n; i++) {
		uint64_t p = next_mutating(c);

		/* Mutating pages are never given away, so the tag is never WL_VERSION_GONE. */
		wl_cpu_write(c, p, wl_version_count(wl_version_next(c->versions[p], c->entry)));
	}
	if (n)
		wl_atomic_add(&c->live->mutations, n);
}

/* Print the first few bad pages of a round: the VMM's tests need to know which. */
static void report_bad(const struct wl_cpu *c, uint64_t p, uint32_t v, uint64_t nbad)
{
	const uint64_t *page = wl_cpu_page(c, p);

	if (nbad <= MAX_BAD_REPORTS)
		wl_printf("verify: bad page %lu gpa 0x%lx version %u entry %u cpu %u qword0 "
			  "0x%lx\n",
			  p, (uint64_t) (uintptr_t) page, wl_version_count(v), wl_version_entry(v),
			  c->index, page[0]);
}

/* VERIFY request: check every owned page against the content its version tag implies
 * (count, and the identity of its lineage entry). The last vCPU to finish prints the
 * fleet-visible totals and tells the VMM. */
static void verify(struct wl_cpu *c)
{
	uint64_t ok = 0, bad = 0;

	for (uint64_t p = c->index; p < c->lay.total && !c->prm.image_mode; p += c->ncpu) {
		uint32_t v = c->versions[p];
		struct wl_content want;

		if (v == WL_VERSION_GONE)
			continue; /* given away: reported free or in the balloon */
		if (!wl_tagged_content(&c->lay, c->lineage, c->entry + 1, p, v, &want) &&
		    wl_check_page(wl_cpu_page(c, p), &want)) {
			ok++;
		} else {
			bad++;
			report_bad(c, p, v, bad);
		}
	}
	if (c->prm.image_mode)
		verify_sums(c, &ok, &bad);
	if (c->dev_bad)
		wl_printf("verify: %lu device rounds read back wrong data\n", c->dev_bad);
	bad += c->dev_bad; /* data the devices wrote into (merged) buffers is checked too */
	wl_atomic_add(&c->live->verify_ok, ok);
	wl_atomic_add(&c->live->verify_bad, bad);
	/* The locked adds above are ordered before this xadd, so the last vCPU sees every
	 * vCPU's totals. */
	if (wl_xadd(&c->live->verify_cpus, 1) + 1 == c->ncpu) {
		wl_printf("VERIFY ok=%lu bad=%lu\n", c->live->verify_ok, c->live->verify_bad);
		wl_outl(WL_PORT_CMD, WL_CMD_VERIFY_DONE);
	}
}

/* Pages vCPU 0 may give away: its own, outside the mutating working set (so the mutator
 * and the other vCPUs never touch them). */
static int spare(const struct wl_cpu *c, uint64_t p)
{
	return p % c->ncpu == 0 && !wl_page_mutates(&c->lay, p);
}

/* The pages reported free: pct_free percent of vCPU 0's spare shared pages (shared ones,
 * so that merged pages leave the pool when they are reported). */
static int reportable(const struct wl_cpu *c, uint64_t p)
{
	return c->prm.pct_free && p >= c->lay.shared_start &&
	       p < c->lay.shared_start + c->lay.nshared && spare(c, p) &&
	       (p - c->lay.shared_start) / c->ncpu % 100 < c->prm.pct_free;
}

/* Hand @n ranges to the reporting queue; returns the pages they cover, 0 on failure. */
static uint64_t send_reports(struct wl_cpu *c, const struct vio_buf *r, unsigned n)
{
	uint64_t pages = 0;

	for (unsigned i = 0; i < n; i++)
		pages += r[i].len / WL_PAGE_SIZE;
	return n && wl_report_free(c->dev, r, n) == 0 ? pages : 0;
}

/* Free page reporting: mark each reportable page gone (never verified again), then
 * report runs of them (up to 2 MiB each), VIO_QUEUE_SIZE ranges per request. */
static void report_free(struct wl_cpu *c)
{
	struct vio_buf r[VIO_QUEUE_SIZE];
	uint64_t done = 0;
	unsigned n = 0;

	for (uint64_t p = 0; p < c->lay.total; p++) {
		uint64_t a = (uint64_t) (uintptr_t) wl_cpu_page(c, p);

		if (!reportable(c, p))
			continue;
		c->versions[p] = WL_VERSION_GONE;
		if (n && r[n - 1].addr + r[n - 1].len == a && r[n - 1].len < 512 * WL_PAGE_SIZE) {
			r[n - 1].len += (uint32_t) WL_PAGE_SIZE;
			continue;
		}
		if (n == VIO_QUEUE_SIZE) {
			done += send_reports(c, r, n);
			n = 0;
		}
		r[n++] = (struct vio_buf){a, (uint32_t) WL_PAGE_SIZE, 1};
	}
	done += send_reports(c, r, n);
	c->live->pages_reported = done;
	wl_printf("FREE reported=%lu\n", done);
}

static uint32_t pfn(const struct wl_cpu *c, uint64_t p)
{
	return (uint32_t) ((uintptr_t) wl_cpu_page(c, p) / WL_PAGE_SIZE);
}

/* Inflate towards @target: spare pages from the top down, below the balloon's floor. */
static void inflate(struct wl_cpu *c, uint64_t have, uint64_t target)
{
	uint32_t pfns[256];
	uint64_t p = c->balloon_floor, floor = p;
	unsigned n = 0;

	while (n < 256 && have + n < target && p > 0) {
		if (!spare(c, --p) || reportable(c, p))
			continue;
		c->versions[p] = WL_VERSION_GONE; /* before the device may discard it */
		pfns[n++] = pfn(c, p);
		floor = p;
	}
	c->balloon_floor = floor;
	if (n && wl_balloon_move(c->dev, 1, pfns, n, (uint32_t) (have + n)) == 0)
		c->live->balloon_pages = have + n;
}

/* Deflate towards @target: from the floor up; each page is told to the device first,
 * then rewritten (its old content is gone) and verified again from then on. */
static void deflate(struct wl_cpu *c, uint64_t have, uint64_t target)
{
	uint32_t pfns[256];
	uint64_t pages[256], p = c->balloon_floor;
	unsigned n = 0;

	for (; n < 256 && have - n > target && p < c->lay.total; p++) {
		if (spare(c, p) && !reportable(c, p)) {
			pages[n] = p;
			pfns[n++] = pfn(c, p);
		}
	}
	if (!n || wl_balloon_move(c->dev, 0, pfns, n, (uint32_t) (have - n)))
		return;
	for (unsigned i = 0; i < n; i++)
		wl_cpu_write(c, pages[i], 1);
	c->balloon_floor = p;
	c->live->balloon_pages = have - n;
}

/* vCPU 0, between waits: report free pages when due, follow the balloon every 100 ms. */
static void devices_poll(struct wl_cpu *c)
{
	uint64_t now = wl_rdtsc(), target, have;

	if (!c->dev)
		return;
	if (c->free_due && now >= c->free_due) {
		c->free_due = 0;
		report_free(c);
	}
	if (now >= c->next_round) {
		c->next_round = now + 1000000 * c->tsc_per_us;
		c->dev_bad += wl_devices_round(c->dev);
	}
	if (now < c->next_poll)
		return;
	c->next_poll = now + 100000 * c->tsc_per_us;
	target = wl_balloon_target(c->dev);
	have = c->live->balloon_pages;
	if (target > have)
		inflate(c, have, target);
	else if (target < have)
		deflate(c, have, target);
}

/* vCPU 0 after the fill: bring up and check every device. */
static void devices_start(struct wl_cpu *c)
{
	if (c->index != 0 || !c->prm.nr_virtio)
		return;
	vio_tsc_per_us = c->tsc_per_us;
	c->dev = &devices;
	wl_devices_start(c->dev, &c->prm, c->live);
	c->balloon_floor = c->lay.total;
	if (c->prm.pct_free && devices.reporting >= 0)
		c->free_due = wl_rdtsc() + (uint64_t) WL_FREE_DELAY_MS * 1000 * c->tsc_per_us;
}

/* WL_REQ_HOSTILE (vCPU 0 only: it owns the devices). */
static void hostile(struct wl_cpu *c)
{
	uint32_t dev = c->live->hostile_dev, how = c->live->hostile_kind;

	if (!c->dev)
		return;
	wl_devices_hostile(c->dev, dev, how, &c->prm);
	wl_atomic_add(&c->live->hostile_done, 1);
}

static void serve(struct wl_cpu *c, uint32_t req)
{
	if (req == WL_REQ_VERIFY)
		verify(c);
	else if (req == WL_REQ_PROBE)
		wl_measure_probe(c);
	else if (req == WL_REQ_WATCH)
		wl_measure_watch(c);
	else if (req == WL_REQ_FAULT)
		wl_die();
	else if (req == WL_REQ_HOSTILE)
		hostile(c);
	else if (req == WL_REQ_RESTORED)
		wl_lineage_restored(c);
	/* WL_REQ_NONE (timeout) and unknown requests: nothing to do. */
}

/* Serve requests forever: no mutation on this vCPU. */
static __attribute__((noreturn)) void idle(struct wl_cpu *c)
{
	for (;;) {
		serve(c, wl_cpu_wait(c->dev ? 100000 : 0)); /* vCPU 0 looks at its balloon */
		devices_poll(c);
	}
}

/* Microseconds to wait until TSC @deadline (at least 1: a 0 timeout means forever). */
static uint32_t us_until(const struct wl_cpu *c, uint64_t now, uint64_t deadline)
{
	uint64_t us = now < deadline ? (deadline - now) / c->tsc_per_us : 0;

	return us ? (us > TICK_US ? TICK_US : (uint32_t) us) : 1;
}

/* Mutation loop: a batch per tick, then one wait for the rest of the tick. A vCPU that
 * falls more than a tick behind drops the backlog instead of bursting. */
static __attribute__((noreturn)) void mutate_loop(struct wl_cpu *c)
{
	uint64_t tick = c->tsc_per_us * TICK_US;
	uint64_t deadline = wl_rdtsc() + tick;

	for (;;) {
		uint64_t now;

		mutate_batch(c);
		now = wl_rdtsc();
		if (now > deadline + tick)
			deadline = now;
		serve(c, wl_cpu_wait(us_until(c, now, deadline)));
		devices_poll(c);
		deadline += tick;
	}
}

static void report_ready(struct wl_cpu *c)
{
	if (wl_xadd(&c->live->ready_cpus, 1) + 1 == c->ncpu) {
		wl_printf("READY\n");
		wl_outl(WL_PORT_CMD, WL_CMD_READY);
	}
}

void wl_main(uint64_t index, struct wl_params *params)
{
	struct wl_cpu c;

	memset(&c, 0, sizeof(c));
	setup(&c, index, params);
	if (c.index == 0 && c.prm.image_mode)
		wl_printf("workload: %lu pages image cpus=%u generation=%lx\n", c.lay.total, c.ncpu,
			  c.prm.generation);
	else if (c.index == 0)
		wl_printf("workload: %lu pages zero=%lu shared=%lu dup=%lu unique=%lu cpus=%u "
			  "generation=%lx\n",
			  c.lay.total, c.lay.nzero, c.lay.nshared, c.lay.ndup, c.lay.nunique,
			  c.ncpu, c.prm.generation);
	if (c.prm.image_mode)
		record_sums(&c);
	else
		fill(&c);
	calibrate(&c); /* mutation ticks and stall watches count in microseconds */
	mutate_setup(&c);
	devices_start(&c);
	report_ready(&c);
	if (c.pending)
		serve(&c, c.pending);
	if (c.rate)
		mutate_loop(&c);
	idle(&c);
}

/* test_virtio_balloon.c - virtio-balloon on fake guest RAM with a fake discard hook that
 * records ranges: queue numbering over the accepted features, inflate frames coalesced to
 * the hook, frames outside RAM to NEEDS_RESET, deflate, free page reporting, the target
 * in config space, the stats queue. */
#include "virtio/balloon.h"

#include <errno.h>
#include <linux/virtio_balloon.h>
#include <stddef.h>
#include <stdio.h>

#include "lib/log.h"
#include "lib/page.h"
#include "tests/unit/check.h"
#include "tests/unit/virtio_driver.h"

#define V1 (1ull << VIRTIO_F_VERSION_1)
#define F_STATS (1ull << VIRTIO_BALLOON_F_STATS_VQ)
#define F_OOM (1ull << VIRTIO_BALLOON_F_DEFLATE_ON_OOM)
#define F_REPORT (1ull << VIRTIO_BALLOON_F_REPORTING)
#define RAM_SIZE (8u << 20)
#define BUF (FAKE_RAM_BASE + 0x10000) /* frame arrays, stats buffers */
#define RAM_PFN (FAKE_RAM_BASE >> PAGE_SHIFT)
#define W VRING_DESC_F_WRITE
#define N VRING_DESC_F_NEXT

static struct fake_ram ram;

/* The fake host: ranges it was asked to discard. */
static struct {
	unsigned n;
	uint64_t gpa[64], len[64];
	int fail; /* return this */
} hook;

static int fake_discard(void *opaque, uint64_t gpa, uint64_t len)
{
	CHECK(opaque == &hook);
	if (hook.n < 64) {
		hook.gpa[hook.n] = gpa;
		hook.len[hook.n] = len;
	}
	hook.n++;
	return hook.fail;
}

struct balloon {
	struct virtio_dev *dev;
	struct drv_vq q[4];
	unsigned nq;
};

/* Linux's bring-up: queues numbered over the accepted features only. */
static void balloon_up(struct balloon *b, uint64_t features)
{
	uint64_t next = FAKE_RAM_BASE;

	memset(hook.gpa, 0, sizeof(hook.gpa));
	hook.n = 0;
	hook.fail = 0;
	CHECK(drv_negotiate(b->dev, V1 | features));
	b->nq = 2 + !!(features & F_STATS) + !!(features & F_REPORT);
	memset(fake_at(&ram, FAKE_RAM_BASE), 0, 0x10000);
	for (unsigned i = 0; i < b->nq; i++) {
		drv_w32(b->dev, VIRTIO_MMIO_QUEUE_SEL, i);
		CHECK(drv_r32(b->dev, VIRTIO_MMIO_QUEUE_NUM_MAX) >= 32);
		next = drv_vq_layout(&b->q[i], 64, next);
		drv_vq_setup(b->dev, i, &b->q[i]);
	}
	drv_status_add(b->dev, VIRTIO_CONFIG_S_DRIVER_OK);
}

static void balloon_open(struct balloon *b, uint64_t features)
{
	memset(b, 0, sizeof(*b));
	b->dev = virtio_balloon_create(&ram.ops, fake_discard, &hook);
	CHECK(b->dev != NULL);
	balloon_up(b, features);
}

/* Run the device; returns the used length of queue @q's next entry, or -1 if none. */
static int64_t balloon_run(struct balloon *b, unsigned q)
{
	uint32_t id, len;

	fake_ram_snapshot(&ram);
	virtio_dev_kick(b->dev, q);
	while (virtio_dev_poll(b->dev, 0) > 0)
		;
	CHECK_EQ(fake_ram_unguarded(&ram), 0);
	CHECK_EQ(ram.open, 0);
	if (!drv_used_get(&ram, &b->q[q], &id, &len))
		return -1;
	return len;
}

/* Post @n frames on queue @q as one readable buffer. */
static int64_t balloon_frames(struct balloon *b, unsigned q, const uint32_t *pfn, unsigned n)
{
	memcpy(fake_at(&ram, BUF), pfn, n * sizeof(*pfn));
	drv_desc(&ram, &b->q[q], 0, BUF, n * sizeof(*pfn), 0, 0);
	drv_avail_add(&ram, &b->q[q], 0);
	return balloon_run(b, q);
}

static bool needs_reset(struct balloon *b)
{
	return virtio_dev_status(b->dev) & VIRTIO_CONFIG_S_NEEDS_RESET;
}

static void test_queue_roles(void)
{
	struct balloon b;

	balloon_open(&b, F_STATS | F_OOM | F_REPORT);
	CHECK(!strcmp(virtio_balloon_queue_role(b.dev, 0), "inflate"));
	CHECK(!strcmp(virtio_balloon_queue_role(b.dev, 1), "deflate"));
	CHECK(!strcmp(virtio_balloon_queue_role(b.dev, 2), "stats"));
	CHECK(!strcmp(virtio_balloon_queue_role(b.dev, 3), "reporting"));
	CHECK(virtio_balloon_queue_role(b.dev, 4) == NULL);
	balloon_up(&b, F_REPORT);
	CHECK(!strcmp(virtio_balloon_queue_role(b.dev, 2), "reporting"));
	CHECK(virtio_balloon_queue_role(b.dev, 3) == NULL);
	CHECK_EQ(virtio_balloon_request_stats(b.dev), -EOPNOTSUPP);
	/* Functionally: a report posted on queue 2 reaches the hook. */
	drv_desc(&ram, &b.q[2], 0, FAKE_RAM_BASE + (2u << 20), 2u << 20, W, 0);
	drv_avail_add(&ram, &b.q[2], 0);
	CHECK_EQ(balloon_run(&b, 2), 0);
	CHECK_EQ(hook.n, 1);
	CHECK_EQ(hook.gpa[0], FAKE_RAM_BASE + (2u << 20));
	balloon_up(&b, F_STATS);
	CHECK(!strcmp(virtio_balloon_queue_role(b.dev, 2), "stats"));
	CHECK(virtio_balloon_queue_role(b.dev, 3) == NULL);
	balloon_up(&b, 0);
	CHECK(virtio_balloon_queue_role(b.dev, 2) == NULL);
	/* Reset forgets the numbering. */
	drv_w32(b.dev, VIRTIO_MMIO_STATUS, 0);
	CHECK(virtio_balloon_queue_role(b.dev, 0) == NULL);
	virtio_dev_destroy(b.dev);
}

static void test_inflate_deflate(void)
{
	const uint32_t pfn[] = {RAM_PFN + 10, RAM_PFN + 11, RAM_PFN + 12, RAM_PFN + 20,
				RAM_PFN + 6,  RAM_PFN + 5,  RAM_PFN + 11};
	struct virtio_balloon_counters c;
	struct balloon b;

	balloon_open(&b, F_STATS | F_OOM | F_REPORT);
	CHECK_EQ(balloon_frames(&b, 0, pfn, 7), 0);
	CHECK_EQ(hook.n, 3); /* sorted, the duplicate dropped, runs merged */
	CHECK_EQ(hook.gpa[0], FAKE_RAM_BASE + 5 * PAGE_SIZE);
	CHECK_EQ(hook.len[0], 2 * PAGE_SIZE);
	CHECK_EQ(hook.gpa[1], FAKE_RAM_BASE + 10 * PAGE_SIZE);
	CHECK_EQ(hook.len[1], 3 * PAGE_SIZE);
	CHECK_EQ(hook.gpa[2], FAKE_RAM_BASE + 20 * PAGE_SIZE);
	CHECK_EQ(hook.len[2], PAGE_SIZE);
	CHECK_EQ(balloon_frames(&b, 1, pfn, 4), 0); /* deflate: counted, nothing discarded */
	CHECK_EQ(hook.n, 3);
	/* The driver reports what it holds. */
	uint32_t actual = 3;
	virtio_mmio_access(b.dev,
			   VIRTIO_MMIO_CONFIG + offsetof(struct virtio_balloon_config, actual),
			   true, (uint8_t *) &actual, 4);
	virtio_balloon_counters(b.dev, &c);
	CHECK_EQ(c.inflated, 7);
	CHECK_EQ(c.deflated, 4);
	CHECK_EQ(c.discards, 3);
	CHECK_EQ(c.discard_errors, 0);
	CHECK_EQ(c.actual, 3);
	/* A failing host: counted, the guest is not blamed. */
	hook.fail = -ENOMEM;
	CHECK_EQ(balloon_frames(&b, 0, pfn, 1), 0);
	virtio_balloon_counters(b.dev, &c);
	CHECK_EQ(c.discard_errors, 1);
	CHECK(!needs_reset(&b));
	/* A frame outside guest RAM, last of a batch: NEEDS_RESET, nothing discarded. */
	hook.fail = 0;
	hook.n = 0;
	const uint32_t bad[] = {RAM_PFN + 1, RAM_PFN + (RAM_SIZE >> PAGE_SHIFT)};
	CHECK_EQ(balloon_frames(&b, 0, bad, 2), -1);
	CHECK(needs_reset(&b));
	CHECK_EQ(hook.n, 0);
	CHECK(drv_r32(b.dev, VIRTIO_MMIO_INTERRUPT_STATUS) & VIRTIO_MMIO_INT_CONFIG);
	balloon_up(&b, F_REPORT);
	CHECK(!needs_reset(&b));
	CHECK_EQ(balloon_frames(&b, 1, (const uint32_t[]){RAM_PFN - 1}, 1), -1); /* deflate */
	CHECK(needs_reset(&b));
	/* A frame list that is not whole le32s, or writable. */
	balloon_up(&b, 0);
	CHECK_EQ(balloon_frames(&b, 0, pfn, 1), 0);
	drv_desc(&ram, &b.q[0], 0, BUF, 6, 0, 0);
	drv_avail_add(&ram, &b.q[0], 0);
	CHECK_EQ(balloon_run(&b, 0), -1);
	CHECK(needs_reset(&b));
	balloon_up(&b, 0);
	drv_desc(&ram, &b.q[0], 0, BUF, 8, W, 0);
	drv_avail_add(&ram, &b.q[0], 0);
	CHECK_EQ(balloon_run(&b, 0), -1);
	CHECK(needs_reset(&b));
	virtio_dev_destroy(b.dev);
}

static void test_reporting(void)
{
	struct virtio_balloon_counters c;
	struct balloon b;

	balloon_open(&b, F_STATS | F_REPORT);
	/* Two 2 MiB buffers and one unaligned scrap (only its whole page counts). */
	drv_desc(&ram, &b.q[3], 0, FAKE_RAM_BASE + (2u << 20), 2u << 20, W | N, 1);
	drv_desc(&ram, &b.q[3], 1, FAKE_RAM_BASE + (6u << 20), 2u << 20, W | N, 2);
	drv_desc(&ram, &b.q[3], 2, FAKE_RAM_BASE + 0x8800, 0x1900, W, 0);
	drv_avail_add(&ram, &b.q[3], 0);
	CHECK_EQ(balloon_run(&b, 3), 0);
	CHECK_EQ(hook.n, 3);
	CHECK_EQ(hook.gpa[0], FAKE_RAM_BASE + (2u << 20));
	CHECK_EQ(hook.len[0], 2u << 20);
	CHECK_EQ(hook.gpa[1], FAKE_RAM_BASE + (6u << 20));
	CHECK_EQ(hook.len[1], 2u << 20);
	CHECK_EQ(hook.gpa[2], FAKE_RAM_BASE + 0x9000);
	CHECK_EQ(hook.len[2], PAGE_SIZE);
	drv_desc(&ram, &b.q[3], 0, FAKE_RAM_BASE + (4u << 20), 1u << 20, W, 0);
	drv_avail_add(&ram, &b.q[3], 0);
	CHECK_EQ(balloon_run(&b, 3), 0);
	virtio_balloon_counters(b.dev, &c);
	CHECK_EQ(c.reports, 2);
	CHECK_EQ(c.reported_pages, 1024 + 1 + 256);
	CHECK(!needs_reset(&b));
	/* A report past the end of RAM, or with a readable buffer. */
	drv_desc(&ram, &b.q[3], 0, FAKE_RAM_BASE + (7u << 20), 2u << 20, W, 0);
	drv_avail_add(&ram, &b.q[3], 0);
	CHECK_EQ(balloon_run(&b, 3), -1);
	CHECK(needs_reset(&b));
	balloon_up(&b, F_STATS | F_REPORT);
	drv_desc(&ram, &b.q[3], 0, FAKE_RAM_BASE + (2u << 20), 2u << 20, 0, 0);
	drv_avail_add(&ram, &b.q[3], 0);
	CHECK_EQ(balloon_run(&b, 3), -1);
	CHECK(needs_reset(&b));
	CHECK_EQ(hook.n, 0);
	virtio_dev_destroy(b.dev);
}

static void test_target(void)
{
	struct virtio_balloon_counters c;
	struct balloon b;
	uint32_t gen, v = 0;

	balloon_open(&b, F_STATS);
	gen = drv_r32(b.dev, VIRTIO_MMIO_CONFIG_GENERATION);
	drv_w32(b.dev, VIRTIO_MMIO_INTERRUPT_ACK, 0xffffffff);
	virtio_balloon_set_target(b.dev, 1000);
	CHECK(drv_r32(b.dev, VIRTIO_MMIO_CONFIG_GENERATION) != gen);
	CHECK(drv_r32(b.dev, VIRTIO_MMIO_INTERRUPT_STATUS) & VIRTIO_MMIO_INT_CONFIG);
	virtio_mmio_access(b.dev, VIRTIO_MMIO_CONFIG, false, (uint8_t *) &v, 4);
	CHECK_EQ(v, 1000);
	/* The driver cannot move the target; it may write actual. */
	v = 5;
	virtio_mmio_access(b.dev, VIRTIO_MMIO_CONFIG, true, (uint8_t *) &v, 4);
	virtio_mmio_access(b.dev, VIRTIO_MMIO_CONFIG, false, (uint8_t *) &v, 4);
	CHECK_EQ(v, 1000);
	v = 700;
	virtio_mmio_access(b.dev, VIRTIO_MMIO_CONFIG + 4, true, (uint8_t *) &v, 4);
	virtio_balloon_counters(b.dev, &c);
	CHECK_EQ(c.target, 1000);
	CHECK_EQ(c.actual, 700);
	virtio_dev_destroy(b.dev);
}

static void stats_put(unsigned i, uint16_t tag, uint64_t val)
{
	uint8_t *p = fake_at(&ram, BUF + 10 * i);

	memcpy(p, &tag, 2);
	memcpy(p + 2, &val, 8);
}

static void test_stats(void)
{
	struct virtio_balloon_guest_stats s;
	struct balloon b;

	balloon_open(&b, F_STATS | F_REPORT);
	virtio_balloon_guest_stats(b.dev, &s);
	CHECK_EQ(s.updates, 0);
	CHECK_EQ(s.time_us, 0);
	/* The driver's first buffer, posted at probe: the device keeps it. */
	stats_put(0, VIRTIO_BALLOON_S_MEMFREE, 123 << 20);
	stats_put(1, VIRTIO_BALLOON_S_MEMTOT, 456 << 20);
	stats_put(2, 77, 1); /* unknown tag: ignored */
	stats_put(3, VIRTIO_BALLOON_S_MAJFLT, 9);
	drv_desc(&ram, &b.q[2], 0, BUF, 40, 0, 0);
	drv_avail_add(&ram, &b.q[2], 0);
	CHECK_EQ(balloon_run(&b, 2), -1);
	virtio_balloon_guest_stats(b.dev, &s);
	CHECK_EQ(s.updates, 1);
	CHECK(s.time_us != 0);
	CHECK_EQ(s.val[VIRTIO_BALLOON_S_MEMFREE], 123 << 20);
	CHECK_EQ(s.val[VIRTIO_BALLOON_S_MEMTOT], 456 << 20);
	CHECK_EQ(s.val[VIRTIO_BALLOON_S_MAJFLT], 9);
	CHECK_EQ(s.valid, (1u << VIRTIO_BALLOON_S_MEMFREE) | (1u << VIRTIO_BALLOON_S_MEMTOT) |
			      (1u << VIRTIO_BALLOON_S_MAJFLT));
	/* The host asks: the buffer comes back; the driver refills and reposts it. */
	CHECK_EQ(virtio_balloon_request_stats(b.dev), 0);
	CHECK_EQ(balloon_run(&b, 2), 0);
	stats_put(0, VIRTIO_BALLOON_S_MEMFREE, 789 << 20);
	drv_avail_add(&ram, &b.q[2], 0);
	CHECK_EQ(balloon_run(&b, 2), -1);
	virtio_balloon_guest_stats(b.dev, &s);
	CHECK_EQ(s.updates, 2);
	CHECK_EQ(s.val[VIRTIO_BALLOON_S_MEMFREE], 789 << 20);
	/* A request before any buffer is held is remembered until one arrives. */
	CHECK_EQ(virtio_balloon_request_stats(b.dev), 0);
	CHECK_EQ(balloon_run(&b, 2), 0);
	CHECK_EQ(virtio_balloon_request_stats(b.dev), 0);
	CHECK_EQ(balloon_run(&b, 2), -1);
	drv_avail_add(&ram, &b.q[2], 0);
	CHECK_EQ(balloon_run(&b, 2), 0);
	/* A writable stats buffer is a guest error. */
	drv_desc(&ram, &b.q[2], 0, BUF, 40, W, 0);
	drv_avail_add(&ram, &b.q[2], 0);
	CHECK_EQ(balloon_run(&b, 2), -1);
	CHECK(needs_reset(&b));
	virtio_dev_destroy(b.dev);
}

int main(void)
{
	log_level = getenv("V") ? 3 : 0;
	fake_ram_init(&ram, RAM_SIZE);
	test_queue_roles();
	test_inflate_deflate();
	test_reporting();
	test_target();
	test_stats();
	fake_ram_free(&ram);
	return check_done("test_virtio_balloon");
}

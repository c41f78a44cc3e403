/* fuzz_balloon.c - libFuzzer target: a hostile driver against virtio-balloon. The input is
 * a program: bring-up with any subset of the balloon features (so the queue numbering
 * changes), frame arrays on any queue, free page reports, stats buffers, raw descriptors,
 * avail entries, stores into guest RAM, register accesses, host target changes and stats
 * requests, worker rounds. Checked: no crash (ASan/UBSan), every write_begin ended, no
 * guest byte changed outside a write_begin range, and every range given to the discard
 * hook page aligned, non-empty and inside guest RAM. */
#include <stdint.h>
#include <stdlib.h>

#include "lib/log.h"
#include "lib/page.h"
#include "tests/unit/virtio_driver.h"
#include "virtio/balloon.h"

#define RAM_SIZE (64u * 1024) /* small: every round copies and compares all of it */
#define NQ 4

struct prog {
	const uint8_t *p;
	size_t left;
};

static struct fake_ram ram;

static uint64_t take(struct prog *pr, unsigned bytes)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < bytes && pr->left; i++, pr->left--)
		v |= (uint64_t) *pr->p++ << (8 * i);
	return v;
}

static int check_discard(void *opaque, uint64_t gpa, uint64_t len)
{
	(void) opaque;
	if (!len || gpa % PAGE_SIZE || len % PAGE_SIZE || !fake_ram_ptr(&ram, gpa, len))
		abort();
	return 0;
}

/* fake_ram_unguarded, cheaper: unchanged 4 KiB blocks are skipped with one memcmp (this
 * runs after every worker round and sets the pace of the fuzzer). */
static uint64_t unguarded(void)
{
	uint64_t bad = 0;

	for (uint64_t c = 0; c < ram.size; c += PAGE_SIZE) {
		if (!memcmp(ram.mem + c, ram.shadow + c, PAGE_SIZE))
			continue;
		for (uint64_t i = c; i < c + PAGE_SIZE; i++)
			if (ram.mem[i] != ram.shadow[i] &&
			    !fake_ram_logged(&ram, FAKE_RAM_BASE + i))
				bad++;
	}
	return bad;
}

static void audit(void)
{
	if (ram.open || ram.bad_ends || unguarded())
		abort();
}

static void run_round(struct virtio_dev *dev)
{
	fake_ram_snapshot(&ram);
	while (virtio_dev_poll(dev, 0) > 0)
		audit();
	audit();
}

static uint64_t take_gpa(struct prog *pr)
{
	if ((uint8_t) take(pr, 1) < 0xf0)
		return FAKE_RAM_BASE + take(pr, 3) % RAM_SIZE;
	return take(pr, 8);
}

static void op_bring_up(struct virtio_dev *dev, struct prog *pr, struct drv_vq *q)
{
	uint64_t f = (1ull << VIRTIO_F_VERSION_1) | (take(pr, 1) & 0x3f);
	uint64_t next = FAKE_RAM_BASE;

	drv_negotiate(dev, take(pr, 1) == 0xff ? take(pr, 8) : f);
	for (unsigned i = 0; i < NQ; i++) {
		next = drv_vq_layout(&q[i], 1u << (take(pr, 1) % 8), next);
		drv_vq_setup(dev, i, &q[i]);
	}
	drv_status_add(dev, VIRTIO_CONFIG_S_DRIVER_OK);
}

/* A buffer at 0x8000 of frame numbers, mostly inside RAM, as one chain on any queue. */
static void op_frames(struct prog *pr, struct drv_vq *q)
{
	struct drv_vq *vq = &q[take(pr, 1) % NQ];
	uint64_t buf = FAKE_RAM_BASE + 0x8000;
	unsigned n = take(pr, 1) % 64;

	for (unsigned i = 0; i < n; i++) {
		uint32_t pfn = (take(pr, 1) & 1) ? take(pr, 4)
						 : (FAKE_RAM_BASE >> PAGE_SHIFT) + take(pr, 1) % 20;

		memcpy(fake_at(&ram, buf + 4 * i), &pfn, 4);
	}
	drv_desc(&ram, vq, 0, buf, 4 * n + (take(pr, 1) % 8 == 0), take(pr, 1) & 2, 0);
	drv_avail_add(&ram, vq, 0);
}

/* A chain of buffers (free page report or stats-like), lengths and places from input. */
static void op_chain(struct prog *pr, struct drv_vq *q)
{
	struct drv_vq *vq = &q[take(pr, 1) % NQ];
	unsigned n = 1 + take(pr, 1) % 6;

	if (n > vq->size)
		return;
	for (unsigned i = 0; i < n; i++)
		drv_desc(&ram, vq, i, take_gpa(pr), take(pr, 3),
			 (take(pr, 1) & 2) | (i + 1 < n ? VRING_DESC_F_NEXT : 0), i + 1);
	drv_avail_add(&ram, vq, 0);
}

static void op_desc(struct prog *pr, struct drv_vq *q)
{
	struct drv_vq *vq = &q[take(pr, 1) % NQ];

	drv_desc(&ram, vq, take(pr, 1) % vq->size, take_gpa(pr), take(pr, 3), take(pr, 1) & 7,
		 take(pr, 1));
}

static void op_poke(struct prog *pr)
{
	uint64_t off = take(pr, 3) % (RAM_SIZE - 8);
	uint64_t v = take(pr, 8);

	memcpy(ram.mem + off, &v, 8);
}

static void op_mmio(struct virtio_dev *dev, struct prog *pr)
{
	static const unsigned widths[] = {1, 2, 4, 8};
	uint64_t off = take(pr, 2) % VIRTIO_MMIO_SIZE;
	unsigned len = widths[take(pr, 1) % 4];
	uint64_t v = take(pr, 4);

	if (off + len <= VIRTIO_MMIO_SIZE)
		virtio_mmio_access(dev, off, take(pr, 1) & 1, (uint8_t *) &v, len);
}

static void op_host(struct virtio_dev *dev, struct prog *pr)
{
	struct virtio_balloon_guest_stats s;
	struct virtio_balloon_counters c;

	if (take(pr, 1) & 1)
		virtio_balloon_set_target(dev, take(pr, 4));
	else
		virtio_balloon_request_stats(dev);
	virtio_balloon_guest_stats(dev, &s);
	virtio_balloon_counters(dev, &c);
}

static void run_program(struct virtio_dev *dev, struct prog *pr)
{
	struct drv_vq q[NQ];

	op_bring_up(dev, pr, q);
	while (pr->left) {
		switch (take(pr, 1) % 10) {
		case 0: op_bring_up(dev, pr, q); break;
		case 1:
		case 2: op_frames(pr, q); break;
		case 3: op_chain(pr, q); break;
		case 4: op_desc(pr, q); break;
		case 5: drv_avail_add(&ram, &q[take(pr, 1) % NQ], take(pr, 1)); break;
		case 6: op_poke(pr); break;
		case 7: op_mmio(dev, pr); break;
		case 8: op_host(dev, pr); break;
		default: run_round(dev); break;
		}
	}
	run_round(dev);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct prog pr = {data, size};
	struct virtio_dev *dev;

	if (!ram.mem) {
		log_level = -1;
		fake_ram_init(&ram, RAM_SIZE);
	}
	fake_ram_clear(&ram);
	dev = virtio_balloon_create(&ram.ops, check_discard, NULL);
	if (!dev)
		abort();
	run_program(dev, &pr);
	virtio_dev_destroy(dev);
	return 0;
}

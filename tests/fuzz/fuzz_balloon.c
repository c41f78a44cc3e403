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
#include "tests/fuzz/fuzz_prog.h"
#include "tests/unit/virtio_driver.h"
#include "virtio/balloon.h"

#define RAM_SIZE (64u * 1024) /* small: every round copies and compares all of it */
#define NQ 4

static struct fake_ram ram;

static int check_discard(void *opaque, uint64_t gpa, uint64_t len)
{
	(void) opaque;
	if (!len || gpa % PAGE_SIZE || len % PAGE_SIZE || !fake_ram_ptr(&ram, gpa, len))
		abort();
	return 0;
}

static void op_bring_up(struct virtio_dev *dev, struct prog *pr, struct drv_vq *q)
{
	uint64_t f = (1ull << VIRTIO_F_VERSION_1) | (prog_take(pr, 1) & 0x3f);
	uint64_t next = FAKE_RAM_BASE;

	drv_negotiate(dev, prog_take(pr, 1) == 0xff ? prog_take(pr, 8) : f);
	for (unsigned i = 0; i < NQ; i++) {
		next = drv_vq_layout(&q[i], 1u << (prog_take(pr, 1) % 8), next);
		drv_vq_setup(dev, i, &q[i]);
	}
	drv_status_add(dev, VIRTIO_CONFIG_S_DRIVER_OK);
}

/* A buffer at 0x8000 of frame numbers, mostly inside RAM, as one chain on any queue. */
static void op_frames(struct prog *pr, struct drv_vq *q)
{
	struct drv_vq *vq = &q[prog_take(pr, 1) % NQ];
	uint64_t buf = FAKE_RAM_BASE + 0x8000;
	unsigned n = prog_take(pr, 1) % 64;

	for (unsigned i = 0; i < n; i++) {
		uint32_t pfn = (prog_take(pr, 1) & 1)
				   ? prog_take(pr, 4)
				   : (FAKE_RAM_BASE >> PAGE_SHIFT) + prog_take(pr, 1) % 20;

		memcpy(fake_at(&ram, buf + 4 * i), &pfn, 4);
	}
	drv_desc(&ram, vq, 0, buf, 4 * n + (prog_take(pr, 1) % 8 == 0), prog_take(pr, 1) & 2, 0);
	drv_avail_add(&ram, vq, 0);
}

/* A chain of buffers (free page report or stats-like), lengths and places from input. */
static void op_chain(struct prog *pr, struct drv_vq *q)
{
	struct drv_vq *vq = &q[prog_take(pr, 1) % NQ];
	unsigned n = 1 + prog_take(pr, 1) % 6;

	if (n > vq->size)
		return;
	for (unsigned i = 0; i < n; i++)
		drv_desc(&ram, vq, i, prog_take_gpa(pr, RAM_SIZE, 3), prog_take(pr, 3),
			 (prog_take(pr, 1) & 2) | (i + 1 < n ? VRING_DESC_F_NEXT : 0), i + 1);
	drv_avail_add(&ram, vq, 0);
}

static void op_desc(struct prog *pr, struct drv_vq *q)
{
	struct drv_vq *vq = &q[prog_take(pr, 1) % NQ];

	drv_desc(&ram, vq, prog_take(pr, 1) % vq->size, prog_take_gpa(pr, RAM_SIZE, 3),
		 prog_take(pr, 3), prog_take(pr, 1) & 7, prog_take(pr, 1));
}

static void op_host(struct virtio_dev *dev, struct prog *pr)
{
	struct virtio_balloon_guest_stats s;
	struct virtio_balloon_counters c;

	if (prog_take(pr, 1) & 1)
		virtio_balloon_set_target(dev, prog_take(pr, 4));
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
		switch (prog_take(pr, 1) % 10) {
		case 0: op_bring_up(dev, pr, q); break;
		case 1:
		case 2: op_frames(pr, q); break;
		case 3: op_chain(pr, q); break;
		case 4: op_desc(pr, q); break;
		case 5: drv_avail_add(&ram, &q[prog_take(pr, 1) % NQ], prog_take(pr, 1)); break;
		case 6: prog_poke(&ram, pr, 3); break;
		case 7: prog_mmio(dev, pr); break;
		case 8: op_host(dev, pr); break;
		default: prog_run_round(&ram, dev); break;
		}
	}
	prog_run_round(&ram, dev);
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

/* fuzz_virtq.c - libFuzzer target: a hostile driver against each virtio device (rng,
 * console). The input is a program of driver operations: register reads and writes of
 * any offset and width, raw stores into guest RAM (descriptor tables, rings, indices),
 * descriptors, avail entries, console input, device config changes, and worker rounds.
 * After every round: nothing crashed (ASan/UBSan), every write_begin has its write_end,
 * and no guest byte changed outside a write_begin range. */
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "lib/log.h"
#include "tests/fuzz/fuzz_prog.h"
#include "tests/unit/virtio_driver.h"
#include "virtio/console.h"
#include "virtio/rng.h"

#define RAM_SIZE (32u * 1024)
#define NQ 2 /* queues the program may address (console has 2, rng 1) */

static struct fake_ram ram;
static int null_fd = -1;

static void run_round(struct virtio_dev *dev)
{
	fake_ram_snapshot(&ram);
	virtio_dev_poll(dev, 0);
	prog_audit(&ram);
}

/* The sequence Linux performs, with queue sizes and places from the input. */
static void op_bring_up(struct virtio_dev *dev, struct prog *pr, struct drv_vq *q)
{
	uint64_t next = FAKE_RAM_BASE;

	drv_negotiate(dev, (1ull << VIRTIO_F_VERSION_1) |
			       (prog_take(pr, 1) == 0xff ? prog_take(pr, 8) : 0));
	for (unsigned i = 0; i < NQ; i++) {
		uint16_t size = 1u << (prog_take(pr, 1) % 9);

		next = drv_vq_layout(&q[i], size, next);
		drv_vq_setup(dev, i, &q[i]);
	}
	drv_status_add(dev, VIRTIO_CONFIG_S_DRIVER_OK);
}

static void op_mmio(struct virtio_dev *dev, struct prog *pr, bool write)
{
	static const unsigned widths[] = {1, 2, 4, 8};
	uint64_t off = prog_take(pr, 2) % (VIRTIO_MMIO_SIZE + 8);
	unsigned len = widths[prog_take(pr, 1) % 4];
	uint8_t data[8];
	uint64_t v = prog_take(pr, 4);

	memcpy(data, &v, sizeof(data));
	if (off + len > VIRTIO_MMIO_SIZE + 8)
		return;
	virtio_mmio_access(dev, off, write, data, len);
}

static void op_desc(struct prog *pr, struct drv_vq *q)
{
	struct drv_vq *vq = &q[prog_take(pr, 1) % NQ];
	uint16_t i, flags, next;
	uint64_t addr;
	uint32_t len;

	if (!vq->size)
		return;
	i = prog_take(pr, 1) % vq->size;
	addr = prog_take_gpa(pr, RAM_SIZE, 2);
	len = prog_take(pr, 2);
	flags = prog_take(pr, 1) & 7;
	next = prog_take(pr, 1);
	drv_desc(&ram, vq, i, addr, len, flags, next);
}

static void op_avail(struct prog *pr, struct drv_vq *q)
{
	struct drv_vq *vq = &q[prog_take(pr, 1) % NQ];
	uint16_t head = prog_take(pr, 1);

	if (vq->size)
		drv_avail_add(&ram, vq, head);
}

static void op_input(struct prog *pr, int in_fd)
{
	uint8_t buf[64];
	unsigned n = prog_take(pr, 1) % sizeof(buf);

	for (unsigned i = 0; i < n; i++)
		buf[i] = prog_take(pr, 1);
	if (in_fd >= 0 && write(in_fd, buf, n) < 0)
		return; /* pipe full: the device is back-pressuring, fine */
}

static void op_config(struct virtio_dev *dev, struct prog *pr)
{
	uint32_t v = prog_take(pr, 4);

	virtio_config_update(dev, prog_take(pr, 1) % 16, &v, 1 + prog_take(pr, 1) % 4);
}

static void run_program(struct virtio_dev *dev, struct prog *pr, int in_fd)
{
	struct drv_vq q[NQ] = {0};

	while (pr->left) {
		switch (prog_take(pr, 1) % 10) {
		case 0: op_bring_up(dev, pr, q); break;
		case 1: op_mmio(dev, pr, true); break;
		case 2: op_mmio(dev, pr, false); break;
		case 3: op_desc(pr, q); break;
		case 4: op_avail(pr, q); break;
		case 5: prog_poke(&ram, pr, 2); break;
		case 6: op_input(pr, in_fd); break;
		case 7: op_config(dev, pr); break;
		case 8: drv_w32(dev, VIRTIO_MMIO_QUEUE_NOTIFY, prog_take(pr, 1) % (NQ + 1)); break;
		default: run_round(dev); break;
		}
	}
	run_round(dev);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct prog pr = {data, size};
	int in[2] = {-1, -1};
	struct virtio_dev *dev;

	if (!ram.mem) {
		log_level = -1;
		fake_ram_init(&ram, RAM_SIZE);
		null_fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
	}
	fake_ram_clear(&ram);
	if (prog_take(&pr, 1) & 1) {
		if (pipe2(in, O_NONBLOCK | O_CLOEXEC) < 0)
			return 0;
		dev = virtio_console_create(&ram.ops, null_fd, -1, in[0]);
	} else {
		dev = virtio_rng_create(&ram.ops);
	}
	if (dev)
		run_program(dev, &pr, in[1]);
	virtio_dev_destroy(dev);
	if (in[0] >= 0) {
		close(in[0]);
		close(in[1]);
	}
	return 0;
}

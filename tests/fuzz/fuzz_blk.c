/* fuzz_blk.c - libFuzzer target: a hostile driver against virtio-blk in each mode (rw on
 * a scratch image, readonly and snapshot on a pristine one). The input is a program:
 * bring-up, requests shaped roughly like Linux's (header, data segments, status) with
 * every field taken from the input, raw descriptors, avail entries, stores into guest
 * RAM, register accesses, worker rounds. Checked: no crash (ASan/UBSan), every
 * write_begin ended, no guest byte changed outside a write_begin range, and the pristine
 * image byte-identical after every readonly or snapshot run. */
#include <fcntl.h>
#include <linux/virtio_blk.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/page.h"
#include "tests/fuzz/fuzz_prog.h"
#include "tests/unit/virtio_driver.h"
#include "virtio/blk.h"

#define RAM_SIZE (64u * 1024) /* small: every round copies and compares all of it */
#define IMG_SIZE (64u * 1024)

static struct fake_ram ram;
/* tmpfs when there is one: FLUSH is fdatasync, and disk flushes would set the pace. */
static char dir[] = "/dev/shm/fuzz_blk.XXXXXX";
static char dir_tmp[] = "/tmp/fuzz_blk.XXXXXX";
static char pristine_path[64], scratch_path[64];
static uint8_t pristine[IMG_SIZE];

static void op_bring_up(struct virtio_dev *dev, struct prog *pr, struct drv_vq *q)
{
	uint64_t f;

	drv_w32(dev, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
	f = drv_r32(dev, VIRTIO_MMIO_DEVICE_FEATURES);
	drv_w32(dev, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
	f |= (uint64_t) drv_r32(dev, VIRTIO_MMIO_DEVICE_FEATURES) << 32;
	drv_negotiate(dev, prog_take(pr, 1) == 0xff ? prog_take(pr, 8) : f);
	drv_vq_layout(q, 1u << (prog_take(pr, 1) % 9), FAKE_RAM_BASE);
	drv_vq_setup(dev, 0, q);
	drv_status_add(dev, VIRTIO_CONFIG_S_DRIVER_OK);
}

/* A request in descriptors 0..: header, data segments, status, each field from the
 * input (type, sector, lengths, directions, the status descriptor's presence). */
static void op_request(struct prog *pr, struct drv_vq *q)
{
	static const uint32_t types[] = {VIRTIO_BLK_T_IN, VIRTIO_BLK_T_OUT, VIRTIO_BLK_T_FLUSH,
					 VIRTIO_BLK_T_GET_ID};
	uint8_t shape = prog_take(pr, 1), nseg = prog_take(pr, 1) % 8;
	uint64_t hdr = FAKE_RAM_BASE + 0x1000, data = FAKE_RAM_BASE + 0x2000;
	uint32_t type = shape & 0x80 ? (uint32_t) prog_take(pr, 4) : types[shape & 3];
	uint16_t i = 0, wr = type == VIRTIO_BLK_T_OUT ? 0 : VRING_DESC_F_WRITE;
	uint64_t sector = shape & 0x40 ? prog_take(pr, 8) : prog_take(pr, 1);

	if (!q->size || nseg + 2u > q->size)
		return;
	memcpy(fake_at(&ram, hdr), &type, 4);
	memcpy(fake_at(&ram, hdr + 8), &sector, 8);
	drv_desc(&ram, q, i, hdr, shape & 0x20 ? prog_take(pr, 1) : 16, VRING_DESC_F_NEXT, 1);
	for (i = 1; i <= nseg; i++) {
		uint32_t len = shape & 0x10 ? prog_take(pr, 3) : 512u * (1 + prog_take(pr, 1) % 16);

		drv_desc(&ram, q, i, data, len % (RAM_SIZE / 2), (wr ^ (prog_take(pr, 1) & 2)) | 1,
			 i + 1);
		data += 0x1000; /* buffers may overlap: the guest's business */
	}
	drv_desc(&ram, q, i, FAKE_RAM_BASE + 0x1100, shape & 0x08 ? 0 : 1,
		 shape & 0x04 ? 0 : VRING_DESC_F_WRITE, 0);
	drv_avail_add(&ram, q, 0);
}

static void op_desc(struct prog *pr, struct drv_vq *q)
{
	if (!q->size)
		return;
	drv_desc(&ram, q, prog_take(pr, 1) % q->size, prog_take_gpa(pr, RAM_SIZE, 3),
		 prog_take(pr, 3), prog_take(pr, 1) & 7, prog_take(pr, 1));
}

static void run_program(struct virtio_dev *dev, struct prog *pr)
{
	struct drv_vq q = {0};

	op_bring_up(dev, pr, &q);
	while (pr->left) {
		switch (prog_take(pr, 1) % 8) {
		case 0: op_bring_up(dev, pr, &q); break;
		case 1:
		case 2: op_request(pr, &q); break;
		case 3: op_desc(pr, &q); break;
		case 4:
			if (q.size)
				drv_avail_add(&ram, &q, prog_take(pr, 1));
			break;
		case 5: prog_poke(&ram, pr, 3); break;
		case 6: prog_mmio(dev, pr); break;
		default: prog_run_round(&ram, dev); break;
		}
	}
	prog_run_round(&ram, dev);
}

static void image_write(const char *path, const uint8_t *buf)
{
	int fd = open(path, O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0600);

	if (fd < 0 || write(fd, buf, IMG_SIZE) != IMG_SIZE)
		abort();
	close(fd);
}

static void pristine_check(void)
{
	uint8_t buf[IMG_SIZE];
	int fd = open(pristine_path, O_RDONLY | O_CLOEXEC);

	if (fd < 0 || pread(fd, buf, IMG_SIZE, 0) != IMG_SIZE || memcmp(buf, pristine, IMG_SIZE))
		abort();
	close(fd);
}

static void cleanup(void)
{
	unlink(pristine_path);
	unlink(scratch_path);
	rmdir(dir);
}

static void setup(void)
{
	log_level = -1;
	fake_ram_init(&ram, RAM_SIZE);
	if (!mkdtemp(dir)) {
		if (!mkdtemp(dir_tmp))
			abort();
		memcpy(dir, dir_tmp, sizeof(dir_tmp));
	}
	snprintf(pristine_path, sizeof(pristine_path), "%s/pristine.img", dir);
	snprintf(scratch_path, sizeof(scratch_path), "%s/scratch.img", dir);
	for (unsigned i = 0; i < IMG_SIZE; i++)
		pristine[i] = (uint8_t) (i * 13 + i / 512);
	image_write(pristine_path, pristine);
	image_write(scratch_path, pristine);
	setenv("TMPDIR", dir, 1); /* snapshot overlays: unlinked, so dir stays clean */
	atexit(cleanup);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct prog pr = {data, size};
	enum virtio_blk_mode mode = prog_take(&pr, 1) % 3;
	struct virtio_dev *dev;

	if (!ram.mem)
		setup();
	fake_ram_clear(&ram);
	dev = virtio_blk_create(&ram.ops, mode == VIRTIO_BLK_RW ? scratch_path : pristine_path,
				mode, "fuzz", NULL, 0);
	if (!dev)
		abort(); /* the images exist: creation must work */
	run_program(dev, &pr);
	virtio_dev_destroy(dev);
	if (mode != VIRTIO_BLK_RW)
		pristine_check();
	return 0;
}

/* test_virtio_blk.c - virtio-blk on fake guest RAM, driven through its mmio registers the
 * way Linux's virtio_blk does (header, data, status descriptors): data checked in guest
 * memory and in the image file; readonly, snapshot (two devices over one image, partial
 * clusters), errors to the guest (IOERR, UNSUPP) and guest errors (NEEDS_RESET). */
#include "virtio/blk.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/virtio_blk.h>
#include <stdio.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "lib/log.h"
#include "tests/unit/check.h"
#include "tests/unit/virtio_driver.h"

#define V1 (1ull << VIRTIO_F_VERSION_1)
#define RAM_SIZE (8u << 20)
#define HDR (FAKE_RAM_BASE + 0x10000)	 /* request header */
#define STATUS (FAKE_RAM_BASE + 0x10100) /* status byte */
#define DATA (FAKE_RAM_BASE + 0x100000)	 /* data buffers */
#define IMG_SIZE (1u << 20)		 /* 2048 sectors */
#define W VRING_DESC_F_WRITE
#define N VRING_DESC_F_NEXT

static struct fake_ram ram;
static char tmp[] = "/tmp/test_virtio_blk.XXXXXX";
static char img[256];

struct disk {
	struct virtio_dev *dev;
	struct drv_vq q;
	uint32_t used_len; /* of the last request */
};

static uint8_t pat(uint64_t i)
{
	return (uint8_t) (i * 7 + i / 512 + 1);
}

static void image_make(void)
{
	uint8_t *buf = malloc(IMG_SIZE);
	int fd = open(img, O_CREAT | O_TRUNC | O_WRONLY, 0600);

	for (uint64_t i = 0; i < IMG_SIZE; i++)
		buf[i] = pat(i);
	CHECK_EQ(write(fd, buf, IMG_SIZE), IMG_SIZE);
	close(fd);
	free(buf);
}

/* @len bytes of the image file at @off equal to @want? */
static bool image_has(uint64_t off, const uint8_t *want, size_t len)
{
	uint8_t *buf = malloc(len);
	int fd = open(img, O_RDONLY);
	bool ok = pread(fd, buf, len, off) == (ssize_t) len && !memcmp(buf, want, len);

	close(fd);
	free(buf);
	return ok;
}

static bool image_pristine(void)
{
	uint8_t *want = malloc(IMG_SIZE);
	bool ok;

	for (uint64_t i = 0; i < IMG_SIZE; i++)
		want[i] = pat(i);
	ok = image_has(0, want, IMG_SIZE);
	free(want);
	return ok;
}

static uint64_t dev_features(struct virtio_dev *dev)
{
	uint64_t f;

	drv_w32(dev, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
	f = drv_r32(dev, VIRTIO_MMIO_DEVICE_FEATURES);
	drv_w32(dev, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
	return f | (uint64_t) drv_r32(dev, VIRTIO_MMIO_DEVICE_FEATURES) << 32;
}

/* Linux's bring-up: accept every offered feature, one queue of QueueNumMax, DRIVER_OK. */
static void disk_up(struct disk *d)
{
	uint16_t max;

	CHECK(drv_negotiate(d->dev, dev_features(d->dev)));
	drv_w32(d->dev, VIRTIO_MMIO_QUEUE_SEL, 0);
	max = drv_r32(d->dev, VIRTIO_MMIO_QUEUE_NUM_MAX);
	CHECK_EQ(max, VIRTIO_BLK_QUEUE_SIZE);
	/* Fresh zeroed rings, as a driver allocates them. */
	memset(fake_at(&ram, FAKE_RAM_BASE), 0,
	       drv_vq_layout(&d->q, max, FAKE_RAM_BASE) - FAKE_RAM_BASE);
	drv_vq_setup(d->dev, 0, &d->q);
	drv_status_add(d->dev, VIRTIO_CONFIG_S_DRIVER_OK);
}

static bool disk_open(struct disk *d, enum virtio_blk_mode mode, const char *serial)
{
	char err[256] = "";

	memset(d, 0, sizeof(*d));
	d->dev = virtio_blk_create(&ram.ops, img, mode, serial, err, sizeof(err));
	if (!d->dev)
		return false;
	disk_up(d);
	return true;
}

/* Run the device on chain 0 and return the status byte, or -1 without a used entry. */
static int disk_run(struct disk *d)
{
	uint32_t id;

	*(uint8_t *) fake_at(&ram, STATUS) = 0xee;
	drv_avail_add(&ram, &d->q, 0);
	fake_ram_snapshot(&ram);
	virtio_dev_kick(d->dev, 0);
	virtio_dev_poll(d->dev, 0);
	CHECK_EQ(fake_ram_unguarded(&ram), 0);
	CHECK_EQ(ram.open, 0);
	CHECK_EQ(ram.bad_ends, 0);
	if (!drv_used_get(&ram, &d->q, &id, &d->used_len))
		return -1;
	CHECK_EQ(id, 0);
	return *(uint8_t *) fake_at(&ram, STATUS);
}

static void hdr_set(uint32_t type, uint64_t sector)
{
	struct virtio_blk_outhdr *h = fake_at(&ram, HDR);

	h->type = type;
	h->ioprio = 0;
	h->sector = sector;
}

/* Linux's layout: header, @nseg equal data segments at DATA (@len bytes in all, writable
 * for IN / GET_ID), status. */
static int disk_req(struct disk *d, uint32_t type, uint64_t sector, uint32_t len, unsigned nseg)
{
	uint16_t dflags = type == VIRTIO_BLK_T_OUT ? 0 : W;
	uint16_t i = 0;

	hdr_set(type, sector);
	drv_desc(&ram, &d->q, i, HDR, 16, N, i + 1);
	for (i = 1; len && i <= nseg; i++)
		drv_desc(&ram, &d->q, i, DATA + (uint64_t) (i - 1) * (len / nseg), len / nseg,
			 dflags | N, i + 1);
	drv_desc(&ram, &d->q, i, STATUS, 1, W, 0);
	return disk_run(d);
}

static uint8_t *data(void)
{
	return fake_at(&ram, DATA);
}

static bool data_is_image(uint64_t off, uint32_t len)
{
	for (uint32_t i = 0; i < len; i++)
		if (data()[i] != pat(off + i))
			return false;
	return true;
}

static void test_config(void)
{
	struct disk d;
	struct virtio_blk_config cfg;
	uint64_t f;

	CHECK(disk_open(&d, VIRTIO_BLK_RW, "serial-1"));
	f = dev_features(d.dev);
	CHECK(f & (1ull << VIRTIO_BLK_F_FLUSH));
	CHECK(f & (1ull << VIRTIO_BLK_F_SEG_MAX));
	CHECK(f & (1ull << VIRTIO_BLK_F_SIZE_MAX));
	CHECK(!(f & (1ull << VIRTIO_BLK_F_RO)));
	CHECK(f & V1);
	virtio_mmio_access(d.dev, VIRTIO_MMIO_CONFIG, false, (uint8_t *) &cfg, sizeof(cfg));
	CHECK_EQ(cfg.capacity, IMG_SIZE / 512);
	CHECK_EQ(cfg.seg_max, VIRTIO_BLK_SEG_MAX);
	CHECK_EQ(cfg.size_max, VIRTIO_BLK_SIZE_MAX);
	CHECK_EQ(cfg.blk_size, 512);
	CHECK(VIRTIO_BLK_REQ_MAX >= (uint64_t) VIRTIO_BLK_SEG_MAX * VIRTIO_BLK_SIZE_MAX);
	virtio_dev_destroy(d.dev);
}

static void test_rw(void)
{
	struct virtio_blk_stats st;
	struct disk d;

	image_make();
	CHECK(disk_open(&d, VIRTIO_BLK_RW, "serial-1"));
	/* IN: 8 KiB from sector 8 in two segments. */
	memset(data(), 0, 8192);
	CHECK_EQ(disk_req(&d, VIRTIO_BLK_T_IN, 8, 8192, 2), VIRTIO_BLK_S_OK);
	CHECK(data_is_image(8 * 512, 8192));
	CHECK_EQ(d.used_len, 8193);
	/* OUT: 4 KiB at sector 100, then read back. */
	memset(data(), 0xab, 4096);
	CHECK_EQ(disk_req(&d, VIRTIO_BLK_T_OUT, 100, 4096, 4), VIRTIO_BLK_S_OK);
	CHECK(image_has(100 * 512, data(), 4096));
	memset(data(), 0, 4096);
	CHECK_EQ(disk_req(&d, VIRTIO_BLK_T_IN, 100, 4096, 1), VIRTIO_BLK_S_OK);
	CHECK_EQ(data()[0], 0xab);
	CHECK_EQ(data()[4095], 0xab);
	CHECK_EQ(disk_req(&d, VIRTIO_BLK_T_FLUSH, 0, 0, 0), VIRTIO_BLK_S_OK);
	/* GET_ID: the serial, zero-padded to 20 bytes. */
	memset(data(), 0xff, 20);
	CHECK_EQ(disk_req(&d, VIRTIO_BLK_T_GET_ID, 0, 20, 1), VIRTIO_BLK_S_OK);
	CHECK(!memcmp(data(), "serial-1\0\0\0\0\0\0\0\0\0\0\0\0", 20));
	/* Unknown type, ranges past capacity. */
	CHECK_EQ(disk_req(&d, 99, 0, 0, 0), VIRTIO_BLK_S_UNSUPP);
	CHECK_EQ(disk_req(&d, VIRTIO_BLK_T_IN, 2047, 1024, 1), VIRTIO_BLK_S_IOERR);
	CHECK_EQ(disk_req(&d, VIRTIO_BLK_T_OUT, 2048, 512, 1), VIRTIO_BLK_S_IOERR);
	CHECK_EQ(disk_req(&d, VIRTIO_BLK_T_IN, ~0ull, 512, 1), VIRTIO_BLK_S_IOERR);
	CHECK_EQ(disk_req(&d, VIRTIO_BLK_T_IN, 2047, 512, 1), VIRTIO_BLK_S_OK); /* the last */
	CHECK(data_is_image(2047 * 512, 512));
	CHECK(!(virtio_dev_status(d.dev) & VIRTIO_CONFIG_S_NEEDS_RESET));
	virtio_blk_stats(d.dev, &st);
	CHECK_EQ(st.capacity, 2048);
	CHECK_EQ(st.reads, 3);
	CHECK_EQ(st.writes, 1);
	CHECK_EQ(st.flushes, 1);
	CHECK_EQ(st.get_ids, 1);
	CHECK_EQ(st.bytes_read, 8192 + 4096 + 512);
	CHECK_EQ(st.bytes_written, 4096);
	CHECK_EQ(st.errors, 3);
	CHECK_EQ(st.unsupported, 1);
	virtio_dev_destroy(d.dev);
}

/* One rw disk per image: a second one, or a snapshot beside it, is refused. */
static void test_locking(void)
{
	char err[256] = "";
	struct disk a, b;

	image_make();
	CHECK(disk_open(&a, VIRTIO_BLK_RW, NULL));
	CHECK(!virtio_blk_create(&ram.ops, img, VIRTIO_BLK_RW, NULL, err, sizeof(err)));
	CHECK(strstr(err, "in use") != NULL);
	CHECK(!virtio_blk_create(&ram.ops, img, VIRTIO_BLK_SNAPSHOT, NULL, err, sizeof(err)));
	virtio_dev_destroy(a.dev);
	CHECK(disk_open(&a, VIRTIO_BLK_READONLY, NULL));
	CHECK(disk_open(&b, VIRTIO_BLK_SNAPSHOT, NULL));
	CHECK(!virtio_blk_create(&ram.ops, img, VIRTIO_BLK_RW, NULL, err, sizeof(err)));
	virtio_dev_destroy(a.dev);
	virtio_dev_destroy(b.dev);
}

static void test_readonly(void)
{
	struct virtio_blk_stats st;
	struct disk d;

	image_make();
	CHECK(disk_open(&d, VIRTIO_BLK_READONLY, NULL));
	CHECK(dev_features(d.dev) & (1ull << VIRTIO_BLK_F_RO));
	CHECK(virtio_dev_features(d.dev) & (1ull << VIRTIO_BLK_F_RO));
	memset(data(), 0x5a, 1024);
	CHECK_EQ(disk_req(&d, VIRTIO_BLK_T_OUT, 0, 1024, 1), VIRTIO_BLK_S_IOERR);
	CHECK_EQ(disk_req(&d, VIRTIO_BLK_T_IN, 0, 1024, 1), VIRTIO_BLK_S_OK);
	CHECK(data_is_image(0, 1024));
	CHECK_EQ(disk_req(&d, VIRTIO_BLK_T_FLUSH, 0, 0, 0), VIRTIO_BLK_S_OK);
	/* GET_ID without a serial: zeros. */
	memset(data(), 0xff, 20);
	CHECK_EQ(disk_req(&d, VIRTIO_BLK_T_GET_ID, 0, 20, 1), VIRTIO_BLK_S_OK);
	CHECK_EQ(data()[0], 0);
	CHECK_EQ(data()[19], 0);
	virtio_blk_stats(d.dev, &st);
	CHECK_EQ(st.errors, 1);
	CHECK_EQ(st.writes, 0);
	virtio_dev_destroy(d.dev);
	CHECK(image_pristine());
}

static unsigned dir_entries(const char *path)
{
	DIR *dir = opendir(path);
	unsigned n = 0;

	for (struct dirent *e; dir && (e = readdir(dir));)
		n += e->d_name[0] != '.';
	if (dir)
		closedir(dir);
	return n;
}

/* Two snapshot disks over one image: each sees its own writes, the image stays as it was,
 * partial-cluster writes keep the rest of the cluster, and no overlay file is visible. */
static void test_snapshot(void)
{
	char ovl[300];
	struct virtio_blk_stats st;
	struct disk a, b;

	image_make();
	snprintf(ovl, sizeof(ovl), "%s/overlays", tmp);
	mkdir(ovl, 0700);
	setenv("TMPDIR", ovl, 1);
	CHECK(disk_open(&a, VIRTIO_BLK_SNAPSHOT, NULL));
	CHECK(disk_open(&b, VIRTIO_BLK_SNAPSHOT, NULL));
	CHECK_EQ(dir_entries(ovl), 0);
	CHECK(!(dev_features(a.dev) & (1ull << VIRTIO_BLK_F_RO)));

	memset(data(), 0x11, 512); /* a: sector 1, inside cluster 0 */
	CHECK_EQ(disk_req(&a, VIRTIO_BLK_T_OUT, 1, 512, 1), VIRTIO_BLK_S_OK);
	memset(data(), 0x22, 1024); /* b: sectors 7-8, across clusters 0 and 1 */
	CHECK_EQ(disk_req(&b, VIRTIO_BLK_T_OUT, 7, 1024, 2), VIRTIO_BLK_S_OK);
	memset(data(), 0x33, 8192); /* b: clusters 4 and 5 whole */
	CHECK_EQ(disk_req(&b, VIRTIO_BLK_T_OUT, 32, 8192, 2), VIRTIO_BLK_S_OK);

	CHECK_EQ(disk_req(&a, VIRTIO_BLK_T_IN, 0, 8192, 1), VIRTIO_BLK_S_OK);
	for (unsigned i = 0; i < 8192; i++)
		if (data()[i] != (i / 512 == 1 ? 0x11 : pat(i))) {
			CHECK_EQ(i, ~0u); /* first wrong byte */
			break;
		}
	CHECK_EQ(disk_req(&b, VIRTIO_BLK_T_IN, 0, 16384, 4), VIRTIO_BLK_S_OK);
	for (unsigned i = 0; i < 16384; i++) {
		unsigned s = i / 512;
		uint8_t want = s == 7 || s == 8 ? 0x22 : pat(i);

		if (data()[i] != want) {
			CHECK_EQ(i, ~0u);
			break;
		}
	}
	CHECK_EQ(disk_req(&b, VIRTIO_BLK_T_IN, 30, 8192 + 2048, 1), VIRTIO_BLK_S_OK);
	CHECK(data_is_image(30 * 512, 1024));
	CHECK_EQ(data()[1024], 0x33);
	CHECK_EQ(data()[1024 + 8191], 0x33);
	CHECK_EQ(data()[1024 + 8192], pat(48 * 512));
	CHECK_EQ(disk_req(&a, VIRTIO_BLK_T_IN, 32, 512, 1), VIRTIO_BLK_S_OK);
	CHECK(data_is_image(32 * 512, 512)); /* a does not see b's writes */
	CHECK_EQ(disk_req(&a, VIRTIO_BLK_T_FLUSH, 0, 0, 0), VIRTIO_BLK_S_OK);

	virtio_blk_stats(a.dev, &st);
	CHECK_EQ(st.overlay_clusters, 1);
	virtio_blk_stats(b.dev, &st);
	CHECK_EQ(st.overlay_clusters, 4);
	CHECK(image_pristine());
	virtio_dev_destroy(a.dev);
	virtio_dev_destroy(b.dev);
	CHECK(image_pristine());
	CHECK_EQ(dir_entries(ovl), 0);
	rmdir(ovl);
	unsetenv("TMPDIR");
}

static bool needs_reset(struct disk *d)
{
	return (virtio_dev_status(d->dev) & VIRTIO_CONFIG_S_NEEDS_RESET) &&
	       (drv_r32(d->dev, VIRTIO_MMIO_INTERRUPT_STATUS) & VIRTIO_MMIO_INT_CONFIG);
}

/* After a guest error: the device ignores the queue until reset, then works again. */
static void recover(struct disk *d)
{
	CHECK(needs_reset(d));
	CHECK_EQ(disk_req(d, VIRTIO_BLK_T_IN, 0, 512, 1), -1);
	drv_w32(d->dev, VIRTIO_MMIO_INTERRUPT_ACK, VIRTIO_MMIO_INT_CONFIG);
	disk_up(d);
	CHECK(!needs_reset(d));
	CHECK_EQ(disk_req(d, VIRTIO_BLK_T_IN, 0, 512, 1), VIRTIO_BLK_S_OK);
	CHECK(data_is_image(0, 512));
}

static void test_guest_errors(void)
{
	struct disk d;

	image_make();
	CHECK(disk_open(&d, VIRTIO_BLK_RW, NULL));

	/* No status byte: header and data, all readable. */
	hdr_set(VIRTIO_BLK_T_OUT, 0);
	drv_desc(&ram, &d.q, 0, HDR, 16, N, 1);
	drv_desc(&ram, &d.q, 1, DATA, 512, 0, 0);
	CHECK_EQ(disk_run(&d), -1);
	recover(&d);
	/* The header writable. */
	drv_desc(&ram, &d.q, 0, HDR, 16, W | N, 1);
	drv_desc(&ram, &d.q, 1, STATUS, 1, W, 0);
	CHECK_EQ(disk_run(&d), -1);
	recover(&d);
	/* A header shorter than 16 bytes. */
	drv_desc(&ram, &d.q, 0, HDR, 8, N, 1);
	drv_desc(&ram, &d.q, 1, STATUS, 1, W, 0);
	CHECK_EQ(disk_run(&d), -1);
	recover(&d);
	/* OUT with writable data, IN with readable data, FLUSH with data. */
	memset(data(), 0x77, 512);
	CHECK_EQ(disk_req(&d, VIRTIO_BLK_T_OUT, 1, 512, 1), VIRTIO_BLK_S_OK);
	hdr_set(VIRTIO_BLK_T_OUT, 0);
	drv_desc(&ram, &d.q, 1, DATA, 512, W | N, 2);
	CHECK_EQ(disk_run(&d), -1);
	recover(&d);
	hdr_set(VIRTIO_BLK_T_IN, 0);
	drv_desc(&ram, &d.q, 0, HDR, 16, N, 1);
	drv_desc(&ram, &d.q, 1, DATA, 512, N, 2);
	drv_desc(&ram, &d.q, 2, STATUS, 1, W, 0);
	CHECK_EQ(disk_run(&d), -1);
	recover(&d);
	CHECK_EQ(disk_req(&d, VIRTIO_BLK_T_FLUSH, 0, 512, 1), -1);
	recover(&d);
	/* Data not in whole sectors. */
	CHECK_EQ(disk_req(&d, VIRTIO_BLK_T_IN, 0, 100, 1), -1);
	recover(&d);
	/* Oversized: a segment above SIZE_MAX. */
	CHECK_EQ(disk_req(&d, VIRTIO_BLK_T_IN, 0, 2 * VIRTIO_BLK_SIZE_MAX, 1), -1);
	recover(&d);
	CHECK_EQ(disk_req(&d, VIRTIO_BLK_T_OUT, 0, 2 * VIRTIO_BLK_SIZE_MAX, 1), -1);
	recover(&d);
	CHECK_EQ(disk_req(&d, VIRTIO_BLK_T_IN, 0, 2 * VIRTIO_BLK_SIZE_MAX, 2), VIRTIO_BLK_S_OK);
	/* Oversized: SEG_MAX + 1 data segments (the status shares the last one, so the
	 * chain still fits the queue). */
	hdr_set(VIRTIO_BLK_T_IN, 0);
	drv_desc(&ram, &d.q, 0, HDR, 16, N, 1);
	for (uint16_t i = 1; i <= VIRTIO_BLK_SEG_MAX + 1; i++)
		drv_desc(&ram, &d.q, i, DATA + 1024ull * i, i == VIRTIO_BLK_SEG_MAX + 1 ? 513 : 512,
			 W | (i == VIRTIO_BLK_SEG_MAX + 1 ? 0 : N), i + 1);
	CHECK_EQ(disk_run(&d), -1);
	recover(&d);
	/* The same with SEG_MAX segments is fine. */
	for (uint16_t i = 1; i <= VIRTIO_BLK_SEG_MAX; i++)
		drv_desc(&ram, &d.q, i, DATA + 1024ull * i, i == VIRTIO_BLK_SEG_MAX ? 513 : 512,
			 W | (i == VIRTIO_BLK_SEG_MAX ? 0 : N), i + 1);
	CHECK_EQ(disk_run(&d), 0xee); /* STATUS untouched: the status byte is... */
	CHECK_EQ(*(uint8_t *) fake_at(&ram, DATA + 1024ull * VIRTIO_BLK_SEG_MAX + 512),
		 VIRTIO_BLK_S_OK); /* ...the last byte of the last buffer */
	CHECK_EQ(d.used_len, VIRTIO_BLK_SEG_MAX * 512 + 1);
	CHECK(!memcmp(fake_at(&ram, DATA + 1024), (uint8_t[]){pat(0), pat(1), pat(2)}, 3));
	/* A data buffer outside guest RAM. */
	hdr_set(VIRTIO_BLK_T_IN, 0);
	drv_desc(&ram, &d.q, 1, FAKE_RAM_BASE + RAM_SIZE - 256, 512, W | N, 2);
	drv_desc(&ram, &d.q, 2, STATUS, 1, W, 0);
	CHECK_EQ(disk_run(&d), -1);
	recover(&d);
	virtio_dev_destroy(d.dev);
	CHECK(image_has(512, (uint8_t[]){0x77, 0x77}, 2)); /* the one OUT above */
	CHECK(image_has(1024, (uint8_t[]){pat(1024)}, 1));
}

/* With the worker thread: a QueueNotify write on "the vCPU" gets its answer. */
static void test_worker(void)
{
	struct timespec ts = {0, 1000000};
	struct disk d;
	uint32_t id = 0, len = 0;
	bool done = false;

	image_make();
	CHECK(disk_open(&d, VIRTIO_BLK_RW, NULL));
	CHECK_EQ(virtio_dev_start(d.dev), 0);
	hdr_set(VIRTIO_BLK_T_IN, 16);
	drv_desc(&ram, &d.q, 0, HDR, 16, N, 1);
	drv_desc(&ram, &d.q, 1, DATA, 4096, W | N, 2);
	drv_desc(&ram, &d.q, 2, STATUS, 1, W, 0);
	memset(data(), 0, 4096);
	drv_avail_add(&ram, &d.q, 0);
	drv_w32(d.dev, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	for (int i = 0; i < 2000 && !done; i++) {
		done = drv_used_get(&ram, &d.q, &id, &len);
		if (!done)
			nanosleep(&ts, NULL);
	}
	CHECK(done);
	CHECK_EQ(len, 4097);
	CHECK(data_is_image(16 * 512, 4096));
	CHECK(drv_r32(d.dev, VIRTIO_MMIO_INTERRUPT_STATUS) & VIRTIO_MMIO_INT_VRING);
	virtio_dev_destroy(d.dev);
}

static void test_create_errors(void)
{
	char err[256] = "", path[300];
	enum virtio_blk_mode m;
	int fd;

	CHECK(!virtio_blk_create(&ram.ops, "/nonexistent/disk.img", VIRTIO_BLK_RW, NULL, err,
				 sizeof(err)));
	CHECK(strstr(err, "/nonexistent/disk.img") != NULL);
	image_make();
	CHECK(!virtio_blk_create(&ram.ops, img, VIRTIO_BLK_RW, "123456789012345678901", err,
				 sizeof(err)));
	snprintf(path, sizeof(path), "%s/small.img", tmp);
	fd = open(path, O_CREAT | O_WRONLY, 0600);
	CHECK_EQ(write(fd, "abc", 3), 3);
	close(fd);
	CHECK(!virtio_blk_create(&ram.ops, path, VIRTIO_BLK_READONLY, NULL, err, sizeof(err)));
	CHECK(strstr(err, "smaller than one sector") != NULL);
	unlink(path);
	setenv("TMPDIR", "/nonexistent", 1);
	CHECK(!virtio_blk_create(&ram.ops, img, VIRTIO_BLK_SNAPSHOT, NULL, err, sizeof(err)));
	CHECK(strstr(err, "overlay") != NULL);
	unsetenv("TMPDIR");
	CHECK_EQ(virtio_blk_mode_parse("rw", &m), 0);
	CHECK_EQ(m, VIRTIO_BLK_RW);
	CHECK_EQ(virtio_blk_mode_parse("readonly", &m), 0);
	CHECK_EQ(m, VIRTIO_BLK_READONLY);
	CHECK_EQ(virtio_blk_mode_parse("snapshot", &m), 0);
	CHECK_EQ(m, VIRTIO_BLK_SNAPSHOT);
	CHECK_EQ(virtio_blk_mode_parse("ro", &m), -EINVAL);
}

int main(void)
{
	log_level = getenv("V") ? 3 : 0;
	if (!mkdtemp(tmp)) {
		perror("mkdtemp");
		return 1;
	}
	snprintf(img, sizeof(img), "%s/disk.img", tmp);
	fake_ram_init(&ram, RAM_SIZE);
	image_make();
	test_config();
	test_rw();
	test_locking();
	test_readonly();
	test_snapshot();
	test_guest_errors();
	test_worker();
	test_create_errors();
	fake_ram_free(&ram);
	unlink(img);
	rmdir(tmp);
	return check_done("test_virtio_blk");
}

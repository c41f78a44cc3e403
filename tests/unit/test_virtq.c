/* test_virtq.c - split virtqueues on fake guest RAM: chains, copies, used ring, index
 * wrap, interrupt suppression; and hostile rings through a real device (rng): each must
 * end in DEVICE_NEEDS_RESET with the process alive, and a reset must bring it back. */
#include "virtio/virtq.h"

#include <errno.h>
#include <stdio.h>

#include "lib/log.h"
#include "tests/unit/check.h"
#include "tests/unit/virtio_driver.h"
#include "virtio/rng.h"

#define V1 (1ull << VIRTIO_F_VERSION_1)
#define RAM_SIZE (1u << 20)
#define BUF (FAKE_RAM_BASE + 0x80000)
#define W VRING_DESC_F_WRITE
#define N VRING_DESC_F_NEXT

static struct fake_ram ram;

/* A bare queue of @size over fake RAM, the driver side in @q. */
static int vq_open(struct virtq *vq, struct drv_vq *q, uint16_t size, uint16_t max)
{
	fake_ram_clear(&ram);
	drv_vq_layout(q, size, FAKE_RAM_BASE);
	virtq_reset(vq);
	vq->size = size;
	vq->desc_gpa = q->desc;
	vq->avail_gpa = q->avail;
	vq->used_gpa = q->used;
	return virtq_enable(vq, &ram.ops, max);
}

static void test_enable(void)
{
	struct virtq vq;
	struct drv_vq q;

	CHECK_EQ(vq_open(&vq, &q, 16, 256), 0);
	CHECK(vq.ready);
	CHECK_EQ(vq_open(&vq, &q, 12, 256), -EINVAL); /* not a power of two */
	CHECK(!vq.ready);
	CHECK_EQ(vq_open(&vq, &q, 512, 256), -EINVAL); /* above QueueNumMax */
	CHECK_EQ(vq_open(&vq, &q, 0, 256), -EINVAL);
	vq_open(&vq, &q, 16, 256);
	vq.ready = false;
	vq.desc_gpa = FAKE_RAM_BASE + 8; /* misaligned descriptor table */
	CHECK_EQ(virtq_enable(&vq, &ram.ops, 256), -EINVAL);
	vq.desc_gpa = FAKE_RAM_BASE + RAM_SIZE - 16 * 8; /* table runs past RAM */
	CHECK_EQ(virtq_enable(&vq, &ram.ops, 256), -EFAULT);
	vq.desc_gpa = 0;
	CHECK_EQ(virtq_enable(&vq, &ram.ops, 256), -EFAULT);
	CHECK(!vq.ready);
	struct virtq_chain c;
	CHECK_EQ(virtq_pop(&vq, &c), 0); /* a disabled queue pops nothing */
}

static void test_chain(void)
{
	static struct virtq_chain c;
	uint8_t out[32], pattern[40];
	struct virtq vq;
	struct drv_vq q;

	vq_open(&vq, &q, 8, 256);
	CHECK_EQ(virtq_pop(&vq, &c), 0);
	memcpy(fake_at(&ram, BUF), "0123456789", 10);
	memcpy(fake_at(&ram, BUF + 0x100), "abcdef", 6);
	drv_desc(&ram, &q, 5, BUF, 10, N, 2);
	drv_desc(&ram, &q, 2, BUF + 0x100, 6, N, 7);
	drv_desc(&ram, &q, 7, BUF + 0x200, 16, W | N, 0);
	drv_desc(&ram, &q, 0, BUF + 0x300, 24, W, 0);
	drv_avail_add(&ram, &q, 5);
	CHECK_EQ(virtq_pop(&vq, &c), 1);
	CHECK_EQ(c.head, 5);
	CHECK_EQ(c.nr_out, 2);
	CHECK_EQ(c.nr_in, 2);
	CHECK_EQ(c.out_len, 16);
	CHECK_EQ(c.in_len, 40);
	CHECK_EQ(c.buf[2].gpa, BUF + 0x200);
	CHECK_EQ(virtq_chain_read(&vq, &c, 8, out, sizeof(out)), 8); /* across both buffers */
	CHECK(!memcmp(out, "89abcdef", 8));
	for (unsigned i = 0; i < sizeof(pattern); i++)
		pattern[i] = 0xa0 + i;
	fake_ram_snapshot(&ram);
	CHECK_EQ(virtq_chain_write(&vq, &c, 10, pattern, sizeof(pattern)), 30);
	CHECK(!memcmp(fake_at(&ram, BUF + 0x200 + 10), pattern, 6));
	CHECK(!memcmp(fake_at(&ram, BUF + 0x300), pattern + 6, 24));
	CHECK_EQ(*(uint8_t *) fake_at(&ram, BUF + 0x200 + 9), 0); /* before @off untouched */
	CHECK_EQ(virtq_push(&vq, c.head, 40), 0);
	CHECK_EQ(fake_ram_unguarded(&ram), 0);
	CHECK_EQ(ram.begins, ram.ends);
	CHECK_EQ(ram.bad_ends, 0);
	uint32_t id = 0, len = 0;
	CHECK(drv_used_get(&ram, &q, &id, &len));
	CHECK_EQ(id, 5);
	CHECK_EQ(len, 40);
	CHECK_EQ(virtq_pop(&vq, &c), 0);
	/* A chain exactly as long as the queue is fine. */
	for (uint16_t i = 0; i < 8; i++)
		drv_desc(&ram, &q, i, BUF, 1, W | (i < 7 ? N : 0), i + 1);
	drv_avail_add(&ram, &q, 0);
	CHECK_EQ(virtq_pop(&vq, &c), 1);
	CHECK_EQ(c.nr_in, 8);
}

/* Indices are free-running 16-bit counters: they wrap past 65535. */
static void test_wrap(void)
{
	static struct virtq_chain c;
	struct virtq vq;
	struct drv_vq q;
	uint32_t id = 0, len = 0;

	vq_open(&vq, &q, 4, 256);
	vq.last_avail = vq.used_idx = vq.signalled = 65534;
	q.avail_idx = q.used_seen = 65534;
	((struct vring_used *) fake_at(&ram, q.used))->idx = 65534;
	for (unsigned i = 0; i < 4; i++) {
		drv_desc(&ram, &q, i, BUF + i * 64, 64, W, 0);
		drv_avail_add(&ram, &q, i);
	}
	for (unsigned i = 0; i < 4; i++) {
		CHECK_EQ(virtq_pop(&vq, &c), 1);
		CHECK_EQ(c.head, i);
		CHECK_EQ(virtq_push(&vq, c.head, i), 0);
	}
	CHECK_EQ(virtq_pop(&vq, &c), 0);
	CHECK_EQ(drv_used_idx(&ram, &q), 2);
	for (unsigned i = 0; i < 4; i++) {
		CHECK(drv_used_get(&ram, &q, &id, &len));
		CHECK_EQ(id, i);
		CHECK_EQ(len, i);
	}
	/* Interrupt suppression: the flag hides one batch, the next one is signalled. */
	struct vring_avail *a = fake_at(&ram, q.avail);
	CHECK(virtq_needs_interrupt(&vq));
	CHECK(!virtq_needs_interrupt(&vq)); /* nothing new */
	a->flags = VRING_AVAIL_F_NO_INTERRUPT;
	drv_avail_add(&ram, &q, 1);
	CHECK_EQ(virtq_pop(&vq, &c), 1);
	virtq_push(&vq, c.head, 0);
	CHECK(!virtq_needs_interrupt(&vq));
	a->flags = 0;
	drv_avail_add(&ram, &q, 2);
	CHECK_EQ(virtq_pop(&vq, &c), 1);
	virtq_push(&vq, c.head, 0);
	CHECK(virtq_needs_interrupt(&vq));
}

/* Errors at the virtqueue level (no device): codes as documented. */
static void test_pop_errors(void)
{
	static struct virtq_chain c;
	struct virtq vq;
	struct drv_vq q;

	vq_open(&vq, &q, 1024, 1024); /* longer than VIRTQ_CHAIN_MAX, no loop */
	for (uint16_t i = 0; i < 300; i++)
		drv_desc(&ram, &q, i, BUF, 1, W | N, i + 1);
	drv_avail_add(&ram, &q, 0);
	CHECK_EQ(virtq_pop(&vq, &c), -EINVAL);

	vq_open(&vq, &q, 8, 256);
	drv_desc(&ram, &q, 0, BUF, 4, W | N, 1); /* readable after writable */
	drv_desc(&ram, &q, 1, BUF, 4, 0, 0);
	drv_avail_add(&ram, &q, 0);
	CHECK_EQ(virtq_pop(&vq, &c), -EINVAL);

	vq_open(&vq, &q, 8, 256);
	drv_desc(&ram, &q, 0, ~0ull - 8, 64, W, 0); /* gpa + len overflows */
	drv_avail_add(&ram, &q, 0);
	CHECK_EQ(virtq_pop(&vq, &c), -EFAULT);

	vq_open(&vq, &q, 8, 256);
	drv_desc(&ram, &q, 0, BUF, 16, VRING_DESC_F_INDIRECT, 0);
	drv_avail_add(&ram, &q, 0);
	CHECK_EQ(virtq_pop(&vq, &c), -EINVAL);

	vq_open(&vq, &q, 8, 256);
	drv_avail_add(&ram, &q, 8); /* head out of range */
	CHECK_EQ(virtq_pop(&vq, &c), -EINVAL);

	vq_open(&vq, &q, 8, 256);
	drv_desc(&ram, &q, 0, BUF, 4, N, 9); /* next out of range */
	drv_avail_add(&ram, &q, 0);
	CHECK_EQ(virtq_pop(&vq, &c), -EINVAL);
}

/* A hostile ring, through the rng device: it must end in DEVICE_NEEDS_RESET with a
 * config interrupt, ignore the queue afterwards, and work again after a reset. */
struct hostile {
	const char *name;
	/* Corrupt the ring (or queue setup) of @q; return false if the setup itself
	 * already failed the device (at QueueReady). */
	bool (*make)(struct virtio_dev *dev, struct drv_vq *q);
};

static bool make_loop(struct virtio_dev *dev, struct drv_vq *q)
{
	(void) dev;
	drv_desc(&ram, q, 0, BUF, 8, W | N, 1);
	drv_desc(&ram, q, 1, BUF + 8, 8, W | N, 0);
	drv_avail_add(&ram, q, 0);
	return true;
}

static bool make_long(struct virtio_dev *dev, struct drv_vq *q)
{
	(void) dev;
	for (uint16_t i = 0; i < q->size; i++) /* every descriptor, then back to the head */
		drv_desc(&ram, q, i, BUF, 8, W | N, (i + 1) % q->size);
	drv_avail_add(&ram, q, 3);
	return true;
}

static bool make_out_of_range(struct virtio_dev *dev, struct drv_vq *q)
{
	(void) dev;
	drv_desc(&ram, q, 0, FAKE_RAM_BASE + RAM_SIZE - 4, 8, W, 0);
	drv_avail_add(&ram, q, 0);
	return true;
}

static bool make_wrong_direction(struct virtio_dev *dev, struct drv_vq *q)
{
	(void) dev;
	drv_desc(&ram, q, 0, BUF, 8, 0, 0); /* rng wants writable buffers */
	drv_avail_add(&ram, q, 0);
	return true;
}

static bool make_bad_avail_idx(struct virtio_dev *dev, struct drv_vq *q)
{
	(void) dev;
	drv_desc(&ram, q, 0, BUF, 8, W, 0);
	drv_avail_add(&ram, q, 0);
	q->avail_idx += q->size; /* claims size + 1 entries */
	((struct vring_avail *) fake_at(&ram, q->avail))->idx = q->avail_idx;
	return true;
}

static bool make_bad_size(struct virtio_dev *dev, struct drv_vq *q)
{
	drv_w32(dev, VIRTIO_MMIO_QUEUE_SEL, 0);
	drv_w32(dev, VIRTIO_MMIO_QUEUE_READY, 0);
	drv_w32(dev, VIRTIO_MMIO_QUEUE_NUM, 6);
	drv_w32(dev, VIRTIO_MMIO_QUEUE_READY, 1);
	CHECK_EQ(drv_r32(dev, VIRTIO_MMIO_QUEUE_READY), 0);
	(void) q;
	return false;
}

static bool make_ring_outside(struct virtio_dev *dev, struct drv_vq *q)
{
	drv_w32(dev, VIRTIO_MMIO_QUEUE_SEL, 0);
	drv_w32(dev, VIRTIO_MMIO_QUEUE_READY, 0);
	drv_w32(dev, VIRTIO_MMIO_QUEUE_USED_HIGH, 1); /* used ring at 4 GiB + x */
	drv_w32(dev, VIRTIO_MMIO_QUEUE_READY, 1);
	(void) q;
	return false;
}

static const struct hostile hostiles[] = {
    {"descriptor loop", make_loop},
    {"chain longer than the queue", make_long},
    {"buffer outside RAM", make_out_of_range},
    {"wrong direction", make_wrong_direction},
    {"bad avail index", make_bad_avail_idx},
    {"queue size not a power of two", make_bad_size},
    {"used ring outside RAM", make_ring_outside},
};

static void rng_bring_up(struct virtio_dev *dev, struct drv_vq *q)
{
	fake_ram_clear(&ram);
	drv_vq_layout(q, 8, FAKE_RAM_BASE);
	CHECK(drv_negotiate(dev, V1));
	drv_vq_setup(dev, 0, q);
	drv_status_add(dev, VIRTIO_CONFIG_S_DRIVER_OK);
	virtio_dev_poll(dev, 0);
}

/* A good request is served (or, if @expect_dead, ignored). */
static void rng_probe(struct virtio_dev *dev, struct drv_vq *q, bool expect_dead)
{
	uint16_t before = drv_used_idx(&ram, q);

	drv_desc(&ram, q, 4, BUF + 0x1000, 32, W, 0);
	drv_avail_add(&ram, q, 4);
	drv_w32(dev, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	virtio_dev_poll(dev, 100);
	CHECK_EQ(drv_used_idx(&ram, q), expect_dead ? before : before + 1);
}

static void test_hostile(const struct hostile *h)
{
	struct virtio_dev *dev = virtio_rng_create(&ram.ops);
	uint32_t isr, status;
	int fails = check_failures;
	struct drv_vq q;

	rng_bring_up(dev, &q);
	rng_probe(dev, &q, false);
	drv_w32(dev, VIRTIO_MMIO_INTERRUPT_ACK, 3);
	if (h->make(dev, &q)) {
		drv_w32(dev, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
		virtio_dev_poll(dev, 100);
	}
	status = drv_r32(dev, VIRTIO_MMIO_STATUS);
	isr = drv_r32(dev, VIRTIO_MMIO_INTERRUPT_STATUS);
	CHECK(status & VIRTIO_CONFIG_S_NEEDS_RESET);
	CHECK(isr & VIRTIO_MMIO_INT_CONFIG);
	/* The driver cannot clear NEEDS_RESET by writing status. */
	drv_w32(dev, VIRTIO_MMIO_STATUS, status & ~VIRTIO_CONFIG_S_NEEDS_RESET);
	CHECK(drv_r32(dev, VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_NEEDS_RESET);
	CHECK_EQ(ram.open, 0);
	/* Reset brings it back. */
	rng_bring_up(dev, &q);
	CHECK_EQ(drv_r32(dev, VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_NEEDS_RESET, 0);
	rng_probe(dev, &q, false);
	virtio_dev_destroy(dev);
	printf("hostile ring: %-32s %s\n", h->name, check_failures == fails ? "ok" : "FAILED");
}

/* After a failure, notifications are ignored until reset. */
static void test_dead_until_reset(void)
{
	struct virtio_dev *dev = virtio_rng_create(&ram.ops);
	struct drv_vq q;

	rng_bring_up(dev, &q);
	make_wrong_direction(dev, &q);
	drv_w32(dev, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	virtio_dev_poll(dev, 100);
	CHECK(drv_r32(dev, VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_NEEDS_RESET);
	rng_probe(dev, &q, true);
	virtio_dev_destroy(dev);
}

int main(void)
{
	log_level = getenv("V") ? 3 : 0;
	fake_ram_init(&ram, RAM_SIZE);
	test_enable();
	test_chain();
	test_wrap();
	test_pop_errors();
	for (unsigned i = 0; i < sizeof(hostiles) / sizeof(hostiles[0]); i++)
		test_hostile(&hostiles[i]);
	test_dead_until_reset();
	fake_ram_free(&ram);
	return check_done("test_virtq");
}

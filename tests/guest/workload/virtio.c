/* virtio.c - a polled virtio-mmio (version 2) driver with split virtqueues, for vCPU 0. */
#include "tests/guest/workload/virtio.h"

#include "tests/guest/workload/console.h"
#include "tests/guest/workload/port.h"

/* Register offsets of the virtio-mmio transport, version 2. */
enum {
	VIO_MAGIC = 0x000,
	VIO_VERSION = 0x004,
	VIO_DEVICE_ID = 0x008,
	VIO_DEV_FEATURES = 0x010,
	VIO_DEV_FEATURES_SEL = 0x014,
	VIO_DRV_FEATURES = 0x020,
	VIO_DRV_FEATURES_SEL = 0x024,
	VIO_QUEUE_SEL = 0x030,
	VIO_QUEUE_NUM_MAX = 0x034,
	VIO_QUEUE_NUM = 0x038,
	VIO_QUEUE_READY = 0x044,
	VIO_QUEUE_NOTIFY = 0x050,
	VIO_STATUS = 0x070,
	VIO_QUEUE_DESC_LO = 0x080,
	VIO_QUEUE_DESC_HI = 0x084,
	VIO_QUEUE_DRIVER_LO = 0x090,
	VIO_QUEUE_DRIVER_HI = 0x094,
	VIO_QUEUE_DEVICE_LO = 0x0a0,
	VIO_QUEUE_DEVICE_HI = 0x0a4,
	VIO_CONFIG = 0x100,
};

enum {
	VIO_S_ACK = 1,
	VIO_S_DRIVER = 2,
	VIO_S_DRIVER_OK = 4,
	VIO_S_FEATURES_OK = 8,
};

#define VIO_AVAIL_F_NO_INTERRUPT 1

struct vio_avail {
	uint16_t flags;
	uint16_t idx;
	uint16_t ring[VIO_QUEUE_SIZE];
};

struct vio_used {
	uint16_t flags;
	uint16_t idx;
	struct {
		uint32_t id;
		uint32_t len;
	} ring[VIO_QUEUE_SIZE];
};

/* Set once by the caller's calibration; bounds the polls. */
uint64_t vio_tsc_per_us = 1000;

static uint32_t rd(const struct vio_dev *d, unsigned off)
{
	return *(volatile uint32_t *) (uintptr_t) (d->base + off);
}

static void wr(const struct vio_dev *d, unsigned off, uint32_t v)
{
	*(volatile uint32_t *) (uintptr_t) (d->base + off) = v;
}

uint32_t vio_config32(const struct vio_dev *d, unsigned off)
{
	return rd(d, VIO_CONFIG + off);
}

void vio_config_write32(const struct vio_dev *d, unsigned off, uint32_t v)
{
	wr(d, VIO_CONFIG + off, v);
}

uint32_t vio_status(const struct vio_dev *d)
{
	return rd(d, VIO_STATUS);
}

static void zero(volatile uint8_t *p, uint64_t n)
{
	for (uint64_t i = 0; i < n; i++)
		p[i] = 0;
}

/* Queue @i lives in page @i of the slot: descriptors, then avail at 0x100, used at 0x200. */
static int setup_queue(struct vio_dev *d, unsigned i, uint64_t page)
{
	struct vio_queue *q = &d->q[i];
	uint32_t max;

	wr(d, VIO_QUEUE_SEL, i);
	if (rd(d, VIO_QUEUE_READY))
		return -1;
	max = rd(d, VIO_QUEUE_NUM_MAX);
	if (max == 0)
		return -1;
	q->size = max < VIO_QUEUE_SIZE ? (uint16_t) max : VIO_QUEUE_SIZE;
	q->avail_idx = q->used_idx = 0; /* a reset device starts its rings at 0 again */
	zero((volatile uint8_t *) (uintptr_t) page, 0x1000);
	q->desc = (volatile struct vio_desc *) (uintptr_t) page;
	q->avail = (volatile struct vio_avail *) (uintptr_t) (page + 0x100);
	q->used = (volatile struct vio_used *) (uintptr_t) (page + 0x200);
	q->avail->flags = VIO_AVAIL_F_NO_INTERRUPT; /* we poll */
	wr(d, VIO_QUEUE_NUM, q->size);
	wr(d, VIO_QUEUE_DESC_LO, (uint32_t) page);
	wr(d, VIO_QUEUE_DESC_HI, (uint32_t) (page >> 32));
	wr(d, VIO_QUEUE_DRIVER_LO, (uint32_t) (page + 0x100));
	wr(d, VIO_QUEUE_DRIVER_HI, (uint32_t) ((page + 0x100) >> 32));
	wr(d, VIO_QUEUE_DEVICE_LO, (uint32_t) (page + 0x200));
	wr(d, VIO_QUEUE_DEVICE_HI, (uint32_t) ((page + 0x200) >> 32));
	wr(d, VIO_QUEUE_READY, 1);
	return 0;
}

static uint64_t device_features(const struct vio_dev *d)
{
	uint64_t lo, hi;

	wr(d, VIO_DEV_FEATURES_SEL, 0);
	lo = rd(d, VIO_DEV_FEATURES);
	wr(d, VIO_DEV_FEATURES_SEL, 1);
	hi = rd(d, VIO_DEV_FEATURES);
	return hi << 32 | lo;
}

static int negotiate(struct vio_dev *d, uint64_t want, const char **why)
{
	uint64_t offered = device_features(d);

	if (!(offered & VIO_F_VERSION_1)) {
		*why = "device does not offer VIRTIO_F_VERSION_1";
		return -1;
	}
	d->features = offered & (want | VIO_F_VERSION_1);
	wr(d, VIO_DRV_FEATURES_SEL, 0);
	wr(d, VIO_DRV_FEATURES, (uint32_t) d->features);
	wr(d, VIO_DRV_FEATURES_SEL, 1);
	wr(d, VIO_DRV_FEATURES, (uint32_t) (d->features >> 32));
	wr(d, VIO_STATUS, VIO_S_ACK | VIO_S_DRIVER | VIO_S_FEATURES_OK);
	if (!(rd(d, VIO_STATUS) & VIO_S_FEATURES_OK)) {
		*why = "device refused the features";
		return -1;
	}
	return 0;
}

int vio_init(struct vio_dev *d, uint64_t base, uint64_t slot, uint64_t want, unsigned nq,
	     const char **why)
{
	d->base = base;
	*why = "bad magic or version";
	if (rd(d, VIO_MAGIC) != 0x74726976 || rd(d, VIO_VERSION) != 2)
		return -1;
	d->id = rd(d, VIO_DEVICE_ID);
	wr(d, VIO_STATUS, 0); /* reset */
	wr(d, VIO_STATUS, VIO_S_ACK);
	wr(d, VIO_STATUS, VIO_S_ACK | VIO_S_DRIVER);
	if (negotiate(d, want, why))
		return -1;
	for (unsigned i = 0; i < nq && i < VIO_MAX_QUEUES; i++) {
		if (setup_queue(d, i, slot + i * 0x1000ull)) {
			*why = "queue setup failed";
			return -1;
		}
	}
	d->buf = (uint8_t *) (uintptr_t) (slot + VIO_MAX_QUEUES * 0x1000ull);
	wr(d, VIO_STATUS, VIO_S_ACK | VIO_S_DRIVER | VIO_S_FEATURES_OK | VIO_S_DRIVER_OK);
	*why = "";
	return 0;
}

int64_t vio_transfer(struct vio_dev *d, unsigned qi, const struct vio_buf *b, unsigned n)
{
	struct vio_queue *q = &d->q[qi];
	uint64_t deadline = wl_rdtsc() + VIO_TIMEOUT_US * vio_tsc_per_us;

	if (qi >= VIO_MAX_QUEUES || !q->size || n == 0 || n > q->size)
		return -1;
	for (unsigned i = 0; i < n; i++) {
		q->desc[i].addr = b[i].addr;
		q->desc[i].len = b[i].len;
		q->desc[i].flags = (uint16_t) ((b[i].writable ? VIO_DESC_F_WRITE : 0) |
					       (i + 1 < n ? VIO_DESC_F_NEXT : 0));
		q->desc[i].next = (uint16_t) (i + 1 < n ? i + 1 : 0);
	}
	q->avail->ring[q->avail_idx % q->size] = 0;
	/* The descriptors and the ring entry must be visible before the index moves: x86
	 * keeps stores in order, this compiler barrier keeps the compiler from reordering.
	 * Partner: the device reads the index, then the entries (virtio/virtq.c). */
	asm volatile("" ::: "memory");
	q->avail->idx = ++q->avail_idx;
	asm volatile("mfence" ::: "memory"); /* index out before the notify exit */
	wr(d, VIO_QUEUE_NOTIFY, qi);
	while (q->used->idx == q->used_idx) {
		if (wl_rdtsc() > deadline) {
			wl_printf("VIRTIO device at 0x%lx: queue %u did not answer in %u s\n",
				  d->base, qi, (unsigned) (VIO_TIMEOUT_US / 1000000));
			return -1;
		}
		wl_pause();
	}
	asm volatile("" ::: "memory"); /* read the element after the index (x86: in order) */
	q->used_idx++;
	return q->used->ring[(uint16_t) (q->used_idx - 1) % q->size].len;
}

int vio_post_raw(struct vio_dev *d, unsigned qi, const struct vio_desc *desc, unsigned n,
		 uint16_t bump)
{
	struct vio_queue *q = &d->q[qi];

	if (qi >= VIO_MAX_QUEUES || !q->size || n > q->size)
		return -1;
	for (unsigned i = 0; i < n; i++)
		q->desc[i] = desc[i];
	q->avail->ring[q->avail_idx % q->size] = 0;
	asm volatile("" ::: "memory"); /* as in vio_transfer: entries before the index */
	q->avail_idx = (uint16_t) (q->avail_idx + bump);
	q->avail->idx = q->avail_idx;
	asm volatile("mfence" ::: "memory");
	wr(d, VIO_QUEUE_NOTIFY, qi);
	return 0;
}

uint32_t vio_wait_status(const struct vio_dev *d, uint32_t bits, uint64_t us)
{
	uint64_t deadline = wl_rdtsc() + us * vio_tsc_per_us;
	uint32_t s;

	while (!((s = vio_status(d)) & bits) && wl_rdtsc() < deadline)
		wl_pause();
	return s;
}

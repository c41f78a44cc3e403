/* virtio_driver.h - for virtio unit tests and fuzz targets: fake guest RAM (a malloc'd
 * buffer) behind checked mem ops that log every write_begin/end, and a minimal driver
 * that speaks to a device through its mmio registers the way Linux's virtio_mmio does.
 *
 * Write audit: fake_ram_snapshot() before the device runs, fake_ram_unguarded() after:
 * it counts bytes that changed outside every range passed to write_begin, which must be
 * zero (the device wrote guest memory behind the merge engine's back otherwise). */
#ifndef TESTS_UNIT_VIRTIO_DRIVER_H
#define TESTS_UNIT_VIRTIO_DRIVER_H

#include <linux/virtio_config.h>
#include <linux/virtio_mmio.h>
#include <linux/virtio_ring.h>
#include <stdlib.h>
#include <string.h>

#include "virtio/mmio.h"
#include "virtio/virtio.h"

#define FAKE_RAM_BASE 0x100000ull /* guest-physical address of the first byte */
#define FAKE_LOG_MAX 4096

struct fake_range {
	uint64_t gpa, len;
};

struct fake_ram {
	uint8_t *mem;
	uint8_t *shadow; /* copy at the last snapshot */
	uint64_t size;
	unsigned begins, ends, open; /* write_begin / write_end calls; open = begins - ends */
	unsigned bad_ends;	     /* write_end without a matching begin */
	unsigned nlog;
	bool log_full;
	struct fake_range log[FAKE_LOG_MAX]; /* write_begin ranges since the snapshot */
	struct virtio_mem_ops ops;
};

static inline void *fake_ram_ptr(struct fake_ram *r, uint64_t gpa, uint64_t len)
{
	if (gpa < FAKE_RAM_BASE || gpa - FAKE_RAM_BASE > r->size ||
	    len > r->size - (gpa - FAKE_RAM_BASE))
		return NULL;
	return r->mem + (gpa - FAKE_RAM_BASE);
}

static inline const void *fake_ram_read(void *opaque, uint64_t gpa, uint64_t len)
{
	return fake_ram_ptr(opaque, gpa, len);
}

static inline void *fake_ram_write_begin(void *opaque, uint64_t gpa, uint64_t len)
{
	struct fake_ram *r = opaque;
	void *p = fake_ram_ptr(r, gpa, len);

	if (!p)
		return NULL;
	r->begins++;
	r->open++;
	if (r->nlog < FAKE_LOG_MAX)
		r->log[r->nlog++] = (struct fake_range){gpa, len};
	else
		r->log_full = true;
	return p;
}

static inline void fake_ram_write_end(void *opaque, uint64_t gpa, uint64_t len)
{
	struct fake_ram *r = opaque;

	(void) gpa;
	(void) len;
	r->ends++;
	if (!r->open)
		r->bad_ends++;
	else
		r->open--;
}

/* @size bytes of zeroed guest RAM at FAKE_RAM_BASE. */
static inline void fake_ram_init(struct fake_ram *r, uint64_t size)
{
	memset(r, 0, sizeof(*r));
	r->mem = calloc(1, size);
	r->shadow = calloc(1, size);
	r->size = size;
	r->ops =
	    (struct virtio_mem_ops){fake_ram_read, fake_ram_write_begin, fake_ram_write_end, r};
}

static inline void fake_ram_free(struct fake_ram *r)
{
	free(r->mem);
	free(r->shadow);
}

/* Zero the RAM and the counters (a fresh guest). */
static inline void fake_ram_clear(struct fake_ram *r)
{
	memset(r->mem, 0, r->size);
	r->begins = r->ends = r->open = r->bad_ends = 0;
	r->nlog = 0;
	r->log_full = false;
}

static inline void fake_ram_snapshot(struct fake_ram *r)
{
	memcpy(r->shadow, r->mem, r->size);
	r->nlog = 0;
	r->log_full = false;
}

static inline bool fake_ram_logged(const struct fake_ram *r, uint64_t gpa)
{
	for (unsigned i = 0; i < r->nlog; i++)
		if (gpa >= r->log[i].gpa && gpa - r->log[i].gpa < r->log[i].len)
			return true;
	return r->log_full; /* cannot tell: do not accuse */
}

/* Bytes changed since the snapshot outside every write_begin range. */
static inline uint64_t fake_ram_unguarded(const struct fake_ram *r)
{
	uint64_t bad = 0;

	for (uint64_t c = 0; c < r->size; c += 64) {
		uint64_t n = r->size - c < 64 ? r->size - c : 64;

		if (!memcmp(r->mem + c, r->shadow + c, n))
			continue; /* fast path: most of RAM is unchanged */
		for (uint64_t i = c; i < c + n; i++)
			if (r->mem[i] != r->shadow[i] && !fake_ram_logged(r, FAKE_RAM_BASE + i))
				bad++;
	}
	return bad;
}

static inline void *fake_at(struct fake_ram *r, uint64_t gpa)
{
	return r->mem + (gpa - FAKE_RAM_BASE);
}

/* Registers, as the driver sees them. */
static inline uint32_t drv_r32(struct virtio_dev *dev, uint64_t off)
{
	uint32_t v = 0xdeadbeef;

	virtio_mmio_access(dev, off, false, (uint8_t *) &v, 4);
	return v;
}

static inline void drv_w32(struct virtio_dev *dev, uint64_t off, uint32_t v)
{
	virtio_mmio_access(dev, off, true, (uint8_t *) &v, 4);
}

static inline void drv_status_add(struct virtio_dev *dev, uint32_t bits)
{
	drv_w32(dev, VIRTIO_MMIO_STATUS, drv_r32(dev, VIRTIO_MMIO_STATUS) | bits);
}

/* Reset, ACKNOWLEDGE, DRIVER, accept @features (must include VERSION_1 to succeed),
 * FEATURES_OK. Returns true if the device kept FEATURES_OK. */
static inline bool drv_negotiate(struct virtio_dev *dev, uint64_t features)
{
	drv_w32(dev, VIRTIO_MMIO_STATUS, 0);
	drv_status_add(dev, VIRTIO_CONFIG_S_ACKNOWLEDGE);
	drv_status_add(dev, VIRTIO_CONFIG_S_DRIVER);
	drv_w32(dev, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	drv_w32(dev, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t) features);
	drv_w32(dev, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	drv_w32(dev, VIRTIO_MMIO_DRIVER_FEATURES, features >> 32);
	drv_status_add(dev, VIRTIO_CONFIG_S_FEATURES_OK);
	return drv_r32(dev, VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_FEATURES_OK;
}

/* The driver's side of one split queue in fake RAM. */
struct drv_vq {
	uint16_t size;
	uint64_t desc, avail, used; /* gpas */
	uint16_t avail_idx;	    /* next avail->idx to publish */
	uint16_t used_seen;	    /* used entries consumed */
};

/* Lay out a queue of @size at @gpa (desc, avail, then used at the next 4-byte boundary)
 * and return the first gpa past it. */
static inline uint64_t drv_vq_layout(struct drv_vq *q, uint16_t size, uint64_t gpa)
{
	memset(q, 0, sizeof(*q));
	q->size = size;
	q->desc = gpa;
	q->avail = q->desc + 16ull * size;
	q->used = (q->avail + 6 + 2ull * size + 3) & ~3ull;
	return (q->used + 6 + 8ull * size + 15) & ~15ull;
}

/* Program queue @index with @q (QueueNum = q->size) and set QueueReady. */
static inline void drv_vq_setup(struct virtio_dev *dev, unsigned index, const struct drv_vq *q)
{
	drv_w32(dev, VIRTIO_MMIO_QUEUE_SEL, index);
	drv_w32(dev, VIRTIO_MMIO_QUEUE_NUM, q->size);
	drv_w32(dev, VIRTIO_MMIO_QUEUE_DESC_LOW, (uint32_t) q->desc);
	drv_w32(dev, VIRTIO_MMIO_QUEUE_DESC_HIGH, q->desc >> 32);
	drv_w32(dev, VIRTIO_MMIO_QUEUE_AVAIL_LOW, (uint32_t) q->avail);
	drv_w32(dev, VIRTIO_MMIO_QUEUE_AVAIL_HIGH, q->avail >> 32);
	drv_w32(dev, VIRTIO_MMIO_QUEUE_USED_LOW, (uint32_t) q->used);
	drv_w32(dev, VIRTIO_MMIO_QUEUE_USED_HIGH, q->used >> 32);
	drv_w32(dev, VIRTIO_MMIO_QUEUE_READY, 1);
}

static inline void drv_desc(struct fake_ram *r, const struct drv_vq *q, uint16_t i, uint64_t addr,
			    uint32_t len, uint16_t flags, uint16_t next)
{
	struct vring_desc *d = fake_at(r, q->desc + 16ull * i);

	d->addr = addr;
	d->len = len;
	d->flags = flags;
	d->next = next;
}

/* Publish chain @head: ring entry, then the idx store with release (as virtio_wmb). */
static inline void drv_avail_add(struct fake_ram *r, struct drv_vq *q, uint16_t head)
{
	struct vring_avail *a = fake_at(r, q->avail);

	a->ring[q->avail_idx % q->size] = head;
	q->avail_idx++;
	__atomic_store_n(&a->idx, q->avail_idx, __ATOMIC_RELEASE);
}

static inline uint16_t drv_used_idx(struct fake_ram *r, const struct drv_vq *q)
{
	const struct vring_used *u = fake_at(r, q->used);

	return __atomic_load_n(&u->idx, __ATOMIC_ACQUIRE);
}

/* The next used element; returns false if none. */
static inline bool drv_used_get(struct fake_ram *r, struct drv_vq *q, uint32_t *id, uint32_t *len)
{
	const struct vring_used *u = fake_at(r, q->used);

	if (drv_used_idx(r, q) == q->used_seen)
		return false;
	*id = u->ring[q->used_seen % q->size].id;
	*len = u->ring[q->used_seen % q->size].len;
	q->used_seen++;
	return true;
}

#endif

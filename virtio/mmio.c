/* mmio.c - the virtio-mmio register file, version 2 (virtio 1.x, section 4.2.2 of the
 * spec): the driver's view of a struct virtio_dev. Runs on vCPU threads. */
#define pr_fmt(fmt) "virtio-mmio: " fmt

#include "virtio/mmio.h"

#include <linux/virtio_config.h>
#include <linux/virtio_mmio.h>
#include <stdio.h>
#include <string.h>

#include "lib/log.h"
#include "virtio/internal.h"

#define VIRTIO_MMIO_MAGIC 0x74726976u /* "virt" */

static void mmio_put32(uint8_t *data, uint32_t v)
{
	memcpy(data, &v, 4);
}

static uint32_t mmio_get32(const uint8_t *data)
{
	uint32_t v;

	memcpy(&v, data, 4);
	return v;
}

static void mmio_bad_access(struct virtio_dev *dev, uint64_t off, bool write, unsigned len)
{
	if (virtio_log_ok(&dev->log_us))
		pr_warn("%s: ignored %u-byte %s at offset 0x%llx", virtio_dev_name(dev), len,
			write ? "write" : "read", (unsigned long long) off);
}

/* Config space: any width; bytes past config_size read as zero, writes there dropped. */
static void mmio_config(struct virtio_dev *dev, uint32_t off, bool write, uint8_t *data,
			unsigned len)
{
	bool inside = off <= dev->type->config_size && len <= dev->type->config_size - off;
	const struct virtio_device_type *t = dev->type;

	pthread_mutex_lock(&dev->cfg_lock);
	if (!write) {
		memset(data, 0, len);
		if (inside)
			memcpy(data, dev->config + off, len);
	} else if (inside && t->config_write && t->config_write(dev, off, data, len)) {
		memcpy(dev->config + off, data, len);
	} else {
		mmio_bad_access(dev, VIRTIO_MMIO_CONFIG + off, true, len);
	}
	pthread_mutex_unlock(&dev->cfg_lock);
}

static struct virtq *mmio_queue(struct virtio_dev *dev)
{
	return dev->queue_sel < dev->type->num_queues ? &dev->vq[dev->queue_sel] : NULL;
}

static uint32_t mmio_read_queue(struct virtio_dev *dev, uint64_t off)
{
	struct virtq *vq = mmio_queue(dev);

	if (!vq)
		return 0;
	switch (off) {
	case VIRTIO_MMIO_QUEUE_NUM_MAX: return dev->type->queue_max;
	case VIRTIO_MMIO_QUEUE_READY: return vq->ready;
	case VIRTIO_MMIO_QUEUE_DESC_LOW: return (uint32_t) vq->desc_gpa;
	case VIRTIO_MMIO_QUEUE_DESC_HIGH: return vq->desc_gpa >> 32;
	case VIRTIO_MMIO_QUEUE_AVAIL_LOW: return (uint32_t) vq->avail_gpa;
	case VIRTIO_MMIO_QUEUE_AVAIL_HIGH: return vq->avail_gpa >> 32;
	case VIRTIO_MMIO_QUEUE_USED_LOW: return (uint32_t) vq->used_gpa;
	case VIRTIO_MMIO_QUEUE_USED_HIGH: return vq->used_gpa >> 32;
	}
	return 0;
}

static uint32_t mmio_read_reg(struct virtio_dev *dev, uint64_t off)
{
	switch (off) {
	case VIRTIO_MMIO_MAGIC_VALUE: return VIRTIO_MMIO_MAGIC;
	case VIRTIO_MMIO_VERSION: return 2;
	case VIRTIO_MMIO_DEVICE_ID: return dev->type->device_id;
	case VIRTIO_MMIO_VENDOR_ID: return VIRTIO_MMIO_VENDOR;
	case VIRTIO_MMIO_DEVICE_FEATURES:
		return dev->dev_feat_sel < 2 ? (uint32_t) (dev->offered >> (32 * dev->dev_feat_sel))
					     : 0;
	case VIRTIO_MMIO_STATUS: return __atomic_load_n(&dev->status, __ATOMIC_ACQUIRE);
	case VIRTIO_MMIO_INTERRUPT_STATUS: return __atomic_load_n(&dev->isr, __ATOMIC_ACQUIRE);
	}
	return mmio_read_queue(dev, off);
}

/* FEATURES_OK is kept only if the driver accepted VERSION_1 and nothing not offered. */
static bool mmio_features_ok(struct virtio_dev *dev)
{
	bool ok =
	    (dev->accepted & (1ull << VIRTIO_F_VERSION_1)) && !(dev->accepted & ~dev->offered);

	if (!ok && virtio_log_ok(&dev->log_us))
		pr_warn("%s: refused driver features 0x%llx (offered 0x%llx)", virtio_dev_name(dev),
			(unsigned long long) dev->accepted, (unsigned long long) dev->offered);
	return ok;
}

/* DRIVER_OK: the device may now use its queues; buffers the driver queued (and
 * notified) before are picked up by kicking every ready queue. */
static void mmio_driver_ok(struct virtio_dev *dev)
{
	int ret = dev->type->driver_ok ? dev->type->driver_ok(dev) : 0;

	if (ret < 0) {
		virtio_dev_fail(dev, ret, "driver_ok");
		return;
	}
	for (unsigned q = 0; q < dev->type->num_queues; q++)
		if (dev->vq[q].ready)
			virtio_dev_kick(dev, q);
}

static void mmio_write_status(struct virtio_dev *dev, uint32_t val)
{
	uint32_t old = __atomic_load_n(&dev->status, __ATOMIC_ACQUIRE);
	uint32_t set = val & ~old & 0xff;

	if (!val) {
		virtio_dev_reset(dev);
		return;
	}
	if ((set & VIRTIO_CONFIG_S_FEATURES_OK) && !mmio_features_ok(dev))
		val &= ~VIRTIO_CONFIG_S_FEATURES_OK;
	if ((set & VIRTIO_CONFIG_S_DRIVER_OK) && !(val & VIRTIO_CONFIG_S_FEATURES_OK))
		val &= ~VIRTIO_CONFIG_S_DRIVER_OK; /* no DRIVER_OK without FEATURES_OK */
	/* NEEDS_RESET is the device's: only a reset clears it (fetch_or keeps a
	 * concurrent virtio_dev_fail from being lost). */
	__atomic_store_n(&dev->status,
			 (val & 0xff & ~VIRTIO_CONFIG_S_NEEDS_RESET) |
			     (old & VIRTIO_CONFIG_S_NEEDS_RESET),
			 __ATOMIC_RELEASE);
	if ((set & VIRTIO_CONFIG_S_DRIVER_OK) && (val & VIRTIO_CONFIG_S_DRIVER_OK))
		mmio_driver_ok(dev);
}

static void mmio_write_features(struct virtio_dev *dev, uint32_t val)
{
	uint32_t s = __atomic_load_n(&dev->status, __ATOMIC_ACQUIRE);
	unsigned shift = 32 * dev->drv_feat_sel;

	if ((s & VIRTIO_CONFIG_S_FEATURES_OK) || dev->drv_feat_sel > 1)
		return;
	dev->accepted = (dev->accepted & ~(0xffffffffull << shift)) | ((uint64_t) val << shift);
}

static void mmio_set_half(uint64_t *gpa, bool high, uint32_t val)
{
	if (high)
		*gpa = (*gpa & 0xffffffffull) | ((uint64_t) val << 32);
	else
		*gpa = (*gpa & ~0xffffffffull) | val;
}

static void mmio_queue_ready(struct virtio_dev *dev, struct virtq *vq, uint32_t val)
{
	int ret;

	if (!val) {
		vq->ready = false;
		return;
	}
	if (vq->ready)
		return;
	ret = virtq_enable(vq, &dev->mem, dev->type->queue_max);
	if (ret)
		virtio_dev_fail(dev, ret, vq->error);
}

/* Queue registers; the layout fields change only while the queue is disabled. */
static void mmio_write_queue(struct virtio_dev *dev, uint64_t off, uint32_t val)
{
	struct virtq *vq = mmio_queue(dev);

	if (!vq)
		return;
	if (off == VIRTIO_MMIO_QUEUE_READY) {
		mmio_queue_ready(dev, vq, val);
		return;
	}
	if (vq->ready)
		return;
	switch (off) {
	case VIRTIO_MMIO_QUEUE_NUM: vq->size = val <= VIRTQ_MAX_SIZE ? val : 0; break;
	case VIRTIO_MMIO_QUEUE_DESC_LOW:
	case VIRTIO_MMIO_QUEUE_DESC_HIGH:
		mmio_set_half(&vq->desc_gpa, off == VIRTIO_MMIO_QUEUE_DESC_HIGH, val);
		break;
	case VIRTIO_MMIO_QUEUE_AVAIL_LOW:
	case VIRTIO_MMIO_QUEUE_AVAIL_HIGH:
		mmio_set_half(&vq->avail_gpa, off == VIRTIO_MMIO_QUEUE_AVAIL_HIGH, val);
		break;
	case VIRTIO_MMIO_QUEUE_USED_LOW:
	case VIRTIO_MMIO_QUEUE_USED_HIGH:
		mmio_set_half(&vq->used_gpa, off == VIRTIO_MMIO_QUEUE_USED_HIGH, val);
		break;
	}
}

static void mmio_write_reg(struct virtio_dev *dev, uint64_t off, uint32_t val)
{
	switch (off) {
	case VIRTIO_MMIO_DEVICE_FEATURES_SEL: dev->dev_feat_sel = val; break;
	case VIRTIO_MMIO_DRIVER_FEATURES: mmio_write_features(dev, val); break;
	case VIRTIO_MMIO_DRIVER_FEATURES_SEL: dev->drv_feat_sel = val; break;
	case VIRTIO_MMIO_QUEUE_SEL: dev->queue_sel = val; break;
	case VIRTIO_MMIO_STATUS: mmio_write_status(dev, val); break;
	default: mmio_write_queue(dev, off, val); break;
	}
}

/* Registers that must not wait for the device lock (a worker may hold it for a while):
 * notifications and interrupt acknowledgement. Returns true if @off was one. */
static bool mmio_lockless(struct virtio_dev *dev, uint64_t off, bool write, uint8_t *data)
{
	uint32_t val = write ? mmio_get32(data) : 0;

	if (write && off == VIRTIO_MMIO_QUEUE_NOTIFY) {
		virtio_dev_kick(dev, val); /* no ioeventfd registered: the same path */
		return true;
	}
	if (write && off == VIRTIO_MMIO_INTERRUPT_ACK) {
		__atomic_fetch_and(&dev->isr, ~val, __ATOMIC_SEQ_CST);
		return true;
	}
	if (!write && off == VIRTIO_MMIO_INTERRUPT_STATUS) {
		mmio_put32(data, __atomic_load_n(&dev->isr, __ATOMIC_SEQ_CST));
		return true;
	}
	return false;
}

static uint32_t mmio_generation(struct virtio_dev *dev)
{
	uint32_t gen;

	pthread_mutex_lock(&dev->cfg_lock);
	gen = dev->generation;
	pthread_mutex_unlock(&dev->cfg_lock);
	return gen;
}

void virtio_mmio_access(void *opaque, uint64_t offset, bool write, uint8_t *data, unsigned len)
{
	struct virtio_dev *dev = opaque;

	if (offset >= VIRTIO_MMIO_CONFIG && offset < VIRTIO_MMIO_SIZE && len &&
	    len <= VIRTIO_MMIO_SIZE - offset) {
		mmio_config(dev, offset - VIRTIO_MMIO_CONFIG, write, data, len);
		return;
	}
	if (len != 4 || offset % 4 || offset >= VIRTIO_MMIO_CONFIG) {
		if (!write)
			memset(data, 0, len);
		mmio_bad_access(dev, offset, write, len);
		return;
	}
	if (mmio_lockless(dev, offset, write, data))
		return;
	if (!write && offset == VIRTIO_MMIO_CONFIG_GENERATION) {
		mmio_put32(data, mmio_generation(dev));
		return;
	}
	pthread_mutex_lock(&dev->lock);
	if (write)
		mmio_write_reg(dev, offset, mmio_get32(data));
	else
		mmio_put32(data, mmio_read_reg(dev, offset));
	pthread_mutex_unlock(&dev->lock);
}

int virtio_mmio_cmdline(char *buf, unsigned len, unsigned index, unsigned irq)
{
	return snprintf(buf, len, "virtio_mmio.device=0x%x@0x%llx:%u", VIRTIO_MMIO_SIZE,
			VIRTIO_MMIO_BASE + index * VIRTIO_MMIO_STRIDE, irq);
}

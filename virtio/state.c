/* state.c - saving and loading a virtio device's transport and queue state.
 *
 * Section body, little endian (lib/sbuf.h):
 *   u32 version (VIRTIO_STATE_VERSION), u32 device id, u32 number of queues,
 *   u64 offered features, u64 accepted features,
 *   u32 DeviceFeaturesSel, DriverFeaturesSel, QueueSel, Status, InterruptStatus,
 *   u32 ConfigGeneration, blob config space (exactly the type's config size),
 *   per queue: u16 size, u8 ready, u64 desc, u64 avail, u64 used,
 *              u16 next avail, u16 used index, u16 used index at the last interrupt,
 *   blob the type's own state (empty for a type without a save hook).
 * Loading decodes everything into a struct virtio_image first and checks it; only a
 * wholly valid image is applied, and a type hook's failure resets the device. */
#define pr_fmt(fmt) "virtio-state: " fmt

#include "virtio/state.h"

#include <errno.h>
#include <linux/virtio_config.h>
#include <linux/virtio_mmio.h>
#include <string.h>

#include "lib/log.h"
#include "virtio/internal.h"

/* Status bits the transport can hold. */
#define STATE_STATUS_BITS                                                                          \
	(VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER | VIRTIO_CONFIG_S_DRIVER_OK |        \
	 VIRTIO_CONFIG_S_FEATURES_OK | VIRTIO_CONFIG_S_NEEDS_RESET | VIRTIO_CONFIG_S_FAILED)
#define STATE_ISR_BITS (VIRTIO_MMIO_INT_VRING | VIRTIO_MMIO_INT_CONFIG)

/* A decoded section, checked before anything of it reaches the device. */
struct virtio_image {
	uint64_t offered, accepted;
	uint32_t dev_feat_sel, drv_feat_sel, queue_sel, status, isr, generation;
	uint8_t config[VIRTIO_CONFIG_MAX];
	struct virtq vq[VIRTIO_MAX_QUEUES];
};

static void state_put_queue(struct sbuf *out, const struct virtq *vq)
{
	sbuf_put_u16(out, vq->size);
	sbuf_put_u8(out, vq->ready);
	sbuf_put_u64(out, vq->desc_gpa);
	sbuf_put_u64(out, vq->avail_gpa);
	sbuf_put_u64(out, vq->used_gpa);
	sbuf_put_u16(out, vq->last_avail);
	sbuf_put_u16(out, vq->used_idx);
	sbuf_put_u16(out, vq->signalled);
}

/* The transport's part; device lock held. */
static void state_put_transport(struct virtio_dev *dev, struct sbuf *out)
{
	const struct virtio_device_type *t = dev->type;

	sbuf_put_u32(out, VIRTIO_STATE_VERSION);
	sbuf_put_u32(out, t->device_id);
	sbuf_put_u32(out, t->num_queues);
	sbuf_put_u64(out, dev->offered);
	sbuf_put_u64(out, dev->accepted);
	sbuf_put_u32(out, dev->dev_feat_sel);
	sbuf_put_u32(out, dev->drv_feat_sel);
	sbuf_put_u32(out, dev->queue_sel);
	sbuf_put_u32(out, __atomic_load_n(&dev->status, __ATOMIC_ACQUIRE));
	sbuf_put_u32(out, __atomic_load_n(&dev->isr, __ATOMIC_ACQUIRE));
	pthread_mutex_lock(&dev->cfg_lock);
	sbuf_put_u32(out, dev->generation);
	sbuf_put_blob(out, dev->config, t->config_size);
	pthread_mutex_unlock(&dev->cfg_lock);
	for (unsigned q = 0; q < t->num_queues; q++)
		state_put_queue(out, &dev->vq[q]);
}

/* The type's part, as one blob (so that a loader can tell where it ends). */
static int state_put_type(struct virtio_dev *dev, struct sbuf *out)
{
	struct sbuf body;
	int ret = 0;

	sbuf_init(&body);
	if (dev->type->save)
		ret = dev->type->save(dev, &body);
	if (!ret)
		ret = body.err;
	if (!ret && body.len > UINT32_MAX)
		ret = -E2BIG;
	if (!ret)
		sbuf_put_blob(out, body.data, (uint32_t) body.len);
	sbuf_free(&body);
	return ret;
}

int virtio_dev_save(struct virtio_dev *dev, struct sbuf *out)
{
	int ret;

	if (dev->running)
		return -EBUSY;
	pthread_mutex_lock(&dev->lock);
	state_put_transport(dev, out);
	ret = state_put_type(dev, out);
	pthread_mutex_unlock(&dev->lock);
	if (ret)
		pr_err("%s: cannot save its state: %s", virtio_dev_name(dev), strerror(-ret));
	return ret ? ret : out->err;
}

/* --- Loading ------------------------------------------------------------------------- */

/* The section's header: is it this device's type, queues and features? */
static bool state_get_header(struct virtio_dev *dev, struct sbuf_reader *in,
			     struct virtio_image *img)
{
	const struct virtio_device_type *t = dev->type;
	uint32_t version = sbuf_get_u32(in);
	uint32_t id, nq;

	if (!sbuf_check(in, sbuf_error(in) || version == VIRTIO_STATE_VERSION,
			"unknown virtio state version %u (this build reads %u)", version,
			VIRTIO_STATE_VERSION))
		return false;
	id = sbuf_get_u32(in);
	nq = sbuf_get_u32(in);
	img->offered = sbuf_get_u64(in);
	img->accepted = sbuf_get_u64(in);
	if (sbuf_error(in))
		return false;
	return sbuf_check(in, id == t->device_id, "saved virtio device id %u, this %s is %u", id,
			  t->name, t->device_id) &&
	       sbuf_check(in, nq == t->num_queues, "saved %u queues, this %s has %u", nq, t->name,
			  t->num_queues) &&
	       sbuf_check(
		   in, img->offered == dev->offered,
		   "saved offered features 0x%llx, this %s offers 0x%llx (set up differently)",
		   (unsigned long long) img->offered, t->name, (unsigned long long) dev->offered);
}

/* Registers: values the transport itself could have reached from driver writes. */
static bool state_get_registers(struct virtio_dev *dev, struct sbuf_reader *in,
				struct virtio_image *img)
{
	const void *cfg;
	uint32_t len;

	img->dev_feat_sel = sbuf_get_u32(in);
	img->drv_feat_sel = sbuf_get_u32(in);
	img->queue_sel = sbuf_get_u32(in);
	img->status = sbuf_get_u32(in);
	img->isr = sbuf_get_u32(in);
	img->generation = sbuf_get_u32(in);
	cfg = sbuf_get_blob(in, &len);
	if (sbuf_error(in))
		return false;
	if (len && len <= VIRTIO_CONFIG_MAX)
		memcpy(img->config, cfg, len);
	return sbuf_check(in, len == dev->type->config_size, "config space of %u bytes, not %u",
			  len, dev->type->config_size) &&
	       sbuf_check(in, !(img->status & ~STATE_STATUS_BITS), "status 0x%x", img->status) &&
	       sbuf_check(in, !(img->isr & ~STATE_ISR_BITS), "interrupt status 0x%x", img->isr);
}

/* Status against features: what mmio_write_status would have allowed. */
static bool state_check_status(struct sbuf_reader *in, const struct virtio_image *img)
{
	bool fok = img->status & VIRTIO_CONFIG_S_FEATURES_OK;

	if (!sbuf_check(in, fok || !(img->status & VIRTIO_CONFIG_S_DRIVER_OK),
			"status 0x%x: DRIVER_OK without FEATURES_OK", img->status))
		return false;
	return sbuf_check(in,
			  !fok || ((img->accepted & (1ull << VIRTIO_F_VERSION_1)) &&
				   !(img->accepted & ~img->offered)),
			  "accepted features 0x%llx not a valid choice of the offered 0x%llx",
			  (unsigned long long) img->accepted, (unsigned long long) img->offered);
}

/* One queue: a ready one is enabled again with the transport's own checks. */
static bool state_get_queue(struct virtio_dev *dev, struct sbuf_reader *in, unsigned q,
			    struct virtq *vq)
{
	uint16_t last_avail, used_idx, signalled;
	uint8_t ready;
	int ret;

	virtq_reset(vq);
	vq->size = sbuf_get_u16(in);
	ready = sbuf_get_u8(in);
	vq->desc_gpa = sbuf_get_u64(in);
	vq->avail_gpa = sbuf_get_u64(in);
	vq->used_gpa = sbuf_get_u64(in);
	last_avail = sbuf_get_u16(in);
	used_idx = sbuf_get_u16(in);
	signalled = sbuf_get_u16(in);
	if (sbuf_error(in) || !sbuf_check(in, vq->size <= VIRTQ_MAX_SIZE && ready <= 1,
					  "queue %u: size %u, ready %u", q, vq->size, ready))
		return false;
	ret = ready ? virtq_enable(vq, &dev->mem, dev->type->queue_max) : 0; /* sets error */
	if (!sbuf_check(in, !ret, "queue %u (size %u, rings 0x%llx 0x%llx 0x%llx): %s", q, vq->size,
			(unsigned long long) vq->desc_gpa, (unsigned long long) vq->avail_gpa,
			(unsigned long long) vq->used_gpa, vq->error))
		return false;
	vq->last_avail = last_avail;
	vq->used_idx = used_idx;
	vq->signalled = signalled;
	return true;
}

static void state_apply(struct virtio_dev *dev, const struct virtio_image *img)
{
	dev->accepted = img->accepted;
	dev->dev_feat_sel = img->dev_feat_sel;
	dev->drv_feat_sel = img->drv_feat_sel;
	dev->queue_sel = img->queue_sel;
	memcpy(dev->vq, img->vq, sizeof(dev->vq));
	__atomic_store_n(&dev->isr, img->isr, __ATOMIC_RELAXED);
	pthread_mutex_lock(&dev->cfg_lock);
	dev->generation = img->generation;
	memcpy(dev->config, img->config, dev->type->config_size);
	pthread_mutex_unlock(&dev->cfg_lock);
	/* Release: pairs with the acquire in virtio_dev_live (and the mmio status read),
	 * so a thread that sees DRIVER_OK also sees the queues above. */
	__atomic_store_n(&dev->status, img->status, __ATOMIC_RELEASE);
}

/* The type's blob, read by its load hook; every byte must be used. */
static bool state_get_type(struct virtio_dev *dev, struct sbuf_reader *in)
{
	struct sbuf_reader body;
	uint32_t len;
	const void *p = sbuf_get_blob(in, &len);

	if (sbuf_error(in))
		return false;
	if (!dev->type->load)
		return sbuf_check(in, len == 0, "%u bytes of %s state, which has none", len,
				  dev->type->name);
	sbuf_reader_init(&body, p, len);
	if (dev->type->load(dev, &body) && !sbuf_error(&body))
		sbuf_check(&body, false, "refused");
	sbuf_check(&body, !sbuf_left(&body), "%zu bytes left over", sbuf_left(&body));
	return sbuf_check(in, !sbuf_error(&body), "%s", body.why);
}

static bool state_decode(struct virtio_dev *dev, struct sbuf_reader *in, struct virtio_image *img)
{
	if (!state_get_header(dev, in, img) || !state_get_registers(dev, in, img) ||
	    !state_check_status(in, img))
		return false;
	for (unsigned q = 0; q < dev->type->num_queues; q++)
		if (!state_get_queue(dev, in, q, &img->vq[q]))
			return false;
	return true;
}

/* Pick up what the driver queued and notified before the snapshot (see mmio_driver_ok). */
static void state_kick(struct virtio_dev *dev)
{
	uint32_t s = __atomic_load_n(&dev->status, __ATOMIC_ACQUIRE);

	if (!(s & VIRTIO_CONFIG_S_DRIVER_OK) || (s & VIRTIO_CONFIG_S_NEEDS_RESET))
		return;
	for (unsigned q = 0; q < dev->type->num_queues; q++)
		if (dev->vq[q].ready)
			virtio_dev_kick(dev, q);
}

int virtio_dev_load(struct virtio_dev *dev, struct sbuf_reader *in)
{
	struct virtio_image img;
	bool ok;

	if (dev->running)
		return -EBUSY;
	memset(&img, 0, sizeof(img));
	pthread_mutex_lock(&dev->lock);
	ok = state_decode(dev, in, &img);
	if (ok)
		state_apply(dev, &img);
	if (ok && !state_get_type(dev, in)) {
		virtio_dev_reset(dev);
		ok = false;
	}
	pthread_mutex_unlock(&dev->lock);
	if (!ok) {
		sbuf_check(in, false, "malformed"); /* a reason, should no check have given one */
		return -EINVAL;
	}
	dev->restored = true;
	state_kick(dev);
	return 0;
}

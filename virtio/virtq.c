/* virtq.c - split virtqueues, device side (virtio 1.x, section 2.7 of the spec).
 *
 * The guest owns the descriptor table and the avail ring and may rewrite them at any time
 * (another vCPU), so every field is loaded once into a local before it is checked and
 * used. A chain is walked at most min(queue size, VIRTQ_CHAIN_MAX) descriptors deep:
 * a loop shows up as a chain that is too long. Every buffer is checked against guest
 * memory when popped; every write to the used ring goes through write_begin/end. */
#define pr_fmt(fmt) "virtq: " fmt

#include "virtio/virtq.h"

#include <errno.h>
#include <linux/virtio_ring.h>
#include <string.h>

#include "lib/log.h"

static uint64_t virtq_desc_bytes(uint16_t size)
{
	return sizeof(struct vring_desc) * (uint64_t) size;
}

/* flags, idx, ring[size], used_event (present in the layout whether used or not). */
static uint64_t virtq_avail_bytes(uint16_t size)
{
	return 6 + 2 * (uint64_t) size;
}

/* flags, idx, ring[size], avail_event. */
static uint64_t virtq_used_bytes(uint16_t size)
{
	return 6 + sizeof(struct vring_used_elem) * (uint64_t) size;
}

void virtq_reset(struct virtq *vq)
{
	memset(vq, 0, sizeof(*vq));
}

/* Record why a guest-visible operation failed; returns @err. */
static int virtq_fail(struct virtq *vq, int err, const char *why)
{
	vq->error = why;
	return err;
}

static bool virtq_size_ok(uint16_t size, uint16_t max)
{
	return size && !(size & (size - 1)) && size <= max;
}

int virtq_enable(struct virtq *vq, const struct virtio_mem_ops *mem, uint16_t max)
{
	const void *used;

	vq->ready = false;
	if (!virtq_size_ok(vq->size, max))
		return virtq_fail(vq, -EINVAL,
				  "queue size not a power of two or above the maximum");
	if (vq->desc_gpa % 16 || vq->avail_gpa % 2 || vq->used_gpa % 4)
		return virtq_fail(vq, -EINVAL, "misaligned ring");
	vq->desc = mem->read(mem->opaque, vq->desc_gpa, virtq_desc_bytes(vq->size));
	vq->avail = mem->read(mem->opaque, vq->avail_gpa, virtq_avail_bytes(vq->size));
	used = mem->read(mem->opaque, vq->used_gpa, virtq_used_bytes(vq->size));
	if (!vq->desc || !vq->avail || !used) {
		vq->desc = vq->avail = NULL;
		return virtq_fail(vq, -EFAULT, "ring outside guest memory");
	}
	vq->mem = mem;
	vq->last_avail = vq->used_idx = vq->signalled = 0;
	vq->ready = true;
	return 0;
}

/* The driver's avail->idx. Acquire: pairs with the driver's write barrier between
 * filling the ring entry and storing avail->idx (virtio_wmb in Linux's
 * virtqueue_add_split), so the entries below idx are visible to our loads. */
static uint16_t virtq_avail_idx(const struct virtq *vq)
{
	const struct vring_avail *avail = vq->avail;

	return __atomic_load_n(&avail->idx, __ATOMIC_ACQUIRE);
}

static uint16_t virtq_avail_ring(const struct virtq *vq, uint16_t slot)
{
	const struct vring_avail *avail = vq->avail;

	return __atomic_load_n(&avail->ring[slot & (vq->size - 1)], __ATOMIC_RELAXED);
}

/* One copy of descriptor @i: the guest may change the table while we look. */
static void virtq_desc_copy(const struct virtq *vq, uint16_t i, struct vring_desc *d)
{
	const volatile struct vring_desc *src = (const struct vring_desc *) vq->desc + i;

	d->addr = src->addr;
	d->len = src->len;
	d->flags = src->flags;
	d->next = src->next;
}

/* Append checked descriptor @d to @c: direction order, memory range. */
static int virtq_chain_add(struct virtq *vq, struct virtq_chain *c, const struct vring_desc *d)
{
	const struct virtio_mem_ops *mem = vq->mem;
	struct virtq_buf *buf = &c->buf[c->nr_out + c->nr_in];

	if (d->flags & VRING_DESC_F_INDIRECT)
		return virtq_fail(vq, -EINVAL, "indirect descriptor (not offered)");
	if (d->len && !mem->read(mem->opaque, d->addr, d->len))
		return virtq_fail(vq, -EFAULT, "buffer outside guest memory");
	buf->gpa = d->addr;
	buf->len = d->len;
	if (d->flags & VRING_DESC_F_WRITE) {
		c->nr_in++;
		c->in_len += d->len;
		return 0;
	}
	if (c->nr_in)
		return virtq_fail(vq, -EINVAL, "readable buffer after a writable one");
	c->nr_out++;
	c->out_len += d->len;
	return 0;
}

static int virtq_chain_walk(struct virtq *vq, uint16_t head, struct virtq_chain *c)
{
	unsigned limit = vq->size < VIRTQ_CHAIN_MAX ? vq->size : VIRTQ_CHAIN_MAX;
	struct vring_desc d;
	uint16_t i = head;
	int ret;

	if (head >= vq->size)
		return virtq_fail(vq, -EINVAL, "chain head out of range");
	c->head = head;
	c->nr_out = c->nr_in = 0;
	c->out_len = c->in_len = 0;
	for (unsigned n = 0;; n++) {
		if (n == limit)
			return virtq_fail(vq, -EINVAL, "descriptor loop or chain too long");
		virtq_desc_copy(vq, i, &d);
		ret = virtq_chain_add(vq, c, &d);
		if (ret)
			return ret;
		if (!(d.flags & VRING_DESC_F_NEXT))
			return 0;
		if (d.next >= vq->size)
			return virtq_fail(vq, -EINVAL, "next descriptor out of range");
		i = d.next;
	}
}

int virtq_pop(struct virtq *vq, struct virtq_chain *c)
{
	uint16_t idx, pending;
	int ret;

	if (!vq->ready)
		return 0;
	idx = virtq_avail_idx(vq);
	pending = (uint16_t) (idx - vq->last_avail);
	if (!pending)
		return 0;
	if (pending > vq->size)
		return virtq_fail(vq, -EINVAL, "avail index more than a queue ahead");
	ret = virtq_chain_walk(vq, virtq_avail_ring(vq, vq->last_avail), c);
	if (ret)
		return ret;
	vq->last_avail++;
	return 1;
}

int virtq_push(struct virtq *vq, uint16_t head, uint32_t written)
{
	const struct virtio_mem_ops *mem = vq->mem;
	uint64_t len = virtq_used_bytes(vq->size);
	struct vring_used *used;
	struct vring_used_elem *elem;

	if (!vq->ready)
		return -EINVAL;
	used = mem->write_begin(mem->opaque, vq->used_gpa, len);
	if (!used)
		return virtq_fail(vq, -EFAULT, "used ring not writable");
	elem = &used->ring[vq->used_idx & (vq->size - 1)];
	__atomic_store_n(&elem->id, (uint32_t) head, __ATOMIC_RELAXED);
	__atomic_store_n(&elem->len, written, __ATOMIC_RELAXED);
	vq->used_idx++;
	/* Release: the element is visible before the new idx. Pairs with the driver's read
	 * barrier after it loads used->idx (virtio_rmb in virtqueue_get_buf_ctx_split). */
	__atomic_store_n(&used->idx, vq->used_idx, __ATOMIC_RELEASE);
	mem->write_end(mem->opaque, vq->used_gpa, len);
	return 0;
}

bool virtq_needs_interrupt(struct virtq *vq)
{
	const struct vring_avail *avail = vq->avail;
	uint16_t flags;

	if (!vq->ready || vq->used_idx == vq->signalled)
		return false;
	vq->signalled = vq->used_idx;
	/* Full barrier: our used->idx store before the flags load. Pairs with the driver's
	 * virtio_mb in virtqueue_poll, between clearing NO_INTERRUPT and re-reading
	 * used->idx: either it sees our entries or we see the flag cleared. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	flags = __atomic_load_n(&avail->flags, __ATOMIC_RELAXED);
	return !(flags & VRING_AVAIL_F_NO_INTERRUPT);
}

ssize_t virtq_chain_read(struct virtq *vq, const struct virtq_chain *c, uint64_t off, void *dst,
			 size_t len)
{
	const struct virtio_mem_ops *mem = vq->mem;
	size_t done = 0;

	for (unsigned i = 0; i < c->nr_out && done < len; i++) {
		const struct virtq_buf *b = &c->buf[i];
		uint64_t n;
		const void *src;

		if (off >= b->len) {
			off -= b->len;
			continue;
		}
		n = b->len - off < len - done ? b->len - off : len - done;
		src = mem->read(mem->opaque, b->gpa + off, n);
		if (!src)
			return -EFAULT;
		memcpy((uint8_t *) dst + done, src, n);
		done += n;
		off = 0;
	}
	return done;
}

ssize_t virtq_chain_write(struct virtq *vq, const struct virtq_chain *c, uint64_t off,
			  const void *src, size_t len)
{
	const struct virtio_mem_ops *mem = vq->mem;
	size_t done = 0;

	for (unsigned i = c->nr_out; i < c->nr_out + c->nr_in && done < len; i++) {
		const struct virtq_buf *b = &c->buf[i];
		uint64_t n;
		void *dst;

		if (off >= b->len) {
			off -= b->len;
			continue;
		}
		n = b->len - off < len - done ? b->len - off : len - done;
		dst = mem->write_begin(mem->opaque, b->gpa + off, n);
		if (!dst)
			return -EFAULT;
		memcpy(dst, (const uint8_t *) src + done, n);
		mem->write_end(mem->opaque, b->gpa + off, n);
		done += n;
		off = 0;
	}
	return done;
}

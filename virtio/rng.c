/* rng.c - virtio entropy device: each request is a chain of writable buffers that we fill
 * with getrandom(2), through write_begin/end, up to VIRTIO_RNG_MAX_REQUEST bytes. */
#define pr_fmt(fmt) "virtio-rng: " fmt

#include "virtio/rng.h"

#include <errno.h>
#include <string.h>
#include <linux/virtio_ids.h>
#include <sys/random.h>

#include "lib/log.h"
#include "lib/page.h"
#include "virtio/virtq.h"

/* Fill @len bytes at @p. Returns 0 or -errno (no entropy: give nothing rather than
 * something predictable). */
static int rng_random(uint8_t *p, uint64_t len)
{
	while (len) {
		ssize_t n = getrandom(p, len, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		p += n;
		len -= n;
	}
	return 0;
}

/* One chunk of at most a page of buffer @b at byte @off: returns bytes written, 0 when
 * the host has no entropy to give, or -EFAULT. */
static int64_t rng_fill_chunk(const struct virtio_mem_ops *mem, const struct virtq_buf *b,
			      uint64_t off, uint64_t max)
{
	uint64_t n = b->len - off;
	uint8_t *p;
	int ret;

	if (n > PAGE_SIZE)
		n = PAGE_SIZE;
	if (n > max)
		n = max;
	p = mem->write_begin(mem->opaque, b->gpa + off, n);
	if (!p)
		return -EFAULT;
	ret = rng_random(p, n);
	mem->write_end(mem->opaque, b->gpa + off, n);
	if (ret) {
		pr_warn("getrandom: %s", strerror(-ret));
		return 0;
	}
	return n;
}

/* Fill the writable buffers of @c; returns bytes written, or -EFAULT. */
static int64_t rng_fill(struct virtio_dev *dev, const struct virtq_chain *c)
{
	const struct virtio_mem_ops *mem = virtio_dev_mem(dev);
	uint64_t done = 0;

	for (unsigned i = c->nr_out; i < c->nr_out + c->nr_in; i++) {
		for (uint64_t off = 0; off < c->buf[i].len && done < VIRTIO_RNG_MAX_REQUEST;) {
			int64_t n =
			    rng_fill_chunk(mem, &c->buf[i], off, VIRTIO_RNG_MAX_REQUEST - done);

			if (n <= 0)
				return n < 0 ? n : (int64_t) done;
			off += n;
			done += n;
		}
	}
	return done;
}

/* Requests: writable buffers only. At most a queue's worth per call, then the worker
 * comes back (other events get their turn against a guest that keeps adding). */
static int rng_notify(struct virtio_dev *dev, unsigned q)
{
	struct virtq *vq = virtio_dev_queue(dev, q);
	struct virtq_chain c;
	int ret = 0;

	for (unsigned n = 0; n < vq->size && (ret = virtq_pop(vq, &c)) > 0; n++) {
		int64_t len;

		if (c.nr_out || !c.nr_in) {
			vq->error = "request without writable buffers, or with readable ones";
			return -EINVAL;
		}
		len = rng_fill(dev, &c);
		if (len < 0)
			return len; /* a buffer outside memory */
		ret = virtq_push(vq, c.head, len);
		if (ret)
			return ret;
	}
	virtio_dev_signal_used(dev, q);
	if (ret > 0)
		virtio_dev_kick(dev, q);
	return ret < 0 ? ret : 0;
}

/* No save or load hook: the device holds nothing between requests. A restored or cloned
 * rng needs no reseeding either: every request is filled from the host's getrandom at
 * the time it is served, so each clone draws its own fresh entropy from its first
 * request on (the identity a clone's guest builds from it is its own). */
static const struct virtio_device_type rng_type = {
    .name = "rng",
    .device_id = VIRTIO_ID_RNG,
    .num_queues = 1,
    .queue_max = 256,
    .queue_notify = rng_notify,
};

struct virtio_dev *virtio_rng_create(const struct virtio_mem_ops *mem)
{
	return virtio_dev_create(&rng_type, mem, NULL);
}

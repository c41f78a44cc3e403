/* blk.c - virtio block device (virtio 1.x, section 5.2) over a raw image file.
 *
 * Requests are served one at a time on the device's worker thread (queue_notify), with
 * plain preadv/pwritev on the image, never on a vCPU. Why not io_uring (liburing): a raw
 * image sits on the host page cache, where a synchronous read or write is a memcpy and
 * one request at a time per disk is enough for a guest that boots and runs from it; it
 * needs no extra dependency, no completion ring to drain, and teardown is "stop the
 * worker, close the fd" with nothing in flight.
 *
 * Guest memory: writes (OUT) go from guest memory to pwritev directly through the read
 * pointers of the mem ops (reads need no guard). Reads (IN) land in a bounce buffer first
 * and are then copied into guest memory with virtq_chain_write, whose write_begin/end
 * holds off the merge engine's pauses only for that copy, never for the disk I/O.
 *
 * Snapshot mode: the image is opened read-only and never written. Each device has its
 * own overlay: an unlinked sparse temporary file as large as the image (O_TMPFILE in
 * $TMPDIR, default /var/tmp; mkostemp + unlink where the file system lacks O_TMPFILE) and
 * a bitmap of the VIRTIO_BLK_CLUSTER-sized clusters it holds. A read takes every cluster
 * from the overlay or the image; a write that covers part of a cluster not yet in the
 * overlay copies the image's cluster there first. The overlay dies with the device; a
 * device snapshot carries its clusters, and each device restored from it gets its own
 * overlay holding a copy of them (blk_disk.c, which also keeps the image and overlay I/O).
 *
 * Guest errors (a chain without a readable 16-byte header or a final writable status
 * byte, data of the wrong direction for the type, data not in whole sectors, an oversized
 * request) put the device in DEVICE_NEEDS_RESET. Host trouble (an I/O error) and a sector
 * range beyond capacity are VIRTIO_BLK_S_IOERR to the guest. */
#define pr_fmt(fmt) "virtio-blk: " fmt

#include "virtio/blk.h"

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/virtio_blk.h>
#include <linux/virtio_ids.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/uio.h>
#include <unistd.h>

#include "lib/errbuf.h"
#include "lib/log.h"
#include "virtio/blk_internal.h"
#include "virtio/virtq.h"

#define BLK_HDR_LEN 16u /* struct virtio_blk_outhdr */

/* One request's header and data, after its shape was checked. */
struct blk_req {
	uint32_t type;
	uint64_t sector;
	uint64_t data_len; /* bytes of data (readable for OUT, writable for IN / GET_ID) */
};

static void blk_count(uint64_t *counter, uint64_t n)
{
	__atomic_fetch_add(counter, n, __ATOMIC_RELAXED);
}

/* --- Requests ------------------------------------------------------------------------ */

/* Is [sector, sector + len) inside the disk? */
static bool blk_range_ok(const struct virtio_blk *blk, const struct blk_req *r)
{
	uint64_t sectors = blk->size / BLK_SECTOR;

	return r->sector <= sectors && r->data_len / BLK_SECTOR <= sectors - r->sector;
}

/* IN: disk to bounce buffer to guest, BLK_BOUNCE bytes at a time. Returns a status, or
 * -EFAULT when the guest's buffers cannot be written. */
static int blk_do_in(struct virtio_blk *blk, struct virtq *vq, const struct virtq_chain *c,
		     const struct blk_req *r)
{
	uint64_t base = r->sector * BLK_SECTOR;

	for (uint64_t done = 0; done < r->data_len;) {
		uint64_t n = r->data_len - done < BLK_BOUNCE ? r->data_len - done : BLK_BOUNCE;
		int ret = virtio_blk_disk_read(blk, blk->bounce, base + done, n);

		if (ret) {
			pr_warn("read at %llu: %s", (unsigned long long) (base + done),
				strerror(-ret));
			return VIRTIO_BLK_S_IOERR;
		}
		if (virtq_chain_write(vq, c, done, blk->bounce, n) != (ssize_t) n)
			return -EFAULT;
		done += n;
	}
	blk_count(&blk->stats.reads, 1);
	blk_count(&blk->stats.bytes_read, r->data_len);
	return VIRTIO_BLK_S_OK;
}

/* The data of an OUT request as host pointers: the readable buffers past the header. */
static int blk_out_iov(const struct virtio_mem_ops *mem, const struct virtq_chain *c,
		       struct iovec *iov)
{
	uint64_t skip = BLK_HDR_LEN;
	int cnt = 0;

	for (unsigned i = 0; i < c->nr_out; i++) {
		uint64_t len = c->buf[i].len;
		const void *p;

		if (skip >= len) {
			skip -= len;
			continue;
		}
		p = mem->read(mem->opaque, c->buf[i].gpa + skip, len - skip);
		if (!p)
			return -EFAULT;
		iov[cnt].iov_base = (void *) p;
		iov[cnt++].iov_len = len - skip;
		skip = 0;
	}
	return cnt;
}

static int blk_do_out(struct virtio_blk *blk, const struct virtio_mem_ops *mem,
		      const struct virtq_chain *c, const struct blk_req *r)
{
	struct iovec iov[VIRTQ_CHAIN_MAX];
	int cnt, ret;

	if (blk->mode == VIRTIO_BLK_READONLY)
		return VIRTIO_BLK_S_IOERR;
	cnt = blk_out_iov(mem, c, iov);
	if (cnt < 0)
		return cnt;
	ret = cnt ? virtio_blk_disk_write(blk, iov, cnt, r->sector * BLK_SECTOR, r->data_len) : 0;
	if (ret) {
		pr_warn("write at sector %llu: %s", (unsigned long long) r->sector, strerror(-ret));
		return VIRTIO_BLK_S_IOERR;
	}
	blk_count(&blk->stats.writes, 1);
	blk_count(&blk->stats.bytes_written, r->data_len);
	return VIRTIO_BLK_S_OK;
}

/* FLUSH: fdatasync in rw mode. A snapshot overlay is private and discarded with the
 * device, and a read-only image has nothing to write back: nothing to do for either. */
static int blk_do_flush(struct virtio_blk *blk)
{
	if (blk->mode == VIRTIO_BLK_RW && fdatasync(blk->fd) < 0) {
		pr_warn("fdatasync: %s", strerror(errno));
		return VIRTIO_BLK_S_IOERR;
	}
	blk_count(&blk->stats.flushes, 1);
	return VIRTIO_BLK_S_OK;
}

/* GET_ID: the serial, zero-padded, into at most VIRTIO_BLK_ID_BYTES of the data. */
static int blk_do_get_id(struct virtio_blk *blk, struct virtq *vq, const struct virtq_chain *c,
			 const struct blk_req *r)
{
	uint64_t n = r->data_len < VIRTIO_BLK_ID_BYTES ? r->data_len : VIRTIO_BLK_ID_BYTES;

	if (virtq_chain_write(vq, c, 0, blk->serial, n) != (ssize_t) n)
		return -EFAULT;
	blk_count(&blk->stats.get_ids, 1);
	return VIRTIO_BLK_S_OK;
}

/* Data segments of @c (buffers holding data bytes, header and status excluded) within
 * SEG_MAX and each within SIZE_MAX? */
static bool blk_segments_ok(const struct virtq_chain *c, bool out, uint64_t data_len)
{
	unsigned first = out ? 0 : c->nr_out, end = out ? c->nr_out : c->nr_out + c->nr_in;
	uint64_t skip = out ? BLK_HDR_LEN : 0, left = data_len;
	unsigned segs = 0;

	for (unsigned i = first; i < end && left; i++) {
		uint64_t n = c->buf[i].len;

		n = skip >= n ? 0 : n - skip;
		skip = skip >= c->buf[i].len ? skip - c->buf[i].len : 0;
		n = n < left ? n : left;
		if (!n)
			continue;
		if (n > VIRTIO_BLK_SIZE_MAX || ++segs > VIRTIO_BLK_SEG_MAX)
			return false;
		left -= n;
	}
	return true;
}

/* Check the chain's shape for the request type and fill @r. 0, or -EINVAL / -E2BIG (a
 * guest error) with *@why set. */
static int blk_parse(struct virtq *vq, const struct virtq_chain *c, struct blk_req *r,
		     const char **why)
{
	struct virtio_blk_outhdr h;
	uint64_t extra_out;

	*why = c->out_len < BLK_HDR_LEN ? "no readable header" : "no status byte";
	if (c->out_len < BLK_HDR_LEN || !c->in_len)
		return -EINVAL;
	extra_out = c->out_len - BLK_HDR_LEN;
	if (virtq_chain_read(vq, c, 0, &h, sizeof(h)) != sizeof(h))
		return -EFAULT;
	r->type = le32toh(h.type);
	r->sector = le64toh(h.sector);
	r->data_len = r->type == VIRTIO_BLK_T_OUT ? extra_out : c->in_len - 1;
	*why = "data of the wrong direction";
	if (r->type == VIRTIO_BLK_T_OUT && c->in_len != 1)
		return -EINVAL;
	if ((r->type == VIRTIO_BLK_T_IN || r->type == VIRTIO_BLK_T_GET_ID) && extra_out)
		return -EINVAL;
	if (r->type == VIRTIO_BLK_T_FLUSH && (extra_out || c->in_len != 1))
		return -EINVAL;
	if (r->type != VIRTIO_BLK_T_IN && r->type != VIRTIO_BLK_T_OUT)
		return 0;
	*why = "data not in whole sectors";
	if (r->data_len % BLK_SECTOR)
		return -EINVAL;
	*why = "oversized request";
	if (r->data_len > VIRTIO_BLK_REQ_MAX ||
	    !blk_segments_ok(c, r->type == VIRTIO_BLK_T_OUT, r->data_len))
		return -E2BIG;
	return 0;
}

/* Serve one parsed request: a VIRTIO_BLK_S_* status, or -errno (guest error). */
static int blk_serve(struct virtio_dev *dev, struct virtq *vq, const struct virtq_chain *c,
		     const struct blk_req *r)
{
	struct virtio_blk *blk = virtio_dev_priv(dev);

	if ((r->type == VIRTIO_BLK_T_IN || r->type == VIRTIO_BLK_T_OUT) && !blk_range_ok(blk, r))
		return VIRTIO_BLK_S_IOERR;
	switch (r->type) {
	case VIRTIO_BLK_T_IN: return blk_do_in(blk, vq, c, r);
	case VIRTIO_BLK_T_OUT: return blk_do_out(blk, virtio_dev_mem(dev), c, r);
	case VIRTIO_BLK_T_FLUSH: return blk_do_flush(blk);
	case VIRTIO_BLK_T_GET_ID: return blk_do_get_id(blk, vq, c, r);
	}
	blk_count(&blk->stats.unsupported, 1);
	return VIRTIO_BLK_S_UNSUPP;
}

/* One chain: parse, serve, write the status byte (the last writable byte), push. The used
 * length is the whole writable area, which ends with the status. */
static int blk_request(struct virtio_dev *dev, struct virtq *vq, const struct virtq_chain *c)
{
	struct virtio_blk *blk = virtio_dev_priv(dev);
	struct blk_req r;
	const char *why;
	uint8_t status;
	int ret = blk_parse(vq, c, &r, &why);

	if (ret) {
		vq->error = ret == -EFAULT ? "request buffer outside guest RAM" : why;
		return ret;
	}
	ret = blk_serve(dev, vq, c, &r);
	if (ret < 0)
		return ret;
	if (ret == VIRTIO_BLK_S_IOERR)
		blk_count(&blk->stats.errors, 1);
	status = ret;
	if (virtq_chain_write(vq, c, c->in_len - 1, &status, 1) != 1)
		return -EFAULT;
	return virtq_push(vq, c->head, c->in_len);
}

/* Worker: at most a queue's worth of requests per call, then come back (other events get
 * their turn against a guest that keeps adding). */
static int blk_notify(struct virtio_dev *dev, unsigned q)
{
	struct virtq *vq = virtio_dev_queue(dev, q);
	struct virtq_chain c;
	int ret = 0;

	for (unsigned n = 0; n < vq->size && (ret = virtq_pop(vq, &c)) > 0; n++) {
		int err = blk_request(dev, vq, &c);

		if (err) {
			virtio_dev_signal_used(dev, q);
			return err;
		}
	}
	virtio_dev_signal_used(dev, q);
	if (ret > 0)
		virtio_dev_kick(dev, q);
	return ret < 0 ? ret : 0;
}

/* --- Creation ------------------------------------------------------------------------ */

static void blk_free(struct virtio_blk *blk)
{
	if (blk->overlay_fd >= 0)
		close(blk->overlay_fd);
	if (blk->fd >= 0)
		close(blk->fd);
	free(blk->map);
	free(blk->bounce);
	free(blk->path);
	free(blk);
}

static void blk_destroy(struct virtio_dev *dev)
{
	blk_free(virtio_dev_priv(dev));
}

static const struct virtio_device_type blk_type = {
    .name = "blk",
    .device_id = VIRTIO_ID_BLOCK,
    .features = (1ull << VIRTIO_BLK_F_SIZE_MAX) | (1ull << VIRTIO_BLK_F_SEG_MAX) |
		(1ull << VIRTIO_BLK_F_BLK_SIZE) | (1ull << VIRTIO_BLK_F_FLUSH),
    .num_queues = 1,
    .queue_max = VIRTIO_BLK_QUEUE_SIZE,
    .config_size = sizeof(struct virtio_blk_config),
    .queue_notify = blk_notify,
    .destroy = blk_destroy,
    .save = virtio_blk_save,
    .load = virtio_blk_load,
};

int virtio_blk_mode_parse(const char *s, enum virtio_blk_mode *mode)
{
	static const char *const names[] = {"rw", "readonly", "snapshot"};

	for (unsigned i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (!strcmp(s, names[i])) {
			*mode = i;
			return 0;
		}
	}
	return -EINVAL;
}

static void blk_config_init(struct virtio_dev *dev, const struct virtio_blk *blk)
{
	struct virtio_blk_config cfg;

	memset(&cfg, 0, sizeof(cfg));
	cfg.capacity = htole64(blk->size / BLK_SECTOR);
	cfg.size_max = htole32(VIRTIO_BLK_SIZE_MAX);
	cfg.seg_max = htole32(VIRTIO_BLK_SEG_MAX);
	cfg.blk_size = htole32(BLK_SECTOR);
	virtio_config_update(dev, 0, &cfg, sizeof(cfg));
}

static struct virtio_blk *blk_open(const char *path, enum virtio_blk_mode mode, const char *serial,
				   char *err, size_t errlen)
{
	struct virtio_blk *blk = calloc(1, sizeof(*blk));

	if (!blk) {
		errbuf_set(err, errlen, -ENOMEM, "out of memory");
		return NULL;
	}
	blk->mode = mode;
	blk->fd = blk->overlay_fd = -1;
	if (serial)
		memcpy(blk->serial, serial, strlen(serial)); /* length checked by the caller */
	blk->bounce = malloc(BLK_BOUNCE);
	if (!blk->bounce) {
		errbuf_set(err, errlen, -ENOMEM, "out of memory");
		goto err_free;
	}
	if (virtio_blk_image_open(blk, path, err, errlen))
		goto err_free;
	if (mode == VIRTIO_BLK_SNAPSHOT && virtio_blk_overlay_open(blk, err, errlen))
		goto err_free;
	blk->stats.capacity = blk->size / BLK_SECTOR;
	return blk;

err_free:
	blk_free(blk);
	return NULL;
}

struct virtio_dev *virtio_blk_create(const struct virtio_mem_ops *mem, const char *path,
				     enum virtio_blk_mode mode, const char *serial, char *err,
				     size_t errlen)
{
	struct virtio_blk *blk;
	struct virtio_dev *dev;

	if (!path || mode > VIRTIO_BLK_SNAPSHOT ||
	    (serial && strlen(serial) > VIRTIO_BLK_SERIAL_MAX)) {
		errbuf_set(err, errlen, -EINVAL,
			   "no path, bad mode, or serial longer than %u bytes",
			   VIRTIO_BLK_SERIAL_MAX);
		return NULL;
	}
	blk = blk_open(path, mode, serial, err, errlen);
	if (!blk)
		return NULL;
	dev = virtio_dev_create(&blk_type, mem, blk);
	if (!dev) {
		errbuf_set(err, errlen, -ENOMEM, "cannot create the virtio device");
		goto err_free_blk;
	}
	if (mode == VIRTIO_BLK_READONLY &&
	    virtio_dev_offer(dev, blk_type.features | (1ull << VIRTIO_BLK_F_RO)))
		goto err_destroy_dev;
	blk_config_init(dev, blk);
	return dev;

err_destroy_dev:
	virtio_dev_destroy(dev); /* frees blk through blk_destroy */
	errbuf_set(err, errlen, -EINVAL, "cannot offer the read-only feature");
	return NULL;
err_free_blk:
	blk_free(blk);
	return NULL;
}

void virtio_blk_stats(struct virtio_dev *dev, struct virtio_blk_stats *out)
{
	struct virtio_blk *blk = virtio_dev_priv(dev);
	const uint64_t *src = (const uint64_t *) &blk->stats;
	uint64_t *dst = (uint64_t *) out;

	for (size_t i = 0; i < sizeof(*out) / sizeof(uint64_t); i++)
		dst[i] = __atomic_load_n(&src[i], __ATOMIC_RELAXED);
}

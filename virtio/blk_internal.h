/* blk_internal.h - struct virtio_blk, shared by the request path (blk.c) and the disk under
 * it (blk_disk.c: the image, the snapshot overlay, and the disk's saved state). */
#ifndef VIRTIO_BLK_INTERNAL_H
#define VIRTIO_BLK_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "virtio/blk.h"

#define BLK_SECTOR 512u
/* Reads (and saved overlay runs) are staged through this many bytes at a time. */
#define BLK_BOUNCE (128u * 1024)

struct sbuf;
struct sbuf_reader;

struct virtio_blk {
	enum virtio_blk_mode mode;
	char *path;	/* the image, as given (the disk's identity in a snapshot) */
	int fd;		/* the image */
	int overlay_fd; /* snapshot: the private overlay, else -1 */
	uint64_t size;	/* capacity in bytes (a multiple of BLK_SECTOR) */
	uint64_t *map;	/* snapshot: bit per cluster, set when the overlay holds it */
	uint8_t *bounce;
	char serial[VIRTIO_BLK_SERIAL_MAX]; /* zero-padded, not terminated */
	struct virtio_blk_stats stats;	    /* updated by the worker, read by anyone */
};

/* Read [off, off + len) of the disk as the guest sees it into @buf. 0 or -errno. */
int virtio_blk_disk_read(struct virtio_blk *blk, uint8_t *buf, uint64_t off, uint64_t len);

/* Write @iov (@cnt entries, modified; @len bytes) at @off of the disk. 0 or -errno. */
int virtio_blk_disk_write(struct virtio_blk *blk, struct iovec *iov, int cnt, uint64_t off,
			  uint64_t len);

/* Open and lock the image at @path (blk->mode says how), size it, keep its path. 0, or
 * -errno with a message in @err. */
int virtio_blk_image_open(struct virtio_blk *blk, const char *path, char *err, size_t errlen);

/* Snapshot mode: make the private overlay and its cluster map. 0, or -errno with a
 * message in @err. */
int virtio_blk_overlay_open(struct virtio_blk *blk, char *err, size_t errlen);

/* virtio_device_type.save / .load of the block device (see blk_disk.c). */
int virtio_blk_save(struct virtio_dev *dev, struct sbuf *out);
int virtio_blk_load(struct virtio_dev *dev, struct sbuf_reader *in);

#endif

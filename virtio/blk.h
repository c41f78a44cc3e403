/* blk.h - virtio block device over a raw image file: read-write, read-only, or snapshot
 * (a private copy-on-write overlay per device, the image never written). */
#ifndef VIRTIO_BLK_H
#define VIRTIO_BLK_H

#include <stddef.h>
#include <stdint.h>

#include "virtio/virtio.h"

enum virtio_blk_mode {
	VIRTIO_BLK_RW,	     /* guest writes go to the image; FLUSH is fdatasync */
	VIRTIO_BLK_READONLY, /* VIRTIO_BLK_F_RO offered; OUT requests get IOERR */
	VIRTIO_BLK_SNAPSHOT, /* writes go to a private overlay, discarded at destroy */
};

/* Queue size (QueueNumMax) and the request limits offered in config space. A chain needs
 * a header and a status descriptor besides its data, so seg_max + 2 fits the queue. A
 * request above any limit is a guest error (DEVICE_NEEDS_RESET): SEG_MAX data segments,
 * SIZE_MAX bytes per segment, VIRTIO_BLK_REQ_MAX data bytes in total. REQ_MAX is at least
 * SEG_MAX * SIZE_MAX, so a driver that honours the two config limits never exceeds it. */
#define VIRTIO_BLK_QUEUE_SIZE 128u
#define VIRTIO_BLK_SEG_MAX (VIRTIO_BLK_QUEUE_SIZE - 2)
#define VIRTIO_BLK_SIZE_MAX (32u * 1024)
#define VIRTIO_BLK_REQ_MAX (4u * 1024 * 1024)

/* Snapshot overlay granularity: a write covering part of a cluster first copies the
 * image's cluster into the overlay. */
#define VIRTIO_BLK_CLUSTER 4096u

/* Longest serial (the GET_ID answer, VIRTIO_BLK_ID_BYTES). */
#define VIRTIO_BLK_SERIAL_MAX 20u

/* Counters of one disk since creation, for reports. */
struct virtio_blk_stats {
	uint64_t capacity;	   /* 512-byte sectors */
	uint64_t reads;		   /* IN requests completed OK */
	uint64_t writes;	   /* OUT requests completed OK */
	uint64_t flushes;	   /* FLUSH requests completed OK */
	uint64_t get_ids;	   /* GET_ID requests */
	uint64_t bytes_read;	   /* data bytes of OK IN requests */
	uint64_t bytes_written;	   /* data bytes of OK OUT requests */
	uint64_t errors;	   /* requests answered VIRTIO_BLK_S_IOERR */
	uint64_t unsupported;	   /* requests answered VIRTIO_BLK_S_UNSUPP */
	uint64_t overlay_clusters; /* snapshot: clusters held in the overlay */
};

/* "rw", "readonly" or "snapshot" to @mode: 0, or -EINVAL. */
int virtio_blk_mode_parse(const char *s, enum virtio_blk_mode *mode);

/* A virtio-blk device (VIRTIO_ID_BLOCK, one request queue) over guest memory @mem, backed
 * by the raw image at @path (capacity: its size rounded down to 512 bytes; at least one
 * sector). @serial (NULL: none) is at most VIRTIO_BLK_SERIAL_MAX bytes. The image is
 * locked: exclusively (flock) in rw mode, shared otherwise, so a rw disk is never also
 * attached elsewhere while N snapshot or readonly disks may share one image. Snapshot
 * overlays are unlinked temporary files in $TMPDIR (default /var/tmp). Returns NULL on
 * error with a message in @err (@errlen bytes). Free with virtio_dev_destroy. */
struct virtio_dev *virtio_blk_create(const struct virtio_mem_ops *mem, const char *path,
				     enum virtio_blk_mode mode, const char *serial, char *err,
				     size_t errlen);

/* Copy the counters of blk device @dev to @out (any thread; each counter read once). */
void virtio_blk_stats(struct virtio_dev *dev, struct virtio_blk_stats *out);

#endif

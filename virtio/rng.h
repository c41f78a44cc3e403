/* rng.h - virtio entropy device: fills the driver's buffers from getrandom(2). */
#ifndef VIRTIO_RNG_H
#define VIRTIO_RNG_H

#include "virtio/virtio.h"

/* Most bytes given for one request; a larger request gets this many (the driver asks
 * again). */
#define VIRTIO_RNG_MAX_REQUEST (64 * 1024)

/* A virtio-rng device (VIRTIO_ID_RNG, one request queue) over guest memory @mem. NULL on
 * error. Free with virtio_dev_destroy. */
struct virtio_dev *virtio_rng_create(const struct virtio_mem_ops *mem);

#endif

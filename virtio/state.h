/* state.h - a virtio device's state as bytes: saved from a quiesced device, loaded into a
 * fresh one (snapshot, restore, clone), so that the guest's driver simply goes on.
 *
 * What is saved: the transport (status with NEEDS_RESET, feature selections, offered and
 * accepted features, queue select, InterruptStatus, config generation and bytes) and every
 * queue (size, ready, ring addresses, next avail index, used index), then the device
 * type's own state (virtio_device_type.save). Not saved: anything of the host side (fds,
 * threads, the guest-memory ops), which the new device brings with it.
 *
 * Loading checks every value as the transport checks the driver's writes: a ready queue is
 * enabled again through virtq_enable (size a power of two within QueueNumMax, rings
 * aligned and inside this device's guest memory), features and status must be ones the
 * transport could have reached, and the type, its queues and its offered features must
 * be this device's. */
#ifndef VIRTIO_STATE_H
#define VIRTIO_STATE_H

#include "lib/sbuf.h"
#include "virtio/virtio.h"

/* Version of the section body virtio_dev_save writes (its first u32). */
#define VIRTIO_STATE_VERSION 1u

/* Append @dev's state to @out. The worker must be stopped (virtio_dev_stop, called before
 * the guest is paused: a worker held off by a pause in write_begin cannot stop) and the
 * guest's vCPUs paused, so that nothing changes while it is read: returns -EBUSY while
 * the worker runs, -EBUSY or -errno from the type's save, -ENOMEM if @out could not grow,
 * else 0. Other threads (control requests) may still call in; the device lock holds them
 * off. */
int virtio_dev_save(struct virtio_dev *dev, struct sbuf *out);

/* Load a section written by virtio_dev_save into @dev: a device just created with this
 * guest's configuration over this guest's memory (whose content is the snapshot's),
 * before virtio_dev_start. Reads exactly one section from @in. Returns 0, or -EINVAL with
 * the reason in @in->why (the device is then reset: status 0, no queue ready), or -EBUSY
 * if the worker runs. After a successful load, every ready queue of a running driver is
 * kicked (notifications the old device had not yet handled are not lost), and the first
 * virtio_dev_start raises the interrupt again if InterruptStatus is set. */
int virtio_dev_load(struct virtio_dev *dev, struct sbuf_reader *in);

#endif

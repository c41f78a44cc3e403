/* virtio.h - what a virtio device type gives the transport, and what the transport and
 * the host (the VMM) give a device: guest memory ops, queues, config space, interrupts.
 *
 * Model: one struct virtio_dev per device instance, created by the device's own
 * constructor (virtio_rng_create(), ...) through virtio_dev_create(). The VMM maps its
 * register window with virtio_mmio_access() (virtio/mmio.h), registers the eventfds that
 * virtio_dev_eventfds() returns with KVM_IOEVENTFD / KVM_IRQFD, and calls
 * virtio_dev_start(). Queue work runs on the device's worker thread, never on a vCPU.
 * Only virtio 1.x (VIRTIO_F_VERSION_1 always offered and required), split rings. */
#ifndef VIRTIO_VIRTIO_H
#define VIRTIO_VIRTIO_H

#include <stdbool.h>
#include <stdint.h>

/* Guest RAM as a device may touch it. Pointers from read() are cached by virtqueues from
 * QueueReady until reset or destroy: the VMM keeps guest RAM mapped at fixed host
 * addresses for the device's life (merges replace pages in place). */
struct virtio_mem_ops {
	/* Checked translation for reading [gpa, gpa+len): host pointer or NULL. */
	const void *(*read)(void *opaque, uint64_t gpa, uint64_t len);
	/* Begin a write of [gpa, gpa+len): host pointer or NULL (nothing held). Holds
	 * off the merge engine's pauses until write_end, which also marks the pages dirty
	 * for the engine (KVM's dirty log does not see VMM writes). Keep it short. */
	void *(*write_begin)(void *opaque, uint64_t gpa, uint64_t len);
	void (*write_end)(void *opaque, uint64_t gpa, uint64_t len);
	void *opaque;
};

struct virtio_dev;
struct virtq;
struct sbuf;
struct sbuf_reader;

/* Queues per device and the largest queue size the layer accepts. */
#define VIRTIO_MAX_QUEUES 8
/* Extra file descriptors a device may have its worker poll (console input, timers). */
#define VIRTIO_MAX_WATCHES 4
/* Largest config space (the mmio window has 0x100 bytes for it). */
#define VIRTIO_CONFIG_MAX 0x100

/* A device type: constant data plus callbacks. Every callback gets the device; its own
 * state is virtio_dev_priv(dev). Callbacks marked "worker" run on the device's worker
 * thread with the device lock held; "vCPU" ones on the thread of the MMIO access, also
 * with the device lock held. A callback returning -errno for a guest mistake puts the
 * device in DEVICE_NEEDS_RESET (see virtio_dev_fail()). */
struct virtio_device_type {
	const char *name;     /* "rng", "console", ...: log prefix */
	uint32_t device_id;   /* VIRTIO_ID_* */
	uint64_t features;    /* offered device bits; VIRTIO_F_VERSION_1 is added;
			       * INDIRECT_DESC, EVENT_IDX and RING_PACKED are not
			       * implemented (a type offering them is refused) */
	unsigned num_queues;  /* 1..VIRTIO_MAX_QUEUES */
	uint16_t queue_max;   /* QueueNumMax: a power of two, <= VIRTQ_MAX_SIZE */
	uint32_t config_size; /* bytes of config space, <= VIRTIO_CONFIG_MAX */
	/* Worker: the driver notified queue @q (or virtio_dev_kick() did). Pop chains,
	 * push used, then virtio_dev_signal_used(). Return 0 or -errno (guest error). */
	int (*queue_notify)(struct virtio_dev *dev, unsigned q);
	/* Optional, vCPU: the driver set DRIVER_OK; features are final. 0 or -errno. */
	int (*driver_ok)(struct virtio_dev *dev);
	/* Optional, vCPU: the device was reset (status 0 written); queues are already
	 * reset. Drop anything in flight; no guest memory may be touched after return. */
	void (*reset)(struct virtio_dev *dev);
	/* Optional, vCPU: the driver wrote @len bytes at @off of config space. Return true
	 * to keep them (stored by the transport), false to ignore the write. Runs with the
	 * config lock held (not the device lock): must not call virtio_config_*(). If NULL,
	 * config space is read-only for the driver. */
	bool (*config_write)(struct virtio_dev *dev, uint32_t off, const uint8_t *data,
			     unsigned len);
	/* Optional: free the device's state; the worker is already stopped. */
	void (*destroy)(struct virtio_dev *dev);
	/* Optional, snapshot (virtio/state.h): append the device's own state to @out, with
	 * the device lock held and the worker stopped. 0, or -errno (-EBUSY: something is
	 * in flight that cannot be saved). Without it the device has no state of its own. */
	int (*save)(struct virtio_dev *dev, struct sbuf *out);
	/* Optional, restore: read back what save wrote into a device of this type that was
	 * created with this guest's configuration and has just had its transport state
	 * loaded (features, status and queues are final; no worker runs). @in holds exactly
	 * the saved bytes, which are untrusted: check every value. 0, or -EINVAL with the
	 * reason set by sbuf_check. On failure the caller resets the device. */
	int (*load)(struct virtio_dev *dev, struct sbuf_reader *in);
};

/* Create a device of @type over guest memory @mem (copied), with device state @priv.
 * Creates the eventfds (one per queue, one irqfd) but no thread. Returns NULL on error
 * (bad type, out of fds or memory; logged). */
struct virtio_dev *virtio_dev_create(const struct virtio_device_type *type,
				     const struct virtio_mem_ops *mem, void *priv);

/* Stop the worker if running, call type->destroy, close every fd, free. NULL is a no-op.
 * The VMM deassigns its KVM_IOEVENTFD / KVM_IRQFD registrations of the fds first. */
void virtio_dev_destroy(struct virtio_dev *dev);

/* Replace the offered device feature bits (default type->features) before the driver
 * reads them (before virtio_dev_start). VIRTIO_F_VERSION_1 is always added. Returns 0,
 * or -EINVAL for a feature the layer does not support (INDIRECT_DESC, EVENT_IDX, packed
 * rings). */
int virtio_dev_offer(struct virtio_dev *dev, uint64_t features);

/* Fds for the VMM to register: @notify[q] for queue q (KVM_IOEVENTFD on QueueNotify,
 * datamatch q), for q < min(@max, number of queues); *@irqfd for KVM_IRQFD. Returns the
 * number of queues. The fds stay owned by the device (closed by virtio_dev_destroy). If
 * the VMM cannot register an ioeventfd, QueueNotify writes reach virtio_mmio_access(),
 * which signals the same eventfd. */
int virtio_dev_eventfds(struct virtio_dev *dev, int *notify, unsigned max, int *irqfd);

/* For a level-triggered interrupt line: the fd to pass as resamplefd with
 * KVM_IRQFD_FLAG_RESAMPLE. When the guest ends the interrupt (EOI), KVM lowers the line
 * and signals this fd; the worker raises the line again while InterruptStatus is not
 * zero. Not needed for edge-triggered lines. Owned by the device. */
int virtio_dev_resamplefd(struct virtio_dev *dev);

/* Start / stop the worker thread (epoll over the notify fds and watches). start returns
 * 0 or -errno; stop waits for the thread to exit and is a no-op when not running. */
int virtio_dev_start(struct virtio_dev *dev);
void virtio_dev_stop(struct virtio_dev *dev);

/* Run one round of the worker's loop on the calling thread: wait up to @timeout_ms (0:
 * do not wait, -1: forever) for notifications and watched fds, handle them. Returns the
 * number of events handled, or -errno. Only while the worker is not started: this is how
 * unit tests and fuzz targets drive a device without threads. */
int virtio_dev_poll(struct virtio_dev *dev, int timeout_ms);

/* Have the worker poll @fd (readable, level-triggered) and call @fn with the device lock
 * held. @fn returns 0, or -errno for a guest error (the device goes to NEEDS_RESET); host
 * trouble (EOF, a full buffer) is the device's to handle, typically by unwatching the fd
 * until it can make progress. Call before start or from the worker (e.g. inside a
 * callback). Returns 0, -ENOSPC (VIRTIO_MAX_WATCHES in use), or -errno from epoll. */
int virtio_dev_watch(struct virtio_dev *dev, int fd, int (*fn)(struct virtio_dev *dev, int fd));
void virtio_dev_unwatch(struct virtio_dev *dev, int fd);

/* Accessors for device code. */
void *virtio_dev_priv(struct virtio_dev *dev);
const struct virtio_mem_ops *virtio_dev_mem(struct virtio_dev *dev);
struct virtq *virtio_dev_queue(struct virtio_dev *dev, unsigned q); /* NULL if q bad */
uint64_t virtio_dev_features(struct virtio_dev *dev);		    /* accepted by the driver */
uint8_t virtio_dev_status(struct virtio_dev *dev);		    /* device status register */
const char *virtio_dev_name(struct virtio_dev *dev);		    /* label, or type->name */

/* Name the device in log lines, e.g. "g3/rng" (copied, truncated to 31 bytes). */
void virtio_dev_set_label(struct virtio_dev *dev, const char *label);

/* Worker: after pushing used buffers on queue @q, raise the used-buffer interrupt
 * (InterruptStatus bit 0, then the irqfd) unless the driver suppressed it. */
void virtio_dev_signal_used(struct virtio_dev *dev, unsigned q);

/* Have the worker run queue @q's handler as if the driver had notified it (any thread;
 * e.g. the console when input arrives and buffers may be waiting). */
void virtio_dev_kick(struct virtio_dev *dev, unsigned q);

/* The guest broke the protocol: set DEVICE_NEEDS_RESET, raise a config interrupt, log
 * one line (rate-limited per device). The device ignores notifications until the driver
 * resets it. Any thread; idempotent. */
void virtio_dev_fail(struct virtio_dev *dev, int err, const char *why);

/* Device side of config space, any thread (takes the config lock). virtio_config_update
 * stores @len bytes at @off, bumps ConfigGeneration and, once DRIVER_OK is set, raises
 * the config-change interrupt; use it for every change the device makes after creation
 * (also for initial values: it is harmless before the driver runs). Out-of-range
 * requests are ignored (get fills zeros). */
void virtio_config_update(struct virtio_dev *dev, uint32_t off, const void *data, uint32_t len);
void virtio_config_get(struct virtio_dev *dev, uint32_t off, void *data, uint32_t len);

#endif

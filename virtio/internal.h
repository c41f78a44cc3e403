/* internal.h - struct virtio_dev, shared by the device core (virtio.c) and the mmio
 * register file (mmio.c); devices use the accessors of virtio/virtio.h instead. */
#ifndef VIRTIO_INTERNAL_H
#define VIRTIO_INTERNAL_H

#include <pthread.h>
#include <stdint.h>

#include "virtio/virtio.h"
#include "virtio/virtq.h"

struct virtio_watch {
	int fd; /* -1: free slot */
	int (*fn)(struct virtio_dev *dev, int fd);
};

struct virtio_dev {
	const struct virtio_device_type *type;
	struct virtio_mem_ops mem;
	void *priv;
	char label[32];

	/* Device lock: transport registers, queues and the device's callbacks. Taken by the
	 * vCPU thread for register accesses and by the worker around handlers. */
	pthread_mutex_t lock;
	uint64_t offered;      /* DeviceFeatures */
	uint64_t accepted;     /* DriverFeatures */
	uint32_t dev_feat_sel; /* DeviceFeaturesSel */
	uint32_t drv_feat_sel; /* DriverFeaturesSel */
	uint32_t queue_sel;    /* QueueSel */
	struct virtq vq[VIRTIO_MAX_QUEUES];
	/* Status and InterruptStatus are atomics: virtio_dev_fail and interrupts touch them
	 * from any thread without the lock; the driver's status writes hold it. */
	uint32_t status;
	uint32_t isr;

	/* Config lock: config bytes and generation; never held across a device callback
	 * except config_write. */
	pthread_mutex_t cfg_lock;
	uint32_t generation; /* ConfigGeneration */
	uint8_t config[VIRTIO_CONFIG_MAX];

	int notify_fd[VIRTIO_MAX_QUEUES]; /* eventfds, one per queue (ioeventfd) */
	int irq_fd;			  /* eventfd (irqfd) */
	int resample_fd;		  /* eventfd: KVM lowered a level-triggered line */
	int stop_fd;			  /* eventfd: the worker exits */
	int epoll_fd;
	struct virtio_watch watch[VIRTIO_MAX_WATCHES];
	pthread_t worker;
	bool running;
	/* Loaded from a snapshot (virtio_dev_load) and not started since: the first start
	 * raises the interrupt again if InterruptStatus is not zero. */
	bool restored;

	uint64_t fail_log_us; /* last DEVICE_NEEDS_RESET log line (rate limit) */
	uint64_t log_us;      /* last bad-access log line (rate limit) */
};

/* Set InterruptStatus @bits, then signal the irqfd (the order the driver relies on: its
 * interrupt handler reads InterruptStatus). */
void virtio_dev_interrupt(struct virtio_dev *dev, uint32_t bits);

/* Reset the device to its initial state (status 0), with the device lock held. */
void virtio_dev_reset(struct virtio_dev *dev);

/* Rate-limit helper: true at most once per 10 s per @stamp. */
bool virtio_log_ok(uint64_t *stamp);

#endif

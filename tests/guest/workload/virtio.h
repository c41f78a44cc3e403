/* virtio.h - the workload guest's own virtio-mmio driver (version 2, split queues, polled).
 *
 * The guest has no interrupts, so it polls: it posts a chain, writes QueueNotify (caught
 * by the VMM's ioeventfd) and reads the used index until the device returns the chain.
 * Every register access is an MMIO exit, so callers keep them few. Only vCPU 0 drives
 * devices. Queue memory and buffers come from the device's WL_VIRTIO_SLOT.
 */
#ifndef WORKLOAD_VIRTIO_H
#define WORKLOAD_VIRTIO_H

#include <stdint.h>

#define VIO_MAX_QUEUES 4
#define VIO_QUEUE_SIZE 16
#define VIO_BUF_SIZE 0x4000u /* the slot's buffer pages */
/* How long vio_transfer polls. Generous: under nested KVM on a loaded host a device took
 * more than 2 s (the old limit), and a chain given up on is still completed later, so the
 * guest's own counts (pages reported free) would disagree with the device's. */
#define VIO_TIMEOUT_US 30000000ull

#define VIO_F_VERSION_1 (1ull << 32)

#define VIO_DESC_F_NEXT 1
#define VIO_DESC_F_WRITE 2
#define VIO_S_NEEDS_RESET 0x40

/* A split-ring descriptor as the device reads it. */
struct vio_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

struct vio_queue {
	uint16_t size;	    /* 0: not set up */
	uint16_t avail_idx; /* next avail index we publish */
	uint16_t used_idx;  /* next used index we consume */
	volatile struct vio_desc *desc;
	volatile struct vio_avail *avail;
	volatile struct vio_used *used;
};

struct vio_dev {
	uint64_t base; /* register window */
	uint32_t id;   /* device ID read back from the device */
	uint64_t features;
	uint8_t *buf; /* VIO_BUF_SIZE bytes of buffer space */
	struct vio_queue q[VIO_MAX_QUEUES];
};

/* One buffer of a chain: guest-physical address (identity-mapped), length, and whether
 * the device writes it. Readable buffers come first. */
struct vio_buf {
	uint64_t addr;
	uint32_t len;
	int writable;
};

/* Reset and initialise the device at @base with queue memory at @slot: negotiate
 * VERSION_1 plus the bits of @want the device offers, set up @nq queues, DRIVER_OK.
 * Returns 0 or a negative code; *why says what failed. */
int vio_init(struct vio_dev *d, uint64_t base, uint64_t slot, uint64_t want, unsigned nq,
	     const char **why);

/* Post @n buffers on queue @q as one chain, notify, and poll for its return (up to
 * VIO_TIMEOUT_US). Returns the length the device wrote, or -1 on timeout (printed). */
int64_t vio_transfer(struct vio_dev *d, unsigned q, const struct vio_buf *b, unsigned n);

/* Hostile-driver tests: copy @n descriptors (flags and next as given, not checked) to the
 * start of queue @q's table, make descriptor 0 the next avail entry, move the avail index
 * by @bump (1 is honest) and notify. Does not wait for the device. Returns 0 or -1. */
int vio_post_raw(struct vio_dev *d, unsigned q, const struct vio_desc *desc, unsigned n,
		 uint16_t bump);

/* Poll the status register until one of @bits is set or about @us pass; returns it. */
uint32_t vio_wait_status(const struct vio_dev *d, uint32_t bits, uint64_t us);

/* Device configuration space (offset from 0x100). */
uint32_t vio_config32(const struct vio_dev *d, unsigned off);
void vio_config_write32(const struct vio_dev *d, unsigned off, uint32_t v);

/* Device status register (DEVICE_NEEDS_RESET is VIO_S_NEEDS_RESET). */
uint32_t vio_status(const struct vio_dev *d);

#endif

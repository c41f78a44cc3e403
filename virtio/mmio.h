/* mmio.h - the virtio-mmio register file (version 2, no legacy) of a struct virtio_dev. */
#ifndef VIRTIO_MMIO_H
#define VIRTIO_MMIO_H

#include <stdbool.h>
#include <stdint.h>

#include "virtio/virtio.h"

/* Guest-physical placement (fixed by the lead): device i of a guest at
 * VIRTIO_MMIO_BASE + i * VIRTIO_MMIO_STRIDE, a window of VIRTIO_MMIO_SIZE bytes;
 * Linux finds it with virtio_mmio.device=0x200@<base>:<irq>. */
#define VIRTIO_MMIO_BASE 0xd0000000ull
#define VIRTIO_MMIO_STRIDE 0x1000ull
#define VIRTIO_MMIO_SIZE 0x200u

/* Our VendorID register value ("KSMV"). */
#define VIRTIO_MMIO_VENDOR 0x564d534bu

/* One guest access to the register window: @offset within [0, VIRTIO_MMIO_SIZE), @len
 * bytes in @data (filled for a read). @opaque is the struct virtio_dev. Registers take
 * aligned 32-bit accesses only, config space (0x100..) any width; anything else reads 0
 * and writes are dropped (logged, rate-limited). Called on a vCPU thread; never blocks on
 * guest memory. Fits the VMM's bus handler signature. */
void virtio_mmio_access(void *opaque, uint64_t offset, bool write, uint8_t *data, unsigned len);

/* The kernel command-line entry for device @index at @irq: writes
 * "virtio_mmio.device=0x200@0x<base>:<irq>" into @buf (@len bytes). Returns the length
 * snprintf would, so a result >= @len means truncated. */
int virtio_mmio_cmdline(char *buf, unsigned len, unsigned index, unsigned irq);

#endif

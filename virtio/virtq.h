/* virtq.h - split virtqueues, device side: the guest's rings read and written only
 * through the checked memory ops, every guest-written value copied once before use.
 *
 * A queue is configured by the transport (size and ring addresses from the driver's
 * register writes), enabled at QueueReady (virtq_enable checks and translates the rings
 * once), then used by the device on its worker thread: virtq_pop a chain, move data with
 * virtq_chain_read / virtq_chain_write (or the mem ops on chain->buf[] directly), then
 * virtq_push it. Not thread-safe: one thread (the worker, device lock held) at a time.
 * No INDIRECT descriptors (not offered), no packed rings, no EVENT_IDX: interrupts are
 * suppressed by VIRTQ_AVAIL_F_NO_INTERRUPT only. */
#ifndef VIRTIO_VIRTQ_H
#define VIRTIO_VIRTQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "virtio/virtio.h"

/* Largest queue size of the spec for split rings. */
#define VIRTQ_MAX_SIZE 32768
/* Most descriptors in one chain a device handles (a chain is also bounded by the queue
 * size); a longer chain is a guest error. */
#define VIRTQ_CHAIN_MAX 256

/* One buffer of a chain, already checked against guest memory. */
struct virtq_buf {
	uint64_t gpa;
	uint32_t len;
};

/* A popped descriptor chain: readable (driver-to-device) buffers first, then writable. */
struct virtq_chain {
	uint16_t head;	  /* id to give back to virtq_push */
	uint16_t nr_out;  /* readable buffers: buf[0 .. nr_out) */
	uint16_t nr_in;	  /* writable buffers: buf[nr_out .. nr_out + nr_in) */
	uint64_t out_len; /* bytes readable in total */
	uint64_t in_len;  /* bytes writable in total */
	struct virtq_buf buf[VIRTQ_CHAIN_MAX];
};

/* Queue state. The transport sets size and the *_gpa fields from the driver's register
 * writes before virtq_enable (and must not change them while ready); the rest is private
 * to virtq.c. */
struct virtq {
	uint16_t size;	    /* QueueNum the driver chose */
	bool ready;	    /* enabled (QueueReady reads 1) */
	uint64_t desc_gpa;  /* QueueDesc */
	uint64_t avail_gpa; /* QueueDriver */
	uint64_t used_gpa;  /* QueueDevice */
	const struct virtio_mem_ops *mem;
	const void *desc;    /* host view of the descriptor table (read) */
	const void *avail;   /* host view of the avail ring (read) */
	uint16_t last_avail; /* next avail entry to pop */
	uint16_t used_idx;   /* our copy of used->idx (we are its only writer) */
	uint16_t signalled;  /* used_idx when the last interrupt was considered */
	const char *error;   /* what the last failing enable/pop/push found (for the log
			      * line); a device may set it before returning an error */
};

/* Back to the reset state (size 0, not ready, no rings). */
void virtq_reset(struct virtq *vq);

/* Enable the queue from its size and ring addresses: size a power of two in 1..@max,
 * rings aligned as the spec says (16/2/4) and fully inside guest memory (@mem). Caches
 * read views of desc and avail. Returns 0, or -EINVAL (size, alignment) / -EFAULT (a
 * ring outside memory); on error the queue stays disabled. */
int virtq_enable(struct virtq *vq, const struct virtio_mem_ops *mem, uint16_t max);

/* Pop the next available chain into @c. Returns 1 (a chain), 0 (ring empty, or queue not
 * ready), or a guest error: -EINVAL for a bad avail index (more than size ahead), a bad
 * head or next index, a loop or a chain longer than the queue size / VIRTQ_CHAIN_MAX, a
 * readable buffer after a writable one, or an INDIRECT descriptor;
 * -EFAULT for a buffer outside guest memory. After an error the queue is unusable until
 * reset (the caller fails the device). */
int virtq_pop(struct virtq *vq, struct virtq_chain *c);

/* Give chain @head back with @written bytes written into its writable buffers: writes
 * the used element and then used->idx through write_begin/end. 0, or -EFAULT when the
 * used ring is not writable (a guest or VMM error). */
int virtq_push(struct virtq *vq, uint16_t head, uint32_t written);

/* Did used entries arrive since the last call, and does the driver want interrupts
 * (VIRTQ_AVAIL_F_NO_INTERRUPT clear)? Call after a batch of pushes. */
bool virtq_needs_interrupt(struct virtq *vq);

/* Copy up to @len bytes starting @off bytes into the chain's readable buffers to @dst.
 * Returns bytes copied (less when the buffers end), or -EFAULT. */
ssize_t virtq_chain_read(struct virtq *vq, const struct virtq_chain *c, uint64_t off, void *dst,
			 size_t len);

/* Copy @len bytes from @src into the chain's writable buffers starting @off bytes into
 * them, each buffer through write_begin/end. Returns bytes copied (less when the buffers
 * end), or -EFAULT. */
ssize_t virtq_chain_write(struct virtq *vq, const struct virtq_chain *c, uint64_t off,
			  const void *src, size_t len);

#endif

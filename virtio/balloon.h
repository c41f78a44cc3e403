/* balloon.h - virtio memory balloon: inflate/deflate, guest statistics, deflate on OOM and
 * free page reporting, with discarded guest memory handed to a host hook. */
#ifndef VIRTIO_BALLOON_H
#define VIRTIO_BALLOON_H

#include <stdint.h>

#include "virtio/virtio.h"

/* QueueNumMax of every balloon queue (Linux refuses a reporting queue below 32). */
#define VIRTIO_BALLOON_QUEUE_SIZE 128u

/* Statistics tags the device keeps (VIRTIO_BALLOON_S_SWAP_IN .. S_HTLB_PGFAIL). */
#define VIRTIO_BALLOON_STATS_NR 10u

/* Host side: free guest-physical [gpa, gpa + len) (page aligned, inside guest RAM) and
 * tell the merge engine. Called on the device's worker thread with the device lock held,
 * outside any write_begin/end: it may wait for the engine, but must not call back into
 * this device. Returns 0 or -errno; a failure is counted and logged (rate-limited), the
 * guest is not told. */
typedef int virtio_balloon_discard_fn(void *opaque, uint64_t gpa, uint64_t len);

/* The guest's latest statistics (from the stats queue). */
struct virtio_balloon_guest_stats {
	uint64_t val[VIRTIO_BALLOON_STATS_NR]; /* by VIRTIO_BALLOON_S_* tag */
	uint32_t valid;			       /* bit per tag the guest sent */
	uint64_t time_us;		       /* clock_now_us() of the last update, 0: none */
	uint64_t updates;		       /* stats buffers received */
};

/* Counters for reports. */
struct virtio_balloon_counters {
	uint32_t target;	 /* num_pages the host asked for (4 KiB pages) */
	uint32_t actual;	 /* pages the driver says are in the balloon */
	uint64_t inflated;	 /* frames received on the inflate queue, over life */
	uint64_t deflated;	 /* frames received on the deflate queue, over life */
	uint64_t reports;	 /* free page report chains */
	uint64_t reported_pages; /* 4 KiB pages discarded through free page reporting */
	uint64_t discards;	 /* calls of the discard hook */
	uint64_t discard_errors; /* of which failed */
};

/* A virtio-balloon device (VIRTIO_ID_BALLOON) offering STATS_VQ, DEFLATE_ON_OOM and
 * REPORTING, over guest memory @mem; inflated and reported memory goes to @discard with
 * @opaque. NULL on error. Free with virtio_dev_destroy. */
struct virtio_dev *virtio_balloon_create(const struct virtio_mem_ops *mem,
					 virtio_balloon_discard_fn *discard, void *opaque);

/* Ask the guest to hold @pages 4 KiB pages in its balloon: updates num_pages in config
 * space (new generation, config interrupt once the driver runs). Any thread. */
void virtio_balloon_set_target(struct virtio_dev *dev, uint32_t pages);

/* Ask the guest for fresh statistics: the worker gives back the stats buffer it holds
 * (or the next one the driver posts), so the driver refills it. Any thread. 0, or
 * -EOPNOTSUPP when the driver did not accept STATS_VQ (or is not running). */
int virtio_balloon_request_stats(struct virtio_dev *dev);

/* Copy the latest guest statistics / the counters. Any thread. */
void virtio_balloon_guest_stats(struct virtio_dev *dev, struct virtio_balloon_guest_stats *out);
void virtio_balloon_counters(struct virtio_dev *dev, struct virtio_balloon_counters *out);

/* Role of queue index @q under the features the driver accepted, for tests and logs:
 * "inflate", "deflate", "stats", "reporting", or NULL (no such queue, or before
 * DRIVER_OK). The driver numbers its queues over the accepted features only. */
const char *virtio_balloon_queue_role(struct virtio_dev *dev, unsigned q);

#endif

/* devices.h - what the workload guest checks and does with its virtio devices (vCPU 0). */
#ifndef WORKLOAD_DEVICES_H
#define WORKLOAD_DEVICES_H

#include <stdint.h>

#include "tests/guest/workload/virtio.h"
#include "vmm/guest_abi.h"

struct wl_devices {
	volatile struct wl_params *live; /* vio_ok, vio_failed, counters */
	unsigned n;
	struct vio_dev dev[WL_MAX_VIRTIO];
	int ready[WL_MAX_VIRTIO]; /* initialised */
	int balloon;		  /* index of the balloon, or -1 */
	int reporting;		  /* the balloon's reporting queue index, or -1 */
	int disk;		  /* index of the first disk, or -1 */
	int have_ref;		  /* the first round's read is in the reference buffer */
};

/* Initialise every device of @prm and run its check: console prints a line, rng reads
 * entropy twice, each disk writes a region and reads it back (a read-only disk must
 * refuse the write). Prints "VIRTIO <kind> ok|FAILED ..." per device on COM1 and sets
 * live->vio_ok / vio_failed. */
void wl_devices_start(struct wl_devices *w, const struct wl_params *prm,
		      volatile struct wl_params *live);

/* One round of device traffic while merging goes on (every second, vCPU 0): read the
 * first 4 KiB of the first disk again into the same buffer and compare it with the first
 * read. The buffers hold the same bytes in every guest of a fleet booted from one image,
 * so the engine merges them, and the device's next write into them must be copied on
 * write. Returns the number of mismatches (0 or 1), or 0 without a disk. */
unsigned wl_devices_round(struct wl_devices *w);

/* The balloon's target in pages (num_pages), or 0 without a balloon. */
uint32_t wl_balloon_target(const struct wl_devices *w);

/* Hand @n pages (4 KiB frame numbers, at most 1024) to the balloon (inflate) or take
 * them back (deflate); then tell the device the new size (actual). Returns 0 or -1. */
int wl_balloon_move(struct wl_devices *w, int inflate, const uint32_t *pfns, unsigned n,
		    uint32_t actual);

/* Report @n ranges of free memory (device-writable buffers) on the reporting queue.
 * Returns 0 or -1. */
int wl_report_free(struct wl_devices *w, const struct vio_buf *ranges, unsigned n);

/* WL_REQ_HOSTILE: post attack @how (enum wl_hostile) on device @i, wait up to a second
 * for DEVICE_NEEDS_RESET and print "HOSTILE attack ..." with the status; from then on
 * the guest does not use the device. WL_HOSTILE_RESET instead resets device @i and runs
 * its check again ("HOSTILE reset: VIRTIO <kind> ok|FAILED ..."). */
void wl_devices_hostile(struct wl_devices *w, uint32_t i, uint32_t how,
			const struct wl_params *prm);

#endif

/* wl_dev.h - the command device of our workload guest (ports of vmm/guest_abi.h). */
#ifndef VMM_DEVICES_WL_DEV_H
#define VMM_DEVICES_WL_DEV_H

#include <stddef.h>
#include <stdint.h>

#include "lib/sbuf.h"
#include "vmm/devices/bus.h"
#include "vmm/guest_abi.h"
#include "vmm/ram.h"

struct wl_dev;

/* What the device needs of its guest; all of it outlives the device. The callbacks run on
 * vCPU threads: tsc_khz and mark_ready with the device's lock held (they must not call
 * into the device), die without it (it shuts the device down). */
struct wl_dev_host {
	const char *name;      /* the guest's, for logs */
	struct guest_ram *ram; /* the parameter block and the sample pages live here */
	unsigned nr_vcpus;     /* vCPUs 0..nr-1 take requests (at most WL_MAX_CPUS) */
	/* The guest TSC rate vCPU @id runs at, in kHz, or 0 if unknown. */
	unsigned long (*tsc_khz)(void *opaque, unsigned id);
	/* The guest said READY; returns false if it already had. */
	bool (*mark_ready)(void *opaque);
	/* The guest panicked: end it. */
	void (*die)(void *opaque, const char *why);
	void *opaque;
};

/* Create the command device of @host's guest and register its ports on @bus (before the
 * vCPUs run). @host is copied. Returns NULL on error. */
struct wl_dev *wl_dev_create(const struct wl_dev_host *host, struct bus *bus);

/* Wake every vCPU blocked in a wait and fail pending requests: the guest is stopping. */
void wl_dev_shutdown(struct wl_dev *d);

/* pause_wake_fn's work: every vCPU blocked in a wait returns from it now, as from a
 * timeout (the guest reads no request, and waits again), so that a snapshot's pause need
 * not wait for the timeout (up to 100 ms for an idle guest). Never blocks: when the
 * device is busy it does nothing (the pause calls again). */
void wl_dev_wake(struct wl_dev *d);

/* Ask every vCPU to verify; block until the guest reports or @timeout_ms passes.
 * Returns 0, -EBUSY, -ESRCH (guest stopping) or -ETIMEDOUT. A round of verify, probe or
 * watch that times out after the guest took it goes on in the guest: until it reports,
 * every new round is refused with -EBUSY, and its late report is logged, not returned. */
int wl_dev_verify(struct wl_dev *d, int timeout_ms, uint64_t *ok, uint64_t *bad);

/* Make every vCPU time the first store to up to @pages of its shared pages (see
 * WL_REQ_PROBE); copy up to @max samples (TSC ticks) to @ticks and their number to *@n.
 * Returns 0, -EBUSY, -ESRCH or -ETIMEDOUT. */
int wl_dev_probe(struct wl_dev *d, uint32_t pages, int timeout_ms, uint32_t *ticks, size_t max,
		 size_t *n);

/* What a stall watch saw (guest-written figures, summed over its vCPUs). */
struct wl_watch {
	uint64_t stalls;      /* gaps above the threshold */
	uint64_t stall_ticks; /* their total length */
	uint64_t ticks;	      /* time watched */
	uint64_t reads;	      /* timed reads */
	size_t nsamples;      /* stall lengths copied out (at most WL_WATCH_MAX) */
};

/* Make every vCPU watch for stalls for @ms (see WL_REQ_WATCH): gaps above @threshold_us
 * between two timed reads. Copies up to @max stall lengths (TSC ticks) to @ticks.
 * Returns 0, -EBUSY, -ESRCH or -ETIMEDOUT. */
int wl_dev_watch(struct wl_dev *d, uint32_t ms, uint32_t threshold_us, uint32_t *ticks, size_t max,
		 struct wl_watch *out);

/* Ask vCPU 0 to triple-fault. Returns 0 or -ESRCH. */
int wl_dev_fault(struct wl_dev *d);

/* The enum wl_hostile value called @name ("outside", "loop", "direction", "oversize",
 * "avail", or "reset"), or -EINVAL. */
int wl_dev_hostile_lookup(const char *name);

/* Ask vCPU 0 to post bad request @kind (enum wl_hostile) to its virtio device @dev (an
 * index into wl_params.virtio[]), or with WL_HOSTILE_RESET to reset and recheck it. Does
 * not wait: the guest prints the outcome and counts hostile_done. Returns 0, -EINVAL
 * (@kind or @dev out of range) or -ESRCH. */
int wl_dev_hostile(struct wl_dev *d, uint32_t dev, uint32_t kind);

/* This guest is a new instance of a memory image (a restored snapshot, a clone): write
 * its new identity into the parameters (through the write guard) and ask every vCPU to
 * take it (WL_REQ_RESTORED). @seed (non-zero) seeds the contents only this instance
 * writes; @guest_index names it in the guest's lines; @generation is its generation ID
 * (random, new for every instance). Call once the restored guest's vCPUs run; it does
 * not wait (see wl_dev_restored_wait), and requests posted after it are served after the
 * identity is taken. Returns 0, -EINVAL (@seed 0), -EBUSY (the previous identity is not
 * yet taken by every vCPU), -EFAULT or -ESRCH (guest stopping). */
int wl_dev_restored(struct wl_dev *d, uint32_t guest_index, uint64_t seed, uint64_t generation);

/* Wait until every vCPU took the identity of the last wl_dev_restored (at once if none is
 * outstanding). Returns 0, -ESRCH or -ETIMEDOUT. */
int wl_dev_restored_wait(struct wl_dev *d, int timeout_ms);

/* Append the device's state to @out (the guest is paused: no vCPU in an exit of this
 * device changes it): a version, then the timeout each vCPU armed for its next wait.
 * Waiting requests are not saved (see wl_dev.c). Returns 0 or -ENOMEM. */
int wl_dev_save(struct wl_dev *d, struct sbuf *out);

/* Read back what wl_dev_save wrote, into a device whose vCPUs do not run yet. Every value
 * is checked; on error nothing changes and @in->why says what was wrong. Returns 0 or
 * -EINVAL. */
int wl_dev_load(struct wl_dev *d, struct sbuf_reader *in);

void wl_dev_destroy(struct wl_dev *d);

#endif

/* workload.h - loader and command device for our workload guest (vmm/guest_abi.h). */
#ifndef VMM_WORKLOAD_H
#define VMM_WORKLOAD_H

#include <stdint.h>

#include "vmm/guest_abi.h"
#include "vmm/mem.h"
#include "vmm/options.h"
#include "vmm/x86.h"

struct guest;
struct wl_dev;

/* Default place of the guest image, next to the ksmvmm binary: build/guest/workload.bin. */
const char *workload_default_image(void);

/* Where the profile pages of a guest with @g's RAM live. Pure. Returns 0 or -EINVAL if the
 * RAM is too small for the fixed layout. */
int workload_regions(const struct guest_mem *m, struct wl_region *out, unsigned *nr,
		     uint64_t *total_pages);

/* Load @image into @g's RAM, write page tables, GDT and parameters, fill @boot.
 * Returns 0 or -errno after printing one clear error. */
int workload_load(struct guest *g, const struct options *o, const char *image,
		  struct x86_boot *boot);

/* Create the command device of @g and register its ports. Returns NULL on error. */
struct wl_dev *wl_dev_create(struct guest *g);

/* Wake every vCPU blocked in a wait and fail pending requests: the guest is stopping. */
void wl_dev_shutdown(struct wl_dev *d);

/* Ask every vCPU to verify; block until the guest reports or @timeout_ms passes.
 * Returns 0, -EBUSY, -ESRCH (guest stopping) or -ETIMEDOUT. */
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

void wl_dev_destroy(struct wl_dev *d);

#endif

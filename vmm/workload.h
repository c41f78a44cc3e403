/* workload.h - loader of our workload guest (vmm/guest_abi.h); its device is devices/wl_dev.h. */
#ifndef VMM_WORKLOAD_H
#define VMM_WORKLOAD_H

#include <stdint.h>

#include "vmm/guest_abi.h"
#include "vmm/mem.h"
#include "vmm/options.h"
#include "vmm/x86.h"

/* The guest being loaded: its mapped RAM, name and position in the fleet. */
struct workload_guest {
	struct guest_mem *mem;
	const char *name;
	unsigned index;
	uint64_t generation; /* the generation ID it sees (wl_params.generation) */
	unsigned nr_virtio;  /* its virtio devices, in device-table order */
	const struct wl_virtio_dev *virtio;
};

/* Default place of the guest image, next to the ksmvmm binary: build/guest/workload.bin. */
const char *workload_default_image(void);

/* Where the profile pages of a guest with RAM @m live. Pure. Returns 0 or -EINVAL if the
 * RAM is too small for the fixed layout. */
int workload_regions(const struct guest_mem *m, struct wl_region *out, unsigned *nr,
		     uint64_t *total_pages);

/* Load @image into @g's RAM, write page tables, GDT and parameters, fill @boot. Before
 * the vCPUs run (writes RAM directly). Returns 0 or -errno after one clear error. */
int workload_load(const struct workload_guest *g, const struct options *o, const char *image,
		  struct x86_boot *boot);

#endif

/* cpu.h - the state of one vCPU of the workload guest, and what every phase needs of it. */
#ifndef WORKLOAD_CPU_H
#define WORKLOAD_CPU_H

#include <stdint.h>

#include "tests/guest/workload/devices.h"
#include "tests/guest/workload/layout.h"
#include "vmm/guest_abi.h"

/* State of one vCPU; lives on its stack. */
struct wl_cpu {
	uint32_t index;	      /* this vCPU */
	uint32_t ncpu;	      /* params.nr_cpus */
	struct wl_params prm; /* validated copy: bounds come from here, never from live */
	volatile struct wl_params *live; /* the shared counters */
	volatile uint32_t *versions;	 /* version table, one entry per profile page */
	struct wl_layout lay;
	struct wl_identity *lineage; /* this vCPU's lineage table (only it uses it) */
	uint32_t entry;		     /* its current entry: pages are written under it */
	/* Mutation (only when rate > 0 and the working set has owned pages). */
	uint64_t rate;	     /* pages per second for this vCPU */
	uint64_t acc;	     /* pages owed, in 1/100 page (ticks per second = 100) */
	uint64_t cursor;     /* next owned page to consider for mutation */
	uint64_t tsc_per_us; /* calibrated against a VMM timed wait */
	uint32_t pending;    /* request received during calibration, served after READY */
	/* Devices (vCPU 0 only): its virtio driver, balloon and free page reporting. */
	struct wl_devices *dev;
	uint64_t free_due;	/* TSC at which to report free pages; 0 = done or never */
	uint64_t balloon_floor; /* lowest page in the balloon (total when empty) */
	uint64_t next_poll;	/* TSC of the next balloon check */
	uint64_t next_round;	/* TSC of the next round of device traffic */
	uint64_t dev_bad;	/* device rounds that read back wrong data (count as bad) */
};

/* Arm @us (0 = forever) and block in the VMM; returns enum wl_req. Two exits. */
uint32_t wl_cpu_wait(uint32_t us);

/* Address of profile page @p (< total; regions validated; guest memory is identity-mapped). */
uint64_t *wl_cpu_page(const struct wl_cpu *c, uint64_t p);

/* Write page @p at version count @v under the current identity (and record its tag
 * after the content). */
void wl_cpu_write(struct wl_cpu *c, uint64_t p, uint32_t v);

#endif

/* devinfo.h - one device of a guest as reports show it (the device table fills it). */
#ifndef VMM_DEVINFO_H
#define VMM_DEVINFO_H

#include <stdint.h>

#define FLEET_DEV_MAX 16      /* devices of one guest a report lists */
#define FLEET_DEV_COUNTERS 16 /* counters of one device */

/* One device of a guest, as its device table made it (in table order). */
struct fleet_device {
	char kind[16];	 /* "uart", "workload", "console", "rng", "balloon", "blk" */
	char bus[8];	 /* "pio" or "mmio" */
	uint64_t base;	 /* port or guest-physical address of its registers */
	uint64_t size;	 /* bytes (ports) of its register window */
	int irq;	 /* interrupt line, -1 for none */
	char state[16];	 /* virtio: "reset", "acknowledged", "driver", "features-ok",
			 * "driver-ok", "needs-reset", "failed"; legacy devices: "active" */
	char detail[96]; /* e.g. a disk's path and mode, "" otherwise */
	unsigned nr_counters;
	struct {
		char key[24]; /* e.g. "reads", "bytes_written", "actual_pages" */
		uint64_t value;
	} counters[FLEET_DEV_COUNTERS];
};

#endif

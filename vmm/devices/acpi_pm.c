/* acpi_pm.c - the ACPI PM1 event and control registers of a Linux guest (see acpi_pm.h). */
#include "vmm/devices/acpi_pm.h"

#include <stdatomic.h>
#include <stdlib.h>

#include "vmm/acpi.h"

#define PM1_SCI_EN 0x0001

struct acpi_pm {
	_Atomic uint16_t enable; /* PM1a_EN as the guest wrote it; any vCPU may access it */
};

/* The six ports as bytes: status (0), enable, control (SCI_EN). */
static void pm_image(const struct acpi_pm *pm, uint8_t img[ACPI_PM_PORTS])
{
	uint16_t en = atomic_load(&pm->enable);

	img[0] = img[1] = 0;
	img[2] = (uint8_t) en;
	img[3] = (uint8_t) (en >> 8);
	img[4] = PM1_SCI_EN;
	img[5] = 0;
}

static void pm_io(void *opaque, uint64_t addr, bool write, uint8_t *data, unsigned len)
{
	struct acpi_pm *pm = opaque;
	uint8_t img[ACPI_PM_PORTS];
	uint64_t off = addr - ACPI_PM1_EVT_PORT;

	pm_image(pm, img);
	for (unsigned i = 0; i < len; i++, off++) {
		if (!write) {
			data[i] = off < ACPI_PM_PORTS ? img[off] : 0xff;
		} else if (off == 2 || off == 3) {
			unsigned shift = off == 2 ? 0 : 8;
			uint16_t old = atomic_load(&pm->enable), new;

			do
				new = (uint16_t) ((old & ~(0xffu << shift)) | (unsigned) data[i]
										  << shift);
			while (!atomic_compare_exchange_weak(&pm->enable, &old, new));
		}
	}
}

struct acpi_pm *acpi_pm_create(struct bus *bus)
{
	struct acpi_pm *pm = calloc(1, sizeof(*pm));

	if (!pm)
		return NULL;
	if (bus_register(bus, BUS_PIO, ACPI_PM1_EVT_PORT, ACPI_PM_PORTS, pm_io, pm)) {
		free(pm);
		return NULL;
	}
	return pm;
}

void acpi_pm_destroy(struct acpi_pm *pm)
{
	free(pm);
}

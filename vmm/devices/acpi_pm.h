/* acpi_pm.h - the ACPI PM1 event and control registers of a Linux guest (vmm/acpi.h).
 *
 * The FADT describes a full-hardware ACPI platform whose only fixed hardware is these
 * two blocks: PM1a status and enable at ACPI_PM1_EVT_PORT, PM1a control at
 * ACPI_PM1_CNT_PORT. No fixed event ever fires: status reads 0, and the enable bits
 * the guest writes read back (ACPICA probes the global lock's that way). Control
 * reads SCI_EN: the platform is always in ACPI mode. Sleep requests are ignored. */
#ifndef VMM_DEVICES_ACPI_PM_H
#define VMM_DEVICES_ACPI_PM_H

#include "vmm/devices/bus.h"

struct acpi_pm;

/* A new register block, on @bus at ACPI_PM1_EVT_PORT (ACPI_PM_PORTS ports). Returns
 * NULL on failure (out of memory, or the ports are taken). */
struct acpi_pm *acpi_pm_create(struct bus *bus);

/* Free @pm (NULL: nothing). The bus must no longer dispatch to it. */
void acpi_pm_destroy(struct acpi_pm *pm);

#endif

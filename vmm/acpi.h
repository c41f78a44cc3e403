/* acpi.h - the ACPI tables of a Linux guest: its CPUs and IOAPIC (MADT), and a virtual
 * machine generation ID device that the VMM changes for every restored or cloned guest.
 *
 * Linux reads its CPUs from the MADT once it has ACPI (and then ignores the MP table), so
 * the MADT says what the MP table says: APIC ids 0..ncpus-1, the IOAPIC with id ncpus,
 * ISA IRQ i on IOAPIC pin i. The FADT describes a full-hardware (not hardware-reduced)
 * platform, so that the legacy PIC, the PIT and the ISA lines the virtio-mmio devices use
 * stay as they are without ACPI; its only fixed hardware is the PM1 event and control
 * registers (vmm/devices/acpi_pm.c). The DSDT holds two devices:
 * - \_SB.VGEN, the generation ID (Linux's vmgenid driver, _HID "VMGENCTR"): its ADDR
 *   method gives the guest-physical address of 16 bytes the VMM writes;
 * - \_SB.GED_, a generic event device (ACPI0013) on ISA IRQ ACPI_GED_IRQ, edge: its _EVT
 *   method notifies VGEN (0x80), and Linux then reads the new ID and reseeds its random
 *   number generator ("crng reseeded due to virtual machine fork").
 * Everything lives in one page at ACPI_GPA, below 640 KiB, reserved in the e820 map. */
#ifndef VMM_ACPI_H
#define VMM_ACPI_H

#include <stdbool.h>
#include <stdint.h>

#include "vmm/mem.h"

#define ACPI_GPA 0x9e000ull	    /* the RSDP, then every table */
#define ACPI_SIZE 0x1000ull	    /* reserved in e820 */
#define ACPI_VMGENID_GPA 0x9ef00ull /* the generation ID, inside the page */
#define ACPI_VMGENID_SIZE 16
#define ACPI_MAX_CPUS 32
#define ACPI_SCI_IRQ 13		/* the SCI line, which nothing raises */
#define ACPI_GED_IRQ 3		/* the generic event device's line */
#define ACPI_PM1_EVT_PORT 0x600 /* PM1a status (2 bytes) and enable (2 bytes) */
#define ACPI_PM1_CNT_PORT 0x604 /* PM1a control (2 bytes) */
#define ACPI_PM_PORTS 6		/* both blocks: 0x600-0x605 */

/* Write the RSDP and the XSDT, FADT, FACS, MADT and DSDT into [ACPI_GPA, +ACPI_SIZE) of
 * @m for @ncpus CPUs, with @genid as the first generation ID. Checksums are set. Returns
 * 0, -EINVAL if @ncpus is 0 or above ACPI_MAX_CPUS, -ENOMEM if the page is not RAM. */
int acpi_write(struct guest_mem *m, unsigned ncpus, const uint8_t genid[ACPI_VMGENID_SIZE]);

/* Do the tables acpi_write wrote still stand at ACPI_GPA of @m (the RSDP's signature,
 * OEM and both checksums)? A guest restored from a snapshot of a kernel booted before
 * the VMM wrote ACPI tables has none, and its page may hold anything. */
bool acpi_present(const struct guest_mem *m);

/* Replace the generation ID. Returns 0, or -ENODEV if acpi_present is false (nothing is
 * written then). The caller raises ACPI_GED_IRQ afterwards for a running kernel to see
 * it. */
int acpi_set_genid(struct guest_mem *m, const uint8_t genid[ACPI_VMGENID_SIZE]);

#endif

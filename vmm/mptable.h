/* mptable.h - Intel MultiProcessor table (MP spec 1.4): how a Linux guest without ACPI finds its CPUs and IOAPIC. */
#ifndef VMM_MPTABLE_H
#define VMM_MPTABLE_H

#include "vmm/mem.h"

/* The table lives in the last KiB below 640 KiB, one of the places Linux scans for the
 * floating pointer ("_MP_" on a 16-byte boundary); the configuration table follows the
 * pointer inside the same KiB. The e820 map must report this KiB as reserved
 * (mptable_e820_reserve), or the guest may reuse it before it has read it. */
#define MPTABLE_GPA 0x9fc00ull
#define MPTABLE_SIZE 0x400ull
#define MPTABLE_LAPIC_GPA 0xfee00000u  /* local APIC of every CPU */
#define MPTABLE_IOAPIC_GPA 0xfec00000u /* the one IOAPIC (KVM's in-kernel one) */
#define MPTABLE_IOAPIC_VERSION 0x11
#define MPTABLE_IOAPIC_PINS 24 /* ISA IRQs 0-15 and the virtio lines 16-23 */
#define MPTABLE_MAX_CPUS 32    /* fits MPTABLE_SIZE with room to spare */

/* Write the floating pointer and configuration table at MPTABLE_GPA of @m for @ncpus
 * CPUs: processor entries with APIC ids 0..ncpus-1 (CPU 0 the bootstrap processor), one
 * ISA bus, the IOAPIC with id @ncpus, I/O interrupt entries mapping ISA IRQ i to IOAPIC
 * pin i for every pin (edge, active high: what KVM's irqfd pulses and the default GSI
 * routing give), and LINT0 ExtINT, LINT1 NMI on every local APIC. Checksums are set.
 * Returns 0, -EINVAL if @ncpus is 0 or above MPTABLE_MAX_CPUS, -ENOMEM if the range is
 * not guest RAM. */
int mptable_write(struct guest_mem *m, unsigned ncpus);

/* Mark [MPTABLE_GPA, +MPTABLE_SIZE) reserved in the e820 map @e of @n entries (room for
 * @max): RAM entries overlapping it are split around it. Returns the new count. With
 * @e full, the RAM left of a split that finds no room is left out (the reserved range
 * never is). */
int mptable_e820_reserve(struct mem_e820 *e, int n, int max);

#endif

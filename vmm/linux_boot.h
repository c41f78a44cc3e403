/* linux_boot.h - load a Linux kernel (vmlinux or bzImage), initrd and command line. */
#ifndef VMM_LINUX_BOOT_H
#define VMM_LINUX_BOOT_H

#include <stddef.h>

#include "vmm/mem.h"
#include "vmm/x86.h"

/* Guest-physical layout of what linux_load writes below 1 MiB (all inside the first
 * 640 KiB of RAM, which the e820 map reports as usable: the kernel copies boot_params
 * and the command line early and builds its own GDT and page tables, then reuses it). */
#define LINUX_GDT_GPA 0x1000ull	      /* x86_build_gdt: selectors 0x10 code, 0x18 data */
#define LINUX_ZERO_PAGE_GPA 0x7000ull /* struct boot_params, 4 KiB; rsi at entry */
#define LINUX_STACK_TOP 0x8ff0ull     /* rsp at entry: 0x8000-0x8fff; the kernel switches soon */
#define LINUX_PT_GPA 0x9000ull	      /* identity map of [0, 4 GiB): 6 pages, to 0xefff */
#define LINUX_CMDLINE_GPA 0x20000ull  /* NUL-terminated command line, up to 64 KiB */
#define LINUX_CMDLINE_ROOM 0x10000ull
#define LINUX_KERNEL_MIN 0x100000ull /* nothing of the kernel may load below 1 MiB */
/* The MP table: MPTABLE_GPA (0x9fc00), the last KiB below 640 KiB, reserved in e820. */

/* Load @kernel_path into @m, which must be laid out and mapped (mem_map), and fill @boot
 * for a vCPU entering it in 64-bit mode at CPL 0.
 *
 * The kernel is either an uncompressed vmlinux (ELF64 x86-64: PT_LOAD segments go to
 * their physical addresses, entry e_entry as a physical address) or a bzImage with boot
 * protocol >= 2.12 and XLF_KERNEL_64 (protected-mode part at pref_address, or 1 MiB,
 * entry at load address + 0x200). @initrd_path (NULL: none) goes page aligned at the top
 * of RAM below min(initrd_addr_max, end of low RAM). @cmdline (NULL: empty) is copied to
 * LINUX_CMDLINE_GPA. boot_params at LINUX_ZERO_PAGE_GPA holds the setup header, e820 map,
 * command line and initrd pointers; page tables and GDT follow the layout above. An MP
 * table at MPTABLE_GPA lists @ncpus CPUs (APIC ids 0..ncpus-1) and the IOAPIC.
 *
 * @boot gets rip, rsp, rsi = boot_params, cr3, gdt_gpa, cpl 0 and linux_cpuid; its other
 * fields are zeroed. Returns 0, or -errno with a one-line reason in @err (size @errlen):
 * -ENOENT/-EACCES/... file cannot be opened or read, -ENOEXEC not a kernel or one we
 * cannot boot, -ENOMEM kernel or initrd do not fit in guest RAM, -E2BIG command line too
 * long, -EINVAL bad arguments (also @ncpus 0 or above MPTABLE_MAX_CPUS). Guest memory
 * may be partly written on failure. */
int linux_load(struct guest_mem *m, const char *kernel_path, const char *initrd_path,
	       const char *cmdline, unsigned ncpus, struct x86_boot *boot, char *err,
	       size_t errlen);

#endif

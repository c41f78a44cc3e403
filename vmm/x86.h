/* x86.h - long-mode entry state shared by the loaders: GDT, identity page tables, vCPU boot registers. */
#ifndef VMM_X86_H
#define VMM_X86_H

#include <stdbool.h>
#include <stdint.h>

#include "vmm/mem.h"

/* GDT written by x86_build_gdt: null, null, kernel code64, kernel data, user code64, user data. */
#define X86_SEL_KCODE 0x10
#define X86_SEL_KDATA 0x18
#define X86_SEL_UCODE 0x23 /* index 4, RPL 3 */
#define X86_SEL_UDATA 0x2b /* index 5, RPL 3 */
#define X86_GDT_ENTRIES 6

/* What a loader hands to the vCPU setup: where and how each vCPU starts. */
struct x86_boot {
	uint64_t rip;
	uint64_t rsp;
	uint64_t rsi;
	uint64_t rdi;
	uint64_t cr3;	  /* PML4 written by x86_build_identity_map */
	uint64_t gdt_gpa; /* GDT written by x86_build_gdt */
	int cpl;	  /* 0: kernel entry (Linux); 3: user entry with IOPL 3 (workload) */
	bool enable_avx;  /* set CR4.OSXSAVE and XCR0 = x87|SSE|AVX */
	bool linux_cpuid; /* hide CPUID features PVM's emulator lacks (cx16, xsave) */
	/* Per-vCPU stack: vCPU i gets rsp - i * stack_stride and rdi + i (workload). */
	uint64_t stack_stride;
};

/* Write the GDT at @gpa. Returns 0 or -EFAULT if it does not fit in RAM. */
int x86_build_gdt(struct guest_mem *m, uint64_t gpa);

/* Write identity page tables at @pt_gpa: PML4, PDPT at +4 KiB, then one PD per GiB at
 * +8 KiB..., mapping [0, limit) with 2 MiB pages (user-accessible when @user).
 * @limit is rounded up to 1 GiB and may be at most 512 GiB. Returns 0, -EINVAL or -EFAULT. */
int x86_build_identity_map(struct guest_mem *m, uint64_t pt_gpa, uint64_t limit, bool user);

/* Bytes of page tables x86_build_identity_map writes for @limit. */
uint64_t x86_identity_map_size(uint64_t limit);

#endif

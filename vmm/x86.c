/* x86.c - GDT and identity-mapped page tables for entering a guest in 64-bit mode. */
#include "vmm/x86.h"

#include <errno.h>
#include <string.h>
#include "lib/page.h"

#define GIB (1ull << 30)
#define PTE_P 0x1ull
#define PTE_RW 0x2ull
#define PTE_US 0x4ull
#define PTE_A 0x20ull
#define PTE_D 0x40ull
#define PTE_PS 0x80ull

int x86_build_gdt(struct guest_mem *m, uint64_t gpa)
{
	static const uint64_t gdt[X86_GDT_ENTRIES] = {
	    0,
	    0,
	    0x00af9a000000ffffull, /* kernel code: L=1, DPL 0 */
	    0x00cf92000000ffffull, /* kernel data */
	    0x00affa000000ffffull, /* user code: L=1, DPL 3 */
	    0x00cff2000000ffffull, /* user data, DPL 3 */
	};
	void *p = mem_gpa(m, gpa, sizeof(gdt));

	if (!p)
		return -EFAULT;
	memcpy(p, gdt, sizeof(gdt));
	return 0;
}

uint64_t x86_identity_map_size(uint64_t limit)
{
	uint64_t npd = (limit + GIB - 1) / GIB;

	return (2 + npd) * PAGE_SIZE;
}

/* Accessed and dirty bits are preset (as Linux does for its kernel mappings), so the CPU's
 * page walker never writes these tables: they are identical in every guest of a fleet and
 * the engine merges them, and a walker's A/D write would copy them again (a COW break
 * inside a page walk, which nested virtualization has to emulate too). */
int x86_build_identity_map(struct guest_mem *m, uint64_t pt_gpa, uint64_t limit, bool user)
{
	uint64_t npd = (limit + GIB - 1) / GIB;
	uint64_t flags = PTE_P | PTE_RW | PTE_A | (user ? PTE_US : 0);
	uint64_t *pml4, *pdpt;

	if (npd == 0 || npd > 512)
		return -EINVAL;
	pml4 = mem_gpa(m, pt_gpa, x86_identity_map_size(limit));
	if (!pml4)
		return -EFAULT;
	memset(pml4, 0, x86_identity_map_size(limit));
	pdpt = pml4 + 512;
	pml4[0] = (pt_gpa + PAGE_SIZE) | flags;
	for (uint64_t i = 0; i < npd; i++) {
		uint64_t pd_gpa = pt_gpa + (2 + i) * PAGE_SIZE;
		uint64_t *pd = pml4 + 512 * (2 + i);

		pdpt[i] = pd_gpa | flags;
		for (uint64_t j = 0; j < 512; j++)
			pd[j] = (i * GIB + j * (2ull << 20)) | flags | PTE_D | PTE_PS;
	}
	return 0;
}

/* test_mem.c - guest memory layout, checked translation, e820 and size parsing. */
#include <errno.h>
#include <string.h>

#include "tests/unit/check.h"
#include "vmm/guest_abi.h"
#include "vmm/mem.h"
#include "vmm/workload.h"
#include "vmm/x86.h"

#define MIB (1ull << 20)
#define GIB (1ull << 30)

static void test_layout(void)
{
	struct guest_mem m;

	CHECK_EQ(mem_layout(&m, 0), -EINVAL);
	CHECK_EQ(mem_layout(&m, 4097), -EINVAL);
	CHECK_EQ(mem_layout(&m, MEM_MAX_RAM + 4096), -EINVAL);

	CHECK_EQ(mem_layout(&m, 256 * MIB), 0);
	CHECK_EQ(m.nr_regions, 1);
	CHECK_EQ(m.regions[0].gpa, 0);
	CHECK_EQ(m.regions[0].size, 256 * MIB);

	/* 3 GiB exactly fills the space below the hole; 5 GiB spills 2 GiB above 4 GiB. */
	CHECK_EQ(mem_layout(&m, 3 * GIB), 0);
	CHECK_EQ(m.nr_regions, 1);
	CHECK_EQ(mem_layout(&m, 5 * GIB), 0);
	CHECK_EQ(m.nr_regions, 2);
	CHECK_EQ(m.regions[0].size, MEM_HOLE_START);
	CHECK_EQ(m.regions[1].gpa, 4 * GIB);
	CHECK_EQ(m.regions[1].size, 2 * GIB);
	CHECK_EQ(m.regions[0].size + m.regions[1].size, 5 * GIB);
}

static void test_translation(void)
{
	struct guest_mem m;
	uint8_t *base;

	CHECK_EQ(mem_layout(&m, 16 * MIB), 0);
	CHECK(mem_gpa(&m, 0, 1) == NULL); /* not mapped yet */
	CHECK_EQ(mem_map(&m), 0);
	base = m.regions[0].hva;
	CHECK(mem_gpa(&m, 0, 4096) == base);
	CHECK(mem_gpa(&m, 16 * MIB - 1, 1) == base + 16 * MIB - 1);
	CHECK(mem_gpa(&m, 16 * MIB - 1, 2) == NULL);   /* straddles the end */
	CHECK(mem_gpa(&m, 16 * MIB, 1) == NULL);       /* just past the end */
	CHECK(mem_gpa(&m, ~0ull, 2) == NULL);	       /* wraps */
	CHECK(mem_gpa(&m, 4096, ~0ull) == NULL);       /* huge length */
	CHECK(mem_gpa(&m, MEM_HOLE_START, 1) == NULL); /* the hole */
	CHECK(mem_gpa(&m, 100, 0) == base + 100);
	memset(mem_gpa(&m, 8 * MIB, 4096), 0xab, 4096); /* really writable */
	mem_unmap(&m);
	CHECK(mem_gpa(&m, 0, 1) == NULL);
	mem_unmap(&m); /* twice is harmless */
}

static void test_e820(void)
{
	struct guest_mem m;
	struct mem_e820 e[8];
	uint64_t ram = 0;
	int n;

	mem_layout(&m, 5 * GIB);
	n = mem_e820(&m, e, 8);
	CHECK_EQ(n, 4);
	CHECK_EQ(e[0].addr, 0);
	CHECK_EQ(e[0].type, E820_RAM);
	CHECK_EQ(e[1].type, E820_RESERVED);
	CHECK_EQ(e[1].addr + e[1].size, 0x100000);
	CHECK_EQ(e[2].addr, 0x100000);
	CHECK_EQ(e[3].addr, 4 * GIB);
	for (int i = 0; i < n; i++)
		if (e[i].type == E820_RAM)
			ram += e[i].size;
	CHECK_EQ(ram, 5 * GIB - (0x100000 - 0xa0000));
	CHECK_EQ(mem_e820(&m, e, 2), 2); /* never writes past max */
}

static void test_parse_size(void)
{
	uint64_t v = 0;

	CHECK_EQ(mem_parse_size("256M", &v), 0);
	CHECK_EQ(v, 256 * MIB);
	CHECK_EQ(mem_parse_size("1G", &v), 0);
	CHECK_EQ(v, GIB);
	CHECK_EQ(mem_parse_size("2GiB", &v), 0);
	CHECK_EQ(v, 2 * GIB);
	CHECK_EQ(mem_parse_size("4096", &v), 0);
	CHECK_EQ(v, 4096);
	CHECK_EQ(mem_parse_size("64k", &v), 0);
	CHECK_EQ(v, 65536);
	CHECK_EQ(mem_parse_size("", &v), -EINVAL);
	CHECK_EQ(mem_parse_size("-1M", &v), -EINVAL);
	CHECK_EQ(mem_parse_size("12Q", &v), -EINVAL);
	CHECK_EQ(mem_parse_size("1M2", &v), -EINVAL);
	CHECK_EQ(mem_parse_size("99999999999999999999", &v), -EINVAL);
	CHECK_EQ(mem_parse_size("17179869184T", &v), -EINVAL); /* overflows when shifted */
	CHECK_EQ(mem_parse_size(NULL, &v), -EINVAL);
}

static void test_identity_map(void)
{
	struct guest_mem m;
	uint64_t *pml4, *pdpt, *pd;

	mem_layout(&m, 16 * MIB);
	mem_map(&m);
	CHECK_EQ(x86_build_identity_map(&m, 0x10000, 5 * GIB, true), 0);
	pml4 = mem_gpa(&m, 0x10000, 4096);
	pdpt = pml4 + 512;
	pd = pml4 + 1024;
	CHECK_EQ(pml4[0] & ~0xfffull, 0x11000);
	CHECK_EQ(pml4[0] & 7, 7);
	CHECK_EQ(pdpt[4] & ~0xfffull, 0x10000 + 6 * 4096); /* fifth PD for the fifth GiB */
	CHECK_EQ(pdpt[5], 0);
	CHECK_EQ(pd[1] & ~0xfffull, 2 * MIB);
	CHECK_EQ(pd[1] & 0x80, 0x80);
	/* A and D preset: the walker has nothing to write (merged tables stay merged). */
	CHECK_EQ(pml4[0] & 0x60, 0x20);
	CHECK_EQ(pdpt[4] & 0x60, 0x20);
	CHECK_EQ(pd[1] & 0x60, 0x60);
	CHECK_EQ(pd[512 * 4 + 3] & 0x60, 0x60);
	CHECK_EQ(pd[512 * 4 + 3] & ~0xfffull, 4 * GIB + 6 * MIB);
	CHECK_EQ(x86_build_identity_map(&m, 16 * MIB - 4096, GIB, false), -EFAULT);
	CHECK_EQ(x86_build_identity_map(&m, 0x10000, 0, false), -EINVAL);
	CHECK_EQ(x86_build_gdt(&m, 0x1000), 0);
	CHECK_EQ(x86_build_gdt(&m, 16 * MIB - 8), -EFAULT);
	mem_unmap(&m);
}

static void test_workload_regions(void)
{
	struct guest_mem m;
	struct wl_region r[WL_MAX_REGIONS];
	unsigned nr;
	uint64_t total;

	mem_layout(&m, 256 * MIB);
	CHECK_EQ(workload_regions(&m, r, &nr, &total), 0);
	CHECK_EQ(nr, 1);
	/* 65536 RAM pages need a 256 KiB version table, rounded to 2 MiB. */
	CHECK_EQ(r[0].gpa, WL_VERSIONS_GPA + 2 * MIB);
	CHECK_EQ(total, (256 * MIB - r[0].gpa) / 4096);
	CHECK(r[0].gpa >= WL_VERSIONS_GPA + total * 4);

	mem_layout(&m, 5 * GIB);
	CHECK_EQ(workload_regions(&m, r, &nr, &total), 0);
	CHECK_EQ(nr, 2);
	CHECK_EQ(r[1].gpa, 4 * GIB);
	CHECK_EQ(r[1].npages, 2 * GIB / 4096);
	CHECK(r[0].gpa >= WL_VERSIONS_GPA + total * 4);

	mem_layout(&m, 4 * MIB);
	CHECK_EQ(workload_regions(&m, r, &nr, &total), -EINVAL);
}

int main(void)
{
	test_layout();
	test_translation();
	test_e820();
	test_parse_size();
	test_identity_map();
	test_workload_regions();
	return check_done("test_mem");
}

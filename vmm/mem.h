/* mem.h - guest RAM: layout around the 32-bit MMIO hole, host mappings, checked access. */
#ifndef VMM_MEM_H
#define VMM_MEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/page.h" /* RAM comes in pages of PAGE_SIZE */

#define MEM_MAX_REGIONS 2
/* RAM below 4 GiB stops here; the rest of the 32-bit space is for MMIO. */
#define MEM_HOLE_START 0xc0000000ull
#define MEM_HOLE_END 0x100000000ull
/* Largest guest we accept (a typo guard, not a hardware limit). */
#define MEM_MAX_RAM (1ull << 40)

/* One contiguous guest-physical range backed by one host mapping and one memslot. */
struct mem_region {
	uint64_t gpa;  /* first guest-physical address, page aligned */
	uint64_t size; /* bytes, page aligned */
	uint8_t *hva;  /* host mapping (NULL until mem_map) */
};

struct guest_mem {
	uint64_t ram_size; /* total bytes of RAM */
	unsigned nr_regions;
	struct mem_region regions[MEM_MAX_REGIONS];
};

/* e820 types, as the Linux boot protocol numbers them. */
enum { E820_RAM = 1, E820_RESERVED = 2 };

struct mem_e820 {
	uint64_t addr;
	uint64_t size;
	uint32_t type;
};

/* Fill @m's regions for @ram_size bytes: [0, min(size, hole)) then the rest from 4 GiB.
 * Pure: maps nothing. Returns 0, or -EINVAL if @ram_size is 0, not page aligned or
 * larger than MEM_MAX_RAM. */
int mem_layout(struct guest_mem *m, uint64_t ram_size);

/* Back every region with anonymous private memory (MAP_NORESERVE). Returns 0 or -errno;
 * on failure nothing stays mapped. */
int mem_map(struct guest_mem *m);

/* Undo mem_map; safe on a partly or never mapped @m. */
void mem_unmap(struct guest_mem *m);

/* The one checked translation: host pointer to [gpa, gpa+len) if the whole range lies in
 * one region and does not overflow, else NULL. len 0 is treated as 1. */
void *mem_gpa(const struct guest_mem *m, uint64_t gpa, uint64_t len);

/* Region holding @gpa, or NULL. */
const struct mem_region *mem_find(const struct guest_mem *m, uint64_t gpa);

/* Write the guest's memory map for the Linux boot protocol into @out (at most @max
 * entries): low 640 KiB RAM, reserved BIOS area, RAM regions. Returns the count. */
int mem_e820(const struct guest_mem *m, struct mem_e820 *out, int max);

/* Mark [@lo, @hi) reserved in the e820 map @e of @n entries (room for @max): RAM entries
 * overlapping it are split around it. Returns the new count. With @e full, the RAM left
 * of a split that finds no room is left out (the reserved range never is). */
int mem_e820_reserve(struct mem_e820 *e, int n, int max, uint64_t lo, uint64_t hi);

/* Parse a size like "256M", "1G", "4096K", "65536" (bytes). Returns 0 or -EINVAL. */
int mem_parse_size(const char *s, uint64_t *out);

#endif

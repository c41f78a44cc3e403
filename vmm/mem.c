/* mem.c - guest RAM layout, host backing and the one checked guest-physical translation. */
#include "vmm/mem.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include "lib/page.h"

int mem_layout(struct guest_mem *m, uint64_t ram_size)
{
	uint64_t low;

	memset(m, 0, sizeof(*m));
	if (ram_size == 0 || ram_size % PAGE_SIZE || ram_size > MEM_MAX_RAM)
		return -EINVAL;
	low = ram_size < MEM_HOLE_START ? ram_size : MEM_HOLE_START;
	m->ram_size = ram_size;
	m->regions[0] = (struct mem_region){.gpa = 0, .size = low};
	m->nr_regions = 1;
	if (ram_size > low) {
		m->regions[1] = (struct mem_region){.gpa = MEM_HOLE_END, .size = ram_size - low};
		m->nr_regions = 2;
	}
	return 0;
}

int mem_map(struct guest_mem *m)
{
	for (unsigned i = 0; i < m->nr_regions; i++) {
		struct mem_region *r = &m->regions[i];
		void *p = mmap(NULL, r->size, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

		if (p == MAP_FAILED) {
			int err = -errno;

			mem_unmap(m);
			return err;
		}
		r->hva = p;
	}
	return 0;
}

void mem_unmap(struct guest_mem *m)
{
	for (unsigned i = 0; i < m->nr_regions; i++) {
		struct mem_region *r = &m->regions[i];

		if (r->hva)
			munmap(r->hva, r->size);
		r->hva = NULL;
	}
}

const struct mem_region *mem_find(const struct guest_mem *m, uint64_t gpa)
{
	for (unsigned i = 0; i < m->nr_regions; i++) {
		const struct mem_region *r = &m->regions[i];

		if (gpa >= r->gpa && gpa - r->gpa < r->size)
			return r;
	}
	return NULL;
}

void *mem_gpa(const struct guest_mem *m, uint64_t gpa, uint64_t len)
{
	const struct mem_region *r = mem_find(m, gpa);
	uint64_t off;

	if (!r || !r->hva)
		return NULL;
	if (len == 0)
		len = 1;
	off = gpa - r->gpa;
	if (len > r->size - off)
		return NULL;
	return r->hva + off;
}

static int e820_add(struct mem_e820 *out, int n, int max, uint64_t addr, uint64_t size,
		    uint32_t type)
{
	if (n >= max || size == 0)
		return n;
	out[n] = (struct mem_e820){.addr = addr, .size = size, .type = type};
	return n + 1;
}

int mem_e820(const struct guest_mem *m, struct mem_e820 *out, int max)
{
	const uint64_t lowmem = 0xa0000, bios = 0x100000;
	int n = 0;

	for (unsigned i = 0; i < m->nr_regions; i++) {
		const struct mem_region *r = &m->regions[i];

		if (r->gpa == 0 && r->size > bios) {
			n = e820_add(out, n, max, 0, lowmem, E820_RAM);
			n = e820_add(out, n, max, lowmem, bios - lowmem, E820_RESERVED);
			n = e820_add(out, n, max, bios, r->size - bios, E820_RAM);
		} else {
			n = e820_add(out, n, max, r->gpa, r->size, E820_RAM);
		}
	}
	return n;
}

/* Insert @entry at index @at of @e (count *@n, room @max). Returns false, inserting
 * nothing, if @e is full. */
static bool e820_insert(struct mem_e820 *e, int *n, int max, int at, struct mem_e820 entry)
{
	if (*n >= max)
		return false;
	memmove(&e[at + 1], &e[at], (size_t) (*n - at) * sizeof(*e));
	e[at] = entry;
	(*n)++;
	return true;
}

int mem_e820_reserve(struct mem_e820 *e, int n, int max, uint64_t lo, uint64_t hi)
{
	for (int i = 0; i < n; i++) {
		struct mem_e820 r = e[i];
		uint64_t end = r.addr + r.size;

		if (r.type != E820_RAM || end <= lo || r.addr >= hi)
			continue;
		/* [addr, lo) RAM, [max(addr, lo), min(end, hi)) reserved, [hi, end) RAM */
		e[i].addr = r.addr > lo ? r.addr : lo;
		e[i].size = (end < hi ? end : hi) - e[i].addr;
		e[i].type = E820_RESERVED;
		if (r.addr < lo &&
		    e820_insert(e, &n, max, i, (struct mem_e820){r.addr, lo - r.addr, r.type}))
			i++;
		if (end > hi &&
		    e820_insert(e, &n, max, i + 1, (struct mem_e820){hi, end - hi, r.type}))
			i++;
	}
	return n;
}

int mem_parse_size(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;
	unsigned shift = 0;

	if (!s || *s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno)
		return -EINVAL;
	switch (*end) {
	case 'k':
	case 'K':
		shift = 10;
		end++;
		break;
	case 'm':
	case 'M':
		shift = 20;
		end++;
		break;
	case 'g':
	case 'G':
		shift = 30;
		end++;
		break;
	case 't':
	case 'T':
		shift = 40;
		end++;
		break;
	default: break;
	}
	if (*end == 'i' && shift)
		end++;
	if ((*end == 'b' || *end == 'B') && shift)
		end++;
	if (*end || (shift && v > (~0ull >> shift)))
		return -EINVAL;
	*out = v << shift;
	return 0;
}

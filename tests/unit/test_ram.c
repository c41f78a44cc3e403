/* test_ram.c - VMM writes into guest RAM: checked range, write guard held, pages marked dirty. */
#include "vmm/ram.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

#include "lib/page.h"
#include "tests/unit/check.h"

static bool dirty(const struct guest_ram *r, unsigned reg, uint64_t page)
{
	return r->soft_dirty[reg][page / 64] >> (page % 64) & 1;
}

/* Can a pause take the write guard now? (It must not while a writer is inside.) */
static bool guard_free(struct pause *p)
{
	if (pthread_rwlock_trywrlock(&p->mem_guard))
		return false;
	pthread_rwlock_unlock(&p->mem_guard);
	return true;
}

static void test_writes(struct guest_ram *r, struct pause *p, const struct guest_mem *m)
{
	uint64_t hi = m->regions[1].gpa;
	uint8_t *q;

	CHECK(ram_write_begin(r, m->regions[0].size - 8, 16) == NULL); /* runs off region 0 */
	CHECK(ram_write_begin(r, UINT64_MAX - 4, 16) == NULL);	       /* wraps */
	CHECK(guard_free(p));					       /* NULL holds nothing */
	q = ram_write_begin(r, 3 * PAGE_SIZE - 4, 8);
	CHECK(q == mem_gpa(m, 3 * PAGE_SIZE - 4, 8));
	CHECK(!guard_free(p));
	ram_write_end(r, 3 * PAGE_SIZE - 4, 8);
	CHECK(guard_free(p));
	CHECK(!dirty(r, 0, 1));
	CHECK(dirty(r, 0, 2)); /* the write spans pages 2 and 3 */
	CHECK(dirty(r, 0, 3));
	CHECK(!dirty(r, 0, 4));
	q = ram_write_begin(r, hi + 70 * PAGE_SIZE, 0); /* len 0 counts as one byte */
	CHECK(q != NULL);
	ram_write_end(r, hi + 70 * PAGE_SIZE, 0);
	CHECK(dirty(r, 1, 70));
	CHECK(!dirty(r, 1, 69));
	CHECK(!dirty(r, 1, 71));
	CHECK(!dirty(r, 0, 70));
}

/* Discarded pages read zeros, hold off pauses meanwhile (checked by the result only),
 * lose their soft-dirty marks and are handed to the engine once. */
static void test_discard(struct guest_ram *r, const struct guest_mem *m)
{
	uint64_t *bitmap = calloc(m->regions[0].size / PAGE_SIZE / 64, 8), gpa = 8 * PAGE_SIZE;
	uint8_t *q = ram_write_begin(r, gpa, 2 * PAGE_SIZE);

	CHECK(q != NULL);
	q[0] = q[PAGE_SIZE] = 0x5a;
	ram_write_end(r, gpa, 2 * PAGE_SIZE);
	CHECK(dirty(r, 0, 8));
	CHECK_EQ(ram_discard(r, gpa, 2 * PAGE_SIZE), 0);
	CHECK_EQ(q[0], 0);
	CHECK_EQ(q[PAGE_SIZE], 0);
	CHECK(!dirty(r, 0, 8) && !dirty(r, 0, 9));
	CHECK_EQ(r->pages_discarded, 2);
	CHECK_EQ(ram_fetch_reported(r, 0, bitmap), 0);
	CHECK_EQ(bitmap[0], 3ull << 8);
	bitmap[0] = 0;
	CHECK_EQ(ram_fetch_reported(r, 0, bitmap), 0);
	CHECK_EQ(bitmap[0], 0); /* once */
	CHECK_EQ(ram_discard(r, gpa + 1, PAGE_SIZE), -EINVAL);
	CHECK_EQ(ram_discard(r, gpa, 100), -EINVAL);
	CHECK_EQ(ram_discard(r, m->regions[0].size - PAGE_SIZE, 2 * PAGE_SIZE), -EINVAL);
	CHECK_EQ(ram_discard(r, 0xc0000000ull, PAGE_SIZE), -EINVAL); /* the MMIO hole */
	CHECK_EQ(ram_fetch_reported(r, 2, bitmap), -EINVAL);
	CHECK_EQ(r->pages_discarded, 2);
	free(bitmap);
}

int main(void)
{
	struct guest_mem m = {0};
	struct guest_ram r = {0};
	struct pause p;
	uint64_t bitmap[4] = {0};

	pause_init(&p, NULL, NULL);
	/* 3 GiB + 1 MiB: region 0 up to the hole, region 1 above 4 GiB (MAP_NORESERVE). */
	CHECK_EQ(mem_layout(&m, 0xc0000000ull + (1ull << 20)), 0);
	CHECK_EQ(m.nr_regions, 2);
	if (mem_map(&m))
		return 2;
	CHECK_EQ(ram_init(&r, &m, &p, -1, false), 0);
	test_writes(&r, &p, &m);
	test_discard(&r, &m);
	CHECK_EQ(ram_fetch_dirty(&r, 1, bitmap), -EINVAL); /* no dirty logging */
	r.dirty_logging = true;
	CHECK_EQ(ram_fetch_dirty(&r, 2, bitmap), -EINVAL); /* no such region */
	CHECK_EQ(ram_fetch_dirty(&r, 1, bitmap), -EBADF);  /* no VM: KVM's log fails */
	CHECK(dirty(&r, 1, 70));			   /* and the marks stay */
	ram_destroy(&r);
	CHECK(r.soft_dirty[0] == NULL);
	ram_destroy(&r); /* twice is harmless */
	mem_unmap(&m);
	pause_destroy(&p);
	return check_done("test_ram");
}

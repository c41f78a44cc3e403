/* ram.c - guarded, dirty-marked VMM writes into guest RAM and the merged dirty log. */
#include "vmm/ram.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/ioctl.h>

#include <linux/kvm.h>

#include "lib/page.h"

static uint64_t bitmap_words(const struct mem_region *reg)
{
	return (reg->size / PAGE_SIZE + 63) / 64;
}

int ram_init(struct guest_ram *r, const struct guest_mem *m, struct pause *p, int vm_fd,
	     bool dirty_logging)
{
	r->mem = m;
	r->pause = p;
	r->vm_fd = vm_fd;
	r->dirty_logging = dirty_logging;
	/* Dirty logging is on exactly when our engine merges: then a range may map the pool. */
	r->discard = dirty_logging ? DISCARD_MAYBE_PRIVATE : DISCARD_ANON;
	pthread_mutex_init(&r->dirty_lock, NULL);
	for (unsigned i = 0; i < m->nr_regions; i++) {
		r->soft_dirty[i] = calloc(bitmap_words(&m->regions[i]), 8);
		r->reported[i] = calloc(bitmap_words(&m->regions[i]), 8);
		if (!r->soft_dirty[i] || !r->reported[i])
			return -ENOMEM;
	}
	return 0;
}

int ram_fetch_dirty(struct guest_ram *r, unsigned region, uint64_t *bitmap)
{
	struct kvm_dirty_log log = {.slot = region, .dirty_bitmap = bitmap};
	uint64_t words;

	if (region >= r->mem->nr_regions || !r->dirty_logging)
		return -EINVAL;
	words = bitmap_words(&r->mem->regions[region]);
	if (ioctl(r->vm_fd, KVM_GET_DIRTY_LOG, &log) < 0)
		return -errno;
	pthread_mutex_lock(&r->dirty_lock);
	for (uint64_t i = 0; i < words; i++) {
		bitmap[i] |= r->soft_dirty[region][i];
		r->soft_dirty[region][i] = 0;
	}
	pthread_mutex_unlock(&r->dirty_lock);
	return 0;
}

void *ram_write_begin(struct guest_ram *r, uint64_t gpa, uint64_t len)
{
	void *p = mem_gpa(r->mem, gpa, len);

	if (p)
		pause_writer_begin(r->pause);
	return p;
}

void ram_write_end(struct guest_ram *r, uint64_t gpa, uint64_t len)
{
	const struct mem_region *reg = mem_find(r->mem, gpa);
	unsigned idx = (unsigned) (reg - r->mem->regions);
	uint64_t first = (gpa - reg->gpa) / PAGE_SIZE;
	uint64_t last = (gpa - reg->gpa + (len ? len : 1) - 1) / PAGE_SIZE;

	pthread_mutex_lock(&r->dirty_lock);
	for (uint64_t p = first; p <= last; p++)
		r->soft_dirty[idx][p / 64] |= 1ull << (p % 64);
	pthread_mutex_unlock(&r->dirty_lock);
	pause_writer_end(r->pause);
}

int ram_discard(struct guest_ram *r, uint64_t gpa, uint64_t len)
{
	const struct mem_region *reg = mem_find(r->mem, gpa);
	uint8_t *hva = mem_gpa(r->mem, gpa, len);
	unsigned idx;
	uint64_t first;
	int ret;

	if (!hva || !reg || len == 0 || (gpa | len) & (PAGE_SIZE - 1))
		return -EINVAL;
	idx = (unsigned) (reg - r->mem->regions);
	first = (gpa - reg->gpa) / PAGE_SIZE;
	pause_writer_begin(r->pause);
	ret = discard_range(r->discard, hva, len, -1, 0);
	pthread_mutex_lock(&r->dirty_lock);
	for (uint64_t p = first; !ret && p < first + len / PAGE_SIZE; p++) {
		r->reported[idx][p / 64] |= 1ull << (p % 64);
		/* The VMM's earlier writes there are gone with the content. */
		r->soft_dirty[idx][p / 64] &= ~(1ull << (p % 64));
	}
	if (!ret)
		r->pages_discarded += len / PAGE_SIZE;
	pthread_mutex_unlock(&r->dirty_lock);
	pause_writer_end(r->pause);
	return ret;
}

int ram_fetch_reported(struct guest_ram *r, unsigned region, uint64_t *bitmap)
{
	if (region >= r->mem->nr_regions)
		return -EINVAL;
	pthread_mutex_lock(&r->dirty_lock);
	for (uint64_t i = 0; i < bitmap_words(&r->mem->regions[region]); i++) {
		bitmap[i] |= r->reported[region][i];
		r->reported[region][i] = 0;
	}
	pthread_mutex_unlock(&r->dirty_lock);
	return 0;
}

void ram_destroy(struct guest_ram *r)
{
	if (!r->mem)
		return;
	for (unsigned i = 0; i < MEM_MAX_REGIONS; i++) {
		free(r->soft_dirty[i]);
		free(r->reported[i]);
		r->soft_dirty[i] = NULL;
		r->reported[i] = NULL;
	}
	pthread_mutex_destroy(&r->dirty_lock);
	r->mem = NULL;
}

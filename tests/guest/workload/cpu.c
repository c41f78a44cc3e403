/* cpu.c - a vCPU's wait, and where and how it writes its pages. */
#include "tests/guest/workload/cpu.h"

#include "tests/guest/workload/port.h"
#include "tests/guest/workload/store.h"

uint32_t wl_cpu_wait(uint32_t us)
{
	wl_outl(WL_PORT_WAIT, us);
	return wl_inl(WL_PORT_WAIT);
}

uint64_t *wl_cpu_page(const struct wl_cpu *c, uint64_t p)
{
	for (uint32_t i = 0; i < c->prm.nr_regions; i++) {
		if (p < c->prm.regions[i].npages)
			return (uint64_t *) (uintptr_t) (c->prm.regions[i].gpa + p * WL_PAGE_SIZE);
		p -= c->prm.regions[i].npages;
	}
	wl_die(); /* unreachable: p < total_pages == sum of npages */
}

void wl_cpu_write(struct wl_cpu *c, uint64_t p, uint32_t v)
{
	struct wl_content want = wl_page_content_by(&c->lay, &c->lineage[c->entry], p, v);
	uint32_t tag = wl_version_tag(c->entry, v);

	wl_store_page(wl_cpu_page(c, p), &want, c->prm.has_avx);
	if (c->versions[p] != tag)
		c->versions[p] = tag;
}

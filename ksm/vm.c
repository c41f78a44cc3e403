/* vm.c - a VM's page bookkeeping: where its pages live, queued actions, index membership. */
#include <errno.h>
#include <stdlib.h>

#include "ksm/internal.h"
#include "ksm/vm.h"

uint8_t *ksm_vm_page(const struct ksm_vm *vm, uint64_t i)
{
	unsigned r = ksm_vm_region(vm, i);

	return vm->regions[r].hva + (i - vm->first_page[r]) * PAGE_SIZE;
}

unsigned ksm_vm_region(const struct ksm_vm *vm, uint64_t i)
{
	unsigned r = 0;

	while (r + 1 < vm->nr_regions && i >= vm->first_page[r + 1])
		r++;
	return r;
}

int ksm_vm_queue(struct ksm_vm *vm, uint64_t page, uint32_t canon)
{
	if (vm->nr_actions == vm->cap_actions) {
		uint64_t cap = vm->cap_actions ? vm->cap_actions * 2 : 1024;
		struct ksm_action *n = realloc(vm->actions, cap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		vm->actions = n;
		vm->cap_actions = cap;
	}
	vm->actions[vm->nr_actions++] = (struct ksm_action){.page = page, .canon = canon};
	return 0;
}

struct ksm_vm *ksm_vm_of(const struct ksm *k, uint32_t id, uint64_t *page)
{
	for (struct ksm_vm *vm = k->vms; vm; vm = vm->next) {
		if (id >= vm->base && id - vm->base < vm->npages) {
			*page = id - vm->base;
			return vm;
		}
	}
	return NULL;
}

bool ksm_vm_unstable_match(const void *ctx, uint32_t id, uint64_t hash, uint32_t group)
{
	uint64_t page;
	struct ksm_vm *vm = ksm_vm_of((struct ksm *) ctx, id, &page);

	return vm && vm->group == group && (vm->pages[page].flags & KSM_PF_UNSTABLE) &&
	       vm->pages[page].hash == hash;
}

void ksm_vm_unstable_add(struct ksm *k, struct ksm_vm *vm, uint64_t i)
{
	struct ksm_page *p = &vm->pages[i];

	if (!ksm_index_insert(&k->unstable, p->hash, vm->group, vm->base + (uint32_t) i))
		p->flags |= KSM_PF_UNSTABLE;
}

void ksm_vm_unstable_forget(struct ksm *k, struct ksm_vm *vm, uint64_t i)
{
	struct ksm_page *p = &vm->pages[i];

	if (!(p->flags & KSM_PF_UNSTABLE))
		return;
	ksm_index_remove(&k->unstable, p->hash, vm->group, vm->base + (uint32_t) i);
	p->flags &= (uint8_t) ~KSM_PF_UNSTABLE;
}

void ksm_vm_canon_put(struct ksm *k, uint32_t id)
{
	struct ksm_canon c = k->pool.canon[id];

	/* Unindexed once freed, not before: a page an image pins stays findable with no
	 * guest left. A page that is not the index's entry for its key (an image's second
	 * copy of a content) finds nothing to remove. */
	if (ksm_pool_put(&k->pool, id))
		ksm_index_remove(&k->stable, c.hash, c.group, id);
}

void ksm_vm_page_reported(struct ksm *k, struct ksm_vm *vm, uint64_t i)
{
	struct ksm_page *p = &vm->pages[i];

	if (p->kind == KSM_PAGE_MERGED)
		ksm_vm_canon_put(k, p->canon);
	ksm_vm_unstable_forget(k, vm, i);
	p->kind = KSM_PAGE_ZERO;
	p->canon = KSM_POOL_NONE;
	/* The discard mapped anonymous memory over it: no longer in a pool mapping. */
	p->flags = (uint8_t) ((p->flags & (KSM_PF_PLANNED | KSM_PF_COOLING)) | KSM_PF_EMPTY |
			      KSM_PF_REPORTED);
	vm->reports++;
}

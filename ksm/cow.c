/* cow.c - which merged or released pages the guest wrote, confirmed in /proc/self/pagemap. */
#define pr_fmt(fmt) "ksm: " fmt
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "ksm/cow.h"
#include "ksm/internal.h"
#include "ksm/vm.h"
#include "lib/log.h"

/* Was the page behind @entry copied on write (or otherwise made private)? A merged page
 * is either not yet faulted in (not present) or maps the pool's file page. */
static bool copied(uint64_t entry)
{
	if (entry & KSM_PM_SWAPPED)
		return true;
	return (entry & KSM_PM_PRESENT) && !(entry & KSM_PM_FILE);
}

bool ksm_cow_read_pagemap(struct ksm *k, const uint8_t *hva, uint64_t n, uint64_t *out)
{
	off_t off = (off_t) ((uintptr_t) hva / PAGE_SIZE * 8);
	ssize_t want = (ssize_t) (n * 8);

	return k->pagemap_fd >= 0 && pread(k->pagemap_fd, out, (size_t) want, off) == want;
}

/* The guest wrote page @page since it was merged or released: it is its own again. */
static void written(struct ksm *k, struct ksm_vm *vm, uint64_t page)
{
	struct ksm_page *p = &vm->pages[page];

	if (p->kind == KSM_PAGE_MERGED) {
		ksm_vm_canon_put(k, p->canon);
		vm->cow_breaks++;
		k->cow_breaks++;
	}
	if (p->kind == KSM_PAGE_MERGED || !(p->flags & KSM_PF_EMPTY)) {
		unsigned strikes = (p->cool >> 14) < 3 ? (p->cool >> 14) + 1u : 3u;
		uint64_t until = k->passes + ((uint64_t) KSM_COOL_PASSES << (2 * (strikes - 1)));

		p->cool = (uint16_t) (strikes << 14 | (until & 0x3fff));
		p->flags |= KSM_PF_COOLING;
	}
	if (p->flags & KSM_PF_EMPTY)
		k->first_touches++;
	p->kind = KSM_PAGE_PLAIN;
	p->canon = KSM_POOL_NONE;
	p->flags = (uint8_t) ((p->flags | KSM_PF_VOLATILE) &
			      ~(KSM_PF_HASHED | KSM_PF_EMPTY | KSM_PF_REPORTED));
	vm->volatile_pages++;
}

/* Has the guest written page @page (merged or released) since? */
static bool rewritten(const struct ksm_page *p, uint64_t entry)
{
	if (p->kind == KSM_PAGE_MERGED)
		return copied(entry);
	return ksm_cow_backed(entry); /* a released page reads the zero page until written */
}

void ksm_cow_check(struct ksm *k, struct ksm_vm *vm, const uint64_t *pages, uint64_t n)
{
	uint64_t entries[512];

	for (uint64_t i = 0; i < n;) {
		uint64_t run = 1;

		while (i + run < n && run < 512 && pages[i + run] == pages[i] + run &&
		       ksm_vm_region(vm, pages[i]) == ksm_vm_region(vm, pages[i + run]))
			run++;
		/* Without the ground truth a merged page stays counted as merged: its pool
		 * page is then kept too long, never freed too early. */
		if (!ksm_cow_read_pagemap(k, ksm_vm_page(vm, pages[i]), run, entries)) {
			int err = errno;

			if (!k->warned_pagemap)
				pr_warn("reading /proc/self/pagemap failed: %s; merged pages the "
					"guest wrote keep their pool pages",
					strerror(err));
			k->warned_pagemap = true;
			i += run;
			continue;
		}
		for (uint64_t j = 0; j < run; j++)
			if (rewritten(&vm->pages[pages[i + j]], entries[j]))
				written(k, vm, pages[i + j]);
		i += run;
	}
}

/* cow.h - which merged or released pages the guest wrote, from /proc/self/pagemap.
 *
 * The dirty log only says a page may have been written (the bit can predate its merge);
 * the page table says whether the guest's page is still the pool's file page. This is
 * step (f) of the safety argument in ksm/ksm.h.
 */
#ifndef KSM_COW_H
#define KSM_COW_H

#include <stdbool.h>
#include <stdint.h>

struct ksm;
struct ksm_vm;

/* /proc/self/pagemap entry bits. */
#define KSM_PM_PRESENT (1ull << 63)
#define KSM_PM_SWAPPED (1ull << 62)
#define KSM_PM_FILE (1ull << 61)
#define KSM_PM_EXCLUSIVE (1ull << 56)

/* Does pagemap entry @e show a page of the guest's own (not absent, not the shared zero
 * page, not a pool page)? */
static inline bool ksm_cow_backed(uint64_t e)
{
	return (e & KSM_PM_SWAPPED) ||
	       ((e & KSM_PM_PRESENT) && (e & KSM_PM_EXCLUSIVE) && !(e & KSM_PM_FILE));
}

/* Read the pagemap entries of @n pages from @hva. Returns false if unavailable. */
bool ksm_cow_read_pagemap(struct ksm *k, const uint8_t *hva, uint64_t n, uint64_t *out);

/* Of @vm's merged or released pages @pages[0..@n) that the dirty log shows written, turn
 * those the guest really wrote into plain volatile pages (cooling), dropping a merged
 * one's pool reference; count its copy-on-write break. A page whose entry cannot be read
 * stays as it is: its pool page is then kept too long, never freed too early.
 * Caller holds k->lock. */
void ksm_cow_check(struct ksm *k, struct ksm_vm *vm, const uint64_t *pages, uint64_t n);

#endif

/* vmas.h - the mapping (VMA) budget: count the process's mappings against vm.max_map_count.
 *
 * Every pool mapping the engine makes can split a guest RAM mapping. At the limit mmap
 * fails with ENOMEM, and after that even remapping a page back fails, so the engine
 * keeps headroom: it stops merging isolated pages first, then stops merging at all.
 */
#ifndef KSM_VMAS_H
#define KSM_VMAS_H

#include <stdbool.h>
#include <stdint.h>

struct ksm_vmas {
	uint64_t limit;		/* vm.max_map_count */
	uint64_t used;		/* counted at the last resync, plus estimates since */
	uint64_t reserve;	/* left for the rest of the process, never used by merging */
	uint64_t isolated_stop; /* above this, isolated (single-page) merges stop */
	uint64_t since_count;	/* estimated additions since the last count */
};

/* Read the limit and count the current mappings. */
void ksm_vmas_resync(struct ksm_vmas *v);

/* Resync if the estimate is stale enough to matter. */
void ksm_vmas_maybe_resync(struct ksm_vmas *v);

/* May the engine make one more mapping for a run of @npages pages? */
bool ksm_vmas_allow(const struct ksm_vmas *v, uint64_t npages);

/* Can the budget take @calls mapping calls at once (worst case +2 each), keeping the
 * reserve? For an operation that must not stop halfway (adopting an image). */
bool ksm_vmas_fits(const struct ksm_vmas *v, uint64_t calls);

/* Account a mapping call that may have split a mapping (worst case +2). */
void ksm_vmas_add(struct ksm_vmas *v);

/* Number of lines of /proc/self/maps, or 0 if unreadable. */
uint64_t ksm_vmas_count(void);

#endif

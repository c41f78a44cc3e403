/* pool.h - canonical page pool: a memfd whose pages guests map MAP_PRIVATE, with refcounts.
 *
 * A pool page is written once, through the engine's shared view, before any guest maps
 * it, and never again. Its id is its page offset in the memfd. It is freed (hole
 * punched) only when its last member has been confirmed gone, so no guest mapping can
 * still read it uncopied.
 */
#ifndef KSM_POOL_H
#define KSM_POOL_H

#include <stdbool.h>
#include <stdint.h>

#include "lib/page.h"

#define KSM_POOL_NONE UINT32_MAX
/* Pool pages are faulted in by this many at a time: one page fault each costs tens of
 * microseconds under nested virtualisation, one madvise for a chunk far less. */
#define KSM_POOL_CHUNK 64

/* Book-keeping of one pool page. */
struct ksm_canon {
	uint64_t hash;	/* xxh3-64 of its content (as written) */
	uint32_t group; /* sharing group it serves */
	uint32_t refs;	/* guest pages mapping it uncopied; 0 = free or just created */
};

struct ksm_pool {
	int fd;			 /* the memfd */
	uint8_t *view;		 /* MAP_SHARED view of all of it, for writing and comparing */
	uint32_t cap;		 /* pages the memfd can hold */
	uint32_t cursor;	 /* next place to look for a free page */
	uint32_t used;		 /* allocated pages */
	uint64_t *bits;		 /* allocation bitmap */
	struct ksm_canon *canon; /* per page */
	uint64_t freed;		 /* pages released over the pool's life */
	uint64_t *populated;	 /* per KSM_POOL_CHUNK pages: backed and mapped in the view */
};

/* Create a pool able to hold @cap pages. Returns 0 or -errno. */
int ksm_pool_init(struct ksm_pool *p, uint32_t cap);

void ksm_pool_destroy(struct ksm_pool *p);

/* Allocate a page, preferring @hint (KSM_POOL_NONE for no preference) so that runs of
 * guest pages get runs of pool pages. Copies @src into it and records @hash/@group with
 * refs 0. Returns the id or KSM_POOL_NONE when full. */
uint32_t ksm_pool_add(struct ksm_pool *p, uint32_t hint, const void *src, uint64_t hash,
		      uint32_t group);

/* Host pointer to page @id in the engine's shared view. */
static inline uint8_t *ksm_pool_page(const struct ksm_pool *p, uint32_t id)
{
	return p->view + (uint64_t) id * PAGE_SIZE;
}

/* Byte offset of page @id in the memfd (for mmap). */
static inline uint64_t ksm_pool_offset(uint32_t id)
{
	return (uint64_t) id * PAGE_SIZE;
}

/* Drop one reference; frees the page (punches its hole) when none is left.
 * Returns true if the page was freed. */
bool ksm_pool_put(struct ksm_pool *p, uint32_t id);

/* Free a page that never got a reference (its merges all failed). */
void ksm_pool_release(struct ksm_pool *p, uint32_t id);

bool ksm_pool_allocated(const struct ksm_pool *p, uint32_t id);

#endif

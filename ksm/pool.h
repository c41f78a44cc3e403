/* pool.h - canonical page pool: a memfd whose pages guests map MAP_PRIVATE, with refcounts.
 *
 * A pool page is written once, through the engine's shared view, before any guest maps
 * it, and never again. Its id is its page offset in the memfd. It is freed (hole
 * punched) only when its last member has been confirmed gone, so no guest mapping can
 * still read it uncopied, and no snapshot image (ksm_image) pins it.
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
	uint32_t refs;	/* guest pages mapping it uncopied; 0 = free, just created, or
			 * kept only by an image's pin */
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
	uint64_t *pinned;	 /* per page: an image holds it (kept at refs 0, not a guest) */
	uint32_t nr_pinned;	 /* pages pinned */
	uint32_t nr_idle;	 /* pinned pages with refs 0: held for images alone */
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

/* Add one reference (a guest page now maps page @id uncopied). */
void ksm_pool_get(struct ksm_pool *p, uint32_t id);

/* Drop one reference; frees the page (punches its hole) when none is left and it is not
 * pinned. Returns true if the page was freed. */
bool ksm_pool_put(struct ksm_pool *p, uint32_t id);

/* Free a page that never got a reference (its merges all failed). Refused for a page
 * with references or a pin. */
void ksm_pool_release(struct ksm_pool *p, uint32_t id);

/* Pin allocated page @id for an image: it stays allocated (and its content intact) at
 * refs 0 until ksm_pool_unpin. A pin is not a reference: refs keeps counting guest
 * mappings only, which is what the accounting divides by. */
void ksm_pool_pin(struct ksm_pool *p, uint32_t id);

/* Drop the pin of page @id; frees it when no guest maps it. Returns true if freed. */
bool ksm_pool_unpin(struct ksm_pool *p, uint32_t id);

static inline bool ksm_pool_pinned(const struct ksm_pool *p, uint32_t id)
{
	return (p->pinned[id / 64] >> (id % 64)) & 1;
}

bool ksm_pool_allocated(const struct ksm_pool *p, uint32_t id);

#endif

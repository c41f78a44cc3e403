/* pool.h - canonical page pool: a memfd whose pages guests map MAP_PRIVATE, with refcounts.
 *
 * A pool page is written once, through the engine's shared view, before any guest maps
 * it, and never again. Its id is its page offset in the memfd. It is freed (hole
 * punched) only when its last member has been confirmed gone, so no guest mapping can
 * still read it uncopied, and no snapshot image (ksm_image) pins it.
 *
 * A segment lends the pool a run of ids backed by a file it did not write (a snapshot's
 * memory, which its owner keeps unchangeable): the run is mapped read-only into the view
 * and guests map the file itself, so its pages are used where they lie, never copied.
 * Ids of a segment are never handed out by ksm_pool_add; they come back to the memfd
 * when the segment's last page is freed (the segment dissolves and calls its @done).
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
/* Segments at once (one per snapshot image mapped in place). */
#define KSM_POOL_MAX_SEGS 8

/* Book-keeping of one pool page. */
struct ksm_canon {
	uint64_t hash;	/* xxh3-64 of its content (as written) */
	uint32_t group; /* sharing group it serves */
	uint32_t refs;	/* guest pages mapping it uncopied; 0 = free, just created, or
			 * kept only by an image's pin */
};

/* A run of ids backed by someone else's file (see the top). */
struct ksm_pool_seg {
	int fd;			    /* the engine's own descriptor of it; -1: slot unused */
	uint64_t off;		    /* file offset of id @base */
	uint32_t base, npages;	    /* ids [base, base + npages) */
	uint32_t live;		    /* of those, allocated pages */
	bool sealed;		    /* filled: dissolves when @live drops to 0 */
	void (*done)(void *opaque); /* the pool maps the file no more */
	void *opaque;
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
	uint32_t *pins;		 /* per page: images holding it (kept at refs 0, not guests) */
	uint32_t nr_pinned;	 /* pages pinned (by one image or more) */
	uint32_t nr_idle;	 /* pinned pages with refs 0: held for images alone */
	uint64_t *reserved;	 /* per page: lent to a segment (or lost to a failed remap) */
	struct ksm_pool_seg segs[KSM_POOL_MAX_SEGS];
};

/* Create a pool able to hold @cap pages. Returns 0 or -errno. */
int ksm_pool_init(struct ksm_pool *p, uint32_t cap);

void ksm_pool_destroy(struct ksm_pool *p);

/* Allocate a page, preferring @hint (KSM_POOL_NONE for no preference) so that runs of
 * guest pages get runs of pool pages. Copies @src into it and records @hash/@group with
 * refs 0. Returns the id or KSM_POOL_NONE when full. */
uint32_t ksm_pool_add(struct ksm_pool *p, uint32_t hint, const void *src, uint64_t hash,
		      uint32_t group);

/* Allocate a page as ksm_pool_add does, without writing it: its content and hash are
 * the caller's to set (through ksm_pool_page and canon[id].hash; the page may not be
 * backed yet) before the page is indexed or mapped. Other threads may fill pages
 * allocated so while the caller holds the engine's lock, each page by one thread. */
uint32_t ksm_pool_alloc(struct ksm_pool *p, uint32_t hint, uint32_t group);

/* Host pointer to page @id in the engine's shared view. */
static inline uint8_t *ksm_pool_page(const struct ksm_pool *p, uint32_t id)
{
	return p->view + (uint64_t) id * PAGE_SIZE;
}

/* Map pool pages [@id, @id + @n) over @hva, MAP_PRIVATE | MAP_FIXED | @flags, from the
 * file that backs them (the memfd, or a segment's file). The run must be contiguous
 * (ksm_pool_contiguous). Returns 0 or -errno. */
int ksm_pool_map(const struct ksm_pool *p, void *hva, uint32_t id, uint64_t n, int flags);

/* Do pages @a and @a + 1 == @b lie in one file, one after the other? */
bool ksm_pool_contiguous(const struct ksm_pool *p, uint32_t a, uint32_t b);

/* Lend the pool @npages pages of @fd from byte @off (page aligned): a run of free ids,
 * mapped read-only into the view. The pool takes its own descriptor (dup); @done is
 * called once, with @opaque, when it no longer maps the file (the segment dissolved, or
 * the pool was destroyed). Returns the segment's slot, or -ENOSPC (no free run of ids,
 * no free slot), or -errno; on failure @done is not called. */
int ksm_pool_seg_map(struct ksm_pool *p, int fd, uint64_t off, uint32_t npages,
		     void (*done)(void *opaque), void *opaque);

/* Allocate page @i of segment @s (its content is the file's) with @hash/@group, refs 0.
 * Returns its id. */
uint32_t ksm_pool_seg_adopt(struct ksm_pool *p, int s, uint32_t i, uint64_t hash, uint32_t group);

/* Segment @s is filled: from now on it dissolves when its last page is freed (at once if
 * it has none). */
void ksm_pool_seg_seal(struct ksm_pool *p, int s);

/* Host pointer to id @base + @i of segment @s in the view (for reading the file). */
static inline const uint8_t *ksm_pool_seg_page(const struct ksm_pool *p, int s, uint32_t i)
{
	return ksm_pool_page(p, p->segs[s].base + i);
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
 * refs 0 until every image that pinned it has called ksm_pool_unpin (images may share
 * a page: a live clone's image takes its parent's merged pages). A pin is not a
 * reference: refs keeps counting guest mappings only, which is what the accounting
 * divides by. */
void ksm_pool_pin(struct ksm_pool *p, uint32_t id);

/* Drop one pin of page @id; frees it when no pin is left and no guest maps it. Returns
 * true if freed. */
bool ksm_pool_unpin(struct ksm_pool *p, uint32_t id);

static inline bool ksm_pool_pinned(const struct ksm_pool *p, uint32_t id)
{
	return p->pins[id] != 0;
}

bool ksm_pool_allocated(const struct ksm_pool *p, uint32_t id);

#endif

/* pool.c - memfd-backed canonical pages: allocation by bitmap, release by hole punching. */
#include "ksm/pool.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "lib/page.h"

int ksm_pool_init(struct ksm_pool *p, uint32_t cap)
{
	memset(p, 0, sizeof(*p));
	p->fd = memfd_create("ksmvmm-pool", MFD_CLOEXEC);
	if (p->fd < 0)
		return -errno;
	if (cap == 0 || ftruncate(p->fd, (off_t) (cap * PAGE_SIZE)) < 0)
		goto err;
	p->view = mmap(NULL, cap * PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE,
		       p->fd, 0);
	if (p->view == MAP_FAILED)
		goto err;
	p->bits = calloc((cap + 63) / 64, sizeof(*p->bits));
	p->canon = calloc(cap, sizeof(*p->canon));
	p->populated = calloc((cap / KSM_POOL_CHUNK + 64) / 64, sizeof(*p->populated));
	p->pinned = calloc((cap + 63) / 64, sizeof(*p->pinned));
	if (!p->bits || !p->canon || !p->populated || !p->pinned)
		goto err;
	p->cap = cap;
	return 0;
err:
	if (p->view == MAP_FAILED)
		p->view = NULL;
	p->cap = cap;
	ksm_pool_destroy(p);
	return -ENOMEM;
}

void ksm_pool_destroy(struct ksm_pool *p)
{
	if (p->view)
		munmap(p->view, p->cap * PAGE_SIZE);
	if (p->fd >= 0)
		close(p->fd);
	free(p->bits);
	free(p->canon);
	free(p->populated);
	free(p->pinned);
	memset(p, 0, sizeof(*p));
	p->fd = -1;
}

bool ksm_pool_allocated(const struct ksm_pool *p, uint32_t id)
{
	return id < p->cap && (p->bits[id / 64] >> (id % 64)) & 1;
}

static uint32_t find_free(const struct ksm_pool *p, uint32_t hint)
{
	uint32_t words = (p->cap + 63) / 64, w0 = p->cursor / 64;

	if (hint < p->cap && !ksm_pool_allocated(p, hint))
		return hint;
	/* From the cursor on, wrapping; the cursor's own word is looked at twice: first
	 * above the cursor, last in full. Bits past cap read as free but fail id < cap. */
	for (uint32_t n = 0; n <= words; n++) {
		uint32_t w = (w0 + n) % words;
		uint64_t word = p->bits[w];

		if (n == 0)
			word |= (1ull << (p->cursor % 64)) - 1;
		if (~word) {
			uint32_t id = w * 64 + (uint32_t) __builtin_ctzll(~word);

			if (id < p->cap)
				return id;
		}
	}
	return KSM_POOL_NONE;
}

/* Back the chunk of page @id in one call before the first copy into it. Best effort: a
 * failure only means the copy faults the pages in one by one. */
static void populate(struct ksm_pool *p, uint32_t id)
{
	uint32_t c = id / KSM_POOL_CHUNK;
	uint64_t first = (uint64_t) c * KSM_POOL_CHUNK;
	uint64_t n = p->cap - first < KSM_POOL_CHUNK ? p->cap - first : KSM_POOL_CHUNK;

	if ((p->populated[c / 64] >> (c % 64)) & 1)
		return;
	madvise(p->view + first * PAGE_SIZE, n * PAGE_SIZE, MADV_POPULATE_WRITE);
	p->populated[c / 64] |= 1ull << (c % 64);
}

uint32_t ksm_pool_add(struct ksm_pool *p, uint32_t hint, const void *src, uint64_t hash,
		      uint32_t group)
{
	uint32_t id;

	if (p->used == p->cap)
		return KSM_POOL_NONE;
	id = find_free(p, hint);
	if (id == KSM_POOL_NONE)
		return id;
	p->bits[id / 64] |= 1ull << (id % 64);
	p->used++;
	p->cursor = id + 1 < p->cap ? id + 1 : 0;
	populate(p, id);
	memcpy(ksm_pool_page(p, id), src, PAGE_SIZE);
	p->canon[id] = (struct ksm_canon){.hash = hash, .group = group, .refs = 0};
	return id;
}

void ksm_pool_release(struct ksm_pool *p, uint32_t id)
{
	/* A page with references is still read by guests, a pinned one will be: never
	 * punch it. */
	if (!ksm_pool_allocated(p, id) || p->canon[id].refs || ksm_pool_pinned(p, id))
		return;
	fallocate(p->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t) (id * PAGE_SIZE),
		  (off_t) PAGE_SIZE);
	p->bits[id / 64] &= ~(1ull << (id % 64));
	/* The hole makes its chunk partly unbacked: populate it again before reuse. */
	p->populated[id / KSM_POOL_CHUNK / 64] &= ~(1ull << (id / KSM_POOL_CHUNK % 64));
	p->canon[id].refs = 0;
	p->used--;
	p->freed++;
}

void ksm_pool_get(struct ksm_pool *p, uint32_t id)
{
	if (p->canon[id].refs++ == 0 && ksm_pool_pinned(p, id))
		p->nr_idle--;
}

bool ksm_pool_put(struct ksm_pool *p, uint32_t id)
{
	if (!ksm_pool_allocated(p, id) || p->canon[id].refs == 0)
		return false;
	if (--p->canon[id].refs)
		return false;
	if (ksm_pool_pinned(p, id)) {
		p->nr_idle++;
		return false;
	}
	ksm_pool_release(p, id);
	return true;
}

void ksm_pool_pin(struct ksm_pool *p, uint32_t id)
{
	if (!ksm_pool_allocated(p, id) || ksm_pool_pinned(p, id))
		return;
	p->pinned[id / 64] |= 1ull << (id % 64);
	p->nr_pinned++;
	p->nr_idle += p->canon[id].refs == 0;
}

bool ksm_pool_unpin(struct ksm_pool *p, uint32_t id)
{
	if (!ksm_pool_allocated(p, id) || !ksm_pool_pinned(p, id))
		return false;
	p->pinned[id / 64] &= ~(1ull << (id % 64));
	p->nr_pinned--;
	if (p->canon[id].refs)
		return false;
	p->nr_idle--;
	ksm_pool_release(p, id);
	return true;
}

/* pool.c - memfd-backed canonical pages: allocation by bitmap, release by hole punching;
 * segments lent by files mapped in place. */
#define pr_fmt(fmt) "ksm: " fmt
#include "ksm/pool.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/page.h"

static bool test_bit(const uint64_t *bits, uint32_t id)
{
	return (bits[id / 64] >> (id % 64)) & 1;
}

static bool reserved(const struct ksm_pool *p, uint32_t id)
{
	return test_bit(p->reserved, id);
}

int ksm_pool_init(struct ksm_pool *p, uint32_t cap)
{
	memset(p, 0, sizeof(*p));
	for (unsigned s = 0; s < KSM_POOL_MAX_SEGS; s++)
		p->segs[s].fd = -1;
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
	p->pins = calloc(cap, sizeof(*p->pins));
	p->reserved = calloc((cap + 63) / 64, sizeof(*p->reserved));
	if (!p->bits || !p->canon || !p->populated || !p->pins || !p->reserved)
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

/* Segment @s no longer needs its file: close it and tell its owner. */
static void seg_end(struct ksm_pool_seg *g)
{
	void (*done)(void *) = g->done;

	close(g->fd);
	g->fd = -1;
	if (done)
		done(g->opaque);
}

void ksm_pool_destroy(struct ksm_pool *p)
{
	for (unsigned s = 0; s < KSM_POOL_MAX_SEGS; s++)
		if (p->segs[s].fd >= 0)
			seg_end(&p->segs[s]);
	if (p->view)
		munmap(p->view, p->cap * PAGE_SIZE);
	if (p->fd >= 0)
		close(p->fd);
	free(p->bits);
	free(p->canon);
	free(p->populated);
	free(p->pins);
	free(p->reserved);
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

	if (hint < p->cap && !ksm_pool_allocated(p, hint) && !reserved(p, hint))
		return hint;
	/* From the cursor on, wrapping; the cursor's own word is looked at twice: first
	 * above the cursor, last in full. Bits past cap read as free but fail id < cap. */
	for (uint32_t n = 0; n <= words; n++) {
		uint32_t w = (w0 + n) % words;
		uint64_t word = p->bits[w] | p->reserved[w];

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

uint32_t ksm_pool_alloc(struct ksm_pool *p, uint32_t hint, uint32_t group)
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
	p->canon[id] = (struct ksm_canon){.hash = 0, .group = group, .refs = 0};
	return id;
}

uint32_t ksm_pool_add(struct ksm_pool *p, uint32_t hint, const void *src, uint64_t hash,
		      uint32_t group)
{
	uint32_t id = ksm_pool_alloc(p, hint, group);

	if (id == KSM_POOL_NONE)
		return id;
	populate(p, id);
	memcpy(ksm_pool_page(p, id), src, PAGE_SIZE);
	p->canon[id].hash = hash;
	return id;
}

/* ---- Segments ---- */

/* The segment holding reserved id @id, or -1 (memfd, or ids lost to a failed remap). */
static int seg_of(const struct ksm_pool *p, uint32_t id)
{
	if (id >= p->cap || !reserved(p, id))
		return -1;
	for (int s = 0; s < KSM_POOL_MAX_SEGS; s++) {
		const struct ksm_pool_seg *g = &p->segs[s];

		if (g->fd >= 0 && id >= g->base && id - g->base < g->npages)
			return s;
	}
	return -1;
}

int ksm_pool_map(const struct ksm_pool *p, void *hva, uint32_t id, uint64_t n, int flags)
{
	int s = seg_of(p, id), fd = p->fd;
	uint64_t off = (uint64_t) id * PAGE_SIZE;

	if (s >= 0) {
		fd = p->segs[s].fd;
		off = p->segs[s].off + (uint64_t) (id - p->segs[s].base) * PAGE_SIZE;
	}
	if (mmap(hva, n * PAGE_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_FIXED | flags, fd,
		 (off_t) off) == MAP_FAILED)
		return -errno;
	return 0;
}

bool ksm_pool_contiguous(const struct ksm_pool *p, uint32_t a, uint32_t b)
{
	return b == a + 1 && seg_of(p, a) == seg_of(p, b) && reserved(p, a) == reserved(p, b);
}

static void set_range(uint64_t *bits, uint32_t base, uint32_t n, bool on)
{
	for (uint32_t id = base; id < base + n; id++) {
		if (on)
			bits[id / 64] |= 1ull << (id % 64);
		else
			bits[id / 64] &= ~(1ull << (id % 64));
	}
}

/* The first id of [@base, @base + @n) that is allocated or lent to a segment, or
 * KSM_POOL_NONE if the run is free. */
static uint32_t first_taken(const struct ksm_pool *p, uint32_t base, uint32_t n)
{
	for (uint32_t id = base; id < base + n; id++)
		if (ksm_pool_allocated(p, id) || reserved(p, id))
			return id;
	return KSM_POOL_NONE;
}

/* A free run of @n ids starting on a chunk boundary (so that populating a chunk never
 * touches a segment), or KSM_POOL_NONE. A taken id moves the search past it. */
static uint32_t find_run(const struct ksm_pool *p, uint32_t n)
{
	uint64_t base = 0;

	while (base + n <= p->cap) {
		uint32_t t = first_taken(p, (uint32_t) base, n);

		if (t == KSM_POOL_NONE)
			return (uint32_t) base;
		base = ((uint64_t) t / KSM_POOL_CHUNK + 1) * KSM_POOL_CHUNK;
	}
	return KSM_POOL_NONE;
}

/* Put the memfd back under ids [@base, @base + @n) of the view. Returns 0 or -errno. */
static int view_restore(struct ksm_pool *p, uint32_t base, uint32_t n)
{
	void *r = mmap(ksm_pool_page(p, base), (uint64_t) n * PAGE_SIZE, PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_FIXED | MAP_NORESERVE, p->fd, (off_t) base * PAGE_SIZE);

	return r == MAP_FAILED ? -errno : 0;
}

/* The chunks of [@base, @base + @n) are unbacked in the memfd: populate before reuse. */
static void unpopulate(struct ksm_pool *p, uint32_t base, uint32_t n)
{
	for (uint32_t c = base / KSM_POOL_CHUNK; c <= (base + n - 1) / KSM_POOL_CHUNK; c++)
		p->populated[c / 64] &= ~(1ull << (c % 64));
}

/* Segment @s has no page left: its ids go back to the memfd. If the view cannot be
 * remapped they stay reserved for good (lost, never handed out over the file). */
static void seg_dissolve(struct ksm_pool *p, int s)
{
	struct ksm_pool_seg *g = &p->segs[s];
	int ret = view_restore(p, g->base, g->npages);

	if (ret)
		pr_warn("cannot give %u pool pages back after a snapshot image: %s", g->npages,
			strerror(-ret));
	else
		set_range(p->reserved, g->base, g->npages, false);
	unpopulate(p, g->base, g->npages);
	seg_end(g);
}

static void seg_put(struct ksm_pool *p, uint32_t id)
{
	int s = seg_of(p, id);

	if (s < 0)
		return;
	if (--p->segs[s].live == 0 && p->segs[s].sealed)
		seg_dissolve(p, s);
}

static int free_slot(const struct ksm_pool *p)
{
	for (int s = 0; s < KSM_POOL_MAX_SEGS; s++)
		if (p->segs[s].fd < 0)
			return s;
	return -ENOSPC;
}

int ksm_pool_seg_map(struct ksm_pool *p, int fd, uint64_t off, uint32_t npages,
		     void (*done)(void *opaque), void *opaque)
{
	int s = free_slot(p), own, ret;
	uint32_t base = npages ? find_run(p, npages) : KSM_POOL_NONE;

	if (s < 0 || base == KSM_POOL_NONE || off % PAGE_SIZE)
		return s < 0 || base == KSM_POOL_NONE ? -ENOSPC : -EINVAL;
	own = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	if (own < 0)
		return -errno;
	/* Free ids may still be backed (a populated chunk): give that memory back first. */
	fallocate(p->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t) base * PAGE_SIZE,
		  (off_t) npages * PAGE_SIZE);
	unpopulate(p, base, npages);
	if (mmap(ksm_pool_page(p, base), (uint64_t) npages * PAGE_SIZE, PROT_READ,
		 MAP_SHARED | MAP_FIXED | MAP_NORESERVE, own, (off_t) off) == MAP_FAILED) {
		ret = -errno;
		close(own);
		/* A failed MAP_FIXED may have unmapped the range: put the memfd back. */
		if (view_restore(p, base, npages))
			set_range(p->reserved, base, npages, true);
		return ret;
	}
	set_range(p->reserved, base, npages, true);
	p->segs[s] = (struct ksm_pool_seg){
	    .fd = own, .off = off, .base = base, .npages = npages, .done = done, .opaque = opaque};
	return s;
}

uint32_t ksm_pool_seg_adopt(struct ksm_pool *p, int s, uint32_t i, uint64_t hash, uint32_t group)
{
	uint32_t id = p->segs[s].base + i;

	p->bits[id / 64] |= 1ull << (id % 64);
	p->used++;
	p->segs[s].live++;
	p->canon[id] = (struct ksm_canon){.hash = hash, .group = group, .refs = 0};
	return id;
}

void ksm_pool_seg_seal(struct ksm_pool *p, int s)
{
	p->segs[s].sealed = true;
	if (p->segs[s].live == 0)
		seg_dissolve(p, s);
}

void ksm_pool_release(struct ksm_pool *p, uint32_t id)
{
	/* A page with references is still read by guests, a pinned one will be: never
	 * punch it. */
	if (!ksm_pool_allocated(p, id) || p->canon[id].refs || ksm_pool_pinned(p, id))
		return;
	if (reserved(p, id))
		seg_put(p, id); /* the file is not ours: nothing to punch */
	else
		fallocate(p->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			  (off_t) (id * PAGE_SIZE), (off_t) PAGE_SIZE);
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
	if (!ksm_pool_allocated(p, id) || p->pins[id]++)
		return;
	p->nr_pinned++;
	p->nr_idle += p->canon[id].refs == 0;
}

bool ksm_pool_unpin(struct ksm_pool *p, uint32_t id)
{
	if (!ksm_pool_allocated(p, id) || !ksm_pool_pinned(p, id) || --p->pins[id])
		return false;
	p->nr_pinned--;
	if (p->canon[id].refs)
		return false;
	p->nr_idle--;
	ksm_pool_release(p, id);
	return true;
}

/* image.c - snapshot images: guest RAM copied once into pinned pool pages, or a snapshot's
 * memory file lent to the pool in place, then mapped over VMs as merged pages (contract
 * and accounting: ksm/ksm.h). */
#define pr_fmt(fmt) "ksm: " fmt
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <xxhash.h>

#include "ksm/cow.h"
#include "ksm/image.h"
#include "ksm/internal.h"
#include "ksm/stats.h"
#include "ksm/vm.h"
#include "lib/log.h"
#include "lib/parfor.h"

/* Zero runs are released by chunks of this many pages (one pagemap read each). */
#define IMAGE_CHUNK 512
/* Guest pages per block of an image's copy into the pool (lib/parfor.h). */
#define IMAGE_COPY_BLOCK 2048
/* Mapping boundaries a live clone's image may add by taking its parent's merged pages
 * rather than copying them (keep_runs): each is a mapping more in every adopting guest. */
#define IMAGE_TAKE_SPLITS 256

struct ksm_image {
	struct ksm_image *next; /* k->images */
	uint32_t group;		/* sharing group of its pool pages */
	uint64_t npages;	/* guest pages it covers */
	uint64_t held;		/* pool pages it pins */
	uint32_t *canon;	/* per guest page: its pool page, KSM_POOL_NONE if all zero */
};

static bool page_is_zero(const uint8_t *p)
{
	static const uint8_t zero[PAGE_SIZE];

	return memcmp(p, zero, PAGE_SIZE) == 0;
}

static uint64_t chunk_end(uint64_t i, uint64_t end)
{
	return end - i > IMAGE_CHUNK ? i + IMAGE_CHUNK : end;
}

static void image_free(struct ksm_image *img)
{
	free(img->canon);
	free(img);
}

/* Drop the image's pin of pool page @c; unindex the page if that frees it. */
static void unpin(struct ksm *k, uint32_t c)
{
	struct ksm_canon cn = k->pool.canon[c];

	if (ksm_pool_unpin(&k->pool, c))
		ksm_index_remove(&k->stable, cn.hash, cn.group, c);
}

/* Unpin the pool pages of the image's first @n guest pages. */
static void unpin_all(struct ksm *k, const struct ksm_image *img, uint64_t n)
{
	for (uint64_t i = 0; i < n; i++)
		if (img->canon[i] != KSM_POOL_NONE)
			unpin(k, img->canon[i]);
}

/* Make pinned page @c the stable index's entry for its content, unless an image's page
 * is already: a pinned page outlives the guests, so later guests find it rather than a
 * page whose last mapper may soon go (which stays mapped, only no longer found). A
 * failed insert only misses merges. */
static void index_page(struct ksm *k, uint32_t c)
{
	const struct ksm_canon *cn = &k->pool.canon[c];
	uint32_t e = ksm_index_find(&k->stable, cn->hash, cn->group);

	if (cn->group == KSM_GROUP_NONE || (e != KSM_INDEX_NONE && ksm_pool_pinned(&k->pool, e)))
		return;
	if (e != KSM_INDEX_NONE)
		ksm_index_remove(&k->stable, cn->hash, cn->group, e);
	(void) ksm_index_insert(&k->stable, cn->hash, cn->group, c);
}

/* What becomes of a guest page in an image (image_copy.what). */
enum {
	IMG_ZERO, /* all zero: no pool page */
	IMG_TAKE, /* the page the parent maps merged already holds it: pinned, not copied */
	IMG_COPY, /* copied into a pool page of the image's own */
};

/* The making of an image from its sources: guest page i's pool page is canon[i]. */
struct image_copy {
	struct ksm *k;
	struct ksm_image *img;
	const uint8_t *const *src;
	const uint64_t *npages;
	unsigned nsrc;
	const struct ksm_vm *vm; /* the paused parent of a live clone, else NULL */
	uint8_t *what;		 /* per guest page: IMG_* */
};

/* Source address of the image's page @i. */
static const uint8_t *source_page(const struct image_copy *c, uint64_t i)
{
	unsigned s = 0;

	while (s + 1 < c->nsrc && i >= c->npages[s])
		i -= c->npages[s++];
	return c->src[s] + i * PAGE_SIZE;
}

/* The pool page that the parent's page @i maps merged, if it holds the page's content
 * now, else KSM_POOL_NONE. The engine's state may be a pass old: a write since then made
 * the page the guest's own again. Its pagemap entry @e tells (ksm/cow.h, as the engine's
 * own copy-on-write check): a page that is not the guest's own is still the pool's file
 * page, and is taken unread (reading it would fault it in). The guest's own page (or
 * @e unknown, 0 with @known false) is compared byte for byte. A pool page is never
 * written after it is made, so the image may pin it as its own copy. */
static uint32_t merged_copy(const struct image_copy *c, uint64_t i, uint64_t e, bool known)
{
	const struct ksm_pool *p = &c->k->pool;
	const struct ksm_page *pg = &c->vm->pages[i];

	if (pg->kind != KSM_PAGE_MERGED || !ksm_pool_allocated(p, pg->canon) ||
	    p->canon[pg->canon].group != c->img->group)
		return KSM_POOL_NONE;
	if (known && !ksm_cow_backed(e))
		return pg->canon;
	if (memcmp(ksm_pool_page(p, pg->canon), source_page(c, i), PAGE_SIZE))
		return KSM_POOL_NONE;
	return pg->canon;
}

/* Does the parent's page @i read zeros without being read? Guest RAM is anonymous
 * memory outside the pool's mappings: a page there with nothing behind it (pagemap entry
 * @e neither present nor swapped) reads zeros, and reading it would fault it in. */
static bool unbacked_anon(const struct ksm_vm *vm, uint64_t i, uint64_t e)
{
	return !(vm->pages[i].flags & KSM_PF_POOLVMA) && !(e & (KSM_PM_PRESENT | KSM_PM_SWAPPED));
}

/* Sort guest pages [@i, @end) (one region of a live clone's parent, at most
 * IMAGE_CHUNK): taken from the parent's merged pages, or else zero or to copy. */
static void sort_parent(struct image_copy *c, uint64_t i, uint64_t end)
{
	uint64_t e[IMAGE_CHUNK];
	bool known = ksm_cow_read_pagemap(c->k, ksm_vm_page(c->vm, i), end - i, e);
	uint32_t *canon = c->img->canon;

	for (uint64_t j = i; j < end; j++) {
		canon[j] = KSM_POOL_NONE;
		c->what[j] = IMG_ZERO;
		if (known && unbacked_anon(c->vm, j, e[j - i]))
			continue;
		canon[j] = merged_copy(c, j, known ? e[j - i] : 0, known);
		c->what[j] = IMG_TAKE;
		if (canon[j] == KSM_POOL_NONE)
			c->what[j] = page_is_zero(source_page(c, j)) ? IMG_ZERO : IMG_COPY;
	}
}

/* par_fn: sort guest pages [@from, @to): zero, taken from the parent's merged pages,
 * or to copy. */
static void sort_block(void *opaque, unsigned worker, uint64_t from, uint64_t to)
{
	struct image_copy *c = opaque;

	(void) worker;
	for (uint64_t i = from, end; i < to; i = end) {
		end = chunk_end(i, to);
		if (c->vm) {
			unsigned r = ksm_vm_region(c->vm, i);
			uint64_t rend = c->vm->first_page[r] + c->vm->regions[r].npages;

			end = end < rend ? end : rend;
			sort_parent(c, i, end);
			continue;
		}
		for (uint64_t j = i; j < end; j++) {
			c->img->canon[j] = KSM_POOL_NONE;
			c->what[j] = page_is_zero(source_page(c, j)) ? IMG_ZERO : IMG_COPY;
		}
	}
}

/* A run of pages to take (keep_runs), and the mapping boundaries it adds. */
struct take_run {
	uint64_t first, n;
	unsigned splits;
};

static int longer_first(const void *a, const void *b)
{
	const struct take_run *x = a, *y = b;

	return x->n < y->n ? 1 : x->n > y->n ? -1 : (x->first > y->first) - (x->first < y->first);
}

/* End of the run of pages to take from @i: consecutive in one file. */
static uint64_t take_end(const struct image_copy *c, uint64_t i)
{
	const struct ksm_image *img = c->img;
	uint64_t end = i + 1;

	while (end < img->npages && c->what[end] == IMG_TAKE &&
	       ksm_pool_contiguous(&c->k->pool, img->canon[end - 1], img->canon[end]))
		end++;
	return end;
}

/* Is page @i a non-zero page next to a run, so that a mapping boundary lies between? */
static bool splits_at(const struct image_copy *c, uint64_t i)
{
	return i < c->img->npages && c->what[i] != IMG_ZERO;
}

/* A run taken between zero pages costs no mapping a copy would not: it is kept. One
 * next to other non-zero pages is a mapping boundary (in every guest that adopts the
 * image) that a copy, contiguous in the pool, would not have: of those runs the longest
 * are kept, which save the most copying, up to IMAGE_TAKE_SPLITS boundaries in all, and
 * the rest are copied. -ENOMEM if the runs cannot be listed. */
static int keep_runs(struct image_copy *c)
{
	struct take_run *runs = NULL;
	uint64_t n = 0, cap = 0, splits = 0;

	for (uint64_t i = 0, end; i < c->img->npages; i = end) {
		struct take_run run = {.first = i};

		end = i + 1;
		if (c->what[i] != IMG_TAKE)
			continue;
		end = take_end(c, i);
		run.n = end - i;
		run.splits = (i > 0 && splits_at(c, i - 1)) + splits_at(c, end);
		if (!run.splits)
			continue;
		if (n == cap) {
			struct take_run *r;

			cap = cap ? 2 * cap : 256;
			r = realloc(runs, cap * sizeof(*r));
			if (!r) {
				free(runs);
				return -ENOMEM;
			}
			runs = r;
		}
		runs[n++] = run;
	}
	if (n > 1)
		qsort(runs, n, sizeof(*runs), longer_first);
	for (uint64_t r = 0; r < n; r++) {
		splits += runs[r].splits;
		for (uint64_t i = runs[r].first;
		     splits > IMAGE_TAKE_SPLITS && i < runs[r].first + runs[r].n; i++) {
			c->img->canon[i] = KSM_POOL_NONE;
			c->what[i] = IMG_COPY;
		}
	}
	free(runs);
	return 0;
}

/* Give back the pool pages allocated for the copy (none pinned, none mapped yet). */
static void release_copies(struct image_copy *c)
{
	struct ksm_image *img = c->img;

	for (uint64_t i = 0; i < img->npages; i++) {
		if (c->what[i] == IMG_COPY && img->canon[i] != KSM_POOL_NONE)
			ksm_pool_release(&c->k->pool, img->canon[i]);
		img->canon[i] = KSM_POOL_NONE;
	}
}

/* A pool page for every page to copy, following the page before it where free (runs of
 * guest pages get runs of pool pages, one mapping each). On -ENOSPC none is kept. */
static int alloc_pages(struct image_copy *c)
{
	struct ksm_image *img = c->img;
	uint32_t prev = KSM_POOL_NONE;

	for (uint64_t i = 0; i < img->npages; i++) {
		if (c->what[i] != IMG_COPY) {
			prev = c->what[i] == IMG_TAKE ? img->canon[i] : prev;
			continue;
		}
		prev = ksm_pool_alloc(&c->k->pool, prev == KSM_POOL_NONE ? prev : prev + 1,
				      img->group);
		if (prev == KSM_POOL_NONE) {
			release_copies(c);
			return -ENOSPC;
		}
		img->canon[i] = prev;
	}
	return 0;
}

/* Is guest page @i copied into pool page @prev + 1, after page @i - 1 into @prev? */
static bool copy_follows(const struct image_copy *c, uint64_t i)
{
	const uint32_t *canon = c->img->canon;

	return c->what[i] == IMG_COPY && c->what[i - 1] == IMG_COPY && canon[i] == canon[i - 1] + 1;
}

/* par_fn: copy guest pages [@from, @to) into their pool pages, backing each run of
 * consecutive pool pages in one call first, and hash the pool's copy (what the page
 * holds, whatever the source does meanwhile). Each pool page is written by one thread. */
static void copy_block(void *opaque, unsigned worker, uint64_t from, uint64_t to)
{
	const struct image_copy *c = opaque;
	struct ksm_pool *p = &c->k->pool;
	const uint32_t *canon = c->img->canon;

	(void) worker;
	for (uint64_t i = from, end; i < to; i = end) {
		end = i + 1;
		if (c->what[i] != IMG_COPY)
			continue;
		while (end < to && copy_follows(c, end))
			end++;
		/* best effort: else the copy faults the pages in one by one */
		madvise(ksm_pool_page(p, canon[i]), (end - i) * PAGE_SIZE, MADV_POPULATE_WRITE);
		for (uint64_t q = i; q < end; q++) {
			uint8_t *dst = ksm_pool_page(p, canon[q]);

			memcpy(dst, source_page(c, q), PAGE_SIZE);
			p->canon[canon[q]].hash = XXH3_64bits(dst, PAGE_SIZE);
		}
	}
}

/* Make the image's pages, on every CPU we may use (the copy is most of a live clone's
 * time): a live clone (@vm) takes the pool pages its parent maps merged and that still
 * hold its content; every other non-zero page is copied. Then every page is pinned and
 * indexed. On -ENOSPC (or -ENOMEM) nothing is kept and the index is untouched. */
static int fill(struct ksm *k, struct ksm_image *img, const uint8_t *const *src,
		const uint64_t *npages, unsigned nsrc, const struct ksm_vm *vm)
{
	struct image_copy c = {
	    .k = k, .img = img, .src = src, .npages = npages, .nsrc = nsrc, .vm = vm};
	unsigned threads = par_threads();
	int ret;

	c.what = malloc(img->npages);
	if (!c.what)
		return -ENOMEM;
	par_for(img->npages, IMAGE_COPY_BLOCK, threads, sort_block, &c);
	ret = keep_runs(&c);
	if (!ret)
		ret = alloc_pages(&c);
	if (!ret)
		par_for(img->npages, IMAGE_COPY_BLOCK, threads, copy_block, &c);
	for (uint64_t i = 0; !ret && i < img->npages; i++) {
		if (img->canon[i] == KSM_POOL_NONE)
			continue;
		ksm_pool_pin(&k->pool, img->canon[i]);
		index_page(k, img->canon[i]);
		img->held++;
	}
	free(c.what);
	return ret;
}

/* A new image of @npages guest pages, empty yet; NULL with errno set. */
static struct ksm_image *image_alloc(const uint64_t *npages, unsigned nsrc, uint32_t group)
{
	struct ksm_image *img;
	uint64_t total = 0;

	/* An image larger than the engine's page ids could never be adopted. */
	for (unsigned s = 0; s < nsrc; s++) {
		if (npages[s] >= KSM_INDEX_NONE - total) {
			errno = EINVAL;
			return NULL;
		}
		total += npages[s];
	}
	if (total == 0) {
		errno = EINVAL;
		return NULL;
	}
	img = calloc(1, sizeof(*img));
	if (img)
		img->canon = malloc(total * sizeof(*img->canon));
	if (!img || !img->canon) {
		free(img);
		errno = ENOMEM;
		return NULL;
	}
	img->group = group;
	img->npages = total;
	return img;
}

/* ksm_image_create with k->lock held by the caller. */
static struct ksm_image *create_locked(struct ksm *k, const uint8_t *const *src,
				       const uint64_t *npages, unsigned nsrc, uint32_t group,
				       const struct ksm_vm *vm)
{
	struct ksm_image *img = image_alloc(npages, nsrc, group);
	int ret;

	if (!img)
		return NULL;
	ret = fill(k, img, src, npages, nsrc, vm);
	if (!ret) {
		img->next = k->images;
		k->images = img;
	}
	ksm_stats_publish(k);
	if (ret) {
		image_free(img);
		errno = -ret;
		return NULL;
	}
	return img;
}

struct ksm_image *ksm_image_create(struct ksm *k, const uint8_t *const *src, const uint64_t *npages,
				   unsigned nsrc, uint32_t group)
{
	struct ksm_image *img;

	pthread_mutex_lock(&k->lock);
	img = create_locked(k, src, npages, nsrc, group, NULL);
	pthread_mutex_unlock(&k->lock);
	return img;
}

/* ---- Images mapped in place from a file ---- */

/* The next run of data of @fd (pages relative to @off, below @n) from page @i on, in
 * [*from, *to); false if none is left. Without SEEK_DATA everything is data. */
static bool next_data(int fd, uint64_t off, uint64_t i, uint64_t n, uint64_t *from, uint64_t *to)
{
	off_t d = lseek(fd, (off_t) (off + i * PAGE_SIZE), SEEK_DATA), h;

	if (d < 0 && errno == ENXIO)
		return false;
	if (d < 0) {
		*from = i;
		*to = n;
		return true;
	}
	h = lseek(fd, d, SEEK_HOLE);
	*from = ((uint64_t) d - off) / PAGE_SIZE;
	*to = h < 0 ? n : ((uint64_t) h - off + PAGE_SIZE - 1) / PAGE_SIZE;
	if (*to > n)
		*to = n;
	return *from < n;
}

/* Page @i of segment @s joins the image, pinned and indexed, unless it is all zero. With
 * its hash given, only a page hashing as zero is read. */
static void take_page(struct ksm *k, struct ksm_image *img, int s, uint64_t i,
		      const uint64_t *hashes)
{
	const uint8_t *page = ksm_pool_seg_page(&k->pool, s, (uint32_t) i);
	uint64_t h = hashes ? hashes[i] : 0;
	uint32_t c;

	if ((!hashes || h == k->zero_hash) && page_is_zero(page))
		return;
	if (!hashes)
		h = XXH3_64bits(page, PAGE_SIZE);
	c = ksm_pool_seg_adopt(&k->pool, s, (uint32_t) i, h, img->group);
	ksm_pool_pin(&k->pool, c);
	index_page(k, c);
	img->canon[i] = c;
	img->held++;
}

/* With the hashes known, room in the stable index for every page not hashing as zero,
 * made at once (best effort: without it the index grows as pages come). */
static void reserve_index(struct ksm *k, const struct ksm_image *img, const uint64_t *hashes)
{
	uint64_t n = 0;

	if (!hashes || img->group == KSM_GROUP_NONE)
		return;
	for (uint64_t j = 0; j < img->npages; j++)
		n += hashes[j] != k->zero_hash;
	(void) ksm_index_reserve(&k->stable, n);
}

/* Every page of the file that holds data and is not zero joins the image. Holes are not
 * read: a read of one would fill the page cache with zeros. */
static void fill_mapped(struct ksm *k, struct ksm_image *img, int s, int fd, uint64_t off,
			const uint64_t *hashes)
{
	uint64_t i = 0, from, to;

	for (uint64_t j = 0; j < img->npages; j++)
		img->canon[j] = KSM_POOL_NONE;
	reserve_index(k, img, hashes);
	while (i < img->npages && next_data(fd, off, i, img->npages, &from, &to)) {
		/* One call maps the run in the view, best effort (else faults, one a page):
		 * pages about to be read, or with their hashes given, pages the host's
		 * accounting then charges to this process (smaps), as it does any pool page. */
		madvise((void *) ksm_pool_seg_page(&k->pool, s, (uint32_t) from),
			(to - from) * PAGE_SIZE, MADV_POPULATE_READ);
		for (i = from; i < to; i++)
			take_page(k, img, s, i, hashes);
	}
}

struct ksm_image *ksm_image_map(struct ksm *k, int fd, uint64_t off, const uint64_t *npages,
				unsigned nsrc, uint32_t group, const uint64_t *hashes,
				void (*done)(void *opaque), void *opaque)
{
	struct ksm_image *img = image_alloc(npages, nsrc, group);
	int s;

	if (!img)
		return NULL;
	pthread_mutex_lock(&k->lock);
	s = ksm_pool_seg_map(&k->pool, fd, off, (uint32_t) img->npages, done, opaque);
	if (s >= 0) {
		fill_mapped(k, img, s, fd, off, hashes);
		ksm_pool_seg_seal(&k->pool, s);
		img->next = k->images;
		k->images = img;
		ksm_stats_publish(k);
	}
	pthread_mutex_unlock(&k->lock);
	if (s < 0) {
		image_free(img);
		errno = -s;
		return NULL;
	}
	return img;
}

/* End of the run that starts at page @i: pages of one region mapping consecutive pool
 * pages, or zero pages. */
static uint64_t run_end(const struct ksm *k, const struct ksm_image *img, const struct ksm_vm *vm,
			uint64_t i)
{
	unsigned r = ksm_vm_region(vm, i);
	uint64_t end = vm->first_page[r] + vm->regions[r].npages, j = i + 1;
	const uint32_t *c = img->canon;

	if (c[i] == KSM_POOL_NONE)
		while (j < end && c[j] == KSM_POOL_NONE)
			j++;
	else
		while (j < end && c[j] != KSM_POOL_NONE &&
		       ksm_pool_contiguous(&k->pool, c[j - 1], c[j]))
			j++;
	return j;
}

/* Does a page of [i, end) lie in a pool mapping? Then only an anonymous mapping over it
 * makes it read zeros (MADV_DONTNEED would bring the pool page back). */
static bool in_pool_vma(const struct ksm_vm *vm, uint64_t i, uint64_t end)
{
	for (; i < end; i++)
		if (vm->pages[i].flags & KSM_PF_POOLVMA)
			return true;
	return false;
}

/* Mapping calls that adopting @img into @vm makes (as adopt_map makes them). */
static uint64_t count_calls(const struct ksm *k, const struct ksm_image *img,
			    const struct ksm_vm *vm)
{
	uint64_t calls = 0;

	for (uint64_t i = 0, end; i < vm->npages; i = end) {
		end = run_end(k, img, vm, i);
		if (img->canon[i] != KSM_POOL_NONE) {
			calls++;
			continue;
		}
		for (uint64_t j = i; j < end; j = chunk_end(j, end))
			calls += in_pool_vma(vm, j, chunk_end(j, end));
	}
	return calls;
}

static bool registered(const struct ksm *k, const struct ksm_vm *vm)
{
	for (const struct ksm_vm *v = k->vms; v; v = v->next)
		if (v == vm)
			return true;
	return false;
}

/* May @img be adopted into @vm? Nothing is changed when it may not. */
static int adopt_check(struct ksm *k, const struct ksm_image *img, const struct ksm_vm *vm)
{
	uint64_t calls;

	if (!registered(k, vm) || vm->npages != img->npages || vm->group != img->group)
		return -EINVAL;
	calls = count_calls(k, img, vm);
	if (ksm_vmas_fits(&k->vmas, calls))
		return 0;
	ksm_vmas_resync(&k->vmas); /* the estimate only grows between counts: recount */
	if (ksm_vmas_fits(&k->vmas, calls))
		return 0;
	pr_warn("%s: adopting an image needs up to %llu more mappings, %llu of %llu are used "
		"(raise vm.max_map_count)",
		vm->name, (unsigned long long) (2 * calls), (unsigned long long) k->vmas.used,
		(unsigned long long) k->vmas.limit);
	return -ENOSPC;
}

/* The image supersedes what the dirty log and the reported pages say about the VM's old
 * content. A reported page left pending would later be taken for a discard of the
 * image's page, dropping a reference the guest still uses. */
static void drain(struct ksm_vm *vm)
{
	for (unsigned r = 0; r < vm->nr_regions; r++) {
		(void) vm->ops->fetch_dirty(vm->opaque, r, vm->dirty[r]);
		if (vm->ops->fetch_reported)
			(void) vm->ops->fetch_reported(vm->opaque, r, vm->reported[r]);
	}
}

/* Queued merges (a pass held back) were planned for the old content: the compare under
 * the next pause would refuse most, but one onto equal content would map over the image
 * and lose its reference. */
static void drop_actions(struct ksm_vm *vm)
{
	for (uint64_t n = 0; n < vm->nr_actions; n++)
		vm->pages[vm->actions[n].page].flags &= (uint8_t) ~KSM_PF_PLANNED;
	vm->nr_actions = 0;
}

/* Page @i leaves what it was (its new mapping is in place): out of the unstable index,
 * its old pool reference put. */
static void forget_page(struct ksm *k, struct ksm_vm *vm, uint64_t i)
{
	ksm_vm_unstable_forget(k, vm, i);
	if (vm->pages[i].kind == KSM_PAGE_MERGED)
		ksm_vm_canon_put(k, vm->pages[i].canon);
}

/* Map the image's pool run over pages [i, end) of @vm: they become merged. */
static int map_run(struct ksm *k, const struct ksm_image *img, struct ksm_vm *vm, uint64_t i,
		   uint64_t end)
{
	uint32_t c = img->canon[i];
	int ret = ksm_pool_map(&k->pool, ksm_vm_page(vm, i), c, end - i, MAP_NORESERVE);

	if (ret)
		return ret;
	ksm_vmas_add(&k->vmas);
	vm->adopted += end - i;
	k->adopted += end - i;
	for (; i < end; i++, c++) {
		ksm_pool_get(&k->pool, c); /* before the put: the old page may be this one */
		forget_page(k, vm, i);
		vm->pages[i] = (struct ksm_page){.hash = k->pool.canon[c].hash,
						 .canon = c,
						 .kind = KSM_PAGE_MERGED,
						 .flags = KSM_PF_HASHED | KSM_PF_POOLVMA};
	}
	return 0;
}

/* Page @i reads zeros now. A page of the guest's own (@backed) was released; one that had
 * nothing behind it is empty, and a zero page keeps what it was (empty, reported). */
static void zero_page(struct ksm *k, struct ksm_vm *vm, uint64_t i, bool backed)
{
	struct ksm_page *p = &vm->pages[i];
	uint8_t flags = KSM_PF_EMPTY;

	if (backed) {
		flags = 0;
		k->zero_released++;
	} else if (p->kind == KSM_PAGE_ZERO) {
		flags = p->flags & (KSM_PF_EMPTY | KSM_PF_REPORTED);
	}
	forget_page(k, vm, i);
	*p = (struct ksm_page){.canon = KSM_POOL_NONE, .kind = KSM_PAGE_ZERO, .flags = flags};
}

/* Make pages [i, end) (one chunk, one region) read zeros. */
static int zero_chunk(struct ksm *k, struct ksm_vm *vm, uint64_t i, uint64_t end)
{
	uint8_t *hva = ksm_vm_page(vm, i);
	size_t len = (end - i) * PAGE_SIZE;
	uint64_t e[IMAGE_CHUNK];

	if (!ksm_cow_read_pagemap(k, hva, end - i, e))
		memset(e, 0, sizeof(e)); /* unknown: counted as empty (figures only) */
	if (in_pool_vma(vm, i, end)) {
		if (mmap(hva, len, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE, -1,
			 0) == MAP_FAILED)
			return -errno;
		ksm_vmas_add(&k->vmas);
	} else if (madvise(hva, len, MADV_DONTNEED)) {
		return -errno;
	}
	for (uint64_t j = 0; i + j < end; j++)
		zero_page(k, vm, i + j, ksm_cow_backed(e[j]));
	return 0;
}

/* Map the whole image over @vm, run by run; stops at the first failure (the pages
 * before it are adopted, their state exact). */
static int adopt_map(struct ksm *k, const struct ksm_image *img, struct ksm_vm *vm)
{
	int ret = 0;

	for (uint64_t i = 0, end; i < vm->npages; i = end) {
		end = run_end(k, img, vm, i);
		if (img->canon[i] != KSM_POOL_NONE)
			ret = map_run(k, img, vm, i, end);
		for (uint64_t j = i; !ret && img->canon[i] == KSM_POOL_NONE && j < end;
		     j = chunk_end(j, end))
			ret = zero_chunk(k, vm, j, chunk_end(j, end));
		if (ret) {
			pr_err("%s: adopting an image stopped in the run at page %llu: %s",
			       vm->name, (unsigned long long) i, strerror(-ret));
			return ret;
		}
	}
	return 0;
}

/* Unlink @img, drop its pins and free it. Caller holds k->lock. */
static void put_locked(struct ksm *k, struct ksm_image *img)
{
	for (struct ksm_image **pp = &k->images; *pp; pp = &(*pp)->next) {
		if (*pp == img) {
			*pp = img->next;
			break;
		}
	}
	unpin_all(k, img, img->npages);
	image_free(img);
}

/* ksm_image_adopt with k->lock held by the caller. */
static int adopt_locked(struct ksm *k, struct ksm_image *img, struct ksm_vm *vm)
{
	int ret = adopt_check(k, img, vm);

	if (!ret) {
		drain(vm);
		drop_actions(vm);
		ret = adopt_map(k, img, vm);
		vm->volatile_pages = 0;
	}
	return ret;
}

int ksm_image_adopt(struct ksm *k, struct ksm_image *img, struct ksm_vm *vm)
{
	int ret;

	pthread_mutex_lock(&k->lock);
	ret = adopt_locked(k, img, vm);
	pthread_mutex_unlock(&k->lock);
	return ret;
}

struct ksm_image *ksm_image_fork(struct ksm *k, struct ksm_vm *vm, int (*hold)(void *opaque),
				 void (*release)(void *opaque), void *opaque)
{
	const uint8_t *src[KSM_MAX_REGIONS];
	uint64_t npages[KSM_MAX_REGIONS];
	struct ksm_image *img = NULL;
	int ret;

	pthread_mutex_lock(&k->lock);
	ret = registered(k, vm) ? hold(opaque) : -EINVAL;
	if (!ret) {
		for (unsigned r = 0; r < vm->nr_regions; r++) {
			src[r] = vm->regions[r].hva;
			npages[r] = vm->regions[r].npages;
		}
		img = create_locked(k, src, npages, vm->nr_regions, vm->group, vm);
		ret = img ? adopt_locked(k, img, vm) : -errno;
		release(opaque);
	}
	if (ret && img) {
		/* The parent's pages that did map the image keep their references. */
		put_locked(k, img);
		img = NULL;
	}
	ksm_stats_publish(k);
	pthread_mutex_unlock(&k->lock);
	if (ret)
		errno = -ret;
	return img;
}

void ksm_image_put(struct ksm *k, struct ksm_image *img)
{
	if (!img)
		return;
	pthread_mutex_lock(&k->lock);
	put_locked(k, img);
	ksm_stats_publish(k);
	pthread_mutex_unlock(&k->lock);
}

uint64_t ksm_image_pages(const struct ksm_image *img)
{
	return img->held;
}

uint64_t ksm_image_npages(const struct ksm_image *img)
{
	return img->npages;
}

void ksm_image_free_all(struct ksm *k)
{
	while (k->images) {
		struct ksm_image *img = k->images;

		k->images = img->next;
		image_free(img);
	}
}

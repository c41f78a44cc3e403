/* test_ksm_image.c - snapshot images in the merge engine, against fake guests (no KVM,
 * tests/unit/ksm_image_fake.h): a pool too small for an image, live clones, the image's
 * pages taking over the index, the mapping budget. Guests adopting the reference image:
 * test_ksm_image_adopt.c.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ksm/ksm.h"
#include "lib/parfor.h"
#include "tests/unit/check.h"
#include "tests/unit/ksm_image_fake.h"

/* A pool too small for the image: refused with ENOSPC, nothing kept. */
static void test_pool_full(void)
{
	struct ksm *k = engine(40); /* 41 pool pages, the image needs 54 */
	struct ksm_stats s;

	errno = 0;
	CHECK(image_make(k, 0) == NULL);
	CHECK_EQ(errno, ENOSPC);
	ksm_get_stats(k, &s, NULL, 0);
	CHECK_EQ(s.pool_pages, 0);
	CHECK_EQ(s.image_pages, 0);
	CHECK_EQ(s.pool_freed, 41); /* every page taken was given back */
	ksm_destroy(k);
}

/* Page @i of a live-clone test guest: unique content. */
static void clone_fill(struct fake *f, uint64_t i)
{
	fill(fake_page(f, i), (uint8_t) (i % 200 + 1), (uint32_t) i);
	mark(f->dirty, f, i);
}

/* Two guests x and y fill memory alike, fast enough that the engine only plans merges
 * (a fill storm holds them back): x has merges queued when it is cloned. */
static void clone_setup(struct ksm *k, struct fake *x, struct fake *y)
{
	struct ksm_stats s;

	ksm_pass(k); /* nothing written yet: every page empty */
	for (uint64_t i = 0; i < 2000; i++) {
		clone_fill(x, i);
		clone_fill(y, i);
	}
	ksm_pass(k); /* 4000 first touches: a storm, merging held */
	for (uint64_t i = 2000; i < 4000; i++) {
		clone_fill(x, i);
		clone_fill(y, i);
	}
	ksm_pass(k); /* still a storm: pages 0-1999 planned, their merges queued */
	ksm_get_stats(k, &s, NULL, 0);
	CHECK_EQ(s.merges, 0);
	CHECK_EQ(s.pool_pages, 2000);
	CHECK_EQ(s.passes_held, 2);
}

static bool clone_reads(const struct fake *f)
{
	for (uint64_t i = 0; i < 4096; i++)
		if (!has(fake_page(f, i), i < 4000 ? (uint8_t) (i % 200 + 1) : 0, (uint32_t) i))
			return false;
	return true;
}

/* Live clone: paused parent x adopts the image of its own RAM, as does its clone z.
 * x's merges queued before are dropped (one onto equal content would map over the
 * image's page and lose its reference); y's go on, onto pool pages of their own and, for
 * pages merged later, onto the image's. */
static void test_live_clone(void)
{
	struct ksm *k = engine(4 * 4096);
	struct fake *x = fake_new(4096, 0), *y = fake_new(4096, 0), *z = fake_new(4096, 0);
	struct ksm_vm *vx = fake_add(k, x, "x", 0), *vy = fake_add(k, y, "y", 0), *vz;
	const uint8_t *src[1] = {x->hva[0]};
	uint64_t np[1] = {4096}, m[9];
	struct ksm_image *img;
	struct ksm_stats s;
	struct ksm_vm_stats vs[3];

	clone_setup(k, x, y);
	img = ksm_image_create(k, src, np, 1, 0);
	CHECK(img && ksm_image_pages(img) == 4000);
	vz = fake_add(k, z, "z", 0);
	CHECK_EQ(ksm_image_adopt(k, img, vx), 0);
	CHECK_EQ(ksm_image_adopt(k, img, vz), 0);
	CHECK(clone_reads(x) && clone_reads(z));
	ksm_pass(k); /* calm */
	ksm_pass(k); /* calm again: the merges held back are done */
	ksm_get_stats(k, &s, vs, 3);
	CHECK_EQ(vs[0].pages_merged, 4000);
	CHECK_EQ(vs[1].pages_merged, 4000);
	CHECK_EQ(vs[2].pages_merged, 4000);
	CHECK_EQ(vs[0].pages_private + vs[2].pages_private, 0);
	CHECK_EQ(s.cow_breaks, 0);
	CHECK_EQ(s.pool_pages, 6000); /* the image's 4000, y's own 2000 */
	CHECK_EQ(ksm_matrix(k, m, NULL, 3), 3);
	CHECK_EQ(m[0 * 3 + 2], 4000); /* x and z share everything */
	CHECK_EQ(m[0 * 3 + 1], 2000); /* y merged pages 2000-3999 onto the image */
	for (uint64_t i = 0; i < 4000; i += 37) {
		CHECK(is_pool_page(x, i) && is_pool_page(z, i));
		if (pfn(x, i))
			CHECK_EQ(pfn(x, i), pfn(z, i));
	}
	CHECK(clone_reads(x) && clone_reads(y) && clone_reads(z));
	free_vm(k, vx);
	free_vm(k, vy);
	ksm_image_put(k, img);
	free_vm(k, vz);
	ksm_get_stats(k, &s, NULL, 0);
	CHECK_EQ(s.pool_pages, 0); /* every reference exact */
	ksm_destroy(k);
	fake_free(x);
	fake_free(y);
	fake_free(z);
}

static uint64_t read_u64(const char *path)
{
	FILE *f = fopen(path, "r");
	unsigned long long v = 0;

	if (f) {
		if (fscanf(f, "%llu", &v) != 1)
			v = 0;
		fclose(f);
	}
	return v;
}

/* An image of isolated pages needs one mapping per page: a second VM that would take
 * the process past the mapping budget is refused up front and left as it was. */
static void test_budget(void)
{
	uint64_t limit = read_u64("/proc/sys/vm/max_map_count");
	uint64_t reserve = limit / 8 > 2048 ? limit / 8 : 2048;
	uint64_t runs = (limit - reserve) * 3 / 8, n = 2 * runs;
	static uint8_t nz[PAGE] __attribute__((aligned(4096))), zero[PAGE];
	const uint8_t **src;
	struct ksm *k;
	struct ksm_image *img;
	struct fake *a, *b;
	struct ksm_vm *va, *vb;
	struct ksm_stats s;
	struct ksm_vm_stats vs[2];

	if (limit < 8192 || runs > 30000) {
		printf("test_budget: vm.max_map_count %llu: not tried\n",
		       (unsigned long long) limit);
		return;
	}
	/* Every other page non-zero (each its own pool page): one run per page. */
	src = malloc(n * sizeof(*src));
	for (uint64_t i = 0; i < n; i++)
		src[i] = i % 2 ? zero : nz;
	memset(nz, 0x42, PAGE);
	k = engine(3 * n);
	{
		uint64_t *np = malloc(n * sizeof(*np));

		for (uint64_t i = 0; i < n; i++)
			np[i] = 1;
		img = ksm_image_create(k, src, np, (unsigned) n, 0);
		free(np);
	}
	free(src);
	CHECK(img && ksm_image_pages(img) == runs);
	a = fake_new(n, 0);
	b = fake_new(n, 0);
	va = fake_add(k, a, "a", 0);
	vb = fake_add(k, b, "b", 0);
	CHECK_EQ(ksm_image_adopt(k, img, va), 0);
	CHECK_EQ(vmas_in(a->hva[0], n * PAGE), n);
	fake_write(b, 0, 0x17);
	CHECK_EQ(ksm_image_adopt(k, img, vb), -ENOSPC);
	CHECK_EQ(vmas_in(b->hva[0], n * PAGE), 1);
	CHECK(has(fake_page(b, 0), 0x17, 0x17171717) && is_backed(b, 0));
	ksm_publish(k);
	ksm_get_stats(k, &s, vs, 2);
	CHECK_EQ(vs[0].pages_merged, runs);
	CHECK_EQ(vs[1].pages_merged, 0);
	free_vm(k, va);
	free_vm(k, vb);
	ksm_image_put(k, img);
	ksm_get_stats(k, &s, NULL, 0);
	CHECK_EQ(s.pool_pages, 0);
	ksm_destroy(k);
	fake_free(a);
	fake_free(b);
}

/* The image's copy of a content already merged elsewhere becomes the index's entry: once
 * the guests that shared the older pool page are gone, a new guest still merges onto
 * the image's page. */
static void test_index_takeover(void)
{
	struct ksm *k = engine(4096);
	struct fake *e = fake_new(64, 0), *g = fake_new(64, 0), *h = fake_new(64, 0);
	struct ksm_vm *ve = fake_add(k, e, "e", 0), *vg = fake_add(k, g, "g", 0), *vh;
	struct ksm_image *img;
	struct ksm_stats s;
	struct ksm_vm_stats vs[2];

	for (uint64_t i = 0; i < 64; i++) {
		fill(fake_page(e, i), img_val(2) + (i == 2 ? 0 : 100), i == 2 ? 2 : (uint32_t) i);
		memcpy(fake_page(g, i), fake_page(e, i), PAGE);
		mark(e->dirty, e, i);
		mark(g->dirty, g, i);
	}
	ksm_pass(k);
	ksm_pass(k);
	ksm_get_stats(k, &s, NULL, 0);
	CHECK_EQ(s.pool_pages, 64); /* e and g share every page */
	img = image_make(k, 0);	    /* its page 2 is e's and g's page 2 */
	free_vm(k, ve);
	free_vm(k, vg);
	ksm_get_stats(k, &s, NULL, 0);
	CHECK_EQ(s.pool_pages, IMG_NONZERO); /* what e and g shared is gone */
	vh = fake_add(k, h, "h", 0);
	fill(fake_page(h, 2), img_val(2), 2);
	mark(h->dirty, h, 2);
	ksm_pass(k);
	ksm_pass(k);
	ksm_get_stats(k, &s, vs, 1);
	CHECK_EQ(vs[0].pages_merged, 1);
	CHECK(is_pool_page(h, 2));
	CHECK_EQ(s.pool_pages, IMG_NONZERO);
	free_vm(k, vh);
	ksm_image_put(k, img);
	ksm_get_stats(k, &s, NULL, 0);
	CHECK_EQ(s.pool_pages, 0);
	ksm_destroy(k);
	fake_free(e);
	fake_free(g);
	fake_free(h);
}

/* A live clone of a parent whose pages map image a merged takes a's pool pages rather
 * than copying them, but only where they still hold the parent's content: page 7 the
 * parent rewrote (the engine has not seen it yet, so it still counts it merged) is
 * copied; page 8, rewritten with the same bytes, is taken. The pages a and the clone's
 * image share live on until neither pins them. */
static void test_fork_takes_merged(void)
{
	struct ksm *k = engine(4096);
	struct fake *p = fake_new(32, 32), *c = fake_new(32, 32), *d = fake_new(32, 32);
	struct ksm_vm *vp = fake_add(k, p, "p", 0), *vc, *vd;
	struct ksm_image *a = image_make(k, 0), *b;
	uint8_t same[PAGE];
	struct ksm_stats s;
	bool reads = true;

	CHECK(a != NULL);
	if (!a)
		return;
	CHECK_EQ(ksm_image_adopt(k, a, vp), 0);
	memset(fake_page(p, 7), 0x77, PAGE);
	memcpy(same, fake_page(p, 8), PAGE);
	memcpy(fake_page(p, 8), same, PAGE);
	CHECK(!is_pool_page(p, 7) && !is_pool_page(p, 8)); /* copied on write */
	b = ksm_image_fork(k, vp, fake_hold, fake_nop, NULL);
	CHECK(b != NULL);
	if (!b)
		return;
	ksm_get_stats(k, &s, NULL, 0);
	CHECK_EQ(ksm_image_pages(b), IMG_NONZERO);
	CHECK_EQ(s.pool_pages, IMG_NONZERO + 1); /* page 7's copy alone is new */
	CHECK_EQ(s.image_pages, IMG_NONZERO + 1);
	vc = fake_add(k, c, "c", 0);
	CHECK_EQ(ksm_image_adopt(k, b, vc), 0);
	for (uint64_t i = 0; i < IMG_PAGES; i++) {
		bool want7 = i == 7 && memchr(fake_page(c, i), 0x77, PAGE) &&
			     memcmp(fake_page(c, i), fake_page(p, i), PAGE) == 0;

		reads = reads && (i == 7 ? want7 : has(fake_page(c, i), img_val(i), img_tag(i)));
		reads = reads && memcmp(fake_page(c, i), fake_page(p, i), PAGE) == 0;
	}
	CHECK(reads);
	CHECK(is_pool_page(c, 7) && is_pool_page(p, 7) && pfn(c, 7) == pfn(p, 7));
	ksm_image_put(k, a);
	free_vm(k, vp);
	free_vm(k, vc);
	ksm_get_stats(k, &s, NULL, 0);
	/* a's page 7 went with a; b still pins the 53 pages it took and its own copy */
	CHECK_EQ(s.pool_pages, IMG_NONZERO);
	CHECK_EQ(s.image_idle, IMG_NONZERO);
	vd = fake_add(k, d, "d", 0);
	CHECK_EQ(ksm_image_adopt(k, b, vd), 0);
	for (uint64_t i = 0; i < IMG_PAGES; i++)
		if (i != 7)
			CHECK(has(fake_page(d, i), img_val(i), img_tag(i)));
	CHECK(memchr(fake_page(d, 7), 0x77, PAGE) != NULL);
	free_vm(k, vd);
	ksm_image_put(k, b);
	ksm_get_stats(k, &s, NULL, 0);
	CHECK_EQ(s.pool_pages, 0);
	CHECK_EQ(s.image_pages, 0);
	ksm_destroy(k);
	fake_free(p);
	fake_free(c);
	fake_free(d);
}

/* A live clone of a parent of @n pages that adopted an image of its pages as @want
 * fills them before (@after false), then rewrote those @want fills differently after:
 * the clone adopting the fork's image must read what the parent does, as @want says.
 * Returns the pool pages the fork added (UINT64_MAX if it failed). */
static uint64_t fork_case(uint64_t n, void (*want)(uint8_t *page, uint64_t i, bool after))
{
	struct ksm *k = engine(4 * n);
	struct fake *p = fake_new(n, 0), *c = fake_new(n, 0);
	struct ksm_vm *vp = fake_add(k, p, "p", 0), *vc;
	uint8_t *src = aligned_alloc(PAGE, n * PAGE), page[PAGE];
	uint64_t added = UINT64_MAX, before;
	struct ksm_image *a, *b = NULL;
	bool reads = true;

	for (uint64_t i = 0; i < n; i++)
		want(src + i * PAGE, i, false);
	a = ksm_image_create(k, (const uint8_t *const *) &src, &n, 1, 0);
	CHECK(a && ksm_image_adopt(k, a, vp) == 0);
	for (uint64_t i = 0; i < n; i++) {
		want(page, i, true);
		if (memcmp(page, src + i * PAGE, PAGE))
			memcpy(fake_page(p, i), page, PAGE);
	}
	free(src);
	before = pool_pages(k);
	b = a ? ksm_image_fork(k, vp, fake_hold, fake_nop, NULL) : NULL;
	CHECK(b != NULL);
	if (b) {
		added = pool_pages(k) - before;
		vc = fake_add(k, c, "c", 0);
		CHECK_EQ(ksm_image_adopt(k, b, vc), 0);
		for (uint64_t i = 0; i < n; i++) {
			want(page, i, true);
			reads = reads && !memcmp(fake_page(c, i), page, PAGE) &&
				!memcmp(fake_page(p, i), page, PAGE);
		}
		CHECK(reads);
		free_vm(k, vc);
	}
	free_vm(k, vp);
	ksm_image_put(k, a);
	ksm_image_put(k, b);
	CHECK_EQ(pool_pages(k), 0);
	ksm_destroy(k);
	fake_free(p);
	fake_free(c);
	return added;
}

/* Every 8th page rewritten. */
static void every_8th(uint8_t *page, uint64_t i, bool after)
{
	fill(page, after && i % 8 == 0 ? 0xee : (uint8_t) (i % 250 + 1), (uint32_t) i);
}

/* Every 4th page zero, none rewritten. */
static void every_4th_zero(uint8_t *page, uint64_t i, bool after)
{
	(void) after;
	if (i % 4 == 3)
		memset(page, 0, PAGE);
	else
		fill(page, (uint8_t) (i % 250 + 1), (uint32_t) i);
}

/* A parent that rewrote every 8th page of 2048 maps 256 runs of 7 pages merged, each
 * next to pages of its own: taking a run adds two mapping boundaries in every guest that
 * adopts the image. Its clone's image takes runs up to 256 boundaries (the first 128,
 * all of a length) and copies the other runs' pages, with the rewritten ones. */
static void test_fork_run_budget(void)
{
	CHECK_EQ(fork_case(2048, every_8th), 256 + (256 - 128) * 7);
}

/* Runs between zero pages add no mapping boundary a copy would not have: a parent whose
 * 768 non-zero pages of 1024 lie in 256 runs of 3, every 4th page zero, has all of them
 * taken, and nothing is copied. */
static void test_fork_zero_bounded(void)
{
	CHECK_EQ(fork_case(1024, every_4th_zero), 0);
}

/* The big image of test_parallel_copy: 20000 pages in sources of 12345 and 7655 pages
 * (so that blocks of the copy end inside runs and a source ends inside a block), zero
 * in runs of 100 every 1000 pages; content byte and tag only page @i has. */
#define BIG_PAGES 20000u
#define BIG_SRC0 12345u

static bool big_zero(uint64_t i)
{
	return i % 1000 >= 900;
}

static void big_fill(uint8_t *p, uint64_t i)
{
	if (big_zero(i))
		memset(p, 0, PAGE);
	else
		fill(p, (uint8_t) (i % 251 + 1), (uint32_t) i);
}

/* One image of the big sources made with @threads copy threads, adopted by a guest that
 * must read it; a second guest writing copies of pages spread over the blocks merges
 * each onto the image's page, which needs the page's hash to be its content's. */
static void parallel_copy(unsigned threads)
{
	static const uint64_t probe[] = {0, 2047, 2048, 5000, 12344, 12345, 15099, 19899};
	struct ksm *k = engine(3 * BIG_PAGES);
	uint8_t *src[2] = {aligned_alloc(PAGE, BIG_SRC0 * PAGE),
			   aligned_alloc(PAGE, (BIG_PAGES - BIG_SRC0) * PAGE)};
	uint64_t np[2] = {BIG_SRC0, BIG_PAGES - BIG_SRC0}, nonzero = 0;
	struct fake *a = fake_new(BIG_PAGES, 0), *b = fake_new(BIG_PAGES, 0);
	struct ksm_vm *va = fake_add(k, a, "a", 0), *vb = fake_add(k, b, "b", 0);
	struct ksm_vm_stats vs[2];
	struct ksm_stats st;
	struct ksm_image *img;
	bool reads = true;

	for (uint64_t i = 0; i < BIG_PAGES; i++) {
		big_fill(i < BIG_SRC0 ? src[0] + i * PAGE : src[1] + (i - BIG_SRC0) * PAGE, i);
		nonzero += !big_zero(i);
	}
	par_set_threads(threads);
	img = ksm_image_create(k, (const uint8_t *const *) src, np, 2, 0);
	par_set_threads(0);
	free(src[0]);
	free(src[1]);
	CHECK(img != NULL);
	if (!img)
		return;
	CHECK_EQ(ksm_image_pages(img), nonzero);
	CHECK_EQ(ksm_image_adopt(k, img, va), 0);
	for (uint64_t i = 0; i < BIG_PAGES && reads; i++) {
		uint8_t want[PAGE];

		big_fill(want, i);
		reads = memcmp(fake_page(a, i), want, PAGE) == 0;
	}
	CHECK(reads);
	for (unsigned p = 0; p < sizeof(probe) / sizeof(probe[0]); p++) {
		big_fill(fake_page(b, probe[p]), probe[p]);
		mark(b->dirty, b, probe[p]);
	}
	ksm_pass(k);
	ksm_pass(k);
	ksm_get_stats(k, &st, vs, 2);
	CHECK_EQ(vs[0].pages_merged + vs[1].pages_merged, nonzero + 8);
	for (unsigned p = 0; p < sizeof(probe) / sizeof(probe[0]); p++)
		CHECK(is_pool_page(b, probe[p]) && pfn(b, probe[p]) == pfn(a, probe[p]));
	free_vm(k, va);
	free_vm(k, vb);
	ksm_image_put(k, img);
	ksm_destroy(k);
	fake_free(a);
	fake_free(b);
}

static void test_parallel_copy(void)
{
	parallel_copy(1);
	parallel_copy(2);
	parallel_copy(8);
}

int main(void)
{
	test_pool_full();
	test_live_clone();
	test_index_takeover();
	test_budget();
	test_parallel_copy();
	test_fork_takes_merged();
	test_fork_run_budget();
	test_fork_zero_bounded();
	return check_done("test_ksm_image");
}

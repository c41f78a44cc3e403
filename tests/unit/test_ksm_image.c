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

int main(void)
{
	test_pool_full();
	test_live_clone();
	test_index_takeover();
	test_budget();
	return check_done("test_ksm_image");
}

/* test_ksm_image_map.c - snapshot images lent to the merge engine's pool in place from a
 * file (ksm_image_map), against fake guests (no KVM, tests/unit/ksm_image_fake.h): the
 * file is never written nor its holes read, it is let go exactly once, its pool ids come
 * back to the memfd, a merge run never crosses from one backing file into another, and a
 * pool without room refuses it cleanly.
 */
#include <errno.h>

#include "ksm/ksm.h"
#include "tests/unit/check.h"
#include "tests/unit/ksm_image_fake.h"

/* Is page @i of @fd in the page cache? (A fresh mapping of it, asked with mincore.) */
static bool cached(int fd, uint64_t i)
{
	void *p = mmap(NULL, PAGE, PROT_READ, MAP_SHARED, fd, (off_t) (i * PAGE));
	unsigned char v = 0;

	if (p == MAP_FAILED)
		return true;
	if (mincore(p, PAGE, &v))
		v = 1;
	munmap(p, PAGE);
	return v & 1;
}

/* Guests write every page of the image: the file keeps the original, and its holes were
 * never read into the page cache (by the engine nor by a guest's reads of zeros). */
static void test_file_untouched(void)
{
	struct ksm *k = engine(4096);
	uint64_t np[2] = {40, 24};
	unsigned done = 0;
	int fd = source_file("/tmp");
	struct ksm_image *img = ksm_image_map(k, fd, 0, np, 2, 0, NULL, count_done, &done);
	struct fake *a = fake_new(32, 32);
	struct ksm_vm *va = fake_add(k, a, "a", 0);
	uint8_t buf[PAGE];

	CHECK(fd >= 0 && img != NULL);
	CHECK_EQ(ksm_image_pages(img), IMG_NONZERO);
	CHECK_EQ(ksm_image_adopt(k, img, va), 0);
	CHECK(reads_image(a));
	for (uint64_t i = 4; i <= 6; i++)
		CHECK(!cached(fd, i));
	for (uint64_t i = 0; i < IMG_PAGES; i++)
		fake_write(a, i, 0x77);
	ksm_pass(k);
	for (uint64_t i = 0; i < IMG_PAGES; i++) {
		CHECK(pread(fd, buf, PAGE, (off_t) (i * PAGE)) == (ssize_t) PAGE);
		CHECK(has(buf, img_val(i), img_tag(i)));
		CHECK(has(fake_page(a, i), 0x77, 0x77777777));
	}
	ksm_image_put(k, img);
	CHECK_EQ(done, 1u); /* every page was copied on write: the file goes with the pin */
	free_vm(k, va);
	CHECK_EQ(done, 1u);
	ksm_destroy(k);
	fake_free(a);
	close(fd);
}

/* Content byte @v for the pages of the copied image of test_no_crossing. */
static void fill_run(uint8_t *buf, uint64_t n, uint8_t v0)
{
	for (uint64_t i = 0; i < n; i++)
		fill(buf + i * PAGE, (uint8_t) (v0 + i), (uint32_t) (1000 + i));
}

/* Pool ids 0-63 hold a copied image (the memfd), 64 on the file image: a guest whose
 * pages 0 and 1 equal copied page 63 and file page 0 merges them, consecutive ids in two
 * files, with one mapping each. Then, with both images gone, the ids are the memfd's
 * again: new merges write pool pages there. */
static void test_no_crossing(void)
{
	struct ksm *k = engine(256);
	uint8_t *buf = aligned_alloc(PAGE, 64 * PAGE);
	uint64_t n64 = 64;
	unsigned done = 0;
	struct ksm_image *copy, *img;
	struct fake *d = fake_new(8, 0), *e = fake_new(8, 0), *f = fake_new(8, 0);
	struct ksm_vm *vd, *ve, *vf;
	struct ksm_stats s;

	fill_run(buf, 64, 100);
	copy = ksm_image_create(k, (const uint8_t *const *) &buf, &n64, 1, 0);
	img = image_map(k, 0, &done, false);
	CHECK(copy != NULL && img != NULL);
	memcpy(fake_page(d, 0), buf + 63 * PAGE, PAGE);
	fill(fake_page(d, 1), img_val(0), img_tag(0));
	fill(fake_page(d, 2), img_val(1), img_tag(1));
	for (uint64_t i = 0; i < 3; i++)
		mark(d->dirty, d, i);
	vd = fake_add(k, d, "d", 0);
	ksm_pass(k);
	ksm_pass(k);
	CHECK(is_pool_page(d, 0) && is_pool_page(d, 1) && is_pool_page(d, 2));
	CHECK(has(fake_page(d, 0), 163, 1063));
	CHECK(has(fake_page(d, 1), img_val(0), img_tag(0)));
	CHECK(has(fake_page(d, 2), img_val(1), img_tag(1)));
	free_vm(k, vd);
	ksm_image_put(k, copy);
	ksm_image_put(k, img);
	ksm_get_stats(k, &s, NULL, 0);
	CHECK_EQ(s.pool_pages, 0);
	CHECK_EQ(done, 1u);
	/* Two guests with 8 equal pages: 8 new pool pages, written through the view. */
	fill_run(fake_page(e, 0), 8, 200);
	fill_run(fake_page(f, 0), 8, 200);
	for (uint64_t i = 0; i < 8; i++) {
		mark(e->dirty, e, i);
		mark(f->dirty, f, i);
	}
	ve = fake_add(k, e, "e", 0);
	vf = fake_add(k, f, "f", 0);
	for (int pass = 0; pass < 3; pass++)
		ksm_pass(k);
	ksm_get_stats(k, &s, NULL, 0);
	CHECK_EQ(s.pool_pages, 8);
	for (uint64_t i = 0; i < 8; i++)
		CHECK(is_pool_page(e, i) &&
		      has(fake_page(f, i), (uint8_t) (200 + i), (uint32_t) (1000 + i)));
	free_vm(k, ve);
	free_vm(k, vf);
	ksm_destroy(k);
	free(buf);
	fake_free(d);
	fake_free(e);
	fake_free(f);
}

/* A pool without a free run that long refuses, and lets nothing go; the engine's end
 * lets a file go that is still mapped. */
static void test_refused_and_destroy(void)
{
	struct ksm *k = engine(48);
	unsigned done = 0;
	struct fake *a = fake_new(32, 32);
	struct ksm_vm *va;

	errno = 0;
	CHECK(image_map(k, 0, &done, true) == NULL && errno == ENOSPC);
	CHECK_EQ(done, 0u);
	ksm_destroy(k);
	k = engine(4096);
	va = fake_add(k, a, "a", 0);
	CHECK_EQ(ksm_image_adopt(k, image_map(k, 0, &done, true), va), 0);
	CHECK(reads_image(a));
	CHECK_EQ(done, 0u);
	ksm_destroy(k);
	CHECK_EQ(done, 1u);
	fake_free(a);
}

/* Hashes given with the image are trusted for the index only: a page whose hash is
 * wrong is never merged with a page of the content it claims, and a page claiming to be
 * zero is looked at before it is dropped. */
static void test_wrong_hashes(void)
{
	struct ksm *k = engine(4096);
	uint64_t np[2] = {40, 24}, h[IMG_PAGES];
	unsigned done = 0;
	int fd = source_file("/tmp");
	struct fake *a = fake_new(32, 32), *d = fake_new(8, 0);
	struct ksm_vm *va, *vd;
	struct ksm_image *img;

	image_hashes(h);
	h[10] = h[12]; /* page 10 claims page 12's content */
	h[13] = h[5];  /* page 13 claims to be zero */
	img = fd >= 0 ? ksm_image_map(k, fd, 0, np, 2, 0, h, count_done, &done) : NULL;
	CHECK(img != NULL);
	if (fd >= 0)
		close(fd);
	if (!img) {
		ksm_destroy(k);
		fake_free(a);
		fake_free(d);
		return;
	}
	CHECK_EQ(ksm_image_pages(img), IMG_NONZERO); /* page 13 kept */
	va = fake_add(k, a, "a", 0);
	CHECK_EQ(ksm_image_adopt(k, img, va), 0);
	CHECK(reads_image(a));
	fill(fake_page(d, 0), img_val(12), img_tag(12)); /* finds page 10 by its hash */
	fill(fake_page(d, 1), img_val(13), img_tag(13));
	for (uint64_t i = 0; i < 2; i++)
		mark(d->dirty, d, i);
	vd = fake_add(k, d, "d", 0);
	for (int pass = 0; pass < 3; pass++)
		ksm_pass(k);
	CHECK(has(fake_page(d, 0), img_val(12), img_tag(12)));
	CHECK(has(fake_page(d, 1), img_val(13), img_tag(13)));
	CHECK(pfn(d, 0) != pfn(a, 10) && pfn(d, 0) != pfn(a, 12)); /* page 12 is not indexed */
	CHECK(pfn(d, 1) != pfn(a, 13));
	CHECK(reads_image(a));
	free_vm(k, vd);
	free_vm(k, va);
	ksm_image_put(k, img);
	CHECK_EQ(done, 1u);
	ksm_destroy(k);
	fake_free(a);
	fake_free(d);
}

int main(void)
{
	test_file_untouched();
	test_wrong_hashes();
	test_no_crossing();
	test_refused_and_destroy();
	return check_done("test_ksm_image_map");
}

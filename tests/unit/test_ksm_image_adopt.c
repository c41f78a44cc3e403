/* test_ksm_image_adopt.c - guests adopting a snapshot image in the merge engine, against
 * fake guests (no KVM, tests/unit/ksm_image_fake.h): shared from the start with exact
 * figures, copied on write, merged onto by a guest booted later, pinned by the image,
 * adopted twice, refused. Every test runs three times: with the image copied into the
 * pool (ksm_image_create), and lent in place from a file (ksm_image_map) with and
 * without its page hashes given, which must behave the same and let the file go (its
 * done callback) only with its last page.
 */
#include <errno.h>

#include "ksm/ksm.h"
#include "tests/unit/check.h"
#include "tests/unit/ksm_image_fake.h"

static bool from_file;	    /* this round's images come from a file */
static bool hashed;	    /* with their page hashes given */
static unsigned done_calls; /* their done callbacks so far */

static struct ksm_image *make_img(struct ksm *k, uint32_t group)
{
	done_calls = 0;
	return from_file ? image_map(k, group, &done_calls, hashed) : image_make(k, group);
}

/* Once every page is gone, a file image's file is let go, exactly once. */
static void check_let_go(void)
{
	CHECK_EQ(done_calls, from_file ? 1u : 0u);
}

/* Do the non-zero pages map the pool (the same frames in every VM) and the zero pages
 * have nothing behind them? (Before anything reads the zero pages.) */
static void check_mapped(struct fake *const *f, unsigned n)
{
	for (uint64_t i = 0; i < IMG_PAGES; i++) {
		for (unsigned v = 0; v < n; v++) {
			CHECK(img_val(i) ? is_pool_page(f[v], i) : !(pm_raw(f[v], i) & PM_PRESENT));
			if (img_val(i) && pfn(f[0], i))
				CHECK_EQ(pfn(f[v], i), pfn(f[0], i));
		}
	}
}

/* Mappings of region r for the reference image: pool runs plus the anonymous pieces
 * between them (region 0: runs 0-3, 7-19, 21-31, pieces 4-6, 20; region 1: runs 32,
 * 34-49, 54-62, pieces 33, 50-53, 63). */
static void check_vmas(const struct fake *f)
{
	CHECK_EQ(vmas_in(f->hva[0], f->np[0] * PAGE), 5);
	CHECK_EQ(vmas_in(f->hva[1], f->np[1] * PAGE), 6);
}

/* Stale dirty bits and reports from before the adoption, and a dirty log that marks
 * every page (a log whose bits start set): no page may count as copied on write. */
static void check_first_pass(struct ksm *k, struct fake *const *f)
{
	struct ksm_stats s;
	struct ksm_vm_stats vs[3];

	fake_all_dirty(f[1]);
	ksm_pass(k);
	ksm_get_stats(k, &s, vs, 3);
	CHECK_EQ(s.cow_breaks, 0);
	CHECK_EQ(s.pool_pages, IMG_NONZERO);
	for (unsigned v = 0; v < 3; v++) {
		CHECK_EQ(vs[v].pages_merged, IMG_NONZERO);
		CHECK_EQ(vs[v].pages_empty, IMG_PAGES - IMG_NONZERO);
	}
}

/* Three VMs adopt one image: shared from the start, figures exact, few mappings. */
static void adopt_three(struct ksm *k, struct ksm_image *img, struct fake **f, struct ksm_vm **vm)
{
	struct ksm_stats s;
	struct ksm_vm_stats vs[3];
	uint64_t m[9], cost = 0;

	for (unsigned v = 0; v < 3; v++) {
		f[v] = fake_new(32, 32);
		vm[v] = fake_add(k, f[v], v == 0 ? "a" : v == 1 ? "b" : "c", 0);
	}
	/* Left over from before the restore: written pages, a report of a page that
	 * the image fills. Both are forgotten by the adoption. */
	fake_all_dirty(f[0]);
	mark(f[0]->reported, f[0], 8);
	for (unsigned v = 0; v < 3; v++)
		CHECK_EQ(ksm_image_adopt(k, img, vm[v]), 0);
	CHECK_EQ(f[0]->pauses, 0); /* the caller keeps the VM still, not the engine */
	ksm_get_stats(k, &s, vs, 3);
	CHECK_EQ(s.adopted, 0); /* not published yet */
	ksm_publish(k);
	ksm_get_stats(k, &s, vs, 3);
	CHECK_EQ(s.pool_pages, IMG_NONZERO);
	CHECK_EQ(s.image_pages, IMG_NONZERO);
	CHECK_EQ(s.image_idle, 0);
	CHECK_EQ(s.adopted, 3 * IMG_NONZERO);
	CHECK_EQ(s.merges, 0); /* no scanner merge happened */
	for (unsigned v = 0; v < 3; v++) {
		CHECK_EQ(vs[v].pages_merged, IMG_NONZERO);
		CHECK_EQ(vs[v].adopted, IMG_NONZERO);
		CHECK_EQ(vs[v].pages_empty, IMG_PAGES - IMG_NONZERO);
		CHECK_EQ(vs[v].pages_private, 0);
		/* 54 pages shared by 3: each VM saves 2/3 of them, costs 1/3 */
		CHECK_EQ(vs[v].bytes_saved, 36 * PAGE);
		CHECK_EQ(vs[v].cost_bytes, 18 * PAGE);
		cost += vs[v].cost_bytes;
		check_vmas(f[v]);
	}
	CHECK_EQ(cost, s.pool_pages * PAGE); /* the VMs are charged what the pool holds */
	CHECK_EQ(s.bytes_saved, 2 * IMG_NONZERO * PAGE);
	CHECK_EQ(ksm_matrix(k, m, NULL, 3), 3);
	for (unsigned x = 0; x < 9; x++)
		CHECK_EQ(m[x], IMG_NONZERO);
	check_mapped(f, 3);
	check_first_pass(k, f);
	for (unsigned v = 0; v < 3; v++)
		CHECK(reads_image(f[v]));
}

/* A write is copied for its VM alone and counts as one copy-on-write break. */
static void check_cow(struct ksm *k, struct fake **f)
{
	struct ksm_stats s;
	struct ksm_vm_stats vs[3];

	fake_write(f[0], 7, 0xee);
	fake_write(f[0], 4, 0x44); /* a zero page: the guest's own now, no break */
	CHECK(!is_pool_page(f[0], 7) && is_backed(f[0], 7));
	CHECK(has(fake_page(f[1], 7), img_val(7), img_tag(7)));
	CHECK(has(fake_page(f[2], 7), img_val(7), img_tag(7)));
	ksm_pass(k);
	ksm_get_stats(k, &s, vs, 3);
	CHECK_EQ(s.cow_breaks, 1);
	CHECK_EQ(vs[0].cow_breaks, 1);
	CHECK_EQ(vs[0].pages_merged, IMG_NONZERO - 1);
	CHECK_EQ(vs[0].pages_private, 2);
	CHECK_EQ(vs[1].pages_merged, IMG_NONZERO);
	CHECK_EQ(s.pool_pages, IMG_NONZERO); /* b and c still map page 7 */
	CHECK(has(fake_page(f[0], 7), 0xee, 0xeeeeeeee));
	CHECK(has(fake_page(f[1], 7), img_val(7), img_tag(7)));
}

/* A guest booted on its own, with pages equal to the image's, merges onto the image's
 * pool pages in a pass: its pages 0-3 and 7-11 onto 8 pool pages (its pages 10 and 11
 * both onto the one indexed copy of the image's page 10; a has copied page 7, b and c
 * still map it). */
static struct fake *check_later_guest(struct ksm *k, struct fake **f, struct ksm_vm **vmd)
{
	struct fake *d = fake_new(64, 0);
	struct ksm_stats s;
	struct ksm_vm_stats vs[4];
	uint64_t m[16];

	for (uint64_t i = 0; i < 64; i++) {
		if (i < 12 && img_val(i))
			fill(fake_page(d, i), img_val(i), img_tag(i));
		else if (i < 12)
			memset(fake_page(d, i), 0, PAGE);
		else
			fill(fake_page(d, i), (uint8_t) (150 + i), (uint32_t) i);
		mark(d->dirty, d, i);
	}
	*vmd = fake_add(k, d, "d", 0);
	ksm_pass(k);
	ksm_pass(k);
	ksm_get_stats(k, &s, vs, 4);
	CHECK_EQ(vs[3].pages_merged, 9);
	CHECK_EQ(vs[3].pages_zero, 3);
	CHECK_EQ(s.pool_pages, IMG_NONZERO); /* no new pool page */
	for (uint64_t i = 0; i < 12; i++)
		CHECK(img_val(i) ? is_pool_page(d, i) : !is_backed(d, i));
	if (pfn(f[1], 10))
		CHECK_EQ(pfn(d, 11), pfn(f[1], 10));
	CHECK(has(fake_page(d, 11), 11, 10));
	CHECK_EQ(ksm_matrix(k, m, NULL, 4), 4);
	CHECK_EQ(m[3 * 4 + 1], 8);
	CHECK_EQ(m[3 * 4 + 3], 8);
	CHECK_EQ(m[3 * 4 + 0], 7); /* not page 7: a wrote it */
	return d;
}

static void test_adopt(void)
{
	struct ksm *k = engine(4096);
	struct ksm_image *img = make_img(k, 0);
	struct fake *f[3], *d;
	struct ksm_vm *vm[3], *vmd;
	struct ksm_stats s;

	CHECK(img != NULL);
	CHECK_EQ(ksm_image_pages(img), IMG_NONZERO);
	CHECK_EQ(ksm_image_npages(img), IMG_PAGES);
	ksm_get_stats(k, &s, NULL, 0);
	CHECK_EQ(s.pool_pages, IMG_NONZERO);
	CHECK_EQ(s.image_idle, IMG_NONZERO); /* nobody maps it yet */
	adopt_three(k, img, f, vm);
	check_cow(k, f);
	d = check_later_guest(k, f, &vmd);
	free_vm(k, vm[0]);
	free_vm(k, vm[1]);
	ksm_image_put(k, img);
	ksm_get_stats(k, &s, NULL, 0);
	CHECK_EQ(s.image_pages, 0);
	CHECK_EQ(s.pool_pages, IMG_NONZERO); /* c still maps every page */
	CHECK(reads_image(f[2]));
	free_vm(k, vm[2]);
	ksm_get_stats(k, &s, NULL, 0);
	CHECK_EQ(s.pool_pages, 8); /* what d maps */
	CHECK_EQ(done_calls, 0);   /* d still reads 8 of the file's pages */
	CHECK(has(fake_page(d, 11), 11, 10));
	free_vm(k, vmd);
	ksm_get_stats(k, &s, NULL, 0);
	CHECK_EQ(s.pool_pages, 0);
	check_let_go();
	ksm_destroy(k);
	for (unsigned v = 0; v < 3; v++)
		fake_free(f[v]);
	fake_free(d);
}

/* The image keeps its pages when every guest has written them, and a VM adopting it
 * then still reads the original; put first, the pages go with their last guest. */
static void test_pin(void)
{
	struct ksm *k = engine(4096);
	struct ksm_image *img = make_img(k, 0);
	struct fake *a = fake_new(32, 32), *b = fake_new(32, 32);
	struct ksm_vm *va = fake_add(k, a, "a", 0), *vb = fake_add(k, b, "b", 0);
	struct ksm_stats s;

	CHECK_EQ(ksm_image_adopt(k, img, va), 0);
	for (uint64_t i = 0; i < IMG_PAGES; i++)
		fake_write(a, i, 0x5a);
	ksm_pass(k);
	ksm_get_stats(k, &s, NULL, 0);
	CHECK_EQ(s.cow_breaks, IMG_NONZERO);
	CHECK_EQ(s.pool_pages, IMG_NONZERO);
	CHECK_EQ(s.image_idle, IMG_NONZERO);
	CHECK_EQ(ksm_image_adopt(k, img, vb), 0);
	CHECK(reads_image(b));
	ksm_image_put(k, img);
	ksm_get_stats(k, &s, NULL, 0);
	CHECK_EQ(s.pool_pages, IMG_NONZERO); /* b maps them */
	CHECK(reads_image(b));
	CHECK_EQ(done_calls, 0);
	free_vm(k, vb);
	free_vm(k, va);
	ksm_get_stats(k, &s, NULL, 0);
	CHECK_EQ(s.pool_pages, 0);
	CHECK_EQ(s.image_pages, 0);
	check_let_go();
	ksm_destroy(k);
	fake_free(a);
	fake_free(b);
}

/* Adopting the same image twice into one VM leaves one reference per page. */
static void test_readopt(void)
{
	struct ksm *k = engine(4096);
	struct ksm_image *img = make_img(k, 0);
	struct fake *a = fake_new(32, 32);
	struct ksm_vm *va = fake_add(k, a, "a", 0);
	struct ksm_stats s;
	struct ksm_vm_stats vs;

	CHECK_EQ(ksm_image_adopt(k, img, va), 0);
	fake_write(a, 0, 0x11);
	ksm_pass(k);
	CHECK_EQ(ksm_image_adopt(k, img, va), 0);
	CHECK(reads_image(a));
	ksm_publish(k);
	ksm_get_stats(k, &s, &vs, 1);
	CHECK_EQ(vs.pages_merged, IMG_NONZERO);
	CHECK_EQ(vs.pages_private, 0);
	CHECK_EQ(vs.cost_bytes, IMG_NONZERO * PAGE); /* refs 1 each: it alone maps them */
	ksm_image_put(k, img);
	free_vm(k, va);
	ksm_get_stats(k, &s, NULL, 0);
	CHECK_EQ(s.pool_pages, 0);
	check_let_go();
	ksm_destroy(k);
	fake_free(a);
}

/* Refusals leave the VM as it was: wrong size, wrong group, not registered. */
static void test_refused(void)
{
	struct ksm *k = engine(4096);
	struct ksm_image *img = make_img(k, 0);
	struct fake *a = fake_new(32, 31), *b = fake_new(32, 32);
	struct ksm_vm *va = fake_add(k, a, "a", 0), *vb = fake_add(k, b, "b", 1);
	struct ksm_stats s;
	struct ksm_vm_stats vs[2];

	fake_write(a, 3, 0x33);
	fake_write(b, 3, 0x33);
	CHECK_EQ(ksm_image_adopt(k, img, va), -EINVAL);
	CHECK_EQ(ksm_image_adopt(k, img, vb), -EINVAL); /* group 1, image of group 0 */
	CHECK(has(fake_page(a, 3), 0x33, 0x33333333) && is_backed(a, 3));
	CHECK(has(fake_page(b, 3), 0x33, 0x33333333) && is_backed(b, 3));
	CHECK(!is_pool_page(b, 0));
	ksm_publish(k);
	ksm_get_stats(k, &s, vs, 2);
	CHECK_EQ(vs[0].pages_merged + vs[1].pages_merged, 0);
	CHECK_EQ(s.image_idle, IMG_NONZERO);
	ksm_vm_detach(k, vb);
	CHECK_EQ(ksm_image_adopt(k, img, vb), -EINVAL); /* detached */
	ksm_vm_free(k, vb);
	errno = 0;
	CHECK(ksm_image_create(k, NULL, NULL, 0, 0) == NULL && errno == EINVAL);
	ksm_image_put(k, img);
	ksm_get_stats(k, &s, NULL, 0);
	CHECK_EQ(s.pool_pages, 0);
	check_let_go();
	ksm_destroy(k);
	fake_free(a);
	fake_free(b);
}

int main(void)
{
	for (int round = 0; round < 3; round++) {
		from_file = round >= 1;
		hashed = round == 2;
		test_adopt();
		test_pin();
		test_readopt();
		test_refused();
	}
	return check_done("test_ksm_image_adopt");
}

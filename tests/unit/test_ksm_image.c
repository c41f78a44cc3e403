/* test_ksm_image.c - snapshot images in the merge engine, against fake guests (no KVM).
 *
 * A fake guest has one or two regions, each its own anonymous mapping between PROT_NONE
 * guard pages (so that /proc/self/maps shows each region's mappings apart), and a
 * software dirty log and reported-page log the test sets. Whether a page maps the pool
 * is read from /proc/self/pagemap (a file page, the same frame in every VM when frame
 * numbers are visible), never from the engine's own counters alone.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "ksm/ksm.h"
#include "tests/unit/check.h"

#define PAGE 4096ull
#define PM_PRESENT (1ull << 63)
#define PM_FILE (1ull << 61)
#define PM_EXCLUSIVE (1ull << 56)
#define PM_PFN ((1ull << 55) - 1)

struct fake {
	unsigned nr;
	uint8_t *hva[2];
	uint64_t np[2];
	uint64_t *dirty[2];
	uint64_t *reported[2];
	uint8_t *base; /* the reservation: guard, region 0, guard, region 1, guard */
	size_t len;
	unsigned pauses;
};

static void fake_pause(void *o)
{
	((struct fake *) o)->pauses++;
}

static void fake_nop(void *o)
{
	(void) o;
}

static int fake_fetch(uint64_t *src, uint64_t np, uint64_t *bm)
{
	for (uint64_t w = 0; w < (np + 63) / 64; w++)
		bm[w] |= src[w];
	memset(src, 0, (np + 63) / 64 * 8);
	return 0;
}

static int fake_dirty(void *o, unsigned r, uint64_t *bm)
{
	struct fake *f = o;

	return fake_fetch(f->dirty[r], f->np[r], bm);
}

static int fake_reported(void *o, unsigned r, uint64_t *bm)
{
	struct fake *f = o;

	return fake_fetch(f->reported[r], f->np[r], bm);
}

static const struct ksm_vm_ops fake_ops = {fake_pause, fake_nop, fake_nop, fake_dirty,
					   fake_reported};

static struct fake *fake_new(uint64_t np0, uint64_t np1)
{
	struct fake *f = calloc(1, sizeof(*f));
	uint8_t *p;

	f->nr = np1 ? 2 : 1;
	f->np[0] = np0;
	f->np[1] = np1;
	f->len = (np0 + np1 + 3) * PAGE;
	f->base = mmap(NULL, f->len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	p = f->base + PAGE;
	for (unsigned r = 0; r < f->nr; r++) {
		f->hva[r] = mmap(p, f->np[r] * PAGE, PROT_READ | PROT_WRITE,
				 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE, -1, 0);
		f->dirty[r] = calloc((f->np[r] + 63) / 64, 8);
		f->reported[r] = calloc((f->np[r] + 63) / 64, 8);
		p += (f->np[r] + 1) * PAGE;
	}
	return f;
}

static void fake_free(struct fake *f)
{
	munmap(f->base, f->len);
	for (unsigned r = 0; r < f->nr; r++) {
		free(f->dirty[r]);
		free(f->reported[r]);
	}
	free(f);
}

/* Host address of page @i, pages numbered across regions. */
static uint8_t *fake_page(const struct fake *f, uint64_t i)
{
	return i < f->np[0] ? f->hva[0] + i * PAGE : f->hva[1] + (i - f->np[0]) * PAGE;
}

static void mark(uint64_t **bm, const struct fake *f, uint64_t i)
{
	unsigned r = i < f->np[0] ? 0 : 1;
	uint64_t l = r ? i - f->np[0] : i;

	bm[r][l / 64] |= 1ull << (l % 64);
}

/* The guest writes page @i: KVM's dirty log would show it. */
static void fake_write(struct fake *f, uint64_t i, uint8_t byte)
{
	memset(fake_page(f, i), byte, PAGE);
	mark(f->dirty, f, i);
}

/* Every page marked written, as a dirty log whose bits predate the adoption. */
static void fake_all_dirty(struct fake *f)
{
	for (unsigned r = 0; r < f->nr; r++)
		memset(f->dirty[r], 0xff, (f->np[r] + 63) / 64 * 8);
}

static struct ksm_vm *fake_add(struct ksm *k, struct fake *f, const char *name, uint32_t group)
{
	struct ksm_region r[2];

	for (unsigned i = 0; i < f->nr; i++)
		r[i] = (struct ksm_region){
		    .hva = f->hva[i], .gpa = i * (1ull << 32), .npages = f->np[i]};
	return ksm_add_vm(k, name, group, r, f->nr, &fake_ops, f);
}

/* The pagemap entry of page @i, as it is (reading a released page would back it with
 * memory on some kernels, which allocate a page on a read fault of anonymous memory). */
static uint64_t pm_raw(const struct fake *f, uint64_t i)
{
	int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	uint64_t e = 0;

	if (pread(fd, &e, 8, (off_t) ((uintptr_t) fake_page(f, i) / PAGE * 8)) != 8)
		e = 0;
	close(fd);
	return e;
}

/* The pagemap entry of page @i after reading it (so that a mapped page is present). */
static uint64_t pm_entry(const struct fake *f, uint64_t i)
{
	volatile uint8_t touch = fake_page(f, i)[7];

	(void) touch;
	return pm_raw(f, i);
}

static bool is_pool_page(const struct fake *f, uint64_t i)
{
	uint64_t e = pm_entry(f, i);

	return (e & PM_PRESENT) && (e & PM_FILE);
}

/* Does page @i hold memory of its own (an anonymous page)? Not read first. */
static bool is_backed(const struct fake *f, uint64_t i)
{
	uint64_t e = pm_raw(f, i);

	return (e & PM_PRESENT) && (e & PM_EXCLUSIVE) && !(e & PM_FILE);
}

static uint64_t pfn(const struct fake *f, uint64_t i)
{
	return pm_entry(f, i) & PM_PFN;
}

/* Page content: byte @v everywhere, the page number in its first 4 bytes (v != 0). */
static void fill(uint8_t *p, uint8_t v, uint32_t tag)
{
	memset(p, v, PAGE);
	memcpy(p, &tag, sizeof(tag));
}

static bool has(const uint8_t *p, uint8_t v, uint32_t tag)
{
	uint8_t want[PAGE];

	if (v == 0)
		memset(want, 0, PAGE);
	else
		fill(want, v, tag);
	return memcmp(p, want, PAGE) == 0;
}

/* Mappings (lines of /proc/self/maps) overlapping [p, p + len). */
static unsigned vmas_in(const uint8_t *p, uint64_t len)
{
	FILE *m = fopen("/proc/self/maps", "r");
	unsigned long long a, b;
	char line[512];
	unsigned n = 0;

	while (m && fgets(line, sizeof(line), m))
		if (sscanf(line, "%llx-%llx", &a, &b) == 2 && a < (uintptr_t) p + len &&
		    b > (uintptr_t) p)
			n++;
	if (m)
		fclose(m);
	return n;
}

static struct ksm *engine(uint64_t max_pages)
{
	struct ksm_tunables t;

	ksm_default_tunables(&t);
	t.max_stall_us = 1000000;
	return ksm_create(max_pages, &t);
}

/* The reference image: 64 pages in two source buffers of 40 and 24 pages (adopted into
 * VMs of two 32-page regions, so sources and regions split differently). Zero pages:
 * 4-6, 20, 33, 50-53, 63; page 11 and page 45 repeat page 10. */
#define IMG_PAGES 64
#define IMG_NONZERO 54

static uint8_t img_val(uint64_t i)
{
	if ((i >= 4 && i <= 6) || i == 20 || i == 33 || (i >= 50 && i <= 53) || i == 63)
		return 0;
	return i == 11 || i == 45 ? 11 : (uint8_t) (i + 1);
}

static uint32_t img_tag(uint64_t i)
{
	return i == 11 || i == 45 ? 10 : (uint32_t) i;
}

struct source {
	uint8_t *buf[2];
	uint64_t np[2];
};

static void source_make(struct source *s)
{
	s->np[0] = 40;
	s->np[1] = 24;
	for (unsigned b = 0; b < 2; b++) {
		s->buf[b] = aligned_alloc(PAGE, s->np[b] * PAGE);
		for (uint64_t j = 0; j < s->np[b]; j++) {
			uint64_t i = b * 40 + j;

			if (img_val(i))
				fill(s->buf[b] + j * PAGE, img_val(i), img_tag(i));
			else
				memset(s->buf[b] + j * PAGE, 0, PAGE);
		}
	}
}

static struct ksm_image *image_make(struct ksm *k, uint32_t group)
{
	struct source s;
	struct ksm_image *img;

	source_make(&s);
	img = ksm_image_create(k, (const uint8_t *const *) s.buf, s.np, 2, group);
	/* The image is a copy: the sources can go at once. */
	free(s.buf[0]);
	free(s.buf[1]);
	return img;
}

/* Does every page of @f read the reference image? */
static bool reads_image(const struct fake *f)
{
	for (uint64_t i = 0; i < IMG_PAGES; i++)
		if (!has(fake_page(f, i), img_val(i), img_tag(i)))
			return false;
	return true;
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

static void free_vm(struct ksm *k, struct ksm_vm *vm)
{
	ksm_vm_detach(k, vm);
	ksm_vm_free(k, vm);
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
	struct ksm_image *img = image_make(k, 0);
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
	free_vm(k, vmd);
	ksm_get_stats(k, &s, NULL, 0);
	CHECK_EQ(s.pool_pages, 0);
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
	struct ksm_image *img = image_make(k, 0);
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
	free_vm(k, vb);
	free_vm(k, va);
	ksm_get_stats(k, &s, NULL, 0);
	CHECK_EQ(s.pool_pages, 0);
	CHECK_EQ(s.image_pages, 0);
	ksm_destroy(k);
	fake_free(a);
	fake_free(b);
}

/* Adopting the same image twice into one VM leaves one reference per page. */
static void test_readopt(void)
{
	struct ksm *k = engine(4096);
	struct ksm_image *img = image_make(k, 0);
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
	ksm_destroy(k);
	fake_free(a);
}

/* Refusals leave the VM as it was: wrong size, wrong group, not registered. */
static void test_refused(void)
{
	struct ksm *k = engine(4096);
	struct ksm_image *img = image_make(k, 0);
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
	ksm_destroy(k);
	fake_free(a);
	fake_free(b);
}

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
	test_adopt();
	test_pin();
	test_readopt();
	test_refused();
	test_pool_full();
	test_live_clone();
	test_index_takeover();
	test_budget();
	return check_done("test_ksm_image");
}

/* ksm_image_fake.h - for the unit tests of snapshot images in the merge engine
 * (test_ksm_image.c, test_ksm_image_adopt.c): fake guests, what the kernel says maps
 * their pages, and the reference image.
 *
 * A fake guest has one or two regions, each its own anonymous mapping between PROT_NONE
 * guard pages (so that /proc/self/maps shows each region's mappings apart), and a
 * software dirty log and reported-page log the test sets. Whether a page maps the pool
 * is read from /proc/self/pagemap (a file page, the same frame in every VM when frame
 * numbers are visible), never from the engine's own counters alone.
 */
#ifndef TESTS_UNIT_KSM_IMAGE_FAKE_H
#define TESTS_UNIT_KSM_IMAGE_FAKE_H

#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <xxhash.h>

#include "ksm/ksm.h"

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

static inline void fake_pause(void *o)
{
	((struct fake *) o)->pauses++;
}

static inline void fake_nop(void *o)
{
	(void) o;
}

/* A live clone's hold of a fake guest (ksm_image_fork): nothing else writes its RAM. */
static inline int fake_hold(void *o)
{
	(void) o;
	return 0;
}

static inline int fake_fetch(uint64_t *src, uint64_t np, uint64_t *bm)
{
	for (uint64_t w = 0; w < (np + 63) / 64; w++)
		bm[w] |= src[w];
	memset(src, 0, (np + 63) / 64 * 8);
	return 0;
}

static inline int fake_dirty(void *o, unsigned r, uint64_t *bm)
{
	struct fake *f = o;

	return fake_fetch(f->dirty[r], f->np[r], bm);
}

static inline int fake_reported(void *o, unsigned r, uint64_t *bm)
{
	struct fake *f = o;

	return fake_fetch(f->reported[r], f->np[r], bm);
}

static const struct ksm_vm_ops fake_ops = {fake_pause, fake_nop, fake_nop, fake_dirty,
					   fake_reported};

static inline struct fake *fake_new(uint64_t np0, uint64_t np1)
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

static inline void fake_free(struct fake *f)
{
	munmap(f->base, f->len);
	for (unsigned r = 0; r < f->nr; r++) {
		free(f->dirty[r]);
		free(f->reported[r]);
	}
	free(f);
}

/* Host address of page @i, pages numbered across regions. */
static inline uint8_t *fake_page(const struct fake *f, uint64_t i)
{
	return i < f->np[0] ? f->hva[0] + i * PAGE : f->hva[1] + (i - f->np[0]) * PAGE;
}

static inline void mark(uint64_t **bm, const struct fake *f, uint64_t i)
{
	unsigned r = i < f->np[0] ? 0 : 1;
	uint64_t l = r ? i - f->np[0] : i;

	bm[r][l / 64] |= 1ull << (l % 64);
}

/* The guest writes page @i: KVM's dirty log would show it. */
static inline void fake_write(struct fake *f, uint64_t i, uint8_t byte)
{
	memset(fake_page(f, i), byte, PAGE);
	mark(f->dirty, f, i);
}

/* Every page marked written, as a dirty log whose bits predate the adoption. */
static inline void fake_all_dirty(struct fake *f)
{
	for (unsigned r = 0; r < f->nr; r++)
		memset(f->dirty[r], 0xff, (f->np[r] + 63) / 64 * 8);
}

static inline struct ksm_vm *fake_add(struct ksm *k, struct fake *f, const char *name,
				      uint32_t group)
{
	struct ksm_region r[2];

	for (unsigned i = 0; i < f->nr; i++)
		r[i] = (struct ksm_region){
		    .hva = f->hva[i], .gpa = i * (1ull << 32), .npages = f->np[i]};
	return ksm_add_vm(k, name, group, r, f->nr, &fake_ops, f);
}

/* The pagemap entry of page @i, as it is (reading a released page would back it with
 * memory on some kernels, which allocate a page on a read fault of anonymous memory). */
static inline uint64_t pm_raw(const struct fake *f, uint64_t i)
{
	int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	uint64_t e = 0;

	if (pread(fd, &e, 8, (off_t) ((uintptr_t) fake_page(f, i) / PAGE * 8)) != 8)
		e = 0;
	close(fd);
	return e;
}

/* The pagemap entry of page @i after reading it (so that a mapped page is present). */
static inline uint64_t pm_entry(const struct fake *f, uint64_t i)
{
	volatile uint8_t touch = fake_page(f, i)[7];

	(void) touch;
	return pm_raw(f, i);
}

static inline bool is_pool_page(const struct fake *f, uint64_t i)
{
	uint64_t e = pm_entry(f, i);

	return (e & PM_PRESENT) && (e & PM_FILE);
}

/* Does page @i hold memory of its own (an anonymous page)? Not read first. */
static inline bool is_backed(const struct fake *f, uint64_t i)
{
	uint64_t e = pm_raw(f, i);

	return (e & PM_PRESENT) && (e & PM_EXCLUSIVE) && !(e & PM_FILE);
}

static inline uint64_t pfn(const struct fake *f, uint64_t i)
{
	return pm_entry(f, i) & PM_PFN;
}

/* Page content: byte @v everywhere, the page number in its first 4 bytes (v != 0). */
static inline void fill(uint8_t *p, uint8_t v, uint32_t tag)
{
	memset(p, v, PAGE);
	memcpy(p, &tag, sizeof(tag));
}

static inline bool has(const uint8_t *p, uint8_t v, uint32_t tag)
{
	uint8_t want[PAGE];

	if (v == 0)
		memset(want, 0, PAGE);
	else
		fill(want, v, tag);
	return memcmp(p, want, PAGE) == 0;
}

/* Mappings (lines of /proc/self/maps) overlapping [p, p + len). */
static inline unsigned vmas_in(const uint8_t *p, uint64_t len)
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

/* Pages in the engine's pool now (ksm_stats.pool_pages). */
static inline uint64_t pool_pages(struct ksm *k)
{
	struct ksm_stats s;

	ksm_get_stats(k, &s, NULL, 0);
	return s.pool_pages;
}

static inline struct ksm *engine(uint64_t max_pages)
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

static inline uint8_t img_val(uint64_t i)
{
	if ((i >= 4 && i <= 6) || i == 20 || i == 33 || (i >= 50 && i <= 53) || i == 63)
		return 0;
	return i == 11 || i == 45 ? 11 : (uint8_t) (i + 1);
}

static inline uint32_t img_tag(uint64_t i)
{
	return i == 11 || i == 45 ? 10 : (uint32_t) i;
}

struct source {
	uint8_t *buf[2];
	uint64_t np[2];
};

static inline void source_make(struct source *s)
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

static inline struct ksm_image *image_make(struct ksm *k, uint32_t group)
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

/* The reference image as a snapshot memory file would hold it: an unlinked file in
 * /tmp (@dir), the non-zero pages written, pages 4-6 a hole and the other zero pages
 * written as zeros (so that both kinds are seen). Returns the fd, or -1. */
static inline int source_file(const char *dir)
{
	struct source s;
	int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	bool ok = fd >= 0 && ftruncate(fd, (off_t) (IMG_PAGES * PAGE)) == 0;

	source_make(&s);
	for (uint64_t i = 0; ok && i < IMG_PAGES; i++) {
		const uint8_t *p = i < 40 ? s.buf[0] + i * PAGE : s.buf[1] + (i - 40) * PAGE;

		if (i < 4 || i > 6)
			ok = pwrite(fd, p, PAGE, (off_t) (i * PAGE)) == (ssize_t) PAGE;
	}
	free(s.buf[0]);
	free(s.buf[1]);
	if (!ok && fd >= 0) {
		close(fd);
		fd = -1;
	}
	return fd;
}

/* Counts the calls of an image's done callback. */
static inline void count_done(void *opaque)
{
	++*(unsigned *) opaque;
}

/* The XXH3-64 of each page of the reference image, as a snapshot reader hands them to
 * ksm_image_map. */
static inline void image_hashes(uint64_t *h)
{
	struct source s;

	source_make(&s);
	for (uint64_t i = 0; i < IMG_PAGES; i++)
		h[i] = XXH3_64bits(i < 40 ? s.buf[0] + i * PAGE : s.buf[1] + (i - 40) * PAGE, PAGE);
	free(s.buf[0]);
	free(s.buf[1]);
}

/* The reference image lent to the pool from a file (ksm_image_map), with its page hashes
 * given if @hashed, its done callback counting in *@done. The file's descriptor may be
 * closed at once. */
static inline struct ksm_image *image_map(struct ksm *k, uint32_t group, unsigned *done,
					  bool hashed)
{
	uint64_t np[2] = {40, 24}, h[IMG_PAGES];
	int fd = source_file("/tmp");
	struct ksm_image *img;

	if (fd < 0)
		return NULL;
	image_hashes(h);
	img = ksm_image_map(k, fd, 0, np, 2, group, hashed ? h : NULL, count_done, done);
	close(fd);
	return img;
}

/* Does every page of @f read the reference image? */
static inline bool reads_image(const struct fake *f)
{
	for (uint64_t i = 0; i < IMG_PAGES; i++)
		if (!has(fake_page(f, i), img_val(i), img_tag(i)))
			return false;
	return true;
}

static inline void free_vm(struct ksm *k, struct ksm_vm *vm)
{
	ksm_vm_detach(k, vm);
	ksm_vm_free(k, vm);
}

#endif

/* test_ksm.c - the merge engine's index, pool and passes against fake guests (no KVM).
 *
 * A fake guest is anonymous memory plus a software dirty bitmap the test sets when it
 * writes, standing in for KVM's dirty log. Merges are real remaps, checked through
 * /proc/self/pagemap (is the page the pool's file page?) and by reading the bytes.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "ksm/index.h"
#include "ksm/ksm.h"
#include "ksm/pool.h"
#include "ksm/stall.h"
#include "tests/unit/check.h"

#define PAGE 4096ull

/* The keys of the index test's entries, by id (the index keeps only 32 bits of each). */
#define INDEX_IDS 100010
static struct {
	uint64_t hash;
	uint32_t group;
} index_keys[INDEX_IDS];
static unsigned index_matches; /* candidates the index asked about */

static bool index_match(const void *ctx, uint32_t id, uint64_t hash, uint32_t group)
{
	(void) ctx;
	index_matches++;
	return id < INDEX_IDS && index_keys[id].hash == hash && index_keys[id].group == group;
}

static int index_put(struct ksm_index *ix, uint64_t hash, uint32_t group, uint32_t id)
{
	index_keys[id].hash = hash;
	index_keys[id].group = group;
	return ksm_index_insert(ix, hash, group, id);
}

static void test_index(void)
{
	struct ksm_index ix;
	uint64_t big;

	CHECK_EQ(ksm_index_init(&ix, 4, index_match, NULL), 0);
	CHECK_EQ(ksm_index_find(&ix, 42, 0), KSM_INDEX_NONE);
	CHECK_EQ(index_put(&ix, 42, 0, 7), 0);
	CHECK_EQ(index_put(&ix, 42, 1, 8), 0); /* same hash, other group */
	CHECK_EQ(ksm_index_find(&ix, 42, 0), 7);
	CHECK_EQ(ksm_index_find(&ix, 42, 1), 8);
	CHECK_EQ(ksm_index_find(&ix, 42, 2), KSM_INDEX_NONE);
	/* Grow through many inserts, including colliding low bits. */
	for (uint32_t i = 10; i < 100010; i++)
		CHECK_EQ(index_put(&ix, (uint64_t) i << 20, 3, i), 0);
	for (uint32_t i = 10; i < 100010; i += 997)
		CHECK_EQ(ksm_index_find(&ix, (uint64_t) i << 20, 3), i);
	/* Made-up keys spread: a lookup asks about few candidates. */
	index_matches = 0;
	for (uint32_t i = 10; i < 100010; i++)
		CHECK_EQ(ksm_index_find(&ix, (uint64_t) i << 20, 3), i);
	CHECK(index_matches < 100000 + 100);
	CHECK(ksm_index_remove(&ix, 42, 0, 7));
	CHECK(!ksm_index_remove(&ix, 42, 0, 7));
	CHECK(!ksm_index_remove(&ix, 42, 1, 9)); /* wrong id */
	CHECK_EQ(ksm_index_find(&ix, 42, 0), KSM_INDEX_NONE);
	CHECK_EQ(ksm_index_find(&ix, 42, 1), 8); /* found past the tombstone */
	CHECK_EQ(ix.used, 100001);
	/* Emptied, the table gives memory back and keeps what is left. */
	big = ix.cap;
	for (uint32_t i = 10; i < 100010; i++)
		CHECK(ksm_index_remove(&ix, (uint64_t) i << 20, 3, i));
	CHECK(ix.cap <= big / 64);
	CHECK_EQ(ksm_index_find(&ix, 42, 1), 8);
	CHECK_EQ(ksm_index_find(&ix, (uint64_t) 500 << 20, 3), KSM_INDEX_NONE);
	ksm_index_clear(&ix);
	CHECK_EQ(ksm_index_find(&ix, 42, 1), KSM_INDEX_NONE);
	ksm_index_free(&ix);
}

/* A reserve makes room for that many inserts at once: the table does not grow while they
 * go in, keeps what it held, and a reserve that fits already changes nothing. */
static void test_index_reserve(void)
{
	struct ksm_index ix;
	uint64_t cap;

	CHECK_EQ(ksm_index_init(&ix, 4, index_match, NULL), 0);
	CHECK_EQ(index_put(&ix, 42, 0, 7), 0);
	CHECK_EQ(ksm_index_reserve(&ix, 50000), 0);
	cap = ix.cap;
	CHECK(cap >= 2 * 50001);
	CHECK_EQ(ksm_index_find(&ix, 42, 0), 7);
	for (uint32_t i = 10; i < 50010; i++)
		CHECK_EQ(index_put(&ix, (uint64_t) i << 20, 3, i), 0);
	CHECK_EQ(ix.cap, cap);
	CHECK_EQ(ksm_index_reserve(&ix, 10), 0);
	CHECK_EQ(ix.cap, cap);
	for (uint32_t i = 10; i < 50010; i += 991)
		CHECK_EQ(ksm_index_find(&ix, (uint64_t) i << 20, 3), i);
	CHECK_EQ(ix.used, 50001);
	ksm_index_free(&ix);
}

/* The index's 32 stored bits of a key (white box: a copy of index.c's tag_of). */
static uint32_t test_tag(uint64_t hash, uint32_t group)
{
	return (uint32_t) (((hash ^ ((uint64_t) group << 32 | group)) * 0x9e3779b97f4a7c15ull) >>
			   32);
}

static int cmp_tag_key(const void *a, const void *b)
{
	const uint64_t *x = a, *y = b;

	return x[0] < y[0] ? -1 : x[0] > y[0];
}

/* Keys whose stored 32 bits are equal are told apart by the caller's check. */
static void test_index_tag_collisions(void)
{
	enum { N = 300000 };
	uint64_t(*tk)[2] = calloc(N, sizeof(*tk));
	uint64_t a = 0, b = 0;
	struct ksm_index ix;

	/* Birthday search for two keys with one tag (300000 keys: found for sure). */
	uint64_t x = 88172645463325252ull;

	for (uint64_t i = 0; i < N; i++) {
		x ^= x << 13; /* xorshift64: keys like real hashes, not a progression */
		x ^= x >> 7;
		x ^= x << 17;
		tk[i][1] = x;
		tk[i][0] = test_tag(x, 5);
	}
	qsort(tk, N, sizeof(*tk), cmp_tag_key);
	for (uint64_t i = 1; i < N && !a; i++) {
		if (tk[i][0] == tk[i - 1][0]) {
			a = tk[i - 1][1];
			b = tk[i][1];
		}
	}
	free(tk);
	CHECK(a != b);
	CHECK_EQ(ksm_index_init(&ix, 4, index_match, NULL), 0);
	CHECK_EQ(index_put(&ix, a, 5, 1), 0);
	CHECK_EQ(ksm_index_find(&ix, b, 5), KSM_INDEX_NONE); /* same tag, other key */
	CHECK_EQ(index_put(&ix, b, 5, 2), 0);
	CHECK_EQ(ksm_index_find(&ix, a, 5), 1);
	CHECK_EQ(ksm_index_find(&ix, b, 5), 2);
	CHECK(ksm_index_remove(&ix, a, 5, 1));
	CHECK_EQ(ksm_index_find(&ix, b, 5), 2);
	/* An entry whose key changed behind the index's back is never returned. */
	index_keys[2].hash = b + 99;
	CHECK_EQ(ksm_index_find(&ix, b, 5), KSM_INDEX_NONE);
	ksm_index_free(&ix);
}

static void test_pool(void)
{
	struct ksm_pool p;
	uint8_t page[PAGE];
	uint32_t a, b, c;

	CHECK_EQ(ksm_pool_init(&p, 8), 0);
	memset(page, 0xab, sizeof(page));
	a = ksm_pool_add(&p, KSM_POOL_NONE, page, 1, 0);
	b = ksm_pool_add(&p, a + 1, page, 2, 0);
	CHECK_EQ(b, a + 1); /* the hint keeps runs together */
	c = ksm_pool_add(&p, a + 1, page, 3, 0);
	CHECK(c != a && c != b);
	CHECK_EQ(ksm_pool_page(&p, b)[100], 0xab);
	CHECK_EQ(p.used, 3);
	p.canon[a].refs = 2;
	CHECK(!ksm_pool_put(&p, a));
	CHECK(ksm_pool_allocated(&p, a));
	ksm_pool_release(&p, a); /* refused: it still has a reference */
	CHECK(ksm_pool_allocated(&p, a));
	CHECK(ksm_pool_put(&p, a));
	CHECK(!ksm_pool_allocated(&p, a));
	CHECK_EQ(ksm_pool_page(&p, a)[100], 0); /* hole punched: memory released */
	CHECK(!ksm_pool_put(&p, a));		/* double put is harmless */
	for (int i = 0; i < 6; i++)
		CHECK(ksm_pool_add(&p, KSM_POOL_NONE, page, 9, 0) != KSM_POOL_NONE);
	CHECK_EQ(ksm_pool_add(&p, KSM_POOL_NONE, page, 9, 0), KSM_POOL_NONE); /* full */
	CHECK_EQ(p.freed, 1);
	ksm_pool_destroy(&p);
}

static void test_stall(void)
{
	struct ksm_stall s;

	memset(&s, 0, sizeof(s));
	CHECK_EQ(ksm_stall_percentile(&s, 99), 0);
	for (int i = 1; i <= 100; i++)
		ksm_stall_record(&s, (uint64_t) i);
	CHECK_EQ(ksm_stall_percentile(&s, 50), 50);
	CHECK_EQ(ksm_stall_percentile(&s, 99), 99);
	ksm_stall_record(&s, 5000);
	CHECK_EQ(s.max_us, 5000);
	CHECK(ksm_stall_percentile(&s, 100) >= 5000);
}

/* A fake guest: RAM, a software dirty log, and a hook run while it is paused. */
struct fake {
	uint8_t *ram;
	uint64_t npages;
	uint64_t *dirty;
	uint64_t *reported; /* pages the "VMM" gave back, as ram_discard marks them */
	int paused;
	unsigned pauses;
	void (*on_pause)(struct fake *f);
};

static void fake_pause(void *o)
{
	struct fake *f = o;

	/* A write racing with the pause lands before the guest is stopped. */
	if (f->on_pause)
		f->on_pause(f);
	f->paused++;
	f->pauses++;
}

static void fake_resume(void *o)
{
	((struct fake *) o)->paused--;
}

static int fake_dirty(void *o, unsigned r, uint64_t *bm)
{
	struct fake *f = o;
	uint64_t words = (f->npages + 63) / 64;

	(void) r;
	for (uint64_t i = 0; i < words; i++)
		bm[i] |= f->dirty[i];
	memset(f->dirty, 0, words * 8);
	return 0;
}

static int fake_reported(void *o, unsigned r, uint64_t *bm)
{
	struct fake *f = o;
	uint64_t words = (f->npages + 63) / 64;

	(void) r;
	for (uint64_t i = 0; i < words; i++)
		bm[i] |= f->reported[i];
	memset(f->reported, 0, words * 8);
	return 0;
}

static void fake_wait(void *o)
{
	(void) o;
}

static const struct ksm_vm_ops fake_ops = {fake_pause, fake_wait, fake_resume, fake_dirty,
					   fake_reported};

/* Give pages [first, first+n) back as the VMM does for free page reporting: fresh
 * anonymous memory over them, then the mark for the engine. */
static void fake_report(struct fake *f, uint64_t first, uint64_t n)
{
	mmap(f->ram + first * PAGE, n * PAGE, PROT_READ | PROT_WRITE,
	     MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE, -1, 0);
	for (uint64_t i = first; i < first + n; i++)
		f->reported[i / 64] |= 1ull << (i % 64);
}

static void fake_write(struct fake *f, uint64_t page, uint8_t byte)
{
	memset(f->ram + page * PAGE, byte, PAGE);
	f->dirty[page / 64] |= 1ull << (page % 64);
}

/* Page content: byte @v everywhere but a tag, so pages with different v differ. */
static void fake_fill(struct fake *f, uint64_t page, uint8_t v)
{
	fake_write(f, page, v);
	f->ram[page * PAGE] = v;
}

static struct fake *fake_new(uint64_t npages)
{
	struct fake *f = calloc(1, sizeof(*f));

	f->npages = npages;
	f->ram = mmap(NULL, npages * PAGE, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	f->dirty = calloc((npages + 63) / 64, 8);
	f->reported = calloc((npages + 63) / 64, 8);
	return f;
}

static void fake_free(struct fake *f)
{
	munmap(f->ram, f->npages * PAGE);
	free(f->dirty);
	free(f->reported);
	free(f);
}

static struct ksm_vm *fake_add(struct ksm *k, struct fake *f, const char *name, uint32_t group)
{
	struct ksm_region r = {.hva = f->ram, .gpa = 0, .npages = f->npages};

	return ksm_add_vm(k, name, group, &r, 1, &fake_ops, f);
}

/* Is page @i of @f mapped from the pool (uncopied)? Reads it first so it is present. */
static int is_pool_page(struct fake *f, uint64_t i)
{
	int fd = open("/proc/self/pagemap", O_RDONLY);
	volatile uint8_t touch = f->ram[i * PAGE + 1];
	uint64_t e = 0;

	(void) touch;
	if (pread(fd, &e, 8, (off_t) ((uintptr_t) (f->ram + i * PAGE) / PAGE * 8)) != 8)
		e = 0;
	close(fd);
	return (e >> 63) & 1 && (e >> 61) & 1;
}

static int check_content(struct fake *f, uint64_t i, uint8_t v)
{
	const uint8_t *p = f->ram + i * PAGE;

	if (p[0] != v)
		return 0;
	for (uint64_t b = 1; b < PAGE; b++)
		if (p[b] != v)
			return 0;
	return 1;
}

static struct ksm *engine(void)
{
	struct ksm_tunables t;

	ksm_default_tunables(&t);
	t.max_stall_us = 1000000;
	return ksm_create(1024, &t);
}

static void two_passes(struct ksm *k)
{
	ksm_pass(k); /* everything was written: volatile */
	ksm_pass(k); /* clean now: hashed, matched, merged */
}

/* Pages 0-9 equal in both guests, 10-19 zero, 20-29 unique: merge exactly the first. */
static void test_merge_and_cow(void)
{
	struct ksm *k = engine();
	struct fake *a = fake_new(32), *b = fake_new(32);
	struct ksm_vm *va, *vb;
	struct ksm_stats s;
	struct ksm_vm_stats vs[2];

	for (uint64_t i = 0; i < 30; i++) {
		uint8_t v = i < 10 ? (uint8_t) (i + 1) : i < 20 ? 0 : (uint8_t) (100 + i);

		fake_fill(a, i, v);
		fake_fill(b, i, i < 20 ? v : (uint8_t) (200 + i));
	}
	va = fake_add(k, a, "a", 0);
	vb = fake_add(k, b, "b", 0);
	two_passes(k);
	ksm_get_stats(k, &s, vs, 2);
	CHECK_EQ(s.merges, 20); /* 10 pages x 2 guests onto 10 pool pages */
	CHECK_EQ(s.pool_pages, 10);
	CHECK_EQ(s.zero_released, 2 * 10); /* pages 10-19; 30 and 31 were never written */
	CHECK_EQ(vs[0].pages_zero, 10);
	CHECK_EQ(vs[0].pages_empty, 2);
	CHECK_EQ(a->paused, 0);
	for (uint64_t i = 0; i < 10; i++) {
		CHECK(is_pool_page(a, i) && is_pool_page(b, i));
		CHECK(check_content(a, i, (uint8_t) (i + 1)) &&
		      check_content(b, i, (uint8_t) (i + 1)));
	}
	CHECK(!is_pool_page(a, 25));
	CHECK(check_content(a, 25, 125) && check_content(b, 25, 225));
	CHECK(check_content(a, 15, 0));
	/* saved: 10 pool pages serve 20 guest pages, plus 20 released zero pages */
	CHECK_EQ(s.bytes_saved, (10 + 20) * PAGE);

	/* The guest writes a merged page: the host copies it; the pool keeps the original. */
	fake_write(a, 3, 0x77);
	CHECK(!is_pool_page(a, 3));
	CHECK(check_content(b, 3, 4));
	ksm_pass(k);
	ksm_get_stats(k, &s, vs, 2);
	CHECK_EQ(s.cow_breaks, 1);
	CHECK_EQ(s.pool_pages, 10); /* b still maps it */
	fake_write(b, 3, 0x78);
	ksm_pass(k);
	ksm_get_stats(k, &s, vs, 2);
	CHECK_EQ(s.cow_breaks, 2);
	CHECK_EQ(s.pool_pages, 9); /* no member left: freed */
	CHECK(check_content(a, 3, 0x77) && check_content(b, 3, 0x78));
	/* A write to a released zero page just makes it the guest's own again. */
	fake_write(a, 12, 0x33);
	ksm_pass(k);
	CHECK(check_content(a, 12, 0x33));
	ksm_vm_detach(k, va);
	ksm_vm_detach(k, vb);
	ksm_vm_free(k, va);
	ksm_vm_free(k, vb);
	ksm_get_stats(k, &s, vs, 2);
	CHECK_EQ(s.pool_pages, 0); /* every reference dropped */
	ksm_destroy(k);
	fake_free(a);
	fake_free(b);
}

/* Pages the guest gives back (free page reporting) leave the pool and count as reported,
 * never as merged; a page given back and then written counts as written. */
static void test_reported(void)
{
	struct ksm *k = engine();
	struct fake *a = fake_new(32), *b = fake_new(32);
	struct ksm_vm *va, *vb;
	struct ksm_stats s;
	struct ksm_vm_stats vs[2];

	for (uint64_t i = 0; i < 10; i++) {
		fake_fill(a, i, (uint8_t) (i + 1));
		fake_fill(b, i, (uint8_t) (i + 1));
	}
	va = fake_add(k, a, "a", 0);
	vb = fake_add(k, b, "b", 0);
	two_passes(k);
	ksm_get_stats(k, &s, vs, 2);
	CHECK_EQ(vs[0].pages_merged, 10);
	CHECK_EQ(s.pool_pages, 10);

	fake_report(a, 2, 4);
	fake_report(a, 6, 1);
	fake_write(a, 6, 0x66); /* reused after it was given back: the guest's own */
	ksm_pass(k);
	ksm_get_stats(k, &s, vs, 2);
	CHECK_EQ(vs[0].pages_reported, 4);
	CHECK_EQ(vs[0].reports, 4);
	CHECK_EQ(vs[0].pages_merged, 5); /* 0, 1, 7, 8, 9 */
	CHECK_EQ(vs[0].cow_breaks, 1);	 /* page 6 */
	CHECK_EQ(vs[1].pages_merged, 10);
	CHECK_EQ(s.pool_pages, 10); /* b still maps every one */
	CHECK(check_content(a, 3, 0) && !is_pool_page(a, 3));
	CHECK(check_content(a, 6, 0x66));
	CHECK(check_content(b, 3, 4) && is_pool_page(b, 3));

	fake_report(b, 2, 4); /* the last mappers go: those pool pages are freed */
	ksm_pass(k);
	ksm_get_stats(k, &s, vs, 2);
	CHECK_EQ(vs[1].pages_reported, 4);
	CHECK_EQ(s.pool_pages, 6);
	CHECK_EQ(s.cow_breaks, 1);

	fake_write(a, 3, 0x33); /* a reported page written again is the guest's own again */
	ksm_pass(k);
	ksm_get_stats(k, &s, vs, 2);
	CHECK_EQ(vs[0].pages_reported, 3);
	CHECK(check_content(a, 3, 0x33));
	ksm_vm_detach(k, va);
	ksm_vm_detach(k, vb);
	ksm_vm_free(k, va);
	ksm_vm_free(k, vb);
	ksm_get_stats(k, &s, vs, 2);
	CHECK_EQ(s.pool_pages, 0);
	ksm_destroy(k);
	fake_free(a);
	fake_free(b);
}

/* The sharing matrix: a and b share 4 pages, b and c 2, a and c none; attribution of
 * costs adds up to what the fleet holds. */
static void test_matrix(void)
{
	struct ksm *k = engine();
	struct fake *a = fake_new(8), *b = fake_new(8), *c = fake_new(8);
	struct ksm_stats s;
	struct ksm_vm_stats vs[3];
	uint64_t m[9], cost = 0, resident;

	for (uint64_t i = 0; i < 8; i++) {
		fake_fill(a, i, (uint8_t) (i < 4 ? i + 1 : 40 + i));
		fake_fill(b, i, (uint8_t) (i < 4 ? i + 1 : i < 6 ? 60 + i : 80 + i));
		fake_fill(c, i, (uint8_t) (i < 4 ? 120 + i : i < 6 ? 60 + i : 100 + i));
	}
	fake_add(k, a, "a", 0);
	fake_add(k, b, "b", 0);
	fake_add(k, c, "c", 0);
	two_passes(k);
	CHECK_EQ(ksm_matrix(k, m, NULL, 3), 3);
	CHECK_EQ(m[0 * 3 + 1], 4);
	CHECK_EQ(m[1 * 3 + 0], 4);
	CHECK_EQ(m[1 * 3 + 2], 2);
	CHECK_EQ(m[0 * 3 + 2], 0);
	CHECK_EQ(m[1 * 3 + 1], 6); /* b maps 6 pool pages */
	CHECK_EQ(ksm_get_stats(k, &s, vs, 3), 3);
	for (int i = 0; i < 3; i++)
		cost += vs[i].cost_bytes;
	/* 24 guest pages, 6 pool pages serve 12 of them: 12 private + 6 pool pages held */
	resident = (12 + s.pool_pages) * PAGE;
	CHECK_EQ(s.pool_pages, 6);
	CHECK_EQ(cost, resident);
	CHECK_EQ(vs[0].pages_private, 4);
	CHECK_EQ(vs[0].cost_bytes, 4 * PAGE + 4 * PAGE / 2);
	CHECK_EQ(s.bytes_saved, 6 * PAGE);
	ksm_destroy(k);
	fake_free(a);
	fake_free(b);
	fake_free(c);
}

/* Guests in different groups share nothing but zero pages. */
static void test_groups(void)
{
	struct ksm *k = engine();
	struct fake *a = fake_new(8), *b = fake_new(8), *c = fake_new(8);
	struct ksm_stats s;

	for (uint64_t i = 0; i < 8; i++) {
		fake_fill(a, i, (uint8_t) (i + 1));
		fake_fill(b, i, (uint8_t) (i + 1));
		fake_fill(c, i, i < 4 ? (uint8_t) (i + 1) : 0);
	}
	fake_add(k, a, "a", 0);
	fake_add(k, b, "b", 1);
	fake_add(k, c, "c", KSM_GROUP_NONE);
	two_passes(k);
	ksm_get_stats(k, &s, NULL, 0);
	CHECK_EQ(s.merges, 0);
	CHECK_EQ(s.pool_pages, 0);
	CHECK_EQ(s.zero_released, 4); /* c's zero pages, even though c opted out */
	ksm_destroy(k);
	fake_free(a);
	fake_free(b);
	fake_free(c);
}

static struct fake *racing;

static void scribble(struct fake *f)
{
	if (f == racing)
		memset(f->ram + 2 * PAGE + 10, 0x5a, 1); /* no dirty bit yet: KVM logs later */
}

/* A page that changes after hashing, just before the pause, must not be merged. */
static void test_compare_under_pause(void)
{
	struct ksm *k = engine();
	struct fake *a = fake_new(4), *b = fake_new(4);
	struct ksm_stats s;

	for (uint64_t i = 0; i < 4; i++) {
		fake_fill(a, i, (uint8_t) (i + 1));
		fake_fill(b, i, (uint8_t) (i + 1));
	}
	fake_add(k, a, "a", 0);
	fake_add(k, b, "b", 0);
	ksm_pass(k);
	racing = a;
	a->on_pause = scribble;
	ksm_pass(k);
	ksm_get_stats(k, &s, NULL, 0);
	CHECK_EQ(s.compare_fail, 1);
	CHECK_EQ(s.merges, 7);
	CHECK(!is_pool_page(a, 2));
	CHECK_EQ(a->ram[2 * PAGE + 10], 0x5a); /* the write survived */
	CHECK(check_content(b, 2, 3));
	ksm_destroy(k);
	fake_free(a);
	fake_free(b);
}

/* Consecutive equal pages go onto consecutive pool pages: one mapping per run. */
static void test_runs_coalesce(void)
{
	struct ksm *k = engine();
	struct fake *a = fake_new(256), *b = fake_new(256);
	struct ksm_stats s;

	for (uint64_t i = 0; i < 256; i++) {
		fake_fill(a, i, (uint8_t) (i % 250 + 1));
		fake_fill(b, i, (uint8_t) (i % 250 + 1));
	}
	fake_add(k, a, "a", 0);
	fake_add(k, b, "b", 0);
	two_passes(k);
	ksm_get_stats(k, &s, NULL, 0);
	/* pages 250-255 repeat 0-5 inside each guest: 250 pool pages serve all 512 */
	CHECK_EQ(s.merges, 512);
	CHECK_EQ(s.pool_pages, 250);
	CHECK(s.stalls > 0 && s.stall_max_us > 0);
	ksm_destroy(k);
	fake_free(a);
	fake_free(b);
}

int main(void)
{
	test_index();
	test_index_reserve();
	test_index_tag_collisions();
	test_pool();
	test_stall();
	test_merge_and_cow();
	test_reported();
	test_groups();
	test_matrix();
	test_compare_under_pause();
	test_runs_coalesce();
	return check_done("test_ksm");
}

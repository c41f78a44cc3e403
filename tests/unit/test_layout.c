/* test_layout.c - the workload guest's page layout and content math (workload/layout.h).
 *
 * Loops count their violations and check the count once (CHECK_EQ(bad, 0)), so a broken
 * property reports how many pages break it rather than thousands of lines.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/guest/workload/layout.h"
#include "tests/unit/check.h"
#include "vmm/guest_abi.h"

static struct wl_params params(uint64_t total, uint32_t zero, uint32_t shared, uint32_t dup,
			       uint32_t guest, uint32_t placement)
{
	struct wl_params p;

	memset(&p, 0, sizeof(p));
	p.magic = WL_MAGIC;
	p.abi_version = WL_ABI_VERSION;
	p.nr_cpus = 1;
	p.guest_index = guest;
	p.seed = 0x5eed;
	p.pct_zero = zero;
	p.pct_shared = shared;
	p.pct_dup = dup;
	p.placement = placement;
	p.nr_regions = 1;
	p.regions[0].gpa = 0x400000;
	p.regions[0].npages = total;
	p.total_pages = total;
	return p;
}

static struct wl_layout layout(uint64_t total, uint32_t zero, uint32_t shared, uint32_t dup,
			       uint32_t guest, uint32_t placement)
{
	struct wl_params p = params(total, zero, shared, dup, guest, placement);
	struct wl_layout l;

	wl_layout_init(&l, &p);
	return l;
}

static uint64_t key(const struct wl_layout *l, uint64_t p, uint32_t v)
{
	return wl_page_content(l, p, v).base;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;

	return x < y ? -1 : x > y;
}

/* Sort @v and return how many values equal their predecessor (0: all distinct). */
static uint64_t count_repeats(uint64_t *v, uint64_t n)
{
	uint64_t r = 0;

	qsort(v, n, sizeof(*v), cmp_u64);
	for (uint64_t i = 1; i < n; i++)
		r += v[i] == v[i - 1];
	return r;
}

/* Counts are floor(total * pct / 100); page classes come in blocks zero, shared, dup, unique. */
static void check_counts(uint64_t t, uint32_t zero, uint32_t shared, uint32_t dup)
{
	struct wl_layout l = layout(t, zero, shared, dup, 0, WL_PLACE_SAME);
	uint64_t seen[4] = {0}, unordered = 0;
	unsigned last = WL_CLASS_ZERO;

	CHECK_EQ(l.nzero, t * zero / 100);
	CHECK_EQ(l.nshared, t * shared / 100);
	CHECK_EQ(l.ndup, t * dup / 100);
	CHECK_EQ(l.nzero + l.nshared + l.ndup + l.nunique, t);
	for (uint64_t p = 0; p < t; p++) {
		unsigned c = wl_page_class(&l, p);

		unordered += c < last;
		last = c;
		seen[c]++;
	}
	CHECK_EQ(unordered, 0);
	CHECK_EQ(seen[WL_CLASS_ZERO], l.nzero);
	CHECK_EQ(seen[WL_CLASS_SHARED], l.nshared);
	CHECK_EQ(seen[WL_CLASS_DUP], l.ndup);
	CHECK_EQ(seen[WL_CLASS_UNIQUE], l.nunique);
}

static void test_class_counts(void)
{
	static const uint32_t pcts[][3] = {
	    {0, 0, 0}, {10, 50, 5}, {100, 0, 0}, {0, 100, 0}, {33, 33, 34}, {1, 1, 1},
	};
	static const uint64_t totals[] = {1, 3, 99, 100, 101, 15360, 262144};

	printf("class counts: floor(total*pct/100) per class, blocks contiguous and in order\n");
	for (unsigned i = 0; i < sizeof(pcts) / sizeof(pcts[0]); i++)
		for (unsigned j = 0; j < sizeof(totals) / sizeof(totals[0]); j++)
			check_counts(totals[j], pcts[i][0], pcts[i][1], pcts[i][2]);
}

/* Shared slot -> content index map of @guest into @out[n]. Returns 1 if it is a bijection
 * of [0, n). */
static int shared_map(uint64_t n, uint32_t guest, uint32_t placement, uint64_t *out)
{
	struct wl_layout l = layout(n, 0, 100, 0, guest, placement);
	uint8_t *hit = calloc(n, 1);
	int ok = l.nshared == n;

	for (uint64_t i = 0; i < n && ok; i++) {
		out[i] = wl_shared_index(&l, i);
		ok = out[i] < n && !hit[out[i]];
		if (ok)
			hit[out[i]] = 1;
	}
	free(hit);
	return ok;
}

/* SAME is the identity; SHUFFLED a bijection, different for guests distinct mod n. */
static void check_shuffle(uint64_t n)
{
	uint64_t *m[8], *id = malloc(n * sizeof(uint64_t)), not_identity = 0, alike = 0;

	CHECK(shared_map(n, 3, WL_PLACE_SAME, id));
	for (uint64_t i = 0; i < n; i++)
		not_identity += id[i] != i;
	CHECK_EQ(not_identity, 0);
	for (uint32_t g = 0; g < 8; g++) {
		m[g] = malloc(n * sizeof(uint64_t));
		CHECK(shared_map(n, g, WL_PLACE_SHUFFLED, m[g]));
	}
	for (uint32_t a = 0; a < 8; a++)
		for (uint32_t b = a + 1; b < 8; b++)
			if (a % n != b % n)
				alike += !memcmp(m[a], m[b], n * sizeof(uint64_t));
	CHECK_EQ(alike, 0);
	for (uint32_t g = 0; g < 8; g++)
		free(m[g]);
	free(id);
}

static void test_shuffle(void)
{
	static const uint64_t sizes[] = {1, 2, 3, 4, 8, 9, 97, 100, 1000, 4096, 7680, 30030};

	printf("shared placement: SAME is the identity, SHUFFLED a bijection that differs between "
	       "guests\n");
	for (unsigned s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++)
		check_shuffle(sizes[s]);
}

/* Consecutive shared pages of guest 0 must rarely be consecutive in guest 1: that is what
 * SHUFFLED is for (merged pages that cannot coalesce into one VMA). */
static void test_shuffle_scatters(void)
{
	uint64_t n = 4096, adjacent = 0;
	uint64_t *m0 = malloc(n * 8), *m1 = malloc(n * 8), *pos1 = malloc(n * 8);

	printf("shared placement: SHUFFLED scatters runs of guest 0 in guest 1\n");
	CHECK(shared_map(n, 0, WL_PLACE_SHUFFLED, m0));
	CHECK(shared_map(n, 1, WL_PLACE_SHUFFLED, m1));
	for (uint64_t i = 0; i < n; i++)
		pos1[m1[i]] = i;
	for (uint64_t i = 0; i + 1 < n; i++)
		adjacent += pos1[m0[i + 1]] == pos1[m0[i]] + 1;
	CHECK(adjacent < n / 100);
	free(m0);
	free(m1);
	free(pos1);
}

/* With extents, SHUFFLED keeps runs of @extent pages together (so merged runs coalesce)
 * but moves the extents, stays a bijection, and leaves a partial tail in place. */
static void test_shuffle_extents(void)
{
	const uint64_t n = 4096 + 5, e = 16;
	struct wl_params p0 = params(n, 0, 100, 0, 0, WL_PLACE_SHUFFLED);
	struct wl_params p1 = params(n, 0, 100, 0, 1, WL_PLACE_SHUFFLED);
	struct wl_layout l0, l1;
	uint8_t *hit = calloc(n, 1);
	uint64_t in_run = 0, moved = 0, dupes = 0;

	printf("shared placement: SHUFFLED with extent=16 moves whole 16-page extents\n");
	p0.shuffle_extent = p1.shuffle_extent = (uint32_t) e;
	wl_layout_init(&l0, &p0);
	wl_layout_init(&l1, &p1);
	for (uint64_t i = 0; i < n; i++) {
		uint64_t c = wl_shared_index(&l0, i);

		dupes += c >= n || hit[c];
		if (c < n)
			hit[c] = 1;
		if (i % e && i < n - n % e)
			in_run += c == wl_shared_index(&l0, i - 1) + 1;
		moved += c / e != i / e;
	}
	CHECK_EQ(dupes, 0);
	CHECK_EQ(in_run, (n / e) * (e - 1));
	CHECK(moved > n / 2);
	for (uint64_t i = n - n % e; i < n; i++)
		CHECK_EQ(wl_shared_index(&l0, i), i);
	moved = 0;
	for (uint64_t i = 0; i < n - n % e; i += e)
		moved += wl_shared_index(&l0, i) != wl_shared_index(&l1, i);
	CHECK(moved > n / e / 2);
	free(hit);
}

/* Keys of the shared pages of @l at version 0, in page order; returns how many. */
static uint64_t shared_keys(const struct wl_layout *l, uint64_t *out)
{
	uint64_t n = 0;

	for (uint64_t p = l->shared_start; p < l->dup_start; p++)
		out[n++] = key(l, p, 0);
	return n;
}

static void test_shared_content(void)
{
	uint64_t t = 10000, *k0 = malloc(t * 8), *k1 = malloc(t * 8);
	struct wl_params p = params(t, 10, 50, 5, 0, WL_PLACE_SAME);
	struct wl_layout reseeded, same = layout(t, 10, 50, 5, 0, WL_PLACE_SAME);

	printf("shared content: SAME identical page by page across guests, SHUFFLED the same set "
	       "in another order, both depend on the seed\n");
	for (uint32_t pl = WL_PLACE_SAME; pl <= WL_PLACE_SHUFFLED; pl++) {
		struct wl_layout a = layout(t, 10, 50, 5, 0, pl), b = layout(t, 10, 50, 5, 5, pl);
		uint64_t n0 = shared_keys(&a, k0), n1 = shared_keys(&b, k1);

		CHECK_EQ(n0, 5000);
		CHECK_EQ(n1, 5000);
		CHECK_EQ(memcmp(k0, k1, n0 * 8) == 0, pl == WL_PLACE_SAME);
		CHECK_EQ(count_repeats(k0, n0), 0);
		count_repeats(k1, n1);
		CHECK(memcmp(k0, k1, n0 * 8) == 0);
	}
	p.seed ^= 1;
	wl_layout_init(&reseeded, &p);
	CHECK(key(&same, same.shared_start, 0) != key(&reseeded, reseeded.shared_start, 0));
	free(k0);
	free(k1);
}

static void test_dup_content(void)
{
	struct wl_layout l = layout(10000, 0, 0, 40, 3, 0), o = layout(10000, 0, 0, 40, 4, 0);
	struct wl_layout small = layout(100, 0, 0, 3, 0, 0);
	uint64_t not_repeated = 0, neighbours = 0, cross = 0;

	printf("dup content: ndistinct = ndup/4 contents in repeating runs, per guest\n");
	CHECK_EQ(l.ndup, 4000);
	CHECK_EQ(l.ndistinct, 1000);
	for (uint64_t i = 0; i < l.ndup; i++) {
		uint64_t p = l.dup_start + i;

		not_repeated += key(&l, p, 0) != key(&l, l.dup_start + i % l.ndistinct, 0);
		if (i + 1 < l.ndistinct)
			neighbours += key(&l, p, 0) == key(&l, p + 1, 0);
		cross += key(&l, p, 0) == key(&o, p, 0);
	}
	CHECK_EQ(not_repeated, 0);
	CHECK_EQ(neighbours, 0);
	CHECK_EQ(cross, 0);
	CHECK_EQ(small.ndup, 3);
	CHECK_EQ(small.ndistinct, 1);
}

/* Whether page @p of guest @g has a content that must appear nowhere else in a fleet of
 * guests 0 and 1: unique pages, the first run of dup pages, and shared pages once. */
static int must_be_distinct(const struct wl_layout *l, uint64_t p, uint32_t g)
{
	switch (wl_page_class(l, p)) {
	case WL_CLASS_UNIQUE: return 1;
	case WL_CLASS_DUP: return p - l->dup_start < l->ndistinct;
	case WL_CLASS_SHARED: return g == 0;
	default: return 0;
	}
}

static void test_unique_and_zero(void)
{
	uint64_t t = 20000, n = 0, bad_zero = 0, zero_key = 0, *keys = malloc(2 * t * 8);

	printf("unique content: distinct across pages, classes and guests; zero pages all zero\n");
	for (uint32_t g = 0; g < 2; g++) {
		struct wl_layout l = layout(t, 10, 20, 20, g, 0);

		for (uint64_t p = 0; p < t; p++) {
			struct wl_content c = wl_page_content(&l, p, 0);

			if (wl_page_class(&l, p) == WL_CLASS_ZERO) {
				bad_zero += c.base || c.step || c.kind != WL_STORE_STOS;
				continue;
			}
			zero_key += c.base == 0;
			if (must_be_distinct(&l, p, g))
				keys[n++] = c.base;
		}
	}
	CHECK_EQ(bad_zero, 0);
	CHECK_EQ(zero_key, 0);
	CHECK_EQ(n, 2 * 10000 + 2 * 1000 + 4000); /* unique, one dup run each; shared once */
	CHECK_EQ(count_repeats(keys, n), 0);
	free(keys);
}

static void test_mutated(void)
{
	struct wl_layout a = layout(1000, 10, 50, 5, 0, 0), b = layout(1000, 10, 50, 5, 1, 0);
	uint64_t n = 0, same_as_v0 = 0, even_differs = 0, *keys = malloc(2 * 1000 * 4 * 8);

	printf("mutated content: odd versions unique per (guest, page, version), even versions "
	       "shared by the guests, never an earlier content\n");
	for (uint64_t p = 0; p < 1000; p++) {
		for (uint32_t v = 1; v <= 4; v++) {
			keys[n++] = key(&a, p, v);
			if (v % 2)
				keys[n++] = key(&b, p, v);
			else
				even_differs += key(&a, p, v) != key(&b, p, v);
			same_as_v0 += key(&a, p, v) == key(&a, p, 0);
		}
	}
	CHECK_EQ(same_as_v0, 0);
	CHECK_EQ(even_differs, 0);
	CHECK_EQ(count_repeats(keys, n), 0);
	free(keys);
}

static void test_store_kinds(void)
{
	struct wl_layout l = layout(50000, 0, 30, 10, 0, 0);
	uint64_t kinds[WL_STORE_KINDS] = {0}, bad_kind = 0, bad_step = 0, bad_qword = 0;

	printf("store kinds: all five used evenly; rep stos pages constant, others odd step\n");
	for (uint64_t p = 0; p < l.total; p++) {
		struct wl_content c = wl_page_content(&l, p, (uint32_t) (p % 3));

		bad_kind += c.kind >= WL_STORE_KINDS;
		kinds[c.kind % WL_STORE_KINDS]++;
		bad_step += c.kind == WL_STORE_STOS ? c.step != 0 : !(c.step & 1);
		bad_qword += wl_content_qword(&c, 511) != c.base + 511 * c.step;
	}
	CHECK_EQ(bad_kind, 0);
	CHECK_EQ(bad_step, 0);
	CHECK_EQ(bad_qword, 0);
	for (unsigned k = 0; k < WL_STORE_KINDS; k++)
		CHECK(kinds[k] > l.total / 6 && kinds[k] < l.total / 4);
}

static void test_mutating_set(void)
{
	static const uint32_t pcts[] = {0, 1, 20, 50, 100};

	printf("mutating set: about mutate_pct percent of pages; none at 0, all at 100\n");
	for (unsigned i = 0; i < sizeof(pcts) / sizeof(pcts[0]); i++) {
		struct wl_params p = params(100000, 10, 50, 5, 0, 0);
		struct wl_layout l;
		uint64_t n = 0, want = pcts[i] * 1000ull;

		p.mutate_pct = pcts[i];
		wl_layout_init(&l, &p);
		for (uint64_t pg = 0; pg < l.total; pg++)
			n += wl_page_mutates(&l, pg);
		CHECK(n + 1000 >= want && n <= want + 1000);
		if (pcts[i] == 0 || pcts[i] == 100)
			CHECK_EQ(n, want);
	}
}

/* The version tag keeps entry and count apart; a rewrite counts on under the writer's
 * entry and wraps to 1, never to the fill's 0; no tag of a valid entry is GONE. */
static void test_version_tags(void)
{
	uint32_t bad = 0;

	printf("version tags: entry and count round-trip, next wraps to 1, never GONE\n");
	for (uint32_t e = 0; e < WL_LINEAGE_MAX; e++) {
		for (uint32_t c = 0; c < 4; c++) {
			uint32_t t = wl_version_tag(e, c),
				 top = wl_version_tag(e, WL_VERSION_COUNT_MAX);

			bad += wl_version_entry(t) != e || wl_version_count(t) != c;
			bad += wl_version_next(t, 5) != wl_version_tag(5, c + 1);
			bad += t == WL_VERSION_GONE || top == WL_VERSION_GONE;
			bad += wl_version_next(top, e) != wl_version_tag(e, 1);
		}
	}
	CHECK_EQ(bad, 0);
	CHECK_EQ(wl_version_tag(0, 0), 0); /* a fresh (all-zero) table: fill, boot identity */
}

static bool same(struct wl_content a, struct wl_content b)
{
	return a.base == b.base && a.step == b.step && a.kind == b.kind;
}

/* unique_seed 0 means the fleet seed: the contents of a booted guest are those of
 * ABI 4. A unique seed changes only what the identity owns. */
static void test_boot_identity(void)
{
	struct wl_params p = params(1000, 10, 50, 20, 3, WL_PLACE_SHUFFLED);
	struct wl_layout a, b;
	uint64_t bad = 0, changed = 0;

	printf("boot identity: unique_seed 0 is the fleet seed; a unique seed changes only "
	       "dup, unique and odd versions\n");
	wl_layout_init(&a, &p);
	CHECK_EQ(a.self.seed, p.seed);
	CHECK_EQ(a.self.guest_index, 3);
	bad += key(&a, a.unique_start, 0) != wl_hash4(WL_TAG_UNIQUE, p.seed, 3, a.unique_start, 0);
	p.unique_seed = 0xfeed;
	wl_layout_init(&b, &p);
	CHECK_EQ(b.self.seed, 0xfeed);
	for (uint64_t pg = 0; pg < a.total; pg++) {
		for (uint32_t v = 0; v < 4; v++) {
			bool differ = key(&a, pg, v) != key(&b, pg, v);

			bad += differ != (bool) wl_page_personal(&a, pg, v);
			changed += differ;
		}
	}
	CHECK_EQ(bad, 0);
	CHECK(changed > a.total); /* dup + unique at 0, every page at 1 and 3 */
}

/* wl_page_personal is exactly "the content depends on the identity", for any two
 * identities that differ in guest index or seed (what a rebase relies on). */
static void test_personal(void)
{
	struct wl_layout l = layout(3000, 10, 40, 20, 0, WL_PLACE_SHUFFLED);
	const struct wl_identity ids[] = {{1, 0x11, 4, 0}, {2, 0x11, 5, 0}, {3, 0x22, 4, 0}};
	uint64_t bad = 0;

	printf("personal pages: exactly those whose content depends on the identity\n");
	for (uint64_t p = 0; p < l.total; p++) {
		for (uint32_t v = 0; v < 6; v++) {
			struct wl_content c0 = wl_page_content_by(&l, &ids[0], p, v);

			for (unsigned i = 1; i < 3; i++) {
				bool dep = !same(c0, wl_page_content_by(&l, &ids[i], p, v));

				bad += dep != (bool) wl_page_personal(&l, p, v);
			}
		}
	}
	CHECK_EQ(bad, 0);
	CHECK(!wl_page_personal(&l, l.shared_start, 0) && !wl_page_personal(&l, 0, 0));
	CHECK(wl_page_personal(&l, l.dup_start, 0) && wl_page_personal(&l, l.unique_start, 0));
}

/* A simulated instance of one vCPU: what each page holds, its tag, its lineage. It
 * writes and verifies as tests/guest/workload/workload.c does. */
#define SIM_PAGES 2000
struct sim {
	struct wl_layout lay;
	struct wl_identity lineage[WL_LINEAGE_MAX];
	uint32_t entry;
	uint32_t tag[SIM_PAGES];
	struct wl_content mem[SIM_PAGES];
};

static void sim_write(struct sim *s, uint64_t p, uint32_t count)
{
	s->mem[p] = wl_page_content_by(&s->lay, &s->lineage[s->entry], p, count);
	s->tag[p] = wl_version_tag(s->entry, count);
}

static void sim_boot(struct sim *s, uint32_t guest)
{
	struct wl_params p = params(SIM_PAGES, 10, 50, 10, guest, WL_PLACE_SAME);

	memset(s, 0, sizeof(*s));
	p.generation = 0x1000 + guest;
	wl_layout_init(&s->lay, &p);
	s->lineage[0] = s->lay.self;
	for (uint64_t pg = 0; pg < SIM_PAGES; pg++)
		sim_write(s, pg, 0);
}

static void sim_mutate(struct sim *s, uint64_t p)
{
	sim_write(s, p, wl_version_count(wl_version_next(s->tag[p], s->entry)));
}

/* Pages that fail verify. */
static uint64_t sim_verify(const struct sim *s)
{
	uint64_t bad = 0;

	for (uint64_t p = 0; p < SIM_PAGES; p++) {
		struct wl_content want;

		if (wl_tagged_content(&s->lay, s->lineage, s->entry + 1, p, s->tag[p], &want) ||
		    !same(want, s->mem[p]))
			bad++;
	}
	return bad;
}

/* As workload.c's restored() and rebase(). */
static void sim_restored(struct sim *s, uint32_t guest, uint64_t seed)
{
	struct wl_identity id = {.generation = seed ^ 0x9e37, .seed = seed, .guest_index = guest};

	if (s->entry + 1 < WL_LINEAGE_MAX) {
		s->lineage[++s->entry] = id;
		return;
	}
	for (uint64_t p = 0; p < SIM_PAGES; p++) {
		uint32_t v = wl_version_count(s->tag[p]);

		if (wl_page_personal(&s->lay, p, v))
			s->mem[p] = wl_page_content_by(&s->lay, &id, p, v);
		s->tag[p] = wl_version_tag(0, v);
	}
	s->lineage[0] = id;
	s->entry = 0;
}

/* Restore one image twice: inherited pages verify against the parent's identity (and
 * would not against the clone's), rewritten ones against the clone's; the two clones
 * write different personal contents and identical shared ones. */
static void test_restore_lineage(void)
{
	static struct sim parent, a, b;
	uint64_t inherited_new_ok = 0, personal = 0, odd_same = 0, even_differ = 0, kept = 0;

	printf("lineage: clones verify inherited pages as the parent's, their own as theirs\n");
	sim_boot(&parent, 2);
	for (uint64_t p = 0; p < SIM_PAGES; p += 3)
		sim_mutate(&parent, p); /* parent at count 1 on every third page */
	CHECK_EQ(sim_verify(&parent), 0);
	a = parent;
	b = parent;
	sim_restored(&a, 10, 0xaaaa);
	sim_restored(&b, 11, 0xbbbb);
	CHECK_EQ(a.entry, 1);
	CHECK_EQ(sim_verify(&a), 0);
	CHECK_EQ(sim_verify(&b), 0);
	for (uint64_t p = 0; p < SIM_PAGES; p++) {
		uint32_t v = wl_version_count(a.tag[p]);

		if (!wl_page_personal(&a.lay, p, v))
			continue;
		personal++;
		inherited_new_ok += same(a.mem[p], wl_page_content_by(&a.lay, &a.lineage[1], p, v));
	}
	CHECK(personal > SIM_PAGES / 4);
	CHECK_EQ(inherited_new_ok, 0); /* without the lineage verify would fail these */
	for (uint64_t p = 0; p < SIM_PAGES; p += 2) {
		sim_mutate(&a, p);
		sim_mutate(&b, p);
	}
	CHECK_EQ(sim_verify(&a), 0);
	CHECK_EQ(sim_verify(&b), 0);
	for (uint64_t p = 0; p < SIM_PAGES; p++) {
		uint32_t v = wl_version_count(a.tag[p]);

		if (p % 2) {
			kept += same(a.mem[p], parent.mem[p]) && same(b.mem[p], parent.mem[p]);
			continue;
		}
		CHECK_EQ(wl_version_entry(a.tag[p]), 1);
		if (v % 2)
			odd_same += same(a.mem[p], b.mem[p]) || same(a.mem[p], parent.mem[p]);
		else
			even_differ += !same(a.mem[p], b.mem[p]);
	}
	CHECK_EQ(kept, SIM_PAGES / 2); /* what neither rewrote stays the parent's */
	CHECK_EQ(odd_same, 0);
	CHECK_EQ(even_differ, 0);
	a.tag[7] = wl_version_tag(2, 0); /* an entry the table does not hold */
	CHECK_EQ(sim_verify(&a), 1);
}

/* A clone of a clone of ...: the table fills, the rebase keeps every page verifiable and
 * rewrites only personal pages. */
static void test_lineage_full(void)
{
	static struct sim s, before;
	uint64_t bad = 0, touched = 0;

	printf("lineage full: %d restores deep, rebased, every page still verifies\n",
	       2 * WL_LINEAGE_MAX + 5);
	sim_boot(&s, 0);
	for (uint32_t r = 1; r <= 2 * WL_LINEAGE_MAX + 5; r++) {
		for (uint64_t p = r % 5; p < SIM_PAGES; p += 5 + r % 3)
			sim_mutate(&s, p);
		before = s;
		sim_restored(&s, r, 0x5000 + r);
		bad += sim_verify(&s);
		if (s.entry)
			continue;
		for (uint64_t p = 0; p < SIM_PAGES; p++) {
			bool personal = wl_page_personal(&s.lay, p, wl_version_count(s.tag[p]));

			touched += !personal && !same(s.mem[p], before.mem[p]);
		}
	}
	CHECK_EQ(bad, 0);
	CHECK_EQ(touched, 0);
	CHECK_EQ(s.entry, (2 * WL_LINEAGE_MAX + 5) % WL_LINEAGE_MAX);
}

int main(void)
{
	test_class_counts();
	test_shuffle();
	test_shuffle_scatters();
	test_shuffle_extents();
	test_shared_content();
	test_dup_content();
	test_unique_and_zero();
	test_mutated();
	test_store_kinds();
	test_mutating_set();
	test_version_tags();
	test_boot_identity();
	test_personal();
	test_restore_lineage();
	test_lineage_full();
	return check_done("test_layout");
}

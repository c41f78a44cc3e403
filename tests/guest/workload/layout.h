/* layout.h - where each class of profile page sits and what a page holds (pure math).
 *
 * Shared by the freestanding workload guest and the host unit test (tests/unit/test_layout.c),
 * so it depends only on <stdint.h> (through vmm/guest_abi.h) and has no side effects.
 *
 * The profile pages [0, total) form four contiguous blocks, in this order:
 *   zero    floor(total * pct_zero / 100)    all zero at version 0
 *   shared  floor(total * pct_shared / 100)  same contents in every guest of a fleet
 *   dup     floor(total * pct_dup / 100)     each content ~4 times inside one guest
 *   unique  the rest                         different in every page of every guest
 * A page rewritten by the mutator (version v > 0) gets a content unique to (guest, p, v).
 *
 * "guest" above is an identity (vmm/guest_abi.h, "Identity and lineage"): a guest index
 * and a unique seed. Shared pages, zero pages and even versions depend on the fleet seed
 * only, so instances restored from one snapshot keep sharing what none of them rewrote;
 * dup and unique pages and odd versions depend on the identity that wrote them, which
 * the page's version tag names (an entry of its vCPU's lineage table).
 *
 * A page's content is a pure function of a 64-bit key: qword k = key + k * step, where
 * step is an odd constant, or 0 for keys stored with `rep stosq`. The key also picks
 * which kind of store instruction writes the page, so the fleet exercises every write
 * path a real guest uses (plain, string, locked, non-temporal, vector).
 */
#ifndef WORKLOAD_LAYOUT_H
#define WORKLOAD_LAYOUT_H

#include <stdint.h>

#include "vmm/guest_abi.h"

#define WL_QWORDS_PER_PAGE 512
#define WL_CONTENT_STEP 0xd1b54a32d192ed03ull /* odd: consecutive qwords all differ */

enum wl_class {
	WL_CLASS_ZERO = 0,
	WL_CLASS_SHARED = 1,
	WL_CLASS_DUP = 2,
	WL_CLASS_UNIQUE = 3,
};

/* How a page is written; chosen by wl_store_kind(key). */
enum wl_store {
	WL_STORE_MOV = 0,    /* plain 64-bit mov loop */
	WL_STORE_STOS = 1,   /* rep stosq (step 0); also zero pages */
	WL_STORE_LOCK = 2,   /* lock xadd read-modify-write of each qword */
	WL_STORE_MOVNTI = 3, /* non-temporal movnti, then sfence */
	WL_STORE_VEC = 4,    /* vmovdqu ymm with AVX, movdqu xmm without */
	WL_STORE_KINDS = 5,
};

/* Domain tags, so keys of different classes never coincide by construction. */
enum wl_tag {
	WL_TAG_SHARED = 1,
	WL_TAG_DUP = 2,
	WL_TAG_UNIQUE = 3,
	WL_TAG_MUTATED = 4,
	WL_TAG_SHUFFLE = 5,
	WL_TAG_MUTSET = 6,
	WL_TAG_KIND = 7,
	WL_TAG_REMERGE = 8,
};

/* Everything the per-page functions need, derived once from the parameters. */
struct wl_layout {
	uint64_t total; /* profile pages */
	uint64_t nzero; /* pages in each class */
	uint64_t nshared;
	uint64_t ndup;
	uint64_t nunique;
	uint64_t shared_start; /* first page of each block; zero pages start at 0 */
	uint64_t dup_start;
	uint64_t unique_start;
	uint64_t ndistinct;	 /* distinct dup contents: max(1, ndup / 4) */
	uint64_t seed;		 /* fleet seed */
	uint64_t guest;		 /* boot guest_index: picks the SHUFFLED permutation */
	struct wl_identity self; /* the boot identity (lineage entry 0 after boot) */
	uint32_t placement;	 /* enum wl_placement */
	uint32_t mutate_pct;
	uint64_t extent;   /* SHUFFLED: pages per permuted extent (>= 1) */
	uint64_t nextents; /* whole extents in the shared block; the tail stays in place */
	uint64_t shuf_a;   /* SHUFFLED: extent e holds extent (e*a + b) mod nextents */
	uint64_t shuf_b;
};

/* A page's content: qword k = base + k * step. */
struct wl_content {
	uint64_t base;
	uint64_t step;
	uint32_t kind; /* enum wl_store */
};

/* A bijective 64-bit mixer (splitmix64's finaliser). */
static inline uint64_t wl_mix(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ull;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebull;
	x ^= x >> 31;
	return x;
}

/* Hash of a tagged tuple; chaining a bijection keeps distinct tuples apart in practice. */
static inline uint64_t wl_hash4(uint64_t tag, uint64_t seed, uint64_t a, uint64_t b, uint64_t c)
{
	uint64_t h = wl_mix(seed + tag * 0x9e3779b97f4a7c15ull);

	h = wl_mix(h ^ a);
	h = wl_mix(h + b * 0xff51afd7ed558ccdull);
	return wl_mix(h ^ (c * 0xc4ceb9fe1a85ec53ull));
}

static inline uint64_t wl_gcd(uint64_t a, uint64_t b)
{
	while (b) {
		uint64_t t = a % b;

		a = b;
		b = t;
	}
	return a;
}

/* Per-guest affine permutation of the shared block. b differs between guests whose
 * indices differ modulo nshared, and slot 0 holds content b, so two such guests never
 * share the permutation; a (coprime to nshared, so the map is a bijection) is picked per
 * guest too, so runs of consecutive pages in one guest are scattered in another. */
static inline void wl_layout_shuffle(struct wl_layout *l)
{
	uint64_t n = l->nextents, a;

	l->shuf_a = 1;
	l->shuf_b = 0;
	if (n < 2)
		return;
	a = wl_hash4(WL_TAG_SHUFFLE, l->seed, l->guest, 0, 0) % n;
	if (a == 0)
		a = 1;
	while (wl_gcd(a, n) != 1)
		a = a + 1 < n ? a + 1 : 1;
	l->shuf_a = a;
	l->shuf_b = (wl_hash4(WL_TAG_SHUFFLE, l->seed, 0, 1, 0) % n + l->guest % n) % n;
}

/* Derive the layout. Requires: pct_zero + pct_shared + pct_dup <= 100 and
 * total < 2^32 (so that products of two page indices fit in 64 bits). */
static inline void wl_layout_init(struct wl_layout *l, const struct wl_params *p)
{
	uint64_t t = p->total_pages;

	l->total = t;
	l->nzero = t * p->pct_zero / 100;
	l->nshared = t * p->pct_shared / 100;
	l->ndup = t * p->pct_dup / 100;
	l->nunique = t - l->nzero - l->nshared - l->ndup;
	l->shared_start = l->nzero;
	l->dup_start = l->shared_start + l->nshared;
	l->unique_start = l->dup_start + l->ndup;
	l->ndistinct = l->ndup / 4 ? l->ndup / 4 : 1;
	l->seed = p->seed;
	l->guest = p->guest_index;
	l->self.generation = p->generation;
	l->self.seed = p->unique_seed ? p->unique_seed : p->seed;
	l->self.guest_index = p->guest_index;
	l->self.pad = 0;
	l->placement = p->placement;
	l->mutate_pct = p->mutate_pct;
	l->extent = p->shuffle_extent ? p->shuffle_extent : 1;
	l->nextents = l->nshared / l->extent;
	wl_layout_shuffle(l);
}

/* Class of profile page @p (< total). */
static inline enum wl_class wl_page_class(const struct wl_layout *l, uint64_t p)
{
	if (p < l->shared_start)
		return WL_CLASS_ZERO;
	if (p < l->dup_start)
		return WL_CLASS_SHARED;
	if (p < l->unique_start)
		return WL_CLASS_DUP;
	return WL_CLASS_UNIQUE;
}

/* Shared content index held by shared slot @i (= p - shared_start), a bijection of
 * [0, nshared): identity for SAME, the per-guest permutation for SHUFFLED. */
static inline uint64_t wl_shared_index(const struct wl_layout *l, uint64_t i)
{
	uint64_t e = i / l->extent;

	if (l->placement != WL_PLACE_SHUFFLED || l->nextents < 2 || e >= l->nextents)
		return i;
	return ((e * l->shuf_a + l->shuf_b) % l->nextents) * l->extent + i % l->extent;
}

/* Store kind of a key: a hash of it, so kinds spread evenly over pages. */
static inline uint32_t wl_store_kind(uint64_t key)
{
	return (uint32_t) (wl_mix(key ^ (WL_TAG_KIND * 0x9e3779b97f4a7c15ull)) % WL_STORE_KINDS);
}

/* Content of a non-zero page from its key. */
static inline struct wl_content wl_key_content(uint64_t key)
{
	struct wl_content c;

	c.base = key;
	c.kind = wl_store_kind(key);
	c.step = c.kind == WL_STORE_STOS ? 0 : WL_CONTENT_STEP;
	return c;
}

/* Expected content of page @p at version count @v, written under identity @id. */
static inline struct wl_content
wl_page_content_by(const struct wl_layout *l, const struct wl_identity *id, uint64_t p, uint32_t v)
{
	struct wl_content zero = {0, 0, WL_STORE_STOS};
	uint64_t key;

	/* Odd versions are this identity's own; even ones are the same in every guest that
	 * reached them, so a mutating fleet keeps breaking and re-merging pages, as guests
	 * rewriting the same data do. Neither ever equals an earlier version. */
	if (v > 0 && v % 2)
		return wl_key_content(wl_hash4(WL_TAG_MUTATED, id->seed, id->guest_index, p, v));
	if (v > 0)
		return wl_key_content(wl_hash4(WL_TAG_REMERGE, l->seed, p, v, 0));
	switch (wl_page_class(l, p)) {
	case WL_CLASS_ZERO: return zero;
	case WL_CLASS_SHARED:
		key =
		    wl_hash4(WL_TAG_SHARED, l->seed, wl_shared_index(l, p - l->shared_start), 0, 0);
		break;
	case WL_CLASS_DUP:
		key = wl_hash4(WL_TAG_DUP, id->seed, id->guest_index,
			       (p - l->dup_start) % l->ndistinct, 0);
		break;
	default: key = wl_hash4(WL_TAG_UNIQUE, id->seed, id->guest_index, p, 0); break;
	}
	return wl_key_content(key);
}

/* Expected content of page @p at version count @v under the boot identity. */
static inline struct wl_content wl_page_content(const struct wl_layout *l, uint64_t p, uint32_t v)
{
	return wl_page_content_by(l, &l->self, p, v);
}

/* Whether the content of page @p at count @v depends on the identity that wrote it. */
static inline int wl_page_personal(const struct wl_layout *l, uint64_t p, uint32_t v)
{
	enum wl_class k = wl_page_class(l, p);

	return v ? v % 2 : k == WL_CLASS_DUP || k == WL_CLASS_UNIQUE;
}

/* Version tags (vmm/guest_abi.h): lineage entry and version count of a page. */
static inline uint32_t wl_version_tag(uint32_t entry, uint32_t count)
{
	return entry << WL_VERSION_SHIFT | (count & WL_VERSION_COUNT_MAX);
}

static inline uint32_t wl_version_entry(uint32_t tag)
{
	return tag >> WL_VERSION_SHIFT;
}

static inline uint32_t wl_version_count(uint32_t tag)
{
	return tag & WL_VERSION_COUNT_MAX;
}

/* Tag of the next rewrite of a page tagged @tag, made under lineage entry @entry: the
 * count goes on, wrapping to 1 (never back to the fill's content, count 0). */
static inline uint32_t wl_version_next(uint32_t tag, uint32_t entry)
{
	uint32_t count = wl_version_count(tag);

	return wl_version_tag(entry, count < WL_VERSION_COUNT_MAX ? count + 1 : 1);
}

/* Expected content of page @p tagged @tag by a vCPU whose lineage table holds @n
 * entries at @lineage. Returns 0, or -1 if the tag names no entry (the page is bad). */
static inline int wl_tagged_content(const struct wl_layout *l, const struct wl_identity *lineage,
				    uint32_t n, uint64_t p, uint32_t tag, struct wl_content *out)
{
	uint32_t e = wl_version_entry(tag);

	if (e >= n)
		return -1;
	*out = wl_page_content_by(l, &lineage[e], p, wl_version_count(tag));
	return 0;
}

/* Qword @k of a page holding @c. */
static inline uint64_t wl_content_qword(const struct wl_content *c, uint64_t k)
{
	return c->base + k * c->step;
}

/* Whether page @p is in the mutating working set (about mutate_pct percent of pages;
 * the same pages in every guest of a fleet). */
static inline int wl_page_mutates(const struct wl_layout *l, uint64_t p)
{
	return wl_hash4(WL_TAG_MUTSET, l->seed, p, 0, 0) % 100 < l->mutate_pct;
}

#endif

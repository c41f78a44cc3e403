/* scan.c - one pass of the scanner: dirty log, hashing, planning (overview: ksm/ksm.h). */
#include <malloc.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

#include "ksm/cow.h"
#include "ksm/internal.h"
#include "ksm/merge.h"
#include "ksm/scan.h"
#include "ksm/stats.h"
#include "ksm/vm.h"
#include "lib/clock.h"

static bool test_bit(const uint64_t *bm, uint64_t i)
{
	return (bm[i / 64] >> (i % 64)) & 1;
}

static bool page_is_zero(const uint8_t *p)
{
	const uint64_t *q = (const uint64_t *) p;
	uint64_t acc = 0;

	for (unsigned i = 0; i < PAGE_SIZE / 8; i++)
		acc |= q[i];
	return acc == 0;
}

/* Fill @vm->dirty from its dirty log; on failure count the region as all written. */
static void fetch_dirty(struct ksm_vm *vm)
{
	for (unsigned r = 0; r < vm->nr_regions; r++) {
		uint64_t *bm = vm->dirty[r];
		size_t bytes = (vm->regions[r].npages + 63) / 64 * 8;

		memset(bm, 0, bytes);
		if (vm->ops->fetch_dirty(vm->opaque, r, bm))
			memset(bm, 0xff, bytes);
		/* Reported after the dirty log: a page given back and then written shows in
		 * both and counts as written (absorb_reported skips it). */
		memset(vm->reported[r], 0, bytes);
		if (vm->ops->fetch_reported &&
		    vm->ops->fetch_reported(vm->opaque, r, vm->reported[r]))
			memset(vm->reported[r], 0, bytes);
	}
}

/* Pages the VMM gave back to the host (already discarded: they read zeros): out of the
 * pool and the indexes, empty from now on, and counted as reported, never as merged. */
static void absorb_reported(struct ksm *k, struct ksm_vm *vm)
{
	for (unsigned r = 0; r < vm->nr_regions; r++) {
		const uint64_t *rep = vm->reported[r], *dirty = vm->dirty[r];

		for (uint64_t w = 0; w < (vm->regions[r].npages + 63) / 64; w++) {
			uint64_t bits = rep[w] & ~dirty[w];

			for (; bits; bits &= bits - 1)
				ksm_vm_page_reported(k, vm,
						     vm->first_page[r] + w * 64 +
							 (uint64_t) __builtin_ctzll(bits));
		}
	}
}

/* Step 1 for one VM: mark written pages volatile, collect merged ones for the COW check. */
static void absorb_dirty(struct ksm *k, struct ksm_vm *vm)
{
	uint64_t *check = NULL, nr_check = 0;

	fetch_dirty(vm);
	absorb_reported(k, vm);
	vm->volatile_pages = 0;
	for (unsigned r = 0; r < vm->nr_regions; r++) {
		const uint64_t *bm = vm->dirty[r];

		for (uint64_t l = 0; l < vm->regions[r].npages; l++) {
			struct ksm_page *p = &vm->pages[vm->first_page[r] + l];

			p->flags &= (uint8_t) ~KSM_PF_VOLATILE;
			if (!test_bit(bm, l))
				continue;
			if (p->kind == KSM_PAGE_PLAIN) {
				ksm_vm_unstable_forget(k, vm, vm->first_page[r] + l);
				p->flags =
				    (uint8_t) ((p->flags | KSM_PF_VOLATILE) & ~KSM_PF_HASHED);
				vm->volatile_pages++;
				continue;
			}
			if (!check)
				check = malloc(vm->npages * sizeof(*check));
			if (check)
				check[nr_check++] = vm->first_page[r] + l;
		}
	}
	/* Merged and released pages: the dirty bit may predate the merge (a write just
	 * before it); the page table says whether the guest really wrote it since. */
	if (nr_check)
		ksm_cow_check(k, vm, check, nr_check);
	free(check);
	k->activity += vm->volatile_pages;
}

/* Hash page @i if its hash is stale and the scan rate allows. */
static bool ensure_hash(struct ksm *k, struct ksm_vm *vm, uint64_t i)
{
	struct ksm_page *p = &vm->pages[i];

	if (p->flags & KSM_PF_HASHED)
		return true;
	if (k->tun.scan_rate && k->hash_credit == 0)
		return false;
	if (k->hash_credit)
		k->hash_credit--;
	p->hash = XXH3_64bits(ksm_vm_page(vm, i), PAGE_SIZE);
	p->flags |= KSM_PF_HASHED;
	k->pages_hashed++;
	k->activity++;
	return true;
}

static void plan(struct ksm *k, struct ksm_vm *vm, uint64_t i, uint32_t canon)
{
	struct ksm_page *p = &vm->pages[i];

	if (ksm_vm_queue(vm, i, canon))
		return;
	ksm_vm_unstable_forget(k, vm, i);
	k->activity++;
	p->canon = canon;
	p->flags |= KSM_PF_PLANNED;
}

/* A second page with this content: make a pool page of it and plan both merges. */
static uint32_t pair(struct ksm *k, struct ksm_vm *vm, uint64_t i, uint32_t hint, uint32_t sid)
{
	struct ksm_page *p = &vm->pages[i];
	uint64_t qpage;
	struct ksm_vm *qvm = ksm_vm_of(k, sid, &qpage);
	struct ksm_page *q = qvm ? &qvm->pages[qpage] : NULL;
	uint32_t c;

	if (!q || q->kind != KSM_PAGE_PLAIN || (q->flags & (KSM_PF_PLANNED | KSM_PF_VOLATILE)))
		return KSM_POOL_NONE;
	c = ksm_pool_add(&k->pool, hint, ksm_vm_page(vm, i), p->hash, vm->group);
	if (c == KSM_POOL_NONE)
		return c;
	/* A copy that raced with a guest write is not checked here (that would read the
	 * page again): the compare under pause rejects every merge onto it, and with no
	 * member it is freed as an orphan at the end of the merging pass. */
	if (ksm_index_insert(&k->stable, p->hash, vm->group, c)) {
		ksm_pool_release(&k->pool, c);
		return KSM_POOL_NONE;
	}
	if (k->nr_created == k->cap_created) {
		uint64_t cap = k->cap_created ? k->cap_created * 2 : 1024;
		uint32_t *n = realloc(k->created, cap * sizeof(*n));

		if (!n) {
			ksm_index_remove(&k->stable, p->hash, vm->group, c);
			ksm_pool_release(&k->pool, c);
			return KSM_POOL_NONE;
		}
		k->created = n;
		k->cap_created = cap;
	}
	k->created[k->nr_created++] = c;
	plan(k, qvm, qpage, c);
	plan(k, vm, i, c);
	return c;
}

/* Decide what to do with clean page @i; returns the pool page it is headed for. */
static uint32_t plan_page(struct ksm *k, struct ksm_vm *vm, uint64_t i, uint32_t prev)
{
	struct ksm_page *p = &vm->pages[i];
	uint32_t c, sid;

	if (!ensure_hash(k, vm, i))
		return KSM_POOL_NONE;
	if (p->hash == k->zero_hash && page_is_zero(ksm_vm_page(vm, i))) {
		plan(k, vm, i, KSM_POOL_NONE);
		return KSM_POOL_NONE;
	}
	if (vm->group == KSM_GROUP_NONE)
		return KSM_POOL_NONE;
	c = ksm_index_find(&k->stable, p->hash, vm->group);
	if (c != KSM_INDEX_NONE) {
		plan(k, vm, i, c);
		return c;
	}
	sid = ksm_index_find(&k->unstable, p->hash, vm->group);
	if (sid != KSM_INDEX_NONE) {
		c = pair(k, vm, i, prev == KSM_POOL_NONE ? KSM_POOL_NONE : prev + 1, sid);
		if (c != KSM_POOL_NONE)
			return c;
	}
	/* Nothing to merge with yet: later pages with this content will find it. */
	ksm_vm_unstable_add(k, vm, i);
	return KSM_POOL_NONE;
}

static bool unhashed(const struct ksm_page *p)
{
	return p->kind == KSM_PAGE_PLAIN &&
	       !(p->flags & (KSM_PF_HASHED | KSM_PF_VOLATILE | KSM_PF_PLANNED));
}

/* Pages never written (absent, or reading the shared zero page) cost nothing and are not
 * worth reading: mark them empty, unhashed. A guest write shows in the dirty log. */
static void skip_empty(struct ksm *k, struct ksm_vm *vm)
{
	uint64_t e[512], n;

	for (uint64_t i = 0; i < vm->npages; i += n) {
		uint64_t j;

		/* One read covers up to 512 pages of one region. */
		n = vm->npages - i < 512 ? vm->npages - i : 512;
		if (ksm_vm_region(vm, i) != ksm_vm_region(vm, i + n - 1))
			n = vm->first_page[ksm_vm_region(vm, i) + 1] - i;
		for (j = 0; j < n && !unhashed(&vm->pages[i + j]); j++)
			;
		if (j == n)
			continue;
		if (!ksm_cow_read_pagemap(k, ksm_vm_page(vm, i), n, e))
			return;
		for (j = 0; j < n; j++) {
			struct ksm_page *p = &vm->pages[i + j];

			if (unhashed(p) && !ksm_cow_backed(e[j])) {
				p->kind = KSM_PAGE_ZERO;
				p->flags |= KSM_PF_EMPTY;
			}
		}
	}
}

/* Is page @p still waiting after a copy-on-write break (KSM_COOL_PASSES)? */
static bool cooling(const struct ksm *k, struct ksm_page *p)
{
	uint64_t left;

	if (!(p->flags & KSM_PF_COOLING))
		return false;
	left = (p->cool - k->passes) & 0x3fff;
	if (left && left < 0x2000)
		return true;
	p->flags &= (uint8_t) ~KSM_PF_COOLING;
	return false;
}

/* Will plan_vm hash page @p? */
static bool wants_hash(const struct ksm_page *p)
{
	return unhashed(p) && !(p->flags & KSM_PF_COOLING);
}

/* Hash the pages that want it in half @part (0 or 1) of every VM; returns how many. */
static uint64_t hash_part(struct ksm *k, unsigned part)
{
	uint64_t n = 0;

	for (struct ksm_vm *vm = k->vms; vm; vm = vm->next) {
		uint64_t half = vm->npages / 2, end = part ? vm->npages : half;

		for (uint64_t i = part ? half : 0; i < end; i++) {
			struct ksm_page *p = &vm->pages[i];

			if (!wants_hash(p))
				continue;
			p->hash = XXH3_64bits(ksm_vm_page(vm, i), PAGE_SIZE);
			p->flags |= KSM_PF_HASHED;
			n++;
		}
	}
	return n;
}

struct hash_helper {
	struct ksm *k;
	uint64_t hashed;
	double cpu_seconds;
};

static void *hash_helper_thread(void *arg)
{
	struct hash_helper *h = arg;

	setpriority(PRIO_PROCESS, (id_t) gettid(), -10); /* as the engine thread */
	h->hashed = hash_part(h->k, 1);
	h->cpu_seconds = clock_thread_cpu_s();
	return NULL;
}

/* Hashing is most of the work of a pass that finds many settled pages (a cold start, the
 * end of a fill storm) and needs nothing but the page: a helper thread takes half of it.
 * Not under a scan_rate limit (ensure_hash counts that page by page), and not while
 * guests fill memory, when the CPUs are theirs. plan_vm then finds the pages hashed. */
static void hash_in_parallel(struct ksm *k)
{
	struct hash_helper h = {.k = k};
	uint64_t want = 0, n;
	pthread_t t;

	if (k->tun.scan_rate || k->calm_passes == 0)
		return;
	for (struct ksm_vm *vm = k->vms; vm && want < KSM_PARALLEL_HASH_MIN; vm = vm->next)
		for (uint64_t i = 0; i < vm->npages && want < KSM_PARALLEL_HASH_MIN; i++)
			want += wants_hash(&vm->pages[i]);
	if (want < KSM_PARALLEL_HASH_MIN || pthread_create(&t, NULL, hash_helper_thread, &h))
		return;
	pthread_setname_np(t, "ksm-hash");
	n = hash_part(k, 0);
	pthread_join(t, NULL);
	k->pages_hashed += n + h.hashed;
	k->activity += n + h.hashed;
	k->cpu_seconds += h.cpu_seconds;
}

/* Step 2 for one VM (skip_empty and hash_in_parallel ran before). */
static void plan_vm(struct ksm *k, struct ksm_vm *vm)
{
	uint32_t prev = KSM_POOL_NONE;

	for (uint64_t i = 0; i < vm->npages; i++) {
		struct ksm_page *p = &vm->pages[i];

		k->pages_scanned++;
		if (cooling(k, p))
			prev = KSM_POOL_NONE;
		else if (p->kind == KSM_PAGE_MERGED || (p->flags & KSM_PF_PLANNED))
			prev = p->canon;
		else if (p->kind == KSM_PAGE_ZERO ||
			 (p->flags & (KSM_PF_VOLATILE | KSM_PF_UNSTABLE)))
			prev = KSM_POOL_NONE; /* waiting, or already waiting for a match */
		else
			prev = plan_page(k, vm, i, prev);
	}
}

static void refill_credit(struct ksm *k)
{
	struct timespec now;
	double dt;

	clock_gettime(CLOCK_MONOTONIC, &now);
	dt = clock_diff_s(&k->last_pass, &now);
	k->last_pass = now;
	if (dt > 1.0 || dt < 0)
		dt = 1.0;
	k->pass_dt = dt;
	k->hash_credit = k->tun.scan_rate ? (uint64_t) ((double) k->tun.scan_rate * dt) + 1 : 0;
}

/* Free pool pages made since the last merging pass that no merge took. */
static void drop_orphans(struct ksm *k)
{
	for (uint64_t n = 0; n < k->nr_created; n++) {
		uint32_t c = k->created[n];
		const struct ksm_canon *cn = &k->pool.canon[c];

		if (ksm_pool_allocated(&k->pool, c) && cn->refs == 0) {
			ksm_index_remove(&k->stable, cn->hash, cn->group, c);
			ksm_pool_release(&k->pool, c);
		}
	}
	k->nr_created = 0;
	/* The list of a big merge wave is not worth keeping. */
	if (k->cap_created > KSM_KEEP_SCRATCH) {
		free(k->created);
		k->created = NULL;
		k->cap_created = 0;
		k->trim = true;
	}
	/* Every byte this process keeps counts against what merging saves: after a
	 * big wave, give the freed scratch back (glibc keeps large freed blocks in its
	 * heap once its mmap threshold has grown past them). */
	if (k->trim) {
		malloc_trim(0);
		k->trim = false;
	}
}

/* While guests fault in fresh memory, pausing them takes milliseconds (their vCPU
 * threads compete for the CPUs) and so do merges: then only hash and plan, and merge once
 * KSM_CALM_PASSES passes in a row were calm, or at least every KSM_MAX_HELD passes.
 * A storm is a rate of first touches, so that short passes (the engine looks often
 * while it holds back) do not pass for calm. */
static void decide_hold(struct ksm *k)
{
	double dt =
	    k->pass_dt > KSM_HOLD_INTERVAL_MS / 1000.0 ? k->pass_dt : KSM_HOLD_INTERVAL_MS / 1000.0;
	bool storm = (double) k->first_touches > KSM_FILL_STORM_RATE * dt;

	k->calm_passes = storm ? 0 : k->calm_passes + 1;
	k->hold = k->calm_passes < KSM_CALM_PASSES && k->held_passes < KSM_MAX_HELD;
	k->held_passes = k->hold ? k->held_passes + 1 : 0;
	k->passes_held += k->hold;
	k->first_touches = 0;
}

void ksm_scan_pass(struct ksm *k)
{
	refill_credit(k);
	k->activity = 0;
	for (struct ksm_vm *vm = k->vms; vm; vm = vm->next)
		absorb_dirty(k, vm);
	decide_hold(k);
	for (struct ksm_vm *vm = k->vms; vm; vm = vm->next)
		skip_empty(k, vm);
	hash_in_parallel(k);
	for (struct ksm_vm *vm = k->vms; vm; vm = vm->next)
		plan_vm(k, vm);
	/* Held back, the plans (and the pool pages they made) wait for the storm to end:
	 * then only the merges are left to do. */
	if (!k->hold) {
		for (struct ksm_vm *vm = k->vms; vm; vm = vm->next) {
			bool work = vm->nr_actions > 0;

			ksm_merge_actions(k, vm);
			if (work)
				ksm_stats_publish(k);
		}
		drop_orphans(k);
	}
	k->passes++;
}

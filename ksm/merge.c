/* merge.c - carry out planned merges and zero releases with the VM paused (overview and
 * safety argument: ksm/ksm.h). */
#define pr_fmt(fmt) "ksm: " fmt
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "ksm/cow.h"
#include "ksm/internal.h"
#include "ksm/merge.h"
#include "ksm/vm.h"
#include "lib/clock.h"
#include "lib/log.h"

static int cmp_action(const void *a, const void *b)
{
	const struct ksm_action *x = a, *y = b;

	return x->page < y->page ? -1 : x->page > y->page;
}

static bool page_is_zero(const uint8_t *p)
{
	static const uint8_t zero[PAGE_SIZE];

	return memcmp(p, zero, PAGE_SIZE) == 0;
}

/* Does the page still hold exactly what action @a would give it? (VM paused.) */
static bool still_same(struct ksm *k, struct ksm_vm *vm, const struct ksm_action *a)
{
	const uint8_t *page = ksm_vm_page(vm, a->page);

	if (a->canon == KSM_POOL_NONE)
		return page_is_zero(page);
	return memcmp(page, ksm_pool_page(&k->pool, a->canon), PAGE_SIZE) == 0;
}

/* Can action @b extend the run that ends with action @a into one mapping call? */
static bool joins(const struct ksm *k, const struct ksm_vm *vm, const struct ksm_action *a,
		  const struct ksm_action *b)
{
	if (b->page != a->page + 1 || ksm_vm_region(vm, a->page) != ksm_vm_region(vm, b->page))
		return false;
	if (a->canon == KSM_POOL_NONE || b->canon == KSM_POOL_NONE)
		return a->canon == b->canon &&
		       !((vm->pages[a->page].flags ^ vm->pages[b->page].flags) & KSM_PF_POOLVMA);
	return ksm_pool_contiguous(&k->pool, a->canon, b->canon);
}

static void mapped(struct ksm *k, struct ksm_vm *vm, const struct ksm_action *a, uint64_t n)
{
	for (uint64_t i = 0; i < n; i++) {
		struct ksm_page *p = &vm->pages[a[i].page];

		p->kind = KSM_PAGE_MERGED;
		p->canon = a[i].canon;
		p->flags |= KSM_PF_POOLVMA;
		ksm_pool_get(&k->pool, a[i].canon);
	}
	vm->merges += n;
	k->merges += n;
}

static void zeroed(struct ksm *k, struct ksm_vm *vm, const struct ksm_action *a, uint64_t n,
		   bool empty)
{
	for (uint64_t i = 0; i < n; i++) {
		struct ksm_page *p = &vm->pages[a[i].page];

		p->kind = KSM_PAGE_ZERO;
		p->flags &= (uint8_t) ~(KSM_PF_POOLVMA | KSM_PF_EMPTY);
		if (empty)
			p->flags |= KSM_PF_EMPTY;
	}
	if (!empty)
		k->zero_released += n;
}

/* Report failure @what (errno @err) the first time *@warned sees it. */
static void warn_once(bool *warned, int err, const char *what)
{
	if (!*warned) {
		*warned = true;
		pr_warn("%s failed: %s; those pages stay unmerged", what, strerror(err));
	}
}

/* Release @n zero pages of anonymous memory (VM paused): the guest's own pages are
 * compared with zeros and released with MADV_DONTNEED; the others (never written, or
 * reading the shared zero page) read as zeros by construction and are only marked,
 * without touching them. */
static void release_zero(struct ksm *k, struct ksm_vm *vm, const struct ksm_action *a, uint64_t n)
{
	uint64_t e[512];

	for (uint64_t i = 0; i < n;) {
		uint64_t run = n - i < 512 ? n - i : 512, j = 0;

		if (!ksm_cow_read_pagemap(k, ksm_vm_page(vm, a[i].page), run, e))
			memset(e, 0xff, sizeof(e)); /* unknown: treat all as backed */
		while (j < run) {
			bool b = ksm_cow_backed(e[j]);
			uint64_t s = j;

			for (; j < run && ksm_cow_backed(e[j]) == b; j++) {
				if (b && !page_is_zero(ksm_vm_page(vm, a[i + j].page)))
					break;
			}
			if (j > s && b &&
			    madvise(ksm_vm_page(vm, a[i + s].page), (j - s) * PAGE_SIZE,
				    MADV_DONTNEED)) {
				warn_once(&k->warned_dontneed, errno, "madvise(MADV_DONTNEED)");
				return;
			}
			if (j > s)
				zeroed(k, vm, &a[i + s], j - s, !b);
			if (j < run && b == ksm_cow_backed(e[j])) {
				k->compare_fail++; /* no longer zero: leave it */
				j++;
			}
		}
		i += run;
	}
}

/* Replace @n consecutive pages, all compared equal, in one call. */
static void apply(struct ksm *k, struct ksm_vm *vm, const struct ksm_action *a, uint64_t n)
{
	uint8_t *hva = ksm_vm_page(vm, a->page);
	int ret;

	if (!ksm_vmas_allow(&k->vmas, n)) {
		/* Forget their hashes so they are planned again when budget frees up. */
		for (uint64_t i = 0; i < n; i++)
			vm->pages[a[i].page].flags &= (uint8_t) ~KSM_PF_HASHED;
		k->budget_skips += n;
		return;
	}
	if (a->canon == KSM_POOL_NONE)
		ret = mmap(hva, n * PAGE_SIZE, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE, -1,
			   0) == MAP_FAILED
			  ? -errno
			  : 0;
	else
		ret = ksm_pool_map(&k->pool, hva, a->canon, n, 0);
	if (ret)
		return warn_once(&k->warned_remap, -ret, "mmap(MAP_FIXED) of a merged run");
	ksm_vmas_add(&k->vmas);
	if (a->canon == KSM_POOL_NONE)
		zeroed(k, vm, a, n, false);
	else
		mapped(k, vm, a, n);
}

/* Execute actions [i, end) of a run: compare each, apply maximal equal sub-runs. */
static void execute_run(struct ksm *k, struct ksm_vm *vm, uint64_t i, uint64_t end)
{
	const struct ksm_action *a = vm->actions;
	uint64_t start = i;

	/* Zero pages of anonymous memory need no mapping: released in place. */
	if (a[i].canon == KSM_POOL_NONE && !(vm->pages[a[i].page].flags & KSM_PF_POOLVMA))
		return release_zero(k, vm, &a[i], end - i);
	for (; i < end; i++) {
		if (still_same(k, vm, &a[i]))
			continue;
		k->compare_fail++;
		if (i > start)
			apply(k, vm, &a[start], i - start);
		start = i + 1;
	}
	if (end > start)
		apply(k, vm, &a[start], end - start);
}

/* Pause @vm: ask, then wait until none of its vCPUs can run. Only this VM: pausing the
 * others too would make it wait for their busiest vCPU to notice, and while guests fault
 * in fresh memory (the case where a merge's mmap waits for their faults) the engine
 * holds merging back anyway. */
static void pause_vm(struct ksm_vm *vm)
{
	vm->ops->request_pause(vm->opaque);
	vm->ops->wait_paused(vm->opaque);
	/* From here on no vCPU of @vm runs: its stall starts. */
	vm->paused_at = clock_now_us();
}

static void resume_vm(struct ksm *k, struct ksm_vm *vm)
{
	vm->ops->resume(vm->opaque);
	ksm_stall_record(&k->stall, clock_now_us() - vm->paused_at);
}

/* One paused batch starting at action @i; returns the first action not done. */
static uint64_t run_batch(struct ksm *k, struct ksm_vm *vm, uint64_t i)
{
	uint64_t t0, done = 0;

	ksm_vmas_maybe_resync(&k->vmas);
	t0 = clock_now_us();
	pause_vm(vm);
	ksm_stall_record(&k->pause_wait, vm->paused_at - t0);
	t0 = vm->paused_at;
	/* At least one run per pause, so a slow pause cannot stall the engine. */
	while (i < vm->nr_actions && done < k->tun.batch_pages &&
	       (done == 0 || clock_now_us() - t0 < k->tun.max_stall_us)) {
		uint64_t end = i + 1;

		while (end < vm->nr_actions && end - i < k->tun.batch_pages &&
		       joins(k, vm, &vm->actions[end - 1], &vm->actions[end]))
			end++;
		execute_run(k, vm, i, end);
		done += end - i;
		i = end;
	}
	resume_vm(k, vm);
	return i;
}

void ksm_merge_actions(struct ksm *k, struct ksm_vm *vm)
{
	uint64_t i = 0;

	if (!vm->nr_actions)
		return;
	qsort(vm->actions, vm->nr_actions, sizeof(*vm->actions), cmp_action);
	while (i < vm->nr_actions)
		i = run_batch(k, vm, i);
	for (i = 0; i < vm->nr_actions; i++)
		vm->pages[vm->actions[i].page].flags &= (uint8_t) ~KSM_PF_PLANNED;
	vm->nr_actions = 0;
	/* A big merge wave is rare: give its queue's memory back rather than keep it. */
	if (vm->cap_actions > KSM_KEEP_SCRATCH) {
		free(vm->actions);
		vm->actions = NULL;
		vm->cap_actions = 0;
		k->trim = true;
	}
}
